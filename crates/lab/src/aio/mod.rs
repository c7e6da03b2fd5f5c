//! asyncio on a real event loop: one lab thread runs a loop with asyncio's
//! own rules, and each task is a lane on the timeline.
//!
//! Why our own small executor and not tokio's current-thread runtime with a
//! `LocalSet`: the lessons are about asyncio's ordering, and tokio keeps
//! different rules. Its scheduler takes a task out of turn when its
//! cooperative budget runs out, looks at timers only every so many ticks,
//! fires timers from a wheel of 1 ms slots in the wheel's order, and wakes a
//! task straight from the thing it waits on. asyncio wakes nothing directly:
//! a future that completes *schedules* its callbacks, a task's wake-up is
//! one of them, and one iteration of the loop ([`core`]'s `run_once`, a port
//! of `BaseEventLoop._run_once`) first moves the due timers to the ready
//! queue and then runs exactly the callbacks that were ready when it began.
//! How many iterations a wake-up takes is visible in a program's output (a
//! `gather` resumes its caller two iterations after the last child ends), so
//! the loop, `Future`, `Task` and the functions on top of them (`gather`,
//! `wait_for`, `wait`, `as_completed`, `timeout`, `Queue`, `Lock`,
//! `Semaphore`, `Event`, `to_thread`) are ports of CPython 3.11's code onto
//! Rust futures, checked against CPython in `tests/aio_semantics.rs`. A
//! tokio runtime would also hide the ready queue and the tasks' states the
//! lab has to show.
//!
//! A coroutine is a Rust `async` block returning [`PyResult`]. Cancellation
//! is delivered as asyncio delivers it, at the `await` the task is suspended
//! in: that await returns `Err(Exc::Cancelled)`, so the code after it (the
//! `except CancelledError:` cleanup) runs, and `?` re-raises it. Only this
//! module's awaitables may be awaited inside a task (asyncio refuses foreign
//! futures too: "Task got bad yield").
//!
//! Instrumentation ([`lanes`]): every task is a lane in the threads' id
//! space, grouped under its role ("Task" for "Task-7"); the loop's thread is
//! the lab thread that called [`run`]. Past the record's cap on task lanes,
//! tasks are reported as counts per role once per loop iteration. The loop
//! also reports the tasks alive, its ready queue and its lag.

mod combine;
mod core;
mod executor;
mod lanes;
mod sync;

use std::borrow::Cow;
use std::fmt;

pub use self::combine::{
    AsCompleted, ReturnWhen, as_completed, gather, gather_return_exceptions, timeout, wait,
    wait_for,
};
pub use self::core::{
    Await, RunOptions, Task, TaskRef, create_task, create_task_named, current_task, loop_time, run,
    run_with, sleep,
};
pub use self::executor::{run_in_executor, to_thread};
pub use self::sync::{Event, Lock, LockGuard, Queue, Semaphore};

use super::error::SyncError;

/// The counter of tasks alive the loop keeps up to date.
pub const TASKS_ALIVE: &str = "tasks_alive";
/// The counter of the loop's lag: how late (in ms of scenario time) it ran
/// the timer callbacks of its last iteration that ran any.
pub const LOOP_LAG_MS: &str = "loop_lag_ms";
/// The resource that is the event loop: its level is the ready queue's length.
pub const EVENT_LOOP: &str = "event loop";

/// A Python exception, as a task raises it or an await delivers it.
#[derive(Clone, Debug, PartialEq)]
pub enum Exc {
    /// `asyncio.CancelledError`, delivered at the await a cancelled task waits in.
    Cancelled,
    /// `TimeoutError` (which `asyncio.TimeoutError` is in 3.11).
    Timeout,
    /// Any other exception: its class name and message.
    Raised {
        kind: Cow<'static, str>,
        message: String,
    },
    /// The lab is stopping: not a Python exception; it unwinds every task.
    Stopped,
}

impl Exc {
    pub fn value_error(message: impl Into<String>) -> Exc {
        Exc::Raised {
            kind: Cow::Borrowed("ValueError"),
            message: message.into(),
        }
    }

    pub fn runtime_error(message: impl Into<String>) -> Exc {
        Exc::Raised {
            kind: Cow::Borrowed("RuntimeError"),
            message: message.into(),
        }
    }

    pub fn is_cancelled(&self) -> bool {
        matches!(self, Exc::Cancelled)
    }
}

impl fmt::Display for Exc {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Exc::Cancelled => write!(f, "CancelledError"),
            Exc::Timeout => write!(f, "TimeoutError"),
            Exc::Raised { kind, message } if message.is_empty() => write!(f, "{kind}"),
            Exc::Raised { kind, message } => write!(f, "{kind}: {message}"),
            Exc::Stopped => write!(f, "stopped by the lab"),
        }
    }
}

impl std::error::Error for Exc {}

impl From<SyncError> for Exc {
    fn from(e: SyncError) -> Exc {
        let raised = |kind: &'static str| Exc::Raised {
            kind: Cow::Borrowed(kind),
            message: String::new(),
        };
        match e {
            SyncError::Stopped => Exc::Stopped,
            SyncError::Full => raised("queue.Full"),
            SyncError::Empty => raised("queue.Empty"),
            SyncError::ValueError(m) => Exc::value_error(m),
            SyncError::RuntimeError(m) => Exc::runtime_error(m),
            SyncError::BrokenBarrier => raised("BrokenBarrierError"),
            SyncError::Exception { name, message }
                if name == "TimeoutError" && message.is_empty() =>
            {
                Exc::Timeout
            }
            SyncError::Exception { name, message } => Exc::Raised {
                kind: Cow::Owned(name),
                message,
            },
        }
    }
}

impl From<Exc> for SyncError {
    fn from(e: Exc) -> SyncError {
        match e {
            Exc::Stopped => SyncError::Stopped,
            Exc::Timeout => SyncError::timeout(),
            // As Python 3.11 names it in a traceback.
            Exc::Cancelled => SyncError::exception("asyncio.exceptions.CancelledError", ""),
            Exc::Raised { kind, message } => match &*kind {
                "ValueError" => SyncError::ValueError(message),
                "RuntimeError" => SyncError::RuntimeError(message),
                _ => SyncError::Exception {
                    name: kind.into_owned(),
                    message,
                },
            },
        }
    }
}

/// What a coroutine returns: a value, or the exception it raised.
pub type PyResult<T> = Result<T, Exc>;
