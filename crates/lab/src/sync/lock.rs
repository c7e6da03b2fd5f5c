//! `threading.Lock` (not re-entrant: a second acquire by its owner blocks, which
//! is the self-deadlock lesson) and `threading.RLock` (re-entrant, owner-only release).

use std::sync::Arc;

use super::{ResourceBase, ThreadKey, call_with_timeout};
use crate::LabHandle;
use crate::error::{SyncError, SyncResult};
use crate::gate::OpKind;
use crate::monitor::{Monitor, WaitEnd};
use crate::probe::{ResourceKind, WorkerId};
use crate::state::State;
use crate::worker::{StateScope, current};

struct Owned {
    /// How many times the owner holds it (always 0 or 1 for Lock).
    count: u32,
    /// The OS thread that holds it: decides re-entry and who may release.
    owner: Option<ThreadKey>,
    /// The owner as the lab knows it (None on a thread the lab did not
    /// start), for the report and so the wait-for graph.
    holder: Option<WorkerId>,
    waiters: u32,
    /// A Lock some thread released though another acquired it: it is used
    /// as a signal between threads (seed 001's two-lock pipeline), not to
    /// guard data, so it has no owner to wait for: the lab stops naming a
    /// holder, and a thread waiting on it is not taken for a deadlock.
    signal: bool,
}

pub(super) struct LockCore {
    base: ResourceBase,
    m: Arc<Monitor<Owned>>,
    reentrant: bool,
}

impl LockCore {
    fn new(lab: &LabHandle, name: &str, reentrant: bool) -> Arc<LockCore> {
        let kind = if reentrant {
            ResourceKind::RLock
        } else {
            ResourceKind::Lock
        };
        let base = ResourceBase::new(lab, name, kind, Some(1));
        let m = Arc::new(Monitor::new(Owned {
            count: 0,
            owner: None,
            holder: None,
            waiters: 0,
            signal: false,
        }));
        lab.0.register_waker(m.clone());
        let core = Arc::new(LockCore { base, m, reentrant });
        core.base.report(0, 0, Some(1), None);
        core
    }

    /// A Lock's level is whether it is held; an RLock's is its count, how
    /// many times its owner holds it (what a recursion makes climb).
    fn report(&self, s: &Owned) {
        let level = if self.reentrant {
            i64::from(s.count)
        } else {
            i64::from(s.count > 0)
        };
        self.base.report(level, s.waiters, Some(1), s.holder);
    }

    /// Python's `acquire(blocking, timeout)`: `Ok(false)` when non-blocking or
    /// timed out without getting it.
    pub(super) fn acquire(&self, blocking: bool, timeout: Option<f64>) -> SyncResult<bool> {
        let timeout = python_lock_timeout(timeout)?;
        let me = current();
        let my_key = ThreadKey::current();
        let my_id = me.as_ref().map(|w| w.id);
        let mut s = self.m.lock();
        if self.reentrant && s.count > 0 && s.owner == Some(my_key) {
            s.count += 1;
            self.report(&s);
            return Ok(true);
        }
        if s.count == 0 {
            s.count = 1;
            s.owner = Some(my_key);
            s.holder = if s.signal { None } else { my_id };
            self.report(&s);
            return Ok(true);
        }
        if !blocking {
            return Ok(false);
        }
        if self.base.lab.is_stopping() || me.as_ref().is_some_and(|w| w.is_killed()) {
            return Err(SyncError::Stopped);
        }
        let deadline = self.base.deadline_after(timeout);
        s.waiters += 1;
        self.report(&s);
        // A timed wait ends by itself: the recorder does not call a cycle
        // through it a deadlock.
        let scope = StateScope::enter_timed(
            me.as_deref(),
            State::Blocked,
            self.base.target(),
            deadline.is_some(),
        );
        let (mut s, end) = self
            .m
            .wait_until(s, &self.base.lab, me.as_deref(), deadline, |s| s.count == 0);
        s.waiters -= 1;
        let result = match end {
            WaitEnd::Ready => {
                s.count = 1;
                s.owner = Some(my_key);
                s.holder = if s.signal { None } else { my_id };
                Ok(true)
            }
            WaitEnd::TimedOut => Ok(false),
            WaitEnd::Stopped => Err(SyncError::Stopped),
        };
        self.report(&s);
        drop(s);
        drop(scope);
        result
    }

    pub(super) fn release(&self) -> SyncResult<()> {
        let my_key = ThreadKey::current();
        let mut s = self.m.lock();
        if s.count == 0 {
            return Err(SyncError::RuntimeError(if self.reentrant {
                "cannot release un-acquired lock".into()
            } else {
                "release unlocked lock".into()
            }));
        }
        // Python lets any thread release a Lock; an RLock only by its owner.
        if self.reentrant && s.owner != Some(my_key) {
            return Err(SyncError::RuntimeError(
                "cannot release un-acquired lock".into(),
            ));
        }
        if !self.reentrant && s.owner != Some(my_key) {
            s.signal = true;
        }
        s.count -= 1;
        if s.count == 0 {
            s.owner = None;
            s.holder = None;
            // std's condvar makes a syscall on every notify: skip it when
            // nobody waits (the stop signal wakes waiters by its own path).
            if s.waiters > 0 {
                self.m.notify_all();
            }
        }
        self.report(&s);
        Ok(())
    }
}

/// What `threading.Condition(lock)` asks of the lock it is built over: the
/// three hooks CPython's Condition takes from it.
impl LockCore {
    /// `Condition._is_owned()`. An RLock knows its owner. A plain Lock does
    /// not, so CPython asks whether it is locked at all (by anyone): its
    /// `acquire(False)`-then-release test.
    pub(super) fn is_owned(&self) -> bool {
        let s = self.m.lock();
        if self.reentrant {
            s.count > 0 && s.owner == Some(ThreadKey::current())
        } else {
            s.count > 0
        }
    }

