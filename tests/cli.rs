//! The command line: every mistake a user can make is one line on stderr that
//! names it, nothing on stdout, exit status 2 — through the real binary — and
//! the parser behind it never panics, whatever it is fed (a property test).

use std::ffi::OsString;
use std::process::Command;

use hilos::cli::{self, MAX_SECONDS, Plan};
use hilos::lab::text::Lang;
use hilos::lab::{MAX_SPEED, MIN_SPEED};
use hilos::scenarios;
use proptest::prelude::*;

fn hilos(args: &[&str]) -> (i32, String, String) {
    let out = Command::new(env!("CARGO_BIN_EXE_hilos"))
        .args(args)
        // Should a `gui` case ever get past validation, it must fail for want
        // of a display instead of opening a window and waiting for a person.
        .env_remove("DISPLAY")
        .env_remove("WAYLAND_DISPLAY")
        .output()
        .expect("run hilos");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Exit status 2, nothing on stdout, one line on stderr holding every `needle`.
fn assert_usage_error(args: &[&str], needles: &[&str]) {
    let (code, stdout, stderr) = hilos(args);
    assert_eq!(code, 2, "{args:?}: status {code}, stderr: {stderr}");
    assert!(stdout.is_empty(), "{args:?} printed on stdout: {stdout}");
    assert!(stderr.ends_with('\n'), "{args:?}: {stderr:?}");
    assert_eq!(
        stderr.lines().count(),
        1,
        "{args:?}: not one line: {stderr:?}"
    );
    assert!(stderr.starts_with("hilos: "), "{args:?}: {stderr}");
    for needle in needles {
        assert!(
            stderr.contains(needle),
            "{args:?}: {stderr:?} does not name {needle:?}"
        );
    }
}

#[test]
fn a_missing_id_is_named() {
    assert_usage_error(&["run"], &["<ID>", "race-condition"]);
    assert_usage_error(&["run", "--json", "--speed", "2"], &["<ID>"]);
}

#[test]
fn a_speed_that_is_not_a_number_is_named_with_its_range() {
    assert_usage_error(
        &["run", "race-condition", "--speed", "abc"],
        &["--speed", "'abc'", "0.01 to 1000"],
    );
    assert_usage_error(
        &["run", "race-condition", "--speed", ""],
        &["--speed", "0.01 to 1000"],
    );
    assert_usage_error(
        &["run", "race-condition", "--seconds", "soon"],
        &["--seconds", "'soon'", "86400"],
    );
}

#[test]
fn a_speed_out_of_range_is_named() {
    for speed in ["0", "-1", "NaN", "inf", "-inf", "1e400", "1000.5", "0.009"] {
        assert_usage_error(
            &["run", "race-condition", "--speed", speed],
            &["--speed", speed, "0.01 to 1000"],
        );
    }
    for seconds in ["0", "-3", "nan", "86401"] {
        assert_usage_error(
            &["run", "race-condition", "--seconds", seconds],
            &["--seconds", seconds, "86400"],
        );
    }
}

#[test]
fn python_checks_speed_seconds_and_lang_too() {
    assert_usage_error(
        &["run", "race-condition", "--python", "--speed", "0"],
        &["--speed", "0.01 to 1000"],
    );
    assert_usage_error(
        &["run", "race-condition", "--python", "--seconds", "-1"],
        &["--seconds"],
    );
    assert_usage_error(
        &["run", "race-condition", "--python", "--lang", "xx"],
        &["'xx'", "en, es"],
    );
    assert_usage_error(
        &["run", "race-condition", "--python", "--set", "threads=0"],
        &["threads", "1 to 64"],
    );
    // And with good values it still prints the program.
    let (code, py, err) = hilos(&["run", "race-condition", "--python", "--speed", "10"]);
    assert_eq!(code, 0, "{err}");
    assert!(py.contains("import threading"), "{py}");
}

#[test]
fn an_unknown_flag_is_named_with_the_valid_ones() {
    assert_usage_error(
        &["run", "race-condition", "--bogus"],
        &["'--bogus'", "hilos run", "--speed", "--set"],
    );
    assert_usage_error(
        &["run", "race-condition", "--sped", "2"],
        &["'--sped'", "did you mean '--speed'"],
    );
    assert_usage_error(&["list", "-x"], &["'-x'", "--json"]);
    assert_usage_error(&["--bogus"], &["'--bogus'", "--lang"]);
    assert_usage_error(
        &["gui", "--scenario", "race-condition", "--stat"],
        &["'--stat'", "--start"],
    );
}

#[test]
fn an_unknown_language_is_named() {
    assert_usage_error(&["--lang", "xx", "list"], &["'xx'", "--lang", "en, es"]);
    assert_usage_error(&["list", "--lang", "xx"], &["'xx'", "en, es"]);
    assert_usage_error(&["run", "race-condition", "--lang=xx"], &["'xx'"]);
    let (code, text, _) = hilos(&["list", "--lang", "es"]);
    assert_eq!(code, 0);
    assert!(text.contains("Condición de carrera"), "{text}");
}

#[test]
fn gui_checks_everything_before_a_window_opens() {
    assert_usage_error(
        &["gui", "--scenario", "nope"],
        &["'nope'", "race-condition"],
    );
    assert_usage_error(
        &[
            "gui",
            "--scenario",
            "race-condition",
            "--set",
            "threads=1000",
        ],
        &["threads", "1 to 64"],
    );
    assert_usage_error(
        &["gui", "--scenario", "race-condition", "--set", "colour=red"],
        &["'colour'", "threads, updates, pause, lock"],
    );
    assert_usage_error(&["gui", "--set", "threads=2"], &["--scenario"]);
    assert_usage_error(&["gui", "--start"], &["--scenario"]);
    assert_usage_error(&["gui", "--lang", "xx"], &["'xx'"]);
}

#[test]
fn other_mistakes_are_one_line_too() {
    assert_usage_error(&["frobnicate"], &["'frobnicate'", "list, run, gui"]);
    assert_usage_error(&["lsit"], &["did you mean 'list'"]);
    assert_usage_error(&["run", "race-condition", "extra"], &["'extra'"]);
    assert_usage_error(&["run", "race-condition", "--speed"], &["--speed"]);
    assert_usage_error(&["run", "race-condition", "--set"], &["--set"]);
    assert_usage_error(&["list", "--json=yes"], &["--json"]);
    assert_usage_error(&["list", "--json", "--json"], &["--json"]);
    assert_usage_error(
        &["run", "race-condition", "--set", "threads"],
        &["'threads'", "KNOB=VALUE", "threads, updates, pause, lock"],
    );
    // What a user typed is shown escaped, so it stays one line.
    assert_usage_error(
        &["run", "race-condition", "--set", "threads=1\n2"],
        &["threads", "1\\n2"],
    );
    assert_usage_error(&["run", "no\npe"], &["no\\npe"]);
}

#[test]
fn help_and_version_print_on_stdout_and_succeed() {
    for args in [
        &["--help"][..],
        &["-h"],
        &["run", "--help"],
        &["help", "run"],
        &["gui", "-h"],
    ] {
        let (code, stdout, stderr) = hilos(args);
        assert_eq!(code, 0, "{args:?}: {stderr}");
        assert!(stdout.contains("Usage:"), "{args:?}: {stdout}");
        assert!(stderr.is_empty(), "{args:?}: {stderr}");
    }
    let (code, stdout, _) = hilos(&["--version"]);
    assert_eq!(code, 0);
    assert_eq!(
        stdout.trim(),
        format!("hilos {}", env!("CARGO_PKG_VERSION"))
    );
}

#[test]
fn parse_returns_the_checked_plan() {
    let plan = cli::parse([
        "--lang",
        "es",
        "run",
        "producer-consumer",
        "--speed",
        "10",
        "--seconds=5",
        "--set",
        "producers=3",
        "--set",
        "capacity=7",
        "--json",
    ]);
    let Ok(Plan::Run(run)) = plan else {
        panic!("not a run: {plan:?}");
    };
    assert_eq!(run.scenario.id, "producer-consumer");
    assert_eq!(run.speed, 10.0);
    assert_eq!(run.seconds, 5.0);
    assert_eq!(run.lang, Lang::Es);
    assert!(run.json && !run.python && !run.log);
    assert_eq!(run.knobs.get("producers"), 3.0);
    assert_eq!(run.knobs.get("capacity"), 7.0);
    // The defaults.
    let Ok(Plan::Run(run)) = cli::parse(["run", "race-condition"]) else {
        panic!("not a run");
    };
    assert_eq!((run.speed, run.seconds, run.lang), (1.0, 60.0, Lang::En));

    let Ok(Plan::Gui(gui)) = cli::parse(Vec::<String>::new()) else {
        panic!("no arguments: not the window");
    };
    assert_eq!(gui.scenario, None);
    let plan = cli::parse([
        "gui",
        "--scenario",
        "frozen-ui",
        "--start",
        "--set",
        "steps=5",
    ]);
    let Ok(Plan::Gui(gui)) = plan else {
        panic!("not the window: {plan:?}");
    };
    assert_eq!(gui.scenario.as_deref(), Some("frozen-ui"));
    assert!(gui.start);
    assert_eq!(gui.set, ["steps=5"]);
    // No --lang: the window's saved language comes back; with it, --lang wins.
    assert!(!gui.lang_chosen);
    let Ok(Plan::Gui(gui)) = cli::parse(["gui", "--lang", "es", "--scenario", "gil"]) else {
        panic!("not the window");
    };
    assert!(gui.lang_chosen && gui.lang == Lang::Es);
    let Ok(Plan::Gui(gui)) = cli::parse(["--lang", "es"]) else {
        panic!("not the window");
    };
    assert!(gui.lang_chosen && gui.lang == Lang::Es);
    assert!(matches!(
        cli::parse(["list", "--json"]),
        Ok(Plan::List { json: true, .. })
    ));
    assert!(matches!(cli::parse(["--help"]), Ok(Plan::Info(_))));
}

// ---- property test: the parser never panics, and every error is one line ----

const WORDS: &[&str] = &[
    // commands, real and not
    "run",
    "list",
    "gui",
    "help",
    "lsit",
    "RUN",
    // flags, real and not
    "--set",
    "--speed",
    "--seconds",
    "--json",
    "--python",
    "--log",
    "--lang",
    "--scenario",
    "--start",
    "--help",
    "-h",
    "--version",
    "-V",
    "--bogus",
    "-x",
    "-",
    "--",
    "--speed=",
    "--set=",
    "--seconds=-1",
    "--lang=es",
    "--json=1",
    "---",
    // scenario ids, real and not
    "race-condition",
    "producer-consumer",
    "frozen-ui",
    "nope",
    "Race-Condition",
    // languages
    "en",
    "es",
    "xx",
    "español",
    // numbers and other values
    "0",
    "1",
    "-1",
    "10",
    "0.01",
    "1000",
    "1000.0001",
    "86400",
    "86401",
    "NaN",
    "nan",
    "inf",
    "-inf",
    "1e400",
    "-0",
    "1e-320",
    "99999999999999999999",
    "0x10",
    " 5 ",
    "٣",
    "",
    " ",
    "on",
    "off",
    // unicode and control characters
    "é",
    "🧵",
    "a\nb",
    "\r",
    "\0",
    "\u{2028}",
    "\u{1b}[31m",
];

const KNOBS: &[&str] = &[
    "threads",
    "updates",
    "pause",
    "lock",
    "producers",
    "consumers",
    "capacity",
    "burst",
    "run_for",
    "steps",
    "sleep",
    "ui_thread",
    "colour",
    "",
    " threads",
    "THREADS",
];

/// Any one argument: from the vocabulary, a knob setting, or random text.
fn word() -> impl Strategy<Value = OsString> {
    prop_oneof![
        4 => prop::sample::select(WORDS).prop_map(OsString::from),
        // --set values: a knob name, maybe an '=', a number-ish value
        3 => (
            prop::sample::select(KNOBS),
            prop::sample::select(&["=", "", "==", " = "][..]),
            prop::sample::select(WORDS),
        )
            .prop_map(|(k, eq, v)| OsString::from(format!("{k}{eq}{v}"))),
        1 => prop::sample::select(scenarios::ids()).prop_map(OsString::from),
        1 => any::<String>().prop_map(OsString::from),
        1 => any::<f64>().prop_map(|v| OsString::from(v.to_string())),
        1 => bytes(),
    ]
}

#[cfg(unix)]
fn bytes() -> impl Strategy<Value = OsString> {
    use std::os::unix::ffi::OsStringExt as _;
    prop::collection::vec(any::<u8>(), 0..6).prop_map(OsString::from_vec)
}

#[cfg(not(unix))]
fn bytes() -> impl Strategy<Value = OsString> {
    any::<String>().prop_map(OsString::from)
}

/// An option with its value (`--speed 3`, `--speed=3`), a switch, or any word:
/// `valued` and `switches` are the options of one command.
fn item(
    valued: &'static [&'static str],
    switches: &'static [&'static str],
) -> impl Strategy<Value = Vec<OsString>> {
    prop_oneof![
        6 => (prop::sample::select(valued), word())
            .prop_map(|(flag, value)| vec![flag.into(), value]),
        1 => (prop::sample::select(valued), word()).prop_map(|(flag, value)| {
            let mut joined = OsString::from(format!("{flag}="));
            joined.push(value);
            vec![joined]
        }),
        2 => prop::sample::select(switches).prop_map(|s| vec![s.into()]),
        1 => word().prop_map(|w| vec![w]),
    ]
}

