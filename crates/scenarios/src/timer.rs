//! Timers: `threading.Timer(delay, f)` calls f once, in a thread of its own,
//! after the delay; one cancelled before then never calls it; a repeating
//! timer re-arms a new Timer after each call (seeds 000, 001, 004).

use std::sync::Arc;
use std::time::{Duration, Instant};

use super::{
    Agree, Extra, Group, Metric, Outcome, PlotSpec, Scenario, SeriesRef, Stepping, counter_metric,
    py_num,
};
use crate::lab::record::Record;
use crate::lab::sync::{Counter, Event};
use crate::lab::text::Text;
use crate::lab::{Ctx, KnobSpec, Knobs, LabHandle, State, SyncResult};
use crate::t;

const AT_START: Text = t!(
    "applies at the next Start: the timer is made, with its delay, when it starts",
    "se aplica al próximo Inicio: el temporizador se crea, con su espera, al empezar"
);

const KNOBS: &[KnobSpec] = &[
    KnobSpec::seconds(
        "interval",
        t!(
            "Repeating timer: interval",
            "Temporizador repetitivo: intervalo"
        ),
        0.05,
        5.0,
        0.5,
    ),
    KnobSpec::int(
        "ticks",
        t!(
            "Repeating timer: calls",
            "Temporizador repetitivo: llamadas"
        ),
        "calls",
        1,
        50,
        5,
    ),
    KnobSpec::seconds(
        "delay",
        t!("Reminder: fires after", "Recordatorio: se dispara tras"),
        0.05,
        10.0,
        1.0,
    )
    .not_live(AT_START),
    KnobSpec::seconds(
        "warn_delay",
        t!("Warning: would fire after", "Aviso: se dispararía tras"),
        0.05,
        10.0,
        3.0,
    )
    .not_live(AT_START),
    KnobSpec::seconds(
        "cancel_at",
        t!("Main cancels the warning at", "Main cancela el aviso a los"),
        0.05,
        10.0,
        2.0,
    ),
];

pub static SCENARIO: Scenario = Scenario {
    id: "timer",
    group: Group::Synchronisation,
    title: t!(
        "Timer: later, cancelled, repeating",
        "Timer: después, cancelado, repetitivo"
    ),
    lesson: t!(
        "threading.Timer(delay, f) calls f once, in a thread of its own, after the delay; cancel() before then and f never runs; threading has no repeating timer, so one is built by re-arming a new Timer after each call.",
        "threading.Timer(espera, f) llama a f una vez, en un hilo propio, pasada la espera; con cancel() antes, f no se ejecuta nunca; threading no tiene temporizador repetitivo, así que se construye armando un Timer nuevo tras cada llamada."
    ),
    explanation: t!(
        "A Timer is a Thread that first waits: start() begins the wait, and when the delay has passed it calls its function. Each Timer is a lane of its own on the timeline: waiting (yellow) while it is pending, a moment running when it fires, then done. The function runs some time after the delay, not exactly at it: nothing promises to the millisecond.\n\n\
Main starts three things at once. The Reminder fires after its delay. The Warning would fire later, but Main cancels it first: its lane stops waiting at the cancel and ends without ever calling warn(). Drag 'Main cancels the warning at' past the warning's delay and run again: the warning fires, and the cancel that comes after does nothing, with no error.\n\n\
threading has no repeating timer. The RepeatingTimer below makes one the way the tutorials do: every call arms a new Timer for the next, so the Tick lanes form a staircase, one Timer thread per call. Each new wait starts after the previous call, so the ticks drift a little later than exact multiples of the interval. The interval and the number of calls are read at each tick: drag them while it runs. The 'pending timers' plot counts the timers armed and not yet fired or cancelled.",
        "Un Timer es un Thread que primero espera: start() empieza la espera y, pasado el tiempo, llama a su función. Cada Timer es un carril propio en la línea de tiempo: esperando (amarillo) mientras está pendiente, un momento en ejecución cuando se dispara, y terminado. La función corre algo después de la espera, no justo en ella: nada lo promete al milisegundo.\n\n\
Main arranca tres cosas a la vez. El Reminder se dispara tras su espera. El Warning se dispararía más tarde, pero Main lo cancela antes: su carril deja de esperar en la cancelación y termina sin llamar nunca a warn(). Mueve 'Main cancela el aviso a los' más allá de la espera del aviso y vuelve a empezar: el aviso se dispara, y el cancel() que llega después no hace nada, sin error.\n\n\
threading no tiene temporizador repetitivo. El RepeatingTimer de abajo lo construye como hacen los tutoriales: cada llamada arma un Timer nuevo para la siguiente, así que los carriles Tick forman una escalera, un hilo Timer por llamada. Cada espera nueva empieza después de la llamada anterior, así que los ticks se retrasan un poco respecto a los múltiplos exactos del intervalo. El intervalo y el número de llamadas se leen en cada tick: muévelos mientras corre. La gráfica de 'temporizadores pendientes' cuenta los armados que aún no se dispararon ni se cancelaron."
    ),
    knobs: KNOBS,
    body,
    metrics,
    python,
    plots: &[
        PlotSpec {
            title: t!("Pending timers", "Temporizadores pendientes"),
            series: &[(
                SeriesRef::Counter("pending"),
                t!(
                    "armed, not yet fired or cancelled",
                    "armados, sin dispararse ni cancelarse"
                ),
            )],
        },
        PlotSpec {
            title: t!("Calls", "Llamadas"),
            series: &[
                (SeriesRef::Counter("ticks"), t!("ticks", "ticks")),
                (
                    SeriesRef::Counter("reminder_fired"),
                    t!("reminder fired", "recordatorio disparado"),
                ),
                (
                    SeriesRef::Counter("warning_fired"),
                    t!("warning fired", "aviso disparado"),
                ),
                (
                    SeriesRef::Counter("cancelled"),
                    t!("cancelled in time", "cancelados a tiempo"),
                ),
            ],
        },
    ],
    extra: Extra::None,
    outcomes: &[
        Outcome {
            metric: "reminder_fired",
            label: t!("reminder fired", "recordatorio disparado"),
            printed_after: "reminder fired:",
            agree: Agree::Exactly,
        },
        Outcome {
            metric: "warning_fired",
            label: t!("warning fired", "aviso disparado"),
            printed_after: "warning fired:",
            agree: Agree::Exactly,
        },
        Outcome {
            metric: "ticks",
            label: t!("ticks", "ticks"),
            printed_after: "ticks:",
            agree: Agree::Exactly,
        },
        Outcome {
            metric: "last_tick_at",
            label: t!("last tick at (s)", "último tick a los (s)"),
            printed_after: "last tick at",
            agree: Agree::Roughly {
                rel: 0.1,
                abs: 0.1,
                why: t!(
                    "a timer fires a little after its delay, by a different amount on each run, and every re-armed timer adds its own bit",
                    "un temporizador se dispara algo después de su espera, distinto en cada ejecución, y cada temporizador rearmado suma lo suyo"
                ),
            },
        },
    ],
    check_knobs: &[
        ("delay", 0.3),
        ("warn_delay", 0.9),
        ("cancel_at", 0.5),
        ("interval", 0.2),
        ("ticks", 4.0),
    ],
    stepping: Stepping::Yes(super::ENDS_WELL),
};

