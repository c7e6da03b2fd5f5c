//! The synchronisation scenarios (semaphore, timer, barrier, event,
//! condition) teach their lessons headless, through the real `hilos` binary,
//! and stop promptly. Timings use generous bounds: CI is a loaded 2-core box.

use std::process::Command;
use std::time::{Duration, Instant};

use hilos::lab::{Lab, LabOptions};
use hilos::scenarios;
use serde_json::Value;

fn run_json(args: &[&str]) -> Value {
    let mut all = vec!["run"];
    all.extend_from_slice(args);
    all.push("--json");
    let out = Command::new(env!("CARGO_BIN_EXE_hilos"))
        .args(&all)
        .output()
        .expect("run hilos");
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "hilos {all:?} failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_str(&stdout).unwrap_or_else(|e| panic!("not JSON ({e}): {stdout}"))
}

/// `run_json` with `--set` for each of `sets`.
fn run_with(id: &str, sets: &[&str], extra: &[&str]) -> Value {
    let mut args = vec![id];
    for s in sets {
        args.push("--set");
        args.push(s);
    }
    args.extend_from_slice(extra);
    run_json(&args)
}

fn metric(v: &Value, name: &str) -> f64 {
    v["metrics"][name]
        .as_f64()
        .unwrap_or_else(|| panic!("no metric {name} in {}", v["metrics"]))
}

fn resource<'a>(v: &'a Value, name: &str) -> &'a Value {
    v["resources"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["name"] == name)
        .unwrap_or_else(|| panic!("no resource {name}"))
}

fn thread<'a>(v: &'a Value, name: &str) -> &'a Value {
    v["threads"]
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == name)
        .unwrap_or_else(|| panic!("no thread {name}"))
}

fn threads_named<'a>(v: &'a Value, prefix: &'a str) -> impl Iterator<Item = &'a Value> + 'a {
    v["threads"]
        .as_array()
        .unwrap()
        .iter()
        .filter(move |t| t["name"].as_str().unwrap().starts_with(prefix))
}

/// Poll until `cond` holds or 5 s pass.
fn eventually(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for: {what}");
        std::thread::sleep(Duration::from_millis(5));
    }
}

// ---------------------------------------------------------------- semaphore

#[test]
fn semaphore_peak_equals_permits_when_clients_outnumber_them_and_rounds_set_the_time() {
    let v = run_with("semaphore", &["permits=3", "clients=10", "hold=0.2"], &[]);
    assert_eq!(v["finished"], true);
    assert_eq!(metric(&v, "downloads"), 10.0);
    assert_eq!(
        metric(&v, "peak_concurrency"),
        3.0,
        "10 clients, 3 permits: exactly 3 at once"
    );
    assert_eq!(metric(&v, "fewest_free"), 0.0, "every permit was taken");
    let pool = resource(&v, "pool");
    assert_eq!(pool["kind"], "Semaphore");
    assert_eq!(pool["capacity"], 3);
    assert_eq!(pool["level"]["max"], 3.0, "never above its permits");
    assert_eq!(pool["level"]["min"], 0.0);
    assert!(
        pool["waiters"]["max"].as_f64().unwrap() >= 6.0,
        "the clients without a permit waited: {}",
        pool["waiters"]
    );
    // ceil(10 / 3) = 4 rounds of 0.2 s.
    let total = metric(&v, "total_seconds");
    assert!(
        (0.78..1.2).contains(&total),
        "4 rounds × 0.2 s, took {total} s"
    );
    // The clients without a permit were blocked on the semaphore.
    let blocked = threads_named(&v, "Client")
        .filter(|t| t["seconds"]["blocked"].as_f64().unwrap_or(0.0) > 0.1)
        .count();
    assert!(blocked >= 6, "{blocked} clients blocked");

    // Fewer clients than permits: all at once, one round.
    let v = run_with("semaphore", &["permits=5", "clients=3", "hold=0.2"], &[]);
    assert_eq!(metric(&v, "peak_concurrency"), 3.0);
    assert_eq!(metric(&v, "fewest_free"), 2.0);
    let total = metric(&v, "total_seconds");
    assert!((0.19..0.45).contains(&total), "one round, took {total} s");
}

