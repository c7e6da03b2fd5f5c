//! The GIL: one interpreter lock per lab "Python process", with CPython's
//! rules (Python/ceval_gil.c). A thread attached to an [`Interpreter`] runs
//! Python code ([`Ctx::compute`], and the lines between blocking calls) only
//! while it holds the interpreter's GIL. It lets go whenever it sleeps,
//! blocks on a primitive, waits or does I/O (every such wait goes through
//! `worker::StateScope`), and wants it back when the wait ends: until it has
//! it, it is runnable but not running ([`State::GilWait`]). A holder that
//! has kept it for the switch interval (`sys.setswitchinterval`, 5 ms by
//! default) while another thread waits drops it at its next "bytecode"
//! boundary and waits until someone else has taken it (CPython's forced
//! switch), then queues for it again.
//!
//! An interpreter made without a GIL is the free-threaded build (3.13t,
//! PEP 703): the same calls, no lock, so its threads run on every core.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use super::error::{SyncError, SyncResult};
use super::monitor::{Monitor, WaitEnd};
use super::probe::{ResourceKind, Target, WorkerId};
use super::state::State;
use super::worker::{Ctx, WorkerInner};
use super::{LabHandle, WakerKey};
use crate::resource::ResourceBase;

/// What the worker's `gil` field says (only the worker itself writes it).
pub(crate) const NOT_HELD: u8 = 0;
pub(crate) const HELD: u8 = 1;
/// Queued for it after a wait: the thread takes it (blocking) at its next
/// Python line (`Ctx::check`, `Ctx::log`, `Ctx::compute`).
pub(crate) const WANTED: u8 = 2;

/// CPython's default switch interval: 5 ms.
pub const DEFAULT_SWITCH_INTERVAL: f64 = 0.005;

/// Steps of work between two looks at Stop and at a drop request: about
/// 10-20 µs, the lab's "bytecode" (CPython looks at its eval breaker about
/// as often in a tight loop).
const SLICE_STEPS: u64 = 8192;

struct GilState {
    held: bool,
    holder: Option<WorkerId>,
    /// Times the GIL changed hands (`switch_number` in CPython).
    switches: u64,
    /// Forced switches: a holder dropped it because someone had waited a
    /// whole interval.
    forced: u64,
    /// When it last changed hands, on the lab clock (ns).
    last_switch: u64,
    /// Threads queued for it, and since when.
    waiting: Vec<(WorkerId, u64)>,
}

impl GilState {
    /// From when the switch interval counts: the later of the last switch
    /// and the oldest wait; 0 when nobody waits.
    fn drop_base(&self) -> u64 {
        self.waiting
            .iter()
            .map(|(_, since)| *since)
            .min()
            .map_or(0, |oldest| oldest.max(self.last_switch).max(1))
    }
}

pub(crate) struct Gil {
    base: ResourceBase,
    m: Arc<Monitor<GilState>>,
    waker: WakerKey,
    interval_ns: AtomicU64,
    /// [`GilState::drop_base`], readable without the lock by the holder
    /// at every slice.
    drop_base: AtomicU64,
}

impl Gil {
    fn report(&self, s: &GilState) {
        self.base
            .report(i64::from(s.held), s.waiting.len() as u32, Some(1), s.holder);
        self.drop_base.store(s.drop_base(), Ordering::Release);
    }

    fn now(&self) -> u64 {
        self.base.lab.probe.now_ns()
    }

    fn target(&self) -> Option<Target> {
        self.base.target()
    }

    /// Let go of it (or leave the queue for it).
    pub(crate) fn release(&self, w: &WorkerInner) {
        let was = w.gil.swap(NOT_HELD, Ordering::AcqRel);
        if was == NOT_HELD {
            return;
        }
        let mut s = self.m.lock();
        if was == HELD && s.holder == Some(w.id) {
            s.held = false;
            s.holder = None;
            self.m.notify_all();
        }
        s.waiting.retain(|(id, _)| *id != w.id);
        self.report(&s);
    }

    fn take(&self, s: &mut GilState, w: &WorkerInner) {
        s.held = true;
        s.holder = Some(w.id);
        s.switches += 1;
        s.last_switch = self.now();
        s.waiting.retain(|(id, _)| *id != w.id);
        w.gil.store(HELD, Ordering::Release);
        // A holder forced to drop it waits for this hand-over.
        self.m.notify_all();
    }

