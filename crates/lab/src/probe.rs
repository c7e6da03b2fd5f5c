//! The event stream: what workers and primitives report, and the cheap, bounded,
//! never-silent sender they report through.

use crossbeam_channel::{Receiver, Sender, TrySendError};
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use super::state::State;

/// What a worker waits or blocks on, for the timeline's "blocked on …".
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Target {
    Resource(ResourceId),
    Thread(WorkerId),
}

/// Index of a worker within one lab, in spawn order.
pub type WorkerId = u32;
/// Index of a resource (lock, queue, …) within one lab, in creation order.
pub type ResourceId = u32;
/// Index of a counter within one lab, in creation order.
pub type CounterId = u32;
/// Index of a `concurrent.futures.Future` within one lab, in creation order.
pub type FutureId = u32;
/// Index of a child process (`multiprocessing.Process`) within one lab.
pub type ProcessId = u32;

/// What kind of primitive a resource is; shown in the window and in `--json`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ResourceKind {
    Lock,
    RLock,
    Semaphore,
    BoundedSemaphore,
    Queue,
    Event,
    Condition,
    Barrier,
    Timer,
    Thread,
    /// An asyncio Future a task awaits (gather's, wait()'s).
    Future,
    /// An asyncio event loop; its level is the length of its ready queue.
    EventLoop,
    /// `concurrent.futures.ThreadPoolExecutor`: level = busy workers,
    /// capacity = max_workers, waiters = work items not yet picked up.
    ThreadPoolExecutor,
    /// A Python interpreter's GIL: level = held (0 or 1), holder = the
    /// thread running Python code, waiters = threads runnable and waiting
    /// for it.
    Gil,
    /// `multiprocessing.Value`/`Array`: level = the value (Array: 0).
    Value,
    /// `multiprocessing.Process`: level = alive (0 or 1).
    Process,
}

impl ResourceKind {
    /// Python's name for the kind.
    pub fn python_name(self) -> &'static str {
        match self {
            ResourceKind::Lock => "Lock",
            ResourceKind::RLock => "RLock",
            ResourceKind::Semaphore => "Semaphore",
            ResourceKind::BoundedSemaphore => "BoundedSemaphore",
            ResourceKind::Queue => "Queue",
            ResourceKind::Event => "Event",
            ResourceKind::Condition => "Condition",
            ResourceKind::Barrier => "Barrier",
            ResourceKind::Timer => "Timer",
            ResourceKind::Thread => "Thread",
            ResourceKind::Future => "Future",
            ResourceKind::EventLoop => "EventLoop",
            ResourceKind::ThreadPoolExecutor => "ThreadPoolExecutor",
            ResourceKind::Gil => "GIL",
            ResourceKind::Value => "Value",
            ResourceKind::Process => "Process",
        }
    }

    /// What the resource's level series measures, e.g. the depth of a queue.
    pub fn level_meaning(self) -> &'static str {
        match self {
            ResourceKind::Lock | ResourceKind::Condition => "holders",
            // How many times its owner holds it.
            ResourceKind::RLock => "count",
            ResourceKind::Semaphore | ResourceKind::BoundedSemaphore => "free_permits",
            ResourceKind::Queue => "depth",
            ResourceKind::Event => "is_set",
            ResourceKind::Barrier => "arrived",
            ResourceKind::Timer => "pending",
            ResourceKind::Thread => "alive",
            ResourceKind::Future => "done",
            ResourceKind::EventLoop => "ready",
            ResourceKind::ThreadPoolExecutor => "busy_workers",
            ResourceKind::Gil => "held",
            ResourceKind::Value => "value",
            ResourceKind::Process => "alive",
        }
    }
}

/// One thing that happened, stamped with the raw reading of the lab's clock
/// (convert with [`LabClock::to_ns`]).
#[derive(Clone, Debug)]
pub struct Event {
    pub t_raw: u64,
    pub kind: EventKind,
}

/// The lab's clock. Workers stamp events with a raw counter reading (the CPU's
/// time-stamp counter where it is reliable, via quanta: a few nanoseconds,
/// against ~20-40 ns for `Instant::now`); the recorder scales readings to
/// nanoseconds since the lab started.
#[derive(Clone, Debug)]
pub struct LabClock {
    clock: quanta::Clock,
    epoch_raw: u64,
    /// The OS's monotonic clock at the epoch, in ns: what child processes
    /// stamp their events against, so they share the lab's time axis.
    epoch_mono: u64,
}

