//! Daemon threads: when the main program ends, Python waits for every
//! non-daemon thread and cuts the daemon threads off wherever they are
//! (seeds 001, 003, 004: a writer, and a daemon checking its file).

use super::{
    Agree, Extra, Group, Metric, Outcome, PlotSpec, Scenario, SeriesRef, Stepping, counter_metric,
    py_num,
};
use crate::lab::record::Record;
use crate::lab::{Ctx, KnobSpec, Knobs, State, SyncResult};
use crate::t;

/// Lines the writer writes in all.
const LINES: usize = 10;
/// Checks the monitor means to make (it is cut off long before).
const CHECKS: usize = 100;

const KNOBS: &[KnobSpec] = &[
    KnobSpec::flag(
        "daemon",
        t!("The writer is a daemon thread", "El escritor es un hilo demonio"),
        false,
    )
    .not_live(t!(
        "applies at the next Start: daemon must be set before start() (Python raises RuntimeError after)",
        "se aplica al próximo Inicio: daemon se fija antes de start() (después Python lanza RuntimeError)"
    )),
    KnobSpec::seconds(
        "work",
        t!(
            "The writer's whole job (10 lines)",
            "Todo el trabajo del escritor (10 líneas)"
        ),
        0.1,
        60.0,
        3.0,
    ),
    KnobSpec::seconds(
        "main",
        t!(
            "The main program works for",
            "El programa principal trabaja durante"
        ),
        0.1,
        60.0,
        1.0,
    ),
    KnobSpec::seconds(
        "check_every",
        t!("The monitor checks every", "El monitor revisa cada"),
        0.05,
        5.0,
        0.25,
    ),
];

pub static SCENARIO: Scenario = Scenario {
    id: "daemon-threads",
    group: Group::Threads,
    title: t!("Daemon threads", "Hilos demonio"),
    lesson: t!(
        "When the main program ends, Python waits for every non-daemon thread to finish, and cuts the daemon threads off wherever they are: their last lines never appear.",
        "Cuando el programa principal termina, Python espera a que acabe cada hilo no demonio y corta los hilos demonio donde estén: sus últimas líneas nunca aparecen."
    ),
    explanation: t!(
        "Two threads start: a Writer that writes 10 lines into a file, one every work ÷ 10 seconds, and a Monitor, a daemon, that checks how many lines the file has, 100 times. The main program works for a while and then reaches its end.\n\n\
That moment, 'main exits', is where the lesson is. Python does not end yet: it waits for every thread that is not a daemon. With the Writer a normal thread, MainThread's lane turns orange (waiting, on join(Writer)) until the Writer has written all 10 lines and logged 'Writer: finished'. Then the functions given to atexit.register run, and then the daemons are cut off: the Monitor's lane ends dark red, killed, in the middle of its checks. Its last line, 'Monitor: finished checking', never appears.\n\n\
Tick 'The writer is a daemon thread' and start again. Now nothing keeps the program alive once main ends: the Writer is killed after a few lines, 'Writer: finished' is missing from the log, and the at-exit line says how many lines it got to write. A daemon suits work that may stop at any moment (a monitor, a heartbeat); never work that must finish, such as writing a file.",
        "Arrancan dos hilos: un Escritor (Writer) que escribe 10 líneas en un archivo, una cada work ÷ 10 segundos, y un Monitor, demonio, que revisa 100 veces cuántas líneas tiene el archivo. El programa principal trabaja un rato y llega a su final.\n\n\
Ese momento, 'main termina', es donde está la lección. Python aún no acaba: espera a todo hilo que no sea demonio. Con el Escritor como hilo normal, la línea de MainThread se pone naranja (esperando, en join(Writer)) hasta que el Escritor escribe las 10 líneas y registra 'Writer: finished'. Entonces se ejecutan las funciones dadas a atexit.register, y después se corta a los demonios: la línea del Monitor acaba en rojo oscuro, eliminado, a mitad de sus revisiones. Su última línea, 'Monitor: finished checking', no aparece nunca.\n\n\
Marca 'El escritor es un hilo demonio' y vuelve a empezar. Ahora nada mantiene vivo el programa cuando main termina: el Escritor muere tras unas pocas líneas, falta 'Writer: finished' en el registro, y la línea de salida dice cuántas llegó a escribir. Un demonio sirve para trabajo que puede pararse en cualquier momento (un monitor, un latido); nunca para trabajo que debe terminar, como escribir un archivo."
    ),
    knobs: KNOBS,
    body,
    metrics,
    python,
    plots: &[
        PlotSpec {
            title: t!("The program", "El programa"),
            series: &[
                (SeriesRef::AliveThreads, t!("threads alive", "hilos vivos")),
                (
                    SeriesRef::Counter("main_done"),
                    t!("main has ended (1)", "main ha terminado (1)"),
                ),
            ],
        },
        PlotSpec {
            title: t!("The writer's file", "El archivo del escritor"),
            series: &[(
                SeriesRef::Counter("lines_written"),
                t!("lines written", "líneas escritas"),
            )],
        },
    ],
    extra: Extra::None,
    outcomes: &[
        Outcome {
            metric: "lines_at_exit",
            label: t!(
                "lines the writer wrote, at exit",
                "líneas que escribió el escritor, al salir"
            ),
            printed_after: "writer wrote",
            agree: Agree::Within {
                abs: 1.0,
                why: t!(
                    "a daemon writer cut off right as it writes a line may count it on one side only",
                    "un escritor demonio cortado justo al escribir una línea puede contarla en un solo lado"
                ),
            },
        },
        Outcome {
            metric: "running_at_exit",
            label: t!(
                "threads still running at exit (main and daemons)",
                "hilos aún en marcha al salir (main y demonios)"
            ),
            printed_after: "threads still running:",
            agree: Agree::Exactly,
        },
    ],
    check_knobs: &[("work", 1.0), ("main", 0.3), ("check_every", 0.1)],
    stepping: Stepping::Yes(super::ENDS_WELL),
};

