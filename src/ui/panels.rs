//! The panels around the timeline: the top bar (scenario, Start/Stop,
//! knobs, menus), the scenario list, the status line and metrics strip, the
//! timeline's header and the centre, plus the keyboard shortcuts and help.
//! Each returns [`Action`]s; the shell applies them once the frame is drawn.

use eframe::egui;
use egui::{Align, Color32, Layout, RichText, Ui};

use super::*;

impl HilosApp {
    /// Space, R, Ctrl+S, Ctrl+O, Ctrl+E and F1, unless a text field or
    /// another widget has the keyboard.
    pub(super) fn shortcuts(&self, ctx: &egui::Context, actions: &mut Vec<Action>) {
        use egui::{Key, Modifiers};
        if ctx.memory(|m| m.focused().is_some()) || ctx.egui_wants_keyboard_input() {
            return;
        }
        ctx.input_mut(|i| {
            if i.consume_key(Modifiers::NONE, Key::Space) {
                actions.push(if self.is_running() {
                    Action::Stop
                } else {
                    Action::Start
                });
            }
            if i.consume_key(Modifiers::NONE, Key::R) {
                actions.push(Action::Reset);
            }
            if i.consume_key(Modifiers::COMMAND, Key::S) {
                actions.push(Action::File(FileJob::SaveSetup));
            }
            if i.consume_key(Modifiers::COMMAND, Key::O) {
                actions.push(Action::File(FileJob::OpenSetup));
            }
            if i.consume_key(Modifiers::COMMAND, Key::E) {
                actions.push(Action::File(FileJob::ExportTrace));
            }
            if i.consume_key(Modifiers::NONE, Key::F1) {
                actions.push(Action::Help(!self.help));
            }
        });
    }

    pub(super) fn help_window(&mut self, ctx: &egui::Context) {
        let mut open = self.help;
        egui::Window::new(i18n::HELP.get(self.lang))
            .id(egui::Id::unique("help"))
            .open(&mut open)
            .collapsible(false)
            .resizable(false)
            .show(ctx, |ui| {
                for line in i18n::HELP_TEXT.get(self.lang).lines() {
                    ui.label(line);
                }
            });
        self.help = open;
    }

    pub(super) fn top_bar(&mut self, ui: &mut Ui, actions: &mut Vec<Action>) {
        let lang = self.lang;
        ui.horizontal(|ui| {
            ui.heading(RichText::new(i18n::APP_NAME.get(lang)).strong());
            ui.label(RichText::new(i18n::SUBTITLE.get(lang)).weak());
            ui.separator();
            ui.menu_button(i18n::FILE.get(lang), |ui| {
                for (job, hint) in FileJob::ALL.iter().zip(i18n::FILE_HINTS) {
                    let mut button = egui::Button::new(job.label().get(lang));
                    if let Some(keys) = job.shortcut() {
                        button = button.shortcut_text(keys);
                    }
                    if ui.add(button).on_hover_text(hint.get(lang)).clicked() {
                        actions.push(Action::File(*job));
                        ui.close();
                    }
                }
                ui.separator();
                if ui
                    .button(i18n::RESET_KNOBS.get(lang))
                    .on_hover_text(i18n::RESET_KNOBS_HINT.get(lang))
                    .clicked()
                {
                    actions.push(Action::ResetKnobs);
                    ui.close();
                }
            });
            ui.menu_button(i18n::VIEW.get(lang), |ui| {
                ui.label(RichText::new(i18n::THEME.get(lang)).small().weak());
                for theme in Theme::ALL {
                    if ui
                        .radio(self.theme == theme, theme.label().get(lang))
                        .clicked()
                    {
                        actions.push(Action::Theme(theme));
                        ui.close();
                    }
                }
                ui.separator();
                if ui
                    .add(egui::Button::new(i18n::HELP.get(lang)).shortcut_text("F1"))
                    .clicked()
                {
                    actions.push(Action::Help(true));
                    ui.close();
                }
            });
            ui.separator();

            let running = self.is_running();
            if ui
                .add_enabled(!running, egui::Button::new(i18n::START.get(lang)))
                .on_hover_text(i18n::START_HINT.get(lang))
                .clicked()
            {
                actions.push(Action::Start);
            }
            if ui
                .add_enabled(running, egui::Button::new(i18n::STOP.get(lang)))
                .on_hover_text(i18n::STOP_HINT.get(lang))
                .clicked()
            {
                actions.push(Action::Stop);
            }
            if ui
                .add_enabled(
                    self.controller.lab().is_some(),
                    egui::Button::new(i18n::RESET.get(lang)),
                )
                .on_hover_text(i18n::RESET_HINT.get(lang))
                .clicked()
            {
                actions.push(Action::Reset);
            }
            let mut step_mode = self.controller.step_mode();
            let why_not = self.controller.stepping_unsupported();
            let response = ui
                .add_enabled(
                    why_not.is_none() || step_mode,
                    egui::Checkbox::new(&mut step_mode, step::STEP_MODE.get(lang)),
                )
                .on_hover_text(step::STEP_MODE_HINT.get(lang))
                .on_disabled_hover_text(why_not.map_or("", |w| w.get(lang)));
            if response.changed() {
                actions.push(Action::Step(step::StepAction::Mode(step_mode)));
            }
            ui.separator();

            let label = ui.label(i18n::SPEED.get(lang));
            let mut speed = self.controller.speed();
            let response = ui
                .add(
                    egui::Slider::new(&mut speed, 0.1..=100.0)
                        .logarithmic(true)
                        .max_decimals(1)
                        .suffix("\u{d7}"),
                )
                .labelled_by(label.id)
                .on_hover_text(i18n::SPEED_HINT.get(lang));
            if response.changed() {
                actions.push(Action::SetSpeed(speed));
            }
            ui.separator();

            for l in Lang::ALL {
                if ui
                    .selectable_label(self.lang == l, i18n::lang_name(l))
                    .on_hover_text(i18n::LANG_HINT.get(lang))
                    .clicked()
                {
                    actions.push(Action::SetLang(l));
                }
            }

            ui.with_layout(Layout::right_to_left(Align::Center), |ui| {
                let ms = self.frames.last_cpu_ms();
                let color = if ms > 1000.0 / 60.0 {
                    Color32::from_rgb(240, 90, 80)
                } else {
                    ui.visuals().text_color()
                };
                ui.label(
                    RichText::new(format!("{} {ms:.1} ms", i18n::FRAME.get(lang)))
                        .monospace()
                        .color(color),
                )
                .on_hover_text(i18n::FRAME_HINT.get(lang));
                if let Some(m) = &self.message {
                    ui.label(RichText::new(m).color(Color32::from_rgb(240, 90, 80)));
                }
                self.files.status_line(ui, lang);
            });
        });
    }

