//! `threading.Barrier(parties, action, timeout)`: threads arrive at
//! spread-out times, pile up, and leave together, generation after
//! generation; the action runs once per generation in the last to arrive;
//! an abort() or a timeout breaks it and every waiter gets
//! BrokenBarrierError; reset() makes it usable again (seed 001).

use std::sync::Arc;

use super::{
    Agree, Extra, Group, Metric, Outcome, PlotSpec, Scenario, SeriesRef, Stepping, counter_metric,
    py_num,
};
use crate::lab::record::Record;
use crate::lab::sync::{Barrier, BarrierAction, Counter};
use crate::lab::text::Text;
use crate::lab::{Ctx, KnobSpec, Knobs, SyncError, SyncResult, Thread};
use crate::t;

const AT_START: Text = t!(
    "applies at the next Start: the barrier and its threads are made when it starts",
    "se aplica al próximo Inicio: la barrera y sus hilos se crean al empezar"
);

const KNOBS: &[KnobSpec] = &[
    KnobSpec::int(
        "parties",
        t!("Parties (threads)", "Partes (hilos)"),
        "threads",
        2,
        12,
        4,
    )
    .not_live(AT_START),
    KnobSpec::seconds(
        "spread",
        t!("Spread of arrival times", "Dispersión de las llegadas"),
        0.01,
        5.0,
        1.0,
    ),
    KnobSpec::int(
        "generations",
        t!("Generations", "Generaciones"),
        "generations",
        1,
        20,
        3,
    )
    .not_live(AT_START),
    KnobSpec::seconds(
        "timeout",
        t!("Barrier timeout", "Tiempo límite de la barrera"),
        0.05,
        30.0,
        3.0,
    )
    .not_live(AT_START),
    KnobSpec::flag(
        "abort",
        t!(
            "Party-1 calls abort() in the last generation",
            "Party-1 llama a abort() en la última generación"
        ),
        false,
    ),
];

pub static SCENARIO: Scenario = Scenario {
    id: "barrier",
    group: Group::Synchronisation,
    title: t!("Barrier: wait for everyone", "Barrier: esperar a todos"),
    lesson: t!(
        "A Barrier(n) holds each thread that calls wait() until n have arrived, then lets them all go at once, generation after generation; a timeout or an abort() breaks it, and every waiter gets BrokenBarrierError.",
        "Una Barrier(n) retiene a cada hilo que llama a wait() hasta que han llegado n, y entonces los suelta a todos a la vez, generación tras generación; un tiempo límite o un abort() la rompe, y cada hilo que espera recibe BrokenBarrierError."
    ),
    explanation: t!(
        "Each party does some work, of a different length each generation, then calls barrier.wait(). Early arrivals wait (yellow lanes) while the 'arrived' line climbs towards the parties line; when the last one arrives, all leave together and the count drops to 0: one generation. The barrier is reused for the next.\n\n\
The action given to Barrier(parties, action) runs once per generation, in the thread that arrived last, before anyone is released: the log says which thread ran it. Leaving together does not mean running together: the released threads still get the CPU one after another.\n\n\
Tick the abort: in the last generation Party-1 calls barrier.abort() instead of wait(). Every thread waiting gets BrokenBarrierError, and so does every later wait(): their lanes end failed. A timeout does the same: drag the spread past the barrier's timeout and the first to arrive gives up, breaking it for all. A broken barrier stays broken until reset(): Main then resets it and runs one more generation, with everyone arriving at once.",
        "Cada parte hace un trabajo, de distinta duración en cada generación, y luego llama a barrier.wait(). Los que llegan antes esperan (carriles amarillos) mientras la línea de 'llegados' sube hacia la de partes; cuando llega el último, salen todos juntos y la cuenta vuelve a 0: una generación. La barrera se reutiliza para la siguiente.\n\n\
La acción pasada a Barrier(parties, action) se ejecuta una vez por generación, en el hilo que llegó el último, antes de soltar a nadie: el registro dice qué hilo la ejecutó. Salir juntos no es correr juntos: los hilos liberados siguen obteniendo la CPU uno tras otro.\n\n\
Marca el abort: en la última generación Party-1 llama a barrier.abort() en vez de a wait(). Cada hilo que espera recibe BrokenBarrierError, y también cada wait() posterior: sus carriles terminan fallidos. Un tiempo límite hace lo mismo: sube la dispersión por encima del tiempo límite de la barrera y el primero en llegar se rinde y la rompe para todos. Una barrera rota sigue rota hasta reset(): Main entonces la reinicia y hace una generación más, con todos llegando a la vez."
    ),
    knobs: KNOBS,
    body,
    metrics,
    python,
    plots: &[
        PlotSpec {
            title: t!("At the barrier", "En la barrera"),
            series: &[
                (
                    SeriesRef::Level("barrier"),
                    t!("arrived (n_waiting)", "llegados (n_waiting)"),
                ),
                (SeriesRef::Capacity("barrier"), t!("parties", "partes")),
            ],
        },
        PlotSpec {
            title: t!("Generations and waits", "Generaciones y esperas"),
            series: &[
                (
                    SeriesRef::Counter("generations"),
                    t!("generations (actions run)", "generaciones (acciones)"),
                ),
                (
                    SeriesRef::Counter("passed"),
                    t!("waits passed", "esperas superadas"),
                ),
                (
                    SeriesRef::Counter("broken"),
                    t!("BrokenBarrierError", "BrokenBarrierError"),
                ),
            ],
        },
    ],
    extra: Extra::None,
    outcomes: &[
        Outcome {
            metric: "generations",
            label: t!("generations completed", "generaciones completadas"),
            printed_after: "generations completed:",
            agree: Agree::Exactly,
        },
        Outcome {
            metric: "passed",
            label: t!("waits passed", "esperas superadas"),
            printed_after: "waits passed:",
            agree: Agree::Exactly,
        },
        Outcome {
            metric: "broken",
            label: t!("BrokenBarrierError raised", "BrokenBarrierError lanzados"),
            printed_after: "BrokenBarrierError raised:",
            agree: Agree::Exactly,
        },
    ],
    check_knobs: &[
        ("parties", 3.0),
        ("spread", 0.3),
        ("generations", 2.0),
        ("timeout", 2.0),
    ],
    stepping: Stepping::Yes(super::Invariant {
        holds: t!(
            "the parties leave together: every generation that completes lets all of them through, and no party passes alone",
            "las partes salen juntas: cada generación que se completa deja pasar a todas, y ninguna pasa sola"
        ),
        broken: leave_together,
    }),
};

