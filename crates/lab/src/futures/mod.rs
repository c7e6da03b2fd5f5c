//! `concurrent.futures`: `ThreadPoolExecutor` and `Future`, following
//! CPython 3.11's `thread.py` and `_base.py`, built on the lab's own threads
//! and primitives, so the pool's workers, its work queue and its idle
//! semaphore are instrumented like any others and Stop ends them.
//!
//! What the lab adds to Python: the executor is a resource whose level is its
//! busy workers (capacity: `max_workers`; waiters: work items no worker has
//! picked up yet), and every future is recorded (state, who ran it, the
//! exception it holds, whether anyone read it), so the window can show an
//! exception sitting unread in its future.

use std::collections::VecDeque;
use std::fmt::Debug;
use std::panic::{AssertUnwindSafe, catch_unwind, resume_unwind};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Weak};
use std::time::Instant;

use parking_lot::Mutex;

use super::error::{SyncError, SyncResult};
use super::extension::Extension;
use super::monitor::{Monitor, WaitEnd};
use super::probe::{EventKind, FutureId, ResourceKind, WorkerId};
use super::state::State;
use super::sync::{Counter, Queue, ResourceBase, Semaphore};
use super::worker::{Ctx, StateScope, Thread, current};
use super::{LabHandle, LabShared, WakerKey};

pub use crate::state::FutureState;

/// What `concurrent.futures.thread` keeps per interpreter (here: per lab),
/// made on first use. Its `_shutdown` flag is the lab's own
/// ([`LabShared::is_exiting`]): set at Python's exit even in a lab that
/// had no executor yet.
#[derive(Default)]
pub(crate) struct Globals {
    /// `ThreadPoolExecutor._counter`: numbers the default thread-name prefixes.
    counter: AtomicU32,
    /// Executors whose workers `_python_exit` must finish and join.
    executors: Mutex<Vec<Weak<Shared>>>,
    next_future: AtomicU32,
}

impl LabShared {
    fn futures(&self) -> Arc<Globals> {
        self.extensions.get::<Globals>()
    }
}

impl Extension for Globals {
    /// `_python_exit`, which `threading._shutdown` calls before joining the
    /// non-daemon threads: no new work, wake every worker (each finishes the
    /// work already queued first), join them.
    fn exit_before_join(&self) -> SyncResult<()> {
        let executors: Vec<Arc<Shared>> = self
            .executors
            .lock()
            .iter()
            .filter_map(Weak::upgrade)
            .collect();
        let mut threads = Vec::new();
        for ex in &executors {
            let state = ex.state.lock();
            for t in &state.threads {
                ex.work_queue.put(None)?;
                threads.push(t.clone());
            }
        }
        drop(executors);
        for t in threads {
            t.join(None)?;
        }
        Ok(())
    }
}

// ---- Future

/// Told when a future finishes or its cancellation is noticed (Python's
/// `_Waiter`, used by `as_completed`).
struct Waiter {
    m: Arc<Monitor<VecDeque<FutureId>>>,
    lab: Arc<LabShared>,
    key: WakerKey,
}

impl Waiter {
    fn new(lab: &Arc<LabShared>) -> Arc<Waiter> {
        let m = Arc::new(Monitor::new(VecDeque::new()));
        let key = lab.register_waker(m.clone());
        Arc::new(Waiter {
            m,
            lab: lab.clone(),
            key,
        })
    }

    fn add(&self, id: FutureId) {
        self.m.lock().push_back(id);
        self.m.notify_all();
    }
}

impl Drop for Waiter {
    fn drop(&mut self) {
        self.lab.unregister_waker(self.key);
    }
}

/// A monitor in the lab's waker set for as long as this lives.
struct Registered<'a> {
    lab: &'a LabShared,
    key: WakerKey,
}

impl<'a> Registered<'a> {
    fn new<S: Send + 'static>(lab: &'a LabShared, m: Arc<Monitor<S>>) -> Registered<'a> {
        let key = lab.register_waker(m);
        Registered { lab, key }
    }
}

