//! N concurrent waits as N asyncio tasks, then as N threads: why async
//! scales. Each kind starts in batches; after each batch the resident
//! memory and the time since the first are sampled, so the window plots
//! memory and start-up time against how many have started.
//!
//! Memory is the process's resident set, read from /proc/self/statm on
//! Linux. Elsewhere it is not measured: the memory numbers stay 0 and the
//! log says so (the times and counts are measured everywhere).

use super::to_ms;
use std::cell::Cell;
use std::rc::Rc;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use super::{
    AgainstN, Agree, Extra, Group, Metric, Outcome, PlotSpec, Scenario, SeriesRef, Stepping,
    counter_metric, py_num,
};
use crate::lab::aio::{self, PyResult, TASKS_ALIVE};
use crate::lab::record::Record;
use crate::lab::sync::Counter;
use crate::lab::text::Text;
use crate::lab::{Ctx, KnobSpec, Knobs, SyncResult, Thread};
use crate::t;

/// How many batches each kind starts in (one memory sample after each).
const SAMPLES: usize = 20;

const AT_START: Text = t!(
    "applies at the next Start: the waiters are created when it starts",
    "se aplica al próximo Inicio: los que esperan se crean al empezar"
);

const KNOBS: &[KnobSpec] = &[
    KnobSpec::int(
        "tasks",
        t!("asyncio tasks (N)", "Tareas asyncio (N)"),
        "tasks",
        1,
        100_000,
        10_000,
    )
    .not_live(AT_START),
    KnobSpec::int(
        "threads",
        t!("Threads (N)", "Hilos (N)"),
        "threads",
        1,
        1000,
        200,
    )
    .not_live(AT_START),
    KnobSpec::seconds(
        "wait",
        t!(
            "Each one waits (I/O, a sleep)",
            "Cada uno espera (E/S, una pausa)"
        ),
        0.1,
        60.0,
        2.0,
    ),
];

