//! The asyncio scenarios teach their lessons, headless through the real
//! `hilos` binary (and in-process where Stop's timing and the process's OS
//! threads are measured): awaits one after another take the sum of the
//! delays and tasks the longest; gather keeps argument order; wait_for
//! raises TimeoutError at its timeout and cancels the inner task;
//! FIRST_COMPLETED leaves the rest pending; a blocking call stalls every
//! task and to_thread does not; Stop with 100,000 tasks alive ends them all,
//! and the record stays bounded. Then the lesson-changing variants against
//! CPython.

mod common;

use std::process::Command;
use std::sync::{Mutex, MutexGuard};
use std::time::{Duration, Instant};

use hilos::lab::aio::{self, PyResult};
use hilos::lab::record::Limits;
use hilos::lab::{Knobs, Lab, LabOptions, State};
use hilos::scenarios;
use serde_json::Value;

/// Timing tests run one at a time, so they do not slow each other down.
fn one_at_a_time() -> MutexGuard<'static, ()> {
    static LOCK: Mutex<()> = Mutex::new(());
    LOCK.lock().unwrap_or_else(|e| e.into_inner())
}

fn run_json(args: &[&str]) -> Value {
    let mut all = vec!["run"];
    all.extend_from_slice(args);
    all.extend(["--json", "--log"]);
    let out = Command::new(env!("CARGO_BIN_EXE_hilos"))
        .args(&all)
        .output()
        .expect("run hilos");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "hilos {all:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {stdout}"))
}

fn metric(v: &Value, name: &str) -> f64 {
    v["metrics"][name]
        .as_f64()
        .unwrap_or_else(|| panic!("no metric {name} in {}", v["metrics"]))
}

fn log_lines(v: &Value) -> Vec<(f64, String)> {
    v["log"]
        .as_array()
        .expect("--log")
        .iter()
        .map(|l| {
            (
                l["t"].as_f64().unwrap_or(0.0),
                l["text"].as_str().unwrap_or("").to_string(),
            )
        })
        .collect()
}

fn position(lines: &[(f64, String)], text: &str) -> usize {
    lines
        .iter()
        .position(|(_, l)| l == text)
        .unwrap_or_else(|| panic!("no line {text:?} in {lines:#?}"))
}

const SPEED: &str = "4";

fn basics(strategy: u32, extra: &[&str]) -> Value {
    let strategy = format!("strategy={strategy}");
    let mut args = vec![
        "asyncio-basics",
        "--speed",
        SPEED,
        "--set",
        &strategy,
        "--set",
        "delay=1",
        "--set",
        "timeout=1.5",
    ];
    args.extend_from_slice(extra);
    let v = run_json(&args);
    assert_eq!(v["finished"], true);
    v
}

#[test]
fn awaits_one_after_another_take_the_sum_of_the_delays_and_tasks_the_longest() {
    let _one = one_at_a_time();
    // The coroutines sleep 2, 1 and 3 s: 6 s in a row, 3 s at once.
    let sequential = basics(0, &[]);
    let tasks = basics(1, &[]);
    let gathered = basics(2, &[]);
    assert_eq!(metric(&sequential, "sum_of_delays"), 6.0);
    assert_eq!(metric(&sequential, "longest_delay"), 3.0);
    let s = metric(&sequential, "round_seconds");
    assert!((5.9..7.0).contains(&s), "awaited one after another: {s} s");
    for v in [&tasks, &gathered] {
        let t = metric(v, "round_seconds");
        assert!((2.9..3.6).contains(&t), "as tasks: {t} s");
        assert!(s > 1.7 * t, "sequential {s} s vs tasks {t} s");
    }
    // One after another, everything ran inside main: no other task.
    assert_eq!(sequential["tasks"].as_array().map(Vec::len), Some(1));
    assert_eq!(tasks["tasks_ever"], 4, "main and three tasks");
    // The tasks slept at once, each for its own delay.
    let slept: Vec<f64> = tasks["tasks"].as_array().unwrap()[1..]
        .iter()
        .map(|t| t["seconds"]["sleeping"].as_f64().unwrap_or(0.0))
        .collect();
    let speed: f64 = SPEED.parse().unwrap();
    for (got, want) in slept.iter().zip([2.0, 1.0, 3.0]) {
        assert!(
            (got * speed - want).abs() < 0.2,
            "slept {slept:?} (× {speed})"
        );
    }
}

