//! The headless runner: `hilos list` and `hilos run`, for tests and scripts.
//! It produces the same numbers the window shows, as text or as JSON.
//!
//! [`parse`] reads and checks the whole command line without starting anything:
//! it returns a [`Plan`] in which every value is valid, or a one-line
//! [`UsageError`]. The binary then carries the plan out.

use std::collections::BTreeMap;
use std::ffi::OsString;
use std::fmt::Write as _;
use std::time::Duration;

use clap::error::{ContextKind, ContextValue, ErrorKind};
use clap::{Args, CommandFactory as _, FromArgMatches as _, Parser, Subcommand};
use serde::Serialize;

use crate::lab::knobs::{KnobError, format_number};
use crate::lab::record::Record;
use crate::lab::text::Lang;
use crate::lab::{Knobs, Lab, LabOptions, MAX_SPEED, MIN_SPEED, State, StopReport};
use crate::scenarios::{self, Scenario};

#[derive(Parser, Debug)]
#[command(
    name = "hilos",
    version,
    about = "A concurrency lab: watch real threads run Python's threading lessons.",
    long_about = "A concurrency lab: watch real threads run Python's threading lessons.\n\n\
                  Without a command, opens the window. `hilos list` shows the scenarios; \
                  `hilos run ID` runs one headless and prints what happened."
)]
pub struct Cli {
    #[command(subcommand)]
    pub command: Option<Command>,
    /// Language of the window and of titles: en or es.
    #[arg(long, global = true, value_name = "LANG")]
    pub lang: Option<String>,
}

#[derive(Subcommand, Debug)]
pub enum Command {
    /// List the scenarios with their knobs, ranges and defaults.
    List {
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Run a scenario without a window and print a summary.
    Run(RunArgs),
    /// Open the window (the default when no command is given).
    Gui(GuiArgs),
    /// "Break it": run a scenario under many seeded schedules, one thread at
    /// a time, and report the runs that break its lesson's invariant.
    Explore(ExploreArgs),
}

#[derive(Args, Debug, Default)]
pub struct GuiArgs {
    /// Select this scenario when the window opens (an id as `hilos list` shows it).
    #[arg(long, value_name = "ID")]
    pub scenario: Option<String>,
    /// Start the selected scenario at once (for demos and screenshots).
    #[arg(long)]
    pub start: bool,
    /// Start it at once beside its Python program under CPython, and compare.
    #[arg(long)]
    pub run_in_python: bool,
    /// Open a setup file (scenario, knobs, speed, language); --set overrides its knobs.
    #[arg(long, value_name = "FILE")]
    pub open: Option<std::path::PathBuf>,
    /// Set a knob of the selected scenario: --set producers=4 (repeatable; needs --scenario).
    #[arg(long = "set", value_name = "KNOB=VALUE")]
    pub set: Vec<String>,
    /// Open in step mode: you pick which thread runs at every step.
    #[arg(long)]
    pub step: bool,
    /// Open a schedule (from `hilos explore --save` or the window) in step
    /// mode, with its scenario and knobs.
    #[arg(long, value_name = "FILE")]
    pub schedule: Option<std::path::PathBuf>,
    /// With --schedule: take its first N steps at once.
    #[arg(long, value_name = "N", default_value = "0", requires = "schedule")]
    pub steps: usize,
}

#[derive(Args, Debug)]
pub struct RunArgs {
    /// The scenario's id, as `hilos list` shows it (or the one in --setup).
    #[arg(required_unless_present_any = ["setup", "replay"])]
    pub id: Option<String>,
    /// Start from a setup file (scenario, knobs, speed, language); --set,
    /// --speed and --lang given here override it.
    #[arg(long, value_name = "FILE")]
    pub setup: Option<std::path::PathBuf>,
    /// Set a knob: --set producers=4 (repeatable).
    #[arg(long = "set", value_name = "KNOB=VALUE")]
    pub set: Vec<String>,
    /// Stop the run after this many seconds of real time if it has not ended.
    // Read as text and checked in `parse`, so a bad value gets the same
    // one-line message as an out-of-range one, with the valid range.
    #[arg(long, default_value = "60", allow_hyphen_values = true)]
    pub seconds: String,
    /// Divide every sleep of the scenario by this (10 runs a 1 s sleep in 0.1 s).
    /// Default 1 (or the setup file's).
    #[arg(long, allow_hyphen_values = true)]
    pub speed: Option<String>,
    /// Print one JSON object instead of the readable summary.
    #[arg(long)]
    pub json: bool,
    /// Print the equivalent Python program for these knob values and exit.
    #[arg(long)]
    pub python: bool,
    /// With --python: run the program under CPython beside the lab (at speed
    /// 1) and compare their outcomes; exit 0 if they agree, 1 if they differ.
    #[arg(long)]
    pub check: bool,
    /// Also save these knobs, the speed and the language as a setup file.
    #[arg(long, value_name = "FILE")]
    pub save_setup: Option<std::path::PathBuf>,
    /// Also write the run as a Chrome trace-event JSON (opens in Perfetto).
    #[arg(long, value_name = "FILE")]
    pub trace: Option<std::path::PathBuf>,
    /// Also write every series as CSV (series,seconds,value).
    #[arg(long, value_name = "FILE")]
    pub csv: Option<std::path::PathBuf>,
    /// With --json, include the whole recorded log.
    #[arg(long)]
    pub log: bool,
    /// Replay a schedule file (saved by `hilos explore --save` or the
    /// window's step mode) step by step, with its knobs; stop with an error
    /// where the program no longer follows it.
    #[arg(long, value_name = "FILE")]
    pub replay: Option<std::path::PathBuf>,
}

#[derive(Args, Debug)]
pub struct ExploreArgs {
    /// The scenario's id, as `hilos list` shows it.
    pub id: String,
    /// Set a knob: --set threads=2 (repeatable).
    #[arg(long = "set", value_name = "KNOB=VALUE")]
    pub set: Vec<String>,
    /// How many schedules to try.
    #[arg(long, default_value = "200", allow_hyphen_values = true)]
    pub runs: String,
    /// The search's seed: the same seed tries the same schedules.
    #[arg(long, default_value = "1", allow_hyphen_values = true)]
    pub seed: String,
    /// Save the first schedule that breaks the lesson's invariant here.
    #[arg(long, value_name = "FILE")]
    pub save: Option<std::path::PathBuf>,
    /// Print one JSON object instead of the readable summary.
    #[arg(long)]
    pub json: bool,
}

/// The longest run `--seconds` allows: one day.
pub const MAX_SECONDS: f64 = 86_400.0;

/// An error a user caused: one line on stderr, exit status 2.
///
/// Whatever the text holds, it prints as one non-empty line: control
/// characters a user typed (a newline inside `--set`) are shown escaped.
#[derive(Debug)]
pub struct UsageError(pub String);

impl std::fmt::Display for UsageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.0.trim().is_empty() {
            return f.write_str("invalid arguments (see `hilos --help`)");
        }
        for c in self.0.chars() {
            // Line and paragraph separators end a line in some terminals too.
            if c.is_control() || c == '\u{2028}' || c == '\u{2029}' {
                write!(f, "{}", c.escape_default())?;
            } else {
                f.write_char(c)?;
            }
        }
        Ok(())
    }
}

impl std::error::Error for UsageError {}

