//! Seed 004's university payment flow: each student's receipt is attached
//! (500 ms), stored (2 s), validated (100 ms) and notified (100 ms). Done
//! one student after another, then with a thread per student, then with a
//! pool of N workers: the same work, three total times.

use std::sync::Arc;
use std::time::Instant;

use parking_lot::Mutex;

use super::{
    Agree, BarGroup, Extra, Group, JITTER, Metric, Outcome, PlotSpec, Scenario, SeriesRef,
    Stepping, ms_counter_seconds, ms_metric, py_num, round2, scenario_seconds, speedup, to_ms,
};
use crate::lab::record::Record;
use crate::lab::sync::Counter;
use crate::lab::{Ctx, KnobSpec, Knobs, SyncResult, Thread, ThreadPoolExecutor};
use crate::t;

const NOT_LIVE: crate::lab::text::Text = t!(
    "applies at the next Start: each strategy takes the students and workers it starts with",
    "se aplica al próximo Inicio: cada estrategia usa los estudiantes y trabajadores con que empieza"
);

const KNOBS: &[KnobSpec] = &[
    KnobSpec::int(
        "students",
        t!("Students", "Estudiantes"),
        "students",
        1,
        1000,
        10,
    )
    .not_live(NOT_LIVE),
    KnobSpec::int(
        "workers",
        t!(
            "Pool workers (max_workers)",
            "Trabajadores del pool (max_workers)"
        ),
        "workers",
        1,
        64,
        4,
    )
    .not_live(NOT_LIVE),
    KnobSpec::seconds(
        "attach",
        t!("Attach the receipt", "Adjuntar el comprobante"),
        0.001,
        10.0,
        0.5,
    ),
    KnobSpec::seconds(
        "store",
        t!("Store the receipt", "Almacenar el comprobante"),
        0.001,
        10.0,
        2.0,
    ),
    KnobSpec::seconds(
        "validate",
        t!("Validate the receipt", "Validar el comprobante"),
        0.001,
        10.0,
        0.1,
    ),
    KnobSpec::seconds(
        "notify",
        t!("Send the notification", "Enviar la notificación"),
        0.001,
        10.0,
        0.1,
    ),
    KnobSpec::flag(
        "sequential",
        t!(
            "Run: one student after another",
            "Ejecutar: un estudiante tras otro"
        ),
        true,
    ),
    KnobSpec::flag(
        "threads",
        t!(
            "Run: one thread per student",
            "Ejecutar: un hilo por estudiante"
        ),
        true,
    ),
    KnobSpec::flag(
        "pool",
        t!(
            "Run: a pool of workers",
            "Ejecutar: un pool de trabajadores"
        ),
        true,
    ),
];

/// The steps of one payment: what the log says, and the knob for its time.
const STEPS: [(&str, &str); 4] = [
    ("attaching the receipt", "attach"),
    ("storing the receipt", "store"),
    ("validating the receipt", "validate"),
    ("sending the notification", "notify"),
];

/// The strategies, in the order they run: (name in logs and metrics, knob).
const STRATEGIES: [&str; 3] = ["sequential", "threads", "pool"];

