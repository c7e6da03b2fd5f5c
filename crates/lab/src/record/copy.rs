//! The window's copy of the record: [`Record::sync_from`] brings it up to
//! date copying only what changed since the last frame (new spans, new
//! series buckets, new log lines, the tracks that changed), so the window
//! holds the recorder's lock for well under a millisecond.

use super::*;

impl ThreadTrack {
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
}

impl Record {
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
