//! The loop, its futures and its tasks: ports of CPython 3.11's
//! `BaseEventLoop._run_once`, `futures.Future` and `tasks.Task` (see the
//! module's notes for why a port). Everything here lives on the loop's
//! thread (`Rc`, `RefCell`); only [`Inbox`] is shared with the executor's
//! threads, as `call_soon_threadsafe` is in asyncio.

use std::any::Any;
use std::cell::{Cell, RefCell};
use std::collections::{BTreeMap, BinaryHeap, HashMap, VecDeque};
use std::future::{Future, IntoFuture};
use std::pin::Pin;
use std::rc::Rc;
use std::sync::Arc;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use super::executor::Pool;
use super::lanes::{Lane, Lanes};
use super::{EVENT_LOOP, Exc, LOOP_LAG_MS, PyResult, TASKS_ALIVE};
use crate::error::{SyncError, SyncResult};
use crate::monitor::Monitor;
use crate::probe::{ResourceKind, Target, WorkerId};
use crate::state::State;
use crate::sync::{Counter, ResourceBase};
use crate::worker::{Ctx, StateScope};
use crate::{LabShared, WakerKey};

thread_local! {
    static LOOP: RefCell<Option<Rc<Loop>>> = const { RefCell::new(None) };
}

/// The loop running on this thread. Every asyncio function needs one, as in
/// Python ("no running event loop"); calling one outside [`run`] is a bug
/// in the scenario, not something a user can cause.
pub(crate) fn running_loop() -> Rc<Loop> {
    try_running_loop().expect("no running event loop: asyncio functions run inside aio::run")
}

pub(crate) fn try_running_loop() -> Option<Rc<Loop>> {
    LOOP.with(|l| l.borrow().clone())
}

/// A callback's place in a future's list, for `remove_done_callback`.
pub(crate) type CbId = u64;

/// What a future schedules when it completes.
pub(crate) enum Callback {
    /// A task's `__wakeup`: the task steps again.
    Wakeup(Rc<dyn TaskDyn>),
    Call(Box<dyn FnOnce()>),
}

/// One entry of the ready queue (asyncio's `Handle`).
pub(crate) enum Handle {
    Call(Box<dyn FnOnce()>),
    Step(Rc<dyn TaskDyn>),
    Timer(Rc<TimerCell>),
}

pub(crate) struct TimerCell {
    when: Instant,
    cancelled: Cell<bool>,
    callback: RefCell<Option<TimerAction>>,
}

/// What a timer does when it fires.
pub(crate) enum TimerAction {
    Call(Box<dyn FnOnce()>),
    /// `futures._set_result_unless_cancelled(fut, None)`: asyncio.sleep's
    /// timer, without a closure to allocate per sleep.
    Wake(Rc<FutCore<()>>),
}

impl TimerAction {
    fn run(self) {
        match self {
            TimerAction::Call(f) => f(),
            TimerAction::Wake(fut) => {
                if !fut.done() {
                    fut.set(Ok(()));
                }
            }
        }
    }
}

/// `loop.call_later`'s handle: `cancel()` it and it never runs.
#[derive(Clone)]
pub(crate) struct TimerHandle(Rc<TimerCell>);

impl TimerHandle {
    pub fn cancel(&self) {
        if !self.0.cancelled.replace(true) {
            // Drop the callback now: it may hold futures and tasks.
            self.0.callback.borrow_mut().take();
            if let Some(lp) = try_running_loop() {
                lp.timers_cancelled.set(lp.timers_cancelled.get() + 1);
            }
        }
    }
}

/// Cancels a timer when dropped: the `finally: h.cancel()` of asyncio.sleep.
pub(crate) struct CancelOnDrop(pub TimerHandle);

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        self.0.cancel();
    }
}

struct TimerEntry {
    when: Instant,
    seq: u64,
    cell: Rc<TimerCell>,
}

impl PartialEq for TimerEntry {
    fn eq(&self, other: &Self) -> bool {
        self.when == other.when && self.seq == other.seq
    }
}
impl Eq for TimerEntry {}
impl PartialOrd for TimerEntry {
    fn partial_cmp(&self, other: &Self) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}
impl Ord for TimerEntry {
    /// Reversed: the heap's top is the earliest timer; equal times in the
    /// order they were scheduled.
    fn cmp(&self, other: &Self) -> std::cmp::Ordering {
        (other.when, other.seq).cmp(&(self.when, self.seq))
    }
}

/// What other threads hand the loop: results of the executor's jobs, by key.
#[derive(Default)]
pub(crate) struct Inbox {
    pub items: VecDeque<(u64, Box<dyn Any + Send>)>,
}

/// What the loop does with a job's result when it comes back.
pub(crate) type JobDone = Box<dyn FnOnce(Box<dyn Any + Send>)>;

/// How to run a loop.
#[derive(Clone, Copy, Debug)]
pub struct RunOptions {
    /// Report tasks as lanes and the loop's counters (the lab's normal
    /// mode); off only to measure what the reporting costs.
    pub instrumented: bool,
}

impl Default for RunOptions {
    fn default() -> Self {
        RunOptions { instrumented: true }
    }
}

/// How long Stop lets cancelled tasks run their cleanup before the loop
/// drops them.
const STOP_GRACE: Duration = Duration::from_millis(25);

