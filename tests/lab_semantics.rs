//! The primitives behave the way Python's documentation says, on real threads.

use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::mpsc;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hilos::lab::record::Limits;
use hilos::lab::{Ctx, Knobs, Lab, LabOptions, State, SyncError, SyncResult, Thread};

fn lab() -> Lab {
    Lab::new(LabOptions::default(), Knobs::new(&[]))
}

fn start(
    lab: &Lab,
    name: &str,
    body: impl FnOnce(&Ctx) -> SyncResult<()> + Send + 'static,
) -> Thread {
    let t = lab.handle().thread(name, false, body);
    t.start().expect("start");
    t
}

/// Poll until `cond` holds or 5 s pass (generous: CI machines are slow).
fn eventually(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for: {what}");
        std::thread::sleep(Duration::from_millis(2));
    }
}

#[test]
fn lock_is_not_reentrant_and_blocks_its_own_owner() {
    let lab = lab();
    let lock = lab.handle().lock("lock");
    let l = lock.clone();
    let t = start(&lab, "Owner", move |_| {
        l.acquire()?;
        assert!(
            !l.try_acquire()?,
            "a held Lock refuses a non-blocking acquire"
        );
        l.acquire()?; // blocks forever: Lock is not re-entrant
        unreachable!("the second acquire must never succeed");
    });
    eventually("owner blocked on its own lock", || {
        t.state() == State::Blocked
    });
    std::thread::sleep(Duration::from_millis(50));
    assert_eq!(t.state(), State::Blocked);
    let report = lab.stop();
    assert!(
        report.stop_seconds < 0.25,
        "stop took {} s",
        report.stop_seconds
    );
    assert_eq!(t.state(), State::Killed);
}

#[test]
fn lock_release_rules_follow_python() {
    let lab = lab();
    let lock = lab.handle().lock("lock");
    assert!(
        matches!(lock.release(), Err(SyncError::RuntimeError(_))),
        "release unlocked lock"
    );
    lock.acquire().unwrap();
    assert!(lock.locked());
    // Python lets any thread release a Lock.
    let l = lock.clone();
    let t = start(&lab, "Other", move |_| l.release());
    t.join(None).unwrap();
    assert_eq!(t.state(), State::Done);
    assert!(!lock.locked());
    assert!(lock.acquire_timeout(0.01).unwrap());
    assert!(
        !lock.acquire_timeout(0.02).unwrap(),
        "timed acquire of a held lock gives up"
    );
}

#[test]
fn rlock_is_reentrant_and_only_its_owner_releases() {
    let lab = lab();
    let rlock = lab.handle().rlock("rlock");
    let (tx, rx) = mpsc::channel();
    let r = rlock.clone();
    let owner = start(&lab, "Owner", move |_| {
        r.acquire()?;
        r.acquire()?;
        tx.send(r.depth()).unwrap();
        std::thread::sleep(Duration::from_millis(100));
        r.release()?;
        r.release()?;
        Ok(())
    });
    assert_eq!(rx.recv().unwrap(), 2);
    let r = rlock.clone();
    let other = start(&lab, "Other", move |_| {
        assert!(matches!(r.release(), Err(SyncError::RuntimeError(_))));
        let t0 = Instant::now();
        r.acquire()?;
        assert!(
            t0.elapsed() >= Duration::from_millis(30),
            "waited for both releases"
        );
        r.release()
    });
    other.join(None).unwrap();
    owner.join(None).unwrap();
    assert_eq!(other.state(), State::Done);
    assert_eq!(owner.state(), State::Done);
}

/// Run `f` on a thread of its own and give back its result, failing the test
/// instead of hanging if it has not returned within 5 s.
fn within_5s<T: Send + 'static>(what: &str, f: impl FnOnce() -> T + Send + 'static) -> T {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let _ = tx.send(f());
    });
    rx.recv_timeout(Duration::from_secs(5))
        .unwrap_or_else(|_| panic!("still blocked after 5 s: {what}"))
}

#[test]
fn rlock_is_reentrant_on_threads_the_lab_did_not_start() {
    let lab = lab();
    let rlock = lab.handle().rlock("rlock");
    // The test's own thread, like Python's main thread.
    rlock.acquire().unwrap();
    assert!(
        rlock.acquire_timeout(5.0).unwrap(),
        "the owner acquires again at once"
    );
    assert_eq!(rlock.depth(), 2);
    // Another thread the lab did not start is not the owner.
    let r = rlock.clone();
    let (release, try_acquire) = within_5s("a foreign thread's release", move || {
        (r.release(), r.try_acquire())
    });
    assert_eq!(
        release,
        Err(SyncError::RuntimeError(
            "cannot release un-acquired lock".into()
        ))
    );
    assert_eq!(try_acquire, Ok(false), "it is not re-entrant for them");
    assert_eq!(rlock.depth(), 2, "a refused release changes nothing");
    rlock.release().unwrap();
    rlock.release().unwrap();
    assert!(matches!(rlock.release(), Err(SyncError::RuntimeError(_))));
    // A plain std thread owns it the same way.
    let r = rlock.clone();
    let depth = within_5s("a std thread's re-entrant acquire", move || {
        r.acquire().unwrap();
        r.acquire().unwrap();
        let depth = r.depth();
        r.release().unwrap();
        r.release().unwrap();
        depth
    });
    assert_eq!(depth, 2);
    assert_eq!(rlock.depth(), 0);
    assert!(rlock.try_acquire().unwrap(), "free again");
}

#[test]
fn condition_works_on_threads_the_lab_did_not_start() {
    let lab = lab();
    let cond = lab.handle().condition("cond");
    let c = cond.clone();
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let woke = c.acquire().and_then(|()| c.wait(Some(10.0)));
        let _ = tx.send((woke, c.release()));
    });
    eventually("the std thread waits", || cond.waiting() == 1);
    let c = cond.clone();
    let (foreign, notified) = within_5s("a std thread holding it twice", move || {
        // The condition's lock is re-entrant on this thread too.
        c.acquire().unwrap();
        c.acquire().unwrap();
        let c2 = c.clone();
        let foreign = within_5s("a foreign notify", move || c2.notify(1));
        let notified = c.notify(1);
        c.release().unwrap();
        c.release().unwrap();
        (foreign, notified)
    });
    assert_eq!(
        foreign,
        Err(SyncError::RuntimeError(
            "cannot notify on un-acquired lock".into()
        )),
        "only the holder may notify"
    );
    assert_eq!(notified, Ok(1));
    let (woke, released) = rx.recv_timeout(Duration::from_secs(5)).unwrap();
    assert_eq!(woke, Ok(true), "notified, not timed out");
    assert_eq!(released, Ok(()), "wait gave the lock back to the waiter");
    assert!(matches!(cond.release(), Err(SyncError::RuntimeError(_))));
}

