//! How an event loop's tasks reach the record. A task is a lane in the
//! threads' id space, marked as a task ([`EventKind::TaskCreated`], then
//! plain [`EventKind::State`] events), while fewer than the record's cap
//! (`Limits::task_lanes`) have lanes alive; past it, a task is counted per
//! role in the loop and the counts go out once per iteration
//! ([`EventKind::TaskCounts`]), which the record adds to the role's state
//! mix (what the group's lane draws) and, once they end, to the folded
//! totals. So 100,000 tasks cost the recorder a few events per iteration and
//! no track each, and the window draws them in one group lane.
//!
//! A task with a lane of its own that switches faster than the recorder
//! takes events (a loop of `await asyncio.sleep(0)`: millions of switches a
//! second) would fill the channel, and most of its events would be dropped.
//! When the channel is half full, the task that is switching is moved to
//! the counted grain instead ([`EventKind::TaskCoarse`]): its lane ends, a
//! log line says why, and its role's group lane counts it from then on.

use std::cell::{Cell, OnceCell, RefCell};
use std::collections::HashMap;
use std::sync::Arc;

use crate::probe::{EventKind, LabClock, Probe, Target, TaskCounts, WorkerId};
use crate::record::role_of;
use crate::state::State;

/// How one task is reported.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Kind {
    /// Not at all (an uninstrumented loop, for benchmarks).
    Off,
    /// A lane of its own; its role's index, should it be counted later.
    Own(u32),
    /// Counted under the role with this index.
    Counted(u32),
}

/// A task's lane: its state as the timeline shows it.
pub(crate) struct Lane {
    kind: Cell<Kind>,
    state: Cell<State>,
    target: Cell<Option<Target>>,
    /// When the current state began (raw clock), for counted tasks.
    since: Cell<u64>,
    /// Seconds a counted task spent in each state that is not final.
    time_in: Cell<[f32; 6]>,
}

impl Lane {
    pub fn state(&self) -> State {
        self.state.get()
    }
}

#[derive(Default)]
struct RoleCounts {
    counts: TaskCounts,
    dirty: bool,
}

pub(crate) struct Lanes {
    on: bool,
    probe: Probe,
    clock: LabClock,
    cap: usize,
    own_alive: Cell<usize>,
    alive: Cell<usize>,
    roles: RefCell<Vec<RoleCounts>>,
    role_index: RefCell<HashMap<String, u32>>,
    dirty: Cell<bool>,
    /// State events sent for lanes since the channel was last looked at.
    since_look: Cell<u32>,
    /// When the counts last went out (lab nanoseconds).
    flushed_at: Cell<u64>,
}

/// While the loop stays busy, the counts go out at most this often; a loop
/// about to wait sends them at once.
const BUSY_FLUSH_NS: u64 = 1_000_000;

/// Look at the channel's fill every this many state events of own lanes.
const LOOK_EVERY: u32 = 32;

impl Lanes {
    pub fn new(on: bool, probe: Probe, cap: usize) -> Lanes {
        let clock = probe.clock().clone();
        Lanes {
            on,
            probe,
            clock,
            cap,
            own_alive: Cell::new(0),
            alive: Cell::new(0),
            roles: RefCell::new(Vec::new()),
            role_index: RefCell::new(HashMap::new()),
            dirty: Cell::new(false),
            since_look: Cell::new(0),
            flushed_at: Cell::new(0),
        }
    }

    pub fn is_on(&self) -> bool {
        self.on
    }

    /// Tasks alive (created and not yet done).
    pub fn alive(&self) -> usize {
        self.alive.get()
    }

    /// A new task: ready at once, as `create_task` schedules its first
    /// step. `Task-N` (number N) unless it was given a name.
    pub fn new_task(&self, id: WorkerId, number: u64, name: &OnceCell<Arc<str>>) -> Lane {
        self.alive.set(self.alive.get() + 1);
        let kind = if !self.on {
            Kind::Off
        } else if self.own_alive.get() < self.cap {
            self.own_alive.set(self.own_alive.get() + 1);
            let name = name.get_or_init(|| Arc::from(format!("Task-{number}")));
            self.probe.emit(EventKind::TaskCreated {
                id,
                name: name.clone(),
            });
            Kind::Own(self.role(role_of(name)))
        } else {
            let r = self.role(name.get().map_or("Task", |n| role_of(n)));
            let mut roles = self.roles.borrow_mut();
            let c = &mut roles[r as usize];
            c.counts.created += 1;
            c.counts.delta[State::Ready.index()] += 1;
            c.dirty = true;
            self.dirty.set(true);
            Kind::Counted(r)
        };
        Lane {
            kind: Cell::new(kind),
            state: Cell::new(State::Ready),
            target: Cell::new(None),
            since: Cell::new(if matches!(kind, Kind::Counted(_)) {
                self.clock.raw()
            } else {
                0
            }),
            time_in: Cell::new([0.0; 6]),
        }
    }

