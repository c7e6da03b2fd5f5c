//! The lab: real instrumented threads with Python's semantics, the event stream
//! they report to, and the recorder that turns it into what the window draws.
//! Nothing here knows about egui.

pub mod aio;
pub mod controller;
pub mod error;
pub(crate) mod extension;
pub mod futures;
pub mod gate;
pub mod gil;
pub mod knobs;
pub mod local;
pub(crate) mod monitor;
pub mod probe;
#[cfg(target_os = "linux")]
pub mod process;
pub mod record;
pub mod resource;
pub mod scenario;
pub mod series;
pub mod state;
pub mod sync;
pub mod text;
pub mod worker;

use std::collections::{BTreeMap, HashMap};
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock, Weak};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use parking_lot::Mutex;

pub use error::{SyncError, SyncResult};
pub use futures::{Future, FutureState, ThreadPoolExecutor};
pub use gate::{Decision, GateEnd, GateSetup, Op, OpKind, Pick};
pub use gil::Interpreter;
pub use knobs::{Choice, KnobKind, KnobSpec, Knobs};
pub use local::Local;
pub use probe::{ResourceKind, Target};
pub use record::Record;
pub use state::State;
pub use worker::{Crew, Ctx, ExceptHook, ExceptHookArgs, Thread};

use monitor::{Monitor, WaitEnd, Wake};
use probe::{EventKind, Probe, WorkerId};
use worker::{Body, StateScope, WorkerInner};

/// How a lab is set up.
#[derive(Clone)]
pub struct LabOptions {
    /// Every scenario sleep is divided by this: 10 runs a 1 s sleep in 100 ms.
    pub speed: f64,
    /// Events the channel holds before the recorder must catch up; past that,
    /// events are dropped and counted.
    pub channel_capacity: usize,
    /// Limits on what the recorder keeps; see [`record::Limits`].
    pub limits: record::Limits,
    /// The OS priority of the workers' threads.
    pub priority: WorkerPriority,
    /// Send the events elsewhere instead of recording them (a child
    /// process's lab sends them to its parent).
    pub forward: Option<record::Forward>,
    /// Run gated (step, replay or explore; see [`gate`]): one thread at a
    /// time between step points, on a virtual clock. `None` is Free mode.
    pub gate: Option<gate::GateSetup>,
}

impl Default for LabOptions {
    fn default() -> Self {
        LabOptions {
            speed: 1.0,
            channel_capacity: 1 << 16,
            limits: record::Limits::default(),
            priority: WorkerPriority::Normal,
            forward: None,
            gate: None,
        }
    }
}

/// The OS scheduling priority of a lab's worker threads.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum WorkerPriority {
    /// The same as the program's other threads (headless runs: nothing to protect).
    #[default]
    Normal,
    /// Below the window's thread, so a window beside hundreds of busy workers
    /// still gets the CPU the moment it wants to draw. Every worker gets the
    /// same lowered priority, so their timing relative to each other (what the
    /// lessons are about) does not change; the recorder keeps normal priority
    /// so it keeps up with them.
    BelowUi,
}

/// The niceness workers get under [`WorkerPriority::BelowUi`] on Linux: the
/// scheduler then weighs the window's thread about 3× a worker's.
pub const BELOW_UI_NICENESS: u32 = 5;

pub const MIN_SPEED: f64 = 0.01;
pub const MAX_SPEED: f64 = 1000.0;

static NEXT_LAB: AtomicU32 = AtomicU32::new(1);