/// The OS's monotonic clock in ns (CLOCK_MONOTONIC: the same in every
/// process of the machine).
pub fn monotonic_ns() -> u64 {
    #[cfg(target_os = "linux")]
    {
        let ts = rustix::time::clock_gettime(rustix::time::ClockId::Monotonic);
        (ts.tv_sec as u64)
            .saturating_mul(1_000_000_000)
            .saturating_add(ts.tv_nsec as u64)
    }
    #[cfg(not(target_os = "linux"))]
    {
        0
    }
}

impl LabClock {
    pub fn new() -> LabClock {
        let clock = quanta::Clock::new();
        let epoch_raw = clock.raw();
        let epoch_mono = monotonic_ns();
        LabClock {
            clock,
            epoch_raw,
            epoch_mono,
        }
    }

    /// The OS monotonic clock's reading at the lab's start, in ns.
    pub fn epoch_mono(&self) -> u64 {
        self.epoch_mono
    }

    #[inline]
    pub fn raw(&self) -> u64 {
        self.clock.raw()
    }

    /// Nanoseconds since the lab started for a raw reading.
    pub fn to_ns(&self, raw: u64) -> u64 {
        self.clock.delta_as_nanos(self.epoch_raw, raw)
    }

    /// Nanoseconds since the lab started.
    pub fn now_ns(&self) -> u64 {
        self.to_ns(self.raw())
    }

    /// Seconds since the lab started.
    pub fn now_secs(&self) -> f64 {
        self.now_ns() as f64 * 1e-9
    }
}

impl Default for LabClock {
    fn default() -> Self {
        LabClock::new()
    }
}

#[derive(Clone, Debug)]
pub enum EventKind {
    WorkerCreated {
        id: WorkerId,
        name: Arc<str>,
        daemon: bool,
        /// The child process it runs in; None for the lab's own process.
        process: Option<ProcessId>,
    },
    State {
        id: WorkerId,
        state: State,
        target: Option<Target>,
        /// The wait gives up by itself (`acquire(timeout=…)`), so a cycle
        /// through it is not a deadlock.
        timed: bool,
    },
    /// The body raised: a Python exception (a `SyncError`), or a Rust panic,
    /// which in a scenario is a bug in Hilos rather than a lesson.
    Failed {
        id: WorkerId,
        message: String,
        panic: bool,
    },
    ResourceCreated {
        id: ResourceId,
        name: Arc<str>,
        kind: ResourceKind,
        capacity: Option<i64>,
    },
    /// The resource's state after a change: its level (depth, free permits,
    /// holders…), how many workers wait on it, and its capacity if it has one.
    Resource {
        id: ResourceId,
        level: i64,
        waiters: u32,
        capacity: Option<i64>,
        /// The owning worker, for locks (the wait-for graph needs it).
        holder: Option<WorkerId>,
    },
    /// The program no longer holds the resource (its last handle was dropped).
    ResourceDropped {
        id: ResourceId,
    },
    CounterCreated {
        id: CounterId,
        name: Arc<str>,
    },
    Counter {
        id: CounterId,
        value: i64,
    },
    Log {
        worker: Option<WorkerId>,
        text: String,
    },
    Knob {
        name: &'static str,
        value: f64,
    },
    /// A value shown beside a thread under `key` (a `threading.local`'s
    /// value in that thread, or what the scenario notes about it).
    Note {
        id: WorkerId,
        key: Arc<str>,
        value: String,
    },
    /// A future changed state; `label` comes with its creation (the task
    /// it stands for), `worker` with running, `error` with an exception.
    Future {
        id: FutureId,
        state: crate::state::FutureState,
        label: Option<Arc<str>>,
        worker: Option<WorkerId>,
        error: Option<String>,
    },
    /// Someone read a finished future's outcome (`result()` or
    /// `exception()`): an exception it holds is no longer lost.
    FutureRead {
        id: FutureId,
    },
    /// An event that happened in a child process, stamped there: `t_ns`
    /// after the lab's epoch (both read the OS monotonic clock).
    At {
        t_ns: u64,
        event: Box<EventKind>,
    },
    /// `multiprocessing.Process(...)` made (not started).
    ProcessCreated {
        id: ProcessId,
        name: Arc<str>,
        daemon: bool,
    },
    /// Its OS process exists.
    ProcessStarted {
        id: ProcessId,
        pid: u32,
    },
    /// It ended: its `exitcode` (negative: killed by that signal), and how
    /// the lab shows it (done, failed, killed) with the reason.
    ProcessExited {
        id: ProcessId,
        exitcode: i32,
        state: State,
        message: Option<String>,
    },
    /// CPU use over the last sample: of a child (`Some`), or of the lab's
    /// own process (`None`), in % of one core.
    ProcessCpu {
        id: Option<ProcessId>,
        percent: f64,
    },
    /// The whole machine's CPU use, in % of all its cores.
    MachineCpu {
        percent: f64,
    },
    /// Events a child process dropped because its channel was full.
    ChildDropped {
        count: u64,
    },
    /// An asyncio task with a lane of its own: a track like a thread's, in
    /// the threads' id space, marked as a task. It is ready from now on
    /// (`create_task` schedules its first step at once); later changes come
    /// as [`EventKind::State`] like a thread's.
    TaskCreated {
        id: WorkerId,
        name: Arc<str>,
    },
    /// Tasks without a lane of their own (beyond the record's cap on task
    /// lanes), summarised by their event loop once per loop iteration, so
    /// 100,000 tasks cost the recorder a few events, not 100,000 tracks.
    TaskCounts(Box<TaskCounts>),
    /// A task with a lane of its own switched faster than the recorder
    /// takes events (its channel was filling up): from now on its loop
    /// counts it in its role's [`EventKind::TaskCounts`], as past the cap on
    /// task lanes, and its lane ends here. Sent with
    /// [`Probe::emit_surely`], before the counts that include it.
    TaskCoarse {
        id: WorkerId,
    },
}

