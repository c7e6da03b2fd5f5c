//! The view of [`crate::scenarios::Extra::Processes`]: a row per child
//! process (pid, state, exit code, CPU %, who holds its GIL), the CPU use
//! of each and of the whole machine over time, and optionally each
//! strategy's speed-up against the number of workers with the cores drawn.
//! It reads only the window's copy of the record and the metrics.

use eframe::egui;
use egui::{Color32, RichText, Ui};
use egui_plot::{Line, LineStyle, Plot, PlotPoints, VLine};

use super::Action;
use super::i18n;
use super::paint::state_color;
use super::scenario_view::{ExtraCx, ScenarioExtra};
use crate::lab::State;
use crate::lab::record::{ProcessTrack, Record};
use crate::lab::text::{Lang, Text};
use crate::t;

const PROCESSES: Text = t!("Child processes", "Procesos hijos");
const NONE_YET: Text = t!(
    "The child processes appear here once started.",
    "Los procesos hijos aparecen aquí al arrancar."
);
const NAME: Text = t!("Process", "Proceso");
const PID: Text = t!("pid", "pid");
const STATE: Text = t!("state", "estado");
const EXITCODE: Text = t!("exitcode", "exitcode");
const CPU: Text = t!("CPU %", "CPU %");
const GIL_HOLDER: Text = t!("GIL held by", "GIL en manos de");
const NOT_STARTED: Text = t!("not started", "sin arrancar");
const ALIVE: Text = t!("running", "en ejecución");
const CPU_TITLE: Text = t!(
    "CPU use (% of one core; the machine: % of all cores)",
    "Uso de CPU (% de un núcleo; la máquina: % de todos los núcleos)"
);
const MACHINE: Text = t!("the machine", "la máquina");
const MAIN: Text = t!("MainProcess (this program)", "MainProcess (este programa)");
const SPEEDUP_TITLE: Text = t!(
    "Speed-up against one after another, by number of workers",
    "Aceleración frente a uno tras otro, según el número de trabajadores"
);
const CORES: Text = t!("cores", "núcleos");
const IDEAL: Text = t!("one per core (ideal)", "uno por núcleo (ideal)");
const MORE: Text = t!("more processes", "procesos más");

/// The most processes the table lists and the CPU plot draws.
const MAX_ROWS: usize = 6;
const MAX_LINES: usize = 8;

const LINE_COLORS: [Color32; 6] = [
    Color32::from_rgb(0, 158, 115),
    Color32::from_rgb(230, 159, 0),
    Color32::from_rgb(86, 180, 233),
    Color32::from_rgb(204, 121, 167),
    Color32::from_rgb(213, 94, 0),
    Color32::from_rgb(240, 228, 66),
];

pub struct ProcessesExtra {
    pub strategies: &'static [(&'static str, Text)],
}

/// What a process's row says about its state.
fn state_text(p: &ProcessTrack, lang: Lang) -> (String, Color32) {
    match (p.started, p.end_state) {
        (None, None) => (
            NOT_STARTED.get(lang).to_string(),
            state_color(State::Created),
        ),
        (_, Some(s)) => (i18n::state_name(s).get(lang).to_string(), state_color(s)),
        (Some(_), None) => (ALIVE.get(lang).to_string(), state_color(State::Running)),
    }
}

impl ScenarioExtra for ProcessesExtra {
    fn show(&mut self, ui: &mut Ui, cx: &ExtraCx, _actions: &mut Vec<Action>) {
        let lang = cx.lang;
        let Some(record) = cx.record else {
            ui.label(RichText::new(NONE_YET.get(lang)).weak());
            return;
        };
        let procs: Vec<&ProcessTrack> = record.processes().collect();
        ui.columns(2, |cols| {
            self.table(&mut cols[0], cx, record, &procs);
            self.cpu_plot(&mut cols[1], cx, record, &procs);
        });
        if !self.strategies.is_empty() {
            self.speedup(ui, cx, record);
        }
    }
}

impl ProcessesExtra {
    fn table(&self, ui: &mut Ui, cx: &ExtraCx, record: &Record, procs: &[&ProcessTrack]) {
        let lang = cx.lang;
        ui.label(RichText::new(PROCESSES.get(lang)).strong());
        if procs.is_empty() {
            ui.label(RichText::new(NONE_YET.get(lang)).weak());
        } else {
            // The newest ones (the oldest have ended).
            let skip = procs.len().saturating_sub(MAX_ROWS);
            // Scrolled sideways when its column is narrower than the table
            // (Spanish headers, long names): a grid wider than its column
            // would widen the whole centre under the knobs.
            egui::ScrollArea::horizontal()
                .id_salt("processes_table")
                .show(ui, |ui| {
                    egui::Grid::new("processes_grid")
                        .striped(true)
                        .spacing(egui::vec2(16.0, 2.0))
                        .show(ui, |ui| {
                            for h in [NAME, PID, STATE, EXITCODE, CPU, GIL_HOLDER] {
                                ui.label(RichText::new(h.get(lang)).strong());
                            }
                            ui.end_row();
                            for p in procs.iter().skip(skip) {
                                let (state, color) = state_text(p, lang);
                                ui.label(RichText::new(&*p.name).monospace());
                                ui.label(p.pid.map_or("-".into(), |pid| pid.to_string()));
                                let state = ui.label(RichText::new(state).color(color));
                                if let Some(f) = &p.failure {
                                    state.on_hover_text(f);
                                }
                                ui.label(p.exitcode.map_or("None".into(), |c| c.to_string()));
                                ui.label(if p.is_alive() {
                                    format!("{:.0}", p.cpu_now)
                                } else {
                                    "-".into()
                                });
                                ui.label(
                                    super::view::gil_holder(record, p)
                                        .unwrap_or_else(|| "-".into()),
                                );
                                ui.end_row();
                            }
                        });
                });
            if skip > 0 {
                ui.label(RichText::new(format!("+{skip} {}", MORE.get(lang))).weak());
            }
        }
    }

