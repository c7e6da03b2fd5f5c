//! Seed 001's first pipeline: two Locks hand one message at a time from a
//! producer to a consumer. It works, but it holds a single message, so a
//! burst makes the producer wait for the consumer; a Queue beside it, with
//! the same messages and pauses, absorbs the burst and finishes first.

use super::{Stepping, ms_counter_seconds, to_ms};
use std::sync::Arc;
use std::time::Instant;

use parking_lot::Mutex;

use super::{
    Agree, BarGroup, Dice, Extra, Group, JITTER, Metric, Outcome, PlotSpec, Scenario, SeriesRef,
    counter_metric, ms_metric, py_num, scenario_seconds,
};
use crate::lab::record::Record;
use crate::lab::sync::Counter;
use crate::lab::{Ctx, KnobSpec, Knobs, SyncResult};
use crate::t;

const KNOBS: &[KnobSpec] = &[
    KnobSpec::int(
        "messages",
        t!("Messages", "Mensajes"),
        "messages",
        1,
        500,
        24,
    )
    .not_live(t!(
        "applies at the next Start: the producers count their messages from the start",
        "se aplica al próximo Inicio: los productores cuentan sus mensajes desde el principio"
    )),
    KnobSpec::int(
        "burst",
        t!("Messages per burst", "Mensajes por ráfaga"),
        "messages",
        1,
        50,
        6,
    ),
    KnobSpec::seconds(
        "message_pause",
        t!(
            "Between messages of a burst",
            "Entre mensajes de una ráfaga"
        ),
        0.001,
        2.0,
        0.01,
    ),
    KnobSpec::seconds(
        "burst_pause",
        t!("Quiet time between bursts", "Silencio entre ráfagas"),
        0.001,
        10.0,
        0.6,
    ),
    KnobSpec::seconds(
        "store",
        t!("Time to store a message", "Tiempo para guardar un mensaje"),
        0.001,
        5.0,
        0.1,
    ),
    KnobSpec::int(
        "capacity",
        t!("Queue capacity (maxsize)", "Capacidad de la cola (maxsize)"),
        "items",
        1,
        100,
        10,
    ),
];

/// The two pipelines, as the threads' names and the program's labels say.
const LOCKS: &str = "locks";
const QUEUE: &str = "queue";

