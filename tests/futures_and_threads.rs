//! What the lab gained for "Threads, pools and pipelines", held to Python's
//! documented behaviour on real threads: `threading` introspection and
//! excepthook, `threading.local`, and `concurrent.futures`
//! (ThreadPoolExecutor, Future, map, as_completed, shutdown).

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, mpsc};
use std::time::{Duration, Instant};

use hilos::lab::futures::as_completed;
use hilos::lab::{
    ExceptHookArgs, FutureState, Knobs, Lab, LabOptions, State, SyncError, ThreadPoolExecutor,
};

fn lab() -> Lab {
    Lab::new(LabOptions::default(), Knobs::new(&[]))
}

/// Poll until `cond` holds or 5 s pass (generous: CI machines are slow).
fn eventually(what: &str, mut cond: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(5);
    while !cond() {
        assert!(Instant::now() < deadline, "timed out waiting for: {what}");
        std::thread::sleep(Duration::from_millis(2));
    }
}

/// Run a scenario-like body as MainThread, wait for it, and hand back what it
/// sent; the lab is returned stopped, its record complete.
fn run_main<T: Send + 'static>(
    body: impl FnOnce(&hilos::lab::Ctx, mpsc::Sender<T>) -> hilos::lab::SyncResult<()> + Send + 'static,
) -> (Lab, Vec<T>) {
    let lab = lab();
    let (tx, rx) = mpsc::channel();
    lab.start_main(move |ctx| body(ctx, tx)).unwrap();
    assert!(lab.wait(Duration::from_secs(10)), "the run did not end");
    lab.stop();
    let sent = rx.try_iter().collect();
    (lab, sent)
}

// ---- threading introspection

#[test]
fn threads_know_themselves_as_python_threads_do() {
    let (lab, sent) = run_main(|ctx, tx| {
        let lab = ctx.lab();
        let main = lab.main_thread().expect("main_thread()");
        tx.send(format!("main={}", main.name())).unwrap();
        tx.send(format!("current={}", lab.current_thread().unwrap().name()))
            .unwrap();
        let t = lab.thread_for("worker", false, |c| {
            let me = c.current_thread();
            let lab = c.lab();
            assert_eq!(lab.get_ident(), me.ident());
            assert_eq!(lab.get_native_id(), me.native_id());
            assert_eq!(me.name(), "Thread-1 (worker)");
            // enumerate() lists MainThread and this thread.
            let names: Vec<String> = lab
                .enumerate()
                .iter()
                .map(|t| t.name().to_string())
                .collect();
            assert!(names.contains(&"MainThread".to_string()), "{names:?}");
            assert!(names.contains(&me.name().to_string()), "{names:?}");
            c.sleep(0.05)
        });
        tx.send(format!("ident before start={:?}", t.ident()))
            .unwrap();
        tx.send(format!("native_id before start={:?}", t.native_id()))
            .unwrap();
        t.start()?;
        let ident = t.ident().expect("ident is set once start() returns");
        let native = t.native_id().expect("native_id is set once started");
        assert_ne!(ident, main.ident().unwrap(), "each thread its own ident");
        assert_ne!(native, main.native_id().unwrap());
        #[cfg(target_os = "linux")]
        assert!(
            std::path::Path::new(&format!("/proc/self/task/{native}")).exists(),
            "native_id {native} is an OS thread id of this process"
        );
        tx.send(format!("active_count={}", lab.active_count()))
            .unwrap();
        t.join(None)?;
        // ident stays after the thread ends; the thread is no longer listed.
        assert_eq!(t.ident(), Some(ident));
        tx.send(format!("active_count after join={}", lab.active_count()))
            .unwrap();
        // A second default name counts on.
        let u = lab.thread_for("worker", false, |_| Ok(()));
        tx.send(format!("next name={}", u.name())).unwrap();
        Ok(())
    });
    assert_eq!(
        sent,
        [
            "main=MainThread",
            "current=MainThread",
            "ident before start=None",
            "native_id before start=None",
            "active_count=2",
            "active_count after join=1",
            "next name=Thread-2 (worker)",
        ]
    );
    // The record plots active_count(): 1, then 2, then 1, then 0.
    let rec = lab.record().lock();
    assert_eq!(rec.alive_series.max, 2.0);
    assert_eq!(rec.alive_series.last, 0.0);
}

