//! Every word the window shows that is not a scenario's own text, in English
//! and Spanish. Scenario titles, knobs and explanations live with the scenarios.

use crate::lab::State;
use crate::lab::text::{Lang, Text};
use crate::t;

pub const APP_NAME: Text = t!("Hilos", "Hilos");
pub const SUBTITLE: Text = t!("concurrency lab", "laboratorio de concurrencia");

// Top bar.
pub const START: Text = t!("Start", "Iniciar");
pub const STOP: Text = t!("Stop", "Detener");
pub const RESET: Text = t!("Reset", "Reiniciar");
pub const SPEED: Text = t!("Speed", "Velocidad");
pub const SPEED_HINT: Text = t!(
    "Every sleep of the scenario is divided by this; applies live.",
    "Cada pausa del escenario se divide por esto; se aplica en vivo."
);
pub const FRAME: Text = t!("frame", "fotograma");
pub const FRAME_HINT: Text = t!(
    "CPU time the window spent building its last frame. Stays small while the work runs on worker threads.",
    "Tiempo de CPU que la ventana tardó en construir su último fotograma. Sigue pequeño mientras el trabajo corre en hilos trabajadores."
);

// Files, view, help.
pub const FILE: Text = t!("File", "Archivo");
pub const VIEW: Text = t!("View", "Ver");
pub const SAVE_SETUP: Text = t!("Save setup…", "Guardar configuración…");
pub const OPEN_SETUP: Text = t!("Open setup…", "Abrir configuración…");
pub const EXPORT_JSON: Text = t!("Export run as JSON…", "Exportar ejecución como JSON…");
pub const EXPORT_CSV: Text = t!("Export series as CSV…", "Exportar series como CSV…");
pub const EXPORT_TRACE: Text = t!(
    "Export trace for Perfetto…",
    "Exportar traza para Perfetto…"
);
pub const EXPORT_PNG: Text = t!("Save screenshot (PNG)…", "Guardar captura (PNG)…");
pub const SAVE_SCHEDULE: Text = t!("Save schedule…", "Guardar planificación…");
pub const OPEN_SCHEDULE: Text = t!("Open schedule…", "Abrir planificación…");
pub const NO_SCHEDULE: Text = t!(
    "nothing to save: run the scenario in step mode first",
    "nada que guardar: ejecuta antes el escenario paso a paso"
);
pub const BROKEN_IN_RUN: Text = t!("Broken in run", "Roto en la ejecución");
pub const SCHEDULE_OPENED: Text = t!(
    "The schedule is open in step mode: Step any follows it. Then switch on the fix and Start again to see it hold.",
    "La planificación está abierta en modo paso a paso: Un paso la sigue. Luego activa el arreglo y vuelve a Iniciar para verlo aguantar."
);
pub const SCHEDULES_TRIED: Text = t!("schedules tried", "planificaciones probadas");
pub const HELD_IN_EVERY_ONE: Text = t!("held in every one", "se cumplió en todas");
pub const FILE_HINTS: [Text; 8] = [
    t!(
        "The scenario, its knobs, the speed and the language, in a small JSON file to share or reopen (also: hilos run --setup FILE, hilos gui --open FILE).",
        "El escenario, sus controles, la velocidad y el idioma, en un pequeño archivo JSON para compartir o reabrir (también: hilos run --setup ARCHIVO, hilos gui --open ARCHIVO)."
    ),
    t!(
        "Select the scenario and set the knobs, the speed and the language from a setup file.",
        "Selecciona el escenario y ajusta los controles, la velocidad y el idioma desde un archivo de configuración."
    ),
    t!(
        "The run as hilos run --json prints it: metrics, resources, threads, deadlocks, events.",
        "La ejecución tal como la imprime hilos run --json: métricas, recursos, hilos, interbloqueos, eventos."
    ),
    t!(
        "Every series (queue depth, permits, counters…) as one table: series, seconds, value.",
        "Todas las series (profundidad de la cola, permisos, contadores…) en una tabla: serie, segundos, valor."
    ),
    t!(
        "A Chrome trace-event file: open it at ui.perfetto.dev to see each thread's states and the counters.",
        "Un archivo de eventos de traza de Chrome: ábrelo en ui.perfetto.dev para ver los estados de cada hilo y los contadores."
    ),
    t!(
        "The whole window as a PNG image.",
        "Toda la ventana como imagen PNG."
    ),
    t!(
        "Step mode's choices so far, with the scenario and its knobs, to replay exactly (also: hilos run --replay FILE).",
        "Las elecciones del modo paso a paso hasta ahora, con el escenario y sus controles, para repetirlas exactamente (también: hilos run --replay ARCHIVO)."
    ),
    t!(
        "Open a schedule (saved here or by hilos explore --save) in step mode: each of its steps is offered in turn.",
        "Abre una planificación (guardada aquí o con hilos explore --save) en modo paso a paso: se te ofrece cada paso por turno."
    ),
];
pub const RESET_KNOBS: Text = t!("Reset knobs to defaults", "Restablecer los controles");
pub const RESET_KNOBS_HINT: Text = t!(
    "Put every knob of this scenario back to its default.",
    "Devuelve cada control de este escenario a su valor por defecto."
);
pub const THEME: Text = t!("Theme", "Tema");
pub const THEME_SYSTEM: Text = t!("Follow the system", "Seguir al sistema");
pub const THEME_LIGHT: Text = t!("Light", "Claro");
pub const THEME_DARK: Text = t!("Dark", "Oscuro");
pub const HELP: Text = t!("Help", "Ayuda");
pub const HELP_TEXT: Text = t!(
    "Space: start or stop the scenario\nR: reset\nCtrl+S: save setup\nCtrl+O: open setup\nCtrl+E: export the trace for Perfetto\nF1: this help\n\nOn the timeline and the plots: drag to pan, Ctrl + mouse wheel to zoom; click a group's name to open or close it. Hover anything for details.",
    "Espacio: iniciar o detener el escenario\nR: reiniciar\nCtrl+S: guardar configuración\nCtrl+O: abrir configuración\nCtrl+E: exportar la traza para Perfetto\nF1: esta ayuda\n\nEn la línea de tiempo y las gráficas: arrastra para desplazar, Ctrl + rueda del ratón para ampliar; pulsa el nombre de un grupo para abrirlo o cerrarlo. Pasa el ratón sobre cualquier cosa para ver detalles."
);
pub const NO_DIALOG: Text = t!(
    "No file dialog is available here (no desktop portal): type a path instead.",
    "Aquí no hay diálogo de archivos (no hay portal de escritorio): escribe una ruta."
);
pub const FILE_PATH: Text = t!("File path", "Ruta del archivo");
pub const SAVE: Text = t!("Save", "Guardar");
pub const OPEN: Text = t!("Open", "Abrir");
pub const CANCEL: Text = t!("Cancel", "Cancelar");
pub const SAVED_TO: Text = t!("Saved", "Guardado");
pub const OPENED: Text = t!("Opened", "Abierto");
pub const NOTHING_TO_EXPORT: Text = t!(
    "Nothing to export yet: press Start first.",
    "Aún no hay nada que exportar: pulsa Iniciar primero."
);
pub const START_HINT: Text = t!(
    "Run the scenario on real threads (Space).",
    "Ejecuta el escenario en hilos reales (Espacio)."
);
pub const STOP_HINT: Text = t!(
    "Stop every thread at once; what was recorded stays (Space).",
    "Detiene todos los hilos a la vez; lo registrado se queda (Espacio)."
);
pub const RESET_HINT: Text = t!(
    "Stop and forget the run (R).",
    "Detiene y olvida la ejecución (R)."
);
pub const LANG_HINT: Text = t!(
    "The language of the window. Log lines and the Python program stay in English, as the tutorials show them.",
    "El idioma de la ventana. Las líneas del registro y el programa en Python siguen en inglés, como los muestran los tutoriales."
);

