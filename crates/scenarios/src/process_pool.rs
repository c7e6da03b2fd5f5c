//! Real child processes in a pool: the same tasks one after another, with
//! `Pool.map`, with `Pool.imap_unordered`, and with a `ThreadPool` (seed
//! 004's downloads), on CPU-bound or on waiting tasks. Each worker is an OS
//! process with its pid, its lanes and its tasks; the speed-up is against
//! the machine's cores; starting the processes and sending the data cost
//! time and bytes (seeds 002, 004).

use std::time::Instant;

use serde_json::{Value, json};

use super::measure::{self, Sandwich, speedup_of};
use super::{
    Agree, Extra, Group, Metric, Outcome, PlotSpec, Scenario, SeriesRef, Stepping,
    ms_counter_seconds, py_num, round2, to_ms,
};
use crate::lab::gil::steps_per_second;
use crate::lab::process::pool::Pool;
use crate::lab::record::Record;
use crate::lab::{Ctx, KnobSpec, Knobs, SyncResult};
use crate::t;

pub const ID: &str = "process-pool";

const NOT_LIVE: crate::lab::text::Text = t!(
    "applies at the next Start: the pools and the tasks are made when it starts",
    "se aplica al próximo Inicio: los pools y las tareas se crean al empezar"
);

const KNOBS: &[KnobSpec] = &[
    KnobSpec::int(
        "processes",
        t!("Processes", "Procesos"),
        "processes",
        1,
        8,
        2,
    )
    .not_live(NOT_LIVE),
    KnobSpec::int("tasks", t!("Tasks", "Tareas"), "tasks", 1, 64, 8).not_live(NOT_LIVE),
    KnobSpec::seconds(
        "work",
        t!(
            "Task size (CPU or waiting time)",
            "Tamaño de la tarea (CPU o tiempo de espera)"
        ),
        0.01,
        1.0,
        0.1,
    ),
    KnobSpec::int("chunksize", t!("chunksize", "chunksize"), "items", 1, 16, 1).not_live(NOT_LIVE),
    KnobSpec::int(
        "rounds",
        t!(
            "Rounds (each pool timed between two sequential runs)",
            "Rondas (cada pool medido entre dos ejecuciones en secuencia)"
        ),
        "rounds",
        1,
        9,
        3,
    )
    .not_live(NOT_LIVE),
    KnobSpec::flag(
        "waiting",
        t!(
            "Tasks wait (downloads) instead of computing",
            "Las tareas esperan (descargas) en vez de calcular"
        ),
        false,
    )
    .not_live(NOT_LIVE),
];

