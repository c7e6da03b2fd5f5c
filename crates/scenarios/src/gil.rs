//! The GIL: the same CPU-bound tasks done one after another, by N threads
//! under CPython's GIL (no faster: one runs at a time), by N threads on the
//! free-threaded build (every core), and by N processes (each its own
//! interpreter and GIL: every core, plus the cost of starting them); then
//! the speed-up of each against the number of workers (seeds 000, 001, 004).

use std::time::Instant;

use serde_json::json;

use super::measure::{self, Sandwich, speedup_of};
use super::{
    Agree, Extra, Group, Metric, Outcome, PlotSpec, Scenario, SeriesRef, Stepping,
    ms_counter_seconds, py_num, round2, scenario_seconds, to_ms,
};
use crate::lab::gil::{steps_per_second, thread_cpu_seconds};
use crate::lab::process::child::ChildArgs;
use crate::lab::process::{Process, ProcessSpec};
use crate::lab::record::Record;
use crate::lab::{Ctx, KnobSpec, Knobs, State, SyncResult, Thread};
use crate::t;

pub const ID: &str = "gil";

const NOT_LIVE: crate::lab::text::Text = t!(
    "applies at the next Start: each strategy starts with the workers and work it is given",
    "se aplica al próximo Inicio: cada estrategia empieza con los trabajadores y el trabajo que recibe"
);

const KNOBS: &[KnobSpec] = &[
    KnobSpec::int("workers", t!("Workers", "Trabajadores"), "workers", 1, 8, 2).not_live(NOT_LIVE),
    KnobSpec::seconds(
        "work",
        t!(
            "CPU work per task (on one core)",
            "Trabajo de CPU por tarea (en un núcleo)"
        ),
        0.02,
        2.0,
        0.25,
    )
    .not_live(NOT_LIVE),
    KnobSpec::seconds(
        "switch_interval",
        t!(
            "Switch interval (sys.setswitchinterval)",
            "Intervalo de cambio (sys.setswitchinterval)"
        ),
        0.0005,
        0.1,
        0.005,
    ),
    KnobSpec {
        name: "io_share",
        label: t!(
            "I/O share of each task (sleeps)",
            "Parte de E/S de cada tarea (duerme)"
        ),
        unit: "",
        kind: crate::lab::KnobKind::Float,
        min: 0.0,
        max: 0.9,
        default: 0.0,
        not_live: None,
        logarithmic: false,
        choices: &[],
    },
    KnobSpec::int(
        "rounds",
        t!(
            "Rounds (each strategy timed between two sequential runs)",
            "Rondas (cada estrategia medida entre dos ejecuciones en secuencia)"
        ),
        "rounds",
        1,
        9,
        5,
    )
    .not_live(NOT_LIVE),
    KnobSpec::flag(
        "sweep",
        t!(
            "Then measure 1 to 2 × cores workers",
            "Después medir de 1 a 2 × núcleos trabajadores"
        ),
        true,
    )
    .not_live(t!(
        "applies at the next Start",
        "se aplica al próximo Inicio"
    )),
];

/// Each task is done in this many pieces: compute, then sleep its I/O share.
const CHUNKS: u64 = 10;
/// The sweep goes up to this many workers at most.
pub const SWEEP_MAX: usize = 16;