pub(crate) struct Loop {
    pub(crate) ctx: Ctx,
    pub(crate) lab: Arc<LabShared>,
    ready: RefCell<VecDeque<Handle>>,
    timers: RefCell<BinaryHeap<TimerEntry>>,
    timer_seq: Cell<u64>,
    timers_cancelled: Cell<usize>,
    pub(crate) inbox: Arc<Monitor<Inbox>>,
    inbox_key: WakerKey,
    current: RefCell<Option<Rc<dyn TaskDyn>>>,
    /// `asyncio.all_tasks()`: the tasks not yet done, oldest first.
    tasks: RefCell<BTreeMap<WorkerId, Rc<dyn TaskDyn>>>,
    task_names: Cell<u64>,
    /// `loop.stop()` was called: this iteration is the last.
    stopping: Cell<bool>,
    /// Stop's cancellation is running until then: iterations run to their
    /// end or to it.
    draining: Cell<Option<Instant>>,
    pub(crate) lanes: Lanes,
    /// The executor's jobs not yet back, by key: what to do with the result.
    jobs: RefCell<HashMap<u64, JobDone>>,
    next_job: Cell<u64>,
    pub(crate) pool: RefCell<Option<Pool>>,
    started: Instant,
    resource: Option<ResourceBase>,
    tasks_alive: Option<Counter>,
    lag: Option<Counter>,
    reported: Cell<(usize, usize, i64)>,
    /// The largest timer lateness of this iteration, in real seconds.
    iteration_lag: Cell<Option<f64>>,
}

impl Loop {
    /// `loop.call_soon(callback)`.
    pub fn call_soon(&self, callback: Box<dyn FnOnce()>) {
        self.ready.borrow_mut().push_back(Handle::Call(callback));
    }

    /// Schedule a task's step: it is ready in the loop's queue.
    pub fn schedule_step(&self, task: Rc<dyn TaskDyn>) {
        let h = task.hdr();
        self.lanes.set(h.id, &h.lane, State::Ready, None);
        self.ready.borrow_mut().push_back(Handle::Step(task));
    }

    fn schedule(&self, callback: Callback) {
        match callback {
            Callback::Wakeup(task) => self.schedule_step(task),
            Callback::Call(f) => self.call_soon(f),
        }
    }

    /// `loop.call_later(delay, callback)`, `delay` in scenario seconds
    /// (divided by the lab's speed, like every sleep).
    pub fn call_later(&self, delay: f64, callback: Box<dyn FnOnce()>) -> TimerHandle {
        self.timer_at(
            Instant::now() + self.lab.scaled(delay),
            TimerAction::Call(callback),
        )
    }

    fn timer_at(&self, when: Instant, callback: TimerAction) -> TimerHandle {
        let cell = Rc::new(TimerCell {
            when,
            cancelled: Cell::new(false),
            callback: RefCell::new(Some(callback)),
        });
        let seq = self.timer_seq.get();
        self.timer_seq.set(seq + 1);
        self.timers.borrow_mut().push(TimerEntry {
            when,
            seq,
            cell: cell.clone(),
        });
        TimerHandle(cell)
    }

    pub fn current_task(&self) -> Option<Rc<dyn TaskDyn>> {
        self.current.borrow().clone()
    }

    /// Keep a job's completion until its result comes back from a thread.
    pub fn expect_job(&self, done: JobDone) -> u64 {
        let key = self.next_job.get();
        self.next_job.set(key + 1);
        self.jobs.borrow_mut().insert(key, done);
        key
    }

    /// A named Future resource for the timeline ("gather(Task-2, Task-3)").
    pub fn future_resource(&self, name: &str) -> Option<ResourceBase> {
        self.lanes.is_on().then(|| {
            let r = ResourceBase::new(
                &crate::LabHandle(self.lab.clone()),
                name,
                ResourceKind::Future,
                None,
            );
            r.report(0, 1, None, None);
            r
        })
    }

    fn lab_stopping(&self) -> bool {
        self.lab.is_stopping() || self.ctx.me.is_killed()
    }