    /// A wait is over: take it at once if it is free and nobody queues,
    /// else queue for it (runnable, not running). Never blocks: the caller
    /// may still hold a primitive's lock.
    pub(crate) fn want(&self, w: &WorkerInner) {
        if w.gil.load(Ordering::Acquire) == HELD {
            w.set_state(State::Running, None);
            return;
        }
        let mut s = self.m.lock();
        if !s.held && s.waiting.is_empty() {
            self.take(&mut s, w);
            self.report(&s);
            drop(s);
            w.set_state(State::Running, None);
            return;
        }
        if !s.waiting.iter().any(|(id, _)| *id == w.id) {
            let now = self.now();
            s.waiting.push((w.id, now));
        }
        w.gil.store(WANTED, Ordering::Release);
        self.report(&s);
        drop(s);
        w.set_state(State::GilWait, self.target());
    }

    /// Take it, waiting (runnable, not running) until it is free.
    pub(crate) fn acquire(&self, w: &WorkerInner) -> SyncResult<()> {
        if w.gil.load(Ordering::Acquire) == HELD {
            return Ok(());
        }
        let mut s = self.m.lock();
        if !s.waiting.iter().any(|(id, _)| *id == w.id) {
            let now = self.now();
            s.waiting.push((w.id, now));
            self.report(&s);
        }
        w.gil.store(WANTED, Ordering::Release);
        if w.state() != State::GilWait {
            w.set_state(State::GilWait, self.target());
        }
        let lab = self.base.lab.clone();
        let (mut s, end) = self.m.wait_until(s, &lab, Some(w), None, |s| !s.held);
        match end {
            WaitEnd::Ready => {
                self.take(&mut s, w);
                self.report(&s);
                drop(s);
                w.set_state(State::Running, None);
                Ok(())
            }
            _ => {
                s.waiting.retain(|(id, _)| *id != w.id);
                w.gil.store(NOT_HELD, Ordering::Release);
                self.report(&s);
                Err(SyncError::Stopped)
            }
        }
    }

    /// Someone has waited a whole switch interval for it.
    fn drop_requested(&self) -> bool {
        let base = self.drop_base.load(Ordering::Acquire);
        base != 0 && self.now() >= base + self.interval_ns.load(Ordering::Relaxed)
    }

    /// CPython's forced switch: drop it, wait until another thread has
    /// taken it (FORCE_SWITCHING), then queue for it again.
    fn force_switch(&self, w: &WorkerInner) -> SyncResult<()> {
        // The state first, the lock after: the record never shows two
        // threads of one process running at once.
        w.set_state(State::GilWait, self.target());
        let mut s = self.m.lock();
        if s.holder != Some(w.id) {
            drop(s);
            return self.acquire(w);
        }
        s.held = false;
        s.holder = None;
        s.forced += 1;
        w.gil.store(NOT_HELD, Ordering::Release);
        let switches = s.switches;
        self.m.notify_all();
        self.report(&s);
        let lab = self.base.lab.clone();
        let (s, end) = self.m.wait_until(s, &lab, Some(w), None, |s| {
            s.switches != switches || s.waiting.is_empty()
        });
        drop(s);
        if end == WaitEnd::Stopped {
            return Err(SyncError::Stopped);
        }
        self.acquire(w)
    }
}

impl Drop for Gil {
    fn drop(&mut self) {
        self.base.lab.unregister_waker(self.waker);
    }
}

/// One Python interpreter of the lab: a process's `sys`, with its GIL (or
/// none, for the free-threaded build). Threads started by a thread attached
/// to it belong to it too, as Python threads belong to their interpreter.
#[derive(Clone)]
pub struct Interpreter(pub(crate) Arc<InterpCore>);

pub(crate) struct InterpCore {
    pub name: Arc<str>,
    pub gil: Option<Gil>,
}

