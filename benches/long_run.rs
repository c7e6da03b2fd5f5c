//! An hour of producer–consumer at 64 + 64 with the fastest knobs, run at
//! speed 3600 / N so it takes N seconds of real time, while the producer count is
//! dragged between 32 and 64 every 200 ms (tens of thousands of threads
//! created and finished), in the window (egui_kittest, no GPU) at 60 Hz.
//! Reports the process's resident memory after warm-up and at the end, the
//! window's frame CPU time at the start and at the end, and what the record
//! kept. Memory must stay flat and frames must not get slower.
//!
//! Run: `cargo bench --bench long_run` (`HILOS_LONG_RUN_SECONDS=N` for another
//! length of real time; the default is 180).

use std::time::{Duration, Instant};

use eframe::egui;
use egui_kittest::Harness;
use hilos::lab::text::Lang;
use hilos::scenarios::Scenario;
use hilos::ui::HilosApp;

const VSYNC: Duration = Duration::from_micros(16_667);

/// Resident memory of this process in MB (Linux; None elsewhere).
fn rss_mb() -> Option<f64> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: f64 = statm.split_whitespace().nth(1)?.parse().ok()?;
    Some(pages * 4096.0 / 1e6)
}

fn mean_p95(mut v: Vec<f64>) -> (f64, f64) {
    v.sort_by(f64::total_cmp);
    let mean = v.iter().sum::<f64>() / v.len().max(1) as f64;
    let p95 = v
        .get(((v.len().max(1) - 1) as f64 * 0.95) as usize)
        .copied()
        .unwrap_or(0.0);
    (mean, p95)
}

fn main() {
    let seconds: u64 = std::env::var("HILOS_LONG_RUN_SECONDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(180)
        .clamp(4, 3600);
    // One hour of scenario time (run_for = 3600 s) in `seconds` of real time.
    let speed = 3600.0 / seconds as f64;
    static ALL: [&Scenario; 1] = [&hilos::scenarios::producer_consumer::SCENARIO];
    let mut harness = Harness::builder()
        .with_size(egui::vec2(1400.0, 900.0))
        .build_eframe(|cc| HilosApp::with_scenarios(cc, Lang::En, &ALL));
    let app = harness.state_mut();
    for set in [
        "producers=64",
        "consumers=64",
        "produce_pause=0.001",
        "consume_pause=0.001",
        "burst=50",
        "run_for=3600",
    ] {
        if let Err(e) = app.knobs().set_from_arg(set) {
            eprintln!("long_run: {e}");
            return;
        }
    }
    harness.state_mut().start();
    if let Some(lab) = harness.state().lab() {
        lab.set_speed(speed);
    }

    let total = Duration::from_secs(seconds);
    let warm_up = Duration::from_secs(seconds / 6);
    let window = Duration::from_secs(10).min(total / 6);
    let t0 = Instant::now();
    let mut tick = Instant::now();
    let mut last_drag = Instant::now();
    let mut many = true;
    let mut early: Vec<f64> = Vec::new();
    let mut late: Vec<f64> = Vec::new();
    let mut rss_after_warm_up = None;
    let mut record_after_warm_up = 0;
    let mut rss_peak: f64 = 0.0;
    let mut checkpoints: Vec<String> = Vec::new();
    let mut next_checkpoint = warm_up;
    while t0.elapsed() < total {
        harness.step();
        let elapsed = t0.elapsed();
        let cpu = f64::from(harness.state().last_frame_ms());
        if elapsed >= warm_up && elapsed < warm_up + window {
            early.push(cpu);
        }
        if elapsed >= total - window {
            late.push(cpu);
        }
        if elapsed >= warm_up {
            if rss_after_warm_up.is_none() {
                rss_after_warm_up = rss_mb();
                record_after_warm_up = harness
                    .state()
                    .lab()
                    .map_or(0, |lab| lab.record().lock().approx_bytes());
            }
            rss_peak = rss_peak.max(rss_mb().unwrap_or(0.0));
            if elapsed >= next_checkpoint {
                next_checkpoint += (total - warm_up) / 6;
                let rec = harness
                    .state()
                    .lab()
                    .map_or(0, |lab| lab.record().lock().approx_bytes());
                checkpoints.push(format!(
                    "{:.0} s: {:.1} MB (record {:.1} MB)",
                    elapsed.as_secs_f64(),
                    rss_mb().unwrap_or(0.0),
                    rec as f64 / 1e6
                ));
            }
        }
        if last_drag.elapsed() >= Duration::from_millis(200) {
            last_drag = Instant::now();
            many = !many;
            let app = harness.state();
            if let Some(lab) = app.lab() {
                let _ = lab.set_knob("producers", if many { 64.0 } else { 32.0 });
            }
        }
        tick += VSYNC;
        let now = Instant::now();
        if tick > now {
            std::thread::sleep(tick - now);
        } else {
            tick = now;
        }
    }
    let rss_end = rss_mb();
    let (kept, ever, folded, events, dropped, log_lines, scenario_seconds, record_end) =
        match harness.state().lab() {
            Some(lab) => {
                let r = lab.record().lock();
                (
                    r.threads().len(),
                    r.threads_ever(),
                    r.folded.all.threads,
                    r.events_recorded,
                    r.events_dropped,
                    r.log.len(),
                    r.now() * speed,
                    r.approx_bytes(),
                )
            }
            None => (0, 0, 0, 0, 0, 0, 0.0, 0),
        };
    harness.state_mut().stop();
    let (e_mean, e_p95) = mean_p95(early);
    let (l_mean, l_p95) = mean_p95(late);
    let mb = |v: Option<f64>| v.map_or("n/a".to_string(), |v| format!("{v:.1} MB"));
    println!(
        "long_run: producer-consumer 64+64 fastest knobs at speed {speed}: {seconds} s real = {:.0} min of scenario time; \
         producers dragged 32 <-> 64 every 200 ms",
        scenario_seconds / 60.0
    );
    println!(
        "  threads: {ever} created in all, {kept} kept whole, {folded} folded into totals; \
         {events} events recorded, {dropped} dropped; {log_lines} log lines kept"
    );
    println!(
        "  resident memory: {} after warm-up ({} s), {} at the end, peak {rss_peak:.1} MB",
        mb(rss_after_warm_up),
        warm_up.as_secs(),
        mb(rss_end)
    );
    println!("  resident memory over time: {}", checkpoints.join("; "));
    println!(
        "  the record's history (spans, series buckets, log; the window keeps a copy of it): \
         {:.1} MB after warm-up, {:.1} MB at the end",
        record_after_warm_up as f64 / 1e6,
        record_end as f64 / 1e6
    );
    println!(
        "  frame CPU: mean {e_mean:.2} ms / p95 {e_p95:.2} ms after warm-up; mean {l_mean:.2} ms / p95 {l_p95:.2} ms at the end"
    );
}
