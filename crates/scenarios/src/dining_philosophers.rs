//! The dining philosophers: a fork (a Lock) between each two philosophers,
//! two forks to eat. Everyone picking up the left fork first deadlocks the
//! table; one global fork order, or a waiter (a Semaphore) letting at most
//! n − 1 reach for forks, prevents it (seed 001's deadlock, at table size).

use super::{
    Agree, Extra, GIVE_UP_NOT_LIVE, Group, Metric, Outcome, PlotSpec, Scenario, SeriesRef,
    Stepping, counter_metric, deadlocks_metric, join_or_give_up, py_num,
};
use crate::lab::knobs::Choice;
use crate::lab::record::Record;
use crate::lab::sync::{Counter, Lock, Semaphore};
use crate::lab::{Ctx, KnobSpec, Knobs, State, SyncResult};
use crate::t;

/// The strategies, by the index the `strategy` knob holds.
pub const NAIVE: usize = 0;
pub const ORDERED: usize = 1;
pub const WAITER: usize = 2;

/// How the lab names them: the table view finds them by these names.
pub const PHILOSOPHER: &str = "Philosopher";
pub const FORK: &str = "fork";
pub const MEALS: &str = "meals";

const STRATEGIES: &[Choice] = &[
    Choice {
        name: "naive",
        label: t!(
            "naive (left fork first)",
            "ingenua (primero el tenedor izquierdo)"
        ),
    },
    Choice {
        name: "ordered",
        label: t!(
            "lower-numbered fork first",
            "primero el tenedor de número menor"
        ),
    },
    Choice {
        name: "waiter",
        label: t!(
            "a waiter: Semaphore(n − 1)",
            "un camarero: Semaphore(n − 1)"
        ),
    },
];

const KNOBS: &[KnobSpec] = &[
    KnobSpec::int(
        "philosophers",
        t!("Philosophers", "Filósofos"),
        "philosophers",
        2,
        16,
        5,
    )
    .not_live(t!(
        "applies at the next Start: the table is laid when it starts",
        "se aplica al próximo Inicio: la mesa se pone al empezar"
    )),
    KnobSpec::seconds(
        "think",
        t!("Thinking before each meal", "Pensar antes de cada comida"),
        0.01,
        5.0,
        0.5,
    ),
    KnobSpec::seconds("eat", t!("Eating", "Comer"), 0.01, 5.0, 0.5),
    KnobSpec::seconds(
        "pause",
        t!(
            "Pause between the two forks",
            "Pausa entre los dos tenedores"
        ),
        0.001,
        2.0,
        0.2,
    ),
    KnobSpec::choice("strategy", t!("Strategy", "Estrategia"), STRATEGIES, NAIVE),
    KnobSpec::int(
        "meals",
        t!("Meals each philosopher eats", "Comidas de cada filósofo"),
        "meals",
        1,
        100,
        10,
    ),
    KnobSpec::seconds(
        "give_up",
        t!(
            "Main stops waiting after (join timeout)",
            "Main deja de esperar tras (timeout de join)"
        ),
        0.5,
        3600.0,
        60.0,
    )
    .not_live(GIVE_UP_NOT_LIVE),
];

