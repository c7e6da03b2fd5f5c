//! The gate: in Step, Replay and Explore modes exactly one lab thread runs
//! between *step points* (before every acquire, release, put, get, wait,
//! notify, set, sleep, start, join and exit of the lab's primitives, plus the
//! lessons' own `ctx.step(...)` markers), and who runs next is chosen by the
//! learner, by a schedule file, or by a seeded search. Sleeps and timeouts
//! follow a virtual clock that moves only when a choice moves it (or when no
//! thread could run otherwise). In Free mode a lab has no gate at all, and a
//! step point costs one branch.
//!
//! How a gated thread waits: every blocking wait of the lab goes through
//! `Monitor::wait_until`, which in a gated lab hands the gate a check ("could
//! this wait end now?") and parks. The gate only asks that check while every
//! lab thread is parked, so the answer cannot change between the question
//! and the grant.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use parking_lot::{Condvar, Mutex};
use serde::{Deserialize, Serialize};

use super::probe::{Target, WorkerId};
use super::state::State;
use super::worker::WorkerInner;

/// The step points a thread stops at, by what the operation does.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum OpKind {
    /// A new thread's first step: its `run()` begins.
    Begin,
    Acquire,
    Release,
    Put,
    Get,
    Wait,
    Notify,
    Set,
    Clear,
    Sleep,
    Start,
    Join,
    /// The thread's body has returned: it ends at this step.
    Exit,
    /// A lesson's own marker: a read or write of shared data.
    Read,
    Write,
}

/// The operation a thread will do when it is picked, in Python's words
/// (`database._lock.acquire()`, `time.sleep(0.1)`, `local_copy = self.value`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Op {
    pub kind: OpKind,
    pub code: String,
}

impl Op {
    pub fn new(kind: OpKind, code: impl Into<String>) -> Op {
        Op {
            kind,
            code: code.into(),
        }
    }
}

/// One choice of a schedule: a thread to run to its next step point, or the
/// clock moved on to the next deadline.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "pick", rename_all = "snake_case")]
pub enum Pick {
    Thread { id: WorkerId, name: String },
    AdvanceClock,
}

/// One step as it was taken: what was picked, the operation it did, and
/// what else could have been picked (so a replay can tell it has diverged).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Decision {
    #[serde(flatten)]
    pub pick: Pick,
    /// The picked thread's operation, or where the clock went ("0.1 s").
    pub op: String,
    /// The threads that could run at this step, by id; with `clock`, the
    /// clock could also have been advanced.
    pub could_run: Vec<WorkerId>,
    /// A deadline was pending, so advancing the clock was a choice too.
    #[serde(default)]
    pub clock: bool,
}

/// How a gated run ended.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "end", rename_all = "snake_case")]
pub enum GateEnd {
    /// Every thread finished.
    Finished,
    /// No thread can run and no timeout is pending: these threads wait for
    /// each other (or for something that will never come).
    Deadlock { waiting: Vec<WorkerId> },
    /// A replayed schedule stopped matching the program.
    Diverged {
        step: usize,
        expected: String,
        found: String,
    },
    /// More steps than the run allows (an endless loop, or a long program).
    StepLimit { steps: usize },
}

/// How the next thread is chosen once the script (if any) runs out.
#[derive(Clone, Debug, PartialEq)]
pub enum After {
    /// The learner picks (the window's step mode).
    User,
    /// A seeded search picks.
    Explore(Policy),
    /// Nothing more may happen: a replay that runs past its schedule diverges.
    End,
}

/// The schedule searches of "Break it".
#[derive(Clone, Debug, PartialEq)]
pub enum Policy {
    /// Every step, any thread that can run with equal chance (and the
    /// clock, now and then).
    RandomWalk { seed: u64 },
    /// PCT (Burckhardt et al., ASPLOS 2010): random distinct priorities; the
    /// highest-priority thread that can run always runs; at `depth - 1`
    /// random steps (of about `steps`) the running thread drops to the
    /// lowest priority. Finds a bug of depth d with probability at least
    /// 1/(n·k^(d−1)) per run.
    Pct { seed: u64, depth: u32, steps: u32 },
}

