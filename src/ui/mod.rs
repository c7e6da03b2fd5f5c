//! The window (egui only): draws what the lab records and drives the lab
//! through the [`Controller`]. The UI thread only draws: workers and the
//! recorder run on their own threads, Stop finishes on a thread of its own,
//! and the record's lock is held once a frame just to copy what changed.
//! Panels return [`Action`]s, applied once the frame is drawn.
//!
//! This file is the app's shell: its state, the actions it takes, and the
//! frame (`eframe::App`). The panels around the timeline are in `panels`,
//! opening and saving files in `open_save`, step mode's actions in `step`;
//! the timeline, plots, log and each scenario's own view in files of their own.

use eframe::egui;
mod event_loop;
pub mod extras;
pub mod files;
mod frames;
mod frozen;
pub mod i18n;
mod log;
mod open_save;
pub mod paint;
mod panels;
pub mod philosophers;
mod plots;
mod pool_view;
mod process_view;
pub mod python_panel;
pub mod scenario_view;
mod side;
pub mod step;
pub mod timeline;
pub mod view;
pub mod waitfor;

use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::lab::WorkerPriority;
use crate::lab::controller::{Controller, Notice, Phase};
use crate::lab::text::Lang;
use crate::lab::{Knobs, Lab};
use crate::scenarios::{self, Group, Scenario};

use files::{FileJob, Files};
use frames::FrameTimes;
use python_panel::PythonPanel;
use scenario_view::{ExtraCx, ScenarioExtra};
use view::{AxisAction, Grouping, LogView, TimeAxis, View};

/// What the command line can ask of the window at launch.
#[derive(Clone, Debug, Default)]
pub struct GuiOptions {
    /// A language asked for on the command line or by a setup file: it
    /// wins over the one the saved settings bring back.
    pub lang: Option<Lang>,
    /// Select this scenario (an id as `hilos list` shows it).
    pub scenario: Option<String>,
    /// Start it at once.
    pub start: bool,
    /// Start it at once beside its Python program under CPython.
    pub run_in_python: bool,
    /// Knob settings for the selected scenario, as `NAME=VALUE`.
    pub set: Vec<String>,
    /// The speed to start with (from a setup file).
    pub speed: Option<f64>,
    /// Start in step mode (`--step`).
    pub step: bool,
    /// Open this schedule in step mode (`--schedule FILE`), and take its
    /// first `steps` steps.
    pub schedule: Option<std::path::PathBuf>,
    pub steps: usize,
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
    let mut viewport = egui::ViewportBuilder::default()
        .with_title("Hilos")
        .with_app_id("hilos")
        .with_inner_size([1400.0, 900.0])
        .with_min_inner_size([900.0, 600.0]);
    if let Ok(icon) = eframe::icon_data::from_png_bytes(include_bytes!("../../assets/icon.png")) {
        viewport = viewport.with_icon(icon);
    }
    let native = eframe::NativeOptions {
        viewport,
        ..Default::default()
    };
    eframe::run_native(
        "Hilos",
        native,
        Box::new(move |cc| {
            let mut app = HilosApp::new(cc, lang);
            if let Some(chosen) = options.lang {
                app.lang = chosen;
            }
            if let Some(id) = &options.scenario {
                app.select_id(id);
            }
            for set in &options.set {
                if let Err(e) = app.controller.set_knob_arg(set) {
                    app.message = Some(e.to_string());
                }
            }
            if let Some(speed) = options.speed {
                app.controller.set_speed(speed);
            }
            if options.step {
                app.controller.set_step_mode(true);
            }
            if let Some(path) = &options.schedule {
                app.open_schedule(path);
                if let Some(gate) = app.controller.gate() {
                    gate.run_steps(options.steps);
                }
            } else if options.run_in_python {
                app.python.wait_for_search(Duration::from_secs(5));
                app.run_in_python();
            } else if options.start {
                app.start();
            }
            Ok(Box::new(app))
        }),
    )
    .map_err(|e| e.to_string())
}

