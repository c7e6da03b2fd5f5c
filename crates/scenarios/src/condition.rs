//! `threading.Condition`: consumers wait for items; notify() wakes one,
//! notify_all() wakes every waiter (who then find out whether anything is
//! left); wait_for(predicate) is the re-checking loop written for you; two
//! Conditions built over one Lock the program made, as queue.Queue does
//! inside (seed 000).

use std::collections::VecDeque;
use std::sync::Arc;
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
    "applies at the next Start: the program counts on it from the start",
    "se aplica al próximo Inicio: el programa cuenta con él desde el principio"
);

const KNOBS: &[KnobSpec] = &[
    KnobSpec::int(
        "consumers",
        t!("Consumers", "Consumidores"),
        "threads",
        1,
        12,
        3,
    )
    .not_live(AT_START),
    KnobSpec::int("items", t!("Items", "Elementos"), "items", 1, 100, 6).not_live(AT_START),
    KnobSpec::seconds(
        "produce_every",
        t!("Main puts an item every", "Main pone un elemento cada"),
        0.01,
        5.0,
        0.8,
    ),
    KnobSpec::seconds(
        "consume",
        t!("Time to handle an item", "Tiempo para procesar un elemento"),
        0.001,
        5.0,
        0.3,
    ),
    KnobSpec::flag(
        "notify_all",
        t!(
            "notify_all() instead of notify()",
            "notify_all() en vez de notify()"
        ),
        false,
    ),
];

pub static SCENARIO: Scenario = Scenario {
    id: "condition",
    group: Group::Synchronisation,
    title: t!("Condition: wait and notify", "Condition: wait y notify"),
    lesson: t!(
        "A thread holding a Condition's lock can wait() for something to change, letting go of the lock meanwhile; notify() wakes one waiter, notify_all() wakes them all, and each woken thread must check again whether what it waited for is still there.",
        "Un hilo que tiene el lock de una Condition puede esperar con wait() a que algo cambie, soltando el lock mientras tanto; notify() despierta a uno, notify_all() a todos, y cada hilo despertado debe volver a comprobar si lo que esperaba sigue ahí."
    ),
    explanation: t!(
        "The consumers share a list of items. Each takes the lock, and while the list is empty calls items_ready.wait(): that lets go of the lock and sleeps (yellow lane) until notified, then takes the lock back before returning. Main puts one item at a time in the list, holding the lock, and notifies.\n\n\
With notify(), exactly one consumer wakes per item: the log says who, and it finds the item. Tick notify_all() and every waiting consumer wakes for each item: they take the lock back one at a time, the first one gets the item, and the rest find the list empty and wait again: wake-ups that found nothing. That is why the waiting goes in a while loop that checks the list again, never in an if; wait_for(predicate) writes that loop for you, and Main uses it to wait until every item has been handled.\n\n\
Both conditions are built over one Lock the program made, Condition(lock), as queue.Queue builds its own: holding items_ready or all_done is holding that lock, so the list and the counters it guards are safe under either. (A Condition() made without one creates its own RLock.) The plot shows the threads waiting for a notify (counting those notified that have yet to get the lock back), and when the lock is held.",
        "Los consumidores comparten una lista de elementos. Cada uno toma el lock y, mientras la lista está vacía, llama a items_ready.wait(): eso suelta el lock y duerme (carril amarillo) hasta que lo notifican, y vuelve a tomar el lock antes de volver. Main pone un elemento cada vez en la lista, con el lock tomado, y notifica.\n\n\
Con notify() despierta exactamente un consumidor por elemento: el registro dice cuál, y encuentra el elemento. Marca notify_all() y cada consumidor que espera despierta con cada elemento: recuperan el lock de uno en uno, el primero se lleva el elemento y los demás encuentran la lista vacía y vuelven a esperar: despertares en vano. Por eso la espera va en un bucle while que vuelve a mirar la lista, nunca en un if; wait_for(predicado) escribe ese bucle por ti, y Main lo usa para esperar a que se procesen todos los elementos.\n\n\
Las dos condiciones se construyen sobre un mismo Lock creado por el programa, Condition(lock), igual que queue.Queue construye las suyas: tener items_ready o all_done es tener ese lock, así que la lista y los contadores que protege están a salvo con cualquiera de las dos. (Una Condition() creada sin lock crea su propio RLock.) La gráfica muestra los hilos que esperan un notify (contando los ya notificados que aún deben recuperar el lock) y cuándo está tomado el lock."
    ),
    knobs: KNOBS,
    body,
    metrics,
    python,
    plots: &[
        PlotSpec {
            title: t!("Waiting for a notify", "Esperando un notify"),
            series: &[
                (
                    SeriesRef::Waiters("items_ready"),
                    t!("in items_ready.wait()", "en items_ready.wait()"),
                ),
                // One waiters line per plot: the plot colours them alike.
                (SeriesRef::Level("lock"), t!("lock held", "lock tomado")),
            ],
        },
        PlotSpec {
            title: t!("Wake-ups", "Despertares"),
            series: &[
                (SeriesRef::Counter("wakeups"), t!("wake-ups", "despertares")),
                (
                    SeriesRef::Counter("wasted"),
                    t!("found nothing", "no encontraron nada"),
                ),
                (
                    SeriesRef::Counter("consumed"),
                    t!("items handled", "elementos procesados"),
                ),
            ],
        },
    ],
    extra: Extra::None,
    outcomes: &[
        Outcome {
            metric: "consumed",
            label: t!("items handled", "elementos procesados"),
            printed_after: "items handled:",
            agree: Agree::Exactly,
        },
        Outcome {
            metric: "wakeups",
            label: t!("wake-ups", "despertares"),
            printed_after: "wake-ups:",
            agree: Agree::Exactly,
        },
        Outcome {
            metric: "wasted",
            label: t!("wake-ups that found nothing", "despertares en vano"),
            printed_after: "wake-ups that found nothing:",
            agree: Agree::Exactly,
        },
    ],
    check_knobs: &[("items", 4.0), ("produce_every", 0.3), ("consume", 0.1)],
    stepping: Stepping::Yes(super::ENDS_WELL),
};

