//! The lab's life as a front end sees it: select a scenario, start it, stop
//! it, reset it, and keep a copy of what it recorded. Nothing here ever waits
//! on a worker: a stop is asked for at once and finished on a thread of its
//! own while the caller keeps drawing "stopping…". No egui here: the window
//! drives it, and tests and benches can drive it the same way.

use std::sync::Arc;
use std::time::{Duration, Instant};

use super::gate::{After, DEFAULT_MAX_STEPS, Gate};
use super::knobs::KnobError;
use super::record::Record;
use super::{Decision, GateSetup, Pick};
use super::{Knobs, Lab, LabOptions, StopReport, WorkerPriority};
use crate::scenario::Scenario;

/// Where the current run is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Phase {
    /// Nothing started (or reset).
    Idle,
    Running,
    /// Stop was asked for; the workers are leaving.
    Stopping,
    /// Stopped by the user; what it recorded stays.
    Stopped,
    /// The scenario ended by itself.
    Finished,
}

impl Phase {
    /// Over: stopped or finished (the record no longer grows).
    pub fn is_over(self) -> bool {
        matches!(self, Phase::Stopped | Phase::Finished)
    }
}

/// Something the front end should tell the user.
#[derive(Clone, Debug, PartialEq)]
pub enum Notice {
    /// Start failed, with the lab's reason.
    StartFailed(String),
    /// Stop gave up on this many threads (a bug; should never happen).
    ThreadsLeft(usize),
    /// A knob could not be set.
    Knob(String),
}

pub struct Controller {
    scenarios: &'static [&'static Scenario],
    selected: usize,
    /// One set of knobs per scenario; a lab gets a clone sharing the atomics.
    knobs: Vec<Knobs>,
    speed: f64,
    priority: WorkerPriority,
    lab: Option<Arc<Lab>>,
    phase: Phase,
    /// The front end's copy of the record, refreshed by [`Controller::sync`].
    mirror: Option<Record>,
    notice: Option<Notice>,
    stop_asked: Option<Instant>,
    /// How long the last [`Controller::sync`] waited for the record's lock,
    /// and then held it.
    last_sync_wait: Duration,
    last_sync_hold: Duration,
    /// The mirror holds the record as the finished stop left it: nothing
    /// more will change, so later syncs copy nothing.
    final_synced: bool,
    /// Start gated, the learner picking each step (see `lab::gate`).
    step_mode: bool,
    /// A schedule opened in step mode (a file, or "Break it"'s find): its
    /// steps are offered one by one, and Undo keeps them.
    opened: Vec<Decision>,
}

