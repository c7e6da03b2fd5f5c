//! ThreadPoolExecutor: at most max_workers tasks run at once, the rest wait
//! in the pool's queue; map gives results in submission order, submit +
//! as_completed in completion order; and an exception inside a task stays
//! in its future, lost unless someone reads it (seed 001's warning).

use super::to_ms;
use std::collections::BTreeSet;
use std::sync::Arc;
use std::time::Instant;

use parking_lot::Mutex;

use super::{
    Agree, Extra, Group, Metric, Outcome, PlotSpec, Scenario, SeriesRef, Stepping, counter_metric,
    ms_metric, py_num, scenario_seconds,
};
use crate::lab::futures::as_completed;
use crate::lab::record::Record;
use crate::lab::sync::Counter;
use crate::lab::{Ctx, Future, KnobSpec, Knobs, SyncError, SyncResult, ThreadPoolExecutor};
use crate::t;

/// The pool's name, as Python names the first pool of a program.
const POOL: &str = "ThreadPoolExecutor-0";

const KNOBS: &[KnobSpec] = &[
    KnobSpec::int(
        "workers",
        t!("max_workers", "max_workers"),
        "workers",
        1,
        16,
        3,
    )
    .not_live(t!(
        "applies at the next Start: a pool's max_workers is fixed when it is made",
        "se aplica al próximo Inicio: el max_workers de un pool se fija al crearlo"
    )),
    KnobSpec::int("tasks", t!("Tasks", "Tareas"), "tasks", 1, 100, 8).not_live(t!(
        "applies at the next Start: every task is submitted at the start",
        "se aplica al próximo Inicio: todas las tareas se envían al empezar"
    )),
    KnobSpec::seconds(
        "duration",
        t!(
            "Task duration (each task takes 0.9 to 1.7 times this)",
            "Duración de una tarea (cada una tarda de 0,9 a 1,7 veces esto)"
        ),
        0.01,
        10.0,
        1.0,
    ),
    KnobSpec::flag(
        "failing",
        t!("Task 3 raises ValueError", "La tarea 3 lanza ValueError"),
        true,
    ),
    KnobSpec::flag(
        "use_map",
        t!("executor.map (else submit)", "executor.map (si no, submit)"),
        false,
    )
    .not_live(NOT_LIVE_MAIN),
    KnobSpec::flag(
        "read_results",
        t!(
            "With submit: read each result() as tasks complete",
            "Con submit: leer cada result() según terminan"
        ),
        false,
    )
    .not_live(NOT_LIVE_MAIN),
    KnobSpec::flag(
        "cancel_last",
        t!(
            "With submit: cancel() the last task right away",
            "Con submit: cancel() de la última tarea enseguida"
        ),
        false,
    )
    .not_live(NOT_LIVE_MAIN),
];

const NOT_LIVE_MAIN: crate::lab::text::Text = t!(
    "applies at the next Start: MainThread decides this as it submits the work",
    "se aplica al próximo Inicio: MainThread lo decide al enviar el trabajo"
);

