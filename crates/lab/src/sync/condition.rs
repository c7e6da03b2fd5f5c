//! `threading.Condition`: `wait` releases the lock and sleeps until notified;
//! `notify(n)` wakes the n longest waiters and `notify_all` every one; both
//! require holding the lock. The lock is the condition's own re-entrant one
//! (`Condition()`) or a Lock or RLock passed in (`Condition(lock)`), which is
//! then the very lock the condition's holder holds.

use crate::gate::OpKind;
use std::collections::VecDeque;
use std::sync::Arc;
use std::time::Instant;

use super::lock::{Lock, LockCore, RLock};
use super::{ResourceBase, ThreadKey};
use crate::LabHandle;
use crate::error::{SyncError, SyncResult};
use crate::monitor::{Monitor, WaitEnd};
use crate::probe::{ResourceKind, WorkerId};
use crate::state::State;
use crate::worker::{StateScope, WorkerInner, current};

struct CondState {
    /// The OS thread that holds the condition's own lock: decides re-entry
    /// and who may release, wait and notify. (Unused over a given lock.)
    owner: Option<ThreadKey>,
    /// The owner as the lab knows it (None on a thread the lab did not
    /// start), for the report and so the wait-for graph.
    holder: Option<WorkerId>,
    count: u32,
    lock_waiters: u32,
    /// Tokens of waiters not yet notified, oldest first.
    waiting: VecDeque<u64>,
    /// Tokens notified but not yet back from `wait`.
    notified: Vec<u64>,
    next_token: u64,
}

/// The lock a condition is built over.
enum Over {
    /// Its own re-entrant lock, kept in [`CondState`]: Python's default
    /// `Condition()`, which makes itself an RLock.
    Own,
    /// The Lock or RLock passed to `Condition(lock)`: acquiring the condition
    /// acquires it, and holding it is holding the condition.
    Given(Arc<LockCore>),
}

/// What `Condition(lock)` accepts: a Lock or an RLock.
#[derive(Clone, Copy)]
pub enum ConditionLock<'a> {
    Lock(&'a Lock),
    RLock(&'a RLock),
}

impl<'a> From<&'a Lock> for ConditionLock<'a> {
    fn from(lock: &'a Lock) -> Self {
        ConditionLock::Lock(lock)
    }
}

impl<'a> From<&'a RLock> for ConditionLock<'a> {
    fn from(lock: &'a RLock) -> Self {
        ConditionLock::RLock(lock)
    }
}

struct Core {
    base: ResourceBase,
    m: Arc<Monitor<CondState>>,
    over: Over,
}

#[derive(Clone)]
pub struct Condition(Arc<Core>);

impl Condition {
    /// `Condition()`: over its own RLock.
    pub fn new(lab: &LabHandle, name: &str) -> Condition {
        Self::build(lab, name, Over::Own)
    }