    pub(super) fn scenario_list(&self, ui: &mut Ui, actions: &mut Vec<Action>) {
        let lang = self.lang;
        ui.set_min_width(ui.available_width());
        ui.add_space(4.0);
        ui.heading(i18n::SCENARIOS.get(lang));
        ui.add_space(4.0);
        let scenarios = self.controller.scenarios();
        let selected = self.controller.selected();
        egui::ScrollArea::vertical()
            .id_salt("scenario_list")
            .show(ui, |ui| {
                for group in Group::ALL {
                    let members: Vec<(usize, &Scenario)> = scenarios
                        .iter()
                        .enumerate()
                        .filter(|(_, s)| s.group == group)
                        .map(|(i, s)| (i, *s))
                        .collect();
                    if members.is_empty() {
                        continue;
                    }
                    ui.add_space(6.0);
                    ui.label(
                        RichText::new(group.title().get(lang).to_uppercase())
                            .small()
                            .strong()
                            .weak(),
                    );
                    for (i, s) in members {
                        let response = ui
                            .selectable_label(i == selected, s.title.get(lang))
                            .on_hover_text(s.lesson.get(lang));
                        if response.clicked() {
                            actions.push(Action::Select(i));
                        }
                    }
                }
            });
    }

    pub(super) fn status_line(&self, ui: &mut Ui) {
        let lang = self.lang;
        let phase = self.controller.phase();
        let (text, color) = match phase {
            Phase::Idle => (i18n::STATUS_IDLE, ui.visuals().weak_text_color()),
            Phase::Running => (i18n::STATUS_RUNNING, Color32::from_rgb(70, 190, 95)),
            Phase::Stopping => (i18n::STATUS_STOPPING, Color32::from_rgb(245, 170, 35)),
            Phase::Stopped => (i18n::STATUS_STOPPED, Color32::from_rgb(245, 170, 35)),
            Phase::Finished => (i18n::STATUS_FINISHED, Color32::from_rgb(150, 205, 255)),
        };
        // Wrapped: a long title in Spanish beside the thread counts must not
        // widen the centre under the knobs.
        ui.horizontal_wrapped(|ui| {
            ui.heading(self.scenario().title.get(lang));
            ui.label(RichText::new(text.get(lang)).color(color).strong());
            if self.quiet_drawing() {
                ui.label(RichText::new(i18n::QUIET_DRAWING.get(lang)).weak().small())
                    .on_hover_text(i18n::QUIET_DRAWING_HINT.get(lang));
            }
            if let Some(since) = self.controller.stopping_for() {
                ui.label(
                    RichText::new(format!("{} ms", since.as_millis()))
                        .monospace()
                        .weak(),
                );
            }
            if self.controller.lab().is_some() {
                ui.separator();
                ui.label(format!(
                    "{}: {}",
                    i18n::ALIVE_THREADS.get(lang),
                    self.view.alive
                ));
                if self.view.processes_ever > 0 {
                    ui.label(format!(
                        "{}: {}",
                        i18n::PROCESSES_ALIVE.get(lang),
                        self.view.processes_alive
                    ));
                }
                if self.view.threads_ever > self.view.alive as u64 {
                    ui.label(
                        RichText::new(format!(
                            "({} {})",
                            self.view.threads_ever,
                            i18n::THREADS_EVER.get(lang)
                        ))
                        .weak(),
                    );
                }
                if self.view.tasks_ever > 0 {
                    ui.separator();
                    ui.label(format!(
                        "{}: {}",
                        i18n::ALIVE_TASKS.get(lang),
                        self.view.tasks_alive
                    ));
                    ui.label(
                        RichText::new(format!(
                            "({} {})",
                            self.view.tasks_ever,
                            i18n::TASKS_EVER.get(lang)
                        ))
                        .weak(),
                    );
                }
            }
        });
    }

