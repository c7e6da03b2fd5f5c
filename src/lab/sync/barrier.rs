//! `threading.Barrier(parties)`: each `wait` blocks until `parties` threads have
//! arrived, then all leave together; a timeout or `abort` breaks it.

use std::sync::Arc;

use super::ResourceBase;
use crate::lab::LabHandle;
use crate::lab::error::{SyncError, SyncResult};
use crate::lab::monitor::{Monitor, WaitEnd};
use crate::lab::probe::ResourceKind;
use crate::lab::state::State;
use crate::lab::worker::{StateScope, current};

struct Gate {
    parties: usize,
    arrived: usize,
    /// Bumped each time the barrier releases, so waiters know.
    generation: u64,
    /// Bumped by `reset()`, which breaks the current waiters' wait.
    resets: u64,
    broken: bool,
}

struct Core {
    base: ResourceBase,
    m: Arc<Monitor<Gate>>,
}

#[derive(Clone)]
pub struct Barrier(Arc<Core>);

impl Barrier {
    /// `Barrier(parties)`. Zero parties is a ValueError: CPython 3.11 accepts
    /// it and its every wait can only time out (or hang), but newer CPython
    /// refuses it (gh-121474), with this message since gh-129403.
    pub fn new(lab: &LabHandle, name: &str, parties: usize) -> SyncResult<Barrier> {
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
        }));
        lab.0.register_waker(m.clone());
        let core = Arc::new(Core { base, m });
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
    /// parties-1). A timeout breaks the barrier for everyone: BrokenBarrier.
    /// So does one of zero or less, at once, unless this is the last party
    /// (as in Python).
    pub fn wait(&self, timeout: Option<f64>) -> SyncResult<usize> {
        let me = current();
        let mut g = self.0.m.lock();
        if g.broken {
            return Err(SyncError::BrokenBarrier);
        }
        let index = g.arrived;
        g.arrived += 1;
        if g.arrived >= g.parties {
            g.arrived = 0;
            g.generation += 1;
            self.0.m.notify_all();
            self.report(&g);
            return Ok(index);
        }
        self.report(&g);
        let generation = g.generation;
        let resets = g.resets;
        let deadline = self.0.base.deadline_after(timeout);
        let scope = StateScope::enter(me.as_deref(), State::Waiting, self.0.base.target());
        let (mut g, end) = self
            .0
            .m
            .wait_until(g, &self.0.base.lab, me.as_deref(), deadline, |g| {
                g.generation != generation || g.broken || g.resets != resets
            });
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

    /// `abort()`: break the barrier; current and future waits fail.
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
