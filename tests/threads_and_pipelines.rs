//! The "Threads, pools and pipelines" scenarios, headless through the real
//! `hilos` binary: each teaches its lesson in numbers a learner would
//! notice, and each stops within 250 ms leaving no thread behind.

mod common;

use std::process::Command;

use serde_json::Value;

fn run_json(args: &[&str]) -> Value {
    let mut all = vec!["run"];
    all.extend_from_slice(args);
    all.extend(["--json", "--log"]);
    let out = Command::new(env!("CARGO_BIN_EXE_hilos"))
        .args(&all)
        .output()
        .expect("run hilos");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "hilos {all:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {stdout}"))
}

fn metric(v: &Value, name: &str) -> f64 {
    v["metrics"][name]
        .as_f64()
        .unwrap_or_else(|| panic!("no metric {name} in {}", v["metrics"]))
}

fn log(v: &Value) -> Vec<String> {
    v["log"]
        .as_array()
        .expect("--log")
        .iter()
        .map(|l| l["text"].as_str().unwrap_or("").to_string())
        .collect()
}

fn thread<'a>(v: &'a Value, name: &str) -> &'a Value {
    v["threads"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == name)
        .unwrap_or_else(|| panic!("no thread {name} in {}", v["threads"]))
}

fn seconds_in(t: &Value, state: &str) -> f64 {
    t["seconds"][state].as_f64().unwrap_or(0.0)
}

// ---- thread-lifecycle

#[test]
fn thread_lifecycle_walks_every_state_and_counts_the_living() {
    let v = run_json(&["thread-lifecycle", "--speed", "5", "--set", "threads=4"]);
    assert_eq!(v["finished"], true);
    assert_eq!(metric(&v, "threads_started"), 4.0);
    assert_eq!(
        metric(&v, "active_after_start"),
        5.0,
        "4 threads + MainThread"
    );
    assert_eq!(metric(&v, "max_active"), 5.0);
    assert_eq!(
        metric(&v, "alive_after_timed_join"),
        4.0,
        "join(0.5) returns while they all still work"
    );
    assert_eq!(metric(&v, "active_after_join"), 1.0);
    let mut blocked = 0;
    for n in 1..=4 {
        let t = thread(&v, &format!("Thread-{n} (worker)"));
        assert_eq!(t["state"], "done", "{t}");
        for state in ["created", "running", "sleeping"] {
            assert!(seconds_in(t, state) > 0.0, "{state}: {t}");
        }
        if seconds_in(t, "blocked") > 0.0 {
            blocked += 1;
        }
    }
    assert!(blocked >= 3, "all but the first to the ledger wait for it");
    // MainThread waited in join, with and without timeout.
    assert!(seconds_in(thread(&v, "MainThread"), "waiting") > 0.2);
    let lines = log(&v);
    assert!(
        lines
            .iter()
            .any(|l| l.starts_with("Thread 1: starting (ident="))
    );
    assert!(
        lines.iter().any(|l| l
            == "Main    : before start, is_alive() = [False, False, False, False], active_count() = 1"),
        "{lines:?}"
    );
    assert!(
        lines
            .iter()
            .any(|l| l == "Main    : Thread-4 (worker) joined, is_alive() = False")
    );
    // Time: work + sleep + 4 writes in a row, about 3.2 s of scenario time.
    let took = metric(&v, "threads_seconds");
    assert!((3.0..4.5).contains(&took), "took {took} s");
}

// ---- daemon-threads

#[test]
fn non_daemon_threads_keep_the_program_alive_and_daemons_are_cut_off() {
    let v = run_json(&["daemon-threads", "--speed", "5"]);
    assert_eq!(v["finished"], true);
    let lines = log(&v);
    assert_eq!(thread(&v, "Writer")["state"], "done");
    assert_eq!(thread(&v, "Monitor")["state"], "killed");
    assert!(lines.iter().any(|l| l == "Writer: finished"));
    assert!(!lines.iter().any(|l| l == "Monitor: finished checking"));
    assert_eq!(metric(&v, "lines_at_exit"), 10.0);
    assert_eq!(metric(&v, "running_at_exit"), 2.0, "MainThread and Monitor");
    assert_eq!(metric(&v, "writer_finished"), 1.0);
    assert_eq!(metric(&v, "daemons_killed"), 1.0);
    // MainThread waited for the writer after its own code ended.
    let main_done = lines
        .iter()
        .position(|l| l == "Main    : all done, leaving the main program")
        .unwrap();
    let writer_done = lines.iter().position(|l| l == "Writer: finished").unwrap();
    assert!(writer_done > main_done, "the writer outlived main's code");
    assert!(seconds_in(thread(&v, "MainThread"), "waiting") > 0.3);
}