    pub(super) fn metrics_strip(&self, ui: &mut Ui) {
        let lang = self.lang;
        ui.horizontal_wrapped(|ui| {
            ui.spacing_mut().item_spacing.x = 18.0;
            let style = ui.style().clone();
            for m in &self.view.metrics {
                // One widget per metric, so the row wraps between metrics
                // (never inside one) and never grows wider than the panel.
                let mut job = egui::text::LayoutJob::default();
                for part in [
                    RichText::new(format!("{}: ", m.label.get(lang))).weak(),
                    RichText::new(crate::lab::knobs::format_number(m.value))
                        .strong()
                        .monospace(),
                ] {
                    part.append_to(
                        &mut job,
                        &style,
                        egui::FontSelection::Default,
                        Align::Center,
                    );
                }
                ui.add(egui::Label::new(job).wrap_mode(egui::TextWrapMode::Extend));
            }
        });
        for cycle in &self.view.deadlocks {
            let mut names: Vec<&str> = cycle.iter().map(|n| &**n).collect();
            if let Some(first) = cycle.first() {
                names.push(first);
            }
            ui.label(
                RichText::new(format!(
                    "{}: {}",
                    i18n::DEADLOCK.get(lang),
                    names.join(" \u{2192} ")
                ))
                // Monospace: its font has the arrow glyph.
                .monospace()
                .color(Color32::from_rgb(240, 70, 60))
                .strong(),
            );
        }
    }

    /// Title, follow/pause, zoom, fit to run, the followed width, the legend.
    pub(super) fn timeline_header(&self, ui: &mut Ui, actions: &mut Vec<Action>) {
        let lang = self.lang;
        let now = self.view.now;
        // Wrapped, never wider than the panel: the centre's scroll area
        // widens to its widest row, and a row wider than the panel would
        // push everything under the right panel.
        ui.horizontal_wrapped(|ui| {
            ui.label(RichText::new(i18n::TIMELINE.get(lang)).strong());
            ui.add_space(8.0);
            let (label, hint, follow) = if self.axis.follow {
                (i18n::PAUSE_VIEW, i18n::PAUSE_VIEW_HINT, false)
            } else {
                (i18n::FOLLOW, i18n::FOLLOW_HINT, true)
            };
            if ui
                .button(label.get(lang))
                .on_hover_text(hint.get(lang))
                .clicked()
            {
                actions.push(Action::Axis(AxisAction::Follow(follow)));
            }
            let window = self.axis.window(now);
            let centre = (window.start + window.end) / 2.0;
            if ui
                .button(i18n::ZOOM_IN.get(lang))
                .on_hover_text(i18n::ZOOM_HINT.get(lang))
                .clicked()
            {
                actions.push(Action::Axis(AxisAction::Zoom {
                    factor: 0.5,
                    at: centre,
                }));
            }
            if ui
                .button(i18n::ZOOM_OUT.get(lang))
                .on_hover_text(i18n::ZOOM_HINT.get(lang))
                .clicked()
            {
                actions.push(Action::Axis(AxisAction::Zoom {
                    factor: 2.0,
                    at: centre,
                }));
            }
            if ui
                .button(i18n::FIT.get(lang))
                .on_hover_text(i18n::FIT_HINT.get(lang))
                .clicked()
            {
                actions.push(Action::Axis(AxisAction::Fit));
            }
            // The label, the slider and its value stay together: a slider
            // is several widgets, which a wrapped row cannot move as one.
            // (In a wrapped row available_width() is the whole row's.)
            let left_in_row = ui.max_rect().right() - ui.cursor().left();
            if left_in_row < ui.spacing().slider_width + 190.0 {
                ui.end_row();
            } else {
                ui.add_space(12.0);
            }
            let label = ui.label(i18n::WINDOW.get(lang));
            let mut width = self.axis.follow_width;
            let response = ui
                .add(
                    egui::Slider::new(&mut width, 1.0..=120.0)
                        .logarithmic(true)
                        .max_decimals(0)
                        .suffix(" s"),
                )
                .on_hover_text(i18n::WINDOW_HINT.get(lang))
                .labelled_by(label.id);
            if response.changed() {
                actions.push(Action::Axis(AxisAction::FollowWidth(width)));
            }
        });
        // The window's range, then the legend, on their own row so they
        // never run into the buttons above in a longer language.
        let window = self.axis.window(now);
        ui.horizontal_wrapped(|ui| {
            ui.label(
                RichText::new(format!(
                    "{:.3} \u{2013} {:.3} s",
                    window.start.max(0.0),
                    window.end
                ))
                .monospace()
                .weak(),
            );
            ui.add_space(8.0);
            timeline::legend_items(ui, lang, self.view.tasks_ever > 0);
        });
    }

