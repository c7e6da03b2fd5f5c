//! A thread's life: created, started (ready), running, sleeping, blocked on
//! a lock, done; `is_alive()`, `enumerate()`, `active_count()`, and `join()`
//! with and without a timeout (seed 004's life cycle; seed 001's join).

use super::to_ms;
use std::time::Instant;

use super::{
    Agree, Extra, Group, JITTER, Metric, Outcome, PlotSpec, Scenario, SeriesRef, Stepping, busy,
    counter_metric, ms_metric, py_num, scenario_seconds,
};
use crate::lab::record::Record;
use crate::lab::{Ctx, KnobSpec, Knobs, SyncResult, Thread};
use crate::t;

/// How long MainThread leaves the threads created before starting them
/// (scenario seconds), so the "created" state shows on the timeline.
const CREATED_FOR: f64 = 0.3;

const KNOBS: &[KnobSpec] = &[
    KnobSpec::int("threads", t!("Threads", "Hilos"), "threads", 1, 16, 3).not_live(t!(
        "applies at the next Start: the threads are created when it starts",
        "se aplica al próximo Inicio: los hilos se crean al empezar"
    )),
    KnobSpec::seconds(
        "work",
        t!("Computing (running)", "Cálculo (en ejecución)"),
        0.01,
        10.0,
        1.0,
    ),
    KnobSpec::seconds(
        "sleep",
        t!("time.sleep (sleeping)", "time.sleep (durmiendo)"),
        0.01,
        10.0,
        1.0,
    ),
    KnobSpec::seconds(
        "write",
        t!(
            "Writing under the ledger lock (the others: blocked)",
            "Escribir con el lock del registro (los demás: bloqueados)"
        ),
        0.01,
        5.0,
        0.3,
    ),
    KnobSpec::seconds(
        "join_timeout",
        t!(
            "join(timeout) on the first thread",
            "join(timeout) sobre el primer hilo"
        ),
        0.01,
        10.0,
        0.5,
    ),
];

const TIMED_JOIN: crate::lab::text::Text = t!(
    "a thread that ends right at the timeout may be counted alive on one side and not on the other",
    "un hilo que termina justo al vencer el plazo puede contarse vivo en un lado y no en el otro"
);

pub static SCENARIO: Scenario = Scenario {
    id: "thread-lifecycle",
    group: Group::Threads,
    title: t!("A thread's life", "La vida de un hilo"),
    lesson: t!(
        "A thread is created, started, runs, sleeps or waits, and ends; is_alive(), enumerate() and active_count() tell which are alive, and join() waits for one to end (with a timeout, only so long).",
        "Un hilo se crea, se inicia, se ejecuta, duerme o espera, y termina; is_alive(), enumerate() y active_count() dicen cuáles están vivos, y join() espera a que uno termine (con timeout, solo ese tiempo)."
    ),
    explanation: t!(
        "MainThread creates the threads with threading.Thread(target=worker): grey on the timeline, 'created'. They are only objects yet: is_alive() is False and active_count() still counts 1, MainThread alone.\n\n\
Then it calls start() on each. A started thread is 'ready' until the operating system runs it, which takes microseconds: a sliver of light blue. From then on it is alive. Each worker computes for a while (green, running: it is using a CPU), calls time.sleep (purple, sleeping: it uses none), and then writes its result in a shared ledger under a Lock. One thread at a time holds the lock; the others turn red, blocked on ledger_lock, until it is free. Then the thread returns and is done.\n\n\
Watch the active_count() plot: 1, then threads + 1 once they start, then down one by one as they end. MainThread first calls join(timeout) on the first thread: the wait ends after the timeout whether or not the thread has ended, so check is_alive() afterwards; here it is still alive. Then join() without a timeout waits as long as it takes. After every join, is_alive() is False and active_count() is 1 again.\n\n\
The log shows each thread's ident (threading.get_ident()) and native_id, the operating system's number for it.",
        "MainThread crea los hilos con threading.Thread(target=worker): grises en la línea de tiempo, 'creado'. Aún son solo objetos: is_alive() es False y active_count() cuenta 1, solo MainThread.\n\n\
Luego llama a start() en cada uno. Un hilo iniciado está 'listo' hasta que el sistema operativo lo ejecuta, lo que tarda microsegundos: una franja azul claro. Desde entonces está vivo. Cada trabajador calcula un rato (verde, en ejecución: usa una CPU), llama a time.sleep (morado, durmiendo: no usa ninguna) y después escribe su resultado en un registro compartido protegido por un Lock. Solo un hilo a la vez tiene el lock; los demás se ponen en rojo, bloqueados en ledger_lock, hasta que queda libre. Luego el hilo vuelve y termina.\n\n\
Mira la gráfica de active_count(): 1, luego hilos + 1 al iniciarlos, y baja de uno en uno según terminan. MainThread primero llama a join(timeout) sobre el primer hilo: la espera acaba al vencer el plazo haya terminado o no el hilo, así que hay que mirar is_alive() después; aquí sigue vivo. Después join() sin timeout espera lo que haga falta. Tras todos los join, is_alive() es False y active_count() vuelve a ser 1.\n\n\
El registro muestra el ident de cada hilo (threading.get_ident()) y su native_id, el número que le da el sistema operativo."
    ),
    knobs: KNOBS,
    body,
    metrics,
    python,
    plots: &[
        PlotSpec {
            title: t!("threading.active_count()", "threading.active_count()"),
            series: &[(SeriesRef::AliveThreads, t!("threads alive", "hilos vivos"))],
        },
        PlotSpec {
            title: t!("The ledger lock", "El lock del registro"),
            series: &[
                (SeriesRef::Level("ledger_lock"), t!("held", "tomado")),
                (
                    SeriesRef::Waiters("ledger_lock"),
                    t!("threads blocked on it", "hilos bloqueados en él"),
                ),
            ],
        },
    ],
    extra: Extra::None,
    outcomes: &[
        Outcome {
            metric: "active_after_start",
            label: t!(
                "active_count() after start()",
                "active_count() tras start()"
            ),
            printed_after: "active_count() after start =",
            agree: Agree::Exactly,
        },
        Outcome {
            metric: "alive_after_timed_join",
            label: t!(
                "threads alive after join(timeout)",
                "hilos vivos tras join(timeout)"
            ),
            printed_after: "join(timeout) returned; threads alive:",
            agree: Agree::Within {
                abs: 1.0,
                why: TIMED_JOIN,
            },
        },
        Outcome {
            metric: "active_after_join",
            label: t!("active_count() after join()", "active_count() tras join()"),
            printed_after: "active_count() after join =",
            agree: Agree::Exactly,
        },
        Outcome {
            metric: "threads_seconds",
            label: t!(
                "from start() to the last join (s)",
                "de start() al último join (s)"
            ),
            printed_after: "the threads took",
            agree: Agree::Roughly {
                rel: 0.25,
                abs: 0.1,
                why: JITTER,
            },
        },
    ],
    check_knobs: &[
        ("work", 0.3),
        ("sleep", 0.3),
        ("write", 0.1),
        ("join_timeout", 0.2),
    ],
    stepping: Stepping::Yes(super::ENDS_WELL),
};

