//! asyncio's synchronisation primitives and queue: ports of CPython 3.11's
//! `asyncio.Lock`, `Semaphore`, `Event` and `Queue`. Their waiters are
//! futures in a FIFO, woken by setting a result, so the woken task runs on
//! the next turn of the loop, in line. Each reports itself as a resource.

use std::cell::{Cell, RefCell};
use std::collections::VecDeque;
use std::rc::Rc;

use super::combine::Getters;
use super::core::{Fut, Wait, running_loop};
use super::{Exc, PyResult};
use crate::LabHandle;
use crate::probe::ResourceKind;
use crate::state::State;
use crate::sync::ResourceBase;

fn resource(name: &str, kind: ResourceKind, capacity: Option<i64>) -> Option<ResourceBase> {
    let lp = running_loop();
    lp.lanes
        .is_on()
        .then(|| ResourceBase::new(&LabHandle(lp.lab.clone()), name, kind, capacity))
}

fn remove(waiters: &RefCell<VecDeque<Fut<()>>>, f: &Fut<()>) {
    let mut ws = waiters.borrow_mut();
    if let Some(i) = ws.iter().position(|w| w.ptr_eq(f)) {
        ws.remove(i);
    }
}

struct LockCore {
    locked: Cell<bool>,
    waiters: RefCell<VecDeque<Fut<()>>>,
    res: Option<ResourceBase>,
}

/// `asyncio.Lock()`: not owned by a task; `release()` by anyone.
#[derive(Clone)]
pub struct Lock(Rc<LockCore>);

impl Lock {
    pub fn new(name: &str) -> Lock {
        let lock = Lock(Rc::new(LockCore {
            locked: Cell::new(false),
            waiters: RefCell::new(VecDeque::new()),
            res: resource(name, ResourceKind::Lock, Some(1)),
        }));
        lock.report();
        lock
    }

    fn report(&self) {
        if let Some(r) = &self.0.res {
            r.report(
                i64::from(self.0.locked.get()),
                self.0.waiters.borrow().len() as u32,
                Some(1),
                None,
            );
        }
    }

    pub fn locked(&self) -> bool {
        self.0.locked.get()
    }

    /// `await lock.acquire()`.
    pub async fn acquire(&self) -> PyResult<()> {
        let free = !self.0.locked.get() && self.0.waiters.borrow().iter().all(Fut::cancelled);
        if free {
            self.0.locked.set(true);
            self.report();
            return Ok(());
        }
        let fut = Fut::<()>::new();
        self.0.waiters.borrow_mut().push_back(fut.clone());
        self.report();
        let r = fut
            .wait(Wait::on(State::Blocked, self.0.res.as_ref()))
            .await;
        remove(&self.0.waiters, &fut);
        if let Err(e) = r {
            if e.is_cancelled() && !self.0.locked.get() {
                self.wake_up_first();
            }
            self.report();
            return Err(e);
        }
        self.0.locked.set(true);
        self.report();
        Ok(())
    }

    /// `lock.release()`: RuntimeError if it is not locked.
    pub fn release(&self) -> PyResult<()> {
        if !self.0.locked.get() {
            return Err(Exc::runtime_error("Lock is not acquired."));
        }
        self.0.locked.set(false);
        self.wake_up_first();
        self.report();
        Ok(())
    }

    fn wake_up_first(&self) {
        let first = self.0.waiters.borrow().front().cloned();
        if let Some(f) = first
            && !f.done()
        {
            f.set(Ok(()));
        }
    }

    /// `async with lock:` — the guard releases it when dropped.
    pub async fn hold(&self) -> PyResult<LockGuard> {
        self.acquire().await?;
        Ok(LockGuard(self.clone()))
    }
}

/// Held by `async with lock:`; releases the lock when dropped.
pub struct LockGuard(Lock);

impl Drop for LockGuard {
    fn drop(&mut self) {
        let _ = self.0.release();
    }
}

struct SemCore {
    value: Cell<i64>,
    initial: i64,
    waiters: RefCell<VecDeque<Fut<()>>>,
    res: Option<ResourceBase>,
}

/// `asyncio.Semaphore(value)`.
#[derive(Clone)]
pub struct Semaphore(Rc<SemCore>);