#[test]
fn a_condition_over_a_given_lock_holds_that_very_lock() {
    let lab = lab();
    let lock = lab.handle().lock("lock");
    let cond = lab.handle().condition_with("cond", &lock);

    // Holding the condition is holding the lock: another thread that takes
    // the lock directly blocks until the condition is released.
    cond.acquire().unwrap();
    assert!(lock.locked(), "cond.acquire() took the lock passed in");
    let l = lock.clone();
    let other = start(&lab, "Other", move |_| {
        assert!(!l.try_acquire()?, "held through the condition");
        l.acquire()?;
        l.release()
    });
    eventually("the other thread blocked on the lock", || {
        other.state() == State::Blocked
    });
    std::thread::sleep(Duration::from_millis(30));
    assert_eq!(other.state(), State::Blocked);
    cond.release().unwrap();
    assert!(other.join(Some(5.0)).unwrap());
    assert_eq!(other.state(), State::Done);
    assert!(!lock.locked());

    // wait() releases the lock; after a notify the waiter needs it back, and
    // is blocked on the lock (not waiting on the condition) until it is free.
    let (l, c) = (lock.clone(), cond.clone());
    let waiter = start(&lab, "Waiter", move |_| {
        c.acquire()?;
        assert!(c.wait(None)?, "notified");
        assert!(l.locked(), "wait returns with the lock held again");
        c.release()
    });
    eventually("the waiter waits", || cond.waiting() == 1);
    assert_eq!(waiter.state(), State::Waiting);
    assert!(lock.try_acquire().unwrap(), "wait gave the lock up");
    assert_eq!(cond.notify(1), Ok(1), "the lock's holder may notify");
    eventually("the notified waiter blocks on the lock", || {
        waiter.state() == State::Blocked
    });
    lock.release().unwrap();
    assert!(waiter.join(Some(5.0)).unwrap());
    assert_eq!(waiter.state(), State::Done, "its asserts held");
    assert!(!lock.locked());

    // CPython cannot tell who holds a plain Lock: any thread may notify or
    // wait while it is locked, by anyone; nobody may while it is free.
    assert_eq!(
        cond.notify(1),
        Err(SyncError::RuntimeError(
            "cannot notify on un-acquired lock".into()
        ))
    );
    assert_eq!(
        cond.wait(Some(0.01)),
        Err(SyncError::RuntimeError(
            "cannot wait on un-acquired lock".into()
        ))
    );
    lock.acquire().unwrap();
    let c = cond.clone();
    assert_eq!(
        within_5s("notify from a thread that did not lock it", move || c
            .notify_all()),
        Ok(0)
    );
    lock.release().unwrap();
}

#[test]
fn a_condition_over_a_given_rlock_lets_go_of_every_level_while_waiting() {
    let lab = lab();
    let rlock = lab.handle().rlock("rlock");
    let cond = lab.handle().condition_with("cond", &rlock);
    cond.acquire().unwrap();
    rlock.acquire().unwrap(); // the same RLock, one level deeper
    assert_eq!(rlock.depth(), 2);
    // Only the RLock's owner holds the condition.
    let c = cond.clone();
    assert_eq!(
        within_5s("a foreign notify", move || c.notify(1)),
        Err(SyncError::RuntimeError(
            "cannot notify on un-acquired lock".into()
        ))
    );
    let r = rlock.clone();
    let other = start(&lab, "Other", move |_| {
        assert!(r.acquire_timeout(5.0)?, "free while the owner waits");
        r.release()
    });
    eventually("the other thread blocked on the rlock", || {
        other.state() == State::Blocked
    });
    // Nobody notifies: the wait times out, but meanwhile the RLock was free.
    let t0 = Instant::now();
    assert_eq!(cond.wait(Some(0.2)), Ok(false));
    assert!(t0.elapsed() >= Duration::from_millis(190));
    assert!(other.join(Some(5.0)).unwrap());
    assert_eq!(
        other.state(),
        State::Done,
        "it got the RLock during the wait"
    );
    assert_eq!(rlock.depth(), 2, "back at the depth it was held");
    rlock.release().unwrap();
    cond.release().unwrap();
    assert!(matches!(cond.release(), Err(SyncError::RuntimeError(_))));
}

#[test]
fn stop_wakes_a_thread_waiting_on_a_condition_over_a_given_lock() {
    let lab = lab();
    let lock = lab.handle().lock("lock");
    let cond = lab.handle().condition_with("cond", &lock);
    let c = cond.clone();
    let waiter = start(&lab, "Waiter", move |_| {
        c.acquire()?;
        c.wait(None)?;
        unreachable!("nobody notifies");
    });
    eventually("waiting", || waiter.state() == State::Waiting);
    let report = lab.stop();
    assert!(report.stop_seconds < 0.25, "{report:?}");
    assert_eq!(report.threads_left, 0);
    assert_eq!(waiter.state(), State::Killed);
}

#[test]
fn lock_timeouts_follow_python() {
    let lab = lab();
    let positive = || {
        Err(SyncError::ValueError(
            "timeout value must be positive".into(),
        ))
    };
    let nan = || {
        Err(SyncError::ValueError(
            "Invalid value NaN (not a number)".into(),
        ))
    };

    let lock = lab.handle().lock("lock");
    assert_eq!(lock.acquire_timeout(-0.5), positive());
    assert_eq!(lock.acquire_timeout(f64::NAN), nan());
    assert!(!lock.locked(), "a refused acquire takes nothing");
    assert_eq!(lock.acquire_timeout(-1.0), Ok(true), "-1: no timeout");
    // -1 on a held lock waits for it, however long that takes.
    let released = Arc::new(AtomicBool::new(false));
    let (l, r) = (lock.clone(), released.clone());
    std::thread::spawn(move || {
        std::thread::sleep(Duration::from_millis(100));
        r.store(true, Ordering::SeqCst);
        l.release().unwrap();
    });
    assert_eq!(lock.acquire_timeout(-1.0), Ok(true));
    assert!(released.load(Ordering::SeqCst), "it waited for the release");
    assert_eq!(lock.acquire_timeout(-2.0), positive(), "even when held");

    let rlock = lab.handle().rlock("rlock");
    let (tx, rx) = mpsc::channel();
    let released = Arc::new(AtomicBool::new(false));
    let (r, done) = (rlock.clone(), released.clone());
    let holder = start(&lab, "Holder", move |c| {
        r.acquire()?;
        tx.send(()).unwrap();
        c.sleep(0.1)?;
        done.store(true, Ordering::SeqCst);
        r.release()
    });
    rx.recv().unwrap();
    assert_eq!(rlock.acquire_timeout(-0.5), positive());
    assert_eq!(rlock.acquire_timeout(-1.0), Ok(true));
    assert!(released.load(Ordering::SeqCst), "it waited for the release");
    assert_eq!(
        rlock.acquire_timeout(-3.0),
        positive(),
        "checked before the owner's re-entry"
    );
    assert_eq!(rlock.acquire_timeout(f64::NAN), nan());
    assert_eq!(rlock.depth(), 1);
    rlock.release().unwrap();
    holder.join(None).unwrap();
    assert_eq!(holder.state(), State::Done);
}