pub static SCENARIO: Scenario = Scenario {
    id: "asyncio-vs-threads",
    group: Group::Async,
    title: t!(
        "asyncio: 100,000 tasks vs 1,000 threads",
        "asyncio: 100.000 tareas frente a 1.000 hilos"
    ),
    lesson: t!(
        "Waiting costs a task a few hundred bytes and microseconds, a thread a stack of its own and an OS thread: N concurrent waits scale to 100,000 tasks on one thread, while threads run out long before.",
        "Esperar le cuesta a una tarea unos cientos de bytes y microsegundos, a un hilo una pila propia y un hilo del sistema: N esperas simultáneas llegan a 100.000 tareas en un solo hilo, mientras que los hilos se agotan mucho antes."
    ),
    explanation: t!(
        "Both programs do the same thing: N waits at once, each of the given length (think of N network requests). First N asyncio tasks on one event loop, each awaiting asyncio.sleep; then N threads, each in time.sleep. Both finish in about the wait plus the start-up: concurrency works either way. The difference is what each waiter costs.\n\n\
A task is a small object on the heap: the coroutine's frame and a timer in the loop's heap. Creating one is a few microseconds, and a sleeping task costs nothing until its timer fires. A thread is an OS thread: the kernel must create it, it reserves an address range for its own stack (2 MiB here, 8 MiB in CPython on Linux) and touches a few pages of it, and the scheduler keeps track of it. The plots above the timeline show, as they start, the resident memory and the start-up time against the number started: compare the slopes. The numbers of the metrics strip divide them per waiter.\n\n\
With 100,000 tasks the timeline cannot give each a lane: 256 tasks keep lanes of their own and the group 'Task' draws all of them, in one lane, as the share in each state. Try 1,000 threads: that many OS threads already cost more than 100,000 tasks, and an operating system will not start 100,000 threads for one process without complaint.\n\n\
CPython's numbers differ from the lab's (a Python task is a bigger object, a Python thread has the GIL to share) but not the shape: the Python program prints them too. The memory is the process's resident set, read from /proc on Linux; it includes the lab itself, so only its growth counts.",
        "Los dos programas hacen lo mismo: N esperas a la vez, cada una de la duración dada (piensa en N peticiones de red). Primero N tareas asyncio en un bucle de eventos, cada una esperando en asyncio.sleep; después N hilos, cada uno en time.sleep. Los dos terminan en más o menos la espera más el arranque: la concurrencia funciona de las dos formas. La diferencia es lo que cuesta cada uno que espera.\n\n\
Una tarea es un objeto pequeño en el montón: el marco de la corrutina y un temporizador en el montículo del bucle. Crear una cuesta unos microsegundos, y una tarea dormida no cuesta nada hasta que vence su temporizador. Un hilo es un hilo del sistema: el núcleo tiene que crearlo, reserva un rango de direcciones para su propia pila (aquí 2 MiB, 8 MiB en CPython en Linux) y toca unas pocas páginas, y el planificador lo sigue. Las gráficas sobre la línea de tiempo muestran, según arrancan, la memoria residente y el tiempo de arranque frente al número de iniciados: compara las pendientes. Los números de la franja de métricas lo dividen por cada uno.\n\n\
Con 100.000 tareas la línea de tiempo no puede darle un carril a cada una: 256 tareas conservan su carril y el grupo 'Task' las dibuja todas, en un carril, como la parte que hay en cada estado. Prueba con 1.000 hilos: tantos hilos del sistema ya cuestan más que 100.000 tareas, y un sistema operativo no arranca 100.000 hilos para un proceso sin quejarse.\n\n\
Los números de CPython son distintos de los del laboratorio (una tarea de Python es un objeto más grande, un hilo de Python tiene que compartir el GIL) pero no la forma: el programa de Python también los imprime. La memoria es el conjunto residente del proceso, leído de /proc en Linux; incluye el propio laboratorio, así que solo cuenta lo que crece."
    ),
    knobs: KNOBS,
    body,
    metrics,
    python,
    plots: &[
        PlotSpec {
            title: t!("Waiting now", "Esperando ahora"),
            series: &[
                (
                    SeriesRef::Counter(TASKS_ALIVE),
                    t!("tasks alive", "tareas vivas"),
                ),
                (
                    SeriesRef::Counter("threads_alive"),
                    t!("threads alive", "hilos vivos"),
                ),
            ],
        },
        PlotSpec {
            title: t!("Resident memory (MB)", "Memoria residente (MB)"),
            series: &[(
                SeriesRef::Counter("rss_mb"),
                t!("the whole process", "todo el proceso"),
            )],
        },
    ],
    extra: Extra::EventLoop {
        against_n: &[
            AgainstN {
                label: t!("asyncio tasks", "tareas asyncio"),
                started: "tasks_started",
                rss_kb: "tasks_rss_kb",
            },
            AgainstN {
                label: t!("threads", "hilos"),
                started: "threads_started",
                rss_kb: "threads_rss_kb",
            },
        ],
    },
    outcomes: &[
        Outcome {
            metric: "tasks_done",
            label: t!("tasks finished", "tareas terminadas"),
            printed_after: "tasks finished:",
            agree: Agree::Exactly,
        },
        Outcome {
            metric: "tasks_total_s",
            label: t!("all the tasks took (s)", "todas las tareas tardaron (s)"),
            printed_after: "all the tasks took",
            agree: Agree::Roughly {
                rel: 0.15,
                abs: 0.3,
                why: STARTUP_DIFFERS,
            },
        },
        Outcome {
            metric: "threads_done",
            label: t!("threads finished", "hilos terminados"),
            printed_after: "threads finished:",
            agree: Agree::Exactly,
        },
        Outcome {
            metric: "threads_total_s",
            label: t!("all the threads took (s)", "todos los hilos tardaron (s)"),
            printed_after: "all the threads took",
            agree: Agree::Roughly {
                rel: 0.15,
                abs: 0.3,
                why: STARTUP_DIFFERS,
            },
        },
    ],
    check_knobs: &[("tasks", 5000.0), ("threads", 100.0), ("wait", 0.5)],
    stepping: Stepping::No(super::NO_STEPPING_ASYNCIO),
};

const STARTUP_DIFFERS: Text = t!(
    "the wait plus the start-up, which is slower in CPython (bigger objects, the GIL)",
    "la espera más el arranque, que es más lento en CPython (objetos más grandes, el GIL)"
);

/// The process's resident and reserved memory in KB, from /proc/self/statm.
#[cfg(target_os = "linux")]
fn memory_kb() -> Option<(i64, i64)> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let mut fields = statm.split_whitespace().map(|f| f.parse::<i64>().ok());
    let size = fields.next()??;
    let resident = fields.next()??;
    // SAFETY: sysconf only reads its argument.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    let page_kb = (page.max(1024) / 1024) as i64;
    Some((resident * page_kb, size * page_kb))
}

/// Not measured outside Linux.
#[cfg(not(target_os = "linux"))]
fn memory_kb() -> Option<(i64, i64)> {
    None
}

/// Counters one kind of waiter reports.
struct Measure {
    rss_mb: Counter,
    started: Counter,
    rss_kb: Counter,
    startup_ms: Counter,
    grew_kb: Counter,
    reserved_kb: Counter,
    total_ms: Counter,
    done: Counter,
    t0: Instant,
    before: Option<(i64, i64)>,
}