impl Semaphore {
    /// A ValueError for a negative value, as in Python.
    pub fn new(name: &str, value: i64) -> PyResult<Semaphore> {
        if value < 0 {
            return Err(Exc::value_error("Semaphore initial value must be >= 0"));
        }
        let s = Semaphore(Rc::new(SemCore {
            value: Cell::new(value),
            initial: value,
            waiters: RefCell::new(VecDeque::new()),
            res: resource(name, ResourceKind::Semaphore, Some(value)),
        }));
        s.report();
        Ok(s)
    }

    fn report(&self) {
        if let Some(r) = &self.0.res {
            r.report(
                self.0.value.get(),
                self.0.waiters.borrow().len() as u32,
                Some(self.0.initial),
                None,
            );
        }
    }

    /// `locked()`: whether an acquire would wait.
    pub fn locked(&self) -> bool {
        self.0.value.get() == 0 || self.0.waiters.borrow().iter().any(|w| !w.cancelled())
    }

    /// The free permits (the counter).
    pub fn value(&self) -> i64 {
        self.0.value.get()
    }

    /// `await sem.acquire()`.
    pub async fn acquire(&self) -> PyResult<()> {
        if !self.locked() {
            self.0.value.set(self.0.value.get() - 1);
            self.report();
            return Ok(());
        }
        let fut = Fut::<()>::new();
        self.0.waiters.borrow_mut().push_back(fut.clone());
        self.report();
        let r = fut
            .wait(Wait::on(State::Blocked, self.0.res.as_ref()))
            .await;
        remove(&self.0.waiters, &fut);
        if let Err(e) = r {
            if e.is_cancelled() && !fut.cancelled() {
                // Woken with a permit, but leaving: hand it on.
                self.0.value.set(self.0.value.get() + 1);
                self.wake_up_next();
            }
            self.report();
            return Err(e);
        }
        if self.0.value.get() > 0 {
            self.wake_up_next();
        }
        self.report();
        Ok(())
    }

    /// `sem.release()`.
    pub fn release(&self) {
        self.0.value.set(self.0.value.get() + 1);
        self.wake_up_next();
        self.report();
    }

    fn wake_up_next(&self) {
        let waiters: Vec<Fut<()>> = self.0.waiters.borrow().iter().cloned().collect();
        for f in waiters {
            if !f.done() {
                self.0.value.set(self.0.value.get() - 1);
                f.set(Ok(()));
                return;
            }
        }
    }
}

struct EventCore {
    value: Cell<bool>,
    waiters: RefCell<VecDeque<Fut<()>>>,
    res: Option<ResourceBase>,
}

/// `asyncio.Event()`: `set()` wakes every waiter.
#[derive(Clone)]
pub struct Event(Rc<EventCore>);

impl Event {
    pub fn new(name: &str) -> Event {
        let e = Event::with_resource(resource(name, ResourceKind::Event, None));
        e.report();
        e
    }

    fn with_resource(res: Option<ResourceBase>) -> Event {
        Event(Rc::new(EventCore {
            value: Cell::new(false),
            waiters: RefCell::new(VecDeque::new()),
            res,
        }))
    }

    fn report(&self) {
        if let Some(r) = &self.0.res {
            r.report(
                i64::from(self.0.value.get()),
                self.0.waiters.borrow().len() as u32,
                None,
                None,
            );
        }
    }

    pub fn is_set(&self) -> bool {
        self.0.value.get()
    }

    pub fn set(&self) {
        if !self.0.value.get() {
            self.0.value.set(true);
            let waiters: Vec<Fut<()>> = self.0.waiters.borrow().iter().cloned().collect();
            for f in waiters {
                if !f.done() {
                    f.set(Ok(()));
                }
            }
            self.report();
        }
    }

    pub fn clear(&self) {
        self.0.value.set(false);
        self.report();
    }

    /// `await event.wait()`.
    pub async fn wait(&self) -> PyResult<()> {
        if self.0.value.get() {
            return Ok(());
        }
        let fut = Fut::<()>::new();
        self.0.waiters.borrow_mut().push_back(fut.clone());
        self.report();
        let r = fut
            .wait(Wait::on(State::Waiting, self.0.res.as_ref()))
            .await;
        remove(&self.0.waiters, &fut);
        self.report();
        r
    }
}

struct QueueCore<T> {
    items: RefCell<VecDeque<T>>,
    maxsize: usize,
    getters: Getters,
    putters: Getters,
    unfinished: Cell<u64>,
    finished: Event,
    res: Option<ResourceBase>,
}