// Status.
pub const STATUS_IDLE: Text = t!("not started", "sin iniciar");
pub const STATUS_RUNNING: Text = t!("running", "en marcha");
pub const STATUS_STOPPING: Text = t!("stopping…", "deteniendo…");
pub const QUIET_DRAWING: Text = t!(
    "drawing twice a second while it measures",
    "dibuja dos veces por segundo mientras mide"
);
pub const QUIET_DRAWING_HINT: Text = t!(
    "This lesson measures how much faster the work runs on several cores. Redrawing the window 60 times a second takes CPU time too (all of a core where the window is drawn in software), which would be taken from the work and make the speed-ups smaller. The window redraws twice a second until the run ends, and at once when you use it.",
    "Esta lección mide cuánto más rápido va el trabajo en varios núcleos. Redibujar la ventana 60 veces por segundo también gasta CPU (un núcleo entero donde la ventana se dibuja por software), que se le quitaría al trabajo y haría menores las aceleraciones. La ventana se redibuja dos veces por segundo hasta que acaba la ejecución, y al momento cuando la usas."
);
pub const STATUS_STOPPED: Text = t!("stopped", "detenido");
pub const STATUS_FINISHED: Text = t!("finished", "finalizado");
pub const ALIVE_THREADS: Text = t!("Alive threads", "Hilos vivos");
pub const THREADS_EVER: Text = t!("threads in all", "hilos en total");
pub const ALIVE: Text = t!("alive", "vivos");
pub const ALIVE_TASKS: Text = t!("asyncio tasks alive", "tareas asyncio vivas");
pub const TASKS_EVER: Text = t!("tasks in all", "tareas en total");
pub const FOLDED_TASKS: Text = t!(
    "earlier tasks ended and were folded into the totals",
    "tareas anteriores terminaron y se sumaron a los totales"
);
pub const SUMMARISED: Text = t!(
    "without a lane of their own, counted in the group's lane",
    "sin carril propio, contadas en el carril del grupo"
);
pub const KILLED_OR_CANCELLED: Text = t!("killed / cancelled", "eliminado / cancelada");
pub const DEADLOCK: Text = t!("Deadlock", "Interbloqueo");
pub const START_ERROR: Text = t!("Could not start", "No se pudo iniciar");
pub const STOP_LEFT: Text = t!(
    "threads did not stop in time",
    "hilos no se detuvieron a tiempo"
);

