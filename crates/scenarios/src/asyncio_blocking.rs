//! The blocking call that stalls everything: a time.sleep (or a CPU loop)
//! inside one coroutine holds the loop's only thread, so every other task
//! waits and the loop falls behind (its lag spikes to the block's length);
//! asyncio.to_thread moves the call to the executor's thread and the loop
//! keeps its beat. The event-loop twin of the frozen window.

use super::to_ms;
use std::time::Instant;

use super::{
    Agree, Extra, Group, JITTER, Metric, Outcome, PlotSpec, Scenario, SeriesRef, Stepping,
    counter_metric, py_num,
};
use crate::lab::aio::{self, LOOP_LAG_MS, PyResult};
use crate::lab::record::Record;
use crate::lab::sync::Counter;
use crate::lab::text::Text;
use crate::lab::{Ctx, KnobSpec, Knobs, SyncResult};
use crate::t;

/// The heartbeat's period and a download's wait per part, in seconds.
const TICK: f64 = 0.1;
const PART: f64 = 0.1;

const KNOBS: &[KnobSpec] = &[
    KnobSpec::seconds(
        "block",
        t!(
            "Blocking call: how long it takes",
            "Llamada bloqueante: cuánto tarda"
        ),
        0.05,
        5.0,
        0.5,
    ),
    KnobSpec::seconds(
        "every",
        t!("A report every", "Un informe cada"),
        0.2,
        10.0,
        1.0,
    ),
    KnobSpec::flag(
        "fix",
        t!(
            "Fix: run it with asyncio.to_thread",
            "Arreglo: ejecutarla con asyncio.to_thread"
        ),
        false,
    ),
    KnobSpec::flag(
        "cpu",
        t!(
            "The blocking call is a CPU loop (not time.sleep)",
            "La llamada bloqueante es un bucle de CPU (no time.sleep)"
        ),
        false,
    ),
    KnobSpec::int(
        "downloads",
        t!("Downloads meanwhile", "Descargas mientras tanto"),
        "tasks",
        1,
        10,
        3,
    )
    .not_live(AT_START),
    KnobSpec::seconds(
        "run_for",
        t!("The program runs for", "El programa corre durante"),
        1.0,
        600.0,
        5.0,
    )
    .not_live(AT_START),
];

const AT_START: Text = t!(
    "applies at the next Start: main creates the tasks and its sleep when it starts",
    "se aplica al próximo Inicio: main crea las tareas y su pausa al empezar"
);