#[test]
fn gather_returns_the_results_in_argument_order_not_finishing_order() {
    let _one = one_at_a_time();
    let v = basics(2, &[]);
    let lines = log_lines(&v);
    // 'world' sleeps 1 s, 'hello' 2 s, 'from' 3 s: they finish in that order…
    assert!(position(&lines, "world") < position(&lines, "hello"));
    assert!(position(&lines, "hello") < position(&lines, "from"));
    // …and gather gives them back in the order they were passed.
    position(&lines, "results: ['hello', 'world', 'from']");
    // The factorials take turns at every await, as in seed 004.
    let v = basics(3, &[]);
    let lines = log_lines(&v);
    let a = position(&lines, "Task A: factorial(2) = 2");
    let b = position(&lines, "Task B: Compute factorial(3)...");
    let c = position(&lines, "Task C: factorial(4) = 24");
    assert!(a < b && b < c);
    position(&lines, "results: [2, 6, 24]");
}

#[test]
fn wait_for_raises_timeout_error_at_its_timeout_and_cancels_the_inner_task() {
    let _one = one_at_a_time();
    let v = basics(4, &[]);
    let speed: f64 = SPEED.parse().unwrap();
    // 'world' (1 s) makes it; 'hello' (2 s) and 'from' (3 s) do not.
    assert_eq!(metric(&v, "finished"), 1.0);
    assert_eq!(metric(&v, "timeouts"), 2.0);
    assert_eq!(metric(&v, "cancelled"), 2.0);
    let took = metric(&v, "round_seconds");
    assert!((1.45..1.8).contains(&took), "the round took {took} s");
    let lines = log_lines(&v);
    // The inner task got CancelledError (its cleanup ran) before wait_for
    // raised TimeoutError, at the timeout.
    let cancelled = position(&lines, "hello: cancelled while waiting");
    let gave_up = position(&lines, "hello: gave up after 1.5 s");
    assert!(cancelled < gave_up);
    let at = lines[gave_up].0 * speed;
    assert!((1.45..1.8).contains(&at), "TimeoutError at {at} s");
    // Main, three wait_for wrappers, three inner tasks: two inner ones cancelled.
    let states: Vec<&str> = v["tasks"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["state"].as_str().unwrap())
        .collect();
    assert_eq!(states.len(), 7, "{states:?}");
    assert_eq!(states.iter().filter(|s| **s == "cancelled").count(), 2);
    assert_eq!(states.iter().filter(|s| **s == "done").count(), 5);
}

#[test]
fn wait_first_completed_returns_one_done_and_leaves_the_rest_pending() {
    let _one = one_at_a_time();
    let v = basics(5, &[]);
    let lines = log_lines(&v);
    // Task-3 ('world', 1 s) is done first; the other two are still pending.
    let done = position(
        &lines,
        "done: ['Task-3']; still pending: ['Task-2', 'Task-4']",
    );
    assert!(position(&lines, "world") < done);
    // Pending means still running: the program cancels them itself.
    assert!(done < position(&lines, "hello: cancelled while waiting"));
    assert_eq!(metric(&v, "finished"), 1.0);
    assert_eq!(metric(&v, "cancelled"), 2.0);
    let took = metric(&v, "round_seconds");
    assert!((0.95..1.3).contains(&took), "returned after {took} s");
    // cancel() at the timeout: CancelledError inside each unfinished task.
    let v = basics(6, &[]);
    assert_eq!(metric(&v, "finished"), 1.0);
    assert_eq!(metric(&v, "cancelled"), 2.0);
    position(&log_lines(&v), "2 cancelled, 1 finished");
}

fn blocking(fix: bool) -> Value {
    let fix = format!("fix={}", if fix { "on" } else { "off" });
    run_json(&[
        "asyncio-blocking",
        "--set",
        "run_for=2.4",
        "--set",
        "every=0.6",
        "--set",
        "block=0.5",
        "--set",
        &fix,
    ])
}

