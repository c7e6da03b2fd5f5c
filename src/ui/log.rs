//! The bottom panel: the newest lines of the event log, auto-scrolling.

use eframe::egui;
use egui::{Color32, RichText, TextStyle, Ui};

use super::i18n;
use super::view::{LogView, View};
use crate::lab::text::Lang;

pub fn show(ui: &mut Ui, log: &LogView, view: &View, lang: Lang) {
    // Fill the panel, so it keeps its size while the log is short.
    ui.set_min_height(ui.available_height());
    ui.horizontal(|ui| {
        ui.label(RichText::new(i18n::EVENT_LOG.get(lang)).strong());
        let not_shown = log.hidden();
        if not_shown > 0 {
            ui.label(
                RichText::new(format!("{not_shown} {}", i18n::LINES_TRIMMED.get(lang)))
                    .small()
                    .weak(),
            );
        }
        if view.events_dropped > 0 {
            ui.label(
                RichText::new(format!(
                    "{} {}",
                    view.events_dropped,
                    i18n::EVENTS_DROPPED.get(lang)
                ))
                .color(Color32::from_rgb(240, 70, 60))
                .strong(),
            );
        }
    });
    if log.lines.is_empty() {
        ui.label(RichText::new(i18n::LOG_EMPTY.get(lang)).weak());
        return;
    }
    let row_height = ui.text_style_height(&TextStyle::Monospace);
    egui::ScrollArea::vertical()
        .id_salt("event_log_scroll")
        .stick_to_bottom(true)
        .auto_shrink([false, false])
        .show_rows(ui, row_height, log.lines.len(), |ui, rows| {
            for line in log.lines.range(rows) {
                ui.add(egui::Label::new(RichText::new(line).monospace()).truncate());
            }
        });
}