#[test]
fn semaphore_limits_concurrency_to_its_permits() {
    let lab = lab();
    let sem = lab.handle().semaphore("pool", 3);
    let inside = Arc::new(AtomicUsize::new(0));
    let peak = Arc::new(AtomicUsize::new(0));
    let threads: Vec<Thread> = (0..10)
        .map(|i| {
            let (sem, inside, peak) = (sem.clone(), inside.clone(), peak.clone());
            start(&lab, &format!("Client-{i}"), move |c| {
                sem.acquire()?;
                let now = inside.fetch_add(1, Ordering::SeqCst) + 1;
                peak.fetch_max(now, Ordering::SeqCst);
                c.sleep(0.02)?;
                inside.fetch_sub(1, Ordering::SeqCst);
                sem.release(1)
            })
        })
        .collect();
    for t in &threads {
        t.join(None).unwrap();
        assert_eq!(t.state(), State::Done);
    }
    assert_eq!(
        peak.load(Ordering::SeqCst),
        3,
        "peak concurrency equals the permits"
    );
    assert_eq!(sem.free(), 3);
    lab.stop();
    let rec = lab.record().lock();
    let pool = rec.resource_by_name("pool").unwrap();
    assert_eq!(pool.level_series.min, 0.0, "free permits reached 0");
    assert!(pool.waiters_series.max >= 1.0, "someone waited");
}

#[test]
fn bounded_semaphore_refuses_over_release_and_plain_one_allows_it() {
    let lab = lab();
    let bounded = lab.handle().bounded_semaphore("bounded", 2);
    bounded.acquire().unwrap();
    bounded.release(1).unwrap();
    let err = bounded.release(1).unwrap_err();
    assert_eq!(
        err.to_string(),
        "ValueError: Semaphore released too many times",
        "CPython's words"
    );
    assert_eq!(bounded.free(), 2, "a refused release changes nothing");
    let plain = lab.handle().semaphore("plain", 2);
    plain.release(1).unwrap();
    assert_eq!(plain.free(), 3);
    for sem in [&plain, &bounded] {
        assert_eq!(
            sem.release(0),
            Err(SyncError::ValueError("n must be one or more".into()))
        );
    }
    assert_eq!(plain.free(), 3);
    assert_eq!(bounded.free(), 2);
}

#[test]
fn queue_blocks_when_full_and_empty_and_raises_full_and_empty() {
    let lab = lab();
    let q = lab.handle().queue::<u32>("q", 2);
    assert!(q.empty());
    assert_eq!(q.get_nowait(), Err(SyncError::Empty));
    q.put(1).unwrap();
    q.put(2).unwrap();
    assert!(q.full());
    assert_eq!(q.qsize(), 2);
    assert_eq!(q.put_nowait(3), Err(SyncError::Full));
    let t0 = Instant::now();
    assert_eq!(q.put_timeout(3, 0.05), Err(SyncError::Full));
    assert!(
        t0.elapsed() >= Duration::from_millis(45),
        "timed put waited its timeout"
    );

    // A producer blocks on the full queue until a consumer makes room.
    let q2 = q.clone();
    let producer = start(&lab, "Producer", move |_| q2.put(3));
    eventually("producer blocked on a full queue", || {
        producer.state() == State::Blocked
    });
    assert_eq!(q.get().unwrap(), 1, "FIFO");
    producer.join(None).unwrap();
    assert_eq!(producer.state(), State::Done);
    assert_eq!(q.get().unwrap(), 2);
    assert_eq!(q.get().unwrap(), 3);

    // A consumer blocks on the empty queue until something arrives.
    let q3 = q.clone();
    let (tx, rx) = mpsc::channel();
    let consumer = start(&lab, "Consumer", move |_| {
        tx.send(q3.get()?).unwrap();
        Ok(())
    });
    eventually("consumer blocked on an empty queue", || {
        consumer.state() == State::Blocked
    });
    q.put(42).unwrap();
    assert_eq!(rx.recv_timeout(Duration::from_secs(5)).unwrap(), 42);
    let t0 = Instant::now();
    assert_eq!(q.get_timeout(0.05), Err(SyncError::Empty));
    assert!(t0.elapsed() >= Duration::from_millis(45));
}

#[test]
fn queue_negative_timeouts_raise_value_error_where_python_does() {
    let lab = lab();
    let negative = || SyncError::ValueError("'timeout' must be a non-negative number".into());
    let q = lab.handle().queue::<u32>("bounded", 2);
    assert_eq!(q.put_timeout(1, -1.0), Err(negative()), "even with room");
    assert!(q.empty(), "nothing was put");
    q.put(1).unwrap();
    q.put(2).unwrap();
    assert_eq!(q.put_timeout(3, -0.5), Err(negative()), "full");
    assert_eq!(q.get_timeout(-1.0), Err(negative()), "even with an item");
    assert_eq!(q.qsize(), 2, "nothing was taken");
    assert_eq!(q.get_timeout(0.0), Ok(1), "zero is a valid timeout");
    assert_eq!(q.put_timeout(3, 0.0), Ok(()));
    assert_eq!(q.put_timeout(4, 0.0), Err(SyncError::Full));

    // An unbounded queue's put never looks at its timeout; its get does.
    let unbounded = lab.handle().queue::<u32>("unbounded", 0);
    assert_eq!(unbounded.put_timeout(1, -1.0), Ok(()));
    assert_eq!(unbounded.get_timeout(-1.0), Err(negative()));
    assert_eq!(unbounded.get_nowait(), Ok(1));
    assert_eq!(
        within_5s("get(timeout=-1) on an empty queue", move || unbounded
            .get_timeout(-1.0)),
        Err(negative())
    );
}

