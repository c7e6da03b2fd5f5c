//! The three scenarios run headless and teach their lessons; `hilos run` and
//! `hilos list` behave for scripts (JSON shape, exit status, error lines).

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

fn run_json(args: &[&str]) -> Value {
    let mut all = vec!["run"];
    all.extend_from_slice(args);
    all.push("--json");
    let (code, stdout, stderr) = hilos(&all);
    assert_eq!(code, 0, "hilos {all:?} failed: {stderr}");
    serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {stdout}"))
}

fn metric(v: &Value, name: &str) -> f64 {
    v["metrics"][name]
        .as_f64()
        .unwrap_or_else(|| panic!("no metric {name} in {}", v["metrics"]))
}

#[test]
fn race_without_lock_loses_updates_like_cpython() {
    // The tutorial's program: 2 threads, 1 update each, 0.1 s pause: CPython prints 1.
    let v = run_json(&[
        "race-condition",
        "--set",
        "threads=2",
        "--set",
        "updates=1",
        "--set",
        "pause=0.1",
    ]);
    assert_eq!(v["finished"], true);
    assert_eq!(metric(&v, "expected"), 2.0);
    assert_eq!(
        metric(&v, "actual"),
        1.0,
        "every thread reads before any writes"
    );
    assert_eq!(metric(&v, "lost_updates"), 1.0);
    // More threads: still one survivor per round of updates.
    let v = run_json(&[
        "race-condition",
        "--set",
        "threads=8",
        "--set",
        "updates=3",
        "--set",
        "pause=0.1",
    ]);
    assert_eq!(metric(&v, "expected"), 24.0);
    assert_eq!(metric(&v, "actual"), 3.0);
    assert_eq!(metric(&v, "lost_updates"), 21.0);
}

