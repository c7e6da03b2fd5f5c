//! The frozen window: a loop of `time.sleep` on the UI thread stops it from
//! drawing; the same loop on a worker does not (seed 000's comments; seed 004).
//! Headless, MainThread plays the UI's event loop and ticks a frame every
//! 1/60 s unless it is busy running the loop itself.

use std::time::{Duration, Instant};

use super::{
    Agree, Extra, Group, Metric, Outcome, PlotSpec, Scenario, SeriesRef, Stepping, counter_metric,
    py_num,
};
use crate::lab::record::Record;
use crate::lab::{Ctx, KnobSpec, Knobs, SyncResult};
use crate::t;

const KNOBS: &[KnobSpec] = &[
    KnobSpec::int("steps", t!("Steps", "Pasos"), "steps", 1, 200, 20),
    KnobSpec::seconds(
        "sleep",
        t!("Sleep per step", "Pausa por paso"),
        0.01,
        2.0,
        0.1,
    ),
    KnobSpec::flag(
        "ui_thread",
        t!(
            "Run the loop on the UI thread",
            "Ejecutar el bucle en el hilo de la interfaz"
        ),
        false,
    )
    .not_live(t!(
        "applies at the next Start: the loop starts on one thread or the other",
        "se aplica al próximo Inicio: el bucle empieza en un hilo o en el otro"
    )),
];

/// One frame of a 60 Hz UI loop.
pub const FRAME: Duration = Duration::from_micros(16_667);

pub static SCENARIO: Scenario = Scenario {
    id: "frozen-ui",
    group: Group::Threads,
    title: t!("The frozen window", "La ventana congelada"),
    lesson: t!(
        "A slow loop on the UI thread freezes the window; the same loop on a worker thread keeps it alive.",
        "Un bucle lento en el hilo de la interfaz congela la ventana; el mismo bucle en un hilo trabajador la mantiene viva."
    ),
    explanation: t!(
        "A window is drawn by one thread, the UI thread, in a loop: handle input, draw a frame, repeat, about 60 times a second. A button's handler runs on that same thread. If the handler calls time.sleep in a loop, nothing else happens until it returns: no frames, no clicks, the spinner stops and the system may say the program is not responding.\n\n\
Press 'Run on the UI thread' and watch the frame-time plot: the window stops repainting, and when it comes back the plot shows one huge frame. Press 'Run on a worker' and the progress bar advances while frames stay short: the loop sleeps on another thread and only reports its progress.\n\n\
Hilos itself works this way: every scenario runs on worker threads, and the window only draws what they record.",
        "Una ventana la dibuja un solo hilo, el de la interfaz, en un bucle: atender la entrada, dibujar un fotograma, repetir, unas 60 veces por segundo. El manejador de un botón corre en ese mismo hilo. Si el manejador llama a time.sleep en un bucle, no pasa nada más hasta que vuelve: ni fotogramas ni clics, el indicador se detiene y el sistema puede decir que el programa no responde.\n\n\
Pulsa 'Ejecutar en el hilo de la interfaz' y mira la gráfica de tiempo por fotograma: la ventana deja de redibujarse y, cuando vuelve, la gráfica muestra un fotograma enorme. Pulsa 'Ejecutar en un hilo trabajador' y la barra avanza mientras los fotogramas siguen cortos: el bucle duerme en otro hilo y solo informa de su avance.\n\n\
Hilos funciona así: cada escenario corre en hilos trabajadores y la ventana solo dibuja lo que registran."
    ),
    knobs: KNOBS,
    body,
    metrics,
    python,
    plots: &[
        PlotSpec {
            title: t!("Progress", "Progreso"),
            series: &[(
                SeriesRef::Counter("progress"),
                t!("steps done", "pasos hechos"),
            )],
        },
        PlotSpec {
            title: t!(
                "Longest gap between frames (ms)",
                "Mayor pausa entre fotogramas (ms)"
            ),
            series: &[(
                SeriesRef::Counter("frame_gap_ms"),
                t!("gap (ms)", "pausa (ms)"),
            )],
        },
    ],
    extra: Extra::FrozenUi,
    outcomes: &[
        Outcome {
            metric: "progress",
            label: t!("steps done", "pasos hechos"),
            printed_after: "steps done:",
            agree: Agree::Exactly,
        },
        Outcome {
            metric: "frame_gap_ms",
            label: t!(
                "longest gap between frames (ms)",
                "mayor pausa entre fotogramas (ms)"
            ),
            printed_after: "longest gap between frames:",
            agree: Agree::Roughly {
                rel: 0.2,
                abs: 25.0,
                why: t!(
                    "a frame is 1/60 s and every sleep overshoots a little, differently on each run",
                    "un fotograma dura 1/60 s y cada pausa se pasa un poco, distinto en cada ejecución"
                ),
            },
        },
    ],
    check_knobs: &[("steps", 10.0), ("sleep", 0.05)],
    stepping: Stepping::No(t!(
        "this lesson is about the window's own thread, which no scheduler may pause",
        "esta lección trata del hilo de la propia ventana, que ningún planificador puede pausar"
    )),
};

