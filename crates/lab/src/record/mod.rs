//! The recorder: a thread that drains the event stream into bounded per-thread
//! state spans, per-resource and per-counter time series, and the log.
//!
//! Memory depends on what is alive, not on how much ever lived: spans, series
//! and the log are bounded per track, finished threads beyond a cap are folded
//! into exact per-role summaries, and dropped resources beyond a cap are
//! forgotten. The window keeps its own copy of the [`Record`] and refreshes it
//! with [`Record::sync_from`], which copies only what changed, so it holds the
//! recorder's lock briefly; workers never wait on it.
//!
//! This file holds what a record is (its tracks and limits); the rest is
//! split by job: `fold` applies events, `query` answers questions about a
//! record, `copy` keeps the window's copy up to date, `recorder` is the
//! thread that drains the probe.

use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::thread::JoinHandle;
use std::time::Duration;

use crossbeam_channel::Receiver;
use parking_lot::{Mutex, MutexGuard};

pub use super::series::{Bucket, Series};

use super::probe::{
    CounterId, Event, EventKind, FutureId, LabClock, Probe, ProcessId, ResourceId, ResourceKind,
    Target, TaskCounts, WorkerId,
};
use super::state::State;
use crate::state::FutureState;

mod copy;
mod fold;
mod query;
mod recorder;

pub use recorder::Forward;
pub(crate) use recorder::RecorderThread;

/// What the recorder keeps at most, so memory stays bounded for a run of any length.
#[derive(Clone, Debug)]
pub struct Limits {
    /// Closed state spans kept per thread; older ones are trimmed (their time
    /// still counts in the per-state totals).
    pub spans_per_thread: usize,
    /// Buckets kept per resolution level of a time series; see [`Series`].
    pub points_per_series: usize,
    /// Log lines kept; older ones are trimmed and counted.
    pub log_lines: usize,
    /// Finished threads kept whole; older ones are folded into [`Folded`].
    pub finished_threads: usize,
    /// Resources the program no longer holds kept for their plots; older
    /// ones are forgotten.
    pub dropped_resources: usize,
    /// asyncio tasks alive at once with a lane of their own; an event loop
    /// reports the tasks beyond it only as counts per role (their group's
    /// lane draws them), so 100,000 tasks cost the record no more than 256.
    pub task_lanes: usize,
    /// Futures kept; past this, the oldest finished ones are forgotten.
    pub futures: usize,
    /// Notes kept per thread (distinct keys).
    pub notes_per_thread: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            spans_per_thread: 2048,
            points_per_series: 2048,
            log_lines: 5000,
            finished_threads: 256,
            dropped_resources: 64,
            task_lanes: 256,
            futures: 1024,
            notes_per_thread: 16,
        }
    }
}

/// The name of a thread whose creation event has not arrived.
pub fn unnamed_thread(id: WorkerId) -> Arc<str> {
    Arc::from(format!("Thread-{id}"))
}

/// The role a thread's name gives it, which groups lanes in the window:
/// "Producer-12" → "Producer", "ThreadPoolExecutor-0_3" → "ThreadPoolExecutor-0",
/// Python's "Thread-4 (worker)" → "Thread (worker)"; other names are their own role.
pub fn role_of(name: &str) -> &str {
    fn strip_number(s: &str) -> &str {
        let digits = s.trim_end_matches(|c: char| c.is_ascii_digit());
        if digits.len() == s.len() {
            return s;
        }
        let base = digits.trim_end_matches(['-', '_', ' ']);
        if base.is_empty() || base.len() + 1 < digits.len() {
            s
        } else {
            base
        }
    }
    strip_number(name)
}

/// The role of a name of Python's `Thread-N (target)` form, which keeps the target.
fn role_name(name: &Arc<str>) -> Arc<str> {
    if let Some((head, tail)) = name.split_once(" (")
        && tail.ends_with(')')
    {
        let base = role_of(head);
        if base.len() != head.len() {
            return Arc::from(format!("{base} ({tail}"));
        }
    }
    let role = role_of(name);
    if role.len() == name.len() {
        name.clone()
    } else {
        Arc::from(role)
    }
}