/// Python's repr of a list of strings: ['MainThread', 'Thread-1 (worker)'].
fn py_list(items: impl IntoIterator<Item = String>) -> String {
    let quoted: Vec<String> = items.into_iter().map(|s| format!("'{s}'")).collect();
    format!("[{}]", quoted.join(", "))
}

/// Python's repr of a list of booleans: [True, False].
fn py_bools(items: impl IntoIterator<Item = bool>) -> String {
    let words: Vec<&str> = items
        .into_iter()
        .map(|b| if b { "True" } else { "False" })
        .collect();
    format!("[{}]", words.join(", "))
}

fn body(ctx: &Ctx) -> SyncResult<()> {
    let lab = ctx.lab();
    let ledger_lock = lab.lock("ledger_lock");
    let written = lab.counter("results_written");
    let n = ctx.knob_usize("threads");

    let threads: Vec<Thread> = (1..=n)
        .map(|i| {
            let (ledger_lock, written) = (ledger_lock.clone(), written.clone());
            lab.thread_for("worker", false, move |c| {
                let lab = c.lab();
                c.log(format!(
                    "Thread {i}: starting (ident={}, native_id={})",
                    lab.get_ident().unwrap_or(0),
                    lab.get_native_id().unwrap_or(0)
                ));
                busy(c, c.knob("work"))?;
                c.log(format!("Thread {i}: sleeping"));
                c.sleep(c.knob("sleep"))?;
                {
                    let _held = ledger_lock.hold()?;
                    c.log(format!("Thread {i}: writing its result"));
                    busy(c, c.knob("write"))?;
                    written.add(1);
                }
                c.log(format!("Thread {i}: finishing"));
                Ok(())
            })
        })
        .collect();
    ctx.log(format!(
        "Main    : created {}",
        py_list(threads.iter().map(|t| t.name().to_string()))
    ));
    ctx.log(format!(
        "Main    : before start, is_alive() = {}, active_count() = {}",
        py_bools(threads.iter().map(Thread::is_alive)),
        lab.active_count()
    ));
    ctx.sleep(CREATED_FOR)?;

    let started = Instant::now();
    for t in &threads {
        t.start()?;
    }
    let after_start = lab.active_count();
    lab.counter("active_after_start").set(after_start as i64);
    ctx.log(format!(
        "Main    : active_count() after start = {after_start}"
    ));
    ctx.log(format!(
        "Main    : enumerate() = {}",
        py_list(lab.enumerate().iter().map(|t| t.name().to_string()))
    ));

    if let Some(first) = threads.first() {
        first.join(Some(ctx.knob("join_timeout")))?;
        let alive = threads.iter().filter(|t| t.is_alive()).count();
        lab.counter("alive_after_timed_join").set(alive as i64);
        ctx.log(format!(
            "Main    : join(timeout) returned; threads alive: {alive}"
        ));
    }
    for t in &threads {
        t.join(None)?;
        ctx.log(format!(
            "Main    : {} joined, is_alive() = {}",
            t.name(),
            if t.is_alive() { "True" } else { "False" }
        ));
    }
    let after_join = lab.active_count();
    lab.counter("active_after_join").set(after_join as i64);
    ctx.log(format!(
        "Main    : active_count() after join = {after_join}"
    ));
    let took = scenario_seconds(ctx, started);
    lab.counter("threads_ms").set(to_ms(took));
    ctx.log(format!("Main    : the threads took {took:.2} s"));
    Ok(())
}

