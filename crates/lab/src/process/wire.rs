//! What crosses between the lab and a child process, as JSON lines: the
//! child's job (on its stdin, first), the parent's later orders (stdin),
//! and the child's events (stdout), stamped on the lab's clock.

use serde::{Deserialize, Serialize};

use crate::State;
use crate::probe::{EventKind, ResourceKind, Target};

/// An object of `multiprocessing` handed to a child: which file
/// descriptors (inherited across exec) or which place in the shared memory
/// it lives in.
#[derive(Clone, Debug, Serialize, Deserialize, PartialEq)]
pub enum Handle {
    /// `multiprocessing.Queue`: a SOCK_SEQPACKET socket pair (one message
    /// per packet: puts and gets from many processes never interleave),
    /// and its depth counter in shared memory.
    Queue {
        name: String,
        put_fd: i32,
        get_fd: i32,
        depth_at: usize,
    },
    /// One end of a `multiprocessing.Pipe()`: a `Connection`.
    Conn { name: String, fd: i32 },
    /// `multiprocessing.Lock`: a word in shared memory.
    Lock { name: String, at: usize },
    /// `multiprocessing.Value(typecode)`: a slot in shared memory, and the
    /// lock `get_lock()` returns (None with `lock=False`).
    Value {
        name: String,
        at: usize,
        float: bool,
        lock_at: Option<usize>,
    },
    /// `multiprocessing.Array(typecode, n)`.
    Array {
        name: String,
        at: usize,
        len: usize,
        float: bool,
        lock_at: Option<usize>,
    },
    /// A `Manager()`'s server process, reached at this Unix socket.
    Manager { path: String },
}

impl Handle {
    /// The descriptors the child must inherit.
    pub fn fds(&self) -> Vec<i32> {
        match self {
            Handle::Queue { put_fd, get_fd, .. } => vec![*put_fd, *get_fd],
            Handle::Conn { fd, .. } => vec![*fd],
            _ => Vec::new(),
        }
    }
}

/// A child's job.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub struct Spec {
    /// Marks the lab's children (tests look for orphans by it).
    pub token: String,
    pub parent_pid: u32,
    /// `Process.name`, e.g. "Process-1" or "ForkPoolWorker-2".
    pub name: String,
    /// What the child runs (see `scenarios::child_target`).
    pub target: String,
    pub args: serde_json::Value,
    pub handles: Vec<Handle>,
    /// The scenario whose knobs the child reads, and their values now.
    pub scenario: Option<String>,
    pub knobs: Vec<(String, f64)>,
    pub speed: f64,
    /// The lab's epoch on the OS monotonic clock (ns).
    pub epoch_mono: u64,
    /// The shared memory segment's descriptor and size, if the lab has one.
    pub shm: Option<(i32, usize)>,
    /// The child's interpreter: with a GIL (CPython) or free-threaded.
    pub gil: bool,
    pub switch_interval: f64,
    /// Its threads run below a window's priority, as the lab's workers
    /// do (so threads and processes compete on equal terms).
    #[serde(default)]
    pub below_ui: bool,
}

/// The parent's orders after the job.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub enum Down {
    Knob { name: String, value: f64 },
    Speed { speed: f64 },
}

/// What a child sends up.
#[derive(Clone, Debug, Serialize, Deserialize)]
pub enum Up {
    /// It runs: the first thing it says.
    Hello { pid: u32 },
    /// Events, each `(ns after the lab's epoch, event)`, and how many it
    /// has dropped so far.
    Events {
        dropped: u64,
        events: Vec<(u64, WireEvent)>,
    },
    /// Its MainThread ended with this exception (the traceback's last line).
    Raised { line: String },
}

/// The events a child's threads and primitives report (its futures stay home).
#[derive(Clone, Debug, Serialize, Deserialize)]
pub enum WireEvent {
    WorkerCreated {
        id: u32,
        name: String,
        daemon: bool,
    },
    State {
        id: u32,
        state: State,
        target: Option<Target>,
        /// The wait gives up by itself (`acquire(timeout=…)`).
        #[serde(default)]
        timed: bool,
    },
    Failed {
        id: u32,
        message: String,
        panic: bool,
    },
    ResourceCreated {
        id: u32,
        name: String,
        kind: ResourceKind,
        capacity: Option<i64>,
    },
    Resource {
        id: u32,
        level: i64,
        waiters: u32,
        capacity: Option<i64>,
        holder: Option<u32>,
    },
    ResourceDropped {
        id: u32,
    },
    CounterCreated {
        id: u32,
        name: String,
    },
    Counter {
        id: u32,
        value: i64,
    },
    Log {
        worker: Option<u32>,
        text: String,
    },
    Note {
        id: u32,
        key: String,
        value: String,
    },
}

impl WireEvent {
    /// The wire form of a child's event; None for what stays in the child.
    pub fn from_event(kind: EventKind) -> Option<WireEvent> {
        Some(match kind {
            EventKind::WorkerCreated {
                id, name, daemon, ..
            } => WireEvent::WorkerCreated {
                id,
                name: name.to_string(),
                daemon,
            },
            EventKind::State {
                id,
                state,
                target,
                timed,
            } => WireEvent::State {
                id,
                state,
                target,
                timed,
            },
            EventKind::Failed { id, message, panic } => WireEvent::Failed { id, message, panic },
            EventKind::ResourceCreated {
                id,
                name,
                kind,
                capacity,
            } => WireEvent::ResourceCreated {
                id,
                name: name.to_string(),
                kind,
                capacity,
            },
            EventKind::Resource {
                id,
                level,
                waiters,
                capacity,
                holder,
            } => WireEvent::Resource {
                id,
                level,
                waiters,
                capacity,
                holder,
            },
            EventKind::ResourceDropped { id } => WireEvent::ResourceDropped { id },
            EventKind::CounterCreated { id, name } => WireEvent::CounterCreated {
                id,
                name: name.to_string(),
            },
            EventKind::Counter { id, value } => WireEvent::Counter { id, value },
            EventKind::Log { worker, text } => WireEvent::Log { worker, text },
            EventKind::Note { id, key, value } => WireEvent::Note {
                id,
                key: key.to_string(),
                value,
            },
            _ => return None,
        })
    }
}