pub static SCENARIO: Scenario = Scenario {
    id: ID,
    group: Group::Parallelism,
    title: t!("Process pools", "Pools de procesos"),
    lesson: t!(
        "A Pool of processes runs CPU-bound tasks on every core (map in order, imap_unordered as they finish), at the cost of starting the processes and serialising every task and result; a ThreadPool is as fast only when the tasks wait.",
        "Un Pool de procesos ejecuta las tareas de CPU en todos los núcleos (map en orden, imap_unordered según terminan), a cambio de arrancar los procesos y serializar cada tarea y resultado; un ThreadPool es igual de rápido solo si las tareas esperan."
    ),
    explanation: t!(
        "First MainThread does every task itself. Then a Pool starts its worker processes (ForkPoolWorker-N: real processes, each with its pid and its own lanes under its header, and its own GIL). pool.map cuts the tasks into chunks of chunksize, sends each chunk through a Queue (serialised: the bytes and the time are counted), and the workers take the next chunk as soon as they are free; the results come back through another Queue to the result-handler thread, and map returns them in the order of the tasks. imap_unordered gives each result as soon as it arrives. Leaving the with-block terminates the workers.\n\n\
Then a ThreadPool (seed 004's downloads) does the same with threads of this process: under the GIL, CPU-bound tasks take as long as one after another. Tick 'Tasks wait' and the tasks sleep instead, like downloads: now the threads overlap as well as the processes, without the cost of starting processes. A larger chunksize sends fewer, larger messages; too large and one worker gets all the work.\n\n\
Timed honestly: when the tasks compute, half a second of work first warms the core up; then each strategy is timed Rounds times, each time between two runs one after another, and its speed-up is the median of the rounds (the log shows the lowest and the highest). A moment when other programs take the cores slows the runs around it too, so it does not decide the result.",
        "Primero MainThread hace todas las tareas. Después un Pool arranca sus procesos trabajadores (ForkPoolWorker-N: procesos reales, cada uno con su pid y sus carriles bajo su cabecera, y su propio GIL). pool.map corta las tareas en trozos de chunksize, envía cada trozo por una Queue (serializado: se cuentan los bytes y el tiempo) y los trabajadores toman el siguiente trozo en cuanto quedan libres; los resultados vuelven por otra Queue al hilo que los recoge, y map los devuelve en el orden de las tareas. imap_unordered da cada resultado en cuanto llega. Salir del bloque with termina los trabajadores.\n\n\
Después un ThreadPool (las descargas del seed 004) hace lo mismo con hilos de este proceso: con el GIL, las tareas de CPU tardan lo mismo que una tras otra. Marca 'Las tareas esperan' y las tareas duermen, como descargas: ahora los hilos se solapan igual que los procesos, sin el coste de arrancar procesos. Un chunksize mayor envía menos mensajes y más grandes; demasiado grande y un trabajador se queda todo el trabajo.\n\n\
Medido con cuidado: si las tareas calculan, primero medio segundo de trabajo calienta el núcleo; después cada estrategia se mide Rondas veces, cada vez entre dos ejecuciones una tras otra, y su aceleración es la mediana de las rondas (el registro muestra la más baja y la más alta). Un momento en que otros programas ocupan los núcleos también frena las ejecuciones de alrededor, así que no decide el resultado."
    ),
    knobs: KNOBS,
    body,
    metrics,
    python,
    plots: &[
        PlotSpec {
            title: t!("The pool's queues", "Las colas del pool"),
            series: &[
                (
                    SeriesRef::Level("pool.inqueue"),
                    t!("chunks waiting for a worker", "trozos esperando trabajador"),
                ),
                (
                    SeriesRef::Level("pool.outqueue"),
                    t!("results on their way back", "resultados de vuelta"),
                ),
            ],
        },
        PlotSpec {
            title: t!("Processes", "Procesos"),
            series: &[(
                SeriesRef::Processes,
                t!("child processes alive", "procesos hijos vivos"),
            )],
        },
    ],
    extra: Extra::Processes { strategies: &[] },
    outcomes: &[
        Outcome {
            metric: "results",
            label: t!("results map returned", "resultados que devolvió map"),
            printed_after: "results:",
            agree: Agree::Exactly,
        },
        Outcome {
            metric: "map_speedup",
            label: t!("Pool.map: speed-up", "Pool.map: aceleración"),
            printed_after: "Pool.map speed-up:",
            agree: Agree::Roughly {
                rel: 0.35,
                abs: 0.25,
                why: LOADED,
            },
        },
        Outcome {
            metric: "threadpool_speedup",
            label: t!("ThreadPool: speed-up", "ThreadPool: aceleración"),
            printed_after: "ThreadPool speed-up:",
            agree: Agree::Roughly {
                rel: 0.3,
                abs: 0.2,
                why: LOADED,
            },
        },
    ],
    check_knobs: &[("tasks", 4.0), ("work", 0.1)],
    stepping: Stepping::No(super::NO_STEPPING_PROCESSES),
};

const LOADED: crate::lab::text::Text = t!(
    "CPU time on a shared machine, and starting processes costs each side differently",
    "tiempo de CPU en una máquina compartida, y arrancar procesos cuesta distinto a cada lado"
);

