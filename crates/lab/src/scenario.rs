//! What a lesson is, as the engine and the app both see it: a scenario's
//! knobs, body, metrics, plots, Python program, the outcomes compared with
//! CPython and whether it steps. The lessons themselves live in the
//! `hilos-scenarios` crate; the engine only runs what it is given.

use crate::record::Record;
use crate::text::Text;
use crate::{Ctx, KnobSpec, Knobs, SyncResult, t};

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

impl Scenario {
    pub fn knobs(&self) -> Knobs {
        Knobs::new(self.knobs)
    }
}
