//! Run it in Python, in the window: find the user's CPython (off the UI
//! thread), run the scenario's program beside a fresh lab run, show what it
//! prints beside the lab's log, and the outcomes of both side by side.

use std::path::PathBuf;
use std::sync::Arc;

use eframe::egui;
use egui::{Color32, RichText, Ui};
use parking_lot::Mutex;

use super::{Action, i18n};
use crate::lab::text::Lang;
use crate::python::{self, Compared, Exit, Interpreter, OutputLine, PythonRun, Verdict};
use crate::scenarios::{Metric, Scenario};

/// The interpreter search, done on a thread of its own (it runs
/// `python3 --version`, which can take a while on a cold machine).
#[derive(Clone, Debug, PartialEq)]
pub enum Found {
    Looking,
    Found(Interpreter),
    NotFound(String),
}

pub struct PythonPanel {
    found: Arc<Mutex<Found>>,
    /// The path typed in the window; empty means "look on the PATH".
    pub path: String,
    run: Option<PythonRun>,
    /// The scenario the run belongs to.
    scenario: Option<&'static str>,
    lines: Vec<OutputLine>,
    /// Everything printed, joined, for the outcome lines.
    text: String,
    exit: Option<Exit>,
    seconds: f64,
    compared: Vec<Compared>,
}

impl Default for PythonPanel {
    fn default() -> Self {
        let panel = PythonPanel {
            found: Arc::new(Mutex::new(Found::Looking)),
            path: String::new(),
            run: None,
            scenario: None,
            lines: Vec::new(),
            text: String::new(),
            exit: None,
            seconds: 0.0,
            compared: Vec::new(),
        };
        panel.look_for_python();
        panel
    }
}

/// What the panel asks the app to do.
pub const RUN_BESIDE: u32 = 1;

impl PythonPanel {
    /// Look for Python again (at start, and when the path changes).
    pub fn look_for_python(&self) {
        *self.found.lock() = Found::Looking;
        let found = self.found.clone();
        let explicit = (!self.path.trim().is_empty()).then(|| PathBuf::from(self.path.trim()));
        let spawned = std::thread::Builder::new()
            .name("hilos-find-python".into())
            .spawn(move || {
                let result = python::find_interpreter(explicit.as_deref());
                *found.lock() = match result {
                    Ok(i) => Found::Found(i),
                    Err(e) => Found::NotFound(e),
                };
            });
        if spawned.is_err() {
            *self.found.lock() = Found::NotFound("could not look for Python".into());
        }
    }

    pub fn found(&self) -> Found {
        self.found.lock().clone()
    }

    /// Wait (up to `timeout`) for the search to end: for `--run-in-python`
    /// at launch, before the first frame.
    pub fn wait_for_search(&self, timeout: std::time::Duration) {
        let deadline = std::time::Instant::now() + timeout;
        while self.found() == Found::Looking && std::time::Instant::now() < deadline {
            std::thread::sleep(std::time::Duration::from_millis(10));
        }
    }

    pub fn is_running(&self) -> bool {
        self.run.as_ref().is_some_and(|r| !r.is_finished())
    }

    /// What CPython printed so far (for tests).
    pub fn output(&self) -> &str {
        &self.text
    }

    pub fn exit(&self) -> Option<&Exit> {
        self.exit.as_ref()
    }

    pub fn compared(&self) -> &[Compared] {
        &self.compared
    }

    /// Start the program for these knobs; the app starts the lab beside it.
    pub fn start(&mut self, scenario: &'static Scenario, code: &str) -> Result<(), String> {
        self.stop();
        let interpreter = match self.found() {
            Found::Found(i) => i,
            Found::Looking => return Err("still looking for Python".into()),
            Found::NotFound(e) => return Err(e),
        };
        let run = PythonRun::start(&interpreter, code)
            .map_err(|e| format!("could not start {}: {e}", interpreter.path.display()))?;
        *self = PythonPanel {
            found: self.found.clone(),
            path: std::mem::take(&mut self.path),
            run: Some(run),
            scenario: Some(scenario.id),
            ..PythonPanel::empty()
        };
        Ok(())
    }

    fn empty() -> PythonPanel {
        PythonPanel {
            found: Arc::new(Mutex::new(Found::Looking)),
            path: String::new(),
            run: None,
            scenario: None,
            lines: Vec::new(),
            text: String::new(),
            exit: None,
            seconds: 0.0,
            compared: Vec::new(),
        }
    }

    /// Stop ends the program too.
    pub fn stop(&mut self) {
        if let Some(r) = &self.run {
            r.stop();
        }
    }

    /// Forget the run (another scenario, or Reset).
    pub fn clear(&mut self) {
        self.stop();
        let found = self.found.clone();
        let path = std::mem::take(&mut self.path);
        *self = PythonPanel {
            found,
            path,
            ..PythonPanel::empty()
        };
    }

    /// Copy what the program printed since the last frame, and compare
    /// outcomes with the lab's metrics once both have them.
    pub fn refresh(&mut self, scenario: &'static Scenario, metrics: &[Metric], lab_over: bool) {
        let Some(run) = &self.run else {
            return;
        };
        if self.scenario != Some(scenario.id) {
            return;
        }
        let (new, exit, seconds) = run.lines_since(self.lines.len());
        for l in &new {
            self.text.push_str(&l.text);
            self.text.push('\n');
        }
        self.lines.extend(new);
        self.exit = exit;
        self.seconds = seconds;
        self.compared = if lab_over && self.exit.is_some() {
            python::compare(scenario, metrics, &self.text)
        } else {
            Vec::new()
        };
    }