/// What `lock` guards: the list of items and whether Main has closed it.
#[derive(Default)]
struct Shelf {
    items: VecDeque<u32>,
    closed: bool,
}

/// How often MainThread looks at the knob while it sleeps (real time).
const RECONCILE: Duration = Duration::from_millis(20);

fn body(ctx: &Ctx) -> SyncResult<()> {
    let lab = ctx.lab();
    let lock = lab.lock("lock");
    let items_ready = lab.condition_with("items_ready", &lock);
    let all_done = lab.condition_with("all_done", &lock);
    // Guarded by `lock` in the program; the Mutex only satisfies Rust.
    let shelf = Arc::new(parking_lot::Mutex::new(Shelf::default()));
    let consumed = lab.counter("consumed");
    let wakeups = lab.counter("wakeups");
    let wasted = lab.counter("wasted");
    let consumers = ctx.knob_usize("consumers");
    let items = ctx.knob_usize("items");

    let threads: Vec<Thread> = (1..=consumers)
        .map(|i| {
            let (items_ready, all_done, shelf) =
                (items_ready.clone(), all_done.clone(), shelf.clone());
            let (consumed, wakeups, wasted) = (consumed.clone(), wakeups.clone(), wasted.clone());
            ctx.thread(&format!("Consumer-{i}"), false, move |c| {
                loop {
                    items_ready.acquire()?;
                    loop {
                        let (left, closed) = {
                            let s = shelf.lock();
                            (s.items.len(), s.closed)
                        };
                        if left > 0 || closed {
                            break;
                        }
                        c.log(format!("{}: nothing to take: wait()", c.name()));
                        items_ready.wait(None)?;
                        let (left, closed) = {
                            let s = shelf.lock();
                            (s.items.len(), s.closed)
                        };
                        if closed && left == 0 {
                            break;
                        }
                        wakeups.add(1);
                        if left > 0 {
                            c.log(format!("{}: woke up: {left} item(s) to take", c.name()));
                        } else {
                            wasted.add(1);
                            c.log(format!("{}: woke up: nothing left", c.name()));
                        }
                    }
                    let item = shelf.lock().items.pop_front();
                    items_ready.release()?;
                    let Some(item) = item else {
                        break; // closed, and nothing left
                    };
                    c.log(format!("{}: handling item {item}", c.name()));
                    c.sleep(c.knob("consume"))?;
                    all_done.acquire()?;
                    consumed.add(1);
                    all_done.notify(1)?;
                    all_done.release()?;
                }
                c.log(format!("{}: closed, leaving", c.name()));
                Ok(())
            })
        })
        .collect();
    for t in &threads {
        t.start()?;
    }

    for item in 1..=items as u32 {
        // time.sleep(PRODUCE_EVERY), in slices so the knob applies live.
        let mut slept = 0.0;
        let mut last = lab.now();
        while slept < ctx.knob("produce_every") {
            ctx.sleep_real(RECONCILE)?;
            let now = lab.now();
            slept += (now - last).as_secs_f64() * lab.speed();
            last = now;
        }
        items_ready.acquire()?;
        shelf.lock().items.push_back(item);
        if ctx.knob_bool("notify_all") {
            ctx.log(format!("Main: put item {item}, notify_all()"));
            items_ready.notify_all()?;
        } else {
            ctx.log(format!("Main: put item {item}, notify()"));
            items_ready.notify(1)?;
        }
        items_ready.release()?;
    }
    all_done.acquire()?;
    all_done.wait_for(|| consumed.get() == items as i64, None)?;
    all_done.release()?;
    items_ready.acquire()?;
    shelf.lock().closed = true;
    items_ready.notify_all()?;
    items_ready.release()?;
    for t in &threads {
        t.join(None)?;
    }
    ctx.log(format!("Main: items handled: {}", consumed.get()));
    ctx.log(format!("Main: wake-ups: {}", wakeups.get()));
    ctx.log(format!(
        "Main: wake-ups that found nothing: {}",
        wasted.get()
    ));
    Ok(())
}

