//! Producer–consumer over a bounded `queue.Queue`, stopped by an `Event` and
//! drained before exit (seed 001's pipeline, with Queue and Event).

use std::time::Duration;

use super::{
    Agree, Dice, Extra, Group, Metric, Outcome, PlotSpec, Scenario, SeriesRef, Stepping,
    counter_metric, py_num,
};
use crate::lab::record::Record;
use crate::lab::{Crew, Ctx, KnobSpec, Knobs, SyncError, SyncResult};
use crate::t;

const KNOBS: &[KnobSpec] = &[
    KnobSpec::int(
        "producers",
        t!("Producers", "Productores"),
        "threads",
        1,
        64,
        1,
    ),
    KnobSpec::int(
        "consumers",
        t!("Consumers", "Consumidores"),
        "threads",
        1,
        64,
        1,
    ),
    KnobSpec::int(
        "capacity",
        t!("Queue capacity (maxsize)", "Capacidad de la cola (maxsize)"),
        "items",
        1,
        100,
        10,
    ),
    KnobSpec::seconds(
        "produce_pause",
        t!("Pause between bursts", "Pausa entre ráfagas"),
        0.001,
        5.0,
        0.5,
    ),
    KnobSpec::int(
        "burst",
        t!("Messages per burst", "Mensajes por ráfaga"),
        "items",
        1,
        50,
        8,
    ),
    KnobSpec::seconds(
        "consume_pause",
        t!("Time to store a message", "Tiempo para guardar un mensaje"),
        0.001,
        5.0,
        0.1,
    ),
    KnobSpec::seconds(
        "run_for",
        t!("Main sets the event after", "Main activa el evento tras"),
        0.1,
        3600.0,
        10.0,
    ),
];

pub static SCENARIO: Scenario = Scenario {
    id: "producer-consumer",
    group: Group::Communication,
    title: t!(
        "Producer–consumer with a Queue",
        "Productor–consumidor con una Queue"
    ),
    lesson: t!(
        "A bounded Queue lets producers and consumers run at their own pace: producers block when it is full, consumers when it is empty.",
        "Una Queue con tamaño máximo deja que productores y consumidores vayan a su ritmo: los productores se bloquean si está llena y los consumidores si está vacía."
    ),
    explanation: t!(
        "Producers receive messages from a pretend network in bursts and put them in a queue.Queue(maxsize). Consumers take them out and store them, one at a time.\n\n\
Watch the queue's depth against its capacity line. When producers are faster, the queue fills and producers turn red (blocked on put). When consumers are faster, the queue empties and consumers turn red (blocked on get). Drag the sliders while it runs: more consumers drain it, a larger capacity absorbs bigger bursts.\n\n\
After the set time, MainThread calls event.set(). Producers stop; once they have all left, MainThread sets a second event, producers_done, and consumers keep going until the queue is empty, so every message produced is consumed. Why two events? A producer that checked the event just before it was set can still put one more message; if consumers left on the first event and an empty queue, that message would be stranded.",
        "Los productores reciben mensajes de una red ficticia en ráfagas y los ponen en una queue.Queue(maxsize). Los consumidores los sacan y los guardan, de uno en uno.\n\n\
Observa la profundidad de la cola frente a su línea de capacidad. Si los productores son más rápidos, la cola se llena y los productores se ponen en rojo (bloqueados en put). Si los consumidores son más rápidos, la cola se vacía y son ellos los bloqueados (en get). Mueve los controles mientras corre: más consumidores la vacían, más capacidad absorbe ráfagas mayores.\n\n\
Pasado el tiempo fijado, MainThread llama a event.set(). Los productores paran; cuando todos han salido, MainThread activa un segundo evento, producers_done, y los consumidores siguen hasta vaciar la cola, así que todo mensaje producido se consume. ¿Por qué dos eventos? Un productor que miró el evento justo antes de que se activara aún puede poner un mensaje más; si los consumidores salieran con el primer evento y la cola vacía, ese mensaje quedaría olvidado."
    ),
    knobs: KNOBS,
    body,
    metrics,
    python,
    plots: &[
        PlotSpec {
            title: t!("Queue depth", "Profundidad de la cola"),
            series: &[
                (
                    SeriesRef::Level("queue"),
                    t!("depth (qsize)", "profundidad (qsize)"),
                ),
                (
                    SeriesRef::Capacity("queue"),
                    t!("capacity (maxsize)", "capacidad (maxsize)"),
                ),
                (
                    SeriesRef::Waiters("queue"),
                    t!("threads waiting", "hilos esperando"),
                ),
            ],
        },
        PlotSpec {
            title: t!("Messages", "Mensajes"),
            series: &[
                (SeriesRef::Counter("produced"), t!("produced", "producidos")),
                (SeriesRef::Counter("consumed"), t!("consumed", "consumidos")),
            ],
        },
    ],
    extra: Extra::None,
    outcomes: &[
        Outcome {
            metric: "produced",
            label: t!("messages produced", "mensajes producidos"),
            printed_after: "produced=",
            agree: Agree::Roughly {
                rel: 0.2,
                abs: 3.0,
                why: PACE,
            },
        },
        Outcome {
            metric: "consumed",
            label: t!("messages consumed", "mensajes consumidos"),
            printed_after: "consumed=",
            agree: Agree::Roughly {
                rel: 0.2,
                abs: 3.0,
                why: PACE,
            },
        },
        Outcome {
            metric: "max_queue_depth",
            label: t!("deepest the queue got", "máxima profundidad de la cola"),
            printed_after: "deepest the queue got:",
            agree: Agree::Exactly,
        },
    ],
    check_knobs: &[("run_for", 3.0)],
    stepping: Stepping::Yes(super::Invariant {
        holds: t!(
            "every message produced is consumed, and the queue never holds more than its capacity",
            "cada mensaje producido se consume, y la cola nunca guarda más que su capacidad"
        ),
        broken: messages_lost,
    }),
};

