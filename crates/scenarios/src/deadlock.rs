//! Deadlock: two threads take two locks in opposite order and wait for each
//! other forever; the fixes are one global lock order, or `acquire(timeout=…)`
//! with a back-off and a retry (seed 001).

use super::{
    Agree, Dice, Extra, GIVE_UP_NOT_LIVE, Group, Metric, Outcome, PlotSpec, Scenario, SeriesRef,
    Stepping, counter_metric, deadlocks_metric, join_or_give_up, py_num,
};
use crate::lab::knobs::Choice;
use crate::lab::record::Record;
use crate::lab::sync::{Counter, Lock};
use crate::lab::{Ctx, KnobSpec, Knobs, SyncResult};
use crate::t;

/// The strategies, by the index the `strategy` knob holds.
pub const NAIVE: usize = 0;
pub const ORDERED: usize = 1;
pub const TIMEOUT: usize = 2;

const STRATEGIES: &[Choice] = &[
    Choice {
        name: "naive",
        label: t!("naive (opposite order)", "ingenua (orden opuesto)"),
    },
    Choice {
        name: "ordered",
        label: t!("one global lock order", "un orden global de locks"),
    },
    Choice {
        name: "timeout",
        label: t!(
            "acquire(timeout) and back off",
            "acquire(timeout) y retroceder"
        ),
    },
];

const KNOBS: &[KnobSpec] = &[
    KnobSpec::seconds(
        "hold",
        t!(
            "Hold the first lock before taking the second",
            "Tener el primer lock antes de tomar el segundo"
        ),
        0.01,
        5.0,
        0.5,
    ),
    KnobSpec::choice("strategy", t!("Strategy", "Estrategia"), STRATEGIES, NAIVE),
    KnobSpec::int(
        "rounds",
        t!("Rounds per thread", "Rondas por hilo"),
        "rounds",
        1,
        100,
        5,
    ),
    KnobSpec::seconds(
        "timeout",
        t!(
            "acquire timeout (timeout strategy)",
            "timeout de acquire (estrategia timeout)"
        ),
        0.01,
        5.0,
        0.3,
    ),
    KnobSpec::seconds(
        "give_up",
        t!(
            "Main stops waiting after (join timeout)",
            "Main deja de esperar tras (timeout de join)"
        ),
        0.5,
        3600.0,
        30.0,
    )
    .not_live(GIVE_UP_NOT_LIVE),
];

