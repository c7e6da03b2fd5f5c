//! The scenario's plots under the timeline (same time window, set explicitly
//! every frame) and the frame-time plot.

use eframe::egui;
use egui::{Color32, RichText, Ui};
use egui_plot::{GridInput, GridMark, HLine, HoverPosition, Line, LineStyle, Plot, PlotPoints};

use super::frames::{FrameTimes, HISTORY};
use super::i18n;
use super::paint::{LABEL_WIDTH, legend_entry};
use super::timeline;
use super::view::{AxisAction, PlotData, TimeWindow, View};
use crate::lab::knobs::format_number;
use crate::lab::text::Lang;
use crate::scenarios::SeriesRef;

pub const PLOT_HEIGHT: f32 = 140.0;

const COUNTER_COLORS: [Color32; 4] = [
    Color32::from_rgb(90, 200, 120),
    Color32::from_rgb(190, 140, 255),
    Color32::from_rgb(255, 200, 90),
    Color32::from_rgb(120, 210, 230),
];

/// A second level or waiters line in the same plot gets the second shade,
/// so two locks' lines can be told apart.
const LEVEL_COLORS: [Color32; 2] = [
    Color32::from_rgb(90, 170, 255),
    Color32::from_rgb(80, 215, 200),
];
const WAITERS_COLORS: [Color32; 2] = [
    Color32::from_rgb(245, 170, 35),
    Color32::from_rgb(235, 110, 190),
];

fn line_color(series: SeriesRef, same_kind_before: usize) -> Color32 {
    match series {
        SeriesRef::Level(_) => LEVEL_COLORS[same_kind_before % LEVEL_COLORS.len()],
        SeriesRef::Capacity(_) => Color32::from_rgb(240, 90, 80),
        SeriesRef::Waiters(_) => WAITERS_COLORS[same_kind_before % WAITERS_COLORS.len()],
        SeriesRef::Counter(_) => COUNTER_COLORS[same_kind_before % COUNTER_COLORS.len()],
        SeriesRef::AliveThreads => Color32::from_rgb(150, 150, 175),
        SeriesRef::Processes => Color32::from_rgb(204, 121, 167),
    }
}

/// The colour of each line of a plot, in order.
fn line_colors(plot: &PlotData) -> Vec<Color32> {
    let kind = |s: SeriesRef| std::mem::discriminant(&s);
    plot.lines
        .iter()
        .enumerate()
        .map(|(i, line)| {
            let before = plot.lines[..i]
                .iter()
                .filter(|l| kind(l.series) == kind(line.series))
                .count();
            line_color(line.series, before)
        })
        .collect()
}

/// Every plot the scenario declares, stacked. Returns what the user did to
/// the shared time axis on them (drag to pan, Ctrl+wheel to zoom).
pub fn scenario_plots(ui: &mut Ui, view: &View, lang: Lang, height: f32) -> Vec<AxisAction> {
    let mut axis = Vec::new();
    let Some(window) = view.window else {
        return axis;
    };
    for (i, plot) in view.plots.iter().enumerate() {
        // Title and legend above the plot, so the legend never hides the
        // data; wrapped, so a long legend (Spanish labels are longer) takes
        // a second row instead of widening the whole centre under the knobs.
        ui.horizontal_wrapped(|ui| {
            ui.label(RichText::new(plot.title.get(lang)).strong());
            ui.add_space(12.0);
            for (line, color) in plot.lines.iter().zip(line_colors(plot)) {
                legend_entry(ui, color, line.label.get(lang));
            }
        });
        let response = one_plot(ui, i, plot, window, lang, height);
        timeline::axis_input(
            ui,
            &response.response,
            *response.transform.frame(),
            window,
            &mut axis,
        );
    }
    axis
}

/// A plot the user cannot zoom or drag: the window sets its bounds every
/// frame so every plot shares the timeline's sliding axis.
fn fixed_plot<'a>(plot: Plot<'a>, height: f32) -> Plot<'a> {
    plot.height(height)
        .allow_zoom(false)
        .allow_drag(false)
        .allow_scroll(false)
        .allow_boxed_zoom(false)
        .allow_double_click_reset(false)
}

fn one_plot(
    ui: &mut Ui,
    index: usize,
    data: &PlotData,
    window: TimeWindow,
    lang: Lang,
    height: f32,
) -> egui_plot::PlotResponse<()> {
    let y_max = if data.y_max > 0.0 { data.y_max } else { 1.0 };
    let seconds = i18n::SECONDS.get(lang);
    // Enough decimals to tell apart two points a pixel apart when zoomed in.
    let decimals = (2.0 - (window.width() / 10.0).log10()).clamp(2.0, 6.0) as usize;
    fixed_plot(Plot::new(("scenario_plot", index)), height)
        .show_x(true)
        .show_y(true)
        .y_grid_spacer(nice_marks)
        .y_axis_min_width(LABEL_WIDTH)
        .x_axis_formatter(move |mark, _| format!("{} {seconds}", format_number(mark.value)))
        .label_formatter(move |hover| match hover {
            HoverPosition::NearDataPoint {
                plot_name,
                position,
                ..
            } => Some(format!(
                "{plot_name}\n{} @ {:.decimals$} {seconds}",
                format_number(position.y),
                position.x
            )),
            HoverPosition::Elsewhere { .. } => None,
        })
        .show(ui, |plot_ui| {
            plot_ui.set_plot_bounds_x(window.start..=window.end);
            // Below zero too when a level goes negative (free permits after
            // the permits were lowered below the holders).
            let lo = data.y_min.min(0.0);
            let span = (y_max - lo).max(1e-9);
            plot_ui.set_plot_bounds_y(lo - 0.04 * span..=y_max + 0.18 * span);
            for (line, color) in data.lines.iter().zip(line_colors(data)) {
                let mut l = Line::new(
                    line.label.get(lang),
                    PlotPoints::from_iter(line.points.iter().copied()),
                )
                .color(color)
                .width(1.6)
                // Steps have two points per x; egui_plot's banding would
                // blend them into slopes. The points are already thinned.
                .allow_band(false);
                match line.series {
                    SeriesRef::Capacity(_) => {
                        l = l.style(LineStyle::dashed_dense()).width(2.0);
                    }
                    SeriesRef::Level(_) | SeriesRef::AliveThreads | SeriesRef::Processes => {
                        l = l.fill(0.0).fill_alpha(0.25);
                    }
                    _ => {}
                }
                plot_ui.line(l);
            }
        })
}

