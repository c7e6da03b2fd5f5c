//! The lab: real instrumented threads with Python's semantics, the event stream
//! they report to, and the recorder that turns it into what the window draws.
//! Nothing here knows about egui.

pub mod error;
pub mod knobs;
pub(crate) mod monitor;
pub mod probe;
pub mod record;
pub mod state;
pub mod sync;
pub mod text;
pub mod worker;

use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::sync::{Arc, Mutex, PoisonError, Weak};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

pub use error::{SyncError, SyncResult};
pub use knobs::{KnobKind, KnobSpec, Knobs};
pub use probe::{ResourceKind, Target};
pub use record::Record;
pub use state::State;
pub use worker::{Crew, Ctx, Thread};

use monitor::{Monitor, WaitEnd, Wake};
use probe::{EventKind, Probe, WorkerId};
use worker::{Body, StateScope, WorkerInner};

/// How a lab is set up.
#[derive(Clone, Debug)]
pub struct LabOptions {
    /// Every scenario sleep is divided by this: 10 runs a 1 s sleep in 100 ms.
    pub speed: f64,
    /// Events the channel holds before the recorder must catch up; past that,
    /// events are dropped and counted.
    pub channel_capacity: usize,
    /// Limits on what the recorder keeps; see [`record::Limits`].
    pub limits: record::Limits,
}

impl Default for LabOptions {
    fn default() -> Self {
        LabOptions {
            speed: 1.0,
            channel_capacity: 1 << 16,
            limits: record::Limits::default(),
        }
    }
}

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
    wakers: Mutex<Vec<Weak<dyn Wake>>>,
    workers: Mutex<Vec<Arc<WorkerInner>>>,
    os_threads: Mutex<Vec<JoinHandle<()>>>,
    sleeper: Arc<Monitor<()>>,
}

impl LabShared {
    pub fn is_stopping(&self) -> bool {
        self.stopping.load(Ordering::Acquire)
    }

