//! multiprocessing's ways to talk and share, on real OS objects: a shared
//! memory segment (memfd, mapped in every process of the lab), `Queue`
//! and `Pipe` over Unix socket pairs (data serialised with serde as JSON,
//! its bytes and the time that takes counted), `Lock` as a word in shared
//! memory (waiting on a futex), and `Value`/`Array` as slots in it.
//!
//! Every blocking call shows its thread blocked on the object, lets go of
//! the GIL (I/O does, in CPython), and gives up within 20 ms of Stop.

use std::os::fd::{AsFd, AsRawFd, BorrowedFd, FromRawFd, OwnedFd, RawFd};
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, AtomicU32, AtomicU64, Ordering};
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use rustix::event::{PollFd, PollFlags, poll};
use rustix::net::{AddressFamily, RecvFlags, SendFlags, SocketFlags, SocketType};

use super::wire::Handle;
use crate::error::{SyncError, SyncResult};
use crate::probe::{ResourceKind, WorkerId};
use crate::state::State;
use crate::sync::{Counter, ResourceBase};
use crate::worker::{StateScope, current};
use crate::{LabHandle, LabShared};

/// How often a blocked call looks at Stop.
const POLL_MS: i32 = 20;
/// The largest message a Queue or Pipe carries.
const MAX_MESSAGE: usize = 200 * 1024;

fn os_error(what: &str, e: impl std::fmt::Display) -> SyncError {
    SyncError::exception("OSError", format!("{what}: {e}"))
}

fn stopping(lab: &LabShared) -> bool {
    lab.is_stopping() || current().is_some_and(|w| w.is_killed())
}

// ---- Shared memory

/// The lab's shared memory: one memfd segment, mapped in the lab's
/// process and in every child (which inherits its descriptor). The lab
/// hands out 8-byte slots; a child maps the same pages.
pub struct SharedMemory {
    fd: OwnedFd,
    map: memmap2::MmapMut,
    next: Mutex<usize>,
}

/// Its size: room for thousands of slots.
pub const SHM_SIZE: usize = 1 << 20;

impl SharedMemory {
    /// A new segment (in the lab's process).
    pub fn create() -> SyncResult<SharedMemory> {
        let fd = rustix::fs::memfd_create("hilos-shm", rustix::fs::MemfdFlags::CLOEXEC)
            .map_err(|e| os_error("memfd_create", e))?;
        rustix::fs::ftruncate(&fd, SHM_SIZE as u64).map_err(|e| os_error("ftruncate", e))?;
        Self::map(fd)
    }

    /// Map a segment a child inherited.
    pub fn open(fd: RawFd) -> SyncResult<SharedMemory> {
        // SAFETY: the parent handed this descriptor to this process for
        // the segment alone; nothing else owns it.
        let fd = unsafe { OwnedFd::from_raw_fd(fd) };
        Self::map(fd)
    }

    fn map(fd: OwnedFd) -> SyncResult<SharedMemory> {
        let file = std::fs::File::from(fd.try_clone().map_err(|e| os_error("dup", e))?);
        // SAFETY: the segment is only ever accessed through atomics, so
        // other processes writing it at the same time is what it is for.
        let map = unsafe { memmap2::MmapOptions::new().len(SHM_SIZE).map_mut(&file) }
            .map_err(|e| os_error("mmap", e))?;
        Ok(SharedMemory {
            fd,
            map,
            next: Mutex::new(64),
        })
    }

    pub fn raw_fd(&self) -> RawFd {
        self.fd.as_raw_fd()
    }

    /// `n` zeroed 8-byte slots; their offset.
    pub fn alloc(&self, n: usize) -> SyncResult<usize> {
        let mut next = self.next.lock();
        let at = *next;
        let end = at + 8 * n.max(1);
        if end > SHM_SIZE {
            return Err(SyncError::exception(
                "MemoryError",
                "the lab's shared memory is full",
            ));
        }
        *next = end;
        Ok(at)
    }

    fn slot(&self, at: usize) -> &AtomicU64 {
        assert!(
            at.is_multiple_of(8) && at + 8 <= SHM_SIZE,
            "shared slot out of range"
        );
        // SAFETY: in range and 8-aligned (the map is page-aligned); the
        // mapping lives as long as `self`.
        unsafe { &*(self.map.as_ptr().add(at) as *const AtomicU64) }
    }

