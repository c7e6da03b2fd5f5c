//! A named number plotted over time: how scenarios report produced, consumed,
//! expected and actual totals.

use std::sync::{Arc, Mutex, PoisonError};

use crate::probe::{CounterId, EventKind};
use crate::{LabHandle, LabShared};

struct Core {
    id: CounterId,
    /// A mutex, not an atomic: the report must leave in the order the values
    /// were made, or the recorder could end on a stale total.
    value: Mutex<i64>,
    lab: Arc<LabShared>,
}

#[derive(Clone)]
pub struct Counter(Arc<Core>);

impl Counter {
    pub fn new(lab: &LabHandle, name: &str) -> Counter {
        let lab = lab.0.clone();
        let id = lab.next_counter_id();
        lab.probe.emit(EventKind::CounterCreated {
            id,
            name: Arc::from(name),
        });
        Counter(Arc::new(Core {
            id,
            value: Mutex::new(0),
            lab,
        }))
    }

    /// Add `n` and report the new total; returns it.
    pub fn add(&self, n: i64) -> i64 {
        let mut v = self.0.value.lock().unwrap_or_else(PoisonError::into_inner);
        *v += n;
        self.0.lab.probe.emit(EventKind::Counter {
            id: self.0.id,
            value: *v,
        });
        *v
    }

    pub fn set(&self, value: i64) {
        let mut v = self.0.value.lock().unwrap_or_else(PoisonError::into_inner);
        *v = value;
        self.0.lab.probe.emit(EventKind::Counter {
            id: self.0.id,
            value,
        });
    }

    pub fn get(&self) -> i64 {
        *self.0.value.lock().unwrap_or_else(PoisonError::into_inner)
    }
}
