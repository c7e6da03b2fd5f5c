//! The timeline: one lane per thread, coloured by state, grouped by role
//! ("Producer × 64" is one lane showing the share of its threads in each state
//! until opened), over the time window every plot shares; a legend of the
//! states; hover for details, drag to pan, Ctrl+wheel to zoom.

use eframe::egui;
use egui::{
    Align2, Color32, CornerRadius, FontId, Pos2, Rect, RichText, Sense, Stroke, StrokeKind, Ui,
    pos2, vec2,
};

use super::i18n;
use super::paint::{LABEL_WIDTH, state_color};
use super::view::{AxisAction, Row, TimeWindow, View};
use crate::lab::State;
use crate::lab::knobs::format_number;
use crate::lab::record::{Record, Span, ThreadTrack};
use crate::lab::text::Lang;

/// Height of one lane: lanes keep a readable height and the timeline scrolls.
pub const LANE: f32 = 18.0;
const AXIS_HEIGHT: f32 = 16.0;

/// Diagonal stripes over a blocked span, wide enough to show them.
pub fn hatch(painter: &egui::Painter, rect: Rect) {
    if rect.width() < 4.0 || rect.height() < 4.0 {
        return;
    }
    let painter = painter.with_clip_rect(rect.intersect(painter.clip_rect()));
    let stroke = Stroke::new(1.2, Color32::from_black_alpha(120));
    let h = rect.height();
    let mut x = rect.left() - h;
    while x < rect.right() {
        painter.line_segment([pos2(x, rect.bottom()), pos2(x + h, rect.top())], stroke);
        x += 5.0;
    }
}

/// Dots over a span of a thread waiting for the GIL: runnable, not
/// running, told apart from running without colour.
pub fn stipple(painter: &egui::Painter, rect: Rect) {
    if rect.width() < 4.0 || rect.height() < 4.0 {
        return;
    }
    let painter = painter.with_clip_rect(rect.intersect(painter.clip_rect()));
    let color = Color32::from_black_alpha(150);
    let mut x = rect.left() + 2.0;
    let mut row = 0;
    while x < rect.right() {
        let mut y = rect.top() + if row % 2 == 0 { 3.0 } else { 6.0 };
        while y < rect.bottom() - 1.0 {
            painter.circle_filled(pos2(x, y), 0.9, color);
            y += 6.0;
        }
        x += 3.0;
        row += 1;
    }
}

/// The order states stack in a group's lane, bottom up: the busy ones first.
const STACK: [State; State::COUNT] = [
    State::Running,
    State::GilWait,
    State::Ready,
    State::Blocked,
    State::Waiting,
    State::Sleeping,
    State::Created,
    State::Failed,
    State::Killed,
    State::Done,
];

/// The states with their colours, added to the caller's (wrapped) row. Each
/// entry is one allocation (swatch and name together), so the row wraps
/// between entries and never inside one: a name squeezed at the row's end
/// would otherwise break into a column of letters and widen the centre.
/// With asyncio tasks on the timeline, killed reads "killed / cancelled".
pub fn legend_items(ui: &mut Ui, lang: Lang, tasks: bool) {
    for state in State::ALL {
        let name = if tasks && state == State::Killed {
            i18n::KILLED_OR_CANCELLED
        } else {
            i18n::state_name(state)
        }
        .get(lang);
        super::paint::swatch_and_label(ui, vec2(12.0, 12.0), name, |painter, swatch| {
            painter.rect_filled(swatch, CornerRadius::same(2), state_color(state));
            if state == State::Blocked {
                hatch(painter, swatch);
            }
            if state == State::GilWait {
                stipple(painter, swatch);
            }
        });
    }
}

/// What the user did on the timeline this frame.
#[derive(Default)]
pub struct TimelineInput {
    pub axis: Vec<AxisAction>,
    /// A group header clicked: (role, collapsed before the click).
    pub toggled: Option<(std::sync::Arc<str>, bool)>,
    /// Width in points of the time track, for the next frame's resolution.
    pub track_width: f32,
}