/// What every worker and primitive of one lab shares.
pub struct LabShared {
    pub(crate) probe: Probe,
    pub(crate) knobs: Knobs,
    serial: u32,
    stopping: AtomicBool,
    speed_bits: AtomicU64,
    next_worker: AtomicU32,
    next_resource: AtomicU32,
    next_counter: AtomicU32,
    wakers: Mutex<Wakers>,
    /// Workers started and not yet finished (`threading.enumerate()`).
    workers: Mutex<BTreeMap<WorkerId, Arc<WorkerInner>>>,
    os_threads: Mutex<Vec<JoinHandle<()>>>,
    sleeper: Arc<Monitor<()>>,
    priority: WorkerPriority,
    /// asyncio tasks alive at once with a lane of their own ([`record::Limits::task_lanes`]).
    pub(crate) task_lanes: usize,
    /// `threading.main_thread()`: the worker the scenario's body runs on.
    main: OnceLock<Weak<WorkerInner>>,
    /// Numbers Python's default thread names: "Thread-1 (worker)", "Thread-2 …".
    thread_names: AtomicU32,
    /// `threading.excepthook`; `None` is Python's default (print it).
    excepthook: Mutex<Option<ExceptHook>>,
    /// Python's exit has begun (`concurrent.futures.thread._shutdown`:
    /// no executor takes new work after it).
    exiting: AtomicBool,
    /// `atexit.register`ed calls, run at MainThread's exit (last first).
    atexit: Mutex<Vec<AtExit>>,
    /// What the layers above the core keep for this lab (child processes,
    /// `concurrent.futures`), with their hooks; see [`extension`].
    pub(crate) extensions: extension::Extensions,
    /// Step, replay or explore mode's scheduler; `None` in Free mode.
    pub(crate) gate: Option<Arc<gate::Gate>>,
}

/// A call `atexit.register` keeps: it runs on MainThread at exit.
pub type AtExit = Box<dyn FnOnce(&Ctx) -> SyncResult<()> + Send>;

/// Everything Stop must wake: the monitors of live primitives and workers.
/// Each leaves when its owner ends, so the set follows what is alive.
#[derive(Default)]
struct Wakers {
    next: u64,
    map: HashMap<u64, Weak<dyn Wake>>,
}

/// A registration in the lab's waker set; see [`LabShared::unregister_waker`].
pub(crate) type WakerKey = u64;

impl LabShared {
    pub fn is_stopping(&self) -> bool {
        self.stopping.load(Ordering::Acquire)
    }

    /// Whether Python's exit has begun (MainThread's body has returned).
    pub(crate) fn is_exiting(&self) -> bool {
        self.exiting.load(Ordering::Acquire)
    }

    pub fn speed(&self) -> f64 {
        f64::from_bits(self.speed_bits.load(Ordering::Relaxed))
    }

    /// The lab's now: the virtual clock in a gated lab, else the real one.
    /// Every deadline of the lab's waits is measured from it.
    pub fn now(&self) -> Instant {
        match &self.gate {
            Some(gate) => gate.now(),
            None => Instant::now(),
        }
    }

    /// A step point (see [`gate`]): in a gated lab the calling worker pauses
    /// here until it is picked; in Free mode this is one branch.
    #[inline]
    pub(crate) fn step(&self, op: impl FnOnce() -> gate::Op) {
        if let Some(gate) = &self.gate {
            self.step_gated(gate, op());
        }
    }

    #[cold]
    fn step_gated(&self, gate: &gate::Gate, op: gate::Op) {
        if let Some(me) = worker::current()
            && std::ptr::eq(Arc::as_ptr(&me.lab), self)
            && !worker::NoSteps::off()
        {
            // Paused by the scheduler: runnable, not running (the timeline
            // shows one running thread at a time).
            me.set_state(State::Ready, None);
            gate.step(&me, op);
            me.set_state(State::Running, None);
        }
    }

    /// Scenario seconds to real time at the current speed.
    pub fn scaled(&self, seconds: f64) -> Duration {
        let real = seconds / self.speed();
        if real.is_finite() && real > 0.0 {
            Duration::from_secs_f64(real.min(1.0e6))
        } else {
            Duration::ZERO
        }
    }

    pub(crate) fn next_worker_id(&self) -> WorkerId {
        self.next_worker.fetch_add(1, Ordering::Relaxed)
    }

    pub(crate) fn next_resource_id(&self) -> u32 {
        self.next_resource.fetch_add(1, Ordering::Relaxed)
    }

    pub(crate) fn next_counter_id(&self) -> u32 {
        self.next_counter.fetch_add(1, Ordering::Relaxed)
    }

