//! Views a scenario can ask for through [`crate::scenarios::Extra`]: each
//! thread's noted values (thread-local), every future of a pool (thread-pool),
//! and bars that set metrics side by side (the pipelines). They only read the
//! window's copy of the record and the metrics; none checks a scenario's id.

use eframe::egui;
use egui::{Align2, Color32, CornerRadius, FontId, RichText, Sense, Stroke, StrokeKind, Ui, vec2};

use super::Action;
use super::paint::state_color;
use super::scenario_view::{ExtraCx, ScenarioExtra};
use crate::lab::State;
use crate::lab::futures::FutureState;
use crate::lab::knobs::format_number;
use crate::lab::record::FutureTrack;
use crate::lab::text::{Lang, Text};
use crate::scenarios::BarGroup;
use crate::t;

const GOOD: Color32 = Color32::from_rgb(70, 190, 95);
const BAD: Color32 = Color32::from_rgb(240, 70, 60);

// ---- Thread notes

const NOTES_TITLE: Text = t!("Each thread's values", "Los valores de cada hilo");
const THREAD: Text = t!("Thread", "Hilo");
const NO_NOTES: Text = t!(
    "The threads' values appear here as they run.",
    "Los valores de los hilos aparecen aquí mientras corren."
);
const MORE_THREADS: Text = t!("more threads", "hilos más");

/// The most rows the table draws (the timeline lists every thread).
const MAX_ROWS: usize = 64;

/// A table: one row per thread that noted something, one column per key.
pub struct ThreadNotesExtra {
    pub expected: &'static str,
    pub actual: &'static str,
}

impl ScenarioExtra for ThreadNotesExtra {
    fn show(&mut self, ui: &mut Ui, cx: &ExtraCx, _actions: &mut Vec<Action>) {
        let lang = cx.lang;
        ui.label(RichText::new(NOTES_TITLE.get(lang)).strong());
        let Some(record) = cx.record else {
            ui.label(RichText::new(NO_NOTES.get(lang)).weak());
            return;
        };
        let rows: Vec<_> = record.threads().filter(|t| !t.notes.is_empty()).collect();
        if rows.is_empty() {
            ui.label(RichText::new(NO_NOTES.get(lang)).weak());
            return;
        }
        let mut keys: Vec<&str> = Vec::new();
        for t in &rows {
            for (k, _) in &t.notes {
                if !keys.contains(&&**k) {
                    keys.push(k);
                }
            }
        }
        egui::ScrollArea::vertical()
            .id_salt("thread_notes")
            .max_height(170.0)
            .show(ui, |ui| {
                egui::Grid::new("thread_notes_grid")
                    .striped(true)
                    .spacing(vec2(18.0, 3.0))
                    .show(ui, |ui| {
                        ui.label(RichText::new(THREAD.get(lang)).strong());
                        for k in &keys {
                            ui.label(RichText::new(*k).strong().monospace());
                        }
                        ui.end_row();
                        for t in rows.iter().take(MAX_ROWS) {
                            ui.label(RichText::new(&*t.name).color(state_color(t.state)));
                            for k in &keys {
                                let value = t.note(k).unwrap_or("");
                                let mut text = RichText::new(value).monospace();
                                if *k == self.actual && !value.is_empty() {
                                    let ok = t.note(self.expected) == Some(value);
                                    text = text.color(if ok { GOOD } else { BAD });
                                }
                                ui.label(text);
                            }
                            ui.end_row();
                        }
                    });
                if rows.len() > MAX_ROWS {
                    ui.label(
                        RichText::new(format!(
                            "+{} {}",
                            rows.len() - MAX_ROWS,
                            MORE_THREADS.get(lang)
                        ))
                        .weak(),
                    );
                }
            });
    }
}

// ---- Futures

const FUTURES_TITLE: Text = t!(
    "Futures, in the order they were submitted",
    "Futures, en el orden en que se enviaron"
);
const NO_FUTURES: Text = t!(
    "Each submitted call's future appears here.",
    "Aquí aparece el future de cada llamada enviada."
);
const PENDING: Text = t!("pending", "pendiente");
const RUNNING: Text = t!("running", "en ejecución");
const RESULT: Text = t!("result", "resultado");
const RAISED: Text = t!("exception", "excepción");
const CANCELLED: Text = t!("cancelled", "cancelado");
const UNREAD: Text = t!(
    "exception nobody read (lost)",
    "excepción que nadie leyó (perdida)"
);
const READ: Text = t!("read with result()", "leído con result()");
const NOT_READ: Text = t!("not read", "sin leer");
const RAN_ON: Text = t!("ran on", "corrió en");
const FINISHED_NTH: Text = t!("finished", "terminó");
const COMPLETION_ORDER: Text = t!("Completion order", "Orden de finalización");
const MORE_FUTURES: Text = t!("more futures", "futures más");
const FORGOTTEN: Text = t!("older futures not kept", "futures antiguos no guardados");