pub static SCENARIO: Scenario = Scenario {
    id: "payment-pipeline",
    group: Group::Communication,
    title: t!("Students' payments", "Pagos de los estudiantes"),
    lesson: t!(
        "Work that mostly waits (uploads, storage, e-mail) gets done many times faster on threads: one student after another takes students × 2.7 s, a thread per student about 2.7 s, a pool of N workers about students ÷ N (rounded up) × 2.7 s.",
        "El trabajo que sobre todo espera (subidas, almacenamiento, correo) se hace muchas veces más rápido con hilos: un estudiante tras otro tarda estudiantes × 2,7 s, un hilo por estudiante unos 2,7 s, un pool de N trabajadores unos estudiantes ÷ N (redondeado hacia arriba) × 2,7 s."
    ),
    explanation: t!(
        "Seed 004's university: every student attaches a payment receipt; the system stores a copy, validates it and sends a notification. 0.5 + 2 + 0.1 + 0.1 = 2.7 s per student, nearly all of it waiting on a disk or the network. All the students arrive at once.\n\n\
First one after another, on MainThread: student 1 waits 2.7 s, student 2 5.4 s… the last waits students × 2.7 s. Then one thread per student: they all wait at the same time, so everyone is done in about 2.7 s; watch the group of lanes and 'Students in progress' jump to the number of students. Then a ThreadPoolExecutor with N workers: N students at a time, in waves of 2.7 s, about students ÷ N (rounded up) × 2.7 s in all; fewer threads than one per student, and no more than the system can bear (with 3,000 students, 3,000 threads at once may be too many).\n\n\
The bars set the three side by side: total time, students per second, and the average wait per student (latency). Use Speed to run it faster; every time is reported in the scenario's seconds, so the totals still match the arithmetic.",
        "La universidad de la semilla 004: cada estudiante adjunta su comprobante de pago; el sistema guarda una copia, la valida y envía una notificación. 0,5 + 2 + 0,1 + 0,1 = 2,7 s por estudiante, casi todo esperando a un disco o a la red. Todos los estudiantes llegan a la vez.\n\n\
Primero uno tras otro, en MainThread: el estudiante 1 espera 2,7 s, el 2 5,4 s… el último espera estudiantes × 2,7 s. Después un hilo por estudiante: todos esperan a la vez, así que todos terminan en unos 2,7 s; mira el grupo de líneas y 'Estudiantes en curso' saltar al número de estudiantes. Luego un ThreadPoolExecutor con N trabajadores: N estudiantes a la vez, en oleadas de 2,7 s, unos estudiantes ÷ N (redondeado hacia arriba) × 2,7 s en total; menos hilos que uno por estudiante, y no más de los que el sistema aguanta (con 3.000 estudiantes, 3.000 hilos a la vez pueden ser demasiados).\n\n\
Las barras ponen las tres lado a lado: tiempo total, estudiantes por segundo y la espera media de cada estudiante (latencia). Usa Velocidad para que vaya más rápido; todos los tiempos se dan en segundos del escenario, así que los totales siguen cuadrando con la aritmética."
    ),
    knobs: KNOBS,
    body,
    metrics,
    python,
    plots: &[
        PlotSpec {
            title: t!("Students done", "Estudiantes atendidos"),
            series: &[
                (
                    SeriesRef::Counter("done_sequential"),
                    t!("one after another", "uno tras otro"),
                ),
                (
                    SeriesRef::Counter("done_threads"),
                    t!("a thread each", "un hilo cada uno"),
                ),
                (
                    SeriesRef::Counter("done_pool"),
                    t!("a pool of workers", "un pool de trabajadores"),
                ),
            ],
        },
        PlotSpec {
            title: t!("Students in progress", "Estudiantes en curso"),
            series: &[(
                SeriesRef::Counter("in_progress"),
                t!("being processed at once", "atendidos a la vez"),
            )],
        },
    ],
    extra: Extra::Bars(&[
        BarGroup {
            title: t!("Total time", "Tiempo total"),
            bars: &[
                (
                    "sequential_seconds",
                    t!("one after another", "uno tras otro"),
                ),
                ("threads_seconds", t!("a thread each", "un hilo cada uno")),
                ("pool_seconds", t!("a pool", "un pool")),
            ],
            unit: t!("s", "s"),
        },
        BarGroup {
            title: t!("Students per second", "Estudiantes por segundo"),
            bars: &[
                (
                    "sequential_throughput",
                    t!("one after another", "uno tras otro"),
                ),
                (
                    "threads_throughput",
                    t!("a thread each", "un hilo cada uno"),
                ),
                ("pool_throughput", t!("a pool", "un pool")),
            ],
            unit: t!("/s", "/s"),
        },
        BarGroup {
            title: t!("Mean wait per student", "Espera media por estudiante"),
            bars: &[
                (
                    "sequential_latency",
                    t!("one after another", "uno tras otro"),
                ),
                ("threads_latency", t!("a thread each", "un hilo cada uno")),
                ("pool_latency", t!("a pool", "un pool")),
            ],
            unit: t!("s", "s"),
        },
    ]),
    outcomes: &[
        Outcome {
            metric: "sequential_seconds",
            label: t!("one after another: total (s)", "uno tras otro: total (s)"),
            printed_after: "sequential took",
            agree: ROUGHLY,
        },
        Outcome {
            metric: "threads_seconds",
            label: t!("a thread each: total (s)", "un hilo cada uno: total (s)"),
            printed_after: "threads took",
            agree: ROUGHLY,
        },
        Outcome {
            metric: "pool_seconds",
            label: t!("a pool: total (s)", "un pool: total (s)"),
            printed_after: "pool took",
            agree: ROUGHLY,
        },
        Outcome {
            metric: "sequential_latency",
            label: t!(
                "one after another: mean wait (s)",
                "uno tras otro: espera media (s)"
            ),
            printed_after: "sequential mean latency",
            agree: ROUGHLY,
        },
        Outcome {
            metric: "threads_latency",
            label: t!(
                "a thread each: mean wait (s)",
                "un hilo cada uno: espera media (s)"
            ),
            printed_after: "threads mean latency",
            agree: ROUGHLY,
        },
        Outcome {
            metric: "pool_latency",
            label: t!("a pool: mean wait (s)", "un pool: espera media (s)"),
            printed_after: "pool mean latency",
            agree: ROUGHLY,
        },
    ],
    check_knobs: &[
        ("students", 4.0),
        ("workers", 2.0),
        ("attach", 0.05),
        ("store", 0.2),
        ("validate", 0.01),
        ("notify", 0.01),
    ],
    stepping: Stepping::Yes(super::ENDS_WELL),
};

