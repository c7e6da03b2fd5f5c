//! `multiprocessing` for real: each `Process` is a child OS process started
//! from the Hilos binary itself (`hilos __child`, handled first thing in
//! `main`), with its own pid, its own lab (threads, GIL) and its own
//! address space. Its threads' events come up its stdout as JSON lines,
//! stamped on the OS monotonic clock against the lab's epoch, and land in
//! the lab's record beside the lab's own threads (ids renumbered, grouped
//! under the process). Orders (knob changes) go down its stdin.
//!
//! Nothing outlives the lab: Stop and Reset SIGKILL every child and reap
//! it; a child dies with the lab's process too (`PR_SET_PDEATHSIG`, set in
//! the child before exec by a spawner thread that lives as long as the
//! process, since Linux ties the signal to the thread that forked), and,
//! as a second guard, exits when its stdin (the lab's end of the pipe)
//! closes.

pub mod child;
mod cpu;
pub mod ipc;
pub mod manager;
pub mod pool;
pub mod wire;

use std::collections::{HashMap, HashSet};
use std::io::{BufRead, BufReader, Write};
use std::os::unix::process::{CommandExt, ExitStatusExt};
use std::path::PathBuf;
use std::process::{Child, ChildStdin, Command, Stdio};
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, OnceLock};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

use parking_lot::Mutex;

use super::error::{SyncError, SyncResult};
use super::extension::Extension;
use super::monitor::{Monitor, WaitEnd};
use super::probe::{EventKind, ProcessId, ResourceKind, Target};
use super::state::State;
use super::worker::{StateScope, current};
use super::{LabHandle, LabShared, WakerKey};
use crate::resource::ResourceBase;
use wire::{Down, Handle, Spec, Up, WireEvent};

/// The hidden first argument that makes the binary a child.
pub const CHILD_ARG: &str = "__child";

static CHILD_EXE: Mutex<Option<PathBuf>> = Mutex::new(None);

/// Which binary children run: the Hilos binary. Tests (whose own binary is
/// a test harness) point it at `CARGO_BIN_EXE_hilos`.
pub fn set_child_executable(path: impl Into<PathBuf>) {
    *CHILD_EXE.lock() = Some(path.into());
}

/// The binary children run: the one set with [`set_child_executable`],
/// else `$HILOS_CHILD_EXE`, else this program if it is Hilos, else a
/// `hilos` beside it or one folder up (a test harness in `target/*/deps`
/// finds the binary cargo built next to it).
fn child_exe() -> std::io::Result<PathBuf> {
    if let Some(p) = &*CHILD_EXE.lock() {
        return Ok(p.clone());
    }
    if let Some(p) = std::env::var_os("HILOS_CHILD_EXE").filter(|p| !p.is_empty()) {
        return Ok(PathBuf::from(p));
    }
    let me = std::env::current_exe()?;
    if me.file_stem().is_some_and(|s| s == "hilos") {
        return Ok(me);
    }
    if let Some(dir) = me.parent() {
        for candidate in [dir.join("hilos"), dir.join("../hilos")] {
            if candidate.is_file() {
                return Ok(candidate);
            }
        }
    }
    Ok(me)
}

/// Every child process of one lab, and what they share.
#[derive(Default)]
pub(crate) struct Processes {
    next_id: AtomicU32,
    /// Numbers `Process-N`, as Python's default names.
    names: AtomicU32,
    all: Mutex<Vec<Arc<ProcInner>>>,
    helpers: Mutex<Vec<JoinHandle<()>>>,
    cpu: Mutex<Option<JoinHandle<()>>>,
    pub(crate) shm: Mutex<Option<Arc<ipc::SharedMemory>>>,
    /// Names of objects shared across processes (a Queue, a Lock…): a
    /// child's resource of that name is the lab's, not a copy.
    shared_names: Mutex<HashSet<String>>,
    /// The lab's resource id for each shared name, once seen.
    shared_ids: Mutex<HashMap<String, u32>>,
    /// What the children run: set by `set_scenario`.
    scenario: Mutex<Option<&'static str>>,
}

