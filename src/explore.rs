//! Schedules and "Break it": running a scenario gated (see `lab::gate`) to
//! the end, under a schedule file (replay) or a seeded search (explore), and
//! the schedule files themselves. JSON, versioned, like setup files:
//!
//! ```json
//! {
//!   "hilos_schedule": 1,
//!   "scenario": "race-condition",
//!   "knobs": { "threads": 2, "updates": 1, "pause": 0.1, "lock": false },
//!   "seed": 1,
//!   "policy": "random walk",
//!   "broken": "1 update(s) lost: database.value ended at 1 of 2",
//!   "steps": [
//!     { "pick": "thread", "id": 0, "name": "MainThread", "op": "MainThread.run()", "could_run": [0] },
//!     { "pick": "advance_clock", "op": "0.1 s", "could_run": [], "clock": true }
//!   ]
//! }
//! ```

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use crate::lab::gate::{After, DEFAULT_MAX_STEPS, Policy};
use crate::lab::probe::WorkerId;
use crate::lab::{Decision, GateEnd, GateSetup, Knobs, Lab, LabOptions, Record, State, StopReport};
use crate::scenarios::Scenario;

/// The version this build writes and reads.
pub const VERSION: u32 = 1;

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct File {
    hilos_schedule: u32,
    scenario: String,
    #[serde(default)]
    knobs: BTreeMap<String, serde_json::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    seed: Option<u64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    policy: Option<String>,
    /// What this schedule breaks, in the words of the run that found it.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    broken: Option<String>,
    steps: Vec<Decision>,
}

/// A schedule: the choices of one gated run, for the scenario and knobs it ran.
#[derive(Clone)]
pub struct Schedule {
    pub scenario: &'static Scenario,
    /// (knob name, value) for every knob of the run.
    pub knobs: Vec<(&'static str, f64)>,
    pub seed: Option<u64>,
    pub policy: Option<String>,
    pub broken: Option<String>,
    pub steps: Vec<Decision>,
}

impl std::fmt::Debug for Schedule {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Schedule")
            .field("scenario", &self.scenario.id)
            .field("knobs", &self.knobs)
            .field("steps", &self.steps.len())
            .finish()
    }
}

impl Schedule {
    /// The knobs the schedule ran with.
    pub fn knobs(&self) -> Knobs {
        crate::setup::knobs_with(self.scenario, &self.knobs)
    }

    pub fn to_json(&self) -> String {
        let file = File {
            hilos_schedule: VERSION,
            scenario: self.scenario.id.to_string(),
            knobs: crate::setup::knobs_to_json(&self.knobs()),
            seed: self.seed,
            policy: self.policy.clone(),
            broken: self.broken.clone(),
            steps: self.steps.clone(),
        };
        serde_json::to_string_pretty(&file).unwrap_or_default() + "\n"
    }
}

/// Read a schedule from its text; `what` names it in messages (a path).
pub fn parse(text: &str, what: &str) -> Result<Schedule, String> {
    let value = crate::setup::versioned(text, what, "schedule", "hilos_schedule", VERSION)?;
    let file: File = serde_json::from_value(value).map_err(|e| format!("{what}: {e}"))?;
    let scenario = crate::setup::scenario_named(&file.scenario, what)?;
    let knobs = crate::setup::knobs_from_json(scenario, &file.knobs, what)?;
    Ok(Schedule {
        scenario,
        knobs,
        seed: file.seed,
        policy: file.policy,
        broken: file.broken,
        steps: file.steps,
    })
}

/// Read a schedule file.
pub fn read(path: &Path) -> Result<Schedule, String> {
    let (text, what) = crate::setup::read_text(path, "schedule")?;
    parse(&text, &what)
}

/// Write a schedule file.
pub fn write(path: &Path, schedule: &Schedule) -> Result<(), String> {
    std::fs::write(path, schedule.to_json())
        .map_err(|e| format!("could not write '{}': {e}", path.display()))
}