/// How a gated lab is set up.
#[derive(Clone, Debug)]
pub struct GateSetup {
    /// Choices to replay, checked as they go.
    pub script: Vec<Decision>,
    /// How many of the script's choices are taken by themselves; the rest
    /// are offered to the learner as the suggested next step (step mode
    /// opening a saved schedule).
    pub auto: usize,
    /// What chooses after the script.
    pub after: After,
    /// A run stops with [`GateEnd::StepLimit`] after this many steps.
    pub max_steps: usize,
}

impl GateSetup {
    pub fn step() -> GateSetup {
        GateSetup {
            script: Vec::new(),
            auto: 0,
            after: After::User,
            max_steps: DEFAULT_MAX_STEPS,
        }
    }

    /// Replay `script` to its end, and nothing after (a replay that runs
    /// past it, or leaves it, has diverged).
    pub fn replay(script: Vec<Decision>) -> GateSetup {
        GateSetup {
            auto: script.len(),
            max_steps: script.len() + 1,
            script,
            after: After::End,
        }
    }
}

/// More steps than any lesson needs with its small knobs.
pub const DEFAULT_MAX_STEPS: usize = 200_000;

/// What the window's cards show of one thread.
#[derive(Clone, Debug, PartialEq)]
pub struct ThreadView {
    pub id: WorkerId,
    pub name: Arc<str>,
    pub status: Status,
    /// The operation it is at (parked) or inside (waiting).
    pub op: Option<Op>,
    /// Whether it can be picked now.
    pub can_run: bool,
    /// The state it waits in (blocked, waiting, sleeping) and on what.
    pub waits: Option<(State, Option<Target>)>,
    /// When its wait gives up by itself, on the virtual clock (seconds of
    /// real time since the run began; multiply by the speed for scenario time).
    pub deadline: Option<f64>,
}

/// Where a gated thread is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    /// Holds the baton: runs to its next step point.
    Running,
    /// Paused by the scheduler at a step point: it can run when picked.
    Paused,
    /// Inside a wait (a lock, a queue, a sleep, a join…).
    Waiting,
}

/// What the window shows of the gate.
#[derive(Clone, Debug, Default)]
pub struct GateView {
    pub threads: Vec<ThreadView>,
    pub decisions: Vec<Decision>,
    /// The virtual clock: seconds of real time since the run began.
    pub clock: f64,
    /// The nearest pending deadline, if any.
    pub next_deadline: Option<f64>,
    /// The gate waits for the learner's pick.
    pub awaiting: bool,
    pub end: Option<GateEnd>,
    /// The schedule's next choice, when one was opened (step mode).
    pub suggestion: Option<Pick>,
    /// Where the program left the opened schedule (a fix changed it).
    pub left_schedule: Option<GateEnd>,
}

/// A wait's question to the gate: could it end now? Only called with the
/// gate's lock held, while its thread is parked in [`Gate::wait`].
struct CheckPtr(*mut (dyn FnMut() -> bool + Send));

// SAFETY: the closure behind the pointer is `Send`; the pointer is only
// dereferenced under the gate's lock while its owner is parked inside
// `Gate::wait` (which removes it, under the lock, before returning), so it
// is never used from two threads at once nor after it is gone.
unsafe impl Send for CheckPtr {}

struct Slot {
    name: Arc<str>,
    worker: Weak<WorkerInner>,
    status: Status,
    op: Option<Op>,
    /// Virtual deadline of its wait, in nanoseconds since the epoch.
    deadline: Option<u64>,
    check: Option<CheckPtr>,
    granted: bool,
    thread: Option<std::thread::Thread>,
}

struct GateState {
    slots: BTreeMap<WorkerId, Slot>,
    running: Option<WorkerId>,
    decisions: Vec<Decision>,
    script: Vec<Decision>,
    auto: usize,
    after: After,
    max_steps: usize,
    /// Steps the learner asked to run without stopping ("Run N steps").
    budget: usize,
    suggestion: Option<Pick>,
    left_schedule: Option<GateEnd>,
    awaiting: bool,
    end: Option<GateEnd>,
    stopping: bool,
    rng: Option<fastrand::Rng>,
    /// PCT: each thread's priority (higher runs first) and the steps at
    /// which the running thread drops.
    priorities: BTreeMap<WorkerId, u64>,
    change_points: Vec<usize>,
    next_low: u64,
}

