//! A Semaphore limits how many clients download at once (seed 000's
//! downloads, seed 001's connection pool); a BoundedSemaphore refuses the
//! release one too many that a plain Semaphore silently accepts.

use std::sync::Arc;
use std::sync::atomic::{AtomicI64, Ordering};
use std::time::Duration;

use super::{
    Agree, Extra, Group, JITTER, Metric, Outcome, PlotSpec, Scenario, SeriesRef, Stepping,
    failed_with, py_num, role_seconds,
};
use crate::lab::record::Record;
use crate::lab::text::Text;
use crate::lab::{Ctx, KnobSpec, Knobs, State, SyncResult, Thread};
use crate::t;

const AT_START: Text = t!(
    "applies at the next Start: the clients and the semaphore are made when it starts",
    "se aplica al próximo Inicio: los clientes y el semáforo se crean al empezar"
);

const KNOBS: &[KnobSpec] = &[
    KnobSpec::int(
        "permits",
        t!(
            "Permits (the Semaphore's value)",
            "Permisos (valor del Semaphore)"
        ),
        "permits",
        1,
        16,
        2,
    ),
    // Six clients: each keeps a lane of its own on the timeline (larger
    // groups start folded into one).
    KnobSpec::int("clients", t!("Clients", "Clientes"), "clients", 1, 64, 6).not_live(AT_START),
    KnobSpec::seconds(
        "hold",
        t!("Time a download takes", "Tiempo que tarda una descarga"),
        0.01,
        5.0,
        1.0,
    ),
    KnobSpec::flag(
        "bounded",
        t!("Use a BoundedSemaphore", "Usar un BoundedSemaphore"),
        false,
    )
    .not_live(AT_START),
    KnobSpec::flag(
        "buggy",
        t!(
            "Bug: Client-1 releases twice",
            "Error: Client-1 libera dos veces"
        ),
        false,
    )
    .not_live(t!(
        "applies at the next Start: with the bug, Client-1 goes first, alone",
        "se aplica al próximo Inicio: con el error, Client-1 va primero, solo"
    )),
];