    fn word(&self, at: usize) -> &AtomicU32 {
        assert!(
            at.is_multiple_of(8) && at + 8 <= SHM_SIZE,
            "shared slot out of range"
        );
        // SAFETY: as for `slot`.
        unsafe { &*(self.map.as_ptr().add(at) as *const AtomicU32) }
    }

    fn signed(&self, at: usize) -> &AtomicI64 {
        assert!(
            at.is_multiple_of(8) && at + 8 <= SHM_SIZE,
            "shared slot out of range"
        );
        // SAFETY: as for `slot`.
        unsafe { &*(self.map.as_ptr().add(at) as *const AtomicI64) }
    }
}

/// The lab's shared memory in this process (made in the lab, inherited in a child).
pub(crate) fn shared_memory(lab: &LabShared) -> SyncResult<Arc<SharedMemory>> {
    let procs = lab.processes();
    let mut shm = procs.shm.lock();
    if let Some(s) = &*shm {
        return Ok(s.clone());
    }
    let s = Arc::new(SharedMemory::create()?);
    *shm = Some(s.clone());
    Ok(s)
}

// ---- Messages

/// One message on the wire: when it was sent (monotonic ns, the same clock
/// in every process) and the value.
#[derive(serde::Serialize, serde::Deserialize)]
struct Envelope {
    sent: u64,
    value: serde_json::Value,
}

/// What sending costs, counted per object: `{name}.bytes`, `{name}.messages`,
/// `{name}.pickle_us` (serialising), and on the receiving side
/// `{name}.latency_us` (the last message's time in transit).
#[derive(Clone)]
struct Costs {
    bytes: Counter,
    messages: Counter,
    encode_us: Counter,
    latency_us: Counter,
    received: Counter,
}

impl Costs {
    fn new(lab: &LabHandle, name: &str) -> Costs {
        Costs {
            bytes: lab.counter(&format!("{name}.bytes")),
            messages: lab.counter(&format!("{name}.messages")),
            encode_us: lab.counter(&format!("{name}.pickle_us")),
            latency_us: lab.counter(&format!("{name}.latency_us")),
            received: lab.counter(&format!("{name}.received")),
        }
    }

    fn encode(&self, value: &serde_json::Value) -> SyncResult<Vec<u8>> {
        let t0 = Instant::now();
        let bytes = serde_json::to_vec(&Envelope {
            sent: crate::probe::monotonic_ns(),
            value: value.clone(),
        })
        .map_err(|e| SyncError::exception("PicklingError", e.to_string()))?;
        self.encode_us.add(t0.elapsed().as_micros() as i64);
        if bytes.len() > MAX_MESSAGE {
            return Err(SyncError::ValueError(format!(
                "a message of {} bytes is larger than the lab's limit of {MAX_MESSAGE}",
                bytes.len()
            )));
        }
        self.bytes.add(bytes.len() as i64);
        self.messages.add(1);
        Ok(bytes)
    }

    fn decode(&self, bytes: &[u8]) -> SyncResult<serde_json::Value> {
        let env: Envelope = serde_json::from_slice(bytes)
            .map_err(|e| SyncError::exception("UnpicklingError", e.to_string()))?;
        let now = crate::probe::monotonic_ns();
        self.latency_us
            .set(now.saturating_sub(env.sent) as i64 / 1000);
        self.received.add(1);
        Ok(env.value)
    }
}

fn seqpacket_pair() -> SyncResult<(OwnedFd, OwnedFd)> {
    rustix::net::socketpair(
        AddressFamily::UNIX,
        SocketType::SEQPACKET,
        SocketFlags::CLOEXEC,
        None,
    )
    .map_err(|e| os_error("socketpair", e))
}