// Left panel.
pub const SCENARIOS: Text = t!("Scenarios", "Escenarios");

// Right panel.
pub const KNOBS: Text = t!("Knobs", "Controles");
pub const LESSON: Text = t!("Lesson", "Lección");
pub const EXPLANATION: Text = t!("What to watch", "Qué observar");
pub const PYTHON: Text = t!("Python", "Python");
pub const COPY: Text = t!("Copy", "Copiar");
pub const COPIED: Text = t!("copied", "copiado");
pub const COPY_HINT: Text = t!(
    "Copy the program to the clipboard, to run it yourself.",
    "Copia el programa al portapapeles, para ejecutarlo tú mismo."
);
pub const DEFAULT: Text = t!("default", "por defecto");
pub const NO_KNOBS: Text = t!(
    "This scenario has no knobs.",
    "Este escenario no tiene controles."
);

// Centre.
pub const METRICS: Text = t!("Metrics", "Métricas");
pub const TIMELINE: Text = t!("Timeline", "Línea de tiempo");
pub const WINDOW: Text = t!("Window", "Ventana");
pub const WINDOW_HINT: Text = t!(
    "How many seconds the timeline and the plots show.",
    "Cuántos segundos muestran la línea de tiempo y las gráficas."
);
pub const NO_THREADS: Text = t!(
    "Press Start to run the scenario on real threads.",
    "Pulsa Iniciar para ejecutar el escenario en hilos reales."
);
pub const SECONDS: Text = t!("s", "s");
pub const PAUSE_VIEW: Text = t!("Pause view", "Pausar vista");
pub const PAUSE_VIEW_HINT: Text = t!(
    "Hold the timeline and plots where they are (the run goes on) to zoom and pan through its history.",
    "Detiene la línea de tiempo y las gráficas donde están (la ejecución sigue) para ampliar y recorrer su historia."
);
pub const FOLLOW: Text = t!("Follow", "Seguir");
pub const FOLLOW_HINT: Text = t!(
    "Slide with the run again, showing the newest seconds.",
    "Vuelve a deslizarse con la ejecución, mostrando los últimos segundos."
);
pub const ZOOM_IN: Text = t!("Zoom in", "Acercar");
pub const ZOOM_OUT: Text = t!("Zoom out", "Alejar");
pub const ZOOM_HINT: Text = t!(
    "Also: Ctrl + mouse wheel over the timeline or a plot; drag to pan.",
    "También: Ctrl + rueda del ratón sobre la línea de tiempo o una gráfica; arrastra para desplazar."
);
pub const FIT: Text = t!("Fit to run", "Ajustar a la ejecución");
pub const FIT_HINT: Text = t!(
    "Show the whole run, from its start to now.",
    "Muestra toda la ejecución, desde su inicio hasta ahora."
);
pub const FOLDED_THREADS: Text = t!(
    "earlier threads ended and were folded into the totals",
    "hilos anteriores terminaron y se sumaron a los totales"
);
pub const AT: Text = t!("at", "a los");
pub const GROUP_HINT: Text = t!(
    "The lane shows the share of these threads in each state. Click the name to open or close the group.",
    "La franja muestra qué parte de estos hilos está en cada estado. Pulsa el nombre para abrir o cerrar el grupo."
);
pub const HOVER_STATE: Text = t!("state", "estado");
pub const HOVER_ON: Text = t!("on", "en");
pub const HOVER_FROM: Text = t!("from", "desde");
pub const HOVER_FOR: Text = t!("for", "durante");
pub const HOVER_FAILED: Text = t!("failed with", "falló con");
pub const DAEMON: Text = t!("daemon", "daemon");
pub const STILL: Text = t!("(still)", "(continúa)");

