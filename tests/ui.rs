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

/// Click a scenario in the list, scrolled into view first as a user would:
/// the list is taller than the window, and a click outside its visible part
/// reaches nothing.
fn pick(harness: &mut Harness<'static, HilosApp>, title: &str) {
    harness
        .get_by_role_and_label(Role::Button, title)
        .scroll_to_me();
    // Past the scroll's animation: a click mid-way lands on another row.
    harness.run_steps(30);
    harness.get_by_role_and_label(Role::Button, title).click();
    harness.run_steps(2);
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
        pick(&mut harness, title);
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
            "asyncio-basics" => harness.state().knobs().set("rounds", 50.0).unwrap(),
            "asyncio-blocking" => harness.state().knobs().set("run_for", 60.0).unwrap(),
            "asyncio-vs-threads" => {
                harness.state().knobs().set("tasks", 1000.0).unwrap();
                harness.state().knobs().set("threads", 50.0).unwrap();
                harness.state().knobs().set("wait", 30.0).unwrap();
            }
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
            .find(|k| k.not_live.is_none() && matches!(k.kind, KnobKind::Int | KnobKind::Float))
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

/// Where a node's bounds are, from the accessibility tree.
fn bounds(node: &egui_kittest::Node<'_>) -> Option<egui::Rect> {
    use egui_kittest::kittest::NodeT;
    let b = node.accesskit_node().bounding_box()?;
    Some(egui::Rect::from_min_max(
        egui::pos2(b.x0 as f32, b.y0 as f32),
        egui::pos2(b.x1 as f32, b.y1 as f32),
    ))
}

#[test]
fn no_scenario_s_view_runs_under_the_right_panel_in_either_language() {
    // The centre scrolls vertically only, and egui widens such an area to
    // its widest row: one row too wide (a long strip of metrics, a header in
    // Spanish) pushes the whole centre under the knobs, where it is cut off.
    for lang in Lang::ALL {
        let mut harness = harness(lang);
        for scenario in scenarios::all() {
            pick(&mut harness, scenario.title.get(lang));
            assert_eq!(harness.state().selected(), scenario.id);
            let start = if lang == Lang::En { "Start" } else { "Iniciar" };
            harness.get_by_label(start).click();
            let deadline = Instant::now() + Duration::from_millis(700);
            while Instant::now() < deadline {
                harness.step();
                std::thread::sleep(Duration::from_millis(10));
            }
            let knobs = if lang == Lang::En {
                "Knobs"
            } else {
                "Controles"
            };
            let panel = bounds(&harness.get_by_label(knobs)).unwrap().left();
            // Only the band the side panels share with the centre: the top
            // bar and the event log span the whole window.
            let top = bounds(&harness.get_by_label(start)).unwrap().bottom();
            let log = if lang == Lang::En {
                "Event log"
            } else {
                "Registro de eventos"
            };
            let bottom = bounds(&harness.get_by_label(log)).unwrap().top();
            let too_wide: Vec<String> = harness
                .query_all_by(|_| true)
                .filter_map(|node| {
                    let r = bounds(&node)?;
                    let in_band = r.top() > top && r.bottom() < bottom;
                    // A pixel or two is the scroll bar coming and going.
                    (in_band && r.left() < panel && r.right() > panel + 2.0)
                        .then(|| format!("{node:?} {r:?}"))
                })
                .filter(|n| !n.contains("Splitter") && !n.contains("ScrollBar"))
                .collect();
            assert!(
                too_wide.is_empty(),
                "{} ({lang:?}): under the right panel at {panel}: {too_wide:#?}",
                scenario.id
            );
            harness.state_mut().stop();
            harness.run_steps(2);
        }
    }
}

/// Select a scenario by its English title and set knobs before Start.
fn select(harness: &mut Harness<'static, HilosApp>, title: &str, sets: &[&str]) {
    pick(harness, title);
    for s in sets {
        harness.state().knobs().set_from_arg(s).unwrap();
    }
}

/// Hover each widget labelled `label` in turn until a tooltip line `line`
/// shows (egui waits for the pointer to rest first). Returns whether it did.
fn tooltip_of(harness: &mut Harness<'static, HilosApp>, label: &str, line: &str) -> bool {
    let candidates = harness.query_all_by_label(label).count();
    for k in 0..candidates {
        harness.query_all_by_label(label).nth(k).unwrap().hover();
        for _ in 0..8 {
            harness.step();
            if harness.query_by_label(line).is_some() {
                return true;
            }
        }
    }
    false
}

/// Stop, then wait for the window to show it stopped with no thread alive.
fn stop_leaves_nothing(harness: &mut Harness<'static, HilosApp>, what: &str) {
    harness.get_by_label("Stop").click();
    let stopped = step_until(harness, Duration::from_secs(2), |app| {
        app.phase() == Phase::Stopped
    });
    assert!(stopped, "{what}: still {:?}", harness.state().phase());
    let lab = harness.state().lab().unwrap();
    assert!(lab.stop_report().unwrap().stop_seconds < 0.25, "{what}");
    assert_eq!(lab.handle().active_count(), 0, "{what}");
}

#[test]
fn the_wait_for_graph_draws_the_deadlock_as_it_forms() {
    let mut harness = harness(Lang::En);
    select(&mut harness, "Deadlock", &["hold=0.2", "give_up=3600"]);
    // Before Start the view says what will appear.
    assert!(harness.query_by_label("Wait-for graph").is_some());
    assert!(harness.query_by_label("lock_a").is_none());
    harness.get_by_label("Start").click();
    let formed = step_until(&mut harness, Duration::from_secs(5), |app| {
        !app.view().deadlocks.is_empty()
    });
    assert!(formed, "no deadlock in the view");
    harness.run_steps(2);
    for node in ["Thread-1", "Thread-2", "lock_a", "lock_b"] {
        assert!(
            harness.query_all_by_label(node).next().is_some(),
            "no node {node}"
        );
    }
    // The loop, through both locks, in words under the graph.
    assert!(
        harness
            .query_by_label(
                "Deadlock: Thread-1 \u{2192} lock_b \u{2192} Thread-2 \u{2192} lock_a \u{2192} Thread-1"
            )
            .is_some()
    );
    // Hovering a thread says what it waits for, who holds it, since when.
    assert!(
        tooltip_of(
            &mut harness,
            "Thread-1",
            "waits for lock_b, held by Thread-2"
        ),
        "no tooltip on Thread-1"
    );
    assert!(tooltip_of(&mut harness, "lock_a", "held by Thread-1"));
    assert!(harness.query_by_label("waiting for it: Thread-2").is_some());
    stop_leaves_nothing(&mut harness, "deadlock");
    // The view stays, showing the threads as Stop left them, still holding
    // their locks, and says which deadlock the run went through.
    harness.run_steps(2);
    assert!(harness.query_by_label("Wait-for graph").is_some());
    assert!(harness.query_by_label("lock_b").is_some());
    assert!(
        harness
            .query_by_label(
                "A deadlock formed in this run: Thread-1 \u{2192} Thread-2 \u{2192} Thread-1"
            )
            .is_some()
    );
}

#[test]
fn a_timed_loop_is_drawn_apart_and_not_called_a_deadlock() {
    let mut harness = harness(Lang::En);
    select(
        &mut harness,
        "Deadlock",
        &["strategy=timeout", "hold=0.2", "timeout=2", "give_up=3600"],
    );
    harness.get_by_label("Start").click();
    // Both hold their first lock after 0.2 s, then wait up to 2 s for the
    // other's: a loop, for a while.
    let found = (0..300).any(|_| {
        harness.step();
        std::thread::sleep(Duration::from_millis(10));
        harness
            .query_all_by_label_contains("Loop a timeout will break: Thread-1")
            .next()
            .is_some()
    });
    assert!(found, "the timed loop is not named");
    assert!(
        harness.state().view().deadlocks.is_empty(),
        "not a deadlock"
    );
    assert!(
        harness
            .query_all_by_label_contains("Deadlock:")
            .next()
            .is_none()
    );
    stop_leaves_nothing(&mut harness, "timed loop");
}

#[test]
fn lock_twice_shows_a_thread_waiting_for_itself() {
    let mut harness = harness(Lang::En);
    select(
        &mut harness,
        "Lock vs RLock",
        &["hold=0.05", "give_up=3600"],
    );
    harness.get_by_label("Start").click();
    let formed = step_until(&mut harness, Duration::from_secs(5), |app| {
        app.view().deadlocks.iter().any(|c| c.len() == 1)
    });
    assert!(formed);
    harness.run_steps(2);
    assert!(
        harness
            .query_by_label("Deadlock: Worker \u{2192} lock \u{2192} Worker")
            .is_some()
    );
    assert!(tooltip_of(
        &mut harness,
        "Worker",
        "waits for lock, which it holds itself"
    ));
    // Reset works from a deadlock too: the window is back to idle at once,
    // and the lab's threads are gone soon after.
    let prefix = harness
        .state()
        .lab()
        .unwrap()
        .handle()
        .shared()
        .os_thread_prefix();
    harness.get_by_label("Reset").click();
    harness.run_steps(1);
    assert_eq!(harness.state().phase(), Phase::Idle);
    assert!(harness.state().lab().is_none());
    let gone = step_until(&mut harness, Duration::from_secs(2), |_| {
        hilos::lab::count_os_threads_with_prefix(&prefix).is_none_or(|n| n == 0)
    });
    assert!(gone, "threads of the reset lab are still running");
}

#[test]
fn the_philosophers_table_shows_forks_meals_and_the_deadlock() {
    let mut harness = harness(Lang::En);
    select(
        &mut harness,
        "Dining philosophers",
        &["think=0.05", "pause=0.1", "give_up=3600"],
    );
    harness.get_by_label("Start").click();
    let formed = step_until(&mut harness, Duration::from_secs(5), |app| {
        app.view().deadlocks.iter().any(|c| c.len() == 5)
    });
    assert!(formed, "the naive table did not deadlock");
    harness.run_steps(2);
    assert!(harness.query_by_label("The table").is_some());
    for i in 1..=5 {
        assert!(
            harness
                .query_all_by_label(&format!("Philosopher {i}"))
                .next()
                .is_some()
        );
        assert!(harness.query_by_label(&format!("fork {i}")).is_some());
        // Nobody ate.
        assert!(
            harness
                .query_by_label(&format!("Philosopher {i}: 0"))
                .is_some()
        );
    }
    assert!(
        harness
            .query_all_by_label_contains("5 philosophers each hold one fork")
            .next()
            .is_some()
    );
    assert!(tooltip_of(&mut harness, "fork 2", "held by Philosopher 2"));
    assert!(
        harness
            .query_by_label("waiting for it: Philosopher 1")
            .is_some()
    );
    stop_leaves_nothing(&mut harness, "philosophers");

    // With a waiter everyone eats, and the bars count it.
    harness
        .get_by_label("a waiter: Semaphore(n \u{2212} 1)")
        .click();
    harness.run_steps(1);
    harness.state().knobs().set("meals", 2.0).unwrap();
    harness.state().knobs().set("eat", 0.05).unwrap();
    harness.get_by_label("Start").click();
    let fed = step_until(&mut harness, Duration::from_secs(10), |app| {
        app.phase() == Phase::Finished
    });
    assert!(fed, "the waiter's table did not finish");
    harness.run_steps(3);
    for i in 1..=5 {
        assert!(
            harness
                .query_by_label(&format!("Philosopher {i}: 2"))
                .is_some(),
            "Philosopher {i} did not eat twice"
        );
    }
}

#[test]
fn the_views_speak_spanish() {
    let mut harness = harness(Lang::Es);
    harness
        .get_by_role_and_label(Role::Button, "Interbloqueo")
        .click();
    harness.run_steps(2);
    harness.state().knobs().set("hold", 0.1).unwrap();
    harness.get_by_label("Iniciar").click();
    let formed = step_until(&mut harness, Duration::from_secs(5), |app| {
        !app.view().deadlocks.is_empty()
    });
    assert!(formed);
    harness.run_steps(2);
    assert!(harness.query_by_label("Grafo de esperas").is_some());
    assert!(harness.query_by_label("ingenua (orden opuesto)").is_some());
    assert!(
        harness
            .query_all_by_label_contains("Interbloqueo: Thread-1")
            .next()
            .is_some()
    );
    harness
        .get_by_role_and_label(Role::Button, "La cena de los filósofos")
        .click();
    harness.run_steps(2);
    assert!(harness.query_by_label("La mesa").is_some());
}

/// A Parallelism lesson measures speed-ups on the machine's cores: while it
/// runs, the window draws twice a second (so drawing does not take CPU time
/// from the work) and says so; other lessons and a stopped run draw as usual.
#[cfg(target_os = "linux")]
#[test]
fn a_speed_up_measurement_draws_quietly_and_says_so() {
    let mut harness = harness(Lang::En);
    let note = "drawing twice a second while it measures";
    select(
        &mut harness,
        "The GIL: threads vs processes",
        &["work=0.5", "sweep=on"],
    );
    harness.get_by_label("Start").click();
    let quiet = step_until(&mut harness, Duration::from_secs(5), |app| {
        app.quiet_drawing()
    });
    assert!(quiet, "the gil run does not draw quietly");
    harness.run_steps(2);
    assert!(harness.query_by_label(note).is_some());
    stop_leaves_nothing(&mut harness, "Thread");
    assert!(!harness.state().quiet_drawing());
    assert!(harness.query_by_label(note).is_none());
    select(&mut harness, "Race condition", &[]);
    harness.get_by_label("Start").click();
    harness.run_steps(3);
    assert!(!harness.state().quiet_drawing());
    harness.state_mut().stop();
}
