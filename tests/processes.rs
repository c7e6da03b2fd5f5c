//! The GIL and real child processes, headless through the `hilos` binary
//! (its children are that binary too): one thread of a process runs at a
//! time under the GIL, and the switch interval bounds how long one holds
//! it while another waits; processes run on several cores; Queue and Pipe
//! deliver every message in order; a shared Value loses updates across
//! processes without its lock and none with it; Stop ends every child
//! (also blocked or deadlocked ones) and leaves no thread; a child that
//! panics is reported failed with its exit code. Linux only (the lab's
//! child processes are).
#![cfg(target_os = "linux")]

use std::collections::BTreeMap;
use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::Value;

/// These tests time CPU-bound work on every core: one at a time, or they
/// would measure each other.
static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn serial() -> std::sync::MutexGuard<'static, ()> {
    ONE_AT_A_TIME
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn hilos(args: &[&str]) -> (Value, u32) {
    let child = Command::new(env!("CARGO_BIN_EXE_hilos"))
        .args(args)
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run hilos");
    let pid = child.id();
    let out = child.wait_with_output().expect("hilos ran");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        out.status.code(),
        Some(0),
        "hilos {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let v = serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {stdout}"));
    (v, pid)
}

fn run(id: &str, sets: &[&str], extra: &[&str]) -> (Value, u32) {
    let mut args = vec!["run", id, "--json"];
    for s in sets {
        args.push("--set");
        args.push(s);
    }
    args.extend_from_slice(extra);
    hilos(&args)
}

fn metric(v: &Value, name: &str) -> f64 {
    v["metrics"][name]
        .as_f64()
        .unwrap_or_else(|| panic!("no metric {name} in {}", v["metrics"]))
}

/// Processes still around whose command line names this lab's hilos
/// process (its children's `lab<pid>-` token): orphans.
fn children_of(parent: u32) -> Vec<u32> {
    let token = format!("lab{parent}-");
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        if let Ok(cmd) = std::fs::read(entry.path().join("cmdline")) {
            let cmd = String::from_utf8_lossy(&cmd);
            if cmd.contains("__child") && cmd.contains(&token) {
                found.push(pid);
            }
        }
    }
    found
}

/// One thread's state spans from a Chrome trace: (state, start, end) in s.
type Spans = BTreeMap<(u64, u64), (String, Vec<(String, f64, f64)>)>;

fn trace_spans(path: &std::path::Path) -> Spans {
    let text = std::fs::read_to_string(path).expect("trace written");
    let trace: Value = serde_json::from_str(&text).expect("trace is JSON");
    let events = trace["traceEvents"]
        .as_array()
        .or_else(|| trace.as_array())
        .cloned()
        .unwrap_or_default();
    let mut spans: Spans = BTreeMap::new();
    for e in &events {
        let key = (
            e["pid"].as_u64().unwrap_or(0),
            e["tid"].as_u64().unwrap_or(0),
        );
        if e["ph"] == "M" && e["name"] == "thread_name" {
            spans.entry(key).or_default().0 = e["args"]["name"].as_str().unwrap_or("").into();
        }
        if e["ph"] == "X" && e["cat"] == "state" {
            let start = e["ts"].as_f64().unwrap_or(0.0) / 1e6;
            let end = start + e["dur"].as_f64().unwrap_or(0.0) / 1e6;
            let state = e["args"]["state"].as_str().unwrap_or("").to_string();
            spans.entry(key).or_default().1.push((state, start, end));
        }
    }
    spans
}

