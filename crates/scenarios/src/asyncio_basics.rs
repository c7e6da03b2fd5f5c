//! asyncio's basics on one thread (seed 004): awaiting coroutines one after
//! another takes the sum of their delays, tasks made with create_task or
//! gather take the longest; gather keeps the order of its arguments;
//! wait_for gives up at its timeout and cancels what it waited for;
//! wait(FIRST_COMPLETED) leaves the others pending; cancel() delivers
//! CancelledError at the await.

use super::{Stepping, ms_counter_seconds, to_ms};
use std::time::Instant;

use super::{
    Agree, Extra, Group, JITTER, Metric, Outcome, PlotSpec, Scenario, SeriesRef, counter_metric,
    py_num,
};
use crate::lab::aio::{self, EVENT_LOOP, Exc, PyResult, ReturnWhen, TASKS_ALIVE};
use crate::lab::record::Record;
use crate::lab::sync::Counter;
use crate::lab::{Choice, Ctx, KnobSpec, Knobs, SyncResult};
use crate::t;

/// What the strategy knob picks, by its value.
const STRATEGIES: &[Choice] = &[
    Choice {
        name: "sequential",
        label: t!("await one after another", "await una tras otra"),
    },
    Choice {
        name: "create_task",
        label: t!(
            "create_task, then await each",
            "create_task y luego await de cada una"
        ),
    },
    Choice {
        name: "gather",
        label: t!("asyncio.gather", "asyncio.gather"),
    },
    Choice {
        name: "factorial",
        label: t!("factorials with gather", "factoriales con gather"),
    },
    Choice {
        name: "wait_for",
        label: t!("wait_for with a timeout", "wait_for con tiempo límite"),
    },
    Choice {
        name: "first_completed",
        label: t!("wait(FIRST_COMPLETED)", "wait(FIRST_COMPLETED)"),
    },
    Choice {
        name: "cancel",
        label: t!(
            "cancel() at the timeout",
            "cancel() al llegar el tiempo límite"
        ),
    },
];

const SEQUENTIAL: usize = 0;
const CREATE_TASK: usize = 1;
const GATHER: usize = 2;
const FACTORIAL: usize = 3;
const WAIT_FOR: usize = 4;
const FIRST_COMPLETED: usize = 5;
const CANCEL: usize = 6;

/// What the coroutines say, in order: task i says the i-th word.
const WORDS: [&str; 8] = [
    "hello", "world", "from", "asyncio", "tasks", "on", "one", "thread",
];

const KNOBS: &[KnobSpec] = &[
    KnobSpec::choice(
        "strategy",
        t!(
            "Strategy (from the next round)",
            "Estrategia (desde la próxima ronda)"
        ),
        STRATEGIES,
        0,
    ),
    KnobSpec::int(
        "tasks",
        t!(
            "Coroutines (from the next round)",
            "Corrutinas (desde la próxima ronda)"
        ),
        "coroutines",
        1,
        8,
        3,
    ),
    KnobSpec::seconds(
        "delay",
        t!(
            "Delay step: the coroutines sleep 2, 1, 3, 4… × this",
            "Paso de espera: las corrutinas duermen 2, 1, 3, 4… × esto"
        ),
        0.05,
        5.0,
        1.0,
    ),
    KnobSpec::seconds(
        "timeout",
        t!(
            "Timeout (wait_for, cancel)",
            "Tiempo límite (wait_for, cancel)"
        ),
        0.05,
        20.0,
        1.5,
    ),
    KnobSpec::int("rounds", t!("Rounds", "Rondas"), "rounds", 1, 50, 1),
];