#[test]
fn an_uncaught_exception_is_printed_as_python_prints_it_and_the_thread_fails() {
    let lab = lab();
    let t = lab.handle().thread_for("divide", false, |_| {
        Err(SyncError::exception(
            "ZeroDivisionError",
            "division by zero",
        ))
    });
    t.start().unwrap();
    t.join(None).unwrap();
    assert_eq!(t.state(), State::Failed);
    let survivor = lab.handle().thread_for("other", false, |c| c.sleep(0.01));
    survivor.start().unwrap();
    survivor.join(None).unwrap();
    assert_eq!(survivor.state(), State::Done, "the program goes on");
    lab.stop();
    let rec = lab.record().lock();
    let lines: Vec<&str> = rec.log.iter().map(|l| l.text.as_str()).collect();
    let at = lines
        .iter()
        .position(|l| *l == "Exception in thread Thread-1 (divide):")
        .unwrap_or_else(|| panic!("no excepthook line in {lines:?}"));
    assert_eq!(lines[at + 1], "ZeroDivisionError: division by zero");
    let track = rec
        .threads()
        .find(|t| &*t.name == "Thread-1 (divide)")
        .unwrap();
    assert_eq!(
        track.failure.as_deref(),
        Some("ZeroDivisionError: division by zero")
    );
}

#[test]
fn threading_excepthook_can_be_replaced() {
    let lab = lab();
    let seen = Arc::new(Mutex::new(Vec::new()));
    let s = seen.clone();
    lab.handle()
        .set_excepthook(Some(Arc::new(move |args: &ExceptHookArgs| {
            s.lock().unwrap().push(format!(
                "{} in {}: {}",
                args.exc_type,
                args.thread.name(),
                args.exc_value
            ));
        })));
    let t = lab.handle().thread("Bad", false, |_| {
        Err(SyncError::ValueError("bad input".into()))
    });
    t.start().unwrap();
    t.join(None).unwrap();
    assert_eq!(t.state(), State::Failed, "the thread still fails");
    assert_eq!(*seen.lock().unwrap(), ["ValueError in Bad: bad input"]);
    lab.stop();
    let rec = lab.record().lock();
    assert!(
        !rec.log
            .iter()
            .any(|l| l.text.starts_with("Exception in thread")),
        "the replaced hook prints nothing"
    );
}

// ---- threading.local

#[test]
fn a_local_holds_a_value_per_thread_and_none_for_a_thread_that_set_nothing() {
    let lab = lab();
    let data = lab.handle().local::<String>("mydata.user");
    data.set("main's".into());
    let barrier = lab.handle().barrier("all_set", 8).unwrap();
    let mixed = Arc::new(AtomicUsize::new(0));
    let threads: Vec<_> = (0..8)
        .map(|i| {
            let (data, barrier, mixed) = (data.clone(), barrier.clone(), mixed.clone());
            lab.handle().thread(&format!("T{i}"), false, move |c| {
                // Not inherited from the thread that made it.
                let err = data.get().unwrap_err();
                assert_eq!(
                    err.python_line(),
                    "AttributeError: '_thread._local' object has no attribute 'user'"
                );
                data.set(format!("user {i}"));
                barrier.wait(None)?; // every thread has set its own
                c.sleep(0.01)?;
                if data.get()? != format!("user {i}") {
                    mixed.fetch_add(1, Ordering::SeqCst);
                }
                Ok(())
            })
        })
        .collect();
    for t in &threads {
        t.start().unwrap();
    }
    for t in &threads {
        t.join(None).unwrap();
        assert_eq!(t.state(), State::Done);
    }
    assert_eq!(mixed.load(Ordering::SeqCst), 0, "no thread saw another's");
    assert_eq!(
        data.get().unwrap(),
        "main's",
        "the main thread's is untouched"
    );
    eventually("ended threads' values forgotten", || {
        data.set("main's again".into());
        data.threads_holding() == 1
    });
    data.delete().unwrap();
    assert!(data.try_get().is_none());
    assert!(data.delete().is_err(), "del of an unset attribute raises");
}

// ---- concurrent.futures