impl Processes {
    /// `name` is an object every process shares (a Queue, a Lock…), the
    /// lab's resource `id` in this process: children's copies map to it.
    pub(crate) fn share_name(&self, name: &str, id: u32) {
        self.shared_names.lock().insert(name.to_string());
        self.shared_ids.lock().entry(name.to_string()).or_insert(id);
    }

    fn alive(&self) -> Vec<Arc<ProcInner>> {
        self.all
            .lock()
            .iter()
            .filter(|p| p.is_alive())
            .cloned()
            .collect()
    }

    /// Send an order to every live child.
    pub(crate) fn broadcast(&self, down: &Down) {
        for p in self.alive() {
            p.send_down(down);
        }
    }
}

/// Tell children which scenario's knobs to read.
impl LabHandle {
    pub fn set_process_scenario(&self, id: &'static str) {
        *self.0.processes().scenario.lock() = Some(id);
    }

    /// `multiprocessing.active_children()`: the children alive now.
    pub fn active_children(&self) -> Vec<Process> {
        self.0
            .processes()
            .alive()
            .into_iter()
            .map(Process)
            .collect()
    }
}

impl LabShared {
    /// This lab's children, made on first use (registering the hooks below).
    pub(crate) fn processes(&self) -> Arc<Processes> {
        self.extensions.get::<Processes>()
    }
}

impl Extension for Processes {
    /// End every child now (Stop): SIGKILL, reap, and wait for the threads
    /// that read them. Returns how many were still alive at the deadline.
    fn stop(&self, deadline: Instant) -> usize {
        let all: Vec<Arc<ProcInner>> = self.all.lock().clone();
        for p in &all {
            p.kill_now(true);
        }
        let mut left = 0;
        for p in &all {
            if !p.wait_exit(deadline) {
                left += 1;
            }
        }
        let helpers: Vec<JoinHandle<()>> = self.helpers.lock().drain(..).collect();
        for h in helpers {
            if h.is_finished() || Instant::now() < deadline {
                let _ = h.join();
            }
        }
        if let Some(h) = self.cpu.lock().take() {
            let _ = h.join();
        }
        left
    }

    fn speed_changed(&self, speed: f64) {
        self.broadcast(&Down::Speed { speed });
    }

    fn knob_changed(&self, name: &str, value: f64) {
        self.broadcast(&Down::Knob {
            name: name.to_string(),
            value,
        });
    }

    /// Python's exit for processes (multiprocessing's `_exit_function`):
    /// terminate the daemonic children, then join the others.
    fn exit_after_join(&self) -> SyncResult<()> {
        let children: Vec<Process> = self.alive().into_iter().map(Process).collect();
        for p in children.iter().filter(|p| p.daemon()) {
            p.terminate();
        }
        for p in self.alive().into_iter().map(Process) {
            p.join(None)?;
        }
        Ok(())
    }
}

/// How a child ended (`None` while it runs).
struct ProcState {
    started: bool,
    pid: Option<u32>,
    exitcode: Option<i32>,
    /// Stop killed it (not a failure of the program).
    killed_by_lab: bool,
    /// When it said hello: spawn to first word.
    hello_after: Option<Duration>,
}

pub(crate) struct ProcInner {
    id: ProcessId,
    name: Arc<str>,
    daemon: bool,
    target: String,
    args: serde_json::Value,
    handles: Vec<Handle>,
    gil: bool,
    switch_interval: f64,
    lab: Arc<LabShared>,
    base: ResourceBase,
    m: Arc<Monitor<ProcState>>,
    waker: WakerKey,
    stdin: Mutex<Option<ChildStdin>>,
    spawned_at: OnceLock<Instant>,
}

impl Drop for ProcInner {
    fn drop(&mut self) {
        self.lab.unregister_waker(self.waker);
    }
}

impl ProcInner {
    fn is_alive(&self) -> bool {
        let s = self.m.lock();
        s.started && s.exitcode.is_none()
    }

    fn send_down(&self, down: &Down) {
        if let Some(stdin) = &mut *self.stdin.lock()
            && let Ok(mut line) = serde_json::to_string(down)
        {
            line.push('\n');
            let _ = stdin.write_all(line.as_bytes());
            let _ = stdin.flush();
        }
    }

    fn signal(&self, sig: rustix::process::Signal) {
        let s = self.m.lock();
        if let (Some(pid), None) = (s.pid, s.exitcode)
            && let Some(pid) = rustix::process::Pid::from_raw(pid as i32)
        {
            let _ = rustix::process::kill_process(pid, sig);
        }
    }