pub static SCENARIO: Scenario = Scenario {
    id: "asyncio-blocking",
    group: Group::Async,
    title: t!(
        "asyncio: the blocking call that stalls everything",
        "asyncio: la llamada que lo bloquea todo"
    ),
    lesson: t!(
        "A blocking call inside a coroutine (time.sleep, a CPU loop) holds the event loop's only thread: every other task stops and the loop falls behind by the whole call. asyncio.to_thread runs it on another thread and the loop keeps going.",
        "Una llamada bloqueante dentro de una corrutina (time.sleep, un bucle de CPU) retiene el único hilo del bucle de eventos: todas las demás tareas se paran y el bucle se retrasa toda la duración de la llamada. asyncio.to_thread la ejecuta en otro hilo y el bucle sigue."
    ),
    explanation: t!(
        "The program is a small asyncio app: a heartbeat task ticks every 0.1 s and measures how late the loop wakes it; a few download tasks wait for the network (await asyncio.sleep(0.1)) part after part; and every so often a report task does some blocking work. Each task is named (create_task(…, name=…)), so each has a lane under its name.\n\n\
Asynchronous code only takes turns at await. time.sleep is not awaited: it holds the thread, and the loop's thread is the only one running tasks. Watch the timeline while the report blocks: its task lane stays 'running', MainThread (the loop's thread) is sleeping inside time.sleep, and every other lane stops where it was. The downloads line goes flat, and when the call returns the loop lag plot spikes to the length of the call: every timer that came due meanwhile runs that late. It is the frozen window of the Threads group again, with the event loop in the place of the window's frame loop.\n\n\
Tick the fix: the report awaits asyncio.to_thread(blocking_work, …). The call runs on the loop's executor thread (asyncio_0 appears, sleeping), the report task waits for it like for any other awaitable, and the heartbeat, the downloads and the lag stay as they were. The fix applies from the next report, as do the other knobs.\n\n\
With the CPU loop the lesson is the same on the loop's thread. With the fix, CPython's GIL still makes the loop share the interpreter with the busy thread (it gets it back every 5 ms), so its lag grows a little there; the lab has no GIL.",
        "El programa es una pequeña aplicación asyncio: una tarea de latido hace tic cada 0,1 s y mide con cuánto retraso la despierta el bucle; unas tareas de descarga esperan a la red (await asyncio.sleep(0.1)) parte tras parte; y cada cierto tiempo una tarea de informe hace un trabajo bloqueante. Cada tarea tiene nombre (create_task(…, name=…)), así que cada una tiene un carril con su nombre.\n\n\
El código asíncrono solo se turna en los await. time.sleep no se espera con await: retiene el hilo, y el hilo del bucle es el único que ejecuta las tareas. Mira la línea de tiempo mientras el informe bloquea: su carril sigue 'en ejecución', MainThread (el hilo del bucle) duerme dentro de time.sleep y todos los demás carriles se quedan donde estaban. La línea de descargas se queda plana y, cuando la llamada vuelve, la gráfica de retraso del bucle salta a la duración de la llamada: cada temporizador que venció mientras tanto se ejecuta así de tarde. Es otra vez la ventana congelada del grupo Hilos, con el bucle de eventos en el lugar del bucle de fotogramas.\n\n\
Marca el arreglo: el informe hace await asyncio.to_thread(blocking_work, …). La llamada corre en el hilo del ejecutor del bucle (aparece asyncio_0, durmiendo), la tarea de informe la espera como a cualquier otro awaitable, y el latido, las descargas y el retraso siguen como estaban. El arreglo se aplica desde el siguiente informe, igual que los demás controles.\n\n\
Con el bucle de CPU la lección es la misma en el hilo del bucle. Con el arreglo, el GIL de CPython aún obliga al bucle a compartir el intérprete con el hilo ocupado (lo recupera cada 5 ms), así que allí su retraso crece un poco; el laboratorio no tiene GIL."
    ),
    knobs: KNOBS,
    body,
    metrics,
    python,
    plots: &[
        PlotSpec {
            title: t!("Loop lag (ms)", "Retraso del bucle (ms)"),
            series: &[
                (
                    SeriesRef::Counter(LOOP_LAG_MS),
                    t!("lag, as the loop sees it", "retraso, según el bucle"),
                ),
                (
                    SeriesRef::Counter("heartbeat_lag_ms"),
                    t!("the heartbeat's lateness", "retraso del latido"),
                ),
                (
                    SeriesRef::Counter("blocking_ms"),
                    t!(
                        "blocking call running (its length)",
                        "llamada bloqueante en curso (su duración)"
                    ),
                ),
            ],
        },
        PlotSpec {
            title: t!("Downloads", "Descargas"),
            series: &[(
                SeriesRef::Counter("parts"),
                t!("parts downloaded", "partes descargadas"),
            )],
        },
    ],
    extra: Extra::EventLoop { against_n: &[] },
    outcomes: &[
        Outcome {
            metric: "longest_lag_ms",
            label: t!("longest loop lag (ms)", "mayor retraso del bucle (ms)"),
            printed_after: "longest loop lag:",
            agree: Agree::Roughly {
                rel: 0.1,
                abs: 150.0,
                why: t!(
                    "the heartbeat ticks every 0.1 s, so the tick that falls in a block is late by the block minus up to one tick; a CPU loop in a thread also competes for the CPU (and in CPython for the GIL)",
                    "el latido hace tic cada 0,1 s, así que el tic que cae en un bloqueo llega tarde la duración del bloqueo menos hasta un tic; un bucle de CPU en un hilo además compite por la CPU (y en CPython por el GIL)"
                ),
            },
        },
        Outcome {
            metric: "parts",
            label: t!("parts downloaded", "partes descargadas"),
            printed_after: "parts downloaded:",
            agree: Agree::Roughly {
                rel: 0.1,
                abs: 4.0,
                why: JITTER,
            },
        },
        Outcome {
            metric: "reports",
            label: t!("reports done", "informes hechos"),
            printed_after: "reports:",
            agree: Agree::Exactly,
        },
    ],
    check_knobs: &[("run_for", 2.0), ("every", 0.6), ("block", 0.4)],
    stepping: Stepping::No(super::NO_STEPPING_ASYNCIO),
};