/// The most threads among `threads` in `state` at one instant. A thread's
/// back-to-back spans in that state (the lab re-reports "running" when a
/// thread that holds the GIL comes back from a wait) count once: their
/// shared edge, recomputed from microseconds, may land a rounding error
/// past the next span's start.
fn most_at_once(threads: &[&Vec<(String, f64, f64)>], state: &str) -> usize {
    let mut edges: Vec<(f64, i32)> = Vec::new();
    for spans in threads {
        let mut merged: Vec<(f64, f64)> = Vec::new();
        for (s, a, b) in spans.iter() {
            if s != state || b <= a {
                continue;
            }
            match merged.last_mut() {
                Some(last) if *a <= last.1 + 1e-9 => last.1 = last.1.max(*b),
                _ => merged.push((*a, *b)),
            }
        }
        for (a, b) in merged {
            edges.push((a, 1));
            edges.push((b, -1));
        }
    }
    edges.sort_by(|x, y| x.0.total_cmp(&y.0).then(x.1.cmp(&y.1)));
    let (mut cur, mut max) = (0, 0);
    for (_, d) in edges {
        cur += d;
        max = max.max(cur);
    }
    max as usize
}

/// For every running span of a thread, the longest stretch inside it during
/// which some other thread waited for the GIL without a break: how long a
/// holder kept the GIL while another waited.
fn contended_holds(threads: &[&Vec<(String, f64, f64)>]) -> Vec<f64> {
    let mut holds = Vec::new();
    for (i, mine) in threads.iter().enumerate() {
        for (s, a, b) in mine.iter() {
            if s != "running" {
                continue;
            }
            let mut waits: Vec<(f64, f64)> = threads
                .iter()
                .enumerate()
                .filter(|(j, _)| *j != i)
                .flat_map(|(_, o)| o.iter())
                .filter(|(st, x, y)| st == "waiting_for_gil" && y > a && x < b)
                .map(|(_, x, y)| (x.max(*a), y.min(*b)))
                .collect();
            waits.sort_by(|x, y| x.0.total_cmp(&y.0));
            let mut longest: f64 = 0.0;
            let mut cur: Option<(f64, f64)> = None;
            for (x, y) in waits {
                cur = match cur {
                    Some((c0, c1)) if x <= c1 + 1e-6 => Some((c0, c1.max(y))),
                    Some((c0, c1)) => {
                        longest = longest.max(c1 - c0);
                        Some((x, y))
                    }
                    None => Some((x, y)),
                };
            }
            if let Some((c0, c1)) = cur {
                longest = longest.max(c1 - c0);
            }
            if longest > 0.0 {
                holds.push(longest);
            }
        }
    }
    holds.sort_by(f64::total_cmp);
    holds
}

fn gil_threads<'a>(spans: &'a Spans, suffix: &str) -> Vec<&'a Vec<(String, f64, f64)>> {
    spans
        .values()
        .filter(|(name, _)| name.ends_with(suffix))
        .map(|(_, s)| s)
        .collect()
}

fn temp(name: &str) -> std::path::PathBuf {
    std::env::temp_dir().join(format!("hilos-test-{}-{name}", std::process::id()))
}

#[test]
fn under_the_gil_one_thread_runs_at_a_time_and_without_it_several() {
    let _serial = serial();
    let trace = temp("gil-trace.json");
    let path = trace.to_string_lossy().to_string();
    let (v, pid) = run(
        "gil",
        &["workers=3", "work=0.15", "sweep=off", "rounds=1"],
        &["--trace", &path],
    );
    assert_eq!(v["finished"], true);
    let spans = trace_spans(&trace);
    let _ = std::fs::remove_file(&trace);
    let under = gil_threads(&spans, "(task)");
    assert_eq!(under.len(), 3, "three threads under the GIL");
    for t in &under {
        assert!(
            t.iter().any(|(s, a, b)| s == "running" && b > a),
            "every thread ran"
        );
        assert!(
            t.iter().any(|(s, _, _)| s == "waiting_for_gil"),
            "every thread waited for the GIL"
        );
    }
    assert_eq!(most_at_once(&under, "running"), 1, "one at a time");
    assert_eq!(metric(&v, "max_running_under_gil"), 1.0);
    // Each child process is an interpreter of its own: one at a time there too.
    let children: Vec<_> = v["processes"].as_array().unwrap().iter().collect();
    assert_eq!(children.len(), 3);
    for p in &children {
        assert_eq!(p["state"], "done", "{p}");
        assert_eq!(p["exitcode"], 0);
        let cpid = p["pid"].as_u64().unwrap();
        assert_ne!(cpid as u32, pid, "a process of its own");
        let threads: Vec<_> = spans
            .iter()
            .filter(|((p, _), _)| *p == cpid)
            .map(|(_, (_, s))| s)
            .collect();
        assert!(!threads.is_empty(), "its threads are under its pid");
        assert!(most_at_once(&threads, "running") <= 1);
    }
    // The free-threaded build: no GIL, so (on 2+ cores) several at once.
    let free = gil_threads(&spans, "(task, no GIL)");
    assert_eq!(free.len(), 3);
    assert!(
        free.iter()
            .all(|t| !t.iter().any(|(s, _, _)| s == "waiting_for_gil")),
        "nobody waits for a GIL that is not there"
    );
    if std::thread::available_parallelism().map_or(1, |n| n.get()) >= 2 {
        assert!(most_at_once(&free, "running") >= 2);
    }
    assert!(children_of(pid).is_empty(), "no child outlived the run");
}

