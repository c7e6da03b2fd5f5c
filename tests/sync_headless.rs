//! Lock vs RLock, deadlock and the dining philosophers, headless through the
//! real `hilos` binary: the deadlocks form and are named, the fixes finish
//! without one, an RLock goes all the way down, a foreign release raises
//! RuntimeError, and Stop ends a deadlocked run promptly with no thread left.

use std::process::Command;
use std::time::{Duration, Instant};

use hilos::lab::{Lab, LabOptions, State};
use hilos::scenarios;
use serde_json::Value;

fn hilos(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_hilos"))
        .args(args)
        .output()
        .expect("run hilos");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// `hilos run ID --set K=V… [extra…] --json`.
fn run_json(id: &str, sets: &[&str], extra: &[&str]) -> Value {
    let mut args = vec!["run", id];
    for s in sets {
        args.push("--set");
        args.push(s);
    }
    args.extend_from_slice(extra);
    args.push("--json");
    let (code, stdout, stderr) = hilos(&args);
    assert_eq!(code, 0, "hilos {args:?} failed: {stderr}");
    serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {stdout}"))
}

fn metric(v: &Value, name: &str) -> f64 {
    v["metrics"][name]
        .as_f64()
        .unwrap_or_else(|| panic!("no metric {name} in {}", v["metrics"]))
}

fn thread<'a>(v: &'a Value, name: &str) -> &'a Value {
    v["threads"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == name)
        .unwrap_or_else(|| panic!("no thread {name} in {}", v["threads"]))
}

fn deadlocks(v: &Value) -> Vec<Vec<String>> {
    serde_json::from_value(v["deadlocks"].clone()).unwrap()
}

fn seconds_in(t: &Value, state: &str) -> f64 {
    t["seconds"][state].as_f64().unwrap_or(0.0)
}

#[test]
fn a_lock_taken_twice_by_its_owner_is_a_deadlock_of_one() {
    let v = run_json(
        "lock-rlock",
        &["depth=3", "hold=0.05", "give_up=1"],
        &["--log"],
    );
    assert_eq!(v["finished"], true, "Main gives up and exits");
    assert_eq!(deadlocks(&v), [["Worker"]], "a cycle of one thread");
    assert_eq!(metric(&v, "deepest_level"), 1.0, "level 2 never got it");
    assert_eq!(metric(&v, "threads_stuck"), 1.0);
    assert_eq!(metric(&v, "deadlocks"), 1.0);
    let worker = thread(&v, "Worker");
    assert_eq!(worker["state"], "killed", "a daemon cut off at exit");
    assert!(
        seconds_in(worker, "blocked") > 0.8,
        "blocked on itself until Main gave up: {worker}"
    );
    let log: Vec<&str> = v["log"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["text"].as_str().unwrap())
        .collect();
    assert!(log.contains(&"Worker: level 2: acquiring the lock"));
    assert!(!log.contains(&"Worker: level 2: got the lock"), "{log:?}");
    // The readable summary says so too.
    let (_, text, _) = hilos(&[
        "run",
        "lock-rlock",
        "--set",
        "hold=0.05",
        "--set",
        "give_up=0.5",
    ]);
    assert!(
        text.contains("DEADLOCK: Worker waited for a lock it held itself"),
        "{text}"
    );
}

#[test]
fn an_rlock_goes_all_the_way_down_and_counts() {
    let v = run_json(
        "lock-rlock",
        &[
            "rlock=on",
            "depth=6",
            "hold=0.02",
            "intruder=off",
            "give_up=30",
        ],
        &[],
    );
    assert_eq!(v["finished"], true);
    assert_eq!(deadlocks(&v), Vec::<Vec<String>>::new());
    assert_eq!(metric(&v, "deepest_level"), 6.0);
    assert_eq!(metric(&v, "level"), 0.0, "and all the way back up");
    assert_eq!(metric(&v, "threads_stuck"), 0.0);
    assert_eq!(metric(&v, "failed_threads"), 0.0);
    assert_eq!(thread(&v, "Worker")["state"], "done");
    let lock = &v["resources"][0];
    assert_eq!(lock["kind"], "RLock");
    assert_eq!(lock["level_is"], "count");
    assert_eq!(lock["level"]["max"], 6.0, "held six times at the bottom");
    assert_eq!(lock["level"]["last"], 0.0);
    // Worker spent 6 × 0.02 s asleep at its levels, never blocked.
    assert_eq!(seconds_in(thread(&v, "Worker"), "blocked"), 0.0);
}