pub static SCENARIO: Scenario = Scenario {
    id: "asyncio-basics",
    group: Group::Async,
    title: t!(
        "asyncio: tasks on one thread",
        "asyncio: tareas en un solo hilo"
    ),
    lesson: t!(
        "One thread runs every task, switching only at await: awaiting coroutines one after another takes the sum of their delays, running them as tasks (create_task, gather) takes the longest; wait_for gives up at its timeout and cancels what it waited for.",
        "Un solo hilo ejecuta todas las tareas y solo cambia de una a otra en los await: esperar corrutinas una tras otra tarda la suma de sus esperas, ejecutarlas como tareas (create_task, gather) tarda la más larga; wait_for se rinde al llegar su tiempo límite y cancela lo que esperaba."
    ),
    explanation: t!(
        "An async def function gives a coroutine; nothing runs until something awaits it or wraps it in a task. The event loop runs on one thread (MainThread here): it keeps a queue of tasks that are ready and runs them one at a time, each until its next await. await asyncio.sleep(d) does not block the thread: the task tells the loop to wake it in d seconds and steps aside. Each task has its own lane (Task-1 is main), grouped under 'Task'; the loop's thread has its own lane too, and it waits only when no task is ready.\n\n\
The coroutines sleep 2, 1 and 3 delay steps (as in seed 004's wait example) and say 'hello', 'world', 'from'. Strategy 0 awaits them one after another: each starts when the previous one ends, so the round takes the sum of the delays (2 + 1 + 3 = 6 s by default), all inside Task-1. Strategy 1 wraps each in a task with create_task first: they all sleep at once, and the round takes the longest delay (3 s). A task made by create_task does not start at once: it waits in the ready queue until the running task reaches an await. Strategy 2 does the same with gather, which also returns the results in the order of its arguments (hello, world, from) although 'world' finishes first. Strategy 3 is the factorial example: three tasks take turns at every await.\n\n\
Strategy 4 gives each coroutine wait_for with the timeout: those longer than it are cancelled when it comes (their lanes end cancelled, their 'cancelled while waiting' line shows the cleanup ran) and wait_for raises TimeoutError. Strategy 5 uses wait(return_when=FIRST_COMPLETED): it returns as soon as one task is done and leaves the others pending; they are still running until the program cancels them. Strategy 6 sleeps the timeout and calls cancel() on the tasks not done: CancelledError is raised inside each, at the await it is waiting in.\n\n\
Move the strategy, the delays or the number of coroutines while rounds repeat: each round reads them when it starts. Compare a round's time with the sum and the longest of the delays.",
        "Una función async def da una corrutina; no se ejecuta nada hasta que algo la espera con await o la envuelve en una tarea. El bucle de eventos corre en un solo hilo (aquí MainThread): guarda una cola de tareas listas y las ejecuta de una en una, cada una hasta su siguiente await. await asyncio.sleep(d) no bloquea el hilo: la tarea le pide al bucle que la despierte en d segundos y se aparta. Cada tarea tiene su carril (Task-1 es main), agrupadas bajo 'Task'; el hilo del bucle también tiene el suyo, y solo espera cuando no hay ninguna tarea lista.\n\n\
Las corrutinas duermen 2, 1 y 3 pasos de espera (como en el ejemplo de wait de la semilla 004) y dicen 'hello', 'world', 'from'. La estrategia 0 las espera una tras otra: cada una empieza cuando acaba la anterior, así que la ronda tarda la suma de las esperas (2 + 1 + 3 = 6 s por defecto), todo dentro de Task-1. La estrategia 1 envuelve antes cada una en una tarea con create_task: duermen todas a la vez y la ronda tarda la espera más larga (3 s). Una tarea creada con create_task no empieza enseguida: espera en la cola de listas hasta que la tarea en marcha llega a un await. La estrategia 2 hace lo mismo con gather, que además devuelve los resultados en el orden de sus argumentos (hello, world, from) aunque 'world' termina primero. La estrategia 3 es el ejemplo del factorial: tres tareas se turnan en cada await.\n\n\
La estrategia 4 pone a cada corrutina un wait_for con el tiempo límite: las que tardan más se cancelan cuando llega (sus carriles terminan cancelados, su línea 'cancelled while waiting' muestra que la limpieza se ejecutó) y wait_for lanza TimeoutError. La estrategia 5 usa wait(return_when=FIRST_COMPLETED): vuelve en cuanto una tarea termina y deja las otras pendientes; siguen en marcha hasta que el programa las cancela. La estrategia 6 duerme el tiempo límite y llama a cancel() en las tareas sin terminar: CancelledError se lanza dentro de cada una, en el await en el que espera.\n\n\
Mueve la estrategia, las esperas o el número de corrutinas mientras se repiten las rondas: cada ronda los lee al empezar. Compara el tiempo de una ronda con la suma y con la más larga de las esperas."
    ),
    knobs: KNOBS,
    body,
    metrics,
    python,
    plots: &[
        PlotSpec {
            title: t!("The event loop", "El bucle de eventos"),
            series: &[
                (
                    SeriesRef::Counter(TASKS_ALIVE),
                    t!("tasks alive", "tareas vivas"),
                ),
                (
                    SeriesRef::Level(EVENT_LOOP),
                    t!("ready queue", "cola de listas"),
                ),
            ],
        },
        PlotSpec {
            title: t!("How the coroutines ended", "Cómo terminaron las corrutinas"),
            series: &[
                (SeriesRef::Counter("finished"), t!("finished", "terminadas")),
                (
                    SeriesRef::Counter("cancelled"),
                    t!("cancelled", "canceladas"),
                ),
                (
                    SeriesRef::Counter("timeouts"),
                    t!("timeouts", "tiempos agotados"),
                ),
            ],
        },
    ],
    extra: Extra::EventLoop { against_n: &[] },
    outcomes: &[
        Outcome {
            metric: "round_seconds",
            label: t!("a round took (s)", "una ronda tardó (s)"),
            printed_after: "took",
            agree: Agree::Roughly {
                rel: 0.1,
                abs: 0.1,
                why: JITTER,
            },
        },
        Outcome {
            metric: "finished",
            label: t!("coroutines finished", "corrutinas terminadas"),
            printed_after: "finished:",
            agree: Agree::Exactly,
        },
        Outcome {
            metric: "cancelled",
            label: t!("coroutines cancelled", "corrutinas canceladas"),
            printed_after: "cancelled:",
            agree: Agree::Exactly,
        },
        Outcome {
            metric: "timeouts",
            label: t!("TimeoutErrors", "TimeoutError lanzados"),
            printed_after: "timeouts:",
            agree: Agree::Exactly,
        },
    ],
    check_knobs: &[("delay", 0.1), ("timeout", 0.15)],
    stepping: Stepping::No(super::NO_STEPPING_ASYNCIO),
};