impl Drop for Registered<'_> {
    fn drop(&mut self) {
        self.lab.unregister_waker(self.key);
    }
}

type Callback<T> = Box<dyn FnOnce(&Future<T>) + Send>;

struct Inner<T> {
    state: FutureState,
    outcome: Option<Result<T, SyncError>>,
    callbacks: Vec<Callback<T>>,
    waiters: Vec<Arc<Waiter>>,
}

struct Core<T> {
    id: FutureId,
    label: Arc<str>,
    lab: Arc<LabShared>,
    m: Arc<Monitor<Inner<T>>>,
}

/// `concurrent.futures.Future`: the eventual outcome of a submitted call.
/// Cloning gives another handle to the same future.
pub struct Future<T>(Arc<Core<T>>);

impl<T> Clone for Future<T> {
    fn clone(&self) -> Self {
        Future(self.0.clone())
    }
}

impl<T: Clone + Send + 'static> Future<T> {
    /// A pending future; executors make them (as `submit` does in Python).
    pub fn new(lab: &LabHandle, label: &str) -> Future<T> {
        let shared = &lab.0;
        let id = shared.futures().next_future.fetch_add(1, Ordering::Relaxed);
        let m = Arc::new(Monitor::new(Inner {
            state: FutureState::Pending,
            outcome: None,
            callbacks: Vec::new(),
            waiters: Vec::new(),
        }));
        let label: Arc<str> = Arc::from(label);
        shared.probe.emit(EventKind::Future {
            id,
            state: FutureState::Pending,
            label: Some(label.clone()),
            worker: None,
            error: None,
        });
        Future(Arc::new(Core {
            id,
            label,
            lab: shared.clone(),
            m,
        }))
    }

    pub fn id(&self) -> FutureId {
        self.0.id
    }

    /// What it stands for, e.g. "task(3)".
    pub fn label(&self) -> &str {
        &self.0.label
    }

    pub fn state(&self) -> FutureState {
        self.0.m.lock().state
    }

    fn emit(&self, state: FutureState, worker: Option<WorkerId>, error: Option<String>) {
        self.0.lab.probe.emit(EventKind::Future {
            id: self.0.id,
            state,
            label: None,
            worker,
            error,
        });
    }

    /// `cancel()`: only a future no worker has started can be cancelled;
    /// returns whether it is cancelled.
    pub fn cancel(&self) -> bool {
        {
            let mut s = self.0.m.lock();
            match s.state {
                FutureState::Running | FutureState::Finished => return false,
                FutureState::Cancelled | FutureState::CancelledAndNotified => return true,
                FutureState::Pending => {}
            }
            s.state = FutureState::Cancelled;
            self.0.m.notify_all();
        }
        self.emit(FutureState::Cancelled, None, None);
        self.invoke_callbacks();
        true
    }

    /// `cancelled()`.
    pub fn cancelled(&self) -> bool {
        self.state().is_cancelled()
    }

    /// `running()`.
    pub fn running(&self) -> bool {
        self.state() == FutureState::Running
    }

    /// `done()`: finished or cancelled.
    pub fn done(&self) -> bool {
        self.state().is_final()
    }

    /// Wait (as Python does, once) until it is done or `timeout` scenario
    /// seconds pass; the caller shows as waiting meanwhile.
    fn wait_done(&self, timeout: Option<f64>) -> SyncResult<std::sync::MutexGuard<'_, Inner<T>>> {
        let s = self.0.m.lock();
        if s.state.is_final() {
            return Ok(s);
        }
        drop(s);
        // Only a future someone waits on needs waking by Stop: registered
        // for the wait alone, so a program holding thousands of futures
        // does not make Stop wake thousands of monitors. (Registered before
        // the stop flag is checked: a Stop either sees it or is seen.)
        let waker = Registered::new(&self.0.lab, self.0.m.clone());
        let s = self.0.m.lock();
        let me = current();
        let deadline = timeout.map(|t| self.0.lab.now() + self.0.lab.scaled(t.max(0.0)));
        let _scope = StateScope::enter(me.as_deref(), State::Waiting, None);
        let (s, end) = self
            .0
            .m
            .wait_until(s, &self.0.lab, me.as_deref(), deadline, |s| {
                s.state.is_final()
            });
        drop(waker);
        match end {
            WaitEnd::Stopped => Err(SyncError::Stopped),
            _ => Ok(s),
        }
    }

    /// `result(timeout=None)`: its value; the exception the call raised,
    /// raised again here; `CancelledError` if it was cancelled;
    /// `TimeoutError` if it is not done in time.
    pub fn result(&self, timeout: Option<f64>) -> SyncResult<T> {
        let s = self.wait_done(timeout)?;
        if s.state.is_cancelled() {
            return Err(SyncError::cancelled());
        }
        let outcome = s.outcome.clone();
        drop(s);
        match outcome {
            Some(outcome) => {
                self.0
                    .lab
                    .probe
                    .emit(EventKind::FutureRead { id: self.0.id });
                outcome
            }
            None => Err(SyncError::timeout()),
        }
    }

    /// `exception(timeout=None)`: the exception the call raised, or `None`
    /// if it returned; `CancelledError` and `TimeoutError` as `result()`.
    pub fn exception(&self, timeout: Option<f64>) -> SyncResult<Option<SyncError>> {
        let s = self.wait_done(timeout)?;
        if s.state.is_cancelled() {
            return Err(SyncError::cancelled());
        }
        let outcome = s.outcome.clone();
        drop(s);
        match outcome {
            Some(outcome) => {
                self.0
                    .lab
                    .probe
                    .emit(EventKind::FutureRead { id: self.0.id });
                Ok(outcome.err())
            }
            None => Err(SyncError::timeout()),
        }
    }

    /// Whether it finished with an exception, without reading it (not
    /// Python: `exception()` would count as reading it; the lab looks
    /// without changing what the window shows as unread).
    pub fn holds_exception(&self) -> bool {
        let s = self.0.m.lock();
        s.state == FutureState::Finished && matches!(s.outcome, Some(Err(_)))
    }

    /// `add_done_callback(fn)`: called with the future once it is done (by
    /// the thread that finishes or cancels it), or at once, here, if it is.
    pub fn add_done_callback(&self, callback: impl FnOnce(&Future<T>) + Send + 'static) {
        {
            let mut s = self.0.m.lock();
            if !s.state.is_final() {
                s.callbacks.push(Box::new(callback));
                return;
            }
        }
        callback(self);
    }

    fn invoke_callbacks(&self) {
        let callbacks = std::mem::take(&mut self.0.m.lock().callbacks);
        for cb in callbacks {
            cb(self);
        }
    }

    /// `set_running_or_notify_cancel()`: a worker is about to run it.
    /// False if it was cancelled (and waiters are told so now).
    fn set_running_or_notify_cancel(&self, worker: Option<WorkerId>) -> SyncResult<bool> {
        let mut s = self.0.m.lock();
        match s.state {
            FutureState::Cancelled => {
                s.state = FutureState::CancelledAndNotified;
                for w in &s.waiters {
                    w.add(self.0.id);
                }
                drop(s);
                self.emit(FutureState::CancelledAndNotified, None, None);
                Ok(false)
            }
            FutureState::Pending => {
                s.state = FutureState::Running;
                drop(s);
                self.emit(FutureState::Running, worker, None);
                Ok(true)
            }
            other => Err(SyncError::RuntimeError(format!(
                "Future in unexpected state: {}",
                other.python_name()
            ))),
        }
    }

    /// `set_result` / `set_exception`: finish it, wake whoever waits.
    fn finish(&self, outcome: Result<T, SyncError>) -> SyncResult<()> {
        let error = outcome.as_ref().err().map(SyncError::python_line);
        {
            let mut s = self.0.m.lock();
            if s.state.is_final() {
                return Err(SyncError::exception(
                    "concurrent.futures._base.InvalidStateError",
                    format!("{}: {}", s.state.python_name(), self.0.label),
                ));
            }
            s.state = FutureState::Finished;
            s.outcome = Some(outcome);
            for w in &s.waiters {
                w.add(self.0.id);
            }
            self.0.m.notify_all();
        }
        self.emit(FutureState::Finished, None, error);
        self.invoke_callbacks();
        Ok(())
    }

    /// `set_result(value)` (for code that makes its own futures).
    pub fn set_result(&self, value: T) -> SyncResult<()> {
        self.finish(Ok(value))
    }

    /// `set_exception(exc)`.
    pub fn set_exception(&self, exc: SyncError) -> SyncResult<()> {
        self.finish(Err(exc))
    }

    /// Register `waiter` unless the future is already done; returns whether it is.
    fn install(&self, waiter: &Arc<Waiter>) -> bool {
        let mut s = self.0.m.lock();
        if matches!(
            s.state,
            FutureState::CancelledAndNotified | FutureState::Finished
        ) {
            return true;
        }
        s.waiters.push(waiter.clone());
        false
    }

    fn uninstall(&self, waiter: &Arc<Waiter>) {
        self.0.m.lock().waiters.retain(|w| !Arc::ptr_eq(w, waiter));
    }
}

