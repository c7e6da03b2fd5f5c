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
        }
    }
}

impl std::error::Error for SyncError {}

pub type SyncResult<T> = Result<T, SyncError>;
