//! Lock against RLock: a thread that acquires a Lock it already holds waits
//! for itself forever (a deadlock of one thread); the same recursion with an
//! RLock goes through, and only its owner may release it (seeds 000, 001).

use super::{
    Agree, Extra, GIVE_UP_NOT_LIVE, Group, Metric, Outcome, PlotSpec, Scenario, SeriesRef,
    Stepping, counter_metric, deadlocks_metric, failed_threads, join_or_give_up, py_num,
};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use crate::lab::record::Record;
use crate::lab::sync::{Counter, Lock, LockGuard, RLock};
use crate::lab::{Ctx, KnobSpec, Knobs, State, SyncResult};
use crate::t;

const KNOBS: &[KnobSpec] = &[
    KnobSpec::flag(
        "rlock",
        t!(
            "Use an RLock (re-entrant) instead of a Lock",
            "Usar un RLock (reentrante) en vez de un Lock"
        ),
        false,
    )
    .not_live(t!(
        "applies at the next Start: the lock is made when the program starts",
        "se aplica al próximo Inicio: el lock se crea al empezar el programa"
    )),
    KnobSpec::int(
        "depth",
        t!("Recursion depth", "Profundidad de la recursión"),
        "levels",
        1,
        20,
        5,
    ),
    KnobSpec::seconds(
        "hold",
        t!(
            "Time at each level, holding the lock",
            "Tiempo en cada nivel, con el lock tomado"
        ),
        0.01,
        5.0,
        0.3,
    ),
    KnobSpec::flag(
        "intruder",
        t!(
            "Another thread calls release() on the RLock",
            "Otro hilo llama a release() sobre el RLock"
        ),
        true,
    )
    .not_live(t!(
        "applies at the next Start; RLock only: a Lock has no owner, any thread may release it",
        "se aplica al próximo Inicio; solo RLock: un Lock no tiene dueño, cualquier hilo puede liberarlo"
    )),
    KnobSpec::seconds(
        "give_up",
        t!(
            "Main stops waiting after (join timeout)",
            "Main deja de esperar tras (timeout de join)"
        ),
        0.5,
        3600.0,
        20.0,
    )
    .not_live(GIVE_UP_NOT_LIVE),
];

pub static SCENARIO: Scenario = Scenario {
    id: "lock-rlock",
    group: Group::Synchronisation,
    title: t!("Lock vs RLock", "Lock frente a RLock"),
    lesson: t!(
        "A thread that acquires a Lock it already holds waits for itself forever; an RLock lets its owner acquire it again, and only the owner may release it.",
        "Un hilo que adquiere un Lock que ya tiene se espera a sí mismo para siempre; un RLock deja que su dueño lo vuelva a adquirir, y solo el dueño puede liberarlo."
    ),
    explanation: t!(
        "Worker runs descend(1): a function that takes the lock with `with lock:`, spends a while at that level, and calls itself one level deeper, until the recursion depth. It is the shape of a helper that needs the lock and is called by code that already holds it.\n\n\
With a Lock, level 1 gets it and level 2 asks for it again. A Lock does not know who holds it: the second acquire() waits until someone releases it, and the only one who would is Worker itself, which is waiting. Worker's lane turns red and stays red: blocked on a lock it holds. The lab draws the wait-for graph from what each thread waits for and who holds each lock, finds the cycle of one thread, and names it a deadlock. Nothing will ever wake it: Main stops waiting after its join timeout, says Worker is stuck, and exits; Worker is a daemon, so it is cut off.\n\n\
Tick 'Use an RLock' and Start again: an RLock remembers its owner and counts. The owner may acquire it again (the count goes up), must release it as many times, and the recursion goes all the way down and back up; the plot shows the depth.\n\n\
Owning has a second side: only the owner may release an RLock. Intruder calls lock.release() while Worker holds it, and Python raises RuntimeError: cannot release un-acquired lock. Its lane ends failed with that message, and Worker carries on. A Lock has no owner, so Python lets any thread release it; that is why the intruder only runs against the RLock.",
        "Worker ejecuta descend(1): una función que toma el lock con `with lock:`, pasa un rato en ese nivel y se llama a sí misma un nivel más abajo, hasta la profundidad fijada. Es la forma de una función auxiliar que necesita el lock y a la que llama código que ya lo tiene.\n\n\
Con un Lock, el nivel 1 lo consigue y el nivel 2 lo vuelve a pedir. Un Lock no sabe quién lo tiene: el segundo acquire() espera a que alguien lo libere, y el único que lo haría es el propio Worker, que está esperando. La franja de Worker se pone roja y sigue roja: bloqueado en un lock que él mismo tiene. El laboratorio dibuja el grafo de esperas a partir de lo que espera cada hilo y de quién tiene cada lock, encuentra el ciclo de un solo hilo y lo llama interbloqueo. Nada lo despertará: Main deja de esperar tras su timeout de join, dice que Worker está atascado y termina; Worker es daemon, así que se corta.\n\n\
Marca 'Usar un RLock' y vuelve a Iniciar: un RLock recuerda a su dueño y cuenta. El dueño puede volver a adquirirlo (la cuenta sube), debe liberarlo las mismas veces, y la recursión baja hasta el fondo y vuelve; la gráfica muestra la profundidad.\n\n\
Tener dueño tiene otra cara: solo el dueño puede liberar un RLock. Intruder llama a lock.release() mientras Worker lo tiene, y Python lanza RuntimeError: cannot release un-acquired lock. Su franja termina fallida con ese mensaje y Worker sigue. Un Lock no tiene dueño, así que Python deja que cualquier hilo lo libere; por eso el intruso solo actúa contra el RLock."
    ),
    knobs: KNOBS,
    body,
    metrics,
    python,
    plots: &[
        PlotSpec {
            title: t!("Recursion depth", "Profundidad de la recursión"),
            series: &[(
                SeriesRef::Counter("level"),
                t!("levels holding the lock", "niveles que tienen el lock"),
            )],
        },
        PlotSpec {
            title: t!("The lock", "El lock"),
            series: &[
                (
                    SeriesRef::Level("lock"),
                    t!(
                        "held (an RLock: how many times)",
                        "tomado (un RLock: cuántas veces)"
                    ),
                ),
                (
                    SeriesRef::Waiters("lock"),
                    t!("threads waiting", "hilos esperando"),
                ),
            ],
        },
    ],
    extra: Extra::WaitForGraph,
    outcomes: &[
        Outcome {
            metric: "deepest_level",
            label: t!("deepest level reached", "nivel más profundo alcanzado"),
            printed_after: "deepest level reached:",
            agree: Agree::Exactly,
        },
        Outcome {
            metric: "threads_stuck",
            label: t!(
                "threads stuck when Main gave up",
                "hilos atascados cuando Main se rindió"
            ),
            printed_after: "threads stuck:",
            agree: Agree::Exactly,
        },
        Outcome {
            metric: "failed_threads",
            label: t!(
                "threads ended by an exception",
                "hilos terminados por una excepción"
            ),
            printed_after: "threads ended by an exception:",
            agree: Agree::Exactly,
        },
    ],
    check_knobs: &[("depth", 3.0), ("hold", 0.2), ("give_up", 1.5)],
    stepping: Stepping::Yes(super::NO_DEADLOCK),
};