impl From<KnobError> for UsageError {
    fn from(e: KnobError) -> Self {
        UsageError(e.to_string())
    }
}

pub fn find_scenario(id: &str) -> Result<&'static Scenario, UsageError> {
    scenarios::find(id).ok_or_else(|| {
        UsageError(format!(
            "unknown scenario '{id}'; valid scenarios: {}",
            scenarios::ids().join(", ")
        ))
    })
}

/// What the command line asked for, with every value checked: carrying it out
/// cannot fail on anything the user typed.
#[derive(Debug)]
pub enum Plan {
    /// `--help`, `--version`, `hilos help`: clap's text, printed on stdout
    /// (`clap::Error::print`), exit status 0.
    Info(clap::Error),
    /// `hilos list`.
    List { json: bool, lang: Lang },
    /// `hilos run`.
    Run(RunPlan),
    /// `hilos gui`, or no command: the window.
    Gui(GuiPlan),
    /// `hilos explore`.
    Explore(ExplorePlan),
}

/// `hilos explore`, checked.
pub struct ExplorePlan {
    pub scenario: &'static Scenario,
    pub knobs: Knobs,
    /// At least 1, at most [`MAX_RUNS`].
    pub runs: usize,
    pub seed: u64,
    pub save: Option<std::path::PathBuf>,
    pub json: bool,
    pub lang: Lang,
}

impl std::fmt::Debug for ExplorePlan {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ExplorePlan")
            .field("scenario", &self.scenario.id)
            .field("knobs", &self.knobs.values())
            .field("runs", &self.runs)
            .field("seed", &self.seed)
            .field("save", &self.save)
            .field("json", &self.json)
            .finish()
    }
}

/// The most runs `hilos explore --runs` takes.
pub const MAX_RUNS: usize = 1_000_000;

/// `hilos run`, checked.
pub struct RunPlan {
    pub scenario: &'static Scenario,
    /// The scenario's knobs with every `--set` applied.
    pub knobs: Knobs,
    /// Within `MIN_SPEED..=MAX_SPEED`.
    pub speed: f64,
    /// More than 0, at most [`MAX_SECONDS`].
    pub seconds: f64,
    pub json: bool,
    pub log: bool,
    /// Print the Python program instead of running.
    pub python: bool,
    /// With `python`: run it under CPython beside the lab and compare.
    pub check: bool,
    /// Save the setup here before running.
    pub save_setup: Option<std::path::PathBuf>,
    /// Write a Perfetto trace here after the run.
    pub trace: Option<std::path::PathBuf>,
    /// Write the series as CSV here after the run.
    pub csv: Option<std::path::PathBuf>,
    pub lang: Lang,
    /// Replay this schedule (its scenario is `scenario`, its knobs `knobs`).
    pub replay: Option<crate::explore::Schedule>,
}

impl std::fmt::Debug for RunPlan {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("RunPlan")
            .field("scenario", &self.scenario.id)
            .field("knobs", &self.knobs.values())
            .field("speed", &self.speed)
            .field("seconds", &self.seconds)
            .field("json", &self.json)
            .field("log", &self.log)
            .field("python", &self.python)
            .field("check", &self.check)
            .field("save_setup", &self.save_setup)
            .field("trace", &self.trace)
            .field("csv", &self.csv)
            .field("lang", &self.lang)
            .finish()
    }
}

/// `hilos gui`, checked.
#[derive(Debug, Default)]
pub struct GuiPlan {
    pub lang: Lang,
    /// The language was asked for (`--lang`, or a setup file's): it wins
    /// over the one the window's saved settings bring back.
    pub lang_chosen: bool,
    /// The scenario to select, by its id (which exists).
    pub scenario: Option<String>,
    pub start: bool,
    /// Start it beside its Python program (`--run-in-python`).
    pub run_in_python: bool,
    /// `KNOB=VALUE` settings, each valid for `scenario`.
    pub set: Vec<String>,
    /// The speed from a setup file (`--open`).
    pub speed: Option<f64>,
    /// Open in step mode.
    pub step: bool,
    /// A schedule to open in step mode (read and checked), and how many of
    /// its steps to take at once.
    pub schedule: Option<std::path::PathBuf>,
    pub steps: usize,
}

/// Read and check a command line (without the program's name) into a plan.
/// Starts no lab and opens no window; never panics.
pub fn parse<I, T>(args: I) -> Result<Plan, UsageError>
where
    I: IntoIterator<Item = T>,
    T: Into<OsString>,
{
    let args: Vec<OsString> = std::iter::once(OsString::from("hilos"))
        .chain(args.into_iter().map(Into::into))
        .collect();
    let mut command = Cli::command();
    let cli = command
        .try_get_matches_from_mut(args.iter().cloned())
        .and_then(|mut matches| Cli::from_arg_matches_mut(&mut matches));
    let cli = match cli {
        Ok(cli) => cli,
        Err(e) if e.use_stderr() => return Err(clap_error(&mut command, &e, &args[1..])),
        Err(e) => return Ok(Plan::Info(e)),
    };
    // None when not given: a setup file's language may apply.
    let lang = match cli.lang.as_deref() {
        None => None,
        Some(code) => Some(Lang::from_code(code).ok_or_else(|| {
            UsageError(format!(
                "unknown language '{code}' for --lang; valid: en, es"
            ))
        })?),
    };
    match cli.command {
        None => Ok(Plan::Gui(GuiPlan {
            lang: lang.unwrap_or_default(),
            lang_chosen: lang.is_some(),
            ..GuiPlan::default()
        })),
        Some(Command::List { json }) => Ok(Plan::List {
            json,
            lang: lang.unwrap_or_default(),
        }),
        Some(Command::Run(args)) => run_plan(args, lang).map(Plan::Run),
        Some(Command::Gui(args)) => gui_plan(args, lang).map(Plan::Gui),
        Some(Command::Explore(args)) => explore_plan(args, lang).map(Plan::Explore),
    }
}

/// The scenario a command names: its ID, a setup file's, or both if they agree.
fn scenario_and_setup(
    id: Option<&str>,
    setup: Option<&std::path::Path>,
) -> Result<(&'static Scenario, Option<crate::setup::Setup>), UsageError> {
    let setup = setup
        .map(crate::setup::read)
        .transpose()
        .map_err(UsageError)?;
    let scenario = match (id, &setup) {
        (Some(id), Some(s)) if id != s.scenario.id => {
            return Err(UsageError(format!(
                "the setup file is for '{}', not '{id}': leave out the ID or use another file",
                s.scenario.id
            )));
        }
        (Some(id), _) => find_scenario(id)?,
        (None, Some(s)) => s.scenario,
        (None, None) => {
            return Err(UsageError(format!(
                "a scenario ID or --setup FILE is needed; valid IDs: {}",
                scenarios::ids().join(", ")
            )));
        }
    };
    Ok((scenario, setup))
}

