//! `threading.Semaphore` and `threading.BoundedSemaphore`: a counter of free
//! permits; acquire blocks at zero; a bounded one refuses to be released above
//! its initial value.

use crate::gate::OpKind;
use std::sync::Arc;

use super::ResourceBase;
use crate::LabHandle;
use crate::error::{SyncError, SyncResult};
use crate::monitor::{Monitor, WaitEnd};
use crate::probe::ResourceKind;
use crate::state::State;
use crate::worker::{StateScope, current};

struct Permits {
    free: i64,
    /// The initial value (the bound, for a BoundedSemaphore).
    bound: i64,
    waiters: u32,
}

struct Core {
    base: ResourceBase,
    m: Arc<Monitor<Permits>>,
    bounded: bool,
}

/// `threading.Semaphore(value)` or, with `bounded`, `BoundedSemaphore(value)`.
#[derive(Clone)]
pub struct Semaphore(Arc<Core>);

impl Semaphore {
    pub fn new(lab: &LabHandle, name: &str, value: usize, bounded: bool) -> Semaphore {
        let kind = if bounded {
            ResourceKind::BoundedSemaphore
        } else {
            ResourceKind::Semaphore
        };
        let value = value as i64;
        let base = ResourceBase::new(lab, name, kind, Some(value));
        let m = Arc::new(Monitor::new(Permits {
            free: value,
            bound: value,
            waiters: 0,
        }));
        lab.0.register_waker(m.clone());
        let core = Arc::new(Core { base, m, bounded });
        core.base.report(value, 0, Some(value), None);
        Semaphore(core)
    }

    fn report(&self, p: &Permits) {
        self.0.base.report(p.free, p.waiters, Some(p.bound), None);
    }

    fn acquire_inner(&self, blocking: bool, timeout: Option<f64>) -> SyncResult<bool> {
        let me = current();
        let mut p = self.0.m.lock();
        if p.free > 0 {
            p.free -= 1;
            self.report(&p);
            return Ok(true);
        }
        if !blocking {
            return Ok(false);
        }
        let deadline = self.0.base.deadline_after(timeout);
        p.waiters += 1;
        self.report(&p);
        let scope = StateScope::enter(me.as_deref(), State::Blocked, self.0.base.target());
        let (mut p, end) = self
            .0
            .m
            .wait_until(p, &self.0.base.lab, me.as_deref(), deadline, |p| p.free > 0);
        p.waiters -= 1;
        let result = match end {
            WaitEnd::Ready => {
                p.free -= 1;
                Ok(true)
            }
            WaitEnd::TimedOut => Ok(false),
            WaitEnd::Stopped => Err(SyncError::Stopped),
        };
        self.report(&p);
        drop(p);
        drop(scope);
        result
    }

    /// `acquire()`: take a permit, blocking while there is none.
    pub fn acquire(&self) -> SyncResult<()> {
        self.0.base.step(OpKind::Acquire, || "acquire()".into());
        self.acquire_inner(true, None).map(|_| ())
    }

    /// `acquire(blocking=False)`.
    pub fn try_acquire(&self) -> SyncResult<bool> {
        self.0
            .base
            .step(OpKind::Acquire, || "acquire(blocking=False)".into());
        self.acquire_inner(false, None)
    }

    /// `acquire(timeout=seconds)`. Unlike a Lock's, a timeout of zero or less
    /// is no error: it takes a free permit or gives up at once, as in Python.
    pub fn acquire_timeout(&self, seconds: f64) -> SyncResult<bool> {
        self.0.base.step(OpKind::Acquire, || {
            super::call_with_timeout("acquire", Some(seconds))
        });
        self.acquire_inner(true, Some(seconds))
    }

    /// `release(n=1)`. A BoundedSemaphore raises ValueError rather than go
    /// above its initial value (and then changes nothing); so does `n` of 0
    /// on either kind, as in Python.
    pub fn release(&self, n: usize) -> SyncResult<()> {
        self.0.base.step(OpKind::Release, || {
            if n == 1 {
                "release()".into()
            } else {
                format!("release({n})")
            }
        });
        if n < 1 {
            return Err(SyncError::ValueError("n must be one or more".into()));
        }
        let mut p = self.0.m.lock();
        let n = n as i64;
        if self.0.bounded && p.free + n > p.bound {
            // CPython's exact words, so the lane says what Python prints.
            return Err(SyncError::ValueError(
                "Semaphore released too many times".into(),
            ));
        }
        p.free += n;
        if p.waiters > 0 {
            self.0.m.notify_all();
        }
        self.report(&p);
        Ok(())
    }

    /// Free permits now (Python's `_value`).
    pub fn free(&self) -> i64 {
        self.0.m.lock().free
    }

    pub fn bound(&self) -> i64 {
        self.0.m.lock().bound
    }

    /// Change the number of permits while running (a live knob): the free
    /// count moves by the same amount, so holders are unaffected.
    pub fn set_permits(&self, permits: usize) {
        let mut p = self.0.m.lock();
        let delta = permits as i64 - p.bound;
        p.bound = permits as i64;
        p.free += delta;
        self.0.m.notify_all();
        self.report(&p);
    }

    pub fn name(&self) -> &str {
        &self.0.base.name
    }
}