    /// Whether it is held now, and by which lab worker.
    pub(super) fn held(&self) -> (bool, Option<WorkerId>) {
        let s = self.m.lock();
        (s.count > 0, s.holder)
    }

    /// `_release_save()`: let go of the lock entirely, however deep an RLock
    /// is held, and return the depth to restore. Call after `is_owned`.
    pub(super) fn release_save(&self) -> SyncResult<u32> {
        let mut s = self.m.lock();
        if s.count == 0 || (self.reentrant && s.owner != Some(ThreadKey::current())) {
            return Err(SyncError::RuntimeError(
                "cannot release un-acquired lock".into(),
            ));
        }
        let saved = s.count;
        s.count = 0;
        s.owner = None;
        s.holder = None;
        if s.waiters > 0 {
            self.m.notify_all();
        }
        self.report(&s);
        Ok(saved)
    }

    /// `_acquire_restore(saved)`: take the lock back (blocking, shown as
    /// blocked on the lock) at the depth it was held.
    pub(super) fn acquire_restore(&self, saved: u32) -> SyncResult<()> {
        self.acquire(true, None)?;
        if saved > 1 {
            let mut s = self.m.lock();
            s.count = saved;
            self.report(&s);
        }
        Ok(())
    }
}

/// CPython's checks on `Lock/RLock.acquire(timeout=…)`, made before anything
/// else (even an RLock owner's re-entry): -1 means no timeout, any other
/// negative is a ValueError. The docs name only -1 ("an unbounded wait"); the
/// ValueError, and its message saying "positive" though 0 is accepted (it
/// tries once), are 3.11's behaviour.
fn python_lock_timeout(timeout: Option<f64>) -> SyncResult<Option<f64>> {
    match timeout {
        Some(t) if t.is_nan() => Err(SyncError::ValueError(
            "Invalid value NaN (not a number)".into(),
        )),
        Some(-1.0) => Ok(None),
        Some(t) if t < 0.0 => Err(SyncError::ValueError(
            "timeout value must be positive".into(),
        )),
        other => Ok(other),
    }
}

/// Held while alive, like `with lock:`; releases on drop.
pub struct LockGuard<'a> {
    core: &'a LockCore,
}

impl Drop for LockGuard<'_> {
    fn drop(&mut self) {
        // A thread cut off (a daemon at exit, every thread on Stop) ends
        // where it stands, as CPython's daemon threads do at shutdown: its
        // `with` blocks never run their exits, so what it held stays held.
        // Releasing here would let a thread it deadlocked with go on.
        let cut_off = current().is_some_and(|w| w.is_killed());
        if cut_off || self.core.base.lab.is_stopping() {
            return;
        }
        // The end of the `with` block.
        self.core.base.step(OpKind::Release, || "release()".into());
        let _ = self.core.release();
    }
}

/// The calls Lock and RLock share, spelled as in Python. What differs (who
/// may acquire again, who may release) lives in `LockCore`.
macro_rules! lock_calls {
    () => {
        pub fn name(&self) -> &str {
            &self.0.base.name
        }

        /// `acquire()`: block until it is free (or Stop).
        pub fn acquire(&self) -> SyncResult<()> {
            self.0.base.step(OpKind::Acquire, || "acquire()".into());
            self.0.acquire(true, None).map(|_| ())
        }

        /// `acquire(blocking=False)`.
        pub fn try_acquire(&self) -> SyncResult<bool> {
            self.0
                .base
                .step(OpKind::Acquire, || "acquire(blocking=False)".into());
            self.0.acquire(false, None)
        }

        /// `acquire(timeout=seconds)`: -1 waits without end, as in Python;
        /// any other negative (or NaN) is a ValueError.
        pub fn acquire_timeout(&self, seconds: f64) -> SyncResult<bool> {
            self.0.base.step(OpKind::Acquire, || {
                call_with_timeout("acquire", Some(seconds))
            });
            self.0.acquire(true, Some(seconds))
        }

        /// `release()`: a RuntimeError if it is not held (for an RLock: not
        /// held by the caller).
        pub fn release(&self) -> SyncResult<()> {
            self.0.base.step(OpKind::Release, || "release()".into());
            self.0.release()
        }

        /// `with lock:` — acquire now, release when the guard drops.
        pub fn hold(&self) -> SyncResult<LockGuard<'_>> {
            self.acquire()?;
            Ok(LockGuard { core: &self.0 })
        }
    };
}

/// `threading.Lock`: not re-entrant, so acquiring a Lock you already hold
/// blocks forever (until Stop); any thread may release it. Cloning gives
/// another handle to the same lock.
#[derive(Clone)]
pub struct Lock(Arc<LockCore>);

impl Lock {
    pub fn new(lab: &LabHandle, name: &str) -> Lock {
        Lock(LockCore::new(lab, name, false))
    }

    lock_calls!();

    pub(super) fn core(&self) -> &Arc<LockCore> {
        &self.0
    }

    /// `locked()`.
    pub fn locked(&self) -> bool {
        self.0.m.lock().count > 0
    }
}

/// `threading.RLock`: the owner may acquire again and must release as many
/// times; only the owner may release.
#[derive(Clone)]
pub struct RLock(Arc<LockCore>);

impl RLock {
    pub fn new(lab: &LabHandle, name: &str) -> RLock {
        RLock(LockCore::new(lab, name, true))
    }

    lock_calls!();

    pub(super) fn core(&self) -> &Arc<LockCore> {
        &self.0
    }

    /// How many times the owner holds it now.
    pub fn depth(&self) -> u32 {
        self.0.m.lock().count
    }
}
