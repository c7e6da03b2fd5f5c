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

pub use barrier::Barrier;
pub use condition::Condition;
pub use counter::Counter;
pub use event::Event;
pub use lock::{Lock, LockGuard, RLock};
pub use queue::Queue;
pub use semaphore::Semaphore;
pub use timer::Timer;

use std::sync::Arc;
use std::time::Instant;

use super::probe::{EventKind, ResourceId, ResourceKind, Target, WorkerId};
use super::{LabHandle, LabShared};

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

    pub fn target(&self) -> Option<Target> {
        Some(Target::Resource(self.id))
    }

    /// Deadline for a timeout given in scenario seconds; negative means none.
    pub fn deadline(&self, timeout: Option<f64>) -> Option<Instant> {
        timeout
            .filter(|t| *t >= 0.0)
            .map(|t| Instant::now() + self.lab.scaled(t))
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

    /// `threading.Barrier(parties)`.
    pub fn barrier(&self, name: &str, parties: usize) -> Barrier {
        Barrier::new(self, name, parties)
    }

    /// A named counter plotted over time (not a Python object: the lab's gauge).
    pub fn counter(&self, name: &str) -> Counter {
        Counter::new(self, name)
    }
}