// Frame times.
pub const FRAME_TIMES: Text = t!("Frame times", "Tiempos por fotograma");
pub const FRAME_CPU: Text = t!("frame CPU (ms)", "CPU del fotograma (ms)");
pub const FRAME_GAP: Text = t!("gap between frames (ms)", "pausa entre fotogramas (ms)");
pub const BUDGET: Text = t!("60 Hz budget", "presupuesto 60 Hz");

// frozen-ui.
pub const RUN_ON_UI: Text = t!("Run on the UI thread", "Ejecutar en el hilo de la interfaz");
pub const RUN_ON_WORKER: Text = t!("Run on a worker", "Ejecutar en un hilo trabajador");
pub const RUN_ON_UI_HINT: Text = t!(
    "Calls the sleep loop inside the window's own update: the window freezes until it returns.",
    "Llama al bucle con pausas dentro de la propia actualización de la ventana: se congela hasta que vuelve."
);
pub const RUN_ON_WORKER_HINT: Text = t!(
    "Starts the loop on a worker thread; the window only draws its progress.",
    "Inicia el bucle en un hilo trabajador; la ventana solo dibuja su avance."
);
pub const LONGEST_FRAME: Text = t!("Longest frame", "Fotograma más largo");
pub const PROGRESS: Text = t!("Progress", "Progreso");
pub const FREEZE_NOTE: Text = t!(
    "On the UI thread this freezes the window for steps × sleep ÷ speed =",
    "En el hilo de la interfaz esto congela la ventana pasos × pausa ÷ velocidad ="
);
pub const FREEZE_AT_MOST: Text = t!("(Hilos stops it at 10 s)", "(Hilos lo corta a los 10 s)");
pub const FREEZE_CAPPED: Text = t!("stopped at the 10 s limit", "cortado en el límite de 10 s");