pub static SCENARIO: Scenario = Scenario {
    id: "semaphore",
    group: Group::Synchronisation,
    title: t!("Semaphore: limit downloads", "Semáforo: limitar descargas"),
    lesson: t!(
        "A Semaphore(N) lets at most N threads in at once: the rest wait for a permit. A BoundedSemaphore also refuses a release one too many, which a plain Semaphore silently turns into an extra permit.",
        "Un Semaphore(N) deja pasar como mucho a N hilos a la vez: el resto espera un permiso. Un BoundedSemaphore además rechaza una liberación de más, que un Semaphore normal convierte sin avisar en un permiso extra."
    ),
    explanation: t!(
        "Each client is a thread that wants to download a file, and the server accepts only a few connections at a time. The Semaphore is a counter of free permits: acquire() takes one, or waits while there are none; release() gives one back and wakes a waiting client. `with pool:` does both around the download.\n\n\
Watch the plots: free permits fall to 0 and clients pile up waiting (red lanes); downloads at once never go above the permits line, and reach it whenever more clients want in than there are permits. The clients go through in rounds, so the whole run takes about ceil(clients / permits) × the download time. Drag the permits while it runs: more permits, more downloads at once.\n\n\
Now tick the bug: Client-1 calls release() a second time. Main lets it download alone first, then starts the others. With a plain Semaphore nothing complains: the counter just grows, the free permits line climbs above the permits, and from then on one download more than allowed runs at once. With a BoundedSemaphore the extra release raises ValueError: Client-1's lane ends failed with Python's message, and the limit holds.\n\n\
Why alone? A BoundedSemaphore only compares its counter with the value it started with. A release one too many made while other threads hold permits does not push it over, so it slips through, and the ValueError comes later, in whichever thread gives back the last permit: an innocent one.",
        "Cada cliente es un hilo que quiere descargar un archivo, y el servidor solo acepta unas pocas conexiones a la vez. El Semaphore es un contador de permisos libres: acquire() toma uno, o espera mientras no queda ninguno; release() lo devuelve y despierta a un cliente que espera. `with pool:` hace las dos cosas alrededor de la descarga.\n\n\
Mira las gráficas: los permisos libres caen a 0 y los clientes se acumulan esperando (carriles en rojo); las descargas simultáneas nunca pasan de la línea de permisos y la alcanzan siempre que hay más clientes que permisos. Los clientes pasan por tandas, así que todo tarda unas ceil(clientes / permisos) × el tiempo de una descarga. Mueve los permisos mientras corre: más permisos, más descargas a la vez.\n\n\
Ahora marca el error: Client-1 llama a release() una segunda vez. Main lo deja descargar solo primero y luego arranca a los demás. Con un Semaphore normal nadie se queja: el contador crece, la línea de permisos libres sube por encima de los permisos y desde entonces corre una descarga más de las permitidas. Con un BoundedSemaphore la liberación de más lanza ValueError: el carril de Client-1 termina fallido con el mensaje de Python, y el límite se mantiene.\n\n\
¿Por qué solo? Un BoundedSemaphore solo compara su contador con el valor con el que empezó. Una liberación de más hecha mientras otros hilos tienen permisos no lo hace pasarse, así que se cuela, y el ValueError llega más tarde, en el hilo que devuelva el último permiso: uno inocente."
    ),
    knobs: KNOBS,
    body,
    metrics,
    python,
    plots: &[
        PlotSpec {
            title: t!("Free permits", "Permisos libres"),
            series: &[
                (
                    SeriesRef::Level("pool"),
                    t!("free permits", "permisos libres"),
                ),
                (
                    SeriesRef::Capacity("pool"),
                    t!("permits (N)", "permisos (N)"),
                ),
                (
                    SeriesRef::Waiters("pool"),
                    t!("clients waiting", "clientes esperando"),
                ),
            ],
        },
        PlotSpec {
            title: t!("Downloads at once", "Descargas a la vez"),
            series: &[
                (
                    SeriesRef::Counter("downloading"),
                    t!("downloading now", "descargando ahora"),
                ),
                (
                    SeriesRef::Capacity("pool"),
                    t!("permits (N)", "permisos (N)"),
                ),
            ],
        },
    ],
    extra: Extra::None,
    outcomes: &[
        Outcome {
            metric: "peak_concurrency",
            label: t!("most downloads at once", "máximo de descargas a la vez"),
            printed_after: "most downloads at once:",
            agree: Agree::Exactly,
        },
        Outcome {
            metric: "downloads",
            label: t!("downloads done", "descargas hechas"),
            printed_after: "downloads done:",
            agree: Agree::Exactly,
        },
        Outcome {
            metric: "free_at_end",
            label: t!("free permits at the end", "permisos libres al final"),
            printed_after: "free permits at the end:",
            agree: Agree::Exactly,
        },
        Outcome {
            metric: "refused",
            label: t!(
                "over-releases refused (ValueError)",
                "liberaciones de más rechazadas (ValueError)"
            ),
            printed_after: "over-releases refused:",
            agree: Agree::Exactly,
        },
        Outcome {
            metric: "total_seconds",
            label: t!(
                "time for all downloads (s)",
                "tiempo de todas las descargas (s)"
            ),
            printed_after: "the downloads took",
            agree: Agree::Roughly {
                rel: 0.15,
                abs: 0.1,
                why: JITTER,
            },
        },
    ],
    check_knobs: &[("clients", 7.0), ("hold", 0.3)],
    stepping: Stepping::Yes(super::Invariant {
        holds: t!(
            "never more downloads at once than permits",
            "nunca más descargas a la vez que permisos"
        ),
        broken: too_many_at_once,
    }),
};

/// How often MainThread looks at the permits knob while it waits (real time).
const RECONCILE: Duration = Duration::from_millis(50);