impl Measure {
    fn new(ctx: &Ctx, kind: &str, rss_mb: &Counter) -> Measure {
        let lab = ctx.lab();
        let m = Measure {
            rss_mb: rss_mb.clone(),
            started: lab.counter(&format!("{kind}_started")),
            rss_kb: lab.counter(&format!("{kind}_rss_kb")),
            startup_ms: lab.counter(&format!("{kind}_startup_us")),
            grew_kb: lab.counter(&format!("{kind}_grew_kb")),
            reserved_kb: lab.counter(&format!("{kind}_reserved_kb")),
            total_ms: lab.counter(&format!("{kind}_total_ms")),
            done: lab.counter(&format!("{kind}_done")),
            t0: Instant::now(),
            before: memory_kb(),
        };
        m.sample(0);
        m
    }

    /// After a batch: the memory first, then how many have started.
    fn sample(&self, started: usize) {
        if let Some((rss, _)) = memory_kb() {
            self.rss_kb.set(rss);
            self.rss_mb.set(rss / 1024);
        }
        self.started.set(started as i64);
    }

    /// All started: the start-up time and what memory grew by.
    fn all_started(&self, ctx: &Ctx, kind: &str, n: usize) {
        let speed = ctx.lab().speed();
        let us = self.t0.elapsed().as_secs_f64() * speed * 1e6;
        self.startup_ms.set(us.round() as i64);
        let grew = match (self.before, memory_kb()) {
            (Some((rss0, size0)), Some((rss, size))) => {
                self.grew_kb.set(rss - rss0);
                self.reserved_kb.set(size - size0);
                format!(
                    "memory +{:.1} MB ({:.2} KB each), address space +{:.0} MB",
                    (rss - rss0) as f64 / 1024.0,
                    (rss - rss0) as f64 / n.max(1) as f64,
                    (size - size0) as f64 / 1024.0
                )
            }
            _ => "memory not measured on this system".to_string(),
        };
        ctx.log(format!(
            "{n} {kind} started in {:.0} ms; {grew}",
            us / 1000.0
        ));
    }

    fn finished(&self, ctx: &Ctx, kind: &str, done: usize) {
        let took = self.t0.elapsed().as_secs_f64() * ctx.lab().speed();
        self.total_ms.set(to_ms(took));
        self.done.set(done as i64);
        ctx.log(format!("{kind} finished: {done}"));
        ctx.log(format!("all the {kind} took {took:.2} s"));
    }
}

fn batches(n: usize) -> impl Iterator<Item = std::ops::Range<usize>> {
    let size = n.div_ceil(SAMPLES).max(1);
    (0..n).step_by(size).map(move |s| s..(s + size).min(n))
}

async fn with_tasks(ctx: Ctx, rss_mb: Counter) -> PyResult<()> {
    let n = ctx.knob_usize("tasks").max(1);
    ctx.log(format!("{n} tasks, each awaiting asyncio.sleep"));
    let m = Measure::new(&ctx, "tasks", &rss_mb);
    let started = Rc::new(Cell::new(0usize));
    let mut tasks = Vec::with_capacity(n);
    for batch in batches(n) {
        for _ in batch {
            let (c, s) = (ctx.clone(), started.clone());
            tasks.push(aio::create_task(async move {
                s.set(s.get() + 1);
                aio::sleep(c.knob("wait")).await
            }));
        }
        // One turn of the loop: the batch runs to its first await.
        aio::sleep(0.0).await?;
        m.sample(started.get());
    }
    m.all_started(&ctx, "tasks", n);
    let results = aio::gather(tasks).await?;
    m.finished(&ctx, "tasks", results.len());
    Ok(())
}

fn with_threads(ctx: &Ctx, rss_mb: &Counter) -> SyncResult<()> {
    let n = ctx.knob_usize("threads").max(1);
    ctx.log(format!("{n} threads, each in time.sleep"));
    let alive = ctx.lab().counter("threads_alive");
    let m = Measure::new(ctx, "threads", rss_mb);
    let started = Arc::new(AtomicUsize::new(0));
    let mut threads: Vec<Thread> = Vec::with_capacity(n);
    for batch in batches(n) {
        for i in batch {
            let (s, alive) = (started.clone(), alive.clone());
            let t = ctx.thread(&format!("Thread-{} (sleep)", i + 1), false, move |c| {
                s.fetch_add(1, Ordering::AcqRel);
                alive.add(1);
                let r = c.sleep(c.knob("wait"));
                alive.add(-1);
                r
            });
            t.start()?;
            threads.push(t);
        }
        // Python's start() returns once the thread runs.
        while started.load(Ordering::Acquire) < threads.len() {
            ctx.check()?;
            std::thread::sleep(Duration::from_micros(20));
        }
        m.sample(threads.len());
    }
    m.all_started(ctx, "threads", n);
    for t in &threads {
        t.join(None)?;
    }
    m.finished(ctx, "threads", threads.len());
    Ok(())
}