#[test]
fn semaphore_time_is_in_scenario_seconds_at_any_speed() {
    // 6 clients, 2 permits, 1 s each: 3 rounds = 3 scenario seconds, run
    // in 0.3 real seconds at speed 10.
    let v = run_with(
        "semaphore",
        &["permits=2", "clients=6", "hold=1"],
        &["--speed", "10"],
    );
    assert_eq!(metric(&v, "peak_concurrency"), 2.0);
    let total = metric(&v, "total_seconds");
    assert!((2.9..4.5).contains(&total), "3 rounds of 1 s: {total}");
    assert!(v["seconds"].as_f64().unwrap() < 2.0, "{}", v["seconds"]);
}

#[test]
fn a_bounded_semaphore_refuses_the_extra_release_and_a_plain_one_grows() {
    let sets = ["permits=3", "clients=7", "hold=0.2", "buggy=on"];
    let plain = run_with("semaphore", &sets, &[]);
    assert_eq!(metric(&plain, "refused"), 0.0, "a plain one says nothing");
    assert_eq!(thread(&plain, "Client-1")["state"], "done");
    assert_eq!(
        metric(&plain, "free_at_end"),
        4.0,
        "it grew: 4 free permits out of 3"
    );
    let pool = resource(&plain, "pool");
    assert_eq!(pool["capacity"], 3);
    assert_eq!(pool["level"]["max"], 4.0, "free permits above N");
    assert_eq!(
        metric(&plain, "peak_concurrency"),
        4.0,
        "one download more than the permits allow"
    );

    let mut sets = sets.to_vec();
    sets.push("bounded=on");
    let bounded = run_with("semaphore", &sets, &[]);
    assert_eq!(metric(&bounded, "refused"), 1.0);
    let client = thread(&bounded, "Client-1");
    assert_eq!(client["state"], "failed");
    assert_eq!(
        client["failure"], "ValueError: Semaphore released too many times",
        "Python's message on the lane"
    );
    let pool = resource(&bounded, "pool");
    assert_eq!(pool["kind"], "BoundedSemaphore");
    assert_eq!(pool["level"]["max"], 3.0, "the bound held");
    assert_eq!(metric(&bounded, "free_at_end"), 3.0);
    assert_eq!(metric(&bounded, "peak_concurrency"), 3.0);
    assert_eq!(metric(&bounded, "downloads"), 7.0, "the others went on");
    for n in 2..=7 {
        assert_eq!(thread(&bounded, &format!("Client-{n}"))["state"], "done");
    }
}

#[test]
fn semaphore_follows_the_permits_knob_live() {
    let scenario = scenarios::find("semaphore").unwrap();
    let knobs = scenario.knobs();
    knobs.set("clients", 40.0).unwrap();
    knobs.set("hold", 0.3).unwrap();
    knobs.set("permits", 2.0).unwrap();
    let lab = Lab::new(LabOptions::default(), knobs);
    lab.start_main(scenario.body).unwrap();
    let downloading = |lab: &Lab| lab.record().lock().counter_value("downloading");
    eventually("two downloading", || downloading(&lab) == Some(2));
    lab.set_knob("permits", 6.0).unwrap();
    eventually("six downloading", || downloading(&lab) == Some(6));
    {
        let rec = lab.record().lock();
        let pool = rec.resource_by_name("pool").unwrap();
        assert_eq!(pool.capacity, Some(6));
    }
    let report = lab.stop();
    assert!(report.stop_seconds < 0.25, "{report:?}");
    assert_eq!(report.threads_left, 0);
    let rec = lab.record().lock();
    let peak = rec.counter("downloading").unwrap().series.max;
    assert_eq!(peak, 6.0, "never more than the permits of the moment");
}

// -------------------------------------------------------------------- timer

fn seconds_in(t: &Value, state: &str) -> f64 {
    t["seconds"][state].as_f64().unwrap_or(0.0)
}

fn log_has(v: &Value, text: &str) -> bool {
    v["log"]
        .as_array()
        .unwrap()
        .iter()
        .any(|l| l["text"].as_str().unwrap().contains(text))
}

