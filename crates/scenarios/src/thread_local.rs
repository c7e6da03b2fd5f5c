//! `threading.local()`: the same name holds a separate value in every
//! thread; a plain shared object under the same name mixes them up (seed 000's
//! "datos globales independientes").

use std::sync::Arc;

use parking_lot::Mutex;

use super::{
    Agree, Extra, Group, Metric, Outcome, PlotSpec, Scenario, SeriesRef, Stepping, counter_metric,
    py_num,
};
use crate::lab::record::Record;
use crate::lab::{Ctx, KnobSpec, Knobs, Local, SyncResult, Thread};
use crate::t;

const KNOBS: &[KnobSpec] = &[
    KnobSpec::int("threads", t!("Threads", "Hilos"), "threads", 1, 32, 4).not_live(t!(
        "applies at the next Start: the threads are created when it starts",
        "se aplica al próximo Inicio: los hilos se crean al empezar"
    )),
    KnobSpec::seconds(
        "work",
        t!(
            "Work between storing and reading back",
            "Trabajo entre guardar y volver a leer"
        ),
        0.01,
        10.0,
        1.0,
    ),
    KnobSpec::flag(
        "shared",
        t!(
            "A plain shared object instead of threading.local()",
            "Un objeto compartido normal en vez de threading.local()"
        ),
        false,
    )
    .not_live(t!(
        "applies at the next Start: mydata is made once, at the start",
        "se aplica al próximo Inicio: mydata se crea una vez, al empezar"
    )),
];

/// The keys each thread's values are noted under (the window's table).
const FOUND: &str = "found at start";
const STORED: &str = "stored";
const READ_BACK: &str = "read back";

pub static SCENARIO: Scenario = Scenario {
    id: "thread-local",
    group: Group::Threads,
    title: t!("Thread-local data", "Datos locales de cada hilo"),
    lesson: t!(
        "threading.local() gives every thread its own value under the same name: what one thread stores, no other sees. A plain shared object under that name is one value for all, and the threads overwrite each other.",
        "threading.local() da a cada hilo su propio valor bajo el mismo nombre: lo que un hilo guarda, ningún otro lo ve. Un objeto compartido normal con ese nombre es un solo valor para todos, y los hilos se lo pisan."
    ),
    explanation: t!(
        "MainThread makes mydata = threading.local() and stores mydata.user = 'main'. Then every thread handles a request: it looks at mydata.user, stores its own user in it, works for a while, and reads mydata.user back.\n\n\
The table above the timeline lists each thread's values: what it found at the start, what it stored, and what it read back (green when it is its own, red when it is not). With threading.local() a new thread finds nothing (getattr(mydata, 'user', None) is None; reading mydata.user would raise AttributeError): MainThread's value is not inherited. Each reads back exactly what it stored, and MainThread's 'main' is still there at the end. Hover a lane to see its values too.\n\n\
Tick 'A plain shared object' and start again: the only change in the program is mydata = Shared() instead of threading.local(). Now there is one mydata.user for everybody. Each thread finds the value someone else stored, and after the work every thread but the last to store reads back the last one's user: a request handled under the wrong user. This is why per-request data (the user, a database connection) lives in a threading.local.",
        "MainThread crea mydata = threading.local() y guarda mydata.user = 'main'. Después cada hilo atiende una petición: mira mydata.user, guarda en él su propio usuario, trabaja un rato y vuelve a leer mydata.user.\n\n\
La tabla sobre la línea de tiempo lista los valores de cada hilo: lo que encontró al empezar, lo que guardó y lo que leyó después (verde si es el suyo, rojo si no). Con threading.local() un hilo nuevo no encuentra nada (getattr(mydata, 'user', None) es None; leer mydata.user lanzaría AttributeError): el valor de MainThread no se hereda. Cada uno lee exactamente lo que guardó, y el 'main' de MainThread sigue ahí al final. Pasa el ratón por una línea para ver sus valores también.\n\n\
Marca 'Un objeto compartido normal' y vuelve a empezar: el único cambio en el programa es mydata = Shared() en vez de threading.local(). Ahora hay un solo mydata.user para todos. Cada hilo encuentra el valor que guardó otro, y tras el trabajo todos salvo el último en guardar leen el usuario de ese último: una petición atendida con el usuario equivocado. Por eso los datos de cada petición (el usuario, una conexión a la base de datos) van en un threading.local."
    ),
    knobs: KNOBS,
    body,
    metrics,
    python,
    plots: &[PlotSpec {
        title: t!("What the threads found", "Lo que encontraron los hilos"),
        series: &[
            (SeriesRef::Counter("stored"), t!("stored", "guardaron")),
            (
                SeriesRef::Counter("found_value"),
                t!(
                    "found a value already there",
                    "encontraron un valor ya puesto"
                ),
            ),
            (
                SeriesRef::Counter("read_back_own"),
                t!("read back their own", "leyeron el suyo"),
            ),
            (
                SeriesRef::Counter("read_back_other"),
                t!("read back another's", "leyeron el de otro"),
            ),
        ],
    }],
    extra: Extra::ThreadNotes {
        expected: STORED,
        actual: READ_BACK,
    },
    outcomes: &[
        Outcome {
            metric: "found_value",
            label: t!(
                "threads that found a value before storing theirs",
                "hilos que encontraron un valor antes de guardar el suyo"
            ),
            printed_after: "threads that found a value before storing theirs:",
            agree: Agree::Exactly,
        },
        Outcome {
            metric: "read_back_other",
            label: t!(
                "threads that read back another thread's value",
                "hilos que leyeron el valor de otro hilo"
            ),
            printed_after: "threads that read back another thread's value:",
            agree: Agree::Exactly,
        },
    ],
    check_knobs: &[("work", 0.3)],
    stepping: Stepping::Yes(super::ENDS_WELL),
};