    /// One iteration: wait for the earliest timer (or work from another
    /// thread), move what is due to the ready queue, then run exactly the
    /// handles that were ready when the run began: the ones they schedule
    /// wait for the next iteration.
    fn run_once(&self, max_wait: Option<Duration>) {
        // Drop cancelled timers: all of them when they are many, else the
        // ones at the head, as asyncio does.
        {
            let mut timers = self.timers.borrow_mut();
            let cancelled = self.timers_cancelled.get();
            if timers.len() > 100 && cancelled * 2 > timers.len() {
                timers.retain(|t| !t.cell.cancelled.get());
                self.timers_cancelled.set(0);
            } else {
                while timers.peek().is_some_and(|t| t.cell.cancelled.get()) {
                    timers.pop();
                    self.timers_cancelled
                        .set(self.timers_cancelled.get().saturating_sub(1));
                }
            }
        }
        let now = Instant::now();
        let mut deadline = if !self.ready.borrow().is_empty() || self.stopping.get() {
            Some(now)
        } else {
            self.timers.borrow().peek().map(|t| t.when)
        };
        if let Some(max) = max_wait {
            deadline = Some(deadline.map_or(now + max, |d| d.min(now + max)));
        }
        self.select(deadline);
        let arrived: Vec<(u64, Box<dyn Any + Send>)> = self.inbox.lock().items.drain(..).collect();
        for (key, result) in arrived {
            if let Some(done) = self.jobs.borrow_mut().remove(&key) {
                self.call_soon(Box::new(move || done(result)));
            }
        }
        let end = Instant::now();
        {
            let mut timers = self.timers.borrow_mut();
            let mut ready = self.ready.borrow_mut();
            while timers.peek().is_some_and(|t| t.when <= end) {
                if let Some(t) = timers.pop() {
                    if t.cell.cancelled.get() {
                        self.timers_cancelled
                            .set(self.timers_cancelled.get().saturating_sub(1));
                    } else {
                        ready.push_back(Handle::Timer(t.cell));
                    }
                }
            }
        }
        let ntodo = self.ready.borrow().len();
        self.report(ntodo);
        self.iteration_lag.set(None);
        for i in 0..ntodo {
            let Some(handle) = self.ready.borrow_mut().pop_front() else {
                break;
            };
            match handle {
                Handle::Call(f) => f(),
                Handle::Step(task) => task.step(),
                Handle::Timer(cell) => {
                    if cell.cancelled.get() {
                        continue;
                    }
                    let late = Instant::now().saturating_duration_since(cell.when);
                    let lag = self.iteration_lag.get().unwrap_or(0.0);
                    self.iteration_lag.set(Some(lag.max(late.as_secs_f64())));
                    let callback = cell.callback.borrow_mut().take();
                    if let Some(action) = callback {
                        action.run();
                    }
                }
            }
            if i % 256 == 255 {
                let stop = match self.draining.get() {
                    Some(grace) => Instant::now() >= grace,
                    None => self.lab_stopping(),
                };
                if stop {
                    break;
                }
            }
        }
        self.report_lag();
        // What this iteration scheduled for the next (0 when the loop is
        // about to wait): the level holds until the next iteration.
        let left = self.ready.borrow().len();
        self.report(left);
        self.lanes.flush_soon(left == 0);
    }

    /// Wait until `deadline` (None: until woken) for the executor's
    /// results, or the lab's Stop. The loop's lane shows it waiting.
    fn select(&self, deadline: Option<Instant>) {
        if deadline.is_some_and(|d| d <= Instant::now()) || self.lab_stopping() {
            return;
        }
        let guard = self.inbox.lock();
        if !guard.items.is_empty() {
            return;
        }
        let me = self.lanes.is_on().then_some(&*self.ctx.me);
        let _scope = StateScope::enter(
            me,
            State::Waiting,
            self.resource.as_ref().and_then(|r| r.target()),
        );
        let _ = self
            .inbox
            .wait_until(guard, &self.lab, Some(&self.ctx.me), deadline, |i| {
                !i.items.is_empty()
            });
    }

    /// The ready queue and the tasks alive, when they changed.
    fn report(&self, ready: usize) {
        let (last_ready, last_alive, last_lag) = self.reported.get();
        let alive = self.lanes.alive();
        if let Some(r) = &self.resource
            && ready != last_ready
        {
            r.report(ready as i64, 0, None, None);
        }
        if let Some(c) = &self.tasks_alive
            && alive != last_alive
        {
            c.set(alive as i64);
        }
        self.reported.set((ready, alive, last_lag));
    }

    fn report_lag(&self) {
        let Some(lag) = self.iteration_lag.get() else {
            return;
        };
        let (ready, alive, last) = self.reported.get();
        // Scenario time: a loop stalled 0.1 s at speed 10 is 1 s late.
        let ms = (lag * self.lab.speed() * 1000.0).round() as i64;
        if let Some(c) = &self.lag
            && ms != last
        {
            c.set(ms);
        }
        self.reported.set((ready, alive, ms));
    }

    fn enter_task(&self, task: Rc<dyn TaskDyn>) {
        *self.current.borrow_mut() = Some(task);
    }

    fn leave_task(&self) {
        self.current.borrow_mut().take();
    }

    pub fn next_task_number(&self) -> u64 {
        let n = self.task_names.get() + 1;
        self.task_names.set(n);
        n
    }

    fn register(&self, task: Rc<dyn TaskDyn>) {
        self.tasks.borrow_mut().insert(task.hdr().id, task);
    }

    fn unregister(&self, id: WorkerId) {
        self.tasks.borrow_mut().remove(&id);
    }

    fn all_tasks(&self) -> Vec<Rc<dyn TaskDyn>> {
        self.tasks.borrow().values().cloned().collect()
    }

    /// Break every cycle between tasks, futures and timers so nothing leaks.
    fn teardown(&self) {
        let tasks: Vec<_> = std::mem::take(&mut *self.tasks.borrow_mut())
            .into_values()
            .collect();
        for t in &tasks {
            t.abandon();
        }
        drop(tasks);
        self.ready.borrow_mut().clear();
        self.timers.borrow_mut().clear();
        self.jobs.borrow_mut().clear();
        self.current.borrow_mut().take();
    }
}

/// A task's bookkeeping that does not depend on its result type.
pub(crate) struct TaskHdr {
    pub id: WorkerId,
    /// Its `Task-N` number, or 0 for a task named by the program.
    number: u64,
    /// Made when first asked for (100,000 tasks need not carry a string each).
    name: std::cell::OnceCell<Arc<str>>,
    must_cancel: Cell<bool>,
    num_cancels_requested: Cell<u32>,
    fut_waiter: RefCell<Option<Rc<dyn AnyFut>>>,
    /// The exception thrown into the coroutine at the await it resumes in.
    throw: RefCell<Option<Exc>>,
    /// What the coroutine yielded in this step.
    yielded: RefCell<Option<Yielded>>,
    started: Cell<bool>,
    pub(crate) lane: Lane,
}