/// How often MainThread looks at the cancel time while it sleeps (real time).
const RECONCILE: Duration = Duration::from_millis(20);

/// The repeating timer: a Timer that, when it fires, arms the next.
struct Repeater {
    lab: LabHandle,
    pending: Counter,
    ticks: Counter,
    done: Event,
    started: Instant,
    /// When the last tick came, for Main's closing line (the metric reads
    /// the record).
    last: parking_lot::Mutex<f64>,
}

impl Repeater {
    /// Scenario seconds since Main started the timers.
    fn now(&self) -> f64 {
        self.lab.now().duration_since(self.started).as_secs_f64() * self.lab.speed()
    }

    /// Arm call number `n`: a new Timer that waits the interval (read now,
    /// so the knob applies live), then ticks and arms the next.
    fn arm(self: &Arc<Self>, n: usize) -> SyncResult<()> {
        let me = self.clone();
        let timer = self.lab.timer(
            &format!("Tick-{n}"),
            self.lab.knobs().get("interval"),
            move |c| {
                me.pending.add(-1);
                let count = me.ticks.add(1);
                let at = me.now();
                *me.last.lock() = at;
                c.log(format!("Tick {count} at {at:.2} s"));
                if (count as usize) < c.knob_usize("ticks") {
                    me.arm(n + 1)
                } else {
                    me.done.set();
                    Ok(())
                }
            },
        );
        self.pending.add(1);
        timer.start()
    }
}

fn body(ctx: &Ctx) -> SyncResult<()> {
    let lab = ctx.lab();
    let pending = lab.counter("pending");
    let reminder_fired = lab.counter("reminder_fired");
    let warning_fired = lab.counter("warning_fired");
    let cancelled = lab.counter("cancelled");
    let started = lab.now();
    let since =
        move |lab: &LabHandle| lab.now().duration_since(started).as_secs_f64() * lab.speed();
    let reminder = {
        let (pending, fired) = (pending.clone(), reminder_fired.clone());
        lab.timer("Reminder", ctx.knob("delay"), move |c| {
            pending.add(-1);
            fired.add(1);
            c.log(format!(
                "Reminder: time is up (at {:.2} s)",
                since(&c.lab())
            ));
            Ok(())
        })
    };
    let warning = {
        let (pending, fired) = (pending.clone(), warning_fired.clone());
        lab.timer("Warning", ctx.knob("warn_delay"), move |c| {
            pending.add(-1);
            fired.add(1);
            c.log(format!(
                "Warning: nobody answered (at {:.2} s)",
                since(&c.lab())
            ));
            Ok(())
        })
    };
    let repeater = Arc::new(Repeater {
        lab: lab.clone(),
        pending: pending.clone(),
        ticks: lab.counter("ticks"),
        done: lab.event("repeater.done"),
        started,
        last: parking_lot::Mutex::new(0.0),
    });
    ctx.log("Main: starting the timers");
    pending.add(1);
    reminder.start()?;
    pending.add(1);
    warning.start()?;
    repeater.arm(1)?;

    // time.sleep(CANCEL_AT), in slices so the knob applies live.
    while since(&lab) < ctx.knob("cancel_at") {
        ctx.sleep_real(RECONCILE)?;
    }
    // cancel() does nothing once the timer has fired (and raises nothing).
    if warning.cancel() {
        pending.add(-1);
        cancelled.add(1);
        ctx.log("Main: cancelled the warning before it fired");
    } else {
        ctx.log("Main: cancel() came too late: the warning already fired");
    }
    reminder.thread().join(None)?;
    repeater.done.wait(None)?;
    ctx.log(format!("Main: reminder fired: {}", reminder_fired.get()));
    ctx.log(format!("Main: warning fired: {}", warning_fired.get()));
    ctx.log(format!("Main: ticks: {}", repeater.ticks.get()));
    ctx.log(format!("Main: last tick at {:.2} s", *repeater.last.lock()));
    Ok(())
}

