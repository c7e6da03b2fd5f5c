//! The lessons. Each scenario is one file: its knobs, its body (run on real
//! threads as "MainThread"), its metrics, its explanation and its Python
//! program. Adding one is adding a file and a line in the registry below
//! (see ARCHITECTURE.md).

/// Helpers that time things honestly (warm-up, rounds, median and range),
/// for the lessons whose outcome is a time or a speed-up.
pub mod measure;

use hilos_lab as lab;
pub use hilos_lab::scenario::*;

use crate::lab::record::Record;
use crate::lab::text::Text;
use crate::lab::{Ctx, Knobs, State, SyncResult, Thread};
pub(crate) use hilos_lab::t;

/// The reason the Parallelism scenarios give.
pub(crate) const NO_STEPPING_PROCESSES: Text = t!(
    "step mode schedules the threads of one process; this lesson runs real child processes (and a model of the GIL), which the gate does not reach",
    "el modo paso a paso planifica los hilos de un proceso; esta lección ejecuta procesos hijos reales (y un modelo del GIL), a los que la compuerta no llega"
);

/// The reason the asyncio scenarios give.
pub(crate) const NO_STEPPING_ASYNCIO: Text = t!(
    "asyncio already runs one task at a time on one thread, switching only at await; step mode schedules threads, not tasks",
    "asyncio ya ejecuta una tarea cada vez en un hilo, y solo cambia en los await; el modo paso a paso planifica hilos, no tareas"
);

/// The promise of the deadlock lessons.
pub(crate) const NO_DEADLOCK: Invariant = Invariant {
    holds: t!("no deadlock forms", "no se forma ningún interbloqueo"),
    broken: no_deadlock,
};

/// The promise of a correct program: it ends, and ends well.
pub(crate) const ENDS_WELL: Invariant = Invariant {
    holds: t!(
        "every thread ends, none fails, no deadlock forms",
        "todos los hilos terminan, ninguno falla, no se forma ningún interbloqueo"
    ),
    broken: ends_well,
};

/// "No deadlock forms": the wait-for graph never closed a cycle.
pub(crate) fn no_deadlock(record: &Record, _: &Knobs) -> Option<String> {
    let cycles = record.deadlocks_seen();
    let first = cycles.first()?;
    let names: Vec<String> = first
        .iter()
        .map(|w| record.thread_name(*w).to_string())
        .collect();
    Some(format!(
        "deadlock: {} wait for each other",
        names.join(" -> ")
    ))
}

/// Every thread ends well: no deadlock, no thread failed.
pub(crate) fn ends_well(record: &Record, knobs: &Knobs) -> Option<String> {
    if let Some(d) = no_deadlock(record, knobs) {
        return Some(d);
    }
    match failed_threads(record) {
        0 => None,
        n => Some(format!("{n} thread(s) failed")),
    }
}

