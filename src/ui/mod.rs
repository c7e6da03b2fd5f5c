//! The window (egui only): draws what the lab records and drives the lab with
//! Start / Stop / Reset and the knobs. The UI thread only draws: workers and
//! the recorder run on their own threads, and the record is locked once a frame.

use eframe::egui;
mod frames;
mod frozen;
pub mod i18n;
mod log;
mod plots;
mod side;
mod timeline;
mod view;

use std::sync::PoisonError;
use std::time::{Duration, Instant};

use egui::{Align, Color32, Layout, RichText, Ui};

use crate::lab::text::Lang;
use crate::lab::{Knobs, Lab, LabOptions};
use crate::scenarios::{self, Group, Scenario};

use frames::FrameTimes;
use frozen::Frozen;
use view::{LogView, View};

/// What the command line can ask of the window at launch.
#[derive(Clone, Debug, Default)]
pub struct GuiOptions {
    /// Select this scenario (an id as `hilos list` shows it).
    pub scenario: Option<String>,
    /// Start it at once.
    pub start: bool,
    /// Knob settings for the selected scenario, as `NAME=VALUE`.
    pub set: Vec<String>,
}

/// Open the window.
pub fn run(lang: Lang) -> Result<(), String> {
    run_with(lang, GuiOptions::default())
}

/// Open the window with a scenario selected and maybe started.
pub fn run_with(lang: Lang, options: GuiOptions) -> Result<(), String> {
    if let Some(id) = &options.scenario
        && scenarios::find(id).is_none()
    {
        return Err(format!(
            "unknown scenario '{id}'; valid scenarios: {}",
            scenarios::ids().join(", ")
        ));
    }
    let native = eframe::NativeOptions {
        viewport: egui::ViewportBuilder::default()
            .with_title("Hilos")
            .with_inner_size([1400.0, 900.0])
            .with_min_inner_size([900.0, 600.0]),
        ..Default::default()
    };
    eframe::run_native(
        "Hilos",
        native,
        Box::new(move |cc| {
            let mut app = HilosApp::new(cc, lang);
            if let Some(id) = &options.scenario {
                app.select_id(id);
            }
            for set in &options.set {
                if let Err(e) = app.knobs().set_from_arg(set) {
                    app.message = Some(e.to_string());
                }
            }
            if options.start {
                app.start();
            }
            Ok(Box::new(app))
        }),
    )
    .map_err(|e| e.to_string())
}

/// Where the current lab is in its life.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Status {
    Idle,
    Running,
    Stopped,
    Finished,
}

pub struct HilosApp {
    lang: Lang,
    scenarios: &'static [&'static Scenario],
    selected: usize,
    /// One set of knobs per scenario; a lab gets a clone sharing the atomics.
    knobs: Vec<Knobs>,
    lab: Option<Lab>,
    status: Status,
    /// A problem to show in the top bar (start failed, stop overran…).
    message: Option<String>,
    speed: f64,
    window_seconds: f64,
    view: View,
    log: LogView,
    frames: FrameTimes,
    last_frame_start: Option<Instant>,
    /// Whether the last frame asked for another one at once (so the gap
    /// between frames is meaningful rather than idle time).
    animating: bool,
    /// Width in points of the timeline's time track in the last frame.
    track_width: f32,
    frozen: Frozen,
    copied_at: Option<Instant>,
}

impl HilosApp {
    pub fn new(cc: &eframe::CreationContext, lang: Lang) -> HilosApp {
        cc.egui_ctx.set_theme(egui::ThemePreference::Dark);
        let scenarios = scenarios::all();
        HilosApp {
            lang,
            scenarios,
            selected: 0,
            knobs: scenarios.iter().map(|s| s.knobs()).collect(),
            lab: None,
            status: Status::Idle,
            message: None,
            speed: 1.0,
            window_seconds: 10.0,
            view: View::default(),
            log: LogView::default(),
            frames: FrameTimes::default(),
            last_frame_start: None,
            animating: false,
            track_width: 800.0,
            frozen: Frozen::default(),
            copied_at: None,
        }
    }

    // ---- Accessors (for tests, benches and the command line)

    pub fn lab(&self) -> Option<&Lab> {
        self.lab.as_ref()
    }

