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

use super::LabHandle;
use super::error::SyncResult;
use super::knobs::format_number;

pub(crate) use crate::resource::{ResourceBase, ThreadKey};

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