pub static SCENARIO: Scenario = Scenario {
    id: "single-slot-pipeline",
    group: Group::Communication,
    title: t!(
        "A one-message pipeline (two Locks)",
        "Una tubería de un mensaje (dos Locks)"
    ),
    lesson: t!(
        "Two Locks can hand messages from a producer to a consumer one at a time, but a single slot makes each side wait for the other; a Queue holds a burst and lets both work at their own pace.",
        "Dos Locks pueden pasar mensajes de un productor a un consumidor de uno en uno, pero un solo hueco hace que cada lado espere al otro; una Queue guarda la ráfaga y deja a cada uno trabajar a su ritmo."
    ),
    explanation: t!(
        "Seed 001's Pipeline holds one message and two Locks. consumer_lock starts acquired: nothing to read yet. set_message acquires producer_lock, stores the message and releases consumer_lock; get_message acquires consumer_lock, copies the message and releases producer_lock. Each lock is released by the other thread, so the two locks ping-pong: watch 'The two locks' plot, and the two lanes taking turns in red, each blocked on the lock the other will release.\n\n\
Beside it, with the same messages and the same pauses, a second producer and consumer use a queue.Queue. Messages arrive in bursts: a few close together, then a quiet time. With one slot, the producer gets a message, hands it over, gets the next, and then must wait (blocked on producer_lock) until the consumer has taken the last one; the burst is passed on at the consumer's pace, and the quiet time after it is wasted. With the queue, the producer drops the whole burst in the queue and is free; the consumer stores it during the quiet time.\n\n\
'Messages stored' climbs faster for the queue, and the bars show each pipeline's total time and throughput. Make the quiet time short, or storing fast, and the difference shrinks: a queue helps when one side works in bursts.",
        "La Pipeline de la semilla 001 guarda un mensaje y dos Locks. consumer_lock empieza adquirido: aún no hay nada que leer. set_message adquiere producer_lock, guarda el mensaje y libera consumer_lock; get_message adquiere consumer_lock, copia el mensaje y libera producer_lock. Cada lock lo libera el otro hilo, así que los dos locks se pasan la pelota: míralo en la gráfica 'Los dos locks', y en las dos líneas que se turnan en rojo, cada una bloqueada en el lock que liberará la otra.\n\n\
Al lado, con los mismos mensajes y las mismas pausas, otro productor y otro consumidor usan una queue.Queue. Los mensajes llegan en ráfagas: unos cuantos seguidos y luego un silencio. Con un solo hueco, el productor recibe un mensaje, lo pasa, recibe el siguiente y luego debe esperar (bloqueado en producer_lock) a que el consumidor tome el anterior; la ráfaga pasa al ritmo del consumidor, y el silencio de después se desperdicia. Con la cola, el productor deja toda la ráfaga en la cola y queda libre; el consumidor la guarda durante el silencio.\n\n\
'Mensajes guardados' sube más rápido para la cola, y las barras muestran el tiempo total y el rendimiento de cada tubería. Acorta el silencio, o acelera el guardado, y la diferencia se reduce: una cola ayuda cuando un lado trabaja a ráfagas."
    ),
    knobs: KNOBS,
    body,
    metrics,
    python,
    plots: &[
        PlotSpec {
            title: t!("Messages stored", "Mensajes guardados"),
            series: &[
                (
                    SeriesRef::Counter("locks_stored"),
                    t!("two Locks", "dos Locks"),
                ),
                (SeriesRef::Counter("queue_stored"), t!("Queue", "Queue")),
            ],
        },
        PlotSpec {
            title: t!("The two locks", "Los dos locks"),
            series: &[
                (
                    SeriesRef::Level("pipeline.producer_lock"),
                    t!(
                        "producer_lock held (a message waits)",
                        "producer_lock tomado (hay un mensaje esperando)"
                    ),
                ),
                (
                    SeriesRef::Level("pipeline.consumer_lock"),
                    t!(
                        "consumer_lock held (nothing to read)",
                        "consumer_lock tomado (nada que leer)"
                    ),
                ),
            ],
        },
        PlotSpec {
            title: t!("The queue", "La cola"),
            series: &[
                (SeriesRef::Level("q"), t!("qsize()", "qsize()")),
                (SeriesRef::Capacity("q"), t!("maxsize", "maxsize")),
            ],
        },
    ],
    extra: Extra::Bars(&[
        BarGroup {
            title: t!(
                "Time for all the messages",
                "Tiempo para todos los mensajes"
            ),
            bars: &[
                ("locks_seconds", t!("two Locks", "dos Locks")),
                ("queue_seconds", t!("Queue", "Queue")),
            ],
            unit: t!("s", "s"),
        },
        BarGroup {
            title: t!("Throughput", "Rendimiento"),
            bars: &[
                ("locks_throughput", t!("two Locks", "dos Locks")),
                ("queue_throughput", t!("Queue", "Queue")),
            ],
            unit: t!("messages/s", "mensajes/s"),
        },
    ]),
    outcomes: &[
        Outcome {
            metric: "locks_stored",
            label: t!(
                "messages stored (two Locks)",
                "mensajes guardados (dos Locks)"
            ),
            printed_after: "Consumer (locks): done,",
            agree: Agree::Exactly,
        },
        Outcome {
            metric: "queue_stored",
            label: t!("messages stored (Queue)", "mensajes guardados (Queue)"),
            printed_after: "Consumer (queue): done,",
            agree: Agree::Exactly,
        },
        Outcome {
            metric: "locks_seconds",
            label: t!(
                "time for all the messages, two Locks (s)",
                "tiempo para todos los mensajes, dos Locks (s)"
            ),
            printed_after: "Consumer (locks) took",
            agree: Agree::Roughly {
                rel: 0.15,
                abs: 0.1,
                why: JITTER,
            },
        },
        Outcome {
            metric: "queue_seconds",
            label: t!(
                "time for all the messages, Queue (s)",
                "tiempo para todos los mensajes, Queue (s)"
            ),
            printed_after: "Consumer (queue) took",
            agree: Agree::Roughly {
                rel: 0.15,
                abs: 0.1,
                why: JITTER,
            },
        },
    ],
    check_knobs: &[
        ("messages", 12.0),
        ("burst", 4.0),
        ("burst_pause", 0.3),
        ("store", 0.05),
    ],
    stepping: Stepping::Yes(super::ENDS_WELL),
};

/// A message, or the SENTINEL that tells the consumer to stop.
type Message = Option<u32>;

