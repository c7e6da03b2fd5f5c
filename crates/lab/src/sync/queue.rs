//! `queue.Queue(maxsize)`: FIFO; `put` blocks while full, `get` while empty;
//! non-blocking and timed variants raise Full/Empty; `task_done`/`join`; and,
//! beyond Python, a capacity that a live knob can change while it runs.

use std::collections::VecDeque;
use std::sync::Arc;

use super::ResourceBase;
use crate::LabHandle;
use crate::error::{SyncError, SyncResult};
use crate::gate::OpKind;
use crate::monitor::{Monitor, WaitEnd};
use crate::probe::ResourceKind;
use crate::state::State;
use crate::worker::{StateScope, current};

struct Items<T> {
    items: VecDeque<T>,
    /// 0 means unbounded, as in Python.
    maxsize: usize,
    putters: u32,
    getters: u32,
    unfinished: u64,
    joiners: u32,
}

impl<T> Items<T> {
    fn is_full(&self) -> bool {
        self.maxsize > 0 && self.items.len() >= self.maxsize
    }
}

struct Core<T> {
    base: ResourceBase,
    m: Arc<Monitor<Items<T>>>,
}

/// `queue.Queue`. Cloning gives another handle to the same queue.
pub struct Queue<T>(Arc<Core<T>>);

impl<T> Clone for Queue<T> {
    fn clone(&self) -> Self {
        Queue(self.0.clone())
    }
}

/// CPython 3.11's check on a blocking, timed `put`/`get`, made before it looks
/// at the items (the docs describe only positive timeouts). `put` makes it
/// only on a bounded queue: an unbounded one never reads its timeout.
fn check_timeout(timeout: Option<f64>) -> SyncResult<()> {
    match timeout {
        Some(t) if t < 0.0 => Err(SyncError::ValueError(
            "'timeout' must be a non-negative number".into(),
        )),
        _ => Ok(()),
    }
}

fn capacity(maxsize: usize) -> Option<i64> {
    (maxsize > 0).then_some(maxsize as i64)
}

