//! The right panel: the scenario's knobs as sliders, its lesson and
//! explanation, and the equivalent Python program for the current values.

use eframe::egui;
use std::time::{Duration, Instant};

use egui::{Color32, RichText, Ui};

use super::scenario_view::ExtraCx;
use super::{Action, HilosApp, i18n};
use crate::lab::KnobKind;

impl HilosApp {
    pub(super) fn side_panel(&mut self, ui: &mut Ui, actions: &mut Vec<Action>) {
        egui::ScrollArea::vertical()
            .id_salt("side_panel")
            .auto_shrink([false, false])
            .show(ui, |ui| {
                ui.add_space(4.0);
                self.lesson(ui);
                ui.add_space(6.0);
                ui.separator();
                self.knob_widgets(ui, actions);
                ui.separator();
                // The program first: it changes as the knobs move.
                self.python_program(ui, actions);
                ui.add_space(4.0);
                self.explanation(ui);
            });
    }

    fn lesson(&self, ui: &mut Ui) {
        let lang = self.lang;
        ui.label(RichText::new(i18n::LESSON.get(lang)).small().weak());
        ui.label(RichText::new(self.scenario().lesson.get(lang)).strong());
    }

    fn knob_widgets(&mut self, ui: &mut Ui, actions: &mut Vec<Action>) {
        let lang = self.lang;
        ui.label(RichText::new(i18n::KNOBS.get(lang)).heading().size(16.0));
        let knobs = self.controller.knobs().clone();
        if knobs.specs().is_empty() {
            ui.label(RichText::new(i18n::NO_KNOBS.get(lang)).weak());
        }
        for (i, spec) in knobs.specs().iter().enumerate() {
            ui.add_space(4.0);
            let value = knobs.get_at(i);
            let label = spec.label.get(lang);
            let changed = match spec.kind {
                KnobKind::Bool => {
                    let mut on = value >= 0.5;
                    ui.checkbox(&mut on, label)
                        .changed()
                        .then_some(if on { 1.0 } else { 0.0 })
                }
                KnobKind::Choice => {
                    // Every option in view at once, as radio buttons.
                    ui.label(label);
                    let mut picked = None;
                    for (k, choice) in spec.choices.iter().enumerate() {
                        let on = value.round() as usize == k;
                        // As the sliders' hints: the name to set it by, the default.
                        let hint = format!(
                            "{}={} ({} {})",
                            spec.name,
                            choice.name,
                            i18n::DEFAULT.get(lang),
                            spec.format(spec.default)
                        );
                        let response = ui.radio(on, choice.label.get(lang)).on_hover_text(hint);
                        if response.clicked() && !on {
                            picked = Some(k as f64);
                        }
                    }
                    picked
                }
                KnobKind::Int | KnobKind::Float => {
                    let name = ui.label(label);
                    let mut v = value;
                    ui.spacing_mut().slider_width = (ui.available_width() - 110.0).max(80.0);
                    let unit = if spec.unit.is_empty() {
                        String::new()
                    } else {
                        format!(" {}", i18n::unit(spec.unit, lang, value))
                    };
                    let hint = format!(
                        "{}: {} \u{2013} {}{unit} ({} {})",
                        spec.name,
                        spec.format(spec.min),
                        spec.format(spec.max),
                        i18n::DEFAULT.get(lang),
                        spec.format(spec.default)
                    );
                    let mut slider = egui::Slider::new(&mut v, spec.min..=spec.max).suffix(unit);
                    slider = if spec.kind == KnobKind::Int {
                        slider.integer()
                    } else {
                        slider
                            .logarithmic(spec.logarithmic)
                            .smallest_positive(spec.min.max(1e-6))
                            .max_decimals(3)
                    };
                    let response = ui.add(slider).labelled_by(name.id).on_hover_text(hint);
                    response.changed().then_some(v)
                }
            };
            if let Some(v) = changed {
                actions.push(Action::SetKnob(i, v));
            }
            if let Some(why) = spec.not_live {
                ui.label(RichText::new(why.get(lang)).small().weak());
            }
            if let Some(extra) = &self.extra {
                let cx = ExtraCx {
                    lang,
                    view: &self.view,
                    frames: &self.frames,
                    knobs: &knobs,
                    speed: self.controller.speed(),
                    running: self.is_running(),
                    record: self.controller.mirror(),
                };
                if let Some(note) = extra.knob_note(spec.name, &cx) {
                    ui.label(
                        RichText::new(note)
                            .small()
                            .color(Color32::from_rgb(245, 170, 35)),
                    );
                }
            }
        }
        ui.add_space(4.0);
    }

    fn explanation(&self, ui: &mut Ui) {
        let lang = self.lang;
        egui::CollapsingHeader::new(RichText::new(i18n::EXPLANATION.get(lang)).strong())
            .id_salt("explanation")
            .default_open(true)
            .show(ui, |ui| {
                for paragraph in self.scenario().explanation.get(lang).split("\n\n") {
                    ui.label(paragraph);
                    ui.add_space(4.0);
                }
            });
    }

    fn python_program(&mut self, ui: &mut Ui, actions: &mut Vec<Action>) {
        let lang = self.lang;
        let code = (self.scenario().python)(self.controller.knobs());
        let mut copy = false;
        egui::CollapsingHeader::new(RichText::new(i18n::PYTHON.get(lang)).strong())
            .id_salt("python")
            .default_open(true)
            .show(ui, |ui| {
                ui.horizontal(|ui| {
                    copy = ui
                        .button(i18n::COPY.get(lang))
                        .on_hover_text(i18n::COPY_HINT.get(lang))
                        .clicked();
                    if self
                        .copied_at
                        .is_some_and(|t| t.elapsed() < Duration::from_secs(2))
                    {
                        ui.label(
                            RichText::new(i18n::COPIED.get(lang))
                                .small()
                                .color(Color32::from_rgb(70, 190, 95)),
                        );
                    }
                });
                // Run it, and the comparison, above the code so they stay in view.
                self.python.controls(ui, lang, actions);
                ui.add_space(4.0);
                egui::Frame::new()
                    .fill(ui.visuals().extreme_bg_color)
                    .inner_margin(8.0)
                    .corner_radius(4.0)
                    .show(ui, |ui| {
                        ui.set_min_width(ui.available_width());
                        egui::ScrollArea::both()
                            .id_salt("python_code")
                            .max_height(320.0)
                            .show(ui, |ui| {
                                ui.add(
                                    egui::Label::new(RichText::new(&code).monospace().size(11.5))
                                        .wrap_mode(egui::TextWrapMode::Extend),
                                );
                            });
                    });
            });
        if copy {
            ui.ctx().copy_text(code);
            self.copied_at = Some(Instant::now());
        }
    }
}
