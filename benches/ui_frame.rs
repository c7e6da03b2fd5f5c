//! The window under load, without rendering (egui_kittest, no GPU):
//!
//! 1. producer–consumer at 64 producers + 64 consumers at the fastest knobs:
//!    the wall time between frames paced at 60 Hz (p50 / p95 / max), the CPU
//!    time of update(), and how long after a Stop request the window shows
//!    "stopping…" and then "stopped";
//! 2. the CPU time of update() with 129, 256 and 1,000 threads alive (a
//!    bench-only scenario whose workers wait, work and sleep in turn).
//!
//! Run: `cargo bench --bench ui_frame`.

use std::time::{Duration, Instant};

use eframe::egui;
use egui_kittest::Harness;
use hilos::lab::controller::Phase;
use hilos::lab::text::Lang;
use hilos::lab::{Crew, Ctx, KnobSpec, Knobs, SyncResult};
use hilos::scenarios::{Extra, Group, PlotSpec, Scenario, SeriesRef};
use hilos::t;
use hilos::ui::HilosApp;

/// 60 Hz, as a real window's frames are paced.
const VSYNC: Duration = Duration::from_micros(16_667);

fn harness(scenarios: &'static [&'static Scenario]) -> Harness<'static, HilosApp> {
    Harness::builder()
        .with_size(egui::vec2(1400.0, 900.0))
        .build_eframe(move |cc| HilosApp::with_scenarios(cc, Lang::En, scenarios))
}

/// Step one frame, then wait for the next 60 Hz tick. Returns the frame's
/// wall time from its start to the start of the next one.
fn paced_step(harness: &mut Harness<'static, HilosApp>, next_tick: &mut Instant) -> f64 {
    let t0 = Instant::now();
    harness.step();
    *next_tick += VSYNC;
    let now = Instant::now();
    if *next_tick > now {
        std::thread::sleep(*next_tick - now);
    } else {
        *next_tick = now;
    }
    t0.elapsed().as_secs_f64() * 1000.0
}

struct Stats {
    mean: f64,
    p50: f64,
    p95: f64,
    max: f64,
}

fn stats(mut v: Vec<f64>) -> Stats {
    v.sort_by(f64::total_cmp);
    let pct = |p: f64| v[((v.len() - 1) as f64 * p).round() as usize];
    Stats {
        mean: v.iter().sum::<f64>() / v.len() as f64,
        p50: pct(0.5),
        p95: pct(0.95),
        max: pct(1.0),
    }
}

fn producer_consumer_flood() {
    static ALL: [&Scenario; 1] = [&hilos::scenarios::producer_consumer::SCENARIO];
    let mut harness = harness(&ALL);
    let app = harness.state_mut();
    for set in [
        "producers=64",
        "consumers=64",
        "produce_pause=0.001",
        "consume_pause=0.001",
        "burst=50",
        "run_for=600",
    ] {
        if let Err(e) = app.knobs().set_from_arg(set) {
            eprintln!("ui_frame: {e}");
            return;
        }
    }
    app.start();
    let mut tick = Instant::now();
    let warm = Instant::now();
    while warm.elapsed() < Duration::from_secs(3) {
        paced_step(&mut harness, &mut tick);
    }
    let mut gaps = Vec::new();
    let mut cpu = Vec::new();
    let mut hold = Vec::new();
    let mut wait = Vec::new();
    let t0 = Instant::now();
    while t0.elapsed() < Duration::from_secs(10) {
        gaps.push(paced_step(&mut harness, &mut tick));
        cpu.push(f64::from(harness.state().last_frame_ms()));
        let c = harness.state().controller();
        hold.push(c.last_sync_hold().as_secs_f64() * 1000.0);
        wait.push(c.last_sync_wait().as_secs_f64() * 1000.0);
    }
    let (events, dropped, alive) = harness.state().lab().map_or((0, 0, 0), |lab| {
        let r = lab.record().lock();
        (r.events_recorded, r.events_dropped, r.alive_threads())
    });

    // Stop: how long until a frame shows "stopping…", and then "stopped".
    let asked = Instant::now();
    harness.state_mut().stop();
    let mut stopping_shown = None;
    let mut stop_gaps = Vec::new();
    let stopped_shown = loop {
        stop_gaps.push(paced_step(&mut harness, &mut tick));
        let phase = harness.state().phase();
        if stopping_shown.is_none() && phase != Phase::Running {
            stopping_shown = Some(asked.elapsed());
        }
        if phase == Phase::Stopped || asked.elapsed() > Duration::from_secs(5) {
            break asked.elapsed();
        }
    };
    let report = harness.state().controller().stop_report().cloned();
    // Reset with 129 threads' record on screen.
    let reset_at = Instant::now();
    harness.state_mut().reset();
    let reset_frame = paced_step(&mut harness, &mut tick);
    let reset_ms = reset_at.elapsed().as_secs_f64() * 1000.0;

    let g = stats(gaps);
    let c = stats(cpu);
    let sg = stats(stop_gaps);
    let h = stats(hold);
    let w = stats(wait);
    println!(
        "ui_frame: producer-consumer 64+64, fastest knobs, 10 s at 60 Hz ({alive} alive, \
         {events} events recorded, {dropped} dropped)"
    );
    println!(
        "  wall time between frames: p50 {:.1} ms, p95 {:.1} ms, max {:.1} ms",
        g.p50, g.p95, g.max
    );
    println!(
        "  update() CPU: mean {:.2} ms, p50 {:.2} ms, p95 {:.2} ms, max {:.2} ms",
        c.mean, c.p50, c.p95, c.max
    );
    println!(
        "  record lock: waited for p95 {:.3} ms (max {:.3}), held to copy p95 {:.3} ms (max {:.3})",
        w.p95, w.max, h.p95, h.max
    );
    println!(
        "  Stop: 'stopping…' shown after {:.1} ms, 'stopped' shown after {:.1} ms \
         (lab stop {:.1} ms, {} threads left); frames meanwhile p95 {:.1} ms, max {:.1} ms",
        stopping_shown.unwrap_or_default().as_secs_f64() * 1000.0,
        stopped_shown.as_secs_f64() * 1000.0,
        report
            .as_ref()
            .map_or(f64::NAN, |r| r.stop_seconds * 1000.0),
        report.as_ref().map_or(0, |r| r.threads_left),
        sg.p95,
        sg.max,
    );
    println!("  Reset: {reset_ms:.1} ms to the first frame after it (frame {reset_frame:.1} ms)");
}