/// How the window and the runner name what a thread waits on: the resource's
/// name, or `join(Name)` for a thread being joined.
pub fn describe_target(
    target: Target,
    resource_name: impl Fn(ResourceId) -> Option<Arc<str>>,
    thread_name: impl Fn(WorkerId) -> Arc<str>,
) -> String {
    match target {
        Target::Resource(r) => {
            resource_name(r).map_or_else(|| format!("resource {r}"), |n| n.to_string())
        }
        Target::Thread(t) => format!("join({})", thread_name(t)),
    }
}

/// A closed interval a thread spent in one state.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Span {
    pub start: f64,
    pub end: f64,
    pub state: State,
    pub target: Option<Target>,
}

#[derive(Clone, Debug)]
pub struct ThreadTrack {
    pub id: WorkerId,
    pub name: Arc<str>,
    /// What groups this thread's lane with others ("Producer" for "Producer-3").
    pub role: Arc<str>,
    pub daemon: bool,
    /// An asyncio task's lane rather than a thread's (see [`EventKind::TaskCreated`]).
    pub task: bool,
    /// The child process it runs in (None: the lab's own process).
    pub process: Option<ProcessId>,
    pub state: State,
    pub target: Option<Target>,
    /// The current wait gives up by itself (`acquire(timeout=…)`).
    pub timed: bool,
    /// When the current state began.
    pub since: f64,
    /// The record's revision when the current state began: orders it
    /// against a lock's change of holder (see [`Record::deadlocks`]).
    state_rev: u64,
    pub spans: VecDeque<Span>,
    pub spans_trimmed: u64,
    time_in: [f64; State::COUNT],
    pub failure: Option<String>,
    /// Values shown beside the thread, by key, in the order keys first came
    /// (see `Ctx::note` and `threading.local`).
    pub notes: Vec<(Arc<str>, String)>,
    /// The record's revision when this track last changed.
    rev: u64,
    /// Counted in its role's [`RoleMix`] under its current state.
    counted: bool,
}

impl ThreadTrack {
    fn placeholder(id: WorkerId) -> ThreadTrack {
        let name = unnamed_thread(id);
        ThreadTrack {
            id,
            role: role_name(&name),
            name,
            daemon: false,
            task: false,
            process: None,
            state: State::Created,
            target: None,
            timed: false,
            since: 0.0,
            state_rev: 0,
            spans: VecDeque::new(),
            spans_trimmed: 0,
            time_in: [0.0; State::COUNT],
            failure: None,
            notes: Vec::new(),
            rev: 0,
            counted: false,
        }
    }

    /// The value noted under `key`, if any.
    pub fn note(&self, key: &str) -> Option<&str> {
        self.notes
            .iter()
            .find(|(k, _)| &**k == key)
            .map(|(_, v)| v.as_str())
    }

    /// Seconds spent in each state up to `now`, the current state included.
    pub fn time_in(&self, now: f64) -> [f64; State::COUNT] {
        let mut t = self.time_in;
        if !self.state.is_final() {
            t[self.state.index()] += (now - self.since).max(0.0);
        }
        t
    }

    pub fn is_alive(&self) -> bool {
        !matches!(self.state, State::Created) && !self.state.is_final()
    }

    /// The closed spans that reach into `[start, ..)`, oldest first.
    pub fn spans_from(&self, start: f64) -> impl Iterator<Item = &Span> {
        let first = self.spans.partition_point(|s| s.end < start);
        self.spans.range(first..)
    }
}

/// How many of one role's threads are in each state that is not final, over
/// time: what a collapsed group of lanes draws as a stacked strip, in one pass
/// over the window however many threads the role has.
#[derive(Clone, Debug)]
pub struct RoleMix {
    counts: [i64; State::COUNT],
    /// One series per state (by [`State::index`]); final states stay empty.
    pub series: Vec<Series>,
    rev: u64,
}