fn seconds_in(v: &Value, thread: &str, state: &str) -> f64 {
    v["threads"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["name"].as_str().is_some_and(|n| n.starts_with(thread)))
        .map(|t| t["seconds"][state].as_f64().unwrap_or(0.0))
        .sum()
}

#[test]
fn a_blocking_call_stalls_every_task_and_to_thread_does_not() {
    let _one = one_at_a_time();
    let stalled = blocking(false);
    let fixed = blocking(true);
    // Two reports of 0.5 s each, in both.
    assert_eq!(metric(&stalled, "reports"), 2.0);
    assert_eq!(metric(&fixed, "reports"), 2.0);
    // The loop ran a timer due in the block as late as the block: its lag
    // is about the block's length (less the part of a tick it came due in).
    let lag = metric(&stalled, "loop_lag_worst_ms");
    assert!(lag >= 400.0, "worst loop lag {lag} ms with a 500 ms block");
    assert!(metric(&stalled, "longest_lag_ms") >= 380.0);
    let lag_fixed = metric(&fixed, "loop_lag_worst_ms");
    assert!(
        lag_fixed < 120.0,
        "worst loop lag {lag_fixed} ms with to_thread"
    );
    // The downloads stood still for the whole blocks.
    let (p_stalled, p_fixed) = (metric(&stalled, "parts"), metric(&fixed, "parts"));
    assert!(
        p_stalled < 0.8 * p_fixed,
        "parts: {p_stalled} blocked vs {p_fixed} with to_thread"
    );
    // time.sleep ran on the loop's own thread, then on the executor's.
    let main_slept = seconds_in(&stalled, "MainThread", "sleeping");
    assert!(main_slept >= 0.95, "MainThread slept {main_slept} s");
    assert!(seconds_in(&fixed, "MainThread", "sleeping") < 0.05);
    assert!(seconds_in(&fixed, "asyncio_", "sleeping") >= 0.95);
    assert_eq!(seconds_in(&stalled, "asyncio_", "sleeping"), 0.0);
}

/// The record of a lab running a scenario with `knobs`, once `ready` says so.
fn lab_until(
    id: &str,
    knobs: &[(&str, f64)],
    timeout: Duration,
    ready: impl Fn(&hilos::lab::Record) -> bool,
) -> Lab {
    let scenario = scenarios::find(id).expect("scenario");
    let k = scenario.knobs();
    for (name, v) in knobs {
        k.set(name, *v).expect("knob");
    }
    let lab = Lab::new(LabOptions::default(), k);
    lab.start_main(scenario.body).expect("start");
    let deadline = Instant::now() + timeout;
    while !ready(&lab.record().lock()) {
        assert!(Instant::now() < deadline, "{id}: not ready in {timeout:?}");
        std::thread::sleep(Duration::from_millis(20));
    }
    lab
}

#[test]
fn stop_with_100000_tasks_alive_ends_them_all_and_the_record_stays_bounded() {
    let _one = one_at_a_time();
    let lab = lab_until(
        "asyncio-vs-threads",
        &[("tasks", 100_000.0), ("wait", 60.0)],
        Duration::from_secs(30),
        |r| {
            r.role_mix("Task")
                .is_some_and(|m| m.counts()[State::Sleeping.index()] >= 99_999)
        },
    );
    // While they sleep: 256 lanes, the rest counted, a few events each turn.
    {
        let r = lab.record().lock();
        let tracks = r.threads().filter(|t| t.task).count();
        assert!(
            tracks <= Limits::default().task_lanes,
            "{tracks} task tracks"
        );
        assert!(r.summarised_alive("Task") >= 99_000);
        assert!(
            r.events_recorded < 20_000,
            "{} events for 100,000 tasks",
            r.events_recorded
        );
        assert_eq!(r.events_dropped, 0);
        assert!(
            r.approx_bytes() < 16 << 20,
            "the record holds {} bytes",
            r.approx_bytes()
        );
        let mix = r.role_mix("Task").expect("the group's lane");
        let sleeping = mix.counts()[State::Sleeping.index()];
        assert!(
            sleeping >= 99_999,
            "the group lane counts {sleeping} asleep"
        );
    }
    let cpu_before = common::process_cpu();
    let report = lab.stop();
    let cpu = (common::process_cpu() - cpu_before).as_secs_f64();
    // Cancelling 100,000 tasks is CPU work: under 250 ms of it, whatever
    // else runs on the machine. Its wall time is about that on an idle
    // machine and grows with the load beside it (259 ms once beside
    // `stress --cpu 2`); 2 s would be a Stop that waits for something.
    assert!(cpu < 0.25, "Stop took {:.0} ms of CPU", cpu * 1000.0);
    assert!(
        report.stop_seconds < 2.0,
        "Stop took {:.0} ms",
        report.stop_seconds * 1000.0
    );
    assert_eq!(report.threads_left, 0);
    if let Some(n) = lab.handle().os_threads_alive() {
        assert_eq!(n, 0, "lab threads still running");
    }
    let r = lab.record().lock();
    assert_eq!(r.alive_tasks(), 0);
    assert_eq!(r.tasks_ever(), 100_001, "main and 100,000 tasks");
    let cut = r.folded_tasks.all.ended[State::Killed.index()]
        + r.threads()
            .filter(|t| t.task && t.state == State::Killed)
            .count() as u64;
    assert_eq!(cut, 100_001, "every task ended cancelled");
    let counted: i64 = r.role_mix("Task").map_or(0, |m| m.counts().iter().sum());
    assert_eq!(counted, 0, "the group lane still counts tasks");
}

