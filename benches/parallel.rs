//! What parallelism the lab measures, beside CPython on the same machine:
//! the gil scenario's speed-ups at its default knobs (2 workers, 0.25 s of
//! CPU per task, 5 rounds each), the median and the range of 10 headless
//! runs, and the same Python program's under the user's python3; the cost of
//! starting a child process (spawn to its first word) and a Pipe round
//! trip. Prints the machine's load before and after: on a shared machine
//! the numbers move with it.
//!
//! `cargo bench --bench parallel` (HILOS_BENCH_RUNS=N, HILOS_BENCH_WORK=S
//! change the runs and the seconds of CPU per task).

use std::process::Command;

fn hilos() -> &'static str {
    env!("CARGO_BIN_EXE_hilos")
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    if v.is_empty() {
        return f64::NAN;
    }
    v[v.len() / 2]
}

fn loadavg() -> String {
    std::fs::read_to_string("/proc/loadavg")
        .map(|s| s.split_whitespace().take(3).collect::<Vec<_>>().join(" "))
        .unwrap_or_else(|_| "unknown".into())
}

fn run_json(args: &[&str]) -> Option<serde_json::Value> {
    let out = Command::new(hilos()).args(args).output().ok()?;
    serde_json::from_slice(&out.stdout).ok()
}

fn printed(text: &str, needle: &str) -> Option<f64> {
    hilos::python::printed_number(text, needle)
}

fn main() {
    let runs: usize = std::env::var("HILOS_BENCH_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10);
    let work = std::env::var("HILOS_BENCH_WORK").unwrap_or_else(|_| "0.25".into());
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    println!(
        "parallel: {cores} cores; load average before: {}",
        loadavg()
    );
    let sets = [
        "--set".to_string(),
        "workers=2".into(),
        "--set".into(),
        format!("work={work}"),
        "--set".into(),
        "sweep=off".into(),
    ];
    let mut lab: [Vec<f64>; 4] = Default::default();
    let mut startup = Vec::new();
    for _ in 0..runs {
        let mut args = vec!["run", "gil", "--json"];
        args.extend(sets.iter().map(String::as_str));
        let Some(v) = run_json(&args) else {
            eprintln!("parallel: a lab run failed");
            continue;
        };
        let m = &v["metrics"];
        for (i, name) in [
            "sequential_seconds",
            "threads_speedup",
            "free_threaded_speedup",
            "processes_speedup",
        ]
        .iter()
        .enumerate()
        {
            lab[i].push(m[name].as_f64().unwrap_or(f64::NAN));
        }
        startup.push(m["process_startup_ms"].as_f64().unwrap_or(f64::NAN));
    }
    // The same program under CPython (one run at a time, nothing beside it).
    let mut args = vec!["run", "gil", "--python"];
    args.extend(sets.iter().map(String::as_str));
    let program = Command::new(hilos())
        .args(&args)
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).to_string())
        .unwrap_or_default();
    let mut py: [Vec<f64>; 3] = Default::default();
    match hilos::python::find_interpreter(None) {
        Ok(interp) => {
            for _ in 0..runs {
                let Ok(out) = Command::new(&interp.path).arg("-c").arg(&program).output() else {
                    continue;
                };
                let text = String::from_utf8_lossy(&out.stdout);
                py[0].push(printed(&text, "sequential:").unwrap_or(f64::NAN));
                py[1].push(printed(&text, "threads speed-up:").unwrap_or(f64::NAN));
                py[2].push(printed(&text, "processes speed-up:").unwrap_or(f64::NAN));
            }
            println!("parallel: CPython is {}", interp.version);
        }
        Err(e) => println!("parallel: no CPython to compare with: {e}"),
    }
    // A Pipe's round trip and a Queue message's latency.
    let mut rtt = Vec::new();
    for _ in 0..runs {
        if let Some(v) = run_json(&[
            "run",
            "process-communication",
            "--json",
            "--set",
            "messages=200",
            "--set",
            "pause=0.0005",
            "--set",
            "increments=10",
        ]) {
            rtt.push(v["metrics"]["pipe_rtt_us"].as_f64().unwrap_or(f64::NAN));
        }
    }
    println!(
        "parallel: gil, 2 workers, {work} s of CPU per task, 5 rounds a run; the median of {runs} runs"
    );
    println!("  {:<34} {:>10} {:>10}", "", "lab", "CPython");
    println!(
        "  {:<34} {:>10.3} {:>10.3}",
        "one after another (s)",
        median(lab[0].clone()),
        median(py[0].clone())
    );
    println!(
        "  {:<34} {:>10.2} {:>10.2}",
        "threads vs sequential",
        median(lab[1].clone()),
        median(py[1].clone())
    );
    println!(
        "  {:<34} {:>10.2} {:>10}",
        "free-threaded vs sequential",
        median(lab[2].clone()),
        "n/a (3.11)"
    );
    println!(
        "  {:<34} {:>10.2} {:>10.2}",
        "processes vs sequential",
        median(lab[3].clone()),
        median(py[2].clone())
    );
    let range = |v: &[f64]| {
        let lo = v.iter().copied().fold(f64::INFINITY, f64::min);
        let hi = v.iter().copied().fold(f64::NEG_INFINITY, f64::max);
        format!("{lo:.2}-{hi:.2}")
    };
    println!("  range over the runs:");
    println!(
        "  {:<34} {:>10} {:>10}",
        "threads vs sequential",
        range(&lab[1]),
        range(&py[1])
    );
    println!(
        "  {:<34} {:>10} {:>10}",
        "processes vs sequential",
        range(&lab[3]),
        range(&py[2])
    );
    println!("  all runs (lab): {lab:?}");
    println!("  all runs (CPython): {py:?}");
    println!(
        "parallel: starting a child process (spawn to its first event): median {:.2} ms of {startup:?}",
        median(startup.clone())
    );
    println!(
        "parallel: a Pipe round trip (send, the child echoes, recv): median {:.0} µs of {rtt:?}",
        median(rtt.clone())
    );
    println!("parallel: load average after: {}", loadavg());
}