/// The most futures the strip draws.
const MAX_FUTURES: usize = 240;

fn future_color(f: &FutureTrack) -> Color32 {
    match f.state {
        FutureState::Pending => state_color(State::Created),
        FutureState::Running => state_color(State::Running),
        FutureState::Cancelled | FutureState::CancelledAndNotified => Color32::from_rgb(60, 60, 66),
        FutureState::Finished if f.error.is_some() => state_color(State::Failed),
        FutureState::Finished => Color32::from_rgb(60, 120, 200),
    }
}

fn future_state_name(f: &FutureTrack) -> Text {
    match f.state {
        FutureState::Pending => PENDING,
        FutureState::Running => RUNNING,
        FutureState::Cancelled | FutureState::CancelledAndNotified => CANCELLED,
        FutureState::Finished if f.error.is_some() => RAISED,
        FutureState::Finished => RESULT,
    }
}

/// What goes inside a future's box: the argument of "task(3)", else the label.
fn short_label(label: &str) -> &str {
    match (label.find('('), label.rfind(')')) {
        (Some(a), Some(b)) if b > a + 1 => &label[a + 1..b],
        _ => label,
    }
}

/// A strip of boxes, one per future: colour for its state, its argument
/// inside, its place in the completion order under it; an exception nobody
/// has read gets a red frame.
pub struct FuturesExtra;

impl ScenarioExtra for FuturesExtra {
    fn show(&mut self, ui: &mut Ui, cx: &ExtraCx, _actions: &mut Vec<Action>) {
        let lang = cx.lang;
        ui.label(RichText::new(FUTURES_TITLE.get(lang)).strong());
        let futures: Vec<&FutureTrack> =
            cx.record.map(|r| r.futures().collect()).unwrap_or_default();
        if futures.is_empty() {
            ui.label(RichText::new(NO_FUTURES.get(lang)).weak());
            legend(ui, lang);
            return;
        }
        ui.horizontal_wrapped(|ui| {
            ui.spacing_mut().item_spacing = vec2(3.0, 3.0);
            for f in futures.iter().take(MAX_FUTURES) {
                future_box(ui, cx, f);
            }
            if futures.len() > MAX_FUTURES {
                ui.label(
                    RichText::new(format!(
                        "+{} {}",
                        futures.len() - MAX_FUTURES,
                        MORE_FUTURES.get(lang)
                    ))
                    .weak(),
                );
            }
        });
        if let Some(forgotten) = cx.record.map(|r| r.futures_forgotten).filter(|n| *n > 0) {
            ui.label(
                RichText::new(format!("{forgotten} {}", FORGOTTEN.get(lang)))
                    .small()
                    .weak(),
            );
        }
        // The completion order, as the labels' arguments.
        let mut done: Vec<&&FutureTrack> = futures
            .iter()
            .filter(|f| f.finished_rank.is_some())
            .collect();
        done.sort_by_key(|f| f.finished_rank);
        if !done.is_empty() {
            let order: Vec<&str> = done
                .iter()
                .take(40)
                .map(|f| short_label(&f.label))
                .collect();
            let more = if done.len() > 40 { ", …" } else { "" };
            ui.label(
                RichText::new(format!(
                    "{}: {}{more}",
                    COMPLETION_ORDER.get(lang),
                    order.join(", ")
                ))
                .monospace()
                .small(),
            );
        }
        legend(ui, lang);
    }
}

fn future_box(ui: &mut Ui, cx: &ExtraCx, f: &FutureTrack) {
    let lang = cx.lang;
    let (rect, response) = ui.allocate_exact_size(vec2(34.0, 30.0), Sense::hover());
    let painter = ui.painter();
    painter.rect_filled(rect, CornerRadius::same(3), future_color(f));
    if f.exception_unread() {
        painter.rect_stroke(
            rect,
            CornerRadius::same(3),
            Stroke::new(2.5, BAD),
            StrokeKind::Inside,
        );
    } else if f.error.is_some() {
        painter.rect_stroke(
            rect,
            CornerRadius::same(3),
            Stroke::new(1.5, Color32::WHITE),
            StrokeKind::Inside,
        );
    }
    painter.text(
        rect.center() - vec2(0.0, 5.0),
        Align2::CENTER_CENTER,
        short_label(&f.label),
        FontId::proportional(12.0),
        Color32::WHITE,
    );
    if let Some(rank) = f.finished_rank {
        painter.text(
            rect.center() + vec2(0.0, 8.0),
            Align2::CENTER_CENTER,
            format!("#{rank}"),
            FontId::monospace(9.5),
            Color32::from_gray(220),
        );
    }
    response.on_hover_ui(|ui| {
        ui.strong(&*f.label);
        ui.label(RichText::new(future_state_name(f).get(lang)).color(future_color(f)));
        if let (Some(w), Some(record)) = (f.worker, cx.record) {
            ui.label(format!("{} {}", RAN_ON.get(lang), record.thread_name(w)));
        }
        if let Some(rank) = f.finished_rank {
            ui.label(format!("{} #{rank}", FINISHED_NTH.get(lang)));
        }
        if let Some(e) = &f.error {
            ui.label(RichText::new(e).color(state_color(State::Failed)));
            let (text, color) = if f.read {
                (READ, GOOD)
            } else {
                (NOT_READ, BAD)
            };
            ui.label(RichText::new(text.get(lang)).color(color));
        }
    });
}