/// When the last Tick timer fired: the end of its wait, in scenario seconds
/// since the lab started.
fn last_tick_at(record: &Record) -> f64 {
    record
        .threads()
        .filter(|t| &*t.role == "Tick")
        .filter_map(|t| t.spans.iter().find(|s| s.state == State::Waiting))
        .map(|s| s.end)
        .fold(0.0, f64::max)
        * record.speed
}

fn metrics(record: &Record) -> Vec<Metric> {
    vec![
        counter_metric(
            record,
            "reminder_fired",
            t!("reminder fired", "recordatorio disparado"),
        ),
        counter_metric(
            record,
            "warning_fired",
            t!("warning fired", "aviso disparado"),
        ),
        counter_metric(
            record,
            "cancelled",
            t!("cancelled in time", "cancelados a tiempo"),
        ),
        counter_metric(record, "ticks", t!("ticks", "ticks")),
        counter_metric(record, "pending", t!("pending now", "pendientes ahora")),
        Metric {
            name: "last_tick_at",
            label: t!("last tick at (s)", "último tick a los (s)"),
            value: (last_tick_at(record) * 1000.0).round() / 1000.0,
        },
    ]
}

fn python(knobs: &Knobs) -> String {
    let s = |k: &str| py_num(knobs.get(k));
    format!(
        r#"import logging
import threading
import time

DELAY = {delay}  # the reminder fires after this
WARN_DELAY = {warn_delay}  # the warning would fire after this...
CANCEL_AT = {cancel_at}  # ...but Main cancels it at this time
INTERVAL = {interval}  # the repeating timer's interval
TICKS = {ticks}  # how many times it calls

started = time.perf_counter()
fired = {{"reminder": 0, "warning": 0}}
last_tick = 0.0

def now():
    return time.perf_counter() - started

def remind():
    fired["reminder"] += 1
    logging.info("Reminder: time is up (at %.2f s)", now())

def warn():
    fired["warning"] += 1
    logging.info("Warning: nobody answered (at %.2f s)", now())

def tick(n):
    global last_tick
    last_tick = now()
    logging.info("Tick %d at %.2f s", n, last_tick)

class RepeatingTimer:
    """Calls function(n) every interval seconds, times times. threading has
    no repeating timer: each call arms a new Timer for the next one."""

    def __init__(self, interval, function, times):
        self.interval = interval
        self.function = function
        self.times = times
        self.count = 0
        self.done = threading.Event()

    def start(self):
        self._arm()

    def _arm(self):
        timer = threading.Timer(self.interval, self._call)
        timer.name = f"Tick-{{self.count + 1}}"
        timer.start()

    def _call(self):
        self.count += 1
        self.function(self.count)
        if self.count < self.times:
            self._arm()      # the next wait starts now, after this call
        else:
            self.done.set()

if __name__ == "__main__":
    logging.basicConfig(format="%(asctime)s: %(message)s",
                        level=logging.INFO, datefmt="%H:%M:%S")
    reminder = threading.Timer(DELAY, remind)
    reminder.name = "Reminder"
    warning = threading.Timer(WARN_DELAY, warn)
    warning.name = "Warning"
    repeater = RepeatingTimer(INTERVAL, tick, TICKS)
    logging.info("Main: starting the timers")
    reminder.start()
    warning.start()
    repeater.start()
    time.sleep(CANCEL_AT)
    warning.cancel()                 # does nothing if it already fired
    if fired["warning"]:
        logging.info("Main: cancel() came too late: the warning already fired")
    else:
        logging.info("Main: cancelled the warning before it fired")
    reminder.join()
    repeater.done.wait()
    logging.info("Main: reminder fired: %d", fired["reminder"])
    logging.info("Main: warning fired: %d", fired["warning"])
    logging.info("Main: ticks: %d", repeater.count)
    logging.info("Main: last tick at %.2f s", last_tick)
"#,
        delay = s("delay"),
        warn_delay = s("warn_delay"),
        cancel_at = s("cancel_at"),
        interval = s("interval"),
        ticks = knobs.get("ticks").round() as i64,
    )
}