const ROUGHLY: Agree = Agree::Roughly {
    rel: 0.15,
    abs: 0.1,
    why: JITTER,
};

/// One payment step after another for `student`; returns when it is done
/// (scenario seconds since `started`), which is that student's wait.
fn process_payment(
    c: &Ctx,
    student: usize,
    started: Instant,
    counters: &Counters,
) -> SyncResult<f64> {
    counters.in_progress.add(1);
    for (what, knob) in STEPS {
        c.log(format!("Student {student}: {what}"));
        c.sleep(c.knob(knob))?;
    }
    counters.in_progress.add(-1);
    c.log(format!("Student {student}: payment registered"));
    Ok(scenario_seconds(c, started))
}

#[derive(Clone)]
struct Counters {
    in_progress: Counter,
    done: Counter,
}

/// How long one student's payment takes with the knobs as they are.
fn step_seconds(ctx: &Ctx) -> f64 {
    STEPS.iter().map(|(_, k)| ctx.knob(k)).sum()
}

/// Every student through `strategy`; the times each was done at.
fn run_strategy(
    ctx: &Ctx,
    strategy: &str,
    students: usize,
    counters: &Counters,
) -> SyncResult<Vec<f64>> {
    let lab = ctx.lab();
    let started = Instant::now();
    let done_at = Arc::new(Mutex::new(Vec::with_capacity(students)));
    match strategy {
        "sequential" => {
            for s in 1..=students {
                let t = process_payment(ctx, s, started, counters)?;
                counters.done.add(1);
                done_at.lock().push(t);
            }
        }
        "threads" => {
            let threads: Vec<Thread> = (1..=students)
                .map(|s| {
                    let (counters, done_at) = (counters.clone(), done_at.clone());
                    lab.thread_for("worker", false, move |c| {
                        let t = process_payment(c, s, started, &counters)?;
                        counters.done.add(1);
                        done_at.lock().push(t);
                        Ok(())
                    })
                })
                .collect();
            for t in &threads {
                t.start()?;
            }
            for t in &threads {
                t.join(None)?;
            }
        }
        _ => {
            ThreadPoolExecutor::with(&lab, ctx.knob_usize("workers"), |executor| {
                let c2 = counters.clone();
                let results = executor.map(
                    "process_payment",
                    move |c, s: usize| {
                        let t = process_payment(c, s, started, &c2)?;
                        c2.done.add(1);
                        Ok(t)
                    },
                    1..=students,
                )?;
                for t in results {
                    done_at.lock().push(t?);
                }
                Ok(())
            })?;
        }
    }
    let v = done_at.lock().clone();
    Ok(v)
}

