//! Live parameters: each scenario declares its knobs; the UI or the command line
//! writes them, and the running workers read them on every loop.

use std::fmt;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use super::text::Text;

/// How a knob's value is read and shown.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum KnobKind {
    /// A whole number (workers, capacity, steps).
    Int,
    /// A real number, usually seconds.
    Float,
    /// On or off (a lock on/off). Stored as 0 or 1.
    Bool,
    /// One of a few named options (a strategy). Stored as the option's
    /// index, 0 to n − 1; see [`KnobSpec::choices`].
    Choice,
}

/// One option of a [`KnobKind::Choice`] knob.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Choice {
    /// Typed on the command line: `--set strategy=ordered`.
    pub name: &'static str,
    pub label: Text,
}

/// One declared parameter of a scenario.
#[derive(Clone, Debug)]
pub struct KnobSpec {
    /// Used on the command line: `--set producers=3`.
    pub name: &'static str,
    pub label: Text,
    /// Unit shown beside the value ("s", "threads", "items"); empty for none.
    pub unit: &'static str,
    pub kind: KnobKind,
    pub min: f64,
    pub max: f64,
    pub default: f64,
    /// `None`: a change applies to the running scenario at once. `Some(why)`:
    /// it applies at the next start, and the UI shows why next to the slider.
    pub not_live: Option<Text>,
    /// Whether a slider should use a logarithmic scale (sleeps spanning decades).
    pub logarithmic: bool,
    /// The options of a [`KnobKind::Choice`] knob, in index order; empty otherwise.
    pub choices: &'static [Choice],
}

impl KnobSpec {
    pub const fn int(
        name: &'static str,
        label: Text,
        unit: &'static str,
        min: i64,
        max: i64,
        default: i64,
    ) -> Self {
        KnobSpec {
            name,
            label,
            unit,
            kind: KnobKind::Int,
            min: min as f64,
            max: max as f64,
            default: default as f64,
            not_live: None,
            logarithmic: false,
            choices: &[],
        }
    }

    pub const fn seconds(
        name: &'static str,
        label: Text,
        min: f64,
        max: f64,
        default: f64,
    ) -> Self {
        KnobSpec {
            name,
            label,
            unit: "s",
            kind: KnobKind::Float,
            min,
            max,
            default,
            not_live: None,
            logarithmic: true,
            choices: &[],
        }
    }

    pub const fn flag(name: &'static str, label: Text, default: bool) -> Self {
        KnobSpec {
            name,
            label,
            unit: "",
            kind: KnobKind::Bool,
            min: 0.0,
            max: 1.0,
            default: if default { 1.0 } else { 0.0 },
            not_live: None,
            logarithmic: false,
            choices: &[],
        }
    }

    /// One of `choices`, `default` being an index into them.
    pub const fn choice(
        name: &'static str,
        label: Text,
        choices: &'static [Choice],
        default: usize,
    ) -> Self {
        KnobSpec {
            name,
            label,
            unit: "",
            kind: KnobKind::Choice,
            min: 0.0,
            max: choices.len().saturating_sub(1) as f64,
            default: default as f64,
            not_live: None,
            logarithmic: false,
            choices,
        }
    }

    /// The option a value of a choice knob stands for.
    pub fn choice_at(&self, value: f64) -> Option<&'static Choice> {
        let i = value.round();
        if i < 0.0 {
            return None;
        }
        self.choices.get(i as usize)
    }

    pub const fn not_live(mut self, why: Text) -> Self {
        self.not_live = Some(why);
        self
    }

    /// Parse a value as typed on the command line, checking the range.
    pub fn parse(&self, raw: &str) -> Result<f64, KnobError> {
        let raw = raw.trim();
        let value = match self.kind {
            KnobKind::Bool => match raw.to_ascii_lowercase().as_str() {
                "1" | "on" | "true" | "yes" => 1.0,
                "0" | "off" | "false" | "no" => 0.0,
                _ => {
                    return Err(KnobError::BadValue {
                        knob: self.name,
                        value: raw.to_string(),
                        expected: "on or off (also true/false, 1/0)".to_string(),
                    });
                }
            },
            KnobKind::Choice => {
                let names = || {
                    self.choices
                        .iter()
                        .map(|c| c.name)
                        .collect::<Vec<_>>()
                        .join(", ")
                };
                match self
                    .choices
                    .iter()
                    .position(|c| c.name.eq_ignore_ascii_case(raw))
                {
                    Some(i) => i as f64,
                    // Its index works too, as `hilos run --json` prints it.
                    None => match raw.parse::<usize>() {
                        Ok(i) if i < self.choices.len() => i as f64,
                        _ => {
                            return Err(KnobError::BadValue {
                                knob: self.name,
                                value: raw.to_string(),
                                expected: format!("one of {}", names()),
                            });
                        }
                    },
                }
            }
            KnobKind::Int => {
                let v: i64 = raw.parse().map_err(|_| KnobError::BadValue {
                    knob: self.name,
                    value: raw.to_string(),
                    expected: format!("a whole number from {} to {}", self.min, self.max),
                })?;
                v as f64
            }
            KnobKind::Float => {
                let v: f64 = raw.parse().map_err(|_| KnobError::BadValue {
                    knob: self.name,
                    value: raw.to_string(),
                    expected: format!("a number from {} to {}", self.min, self.max),
                })?;
                if !v.is_finite() {
                    return Err(KnobError::BadValue {
                        knob: self.name,
                        value: raw.to_string(),
                        expected: format!("a number from {} to {}", self.min, self.max),
                    });
                }
                v
            }
        };
        self.check(value)
    }

    /// Check that a value is within range.
    pub fn check(&self, value: f64) -> Result<f64, KnobError> {
        if value < self.min || value > self.max || value.is_nan() {
            return Err(KnobError::OutOfRange {
                knob: self.name,
                value,
                min: self.min,
                max: self.max,
                unit: self.unit,
            });
        }
        Ok(value)
    }

    /// A value formatted for people: integers without decimals, booleans as on/off.
    pub fn format(&self, value: f64) -> String {
        match self.kind {
            KnobKind::Bool => if value >= 0.5 { "on" } else { "off" }.to_string(),
            KnobKind::Int => format!("{}", value.round() as i64),
            KnobKind::Float => format_number(value),
            KnobKind::Choice => self.choice_at(value).map_or_else(
                || format!("{}", value.round() as i64),
                |c| c.name.to_string(),
            ),
        }
    }
}

