//! The loop's default executor: `asyncio.to_thread(f)` and
//! `loop.run_in_executor(None, f)` run a blocking function on a pool of lab
//! threads, so the loop goes on running the other tasks meanwhile. As
//! CPython's `ThreadPoolExecutor(thread_name_prefix='asyncio')`: a thread
//! named `asyncio_N` is started for a job when none is idle, up to
//! min(32, CPUs + 4); each is a lane, and Stop ends it like any worker. The
//! result comes back through the loop's inbox (`call_soon_threadsafe`).

use std::any::Any;
use std::sync::Arc;
use std::sync::atomic::{AtomicU8, AtomicUsize, Ordering};

use super::core::{Fut, Wait, running_loop};
use super::{Exc, PyResult};
use crate::LabHandle;
use crate::error::SyncResult;
use crate::state::State;
use crate::sync::Queue;
use crate::worker::{Ctx, Thread};

const PENDING: u8 = 0;
const RUNNING: u8 = 1;
const CANCELLED: u8 = 2;

type JobFn = Box<dyn FnOnce(&Ctx) -> Box<dyn Any + Send> + Send>;

struct Job {
    key: u64,
    state: Arc<AtomicU8>,
    run: JobFn,
}

pub(crate) struct Pool {
    jobs: Queue<Option<Job>>,
    threads: Vec<Thread>,
    idle: Arc<AtomicUsize>,
    max: usize,
}

impl Pool {
    fn new(lab: &LabHandle) -> Pool {
        let cpus = std::thread::available_parallelism().map_or(1, |n| n.get());
        Pool {
            jobs: lab.queue("executor._work_queue", 0),
            threads: Vec::new(),
            idle: Arc::new(AtomicUsize::new(0)),
            max: (cpus + 4).min(32),
        }
    }

    fn submit(&mut self, ctx: &Ctx, job: Job) -> SyncResult<()> {
        self.jobs.put(Some(job))?;
        // _adjust_thread_count: an idle thread takes it, else a new one.
        if self
            .idle
            .fetch_update(Ordering::AcqRel, Ordering::Acquire, |n| n.checked_sub(1))
            .is_ok()
        {
            return Ok(());
        }
        if self.threads.len() < self.max {
            let jobs = self.jobs.clone();
            let idle = self.idle.clone();
            let inbox = running_loop().inbox.clone();
            let name = format!("asyncio_{}", self.threads.len());
            let t = ctx.spawn(&name, move |c| {
                loop {
                    let Some(job) = jobs.get()? else {
                        return Ok(());
                    };
                    if job
                        .state
                        .compare_exchange(PENDING, RUNNING, Ordering::AcqRel, Ordering::Acquire)
                        .is_ok()
                    {
                        let out = (job.run)(c);
                        inbox.lock().items.push_back((job.key, out));
                        inbox.notify_all();
                    }
                    idle.fetch_add(1, Ordering::AcqRel);
                }
            })?;
            self.threads.push(t);
        }
        Ok(())
    }

    /// `shutdown(wait=True)`: each thread takes a None and leaves.
    pub fn shutdown(self) -> SyncResult<()> {
        for _ in &self.threads {
            self.jobs.put(None)?;
        }
        for t in &self.threads {
            t.join(None)?;
        }
        Ok(())
    }
}

/// `await asyncio.to_thread(f)`: `f` runs on one of the executor's threads
/// (it gets that thread's context: `c.sleep(s)` there is a `time.sleep`
/// that blocks only that thread) while the loop runs the other tasks.
/// Cancelling the await cancels the job only if it has not started, as in
/// Python; a running function runs to its end.
pub async fn to_thread<R: Clone + Send + 'static>(
    f: impl FnOnce(&Ctx) -> PyResult<R> + Send + 'static,
) -> PyResult<R> {
    let lp = running_loop();
    let fut = Fut::<R>::new();
    let f2 = fut.clone();
    let key = lp.expect_job(Box::new(move |any| {
        let r = match any.downcast::<PyResult<R>>() {
            Ok(r) => *r,
            Err(_) => Err(Exc::runtime_error("the executor returned something else")),
        };
        // wrap_future's _set_state: a cancelled await ignores the result.
        if !f2.done() {
            f2.set(r);
        }
    }));
    let state = Arc::new(AtomicU8::new(PENDING));
    let job = Job {
        key,
        state: state.clone(),
        run: Box::new(move |c| Box::new(f(c)) as Box<dyn Any + Send>),
    };
    {
        let mut pool = lp.pool.borrow_mut();
        let pool = pool.get_or_insert_with(|| Pool::new(&LabHandle(lp.lab.clone())));
        pool.submit(&lp.ctx, job)?;
    }
    let r = fut
        .wait(Wait {
            state: State::Waiting,
            target: None,
        })
        .await;
    if matches!(r, Err(Exc::Cancelled)) {
        let _ = state.compare_exchange(PENDING, CANCELLED, Ordering::AcqRel, Ordering::Acquire);
    }
    r
}

/// `await loop.run_in_executor(None, f)`: the same as [`to_thread`].
pub async fn run_in_executor<R: Clone + Send + 'static>(
    f: impl FnOnce(&Ctx) -> PyResult<R> + Send + 'static,
) -> PyResult<R> {
    to_thread(f).await
}