pub static SCENARIO: Scenario = Scenario {
    id: "dining-philosophers",
    group: Group::Synchronisation,
    title: t!("Dining philosophers", "La cena de los filósofos"),
    lesson: t!(
        "Philosophers around a table share one fork with each neighbour and need both to eat: if everyone picks up the left fork first, the table deadlocks; a global fork order or a waiter that seats at most n − 1 prevents it.",
        "Filósofos alrededor de una mesa comparten un tenedor con cada vecino y necesitan los dos para comer: si todos toman primero el izquierdo, la mesa se interbloquea; un orden global de tenedores o un camarero que sienta a n − 1 como mucho lo evita."
    ),
    explanation: t!(
        "Each philosopher is a thread that thinks, picks up the fork on the left, pauses, picks up the fork on the right, eats, and puts both down. Each fork is a Lock shared with one neighbour. The table above the timeline shows who holds which fork: a fork drawn beside a philosopher is in that philosopher's hand; the bars count the meals each has eaten.\n\n\
Naive: everyone thinks for the same time, so everyone picks up the left fork at about the same moment; after the pause, everyone reaches for the right fork, which the neighbour holds. Every philosopher waits for the next one around the table: a cycle through all of them, and nobody eats again. The table turns red, the banner names the cycle, and the meals stay at zero. Make the pause very short and the naive table may get lucky for a while: that is what makes deadlocks hard to find in real programs.\n\n\
Lower-numbered fork first: everyone picks up the lower-numbered of their two forks first. For all but the last philosopher that is the left one; the last one reaches right, for fork 1, first. The cycle cannot close: someone always has both forks.\n\n\
A waiter: before reaching for forks, a philosopher asks a waiter, a Semaphore(n − 1), for a seat; at most n − 1 of them hold or want forks at once, so one of them always gets both.\n\n\
Watch the bars and the longest wait: with the fixes everyone eats, but not evenly: a philosopher can wait while both neighbours eat in turns (starvation).",
        "Cada filósofo es un hilo que piensa, toma el tenedor de su izquierda, hace una pausa, toma el de su derecha, come y deja los dos. Cada tenedor es un Lock compartido con un vecino. La mesa sobre la línea de tiempo muestra quién tiene cada tenedor: un tenedor dibujado junto a un filósofo está en su mano; las barras cuentan las comidas de cada uno.\n\n\
Ingenua: todos piensan el mismo tiempo, así que todos toman el tenedor izquierdo casi a la vez; tras la pausa, todos van a por el derecho, que tiene el vecino. Cada filósofo espera al siguiente alrededor de la mesa: un ciclo que pasa por todos, y nadie vuelve a comer. La mesa se pone roja, el aviso nombra el ciclo y las comidas se quedan en cero. Con una pausa muy corta la mesa ingenua puede tener suerte un rato: eso es lo que hace tan difícil encontrar interbloqueos en programas reales.\n\n\
Primero el tenedor de número menor: todos toman primero el de número menor de sus dos tenedores. Para todos menos el último es el izquierdo; el último va primero a la derecha, a por el tenedor 1. El ciclo no puede cerrarse: siempre hay alguien con los dos tenedores.\n\n\
Un camarero: antes de ir a por los tenedores, un filósofo pide sitio a un camarero, un Semaphore(n − 1); como mucho n − 1 tienen o quieren tenedores a la vez, así que uno de ellos siempre consigue los dos.\n\n\
Mira las barras y la espera más larga: con los arreglos todos comen, pero no por igual: un filósofo puede esperar mientras sus dos vecinos comen por turnos (inanición)."
    ),
    knobs: KNOBS,
    body,
    metrics,
    python,
    plots: &[
        PlotSpec {
            title: t!("At the table", "En la mesa"),
            series: &[
                (
                    SeriesRef::Counter("hungry"),
                    t!(
                        "hungry (reaching for forks)",
                        "hambrientos (buscando tenedores)"
                    ),
                ),
                (SeriesRef::Counter("eating"), t!("eating", "comiendo")),
            ],
        },
        PlotSpec {
            title: t!("Meals eaten", "Comidas"),
            series: &[(
                SeriesRef::Counter(MEALS),
                t!("all philosophers", "todos los filósofos"),
            )],
        },
    ],
    extra: Extra::Philosophers,
    outcomes: &[
        Outcome {
            metric: "meals",
            label: t!("meals eaten", "comidas"),
            printed_after: "meals eaten:",
            agree: Agree::Exactly,
        },
        Outcome {
            metric: "fewest_meals",
            label: t!(
                "fewest meals of one philosopher",
                "menos comidas de un filósofo"
            ),
            printed_after: "fewest meals of one philosopher:",
            agree: Agree::Exactly,
        },
        Outcome {
            metric: "threads_stuck",
            label: t!(
                "philosophers stuck when Main gave up",
                "filósofos atascados cuando Main se rindió"
            ),
            printed_after: "philosophers stuck:",
            agree: Agree::Exactly,
        },
    ],
    check_knobs: &[
        ("think", 0.1),
        ("eat", 0.1),
        ("pause", 0.1),
        ("meals", 2.0),
        ("give_up", 3.0),
    ],
    stepping: Stepping::Yes(super::NO_DEADLOCK),
};

/// What one philosopher shares with the table.
struct Seat {
    /// 1-based, as the names say.
    number: usize,
    left: (usize, Lock),
    right: (usize, Lock),
    waiter: Semaphore,
    meals: Counter,
    total: Counter,
    hungry: Counter,
    eating: Counter,
}