#[test]
fn race_with_lock_is_correct_and_serialised() {
    let pause = 0.05;
    let unlocked = run_json(&[
        "race-condition",
        "--set",
        "threads=4",
        "--set",
        "updates=2",
        "--set",
        "pause=0.05",
    ]);
    let locked = run_json(&[
        "race-condition",
        "--set",
        "threads=4",
        "--set",
        "updates=2",
        "--set",
        "pause=0.05",
        "--set",
        "lock=on",
    ]);
    assert_eq!(metric(&locked, "actual"), 8.0);
    assert_eq!(metric(&locked, "lost_updates"), 0.0);
    let t_locked = metric(&locked, "update_seconds");
    let t_unlocked = metric(&unlocked, "update_seconds");
    // Serialised: 8 pauses in a row (0.4 s) against about 2 pauses (0.1 s).
    assert!(
        t_locked >= 8.0 * pause * 0.95,
        "locked run took {t_locked} s"
    );
    assert!(
        t_locked > 2.5 * t_unlocked,
        "locked {t_locked} s vs unlocked {t_unlocked} s"
    );
    // Threads spent time blocked on the lock.
    let blocked: f64 = locked["threads"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|t| t["seconds"]["blocked"].as_f64())
        .sum();
    assert!(blocked > 0.2, "threads blocked on the lock for {blocked} s");
    let lock = locked["resources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == "database._lock")
        .unwrap();
    assert_eq!(lock["level"]["max"], 1.0);
    assert!(lock["waiters"]["max"].as_f64().unwrap() >= 3.0);
}

#[test]
fn producer_consumer_drains_and_never_exceeds_capacity() {
    let v = run_json(&[
        "producer-consumer",
        "--speed",
        "20",
        "--set",
        "producers=3",
        "--set",
        "consumers=2",
        "--set",
        "capacity=5",
        "--set",
        "burst=10",
        "--set",
        "run_for=20",
    ]);
    assert_eq!(v["finished"], true, "the run drains and ends by itself");
    let produced = metric(&v, "produced");
    assert!(produced > 50.0, "produced {produced}");
    assert_eq!(
        produced,
        metric(&v, "consumed"),
        "produced = consumed after the drain"
    );
    assert_eq!(metric(&v, "queue_depth"), 0.0);
    let max_depth = metric(&v, "max_queue_depth");
    assert!(max_depth <= 5.0, "depth {max_depth} above capacity 5");
    assert_eq!(max_depth, 5.0, "bursts of 10 into a queue of 5 fill it");
    let q = v["resources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == "queue")
        .unwrap();
    assert_eq!(q["capacity"], 5);
    // Producers were blocked on the full queue at some point.
    let producer_blocked: f64 = v["threads"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["name"].as_str().unwrap().starts_with("Producer"))
        .filter_map(|t| t["seconds"]["blocked"].as_f64())
        .sum();
    assert!(producer_blocked > 0.0);
    for t in v["threads"].as_array().unwrap() {
        assert_eq!(t["state"], "done", "{t}");
    }
    assert_eq!(v["events"]["dropped"], 0);
    assert!(v["events"]["recorded"].as_u64().unwrap() > 100);
}

#[test]
fn producer_consumer_follows_live_knobs() {
    let scenario = scenarios::find("producer-consumer").unwrap();
    let knobs = scenario.knobs();
    knobs.set("run_for", 600.0).unwrap();
    knobs.set("capacity", 3.0).unwrap();
    let lab = Lab::new(
        LabOptions {
            speed: 10.0,
            ..LabOptions::default()
        },
        knobs,
    );
    lab.start_main(scenario.body).unwrap();
    let alive = |lab: &Lab, prefix: &str| {
        lab.handle()
            .enumerate()
            .iter()
            .filter(|t| t.name().starts_with(prefix) && !t.is_retiring())
            .count()
    };
    let wait_for = |what: &str, cond: &dyn Fn() -> bool| {
        let deadline = Instant::now() + Duration::from_secs(5);
        while !cond() {
            assert!(Instant::now() < deadline, "timed out: {what}");
            std::thread::sleep(Duration::from_millis(5));
        }
    };
    wait_for("one producer", &|| alive(&lab, "Producer") == 1);
    lab.set_knob("producers", 5.0).unwrap();
    lab.set_knob("consumers", 4.0).unwrap();
    wait_for("five producers", &|| alive(&lab, "Producer") == 5);
    wait_for("four consumers", &|| alive(&lab, "Consumer") == 4);
    lab.set_knob("capacity", 7.0).unwrap();
    wait_for("capacity 7", &|| {
        lab.record()
            .lock()
            .resource_by_name("queue")
            .and_then(|q| q.capacity)
            == Some(7)
    });
    lab.set_knob("producers", 2.0).unwrap();
    wait_for("two producers", &|| alive(&lab, "Producer") == 2);
    let report = lab.stop();
    assert!(
        report.stop_seconds < 0.25,
        "stop took {} s",
        report.stop_seconds
    );
    assert_eq!(report.threads_left, 0);
    let rec = lab.record().lock();
    assert!(rec.log.iter().any(|l| l.text == "Knob: producers = 5"));
    assert_eq!(
        rec.resource_by_name("queue").unwrap().capacity_series.max,
        7.0
    );
}

#[test]
fn frozen_ui_worker_keeps_frames_short_and_ui_thread_does_not() {
    let worker = run_json(&["frozen-ui", "--set", "steps=10", "--set", "sleep=0.05"]);
    let ui = run_json(&[
        "frozen-ui",
        "--set",
        "steps=10",
        "--set",
        "sleep=0.05",
        "--set",
        "ui_thread=on",
    ]);
    assert_eq!(metric(&worker, "progress"), 10.0);
    assert_eq!(metric(&ui, "progress"), 10.0);
    let gap_worker = metric(&worker, "frame_gap_ms");
    let gap_ui = metric(&ui, "frame_gap_ms");
    assert!(
        gap_ui >= 450.0,
        "the UI loop was frozen for the whole loop: {gap_ui} ms"
    );
    assert!(
        gap_worker < 200.0,
        "frames kept coming with a worker: {gap_worker} ms"
    );
    assert!(
        metric(&worker, "frames") >= 10.0,
        "frames drawn while the worker ran"
    );
    let names: Vec<&str> = worker["threads"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["MainThread", "Worker"]);
}

#[test]
fn every_scenario_runs_headless_and_prints_python() {
    for s in scenarios::all() {
        let (code, py, err) = hilos(&["run", s.id, "--python"]);
        assert_eq!(code, 0, "{err}");
        assert!(
            [
                "import threading",
                "import concurrent",
                "multiprocessing",
                "import asyncio"
            ]
            .iter()
            .any(|m| py.contains(m)),
            "{}: {py}",
            s.id
        );
        let knobs = s.knobs();
        assert!(!(s.python)(&knobs).is_empty());
        // Every scenario ends by itself; the limit only catches one that
        // does not. The Parallelism lessons compute for real (speed does
        // not shorten CPU work): gil at its default knobs takes about 20 s
        // on 2 idle cores, twice that beside `stress --cpu 2`.
        let v = run_json(&[s.id, "--speed", "50", "--seconds", "180"]);
        assert_eq!(v["scenario"], s.id);
        assert_eq!(v["finished"], true, "{} did not end by itself", s.id);
        for key in [
            "knobs",
            "seconds",
            "metrics",
            "resources",
            "threads",
            "events",
        ] {
            assert!(!v[key].is_null(), "{}: no {key}", s.id);
        }
        // Every thread spent its time in named states and ended.
        for t in v["threads"].as_array().unwrap() {
            let state = t["state"].as_str().unwrap();
            assert!(
                ["done", "failed", "killed"].contains(&state),
                "{}: {t}",
                s.id
            );
        }
    }
}

#[test]
fn python_program_follows_the_knobs() {
    let (_, py, _) = hilos(&[
        "run",
        "race-condition",
        "--python",
        "--set",
        "lock=on",
        "--set",
        "threads=5",
    ]);
    assert!(py.contains("with self._lock:"), "{py}");
    assert!(py.contains("max_workers=5"), "{py}");
    let (_, py, _) = hilos(&["run", "race-condition", "--python"]);
    assert!(!py.contains("_lock"), "{py}");
    assert!(py.contains("time.sleep(0.1)"), "{py}");
    let (_, py, _) = hilos(&[
        "run",
        "producer-consumer",
        "--python",
        "--set",
        "capacity=7",
    ]);
    assert!(py.contains("queue.Queue(maxsize=7)"), "{py}");
}

#[test]
fn user_errors_are_one_line_exit_2_and_nothing_on_stdout() {
    let cases: &[(&[&str], &str)] = &[
        (
            &["run", "nope"],
            "valid scenarios: frozen-ui, race-condition, producer-consumer",
        ),
        (
            &["run", "race-condition", "--set", "colour=red"],
            "valid knobs: threads, updates, pause, lock",
        ),
        (
            &["run", "race-condition", "--set", "threads=1000"],
            "valid range: 1 to 64",
        ),
        (
            &["run", "race-condition", "--set", "pause=-1"],
            "valid range: 0.001 to 2",
        ),
        (&["run", "race-condition", "--set", "threads"], "KNOB=VALUE"),
        (&["run", "race-condition", "--speed", "0"], "--speed"),
        (&["run", "race-condition", "--seconds", "-3"], "--seconds"),
    ];
    for (args, expected) in cases {
        let (code, stdout, stderr) = hilos(args);
        assert_eq!(code, 2, "{args:?}: {stderr}");
        assert!(stdout.is_empty(), "{args:?} printed on stdout: {stdout}");
        assert_eq!(stderr.trim_end().lines().count(), 1, "{args:?}: {stderr}");
        assert!(stderr.contains(expected), "{args:?}: {stderr}");
    }
}

#[test]
fn list_shows_ids_knobs_ranges_and_defaults() {
    let (code, text, _) = hilos(&["list"]);
    assert_eq!(code, 0);
    for id in ["producer-consumer", "race-condition", "frozen-ui"] {
        assert!(text.contains(id), "{text}");
    }
    assert!(
        text.contains("--set producers=…  1 to 64 threads, default 1"),
        "{text}"
    );
    let (code, json, _) = hilos(&["list", "--json"]);
    assert_eq!(code, 0);
    let v: Value = serde_json::from_str(&json).unwrap();
    let pc = v
        .as_array()
        .unwrap()
        .iter()
        .find(|s| s["id"] == "producer-consumer")
        .unwrap();
    let cap = pc["knobs"]
        .as_array()
        .unwrap()
        .iter()
        .find(|k| k["name"] == "capacity")
        .unwrap();
    assert_eq!(cap["min"], 1.0);
    assert_eq!(cap["max"], 100.0);
    assert_eq!(cap["default"], 10.0);
    assert_eq!(cap["live"], true);
    let (_, es, _) = hilos(&["list", "--lang", "es"]);
    assert!(es.contains("Condición de carrera"), "{es}");
}

#[test]
fn readable_summary_reports_the_lesson() {
    let (code, text, _) = hilos(&["run", "race-condition"]);
    assert_eq!(code, 0);
    assert!(text.contains("lost_updates"), "{text}");
    assert!(
        text.contains("Testing update. Ending value is 1."),
        "{text}"
    );
    assert!(text.contains("ended by itself"), "{text}");
}

#[test]
fn scenario_threads_all_end_in_a_final_state_when_stopped_early() {
    let scenario = scenarios::find("producer-consumer").unwrap();
    let knobs = scenario.knobs();
    knobs.set("producers", 8.0).unwrap();
    knobs.set("consumers", 8.0).unwrap();
    let lab = Lab::new(LabOptions::default(), knobs);
    lab.start_main(scenario.body).unwrap();
    std::thread::sleep(Duration::from_millis(300));
    let report = lab.stop();
    assert!(report.stop_seconds < 0.25, "{report:?}");
    assert_eq!(report.threads_left, 0);
    assert_eq!(lab.handle().active_count(), 0);
    let rec = lab.record().lock();
    assert!(rec.threads().len() > 16, "{} threads", rec.threads().len());
    for t in rec.threads() {
        assert!(t.state.is_final(), "{} is {:?}", t.name, t.state);
        assert_ne!(t.state, State::Failed);
    }
}
