//! Files from the window: save and open setups, export the run (JSON, CSV,
//! a Perfetto trace) and screenshots (PNG). Native dialogs (rfd) run on a
//! thread of their own, and so does every write, so the frame loop never
//! waits; where no dialog can open (no desktop portal), a path field does the
//! same job. A failed write says why; what the lab recorded stays on screen.

use std::path::PathBuf;
use std::sync::Arc;
use std::sync::mpsc::{Receiver, Sender, channel};
use std::time::{Duration, Instant};

use eframe::egui;
use egui::{RichText, Ui};

use super::i18n;
use crate::lab::text::{Lang, Text};

/// What a file is for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FileJob {
    SaveSetup,
    OpenSetup,
    ExportJson,
    ExportCsv,
    ExportTrace,
    ExportPng,
    /// Step mode's schedule (see `crate::explore`).
    SaveSchedule,
    OpenSchedule,
}

impl FileJob {
    pub const ALL: [FileJob; 8] = [
        FileJob::SaveSetup,
        FileJob::OpenSetup,
        FileJob::ExportJson,
        FileJob::ExportCsv,
        FileJob::ExportTrace,
        FileJob::ExportPng,
        FileJob::SaveSchedule,
        FileJob::OpenSchedule,
    ];

    pub fn label(self) -> Text {
        match self {
            FileJob::SaveSetup => i18n::SAVE_SETUP,
            FileJob::OpenSetup => i18n::OPEN_SETUP,
            FileJob::ExportJson => i18n::EXPORT_JSON,
            FileJob::ExportCsv => i18n::EXPORT_CSV,
            FileJob::ExportTrace => i18n::EXPORT_TRACE,
            FileJob::ExportPng => i18n::EXPORT_PNG,
            FileJob::SaveSchedule => i18n::SAVE_SCHEDULE,
            FileJob::OpenSchedule => i18n::OPEN_SCHEDULE,
        }
    }

    /// The keyboard shortcut, as the tooltips and the help show it.
    pub fn shortcut(self) -> Option<&'static str> {
        match self {
            FileJob::SaveSetup => Some("Ctrl+S"),
            FileJob::OpenSetup => Some("Ctrl+O"),
            FileJob::ExportTrace => Some("Ctrl+E"),
            _ => None,
        }
    }

    fn extension(self) -> (&'static str, &'static str) {
        match self {
            FileJob::SaveSetup | FileJob::OpenSetup => ("Hilos setup", "json"),
            FileJob::ExportJson => ("JSON", "json"),
            FileJob::ExportCsv => ("CSV", "csv"),
            FileJob::ExportTrace => ("Chrome trace (Perfetto)", "json"),
            FileJob::ExportPng => ("PNG", "png"),
            FileJob::SaveSchedule | FileJob::OpenSchedule => ("Hilos schedule", "json"),
        }
    }

    fn default_name(self, scenario: &str) -> String {
        match self {
            FileJob::SaveSetup | FileJob::OpenSetup => format!("{scenario}.setup.json"),
            FileJob::ExportJson => format!("{scenario}.run.json"),
            FileJob::ExportCsv => format!("{scenario}.csv"),
            FileJob::ExportTrace => format!("{scenario}.trace.json"),
            FileJob::ExportPng => format!("{scenario}.png"),
            FileJob::SaveSchedule | FileJob::OpenSchedule => format!("{scenario}.schedule.json"),
        }
    }

    pub fn opens(self) -> bool {
        matches!(self, FileJob::OpenSetup | FileJob::OpenSchedule)
    }
}

/// A dialog that came back this fast did not really open: there is no
/// dialog here (no desktop portal), not a user who cancelled.
const NO_DIALOG_WITHIN: Duration = Duration::from_millis(150);

/// What a file action did, for the status line.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Done {
    Saved(String),
    Opened(String),
}

/// How a file action went.
pub type Outcome = Result<Done, String>;

pub struct Files {
    dialog_tx: Sender<(FileJob, Option<PathBuf>, Duration)>,
    dialog_rx: Receiver<(FileJob, Option<PathBuf>, Duration)>,
    done_tx: Sender<Outcome>,
    done_rx: Receiver<Outcome>,
    /// A dialog is open.
    pub waiting: Option<FileJob>,
    /// Native dialogs are not available here: use the path field.
    pub no_dialogs: bool,
    /// The path field, when it is shown: (job, text).
    pub prompt: Option<(FileJob, String)>,
    /// The last result, shown in the top bar for a while.
    pub status: Option<(Outcome, Instant)>,
}

impl Default for Files {
    fn default() -> Self {
        let (dialog_tx, dialog_rx) = channel();
        let (done_tx, done_rx) = channel();
        Files {
            dialog_tx,
            dialog_rx,
            done_tx,
            done_rx,
            waiting: None,
            // HILOS_NO_DIALOGS=1 uses the path field (tests, minimal desktops).
            no_dialogs: std::env::var_os("HILOS_NO_DIALOGS").is_some_and(|v| v != "0"),
            prompt: None,
            status: None,
        }
    }
}

