//! `threading.Timer(interval, function)`: a thread that waits `interval`
//! seconds and then calls `function`, unless `cancel()` came first.

use std::sync::Arc;

use super::ResourceBase;
use crate::LabHandle;
use crate::error::{SyncError, SyncResult};
use crate::monitor::{Monitor, WaitEnd};
use crate::probe::ResourceKind;
use crate::state::State;
use crate::worker::{Ctx, StateScope, Thread, current};

struct Pending {
    cancelled: bool,
    fired: bool,
}

struct Core {
    base: ResourceBase,
    m: Arc<Monitor<Pending>>,
}

/// `threading.Timer`: create it, `start()` it, optionally `cancel()` it.
#[derive(Clone)]
pub struct Timer {
    core: Arc<Core>,
    thread: Thread,
}

impl Timer {
    /// A timer thread named `name` that calls `function` after `interval`
    /// scenario seconds (at once if it is zero or less, as in Python). Like
    /// Python, it is not started yet.
    pub fn new(
        lab: &LabHandle,
        name: &str,
        interval: f64,
        function: impl FnOnce(&Ctx) -> SyncResult<()> + Send + 'static,
    ) -> Timer {
        let base = ResourceBase::new(lab, name, ResourceKind::Timer, None);
        let m = Arc::new(Monitor::new(Pending {
            cancelled: false,
            fired: false,
        }));
        lab.0.register_waker(m.clone());
        let core = Arc::new(Core { base, m });
        let c = core.clone();
        let thread = lab.thread(name, false, move |ctx| {
            let me = current();
            let deadline = c.base.deadline_after(Some(interval));
            c.base.report(1, 0, None, None);
            let guard = c.m.lock();
            let (mut p, end) = {
                let _scope = StateScope::enter(me.as_deref(), State::Waiting, c.base.target());
                c.m.wait_until(guard, &c.base.lab, me.as_deref(), deadline, |p| p.cancelled)
            };
            match end {
                WaitEnd::Stopped => Err(SyncError::Stopped),
                WaitEnd::Ready => {
                    c.base.report(0, 0, None, None);
                    drop(p);
                    ctx.log(format!("{}: cancelled before it fired", ctx.name()));
                    Ok(())
                }
                WaitEnd::TimedOut => {
                    p.fired = true;
                    drop(p);
                    c.base.report(0, 0, None, None);
                    ctx.log(format!("{}: fired", ctx.name()));
                    function(ctx)
                }
            }
        });
        Timer { core, thread }
    }

    pub fn start(&self) -> SyncResult<()> {
        self.thread.start()
    }

    /// `cancel()`: stop the timer if it has not fired yet. Returns whether it
    /// was still pending (Python returns None; the answer helps the lab's views).
    pub fn cancel(&self) -> bool {
        let mut p = self.core.m.lock();
        if p.fired || p.cancelled {
            return false;
        }
        p.cancelled = true;
        self.core.m.notify_all();
        true
    }

    pub fn fired(&self) -> bool {
        self.core.m.lock().fired
    }

    pub fn thread(&self) -> &Thread {
        &self.thread
    }
}

impl LabHandle {
    /// `threading.Timer(interval, function)`, not started.
    pub fn timer(
        &self,
        name: &str,
        interval: f64,
        function: impl FnOnce(&Ctx) -> SyncResult<()> + Send + 'static,
    ) -> Timer {
        Timer::new(self, name, interval, function)
    }
}
