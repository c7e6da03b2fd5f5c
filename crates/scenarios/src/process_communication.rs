//! How processes talk and share (seed 004): children put messages in a
//! Queue, a child echoes through a Pipe, a Lock serialises their output,
//! several add to a shared Value (losing updates without its lock), one
//! negates a shared Array, and a Manager's dict and list are changed by a
//! child through proxies. Every message is serialised: its bytes, the time
//! that takes and its latency are counted.

use std::time::Instant;

use serde_json::{Value, json};

use super::{
    Agree, Extra, Group, Metric, Outcome, PlotSpec, Scenario, SeriesRef, Stepping, py_num,
};
use crate::lab::process::child::ChildArgs;
use crate::lab::process::ipc::{self, Array, Connection};
use crate::lab::process::manager::{Manager, Proxy};
use crate::lab::process::{Process, ProcessSpec};
use crate::lab::record::Record;
use crate::lab::{Ctx, KnobSpec, Knobs, SyncResult};
use crate::t;

pub const ID: &str = "process-communication";

const NOT_LIVE: crate::lab::text::Text = t!(
    "applies at the next Start: the processes are made when it starts",
    "se aplica al próximo Inicio: los procesos se crean al empezar"
);

const KNOBS: &[KnobSpec] = &[
    KnobSpec::int(
        "processes",
        t!("Processes", "Procesos"),
        "processes",
        1,
        8,
        4,
    )
    .not_live(NOT_LIVE),
    KnobSpec::int(
        "messages",
        t!("Messages per process", "Mensajes por proceso"),
        "messages",
        1,
        200,
        20,
    )
    .not_live(NOT_LIVE),
    KnobSpec::seconds(
        "pause",
        t!("Pause between messages", "Pausa entre mensajes"),
        0.0005,
        0.5,
        0.01,
    ),
    KnobSpec::int(
        "increments",
        t!(
            "counter.value += 1, times per process",
            "counter.value += 1, veces por proceso"
        ),
        "times",
        10,
        100000,
        20000,
    )
    .not_live(NOT_LIVE),
    KnobSpec::flag(
        "lock",
        t!(
            "Increment under counter.get_lock()",
            "Incrementar con counter.get_lock()"
        ),
        false,
    )
    .not_live(NOT_LIVE),
];

