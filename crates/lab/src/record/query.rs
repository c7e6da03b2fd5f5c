//! What the window, the command line and the tests ask a record: its
//! tracks, names, the wait-for graph and its deadlocks, its size.

use super::*;

impl Record {
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
    pub(super) fn cycle_from(&self, start: WorkerId) -> Option<Vec<WorkerId>> {
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
}
