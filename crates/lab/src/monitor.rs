//! The one blocking mechanism every primitive is built on: a mutex-protected
//! state and a condition variable that the lab can wake when it stops.

use std::sync::{Arc, Condvar, Mutex, MutexGuard, PoisonError};
use std::time::Instant;

use super::LabShared;
use super::gate::Gate;
use super::worker::WorkerInner;

/// Something the lab wakes when it stops or kills a worker, so every blocked
/// wait re-checks whether it should give up.
pub(crate) trait Wake: Send + Sync {
    fn wake_all(&self);
}

pub(crate) struct Monitor<T> {
    state: Mutex<T>,
    cv: Condvar,
}

/// How a wait ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum WaitEnd {
    Ready,
    TimedOut,
    Stopped,
}

impl<T> Monitor<T> {
    pub fn new(value: T) -> Self {
        Monitor {
            state: Mutex::new(value),
            cv: Condvar::new(),
        }
    }

    /// Lock the state. Primitives never run user code while holding it, so a
    /// poisoned lock can only come from a bug in this module; carry on anyway.
    pub fn lock(&self) -> MutexGuard<'_, T> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    pub fn notify_all(&self) {
        self.cv.notify_all();
    }

    /// Wait, holding `guard`, until `ready` says so, the deadline passes, or the
    /// lab (or this worker) is told to stop.
    pub fn wait_until<'a>(
        &'a self,
        guard: MutexGuard<'a, T>,
        lab: &LabShared,
        me: Option<&WorkerInner>,
        deadline: Option<Instant>,
        ready: impl FnMut(&mut T) -> bool + Send,
    ) -> (MutexGuard<'a, T>, WaitEnd)
    where
        T: Send,
    {
        if let (Some(gate), Some(me)) = (&lab.gate, me)
            && std::ptr::eq(Arc::as_ptr(&me.lab), lab)
        {
            return self.wait_gated(guard, gate, lab, me, deadline, ready);
        }
        self.wait_free(guard, lab, me, deadline, ready)
    }

    /// `wait_until` on the condition variable (Free mode).
    fn wait_free<'a>(
        &'a self,
        mut guard: MutexGuard<'a, T>,
        lab: &LabShared,
        me: Option<&WorkerInner>,
        deadline: Option<Instant>,
        mut ready: impl FnMut(&mut T) -> bool,
    ) -> (MutexGuard<'a, T>, WaitEnd) {
        loop {
            if ready(&mut guard) {
                return (guard, WaitEnd::Ready);
            }
            if lab.is_stopping() || me.is_some_and(|w| w.is_killed()) {
                return (guard, WaitEnd::Stopped);
            }
            match deadline {
                None => {
                    guard = self.cv.wait(guard).unwrap_or_else(PoisonError::into_inner);
                }
                Some(deadline) => {
                    let now = Instant::now();
                    if now >= deadline {
                        return (guard, WaitEnd::TimedOut);
                    }
                    guard = self
                        .cv
                        .wait_timeout(guard, deadline - now)
                        .unwrap_or_else(PoisonError::into_inner)
                        .0;
                }
            }
        }
    }
}

impl<T: Send> Monitor<T> {
    /// `wait_until` in a gated lab: instead of the condition variable, the
    /// gate parks the thread until the wait can end and the thread is picked
    /// (deadlines are on the gate's virtual clock).
    fn wait_gated<'a>(
        &'a self,
        mut guard: MutexGuard<'a, T>,
        gate: &Gate,
        lab: &LabShared,
        me: &WorkerInner,
        deadline: Option<Instant>,
        mut ready: impl FnMut(&mut T) -> bool + Send,
    ) -> (MutexGuard<'a, T>, WaitEnd) {
        loop {
            if ready(&mut guard) {
                return (guard, WaitEnd::Ready);
            }
            if lab.is_stopping() || me.is_killed() {
                return (guard, WaitEnd::Stopped);
            }
            if deadline.is_some_and(|d| lab.now() >= d) {
                return (guard, WaitEnd::TimedOut);
            }
            drop(guard);
            let mut check = || ready(&mut self.lock());
            let gated = gate.wait(me, deadline, &mut check);
            guard = self.lock();
            if !gated {
                // A thread the gate does not schedule (the lab is stopping):
                // wait as in Free mode.
                return self.wait_free(guard, lab, Some(me), deadline, ready);
            }
        }
    }
}

impl<T: Send> Wake for Monitor<T> {
    fn wake_all(&self) {
        // Taking the lock orders this wake after any waiter's check of the stop
        // flag, so no waiter can miss it.
        drop(self.lock());
        self.cv.notify_all();
    }
}