    /// The Run button, the interpreter, and the comparison.
    pub fn controls(&mut self, ui: &mut Ui, lang: Lang, actions: &mut Vec<Action>) {
        let found = self.found();
        ui.horizontal(|ui| {
            let enabled = matches!(found, Found::Found(_));
            let button = ui
                .add_enabled(enabled, egui::Button::new(i18n::RUN_IN_PYTHON.get(lang)))
                .on_hover_text(i18n::RUN_IN_PYTHON_HINT.get(lang))
                .on_disabled_hover_text(i18n::NO_PYTHON_HINT.get(lang));
            if button.clicked() {
                actions.push(Action::Python(RUN_BESIDE));
            }
            match &found {
                Found::Looking => {
                    ui.label(
                        RichText::new(i18n::LOOKING_FOR_PYTHON.get(lang))
                            .small()
                            .weak(),
                    );
                }
                Found::Found(i) => {
                    ui.label(
                        RichText::new(format!("{} ({})", i.version, i.path.display()))
                            .small()
                            .weak(),
                    );
                }
                Found::NotFound(_) => {}
            }
        });
        if let Found::NotFound(why) = &found {
            ui.label(
                RichText::new(format!("{} {why}", i18n::NO_PYTHON.get(lang)))
                    .small()
                    .color(Color32::from_rgb(240, 90, 80)),
            );
        }
        ui.horizontal(|ui| {
            let label = ui.label(RichText::new(i18n::INTERPRETER.get(lang)).small());
            let response = ui
                .add(
                    egui::TextEdit::singleline(&mut self.path)
                        .hint_text("python3")
                        .desired_width(170.0),
                )
                .labelled_by(label.id)
                .on_hover_text(i18n::INTERPRETER_HINT.get(lang));
            if response.lost_focus() || (response.changed() && self.path.is_empty()) {
                self.look_for_python();
            }
        });
        self.comparison(ui, lang);
    }

    fn comparison(&self, ui: &mut Ui, lang: Lang) {
        if self.run.is_none() {
            return;
        }
        let status = match &self.exit {
            None => format!("{} {:.1} s", i18n::PYTHON_RUNNING.get(lang), self.seconds),
            Some(e) if e.killed => format!("{} {:.1} s", i18n::PYTHON_STOPPED.get(lang), e.seconds),
            Some(e) => format!(
                "{} {:.2} s, {} {}",
                i18n::PYTHON_FINISHED.get(lang),
                e.seconds,
                i18n::EXIT_STATUS.get(lang),
                e.code.map_or_else(|| "-".to_string(), |c| c.to_string())
            ),
        };
        ui.label(RichText::new(status).small());
        if self.compared.is_empty() {
            if self.exit.is_some() {
                ui.label(
                    RichText::new(i18n::WAITING_FOR_LAB.get(lang))
                        .small()
                        .weak(),
                );
            }
            return;
        }
        ui.add_space(4.0);
        ui.label(RichText::new(i18n::LAB_VS_CPYTHON.get(lang)).strong());
        egui::Grid::new("lab_vs_cpython")
            .num_columns(4)
            .spacing([10.0, 2.0])
            .striped(true)
            .show(ui, |ui| {
                ui.label(RichText::new("").small());
                ui.label(RichText::new(i18n::LAB.get(lang)).small().strong());
                ui.label(RichText::new("CPython").small().strong());
                ui.label("");
                ui.end_row();
                let num =
                    |v: Option<f64>| v.map_or("-".to_string(), crate::lab::knobs::format_number);
                for c in &self.compared {
                    ui.label(RichText::new(c.label.get(lang)).small());
                    ui.label(RichText::new(num(c.lab)).monospace());
                    ui.label(RichText::new(num(c.python)).monospace());
                    let (word, color) = match c.verdict {
                        Verdict::Agree => (i18n::AGREE, Color32::from_rgb(70, 190, 95)),
                        Verdict::Differ => (i18n::DIFFER, Color32::from_rgb(240, 90, 80)),
                        Verdict::Missing => (i18n::MISSING, Color32::from_rgb(245, 170, 35)),
                    };
                    let response = ui.label(RichText::new(word.get(lang)).strong().color(color));
                    if let Some(why) = c.why {
                        response.on_hover_text(why.get(lang));
                    }
                    ui.end_row();
                }
            });
        for c in &self.compared {
            if let Some(why) = c.why {
                ui.label(
                    RichText::new(format!("{}: {}", c.label.get(lang), why.get(lang)))
                        .small()
                        .weak(),
                );
            }
        }
    }

    /// CPython's output, beside the lab's log in the bottom panel.
    pub fn output_view(&self, ui: &mut Ui, lang: Lang) {
        ui.horizontal(|ui| {
            ui.label(RichText::new(i18n::CPYTHON_OUTPUT.get(lang)).strong());
            if let Some(e) = &self.exit {
                let code = e.code.map_or_else(|| "-".to_string(), |c| c.to_string());
                ui.label(
                    RichText::new(format!(
                        "{:.2} s, {} {code}",
                        e.seconds,
                        i18n::EXIT_STATUS.get(lang)
                    ))
                    .small()
                    .weak(),
                );
            }
        });
        let row_height = ui.text_style_height(&egui::TextStyle::Monospace);
        egui::ScrollArea::vertical()
            .id_salt("cpython_output_scroll")
            .stick_to_bottom(true)
            .auto_shrink([false, false])
            .show_rows(ui, row_height, self.lines.len(), |ui, rows| {
                for line in &self.lines[rows] {
                    let mut text = RichText::new(&line.text).monospace();
                    if line.stderr && line.text.contains("Error") {
                        text = text.color(Color32::from_rgb(240, 90, 80));
                    }
                    ui.add(egui::Label::new(text).truncate());
                }
            });
    }

    /// Whether there is output to show beside the log.
    pub fn has_output(&self) -> bool {
        self.run.is_some()
    }
}