fn explore_plan(args: ExploreArgs, lang: Option<Lang>) -> Result<ExplorePlan, UsageError> {
    let scenario = find_scenario(&args.id)?;
    if let Some(why) = crate::explore::unsupported(scenario) {
        return Err(UsageError(format!(
            "{} does not run step by step, so there is nothing to explore: {why}",
            scenario.id
        )));
    }
    let knobs = scenario.knobs();
    for set in &args.set {
        apply_set(&knobs, set)?;
    }
    let runs = number_in_range("--runs", &args.runs, |v| {
        v >= 1.0 && v <= MAX_RUNS as f64 && v.fract() == 0.0
    })
    .map_err(|problem| {
        UsageError(format!(
            "{problem}; valid: a whole number from 1 to {MAX_RUNS}"
        ))
    })? as usize;
    let seed = args.seed.trim().parse::<u64>().map_err(|_| {
        UsageError(format!(
            "--seed '{}' is not a whole number from 0 to {}",
            args.seed,
            u64::MAX
        ))
    })?;
    if let Some(path) = &args.save {
        check_writable(path)?;
    }
    Ok(ExplorePlan {
        scenario,
        knobs,
        runs,
        seed,
        save: args.save,
        json: args.json,
        lang: lang.unwrap_or_default(),
    })
}

fn run_plan(args: RunArgs, lang: Option<Lang>) -> Result<RunPlan, UsageError> {
    if let Some(path) = &args.replay {
        let schedule = crate::explore::read(path).map_err(UsageError)?;
        if let Some(id) = args.id.as_deref()
            && id != schedule.scenario.id
        {
            return Err(UsageError(format!(
                "'{}' is a schedule of '{}', not '{id}': leave out the ID or use another file",
                path.display(),
                schedule.scenario.id
            )));
        }
        if args.setup.is_some() || !args.set.is_empty() || args.speed.is_some() {
            return Err(UsageError(
                "a replay runs with the schedule's own knobs, on its virtual clock: drop --setup, --set and --speed"
                    .to_string(),
            ));
        }
        if args.python {
            return Err(UsageError(
                "--replay runs the lab step by step: it does not go with --python".to_string(),
            ));
        }
        if let Some(why) = crate::explore::unsupported(schedule.scenario) {
            return Err(UsageError(format!(
                "{} does not run step by step: {why}",
                schedule.scenario.id
            )));
        }
        let mut plan = run_plan(
            RunArgs {
                id: Some(schedule.scenario.id.to_string()),
                replay: None,
                ..args
            },
            lang,
        )?;
        plan.knobs = schedule.knobs();
        plan.replay = Some(schedule);
        return Ok(plan);
    }
    let (scenario, setup) = scenario_and_setup(args.id.as_deref(), args.setup.as_deref())?;
    let knobs = setup
        .as_ref()
        .map_or_else(|| scenario.knobs(), |s| s.knobs());
    for set in &args.set {
        apply_set(&knobs, set)?;
    }
    let lang = lang
        .or(setup.as_ref().and_then(|s| s.lang))
        .unwrap_or_default();
    let speed = match &args.speed {
        Some(raw) => number_in_range("--speed", raw, |v| (MIN_SPEED..=MAX_SPEED).contains(&v))
            .map_err(|problem| {
                UsageError(format!(
                    "{problem}; valid range: {} to {}",
                    format_number(MIN_SPEED),
                    format_number(MAX_SPEED)
                ))
            })?,
        None => setup.as_ref().map_or(1.0, |s| s.speed),
    };
    let seconds = number_in_range("--seconds", &args.seconds, |v| v > 0.0 && v <= MAX_SECONDS)
        .map_err(|problem| {
            UsageError(format!(
                "{problem}; valid range: more than 0, up to {}",
                format_number(MAX_SECONDS)
            ))
        })?;
    if args.check && !args.python {
        return Err(UsageError(
            "--check compares the Python program with the lab: it needs --python".to_string(),
        ));
    }
    if args.check && speed != 1.0 {
        return Err(UsageError(format!(
            "--check runs the lab in real time, as CPython runs: drop --speed {}",
            format_number(speed)
        )));
    }
    if args.python && (args.trace.is_some() || args.csv.is_some()) {
        return Err(UsageError(
            "--trace and --csv write a lab run: they do not go with --python".to_string(),
        ));
    }
    for path in args.trace.iter().chain(&args.csv).chain(&args.save_setup) {
        check_writable(path)?;
    }
    Ok(RunPlan {
        scenario,
        knobs,
        speed,
        seconds,
        json: args.json,
        log: args.log,
        python: args.python,
        check: args.check,
        save_setup: args.save_setup,
        trace: args.trace,
        csv: args.csv,
        lang,
        replay: None,
    })
}

fn gui_plan(args: GuiArgs, lang: Option<Lang>) -> Result<GuiPlan, UsageError> {
    if let Some(path) = &args.schedule {
        let schedule = crate::explore::read(path).map_err(UsageError)?;
        if let Some(why) = crate::explore::unsupported(schedule.scenario) {
            return Err(UsageError(format!(
                "{} does not run step by step: {why}",
                schedule.scenario.id
            )));
        }
        if args.scenario.is_some() || args.open.is_some() || !args.set.is_empty() {
            return Err(UsageError(
                "--schedule opens the schedule's own scenario and knobs: drop --scenario, --open and --set"
                    .to_string(),
            ));
        }
        return Ok(GuiPlan {
            lang: lang.unwrap_or_default(),
            lang_chosen: lang.is_some(),
            step: true,
            schedule: args.schedule.clone(),
            steps: args.steps.min(schedule.steps.len()),
            ..GuiPlan::default()
        });
    }
    if args.scenario.is_none() && args.open.is_none() {
        if args.set.is_empty() && !args.start && !args.run_in_python {
            return Ok(GuiPlan {
                lang: lang.unwrap_or_default(),
                lang_chosen: lang.is_some(),
                step: args.step,
                ..GuiPlan::default()
            });
        }
        return Err(UsageError(
            "--start, --run-in-python and --set need --scenario ID or --open FILE (see `hilos list`)"
                .to_string(),
        ));
    }
    let (scenario, setup) = scenario_and_setup(args.scenario.as_deref(), args.open.as_deref())?;
    // The setup's knobs first, then --set over them, each checked now.
    let mut set: Vec<String> = setup
        .as_ref()
        .map(|s| s.knobs.iter().map(|(k, v)| format!("{k}={v}")).collect())
        .unwrap_or_default();
    set.extend(args.set);
    let knobs = scenario.knobs();
    for arg in &set {
        apply_set(&knobs, arg)?;
    }
    let chosen = lang.or(setup.as_ref().and_then(|s| s.lang));
    Ok(GuiPlan {
        lang: chosen.unwrap_or_default(),
        lang_chosen: chosen.is_some(),
        scenario: Some(scenario.id.to_string()),
        start: args.start,
        run_in_python: args.run_in_python,
        set,
        speed: setup.map(|s| s.speed),
        step: args.step,
        schedule: None,
        steps: 0,
    })
}

/// A file we can write later: its folder exists and it is not a folder.
fn check_writable(path: &std::path::Path) -> Result<(), UsageError> {
    if path.as_os_str().is_empty() {
        return Err(UsageError("an output file name is empty".to_string()));
    }
    if path.is_dir() {
        return Err(UsageError(format!(
            "'{}' is a folder; give a file name",
            path.display()
        )));
    }
    let parent = path
        .parent()
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or(std::path::Path::new("."));
    if !parent.is_dir() {
        return Err(UsageError(format!(
            "cannot write '{}': the folder '{}' does not exist",
            path.display(),
            parent.display()
        )));
    }
    Ok(())
}

