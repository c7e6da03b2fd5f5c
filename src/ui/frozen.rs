//! frozen-ui's own controls: the same slow loop run on the UI thread (which
//! really blocks this window's frame loop) or on a worker (which does not).

use eframe::egui;
use std::time::Duration;

use egui::{Color32, RichText, Ui, vec2};

use super::view::View;
use super::{HilosApp, Status, i18n, plots};
use crate::lab::Knobs;
use crate::scenarios::frozen_ui::sleep_loop;

pub const ID: &str = "frozen-ui";

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum RunMode {
    UiThread,
    Worker,
}

#[derive(Default)]
pub struct Frozen {
    mode: Option<RunMode>,
    /// Steps done by the last run on the UI thread.
    ui_progress: usize,
    steps: usize,
    /// The longest frame since the last run began, in ms.
    pub longest_ms: f32,
    /// Whether frames still belong to the current run.
    tracking: bool,
    /// A run on the UI thread to do at the end of this frame: (steps, sleep per step in s).
    pending: Option<(usize, f64)>,
}

impl Frozen {
    pub fn reset(&mut self) {
        *self = Frozen::default();
    }

    /// (steps done, steps) of the last run: the UI thread's own count, or
    /// the lab's "progress" counter for a run on workers (also after Start).
    pub fn progress(&self, view: &View, knob_steps: usize) -> (usize, usize) {
        match self.mode {
            Some(RunMode::UiThread) => (self.ui_progress, self.steps),
            Some(RunMode::Worker) | None => {
                let done = view.progress.unwrap_or(0).max(0) as usize;
                let steps = knob_steps.max(done);
                (done, steps)
            }
        }
    }

    /// Do the pending run on the UI thread: this blocks the frame, on purpose.
    /// Returns whether it ran.
    pub fn run_pending_on_ui(&mut self, speed: f64) -> bool {
        let Some((steps, sleep)) = self.pending.take() else {
            return false;
        };
        let per_step = Duration::try_from_secs_f64(sleep / speed.max(1e-3))
            .unwrap_or(Duration::from_millis(100))
            .min(Duration::from_secs(10));
        let mut done = 0;
        sleep_loop(steps, per_step, |i| done = i);
        self.ui_progress = done;
        true
    }

    /// Note the frame's time in the current run.
    pub fn after_frame(&mut self, cpu_ms: f32, lab_running: bool, blocked: bool) {
        if !self.tracking {
            return;
        }
        self.longest_ms = self.longest_ms.max(cpu_ms);
        let over = match self.mode {
            Some(RunMode::UiThread) => blocked,
            Some(RunMode::Worker) => !lab_running,
            None => true,
        };
        if over {
            self.tracking = false;
        }
    }
}

fn knob(knobs: &Knobs, name: &str) -> Option<f64> {
    knobs.index_of(name).ok().map(|i| knobs.get_at(i))
}

impl HilosApp {
    /// (steps done, steps) for the progress bar.
    pub fn frozen_progress(&self) -> (usize, usize) {
        let knob_steps = knob(&self.knobs[self.selected], "steps").unwrap_or(0.0) as usize;
        self.frozen.progress(&self.view, knob_steps)
    }

    fn frozen_run_on_ui(&mut self) {
        self.reset();
        let knobs = self.knobs[self.selected].clone();
        if let Ok(i) = knobs.index_of("ui_thread") {
            self.set_knob(i, 1.0);
        }
        let steps = knob(&knobs, "steps").unwrap_or(20.0).max(0.0) as usize;
        let sleep = knob(&knobs, "sleep").unwrap_or(0.1);
        self.frozen = Frozen {
            mode: Some(RunMode::UiThread),
            ui_progress: 0,
            steps,
            longest_ms: 0.0,
            tracking: true,
            pending: Some((steps, sleep)),
        };
    }

    fn frozen_run_on_worker(&mut self) {
        let knobs = self.knobs[self.selected].clone();
        if let Ok(i) = knobs.index_of("ui_thread") {
            self.reset();
            self.set_knob(i, 0.0);
        }
        self.start();
        let steps = knob(&knobs, "steps").unwrap_or(20.0).max(0.0) as usize;
        self.frozen = Frozen {
            mode: Some(RunMode::Worker),
            ui_progress: 0,
            steps,
            longest_ms: 0.0,
            tracking: self.status == Status::Running,
            pending: None,
        };
    }

    pub(super) fn frozen_controls(&mut self, ui: &mut Ui) {
        let lang = self.lang;
        let mut on_ui = false;
        let mut on_worker = false;
        ui.horizontal(|ui| {
            let big = vec2(250.0, 40.0);
            on_ui = ui
                .add(
                    egui::Button::new(RichText::new(i18n::RUN_ON_UI.get(lang)).size(15.0))
                        .min_size(big),
                )
                .on_hover_text(i18n::RUN_ON_UI_HINT.get(lang))
                .clicked();
            on_worker = ui
                .add(
                    egui::Button::new(RichText::new(i18n::RUN_ON_WORKER.get(lang)).size(15.0))
                        .min_size(big),
                )
                .on_hover_text(i18n::RUN_ON_WORKER_HINT.get(lang))
                .clicked();
            ui.add_space(12.0);
            ui.add(egui::Spinner::new().size(30.0));
        });
        let (done, steps) = self.frozen_progress();
        let fraction = if steps > 0 {
            done as f32 / steps as f32
        } else {
            0.0
        };
        ui.add(
            egui::ProgressBar::new(fraction)
                .desired_height(22.0)
                .text(format!("{}: {done} / {steps}", i18n::PROGRESS.get(lang))),
        );
        if self.frozen.mode.is_some() {
            let longest = self.frozen.longest_ms;
            let color = if longest > 100.0 {
                Color32::from_rgb(240, 90, 80)
            } else {
                Color32::from_rgb(70, 190, 95)
            };
            ui.label(
                RichText::new(format!(
                    "{}: {longest:.0} ms",
                    i18n::LONGEST_FRAME.get(lang)
                ))
                .strong()
                .color(color),
            );
        }
        ui.label(RichText::new(i18n::FRAME_TIMES.get(lang)).strong());
        plots::frame_time_plot(ui, &self.frames, lang, 110.0);
        if on_ui {
            self.frozen_run_on_ui();
        }
        if on_worker {
            self.frozen_run_on_worker();
        }
    }
}