pub static SCENARIO: Scenario = Scenario {
    id: ID,
    group: Group::Parallelism,
    title: t!(
        "Processes talking: Queue, Pipe, Lock, Value, Manager",
        "Procesos que se comunican: Queue, Pipe, Lock, Value, Manager"
    ),
    lesson: t!(
        "Processes share nothing by default: they send each other serialised messages (a Queue for many, a Pipe for two), share numbers in shared memory (Value, Array: a cross-process race without the lock) or objects held by a Manager's server process.",
        "Los procesos no comparten nada por defecto: se envían mensajes serializados (una Queue para muchos, un Pipe para dos), comparten números en memoria compartida (Value, Array: una carrera entre procesos sin el lock) u objetos que guarda el proceso servidor de un Manager."
    ),
    explanation: t!(
        "Five short acts, each with real child processes (their lanes under their headers). A Queue: every child puts its messages (each serialised and sent as a packet: the bytes, the time to serialise and each message's latency are counted); MainThread gets them all, each child's in the order it sent them. A Pipe: two ends, MainThread sends a number and the child sends it back: the round trip's time. A Lock: each child prints 'hello world' holding it, so the lines never mix (the others wait, blocked on the lock). A Value in shared memory: each child does counter.value += 1 many times — a read and a write with Python in between, so without counter.get_lock() two processes read the same number and updates are lost; tick the lock and none are. An Array: a child negates it and the parent sees the change. A Manager: a server process (SyncManager) holds a dict and a list; a child changes them through proxies, and the parent reads them back.",
        "Cinco actos cortos, cada uno con procesos hijos reales (sus carriles bajo sus cabeceras). Una Queue: cada hijo pone sus mensajes (cada uno se serializa y se envía como un paquete: se cuentan los bytes, el tiempo de serializar y la latencia de cada mensaje); MainThread los recibe todos, los de cada hijo en el orden en que los envió. Un Pipe: dos extremos, MainThread envía un número y el hijo lo devuelve: el tiempo de ida y vuelta. Un Lock: cada hijo imprime 'hello world' con él tomado, así que las líneas nunca se mezclan (los demás esperan, bloqueados en el lock). Un Value en memoria compartida: cada hijo hace counter.value += 1 muchas veces — una lectura y una escritura con Python en medio, así que sin counter.get_lock() dos procesos leen el mismo número y se pierden actualizaciones; marca el lock y no se pierde ninguna. Un Array: un hijo lo niega y el padre ve el cambio. Un Manager: un proceso servidor (SyncManager) guarda un dict y una lista; un hijo los cambia a través de proxies y el padre los vuelve a leer."
    ),
    knobs: KNOBS,
    body,
    metrics,
    python,
    plots: &[
        PlotSpec {
            title: t!("The Queue", "La Queue"),
            series: &[
                (
                    SeriesRef::Level("q"),
                    t!("messages in it", "mensajes dentro"),
                ),
                (
                    SeriesRef::Counter("q.received"),
                    t!("received by MainThread", "recibidos por MainThread"),
                ),
            ],
        },
        PlotSpec {
            title: t!("Latency (µs)", "Latencia (µs)"),
            series: &[
                (
                    SeriesRef::Counter("q.latency_us"),
                    t!("a Queue message", "un mensaje de la Queue"),
                ),
                (
                    SeriesRef::Counter("rtt_us"),
                    t!("a Pipe round trip", "ida y vuelta por el Pipe"),
                ),
            ],
        },
        PlotSpec {
            title: t!("The shared counter", "El contador compartido"),
            series: &[
                (
                    SeriesRef::Level("counter"),
                    t!("counter.value", "counter.value"),
                ),
                (
                    SeriesRef::Level("counter.get_lock()"),
                    t!("its lock held", "su lock tomado"),
                ),
            ],
        },
    ],
    extra: Extra::Processes { strategies: &[] },
    outcomes: &[
        Outcome {
            metric: "queue_received",
            label: t!("Queue: messages received", "Queue: mensajes recibidos"),
            printed_after: "queue messages received:",
            agree: Agree::Exactly,
        },
        Outcome {
            metric: "queue_in_order",
            label: t!(
                "Queue: each sender's in order (1 = yes)",
                "Queue: los de cada emisor en orden (1 = sí)"
            ),
            printed_after: "queue in order per sender:",
            agree: Agree::Exactly,
        },
        Outcome {
            metric: "pipe_replies",
            label: t!("Pipe: replies", "Pipe: respuestas"),
            printed_after: "pipe replies:",
            agree: Agree::Exactly,
        },
        Outcome {
            metric: "greetings",
            label: t!(
                "lines printed under the Lock",
                "líneas impresas con el Lock"
            ),
            printed_after: "greetings:",
            agree: Agree::Exactly,
        },
        Outcome {
            metric: "array_sum",
            label: t!("sum of the Array after negating", "suma del Array negado"),
            printed_after: "array sum:",
            agree: Agree::Exactly,
        },
        Outcome {
            metric: "manager_items",
            label: t!(
                "items in the Manager's dict",
                "elementos del dict del Manager"
            ),
            printed_after: "manager dict items:",
            agree: Agree::Exactly,
        },
        Outcome {
            metric: "manager_list_first",
            label: t!(
                "the Manager's list, first after reverse()",
                "la lista del Manager, primero tras reverse()"
            ),
            printed_after: "manager list first:",
            agree: Agree::Exactly,
        },
    ],
    check_knobs: &[("messages", 5.0), ("increments", 200.0), ("processes", 3.0)],
    stepping: Stepping::No(super::NO_STEPPING_PROCESSES),
};

