//! frozen-ui's own controls: the same slow loop run on the UI thread (which
//! really blocks this window's frame loop, for at most [`MAX_FREEZE`]) or on
//! a worker (which does not). Start does what the "ui_thread" knob says.

use eframe::egui;
use std::time::{Duration, Instant};

use egui::{Color32, RichText, Ui, vec2};

use super::scenario_view::{ExtraCx, ScenarioExtra};
use super::view::View;
use super::{Action, i18n, plots};
use crate::lab::Knobs;
use crate::lab::controller::Controller;
use crate::scenarios::frozen_ui::sleep_loop;

/// The longest the window freezes itself on purpose, whatever the knobs say.
pub const MAX_FREEZE: Duration = Duration::from_secs(10);

const RUN_ON_UI: u32 = 1;
const RUN_ON_WORKER: u32 = 2;

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum RunMode {
    UiThread,
    Worker,
}

#[derive(Default)]
pub struct FrozenExtra {
    mode: Option<RunMode>,
    /// Steps done by the last run on the UI thread.
    ui_progress: usize,
    steps: usize,
    /// The run on the UI thread stopped at [`MAX_FREEZE`].
    capped: bool,
    /// The longest frame since the last run began, in ms.
    longest_ms: f32,
    /// Whether frames still belong to the current run.
    tracking: bool,
    /// A run on the UI thread to do at the end of this frame: (steps, sleep per step in s).
    pending: Option<(usize, f64)>,
}

fn knob(knobs: &Knobs, name: &str) -> Option<f64> {
    knobs.index_of(name).ok().map(|i| knobs.get_at(i))
}

/// How long a run on the UI thread would block: steps × sleep ÷ speed, capped.
fn freeze_for(knobs: &Knobs, speed: f64) -> (Duration, bool) {
    let steps = knob(knobs, "steps").unwrap_or(0.0).max(0.0);
    let sleep = knob(knobs, "sleep").unwrap_or(0.0).max(0.0);
    let total = Duration::try_from_secs_f64(steps * sleep / speed.max(1e-3)).unwrap_or(MAX_FREEZE);
    (total.min(MAX_FREEZE), total > MAX_FREEZE)
}

impl FrozenExtra {
    fn run_on_ui(&mut self, controller: &mut Controller) {
        controller.reset();
        let knobs = controller.knobs().clone();
        if let Ok(i) = knobs.index_of("ui_thread") {
            controller.set_knob(i, 1.0);
        }
        let steps = knob(&knobs, "steps").unwrap_or(20.0).max(0.0) as usize;
        let sleep = knob(&knobs, "sleep").unwrap_or(0.1);
        *self = FrozenExtra {
            mode: Some(RunMode::UiThread),
            steps,
            tracking: true,
            pending: Some((steps, sleep)),
            ..FrozenExtra::default()
        };
    }

    fn run_on_worker(&mut self, controller: &mut Controller) {
        let knobs = controller.knobs().clone();
        controller.reset();
        if let Ok(i) = knobs.index_of("ui_thread") {
            controller.set_knob(i, 0.0);
        }
        controller.start();
        let steps = knob(&knobs, "steps").unwrap_or(20.0).max(0.0) as usize;
        *self = FrozenExtra {
            mode: Some(RunMode::Worker),
            steps,
            tracking: controller.phase() == crate::lab::controller::Phase::Running,
            ..FrozenExtra::default()
        };
    }
}

