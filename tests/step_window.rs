//! Step mode in the window, driven headless as a learner would
//! (egui_kittest): switch it on, step each thread and see its card change,
//! advance the clock, undo, and "Break it" — in English and in Spanish.

use std::time::{Duration, Instant};

use eframe::egui;
use egui::Role;
use egui_kittest::Harness;
use egui_kittest::kittest::{NodeT, Queryable};
use hilos::lab::gate::Status;
use hilos::lab::text::Lang;
use hilos::ui::HilosApp;

fn harness(lang: Lang) -> Harness<'static, HilosApp> {
    let mut harness = Harness::builder()
        .with_size(egui::vec2(1500.0, 1000.0))
        .build_eframe(move |cc| HilosApp::new(cc, lang));
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
        std::thread::sleep(Duration::from_millis(5));
    }
}

fn pick_scenario(harness: &mut Harness<'static, HilosApp>, title: &str) {
    harness
        .get_by_role_and_label(Role::Button, title)
        .scroll_to_me();
    harness.run_steps(30);
    harness.get_by_role_and_label(Role::Button, title).click();
    harness.run_steps(2);
}

/// The gate waits for the learner.
fn awaiting(app: &HilosApp) -> bool {
    app.controller().gate().is_some_and(|g| g.view().awaiting)
}

fn steps_taken(app: &HilosApp) -> usize {
    app.controller()
        .gate()
        .map_or(0, |g| g.view().decisions.len())
}

/// What the card of thread `name` says its next operation is.
fn next_op(app: &HilosApp, name: &str) -> Option<String> {
    let view = app.controller().gate()?.view();
    let t = view.threads.iter().find(|t| &*t.name == name)?;
    t.op.as_ref().map(|o| o.code.clone())
}

fn click_step(harness: &mut Harness<'static, HilosApp>, button: &str) {
    harness.get_by_role_and_label(Role::Button, button).click();
    assert!(
        step_until(harness, Duration::from_secs(5), awaiting),
        "the gate did not come back after {button}"
    );
    harness.run_steps(2);
}

#[test]
fn a_learner_steps_each_thread_undoes_and_breaks_the_race() {
    let mut harness = harness(Lang::En);
    pick_scenario(&mut harness, "Race condition");
    harness.state().knobs().set("threads", 2.0).expect("knob");
    harness.get_by_label("Step mode").click();
    harness.run_steps(2);
    assert!(harness.state().controller().step_mode());
    harness.get_by_label("Start").click();
    assert!(step_until(&mut harness, Duration::from_secs(5), awaiting));
    harness.run_steps(2);

    // MainThread is paused before run(); its card has a Step button.
    assert_eq!(
        next_op(harness.state(), "MainThread").as_deref(),
        Some("MainThread.run()")
    );
    harness.get_by_label_contains("paused by the scheduler");
    // Step MainThread until both workers exist and it waits to join.
    for _ in 0..40 {
        let main_waits = harness.state().controller().gate().is_some_and(|g| {
            g.view()
                .threads
                .iter()
                .any(|t| &*t.name == "MainThread" && t.status == Status::Waiting)
        });
        if main_waits {
            break;
        }
        click_step(&mut harness, "Step MainThread");
    }
    // Thread-0's card changes as it steps: run() → read → sleep.
    assert_eq!(
        next_op(harness.state(), "Thread-0").as_deref(),
        Some("Thread-0.run()")
    );
    let mut seen = Vec::new();
    for _ in 0..3 {
        click_step(&mut harness, "Step Thread-0");
        seen.push(next_op(harness.state(), "Thread-0").unwrap_or_default());
    }
    assert!(
        seen.iter().any(|op| op == "local_copy = self.value"),
        "Thread-0's card never showed the read: {seen:?}"
    );
    // The same for Thread-1: it reads the value Thread-0 has not written yet.
    let before = steps_taken(harness.state());
    click_step(&mut harness, "Step Thread-1");
    assert_eq!(steps_taken(harness.state()), before + 1);

    // Undo: one step back, the same state as before it.
    let ops_before: Vec<Option<String>> = ["MainThread", "Thread-0", "Thread-1"]
        .iter()
        .map(|n| next_op(harness.state(), n))
        .collect();
    click_step(&mut harness, "Step Thread-1");
    harness.get_by_label("Undo").click();
    assert!(step_until(&mut harness, Duration::from_secs(5), |app| {
        awaiting(app) && steps_taken(app) == before + 1
    }));
    let ops_after: Vec<Option<String>> = ["MainThread", "Thread-0", "Thread-1"]
        .iter()
        .map(|n| next_op(harness.state(), n))
        .collect();
    assert_eq!(ops_after, ops_before);

    // Break it: the search finds a lost update and opens it in step mode.
    harness.get_by_label("Break it").click();
    assert!(
        step_until(&mut harness, Duration::from_secs(60), |app| {
            app.controller()
                .gate()
                .is_some_and(|g| g.view().suggestion.is_some())
                && !app.controller().opened_schedule().is_empty()
        }),
        "Break it opened no schedule"
    );
    harness.run_steps(2);
    harness.get_by_label_contains("Broken in run");
    // Following it to the end loses the update.
    harness.get_by_label("Run 10 steps").click();
    let gate = harness.state().controller().gate().expect("gate").clone();
    gate.run_steps(10_000);
    assert!(gate.wait_settled(Duration::from_secs(10)));
    assert!(step_until(&mut harness, Duration::from_secs(10), |app| {
        app.controller()
            .mirror()
            .and_then(|r| r.counter_value("lost_updates"))
            .is_some_and(|n| n >= 1)
    }));
    harness.run_steps(2);
    harness.get_by_label_contains("Every thread has ended");
}

