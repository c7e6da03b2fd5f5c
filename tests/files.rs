//! Files Hilos reads and writes, through the real binary: setup files round
//! trip and every kind of bad one is refused with one line and changes
//! nothing; the trace export is valid Chrome trace-event JSON; the CSV export
//! has a row per exported point.

use std::collections::HashMap;
use std::path::PathBuf;
use std::process::Command;

use serde_json::Value;

fn hilos(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_hilos"))
        .args(args)
        .output()
        .expect("run hilos");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// A fresh folder for one test's files.
fn scratch(name: &str) -> PathBuf {
    let dir = std::env::temp_dir().join(format!("hilos-files-{}-{name}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).expect("scratch dir");
    dir
}

#[test]
fn a_saved_setup_opens_with_the_same_knobs_speed_and_language() {
    let dir = scratch("roundtrip");
    let file = dir.join("mine.json");
    let f = file.to_str().unwrap();
    let (code, _, err) = hilos(&[
        "run",
        "race-condition",
        "--set",
        "threads=5",
        "--set",
        "pause=0.02",
        "--set",
        "lock=on",
        "--speed",
        "4",
        "--lang",
        "es",
        "--save-setup",
        f,
        "--json",
    ]);
    assert_eq!(code, 0, "{err}");
    let (code, out, err) = hilos(&["run", "--setup", f, "--json"]);
    assert_eq!(code, 0, "{err}");
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["scenario"], "race-condition");
    assert_eq!(v["knobs"]["threads"], 5.0);
    assert_eq!(v["knobs"]["pause"], 0.02);
    assert_eq!(v["knobs"]["lock"], 1.0);
    assert_eq!(v["speed"], 4.0);
    assert_eq!(
        v["title"], "Condición de carrera",
        "the language comes back"
    );
    // --set, --speed and --lang override the file.
    let (code, out, _) = hilos(&[
        "run",
        "--setup",
        f,
        "--set",
        "threads=2",
        "--speed",
        "1",
        "--lang",
        "en",
        "--json",
    ]);
    assert_eq!(code, 0);
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["knobs"]["threads"], 2.0);
    assert_eq!(v["knobs"]["pause"], 0.02);
    assert_eq!(v["speed"], 1.0);
    assert_eq!(v["title"], "Race condition");
}

#[test]
fn every_kind_of_bad_setup_file_gives_one_line_and_changes_nothing() {
    let dir = scratch("bad");
    let cases: &[(&str, &[u8], &str)] = &[
        (
            "not-ours.json",
            b"{\"name\": \"something else\"}",
            "not a Hilos setup file",
        ),
        (
            "garbage.json",
            b"\x00\xff\xfe binary",
            "not a Hilos setup file",
        ),
        ("text.json", b"hello", "not a Hilos setup file"),
        (
            "version.json",
            br#"{"hilos_setup": 99, "scenario": "race-condition"}"#,
            "version 99",
        ),
        (
            "scenario.json",
            br#"{"hilos_setup": 1, "scenario": "nope"}"#,
            "unknown scenario 'nope'",
        ),
        (
            "knob.json",
            br#"{"hilos_setup": 1, "scenario": "race-condition", "knobs": {"nope": 1}}"#,
            "unknown knob 'nope'",
        ),
        (
            "range.json",
            br#"{"hilos_setup": 1, "scenario": "race-condition", "knobs": {"threads": 0}}"#,
            "out of range",
        ),
        (
            "speed.json",
            br#"{"hilos_setup": 1, "scenario": "race-condition", "speed": 5000}"#,
            "out of range",
        ),
    ];
    for (name, bytes, want) in cases {
        let path = dir.join(name);
        std::fs::write(&path, bytes).unwrap();
        let p = path.to_str().unwrap();
        for args in [vec!["run", "--setup", p], vec!["gui", "--open", p]] {
            let (code, out, err) = hilos(&args);
            assert_eq!(code, 2, "{args:?}: {err}");
            assert!(out.is_empty(), "{args:?}: {out}");
            assert_eq!(err.lines().count(), 1, "{args:?}: {err}");
            assert!(err.contains(want), "{args:?}: want '{want}' in {err}");
        }
        assert_eq!(
            &std::fs::read(&path).unwrap(),
            bytes,
            "the file is untouched"
        );
    }
    let missing = dir.join("missing.json");
    let (code, _, err) = hilos(&["run", "--setup", missing.to_str().unwrap()]);
    assert_eq!(code, 2);
    assert!(err.contains("cannot read"), "{err}");
}

#[test]
fn the_trace_export_is_valid_chrome_trace_json_with_tracks_spans_and_counters() {
    let dir = scratch("trace");
    let trace = dir.join("run.trace.json");
    let csv = dir.join("run.csv");
    let (code, _, err) = hilos(&[
        "run",
        "producer-consumer",
        "--set",
        "producers=3",
        "--set",
        "consumers=2",
        "--set",
        "run_for=1",
        "--speed",
        "4",
        "--trace",
        trace.to_str().unwrap(),
        "--csv",
        csv.to_str().unwrap(),
    ]);
    assert_eq!(code, 0, "{err}");
    let v: Value = serde_json::from_str(&std::fs::read_to_string(&trace).unwrap()).unwrap();
    let events = v["traceEvents"].as_array().expect("traceEvents");
    // Thread tracks, named.
    let names: HashMap<u64, String> = events
        .iter()
        .filter(|e| e["ph"] == "M" && e["name"] == "thread_name")
        .map(|e| {
            (
                e["tid"].as_u64().unwrap(),
                e["args"]["name"].as_str().unwrap().to_string(),
            )
        })
        .collect();
    for want in ["MainThread", "Producer-1", "Producer-3", "Consumer-2"] {
        assert!(
            names.values().any(|n| n == want),
            "no track {want}: {names:?}"
        );
    }
    // State spans per thread never overlap, and every event has a time.
    let mut spans: HashMap<u64, Vec<(f64, f64)>> = HashMap::new();
    let mut last_ts = f64::NEG_INFINITY;
    for e in events {
        if e["ph"] == "M" {
            continue;
        }
        let ts = e["ts"].as_f64().expect("ts");
        assert!(ts >= last_ts, "events out of order: {ts} after {last_ts}");
        last_ts = ts;
        if e["ph"] == "X" {
            let dur = e["dur"].as_f64().expect("dur");
            assert!(dur >= 0.0);
            spans
                .entry(e["tid"].as_u64().unwrap())
                .or_default()
                .push((ts, ts + dur));
        }
    }
    assert!(spans.len() >= 6, "spans on every thread");
    for (tid, s) in &mut spans {
        s.sort_by(|a, b| a.0.total_cmp(&b.0));
        for w in s.windows(2) {
            assert!(
                w[1].0 >= w[0].1 - 1e-3,
                "thread {tid}: {:?} overlaps {:?}",
                w[0],
                w[1]
            );
        }
    }
    // Counter tracks for the queue and the counters; the log as instants.
    let counters: Vec<&str> = events
        .iter()
        .filter(|e| e["ph"] == "C")
        .filter_map(|e| e["name"].as_str())
        .collect();
    for want in [
        "queue.depth",
        "queue.waiters",
        "queue.capacity",
        "produced",
        "consumed",
    ] {
        assert!(counters.contains(&want), "no counter track {want}");
    }
    assert!(events.iter().any(|e| {
        e["ph"] == "i"
            && e["name"]
                .as_str()
                .is_some_and(|n| n.contains("got message"))
    }));

    // The CSV: a header, then one row per exported point of every series;
    // its counter rows are the trace's counter events, point for point.
    let text = std::fs::read_to_string(&csv).unwrap();
    let mut lines = text.lines();
    assert_eq!(lines.next(), Some("series,seconds,value"));
    let rows: Vec<Vec<&str>> = lines.map(|l| l.split(',').collect()).collect();
    assert!(rows.iter().all(|r| r.len() == 3));
    assert_eq!(rows.len(), counters.len(), "a CSV row per counter point");
    let produced_last = rows
        .iter()
        .rfind(|r| r[0] == "produced")
        .map(|r| r[2].parse::<f64>().unwrap());
    let consumed_last = rows
        .iter()
        .rfind(|r| r[0] == "consumed")
        .map(|r| r[2].parse::<f64>().unwrap());
    assert!(produced_last.is_some_and(|p| p > 0.0));
    assert_eq!(produced_last, consumed_last, "every message consumed");
}

#[test]
fn exports_that_cannot_be_written_say_why_before_running() {
    let dir = scratch("unwritable");
    let (code, out, err) = hilos(&[
        "run",
        "race-condition",
        "--trace",
        dir.join("no/such/folder/t.json").to_str().unwrap(),
    ]);
    assert_eq!(code, 2);
    assert!(out.is_empty());
    assert!(err.contains("does not exist"), "{err}");
    let (code, _, err) = hilos(&["run", "race-condition", "--csv", dir.to_str().unwrap()]);
    assert_eq!(code, 2);
    assert!(err.contains("is a folder"), "{err}");
    let (code, _, err) = hilos(&["run", "race-condition", "--python", "--trace", "x.json"]);
    assert_eq!(code, 2);
    assert!(err.contains("do not go with --python"), "{err}");
}