impl RoleMix {
    fn new(cap: usize) -> RoleMix {
        RoleMix {
            counts: [0; State::COUNT],
            series: (0..State::COUNT).map(|_| Series::new(cap)).collect(),
            rev: 0,
        }
    }

    fn add(&mut self, t: f64, state: State, delta: i64) {
        let k = state.index();
        self.counts[k] += delta;
        self.series[k].push(t, self.counts[k] as f64);
    }

    /// Threads of the role in each state now.
    pub fn counts(&self) -> [i64; State::COUNT] {
        self.counts
    }

    /// For each of `columns` equal slices of `[start, end]`, the share of the
    /// role's threads in each state (by [`State::index`]), time-weighted;
    /// all zero where none of them lived.
    pub fn shares(
        &self,
        start: f64,
        end: f64,
        now: f64,
        columns: usize,
    ) -> Vec<[f32; State::COUNT]> {
        let mut out = vec![[0.0f32; State::COUNT]; columns.max(1)];
        for state in State::ALL {
            if state.is_final() {
                continue;
            }
            let k = state.index();
            for (c, v) in self.series[k]
                .integrals(start, end, now, columns)
                .into_iter()
                .enumerate()
            {
                out[c][k] = v as f32;
            }
        }
        for shares in &mut out {
            let sum: f32 = shares.iter().sum();
            if sum > 0.0 {
                for v in shares.iter_mut() {
                    *v /= sum;
                }
            }
        }
        out
    }
}

/// Deadlocks a record keeps (it counts them all).
pub const MAX_DEADLOCKS_KEPT: usize = 64;

/// Past this many roles, threads of new roles are mixed under [`OTHER_ROLE`].
const MAX_ROLES: usize = 256;

/// Exact totals of finished threads whose tracks were folded away.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct FoldedThreads {
    pub threads: u64,
    /// How many ended in each state (done, failed, killed).
    pub ended: [u64; State::COUNT],
    /// Seconds they spent in each state, summed.
    pub time_in: [f64; State::COUNT],
}

impl FoldedThreads {
    /// Tasks an event loop summarised, ended in these states after these times.
    fn add_counts(&mut self, ended: &[u32; State::COUNT], time_in: &[f64; State::COUNT]) {
        for (k, n) in ended.iter().enumerate() {
            self.threads += u64::from(*n);
            self.ended[k] += u64::from(*n);
        }
        for (sum, t) in self.time_in.iter_mut().zip(time_in) {
            *sum += t;
        }
    }

    fn add(&mut self, track: &ThreadTrack, now: f64) {
        self.threads += 1;
        self.ended[track.state.index()] += 1;
        for (sum, t) in self.time_in.iter_mut().zip(track.time_in(now)) {
            *sum += t;
        }
    }
}

/// Folded threads, in all and per role.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Folded {
    pub all: FoldedThreads,
    pub roles: BTreeMap<Arc<str>, FoldedThreads>,
}

/// Past this many roles, folded threads of new roles count under [`OTHER_ROLE`].
const MAX_FOLDED_ROLES: usize = 64;
pub const OTHER_ROLE: &str = "(other)";

#[derive(Clone, Debug)]
pub struct ResourceTrack {
    pub id: ResourceId,
    pub name: Arc<str>,
    pub kind: ResourceKind,
    pub capacity: Option<i64>,
    pub level: i64,
    pub waiters: u32,
    pub holder: Option<WorkerId>,
    /// The record's revision when the holder last changed.
    holder_rev: u64,
    pub level_series: Series,
    pub waiters_series: Series,
    pub capacity_series: Series,
    /// The program no longer holds it (kept a while for its plots).
    pub dropped: bool,
    rev: u64,
}

#[derive(Clone, Debug)]
pub struct CounterTrack {
    pub id: CounterId,
    pub name: Arc<str>,
    pub value: i64,
    pub series: Series,
    rev: u64,
}