/// The gate of one lab; see the module's documentation.
pub struct Gate {
    st: Mutex<GateState>,
    /// The virtual clock's origin: `now()` is `epoch + clock`.
    epoch: Instant,
    /// Nanoseconds of virtual time since `epoch`.
    clock: AtomicU64,
    /// Signalled when the run ends or the gate waits for a pick.
    changed: Condvar,
}

/// The choice offered at one step: threads that can run, and the clock.
struct Options {
    threads: Vec<WorkerId>,
    /// The nearest pending deadline, if any.
    deadline: Option<u64>,
}

impl Gate {
    pub(crate) fn new(setup: GateSetup) -> Gate {
        let (rng, change_points) = match &setup.after {
            After::Explore(Policy::RandomWalk { seed }) => {
                (Some(fastrand::Rng::with_seed(*seed)), Vec::new())
            }
            After::Explore(Policy::Pct { seed, depth, steps }) => {
                let mut rng = fastrand::Rng::with_seed(*seed);
                let mut points: Vec<usize> = (1..*depth)
                    .map(|_| rng.usize(1..=(*steps).max(1) as usize))
                    .collect();
                points.sort_unstable();
                (Some(rng), points)
            }
            _ => (None, Vec::new()),
        };
        Gate {
            st: Mutex::new(GateState {
                slots: BTreeMap::new(),
                running: None,
                decisions: Vec::new(),
                script: setup.script,
                auto: setup.auto,
                after: setup.after,
                max_steps: setup.max_steps,
                budget: 0,
                suggestion: None,
                left_schedule: None,
                awaiting: false,
                end: None,
                stopping: false,
                rng,
                priorities: BTreeMap::new(),
                change_points,
                next_low: 0,
            }),
            epoch: Instant::now(),
            clock: AtomicU64::new(0),
            changed: Condvar::new(),
        }
    }

    /// The virtual now.
    pub fn now(&self) -> Instant {
        self.epoch + Duration::from_nanos(self.clock.load(Ordering::Acquire))
    }

    /// A thread joins the gate, paused before its first step; called by the
    /// thread that starts it (which holds the baton), so the set of threads
    /// is the same in every replay.
    pub(crate) fn register(&self, worker: &Arc<WorkerInner>) {
        let mut st = self.st.lock();
        if st.stopping {
            return;
        }
        st.slots.insert(
            worker.id,
            Slot {
                name: worker.name.clone(),
                worker: Arc::downgrade(worker),
                status: Status::Paused,
                op: Some(Op::new(OpKind::Begin, format!("{}.run()", worker.name))),
                deadline: None,
                check: None,
                granted: false,
                thread: None,
            },
        );
        let pct = matches!(st.after, After::Explore(Policy::Pct { .. }));
        if let Some(rng) = st.rng.as_mut().filter(|_| pct) {
            // Distinct priorities above every dropped one.
            let p = 1_000_000 + rng.u64(0..1_000_000_000) * 64 + u64::from(worker.id % 64);
            st.priorities.insert(worker.id, p);
        }
        // The very first thread (MainThread) runs when nothing else does.
        if st.running.is_none() && st.slots.len() == 1 && st.decisions.is_empty() {
            self.schedule(&mut st);
        }
    }

    /// A step point: pause here until picked. `me` must be the caller.
    pub(crate) fn step(&self, me: &WorkerInner, op: Op) {
        let mut st = self.st.lock();
        if st.stopping || !st.slots.contains_key(&me.id) {
            return;
        }
        if let Some(slot) = st.slots.get_mut(&me.id) {
            slot.status = Status::Paused;
            slot.op = Some(op);
        }
        if st.running == Some(me.id) {
            st.running = None;
            self.schedule(&mut st);
        }
        drop(self.park(st, me.id));
    }

    /// The first step of a new thread: wait to be picked for `run()`.
    pub(crate) fn begin(&self, me: &WorkerInner) {
        let st = self.st.lock();
        if st.stopping || !st.slots.contains_key(&me.id) {
            return;
        }
        drop(self.park(st, me.id));
    }

