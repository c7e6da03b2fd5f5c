//! The event loop keeps asyncio's order: each case is a small asyncio
//! program and its port to the lab's loop; both must print exactly the
//! lines CPython 3.11 printed for it (kept below). When a `python3` is on
//! the PATH (or $HILOS_PYTHON), the test also runs the Python program and
//! holds CPython to the same lines, so every claim stays checked.
//!
//! Timings are far apart (25 ms and more) so the order never depends on a
//! loaded machine's jitter.

use std::future::Future;
use std::process::Command;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use hilos::lab::aio::{self, Exc, PyResult, ReturnWhen};
use hilos::lab::{Knobs, Lab, LabOptions, State};

#[derive(Clone, Default)]
struct Log(Arc<Mutex<Vec<String>>>);

impl Log {
    fn push(&self, line: impl Into<String>) {
        self.0.lock().unwrap().push(line.into());
    }

    fn lines(&self) -> Vec<String> {
        self.0.lock().unwrap().clone()
    }
}

/// Run `main` as asyncio.run(main()) on a fresh lab's MainThread.
fn lab_run<F, Fut>(main: F) -> Vec<String>
where
    F: FnOnce(Log) -> Fut + Send + 'static,
    Fut: Future<Output = PyResult<()>> + 'static,
{
    let log = Log::default();
    let lab = Lab::new(LabOptions::default(), Knobs::new(&[]));
    let l = log.clone();
    lab.start_main(move |ctx| aio::run(ctx, main(l)))
        .expect("start");
    assert!(lab.wait(Duration::from_secs(20)), "the program never ended");
    let report = lab.stop();
    assert_eq!(report.threads_left, 0);
    let record = lab.record().lock();
    let main = record
        .threads()
        .find(|t| &*t.name == "MainThread")
        .expect("MainThread");
    assert_eq!(main.state, State::Done, "MainThread: {:?}", main.failure);
    log.lines()
}

/// The lines CPython prints for `src`, if there is a CPython here.
fn cpython(src: &str) -> Option<Vec<String>> {
    let python = hilos::python::find_interpreter(None).ok()?;
    let out = Command::new(&python.path)
        .args(["-c", src])
        .output()
        .expect("run python");
    assert!(
        out.status.success(),
        "CPython failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    Some(
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .map(str::to_string)
            .collect(),
    )
}

fn check(name: &str, python: &str, expected: &str, lab: Vec<String>) {
    let expected: Vec<String> = expected.lines().map(str::to_string).collect();
    assert_eq!(lab, expected, "{name}: the lab's loop");
    if let Some(py) = cpython(python) {
        assert_eq!(py, expected, "{name}: CPython itself");
    }
}

fn py_bool(b: bool) -> &'static str {
    if b { "True" } else { "False" }
}

fn py_strs(items: &[String]) -> String {
    let quoted: Vec<String> = items.iter().map(|s| format!("'{s}'")).collect();
    format!("[{}]", quoted.join(", "))
}

fn message(e: &Exc) -> String {
    match e {
        Exc::Raised { message, .. } => message.clone(),
        other => other.to_string(),
    }
}

const T1_PY: &str = r#"import asyncio
log=[]
async def child(n):
    log.append(f"child {n} start")
    await asyncio.sleep(0)
    log.append(f"child {n} after sleep0")
    return n
async def ticker():
    for i in range(6):
        log.append(f"tick {i}")
        await asyncio.sleep(0)
async def main():
    log.append(f"main is {asyncio.current_task().get_name()}")
    k = asyncio.create_task(ticker())
    t = asyncio.create_task(child(1))
    log.append(f"names {k.get_name()} {t.get_name()}")
    log.append("main before await")
    r = await t
    log.append(f"main got {r}")
    g = await asyncio.gather(child(2), child(3))
    log.append(f"gather {g}")
    await k
asyncio.run(main())
print("\n".join(log))
"#;

const T1_OUT: &str = "\
main is Task-1
names Task-2 Task-3
main before await
tick 0
child 1 start
tick 1
child 1 after sleep0
tick 2
main got 1
tick 3
child 2 start
child 3 start
tick 4
child 2 after sleep0
child 3 after sleep0
tick 5
gather [2, 3]
";