// The wait-for graph (deadlock, lock-rlock).
pub const WAIT_FOR_GRAPH: Text = t!("Wait-for graph", "Grafo de esperas");
pub const WAIT_FOR_HINT: Text = t!(
    "Drawn from what each thread is blocked on and who holds each lock. A closed loop of waits without a timeout is a deadlock: nothing inside the program can break it.",
    "Dibujado a partir de lo que espera cada hilo y de quién tiene cada lock. Un ciclo cerrado de esperas sin timeout es un interbloqueo: nada dentro del programa puede romperlo."
);
pub const LEGEND_WAITS: Text = t!("waits for", "espera");
pub const LEGEND_WAITS_TIMED: Text = t!("waits, with a timeout", "espera, con timeout");
pub const LEGEND_HELD_BY: Text = t!("held by", "en manos de");
pub const LEGEND_DEADLOCK: Text = t!("deadlock loop", "ciclo de interbloqueo");
pub const EDGE_WAITS: Text = t!("waits for", "espera");
pub const EDGE_HELD_BY: Text = t!("held by", "en manos de");
pub const NO_LOCKS: Text = t!("No locks yet.", "Aún no hay locks.");
pub const GRAPH_BEFORE_START: Text = t!(
    "Press Start: the threads and the locks appear here, with who holds and who waits for what.",
    "Pulsa Iniciar: aquí aparecen los hilos y los locks, con quién tiene y quién espera qué."
);
pub const TIMED_CYCLE: Text = t!("Loop a timeout will break", "Ciclo que romperá un timeout");
pub const DEADLOCK_FORMED: Text = t!(
    "A deadlock formed in this run",
    "En esta ejecución se formó un interbloqueo"
);
pub const FOR_NOW: Text = t!("for", "desde hace");
pub const WAITS_FOR: Text = t!("waits for", "espera");
pub const HELD_BY: Text = t!("held by", "en manos de");
pub const HELD_BY_ITSELF: Text = t!("which it holds itself", "que tiene él mismo");
pub const WITH_TIMEOUT: Text = t!(
    "with a timeout: it gives up by itself",
    "con timeout: se rinde solo"
);
pub const HOLDS: Text = t!("holds", "tiene");
pub const NEVER_RELEASED: Text = t!(
    "cut off while holding it: it is never released",
    "cortado con él en la mano: nunca se libera"
);
pub const FREE: Text = t!("free", "libre");
pub const RLOCK_COUNT: Text = t!("times its owner holds it", "veces que lo tiene su dueño");
pub const WAITING_FOR_IT: Text = t!("waiting for it", "esperándolo");

// The dining philosophers' table.
pub const THE_TABLE: Text = t!("The table", "La mesa");
pub const TABLE_HINT: Text = t!(
    "Each philosopher is a thread and each fork a Lock shared by two neighbours. A fork drawn beside a philosopher is in that philosopher's hand; a dashed arrow points to the fork a hungry philosopher waits for.",
    "Cada filósofo es un hilo y cada tenedor un Lock que comparten dos vecinos. Un tenedor dibujado junto a un filósofo está en su mano; una flecha discontinua apunta al tenedor que espera un filósofo hambriento."
);
pub const TABLE_BEFORE_START: Text = t!(
    "Press Start: the philosophers sit down here, with their forks and their meals.",
    "Pulsa Iniciar: aquí se sientan los filósofos, con sus tenedores y sus comidas."
);
pub const THINKING: Text = t!("thinking", "pensando");
pub const ONE_FORK: Text = t!("holds one fork", "con un tenedor");
pub const EATING: Text = t!("eating", "comiendo");
pub const HUNGRY: Text = t!("hungry, waiting", "hambriento, esperando");
pub const MEALS_EATEN: Text = t!("meals eaten", "comidas");
pub const MEALS_WORD: Text = t!("meals", "comidas");
pub const FEWEST_SO_FAR: Text = t!(
    "the fewest so far: the others eat while this one waits",
    "las menos hasta ahora: los demás comen mientras este espera"
);
pub const MEALS_PER_PHILOSOPHER: Text = t!("Meals per philosopher", "Comidas por filósofo");
pub const TABLE_DEADLOCKED: Text = t!(
    "philosophers each hold one fork and wait for their neighbour's, round the table",
    "filósofos tienen cada uno un tenedor y esperan el del vecino, alrededor de la mesa"
);