fn body(ctx: &Ctx) -> SyncResult<()> {
    let lab = ctx.lab();
    let permits = ctx.knob_usize("permits");
    let clients = ctx.knob_usize("clients");
    let bounded = ctx.knob_bool("bounded");
    let pool = if bounded {
        lab.bounded_semaphore("pool", permits)
    } else {
        lab.semaphore("pool", permits)
    };
    // Downloads in progress: each client counts itself in once it holds a
    // permit and out before it gives the permit back, so this never runs
    // ahead of the permits actually held.
    let downloading = lab.counter("downloading");
    let done = lab.counter("downloads");
    let buggy = ctx.knob_bool("buggy");
    // For the closing log line only (the metric reads the record).
    let peak = Arc::new(AtomicI64::new(0));
    if buggy {
        ctx.log("Main: Client-1 goes first, alone");
    }
    ctx.log(format!(
        "Main: {clients} clients share a {}({permits})",
        if bounded {
            "BoundedSemaphore"
        } else {
            "Semaphore"
        }
    ));
    let workers: Vec<Thread> = (1..=clients)
        .map(|n| {
            let (pool, downloading, done, peak) = (
                pool.clone(),
                downloading.clone(),
                done.clone(),
                peak.clone(),
            );
            ctx.thread(&format!("Client-{n}"), false, move |c| {
                c.log(format!("{}: asking for a permit", c.name()));
                pool.acquire()?;
                let now = downloading.add(1);
                peak.fetch_max(now, Ordering::Relaxed);
                c.log(format!("{}: downloading ({now} at once)", c.name()));
                c.sleep(c.knob("hold"))?;
                downloading.add(-1);
                done.add(1);
                pool.release(1)?;
                c.log(format!("{}: done", c.name()));
                if n == 1 && buggy {
                    c.log(format!(
                        "{}: releases the semaphore again (the bug)",
                        c.name()
                    ));
                    // A BoundedSemaphore raises ValueError here and this
                    // thread dies of it; a plain one grows by a permit.
                    pool.release(1)?;
                }
                Ok(())
            })
        })
        .collect();
    let started = lab.now();
    for (i, w) in workers.iter().enumerate() {
        if i == 1 && buggy {
            // Client-1 has downloaded alone, so its second release came
            // while every permit was free: the moment a bounded one can tell.
            workers[0].join(None)?;
        }
        w.start()?;
        // CPython's Thread.start() returns once the new thread runs, so its
        // clients line up in order: Client-1 first. Start the next client
        // once this one holds a permit (sleeping) or waits for one.
        // (A gated lab runs one thread at a time anyway: no need, and no
        // way, to watch it get there.)
        while !lab.is_gated()
            && !matches!(w.state(), State::Sleeping | State::Blocked)
            && !w.is_finished()
        {
            ctx.check()?;
            std::thread::sleep(Duration::from_micros(50));
        }
    }
    // Join them all, following the permits knob meanwhile.
    let mut permits_now = permits;
    for w in &workers {
        while !w.join(Some(RECONCILE.as_secs_f64() * lab.speed()))? {
            let want = ctx.knob_usize("permits");
            if want != permits_now {
                pool.set_permits(want);
                permits_now = want;
            }
        }
    }
    let took = lab.now().duration_since(started).as_secs_f64() * lab.speed();
    let refused = workers
        .iter()
        .filter(|w| w.state() == State::Failed)
        .count();
    ctx.log(format!("Main: downloads done: {}", done.get()));
    ctx.log(format!(
        "Main: free permits at the end: {} (permits: {permits_now})",
        pool.free()
    ));
    ctx.log(format!(
        "Main: most downloads at once: {}",
        peak.load(Ordering::Relaxed)
    ));
    ctx.log(format!("Main: over-releases refused: {refused}"));
    ctx.log(format!("Main: the downloads took {took:.2} s"));
    Ok(())
}

/// The invariant "Break it" tries to break: the semaphore limits concurrency.
fn too_many_at_once(record: &Record, knobs: &Knobs) -> Option<String> {
    let metrics = metrics(record);
    let value = |name: &str| {
        metrics
            .iter()
            .find(|m| m.name == name)
            .map_or(0.0, |m| m.value)
    };
    let peak = value("peak_concurrency");
    let permits = knobs.get("permits");
    (peak > permits).then(|| format!("{peak} downloads at once with {permits} permits"))
}