#[test]
fn a_timer_fires_once_after_its_delay_and_a_cancelled_one_never_fires() {
    let quick = ["delay=0.2", "warn_delay=0.8", "interval=0.1", "ticks=3"];
    let mut sets = quick.to_vec();
    sets.push("cancel_at=0.4");
    let v = run_with("timer", &sets, &["--log"]);
    assert_eq!(v["finished"], true);
    assert_eq!(metric(&v, "reminder_fired"), 1.0);
    assert_eq!(
        metric(&v, "warning_fired"),
        0.0,
        "cancelled before it fired"
    );
    assert_eq!(metric(&v, "cancelled"), 1.0);
    assert_eq!(metric(&v, "pending"), 0.0, "nothing left pending");
    let reminder = thread(&v, "Reminder");
    assert_eq!(reminder["state"], "done");
    let waited = seconds_in(reminder, "waiting");
    assert!((0.19..0.4).contains(&waited), "reminder waited {waited} s");
    // The warning waited until the cancel, not its whole delay, and never ran warn().
    let warning = thread(&v, "Warning");
    assert_eq!(warning["state"], "done");
    let waited = seconds_in(warning, "waiting");
    assert!((0.38..0.7).contains(&waited), "warning waited {waited} s");
    assert!(log_has(&v, "Reminder: time is up"));
    assert!(!log_has(&v, "Warning: nobody answered"));
    assert!(log_has(&v, "Main: cancelled the warning before it fired"));

    // Cancelled too late: it fired, and cancel() did nothing, raising nothing.
    let mut sets = quick.to_vec();
    sets.push("cancel_at=1.0");
    let v = run_with("timer", &sets, &["--log"]);
    assert_eq!(metric(&v, "warning_fired"), 1.0);
    assert_eq!(metric(&v, "cancelled"), 0.0);
    assert!(log_has(&v, "Warning: nobody answered"));
    assert!(log_has(&v, "cancel() came too late"));
    assert_eq!(thread(&v, "MainThread")["state"], "done");
}

#[test]
fn the_repeating_timer_fires_on_schedule_one_timer_thread_per_call() {
    let v = run_with(
        "timer",
        &["interval=0.2", "ticks=5", "cancel_at=0.1", "delay=0.1"],
        &[],
    );
    assert_eq!(metric(&v, "ticks"), 5.0);
    let ticks: Vec<&Value> = threads_named(&v, "Tick-").collect();
    assert_eq!(ticks.len(), 5, "a new Timer thread for every call");
    for t in &ticks {
        let waited = seconds_in(t, "waiting");
        assert!(
            (0.19..0.4).contains(&waited),
            "{} waited {waited} s",
            t["name"]
        );
    }
    // Calls at 0.2, 0.4 … 1.0 s, each re-armed after the last: a little late.
    let last = metric(&v, "last_tick_at");
    assert!((0.99..1.4).contains(&last), "last tick at {last} s");
}

#[test]
fn the_repeating_timer_follows_its_interval_live() {
    let scenario = scenarios::find("timer").unwrap();
    let knobs = scenario.knobs();
    knobs.set("interval", 0.05).unwrap();
    knobs.set("ticks", 50.0).unwrap();
    let lab = Lab::new(LabOptions::default(), knobs);
    lab.start_main(scenario.body).unwrap();
    let ticks = |lab: &Lab| lab.record().lock().counter_value("ticks").unwrap_or(0);
    eventually("two ticks", || ticks(&lab) >= 2);
    lab.set_knob("interval", 0.4).unwrap();
    let before = ticks(&lab);
    // The tick armed before the change still waits 0.05 s; the next ones 0.4 s.
    eventually("two more ticks", || ticks(&lab) >= before + 3);
    let report = lab.stop();
    assert!(report.stop_seconds < 0.25, "{report:?}");
    assert_eq!(report.threads_left, 0);
    let rec = lab.record().lock();
    let waits: Vec<f64> = rec
        .threads()
        // The ones that fired (the last was still pending at the stop).
        .filter(|t| t.name.starts_with("Tick-") && t.state == hilos::lab::State::Done)
        .filter_map(|t| {
            t.spans
                .iter()
                .find(|s| s.state == hilos::lab::State::Waiting)
                .map(|s| s.end - s.start)
        })
        .collect();
    assert!(waits[0] < 0.2, "first ticks: {waits:?}");
    let last = waits[waits.len() - 1];
    assert!((0.38..0.7).contains(&last), "after the change: {waits:?}");
}

// ------------------------------------------------------------------ barrier