/// Wait until `fd` is readable (or writable), looking at Stop every
/// [`POLL_MS`]; `deadline` gives up (false).
fn wait_fd(
    lab: &LabShared,
    fd: BorrowedFd,
    write: bool,
    deadline: Option<Instant>,
) -> SyncResult<bool> {
    let flags = if write { PollFlags::OUT } else { PollFlags::IN };
    loop {
        if stopping(lab) {
            return Err(SyncError::Stopped);
        }
        let mut ms = POLL_MS;
        if let Some(d) = deadline {
            let left = d.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Ok(false);
            }
            ms = ms.min(left.as_millis().max(1) as i32);
        }
        let mut fds = [PollFd::new(&fd, flags)];
        let timeout = rustix::event::Timespec {
            tv_sec: 0,
            tv_nsec: i64::from(ms) * 1_000_000,
        };
        match poll(&mut fds, Some(&timeout)) {
            Ok(0) => continue,
            Ok(_) => return Ok(true),
            Err(rustix::io::Errno::INTR) => continue,
            Err(e) => return Err(os_error("poll", e)),
        }
    }
}

/// Send one packet, waiting (stop-aware) while the socket's buffer is full.
fn send_packet(lab: &LabShared, fd: BorrowedFd, bytes: &[u8]) -> SyncResult<()> {
    loop {
        match rustix::net::send(fd, bytes, SendFlags::DONTWAIT | SendFlags::NOSIGNAL) {
            Ok(_) => return Ok(()),
            Err(rustix::io::Errno::AGAIN) | Err(rustix::io::Errno::INTR) => {
                wait_fd(lab, fd, true, None)?;
            }
            Err(rustix::io::Errno::PIPE) | Err(rustix::io::Errno::CONNRESET) => {
                return Err(SyncError::exception(
                    "BrokenPipeError",
                    "the other end is closed",
                ));
            }
            Err(e) => return Err(os_error("send", e)),
        }
    }
}

/// Receive one packet: None if none came before the deadline.
fn recv_packet(
    lab: &LabShared,
    fd: BorrowedFd,
    deadline: Option<Instant>,
) -> SyncResult<Option<Vec<u8>>> {
    let mut buf = vec![0u8; MAX_MESSAGE + 1024];
    loop {
        match rustix::net::recv(fd, &mut buf[..], RecvFlags::DONTWAIT) {
            Ok((_, 0)) => {
                return Err(SyncError::exception("EOFError", ""));
            }
            Ok((_, n)) => {
                buf.truncate(n);
                return Ok(Some(buf));
            }
            Err(rustix::io::Errno::AGAIN) | Err(rustix::io::Errno::INTR) => {
                if !wait_fd(lab, fd, false, deadline)? {
                    return Ok(None);
                }
            }
            Err(e) => return Err(os_error("recv", e)),
        }
    }
}

// ---- Queue

/// `multiprocessing.Queue()`: any process may put and get; each message is
/// serialised, sent as one packet, and read whole by exactly one getter.
/// Its depth (`qsize()`) is a counter in shared memory, so every process
/// sees the same one.
#[derive(Clone)]
pub struct Queue(Arc<QueueCore>);

struct QueueCore {
    base: ResourceBase,
    handle: Handle,
    put_fd: OwnedFd,
    get_fd: OwnedFd,
    shm: Arc<SharedMemory>,
    depth_at: usize,
    waiting: AtomicU32,
    costs: Costs,
}

impl Queue {
    /// A new queue, in the lab's process.
    pub fn new(lab: &LabHandle, name: &str) -> SyncResult<Queue> {
        let shm = shared_memory(&lab.0)?;
        let depth_at = shm.alloc(1)?;
        let (put_fd, get_fd) = seqpacket_pair()?;
        let handle = Handle::Queue {
            name: name.to_string(),
            put_fd: put_fd.as_raw_fd(),
            get_fd: get_fd.as_raw_fd(),
            depth_at,
        };
        Ok(Self::build(
            lab, name, handle, put_fd, get_fd, shm, depth_at,
        ))
    }

    fn build(
        lab: &LabHandle,
        name: &str,
        handle: Handle,
        put_fd: OwnedFd,
        get_fd: OwnedFd,
        shm: Arc<SharedMemory>,
        depth_at: usize,
    ) -> Queue {
        let base = ResourceBase::new(lab, name, ResourceKind::Queue, None);
        lab.0.processes().share_name(name, base.id);
        Queue(Arc::new(QueueCore {
            base,
            handle,
            put_fd,
            get_fd,
            shm,
            depth_at,
            waiting: AtomicU32::new(0),
            costs: Costs::new(lab, name),
        }))
    }

