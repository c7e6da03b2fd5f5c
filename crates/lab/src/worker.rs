//! Workers: real, named `std::thread`s with Python's Thread semantics (start,
//! join with timeout, is_alive, daemon), their states, and the context a body runs in.

use std::any::Any;
use std::cell::RefCell;
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::atomic::{AtomicBool, AtomicU8, Ordering};
use std::sync::{Arc, Mutex, OnceLock, PoisonError};
use std::time::{Duration, Instant};

use super::error::{SyncError, SyncResult};
use super::gate::{Op, OpKind};
use super::monitor::{Monitor, WaitEnd};
use super::probe::{EventKind, Target, WorkerId};
use super::state::State;
use super::{LabShared, WakerKey, WorkerPriority};

pub(crate) type Body = Box<dyn FnOnce(&Ctx) -> SyncResult<()> + Send + 'static>;
/// The body every member of a [`Crew`] runs, given its number.
type CrewBody = Arc<dyn Fn(&Ctx, usize) -> SyncResult<()> + Send + Sync>;

pub(crate) struct Finish {
    started: bool,
    finished: bool,
}

pub(crate) struct WorkerInner {
    pub id: WorkerId,
    pub name: Arc<str>,
    pub daemon: bool,
    pub lab: Arc<LabShared>,
    state: AtomicU8,
    killed: AtomicBool,
    retire: AtomicBool,
    pub(crate) finish: Arc<Monitor<Finish>>,
    /// The finish monitor's place in the lab's waker set, left at the end.
    finish_waker: WakerKey,
    body: Mutex<Option<Body>>,
    /// `Thread.ident`: set when the thread starts, kept after it ends.
    ident: OnceLock<u64>,
    /// `Thread.native_id`: the OS thread id, set by the thread itself.
    native_id: OnceLock<u64>,
    /// The Python interpreter this thread belongs to (see `lab::gil`), and
    /// whether it has one at all (read without the lock on every wait).
    pub(crate) interp: parking_lot::Mutex<Option<Arc<super::gil::InterpCore>>>,
    pub(crate) has_interp: AtomicBool,
    /// Whether it holds its interpreter's GIL: `gil::NOT_HELD`, `HELD`, `WANTED`.
    pub(crate) gil: AtomicU8,
    /// What it waits on now; kept only in a gated lab, for the step cards.
    target: parking_lot::Mutex<Option<Target>>,
}

impl WorkerInner {
    pub fn is_killed(&self) -> bool {
        self.killed.load(Ordering::Acquire)
    }

    pub fn state(&self) -> State {
        State::ALL[self.state.load(Ordering::Acquire) as usize]
    }

    /// What it waits on now (known in a gated lab only).
    pub(crate) fn target(&self) -> Option<Target> {
        *self.target.lock()
    }

    pub(crate) fn set_state(&self, state: State, target: Option<Target>) {
        self.set_state_timed(state, target, false);
    }

    /// Like [`WorkerInner::set_state`], saying whether the wait has a timeout.
    pub(crate) fn set_state_timed(&self, state: State, target: Option<Target>, timed: bool) {
        self.state.store(state.index() as u8, Ordering::Release);
        if self.lab.gate.is_some() {
            *self.target.lock() = target;
        }
        self.lab.probe.emit(EventKind::State {
            id: self.id,
            state,
            target,
            timed,
        });
    }

    /// Cut this worker off: its current or next blocking call returns `Stopped`.
    pub(crate) fn kill(&self) {
        self.killed.store(true, Ordering::Release);
        self.lab.wake_everything();
    }

    /// The body is over (or never ran): wake joiners, leave the lab's sets.
    fn mark_finished(&self) {
        // Leave `enumerate()` first: whoever sees this thread finished (a
        // join returning) must not still count it in `active_count()`.
        self.lab.remove_worker(self.id);
        let mut f = self.finish.lock();
        f.finished = true;
        drop(f);
        self.finish.notify_all();
        self.lab.unregister_waker(self.finish_waker);
    }
}

thread_local! {
    static CURRENT: RefCell<Option<Arc<WorkerInner>>> = const { RefCell::new(None) };
    /// How many [`NoSteps`] guards this thread holds.
    static NO_STEPS: std::cell::Cell<u32> = const { std::cell::Cell::new(0) };
}

/// While held, this thread passes its step points without pausing: for the
/// lab's own code that calls primitives under a lock of its own (a pool's
/// `submit()` puts the work item and starts a worker under the executor's
/// lock), where pausing would keep that lock from the thread picked next.
pub(crate) struct NoSteps(());

