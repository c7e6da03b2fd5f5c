//! The timeline: one lane per thread, coloured by state, over the shared
//! sliding time window; a legend of the states; hover for the details.

use eframe::egui;
use egui::{
    Align2, Color32, CornerRadius, FontId, Pos2, Rect, Sense, Stroke, StrokeKind, Ui, pos2, vec2,
};

use super::i18n;
use super::view::{Lane, TimeWindow, View};
use crate::lab::State;
use crate::lab::knobs::format_number;
use crate::lab::text::Lang;

/// Width of the lane-name column; the plots' y axes use it too so their
/// time axes line up with the timeline's.
pub const LABEL_WIDTH: f32 = 118.0;
pub const MAX_LANE: f32 = 20.0;
const MIN_LANE: f32 = 6.0;
const AXIS_HEIGHT: f32 = 16.0;

/// The fixed palette of thread states.
pub fn state_color(state: State) -> Color32 {
    match state {
        State::Created => Color32::from_rgb(125, 125, 125),
        State::Ready => Color32::from_rgb(150, 205, 255),
        State::Running => Color32::from_rgb(70, 190, 95),
        State::Sleeping => Color32::from_rgb(125, 110, 235),
        State::Blocked => Color32::from_rgb(230, 60, 55),
        State::Waiting => Color32::from_rgb(245, 170, 35),
        State::Done => Color32::from_rgb(72, 72, 78),
        State::Failed => Color32::from_rgb(225, 45, 205),
        State::Killed => Color32::from_rgb(120, 22, 22),
    }
}

/// The 9 states with their colours.
pub fn legend(ui: &mut Ui, lang: Lang) {
    ui.horizontal_wrapped(|ui| {
        ui.spacing_mut().item_spacing.x = 10.0;
        for state in State::ALL {
            ui.horizontal(|ui| {
                ui.spacing_mut().item_spacing.x = 4.0;
                let (rect, _) = ui.allocate_exact_size(vec2(12.0, 12.0), Sense::hover());
                ui.painter()
                    .rect_filled(rect, CornerRadius::same(2), state_color(state));
                ui.small(i18n::state_name(state).get(lang));
            });
        }
    });
}

/// Draw the lanes (scrolling when there are many) and the time axis.
/// Returns the width in points of the time track, for the next frame's thinning.
pub fn show(ui: &mut Ui, view: &View, lang: Lang, max_height: f32) -> f32 {
    let Some(window) = view.window else {
        return ui.available_width() - LABEL_WIDTH;
    };
    let n = view.lanes.len().max(1);
    let lane_h = (max_height / n as f32).clamp(MIN_LANE, MAX_LANE).floor();
    let total_h = lane_h * n as f32;
    let width = ui.available_width();
    let track_w = (width - LABEL_WIDTH).max(50.0);

    egui::ScrollArea::vertical()
        .id_salt("timeline_lanes")
        .max_height(max_height.max(lane_h))
        .auto_shrink([false, true])
        .show(ui, |ui| {
            let (rect, response) =
                ui.allocate_exact_size(vec2(ui.available_width(), total_h), Sense::hover());
            let track = Rect::from_min_max(pos2(rect.left() + LABEL_WIDTH, rect.top()), rect.max);
            paint_lanes(ui, view, window, rect, track, lane_h);
            if let Some(pos) = response.hover_pos() {
                let i = ((pos.y - rect.top()) / lane_h).floor();
                if i >= 0.0
                    && let Some(lane) = view.lanes.get(i as usize)
                {
                    // The vertical cursor line helps read the time across lanes.
                    if track.contains(pos) {
                        ui.painter().vline(
                            pos.x,
                            rect.y_range(),
                            Stroke::new(1.0, ui.visuals().weak_text_color()),
                        );
                    }
                    let t = window.start
                        + f64::from((pos.x - track.left()) / track.width()) * window.width();
                    let in_track = pos.x >= track.left();
                    response.on_hover_ui_at_pointer(|ui| {
                        hover_details(ui, view, lane, in_track.then_some(t), lang);
                    });
                }
            }
        });
    time_axis(ui, window, track_w, lang);
    track_w
}