impl<T: Send + 'static> Queue<T> {
    pub fn new(lab: &LabHandle, name: &str, maxsize: usize) -> Queue<T> {
        let base = ResourceBase::new(lab, name, ResourceKind::Queue, capacity(maxsize));
        let m = Arc::new(Monitor::new(Items {
            items: VecDeque::new(),
            maxsize,
            putters: 0,
            getters: 0,
            unfinished: 0,
            joiners: 0,
        }));
        lab.0.register_waker(m.clone());
        let core = Arc::new(Core { base, m });
        core.base.report(0, 0, capacity(maxsize), None);
        Queue(core)
    }

    fn report(&self, s: &Items<T>) {
        self.0.base.report(
            s.items.len() as i64,
            s.putters + s.getters + s.joiners,
            capacity(s.maxsize),
            None,
        );
    }

    fn put_inner(&self, item: T, blocking: bool, timeout: Option<f64>) -> SyncResult<()> {
        let me = current();
        let mut s = self.0.m.lock();
        if blocking && s.maxsize > 0 {
            check_timeout(timeout)?;
        }
        if s.is_full() {
            if !blocking {
                return Err(SyncError::Full);
            }
            let deadline = self.0.base.deadline_after(timeout);
            s.putters += 1;
            self.report(&s);
            let scope = StateScope::enter(me.as_deref(), State::Blocked, self.0.base.target());
            let (s2, end) =
                self.0
                    .m
                    .wait_until(s, &self.0.base.lab, me.as_deref(), deadline, |s| {
                        !s.is_full()
                    });
            s = s2;
            s.putters -= 1;
            match end {
                WaitEnd::Ready => {}
                WaitEnd::TimedOut => {
                    self.report(&s);
                    return Err(SyncError::Full);
                }
                WaitEnd::Stopped => {
                    self.report(&s);
                    return Err(SyncError::Stopped);
                }
            }
            s.items.push_back(item);
            s.unfinished += 1;
            if s.getters > 0 {
                self.0.m.notify_all();
            }
            self.report(&s);
            drop(s);
            drop(scope);
            return Ok(());
        }
        s.items.push_back(item);
        s.unfinished += 1;
        if s.getters > 0 {
            self.0.m.notify_all();
        }
        self.report(&s);
        Ok(())
    }

    fn get_inner(&self, blocking: bool, timeout: Option<f64>) -> SyncResult<T> {
        if blocking {
            check_timeout(timeout)?;
        }
        let me = current();
        let mut s = self.0.m.lock();
        if s.items.is_empty() {
            if !blocking {
                return Err(SyncError::Empty);
            }
            let deadline = self.0.base.deadline_after(timeout);
            s.getters += 1;
            self.report(&s);
            let scope = StateScope::enter(me.as_deref(), State::Blocked, self.0.base.target());
            let (s2, end) =
                self.0
                    .m
                    .wait_until(s, &self.0.base.lab, me.as_deref(), deadline, |s| {
                        !s.items.is_empty()
                    });
            s = s2;
            s.getters -= 1;
            let result = match end {
                WaitEnd::Ready => s.items.pop_front().ok_or(SyncError::Empty),
                WaitEnd::TimedOut => Err(SyncError::Empty),
                WaitEnd::Stopped => Err(SyncError::Stopped),
            };
            if s.putters > 0 {
                self.0.m.notify_all();
            }
            self.report(&s);
            drop(s);
            drop(scope);
            return result;
        }
        let item = s.items.pop_front().ok_or(SyncError::Empty);
        if s.putters > 0 {
            self.0.m.notify_all();
        }
        self.report(&s);
        item
    }

    /// `put(item)`: blocks while the queue is full.
    pub fn put(&self, item: T) -> SyncResult<()> {
        self.0.base.step(OpKind::Put, || "put(item)".into());
        self.put_inner(item, true, None)
    }

    /// `put_nowait(item)`: `Err(Full)` if there is no room.
    pub fn put_nowait(&self, item: T) -> SyncResult<()> {
        self.0.base.step(OpKind::Put, || "put_nowait(item)".into());
        self.put_inner(item, false, None)
    }

    /// `put(item, timeout=seconds)`: `Err(Full)` if no room came in time. A
    /// negative timeout is a ValueError, on a bounded queue only (as in
    /// CPython, even when there is room).
    pub fn put_timeout(&self, item: T, seconds: f64) -> SyncResult<()> {
        self.0.base.step(OpKind::Put, || {
            format!(
                "put(item, timeout={})",
                crate::knobs::format_number(seconds)
            )
        });
        self.put_inner(item, true, Some(seconds))
    }

    /// `get()`: blocks while the queue is empty.
    pub fn get(&self) -> SyncResult<T> {
        self.0.base.step(OpKind::Get, || "get()".into());
        self.get_inner(true, None)
    }

    /// `get_nowait()`: `Err(Empty)` if there is nothing.
    pub fn get_nowait(&self) -> SyncResult<T> {
        self.0.base.step(OpKind::Get, || "get_nowait()".into());
        self.get_inner(false, None)
    }

    /// `get(timeout=seconds)`: `Err(Empty)` if nothing came in time. A
    /// negative timeout is a ValueError (as in CPython, even when an item is there).
    pub fn get_timeout(&self, seconds: f64) -> SyncResult<T> {
        self.0.base.step(OpKind::Get, || {
            super::call_with_timeout("get", Some(seconds))
        });
        self.get_inner(true, Some(seconds))
    }

    /// `task_done()`: a ValueError if called more times than items were put.
    pub fn task_done(&self) -> SyncResult<()> {
        let mut s = self.0.m.lock();
        if s.unfinished == 0 {
            return Err(SyncError::ValueError(
                "task_done() called too many times".into(),
            ));
        }
        s.unfinished -= 1;
        if s.unfinished == 0 {
            self.0.m.notify_all();
        }
        Ok(())
    }

    /// `join()`: wait until every item put has been marked `task_done`.
    pub fn join(&self) -> SyncResult<()> {
        self.0.base.step(OpKind::Join, || "join()".into());
        let me = current();
        let mut s = self.0.m.lock();
        if s.unfinished == 0 {
            return Ok(());
        }
        s.joiners += 1;
        self.report(&s);
        let scope = StateScope::enter(me.as_deref(), State::Waiting, self.0.base.target());
        let (mut s, end) = self
            .0
            .m
            .wait_until(s, &self.0.base.lab, me.as_deref(), None, |s| {
                s.unfinished == 0
            });
        s.joiners -= 1;
        self.report(&s);
        drop(s);
        drop(scope);
        match end {
            WaitEnd::Stopped => Err(SyncError::Stopped),
            _ => Ok(()),
        }
    }

    /// `qsize()`.
    pub fn qsize(&self) -> usize {
        self.0.m.lock().items.len()
    }

    /// `empty()`.
    pub fn empty(&self) -> bool {
        self.0.m.lock().items.is_empty()
    }

    /// `full()`.
    pub fn full(&self) -> bool {
        self.0.m.lock().is_full()
    }

    /// `maxsize`.
    pub fn maxsize(&self) -> usize {
        self.0.m.lock().maxsize
    }

    /// Change the capacity while running. Lowering it below the current depth
    /// keeps the items; puts block until the depth falls below the new size.
    pub fn set_maxsize(&self, maxsize: usize) {
        let mut s = self.0.m.lock();
        if s.maxsize != maxsize {
            s.maxsize = maxsize;
            self.0.m.notify_all();
            self.report(&s);
        }
    }

    pub fn name(&self) -> &str {
        &self.0.base.name
    }
}
