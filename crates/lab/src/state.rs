//! The states a worker can be in. Every worker is in exactly one at any time.

use serde::{Deserialize, Serialize};

#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum State {
    /// The Thread object exists; `start()` has not been called.
    Created,
    /// Started: the OS thread exists but has not begun the body yet.
    Ready,
    /// Runnable but not running: it wants to run Python code and waits for
    /// its process's GIL (the interpreter lock) to be handed to it.
    GilWait,
    /// Executing its own code.
    Running,
    /// In `time.sleep`.
    Sleeping,
    /// Blocked acquiring a resource: a lock, a semaphore, a queue slot or item.
    Blocked,
    /// Waiting for a signal: an event, a condition, a barrier, a join, a timer.
    Waiting,
    /// The body returned.
    Done,
    /// The body raised (panicked); the message is kept.
    Failed,
    /// Cut off: a daemon at exit, or every worker when the lab is stopped.
    Killed,
}

impl State {
    /// How many states there are.
    pub const COUNT: usize = 10;

    pub const ALL: [State; State::COUNT] = [
        State::Created,
        State::Ready,
        State::GilWait,
        State::Running,
        State::Sleeping,
        State::Blocked,
        State::Waiting,
        State::Done,
        State::Failed,
        State::Killed,
    ];

    pub fn index(self) -> usize {
        self as usize
    }

    pub fn is_final(self) -> bool {
        matches!(self, State::Done | State::Failed | State::Killed)
    }

    /// The name of the state for an asyncio task: a task that is cut off
    /// has been cancelled.
    pub fn task_name(self) -> &'static str {
        match self {
            State::Killed => "cancelled",
            other => other.name(),
        }
    }

    /// The state with this [`State::name`].
    pub fn from_name(name: &str) -> Option<State> {
        State::ALL.into_iter().find(|s| s.name() == name)
    }

    /// The lowercase English name used in logs and JSON.
    pub fn name(self) -> &'static str {
        match self {
            State::Created => "created",
            State::Ready => "ready",
            State::GilWait => "waiting_for_gil",
            State::Running => "running",
            State::Sleeping => "sleeping",
            State::Blocked => "blocked",
            State::Waiting => "waiting",
            State::Done => "done",
            State::Failed => "failed",
            State::Killed => "killed",
        }
    }
}

/// A future's state, by CPython's names.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum FutureState {
    /// Submitted; no worker has picked it up. Only now can it be cancelled.
    Pending,
    Running,
    /// `cancel()` succeeded; waiters have not been told yet.
    Cancelled,
    /// Cancelled, and a worker (or `as_completed`) has seen it.
    CancelledAndNotified,
    /// Done: it holds a result or an exception.
    Finished,
}

impl FutureState {
    pub fn is_final(self) -> bool {
        !matches!(self, FutureState::Pending | FutureState::Running)
    }

    pub fn is_cancelled(self) -> bool {
        matches!(
            self,
            FutureState::Cancelled | FutureState::CancelledAndNotified
        )
    }

    /// CPython's name: "PENDING", "RUNNING", "CANCELLED", "FINISHED".
    pub fn python_name(self) -> &'static str {
        match self {
            FutureState::Pending => "PENDING",
            FutureState::Running => "RUNNING",
            // CPython's repr says "cancelled" for both.
            FutureState::Cancelled | FutureState::CancelledAndNotified => "CANCELLED",
            FutureState::Finished => "FINISHED",
        }
    }
}