    /// The queue a child was handed.
    pub fn from_handle(lab: &LabHandle, handle: &Handle) -> SyncResult<Queue> {
        let Handle::Queue {
            name,
            put_fd,
            get_fd,
            depth_at,
        } = handle
        else {
            return Err(SyncError::exception("TypeError", "not a Queue"));
        };
        let shm = shared_memory(&lab.0)?;
        // SAFETY: inherited for this queue alone.
        let (p, g) = unsafe { (OwnedFd::from_raw_fd(*put_fd), OwnedFd::from_raw_fd(*get_fd)) };
        Ok(Self::build(lab, name, handle.clone(), p, g, shm, *depth_at))
    }

    pub fn handle(&self) -> Handle {
        self.0.handle.clone()
    }

    pub fn name(&self) -> &str {
        &self.0.base.name
    }

    fn report(&self) {
        let depth = self.0.shm.signed(self.0.depth_at).load(Ordering::Acquire);
        self.0
            .base
            .report(depth, self.0.waiting.load(Ordering::Relaxed), None, None);
    }

    /// `put(obj)`.
    pub fn put(&self, value: &serde_json::Value) -> SyncResult<()> {
        let bytes = self.0.costs.encode(value)?;
        let lab = &self.0.base.lab;
        // Counted first, so a getter never sees the depth below zero.
        self.0
            .shm
            .signed(self.0.depth_at)
            .fetch_add(1, Ordering::AcqRel);
        let sent = send_packet(lab, self.0.put_fd.as_fd(), &bytes);
        if sent.is_err() {
            self.0
                .shm
                .signed(self.0.depth_at)
                .fetch_sub(1, Ordering::AcqRel);
        }
        self.report();
        sent
    }

    /// `get(timeout=None)`: blocks until a message comes; `queue.Empty`
    /// after `timeout` scenario seconds.
    pub fn get(&self, timeout: Option<f64>) -> SyncResult<serde_json::Value> {
        let lab = &self.0.base.lab;
        let deadline = self.0.base.deadline_after(timeout);
        let fd = self.0.get_fd.as_fd();
        // A message already there: no wait to show.
        let quick =
            rustix::net::recv(fd, &mut [0u8; 0], RecvFlags::PEEK | RecvFlags::DONTWAIT).is_ok();
        let bytes = if quick {
            recv_packet(lab, fd, deadline)?
        } else {
            let me = current();
            self.0.waiting.fetch_add(1, Ordering::Relaxed);
            self.report();
            let scope = StateScope::enter(me.as_deref(), State::Blocked, self.0.base.target());
            let got = recv_packet(lab, fd, deadline);
            self.0.waiting.fetch_sub(1, Ordering::Relaxed);
            drop(scope);
            got?
        };
        let Some(bytes) = bytes else {
            self.report();
            return Err(SyncError::Empty);
        };
        self.0
            .shm
            .signed(self.0.depth_at)
            .fetch_sub(1, Ordering::AcqRel);
        self.report();
        self.0.costs.decode(&bytes)
    }

    /// `qsize()`: messages put and not yet got, in every process.
    pub fn qsize(&self) -> i64 {
        self.0.shm.signed(self.0.depth_at).load(Ordering::Acquire)
    }
}

// ---- Pipe

/// One end of `multiprocessing.Pipe()`: `send(obj)` and `recv()`, duplex.
#[derive(Clone)]
pub struct Connection(Arc<ConnCore>);

struct ConnCore {
    base: ResourceBase,
    fd: OwnedFd,
    handle: Handle,
    costs: Costs,
    waiting: AtomicU32,
}

/// `multiprocessing.Pipe(duplex=True)`: two connected ends; what one sends
/// the other receives, in order.
pub fn pipe(lab: &LabHandle, name: &str) -> SyncResult<(Connection, Connection)> {
    let (a, b) = seqpacket_pair()?;
    let end = |fd: OwnedFd, suffix: &str| {
        let n = format!("{name}{suffix}");
        let handle = Handle::Conn {
            name: n.clone(),
            fd: fd.as_raw_fd(),
        };
        Connection::build(lab, &n, handle, fd)
    };
    Ok((end(a, "[0]"), end(b, "[1]")))
}