pub static SCENARIO: Scenario = Scenario {
    id: "thread-pool",
    group: Group::Threads,
    title: t!("A pool of threads", "Un pool de hilos"),
    lesson: t!(
        "A ThreadPoolExecutor runs at most max_workers tasks at once; map gives the results in submission order, submit with as_completed in completion order; and an exception inside a task is kept in its future, silently lost unless someone reads it.",
        "Un ThreadPoolExecutor ejecuta como mucho max_workers tareas a la vez; map da los resultados en el orden de envío, submit con as_completed en el orden en que terminan; y una excepción dentro de una tarea queda guardada en su future, perdida en silencio si nadie la lee."
    ),
    explanation: t!(
        "MainThread opens `with ThreadPoolExecutor(max_workers) as executor:` and hands it every task at once. The pool starts a worker thread per task until it has max_workers (ThreadPoolExecutor-0_0, _1…, grouped on the timeline); the other tasks wait in its queue. In 'The pool' plot, busy workers never rise above the max_workers line while the waiting work drains. The tasks take different times, so they finish out of order: the strip of futures above the timeline shows each one's state and its place in the completion order (#1, #2…).\n\n\
Task 3 raises ValueError. With submit and nobody reading the results (the default), nothing is printed: the worker thread does not fail, the exception sits in the future (red frame: unread) and the program ends as if all went well; only the last check, which asks every future for its exception(), finds it. This is the trap seed 001 warns about.\n\n\
Tick 'read each result()' and the loop over as_completed gets the results as the tasks complete, and future.result() raises the ValueError in MainThread, where it can be caught. Tick 'executor.map' instead: results come back in submission order (0, 1, 2…) whatever order the tasks finish in, and the ValueError comes out of the loop at task 3, ending it; the tasks that had not started are cancelled. 'cancel() the last task' shows that only a future that has not started can be cancelled.",
        "MainThread abre `with ThreadPoolExecutor(max_workers) as executor:` y le da todas las tareas de una vez. El pool arranca un hilo trabajador por tarea hasta tener max_workers (ThreadPoolExecutor-0_0, _1…, agrupados en la línea de tiempo); las demás tareas esperan en su cola. En la gráfica 'El pool', los trabajadores ocupados nunca superan la línea de max_workers mientras el trabajo pendiente se vacía. Las tareas tardan distinto, así que terminan desordenadas: la tira de futures sobre la línea de tiempo muestra el estado de cada uno y su puesto en el orden de finalización (#1, #2…).\n\n\
La tarea 3 lanza ValueError. Con submit y sin que nadie lea los resultados (lo predeterminado), no se imprime nada: el hilo trabajador no falla, la excepción queda en el future (marco rojo: sin leer) y el programa acaba como si todo hubiera ido bien; solo la comprobación final, que pide a cada future su exception(), la encuentra. Es la trampa de la que avisa la semilla 001.\n\n\
Marca 'leer cada result()' y el bucle sobre as_completed recibe los resultados según terminan las tareas, y future.result() lanza el ValueError en MainThread, donde se puede capturar. Marca en cambio 'executor.map': los resultados llegan en el orden de envío (0, 1, 2…) sea cual sea el orden en que terminan, y el ValueError sale del bucle en la tarea 3, terminándolo; las tareas que no habían empezado se cancelan. 'cancel() de la última tarea' muestra que solo se puede cancelar un future que no ha empezado."
    ),
    knobs: KNOBS,
    body,
    metrics,
    python,
    plots: &[
        PlotSpec {
            title: t!("The pool", "El pool"),
            series: &[
                (
                    SeriesRef::Level(POOL),
                    t!("busy workers", "trabajadores ocupados"),
                ),
                (SeriesRef::Capacity(POOL), t!("max_workers", "max_workers")),
                (
                    SeriesRef::Waiters(POOL),
                    t!("tasks waiting in the queue", "tareas esperando en la cola"),
                ),
                (
                    SeriesRef::Counter("ThreadPoolExecutor-0.idle_workers"),
                    t!("idle workers", "trabajadores ociosos"),
                ),
            ],
        },
        PlotSpec {
            title: t!("Tasks", "Tareas"),
            series: &[
                (
                    SeriesRef::Counter("tasks_finished"),
                    t!("tasks finished", "tareas terminadas"),
                ),
                (
                    SeriesRef::Counter("results_read"),
                    t!("results MainThread read", "resultados que leyó MainThread"),
                ),
                (
                    SeriesRef::Counter("exceptions_seen"),
                    t!(
                        "exceptions MainThread saw",
                        "excepciones que vio MainThread"
                    ),
                ),
            ],
        },
    ],
    extra: Extra::Futures,
    outcomes: &[
        Outcome {
            metric: "results_read",
            label: t!("results MainThread read", "resultados que leyó MainThread"),
            printed_after: "results read:",
            agree: Agree::Exactly,
        },
        Outcome {
            metric: "exceptions_seen",
            label: t!(
                "exceptions MainThread saw",
                "excepciones que vio MainThread"
            ),
            printed_after: "exceptions seen:",
            agree: Agree::Exactly,
        },
        Outcome {
            metric: "tasks_raised",
            label: t!("tasks that raised", "tareas que lanzaron una excepción"),
            printed_after: "tasks that raised:",
            agree: Agree::Exactly,
        },
        Outcome {
            metric: "pool_threads",
            label: t!(
                "pool threads that ran tasks",
                "hilos del pool que ejecutaron tareas"
            ),
            printed_after: "pool threads used:",
            agree: Agree::Exactly,
        },
        // Not the total time: with map, a task a worker picks up just as
        // map raises may run or be cancelled (CPython's GIL lets the worker
        // win that race, real threads do not always), so the time varies by
        // a whole task between runs.
    ],
    check_knobs: &[("duration", 0.3)],
    stepping: Stepping::Yes(super::ENDS_WELL),
};