    pub(crate) fn register_waker(&self, w: Arc<dyn Wake>) -> WakerKey {
        let mut wakers = self.wakers.lock();
        let key = wakers.next;
        wakers.next += 1;
        // Owners normally unregister; this sweeps up the ones that could not
        // (a primitive dropped without a word), so the set stays bounded.
        if key % 256 == 255 {
            wakers.map.retain(|_, w| w.strong_count() > 0);
        }
        wakers.map.insert(key, Arc::downgrade(&w));
        key
    }

    pub(crate) fn unregister_waker(&self, key: WakerKey) {
        self.wakers.lock().map.remove(&key);
    }

    /// How many wakers are registered (a bounded number, by design).
    pub fn wakers_registered(&self) -> usize {
        self.wakers.lock().map.len()
    }

    pub(crate) fn wake_everything(&self) {
        let wakers: Vec<Arc<dyn Wake>> = {
            let wakers = self.wakers.lock();
            wakers.map.values().filter_map(Weak::upgrade).collect()
        };
        for w in wakers {
            w.wake_all();
        }
    }

    /// The stop flag is up: free the threads parked at the gate (they go on
    /// ungated and find the lab stopping), and wake every blocked wait.
    /// (Not for a kill, which must leave the gate's order alone.)
    fn wake_to_stop(&self) {
        if let Some(gate) = &self.gate {
            gate.release_all();
        }
        self.wake_everything();
    }

    /// A worker has started: it is alive until [`LabShared::remove_worker`].
    pub(crate) fn add_worker(&self, w: Arc<WorkerInner>) {
        self.workers.lock().insert(w.id, w);
    }

    pub(crate) fn remove_worker(&self, id: WorkerId) {
        self.workers.lock().remove(&id);
    }

    pub(crate) fn priority(&self) -> WorkerPriority {
        self.priority
    }

    pub(crate) fn add_os_thread(&self, h: JoinHandle<()>) {
        let mut threads = self.os_threads.lock();
        // Reap finished threads so a long run with churning workers stays bounded.
        if threads.len() >= 64 {
            let (done, running): (Vec<_>, Vec<_>) =
                threads.drain(..).partition(|h| h.is_finished());
            *threads = running;
            for h in done {
                let _ = h.join();
            }
        }
        threads.push(h);
    }

    /// The OS-level name of a worker's thread: short (Linux keeps 15 bytes) and
    /// unique to this lab, so tests can count a lab's threads in /proc.
    pub(crate) fn os_thread_name(&self, id: WorkerId) -> String {
        format!("{}{id}", self.os_thread_prefix())
    }

    pub fn os_thread_prefix(&self) -> String {
        format!("hl{}-", self.serial)
    }

    pub(crate) fn sleep_scaled(
        &self,
        me: Option<&WorkerInner>,
        duration: Duration,
    ) -> SyncResult<()> {
        if self.is_stopping() || me.is_some_and(|w| w.is_killed()) {
            return Err(SyncError::Stopped);
        }
        if let Some(me) = me {
            self.step(|| {
                gate::Op::new(
                    gate::OpKind::Sleep,
                    format!(
                        "time.sleep({})",
                        knobs::format_number(duration.as_secs_f64() * self.speed())
                    ),
                )
            });
            if self.is_stopping() || me.is_killed() {
                return Err(SyncError::Stopped);
            }
        }
        let deadline = self.now() + duration;
        let _scope = StateScope::enter(me, State::Sleeping, None);
        let guard = self.sleeper.lock();
        let (_guard, end) = self
            .sleeper
            .wait_until(guard, self, me, Some(deadline), |_| false);
        match end {
            WaitEnd::Stopped => Err(SyncError::Stopped),
            _ => Ok(()),
        }
    }

    /// The hook to call for an exception that ends a thread.
    pub(crate) fn excepthook(&self) -> Option<ExceptHook> {
        self.excepthook.lock().clone()
    }

    fn workers_snapshot(&self) -> Vec<Arc<WorkerInner>> {
        self.workers.lock().values().cloned().collect()
    }

    fn workers_alive(&self) -> usize {
        self.workers.lock().len()
    }
}

/// A cheap handle to a lab, for making primitives and threads from any thread.
#[derive(Clone)]
pub struct LabHandle(pub(crate) Arc<LabShared>);

impl LabHandle {
    pub fn shared(&self) -> &Arc<LabShared> {
        &self.0
    }