/// Draw the rows (scrolling when there are many) and the time axis.
pub fn show(
    ui: &mut Ui,
    view: &View,
    record: &Record,
    lang: Lang,
    max_height: f32,
) -> TimelineInput {
    let mut input = TimelineInput {
        track_width: (ui.available_width() - LABEL_WIDTH).max(50.0),
        ..TimelineInput::default()
    };
    let Some(window) = view.window else {
        return input;
    };
    let n = view.rows.len().max(1);
    let total_h = LANE * n as f32;
    let track_w = input.track_width;

    egui::ScrollArea::vertical()
        .id_salt("timeline_lanes")
        .max_height(max_height.max(LANE))
        .auto_shrink([false, true])
        .show(ui, |ui| {
            let (rect, response) = ui
                .allocate_exact_size(vec2(ui.available_width(), total_h), Sense::click_and_drag());
            let track = Rect::from_min_max(pos2(rect.left() + LABEL_WIDTH, rect.top()), rect.max);
            paint_rows(ui, view, record, window, rect, track, lang, &mut input);
            axis_input(ui, &response, track, window, &mut input.axis);
            if let Some(pos) = response.hover_pos() {
                let i = ((pos.y - rect.top()) / LANE).floor();
                if i >= 0.0
                    && let Some(row) = view.rows.get(i as usize)
                {
                    if track.contains(pos) {
                        ui.painter().vline(
                            pos.x,
                            rect.y_range(),
                            Stroke::new(1.0, ui.visuals().weak_text_color()),
                        );
                    }
                    let t = window.start
                        + f64::from((pos.x - track.left()) / track.width()) * window.width();
                    let at = (pos.x >= track.left()).then_some(t);
                    response.on_hover_ui_at_pointer(|ui| {
                        hover_details(ui, view, record, row, at, window, track.width(), lang);
                    });
                }
            }
        });
    time_axis(ui, window, track_w, lang);
    if view.folded > 0 {
        ui.label(
            RichText::new(format!(
                "{} {}",
                view.folded,
                i18n::FOLDED_THREADS.get(lang)
            ))
            .small()
            .weak(),
        );
    }
    if view.tasks_folded > 0 {
        ui.label(
            RichText::new(format!(
                "{} {}",
                view.tasks_folded,
                i18n::FOLDED_TASKS.get(lang)
            ))
            .small()
            .weak(),
        );
    }
    input
}

/// Drag pans, Ctrl+wheel (or a pinch) zooms, a sideways wheel pans: on the
/// timeline and on every plot alike, so the axis stays shared.
pub fn axis_input(
    ui: &Ui,
    response: &egui::Response,
    track: Rect,
    window: TimeWindow,
    out: &mut Vec<AxisAction>,
) {
    let seconds_per_point = window.width() / f64::from(track.width().max(1.0));
    if response.dragged() {
        let dx = response.drag_delta().x;
        if dx != 0.0 {
            out.push(AxisAction::Pan(-f64::from(dx) * seconds_per_point));
        }
    }
    if let Some(pos) = response.hover_pos() {
        let (zoom, scroll_x) = ui.input(|i| (i.zoom_delta(), i.smooth_scroll_delta.x));
        let at = window.start + f64::from(pos.x - track.left()) * seconds_per_point;
        if zoom != 1.0 {
            out.push(AxisAction::Zoom {
                factor: 1.0 / f64::from(zoom),
                at,
            });
        }
        if scroll_x != 0.0 {
            out.push(AxisAction::Pan(-f64::from(scroll_x) * seconds_per_point));
        }
    }
}