/// The task that fails, when failing is on.
fn fail_at(tasks: usize) -> usize {
    3.min(tasks.saturating_sub(1))
}

/// How much of the duration knob task `n` takes, in turn: different, so the
/// tasks finish out of order, and chosen so that no two of them finish at
/// the same moment for 1 to 6 workers (a tie would make the order a toss-up).
const FACTORS: [f64; 7] = [1.16, 1.55, 0.9, 1.34, 1.7, 1.22, 0.91];

/// How long task `n` takes.
fn task_seconds(duration: f64, n: usize) -> f64 {
    duration * FACTORS[n % FACTORS.len()]
}

/// Python's repr of an exception: ValueError('task 3: bad input').
fn py_repr(e: &SyncError) -> String {
    format!("{}('{}')", e.python_name(), e.message())
}

/// Names of the pool threads that ran a task (the program's `used_threads`).
type UsedThreads = Arc<Mutex<BTreeSet<String>>>;

/// The task every worker runs.
fn task(c: &Ctx, n: usize, fail: usize, finished: &Counter, used: &UsedThreads) -> SyncResult<u64> {
    used.lock().insert(c.name().to_string());
    let seconds = task_seconds(c.knob("duration"), n);
    c.log(format!("Task {n}: starting ({seconds:.2} s)"));
    c.sleep(seconds)?;
    finished.add(1);
    if c.knob_bool("failing") && n == fail {
        return Err(SyncError::ValueError(format!("task {n}: bad input")));
    }
    c.log(format!("Task {n}: finishing"));
    Ok((n * n) as u64)
}