/// (time, thread, text) of the log lines containing `text`.
fn log_lines<'a>(v: &'a Value, text: &'a str) -> Vec<(f64, &'a str, &'a str)> {
    v["log"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|l| l["text"].as_str().unwrap().contains(text))
        .map(|l| {
            (
                l["t"].as_f64().unwrap(),
                l["thread"].as_str().unwrap_or(""),
                l["text"].as_str().unwrap(),
            )
        })
        .collect()
}

#[test]
fn the_barrier_releases_every_party_together_and_runs_the_action_once_per_generation() {
    let v = run_with(
        "barrier",
        &["parties=4", "spread=0.45", "generations=3", "timeout=5"],
        &["--log"],
    );
    assert_eq!(v["finished"], true);
    assert_eq!(metric(&v, "generations"), 3.0);
    assert_eq!(metric(&v, "passed"), 12.0);
    assert_eq!(metric(&v, "broken"), 0.0);
    let barrier = resource(&v, "barrier");
    assert_eq!(barrier["capacity"], 4);
    assert_eq!(barrier["level"]["max"], 4.0, "all four piled up");
    let arrived = log_lines(&v, "arrived, waiting");
    let passed = log_lines(&v, "passed the barrier");
    let actions = log_lines(&v, "runs the action");
    assert_eq!(arrived.len(), 12);
    assert_eq!(passed.len(), 12);
    assert_eq!(actions.len(), 3, "{actions:?}");
    let mut runners = Vec::new();
    for g in 0..3 {
        let came = &arrived[4 * g..4 * g + 4];
        let left = &passed[4 * g..4 * g + 4];
        // Arrivals spread over about 0.45 s; departures together.
        let arrival_spread = came[3].0 - came[0].0;
        assert!(
            arrival_spread > 0.35,
            "generation {g}: arrivals within {arrival_spread} s"
        );
        let release_spread = left[3].0 - left[0].0;
        assert!(
            release_spread < 0.06,
            "generation {g}: released over {release_spread} s"
        );
        assert!(
            left[0].0 >= came[3].0,
            "nobody left before the last arrived"
        );
        // The action ran once, after the last arrival, before anyone left,
        // in the thread that arrived last.
        let (t, who, text) = actions[g];
        assert!(text.contains(&format!("generation {} complete", g + 1)));
        assert!(came[3].0 <= t && t <= left[0].0, "generation {g}");
        assert_eq!(who, came[3].1, "generation {g}: run by the last to arrive");
        let last_out = left
            .iter()
            .find(|l| l.2.contains("arrived 4 of 4"))
            .unwrap();
        assert_eq!(last_out.1, who);
        runners.push(who);
    }
    runners.sort();
    runners.dedup();
    assert_eq!(
        runners.len(),
        3,
        "a different thread arrives last each time"
    );
}

#[test]
fn abort_and_a_timeout_break_the_barrier_for_every_waiter_and_reset_mends_it() {
    let quick = ["parties=3", "spread=0.4", "generations=2", "timeout=5"];
    let mut sets = quick.to_vec();
    sets.push("abort=on");
    let v = run_with("barrier", &sets, &["--log"]);
    // Generation 1 passes; in generation 2 Party-1 aborts: Party-3 was
    // waiting, Party-2 arrives after: both get BrokenBarrierError.
    assert_eq!(metric(&v, "broken"), 2.0);
    assert_eq!(thread(&v, "Party-1")["state"], "done");
    for name in ["Party-2", "Party-3"] {
        let t = thread(&v, name);
        assert_eq!(t["state"], "failed", "{name}");
        assert_eq!(t["failure"], "threading.BrokenBarrierError", "{name}");
    }
    // reset() made it usable: the retry generation passed.
    assert!(log_has(&v, "reset()"));
    for name in ["Retry-1", "Retry-2", "Retry-3"] {
        assert_eq!(thread(&v, name)["state"], "done", "{name}");
    }
    assert_eq!(
        metric(&v, "generations"),
        2.0,
        "one before the abort, one after reset"
    );
    assert_eq!(metric(&v, "passed"), 6.0);

    // The first to arrive gives up after 0.1 s: everyone gets the error.
    let v = run_with(
        "barrier",
        &["parties=3", "spread=0.6", "generations=2", "timeout=0.1"],
        &[],
    );
    assert_eq!(metric(&v, "broken"), 3.0);
    for name in ["Party-1", "Party-2", "Party-3"] {
        assert_eq!(
            thread(&v, name)["failure"],
            "threading.BrokenBarrierError",
            "{name}"
        );
    }
    assert_eq!(metric(&v, "generations"), 1.0, "only the retry passed");
    assert_eq!(thread(&v, "MainThread")["state"], "done");
}