impl NoSteps {
    pub fn new() -> NoSteps {
        NO_STEPS.with(|n| n.set(n.get() + 1));
        NoSteps(())
    }

    /// Whether step points pause on this thread.
    pub fn off() -> bool {
        NO_STEPS.with(|n| n.get() > 0)
    }
}

impl Drop for NoSteps {
    fn drop(&mut self) {
        NO_STEPS.with(|n| n.set(n.get().saturating_sub(1)));
    }
}

/// `threading.current_thread()` where there is no [`Ctx`] at hand (a
/// Barrier's action runs on whichever thread arrives last): the lab thread
/// running on this OS thread, if it is one.
pub fn current_thread() -> Option<Thread> {
    current().map(|inner| Thread { inner })
}

/// The worker running on this OS thread, if this is a lab worker.
pub(crate) fn current() -> Option<Arc<WorkerInner>> {
    CURRENT.with(|c| c.borrow().clone())
}

/// Enter `state` for the duration of a blocking wait; back to running on drop.
/// Only built once a wait is certain, so uncontended calls emit nothing.
pub(crate) struct StateScope<'a> {
    worker: Option<&'a WorkerInner>,
}

impl<'a> StateScope<'a> {
    /// A thread that belongs to an interpreter with a GIL lets go of it
    /// here, as CPython releases it around every blocking call.
    pub fn enter(worker: Option<&'a WorkerInner>, state: State, target: Option<Target>) -> Self {
        Self::enter_timed(worker, state, target, false)
    }

    /// Enter a wait that gives up by itself after a timeout when `timed`.
    pub fn enter_timed(
        worker: Option<&'a WorkerInner>,
        state: State,
        target: Option<Target>,
        timed: bool,
    ) -> Self {
        if let Some(w) = worker {
            w.gil_wait_begins(state, target, timed);
        }
        StateScope { worker }
    }
}

impl Drop for StateScope<'_> {
    /// Back to running; or, under a GIL held by another thread, queued for
    /// it (taken at the thread's next Python line: the caller may still
    /// hold a primitive's lock here, so this never blocks).
    fn drop(&mut self) {
        if let Some(w) = self.worker {
            w.gil_wait_ends();
        }
    }
}

/// A handle to a worker, like Python's `threading.Thread` object.
#[derive(Clone)]
pub struct Thread {
    pub(crate) inner: Arc<WorkerInner>,
}

impl Thread {
    pub(crate) fn create(lab: &Arc<LabShared>, name: &str, daemon: bool, body: Body) -> Thread {
        let id = lab.next_worker_id();
        let finish = Arc::new(Monitor::new(Finish {
            started: false,
            finished: false,
        }));
        let finish_waker = lab.register_waker(finish.clone());
        let inner = Arc::new(WorkerInner {
            id,
            name: Arc::from(name),
            daemon,
            lab: lab.clone(),
            state: AtomicU8::new(State::Created.index() as u8),
            killed: AtomicBool::new(false),
            retire: AtomicBool::new(false),
            finish,
            finish_waker,
            body: Mutex::new(Some(body)),
            ident: OnceLock::new(),
            native_id: OnceLock::new(),
            interp: parking_lot::Mutex::new(None),
            has_interp: AtomicBool::new(false),
            gil: AtomicU8::new(super::gil::NOT_HELD),
            target: parking_lot::Mutex::new(None),
        });
        // A thread belongs to the interpreter of the thread that made it.
        if let Some(creator) = current().filter(|c| Arc::ptr_eq(&c.lab, lab))
            && let Some(core) = creator.interp.lock().clone()
        {
            *inner.interp.lock() = Some(core);
            inner.has_interp.store(true, Ordering::Release);
        }
        lab.probe.emit(EventKind::WorkerCreated {
            id,
            name: inner.name.clone(),
            daemon,
            process: None,
        });
        inner.set_state(State::Created, None);
        Thread { inner }
    }

    pub fn id(&self) -> WorkerId {
        self.inner.id
    }

    pub fn name(&self) -> &str {
        &self.inner.name
    }

    pub fn daemon(&self) -> bool {
        self.inner.daemon
    }

    pub fn state(&self) -> State {
        self.inner.state()
    }

