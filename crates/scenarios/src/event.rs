//! `threading.Event`: waiters block on wait() and all wake at set();
//! clear() makes later waiters block again; wait(timeout) returns False
//! when the timeout passes first (seed 000; seed 003's git-push example).

use std::time::Duration;

use super::{
    Agree, Extra, Group, Metric, Outcome, PlotSpec, Scenario, SeriesRef, Stepping, counter_metric,
    py_num,
};
use crate::lab::record::Record;
use crate::lab::text::Text;
use crate::lab::{Ctx, KnobSpec, Knobs, SyncResult, Thread};
use crate::t;

const AT_START: Text = t!(
    "applies at the next Start: the threads start waiting as soon as it starts",
    "se aplica al próximo Inicio: los hilos empiezan a esperar nada más empezar"
);

const KNOBS: &[KnobSpec] = &[
    KnobSpec::int(
        "waiters",
        t!(
            "Developers waiting for the push",
            "Desarrolladores esperando el push"
        ),
        "threads",
        1,
        16,
        4,
    )
    .not_live(AT_START),
    KnobSpec::seconds(
        "set_after",
        t!("Main pushes (set) after", "Main hace push (set) tras"),
        0.05,
        30.0,
        2.0,
    ),
    KnobSpec::int(
        "impatient",
        t!(
            "Of them, waiting with a timeout",
            "De ellos, esperan con tiempo límite"
        ),
        "threads",
        0,
        16,
        1,
    )
    .not_live(AT_START),
    KnobSpec::seconds(
        "timeout",
        t!("Their timeout", "Su tiempo límite"),
        0.05,
        30.0,
        1.0,
    )
    .not_live(AT_START),
    KnobSpec::int(
        "latecomers",
        t!("Latecomers, after the push", "Rezagados, tras el push"),
        "threads",
        0,
        8,
        2,
    )
    .not_live(AT_START),
    KnobSpec::flag(
        "clear",
        t!(
            "Main calls clear() before the latecomers come",
            "Main llama a clear() antes de que lleguen los rezagados"
        ),
        true,
    ),
];

pub static SCENARIO: Scenario = Scenario {
    id: "event",
    group: Group::Synchronisation,
    title: t!(
        "Event: one signal, many waiters",
        "Event: una señal, muchos esperando"
    ),
    lesson: t!(
        "Event.set() wakes every thread waiting on wait() at once; clear() makes later waiters block again; wait(timeout) returns False when the timeout passes first.",
        "Event.set() despierta a la vez a todos los hilos que esperan en wait(); clear() hace que los siguientes vuelvan a bloquearse; wait(timeout) devuelve False si el tiempo límite llega antes."
    ),
    explanation: t!(
        "Several developers want to pull, but only after Main has pushed its commits: they all call pushed.wait() on one Event and block (yellow lanes). When Main calls pushed.set(), every one of them wakes at the same moment and goes on: an Event wakes all its waiters, not one. Drag 'Main pushes after' while they wait.\n\n\
The impatient ones call pushed.wait(timeout). If the push comes first they go on like the others; if the timeout passes first, wait() returns False, and their lane stops waiting early, before the push: the program must check that return value.\n\n\
An Event stays set: a thread that calls wait() afterwards passes straight through. For its next change, Main calls pushed.clear(), so the latecomers that arrive now block again until the next set(). Untick clear() and run again: the latecomers never wait.",
        "Varios desarrolladores quieren hacer pull, pero solo después de que Main haya hecho push de sus commits: todos llaman a pushed.wait() sobre un mismo Event y se bloquean (carriles amarillos). Cuando Main llama a pushed.set(), todos despiertan en el mismo instante y siguen: un Event despierta a todos los que esperan, no a uno. Mueve 'Main hace push tras' mientras esperan.\n\n\
Los impacientes llaman a pushed.wait(timeout). Si el push llega antes siguen como los demás; si antes pasa el tiempo límite, wait() devuelve False y su carril deja de esperar pronto, antes del push: el programa debe mirar ese valor devuelto.\n\n\
Un Event sigue activado: un hilo que llama a wait() después pasa sin esperar. Para su siguiente cambio Main llama a pushed.clear(), así que los rezagados que llegan ahora vuelven a bloquearse hasta el siguiente set(). Desmarca clear() y vuelve a empezar: los rezagados no esperan nunca."
    ),
    knobs: KNOBS,
    body,
    metrics,
    python,
    plots: &[
        PlotSpec {
            title: t!("The event", "El evento"),
            series: &[
                (SeriesRef::Level("pushed"), t!("is_set()", "is_set()")),
                (
                    SeriesRef::Waiters("pushed"),
                    t!("threads waiting", "hilos esperando"),
                ),
            ],
        },
        PlotSpec {
            title: t!("How each wait ended", "Cómo acabó cada espera"),
            series: &[
                (
                    SeriesRef::Counter("woken"),
                    t!("woken by set()", "despertados por set()"),
                ),
                (
                    SeriesRef::Counter("timed_out"),
                    t!("timed out (False)", "tiempo agotado (False)"),
                ),
                (
                    SeriesRef::Counter("late_waited"),
                    t!("latecomers that waited", "rezagados que esperaron"),
                ),
            ],
        },
    ],
    extra: Extra::None,
    outcomes: &[
        Outcome {
            metric: "woken",
            label: t!("woken by the push", "despertados por el push"),
            printed_after: "woken by the push:",
            agree: Agree::Exactly,
        },
        Outcome {
            metric: "timed_out",
            label: t!(
                "gave up (wait returned False)",
                "se rindieron (wait devolvió False)"
            ),
            printed_after: "gave up (wait returned False):",
            agree: Agree::Exactly,
        },
        Outcome {
            metric: "late_waited",
            label: t!(
                "latecomers that had to wait",
                "rezagados que tuvieron que esperar"
            ),
            printed_after: "latecomers that had to wait:",
            agree: Agree::Exactly,
        },
    ],
    check_knobs: &[("waiters", 3.0), ("set_after", 0.6), ("timeout", 0.3)],
    stepping: Stepping::Yes(super::ENDS_WELL),
};