fn py_bool(b: bool) -> &'static str {
    if b { "True" } else { "False" }
}

fn body(ctx: &Ctx) -> SyncResult<()> {
    let lab = ctx.lab();
    let lines = lab.counter("lines_written");
    let main_done = lab.counter("main_done");
    let daemon = ctx.knob_bool("daemon");
    {
        // atexit.register(at_exit): runs after the non-daemon threads are
        // joined, before the daemons are cut off.
        let lines = lines.clone();
        lab.atexit_register(move |c| {
            let lab = c.lab();
            let written = lines.get();
            lab.counter("lines_at_exit").set(written);
            c.log(format!("At exit : writer wrote {written} of {LINES} lines"));
            let names: Vec<String> = lab
                .enumerate()
                .iter()
                .map(|t| format!("'{}'", t.name()))
                .collect();
            let running = lab.active_count();
            lab.counter("running_at_exit").set(running as i64);
            c.log(format!(
                "At exit : threads still running: {running} [{}]",
                names.join(", ")
            ));
            Ok(())
        });
    }
    let writer = {
        let lines = lines.clone();
        lab.thread("Writer", daemon, move |c| {
            c.log(format!("Writer: starting, {LINES} lines to write"));
            for line in 1..=LINES {
                c.sleep(c.knob("work") / LINES as f64)?;
                lines.add(1);
                c.log(format!("Writer: wrote line {line} of {LINES}"));
            }
            // The line a daemon cut off never writes.
            c.log("Writer: finished");
            Ok(())
        })
    };
    let monitor = {
        let lines = lines.clone();
        lab.thread("Monitor", true, move |c| {
            c.log(format!("Monitor: starting, {CHECKS} checks"));
            for check in 1..=CHECKS {
                c.sleep(c.knob("check_every"))?;
                c.log(format!(
                    "Monitor: check {check}: the file has {} lines",
                    lines.get()
                ));
            }
            c.log("Monitor: finished checking");
            Ok(())
        })
    };
    writer.start()?;
    monitor.start()?;
    ctx.log(format!(
        "Main    : started Writer (daemon={}) and Monitor (daemon=True)",
        py_bool(daemon)
    ));
    ctx.sleep(ctx.knob("main"))?;
    ctx.log("Main    : all done, leaving the main program");
    main_done.set(1);
    // Returning is "main exits": the lab now does what Python does.
    Ok(())
}