impl TaskHdr {
    pub fn name(&self) -> &Arc<str> {
        self.name
            .get_or_init(|| Arc::from(format!("Task-{}", self.number)))
    }

    /// The exception to raise at the await being resumed, if any.
    pub fn take_throw(&self) -> Option<Exc> {
        self.throw.borrow_mut().take()
    }

    pub fn yield_future(&self, f: Rc<dyn AnyFut>, wait: Wait) {
        *self.yielded.borrow_mut() = Some(Yielded::Future(f, wait));
    }

    pub fn yield_bare(&self) {
        *self.yielded.borrow_mut() = Some(Yielded::Bare);
    }

    pub fn cancelling(&self) -> u32 {
        self.num_cancels_requested.get()
    }

    pub fn uncancel(&self) -> u32 {
        let n = self.num_cancels_requested.get().saturating_sub(1);
        self.num_cancels_requested.set(n);
        n
    }
}

pub(crate) enum Yielded {
    /// The coroutine awaits this future.
    Future(Rc<dyn AnyFut>, Wait),
    /// A bare `yield` (`asyncio.sleep(0)`): step again next iteration.
    Bare,
}

/// What a suspended task waits for, as its lane shows it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Wait {
    pub state: State,
    pub target: Option<Target>,
}

impl Wait {
    pub const SLEEP: Wait = Wait {
        state: State::Sleeping,
        target: None,
    };

    pub fn on(state: State, resource: Option<&ResourceBase>) -> Wait {
        Wait {
            state,
            target: resource.and_then(ResourceBase::target),
        }
    }

    pub fn on_task(id: WorkerId) -> Wait {
        Wait {
            state: State::Waiting,
            target: Some(Target::Thread(id)),
        }
    }
}

/// asyncio.Future's interface, whatever the result type.
pub(crate) trait AnyFut {
    /// `Future.cancel()` (a Task's and gather's own versions differ).
    fn cancel(&self) -> bool;
    fn add_done_callback(&self, cb: Callback) -> CbId;
}

/// A future whose result can be read.
pub(crate) trait TypedFut<T>: AnyFut {
    /// None while pending; Err(Cancelled) once cancelled.
    fn result(&self) -> Option<PyResult<T>>;
}

/// The state every future has: its result and its done callbacks.
pub(crate) struct FutCore<T> {
    result: RefCell<Option<PyResult<T>>>,
    cancelled: Cell<bool>,
    /// The first callback inline (most futures get one), the rest after it.
    first: RefCell<Option<(CbId, Callback)>>,
    callbacks: RefCell<Vec<(CbId, Callback)>>,
    next_cb: Cell<CbId>,
}

impl<T: Clone + 'static> FutCore<T> {
    pub fn new() -> FutCore<T> {
        FutCore {
            result: RefCell::new(None),
            cancelled: Cell::new(false),
            first: RefCell::new(None),
            callbacks: RefCell::new(Vec::new()),
            next_cb: Cell::new(0),
        }
    }

    pub fn done(&self) -> bool {
        self.result.borrow().is_some()
    }

    pub fn cancelled(&self) -> bool {
        self.cancelled.get()
    }

    pub fn result(&self) -> Option<PyResult<T>> {
        self.result.borrow().clone()
    }

    pub fn exception(&self) -> Option<Exc> {
        match &*self.result.borrow() {
            Some(Err(e)) if !self.cancelled.get() => Some(e.clone()),
            _ => None,
        }
    }

    /// `set_result` / `set_exception`; false (asyncio's InvalidStateError)
    /// if it is already done.
    pub fn set(&self, result: PyResult<T>) -> bool {
        if self.done() {
            return false;
        }
        *self.result.borrow_mut() = Some(result);
        self.schedule_callbacks();
        true
    }

    /// `Future.cancel()`.
    pub fn cancel(&self) -> bool {
        if self.done() {
            return false;
        }
        self.cancelled.set(true);
        *self.result.borrow_mut() = Some(Err(Exc::Cancelled));
        self.schedule_callbacks();
        true
    }

    fn schedule_callbacks(&self) {
        let first = self.first.borrow_mut().take();
        let Some((_, first)) = first else {
            return;
        };
        let rest = std::mem::take(&mut *self.callbacks.borrow_mut());
        let lp = running_loop();
        lp.schedule(first);
        for (_, cb) in rest {
            lp.schedule(cb);
        }
    }

    /// A callback on a done future is scheduled at once, as in asyncio.
    pub fn add_done_callback(&self, cb: Callback) -> CbId {
        let id = self.next_cb.get();
        self.next_cb.set(id + 1);
        if self.done() {
            running_loop().schedule(cb);
            return id;
        }
        let mut first = self.first.borrow_mut();
        if first.is_none() {
            *first = Some((id, cb));
        } else {
            self.callbacks.borrow_mut().push((id, cb));
        }
        id
    }

    pub fn remove_done_callback(&self, id: CbId) -> bool {
        let mut first = self.first.borrow_mut();
        let mut rest = self.callbacks.borrow_mut();
        if first.as_ref().is_some_and(|(i, _)| *i == id) {
            // The next one moves up, so the order stays.
            *first = if rest.is_empty() {
                None
            } else {
                Some(rest.remove(0))
            };
            return true;
        }
        let before = rest.len();
        rest.retain(|(i, _)| *i != id);
        rest.len() != before
    }

    fn clear_callbacks(&self) {
        self.first.borrow_mut().take();
        self.callbacks.borrow_mut().clear();
    }
}

