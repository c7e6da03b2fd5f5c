//! Instrumented primitives with Python's semantics. Each reports its state
//! (level, waiters, holder) on every change, and every blocking call wakes on
//! the lab's stop signal.

mod barrier;
mod condition;
mod counter;
mod event;
mod lock;
mod queue;
mod semaphore;
mod timer;

pub use barrier::{Barrier, BarrierAction};
pub use condition::{Condition, ConditionLock};
pub use counter::Counter;
pub use event::Event;
pub use lock::{Lock, LockGuard, RLock};
pub use queue::Queue;
pub use semaphore::Semaphore;
pub use timer::Timer;

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use super::error::SyncResult;
use super::gate::{Op, OpKind};
use super::knobs::format_number;
use super::probe::{EventKind, ResourceId, ResourceKind, Target, WorkerId};
use super::{LabHandle, LabShared};

/// Who holds a lock: one key per OS thread, never reused. In Python every
/// thread is a Python thread, so a test's main thread or the UI thread must be
/// able to own an RLock as a lab worker can; the lab's WorkerId is None on
/// those, and two of them would look alike. (Python keys on `get_ident()`,
/// which the OS may reuse once a thread ends; this key is never reused.)
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub(crate) struct ThreadKey(u64);

static NEXT_THREAD_KEY: AtomicU64 = AtomicU64::new(0);

thread_local! {
    static THREAD_KEY: ThreadKey = ThreadKey(NEXT_THREAD_KEY.fetch_add(1, Ordering::Relaxed));
}

impl ThreadKey {
    /// The key of the calling OS thread.
    pub fn current() -> ThreadKey {
        THREAD_KEY.with(|k| *k)
    }
}

/// What every primitive has: an id, a name, and its lab.
pub(crate) struct ResourceBase {
    pub id: ResourceId,
    pub name: Arc<str>,
    pub lab: Arc<LabShared>,
}

impl ResourceBase {
    pub fn new(
        lab: &LabHandle,
        name: &str,
        kind: ResourceKind,
        capacity: Option<i64>,
    ) -> ResourceBase {
        let lab = lab.0.clone();
        let id = lab.next_resource_id();
        let name: Arc<str> = Arc::from(name);
        lab.probe.emit(EventKind::ResourceCreated {
            id,
            name: name.clone(),
            kind,
            capacity,
        });
        ResourceBase { id, name, lab }
    }

    pub fn report(
        &self,
        level: i64,
        waiters: u32,
        capacity: Option<i64>,
        holder: Option<WorkerId>,
    ) {
        self.lab.probe.emit(EventKind::Resource {
            id: self.id,
            level,
            waiters,
            capacity,
            holder,
        });
    }

    /// A step point before `{name}.{call}` (see `lab::gate`).
    #[inline]
    pub fn step(&self, kind: OpKind, call: impl FnOnce() -> String) {
        self.lab
            .step(|| Op::new(kind, format!("{}.{}", self.name, call())));
    }

    pub fn target(&self) -> Option<Target> {
        Some(Target::Resource(self.id))
    }

    /// When a wait of `timeout` scenario seconds from now gives up; `None`
    /// never does. A timeout of zero or less (or NaN) has already passed, so
    /// the wait checks once and gives up: what Python's `Condition.wait` does,
    /// and Event, Semaphore, Barrier and Timer wait through it. Lock and Queue
    /// give a negative timeout other meanings and check for it first.
    pub fn deadline_after(&self, timeout: Option<f64>) -> Option<Instant> {
        // f64::max turns NaN into 0 too.
        timeout.map(|t| self.lab.now() + self.lab.scaled(t.max(0.0)))
    }
}

impl Drop for ResourceBase {
    fn drop(&mut self) {
        // The recorder keeps a dropped resource a while for its plots, then
        // forgets it, so a program making a lock per task stays bounded.
        self.lab
            .probe
            .emit(EventKind::ResourceDropped { id: self.id });
    }
}

impl LabHandle {
    /// `threading.Lock()`.
    pub fn lock(&self, name: &str) -> Lock {
        Lock::new(self, name)
    }

    /// `threading.RLock()`.
    pub fn rlock(&self, name: &str) -> RLock {
        RLock::new(self, name)
    }

    /// `threading.Semaphore(value)`.
    pub fn semaphore(&self, name: &str, value: usize) -> Semaphore {
        Semaphore::new(self, name, value, false)
    }

    /// `threading.BoundedSemaphore(value)`.
    pub fn bounded_semaphore(&self, name: &str, value: usize) -> Semaphore {
        Semaphore::new(self, name, value, true)
    }

    /// `queue.Queue(maxsize)`; 0 means unbounded, as in Python.
    pub fn queue<T: Send + 'static>(&self, name: &str, maxsize: usize) -> Queue<T> {
        Queue::new(self, name, maxsize)
    }

    /// `threading.Event()`.
    pub fn event(&self, name: &str) -> Event {
        Event::new(self, name)
    }

    /// `threading.Condition()` (over its own RLock, as Python's default).
    pub fn condition(&self, name: &str) -> Condition {
        Condition::new(self, name)
    }

    /// `threading.Condition(lock)`: over a Lock or RLock the program made.
    pub fn condition_with<'a>(&self, name: &str, lock: impl Into<ConditionLock<'a>>) -> Condition {
        Condition::with_lock(self, name, lock)
    }

    /// `threading.Barrier(parties)`; a ValueError for 0 parties.
    pub fn barrier(&self, name: &str, parties: usize) -> SyncResult<Barrier> {
        Barrier::new(self, name, parties)
    }

    /// `threading.Barrier(parties, action, timeout)`: `action` runs once per
    /// generation, in the last thread to arrive, before any is released;
    /// `timeout` is what a `wait()` without one uses.
    pub fn barrier_with(
        &self,
        name: &str,
        parties: usize,
        action: Option<BarrierAction>,
        timeout: Option<f64>,
    ) -> SyncResult<Barrier> {
        Barrier::with_action(self, name, parties, action, timeout)
    }

    /// A named counter plotted over time (not a Python object: the lab's gauge).
    pub fn counter(&self, name: &str) -> Counter {
        Counter::new(self, name)
    }
}

/// `(timeout=0.5)` and friends, as a step's Python call shows them.
pub(crate) fn call_with_timeout(method: &str, timeout: Option<f64>) -> String {
    match timeout {
        Some(t) => format!("{method}(timeout={})", format_number(t)),
        None => format!("{method}()"),
    }
}
