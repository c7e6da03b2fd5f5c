//! The dining philosophers' table, drawn live from the window's copy of the
//! record: each philosopher coloured by what they are doing, each fork (a
//! Lock) beside whoever holds it, an arrow to the fork a hungry philosopher
//! waits for, and a bar per philosopher counting meals, so starvation shows.

use std::f32::consts::{PI, TAU};

use eframe::egui;
use egui::{Align2, Color32, CornerRadius, FontId, Pos2, Rect, RichText, Sense, Stroke, Ui, vec2};

use super::scenario_view::{ExtraCx, ScenarioExtra};
use super::waitfor::{Palette, arrow_along, text_on, thread_tooltip};
use super::{Action, i18n, paint};
use crate::lab::probe::{ResourceId, Target, WorkerId};
use crate::lab::record::{Record, ThreadTrack};
use crate::lab::text::{Lang, Text};
use crate::lab::{Knobs, State};
use crate::scenarios::dining_philosophers::{FORK, PHILOSOPHER, meals_by_seat};

/// What a philosopher is doing, as the table colours it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Doing {
    Thinking,
    /// Holding one fork (pausing before the second, or about to put it down).
    OneFork,
    Eating,
    /// Blocked: on a fork, or on the waiter.
    Hungry,
    Other(State),
}

impl Doing {
    fn color(self) -> Color32 {
        match self {
            Doing::Thinking => paint::state_color(State::Sleeping),
            // The palette's yellow: apart from hungry's vermilion and
            // thinking's blue for every kind of colour vision.
            Doing::OneFork => Color32::from_rgb(240, 228, 66),
            Doing::Eating => paint::state_color(State::Running),
            Doing::Hungry => paint::state_color(State::Blocked),
            Doing::Other(s) => paint::state_color(s),
        }
    }

    fn name(self) -> Text {
        match self {
            Doing::Thinking => i18n::THINKING,
            Doing::OneFork => i18n::ONE_FORK,
            Doing::Eating => i18n::EATING,
            Doing::Hungry => i18n::HUNGRY,
            Doing::Other(s) => i18n::state_name(s),
        }
    }
}

/// One seat: the philosopher's thread and what they are doing.
pub struct Seat<'a> {
    pub number: usize,
    pub thread: &'a ThreadTrack,
    pub doing: Doing,
}

/// One fork: its lock and who holds it.
pub struct Fork {
    pub number: usize,
    pub id: ResourceId,
    pub holder: Option<WorkerId>,
}

fn numbered(name: &str, prefix: &str) -> Option<usize> {
    name.strip_prefix(prefix)?.strip_prefix(' ')?.parse().ok()
}

/// The table as the record has it now: seats and forks by number.
pub fn table(record: &Record) -> (Vec<Seat<'_>>, Vec<Fork>) {
    let mut forks: Vec<Fork> = record
        .resources()
        .filter_map(|r| {
            Some(Fork {
                number: numbered(&r.name, FORK)?,
                id: r.id,
                holder: r.holder,
            })
        })
        .collect();
    forks.sort_by_key(|f| f.number);
    let mut seats: Vec<Seat> = record
        .threads()
        .filter_map(|t| {
            let number = numbered(&t.name, PHILOSOPHER)?;
            let held = forks.iter().filter(|f| f.holder == Some(t.id)).count();
            let doing = match t.state {
                State::Blocked => Doing::Hungry,
                State::Sleeping | State::Running if held >= 2 => Doing::Eating,
                State::Sleeping | State::Running if held == 1 => Doing::OneFork,
                State::Sleeping | State::Running => Doing::Thinking,
                s => Doing::Other(s),
            };
            Some(Seat {
                number,
                thread: t,
                doing,
            })
        })
        .collect();
    seats.sort_by_key(|s| s.number);
    (seats, forks)
}

/// Where seat `k` (0-based) of `n` sits: clockwise from the top.
fn angle(k: f32, n: usize) -> f32 {
    -PI / 2.0 + TAU * k / n.max(1) as f32
}