/// The function the pools run (`task` in the program): compute the task
/// size's worth of steps, or wait that long; returns its number.
pub fn task(ctx: &Ctx, arg: &Value) -> SyncResult<Value> {
    let work = ctx.knob("work");
    if ctx.knob_bool("waiting") {
        ctx.sleep(work)?;
    } else {
        let rate = arg["rate"].as_f64().unwrap_or(1e6);
        ctx.compute((work * rate) as u64)?;
    }
    Ok(arg["n"].clone())
}

fn secs(since: Instant) -> f64 {
    since.elapsed().as_secs_f64()
}

fn body(ctx: &Ctx) -> SyncResult<()> {
    let lab = ctx.lab();
    lab.set_process_scenario(ID);
    let n = ctx.knob_usize("processes").max(1);
    let tasks = ctx.knob_usize("tasks").max(1);
    let chunksize = ctx.knob_usize("chunksize").max(1);
    let rounds = ctx.knob_usize("rounds").max(1);
    lab.counter("cores").set(super::gil::cores() as i64);
    let cpython = lab.interpreter("GIL", true, crate::lab::gil::DEFAULT_SWITCH_INTERVAL);
    ctx.attach(&cpython)?;
    if !ctx.knob_bool("waiting") {
        ctx.log("Main    : warming up: half a second of CPU work before anything is timed");
        measure::warm_up(ctx)?;
    }
    let rate = steps_per_second(0.05);
    let items: Vec<Value> = (0..tasks)
        .map(|k| json!({ "n": k, "rate": rate }))
        .collect();
    let one_after_another = || -> SyncResult<f64> {
        ctx.log(format!("Main    : {tasks} tasks one after another"));
        let t0 = Instant::now();
        for item in &items {
            task(ctx, item)?;
        }
        let took = secs(t0);
        ctx.log(format!("Main    : sequential: {took:.2} s"));
        Ok(took)
    };

    let t0 = Instant::now();
    let pool = Pool::new(ctx, n)?;
    let mut m = pool.with(|pool| {
        ctx.log(format!("Main    : Pool({n}) started"));
        let mut m = Sandwich::new(one_after_another()?);
        for round in 1..=rounds {
            ctx.log(format!("Main    : round {round} of {rounds}"));
            let t1 = Instant::now();
            let results = pool.map("task", &items, chunksize)?;
            let took = secs(t1);
            lab.counter("results").set(results.len() as i64);
            ctx.log(format!(
                "Main    : Pool.map: {took:.2} s, results in order: {:?}",
                results.iter().filter_map(Value::as_u64).collect::<Vec<_>>()
            ));
            let s = m.add("map", took, one_after_another()?);
            ctx.log(format!("Main    : Pool.map speed-up {s:.2}"));
            m.record(&lab);
        }
        let t1 = Instant::now();
        let mut order = Vec::new();
        for r in pool.imap_unordered("task", &items, chunksize)? {
            let r = r?;
            ctx.log(format!("Main    : imap_unordered gave task {r}"));
            order.push(r.as_u64().unwrap_or(0));
        }
        let took = secs(t1);
        lab.counter("imap_ms").set(to_ms(took));
        ctx.log(format!(
            "Main    : Pool.imap_unordered: {took:.2} s, in the order they came: {order:?}"
        ));
        let startups: Vec<f64> = pool
            .processes()
            .iter()
            .filter_map(|p| p.startup())
            .map(|d| d.as_secs_f64())
            .collect();
        if !startups.is_empty() {
            let mean = startups.iter().sum::<f64>() / startups.len() as f64;
            lab.counter("startup_us").set((mean * 1e6) as i64);
        }
        Ok(m)
    })?;
    lab.counter("pool_total_ms").set(to_ms(secs(t0)));

    ctx.log(format!(
        "Main    : ThreadPool({n}), imap_unordered as in seed 004"
    ));
    let pool = Pool::threads(ctx, n, super::pool_function)?;
    pool.with(|pool| {
        for round in 1..=rounds {
            ctx.log(format!("Main    : ThreadPool, round {round} of {rounds}"));
            let t0 = Instant::now();
            for r in pool.imap_unordered("task", &items, chunksize)? {
                ctx.log(format!("Main    : ThreadPool gave task {}", r?));
            }
            let took = secs(t0);
            ctx.log(format!("Main    : ThreadPool: {took:.2} s"));
            let s = m.add("threadpool", took, one_after_another()?);
            ctx.log(format!("Main    : ThreadPool speed-up {s:.2}"));
            m.record(&lab);
        }
        Ok(())
    })?;
    for (name, label) in [("map", "Pool.map"), ("threadpool", "ThreadPool")] {
        ctx.log(format!(
            "Main    : {label} speed-up: {}",
            m.spread(name).describe()
        ));
    }
    Ok(())
}