impl Connection {
    fn build(lab: &LabHandle, name: &str, handle: Handle, fd: OwnedFd) -> Connection {
        let base = ResourceBase::new(lab, name, ResourceKind::Queue, None);
        lab.0.processes().share_name(name, base.id);
        Connection(Arc::new(ConnCore {
            base,
            fd,
            handle,
            costs: Costs::new(lab, name),
            waiting: AtomicU32::new(0),
        }))
    }

    pub fn from_handle(lab: &LabHandle, handle: &Handle) -> SyncResult<Connection> {
        let Handle::Conn { name, fd } = handle else {
            return Err(SyncError::exception("TypeError", "not a Connection"));
        };
        // SAFETY: inherited for this connection alone.
        let fd = unsafe { OwnedFd::from_raw_fd(*fd) };
        Ok(Self::build(lab, name, handle.clone(), fd))
    }

    pub fn handle(&self) -> Handle {
        self.0.handle.clone()
    }

    /// `send(obj)`.
    pub fn send(&self, value: &serde_json::Value) -> SyncResult<()> {
        let bytes = self.0.costs.encode(value)?;
        send_packet(&self.0.base.lab, self.0.fd.as_fd(), &bytes)
    }

    /// `recv()`: blocks until the other end sends; `EOFError` once it is
    /// closed and nothing is left.
    pub fn recv(&self) -> SyncResult<serde_json::Value> {
        let me = current();
        self.0.waiting.fetch_add(1, Ordering::Relaxed);
        self.0
            .base
            .report(0, self.0.waiting.load(Ordering::Relaxed), None, None);
        let scope = StateScope::enter(me.as_deref(), State::Blocked, self.0.base.target());
        let got = recv_packet(&self.0.base.lab, self.0.fd.as_fd(), None);
        self.0.waiting.fetch_sub(1, Ordering::Relaxed);
        drop(scope);
        self.0
            .base
            .report(0, self.0.waiting.load(Ordering::Relaxed), None, None);
        match got? {
            Some(bytes) => self.0.costs.decode(&bytes),
            None => Err(SyncError::exception("EOFError", "")),
        }
    }

    /// `poll(timeout)`: whether something is waiting to be received.
    pub fn poll(&self, timeout: f64) -> SyncResult<bool> {
        let deadline = self.0.base.deadline_after(Some(timeout));
        wait_fd(&self.0.base.lab, self.0.fd.as_fd(), false, deadline)
    }
}

// ---- Lock

/// `multiprocessing.Lock()`: one word in shared memory (0 free, 1 held),
/// taken with a compare-and-swap; a waiter sleeps on a futex. A process
/// killed while holding it leaves it held, as in Python.
#[derive(Clone)]
pub struct Lock(Arc<LockCore>);

struct LockCore {
    base: ResourceBase,
    shm: Arc<SharedMemory>,
    at: usize,
    holder: Mutex<Option<WorkerId>>,
}

impl Lock {
    pub fn new(lab: &LabHandle, name: &str) -> SyncResult<Lock> {
        let shm = shared_memory(&lab.0)?;
        let at = shm.alloc(2)?;
        Ok(Self::build(lab, name, shm, at))
    }

    fn build(lab: &LabHandle, name: &str, shm: Arc<SharedMemory>, at: usize) -> Lock {
        let base = ResourceBase::new(lab, name, ResourceKind::Lock, Some(1));
        lab.0.processes().share_name(name, base.id);
        Lock(Arc::new(LockCore {
            base,
            shm,
            at,
            holder: Mutex::new(None),
        }))
    }

    pub fn from_handle(lab: &LabHandle, handle: &Handle) -> SyncResult<Lock> {
        let Handle::Lock { name, at } = handle else {
            return Err(SyncError::exception("TypeError", "not a Lock"));
        };
        Ok(Self::build(lab, name, shared_memory(&lab.0)?, *at))
    }

    fn at_lock(lab: &LabHandle, name: &str, at: usize) -> SyncResult<Lock> {
        Ok(Self::build(lab, name, shared_memory(&lab.0)?, at))
    }

    pub fn handle(&self) -> Handle {
        Handle::Lock {
            name: self.0.base.name.to_string(),
            at: self.0.at,
        }
    }

    fn word(&self) -> &AtomicU32 {
        self.0.shm.word(self.0.at)
    }

    fn waiters(&self) -> &AtomicU32 {
        self.0.shm.word(self.0.at + 8)
    }

