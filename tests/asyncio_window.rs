//! The asyncio scenarios in the window (egui_kittest over the real
//! `HilosApp`): each follows a live knob while it runs and leaves nothing
//! alive after Stop; task lanes group under their role; 100,000 tasks are
//! one group lane and frames stay short while they run.

use std::time::{Duration, Instant};

use eframe::egui;
use egui::Role;
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use hilos::lab::controller::Phase;
use hilos::lab::text::Lang;
use hilos::ui::HilosApp;
use hilos::ui::view::Row;

/// No frame may take longer than this, even in a debug build on a loaded
/// 2-core machine (as in tests/ui_never_waits.rs).
const FRAME_BOUND_MS: f32 = 250.0;

static ONE_AT_A_TIME: std::sync::Mutex<()> = std::sync::Mutex::new(());

fn one_at_a_time() -> std::sync::MutexGuard<'static, ()> {
    ONE_AT_A_TIME
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

fn harness(title: &str) -> Harness<'static, HilosApp> {
    let mut harness = Harness::builder()
        .with_size(egui::vec2(1400.0, 900.0))
        .build_eframe(|cc| HilosApp::new(cc, Lang::En));
    harness.run_steps(2);
    // Scrolled into view first: the list is taller than the window.
    harness
        .get_by_role_and_label(Role::Button, title)
        .scroll_to_me();
    // Past the scroll's animation: a click mid-way lands on another row.
    harness.run_steps(30);
    harness.get_by_role_and_label(Role::Button, title).click();
    harness.run_steps(2);
    harness
}

