//! What step mode's search costs and how fast it finds the lessons' bugs.
//! Run with `cargo bench --bench explore`.
//!
//! - Step decisions per second in Explore mode: race-condition with 2
//!   threads and 20 updates each (long runs, so start-up is a small share).
//! - Explore runs per second: race-condition with 2 threads, 1 update.
//! - Runs needed to find the lost update (race-condition, 2 threads) and
//!   the deadlock (deadlock, naive order, 2 rounds), median over 20 seeds,
//!   beside PCT's guarantee: a bug of depth d among n threads and k steps is
//!   found with probability at least 1/(n·k^(d−1)) per PCT run.

use std::time::Instant;

use hilos::explore;
use hilos::scenarios;

fn knobs(id: &str, set: &[(&str, f64)]) -> (&'static scenarios::Scenario, hilos::lab::Knobs) {
    let scenario = scenarios::find(id).expect("scenario");
    let knobs = scenario.knobs();
    for (k, v) in set {
        knobs.set(k, *v).expect("knob");
    }
    (scenario, knobs)
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    let n = v.len();
    if n == 0 {
        return f64::NAN;
    }
    if n % 2 == 1 {
        v[n / 2]
    } else {
        (v[n / 2 - 1] + v[n / 2]) / 2.0
    }
}

fn main() {
    println!(
        "cores: {}",
        std::thread::available_parallelism().map_or(0, |n| n.get())
    );

    // Decisions per second.
    let (s, k) = knobs("race-condition", &[("threads", 2.0), ("updates", 20.0)]);
    let t0 = Instant::now();
    let r = explore::explore(s, &k, 50, 1, |_| {}).expect("explore");
    let secs = t0.elapsed().as_secs_f64();
    println!(
        "explore race-condition threads=2 updates=20: {} runs, {:.0} steps a run, {:.0} step decisions/s ({:.2} s)",
        r.runs,
        r.mean_steps,
        r.mean_steps * r.runs as f64 / secs,
        secs
    );

    // Runs per second.
    let (s, k) = knobs("race-condition", &[("threads", 2.0)]);
    let t0 = Instant::now();
    let r = explore::explore(s, &k, 500, 1, |_| {}).expect("explore");
    let secs = t0.elapsed().as_secs_f64();
    println!(
        "explore race-condition threads=2: {} runs in {:.2} s: {:.0} runs/s, {:.0} steps a run, broken in {}",
        r.runs,
        secs,
        r.runs as f64 / secs,
        r.mean_steps,
        r.broken_runs
    );

    // Runs needed, over 20 seeds.
    for (id, set, depth) in [
        ("race-condition", vec![("threads", 2.0)], 2u32),
        ("deadlock", vec![("rounds", 2.0)], 2u32),
    ] {
        let (s, k) = knobs(id, &set);
        let mut needed = Vec::new();
        let mut steps = Vec::new();
        let mut threads = 0usize;
        for seed in 1..=20u64 {
            let r = explore::explore(s, &k, 200, seed, |_| {}).expect("explore");
            needed.push(r.first_broken_run.map_or(f64::INFINITY, |n| n as f64));
            steps.push(r.mean_steps);
            if threads == 0 {
                // MainThread and the lesson's two threads.
                threads = 3;
            }
        }
        let k_steps = median(steps);
        let bound = 1.0 / (threads as f64 * k_steps.powi(depth as i32 - 1));
        let found = needed.iter().filter(|n| n.is_finite()).count();
        println!(
            "{id}: runs to the first failure, median over 20 seeds: {} (min {}, max {}; found within 200 runs for {found} of 20 seeds); \
             PCT's bound for n={threads}, k={k_steps:.0}, d={depth}: p >= {bound:.4} a run, i.e. <= {:.0} runs expected",
            median(needed.clone()),
            needed.iter().copied().fold(f64::INFINITY, f64::min),
            needed.iter().copied().fold(0.0, f64::max),
            1.0 / bound
        );
    }
}
