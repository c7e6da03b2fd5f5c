//! `multiprocessing.Pool` and `multiprocessing.pool.ThreadPool`, as in
//! CPython 3.11's `pool.py`: tasks (chunks of `chunksize` items) go into a
//! shared inqueue; each worker takes the next chunk, runs the function on
//! every item, and puts the chunk's results into the outqueue, where a
//! result-handler thread (`Thread-N (_handle_results)`) hands them to
//! whoever waits: `map` (in order), `imap_unordered` (as they come),
//! `apply_async` (an `AsyncResult`).
//!
//! A `Pool`'s workers are child processes (`ForkPoolWorker-N`, daemonic)
//! and its queues are `multiprocessing.Queue`s, so every task and result is
//! serialised and crosses a socket; a `ThreadPool`'s workers are threads of
//! this process (under its GIL, if it has one) and its queues plain ones.
//! `Pool::with` is `with Pool(n) as pool:`, whose exit calls `terminate()`.

use std::collections::HashMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use serde_json::{Value, json};

use super::ipc;
use super::{Process, ProcessSpec};
use crate::error::{SyncError, SyncResult};
use crate::monitor::{Monitor, WaitEnd};
use crate::state::State;
use crate::sync;
use crate::worker::{Ctx, StateScope, Thread, current};
use crate::{LabHandle, WakerKey};

/// A function pool workers run, by name (see `scenarios::pool_function`).
pub type PoolFunction = fn(&Ctx, &Value) -> SyncResult<Value>;

/// The name of the child target a `Pool`'s workers run.
pub const WORKER_TARGET: &str = "multiprocessing.pool.worker";

/// One chunk's results (or its task's exception), by the chunk's index.
type Chunk = (usize, Result<Vec<Value>, String>);
/// Results that came back, per call (job).
type Chunks = HashMap<u64, Vec<Chunk>>;

struct Results {
    m: Arc<Monitor<Chunks>>,
    lab: LabHandle,
    key: WakerKey,
}

impl Drop for Results {
    fn drop(&mut self) {
        self.lab.0.unregister_waker(self.key);
    }
}

impl Results {
    fn new(lab: &LabHandle) -> Arc<Results> {
        let m = Arc::new(Monitor::new(Chunks::new()));
        let key = lab.0.register_waker(m.clone());
        Arc::new(Results {
            m,
            lab: lab.clone(),
            key,
        })
    }

    /// A chunk's results arrived (from a worker or the handler thread).
    fn deliver(&self, message: &Value) {
        let job = message["job"].as_u64().unwrap_or(0);
        let i = message["i"].as_u64().unwrap_or(0) as usize;
        let result = match message.get("ok") {
            Some(Value::Array(values)) => Ok(values.clone()),
            _ => Err(message["err"].as_str().unwrap_or("error").to_string()),
        };
        self.m.lock().entry(job).or_default().push((i, result));
        self.m.notify_all();
    }

    /// Wait (shown waiting) until `job` has at least `n` chunks back, then
    /// take those beyond the first `seen`.
    fn wait(&self, job: u64, n: usize, seen: usize) -> SyncResult<Vec<Chunk>> {
        let me = current();
        let guard = self.m.lock();
        let ready = |c: &mut Chunks| c.get(&job).map_or(0, Vec::len) >= n;
        let mut guard = guard;
        let scope;
        if !ready(&mut guard) {
            scope = Some(StateScope::enter(me.as_deref(), State::Waiting, None));
            let (g, end) = self
                .m
                .wait_until(guard, &self.lab.0, me.as_deref(), None, ready);
            if end == WaitEnd::Stopped {
                return Err(SyncError::Stopped);
            }
            guard = g;
        } else {
            scope = None;
        }
        let out = guard
            .get(&job)
            .map(|v| v[seen.min(v.len())..].to_vec())
            .unwrap_or_default();
        drop(guard);
        drop(scope);
        Ok(out)
    }

    fn forget(&self, job: u64) {
        self.m.lock().remove(&job);
    }
}

enum Kind {
    Processes {
        workers: Vec<Process>,
        inqueue: ipc::Queue,
        outqueue: ipc::Queue,
    },
    Threads {
        workers: Vec<Thread>,
        inqueue: sync::Queue<Option<Value>>,
    },
}

/// `multiprocessing.Pool(processes)` or `ThreadPool(processes)`.
pub struct Pool {
    kind: Kind,
    results: Arc<Results>,
    next_job: AtomicU64,
    size: usize,
    handler: Option<Thread>,
}

fn chunk_message(job: u64, i: usize, func: &str, items: &[Value]) -> Value {
    json!({ "job": job, "i": i, "func": func, "args": items })
}