fn philosopher(c: &Ctx, seat: &Seat) -> SyncResult<()> {
    let name = c.name().to_string();
    let mut meal = 1;
    while meal <= c.knob_usize("meals") {
        c.log(format!("{name}: thinking"));
        c.sleep(c.knob("think"))?;
        seat.hungry.add(1);
        let strategy = c.knob_usize("strategy");
        let (first, second) = if strategy == ORDERED && seat.left.0 > seat.right.0 {
            (&seat.right, &seat.left)
        } else {
            (&seat.left, &seat.right)
        };
        if strategy == WAITER {
            // At most n − 1 at the table reaching for forks.
            seat.waiter.acquire()?;
        }
        c.log(format!("{name}: reaches for fork {}", first.0));
        let held_first = first.1.hold()?;
        // Naive: by now every neighbour holds a fork too.
        c.sleep(c.knob("pause"))?;
        c.log(format!("{name}: reaches for fork {}", second.0));
        // Naive: held by the neighbour, who waits for the next: forever.
        let held_second = second.1.hold()?;
        seat.hungry.add(-1);
        seat.eating.add(1);
        c.log(format!("{name}: eating meal {meal}"));
        c.sleep(c.knob("eat"))?;
        seat.eating.add(-1);
        seat.meals.add(1);
        seat.total.add(1);
        drop(held_second);
        drop(held_first);
        if strategy == WAITER {
            seat.waiter.release(1)?;
        }
        meal += 1;
    }
    c.log(format!("{name}: done, {} meals", seat.meals.get()));
    Ok(())
}

fn body(ctx: &Ctx) -> SyncResult<()> {
    let lab = ctx.lab();
    let n = ctx.knob_usize("philosophers").max(2);
    let forks: Vec<Lock> = (1..=n).map(|i| lab.lock(&format!("{FORK} {i}"))).collect();
    let waiter = lab.semaphore("waiter", n - 1);
    let total = lab.counter(MEALS);
    let hungry = lab.counter("hungry");
    let eating = lab.counter("eating");
    let strategy = KNOBS[4]
        .choice_at(ctx.knob("strategy"))
        .map_or("?", |c| c.name);
    ctx.log(format!(
        "Main: {n} philosophers, {n} forks, strategy {strategy}"
    ));
    let meals: Vec<Counter> = (1..=n)
        .map(|i| lab.counter(&format!("{MEALS} {i}")))
        .collect();
    // Daemons, as in the program: a table stuck for good must not keep the
    // program from exiting. Made first, then started together.
    let threads: Vec<_> = (1..=n)
        .map(|number| {
            let right = number % n + 1;
            let seat = Seat {
                number,
                left: (number, forks[number - 1].clone()),
                right: (right, forks[right - 1].clone()),
                waiter: waiter.clone(),
                meals: meals[number - 1].clone(),
                total: total.clone(),
                hungry: hungry.clone(),
                eating: eating.clone(),
            };
            ctx.thread(&format!("{PHILOSOPHER} {}", seat.number), true, move |c| {
                philosopher(c, &seat)
            })
        })
        .collect();
    for t in &threads {
        t.start()?;
    }
    let alive = join_or_give_up(ctx, &threads, "give_up")?;
    if !alive.is_empty() {
        ctx.log(format!(
            "Main: gave up after {} s: {} philosophers still at the table",
            py_num(ctx.knob("give_up")),
            alive.len()
        ));
    }
    lab.counter("threads_stuck").set(alive.len() as i64);
    let fewest = meals.iter().map(Counter::get).min().unwrap_or(0);
    ctx.log(format!("Main: meals eaten: {}", total.get()));
    ctx.log(format!("Main: fewest meals of one philosopher: {fewest}"));
    ctx.log(format!("Main: philosophers stuck: {}", alive.len()));
    Ok(())
}

/// Each philosopher's meals, by seat (from the counters "meals 1", "meals 2"…).
pub fn meals_by_seat(record: &Record) -> Vec<i64> {
    let mut seats: Vec<(usize, i64)> = record
        .counters()
        .filter_map(|c| {
            let n = c.name.strip_prefix(MEALS)?.strip_prefix(' ')?;
            Some((n.parse().ok()?, c.value))
        })
        .collect();
    seats.sort_unstable();
    seats.into_iter().map(|(_, v)| v).collect()
}

/// The longest a philosopher has waited for a fork or the waiter in one go,
/// in seconds, from the spans the record kept (the wait under way counts).
fn longest_wait(record: &Record) -> f64 {
    let now = record.now();
    record
        .threads()
        .filter(|t| t.name.starts_with(PHILOSOPHER))
        .flat_map(|t| {
            let open = (t.state == State::Blocked).then_some(now - t.since);
            t.spans
                .iter()
                .filter(|s| s.state == State::Blocked)
                .map(|s| s.end - s.start)
                .chain(open)
        })
        .fold(0.0, f64::max)
}