/// The registry: each line declares a scenario's module (its file, named
/// like its id with `_` for `-`) and puts it in [`all`], in this order.
macro_rules! registry {
    ($($(#[$attr:meta])* $module:ident,)*) => {
        $($(#[$attr])* pub mod $module;)*

        /// Every scenario, in the order of the window's list.
        pub fn all() -> &'static [&'static Scenario] {
            static ALL: &[&Scenario] = &[$($(#[$attr])* &$module::SCENARIO,)*];
            ALL
        }
    };
}

registry! {
    frozen_ui,
    race_condition,
    producer_consumer,
    // Synchronisation, after race-condition: the locks, then the others.
    lock_rlock,
    deadlock,
    dining_philosophers,
    // Threads, pools and pipelines.
    thread_lifecycle,
    daemon_threads,
    thread_pool,
    thread_local,
    single_slot_pipeline,
    payment_pipeline,
    // Synchronisation: semaphore, event, condition, barrier, timer.
    semaphore,
    timer,
    barrier,
    event,
    condition,
    // Parallelism: the GIL and real child processes (Linux).
    #[cfg(target_os = "linux")]
    gil,
    #[cfg(target_os = "linux")]
    process_pool,
    #[cfg(target_os = "linux")]
    process_communication,
    // Async: asyncio on a real event loop.
    asyncio_basics,
    asyncio_blocking,
    asyncio_vs_threads,
}

/// What the child processes of the Parallelism scenarios are handed (see
/// `lab::process::child::main`): their targets and the scenarios' knobs.
#[cfg(target_os = "linux")]
pub const CHILD_REGISTRY: crate::lab::process::child::Registry =
    crate::lab::process::child::Registry {
        target: child_target,
        knobs: |id| find(id).map(|s| s.knobs()),
    };

/// What a child process runs, by the name its job gives (see
/// `lab::process`): the Parallelism scenarios' children, the pool's worker
/// loop, and `lab.panic` (a child that crashes, for the tests).
#[cfg(target_os = "linux")]
pub fn child_target(name: &str) -> Option<crate::lab::process::child::ChildTarget> {
    use crate::lab::process::child::ChildArgs;
    fn panic_target(_: &Ctx, args: &ChildArgs) -> SyncResult<()> {
        panic!("{} crashed on purpose", args.name)
    }
    Some(match name {
        "lab.panic" => panic_target,
        "gil.task" => gil::child_task,
        "comm.producer" => process_communication::producer,
        "comm.echo" => process_communication::echo,
        "comm.greet" => process_communication::greet,
        "comm.add" => process_communication::add,
        "comm.negate" => process_communication::negate,
        "comm.change" => process_communication::change,
        crate::lab::process::manager::SERVER_TARGET => crate::lab::process::manager::server,
        crate::lab::process::pool::WORKER_TARGET => {
            |ctx, args| crate::lab::process::pool::worker(ctx, args, pool_function)
        }
        _ => return None,
    })
}

/// What pool workers run, by name (`Pool.map("task", …)`).
#[cfg(target_os = "linux")]
pub fn pool_function(name: &str) -> Option<crate::lab::process::pool::PoolFunction> {
    Some(match name {
        "task" => process_pool::task,
        _ => return None,
    })
}

pub fn find(id: &str) -> Option<&'static Scenario> {
    all().iter().copied().find(|s| s.id == id)
}

pub fn ids() -> Vec<&'static str> {
    all().iter().map(|s| s.id).collect()
}

/// A counter's last value as a metric (0 if it was never created).
pub(crate) fn counter_metric(record: &Record, name: &'static str, label: Text) -> Metric {
    Metric {
        name,
        label,
        value: record.counter_value(name).unwrap_or(0) as f64,
    }
}

/// Format seconds the way a Python literal would read: 0.1, 2, 0.25.
pub(crate) fn py_num(v: f64) -> String {
    crate::lab::knobs::format_number(v)
}

/// A tiny deterministic generator for fake message contents (not a lesson;
/// the tutorials use `random.randint(1, 101)`).
pub(crate) struct Dice(u64);

impl Dice {
    pub fn new(seed: u64) -> Dice {
        Dice(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1)
    }

    /// A number from 1 to 100.
    pub fn roll(&mut self) -> u32 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        (self.0 % 100) as u32 + 1
    }
}

/// What the Python programs' main does with threads that may be stuck for
/// good: `t.join(timeout=…)` on each against one deadline, `give_up` scenario
/// seconds from now (the knob is read once, as the program reads its
/// constant), then look at who is still alive. Returns the threads still
/// alive when it gave up (none if all ended).
pub(crate) fn join_or_give_up(
    ctx: &Ctx,
    threads: &[Thread],
    give_up: &str,
) -> SyncResult<Vec<Thread>> {
    let lab = ctx.lab();
    let give_up = ctx.knob(give_up);
    let started = lab.now();
    for t in threads {
        // What is left of the deadline, in scenario seconds at this speed.
        let left = give_up - lab.now().duration_since(started).as_secs_f64() * lab.speed();
        t.join(Some(left.max(0.0)))?;
    }
    Ok(threads.iter().filter(|t| t.is_alive()).cloned().collect())
}

/// Why a `give_up` knob applies at the next Start.
pub(crate) const GIVE_UP_NOT_LIVE: Text = t!(
    "applies at the next Start: Main reads it once, when it starts waiting",
    "se aplica al próximo Inicio: Main lo lee una vez, al empezar a esperar"
);

/// Threads that ended with an exception (kept and folded alike).
pub(crate) fn failed_threads(record: &Record) -> usize {
    let kept = record
        .threads()
        .filter(|t| t.state == State::Failed)
        .count();
    kept + record.folded.all.ended[State::Failed.index()] as usize
}

/// How many deadlocks formed during the run (see [`Record::deadlocks_seen`]).
pub(crate) fn deadlocks_metric(record: &Record) -> Metric {
    Metric {
        name: "deadlocks",
        label: t!(
            "deadlocks the lab saw form",
            "interbloqueos que el laboratorio vio formarse"
        ),
        value: record.deadlocks_formed() as f64,
    }
}

/// When the threads of one role ran: from the first one's start to the last
/// one's end (or now, if some still run), in scenario seconds at the lab's
/// speed; 0 if none started. A duration computed from the record, so the
/// window, `hilos run --json` and tests all read the same number.
pub(crate) fn role_seconds(record: &Record, role: &str) -> f64 {
    let now = record.now();
    let mut first = f64::INFINITY;
    let mut last = f64::NEG_INFINITY;
    for t in record.threads().filter(|t| &*t.role == role) {
        // Started: the end of its `created` span (a thread never started has none).
        let started = match t.spans.front() {
            Some(s) if s.state == crate::lab::State::Created => s.end,
            Some(s) => s.start,
            None => continue,
        };
        let ended = if t.state.is_final() { t.since } else { now };
        first = first.min(started);
        last = last.max(ended);
    }
    if last >= first {
        (last - first) * record.speed
    } else {
        0.0
    }
}

/// How many threads of one role ended failed with a message starting with
/// `error` (e.g. "ValueError"): exceptions the lesson is about.
pub(crate) fn failed_with(record: &Record, role: &str, error: &str) -> usize {
    record
        .threads()
        .filter(|t| &*t.role == role)
        .filter(|t| t.failure.as_deref().is_some_and(|f| f.starts_with(error)))
        .count()
}

/// Compute for `seconds` of scenario time (scaled by the lab's speed): the
/// thread stays running, as a Python loop over `time.perf_counter()` does.
/// Looks at Stop on every turn.
pub(crate) fn busy(ctx: &Ctx, seconds: f64) -> SyncResult<()> {
    // A gated lab's clock moves only between steps: computing takes none of it.
    if ctx.lab().is_gated() {
        return ctx.check();
    }
    let end = std::time::Instant::now() + ctx.lab().scaled(seconds);
    while std::time::Instant::now() < end {
        ctx.check()?;
        std::hint::spin_loop();
    }
    Ok(())
}

/// Scenario seconds since `since`, at the lab's current speed: what
/// `time.perf_counter()` differences measure in the Python program.
pub(crate) fn scenario_seconds(ctx: &Ctx, since: std::time::Instant) -> f64 {
    ctx.lab()
        .now()
        .saturating_duration_since(since)
        .as_secs_f64()
        * ctx.lab().speed()
}

/// A metric from a counter that holds milliseconds, in seconds.
pub(crate) fn ms_metric(
    record: &Record,
    counter: &'static str,
    name: &'static str,
    label: Text,
) -> Metric {
    Metric {
        name,
        label,
        value: ms_counter_seconds(record, counter),
    }
}

/// Seconds as the whole milliseconds a counter holds.
pub(crate) fn to_ms(seconds: f64) -> i64 {
    (seconds * 1000.0).round() as i64
}

/// A counter that holds milliseconds, in seconds (0 before it is set).
pub(crate) fn ms_counter_seconds(record: &Record, counter: &str) -> f64 {
    record.counter_value(counter).unwrap_or(0) as f64 / 1000.0
}

/// Two decimals, as the metrics show them.
pub(crate) fn round2(v: f64) -> f64 {
    (v * 100.0).round() / 100.0
}

/// How many times faster `took` is than `baseline` (both in seconds), to
/// two decimals; 0 while either has not been measured.
pub(crate) fn speedup(baseline: f64, took: f64) -> f64 {
    if baseline > 0.0 && took > 0.0 {
        round2(baseline / took)
    } else {
        0.0
    }
}