#[test]
fn releasing_an_rlock_it_does_not_own_raises_runtime_error() {
    let v = run_json(
        "lock-rlock",
        &["rlock=on", "depth=3", "hold=0.1", "intruder=on"],
        &["--log"],
    );
    assert_eq!(v["finished"], true);
    let intruder = thread(&v, "Intruder");
    assert_eq!(intruder["state"], "failed");
    assert_eq!(
        intruder["failure"],
        "RuntimeError: cannot release un-acquired lock"
    );
    // As Python's threading.excepthook prints it (less the traceback).
    let log: Vec<&str> = v["log"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|l| l["text"].as_str())
        .collect();
    assert!(
        log.windows(2).any(|w| w
            == [
                "Exception in thread Intruder:",
                "RuntimeError: cannot release un-acquired lock"
            ]),
        "the error is logged as Python prints it: {log:?}"
    );
    assert_eq!(metric(&v, "failed_threads"), 1.0);
    // The owner is not disturbed.
    assert_eq!(thread(&v, "Worker")["state"], "done");
    assert_eq!(metric(&v, "deepest_level"), 3.0);
    // A Lock has no owner: no intruder runs against it.
    let v = run_json(
        "lock-rlock",
        &["hold=0.05", "intruder=on", "give_up=0.5"],
        &[],
    );
    assert!(
        v["threads"]
            .as_array()
            .unwrap()
            .iter()
            .all(|t| t["name"] != "Intruder")
    );
}

#[test]
fn two_locks_in_opposite_order_deadlock_and_the_cycle_is_named() {
    let v = run_json("deadlock", &["hold=0.1", "give_up=1"], &[]);
    assert_eq!(v["finished"], true, "Main gives up and exits");
    assert_eq!(deadlocks(&v), [["Thread-1", "Thread-2"]]);
    assert_eq!(metric(&v, "rounds_done"), 0.0);
    assert_eq!(metric(&v, "threads_stuck"), 2.0);
    for name in ["Thread-1", "Thread-2"] {
        let t = thread(&v, name);
        assert_eq!(t["state"], "killed", "{t}");
        assert!(seconds_in(t, "blocked") > 0.7, "{t}");
    }
    // Each lock had one waiter: the other thread.
    for r in v["resources"].as_array().unwrap() {
        assert_eq!(r["waiters"]["max"], 1.0, "{r}");
    }
}

#[test]
fn each_fix_finishes_every_round_without_a_deadlock() {
    let ordered = run_json(
        "deadlock",
        &["strategy=ordered", "hold=0.05", "rounds=3", "give_up=30"],
        &[],
    );
    // Waits with a timeout: the loop forms (both hold their first lock and
    // time out), then they back off and retry.
    let timeout = run_json(
        "deadlock",
        &[
            "strategy=timeout",
            "hold=0.2",
            "timeout=0.05",
            "rounds=3",
            "give_up=60",
        ],
        &[],
    );
    for (v, what) in [(&ordered, "ordered"), (&timeout, "timeout")] {
        assert_eq!(v["finished"], true, "{what}");
        assert_eq!(deadlocks(v), Vec::<Vec<String>>::new(), "{what}");
        assert_eq!(metric(v, "rounds_done"), 6.0, "{what}");
        assert_eq!(metric(v, "threads_stuck"), 0.0, "{what}");
        assert_eq!(thread(v, "Thread-1")["state"], "done", "{what}");
        assert_eq!(thread(v, "Thread-2")["state"], "done", "{what}");
    }
    assert_eq!(metric(&ordered, "retries"), 0.0);
    assert!(
        metric(&timeout, "retries") >= 1.0,
        "the first round collides and times out"
    );
    // Ordered: one thread waited for lock_a without holding anything.
    let blocked: f64 = ["Thread-1", "Thread-2"]
        .iter()
        .map(|n| seconds_in(thread(&ordered, n), "blocked"))
        .sum();
    assert!(blocked > 0.0, "{ordered}");
}