#[test]
fn the_switch_interval_bounds_how_long_one_holds_the_gil_while_another_waits() {
    let _serial = serial();
    let mut medians = Vec::new();
    for interval in [0.002, 0.02] {
        let trace = temp(&format!("switch-{interval}.json"));
        let path = trace.to_string_lossy().to_string();
        let sets = [
            "workers=2".to_string(),
            "work=0.3".to_string(),
            "sweep=off".to_string(),
            "rounds=1".to_string(),
            format!("switch_interval={interval}"),
        ];
        let sets: Vec<&str> = sets.iter().map(String::as_str).collect();
        let (v, _) = run("gil", &sets, &["--trace", &path]);
        let spans = trace_spans(&trace);
        let _ = std::fs::remove_file(&trace);
        assert!(metric(&v, "forced_switches") > 5.0, "{}", v["metrics"]);
        let holds = contended_holds(&gil_threads(&spans, "(task)"));
        assert!(holds.len() > 5, "too few hand-overs: {holds:?}");
        let median = holds[holds.len() / 2];
        let p90 = holds[holds.len() * 9 / 10];
        let max = holds[holds.len() - 1];
        eprintln!(
            "switch interval {interval}: {} contended holds, median {median:.4} s, p90 {p90:.4} s, max {max:.4} s",
            holds.len()
        );
        // A slice is ~15 µs, but on a loaded machine the OS takes the CPU
        // from a holder now and then (its span goes on while it does not
        // run), and a woken waiter takes a while to be scheduled: generous
        // margins, a larger one for the longest.
        assert!(
            median <= interval + 0.005,
            "median {median} for interval {interval}"
        );
        assert!(p90 <= interval + 0.015, "p90 {p90} for interval {interval}");
        assert!(max <= interval + 0.1, "max {max} for interval {interval}");
        medians.push(median);
    }
    assert!(
        medians[1] > 3.0 * medians[0],
        "a longer interval lets the holder keep it longer: {medians:?}"
    );
}

/// What holds however busy the machine is (other programs take the cores
/// for a while, or all the time): the processes computed at the same time,
/// each under a GIL of its own, and the threads under one GIL never did.
/// Those are checked on every run. The speed-ups are held to what the cores
/// allow given the share of a core the sequential runs had
/// (`sequential_cpu_share`, their CPU time over their wall time): beside
/// `stress --cpu 2` they had 62-68% of a core while two threads taking
/// turns under the GIL had nearly a whole one (the scheduler shares a core
/// per thread), so threads measured up to 1.49x in a round with the GIL
/// never held by two. Threads under one GIL use at most one core, so their
/// speed-up is at most 1 / share; processes and the free-threaded build at
/// most min(2, cores) / share. A quarter more for a round whose sequential
/// runs were slowed; and as a measurement, a miss is measured again, up to
/// three runs in all. How large the processes' speed-up is on an idle
/// machine: `benches/` and the note measure it.
#[test]
fn processes_compute_at_once_and_the_speed_ups_stay_within_what_the_cores_allow() {
    let _serial = serial();
    const TRIES: usize = 3;
    for attempt in 1..=TRIES {
        match gil_run_within_the_cores() {
            Ok(()) => return,
            Err(e) if attempt < TRIES => {
                eprintln!("measured again (try {attempt} of {TRIES}): {e}");
            }
            Err(e) => panic!("{e} (try {attempt} of {TRIES})"),
        }
    }
}