/// The invariant a gated run of `scenario` checks, or why it cannot run gated.
fn invariant_of(scenario: &Scenario) -> Result<crate::scenarios::Invariant, String> {
    scenario.stepping.invariant().ok_or_else(|| {
        format!(
            "{} does not run step by step: {}",
            scenario.id,
            unsupported(scenario).unwrap_or_default()
        )
    })
}

/// Why a scenario cannot run gated, if it cannot.
pub fn unsupported(scenario: &Scenario) -> Option<&'static str> {
    scenario.stepping.why_not().map(|why| why.en)
}

/// One gated run, ended.
pub struct GatedRun {
    /// How the gate saw it end (`None`: it did not settle in time).
    pub end: Option<GateEnd>,
    pub steps: Vec<Decision>,
    /// How the lesson's invariant was broken, if it was.
    pub broken: Option<String>,
    pub stop: StopReport,
    /// A copy of the record, taken after the stop.
    pub record: Record,
    /// The lab, stopped.
    pub lab: Lab,
}

impl GatedRun {
    /// What a replay must reproduce: each thread's states in order, and
    /// the log's lines in order (no times).
    pub fn fingerprint(&self) -> (Vec<(WorkerId, Vec<State>)>, Vec<String>) {
        let states = self
            .record
            .threads()
            .map(|t| {
                let mut states: Vec<State> = Vec::new();
                for s in t.spans_from(0.0) {
                    if states.last() != Some(&s.state) {
                        states.push(s.state);
                    }
                }
                if states.last() != Some(&t.state) {
                    states.push(t.state);
                }
                (t.id, states)
            })
            .collect();
        let log = self.record.log.iter().map(|l| l.text.clone()).collect();
        (states, log)
    }
}

/// Run `scenario` gated from start to end (a replay or an explore run: not
/// step mode, which waits for a learner). Gives up after `timeout` of real time.
pub fn run_gated(
    scenario: &'static Scenario,
    knobs: Knobs,
    setup: GateSetup,
    timeout: Duration,
) -> Result<GatedRun, String> {
    let invariant = invariant_of(scenario)?;
    let lab = Lab::new(
        LabOptions {
            gate: Some(setup),
            ..LabOptions::default()
        },
        knobs.clone(),
    );
    lab.start_main(scenario.body)
        .map_err(|e| format!("could not start the scenario: {e}"))?;
    let Some(gate) = lab.gate().cloned() else {
        return Err("the lab has no gate".into());
    };
    gate.wait_settled(timeout);
    let end = gate.end();
    // Finished: the last thread has passed its exit step, and Stop only
    // joins the OS threads; else Stop wakes the parked ones.
    let stop = lab.stop();
    let steps = gate.decisions();
    let record = lab.record().lock().clone();
    let broken = (invariant.broken)(&record, &knobs).or_else(|| match &end {
        Some(GateEnd::Deadlock { waiting }) => {
            let names: Vec<String> = waiting
                .iter()
                .map(|w| record.thread_name(*w).to_string())
                .collect();
            Some(format!(
                "no thread can run and no timeout is pending: {} wait for ever",
                names.join(", ")
            ))
        }
        _ => None,
    });
    Ok(GatedRun {
        end,
        steps,
        broken,
        stop,
        record,
        lab,
    })
}

/// Replay a schedule: its steps, checked one by one, and nothing after.
pub fn replay(schedule: &Schedule, timeout: Duration) -> Result<GatedRun, String> {
    let setup = GateSetup::replay(schedule.steps.clone());
    run_gated(schedule.scenario, schedule.knobs(), setup, timeout)
}