fn at(centre: Pos2, radius: f32, a: f32) -> Pos2 {
    centre + vec2(radius * a.cos(), radius * a.sin())
}

fn legend_dot(ui: &mut Ui, color: Color32, label: &str) {
    super::paint::swatch_and_label(ui, vec2(12.0, 12.0), label, |painter, rect| {
        painter.circle_filled(rect.center(), 5.0, color);
    });
}

/// The table on the left, the meals on the right.
pub fn show(ui: &mut Ui, record: &Record, knobs: &Knobs, lang: Lang) {
    let pal = Palette::of(ui);
    let (seats, forks) = table(record);
    ui.horizontal_wrapped(|ui| {
        ui.label(RichText::new(i18n::THE_TABLE.get(lang)).strong())
            .on_hover_text(i18n::TABLE_HINT.get(lang));
        ui.add_space(10.0);
        for d in [
            Doing::Thinking,
            Doing::OneFork,
            Doing::Eating,
            Doing::Hungry,
        ] {
            legend_dot(ui, d.color(), d.name().get(lang));
        }
    });
    if seats.is_empty() {
        ui.label(
            RichText::new(i18n::TABLE_BEFORE_START.get(lang))
                .weak()
                .italics(),
        );
        return;
    }
    let deadlocked: Vec<WorkerId> = record.deadlocks().into_iter().flatten().collect();
    let height = 230.0;
    let width = ui.available_width();
    let (rect, _) = ui.allocate_exact_size(vec2(width, height), Sense::hover());
    let table_side = height.min(width * 0.5);
    let table_rect = Rect::from_min_size(rect.min, vec2(table_side, height));
    let bars_rect = Rect::from_min_max(egui::pos2(table_rect.right() + 24.0, rect.top()), rect.max);
    let painter = ui.painter_at(rect);
    let id = ui.scope_id().with("philosophers_table");

    // The table top; its rim turns red while it is deadlocked.
    let n = seats.len().max(forks.len()).max(2);
    let centre = table_rect.center();
    let radius = table_side / 2.0 - 26.0;
    let rim = if deadlocked.is_empty() {
        Stroke::new(1.5, pal.weak)
    } else {
        Stroke::new(3.0, pal.deadlock)
    };
    painter.circle(centre, radius * 0.72, pal.node_bg, rim);
    let seat_r = (radius * PI / n as f32 * 0.42).clamp(9.0, 20.0);
    let seat_pos = |number: usize| at(centre, radius, angle(number as f32 - 1.0, n));
    let fork_home = |number: usize| {
        // Fork j lies between philosopher j (whose left it is) and j − 1.
        at(centre, radius * 0.62, angle(number as f32 - 1.5, n))
    };
    let fork_pos = |f: &Fork| {
        let home = fork_home(f.number);
        match f
            .holder
            .and_then(|h| seats.iter().find(|s| s.thread.id == h))
        {
            Some(s) => home + (seat_pos(s.number) - home) * 0.45,
            None => home,
        }
    };

    // Arrows from each hungry philosopher to the fork they wait for.
    for s in &seats {
        if s.thread.state != State::Blocked {
            continue;
        }
        let Some(Target::Resource(r)) = s.thread.target else {
            continue;
        };
        let Some(f) = forks.iter().find(|f| f.id == r) else {
            continue;
        };
        let from = seat_pos(s.number);
        let to = fork_pos(f);
        let d = to - from;
        if d.length() < seat_r + 8.0 {
            continue;
        }
        let start = from + d.normalized() * (seat_r + 2.0);
        let end = to - d.normalized() * 7.0;
        let color = if deadlocked.contains(&s.thread.id) {
            pal.deadlock
        } else {
            pal.waits
        };
        arrow_along(&painter, vec![start, end], Stroke::new(2.0, color), true);
    }

    // The forks: a short bar across the rim, beside whoever holds it.
    for f in &forks {
        let p = fork_pos(f);
        let radial = (p - centre).normalized();
        let along = vec2(-radial.y, radial.x) * 7.0;
        let color = if f.holder.is_some() {
            pal.held
        } else {
            pal.weak
        };
        painter.line_segment([p - along, p + along], Stroke::new(5.0, color));
        painter.text(
            p + radial * -11.0,
            Align2::CENTER_CENTER,
            f.number.to_string(),
            FontId::proportional(10.0),
            pal.weak,
        );
        let response = ui.interact(
            Rect::from_center_size(p, vec2(18.0, 18.0)),
            id.with(("fork", f.number)),
            Sense::hover(),
        );
        let label = format!("{FORK} {}", f.number);
        response.widget_info(|| egui::WidgetInfo::labeled(egui::Role::Label, true, &label));
        response.on_hover_ui(|ui| {
            ui.strong(&label);
            match f.holder {
                Some(h) => ui.label(format!(
                    "{} {}",
                    i18n::HELD_BY.get(lang),
                    record.thread_name(h)
                )),
                None => ui.label(i18n::FREE.get(lang)),
            };
            let waiting: Vec<String> = seats
                .iter()
                .filter(|s| {
                    s.thread.state == State::Blocked
                        && s.thread.target == Some(Target::Resource(f.id))
                })
                .map(|s| s.thread.name.to_string())
                .collect();
            if !waiting.is_empty() {
                ui.label(format!(
                    "{}: {}",
                    i18n::WAITING_FOR_IT.get(lang),
                    waiting.join(", ")
                ));
            }
        });
    }

    // The philosophers.
    let meals = meals_by_seat(record);
    for s in &seats {
        let p = seat_pos(s.number);
        let fill = s.doing.color();
        let ring = if deadlocked.contains(&s.thread.id) {
            Stroke::new(2.5, pal.deadlock)
        } else {
            Stroke::new(1.0, pal.weak)
        };
        painter.circle(p, seat_r, fill, ring);
        painter.text(
            p,
            Align2::CENTER_CENTER,
            s.number.to_string(),
            FontId::proportional(13.0),
            text_on(fill),
        );
        let response = ui.interact(
            Rect::from_center_size(p, vec2(seat_r * 2.0, seat_r * 2.0)),
            id.with(("seat", s.number)),
            Sense::hover(),
        );
        let label = s.thread.name.to_string();
        response.widget_info(|| egui::WidgetInfo::labeled(egui::Role::Label, true, &label));
        let eaten = meals.get(s.number - 1).copied().unwrap_or(0);
        response.on_hover_ui(|ui| {
            thread_tooltip(ui, record, s.thread, lang);
            ui.label(
                RichText::new(s.doing.name().get(lang))
                    .strong()
                    .color(s.doing.color()),
            );
            ui.label(format!("{}: {eaten}", i18n::MEALS_EATEN.get(lang)));
        });
    }

    meal_bars(ui, &painter, bars_rect, &seats, &meals, knobs, lang, id);

    if let Some(cycle) = record.deadlocks().into_iter().find(|c| c.len() > 1) {
        ui.label(
            RichText::new(format!(
                "{}: {} {}",
                i18n::DEADLOCK.get(lang),
                cycle.len(),
                i18n::TABLE_DEADLOCKED.get(lang)
            ))
            .color(pal.deadlock)
            .strong(),
        );
    }
}

