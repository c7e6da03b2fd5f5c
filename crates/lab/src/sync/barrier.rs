//! `threading.Barrier(parties, action, timeout)`: each `wait` blocks until
//! `parties` threads have arrived, then all leave together; the action runs
//! once per generation, in the last thread to arrive, before any leaves; a
//! timeout, `abort`, or an exception in the action breaks it.

use crate::gate::OpKind;
use std::sync::Arc;

use super::ResourceBase;
use crate::LabHandle;
use crate::error::{SyncError, SyncResult};
use crate::monitor::{Monitor, WaitEnd};
use crate::probe::ResourceKind;
use crate::state::State;
use crate::worker::{StateScope, current};

/// A barrier's `action`: called with no arguments, as in Python. An error it
/// returns breaks the barrier and is raised in the thread that ran it.
pub type BarrierAction = Arc<dyn Fn() -> SyncResult<()> + Send + Sync>;

struct Gate {
    parties: usize,
    arrived: usize,
    /// Bumped each time the barrier releases, so waiters know.
    generation: u64,
    /// Bumped by `reset()`, which breaks the current waiters' wait.
    resets: u64,
    broken: bool,
    /// The last party is running the action: nobody has been released yet,
    /// and arrivals for the next generation wait until it is done.
    acting: bool,
}

struct Core {
    base: ResourceBase,
    m: Arc<Monitor<Gate>>,
    action: Option<BarrierAction>,
    /// What a `wait()` without a timeout uses.
    timeout: Option<f64>,
}

#[derive(Clone)]
pub struct Barrier(Arc<Core>);

impl Barrier {
    /// `Barrier(parties)`. Zero parties is a ValueError: CPython 3.11 accepts
    /// it and its every wait can only time out (or hang), but newer CPython
    /// refuses it (gh-121474), with this message since gh-129403.
    pub fn new(lab: &LabHandle, name: &str, parties: usize) -> SyncResult<Barrier> {
        Self::with_action(lab, name, parties, None, None)
    }

    /// `Barrier(parties, action=None, timeout=None)`.
    pub fn with_action(
        lab: &LabHandle,
        name: &str,
        parties: usize,
        action: Option<BarrierAction>,
        timeout: Option<f64>,
    ) -> SyncResult<Barrier> {
        if parties < 1 {
            return Err(SyncError::ValueError("parties must be >= 1".into()));
        }
        let base = ResourceBase::new(lab, name, ResourceKind::Barrier, Some(parties as i64));
        let m = Arc::new(Monitor::new(Gate {
            parties,
            arrived: 0,
            generation: 0,
            resets: 0,
            broken: false,
            acting: false,
        }));
        lab.0.register_waker(m.clone());
        let core = Arc::new(Core {
            base,
            m,
            action,
            timeout,
        });
        core.base.report(0, 0, Some(parties as i64), None);
        Ok(Barrier(core))
    }

    fn report(&self, g: &Gate) {
        self.0.base.report(
            g.arrived as i64,
            g.arrived as u32,
            Some(g.parties as i64),
            None,
        );
    }

