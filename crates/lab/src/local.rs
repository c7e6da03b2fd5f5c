//! `threading.local()`: one name, a separate value in every thread. Each
//! thread sees only what it stored itself; reading before storing is
//! Python's AttributeError.

use std::collections::HashMap;
use std::sync::{Arc, Weak};

use parking_lot::Mutex;

use super::LabHandle;
use super::error::{SyncError, SyncResult};
use crate::resource::ThreadKey;

thread_local! {
    /// Lives as long as the OS thread: a local's value for a thread that has
    /// ended is forgotten, as Python frees it when the thread ends.
    static ALIVE: Arc<()> = Arc::new(());
}

fn alive_token() -> Weak<()> {
    ALIVE.with(Arc::downgrade)
}

struct Slot<T> {
    value: T,
    alive: Weak<()>,
}

struct Core<T> {
    name: Arc<str>,
    values: Mutex<HashMap<ThreadKey, Slot<T>>>,
}

/// `threading.local()` holding one attribute: `local.get()` is
/// `mydata.attr`, `local.set(v)` is `mydata.attr = v`, in the calling
/// thread only. Cloning gives another handle to the same local.
pub struct Local<T>(Arc<Core<T>>);

impl<T> Clone for Local<T> {
    fn clone(&self) -> Self {
        Local(self.0.clone())
    }
}

impl<T: Clone + Send + 'static> Local<T> {
    /// A local named like the Python expression it stands for, e.g. "mydata.user".
    pub fn new(name: &str) -> Local<T> {
        Local(Arc::new(Core {
            name: Arc::from(name),
            values: Mutex::new(HashMap::new()),
        }))
    }

    pub fn name(&self) -> &str {
        &self.0.name
    }

    /// `mydata.attr = value` in the calling thread; other threads keep theirs.
    pub fn set(&self, value: T) {
        let mut values = self.0.values.lock();
        // Forget the values of threads that have ended.
        values.retain(|_, slot| slot.alive.strong_count() > 0);
        values.insert(
            ThreadKey::current(),
            Slot {
                value,
                alive: alive_token(),
            },
        );
    }

    /// `mydata.attr` in the calling thread: what this thread stored, or
    /// Python's AttributeError if it stored nothing (another thread's value
    /// is never seen).
    pub fn get(&self) -> SyncResult<T> {
        self.try_get().ok_or_else(|| {
            let attr = self.0.name.rsplit('.').next().unwrap_or(&self.0.name);
            SyncError::exception(
                "AttributeError",
                format!("'_thread._local' object has no attribute '{attr}'"),
            )
        })
    }

    /// `getattr(mydata, "attr", None)`.
    pub fn try_get(&self) -> Option<T> {
        self.0
            .values
            .lock()
            .get(&ThreadKey::current())
            .map(|slot| slot.value.clone())
    }

    /// `del mydata.attr` in the calling thread; AttributeError if unset.
    pub fn delete(&self) -> SyncResult<()> {
        let removed = self.0.values.lock().remove(&ThreadKey::current());
        match removed {
            Some(_) => Ok(()),
            None => self.get().map(|_| ()),
        }
    }

    /// How many threads hold a value now (ended threads' values are gone).
    pub fn threads_holding(&self) -> usize {
        self.0
            .values
            .lock()
            .values()
            .filter(|slot| slot.alive.strong_count() > 0)
            .count()
    }
}

impl LabHandle {
    /// `threading.local()` with one attribute, named like the Python
    /// expression ("mydata.user").
    pub fn local<T: Clone + Send + 'static>(&self, name: &str) -> Local<T> {
        Local::new(name)
    }
}