    pub fn speed(&self) -> f64 {
        self.0.speed()
    }

    pub fn scaled(&self, seconds: f64) -> Duration {
        self.0.scaled(seconds)
    }

    pub fn is_stopping(&self) -> bool {
        self.0.is_stopping()
    }

    pub fn knobs(&self) -> &Knobs {
        &self.0.knobs
    }

    /// Whether this lab runs gated (step, replay or explore mode).
    pub fn is_gated(&self) -> bool {
        self.0.gate.is_some()
    }

    /// The lab's now: virtual in a gated lab (see [`LabShared::now`]).
    pub fn now(&self) -> Instant {
        self.0.now()
    }

    /// `threading.Thread(...)` from outside any worker; not started.
    pub fn thread(
        &self,
        name: &str,
        daemon: bool,
        body: impl FnOnce(&Ctx) -> SyncResult<()> + Send + 'static,
    ) -> Thread {
        Thread::create(&self.0, name, daemon, Box::new(body) as Body)
    }

    /// `threading.enumerate()`: the workers alive now, in creation order.
    pub fn enumerate(&self) -> Vec<Thread> {
        self.0
            .workers_snapshot()
            .into_iter()
            .map(|inner| Thread { inner })
            .filter(|t| t.is_alive())
            .collect()
    }

    /// `threading.active_count()`.
    pub fn active_count(&self) -> usize {
        self.0.workers_alive()
    }

    /// `threading.current_thread()`: the lab worker running this code, or
    /// `None` on a thread the lab did not start (Python would make a dummy).
    pub fn current_thread(&self) -> Option<Thread> {
        worker::current()
            .filter(|w| Arc::ptr_eq(&w.lab, &self.0))
            .map(|inner| Thread { inner })
    }

    /// `threading.main_thread()`: the worker "MainThread" that runs the
    /// scenario's body (`None` in a lab started without one).
    pub fn main_thread(&self) -> Option<Thread> {
        self.0
            .main
            .get()
            .and_then(Weak::upgrade)
            .map(|inner| Thread { inner })
    }

    /// `threading.get_ident()`: the calling thread's identifier (see
    /// [`Thread::ident`]); `None` on a thread the lab did not start.
    pub fn get_ident(&self) -> Option<u64> {
        self.current_thread().and_then(|t| t.ident())
    }

    /// `threading.get_native_id()`: the calling thread's OS thread id.
    pub fn get_native_id(&self) -> Option<u64> {
        self.current_thread().and_then(|t| t.native_id())
    }

    /// The name Python gives a thread created without one:
    /// `"Thread-N (target)"`, N counting from 1 in this lab, as in a fresh
    /// interpreter (`threading._newname`, Python 3.10+).
    pub fn new_thread_name(&self, target: &str) -> String {
        let n = self.0.thread_names.fetch_add(1, Ordering::Relaxed) + 1;
        if target.is_empty() {
            format!("Thread-{n}")
        } else {
            format!("Thread-{n} ({target})")
        }
    }

    /// `threading.Thread(target=…)` with Python's default name
    /// ("Thread-N (target)"); not started.
    pub fn thread_for(
        &self,
        target: &str,
        daemon: bool,
        body: impl FnOnce(&Ctx) -> SyncResult<()> + Send + 'static,
    ) -> Thread {
        let name = self.new_thread_name(target);
        self.thread(&name, daemon, body)
    }

    /// `atexit.register(fn)`: at exit, after the non-daemon threads have
    /// been joined and before the daemon threads are cut off, MainThread
    /// runs these calls, the last registered first. (A lab stopped before
    /// it exits runs none.)
    pub fn atexit_register(&self, call: impl FnOnce(&Ctx) -> SyncResult<()> + Send + 'static) {
        self.0.atexit.lock().push(Box::new(call));
    }

    /// Set `threading.excepthook`: called with the exception that ends a
    /// thread, instead of printing "Exception in thread NAME:" and the
    /// exception. `None` restores Python's default.
    pub fn set_excepthook(&self, hook: Option<ExceptHook>) {
        *self.0.excepthook.lock() = hook;
    }