const C2_PY: &str = r#"import asyncio
log=[]
async def job(name, d, fail=False):
    log.append(f"{name} start")
    await asyncio.sleep(d)
    if fail:
        log.append(f"{name} raises")
        raise ValueError(name)
    log.append(f"{name} end")
    return name
async def main():
    r = await asyncio.gather(job("a", 0.15), job("b", 0.05), job("c", 0.1))
    log.append(f"gather {r}")
    r = await asyncio.gather(job("d", 0.05, True), job("e", 0.1), return_exceptions=True)
    log.append(f"gather rx {[str(x) for x in r]}")
    try:
        await asyncio.gather(job("f", 0.05, True), job("g", 0.1))
    except ValueError as e:
        log.append(f"caught {e}")
    await asyncio.sleep(0.05)
    log.append("main end")
asyncio.run(main())
print("\n".join(log))
"#;

const C2_OUT: &str = "\
a start
b start
c start
b end
c end
a end
gather ['a', 'b', 'c']
d start
e start
d raises
e end
gather rx ['d', 'e']
f start
g start
f raises
caught f
g end
main end
";

const C3_PY: &str = r#"import asyncio, time
log=[]
async def eternity():
    try:
        log.append("eternity start")
        await asyncio.sleep(3600)
        log.append("yay")
    except asyncio.CancelledError:
        log.append("eternity cancelled, cleaning up")
        raise
    finally:
        log.append("eternity finally")
async def quick():
    await asyncio.sleep(0.01)
    return 7
async def main():
    t0 = time.perf_counter()
    try:
        await asyncio.wait_for(eternity(), timeout=0.1)
    except asyncio.TimeoutError:
        log.append(f"timeout after {round(time.perf_counter()-t0,1)}")
    r = await asyncio.wait_for(quick(), timeout=1)
    log.append(f"quick {r}")
    t = asyncio.create_task(eternity())
    await asyncio.sleep(0)
    try:
        await asyncio.wait_for(t, timeout=0)
    except TimeoutError:
        log.append(f"zero timeout; inner cancelled={t.cancelled()}")
asyncio.run(main())
print("\n".join(log))
"#;

const C3_OUT: &str = "\
eternity start
eternity cancelled, cleaning up
eternity finally
timeout after 0.1
quick 7
eternity start
eternity cancelled, cleaning up
eternity finally
zero timeout; inner cancelled=True
";

const C4_PY: &str = r#"import asyncio
log=[]
async def get(n, fail=False):
    await asyncio.sleep(n/20)
    if fail: raise ValueError(f"v{n}")
    return n
def names(ts, all_):
    return sorted(all_.index(t) for t in ts)
async def main():
    ts = [asyncio.create_task(get(2)), asyncio.create_task(get(1)), asyncio.create_task(get(3))]
    done, pending = await asyncio.wait(ts, return_when=asyncio.FIRST_COMPLETED)
    log.append(f"first completed: done {names(done, ts)} pending {names(pending, ts)}")
    for t in pending: t.cancel()
    done, pending = await asyncio.wait(ts)
    log.append(f"after cancel: cancelled {[t.cancelled() for t in ts]}")
    ts = [asyncio.create_task(get(3)), asyncio.create_task(get(1, True)), asyncio.create_task(get(2))]
    done, pending = await asyncio.wait(ts, return_when=asyncio.FIRST_EXCEPTION)
    log.append(f"first exception: done {names(done, ts)} pending {names(pending, ts)}")
    done, pending = await asyncio.wait(ts, timeout=0.075)
    log.append(f"timeout: done {names(done, ts)} pending {names(pending, ts)}")
    done, pending = await asyncio.wait(ts)
    log.append(f"all: done {names(done, ts)} pending {names(pending, ts)}")
    ts = [asyncio.create_task(get(n)) for n in (3, 1, 4, 2)]
    order = []
    for f in asyncio.as_completed(ts):
        order.append(await f)
    log.append(f"as_completed {order}")
    ts = [asyncio.create_task(get(n)) for n in (30, 1, 40, 2)]
    order = []
    try:
        for f in asyncio.as_completed(ts, timeout=0.5):
            order.append(await f)
    except TimeoutError:
        log.append(f"as_completed timeout after {order}")
    for t in ts: t.cancel()
asyncio.run(main())
print("\n".join(log))
"#;