/// What the user asked for in this frame; applied once it is drawn.
#[derive(Clone, Debug, PartialEq)]
pub enum Action {
    Start,
    Stop,
    Reset,
    Select(usize),
    SetKnob(usize, f64),
    SetSpeed(f64),
    SetLang(Lang),
    Axis(AxisAction),
    /// Open or close a group of lanes: (role, collapsed before).
    ToggleGroup(Arc<str>, bool),
    /// Something a scenario's own view asked for; see [`extras`].
    Extra(u32),
    /// Run it in Python; see [`python_panel`].
    Python(u32),
    /// Save, open or export a file; see [`files`].
    File(FileJob),
    /// Put the selected scenario's knobs back to their defaults.
    ResetKnobs,
    Theme(Theme),
    Help(bool),
    /// Step mode: see [`step`].
    Step(step::StepAction),
}

/// The window's colours: the system's, light or dark.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub enum Theme {
    #[default]
    System,
    Light,
    Dark,
}

impl Theme {
    pub const ALL: [Theme; 3] = [Theme::System, Theme::Light, Theme::Dark];

    fn preference(self) -> egui::ThemePreference {
        match self {
            Theme::System => egui::ThemePreference::System,
            Theme::Light => egui::ThemePreference::Light,
            Theme::Dark => egui::ThemePreference::Dark,
        }
    }

    fn label(self) -> crate::lab::text::Text {
        match self {
            Theme::System => i18n::THEME_SYSTEM,
            Theme::Light => i18n::THEME_LIGHT,
            Theme::Dark => i18n::THEME_DARK,
        }
    }
}

/// What comes back at the next launch (eframe's storage; the window's size
/// and the panels' widths are kept by eframe and egui themselves).
#[derive(Clone, Debug, Default, PartialEq, serde::Serialize, serde::Deserialize)]
#[serde(default)]
pub struct Settings {
    pub lang: String,
    pub theme: Theme,
    pub scenario: String,
    /// Knob values per scenario id.
    pub knobs: std::collections::BTreeMap<String, std::collections::BTreeMap<String, f64>>,
    pub speed: f64,
    pub python: String,
    pub window_seconds: f64,
}

/// Where the settings live in eframe's storage.
pub const SETTINGS_KEY: &str = "hilos_settings";

pub struct HilosApp {
    lang: Lang,
    controller: Controller,
    /// The selected scenario's own view, if it has one.
    extra: Option<Box<dyn ScenarioExtra>>,
    /// A problem to show in the top bar (start failed, stop overran…).
    message: Option<String>,
    view: View,
    log: LogView,
    axis: TimeAxis,
    grouping: Grouping,
    last_phase: Phase,
    /// The ended run has been fitted to the window once.
    fitted: bool,
    frames: FrameTimes,
    last_frame_start: Option<Instant>,
    /// Whether the last frame asked for another one at once (so the gap
    /// between frames is meaningful rather than idle time).
    animating: bool,
    /// Width in points of the timeline's time track in the last frame.
    track_width: f32,
    copied_at: Option<Instant>,
    python: PythonPanel,
    files: Files,
    theme: Theme,
    help: bool,
    /// Run in Python for a Parallelism lesson: the lab starts once CPython ends.
    lab_after_python: bool,
    /// "Break it"'s search, when one runs, and what the last one found.
    break_it: step::BreakIt,
    /// Each "Break it" tries new schedules.
    break_seed: u64,
}

impl HilosApp {
    pub fn new(cc: &eframe::CreationContext, lang: Lang) -> HilosApp {
        HilosApp::with_scenarios(cc, lang, scenarios::all())
    }