impl LabHandle {
    /// A Python interpreter with a GIL (`gil: true`, CPython's default) or
    /// without one (the free-threaded build), its GIL shown as the
    /// resource `name`, with `sys.setswitchinterval(switch_interval)`.
    pub fn interpreter(&self, name: &str, gil: bool, switch_interval: f64) -> Interpreter {
        let gil = gil.then(|| {
            let base = ResourceBase::new(self, name, ResourceKind::Gil, Some(1));
            let m = Arc::new(Monitor::new(GilState {
                held: false,
                holder: None,
                switches: 0,
                forced: 0,
                last_switch: 0,
                waiting: Vec::new(),
            }));
            let waker = self.0.register_waker(m.clone());
            let gil = Gil {
                base,
                m,
                waker,
                interval_ns: AtomicU64::new(interval_ns(switch_interval)),
                drop_base: AtomicU64::new(0),
            };
            gil.report(&gil.m.lock());
            gil
        });
        Interpreter(Arc::new(InterpCore {
            name: Arc::from(name),
            gil,
        }))
    }
}

fn interval_ns(seconds: f64) -> u64 {
    if seconds.is_finite() && seconds > 0.0 {
        (seconds * 1e9).min(1e12) as u64
    } else {
        1
    }
}

impl Interpreter {
    pub fn name(&self) -> &str {
        &self.0.name
    }

    /// Whether it has a GIL (false: the free-threaded build).
    pub fn has_gil(&self) -> bool {
        self.0.gil.is_some()
    }

    /// `sys.setswitchinterval(seconds)`: applies at once.
    pub fn set_switch_interval(&self, seconds: f64) {
        if let Some(g) = &self.0.gil {
            g.interval_ns.store(interval_ns(seconds), Ordering::Relaxed);
        }
    }

    /// `sys.getswitchinterval()`.
    pub fn switch_interval(&self) -> f64 {
        self.0.gil.as_ref().map_or(DEFAULT_SWITCH_INTERVAL, |g| {
            g.interval_ns.load(Ordering::Relaxed) as f64 * 1e-9
        })
    }

    /// Times a holder had to drop the GIL because another thread had
    /// waited a whole switch interval.
    pub fn forced_switches(&self) -> u64 {
        self.0.gil.as_ref().map_or(0, |g| g.m.lock().forced)
    }

    /// Times the GIL changed hands.
    pub fn switches(&self) -> u64 {
        self.0.gil.as_ref().map_or(0, |g| g.m.lock().switches)
    }

    /// The GIL's resource name, if it has one.
    pub fn gil_name(&self) -> Option<&str> {
        self.0.gil.as_ref().map(|g| &*g.base.name)
    }
}

/// One step of the lab's CPU work: a few multiplications and shifts the
/// optimiser cannot skip (the result is returned).
#[inline]
fn step(x: u64) -> u64 {
    let x = x
        .wrapping_mul(6_364_136_223_846_793_005)
        .wrapping_add(1_442_695_040_888_963_407);
    x ^ (x >> 29)
}

/// Run `steps` steps of CPU work without any lab bookkeeping (calibration).
pub fn raw_steps(seed: u64, steps: u64) -> u64 {
    let mut x = seed;
    for _ in 0..steps {
        x = step(x);
    }
    std::hint::black_box(x)
}

/// The CPU time this thread has had, in seconds (its own clock: other
/// programs taking the cores do not move it). Wall time since `wall_start`
/// where there is none.
pub fn thread_cpu_seconds(wall_start: std::time::Instant) -> f64 {
    #[cfg(target_os = "linux")]
    {
        let _ = wall_start;
        let ts = rustix::time::clock_gettime(rustix::time::ClockId::ThreadCPUTime);
        ts.tv_sec as f64 + ts.tv_nsec as f64 * 1e-9
    }
    #[cfg(not(target_os = "linux"))]
    {
        wall_start.elapsed().as_secs_f64()
    }
}

/// How many steps this machine runs per second of one core's CPU time,
/// measured over about `seconds` of this thread's CPU time (as Python's
/// `time.thread_time()` measures): a busy machine makes the measurement
/// take longer, not the work look smaller. The best of a few tries.
pub fn steps_per_second(seconds: f64) -> f64 {
    let per_try = (seconds / 4.0).max(0.002);
    let mut best: f64 = 0.0;
    let mut n: u64 = 100_000;
    let origin = std::time::Instant::now();
    for _ in 0..4 {
        let t0 = thread_cpu_seconds(origin);
        raw_steps(n, n);
        let dt = (thread_cpu_seconds(origin) - t0).max(1e-6);
        best = best.max(n as f64 / dt);
        n = ((best * per_try) as u64).max(10_000);
    }
    best
}