#[test]
fn the_strategy_follows_its_knob_while_the_run_goes_on() {
    // A run with one global order, switched live to the naive order: the
    // next rounds take the locks in opposite order and the deadlock forms.
    let scenario = scenarios::find("deadlock").unwrap();
    let knobs = scenario.knobs();
    knobs.set_from_arg("strategy=ordered").unwrap();
    knobs.set("hold", 0.02).unwrap();
    knobs.set("rounds", 100.0).unwrap();
    let lab = Lab::new(LabOptions::default(), knobs);
    lab.start_main(scenario.body).unwrap();
    let wait_for = |what: &str, cond: &dyn Fn() -> bool| {
        let deadline = Instant::now() + Duration::from_secs(10);
        while !cond() {
            assert!(Instant::now() < deadline, "timed out: {what}");
            std::thread::sleep(Duration::from_millis(5));
        }
    };
    wait_for("rounds in order", &|| {
        lab.record()
            .lock()
            .counter_value("rounds_done")
            .unwrap_or(0)
            >= 4
    });
    assert!(lab.record().lock().deadlocks_seen().is_empty());
    lab.set_knob("strategy", 0.0).unwrap();
    wait_for("the deadlock", &|| {
        !lab.record().lock().deadlocks().is_empty()
    });
    let report = lab.stop();
    assert!(report.stop_seconds < 0.25, "{report:?}");
    assert_eq!(report.threads_left, 0);
}

#[test]
fn naive_philosophers_deadlock_all_round_the_table() {
    for n in [2, 5, 16] {
        let n_set = format!("philosophers={n}");
        let v = run_json(
            "dining-philosophers",
            &[&n_set, "think=0.05", "pause=0.1", "give_up=1.5"],
            &[],
        );
        assert_eq!(v["finished"], true);
        let cycles = deadlocks(&v);
        assert_eq!(cycles.len(), 1, "{n}: {cycles:?}");
        let mut who = cycles[0].clone();
        who.sort();
        let mut all: Vec<String> = (1..=n).map(|i| format!("Philosopher {i}")).collect();
        all.sort();
        assert_eq!(who, all, "every philosopher is in the cycle");
        assert_eq!(metric(&v, "meals"), 0.0, "{n}");
        assert_eq!(metric(&v, "threads_stuck"), n as f64);
        assert!(metric(&v, "longest_wait") > 1.0, "{n}: {}", v["metrics"]);
        // Every fork held, by one philosopher each.
        let forks: Vec<&Value> = v["resources"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|r| r["name"].as_str().unwrap().starts_with("fork "))
            .collect();
        assert_eq!(forks.len(), n);
    }
}