const C4_OUT: &str = "\
first completed: done [1] pending [0, 2]
after cancel: cancelled [True, False, True]
first exception: done [1] pending [0, 2]
timeout: done [1, 2] pending [0]
all: done [0, 1, 2] pending []
as_completed [1, 2, 3, 4]
as_completed timeout after [1, 2]
";

const C5_PY: &str = r#"import asyncio
log=[]
async def worker(name, d):
    log.append(f"{name} start")
    try:
        await asyncio.sleep(d)
    except asyncio.CancelledError:
        log.append(f"{name} cancelled at its await")
        raise
    log.append(f"{name} end")
async def stubborn():
    try:
        await asyncio.sleep(1)
    except asyncio.CancelledError:
        log.append("stubborn ignores the cancel")
    return "kept going"
async def waiter(t):
    try:
        return await t
    except asyncio.CancelledError:
        log.append("waiter cancelled")
        raise
async def main():
    a = asyncio.create_task(worker("a", 1))
    b = asyncio.create_task(worker("b", 1))
    b.cancel()     # before it ever ran
    await asyncio.sleep(0.01)
    a.cancel()
    log.append(f"a.cancelled() right after cancel: {a.cancelled()}")
    await asyncio.sleep(0)
    log.append(f"a.cancelled() one turn later: {a.cancelled()}, b: {b.cancelled()}")
    s = asyncio.create_task(stubborn())
    await asyncio.sleep(0.01)
    s.cancel()
    r = await s
    log.append(f"stubborn returned {r!r}, cancelled={s.cancelled()}")
    inner = asyncio.create_task(worker("inner", 1))
    w = asyncio.create_task(waiter(inner))
    await asyncio.sleep(0.01)
    w.cancel()
    try:
        await w
    except asyncio.CancelledError:
        log.append(f"w cancelled={w.cancelled()} inner cancelled={inner.cancelled()}")
    # timeout()
    try:
        async with asyncio.timeout(0.05):
            await worker("slow", 1)
    except TimeoutError:
        log.append("timeout() raised TimeoutError")
    async with asyncio.timeout(1):
        await worker("fast", 0.01)
    log.append("timeout() let it finish")
    # self cancel then await
    async def selfcancel():
        asyncio.current_task().cancel()
        log.append("cancelled myself, still running")
        try:
            await asyncio.sleep(0)
            log.append("not reached?")
            await asyncio.sleep(1)
        except asyncio.CancelledError:
            log.append("got it at the next await")
            raise
    async def other():
        for i in range(3):
            log.append(f"other {i}")
            await asyncio.sleep(0)
    x = asyncio.create_task(selfcancel()); y = asyncio.create_task(other())
    await asyncio.gather(x, y, return_exceptions=True)
asyncio.run(main())
print("\n".join(log))
"#;

const C5_OUT: &str = "\
a start
a.cancelled() right after cancel: False
a cancelled at its await
a.cancelled() one turn later: True, b: True
stubborn ignores the cancel
stubborn returned 'kept going', cancelled=False
inner start
inner cancelled at its await
waiter cancelled
w cancelled=True inner cancelled=True
slow start
slow cancelled at its await
timeout() raised TimeoutError
fast start
fast end
timeout() let it finish
cancelled myself, still running
other 0
got it at the next await
other 1
other 2
";

const C6_PY: &str = r#"import asyncio, threading, time
log=[]
async def locker(lock, name):
    log.append(f"{name} wants the lock")
    async with lock:
        log.append(f"{name} has the lock")
        await asyncio.sleep(0.01)
    log.append(f"{name} released")
async def sem_user(sem, name):
    async with sem:
        log.append(f"{name} in")
        await asyncio.sleep(0.01)
        log.append(f"{name} out")
async def ev_waiter(ev, name):
    await ev.wait()
    log.append(f"{name} woke")
async def producer(q, n):
    for i in range(n):
        await q.put(i)
        log.append(f"put {i} (size {q.qsize()})")
    await q.put(None)
async def consumer(q):
    while (item := await q.get()) is not None:
        log.append(f"got {item}")
        await asyncio.sleep(0.01)
        q.task_done()
    q.task_done()
async def ticker(n):
    for i in range(n):
        log.append(f"tick {i}")
        await asyncio.sleep(0.05)
def blocking(s):
    time.sleep(s)
    return threading.current_thread().name
