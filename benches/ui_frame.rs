//! CPU time of the window's update (no rendering) with producer–consumer at
//! 64 producers + 64 consumers, after the 10 s window has filled.
//! Run: `cargo bench --bench ui_frame` (prints mean / p50 / p95 / max in ms).

use std::time::{Duration, Instant};

use eframe::egui;
use egui_kittest::Harness;
use hilos::lab::text::Lang;
use hilos::ui::HilosApp;

const WARM_UP: Duration = Duration::from_secs(11);
const FRAMES: usize = 200;
/// Time between frames, as at 60 Hz, so workers and the recorder get the CPU
/// they would get next to a real window.
const FRAME_GAP: Duration = Duration::from_millis(16);

fn main() {
    let mut harness = Harness::builder()
        .with_size(egui::vec2(1400.0, 900.0))
        .build_eframe(|cc| HilosApp::new(cc, Lang::En));
    let app = harness.state_mut();
    app.select_id("producer-consumer");
    for set in ["producers=64", "consumers=64", "run_for=600"] {
        if let Err(e) = app.knobs().set_from_arg(set) {
            eprintln!("ui_frame: {e}");
            return;
        }
    }
    app.start();

    let t0 = Instant::now();
    while t0.elapsed() < WARM_UP {
        harness.step();
        std::thread::sleep(FRAME_GAP);
    }
    let mut times = Vec::with_capacity(FRAMES);
    for _ in 0..FRAMES {
        harness.step();
        times.push(f64::from(harness.state().last_frame_ms()));
        std::thread::sleep(FRAME_GAP);
    }
    let (threads, alive, dropped) = harness.state().lab().map_or((0, 0, 0), |lab| {
        let record = lab.record().lock();
        (
            record.threads().len(),
            record.alive_threads(),
            record.events_dropped,
        )
    });
    harness.state_mut().stop();

    times.sort_by(f64::total_cmp);
    let mean = times.iter().sum::<f64>() / times.len() as f64;
    let pct = |p: f64| times[((times.len() - 1) as f64 * p).round() as usize];
    println!(
        "ui_frame: producer-consumer 64+64, {FRAMES} frames after {} s: \
         update() CPU mean {mean:.2} ms, p50 {:.2} ms, p95 {:.2} ms, max {:.2} ms \
         ({threads} lanes, {alive} alive, {dropped} events dropped)",
        WARM_UP.as_secs(),
        pct(0.5),
        pct(0.95),
        pct(1.0),
    );
}
