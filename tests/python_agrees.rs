//! Every scenario's Python program runs under CPython and agrees with the
//! lab: `hilos run ID --python --check` through the real binary, with each
//! scenario's quick knobs (and the variants that change the lesson). A new
//! scenario is held to it as soon as it is in `scenarios::all()`.
//!
//! Without a Python 3 interpreter the checks are skipped, and the test says so
//! on stderr even when cargo captures the output (set HILOS_PYTHON to point
//! at one; CI installs python3).

use std::io::Write as _;
use std::process::Command;

use hilos::scenarios;
use serde_json::Value;

fn python_available() -> bool {
    match hilos::python::find_interpreter(None) {
        Ok(_) => true,
        Err(e) => {
            // Straight to the stream, past the test harness's capture.
            let _ = writeln!(
                std::io::stderr(),
                "\n*** SKIPPED: the lab is not checked against CPython: {e} ***\n"
            );
            false
        }
    }
}

/// The tests of this file run at once, but a Parallelism lesson measures
/// speed-ups on the machine's cores, on both sides: it gets the machine to
/// itself (a write lock), everything else shares it (read locks). Without
/// this, CPython's side of `gil` once measured a 2.57x speed-up on 2 cores,
/// its sequential run slowed by the other tests.
static MACHINE: std::sync::RwLock<()> = std::sync::RwLock::new(());

