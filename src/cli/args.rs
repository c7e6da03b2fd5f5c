//! Reading the command line: clap's arguments, checked into a [`Plan`]
//! in which every value is valid, or a one-line [`UsageError`].

use super::*;

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