    /// One log line from outside any worker (the lab itself, or the UI).
    pub fn log(&self, text: impl Into<String>) {
        self.0.probe.emit(EventKind::Log {
            worker: worker::current().map(|w| w.id),
            text: text.into(),
        });
    }

    /// How many OS threads of this lab are still running in the process,
    /// read from /proc on Linux (None elsewhere).
    pub fn os_threads_alive(&self) -> Option<usize> {
        count_os_threads_with_prefix(&self.0.os_thread_prefix())
    }
}

/// Count this process's OS threads whose name starts with `prefix`, read from
/// /proc: Linux only, `None` elsewhere.
#[cfg(target_os = "linux")]
pub fn count_os_threads_with_prefix(prefix: &str) -> Option<usize> {
    let dir = std::fs::read_dir("/proc/self/task").ok()?;
    let mut n = 0;
    for entry in dir.flatten() {
        if let Ok(comm) = std::fs::read_to_string(entry.path().join("comm"))
            && comm.trim_end().starts_with(prefix)
        {
            n += 1;
        }
    }
    Some(n)
}

/// Count this process's OS threads whose name starts with `prefix`, read from
/// /proc: Linux only, `None` elsewhere.
#[cfg(not(target_os = "linux"))]
pub fn count_os_threads_with_prefix(_prefix: &str) -> Option<usize> {
    None
}

/// What stopping a lab did.
#[derive(Clone, Debug, serde::Serialize)]
pub struct StopReport {
    /// From the stop request until every worker's OS thread had ended.
    pub stop_seconds: f64,
    /// Workers whose OS thread had not ended by the deadline (should be 0).
    pub threads_left: usize,
    /// Child processes not yet reaped by the deadline (should be 0).
    #[serde(default)]
    pub processes_left: usize,
}

/// One running lab: its workers, its recorder, its knobs. Dropping it stops it.
///
/// Every method takes `&self`, so a lab can be shared: the window keeps one
/// handle to draw it while another thread stops it.
pub struct Lab {
    handle: LabHandle,
    record: Arc<Mutex<Record>>,
    recorder: Mutex<record::RecorderThread>,
    started: Instant,
    /// Held for the whole of a stop, so a second caller waits for the first.
    stopping: Mutex<()>,
    stop_report: OnceLock<StopReport>,
    main: OnceLock<Thread>,
}

/// How long Stop waits for workers (and child processes) before giving up
/// on them and reporting them left. Stop returns as soon as every one has
/// ended (well under 250 ms on an idle machine), so this bites only for a
/// worker that cannot be stopped, or on a machine so loaded that ending
/// them takes seconds: beside `stress --cpu 2` and a build, cancelling
/// 100,000 asyncio tasks once took over the second this used to be.
pub const STOP_DEADLINE: Duration = Duration::from_secs(5);

impl Lab {
    /// A lab with no scenario yet: spawn workers with [`LabHandle::thread`].
    pub fn new(options: LabOptions, knobs: Knobs) -> Lab {
        let (probe, rx) = Probe::new(options.channel_capacity);
        let serial = NEXT_LAB.fetch_add(1, Ordering::Relaxed);
        // A gated lab's sleeps cost no real time: its clock is virtual and
        // counts scenario seconds.
        let speed = if options.gate.is_some() {
            1.0
        } else {
            options.speed.clamp(MIN_SPEED, MAX_SPEED)
        };
        let gate = options.gate.clone().map(|g| Arc::new(gate::Gate::new(g)));
        let sleeper = Arc::new(Monitor::new(()));
        let shared = Arc::new(LabShared {
            probe: probe.clone(),
            knobs,
            serial,
            stopping: AtomicBool::new(false),
            speed_bits: AtomicU64::new(speed.to_bits()),
            next_worker: AtomicU32::new(0),
            next_resource: AtomicU32::new(0),
            next_counter: AtomicU32::new(0),
            wakers: Mutex::new(Wakers::default()),
            workers: Mutex::new(BTreeMap::new()),
            os_threads: Mutex::new(Vec::new()),
            sleeper: sleeper.clone(),
            priority: options.priority,
            task_lanes: options.limits.task_lanes,
            main: OnceLock::new(),
            thread_names: AtomicU32::new(0),
            excepthook: Mutex::new(None),
            exiting: AtomicBool::new(false),
            atexit: Mutex::new(Vec::new()),
            extensions: extension::Extensions::default(),
            gate,
        });
        shared.register_waker(sleeper);
        let recorder = record::RecorderThread::spawn(
            rx,
            probe,
            options.limits.clone(),
            speed,
            format!("hr{serial}"),
            options.forward.clone(),
        );
        Lab {
            handle: LabHandle(shared),
            record: recorder.record().clone(),
            recorder: Mutex::new(recorder),
            started: Instant::now(),
            stopping: Mutex::new(()),
            stop_report: OnceLock::new(),
            main: OnceLock::new(),
        }
    }