fn legend(ui: &mut Ui, lang: Lang) {
    ui.horizontal_wrapped(|ui| {
        ui.spacing_mut().item_spacing.x = 10.0;
        let entries = [
            (PENDING, state_color(State::Created), false),
            (RUNNING, state_color(State::Running), false),
            (RESULT, Color32::from_rgb(60, 120, 200), false),
            (RAISED, state_color(State::Failed), false),
            (CANCELLED, Color32::from_rgb(60, 60, 66), false),
            (UNREAD, state_color(State::Failed), true),
        ];
        for (text, color, framed) in entries {
            super::paint::swatch_and_label(
                ui,
                vec2(12.0, 12.0),
                text.get(lang),
                |painter, rect| {
                    painter.rect_filled(rect, CornerRadius::same(2), color);
                    if framed {
                        painter.rect_stroke(
                            rect,
                            CornerRadius::same(2),
                            Stroke::new(2.0, BAD),
                            StrokeKind::Inside,
                        );
                    }
                },
            );
        }
    });
}

// ---- Bars

const BAR_COLORS: [Color32; 4] = [
    Color32::from_rgb(150, 150, 160),
    Color32::from_rgb(90, 170, 255),
    Color32::from_rgb(90, 200, 120),
    Color32::from_rgb(255, 200, 90),
];
const NOT_YET: Text = t!("not yet", "aún no");

/// Charts of metrics side by side: per group, one horizontal bar per metric,
/// longest = the group's largest value, the value written at its end.
pub struct BarsExtra {
    pub groups: &'static [BarGroup],
}

impl ScenarioExtra for BarsExtra {
    fn show(&mut self, ui: &mut Ui, cx: &ExtraCx, _actions: &mut Vec<Action>) {
        let lang = cx.lang;
        let value_of = |name: &str| {
            cx.view
                .metrics
                .iter()
                .find(|m| m.name == name)
                .map(|m| m.value)
                .filter(|v| v.is_finite() && *v > 0.0)
        };
        let groups = self.groups;
        ui.columns(groups.len().max(1), |cols| {
            for (col, group) in cols.iter_mut().zip(groups) {
                col.label(RichText::new(group.title.get(lang)).strong());
                let max = group
                    .bars
                    .iter()
                    .filter_map(|(name, _)| value_of(name))
                    .fold(0.0_f64, f64::max);
                for (i, (name, label)) in group.bars.iter().enumerate() {
                    let value = value_of(name);
                    let color = BAR_COLORS[i % BAR_COLORS.len()];
                    let width = col.available_width();
                    let (rect, _) = col.allocate_exact_size(vec2(width, 18.0), Sense::hover());
                    let painter = col.painter();
                    let label_w = (width * 0.38).min(130.0);
                    painter.text(
                        rect.left_center(),
                        Align2::LEFT_CENTER,
                        label.get(lang),
                        FontId::proportional(12.0),
                        col.visuals().text_color(),
                    );
                    let track_w = (width - label_w - 4.0).max(10.0);
                    let x0 = rect.left() + label_w;
                    let text = match value {
                        Some(v) => format!(
                            "{} {}",
                            format_number(round_for_bar(v)),
                            group.unit.get(lang)
                        ),
                        None => NOT_YET.get(lang).to_string(),
                    };
                    let frac = match (value, max > 0.0) {
                        (Some(v), true) => (v / max) as f32,
                        _ => 0.0,
                    };
                    let bar = egui::Rect::from_min_size(
                        egui::pos2(x0, rect.top() + 2.0),
                        vec2(
                            (track_w * frac * 0.72).max(if value.is_some() { 2.0 } else { 0.0 }),
                            14.0,
                        ),
                    );
                    painter.rect_filled(bar, CornerRadius::same(2), color);
                    painter.text(
                        egui::pos2(bar.right() + 4.0, rect.center().y),
                        Align2::LEFT_CENTER,
                        text,
                        FontId::monospace(11.5),
                        col.visuals().text_color(),
                    );
                }
            }
        });
    }
}

/// Three significant figures are plenty on a bar.
fn round_for_bar(v: f64) -> f64 {
    if v >= 100.0 {
        v.round()
    } else if v >= 10.0 {
        (v * 10.0).round() / 10.0
    } else {
        (v * 100.0).round() / 100.0
    }
}
