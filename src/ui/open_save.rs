//! Opening and saving files from the window: exports, setups and step
//! mode's schedules, through the File menu's dialogs (or the path field).
//! A file that cannot be used leaves a message and changes nothing.

use std::time::Instant;

use eframe::egui;

use super::*;

impl HilosApp {
    /// Exports need a run; say so when there is none.
    pub(super) fn export_ready(&mut self, job: FileJob) -> bool {
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
    pub(super) fn use_file(&mut self, job: FileJob, path: std::path::PathBuf, ctx: &egui::Context) {
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
    pub(super) fn index_of(&self, scenario: &Scenario) -> Result<usize, String> {
        self.controller
            .scenarios()
            .iter()
            .position(|s| s.id == scenario.id)
            .ok_or_else(|| format!("'{}' is not in this window", scenario.id))
    }

    /// Select scenario `i` and set the knobs a file gave (checked when read).
    pub(super) fn select_with_knobs(&mut self, i: usize, values: &[(&'static str, f64)]) {
        self.select(i);
        let knobs = self.controller.knobs().clone();
        for (name, v) in values {
            if let Ok(k) = knobs.index_of(name) {
                self.controller.set_knob(k, *v);
            }
        }
    }

    /// The schedule of the gated run, as a file keeps it.
    pub(super) fn schedule_json(&self) -> Option<String> {
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
}