/// Apply one `--set KNOB=VALUE`, naming the valid knobs when it has no `=`.
fn apply_set(knobs: &Knobs, arg: &str) -> Result<(), UsageError> {
    if !arg.contains('=') {
        let valid: Vec<&str> = knobs.specs().iter().map(|s| s.name).collect();
        return Err(UsageError(format!(
            "--set '{arg}' is not KNOB=VALUE; valid knobs: {} (see `hilos list`)",
            valid.join(", ")
        )));
    }
    Ok(knobs.set_from_arg(arg)?)
}

/// A finite number that `valid` accepts, or the start of the error line.
fn number_in_range(flag: &str, raw: &str, valid: impl Fn(f64) -> bool) -> Result<f64, String> {
    match raw.trim().parse::<f64>() {
        Ok(v) if v.is_finite() && valid(v) => Ok(v),
        Ok(_) => Err(format!("{flag} {} is out of range", raw.trim())),
        Err(_) => Err(format!("{flag} '{raw}' is not a number")),
    }
}

/// One line from one of clap's errors: what went wrong, the name of the
/// argument, and what is valid there.
fn clap_error(command: &mut clap::Command, e: &clap::Error, args: &[OsString]) -> UsageError {
    command.build();
    let sub_name = subcommand_in(command, args);
    let sub = sub_name
        .as_deref()
        .and_then(|name| command.find_subcommand(name))
        .unwrap_or(command);
    let path = match sub_name.as_deref() {
        // `hilos help` takes no options: its own help is the main one.
        Some(name) if name != "help" => format!("hilos {name}"),
        _ => "hilos".to_string(),
    };
    let strings = |kind| match e.get(kind) {
        Some(ContextValue::String(s)) => vec![s.clone()],
        Some(ContextValue::Strings(v)) => v.clone(),
        _ => Vec::new(),
    };
    let usage = match e.get(ContextKind::Usage) {
        // "Usage: hilos run [OPTIONS] <ID>", maybe more than one line.
        Some(ContextValue::StyledStr(u)) => {
            let u = u.to_string();
            let u = u.trim();
            let u = u.strip_prefix("Usage:").unwrap_or(u);
            let lines: Vec<&str> = u.lines().map(str::trim).filter(|l| !l.is_empty()).collect();
            lines.join(" | ")
        }
        _ => path.clone(),
    };
    let did_you_mean = |kind| {
        let s = strings(kind);
        if s.is_empty() {
            String::new()
        } else {
            format!(" (did you mean '{}'?)", s.join("' or '"))
        }
    };
    let line = match e.kind() {
        ErrorKind::MissingRequiredArgument => {
            let missing = strings(ContextKind::InvalidArg);
            let mut line = format!(
                "`{path}` is missing {}; usage: {usage}",
                if missing.is_empty() {
                    "an argument".to_string()
                } else {
                    missing.join(", ")
                }
            );
            if sub_name.as_deref() == Some("run") {
                let _ = write!(line, "; valid IDs: {}", scenarios::ids().join(", "));
            }
            line
        }
        ErrorKind::UnknownArgument => {
            let arg = strings(ContextKind::InvalidArg).join(" ");
            if arg.starts_with('-') {
                let valid: Vec<String> = sub
                    .get_arguments()
                    .filter(|a| !a.is_positional() && !a.is_hide_set())
                    .filter_map(|a| a.get_long().map(|l| format!("--{l}")))
                    .collect();
                format!(
                    "unknown option '{arg}' for `{path}`{}; valid options: {}",
                    did_you_mean(ContextKind::SuggestedArg),
                    valid.join(", ")
                )
            } else {
                format!("unexpected argument '{arg}' for `{path}`; usage: {usage}")
            }
        }
        ErrorKind::InvalidSubcommand => {
            let valid: Vec<&str> = command
                .get_subcommands()
                .filter(|s| !s.is_hide_set())
                .map(|s| s.get_name())
                .collect();
            format!(
                "unknown command '{}'{}; valid commands: {}",
                strings(ContextKind::InvalidSubcommand).join(" "),
                did_you_mean(ContextKind::SuggestedSubcommand),
                valid.join(", ")
            )
        }
        _ => collapse(&e.render().to_string()),
    };
    UsageError(format!("{line} (see `{path} --help`)"))
}

/// Which subcommand a command line names, if any: the first word that is not
/// an option (or the value of `--lang`, the one option taking a value there).
fn subcommand_in(command: &clap::Command, args: &[OsString]) -> Option<String> {
    let mut words = args.iter().map(|a| a.to_string_lossy());
    while let Some(word) = words.next() {
        if word == "--" {
            return None;
        }
        if word == "--lang" {
            words.next();
            continue;
        }
        if word.starts_with('-') {
            continue;
        }
        return command
            .find_subcommand(word.as_ref())
            .map(|s| s.get_name().to_string());
    }
    None
}

/// clap's rendered message on one line: the text before its usage block,
/// without the "error:" prefix, its lines joined.
fn collapse(rendered: &str) -> String {
    let body = rendered.split("\nUsage:").next().unwrap_or(rendered);
    let mut out = String::new();
    for line in body.lines().map(str::trim).filter(|l| !l.is_empty()) {
        let line = line.strip_prefix("error:").map_or(line, str::trim_start);
        if line.starts_with("For more information") {
            continue;
        }
        if !out.is_empty() {
            out.push_str(if out.ends_with(':') { " " } else { "; " });
        }
        out.push_str(line);
    }
    if out.is_empty() {
        "invalid arguments".to_string()
    } else {
        out
    }
}

#[derive(Serialize)]
struct KnobJson {
    name: &'static str,
    label: &'static str,
    unit: &'static str,
    kind: crate::lab::KnobKind,
    min: f64,
    max: f64,
    default: f64,
    live: bool,
    #[serde(skip_serializing_if = "Option::is_none")]
    not_live_because: Option<&'static str>,
    /// A choice knob's options, by index: what `--set NAME=…` accepts.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    choices: Vec<ChoiceJson>,
}

#[derive(Serialize)]
struct ChoiceJson {
    name: &'static str,
    label: &'static str,
}

#[derive(Serialize)]
struct ScenarioJson {
    id: &'static str,
    group: &'static str,
    title: &'static str,
    lesson: &'static str,
    knobs: Vec<KnobJson>,
}

/// `hilos list`.
pub fn list(json: bool, lang: Lang) -> String {
    let all: Vec<ScenarioJson> = scenarios::all()
        .iter()
        .map(|s| ScenarioJson {
            id: s.id,
            group: s.group.title().get(lang),
            title: s.title.get(lang),
            lesson: s.lesson.get(lang),
            knobs: s
                .knobs
                .iter()
                .map(|k| KnobJson {
                    name: k.name,
                    label: k.label.get(lang),
                    unit: k.unit,
                    kind: k.kind,
                    min: k.min,
                    max: k.max,
                    default: k.default,
                    live: k.not_live.is_none(),
                    not_live_because: k.not_live.map(|t| t.get(lang)),
                    choices: k
                        .choices
                        .iter()
                        .map(|c| ChoiceJson {
                            name: c.name,
                            label: c.label.get(lang),
                        })
                        .collect(),
                })
                .collect(),
        })
        .collect();
    if json {
        return serde_json::to_string_pretty(&all).unwrap_or_default() + "\n";
    }
    let mut out = String::new();
    for (s, spec) in all.iter().zip(scenarios::all()) {
        let _ = writeln!(out, "{}  ({}: {})", s.id, s.group, s.title);
        let _ = writeln!(out, "    {}", s.lesson);
        for k in spec.knobs {
            let unit = if k.unit.is_empty() {
                String::new()
            } else {
                format!(" {}", k.unit)
            };
            let live = if k.not_live.is_some() {
                "  [not live]"
            } else {
                ""
            };
            if k.choices.is_empty() {
                let _ = writeln!(
                    out,
                    "    --set {}=…  {} to {}{unit}, default {}  ({}){live}",
                    k.name,
                    k.format(k.min),
                    k.format(k.max),
                    k.format(k.default),
                    k.label.get(lang),
                );
            } else {
                let names: Vec<&str> = k.choices.iter().map(|c| c.name).collect();
                let _ = writeln!(
                    out,
                    "    --set {}=…  {}, default {}  ({}){live}",
                    k.name,
                    names.join(" | "),
                    k.format(k.default),
                    k.label.get(lang),
                );
            }
        }
        out.push('\n');
    }
    out
}