enum MachineGuard {
    Alone(#[allow(dead_code)] std::sync::RwLockWriteGuard<'static, ()>),
    Shared(#[allow(dead_code)] std::sync::RwLockReadGuard<'static, ()>),
}

fn machine(id: &str) -> MachineGuard {
    let parallel = scenarios::find(id).is_some_and(|s| s.group == scenarios::Group::Parallelism);
    if parallel {
        MachineGuard::Alone(MACHINE.write().unwrap_or_else(|e| e.into_inner()))
    } else {
        MachineGuard::Shared(MACHINE.read().unwrap_or_else(|e| e.into_inner()))
    }
}

/// `hilos run ID --python --check --json` with these knobs: the report,
/// once the lab and CPython agree. An outcome that is a measurement (a time,
/// a speed-up: it has a tolerance) may differ because the machine was busy
/// for a moment, so a disagreement on measurements alone is measured again,
/// up to three times in all; a count or an order that differs fails at once.
fn check(id: &str, sets: &[String]) -> Value {
    let _machine = machine(id);
    const TRIES: usize = 3;
    for attempt in 1..=TRIES {
        let (report, code) = check_once(id, sets);
        let exit = &report["python"]["exit"];
        assert_eq!(
            exit["code"], 0,
            "{id} {sets:?}: the Python program failed: {:#}",
            report["python"]["output"]
        );
        if report["agree"] == true && code == Some(0) {
            return report;
        }
        let outcomes = report["outcomes"].as_array().cloned().unwrap_or_default();
        let measured_only = !outcomes.is_empty()
            && outcomes
                .iter()
                .filter(|o| o["verdict"] != "agree")
                .all(|o| o["verdict"] == "differ" && o["tolerance"].is_string());
        assert!(
            measured_only && attempt < TRIES,
            "{id} {sets:?}: the lab and CPython differ (exit {code:?}, try {attempt} of {TRIES}): {:#}",
            report["outcomes"]
        );
        let _ = writeln!(
            std::io::stderr(),
            "{id} {sets:?}: a measurement differed on try {attempt}, measuring again: {:#}",
            report["outcomes"]
        );
    }
    unreachable!("the last try returns or fails")
}

fn check_once(id: &str, sets: &[String]) -> (Value, Option<i32>) {
    let mut args = vec![
        "run".to_string(),
        id.to_string(),
        "--python".into(),
        "--check".into(),
        "--json".into(),
        "--seconds".into(),
        "60".into(),
    ];
    for s in sets {
        args.push("--set".into());
        args.push(s.clone());
    }
    let out = Command::new(env!("CARGO_BIN_EXE_hilos"))
        .args(&args)
        .output()
        .expect("run hilos");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let report: Value = serde_json::from_str(&stdout).unwrap_or_else(|e| {
        panic!(
            "{args:?}: not JSON ({e}); stderr: {}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    (report, out.status.code())
}

fn quick_knobs(id: &str) -> Vec<String> {
    let scenario = scenarios::find(id).expect("scenario");
    scenario
        .check_knobs
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect()
}

#[test]
fn every_scenario_s_program_runs_under_cpython_and_agrees_with_the_lab() {
    if !python_available() {
        return;
    }
    for scenario in scenarios::all() {
        assert!(
            !scenario.outcomes.is_empty(),
            "{} states no outcome to hold against CPython",
            scenario.id
        );
        let report = check(scenario.id, &quick_knobs(scenario.id));
        let compared = report["outcomes"].as_array().map_or(0, Vec::len);
        assert_eq!(compared, scenario.outcomes.len(), "{}", scenario.id);
    }
}

#[test]
fn the_variants_that_change_the_lesson_agree_too() {
    if !python_available() {
        return;
    }
    let with = |id: &str, extra: &[&str]| {
        let mut sets = quick_knobs(id);
        sets.extend(extra.iter().map(|s| s.to_string()));
        check(id, &sets)
    };
    // Many threads, several updates: one survivor per round, as in CPython.
    let r = with("race-condition", &["threads=8", "updates=3", "pause=0.05"]);
    assert_eq!(r["outcomes"][0]["lab"], 3.0);
    // With the Lock: correct, and serialised.
    let r = with(
        "race-condition",
        &["threads=4", "updates=2", "pause=0.05", "lock=on"],
    );
    assert_eq!(r["outcomes"][0]["python"], 8.0);
    // The loop on the UI thread: one long frame on both sides.
    let r = with("frozen-ui", &["ui_thread=on"]);
    assert!(r["outcomes"][1]["python"].as_f64().unwrap_or(0.0) >= 450.0);
    // More producers than the consumer can keep up with.
    with("producer-consumer", &["producers=3", "capacity=5"]);

    // A release one too many: a plain Semaphore grows, one download too
    // many runs at once; a BoundedSemaphore raises ValueError.
    let r = with("semaphore", &["buggy=on"]);
    assert_eq!(r["outcomes"][0]["python"], 3.0, "peak above 2 permits");
    assert_eq!(r["outcomes"][2]["python"], 3.0, "free permits grew");
    let r = with("semaphore", &["buggy=on", "bounded=on"]);
    assert_eq!(r["outcomes"][3]["python"], 1.0, "one ValueError");
    // The warning's cancel comes after it fired: it did fire.
    let r = with("timer", &["cancel_at=1.2"]);
    assert_eq!(r["outcomes"][1]["python"], 1.0);
    // Party-1 aborts; a timeout shorter than the spread breaks it too.
    let r = with("barrier", &["abort=on"]);
    assert_eq!(r["outcomes"][2]["python"], 2.0);
    let r = with("barrier", &["timeout=0.1", "spread=0.6"]);
    assert_eq!(r["outcomes"][2]["python"], 3.0);
    // Without clear() the latecomers never wait.
    let r = with("event", &["clear=off"]);
    assert_eq!(r["outcomes"][2]["python"], 0.0);
    // notify_all() wakes all three consumers for every item.
    let r = with("condition", &["notify_all=on"]);
    assert_eq!(r["outcomes"][1]["python"], 12.0);
    // A daemon writer cut off at exit: the same lines written on both sides.
    let r = with("daemon-threads", &["daemon=on"]);
    assert!(r["outcomes"][0]["python"].as_f64().unwrap_or(10.0) < 10.0);
    // A plain shared object: the same values mixed up on both sides.
    let r = with("thread-local", &["shared=on", "threads=5"]);
    assert_eq!(r["outcomes"][1]["python"], 4.0);
    // The pool: results read as they complete, or through map; a cancel.
    let r = with("thread-pool", &["read_results=on", "cancel_last=on"]);
    assert_eq!(r["outcomes"][1]["python"], 1.0, "result() raised it");
    let r = with("thread-pool", &["use_map=on"]);
    assert_eq!(r["outcomes"][0]["python"], 3.0, "map stopped at task 3");
    // One student after another left out; a pool of 3 for 7 students.
    with(
        "payment-pipeline",
        &["sequential=off", "students=7", "workers=3"],
    );
    // The RLock goes all the way down; the intruder's release raises.
    let r = with("lock-rlock", &["rlock=on"]);
    assert_eq!(r["outcomes"][0]["python"], 3.0, "deepest level");
    assert_eq!(r["outcomes"][2]["python"], 1.0, "RuntimeError");
    // Both fixes of the deadlock finish every round. A hold of 0.1 s: with
    // the quick knobs' 0.2 s, CPython's random back-off took 1.3-1.9 s of
    // the 2 s Main waits (and more than 2 s in 1 run of 10); at 0.1 s,
    // 0.8-0.9 s.
    for fix in ["strategy=ordered", "strategy=timeout"] {
        let r = with("deadlock", &[fix, "hold=0.1"]);
        assert_eq!(r["outcomes"][0]["python"], 4.0, "{fix}: rounds");
        assert_eq!(r["outcomes"][1]["python"], 0.0, "{fix}: stuck");
    }
    // Both fixes of the philosophers feed everyone.
    for fix in ["strategy=ordered", "strategy=waiter"] {
        let r = with("dining-philosophers", &[fix]);
        assert_eq!(r["outcomes"][0]["python"], 10.0, "{fix}: meals");
        assert_eq!(r["outcomes"][2]["python"], 0.0, "{fix}: stuck");
    }
}

#[test]
fn check_without_an_interpreter_says_how_to_get_one() {
    let out = Command::new(env!("CARGO_BIN_EXE_hilos"))
        .args(["run", "race-condition", "--python", "--check"])
        .env("HILOS_PYTHON", "/nonexistent/python3")
        .output()
        .expect("run hilos");
    assert_eq!(out.status.code(), Some(2));
    assert!(out.stdout.is_empty());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.lines().count(), 1, "{stderr}");
    assert!(
        stderr.contains("no Python 3 interpreter found") && stderr.contains("HILOS_PYTHON"),
        "{stderr}"
    );
}

mod window {
    use std::time::{Duration, Instant};

    use eframe::egui;
    use egui::Role;
    use egui_kittest::Harness;
    use egui_kittest::kittest::Queryable;
    use hilos::lab::text::Lang;
    use hilos::python::Verdict;
    use hilos::ui::HilosApp;
    use hilos::ui::python_panel::Found;

    fn harness() -> Harness<'static, HilosApp> {
        let mut harness = Harness::builder()
            .with_size(egui::vec2(1400.0, 900.0))
            .build_eframe(|cc| HilosApp::new(cc, Lang::En));
        harness.run_steps(2);
        harness
    }

    fn step_until(
        harness: &mut Harness<'static, HilosApp>,
        timeout: Duration,
        mut done: impl FnMut(&HilosApp) -> bool,
    ) -> bool {
        let deadline = Instant::now() + timeout;
        loop {
            harness.step();
            if done(harness.state()) {
                return true;
            }
            if Instant::now() >= deadline {
                return false;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    #[test]
    fn run_in_python_shows_cpython_beside_the_lab_and_marks_agreement() {
        if !super::python_available() {
            return;
        }
        let _machine = super::machine("race-condition");
        let mut harness = harness();
        let found = step_until(&mut harness, Duration::from_secs(10), |app| {
            app.python().found() != Found::Looking
        });
        assert!(found && matches!(harness.state().python().found(), Found::Found(_)));
        harness
            .get_by_role_and_label(Role::Button, "Race condition")
            .click();
        harness.run_steps(2);
        harness.state().knobs().set("threads", 3.0).unwrap();
        harness.get_by_label("Run in Python").click();
        let compared = step_until(&mut harness, Duration::from_secs(20), |app| {
            !app.python().compared().is_empty()
        });
        assert!(
            compared,
            "no comparison: {}",
            harness.state().python().output()
        );
        let app = harness.state();
        assert!(app.python().output().contains("Ending value is 1."));
        assert_eq!(app.python().exit().and_then(|e| e.code), Some(0));
        for c in app.python().compared() {
            assert_eq!(c.verdict, Verdict::Agree, "{c:?}");
        }
        harness.run_steps(2);
        // Side by side in the window: the table and CPython's output.
        assert!(harness.query_by_label("Lab vs CPython").is_some());
        assert!(harness.query_all_by_label("agree").count() >= 3);
        assert!(harness.query_by_label("CPython output").is_some());
    }

    #[test]
    fn stop_ends_the_python_program_too() {
        if !super::python_available() {
            return;
        }
        let _machine = super::machine("producer-consumer");
        let mut harness = harness();
        step_until(&mut harness, Duration::from_secs(10), |app| {
            app.python().found() != Found::Looking
        });
        harness
            .get_by_role_and_label(Role::Button, "Producer\u{2013}consumer with a Queue")
            .click();
        harness.run_steps(2);
        harness.state().knobs().set("run_for", 60.0).unwrap();
        harness.get_by_label("Run in Python").click();
        let running = step_until(&mut harness, Duration::from_secs(10), |app| {
            app.python().output().contains("got message")
        });
        assert!(running, "CPython printed nothing");
        harness.get_by_label("Stop").click();
        let ended = step_until(&mut harness, Duration::from_secs(3), |app| {
            app.python().exit().is_some()
        });
        assert!(ended, "CPython still runs after Stop");
        assert!(harness.state().python().exit().unwrap().killed);
    }
}