/// What every party shares.
#[derive(Clone)]
struct Crowd {
    barrier: Barrier,
    passed: Counter,
    broken: Counter,
    parties: usize,
}

/// How long party `i` (1-based) works before it arrives in generation `g`
/// (0-based): spread out evenly, and rotated each generation so a different
/// thread arrives last.
fn work(spread: f64, parties: usize, i: usize, g: usize) -> f64 {
    spread * ((i - 1 + g) % parties) as f64 / (parties - 1) as f64
}

/// One party: `generations` rounds of work then wait. `may_abort`: abort
/// instead of waiting in the last round. `spread` None reads the live knob.
fn party(
    c: &Ctx,
    crowd: &Crowd,
    i: usize,
    generations: usize,
    spread: Option<f64>,
    may_abort: bool,
) -> SyncResult<()> {
    for g in 0..generations {
        let spread = spread.unwrap_or_else(|| c.knob("spread"));
        c.sleep(work(spread, crowd.parties, i, g))?;
        if may_abort && g + 1 == generations && c.knob_bool("abort") {
            c.log(format!("{}: giving up: barrier.abort()", c.name()));
            crowd.barrier.abort();
            return Ok(());
        }
        c.log(format!("{}: arrived, waiting for the others", c.name()));
        match crowd.barrier.wait(None) {
            Ok(index) => {
                crowd.passed.add(1);
                c.log(format!(
                    "{}: passed the barrier (arrived {} of {})",
                    c.name(),
                    index + 1,
                    crowd.parties
                ));
            }
            Err(SyncError::BrokenBarrier) => {
                // Counted, then raised: the thread dies of it, as in Python.
                crowd.broken.add(1);
                return Err(SyncError::BrokenBarrier);
            }
            Err(e) => return Err(e),
        }
    }
    Ok(())
}

fn body(ctx: &Ctx) -> SyncResult<()> {
    let lab = ctx.lab();
    let parties = ctx.knob_usize("parties").max(2);
    let generations = ctx.knob_usize("generations");
    let finished = lab.counter("generations");
    let action: BarrierAction = {
        let (lab, finished) = (lab.clone(), finished.clone());
        Arc::new(move || {
            let n = finished.add(1);
            let who = crate::lab::worker::current_thread()
                .map_or_else(|| "?".to_string(), |t| t.name().to_string());
            lab.log(format!("{who} runs the action: generation {n} complete"));
            Ok(())
        })
    };
    let barrier = lab.barrier_with("barrier", parties, Some(action), Some(ctx.knob("timeout")))?;
    let crowd = Crowd {
        barrier,
        passed: lab.counter("passed"),
        broken: lab.counter("broken"),
        parties,
    };
    ctx.log(format!(
        "Main: {parties} parties, {generations} generations"
    ));
    let start_all = |role: &str, generations: usize, spread: Option<f64>, may_abort: bool| {
        let threads: Vec<Thread> = (1..=parties)
            .map(|i| {
                let crowd = crowd.clone();
                ctx.thread(&format!("{role}-{i}"), false, move |c| {
                    party(c, &crowd, i, generations, spread, may_abort && i == 1)
                })
            })
            .collect();
        for t in &threads {
            t.start()?;
        }
        for t in &threads {
            t.join(None)?;
        }
        SyncResult::Ok(())
    };
    start_all("Party", generations, None, true)?;
    if crowd.barrier.broken() {
        ctx.log("Main: the barrier is broken: reset() and one more generation, all at once");
        crowd.barrier.reset();
        start_all("Retry", 1, Some(0.0), false)?;
    }
    ctx.log(format!("Main: generations completed: {}", finished.get()));
    ctx.log(format!("Main: waits passed: {}", crowd.passed.get()));
    ctx.log(format!(
        "Main: BrokenBarrierError raised: {}",
        crowd.broken.get()
    ));
    Ok(())
}