#[test]
fn queue_capacity_changes_while_running() {
    let lab = lab();
    let q = lab.handle().queue::<u32>("q", 1);
    q.put(1).unwrap();
    let q2 = q.clone();
    let producer = start(&lab, "Producer", move |_| q2.put(2));
    eventually("producer blocked", || producer.state() == State::Blocked);
    q.set_maxsize(2);
    producer.join(None).unwrap();
    assert_eq!(q.qsize(), 2);
    assert_eq!(q.maxsize(), 2);
    q.set_maxsize(0);
    for i in 0..100 {
        q.put_nowait(i).unwrap();
    }
    assert!(!q.full(), "maxsize 0 is unbounded, as in Python");
}

#[test]
fn queue_join_waits_for_task_done() {
    let lab = lab();
    let q = lab.handle().queue::<u32>("q", 0);
    q.put(1).unwrap();
    q.put(2).unwrap();
    let q2 = q.clone();
    let worker = start(&lab, "Worker", move |c| {
        for _ in 0..2 {
            q2.get()?;
            c.sleep(0.02)?;
            q2.task_done()?;
        }
        Ok(())
    });
    let t0 = Instant::now();
    q.join().unwrap();
    assert!(t0.elapsed() >= Duration::from_millis(35));
    worker.join(None).unwrap();
    assert!(matches!(q.task_done(), Err(SyncError::ValueError(_))));
}

#[test]
fn event_set_wakes_every_waiter() {
    let lab = lab();
    let ev = lab.handle().event("ev");
    let waiters: Vec<Thread> = (0..5)
        .map(|i| {
            let ev = ev.clone();
            start(&lab, &format!("Waiter-{i}"), move |_| {
                assert!(ev.wait(None)?);
                Ok(())
            })
        })
        .collect();
    eventually("all five waiting", || {
        waiters.iter().all(|t| t.state() == State::Waiting)
    });
    ev.set();
    for t in &waiters {
        assert!(t.join(Some(5.0)).unwrap());
        assert_eq!(t.state(), State::Done);
    }
    assert!(ev.is_set());
    assert!(
        ev.wait(Some(0.0)).unwrap(),
        "wait on a set event returns at once"
    );
    ev.clear();
    let t0 = Instant::now();
    assert!(!ev.wait(Some(0.05)).unwrap(), "timed wait returns False");
    assert!(t0.elapsed() >= Duration::from_millis(45));
}

#[test]
fn condition_notify_wakes_one_and_notify_all_wakes_the_rest() {
    let lab = lab();
    let cond = lab.handle().condition("cond");
    let woke = Arc::new(AtomicUsize::new(0));
    let waiters: Vec<Thread> = (0..3)
        .map(|i| {
            let (cond, woke) = (cond.clone(), woke.clone());
            start(&lab, &format!("Consumer-{i}"), move |_| {
                cond.acquire()?;
                assert!(cond.wait(None)?);
                woke.fetch_add(1, Ordering::SeqCst);
                cond.release()
            })
        })
        .collect();
    eventually("three waiting", || cond.waiting() == 3);
    assert!(
        matches!(cond.notify(1), Err(SyncError::RuntimeError(_))),
        "notify needs the lock"
    );
    cond.acquire().unwrap();
    assert_eq!(cond.notify(1).unwrap(), 1);
    cond.release().unwrap();
    eventually("one woke", || woke.load(Ordering::SeqCst) == 1);
    std::thread::sleep(Duration::from_millis(50));
    assert_eq!(woke.load(Ordering::SeqCst), 1, "notify(1) woke exactly one");
    cond.acquire().unwrap();
    assert_eq!(cond.notify_all().unwrap(), 2);
    cond.release().unwrap();
    for t in &waiters {
        t.join(None).unwrap();
        assert_eq!(t.state(), State::Done);
    }
    assert_eq!(woke.load(Ordering::SeqCst), 3);
    assert!(
        matches!(cond.wait(None), Err(SyncError::RuntimeError(_))),
        "wait needs the lock"
    );
    cond.acquire().unwrap();
    assert!(!cond.wait(Some(0.03)).unwrap(), "timed wait returns False");
    cond.release().unwrap();
}

#[test]
fn barrier_releases_all_parties_together() {
    let lab = lab();
    let barrier = lab.handle().barrier("barrier", 4).unwrap();
    let indices = Arc::new(Mutex::new(Vec::new()));
    let passed = Arc::new(AtomicUsize::new(0));
    let threads: Vec<Thread> = (0..3)
        .map(|i| {
            let (b, idx, passed) = (barrier.clone(), indices.clone(), passed.clone());
            start(&lab, &format!("Party-{i}"), move |_| {
                let index = b.wait(None)?;
                idx.lock().unwrap().push(index);
                passed.fetch_add(1, Ordering::SeqCst);
                Ok(())
            })
        })
        .collect();
    eventually("three arrived", || barrier.n_waiting() == 3);
    std::thread::sleep(Duration::from_millis(30));
    assert_eq!(
        passed.load(Ordering::SeqCst),
        0,
        "nobody leaves before the fourth arrives"
    );
    let (b, idx) = (barrier.clone(), indices.clone());
    let last = start(&lab, "Party-3", move |_| {
        let index = b.wait(None)?;
        idx.lock().unwrap().push(index);
        Ok(())
    });
    for t in threads.iter().chain([&last]) {
        t.join(None).unwrap();
    }
    let mut idx = indices.lock().unwrap().clone();
    idx.sort();
    assert_eq!(idx, vec![0, 1, 2, 3]);
}

#[test]
fn barrier_timeout_and_abort_break_it() {
    let lab = lab();
    let barrier = lab.handle().barrier("barrier", 3).unwrap();
    let b = barrier.clone();
    let waiter = start(&lab, "Waiter", move |_| {
        assert_eq!(b.wait(None), Err(SyncError::BrokenBarrier));
        Ok(())
    });
    eventually("one waiting", || barrier.n_waiting() == 1);
    assert_eq!(
        barrier.wait(Some(0.03)),
        Err(SyncError::BrokenBarrier),
        "timeout breaks it"
    );
    waiter.join(None).unwrap();
    assert_eq!(waiter.state(), State::Done);
    assert!(barrier.broken());
    barrier.reset();
    assert!(!barrier.broken());
    barrier.abort();
    assert_eq!(barrier.wait(None), Err(SyncError::BrokenBarrier));
}