/// Mostly real commands with their own options, `run` with a real id most of
/// all, so that most cases get past clap to the checks of values.
fn command_line() -> impl Strategy<Value = Vec<OsString>> {
    let run_id = prop_oneof![
        5 => prop::sample::select(scenarios::ids()).prop_map(OsString::from),
        1 => word(),
    ];
    let run_items = prop::collection::vec(
        item(
            &["--set", "--speed", "--seconds", "--lang"],
            &["--json", "--python", "--log"],
        ),
        0..6,
    );
    let gui_items =
        prop::collection::vec(item(&["--scenario", "--set", "--lang"], &["--start"]), 0..5);
    let list_items = prop::collection::vec(item(&["--lang"], &["--json"]), 0..3);
    let explore_id = prop_oneof![
        5 => prop::sample::select(scenarios::ids()).prop_map(OsString::from),
        1 => word(),
    ];
    let explore_items = prop::collection::vec(
        item(&["--set", "--runs", "--seed", "--lang"], &["--json"]),
        0..5,
    );
    let flat = |head: &str, items: Vec<Vec<OsString>>| -> Vec<OsString> {
        std::iter::once(OsString::from(head))
            .chain(items.into_iter().flatten())
            .collect()
    };
    prop_oneof![
        8 => (run_id, run_items).prop_map(move |(id, items)| {
            let mut args = vec![OsString::from("run"), id];
            args.extend(items.into_iter().flatten());
            args
        }),
        3 => gui_items.prop_map(move |items| flat("gui", items)),
        2 => (explore_id, explore_items).prop_map(move |(id, items)| {
            let mut args = vec![OsString::from("explore"), id];
            args.extend(items.into_iter().flatten());
            args
        }),
        1 => list_items.prop_map(move |items| flat("list", items)),
        2 => prop::collection::vec(word(), 0..6),
    ]
}

