//! What is printed: `hilos list`, and a finished run's report as text
//! or JSON, with the same numbers the window shows.

use super::*;
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

pub(super) fn round3(v: f64) -> f64 {
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

pub(super) fn readable_check(r: &CheckReport, lang: Lang) -> String {
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

pub(super) fn readable(r: &RunReport, record: &Record, lang: Lang) -> String {
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