/// The type-erased face of a future a work item carries.
trait Control: Send + Sync {
    fn start(&self, worker: Option<WorkerId>) -> SyncResult<bool>;
    fn cancel(&self) -> bool;
}

impl<T: Clone + Send + 'static> Control for Future<T> {
    fn start(&self, worker: Option<WorkerId>) -> SyncResult<bool> {
        self.set_running_or_notify_cancel(worker)
    }

    fn cancel(&self) -> bool {
        Future::cancel(self)
    }
}

/// Runs a submitted call and settles its future.
type Call = Box<dyn FnOnce(&Ctx) -> SyncResult<()> + Send>;

/// Python's `_WorkItem`: a future and the call that settles it.
struct WorkItem {
    future: Box<dyn Control>,
    call: Call,
}

// ---- as_completed

/// `concurrent.futures.as_completed(fs, timeout)`: the futures, each once,
/// as they finish (those already done first); `TimeoutError` if some are
/// not done `timeout` scenario seconds after the call.
pub fn as_completed<T: Clone + Send + 'static>(
    fs: &[Future<T>],
    timeout: Option<f64>,
) -> AsCompleted<T> {
    let lab = fs.first().map(|f| f.0.lab.clone());
    let deadline = match (&lab, timeout) {
        (Some(lab), Some(t)) => Some(lab.now() + lab.scaled(t.max(0.0))),
        _ => None,
    };
    // Python makes a set: each future once.
    let mut unique: Vec<Future<T>> = Vec::new();
    for f in fs {
        if !unique.iter().any(|u| u.id() == f.id()) {
            unique.push(f.clone());
        }
    }
    let waiter = lab.as_ref().map(Waiter::new);
    let mut ready = VecDeque::new();
    let mut pending = Vec::new();
    for f in unique {
        let done = match &waiter {
            Some(w) => f.install(w),
            None => true,
        };
        if done {
            ready.push_back(f);
        } else {
            pending.push(f);
        }
    }
    AsCompleted {
        total: ready.len() + pending.len(),
        ready,
        pending,
        waiter,
        deadline,
        over: false,
    }
}

