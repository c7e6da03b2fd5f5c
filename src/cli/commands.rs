//! Carrying a plan out: `hilos run` (and its `--replay`, `--python`,
//! `--check`), `hilos explore`.

use super::*;
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
