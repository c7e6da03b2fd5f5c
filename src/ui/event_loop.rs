//! The asyncio scenarios' own view: the event loop's vital signs above the
//! timeline (tasks alive, the ready queue, the loop's lag now and at its
//! worst), the name of the option a strategy knob picks, and for waiters a
//! scenario measures, memory and start-up time against how many started.
//! Everything comes from the record (counters the loop keeps), so the view
//! knows nothing of any one scenario.

use eframe::egui;
use egui::{Color32, RichText, Ui};
use egui_plot::{GridMark, HoverPosition, Line, Plot, PlotPoints};

use super::Action;
use super::scenario_view::{ExtraCx, ScenarioExtra};
use crate::lab::aio::{EVENT_LOOP, LOOP_LAG_MS};
use crate::lab::knobs::format_number;
use crate::lab::record::Record;
use crate::lab::text::Lang;
use crate::scenarios::AgainstN;
use crate::t;

const COLORS: [Color32; 2] = [
    Color32::from_rgb(90, 200, 120),
    Color32::from_rgb(240, 130, 90),
];

pub struct EventLoopExtra {
    against_n: &'static [AgainstN],
}

impl EventLoopExtra {
    pub fn new(against_n: &'static [AgainstN]) -> Self {
        EventLoopExtra { against_n }
    }
}

/// (N started, MB above the first sample, ms since the first sample) for
/// each sample of one kind of waiter.
fn samples(record: &Record, a: &AgainstN) -> Vec<[f64; 3]> {
    let (Some(started), Some(rss)) = (record.counter(a.started), record.counter(a.rss_kb)) else {
        return Vec::new();
    };
    let rss: Vec<(f64, f64)> = rss.series.raw().collect();
    let rss_at = |t: f64| {
        let i = rss.partition_point(|(ts, _)| *ts <= t);
        i.checked_sub(1).map(|i| rss[i].1)
    };
    let mut out = Vec::new();
    let mut first: Option<(f64, f64)> = None;
    for (t, n) in started.series.raw() {
        let Some(kb) = rss_at(t) else { continue };
        let (t0, kb0) = *first.get_or_insert((t, kb));
        out.push([n, (kb - kb0) / 1024.0, (t - t0) * 1000.0]);
    }
    out
}

fn vital_signs(ui: &mut Ui, record: &Record, lang: Lang) {
    let ready = record.resource_by_name(EVENT_LOOP);
    let lag = record.counter(LOOP_LAG_MS);
    ui.horizontal_wrapped(|ui| {
        ui.label(RichText::new(t!("Event loop", "Bucle de eventos").get(lang)).strong());
        let mut item = |label: &str, value: String| {
            ui.label(RichText::new(format!("{label}:")).weak());
            ui.label(RichText::new(value).monospace().strong());
            ui.add_space(10.0);
        };
        item(
            t!("tasks alive", "tareas vivas").get(lang),
            record.alive_tasks().to_string(),
        );
        if let Some(r) = ready {
            item(
                t!("ready queue", "cola de listas").get(lang),
                r.level.to_string(),
            );
            let most = if r.level_series.is_empty() {
                0.0
            } else {
                r.level_series.max
            };
            item(
                t!("longest ready queue", "cola de listas más larga").get(lang),
                format_number(most),
            );
        }
        if let Some(c) = lag {
            item(
                t!("loop lag (ms)", "retraso del bucle (ms)").get(lang),
                c.value.to_string(),
            );
            let worst = if c.series.is_empty() {
                0.0
            } else {
                c.series.max
            };
            item(
                t!("worst lag (ms)", "peor retraso (ms)").get(lang),
                format_number(worst),
            );
        }
    });
}

/// N on a log scale: 1, 10, 100, 1k, 10k, 100k.
fn log_marks(input: egui_plot::GridInput) -> Vec<GridMark> {
    let (lo, hi) = input.bounds;
    let mut marks = Vec::new();
    let mut k = lo.ceil().max(0.0);
    while k <= hi.floor() {
        marks.push(GridMark {
            value: k,
            step_size: 1.0,
        });
        k += 1.0;
    }
    marks
}

fn format_n(log_n: f64) -> String {
    let n = 10f64.powf(log_n).round();
    if n >= 1000.0 {
        format!("{}k", format_number((n / 100.0).round() / 10.0))
    } else {
        format_number(n)
    }
}

fn against_n_plots(ui: &mut Ui, record: &Record, against: &[AgainstN], lang: Lang) {
    let data: Vec<(&AgainstN, Vec<[f64; 3]>)> = against
        .iter()
        .map(|a| (a, samples(record, a)))
        .filter(|(_, s)| s.len() > 1)
        .collect();
    if data.is_empty() {
        return;
    }
    // Room for both side by side, their spacing and a margin.
    let width = ((ui.available_width() - 24.0) / 2.0).max(200.0);
    let plots = [
        (
            t!(
                "Memory (MB above the start) against N started",
                "Memoria (MB sobre el inicio) frente a N iniciados"
            ),
            1usize,
        ),
        (
            t!(
                "Start-up time (ms) against N started",
                "Tiempo de arranque (ms) frente a N iniciados"
            ),
            2usize,
        ),
    ];
    ui.horizontal(|ui| {
        for (k, (title, pick)) in plots.into_iter().enumerate() {
            ui.vertical(|ui| {
                ui.set_width(width);
                ui.horizontal_wrapped(|ui| {
                    ui.label(RichText::new(title.get(lang)).strong().small());
                    for (i, (a, _)) in data.iter().enumerate() {
                        let color = COLORS[i % COLORS.len()];
                        super::paint::swatch_and_label(
                            ui,
                            egui::vec2(12.0, 3.0),
                            a.label.get(lang),
                            |painter, swatch| {
                                painter.rect_filled(swatch, 1.0, color);
                            },
                        );
                    }
                });
                Plot::new(("against_n", k))
                    .height(120.0)
                    .width(width)
                    .allow_zoom(false)
                    .allow_drag(false)
                    .allow_scroll(false)
                    .allow_boxed_zoom(false)
                    .include_y(0.0)
                    .x_grid_spacer(log_marks)
                    .x_axis_formatter(|mark, _| format_n(mark.value))
                    .label_formatter(|hover| match hover {
                        HoverPosition::NearDataPoint {
                            plot_name,
                            position,
                            ..
                        } => Some(format!(
                            "{plot_name}\nN = {}: {}",
                            format_n(position.x),
                            format_number((position.y * 10.0).round() / 10.0)
                        )),
                        HoverPosition::Elsewhere { .. } => None,
                    })
                    .show(ui, |plot_ui| {
                        for (i, (a, s)) in data.iter().enumerate() {
                            // N on a log scale, so 50 threads and 100,000
                            // tasks both show.
                            let points: PlotPoints = s
                                .iter()
                                .filter(|p| p[0] >= 1.0)
                                .map(|p| [p[0].log10(), p[pick]])
                                .collect();
                            plot_ui.line(
                                Line::new(a.label.get(lang), points)
                                    .color(COLORS[i % COLORS.len()])
                                    .width(1.8),
                            );
                        }
                    });
            });
        }
    });
}

impl ScenarioExtra for EventLoopExtra {
    fn show(&mut self, ui: &mut Ui, cx: &ExtraCx, _actions: &mut Vec<Action>) {
        let Some(record) = cx.record else {
            return;
        };
        vital_signs(ui, record, cx.lang);
        if !self.against_n.is_empty() {
            against_n_plots(ui, record, self.against_n, cx.lang);
        }
    }
}