const CROWD_KNOBS: &[KnobSpec] = &[KnobSpec::int(
    "threads",
    t!("Threads", "Hilos"),
    "threads",
    1,
    1000,
    129,
)];

/// A bench-only crowd: `threads` workers that take a shared lock, work a
/// moment, and sleep, so every lane keeps changing state.
static CROWD: Scenario = Scenario {
    id: "crowd",
    group: Group::Threads,
    title: t!("Crowd", "Multitud"),
    lesson: t!("", ""),
    explanation: t!("", ""),
    knobs: CROWD_KNOBS,
    body: crowd_body,
    metrics: |_| Vec::new(),
    python: |_: &Knobs| String::new(),
    plots: &[PlotSpec {
        title: t!("Lock", "Lock"),
        series: &[
            (SeriesRef::Level("shared"), t!("held", "tomado")),
            (SeriesRef::Waiters("shared"), t!("waiting", "esperando")),
        ],
    }],
    extra: Extra::None,
    outcomes: &[],
    check_knobs: &[],
    stepping: hilos::scenarios::Stepping::No(t!("a test scenario", "un escenario de prueba")),
};

fn crowd_body(ctx: &Ctx) -> SyncResult<()> {
    let lock = ctx.lab().lock("shared");
    let mut crew = Crew::new("Worker", move |c, n| {
        let mut i = n;
        while !c.should_retire() {
            {
                let _held = lock.hold()?;
                std::hint::black_box((0..200).sum::<usize>());
            }
            i = i.wrapping_mul(31).wrapping_add(7);
            c.sleep(0.005 + (i % 20) as f64 * 0.001)?;
        }
        Ok(())
    });
    crew.resize(ctx, ctx.knob_usize("threads"))?;
    while !ctx.should_retire() {
        ctx.sleep_real(Duration::from_millis(50))?;
    }
    crew.join_all()
}

fn crowd(threads: usize) {
    static ALL: [&Scenario; 1] = [&CROWD];
    let mut harness = harness(&ALL);
    if let Err(e) = harness.state().knobs().set("threads", threads as f64) {
        eprintln!("ui_frame: {e}");
        return;
    }
    harness.state_mut().start();
    let mut tick = Instant::now();
    let warm = Instant::now();
    while warm.elapsed() < Duration::from_secs(4) {
        paced_step(&mut harness, &mut tick);
    }
    let mut cpu = Vec::new();
    let mut hold = Vec::new();
    let mut wait = Vec::new();
    for _ in 0..200 {
        paced_step(&mut harness, &mut tick);
        cpu.push(f64::from(harness.state().last_frame_ms()));
        let c = harness.state().controller();
        hold.push(c.last_sync_hold().as_secs_f64() * 1000.0);
        wait.push(c.last_sync_wait().as_secs_f64() * 1000.0);
    }
    let alive = harness.state().view().alive;
    let rows = harness.state().view().rows.len();
    harness.state_mut().stop();
    let c = stats(cpu);
    let h = stats(hold);
    let w = stats(wait);
    println!(
        "ui_frame: {alive} threads alive ({rows} timeline rows, groups collapsed): update() CPU \
         mean {:.2} ms, p50 {:.2} ms, p95 {:.2} ms, max {:.2} ms; record lock: waited for p95 {:.3} ms \
         (max {:.3}), held to copy p95 {:.3} ms (max {:.3})",
        c.mean, c.p50, c.p95, c.max, w.p95, w.max, h.p95, h.max
    );
}

fn main() {
    producer_consumer_flood();
    for n in [128, 255, 999] {
        // Plus MainThread: 129, 256 and 1,000 threads.
        crowd(n);
    }
}