/// The slow loop itself: `steps` sleeps of `sleep_per_step`, reporting after
/// each; `on_step` returns false to end it early. The window calls it on its
/// own thread to freeze itself on purpose.
pub fn sleep_loop(steps: usize, sleep_per_step: Duration, mut on_step: impl FnMut(usize) -> bool) {
    for i in 1..=steps {
        std::thread::sleep(sleep_per_step);
        if !on_step(i) {
            return;
        }
    }
}

fn body(ctx: &Ctx) -> SyncResult<()> {
    let lab = ctx.lab();
    let progress = lab.counter("progress");
    let frames = lab.counter("frames");
    let gap = lab.counter("frame_gap_ms");
    let run_loop = {
        let progress = progress.clone();
        move |c: &Ctx| -> SyncResult<()> {
            c.log(format!(
                "{}: starting {} steps",
                c.name(),
                c.knob_usize("steps")
            ));
            // The knobs are read on every step, so both apply live.
            let mut i = 0;
            while i < c.knob_usize("steps") {
                c.sleep(c.knob("sleep"))?;
                i += 1;
                progress.set(i as i64);
                c.log(format!("{}: step {i}/{}", c.name(), c.knob_usize("steps")));
            }
            c.log(format!("{}: finished", c.name()));
            Ok(())
        }
    };
    // A frame counter that notes the longest gap between two frames.
    let mut last_frame = Instant::now();
    let mut longest = Duration::ZERO;
    let mut tick = |n: i64| {
        let now = Instant::now();
        longest = longest.max(now - last_frame);
        last_frame = now;
        frames.set(n);
        gap.set(longest.as_millis() as i64);
    };
    let mut n = 0;
    if ctx.knob_bool("ui_thread") {
        ctx.log("MainThread (the UI loop): the button handler runs the loop itself");
        run_loop(ctx)?;
        n += 1;
        tick(n);
        ctx.log(format!(
            "MainThread: back to drawing after a {} ms frame",
            longest.as_millis()
        ));
    } else {
        ctx.log("MainThread (the UI loop): the button handler starts a worker and returns");
        let worker = ctx.spawn("Worker", run_loop)?;
        while worker.is_alive() {
            ctx.sleep_real(FRAME)?;
            n += 1;
            tick(n);
        }
        worker.join(None)?;
        ctx.log(format!(
            "MainThread: drew {n} frames meanwhile; longest gap {} ms",
            longest.as_millis()
        ));
    }
    // What the Python program prints at the end.
    ctx.log(format!("steps done: {}", progress.get()));
    ctx.log(format!("frames drawn: {n}"));
    ctx.log(format!(
        "longest gap between frames: {} ms",
        longest.as_millis()
    ));
    Ok(())
}

fn metrics(record: &Record) -> Vec<Metric> {
    vec![
        counter_metric(record, "progress", t!("steps done", "pasos hechos")),
        counter_metric(record, "frames", t!("frames drawn", "fotogramas dibujados")),
        counter_metric(
            record,
            "frame_gap_ms",
            t!(
                "longest gap between frames (ms)",
                "mayor pausa entre fotogramas (ms)"
            ),
        ),
    ]
}

fn python(knobs: &Knobs) -> String {
    let steps = knobs.get("steps").round() as i64;
    let sleep = py_num(knobs.get("sleep"));
    let on_ui = knobs.get("ui_thread") >= 0.5;
    let handler = if on_ui {
        "    # Runs on the UI thread: no frame is drawn until it returns.\n    slow_loop(progress)"
    } else {
        "    # Starts a worker and returns at once: frames keep coming.\n    threading.Thread(target=slow_loop, args=(progress,), daemon=True).start()"
    };
    format!(
        r#"import threading
import time

STEPS = {steps}
FRAME = 1 / 60  # a window redraws about 60 times a second

def slow_loop(progress):
    for i in range(1, STEPS + 1):
        time.sleep({sleep})
        progress[0] = i

def on_click(progress):
    """The button's handler: it runs on the UI thread."""
{handler}

if __name__ == "__main__":
    # A GUI's main loop, written out (tkinter's root.mainloop() works the
    # same way): one thread handles the click, then draws a frame every 1/60 s.
    progress = [0]
    frames = 0
    longest = 0.0
    last = time.perf_counter()
    on_click(progress)  # the user presses the button
    while True:
        now = time.perf_counter()
        longest = max(longest, now - last)  # the gap since the last frame
        last = now
        frames += 1                         # draw a frame
        if progress[0] >= STEPS:
            break
        time.sleep(FRAME)
    print(f"steps done: {{progress[0]}}")
    print(f"frames drawn: {{frames}}")
    print(f"longest gap between frames: {{longest * 1000:.0f}} ms")
"#
    )
}