/// A bar per philosopher: meals eaten, against the meals each should eat.
#[allow(clippy::too_many_arguments)]
fn meal_bars(
    ui: &Ui,
    painter: &egui::Painter,
    rect: Rect,
    seats: &[Seat],
    meals: &[i64],
    knobs: &Knobs,
    lang: Lang,
    id: egui::Id,
) {
    let pal = Palette::of(ui);
    let goal = knobs
        .index_of("meals")
        .map_or(0.0, |i| knobs.get_at(i))
        .max(meals.iter().copied().max().unwrap_or(0) as f64)
        .max(1.0);
    painter.text(
        rect.left_top(),
        Align2::LEFT_TOP,
        i18n::MEALS_PER_PHILOSOPHER.get(lang),
        FontId::proportional(13.0),
        pal.text,
    );
    let plot = Rect::from_min_max(rect.min + vec2(28.0, 24.0), rect.max - vec2(4.0, 18.0));
    if plot.width() < 20.0 || plot.height() < 20.0 || seats.is_empty() {
        return;
    }
    let y_of = |v: f64| plot.bottom() - (v / goal) as f32 * plot.height();
    // The goal line: every philosopher should reach it.
    painter.line_segment(
        [
            egui::pos2(plot.left(), y_of(goal)),
            egui::pos2(plot.right(), y_of(goal)),
        ],
        Stroke::new(1.0, pal.weak),
    );
    painter.text(
        egui::pos2(plot.left() - 4.0, y_of(goal)),
        Align2::RIGHT_CENTER,
        crate::lab::knobs::format_number(goal),
        FontId::proportional(10.0),
        pal.weak,
    );
    painter.text(
        egui::pos2(plot.left() - 4.0, plot.bottom()),
        Align2::RIGHT_CENTER,
        "0",
        FontId::proportional(10.0),
        pal.weak,
    );
    painter.line_segment(
        [plot.left_bottom(), plot.right_bottom()],
        Stroke::new(1.0, pal.weak),
    );
    let fewest = meals.iter().copied().min().unwrap_or(0);
    let most = meals.iter().copied().max().unwrap_or(0);
    let slot = plot.width() / seats.len() as f32;
    let bar_w = (slot * 0.7).min(34.0);
    for (k, s) in seats.iter().enumerate() {
        let eaten = meals.get(s.number - 1).copied().unwrap_or(0);
        let x = plot.left() + slot * (k as f32 + 0.5);
        let top = y_of(eaten as f64);
        let bar = Rect::from_min_max(
            egui::pos2(x - bar_w / 2.0, top.min(plot.bottom() - 1.0)),
            egui::pos2(x + bar_w / 2.0, plot.bottom()),
        );
        // The least fed, while others have eaten more: starving, in the
        // table's colour for hungry.
        let starving = eaten == fewest && most > fewest;
        let color = if starving {
            Doing::Hungry.color()
        } else {
            Doing::Eating.color()
        };
        painter.rect_filled(bar, CornerRadius::same(2), color);
        painter.text(
            egui::pos2(x, bar.top() - 2.0),
            Align2::CENTER_BOTTOM,
            eaten.to_string(),
            FontId::proportional(11.0),
            pal.text,
        );
        painter.text(
            egui::pos2(x, plot.bottom() + 3.0),
            Align2::CENTER_TOP,
            s.number.to_string(),
            FontId::proportional(11.0),
            pal.weak,
        );
        let label = format!("{}: {eaten}", s.thread.name);
        let response = ui.interact(
            Rect::from_x_y_ranges((x - slot / 2.0)..=(x + slot / 2.0), plot.y_range()),
            id.with(("bar", s.number)),
            Sense::hover(),
        );
        response.widget_info(|| egui::WidgetInfo::labeled(egui::Role::Label, true, &label));
        let note = if starving {
            format!("\n{}", i18n::FEWEST_SO_FAR.get(lang))
        } else {
            String::new()
        };
        response.on_hover_text(format!(
            "{}: {eaten} {}{note}",
            s.thread.name,
            i18n::MEALS_WORD.get(lang)
        ));
    }
}

/// The view [`crate::scenarios::Extra::Philosophers`] asks for.
#[derive(Default)]
pub struct PhilosophersExtra;

impl ScenarioExtra for PhilosophersExtra {
    fn show(&mut self, ui: &mut Ui, cx: &ExtraCx, _actions: &mut Vec<Action>) {
        match cx.record {
            Some(record) => show(ui, record, cx.knobs, cx.lang),
            None => {
                ui.label(RichText::new(i18n::THE_TABLE.get(cx.lang)).strong());
                ui.label(
                    RichText::new(i18n::TABLE_BEFORE_START.get(cx.lang))
                        .weak()
                        .italics(),
                );
            }
        }
    }
}