    /// `Thread.start()`: spawn the OS thread. Like Python, a second start is a
    /// RuntimeError.
    pub fn start(&self) -> SyncResult<()> {
        self.inner
            .lab
            .step(|| Op::new(OpKind::Start, format!("{}.start()", self.inner.name)));
        {
            let mut f = self.inner.finish.lock();
            if f.started {
                return Err(SyncError::RuntimeError(
                    "threads can only be started once".into(),
                ));
            }
            f.started = true;
        }
        let lab = &self.inner.lab;
        if lab.is_stopping() {
            self.finish_with(State::Killed);
            return Err(SyncError::Stopped);
        }
        self.inner.set_state(State::Ready, None);
        // Alive from now on, as `is_alive()` is in Python once start() returns.
        lab.add_worker(self.inner.clone());
        // Gated: it waits for its first turn from the start.
        if let Some(gate) = &lab.gate {
            gate.register(&self.inner);
        }
        let inner = self.inner.clone();
        let spawned = std::thread::Builder::new()
            .name(lab.os_thread_name(self.inner.id))
            .spawn(move || run_worker(inner));
        match spawned {
            Ok(handle) => {
                // Known before start() returns, as in Python.
                let _ = self.inner.ident.set(ident_of(&handle));
                lab.add_os_thread(handle);
                Ok(())
            }
            Err(e) => {
                let message = format!("the OS refused a new thread: {e}");
                self.inner.lab.probe.emit(EventKind::Failed {
                    id: self.inner.id,
                    message: message.clone(),
                    panic: false,
                });
                self.finish_with(State::Failed);
                if let Some(gate) = &lab.gate {
                    gate.exit(self.inner.id);
                }
                Err(SyncError::RuntimeError(message))
            }
        }
    }

    fn finish_with(&self, state: State) {
        self.inner.set_state(state, None);
        self.inner.mark_finished();
    }

    /// `Thread.ident`: a number identifying the thread, `None` before
    /// `start()`; it stays after the thread ends (and, as in Python, the OS
    /// may give it to a later thread). On Unix it is `pthread_self()`, what
    /// CPython's `threading.get_ident()` returns.
    pub fn ident(&self) -> Option<u64> {
        self.inner.ident.get().copied()
    }

    /// `Thread.native_id`: the OS's id for the thread (Linux: its TID, the
    /// number `ps -L` and `/proc/PID/task` show), `None` before `start()`.
    pub fn native_id(&self) -> Option<u64> {
        if let Some(id) = self.inner.native_id.get() {
            return Some(*id);
        }
        if !self.inner.finish.lock().started {
            return None;
        }
        // Started: the thread sets it first thing; wait for that, as
        // Python's start() waits for the thread to begin. A thread the OS
        // refused never sets it.
        let deadline = Instant::now() + Duration::from_secs(1);
        while Instant::now() < deadline {
            if let Some(id) = self.inner.native_id.get() {
                return Some(*id);
            }
            if self.is_finished() {
                break;
            }
            std::thread::sleep(Duration::from_micros(50));
        }
        self.inner.native_id.get().copied()
    }

    /// `Thread.is_alive()`: started and not yet finished.
    pub fn is_alive(&self) -> bool {
        let f = self.inner.finish.lock();
        f.started && !f.finished
    }

    pub fn is_finished(&self) -> bool {
        self.inner.finish.lock().finished
    }

    /// `Thread.join(timeout)`: wait until the thread ends or `timeout` scenario
    /// seconds pass (scaled by the lab's speed). Returns whether it ended; like
    /// Python, a timed-out join is not an error — check `is_alive()`.
    pub fn join(&self, timeout: Option<f64>) -> SyncResult<bool> {
        let me = current();
        if me.as_ref().is_some_and(|m| m.id == self.inner.id) {
            return Err(SyncError::RuntimeError("cannot join current thread".into()));
        }
        let lab = &self.inner.lab;
        lab.step(|| {
            let args = timeout.map_or_else(String::new, |t| {
                format!("timeout={}", super::knobs::format_number(t))
            });
            Op::new(OpKind::Join, format!("{}.join({args})", self.inner.name))
        });
        // CPython 3.11 waits max(timeout, 0): a negative timeout (undocumented)
        // returns at once, as 0 does.
        let deadline = timeout.map(|t| lab.now() + lab.scaled(t.max(0.0)));
        let guard = self.inner.finish.lock();
        if !guard.started {
            return Err(SyncError::RuntimeError(
                "cannot join thread before it is started".into(),
            ));
        }
        if guard.finished {
            return Ok(true);
        }
        let _scope = StateScope::enter(
            me.as_deref(),
            State::Waiting,
            Some(Target::Thread(self.inner.id)),
        );
        let (_guard, end) =
            self.inner
                .finish
                .wait_until(guard, lab, me.as_deref(), deadline, |f| f.finished);
        match end {
            WaitEnd::Ready => Ok(true),
            WaitEnd::TimedOut => Ok(false),
            WaitEnd::Stopped => Err(SyncError::Stopped),
        }
    }