    pub(super) fn centre(&mut self, ui: &mut Ui, actions: &mut Vec<Action>) {
        let lang = self.lang;
        self.status_line(ui);
        self.metrics_strip(ui);
        if self.controller.step_mode() {
            ui.add_space(4.0);
            let view = self.controller.gate().map(|g| g.view());
            let can_break = self.controller.stepping_unsupported().is_none();
            step::show(
                ui,
                view.as_ref(),
                self.controller.mirror(),
                &self.break_it,
                can_break,
                lang,
                actions,
            );
        }
        if let Some(extra) = &mut self.extra {
            ui.add_space(4.0);
            let cx = ExtraCx {
                lang,
                view: &self.view,
                frames: &self.frames,
                knobs: self.controller.knobs(),
                speed: self.controller.speed(),
                running: self.controller.phase() == Phase::Running,
                record: self.controller.mirror(),
            };
            extra.show(ui, &cx, actions);
        }
        ui.add_space(6.0);
        self.timeline_header(ui, actions);

        match (self.view.window, self.controller.mirror()) {
            (Some(_), Some(record)) => {
                // Lanes get what the plots leave; the plots then share the rest.
                let plots = self.scenario().plots.len() as f32;
                let per_plot_chrome = 26.0;
                let frame_times_row = 30.0;
                let reserved = plots * (plots::PLOT_HEIGHT + per_plot_chrome) + frame_times_row;
                // Up to 6 lanes always show whole (the centre scrolls
                // instead); more than that share what the plots leave.
                let rows = self.view.rows.len() as f32;
                let lanes_h = (rows * timeline::LANE)
                    .min(ui.available_height() - reserved)
                    .max(rows.min(6.0) * timeline::LANE)
                    .clamp(timeline::LANE * 4.0, 600.0);
                let input = timeline::show(ui, &self.view, record, lang, lanes_h);
                self.track_width = input.track_width;
                actions.extend(input.axis.into_iter().map(Action::Axis));
                if let Some((role, collapsed)) = input.toggled {
                    actions.push(Action::ToggleGroup(role, collapsed));
                }
                ui.add_space(4.0);
                let plot_h = if plots > 0.0 {
                    ((ui.available_height() - frame_times_row) / plots - per_plot_chrome)
                        .clamp(plots::PLOT_HEIGHT, 260.0)
                } else {
                    plots::PLOT_HEIGHT
                };
                let axis = plots::scenario_plots(ui, &self.view, lang, plot_h);
                actions.extend(axis.into_iter().map(Action::Axis));
            }
            _ => {
                ui.add_space(20.0);
                ui.label(RichText::new(i18n::NO_THREADS.get(lang)).weak().italics());
                ui.add_space(20.0);
            }
        }

        if !self.extra.as_ref().is_some_and(|e| e.shows_frame_times()) {
            ui.add_space(6.0);
            egui::CollapsingHeader::new(i18n::FRAME_TIMES.get(lang))
                .id_salt("frame_times")
                .default_open(false)
                .show(ui, |ui| {
                    plots::frame_time_plot(ui, &self.frames, lang, 110.0);
                });
        }
    }
}