#[derive(Clone)]
struct Tally {
    finished: Counter,
    cancelled: Counter,
    timeouts: Counter,
}

/// `say_after(delay, what)`: sleep, then say it; a cancellation is counted
/// and re-raised, as a cancelled coroutine must.
async fn say_after(ctx: Ctx, tally: Tally, delay: f64, what: &'static str) -> PyResult<String> {
    if let Err(e) = aio::sleep(delay).await {
        if e.is_cancelled() {
            tally.cancelled.add(1);
            ctx.log(format!("{what}: cancelled while waiting"));
        }
        return Err(e);
    }
    tally.finished.add(1);
    ctx.log(what);
    Ok(what.to_string())
}

/// Seed 004's factorial: a sleep between every multiplication.
async fn factorial(ctx: Ctx, tally: Tally, name: char, number: u64, step: f64) -> PyResult<u64> {
    let mut f = 1u64;
    for i in 2..=number {
        ctx.log(format!("Task {name}: Compute factorial({i})..."));
        aio::sleep(step).await?;
        f *= i;
    }
    ctx.log(format!("Task {name}: factorial({number}) = {f}"));
    tally.finished.add(1);
    Ok(f)
}

/// `wait_for(say_after(...), timeout)`, a TimeoutError counted and turned into None.
async fn with_timeout(
    ctx: Ctx,
    tally: Tally,
    delay: f64,
    what: &'static str,
    timeout: f64,
) -> PyResult<Option<String>> {
    let inner = aio::create_task(say_after(ctx.clone(), tally.clone(), delay, what));
    match aio::wait_for(inner, Some(timeout)).await {
        Ok(w) => Ok(Some(w)),
        Err(Exc::Timeout) => {
            tally.timeouts.add(1);
            ctx.log(format!("{what}: gave up after {} s", py_num(timeout)));
            Ok(None)
        }
        Err(e) => Err(e),
    }
}

/// How Python prints a list of strings (and None).
fn py_list(items: &[Option<String>]) -> String {
    let shown: Vec<String> = items
        .iter()
        .map(|i| i.as_ref().map_or("None".to_string(), |s| format!("'{s}'")))
        .collect();
    format!("[{}]", shown.join(", "))
}