/// How often MainThread looks at the knob while it sleeps (real time).
const RECONCILE: Duration = Duration::from_millis(20);

/// `time.sleep(SET_AFTER)`, in slices so the knob applies live.
fn sleep_until_set_after(ctx: &Ctx) -> SyncResult<()> {
    let lab = ctx.lab();
    let mut slept = 0.0;
    let mut last = lab.now();
    while slept < ctx.knob("set_after") {
        ctx.sleep_real(RECONCILE)?;
        let now = lab.now();
        slept += (now - last).as_secs_f64() * lab.speed();
        last = now;
    }
    Ok(())
}

fn body(ctx: &Ctx) -> SyncResult<()> {
    let lab = ctx.lab();
    let pushed = lab.event("pushed");
    let woken = lab.counter("woken");
    let timed_out = lab.counter("timed_out");
    let late_waited = lab.counter("late_waited");
    let waiters = ctx.knob_usize("waiters");
    let impatient = ctx.knob_usize("impatient").min(waiters);
    let timeout = ctx.knob("timeout");
    let latecomers = ctx.knob_usize("latecomers");

    let devs: Vec<Thread> = (1..=waiters)
        .map(|i| {
            // The last `impatient` ones wait with a timeout.
            let timeout = (i > waiters - impatient).then_some(timeout);
            let (pushed, woken, timed_out) = (pushed.clone(), woken.clone(), timed_out.clone());
            ctx.thread(&format!("Dev-{i}"), false, move |c| {
                match timeout {
                    None => c.log(format!("{}: waiting for the push", c.name())),
                    Some(t) => c.log(format!(
                        "{}: waiting for the push, {} s at most",
                        c.name(),
                        py_num(t)
                    )),
                }
                if pushed.wait(timeout)? {
                    woken.add(1);
                    c.log(format!("{}: the push is in, pulling", c.name()));
                } else {
                    timed_out.add(1);
                    c.log(format!("{}: gave up: wait() returned False", c.name()));
                }
                Ok(())
            })
        })
        .collect();
    for t in &devs {
        t.start()?;
    }
    sleep_until_set_after(ctx)?;
    ctx.log("Main: pushed: pushed.set()");
    pushed.set();
    for t in &devs {
        t.join(None)?;
    }
    let clear = ctx.knob_bool("clear");
    if clear {
        pushed.clear();
        ctx.log("Main: working on the next change: pushed.clear()");
    }
    let late: Vec<Thread> = (1..=latecomers)
        .map(|i| {
            let (pushed, late_waited) = (pushed.clone(), late_waited.clone());
            ctx.thread(&format!("Late-{i}"), false, move |c| {
                if pushed.is_set() {
                    c.log(format!("{}: the push is already in: no wait", c.name()));
                } else {
                    late_waited.add(1);
                    c.log(format!("{}: no push yet: waiting", c.name()));
                }
                pushed.wait(None)?;
                c.log(format!("{}: pulling", c.name()));
                Ok(())
            })
        })
        .collect();
    for t in &late {
        t.start()?;
    }
    if clear {
        sleep_until_set_after(ctx)?;
        ctx.log("Main: pushed again: pushed.set()");
        pushed.set();
    }
    for t in &late {
        t.join(None)?;
    }
    ctx.log(format!("Main: woken by the push: {}", woken.get()));
    ctx.log(format!(
        "Main: gave up (wait returned False): {}",
        timed_out.get()
    ));
    ctx.log(format!(
        "Main: latecomers that had to wait: {}",
        late_waited.get()
    ));
    Ok(())
}