/// The arithmetic of the steps: what each strategy should take in all.
fn expected(strategy: &str, students: usize, workers: usize, step: f64) -> f64 {
    match strategy {
        "sequential" => students as f64 * step,
        "threads" => step,
        _ => students.div_ceil(workers.max(1)) as f64 * step,
    }
}

fn body(ctx: &Ctx) -> SyncResult<()> {
    let lab = ctx.lab();
    let students = ctx.knob_usize("students");
    let in_progress = lab.counter("in_progress");
    for strategy in STRATEGIES {
        let counters = Counters {
            in_progress: in_progress.clone(),
            done: lab.counter(&format!("done_{strategy}")),
        };
        if !ctx.knob_bool(strategy) {
            ctx.log(format!("Main    : {strategy} took 0 s: skipped"));
            ctx.log(format!("Main    : {strategy} mean latency 0 s: skipped"));
            continue;
        }
        let workers = ctx.knob_usize("workers");
        let step = step_seconds(ctx);
        let total_expected = expected(strategy, students, workers, step);
        ctx.log(format!(
            "Main    : {strategy}: {students} students, {} s each",
            py_num(step)
        ));
        let started = Instant::now();
        let done_at = run_strategy(ctx, strategy, students, &counters)?;
        let took = scenario_seconds(ctx, started);
        let mean = done_at.iter().sum::<f64>() / done_at.len().max(1) as f64;
        let longest = done_at.iter().copied().fold(0.0, f64::max);
        lab.counter(&format!("{strategy}_ms")).set(to_ms(took));
        lab.counter(&format!("{strategy}_latency_ms"))
            .set(to_ms(mean));
        lab.counter(&format!("{strategy}_expected_ms"))
            .set(to_ms(total_expected));
        ctx.log(format!(
            "Main    : {strategy} took {took:.2} s for {students} students ({:.2} students/s)",
            students as f64 / took.max(1e-9)
        ));
        ctx.log(format!(
            "Main    : {strategy} mean latency {mean:.2} s, longest {longest:.2} s"
        ));
    }
    Ok(())
}

fn metrics(record: &Record) -> Vec<Metric> {
    let students = record
        .counter_value("done_sequential")
        .into_iter()
        .chain(record.counter_value("done_threads"))
        .chain(record.counter_value("done_pool"))
        .max()
        .unwrap_or(0) as f64;
    let total = |s: &str| ms_counter_seconds(record, &format!("{s}_ms"));
    let throughput = |s: &str| {
        let done = record.counter_value(&format!("done_{s}")).unwrap_or(0) as f64;
        let t = total(s);
        if t > 0.0 { round2(done / t) } else { 0.0 }
    };
    let speedup = |s: &str| speedup(total("sequential"), total(s));
    let mut m = vec![Metric {
        name: "students",
        label: t!("students", "estudiantes"),
        value: students,
    }];
    m.extend([
        ms_metric(
            record,
            "sequential_ms",
            "sequential_seconds",
            t!("one after another (s)", "uno tras otro (s)"),
        ),
        ms_metric(
            record,
            "threads_ms",
            "threads_seconds",
            t!("a thread each (s)", "un hilo cada uno (s)"),
        ),
        ms_metric(
            record,
            "pool_ms",
            "pool_seconds",
            t!("a pool (s)", "un pool (s)"),
        ),
        Metric {
            name: "sequential_throughput",
            label: t!(
                "one after another (students/s)",
                "uno tras otro (estudiantes/s)"
            ),
            value: throughput("sequential"),
        },
        Metric {
            name: "threads_throughput",
            label: t!(
                "a thread each (students/s)",
                "un hilo cada uno (estudiantes/s)"
            ),
            value: throughput("threads"),
        },
        Metric {
            name: "pool_throughput",
            label: t!("a pool (students/s)", "un pool (estudiantes/s)"),
            value: throughput("pool"),
        },
        ms_metric(
            record,
            "sequential_latency_ms",
            "sequential_latency",
            t!(
                "one after another: mean wait (s)",
                "uno tras otro: espera media (s)"
            ),
        ),
        ms_metric(
            record,
            "threads_latency_ms",
            "threads_latency",
            t!(
                "a thread each: mean wait (s)",
                "un hilo cada uno: espera media (s)"
            ),
        ),
        ms_metric(
            record,
            "pool_latency_ms",
            "pool_latency",
            t!("a pool: mean wait (s)", "un pool: espera media (s)"),
        ),
        ms_metric(
            record,
            "sequential_expected_ms",
            "sequential_expected",
            t!(
                "expected, one after another (s)",
                "esperado, uno tras otro (s)"
            ),
        ),
        ms_metric(
            record,
            "threads_expected_ms",
            "threads_expected",
            t!(
                "expected, a thread each (s)",
                "esperado, un hilo cada uno (s)"
            ),
        ),
        ms_metric(
            record,
            "pool_expected_ms",
            "pool_expected",
            t!("expected, a pool (s)", "esperado, un pool (s)"),
        ),
        Metric {
            name: "threads_speedup",
            label: t!(
                "speed-up, a thread each (×)",
                "aceleración, un hilo cada uno (×)"
            ),
            value: speedup("threads"),
        },
        Metric {
            name: "pool_speedup",
            label: t!("speed-up, a pool (×)", "aceleración, un pool (×)"),
            value: speedup("pool"),
        },
    ]);
    m
}

