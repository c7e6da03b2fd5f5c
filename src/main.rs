//! The `hilos` binary: the window by default; `list` and `run` headless.

use std::io::Write;
use std::process::ExitCode;

use clap::Parser as _;
use hilos::cli::{Cli, Command};

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
        None | Some(Command::Gui) => {
            return match hilos::ui::run(lang) {
                Ok(()) => ExitCode::SUCCESS,
                Err(e) => {
                    eprintln!("hilos: could not open the window: {e}");
                    eprintln!(
                        "hilos: the headless runner still works: try `hilos list` or `hilos run producer-consumer`"
                    );
                    ExitCode::FAILURE
                }
            };
        }
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
