//! Errors the lab's primitives raise, named after the Python exceptions they mirror.

use std::fmt;

/// What a blocking call or a primitive can fail with. Worker bodies return
/// `Result<(), SyncError>` so `?` carries a stop signal out of any depth.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SyncError {
    /// The lab is stopping (Stop, Reset, or a daemon cut off at exit). Not a bug:
    /// the worker ends as `killed`.
    Stopped,
    /// `queue.Full`: a non-blocking or timed `put` found no room.
    Full,
    /// `queue.Empty`: a non-blocking or timed `get` found nothing.
    Empty,
    /// `ValueError`, e.g. releasing a BoundedSemaphore too many times.
    ValueError(String),
    /// `RuntimeError`, e.g. releasing a lock that is not held.
    RuntimeError(String),
    /// `threading.BrokenBarrierError`.
    BrokenBarrier,
    /// Any other Python exception, by its name as Python prints it (e.g.
    /// `ZeroDivisionError`, `TimeoutError`, `AttributeError`) and its message
    /// (may be empty): what a task raises, or what `Future.result()` re-raises.
    Exception { name: String, message: String },
}

impl SyncError {
    /// A Python exception by name: `SyncError::exception("ValueError", "bad input")`.
    pub fn exception(name: impl Into<String>, message: impl Into<String>) -> SyncError {
        SyncError::Exception {
            name: name.into(),
            message: message.into(),
        }
    }

    /// `TimeoutError` (what `concurrent.futures.TimeoutError` is since 3.11).
    pub fn timeout() -> SyncError {
        SyncError::exception("TimeoutError", "")
    }

    /// `concurrent.futures.CancelledError`: the result of a cancelled future.
    pub fn cancelled() -> SyncError {
        SyncError::exception("concurrent.futures._base.CancelledError", "")
    }

    /// The exception's class as Python prints it in a traceback's last line.
    pub fn python_name(&self) -> &str {
        match self {
            SyncError::Stopped => "SystemExit",
            SyncError::Full => "queue.Full",
            SyncError::Empty => "_queue.Empty",
            SyncError::ValueError(_) => "ValueError",
            SyncError::RuntimeError(_) => "RuntimeError",
            SyncError::BrokenBarrier => "threading.BrokenBarrierError",
            SyncError::Exception { name, .. } => name,
        }
    }

    /// The exception's message (`str(exc)`), empty for those without one.
    pub fn message(&self) -> &str {
        match self {
            SyncError::ValueError(m) | SyncError::RuntimeError(m) => m,
            SyncError::Exception { message, .. } => message,
            _ => "",
        }
    }

    /// The last line of Python's traceback for it: `ValueError: bad input`,
    /// or just the class when there is no message (`TimeoutError`).
    pub fn python_line(&self) -> String {
        match self.message() {
            "" => self.python_name().to_string(),
            m => format!("{}: {m}", self.python_name()),
        }
    }
}

impl fmt::Display for SyncError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            SyncError::Stopped => write!(f, "stopped by the lab"),
            SyncError::Full => write!(f, "queue.Full"),
            SyncError::Empty => write!(f, "queue.Empty"),
            SyncError::ValueError(m) => write!(f, "ValueError: {m}"),
            SyncError::RuntimeError(m) => write!(f, "RuntimeError: {m}"),
            SyncError::BrokenBarrier => write!(f, "BrokenBarrierError"),
            SyncError::Exception { name, message } if message.is_empty() => write!(f, "{name}"),
            SyncError::Exception { name, message } => write!(f, "{name}: {message}"),
        }
    }
}

impl std::error::Error for SyncError {}

pub type SyncResult<T> = Result<T, SyncError>;