    /// Park until granted the baton (or the lab stops); the lock is held
    /// again when this returns.
    fn park<'a>(
        &'a self,
        mut st: parking_lot::MutexGuard<'a, GateState>,
        id: WorkerId,
    ) -> parking_lot::MutexGuard<'a, GateState> {
        loop {
            if st.stopping {
                return st;
            }
            let Some(slot) = st.slots.get_mut(&id) else {
                return st;
            };
            if slot.granted {
                slot.granted = false;
                slot.status = Status::Running;
                return st;
            }
            if slot.thread.is_none() {
                slot.thread = Some(std::thread::current());
            }
            drop(st);
            std::thread::park();
            st = self.st.lock();
        }
    }

    /// A blocking wait inside the gate: give up the baton, and park until
    /// `check` says the wait can end (or its deadline comes) and the thread
    /// is picked. `deadline` is on the virtual clock.
    /// Returns false, at once, for a thread the gate does not schedule
    /// (the caller then waits as in Free mode).
    pub(crate) fn wait(
        &self,
        me: &WorkerInner,
        deadline: Option<Instant>,
        check: &mut (dyn FnMut() -> bool + Send),
    ) -> bool {
        let mut st = self.st.lock();
        if st.stopping || !st.slots.contains_key(&me.id) {
            return false;
        }
        let ptr: *mut (dyn FnMut() -> bool + Send + '_) = check;
        // SAFETY: only the lifetime is erased. The pointer is removed below,
        // under the lock, before this function returns (see `CheckPtr`).
        let ptr: *mut (dyn FnMut() -> bool + Send + 'static) = unsafe { std::mem::transmute(ptr) };
        if let Some(slot) = st.slots.get_mut(&me.id) {
            slot.status = Status::Waiting;
            slot.deadline =
                deadline.map(|d| d.saturating_duration_since(self.epoch).as_nanos() as u64);
            slot.check = Some(CheckPtr(ptr));
        }
        if st.running == Some(me.id) {
            st.running = None;
            self.schedule(&mut st);
        }
        // The check must go before this returns (see `CheckPtr`).
        let mut st = self.park(st, me.id);
        if let Some(slot) = st.slots.get_mut(&me.id) {
            slot.check = None;
            slot.deadline = None;
        }
        true
    }

    /// The thread has ended (after its exit step): it leaves the gate and
    /// passes the baton on.
    pub(crate) fn exit(&self, id: WorkerId) {
        let mut st = self.st.lock();
        st.slots.remove(&id);
        if st.running == Some(id) {
            st.running = None;
            if !st.stopping {
                self.schedule(&mut st);
            }
        }
    }

    /// Stop: every parked thread wakes and goes on ungated (each then finds
    /// the lab stopping and leaves).
    pub(crate) fn release_all(&self) {
        let mut st = self.st.lock();
        st.stopping = true;
        st.awaiting = false;
        for slot in st.slots.values_mut() {
            slot.check = None;
            if let Some(t) = &slot.thread {
                t.unpark();
            }
        }
        self.changed.notify_all();
    }

    /// Whether `slot` could go on now.
    fn can_run(&self, slot: &mut Slot, clock: u64) -> bool {
        match slot.status {
            Status::Running => false,
            Status::Paused => true,
            Status::Waiting => {
                if slot.deadline.is_some_and(|d| d <= clock)
                    || slot.worker.upgrade().is_none_or(|w| w.is_killed())
                {
                    return true;
                }
                match &slot.check {
                    // SAFETY: see `CheckPtr`: its owner is parked in `wait`.
                    Some(CheckPtr(f)) => unsafe { (**f)() },
                    None => true,
                }
            }
        }
    }

    fn options(&self, st: &mut GateState) -> Options {
        let clock = self.clock.load(Ordering::Acquire);
        let mut threads = Vec::new();
        let mut deadline: Option<u64> = None;
        for (id, slot) in st.slots.iter_mut() {
            if self.can_run(slot, clock) {
                threads.push(*id);
            } else if slot.status == Status::Waiting
                && let Some(d) = slot.deadline
            {
                deadline = Some(deadline.map_or(d, |x| x.min(d)));
            }
        }
        Options { threads, deadline }
    }

    /// The baton is free: decide who runs next, by the script, the policy,
    /// or (in step mode) by waiting for the learner. Called with the lock.
    fn schedule(&self, st: &mut GateState) {
        loop {
            if st.end.is_some() || st.stopping {
                return;
            }
            if st.slots.is_empty() {
                if st.decisions.len() < st.script.len() {
                    let n = st.decisions.len();
                    st.end = Some(GateEnd::Diverged {
                        step: n + 1,
                        expected: describe(&st.script[n]),
                        found: "the program had ended".into(),
                    });
                } else {
                    st.end = Some(GateEnd::Finished);
                }
                self.changed.notify_all();
                return;
            }
            let options = self.options(st);
            if options.threads.is_empty() && options.deadline.is_none() {
                let waiting = st.slots.keys().copied().collect();
                st.end = Some(GateEnd::Deadlock { waiting });
                self.changed.notify_all();
                return;
            }
            if st.decisions.len() >= st.max_steps {
                st.end = Some(GateEnd::StepLimit {
                    steps: st.decisions.len(),
                });
                self.changed.notify_all();
                return;
            }
            let n = st.decisions.len();
            let mut suggestion = None;
            if let Some(expected) = st.script.get(n).cloned() {
                match self.check_scripted(st, &options, &expected) {
                    Ok(()) => suggestion = Some(expected.pick),
                    Err(found) => {
                        let diverged = GateEnd::Diverged {
                            step: n + 1,
                            expected: describe(&expected),
                            found,
                        };
                        if st.after == After::User {
                            // The learner goes on from here, without it.
                            st.left_schedule = Some(diverged);
                            st.script.truncate(n);
                        } else {
                            st.end = Some(diverged);
                            self.changed.notify_all();
                            return;
                        }
                    }
                }
            }
            if st.after == After::End && n >= st.script.len() {
                // A replay that runs past its schedule has diverged.
                let found = match options.threads.first().and_then(|id| st.slots.get(id)) {
                    Some(slot) => format!(
                        "{} could still run {}",
                        slot.name,
                        slot.op.as_ref().map_or("", |o| o.code.as_str())
                    ),
                    None => "a sleep or timeout still pending".into(),
                };
                st.end = Some(GateEnd::Diverged {
                    step: n + 1,
                    expected: "the end of the program".into(),
                    found,
                });
                self.changed.notify_all();
                return;
            }
            let pick = match suggestion {
                Some(pick) if n < st.auto => pick,
                // Nothing else can run: the clock moves on by itself.
                _ if options.threads.is_empty() => Pick::AdvanceClock,
                _ => match &st.after {
                    After::User if st.budget > 0 => {
                        st.budget -= 1;
                        suggestion.unwrap_or_else(|| self.default_pick(st, &options))
                    }
                    After::User => {
                        st.suggestion = suggestion;
                        st.awaiting = true;
                        self.changed.notify_all();
                        return;
                    }
                    // Past the script: handled above.
                    After::End => return,
                    After::Explore(_) => self.policy_pick(st, &options),
                },
            };
            if self.apply(st, &options, pick) {
                return;
            }
        }
    }

    /// Whether a scripted decision can be taken here; else what was found.
    fn check_scripted(
        &self,
        st: &GateState,
        options: &Options,
        expected: &Decision,
    ) -> Result<(), String> {
        let could = |ids: &[WorkerId]| -> String {
            let names: Vec<String> = ids
                .iter()
                .map(|id| {
                    st.slots
                        .get(id)
                        .map_or_else(|| format!("thread {id}"), |s| s.name.to_string())
                })
                .collect();
            if names.is_empty() {
                "no thread could run".into()
            } else {
                format!("could run: {}", names.join(", "))
            }
        };
        match &expected.pick {
            Pick::AdvanceClock => {
                if options.deadline.is_none() {
                    return Err(format!(
                        "no deadline to advance the clock to; {}",
                        could(&options.threads)
                    ));
                }
            }
            Pick::Thread { id, name } => {
                let Some(slot) = st.slots.get(id) else {
                    return Err(format!(
                        "no thread {name} (id {id}); {}",
                        could(&options.threads)
                    ));
                };
                if *slot.name != **name {
                    return Err(format!("thread {id} is {}, not {name}", slot.name));
                }
                if !options.threads.contains(id) {
                    return Err(format!("{name} cannot run; {}", could(&options.threads)));
                }
                let op = slot.op.as_ref().map_or("", |o| o.code.as_str());
                if op != expected.op {
                    return Err(format!("{name} at {op}"));
                }
            }
        }
        if options.threads != expected.could_run {
            return Err(could(&options.threads));
        }
        Ok(())
    }

    fn policy_pick(&self, st: &mut GateState, options: &Options) -> Pick {
        let n = st.decisions.len();
        let pct = matches!(st.after, After::Explore(Policy::Pct { .. }));
        let Some(mut rng) = st.rng.take() else {
            return Pick::AdvanceClock;
        };
        // PCT: at a change point, the thread that ran last drops below
        // every other.
        if pct && st.change_points.first().is_some_and(|&p| p <= n) {
            st.change_points.remove(0);
            if let Some(last) = last_thread(st) {
                st.next_low += 1;
                let low = st.next_low;
                st.priorities.insert(last, low);
            }
        }
        // Time passes now and then (1 in 16 while a thread could run), as
        // for a thread that does not get the CPU for a while: so a timeout
        // can beat a notify, without starving every thread.
        let chosen = if options.deadline.is_some() && rng.u32(0..16) == 0 {
            None
        } else if pct {
            options
                .threads
                .iter()
                .copied()
                .max_by_key(|id| st.priorities.get(id).copied().unwrap_or(0))
        } else {
            options
                .threads
                .get(rng.usize(0..options.threads.len().max(1)))
                .copied()
        };
        st.rng = Some(rng);
        thread_pick(st, chosen)
    }

    /// "Step any": the thread that ran last if it still can (as a real
    /// scheduler lets a thread use its time slice), else the first that can.
    fn default_pick(&self, st: &GateState, options: &Options) -> Pick {
        let id = last_thread(st)
            .filter(|id| options.threads.contains(id))
            .or_else(|| options.threads.first().copied());
        thread_pick(st, id)
    }

    /// Take a decision. Returns true when a thread now holds the baton.
    fn apply(&self, st: &mut GateState, options: &Options, pick: Pick) -> bool {
        let clock_choice = options.deadline.is_some();
        match &pick {
            Pick::AdvanceClock => {
                let Some(d) = options.deadline else {
                    return false;
                };
                self.clock.store(d, Ordering::Release);
                st.decisions.push(Decision {
                    pick,
                    op: round_seconds(d),
                    could_run: options.threads.clone(),
                    clock: clock_choice,
                });
                false
            }
            Pick::Thread { id, .. } => {
                let id = *id;
                let op = st
                    .slots
                    .get(&id)
                    .and_then(|s| s.op.as_ref())
                    .map_or_else(String::new, |o| o.code.clone());
                st.decisions.push(Decision {
                    pick,
                    op,
                    could_run: options.threads.clone(),
                    clock: clock_choice,
                });
                st.awaiting = false;
                st.running = Some(id);
                if let Some(slot) = st.slots.get_mut(&id) {
                    slot.granted = true;
                    if let Some(t) = &slot.thread {
                        t.unpark();
                    }
                }
                true
            }
        }
    }

    /// The learner's pick (step mode). An error says why it cannot be taken.
    pub fn choose(&self, pick: Pick) -> Result<(), String> {
        let mut st = self.st.lock();
        if let Some(end) = &st.end {
            return Err(format!("the run has ended ({end:?})"));
        }
        if !st.awaiting {
            return Err("a thread is still running to its next step".into());
        }
        let options = self.options(&mut st);
        match &pick {
            Pick::AdvanceClock if options.deadline.is_none() => {
                return Err("no sleep or timeout is pending".into());
            }
            Pick::Thread { id, .. } if !options.threads.contains(id) => {
                return Err("that thread cannot run now".into());
            }
            _ => {}
        }
        let pick = match pick {
            Pick::Thread { id, .. } => thread_pick(&st, Some(id)),
            p => p,
        };
        st.awaiting = false;
        // A pick off the opened schedule leaves it.
        let n = st.decisions.len();
        if st.suggestion.take().is_some_and(|s| s != pick) {
            st.script.truncate(n);
        }
        if !self.apply(&mut st, &options, pick) {
            // The clock moved: choose again (maybe a thread's timeout ended).
            self.schedule(&mut st);
        }
        Ok(())
    }

    /// Run `n` steps without waiting for the learner: the opened
    /// schedule's, else "step any"'s.
    pub fn run_steps(&self, n: usize) {
        let mut st = self.st.lock();
        st.budget = n;
        if st.awaiting && n > 0 {
            st.awaiting = false;
            st.budget -= 1;
            let options = self.options(&mut st);
            let pick = st
                .suggestion
                .take()
                .unwrap_or_else(|| self.default_pick(&st, &options));
            if !self.apply(&mut st, &options, pick) {
                self.schedule(&mut st);
            }
        }
    }

    /// "Step any": the suggested step, else the default pick.
    pub fn step_any(&self) {
        self.run_steps(1);
    }

    /// What the window shows.
    pub fn view(&self) -> GateView {
        let mut st = self.st.lock();
        let clock = self.clock.load(Ordering::Acquire);
        let awaiting = st.awaiting;
        let mut threads = Vec::with_capacity(st.slots.len());
        let mut next: Option<u64> = None;
        for (&id, slot) in st.slots.iter_mut() {
            let can_run = awaiting && self.can_run(slot, clock);
            if slot.status == Status::Waiting
                && !can_run
                && let Some(d) = slot.deadline
            {
                next = Some(next.map_or(d, |x| x.min(d)));
            }
            let waits = match slot.status {
                Status::Waiting => slot.worker.upgrade().map(|w| (w.state(), w.target())),
                _ => None,
            };
            threads.push(ThreadView {
                id,
                name: slot.name.clone(),
                status: slot.status,
                op: slot.op.clone(),
                can_run,
                waits,
                deadline: slot.deadline.map(|d| d as f64 / 1e9),
            });
        }
        GateView {
            threads,
            decisions: st.decisions.clone(),
            clock: clock as f64 / 1e9,
            next_deadline: next.map(|d| d as f64 / 1e9),
            awaiting,
            end: st.end.clone(),
            suggestion: st.suggestion.clone(),
            left_schedule: st.left_schedule.clone(),
        }
    }

    /// The decisions taken so far.
    pub fn decisions(&self) -> Vec<Decision> {
        self.st.lock().decisions.clone()
    }

    pub fn end(&self) -> Option<GateEnd> {
        self.st.lock().end.clone()
    }

    /// Wait until the run ends or the gate waits for a pick, at most `timeout`.
    pub fn wait_settled(&self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        let mut st = self.st.lock();
        loop {
            if st.end.is_some() || st.awaiting || st.stopping {
                return true;
            }
            if self.changed.wait_until(&mut st, deadline).timed_out() {
                return st.end.is_some() || st.awaiting;
            }
        }
    }
}

/// The thread that ran last.
fn last_thread(st: &GateState) -> Option<WorkerId> {
    st.decisions.iter().rev().find_map(|d| match &d.pick {
        Pick::Thread { id, .. } => Some(*id),
        Pick::AdvanceClock => None,
    })
}

/// Pick thread `id` (by its name now), or the clock for `None`.
fn thread_pick(st: &GateState, id: Option<WorkerId>) -> Pick {
    match id {
        Some(id) => Pick::Thread {
            id,
            name: st
                .slots
                .get(&id)
                .map_or_else(String::new, |s| s.name.to_string()),
        },
        None => Pick::AdvanceClock,
    }
}

/// "0.1 s" on the virtual clock, as a schedule file shows it.
fn round_seconds(nanos: u64) -> String {
    let s = nanos as f64 / 1e9;
    format!("{} s", (s * 1e6).round() / 1e6)
}

/// A decision as a replay's error message names it.
pub fn describe(d: &Decision) -> String {
    match &d.pick {
        Pick::Thread { name, .. } => format!("{name} runs {}", d.op),
        Pick::AdvanceClock => format!("the clock advances to {}", d.op),
    }
}