/// `blocking_work(seconds)`: time.sleep, or a CPU loop for that long. It
/// holds whichever thread runs it (Stop still ends it).
fn blocking_work(ctx: &Ctx, seconds: f64, cpu: bool) -> SyncResult<()> {
    if !cpu {
        return ctx.sleep(seconds);
    }
    let end = Instant::now() + ctx.lab().scaled(seconds);
    let mut n: u64 = 0;
    while Instant::now() < end {
        for _ in 0..1000 {
            n = std::hint::black_box(n.wrapping_add(1));
        }
        ctx.check()?;
    }
    Ok(())
}

async fn heartbeat(ctx: Ctx, stop: aio::Event, lag: Counter, worst: Counter) -> PyResult<()> {
    let lab = ctx.lab();
    while !stop.is_set() {
        let due = Instant::now() + lab.scaled(TICK);
        aio::sleep(TICK).await?;
        // How late the loop woke us, in scenario time.
        let late = Instant::now().saturating_duration_since(due).as_secs_f64() * lab.speed();
        let ms = to_ms(late);
        lag.set(ms);
        if ms > worst.get() {
            worst.set(ms);
        }
    }
    Ok(())
}

async fn report(ctx: Ctx, stop: aio::Event, reports: Counter, blocking: Counter) -> PyResult<()> {
    loop {
        match aio::timeout(Some(ctx.knob("every")), stop.wait()).await {
            Ok(()) => return Ok(()),     // stop was set
            Err(aio::Exc::Timeout) => {} // time for the next report
            Err(e) => return Err(e),
        }
        let (block, cpu, fix) = (
            ctx.knob("block"),
            ctx.knob_bool("cpu"),
            ctx.knob_bool("fix"),
        );
        ctx.log(format!(
            "report: {} for {} s{}",
            if cpu { "a CPU loop" } else { "time.sleep" },
            py_num(block),
            if fix { " in a thread" } else { "" }
        ));
        blocking.set(to_ms(block));
        if fix {
            aio::to_thread(move |c| Ok(blocking_work(c, block, cpu)?)).await?;
        } else {
            // On the loop's own thread: nothing else runs until it returns.
            blocking_work(&ctx, block, cpu)?;
        }
        blocking.set(0);
        let n = reports.add(1);
        ctx.log(format!("report {n} done"));
    }
}

async fn download(ctx: Ctx, n: usize, stop: aio::Event, parts: Counter) -> PyResult<i64> {
    let mut mine = 0;
    while !stop.is_set() {
        aio::sleep(PART).await?; // waiting for the network: the others run
        mine += 1;
        parts.add(1);
    }
    ctx.log(format!("download {n}: {mine} parts"));
    Ok(mine)
}

async fn main(ctx: Ctx) -> PyResult<()> {
    let lab = ctx.lab();
    let lag = lab.counter("heartbeat_lag_ms");
    let worst = lab.counter("worst_heartbeat_lag_ms");
    let reports = lab.counter("reports");
    let blocking = lab.counter("blocking_ms");
    let parts = lab.counter("parts");
    let stop = aio::Event::new("stop");
    let beat = aio::create_task_named(
        "heartbeat",
        heartbeat(ctx.clone(), stop.clone(), lag, worst.clone()),
    );
    let reporter = aio::create_task_named(
        "report",
        report(ctx.clone(), stop.clone(), reports.clone(), blocking),
    );
    let downloads: Vec<_> = (1..=ctx.knob_usize("downloads"))
        .map(|n| {
            aio::create_task_named(
                &format!("download-{n}"),
                download(ctx.clone(), n, stop.clone(), parts.clone()),
            )
        })
        .collect();
    aio::sleep(ctx.knob("run_for")).await?;
    stop.set();
    beat.await?;
    reporter.await?;
    let total: i64 = aio::gather(downloads).await?.into_iter().sum();
    ctx.log(format!("longest loop lag: {} ms", worst.get()));
    ctx.log(format!("parts downloaded: {total}"));
    ctx.log(format!("reports: {}", reports.get()));
    Ok(())
}