/// Seed 001's two-lock Pipeline.
#[derive(Clone)]
struct Pipeline {
    message: Arc<Mutex<Message>>,
    producer_lock: crate::lab::sync::Lock,
    consumer_lock: crate::lab::sync::Lock,
}

impl Pipeline {
    fn new(ctx: &Ctx) -> SyncResult<Pipeline> {
        let lab = ctx.lab();
        let p = Pipeline {
            message: Arc::new(Mutex::new(Some(0))),
            producer_lock: lab.lock("pipeline.producer_lock"),
            consumer_lock: lab.lock("pipeline.consumer_lock"),
        };
        p.consumer_lock.acquire()?; // nothing to read yet
        Ok(p)
    }

    fn get_message(&self) -> SyncResult<Message> {
        self.consumer_lock.acquire()?; // wait until there is a message
        let message = *self.message.lock();
        self.producer_lock.release()?; // the producer may put the next one
        Ok(message)
    }

    fn set_message(&self, message: Message) -> SyncResult<()> {
        self.producer_lock.acquire()?; // wait until the last one was taken
        *self.message.lock() = message;
        self.consumer_lock.release() // the consumer may take it
    }
}

/// Gets messages from the pretend network, in bursts, and sends each on.
fn producer(c: &Ctx, seed: u64, send: impl Fn(&Ctx, Message) -> SyncResult<()>) -> SyncResult<()> {
    let mut dice = Dice::new(seed);
    for index in 0..c.knob_usize("messages") {
        let burst = c.knob_usize("burst").max(1);
        let pause = if index > 0 && index % burst == 0 {
            c.knob("burst_pause")
        } else {
            c.knob("message_pause")
        };
        c.sleep(pause)?;
        let message = dice.roll();
        c.log(format!("{} got message: {message}", c.name()));
        send(c, Some(message))?;
    }
    send(c, None)
}

/// Takes messages until the SENTINEL, storing each; reports its time.
fn consumer(
    c: &Ctx,
    which: &str,
    started: Instant,
    stored: &Counter,
    receive: impl Fn() -> SyncResult<Message>,
) -> SyncResult<()> {
    let lab = c.lab();
    while let Some(message) = receive()? {
        c.log(format!("{} storing message: {message}", c.name()));
        c.sleep(c.knob("store"))?;
        stored.add(1);
    }
    let took = scenario_seconds(c, started);
    lab.counter(&format!("{which}_ms")).set(to_ms(took));
    c.log(format!(
        "{}: done, {} messages stored",
        c.name(),
        stored.get()
    ));
    c.log(format!("{} took {took:.3} s", c.name()));
    Ok(())
}

fn body(ctx: &Ctx) -> SyncResult<()> {
    let lab = ctx.lab();
    let pipeline = Pipeline::new(ctx)?;
    let q = lab.queue::<Message>("q", ctx.knob_usize("capacity"));
    let locks_stored = lab.counter("locks_stored");
    let queue_stored = lab.counter("queue_stored");
    let started = ctx.lab().now();
    let threads = [
        {
            let p = pipeline.clone();
            lab.thread("Producer (locks)", false, move |c| {
                producer(c, 1, |_, m| p.set_message(m))
            })
        },
        {
            let (p, stored) = (pipeline.clone(), locks_stored.clone());
            lab.thread("Consumer (locks)", false, move |c| {
                consumer(c, LOCKS, started, &stored, || p.get_message())
            })
        },
        {
            let q = q.clone();
            lab.thread("Producer (queue)", false, move |c| {
                producer(c, 1, |c, m| {
                    // Beyond Python: the capacity knob applies live.
                    q.set_maxsize(c.knob_usize("capacity"));
                    q.put(m)
                })
            })
        },
        {
            let (q, stored) = (q.clone(), queue_stored.clone());
            lab.thread("Consumer (queue)", false, move |c| {
                consumer(c, QUEUE, started, &stored, || q.get())
            })
        },
    ];
    ctx.log(format!(
        "Main    : {} messages through two Locks and through a Queue(maxsize={})",
        ctx.knob_usize("messages"),
        ctx.knob_usize("capacity")
    ));
    for t in &threads {
        t.start()?;
    }
    for t in &threads {
        t.join(None)?;
    }
    Ok(())
}

fn throughput(record: &Record, which: &str) -> f64 {
    let stored = record
        .counter_value(&format!("{which}_stored"))
        .unwrap_or(0) as f64;
    let seconds = ms_counter_seconds(record, &format!("{which}_ms"));
    if seconds > 0.0 {
        (stored / seconds * 100.0).round() / 100.0
    } else {
        0.0
    }
}