/// The iterator [`as_completed`] returns.
pub struct AsCompleted<T: Clone + Send + 'static> {
    total: usize,
    ready: VecDeque<Future<T>>,
    pending: Vec<Future<T>>,
    waiter: Option<Arc<Waiter>>,
    deadline: Option<Instant>,
    over: bool,
}

impl<T: Clone + Send + 'static> Iterator for AsCompleted<T> {
    type Item = SyncResult<Future<T>>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.over {
            return None;
        }
        if let Some(f) = self.ready.pop_front() {
            return Some(Ok(f));
        }
        if self.pending.is_empty() {
            self.over = true;
            return None;
        }
        let waiter = self.waiter.clone()?;
        let me = current();
        let finished: Vec<FutureId> = {
            let q = waiter.m.lock();
            let (mut q, end) = if q.is_empty() {
                let _scope = StateScope::enter(me.as_deref(), State::Waiting, None);
                waiter
                    .m
                    .wait_until(q, &waiter.lab, me.as_deref(), self.deadline, |q| {
                        !q.is_empty()
                    })
            } else {
                (q, WaitEnd::Ready)
            };
            match end {
                WaitEnd::Stopped => {
                    self.over = true;
                    return Some(Err(SyncError::Stopped));
                }
                WaitEnd::TimedOut => {
                    self.over = true;
                    return Some(Err(SyncError::exception(
                        "TimeoutError",
                        format!(
                            "{} (of {}) futures unfinished",
                            self.pending.len(),
                            self.total
                        ),
                    )));
                }
                WaitEnd::Ready => q.drain(..).collect(),
            }
        };
        for id in finished {
            if let Some(i) = self.pending.iter().position(|f| f.id() == id) {
                let f = self.pending.remove(i);
                f.uninstall(&waiter);
                self.ready.push_back(f);
            }
        }
        self.next()
    }
}