fn body(ctx: &Ctx) -> SyncResult<()> {
    aio::run(ctx, main(ctx.clone()))
}

fn metrics(record: &Record) -> Vec<Metric> {
    let loop_worst = record
        .counter(LOOP_LAG_MS)
        .filter(|c| !c.series.is_empty())
        .map_or(0.0, |c| c.series.max);
    vec![
        Metric {
            name: "longest_lag_ms",
            label: t!(
                "longest loop lag, by the heartbeat (ms)",
                "mayor retraso del bucle, según el latido (ms)"
            ),
            value: record.counter_value("worst_heartbeat_lag_ms").unwrap_or(0) as f64,
        },
        Metric {
            name: "loop_lag_worst_ms",
            label: t!(
                "worst lag the loop measured (ms)",
                "peor retraso que midió el bucle (ms)"
            ),
            value: loop_worst,
        },
        counter_metric(
            record,
            "parts",
            t!("parts downloaded", "partes descargadas"),
        ),
        counter_metric(record, "reports", t!("reports done", "informes hechos")),
    ]
}

fn python(knobs: &Knobs) -> String {
    let fix = knobs.get("fix") >= 0.5;
    let cpu = knobs.get("cpu") >= 0.5;
    let work = if cpu {
        r#"def blocking_work(seconds):
    end = time.perf_counter() + seconds
    n = 0
    while time.perf_counter() < end:    # a CPU loop holds its thread too
        n += 1
    return n"#
    } else {
        r#"def blocking_work(seconds):
    time.sleep(seconds)                  # holds whichever thread runs it"#
    };
    let call = if fix {
        "        await asyncio.to_thread(blocking_work, BLOCK)   # the fix: another thread"
    } else {
        "        blocking_work(BLOCK)             # the loop's thread: everything waits"
    };
    format!(
        r#"import asyncio
import logging
import time

RUN_FOR = {run_for}
DOWNLOADS = {downloads}
EVERY = {every}      # a report every EVERY seconds...
BLOCK = {block}      # ...does blocking work this long
TICK = {TICK}        # the heartbeat's period
PART = {PART}        # a download waits this long for each part

{work}

async def heartbeat(stop):
    loop = asyncio.get_running_loop()
    worst = 0.0
    while not stop.is_set():
        due = loop.time() + TICK
        await asyncio.sleep(TICK)
        worst = max(worst, loop.time() - due)  # how late the loop woke us
    return worst

async def report(stop):
    reports = 0
    while True:
        try:
            async with asyncio.timeout(EVERY):
                await stop.wait()
            return reports                    # stop was set
        except TimeoutError:
            pass                              # time for the next report
        logging.info("report: {what} for %s s{thread}", BLOCK)
{call}
        reports += 1
        logging.info("report %d done", reports)

async def download(n, stop):
    parts = 0
    while not stop.is_set():
        await asyncio.sleep(PART)            # waiting for the network: the others run
        parts += 1
    logging.info("download %d: %d parts", n, parts)
    return parts

async def main():
    stop = asyncio.Event()
    beat = asyncio.create_task(heartbeat(stop), name="heartbeat")
    reporter = asyncio.create_task(report(stop), name="report")
    downloads = [asyncio.create_task(download(n, stop), name=f"download-{{n}}")
                 for n in range(1, DOWNLOADS + 1)]
    await asyncio.sleep(RUN_FOR)
    stop.set()
    worst = await beat
    reports = await reporter
    parts = sum(await asyncio.gather(*downloads))
    print(f"longest loop lag: {{worst * 1000:.0f}} ms")
    print(f"parts downloaded: {{parts}}")
    print(f"reports: {{reports}}")

if __name__ == "__main__":
    logging.basicConfig(format="%(asctime)s: %(message)s",
                        level=logging.INFO, datefmt="%H:%M:%S")
    asyncio.run(main())
"#,
        run_for = py_num(knobs.get("run_for")),
        downloads = knobs.get("downloads").round() as i64,
        every = py_num(knobs.get("every")),
        block = py_num(knobs.get("block")),
        what = if cpu { "a CPU loop" } else { "time.sleep" },
        thread = if fix { " in a thread" } else { "" },
    )
}