#[test]
fn negative_timeouts_only_look_for_event_condition_and_semaphore() {
    let lab = lab();
    let ev = lab.handle().event("ev");
    let e = ev.clone();
    assert_eq!(
        within_5s("Event.wait(-1)", move || e.wait(Some(-1.0))),
        Ok(false)
    );
    ev.set();
    assert_eq!(ev.wait(Some(-1.0)), Ok(true), "a set event answers true");

    let cond = lab.handle().condition("cond");
    let c = cond.clone();
    let (waited, released, extra) = within_5s("Condition.wait(-0.5)", move || {
        c.acquire().unwrap();
        c.acquire().unwrap();
        let waited = c.wait(Some(-0.5));
        (waited, c.release().and_then(|()| c.release()), c.release())
    });
    assert_eq!(waited, Ok(false));
    assert_eq!(
        released,
        Ok(()),
        "the lock came back at the depth it was held"
    );
    assert!(matches!(extra, Err(SyncError::RuntimeError(_))));
    assert_eq!(cond.waiting(), 0, "no waiter left behind");

    let empty = lab.handle().semaphore("empty", 0);
    let s = empty.clone();
    assert_eq!(
        within_5s("Semaphore(0).acquire(timeout=-1)", move || s
            .acquire_timeout(-1.0)),
        Ok(false)
    );
    let one = lab.handle().bounded_semaphore("one", 1);
    assert_eq!(
        one.acquire_timeout(-1.0),
        Ok(true),
        "a free permit is taken"
    );
    assert_eq!(one.free(), 0);
}

#[test]
fn condition_wait_for_waits_once_then_asks_again_like_python() {
    let lab = lab();
    let cond = lab.handle().condition("cond");
    let asked = Arc::new(AtomicUsize::new(0));
    let never = {
        let asked = asked.clone();
        move || {
            asked.fetch_add(1, Ordering::SeqCst);
            false
        }
    };
    cond.acquire().unwrap();
    for timeout in [-1.0, 0.0] {
        asked.store(0, Ordering::SeqCst);
        assert_eq!(cond.wait_for(never.clone(), Some(timeout)), Ok(false));
        assert_eq!(
            asked.load(Ordering::SeqCst),
            2,
            "asked before and after one wait (timeout {timeout})"
        );
    }
    assert_eq!(cond.wait_for(|| true, Some(-1.0)), Ok(true));
    cond.release().unwrap();
    // Without the lock: a true predicate needs no wait, a false one does.
    assert_eq!(cond.wait_for(|| true, Some(0.0)), Ok(true));
    assert_eq!(
        cond.wait_for(|| false, Some(0.0)),
        Err(SyncError::RuntimeError(
            "cannot wait on un-acquired lock".into()
        ))
    );

    // A timed wait_for gives up after its timeout, or returns once notified true.
    cond.acquire().unwrap();
    let t0 = Instant::now();
    assert_eq!(cond.wait_for(|| false, Some(0.05)), Ok(false));
    assert!(t0.elapsed() >= Duration::from_millis(45));
    let ready = Arc::new(AtomicBool::new(false));
    let (c, r) = (cond.clone(), ready.clone());
    let setter = start(&lab, "Setter", move |ctx| {
        ctx.sleep(0.05)?;
        c.acquire()?;
        r.store(true, Ordering::SeqCst);
        c.notify_all()?;
        c.release()
    });
    let r = ready.clone();
    assert_eq!(
        cond.wait_for(move || r.load(Ordering::SeqCst), Some(10.0)),
        Ok(true)
    );
    cond.release().unwrap();
    setter.join(None).unwrap();
    assert_eq!(setter.state(), State::Done);
}

#[test]
fn a_negative_barrier_timeout_breaks_it_at_once_unless_last() {
    let lab = lab();
    let barrier = lab.handle().barrier("barrier", 3).unwrap();
    let b = barrier.clone();
    let waiter = start(&lab, "Waiter", move |_| {
        assert_eq!(b.wait(None), Err(SyncError::BrokenBarrier));
        Ok(())
    });
    eventually("one waiting", || barrier.n_waiting() == 1);
    let b = barrier.clone();
    assert_eq!(
        within_5s("Barrier.wait(-1)", move || b.wait(Some(-1.0))),
        Err(SyncError::BrokenBarrier)
    );
    assert!(barrier.broken());
    assert!(waiter.join(Some(5.0)).unwrap(), "the waiter was let go too");
    assert_eq!(waiter.state(), State::Done);

    let solo = lab.handle().barrier("solo", 1).unwrap();
    assert_eq!(solo.wait(Some(-1.0)), Ok(0), "the last party never waits");
    assert!(!solo.broken());
}

#[test]
fn the_barrier_action_runs_once_per_generation_in_the_last_thread_before_anyone_leaves() {
    let lab = lab();
    let passed = Arc::new(AtomicUsize::new(0));
    // (thread that ran it, how many waits had returned by then)
    let actions = Arc::new(Mutex::new(Vec::<(String, usize)>::new()));
    let action: hilos::lab::sync::BarrierAction = {
        let (passed, actions) = (passed.clone(), actions.clone());
        Arc::new(move || {
            let me = std::thread::current().name().unwrap_or("?").to_string();
            actions
                .lock()
                .unwrap()
                .push((me, passed.load(Ordering::SeqCst)));
            Ok(())
        })
    };
    let barrier = lab
        .handle()
        .barrier_with("barrier", 3, Some(action), None)
        .unwrap();
    // (generation, index wait returned, OS thread name)
    let returned = Arc::new(Mutex::new(Vec::<(usize, usize, String)>::new()));
    let threads: Vec<Thread> = (0..3)
        .map(|i| {
            let (b, passed, returned) = (barrier.clone(), passed.clone(), returned.clone());
            start(&lab, &format!("Party-{i}"), move |c| {
                for generation in 0..3 {
                    // A different thread arrives last in each generation.
                    c.sleep(0.01 * ((i + generation) % 3) as f64)?;
                    let index = b.wait(None)?;
                    let me = std::thread::current().name().unwrap_or("?").to_string();
                    returned.lock().unwrap().push((generation, index, me));
                    passed.fetch_add(1, Ordering::SeqCst);
                }
                Ok(())
            })
        })
        .collect();
    for t in &threads {
        assert!(t.join(Some(10.0)).unwrap());
        assert_eq!(t.state(), State::Done);
    }
    let actions = actions.lock().unwrap().clone();
    assert_eq!(actions.len(), 3, "once per generation: {actions:?}");
    let returned = returned.lock().unwrap().clone();
    for (generation, (ran_in, passed_before)) in actions.iter().enumerate() {
        assert_eq!(
            *passed_before,
            3 * generation,
            "generation {generation}'s action ran before any of its waits returned"
        );
        let last: Vec<&String> = returned
            .iter()
            .filter(|(g, index, _)| *g == generation && *index == 2)
            .map(|(_, _, name)| name)
            .collect();
        assert_eq!(
            last,
            vec![ran_in],
            "generation {generation}: the action ran in the last to arrive"
        );
    }
    let runners: std::collections::HashSet<&String> = actions.iter().map(|(n, _)| n).collect();
    assert!(runners.len() > 1, "the last to arrive changes: {actions:?}");
}