fn metrics(record: &Record) -> Vec<Metric> {
    vec![
        counter_metric(
            record,
            "woken",
            t!("woken by the push", "despertados por el push"),
        ),
        counter_metric(
            record,
            "timed_out",
            t!(
                "gave up (wait returned False)",
                "se rindieron (wait devolvió False)"
            ),
        ),
        counter_metric(
            record,
            "late_waited",
            t!(
                "latecomers that had to wait",
                "rezagados que tuvieron que esperar"
            ),
        ),
        Metric {
            name: "most_waiting",
            label: t!("most waiting at once", "máximo esperando a la vez"),
            value: record
                .resource_by_name("pushed")
                .filter(|r| !r.waiters_series.is_empty())
                .map_or(0.0, |r| r.waiters_series.max),
        },
    ]
}

fn python(knobs: &Knobs) -> String {
    let n = |k: &str| knobs.get(k).round() as i64;
    let waiters = n("waiters");
    format!(
        r#"import logging
import threading
import time

WAITERS = {waiters}
IMPATIENT = {impatient}  # the last ones wait with a timeout
TIMEOUT = {timeout}
SET_AFTER = {set_after}  # Main pushes after this long
LATECOMERS = {latecomers}
CLEAR = {clear}  # clear() before the latecomers come

pushed = threading.Event()     # set once Main has pushed its commits
stats_lock = threading.Lock()
woken = timed_out = late_waited = 0

def developer(name, timeout):
    global woken, timed_out
    if timeout is None:
        logging.info("%s: waiting for the push", name)
    else:
        logging.info("%s: waiting for the push, %s s at most", name, timeout)
    if pushed.wait(timeout):   # True once set; False if the timeout came first
        with stats_lock:
            woken += 1
        logging.info("%s: the push is in, pulling", name)
    else:
        with stats_lock:
            timed_out += 1
        logging.info("%s: gave up: wait() returned False", name)

def latecomer(name):
    global late_waited
    if pushed.is_set():
        logging.info("%s: the push is already in: no wait", name)
    else:
        with stats_lock:
            late_waited += 1
        logging.info("%s: no push yet: waiting", name)
    pushed.wait()
    logging.info("%s: pulling", name)

if __name__ == "__main__":
    logging.basicConfig(format="%(asctime)s: %(message)s",
                        level=logging.INFO, datefmt="%H:%M:%S")
    devs = []
    for i in range(1, WAITERS + 1):
        timeout = TIMEOUT if i > WAITERS - IMPATIENT else None
        devs.append(threading.Thread(target=developer, name=f"Dev-{{i}}",
                                     args=(f"Dev-{{i}}", timeout)))
    for t in devs:
        t.start()
    time.sleep(SET_AFTER)
    logging.info("Main: pushed: pushed.set()")
    pushed.set()               # wakes every waiting thread at once
    for t in devs:
        t.join()
    if CLEAR:
        pushed.clear()         # from now on wait() blocks again
        logging.info("Main: working on the next change: pushed.clear()")
    late = [threading.Thread(target=latecomer, name=f"Late-{{i}}",
                             args=(f"Late-{{i}}",))
            for i in range(1, LATECOMERS + 1)]
    for t in late:
        t.start()
    if CLEAR:
        time.sleep(SET_AFTER)
        logging.info("Main: pushed again: pushed.set()")
        pushed.set()
    for t in late:
        t.join()
    logging.info("Main: woken by the push: %d", woken)
    logging.info("Main: gave up (wait returned False): %d", timed_out)
    logging.info("Main: latecomers that had to wait: %d", late_waited)
"#,
        impatient = n("impatient").min(waiters),
        timeout = py_num(knobs.get("timeout")),
        set_after = py_num(knobs.get("set_after")),
        latecomers = n("latecomers"),
        clear = if knobs.get("clear") >= 0.5 {
            "True"
        } else {
            "False"
        },
    )
}