impl Files {
    /// Ask where (or what) for `job`: a native dialog on its own thread, or
    /// the path field where there is none.
    pub fn ask(&mut self, job: FileJob, scenario: &str, lang: Lang) {
        if self.waiting.is_some() {
            return;
        }
        let name = job.default_name(scenario);
        if self.no_dialogs {
            self.prompt = Some((job, name));
            return;
        }
        let (what, ext) = job.extension();
        let title = job.label().get(lang).trim_end_matches('…').to_string();
        let tx = self.dialog_tx.clone();
        let spawned = std::thread::Builder::new()
            .name("hilos-dialog".into())
            .spawn(move || {
                let t0 = Instant::now();
                let dialog = rfd::FileDialog::new()
                    .set_title(title)
                    .add_filter(what, &[ext])
                    .set_file_name(name);
                let path = if job.opens() {
                    dialog.pick_file()
                } else {
                    dialog.save_file()
                };
                let _ = tx.send((job, path, t0.elapsed()));
            });
        match spawned {
            Ok(_) => self.waiting = Some(job),
            Err(_) => self.prompt = Some((job, job.default_name(scenario))),
        }
    }

    /// A path chosen this frame (from a dialog or the path field), if any.
    pub fn chosen(&mut self, scenario: &str, lang: Lang) -> Option<(FileJob, PathBuf)> {
        if let Ok((job, path, took)) = self.dialog_rx.try_recv() {
            self.waiting = None;
            match path {
                Some(p) => return Some((job, p)),
                None if took < NO_DIALOG_WITHIN => {
                    // Nothing opened: say so, and offer the path field.
                    self.no_dialogs = true;
                    self.prompt = Some((job, job.default_name(scenario)));
                    self.status =
                        Some((Err(i18n::NO_DIALOG.get(lang).to_string()), Instant::now()));
                }
                // A cancelled dialog does nothing.
                None => {}
            }
        }
        None
    }

    /// Note how a write went.
    pub fn poll_done(&mut self) {
        while let Ok(outcome) = self.done_rx.try_recv() {
            self.status = Some((outcome, Instant::now()));
        }
    }

    pub fn done_sender(&self) -> Sender<Outcome> {
        self.done_tx.clone()
    }

    /// Write `make()`'s text to `path` on a thread of its own.
    pub fn write_in_background(
        &self,
        path: PathBuf,
        make: impl FnOnce() -> Result<Vec<u8>, String> + Send + 'static,
    ) {
        let tx = self.done_tx.clone();
        let spawned = std::thread::Builder::new()
            .name("hilos-write".into())
            .spawn(move || {
                let outcome = make().and_then(|bytes| {
                    std::fs::write(&path, bytes)
                        .map(|()| Done::Saved(path.display().to_string()))
                        .map_err(|e| format!("could not write '{}': {e}", path.display()))
                });
                let _ = tx.send(outcome);
            });
        if spawned.is_err() {
            let _ = self
                .done_tx
                .send(Err("could not start writing the file".to_string()));
        }
    }

    /// The path field, when there is no dialog: returns a path to use.
    pub fn prompt_window(&mut self, ctx: &egui::Context, lang: Lang) -> Option<(FileJob, PathBuf)> {
        let (job, mut text) = self.prompt.take()?;
        let mut chosen = None;
        let mut open = true;
        let mut close = false;
        egui::Window::new(job.label().get(lang))
            .id(egui::Id::unique("file_prompt"))
            .collapsible(false)
            .resizable(false)
            .anchor(egui::Align2::CENTER_TOP, [0.0, 120.0])
            .open(&mut open)
            .show(ctx, |ui| {
                if self.no_dialogs {
                    ui.label(RichText::new(i18n::NO_DIALOG.get(lang)).small().weak());
                }
                let label = ui.label(i18n::FILE_PATH.get(lang));
                let response = ui
                    .add(egui::TextEdit::singleline(&mut text).desired_width(360.0))
                    .labelled_by(label.id);
                let enter = response.lost_focus() && ui.input(|i| i.key_pressed(egui::Key::Enter));
                ui.horizontal(|ui| {
                    let ok = if job.opens() { i18n::OPEN } else { i18n::SAVE };
                    if ui.button(ok.get(lang)).clicked() || enter {
                        if !text.trim().is_empty() {
                            chosen = Some((job, PathBuf::from(text.trim())));
                        }
                        close = true;
                    }
                    if ui.button(i18n::CANCEL.get(lang)).clicked() {
                        close = true;
                    }
                });
            });
        if open && !close {
            self.prompt = Some((job, text));
        }
        chosen
    }

    /// The last result, for a few seconds.
    pub fn status_line(&self, ui: &mut Ui, lang: Lang) {
        let Some((outcome, at)) = &self.status else {
            return;
        };
        if at.elapsed() > Duration::from_secs(8) {
            return;
        }
        match outcome {
            Ok(done) => {
                let (word, path) = match done {
                    Done::Saved(p) => (i18n::SAVED_TO, p),
                    Done::Opened(p) => (i18n::OPENED, p),
                };
                ui.label(
                    RichText::new(format!("{} {path}", word.get(lang)))
                        .small()
                        .color(egui::Color32::from_rgb(70, 190, 95)),
                )
            }
            Err(e) => ui.label(
                RichText::new(e)
                    .small()
                    .color(egui::Color32::from_rgb(240, 90, 80)),
            ),
        };
    }
}

/// Encode a screenshot as PNG.
pub fn png(image: &Arc<egui::ColorImage>) -> Result<Vec<u8>, String> {
    let [w, h] = image.size;
    let mut rgba = Vec::with_capacity(w * h * 4);
    for p in &image.pixels {
        rgba.extend_from_slice(&p.to_array());
    }
    let buffer = image::RgbaImage::from_raw(w as u32, h as u32, rgba)
        .ok_or_else(|| "the screenshot had an unexpected size".to_string())?;
    let mut out = std::io::Cursor::new(Vec::new());
    buffer
        .write_to(&mut out, image::ImageFormat::Png)
        .map_err(|e| format!("could not encode the PNG: {e}"))?;
    Ok(out.into_inner())
}
