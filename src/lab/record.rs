//! The recorder: a thread that drains the event stream into bounded per-thread
//! state spans, per-resource and per-counter time series, and the log. The UI
//! locks the [`Record`] briefly once a frame; workers never wait on it.

use std::collections::VecDeque;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};
use std::thread::JoinHandle;
use std::time::Duration;

use crossbeam_channel::Receiver;

use super::probe::{
    CounterId, Event, EventKind, LabClock, Probe, ResourceId, ResourceKind, Target, WorkerId,
};
use super::state::State;

/// What the recorder keeps at most, so memory stays bounded for a run of any length.
#[derive(Clone, Debug)]
pub struct Limits {
    /// Closed state spans kept per thread; older ones are trimmed (their time
    /// still counts in the per-state totals).
    pub spans_per_thread: usize,
    /// Points kept per time series; past it, the series is thinned to half.
    pub points_per_series: usize,
    /// Log lines kept; older ones are trimmed and counted.
    pub log_lines: usize,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            spans_per_thread: 4096,
            points_per_series: 8192,
            log_lines: 5000,
        }
    }
}

/// The name of a thread whose creation event has not arrived.
pub fn unnamed_thread(id: WorkerId) -> Arc<str> {
    Arc::from(format!("Thread-{id}"))
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

/// A step-shaped time series (value holds until the next point), thinned
/// when it grows past its limit. Min, max and last are always exact.
#[derive(Clone, Debug, Default)]
pub struct Series {
    points: Vec<[f64; 2]>,
    cap: usize,
    /// Points closer than this to the previous one replace it (grows as the
    /// series is thinned, so old and new history have a similar density).
    min_dt: f64,
    pub min: f64,
    pub max: f64,
    pub last: f64,
    pub samples: u64,
}

impl Series {
    fn new(cap: usize) -> Series {
        Series {
            points: Vec::new(),
            cap: cap.max(16),
            min_dt: 0.0,
            min: f64::INFINITY,
            max: f64::NEG_INFINITY,
            last: 0.0,
            samples: 0,
        }
    }

    pub fn push(&mut self, t: f64, v: f64) {
        self.samples += 1;
        self.min = self.min.min(v);
        self.max = self.max.max(v);
        self.last = v;
        let n = self.points.len();
        if n >= 2 && t - self.points[n - 2][0] < self.min_dt {
            // Too dense: the newest point replaces the previous one.
            self.points[n - 1] = [t, v];
            return;
        }
        if let Some(last) = self.points.last()
            && last[1] == v
        {
            return;
        }
        self.points.push([t, v]);
        if self.points.len() >= self.cap {
            let span = t - self.points[0][0];
            let keep_last = self.points.len() - 1;
            let mut i = 0;
            self.points.retain(|_| {
                let keep = i % 2 == 0 || i == keep_last;
                i += 1;
                keep
            });
            self.min_dt = (span / self.cap as f64) * 2.0;
        }
    }

    /// Points (seconds, value); draw as steps.
    pub fn points(&self) -> &[[f64; 2]] {
        &self.points
    }

    pub fn is_empty(&self) -> bool {
        self.samples == 0
    }
}

#[derive(Clone, Debug)]
pub struct ThreadTrack {
    pub id: WorkerId,
    pub name: Arc<str>,
    pub daemon: bool,
    pub state: State,
    pub target: Option<Target>,
    /// When the current state began.
    pub since: f64,
    pub spans: VecDeque<Span>,
    pub spans_trimmed: u64,
    time_in: [f64; 9],
    pub failure: Option<String>,
}

impl ThreadTrack {
    fn placeholder(id: WorkerId) -> ThreadTrack {
        ThreadTrack {
            id,
            name: unnamed_thread(id),
            daemon: false,
            state: State::Created,
            target: None,
            since: 0.0,
            spans: VecDeque::new(),
            spans_trimmed: 0,
            time_in: [0.0; 9],
            failure: None,
        }
    }

    /// Seconds spent in each state up to `now`, the current state included.
    pub fn time_in(&self, now: f64) -> [f64; 9] {
        let mut t = self.time_in;
        if !self.state.is_final() {
            t[self.state.index()] += (now - self.since).max(0.0);
        }
        t
    }

    pub fn is_alive(&self) -> bool {
        !matches!(self.state, State::Created) && !self.state.is_final()
    }
}

#[derive(Clone, Debug)]
pub struct ResourceTrack {
    pub id: ResourceId,
    pub name: Arc<str>,
    pub kind: ResourceKind,
    pub capacity: Option<i64>,
    pub level: i64,
    pub waiters: u32,
    pub holder: Option<WorkerId>,
    pub level_series: Series,
    pub waiters_series: Series,
    pub capacity_series: Series,
}

#[derive(Clone, Debug)]
pub struct CounterTrack {
    pub id: CounterId,
    pub name: Arc<str>,
    pub value: i64,
    pub series: Series,
}

#[derive(Clone, Debug)]
pub struct LogLine {
    pub t: f64,
    pub worker: Option<WorkerId>,
    pub text: String,
}

/// Everything recorded about one lab run.
#[derive(Debug)]
pub struct Record {
    clock: LabClock,
    /// Set when the lab has stopped; the clock freezes there.
    pub ended_at: Option<f64>,
    pub threads: Vec<ThreadTrack>,
    pub resources: Vec<Option<ResourceTrack>>,
    pub counters: Vec<Option<CounterTrack>>,
    pub log: VecDeque<LogLine>,
    pub log_trimmed: u64,
    pub events_recorded: u64,
    pub events_dropped: u64,
    limits: Limits,
}

impl Record {
    fn new(clock: LabClock, limits: Limits) -> Record {
        Record {
            clock,
            ended_at: None,
            threads: Vec::new(),
            resources: Vec::new(),
            counters: Vec::new(),
            log: VecDeque::new(),
            log_trimmed: 0,
            events_recorded: 0,
            events_dropped: 0,
            limits,
        }
    }

    /// Seconds since the lab started, frozen once it has stopped.
    pub fn now(&self) -> f64 {
        self.ended_at.unwrap_or_else(|| self.clock.now_secs())
    }

    pub fn thread(&self, id: WorkerId) -> Option<&ThreadTrack> {
        self.threads.get(id as usize)
    }

    pub fn resource(&self, id: ResourceId) -> Option<&ResourceTrack> {
        self.resources.get(id as usize).and_then(Option::as_ref)
    }

    pub fn resource_by_name(&self, name: &str) -> Option<&ResourceTrack> {
        self.resources.iter().flatten().find(|r| &*r.name == name)
    }

    pub fn counter(&self, name: &str) -> Option<&CounterTrack> {
        self.counters.iter().flatten().find(|c| &*c.name == name)
    }

    pub fn counter_value(&self, name: &str) -> Option<i64> {
        self.counter(name).map(|c| c.value)
    }

    /// A name for what a thread waits on: the resource's name, or the thread joined.
    pub fn target_name(&self, target: Target) -> String {
        describe_target(
            target,
            |r| self.resource(r).map(|r| r.name.clone()),
            |t| self.thread_name(t),
        )
    }

    /// A thread's name, or the placeholder it has before its creation event.
    pub fn thread_name(&self, id: WorkerId) -> Arc<str> {
        self.thread(id)
            .map_or_else(|| unnamed_thread(id), |t| t.name.clone())
    }

    pub fn alive_threads(&self) -> usize {
        self.threads.iter().filter(|t| t.is_alive()).count()
    }

    /// Cycles in the wait-for graph: each is a list of threads, every one
    /// blocked on a lock held by the next (a thread waiting on a lock it holds
    /// is a cycle of one).
    pub fn deadlocks(&self) -> Vec<Vec<WorkerId>> {
        let waits_for = |w: WorkerId| -> Option<WorkerId> {
            let t = self.thread(w)?;
            if t.state != State::Blocked {
                return None;
            }
            match t.target? {
                Target::Resource(r) => self.resource(r)?.holder,
                Target::Thread(_) => None,
            }
        };
        let mut cycles: Vec<Vec<WorkerId>> = Vec::new();
        for start in self.threads.iter().map(|t| t.id) {
            let mut path = vec![start];
            let mut cur = start;
            while let Some(next) = waits_for(cur) {
                if let Some(pos) = path.iter().position(|&p| p == next) {
                    let mut cycle = path[pos..].to_vec();
                    let min_pos = cycle
                        .iter()
                        .enumerate()
                        .min_by_key(|(_, w)| **w)
                        .map_or(0, |(i, _)| i);
                    cycle.rotate_left(min_pos);
                    if !cycles.contains(&cycle) {
                        cycles.push(cycle);
                    }
                    break;
                }
                if path.len() > self.threads.len() {
                    break;
                }
                path.push(next);
                cur = next;
            }
        }
        cycles
    }

    fn thread_mut(&mut self, id: WorkerId) -> &mut ThreadTrack {
        let i = id as usize;
        while self.threads.len() <= i {
            let next = self.threads.len() as WorkerId;
            self.threads.push(ThreadTrack::placeholder(next));
        }
        &mut self.threads[i]
    }

    fn apply(&mut self, ev: Event) {
        self.events_recorded += 1;
        let t = self.clock.to_ns(ev.t_raw) as f64 * 1e-9;
        match ev.kind {
            EventKind::WorkerCreated { id, name, daemon } => {
                let track = self.thread_mut(id);
                track.name = name;
                track.daemon = daemon;
                track.since = t;
            }
            EventKind::State { id, state, target } => {
                let cap = self.limits.spans_per_thread;
                let track = self.thread_mut(id);
                // Events from different threads may arrive slightly out of order.
                let t = t.max(track.since);
                let span = Span {
                    start: track.since,
                    end: t,
                    state: track.state,
                    target: track.target,
                };
                if !track.state.is_final() {
                    track.time_in[track.state.index()] += t - track.since;
                    if span.end > span.start || span.state != state {
                        track.spans.push_back(span);
                        if track.spans.len() > cap {
                            track.spans.pop_front();
                            track.spans_trimmed += 1;
                        }
                    }
                }
                track.state = state;
                track.target = target;
                track.since = t;
            }
            EventKind::Failed { id, message } => {
                self.thread_mut(id).failure = Some(message);
            }
            EventKind::ResourceCreated {
                id,
                name,
                kind,
                capacity,
            } => {
                let i = id as usize;
                if self.resources.len() <= i {
                    self.resources.resize(i + 1, None);
                }
                let cap = self.limits.points_per_series;
                let mut capacity_series = Series::new(cap);
                if let Some(c) = capacity {
                    capacity_series.push(t, c as f64);
                }
                self.resources[i] = Some(ResourceTrack {
                    id,
                    name,
                    kind,
                    capacity,
                    level: 0,
                    waiters: 0,
                    holder: None,
                    level_series: Series::new(cap),
                    waiters_series: Series::new(cap),
                    capacity_series,
                });
            }
            EventKind::Resource {
                id,
                level,
                waiters,
                capacity,
                holder,
            } => {
                if let Some(Some(r)) = self.resources.get_mut(id as usize) {
                    r.level = level;
                    r.waiters = waiters;
                    r.holder = holder;
                    r.level_series.push(t, level as f64);
                    r.waiters_series.push(t, waiters as f64);
                    if capacity != r.capacity {
                        r.capacity = capacity;
                        if let Some(c) = capacity {
                            r.capacity_series.push(t, c as f64);
                        }
                    }
                }
            }
            EventKind::CounterCreated { id, name } => {
                let i = id as usize;
                if self.counters.len() <= i {
                    self.counters.resize(i + 1, None);
                }
                let mut series = Series::new(self.limits.points_per_series);
                series.push(t, 0.0);
                self.counters[i] = Some(CounterTrack {
                    id,
                    name,
                    value: 0,
                    series,
                });
            }
            EventKind::Counter { id, value } => {
                if let Some(Some(c)) = self.counters.get_mut(id as usize) {
                    c.value = value;
                    c.series.push(t, value as f64);
                }
            }
            EventKind::Log { worker, text } => self.push_log(t, worker, text),
            EventKind::Knob { name, value } => {
                let text = format!("Knob: {name} = {}", super::knobs::format_number(value));
                self.push_log(t, None, text);
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

    /// Close every thread's open span at `t` (used when the lab ends).
    fn close(&mut self, t: f64) {
        for track in &mut self.threads {
            if !track.state.is_final() {
                track.time_in[track.state.index()] += (t - track.since).max(0.0);
                track.spans.push_back(Span {
                    start: track.since,
                    end: t.max(track.since),
                    state: track.state,
                    target: track.target,
                });
                track.since = t;
            }
        }
        self.ended_at = Some(t);
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

impl RecorderThread {
    pub fn spawn(
        rx: Receiver<Event>,
        probe: Probe,
        limits: Limits,
        os_name: String,
    ) -> RecorderThread {
        let record = Arc::new(Mutex::new(Record::new(probe.clock().clone(), limits)));
        let shutdown = Arc::new(AtomicBool::new(false));
        let handle = {
            let record = record.clone();
            let shutdown = shutdown.clone();
            let rx = rx.clone();
            let probe = probe.clone();
            std::thread::Builder::new()
                .name(os_name)
                .spawn(move || drain_loop(&rx, &record, &shutdown, &probe))
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
            let _ = h.join();
        }
        // If the thread could not be spawned, drain here.
        let mut rec = self.record.lock().unwrap_or_else(PoisonError::into_inner);
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

fn drain_loop(rx: &Receiver<Event>, record: &Mutex<Record>, shutdown: &AtomicBool, probe: &Probe) {
    loop {
        // Read the flag before draining, so events sent before it was set are kept.
        let stopping = shutdown.load(Ordering::Acquire);
        let mut drained_any = false;
        loop {
            let mut rec = record.lock().unwrap_or_else(PoisonError::into_inner);
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
            drop(rec);
            drained_any |= n > 0;
            if n < BATCH {
                break;
            }
        }
        if stopping {
            return;
        }
        if !drained_any {
            std::thread::sleep(POLL);
        }
    }
}