/// One run of gil: panics on what must hold on any machine, returns an
/// error for a speed-up beyond what the cores allow.
fn gil_run_within_the_cores() -> Result<(), String> {
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let trace = temp("speedups.json");
    let path = trace.to_string_lossy().to_string();
    let (v, _) = run(
        "gil",
        &["workers=2", "work=0.2", "sweep=off", "rounds=3"],
        &["--trace", &path],
    );
    let spans = trace_spans(&trace);
    let _ = std::fs::remove_file(&trace);
    let m = |name: &str| metric(&v, name);
    for strategy in ["threads", "processes"] {
        let (low, median, high) = (
            m(&format!("{strategy}_speedup_low")),
            m(&format!("{strategy}_speedup")),
            m(&format!("{strategy}_speedup_high")),
        );
        assert!(
            0.0 < low && low <= median && median <= high,
            "{strategy}: {low} <= {median} <= {high}"
        );
    }
    assert_eq!(m("max_running_under_gil"), 1.0);
    if cores >= 2 {
        // The children's MainThreads (the trace gives the lab pid 1 and
        // each child its own pid).
        let children: Vec<_> = spans
            .iter()
            .filter(|((pid, _), (name, _))| *pid != 1 && name == "MainThread")
            .map(|(_, (_, s))| s)
            .collect();
        assert_eq!(children.len(), 2 * 3, "two processes a round, three rounds");
        assert!(
            most_at_once(&children, "running") >= 2,
            "two processes computed at the same time: {} lanes",
            children.len()
        );
    }
    // Two workers: no more than two (or the cores) at once; under one GIL,
    // one. Against a sequential run that had `share` of a core.
    let share = m("sequential_cpu_share");
    assert!(share > 0.0 && share <= 1.0, "{}", v["metrics"]);
    let share = share.max(0.25);
    let most = 2.0_f64.min(cores as f64) * 1.25 / share;
    let one = 1.25 / share;
    let within = m("processes_speedup") <= most
        && m("free_threaded_speedup") <= most
        && m("threads_speedup") <= one;
    if within {
        Ok(())
    } else {
        Err(format!(
            "a speed-up beyond the cores (processes and free-threaded <= {most:.2}, threads <= {one:.2}): {}",
            v["metrics"]
        ))
    }
}

#[test]
fn a_pool_runs_every_task_and_returns_map_results_in_order() {
    let _serial = serial();
    let (v, pid) = run(
        "process-pool",
        &["processes=2", "tasks=6", "work=0.05", "chunksize=2"],
        &["--log"],
    );
    assert_eq!(v["finished"], true);
    assert_eq!(metric(&v, "results"), 6.0);
    let log: Vec<&str> = v["log"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|l| l["text"].as_str())
        .collect();
    assert!(
        log.iter()
            .any(|l| l.contains("results in order: [0, 1, 2, 3, 4, 5]")),
        "{log:?}"
    );
    // Both workers took chunks, and everything crossed the queues serialised.
    let workers: Vec<_> = v["processes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|p| {
            p["name"]
                .as_str()
                .unwrap_or("")
                .starts_with("ForkPoolWorker-")
        })
        .collect();
    assert_eq!(workers.len(), 2);
    assert!(metric(&v, "bytes_sent") > 0.0);
    assert!(metric(&v, "process_startup_ms") > 0.0);
    assert!(children_of(pid).is_empty());
}

