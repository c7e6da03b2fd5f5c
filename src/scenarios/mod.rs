//! The lessons. Each scenario is one file: its knobs, its body (run on real
//! threads as "MainThread"), its metrics, its explanation and its Python
//! program. Adding one is adding a file and a line in [`all`].

pub mod barrier;
pub mod condition;
pub mod daemon_threads;
pub mod deadlock;
pub mod dining_philosophers;
pub mod event;
pub mod frozen_ui;
pub mod lock_rlock;
pub mod payment_pipeline;
pub mod producer_consumer;
pub mod race_condition;
pub mod semaphore;
pub mod single_slot_pipeline;
pub mod thread_lifecycle;
pub mod thread_local;
pub mod thread_pool;
pub mod timer;

pub mod asyncio_basics;
pub mod asyncio_blocking;
pub mod asyncio_vs_threads;
// Parallelism: the GIL and real child processes (Linux).
#[cfg(target_os = "linux")]
pub mod gil;
pub mod measure;
#[cfg(target_os = "linux")]
pub mod process_communication;
#[cfg(target_os = "linux")]
pub mod process_pool;

use crate::lab::record::Record;
use crate::lab::text::Text;
use crate::lab::{Ctx, KnobSpec, Knobs, State, SyncResult, Thread};
use crate::t;

/// Groups as the tutorials group them; the window's left panel follows this order.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Group {
    Threads,
    Synchronisation,
    Communication,
    Parallelism,
    Async,
}

impl Group {
    pub const ALL: [Group; 5] = [
        Group::Threads,
        Group::Synchronisation,
        Group::Communication,
        Group::Parallelism,
        Group::Async,
    ];

    pub fn title(self) -> Text {
        match self {
            Group::Threads => t!("Threads", "Hilos"),
            Group::Synchronisation => t!("Synchronisation", "Sincronización"),
            Group::Communication => t!("Communication", "Comunicación"),
            Group::Parallelism => t!("Parallelism", "Paralelismo"),
            Group::Async => t!("Async", "Asíncrono"),
        }
    }
}

/// One series a plot draws.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SeriesRef {
    /// A resource's level: queue depth, free permits, holders…
    Level(&'static str),
    /// A resource's capacity, drawn as a line that moves when a knob changes it.
    Capacity(&'static str),
    /// How many threads wait on a resource.
    Waiters(&'static str),
    /// A counter.
    Counter(&'static str),
    /// Threads alive (started, not finished): `threading.active_count()`.
    AliveThreads,
    /// Child processes alive: `len(multiprocessing.active_children())`.
    Processes,
}

/// One plot under the timeline.
#[derive(Clone, Copy, Debug)]
pub struct PlotSpec {
    pub title: Text,
    pub series: &'static [(SeriesRef, Text)],
}

/// A number the scenario reports: in the window, and in `hilos run --json`.
#[derive(Clone, Debug, PartialEq)]
pub struct Metric {
    pub name: &'static str,
    pub label: Text,
    pub value: f64,
}

/// A view of its own that a scenario asks the window for, beside the
/// timeline and plots every scenario gets. The window maps each to its drawing
/// code in one place (`ui::extras`), so no UI code checks scenario ids.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Extra {
    /// Nothing beyond the timeline and the plots.
    None,
    /// frozen-ui's "run on the UI thread / on a worker" controls and frame plot.
    FrozenUi,
    /// A table of the threads and the values noted beside each
    /// (`Ctx::note`), one column per note key; a cell of `actual` is green
    /// when it equals the same thread's `expected`, red when it does not.
    ThreadNotes {
        expected: &'static str,
        actual: &'static str,
    },
    /// Every future of the run in submission order: its state, the worker
    /// that ran it, its place in the completion order, and an exception it
    /// holds, marked lost while nobody has read it.
    Futures,
    /// Bar charts of metrics side by side (one chart per group).
    Bars(&'static [BarGroup]),
    /// The child processes (pid, state, exit code, CPU %, GIL holder) and
    /// the CPU use of each and of the machine; with `strategies`, also a
    /// plot of each strategy's speed-up against the number of workers
    /// (counters `sweep.{strategy}.{k}`: ms for k tasks; `one_task_ms`:
    /// one task alone; `cores`) with the machine's cores drawn.
    Processes {
        strategies: &'static [(&'static str, Text)],
    },
    /// The wait-for graph, live: threads and locks, who holds what and who
    /// waits for what, deadlock cycles highlighted.
    WaitForGraph,
    /// The dining philosophers' table: forks between philosophers, who holds
    /// which, and the meals each has eaten.
    Philosophers,
    /// The event loop's vital signs (tasks alive, ready queue, loop lag)
    /// above the timeline; and, for waiters the scenario measures, memory
    /// and start-up time against how many have started.
    EventLoop { against_n: &'static [AgainstN] },
}

/// Waiters the scenario starts and measures as it goes: each sample sets
/// the counter `rss_kb` (resident memory, KB) and then `started` (how many
/// so far), the first one at 0 when the measurement begins.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AgainstN {
    pub label: Text,
    pub started: &'static str,
    pub rss_kb: &'static str,
}

/// One bar chart of [`Extra::Bars`]: a bar per metric.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BarGroup {
    pub title: Text,
    /// (metric name, the bar's label).
    pub bars: &'static [(&'static str, Text)],
    /// The unit of the values, shown on the bars ("s", "/s").
    pub unit: Text,
}