impl<T: Clone + Send + 'static> Drop for AsCompleted<T> {
    fn drop(&mut self) {
        if let Some(w) = &self.waiter {
            for f in &self.pending {
                f.uninstall(w);
            }
        }
    }
}

// ---- map

/// The results of [`ThreadPoolExecutor::map`], in the order the items were
/// given, each waited for in turn. The first exception ends it and cancels
/// the calls no worker has started; so does dropping it early (Python's
/// generator, closed).
pub struct MapResults<T: Clone + Send + 'static> {
    futures: VecDeque<Future<T>>,
    deadline: Option<Instant>,
    lab: Arc<LabShared>,
}

impl<T: Clone + Send + 'static> MapResults<T> {
    /// The futures not yet read (not Python: `map` hides them).
    pub fn futures(&self) -> impl Iterator<Item = &Future<T>> {
        self.futures.iter()
    }

    fn cancel_rest(&mut self) {
        for f in self.futures.drain(..) {
            f.cancel();
        }
    }
}

impl<T: Clone + Send + 'static> Iterator for MapResults<T> {
    type Item = SyncResult<T>;

    fn next(&mut self) -> Option<Self::Item> {
        let f = self.futures.pop_front()?;
        let timeout = self.deadline.map(|d| {
            let left = d.saturating_duration_since(self.lab.now()).as_secs_f64();
            left * self.lab.speed()
        });
        let r = f.result(timeout);
        // Python's _result_or_cancel: a call that timed out is cancelled.
        f.cancel();
        if r.is_err() {
            self.cancel_rest();
        }
        Some(r)
    }
}

impl<T: Clone + Send + 'static> Drop for MapResults<T> {
    fn drop(&mut self) {
        self.cancel_rest();
    }
}

// ---- ThreadPoolExecutor

struct ExecState {
    /// `_shutdown`.
    shutdown: bool,
    /// `_threads`, in the order they were started.
    threads: Vec<Thread>,
    /// Work items put and not yet taken by a worker (nor cancelled by shutdown).
    pending: usize,
    /// Workers running a call now.
    busy: usize,
    /// Workers that have left (after shutdown).
    left: usize,
}

struct Shared {
    lab: LabHandle,
    base: ResourceBase,
    max_workers: usize,
    prefix: String,
    work_queue: Queue<Option<WorkItem>>,
    idle_semaphore: Semaphore,
    /// Worker threads alive and not running a call (not Python's
    /// `_idle_semaphore`, which only approximates it): "{prefix}.idle_workers".
    idle_workers: Counter,
    /// Also Python's `_shutdown_lock`.
    state: Mutex<ExecState>,
}