/// One `concurrent.futures.Future`: the task it stands for, its state, who
/// ran it, and whether anyone read its outcome.
#[derive(Clone, Debug, PartialEq)]
pub struct FutureTrack {
    pub id: FutureId,
    /// What it stands for, e.g. "task(3)".
    pub label: Arc<str>,
    pub state: FutureState,
    /// The thread that ran it.
    pub worker: Option<WorkerId>,
    /// The exception it holds, as Python prints it ("ValueError: …").
    pub error: Option<String>,
    /// `result()` or `exception()` gave its outcome to someone.
    pub read: bool,
    pub created: f64,
    pub started: Option<f64>,
    pub finished: Option<f64>,
    /// 1 for the run's first future to finish running (with a result or an
    /// exception), 2 for the next…: the completion order. Cancelled ones
    /// have none.
    pub finished_rank: Option<u64>,
    rev: u64,
}

impl FutureTrack {
    /// It holds an exception nobody has read (yet): the exception is lost
    /// unless someone calls `result()` or `exception()`.
    pub fn exception_unread(&self) -> bool {
        self.error.is_some() && !self.read
    }
}

/// One child process (`multiprocessing.Process`): its pid, how it ended,
/// and its CPU use over time.
#[derive(Clone, Debug)]
pub struct ProcessTrack {
    pub id: ProcessId,
    pub name: Arc<str>,
    pub daemon: bool,
    /// None until it has started.
    pub pid: Option<u32>,
    pub created: f64,
    pub started: Option<f64>,
    pub ended: Option<f64>,
    /// `Process.exitcode`: None while it runs; negative: the signal that ended it.
    pub exitcode: Option<i32>,
    /// How it ended, as a thread's state: done, failed or killed.
    pub end_state: Option<State>,
    /// Why it failed (its exception, or its exit code).
    pub failure: Option<String>,
    /// % of one core, sampled.
    pub cpu: Series,
    pub cpu_now: f64,
    rev: u64,
}

impl ProcessTrack {
    pub fn is_alive(&self) -> bool {
        self.started.is_some() && self.ended.is_none()
    }
}

#[derive(Clone, Debug)]
pub struct LogLine {
    pub t: f64,
    pub worker: Option<WorkerId>,
    pub text: String,
}