fn metrics(record: &Record) -> Vec<Metric> {
    let meals = meals_by_seat(record);
    vec![
        counter_metric(record, MEALS, t!("meals eaten", "comidas")),
        Metric {
            name: "fewest_meals",
            label: t!(
                "fewest meals of one philosopher",
                "menos comidas de un filósofo"
            ),
            value: meals.iter().copied().min().unwrap_or(0) as f64,
        },
        Metric {
            name: "most_meals",
            label: t!(
                "most meals of one philosopher",
                "más comidas de un filósofo"
            ),
            value: meals.iter().copied().max().unwrap_or(0) as f64,
        },
        Metric {
            name: "longest_wait",
            label: t!(
                "longest wait for a fork (s)",
                "espera más larga por un tenedor (s)"
            ),
            value: (longest_wait(record) * 1000.0).round() / 1000.0,
        },
        counter_metric(
            record,
            "threads_stuck",
            t!(
                "philosophers stuck when Main gave up",
                "filósofos atascados cuando Main se rindió"
            ),
        ),
        deadlocks_metric(record),
    ]
}

fn python(knobs: &Knobs) -> String {
    let n = knobs.get("philosophers").round() as i64;
    let meals = knobs.get("meals").round() as i64;
    let think = py_num(knobs.get("think"));
    let eat = py_num(knobs.get("eat"));
    let pause = py_num(knobs.get("pause"));
    let give_up = py_num(knobs.get("give_up"));
    let strategy = knobs.get("strategy").round() as usize;
    let waiter_line = if strategy == WAITER {
        "\nwaiter = threading.Semaphore(PHILOSOPHERS - 1)  # seats at most n - 1"
    } else {
        ""
    };
    let order = match strategy {
        ORDERED => {
            "    # One global order: the lower-numbered fork first (the last\n    \
             # philosopher reaches right, for fork 1, first).\n    \
             first, second = min(left, right), max(left, right)"
        }
        _ => "    first, second = left, right  # the left fork first",
    };
    let take_forks = r#"        logging.info("%s: reaches for fork %d", name, first + 1)
        with forks[first]:
            time.sleep(PAUSE){pause_comment}
            logging.info("%s: reaches for fork %d", name, second + 1)
            with forks[second]:{second_comment}
                logging.info("%s: eating meal %d", name, meal)
                time.sleep(EAT)
                meals[i] += 1"#;
    let second_comment = if strategy == NAIVE {
        "  # the neighbour holds it and waits too: forever"
    } else {
        ""
    };
    let pause_comment = if strategy == NAIVE {
        "  # by now every neighbour holds a fork too"
    } else {
        ""
    };
    let take_forks = take_forks
        .replace("{second_comment}", second_comment)
        .replace("{pause_comment}", pause_comment);
    let meal_body = if strategy == WAITER {
        format!(
            "        with waiter:  # ask for a seat before reaching for forks\n{}",
            take_forks
                .lines()
                .map(|l| format!("    {l}"))
                .collect::<Vec<_>>()
                .join("\n")
        )
    } else {
        take_forks
    };
    format!(
        r#"import logging
import threading
import time

PHILOSOPHERS = {n}
MEALS = {meals:<8}# meals each philosopher eats
THINK = {think:<8}# seconds thinking before each meal
PAUSE = {pause:<8}# seconds between picking up the two forks
EAT = {eat:<10}# seconds eating
GIVE_UP = {give_up:<6}# seconds Main waits for the table

forks = [threading.Lock() for _ in range(PHILOSOPHERS)]  # fork i + 1
meals = [0] * PHILOSOPHERS  # one slot per philosopher, so no lock is needed{waiter_line}

def philosopher(i):
    name = threading.current_thread().name
    left, right = i, (i + 1) % PHILOSOPHERS
{order}
    for meal in range(1, MEALS + 1):
        logging.info("%s: thinking", name)
        time.sleep(THINK)
{meal_body}
    logging.info("%s: done, %d meals", name, meals[i])

if __name__ == "__main__":
    logging.basicConfig(format="%(asctime)s: %(message)s",
                        level=logging.INFO, datefmt="%H:%M:%S")
    # Daemons: a table stuck for good must not keep the program alive.
    threads = [threading.Thread(target=philosopher, args=(i,),
                                name=f"Philosopher {{i + 1}}", daemon=True)
               for i in range(PHILOSOPHERS)]
    for t in threads:
        t.start()
    deadline = time.monotonic() + GIVE_UP
    for t in threads:  # a plain join() would wait forever too
        t.join(timeout=max(0, deadline - time.monotonic()))
    stuck = [t.name for t in threads if t.is_alive()]
    if stuck:
        logging.info("Main: gave up after %s s: %d philosophers still at the table",
                     GIVE_UP, len(stuck))
    logging.info("Main: meals eaten: %d", sum(meals))
    logging.info("Main: fewest meals of one philosopher: %d", min(meals))
    logging.info("Main: philosophers stuck: %d", len(stuck))
"#
    )
}