#[test]
fn result_exception_and_timeout_follow_python() {
    let (_, sent) = run_main(|ctx, tx| {
        ThreadPoolExecutor::with(&ctx.lab(), 2, |ex| {
            let slow = ex.submit("slow()", |c| {
                c.sleep(0.3)?;
                Ok(42)
            })?;
            let bad = ex.submit("bad()", |_| -> hilos::lab::SyncResult<i32> {
                Err(SyncError::exception(
                    "ZeroDivisionError",
                    "division by zero",
                ))
            })?;
            // result(timeout) gives up with TimeoutError while it runs.
            let early = slow.result(Some(0.01));
            tx.send(format!("{early:?}")).unwrap();
            tx.send(format!("done={} running={}", slow.done(), slow.running()))
                .unwrap();
            tx.send(format!("{:?}", slow.result(None))).unwrap();
            tx.send(format!("{:?}", slow.exception(None))).unwrap();
            tx.send(bad.result(None).unwrap_err().python_line())
                .unwrap();
            tx.send(bad.exception(None).unwrap().unwrap().python_line())
                .unwrap();
            Ok(())
        })
    });
    assert_eq!(
        sent,
        [
            format!("{:?}", Err::<i32, _>(SyncError::timeout())),
            "done=false running=true".into(),
            "Ok(42)".into(),
            "Ok(None)".into(),
            "ZeroDivisionError: division by zero".into(),
            "ZeroDivisionError: division by zero".into(),
        ]
    );
}

#[test]
fn only_a_pending_future_can_be_cancelled() {
    let (lab, sent) = run_main(|ctx, tx| {
        let ex = ThreadPoolExecutor::new(&ctx.lab(), 1)?;
        let running = ex.submit("first()", |c| c.sleep(0.2).map(|_| 1))?;
        let pending = ex.submit("second()", |_| Ok(2))?;
        eventually("the first runs", || running.running());
        tx.send(format!(
            "cancel running={} cancel pending={} again={}",
            running.cancel(),
            pending.cancel(),
            pending.cancel()
        ))
        .unwrap();
        tx.send(format!(
            "cancelled={} done={}",
            pending.cancelled(),
            pending.done()
        ))
        .unwrap();
        tx.send(pending.result(None).unwrap_err().python_line())
            .unwrap();
        tx.send(format!("{:?}", running.result(None))).unwrap();
        ex.shutdown(true, false)?;
        // The worker noticed the cancellation instead of running it.
        tx.send(format!("{:?}", pending.state())).unwrap();
        Ok(())
    });
    assert_eq!(
        sent,
        [
            "cancel running=false cancel pending=true again=true",
            "cancelled=true done=true",
            "concurrent.futures._base.CancelledError",
            "Ok(1)",
            "CancelledAndNotified",
        ]
    );
    let rec = lab.record().lock();
    let second = rec.futures().find(|f| &*f.label == "second()").unwrap();
    assert!(second.state.is_cancelled());
    assert_eq!(second.worker, None, "it never ran");
}

#[test]
fn as_completed_yields_in_completion_order_and_map_in_submission_order() {
    let (_, sent) = run_main(|ctx, tx| {
        let pauses = [0.3, 0.1, 0.2, 0.0];
        ThreadPoolExecutor::with(&ctx.lab(), 4, |ex| {
            let fs: Vec<_> = pauses
                .iter()
                .enumerate()
                .map(|(i, p)| {
                    let p = *p;
                    ex.submit(&format!("task({i})"), move |c| {
                        c.sleep(p)?;
                        Ok(i)
                    })
                })
                .collect::<Result<_, _>>()?;
            let order: Vec<usize> = as_completed(&fs, None)
                .map(|f| f.and_then(|f| f.result(None)))
                .collect::<Result<_, _>>()?;
            tx.send(format!("as_completed {order:?}")).unwrap();
            let mapped: Vec<usize> = ex
                .map(
                    "task",
                    move |c, i: usize| {
                        c.sleep(pauses[i])?;
                        Ok(i * 10)
                    },
                    0..4,
                )?
                .collect::<Result<_, _>>()?;
            tx.send(format!("map {mapped:?}")).unwrap();
            Ok(())
        })
    });
    assert_eq!(sent, ["as_completed [3, 1, 2, 0]", "map [0, 10, 20, 30]"]);
}