/// Counters whose names end with `suffix`, summed (over every process).
fn sum_counters(record: &Record, suffix: &str) -> i64 {
    record
        .counters()
        .filter(|c| c.name.ends_with(suffix))
        .map(|c| c.value)
        .sum()
}

fn metrics(record: &Record) -> Vec<Metric> {
    let seq = ms_counter_seconds(record, "sequential_ms");
    let (map, map_low, map_high) = speedup_of(record, "map");
    let (threadpool, threadpool_low, threadpool_high) = speedup_of(record, "threadpool");
    let per_process: Vec<i64> = record
        .counters()
        .filter(|c| c.name.ends_with(": tasks_done"))
        .map(|c| c.value)
        .collect();
    vec![
        Metric {
            name: "cores",
            label: t!("cores", "núcleos"),
            value: record.counter_value("cores").unwrap_or(0) as f64,
        },
        Metric {
            name: "results",
            label: t!("results map returned", "resultados de map"),
            value: record.counter_value("results").unwrap_or(0) as f64,
        },
        Metric {
            name: "sequential_seconds",
            label: t!("one after another (s)", "uno tras otro (s)"),
            value: seq,
        },
        Metric {
            name: "map_seconds",
            label: t!("Pool.map (s)", "Pool.map (s)"),
            value: ms_counter_seconds(record, "map_ms"),
        },
        Metric {
            name: "imap_seconds",
            label: t!("Pool.imap_unordered (s)", "Pool.imap_unordered (s)"),
            value: ms_counter_seconds(record, "imap_ms"),
        },
        Metric {
            name: "threadpool_seconds",
            label: t!("ThreadPool (s)", "ThreadPool (s)"),
            value: ms_counter_seconds(record, "threadpool_ms"),
        },
        Metric {
            name: "map_speedup",
            label: t!(
                "Pool.map: speed-up (median of the rounds)",
                "Pool.map: aceleración (mediana de las rondas)"
            ),
            value: map,
        },
        Metric {
            name: "map_speedup_low",
            label: t!("Pool.map: lowest round", "Pool.map: la ronda más baja"),
            value: map_low,
        },
        Metric {
            name: "map_speedup_high",
            label: t!("Pool.map: highest round", "Pool.map: la ronda más alta"),
            value: map_high,
        },
        Metric {
            name: "threadpool_speedup",
            label: t!(
                "ThreadPool: speed-up (median of the rounds)",
                "ThreadPool: aceleración (mediana de las rondas)"
            ),
            value: threadpool,
        },
        Metric {
            name: "threadpool_speedup_low",
            label: t!("ThreadPool: lowest round", "ThreadPool: la ronda más baja"),
            value: threadpool_low,
        },
        Metric {
            name: "threadpool_speedup_high",
            label: t!("ThreadPool: highest round", "ThreadPool: la ronda más alta"),
            value: threadpool_high,
        },
        Metric {
            name: "process_startup_ms",
            label: t!("starting a worker (ms)", "arrancar un trabajador (ms)"),
            value: round2(record.counter_value("startup_us").unwrap_or(0) as f64 / 1000.0),
        },
        Metric {
            name: "bytes_sent",
            label: t!("bytes through the queues", "bytes por las colas"),
            value: sum_counters(record, ".bytes") as f64,
        },
        Metric {
            name: "pickle_ms",
            label: t!("serialising (ms)", "serializar (ms)"),
            value: round2(sum_counters(record, ".pickle_us") as f64 / 1000.0),
        },
        Metric {
            name: "most_tasks_per_process",
            label: t!("most tasks one worker did", "más tareas de un trabajador"),
            value: per_process.iter().copied().max().unwrap_or(0) as f64,
        },
        Metric {
            name: "fewest_tasks_per_process",
            label: t!(
                "fewest tasks one worker did",
                "menos tareas de un trabajador"
            ),
            value: per_process.iter().copied().min().unwrap_or(0) as f64,
        },
    ]
}