/// Why the two sides' totals differ a little.
const PACE: crate::lab::text::Text = t!(
    "how many messages fit in the run depends on when the event is set against the bursts: a burst more or less",
    "cuántos mensajes caben depende de cuándo se activa el evento respecto a las ráfagas: una ráfaga más o menos"
);

/// How often MainThread looks at the knobs (real time).
const RECONCILE: Duration = Duration::from_millis(50);

fn body(ctx: &Ctx) -> SyncResult<()> {
    let lab = ctx.lab();
    let queue = lab.queue::<u32>("queue", ctx.knob_usize("capacity"));
    let event = lab.event("event");
    // Set once every producer has left: only then may an empty queue mean
    // "no more messages". Without it a producer that checked the event just
    // before it was set could put a message after the last consumer left.
    let producers_done = lab.event("producers_done");
    let produced = lab.counter("produced");
    let consumed = lab.counter("consumed");
    // The deepest the queue got, as each producer sees it after a put.
    let deepest = lab.counter("deepest");

    let mut producers = {
        let (queue, event, produced, deepest) = (
            queue.clone(),
            event.clone(),
            produced.clone(),
            deepest.clone(),
        );
        Crew::new("Producer", move |c, n| {
            let mut dice = Dice::new(n as u64);
            while !event.is_set() && !c.should_retire() {
                for _ in 0..c.knob_usize("burst") {
                    if event.is_set() {
                        break;
                    }
                    let message = dice.roll();
                    c.log(format!("{} got message: {message}", c.name()));
                    queue.put(message)?;
                    produced.add(1);
                    let depth = queue.qsize() as i64;
                    if depth > deepest.get() {
                        deepest.set(depth);
                    }
                }
                c.sleep(c.knob("produce_pause"))?;
            }
            c.log(format!("{} received EXIT event. Exiting", c.name()));
            Ok(())
        })
    };
    let mut consumers = {
        let (queue, done, consumed) = (queue.clone(), producers_done.clone(), consumed.clone());
        Crew::new("Consumer", move |c, _| {
            while !done.is_set() || !queue.empty() {
                if c.should_retire() {
                    break;
                }
                // A timed get, so a consumer waiting on an empty queue still
                // notices the event.
                let message = match queue.get_timeout(0.5) {
                    Ok(m) => m,
                    Err(SyncError::Empty) => continue,
                    Err(e) => return Err(e),
                };
                c.log(format!(
                    "{} storing message: {message} (queue size={})",
                    c.name(),
                    queue.qsize()
                ));
                consumed.add(1);
                c.sleep(c.knob("consume_pause"))?;
            }
            c.log(format!("{} received EXIT event. Exiting", c.name()));
            Ok(())
        })
    };

    ctx.log(format!(
        "Main: starting {} producers and {} consumers, queue maxsize={}",
        ctx.knob_usize("producers"),
        ctx.knob_usize("consumers"),
        ctx.knob_usize("capacity")
    ));
    // time.sleep(run_for), in slices so the knobs apply live; scenario time
    // advances at the lab's current speed.
    let mut scenario_time = 0.0;
    let mut last = lab.now();
    loop {
        queue.set_maxsize(ctx.knob_usize("capacity"));
        producers.resize(ctx, ctx.knob_usize("producers"))?;
        consumers.resize(ctx, ctx.knob_usize("consumers"))?;
        let now = lab.now();
        scenario_time += (now - last).as_secs_f64() * lab.speed();
        last = now;
        if scenario_time >= ctx.knob("run_for") {
            break;
        }
        ctx.sleep_real(RECONCILE)?;
    }
    ctx.log("Main: about to set event");
    event.set();
    producers.join_all()?;
    producers_done.set();
    consumers.join_all()?;
    ctx.log(format!(
        "Main: produced={} consumed={} left in queue={}",
        produced.get(),
        consumed.get(),
        queue.qsize()
    ));
    ctx.log(format!("Main: deepest the queue got: {}", deepest.get()));
    Ok(())
}

