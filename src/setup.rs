//! Setup files: a scenario, its knobs, the speed and the language, saved to
//! share or to come back to. JSON, like every other file Hilos writes (the
//! run export, the trace), so it needs no other parser; small, versioned and
//! readable:
//!
//! ```json
//! {
//!   "hilos_setup": 1,
//!   "scenario": "producer-consumer",
//!   "speed": 1.0,
//!   "lang": "en",
//!   "knobs": { "producers": 3, "consumers": 2, "capacity": 10 }
//! }
//! ```
//!
//! Reading one checks everything (the version, the scenario, each knob and
//! its range, the speed, the language) before anything changes, and names the
//! first problem in one line.

use std::collections::BTreeMap;
use std::path::Path;

use serde::{Deserialize, Serialize};

use crate::lab::knobs::format_number;
use crate::lab::text::Lang;
use crate::lab::{Knobs, MAX_SPEED, MIN_SPEED};
use crate::scenarios::{self, Scenario};

/// The version this build writes and reads.
pub const VERSION: u32 = 1;

#[derive(Serialize, Deserialize, Debug, Clone, PartialEq)]
#[serde(deny_unknown_fields)]
struct File {
    hilos_setup: u32,
    scenario: String,
    #[serde(default = "one")]
    speed: f64,
    #[serde(default)]
    lang: Option<String>,
    #[serde(default)]
    knobs: BTreeMap<String, serde_json::Value>,
}

fn one() -> f64 {
    1.0
}

/// A setup read and checked: every value valid.
#[derive(Clone)]
pub struct Setup {
    pub scenario: &'static Scenario,
    /// (knob name, value) for every knob the file sets.
    pub knobs: Vec<(&'static str, f64)>,
    pub speed: f64,
    pub lang: Option<Lang>,
}

impl std::fmt::Debug for Setup {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Setup")
            .field("scenario", &self.scenario.id)
            .field("knobs", &self.knobs)
            .field("speed", &self.speed)
            .field("lang", &self.lang)
            .finish()
    }
}

impl Setup {
    /// Knobs for the scenario with the file's values (defaults elsewhere).
    pub fn knobs(&self) -> Knobs {
        knobs_with(self.scenario, &self.knobs)
    }
}