fn metrics(record: &Record) -> Vec<Metric> {
    let writer = record.threads().find(|t| &*t.name == "Writer");
    let killed_daemons = record
        .threads()
        .filter(|t| t.daemon && t.state == State::Killed)
        .count();
    vec![
        counter_metric(
            record,
            "lines_written",
            t!("lines written", "líneas escritas"),
        ),
        counter_metric(
            record,
            "lines_at_exit",
            t!("lines written at exit", "líneas escritas al salir"),
        ),
        counter_metric(
            record,
            "running_at_exit",
            t!("threads running at exit", "hilos en marcha al salir"),
        ),
        Metric {
            name: "writer_finished",
            label: t!("writer finished (1 = yes)", "el escritor terminó (1 = sí)"),
            value: f64::from(u8::from(writer.is_some_and(|w| w.state == State::Done))),
        },
        Metric {
            name: "daemons_killed",
            label: t!("daemon threads cut off", "hilos demonio cortados"),
            value: killed_daemons as f64,
        },
    ]
}

fn python(knobs: &Knobs) -> String {
    let daemon = knobs.get("daemon") >= 0.5;
    format!(
        r#"import atexit
import logging
import threading
import time

LINES = {LINES}
WORK = {work}         # the writer's whole job, in seconds
MAIN = {main}         # how long the main program works
CHECK_EVERY = {check_every}
CHECKS = {CHECKS}

lines_written = 0

def writer():
    global lines_written
    logging.info("Writer: starting, %d lines to write", LINES)
    for line in range(1, LINES + 1):
        time.sleep(WORK / LINES)
        lines_written += 1
        logging.info("Writer: wrote line %d of %d", line, LINES)
    logging.info("Writer: finished")   # a daemon cut off never gets here

def monitor():
    logging.info("Monitor: starting, %d checks", CHECKS)
    for check in range(1, CHECKS + 1):
        time.sleep(CHECK_EVERY)
        logging.info("Monitor: check %d: the file has %d lines",
                     check, lines_written)
    logging.info("Monitor: finished checking")

def at_exit():
    """Python calls this after waiting for the non-daemon threads,
    before it cuts the daemon threads off."""
    logging.info("At exit : writer wrote %d of %d lines", lines_written, LINES)
    logging.info("At exit : threads still running: %d %s",
                 threading.active_count(),
                 [t.name for t in threading.enumerate()])

if __name__ == "__main__":
    logging.basicConfig(format="%(asctime)s: %(message)s",
                        level=logging.INFO, datefmt="%H:%M:%S")
    atexit.register(at_exit)
    threading.Thread(target=writer, name="Writer", daemon={daemon}).start()
    threading.Thread(target=monitor, name="Monitor", daemon=True).start()
    logging.info("Main    : started Writer (daemon={daemon}) and Monitor (daemon=True)")
    time.sleep(MAIN)
    logging.info("Main    : all done, leaving the main program")
    # Python now waits for every non-daemon thread, runs at_exit,
    # and kills the daemon threads wherever they are.
"#,
        work = py_num(knobs.get("work")),
        main = py_num(knobs.get("main")),
        check_every = py_num(knobs.get("check_every")),
        daemon = py_bool(daemon),
    )
}