impl Shared {
    fn report(&self, s: &ExecState) {
        self.base.report(
            s.busy as i64,
            s.pending.min(u32::MAX as usize) as u32,
            Some(self.max_workers as i64),
            None,
        );
        let idle = s.threads.len().saturating_sub(s.left + s.busy) as i64;
        if self.idle_workers.get() != idle {
            self.idle_workers.set(idle);
        }
    }
}

impl Drop for Shared {
    fn drop(&mut self) {
        // The executor is gone (Python's weakref callback): wake the
        // workers so they leave once the queued work is done.
        let _ = self.work_queue.put(None);
    }
}

/// `concurrent.futures.ThreadPoolExecutor(max_workers)`. Workers start as
/// work arrives (an idle one is reused first), up to `max_workers`, named
/// `ThreadPoolExecutor-N_i` as Python names them. Cloning gives another
/// handle to the same executor; when the last is dropped its workers leave.
#[derive(Clone)]
pub struct ThreadPoolExecutor(Arc<Shared>);

impl ThreadPoolExecutor {
    /// `ThreadPoolExecutor(max_workers)`; `max_workers` of 0 is Python's
    /// ValueError.
    pub fn new(lab: &LabHandle, max_workers: usize) -> SyncResult<ThreadPoolExecutor> {
        Self::with_prefix(lab, max_workers, "")
    }

    /// `ThreadPoolExecutor(max_workers, thread_name_prefix=prefix)`; an
    /// empty prefix is Python's default, "ThreadPoolExecutor-N".
    pub fn with_prefix(
        lab: &LabHandle,
        max_workers: usize,
        prefix: &str,
    ) -> SyncResult<ThreadPoolExecutor> {
        if max_workers == 0 {
            return Err(SyncError::ValueError(
                "max_workers must be greater than 0".into(),
            ));
        }
        let globals = lab.0.futures();
        let prefix = if prefix.is_empty() {
            let n = globals.counter.fetch_add(1, Ordering::Relaxed);
            format!("ThreadPoolExecutor-{n}")
        } else {
            prefix.to_string()
        };
        let base = ResourceBase::new(
            lab,
            &prefix,
            ResourceKind::ThreadPoolExecutor,
            Some(max_workers as i64),
        );
        let shared = Arc::new(Shared {
            lab: lab.clone(),
            base,
            max_workers,
            work_queue: lab.queue(&format!("{prefix}._work_queue"), 0),
            idle_semaphore: lab.semaphore(&format!("{prefix}._idle_semaphore"), 0),
            idle_workers: lab.counter(&format!("{prefix}.idle_workers")),
            prefix,
            state: Mutex::new(ExecState {
                shutdown: false,
                threads: Vec::new(),
                pending: 0,
                busy: 0,
                left: 0,
            }),
        });
        shared.report(&shared.state.lock());
        {
            let mut executors = globals.executors.lock();
            executors.retain(|w| w.strong_count() > 0);
            executors.push(Arc::downgrade(&shared));
        }
        Ok(ThreadPoolExecutor(shared))
    }

    /// Python's default `max_workers`: `min(32, os.cpu_count() + 4)`.
    pub fn default_max_workers() -> usize {
        let cpus = std::thread::available_parallelism().map_or(1, usize::from);
        (cpus + 4).min(32)
    }

    /// `ThreadPoolExecutor(max_workers)` as a `with` block: run `body`, then
    /// `shutdown(wait=True)`, which waits for every call submitted; the
    /// body's error, if any, comes out after that.
    pub fn with<R>(
        lab: &LabHandle,
        max_workers: usize,
        body: impl FnOnce(&ThreadPoolExecutor) -> SyncResult<R>,
    ) -> SyncResult<R> {
        let executor = ThreadPoolExecutor::new(lab, max_workers)?;
        let result = body(&executor);
        let shut = executor.shutdown(true, false);
        let value = result?;
        shut?;
        Ok(value)
    }