/// `threading.Lock()` or `threading.RLock()`, whichever the knob chose.
#[derive(Clone)]
enum AnyLock {
    Lock(Lock),
    RLock(RLock),
}

impl AnyLock {
    /// `with lock:`.
    fn hold(&self) -> SyncResult<LockGuard<'_>> {
        match self {
            AnyLock::Lock(l) => l.hold(),
            AnyLock::RLock(l) => l.hold(),
        }
    }

    fn release(&self) -> SyncResult<()> {
        match self {
            AnyLock::Lock(l) => l.release(),
            AnyLock::RLock(l) => l.release(),
        }
    }
}

/// `descend(level)`: take the lock, stay a while, go one level deeper.
fn descend(
    c: &Ctx,
    lock: &AnyLock,
    depth: &Counter,
    deepest: &AtomicUsize,
    level: usize,
) -> SyncResult<()> {
    c.log(format!("Worker: level {level}: acquiring the lock"));
    // With a Lock, level 2 waits here for the lock level 1 holds: forever.
    let guard = lock.hold()?;
    depth.set(level as i64);
    deepest.store(level, Ordering::SeqCst);
    c.log(format!("Worker: level {level}: got the lock"));
    c.sleep(c.knob("hold"))?;
    if level < c.knob_usize("depth") {
        descend(c, lock, depth, deepest, level + 1)?;
    }
    drop(guard);
    depth.set(level as i64 - 1);
    c.log(format!("Worker: level {level}: released the lock"));
    Ok(())
}

fn body(ctx: &Ctx) -> SyncResult<()> {
    let lab = ctx.lab();
    let reentrant = ctx.knob_bool("rlock");
    let lock = if reentrant {
        AnyLock::RLock(lab.rlock("lock"))
    } else {
        AnyLock::Lock(lab.lock("lock"))
    };
    let depth = lab.counter("level");
    let stuck = lab.counter("threads_stuck");
    // The program's `deepest`, for its last lines; the metric is the peak
    // of the depth gauge the record keeps.
    let deepest = Arc::new(AtomicUsize::new(0));
    ctx.log(format!(
        "Main: lock = threading.{}()",
        if reentrant { "RLock" } else { "Lock" }
    ));

    let mut threads = Vec::new();
    {
        let (lock, depth, deepest) = (lock.clone(), depth.clone(), deepest.clone());
        // A daemon, as in the program: a thread stuck for good must not keep
        // the program from exiting.
        threads.push(ctx.thread("Worker", true, move |c| {
            descend(c, &lock, &depth, &deepest, 1)
        }));
    }
    if reentrant && ctx.knob_bool("intruder") {
        let lock = lock.clone();
        threads.push(ctx.thread("Intruder", true, move |c| {
            c.sleep(c.knob("hold") / 2.0)?; // Worker holds the RLock by now
            c.log("Intruder: calling lock.release() on a lock it does not hold");
            // Raises RuntimeError: cannot release un-acquired lock, which
            // ends this thread as an uncaught exception does in Python.
            lock.release()
        }));
    }
    for t in &threads {
        t.start()?;
    }
    let alive = join_or_give_up(ctx, &threads, "give_up")?;
    stuck.set(alive.len() as i64);
    for t in &alive {
        ctx.log(format!(
            "Main: {} has not finished after {} s: stuck",
            t.name(),
            py_num(ctx.knob("give_up"))
        ));
    }
    // What the program prints at the end.
    let failed = threads
        .iter()
        .filter(|t| t.state() == State::Failed)
        .count();
    ctx.log(format!(
        "Main: deepest level reached: {}",
        deepest.load(Ordering::SeqCst)
    ));
    ctx.log(format!("Main: threads stuck: {}", alive.len()));
    ctx.log(format!("Main: threads ended by an exception: {failed}"));
    Ok(())
}

