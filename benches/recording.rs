//! What recording costs. Run with `cargo bench --bench recording`.
//!
//! - `raw_crossbeam_send_x1000`: 1000 `try_send`s of an event-sized value into
//!   a bounded crossbeam channel (the floor). Divide by 1000 for one send.
//! - `probe_emit_x1000`: 1000 of the lab's `Probe::emit` (clock reading + the
//!   same try_send). Divide by 1000 for one event.
//! - `clock_reading_x1000` / `std_instant_now_x1000`: what stamping costs.
//! - `counter_set` / `lock_acquire_release`: a primitive's call as a worker
//!   makes it, with the real recorder thread applying every event.
//! - Before the table: how many events per second the recorder sustains with
//!   two threads flooding it, and how many it dropped.

use std::thread;
use std::time::{Duration, Instant};

use hilos::lab::probe::{Event, EventKind, Probe};
use hilos::lab::{Knobs, Lab, LabOptions, State};

fn main() {
    println!("one event is {} bytes", std::mem::size_of::<Event>());
    recorder_throughput();
    divan::main();
}

/// Events per timed batch: each batch fills a fresh channel that nobody drains
/// during the timing, so the numbers are the sender's own cost, free of the
/// cache-line ping-pong a concurrent receiver adds (which differs run to run).
const BATCH: usize = 1000;

#[divan::bench]
fn raw_crossbeam_send_x1000(bencher: divan::Bencher) {
    #[derive(Clone, Copy)]
    #[allow(dead_code)]
    struct Same([u8; std::mem::size_of::<Event>()]); // as large as the lab's Event
    bencher
        .with_inputs(|| crossbeam_channel::bounded::<Same>(BATCH))
        .bench_local_values(|(tx, rx)| {
            for _ in 0..BATCH {
                let _ = tx.try_send(divan::black_box(Same([7; std::mem::size_of::<Event>()])));
            }
            (tx, rx)
        });
}

#[divan::bench]
fn probe_emit_x1000(bencher: divan::Bencher) {
    bencher
        .with_inputs(|| Probe::new(BATCH))
        .bench_local_values(|(probe, rx)| {
            for _ in 0..BATCH {
                probe.emit(divan::black_box(EventKind::State {
                    id: 3,
                    state: State::Running,
                    target: None,
                    timed: false,
                }));
            }
            (probe, rx)
        });
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
    let lab = Lab::new(LabOptions::default(), Knobs::new(&[]));
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
    let rec = lab.record().lock();
    println!(
        "recorder: {} events sent in {secs:.2} s; {} recorded ({:.2} M/s), {} dropped ({:.1}%)",
        sent,
        rec.events_recorded,
        rec.events_recorded as f64 / secs / 1e6,
        rec.events_dropped,
        100.0 * rec.events_dropped as f64 / sent.max(1) as f64
    );
}

#[divan::bench]
fn clock_reading_x1000(bencher: divan::Bencher) {
    let clock = hilos::lab::probe::LabClock::new();
    bencher.bench_local(|| {
        let mut sum = 0u64;
        for _ in 0..BATCH {
            sum = sum.wrapping_add(divan::black_box(&clock).raw());
        }
        sum
    });
}

#[divan::bench]
fn std_instant_now_x1000(bencher: divan::Bencher) {
    bencher.bench_local(|| {
        let mut last = Instant::now();
        for _ in 0..BATCH {
            last = divan::black_box(Instant::now());
        }
        last
    });
}

/// A call that records nothing: `acquire(blocking=False)` on a Lock that is
/// held. What it costs is the primitive's own path, step point included
/// (Free mode: one branch), with no recorder thread in the way.
#[divan::bench]
fn lock_try_acquire_held(bencher: divan::Bencher) {
    let lab = Lab::new(LabOptions::default(), Knobs::new(&[]));
    let lock = lab.handle().lock("l");
    let _ = lock.acquire();
    bencher.bench_local(|| divan::black_box(lock.try_acquire()));
}