#[test]
fn stop_ends_the_loop_and_the_executor_s_threads_mid_call() {
    let _one = one_at_a_time();
    // The report is inside asyncio.to_thread(time.sleep, 30) on asyncio_0.
    let lab = lab_until(
        "asyncio-blocking",
        &[
            ("fix", 1.0),
            ("block", 5.0),
            ("every", 0.2),
            ("run_for", 60.0),
        ],
        Duration::from_secs(10),
        |r| {
            r.threads()
                .any(|t| t.name.starts_with("asyncio_") && t.state == State::Sleeping)
        },
    );
    let report = lab.stop();
    assert!(report.stop_seconds < 0.25, "{report:?}");
    assert_eq!(report.threads_left, 0);
    if let Some(n) = lab.handle().os_threads_alive() {
        assert_eq!(n, 0);
    }
    let r = lab.record().lock();
    assert_eq!(r.alive_tasks(), 0);
    assert!(r.threads().filter(|t| !t.task).all(|t| t.state.is_final()));
}

#[test]
fn tasks_past_the_lane_cap_are_counted_by_role_and_folded_exactly() {
    let _one = one_at_a_time();
    let lab = Lab::new(
        LabOptions {
            limits: Limits {
                task_lanes: 5,
                finished_threads: 3,
                ..Limits::default()
            },
            ..LabOptions::default()
        },
        Knobs::new(&[]),
    );
    lab.start_main(|ctx| {
        aio::run(ctx, async {
            let mut tasks = Vec::new();
            for i in 0..20 {
                let name = if i % 2 == 0 { "Fetch" } else { "Parse" };
                tasks.push(aio::create_task_named(&format!("{name}-{i}"), async move {
                    aio::sleep(0.05 * f64::from(i % 3)).await
                }));
            }
            aio::gather(tasks).await?;
            PyResult::Ok(())
        })
    })
    .expect("start");
    assert!(lab.wait(Duration::from_secs(10)));
    lab.stop();
    let r = lab.record().lock();
    assert_eq!(r.tasks_ever(), 21);
    assert_eq!(r.alive_tasks(), 0);
    // Main and four more had lanes; three finished ones are kept whole.
    let kept = r.threads().filter(|t| t.task).count();
    assert_eq!(kept, 3, "finished task tracks kept");
    let folded = &r.folded_tasks;
    assert_eq!(folded.all.threads, 18);
    assert_eq!(folded.all.ended[State::Done.index()], 18);
    let by_role: u64 = folded.roles.values().map(|f| f.threads).sum();
    assert_eq!(by_role, 18);
    assert!(folded.roles.contains_key("Fetch") && folded.roles.contains_key("Parse"));
    // The counted ones slept about as long as they were told to, in total.
    let slept = folded.all.time_in[State::Sleeping.index()];
    assert!(slept > 0.3, "folded sleeping time {slept} s");
}