pub static SCENARIO: Scenario = Scenario {
    id: ID,
    group: Group::Parallelism,
    title: t!(
        "The GIL: threads vs processes",
        "El GIL: hilos frente a procesos"
    ),
    lesson: t!(
        "Under CPython's GIL only one thread runs Python code at a time, so CPU-bound threads are no faster than one after another; threads that sleep or wait overlap; the free-threaded build and separate processes use every core.",
        "Con el GIL de CPython solo un hilo ejecuta código Python a la vez, así que los hilos de CPU no van más rápido que uno tras otro; los que duermen o esperan se solapan; la compilación sin GIL y los procesos separados usan todos los núcleos."
    ),
    explanation: t!(
        "The same tasks run four ways. One after another on MainThread. Then N threads of one CPython process: watch the lanes — one is green (running, it holds the GIL), the others are yellow with dots (runnable, waiting for the GIL). Every switch interval (5 ms by default; the knob is sys.setswitchinterval) the holder is made to drop it and another takes over, so the total is no shorter than one after another. Then the same threads on the free-threaded build (Python 3.13t, no GIL): they all run at once, up to one per core. Then N processes: each is a real OS process started from this program (its own pid, its own GIL, its own lanes under its header), so they run on every core too; starting them and sending them the work costs a little.\n\n\
Raise the I/O share: part of each task sleeps (like waiting for a download), and a sleeping thread lets go of the GIL, so the threads overlap and even under the GIL they get faster. With the sweep on, the plot shows each strategy's speed-up against the number of workers, up to twice the machine's cores (the dashed line): no speed-up for threads, and for processes a speed-up that stops growing at the number of cores.\n\n\
Timed honestly: first half a second of work warms the core up; then each strategy is timed Rounds times, each time between two runs one after another, and its speed-up is the median of the rounds (the log shows the lowest and the highest). A moment when other programs take the cores slows the runs around it too, so it does not decide the result.",
        "Las mismas tareas se hacen de cuatro maneras. Una tras otra en MainThread. Luego N hilos de un proceso CPython: mira los carriles — uno está en verde (ejecutándose, tiene el GIL) y los demás en amarillo con puntos (listos, esperando el GIL). Cada intervalo de cambio (5 ms por defecto; el control es sys.setswitchinterval) se obliga al que lo tiene a soltarlo y otro toma el relevo, así que el total no es menor que uno tras otro. Después los mismos hilos en la compilación sin GIL (Python 3.13t): se ejecutan todos a la vez, hasta uno por núcleo. Después N procesos: cada uno es un proceso real del sistema lanzado desde este programa (su propio pid, su propio GIL, sus carriles bajo su cabecera), así que también usan todos los núcleos; arrancarlos y enviarles el trabajo cuesta un poco.\n\n\
Sube la parte de E/S: parte de cada tarea duerme (como esperar una descarga), y un hilo que duerme suelta el GIL, así que los hilos se solapan e incluso con el GIL van más rápido. Con el barrido activado, la gráfica muestra la aceleración de cada estrategia según el número de trabajadores, hasta el doble de núcleos de la máquina (la línea discontinua): ninguna para los hilos, y para los procesos una que deja de crecer en el número de núcleos.\n\n\
Medido con cuidado: primero medio segundo de trabajo calienta el núcleo; después cada estrategia se mide Rondas veces, cada vez entre dos ejecuciones una tras otra, y su aceleración es la mediana de las rondas (el registro muestra la más baja y la más alta). Un momento en que otros programas ocupan los núcleos también frena las ejecuciones de alrededor, así que no decide el resultado."
    ),
    knobs: KNOBS,
    body,
    metrics,
    python,
    plots: &[
        PlotSpec {
            title: t!("The GIL of the threads", "El GIL de los hilos"),
            series: &[
                (SeriesRef::Level("GIL"), t!("held", "tomado")),
                (
                    SeriesRef::Waiters("GIL"),
                    t!(
                        "threads waiting for it (runnable)",
                        "hilos esperándolo (listos)"
                    ),
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
    extra: Extra::Processes {
        strategies: &[
            ("threads", t!("threads (GIL)", "hilos (GIL)")),
            (
                "free_threaded",
                t!("threads, free-threaded build", "hilos, compilación sin GIL"),
            ),
            ("processes", t!("processes", "procesos")),
        ],
    },
    outcomes: &[
        Outcome {
            metric: "sequential_seconds",
            label: t!("one after another (s)", "uno tras otro (s)"),
            printed_after: "sequential:",
            agree: Agree::Roughly {
                rel: 0.3,
                abs: 0.1,
                why: LOADED,
            },
        },
        Outcome {
            metric: "threads_speedup",
            label: t!("threads: speed-up", "hilos: aceleración"),
            printed_after: "threads speed-up:",
            agree: Agree::Roughly {
                rel: 0.3,
                abs: 0.15,
                why: LOADED,
            },
        },
        Outcome {
            metric: "processes_speedup",
            label: t!("processes: speed-up", "procesos: aceleración"),
            printed_after: "processes speed-up:",
            agree: Agree::Roughly {
                rel: 0.35,
                abs: 0.2,
                why: LOADED,
            },
        },
    ],
    check_knobs: &[("work", 0.15), ("sweep", 0.0), ("rounds", 3.0)],
    stepping: Stepping::No(super::NO_STEPPING_PROCESSES),
};

const LOADED: crate::lab::text::Text = t!(
    "CPU time on a shared machine: other programs take cores, and the two sides calibrate their work separately",
    "tiempo de CPU en una máquina compartida: otros programas ocupan núcleos, y cada lado calibra su trabajo por separado"
);

/// The machine's cores, as `os.cpu_count()`.
pub fn cores() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get())
}

/// One task: `steps` of CPU work in [`CHUNKS`] pieces, each followed by a
/// sleep when part of the task is I/O (it then computes that much less).
/// Reads the live knobs between pieces.
fn task(ctx: &Ctx, steps: u64, work: f64) -> SyncResult<()> {
    for _ in 0..CHUNKS {
        let io = ctx.knob("io_share").clamp(0.0, 0.9);
        if let Some(interp) = ctx.interpreter() {
            interp.set_switch_interval(ctx.knob("switch_interval"));
        }
        ctx.compute(((steps / CHUNKS) as f64 * (1.0 - io)) as u64)?;
        if io > 0.0 {
            ctx.sleep(work * io / CHUNKS as f64)?;
        }
    }
    Ok(())
}

/// What a child process of this scenario runs: one task.
pub fn child_task(ctx: &Ctx, args: &ChildArgs) -> SyncResult<()> {
    ctx.log(format!("{}: computing", args.name));
    task(ctx, args.num("steps") as u64, args.num("work"))?;
    ctx.log(format!("{}: done", args.name));
    Ok(())
}

/// N threads of the interpreter MainThread is attached to, each one task.
fn run_threads(ctx: &Ctx, n: usize, steps: u64, work: f64, target: &str) -> SyncResult<f64> {
    let lab = ctx.lab();
    let started = Instant::now();
    let threads: Vec<Thread> = (0..n)
        .map(|_| lab.thread_for(target, false, move |c| task(c, steps, work)))
        .collect();
    for t in &threads {
        t.start()?;
    }
    for t in &threads {
        t.join(None)?;
    }
    Ok(scenario_seconds(ctx, started))
}

/// N processes, each one task.
fn run_processes(ctx: &Ctx, n: usize, steps: u64, work: f64) -> SyncResult<(f64, f64)> {
    let lab = ctx.lab();
    let started = Instant::now();
    let procs: Vec<Process> = (0..n)
        .map(|_| {
            let mut spec = ProcessSpec::new("gil.task", json!({ "steps": steps, "work": work }));
            spec.switch_interval = ctx.knob("switch_interval");
            lab.process(spec)
        })
        .collect();
    for p in &procs {
        p.start()?;
    }
    for p in &procs {
        p.join(None)?;
    }
    let took = scenario_seconds(ctx, started);
    let startups: Vec<f64> = procs
        .iter()
        .filter_map(|p| p.startup())
        .map(|d| d.as_secs_f64())
        .collect();
    let startup = if startups.is_empty() {
        0.0
    } else {
        startups.iter().sum::<f64>() / startups.len() as f64
    };
    Ok((took, startup))
}

fn body(ctx: &Ctx) -> SyncResult<()> {
    let lab = ctx.lab();
    lab.set_process_scenario(ID);
    let n = ctx.knob_usize("workers").max(1);
    let rounds = ctx.knob_usize("rounds").max(1);
    let work = ctx.knob("work");
    let interval = ctx.knob("switch_interval");
    let cores = cores();
    lab.counter("cores").set(cores as i64);
    let cpython = lab.interpreter("GIL", true, interval);
    let free = lab.interpreter("no GIL (3.13t)", false, interval);
    ctx.attach(&cpython)?;
    ctx.log("Main    : warming up: half a second of CPU work before anything is timed");
    measure::warm_up(ctx)?;
    // As much CPU work as `work` seconds on one core, measured here.
    let steps = (work * steps_per_second(0.05)) as u64;
    ctx.log(format!(
        "Main    : {cores} cores; each task is {steps} steps (about {} s of CPU)",
        py_num(work)
    ));

    // How much of a core each sequential run got (its CPU time over its wall
    // time): near 1 on an idle machine. Other programs busy on the cores
    // make it smaller, and the speed-ups larger than on an idle machine:
    // the scheduler shares a core per thread, so two threads taking turns
    // under the GIL get more of it than one thread alone.
    let shares = std::cell::RefCell::new(Vec::new());
    let one_after_another = || -> SyncResult<f64> {
        ctx.log(format!("Main    : {n} tasks one after another"));
        let started = Instant::now();
        let cpu = thread_cpu_seconds(started);
        for _ in 0..n {
            task(ctx, steps, work)?;
        }
        let wall = started.elapsed().as_secs_f64();
        let share = (thread_cpu_seconds(started) - cpu) / wall.max(1e-9);
        let mut shares = shares.borrow_mut();
        shares.push(share.clamp(0.0, 1.0));
        lab.counter("sequential_cpu_pct")
            .set((measure::median(&shares) * 100.0).round() as i64);
        let took = scenario_seconds(ctx, started);
        ctx.log(format!("Main    : sequential: {took:.2} s"));
        Ok(took)
    };
    let mut m = Sandwich::new(one_after_another()?);
    let mut startups = Vec::new();
    for round in 1..=rounds {
        ctx.log(format!("Main    : round {round} of {rounds}"));
        ctx.log(format!("Main    : {n} threads under the GIL"));
        let thr = run_threads(ctx, n, steps, work, "task")?;
        lab.counter("forced_switches")
            .set(cpython.forced_switches() as i64);
        let s = m.add("threads", thr, one_after_another()?);
        ctx.log(format!("Main    : threads: {thr:.2} s, speed-up {s:.2}"));

        ctx.attach(&free)?;
        ctx.log(format!(
            "Main    : {n} threads on the free-threaded build (no GIL)"
        ));
        let fre = run_threads(ctx, n, steps, work, "task, no GIL")?;
        ctx.attach(&cpython)?;
        let s = m.add("free_threaded", fre, one_after_another()?);
        ctx.log(format!(
            "Main    : free-threaded: {fre:.2} s, speed-up {s:.2}"
        ));

        ctx.log(format!("Main    : {n} processes"));
        let (pro, startup) = run_processes(ctx, n, steps, work)?;
        startups.push(startup);
        let s = m.add("processes", pro, one_after_another()?);
        ctx.log(format!(
            "Main    : processes: {pro:.2} s, speed-up {s:.2} (starting one took {:.1} ms)",
            startup * 1000.0
        ));
        m.record(&lab);
        lab.counter("startup_us")
            .set((measure::median(&startups) * 1e6) as i64);
    }
    let seq = m.sequential();
    lab.counter("one_task_ms").set(to_ms(seq / n as f64));
    let share = measure::median(&shares.borrow());
    if share < 0.9 {
        ctx.log(format!(
            "Main    : the sequential runs had {:.0}% of a core: other programs are busy on the cores, so these speed-ups are larger than on an idle machine",
            share * 100.0
        ));
    }

    if ctx.knob_bool("sweep") {
        let mut one = seq / n as f64;
        for k in 1..=(2 * cores).min(SWEEP_MAX) {
            ctx.attach(&cpython)?;
            let t = run_threads(ctx, k, steps, work, "task")?;
            lab.counter(&format!("sweep.threads.{k}")).set(to_ms(t));
            ctx.attach(&free)?;
            let f = run_threads(ctx, k, steps, work, "task, no GIL")?;
            lab.counter(&format!("sweep.free_threaded.{k}"))
                .set(to_ms(f));
            if k == 1 {
                // One task alone, at its quickest: the baseline every
                // speed-up of the sweep is against (k tasks take k times it).
                one = one.min(t).min(f);
                lab.counter("one_task_ms").set(to_ms(one));
            }
            ctx.attach(&cpython)?;
            let (t, _) = run_processes(ctx, k, steps, work)?;
            lab.counter(&format!("sweep.processes.{k}")).set(to_ms(t));
            ctx.log(format!(
                "Main    : {k} workers: sequential would take {:.2} s",
                one * k as f64
            ));
        }
    }
    ctx.log(format!("Main    : cores: {cores}"));
    ctx.log(format!(
        "Main    : sequential: {seq:.2} s (the median of {} runs)",
        3 * rounds + 1
    ));
    for (name, label) in [("threads", "threads"), ("processes", "processes")] {
        ctx.log(format!(
            "Main    : {label} speed-up: {}",
            m.spread(name).describe()
        ));
    }
    Ok(())
}

/// The most threads of one role running at the same moment, from the
/// recorded spans: under a GIL, never more than 1.
pub fn max_running_at_once(record: &Record, role: &str) -> usize {
    let mut edges: Vec<(f64, i32)> = Vec::new();
    let now = record.now();
    for t in record.threads().filter(|t| &*t.role == role) {
        for s in t.spans.iter().filter(|s| s.state == State::Running) {
            if s.end > s.start {
                edges.push((s.start, 1));
                edges.push((s.end, -1));
            }
        }
        if t.state == State::Running && now > t.since {
            edges.push((t.since, 1));
            edges.push((now, -1));
        }
    }
    // Ends before starts at the same instant: a hand-over is not an overlap.
    edges.sort_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
    let (mut cur, mut max) = (0i32, 0i32);
    for (_, d) in edges {
        cur += d;
        max = max.max(cur);
    }
    max.max(0) as usize
}

fn metrics(record: &Record) -> Vec<Metric> {
    let seq = ms_counter_seconds(record, "sequential_ms");
    let cores = record.counter_value("cores").unwrap_or(0) as f64;
    let (threads, threads_low, threads_high) = speedup_of(record, "threads");
    let (free, _, _) = speedup_of(record, "free_threaded");
    let (processes, processes_low, processes_high) = speedup_of(record, "processes");
    vec![
        Metric {
            name: "cores",
            label: t!("cores", "núcleos"),
            value: cores,
        },
        Metric {
            name: "sequential_seconds",
            label: t!("one after another (s)", "uno tras otro (s)"),
            value: seq,
        },
        Metric {
            name: "sequential_cpu_share",
            label: t!(
                "one after another: share of a core it had",
                "uno tras otro: parte de un núcleo que tuvo"
            ),
            value: record.counter_value("sequential_cpu_pct").unwrap_or(0) as f64 / 100.0,
        },
        Metric {
            name: "threads_seconds",
            label: t!("threads (s)", "hilos (s)"),
            value: ms_counter_seconds(record, "threads_ms"),
        },
        Metric {
            name: "free_threaded_seconds",
            label: t!("free-threaded (s)", "sin GIL (s)"),
            value: ms_counter_seconds(record, "free_threaded_ms"),
        },
        Metric {
            name: "processes_seconds",
            label: t!("processes (s)", "procesos (s)"),
            value: ms_counter_seconds(record, "processes_ms"),
        },
        Metric {
            name: "threads_speedup",
            label: t!(
                "threads: speed-up (median of the rounds)",
                "hilos: aceleración (mediana de las rondas)"
            ),
            value: threads,
        },
        Metric {
            name: "threads_speedup_low",
            label: t!("threads: lowest round", "hilos: la ronda más baja"),
            value: threads_low,
        },
        Metric {
            name: "threads_speedup_high",
            label: t!("threads: highest round", "hilos: la ronda más alta"),
            value: threads_high,
        },
        Metric {
            name: "free_threaded_speedup",
            label: t!("free-threaded: speed-up", "sin GIL: aceleración"),
            value: free,
        },
        Metric {
            name: "processes_speedup",
            label: t!(
                "processes: speed-up (median of the rounds)",
                "procesos: aceleración (mediana de las rondas)"
            ),
            value: processes,
        },
        Metric {
            name: "processes_speedup_low",
            label: t!("processes: lowest round", "procesos: la ronda más baja"),
            value: processes_low,
        },
        Metric {
            name: "processes_speedup_high",
            label: t!("processes: highest round", "procesos: la ronda más alta"),
            value: processes_high,
        },
        Metric {
            name: "process_startup_ms",
            label: t!("starting a process (ms)", "arrancar un proceso (ms)"),
            value: round2(record.counter_value("startup_us").unwrap_or(0) as f64 / 1000.0),
        },
        Metric {
            name: "forced_switches",
            label: t!("forced GIL switches", "cambios forzados del GIL"),
            value: record.counter_value("forced_switches").unwrap_or(0) as f64,
        },
        Metric {
            name: "max_running_under_gil",
            label: t!(
                "most threads running at once under the GIL",
                "máximo de hilos ejecutándose a la vez con el GIL"
            ),
            value: max_running_at_once(record, "Thread (task)") as f64,
        },
        Metric {
            name: "max_running_free_threaded",
            label: t!("most running at once without it", "máximo a la vez sin él"),
            value: max_running_at_once(record, "Thread (task, no GIL)") as f64,
        },
    ]
}

fn python(knobs: &Knobs) -> String {
    let workers = knobs.get("workers").round() as i64;
    let rounds = knobs.get("rounds").round().max(1.0) as i64;
    format!(
        r#"import multiprocessing
import os
import statistics
import sys
import threading
import time

WORKERS = {workers}
WORK = {work}          # seconds of CPU per task, on one core
IO_SHARE = {io}        # part of each task spent waiting (time.sleep) instead
CHUNKS = {chunks}
ROUNDS = {rounds}          # each strategy is timed this many times

{cpu_work}

def task(steps):
    for _ in range(CHUNKS):
        count(int(steps / CHUNKS * (1 - IO_SHARE)))
        if IO_SHARE:
            time.sleep(WORK * IO_SHARE / CHUNKS)   # waiting lets go of the GIL

def one_after_another(steps):
    for _ in range(WORKERS):
        task(steps)

def with_threads(steps):
    threads = [threading.Thread(target=task, args=(steps,)) for _ in range(WORKERS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

def with_processes(steps):
    processes = [multiprocessing.Process(target=task, args=(steps,))
                 for _ in range(WORKERS)]
    for p in processes:
        p.start()
    for p in processes:
        p.join()

def timed(strategy, steps):
    started = time.perf_counter()
    strategy(steps)
    return time.perf_counter() - started

def speedups(strategies, steps):
    """Time each strategy ROUNDS times, each time between two sequential
    runs: its speed-up is the mean (geometric) of those two divided by its
    own time, so a machine that slows down for a while (other programs)
    slows both sides alike. Returns every sequential time, and each
    strategy's speed-ups."""
    sequential = [timed(one_after_another, steps)]
    found = {{name: [] for name in strategies}}
    for _ in range(ROUNDS):
        for name, strategy in strategies.items():
            took = timed(strategy, steps)
            sequential.append(timed(one_after_another, steps))
            around = (sequential[-2] * sequential[-1]) ** 0.5
            found[name].append(around / took)
    return sequential, found

# The guard matters with processes: a child may import this file again
# (the "spawn" start method does) and must not run the program itself.
if __name__ == "__main__":
    sys.setswitchinterval({interval})
    warm_up()
    steps = int(WORK * steps_per_second())
    strategies = {{"threads": with_threads, "processes": with_processes}}
    gil = getattr(sys, "_is_gil_enabled", lambda: True)()
    if not gil:
        # Python 3.13t (free-threaded): the same threads, without the GIL.
        strategies["free-threaded"] = with_threads
    sequential, found = speedups(strategies, steps)
    print(f"cores: {{os.cpu_count()}}")
    print(f"sequential: {{statistics.median(sequential):.2f}} s "
          f"(the median of {{len(sequential)}} runs)")
    for name, values in found.items():
        print(f"{{name}} speed-up: {{statistics.median(values):.2f}} "
              f"(from {{min(values):.2f}} to {{max(values):.2f}} over {{len(values)}} rounds)")
    if gil:
        print("free-threaded: not this interpreter (its GIL is on)")
"#,
        work = py_num(knobs.get("work")),
        io = py_num(knobs.get("io_share")),
        chunks = CHUNKS,
        interval = py_num(knobs.get("switch_interval")),
        cpu_work = measure::PY_CPU_WORK,
    )
}
