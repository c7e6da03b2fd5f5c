//! Exports of a recorded run: a Chrome trace-event JSON that opens in
//! Perfetto (ui.perfetto.dev) and chrome://tracing, and the plotted series as
//! one long CSV table. No egui here: the window and `hilos run --trace FILE
//! --csv FILE` write the same files.

use std::fmt::Write as _;

use serde_json::{Value, json};

use crate::lab::record::{Record, Series};
use crate::lab::state::State;
use crate::scenarios::Scenario;

/// The process id every track of the trace belongs to.
const PID: u32 = 1;

/// Points per series in an export: fine enough to zoom well into a long run
/// (each point keeps its bucket's peaks), small enough to open quickly.
const EXPORT_POINTS: f64 = 20_000.0;

fn micros(seconds: f64) -> f64 {
    // Whole nanoseconds, in microseconds: what trace viewers expect.
    (seconds * 1e9).round() / 1e3
}

/// Every series the export writes: each resource's level, waiters and
/// capacity, and each counter, named as `--json` names them.
pub fn named_series(record: &Record) -> Vec<(String, &Series)> {
    let mut out = Vec::new();
    for r in record.resources() {
        out.push((
            format!("{}.{}", r.name, r.kind.level_meaning()),
            &r.level_series,
        ));
        out.push((format!("{}.waiters", r.name), &r.waiters_series));
        if !r.capacity_series.is_empty() {
            out.push((format!("{}.capacity", r.name), &r.capacity_series));
        }
    }
    for c in record.counters() {
        out.push((c.name.to_string(), &c.series));
    }
    out
}

/// A series' points over the whole run, as steps: (seconds, value).
fn points(series: &Series, end: f64) -> Vec<[f64; 2]> {
    let end = end.max(1e-6);
    series.steps(0.0, end, end, end / EXPORT_POINTS)
}

/// The run as Chrome trace events: one track per thread with its state
/// spans (named by state, and what it waited on), counter tracks for every
/// series, and the log as instant events on the thread that logged it.
pub fn trace(record: &Record, scenario: &Scenario) -> Value {
    let end = record.now();
    let mut events: Vec<Value> = Vec::new();
    events.push(json!({
        "ph": "M", "pid": PID, "tid": 0, "name": "process_name",
        "args": { "name": format!("hilos: {}", scenario.id) },
    }));
    // A child process's threads go under its own pid, named after it.
    for p in record.processes() {
        if let Some(pid) = p.pid {
            events.push(json!({
                "ph": "M", "pid": pid, "tid": 0, "name": "process_name",
                "args": { "name": format!("{} (pid {pid})", p.name) },
            }));
        }
    }
    for (order, t) in record.threads().enumerate() {
        let tid = t.id + 1;
        let pid = t
            .process
            .and_then(|p| record.process(p))
            .and_then(|p| p.pid)
            .unwrap_or(PID);
        events.push(json!({
            "ph": "M", "pid": pid, "tid": tid, "name": "thread_name",
            "args": { "name": &*t.name },
        }));
        events.push(json!({
            "ph": "M", "pid": pid, "tid": tid, "name": "thread_sort_index",
            "args": { "sort_index": order },
        }));
        let open = (!t.state.is_final()).then_some(crate::lab::record::Span {
            start: t.since,
            end,
            state: t.state,
            target: t.target,
        });
        for s in t.spans.iter().copied().chain(open) {
            if s.end <= s.start && s.state != State::Created {
                continue;
            }
            let name = match s.target {
                Some(target) => format!("{} on {}", s.state.name(), record.target_name(target)),
                None => s.state.name().to_string(),
            };
            events.push(json!({
                "ph": "X", "pid": pid, "tid": tid, "cat": "state",
                "name": name,
                "ts": micros(s.start),
                "dur": micros(s.end) - micros(s.start),
                "args": { "state": s.state.name() },
            }));
        }
        if t.state.is_final() {
            let mut args = json!({ "state": t.state.name() });
            if let Some(f) = &t.failure {
                args["failure"] = json!(f);
            }
            events.push(json!({
                "ph": "i", "s": "t", "pid": pid, "tid": tid, "cat": "end",
                "name": t.state.name(), "ts": micros(t.since), "args": args,
            }));
        }
    }
    for (name, series) in named_series(record) {
        for p in points(series, end) {
            events.push(json!({
                "ph": "C", "pid": PID, "name": name, "ts": micros(p[0]),
                "args": { "value": p[1] },
            }));
        }
    }
    for line in &record.log {
        let tid = line.worker.map_or(0, |w| w + 1);
        events.push(json!({
            "ph": "i", "s": "t", "pid": PID, "tid": tid, "cat": "log",
            "name": line.text, "ts": micros(line.t),
        }));
    }
    // Viewers want events in time order within a track; metadata first.
    events.sort_by(|a, b| {
        let ts = |v: &Value| v["ts"].as_f64().unwrap_or(-1.0);
        ts(a).total_cmp(&ts(b))
    });
    json!({
        "traceEvents": events,
        "displayTimeUnit": "ms",
        "otherData": {
            "scenario": scenario.id,
            "threads_ever": record.threads_ever(),
            "threads_folded": record.folded.all.threads,
            "log_lines_trimmed": record.log_trimmed,
            "events_recorded": record.events_recorded,
            "events_dropped": record.events_dropped,
            "coarse_tasks": record.coarse_tasks,
        },
    })
}

/// The series as one long table: a header row `series,seconds,value`, then
/// each series' points in time order (every series, plotted or not).
pub fn csv(record: &Record) -> String {
    let end = record.now();
    let mut out = String::from("series,seconds,value\n");
    for (name, series) in named_series(record) {
        let name = csv_field(&name);
        for p in points(series, end) {
            let _ = writeln!(out, "{name},{:.9},{}", p[0], p[1]);
        }
    }
    out
}

/// Quote a CSV field when it needs it.
fn csv_field(s: &str) -> String {
    if s.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", s.replace('"', "\"\""))
    } else {
        s.to_string()
    }
}

#[cfg(test)]
mod tests {
    use super::csv_field;

    #[test]
    fn csv_fields_are_quoted_only_when_needed() {
        assert_eq!(csv_field("queue.depth"), "queue.depth");
        assert_eq!(csv_field("a,b"), "\"a,b\"");
        assert_eq!(csv_field("say \"hi\""), "\"say \"\"hi\"\"\"");
    }
}