    fn kill_now(&self, by_lab: bool) {
        if by_lab {
            self.m.lock().killed_by_lab = true;
        }
        self.signal(rustix::process::Signal::KILL);
    }

    /// Wait (not as a lab thread) until it has been reaped.
    fn wait_exit(&self, deadline: Instant) -> bool {
        loop {
            {
                let s = self.m.lock();
                if !s.started || s.exitcode.is_some() {
                    return true;
                }
            }
            if Instant::now() >= deadline {
                return false;
            }
            std::thread::sleep(Duration::from_millis(1));
        }
    }
}

/// How to make a [`Process`].
pub struct ProcessSpec {
    /// What it runs: a child target's name (see `scenarios::child_target`).
    pub target: String,
    /// The target's arguments (plain data, serialised).
    pub args: serde_json::Value,
    /// `multiprocessing` objects it gets (queues, pipes, locks, values).
    pub handles: Vec<Handle>,
    /// None: Python's default name, `Process-N`.
    pub name: Option<String>,
    pub daemon: bool,
    /// Its interpreter: with a GIL (CPython) or the free-threaded build.
    pub gil: bool,
    pub switch_interval: f64,
}

impl ProcessSpec {
    pub fn new(target: &str, args: serde_json::Value) -> ProcessSpec {
        ProcessSpec {
            target: target.to_string(),
            args,
            handles: Vec::new(),
            name: None,
            daemon: false,
            gil: true,
            switch_interval: super::gil::DEFAULT_SWITCH_INTERVAL,
        }
    }
}

/// `multiprocessing.Process`: `start()`, `join(timeout)`, `is_alive()`,
/// `pid`, `exitcode`, `daemon`, `terminate()`, `kill()`.
#[derive(Clone)]
pub struct Process(Arc<ProcInner>);

impl LabHandle {
    /// `Process(target=…, args=…)`: made, not started.
    pub fn process(&self, spec: ProcessSpec) -> Process {
        let procs = self.0.processes();
        let id = procs.next_id.fetch_add(1, Ordering::Relaxed);
        let name = spec.name.unwrap_or_else(|| {
            format!(
                "Process-{}",
                procs.names.fetch_add(1, Ordering::Relaxed) + 1
            )
        });
        let name: Arc<str> = Arc::from(name);
        self.0.probe.emit(EventKind::ProcessCreated {
            id,
            name: name.clone(),
            daemon: spec.daemon,
        });
        let base = ResourceBase::new(self, &name, ResourceKind::Process, Some(1));
        base.report(0, 0, Some(1), None);
        let m = Arc::new(Monitor::new(ProcState {
            started: false,
            pid: None,
            exitcode: None,
            killed_by_lab: false,
            hello_after: None,
        }));
        let waker = self.0.register_waker(m.clone());
        let inner = Arc::new(ProcInner {
            id,
            name,
            daemon: spec.daemon,
            target: spec.target,
            args: spec.args,
            handles: spec.handles,
            gil: spec.gil,
            switch_interval: spec.switch_interval,
            lab: self.0.clone(),
            base,
            m,
            waker,
            stdin: Mutex::new(None),
            spawned_at: OnceLock::new(),
        });
        procs.all.lock().push(inner.clone());
        Process(inner)
    }
}

impl Process {
    pub fn id(&self) -> ProcessId {
        self.0.id
    }

    pub fn name(&self) -> &str {
        &self.0.name
    }

    pub fn daemon(&self) -> bool {
        self.0.daemon
    }

    /// `pid`: None before start.
    pub fn pid(&self) -> Option<u32> {
        self.0.m.lock().pid
    }

    /// `exitcode`: None while it runs; negative: the signal that ended it.
    pub fn exitcode(&self) -> Option<i32> {
        self.0.m.lock().exitcode
    }

    /// `is_alive()`.
    pub fn is_alive(&self) -> bool {
        self.0.is_alive()
    }

    /// From the spawn to the child's first word: what starting a process
    /// costs (None until it has spoken).
    pub fn startup(&self) -> Option<Duration> {
        self.0.m.lock().hello_after
    }

