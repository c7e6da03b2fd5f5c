//! The window, driven headless through its accessibility tree (egui_kittest):
//! every scenario starts, follows a live knob and stops; the language switch
//! changes every label; frozen-ui really freezes the frame loop only when asked.

use std::time::{Duration, Instant};

use eframe::egui;
use egui::Role;
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use hilos::lab::KnobKind;
use hilos::lab::controller::Phase;
use hilos::lab::text::Lang;
use hilos::scenarios;
use hilos::ui::HilosApp;

fn harness(lang: Lang) -> Harness<'static, HilosApp> {
    let mut harness = Harness::builder()
        .with_size(egui::vec2(1400.0, 900.0))
        .build_eframe(move |cc| HilosApp::new(cc, lang));
    harness.run_steps(2);
    harness
}

/// Step frames (sleeping a little between them) until `done` or the timeout.
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

fn alive_workers(app: &HilosApp, prefix: &str) -> usize {
    app.lab().map_or(0, |lab| {
        lab.handle()
            .enumerate()
            .iter()
            .filter(|t| t.name().starts_with(prefix))
            .count()
    })
}

#[test]
fn every_scenario_starts_follows_a_live_knob_and_stops() {
    let mut harness = harness(Lang::En);
    for scenario in scenarios::all() {
        let title = scenario.title.get(Lang::En);
        harness.get_by_role_and_label(Role::Button, title).click();
        harness.run_steps(2);
        assert_eq!(harness.state().selected(), scenario.id);

        // Make short scenarios last long enough to be changed while they run.
        match scenario.id {
            "race-condition" => harness.state().knobs().set("updates", 100.0).unwrap(),
            "frozen-ui" => harness.state().knobs().set("steps", 100.0).unwrap(),
            "producer-consumer" => harness.state().knobs().set("run_for", 60.0).unwrap(),
            "semaphore" => {
                harness.state().knobs().set("clients", 64.0).unwrap();
                harness.state().knobs().set("hold", 2.0).unwrap();
            }
            "timer" => harness.state().knobs().set("ticks", 50.0).unwrap(),
            "barrier" => harness.state().knobs().set("generations", 20.0).unwrap(),
            "event" => harness.state().knobs().set("set_after", 20.0).unwrap(),
            "condition" => harness.state().knobs().set("items", 100.0).unwrap(),
            "thread-lifecycle" | "thread-local" => {
                harness.state().knobs().set("work", 5.0).unwrap()
            }
            "daemon-threads" => harness.state().knobs().set("main", 30.0).unwrap(),
            "thread-pool" => harness.state().knobs().set("duration", 5.0).unwrap(),
            "single-slot-pipeline" => harness.state().knobs().set("messages", 500.0).unwrap(),
            // Child processes: long enough to move a knob while they run.
            "gil" => harness.state().knobs().set("work", 1.0).unwrap(),
            "process-pool" => {
                harness.state().knobs().set("tasks", 64.0).unwrap();
                harness.state().knobs().set("work", 0.3).unwrap();
            }
            "process-communication" => harness.state().knobs().set("messages", 200.0).unwrap(),
            _ => {}
        }

        harness.get_by_label("Start").click();
        let started = step_until(&mut harness, Duration::from_secs(5), |app| {
            app.lab().is_some_and(|lab| lab.handle().active_count() > 0)
        });
        assert!(started, "{}: no threads after Start", scenario.id);

        // The first live slider-like knob, moved with the keyboard.
        let spec = scenario
            .knobs
            .iter()
            .find(|k| k.not_live.is_none() && k.kind != KnobKind::Bool)
            .unwrap_or_else(|| panic!("{} has no live slider", scenario.id));
        let before = harness.state().lab().unwrap().knobs().get(spec.name);
        let label = spec.label.get(Lang::En);
        harness.get_by_role_and_label(Role::Slider, label).focus();
        harness.step();
        for _ in 0..3 {
            harness.key_press(egui::Key::ArrowRight);
            harness.step();
        }
        harness.run_steps(2);
        let lab = harness.state().lab().unwrap();
        assert!(
            !lab.is_stopped(),
            "{}: the lab ended too early",
            scenario.id
        );
        let after = lab.knobs().get(spec.name);
        assert!(
            after > before,
            "{}: knob {} did not follow the keyboard ({before} → {after})",
            scenario.id,
            spec.name
        );

        if scenario.id == "producer-consumer" {
            // The running scenario grows its crew to the new count.
            let want = after as usize;
            let grew = step_until(&mut harness, Duration::from_secs(5), |app| {
                alive_workers(app, "Producer") == want
            });
            assert!(
                grew,
                "producers: want {want} alive, have {}",
                alive_workers(harness.state(), "Producer")
            );
        }

        if scenario.id == "semaphore" {
            // The running semaphore takes the new number of permits.
            let want = after as i64;
            let follows = step_until(&mut harness, Duration::from_secs(5), |app| {
                app.lab().is_some_and(|lab| {
                    lab.record()
                        .lock()
                        .resource_by_name("pool")
                        .and_then(|p| p.capacity)
                        == Some(want)
                })
            });
            assert!(follows, "semaphore: the pool never got {want} permits");
        }

        harness.get_by_label("Stop").click();
        harness.run_steps(1);
        // Stop returns at once and finishes off the UI thread.
        let stopped = step_until(&mut harness, Duration::from_secs(2), |app| {
            app.phase() == Phase::Stopped
        });
        assert!(
            stopped,
            "{}: still {:?}",
            scenario.id,
            harness.state().phase()
        );
        let lab = harness.state().lab().expect("Stop keeps the lab on screen");
        assert!(lab.is_stopped(), "{}: not stopped", scenario.id);
        assert_eq!(
            lab.handle().active_count(),
            0,
            "{}: threads alive after Stop",
            scenario.id
        );
        #[cfg(target_os = "linux")]
        assert!(
            lab.handle().active_children().is_empty(),
            "{}: child processes alive after Stop",
            scenario.id
        );
    }
}