fn body(ctx: &Ctx) -> SyncResult<()> {
    let lab = ctx.lab();
    let tasks = ctx.knob_usize("tasks");
    let fail = fail_at(tasks);
    let finished = lab.counter("tasks_finished");
    let results_read = lab.counter("results_read");
    let seen = lab.counter("exceptions_seen");
    let use_map = ctx.knob_bool("use_map");
    let used_threads = UsedThreads::default();
    let started = Instant::now();
    let mut futures: Vec<Future<u64>> = Vec::new();

    ThreadPoolExecutor::with(&lab, ctx.knob_usize("workers"), |executor| {
        if use_map {
            let (finished, used) = (finished.clone(), used_threads.clone());
            let results = executor.map(
                "task",
                move |c, n: usize| task(c, n, fail, &finished, &used),
                0..tasks,
            )?;
            for (n, result) in results.enumerate() {
                match result {
                    Ok(value) => {
                        results_read.add(1);
                        ctx.log(format!("Main    : task {n} returned {value}"));
                    }
                    Err(SyncError::Stopped) => return Err(SyncError::Stopped),
                    Err(e) => {
                        seen.add(1);
                        ctx.log(format!(
                            "Main    : map raised {}; the results after it are lost",
                            py_repr(&e)
                        ));
                        break;
                    }
                }
            }
            return Ok(());
        }
        for n in 0..tasks {
            let (finished, used) = (finished.clone(), used_threads.clone());
            futures.push(executor.submit(&format!("task({n})"), move |c| {
                task(c, n, fail, &finished, &used)
            })?);
        }
        if ctx.knob_bool("cancel_last")
            && let Some(last) = futures.last()
        {
            let cancelled = last.cancel();
            ctx.log(format!(
                "Main    : cancel() of task {}: {}",
                tasks - 1,
                if cancelled { "True" } else { "False" }
            ));
        }
        if ctx.knob_bool("read_results") {
            for future in as_completed(&futures, None) {
                let future = future?;
                let n = futures
                    .iter()
                    .position(|f| f.id() == future.id())
                    .unwrap_or(0);
                match future.result(None) {
                    Ok(value) => {
                        results_read.add(1);
                        ctx.log(format!("Main    : task {n} returned {value}"));
                    }
                    Err(SyncError::Stopped) => return Err(SyncError::Stopped),
                    Err(e) if future.cancelled() => {
                        ctx.log(format!(
                            "Main    : task {n} was cancelled ({})",
                            e.python_name()
                        ));
                    }
                    Err(e) => {
                        seen.add(1);
                        ctx.log(format!("Main    : task {n} raised {}", py_repr(&e)));
                    }
                }
            }
        }
        // Leaving the with-block waits for every task.
        Ok(())
    })?;
    let took = scenario_seconds(ctx, started);
    lab.counter("total_ms").set(to_ms(took));

    ctx.log(format!("Main    : results read: {}", results_read.get()));
    ctx.log(format!("Main    : exceptions seen: {}", seen.get()));
    // The program's last check asks each future for its exception; the lab
    // looks without marking them read, so the window still shows which
    // exceptions nobody had read before.
    let raised = if use_map {
        seen.get() as usize
    } else {
        futures.iter().filter(|f| f.holds_exception()).count()
    };
    ctx.log(format!("Main    : tasks that raised: {raised}"));
    ctx.log(format!(
        "Main    : pool threads used: {}",
        used_threads.lock().len()
    ));
    ctx.log(format!("Main    : all done in {took:.2} s"));
    Ok(())
}

fn metrics(record: &Record) -> Vec<Metric> {
    let futures: Vec<_> = record.futures().collect();
    let raised = futures.iter().filter(|f| f.error.is_some()).count();
    let seen = record.counter_value("exceptions_seen").unwrap_or(0).max(0) as usize;
    let cancelled = futures.iter().filter(|f| f.state.is_cancelled()).count();
    let mut workers: Vec<_> = futures.iter().filter_map(|f| f.worker).collect();
    workers.sort_unstable();
    workers.dedup();
    let pool = record.resource_by_name(POOL);
    vec![
        Metric {
            name: "tasks_submitted",
            label: t!("tasks submitted", "tareas enviadas"),
            value: futures.len() as f64,
        },
        counter_metric(
            record,
            "results_read",
            t!("results read", "resultados leídos"),
        ),
        counter_metric(
            record,
            "exceptions_seen",
            t!("exceptions seen", "excepciones vistas"),
        ),
        Metric {
            name: "tasks_raised",
            label: t!("tasks that raised", "tareas que lanzaron"),
            value: raised as f64,
        },
        Metric {
            name: "exceptions_lost",
            label: t!("exceptions nobody saw", "excepciones que nadie vio"),
            value: raised.saturating_sub(seen) as f64,
        },
        Metric {
            name: "cancelled",
            label: t!("tasks cancelled", "tareas canceladas"),
            value: cancelled as f64,
        },
        Metric {
            name: "pool_threads",
            label: t!("pool threads used", "hilos del pool usados"),
            value: workers.len() as f64,
        },
        Metric {
            name: "max_busy",
            label: t!("most tasks running at once", "máximo de tareas a la vez"),
            value: pool.map_or(0.0, |p| p.level_series.max.max(0.0)),
        },
        ms_metric(
            record,
            "total_ms",
            "total_seconds",
            t!(
                "time for all the tasks (s)",
                "tiempo de todas las tareas (s)"
            ),
        ),
    ]
}