    /// `terminate()`: SIGTERM.
    pub fn terminate(&self) {
        self.0.signal(rustix::process::Signal::TERM);
    }

    /// `kill()`: SIGKILL.
    pub fn kill(&self) {
        self.0.kill_now(false);
    }

    /// `join(timeout=None)`: wait until it ends (shown waiting on it).
    /// Returns whether it ended; like Python, a timeout is not an error.
    pub fn join(&self, timeout: Option<f64>) -> SyncResult<bool> {
        let lab = &self.0.lab;
        let deadline = timeout.map(|t| Instant::now() + lab.scaled(t.max(0.0)));
        let guard = self.0.m.lock();
        if !guard.started {
            return Err(SyncError::exception(
                "AssertionError",
                "can only join a started process",
            ));
        }
        if guard.exitcode.is_some() {
            return Ok(true);
        }
        let me = current();
        let _scope = StateScope::enter(
            me.as_deref(),
            State::Waiting,
            Some(Target::Resource(self.0.base.id)),
        );
        let (_guard, end) = self
            .0
            .m
            .wait_until(guard, lab, me.as_deref(), deadline, |s| {
                s.exitcode.is_some()
            });
        match end {
            WaitEnd::Ready => Ok(true),
            WaitEnd::TimedOut => Ok(false),
            WaitEnd::Stopped => Err(SyncError::Stopped),
        }
    }

    /// `start()`: a second start is an AssertionError, as in Python.
    pub fn start(&self) -> SyncResult<()> {
        let inner = &self.0;
        let lab = &inner.lab;
        {
            let mut s = inner.m.lock();
            if s.started {
                return Err(SyncError::exception(
                    "AssertionError",
                    "cannot start a process twice",
                ));
            }
            if lab.is_stopping() {
                return Err(SyncError::Stopped);
            }
            s.started = true;
        }
        let procs = lab.processes();
        let shm = procs.shm.lock().clone();
        let knobs = lab
            .knobs
            .values()
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect();
        let spec = Spec {
            token: lab_token(lab),
            parent_pid: std::process::id(),
            name: inner.name.to_string(),
            target: inner.target.clone(),
            args: inner.args.clone(),
            handles: inner.handles.clone(),
            scenario: procs.scenario.lock().map(str::to_string),
            knobs,
            speed: lab.speed(),
            epoch_mono: lab.probe.clock().epoch_mono(),
            shm: shm.as_ref().map(|s| (s.raw_fd(), ipc::SHM_SIZE)),
            gil: inner.gil,
            switch_interval: inner.switch_interval,
            below_ui: lab.priority() == super::WorkerPriority::BelowUi,
        };
        let mut fds: Vec<i32> = inner.handles.iter().flat_map(Handle::fds).collect();
        if let Some(s) = &shm {
            fds.push(s.raw_fd());
        }
        let spawned = spawn_child(&spec, fds);
        let mut child = match spawned {
            Ok(c) => c,
            Err(e) => {
                let message = format!("could not start the child process: {e}");
                inner.m.lock().exitcode = Some(1);
                lab.probe.emit(EventKind::ProcessExited {
                    id: inner.id,
                    exitcode: 1,
                    state: State::Failed,
                    message: Some(message.clone()),
                });
                inner.m.notify_all();
                return Err(SyncError::exception("OSError", message));
            }
        };
        let _ = inner.spawned_at.set(Instant::now());
        let pid = child.id();
        inner.m.lock().pid = Some(pid);
        // A Stop that came while it was being spawned found no pid to
        // kill: it is killed here (Stop raises its flag before killing, so
        // one of the two sees the other).
        if lab.is_stopping() {
            inner.kill_now(true);
        }
        lab.probe
            .emit(EventKind::ProcessStarted { id: inner.id, pid });
        inner.base.report(1, 0, Some(1), None);
        // The job, as the first line of its stdin (kept open: the child
        // exits if it ever closes).
        if let Some(mut stdin) = child.stdin.take() {
            if let Ok(mut line) = serde_json::to_string(&spec) {
                line.push('\n');
                let _ = stdin.write_all(line.as_bytes());
                let _ = stdin.flush();
            }
            *inner.stdin.lock() = Some(stdin);
        }
        start_cpu_sampler(lab);
        let stdout = child.stdout.take();
        let stderr = child.stderr.take();
        let raised: Arc<Mutex<Option<String>>> = Arc::default();
        let tail: Arc<Mutex<Vec<String>>> = Arc::default();
        let prefix = format!("hp{}-", lab.serial);
        let mut helpers = Vec::new();
        let reader = stdout.and_then(|out| {
            let (p, raised) = (inner.clone(), raised.clone());
            std::thread::Builder::new()
                .name(format!("{prefix}out"))
                .spawn(move || read_events(&p, out, &raised))
                .ok()
        });
        if let Some(err) = stderr {
            let (p, tail) = (inner.clone(), tail.clone());
            if let Ok(h) = std::thread::Builder::new()
                .name(format!("{prefix}err"))
                .spawn(move || read_stderr(&p, err, &tail))
            {
                helpers.push(h);
            }
        }
        let waiter = {
            let p = inner.clone();
            std::thread::Builder::new()
                .name(format!("{prefix}wait"))
                .spawn(move || {
                    let status = child.wait();
                    if let Some(r) = reader {
                        let _ = r.join();
                    }
                    finish(&p, status, &raised, &tail);
                })
        };
        match waiter {
            Ok(h) => helpers.push(h),
            Err(_) => {
                // No thread to reap it with: end it rather than leave it.
                inner.kill_now(true);
            }
        }
        procs.helpers.lock().extend(helpers);
        Ok(())
    }
}