fn python(knobs: &Knobs) -> String {
    let b = |v: f64| if v >= 0.5 { "True" } else { "False" };
    format!(
        r#"import statistics
import time
from multiprocessing import Pool
from multiprocessing.pool import ThreadPool

PROCESSES = {processes}
TASKS = {tasks}
WORK = {work}           # seconds each task computes (or waits)
CHUNKSIZE = {chunksize}
WAITING = {waiting}      # tasks wait, like seed 004's downloads
ROUNDS = {rounds}          # each pool is timed this many times

{cpu_work}

def task(item):
    n, steps = item
    if WAITING:
        time.sleep(WORK)      # waiting for the network: no CPU, no GIL
    else:
        count(steps)          # pure Python: CPU and the GIL
    return n

def one_after_another(items):
    started = time.perf_counter()
    for item in items:
        task(item)
    return time.perf_counter() - started

def against_sequential(run, items, sequential, speedups):
    """Time run() between the last sequential run and a new one: its
    speed-up is the mean (geometric) of those two divided by its own time,
    so a machine that slows down for a while slows both sides alike."""
    started = time.perf_counter()
    result = run()
    took = time.perf_counter() - started
    sequential.append(one_after_another(items))
    speedups.append((sequential[-2] * sequential[-1]) ** 0.5 / took)
    return result

def spread(values):
    return (f"{{statistics.median(values):.2f}} (from {{min(values):.2f}} "
            f"to {{max(values):.2f}} over {{len(values)}} rounds)")

# Pool's workers are processes: the guard keeps a child that imports this
# file from starting pools of its own.
if __name__ == "__main__":
    if not WAITING:
        warm_up()
    items = [(n, int(WORK * steps_per_second())) for n in range(TASKS)]
    pool_map, threads = [], []
    with Pool(PROCESSES) as pool:            # leaving it calls terminate()
        sequential = [one_after_another(items)]
        for _ in range(ROUNDS):
            results = against_sequential(
                lambda: pool.map(task, items, chunksize=CHUNKSIZE),
                items, sequential, pool_map)
        print("Pool.map, in order:", results)
        order = list(pool.imap_unordered(task, items, chunksize=CHUNKSIZE))
        print("imap_unordered, as they came:", order)
    with ThreadPool(PROCESSES) as pool:
        for _ in range(ROUNDS):
            against_sequential(
                lambda: list(pool.imap_unordered(task, items, chunksize=CHUNKSIZE)),
                items, sequential, threads)
    print(f"results: {{len(results)}}")
    print(f"sequential: {{statistics.median(sequential):.2f}} s "
          f"(the median of {{len(sequential)}} runs)")
    print(f"Pool.map speed-up: {{spread(pool_map)}}")
    print(f"ThreadPool speed-up: {{spread(threads)}}")
"#,
        processes = knobs.get("processes").round() as i64,
        tasks = knobs.get("tasks").round() as i64,
        work = py_num(knobs.get("work")),
        chunksize = knobs.get("chunksize").round() as i64,
        waiting = b(knobs.get("waiting")),
        rounds = knobs.get("rounds").round().max(1.0) as i64,
        cpu_work = measure::PY_CPU_WORK,
    )
}