/// Ten tasks that each await `asyncio.sleep(0)` 20,000 times switch far
/// faster than the recorder takes events. A small channel makes sure the
/// recorder falls behind on any machine: the tasks that switch while it is
/// half full move from their own lanes to the Task group lane, and nothing
/// is dropped; every task is still accounted for, and the log says which
/// moved and why.
#[test]
fn tasks_that_switch_faster_than_the_recorder_are_counted_not_dropped() {
    let _one = one_at_a_time();
    let lab = Lab::new(
        LabOptions {
            channel_capacity: 256,
            ..LabOptions::default()
        },
        Knobs::new(&[]),
    );
    let switches = lab.handle().counter("switches");
    lab.start_main(move |ctx| {
        aio::run(ctx, async move {
            let tasks: Vec<_> = (0..10)
                .map(|_| {
                    let switches = switches.clone();
                    aio::create_task(async move {
                        for _ in 0..20_000 {
                            aio::sleep(0.0).await?;
                        }
                        switches.add(20_000);
                        Ok(())
                    })
                })
                .collect();
            aio::gather(tasks).await?;
            PyResult::Ok(())
        })
    })
    .expect("start");
    assert!(lab.wait(Duration::from_secs(60)));
    lab.stop();
    let r = lab.record().lock();
    assert_eq!(r.counter_value("switches"), Some(200_000));
    assert_eq!(r.events_dropped, 0, "{} events recorded", r.events_recorded);
    assert!(
        (1..=10).contains(&r.coarse_tasks),
        "{} tasks moved to the group lane",
        r.coarse_tasks
    );
    assert_eq!(r.tasks_ever(), 11, "ten tasks and main()");
    assert_eq!(r.alive_tasks(), 0);
    let moved = r
        .log
        .iter()
        .filter(|l| {
            l.text
                .contains("switches faster than the recorder can take")
        })
        .count() as u64;
    assert_eq!(moved, r.coarse_tasks);
    // Far fewer events than the 400,000 state changes.
    assert!(
        r.events_recorded < 100_000,
        "{} events recorded",
        r.events_recorded
    );
}

fn check_with_python(id: &str, sets: &[&str]) -> Value {
    let mut args = vec![
        "run",
        id,
        "--python",
        "--check",
        "--json",
        "--seconds",
        "60",
    ];
    for s in sets {
        args.extend(["--set", s]);
    }
    let out = Command::new(env!("CARGO_BIN_EXE_hilos"))
        .args(&args)
        .output()
        .expect("run hilos");
    let report: Value = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| {
        panic!(
            "{args:?}: not JSON ({e}): {}",
            String::from_utf8_lossy(&out.stderr)
        )
    });
    assert_eq!(
        report["python"]["exit"]["code"], 0,
        "{args:?}: {:#}",
        report["python"]["output"]
    );
    assert!(
        report["agree"] == true && out.status.code() == Some(0),
        "{args:?}: {:#}",
        report["outcomes"]
    );
    report
}

#[test]
fn every_strategy_and_the_fix_agree_with_cpython() {
    if hilos::python::find_interpreter(None).is_err() {
        eprintln!("*** SKIPPED: no Python 3 to check the asyncio programs against ***");
        return;
    }
    let _one = one_at_a_time();
    for strategy in 0..=6 {
        let s = format!("strategy={strategy}");
        let r = check_with_python("asyncio-basics", &["delay=0.1", "timeout=0.15", &s]);
        let finished = r["outcomes"][1]["python"].as_f64();
        let expected = if strategy >= 4 { 1.0 } else { 3.0 };
        assert_eq!(finished, Some(expected), "strategy {strategy}");
    }
    let quick = ["run_for=2", "every=0.6", "block=0.4"];
    let r = check_with_python("asyncio-blocking", &quick);
    assert!(r["outcomes"][0]["python"].as_f64().unwrap_or(0.0) >= 300.0);
    let r = check_with_python(
        "asyncio-blocking",
        &[quick[0], quick[1], quick[2], "fix=on"],
    );
    assert!(r["outcomes"][0]["python"].as_f64().unwrap_or(1e9) < 100.0);
}