#[derive(Serialize)]
pub struct SeriesSummary {
    pub min: f64,
    pub max: f64,
    pub last: f64,
}

#[derive(Serialize)]
pub struct ResourceJson {
    pub name: String,
    pub kind: &'static str,
    pub capacity: Option<i64>,
    /// What `level` measures for this kind: depth, free_permits, holders…
    pub level_is: &'static str,
    pub level: SeriesSummary,
    pub waiters: SeriesSummary,
}

#[derive(Serialize)]
pub struct ThreadJson {
    pub name: String,
    /// The child process it ran in (absent: the lab's own process).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub process: Option<String>,
    pub daemon: bool,
    pub state: State,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failure: Option<String>,
    /// Seconds of real time spent in each state (only states it was in).
    pub seconds: BTreeMap<&'static str, f64>,
    /// Values the scenario noted beside the thread (`threading.local`…).
    #[serde(skip_serializing_if = "BTreeMap::is_empty")]
    pub notes: BTreeMap<String, String>,
}

/// One child process of the run.
#[derive(Serialize)]
pub struct ProcessJson {
    pub name: String,
    pub pid: Option<u32>,
    pub daemon: bool,
    /// created, running, done, failed or killed.
    pub state: &'static str,
    /// `Process.exitcode` (negative: the signal that ended it).
    pub exitcode: Option<i32>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failure: Option<String>,
    /// Seconds after the lab's start.
    pub started: Option<f64>,
    pub ended: Option<f64>,
    /// Its highest sampled CPU use (% of one core).
    pub cpu_max: f64,
}

/// One `concurrent.futures.Future` of the run.
#[derive(Serialize)]
pub struct FutureJson {
    /// What it stands for, e.g. "task(3)".
    pub label: String,
    pub state: crate::lab::FutureState,
    /// The thread that ran it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ran_on: Option<String>,
    /// The exception it holds, as Python prints it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub exception: Option<String>,
    /// Whether anyone read its outcome (`result()`, `exception()`, `map`).
    pub read: bool,
    /// Its place in the order futures finished (1 = first).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub finished_rank: Option<u64>,
}

/// An asyncio task that keeps a lane of its own.
#[derive(Serialize)]
pub struct TaskJson {
    pub name: String,
    /// As asyncio says it: `cancelled` where a thread would be `killed`.
    pub state: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failure: Option<String>,
    /// Seconds of real time spent in each state (only states it was in).
    pub seconds: BTreeMap<&'static str, f64>,
}

#[derive(Serialize)]
pub struct EventsJson {
    pub recorded: u64,
    pub dropped: u64,
    /// Log lines trimmed from the front of the kept log.
    pub log_trimmed: u64,
    /// asyncio tasks that switched faster than the recorder takes events,
    /// moved from a lane of their own to their role's group lane.
    pub coarse_tasks: u64,
}

/// Finished threads beyond the record's cap, folded into exact totals.
#[derive(Serialize)]
pub struct FoldedJson {
    pub threads: u64,
    /// How many ended in each final state.
    pub ended: BTreeMap<&'static str, u64>,
    /// Seconds they spent in each state, summed.
    pub seconds: BTreeMap<&'static str, f64>,
    /// The same per role ("Producer" for "Producer-7").
    pub roles: BTreeMap<String, FoldedRoleJson>,
}

#[derive(Serialize)]
pub struct FoldedRoleJson {
    pub threads: u64,
    pub ended: BTreeMap<&'static str, u64>,
    pub seconds: BTreeMap<&'static str, f64>,
}

fn ended_and_seconds(
    f: &crate::lab::record::FoldedThreads,
) -> (BTreeMap<&'static str, u64>, BTreeMap<&'static str, f64>) {
    let ended = State::ALL
        .iter()
        .filter(|s| f.ended[s.index()] > 0)
        .map(|s| (s.name(), f.ended[s.index()]))
        .collect();
    let seconds = State::ALL
        .iter()
        .filter(|s| f.time_in[s.index()] > 0.0)
        .map(|s| (s.name(), round3(f.time_in[s.index()])))
        .collect();
    (ended, seconds)
}

#[derive(Serialize)]
pub struct LogJson {
    pub t: f64,
    pub thread: Option<String>,
    pub text: String,
}

/// What `hilos run --json` prints.
#[derive(Serialize)]
pub struct RunReport {
    pub scenario: &'static str,
    pub title: &'static str,
    pub knobs: BTreeMap<&'static str, f64>,
    pub speed: f64,
    /// Real seconds from start until the scenario ended or was stopped.
    pub seconds: f64,
    /// Whether the scenario ended by itself (false: stopped at --seconds).
    pub finished: bool,
    pub stop: StopReport,
    pub metrics: BTreeMap<&'static str, f64>,
    pub resources: Vec<ResourceJson>,
    /// The threads kept whole: the live ones and the newest finished ones.
    pub threads: Vec<ThreadJson>,
    /// Threads created in all (kept plus folded).
    pub threads_ever: u64,
    /// Older finished threads, folded into exact totals.
    pub folded_threads: FoldedJson,
    /// asyncio tasks with a lane of their own: the live ones (up to the
    /// record's cap) and the newest finished ones.
    pub tasks: Vec<TaskJson>,
    /// asyncio tasks created in all.
    pub tasks_ever: u64,
    /// asyncio tasks alive at the end of the record.
    pub tasks_alive: usize,
    /// Finished tasks folded into totals, and the tasks the loop only
    /// counted (beyond the cap on lanes) that ended.
    pub folded_tasks: FoldedJson,
    /// Every deadlock that formed during the run: a cycle of threads, each
    /// blocked (without a timeout) on a lock the next one holds. A thread
    /// blocked on a lock it holds itself is a cycle of one.
    pub deadlocks: Vec<Vec<String>>,
    /// Every future kept, in submission order (older finished ones beyond
    /// the record's limit are forgotten).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub futures: Vec<FutureJson>,
    /// Every child process (`multiprocessing`): pid, how it ended, CPU.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub processes: Vec<ProcessJson>,
    pub events: EventsJson,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub log: Option<Vec<LogJson>>,
    /// A replayed schedule: how far it went and what it showed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub replay: Option<ReplayJson>,
}

