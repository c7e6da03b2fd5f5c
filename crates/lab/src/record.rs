//! The recorder: a thread that drains the event stream into bounded per-thread
//! state spans, per-resource and per-counter time series, and the log.
//!
//! Memory depends on what is alive, not on how much ever lived: spans, series
//! and the log are bounded per track, finished threads beyond a cap are folded
//! into exact per-role summaries, and dropped resources beyond a cap are
//! forgotten. The window keeps its own copy of the [`Record`] and refreshes it
//! with [`Record::sync_from`], which copies only what changed, so it holds the
//! recorder's lock briefly; workers never wait on it.

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

    fn sync_from(&mut self, src: &ThreadTrack) {
        let have = self.spans_trimmed + self.spans.len() as u64;
        let want = src.spans_trimmed + src.spans.len() as u64;
        let new = want.saturating_sub(have) as usize;
        if have > want || new > src.spans.len() || self.id != src.id {
            self.clone_from(src);
            return;
        }
        let from = src.spans.len() - new;
        self.spans.extend(src.spans.range(from..).copied());
        while self.spans.len() > src.spans.len() {
            self.spans.pop_front();
        }
        self.spans_trimmed = src.spans_trimmed;
        if !Arc::ptr_eq(&self.name, &src.name) {
            self.name = src.name.clone();
            self.role = src.role.clone();
        }
        self.daemon = src.daemon;
        self.task = src.task;
        self.process = src.process;
        self.state = src.state;
        self.target = src.target;
        self.timed = src.timed;
        self.since = src.since;
        self.state_rev = src.state_rev;
        self.time_in = src.time_in;
        if self.failure != src.failure {
            self.failure.clone_from(&src.failure);
        }
        if self.notes != src.notes {
            self.notes.clone_from(&src.notes);
        }
        self.rev = src.rev;
        self.counted = src.counted;
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

impl ResourceTrack {
    fn sync_from(&mut self, src: &ResourceTrack) {
        self.name.clone_from(&src.name);
        self.kind = src.kind;
        self.capacity = src.capacity;
        self.level = src.level;
        self.waiters = src.waiters;
        self.holder = src.holder;
        self.holder_rev = src.holder_rev;
        self.level_series.sync_from(&src.level_series);
        self.waiters_series.sync_from(&src.waiters_series);
        self.capacity_series.sync_from(&src.capacity_series);
        self.dropped = src.dropped;
        self.rev = src.rev;
    }
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
    /// A copy with an empty CPU series (the window copies that one's new
    /// buckets only).
    fn clone_without_series(&self) -> ProcessTrack {
        ProcessTrack {
            id: self.id,
            name: self.name.clone(),
            daemon: self.daemon,
            pid: self.pid,
            created: self.created,
            started: self.started,
            ended: self.ended,
            exitcode: self.exitcode,
            end_state: self.end_state,
            failure: self.failure.clone(),
            cpu: Series::new(1),
            cpu_now: self.cpu_now,
            rev: self.rev,
        }
    }

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

    /// Seconds since the lab started, frozen once it has stopped.
    pub fn now(&self) -> f64 {
        self.ended_at.unwrap_or_else(|| self.clock.now_secs())
    }

    /// Every thread track kept, in creation order: the live ones and the most
    /// recent finished ones (older finished ones are in [`Record::folded`]).
    pub fn threads(&self) -> impl DoubleEndedIterator<Item = &ThreadTrack> + ExactSizeIterator {
        self.threads.values()
    }

    /// Threads ever created: kept plus folded (asyncio tasks not included).
    pub fn threads_ever(&self) -> u64 {
        (self.threads.len() - self.kept_tasks) as u64 + self.folded.all.threads
    }

    /// asyncio tasks ever created: kept, folded and summarised.
    pub fn tasks_ever(&self) -> u64 {
        self.kept_tasks as u64
            + self.folded_tasks.all.threads
            + self.summarised.values().sum::<u64>()
    }

    /// asyncio tasks alive: with a lane of their own or summarised.
    pub fn alive_tasks(&self) -> usize {
        self.tasks_alive
    }

    /// Tasks of `role` alive without a lane of their own.
    pub fn summarised_alive(&self, role: &str) -> u64 {
        self.summarised.get(role).copied().unwrap_or(0)
    }

    /// Roles with summarised tasks alive, and how many.
    pub fn summarised_roles(&self) -> impl Iterator<Item = (&Arc<str>, u64)> {
        self.summarised
            .iter()
            .filter(|(_, n)| **n > 0)
            .map(|(r, n)| (r, *n))
    }

    pub fn thread(&self, id: WorkerId) -> Option<&ThreadTrack> {
        self.threads.get(&id)
    }

    pub fn resources(&self) -> impl Iterator<Item = &ResourceTrack> {
        self.resources.values()
    }

    pub fn resource(&self, id: ResourceId) -> Option<&ResourceTrack> {
        self.resources.get(&id)
    }

    /// The newest resource with this name.
    pub fn resource_by_name(&self, name: &str) -> Option<&ResourceTrack> {
        self.resources.values().rev().find(|r| &*r.name == name)
    }

    pub fn counters(&self) -> impl Iterator<Item = &CounterTrack> {
        self.counters.values()
    }

    pub fn counter(&self, name: &str) -> Option<&CounterTrack> {
        self.counters.values().rev().find(|c| &*c.name == name)
    }

    pub fn counter_value(&self, name: &str) -> Option<i64> {
        self.counter(name).map(|c| c.value)
    }

    /// How a role's threads share out over the states, over time.
    pub fn role_mix(&self, role: &str) -> Option<&RoleMix> {
        self.mixes.get(role)
    }

    /// A name for what a thread waits on: the resource's name, or the thread joined.
    pub fn target_name(&self, target: Target) -> String {
        describe_target(
            target,
            |r| self.resource(r).map(|r| r.name.clone()),
            |t| self.thread_name(t),
        )
    }

    /// A name for what a lane waits on, as its own kind says it: a thread
    /// joins another (`join(Name)`), a task awaits one (`await Task-3`).
    pub fn target_name_for(&self, waiter_is_task: bool, target: Target) -> String {
        match target {
            Target::Thread(t) if waiter_is_task || self.thread(t).is_some_and(|t| t.task) => {
                format!("await {}", self.thread_name(t))
            }
            _ => self.target_name(target),
        }
    }

    /// A thread's name, or the placeholder it has before its creation event.
    pub fn thread_name(&self, id: WorkerId) -> Arc<str> {
        self.thread(id)
            .map_or_else(|| unnamed_thread(id), |t| t.name.clone())
    }

    /// Threads started and not yet finished.
    pub fn alive_threads(&self) -> usize {
        self.alive
    }

    /// The futures kept, oldest first (older finished ones beyond
    /// [`Limits::futures`] are forgotten: see `futures_forgotten`).
    pub fn futures(&self) -> impl DoubleEndedIterator<Item = &FutureTrack> + ExactSizeIterator {
        self.futures.values()
    }

    pub fn future(&self, id: FutureId) -> Option<&FutureTrack> {
        self.futures.get(&id)
    }

    /// Every child process of the run, in creation order.
    pub fn processes(&self) -> impl DoubleEndedIterator<Item = &ProcessTrack> + ExactSizeIterator {
        self.processes.values()
    }

    pub fn process(&self, id: ProcessId) -> Option<&ProcessTrack> {
        self.processes.get(&id)
    }

    /// Child processes started and not yet ended.
    pub fn alive_processes(&self) -> usize {
        self.alive_processes
    }

    /// The thread that `w` waits for: the holder of the lock it is blocked
    /// on without a timeout. A timed wait ends by itself, so it is no edge
    /// of a deadlock (see [`Record::lock_wait`]).
    pub fn waits_for(&self, w: WorkerId) -> Option<WorkerId> {
        self.lock_wait(w)
            .and_then(|(holder, timed)| (!timed).then_some(holder))
    }

    /// The holder of the lock `w` is blocked on, and whether `w` waits with
    /// a timeout. A lock whose holder became `w` after `w` blocked is no
    /// wait: `w` has just got it, and its "running" is on its way.
    pub fn lock_wait(&self, w: WorkerId) -> Option<(WorkerId, bool)> {
        let t = self.thread(w)?;
        if t.state != State::Blocked {
            return None;
        }
        let Target::Resource(r) = t.target? else {
            return None;
        };
        let r = self.resource(r)?;
        let holder = r.holder?;
        if holder == w && r.holder_rev > t.state_rev {
            return None;
        }
        Some((holder, t.timed))
    }

    /// The cycle of the wait-for graph that following `start`'s waits runs
    /// into, if any, beginning at its lowest thread id.
    fn cycle_from(&self, start: WorkerId) -> Option<Vec<WorkerId>> {
        let mut path = vec![start];
        let mut cur = start;
        while let Some(next) = self.waits_for(cur) {
            if let Some(pos) = path.iter().position(|&p| p == next) {
                let mut cycle = path[pos..].to_vec();
                let min_pos = cycle
                    .iter()
                    .enumerate()
                    .min_by_key(|(_, w)| **w)
                    .map_or(0, |(i, _)| i);
                cycle.rotate_left(min_pos);
                return Some(cycle);
            }
            if path.len() > self.threads.len() {
                return None;
            }
            path.push(next);
            cur = next;
        }
        None
    }

    /// Cycles in the wait-for graph now: each is a list of threads, every
    /// one blocked (without a timeout) on a lock held by the next; a thread
    /// waiting on a lock it holds is a cycle of one.
    pub fn deadlocks(&self) -> Vec<Vec<WorkerId>> {
        let mut cycles: Vec<Vec<WorkerId>> = Vec::new();
        let blocked = self
            .threads
            .values()
            .filter(|t| t.state == State::Blocked)
            .map(|t| t.id);
        for start in blocked {
            if let Some(cycle) = self.cycle_from(start)
                && !cycles.contains(&cycle)
            {
                cycles.push(cycle);
            }
        }
        cycles
    }

    /// Every deadlock that formed during the run, in the order they formed
    /// (the first [`MAX_DEADLOCKS_KEPT`] distinct cycles): what a run that
    /// ended (its threads killed, its locks released) still reports.
    pub fn deadlocks_seen(&self) -> &[Vec<WorkerId>] {
        &self.deadlocks_seen
    }

    /// How many distinct deadlocks formed, kept or not.
    pub fn deadlocks_formed(&self) -> u64 {
        self.deadlocks_formed
    }

    fn note_deadlock(&mut self, cycle: Vec<WorkerId>) {
        if self.deadlocks_seen.contains(&cycle) {
            return;
        }
        self.deadlocks_formed += 1;
        if self.deadlocks_seen.len() < MAX_DEADLOCKS_KEPT {
            self.deadlocks_seen.push(cycle);
        }
    }

    /// The track for `id`, made on first sight; None for a folded thread.
    fn thread_mut(&mut self, id: WorkerId) -> Option<&mut ThreadTrack> {
        if id < self.next_thread && !self.threads.contains_key(&id) {
            return None;
        }
        self.next_thread = self.next_thread.max(id + 1);
        let rev = self.rev;
        let track = self
            .threads
            .entry(id)
            .or_insert_with(|| ThreadTrack::placeholder(id));
        track.rev = rev;
        Some(track)
    }

    fn apply(&mut self, ev: Event) {
        self.events_recorded += 1;
        self.rev += 1;
        let t = self.clock.to_ns(ev.t_raw) as f64 * 1e-9;
        self.apply_at(t, ev.kind);
    }

    fn apply_at(&mut self, t: f64, kind: EventKind) {
        self.last_event_at = self.last_event_at.max(t);
        match kind {
            EventKind::At { t_ns, event } => self.apply_at(t_ns as f64 * 1e-9, *event),
            EventKind::WorkerCreated {
                id,
                name,
                daemon,
                process,
            } => {
                // A child's threads group under their process.
                let role = match process.and_then(|p| self.processes.get(&p)) {
                    Some(p) => Arc::from(format!("{}: {}", p.name, role_name(&name))),
                    None => role_name(&name),
                };
                if let Some(track) = self.thread_mut(id) {
                    track.role = role;
                    track.name = name;
                    track.daemon = daemon;
                    track.process = process;
                    track.since = t;
                }
            }
            EventKind::ProcessCreated { id, name, daemon } => {
                let cap = self.limits.points_per_series;
                let rev = self.rev;
                self.processes.insert(
                    id,
                    ProcessTrack {
                        id,
                        name,
                        daemon,
                        pid: None,
                        created: t,
                        started: None,
                        ended: None,
                        exitcode: None,
                        end_state: None,
                        failure: None,
                        cpu: Series::new(cap),
                        cpu_now: 0.0,
                        rev,
                    },
                );
            }
            EventKind::ProcessStarted { id, pid } => {
                let rev = self.rev;
                if let Some(p) = self.processes.get_mut(&id) {
                    p.pid = Some(pid);
                    p.started = Some(t);
                    p.rev = rev;
                    self.alive_processes += 1;
                    self.processes_series.push(t, self.alive_processes as f64);
                }
            }
            EventKind::ProcessExited {
                id,
                exitcode,
                state,
                message,
            } => {
                let rev = self.rev;
                if let Some(p) = self.processes.get_mut(&id)
                    && p.ended.is_none()
                {
                    let was_alive = p.started.is_some();
                    p.ended = Some(t);
                    p.exitcode = Some(exitcode);
                    p.end_state = Some(state);
                    p.failure = message;
                    p.cpu_now = 0.0;
                    p.cpu.push(t, 0.0);
                    p.rev = rev;
                    if was_alive {
                        self.alive_processes = self.alive_processes.saturating_sub(1);
                        self.processes_series.push(t, self.alive_processes as f64);
                    }
                }
            }
            EventKind::ProcessCpu { id, percent } => match id {
                Some(id) => {
                    let rev = self.rev;
                    if let Some(p) = self.processes.get_mut(&id)
                        && p.ended.is_none()
                    {
                        p.cpu.push(t, percent);
                        p.cpu_now = percent;
                        p.rev = rev;
                    }
                }
                None => self.cpu_main.push(t, percent),
            },
            EventKind::MachineCpu { percent } => self.cpu_machine.push(t, percent),
            EventKind::ChildDropped { count } => self.child_events_dropped += count,
            EventKind::State {
                id,
                state,
                target,
                timed,
            } => {
                self.change_state(id, t, state, target, timed);
                // A deadlock forms when its last thread blocks: look once,
                // from that thread, and remember what is found.
                if state == State::Blocked
                    && !timed
                    && let Some(cycle) = self.cycle_from(id)
                {
                    self.note_deadlock(cycle);
                }
            }
            EventKind::TaskCreated { id, name } => {
                let mut new = false;
                if let Some(track) = self.thread_mut(id) {
                    new = !track.task;
                    track.task = true;
                    track.role = role_name(&name);
                    track.name = name;
                    track.since = t;
                }
                if new {
                    self.kept_tasks += 1;
                }
                self.change_state(id, t, State::Ready, None, false);
            }
            EventKind::TaskCounts(counts) => self.count_tasks(t, &counts),
            EventKind::TaskCoarse { id } => self.coarsen_task(t, id),
            EventKind::Failed { id, message, panic } => {
                if panic {
                    self.panics += 1;
                }
                if let Some(track) = self.thread_mut(id) {
                    track.failure = Some(message);
                }
            }
            EventKind::ResourceCreated {
                id,
                name,
                kind,
                capacity,
            } => {
                let cap = self.limits.points_per_series;
                let mut capacity_series = Series::new(cap);
                if let Some(c) = capacity {
                    capacity_series.push(t, c as f64);
                }
                self.resources.insert(
                    id,
                    ResourceTrack {
                        id,
                        name,
                        kind,
                        capacity,
                        level: 0,
                        waiters: 0,
                        holder: None,
                        holder_rev: 0,
                        level_series: Series::new(cap),
                        waiters_series: Series::new(cap),
                        capacity_series,
                        dropped: false,
                        rev: self.rev,
                    },
                );
            }
            EventKind::Resource {
                id,
                level,
                waiters,
                capacity,
                holder,
            } => {
                if let Some(r) = self.resources.get_mut(&id) {
                    r.rev = self.rev;
                    r.level = level;
                    r.waiters = waiters;
                    if r.holder != holder {
                        r.holder_rev = self.rev;
                    }
                    r.holder = holder;
                    r.level_series.push(t, level as f64);
                    r.waiters_series.push(t, f64::from(waiters));
                    if capacity != r.capacity {
                        r.capacity = capacity;
                        if let Some(c) = capacity {
                            r.capacity_series.push(t, c as f64);
                        }
                    }
                }
            }
            EventKind::ResourceDropped { id } => self.drop_resource(id),
            EventKind::CounterCreated { id, name } => {
                let mut series = Series::new(self.limits.points_per_series);
                series.push(t, 0.0);
                self.counters.insert(
                    id,
                    CounterTrack {
                        id,
                        name,
                        value: 0,
                        series,
                        rev: self.rev,
                    },
                );
            }
            EventKind::Counter { id, value } => {
                if let Some(c) = self.counters.get_mut(&id) {
                    c.rev = self.rev;
                    c.value = value;
                    c.series.push(t, value as f64);
                }
            }
            EventKind::Log { worker, text } => self.push_log(t, worker, text),
            EventKind::Knob { name, value } => {
                if name == "speed" {
                    self.speed = value;
                }
                let text = format!("Knob: {name} = {}", super::knobs::format_number(value));
                self.push_log(t, None, text);
            }
            EventKind::Note { id, key, value } => {
                let cap = self.limits.notes_per_thread;
                if let Some(track) = self.thread_mut(id) {
                    if let Some(i) = track.notes.iter().position(|(k, _)| *k == key) {
                        track.notes[i].1 = value;
                    } else if track.notes.len() < cap {
                        track.notes.push((key, value));
                    }
                }
            }
            EventKind::Future {
                id,
                state,
                label,
                worker,
                error,
            } => self.future_changed(t, id, state, label, worker, error),
            EventKind::FutureRead { id } => {
                let rev = self.rev;
                if let Some(f) = self.futures.get_mut(&id) {
                    f.read = true;
                    f.rev = rev;
                }
            }
        }
    }

    fn future_changed(
        &mut self,
        t: f64,
        id: FutureId,
        state: FutureState,
        label: Option<Arc<str>>,
        worker: Option<WorkerId>,
        error: Option<String>,
    ) {
        let rev = self.rev;
        let is_new = !self.futures.contains_key(&id);
        let f = self.futures.entry(id).or_insert_with(|| FutureTrack {
            id,
            label: Arc::from(format!("future {id}")),
            state: FutureState::Pending,
            worker: None,
            error: None,
            read: false,
            created: t,
            started: None,
            finished: None,
            finished_rank: None,
            rev,
        });
        f.rev = rev;
        if let Some(label) = label {
            f.label = label;
        }
        if worker.is_some() {
            f.worker = worker;
        }
        if error.is_some() {
            f.error = error;
        }
        if state == FutureState::Running && f.started.is_none() {
            f.started = Some(t);
        }
        if state.is_final() && f.finished.is_none() {
            f.finished = Some(t);
        }
        f.state = state;
        // The completion order counts the calls that ran to an end (a
        // result or an exception), not the cancelled ones.
        if state == FutureState::Finished && f.finished_rank.is_none() {
            self.futures_finished += 1;
            f.finished_rank = Some(self.futures_finished);
        }
        if is_new && self.futures.len() > self.limits.futures {
            let oldest_final = self
                .futures
                .values()
                .find(|f| f.state.is_final())
                .map(|f| f.id);
            if let Some(old) = oldest_final {
                self.futures.remove(&old);
                self.futures_forgotten += 1;
                self.removals += 1;
            }
        }
    }

    fn change_state(
        &mut self,
        id: WorkerId,
        t: f64,
        state: State,
        target: Option<Target>,
        timed: bool,
    ) {
        let rev = self.rev;
        let cap = self.limits.spans_per_thread;
        let Some(track) = self.thread_mut(id) else {
            return;
        };
        let was_alive = track.is_alive();
        let was_final = track.state.is_final();
        // Events from different threads may arrive slightly out of order.
        let t = t.max(track.since);
        let span = Span {
            start: track.since,
            end: t,
            state: track.state,
            target: track.target,
        };
        if !was_final {
            track.time_in[track.state.index()] += t - track.since;
            if span.end > span.start || span.state != state {
                track.spans.push_back(span);
                if track.spans.len() > cap {
                    track.spans.pop_front();
                    track.spans_trimmed += 1;
                }
            }
        }
        let old = track.state;
        let was_counted = track.counted;
        track.state = state;
        track.target = target;
        track.timed = timed;
        track.since = t;
        track.state_rev = rev;
        track.counted = !state.is_final();
        let role = track.role.clone();
        let is_alive = track.is_alive();
        let task = track.task;
        self.mix(&role, t, was_counted.then_some(old), state);
        let alive = if task {
            &mut self.tasks_alive
        } else {
            &mut self.alive
        };
        match (was_alive, is_alive) {
            (false, true) => *alive += 1,
            (true, false) => *alive = alive.saturating_sub(1),
            _ => {}
        }
        if was_alive != is_alive {
            self.alive_series.push(t, self.alive as f64);
        }
        if state.is_final() && !was_final {
            if task {
                self.finished_tasks.push_back(id);
            } else {
                self.finished.push_back(id);
            }
            self.fold_beyond_cap(t);
        }
    }

    /// What an event loop reports of its tasks without lanes: they count in
    /// their role's mix (its group lane draws them), in the tasks alive, and
    /// once ended in the folded totals.
    fn count_tasks(&mut self, t: f64, c: &TaskCounts) {
        let cap = self.limits.points_per_series;
        let key = if self.mixes.len() < MAX_ROLES || self.mixes.contains_key(&c.role) {
            c.role.clone()
        } else {
            Arc::from(OTHER_ROLE)
        };
        let rev = self.rev;
        let mix = self.mixes.entry(key).or_insert_with(|| RoleMix::new(cap));
        mix.rev = rev;
        for (k, d) in c.delta.iter().enumerate() {
            if *d != 0 && !State::ALL[k].is_final() {
                mix.add(t, State::ALL[k], i64::from(*d));
            }
        }
        let ended: u64 = c.ended.iter().map(|n| u64::from(*n)).sum();
        let alive = self.summarised.entry(c.role.clone()).or_default();
        *alive = (*alive + u64::from(c.created)).saturating_sub(ended);
        self.tasks_alive = (self.tasks_alive + c.created as usize).saturating_sub(ended as usize);
        if ended > 0 {
            self.folded_tasks.all.add_counts(&c.ended, &c.time_in);
            let roles = self.folded_tasks.roles.len();
            let role = if roles < MAX_FOLDED_ROLES || self.folded_tasks.roles.contains_key(&c.role)
            {
                c.role.clone()
            } else {
                Arc::from(OTHER_ROLE)
            };
            self.folded_tasks
                .roles
                .entry(role)
                .or_default()
                .add_counts(&c.ended, &c.time_in);
        }
    }

    /// A task's lane ends while it lives on, counted in its role's group
    /// lane from now on (its loop's next [`TaskCounts`] include it): its
    /// track goes, and the log says why.
    fn coarsen_task(&mut self, t: f64, id: WorkerId) {
        let Some(track) = self.threads.remove(&id) else {
            return;
        };
        if track.counted {
            self.mix(&track.role, t, Some(track.state), State::Done);
        }
        if track.task {
            self.kept_tasks = self.kept_tasks.saturating_sub(1);
            if track.is_alive() {
                self.tasks_alive = self.tasks_alive.saturating_sub(1);
            }
        }
        self.removals += 1;
        self.coarse_tasks += 1;
        self.push_log(
            t,
            None,
            format!(
                "{} switches faster than the recorder can take: from {t:.3} s it is counted in the {} group lane",
                track.name, track.role
            ),
        );
    }

    /// Move one thread of `role` from `old` (if it was counted) to `new`.
    fn mix(&mut self, role: &Arc<str>, t: f64, old: Option<State>, new: State) {
        if old == Some(new) {
            return;
        }
        let cap = self.limits.points_per_series;
        let key = if self.mixes.len() < MAX_ROLES || self.mixes.contains_key(role) {
            role.clone()
        } else {
            Arc::from(OTHER_ROLE)
        };
        let rev = self.rev;
        let mix = self.mixes.entry(key).or_insert_with(|| RoleMix::new(cap));
        mix.rev = rev;
        if let Some(old) = old {
            mix.add(t, old, -1);
        }
        if !new.is_final() {
            mix.add(t, new, 1);
        }
    }

    /// Fold the oldest finished threads (and, apart, tasks) into the
    /// summary, past the cap.
    fn fold_beyond_cap(&mut self, now: f64) {
        let cap = self.limits.finished_threads;
        for tasks in [false, true] {
            loop {
                let finished = if tasks {
                    &mut self.finished_tasks
                } else {
                    &mut self.finished
                };
                if finished.len() <= cap {
                    break;
                }
                let Some(id) = finished.pop_front() else {
                    break;
                };
                let Some(track) = self.threads.remove(&id) else {
                    continue;
                };
                let folded = if tasks {
                    self.kept_tasks = self.kept_tasks.saturating_sub(1);
                    &mut self.folded_tasks
                } else {
                    &mut self.folded
                };
                folded.all.add(&track, now);
                let roles = folded.roles.len();
                let role = if roles < MAX_FOLDED_ROLES || folded.roles.contains_key(&track.role) {
                    track.role.clone()
                } else {
                    Arc::from(OTHER_ROLE)
                };
                folded.roles.entry(role).or_default().add(&track, now);
                self.removals += 1;
            }
        }
    }

    fn drop_resource(&mut self, id: ResourceId) {
        let Some(r) = self.resources.get_mut(&id) else {
            return;
        };
        r.dropped = true;
        r.rev = self.rev;
        self.dropped_resources.push_back(id);
        while self.dropped_resources.len() > self.limits.dropped_resources {
            if let Some(old) = self.dropped_resources.pop_front() {
                self.resources.remove(&old);
                self.resources_forgotten += 1;
                self.removals += 1;
            }
        }
    }

    fn push_log(&mut self, t: f64, worker: Option<WorkerId>, text: String) {
        self.log.push_back(LogLine { t, worker, text });
        if self.log.len() > self.limits.log_lines {
            self.log.pop_front();
            self.log_trimmed += 1;
        }
    }

    /// About how many bytes the record's history takes (spans, series
    /// buckets, log lines): what its limits bound.
    pub fn approx_bytes(&self) -> usize {
        let span = std::mem::size_of::<Span>();
        let bucket = std::mem::size_of::<Bucket>();
        let spans: usize = self.threads.values().map(|t| t.spans.len() * span).sum();
        let series = |s: &Series| s.stored() * bucket;
        let resources: usize = self
            .resources
            .values()
            .map(|r| {
                series(&r.level_series) + series(&r.waiters_series) + series(&r.capacity_series)
            })
            .sum();
        let counters: usize = self.counters.values().map(|c| series(&c.series)).sum();
        let mixes: usize = self
            .mixes
            .values()
            .flat_map(|m| m.series.iter())
            .map(series)
            .sum();
        let log: usize = self
            .log
            .iter()
            .map(|l| std::mem::size_of::<LogLine>() + l.text.len())
            .sum();
        let futures = self.futures.len() * std::mem::size_of::<FutureTrack>();
        spans + resources + counters + mixes + log + futures + series(&self.alive_series)
    }

    /// Log lines ever recorded (kept and trimmed).
    pub fn log_total(&self) -> u64 {
        self.log_trimmed + self.log.len() as u64
    }

    /// Close every thread's open span at `t` (used when the lab ends).
    fn close(&mut self, t: f64) {
        self.rev += 1;
        for track in self.threads.values_mut() {
            if !track.state.is_final() {
                track.time_in[track.state.index()] += (t - track.since).max(0.0);
                track.spans.push_back(Span {
                    start: track.since,
                    end: t.max(track.since),
                    state: track.state,
                    target: track.target,
                });
                track.since = t;
                track.rev = self.rev;
            }
        }
        self.ended_at = Some(t);
    }

    /// Bring this copy up to date with `src`, copying only what changed since
    /// the last call: new spans, new series buckets, new log lines, and the
    /// tracks that changed. The window calls it under the recorder's lock.
    pub fn sync_from(&mut self, src: &Record) {
        let since = self.rev;
        if since > src.rev {
            // Not a copy of this record.
            self.clone_from(src);
            return;
        }
        for (id, t) in &src.threads {
            if t.rev <= since && self.threads.contains_key(id) {
                continue;
            }
            match self.threads.get_mut(id) {
                Some(mine) => mine.sync_from(t),
                None => {
                    self.threads.insert(*id, t.clone());
                }
            }
        }
        for (id, r) in &src.resources {
            if r.rev <= since && self.resources.contains_key(id) {
                continue;
            }
            match self.resources.get_mut(id) {
                Some(mine) => mine.sync_from(r),
                None => {
                    self.resources.insert(*id, r.clone());
                }
            }
        }
        for (id, c) in &src.counters {
            if c.rev <= since && self.counters.contains_key(id) {
                continue;
            }
            match self.counters.get_mut(id) {
                Some(mine) => {
                    mine.value = c.value;
                    mine.series.sync_from(&c.series);
                    mine.rev = c.rev;
                }
                None => {
                    self.counters.insert(*id, c.clone());
                }
            }
        }
        for (role, m) in &src.mixes {
            if m.rev <= since && self.mixes.contains_key(role) {
                continue;
            }
            match self.mixes.get_mut(role) {
                Some(mine) => {
                    mine.counts = m.counts;
                    for (a, b) in mine.series.iter_mut().zip(&m.series) {
                        a.sync_from(b);
                    }
                    mine.rev = m.rev;
                }
                None => {
                    self.mixes.insert(role.clone(), m.clone());
                }
            }
        }
        for (id, f) in &src.futures {
            if f.rev <= since && self.futures.contains_key(id) {
                continue;
            }
            self.futures.insert(*id, f.clone());
        }
        self.alive_series.sync_from(&src.alive_series);
        for (id, p) in &src.processes {
            if p.rev <= since && self.processes.contains_key(id) {
                continue;
            }
            match self.processes.get_mut(id) {
                Some(mine) => {
                    let cpu = std::mem::replace(&mut mine.cpu, Series::new(1));
                    *mine = ProcessTrack {
                        cpu,
                        ..p.clone_without_series()
                    };
                    mine.cpu.sync_from(&p.cpu);
                }
                None => {
                    self.processes.insert(*id, p.clone());
                }
            }
        }
        self.alive_processes = src.alive_processes;
        self.processes_series.sync_from(&src.processes_series);
        self.cpu_machine.sync_from(&src.cpu_machine);
        self.cpu_main.sync_from(&src.cpu_main);
        self.child_events_dropped = src.child_events_dropped;
        self.futures_finished = src.futures_finished;
        self.futures_forgotten = src.futures_forgotten;
        if self.removals != src.removals {
            self.futures.retain(|id, _| src.futures.contains_key(id));
            self.threads.retain(|id, _| src.threads.contains_key(id));
            self.resources
                .retain(|id, _| src.resources.contains_key(id));
            self.folded.clone_from(&src.folded);
            self.removals = src.removals;
        }
        self.finished.clone_from(&src.finished);
        self.finished_tasks.clone_from(&src.finished_tasks);
        // Small (per role), and changed by summarised tasks without a removal.
        if self.folded_tasks != src.folded_tasks {
            self.folded_tasks.clone_from(&src.folded_tasks);
        }
        if self.summarised != src.summarised {
            self.summarised.clone_from(&src.summarised);
        }
        self.kept_tasks = src.kept_tasks;
        self.tasks_alive = src.tasks_alive;
        // The log: only the lines that arrived since.
        let new = src.log_total().saturating_sub(self.log_total()) as usize;
        if self.log_total() > src.log_total() || new > src.log.len() {
            self.log.clone_from(&src.log);
        } else {
            self.log
                .extend(src.log.range(src.log.len() - new..).cloned());
            while self.log.len() > src.log.len() {
                self.log.pop_front();
            }
        }
        self.log_trimmed = src.log_trimmed;
        if self.deadlocks_formed != src.deadlocks_formed {
            self.deadlocks_seen.clone_from(&src.deadlocks_seen);
            self.deadlocks_formed = src.deadlocks_formed;
        }
        self.ended_at = src.ended_at;
        self.last_event_at = src.last_event_at;
        self.next_thread = src.next_thread;
        self.alive = src.alive;
        self.resources_forgotten = src.resources_forgotten;
        self.events_recorded = src.events_recorded;
        self.events_dropped = src.events_dropped;
        self.coarse_tasks = src.coarse_tasks;
        self.panics = src.panics;
        self.speed = src.speed;
        self.limits.clone_from(&src.limits);
        self.rev = src.rev;
    }
}

/// The recorder's thread and the record it fills.
pub(crate) struct RecorderThread {
    record: Arc<Mutex<Record>>,
    shutdown: Arc<AtomicBool>,
    handle: Option<JoinHandle<()>>,
    rx: Receiver<Event>,
    probe: Probe,
}

/// How many events the recorder applies per hold of the record's lock, so the
/// UI never waits long for it.
const BATCH: usize = 1024;

/// Where a child process's lab sends its events instead of recording
/// them: to its parent (see `lab::process`). Called with each batch.
pub type Forward = Arc<dyn Fn(Vec<Event>, u64) + Send + Sync>;

impl RecorderThread {
    pub fn spawn(
        rx: Receiver<Event>,
        probe: Probe,
        limits: Limits,
        speed: f64,
        os_name: String,
        forward: Option<Forward>,
    ) -> RecorderThread {
        let record = Arc::new(Mutex::new(Record::new(
            probe.clock().clone(),
            limits,
            speed,
        )));
        let shutdown = Arc::new(AtomicBool::new(false));
        let handle = {
            let record = record.clone();
            let shutdown = shutdown.clone();
            let rx = rx.clone();
            let probe = probe.clone();
            std::thread::Builder::new()
                .name(os_name)
                .spawn(move || match forward {
                    Some(f) => forward_loop(&rx, &f, &shutdown, &probe),
                    None => drain_loop(&rx, &record, &shutdown, &probe),
                })
                .ok()
        };
        RecorderThread {
            record,
            shutdown,
            handle,
            rx,
            probe,
        }
    }

    pub fn record(&self) -> &Arc<Mutex<Record>> {
        &self.record
    }

    /// Stop the recorder thread after it has applied every event sent so far.
    pub fn finish(&mut self) {
        self.shutdown.store(true, Ordering::Release);
        if let Some(h) = self.handle.take() {
            // Out of its poll's nap now rather than up to a millisecond on.
            h.thread().unpark();
            let _ = h.join();
        }
        // If the thread could not be spawned, drain here.
        let mut rec = self.record.lock();
        while let Ok(ev) = self.rx.try_recv() {
            rec.apply(ev);
        }
        rec.events_dropped = self.probe.counts().dropped.load(Ordering::Relaxed);
        let end = self.probe.now_ns() as f64 * 1e-9;
        if rec.ended_at.is_none() {
            rec.close(end);
        }
    }
}

/// How long the recorder sleeps when the channel is empty. It polls rather
/// than blocking in `recv`, so a worker's send never has to wake it: a send
/// stays a plain enqueue (a blocked receiver would cost every send a futex wake).
const POLL: Duration = Duration::from_millis(1);

/// A child's recorder: every batch goes to the parent, with the count of
/// events dropped so far.
fn forward_loop(rx: &Receiver<Event>, forward: &Forward, shutdown: &AtomicBool, probe: &Probe) {
    loop {
        let stopping = shutdown.load(Ordering::Acquire);
        let mut batch = Vec::new();
        while batch.len() < BATCH {
            match rx.try_recv() {
                Ok(ev) => batch.push(ev),
                Err(_) => break,
            }
        }
        let full = batch.len() == BATCH;
        if !batch.is_empty() {
            forward(batch, probe.counts().dropped.load(Ordering::Relaxed));
        }
        if stopping && !full {
            return;
        }
        if !full {
            std::thread::sleep(POLL);
        }
    }
}

fn drain_loop(rx: &Receiver<Event>, record: &Mutex<Record>, shutdown: &AtomicBool, probe: &Probe) {
    loop {
        // Read the flag before draining, so events sent before it was set are kept.
        let stopping = shutdown.load(Ordering::Acquire);
        let mut drained_any = false;
        loop {
            let mut rec = record.lock();
            let mut n = 0;
            while n < BATCH {
                match rx.try_recv() {
                    Ok(ev) => {
                        rec.apply(ev);
                        n += 1;
                    }
                    Err(_) => break,
                }
            }
            rec.events_dropped = probe.counts().dropped.load(Ordering::Relaxed);
            // A fair unlock hands the lock to a waiting window at once: under
            // a flood the recorder would otherwise take it straight back.
            MutexGuard::unlock_fair(rec);
            drained_any |= n > 0;
            if n < BATCH {
                break;
            }
        }
        if stopping {
            return;
        }
        if !drained_any {
            // `finish` unparks it early.
            std::thread::park_timeout(POLL);
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
