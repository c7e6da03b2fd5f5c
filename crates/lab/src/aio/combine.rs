//! Waiting on several tasks, and on time: ports of CPython 3.11's `gather`,
//! `wait_for`, `wait`, `as_completed` and `timeout()`, built (as there) on
//! futures and done callbacks, so a result arrives after as many turns of
//! the loop as in CPython.

use std::cell::{Cell, RefCell};
use std::collections::{HashSet, VecDeque};
use std::future::Future;
use std::rc::Rc;

use super::core::{
    AnyFut, Await, CancelOnDrop, CbId, Fut, FutCore, Task, TimerHandle, TypedFut, Wait,
    running_loop,
};
use super::{Exc, PyResult};
use crate::state::State;
use crate::sync::ResourceBase;

/// How the resource of a combinator is named: its tasks, the first few.
fn tasks_label<T: Clone + 'static>(what: &str, tasks: &[Task<T>], extra: &str) -> String {
    let mut names: Vec<&str> = tasks.iter().take(3).map(Task::name).collect();
    if tasks.len() > 3 {
        names.push("…");
    }
    format!("{what}({}{extra})", names.join(", "))
}

/// `_GatheringFuture`: done when every child is (or, without
/// `return_exceptions`, at the first exception); cancelling it cancels the
/// children.
struct GatherOuter<T> {
    core: FutCore<Vec<PyResult<T>>>,
    children: Vec<Task<T>>,
    cancel_requested: Cell<bool>,
    resource: Option<ResourceBase>,
}

impl<T: Clone + 'static> AnyFut for GatherOuter<T> {
    fn cancel(&self) -> bool {
        if self.core.done() {
            return false;
        }
        let mut ret = false;
        for child in &self.children {
            if child.cancel() {
                ret = true;
            }
        }
        if ret {
            self.cancel_requested.set(true);
        }
        ret
    }
    fn add_done_callback(&self, cb: super::core::Callback) -> CbId {
        self.core.add_done_callback(cb)
    }
}

impl<T: Clone + 'static> TypedFut<Vec<PyResult<T>>> for GatherOuter<T> {
    fn result(&self) -> Option<PyResult<Vec<PyResult<T>>>> {
        self.core.result()
    }
}

impl<T> GatherOuter<T> {
    fn report_done(&self) {
        if let Some(r) = &self.resource {
            r.report(1, 0, None, None);
        }
    }
}

fn gather_outer<T: Clone + 'static>(
    tasks: Vec<Task<T>>,
    return_exceptions: bool,
) -> Rc<GatherOuter<T>> {
    let lp = running_loop();
    let resource = if tasks.is_empty() {
        None
    } else {
        lp.future_resource(&tasks_label("gather", &tasks, ""))
    };
    let outer = Rc::new(GatherOuter {
        core: FutCore::new(),
        children: tasks,
        cancel_requested: Cell::new(false),
        resource,
    });
    if outer.children.is_empty() {
        outer.core.set(Ok(Vec::new()));
        return outer;
    }
    let mut seen = HashSet::new();
    let nfuts = outer
        .children
        .iter()
        .filter(|c| seen.insert(c.id()))
        .count();
    let nfinished = Rc::new(Cell::new(0usize));
    let mut registered = HashSet::new();
    for child in &outer.children {
        if !registered.insert(child.id()) {
            continue;
        }
        let weak = Rc::downgrade(&outer);
        let child2 = child.clone();
        let nfinished = nfinished.clone();
        child.add_done_callback(Box::new(move || {
            // _done_callback(fut)
            nfinished.set(nfinished.get() + 1);
            let Some(outer) = weak.upgrade() else {
                return;
            };
            if outer.core.done() {
                return;
            }
            if !return_exceptions {
                if child2.cancelled() {
                    outer.core.set(Err(Exc::Cancelled));
                    outer.report_done();
                    return;
                }
                if let Some(e) = child2.exception() {
                    outer.core.set(Err(e));
                    outer.report_done();
                    return;
                }
            }
            if nfinished.get() == nfuts {
                let results: Vec<PyResult<T>> = outer
                    .children
                    .iter()
                    .map(|c| c.result().unwrap_or(Err(Exc::Cancelled)))
                    .collect();
                if outer.cancel_requested.get() {
                    outer.core.set(Err(Exc::Cancelled));
                } else {
                    outer.core.set(Ok(results));
                }
                outer.report_done();
            }
        }));
    }
    outer
}