    /// Ask a worker to leave its loop at the next `should_retire()` check; used
    /// when a live knob lowers a worker count.
    pub fn retire(&self) {
        self.inner.retire.store(true, Ordering::Release);
    }

    pub fn is_retiring(&self) -> bool {
        self.inner.retire.load(Ordering::Acquire)
    }
}

/// What `threading.get_ident()` would say for the thread behind `handle`.
#[cfg(unix)]
fn ident_of(handle: &std::thread::JoinHandle<()>) -> u64 {
    use std::os::unix::thread::JoinHandleExt;
    // pthread_t is an integer on Linux, a pointer on macOS.
    #[allow(clippy::unnecessary_cast)]
    let ident = handle.as_pthread_t() as u64;
    ident
}

/// Elsewhere a number unique in the process (CPython uses the OS thread id).
#[cfg(not(unix))]
fn ident_of(_handle: &std::thread::JoinHandle<()>) -> u64 {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

/// The calling OS thread's id: Linux's TID.
#[cfg(target_os = "linux")]
fn os_thread_id() -> u64 {
    // SAFETY: gettid has no preconditions.
    (unsafe { libc::gettid() }) as u64
}

/// Elsewhere a number unique in the process.
#[cfg(not(target_os = "linux"))]
fn os_thread_id() -> u64 {
    static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

/// What `threading.excepthook` receives (Python's `ExceptHookArgs`, without
/// the traceback the lab does not keep).
pub struct ExceptHookArgs<'a> {
    /// The exception's class as Python names it, e.g. "ValueError".
    pub exc_type: &'a str,
    /// `str(exc)`: its message, maybe empty.
    pub exc_value: &'a str,
    pub thread: &'a Thread,
}

/// A replacement for `threading.excepthook`.
pub type ExceptHook = Arc<dyn Fn(&ExceptHookArgs) + Send + Sync>;

fn panic_message(payload: &(dyn Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "panic with a non-text payload".to_string()
    }
}

/// Lower this OS thread's scheduling priority below the window's. Best
/// effort: where the OS refuses, the worker runs at normal priority.
fn lower_priority() {
    // Linux: niceness is per thread; a positive one needs no privilege.
    // Below the process's main thread (the window's), not at a fixed value:
    // a Hilos started with `nice 10` keeps its workers at 15, not 5 (which
    // would put them above the window, and which only root may set).
    #[cfg(target_os = "linux")]
    {
        // SAFETY: getpriority only reads its arguments; on Linux, `who` =
        // the process id names the main thread.
        let main = unsafe { libc::getpriority(libc::PRIO_PROCESS, std::process::id()) };
        let nice = (main + super::BELOW_UI_NICENESS as libc::c_int).min(19);
        // SAFETY: setpriority only reads its arguments; `who` 0 is this thread.
        let _ = unsafe { libc::setpriority(libc::PRIO_PROCESS, 0, nice) };
    }
    #[cfg(windows)]
    {
        use thread_priority::{ThreadPriority, WinAPIThreadPriority, set_current_thread_priority};
        let _ = set_current_thread_priority(ThreadPriority::Os(
            WinAPIThreadPriority::BelowNormal.into(),
        ));
    }
}

fn run_worker(inner: Arc<WorkerInner>) {
    if inner.lab.priority() == WorkerPriority::BelowUi {
        lower_priority();
    }
    let _ = inner.native_id.set(os_thread_id());
    // start() stores the ident right after the spawn returns; as in Python,
    // the body never runs without it (get_ident() inside must answer).
    inner.ident.wait();
    CURRENT.with(|c| *c.borrow_mut() = Some(inner.clone()));
    if let Some(gate) = &inner.lab.gate {
        gate.begin(&inner);
    }
    let ctx = Ctx { me: inner.clone() };
    let body = inner
        .body
        .lock()
        .unwrap_or_else(PoisonError::into_inner)
        .take();
    let outcome = if inner.has_interp.load(Ordering::Acquire) {
        // A Python thread starts by taking its interpreter's GIL.
        match inner.ensure_gil(true) {
            Ok(()) => {
                inner.set_state(State::Running, None);
                match body {
                    Some(body) => catch_unwind(AssertUnwindSafe(|| body(&ctx))),
                    None => Ok(Ok(())),
                }
            }
            Err(e) => Ok(Err(e)),
        }
    } else {
        inner.set_state(State::Running, None);
        match body {
            Some(body) => catch_unwind(AssertUnwindSafe(|| body(&ctx))),
            None => Ok(Ok(())),
        }
    };
    let failure = match outcome {
        Ok(Ok(())) => None,
        Ok(Err(SyncError::Stopped)) => {
            inner.set_state(State::Killed, None);
            Some(None)
        }
        Ok(Err(e)) => Some(Some((
            e.python_name().to_string(),
            e.message().to_string(),
            false,
        ))),
        // A Rust panic is a bug in Hilos, not a lesson: CPython's name for
        // an internal error of the interpreter.
        Err(payload) => Some(Some((
            "SystemError".to_string(),
            panic_message(payload.as_ref()),
            true,
        ))),
    };
    // The last step: the thread ends when it is picked here.
    inner
        .lab
        .step(|| Op::new(OpKind::Exit, format!("{} ends", inner.name)));
    match failure {
        None => inner.set_state(State::Done, None),
        Some(None) => {}
        Some(Some((exc_type, exc_value, panic))) => {
            // Python calls threading.excepthook, whose default prints
            // "Exception in thread NAME:", the traceback, and the exception's
            // line; the thread dies and the rest of the program goes on. So
            // does the lab (it keeps no Python traceback to print).
            let thread = Thread {
                inner: inner.clone(),
            };
            let args = ExceptHookArgs {
                exc_type: &exc_type,
                exc_value: &exc_value,
                thread: &thread,
            };
            match inner.lab.excepthook() {
                Some(hook) => hook(&args),
                None => default_excepthook(&inner, &args),
            }
            let message = if panic || exc_value.is_empty() {
                if panic { exc_value } else { exc_type }
            } else {
                format!("{exc_type}: {exc_value}")
            };
            inner.lab.probe.emit(EventKind::Failed {
                id: inner.id,
                message,
                panic,
            });
            inner.set_state(State::Failed, None);
        }
    }
    inner.gil_leave();
    inner.mark_finished();
    if let Some(gate) = &inner.lab.gate {
        gate.exit(inner.id);
    }
    CURRENT.with(|c| *c.borrow_mut() = None);
}

/// Python's `threading.__excepthook__`: the two lines a learner sees on
/// stderr (the traceback between them is Python's, which the lab does not keep).
fn default_excepthook(inner: &WorkerInner, args: &ExceptHookArgs) {
    let line = if args.exc_value.is_empty() {
        args.exc_type.to_string()
    } else {
        format!("{}: {}", args.exc_type, args.exc_value)
    };
    for text in [format!("Exception in thread {}:", inner.name), line] {
        inner.lab.probe.emit(EventKind::Log {
            worker: Some(inner.id),
            text,
        });
    }
}

/// What a worker's body receives: its identity, the lab's clock and knobs, and
/// the factory for threads and primitives.
#[derive(Clone)]
pub struct Ctx {
    pub(crate) me: Arc<WorkerInner>,
}

impl Ctx {
    pub fn name(&self) -> &str {
        &self.me.name
    }

    pub fn id(&self) -> WorkerId {
        self.me.id
    }

    /// `threading.current_thread()`.
    pub fn current_thread(&self) -> Thread {
        Thread {
            inner: self.me.clone(),
        }
    }

    /// Show `value` beside this thread in the window (its lane's details,
    /// and views that list threads) and in `hilos run --json`, under `key`.
    /// Not Python: the lab's way of showing what a thread holds.
    pub fn note(&self, key: &str, value: impl Into<String>) {
        self.me.lab.probe.emit(EventKind::Note {
            id: self.me.id,
            key: Arc::from(key),
            value: value.into(),
        });
    }

    /// The lab this worker belongs to: the factory for primitives.
    pub fn lab(&self) -> super::LabHandle {
        super::LabHandle(self.me.lab.clone())
    }

    /// `Stopped` if the lab is stopping or this worker was cut off; call it in
    /// loops that otherwise never block.
    /// In a thread of an interpreter with a GIL, it also takes the GIL
    /// back if a wait let go of it: the next line is Python code.
    pub fn check(&self) -> SyncResult<()> {
        if self.me.lab.is_stopping() || self.me.is_killed() {
            Err(SyncError::Stopped)
        } else {
            self.me.ensure_gil(false)
        }
    }

    /// A step point of the lesson's own, where it reads or writes shared
    /// data (`local_copy = self.value`): in step mode the learner sees the
    /// read and the write as two steps another thread can come between.
    /// Nothing in Free mode. `Stopped` if the lab stops meanwhile.
    pub fn step(&self, kind: OpKind, code: &str) -> SyncResult<()> {
        self.me.lab.step(|| Op::new(kind, code));
        self.check()
    }

    /// Whether a live knob lowered the worker count and this worker should leave.
    pub fn should_retire(&self) -> bool {
        self.me.retire.load(Ordering::Acquire)
    }

    /// `time.sleep(seconds)`, scaled by the lab's speed, cut short by Stop.
    pub fn sleep(&self, seconds: f64) -> SyncResult<()> {
        self.me
            .lab
            .sleep_scaled(Some(&self.me), self.me.lab.scaled(seconds))
    }

    /// Sleep a real duration, not scaled by speed.
    pub fn sleep_real(&self, duration: Duration) -> SyncResult<()> {
        self.me.lab.sleep_scaled(Some(&self.me), duration)
    }

    /// One line of the event log, like `logging.info`.
    pub fn log(&self, text: impl Into<String>) {
        // Python code: under a GIL, it runs once the thread has it back.
        let _ = self.me.ensure_gil(false);
        self.me.lab.probe.emit(EventKind::Log {
            worker: Some(self.me.id),
            text: text.into(),
        });
    }

    /// The knob's live value.
    pub fn knob(&self, name: &str) -> f64 {
        self.me.lab.knobs.get(name)
    }

    pub fn knob_usize(&self, name: &str) -> usize {
        self.knob(name).round().max(0.0) as usize
    }

    pub fn knob_bool(&self, name: &str) -> bool {
        self.knob(name) >= 0.5
    }

    /// `threading.Thread(name=…, target=…, daemon=…)`: created, not started.
    pub fn thread(
        &self,
        name: &str,
        daemon: bool,
        body: impl FnOnce(&Ctx) -> SyncResult<()> + Send + 'static,
    ) -> Thread {
        Thread::create(&self.me.lab, name, daemon, Box::new(body))
    }

    /// Create and start a non-daemon thread.
    pub fn spawn(
        &self,
        name: &str,
        body: impl FnOnce(&Ctx) -> SyncResult<()> + Send + 'static,
    ) -> SyncResult<Thread> {
        let t = self.thread(name, false, body);
        t.start()?;
        Ok(t)
    }
}

/// A group of interchangeable workers whose size follows a live knob: growing
/// starts new workers, shrinking asks the newest to retire at their next loop.
pub struct Crew {
    role: String,
    spawned: usize,
    members: Vec<Thread>,
    body: CrewBody,
}

impl Crew {
    /// Workers named `"{role}-{n}"`, numbered from 1, each running `body(ctx, n)`.
    pub fn new(
        role: &str,
        body: impl Fn(&Ctx, usize) -> SyncResult<()> + Send + Sync + 'static,
    ) -> Crew {
        Crew {
            role: role.to_string(),
            spawned: 0,
            members: Vec::new(),
            body: Arc::new(body),
        }
    }

    /// Members that are alive and not retiring.
    pub fn active(&self) -> usize {
        self.members
            .iter()
            .filter(|t| !t.is_retiring() && !t.is_finished())
            .count()
    }

    /// Start or retire members until `target` are active.
    pub fn resize(&mut self, ctx: &Ctx, target: usize) -> SyncResult<()> {
        self.members.retain(|t| !t.is_finished());
        let mut active: Vec<&Thread> = self.members.iter().filter(|t| !t.is_retiring()).collect();
        while active.len() > target {
            if let Some(t) = active.pop() {
                ctx.log(format!("{}: asked to leave (knob lowered)", t.name()));
                t.retire();
            }
        }
        let mut to_start = target.saturating_sub(active.len());
        while to_start > 0 {
            self.spawned += 1;
            let n = self.spawned;
            let body = self.body.clone();
            let t = ctx.spawn(&format!("{}-{n}", self.role), move |c| body(c, n))?;
            self.members.push(t);
            to_start -= 1;
        }
        Ok(())
    }

    /// Join every member, retiring or not.
    pub fn join_all(&mut self) -> SyncResult<()> {
        for t in &self.members {
            t.join(None)?;
        }
        self.members.clear();
        Ok(())
    }

    pub fn members(&self) -> &[Thread] {
        &self.members
    }
}