#[test]
fn as_completed_gives_up_with_timeout_error() {
    let (_, sent) = run_main(|ctx, tx| {
        ThreadPoolExecutor::with(&ctx.lab(), 2, |ex| {
            let quick = ex.submit("quick()", |_| Ok(1))?;
            let slow = ex.submit("slow()", |c| c.sleep(0.5).map(|_| 2))?;
            quick.result(None)?;
            let mut it = as_completed(&[slow.clone(), quick.clone()], Some(0.05));
            tx.send(format!("{:?}", it.next().unwrap()?.label()))
                .unwrap();
            tx.send(it.next().unwrap().err().unwrap().python_line())
                .unwrap();
            tx.send(format!("{:?}", it.next().is_none())).unwrap();
            Ok(())
        })
    });
    assert_eq!(
        sent,
        [
            "\"quick()\"",
            "TimeoutError: 1 (of 2) futures unfinished",
            "true"
        ]
    );
}

#[test]
fn map_raises_the_first_exception_in_order_and_cancels_what_had_not_started() {
    let (lab, sent) = run_main(|ctx, tx| {
        ThreadPoolExecutor::with(&ctx.lab(), 1, |ex| {
            let results = ex.map(
                "task",
                |c, i: usize| {
                    c.sleep(0.02)?;
                    if i == 1 {
                        return Err(SyncError::ValueError(format!("bad item {i}")));
                    }
                    Ok(i)
                },
                0..6,
            )?;
            for r in results {
                match r {
                    Ok(v) => tx.send(format!("result {v}")).unwrap(),
                    Err(e) => tx.send(e.python_line()).unwrap(),
                }
            }
            Ok(())
        })
    });
    assert_eq!(sent, ["result 0", "ValueError: bad item 1"]);
    let rec = lab.record().lock();
    let states: Vec<(String, FutureState)> = rec
        .futures()
        .map(|f| (f.label.to_string(), f.state))
        .collect();
    assert_eq!(states[1].1, FutureState::Finished);
    // One worker: task(2) may have started before map raised; the rest never run.
    let cancelled = states.iter().filter(|(_, s)| s.is_cancelled()).count();
    assert!(cancelled >= 3, "{states:?}");
    assert!(
        rec.futures().filter(|f| f.error.is_some()).all(|f| f.read),
        "map read the exception"
    );
}

#[test]
fn an_exception_in_a_task_stays_in_its_future_unread_and_the_worker_goes_on() {
    let (lab, _) = run_main(|ctx, _tx: mpsc::Sender<()>| {
        ThreadPoolExecutor::with(&ctx.lab(), 1, |ex| {
            ex.submit("task(0)", |_| -> hilos::lab::SyncResult<()> {
                Err(SyncError::ValueError("nobody will know".into()))
            })?;
            ex.submit("task(1)", |c| c.sleep(0.01))?;
            Ok(())
        })
    });
    let rec = lab.record().lock();
    let f: Vec<_> = rec.futures().collect();
    assert_eq!(f[0].error.as_deref(), Some("ValueError: nobody will know"));
    assert!(f[0].exception_unread(), "the exception is lost");
    assert_eq!(f[1].state, FutureState::Finished);
    assert!(f[1].error.is_none());
    // The worker ran both, and did not fail; nothing was printed.
    for t in rec.threads() {
        assert_eq!(t.state, State::Done, "{}", t.name);
    }
    assert!(!rec.log.iter().any(|l| l.text.contains("Exception")));
}