/// How close the lab's number and CPython's must be to agree.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Agree {
    /// The same number (a count, a final value).
    Exactly,
    /// Within `abs` of each other, for the reason given.
    Within { abs: f64, why: Text },
    /// Within `rel` of the larger, plus `abs`, for the reason given (times).
    Roughly { rel: f64, abs: f64, why: Text },
}

/// One thing a scenario's lesson is about, which both sides report: the lab
/// as a metric, the Python program as an ordinary line it prints.
#[derive(Clone, Copy, Debug)]
pub struct Outcome {
    /// The lab's metric (see [`Scenario::metrics`]).
    pub metric: &'static str,
    pub label: Text,
    /// The program prints the number right after this text, e.g. "Ending value is".
    pub printed_after: &'static str,
    pub agree: Agree,
}

/// The reason wall-clock times differ a little between the lab and CPython.
pub const JITTER: Text = t!(
    "wall-clock time: thread start-up and sleep overshoot differ a little between runs",
    "tiempo de reloj: el arranque de los hilos y el exceso de las pausas varían un poco entre ejecuciones"
);

pub struct Scenario {
    /// kebab-case, used by `hilos run ID`.
    pub id: &'static str,
    pub group: Group,
    pub title: Text,
    /// One sentence: the lesson.
    pub lesson: Text,
    /// A few paragraphs explaining what to watch.
    pub explanation: Text,
    pub knobs: &'static [KnobSpec],
    /// Runs as the worker "MainThread".
    pub body: fn(&Ctx) -> SyncResult<()>,
    pub metrics: fn(&Record) -> Vec<Metric>,
    /// The equivalent Python program for these knob values.
    pub python: fn(&Knobs) -> String,
    pub plots: &'static [PlotSpec],
    /// A view of its own in the window, if it needs one.
    pub extra: Extra,
    /// What the lesson is about, as both the lab and its Python program report it.
    pub outcomes: &'static [Outcome],
    /// Knob settings that keep the program short when the tests check it
    /// against CPython (`tests/python_agrees.rs`).
    pub check_knobs: &'static [(&'static str, f64)],
    /// Whether step mode, replay and "Break it" work here, and what "Break
    /// it" tries to break.
    pub stepping: Stepping,
}

/// Whether a scenario runs gated (step, replay, explore; see `lab::gate`).
#[derive(Clone, Copy, Debug)]
pub enum Stepping {
    /// It does; "Break it" looks for a schedule that breaks `invariant`.
    Yes(Invariant),
    /// It does not, for this reason (said in the window and by the CLI).
    No(Text),
}

impl Stepping {
    /// What "Break it" tries to break, if the scenario steps.
    pub fn invariant(self) -> Option<Invariant> {
        match self {
            Stepping::Yes(invariant) => Some(invariant),
            Stepping::No(_) => None,
        }
    }

    /// Why the scenario cannot step, if it cannot.
    pub fn why_not(self) -> Option<Text> {
        match self {
            Stepping::Yes(_) => None,
            Stepping::No(why) => Some(why),
        }
    }
}

/// What a lesson's program promises under every schedule (or, in the
/// lessons about bugs, what the bug breaks).
#[derive(Clone, Copy, Debug)]
pub struct Invariant {
    /// The promise, e.g. "no update is lost".
    pub holds: Text,
    /// After a run: how it was broken, if it was.
    pub broken: fn(&Record, &Knobs) -> Option<String>,
}

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

impl Scenario {
    pub fn knobs(&self) -> Knobs {
        Knobs::new(self.knobs)
    }
}

/// Every scenario, in the order of the window's list.
pub fn all() -> &'static [&'static Scenario] {
    static ALL: &[&Scenario] = &[
        &frozen_ui::SCENARIO,
        &race_condition::SCENARIO,
        &producer_consumer::SCENARIO,
        // Synchronisation, after race-condition: the locks, then the others.
        &lock_rlock::SCENARIO,
        &deadlock::SCENARIO,
        &dining_philosophers::SCENARIO,
        // Threads, pools and pipelines.
        &thread_lifecycle::SCENARIO,
        &daemon_threads::SCENARIO,
        &thread_pool::SCENARIO,
        &thread_local::SCENARIO,
        &single_slot_pipeline::SCENARIO,
        &payment_pipeline::SCENARIO,
        // Synchronisation: semaphore, event, condition, barrier, timer.
        &semaphore::SCENARIO,
        &timer::SCENARIO,
        &barrier::SCENARIO,
        &event::SCENARIO,
        &condition::SCENARIO,
        // Parallelism: the GIL and child processes.
        #[cfg(target_os = "linux")]
        &gil::SCENARIO,
        #[cfg(target_os = "linux")]
        &process_pool::SCENARIO,
        #[cfg(target_os = "linux")]
        &process_communication::SCENARIO,
        // Async: asyncio on a real event loop.
        &asyncio_basics::SCENARIO,
        &asyncio_blocking::SCENARIO,
        &asyncio_vs_threads::SCENARIO,
    ];
    ALL
}

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