// -------------------------------------------------------------------- event

#[test]
fn every_waiter_wakes_at_set_and_a_timed_out_wait_returns_false() {
    let v = run_with(
        "event",
        &[
            "waiters=5",
            "impatient=2",
            "timeout=0.3",
            "set_after=0.8",
            "latecomers=2",
        ],
        &["--log"],
    );
    assert_eq!(v["finished"], true);
    assert_eq!(metric(&v, "woken"), 3.0);
    assert_eq!(metric(&v, "timed_out"), 2.0);
    assert_eq!(metric(&v, "late_waited"), 2.0, "clear() made them wait");
    assert_eq!(resource(&v, "pushed")["waiters"]["max"], 5.0);
    let set_at = log_lines(&v, "Main: pushed: pushed.set()")[0].0;
    let pulled = log_lines(&v, "the push is in, pulling");
    assert_eq!(pulled.len(), 3);
    for (t, who, _) in &pulled {
        assert!(
            *t >= set_at && *t - set_at < 0.05,
            "{who} woke {} s after the set",
            t - set_at
        );
    }
    // The impatient ones (Dev-4, Dev-5) gave up at their timeout, before the set.
    let gave_up = log_lines(&v, "gave up: wait() returned False");
    let names: Vec<&str> = gave_up.iter().map(|l| l.1).collect();
    assert_eq!(names.len(), 2);
    assert!(
        names.contains(&"Dev-4") && names.contains(&"Dev-5"),
        "{names:?}"
    );
    for (t, who, _) in &gave_up {
        assert!(
            *t < set_at - 0.2,
            "{who} gave up at {t}, the set came at {set_at}"
        );
        let waited = seconds_in(thread(&v, who), "waiting");
        assert!((0.29..0.6).contains(&waited), "{who} waited {waited} s");
    }
    for who in ["Dev-1", "Dev-2", "Dev-3"] {
        let waited = seconds_in(thread(&v, who), "waiting");
        assert!((0.78..1.2).contains(&waited), "{who} waited {waited} s");
    }
    // After clear(), the latecomers blocked until the second set.
    for who in ["Late-1", "Late-2"] {
        let waited = seconds_in(thread(&v, who), "waiting");
        assert!((0.75..1.2).contains(&waited), "{who} waited {waited} s");
    }
}

#[test]
fn without_clear_an_event_stays_set_and_latecomers_pass_straight_through() {
    let v = run_with(
        "event",
        &[
            "waiters=2",
            "impatient=0",
            "set_after=0.3",
            "latecomers=3",
            "clear=off",
        ],
        &["--log"],
    );
    assert_eq!(metric(&v, "woken"), 2.0);
    assert_eq!(metric(&v, "timed_out"), 0.0);
    assert_eq!(metric(&v, "late_waited"), 0.0);
    for who in ["Late-1", "Late-2", "Late-3"] {
        let waited = seconds_in(thread(&v, who), "waiting");
        assert!(waited < 0.01, "{who} waited {waited} s");
    }
    assert_eq!(log_lines(&v, "the push is already in: no wait").len(), 3);
}

#[test]
fn the_event_is_set_when_the_live_knob_says() {
    let scenario = scenarios::find("event").unwrap();
    let knobs = scenario.knobs();
    knobs.set("set_after", 30.0).unwrap();
    knobs.set("impatient", 0.0).unwrap();
    let lab = Lab::new(LabOptions::default(), knobs);
    lab.start_main(scenario.body).unwrap();
    let woken = |lab: &Lab| lab.record().lock().counter_value("woken").unwrap_or(0);
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(woken(&lab), 0, "still 29 s to go");
    lab.set_knob("set_after", 0.4).unwrap();
    eventually("all four woken", || woken(&lab) == 4);
    let report = lab.stop();
    assert!(report.stop_seconds < 0.25, "{report:?}");
    assert_eq!(report.threads_left, 0);
}