fn paint_lanes(ui: &Ui, view: &View, window: TimeWindow, rect: Rect, track: Rect, lane_h: f32) {
    let painter = ui.painter_at(rect);
    let clip = ui.clip_rect();
    let visuals = ui.visuals();
    let px_per_s = f64::from(track.width()) / window.width();
    let x_of = |t: f64| track.left() + ((t - window.start) * px_per_s) as f32;
    let font_size = (lane_h - 3.0).min(13.0);
    let stripe = visuals.faint_bg_color;

    // Vertical grid lines at the axis ticks, behind the spans.
    for tick in ticks(window) {
        painter.vline(
            x_of(tick),
            rect.y_range(),
            Stroke::new(1.0, visuals.widgets.noninteractive.bg_stroke.color),
        );
    }

    for (i, lane) in view.lanes.iter().enumerate() {
        let top = rect.top() + i as f32 * lane_h;
        let lane_rect = Rect::from_min_size(pos2(rect.left(), top), vec2(rect.width(), lane_h));
        if !clip.intersects(lane_rect) {
            continue;
        }
        if i % 2 == 1 {
            painter.rect_filled(lane_rect, CornerRadius::ZERO, stripe);
        }
        // Spans, at most about one rectangle per pixel column.
        let gap = if lane_h >= 10.0 { 2.0 } else { 1.0 };
        let y = lane_rect.y_range().shrink(gap / 2.0 + 0.5);
        let mut painted_to = f32::NEG_INFINITY;
        let mut paint = |start: f64, end: f64, state: State| {
            let x0 = x_of(start.max(window.start)).max(track.left());
            let x1 = x_of(end.min(window.end)).min(track.right());
            if x1 < painted_to || x1 < x0 {
                return;
            }
            let x0 = x0.max(painted_to);
            let x1 = x1.max(x0 + 1.0);
            painter.rect_filled(
                Rect::from_x_y_ranges(x0..=x1, y),
                CornerRadius::ZERO,
                state_color(state),
            );
            painted_to = x1;
        };
        for s in &lane.spans {
            paint(s.start, s.end, s.state);
        }
        if lane.since <= view.now {
            paint(lane.since, view.now, lane.state);
        }
        // The lane's name.
        if font_size >= 7.0 {
            let color = if lane.failure.is_some() {
                state_color(State::Failed)
            } else if lane.state.is_final() {
                visuals.weak_text_color()
            } else {
                visuals.text_color()
            };
            let label_clip = Rect::from_min_size(lane_rect.min, vec2(LABEL_WIDTH - 6.0, lane_h));
            painter.with_clip_rect(label_clip.intersect(clip)).text(
                pos2(lane_rect.left() + 4.0, lane_rect.center().y),
                Align2::LEFT_CENTER,
                &*lane.name,
                FontId::proportional(font_size),
                color,
            );
        }
    }
    painter.rect_stroke(
        track,
        CornerRadius::ZERO,
        Stroke::new(1.0, visuals.widgets.noninteractive.bg_stroke.color),
        StrokeKind::Inside,
    );
}

fn hover_details(ui: &mut Ui, view: &View, lane: &Lane, t: Option<f64>, lang: Lang) {
    let daemon = if lane.daemon {
        format!("  ({})", i18n::DAEMON.get(lang))
    } else {
        String::new()
    };
    ui.strong(format!("{}{daemon}", lane.name));
    let span = t.and_then(|t| lane.span_at(t, view.now));
    let (state, target) = match span {
        Some(s) => (s.state, s.target),
        None => (lane.state, lane.target),
    };
    let mut line = format!(
        "{}: {}",
        i18n::HOVER_STATE.get(lang),
        i18n::state_name(state).get(lang)
    );
    if let Some(target) = target {
        line.push_str(&format!(
            " {} {}",
            i18n::HOVER_ON.get(lang),
            view.target_name(target)
        ));
    }
    ui.label(egui::RichText::new(line).color(state_color(state)));
    if let Some(s) = span {
        let still = if s.end >= view.now && s.start == lane.since && !lane.state.is_final() {
            format!(" {}", i18n::STILL.get(lang))
        } else {
            String::new()
        };
        ui.label(format!(
            "{} {:.3} s, {} {} s{still}",
            i18n::HOVER_FROM.get(lang),
            s.start,
            i18n::HOVER_FOR.get(lang),
            format_duration(s.end - s.start),
        ));
    }
    if let Some(failure) = &lane.failure {
        ui.label(
            egui::RichText::new(format!("{}: {failure}", i18n::HOVER_FAILED.get(lang)))
                .color(state_color(State::Failed)),
        );
    }
}

fn format_duration(seconds: f64) -> String {
    if seconds < 0.01 {
        format!("{seconds:.4}")
    } else {
        format!("{seconds:.3}")
    }
}

/// A readable tick spacing for a window of `width` seconds (about 5–10 ticks).
pub fn tick_step(width: f64) -> f64 {
    const STEPS: [f64; 12] = [
        0.1, 0.2, 0.5, 1.0, 2.0, 5.0, 10.0, 15.0, 30.0, 60.0, 120.0, 300.0,
    ];
    STEPS
        .iter()
        .copied()
        .find(|s| width / s <= 10.0)
        .unwrap_or(600.0)
}

fn time_axis(ui: &mut Ui, window: TimeWindow, track_w: f32, lang: Lang) {
    let (rect, _) = ui.allocate_exact_size(vec2(ui.available_width(), AXIS_HEIGHT), Sense::hover());
    let painter = ui.painter_at(rect);
    let left = rect.left() + LABEL_WIDTH;
    let px_per_s = f64::from(track_w) / window.width();
    let color = ui.visuals().weak_text_color();
    for tick in ticks(window) {
        let x = left + ((tick - window.start) * px_per_s) as f32;
        painter.vline(x, rect.top()..=rect.top() + 4.0, Stroke::new(1.0, color));
        let anchor = if x > rect.right() - 20.0 {
            Align2::RIGHT_TOP
        } else {
            Align2::CENTER_TOP
        };
        painter.text(
            Pos2::new(x, rect.top() + 3.0),
            anchor,
            format!("{} {}", format_number(tick), i18n::SECONDS.get(lang)),
            FontId::proportional(10.5),
            color,
        );
    }
}

/// The tick times inside the window, computed from integers so they do not drift.
fn ticks(window: TimeWindow) -> impl Iterator<Item = f64> {
    let step = tick_step(window.width());
    let first = (window.start / step - 1e-9).ceil() as i64;
    (first..)
        .map(move |k| k as f64 * step)
        .take_while(move |t| *t <= window.end + 1e-9)
}