fn metrics(record: &Record) -> Vec<Metric> {
    vec![
        counter_metric(
            record,
            "consumed",
            t!("items handled", "elementos procesados"),
        ),
        counter_metric(record, "wakeups", t!("wake-ups", "despertares")),
        counter_metric(
            record,
            "wasted",
            t!("wake-ups that found nothing", "despertares en vano"),
        ),
        Metric {
            name: "most_waiting",
            label: t!("most waiting for a notify", "máximo esperando un notify"),
            value: record
                .resource_by_name("items_ready")
                .filter(|r| !r.waiters_series.is_empty())
                .map_or(0.0, |r| r.waiters_series.max),
        },
    ]
}

fn python(knobs: &Knobs) -> String {
    let n = |k: &str| knobs.get(k).round() as i64;
    let notify = if knobs.get("notify_all") >= 0.5 {
        r#"            logging.info("Main: put item %d, notify_all()", item)
            items_ready.notify_all()       # wakes every waiting consumer"#
    } else {
        r#"            logging.info("Main: put item %d, notify()", item)
            items_ready.notify()           # wakes one waiting consumer"#
    };
    format!(
        r#"import logging
import threading
import time

CONSUMERS = {consumers}
ITEMS = {items}
PRODUCE_EVERY = {produce_every}  # Main puts an item in the list this often
CONSUME = {consume}  # time to handle an item

lock = threading.Lock()
items_ready = threading.Condition(lock)  # consumers wait here for an item
all_done = threading.Condition(lock)     # Main waits here for the last one
# All of these are guarded by `lock` (held through either condition):
items = []
closed = False
consumed = 0
wakeups = 0
wasted = 0         # wake-ups that found nothing to take

def consumer(name):
    global consumed, wakeups, wasted
    while True:
        with items_ready:                  # takes `lock`
            while not items and not closed:
                logging.info("%s: nothing to take: wait()", name)
                items_ready.wait()         # lets go of `lock` while it waits
                if closed and not items:
                    break
                wakeups += 1
                if items:
                    logging.info("%s: woke up: %d item(s) to take", name, len(items))
                else:
                    wasted += 1
                    logging.info("%s: woke up: nothing left", name)
            if not items:                  # closed, and nothing left
                break
            item = items.pop(0)
        logging.info("%s: handling item %d", name, item)
        time.sleep(CONSUME)
        with all_done:
            consumed += 1
            all_done.notify()              # Main's wait_for looks again
    logging.info("%s: closed, leaving", name)

if __name__ == "__main__":
    logging.basicConfig(format="%(asctime)s: %(message)s",
                        level=logging.INFO, datefmt="%H:%M:%S")
    threads = [threading.Thread(target=consumer, args=(f"Consumer-{{i}}",),
                                name=f"Consumer-{{i}}")
               for i in range(1, CONSUMERS + 1)]
    for t in threads:
        t.start()
    for item in range(1, ITEMS + 1):
        time.sleep(PRODUCE_EVERY)
        with items_ready:
            items.append(item)
{notify}
    with all_done:
        # The while-not-predicate-wait loop, written for us:
        all_done.wait_for(lambda: consumed == ITEMS)
    with items_ready:
        closed = True
        items_ready.notify_all()           # let every consumer leave
    for t in threads:
        t.join()
    logging.info("Main: items handled: %d", consumed)
    logging.info("Main: wake-ups: %d", wakeups)
    logging.info("Main: wake-ups that found nothing: %d", wasted)
"#,
        consumers = n("consumers"),
        items = n("items"),
        produce_every = py_num(knobs.get("produce_every")),
        consume = py_num(knobs.get("consume")),
    )
}