fn python(knobs: &Knobs) -> String {
    let workers = knobs.get("workers").round() as i64;
    let tasks = knobs.get("tasks").round().max(1.0) as usize;
    let failing = knobs.get("failing") >= 0.5;
    let use_map = knobs.get("use_map") >= 0.5;
    let read = knobs.get("read_results") >= 0.5;
    let cancel_last = knobs.get("cancel_last") >= 0.5;
    let py_bool = |b: bool| if b { "True" } else { "False" };
    let main = if use_map {
        r#"    with concurrent.futures.ThreadPoolExecutor(max_workers=WORKERS) as executor:
        try:
            # Results come in the order the tasks were given.
            for n, result in enumerate(executor.map(task, range(TASKS))):
                results += 1
                logging.info("Main    : task %d returned %s", n, result)
        except ValueError as exc:
            seen += 1
            logging.info("Main    : map raised %r; the results after it are lost", exc)
    # Leaving the with-block waited for the tasks still running.
    took = time.perf_counter() - started
    logging.info("Main    : results read: %d", results)
    logging.info("Main    : exceptions seen: %d", seen)
    # map hands every exception to the loop: none can be lost.
    logging.info("Main    : tasks that raised: %d", seen)"#
            .to_string()
    } else {
        let cancel = if cancel_last {
            r#"
        # Only a task that has not started can be cancelled.
        logging.info("Main    : cancel() of task %d: %s", TASKS - 1, futures[-1].cancel())"#
        } else {
            ""
        };
        let read_loop = if read {
            r#"
        for future in concurrent.futures.as_completed(futures):
            n = futures.index(future)    # in the order they complete
            try:
                logging.info("Main    : task %d returned %s", n, future.result())
                results += 1
            except concurrent.futures.CancelledError:
                logging.info("Main    : task %d was cancelled (CancelledError)", n)
            except ValueError as exc:    # result() raises the task's exception
                seen += 1
                logging.info("Main    : task %d raised %r", n, exc)"#
        } else {
            r#"
        # Nobody calls result(): an exception inside a task stays in its
        # future, and nothing is printed."#
        };
        format!(
            r#"    with concurrent.futures.ThreadPoolExecutor(max_workers=WORKERS) as executor:
        futures = [executor.submit(task, n) for n in range(TASKS)]{cancel}{read_loop}
    # Leaving the with-block waited for every task.
    took = time.perf_counter() - started
    logging.info("Main    : results read: %d", results)
    logging.info("Main    : exceptions seen: %d", seen)
    # The exceptions are still in their futures for whoever asks:
    raised = sum(1 for f in futures if not f.cancelled() and f.exception())
    logging.info("Main    : tasks that raised: %d", raised)"#
        )
    };
    format!(
        r#"import concurrent.futures
import logging
import threading
import time

WORKERS = {workers}
TASKS = {tasks}
DURATION = {duration}
FAILING = {failing}
FAIL_AT = {fail_at}
# The tasks take different times, so they finish out of order.
FACTORS = [1.16, 1.55, 0.9, 1.34, 1.7, 1.22, 0.91]

used_threads = set()   # names of the pool threads that ran a task

def task(n):
    """Pretend to download something; the tasks take different times."""
    used_threads.add(threading.current_thread().name)
    seconds = DURATION * FACTORS[n % len(FACTORS)]
    logging.info("Task %d: starting (%.2f s)", n, seconds)
    time.sleep(seconds)
    if FAILING and n == FAIL_AT:
        raise ValueError(f"task {{n}}: bad input")
    logging.info("Task %d: finishing", n)
    return n * n

if __name__ == "__main__":
    logging.basicConfig(format="%(asctime)s: %(message)s",
                        level=logging.INFO, datefmt="%H:%M:%S")
    results = seen = 0
    started = time.perf_counter()
{main}
    logging.info("Main    : pool threads used: %d", len(used_threads))
    logging.info("Main    : all done in %.2f s", took)
"#,
        duration = py_num(knobs.get("duration")),
        failing = py_bool(failing),
        fail_at = fail_at(tasks),
    )
}
