//! The headless runner: `hilos list` and `hilos run`, for tests and scripts.
//! It produces the same numbers the window shows, as text or as JSON.

use std::collections::BTreeMap;
use std::fmt::Write as _;
use std::time::Duration;

use clap::{Args, Parser, Subcommand};
use serde::Serialize;

use crate::lab::knobs::{KnobError, format_number};
use crate::lab::record::Record;
use crate::lab::text::Lang;
use crate::lab::{Lab, LabOptions, MAX_SPEED, MIN_SPEED, State, StopReport};
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
    #[arg(long, global = true, value_parser = parse_lang)]
    pub lang: Option<Lang>,
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
}

#[derive(Args, Debug, Default)]
pub struct GuiArgs {
    /// Select this scenario when the window opens (an id as `hilos list` shows it).
    #[arg(long, value_name = "ID")]
    pub scenario: Option<String>,
    /// Start the selected scenario at once (for demos and screenshots).
    #[arg(long)]
    pub start: bool,
    /// Set a knob of the selected scenario: --set producers=4 (repeatable; needs --scenario).
    #[arg(long = "set", value_name = "KNOB=VALUE")]
    pub set: Vec<String>,
}

impl GuiArgs {
    /// Check the scenario id and every --set before the window opens.
    pub fn check(&self) -> Result<(), UsageError> {
        let Some(id) = &self.scenario else {
            if self.set.is_empty() && !self.start {
                return Ok(());
            }
            return Err(UsageError(
                "--start and --set need --scenario ID (see `hilos list`)".to_string(),
            ));
        };
        let knobs = find_scenario(id)?.knobs();
        for set in &self.set {
            knobs.set_from_arg(set)?;
        }
        Ok(())
    }
}

#[derive(Args, Debug)]
pub struct RunArgs {
    /// The scenario's id, as `hilos list` shows it.
    pub id: String,
    /// Set a knob: --set producers=4 (repeatable).
    #[arg(long = "set", value_name = "KNOB=VALUE")]
    pub set: Vec<String>,
    /// Stop the run after this many seconds of real time if it has not ended.
    #[arg(long, default_value_t = 60.0, allow_negative_numbers = true)]
    pub seconds: f64,
    /// Divide every sleep of the scenario by this (10 runs a 1 s sleep in 0.1 s).
    #[arg(long, default_value_t = 1.0, allow_negative_numbers = true)]
    pub speed: f64,
    /// Print one JSON object instead of the readable summary.
    #[arg(long)]
    pub json: bool,
    /// Print the equivalent Python program for these knob values and exit.
    #[arg(long)]
    pub python: bool,
    /// With --json, include the whole recorded log.
    #[arg(long)]
    pub log: bool,
}

fn parse_lang(s: &str) -> Result<Lang, String> {
    Lang::from_code(s).ok_or_else(|| format!("unknown language '{s}'; valid: en, es"))
}

/// An error a user caused: one line on stderr, exit status 2.
#[derive(Debug)]
pub struct UsageError(pub String);

impl std::fmt::Display for UsageError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

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
            let _ = writeln!(
                out,
                "    --set {}=…  {} to {}{unit}, default {}  ({}){live}",
                k.name,
                k.format(k.min),
                k.format(k.max),
                k.format(k.default),
                k.label.get(lang),
            );
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
    pub daemon: bool,
    pub state: State,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failure: Option<String>,
    /// Seconds of real time spent in each state (only states it was in).
    pub seconds: BTreeMap<&'static str, f64>,
}

#[derive(Serialize)]
pub struct EventsJson {
    pub recorded: u64,
    pub dropped: u64,
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
    pub threads: Vec<ThreadJson>,
    /// Cycles of threads each blocked on a lock the next one holds.
    pub deadlocks: Vec<Vec<String>>,
    pub events: EventsJson,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub log: Option<Vec<LogJson>>,
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
    let threads = record
        .threads()
        .map(|t| {
            let times = t.time_in(now);
            ThreadJson {
                name: t.name.to_string(),
                daemon: t.daemon,
                state: t.state,
                failure: t.failure.clone(),
                seconds: State::ALL
                    .iter()
                    .filter(|s| times[s.index()] > 0.0)
                    .map(|s| (s.name(), round3(times[s.index()])))
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
        deadlocks: record
            .deadlocks()
            .into_iter()
            .map(|c| c.into_iter().map(thread_name).collect())
            .collect(),
        events: EventsJson {
            recorded: record.events_recorded,
            dropped: record.events_dropped,
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
    }
}

/// `hilos run`: returns what to print on stdout.
pub fn run(args: &RunArgs, lang: Lang) -> Result<String, UsageError> {
    let scenario = find_scenario(&args.id)?;
    let knobs = scenario.knobs();
    for set in &args.set {
        knobs.set_from_arg(set)?;
    }
    if args.python {
        return Ok((scenario.python)(&knobs));
    }
    if !(args.speed.is_finite() && (MIN_SPEED..=MAX_SPEED).contains(&args.speed)) {
        return Err(UsageError(format!(
            "--speed {} is out of range; valid range: {} to {}",
            args.speed,
            format_number(MIN_SPEED),
            format_number(MAX_SPEED)
        )));
    }
    if !(args.seconds.is_finite() && args.seconds > 0.0 && args.seconds <= 86_400.0) {
        return Err(UsageError(format!(
            "--seconds {} is out of range; valid range: more than 0, up to 86400",
            args.seconds
        )));
    }
    let lab = Lab::new(
        LabOptions {
            speed: args.speed,
            ..LabOptions::default()
        },
        knobs,
    );
    lab.start_main(scenario.body)
        .map_err(|e| UsageError(format!("could not start the scenario: {e}")))?;
    let finished = lab.wait(Duration::from_secs_f64(args.seconds));
    let stop = lab.stop();
    let record = lab.record().lock();
    let report = report(scenario, &lab, &record, finished, stop, args.log, lang);
    if args.json {
        return Ok(serde_json::to_string_pretty(&report).unwrap_or_default() + "\n");
    }
    Ok(readable(&report, &record, lang))
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
    for cycle in &r.deadlocks {
        let _ = writeln!(out, "\nDEADLOCK: {} wait for each other", cycle.join(" → "));
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
