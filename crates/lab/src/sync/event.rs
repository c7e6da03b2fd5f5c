//! `threading.Event`: a flag; `wait` blocks until it is set, and `set` wakes
//! every waiter at once.

use crate::gate::OpKind;
use std::sync::Arc;

use super::ResourceBase;
use crate::LabHandle;
use crate::error::{SyncError, SyncResult};
use crate::monitor::{Monitor, WaitEnd};
use crate::probe::ResourceKind;
use crate::state::State;
use crate::worker::{StateScope, current};

struct Flag {
    set: bool,
    /// Bumped by every `set`, so a waiter released by a set followed at once
    /// by a clear still wakes (as in Python).
    generation: u64,
    waiters: u32,
}

struct Core {
    base: ResourceBase,
    m: Arc<Monitor<Flag>>,
}

#[derive(Clone)]
pub struct Event(Arc<Core>);

impl Event {
    pub fn new(lab: &LabHandle, name: &str) -> Event {
        let base = ResourceBase::new(lab, name, ResourceKind::Event, None);
        let m = Arc::new(Monitor::new(Flag {
            set: false,
            generation: 0,
            waiters: 0,
        }));
        lab.0.register_waker(m.clone());
        let core = Arc::new(Core { base, m });
        core.base.report(0, 0, None, None);
        Event(core)
    }

    fn report(&self, f: &Flag) {
        self.0.base.report(i64::from(f.set), f.waiters, None, None);
    }

    /// `set()`: the flag becomes true and every waiter wakes.
    pub fn set(&self) {
        self.0.base.step(OpKind::Set, || "set()".into());
        let mut f = self.0.m.lock();
        f.set = true;
        f.generation += 1;
        if f.waiters > 0 {
            self.0.m.notify_all();
        }
        self.report(&f);
    }

    /// `clear()`.
    pub fn clear(&self) {
        self.0.base.step(OpKind::Clear, || "clear()".into());
        let mut f = self.0.m.lock();
        f.set = false;
        self.report(&f);
    }

    /// `is_set()`.
    pub fn is_set(&self) -> bool {
        self.0.m.lock().set
    }

    /// `wait(timeout=None)`: returns the flag, i.e. false if it timed out. A
    /// timeout of zero or less only looks, as in Python.
    pub fn wait(&self, timeout: Option<f64>) -> SyncResult<bool> {
        self.0
            .base
            .step(OpKind::Wait, || super::call_with_timeout("wait", timeout));
        let me = current();
        let mut f = self.0.m.lock();
        if f.set {
            return Ok(true);
        }
        let deadline = self.0.base.deadline_after(timeout);
        let generation = f.generation;
        f.waiters += 1;
        self.report(&f);
        let scope = StateScope::enter(me.as_deref(), State::Waiting, self.0.base.target());
        let (mut f, end) = self
            .0
            .m
            .wait_until(f, &self.0.base.lab, me.as_deref(), deadline, |f| {
                f.generation != generation
            });
        f.waiters -= 1;
        self.report(&f);
        drop(f);
        drop(scope);
        match end {
            WaitEnd::Ready => Ok(true),
            WaitEnd::TimedOut => Ok(false),
            WaitEnd::Stopped => Err(SyncError::Stopped),
        }
    }

    pub fn name(&self) -> &str {
        &self.0.base.name
    }
}