fn python(knobs: &Knobs) -> String {
    let n = |k: &str| knobs.get(k).round() as i64;
    let s = |k: &str| py_num(knobs.get(k));
    let on = |k: &str| if knobs.get(k) >= 0.5 { "True" } else { "False" };
    format!(
        r#"import concurrent.futures
import logging
import threading
import time

STUDENTS = {students}
WORKERS = {workers}
STEPS = [("attaching the receipt", {attach}),
         ("storing the receipt", {store}),
         ("validating the receipt", {validate}),
         ("sending the notification", {notify})]
RUN = {{"sequential": {run_seq}, "threads": {run_threads}, "pool": {run_pool}}}

def process_payment(student):
    """The four steps of one student's payment; returns when it was done."""
    for what, seconds in STEPS:
        logging.info("Student %d: %s", student, what)
        time.sleep(seconds)          # waiting on a disk or the network
    logging.info("Student %d: payment registered", student)
    return time.perf_counter()

def sequential(students):
    return [process_payment(s) for s in students]

def threads(students):
    done_at = []
    def worker(student):
        done_at.append(process_payment(student))   # list.append is thread-safe
    workers = [threading.Thread(target=worker, args=(s,)) for s in students]
    for t in workers:
        t.start()
    for t in workers:
        t.join()
    return done_at

def pool(students):
    with concurrent.futures.ThreadPoolExecutor(max_workers=WORKERS) as executor:
        return list(executor.map(process_payment, students))

if __name__ == "__main__":
    logging.basicConfig(format="%(asctime)s: %(message)s",
                        level=logging.INFO, datefmt="%H:%M:%S")
    students = range(1, STUDENTS + 1)      # they all arrive at once
    step = sum(seconds for _, seconds in STEPS)
    for name, strategy in [("sequential", sequential), ("threads", threads),
                           ("pool", pool)]:
        if not RUN[name]:
            logging.info("Main    : %s took 0 s: skipped", name)
            logging.info("Main    : %s mean latency 0 s: skipped", name)
            continue
        logging.info("Main    : %s: %d students, %g s each", name, STUDENTS, step)
        started = time.perf_counter()
        done_at = strategy(students)
        took = time.perf_counter() - started
        waits = [t - started for t in done_at]   # each student's latency
        logging.info("Main    : %s took %.2f s for %d students (%.2f students/s)",
                     name, took, STUDENTS, STUDENTS / took)
        logging.info("Main    : %s mean latency %.2f s, longest %.2f s",
                     name, sum(waits) / len(waits), max(waits))
"#,
        students = n("students"),
        workers = n("workers"),
        attach = s("attach"),
        store = s("store"),
        validate = s("validate"),
        notify = s("notify"),
        run_seq = on("sequential"),
        run_threads = on("threads"),
        run_pool = on("pool"),
    )
}