async fn one_round(
    ctx: &Ctx,
    tally: &Tally,
    strategy: usize,
    (step, delays): (f64, &[f64]),
    timeout: f64,
) -> PyResult<()> {
    let (c, t) = (ctx.clone(), tally.clone());
    let say = |i: usize| say_after(c.clone(), t.clone(), delays[i], WORDS[i]);
    let n = delays.len();
    match strategy {
        SEQUENTIAL => {
            for i in 0..n {
                say(i).await?;
            }
        }
        CREATE_TASK => {
            let tasks: Vec<_> = (0..n).map(|i| aio::create_task(say(i))).collect();
            for task in tasks {
                task.await?;
            }
        }
        GATHER => {
            let results = aio::gather((0..n).map(|i| aio::create_task(say(i))).collect()).await?;
            let shown: Vec<Option<String>> = results.into_iter().map(Some).collect();
            ctx.log(format!("results: {}", py_list(&shown)));
        }
        FACTORIAL => {
            let tasks = (0..n)
                .map(|i| {
                    let name = char::from(b'A' + i as u8);
                    aio::create_task(factorial(c.clone(), t.clone(), name, i as u64 + 2, step))
                })
                .collect();
            let results = aio::gather(tasks).await?;
            ctx.log(format!("results: {results:?}"));
        }
        WAIT_FOR => {
            let tasks = (0..n)
                .map(|i| {
                    aio::create_task(with_timeout(
                        c.clone(),
                        t.clone(),
                        delays[i],
                        WORDS[i],
                        timeout,
                    ))
                })
                .collect();
            let results = aio::gather(tasks).await?;
            ctx.log(format!("results: {}", py_list(&results)));
        }
        FIRST_COMPLETED => {
            let tasks: Vec<_> = (0..n).map(|i| aio::create_task(say(i))).collect();
            let (done, pending) = aio::wait(&tasks, None, ReturnWhen::FirstCompleted).await?;
            let names = |set: &[aio::Task<String>]| -> String {
                let names: Vec<Option<String>> = tasks
                    .iter()
                    .filter(|t| set.iter().any(|s| s.id() == t.id()))
                    .map(|t| Some(t.name().to_string()))
                    .collect();
                py_list(&names)
            };
            ctx.log(format!(
                "done: {}; still pending: {}",
                names(&done),
                names(&pending)
            ));
            for task in &pending {
                task.cancel();
            }
            aio::gather_return_exceptions(pending).await?;
        }
        _ => {
            let tasks: Vec<_> = (0..n).map(|i| aio::create_task(say(i))).collect();
            aio::sleep(timeout).await?;
            for task in &tasks {
                if !task.done() {
                    task.cancel();
                }
            }
            let results = aio::gather_return_exceptions(tasks).await?;
            let cancelled = results
                .iter()
                .filter(|r| matches!(r, Err(Exc::Cancelled)))
                .count();
            ctx.log(format!(
                "{cancelled} cancelled, {} finished",
                results.len() - cancelled
            ));
        }
    }
    Ok(())
}

async fn main(ctx: Ctx) -> PyResult<()> {
    let lab = ctx.lab();
    let tally = Tally {
        finished: lab.counter("finished"),
        cancelled: lab.counter("cancelled"),
        timeouts: lab.counter("timeouts"),
    };
    let round_ms = lab.counter("round_ms");
    let (sum_ms, longest_ms) = (
        lab.counter("sum_of_delays_ms"),
        lab.counter("longest_delay_ms"),
    );
    let mut round = 0;
    // Every knob is read as a round starts.
    while round < ctx.knob_usize("rounds") {
        round += 1;
        let strategy = ctx.knob_usize("strategy").min(STRATEGIES.len() - 1);
        let n = ctx.knob_usize("tasks").clamp(1, WORDS.len());
        let step = ctx.knob("delay");
        let delays: Vec<f64> = multiples(n).map(|k| round3(step * k as f64)).collect();
        let timeout = ctx.knob("timeout");
        let sum: f64 = if strategy == FACTORIAL {
            // Each factorial task sleeps a step per multiplication.
            step * (n * (n + 1) / 2) as f64
        } else {
            delays.iter().sum()
        };
        let longest = if strategy == FACTORIAL {
            step * n as f64
        } else {
            delays.iter().copied().fold(0.0, f64::max)
        };
        sum_ms.set(to_ms(sum));
        longest_ms.set(to_ms(longest));
        ctx.log(format!("round {round}: {}", STRATEGIES[strategy].label.en));
        let started = Instant::now();
        one_round(&ctx, &tally, strategy, (step, &delays), timeout).await?;
        let took = started.elapsed().as_secs_f64() * lab.speed();
        round_ms.set(to_ms(took));
        ctx.log(format!(
            "round {round} took {took:.2} s (sum of delays {} s, longest {} s)",
            py_num(round3(sum)),
            py_num(longest)
        ));
    }
    ctx.log(format!("finished: {}", tally.finished.get()));
    ctx.log(format!("cancelled: {}", tally.cancelled.get()));
    ctx.log(format!("timeouts: {}", tally.timeouts.get()));
    Ok(())
}