/// The seed of run `i` of a search seeded with `seed` (SplitMix64's mix).
fn run_seed(seed: u64, i: u64) -> u64 {
    let mut z = seed.wrapping_add(i.wrapping_mul(0x9E37_79B9_7F4A_7C15));
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// What "Break it" found.
#[derive(Clone, Debug, Serialize)]
pub struct ExploreReport {
    pub scenario: String,
    pub invariant: String,
    pub runs: usize,
    pub seed: u64,
    /// Runs that broke the invariant.
    pub broken_runs: usize,
    /// Runs that ended in a deadlock the gate saw (no thread could run).
    pub deadlocked_runs: usize,
    /// Runs that hit the step limit.
    pub step_limit_runs: usize,
    /// The first run that broke it (counting from 1), and how.
    pub first_broken_run: Option<usize>,
    pub first_broken: Option<String>,
    pub first_broken_steps: Option<usize>,
    /// Where the first failing schedule was saved.
    pub saved: Option<String>,
    /// Steps per run, on average.
    pub mean_steps: f64,
    pub seconds: f64,
    pub runs_per_second: f64,
    pub steps_per_second: f64,
    /// The knobs, as `--set` takes them.
    pub knobs: BTreeMap<String, serde_json::Value>,
}

/// The policy of run `i`: random walks and PCT, alternately. PCT's depth
/// goes 1, 2, 3 and its step count follows the runs seen so far.
fn policy_for(i: usize, seed: u64, mean_steps: f64) -> (Policy, String) {
    if i.is_multiple_of(2) {
        (Policy::RandomWalk { seed }, "random walk".into())
    } else {
        let depth = 1 + ((i / 2) % 3) as u32;
        let steps = mean_steps.round().clamp(4.0, 1e6) as u32;
        (
            Policy::Pct { seed, depth, steps },
            format!("PCT depth {depth}, {steps} steps"),
        )
    }
}

/// Search `runs` schedules of `scenario` (seeded by `seed`) for one that
/// breaks its invariant; `found` gets the first failing schedule.
pub fn explore(
    scenario: &'static Scenario,
    knobs: &Knobs,
    runs: usize,
    seed: u64,
    mut found: impl FnMut(&Schedule),
) -> Result<ExploreReport, String> {
    let invariant = invariant_of(scenario)?;
    let started = Instant::now();
    let mut report = ExploreReport {
        scenario: scenario.id.to_string(),
        invariant: invariant.holds.en.to_string(),
        runs,
        seed,
        broken_runs: 0,
        deadlocked_runs: 0,
        step_limit_runs: 0,
        first_broken_run: None,
        first_broken: None,
        first_broken_steps: None,
        saved: None,
        mean_steps: 0.0,
        seconds: 0.0,
        runs_per_second: 0.0,
        steps_per_second: 0.0,
        knobs: crate::setup::knobs_to_json(knobs),
    };
    let mut total_steps = 0usize;
    for i in 0..runs {
        let run_seed = run_seed(seed, i as u64);
        let mean = if i == 0 {
            50.0
        } else {
            total_steps as f64 / i as f64
        };
        let (policy, policy_name) = policy_for(i, run_seed, mean);
        let setup = GateSetup {
            script: Vec::new(),
            auto: 0,
            after: After::Explore(policy),
            max_steps: DEFAULT_MAX_STEPS,
        };
        let run = run_gated(scenario, knobs.clone(), setup, Duration::from_secs(60))?;
        total_steps += run.steps.len();
        match &run.end {
            Some(GateEnd::Deadlock { .. }) => report.deadlocked_runs += 1,
            Some(GateEnd::StepLimit { .. }) => report.step_limit_runs += 1,
            _ => {}
        }
        if let Some(how) = run.broken {
            report.broken_runs += 1;
            if report.first_broken.is_none() {
                report.first_broken_run = Some(i + 1);
                report.first_broken_steps = Some(run.steps.len());
                let schedule = Schedule {
                    scenario,
                    knobs: knobs.values(),
                    seed: Some(run_seed),
                    policy: Some(policy_name),
                    broken: Some(how.clone()),
                    steps: run.steps,
                };
                report.first_broken = Some(how);
                found(&schedule);
            }
        }
    }
    let seconds = started.elapsed().as_secs_f64();
    report.seconds = (seconds * 1000.0).round() / 1000.0;
    report.mean_steps = if runs == 0 {
        0.0
    } else {
        total_steps as f64 / runs as f64
    };
    if seconds > 0.0 {
        report.runs_per_second = (runs as f64 / seconds).round();
        report.steps_per_second = (total_steps as f64 / seconds).round();
    }
    Ok(report)
}