async def main():
    lock = asyncio.Lock()
    await asyncio.gather(*(locker(lock, n) for n in "ABC"))
    sem = asyncio.Semaphore(2)
    await asyncio.gather(*(sem_user(sem, n) for n in "ABCD"))
    ev = asyncio.Event()
    ws = [asyncio.create_task(ev_waiter(ev, n)) for n in "XYZ"]
    await asyncio.sleep(0.01)
    log.append("set")
    ev.set()
    await asyncio.gather(*ws)
    q = asyncio.Queue(maxsize=2)
    await asyncio.gather(producer(q, 4), consumer(q))
    await q.join()
    log.append("queue joined")
    t = asyncio.create_task(ticker(5))
    name = await asyncio.to_thread(blocking, 0.125)
    log.append(f"to_thread ran on {name}")
    await t
    # equal delays fire in the order they were scheduled
    async def at(name):
        await asyncio.sleep(0.02)
        log.append(f"{name} woke")
    await asyncio.gather(*(at(n) for n in "PQRS"))
asyncio.run(main())
print("\n".join(log))
"#;

const C6_OUT: &str = "\
A wants the lock
A has the lock
B wants the lock
C wants the lock
A released
B has the lock
B released
C has the lock
C released
A in
B in
A out
B out
C in
D in
C out
D out
set
X woke
Y woke
Z woke
put 0 (size 1)
put 1 (size 2)
got 0
put 2 (size 2)
got 1
put 3 (size 2)
got 2
got 3
queue joined
tick 0
tick 1
tick 2
to_thread ran on asyncio_0
tick 3
tick 4
P woke
Q woke
R woke
S woke
";

// 1. create_task starts a task at the next turn, after those already
// ready; `await task` resumes one turn after it ends, gather two.
#[test]
fn tasks_start_in_fifo_order_after_the_creator_yields() {
    async fn child(log: Log, n: i32) -> PyResult<i32> {
        log.push(format!("child {n} start"));
        aio::sleep(0.0).await?;
        log.push(format!("child {n} after sleep0"));
        Ok(n)
    }
    async fn ticker(log: Log) -> PyResult<i32> {
        for i in 0..6 {
            log.push(format!("tick {i}"));
            aio::sleep(0.0).await?;
        }
        Ok(0)
    }
    let lines = lab_run(|log| async move {
        let me = aio::current_task().expect("main is a task");
        log.push(format!("main is {}", me.name()));
        let k = aio::create_task(ticker(log.clone()));
        let t = aio::create_task(child(log.clone(), 1));
        log.push(format!("names {} {}", k.name(), t.name()));
        log.push("main before await");
        let r = (&t).await?;
        log.push(format!("main got {r}"));
        let g = aio::gather(vec![
            aio::create_task(child(log.clone(), 2)),
            aio::create_task(child(log.clone(), 3)),
        ])
        .await?;
        log.push(format!("gather {g:?}"));
        k.await?;
        Ok(())
    });
    check("tasks", T1_PY, T1_OUT, lines);
}

// 2. gather: results in argument order; return_exceptions; the first
// exception raised at once while the others go on.
#[test]
fn gather_keeps_argument_order_and_raises_the_first_exception() {
    async fn job(log: Log, name: &'static str, d: f64, fail: bool) -> PyResult<String> {
        log.push(format!("{name} start"));
        aio::sleep(d).await?;
        if fail {
            log.push(format!("{name} raises"));
            return Err(Exc::value_error(name));
        }
        log.push(format!("{name} end"));
        Ok(name.to_string())
    }
    let lines = lab_run(|log| async move {
        let t = |name, d, fail| aio::create_task(job(log.clone(), name, d, fail));
        let r = aio::gather(vec![
            t("a", 0.15, false),
            t("b", 0.05, false),
            t("c", 0.1, false),
        ])
        .await?;
        log.push(format!("gather {}", py_strs(&r)));
        let r = aio::gather_return_exceptions(vec![t("d", 0.05, true), t("e", 0.1, false)]).await?;
        let shown: Vec<String> = r
            .iter()
            .map(|x| match x {
                Ok(s) => s.clone(),
                Err(e) => message(e),
            })
            .collect();
        log.push(format!("gather rx {}", py_strs(&shown)));
        match aio::gather(vec![t("f", 0.05, true), t("g", 0.1, false)]).await {
            Err(e @ Exc::Raised { .. }) => log.push(format!("caught {}", message(&e))),
            other => panic!("gather: {other:?}"),
        }
        aio::sleep(0.05).await?;
        log.push("main end");
        Ok(())
    });
    check("gather", C2_PY, C2_OUT, lines);
}