#[test]
fn an_exception_in_the_barrier_action_breaks_it_for_everyone() {
    let lab = lab();
    let action: hilos::lab::sync::BarrierAction =
        Arc::new(|| Err(SyncError::ValueError("the action failed".into())));
    let barrier = lab
        .handle()
        .barrier_with("barrier", 3, Some(action), None)
        .unwrap();
    let waiters: Vec<Thread> = (0..2)
        .map(|i| {
            let b = barrier.clone();
            start(&lab, &format!("Waiter-{i}"), move |_| {
                assert_eq!(b.wait(None), Err(SyncError::BrokenBarrier));
                Ok(())
            })
        })
        .collect();
    eventually("two waiting", || barrier.n_waiting() == 2);
    assert_eq!(
        barrier.wait(None),
        Err(SyncError::ValueError("the action failed".into())),
        "the exception goes on in the thread that ran the action"
    );
    for t in &waiters {
        assert!(t.join(Some(5.0)).unwrap());
        assert_eq!(t.state(), State::Done, "they got BrokenBarrierError");
    }
    assert!(barrier.broken());
    assert_eq!(barrier.n_waiting(), 0);
    assert_eq!(barrier.wait(None), Err(SyncError::BrokenBarrier));
    barrier.reset();
    assert!(!barrier.broken());
}

#[test]
fn while_the_action_runs_nobody_times_out_and_newcomers_wait_for_the_next_generation() {
    let lab = lab();
    let runs = Arc::new(AtomicUsize::new(0));
    let action: hilos::lab::sync::BarrierAction = {
        let runs = runs.clone();
        Arc::new(move || {
            if runs.fetch_add(1, Ordering::SeqCst) == 0 {
                std::thread::sleep(Duration::from_millis(150));
            }
            Ok(())
        })
    };
    // Every wait gives up after 50 ms unless told otherwise.
    let barrier = lab
        .handle()
        .barrier_with("barrier", 2, Some(action), Some(0.05))
        .unwrap();
    let b = barrier.clone();
    let first = start(&lab, "First", move |_| {
        assert_eq!(b.wait(None)?, 0, "released after the slow action");
        Ok(())
    });
    eventually("one waiting", || barrier.n_waiting() == 1);
    let b = barrier.clone();
    let second = start(&lab, "Second", move |_| {
        assert_eq!(b.wait(Some(5.0))?, 1);
        Ok(())
    });
    // Second runs the 150 ms action; First's 50 ms run out meanwhile.
    eventually("the action runs", || runs.load(Ordering::SeqCst) == 1);
    let b = barrier.clone();
    let third = start(&lab, "Third", move |_| {
        assert_eq!(b.wait(Some(5.0))?, 0, "first of the next generation");
        Ok(())
    });
    for t in [&first, &second] {
        assert!(t.join(Some(5.0)).unwrap());
        assert_eq!(t.state(), State::Done, "{}", t.name());
    }
    assert!(!barrier.broken());
    eventually("the third waits in the next generation", || {
        barrier.n_waiting() == 1
    });
    assert_eq!(barrier.wait(Some(5.0)), Ok(1));
    assert!(third.join(Some(5.0)).unwrap());
    assert_eq!(third.state(), State::Done);
    assert_eq!(runs.load(Ordering::SeqCst), 2);
    // The barrier's own timeout applies to a wait without one.
    let t0 = Instant::now();
    assert_eq!(barrier.wait(None), Err(SyncError::BrokenBarrier));
    assert!(t0.elapsed() >= Duration::from_millis(45));
    assert!(barrier.broken());
}

#[test]
fn a_barrier_needs_at_least_one_party() {
    let lab = lab();
    assert!(matches!(
        lab.handle().barrier("none", 0),
        Err(SyncError::ValueError(m)) if m == "parties must be >= 1"
    ));
}

#[test]
fn a_timer_with_a_negative_interval_fires_at_once() {
    let lab = lab();
    let fired = Arc::new(AtomicUsize::new(0));
    let f = fired.clone();
    let timer = lab.handle().timer("Timer-now", -1.0, move |_| {
        f.fetch_add(1, Ordering::SeqCst);
        Ok(())
    });
    timer.start().unwrap();
    assert!(timer.thread().join(Some(5.0)).unwrap(), "it ended");
    assert!(timer.fired());
    assert_eq!(fired.load(Ordering::SeqCst), 1);

    let f = fired.clone();
    let cancelled = lab.handle().timer("Timer-cancelled", -1.0, move |_| {
        f.fetch_add(1, Ordering::SeqCst);
        Ok(())
    });
    assert!(cancelled.cancel(), "cancelled before it started");
    cancelled.start().unwrap();
    assert!(cancelled.thread().join(Some(5.0)).unwrap());
    assert!(!cancelled.fired(), "cancel still wins");
    assert_eq!(fired.load(Ordering::SeqCst), 1);
}

#[test]
fn timer_fires_after_its_delay_unless_cancelled() {
    let lab = lab();
    let fired = Arc::new(AtomicUsize::new(0));
    let f = fired.clone();
    let t0 = Instant::now();
    let timer = lab.handle().timer("Timer-1", 0.05, move |_| {
        f.fetch_add(1, Ordering::SeqCst);
        Ok(())
    });
    timer.start().unwrap();
    timer.thread().join(None).unwrap();
    assert!(t0.elapsed() >= Duration::from_millis(45));
    assert_eq!(fired.load(Ordering::SeqCst), 1);
    assert!(timer.fired());

    let f = fired.clone();
    let cancelled = lab.handle().timer("Timer-2", 10.0, move |_| {
        f.fetch_add(1, Ordering::SeqCst);
        Ok(())
    });
    cancelled.start().unwrap();
    assert!(cancelled.cancel(), "cancel before it fires");
    assert!(cancelled.thread().join(Some(5.0)).unwrap());
    assert_eq!(
        fired.load(Ordering::SeqCst),
        1,
        "a cancelled timer never calls its function"
    );
    assert!(!cancelled.fired());
}