/// Step frames until `done` or the timeout; the longest frame's update (ms).
fn step_until(
    harness: &mut Harness<'static, HilosApp>,
    timeout: Duration,
    mut done: impl FnMut(&HilosApp) -> bool,
) -> (bool, f32) {
    let deadline = Instant::now() + timeout;
    let mut longest: f32 = 0.0;
    loop {
        harness.step();
        longest = longest.max(harness.state().last_frame_ms());
        if done(harness.state()) {
            return (true, longest);
        }
        if Instant::now() >= deadline {
            return (false, longest);
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

fn log_has(app: &HilosApp, text: &str) -> bool {
    app.lab().is_some_and(|lab| {
        lab.record()
            .lock()
            .log
            .iter()
            .any(|l| l.text.contains(text))
    })
}

fn stop_leaves_nothing(harness: &mut Harness<'static, HilosApp>, what: &str) {
    harness.get_by_label("Stop").click();
    let (stopped, _) = step_until(harness, Duration::from_secs(3), |app| {
        app.phase() == Phase::Stopped
    });
    assert!(stopped, "{what}: still {:?}", harness.state().phase());
    let lab = harness
        .state()
        .lab()
        .expect("the stopped run stays on screen");
    assert!(lab.is_stopped());
    assert_eq!(lab.handle().active_count(), 0, "{what}: threads alive");
    if let Some(n) = lab.handle().os_threads_alive() {
        assert_eq!(n, 0, "{what}: OS threads alive");
    }
    assert_eq!(lab.record().lock().alive_tasks(), 0, "{what}: tasks alive");
}

fn press_right(harness: &mut Harness<'static, HilosApp>, slider: &str, times: usize) {
    harness.get_by_role_and_label(Role::Slider, slider).focus();
    harness.step();
    for _ in 0..times {
        harness.key_press(egui::Key::ArrowRight);
        harness.step();
    }
}

#[test]
fn basics_follows_the_strategy_from_the_next_round_and_shows_task_lanes() {
    let _one = one_at_a_time();
    let mut harness = harness("asyncio: tasks on one thread");
    harness.state().knobs().set("rounds", 50.0).unwrap();
    harness.state().knobs().set("delay", 0.05).unwrap();
    harness.state().knobs().set("strategy", 1.0).unwrap();
    harness.get_by_label("Start").click();
    let (began, _) = step_until(&mut harness, Duration::from_secs(5), |app| {
        log_has(app, "create_task, then await each")
    });
    assert!(began, "no round ran");
    // The tasks' lanes group under 'Task', and the strategy's name shows.
    let (grouped, _) = step_until(&mut harness, Duration::from_secs(5), |app| {
        app.view()
            .rows
            .iter()
            .any(|r| matches!(r, Row::Group { role, .. } if &**role == "Task"))
    });
    assert!(grouped, "no Task group: {:?}", harness.state().view().rows);
    // The strategies are radio buttons by name; the picked one is checked.
    let picked = |h: &Harness<'static, HilosApp>, label: &str| {
        use egui_kittest::kittest::NodeT;
        h.get_by_role_and_label(Role::RadioButton, label)
            .accesskit_node()
            .toggled()
            == Some(egui::accesskit::Toggled::True)
    };
    assert!(picked(&harness, "create_task, then await each"));
    // 1 → 3: the next round computes factorials.
    harness
        .get_by_role_and_label(Role::RadioButton, "factorials with gather")
        .click();
    harness.run_steps(2);
    let strategy =
        |h: &Harness<'static, HilosApp>| h.state().lab().unwrap().knobs().get("strategy");
    assert_eq!(strategy(&harness), 3.0);
    assert!(picked(&harness, "factorials with gather"));
    let (followed, _) = step_until(&mut harness, Duration::from_secs(10), |app| {
        log_has(app, "round") && log_has(app, "factorials with gather")
    });
    assert!(followed, "the strategy knob was not followed");
    stop_leaves_nothing(&mut harness, "asyncio-basics");
}

#[test]
fn blocking_follows_the_fix_live_and_stop_ends_the_executor_thread() {
    let _one = one_at_a_time();
    let mut harness = harness("asyncio: the blocking call that stalls everything");
    for (k, v) in [("run_for", 60.0), ("every", 0.3), ("block", 0.3)] {
        harness.state().knobs().set(k, v).unwrap();
    }
    harness.get_by_label("Start").click();
    let (blocked, _) = step_until(&mut harness, Duration::from_secs(10), |app| {
        log_has(app, "report 1 done")
    });
    assert!(blocked, "no report");
    // Each task has a lane of its own, under its name.
    let app = harness.state();
    for name in ["heartbeat", "report", "download-1"] {
        let lane = app.lab().and_then(|l| {
            l.record()
                .lock()
                .threads()
                .find(|t| t.task && &*t.name == name)
                .map(|t| t.id)
        });
        let shown = lane.is_some_and(|id| {
            app.view()
                .rows
                .iter()
                .any(|r| matches!(r, Row::Thread { id: i, .. } if *i == id))
        });
        assert!(shown, "no lane {name}: {:?}", app.view().rows);
    }
    // Tick the fix while it runs: the next report runs in a thread.
    harness
        .get_by_label("Fix: run it with asyncio.to_thread")
        .click();
    harness.step();
    let (fixed, _) = step_until(&mut harness, Duration::from_secs(10), |app| {
        log_has(app, "in a thread")
            && app.lab().is_some_and(|lab| {
                lab.handle()
                    .enumerate()
                    .iter()
                    .any(|t| t.name().starts_with("asyncio_"))
            })
    });
    assert!(fixed, "the fix was not followed");
    stop_leaves_nothing(&mut harness, "asyncio-blocking");
}

#[test]
fn a_hundred_thousand_tasks_are_one_group_lane_and_frames_stay_short() {
    let _one = one_at_a_time();
    let mut harness = harness("asyncio: 100,000 tasks vs 1,000 threads");
    for (k, v) in [("tasks", 100_000.0), ("threads", 100.0), ("wait", 30.0)] {
        harness.state().knobs().set(k, v).unwrap();
    }
    harness.get_by_label("Start").click();
    let (all, _) = step_until(&mut harness, Duration::from_secs(30), |app| {
        app.view().tasks_alive >= 100_000
    });
    assert!(all, "tasks alive: {}", harness.state().view().tasks_alive);
    // Then frames while they all sleep: short, and one lane for them all.
    let (_, longest) = step_until(&mut harness, Duration::from_secs(2), |_| false);
    assert!(
        longest < FRAME_BOUND_MS,
        "a frame took {longest} ms with 100,000 tasks"
    );
    let rows = &harness.state().view().rows;
    let task_rows: Vec<&Row> = rows
        .iter()
        .filter(|r| matches!(r, Row::Group { role, .. } if &**role == "Task"))
        .collect();
    assert_eq!(task_rows.len(), 1, "{rows:?}");
    match task_rows[0] {
        Row::Group {
            members,
            summarised,
            collapsed,
            ..
        } => {
            assert!(*collapsed);
            assert_eq!(members.len() as u64 + summarised, 100_001);
        }
        _ => unreachable!("filtered to groups"),
    }
    assert!(rows.len() < 10, "{} rows", rows.len());
    assert!(
        harness
            .query_by_role_and_label(Role::Button, "+ Task \u{d7} 100001")
            .is_some()
    );
    // The live knob: each one waits; the threads started later use it.
    press_right(&mut harness, "Each one waits (I/O, a sleep)", 3);
    assert!(harness.state().lab().unwrap().knobs().get("wait") > 30.0);
    stop_leaves_nothing(&mut harness, "asyncio-vs-threads");
}