#[allow(clippy::too_many_arguments)]
fn paint_rows(
    ui: &mut Ui,
    view: &View,
    record: &Record,
    window: TimeWindow,
    rect: Rect,
    track: Rect,
    lang: Lang,
    input: &mut TimelineInput,
) {
    let painter = ui.painter_at(rect);
    let clip = ui.clip_rect();
    let visuals = ui.visuals().clone();
    let px_per_s = f64::from(track.width()) / window.width();
    let x_of = |t: f64| track.left() + ((t - window.start) * px_per_s) as f32;

    for tick in ticks(window) {
        painter.vline(
            x_of(tick),
            rect.y_range(),
            Stroke::new(1.0, visuals.widgets.noninteractive.bg_stroke.color),
        );
    }

    for (i, row) in view.rows.iter().enumerate() {
        let top = rect.top() + i as f32 * LANE;
        let lane_rect = Rect::from_min_size(pos2(rect.left(), top), vec2(rect.width(), LANE));
        if !clip.intersects(lane_rect) {
            continue;
        }
        if i % 2 == 1 {
            painter.rect_filled(lane_rect, CornerRadius::ZERO, visuals.faint_bg_color);
        }
        let y = lane_rect.y_range().shrink(1.5);
        let label_rect = Rect::from_min_size(lane_rect.min, vec2(LABEL_WIDTH - 4.0, LANE));
        match row {
            Row::Thread { id, indent } => {
                let Some(track_data) = record.thread(*id) else {
                    continue;
                };
                paint_lane(&painter, track_data, window, view.now, track, y, &x_of);
                let color = if track_data.failure.is_some() {
                    state_color(State::Failed)
                } else if track_data.state.is_final() {
                    visuals.weak_text_color()
                } else {
                    visuals.text_color()
                };
                let x = lane_rect.left() + if *indent { 16.0 } else { 4.0 };
                painter.with_clip_rect(label_rect.intersect(clip)).text(
                    pos2(x, lane_rect.center().y),
                    Align2::LEFT_CENTER,
                    &*track_data.name,
                    FontId::proportional(12.5),
                    color,
                );
            }
            Row::Process { id } => {
                let Some(p) = record.process(*id) else {
                    continue;
                };
                paint_process(&painter, p, window, view.now, track, y, &x_of);
                let (color, state) = match p.end_state {
                    Some(s) => (state_color(s), i18n::state_name(s).get(lang)),
                    None => (visuals.strong_text_color(), i18n::STATE_RUNNING.get(lang)),
                };
                let text = format!(
                    "{} · pid {}",
                    p.name,
                    p.pid.map_or("-".to_string(), |pid| pid.to_string())
                );
                painter.with_clip_rect(label_rect.intersect(clip)).text(
                    pos2(lane_rect.left() + 4.0, lane_rect.center().y),
                    Align2::LEFT_CENTER,
                    text,
                    FontId::proportional(12.5),
                    color,
                );
                let _ = state;
            }
            Row::Group {
                role,
                members,
                alive,
                summarised,
                collapsed,
                ..
            } => {
                if let Some(mix) = record.role_mix(role) {
                    let columns = track.width().max(1.0) as usize;
                    let shares = mix.shares(window.start, window.end, view.now, columns);
                    paint_shares(&painter, &shares, track, y);
                }
                let sign = if *collapsed { "+" } else { "-" };
                let text = format!("{sign} {role} \u{d7} {}", members.len() as u64 + summarised);
                let alive = *alive as u64 + summarised;
                let button = egui::Button::new(RichText::new(text).size(12.5).strong())
                    .frame(false)
                    .wrap_mode(egui::TextWrapMode::Truncate);
                // Left-aligned like the thread names under it.
                let response = ui
                    .scope_builder(
                        egui::UiBuilder::new()
                            .max_rect(label_rect)
                            .layout(egui::Layout::left_to_right(egui::Align::Center)),
                        |ui| ui.add(button),
                    )
                    .inner
                    .on_hover_text(format!("{alive} {}", i18n::ALIVE.get(lang)));
                if response.clicked() {
                    input.toggled = Some((role.clone(), *collapsed));
                }
            }
        }
    }
    painter.rect_stroke(
        track,
        CornerRadius::ZERO,
        Stroke::new(1.0, visuals.widgets.noninteractive.bg_stroke.color),
        StrokeKind::Inside,
    );
}

