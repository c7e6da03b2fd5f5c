//! The window (egui only): draws what the lab records and drives the lab
//! through the [`Controller`]. The UI thread only draws: workers and the
//! recorder run on their own threads, Stop finishes on a thread of its own,
//! and the record's lock is held once a frame just to copy what changed.
//! Panels return [`Action`]s, applied once the frame is drawn.

use eframe::egui;
mod event_loop;
pub mod extras;
pub mod files;
mod frames;
mod frozen;
pub mod i18n;
mod log;
pub mod philosophers;
mod plots;
mod pool_view;
mod process_view;
pub mod python_panel;
mod side;
pub mod step;
pub mod timeline;
pub mod view;
pub mod waitfor;

use std::sync::Arc;
use std::time::{Duration, Instant};

use egui::{Align, Color32, Layout, RichText, Ui};

use crate::lab::WorkerPriority;
use crate::lab::controller::{Controller, Notice, Phase};
use crate::lab::text::Lang;
use crate::lab::{Knobs, Lab};
use crate::scenarios::{self, Group, Scenario};

use extras::{ExtraCx, ScenarioExtra};
use files::{FileJob, Files};
use frames::FrameTimes;
use python_panel::PythonPanel;
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

    /// Exports need a run; say so when there is none.
    fn export_ready(&mut self, job: FileJob) -> bool {
        let needs_run = matches!(
            job,
            FileJob::ExportJson | FileJob::ExportCsv | FileJob::ExportTrace
        );
        if job == FileJob::SaveSchedule && self.controller.gate().is_none() {
            self.files.status = Some((
                Err(i18n::NO_SCHEDULE.get(self.lang).to_string()),
                Instant::now(),
            ));
            return false;
        }
        if needs_run && self.controller.mirror().is_none() {
            self.files.status = Some((
                Err(i18n::NOTHING_TO_EXPORT.get(self.lang).to_string()),
                Instant::now(),
            ));
            return false;
        }
        true
    }

    /// Do what a chosen file is for. Writes happen on a thread of their own.
    fn use_file(&mut self, job: FileJob, path: std::path::PathBuf, ctx: &egui::Context) {
        let scenario = self.scenario();
        match job {
            FileJob::SaveSetup => {
                let json = crate::setup::to_json(
                    scenario,
                    self.controller.knobs(),
                    self.controller.speed(),
                    self.lang,
                );
                self.files
                    .write_in_background(path, move || Ok(json.into_bytes()));
            }
            FileJob::OpenSetup => self.open_setup(&path),
            FileJob::SaveSchedule => {
                let Some(json) = self.schedule_json() else {
                    return;
                };
                self.files
                    .write_in_background(path, move || Ok(json.into_bytes()));
            }
            FileJob::OpenSchedule => self.open_schedule(&path),
            FileJob::ExportJson => {
                let (Some(lab), Some(record)) = (self.controller.lab(), self.controller.mirror())
                else {
                    return;
                };
                let stop = lab
                    .stop_report()
                    .cloned()
                    .unwrap_or(crate::lab::StopReport {
                        stop_seconds: 0.0,
                        threads_left: 0,
                        processes_left: 0,
                    });
                let finished = self.controller.phase() == Phase::Finished;
                let report =
                    crate::cli::report(scenario, lab, record, finished, stop, true, self.lang);
                self.files.write_in_background(path, move || {
                    serde_json::to_vec_pretty(&report).map_err(|e| e.to_string())
                });
            }
            FileJob::ExportCsv | FileJob::ExportTrace => {
                let Some(record) = self.controller.mirror().cloned() else {
                    return;
                };
                self.files.write_in_background(path, move || {
                    Ok(if job == FileJob::ExportCsv {
                        crate::export::csv(&record).into_bytes()
                    } else {
                        serde_json::to_vec(&crate::export::trace(&record, scenario))
                            .map_err(|e| e.to_string())?
                    })
                });
            }
            FileJob::ExportPng => {
                // The picture arrives once the frame is rendered; encoding and
                // writing happen on a thread of their own.
                let tx = self.files.done_sender();
                ctx.request_screenshot(move |image| {
                    let _ = std::thread::Builder::new()
                        .name("hilos-write".into())
                        .spawn(move || {
                            let outcome = files::png(&image).and_then(|bytes| {
                                std::fs::write(&path, bytes)
                                    .map(|()| files::Done::Saved(path.display().to_string()))
                                    .map_err(|e| {
                                        format!("could not write '{}': {e}", path.display())
                                    })
                            });
                            let _ = tx.send(outcome);
                        });
                });
                ctx.request_repaint();
            }
        }
    }

    /// What the step panel asked for.
    pub fn step(&mut self, action: step::StepAction) {
        use step::StepAction;
        match action {
            StepAction::Mode(on) => {
                self.reset();
                self.controller.set_step_mode(on);
                self.break_it.said = None;
            }
            StepAction::Pick(pick) => {
                if let Some(gate) = self.controller.gate()
                    && let Err(e) = gate.choose(pick)
                {
                    self.message = Some(e);
                }
            }
            StepAction::Any => {
                if let Some(gate) = self.controller.gate() {
                    gate.step_any();
                }
            }
            StepAction::Run(n) => {
                if let Some(gate) = self.controller.gate() {
                    gate.run_steps(n);
                }
            }
            StepAction::Undo => {
                self.view.clear();
                self.log.clear();
                self.controller.undo();
            }
            StepAction::GoTo(n) => {
                self.view.clear();
                self.log.clear();
                self.controller.go_to_step(n);
            }
            StepAction::BreakIt => {
                if self.break_it.is_running() {
                    return;
                }
                let scenario = self.scenario();
                self.break_it
                    .start(scenario, self.controller.knobs(), self.break_seed);
                self.break_seed += 1;
            }
        }
    }

    /// "Break it"'s answer: open the failing schedule in step mode, or say
    /// that every schedule kept the promise.
    fn poll_break_it(&mut self) {
        let Some(answer) = self.break_it.poll() else {
            return;
        };
        let lang = self.lang;
        self.break_it.said = Some(match answer {
            Ok((report, Some(steps))) => {
                self.reset();
                self.controller.open_schedule(steps);
                self.axis.apply(AxisAction::Follow(true), 0.0);
                format!(
                    "{} {} / {}: {}. {}",
                    i18n::BROKEN_IN_RUN.get(lang),
                    report.first_broken_run.unwrap_or(0),
                    report.runs,
                    report.first_broken.unwrap_or_default(),
                    i18n::SCHEDULE_OPENED.get(lang)
                )
            }
            Ok((report, None)) => format!(
                "{} {}: «{}» {}",
                report.runs,
                i18n::SCHEDULES_TRIED.get(lang),
                self.scenario_invariant(),
                i18n::HELD_IN_EVERY_ONE.get(lang)
            ),
            Err(e) => e,
        });
    }

    fn scenario_invariant(&self) -> &'static str {
        self.scenario()
            .stepping
            .invariant()
            .map_or("", |i| i.holds.get(self.lang))
    }

    /// Open a schedule file in step mode: its scenario and knobs, its
    /// steps offered one by one.
    pub fn open_schedule(&mut self, path: &std::path::Path) {
        let result = crate::explore::read(path).and_then(|schedule| {
            let i = self.index_of(schedule.scenario)?;
            if let Some(why) = crate::explore::unsupported(schedule.scenario) {
                return Err(format!("{}: {why}", schedule.scenario.id));
            }
            Ok((i, schedule))
        });
        match result {
            Ok((i, schedule)) => {
                self.select_with_knobs(i, &schedule.knobs);
                self.reset();
                self.controller.open_schedule(schedule.steps);
                self.axis.apply(AxisAction::Follow(true), 0.0);
                self.files.status = Some((
                    Ok(files::Done::Opened(path.display().to_string())),
                    Instant::now(),
                ));
            }
            Err(e) => self.files.status = Some((Err(e), Instant::now())),
        }
    }

    /// Where a file's scenario is in this window's list.
    fn index_of(&self, scenario: &Scenario) -> Result<usize, String> {
        self.controller
            .scenarios()
            .iter()
            .position(|s| s.id == scenario.id)
            .ok_or_else(|| format!("'{}' is not in this window", scenario.id))
    }

    /// Select scenario `i` and set the knobs a file gave (checked when read).
    fn select_with_knobs(&mut self, i: usize, values: &[(&'static str, f64)]) {
        self.select(i);
        let knobs = self.controller.knobs().clone();
        for (name, v) in values {
            if let Ok(k) = knobs.index_of(name) {
                self.controller.set_knob(k, *v);
            }
        }
    }

    /// The schedule of the gated run, as a file keeps it.
    fn schedule_json(&self) -> Option<String> {
        let gate = self.controller.gate()?;
        let schedule = crate::explore::Schedule {
            scenario: self.scenario(),
            knobs: self.controller.knobs().values(),
            seed: None,
            policy: Some("step mode".into()),
            broken: None,
            steps: gate.decisions(),
        };
        Some(schedule.to_json())
    }

    /// Open a setup file: every value is checked before anything changes.
    pub fn open_setup(&mut self, path: &std::path::Path) {
        let result =
            crate::setup::read(path).and_then(|setup| Ok((self.index_of(setup.scenario)?, setup)));
        match result {
            Ok((i, setup)) => {
                self.select_with_knobs(i, &setup.knobs);
                self.controller.set_speed(setup.speed);
                if let Some(lang) = setup.lang {
                    self.lang = lang;
                }
                self.files.status = Some((
                    Ok(files::Done::Opened(path.display().to_string())),
                    Instant::now(),
                ));
            }
            Err(e) => self.files.status = Some((Err(e), Instant::now())),
        }
    }

    /// Space, R, Ctrl+S, Ctrl+O, Ctrl+E and F1, unless a text field or
    /// another widget has the keyboard.
    fn shortcuts(&self, ctx: &egui::Context, actions: &mut Vec<Action>) {
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

    fn help_window(&mut self, ctx: &egui::Context) {
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

    fn top_bar(&mut self, ui: &mut Ui, actions: &mut Vec<Action>) {
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

    fn scenario_list(&self, ui: &mut Ui, actions: &mut Vec<Action>) {
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

    fn status_line(&self, ui: &mut Ui) {
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

    fn metrics_strip(&self, ui: &mut Ui) {
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
    fn timeline_header(&self, ui: &mut Ui, actions: &mut Vec<Action>) {
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

    fn centre(&mut self, ui: &mut Ui, actions: &mut Vec<Action>) {
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
