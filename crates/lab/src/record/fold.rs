//! Folding events into the record: each event from the probe changes a
//! thread's state (closing one span, opening the next), a resource's level,
//! a counter, a future, a process or the log, and keeps every track within
//! the record's [`Limits`] (finished threads folded into per-role
//! summaries, the log trimmed).

use super::*;

impl Record {
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

    pub(super) fn apply(&mut self, ev: Event) {
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
                let text = format!("Knob: {name} = {}", crate::knobs::format_number(value));
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

    /// Close every thread's open span at `t` (used when the lab ends).
    pub(super) fn close(&mut self, t: f64) {
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
}