/// What `hilos run --replay FILE --json` adds.
#[derive(Serialize)]
pub struct ReplayJson {
    /// Steps replayed.
    pub steps: usize,
    /// How the gate saw the run end: finished, deadlock (no thread could run).
    pub end: String,
    /// The invariant it broke, if it broke one.
    pub broken: Option<String>,
}

fn folded_json(folded: &crate::lab::record::Folded) -> FoldedJson {
    let (ended, seconds) = ended_and_seconds(&folded.all);
    FoldedJson {
        threads: folded.all.threads,
        ended,
        seconds,
        roles: folded
            .roles
            .iter()
            .map(|(role, f)| {
                let (ended, seconds) = ended_and_seconds(f);
                (
                    role.to_string(),
                    FoldedRoleJson {
                        threads: f.threads,
                        ended,
                        seconds,
                    },
                )
            })
            .collect(),
    }
}

fn summary(s: &crate::lab::record::Series) -> SeriesSummary {
    if s.is_empty() {
        return SeriesSummary {
            min: 0.0,
            max: 0.0,
            last: 0.0,
        };
    }
    SeriesSummary {
        min: s.min,
        max: s.max,
        last: s.last,
    }
}

fn round3(v: f64) -> f64 {
    (v * 1000.0).round() / 1000.0
}

/// Build the report from what the recorder kept.
pub fn report(
    scenario: &'static Scenario,
    lab: &Lab,
    record: &Record,
    finished: bool,
    stop: StopReport,
    with_log: bool,
    lang: Lang,
) -> RunReport {
    let now = record.now();
    let seconds_of = |times: [f64; State::COUNT]| -> BTreeMap<&'static str, f64> {
        State::ALL
            .iter()
            .filter(|s| times[s.index()] > 0.0)
            .map(|s| (s.name(), round3(times[s.index()])))
            .collect()
    };
    let tasks = record
        .threads()
        .filter(|t| t.task)
        .map(|t| TaskJson {
            name: t.name.to_string(),
            state: t.state.task_name(),
            failure: t.failure.clone(),
            seconds: seconds_of(t.time_in(now)),
        })
        .collect();
    let threads = record
        .threads()
        .filter(|t| !t.task)
        .map(|t| {
            let times = t.time_in(now);
            ThreadJson {
                name: t.name.to_string(),
                process: t
                    .process
                    .and_then(|p| record.process(p))
                    .map(|p| p.name.to_string()),
                daemon: t.daemon,
                state: t.state,
                failure: t.failure.clone(),
                seconds: State::ALL
                    .iter()
                    .filter(|s| times[s.index()] > 0.0)
                    .map(|s| (s.name(), round3(times[s.index()])))
                    .collect(),
                notes: t
                    .notes
                    .iter()
                    .map(|(k, v)| (k.to_string(), v.clone()))
                    .collect(),
            }
        })
        .collect();
    let resources = record
        .resources()
        .map(|r| ResourceJson {
            name: r.name.to_string(),
            kind: r.kind.python_name(),
            capacity: r.capacity,
            level_is: r.kind.level_meaning(),
            level: summary(&r.level_series),
            waiters: summary(&r.waiters_series),
        })
        .collect();
    let thread_name = |id: u32| record.thread_name(id).to_string();
    RunReport {
        scenario: scenario.id,
        title: scenario.title.get(lang),
        knobs: lab.knobs().values().into_iter().collect(),
        speed: lab.handle().speed(),
        seconds: round3(now),
        finished,
        stop,
        metrics: (scenario.metrics)(record)
            .into_iter()
            .map(|m| (m.name, m.value))
            .collect(),
        resources,
        threads,
        threads_ever: record.threads_ever(),
        folded_threads: folded_json(&record.folded),
        tasks,
        tasks_ever: record.tasks_ever(),
        tasks_alive: record.alive_tasks(),
        folded_tasks: folded_json(&record.folded_tasks),
        // The run is over: its threads were killed and their locks let go,
        // so what counts is every deadlock that formed on the way.
        deadlocks: record
            .deadlocks_seen()
            .iter()
            .map(|c| c.iter().map(|&w| thread_name(w)).collect())
            .collect(),
        futures: record
            .futures()
            .map(|f| FutureJson {
                label: f.label.to_string(),
                state: f.state,
                ran_on: f.worker.map(thread_name),
                exception: f.error.clone(),
                read: f.read,
                finished_rank: f.finished_rank,
            })
            .collect(),
        processes: record
            .processes()
            .map(|p| ProcessJson {
                name: p.name.to_string(),
                pid: p.pid,
                daemon: p.daemon,
                state: match (p.started, p.end_state) {
                    (_, Some(s)) => s.name(),
                    (Some(_), None) => "running",
                    (None, None) => "created",
                },
                exitcode: p.exitcode,
                failure: p.failure.clone(),
                started: p.started.map(round3),
                ended: p.ended.map(round3),
                cpu_max: round3(if p.cpu.is_empty() { 0.0 } else { p.cpu.max }),
            })
            .collect(),
        events: EventsJson {
            recorded: record.events_recorded,
            dropped: record.events_dropped + record.child_events_dropped,
            log_trimmed: record.log_trimmed,
            coarse_tasks: record.coarse_tasks,
        },
        log: with_log.then(|| {
            record
                .log
                .iter()
                .map(|l| LogJson {
                    t: round3(l.t),
                    thread: l.worker.map(thread_name),
                    text: l.text.clone(),
                })
                .collect()
        }),
        replay: None,
    }
}

/// `hilos run`: returns what to print on stdout.
/// What `hilos run` prints on stdout, and the exit status: 0, or 1 when
/// `--check` found the lab and CPython disagreeing.
pub struct Printed {
    pub text: String,
    pub status: u8,
}

impl Printed {
    fn ok(text: String) -> Printed {
        Printed { text, status: 0 }
    }
}

/// `hilos run`: what to print on stdout, and the exit status.
pub fn run(plan: &RunPlan) -> Result<Printed, UsageError> {
    if let Some(path) = &plan.save_setup {
        let json = crate::setup::to_json(plan.scenario, &plan.knobs, plan.speed, plan.lang);
        crate::setup::write(path, &json).map_err(UsageError)?;
    }
    if plan.check {
        return check(plan);
    }
    if plan.python {
        return Ok(Printed::ok((plan.scenario.python)(&plan.knobs)));
    }
    if let Some(schedule) = &plan.replay {
        return replay(plan, schedule).map(Printed::ok);
    }
    run_lab(plan).map(Printed::ok)
}