// 3. wait_for: at the timeout the inner task gets CancelledError at its
// await (its cleanup runs), then TimeoutError is raised.
#[test]
fn wait_for_cancels_the_inner_task_then_raises_timeout_error() {
    async fn eternity(log: Log) -> PyResult<()> {
        log.push("eternity start");
        match aio::sleep(3600.0).await {
            Ok(()) => log.push("yay"),
            Err(e) => {
                if e.is_cancelled() {
                    log.push("eternity cancelled, cleaning up");
                }
                log.push("eternity finally");
                return Err(e);
            }
        }
        log.push("eternity finally");
        Ok(())
    }
    async fn quick() -> PyResult<()> {
        aio::sleep(0.01).await?;
        Ok(())
    }
    let lines = lab_run(|log| async move {
        let t0 = Instant::now();
        match aio::wait_for(aio::create_task(eternity(log.clone())), Some(0.1)).await {
            Err(Exc::Timeout) => {
                log.push(format!("timeout after {:.1}", t0.elapsed().as_secs_f64()))
            }
            other => panic!("wait_for: {other:?}"),
        }
        aio::wait_for(aio::create_task(quick()), Some(1.0)).await?;
        log.push("quick 7");
        let t = aio::create_task(eternity(log.clone()));
        aio::sleep(0.0).await?;
        match aio::wait_for(t.clone(), Some(0.0)).await {
            Err(Exc::Timeout) => log.push(format!(
                "zero timeout; inner cancelled={}",
                py_bool(t.cancelled())
            )),
            other => panic!("wait_for(0): {other:?}"),
        }
        Ok(())
    });
    check("wait_for", C3_PY, C3_OUT, lines);
}

// 4. wait() with each return_when and a timeout; as_completed in
// completion order, and its timeout.
#[test]
fn wait_returns_done_and_pending_and_as_completed_gives_completion_order() {
    async fn get(n: i32, fail: bool) -> PyResult<i32> {
        aio::sleep(f64::from(n) / 20.0).await?;
        if fail {
            return Err(Exc::value_error(format!("v{n}")));
        }
        Ok(n)
    }
    fn names(ts: &[aio::Task<i32>], all: &[aio::Task<i32>]) -> Vec<usize> {
        let mut v: Vec<usize> = ts
            .iter()
            .filter_map(|t| all.iter().position(|a| a.id() == t.id()))
            .collect();
        v.sort_unstable();
        v
    }
    let lines = lab_run(|log| async move {
        let ts = vec![
            aio::create_task(get(2, false)),
            aio::create_task(get(1, false)),
            aio::create_task(get(3, false)),
        ];
        let (done, pending) = aio::wait(&ts, None, ReturnWhen::FirstCompleted).await?;
        log.push(format!(
            "first completed: done {:?} pending {:?}",
            names(&done, &ts),
            names(&pending, &ts)
        ));
        for t in &pending {
            t.cancel();
        }
        aio::wait(&ts, None, ReturnWhen::AllCompleted).await?;
        let cancelled: Vec<&str> = ts.iter().map(|t| py_bool(t.cancelled())).collect();
        log.push(format!(
            "after cancel: cancelled [{}]",
            cancelled.join(", ")
        ));
        let ts = vec![
            aio::create_task(get(3, false)),
            aio::create_task(get(1, true)),
            aio::create_task(get(2, false)),
        ];
        let (done, pending) = aio::wait(&ts, None, ReturnWhen::FirstException).await?;
        log.push(format!(
            "first exception: done {:?} pending {:?}",
            names(&done, &ts),
            names(&pending, &ts)
        ));
        let (done, pending) = aio::wait(&ts, Some(0.075), ReturnWhen::AllCompleted).await?;
        log.push(format!(
            "timeout: done {:?} pending {:?}",
            names(&done, &ts),
            names(&pending, &ts)
        ));
        let (done, pending) = aio::wait(&ts, None, ReturnWhen::AllCompleted).await?;
        log.push(format!(
            "all: done {:?} pending {:?}",
            names(&done, &ts),
            names(&pending, &ts)
        ));
        let ts: Vec<_> = [3, 1, 4, 2]
            .into_iter()
            .map(|n| aio::create_task(get(n, false)))
            .collect();
        let mut order = Vec::new();
        let mut each = aio::as_completed(&ts, None);
        while let Some(r) = each.next().await {
            order.push(r?);
        }
        log.push(format!("as_completed {order:?}"));
        let ts: Vec<_> = [30, 1, 40, 2]
            .into_iter()
            .map(|n| aio::create_task(get(n, false)))
            .collect();
        let mut order = Vec::new();
        let mut each = aio::as_completed(&ts, Some(0.5));
        while let Some(r) = each.next().await {
            match r {
                Ok(v) => order.push(v),
                Err(Exc::Timeout) => {
                    log.push(format!("as_completed timeout after {order:?}"));
                    break;
                }
                Err(e) => return Err(e),
            }
        }
        for t in &ts {
            t.cancel();
        }
        Ok(())
    });
    check("wait", C4_PY, C4_OUT, lines);
}