#[test]
fn a_blocked_thread_s_step_button_is_disabled_and_the_clock_can_be_advanced() {
    let mut harness = harness(Lang::Es);
    pick_scenario(&mut harness, "Condición de carrera");
    harness.state().knobs().set("threads", 2.0).expect("knob");
    harness.get_by_label("Paso a paso").click();
    harness.get_by_label("Iniciar").click();
    assert!(step_until(&mut harness, Duration::from_secs(5), awaiting));
    harness.run_steps(2);
    // Run until a worker sleeps: its card says so, its Step is disabled,
    // and the clock can be advanced.
    for _ in 0..60 {
        let sleeping = harness.state().controller().gate().is_some_and(|g| {
            g.view()
                .threads
                .iter()
                .any(|t| t.status == Status::Waiting && t.name.starts_with("Thread"))
        });
        if sleeping {
            break;
        }
        click_step(&mut harness, "Un paso");
    }
    harness.run_steps(2);
    let view = harness.state().controller().gate().expect("gate").view();
    let sleeper = view
        .threads
        .iter()
        .find(|t| t.status == Status::Waiting && t.name.starts_with("Thread"))
        .expect("a sleeping worker");
    assert!(!sleeper.can_run);
    let label = format!("Paso {}", sleeper.name);
    let button = harness.get_by_role_and_label(Role::Button, &label);
    assert!(
        button.accesskit_node().is_disabled(),
        "a sleeping thread's Step is enabled"
    );
    harness.get_by_label_contains("durmiendo hasta");
    let clock = view.clock;
    harness.get_by_label_contains("Adelantar reloj").click();
    assert!(step_until(&mut harness, Duration::from_secs(5), |app| {
        app.controller()
            .gate()
            .is_some_and(|g| g.view().clock > clock)
    }));
}

#[test]
fn a_bad_schedule_file_is_a_message_and_the_run_on_screen_stays() {
    let mut harness = harness(Lang::En);
    pick_scenario(&mut harness, "Race condition");
    harness.get_by_label("Step mode").click();
    harness.get_by_label("Start").click();
    assert!(step_until(&mut harness, Duration::from_secs(5), awaiting));
    harness.run_steps(2);
    harness.get_by_label("Step any").click();
    assert!(step_until(&mut harness, Duration::from_secs(5), |app| {
        awaiting(app) && steps_taken(app) == 1
    }));
    let dir = std::env::temp_dir().join(format!("hilos-stepwin-{}", std::process::id()));
    std::fs::create_dir_all(&dir).expect("dir");
    for (name, text, want) in [
        ("garbage.json", "nope", "not a Hilos schedule file"),
        (
            "other.json",
            r#"{"hilos_schedule": 1, "scenario": "gil", "steps": []}"#,
            "gil",
        ),
        (
            "setup.json",
            r#"{"hilos_setup": 1, "scenario": "race-condition"}"#,
            "no \"hilos_schedule\"",
        ),
    ] {
        let path = dir.join(name);
        std::fs::write(&path, text).expect("write");
        harness.state_mut().open_schedule(&path);
        harness.run_steps(2);
        let status = harness.state().files().status.clone();
        match status {
            Some((Err(e), _)) => assert!(e.contains(want), "{name}: {e}"),
            other => panic!("{name}: {other:?}"),
        }
        // The run on screen is the same one, one step in.
        assert_eq!(harness.state().selected(), "race-condition");
        assert_eq!(steps_taken(harness.state()), 1, "{name}");
    }
}