#[test]
fn queue_and_pipe_deliver_every_message_in_order() {
    let _serial = serial();
    let (v, pid) = run(
        "process-communication",
        &[
            "processes=3",
            "messages=40",
            "pause=0.001",
            "increments=100",
        ],
        &[],
    );
    assert_eq!(v["finished"], true);
    assert_eq!(metric(&v, "queue_received"), 120.0);
    assert_eq!(metric(&v, "queue_in_order"), 1.0);
    assert_eq!(metric(&v, "pipe_replies"), 40.0);
    assert!(metric(&v, "pipe_rtt_us") > 0.0);
    assert!(metric(&v, "queue_bytes") > 120.0);
    assert_eq!(metric(&v, "greetings"), 3.0);
    assert_eq!(metric(&v, "array_sum"), -45.0);
    assert_eq!(metric(&v, "manager_items"), 3.0);
    assert_eq!(metric(&v, "manager_list_first"), 9.0);
    assert!(children_of(pid).is_empty());
}

#[test]
fn a_shared_value_loses_updates_across_processes_without_its_lock_and_none_with_it() {
    let _serial = serial();
    let mut lost = 0.0;
    for _ in 0..3 {
        let (v, _) = run(
            "process-communication",
            &["processes=4", "messages=1", "increments=20000"],
            &[],
        );
        lost = metric(&v, "lost_updates");
        if lost > 0.0 {
            break;
        }
    }
    assert!(lost > 0.0, "no update lost without the lock");
    let (v, _) = run(
        "process-communication",
        &["processes=4", "messages=1", "increments=20000", "lock=on"],
        &[],
    );
    assert_eq!(metric(&v, "lost_updates"), 0.0);
    assert_eq!(metric(&v, "counter_actual"), 80000.0);
}

#[test]
fn stop_ends_every_child_promptly_and_leaves_no_orphan() {
    let _serial = serial();
    // Stopped mid-run: children computing, blocked on the queue or the
    // lock, or asleep between messages.
    for (id, sets, seconds) in [
        // Waiting tasks: 1.6 s one after another, then the pool's.
        (
            "process-pool",
            vec!["processes=4", "tasks=8", "work=0.2", "waiting=on"],
            "1.9",
        ),
        (
            "process-communication",
            vec!["processes=8", "messages=200", "pause=0.5"],
            "0.7",
        ),
    ] {
        let started = Instant::now();
        let (v, pid) = run(id, &sets, &["--seconds", seconds]);
        assert_eq!(v["finished"], false, "{id} was cut short");
        let stop = v["stop"]["stop_seconds"].as_f64().unwrap();
        assert!(stop < 0.25, "{id}: stop took {stop} s");
        assert_eq!(v["stop"]["processes_left"], 0, "{id}");
        assert_eq!(v["stop"]["threads_left"], 0, "{id}");
        assert!(
            v["processes"]
                .as_array()
                .unwrap()
                .iter()
                .any(|p| p["state"] == "killed"),
            "{id}: some child was cut off by Stop"
        );
        assert!(
            children_of(pid).is_empty(),
            "{id}: orphans {:?}",
            children_of(pid)
        );
        assert!(started.elapsed() < Duration::from_secs(30));
    }
}

mod lab_api {
    //! The same promises through the lab's API (its children are still
    //! the `hilos` binary): a child blocked on a pipe, two deadlocked on a
    //! lock the parent holds, and one that panics.

    use std::time::Duration;

    use hilos::lab::process::ipc;
    use hilos::lab::process::{ProcessSpec, set_child_executable};
    use hilos::lab::{Knobs, Lab, LabOptions, State};
    use serde_json::{Value, json};

    fn lab() -> Lab {
        set_child_executable(env!("CARGO_BIN_EXE_hilos"));
        Lab::new(LabOptions::default(), Knobs::new(&[]))
    }

    /// Children of this test process, from /proc (every thread's list).
    fn my_children() -> usize {
        let mut n = 0;
        for task in std::fs::read_dir("/proc/self/task")
            .into_iter()
            .flatten()
            .flatten()
        {
            if let Ok(list) = std::fs::read_to_string(task.path().join("children")) {
                n += list.split_whitespace().count();
            }
        }
        n
    }