/// Run one chunk: the function on each item, or the first exception.
fn run_chunk(ctx: &Ctx, find: fn(&str) -> Option<PoolFunction>, task: &Value) -> SyncResult<Value> {
    let job = task["job"].clone();
    let i = task["i"].clone();
    let name = task["func"].as_str().unwrap_or("");
    let Some(func) = find(name) else {
        return Ok(
            json!({ "job": job, "i": i, "err": format!("AttributeError: no function '{name}'") }),
        );
    };
    let mut out = Vec::new();
    for item in task["args"].as_array().into_iter().flatten() {
        match func(ctx, item) {
            Ok(v) => out.push(v),
            Err(SyncError::Stopped) => return Err(SyncError::Stopped),
            Err(e) => return Ok(json!({ "job": job, "i": i, "err": e.python_line() })),
        }
    }
    Ok(json!({ "job": job, "i": i, "ok": out }))
}

/// A `Pool` worker process's loop (`multiprocessing.pool.worker`): take a
/// chunk, run it, put its results; `None` ends it.
pub fn worker(
    ctx: &Ctx,
    args: &super::child::ChildArgs,
    find: fn(&str) -> Option<PoolFunction>,
) -> SyncResult<()> {
    let lab = ctx.lab();
    let inqueue = ipc::Queue::from_handle(&lab, args.handle("pool.inqueue")?)?;
    let outqueue = ipc::Queue::from_handle(&lab, args.handle("pool.outqueue")?)?;
    let done = lab.counter("tasks_done");
    loop {
        let task = inqueue.get(None)?;
        if task.is_null() {
            return Ok(());
        }
        let n = task["args"].as_array().map_or(0, Vec::len);
        let result = run_chunk(ctx, find, &task)?;
        done.add(n as i64);
        outqueue.put(&result)?;
    }
}

impl Pool {
    /// `Pool(processes)`: starts the worker processes and the result
    /// handler. `gil`: whether the workers' interpreters have one.
    pub fn new(ctx: &Ctx, processes: usize) -> SyncResult<Pool> {
        let lab = ctx.lab();
        let inqueue = ipc::Queue::new(&lab, "pool.inqueue")?;
        let outqueue = ipc::Queue::new(&lab, "pool.outqueue")?;
        let results = Results::new(&lab);
        let n = processes.max(1);
        let mut workers = Vec::new();
        for k in 1..=n {
            let mut spec = ProcessSpec::new(WORKER_TARGET, Value::Null);
            spec.handles = vec![inqueue.handle(), outqueue.handle()];
            spec.daemon = true;
            spec.name = Some(format!("ForkPoolWorker-{}", pool_worker_number(&lab, k)));
            let p = lab.process(spec);
            p.start()?;
            workers.push(p);
        }
        let handler = {
            let (outqueue, results) = (outqueue.clone(), results.clone());
            let t = lab.thread_for("_handle_results", true, move |_| {
                loop {
                    let message = outqueue.get(None)?;
                    if message.get("stop").is_some() {
                        return Ok(());
                    }
                    results.deliver(&message);
                }
            });
            t.start()?;
            t
        };
        Ok(Pool {
            kind: Kind::Processes {
                workers,
                inqueue,
                outqueue,
            },
            results,
            next_job: AtomicU64::new(0),
            size: n,
            handler: Some(handler),
        })
    }

    /// `ThreadPool(processes)`: worker threads of this process.
    pub fn threads(
        ctx: &Ctx,
        processes: usize,
        find: fn(&str) -> Option<PoolFunction>,
    ) -> SyncResult<Pool> {
        let lab = ctx.lab();
        let inqueue: sync::Queue<Option<Value>> = lab.queue("ThreadPool.inqueue", 0);
        let results = Results::new(&lab);
        let n = processes.max(1);
        let mut workers = Vec::new();
        for _ in 0..n {
            let (q, r) = (inqueue.clone(), results.clone());
            let t = lab.thread_for("worker", true, move |c| {
                loop {
                    let Some(task) = q.get()? else {
                        return Ok(());
                    };
                    let result = run_chunk(c, find, &task)?;
                    r.deliver(&result);
                }
            });
            t.start()?;
            workers.push(t);
        }
        Ok(Pool {
            kind: Kind::Threads { workers, inqueue },
            results,
            next_job: AtomicU64::new(0),
            size: n,
            handler: None,
        })
    }

    /// `with Pool(n) as pool:` — the block, then `terminate()`.
    pub fn with<R>(self, f: impl FnOnce(&Pool) -> SyncResult<R>) -> SyncResult<R> {
        let r = f(&self);
        self.terminate();
        r
    }

    pub fn size(&self) -> usize {
        self.size
    }

    /// The worker processes (empty for a ThreadPool).
    pub fn processes(&self) -> &[Process] {
        match &self.kind {
            Kind::Processes { workers, .. } => workers,
            Kind::Threads { .. } => &[],
        }
    }

    fn submit(&self, func: &str, items: &[Value], chunksize: usize) -> SyncResult<(u64, usize)> {
        let job = self.next_job.fetch_add(1, Ordering::Relaxed);
        let chunks: Vec<&[Value]> = items.chunks(chunksize.max(1)).collect();
        for (i, chunk) in chunks.iter().enumerate() {
            let message = chunk_message(job, i, func, chunk);
            match &self.kind {
                Kind::Processes { inqueue, .. } => inqueue.put(&message)?,
                Kind::Threads { inqueue, .. } => inqueue.put(Some(message))?,
            }
        }
        Ok((job, chunks.len()))
    }