fn await_outer<T: Clone + 'static>(outer: &Rc<GatherOuter<T>>) -> Await<Vec<PyResult<T>>> {
    let wait = Wait::on(State::Waiting, outer.resource.as_ref());
    Await::new(outer.clone(), wait)
}

/// `await asyncio.gather(*tasks)`: the results in the order of the
/// arguments, whatever order they finish in; the first exception is raised
/// at once (the other tasks go on running).
pub async fn gather<T: Clone + 'static>(tasks: Vec<Task<T>>) -> PyResult<Vec<T>> {
    let outer = gather_outer(tasks, false);
    let results = await_outer(&outer).await?;
    results.into_iter().collect()
}

/// `await asyncio.gather(*tasks, return_exceptions=True)`: each task's
/// result or exception, in the order of the arguments.
pub async fn gather_return_exceptions<T: Clone + 'static>(
    tasks: Vec<Task<T>>,
) -> PyResult<Vec<PyResult<T>>> {
    let outer = gather_outer(tasks, true);
    await_outer(&outer).await
}

fn release_waiter(waiter: &Fut<()>) {
    if !waiter.done() {
        waiter.set(Ok(()));
    }
}

/// `_cancel_and_wait(fut)`: cancel it and wait until it is done.
async fn cancel_and_wait<T: Clone + 'static>(task: &Task<T>) -> PyResult<()> {
    let waiter = Fut::<()>::new();
    let w = waiter.clone();
    let cb = task.add_done_callback(Box::new(move || release_waiter(&w)));
    task.cancel();
    let r = waiter.wait(Wait::on_task(task.id())).await;
    task.remove_done_callback(cb);
    r
}

/// `await asyncio.wait_for(task, timeout)`: its result, or, when the
/// timeout (scenario seconds) comes first, the task is cancelled, its
/// cancellation awaited, and TimeoutError raised. `None` waits for ever.
pub async fn wait_for<T: Clone + 'static>(task: Task<T>, timeout: Option<f64>) -> PyResult<T> {
    let lp = running_loop();
    let Some(timeout) = timeout else {
        return (&task).await;
    };
    let finished = |task: &Task<T>| -> PyResult<T> {
        match task.result() {
            Some(Err(Exc::Cancelled)) => Err(Exc::Timeout),
            Some(r) => r,
            None => Err(Exc::Timeout),
        }
    };
    if timeout <= 0.0 {
        if let Some(r) = task.result() {
            return r;
        }
        cancel_and_wait(&task).await?;
        return finished(&task);
    }
    let waiter = Fut::<()>::new();
    let w = waiter.clone();
    let timeout_handle = lp.call_later(timeout, Box::new(move || release_waiter(&w)));
    let _finally = CancelOnDrop(timeout_handle);
    let w = waiter.clone();
    let cb = task.add_done_callback(Box::new(move || release_waiter(&w)));
    match waiter.wait(Wait::on_task(task.id())).await {
        Ok(()) => {}
        Err(Exc::Cancelled) => {
            // We were cancelled: so is the task, before we go.
            if let Some(r) = task.result() {
                return r;
            }
            task.remove_done_callback(cb);
            cancel_and_wait(&task).await?;
            return Err(Exc::Cancelled);
        }
        Err(e) => return Err(e),
    }
    if let Some(r) = task.result() {
        return r;
    }
    task.remove_done_callback(cb);
    cancel_and_wait(&task).await?;
    finished(&task)
}

/// When `asyncio.wait` returns.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ReturnWhen {
    FirstCompleted,
    FirstException,
    AllCompleted,
}

impl ReturnWhen {
    pub fn python_name(self) -> &'static str {
        match self {
            ReturnWhen::FirstCompleted => "FIRST_COMPLETED",
            ReturnWhen::FirstException => "FIRST_EXCEPTION",
            ReturnWhen::AllCompleted => "ALL_COMPLETED",
        }
    }
}