    /// Start a scenario's body as the worker "MainThread". When the body
    /// returns, the lab does what Python does at exit: it waits for every
    /// non-daemon thread, then kills the daemons.
    /// A lab runs one MainThread: a second call is a RuntimeError.
    pub fn start_main(
        &self,
        body: impl FnOnce(&Ctx) -> SyncResult<()> + Send + 'static,
    ) -> SyncResult<Thread> {
        let handle = self.handle.clone();
        let main = self.handle.thread("MainThread", false, move |ctx| {
            let result = body(ctx);
            handle.exit_like_python(ctx)?;
            result
        });
        if self.main.set(main.clone()).is_err() {
            return Err(SyncError::RuntimeError(
                "this lab already runs a MainThread".into(),
            ));
        }
        let _ = self.handle.0.main.set(Arc::downgrade(&main.inner));
        main.start()?;
        Ok(main)
    }

    pub fn handle(&self) -> &LabHandle {
        &self.handle
    }

    /// The gate of a step, replay or explore run (`None` in Free mode).
    pub fn gate(&self) -> Option<&Arc<gate::Gate>> {
        self.handle.0.gate.as_ref()
    }

    pub fn knobs(&self) -> &Knobs {
        &self.handle.0.knobs
    }

    /// The recorder's data; lock it briefly (the window copies what changed
    /// once a frame with [`Record::sync_from`]).
    pub fn record(&self) -> &Arc<Mutex<Record>> {
        &self.record
    }

    pub fn set_speed(&self, speed: f64) {
        // A gated lab's clock is virtual: speed means nothing there.
        if self.gate().is_some() {
            return;
        }
        let speed = if speed.is_finite() {
            speed.clamp(MIN_SPEED, MAX_SPEED)
        } else {
            1.0
        };
        self.handle
            .0
            .speed_bits
            .store(speed.to_bits(), Ordering::Relaxed);
        self.handle.0.probe.emit(EventKind::Knob {
            name: "speed",
            value: speed,
        });
        for ext in self.handle.0.extensions.all() {
            ext.speed_changed(speed);
        }
    }

    /// Write a knob and note the change in the log.
    pub fn set_knob(&self, name: &str, value: f64) -> Result<(), knobs::KnobError> {
        let spec = self.knobs().spec(name)?;
        self.knobs().set(name, value)?;
        self.handle.0.probe.emit(EventKind::Knob {
            name: spec.name,
            value: self.knobs().get(name),
        });
        for ext in self.handle.0.extensions.all() {
            ext.knob_changed(spec.name, self.knobs().get(name));
        }
        Ok(())
    }

    pub fn elapsed(&self) -> Duration {
        self.started.elapsed()
    }

    /// Whether the scenario has ended by itself (MainThread and every worker).
    pub fn is_finished(&self) -> bool {
        // A thread created but never started keeps nothing alive, as in Python.
        self.main.get().is_none_or(Thread::is_finished) && self.handle.0.workers_alive() == 0
    }

    /// Wait up to `timeout` for the scenario to end by itself.
    pub fn wait(&self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        loop {
            if self.is_finished() {
                return true;
            }
            if Instant::now() >= deadline {
                return false;
            }
            std::thread::sleep(Duration::from_millis(2));
        }
    }

    /// Whether a stop has finished (the report is ready).
    pub fn is_stopped(&self) -> bool {
        self.stop_report.get().is_some()
    }