    pub fn max_workers(&self) -> usize {
        self.0.max_workers
    }

    /// The prefix of its threads' names (and its resources' names).
    pub fn name(&self) -> &str {
        &self.0.prefix
    }

    /// The worker threads started so far.
    pub fn threads(&self) -> Vec<Thread> {
        self.0.state.lock().threads.clone()
    }

    /// Workers running a call now.
    pub fn busy(&self) -> usize {
        self.0.state.lock().busy
    }

    /// Work items no worker has picked up yet.
    pub fn pending(&self) -> usize {
        self.0.state.lock().pending
    }

    /// `submit(fn, *args)`: schedule `call` and return its future at once.
    /// `label` says what it is in the window ("task(3)"). A RuntimeError
    /// after `shutdown()`, or once the program is exiting.
    pub fn submit<T: Clone + Send + 'static>(
        &self,
        label: &str,
        call: impl FnOnce(&Ctx) -> SyncResult<T> + Send + 'static,
    ) -> SyncResult<Future<T>> {
        let shared = &self.0;
        // The queue's put and a new worker's start happen under the
        // executor's lock: no step points (one step: `submit`).
        let _no_steps = super::worker::NoSteps::new();
        let mut s = shared.state.lock();
        if s.shutdown {
            return Err(SyncError::RuntimeError(
                "cannot schedule new futures after shutdown".into(),
            ));
        }
        if shared.lab.0.is_exiting() {
            return Err(SyncError::RuntimeError(
                "cannot schedule new futures after interpreter shutdown".into(),
            ));
        }
        let future: Future<T> = Future::new(&shared.lab, label);
        let settle = future.clone();
        let item = WorkItem {
            future: Box::new(future.clone()),
            call: Box::new(move |ctx: &Ctx| {
                match catch_unwind(AssertUnwindSafe(|| call(ctx))) {
                    // Stop (not an exception of the call): the worker leaves.
                    Ok(Err(SyncError::Stopped)) => Err(SyncError::Stopped),
                    Ok(outcome) => settle.finish(outcome),
                    Err(payload) => {
                        // A bug in Hilos, never a lesson: settle the future so
                        // no one waits forever, then fail the worker loudly.
                        let _ = settle.finish(Err(SyncError::exception(
                            "SystemError",
                            "a lab task panicked",
                        )));
                        resume_unwind(payload)
                    }
                }
            }),
        };
        shared.work_queue.put(Some(item))?;
        s.pending += 1;
        shared.report(&s);
        self.adjust_thread_count(&mut s)?;
        Ok(future)
    }

    /// `map(fn, items)`: submit a call per item at once; the results come
    /// in the items' order. Each call is labelled `label(item)`.
    pub fn map<I, T, F>(
        &self,
        label: &str,
        call: F,
        items: impl IntoIterator<Item = I>,
    ) -> SyncResult<MapResults<T>>
    where
        I: Debug + Send + 'static,
        T: Clone + Send + 'static,
        F: Fn(&Ctx, I) -> SyncResult<T> + Send + Sync + 'static,
    {
        self.map_timeout(label, call, items, None)
    }

    /// `map(fn, items, timeout=seconds)`: as [`ThreadPoolExecutor::map`];
    /// a result not ready `timeout` scenario seconds after the call is a
    /// TimeoutError.
    pub fn map_timeout<I, T, F>(
        &self,
        label: &str,
        call: F,
        items: impl IntoIterator<Item = I>,
        timeout: Option<f64>,
    ) -> SyncResult<MapResults<T>>
    where
        I: Debug + Send + 'static,
        T: Clone + Send + 'static,
        F: Fn(&Ctx, I) -> SyncResult<T> + Send + Sync + 'static,
    {
        let deadline = timeout.map(|t| self.0.lab.now() + self.0.lab.scaled(t.max(0.0)));
        let call = Arc::new(call);
        let mut futures = VecDeque::new();
        for item in items {
            let call = call.clone();
            let name = format!("{label}({item:?})");
            futures.push_back(self.submit(&name, move |c| call(c, item))?);
        }
        Ok(MapResults {
            futures,
            deadline,
            lab: self.0.lab.0.clone(),
        })
    }

    /// `shutdown(wait=True, cancel_futures=False)`: no new work; with
    /// `cancel_futures`, cancel the work no worker has started; with `wait`,
    /// wait until every worker has finished the rest and left.
    pub fn shutdown(&self, wait: bool, cancel_futures: bool) -> SyncResult<()> {
        let shared = &self.0;
        let threads = {
            // Queue calls under the executor's lock: no step points.
            let _no_steps = super::worker::NoSteps::new();
            let mut s = shared.state.lock();
            s.shutdown = true;
            if cancel_futures {
                loop {
                    match shared.work_queue.get_nowait() {
                        Ok(Some(item)) => {
                            s.pending = s.pending.saturating_sub(1);
                            item.future.cancel();
                        }
                        Ok(None) => {}
                        Err(SyncError::Empty) => break,
                        Err(e) => return Err(e),
                    }
                }
                shared.report(&s);
            }
            // Wake workers blocked on an empty queue.
            shared.work_queue.put(None)?;
            s.threads.clone()
        };
        if wait {
            for t in threads {
                t.join(None)?;
            }
        }
        Ok(())
    }

    /// `_adjust_thread_count`: reuse an idle worker if there is one, else
    /// start another while fewer than `max_workers` run.
    fn adjust_thread_count(&self, s: &mut ExecState) -> SyncResult<()> {
        let shared = &self.0;
        if shared.idle_semaphore.try_acquire()? {
            return Ok(());
        }
        let n = s.threads.len();
        if n < shared.max_workers {
            let name = format!("{}_{n}", shared.prefix);
            let weak = Arc::downgrade(shared);
            let queue = shared.work_queue.clone();
            let idle = shared.idle_semaphore.clone();
            let t = shared.lab.thread(&name, false, move |ctx| {
                worker_loop(ctx, &weak, &queue, &idle)
            });
            t.start()?;
            s.threads.push(t);
            shared.report(s);
        }
        Ok(())
    }
}