/// What changed among one role's summarised tasks since the loop's last report.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TaskCounts {
    /// The role their names give them ("Task" for "Task-12").
    pub role: Arc<str>,
    /// How many entered (+) and left (−) each state, by [`State::index`].
    pub delta: [i32; State::COUNT],
    /// Tasks created.
    pub created: u32,
    /// Tasks that ended, by final state.
    pub ended: [u32; State::COUNT],
    /// Seconds the tasks that ended spent in each state, summed.
    pub time_in: [f64; State::COUNT],
}

/// The sending side of the stream. Sending never blocks: when the recorder falls
/// behind and the channel is full, the event is counted as dropped.
#[derive(Clone)]
pub struct Probe {
    tx: Sender<Event>,
    clock: LabClock,
    counts: Arc<ProbeCounts>,
}

/// Only drops are counted at the sender: everything else is counted by the
/// recorder, so a successful send touches no shared counter.
#[derive(Default)]
pub struct ProbeCounts {
    pub dropped: AtomicU64,
}

impl Probe {
    /// A probe and the receiver a recorder drains, holding at most `capacity`
    /// undelivered events.
    pub fn new(capacity: usize) -> (Probe, Receiver<Event>) {
        let (tx, rx) = crossbeam_channel::bounded(capacity.max(1));
        let probe = Probe {
            tx,
            clock: LabClock::new(),
            counts: Arc::new(ProbeCounts::default()),
        };
        (probe, rx)
    }

    pub fn clock(&self) -> &LabClock {
        &self.clock
    }

    pub fn counts(&self) -> &Arc<ProbeCounts> {
        &self.counts
    }

    /// Nanoseconds since the lab started.
    pub fn now_ns(&self) -> u64 {
        self.clock.now_ns()
    }

    /// Whether the recorder is falling behind: half the channel or more
    /// waits to be recorded.
    pub fn congested(&self) -> bool {
        self.tx
            .capacity()
            .is_some_and(|capacity| self.tx.len().saturating_mul(2) >= capacity)
    }

    /// Stamp and send an event that must not be lost (one that changes
    /// how later ones are read): wait up to 100 ms for room in the channel,
    /// then count it as dropped.
    pub fn emit_surely(&self, kind: EventKind) {
        let event = Event {
            t_raw: self.clock.raw(),
            kind,
        };
        if self
            .tx
            .send_timeout(event, std::time::Duration::from_millis(100))
            .is_err()
        {
            self.counts.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Stamp and send one event; count it as dropped if the channel is full.
    #[inline]
    pub fn emit(&self, kind: EventKind) {
        let event = Event {
            t_raw: self.clock.raw(),
            kind,
        };
        if let Err(TrySendError::Full(_) | TrySendError::Disconnected(_)) = self.tx.try_send(event)
        {
            self.counts.dropped.fetch_add(1, Ordering::Relaxed);
        }
    }
}