#[test]
fn thread_start_and_join_follow_python() {
    let lab = lab();
    let t = lab.handle().thread("Slow", false, |c| c.sleep(0.2));
    assert_eq!(t.state(), State::Created);
    assert!(!t.is_alive());
    assert!(
        matches!(t.join(None), Err(SyncError::RuntimeError(_))),
        "join before start"
    );
    t.start().unwrap();
    assert!(
        matches!(t.start(), Err(SyncError::RuntimeError(_))),
        "start twice"
    );
    assert!(t.is_alive());
    assert!(
        !t.join(Some(0.01)).unwrap(),
        "a timed-out join returns, thread alive"
    );
    assert!(t.is_alive());
    assert!(lab.handle().enumerate().iter().any(|e| e.name() == "Slow"));
    assert_eq!(lab.handle().active_count(), 1);
    assert!(t.join(None).unwrap());
    assert!(!t.is_alive());
    assert_eq!(t.state(), State::Done);
    assert_eq!(lab.handle().active_count(), 0);
}

#[test]
fn join_with_a_negative_timeout_returns_at_once() {
    let lab = lab();
    let go = lab.handle().event("go");
    let g = go.clone();
    let t = start(&lab, "Waiter", move |_| g.wait(None).map(|_| ()));
    let t2 = t.clone();
    assert_eq!(
        within_5s("join(-1)", move || t2.join(Some(-1.0))),
        Ok(false),
        "as 0 does, thread alive"
    );
    assert!(t.is_alive());
    go.set();
    assert!(t.join(Some(5.0)).unwrap());
    assert_eq!(t.join(Some(-1.0)), Ok(true), "an ended thread answers true");
}

#[test]
fn a_panicking_worker_fails_with_its_message_and_the_lab_goes_on() {
    let lab = lab();
    let bad = start(&lab, "Bad", |_| panic!("division by zero in task 3"));
    let err = start(&lab, "Raises", |_| {
        Err(SyncError::ValueError("bad value".into()))
    });
    let good = start(&lab, "Good", |c| c.sleep(0.01));
    for t in [&bad, &err, &good] {
        t.join(None).unwrap();
    }
    assert_eq!(bad.state(), State::Failed);
    assert_eq!(err.state(), State::Failed);
    assert_eq!(good.state(), State::Done);
    lab.stop();
    let rec = lab.record().lock();
    let failure = rec
        .threads()
        .find(|t| &*t.name == "Bad")
        .unwrap()
        .failure
        .clone();
    assert_eq!(failure.as_deref(), Some("division by zero in task 3"));
    assert!(
        rec.log
            .iter()
            .any(|l| l.text.contains("Exception in thread Bad")),
        "the failure is in the log"
    );
}

#[test]
fn main_exit_waits_for_non_daemons_and_kills_daemons() {
    let lab = lab();
    let reached_end = Arc::new(AtomicUsize::new(0));
    let r = reached_end.clone();
    let r2 = reached_end.clone();
    lab.start_main(move |ctx| {
        let worker = ctx.thread("Worker", false, move |c| {
            c.sleep(0.1)?;
            r.fetch_add(1, Ordering::SeqCst);
            Ok(())
        });
        let daemon = ctx.thread("Daemon", true, move |c| {
            c.sleep(60.0)?;
            r2.fetch_add(100, Ordering::SeqCst);
            Ok(())
        });
        worker.start()?;
        daemon.start()?;
        Ok(()) // main returns at once
    })
    .unwrap();
    assert!(
        lab.wait(Duration::from_secs(5)),
        "the run ends without waiting for the daemon"
    );
    assert_eq!(
        reached_end.load(Ordering::SeqCst),
        1,
        "non-daemon finished; daemon cut off"
    );
    lab.stop();
    let states: Vec<(String, State)> = lab
        .record()
        .lock()
        .threads()
        .map(|t| (t.name.to_string(), t.state))
        .collect();
    assert!(
        states.contains(&("Worker".into(), State::Done)),
        "{states:?}"
    );
    assert!(
        states.contains(&("Daemon".into(), State::Killed)),
        "{states:?}"
    );
    assert!(
        states.contains(&("MainThread".into(), State::Done)),
        "{states:?}"
    );
}

#[test]
fn speed_scales_every_sleep() {
    let lab = Lab::new(
        LabOptions {
            speed: 100.0,
            ..LabOptions::default()
        },
        Knobs::new(&[]),
    );
    let t0 = Instant::now();
    let t = start(&lab, "Sleeper", |c| c.sleep(2.0)); // 2 s / 100 = 20 ms
    t.join(None).unwrap();
    let took = t0.elapsed();
    assert!(took >= Duration::from_millis(18), "{took:?}");
    assert!(
        took < Duration::from_millis(1500),
        "{took:?}: the speed factor did not apply"
    );
}

#[test]
fn dropped_events_are_counted_never_silent() {
    let lab = Lab::new(
        LabOptions {
            channel_capacity: 8,
            ..LabOptions::default()
        },
        Knobs::new(&[]),
    );
    let counter = lab.handle().counter("n");
    let t = start(&lab, "Spammer", move |_| {
        for i in 0..200_000 {
            counter.set(i);
        }
        Ok(())
    });
    t.join(None).unwrap();
    lab.stop();
    let rec = lab.record().lock();
    assert!(
        rec.events_dropped > 0,
        "a tiny channel under a flood drops events"
    );
    // Every event sent was either recorded or counted as dropped.
    assert!(rec.events_recorded + rec.events_dropped >= 200_000);
}

#[test]
fn recorder_memory_stays_bounded() {
    let lab = Lab::new(
        LabOptions {
            limits: Limits {
                spans_per_thread: 100,
                points_per_series: 64,
                log_lines: 50,
                ..Limits::default()
            },
            ..LabOptions::default()
        },
        Knobs::new(&[]),
    );
    let lock = lab.handle().lock("l");
    let counter = lab.handle().counter("c");
    let t = start(&lab, "Churn", move |c| {
        for i in 0..5_000 {
            c.sleep_real(Duration::ZERO)?;
            lock.acquire()?;
            lock.release()?;
            counter.set(i);
            c.log(format!("line {i}"));
        }
        Ok(())
    });
    t.join(None).unwrap();
    lab.stop();
    let rec = lab.record().lock();
    let track = rec.threads().find(|t| &*t.name == "Churn").unwrap();
    assert!(track.spans.len() <= 101, "{} spans kept", track.spans.len());
    assert!(track.spans_trimmed > 0);
    // 64 buckets on each of its 9 resolution levels, at most.
    assert!(rec.counter("c").unwrap().series.stored() <= 64 * 9);
    assert_eq!(
        rec.counter_value("c"),
        Some(4_999),
        "the last value is exact"
    );
    assert!(rec.log.len() <= 50);
    assert!(rec.log_trimmed > 0);
}