/// What marks this lab's children (in their command line).
fn lab_token(lab: &LabShared) -> String {
    format!("lab{}-{}", std::process::id(), lab.serial)
}

/// A request to the spawner thread.
type SpawnRequest = (Command, crossbeam_channel::Sender<std::io::Result<Child>>);

/// Children are forked by one thread that never ends: Linux sends
/// `PR_SET_PDEATHSIG` when the thread that forked a child exits, so a
/// child forked by a lab worker would die with the worker. This thread
/// lives as long as the process, so the signal means "the lab's process died".
fn spawner() -> Option<&'static crossbeam_channel::Sender<SpawnRequest>> {
    static SPAWNER: OnceLock<Option<crossbeam_channel::Sender<SpawnRequest>>> = OnceLock::new();
    SPAWNER
        .get_or_init(|| {
            let (tx, rx) = crossbeam_channel::unbounded::<SpawnRequest>();
            std::thread::Builder::new()
                .name("hilos-spawner".into())
                .spawn(move || {
                    for (mut cmd, reply) in rx {
                        let _ = reply.send(cmd.spawn());
                    }
                })
                .ok()
                .map(|_| tx)
        })
        .as_ref()
}

fn spawn_child(spec: &Spec, fds: Vec<i32>) -> std::io::Result<Child> {
    let exe = child_exe()?;
    let mut cmd = Command::new(exe);
    cmd.arg(CHILD_ARG)
        .arg(&spec.token)
        .arg(&spec.name)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let parent = std::process::id() as i32;
    // SAFETY: the closure runs in the forked child before exec and only
    // makes async-signal-safe calls (prctl, getppid, fcntl, _exit).
    unsafe {
        cmd.pre_exec(move || {
            rustix::process::set_parent_process_death_signal(Some(rustix::process::Signal::KILL))?;
            // The lab's process may have died before the line above.
            if rustix::process::getppid().map(|p| p.as_raw_nonzero().get()) != Some(parent) {
                libc::_exit(1);
            }
            // The descriptors of its queues, pipes and shared memory stay
            // open across exec (every other one closes).
            for fd in &fds {
                if libc::fcntl(*fd, libc::F_SETFD, 0) == -1 {
                    return Err(std::io::Error::last_os_error());
                }
            }
            Ok(())
        });
    }
    let Some(tx) = spawner() else {
        return cmd.spawn();
    };
    let (reply_tx, reply_rx) = crossbeam_channel::bounded(1);
    tx.send((cmd, reply_tx))
        .map_err(|_| std::io::Error::other("the spawner thread is gone"))?;
    reply_rx
        .recv()
        .map_err(|_| std::io::Error::other("the spawner thread is gone"))?
}