/// A plain `asyncio.Future` (what `loop.create_future()` makes).
pub(crate) struct Fut<T>(pub(crate) Rc<FutCore<T>>);

impl<T> Clone for Fut<T> {
    fn clone(&self) -> Self {
        Fut(self.0.clone())
    }
}

impl<T: Clone + 'static> Fut<T> {
    pub fn new() -> Fut<T> {
        Fut(Rc::new(FutCore::new()))
    }

    pub fn done(&self) -> bool {
        self.0.done()
    }

    pub fn cancelled(&self) -> bool {
        self.0.cancelled()
    }

    pub fn set(&self, result: PyResult<T>) -> bool {
        self.0.set(result)
    }

    /// Await it, the awaiting task's lane showing `wait`.
    pub fn wait(&self, wait: Wait) -> Await<T> {
        Await::new(self.0.clone(), wait)
    }

    pub fn ptr_eq(&self, other: &Fut<T>) -> bool {
        Rc::ptr_eq(&self.0, &other.0)
    }
}

impl<T: Clone + 'static> AnyFut for Fut<T> {
    fn cancel(&self) -> bool {
        self.0.cancel()
    }
    fn add_done_callback(&self, cb: Callback) -> CbId {
        self.0.add_done_callback(cb)
    }
}

impl<T: Clone + 'static> TypedFut<T> for Fut<T> {
    fn result(&self) -> Option<PyResult<T>> {
        self.0.result()
    }
}

impl<T: Clone + 'static> AnyFut for FutCore<T> {
    fn cancel(&self) -> bool {
        FutCore::cancel(self)
    }
    fn add_done_callback(&self, cb: Callback) -> CbId {
        FutCore::add_done_callback(self, cb)
    }
}

impl<T: Clone + 'static> TypedFut<T> for FutCore<T> {
    fn result(&self) -> Option<PyResult<T>> {
        FutCore::result(self)
    }
}

/// `await future`: `Future.__await__`. If the future is done the await
/// does not suspend; otherwise the task yields it and its step registers
/// the wake-up. Resumed, it raises what was thrown in (a cancellation) or
/// returns the future's result.
pub struct Await<T> {
    fut: Rc<dyn TypedFut<T>>,
    wait: Wait,
    yielded: bool,
}

impl<T: Clone + 'static> Await<T> {
    pub(crate) fn new(fut: Rc<dyn TypedFut<T>>, wait: Wait) -> Await<T> {
        Await {
            fut,
            wait,
            yielded: false,
        }
    }
}

fn current_hdr_task() -> Rc<dyn TaskDyn> {
    running_loop()
        .current_task()
        .expect("await outside a task: asyncio awaits run inside a task")
}

impl<T: Clone + 'static> Future for Await<T> {
    type Output = PyResult<T>;

    fn poll(mut self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<PyResult<T>> {
        if !self.yielded {
            if let Some(r) = self.fut.result() {
                return Poll::Ready(r);
            }
            let task = current_hdr_task();
            let fut: Rc<dyn AnyFut> = self.fut.clone();
            task.hdr().yield_future(fut, self.wait);
            self.yielded = true;
            return Poll::Pending;
        }
        let task = current_hdr_task();
        if let Some(e) = task.hdr().take_throw() {
            return Poll::Ready(Err(e));
        }
        match self.fut.result() {
            Some(r) => Poll::Ready(r),
            None => {
                // Not woken by the future: wait on.
                let fut: Rc<dyn AnyFut> = self.fut.clone();
                task.hdr().yield_future(fut, self.wait);
                Poll::Pending
            }
        }
    }
}

/// `asyncio.sleep(0)`: a bare yield, one loop iteration.
struct Sleep0 {
    yielded: bool,
}

impl Future for Sleep0 {
    type Output = PyResult<()>;

    fn poll(mut self: Pin<&mut Self>, _cx: &mut Context<'_>) -> Poll<PyResult<()>> {
        let task = current_hdr_task();
        if !self.yielded {
            self.yielded = true;
            task.hdr().yield_bare();
            return Poll::Pending;
        }
        match task.hdr().take_throw() {
            Some(e) => Poll::Ready(Err(e)),
            None => Poll::Ready(Ok(())),
        }
    }
}

/// `await asyncio.sleep(delay)`, `delay` in scenario seconds. 0 (or less)
/// gives the other tasks one turn of the loop.
pub async fn sleep(delay: f64) -> PyResult<()> {
    if delay.is_nan() || delay <= 0.0 {
        return Sleep0 { yielded: false }.await;
    }
    let lp = running_loop();
    let fut = Fut::<()>::new();
    let h = lp.timer_at(
        Instant::now() + lp.lab.scaled(delay),
        TimerAction::Wake(fut.0.clone()),
    );
    let _finally = CancelOnDrop(h);
    fut.wait(Wait::SLEEP).await
}

/// `loop.time()`: seconds since the loop started, in real time.
pub fn loop_time() -> f64 {
    running_loop().started.elapsed().as_secs_f64()
}