#[test]
fn the_pool_starts_workers_as_needed_never_above_max_workers_named_as_python_names_them() {
    let (lab, sent) = run_main(|ctx, tx| {
        let lab = ctx.lab();
        let first = ThreadPoolExecutor::new(&lab, 3)?;
        let running = Arc::new(AtomicUsize::new(0));
        let peak = Arc::new(AtomicUsize::new(0));
        for i in 0..12 {
            let (running, peak) = (running.clone(), peak.clone());
            first.submit(&format!("task({i})"), move |c| {
                let now = running.fetch_add(1, Ordering::SeqCst) + 1;
                peak.fetch_max(now, Ordering::SeqCst);
                c.sleep(0.03)?;
                running.fetch_sub(1, Ordering::SeqCst);
                Ok(())
            })?;
        }
        first.shutdown(true, false)?;
        tx.send(format!("peak {}", peak.load(Ordering::SeqCst)))
            .unwrap();
        let names: Vec<String> = first
            .threads()
            .iter()
            .map(|t| t.name().to_string())
            .collect();
        tx.send(names.join(",")).unwrap();
        // A second pool counts on; an idle worker is reused, not added.
        let second = ThreadPoolExecutor::new(&lab, 4)?;
        second.submit("a()", |_| Ok(()))?.result(None)?;
        eventually("the worker is idle", || second.busy() == 0);
        std::thread::sleep(Duration::from_millis(20));
        second.submit("b()", |_| Ok(()))?.result(None)?;
        let names: Vec<String> = second
            .threads()
            .iter()
            .map(|t| t.name().to_string())
            .collect();
        tx.send(names.join(",")).unwrap();
        second.shutdown(true, false)?;
        tx.send(
            second
                .submit("after()", |_| Ok(()))
                .err()
                .unwrap()
                .python_line(),
        )
        .unwrap();
        tx.send(
            ThreadPoolExecutor::new(&lab, 0)
                .err()
                .unwrap()
                .python_line(),
        )
        .unwrap();
        Ok(())
    });
    assert_eq!(sent[0], "peak 3");
    assert_eq!(
        sent[1],
        "ThreadPoolExecutor-0_0,ThreadPoolExecutor-0_1,ThreadPoolExecutor-0_2"
    );
    assert_eq!(sent[2], "ThreadPoolExecutor-1_0");
    assert_eq!(
        sent[3],
        "RuntimeError: cannot schedule new futures after shutdown"
    );
    assert_eq!(sent[4], "ValueError: max_workers must be greater than 0");
    let rec = lab.record().lock();
    let pool = rec.resource_by_name("ThreadPoolExecutor-0").unwrap();
    assert_eq!(pool.capacity, Some(3));
    assert_eq!(
        pool.level_series.max, 3.0,
        "busy workers peaked at max_workers"
    );
    assert!(pool.waiters_series.max >= 9.0, "work waited in the queue");
    assert_eq!(pool.level, 0);
    // Idle workers: none while the queue was full, some as it ran dry, none
    // once shutdown had them all leave.
    let idle = rec.counter("ThreadPoolExecutor-0.idle_workers").unwrap();
    assert!(idle.series.max >= 1.0 && idle.series.max <= 3.0);
    assert_eq!(idle.value, 0);
    // The lanes group by pool, as the window shows them.
    let roles: Vec<&str> = rec
        .threads()
        .filter(|t| t.name.starts_with("ThreadPool"))
        .map(|t| &*t.role)
        .collect();
    assert_eq!(
        roles,
        [
            "ThreadPoolExecutor-0",
            "ThreadPoolExecutor-0",
            "ThreadPoolExecutor-0",
            "ThreadPoolExecutor-1"
        ]
    );
}

#[test]
fn shutdown_waits_for_the_work_and_cancel_futures_drops_what_had_not_started() {
    let (_, sent) = run_main(|ctx, tx| {
        let lab = ctx.lab();
        let ex = ThreadPoolExecutor::new(&lab, 2)?;
        let fs: Vec<_> = (0..6)
            .map(|i| ex.submit(&format!("task({i})"), move |c| c.sleep(0.1).map(|_| i)))
            .collect::<Result<_, _>>()?;
        let t0 = Instant::now();
        ex.shutdown(true, false)?;
        let waited = t0.elapsed();
        tx.send(format!("all done={}", fs.iter().all(|f| f.done())))
            .unwrap();
        tx.send(format!("waited={}", waited >= Duration::from_millis(250)))
            .unwrap();

        let ex = ThreadPoolExecutor::new(&lab, 2)?;
        let fs: Vec<_> = (0..6)
            .map(|i| ex.submit(&format!("task({i})"), move |c| c.sleep(0.1).map(|_| i)))
            .collect::<Result<_, _>>()?;
        eventually("two run", || fs.iter().filter(|f| f.running()).count() == 2);
        ex.shutdown(true, true)?;
        let cancelled = fs.iter().filter(|f| f.cancelled()).count();
        let finished = fs.iter().filter(|f| f.result(None).is_ok()).count();
        tx.send(format!("cancelled={cancelled} finished={finished}"))
            .unwrap();

        // shutdown(wait=False) returns at once; the work still finishes.
        let ex = ThreadPoolExecutor::new(&lab, 1)?;
        let f = ex.submit("later()", |c| c.sleep(0.1).map(|_| 7))?;
        let t0 = Instant::now();
        ex.shutdown(false, false)?;
        tx.send(format!(
            "returned at once={}",
            t0.elapsed() < Duration::from_millis(50)
        ))
        .unwrap();
        tx.send(format!("{:?}", f.result(None))).unwrap();
        Ok(())
    });
    assert_eq!(
        sent,
        [
            "all done=true",
            "waited=true",
            "cancelled=4 finished=2",
            "returned at once=true",
            "Ok(7)"
        ]
    );
}