/// A child's ids renumbered into the lab's.
#[derive(Default)]
struct Remap {
    workers: HashMap<u32, u32>,
    resources: HashMap<u32, u32>,
    counters: HashMap<u32, u32>,
    /// The lab ids of its threads not yet ended, with their last state.
    alive: HashMap<u32, State>,
}

impl Remap {
    fn worker(&mut self, lab: &LabShared, child: u32) -> u32 {
        *self
            .workers
            .entry(child)
            .or_insert_with(|| lab.next_worker_id())
    }

    fn target(&mut self, lab: &LabShared, t: Target) -> Target {
        match t {
            Target::Resource(r) => Target::Resource(self.resources.get(&r).copied().unwrap_or(r)),
            Target::Thread(w) => Target::Thread(self.worker(lab, w)),
        }
    }
}

fn read_events(p: &Arc<ProcInner>, out: std::process::ChildStdout, raised: &Mutex<Option<String>>) {
    let lab = &p.lab;
    let mut remap = Remap::default();
    let mut dropped_seen = 0u64;
    for line in BufReader::new(out).lines() {
        let Ok(line) = line else { break };
        let Ok(up) = serde_json::from_str::<Up>(&line) else {
            continue;
        };
        match up {
            Up::Hello { .. } => {
                let after = p.spawned_at.get().map(Instant::elapsed);
                p.m.lock().hello_after = after;
            }
            Up::Raised { line } => *raised.lock() = Some(line),
            Up::Events { dropped, events } => {
                if dropped > dropped_seen {
                    lab.probe.emit(EventKind::ChildDropped {
                        count: dropped - dropped_seen,
                    });
                    dropped_seen = dropped;
                }
                for (t_ns, ev) in events {
                    if let Some(kind) = translate(p, &mut remap, ev) {
                        lab.probe.emit(EventKind::At {
                            t_ns,
                            event: Box::new(kind),
                        });
                    }
                }
            }
        }
    }
    // The child is gone: a thread that never said it ended was cut off.
    let now = lab.probe.now_ns();
    for (id, _) in remap.alive.drain() {
        lab.probe.emit(EventKind::At {
            t_ns: now,
            event: Box::new(EventKind::State {
                id,
                state: State::Killed,
                target: None,
                timed: false,
            }),
        });
    }
}

/// A child's event in the lab's ids and names.
fn translate(p: &ProcInner, remap: &mut Remap, ev: WireEvent) -> Option<EventKind> {
    let lab = &p.lab;
    Some(match ev {
        WireEvent::WorkerCreated { id, name, daemon } => {
            let id = remap.worker(lab, id);
            remap.alive.insert(id, State::Created);
            EventKind::WorkerCreated {
                id,
                name: Arc::from(name),
                daemon,
                process: Some(p.id),
            }
        }
        WireEvent::State {
            id,
            state,
            target,
            timed,
        } => {
            let id = remap.worker(lab, id);
            if state.is_final() {
                remap.alive.remove(&id);
            } else {
                remap.alive.insert(id, state);
            }
            EventKind::State {
                id,
                state,
                target: target.map(|t| remap.target(lab, t)),
                timed,
            }
        }
        WireEvent::Failed { id, message, panic } => EventKind::Failed {
            id: remap.worker(lab, id),
            message,
            panic,
        },
        WireEvent::ResourceCreated {
            id,
            name,
            kind,
            capacity,
        } => {
            // An object shared across processes is the lab's own.
            let procs = lab.processes();
            if procs.shared_names.lock().contains(&name) {
                let mut ids = procs.shared_ids.lock();
                if let Some(&mine) = ids.get(&name) {
                    remap.resources.insert(id, mine);
                    return None;
                }
                let mine = lab.next_resource_id();
                ids.insert(name.clone(), mine);
                remap.resources.insert(id, mine);
                return Some(EventKind::ResourceCreated {
                    id: mine,
                    name: Arc::from(name),
                    kind,
                    capacity,
                });
            }
            let mine = lab.next_resource_id();
            remap.resources.insert(id, mine);
            EventKind::ResourceCreated {
                id: mine,
                name: Arc::from(format!("{}: {name}", p.name)),
                kind,
                capacity,
            }
        }
        WireEvent::Resource {
            id,
            level,
            waiters,
            capacity,
            holder,
        } => EventKind::Resource {
            id: *remap.resources.get(&id)?,
            level,
            waiters,
            capacity,
            holder: holder.map(|h| remap.worker(lab, h)),
        },
        WireEvent::ResourceDropped { id } => {
            let mine = *remap.resources.get(&id)?;
            // A shared object lives on in the lab.
            if lab
                .processes()
                .shared_ids
                .lock()
                .values()
                .any(|v| *v == mine)
            {
                return None;
            }
            EventKind::ResourceDropped { id: mine }
        }
        WireEvent::CounterCreated { id, name } => {
            let mine = lab.next_counter_id();
            remap.counters.insert(id, mine);
            EventKind::CounterCreated {
                id: mine,
                name: Arc::from(format!("{}: {name}", p.name)),
            }
        }
        WireEvent::Counter { id, value } => EventKind::Counter {
            id: *remap.counters.get(&id)?,
            value,
        },
        WireEvent::Log { worker, text } => EventKind::Log {
            worker: worker.map(|w| remap.worker(lab, w)),
            text,
        },
        WireEvent::Note { id, key, value } => EventKind::Note {
            id: remap.worker(lab, id),
            key: Arc::from(key),
            value,
        },
    })
}