/// The deepest level whose acquire succeeded: the peak of the depth gauge.
fn deepest_level(record: &Record) -> f64 {
    record
        .counter("level")
        .map_or(0.0, |c| c.series.max.max(0.0))
}

fn metrics(record: &Record) -> Vec<Metric> {
    vec![
        Metric {
            name: "deepest_level",
            label: t!("deepest level reached", "nivel más profundo alcanzado"),
            value: deepest_level(record),
        },
        counter_metric(record, "level", t!("level now", "nivel actual")),
        counter_metric(
            record,
            "threads_stuck",
            t!(
                "threads stuck when Main gave up",
                "hilos atascados cuando Main se rindió"
            ),
        ),
        Metric {
            name: "failed_threads",
            label: t!(
                "threads ended by an exception",
                "hilos terminados por una excepción"
            ),
            value: failed_threads(record) as f64,
        },
        deadlocks_metric(record),
    ]
}

fn python(knobs: &Knobs) -> String {
    let reentrant = knobs.get("rlock") >= 0.5;
    let intruder = reentrant && knobs.get("intruder") >= 0.5;
    let depth = knobs.get("depth").round() as i64;
    let hold = py_num(knobs.get("hold"));
    let give_up = py_num(knobs.get("give_up"));
    let make_lock = if reentrant {
        "lock = threading.RLock()  # re-entrant: its owner may take it again"
    } else {
        "lock = threading.Lock()   # not re-entrant: try threading.RLock()"
    };
    let with_comment = if reentrant {
        "# the owner takes it again: the count goes up"
    } else {
        "# level 2 waits here for level 1: forever"
    };
    let intruder_def = if intruder {
        r#"

def intruder():
    """Only the owner may release an RLock."""
    time.sleep(HOLD / 2)  # Worker holds the lock by now
    logging.info("Intruder: calling lock.release() on a lock it does not hold")
    lock.release()  # RuntimeError: cannot release un-acquired lock"#
    } else {
        ""
    };
    let intruder_start = if intruder {
        r#"
    threads.append(threading.Thread(target=intruder, name="Intruder", daemon=True))"#
    } else {
        ""
    };
    format!(
        r#"import logging
import threading
import time

DEPTH = {depth:<8}# how deep the recursion goes
HOLD = {hold:<9}# seconds at each level, holding the lock
GIVE_UP = {give_up:<6}# seconds Main waits before it calls a thread stuck

{make_lock}
deepest = 0    # the deepest level that got the lock
failed = []    # threads ended by an exception nobody caught

def descend(level):
    """Take the lock at every level: a function that needs the lock,
    called by code that already holds it."""
    global deepest
    logging.info("Worker: level %d: acquiring the lock", level)
    with lock:  {with_comment}
        deepest = level
        logging.info("Worker: level %d: got the lock", level)
        time.sleep(HOLD)
        if level < DEPTH:
            descend(level + 1)
    logging.info("Worker: level %d: released the lock", level){intruder_def}

def note_failure(args):
    """threading calls this for an exception nobody caught in a thread."""
    failed.append(args.thread.name)
    threading.__excepthook__(args)  # print the traceback as usual

if __name__ == "__main__":
    logging.basicConfig(format="%(asctime)s: %(message)s",
                        level=logging.INFO, datefmt="%H:%M:%S")
    threading.excepthook = note_failure
    # Daemons: a thread stuck for good must not keep the program alive.
    threads = [threading.Thread(target=descend, args=(1,), name="Worker",
                                daemon=True)]{intruder_start}
    for t in threads:
        t.start()
    deadline = time.monotonic() + GIVE_UP
    for t in threads:  # a plain join() would wait forever too
        t.join(timeout=max(0, deadline - time.monotonic()))
    stuck = [t for t in threads if t.is_alive()]
    for t in stuck:
        logging.info("Main: %s has not finished after %s s: stuck",
                     t.name, GIVE_UP)
    logging.info("Main: deepest level reached: %d", deepest)
    logging.info("Main: threads stuck: %d", len(stuck))
    logging.info("Main: threads ended by an exception: %d", len(failed))
"#
    )
}