    /// `map(func, iterable, chunksize)`: every result, in the order of the
    /// items; the first exception a task raised is raised here.
    pub fn map(&self, func: &str, items: &[Value], chunksize: usize) -> SyncResult<Vec<Value>> {
        let (job, n) = self.submit(func, items, chunksize)?;
        let mut chunks = self.results.wait(job, n, 0)?;
        self.results.forget(job);
        chunks.sort_by_key(|(i, _)| *i);
        let mut out = Vec::with_capacity(items.len());
        for (_, r) in chunks {
            match r {
                Ok(values) => out.extend(values),
                Err(e) => return Err(raised(&e)),
            }
        }
        Ok(out)
    }

    /// `imap_unordered(func, iterable, chunksize)`: results as each chunk
    /// comes back, whatever its place.
    pub fn imap_unordered(
        &self,
        func: &str,
        items: &[Value],
        chunksize: usize,
    ) -> SyncResult<Unordered<'_>> {
        let (job, chunks) = self.submit(func, items, chunksize)?;
        Ok(Unordered {
            pool: self,
            job,
            chunks,
            seen: 0,
            ready: Vec::new(),
        })
    }

    /// `apply_async(func, (arg,))`.
    pub fn apply_async(&self, func: &str, arg: Value) -> SyncResult<AsyncResult> {
        let (job, _) = self.submit(func, &[arg], 1)?;
        Ok(AsyncResult {
            job,
            results: self.results.clone(),
        })
    }

    /// `close()` then `join()`: no more tasks; wait for the workers to finish.
    pub fn close_and_join(&self) -> SyncResult<()> {
        match &self.kind {
            Kind::Processes {
                workers, inqueue, ..
            } => {
                for _ in workers {
                    inqueue.put(&Value::Null)?;
                }
                for w in workers {
                    w.join(None)?;
                }
            }
            Kind::Threads { workers, inqueue } => {
                for _ in workers {
                    inqueue.put(None)?;
                }
                for w in workers {
                    w.join(None)?;
                }
            }
        }
        self.stop_handler();
        Ok(())
    }

    fn stop_handler(&self) {
        if let Kind::Processes { outqueue, .. } = &self.kind {
            let _ = outqueue.put(&json!({ "stop": true }));
        }
    }

    /// `terminate()`: end the workers now (SIGTERM for processes).
    pub fn terminate(&self) {
        match &self.kind {
            Kind::Processes { workers, .. } => {
                for w in workers {
                    w.terminate();
                }
                for w in workers {
                    let _ = w.join(Some(5.0));
                }
            }
            Kind::Threads { workers, inqueue } => {
                for _ in workers {
                    let _ = inqueue.put(None);
                }
            }
        }
        self.stop_handler();
        if let Some(h) = &self.handler {
            let _ = h.join(Some(5.0));
        }
    }
}

/// Python's exception from a task, raised again in the caller.
fn raised(line: &str) -> SyncError {
    match line.split_once(": ") {
        Some((name, message)) => SyncError::exception(name, message),
        None => SyncError::exception(line, ""),
    }
}

/// Python numbers pool workers across the program: ForkPoolWorker-1, -2…
fn pool_worker_number(lab: &LabHandle, _k: usize) -> u32 {
    lab.0.processes().names.fetch_add(1, Ordering::Relaxed) + 1
}

/// What `imap_unordered` returns: an iterator of results in the order the
/// chunks come back.
pub struct Unordered<'a> {
    pool: &'a Pool,
    job: u64,
    chunks: usize,
    seen: usize,
    ready: Vec<Value>,
}

impl Iterator for Unordered<'_> {
    type Item = SyncResult<Value>;

    fn next(&mut self) -> Option<SyncResult<Value>> {
        loop {
            if !self.ready.is_empty() {
                return Some(Ok(self.ready.remove(0)));
            }
            if self.seen >= self.chunks {
                self.pool.results.forget(self.job);
                return None;
            }
            let got = match self.pool.results.wait(self.job, self.seen + 1, self.seen) {
                Ok(g) => g,
                Err(e) => {
                    self.seen = self.chunks;
                    return Some(Err(e));
                }
            };
            for (_, r) in got {
                self.seen += 1;
                match r {
                    Ok(values) => self.ready.extend(values),
                    Err(e) => return Some(Err(raised(&e))),
                }
            }
        }
    }
}

/// `AsyncResult`: `get(timeout)`.
pub struct AsyncResult {
    job: u64,
    results: Arc<Results>,
}

impl AsyncResult {
    pub fn get(&self) -> SyncResult<Value> {
        let got = self.results.wait(self.job, 1, 0)?;
        self.results.forget(self.job);
        match got.into_iter().next() {
            Some((_, Ok(mut v))) if !v.is_empty() => Ok(v.remove(0)),
            Some((_, Err(e))) => Err(raised(&e)),
            _ => Ok(Value::Null),
        }
    }
}