#[test]
fn knob_errors_name_the_valid_choices() {
    let knobs = hilos::scenarios::find("producer-consumer").unwrap().knobs();
    let e = knobs.set_from_arg("nope=1").unwrap_err().to_string();
    assert!(
        e.contains("unknown knob 'nope'") && e.contains("producers"),
        "{e}"
    );
    let e = knobs.set_from_arg("producers=0").unwrap_err().to_string();
    assert!(e.contains("out of range") && e.contains("1 to 64"), "{e}");
    let e = knobs
        .set_from_arg("producers=lots")
        .unwrap_err()
        .to_string();
    assert!(e.contains("whole number"), "{e}");
    knobs.set_from_arg("produce_pause=0.25").unwrap();
    assert_eq!(knobs.get("produce_pause"), 0.25);
    let race = hilos::scenarios::find("race-condition").unwrap().knobs();
    race.set_from_arg("lock=on").unwrap();
    assert_eq!(race.get("lock"), 1.0);
    assert!(race.set_from_arg("lock=maybe").is_err());
}

/// Two threads each holding one lock and asking for the other's.
fn crossed(lab: &Lab, timeout: Option<f64>) -> (Thread, Thread) {
    let a = lab.handle().lock("lock_a");
    let b = lab.handle().lock("lock_b");
    let mut threads = Vec::new();
    for (name, first, second) in [("T1", a.clone(), b.clone()), ("T2", b, a)] {
        threads.push(start(lab, name, move |c| {
            let _first = first.hold()?;
            c.sleep(0.05)?; // the other takes its first lock meanwhile
            match timeout {
                Some(t) => {
                    second.acquire_timeout(t)?;
                }
                None => second.acquire()?,
            }
            Ok(())
        }));
    }
    let t2 = threads.pop().unwrap();
    (threads.pop().unwrap(), t2)
}

#[test]
fn a_cycle_of_timed_waits_is_no_deadlock_and_an_untimed_one_is_remembered() {
    // With acquire(timeout=…) both block on each other for a while, then
    // give up: the graph has a cycle, but not a deadlock.
    let lab = lab();
    let (t1, t2) = crossed(&lab, Some(0.4));
    eventually("both blocked with a timeout", || {
        t1.state() == State::Blocked && t2.state() == State::Blocked
    });
    std::thread::sleep(Duration::from_millis(50));
    assert!(lab.record().lock().deadlocks().is_empty());
    assert!(lab.wait(Duration::from_secs(5)), "the timeouts end it");
    lab.stop();
    let rec = lab.record().lock();
    assert!(
        rec.deadlocks_seen().is_empty(),
        "{:?}",
        rec.deadlocks_seen()
    );
    assert_eq!(rec.deadlocks_formed(), 0);
    drop(rec);

    // Without a timeout: a deadlock, named while it lasts and remembered
    // once Stop has killed both threads and no thread is blocked any more.
    let lab = self::lab();
    let (t1, t2) = crossed(&lab, None);
    eventually("the deadlock is named", || {
        lab.record().lock().deadlocks() == vec![vec![t1.id(), t2.id()]]
    });
    lab.stop();
    let rec = lab.record().lock();
    assert!(rec.deadlocks().is_empty(), "nobody is blocked after Stop");
    assert_eq!(rec.deadlocks_seen(), [vec![t1.id(), t2.id()]]);
    assert_eq!(rec.deadlocks_formed(), 1);
}

#[test]
fn a_contended_lock_is_never_taken_for_a_deadlock_of_one() {
    // Between a waiter getting the lock (the lock reports its new holder)
    // and its "running" arriving, the record sees a thread blocked on a lock
    // it holds. Thousands of hand-overs must not be called a deadlock.
    let lab = lab();
    let lock = lab.handle().lock("lock");
    let threads: Vec<Thread> = (0..4)
        .map(|i| {
            let lock = lock.clone();
            start(&lab, &format!("T{i}"), move |c| {
                for _ in 0..300 {
                    let _held = lock.hold()?;
                    c.sleep(0.0002)?;
                }
                Ok(())
            })
        })
        .collect();
    assert!(lab.wait(Duration::from_secs(20)));
    lab.stop();
    let rec = lab.record().lock();
    let blocked: f64 = threads
        .iter()
        .map(|t| rec.thread(t.id()).unwrap().time_in(rec.now())[State::Blocked.index()])
        .sum();
    assert!(blocked > 0.0, "the lock was never contended");
    assert!(
        rec.deadlocks_seen().is_empty(),
        "{:?}",
        rec.deadlocks_seen()
    );
}

#[test]
fn a_daemon_cut_off_at_exit_keeps_the_locks_it_held() {
    // CPython stops daemon threads where they stand at shutdown: their
    // `with` blocks never release. The lab's do the same, so a thread
    // deadlocked with a daemon never gets through while the daemons are cut off.
    let lab = lab();
    let lock = lab.handle().lock("lock");
    let held = lock.clone();
    lab.start_main(move |ctx| {
        let holder = ctx.thread("Holder", true, move |c| {
            let _held = held.hold()?;
            c.sleep(3600.0)
        });
        holder.start()?;
        ctx.sleep(0.05)?;
        Ok(()) // exit: the daemon is cut off inside its `with`
    })
    .unwrap();
    assert!(lab.wait(Duration::from_secs(5)));
    assert!(lock.locked(), "the cut-off daemon released its lock");
    lab.stop();
    assert!(lock.locked());
}

#[test]
fn choice_knobs_take_a_name_or_an_index() {
    let knobs = hilos::scenarios::find("deadlock").unwrap().knobs();
    knobs.set_from_arg("strategy=ordered").unwrap();
    assert_eq!(knobs.get("strategy"), 1.0);
    knobs.set_from_arg("strategy=TIMEOUT").unwrap();
    assert_eq!(knobs.get("strategy"), 2.0);
    knobs.set_from_arg("strategy=0").unwrap();
    assert_eq!(knobs.get("strategy"), 0.0);
    let e = knobs
        .set_from_arg("strategy=polite")
        .unwrap_err()
        .to_string();
    assert!(
        e.contains("strategy") && e.contains("naive, ordered, timeout"),
        "{e}"
    );
    assert!(knobs.set_from_arg("strategy=3").is_err());
    let spec = knobs.spec("strategy").unwrap();
    assert_eq!(spec.format(1.0), "ordered");
}