fn spec(target: &str, args: Value, handles: Vec<crate::lab::process::wire::Handle>) -> ProcessSpec {
    let mut s = ProcessSpec::new(target, args);
    s.handles = handles;
    s
}

fn start_all(procs: &[Process]) -> SyncResult<()> {
    for p in procs {
        p.start()?;
    }
    Ok(())
}

fn join_all(procs: &[Process]) -> SyncResult<()> {
    for p in procs {
        p.join(None)?;
    }
    Ok(())
}

// ---- What the children run

/// Put `messages` messages, a pause between them.
pub fn producer(ctx: &Ctx, args: &ChildArgs) -> SyncResult<()> {
    let q = ipc::Queue::from_handle(&ctx.lab(), args.handle("q")?)?;
    let n = args.num("n") as u64;
    for i in 0..args.num("messages") as u64 {
        q.put(&json!([n, i]))?;
        ctx.sleep(ctx.knob("pause"))?;
    }
    ctx.log(format!(
        "{}: sent {} messages",
        args.name,
        args.num("messages")
    ));
    Ok(())
}

/// Send back what comes, until None.
pub fn echo(ctx: &Ctx, args: &ChildArgs) -> SyncResult<()> {
    let conn = Connection::from_handle(&ctx.lab(), args.handle("pipe[1]")?)?;
    loop {
        let msg = conn.recv()?;
        if msg.is_null() {
            return Ok(());
        }
        conn.send(&msg)?;
    }
}

/// `with lock: print("hello world", i)`.
pub fn greet(ctx: &Ctx, args: &ChildArgs) -> SyncResult<()> {
    let lock = ipc::Lock::from_handle(&ctx.lab(), args.handle("lock")?)?;
    lock.acquire()?;
    ctx.log(format!("hello world {}", args.num("i")));
    // Printing takes a moment (I/O): the others wait for the lock.
    let r = ctx.sleep(ctx.knob("pause"));
    lock.release()?;
    r
}

/// `counter.value += 1`, `increments` times, with or without its lock.
pub fn add(ctx: &Ctx, args: &ChildArgs) -> SyncResult<()> {
    let counter = ipc::Value::from_handle(&ctx.lab(), args.handle("counter")?)?;
    let with_lock = args.args["lock"].as_bool().unwrap_or(false);
    for _ in 0..args.num("increments") as u64 {
        let lock = if with_lock { counter.get_lock() } else { None };
        if let Some(l) = lock {
            l.acquire()?;
        }
        let v = counter.get();
        // The bytecodes between reading .value and writing it back.
        ctx.compute(2000)?;
        counter.set(v + 1.0);
        if let Some(l) = lock {
            l.release()?;
        }
    }
    Ok(())
}

/// Seed 004's `f(n, a)`: `n.value = 3.1415927`, `a[i] = -a[i]`.
pub fn negate(ctx: &Ctx, args: &ChildArgs) -> SyncResult<()> {
    let lab = ctx.lab();
    let num = ipc::Value::from_handle(&lab, args.handle("num")?)?;
    let arr = Array::from_handle(&lab, args.handle("arr")?)?;
    // The seed's number, as the program writes it (not math.pi).
    #[allow(clippy::approx_constant)]
    num.set(3.1415927);
    for i in 0..arr.len() {
        arr.set(i, -arr.get(i)?);
    }
    Ok(())
}

/// Seed 004's manager example: `d[1] = '1'; d['2'] = 2; d[0.25] = None; l.reverse()`.
pub fn change(ctx: &Ctx, args: &ChildArgs) -> SyncResult<()> {
    let proxy = Proxy::from_handle(&ctx.lab(), args.handle_any_manager()?)?;
    proxy.dict_set("1", json!("1"))?;
    proxy.dict_set("'2'", json!(2))?;
    proxy.dict_set("0.25", Value::Null)?;
    proxy.list_reverse()?;
    Ok(())
}

// ---- MainThread