#[test]
fn a_daemon_writer_is_cut_off_mid_work_and_its_last_line_never_appears() {
    let v = run_json(&["daemon-threads", "--speed", "5", "--set", "daemon=on"]);
    assert_eq!(v["finished"], true);
    let lines = log(&v);
    assert_eq!(thread(&v, "Writer")["state"], "killed");
    assert_eq!(thread(&v, "Monitor")["state"], "killed");
    assert!(!lines.iter().any(|l| l == "Writer: finished"), "{lines:?}");
    let written = metric(&v, "lines_at_exit");
    assert!(
        (2.0..=4.0).contains(&written),
        "1 s of 3 s: about 3 lines, got {written}"
    );
    assert_eq!(metric(&v, "running_at_exit"), 3.0);
    assert_eq!(metric(&v, "daemons_killed"), 2.0);
    assert_eq!(metric(&v, "writer_finished"), 0.0);
    // The program ended with main, long before the writer would have.
    assert!(v["seconds"].as_f64().unwrap() < 0.45, "{}", v["seconds"]);
}

// ---- thread-pool

fn futures(v: &Value) -> &Vec<Value> {
    v["futures"].as_array().expect("futures in --json")
}

fn completion_order(v: &Value) -> Vec<String> {
    let mut done: Vec<&Value> = futures(v)
        .iter()
        .filter(|f| f["finished_rank"].is_u64())
        .collect();
    done.sort_by_key(|f| f["finished_rank"].as_u64());
    done.iter()
        .map(|f| f["label"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn a_task_s_exception_is_lost_in_its_future_unless_someone_reads_it() {
    let v = run_json(&["thread-pool", "--speed", "10"]);
    assert_eq!(v["finished"], true);
    let fs = futures(&v);
    assert_eq!(fs.len(), 8);
    let failed = &fs[3];
    assert_eq!(failed["label"], "task(3)");
    assert_eq!(failed["exception"], "ValueError: task 3: bad input");
    assert_eq!(failed["read"], false, "nobody read it");
    assert_eq!(metric(&v, "exceptions_seen"), 0.0);
    assert_eq!(metric(&v, "tasks_raised"), 1.0);
    assert_eq!(metric(&v, "exceptions_lost"), 1.0);
    // No thread failed, nothing was printed about it.
    for t in v["threads"].as_array().unwrap() {
        assert_eq!(t["state"], "done", "{t}");
    }
    assert!(
        !log(&v)
            .iter()
            .any(|l| l.contains("Exception in thread") || l.contains("raised ValueError")),
        "nothing says so"
    );
    // The pool: 3 workers, named as Python names them, never more busy.
    assert_eq!(metric(&v, "pool_threads"), 3.0);
    assert_eq!(metric(&v, "max_busy"), 3.0);
    thread(&v, "ThreadPoolExecutor-0_2");
    let pool = v["resources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == "ThreadPoolExecutor-0")
        .unwrap();
    assert_eq!(pool["capacity"], 3);
    assert_eq!(pool["level"]["max"], 3.0);
    // All 8 are queued before the workers pick their first; 5 wait for a worker.
    let waited = pool["waiters"]["max"].as_f64().unwrap();
    assert!((5.0..=8.0).contains(&waited), "{waited} tasks waited");
    assert_eq!(pool["waiters"]["last"], 0.0);
    // Completion order is not submission order.
    let order = completion_order(&v);
    assert_eq!(order.len(), 8);
    assert_ne!(order[0], "task(0)");
    // Shutdown (the end of the with-block) waited for every task.
    assert!(fs.iter().all(|f| f["state"] == "finished"));
    assert!(seconds_in(thread(&v, "MainThread"), "waiting") > 0.1);
}

#[test]
fn reading_each_result_raises_the_exception_in_completion_order() {
    let v = run_json(&["thread-pool", "--speed", "10", "--set", "read_results=on"]);
    assert_eq!(metric(&v, "exceptions_seen"), 1.0);
    assert_eq!(metric(&v, "exceptions_lost"), 0.0);
    assert_eq!(metric(&v, "results_read"), 7.0);
    assert_eq!(futures(&v)[3]["read"], true);
    // MainThread logged the tasks in the order they completed.
    let logged: Vec<String> = log(&v)
        .iter()
        .filter_map(|l| {
            let rest = l.strip_prefix("Main    : task ")?;
            let n = rest.split(' ').next()?;
            Some(format!("task({n})"))
        })
        .collect();
    assert_eq!(logged, completion_order(&v));
    assert!(
        log(&v)
            .iter()
            .any(|l| l == "Main    : task 3 raised ValueError('task 3: bad input')")
    );
}

#[test]
fn map_gives_results_in_submission_order_and_stops_at_the_exception() {
    let v = run_json(&[
        "thread-pool",
        "--speed",
        "10",
        "--set",
        "use_map=on",
        "--set",
        "tasks=20",
    ]);
    let returned: Vec<String> = log(&v)
        .iter()
        .filter(|l| l.starts_with("Main    : task "))
        .cloned()
        .collect();
    assert_eq!(
        returned,
        [
            "Main    : task 0 returned 0",
            "Main    : task 1 returned 1",
            "Main    : task 2 returned 4"
        ]
    );
    assert!(log(&v).iter().any(|l| l
        == "Main    : map raised ValueError('task 3: bad input'); the results after it are lost"));
    assert_eq!(metric(&v, "exceptions_seen"), 1.0);
    // Tasks no worker had started when map raised were cancelled.
    let cancelled = metric(&v, "cancelled");
    assert!(cancelled >= 8.0, "cancelled {cancelled}");
    assert!(
        futures(&v)
            .iter()
            .filter(|f| f["state"].as_str().unwrap().starts_with("cancelled"))
            .all(|f| f["ran_on"].is_null())
    );
}

#[test]
fn only_the_pending_last_task_is_cancelled() {
    let v = run_json(&["thread-pool", "--speed", "10", "--set", "cancel_last=on"]);
    let fs = futures(&v);
    assert!(
        fs[7]["state"].as_str().unwrap().starts_with("cancelled"),
        "{}",
        fs[7]
    );
    assert!(fs[..7].iter().all(|f| f["state"] == "finished"));
    assert!(
        log(&v)
            .iter()
            .any(|l| l == "Main    : cancel() of task 7: True")
    );
    assert_eq!(metric(&v, "cancelled"), 1.0);
}

// ---- thread-local

fn notes_of_workers(v: &Value) -> Vec<&Value> {
    v["threads"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["name"].as_str().unwrap().ends_with("(handle_request)"))
        .map(|t| &t["notes"])
        .collect()
}

#[test]
fn thread_local_values_never_mix() {
    let v = run_json(&["thread-local", "--speed", "10", "--set", "threads=8"]);
    let notes = notes_of_workers(&v);
    assert_eq!(notes.len(), 8);
    for n in &notes {
        assert_eq!(n["found at start"], "None", "not inherited: {n}");
        assert_eq!(n["stored"], n["read back"], "{n}");
    }
    assert_eq!(metric(&v, "found_value"), 0.0);
    assert_eq!(metric(&v, "read_back_other"), 0.0);
    assert_eq!(metric(&v, "read_back_own"), 8.0);
    assert_eq!(thread(&v, "MainThread")["notes"]["read back"], "'main'");
}

#[test]
fn a_plain_shared_object_mixes_the_threads_values() {
    let v = run_json(&[
        "thread-local",
        "--speed",
        "10",
        "--set",
        "threads=8",
        "--set",
        "shared=on",
    ]);
    let notes = notes_of_workers(&v);
    let own = notes
        .iter()
        .filter(|n| n["stored"] == n["read back"])
        .count();
    assert_eq!(own, 1, "only the last to store reads its own: {notes:?}");
    assert_eq!(metric(&v, "found_value"), 8.0);
    assert_eq!(metric(&v, "read_back_other"), 7.0);
    assert_ne!(thread(&v, "MainThread")["notes"]["read back"], "'main'");
}

// ---- single-slot-pipeline

#[test]
fn the_two_lock_pipeline_delivers_everything_but_the_queue_is_faster() {
    let v = run_json(&["single-slot-pipeline", "--speed", "4"]);
    assert_eq!(v["finished"], true);
    assert_eq!(metric(&v, "locks_stored"), 24.0);
    assert_eq!(metric(&v, "queue_stored"), 24.0);
    let (locks, queue) = (metric(&v, "locks_seconds"), metric(&v, "queue_seconds"));
    assert!(locks > 1.2 * queue, "locks {locks} s, queue {queue} s");
    assert!(metric(&v, "queue_throughput") > metric(&v, "locks_throughput"));
    // The ping-pong: each side waited on the lock the other releases.
    assert!(seconds_in(thread(&v, "Producer (locks)"), "blocked") > 0.1);
    assert!(seconds_in(thread(&v, "Consumer (locks)"), "blocked") > 0.05);
    assert!(
        seconds_in(thread(&v, "Producer (queue)"), "blocked") == 0.0,
        "the queue never filled"
    );
    assert_eq!(v["deadlocks"].as_array().unwrap().len(), 0);
    let lock = |name: &str| {
        v["resources"]
            .as_array()
            .unwrap()
            .iter()
            .find(|r| r["name"] == name)
            .unwrap()
            .clone()
    };
    assert_eq!(lock("pipeline.producer_lock")["level"]["max"], 1.0);
    assert_eq!(lock("pipeline.consumer_lock")["level"]["min"], 0.0);
    assert_eq!(
        metric(&v, "max_queue_depth"),
        6.0,
        "a whole burst sat in the queue"
    );
}

// ---- payment-pipeline

#[test]
fn payment_totals_match_the_arithmetic_of_the_steps() {
    let v = run_json(&["payment-pipeline", "--speed", "10"]);
    assert_eq!(v["finished"], true);
    // Sleeps only ever overshoot, by more on a loaded machine: never below
    // the arithmetic, and well short of the next strategy's total above it.
    let close = |name: &str, want: f64| {
        let got = metric(&v, name);
        assert!(
            got >= 0.95 * want && got <= 1.6 * want + 0.5,
            "{name}: {got} s, the steps say {want} s"
        );
    };
    // 10 students, 2.7 s each, 4 workers.
    close("sequential_seconds", 27.0);
    close("threads_seconds", 2.7);
    close("pool_seconds", 8.1);
    close("sequential_latency", 14.85);
    close("threads_latency", 2.7);
    close("pool_latency", 4.86);
    assert_eq!(metric(&v, "sequential_expected"), 27.0);
    assert_eq!(metric(&v, "pool_expected"), 8.1);
    assert!(metric(&v, "threads_speedup") > 7.0);
    assert!(metric(&v, "pool_speedup") > 2.8);
    // The strategies ran where the program runs them.
    let names: Vec<&str> = v["threads"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert_eq!(names.iter().filter(|n| n.ends_with("(worker)")).count(), 10);
    assert_eq!(
        names
            .iter()
            .filter(|n| n.starts_with("ThreadPoolExecutor-0_"))
            .count(),
        4
    );
}

#[test]
fn a_pool_takes_one_wave_per_max_workers_students() {
    let v = run_json(&[
        "payment-pipeline",
        "--speed",
        "20",
        "--set",
        "students=9",
        "--set",
        "workers=3",
        "--set",
        "sequential=off",
    ]);
    let pool = metric(&v, "pool_seconds");
    assert!((pool - 8.1).abs() < 0.9, "3 waves of 2.7 s: {pool}");
    assert_eq!(metric(&v, "sequential_seconds"), 0.0, "skipped");
    assert!(
        log(&v)
            .iter()
            .any(|l| l == "Main    : sequential took 0 s: skipped")
    );
}

// ---- Stop

#[test]
fn each_scenario_stops_within_250_ms_leaving_no_thread() {
    let cases: &[&[&str]] = &[
        &["thread-lifecycle", "--set", "threads=16", "--set", "work=5"],
        &["daemon-threads", "--set", "main=30"],
        &[
            "thread-pool",
            "--set",
            "tasks=100",
            "--set",
            "read_results=on",
        ],
        &["thread-local", "--set", "threads=32"],
        &["single-slot-pipeline", "--set", "messages=500"],
        &[
            "payment-pipeline",
            "--set",
            "students=300",
            "--set",
            "sequential=off",
        ],
    ];
    for args in cases {
        let mut all = args.to_vec();
        all.extend(["--seconds", "0.4"]);
        let v = run_json(&all);
        assert_eq!(v["finished"], false, "{args:?} must still run at 0.4 s");
        let stop = v["stop"]["stop_seconds"].as_f64().unwrap();
        assert!(stop < 0.25, "{args:?}: stop took {stop} s");
        assert_eq!(v["stop"]["threads_left"], 0, "{args:?}");
        for t in v["threads"].as_array().unwrap() {
            let state = t["state"].as_str().unwrap();
            assert!(["done", "killed"].contains(&state), "{args:?}: {t}");
        }
    }
}

#[test]
fn stop_with_a_thousand_sleeping_threads_never_blocks_the_window() {
    use hilos::lab::WorkerPriority;
    use hilos::lab::controller::{Controller, Phase};
    use std::time::{Duration, Instant};

    let mut c = Controller::new(hilos::scenarios::all(), WorkerPriority::BelowUi);
    assert!(c.select_id("payment-pipeline"));
    for set in ["students=1000", "sequential=off", "store=10"] {
        c.set_knob_arg(set).unwrap();
    }
    c.start();
    let deadline = Instant::now() + Duration::from_secs(20);
    while c.lab().map_or(0, |l| l.handle().active_count()) < 1000 {
        assert!(Instant::now() < deadline, "the threads did not start");
        std::thread::sleep(Duration::from_millis(10));
    }
    // Waking 1,000 sleepers takes tens of milliseconds: not on this thread.
    // It does not wait (at most twice: spawning the stopping thread may find
    // a lock of the allocator's briefly taken) and takes well under 10 ms of
    // its CPU: what a busy machine does not change, where its wall time would
    // (another program may take the CPU from it meanwhile).
    let asked = Instant::now();
    let cpu_before = common::process_cpu();
    let (mine, waits) = common::thread_usage();
    c.stop();
    let (mine_after, waits_after) = common::thread_usage();
    let blocked = asked.elapsed();
    assert!(
        waits_after - waits <= 2,
        "Stop waited {} times ({blocked:?})",
        waits_after - waits
    );
    assert!(
        mine_after - mine < Duration::from_millis(10),
        "Stop took {:?} of this thread's CPU ({blocked:?})",
        mine_after - mine
    );
    // The lab's own Stop, on the controller's thread: 1,000 threads woken
    // and joined in under 500 ms of the process's CPU; within 5 s of wall
    // time however busy the machine is (it took 500 ms once beside
    // `stress --cpu 2`).
    while !(c.phase() == Phase::Stopped && c.lab().is_some_and(|l| l.is_stopped())) {
        c.poll();
        assert!(
            asked.elapsed() < Duration::from_secs(5),
            "still {:?} after {:?}",
            c.phase(),
            asked.elapsed()
        );
        std::thread::sleep(Duration::from_millis(1));
    }
    let cpu = common::process_cpu() - cpu_before;
    assert!(
        cpu < Duration::from_millis(500),
        "Stop took {cpu:?} of CPU ({:?} of wall time)",
        asked.elapsed()
    );
    let lab = c.lab().unwrap();
    assert_eq!(lab.handle().active_count(), 0);
    assert_eq!(lab.stop_report().unwrap().threads_left, 0);
}