    /// `Condition(lock)`: over a Lock or RLock the program made. A plain Lock
    /// counts as held by the caller whenever it is locked at all (CPython
    /// cannot tell who holds a Lock), and a wait releases it once; an RLock is
    /// held only by its owner, and a wait releases it however deep it is held.
    pub fn with_lock<'a>(
        lab: &LabHandle,
        name: &str,
        lock: impl Into<ConditionLock<'a>>,
    ) -> Condition {
        let core = match lock.into() {
            ConditionLock::Lock(l) => l.core().clone(),
            ConditionLock::RLock(l) => l.core().clone(),
        };
        Self::build(lab, name, Over::Given(core))
    }

    fn build(lab: &LabHandle, name: &str, over: Over) -> Condition {
        let base = ResourceBase::new(lab, name, ResourceKind::Condition, Some(1));
        let m = Arc::new(Monitor::new(CondState {
            owner: None,
            holder: None,
            count: 0,
            lock_waiters: 0,
            waiting: VecDeque::new(),
            notified: Vec::new(),
            next_token: 0,
        }));
        lab.0.register_waker(m.clone());
        let core = Arc::new(Core { base, m, over });
        let cond = Condition(core);
        cond.report(&cond.0.m.lock());
        cond
    }

    fn report(&self, s: &CondState) {
        match &self.0.over {
            Over::Own => {
                let waiters = s.lock_waiters + s.waiting.len() as u32 + s.notified.len() as u32;
                self.0
                    .base
                    .report(i64::from(s.count > 0), waiters, Some(1), s.holder);
            }
            Over::Given(lock) => {
                // The lock reports itself exactly; the condition mirrors it
                // as of its own last operation (taking the lock's monitor
                // inside the condition's is safe: a lock never calls back).
                let (held, holder) = lock.held();
                let waiters = s.waiting.len() as u32 + s.notified.len() as u32;
                self.0
                    .base
                    .report(i64::from(held), waiters, Some(1), holder);
            }
        }
    }

    /// The calling thread: its lab worker, if any, and its owner key.
    fn me() -> (Option<Arc<WorkerInner>>, ThreadKey) {
        (current(), ThreadKey::current())
    }

    fn owned_by(s: &CondState, key: ThreadKey) -> bool {
        s.count > 0 && s.owner == Some(key)
    }

    fn take(s: &mut CondState, count: u32, key: ThreadKey, me: Option<&WorkerInner>) {
        s.count = count;
        s.owner = Some(key);
        s.holder = me.map(|w| w.id);
    }

    /// `acquire()` on the condition's lock.
    pub fn acquire(&self) -> SyncResult<()> {
        self.0.base.step(OpKind::Acquire, || "acquire()".into());
        if let Over::Given(lock) = &self.0.over {
            lock.acquire(true, None)?;
            self.report(&self.0.m.lock());
            return Ok(());
        }
        let (me, my_key) = Self::me();
        let mut s = self.0.m.lock();
        if Self::owned_by(&s, my_key) {
            s.count += 1;
            return Ok(());
        }
        if s.count > 0 {
            s.lock_waiters += 1;
            self.report(&s);
            let scope = StateScope::enter(me.as_deref(), State::Blocked, self.0.base.target());
            let (s2, end) = self
                .0
                .m
                .wait_until(s, &self.0.base.lab, me.as_deref(), None, |s| s.count == 0);
            s = s2;
            s.lock_waiters -= 1;
            drop(scope);
            if end == WaitEnd::Stopped {
                self.report(&s);
                return Err(SyncError::Stopped);
            }
        }
        Self::take(&mut s, 1, my_key, me.as_deref());
        self.report(&s);
        Ok(())
    }

    /// `release()` of the condition's lock: its own only by the owner; a
    /// given lock by its own rules.
    pub fn release(&self) -> SyncResult<()> {
        self.0.base.step(OpKind::Release, || "release()".into());
        if let Over::Given(lock) = &self.0.over {
            lock.release()?;
            self.report(&self.0.m.lock());
            return Ok(());
        }
        let my_key = ThreadKey::current();
        let mut s = self.0.m.lock();
        if !Self::owned_by(&s, my_key) {
            return Err(SyncError::RuntimeError(
                "cannot release un-acquired lock".into(),
            ));
        }
        s.count -= 1;
        if s.count == 0 {
            s.owner = None;
            s.holder = None;
            if s.lock_waiters > 0 {
                self.0.m.notify_all();
            }
        }
        self.report(&s);
        Ok(())
    }

    /// `wait(timeout=None)`: release the lock, wait for a notify, take the lock
    /// back. Returns false if it timed out. A RuntimeError without the lock.
    /// A timeout of zero or less still releases and re-takes the lock, but
    /// does not wait, as in Python.
    pub fn wait(&self, timeout: Option<f64>) -> SyncResult<bool> {
        self.0
            .base
            .step(OpKind::Wait, || super::call_with_timeout("wait", timeout));
        self.wait_to_deadline(self.0.base.deadline_after(timeout))
    }

    /// `wait`, given when to give up rather than how long.
    fn wait_to_deadline(&self, deadline: Option<Instant>) -> SyncResult<bool> {
        if let Over::Given(lock) = &self.0.over {
            return self.wait_over(lock, deadline);
        }
        let (me, my_key) = Self::me();
        let mut s = self.0.m.lock();
        if !Self::owned_by(&s, my_key) {
            return Err(SyncError::RuntimeError(
                "cannot wait on un-acquired lock".into(),
            ));
        }
        let saved = s.count;
        s.count = 0;
        s.owner = None;
        s.holder = None;
        let token = s.next_token;
        s.next_token += 1;
        s.waiting.push_back(token);
        self.0.m.notify_all();
        self.report(&s);
        let (s2, end) = {
            let _scope = StateScope::enter(me.as_deref(), State::Waiting, self.0.base.target());
            self.0
                .m
                .wait_until(s, &self.0.base.lab, me.as_deref(), deadline, |s| {
                    s.notified.contains(&token)
                })
        };
        s = s2;
        let notified = end == WaitEnd::Ready;
        s.waiting.retain(|t| *t != token);
        s.notified.retain(|t| *t != token);
        if end == WaitEnd::Stopped {
            self.report(&s);
            return Err(SyncError::Stopped);
        }
        // Take the lock back, at the depth it was held.
        if s.count > 0 {
            s.lock_waiters += 1;
            self.report(&s);
            let scope = StateScope::enter(me.as_deref(), State::Blocked, self.0.base.target());
            let (s3, end) = self
                .0
                .m
                .wait_until(s, &self.0.base.lab, me.as_deref(), None, |s| s.count == 0);
            s = s3;
            s.lock_waiters -= 1;
            drop(scope);
            if end == WaitEnd::Stopped {
                self.report(&s);
                return Err(SyncError::Stopped);
            }
        }
        Self::take(&mut s, saved, my_key, me.as_deref());
        self.report(&s);
        Ok(notified)
    }

    /// `wait` over a given lock, as CPython's Condition does it: join the
    /// waiters, `_release_save()` the lock, sleep until notified, then
    /// `_acquire_restore()` it (shown as blocked on the lock, if it is taken).
    fn wait_over(&self, lock: &LockCore, deadline: Option<Instant>) -> SyncResult<bool> {
        let me = current();
        if !lock.is_owned() {
            return Err(SyncError::RuntimeError(
                "cannot wait on un-acquired lock".into(),
            ));
        }
        // Join the waiters before letting go of the lock, so a notify made
        // the moment it is free already finds this thread.
        let token = {
            let mut s = self.0.m.lock();
            let token = s.next_token;
            s.next_token += 1;
            s.waiting.push_back(token);
            self.report(&s);
            token
        };
        let saved = match lock.release_save() {
            Ok(saved) => saved,
            Err(e) => {
                let mut s = self.0.m.lock();
                s.waiting.retain(|t| *t != token);
                self.report(&s);
                return Err(e);
            }
        };
        let end = {
            let _scope = StateScope::enter(me.as_deref(), State::Waiting, self.0.base.target());
            let s = self.0.m.lock();
            let (mut s, end) =
                self.0
                    .m
                    .wait_until(s, &self.0.base.lab, me.as_deref(), deadline, |s| {
                        s.notified.contains(&token)
                    });
            s.waiting.retain(|t| *t != token);
            s.notified.retain(|t| *t != token);
            self.report(&s);
            end
        };
        if end == WaitEnd::Stopped {
            return Err(SyncError::Stopped);
        }
        lock.acquire_restore(saved)?;
        self.report(&self.0.m.lock());
        Ok(end == WaitEnd::Ready)
    }

    /// `wait_for(predicate, timeout=None)`: wait until `predicate()` is true;
    /// returns its last answer. CPython's loop: if the predicate is false it
    /// waits at least once, even with a timeout of zero or less (so the lock
    /// is given up once, and a thread without it gets the RuntimeError), and
    /// asks the predicate again before it gives up.
    pub fn wait_for(
        &self,
        mut predicate: impl FnMut() -> bool,
        timeout: Option<f64>,
    ) -> SyncResult<bool> {
        let deadline = self.0.base.deadline_after(timeout);
        let mut result = predicate();
        let mut waited = false;
        while !result {
            if waited && deadline.is_some_and(|d| self.0.base.lab.now() >= d) {
                break;
            }
            self.wait_to_deadline(deadline)?;
            waited = true;
            result = predicate();
        }
        Ok(result)
    }

    /// `notify(n=1)`: wake the `n` longest-waiting threads. Returns how many woke.
    pub fn notify(&self, n: usize) -> SyncResult<usize> {
        self.0.base.step(OpKind::Notify, || match n {
            usize::MAX => "notify_all()".into(),
            1 => "notify()".into(),
            n => format!("notify({n})"),
        });
        let owned = match &self.0.over {
            Over::Own => None,
            Over::Given(lock) => Some(lock.is_owned()),
        };
        let my_key = ThreadKey::current();
        let mut s = self.0.m.lock();
        if !owned.unwrap_or_else(|| Self::owned_by(&s, my_key)) {
            return Err(SyncError::RuntimeError(
                "cannot notify on un-acquired lock".into(),
            ));
        }
        let mut woken = 0;
        while woken < n {
            match s.waiting.pop_front() {
                Some(t) => {
                    s.notified.push(t);
                    woken += 1;
                }
                None => break,
            }
        }
        if woken > 0 {
            self.0.m.notify_all();
        }
        self.report(&s);
        Ok(woken)
    }

    /// `notify_all()`.
    pub fn notify_all(&self) -> SyncResult<usize> {
        self.notify(usize::MAX)
    }

    /// Threads waiting for a notify now.
    pub fn waiting(&self) -> usize {
        self.0.m.lock().waiting.len()
    }

    pub fn name(&self) -> &str {
        &self.0.base.name
    }
}