/// What the loop needs of a task, whatever its result type.
pub(crate) trait TaskDyn: AnyFut {
    fn hdr(&self) -> &TaskHdr;
    /// `Task.__step`.
    fn step(self: Rc<Self>);
    /// Drop the coroutine and callbacks (the loop is going away).
    fn abandon(&self);
}

type Coro<T> = Pin<Box<dyn Future<Output = PyResult<T>>>>;

pub(crate) struct TaskInner<T> {
    core: FutCore<T>,
    hdr: TaskHdr,
    coro: RefCell<Option<Coro<T>>>,
}

impl<T: Clone + 'static> TaskInner<T> {
    /// The coroutine ended: the task's future gets its outcome, its lane
    /// its final state, and the loop forgets it.
    fn finish(&self, lp: &Loop, outcome: PyResult<T>) {
        drop(self.coro.borrow_mut().take());
        let h = &self.hdr;
        let state = match &outcome {
            Ok(_) if h.must_cancel.get() => {
                // Cancelled right before the coroutine returned.
                h.must_cancel.set(false);
                self.core.cancel();
                State::Killed
            }
            Ok(_) => {
                self.core.set(outcome);
                State::Done
            }
            Err(Exc::Cancelled) | Err(Exc::Stopped) => {
                self.core.cancel();
                State::Killed
            }
            Err(e) => {
                lp.lanes.failed(h.id, &h.lane, e.to_string());
                self.core.set(outcome);
                State::Failed
            }
        };
        lp.lanes.set(h.id, &h.lane, state, None);
        lp.unregister(h.id);
    }
}

impl<T: Clone + 'static> AnyFut for TaskInner<T> {
    /// `Task.cancel()`: cancel what it awaits (which wakes it with
    /// CancelledError), or else have its next step throw CancelledError in.
    fn cancel(&self) -> bool {
        if self.core.done() {
            return false;
        }
        let h = &self.hdr;
        h.num_cancels_requested
            .set(h.num_cancels_requested.get() + 1);
        let waiter = h.fut_waiter.borrow().clone();
        if let Some(w) = waiter
            && w.cancel()
        {
            return true;
        }
        // Its step must already be scheduled (or it is the one running).
        h.must_cancel.set(true);
        true
    }
    fn add_done_callback(&self, cb: Callback) -> CbId {
        self.core.add_done_callback(cb)
    }
}

impl<T: Clone + 'static> TypedFut<T> for TaskInner<T> {
    fn result(&self) -> Option<PyResult<T>> {
        self.core.result()
    }
}

impl<T: Clone + 'static> TaskDyn for TaskInner<T> {
    fn hdr(&self) -> &TaskHdr {
        &self.hdr
    }

    fn step(self: Rc<Self>) {
        if self.core.done() {
            return;
        }
        let lp = running_loop();
        let h = &self.hdr;
        let exc = h.must_cancel.replace(false).then_some(Exc::Cancelled);
        h.fut_waiter.borrow_mut().take();
        let me: Rc<dyn TaskDyn> = self.clone();
        lp.enter_task(me);
        lp.lanes.set(h.id, &h.lane, State::Running, None);
        let outcome = if !h.started.get() && exc.is_some() {
            // Thrown into a coroutine that never ran: it raises at once.
            Poll::Ready(Err(Exc::Cancelled))
        } else {
            h.started.set(true);
            *h.throw.borrow_mut() = exc;
            let mut coro = self.coro.borrow_mut();
            match coro.as_mut() {
                Some(c) => c.as_mut().poll(&mut Context::from_waker(Waker::noop())),
                None => Poll::Ready(Err(Exc::runtime_error("the task's coroutine is gone"))),
            }
        };
        h.throw.borrow_mut().take();
        lp.leave_task();
        match outcome {
            Poll::Ready(r) => self.finish(&lp, r),
            Poll::Pending => {
                let yielded = h.yielded.borrow_mut().take();
                match yielded {
                    Some(Yielded::Future(f, wait)) => {
                        let me: Rc<dyn TaskDyn> = self.clone();
                        f.add_done_callback(Callback::Wakeup(me));
                        *h.fut_waiter.borrow_mut() = Some(f.clone());
                        lp.lanes.set(h.id, &h.lane, wait.state, wait.target);
                        if h.must_cancel.get() && f.cancel() {
                            h.must_cancel.set(false);
                        }
                    }
                    Some(Yielded::Bare) => lp.schedule_step(self.clone()),
                    None => {
                        // A foreign future said Pending: nothing would ever wake it.
                        self.finish(
                            &lp,
                            Err(Exc::runtime_error(
                                "Task got bad yield: only asyncio's awaitables can be awaited in a task",
                            )),
                        );
                    }
                }
            }
        }
    }

    fn abandon(&self) {
        drop(self.coro.borrow_mut().take());
        self.core.clear_callbacks();
        self.hdr.fut_waiter.borrow_mut().take();
        self.hdr.yielded.borrow_mut().take();
    }
}

/// An `asyncio.Task`: a coroutine the loop runs, and the future of its
/// result. Cloning gives another handle to the same task.
pub struct Task<T> {
    pub(crate) inner: Rc<TaskInner<T>>,
}

impl<T> Clone for Task<T> {
    fn clone(&self) -> Self {
        Task {
            inner: self.inner.clone(),
        }
    }
}