/// `done, pending = await asyncio.wait(tasks, timeout=…, return_when=…)`:
/// never raises TimeoutError and never cancels anything; the two sets come
/// back in the order the tasks were given.
pub async fn wait<T: Clone + 'static>(
    tasks: &[Task<T>],
    timeout: Option<f64>,
    return_when: ReturnWhen,
) -> PyResult<(Vec<Task<T>>, Vec<Task<T>>)> {
    if tasks.is_empty() {
        return Err(Exc::value_error("Set of Tasks/Futures is empty."));
    }
    let mut seen = HashSet::new();
    let fs: Vec<Task<T>> = tasks
        .iter()
        .filter(|t| seen.insert(t.id()))
        .cloned()
        .collect();
    let lp = running_loop();
    let waiter = Fut::<()>::new();
    let timeout_handle: Rc<RefCell<Option<TimerHandle>>> = Rc::new(RefCell::new(None));
    if let Some(timeout) = timeout {
        let w = waiter.clone();
        *timeout_handle.borrow_mut() =
            Some(lp.call_later(timeout, Box::new(move || release_waiter(&w))));
    }
    let resource = lp.future_resource(&tasks_label(
        "wait",
        &fs,
        &format!(", {}", return_when.python_name()),
    ));
    let counter = Rc::new(Cell::new(fs.len()));
    let mut cbs = Vec::with_capacity(fs.len());
    for f in &fs {
        let (w, counter, handle, f2) = (
            waiter.clone(),
            counter.clone(),
            timeout_handle.clone(),
            f.clone(),
        );
        cbs.push(f.add_done_callback(Box::new(move || {
            // _on_completion(f)
            counter.set(counter.get().saturating_sub(1));
            let first_exception = return_when == ReturnWhen::FirstException
                && !f2.cancelled()
                && f2.exception().is_some();
            if counter.get() == 0 || return_when == ReturnWhen::FirstCompleted || first_exception {
                if let Some(h) = handle.borrow().as_ref() {
                    h.cancel();
                }
                release_waiter(&w);
            }
        })));
    }
    let r = waiter
        .wait(Wait::on(State::Waiting, resource.as_ref()))
        .await;
    if let Some(h) = timeout_handle.borrow().as_ref() {
        h.cancel();
    }
    for (f, cb) in fs.iter().zip(cbs) {
        f.remove_done_callback(cb);
    }
    if let Some(res) = &resource {
        res.report(1, 0, None, None);
    }
    r?;
    let (done, pending): (Vec<_>, Vec<_>) = fs.into_iter().partition(Task::done);
    Ok((done, pending))
}

/// The futures a queue of `as_completed` or `Queue.get()` waits with.
pub(crate) struct Getters {
    waiters: RefCell<VecDeque<Fut<()>>>,
}

impl Getters {
    pub fn new() -> Getters {
        Getters {
            waiters: RefCell::new(VecDeque::new()),
        }
    }

    pub fn push(&self, f: Fut<()>) {
        self.waiters.borrow_mut().push_back(f);
    }

    pub fn len(&self) -> usize {
        self.waiters.borrow().len()
    }

    /// `_wakeup_next`: wake the first waiter that is not done.
    pub fn wake_next(&self) {
        loop {
            let Some(w) = self.waiters.borrow_mut().pop_front() else {
                return;
            };
            if !w.done() {
                w.set(Ok(()));
                return;
            }
        }
    }

    pub fn remove(&self, f: &Fut<()>) {
        let mut ws = self.waiters.borrow_mut();
        if let Some(i) = ws.iter().position(|w| w.ptr_eq(f)) {
            ws.remove(i);
        }
    }
}

struct Completed<T> {
    /// `done`: the queue of finished tasks (None: the timeout).
    done: RefCell<VecDeque<Option<Task<T>>>>,
    getters: Getters,
    todo: RefCell<Vec<(Task<T>, CbId)>>,
    timeout: RefCell<Option<TimerHandle>>,
    resource: Option<ResourceBase>,
}

impl<T: Clone + 'static> Completed<T> {
    fn put(&self, item: Option<Task<T>>) {
        self.done.borrow_mut().push_back(item);
        self.getters.wake_next();
    }
}

/// `asyncio.as_completed(tasks, timeout=…)`: each `next().await` gives the
/// result of the next task to finish, in the order they finish; after the
/// timeout, TimeoutError.
pub struct AsCompleted<T> {
    state: Rc<Completed<T>>,
    left: usize,
}