    /// `wait(timeout=None)`: returns this thread's arrival index (0 to
    /// parties-1); without a timeout, the barrier's own applies. A timeout
    /// breaks the barrier for everyone: BrokenBarrier. So does one of zero
    /// or less, at once, unless this is the last party (as in Python).
    pub fn wait(&self, timeout: Option<f64>) -> SyncResult<usize> {
        self.0
            .base
            .step(OpKind::Wait, || super::call_with_timeout("wait", timeout));
        let me = current();
        let deadline = self.0.base.deadline_after(timeout.or(self.0.timeout));
        let mut g = self.0.m.lock();
        if g.acting {
            // CPython's arrivals queue behind the action (it holds the
            // barrier's lock) and join the next generation.
            let _scope = StateScope::enter(me.as_deref(), State::Waiting, self.0.base.target());
            let (g2, end) = self
                .0
                .m
                .wait_until(g, &self.0.base.lab, me.as_deref(), None, |g| !g.acting);
            g = g2;
            if end == WaitEnd::Stopped {
                return Err(SyncError::Stopped);
            }
        }
        if g.broken {
            return Err(SyncError::BrokenBarrier);
        }
        let index = g.arrived;
        g.arrived += 1;
        if g.arrived >= g.parties {
            return self.release(g, index);
        }
        self.report(&g);
        let generation = g.generation;
        let resets = g.resets;
        let scope = StateScope::enter(me.as_deref(), State::Waiting, self.0.base.target());
        let ready = |g: &mut Gate| g.generation != generation || g.broken || g.resets != resets;
        let (mut g, mut end) =
            self.0
                .m
                .wait_until(g, &self.0.base.lab, me.as_deref(), deadline, ready);
        if end == WaitEnd::TimedOut && g.acting {
            // A CPython waiter cannot give up while the action runs: it needs
            // the barrier's lock to, and the release comes first.
            (g, end) = self
                .0
                .m
                .wait_until(g, &self.0.base.lab, me.as_deref(), None, ready);
        }
        let result = match end {
            // reset() already emptied the barrier.
            WaitEnd::Ready if g.resets != resets => Err(SyncError::BrokenBarrier),
            WaitEnd::Ready if g.generation != generation => Ok(index),
            WaitEnd::Ready => {
                g.arrived = g.arrived.saturating_sub(1);
                Err(SyncError::BrokenBarrier)
            }
            WaitEnd::TimedOut => {
                g.broken = true;
                g.arrived = g.arrived.saturating_sub(1);
                self.0.m.notify_all();
                Err(SyncError::BrokenBarrier)
            }
            WaitEnd::Stopped => {
                g.arrived = g.arrived.saturating_sub(1);
                Err(SyncError::Stopped)
            }
        };
        self.report(&g);
        drop(g);
        drop(scope);
        result
    }

    /// The last party has arrived: run the action (outside the monitor: it
    /// is the program's code, and may sleep or log), then let everyone go.
    fn release<'a>(
        &'a self,
        mut g: std::sync::MutexGuard<'a, Gate>,
        index: usize,
    ) -> SyncResult<usize> {
        if let Some(action) = &self.0.action {
            g.acting = true;
            self.report(&g);
            drop(g);
            let outcome = action();
            g = self.0.m.lock();
            g.acting = false;
            if let Err(e) = outcome {
                // CPython's _release: the action raised, so the barrier
                // breaks (every waiter gets BrokenBarrierError) and the
                // exception goes on in this thread.
                g.broken = true;
                g.arrived = g.arrived.saturating_sub(1);
                self.0.m.notify_all();
                self.report(&g);
                return Err(e);
            }
        }
        g.arrived = 0;
        g.generation += 1;
        self.0.m.notify_all();
        self.report(&g);
        Ok(index)
    }

    /// `abort()`: break the barrier; current and future waits fail. (During
    /// an action it takes effect after that generation's release, as in
    /// CPython, where abort waits for the barrier's lock.)
    pub fn abort(&self) {
        let mut g = self.0.m.lock();
        g.broken = true;
        self.0.m.notify_all();
        self.report(&g);
    }

    /// `reset()`: back to empty and unbroken; threads waiting now get BrokenBarrier.
    pub fn reset(&self) {
        let mut g = self.0.m.lock();
        g.arrived = 0;
        g.broken = false;
        g.resets += 1;
        self.0.m.notify_all();
        self.report(&g);
    }

    /// `broken`.
    pub fn broken(&self) -> bool {
        self.0.m.lock().broken
    }

    /// `n_waiting`.
    pub fn n_waiting(&self) -> usize {
        self.0.m.lock().arrived
    }

    /// `parties`.
    pub fn parties(&self) -> usize {
        self.0.m.lock().parties
    }
}