fn metrics(record: &Record) -> Vec<Metric> {
    vec![
        Metric {
            name: "threads_started",
            label: t!("threads started", "hilos iniciados"),
            // Every thread but MainThread.
            value: record.threads_ever().saturating_sub(1) as f64,
        },
        Metric {
            name: "max_active",
            label: t!(
                "most threads alive at once",
                "máximo de hilos vivos a la vez"
            ),
            value: record.alive_series.max.max(0.0),
        },
        counter_metric(
            record,
            "active_after_start",
            t!(
                "active_count() after start()",
                "active_count() tras start()"
            ),
        ),
        counter_metric(
            record,
            "alive_after_timed_join",
            t!("alive after join(timeout)", "vivos tras join(timeout)"),
        ),
        counter_metric(
            record,
            "active_after_join",
            t!("active_count() after join()", "active_count() tras join()"),
        ),
        ms_metric(
            record,
            "threads_ms",
            "threads_seconds",
            t!(
                "from start() to the last join (s)",
                "de start() al último join (s)"
            ),
        ),
    ]
}

fn python(knobs: &Knobs) -> String {
    let threads = knobs.get("threads").round() as i64;
    format!(
        r#"import logging
import threading
import time

THREADS = {threads}
WORK = {work}      # seconds computing: the thread is running
SLEEP = {sleep}     # seconds in time.sleep: the thread is sleeping
WRITE = {write}     # seconds holding the ledger lock: the others are blocked

ledger_lock = threading.Lock()

def busy(seconds):
    """Compute for a while: the thread uses the CPU all along."""
    end = time.perf_counter() + seconds
    while time.perf_counter() < end:
        pass

def worker(n):
    logging.info("Thread %d: starting (ident=%d, native_id=%d)",
                 n, threading.get_ident(), threading.get_native_id())
    busy(WORK)
    logging.info("Thread %d: sleeping", n)
    time.sleep(SLEEP)
    with ledger_lock:               # one thread at a time
        logging.info("Thread %d: writing its result", n)
        busy(WRITE)
    logging.info("Thread %d: finishing", n)

if __name__ == "__main__":
    logging.basicConfig(format="%(asctime)s: %(message)s",
                        level=logging.INFO, datefmt="%H:%M:%S")
    threads = [threading.Thread(target=worker, args=(n,))
               for n in range(1, THREADS + 1)]
    logging.info("Main    : created %s", [t.name for t in threads])
    logging.info("Main    : before start, is_alive() = %s, active_count() = %d",
                 [t.is_alive() for t in threads], threading.active_count())
    time.sleep({created_for})  # created, not started: they do nothing yet

    started = time.perf_counter()
    for t in threads:
        t.start()
    logging.info("Main    : active_count() after start = %d",
                 threading.active_count())
    logging.info("Main    : enumerate() = %s",
                 [t.name for t in threading.enumerate()])

    threads[0].join(timeout={join_timeout})  # gives up after the timeout...
    logging.info("Main    : join(timeout) returned; threads alive: %d",
                 sum(t.is_alive() for t in threads))  # ...so look
    for t in threads:
        t.join()                       # no timeout: as long as it takes
        logging.info("Main    : %s joined, is_alive() = %s", t.name, t.is_alive())
    logging.info("Main    : active_count() after join = %d",
                 threading.active_count())
    logging.info("Main    : the threads took %.2f s",
                 time.perf_counter() - started)
"#,
        work = py_num(knobs.get("work")),
        sleep = py_num(knobs.get("sleep")),
        write = py_num(knobs.get("write")),
        join_timeout = py_num(knobs.get("join_timeout")),
        created_for = py_num(CREATED_FOR),
    )
}