    /// The window over another list of scenarios (benches use their own).
    pub fn with_scenarios(
        cc: &eframe::CreationContext,
        lang: Lang,
        scenarios: &'static [&'static Scenario],
    ) -> HilosApp {
        // Workers run below this thread's priority, so the window stays
        // responsive beside hundreds of busy workers.
        let controller = Controller::new(scenarios, WorkerPriority::BelowUi);
        let extra = extras::for_scenario(controller.scenario().extra);
        let mut app = HilosApp {
            lang,
            controller,
            extra,
            message: None,
            view: View::default(),
            log: LogView::default(),
            axis: TimeAxis::default(),
            grouping: Grouping::default(),
            last_phase: Phase::Idle,
            fitted: false,
            frames: FrameTimes::default(),
            last_frame_start: None,
            animating: false,
            track_width: 800.0,
            copied_at: None,
            python: PythonPanel::default(),
            files: Files::default(),
            theme: Theme::default(),
            help: false,
            lab_after_python: false,
            break_it: step::BreakIt::default(),
            break_seed: 1,
        };
        if let Some(storage) = cc.storage {
            app.restore_from(storage);
        }
        cc.egui_ctx.set_theme(app.theme.preference());
        app
    }

    /// Bring back the settings eframe's storage kept, if any.
    pub fn restore_from(&mut self, storage: &dyn eframe::Storage) {
        if let Some(settings) = eframe::get_value::<Settings>(storage, SETTINGS_KEY) {
            self.restore(&settings);
        }
    }

    /// Use the path field instead of native dialogs (where none can open).
    pub fn use_path_field(&mut self, on: bool) {
        self.files.no_dialogs = on;
    }

    /// What to keep for the next launch.
    pub fn settings(&self) -> Settings {
        let knobs = self
            .controller
            .scenarios()
            .iter()
            .enumerate()
            .map(|(i, s)| {
                let values = self.controller.knobs_at(i).values();
                (
                    s.id.to_string(),
                    values
                        .into_iter()
                        .map(|(k, v)| (k.to_string(), v))
                        .collect(),
                )
            })
            .collect();
        Settings {
            lang: self.lang.code().to_string(),
            theme: self.theme,
            scenario: self.scenario().id.to_string(),
            knobs,
            speed: self.controller.speed(),
            python: self.python.path.clone(),
            window_seconds: self.axis.follow_width,
        }
    }

    /// Bring back what [`HilosApp::settings`] kept; anything that no longer
    /// fits (a scenario or knob gone, a value out of range) is skipped.
    pub fn restore(&mut self, settings: &Settings) {
        if let Some(lang) = Lang::from_code(&settings.lang) {
            self.lang = lang;
        }
        self.theme = settings.theme;
        for (i, s) in self.controller.scenarios().iter().enumerate() {
            if let Some(values) = settings.knobs.get(s.id) {
                let knobs = self.controller.knobs_at(i);
                for (k, v) in values {
                    let _ = knobs.set(k, *v);
                }
            }
        }
        self.select_id(&settings.scenario.clone());
        if (crate::lab::MIN_SPEED..=crate::lab::MAX_SPEED).contains(&settings.speed) {
            self.controller.set_speed(settings.speed);
        }
        if settings.python != self.python.path {
            self.python.path.clone_from(&settings.python);
            self.python.look_for_python();
        }
        if settings.window_seconds.is_finite() && settings.window_seconds > 0.0 {
            self.axis.follow_width = settings.window_seconds;
        }
    }

    pub fn theme(&self) -> Theme {
        self.theme
    }

    pub fn files(&self) -> &Files {
        &self.files
    }

    // ---- Accessors (for tests, benches and the command line)

    pub fn lab(&self) -> Option<&Lab> {
        self.controller.lab()
    }

    pub fn controller(&self) -> &Controller {
        &self.controller
    }

    /// The selected scenario's id.
    pub fn selected(&self) -> &'static str {
        self.scenario().id
    }

    pub fn phase(&self) -> Phase {
        self.controller.phase()
    }

    pub fn lang(&self) -> Lang {
        self.lang
    }

    /// The selected scenario's knobs (the running lab shares them).
    pub fn knobs(&self) -> &Knobs {
        self.controller.knobs()
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
        self.extra
            .as_ref()
            .and_then(|e| e.longest_frame_ms())
            .unwrap_or(0.0)
    }

    /// (steps done, steps) of a progress bar the scenario's view shows.
    pub fn frozen_progress(&self) -> (usize, usize) {
        self.extra
            .as_ref()
            .and_then(|e| e.progress(&self.view, self.controller.knobs()))
            .unwrap_or((0, 0))
    }

    pub fn message(&self) -> Option<&str> {
        self.message.as_deref()
    }

    /// The Python program's run beside the lab.
    pub fn python(&self) -> &PythonPanel {
        &self.python
    }

    /// What the last frame drew (rows, plots, metrics, the time window).
    pub fn view(&self) -> &View {
        &self.view
    }

    fn scenario(&self) -> &'static Scenario {
        self.controller.scenario()
    }

    fn is_running(&self) -> bool {
        self.controller.phase() == Phase::Running
    }

    // ---- Actions

    /// Select a scenario by id; unknown ids are ignored.
    pub fn select_id(&mut self, id: &str) {
        if let Some(i) = self.controller.scenarios().iter().position(|s| s.id == id) {
            self.select(i);
        }
    }

    /// Show another scenario: the current run is reset (off this thread).
    pub fn select(&mut self, index: usize) {
        if index == self.controller.selected() {
            return;
        }
        self.reset();
        self.controller.select(index);
        self.extra = extras::for_scenario(self.scenario().extra);
    }

    /// Start the selected scenario on a fresh lab (its own way, if its view says so).
    pub fn start(&mut self) {
        self.reset();
        let handled = self
            .extra
            .as_mut()
            .is_some_and(|e| e.start(&mut self.controller));
        if !handled {
            self.controller.start();
        }
        self.axis.apply(AxisAction::Follow(true), 0.0);
    }

    /// Ask the run to stop; returns at once. What it recorded stays. A
    /// Python program running beside it is ended too.
    pub fn stop(&mut self) {
        self.lab_after_python = false;
        self.controller.stop();
        self.python.stop();
    }

    /// Run the scenario's program under CPython beside a fresh lab run with
    /// the same knobs, both at speed 1 so their times compare.
    pub fn run_in_python(&mut self) {
        if self.controller.speed() != 1.0 {
            self.controller.set_speed(1.0);
        }
        let scenario = self.scenario();
        let code = (scenario.python)(self.controller.knobs());
        self.reset();
        // Parallelism lessons measure every core: CPython runs first and
        // the lab once it has ended, or each would have half the machine.
        if scenario.group == Group::Parallelism {
            match self.python.start(scenario, &code) {
                Ok(()) => self.lab_after_python = true,
                Err(e) => self.message = Some(e),
            }
            return;
        }
        // The lab's own model of the program (for frozen-ui, the simulated
        // UI loop), not the window's way of starting it: this run is for
        // comparing numbers with CPython.
        self.controller.start();
        self.axis.apply(AxisAction::Follow(true), 0.0);
        if let Err(e) = self.python.start(scenario, &code) {
            self.message = Some(e);
        }
    }

    /// Forget the run (stopped off this thread); clear the view.
    pub fn reset(&mut self) {
        self.lab_after_python = false;
        self.controller.reset();
        self.python.clear();
        self.message = None;
        self.fitted = false;
        self.view.clear();
        self.log.clear();
        if let Some(e) = &mut self.extra {
            e.reset();
        }
    }

    fn apply(&mut self, action: Action, ctx: &egui::Context) {
        match action {
            Action::Start => self.start(),
            Action::Stop => self.stop(),
            Action::Reset => self.reset(),
            Action::Select(i) => self.select(i),
            Action::SetKnob(i, v) => self.controller.set_knob(i, v),
            Action::SetSpeed(s) => self.controller.set_speed(s),
            Action::SetLang(l) => self.lang = l,
            Action::Axis(AxisAction::Fit) => self.axis.apply(AxisAction::Fit, self.view.run_end),
            Action::Axis(a) => self.axis.apply(a, self.view.now),
            Action::ToggleGroup(role, collapsed) => self.grouping.toggle(&role, collapsed),
            Action::Extra(code) => {
                if let Some(e) = &mut self.extra {
                    e.act(code, &mut self.controller);
                }
            }
            Action::Python(python_panel::RUN_BESIDE) => self.run_in_python(),
            Action::Python(_) => {}
            Action::File(job) => {
                if job == FileJob::ExportPng || self.export_ready(job) {
                    self.files.ask(job, self.scenario().id, self.lang);
                }
            }
            Action::ResetKnobs => {
                let knobs = self.controller.knobs().clone();
                for (i, spec) in knobs.specs().iter().enumerate() {
                    self.controller.set_knob(i, spec.default);
                }
            }
            Action::Theme(theme) => self.theme = theme,
            Action::Help(open) => self.help = open,
            Action::Step(step) => self.step(step),
        }
        ctx.request_repaint();
    }

    /// A run that ends shows all of itself (once its record is closed, so
    /// the end is final); a new one follows "now".
    fn on_phase_change(&mut self) {
        let phase = self.controller.phase();
        let closed = self
            .controller
            .mirror()
            .is_some_and(|r| r.ended_at.is_some());
        if phase.is_over() && closed && !self.fitted {
            self.axis.apply(AxisAction::Fit, self.view.run_end);
            self.fitted = true;
        }
        if phase != self.last_phase {
            if phase == Phase::Running {
                self.axis.apply(AxisAction::Follow(true), 0.0);
                self.fitted = false;
            }
            self.last_phase = phase;
        }
    }

    /// Copy what the recorder added (one short lock), then work out this
    /// frame's view from the copy, with no lock held.
    fn refresh(&mut self) {
        let scenario = self.controller.scenario();
        match self.controller.sync() {
            Some(record) => {
                let window = self.axis.window(record.now());
                let seconds_per_px = window.width() / f64::from(self.track_width.max(50.0));
                self.view
                    .fill(record, scenario, window, seconds_per_px, &self.grouping);
                self.log.sync(record);
            }
            None => {
                self.view.clear();
                self.log.clear();
            }
        }
        let lab_over = self.controller.phase().is_over()
            && self
                .controller
                .mirror()
                .is_some_and(|r| r.ended_at.is_some());
        self.python.refresh(scenario, &self.view.metrics, lab_over);
        if let Some(notice) = self.controller.notice() {
            let lang = self.lang;
            self.message = Some(match notice {
                Notice::StartFailed(e) => format!("{}: {e}", i18n::START_ERROR.get(lang)),
                Notice::ThreadsLeft(n) => format!("{n} {}", i18n::STOP_LEFT.get(lang)),
                Notice::Knob(e) => e.clone(),
            });
            self.controller.clear_notice();
        }
    }

    // ---- Drawing

    /// While a Parallelism lesson runs (in the lab or under CPython), it
    /// measures speed-ups on the machine's cores: the window redraws twice
    /// a second instead of 60 times, so drawing does not take CPU time from
    /// the work it measures. Measured on a 2-core VM drawing in software
    /// (llvmpipe, about 175 ms of CPU per frame, so at most ~12 frames a
    /// second): at full rate the gil scenario's processes showed 0.94×, at
    /// 10 frames a second still under 1×, at 2 frames a second 1.48×
    /// (headless: 1.8×).
    pub fn quiet_drawing(&self) -> bool {
        self.scenario().group == Group::Parallelism
            && (self.controller.phase() == Phase::Running
                || self.python.is_running()
                || self.lab_after_python)
    }
}