// 5. cancel(): CancelledError at the await the task is in, one turn later;
// a task never started never runs; a task may ignore it; cancelling a
// task that awaits another cancels that one too; timeout(); a task that
// cancels itself gets it at its next await.
#[test]
fn cancel_delivers_cancelled_error_at_the_await() {
    async fn worker(log: Log, name: &'static str, d: f64) -> PyResult<()> {
        log.push(format!("{name} start"));
        if let Err(e) = aio::sleep(d).await {
            if e.is_cancelled() {
                log.push(format!("{name} cancelled at its await"));
            }
            return Err(e);
        }
        log.push(format!("{name} end"));
        Ok(())
    }
    async fn stubborn(log: Log) -> PyResult<String> {
        match aio::sleep(1.0).await {
            Err(e) if e.is_cancelled() => log.push("stubborn ignores the cancel"),
            r => r?,
        }
        Ok("kept going".into())
    }
    async fn waiter(log: Log, t: aio::Task<()>) -> PyResult<()> {
        match t.await {
            Err(e) if e.is_cancelled() => {
                log.push("waiter cancelled");
                Err(e)
            }
            r => r,
        }
    }
    async fn selfcancel(log: Log) -> PyResult<()> {
        if let Some(me) = aio::current_task() {
            me.cancel();
        }
        log.push("cancelled myself, still running");
        let r = async {
            aio::sleep(0.0).await?;
            log.push("not reached?");
            aio::sleep(1.0).await
        }
        .await;
        if r.as_ref().is_err_and(Exc::is_cancelled) {
            log.push("got it at the next await");
        }
        r
    }
    async fn other(log: Log) -> PyResult<()> {
        for i in 0..3 {
            log.push(format!("other {i}"));
            aio::sleep(0.0).await?;
        }
        Ok(())
    }
    let lines = lab_run(|log| async move {
        let a = aio::create_task(worker(log.clone(), "a", 1.0));
        let b = aio::create_task(worker(log.clone(), "b", 1.0));
        b.cancel();
        aio::sleep(0.01).await?;
        a.cancel();
        log.push(format!(
            "a.cancelled() right after cancel: {}",
            py_bool(a.cancelled())
        ));
        aio::sleep(0.0).await?;
        log.push(format!(
            "a.cancelled() one turn later: {}, b: {}",
            py_bool(a.cancelled()),
            py_bool(b.cancelled())
        ));
        let s = aio::create_task(stubborn(log.clone()));
        aio::sleep(0.01).await?;
        s.cancel();
        let r = (&s).await?;
        log.push(format!(
            "stubborn returned '{r}', cancelled={}",
            py_bool(s.cancelled())
        ));
        let inner = aio::create_task(worker(log.clone(), "inner", 1.0));
        let w = aio::create_task(waiter(log.clone(), inner.clone()));
        aio::sleep(0.01).await?;
        w.cancel();
        match (&w).await {
            Err(Exc::Cancelled) => log.push(format!(
                "w cancelled={} inner cancelled={}",
                py_bool(w.cancelled()),
                py_bool(inner.cancelled())
            )),
            other => panic!("w: {other:?}"),
        }
        match aio::timeout(Some(0.05), worker(log.clone(), "slow", 1.0)).await {
            Err(Exc::Timeout) => log.push("timeout() raised TimeoutError"),
            other => panic!("timeout: {other:?}"),
        }
        aio::timeout(Some(1.0), worker(log.clone(), "fast", 0.01)).await?;
        log.push("timeout() let it finish");
        let x = aio::create_task(selfcancel(log.clone()));
        let y = aio::create_task(other(log.clone()));
        aio::gather_return_exceptions(vec![x, y]).await?;
        Ok(())
    });
    check("cancel", C5_PY, C5_OUT, lines);
}