#[test]
fn done_callbacks_run_when_the_future_is_done_or_at_once_if_it_is() {
    let (_, mut sent) = run_main(|ctx, tx| {
        let lab = ctx.lab();
        ThreadPoolExecutor::with(&lab, 1, |ex| {
            let f = ex.submit("slow()", |c| c.sleep(0.05).map(|_| 5))?;
            let (t, l) = (tx.clone(), lab.clone());
            f.add_done_callback(move |f| {
                let on = l.current_thread().map(|t| t.name().to_string());
                t.send(format!("later on {on:?}: {:?}", f.result(None)))
                    .unwrap();
            });
            f.result(None)?;
            let (t, l) = (tx.clone(), lab.clone());
            f.add_done_callback(move |f| {
                let on = l.current_thread().map(|t| t.name().to_string());
                t.send(format!("at once on {on:?}: {}", f.done())).unwrap();
            });
            Ok(())
        })
    });
    // result() may return before the worker has called the first callback,
    // as in Python: the order of the two lines is not fixed.
    sent.sort();
    assert_eq!(
        sent,
        [
            "at once on Some(\"MainThread\"): true",
            "later on Some(\"ThreadPoolExecutor-0_0\"): Ok(5)",
        ]
    );
}

#[test]
fn main_exit_finishes_queued_work_and_joins_the_pool_like_python() {
    let done = Arc::new(AtomicUsize::new(0));
    let d = done.clone();
    let lab = lab();
    lab.start_main(move |ctx| {
        // No shutdown, no with-block: Python's exit still runs the queued
        // work and joins the workers (concurrent.futures' atexit hook).
        let ex = ThreadPoolExecutor::new(&ctx.lab(), 2)?;
        for i in 0..6 {
            let d = d.clone();
            ex.submit(&format!("task({i})"), move |c| {
                c.sleep(0.05)?;
                d.fetch_add(1, Ordering::SeqCst);
                Ok(())
            })?;
        }
        std::mem::forget(ex); // kept alive, as a module-level pool would be
        Ok(())
    })
    .unwrap();
    assert!(lab.wait(Duration::from_secs(5)), "the program exits");
    assert_eq!(done.load(Ordering::SeqCst), 6, "all queued work ran");
    lab.stop();
    for t in lab.record().lock().threads() {
        assert_eq!(t.state, State::Done, "{}", t.name);
    }
}

#[test]
fn stop_ends_a_busy_pool_and_its_waiters_promptly() {
    let lab = lab();
    lab.start_main(|ctx| {
        ThreadPoolExecutor::with(&ctx.lab(), 4, |ex| {
            let fs: Vec<_> = (0..40)
                .map(|i| ex.submit(&format!("task({i})"), |c| c.sleep(60.0).map(|_| 0)))
                .collect::<Result<_, _>>()?;
            for f in as_completed(&fs, None) {
                f?;
            }
            Ok(())
        })
    })
    .unwrap();
    eventually("four busy", || {
        lab.record()
            .lock()
            .resource_by_name("ThreadPoolExecutor-0")
            .is_some_and(|r| r.level == 4)
    });
    let report = lab.stop();
    assert!(report.stop_seconds < 0.25, "{report:?}");
    assert_eq!(report.threads_left, 0);
    assert_eq!(lab.handle().active_count(), 0);
    let rec = lab.record().lock();
    assert_eq!(rec.panics, 0);
    for t in rec.threads() {
        assert_eq!(t.state, State::Killed, "{}", t.name);
    }
}

// ---- a Lock used as a signal