impl eframe::App for HilosApp {
    fn save(&mut self, storage: &mut dyn eframe::Storage) {
        eframe::set_value(storage, SETTINGS_KEY, &self.settings());
    }

    fn ui(&mut self, ui: &mut egui::Ui, _frame: &mut eframe::Frame) {
        let started = Instant::now();
        let gap = self.last_frame_start.map(|t| started - t);
        self.last_frame_start = Some(started);

        if self.lab_after_python && self.python.exit().is_some() {
            self.lab_after_python = false;
            self.controller.start();
            self.axis.apply(AxisAction::Follow(true), 0.0);
        }
        self.controller.poll();
        self.poll_break_it();
        self.refresh();
        let fitted = self.fitted;
        self.on_phase_change();
        if self.fitted != fitted {
            // The view of this frame was worked out before the fit: draw
            // the fitted one next, even if nothing else asks for a frame.
            ui.ctx().request_repaint();
        }

        let mut actions = Vec::new();
        let ctx = ui.ctx().clone();
        // Also after a restore from settings.
        if ctx.options(|o| o.theme_preference) != self.theme.preference() {
            ctx.set_theme(self.theme.preference());
        }
        self.shortcuts(&ctx, &mut actions);
        self.files.poll_done();
        if let Some((job, path)) = self.files.chosen(self.scenario().id, self.lang) {
            self.use_file(job, path, &ctx);
        }
        if let Some((job, path)) = self.files.prompt_window(&ctx, self.lang) {
            self.use_file(job, path, &ctx);
        }
        self.help_window(&ctx);
        egui::Panel::top("top_bar")
            .frame(
                egui::Frame::side_top_panel(ui.style())
                    .inner_margin(egui::Margin::symmetric(10, 6)),
            )
            .show(ui, |ui| self.top_bar(ui, &mut actions));
        egui::Panel::bottom("event_log")
            .resizable(true)
            .default_size(170.0)
            .min_size(80.0)
            .show(ui, |ui| {
                if self.python.has_output() {
                    // The lab's log and CPython's output, side by side.
                    ui.columns(2, |cols| {
                        log::show(&mut cols[0], &self.log, &self.view, self.lang);
                        cols[1].set_min_height(cols[1].available_height());
                        self.python.output_view(&mut cols[1], self.lang);
                    });
                } else {
                    log::show(ui, &self.log, &self.view, self.lang);
                }
            });
        egui::Panel::left("scenarios")
            .resizable(true)
            .default_size(215.0)
            .min_size(160.0)
            .show(ui, |ui| self.scenario_list(ui, &mut actions));
        egui::Panel::right("knobs")
            .resizable(true)
            .default_size(370.0)
            .min_size(260.0)
            .show(ui, |ui| self.side_panel(ui, &mut actions));
        egui::CentralPanel::default_margins().show(ui, |ui| {
            egui::ScrollArea::vertical()
                .id_salt("centre")
                .auto_shrink([false, false])
                .show(ui, |ui| self.centre(ui, &mut actions));
        });
        for action in actions {
            self.apply(action, &ctx);
        }

        // A run on the UI thread happens here, inside the frame, on purpose.
        let speed = self.controller.speed();
        let blocked = self.extra.as_mut().is_some_and(|e| e.end_frame(speed));

        let cpu = started.elapsed();
        let cpu_ms = cpu.as_secs_f32() * 1000.0;
        let gap_ms = match gap {
            Some(g) if self.animating => g.as_secs_f32() * 1000.0,
            _ => cpu_ms,
        };
        self.frames.push(cpu_ms, gap_ms.max(cpu_ms));
        let running = self.is_running();
        if let Some(e) = &mut self.extra {
            e.after_frame(cpu_ms, running, blocked);
        }

        let phase = self.controller.phase();
        self.animating = matches!(phase, Phase::Running | Phase::Stopping)
            || self.python.is_running()
            || self.lab_after_python
            || self.files.waiting.is_some()
            || self.files.status.is_some()
            || self.break_it.is_running()
            || self.extra.as_ref().is_some_and(|e| e.animating());
        if self.animating && self.quiet_drawing() {
            // Input still repaints at once (egui does on every event), so
            // the window stays as responsive to the user.
            ui.ctx().request_repaint_after(Duration::from_millis(500));
        } else if self.animating {
            ui.ctx().request_repaint();
        } else if self
            .copied_at
            .is_some_and(|t| t.elapsed() < Duration::from_secs(3))
        {
            ui.ctx().request_repaint_after(Duration::from_millis(250));
        }
    }
}