impl ScenarioExtra for FrozenExtra {
    fn show(&mut self, ui: &mut Ui, cx: &ExtraCx, actions: &mut Vec<Action>) {
        let lang = cx.lang;
        ui.horizontal(|ui| {
            let big = vec2(250.0, 40.0);
            if ui
                .add(
                    egui::Button::new(RichText::new(i18n::RUN_ON_UI.get(lang)).size(15.0))
                        .min_size(big),
                )
                .on_hover_text(i18n::RUN_ON_UI_HINT.get(lang))
                .clicked()
            {
                actions.push(Action::Extra(RUN_ON_UI));
            }
            if ui
                .add(
                    egui::Button::new(RichText::new(i18n::RUN_ON_WORKER.get(lang)).size(15.0))
                        .min_size(big),
                )
                .on_hover_text(i18n::RUN_ON_WORKER_HINT.get(lang))
                .clicked()
            {
                actions.push(Action::Extra(RUN_ON_WORKER));
            }
            ui.add_space(12.0);
            ui.add(egui::Spinner::new().size(30.0));
        });
        let (done, steps) = self.progress(cx.view, cx.knobs).unwrap_or((0, 0));
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
        if self.mode.is_some() {
            let longest = self.longest_ms;
            let color = if longest > 100.0 {
                Color32::from_rgb(240, 90, 80)
            } else {
                Color32::from_rgb(70, 190, 95)
            };
            ui.horizontal(|ui| {
                ui.label(
                    RichText::new(format!(
                        "{}: {longest:.0} ms",
                        i18n::LONGEST_FRAME.get(lang)
                    ))
                    .strong()
                    .color(color),
                );
                if self.capped {
                    ui.label(
                        RichText::new(i18n::FREEZE_CAPPED.get(lang))
                            .small()
                            .color(color),
                    );
                }
            });
        }
        ui.label(RichText::new(i18n::FRAME_TIMES.get(lang)).strong());
        plots::frame_time_plot(ui, cx.frames, lang, 110.0);
    }

    fn knob_note(&self, knob: &str, cx: &ExtraCx) -> Option<String> {
        if knob != "ui_thread" {
            return None;
        }
        let (freeze, capped) = freeze_for(cx.knobs, cx.speed);
        let cap = if capped {
            format!(" {}", i18n::FREEZE_AT_MOST.get(cx.lang))
        } else {
            String::new()
        };
        Some(format!(
            "{} {:.1} s{cap}",
            i18n::FREEZE_NOTE.get(cx.lang),
            freeze.as_secs_f64()
        ))
    }

    fn start(&mut self, controller: &mut Controller) -> bool {
        // In the window, Start does for real what the knob says: with
        // "ui_thread" on, the loop runs on this window's own thread.
        let on_ui = knob(controller.knobs(), "ui_thread").unwrap_or(0.0) >= 0.5;
        if on_ui {
            self.run_on_ui(controller);
        } else {
            self.run_on_worker(controller);
        }
        true
    }

    fn act(&mut self, code: u32, controller: &mut Controller) {
        match code {
            RUN_ON_UI => self.run_on_ui(controller),
            RUN_ON_WORKER => self.run_on_worker(controller),
            _ => {}
        }
    }

    fn reset(&mut self) {
        *self = FrozenExtra::default();
    }

    /// Do the pending run on the UI thread: this blocks the frame, on purpose,
    /// for at most [`MAX_FREEZE`].
    fn end_frame(&mut self, speed: f64) -> bool {
        let Some((steps, sleep)) = self.pending.take() else {
            return false;
        };
        let per_step = Duration::try_from_secs_f64(sleep / speed.max(1e-3))
            .unwrap_or(MAX_FREEZE)
            .min(MAX_FREEZE);
        let deadline = Instant::now() + MAX_FREEZE;
        let mut done = 0;
        let mut capped = false;
        sleep_loop(steps, per_step, |i| {
            done = i;
            // Stop before a step that would cross the limit.
            if Instant::now() + per_step > deadline && i < steps {
                capped = true;
            }
            !capped
        });
        self.ui_progress = done;
        self.capped = capped;
        true
    }

    fn after_frame(&mut self, cpu_ms: f32, running: bool, blocked: bool) {
        if !self.tracking {
            return;
        }
        self.longest_ms = self.longest_ms.max(cpu_ms);
        let over = match self.mode {
            Some(RunMode::UiThread) => blocked,
            Some(RunMode::Worker) => !running,
            None => true,
        };
        if over {
            self.tracking = false;
        }
    }

    fn animating(&self) -> bool {
        // The spinner and the frame-time plot move all the time.
        true
    }

    fn progress(&self, view: &View, knobs: &Knobs) -> Option<(usize, usize)> {
        let knob_steps = knob(knobs, "steps").unwrap_or(0.0) as usize;
        Some(match self.mode {
            Some(RunMode::UiThread) => (self.ui_progress, self.steps),
            Some(RunMode::Worker) | None => {
                let done = view.progress.unwrap_or(0).max(0) as usize;
                (done, knob_steps.max(done))
            }
        })
    }

    fn longest_frame_ms(&self) -> Option<f32> {
        Some(self.longest_ms)
    }

    fn shows_frame_times(&self) -> bool {
        true
    }
}