/// `hilos run --replay FILE`: the schedule's steps, one by one; an error
/// (exit 2) where the program stops following it.
fn replay(plan: &RunPlan, schedule: &crate::explore::Schedule) -> Result<String, UsageError> {
    let run = crate::explore::replay(schedule, Duration::from_secs_f64(plan.seconds))
        .map_err(UsageError)?;
    let end = match &run.end {
        Some(crate::lab::GateEnd::Diverged {
            step,
            expected,
            found,
        }) => {
            return Err(UsageError(format!(
                "the replay diverged at step {step}: expected {expected}, found {found}"
            )));
        }
        Some(crate::lab::GateEnd::StepLimit { steps }) => format!("step limit ({steps})"),
        Some(crate::lab::GateEnd::Finished) => "finished".to_string(),
        Some(crate::lab::GateEnd::Deadlock { .. }) => "deadlock".to_string(),
        None => {
            return Err(UsageError(format!(
                "the replay did not end within {} s",
                format_number(plan.seconds)
            )));
        }
    };
    let record = &run.record;
    let mut report = report(
        plan.scenario,
        &run.lab,
        record,
        run.end == Some(crate::lab::GateEnd::Finished),
        run.stop.clone(),
        plan.log,
        plan.lang,
    );
    report.replay = Some(ReplayJson {
        steps: run.steps.len(),
        end: end.clone(),
        broken: run.broken.clone(),
    });
    if plan.json {
        return Ok(serde_json::to_string_pretty(&report).unwrap_or_default()
            + "
");
    }
    let mut text = readable(&report, record, plan.lang);
    let _ = writeln!(
        text,
        "
replayed {} steps of {}: {end}",
        run.steps.len(),
        plan.scenario.id
    );
    match &run.broken {
        Some(how) => {
            let _ = writeln!(text, "broken: {how}");
        }
        None => {
            let _ = writeln!(text, "the invariant held");
        }
    }
    Ok(text)
}

/// `hilos explore`: exit 0 whatever it finds (finding a failure is what
/// it is for); the report says how many runs broke the invariant.
pub fn explore(plan: &ExplorePlan) -> Result<Printed, UsageError> {
    let mut save_error = None;
    let mut saved = None;
    let mut report =
        crate::explore::explore(plan.scenario, &plan.knobs, plan.runs, plan.seed, |s| {
            if let Some(path) = &plan.save {
                match crate::explore::write(path, s) {
                    Ok(()) => saved = Some(path.display().to_string()),
                    Err(e) => save_error = Some(e),
                }
            }
        })
        .map_err(UsageError)?;
    if let Some(e) = save_error {
        return Err(UsageError(e));
    }
    report.saved = saved;
    if plan.json {
        return Ok(Printed::ok(
            serde_json::to_string_pretty(&report).unwrap_or_default()
                + "
",
        ));
    }
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{} — explored {} schedules (seed {}) in {:.2} s: {} runs/s, {} steps/s, {:.1} steps a run",
        report.scenario,
        report.runs,
        report.seed,
        report.seconds,
        report.runs_per_second,
        report.steps_per_second,
        report.mean_steps
    );
    let _ = writeln!(out, "invariant: {}", report.invariant);
    let _ = writeln!(
        out,
        "broken in {} of {} runs ({} ended in a deadlock, {} hit the step limit)",
        report.broken_runs, report.runs, report.deadlocked_runs, report.step_limit_runs
    );
    if let (Some(run), Some(how)) = (report.first_broken_run, &report.first_broken) {
        let _ = writeln!(out, "first broken: run {run}: {how}");
    }
    match &report.saved {
        Some(path) => {
            let _ = writeln!(
                out,
                "saved that schedule to {path}; replay it with: hilos run --replay {path}"
            );
        }
        None if report.broken_runs > 0 => {
            let _ = writeln!(out, "(give --save FILE to keep the failing schedule)");
        }
        None => {}
    }
    Ok(Printed::ok(out))
}

fn run_lab(plan: &RunPlan) -> Result<String, UsageError> {
    let scenario = plan.scenario;
    let lab = Lab::new(
        LabOptions {
            speed: plan.speed,
            ..LabOptions::default()
        },
        plan.knobs.clone(),
    );
    lab.start_main(scenario.body)
        .map_err(|e| UsageError(format!("could not start the scenario: {e}")))?;
    let finished = lab.wait(Duration::from_secs_f64(plan.seconds));
    let stop = lab.stop();
    let record = lab.record().lock();
    // The files first: if one cannot be written, say so and print nothing.
    if let Some(path) = &plan.trace {
        let trace = crate::export::trace(&record, scenario);
        write_file(path, &serde_json::to_string(&trace).unwrap_or_default())?;
    }
    if let Some(path) = &plan.csv {
        write_file(path, &crate::export::csv(&record))?;
    }
    let report = report(scenario, &lab, &record, finished, stop, plan.log, plan.lang);
    if plan.json {
        return Ok(serde_json::to_string_pretty(&report).unwrap_or_default() + "\n");
    }
    Ok(readable(&report, &record, plan.lang))
}

fn write_file(path: &std::path::Path, text: &str) -> Result<(), UsageError> {
    std::fs::write(path, text)
        .map_err(|e| UsageError(format!("could not write '{}': {e}", path.display())))
}

/// What `hilos run ID --python --check --json` prints.
#[derive(Serialize)]
pub struct CheckReport {
    pub scenario: &'static str,
    pub knobs: BTreeMap<&'static str, f64>,
    pub interpreter: crate::python::Interpreter,
    /// Every outcome agreed.
    pub agree: bool,
    pub outcomes: Vec<crate::python::Compared>,
    pub lab: CheckLab,
    pub python: CheckPython,
}

#[derive(Serialize)]
pub struct CheckLab {
    pub seconds: f64,
    pub finished: bool,
    pub metrics: BTreeMap<&'static str, f64>,
}

#[derive(Serialize)]
pub struct CheckPython {
    /// None while it had not ended (it was stopped at --seconds).
    pub exit: Option<crate::python::Exit>,
    pub seconds: f64,
    pub output: Vec<crate::python::OutputLine>,
}

/// `--python --check`: the program under CPython and the lab, side by side,
/// at the same time and in real time; then their outcomes compared.
fn check(plan: &RunPlan) -> Result<Printed, UsageError> {
    use crate::python;
    let scenario = plan.scenario;
    let interpreter = python::find_interpreter(None).map_err(UsageError)?;
    let code = (scenario.python)(&plan.knobs);
    let t0 = std::time::Instant::now();
    let py = python::PythonRun::start(&interpreter, &code).map_err(|e| {
        UsageError(format!(
            "could not start {}: {e}",
            interpreter.path.display()
        ))
    })?;
    let limit = Duration::from_secs_f64(plan.seconds);
    // Parallelism lessons measure what every core can do: run at once,
    // each would have half the machine, so CPython goes first.
    let one_after_the_other = scenario.group == crate::scenarios::Group::Parallelism;
    if one_after_the_other && !py.wait(limit) {
        py.stop();
        py.wait(Duration::from_secs(2));
    }
    let lab = Lab::new(LabOptions::default(), plan.knobs.clone());
    lab.start_main(scenario.body)
        .map_err(|e| UsageError(format!("could not start the scenario: {e}")))?;
    let finished = lab.wait(limit);
    lab.stop();
    // Both had the same --seconds, counted from when both started.
    if !one_after_the_other && !py.wait(limit.saturating_sub(t0.elapsed())) {
        py.stop();
        py.wait(Duration::from_secs(2));
    }
    let out = py.snapshot();
    let record = lab.record().lock();
    let metrics = (scenario.metrics)(&record);
    let outcomes = python::compare(scenario, &metrics, &out.text());
    let agree =
        python::all_agree(&outcomes) && out.exit.as_ref().is_some_and(|e| e.code == Some(0));
    let report = CheckReport {
        scenario: scenario.id,
        knobs: plan.knobs.values().into_iter().collect(),
        interpreter,
        agree,
        outcomes,
        lab: CheckLab {
            seconds: round3(record.now()),
            finished,
            metrics: metrics.iter().map(|m| (m.name, m.value)).collect(),
        },
        python: CheckPython {
            exit: out.exit.clone(),
            seconds: round3(out.seconds),
            output: out.lines.clone(),
        },
    };
    let text = if plan.json {
        serde_json::to_string_pretty(&report).unwrap_or_default() + "\n"
    } else {
        readable_check(&report, plan.lang)
    };
    Ok(Printed {
        text,
        status: if agree { 0 } else { 1 },
    })
}