/// One thread's spans, at most about one rectangle per pixel column.
fn paint_lane(
    painter: &egui::Painter,
    track_data: &ThreadTrack,
    window: TimeWindow,
    now: f64,
    track: Rect,
    y: egui::Rangef,
    x_of: &impl Fn(f64) -> f32,
) {
    let mut painted_to = f32::NEG_INFINITY;
    let mut paint = |start: f64, end: f64, state: State| {
        if end < window.start || start > window.end {
            return;
        }
        let x0 = x_of(start.max(window.start)).max(track.left());
        let x1 = x_of(end.min(window.end)).min(track.right());
        if x1 < painted_to || x1 < x0 {
            return;
        }
        let x0 = x0.max(painted_to);
        let x1 = x1.max(x0 + 1.0);
        let rect = Rect::from_x_y_ranges(x0..=x1, y);
        painter.rect_filled(rect, CornerRadius::ZERO, state_color(state));
        if state == State::Blocked {
            hatch(painter, rect);
        }
        if state == State::GilWait {
            stipple(painter, rect);
        }
        painted_to = x1;
    };
    for s in track_data.spans_from(window.start) {
        if s.start > window.end {
            break;
        }
        paint(s.start, s.end, s.state);
    }
    if track_data.since <= now && !track_data.state.is_final() {
        paint(track_data.since, now, track_data.state);
    }
    // A finished lane ends with a cap in its final state's colour, so done,
    // failed and killed (a daemon cut off at exit) tell apart at a glance.
    if track_data.state.is_final()
        && track_data.since >= window.start
        && track_data.since <= window.end
    {
        let x1 = x_of(track_data.since).min(track.right());
        let x0 = (x1 - END_CAP).max(track.left());
        if x1 > x0 {
            painter.rect_filled(
                Rect::from_x_y_ranges(x0..=x1, y),
                CornerRadius::ZERO,
                state_color(track_data.state),
            );
        }
    }
}

/// A process's header strip: a thin bar over its life (from start to end),
/// its CPU use written in it, and a cap in the colour of how it ended.
fn paint_process(
    painter: &egui::Painter,
    p: &crate::lab::record::ProcessTrack,
    window: TimeWindow,
    now: f64,
    track: Rect,
    y: egui::Rangef,
    x_of: &impl Fn(f64) -> f32,
) {
    let Some(start) = p.started else { return };
    let end = p.ended.unwrap_or(now);
    if end < window.start || start > window.end {
        return;
    }
    let x0 = x_of(start.max(window.start)).max(track.left());
    let x1 = x_of(end.min(window.end)).min(track.right()).max(x0 + 1.0);
    let mid = y.center();
    let bar = Rect::from_x_y_ranges(x0..=x1, (mid - 2.5)..=(mid + 2.5));
    painter.rect_filled(bar, CornerRadius::same(2), Color32::from_gray(150));
    // CPU use over its life: taller where it used more.
    let px = (window.width() / f64::from(track.width().max(1.0))).max(1e-6);
    for point in p
        .cpu
        .steps(start.max(window.start), end.min(window.end), now, px * 3.0)
    {
        let x = x_of(point[0]);
        if x < x0 || x > x1 {
            continue;
        }
        let h = (point[1] / 100.0).clamp(0.0, 1.0) as f32 * y.span();
        painter.rect_filled(
            Rect::from_x_y_ranges(x..=(x + 3.0).min(x1), (y.max - h)..=y.max),
            CornerRadius::ZERO,
            Color32::from_rgba_unmultiplied(0, 158, 115, 140),
        );
    }
    if let Some(state) = p.end_state
        && let Some(ended) = p.ended
        && ended >= window.start
        && ended <= window.end
    {
        let xe = x_of(ended).min(track.right());
        painter.rect_filled(
            Rect::from_x_y_ranges((xe - END_CAP).max(track.left())..=xe, y),
            CornerRadius::ZERO,
            state_color(state),
        );
    }
}

/// Width in points of the cap that shows how a finished lane ended.
const END_CAP: f32 = 5.0;

