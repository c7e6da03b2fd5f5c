//! The `hilos` binary: the window by default; `list` and `run` headless.

use std::io::Write;
use std::process::ExitCode;

use clap::Parser as _;
use hilos::cli::{Cli, Command, GuiArgs};

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) if e.use_stderr() => {
            // One line, like every other user error: clap's first line, and where to look.
            let text = e.to_string();
            let first = text.lines().next().unwrap_or("invalid arguments");
            let first = first.strip_prefix("error: ").unwrap_or(first);
            eprintln!("hilos: {first} (see `hilos --help`)");
            return ExitCode::from(2);
        }
        Err(e) => {
            // --help and --version.
            let _ = e.print();
            return ExitCode::SUCCESS;
        }
    };
    let lang = cli.lang.unwrap_or_default();
    let printed = match cli.command {
        None => return open_window(lang, GuiArgs::default()),
        Some(Command::Gui(args)) => return open_window(lang, args),
        Some(Command::List { json }) => Ok(hilos::cli::list(json, lang)),
        Some(Command::Run(args)) => hilos::cli::run(&args, lang),
    };
    match printed {
        Ok(text) => {
            let mut out = std::io::stdout().lock();
            // A closed pipe (`hilos list | head`) is not an error worth a panic.
            let _ = out.write_all(text.as_bytes());
            let _ = out.flush();
            ExitCode::SUCCESS
        }
        Err(e) => {
            eprintln!("hilos: {e}");
            ExitCode::from(2)
        }
    }
}

/// The window, with what `hilos gui` asked for selected (and maybe started).
fn open_window(lang: hilos::lab::text::Lang, args: GuiArgs) -> ExitCode {
    if let Err(e) = args.check() {
        eprintln!("hilos: {e}");
        return ExitCode::from(2);
    }
    let options = hilos::ui::GuiOptions {
        scenario: args.scenario,
        start: args.start,
        set: args.set,
    };
    match hilos::ui::run_with(lang, options) {
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