/// How many delay steps each coroutine sleeps: 2, 1, 3, 4… (seed 004's
/// get(2), get(1), get(3)), so the first one given is not the first done.
fn multiples(n: usize) -> impl Iterator<Item = usize> {
    (1..=n).map(move |i| match (i, n) {
        (1, 2..) => 2,
        (2, _) => 1,
        (i, _) => i,
    })
}

fn round3(v: f64) -> f64 {
    (v * 1000.0).round() / 1000.0
}

fn body(ctx: &Ctx) -> SyncResult<()> {
    aio::run(ctx, main(ctx.clone()))
}

fn metrics(record: &Record) -> Vec<Metric> {
    let ms = |name: &str| ms_counter_seconds(record, name);
    vec![
        Metric {
            name: "round_seconds",
            label: t!("last round took (s)", "la última ronda tardó (s)"),
            value: ms("round_ms"),
        },
        Metric {
            name: "sum_of_delays",
            label: t!("sum of the delays (s)", "suma de las esperas (s)"),
            value: ms("sum_of_delays_ms"),
        },
        Metric {
            name: "longest_delay",
            label: t!("longest delay (s)", "espera más larga (s)"),
            value: ms("longest_delay_ms"),
        },
        counter_metric(record, "finished", t!("finished", "terminadas")),
        counter_metric(record, "cancelled", t!("cancelled", "canceladas")),
        counter_metric(record, "timeouts", t!("timeouts", "tiempos agotados")),
    ]
}

