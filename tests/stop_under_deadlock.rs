//! Stop always works: with a thread blocked on a lock it holds, and with two
//! threads in a lock-order cycle, Stop ends every worker promptly and leaves no
//! OS thread of the lab behind.

mod common;

use std::time::{Duration, Instant};

use hilos::lab::{Knobs, Lab, LabOptions, State};

/// Check how many of a lab's OS threads are alive. They are counted in /proc,
/// so only on Linux; elsewhere the count is `None` and this check is skipped.
#[track_caller]
fn assert_os_threads(counted: Option<usize>, expected: usize, what: &str) {
    if cfg!(target_os = "linux") {
        assert_eq!(counted, Some(expected), "{what}");
    }
}

fn wait_until(what: &str, cond: impl Fn() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for: {what}");
        std::thread::sleep(Duration::from_millis(2));
    }
}

#[test]
fn stop_ends_a_self_deadlock_promptly_and_leaves_no_threads() {
    let lab = Lab::new(LabOptions::default(), Knobs::new(&[]));
    let lock = lab.handle().lock("lock");
    let t = lab.handle().thread("Stuck", false, move |_| {
        lock.acquire()?;
        lock.acquire()?; // a Lock is not re-entrant: blocks on itself
        Ok(())
    });
    t.start().unwrap();
    wait_until("blocked on itself", || t.state() == State::Blocked);
    wait_until("the recorder names the deadlock", || {
        lab.record().lock().deadlocks().len() == 1
    });
    assert_os_threads(lab.handle().os_threads_alive(), 1, "the stuck worker");
    let report = lab.stop();
    assert!(
        report.stop_seconds < 0.25,
        "stop took {} s",
        report.stop_seconds
    );
    assert_eq!(report.threads_left, 0);
    assert_os_threads(
        common::os_threads_left(&lab.handle().shared().os_thread_prefix()),
        0,
        "no worker thread left in the process",
    );
    assert_eq!(t.state(), State::Killed);
    let rec = lab.record().lock();
    assert_eq!(rec.thread(t.id()).unwrap().state, State::Killed);
}

#[test]
fn stop_ends_a_lock_order_cycle_promptly_and_leaves_no_threads() {
    let lab = Lab::new(LabOptions::default(), Knobs::new(&[]));
    let a = lab.handle().lock("lock_a");
    let b = lab.handle().lock("lock_b");
    let mut threads = Vec::new();
    for (name, first, second) in [("T1", a.clone(), b.clone()), ("T2", b.clone(), a.clone())] {
        let t = lab.handle().thread(name, false, move |c| {
            first.acquire()?;
            c.sleep(0.05)?; // let the other take its first lock
            second.acquire()?;
            Ok(())
        });
        t.start().unwrap();
        threads.push(t);
    }
    // Plus a few bystanders asleep, blocked on a queue, and waiting on an event.
    let q = lab.handle().queue::<u8>("q", 1);
    let ev = lab.handle().event("ev");
    let sleeper = lab.handle().thread("Sleeper", false, |c| c.sleep(3600.0));
    let getter = lab
        .handle()
        .thread("Getter", false, move |_| q.get().map(|_| ()));
    let waiter = lab
        .handle()
        .thread("Waiter", true, move |_| ev.wait(None).map(|_| ()));
    for t in [&sleeper, &getter, &waiter] {
        t.start().unwrap();
    }
    wait_until("both blocked", || {
        threads.iter().all(|t| t.state() == State::Blocked)
    });
    wait_until("cycle named", || {
        let rec = lab.record().lock();
        rec.deadlocks().iter().any(|c| c.len() == 2)
    });
    assert_os_threads(
        lab.handle().os_threads_alive(),
        5,
        "two in the cycle, three bystanders",
    );
    let t0 = Instant::now();
    let report = lab.stop();
    let took = t0.elapsed();
    assert!(took < Duration::from_millis(250), "stop took {took:?}");
    assert_eq!(report.threads_left, 0);
    assert_os_threads(
        common::os_threads_left(&lab.handle().shared().os_thread_prefix()),
        0,
        "no worker thread left in the process",
    );
    for t in threads.iter().chain([&sleeper, &getter, &waiter]) {
        assert_eq!(t.state(), State::Killed, "{}", t.name());
    }
    eprintln!(
        "stop under a lock-order deadlock took {:.3} ms",
        report.stop_seconds * 1000.0
    );
}

#[test]
fn dropping_a_lab_stops_it() {
    let prefix;
    {
        let lab = Lab::new(LabOptions::default(), Knobs::new(&[]));
        prefix = lab.handle().shared().os_thread_prefix();
        let t = lab.handle().thread("Sleeper", false, |c| c.sleep(3600.0));
        t.start().unwrap();
        wait_until("asleep", || t.state() == State::Sleeping);
    }
    assert_os_threads(
        common::os_threads_left(&prefix),
        0,
        "the dropped lab's sleeper",
    );
}

#[test]
fn start_stop_spam_never_leaks_a_thread() {
    // What a learner hammering Start / Reset does: start a busy scenario and
    // stop it at once or after a few milliseconds, again and again.
    let scenario = hilos::scenarios::find("producer-consumer").unwrap();
    let mut worst = Duration::ZERO;
    for round in 0..30u64 {
        let knobs = scenario.knobs();
        knobs.set("producers", 16.0).unwrap();
        knobs.set("consumers", 16.0).unwrap();
        knobs.set("produce_pause", 0.001).unwrap();
        knobs.set("consume_pause", 0.001).unwrap();
        let lab = Lab::new(LabOptions::default(), knobs);
        let prefix = lab.handle().shared().os_thread_prefix();
        lab.start_main(scenario.body).unwrap();
        std::thread::sleep(Duration::from_millis(round % 7));
        let report = lab.stop();
        worst = worst.max(Duration::from_secs_f64(report.stop_seconds));
        assert_eq!(report.threads_left, 0, "round {round}");
        assert_os_threads(
            common::os_threads_left(&prefix),
            0,
            &format!("round {round}"),
        );
        assert_eq!(lab.handle().active_count(), 0, "round {round}");
        for t in lab.record().lock().threads() {
            assert!(
                t.state.is_final(),
                "round {round}: {} {:?}",
                t.name,
                t.state
            );
        }
    }
    assert!(worst < Duration::from_millis(250), "slowest stop {worst:?}");
}
