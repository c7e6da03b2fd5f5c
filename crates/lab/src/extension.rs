//! Per-lab state of the layers above the core, and the hooks through which
//! they take part in the lab's life.
//!
//! The core (`lib.rs`) must stop child processes before it wakes its threads,
//! tell them a new speed or knob, and run `concurrent.futures`' and
//! `multiprocessing`'s exit steps at Python's exit. It does so through
//! [`Extension`] without naming `process/` or `futures/`: each registers
//! itself the first time a lab uses it ([`Extensions::get`]), so a lab that
//! never starts a child or an executor has no hook to call.

use std::any::Any;
use std::sync::Arc;
use std::time::Instant;

use parking_lot::Mutex;

use crate::SyncResult;

/// What a layer above the core keeps per lab. Every hook has a default that
/// does nothing.
pub(crate) trait Extension: Any + Send + Sync {
    /// At Stop, before any lab thread is woken. Returns how many of its
    /// things (child processes) were still alive at `deadline`.
    fn stop(&self, _deadline: Instant) -> usize {
        0
    }

    /// The lab's speed changed.
    fn speed_changed(&self, _speed: f64) {}

    /// A knob changed.
    fn knob_changed(&self, _name: &str, _value: f64) {}

    /// Python's exit, before the non-daemon threads are joined (where
    /// `threading._shutdown` runs `concurrent.futures`' `_python_exit`).
    fn exit_before_join(&self) -> SyncResult<()> {
        Ok(())
    }

    /// Python's exit, after the non-daemon threads are joined and before
    /// the `atexit` calls (`multiprocessing`'s exit function).
    fn exit_after_join(&self) -> SyncResult<()> {
        Ok(())
    }
}

/// The extensions one lab has, at most one of each type.
#[derive(Default)]
pub(crate) struct Extensions(Mutex<Vec<Arc<dyn Extension>>>);

impl Extensions {
    /// This lab's `T`, made (and its hooks registered) on first use.
    pub(crate) fn get<T: Extension + Default>(&self) -> Arc<T> {
        let mut list = self.0.lock();
        for e in list.iter() {
            let any: Arc<dyn Any + Send + Sync> = e.clone();
            if let Ok(t) = any.downcast::<T>() {
                return t;
            }
        }
        let t = Arc::new(T::default());
        list.push(t.clone());
        t
    }

    /// The extensions registered so far, in order of registration. A copy,
    /// so a hook may use the lab (and register another) while it runs.
    pub(crate) fn all(&self) -> Vec<Arc<dyn Extension>> {
        self.0.lock().clone()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    #[derive(Default)]
    struct Counted(AtomicUsize);
    impl Extension for Counted {}

    #[derive(Default)]
    struct Other;
    impl Extension for Other {}

    #[test]
    fn one_of_each_type_made_on_first_use() {
        let ext = Extensions::default();
        assert!(ext.all().is_empty());
        ext.get::<Counted>().0.fetch_add(1, Ordering::Relaxed);
        ext.get::<Counted>().0.fetch_add(1, Ordering::Relaxed);
        ext.get::<Other>();
        assert_eq!(ext.get::<Counted>().0.load(Ordering::Relaxed), 2);
        assert_eq!(ext.all().len(), 2);
    }
}