/// The invariant "Break it" tries to break: passes come in whole generations.
fn leave_together(record: &Record, knobs: &Knobs) -> Option<String> {
    let parties = knobs.get("parties").round().max(2.0) as i64;
    let passed = record.counter_value("passed").unwrap_or(0);
    let generations = record.counter_value("generations").unwrap_or(0);
    (passed != parties * generations)
        .then(|| format!("{passed} passes for {generations} generation(s) of {parties} parties"))
}

fn metrics(record: &Record) -> Vec<Metric> {
    vec![
        counter_metric(
            record,
            "generations",
            t!("generations completed", "generaciones completadas"),
        ),
        counter_metric(record, "passed", t!("waits passed", "esperas superadas")),
        counter_metric(
            record,
            "broken",
            t!("BrokenBarrierError raised", "BrokenBarrierError lanzados"),
        ),
        Metric {
            name: "most_waiting",
            label: t!("most waiting at once", "máximo esperando a la vez"),
            value: record
                .resource_by_name("barrier")
                .filter(|b| !b.level_series.is_empty())
                .map_or(0.0, |b| b.level_series.max),
        },
    ]
}

fn python(knobs: &Knobs) -> String {
    let n = |k: &str| knobs.get(k).round() as i64;
    let abort = if knobs.get("abort") >= 0.5 {
        "True"
    } else {
        "False"
    };
    format!(
        r#"import logging
import threading
import time

PARTIES = {parties}
GENERATIONS = {generations}
SPREAD = {spread}  # the last one arrives this long after the first
TIMEOUT = {timeout}  # a wait gives up, and breaks the barrier, after this
ABORT = {abort}  # Party-1 calls abort() in the last generation

stats_lock = threading.Lock()
finished = 0       # generations completed (actions run)
passed = 0         # waits that returned
broken = 0         # waits that raised BrokenBarrierError

def all_arrived():
    """The action: run once per generation, by the last thread to arrive,
    before any thread is released."""
    global finished
    finished += 1
    logging.info("%s runs the action: generation %d complete",
                 threading.current_thread().name, finished)

barrier = threading.Barrier(PARTIES, action=all_arrived, timeout=TIMEOUT)

def work(i, generation, spread):
    """Different each generation, so a different thread arrives last."""
    return spread * ((i - 1 + generation) % PARTIES) / (PARTIES - 1)

def party(i, generations, spread, may_abort):
    global passed, broken
    name = threading.current_thread().name
    for generation in range(generations):
        time.sleep(work(i, generation, spread))
        if may_abort and ABORT and generation == generations - 1:
            logging.info("%s: giving up: barrier.abort()", name)
            barrier.abort()              # every waiter gets BrokenBarrierError
            return
        logging.info("%s: arrived, waiting for the others", name)
        try:
            index = barrier.wait()
        except threading.BrokenBarrierError:
            with stats_lock:
                broken += 1
            raise                        # and the thread dies of it
        with stats_lock:
            passed += 1
        logging.info("%s: passed the barrier (arrived %d of %d)",
                     name, index + 1, PARTIES)

def run(role, generations, spread, may_abort):
    threads = [threading.Thread(target=party, name=f"{{role}}-{{i}}",
                                args=(i, generations, spread, may_abort and i == 1))
               for i in range(1, PARTIES + 1)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

if __name__ == "__main__":
    logging.basicConfig(format="%(asctime)s: %(message)s",
                        level=logging.INFO, datefmt="%H:%M:%S")
    logging.info("Main: %d parties, %d generations", PARTIES, GENERATIONS)
    run("Party", GENERATIONS, SPREAD, may_abort=True)
    if barrier.broken:
        logging.info("Main: the barrier is broken: reset() and one more generation, all at once")
        barrier.reset()
        run("Retry", 1, 0, may_abort=False)
    logging.info("Main: generations completed: %d", finished)
    logging.info("Main: waits passed: %d", passed)
    logging.info("Main: BrokenBarrierError raised: %d", broken)
"#,
        parties = n("parties"),
        generations = n("generations"),
        spread = py_num(knobs.get("spread")),
        timeout = py_num(knobs.get("timeout")),
    )
}