// Run it in Python.
pub const RUN_IN_PYTHON: Text = t!("Run in Python", "Ejecutar en Python");
pub const RUN_IN_PYTHON_HINT: Text = t!(
    "Runs this program under your own CPython beside a fresh lab run with the same knobs (both at speed 1), shows what it prints beside the lab's log, and compares what both report.",
    "Ejecuta este programa con tu propio CPython junto a una nueva ejecución del laboratorio con los mismos controles (ambos a velocidad 1), muestra lo que imprime junto al registro del laboratorio y compara lo que informan ambos."
);
pub const NO_PYTHON_HINT: Text = t!(
    "No Python 3 interpreter was found: install Python 3, or type its path below.",
    "No se encontró un intérprete de Python 3: instala Python 3 o escribe su ruta abajo."
);
pub const NO_PYTHON: Text = t!("Python not found:", "Python no encontrado:");
pub const LOOKING_FOR_PYTHON: Text = t!("looking for Python…", "buscando Python…");
pub const INTERPRETER: Text = t!("Python interpreter", "Intérprete de Python");
pub const INTERPRETER_HINT: Text = t!(
    "Empty: python3 or python on the PATH (or $HILOS_PYTHON). Type a path and press Enter to use another.",
    "Vacío: python3 o python en el PATH (o $HILOS_PYTHON). Escribe una ruta y pulsa Intro para usar otro."
);
pub const PYTHON_RUNNING: Text = t!("CPython running:", "CPython en marcha:");
pub const PYTHON_STOPPED: Text = t!("CPython stopped after", "CPython detenido tras");
pub const PYTHON_FINISHED: Text = t!("CPython finished in", "CPython terminó en");
pub const EXIT_STATUS: Text = t!("exit status", "código de salida");
pub const WAITING_FOR_LAB: Text = t!(
    "waiting for the lab's run to end to compare",
    "esperando a que termine la ejecución del laboratorio para comparar"
);
pub const LAB_VS_CPYTHON: Text = t!("Lab vs CPython", "Laboratorio frente a CPython");
pub const LAB: Text = t!("Lab", "Laboratorio");
pub const AGREE: Text = t!("agree", "coinciden");
pub const DIFFER: Text = t!("differ", "difieren");
pub const MISSING: Text = t!("not reported", "sin dato");
pub const CPYTHON_OUTPUT: Text = t!("CPython output", "Salida de CPython");

// Log.
pub const EVENT_LOG: Text = t!("Event log", "Registro de eventos");
pub const LINES_TRIMMED: Text = t!("older lines trimmed", "líneas antiguas recortadas");
pub const EVENTS_DROPPED: Text = t!("events dropped", "eventos perdidos");
pub const LOG_EMPTY: Text = t!("Nothing logged yet.", "Aún no hay eventos.");

/// A thread state's name, as the legend and the tooltips show it.
pub fn state_name(state: State) -> Text {
    match state {
        State::Created => t!("created", "creado"),
        State::Ready => t!("ready", "listo"),
        State::GilWait => t!("waiting for the GIL", "esperando el GIL"),
        State::Running => t!("running", "en ejecución"),
        State::Sleeping => t!("sleeping", "durmiendo"),
        State::Blocked => t!("blocked", "bloqueado"),
        State::Waiting => t!("waiting", "esperando"),
        State::Done => t!("done", "terminado"),
        State::Failed => t!("failed", "fallido"),
        State::Killed => t!("killed", "eliminado"),
    }
}

/// An asyncio task's state, as its tooltip shows it: a task is cancelled
/// where a thread is killed, and it awaits rather than waits.
pub fn task_state_name(state: State) -> Text {
    match state {
        State::Killed => t!("cancelled", "cancelada"),
        State::Sleeping => t!("awaiting asyncio.sleep", "esperando asyncio.sleep"),
        State::Waiting => t!("awaiting", "esperando"),
        State::Blocked => t!("awaiting (blocked)", "esperando (bloqueada)"),
        State::Done => t!("done", "terminada"),
        State::Failed => t!("failed", "fallida"),
        State::Ready => t!(
            "ready (in the loop's queue)",
            "lista (en la cola del bucle)"
        ),
        State::Running => t!("running", "en ejecución"),
        State::Created => t!("created", "creada"),
        // A task runs in its loop's thread, which is the one that waits for
        // a GIL; a task itself never does.
        State::GilWait => state_name(state),
    }
}

