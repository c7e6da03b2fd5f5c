//! Small drawing pieces every view shares: the state palette, the width of
//! the lanes' labels (so plots line up with the timeline), and legend
//! swatches. It uses no other view, so every view can use it.

use eframe::egui::{self, Color32, Ui};

use crate::lab::State;

/// Width of the lane-name column (wide enough for Python's pool thread
/// names, "ThreadPoolExecutor-0_12"); the plots' y axes use it too so their
/// time axes line up with the timeline's.
pub const LABEL_WIDTH: f32 = 180.0;

/// The palette of thread states: Okabe–Ito's colours, which stay apart for
/// colour-blind eyes and read on dark and light backgrounds alike; blocked
/// also gets a hatching (see [`hatch`]), a cue that does not need colour.
pub fn state_color(state: State) -> Color32 {
    match state {
        State::Created => Color32::from_rgb(153, 153, 153),
        State::Ready => Color32::from_rgb(86, 180, 233),
        // Runnable, not running: Okabe-Ito's yellow, with dots (see
        // `stipple`) so it reads apart from running without colour.
        State::GilWait => Color32::from_rgb(240, 228, 66),
        State::Running => Color32::from_rgb(0, 158, 115),
        State::Sleeping => Color32::from_rgb(0, 114, 178),
        State::Blocked => Color32::from_rgb(213, 94, 0),
        State::Waiting => Color32::from_rgb(230, 159, 0),
        State::Done => Color32::from_rgb(110, 110, 110),
        State::Failed => Color32::from_rgb(204, 121, 167),
        State::Killed => Color32::from_rgb(136, 34, 85),
    }
}

/// One legend entry drawn in a row beside a plot's title: a colour swatch
/// and its label. Kept out of the plot so it never hides the data.
pub fn legend_entry(ui: &mut Ui, color: Color32, label: &str) {
    swatch_and_label(ui, egui::vec2(14.0, 3.0), label, |painter, swatch| {
        painter.rect_filled(swatch, 1.0, color);
    });
}

/// A swatch of `size`, drawn by `paint`, then `label` in small text: one
/// allocation, so a wrapped row wraps between entries and never parts a
/// swatch from its label (a nested `ui.horizontal` would never wrap at all,
/// and a label squeezed at a row's end breaks into a column of letters).
pub fn swatch_and_label(
    ui: &mut Ui,
    size: egui::Vec2,
    label: &str,
    paint: impl FnOnce(&egui::Painter, egui::Rect),
) {
    let font = egui::TextStyle::Small.resolve(ui.style());
    let text_color = ui.visuals().text_color();
    let galley = ui
        .painter()
        .layout_no_wrap(label.to_string(), font, text_color);
    let text = galley.size();
    let whole = egui::vec2(size.x + 4.0 + text.x, text.y.max(size.y));
    let (rect, response) = ui.allocate_exact_size(whole, egui::Sense::hover());
    response.widget_info(|| egui::WidgetInfo::labeled(egui::Role::Label, true, label));
    let swatch = egui::Rect::from_min_size(
        egui::pos2(rect.left(), rect.center().y - size.y / 2.0),
        size,
    );
    paint(ui.painter(), swatch);
    ui.painter().galley(
        egui::pos2(swatch.right() + 4.0, rect.center().y - text.y / 2.0),
        galley,
        text_color,
    );
    ui.add_space(6.0);
}