/// The last frames' CPU time and the real gap between frames, in ms.
pub fn frame_time_plot(ui: &mut Ui, frames: &FrameTimes, lang: Lang, height: f32) {
    // The newest frame at the right edge.
    let offset = (HISTORY - frames.len()) as f64;
    let cpu: Vec<[f64; 2]> = frames
        .cpu_ms()
        .enumerate()
        .map(|(i, v)| [offset + i as f64, f64::from(v)])
        .collect();
    let gap: Vec<[f64; 2]> = frames
        .gap_ms()
        .enumerate()
        .map(|(i, v)| [offset + i as f64, f64::from(v)])
        .collect();
    let y_max = cpu
        .iter()
        .chain(&gap)
        .map(|p| p[1])
        .fold(20.0_f64, f64::max);
    let budget_color = Color32::from_rgb(120, 120, 120);
    let gap_color = Color32::from_rgb(150, 205, 255);
    let cpu_color = Color32::from_rgb(245, 170, 35);
    ui.horizontal(|ui| {
        legend_entry(ui, cpu_color, i18n::FRAME_CPU.get(lang));
        legend_entry(ui, gap_color, i18n::FRAME_GAP.get(lang));
        legend_entry(ui, budget_color, i18n::BUDGET.get(lang));
    });
    fixed_plot(Plot::new("frame_times"), height)
        .y_axis_min_width(LABEL_WIDTH)
        .show_x(false)
        .y_grid_spacer(nice_marks)
        .x_axis_formatter(|_, _| String::new())
        .y_axis_formatter(|mark, _| format!("{} ms", format_number(mark.value)))
        .show(ui, |plot_ui| {
            plot_ui.set_plot_bounds_x(0.0..=HISTORY as f64);
            plot_ui.set_plot_bounds_y(0.0..=y_max * 1.15);
            plot_ui.hline(
                HLine::new(i18n::BUDGET.get(lang), 1000.0 / 60.0)
                    .color(budget_color)
                    .style(LineStyle::dashed_dense()),
            );
            plot_ui.line(
                Line::new(i18n::FRAME_GAP.get(lang), PlotPoints::new(gap))
                    .color(gap_color)
                    .width(1.2)
                    .allow_band(false),
            );
            plot_ui.line(
                Line::new(i18n::FRAME_CPU.get(lang), PlotPoints::new(cpu))
                    .color(cpu_color)
                    .fill(0.0)
                    .fill_alpha(0.3)
                    .width(1.6)
                    .allow_band(false),
            );
        });
}

/// About five labelled y marks at 1-2-5 steps (whole numbers at least): the
/// default base-10 grid labels only 0 and 10 on a plot of 0..90.
fn nice_marks(input: GridInput) -> Vec<GridMark> {
    let (lo, hi) = input.bounds;
    let span = hi - lo;
    if !(span.is_finite() && span > 0.0) {
        return Vec::new();
    }
    // Marks at least ~32 points apart (base_step_size is 8 points' worth),
    // where egui_plot draws their labels at full strength.
    let raw = (span / 5.0).max(input.base_step_size * 4.0);
    let magnitude = 10_f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 5.0, 10.0]
        .iter()
        .map(|m| m * magnitude)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * magnitude)
        .max(1.0);
    let first = (lo / step).ceil() as i64;
    let last = (hi / step).floor() as i64;
    (first..=last)
        .map(|k| GridMark {
            value: k as f64 * step,
            step_size: step,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nice_marks_label_a_few_round_values() {
        let marks = nice_marks(GridInput {
            bounds: (-3.0, 94.0),
            base_step_size: 1.0,
        });
        let values: Vec<f64> = marks.iter().map(|m| m.value).collect();
        assert_eq!(values, vec![0.0, 20.0, 40.0, 60.0, 80.0]);
        let marks = nice_marks(GridInput {
            bounds: (-0.4, 11.8),
            base_step_size: 0.1,
        });
        let values: Vec<f64> = marks.iter().map(|m| m.value).collect();
        assert_eq!(values, vec![0.0, 5.0, 10.0]);
        // A short plot: fewer marks, so their labels stay readable.
        let marks = nice_marks(GridInput {
            bounds: (0.0, 230.0),
            base_step_size: 230.0 / 95.0 * 8.0,
        });
        assert!(marks.len() <= 3, "{marks:?}");
    }
}