/// `asyncio.Queue(maxsize)`; 0 is unbounded.
pub struct Queue<T>(Rc<QueueCore<T>>);

impl<T> Clone for Queue<T> {
    fn clone(&self) -> Self {
        Queue(self.0.clone())
    }
}

impl<T: 'static> Queue<T> {
    pub fn new(name: &str, maxsize: usize) -> Queue<T> {
        let capacity = (maxsize > 0).then_some(maxsize as i64);
        let finished = Event::with_resource(None);
        finished.set();
        let q = Queue(Rc::new(QueueCore {
            items: RefCell::new(VecDeque::new()),
            maxsize,
            getters: Getters::new(),
            putters: Getters::new(),
            unfinished: Cell::new(0),
            finished,
            res: resource(name, ResourceKind::Queue, capacity),
        }));
        q.report();
        q
    }

    fn report(&self) {
        if let Some(r) = &self.0.res {
            r.report(
                self.0.items.borrow().len() as i64,
                (self.0.getters.len() + self.0.putters.len()) as u32,
                (self.0.maxsize > 0).then_some(self.0.maxsize as i64),
                None,
            );
        }
    }

    pub fn qsize(&self) -> usize {
        self.0.items.borrow().len()
    }

    pub fn empty(&self) -> bool {
        self.0.items.borrow().is_empty()
    }

    pub fn full(&self) -> bool {
        self.0.maxsize > 0 && self.qsize() >= self.0.maxsize
    }

    /// Wait in `line` while `blocked()`, as CPython's `put` and `get` do: a
    /// waiter that fails (cancelled) leaves the line, and passes its turn on
    /// to the next if the way is clear and it had been woken.
    async fn wait_in_line(&self, line: &Getters, blocked: impl Fn() -> bool) -> PyResult<()> {
        while blocked() {
            let waiter = Fut::<()>::new();
            line.push(waiter.clone());
            self.report();
            let r = waiter
                .wait(Wait::on(State::Blocked, self.0.res.as_ref()))
                .await;
            if let Err(e) = r {
                waiter.0.cancel();
                line.remove(&waiter);
                if !blocked() && !waiter.cancelled() {
                    line.wake_next();
                }
                self.report();
                return Err(e);
            }
        }
        Ok(())
    }

    /// `await queue.put(item)`: waits while the queue is full.
    pub async fn put(&self, item: T) -> PyResult<()> {
        self.wait_in_line(&self.0.putters, || self.full()).await?;
        self.put_nowait(item)
    }

    /// `queue.put_nowait(item)`: QueueFull if there is no room.
    pub fn put_nowait(&self, item: T) -> PyResult<()> {
        if self.full() {
            return Err(Exc::Raised {
                kind: "asyncio.QueueFull".into(),
                message: String::new(),
            });
        }
        self.0.items.borrow_mut().push_back(item);
        self.0.unfinished.set(self.0.unfinished.get() + 1);
        self.0.finished.clear();
        self.0.getters.wake_next();
        self.report();
        Ok(())
    }

    /// `await queue.get()`: waits while the queue is empty.
    pub async fn get(&self) -> PyResult<T> {
        self.wait_in_line(&self.0.getters, || self.empty()).await?;
        self.get_nowait()
    }

    /// `queue.get_nowait()`: QueueEmpty if there is nothing.
    pub fn get_nowait(&self) -> PyResult<T> {
        let item = self.0.items.borrow_mut().pop_front();
        let Some(item) = item else {
            return Err(Exc::Raised {
                kind: "asyncio.QueueEmpty".into(),
                message: String::new(),
            });
        };
        self.0.putters.wake_next();
        self.report();
        Ok(item)
    }

    /// `queue.task_done()`.
    pub fn task_done(&self) -> PyResult<()> {
        let n = self.0.unfinished.get();
        if n == 0 {
            return Err(Exc::value_error("task_done() called too many times"));
        }
        self.0.unfinished.set(n - 1);
        if n == 1 {
            self.0.finished.set();
        }
        Ok(())
    }

    /// `await queue.join()`: until every item put has been marked done.
    pub async fn join(&self) -> PyResult<()> {
        if self.0.unfinished.get() > 0 {
            self.0.finished.wait().await?;
        }
        Ok(())
    }
}