/// Everything recorded about one lab run.
#[derive(Clone, Debug)]
pub struct Record {
    clock: LabClock,
    /// Set when the lab has stopped; the clock freezes there.
    pub ended_at: Option<f64>,
    /// When the last event happened: where a finished run really ends
    /// (the lab notices the end and closes the record a little later).
    pub last_event_at: f64,
    threads: BTreeMap<WorkerId, ThreadTrack>,
    /// Finished threads still kept whole, oldest first.
    finished: VecDeque<WorkerId>,
    /// Threads folded away, with exact totals.
    pub folded: Folded,
    /// Finished asyncio tasks still kept whole, oldest first (apart from
    /// threads, so a churn of tasks never folds a thread's lane away).
    finished_tasks: VecDeque<WorkerId>,
    /// Tasks folded away, and the summarised tasks that ended, with exact totals.
    pub folded_tasks: Folded,
    /// Task tracks kept (alive or recently finished).
    kept_tasks: usize,
    /// Tasks alive: with a lane of their own or summarised.
    tasks_alive: usize,
    /// Summarised tasks alive, per role.
    summarised: BTreeMap<Arc<str>, u64>,
    /// The highest thread id seen: an event for a lower, absent id belongs to
    /// a folded thread.
    next_thread: WorkerId,
    alive: usize,
    resources: BTreeMap<ResourceId, ResourceTrack>,
    dropped_resources: VecDeque<ResourceId>,
    pub resources_forgotten: u64,
    counters: BTreeMap<CounterId, CounterTrack>,
    mixes: BTreeMap<Arc<str>, RoleMix>,
    /// Threads alive (started, not finished) over time: what
    /// `threading.active_count()` says at each moment.
    pub alive_series: Series,
    futures: BTreeMap<FutureId, FutureTrack>,
    processes: BTreeMap<ProcessId, ProcessTrack>,
    alive_processes: usize,
    /// Child processes alive over time (`len(multiprocessing.active_children())`).
    pub processes_series: Series,
    /// The machine's CPU use, in % of all its cores.
    pub cpu_machine: Series,
    /// The lab's own process's CPU use, in % of one core.
    pub cpu_main: Series,
    /// Events child processes dropped (their channel was full).
    pub child_events_dropped: u64,
    /// Futures finished so far (the next one's rank is this + 1).
    futures_finished: u64,
    /// Old finished futures dropped past [`Limits::futures`].
    pub futures_forgotten: u64,
    pub log: VecDeque<LogLine>,
    pub log_trimmed: u64,
    /// Distinct deadlocks that formed, oldest first; see [`Record::deadlocks_seen`].
    deadlocks_seen: Vec<Vec<WorkerId>>,
    deadlocks_formed: u64,
    pub events_recorded: u64,
    pub events_dropped: u64,
    /// Tasks moved from a lane of their own to their role's group lane
    /// because they switched faster than the recorder takes events.
    pub coarse_tasks: u64,
    /// Threads that ended in a Rust panic (a bug, never a lesson).
    pub panics: u64,
    /// The lab's speed now: every scenario sleep is divided by it. Scales a
    /// span of the record's (real) time into scenario seconds.
    pub speed: f64,
    limits: Limits,
    /// Bumped by every event; tracks remember the revision of their last change.
    rev: u64,
    /// Bumped whenever a track is removed (folded or forgotten).
    removals: u64,
}

impl Record {
    fn new(clock: LabClock, limits: Limits, speed: f64) -> Record {
        Record {
            clock,
            ended_at: None,
            last_event_at: 0.0,
            threads: BTreeMap::new(),
            finished: VecDeque::new(),
            folded: Folded::default(),
            finished_tasks: VecDeque::new(),
            folded_tasks: Folded::default(),
            kept_tasks: 0,
            tasks_alive: 0,
            summarised: BTreeMap::new(),
            next_thread: 0,
            alive: 0,
            resources: BTreeMap::new(),
            dropped_resources: VecDeque::new(),
            resources_forgotten: 0,
            counters: BTreeMap::new(),
            mixes: BTreeMap::new(),
            alive_series: {
                let mut s = Series::new(limits.points_per_series);
                s.push(0.0, 0.0);
                s
            },
            futures: BTreeMap::new(),
            processes: BTreeMap::new(),
            alive_processes: 0,
            processes_series: {
                let mut s = Series::new(limits.points_per_series);
                s.push(0.0, 0.0);
                s
            },
            cpu_machine: Series::new(limits.points_per_series),
            cpu_main: Series::new(limits.points_per_series),
            child_events_dropped: 0,
            futures_finished: 0,
            futures_forgotten: 0,
            log: VecDeque::new(),
            log_trimmed: 0,
            deadlocks_seen: Vec::new(),
            deadlocks_formed: 0,
            events_recorded: 0,
            events_dropped: 0,
            coarse_tasks: 0,
            panics: 0,
            speed,
            limits,
            rev: 0,
            removals: 0,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn roles_group_numbered_names() {
        let role = |n: &str| role_name(&Arc::from(n)).to_string();
        assert_eq!(role("Producer-12"), "Producer");
        assert_eq!(role("Consumer-1"), "Consumer");
        assert_eq!(role("ThreadPoolExecutor-0_3"), "ThreadPoolExecutor-0");
        assert_eq!(role("Thread-4 (worker)"), "Thread (worker)");
        assert_eq!(role("MainThread"), "MainThread");
        assert_eq!(role("Worker"), "Worker");
        assert_eq!(role("42"), "42");
        assert_eq!(role("Philosopher 3"), "Philosopher");
    }
}