fn body(ctx: &Ctx) -> SyncResult<()> {
    let lab = ctx.lab();
    lab.set_process_scenario(ID);
    let n = ctx.knob_usize("processes").max(1);
    let messages = ctx.knob_usize("messages").max(1);
    let increments = ctx.knob_usize("increments").max(1);
    let use_lock = ctx.knob_bool("lock");

    // 1. A Queue, many senders.
    ctx.log(format!(
        "Main    : {n} processes put {messages} messages each in a Queue"
    ));
    let q = ipc::Queue::new(&lab, "q")?;
    let producers: Vec<Process> = (0..n)
        .map(|k| {
            lab.process(spec(
                "comm.producer",
                json!({ "n": k, "messages": messages }),
                vec![q.handle()],
            ))
        })
        .collect();
    start_all(&producers)?;
    let mut next = vec![0u64; n];
    let mut in_order = true;
    let received = lab.counter("queue_received");
    for _ in 0..n * messages {
        let msg = q.get(None)?;
        let (from, i) = (
            msg[0].as_u64().unwrap_or(0) as usize,
            msg[1].as_u64().unwrap_or(0),
        );
        if next.get(from) != Some(&i) {
            in_order = false;
        }
        if let Some(slot) = next.get_mut(from) {
            *slot = i + 1;
        }
        received.add(1);
    }
    join_all(&producers)?;
    lab.counter("queue_in_order").set(i64::from(in_order));
    ctx.log(format!(
        "Main    : queue messages received: {}",
        received.get()
    ));
    ctx.log(format!(
        "Main    : queue in order per sender: {}",
        i64::from(in_order)
    ));

    // 2. A Pipe: two ends, a round trip.
    let (parent_end, child_end) = ipc::pipe(&lab, "pipe")?;
    let echo = lab.process(spec("comm.echo", Value::Null, vec![child_end.handle()]));
    echo.start()?;
    let rtt = lab.counter("rtt_us");
    let mut replies = 0;
    let mut total = 0.0;
    for i in 0..messages as u64 {
        let t0 = Instant::now();
        parent_end.send(&json!(i))?;
        if parent_end.recv()? == json!(i) {
            replies += 1;
        }
        let took = t0.elapsed().as_secs_f64();
        total += took;
        rtt.set((took * 1e6) as i64);
    }
    parent_end.send(&Value::Null)?;
    echo.join(None)?;
    lab.counter("pipe_replies").set(replies);
    lab.counter("rtt_mean_us")
        .set((total / messages as f64 * 1e6) as i64);
    ctx.log(format!("Main    : pipe replies: {replies}"));
    ctx.log(format!(
        "Main    : pipe round trip: {:.0} us",
        total / messages as f64 * 1e6
    ));

    // 3. A Lock around printing.
    let lock = ipc::Lock::new(&lab, "lock")?;
    let greeters: Vec<Process> = (0..n)
        .map(|i| lab.process(spec("comm.greet", json!({ "i": i }), vec![lock.handle()])))
        .collect();
    start_all(&greeters)?;
    join_all(&greeters)?;
    let greeted = greeters.iter().filter(|p| p.exitcode() == Some(0)).count();
    lab.counter("greetings").set(greeted as i64);
    ctx.log(format!("Main    : greetings: {greeted}"));

    // 4. A Value in shared memory: += from every process.
    let counter = ipc::Value::new(&lab, "counter", false, 0.0, true)?;
    let adders: Vec<Process> = (0..n)
        .map(|_| {
            lab.process(spec(
                "comm.add",
                json!({ "increments": increments, "lock": use_lock }),
                vec![counter.handle()],
            ))
        })
        .collect();
    start_all(&adders)?;
    join_all(&adders)?;
    let expected = (n * increments) as i64;
    let actual = counter.get() as i64;
    lab.counter("counter_expected").set(expected);
    lab.counter("counter_actual").set(actual);
    ctx.log(format!("Main    : counter: {actual} of {expected}"));
    ctx.log(format!("Main    : lost updates: {}", expected - actual));

    // 5. An Array, negated by a child.
    let num = ipc::Value::new(&lab, "num", true, 0.0, true)?;
    let values: Vec<f64> = (0..10).map(f64::from).collect();
    let arr = Array::new(&lab, "arr", false, &values)?;
    let p = lab.process(spec(
        "comm.negate",
        Value::Null,
        vec![num.handle(), arr.handle()],
    ));
    p.start()?;
    p.join(None)?;
    let sum: f64 = arr.to_vec().iter().sum();
    lab.counter("array_sum").set(sum as i64);
    ctx.log(format!(
        "Main    : {} {:?}",
        num.get(),
        arr.to_vec().iter().map(|v| *v as i64).collect::<Vec<_>>()
    ));
    ctx.log(format!("Main    : array sum: {sum}"));

    // 6. A Manager: a server process holds a dict and a list.
    let manager = Manager::start(ctx)?;
    let result = (|| {
        let proxy = manager.proxy(&lab)?;
        proxy.list_extend((0..10).map(|i| json!(i)).collect())?;
        let p = lab.process(spec("comm.change", Value::Null, vec![manager.handle()]));
        p.start()?;
        p.join(None)?;
        let items = proxy.dict_items()?;
        let list = proxy.list_items()?;
        lab.counter("manager_items").set(items.len() as i64);
        let first = list.first().and_then(Value::as_i64).unwrap_or(-1);
        lab.counter("manager_list_first").set(first);
        let shown: Vec<String> = items
            .iter()
            .map(|(k, v)| format!("{k}: {}", python_repr(v)))
            .collect();
        ctx.log(format!("Main    : {{{}}}", shown.join(", ")));
        let list: Vec<String> = list.iter().map(python_repr).collect();
        ctx.log(format!("Main    : [{}]", list.join(", ")));
        ctx.log(format!("Main    : manager dict items: {}", items.len()));
        ctx.log(format!("Main    : manager list first: {first}"));
        Ok(())
    })();
    manager.shutdown(&lab);
    result
}