/// The child's stderr: each line into the lab's log (a traceback, as
/// Python prints it), the last few kept for a failure's message.
fn read_stderr(p: &ProcInner, err: std::process::ChildStderr, tail: &Mutex<Vec<String>>) {
    for line in BufReader::new(err).lines() {
        let Ok(line) = line else { break };
        p.lab.probe.emit(EventKind::Log {
            worker: None,
            text: format!("[{} stderr] {line}", p.name),
        });
        let mut t = tail.lock();
        t.push(line);
        if t.len() > 8 {
            t.remove(0);
        }
    }
}

/// The child has been reaped: its exit code, and how it shows.
fn finish(
    p: &ProcInner,
    status: std::io::Result<std::process::ExitStatus>,
    raised: &Mutex<Option<String>>,
    tail: &Mutex<Vec<String>>,
) {
    let (exitcode, signal) = match &status {
        Ok(s) => match (s.code(), s.signal()) {
            (Some(c), _) => (c, None),
            (None, Some(sig)) => (-sig, Some(sig)),
            _ => (1, None),
        },
        Err(_) => (1, None),
    };
    let killed_by_lab = p.m.lock().killed_by_lab;
    let why = || {
        raised
            .lock()
            .clone()
            .or_else(|| tail.lock().last().cloned())
            .unwrap_or_default()
    };
    let (state, message) = if killed_by_lab && signal.is_some() {
        (State::Killed, Some("stopped by the lab".to_string()))
    } else if killed_by_lab {
        // It ended by itself as Stop came: say how, not only that it stopped.
        let why = why();
        let message = if why.is_empty() {
            format!("stopped by the lab; it had ended by itself (exitcode {exitcode})")
        } else {
            format!("stopped by the lab; it had ended by itself (exitcode {exitcode}: {why})")
        };
        (State::Killed, Some(message))
    } else if let Some(sig) = signal {
        let name = match sig {
            9 => "SIGKILL",
            15 => "SIGTERM",
            _ => "a signal",
        };
        (
            State::Killed,
            Some(format!("ended by {name} (exitcode {exitcode})")),
        )
    } else if exitcode == 0 {
        (State::Done, None)
    } else {
        let why = why();
        let message = if why.is_empty() {
            format!("exitcode {exitcode}")
        } else {
            format!("exitcode {exitcode}: {why}")
        };
        (State::Failed, Some(message))
    };
    p.lab.probe.emit(EventKind::ProcessExited {
        id: p.id,
        exitcode,
        state,
        message,
    });
    p.base.report(0, 0, Some(1), None);
    *p.stdin.lock() = None;
    p.m.lock().exitcode = Some(exitcode);
    p.m.notify_all();
}

fn start_cpu_sampler(lab: &Arc<LabShared>) {
    let procs = lab.processes();
    let mut slot = procs.cpu.lock();
    if slot.is_some() {
        return;
    }
    let weak = Arc::downgrade(lab);
    *slot = std::thread::Builder::new()
        .name(format!("hp{}-cpu", lab.serial))
        .spawn(move || cpu::sample(&weak))
        .ok();
}
