//! The race condition: read, pause, write loses updates; a Lock around the
//! read–modify–write makes it correct and serialises it (seed 001's FakeDatabase).

use super::{Stepping, ms_counter_seconds, to_ms};
use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};

use super::{
    Agree, Extra, Group, JITTER, Metric, Outcome, PlotSpec, Scenario, SeriesRef, counter_metric,
    py_num,
};
use crate::lab::record::Record;
use crate::lab::{Ctx, KnobSpec, Knobs, OpKind, SyncResult, Thread};
use crate::t;

const NOT_LIVE: crate::lab::text::Text = t!(
    "applies at the next Start: the threads are created when it starts",
    "se aplica al próximo Inicio: los hilos se crean al empezar"
);

const KNOBS: &[KnobSpec] = &[
    KnobSpec::int("threads", t!("Threads", "Hilos"), "threads", 1, 64, 2).not_live(NOT_LIVE),
    KnobSpec::int(
        "updates",
        t!("Updates per thread", "Actualizaciones por hilo"),
        "updates",
        1,
        100,
        1,
    )
    .not_live(NOT_LIVE),
    KnobSpec::seconds(
        "pause",
        t!(
            "Pause between read and write",
            "Pausa entre leer y escribir"
        ),
        0.001,
        2.0,
        0.1,
    ),
    KnobSpec::flag(
        "lock",
        t!(
            "Protect the update with a Lock",
            "Proteger la actualización con un Lock"
        ),
        false,
    ),
];

pub static SCENARIO: Scenario = Scenario {
    id: "race-condition",
    group: Group::Synchronisation,
    title: t!("Race condition", "Condición de carrera"),
    lesson: t!(
        "Reading a shared value, pausing, and writing it back loses the other threads' updates; a Lock around the whole read–modify–write fixes it, at the price of running one at a time.",
        "Leer un valor compartido, hacer una pausa y volver a escribirlo pierde las actualizaciones de los otros hilos; un Lock alrededor de leer–modificar–escribir lo arregla, a cambio de ir de uno en uno."
    ),
    explanation: t!(
        "Each thread runs FakeDatabase.update(): it copies database.value into local_copy, adds one, sleeps (pretending to work), and writes local_copy back.\n\n\
Without the lock, every thread reads the value before any of them writes: they all read the same number, and each write overwrites the others. With 2 threads and 1 update each you expect 2 and get 1, exactly as CPython prints for the tutorial's program. The 'lost updates' line counts the difference.\n\n\
Turn the lock on and run again: each thread must hold database._lock for the whole update, so the others turn red (blocked on the lock) and wait their turn. The total is always right, and the run takes threads × updates × pause instead of about updates × pause.",
        "Cada hilo ejecuta FakeDatabase.update(): copia database.value en local_copy, le suma uno, duerme (como si trabajara) y escribe local_copy de vuelta.\n\n\
Sin el lock, todos los hilos leen el valor antes de que ninguno escriba: leen el mismo número y cada escritura pisa las otras. Con 2 hilos y 1 actualización cada uno esperas 2 y obtienes 1, igual que imprime CPython con el programa del tutorial. La línea 'actualizaciones perdidas' cuenta la diferencia.\n\n\
Activa el lock y vuelve a empezar: cada hilo debe tener database._lock durante toda la actualización, así que los demás se ponen en rojo (bloqueados en el lock) y esperan su turno. El total siempre es correcto, y la ejecución tarda hilos × actualizaciones × pausa en vez de unas actualizaciones × pausa."
    ),
    knobs: KNOBS,
    body,
    metrics,
    python,
    plots: &[
        PlotSpec {
            title: t!("Expected vs actual", "Esperado frente a real"),
            series: &[
                (
                    SeriesRef::Counter("expected"),
                    t!(
                        "expected (updates done)",
                        "esperado (actualizaciones hechas)"
                    ),
                ),
                (
                    SeriesRef::Counter("actual"),
                    t!("actual (database.value)", "real (database.value)"),
                ),
                (
                    SeriesRef::Counter("lost_updates"),
                    t!("lost updates", "actualizaciones perdidas"),
                ),
            ],
        },
        PlotSpec {
            title: t!("The lock", "El lock"),
            series: &[
                (SeriesRef::Level("database._lock"), t!("held", "tomado")),
                (
                    SeriesRef::Waiters("database._lock"),
                    t!("threads waiting", "hilos esperando"),
                ),
            ],
        },
    ],
    extra: Extra::None,
    outcomes: &[
        Outcome {
            metric: "actual",
            label: t!("ending value", "valor final"),
            printed_after: "Ending value is",
            agree: Agree::Exactly,
        },
        Outcome {
            metric: "lost_updates",
            label: t!("updates lost", "actualizaciones perdidas"),
            printed_after: "updates lost:",
            agree: Agree::Exactly,
        },
        Outcome {
            metric: "update_seconds",
            label: t!(
                "time for all updates (s)",
                "tiempo de todas las actualizaciones (s)"
            ),
            printed_after: "the updates took",
            agree: Agree::Roughly {
                rel: 0.25,
                abs: 0.05,
                why: JITTER,
            },
        },
    ],
    check_knobs: &[],
    stepping: Stepping::Yes(super::Invariant {
        holds: t!("no update is lost", "no se pierde ninguna actualización"),
        broken: updates_lost,
    }),
};