    fn role(&self, role: &str) -> u32 {
        if let Some(r) = self.role_index.borrow().get(role) {
            return *r;
        }
        let mut roles = self.roles.borrow_mut();
        let r = roles.len() as u32;
        roles.push(RoleCounts {
            counts: TaskCounts {
                role: Arc::from(role),
                ..TaskCounts::default()
            },
            dirty: false,
        });
        self.role_index.borrow_mut().insert(role.to_string(), r);
        r
    }

    /// The task behind `lane` is now in `state`, waiting on `target`.
    pub fn set(&self, id: WorkerId, lane: &Lane, state: State, target: Option<Target>) {
        let old = lane.state.get();
        if old == state && lane.target.get() == target {
            return;
        }
        lane.state.set(state);
        lane.target.set(target);
        match lane.kind.get() {
            Kind::Off => {}
            Kind::Own(r) if !state.is_final() && self.storming() => {
                self.coarsen(id, lane, r, state);
            }
            Kind::Own(_) => {
                self.probe.emit(EventKind::State {
                    id,
                    state,
                    target,
                    timed: false,
                });
            }
            Kind::Counted(r) => {
                if old == state {
                    return;
                }
                let now = self.clock.raw();
                let secs = (self.clock.to_ns(now) as f64
                    - self.clock.to_ns(lane.since.get()) as f64)
                    * 1e-9;
                lane.since.set(now);
                let mut time_in = lane.time_in.get();
                if let Some(t) = time_in.get_mut(old.index()) {
                    *t += secs.max(0.0) as f32;
                }
                lane.time_in.set(time_in);
                let mut roles = self.roles.borrow_mut();
                let c = &mut roles[r as usize];
                c.counts.delta[old.index()] -= 1;
                if state.is_final() {
                    c.counts.ended[state.index()] += 1;
                    for (sum, t) in c.counts.time_in.iter_mut().zip(time_in) {
                        *sum += f64::from(t);
                    }
                } else {
                    c.counts.delta[state.index()] += 1;
                }
                c.dirty = true;
                self.dirty.set(true);
            }
        }
        if state.is_final() && !old.is_final() {
            self.alive.set(self.alive.get().saturating_sub(1));
            if matches!(lane.kind.get(), Kind::Own(_)) {
                self.own_alive.set(self.own_alive.get().saturating_sub(1));
            }
        }
    }

    /// Whether the recorder is falling behind the lanes' events: looked at
    /// once every [`LOOK_EVERY`] of them, and at every one while it is (so
    /// each task that switches meanwhile moves at its next switch, before
    /// the channel is full).
    fn storming(&self) -> bool {
        let n = self.since_look.get() + 1;
        if n < LOOK_EVERY {
            self.since_look.set(n);
            return false;
        }
        let congested = self.probe.congested();
        self.since_look
            .set(if congested { LOOK_EVERY - 1 } else { 0 });
        congested
    }

    /// Move a task with a lane of its own (of role `r`), now in `state`,
    /// to the counted grain: its lane ends, and from now on it is counted
    /// in its role's [`TaskCounts`], as a task past the cap is.
    fn coarsen(&self, id: WorkerId, lane: &Lane, r: u32, state: State) {
        self.probe.emit_surely(EventKind::TaskCoarse { id });
        self.own_alive.set(self.own_alive.get().saturating_sub(1));
        lane.kind.set(Kind::Counted(r));
        lane.since.set(self.clock.raw());
        lane.time_in.set([0.0; 6]);
        let mut roles = self.roles.borrow_mut();
        let c = &mut roles[r as usize];
        c.counts.created += 1;
        c.counts.delta[state.index()] += 1;
        c.dirty = true;
        self.dirty.set(true);
    }

    /// A task with a lane of its own failed: its lane shows why.
    pub fn failed(&self, id: WorkerId, lane: &Lane, message: String) {
        if matches!(lane.kind.get(), Kind::Own(_)) {
            self.probe.emit(EventKind::Failed {
                id,
                message,
                panic: false,
            });
        }
    }

    /// At the end of a loop iteration: send the counts if the loop is
    /// about to wait (`idle`), or if a millisecond has passed since they last
    /// went out. A loop whose counted tasks switch millions of times a
    /// second sends a thousand reports a second, not one per iteration.
    pub fn flush_soon(&self, idle: bool) {
        if !self.dirty.get() {
            return;
        }
        if !idle && self.clock.now_ns().saturating_sub(self.flushed_at.get()) < BUSY_FLUSH_NS {
            return;
        }
        self.flush();
    }

    /// Send what changed among the counted tasks since the last flush.
    pub fn flush(&self) {
        if !self.dirty.replace(false) {
            return;
        }
        self.flushed_at.set(self.clock.now_ns());
        let mut roles = self.roles.borrow_mut();
        for c in roles.iter_mut().filter(|c| c.dirty) {
            c.dirty = false;
            let counts = TaskCounts {
                role: c.counts.role.clone(),
                ..TaskCounts::default()
            };
            let sent = std::mem::replace(&mut c.counts, counts);
            self.probe.emit(EventKind::TaskCounts(Box::new(sent)));
        }
    }
}