#[test]
fn a_lock_another_thread_releases_is_a_signal_not_a_deadlock() {
    let lab = lab();
    let h = lab.handle();
    // Seed 001's pipeline: the consumer waits on a Lock it acquired itself,
    // for the producer to release it.
    let consumer_lock = h.lock("consumer_lock");
    consumer_lock.acquire().unwrap();
    let c = consumer_lock.clone();
    let consumer = h.thread("Consumer", false, move |_| {
        for _ in 0..3 {
            c.acquire()?;
        }
        Ok(())
    });
    consumer.start().unwrap();
    let p = consumer_lock.clone();
    let producer = h.thread("Producer", false, move |ctx| {
        for _ in 0..3 {
            ctx.sleep(0.1)?;
            p.release()?;
        }
        Ok(())
    });
    producer.start().unwrap();
    // While the consumer waits on the lock it holds, the lab sees no deadlock.
    let mut checks = 0;
    while !consumer.is_finished() {
        if consumer.state() == State::Blocked {
            checks += 1;
            assert!(lab.record().lock().deadlocks().is_empty());
        }
        std::thread::sleep(Duration::from_millis(5));
    }
    assert!(checks > 10, "looked while the consumer waited ({checks})");
    consumer.join(None).unwrap();
    assert_eq!(consumer.state(), State::Done);

    // A Lock nobody else releases is still the self-deadlock it is.
    let lock = h.lock("plain");
    let l = lock.clone();
    let stuck = h.thread("Stuck", false, move |_| {
        l.acquire()?;
        l.acquire()
    });
    stuck.start().unwrap();
    eventually("the deadlock is named", || {
        let rec = lab.record().lock();
        rec.deadlocks()
            .iter()
            .any(|c| c.len() == 1 && rec.thread_name(c[0]).as_ref() == "Stuck")
    });
    let report = lab.stop();
    assert!(report.stop_seconds < 0.25);
}

// ---- atexit

#[test]
fn atexit_calls_run_after_non_daemons_end_and_before_daemons_are_cut_off() {
    let lab = lab();
    let order = Arc::new(Mutex::new(Vec::new()));
    let o = order.clone();
    lab.start_main(move |ctx| {
        let lab = ctx.lab();
        for (name, daemon, seconds) in [("Worker", false, 0.1), ("Daemon", true, 60.0)] {
            let o = o.clone();
            lab.thread(name, daemon, move |c| {
                c.sleep(seconds)?;
                o.lock().unwrap().push(format!("{name} ended"));
                Ok(())
            })
            .start()?;
        }
        for n in 1..=2 {
            let o = o.clone();
            lab.atexit_register(move |c| {
                let alive: Vec<String> = c
                    .lab()
                    .enumerate()
                    .iter()
                    .map(|t| t.name().to_string())
                    .collect();
                o.lock().unwrap().push(format!("atexit {n}: {alive:?}"));
                Ok(())
            });
        }
        Ok(())
    })
    .unwrap();
    assert!(lab.wait(Duration::from_secs(5)));
    lab.stop();
    assert_eq!(
        *order.lock().unwrap(),
        [
            "Worker ended",
            // The last registered runs first; the daemon is still alive.
            "atexit 2: [\"MainThread\", \"Daemon\"]",
            "atexit 1: [\"MainThread\", \"Daemon\"]",
        ]
    );
    let rec = lab.record().lock();
    let daemon = rec.threads().find(|t| &*t.name == "Daemon").unwrap();
    assert_eq!(daemon.state, State::Killed);
}

#[test]
fn thousands_of_pending_futures_leave_stop_little_to_wake() {
    let lab = lab();
    lab.start_main(|ctx| {
        ThreadPoolExecutor::with(&ctx.lab(), 2, |ex| {
            let fs: Vec<_> = (0..2000)
                .map(|i| ex.submit(&format!("task({i})"), |c| c.sleep(60.0).map(|_| 0)))
                .collect::<Result<_, _>>()?;
            fs[0].result(None).map(|_| ())
        })
    })
    .unwrap();
    // Pending futures are all kept (only finished ones beyond 1,024 go).
    eventually("all submitted", || {
        lab.record().lock().futures().len() == 2000
    });
    // Only the waited-on future and the live threads and primitives are in
    // the set Stop wakes; the 2,000 futures are not.
    let wakers = lab.handle().shared().wakers_registered();
    assert!(wakers < 50, "{wakers} wakers");
    let report = lab.stop();
    assert!(report.stop_seconds < 0.25, "{report:?}");
    assert_eq!(report.threads_left, 0);
}
