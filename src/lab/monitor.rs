//! The one blocking mechanism every primitive is built on: a mutex-protected
//! state and a condition variable that the lab can wake when it stops.

use std::sync::{Condvar, Mutex, MutexGuard, PoisonError};
use std::time::Instant;

use super::LabShared;
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

impl<T: Send> Wake for Monitor<T> {
    fn wake_all(&self) {
        // Taking the lock orders this wake after any waiter's check of the stop
        // flag, so no waiter can miss it.
        drop(self.lock());
        self.cv.notify_all();
    }
}