fn readable_check(r: &CheckReport, lang: Lang) -> String {
    use crate::python::Verdict;
    let mut out = String::new();
    let _ = writeln!(
        out,
        "{}: the lab against {} ({})",
        r.scenario,
        r.interpreter.version,
        r.interpreter.path.display()
    );
    let exit = match &r.python.exit {
        Some(e) if e.killed => "stopped at --seconds".to_string(),
        Some(e) => match e.code {
            Some(code) => format!("exit status {code}"),
            None => "ended by a signal".to_string(),
        },
        None => "still running at --seconds".to_string(),
    };
    let _ = writeln!(
        out,
        "lab: {:.3} s{}; CPython: {:.3} s, {exit}\n",
        r.lab.seconds,
        if r.lab.finished {
            ""
        } else {
            " (stopped at --seconds)"
        },
        r.python.seconds
    );
    let width = r
        .outcomes
        .iter()
        .map(|c| c.label.get(lang).chars().count())
        .max()
        .unwrap_or(0)
        .max(34);
    let _ = writeln!(out, "  {:<width$} {:>10} {:>10}", "", "lab", "CPython");
    let num = |v: Option<f64>| v.map_or("-".to_string(), format_number);
    for c in &r.outcomes {
        let verdict = match c.verdict {
            Verdict::Agree => "agree",
            Verdict::Differ => "DIFFER",
            Verdict::Missing => "MISSING",
        };
        let _ = writeln!(
            out,
            "  {:<width$} {:>10} {:>10}   {verdict}",
            c.label.get(lang),
            num(c.lab),
            num(c.python)
        );
        if let Some(why) = c.why {
            let _ = writeln!(out, "      {}", why.get(lang));
        }
    }
    let _ = writeln!(
        out,
        "\n{}",
        if r.agree {
            "The lab and CPython agree."
        } else {
            "The lab and CPython DIFFER."
        }
    );
    let tail: Vec<_> = r.python.output.iter().rev().take(8).collect();
    if !tail.is_empty() {
        let _ = writeln!(out, "\nCPython's last lines:");
        for l in tail.into_iter().rev() {
            let _ = writeln!(out, "  {}", l.text);
        }
    }
    out
}

fn readable(r: &RunReport, record: &Record, lang: Lang) -> String {
    let mut out = String::new();
    let _ = writeln!(out, "{} — {}", r.scenario, r.title);
    let scenario = scenarios::find(r.scenario);
    let knobs: Vec<String> = scenario
        .map(|s| s.knobs)
        .unwrap_or_default()
        .iter()
        .filter_map(|k| {
            r.knobs
                .get(k.name)
                .map(|v| format!("{}={}", k.name, k.format(*v)))
        })
        .collect();
    let _ = writeln!(
        out,
        "knobs: {}  (speed ×{})",
        knobs.join(" "),
        format_number(r.speed)
    );
    let how = if r.finished {
        "ended by itself"
    } else {
        "did not end in time: stopped"
    };
    let _ = writeln!(
        out,
        "ran {:.3} s; {how}; stop took {:.1} ms",
        r.seconds,
        r.stop.stop_seconds * 1000.0
    );
    let _ = writeln!(out, "\nmetrics:");
    for m in scenario.map(|s| (s.metrics)(record)).unwrap_or_default() {
        let _ = writeln!(
            out,
            "  {:<18} {:>10}   {}",
            m.name,
            format_number(m.value),
            m.label.get(lang)
        );
    }
    if !r.resources.is_empty() {
        let _ = writeln!(out, "\nresources:");
        for res in &r.resources {
            let cap = res
                .capacity
                .map_or(String::new(), |c| format!(" capacity={c}"));
            let _ = writeln!(
                out,
                "  {} ({}{cap}): {} min={} max={} last={}; waiters max={}",
                res.name,
                res.kind,
                res.level_is,
                format_number(res.level.min),
                format_number(res.level.max),
                format_number(res.level.last),
                format_number(res.waiters.max)
            );
        }
    }
    let _ = writeln!(out, "\nthreads:");
    for t in &r.threads {
        let times: Vec<String> = State::ALL
            .iter()
            .filter_map(|s| {
                t.seconds
                    .get(s.name())
                    .map(|v| format!("{} {v:.3}s", s.name()))
            })
            .collect();
        let daemon = if t.daemon { " (daemon)" } else { "" };
        let _ = writeln!(
            out,
            "  {:<14} {:<8}{daemon} {}",
            t.name,
            t.state.name(),
            times.join(", ")
        );
        if let Some(f) = &t.failure {
            let _ = writeln!(out, "      failed: {f}");
        }
    }
    if r.folded_threads.threads > 0 {
        let ended: Vec<String> = r
            .folded_threads
            .ended
            .iter()
            .map(|(state, n)| format!("{n} {state}"))
            .collect();
        let _ = writeln!(
            out,
            "  … and {} earlier threads, folded into totals: {}",
            r.folded_threads.threads,
            ended.join(", ")
        );
    }
    if r.tasks_ever > 0 {
        let _ = writeln!(
            out,
            "\nasyncio tasks: {} in all, {} alive at the end",
            r.tasks_ever, r.tasks_alive
        );
        const SHOWN: usize = 24;
        for t in r.tasks.iter().take(SHOWN) {
            let times: Vec<String> = t
                .seconds
                .iter()
                .map(|(state, v)| format!("{state} {v:.3}s"))
                .collect();
            let _ = writeln!(out, "  {:<14} {:<9} {}", t.name, t.state, times.join(", "));
            if let Some(f) = &t.failure {
                let _ = writeln!(out, "      failed: {f}");
            }
        }
        let folded = r.folded_tasks.threads;
        let more = r.tasks.len().saturating_sub(SHOWN) as u64;
        if more + folded > 0 {
            let ended: Vec<String> = r
                .folded_tasks
                .ended
                .iter()
                .map(|(state, n)| {
                    format!(
                        "{n} {}",
                        State::from_name(state).map_or(*state, State::task_name)
                    )
                })
                .collect();
            let _ = writeln!(
                out,
                "  … {more} more with lanes, and {folded} counted in totals: {}",
                ended.join(", ")
            );
        }
    }
    for cycle in &r.deadlocks {
        let text = match cycle.as_slice() {
            [one] => format!("{one} waited for a lock it held itself"),
            _ => format!("{} waited for each other", cycle.join(" → ")),
        };
        let _ = writeln!(out, "\nDEADLOCK: {text}");
    }
    let _ = writeln!(
        out,
        "\nevents: {} recorded, {} dropped",
        r.events.recorded, r.events.dropped
    );
    let tail: Vec<_> = record.log.iter().rev().take(12).collect();
    if !tail.is_empty() {
        let _ = writeln!(out, "\nlast log lines:");
        for l in tail.into_iter().rev() {
            let _ = writeln!(out, "  {:>8.3}  {}", l.t, l.text);
        }
    }
    out
}
