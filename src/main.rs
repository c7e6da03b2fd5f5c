//! The `hilos` binary: the window by default; `list` and `run` headless.
//! It first reads and checks the whole command line (`hilos::cli::parse`),
//! then carries out the plan.

use std::io::Write;
use std::process::ExitCode;

use hilos::cli::{GuiPlan, Plan, Printed};

fn main() -> ExitCode {
    // A child process of the lab (multiprocessing): before anything else.
    #[cfg(target_os = "linux")]
    if std::env::args_os()
        .nth(1)
        .is_some_and(|a| a == hilos::lab::process::CHILD_ARG)
    {
        hilos::lab::process::child::main(hilos::scenarios::CHILD_REGISTRY);
    }
    let plan = match hilos::cli::parse(std::env::args_os().skip(1)) {
        Ok(plan) => plan,
        Err(e) => return usage_error(&e),
    };
    let printed = match plan {
        Plan::Info(help) => {
            // --help and --version.
            let _ = help.print();
            return ExitCode::SUCCESS;
        }
        Plan::Gui(gui) => return open_window(gui),
        Plan::List { json, lang } => Ok(Printed {
            text: hilos::cli::list(json, lang),
            status: 0,
        }),
        Plan::Run(run) => hilos::cli::run(&run),
        Plan::Explore(explore) => hilos::cli::explore(&explore),
    };
    match printed {
        Ok(Printed { text, status }) => {
            let mut out = std::io::stdout().lock();
            // A closed pipe (`hilos list | head`) is not an error worth a panic.
            let _ = out.write_all(text.as_bytes());
            let _ = out.flush();
            ExitCode::from(status)
        }
        Err(e) => usage_error(&e),
    }
}

/// One line on stderr, nothing on stdout, exit status 2.
fn usage_error(e: &hilos::cli::UsageError) -> ExitCode {
    eprintln!("hilos: {e}");
    ExitCode::from(2)
}

/// The window, with what `hilos gui` asked for selected (and maybe started).
fn open_window(gui: GuiPlan) -> ExitCode {
    let options = hilos::ui::GuiOptions {
        lang: gui.lang_chosen.then_some(gui.lang),
        scenario: gui.scenario,
        start: gui.start,
        run_in_python: gui.run_in_python,
        set: gui.set,
        speed: gui.speed,
        step: gui.step,
        schedule: gui.schedule,
        steps: gui.steps,
    };
    match hilos::ui::run_with(gui.lang, options) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("hilos: could not open the window: {e}");
            eprintln!(
                "hilos: the headless runner still works: try `hilos list` or `hilos run producer-consumer`"
            );
            ExitCode::FAILURE
        }
    }
}