    fn cpu_plot(&self, ui: &mut Ui, cx: &ExtraCx, record: &Record, procs: &[&ProcessTrack]) {
        let lang = cx.lang;
        let Some(window) = cx.view.window else {
            return;
        };
        let now = cx.view.now;
        let dt = window.width() / 400.0;
        ui.label(RichText::new(CPU_TITLE.get(lang)).strong());
        let machine = record.cpu_machine.steps(window.start, window.end, now, dt);
        let main = record.cpu_main.steps(window.start, window.end, now, dt);
        let lines: Vec<(String, Vec<[f64; 2]>)> = procs
            .iter()
            .rev()
            .filter(|p| p.started.is_some())
            .take(MAX_LINES)
            .map(|p| {
                (
                    p.name.to_string(),
                    p.cpu.steps(window.start, window.end, now, dt),
                )
            })
            .collect();
        // The legend above the plot, never over its lines.
        ui.horizontal_wrapped(|ui| {
            super::paint::legend_entry(ui, Color32::from_gray(200), MACHINE.get(lang));
            super::paint::legend_entry(ui, Color32::from_rgb(0, 114, 178), MAIN.get(lang));
            for (i, (name, _)) in lines.iter().enumerate() {
                super::paint::legend_entry(ui, LINE_COLORS[i % LINE_COLORS.len()], name);
            }
        });
        Plot::new("cpu_plot")
            .height(110.0)
            .allow_zoom(false)
            .allow_drag(false)
            .allow_scroll(false)
            .show(ui, |plot| {
                plot.set_plot_bounds_x(window.start..=window.end);
                plot.set_plot_bounds_y(0.0..=110.0);
                plot.line(
                    Line::new(MACHINE.get(lang), PlotPoints::new(machine))
                        .color(Color32::from_gray(200))
                        .width(2.0)
                        .fill(0.0)
                        .fill_alpha(0.15)
                        .allow_band(false),
                );
                plot.line(
                    Line::new(MAIN.get(lang), PlotPoints::new(main))
                        .color(Color32::from_rgb(0, 114, 178))
                        .width(1.2)
                        .allow_band(false),
                );
                for (i, (name, points)) in lines.into_iter().enumerate() {
                    plot.line(
                        Line::new(name, PlotPoints::new(points))
                            .color(LINE_COLORS[i % LINE_COLORS.len()])
                            .width(1.4)
                            .allow_band(false),
                    );
                }
            });
    }

    fn speedup(&self, ui: &mut Ui, cx: &ExtraCx, record: &Record) {
        let lang = cx.lang;
        let cores = record.counter_value("cores").unwrap_or(0) as f64;
        let one = record.counter_value("one_task_ms").unwrap_or(0) as f64;
        let series: Vec<(&str, Vec<[f64; 2]>)> = self
            .strategies
            .iter()
            .map(|(key, label)| {
                let points = (1..=16)
                    .filter_map(|k| {
                        let t = record.counter_value(&format!("sweep.{key}.{k}"))? as f64;
                        (t > 0.0 && one > 0.0).then(|| [k as f64, one * k as f64 / t])
                    })
                    .collect();
                (label.get(lang), points)
            })
            .collect();
        if series.iter().all(|(_, p)| p.is_empty()) {
            return;
        }
        let max_k = series
            .iter()
            .flat_map(|(_, p)| p.iter().map(|q| q[0]))
            .fold(2.0_f64, f64::max);
        let ideal_color = Color32::from_gray(150);
        let cores_color = Color32::from_rgb(213, 94, 0);
        // Title and legend above the plot, never over its points.
        ui.horizontal_wrapped(|ui| {
            ui.label(RichText::new(SPEEDUP_TITLE.get(lang)).strong());
            ui.add_space(12.0);
            for (i, (label, _)) in series.iter().enumerate() {
                super::paint::legend_entry(ui, LINE_COLORS[i % LINE_COLORS.len()], label);
            }
            super::paint::legend_entry(ui, ideal_color, IDEAL.get(lang));
            if cores > 0.0 {
                super::paint::legend_entry(
                    ui,
                    cores_color,
                    &format!("{} = {cores}", CORES.get(lang)),
                );
            }
        });
        Plot::new("speedup_plot")
            .height(140.0)
            .allow_zoom(false)
            .allow_drag(false)
            .allow_scroll(false)
            .y_axis_min_width(super::paint::LABEL_WIDTH)
            .show(ui, |plot| {
                plot.set_plot_bounds_x(0.5..=max_k + 0.5);
                plot.set_plot_bounds_y(0.0..=cores.max(2.0) + 0.6);
                let ideal: Vec<[f64; 2]> = (1..=max_k as usize)
                    .map(|k| [k as f64, (k as f64).min(cores.max(1.0))])
                    .collect();
                plot.line(
                    Line::new(IDEAL.get(lang), PlotPoints::new(ideal))
                        .color(ideal_color)
                        .style(LineStyle::dotted_dense())
                        .allow_band(false),
                );
                if cores > 0.0 {
                    plot.vline(
                        VLine::new(format!("{} = {cores}", CORES.get(lang)), cores)
                            .color(cores_color)
                            .style(LineStyle::dashed_dense()),
                    );
                }
                for (i, (label, points)) in series.into_iter().enumerate() {
                    plot.line(
                        Line::new(label, PlotPoints::new(points))
                            .color(LINE_COLORS[i % LINE_COLORS.len()])
                            .width(2.0)
                            .allow_band(false),
                    );
                }
            });
    }
}