    fn report(&self) {
        let held = self.word().load(Ordering::Acquire) != 0;
        self.0.base.report(
            i64::from(held),
            self.waiters().load(Ordering::Relaxed),
            Some(1),
            *self.0.holder.lock(),
        );
    }

    fn try_take(&self) -> bool {
        self.word()
            .compare_exchange(0, 1, Ordering::AcqRel, Ordering::Acquire)
            .is_ok()
    }

    /// `acquire()`: blocks (stop-aware) until no process holds it.
    pub fn acquire(&self) -> SyncResult<()> {
        let me = current();
        if !self.try_take() {
            let lab = self.0.base.lab.clone();
            self.waiters().fetch_add(1, Ordering::AcqRel);
            self.report();
            let scope = StateScope::enter(me.as_deref(), State::Blocked, self.0.base.target());
            let result = loop {
                if self.try_take() {
                    break Ok(());
                }
                if stopping(&lab) {
                    break Err(SyncError::Stopped);
                }
                let timeout = rustix::thread::futex::Timespec {
                    tv_sec: 0,
                    tv_nsec: i64::from(POLL_MS) * 1_000_000,
                };
                // Sleeps only while the word still says held; any release
                // wakes it. A shared (not private) futex: other processes
                // map the same page.
                let _ = rustix::thread::futex::wait(
                    self.word(),
                    rustix::thread::futex::Flags::empty(),
                    1,
                    Some(&timeout),
                );
            };
            self.waiters().fetch_sub(1, Ordering::AcqRel);
            drop(scope);
            result?;
        }
        *self.0.holder.lock() = me.map(|w| w.id);
        self.report();
        Ok(())
    }

    /// `release()`.
    pub fn release(&self) -> SyncResult<()> {
        *self.0.holder.lock() = None;
        if self.word().swap(0, Ordering::AcqRel) == 0 {
            return Err(SyncError::ValueError(
                "semaphore or lock released too many times".into(),
            ));
        }
        if self.waiters().load(Ordering::Acquire) > 0 {
            let _ =
                rustix::thread::futex::wake(self.word(), rustix::thread::futex::Flags::empty(), 1);
        }
        self.report();
        Ok(())
    }
}

// ---- Value and Array

/// `multiprocessing.Value('i' or 'd', v)`: a number in shared memory.
/// `value()` and `set_value()` are single reads and writes; `value += 1`
/// is both, with Python's bytecodes between, so two processes doing it at
/// once lose updates unless they hold `get_lock()`.
#[derive(Clone)]
pub struct Value {
    base: Arc<ResourceBase>,
    shm: Arc<SharedMemory>,
    at: usize,
    float: bool,
    lock: Option<Lock>,
}

impl Value {
    /// `Value(typecode, value, lock=True)`.
    pub fn new(
        lab: &LabHandle,
        name: &str,
        float: bool,
        value: f64,
        lock: bool,
    ) -> SyncResult<Value> {
        let shm = shared_memory(&lab.0)?;
        let at = shm.alloc(1)?;
        let lock_at = if lock { Some(shm.alloc(2)?) } else { None };
        let v = Self::build(lab, name, shm, at, float, lock_at)?;
        v.set(value);
        Ok(v)
    }

    fn build(
        lab: &LabHandle,
        name: &str,
        shm: Arc<SharedMemory>,
        at: usize,
        float: bool,
        lock_at: Option<usize>,
    ) -> SyncResult<Value> {
        let lock = match lock_at {
            Some(l) => Some(Lock::at_lock(lab, &format!("{name}.get_lock()"), l)?),
            None => None,
        };
        let base = ResourceBase::new(lab, name, ResourceKind::Value, None);
        lab.0.processes().share_name(name, base.id);
        Ok(Value {
            base: Arc::new(base),
            shm,
            at,
            float,
            lock,
        })
    }

    pub fn from_handle(lab: &LabHandle, handle: &Handle) -> SyncResult<Value> {
        let Handle::Value {
            name,
            at,
            float,
            lock_at,
        } = handle
        else {
            return Err(SyncError::exception("TypeError", "not a Value"));
        };
        Self::build(lab, name, shared_memory(&lab.0)?, *at, *float, *lock_at)
    }