/// Where `mydata.user` lives: a `threading.local()`, or one shared slot.
#[derive(Clone)]
enum MyData {
    Local(Local<String>),
    Shared(Arc<Mutex<Option<String>>>),
}

impl MyData {
    /// `getattr(mydata, "user", None)`.
    fn user(&self) -> Option<String> {
        match self {
            MyData::Local(l) => l.try_get(),
            MyData::Shared(s) => s.lock().clone(),
        }
    }

    /// `mydata.user = value`.
    fn set_user(&self, value: String) {
        match self {
            MyData::Local(l) => l.set(value),
            MyData::Shared(s) => *s.lock() = Some(value),
        }
    }
}

/// Python's repr of an optional string: 'user-1' or None.
fn py_repr(v: &Option<String>) -> String {
    v.as_ref()
        .map_or_else(|| "None".to_string(), |s| format!("'{s}'"))
}

fn body(ctx: &Ctx) -> SyncResult<()> {
    let lab = ctx.lab();
    let mydata = if ctx.knob_bool("shared") {
        MyData::Shared(Arc::new(Mutex::new(None)))
    } else {
        MyData::Local(lab.local("mydata.user"))
    };
    let stored = lab.counter("stored");
    let found = lab.counter("found_value");
    let own = lab.counter("read_back_own");
    let other = lab.counter("read_back_other");
    ctx.note(FOUND, py_repr(&mydata.user()));
    mydata.set_user("main".into());
    ctx.note(STORED, "'main'");
    ctx.log("Main    : mydata.user = 'main'");

    let n = ctx.knob_usize("threads");
    let threads: Vec<Thread> = (1..=n)
        .map(|i| {
            let (mydata, stored, found, own, other) = (
                mydata.clone(),
                stored.clone(),
                found.clone(),
                own.clone(),
                other.clone(),
            );
            lab.thread_for("handle_request", false, move |c| {
                let name = c.name().to_string();
                let before = mydata.user();
                c.note(FOUND, py_repr(&before));
                c.log(format!("{name}: found mydata.user = {}", py_repr(&before)));
                if before.is_some() {
                    found.add(1);
                }
                let mine = format!("user-{i}");
                mydata.set_user(mine.clone());
                stored.add(1);
                c.note(STORED, format!("'{mine}'"));
                c.log(format!("{name}: stored mydata.user = '{mine}'"));
                c.sleep(c.knob("work"))?;
                let after = mydata.user();
                c.note(READ_BACK, py_repr(&after));
                if after.as_deref() == Some(mine.as_str()) {
                    own.add(1);
                    c.log(format!("{name}: read back mydata.user = '{mine}'"));
                } else {
                    other.add(1);
                    c.log(format!(
                        "{name}: read back mydata.user = {}, not its own!",
                        py_repr(&after)
                    ));
                }
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
    let main_value = mydata.user();
    ctx.note(READ_BACK, py_repr(&main_value));
    ctx.log(format!(
        "Main    : mydata.user = {} at the end",
        py_repr(&main_value)
    ));
    ctx.log(format!(
        "Main    : threads that found a value before storing theirs: {}",
        found.get()
    ));
    ctx.log(format!(
        "Main    : threads that read back another thread's value: {}",
        other.get()
    ));
    Ok(())
}

fn metrics(record: &Record) -> Vec<Metric> {
    vec![
        counter_metric(
            record,
            "stored",
            t!("threads that stored", "hilos que guardaron"),
        ),
        counter_metric(
            record,
            "found_value",
            t!(
                "found a value before storing",
                "encontraron un valor antes de guardar"
            ),
        ),
        counter_metric(
            record,
            "read_back_own",
            t!("read back their own", "leyeron el suyo"),
        ),
        counter_metric(
            record,
            "read_back_other",
            t!("read back another's", "leyeron el de otro"),
        ),
    ]
}

fn python(knobs: &Knobs) -> String {
    let threads = knobs.get("threads").round() as i64;
    let shared = knobs.get("shared") >= 0.5;
    let make = if shared {
        "class Shared:\n    \"\"\"A plain object: its attributes are shared by every thread.\"\"\"\n\nmydata = Shared()           # one object: one user for every thread"
    } else {
        "mydata = threading.local()  # one name, a separate value per thread"
    };
    format!(
        r#"import logging
import threading
import time

THREADS = {threads}
WORK = {work}

{make}

found = 0        # threads that found a user before storing theirs
read_back = 0    # threads that read back another thread's user
counts_lock = threading.Lock()

def handle_request(n):
    global found, read_back
    name = threading.current_thread().name
    before = getattr(mydata, "user", None)
    logging.info("%s: found mydata.user = %r", name, before)
    mine = f"user-{{n}}"
    mydata.user = mine
    logging.info("%s: stored mydata.user = %r", name, mine)
    time.sleep(WORK)                   # the other threads run meanwhile
    after = mydata.user
    if after == mine:
        logging.info("%s: read back mydata.user = %r", name, after)
    else:
        logging.info("%s: read back mydata.user = %r, not its own!", name, after)
    with counts_lock:
        found += before is not None
        read_back += after != mine

if __name__ == "__main__":
    logging.basicConfig(format="%(asctime)s: %(message)s",
                        level=logging.INFO, datefmt="%H:%M:%S")
    mydata.user = "main"
    logging.info("Main    : mydata.user = 'main'")
    threads = [threading.Thread(target=handle_request, args=(n,))
               for n in range(1, THREADS + 1)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    logging.info("Main    : mydata.user = %r at the end", mydata.user)
    logging.info("Main    : threads that found a value before storing theirs: %d",
                 found)
    logging.info("Main    : threads that read back another thread's value: %d",
                 read_back)
"#,
        work = py_num(knobs.get("work")),
    )
}