/// Keeps the busy count right however a call ends.
struct Busy<'a>(&'a Weak<Shared>);

impl Busy<'_> {
    fn change(weak: &Weak<Shared>, f: impl FnOnce(&mut ExecState)) {
        if let Some(ex) = weak.upgrade() {
            let mut s = ex.state.lock();
            f(&mut s);
            ex.report(&s);
        }
    }
}

impl Drop for Busy<'_> {
    fn drop(&mut self) {
        Busy::change(self.0, |s| s.busy = s.busy.saturating_sub(1));
    }
}

/// `_worker`: take work items until told to leave.
fn worker_loop(
    ctx: &Ctx,
    executor: &Weak<Shared>,
    queue: &Queue<Option<WorkItem>>,
    idle: &Semaphore,
) -> SyncResult<()> {
    loop {
        match queue.get()? {
            Some(item) => {
                Busy::change(executor, |s| s.pending = s.pending.saturating_sub(1));
                if item.future.start(Some(ctx.id()))? {
                    Busy::change(executor, |s| s.busy += 1);
                    let _busy = Busy(executor);
                    (item.call)(ctx)?;
                }
                // One more idle worker (Python counts it even if it then
                // picks up more work at once).
                if executor.strong_count() > 0 {
                    idle.release(1)?;
                }
            }
            None => {
                let ex = executor.upgrade();
                let exiting = ctx.lab().0.is_exiting();
                let shut = ex.as_ref().is_none_or(|ex| ex.state.lock().shutdown);
                if exiting || shut {
                    if let Some(ex) = &ex {
                        ex.state.lock().shutdown = true;
                    }
                    drop(ex);
                    Busy::change(executor, |s| s.left += 1);
                    // Pass the word on to the other workers.
                    queue.put(None)?;
                    return Ok(());
                }
            }
        }
    }
}