/// Stack the shares per column, merging neighbouring columns that look alike.
fn paint_shares(
    painter: &egui::Painter,
    shares: &[[f32; State::COUNT]],
    track: Rect,
    y: egui::Rangef,
) {
    let height = y.span();
    let quantize = |s: &[f32; State::COUNT]| -> [u8; State::COUNT] {
        let mut q = [0u8; State::COUNT];
        for (i, state) in STACK.iter().enumerate() {
            q[i] = (s[state.index()] * height).round().clamp(0.0, 255.0) as u8;
        }
        q
    };
    let col_w = track.width() / shares.len().max(1) as f32;
    let mut c = 0;
    while c < shares.len() {
        let q = quantize(&shares[c]);
        let mut end = c + 1;
        while end < shares.len() && quantize(&shares[end]) == q {
            end += 1;
        }
        if q.iter().any(|h| *h > 0) {
            let x0 = track.left() + c as f32 * col_w;
            let x1 = track.left() + end as f32 * col_w;
            let mut bottom = y.max;
            for (i, state) in STACK.iter().enumerate() {
                let h = f32::from(q[i]);
                if h <= 0.0 {
                    continue;
                }
                let top = (bottom - h).max(y.min);
                painter.rect_filled(
                    Rect::from_x_y_ranges(x0..=x1, top..=bottom),
                    CornerRadius::ZERO,
                    state_color(*state),
                );
                bottom = top;
            }
        }
        c = end;
    }
}

#[allow(clippy::too_many_arguments)]
fn hover_details(
    ui: &mut Ui,
    view: &View,
    record: &Record,
    row: &Row,
    t: Option<f64>,
    window: TimeWindow,
    track_width: f32,
    lang: Lang,
) {
    match row {
        Row::Thread { id, .. } => {
            if let Some(track) = record.thread(*id) {
                thread_details(ui, view, record, track, t, lang);
            }
        }
        Row::Process { id } => {
            if let Some(p) = record.process(*id) {
                process_details(ui, record, p, lang);
            }
        }
        Row::Group {
            role,
            members,
            alive,
            folded,
            summarised,
            ..
        } => {
            ui.strong(format!(
                "{role} \u{d7} {}",
                members.len() as u64 + summarised
            ));
            ui.label(format!(
                "{} {}",
                *alive as u64 + summarised,
                i18n::ALIVE.get(lang)
            ));
            if *summarised > 0 {
                ui.label(format!("{summarised} {}", i18n::SUMMARISED.get(lang)));
            }
            if *folded > 0 {
                let tasks = record.summarised_alive(role) > 0
                    || members
                        .iter()
                        .any(|id| record.thread(*id).is_some_and(|t| t.task));
                let what = if tasks {
                    i18n::FOLDED_TASKS
                } else {
                    i18n::FOLDED_THREADS
                };
                ui.label(format!("+{folded} {}", what.get(lang)));
            }
            if let Some(t) = t
                && let Some(mix) = record.role_mix(role)
            {
                // The share of each state in the pixel under the pointer.
                let px = window.width() / f64::from(track_width.max(1.0));
                let shares = mix.shares(t, t + px, view.now, 1);
                ui.label(format!("{} {:.3} s:", i18n::AT.get(lang), t));
                for state in STACK {
                    let share = shares[0][state.index()];
                    if share > 0.005 {
                        ui.label(
                            RichText::new(format!(
                                "{} {:.0}%",
                                i18n::state_name(state).get(lang),
                                share * 100.0
                            ))
                            .color(state_color(state)),
                        );
                    }
                }
            }
            ui.label(RichText::new(i18n::GROUP_HINT.get(lang)).small().weak());
        }
    }
}