#[test]
fn the_language_switch_changes_every_label_at_once() {
    let mut harness = harness(Lang::En);
    assert!(harness.query_by_label("Start").is_some());
    harness.get_by_label("Español").click();
    harness.run_steps(2);
    assert!(harness.query_by_label("Iniciar").is_some());
    assert!(harness.query_by_label("Start").is_none());
    assert!(
        harness
            .query_all_by_label("Condición de carrera")
            .next()
            .is_some()
    );
    assert!(
        harness
            .query_all_by_label("Race condition")
            .next()
            .is_none()
    );
    // The knobs of the selected scenario speak Spanish too.
    assert!(
        harness
            .query_by_role_and_label(Role::Slider, "Pasos")
            .is_some()
    );

    harness.get_by_label("English").click();
    harness.run_steps(2);
    assert!(harness.query_by_label("Start").is_some());
}

#[test]
fn frozen_ui_on_a_worker_keeps_frames_short_and_on_the_ui_thread_blocks() {
    let mut harness = harness(Lang::En);
    harness
        .get_by_role_and_label(Role::Button, "The frozen window")
        .click();
    harness.run_steps(2);
    assert_eq!(harness.state().selected(), "frozen-ui");

    // On a worker: progress advances while every frame stays short.
    harness.get_by_label("Run on a worker").click();
    harness.run_steps(2);
    let t0 = Instant::now();
    let mut longest: f32 = 0.0;
    while t0.elapsed() < Duration::from_millis(1200) {
        harness.step();
        longest = longest.max(harness.state().last_frame_ms());
        std::thread::sleep(Duration::from_millis(5));
    }
    let (done, steps) = harness.state().frozen_progress();
    assert!(done >= 2, "progress did not advance: {done}/{steps}");
    assert!(
        longest < 200.0,
        "a frame took {longest} ms on the worker run"
    );

    // On the UI thread: the frame that runs the loop takes steps × sleep.
    harness.get_by_label("Reset").click();
    harness.run_steps(2);
    harness.state().knobs().set("steps", 5.0).unwrap();
    harness.state().knobs().set("sleep", 0.1).unwrap(); // 0.5 s in all
    harness.get_by_label("Run on the UI thread").click();
    let t0 = Instant::now();
    harness.step();
    let frame = harness.state().last_frame_ms();
    assert!(t0.elapsed() >= Duration::from_millis(450));
    assert!(frame >= 450.0, "the UI-thread run took only {frame} ms");
    assert_eq!(harness.state().frozen_progress(), (5, 5));
    assert!(harness.state().longest_frame_ms() >= 450.0);
    // The frame-time history shows the spike.
    assert!(harness.state().frame_times().iter().any(|&ms| ms >= 450.0));
}

#[test]
fn workers_and_the_recorder_keep_going_while_no_frame_is_drawn() {
    // A minimised or hidden window gets no frames; the lab must not care.
    let mut harness = harness(Lang::En);
    harness
        .get_by_role_and_label(Role::Button, "Producer–consumer with a Queue")
        .click();
    harness.run_steps(2);
    harness.state().knobs().set("produce_pause", 0.01).unwrap();
    harness.state().knobs().set("consume_pause", 0.005).unwrap();
    harness.state().knobs().set("run_for", 60.0).unwrap();
    harness.get_by_label("Start").click();
    harness.run_steps(2);
    let read = |app: &HilosApp| {
        let record = app.lab().unwrap().record().lock();
        (
            record.events_recorded,
            record.counter_value("consumed").unwrap_or(0),
        )
    };
    let (events_before, consumed_before) = read(harness.state());
    std::thread::sleep(Duration::from_millis(600)); // no frames at all
    let (events_after, consumed_after) = read(harness.state());
    assert!(
        events_after > events_before + 100,
        "the recorder stalled without frames: {events_before} → {events_after}"
    );
    assert!(
        consumed_after > consumed_before + 20,
        "the workers stalled without frames: {consumed_before} → {consumed_after}"
    );
    harness.get_by_label("Stop").click();
    let stopped = step_until(&mut harness, Duration::from_secs(2), |app| {
        app.phase() == Phase::Stopped
    });
    assert!(stopped && harness.state().lab().unwrap().is_stopped());
}