impl<T: Clone + 'static> Task<T> {
    /// `get_name()`.
    pub fn name(&self) -> &str {
        self.inner.hdr.name()
    }

    /// The task's lane id (threads and tasks share one id space).
    pub fn id(&self) -> WorkerId {
        self.inner.hdr.id
    }

    pub fn done(&self) -> bool {
        self.inner.core.done()
    }

    pub fn cancelled(&self) -> bool {
        self.inner.core.cancelled()
    }

    /// `cancel()`: CancelledError is raised at the await the task is in.
    pub fn cancel(&self) -> bool {
        AnyFut::cancel(&*self.inner)
    }

    pub fn cancelling(&self) -> u32 {
        self.inner.hdr.cancelling()
    }

    pub fn uncancel(&self) -> u32 {
        self.inner.hdr.uncancel()
    }

    /// `result()`: None while it runs (asyncio raises InvalidStateError);
    /// Err(Cancelled) if it was cancelled.
    pub fn result(&self) -> Option<PyResult<T>> {
        self.inner.core.result()
    }

    /// `exception()`: the exception it raised, if it raised one.
    pub fn exception(&self) -> Option<Exc> {
        self.inner.core.exception()
    }

    /// Its state as its lane shows it now.
    pub fn state(&self) -> State {
        self.inner.hdr.lane.state()
    }

    pub(crate) fn add_done_callback(&self, f: Box<dyn FnOnce()>) -> CbId {
        self.inner.core.add_done_callback(Callback::Call(f))
    }

    pub(crate) fn remove_done_callback(&self, id: CbId) -> bool {
        self.inner.core.remove_done_callback(id)
    }

    pub(crate) fn ptr_eq(&self, other: &Task<T>) -> bool {
        Rc::ptr_eq(&self.inner, &other.inner)
    }
}

impl<T: Clone + 'static> IntoFuture for &Task<T> {
    type Output = PyResult<T>;
    type IntoFuture = Await<T>;

    /// `await task`.
    fn into_future(self) -> Await<T> {
        let id = self.id();
        Await::new(self.inner.clone(), Wait::on_task(id))
    }
}

impl<T: Clone + 'static> IntoFuture for Task<T> {
    type Output = PyResult<T>;
    type IntoFuture = Await<T>;

    fn into_future(self) -> Await<T> {
        (&self).into_future()
    }
}

/// `asyncio.create_task(coro)`: named `Task-N` (N counts from 1 in each
/// [`run`], main being Task-1); its first step runs at the next iteration
/// of the loop, after the tasks already ready, never before the caller
/// yields.
pub fn create_task<T: Clone + 'static>(
    coro: impl Future<Output = PyResult<T>> + 'static,
) -> Task<T> {
    let lp = running_loop();
    let number = lp.next_task_number();
    spawn(&lp, number, None, Box::pin(coro))
}

/// `asyncio.create_task(coro, name=name)`.
pub fn create_task_named<T: Clone + 'static>(
    name: &str,
    coro: impl Future<Output = PyResult<T>> + 'static,
) -> Task<T> {
    let lp = running_loop();
    spawn(&lp, 0, Some(Arc::from(name)), Box::pin(coro))
}

fn spawn<T: Clone + 'static>(
    lp: &Rc<Loop>,
    number: u64,
    name: Option<Arc<str>>,
    coro: Coro<T>,
) -> Task<T> {
    let id = lp.lab.next_worker_id();
    let names = std::cell::OnceCell::new();
    if let Some(name) = name {
        let _ = names.set(name);
    }
    let lane = lp.lanes.new_task(id, number, &names);
    let inner = Rc::new(TaskInner {
        core: FutCore::new(),
        hdr: TaskHdr {
            id,
            number,
            name: names,
            must_cancel: Cell::new(false),
            num_cancels_requested: Cell::new(0),
            fut_waiter: RefCell::new(None),
            throw: RefCell::new(None),
            yielded: RefCell::new(None),
            started: Cell::new(false),
            lane,
        },
        coro: RefCell::new(Some(coro)),
    });
    lp.register(inner.clone());
    lp.schedule_step(inner.clone());
    Task { inner }
}

/// The task running now, whatever its result type (`asyncio.current_task()`).
#[derive(Clone)]
pub struct TaskRef(pub(crate) Rc<dyn TaskDyn>);

impl TaskRef {
    pub fn name(&self) -> &str {
        self.0.hdr().name()
    }

    pub fn id(&self) -> WorkerId {
        self.0.hdr().id
    }

    pub fn cancel(&self) -> bool {
        self.0.cancel()
    }

    pub fn cancelling(&self) -> u32 {
        self.0.hdr().cancelling()
    }

    pub fn uncancel(&self) -> u32 {
        self.0.hdr().uncancel()
    }
}

/// `asyncio.current_task()`.
pub fn current_task() -> Option<TaskRef> {
    try_running_loop()?.current_task().map(TaskRef)
}

/// Uninstalls the loop from its thread however `run` ends (also on a panic).
struct Installed;

impl Drop for Installed {
    fn drop(&mut self) {
        if let Some(lp) = LOOP.with(|l| l.borrow_mut().take()) {
            lp.teardown();
            lp.lab.unregister_waker(lp.inbox_key);
        }
    }
}