    /// Whether a stop has been asked for (it may still be under way).
    pub fn is_stopping(&self) -> bool {
        self.handle.is_stopping()
    }

    /// Raise the stop flag and nothing more: a worker leaves at its next
    /// check or wait; blocked and sleeping ones stay asleep until
    /// [`Lab::stop`] wakes them. Costs one atomic
    /// store however many threads run, so the window's thread can call it;
    /// waking a thousand sleeping threads takes tens of milliseconds.
    pub fn signal_stop(&self) {
        self.handle.0.stopping.store(true, Ordering::Release);
    }

    /// Stop: wake every blocked or sleeping worker, wait for their OS threads
    /// to end, then let the recorder drain. Safe to call twice and from
    /// several threads: later callers wait for the first and get its report.
    pub fn stop(&self) -> StopReport {
        let _one_at_a_time = self.stopping.lock();
        if let Some(r) = self.stop_report.get() {
            return r.clone();
        }
        let t0 = Instant::now();
        let shared = &self.handle.0;
        shared.stopping.store(true, Ordering::Release);
        let deadline = t0 + STOP_DEADLINE;
        // Children first, before any lab thread is woken: SIGKILL ends them
        // wherever they are (blocked on a pipe, deadlocked, computing). Woken
        // first, a thread would unwind and close its end of a pipe, and the
        // child blocked reading it would see the end of the pipe and exit 1
        // on its own before the signal came: reported as ended by the
        // program, not by Stop (seen once in tests/processes.rs).
        let processes_left: usize = shared
            .extensions
            .all()
            .iter()
            .map(|ext| ext.stop(deadline))
            .sum();
        shared.wake_to_stop();
        let mut threads_left;
        loop {
            let handles: Vec<JoinHandle<()>> = {
                let mut threads = shared.os_threads.lock();
                let (done, running): (Vec<_>, Vec<_>) =
                    threads.drain(..).partition(|h| h.is_finished());
                *threads = running;
                threads_left = threads.len();
                done
            };
            for h in handles {
                let _ = h.join();
            }
            if threads_left == 0 || Instant::now() >= deadline {
                break;
            }
            // A worker might be between a check and a wait on a primitive made
            // after the first wake: wake again while waiting.
            shared.wake_everything();
            std::thread::sleep(Duration::from_micros(200));
        }
        // Calls kept for an exit that will not come may hold handles to
        // the lab: let them go.
        shared.atexit.lock().clear();
        let report = StopReport {
            stop_seconds: t0.elapsed().as_secs_f64(),
            threads_left,
            processes_left,
        };
        self.recorder.lock().finish();
        let _ = self.stop_report.set(report.clone());
        report
    }

    pub fn stop_report(&self) -> Option<&StopReport> {
        self.stop_report.get()
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        self.stop();
    }
}

impl LabHandle {
    /// Python's interpreter exit: the `threading` atexit calls
    /// (`concurrent.futures` finishing its queued work and joining its
    /// workers), then join every non-daemon thread (they may start more),
    /// then the `atexit` calls, then cut the daemons off.
    fn exit_like_python(&self, ctx: &Ctx) -> SyncResult<()> {
        self.0.exiting.store(true, Ordering::Release);
        for ext in self.0.extensions.all() {
            ext.exit_before_join()?;
        }
        loop {
            let pending: Vec<Thread> = self
                .enumerate()
                .into_iter()
                .filter(|t| !t.daemon() && t.id() != ctx.id())
                .collect();
            if pending.is_empty() {
                break;
            }
            for t in pending {
                t.join(None)?;
            }
        }
        // multiprocessing's exit: daemonic children terminated, the others joined.
        for ext in self.0.extensions.all() {
            ext.exit_after_join()?;
        }
        loop {
            let next = self.0.atexit.lock().pop();
            match next {
                Some(call) => call(ctx)?,
                None => break,
            }
        }
        let daemons: Vec<Thread> = self
            .enumerate()
            .into_iter()
            .filter(|t| t.daemon())
            .collect();
        for t in &daemons {
            ctx.log(format!("Main: exiting; daemon {} is cut off", t.name()));
            t.inner.kill();
        }
        for t in &daemons {
            t.join(None)?;
        }
        Ok(())
    }
}