fn thread_details(
    ui: &mut Ui,
    view: &View,
    record: &Record,
    track: &ThreadTrack,
    t: Option<f64>,
    lang: Lang,
) {
    let daemon = if track.daemon {
        format!("  ({})", i18n::DAEMON.get(lang))
    } else {
        String::new()
    };
    ui.strong(format!("{}{daemon}", track.name));
    let span = t.and_then(|t| span_at(track, t, view.now));
    let (state, target) = match span {
        Some(s) => (s.state, s.target),
        None => (track.state, track.target),
    };
    let state_name = if track.task {
        i18n::task_state_name(state)
    } else {
        i18n::state_name(state)
    };
    let mut line = format!("{}: {}", i18n::HOVER_STATE.get(lang), state_name.get(lang));
    if let Some(target) = target {
        line.push_str(&format!(
            " {} {}",
            i18n::HOVER_ON.get(lang),
            record.target_name_for(track.task, target)
        ));
    }
    ui.label(RichText::new(line).color(state_color(state)));
    // Who holds the lock it is blocked on now (the record keeps only the
    // current holder, so only for the span under way).
    let current = span.is_none_or(|s| s.start == track.since && !track.state.is_final());
    if let (true, State::Blocked, Some(crate::lab::Target::Resource(r))) = (current, state, target)
        && let Some(holder) = record.resource(r).and_then(|r| r.holder)
    {
        let by = if holder == track.id {
            i18n::HELD_BY_ITSELF.get(lang).to_string()
        } else {
            format!("{} {}", i18n::HELD_BY.get(lang), record.thread_name(holder))
        };
        ui.label(RichText::new(by).color(state_color(State::Blocked)));
    }
    if state == State::GilWait {
        ui.label(RichText::new(i18n::GIL_WAIT_HINT.get(lang)).italics());
    }
    if let Some(s) = span {
        let still = if s.end >= view.now && s.start == track.since && !track.state.is_final() {
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
    if let Some(failure) = &track.failure {
        ui.label(
            RichText::new(format!("{}: {failure}", i18n::HOVER_FAILED.get(lang)))
                .color(state_color(State::Failed)),
        );
    }
    // What the scenario noted beside this thread (a threading.local's value…).
    for (key, value) in &track.notes {
        ui.label(RichText::new(format!("{key} = {value}")).monospace());
    }
}

fn process_details(ui: &mut Ui, record: &Record, p: &crate::lab::record::ProcessTrack, lang: Lang) {
    ui.strong(format!(
        "{} (pid {})",
        p.name,
        p.pid.map_or("-".to_string(), |pid| pid.to_string())
    ));
    match (p.end_state, p.exitcode) {
        (Some(s), Some(code)) => {
            ui.label(
                RichText::new(format!(
                    "{} · exitcode {code}",
                    i18n::state_name(s).get(lang)
                ))
                .color(state_color(s)),
            );
        }
        _ => {
            ui.label(format!(
                "{} · CPU {:.0}%",
                i18n::STATE_RUNNING.get(lang),
                p.cpu_now
            ));
        }
    }
    if let Some(f) = &p.failure {
        ui.label(RichText::new(f).color(state_color(State::Failed)));
    }
    if let Some(holder) = super::view::gil_holder(record, p) {
        ui.label(format!("{}: {holder}", i18n::GIL_HELD_BY.get(lang)));
    }
    ui.label(RichText::new(i18n::PROCESS_HINT.get(lang)).small().weak());
}

/// The span under time `t`: a closed one, or the open one from `since`.
pub fn span_at(track: &ThreadTrack, t: f64, now: f64) -> Option<Span> {
    if t >= track.since {
        return (t <= now && !track.state.is_final()).then_some(Span {
            start: track.since,
            end: now,
            state: track.state,
            target: track.target,
        });
    }
    let i = track.spans.partition_point(|s| s.end < t);
    track.spans.get(i).copied().filter(|s| s.start <= t)
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
    const STEPS: [f64; 21] = [
        0.0001, 0.0002, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0, 2.0,
        5.0, 10.0, 15.0, 30.0, 60.0, 120.0, 300.0,
    ];
    STEPS
        .iter()
        .copied()
        .find(|s| width / s <= 10.0)
        .unwrap_or_else(|| (width / 10.0 / 600.0).ceil() * 600.0)
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