impl Controller {
    pub fn new(scenarios: &'static [&'static Scenario], priority: WorkerPriority) -> Controller {
        Controller {
            scenarios,
            selected: 0,
            knobs: scenarios.iter().map(|s| s.knobs()).collect(),
            speed: 1.0,
            priority,
            lab: None,
            phase: Phase::Idle,
            mirror: None,
            notice: None,
            stop_asked: None,
            last_sync_wait: Duration::ZERO,
            last_sync_hold: Duration::ZERO,
            final_synced: false,
            step_mode: false,
            opened: Vec::new(),
        }
    }

    // ---- Step mode

    /// Whether Start runs the scenario step by step.
    pub fn step_mode(&self) -> bool {
        self.step_mode
    }

    /// Switch step mode; the current run is reset (a run cannot change
    /// between free and gated).
    pub fn set_step_mode(&mut self, on: bool) {
        if on != self.step_mode {
            self.reset();
            self.step_mode = on;
            self.opened.clear();
        }
    }

    /// Why the selected scenario cannot run step by step, if it cannot.
    pub fn stepping_unsupported(&self) -> Option<crate::text::Text> {
        self.scenario().stepping.why_not()
    }

    /// The running lab's gate (step mode).
    pub fn gate(&self) -> Option<&Arc<Gate>> {
        self.lab.as_ref().and_then(|l| l.gate())
    }

    /// Open a schedule in step mode: start the selected scenario (with the
    /// knobs as they are now) and offer the schedule's steps one by one.
    pub fn open_schedule(&mut self, steps: Vec<Decision>) {
        self.step_mode = true;
        self.opened = steps;
        self.restart_at(Vec::new());
    }

    /// The opened schedule, if any.
    pub fn opened_schedule(&self) -> &[Decision] {
        &self.opened
    }

    /// Undo the last step: start again and replay every choice but the
    /// last (the clock's own moves at the end go too), then wait for the
    /// learner where they were one step earlier.
    pub fn undo(&mut self) {
        let Some(gate) = self.gate() else {
            return;
        };
        let mut steps = gate.decisions();
        while steps
            .last()
            .is_some_and(|d| d.pick == Pick::AdvanceClock && d.could_run.is_empty())
        {
            steps.pop();
        }
        if steps.pop().is_none() {
            return;
        }
        self.restart_at(steps);
    }

    /// Go back to just before step `n` (counting from 0): start again and
    /// replay the first `n` choices.
    pub fn go_to_step(&mut self, n: usize) {
        let Some(gate) = self.gate() else {
            return;
        };
        let mut steps = gate.decisions();
        steps.truncate(n);
        self.restart_at(steps);
    }

    /// Start the selected scenario in step mode, replay `steps` by
    /// themselves, then wait for the learner. While they are the start of
    /// the opened schedule, the rest of it is offered step by step.
    fn restart_at(&mut self, steps: Vec<Decision>) {
        let auto = steps.len();
        let script = if self.opened.len() >= auto && self.opened[..auto] == steps[..] {
            self.opened.clone()
        } else {
            steps
        };
        self.start_with(Some(GateSetup {
            script,
            auto,
            after: After::User,
            max_steps: DEFAULT_MAX_STEPS,
        }));
    }

    // ---- What there is to see

    pub fn scenarios(&self) -> &'static [&'static Scenario] {
        self.scenarios
    }

    pub fn selected(&self) -> usize {
        self.selected
    }

    pub fn scenario(&self) -> &'static Scenario {
        self.scenarios[self.selected]
    }

    /// The selected scenario's knobs (the running lab shares them).
    pub fn knobs(&self) -> &Knobs {
        &self.knobs[self.selected]
    }

    /// The knobs of scenario `index` (clamped to the list).
    pub fn knobs_at(&self, index: usize) -> &Knobs {
        &self.knobs[index.min(self.knobs.len() - 1)]
    }

    pub fn speed(&self) -> f64 {
        self.speed
    }

    pub fn phase(&self) -> Phase {
        self.phase
    }

    pub fn lab(&self) -> Option<&Lab> {
        self.lab.as_deref()
    }

    /// The copy of the record the front end draws; see [`Controller::sync`].
    pub fn mirror(&self) -> Option<&Record> {
        self.mirror.as_ref()
    }

    pub fn notice(&self) -> Option<&Notice> {
        self.notice.as_ref()
    }

    pub fn clear_notice(&mut self) {
        self.notice = None;
    }

    /// How long the last sync held the recorder's lock.
    pub fn last_sync_hold(&self) -> Duration {
        self.last_sync_hold
    }

    /// How long the last sync waited for the recorder's lock.
    pub fn last_sync_wait(&self) -> Duration {
        self.last_sync_wait
    }

    /// Since Stop was asked for, while it is under way.
    pub fn stopping_for(&self) -> Option<Duration> {
        self.stop_asked
            .filter(|_| self.phase == Phase::Stopping)
            .map(|t| t.elapsed())
    }

    // ---- What the user does

    /// Show another scenario: the current run is reset.
    pub fn select(&mut self, index: usize) {
        if index == self.selected || index >= self.scenarios.len() {
            return;
        }
        self.reset();
        self.selected = index;
        self.opened.clear();
    }

    /// Select by id; false for an unknown id.
    pub fn select_id(&mut self, id: &str) -> bool {
        match self.scenarios.iter().position(|s| s.id == id) {
            Some(i) => {
                self.select(i);
                true
            }
            None => false,
        }
    }

    /// Start the selected scenario on a fresh lab (the old one is reset).
    pub fn start(&mut self) {
        let gate = (self.step_mode && self.stepping_unsupported().is_none()).then(|| {
            let script = self.opened.clone();
            GateSetup {
                script,
                ..GateSetup::step()
            }
        });
        self.start_with(gate);
    }

    fn start_with(&mut self, gate: Option<GateSetup>) {
        self.reset();
        let lab = Lab::new(
            LabOptions {
                speed: self.speed,
                priority: self.priority,
                gate,
                ..LabOptions::default()
            },
            self.knobs[self.selected].clone(),
        );
        match lab.start_main(self.scenario().body) {
            Ok(_) => {
                self.lab = Some(Arc::new(lab));
                self.phase = Phase::Running;
            }
            Err(e) => {
                self.notice = Some(Notice::StartFailed(e.to_string()));
                finish_in_background(Arc::new(lab));
            }
        }
    }

    /// Ask the run to stop and return at once; the phase is `Stopping` until
    /// every worker has left (see [`Controller::poll`]).
    pub fn stop(&mut self) {
        if self.phase != Phase::Running {
            return;
        }
        if let Some(lab) = &self.lab {
            // The flag now; waking every worker (O(threads)) happens on the
            // stopping thread, never on the caller's.
            lab.signal_stop();
            finish_in_background(lab.clone());
            self.phase = Phase::Stopping;
            self.stop_asked = Some(Instant::now());
        }
    }

    /// Forget the run; it is stopped in the background if it still runs.
    pub fn reset(&mut self) {
        // Freeing a long run's record (and our copy of it) takes
        // milliseconds: not on the caller's thread.
        let mirror = self.mirror.take();
        if let Some(lab) = self.lab.take() {
            if !lab.is_stopped() {
                lab.signal_stop();
                finish_in_background(lab.clone());
            }
            drop_in_background((lab, mirror));
        }
        self.phase = Phase::Idle;
        self.notice = None;
        self.stop_asked = None;
        self.final_synced = false;
    }

    /// Write a knob: into the running lab (which logs the change) and into
    /// the knobs the next Start uses (they are the same atomics).
    pub fn set_knob(&mut self, index: usize, value: f64) {
        let knobs = &self.knobs[self.selected];
        let Some(spec) = knobs.specs().get(index) else {
            return;
        };
        let result = match &self.lab {
            Some(lab) if self.phase == Phase::Running => lab.set_knob(spec.name, value),
            _ => knobs.set_at(index, value),
        };
        if let Err(e) = result {
            self.notice = Some(Notice::Knob(e.to_string()));
        }
    }

    /// `--set NAME=VALUE` for the selected scenario.
    pub fn set_knob_arg(&mut self, arg: &str) -> Result<(), KnobError> {
        self.knobs[self.selected].set_from_arg(arg)
    }

    pub fn set_speed(&mut self, speed: f64) {
        self.speed = speed;
        if let Some(lab) = &self.lab
            && self.phase == Phase::Running
        {
            lab.set_speed(speed);
        }
    }

    // ---- Once a frame

    /// Notice a stop that finished, or a scenario that ended by itself.
    pub fn poll(&mut self) {
        let Some(lab) = &self.lab else {
            return;
        };
        match self.phase {
            Phase::Stopping if lab.is_stopped() => {
                self.phase = Phase::Stopped;
                if let Some(r) = lab.stop_report()
                    && r.threads_left > 0
                {
                    self.notice = Some(Notice::ThreadsLeft(r.threads_left));
                }
            }
            Phase::Running if lab.is_finished() => {
                // Every thread has ended: only the recorder is left to close.
                finish_in_background(lab.clone());
                self.phase = Phase::Finished;
            }
            _ => {}
        }
    }

    /// Copy what the recorder added since the last call into the mirror,
    /// holding its lock only for the copy. Returns the mirror.
    pub fn sync(&mut self) -> Option<&Record> {
        let lab = self.lab.as_ref()?;
        if self.final_synced {
            return self.mirror.as_ref();
        }
        // Read before the copy: a stop that ends during it is seen next time.
        let stopped = lab.is_stopped();
        let t0 = Instant::now();
        {
            let record = lab.record().lock();
            let t1 = Instant::now();
            self.last_sync_wait = t1 - t0;
            match &mut self.mirror {
                Some(mirror) => mirror.sync_from(&record),
                None => self.mirror = Some(record.clone()),
            }
            self.last_sync_hold = t1.elapsed();
        }
        self.final_synced = stopped;
        self.mirror.as_ref()
    }

    /// A report of the last stop, once it is over.
    pub fn stop_report(&self) -> Option<&StopReport> {
        self.lab.as_ref().and_then(|l| l.stop_report())
    }
}

impl Drop for Controller {
    fn drop(&mut self) {
        // Closing the window: stop the run here, so no worker outlives it.
        if let Some(lab) = self.lab.take() {
            lab.stop();
        }
    }
}

/// Finish stopping a lab on a thread of its own (the lab's stop waits for its
/// workers and its recorder); the lab is dropped there too.
fn finish_in_background(lab: Arc<Lab>) {
    let spawned = std::thread::Builder::new()
        .name("hilos-stop".into())
        .spawn({
            let lab = lab.clone();
            move || {
                lab.stop();
            }
        });
    if spawned.is_err() {
        // No thread to spare: stop here rather than leave workers running.
        lab.stop();
    }
}

fn drop_in_background<T: Send + 'static>(what: T) {
    let _ = std::thread::Builder::new()
        .name("hilos-drop".into())
        .spawn(move || drop(what));
}