fn python(knobs: &Knobs) -> String {
    let strategy = (knobs.get("strategy").round().max(0.0) as usize).min(STRATEGIES.len() - 1);
    let n = (knobs.get("tasks").round().max(1.0) as usize).min(WORDS.len());
    let step = knobs.get("delay");
    let delays: Vec<String> = multiples(n)
        .map(|k| py_num(round3(step * k as f64)))
        .collect();
    let words: Vec<String> = WORDS[..n].iter().map(|w| format!("\"{w}\"")).collect();
    let say_after = r#"
async def say_after(delay, what):
    global finished, cancelled
    try:
        await asyncio.sleep(delay)       # the other tasks run meanwhile
    except asyncio.CancelledError:
        cancelled += 1
        logging.info("%s: cancelled while waiting", what)
        raise                            # a cancelled coroutine re-raises
    finished += 1
    logging.info(what)
    return what
"#;
    let (helpers, round_body, totals) = match strategy {
        SEQUENTIAL => (
            say_after.to_string(),
            r#"    # One after another: each await ends before the next coroutine starts.
    for delay, what in zip(DELAYS, WORDS):
        await say_after(delay, what)"#
                .to_string(),
            "sum(DELAYS), max(DELAYS)",
        ),
        CREATE_TASK => (
            say_after.to_string(),
            r#"    # Tasks start at the loop's next turn and sleep all at once.
    tasks = [asyncio.create_task(say_after(delay, what))
             for delay, what in zip(DELAYS, WORDS)]
    for task in tasks:
        await task"#
                .to_string(),
            "sum(DELAYS), max(DELAYS)",
        ),
        GATHER => (
            say_after.to_string(),
            r#"    # gather wraps each coroutine in a task; results come in argument order.
    results = await asyncio.gather(*(say_after(delay, what)
                                     for delay, what in zip(DELAYS, WORDS)))
    logging.info("results: %s", results)"#
                .to_string(),
            "sum(DELAYS), max(DELAYS)",
        ),
        FACTORIAL => (
            r#"
async def factorial(name, number):
    global finished
    f = 1
    for i in range(2, number + 1):
        logging.info("Task %s: Compute factorial(%d)...", name, i)
        await asyncio.sleep(STEP)
        f *= i
    logging.info("Task %s: factorial(%d) = %d", name, number, f)
    finished += 1
    return f
"#
            .to_string(),
            r#"    # Seed 004's example: the tasks take turns at every await.
    results = await asyncio.gather(*(factorial(chr(ord("A") + i), i + 2)
                                     for i in range(TASKS)))
    logging.info("results: %s", results)"#
                .to_string(),
            "STEP * TASKS * (TASKS + 1) / 2, STEP * TASKS",
        ),
        WAIT_FOR => (
            format!(
                r#"{say_after}
async def with_timeout(delay, what):
    global timeouts
    try:
        return await asyncio.wait_for(say_after(delay, what), timeout=TIMEOUT)
    except TimeoutError:                 # asyncio.TimeoutError in 3.11
        timeouts += 1
        logging.info("%s: gave up after %s s", what, TIMEOUT)
        return None
"#
            ),
            r#"    # Each coroutine gets TIMEOUT seconds; the slower ones are cancelled.
    results = await asyncio.gather(*(with_timeout(delay, what)
                                     for delay, what in zip(DELAYS, WORDS)))
    logging.info("results: %s", results)"#
                .to_string(),
            "sum(DELAYS), max(DELAYS)",
        ),
        FIRST_COMPLETED => (
            say_after.to_string(),
            r#"    tasks = [asyncio.create_task(say_after(delay, what))
             for delay, what in zip(DELAYS, WORDS)]
    done, pending = await asyncio.wait(tasks, return_when=asyncio.FIRST_COMPLETED)
    logging.info("done: %s; still pending: %s",
                 [t.get_name() for t in tasks if t in done],
                 [t.get_name() for t in tasks if t in pending])
    for task in tasks:                   # (a set has no order: go by the list)
        if task in pending:              # they would go on running
            task.cancel()
    await asyncio.gather(*pending, return_exceptions=True)"#
                .to_string(),
            "sum(DELAYS), max(DELAYS)",
        ),
        _ => (
            say_after.to_string(),
            r#"    tasks = [asyncio.create_task(say_after(delay, what))
             for delay, what in zip(DELAYS, WORDS)]
    await asyncio.sleep(TIMEOUT)
    for task in tasks:
        if not task.done():
            task.cancel()                # CancelledError at its await
    results = await asyncio.gather(*tasks, return_exceptions=True)
    gone = sum(isinstance(r, asyncio.CancelledError) for r in results)
    logging.info("%d cancelled, %d finished", gone, len(results) - gone)"#
                .to_string(),
            "sum(DELAYS), max(DELAYS)",
        ),
    };
    let constants = if strategy == FACTORIAL {
        format!(
            "TASKS = {n}\nSTEP = {}  # seconds per multiplication",
            py_num(step)
        )
    } else {
        format!(
            "DELAYS = [{}]  # in steps of {} s\nWORDS = [{}]{}",
            delays.join(", "),
            py_num(step),
            words.join(", "),
            if matches!(strategy, WAIT_FOR | CANCEL) {
                format!("\nTIMEOUT = {}", py_num(knobs.get("timeout")))
            } else {
                String::new()
            }
        )
    };
    format!(
        r#"import asyncio
import logging
import time

# Strategy {strategy}: {name}
{constants}
ROUNDS = {rounds}

finished = cancelled = timeouts = 0
{helpers}
async def one_round():
{round_body}

async def main():
    for n in range(1, ROUNDS + 1):
        started = time.perf_counter()
        await one_round()
        took = time.perf_counter() - started
        total, longest = {totals}
        logging.info("round %d took %.2f s (sum of delays %s s, longest %s s)",
                     n, took, round(total, 3), round(longest, 3))
    print(f"finished: {{finished}}")
    print(f"cancelled: {{cancelled}}")
    print(f"timeouts: {{timeouts}}")

if __name__ == "__main__":
    logging.basicConfig(format="%(asctime)s: %(message)s",
                        level=logging.INFO, datefmt="%H:%M:%S")
    asyncio.run(main())
"#,
        name = STRATEGIES[strategy].label.en,
        rounds = knobs.get("rounds").round() as i64,
    )
}