/// The invariant "Break it" tries to break: nothing lost, nothing over capacity.
fn messages_lost(record: &Record, knobs: &Knobs) -> Option<String> {
    let produced = record.counter_value("produced").unwrap_or(0);
    let consumed = record.counter_value("consumed").unwrap_or(0);
    if produced != consumed {
        return Some(format!("produced {produced} but consumed {consumed}"));
    }
    let deepest = record
        .resource_by_name("queue")
        .map_or(0.0, |q| q.level_series.max.max(0.0));
    let capacity = knobs.get("capacity");
    (deepest > capacity).then(|| format!("the queue held {deepest} with capacity {capacity}"))
}

fn metrics(record: &Record) -> Vec<Metric> {
    let queue = record.resource_by_name("queue");
    vec![
        counter_metric(record, "produced", t!("produced", "producidos")),
        counter_metric(record, "consumed", t!("consumed", "consumidos")),
        Metric {
            name: "queue_depth",
            label: t!("in the queue now", "en la cola ahora"),
            value: queue.map_or(0.0, |q| q.level as f64),
        },
        Metric {
            name: "max_queue_depth",
            label: t!("deepest the queue got", "máxima profundidad"),
            value: queue.map_or(0.0, |q| q.level_series.max.max(0.0)),
        },
        Metric {
            name: "capacity",
            label: t!("capacity now", "capacidad actual"),
            value: queue.and_then(|q| q.capacity).unwrap_or(0) as f64,
        },
    ]
}

fn python(knobs: &Knobs) -> String {
    let n = |k: &str| knobs.get(k).round() as i64;
    let s = |k: &str| py_num(knobs.get(k));
    format!(
        r#"import concurrent.futures
import logging
import queue
import random
import threading
import time

PRODUCERS = {producers}
CONSUMERS = {consumers}
BURST = {burst}

def producer(q, event, name):
    """Pretend we get messages from the network, in bursts."""
    produced = deepest = 0
    while not event.is_set():
        for _ in range(BURST):
            if event.is_set():
                break
            message = random.randint(1, 100)
            logging.info("%s got message: %s", name, message)
            q.put(message)              # blocks while the queue is full
            produced += 1
            deepest = max(deepest, q.qsize())
        time.sleep({produce_pause})
    logging.info("%s received EXIT event. Exiting", name)
    return produced, deepest

def consumer(q, producers_done, name):
    """Pretend we store each message in a database."""
    consumed = 0
    while not producers_done.is_set() or not q.empty():
        try:
            message = q.get(timeout=0.5)  # blocks while the queue is empty
        except queue.Empty:
            continue                      # look at producers_done again
        logging.info("%s storing message: %s (queue size=%s)",
                     name, message, q.qsize())
        consumed += 1
        time.sleep({consume_pause})
    logging.info("%s received EXIT event. Exiting", name)
    return consumed

if __name__ == "__main__":
    logging.basicConfig(format="%(asctime)s: %(message)s",
                        level=logging.INFO, datefmt="%H:%M:%S")
    q = queue.Queue(maxsize={capacity})
    event = threading.Event()           # tells producers to stop
    producers_done = threading.Event()  # tells consumers no more will come
    with concurrent.futures.ThreadPoolExecutor(
            max_workers=PRODUCERS + CONSUMERS) as executor:
        producers = [executor.submit(producer, q, event, f"Producer-{{i + 1}}")
                     for i in range(PRODUCERS)]
        consumers = [executor.submit(consumer, q, producers_done, f"Consumer-{{i + 1}}")
                     for i in range(CONSUMERS)]
        time.sleep({run_for})
        logging.info("Main: about to set event")
        event.set()
        concurrent.futures.wait(producers)  # every producer has left...
        producers_done.set()                # ...so an empty queue means done
    # Leaving the with-block waited for the consumers: the queue is drained.
    produced = sum(f.result()[0] for f in producers)
    consumed = sum(f.result() for f in consumers)
    logging.info("Main: produced=%d consumed=%d left in queue=%d",
                 produced, consumed, q.qsize())
    logging.info("Main: deepest the queue got: %d",
                 max(f.result()[1] for f in producers))
"#,
        producers = n("producers"),
        consumers = n("consumers"),
        burst = n("burst"),
        capacity = n("capacity"),
        produce_pause = s("produce_pause"),
        consume_pause = s("consume_pause"),
        run_for = s("run_for"),
    )
}