// 6. Lock, Semaphore, Event and Queue wake their waiters in line;
// to_thread runs on the executor's thread while the loop goes on; equal
// delays fire in the order they were set.
#[test]
fn primitives_wake_in_fifo_order_and_to_thread_keeps_the_loop_going() {
    async fn locker(log: Log, lock: aio::Lock, name: &'static str) -> PyResult<()> {
        log.push(format!("{name} wants the lock"));
        {
            let _held = lock.hold().await?;
            log.push(format!("{name} has the lock"));
            aio::sleep(0.01).await?;
        }
        log.push(format!("{name} released"));
        Ok(())
    }
    async fn sem_user(log: Log, sem: aio::Semaphore, name: &'static str) -> PyResult<()> {
        sem.acquire().await?;
        log.push(format!("{name} in"));
        let r = aio::sleep(0.01).await;
        if r.is_ok() {
            log.push(format!("{name} out"));
        }
        sem.release();
        r
    }
    async fn ev_waiter(log: Log, ev: aio::Event, name: &'static str) -> PyResult<()> {
        ev.wait().await?;
        log.push(format!("{name} woke"));
        Ok(())
    }
    async fn producer(log: Log, q: aio::Queue<Option<i32>>, n: i32) -> PyResult<()> {
        for i in 0..n {
            q.put(Some(i)).await?;
            log.push(format!("put {i} (size {})", q.qsize()));
        }
        q.put(None).await
    }
    async fn consumer(log: Log, q: aio::Queue<Option<i32>>) -> PyResult<()> {
        while let Some(item) = q.get().await? {
            log.push(format!("got {item}"));
            aio::sleep(0.01).await?;
            q.task_done()?;
        }
        q.task_done()
    }
    async fn ticker(log: Log, n: i32) -> PyResult<()> {
        for i in 0..n {
            log.push(format!("tick {i}"));
            aio::sleep(0.05).await?;
        }
        Ok(())
    }
    async fn at(log: Log, name: &'static str) -> PyResult<()> {
        aio::sleep(0.02).await?;
        log.push(format!("{name} woke"));
        Ok(())
    }
    let lines = lab_run(|log| async move {
        let lock = aio::Lock::new("lock");
        aio::gather(
            ["A", "B", "C"]
                .map(|n| aio::create_task(locker(log.clone(), lock.clone(), n)))
                .to_vec(),
        )
        .await?;
        let sem = aio::Semaphore::new("sem", 2)?;
        aio::gather(
            ["A", "B", "C", "D"]
                .map(|n| aio::create_task(sem_user(log.clone(), sem.clone(), n)))
                .to_vec(),
        )
        .await?;
        let ev = aio::Event::new("ev");
        let ws: Vec<_> = ["X", "Y", "Z"]
            .map(|n| aio::create_task(ev_waiter(log.clone(), ev.clone(), n)))
            .to_vec();
        aio::sleep(0.01).await?;
        log.push("set");
        ev.set();
        aio::gather(ws).await?;
        let q = aio::Queue::new("q", 2);
        aio::gather(vec![
            aio::create_task(producer(log.clone(), q.clone(), 4)),
            aio::create_task(consumer(log.clone(), q.clone())),
        ])
        .await?;
        q.join().await?;
        log.push("queue joined");
        let t = aio::create_task(ticker(log.clone(), 5));
        let name = aio::to_thread(|c| {
            c.sleep(0.125)?;
            Ok(c.name().to_string())
        })
        .await?;
        log.push(format!("to_thread ran on {name}"));
        t.await?;
        aio::gather(
            ["P", "Q", "R", "S"]
                .map(|n| aio::create_task(at(log.clone(), n)))
                .to_vec(),
        )
        .await?;
        Ok(())
    });
    check("primitives", C6_PY, C6_OUT, lines);
}