/// A knob's unit in the current language and number (the scenarios declare
/// it in English, plural); unknown units are shown as declared.
pub fn unit(unit: &'static str, lang: Lang, value: f64) -> &'static str {
    let one = (value - 1.0).abs() < 1e-9;
    let (plural, singular) = match unit {
        "threads" => (t!("threads", "hilos"), t!("thread", "hilo")),
        "items" => (t!("items", "elementos"), t!("item", "elemento")),
        "steps" => (t!("steps", "pasos"), t!("step", "paso")),
        "updates" => (
            t!("updates", "actualizaciones"),
            t!("update", "actualización"),
        ),
        "tasks" => (t!("tasks", "tareas"), t!("task", "tarea")),
        "coroutines" => (t!("coroutines", "corrutinas"), t!("coroutine", "corrutina")),
        "rounds" => (t!("rounds", "rondas"), t!("round", "ronda")),
        "times" => (t!("times", "veces"), t!("time", "vez")),
        "workers" => (t!("workers", "trabajadores"), t!("worker", "trabajador")),
        "permits" => (t!("permits", "permisos"), t!("permit", "permiso")),
        "clients" => (t!("clients", "clientes"), t!("client", "cliente")),
        "processes" => (t!("processes", "procesos"), t!("process", "proceso")),
        "students" => (t!("students", "estudiantes"), t!("student", "estudiante")),
        "levels" => (t!("levels", "niveles"), t!("level", "nivel")),
        "meals" => (t!("meals", "comidas"), t!("meal", "comida")),
        "philosophers" => (
            t!("philosophers", "filósofos"),
            t!("philosopher", "filósofo"),
        ),
        "calls" => (t!("calls", "llamadas"), t!("call", "llamada")),
        "generations" => (
            t!("generations", "generaciones"),
            t!("generation", "generación"),
        ),
        "messages" => (t!("messages", "mensajes"), t!("message", "mensaje")),
        _ => return unit,
    };
    if one { singular } else { plural }.get(lang)
}

/// The switch's label for a language, in that language.
pub fn lang_name(lang: Lang) -> &'static str {
    match lang {
        Lang::En => "English",
        Lang::Es => "Español",
    }
}

pub const STATE_RUNNING: Text = t!("running", "en ejecución");
pub const GIL_HELD_BY: Text = t!("GIL held by", "GIL en manos de");
pub const PROCESS_HINT: Text = t!(
    "A child process: its own pid, its own interpreter and GIL; its threads' lanes are below. The strip: its life, with its CPU use.",
    "Un proceso hijo: su propio pid, su propio intérprete y GIL; los carriles de sus hilos están debajo. La franja: su vida, con su uso de CPU."
);
pub const GIL_WAIT_HINT: Text = t!(
    "runnable, not running: it waits for its process's GIL",
    "listo, pero no se ejecuta: espera el GIL de su proceso"
);
pub const PROCESSES_ALIVE: Text = t!("child processes alive", "procesos hijos vivos");

#[cfg(test)]
mod tests {
    use super::*;

    /// A unit missing from [`unit`] shows in English in the Spanish window
    /// ("20000 times" under "veces por proceso").
    #[test]
    fn every_knob_unit_speaks_spanish() {
        for s in crate::scenarios::all() {
            for k in s.knobs {
                if k.unit.is_empty() || k.unit == "s" {
                    continue;
                }
                for n in [1.0, 2.0] {
                    assert_ne!(
                        unit(k.unit, Lang::Es, n),
                        unit(k.unit, Lang::En, n),
                        "{}: knob {}'s unit '{}' has no Spanish",
                        s.id,
                        k.name,
                        k.unit
                    );
                }
            }
        }
    }
}