impl Ctx {
    /// Attach this thread to `interp` (leaving the one it was in) and take
    /// its GIL: from now on it runs Python code only while holding it, and
    /// the threads it starts belong to `interp` too.
    pub fn attach(&self, interp: &Interpreter) -> SyncResult<()> {
        self.detach();
        *self.me.interp.lock() = Some(interp.0.clone());
        self.me
            .has_interp
            .store(true, std::sync::atomic::Ordering::Release);
        self.me.ensure_gil(true)
    }

    /// Leave the interpreter this thread is attached to (its GIL is released).
    pub fn detach(&self) {
        let old = self.me.interp.lock().take();
        self.me.has_interp.store(false, Ordering::Release);
        if let Some(core) = old
            && let Some(g) = &core.gil
        {
            g.release(&self.me);
        }
    }

    /// The interpreter this thread belongs to, if any.
    pub fn interpreter(&self) -> Option<Interpreter> {
        self.me.interp.lock().clone().map(Interpreter)
    }

    /// Pure-Python CPU work: `steps` steps (see [`steps_per_second`]) run in
    /// small slices, each only while holding the GIL (if this thread
    /// belongs to an interpreter that has one), dropping it when another
    /// thread has waited a switch interval. Looks at Stop between slices.
    /// Returns a checksum of the work.
    pub fn compute(&self, steps: u64) -> SyncResult<u64> {
        let gil = self.me.interp.lock().clone();
        let gil = gil.as_ref().and_then(|c| c.gil.as_ref());
        let mut x = steps ^ u64::from(self.me.id);
        let mut left = steps;
        while left > 0 {
            if let Some(g) = gil
                && self.me.gil.load(Ordering::Acquire) != HELD
            {
                g.acquire(&self.me)?;
            }
            let n = left.min(SLICE_STEPS);
            for _ in 0..n {
                x = step(x);
            }
            left -= n;
            if self.me.lab.is_stopping() || self.me.is_killed() {
                return Err(SyncError::Stopped);
            }
            if let Some(g) = gil
                && left > 0
                && g.drop_requested()
            {
                g.force_switch(&self.me)?;
            }
        }
        Ok(std::hint::black_box(x))
    }
}

impl WorkerInner {
    /// The GIL of this worker's interpreter, if it has one.
    pub(crate) fn gil_core(&self) -> Option<Arc<InterpCore>> {
        if !self.has_interp.load(Ordering::Acquire) {
            return None;
        }
        self.interp.lock().clone().filter(|c| c.gil.is_some())
    }

    /// Take the GIL if this thread belongs to an interpreter with one and
    /// does not hold it (`force`: even if it had not queued for it).
    pub(crate) fn ensure_gil(&self, force: bool) -> SyncResult<()> {
        if !self.has_interp.load(Ordering::Acquire) {
            return Ok(());
        }
        let state = self.gil.load(Ordering::Acquire);
        if state == HELD || (state == NOT_HELD && !force) {
            return Ok(());
        }
        match self.gil_core() {
            Some(core) => match &core.gil {
                Some(g) => g.acquire(self),
                None => Ok(()),
            },
            None => Ok(()),
        }
    }

    /// A wait begins: show the new state, then let go of the GIL.
    pub(crate) fn gil_wait_begins(&self, state: State, target: Option<Target>, timed: bool) {
        self.set_state_timed(state, target, timed);
        if let Some(core) = self.gil_core()
            && let Some(g) = &core.gil
        {
            g.release(self);
        }
    }

    /// A wait is over: running again if the GIL is free, else queued for it.
    pub(crate) fn gil_wait_ends(&self) {
        match self.gil_core() {
            Some(core) => match &core.gil {
                Some(g) => g.want(self),
                None => self.set_state(State::Running, None),
            },
            None => self.set_state(State::Running, None),
        }
    }

    /// The thread ends: let go of the GIL.
    pub(crate) fn gil_leave(&self) {
        if let Some(core) = self.gil_core()
            && let Some(g) = &core.gil
        {
            g.release(self);
        }
    }
}