fn python_repr(v: &Value) -> String {
    match v {
        Value::Null => "None".into(),
        Value::String(s) => format!("'{s}'"),
        other => other.to_string(),
    }
}

fn metrics(record: &Record) -> Vec<Metric> {
    let c = |name: &str| record.counter_value(name).unwrap_or(0) as f64;
    let sum = |suffix: &str| -> f64 {
        record
            .counters()
            .filter(|k| k.name.ends_with(suffix))
            .map(|k| k.value as f64)
            .sum()
    };
    vec![
        Metric {
            name: "queue_received",
            label: t!("Queue: received", "Queue: recibidos"),
            value: c("queue_received"),
        },
        Metric {
            name: "queue_in_order",
            label: t!("in order per sender", "en orden por emisor"),
            value: c("queue_in_order"),
        },
        Metric {
            name: "queue_bytes",
            label: t!("Queue: bytes sent", "Queue: bytes enviados"),
            value: sum("q.bytes"),
        },
        Metric {
            name: "pipe_replies",
            label: t!("Pipe: replies", "Pipe: respuestas"),
            value: c("pipe_replies"),
        },
        Metric {
            name: "pipe_rtt_us",
            label: t!(
                "Pipe: mean round trip (µs)",
                "Pipe: ida y vuelta media (µs)"
            ),
            value: c("rtt_mean_us"),
        },
        Metric {
            name: "greetings",
            label: t!("greetings under the Lock", "saludos con el Lock"),
            value: c("greetings"),
        },
        Metric {
            name: "counter_expected",
            label: t!("counter: expected", "contador: esperado"),
            value: c("counter_expected"),
        },
        Metric {
            name: "counter_actual",
            label: t!("counter: actual", "contador: real"),
            value: c("counter_actual"),
        },
        Metric {
            name: "lost_updates",
            label: t!("lost updates", "actualizaciones perdidas"),
            value: c("counter_expected") - c("counter_actual"),
        },
        Metric {
            name: "array_sum",
            label: t!("Array sum", "suma del Array"),
            value: c("array_sum"),
        },
        Metric {
            name: "manager_items",
            label: t!("Manager dict items", "elementos del dict"),
            value: c("manager_items"),
        },
        Metric {
            name: "manager_list_first",
            label: t!("Manager list[0]", "lista[0] del Manager"),
            value: c("manager_list_first"),
        },
    ]
}