#[test]
fn ordered_forks_and_a_waiter_feed_every_philosopher() {
    for strategy in ["strategy=ordered", "strategy=waiter"] {
        let v = run_json(
            "dining-philosophers",
            &[
                strategy,
                "philosophers=5",
                "think=0.05",
                "eat=0.05",
                "pause=0.05",
                "meals=3",
                "give_up=60",
            ],
            &[],
        );
        assert_eq!(v["finished"], true, "{strategy}");
        assert_eq!(deadlocks(&v), Vec::<Vec<String>>::new(), "{strategy}");
        assert_eq!(metric(&v, "meals"), 15.0, "{strategy}");
        assert_eq!(metric(&v, "fewest_meals"), 3.0, "{strategy}");
        assert_eq!(metric(&v, "most_meals"), 3.0, "{strategy}");
        assert_eq!(metric(&v, "threads_stuck"), 0.0, "{strategy}");
        for i in 1..=5 {
            let t = thread(&v, &format!("Philosopher {i}"));
            assert_eq!(t["state"], "done", "{strategy}: {t}");
        }
        // Neighbours competed for forks.
        assert!(metric(&v, "longest_wait") > 0.0, "{strategy}");
    }
    // The waiter seats at most four of five at once.
    let v = run_json(
        "dining-philosophers",
        &["strategy=waiter", "think=0.01", "eat=0.1", "meals=2"],
        &[],
    );
    let waiter = v["resources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == "waiter")
        .unwrap();
    assert_eq!(waiter["capacity"], 4);
    assert_eq!(waiter["level"]["min"], 0.0, "all four seats taken at once");
    assert!(waiter["waiters"]["max"].as_f64().unwrap() >= 1.0);
}

#[test]
fn stop_ends_each_deadlocked_run_in_under_250_ms_with_no_thread_left() {
    let cases: [(&str, &[&str]); 3] = [
        ("lock-rlock", &["give_up=3600"]),
        ("deadlock", &["hold=0.05", "give_up=3600"]),
        (
            "dining-philosophers",
            &["philosophers=16", "think=0.05", "pause=0.1", "give_up=3600"],
        ),
    ];
    for (id, sets) in cases {
        // Through the binary: stopped at --seconds while deadlocked.
        let v = run_json(id, sets, &["--seconds", "1"]);
        assert_eq!(v["finished"], false, "{id}: still deadlocked at 1 s");
        assert_eq!(deadlocks(&v).len(), 1, "{id}");
        let stop = v["stop"]["stop_seconds"].as_f64().unwrap();
        assert!(stop < 0.25, "{id}: stop took {stop} s");
        assert_eq!(v["stop"]["threads_left"], 0, "{id}");
        for t in v["threads"].as_array().unwrap() {
            assert!(
                ["done", "killed"].contains(&t["state"].as_str().unwrap()),
                "{id}: {t}"
            );
        }

        // Through the lab, counting the OS threads it leaves (Linux).
        let scenario = scenarios::find(id).unwrap();
        let knobs = scenario.knobs();
        for s in sets {
            knobs.set_from_arg(s).unwrap();
        }
        let lab = Lab::new(LabOptions::default(), knobs);
        lab.start_main(scenario.body).unwrap();
        let deadline = Instant::now() + Duration::from_secs(5);
        while lab.record().lock().deadlocks().is_empty() {
            assert!(Instant::now() < deadline, "{id}: no deadlock");
            std::thread::sleep(Duration::from_millis(5));
        }
        let t0 = Instant::now();
        let report = lab.stop();
        assert!(
            t0.elapsed() < Duration::from_millis(250),
            "{id}: {report:?}"
        );
        assert_eq!(report.threads_left, 0, "{id}");
        assert_eq!(lab.handle().active_count(), 0, "{id}");
        if let Some(left) = lab.handle().os_threads_alive() {
            assert_eq!(left, 0, "{id}: OS threads left");
        }
        let rec = lab.record().lock();
        for t in rec.threads() {
            assert!(t.state.is_final(), "{id}: {} is {:?}", t.name, t.state);
            assert_ne!(t.state, State::Failed, "{id}: {}", t.name);
        }
    }
}

#[test]
fn python_programs_follow_the_knobs() {
    let (_, py, _) = hilos(&["run", "lock-rlock", "--python", "--set", "rlock=on"]);
    assert!(py.contains("lock = threading.RLock()"), "{py}");
    assert!(py.contains("def intruder():"), "{py}");
    let (_, py, _) = hilos(&["run", "lock-rlock", "--python"]);
    assert!(py.contains("lock = threading.Lock()"), "{py}");
    assert!(!py.contains("def intruder():"), "{py}");
    let (_, py, _) = hilos(&["run", "deadlock", "--python", "--set", "strategy=timeout"]);
    assert!(py.contains(".acquire(timeout=TIMEOUT)"), "{py}");
    let (_, py, _) = hilos(&["run", "deadlock", "--python", "--set", "strategy=ordered"]);
    assert!(py.contains("sorted((first, second))"), "{py}");
    let (_, py, _) = hilos(&[
        "run",
        "dining-philosophers",
        "--python",
        "--set",
        "strategy=waiter",
        "--set",
        "philosophers=7",
    ]);
    assert!(py.contains("PHILOSOPHERS = 7"), "{py}");
    assert!(py.contains("threading.Semaphore(PHILOSOPHERS - 1)"), "{py}");
    // A strategy that is not one is refused with the valid names.
    let (code, out, err) = hilos(&["run", "deadlock", "--set", "strategy=polite"]);
    assert_eq!(code, 2);
    assert!(out.is_empty());
    assert!(err.contains("naive, ordered, timeout"), "{err}");
    // hilos list names the options.
    let (_, list, _) = hilos(&["list"]);
    assert!(
        list.contains("--set strategy=…  naive | ordered | waiter, default naive"),
        "{list}"
    );
}