// ---------------------------------------------------------------- condition

/// For each "Main: put item" line, the wake-up lines logged before the next one.
fn wakeups_per_notify(v: &Value) -> Vec<Vec<&str>> {
    let mut rounds: Vec<Vec<&str>> = Vec::new();
    for l in v["log"].as_array().unwrap() {
        let text = l["text"].as_str().unwrap();
        if text.starts_with("Main: put item") {
            rounds.push(Vec::new());
        } else if text.contains(": woke up:")
            && let Some(round) = rounds.last_mut()
        {
            round.push(text);
        }
    }
    rounds
}

#[test]
fn notify_wakes_exactly_one_waiter_and_notify_all_wakes_every_one() {
    let quick = ["consumers=3", "items=4", "produce_every=0.3", "consume=0.1"];
    let v = run_with("condition", &quick, &["--log"]);
    assert_eq!(v["finished"], true);
    assert_eq!(metric(&v, "consumed"), 4.0);
    assert_eq!(metric(&v, "wakeups"), 4.0);
    assert_eq!(metric(&v, "wasted"), 0.0);
    assert_eq!(resource(&v, "items_ready")["waiters"]["max"], 3.0);
    let rounds = wakeups_per_notify(&v);
    assert_eq!(rounds.len(), 4);
    for (i, woke) in rounds.iter().enumerate() {
        assert_eq!(woke.len(), 1, "notify() for item {}: {woke:?}", i + 1);
        assert!(woke[0].contains("1 item(s) to take"), "{woke:?}");
    }

    let mut sets = quick.to_vec();
    sets.push("notify_all=on");
    let v = run_with("condition", &sets, &["--log"]);
    assert_eq!(metric(&v, "consumed"), 4.0);
    assert_eq!(
        metric(&v, "wakeups"),
        12.0,
        "all three, for each of 4 items"
    );
    assert_eq!(metric(&v, "wasted"), 8.0, "two of the three found nothing");
    for (i, woke) in wakeups_per_notify(&v).iter().enumerate() {
        assert_eq!(woke.len(), 3, "notify_all() for item {}: {woke:?}", i + 1);
        let found = woke.iter().filter(|w| w.contains("to take")).count();
        assert_eq!(found, 1, "the first to get the lock takes it: {woke:?}");
    }
    // The woken consumers took the lock back one at a time.
    let lock = resource(&v, "lock");
    assert_eq!(lock["kind"], "Lock");
    assert_eq!(lock["level"]["max"], 1.0);
    // Holding either condition is holding that lock, and they say so.
    assert_eq!(resource(&v, "items_ready")["level"]["max"], 1.0);
    assert_eq!(resource(&v, "all_done")["level"]["max"], 1.0);
    // Main's wait_for on all_done waited for the last item to be handled.
    assert!(seconds_in(thread(&v, "MainThread"), "waiting") > 0.05);
    for t in threads_named(&v, "Consumer") {
        assert_eq!(t["state"], "done", "{}", t["name"]);
    }
}

// ------------------------------------------------------------ every one stops

#[test]
fn every_sync_scenario_stops_under_250_ms_with_no_thread_left() {
    // Knobs that keep each running far longer than the 0.6 s it is given.
    let cases: &[(&str, &[&str])] = &[
        ("semaphore", &["clients=64", "hold=5"]),
        (
            "timer",
            &["delay=10", "warn_delay=10", "interval=5", "ticks=50"],
        ),
    ];
    for (id, sets) in cases {
        let v = run_with(id, sets, &["--seconds", "0.6"]);
        assert_eq!(v["finished"], false, "{id} ended by itself");
        let stop = v["stop"]["stop_seconds"].as_f64().unwrap();
        assert!(stop < 0.25, "{id}: stop took {stop} s");
        assert_eq!(v["stop"]["threads_left"], 0, "{id}");
        assert!(
            v["threads"].as_array().unwrap().len() > 1,
            "{id}: workers ran"
        );
        for t in v["threads"].as_array().unwrap() {
            let state = t["state"].as_str().unwrap();
            assert!(
                ["done", "killed"].contains(&state),
                "{id}: {} ended {state}",
                t["name"]
            );
        }
    }
}