pub fn as_completed<T: Clone + 'static>(tasks: &[Task<T>], timeout: Option<f64>) -> AsCompleted<T> {
    let lp = running_loop();
    let mut seen = HashSet::new();
    let todo: Vec<Task<T>> = tasks
        .iter()
        .filter(|t| seen.insert(t.id()))
        .cloned()
        .collect();
    let resource = lp.future_resource(&tasks_label("as_completed", &todo, ""));
    let state = Rc::new(Completed {
        done: RefCell::new(VecDeque::new()),
        getters: Getters::new(),
        todo: RefCell::new(Vec::new()),
        timeout: RefCell::new(None),
        resource,
    });
    let left = todo.len();
    for f in &todo {
        let weak = Rc::downgrade(&state);
        let f2 = f.clone();
        let cb = f.add_done_callback(Box::new(move || {
            // _on_completion(f)
            let Some(s) = weak.upgrade() else { return };
            let mut todo = s.todo.borrow_mut();
            if todo.is_empty() {
                return; // _on_timeout() was here first.
            }
            todo.retain(|(t, _)| !t.ptr_eq(&f2));
            let empty = todo.is_empty();
            drop(todo);
            s.put(Some(f2.clone()));
            if empty && let Some(h) = s.timeout.borrow().as_ref() {
                h.cancel();
            }
        }));
        state.todo.borrow_mut().push((f.clone(), cb));
    }
    if left > 0
        && let Some(timeout) = timeout
    {
        let weak = Rc::downgrade(&state);
        *state.timeout.borrow_mut() = Some(lp.call_later(
            timeout,
            Box::new(move || {
                // _on_timeout()
                let Some(s) = weak.upgrade() else { return };
                let todo = std::mem::take(&mut *s.todo.borrow_mut());
                for (f, cb) in todo {
                    f.remove_done_callback(cb);
                    s.put(None);
                }
            }),
        ));
    }
    AsCompleted { state, left }
}

impl<T: Clone + 'static> AsCompleted<T> {
    /// The next task's result (`await next(iterator)`), or None when every
    /// task has been given.
    pub async fn next(&mut self) -> Option<PyResult<T>> {
        if self.left == 0 {
            return None;
        }
        self.left -= 1;
        Some(self.wait_for_one().await)
    }

    /// `_wait_for_one`: `f = await done.get()`, as asyncio.Queue.get does.
    async fn wait_for_one(&self) -> PyResult<T> {
        let s = &self.state;
        while s.done.borrow().is_empty() {
            let getter = Fut::<()>::new();
            s.getters.push(getter.clone());
            let r = getter
                .wait(Wait::on(State::Waiting, s.resource.as_ref()))
                .await;
            if let Err(e) = r {
                getter.0.cancel(); // Just in case it is not done yet.
                s.getters.remove(&getter);
                if !s.done.borrow().is_empty() && !getter.cancelled() {
                    // Woken by a put, but leaving: wake the next in line.
                    s.getters.wake_next();
                }
                return Err(e);
            }
        }
        let item = s.done.borrow_mut().pop_front();
        match item {
            Some(Some(task)) => task.result().unwrap_or(Err(Exc::Cancelled)),
            _ => Err(Exc::Timeout),
        }
    }

    /// Tasks whose results are still to be given.
    pub fn left(&self) -> usize {
        self.left
    }
}

impl<T> Drop for AsCompleted<T> {
    fn drop(&mut self) {
        if let Some(r) = &self.state.resource {
            r.report(1, 0, None, None);
        }
    }
}

/// `async with asyncio.timeout(delay): body` (3.11): when the delay
/// (scenario seconds) passes first, the task is cancelled, the body gets
/// CancelledError at its await, and, as it leaves, that becomes
/// TimeoutError. `None` never times out.
pub async fn timeout<T>(
    delay: Option<f64>,
    body: impl Future<Output = PyResult<T>>,
) -> PyResult<T> {
    let lp = running_loop();
    let Some(task) = lp.current_task() else {
        return Err(Exc::runtime_error("Timeout should be used inside a task"));
    };
    let cancelling = task.hdr().cancelling();
    let expiring = Rc::new(Cell::new(false));
    let handler = delay.map(|delay| {
        let (task, expiring) = (task.clone(), expiring.clone());
        let on_timeout = Box::new(move || {
            task.cancel();
            expiring.set(true);
        });
        if delay <= 0.0 {
            // Already due: on the next iteration.
            let cancelled = Rc::new(Cell::new(false));
            let c = cancelled.clone();
            lp.call_soon(Box::new(move || {
                if !c.get() {
                    on_timeout();
                }
            }));
            Handler::Soon(cancelled)
        } else {
            Handler::Later(lp.call_later(delay, on_timeout))
        }
    });
    let r = body.await;
    if let Some(h) = handler {
        h.cancel();
    }
    if expiring.get() && task.hdr().uncancel() <= cancelling && matches!(r, Err(Exc::Cancelled)) {
        return Err(Exc::Timeout);
    }
    r
}

enum Handler {
    Soon(Rc<Cell<bool>>),
    Later(TimerHandle),
}

impl Handler {
    fn cancel(&self) {
        match self {
            Handler::Soon(c) => c.set(true),
            Handler::Later(h) => h.cancel(),
        }
    }
}
