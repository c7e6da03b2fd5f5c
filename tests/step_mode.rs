//! Step mode, replay and "Break it", headless: the learner's picks, the
//! virtual clock, schedules that replay exactly, searches that find the
//! lessons' bugs, and every way a schedule file can be wrong.

mod common;

use std::process::Command;
use std::time::{Duration, Instant};

use hilos::explore::{self, Schedule};
use hilos::lab::controller::Controller;
use hilos::lab::gate::{GateView, Status};
use hilos::lab::{GateEnd, Pick, State, Target, WorkerPriority};
use hilos::scenarios;

fn hilos(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_hilos"))
        .args(args)
        .env_remove("DISPLAY")
        .env_remove("WAYLAND_DISPLAY")
        .output()
        .expect("run hilos");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn temp(name: &str) -> std::path::PathBuf {
    let dir = std::env::temp_dir().join(format!("hilos-step-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("temp dir");
    dir.join(name)
}

/// Explore `id` with these knobs and return the first failing schedule.
fn find_failure(id: &str, set: &[(&str, f64)], runs: usize, seed: u64) -> Option<Schedule> {
    let scenario = scenarios::find(id).expect("scenario");
    let knobs = scenario.knobs();
    for (k, v) in set {
        knobs.set(k, *v).expect("knob");
    }
    let mut found = None;
    let report = explore::explore(scenario, &knobs, runs, seed, |s| found = Some(s.clone()))
        .expect("explore");
    assert_eq!(report.runs, runs);
    assert_eq!(found.is_some(), report.broken_runs > 0);
    found
}

/// A controller in step mode on `id`, started, waiting for the first pick.
fn stepping(id: &str, set: &[(&str, f64)]) -> Controller {
    let mut c = Controller::new(scenarios::all(), WorkerPriority::Normal);
    assert!(c.select_id(id));
    for (k, v) in set {
        c.knobs().set(k, *v).expect("knob");
    }
    c.set_step_mode(true);
    c.start();
    settle(&c);
    c
}

/// Wait until the gate waits for a pick or the run has ended.
fn settle(c: &Controller) -> GateView {
    let gate = c.gate().expect("a gated lab");
    assert!(
        gate.wait_settled(Duration::from_secs(10)),
        "the gate never settled"
    );
    gate.view()
}

/// Pick the thread named `name`, which must be able to run.
fn pick(c: &Controller, name: &str) -> GateView {
    let gate = c.gate().expect("a gated lab");
    let view = gate.view();
    let t = view
        .threads
        .iter()
        .find(|t| &*t.name == name)
        .unwrap_or_else(|| panic!("no thread {name} in {view:?}"));
    assert!(t.can_run, "{name} cannot run: {t:?}");
    gate.choose(Pick::Thread {
        id: t.id,
        name: name.to_string(),
    })
    .expect("pick");
    settle(c)
}

fn card<'a>(view: &'a GateView, name: &str) -> &'a hilos::lab::gate::ThreadView {
    view.threads
        .iter()
        .find(|t| &*t.name == name)
        .unwrap_or_else(|| panic!("no {name} in {view:?}"))
}

fn code(view: &GateView, name: &str) -> String {
    card(view, name)
        .op
        .as_ref()
        .map(|o| o.code.clone())
        .unwrap_or_default()
}

#[test]
fn explore_finds_the_lost_update_and_its_schedule_replays_into_it_every_time() {
    let schedule = find_failure("race-condition", &[("threads", 2.0)], 200, 1)
        .expect("200 runs of race-condition with 2 threads lose an update at least once");
    let broken = schedule.broken.clone().unwrap_or_default();
    assert!(broken.contains("lost"), "{broken}");
    // Through a file, as a learner shares it.
    let path = temp("lost-update.json");
    explore::write(&path, &schedule).expect("write");
    let schedule = explore::read(&path).expect("read back");
    let first = explore::replay(&schedule, Duration::from_secs(20)).expect("replay");
    assert_eq!(first.end, Some(GateEnd::Finished));
    assert!(first.broken.as_deref().is_some_and(|b| b.contains("lost")));
    let fingerprint = first.fingerprint();
    // The same schedule, 100 times: the same states in the same order, the
    // same log, the same outcome.
    for i in 0..100 {
        let run = explore::replay(&schedule, Duration::from_secs(20)).expect("replay");
        assert_eq!(run.end, Some(GateEnd::Finished), "replay {i}");
        assert_eq!(run.broken, first.broken, "replay {i}");
        assert_eq!(run.fingerprint(), fingerprint, "replay {i}");
        assert_eq!(run.stop.threads_left, 0);
    }
}

#[test]
fn with_the_lock_no_schedule_loses_an_update() {
    assert!(
        find_failure("race-condition", &[("threads", 2.0), ("lock", 1.0)], 200, 1).is_none(),
        "the lock makes every schedule correct"
    );
}

#[test]
fn explore_reaches_the_deadlock_and_its_schedule_replays_into_it() {
    let schedule = find_failure("deadlock", &[("rounds", 2.0)], 100, 7)
        .expect("the naive order deadlocks under some schedule");
    assert!(
        schedule
            .broken
            .as_deref()
            .is_some_and(|b| b.contains("deadlock")),
        "{:?}",
        schedule.broken
    );
    for _ in 0..5 {
        let run = explore::replay(&schedule, Duration::from_secs(20)).expect("replay");
        assert_eq!(run.broken, schedule.broken);
        assert!(!run.record.deadlocks_seen().is_empty());
        assert_eq!(run.stop.threads_left, 0, "Stop leaves no thread behind");
    }
    // The fix: one global order never deadlocks.
    assert!(
        find_failure("deadlock", &[("rounds", 2.0), ("strategy", 1.0)], 100, 7).is_none(),
        "ordered locks never deadlock"
    );
}

#[test]
fn the_philosophers_deadlock_is_found_and_the_gate_sees_nobody_can_run() {
    let schedule = find_failure(
        "dining-philosophers",
        &[("philosophers", 3.0), ("meals", 1.0)],
        200,
        3,
    )
    .expect("three naive philosophers deadlock under some schedule");
    let run = explore::replay(&schedule, Duration::from_secs(20)).expect("replay");
    assert!(run.broken.is_some());
    assert_eq!(run.stop.threads_left, 0);
}

#[test]
fn a_blocked_thread_cannot_be_picked_and_says_why() {
    // lock-rlock with a plain Lock: the worker's second acquire blocks on
    // the lock it holds itself.
    let c = stepping("lock-rlock", &[]);
    let gate = c.gate().expect("gate");
    let mut view = settle(&c);
    let mut blocked = None;
    for _ in 0..200 {
        if let Some(t) = view
            .threads
            .iter()
            .find(|t| t.status == Status::Waiting && matches!(t.waits, Some((State::Blocked, _))))
        {
            blocked = Some(t.clone());
            break;
        }
        if view.end.is_some() {
            break;
        }
        gate.step_any();
        view = settle(&c);
    }
    let blocked = blocked.expect("a thread blocks on the Lock it holds");
    assert!(!blocked.can_run);
    assert!(matches!(
        blocked.waits,
        Some((State::Blocked, Some(Target::Resource(_))))
    ));
    assert!(
        blocked
            .op
            .as_ref()
            .is_some_and(|o| o.code.contains("acquire"))
    );
    let refused = gate.choose(Pick::Thread {
        id: blocked.id,
        name: blocked.name.to_string(),
    });
    assert!(refused.is_err(), "a blocked thread was picked");
}

#[test]
fn the_clock_moves_only_when_chosen_or_when_nothing_else_can_run() {
    let c = stepping("race-condition", &[("threads", 2.0), ("pause", 0.1)]);
    let gate = c.gate().expect("gate");
    // MainThread makes and starts both threads, then joins Thread-0.
    let mut view = settle(&c);
    while !view.threads.iter().any(|t| &*t.name == "Thread-1")
        || card(&view, "MainThread").status != Status::Waiting
    {
        view = pick(&c, "MainThread");
    }
    // Thread-0 reads, then sleeps: Thread-1 can still run, so the clock stays.
    while !code(&view, "Thread-0").starts_with("time.sleep") {
        view = pick(&c, "Thread-0");
    }
    view = pick(&c, "Thread-0");
    assert_eq!(card(&view, "Thread-0").status, Status::Waiting);
    assert!(!card(&view, "Thread-0").can_run);
    assert_eq!(view.clock, 0.0, "no one asked for time to pass");
    assert!(view.next_deadline.is_some_and(|d| (d - 0.1).abs() < 1e-9));
    // Advancing it is a choice of its own: Thread-0's sleep ends.
    gate.choose(Pick::AdvanceClock).expect("advance");
    view = settle(&c);
    assert!((view.clock - 0.1).abs() < 1e-9, "{}", view.clock);
    assert!(card(&view, "Thread-0").can_run);
    // Thread-1 reads and sleeps; Thread-0 writes and ends; then nobody can
    // run but the sleeper: the clock moves by itself.
    while !code(&view, "Thread-1").starts_with("time.sleep") {
        view = pick(&c, "Thread-1");
    }
    view = pick(&c, "Thread-1");
    while view.threads.iter().any(|t| &*t.name == "Thread-0") {
        view = pick(&c, "Thread-0");
    }
    // MainThread joins Thread-0, then Thread-1, which sleeps till 0.2:
    // nobody can run but the sleeper, so the clock moves by itself.
    while card(&view, "MainThread").status != Status::Waiting
        || !code(&view, "MainThread").contains("Thread-1.join")
    {
        view = pick(&c, "MainThread");
    }
    assert!((view.clock - 0.2).abs() < 1e-9, "clock {}", view.clock);
    let last = view.decisions.last().expect("decisions");
    assert_eq!(last.pick, Pick::AdvanceClock);
    assert!(last.could_run.is_empty(), "{last:?}");
    assert!(card(&view, "Thread-1").can_run);
}

#[test]
fn undo_returns_to_the_previous_step_with_identical_state() {
    let mut c = stepping("race-condition", &[("threads", 2.0)]);
    let gate = c.gate().expect("gate").clone();
    for _ in 0..6 {
        gate.step_any();
        settle(&c);
    }
    let before = settle(&c);
    gate.step_any();
    let after = settle(&c);
    assert_ne!(after.decisions.len(), before.decisions.len());
    c.undo();
    let undone = settle(&c);
    let shape = |v: &GateView| {
        v.threads
            .iter()
            .map(|t| {
                (
                    t.id,
                    t.name.to_string(),
                    t.status,
                    t.op.clone(),
                    t.can_run,
                    t.waits,
                )
            })
            .collect::<Vec<_>>()
    };
    assert_eq!(undone.decisions, before.decisions);
    assert_eq!(shape(&undone), shape(&before));
    assert_eq!(undone.clock, before.clock);
}

/// Stop with every thread parked must take at most 50 ms of wall time, which
/// a loaded machine can stretch: a slow stop is tried again from the start,
/// up to 3 times, and fails only if every try was slow (see tests/cycles.rs).
/// Threads left fail at once.
#[test]
fn stop_while_every_thread_is_parked_at_the_gate_is_quick_and_complete() {
    for id in [
        "race-condition",
        "producer-consumer",
        "dining-philosophers",
        "barrier",
    ] {
        let mut tries = Vec::new();
        for _try in 0..3 {
            let mut c = stepping(id, &[]);
            let gate = c.gate().expect("gate").clone();
            gate.run_steps(25);
            settle(&c);
            let lab = c.lab().expect("lab");
            let prefix = lab.handle().shared().os_thread_prefix();
            let t0 = Instant::now();
            let report = lab.stop();
            let took = t0.elapsed();
            assert_eq!(report.threads_left, 0, "{id}");
            assert_eq!(common::os_threads_left(&prefix).unwrap_or(0), 0, "{id}");
            c.reset();
            tries.push(took);
            if took <= Duration::from_millis(50) {
                break;
            }
        }
        assert!(
            tries.iter().any(|t| *t <= Duration::from_millis(50)),
            "{id}: stop took {tries:?}"
        );
    }
}

#[test]
fn a_step_opened_from_a_schedule_is_offered_and_a_fix_leaves_it() {
    let schedule = find_failure("race-condition", &[("threads", 2.0)], 50, 1).expect("failure");
    let mut c = Controller::new(scenarios::all(), WorkerPriority::Normal);
    assert!(c.select_id("race-condition"));
    c.knobs().set("threads", 2.0).expect("knob");
    c.open_schedule(schedule.steps.clone());
    let view = settle(&c);
    assert_eq!(view.suggestion.as_ref(), Some(&schedule.steps[0].pick));
    // Following it to the end loses the update again.
    c.gate().expect("gate").run_steps(schedule.steps.len());
    let gate = c.gate().expect("gate").clone();
    assert!(gate.wait_settled(Duration::from_secs(10)));
    assert_eq!(gate.end(), Some(GateEnd::Finished));
    assert!(c.lab().expect("lab").wait(Duration::from_secs(5)));
    c.lab().expect("lab").stop();
    let lost = c
        .lab()
        .expect("lab")
        .record()
        .lock()
        .counter_value("lost_updates");
    assert_eq!(lost, Some(1));
    // The fix: the same schedule with the lock; where the program changes,
    // the gate says so and the learner goes on.
    c.knobs().set("lock", 1.0).expect("knob");
    c.start();
    let gate = c.gate().expect("gate").clone();
    gate.run_steps(10_000);
    assert!(gate.wait_settled(Duration::from_secs(10)));
    let view = gate.view();
    assert!(
        matches!(view.left_schedule, Some(GateEnd::Diverged { .. })),
        "{view:?}"
    );
    assert_eq!(view.end, Some(GateEnd::Finished));
    assert!(c.lab().expect("lab").wait(Duration::from_secs(5)));
    c.lab().expect("lab").stop();
    let lost = c
        .lab()
        .expect("lab")
        .record()
        .lock()
        .counter_value("lost_updates");
    assert_eq!(lost, Some(0), "the lock holds under the same choices");
}

#[test]
fn every_scenario_either_steps_or_says_why_not() {
    for s in scenarios::all() {
        match s.stepping {
            scenarios::Stepping::Yes(_) => {
                // A short search runs to its end on every supported scenario.
                let knobs = s.knobs();
                let report = explore::explore(s, &knobs, 2, 1, |_| {}).expect(s.id);
                assert_eq!(report.step_limit_runs, 0, "{}", s.id);
            }
            scenarios::Stepping::No(why) => {
                assert!(!why.en.is_empty() && !why.es.is_empty());
                let (code, out, err) = hilos(&["explore", s.id]);
                assert_eq!(code, 2, "{}: {out}", s.id);
                assert!(err.contains("does not run step by step"), "{err}");
            }
        }
    }
}

#[test]
fn the_cli_explores_saves_and_replays() {
    let path = temp("cli-lost.json");
    let (code, out, err) = hilos(&[
        "explore",
        "race-condition",
        "--set",
        "threads=2",
        "--runs",
        "200",
        "--seed",
        "1",
        "--save",
        path.to_str().expect("path"),
        "--json",
    ]);
    assert_eq!(code, 0, "{err}");
    let report: serde_json::Value = serde_json::from_str(&out).expect("json");
    assert!(
        report["broken_runs"].as_u64().is_some_and(|n| n >= 1),
        "{report}"
    );
    assert_eq!(report["runs"], 200);
    assert!(path.exists());
    for _ in 0..3 {
        let (code, out, err) = hilos(&[
            "run",
            "race-condition",
            "--replay",
            path.to_str().expect("path"),
            "--json",
        ]);
        assert_eq!(code, 0, "{err}");
        let run: serde_json::Value = serde_json::from_str(&out).expect("json");
        assert!(
            run["metrics"]["lost_updates"]
                .as_f64()
                .is_some_and(|n| n >= 1.0),
            "{run}"
        );
        assert_eq!(run["replay"]["end"], "finished");
        assert_eq!(run["stop"]["threads_left"], 0);
    }
    // Readable, in a word.
    let (code, out, _) = hilos(&["run", "--replay", path.to_str().expect("path")]);
    assert_eq!(code, 0);
    assert!(out.contains("broken: "), "{out}");
}

#[test]
fn a_bad_schedule_file_is_a_clear_error_and_exit_2() {
    let good = find_failure("race-condition", &[("threads", 2.0)], 50, 1).expect("failure");
    let bad = |name: &str, text: &str, args: &[&str], want: &str| {
        let path = temp(name);
        std::fs::write(&path, text).expect("write");
        let mut all: Vec<&str> = args.to_vec();
        all.push("--replay");
        all.push(path.to_str().expect("path"));
        let (code, out, err) = hilos(&all);
        assert_eq!(code, 2, "{name}: {out}");
        assert!(out.is_empty(), "{name}: {out}");
        assert_eq!(err.lines().count(), 1, "{name}: {err}");
        assert!(err.contains(want), "{name}: {err}");
        // Nothing lost: the file is as it was.
        assert_eq!(std::fs::read_to_string(&path).expect("read"), text);
    };
    bad(
        "not-json.json",
        "{ steps: nope",
        &["run"],
        "not a Hilos schedule file",
    );
    bad(
        "no-version.json",
        r#"{"scenario": "race-condition", "steps": []}"#,
        &["run"],
        "no \"hilos_schedule\"",
    );
    bad(
        "v9.json",
        r#"{"hilos_schedule": 9, "scenario": "race-condition", "steps": []}"#,
        &["run"],
        "version 9",
    );
    let text = good.to_json();
    bad(
        "other.json",
        &text,
        &["run", "deadlock"],
        "is a schedule of 'race-condition', not 'deadlock'",
    );
    // Diverges: the same choices with the lock on do not fit the program.
    let mut locked = good.clone();
    locked.knobs = locked
        .knobs
        .iter()
        .map(|(k, v)| (*k, if *k == "lock" { 1.0 } else { *v }))
        .collect();
    bad(
        "diverges.json",
        &locked.to_json(),
        &["run"],
        "diverged at step",
    );
    // Cut short: the program goes on past its end.
    let mut short = good.clone();
    short.steps.truncate(short.steps.len() / 2);
    bad("short.json", &short.to_json(), &["run"], "diverged at step");
    // A replay takes the schedule's knobs, not --set.
    let path = temp("good.json");
    std::fs::write(&path, &text).expect("write");
    let (code, _, err) = hilos(&[
        "run",
        "--replay",
        path.to_str().expect("path"),
        "--set",
        "threads=3",
    ]);
    assert_eq!(code, 2);
    assert!(err.contains("the schedule's own knobs"), "{err}");
}

#[test]
fn explore_arguments_are_checked() {
    for (args, want) in [
        (vec!["explore", "race-condition", "--runs", "0"], "--runs"),
        (vec!["explore", "race-condition", "--runs", "abc"], "--runs"),
        (vec!["explore", "race-condition", "--seed", "-1"], "--seed"),
        (vec!["explore", "nope"], "nope"),
        (
            vec!["explore", "race-condition", "--set", "threads=999"],
            "threads",
        ),
        (vec!["explore", "gil"], "does not run step by step"),
        (vec!["gui", "--steps", "3"], "--schedule"),
        (
            vec!["gui", "--schedule", "/nonexistent/lost.json"],
            "cannot read",
        ),
    ] {
        let (code, out, err) = hilos(&args);
        assert_eq!(code, 2, "{args:?}: {out}");
        assert!(err.contains(want), "{args:?}: {err}");
    }
}