/// `asyncio.run(main)`: run `main` as Task-1 on a new event loop on this
/// lab thread until it is done; then cancel the tasks still pending (and
/// let them finish), and wait for the executor's threads. Stop cancels
/// every task, lets them run their cleanup for a moment, and returns
/// `Stopped`.
pub fn run<T: Clone + 'static>(
    ctx: &Ctx,
    main: impl Future<Output = PyResult<T>> + 'static,
) -> SyncResult<T> {
    run_with(ctx, RunOptions::default(), main)
}

pub fn run_with<T: Clone + 'static>(
    ctx: &Ctx,
    options: RunOptions,
    main: impl Future<Output = PyResult<T>> + 'static,
) -> SyncResult<T> {
    if try_running_loop().is_some() {
        return Err(SyncError::RuntimeError(
            "asyncio.run() cannot be called from a running event loop".into(),
        ));
    }
    let lab = ctx.me.lab.clone();
    let handle = crate::LabHandle(lab.clone());
    let inbox = Arc::new(Monitor::new(Inbox::default()));
    let inbox_key = lab.register_waker(inbox.clone());
    let on = options.instrumented;
    let resource = on.then(|| {
        let r = ResourceBase::new(&handle, EVENT_LOOP, ResourceKind::EventLoop, None);
        r.report(0, 0, None, None);
        r
    });
    let lp = Rc::new(Loop {
        ctx: ctx.clone(),
        lab: lab.clone(),
        ready: RefCell::new(VecDeque::new()),
        timers: RefCell::new(BinaryHeap::new()),
        timer_seq: Cell::new(0),
        timers_cancelled: Cell::new(0),
        inbox,
        inbox_key,
        current: RefCell::new(None),
        tasks: RefCell::new(BTreeMap::new()),
        task_names: Cell::new(0),
        stopping: Cell::new(false),
        draining: Cell::new(None),
        lanes: Lanes::new(on, lab.probe.clone(), lab.task_lanes),
        jobs: RefCell::new(HashMap::new()),
        next_job: Cell::new(0),
        pool: RefCell::new(None),
        started: Instant::now(),
        resource,
        tasks_alive: on.then(|| Counter::new(&handle, TASKS_ALIVE)),
        lag: on.then(|| Counter::new(&handle, LOOP_LAG_MS)),
        reported: Cell::new((0, 0, 0)),
        iteration_lag: Cell::new(None),
    });
    LOOP.with(|l| *l.borrow_mut() = Some(lp.clone()));
    let _installed = Installed;

    let main = create_task(main);
    {
        // run_until_complete: the main task's done callback stops the loop.
        let stopper = Rc::downgrade(&lp);
        main.add_done_callback(Box::new(move || {
            if let Some(lp) = stopper.upgrade() {
                lp.stopping.set(true);
            }
        }));
    }
    run_forever(&lp);
    if lp.lab_stopping() {
        stop_everything(&lp);
        return Err(SyncError::Stopped);
    }
    // asyncio.run's _cancel_all_tasks: cancel what is left, run until done.
    let left = lp.all_tasks();
    if !left.is_empty() {
        for t in &left {
            t.cancel();
        }
        // As run_until_complete(gather(*tasks)): until they and the
        // callbacks their ends scheduled have run.
        while (!lp.tasks.borrow().is_empty() || !lp.ready.borrow().is_empty()) && !lp.lab_stopping()
        {
            lp.run_once(None);
        }
        if lp.lab_stopping() {
            stop_everything(&lp);
            return Err(SyncError::Stopped);
        }
    }
    // shutdown_default_executor: the pool's threads finish and are joined.
    let pool = lp.pool.borrow_mut().take();
    if let Some(pool) = pool {
        pool.shutdown()?;
    }
    lp.lanes.flush();
    lp.report(0);
    match main.result() {
        Some(Ok(v)) => Ok(v),
        Some(Err(e)) => Err(e.into()),
        None => Err(SyncError::Stopped),
    }
}

fn run_forever(lp: &Loop) {
    loop {
        lp.run_once(None);
        if lp.stopping.replace(false) || lp.lab_stopping() {
            return;
        }
    }
}

/// Stop: cancel every task and give them a moment to clean up (their
/// `except CancelledError` blocks run), then drop what is left.
fn stop_everything(lp: &Loop) {
    let grace = Instant::now() + STOP_GRACE;
    lp.draining.set(Some(grace));
    // Newest first, so a task awaiting others (main in a gather) is
    // cancelled after them, not with them all at once.
    let tasks: Vec<_> = lp.tasks.borrow().values().rev().cloned().collect();
    for chunk in tasks.chunks(512) {
        if Instant::now() >= grace {
            break;
        }
        for t in chunk {
            t.cancel();
        }
        lp.run_once(Some(Duration::ZERO));
    }
    drop(tasks);
    while !lp.tasks.borrow().is_empty() && Instant::now() < grace {
        lp.run_once(Some(Duration::from_millis(1)));
    }
    // Tasks that ignored the cancellation, or that the grace did not
    // reach (100,000 of them take longer), end cut off, in one pass.
    let left: Vec<_> = std::mem::take(&mut *lp.tasks.borrow_mut())
        .into_values()
        .collect();
    for t in &left {
        let h = t.hdr();
        lp.lanes.set(h.id, &h.lane, State::Killed, None);
        t.abandon();
    }
    drop(left);
    lp.lanes.flush();
}