fn metrics(record: &Record) -> Vec<Metric> {
    vec![
        counter_metric(
            record,
            "locks_stored",
            t!("stored (two Locks)", "guardados (dos Locks)"),
        ),
        counter_metric(
            record,
            "queue_stored",
            t!("stored (Queue)", "guardados (Queue)"),
        ),
        ms_metric(
            record,
            "locks_ms",
            "locks_seconds",
            t!("time, two Locks (s)", "tiempo, dos Locks (s)"),
        ),
        ms_metric(
            record,
            "queue_ms",
            "queue_seconds",
            t!("time, Queue (s)", "tiempo, Queue (s)"),
        ),
        Metric {
            name: "locks_throughput",
            label: t!("messages/s, two Locks", "mensajes/s, dos Locks"),
            value: throughput(record, LOCKS),
        },
        Metric {
            name: "queue_throughput",
            label: t!("messages/s, Queue", "mensajes/s, Queue"),
            value: throughput(record, QUEUE),
        },
        Metric {
            name: "max_queue_depth",
            label: t!("deepest the queue got", "máxima profundidad de la cola"),
            value: record
                .resource_by_name("q")
                .map_or(0.0, |q| q.level_series.max.max(0.0)),
        },
    ]
}

fn python(knobs: &Knobs) -> String {
    let n = |k: &str| knobs.get(k).round() as i64;
    format!(
        r#"import logging
import queue
import random
import threading
import time

MESSAGES = {messages}
BURST = {burst}              # messages come in bursts of this many,
MESSAGE_PAUSE = {message_pause}    # this far apart,
BURST_PAUSE = {burst_pause}      # with this quiet time between bursts
STORE = {store}             # storing one message takes this long
SENTINEL = object()         # tells the consumer there is no more

class Pipeline:
    """One message at a time, handed over with two locks (seed 001)."""

    def __init__(self):
        self.message = 0
        self.producer_lock = threading.Lock()
        self.consumer_lock = threading.Lock()
        self.consumer_lock.acquire()     # nothing to read yet

    def get_message(self):
        self.consumer_lock.acquire()     # wait until there is a message
        message = self.message
        self.producer_lock.release()     # the producer may put the next one
        return message

    def set_message(self, message):
        self.producer_lock.acquire()     # wait until the last one was taken
        self.message = message
        self.consumer_lock.release()     # the consumer may take it

def producer(send):
    """Get messages from the network, in bursts, and send each on."""
    name = threading.current_thread().name
    for index in range(MESSAGES):
        time.sleep(BURST_PAUSE if index and index % BURST == 0 else MESSAGE_PAUSE)
        message = random.randint(1, 100)
        logging.info("%s got message: %d", name, message)
        send(message)
    send(SENTINEL)

def consumer(receive, started):
    """Store every message until the SENTINEL comes."""
    name = threading.current_thread().name
    stored = 0
    while True:
        message = receive()
        if message is SENTINEL:
            break
        logging.info("%s storing message: %d", name, message)
        time.sleep(STORE)
        stored += 1
    logging.info("%s: done, %d messages stored", name, stored)
    logging.info("%s took %.3f s", name, time.perf_counter() - started)

if __name__ == "__main__":
    logging.basicConfig(format="%(asctime)s: %(message)s",
                        level=logging.INFO, datefmt="%H:%M:%S")
    pipeline = Pipeline()
    q = queue.Queue(maxsize={capacity})
    logging.info("Main    : %d messages through two Locks and through a Queue(maxsize=%d)",
                 MESSAGES, q.maxsize)
    started = time.perf_counter()
    threads = [
        threading.Thread(target=producer, args=(pipeline.set_message,),
                         name="Producer (locks)"),
        threading.Thread(target=consumer, args=(pipeline.get_message, started),
                         name="Consumer (locks)"),
        threading.Thread(target=producer, args=(q.put,), name="Producer (queue)"),
        threading.Thread(target=consumer, args=(q.get, started),
                         name="Consumer (queue)"),
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
"#,
        messages = n("messages"),
        burst = n("burst"),
        capacity = n("capacity"),
        message_pause = py_num(knobs.get("message_pause")),
        burst_pause = py_num(knobs.get("burst_pause")),
        store = py_num(knobs.get("store")),
    )
}