    pub fn speed(&self) -> f64 {
        f64::from_bits(self.speed_bits.load(Ordering::Relaxed))
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

    pub(crate) fn register_waker(&self, w: Arc<dyn Wake>) {
        let mut wakers = self.wakers.lock().unwrap_or_else(PoisonError::into_inner);
        if wakers.len() % 64 == 63 {
            wakers.retain(|w| w.strong_count() > 0);
        }
        wakers.push(Arc::downgrade(&w));
    }

    pub(crate) fn wake_everything(&self) {
        let wakers: Vec<Arc<dyn Wake>> = {
            let wakers = self.wakers.lock().unwrap_or_else(PoisonError::into_inner);
            wakers.iter().filter_map(Weak::upgrade).collect()
        };
        for w in wakers {
            w.wake_all();
        }
    }

    pub(crate) fn add_worker(&self, w: Arc<WorkerInner>) {
        self.workers
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .push(w);
    }

    pub(crate) fn add_os_thread(&self, h: JoinHandle<()>) {
        let mut threads = self
            .os_threads
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
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
        let deadline = Instant::now() + duration;
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

    fn workers_snapshot(&self) -> Vec<Arc<WorkerInner>> {
        self.workers
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .clone()
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

    /// `threading.Thread(...)` from outside any worker; not started.
    pub fn thread(
        &self,
        name: &str,
        daemon: bool,
        body: impl FnOnce(&Ctx) -> SyncResult<()> + Send + 'static,
    ) -> Thread {
        Thread::create(&self.0, name, daemon, Box::new(body) as Body)
    }

    /// `threading.enumerate()`: the workers alive now.
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
        self.enumerate().len()
    }

    /// Every worker ever created in this lab, in creation order.
    pub fn all_threads(&self) -> Vec<Thread> {
        self.0
            .workers_snapshot()
            .into_iter()
            .map(|inner| Thread { inner })
            .collect()
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
}

/// One running lab: its workers, its recorder, its knobs. Dropping it stops it.
pub struct Lab {
    handle: LabHandle,
    recorder: record::RecorderThread,
    started: Instant,
    stop_report: Option<StopReport>,
    main: Option<Thread>,
}

/// How long Stop waits for workers before giving up on them.
pub const STOP_DEADLINE: Duration = Duration::from_millis(1000);

impl Lab {
    /// A lab with no scenario yet: spawn workers with [`LabHandle::thread`].
    pub fn new(options: LabOptions, knobs: Knobs) -> Lab {
        let (probe, rx) = Probe::new(options.channel_capacity);
        let serial = NEXT_LAB.fetch_add(1, Ordering::Relaxed);
        let speed = options.speed.clamp(MIN_SPEED, MAX_SPEED);
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
            wakers: Mutex::new(Vec::new()),
            workers: Mutex::new(Vec::new()),
            os_threads: Mutex::new(Vec::new()),
            sleeper: sleeper.clone(),
        });
        shared.register_waker(sleeper);
        let recorder =
            record::RecorderThread::spawn(rx, probe, options.limits.clone(), format!("hr{serial}"));
        Lab {
            handle: LabHandle(shared),
            recorder,
            started: Instant::now(),
            stop_report: None,
            main: None,
        }
    }

    /// Start a scenario's body as the worker "MainThread". When the body
    /// returns, the lab does what Python does at exit: it waits for every
    /// non-daemon thread, then kills the daemons.
    pub fn start_main(
        &mut self,
        body: impl FnOnce(&Ctx) -> SyncResult<()> + Send + 'static,
    ) -> SyncResult<Thread> {
        let handle = self.handle.clone();
        let main = self.handle.thread("MainThread", false, move |ctx| {
            let result = body(ctx);
            handle.exit_like_python(ctx)?;
            result
        });
        main.start()?;
        self.main = Some(main.clone());
        Ok(main)
    }

    pub fn handle(&self) -> &LabHandle {
        &self.handle
    }

    pub fn knobs(&self) -> &Knobs {
        &self.handle.0.knobs
    }

    /// The recorder's data; lock it briefly (the UI does once a frame).
    pub fn record(&self) -> &Arc<Mutex<Record>> {
        self.recorder.record()
    }

    pub fn set_speed(&self, speed: f64) {
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
    }

    /// Write a knob and note the change in the log.
    pub fn set_knob(&self, name: &str, value: f64) -> Result<(), knobs::KnobError> {
        let spec = self.knobs().spec(name)?;
        self.knobs().set(name, value)?;
        self.handle.0.probe.emit(EventKind::Knob {
            name: spec.name,
            value: self.knobs().get(name),
        });
        Ok(())
    }

    pub fn elapsed(&self) -> Duration {
        self.started.elapsed()
    }

    /// Whether the scenario has ended by itself (MainThread and every worker).
    pub fn is_finished(&self) -> bool {
        // A thread created but never started keeps nothing alive, as in Python.
        self.main.as_ref().is_none_or(Thread::is_finished)
            && self.handle.all_threads().iter().all(|t| !t.is_alive())
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

    pub fn is_stopped(&self) -> bool {
        self.stop_report.is_some()
    }

    /// Stop: wake every blocked or sleeping worker, wait for their OS threads
    /// to end, then let the recorder drain. Safe to call twice.
    pub fn stop(&mut self) -> StopReport {
        if let Some(r) = &self.stop_report {
            return r.clone();
        }
        let t0 = Instant::now();
        let shared = &self.handle.0;
        shared.stopping.store(true, Ordering::Release);
        shared.wake_everything();
        let deadline = t0 + STOP_DEADLINE;
        let mut threads_left;
        loop {
            let handles: Vec<JoinHandle<()>> = {
                let mut threads = shared
                    .os_threads
                    .lock()
                    .unwrap_or_else(PoisonError::into_inner);
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
        let report = StopReport {
            stop_seconds: t0.elapsed().as_secs_f64(),
            threads_left,
        };
        self.recorder.finish();
        self.stop_report = Some(report.clone());
        report
    }

    pub fn stop_report(&self) -> Option<&StopReport> {
        self.stop_report.as_ref()
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        self.stop();
    }
}

impl LabHandle {
    /// Python's interpreter exit: join every non-daemon thread (they may start
    /// more), then cut the daemons off.
    fn exit_like_python(&self, ctx: &Ctx) -> SyncResult<()> {
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