fn metrics(record: &Record) -> Vec<Metric> {
    let pool = record.resource_by_name("pool");
    let series_or_zero = |s: Option<&crate::lab::series::Series>, max: bool| {
        s.filter(|s| !s.is_empty())
            .map_or(0.0, |s| if max { s.max } else { s.min })
    };
    vec![
        Metric {
            name: "peak_concurrency",
            label: t!("most downloads at once", "máximo de descargas a la vez"),
            value: series_or_zero(record.counter("downloading").map(|c| &c.series), true),
        },
        Metric {
            name: "permits",
            label: t!("permits now", "permisos ahora"),
            value: pool.and_then(|p| p.capacity).unwrap_or(0) as f64,
        },
        Metric {
            name: "downloads",
            label: t!("downloads done", "descargas hechas"),
            value: record.counter_value("downloads").unwrap_or(0) as f64,
        },
        Metric {
            name: "fewest_free",
            label: t!("fewest free permits", "mínimo de permisos libres"),
            value: series_or_zero(pool.map(|p| &p.level_series), false),
        },
        Metric {
            name: "free_at_end",
            label: t!("free permits at the end", "permisos libres al final"),
            value: pool.map_or(0.0, |p| p.level as f64),
        },
        Metric {
            name: "refused",
            label: t!(
                "over-releases refused (ValueError)",
                "liberaciones de más rechazadas (ValueError)"
            ),
            value: failed_with(record, "Client", "ValueError") as f64,
        },
        Metric {
            name: "total_seconds",
            label: t!(
                "time for all downloads (s)",
                "tiempo de todas las descargas (s)"
            ),
            value: (role_seconds(record, "Client") * 1000.0).round() / 1000.0,
        },
    ]
}

fn python(knobs: &Knobs) -> String {
    let n = |k: &str| knobs.get(k).round() as i64;
    let bounded = knobs.get("bounded") >= 0.5;
    let buggy = knobs.get("buggy") >= 0.5;
    let (kind, kind_note) = if bounded {
        ("BoundedSemaphore", "# refuses to go above PERMITS")
    } else {
        ("Semaphore", "# a counter of free permits")
    };
    let bug = if buggy {
        format!(
            r#"
    if name == "Client-1":
        logging.info("%s: releases the semaphore again (the bug)", name)
        try:
            pool.release()                  # one release too many
        except ValueError:                  # only a BoundedSemaphore raises it
            with stats_lock:
                refused += 1
            raise                           # and the thread dies of it
{}"#,
            if bounded {
                ""
            } else {
                "        # A plain Semaphore raised nothing: it now has one permit more."
            }
        )
        .trim_end()
        .to_string()
    } else {
        String::new()
    };
    format!(
        r#"import logging
import threading
import time

PERMITS = {permits}
CLIENTS = {clients}
HOLD = {hold}  # seconds a download takes

pool = threading.{kind}(PERMITS)  {kind_note}
stats_lock = threading.Lock()         # guards the numbers below
downloading = 0                       # downloads in progress now
peak = 0                              # the most at once
done = 0
refused = 0

def client(name):
    global downloading, peak, done, refused
    logging.info("%s: asking for a permit", name)
    with pool:                          # acquire() now, release() at the end
        with stats_lock:
            downloading += 1
            peak = max(peak, downloading)
            now = downloading
        logging.info("%s: downloading (%d at once)", name, now)
        time.sleep(HOLD)
        with stats_lock:
            downloading -= 1
            done += 1
    logging.info("%s: done", name){bug}

if __name__ == "__main__":
    logging.basicConfig(format="%(asctime)s: %(message)s",
                        level=logging.INFO, datefmt="%H:%M:%S")
{first_log}    logging.info("Main: %d clients share a {kind}(%d)", CLIENTS, PERMITS)
    threads = [threading.Thread(target=client, args=(f"Client-{{n}}",),
                                name=f"Client-{{n}}")
               for n in range(1, CLIENTS + 1)]
    started = time.perf_counter()
{start}
    for t in threads:
        t.join()
    took = time.perf_counter() - started
    free = 0
    while pool.acquire(blocking=False):  # count the free permits
        free += 1
    logging.info("Main: downloads done: %d", done)
    logging.info("Main: free permits at the end: %d (permits: %d)", free, PERMITS)
    logging.info("Main: most downloads at once: %d", peak)
    logging.info("Main: over-releases refused: %d", refused)
    logging.info("Main: the downloads took %.2f s", took)
"#,
        permits = n("permits"),
        clients = n("clients"),
        first_log = if buggy {
            "    logging.info(\"Main: Client-1 goes first, alone\")\n"
        } else {
            ""
        },
        start = if buggy {
            "    threads[0].start()                  # Client-1 goes first, alone,\n    threads[0].join()                   # so every permit is free at its bug\n    for t in threads[1:]:\n        t.start()"
        } else {
            "    for t in threads:\n        t.start()"
        },
        hold = py_num(knobs.get("hold")),
    )
}