pub static SCENARIO: Scenario = Scenario {
    id: "deadlock",
    group: Group::Synchronisation,
    title: t!("Deadlock", "Interbloqueo"),
    lesson: t!(
        "Two threads that take the same two locks in opposite order can each hold one and wait for the other forever; taking locks in one global order, or giving up with a timeout and retrying, prevents it.",
        "Dos hilos que toman los mismos dos locks en orden opuesto pueden quedarse cada uno con uno y esperar el otro para siempre; tomar los locks en un orden global, o rendirse con un timeout y reintentar, lo evita."
    ),
    explanation: t!(
        "Thread-1 needs lock_a and then lock_b; Thread-2 needs lock_b and then lock_a. Each holds its first lock for a while before it reaches for the second.\n\n\
Naive: both take their first lock at about the same time. Then Thread-1 waits for lock_b, which Thread-2 holds, and Thread-2 waits for lock_a, which Thread-1 holds. Neither can go on, so neither will ever release what the other needs. Both lanes turn red and stay red. The wait-for graph above the timeline draws it: an arrow from each thread to the lock it waits for, from each lock to the thread that holds it; the closed loop is the deadlock, drawn in red, and the banner names it. Nothing inside the program can undo it: moving the strategy now changes only rounds that have not started, and these threads never finish theirs. Main stops waiting after its join timeout and exits; the threads are daemons and are cut off. Stop and Reset always work.\n\n\
One global order: every thread takes lock_a before lock_b, whatever it needs them for. Whoever gets lock_a first also gets lock_b; the other waits for lock_a without holding anything, so no loop can close. (Python's Lock is not fair: the thread that releases often takes it again at once, so one thread may do all its rounds first.)\n\n\
acquire(timeout) and back off: each thread asks for its second lock with acquire(timeout=…). The loop can still close for a moment (the graph draws it in amber, a wait that gives up by itself), but when the timeout passes acquire returns False: the thread releases its first lock, sleeps a random while and tries the round again. The retries cost time; with no randomness both could retry in step forever (a livelock).",
        "Thread-1 necesita lock_a y luego lock_b; Thread-2 necesita lock_b y luego lock_a. Cada uno tiene su primer lock un rato antes de ir a por el segundo.\n\n\
Ingenua: los dos toman su primer lock casi a la vez. Entonces Thread-1 espera lock_b, que tiene Thread-2, y Thread-2 espera lock_a, que tiene Thread-1. Ninguno puede seguir, así que ninguno soltará nunca lo que el otro necesita. Las dos franjas se ponen rojas y siguen rojas. El grafo de esperas, sobre la línea de tiempo, lo dibuja: una flecha de cada hilo al lock que espera, de cada lock al hilo que lo tiene; el ciclo cerrado es el interbloqueo, en rojo, y el aviso lo nombra. Nada dentro del programa puede deshacerlo: cambiar la estrategia ahora solo afecta a las rondas que no han empezado, y estos hilos nunca acaban la suya. Main deja de esperar tras su timeout de join y termina; los hilos son daemon y se cortan. Detener y Reiniciar siempre funcionan.\n\n\
Un orden global: todo hilo toma lock_a antes que lock_b, sea para lo que sea. Quien consigue lock_a consigue también lock_b; el otro espera lock_a sin tener nada, así que no se puede cerrar ningún ciclo. (El Lock de Python no es justo: el hilo que lo suelta suele volver a tomarlo enseguida, así que un hilo puede hacer todas sus rondas primero.)\n\n\
acquire(timeout) y retroceder: cada hilo pide su segundo lock con acquire(timeout=…). El ciclo aún puede cerrarse un momento (el grafo lo dibuja en ámbar, una espera que se rinde sola), pero al pasar el timeout acquire devuelve False: el hilo suelta su primer lock, duerme un rato al azar y repite la ronda. Los reintentos cuestan tiempo; sin azar los dos podrían reintentar a la vez para siempre (un livelock)."
    ),
    knobs: KNOBS,
    body,
    metrics,
    python,
    plots: &[
        PlotSpec {
            title: t!("Rounds", "Rondas"),
            series: &[
                (
                    SeriesRef::Counter("rounds_done"),
                    t!("rounds completed", "rondas completadas"),
                ),
                (
                    SeriesRef::Counter("retries"),
                    t!("timeouts (retries)", "timeouts (reintentos)"),
                ),
            ],
        },
        PlotSpec {
            title: t!("Threads waiting for a lock", "Hilos esperando un lock"),
            series: &[
                (SeriesRef::Waiters("lock_a"), t!("on lock_a", "en lock_a")),
                (SeriesRef::Waiters("lock_b"), t!("on lock_b", "en lock_b")),
            ],
        },
    ],
    extra: Extra::WaitForGraph,
    outcomes: &[
        Outcome {
            metric: "rounds_done",
            label: t!("rounds completed", "rondas completadas"),
            printed_after: "rounds completed:",
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
    ],
    check_knobs: &[
        ("hold", 0.2),
        ("rounds", 2.0),
        ("timeout", 0.1),
        ("give_up", 2.0),
    ],
    stepping: Stepping::Yes(super::NO_DEADLOCK),
};

/// One thread's work: `rounds` times, take its first lock, hold it a while,
/// take the second, count a round. `mine` is the order it wants them in.
fn worker(
    c: &Ctx,
    index: u64,
    mine: (Lock, Lock),
    rounds_done: &Counter,
    retries: &Counter,
) -> SyncResult<()> {
    let name = c.name().to_string();
    let mut dice = Dice::new(index);
    let mut round = 1;
    while round <= c.knob_usize("rounds") {
        let strategy = c.knob_usize("strategy");
        // One global order: lock_a before lock_b, whatever this thread wants.
        let (first, second) = match strategy {
            ORDERED if mine.0.name() > mine.1.name() => (&mine.1, &mine.0),
            _ => (&mine.0, &mine.1),
        };
        c.log(format!("{name}: acquiring {}", first.name()));
        let held = first.hold()?;
        c.log(format!(
            "{name}: holds {}, acquiring {}",
            first.name(),
            second.name()
        ));
        c.sleep(c.knob("hold"))?; // meanwhile the other thread takes its first lock
        if strategy == TIMEOUT {
            let timeout = c.knob("timeout");
            if !second.acquire_timeout(timeout)? {
                drop(held);
                retries.add(1);
                c.log(format!(
                    "{name}: no {} after {} s: released {}, backing off",
                    second.name(),
                    py_num(timeout),
                    first.name()
                ));
                // random.uniform(0, HOLD): out of step with the other thread.
                c.sleep(c.knob("hold") * f64::from(dice.roll()) / 100.0)?;
                continue;
            }
            rounds_done.add(1);
            c.log(format!("{name}: round {round}: has both locks"));
            second.release()?;
        } else {
            // Naive: waits here forever if the other thread holds it.
            let _both = second.hold()?;
            rounds_done.add(1);
            c.log(format!("{name}: round {round}: has both locks"));
        }
        drop(held);
        round += 1;
    }
    Ok(())
}

fn body(ctx: &Ctx) -> SyncResult<()> {
    let lab = ctx.lab();
    let lock_a = lab.lock("lock_a");
    let lock_b = lab.lock("lock_b");
    let rounds_done = lab.counter("rounds_done");
    let retries = lab.counter("retries");
    let stuck = lab.counter("threads_stuck");
    let strategy = KNOBS[1]
        .choice_at(ctx.knob("strategy"))
        .map_or("?", |c| c.name);
    ctx.log(format!(
        "Main: strategy {strategy}: Thread-1 wants lock_a then lock_b, Thread-2 lock_b then lock_a"
    ));
    let plans = [
        (1, lock_a.clone(), lock_b.clone()),
        (2, lock_b.clone(), lock_a.clone()),
    ];
    // Daemons, as in the program: threads stuck for good must not keep the
    // program from exiting. Made first, then started together.
    let threads: Vec<_> = plans
        .into_iter()
        .map(|(n, first, second)| {
            let (rounds_done, retries) = (rounds_done.clone(), retries.clone());
            ctx.thread(&format!("Thread-{n}"), true, move |c| {
                worker(c, n, (first, second), &rounds_done, &retries)
            })
        })
        .collect();
    for t in &threads {
        t.start()?;
    }
    let alive = join_or_give_up(ctx, &threads, "give_up")?;
    stuck.set(alive.len() as i64);
    if !alive.is_empty() {
        let names: Vec<&str> = alive.iter().map(|t| t.name()).collect();
        ctx.log(format!(
            "Main: gave up after {} s: {} still waiting",
            py_num(ctx.knob("give_up")),
            names.join(" and ")
        ));
    }
    ctx.log(format!("Main: rounds completed: {}", rounds_done.get()));
    ctx.log(format!("Main: threads stuck: {}", alive.len()));
    Ok(())
}

fn metrics(record: &Record) -> Vec<Metric> {
    vec![
        counter_metric(
            record,
            "rounds_done",
            t!("rounds completed", "rondas completadas"),
        ),
        counter_metric(record, "retries", t!("timeouts", "timeouts")),
        counter_metric(
            record,
            "threads_stuck",
            t!(
                "threads stuck when Main gave up",
                "hilos atascados cuando Main se rindió"
            ),
        ),
        deadlocks_metric(record),
    ]
}

fn python(knobs: &Knobs) -> String {
    let strategy = knobs.get("strategy").round() as usize;
    let hold = py_num(knobs.get("hold"));
    let rounds = knobs.get("rounds").round() as i64;
    let timeout = py_num(knobs.get("timeout"));
    let give_up = py_num(knobs.get("give_up"));
    let (imports, constants, worker) = match strategy {
        ORDERED => (
            "",
            String::new(),
            r#"def worker(index, first, second):
    name = threading.current_thread().name
    # One global order: lock_a before lock_b, whatever this thread wants.
    first, second = sorted((first, second))
    for round in range(1, ROUNDS + 1):
        logging.info("%s: acquiring %s", name, first)
        with locks[first]:
            logging.info("%s: holds %s, acquiring %s", name, first, second)
            time.sleep(HOLD)
            with locks[second]:  # its holder needs nothing this thread has
                rounds_done[index] += 1
                logging.info("%s: round %d: has both locks", name, round)"#,
        ),
        TIMEOUT => (
            "import random\n",
            format!("TIMEOUT = {timeout:<6}# seconds to wait for the second lock\n"),
            r#"def worker(index, first, second):
    name = threading.current_thread().name
    round = 1
    while round <= ROUNDS:
        logging.info("%s: acquiring %s", name, first)
        with locks[first]:
            logging.info("%s: holds %s, acquiring %s", name, first, second)
            time.sleep(HOLD)
            got_it = locks[second].acquire(timeout=TIMEOUT)
            if got_it:
                rounds_done[index] += 1
                logging.info("%s: round %d: has both locks", name, round)
                locks[second].release()
        if got_it:
            round += 1
        else:  # let go of the first lock too, and try again a bit later
            logging.info("%s: no %s after %s s: released %s, backing off",
                         name, second, TIMEOUT, first)
            time.sleep(random.uniform(0, HOLD))"#,
        ),
        _ => (
            "",
            String::new(),
            r#"def worker(index, first, second):
    name = threading.current_thread().name
    for round in range(1, ROUNDS + 1):
        logging.info("%s: acquiring %s", name, first)
        with locks[first]:
            logging.info("%s: holds %s, acquiring %s", name, first, second)
            time.sleep(HOLD)  # meanwhile the other takes its first lock
            with locks[second]:  # each waits for the other's lock: forever
                rounds_done[index] += 1
                logging.info("%s: round %d: has both locks", name, round)"#,
        ),
    };
    format!(
        r#"import logging
{imports}import threading
import time

HOLD = {hold:<9}# seconds a thread holds its first lock
ROUNDS = {rounds:<7}# rounds per thread
{constants}GIVE_UP = {give_up:<6}# seconds Main waits for the threads

locks = {{"lock_a": threading.Lock(), "lock_b": threading.Lock()}}
rounds_done = [0, 0]  # one slot per thread, so no lock is needed

{worker}

if __name__ == "__main__":
    logging.basicConfig(format="%(asctime)s: %(message)s",
                        level=logging.INFO, datefmt="%H:%M:%S")
    # Opposite orders. Daemons: threads stuck for good must not keep the
    # program alive.
    threads = [
        threading.Thread(target=worker, args=(0, "lock_a", "lock_b"),
                         name="Thread-1", daemon=True),
        threading.Thread(target=worker, args=(1, "lock_b", "lock_a"),
                         name="Thread-2", daemon=True),
    ]
    for t in threads:
        t.start()
    deadline = time.monotonic() + GIVE_UP
    for t in threads:  # a plain join() would wait forever too
        t.join(timeout=max(0, deadline - time.monotonic()))
    stuck = [t.name for t in threads if t.is_alive()]
    if stuck:
        logging.info("Main: gave up after %s s: %s still waiting",
                     GIVE_UP, " and ".join(stuck))
    logging.info("Main: rounds completed: %d", sum(rounds_done))
    logging.info("Main: threads stuck: %d", len(stuck))
"#
    )
}