fn body(ctx: &Ctx) -> SyncResult<()> {
    let lab = ctx.lab();
    // FakeDatabase.value: a plain shared integer. Reads and writes are separate
    // steps, as in Python; nothing makes the pair atomic but the lock.
    let value = Arc::new(AtomicI64::new(0));
    let lock = lab.lock("database._lock");
    let expected = lab.counter("expected");
    let actual = lab.counter("actual");
    let lost = lab.counter("lost_updates");
    let threads = ctx.knob_usize("threads");
    let updates = ctx.knob_usize("updates");
    ctx.log(format!(
        "Testing update. Starting value is {}.",
        value.load(Ordering::SeqCst)
    ));
    let started = lab.now();

    // Create every thread first, then start them together, so that thread
    // start-up (tens of microseconds each) never decides the outcome.
    let workers: Vec<Thread> = (0..threads)
        .map(|index| {
            let (value, lock, expected, actual, lost) = (
                value.clone(),
                lock.clone(),
                expected.clone(),
                actual.clone(),
                lost.clone(),
            );
            ctx.thread(&format!("Thread-{index}"), false, move |c| {
                for _ in 0..updates {
                    c.log(format!("Thread {index}: starting update"));
                    let guard = if c.knob_bool("lock") {
                        Some(lock.hold()?)
                    } else {
                        None
                    };
                    // Step mode shows the read and the write as two steps.
                    c.step(OpKind::Read, "local_copy = self.value")?;
                    let mut local_copy = value.load(Ordering::SeqCst);
                    local_copy += 1;
                    c.sleep(c.knob("pause"))?;
                    c.step(OpKind::Write, "self.value = local_copy")?;
                    value.store(local_copy, Ordering::SeqCst);
                    drop(guard);
                    let done = expected.add(1);
                    let now = value.load(Ordering::SeqCst);
                    actual.set(now);
                    lost.set(done - now);
                    c.log(format!("Thread {index}: finishing update"));
                }
                Ok(())
            })
        })
        .collect();
    for w in &workers {
        w.start()?;
    }
    for w in &workers {
        w.join(None)?;
    }
    let final_value = value.load(Ordering::SeqCst);
    let total = (threads * updates) as i64;
    actual.set(final_value);
    expected.set(total);
    lost.set(total - final_value);
    let elapsed = lab.now().duration_since(started).as_secs_f64() * lab.speed();
    ctx.log(format!("Testing update. Ending value is {final_value}."));
    ctx.log(format!(
        "Main: updates lost: {} of {total}",
        total - final_value
    ));
    ctx.log(format!("Main: the updates took {elapsed:.3} s"));
    let seconds = lab.counter("update_ms");
    seconds.set(to_ms(elapsed));
    Ok(())
}

/// The invariant "Break it" tries to break: every update lands.
fn updates_lost(record: &Record, _: &Knobs) -> Option<String> {
    let lost = record.counter_value("lost_updates").unwrap_or(0);
    (lost > 0).then(|| {
        format!(
            "{lost} update(s) lost: database.value ended at {} of {}",
            record.counter_value("actual").unwrap_or(0),
            record.counter_value("expected").unwrap_or(0)
        )
    })
}

fn metrics(record: &Record) -> Vec<Metric> {
    vec![
        counter_metric(record, "expected", t!("expected", "esperado")),
        counter_metric(record, "actual", t!("actual", "real")),
        counter_metric(
            record,
            "lost_updates",
            t!("lost updates", "actualizaciones perdidas"),
        ),
        Metric {
            name: "update_seconds",
            label: t!(
                "time for all updates (s)",
                "tiempo de todas las actualizaciones (s)"
            ),
            value: ms_counter_seconds(record, "update_ms"),
        },
    ]
}

fn python(knobs: &Knobs) -> String {
    let threads = knobs.get("threads").round() as i64;
    let updates = knobs.get("updates").round() as i64;
    let pause = py_num(knobs.get("pause"));
    let locked = knobs.get("lock") >= 0.5;
    let (init_lock, update_body) = if locked {
        (
            "\n        self._lock = threading.Lock()",
            format!(
                r#"        logging.info("Thread %s: starting update", name)
        with self._lock:                 # one thread at a time
            local_copy = self.value
            local_copy += 1
            time.sleep({pause})
            self.value = local_copy
        logging.info("Thread %s: finishing update", name)"#
            ),
        )
    } else {
        (
            "",
            format!(
                r#"        logging.info("Thread %s: starting update", name)
        local_copy = self.value          # read
        local_copy += 1                  # modify
        time.sleep({pause})              # another thread runs here
        self.value = local_copy          # write: may overwrite theirs
        logging.info("Thread %s: finishing update", name)"#
            ),
        )
    };
    format!(
        r#"import concurrent.futures
import logging
import threading
import time

class FakeDatabase:
    def __init__(self):
        self.value = 0{init_lock}

    def update(self, name):
        for _ in range({updates}):
    {update_body}

if __name__ == "__main__":
    logging.basicConfig(format="%(asctime)s: %(message)s",
                        level=logging.INFO, datefmt="%H:%M:%S")
    database = FakeDatabase()
    logging.info("Testing update. Starting value is %d.", database.value)
    started = time.perf_counter()
    with concurrent.futures.ThreadPoolExecutor(max_workers={threads}) as executor:
        for index in range({threads}):
            executor.submit(database.update, index)
    took = time.perf_counter() - started
    logging.info("Testing update. Ending value is %d.", database.value)
    expected = {expected}               # {threads} threads x {updates} updates
    logging.info("Main: updates lost: %d of %d", expected - database.value, expected)
    logging.info("Main: the updates took %.3f s", took)
"#,
        update_body = update_body.replace('\n', "\n    "),
        expected = threads * updates,
    )
}