    /// The selected scenario's id.
    pub fn selected(&self) -> &'static str {
        self.scenario().id
    }

    pub fn status(&self) -> Status {
        self.status
    }

    pub fn lang(&self) -> Lang {
        self.lang
    }

    /// The selected scenario's knobs (the running lab shares them).
    pub fn knobs(&self) -> &Knobs {
        &self.knobs[self.selected]
    }

    /// CPU time of the last frame's update, in ms.
    pub fn last_frame_ms(&self) -> f32 {
        self.frames.last_cpu_ms()
    }

    /// CPU time of the last frames (up to 300), oldest first, in ms.
    pub fn frame_times(&self) -> Vec<f32> {
        self.frames.cpu_ms().collect()
    }

    /// frozen-ui: the longest frame of the last run, in ms.
    pub fn longest_frame_ms(&self) -> f32 {
        self.frozen.longest_ms
    }

    pub fn message(&self) -> Option<&str> {
        self.message.as_deref()
    }

    fn scenario(&self) -> &'static Scenario {
        self.scenarios[self.selected]
    }

    fn is_running(&self) -> bool {
        self.status == Status::Running
    }

    // ---- Actions

    /// Select a scenario by id; unknown ids are ignored.
    pub fn select_id(&mut self, id: &str) {
        if let Some(i) = self.scenarios.iter().position(|s| s.id == id) {
            self.select(i);
        }
    }

    /// Show another scenario: the current lab is stopped and dropped.
    pub fn select(&mut self, index: usize) {
        if index == self.selected || index >= self.scenarios.len() {
            return;
        }
        self.reset();
        self.selected = index;
    }

    /// Start the selected scenario on a fresh lab.
    pub fn start(&mut self) {
        self.reset();
        let scenario = self.scenario();
        let mut lab = Lab::new(
            LabOptions {
                speed: self.speed,
                ..LabOptions::default()
            },
            self.knobs[self.selected].clone(),
        );
        match lab.start_main(scenario.body) {
            Ok(_) => {
                self.lab = Some(lab);
                self.status = Status::Running;
            }
            Err(e) => {
                self.message = Some(format!("{}: {e}", i18n::START_ERROR.get(self.lang)));
            }
        }
    }

    /// Stop the lab; what it recorded stays on screen.
    pub fn stop(&mut self) {
        if let Some(lab) = &mut self.lab {
            let report = lab.stop();
            if report.threads_left > 0 {
                self.message = Some(format!(
                    "{} {}",
                    report.threads_left,
                    i18n::STOP_LEFT.get(self.lang)
                ));
            }
            if self.status == Status::Running {
                self.status = Status::Stopped;
            }
        }
        self.refresh_view();
    }

    /// Stop and forget the lab; clear the view.
    pub fn reset(&mut self) {
        self.lab = None; // dropping a lab stops it
        self.status = Status::Idle;
        self.message = None;
        self.view.clear();
        self.log.clear();
        self.frozen.reset();
    }

    /// Write a knob: live into the running lab (which logs it), and always
    /// into the window's own knobs for the next Start.
    fn set_knob(&mut self, index: usize, value: f64) {
        let knobs = &self.knobs[self.selected];
        let Some(spec) = knobs.specs().get(index) else {
            return;
        };
        let result = match &self.lab {
            Some(lab) if self.status == Status::Running => lab.set_knob(spec.name, value),
            _ => knobs.set_at(index, value),
        };
        if let Err(e) = result {
            self.message = Some(e.to_string());
        }
    }

    fn set_speed(&mut self, speed: f64) {
        self.speed = speed;
        if let Some(lab) = &self.lab
            && self.status == Status::Running
        {
            lab.set_speed(speed);
        }
    }

    /// Notice a scenario that ended by itself and close its recorder.
    fn poll_lab(&mut self) {
        if self.status == Status::Running
            && let Some(lab) = &mut self.lab
            && lab.is_finished()
        {
            lab.stop();
            self.status = Status::Finished;
        }
    }

    /// Copy this frame's view out of the record: one lock, held briefly.
    fn refresh_view(&mut self) {
        let Some(lab) = &self.lab else {
            return;
        };
        let scenario = self.scenarios[self.selected];
        let seconds_per_px = self.window_seconds / f64::from(self.track_width.max(50.0));
        let record = lab.record().lock().unwrap_or_else(PoisonError::into_inner);
        self.view
            .fill(&record, scenario, self.window_seconds, seconds_per_px);
        self.log.sync(&record);
    }

    // ---- Drawing

    fn top_bar(&mut self, ui: &mut Ui) {
        let lang = self.lang;
        ui.horizontal(|ui| {
            ui.heading(RichText::new(i18n::APP_NAME.get(lang)).strong());
            ui.label(RichText::new(i18n::SUBTITLE.get(lang)).weak());
            ui.separator();

            let running = self.is_running();
            if ui
                .add_enabled(!running, egui::Button::new(i18n::START.get(lang)))
                .clicked()
            {
                self.start();
            }
            if ui
                .add_enabled(running, egui::Button::new(i18n::STOP.get(lang)))
                .clicked()
            {
                self.stop();
            }
            if ui
                .add_enabled(self.lab.is_some(), egui::Button::new(i18n::RESET.get(lang)))
                .clicked()
            {
                self.reset();
            }
            ui.separator();

            let label = ui.label(i18n::SPEED.get(lang));
            let mut speed = self.speed;
            let response = ui
                .add(
                    egui::Slider::new(&mut speed, 0.1..=100.0)
                        .logarithmic(true)
                        .max_decimals(1)
                        .suffix("×"),
                )
                .labelled_by(label.id)
                .on_hover_text(i18n::SPEED_HINT.get(lang));
            if response.changed() {
                self.set_speed(speed);
            }
            ui.separator();

            for l in Lang::ALL {
                if ui
                    .selectable_label(self.lang == l, i18n::lang_name(l))
                    .clicked()
                {
                    self.lang = l;
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
            });
        });
    }

    fn scenario_list(&mut self, ui: &mut Ui) {
        let lang = self.lang;
        ui.set_min_width(ui.available_width());
        ui.add_space(4.0);
        ui.heading(i18n::SCENARIOS.get(lang));
        ui.add_space(4.0);
        let mut clicked = None;
        egui::ScrollArea::vertical()
            .id_salt("scenario_list")
            .show(ui, |ui| {
                for group in Group::ALL {
                    let members: Vec<(usize, &Scenario)> = self
                        .scenarios
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
                            .selectable_label(i == self.selected, s.title.get(lang))
                            .on_hover_text(s.lesson.get(lang));
                        if response.clicked() {
                            clicked = Some(i);
                        }
                    }
                }
            });
        if let Some(i) = clicked {
            self.select(i);
        }
    }

    fn status_line(&self, ui: &mut Ui) {
        let lang = self.lang;
        let (text, color) = match self.status {
            Status::Idle => (i18n::STATUS_IDLE, ui.visuals().weak_text_color()),
            Status::Running => (i18n::STATUS_RUNNING, Color32::from_rgb(70, 190, 95)),
            Status::Stopped => (i18n::STATUS_STOPPED, Color32::from_rgb(245, 170, 35)),
            Status::Finished => (i18n::STATUS_FINISHED, Color32::from_rgb(150, 205, 255)),
        };
        ui.horizontal(|ui| {
            ui.heading(self.scenario().title.get(lang));
            ui.label(RichText::new(text.get(lang)).color(color).strong());
            if self.lab.is_some() {
                ui.separator();
                ui.label(format!(
                    "{}: {}",
                    i18n::ALIVE_THREADS.get(lang),
                    self.view.alive
                ));
            }
        });
    }

    fn metrics_strip(&self, ui: &mut Ui) {
        let lang = self.lang;
        if self.view.metrics.is_empty() {
            return;
        }
        ui.horizontal_wrapped(|ui| {
            ui.spacing_mut().item_spacing.x = 18.0;
            for m in &self.view.metrics {
                ui.horizontal(|ui| {
                    ui.spacing_mut().item_spacing.x = 4.0;
                    ui.label(RichText::new(format!("{}:", m.label.get(lang))).weak());
                    ui.label(
                        RichText::new(crate::lab::knobs::format_number(m.value))
                            .strong()
                            .monospace(),
                    );
                });
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
                    names.join(" → ")
                ))
                // Monospace: its font has the arrow glyph.
                .monospace()
                .color(Color32::from_rgb(240, 70, 60))
                .strong(),
            );
        }
    }

    fn centre(&mut self, ui: &mut Ui) {
        let lang = self.lang;
        self.status_line(ui);
        self.metrics_strip(ui);
        if self.scenario().id == frozen::ID {
            ui.add_space(4.0);
            self.frozen_controls(ui);
        }
        ui.add_space(6.0);

        // Timeline header: title, window width, legend.
        let mut window = self.window_seconds;
        ui.horizontal(|ui| {
            ui.label(RichText::new(i18n::TIMELINE.get(lang)).strong());
            ui.with_layout(Layout::right_to_left(Align::Center), |ui| {
                let response = ui
                    .add(
                        egui::Slider::new(&mut window, 2.0..=120.0)
                            .logarithmic(true)
                            .max_decimals(0)
                            .suffix(" s"),
                    )
                    .on_hover_text(i18n::WINDOW_HINT.get(lang));
                let label = ui.label(i18n::WINDOW.get(lang));
                let _ = response.labelled_by(label.id);
            });
        });
        self.window_seconds = window;
        timeline::legend(ui, lang);

        if self.view.window.is_none() {
            ui.add_space(20.0);
            ui.label(RichText::new(i18n::NO_THREADS.get(lang)).weak().italics());
            ui.add_space(20.0);
        } else {
            // Lanes get what the plots leave; the plots then share the rest.
            let plots = self.scenario().plots.len() as f32;
            let per_plot_chrome = 26.0;
            let frame_times_row = 30.0;
            let reserved = plots * (plots::PLOT_HEIGHT + per_plot_chrome) + frame_times_row;
            let lanes_h = (self.view.lanes.len() as f32 * timeline::MAX_LANE)
                .min(ui.available_height() - reserved)
                .clamp(110.0, 700.0);
            self.track_width = timeline::show(ui, &self.view, lang, lanes_h);
            ui.add_space(4.0);
            let plot_h = if plots > 0.0 {
                ((ui.available_height() - frame_times_row) / plots - per_plot_chrome)
                    .clamp(plots::PLOT_HEIGHT, 260.0)
            } else {
                plots::PLOT_HEIGHT
            };
            plots::scenario_plots(ui, &self.view, lang, plot_h);
        }

        if self.scenario().id != frozen::ID {
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

impl eframe::App for HilosApp {
    fn ui(&mut self, ui: &mut egui::Ui, _frame: &mut eframe::Frame) {
        let started = Instant::now();
        let gap = self.last_frame_start.map(|t| started - t);
        self.last_frame_start = Some(started);

        self.poll_lab();
        self.refresh_view();

        egui::Panel::top("top_bar")
            .frame(
                egui::Frame::side_top_panel(ui.style())
                    .inner_margin(egui::Margin::symmetric(10, 6)),
            )
            .show(ui, |ui| self.top_bar(ui));
        egui::Panel::bottom("event_log")
            .resizable(true)
            .default_size(170.0)
            .min_size(80.0)
            .show(ui, |ui| log::show(ui, &self.log, &self.view, self.lang));
        egui::Panel::left("scenarios")
            .resizable(true)
            .default_size(215.0)
            .min_size(160.0)
            .show(ui, |ui| self.scenario_list(ui));
        egui::Panel::right("knobs")
            .resizable(true)
            .default_size(370.0)
            .min_size(260.0)
            .show(ui, |ui| self.side_panel(ui));
        egui::CentralPanel::default_margins().show(ui, |ui| {
            egui::ScrollArea::vertical()
                .id_salt("centre")
                .auto_shrink([false, false])
                .show(ui, |ui| self.centre(ui));
        });

        // A run on the UI thread happens here, inside the frame, on purpose.
        let blocked = self.frozen.run_pending_on_ui(self.speed);

        let cpu = started.elapsed();
        let cpu_ms = cpu.as_secs_f32() * 1000.0;
        let gap_ms = match gap {
            Some(g) if self.animating => g.as_secs_f32() * 1000.0,
            _ => cpu_ms,
        };
        self.frames.push(cpu_ms, gap_ms.max(cpu_ms));
        self.frozen.after_frame(cpu_ms, self.is_running(), blocked);

        self.animating = self.is_running() || self.scenario().id == frozen::ID;
        if self.animating {
            ui.ctx().request_repaint();
        } else if self
            .copied_at
            .is_some_and(|t| t.elapsed() < Duration::from_secs(3))
        {
            ui.ctx().request_repaint_after(Duration::from_millis(250));
        }
    }
}