fn body(ctx: &Ctx) -> SyncResult<()> {
    // One series for the process's memory through both.
    let rss_mb = ctx.lab().counter("rss_mb");
    aio::run(ctx, with_tasks(ctx.clone(), rss_mb.clone()))?;
    with_threads(ctx, &rss_mb)
}

fn metrics(record: &Record) -> Vec<Metric> {
    let v = |name: &str| record.counter_value(name).unwrap_or(0) as f64;
    let each = |kind: &str| {
        let done = v(&format!("{kind}_started")).max(1.0);
        (v(&format!("{kind}_grew_kb")) / done * 100.0).round() / 100.0
    };
    let per = |kind: &str| {
        let done = v(&format!("{kind}_started")).max(1.0);
        (v(&format!("{kind}_startup_us")) / done * 100.0).round() / 100.0
    };
    vec![
        Metric {
            name: "tasks_startup_ms",
            label: t!("tasks: start-up (ms)", "tareas: arranque (ms)"),
            value: (v("tasks_startup_us") / 100.0).round() / 10.0,
        },
        Metric {
            name: "tasks_us_each",
            label: t!("µs per task", "µs por tarea"),
            value: per("tasks"),
        },
        Metric {
            name: "tasks_kb_each",
            label: t!("KB per task", "KB por tarea"),
            value: each("tasks"),
        },
        Metric {
            name: "tasks_total_s",
            label: t!("all the tasks took (s)", "todas las tareas tardaron (s)"),
            value: v("tasks_total_ms") / 1000.0,
        },
        counter_metric(
            record,
            "tasks_done",
            t!("tasks finished", "tareas terminadas"),
        ),
        Metric {
            name: "threads_startup_ms",
            label: t!("threads: start-up (ms)", "hilos: arranque (ms)"),
            value: (v("threads_startup_us") / 100.0).round() / 10.0,
        },
        Metric {
            name: "threads_us_each",
            label: t!("µs per thread", "µs por hilo"),
            value: per("threads"),
        },
        Metric {
            name: "threads_kb_each",
            label: t!("KB per thread", "KB por hilo"),
            value: each("threads"),
        },
        Metric {
            name: "threads_reserved_mb",
            label: t!(
                "threads: address space reserved (MB)",
                "hilos: espacio de direcciones reservado (MB)"
            ),
            value: (v("threads_reserved_kb") / 1024.0).round(),
        },
        Metric {
            name: "threads_total_s",
            label: t!("all the threads took (s)", "todos los hilos tardaron (s)"),
            value: v("threads_total_ms") / 1000.0,
        },
        counter_metric(
            record,
            "threads_done",
            t!("threads finished", "hilos terminados"),
        ),
    ]
}

fn python(knobs: &Knobs) -> String {
    let n = |k: &str| knobs.get(k).round() as i64;
    format!(
        r#"import asyncio
import os
import threading
import time

TASKS = {tasks}
THREADS = {threads}
WAIT = {wait}  # each one waits this long (think: a network request)

def resident_mb():
    """This process's resident memory, from /proc (Linux only)."""
    try:
        with open("/proc/self/statm") as f:
            pages = int(f.read().split()[1])
        return pages * os.sysconf("SC_PAGE_SIZE") / 2**20
    except (OSError, ValueError):
        return None

def report(kind, n, started, before):
    startup = time.perf_counter() - started
    after = resident_mb()
    if before is None or after is None:
        grew = "memory not measured on this system"
    else:
        grew = f"memory +{{after - before:.1f}} MB ({{(after - before) * 1024 / n:.2f}} KB each)"
    print(f"{{n}} {{kind}} started in {{startup * 1000:.0f}} ms; {{grew}}")

async def with_tasks():
    started, before = time.perf_counter(), resident_mb()
    tasks = [asyncio.create_task(asyncio.sleep(WAIT)) for _ in range(TASKS)]
    await asyncio.sleep(0)          # one turn of the loop: they all start
    report("tasks", TASKS, started, before)
    await asyncio.gather(*tasks)
    print(f"tasks finished: {{len(tasks)}}")
    print(f"all the tasks took {{time.perf_counter() - started:.2f}} s")

def with_threads():
    started, before = time.perf_counter(), resident_mb()
    threads = [threading.Thread(target=time.sleep, args=(WAIT,))
               for _ in range(THREADS)]
    for t in threads:
        t.start()                   # returns once the thread runs
    report("threads", THREADS, started, before)
    for t in threads:
        t.join()
    print(f"threads finished: {{len(threads)}}")
    print(f"all the threads took {{time.perf_counter() - started:.2f}} s")

if __name__ == "__main__":
    asyncio.run(with_tasks())
    with_threads()
"#,
        tasks = n("tasks"),
        threads = n("threads"),
        wait = py_num(knobs.get("wait")),
    )
}