proptest! {
    #![proptest_config(ProptestConfig {
        cases: 5000,
        // A failing case is kept beside this file: tests/cli.proptest-regressions.
        failure_persistence: Some(Box::new(
            proptest::test_runner::FileFailurePersistence::WithSource("proptest-regressions"),
        )),
        ..ProptestConfig::default()
    })]

    #[test]
    fn parse_never_panics_and_errors_are_one_line(args in command_line()) {
        match cli::parse(args.clone()) {
            Err(e) => {
                let line = e.to_string();
                prop_assert!(!line.trim().is_empty(), "{args:?}: empty error");
                prop_assert!(
                    !line.contains(['\n', '\r', '\u{2028}', '\u{2029}']),
                    "{args:?}: not one line: {line:?}"
                );
            }
            // A plan holds only valid values.
            Ok(Plan::Run(run)) => {
                prop_assert!((MIN_SPEED..=MAX_SPEED).contains(&run.speed), "{run:?}");
                prop_assert!(run.seconds > 0.0 && run.seconds <= MAX_SECONDS, "{run:?}");
                for (spec, (_, value)) in run.knobs.specs().iter().zip(run.knobs.values()) {
                    prop_assert!(spec.check(value).is_ok(), "{args:?}: {run:?}");
                }
            }
            Ok(Plan::Gui(gui)) => {
                if let Some(id) = &gui.scenario {
                    let knobs = scenarios::find(id).map(|s| s.knobs());
                    prop_assert!(knobs.is_some(), "{args:?}: {gui:?}");
                    if let Some(knobs) = knobs {
                        for set in &gui.set {
                            prop_assert!(knobs.set_from_arg(set).is_ok(), "{args:?}: {gui:?}");
                        }
                    }
                } else {
                    prop_assert!(gui.set.is_empty() && !gui.start, "{args:?}: {gui:?}");
                }
            }
            Ok(Plan::Explore(explore)) => {
                prop_assert!(explore.runs >= 1 && explore.runs <= cli::MAX_RUNS, "{explore:?}");
                for (spec, (_, value)) in explore.knobs.specs().iter().zip(explore.knobs.values()) {
                    prop_assert!(spec.check(value).is_ok(), "{args:?}: {explore:?}");
                }
            }
            Ok(Plan::List { .. } | Plan::Info(_)) => {}
        }
    }
}