    #[test]
    fn stop_ends_children_blocked_on_a_pipe_and_deadlocked_on_a_lock() {
        let _serial = super::serial();
        let lab = lab();
        let handle = lab.handle().clone();
        let before = my_children();
        let started = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
        let flag = started.clone();
        lab.start_main(move |ctx| {
            let lab = ctx.lab();
            // Nobody ever sends on this pipe: the echo child blocks in recv.
            let (_mine, theirs) = ipc::pipe(&lab, "pipe")?;
            let mut echo = ProcessSpec::new("comm.echo", Value::Null);
            echo.handles = vec![theirs.handle()];
            lab.process(echo).start()?;
            // The parent holds the lock for good: the greeters never get it.
            let lock = ipc::Lock::new(&lab, "lock")?;
            lock.acquire()?;
            for i in 0..2 {
                let mut greet = ProcessSpec::new("comm.greet", json!({ "i": i }));
                greet.handles = vec![lock.handle()];
                lab.process(greet).start()?;
            }
            // And one computing for a minute.
            lab.process(ProcessSpec::new(
                "gil.task",
                json!({ "steps": 1_000_000_000_000u64, "work": 60.0 }),
            ))
            .start()?;
            flag.store(true, std::sync::atomic::Ordering::Release);
            ctx.sleep(3600.0)
        })
        .unwrap();
        let deadline = std::time::Instant::now() + Duration::from_secs(10);
        while !(started.load(std::sync::atomic::Ordering::Acquire)
            && handle.active_children().len() == 4)
        {
            assert!(
                std::time::Instant::now() < deadline,
                "children did not start"
            );
            std::thread::sleep(Duration::from_millis(10));
        }
        // Let them reach their waits.
        std::thread::sleep(Duration::from_millis(300));
        assert_eq!(my_children(), before + 4, "four children alive");
        let report = lab.stop();
        assert!(
            report.stop_seconds < 0.25,
            "stop took {} s",
            report.stop_seconds
        );
        assert_eq!(report.processes_left, 0);
        assert_eq!(report.threads_left, 0);
        assert_eq!(my_children(), before, "every child reaped");
        assert_eq!(
            lab.handle().os_threads_alive().unwrap_or(0),
            0,
            "no lab thread left"
        );
        let rec = lab.record().lock();
        let procs: Vec<_> = rec.processes().collect();
        assert_eq!(procs.len(), 4);
        for p in procs {
            assert_eq!(p.end_state, Some(State::Killed), "{}", p.name);
            // Seen once in a cold CI run: a child had exited 101 (a panic)
            // as Stop came; the failure text says why.
            assert_eq!(p.exitcode, Some(-9), "{}: {:?}", p.name, p.failure);
        }
        // Their threads were cut off too.
        assert!(
            rec.threads()
                .filter(|t| t.process.is_some())
                .all(|t| t.state.is_final())
        );
    }

    #[test]
    fn a_child_that_panics_is_reported_failed_with_its_exit_code() {
        let _serial = super::serial();
        let lab = lab();
        let code = std::sync::Arc::new(parking_lot::Mutex::new(None));
        let seen = code.clone();
        lab.start_main(move |ctx| {
            let p = ctx
                .lab()
                .process(ProcessSpec::new("lab.panic", Value::Null));
            p.start()?;
            p.join(None)?;
            *seen.lock() = p.exitcode();
            Ok(())
        })
        .unwrap();
        assert!(lab.wait(Duration::from_secs(20)));
        lab.stop();
        assert_eq!(*code.lock(), Some(101), "a Rust panic exits with 101");
        let rec = lab.record().lock();
        let p = rec.processes().next().expect("the child");
        assert_eq!(p.end_state, Some(State::Failed));
        assert_eq!(p.exitcode, Some(101));
        let failure = p.failure.clone().unwrap_or_default();
        assert!(
            failure.contains("exitcode 101") && failure.contains("crashed on purpose"),
            "{failure}"
        );
    }
}