fn python(knobs: &Knobs) -> String {
    format!(
        r#"import time
from multiprocessing import Array, Lock, Manager, Pipe, Process, Queue, Value

PROCESSES = {processes}
MESSAGES = {messages}
PAUSE = {pause}
INCREMENTS = {increments}
USE_LOCK = {lock}

def producer(q, n):
    for i in range(MESSAGES):
        q.put((n, i))          # pickled and sent through a pipe
        time.sleep(PAUSE)

def echo(conn):
    while (msg := conn.recv()) is not None:
        conn.send(msg)

def greet(lock, i):
    with lock:                 # one process prints at a time
        print("hello world", i)
        time.sleep(PAUSE)

def add(counter):
    for _ in range(INCREMENTS):
        if USE_LOCK:
            with counter.get_lock():
                counter.value += 1
        else:
            counter.value += 1  # read, add, write: another process can come between

def negate(num, arr):
    num.value = 3.1415927
    for i in range(len(arr)):
        arr[i] = -arr[i]

def change(d, l):
    d[1] = '1'
    d['2'] = 2
    d[0.25] = None
    l.reverse()

def run_all(processes):
    for p in processes:
        p.start()
    for p in processes:
        p.join()

# The guard keeps a child that imports this file from starting processes.
if __name__ == "__main__":
    q = Queue()
    senders = [Process(target=producer, args=(q, n)) for n in range(PROCESSES)]
    for p in senders:
        p.start()
    expected = [0] * PROCESSES
    in_order = True
    for _ in range(PROCESSES * MESSAGES):
        n, i = q.get()
        in_order = in_order and i == expected[n]
        expected[n] = i + 1
    for p in senders:
        p.join()
    print(f"queue messages received: {{sum(expected)}}")
    print(f"queue in order per sender: {{int(in_order)}}")

    parent_conn, child_conn = Pipe()
    p = Process(target=echo, args=(child_conn,))
    p.start()
    replies = 0
    started = time.perf_counter()
    for i in range(MESSAGES):
        parent_conn.send(i)
        replies += parent_conn.recv() == i
    took = (time.perf_counter() - started) / MESSAGES
    parent_conn.send(None)
    p.join()
    print(f"pipe replies: {{replies}}")
    print(f"pipe round trip: {{took * 1e6:.0f}} us")

    lock = Lock()
    greeters = [Process(target=greet, args=(lock, i)) for i in range(PROCESSES)]
    run_all(greeters)
    print(f"greetings: {{sum(p.exitcode == 0 for p in greeters)}}")

    counter = Value('i', 0)
    run_all([Process(target=add, args=(counter,)) for _ in range(PROCESSES)])
    print(f"counter: {{counter.value}} of {{PROCESSES * INCREMENTS}}")
    print(f"lost updates: {{PROCESSES * INCREMENTS - counter.value}}")

    num = Value('d', 0.0)
    arr = Array('i', range(10))
    run_all([Process(target=negate, args=(num, arr))])
    print(num.value, arr[:])
    print(f"array sum: {{sum(arr)}}")

    with Manager() as manager:
        d = manager.dict()
        l = manager.list(range(10))
        run_all([Process(target=change, args=(d, l))])
        print(d)
        print(l)
        print(f"manager dict items: {{len(d)}}")
        print(f"manager list first: {{l[0]}}")
"#,
        processes = knobs.get("processes").round() as i64,
        messages = knobs.get("messages").round() as i64,
        pause = py_num(knobs.get("pause")),
        increments = knobs.get("increments").round() as i64,
        lock = if knobs.get("lock") >= 0.5 {
            "True"
        } else {
            "False"
        },
    )
}
