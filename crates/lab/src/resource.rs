//! What every primitive shares, below the primitives themselves (`sync`,
//! `gil`, `process`, `aio` and `futures` build on it): a resource's id, name
//! and lab, how it reports its state and takes a step point, and the key of
//! the OS thread that holds it.

use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Instant;

use crate::gate::{Op, OpKind};
use crate::probe::{EventKind, ResourceId, ResourceKind, Target, WorkerId};
use crate::{LabHandle, LabShared};

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