/// `scenario`'s knobs with these values (checked when they were read), the
/// defaults elsewhere.
pub fn knobs_with(scenario: &Scenario, values: &[(&'static str, f64)]) -> Knobs {
    let knobs = scenario.knobs();
    for (name, v) in values {
        let _ = knobs.set(name, *v);
    }
    knobs
}

/// A Hilos JSON file's text checked for its kind and version: `key` holds
/// the version ("hilos_setup": 1). `what` names the file in messages.
pub(crate) fn versioned(
    text: &str,
    what: &str,
    kind: &str,
    key: &str,
    version: u32,
) -> Result<serde_json::Value, String> {
    let value: serde_json::Value = serde_json::from_str(text)
        .map_err(|e| format!("{what} is not a Hilos {kind} file (not JSON: {e})"))?;
    let found = value
        .get(key)
        .ok_or_else(|| format!("{what} is not a Hilos {kind} file (no \"{key}\" version)"))?;
    if found.as_u64() != Some(u64::from(version)) {
        return Err(format!(
            "{what} is a {kind} of version {found}; this Hilos reads version {version}"
        ));
    }
    Ok(value)
}

/// The scenario a file names, or which ones there are.
pub(crate) fn scenario_named(name: &str, what: &str) -> Result<&'static Scenario, String> {
    scenarios::find(name).ok_or_else(|| {
        format!(
            "{what}: unknown scenario '{name}'; valid scenarios: {}",
            scenarios::ids().join(", ")
        )
    })
}

/// A Hilos file's text, and its name for messages.
pub(crate) fn read_text(path: &Path, kind: &str) -> Result<(String, String), String> {
    let what = format!("'{}'", path.display());
    let bytes = std::fs::read(path).map_err(|e| format!("cannot read {what}: {e}"))?;
    let text = String::from_utf8(bytes)
        .map_err(|_| format!("{what} is not a Hilos {kind} file (not text)"))?;
    Ok((text, what))
}

/// Write what the window or the command line has now.
pub fn to_json(scenario: &Scenario, knobs: &Knobs, speed: f64, lang: Lang) -> String {
    let file = File {
        hilos_setup: VERSION,
        scenario: scenario.id.to_string(),
        speed,
        lang: Some(lang.code().to_string()),
        knobs: knobs_to_json(knobs),
    };
    serde_json::to_string_pretty(&file).unwrap_or_default() + "\n"
}

/// Knobs as a file keeps them: on/off as booleans, counts as integers,
/// choices by name (as `--set strategy=ordered` takes them).
pub fn knobs_to_json(knobs: &Knobs) -> BTreeMap<String, serde_json::Value> {
    knobs
        .values()
        .into_iter()
        .zip(knobs.specs())
        .map(|((name, v), spec)| {
            let value = match spec.kind {
                crate::lab::KnobKind::Bool => serde_json::json!(v >= 0.5),
                crate::lab::KnobKind::Int => serde_json::json!(v.round() as i64),
                crate::lab::KnobKind::Float => serde_json::json!(v),
                crate::lab::KnobKind::Choice => serde_json::json!(spec.format(v)),
            };
            (name.to_string(), value)
        })
        .collect()
}

/// Knobs a file sets, each checked against `scenario`'s ranges; `what`
/// names the file in messages.
pub fn knobs_from_json(
    scenario: &Scenario,
    json: &BTreeMap<String, serde_json::Value>,
    what: &str,
) -> Result<Vec<(&'static str, f64)>, String> {
    let knobs = scenario.knobs();
    let mut set = Vec::new();
    for (name, value) in json {
        let spec = knobs.spec(name).map_err(|e| format!("{what}: {e}"))?;
        let raw = match value {
            serde_json::Value::Bool(b) => b.to_string(),
            serde_json::Value::Number(n) => n.to_string(),
            serde_json::Value::String(s) => s.clone(),
            other => {
                return Err(format!(
                    "{what}: knob '{name}' = {other} is not a number or on/off"
                ));
            }
        };
        let v = spec.parse(&raw).map_err(|e| format!("{what}: {e}"))?;
        set.push((spec.name, v));
    }
    Ok(set)
}

/// Read a setup from its text. `what` names it in messages (a path).
pub fn parse(text: &str, what: &str) -> Result<Setup, String> {
    let value = versioned(text, what, "setup", "hilos_setup", VERSION)?;
    let file: File = serde_json::from_value(value).map_err(|e| format!("{what}: {e}"))?;
    let scenario = scenario_named(&file.scenario, what)?;
    if !(file.speed.is_finite() && (MIN_SPEED..=MAX_SPEED).contains(&file.speed)) {
        return Err(format!(
            "{what}: speed {} is out of range; valid range: {} to {}",
            file.speed,
            format_number(MIN_SPEED),
            format_number(MAX_SPEED)
        ));
    }
    let lang = match &file.lang {
        None => None,
        Some(code) => Some(
            Lang::from_code(code)
                .ok_or_else(|| format!("{what}: unknown language '{code}'; valid: en, es"))?,
        ),
    };
    let set = knobs_from_json(scenario, &file.knobs, what)?;
    Ok(Setup {
        scenario,
        knobs: set,
        speed: file.speed,
        lang,
    })
}

/// Read a setup file.
pub fn read(path: &Path) -> Result<Setup, String> {
    let (text, what) = read_text(path, "setup")?;
    parse(&text, &what)
}

/// Write a setup file.
pub fn write(path: &Path, json: &str) -> Result<(), String> {
    std::fs::write(path, json).map_err(|e| format!("could not write '{}': {e}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_setup_round_trips() {
        let scenario = scenarios::find("producer-consumer").unwrap();
        let knobs = scenario.knobs();
        knobs.set("producers", 3.0).unwrap();
        knobs.set("produce_pause", 0.25).unwrap();
        let text = to_json(scenario, &knobs, 2.5, Lang::Es);
        let setup = parse(&text, "test").unwrap();
        assert_eq!(setup.scenario.id, "producer-consumer");
        assert_eq!(setup.speed, 2.5);
        assert_eq!(setup.lang, Some(Lang::Es));
        assert_eq!(setup.knobs().values(), knobs.values());
    }

    #[test]
    fn a_strategy_is_saved_by_name_and_read_back() {
        let scenario = scenarios::find("deadlock").unwrap();
        let knobs = scenario.knobs();
        knobs.set_from_arg("strategy=timeout").unwrap();
        let text = to_json(scenario, &knobs, 1.0, Lang::En);
        assert!(text.contains(r#""strategy": "timeout""#), "{text}");
        let setup = parse(&text, "test").unwrap();
        assert_eq!(setup.knobs().get("strategy"), 2.0);
        let e = parse(
            r#"{"hilos_setup": 1, "scenario": "deadlock", "speed": 1, "knobs": {"strategy": "polite"}}"#,
            "f",
        )
        .unwrap_err();
        assert!(e.contains("naive, ordered, timeout"), "{e}");
    }

    #[test]
    fn each_bad_file_names_its_problem() {
        let bad = |text: &str, want: &str| {
            let e = parse(text, "f").unwrap_err();
            assert!(e.contains(want), "{text}: {e}");
            assert_eq!(e.lines().count(), 1, "{e}");
        };
        bad("not json", "not a Hilos setup file");
        bad(r#"{"a": 1}"#, "no \"hilos_setup\"");
        bad(
            r#"{"hilos_setup": 2, "scenario": "race-condition"}"#,
            "version 2",
        );
        bad(
            r#"{"hilos_setup": 1, "scenario": "nope"}"#,
            "unknown scenario 'nope'",
        );
        bad(
            r#"{"hilos_setup": 1, "scenario": "race-condition", "knobs": {"nope": 1}}"#,
            "unknown knob 'nope'",
        );
        bad(
            r#"{"hilos_setup": 1, "scenario": "race-condition", "knobs": {"threads": 999}}"#,
            "out of range",
        );
        bad(
            r#"{"hilos_setup": 1, "scenario": "race-condition", "speed": 0}"#,
            "speed 0 is out of range",
        );
        bad(
            r#"{"hilos_setup": 1, "scenario": "race-condition", "lang": "xx"}"#,
            "unknown language 'xx'",
        );
        bad(
            r#"{"hilos_setup": 1, "scenario": "race-condition", "extra": true}"#,
            "unknown field",
        );
    }
}