    pub fn handle(&self) -> Handle {
        Handle::Value {
            name: self.base.name.to_string(),
            at: self.at,
            float: self.float,
            lock_at: self.lock.as_ref().map(|l| l.0.at),
        }
    }

    /// `.value`.
    pub fn get(&self) -> f64 {
        let bits = self.shm.slot(self.at).load(Ordering::Acquire);
        if self.float {
            f64::from_bits(bits)
        } else {
            bits as i64 as f64
        }
    }

    /// `.value = v`.
    pub fn set(&self, v: f64) {
        let bits = if self.float {
            v.to_bits()
        } else {
            v as i64 as u64
        };
        self.shm.slot(self.at).store(bits, Ordering::Release);
        self.base.report(v as i64, 0, None, None);
    }

    /// `get_lock()`: None for `Value(..., lock=False)` (Python has no
    /// get_lock then).
    pub fn get_lock(&self) -> Option<&Lock> {
        self.lock.as_ref()
    }
}

/// `multiprocessing.Array(typecode, n)`: n numbers in shared memory.
#[derive(Clone)]
pub struct Array {
    base: Arc<ResourceBase>,
    shm: Arc<SharedMemory>,
    at: usize,
    len: usize,
    float: bool,
    lock: Option<Lock>,
}

impl Array {
    pub fn new(lab: &LabHandle, name: &str, float: bool, values: &[f64]) -> SyncResult<Array> {
        let shm = shared_memory(&lab.0)?;
        let at = shm.alloc(values.len())?;
        let lock_at = shm.alloc(2)?;
        let a = Self::build(lab, name, shm, at, values.len(), float, Some(lock_at))?;
        for (i, v) in values.iter().enumerate() {
            a.set(i, *v);
        }
        Ok(a)
    }

    fn build(
        lab: &LabHandle,
        name: &str,
        shm: Arc<SharedMemory>,
        at: usize,
        len: usize,
        float: bool,
        lock_at: Option<usize>,
    ) -> SyncResult<Array> {
        let lock = match lock_at {
            Some(l) => Some(Lock::at_lock(lab, &format!("{name}.get_lock()"), l)?),
            None => None,
        };
        let base = ResourceBase::new(lab, name, ResourceKind::Value, None);
        lab.0.processes().share_name(name, base.id);
        Ok(Array {
            base: Arc::new(base),
            shm,
            at,
            len,
            float,
            lock,
        })
    }

    pub fn from_handle(lab: &LabHandle, handle: &Handle) -> SyncResult<Array> {
        let Handle::Array {
            name,
            at,
            len,
            float,
            lock_at,
        } = handle
        else {
            return Err(SyncError::exception("TypeError", "not an Array"));
        };
        Self::build(
            lab,
            name,
            shared_memory(&lab.0)?,
            *at,
            *len,
            *float,
            *lock_at,
        )
    }

    pub fn handle(&self) -> Handle {
        Handle::Array {
            name: self.base.name.to_string(),
            at: self.at,
            len: self.len,
            float: self.float,
            lock_at: self.lock.as_ref().map(|l| l.0.at),
        }
    }

    pub fn len(&self) -> usize {
        self.len
    }

    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// `a[i]`; an IndexError past the end.
    pub fn get(&self, i: usize) -> SyncResult<f64> {
        if i >= self.len {
            return Err(SyncError::exception("IndexError", "invalid index"));
        }
        let bits = self.shm.slot(self.at + 8 * i).load(Ordering::Acquire);
        Ok(if self.float {
            f64::from_bits(bits)
        } else {
            bits as i64 as f64
        })
    }

    /// `a[i] = v` (ignored past the end: callers index within `len`).
    pub fn set(&self, i: usize, v: f64) {
        if i >= self.len {
            return;
        }
        let bits = if self.float {
            v.to_bits()
        } else {
            v as i64 as u64
        };
        self.shm
            .slot(self.at + 8 * i)
            .store(bits, Ordering::Release);
    }

    /// `a[:]`.
    pub fn to_vec(&self) -> Vec<f64> {
        (0..self.len).filter_map(|i| self.get(i).ok()).collect()
    }

    pub fn get_lock(&self) -> Option<&Lock> {
        self.lock.as_ref()
    }
}

/// Used by `Duration`-free callers that want the poll period.
pub const POLL: Duration = Duration::from_millis(POLL_MS as u64);