/// Shortest readable form of a float: 0.1, 2, 0.005.
pub fn format_number(value: f64) -> String {
    let s = format!("{value:.6}");
    let s = s.trim_end_matches('0').trim_end_matches('.');
    if s.is_empty() || s == "-0" {
        "0".to_string()
    } else {
        s.to_string()
    }
}

/// A knob problem a user can cause.
#[derive(Clone, Debug, PartialEq)]
pub enum KnobError {
    Unknown {
        knob: String,
        valid: Vec<&'static str>,
    },
    BadValue {
        knob: &'static str,
        value: String,
        expected: String,
    },
    OutOfRange {
        knob: &'static str,
        value: f64,
        min: f64,
        max: f64,
        unit: &'static str,
    },
}

impl fmt::Display for KnobError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            KnobError::Unknown { knob, valid } => {
                write!(
                    f,
                    "unknown knob '{knob}'; valid knobs: {}",
                    valid.join(", ")
                )
            }
            KnobError::BadValue {
                knob,
                value,
                expected,
            } => {
                write!(f, "knob '{knob}' got '{value}'; expected {expected}")
            }
            KnobError::OutOfRange {
                knob,
                value,
                min,
                max,
                unit,
            } => {
                let unit = if unit.is_empty() {
                    String::new()
                } else {
                    format!(" {unit}")
                };
                write!(
                    f,
                    "knob '{knob}' = {} is out of range; valid range: {} to {}{unit}",
                    format_number(*value),
                    format_number(*min),
                    format_number(*max)
                )
            }
        }
    }
}

impl std::error::Error for KnobError {}

/// The live values of one scenario's knobs, shared by the UI and the workers.
/// Reads and writes are single atomic operations: nobody ever waits on a knob.
#[derive(Clone)]
pub struct Knobs {
    specs: &'static [KnobSpec],
    values: Arc<[AtomicU64]>,
    /// Bumped on every write so readers can notice "something changed" cheaply.
    generation: Arc<AtomicU64>,
}

impl Knobs {
    /// Every knob at its default.
    pub fn new(specs: &'static [KnobSpec]) -> Knobs {
        let values: Vec<AtomicU64> = specs
            .iter()
            .map(|s| AtomicU64::new(s.default.to_bits()))
            .collect();
        Knobs {
            specs,
            values: values.into(),
            generation: Arc::new(AtomicU64::new(0)),
        }
    }

    pub fn specs(&self) -> &'static [KnobSpec] {
        self.specs
    }

    pub fn index_of(&self, name: &str) -> Result<usize, KnobError> {
        self.specs
            .iter()
            .position(|s| s.name == name)
            .ok_or_else(|| KnobError::Unknown {
                knob: name.to_string(),
                valid: self.specs.iter().map(|s| s.name).collect(),
            })
    }

    pub fn spec(&self, name: &str) -> Result<&'static KnobSpec, KnobError> {
        let i = self.index_of(name)?;
        Ok(&self.specs[i])
    }

    /// The current value. Panics only on a name the scenario itself did not
    /// declare — a bug in the scenario, caught as a worker failure.
    pub fn get(&self, name: &str) -> f64 {
        match self.index_of(name) {
            Ok(i) => f64::from_bits(self.values[i].load(Ordering::Relaxed)),
            Err(e) => panic!("scenario bug: {e}"),
        }
    }

    pub fn get_at(&self, index: usize) -> f64 {
        f64::from_bits(self.values[index].load(Ordering::Relaxed))
    }

    /// Set a value, checking its range.
    pub fn set(&self, name: &str, value: f64) -> Result<(), KnobError> {
        let i = self.index_of(name)?;
        self.set_at(i, value)
    }

    pub fn set_at(&self, index: usize, value: f64) -> Result<(), KnobError> {
        let spec = &self.specs[index];
        let mut value = spec.check(value)?;
        if spec.kind != KnobKind::Float {
            value = value.round();
        }
        self.values[index].store(value.to_bits(), Ordering::Relaxed);
        self.generation.fetch_add(1, Ordering::Release);
        Ok(())
    }

    /// Parse `NAME=VALUE` as typed on the command line and apply it.
    pub fn set_from_arg(&self, arg: &str) -> Result<(), KnobError> {
        let (name, raw) = arg.split_once('=').ok_or_else(|| KnobError::BadValue {
            knob: "",
            value: arg.to_string(),
            expected: "KNOB=VALUE".to_string(),
        })?;
        let spec = self.spec(name.trim())?;
        let value = spec.parse(raw)?;
        self.set(spec.name, value)
    }

    pub fn generation(&self) -> u64 {
        self.generation.load(Ordering::Acquire)
    }

    /// (name, value) for every knob, in declaration order.
    pub fn values(&self) -> Vec<(&'static str, f64)> {
        self.specs
            .iter()
            .enumerate()
            .map(|(i, s)| (s.name, self.get_at(i)))
            .collect()
    }
}
