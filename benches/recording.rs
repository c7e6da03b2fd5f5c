//! What recording costs. Run with `cargo bench --bench recording`.
//!
//! - `raw_crossbeam_send`: one `try_send` of an event-sized value into a bounded
//!   crossbeam channel drained by another thread (the floor).
//! - `probe_emit`: the lab's `Probe::emit` (stamp + try_send + count), drained.
//! - `counter_set` / `lock_acquire_release`: a primitive's call as a worker
//!   makes it, with the real recorder thread applying every event.
//! - Before the table: how many events per second the recorder sustains with
//!   two threads flooding it, and how many it dropped.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread;
use std::time::{Duration, Instant};

use hilos::lab::probe::{Event, EventKind, Probe};
use hilos::lab::{Knobs, Lab, LabOptions, State};

fn main() {
    println!("one event is {} bytes", std::mem::size_of::<Event>());
    recorder_throughput();
    divan::main();
}

/// A drain thread for a receiver, stopped when the returned flag is set.
fn drain<T: Send + 'static>(
    rx: crossbeam_channel::Receiver<T>,
) -> (Arc<AtomicBool>, thread::JoinHandle<u64>) {
    let stop = Arc::new(AtomicBool::new(false));
    let s = stop.clone();
    let h = thread::spawn(move || {
        let mut n = 0u64;
        while !s.load(Ordering::Relaxed) {
            while rx.try_recv().is_ok() {
                n += 1;
            }
            thread::yield_now();
        }
        n
    });
    (stop, h)
}

#[divan::bench]
fn raw_crossbeam_send(bencher: divan::Bencher) {
    #[derive(Clone, Copy)]
    #[allow(dead_code)]
    struct Same([u8; std::mem::size_of::<Event>()]); // as large as the lab's Event
    let (tx, rx) = crossbeam_channel::bounded::<Same>(1 << 16);
    let (stop, h) = drain(rx);
    bencher.bench_local(|| {
        let _ = tx.try_send(divan::black_box(Same([7; std::mem::size_of::<Event>()])));
    });
    stop.store(true, Ordering::Relaxed);
    let _ = h.join();
}

#[divan::bench]
fn probe_emit(bencher: divan::Bencher) {
    let (probe, rx) = Probe::new(1 << 16);
    let (stop, h) = drain(rx);
    bencher.bench_local(|| {
        probe.emit(divan::black_box(EventKind::State {
            id: 3,
            state: State::Running,
            target: None,
        }));
    });
    stop.store(true, Ordering::Relaxed);
    let _ = h.join();
}

#[divan::bench]
fn counter_set(bencher: divan::Bencher) {
    let lab = Lab::new(LabOptions::default(), Knobs::new(&[]));
    let counter = lab.handle().counter("n");
    let mut i = 0;
    bencher.bench_local(|| {
        i += 1;
        counter.set(divan::black_box(i));
    });
}

#[divan::bench]
fn lock_acquire_release(bencher: divan::Bencher) {
    let lab = Lab::new(LabOptions::default(), Knobs::new(&[]));
    let lock = lab.handle().lock("l");
    bencher.bench_local(|| {
        let _ = lock.acquire();
        let _ = lock.release();
    });
}

/// Two threads set counters as fast as they can for one second.
fn recorder_throughput() {
    let mut lab = Lab::new(LabOptions::default(), Knobs::new(&[]));
    let t0 = Instant::now();
    let senders: Vec<_> = (0..2)
        .map(|i| {
            let c = lab.handle().counter(&format!("c{i}"));
            thread::spawn(move || {
                let start = Instant::now();
                let mut n = 0i64;
                while start.elapsed() < Duration::from_secs(1) {
                    for _ in 0..1000 {
                        n += 1;
                        c.set(n);
                    }
                }
                n
            })
        })
        .collect();
    let sent: i64 = senders.into_iter().map(|h| h.join().unwrap_or(0)).sum();
    lab.stop();
    let secs = t0.elapsed().as_secs_f64();
    let rec = lab
        .record()
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    println!(
        "recorder: {} events sent in {secs:.2} s; {} recorded ({:.2} M/s), {} dropped ({:.1}%)",
        sent,
        rec.events_recorded,
        rec.events_recorded as f64 / secs / 1e6,
        rec.events_dropped,
        100.0 * rec.events_dropped as f64 / sent.max(1) as f64
    );
}
