//! The wait-for graph, drawn live from the window's copy of the record (never
//! by asking the lab): threads and locks as nodes, an arrow from a thread to
//! the lock it is blocked on, from a lock to the thread that holds it. A closed
//! loop of waits without a timeout is a deadlock (red); a loop through a wait
//! with a timeout breaks by itself (amber, dashed).

use std::f32::consts::{PI, TAU};

use eframe::egui;
use egui::{
    Align2, Color32, CornerRadius, FontId, Pos2, Rect, RichText, Sense, Shape, Stroke, StrokeKind,
    Ui, Vec2, pos2, vec2,
};

use super::scenario_view::{ExtraCx, ScenarioExtra};
use super::{Action, i18n, paint};
use crate::lab::State;
use crate::lab::knobs::format_number;
use crate::lab::probe::{ResourceId, ResourceKind, Target, WorkerId};
use crate::lab::record::{Record, ThreadTrack};
use crate::lab::text::Lang;

/// What a node stands for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NodeRef {
    Thread(WorkerId),
    Lock(ResourceId),
}

#[derive(Clone, Debug, PartialEq)]
pub struct Node {
    pub what: NodeRef,
    pub label: String,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum EdgeKind {
    /// From a lock to the thread that holds it.
    HeldBy,
    /// From a thread to the lock it is blocked on; `timed`: with a timeout.
    WaitsFor { timed: bool },
}

/// Whether an edge is part of a loop, and what kind.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Cycle {
    /// Every wait in it has no timeout: nothing will ever break it.
    Deadlock,
    /// A wait in it has a timeout: it breaks by itself.
    Timed,
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Edge {
    pub from: usize,
    pub to: usize,
    pub kind: EdgeKind,
    pub cycle: Option<Cycle>,
}

/// The graph one frame draws.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Graph {
    /// Threads and locks interleaved in creation order, which is the order
    /// they sit around the ring: one thread, one lock, the next thread…
    pub nodes: Vec<Node>,
    pub edges: Vec<Edge>,
    /// Each loop, as the nodes its arrows pass through, from its first thread.
    pub cycles: Vec<(Cycle, Vec<usize>)>,
}

/// Past this many threads, only those holding or waiting for a lock are drawn.
const MAX_THREADS: usize = 12;

fn is_lock(kind: ResourceKind) -> bool {
    matches!(kind, ResourceKind::Lock | ResourceKind::RLock)
}

/// The wait-for graph of the record as it stands now.
pub fn graph(record: &Record) -> Graph {
    // A lock the program let go of still counts while someone holds it:
    // a thread cut off while holding it never releases it.
    let locks: Vec<_> = record
        .resources()
        .filter(|r| is_lock(r.kind) && (!r.dropped || r.holder.is_some()))
        .collect();
    let lock_of = |id: ResourceId| locks.iter().position(|r| r.id == id);
    let blocked_on_lock = |t: &ThreadTrack| match t.target {
        Some(Target::Resource(r)) if t.state == State::Blocked => lock_of(r),
        _ => None,
    };
    let involved = |t: &ThreadTrack| {
        locks.iter().any(|r| r.holder == Some(t.id)) || blocked_on_lock(t).is_some()
    };
    // Every thread but the lab's MainThread (it runs the scenario and joins
    // the others), unless it takes part; past the cap, only those taking part.
    let mut threads: Vec<&ThreadTrack> = record
        .threads()
        .filter(|t| involved(t) || &*t.name != "MainThread")
        .collect();
    if threads.len() > MAX_THREADS {
        threads.retain(|t| involved(t));
    }

    let mut nodes = Vec::with_capacity(threads.len() + locks.len());
    let (mut ti, mut li) = (0, 0);
    while ti < threads.len() || li < locks.len() {
        if let Some(t) = threads.get(ti) {
            nodes.push(Node {
                what: NodeRef::Thread(t.id),
                label: t.name.to_string(),
            });
            ti += 1;
        }
        if let Some(r) = locks.get(li) {
            nodes.push(Node {
                what: NodeRef::Lock(r.id),
                label: r.name.to_string(),
            });
            li += 1;
        }
    }
    let index = |what: NodeRef| nodes.iter().position(|n| n.what == what);

    let mut edges = Vec::new();
    for r in &locks {
        if let (Some(from), Some(to)) = (
            index(NodeRef::Lock(r.id)),
            r.holder.and_then(|h| index(NodeRef::Thread(h))),
        ) {
            edges.push(Edge {
                from,
                to,
                kind: EdgeKind::HeldBy,
                cycle: None,
            });
        }
    }
    for t in &threads {
        let Some(r) = blocked_on_lock(t).map(|i| locks[i]) else {
            continue;
        };
        // A lock that has just passed to this thread: no wait any more.
        if r.holder == Some(t.id) && record.lock_wait(t.id).is_none() {
            continue;
        }
        if let (Some(from), Some(to)) = (index(NodeRef::Thread(t.id)), index(NodeRef::Lock(r.id))) {
            edges.push(Edge {
                from,
                to,
                kind: EdgeKind::WaitsFor { timed: t.timed },
                cycle: None,
            });
        }
    }

    // Loops: follow each thread to the holder of the lock it waits for.
    let mut cycles: Vec<(Cycle, Vec<WorkerId>)> = Vec::new();
    let mut seen: Vec<Vec<WorkerId>> = Vec::new();
    for t in &threads {
        let mut path = vec![t.id];
        let mut timed_any = Vec::new();
        let mut cur = t.id;
        while let Some((next, timed)) = record.lock_wait(cur) {
            timed_any.push(timed);
            if let Some(pos) = path.iter().position(|&p| p == next) {
                let ring = path[pos..].to_vec();
                let mut key = ring.clone();
                key.sort_unstable();
                if !seen.contains(&key) {
                    seen.push(key);
                    let kind = if timed_any[pos..].iter().any(|&t| t) {
                        Cycle::Timed
                    } else {
                        Cycle::Deadlock
                    };
                    cycles.push((kind, ring));
                }
                break;
            }
            if path.len() > threads.len() {
                break;
            }
            path.push(next);
            cur = next;
        }
    }
    // As node indices: thread, the lock it waits for, the next thread…
    let mut node_cycles = Vec::new();
    for (kind, ring) in cycles {
        let mut at = Vec::new();
        for w in &ring {
            let lock = record
                .thread(*w)
                .and_then(blocked_on_lock)
                .and_then(|i| index(NodeRef::Lock(locks[i].id)));
            if let (Some(t), Some(l)) = (index(NodeRef::Thread(*w)), lock) {
                at.push(t);
                at.push(l);
            }
        }
        if at.len() != ring.len() * 2 {
            continue; // a thread of it is not drawn
        }
        for k in 0..at.len() {
            let (from, to) = (at[k], at[(k + 1) % at.len()]);
            if let Some(e) = edges.iter_mut().find(|e| e.from == from && e.to == to) {
                // A deadlock outranks a timed loop sharing the edge.
                if e.cycle != Some(Cycle::Deadlock) {
                    e.cycle = Some(kind);
                }
            }
        }
        node_cycles.push((kind, at));
    }
    Graph {
        nodes,
        edges,
        cycles: node_cycles,
    }
}

// ---- Drawing

/// Colours that read on the dark and on the light theme.
pub(super) struct Palette {
    pub held: Color32,
    pub waits: Color32,
    pub deadlock: Color32,
    pub text: Color32,
    pub weak: Color32,
    pub node_bg: Color32,
}

impl Palette {
    pub fn of(ui: &Ui) -> Palette {
        let dark = ui.visuals().dark_mode;
        Palette {
            held: if dark {
                Color32::from_rgb(100, 175, 255)
            } else {
                Color32::from_rgb(25, 100, 210)
            },
            waits: if dark {
                Color32::from_rgb(245, 170, 35)
            } else {
                Color32::from_rgb(190, 110, 0)
            },
            deadlock: Color32::from_rgb(230, 50, 45),
            text: ui.visuals().strong_text_color(),
            weak: ui.visuals().weak_text_color(),
            node_bg: ui.visuals().extreme_bg_color,
        }
    }

    fn edge(&self, e: &Edge) -> Color32 {
        match (e.cycle, e.kind) {
            (Some(Cycle::Deadlock), _) => self.deadlock,
            (Some(Cycle::Timed), _) => self.waits,
            (None, EdgeKind::HeldBy) => self.held,
            (None, EdgeKind::WaitsFor { .. }) => self.waits,
        }
    }
}

/// Black or white, whichever reads better on `fill`.
pub(super) fn text_on(fill: Color32) -> Color32 {
    let l = 0.299 * f32::from(fill.r()) + 0.587 * f32::from(fill.g()) + 0.114 * f32::from(fill.b());
    if l > 140.0 {
        Color32::from_rgb(20, 20, 24)
    } else {
        Color32::WHITE
    }
}

/// Where the segment from the centre of `rect` towards `toward` leaves it.
fn exit_point(rect: Rect, toward: Pos2) -> Pos2 {
    let c = rect.center();
    let d = toward - c;
    if d.length_sq() < 1e-6 {
        return c;
    }
    let sx = if d.x.abs() > 1e-6 {
        rect.width() / 2.0 / d.x.abs()
    } else {
        f32::INFINITY
    };
    let sy = if d.y.abs() > 1e-6 {
        rect.height() / 2.0 / d.y.abs()
    } else {
        f32::INFINITY
    };
    c + d * sx.min(sy).min(1.0)
}

/// A filled arrowhead with its tip at `tip`, pointing along `dir`.
pub(super) fn arrowhead(painter: &egui::Painter, tip: Pos2, dir: Vec2, color: Color32, size: f32) {
    let d = dir.normalized();
    let side = vec2(-d.y, d.x) * size * 0.5;
    let back = tip - d * size;
    painter.add(Shape::convex_polygon(
        vec![tip, back + side, back - side],
        color,
        Stroke::NONE,
    ));
}

/// Points along the quadratic curve from `a` through control `c` to `b`.
fn curve(a: Pos2, c: Pos2, b: Pos2) -> Vec<Pos2> {
    (0..=24)
        .map(|i| {
            let t = i as f32 / 24.0;
            let u = 1.0 - t;
            pos2(
                u * u * a.x + 2.0 * u * t * c.x + t * t * b.x,
                u * u * a.y + 2.0 * u * t * c.y + t * t * b.y,
            )
        })
        .collect()
}

/// A solid or dashed line through `points`, with an arrowhead at its end.
pub(super) fn arrow_along(
    painter: &egui::Painter,
    points: Vec<Pos2>,
    stroke: Stroke,
    dashed: bool,
) {
    let n = points.len();
    if n < 2 {
        return;
    }
    let (tip, before) = (points[n - 1], points[n - 2]);
    let head = 4.0 + 3.0 * stroke.width;
    // Stop the line under the head, so a thick one does not poke out.
    let mut line = points;
    if let Some(last) = line.last_mut() {
        *last = tip - (tip - before).normalized() * head * 0.8;
    }
    if dashed {
        painter.extend(Shape::dashed_line(&line, stroke, 6.0, 4.0));
    } else {
        painter.add(Shape::line(line, stroke));
    }
    arrowhead(painter, tip, tip - before, stroke.color, head);
}

/// A thread's state, what it waits for and for how long, what it holds.
pub(super) fn thread_tooltip(ui: &mut Ui, record: &Record, t: &ThreadTrack, lang: Lang) {
    let daemon = if t.daemon {
        format!("  ({})", i18n::DAEMON.get(lang))
    } else {
        String::new()
    };
    ui.strong(format!("{}{daemon}", t.name));
    let now = record.now();
    ui.label(
        RichText::new(format!(
            "{}: {}, {} {} s",
            i18n::HOVER_STATE.get(lang),
            i18n::state_name(t.state).get(lang),
            i18n::FOR_NOW.get(lang),
            format_number(((now - t.since).max(0.0) * 1000.0).round() / 1000.0)
        ))
        .color(paint::state_color(t.state)),
    );
    if let (Some(target), false) = (t.target, t.state.is_final()) {
        let what = record.target_name(target);
        let line = match target {
            Target::Resource(r) => match record.resource(r).and_then(|r| r.holder) {
                Some(h) if h == t.id => format!(
                    "{} {what}, {}",
                    i18n::WAITS_FOR.get(lang),
                    i18n::HELD_BY_ITSELF.get(lang)
                ),
                Some(h) => format!(
                    "{} {what}, {} {}",
                    i18n::WAITS_FOR.get(lang),
                    i18n::HELD_BY.get(lang),
                    record.thread_name(h)
                ),
                None => format!("{} {what}", i18n::WAITS_FOR.get(lang)),
            },
            Target::Thread(_) => format!("{} {what}", i18n::WAITS_FOR.get(lang)),
        };
        ui.label(line);
        if t.timed && t.state == State::Blocked {
            ui.label(RichText::new(i18n::WITH_TIMEOUT.get(lang)).italics());
        }
    }
    let holds: Vec<String> = record
        .resources()
        .filter(|r| is_lock(r.kind) && r.holder == Some(t.id))
        .map(|r| r.name.to_string())
        .collect();
    if !holds.is_empty() {
        ui.label(format!("{}: {}", i18n::HOLDS.get(lang), holds.join(", ")));
        if t.state.is_final() {
            ui.label(RichText::new(i18n::NEVER_RELEASED.get(lang)).italics());
        }
    }
    if let Some(f) = &t.failure {
        ui.label(
            RichText::new(format!("{}: {f}", i18n::HOVER_FAILED.get(lang)))
                .color(paint::state_color(State::Failed)),
        );
    }
}

/// A lock: its kind, who holds it, who waits for it.
fn lock_tooltip(ui: &mut Ui, record: &Record, id: ResourceId, lang: Lang) {
    let Some(r) = record.resource(id) else {
        return;
    };
    ui.strong(format!("{} ({})", r.name, r.kind.python_name()));
    match r.holder {
        Some(h) => ui.label(format!(
            "{} {}",
            i18n::HELD_BY.get(lang),
            record.thread_name(h)
        )),
        None => ui.label(i18n::FREE.get(lang)),
    };
    if r.kind == ResourceKind::RLock && r.holder.is_some() {
        ui.label(format!("{}: {}", i18n::RLOCK_COUNT.get(lang), r.level));
    }
    let waiting: Vec<String> = record
        .threads()
        .filter(|t| t.state == State::Blocked && t.target == Some(Target::Resource(id)))
        .map(|t| t.name.to_string())
        .collect();
    if !waiting.is_empty() {
        ui.label(format!(
            "{}: {}",
            i18n::WAITING_FOR_IT.get(lang),
            waiting.join(", ")
        ));
    }
}

/// One legend entry: a short line (dashed or not) and its label.
pub(super) fn legend_line(ui: &mut Ui, color: Color32, dashed: bool, label: &str) {
    let (rect, _) = ui.allocate_exact_size(vec2(22.0, 10.0), Sense::hover());
    let y = rect.center().y;
    let points = vec![pos2(rect.left(), y), pos2(rect.right(), y)];
    arrow_along(ui.painter(), points, Stroke::new(2.0, color), dashed);
    ui.label(RichText::new(label).small());
    ui.add_space(6.0);
}

/// The graph: a heading, a legend, the drawing, and a line naming each loop.
pub fn show(ui: &mut Ui, record: &Record, lang: Lang) {
    let g = graph(record);
    let pal = Palette::of(ui);
    ui.horizontal_wrapped(|ui| {
        ui.label(RichText::new(i18n::WAIT_FOR_GRAPH.get(lang)).strong())
            .on_hover_text(i18n::WAIT_FOR_HINT.get(lang));
        ui.add_space(10.0);
        legend_line(ui, pal.waits, false, i18n::LEGEND_WAITS.get(lang));
        legend_line(ui, pal.waits, true, i18n::LEGEND_WAITS_TIMED.get(lang));
        legend_line(ui, pal.held, false, i18n::LEGEND_HELD_BY.get(lang));
        legend_line(ui, pal.deadlock, false, i18n::LEGEND_DEADLOCK.get(lang));
    });
    if g.nodes.is_empty() {
        ui.label(RichText::new(i18n::NO_LOCKS.get(lang)).weak().italics());
        return;
    }
    let height = 190.0;
    let (rect, _) = ui.allocate_exact_size(vec2(ui.available_width(), height), Sense::hover());
    let painter = ui.painter_at(rect);
    painter.rect(
        rect,
        CornerRadius::same(4),
        pal.node_bg,
        Stroke::new(1.0, ui.visuals().widgets.noninteractive.bg_stroke.color),
        StrokeKind::Inside,
    );

    // Around a ring, clockwise from the left: thread, lock, thread, lock…
    let font = FontId::proportional(13.0);
    let n = g.nodes.len();
    let centre = rect.center();
    // What each node shows: its name, and an RLock's count when above one.
    let shown: Vec<String> = g
        .nodes
        .iter()
        .map(|node| match node.what {
            NodeRef::Lock(l) => match record.resource(l) {
                Some(r) if r.kind == ResourceKind::RLock && r.level > 1 => {
                    format!("{} \u{d7}{}", node.label, r.level)
                }
                _ => node.label.clone(),
            },
            NodeRef::Thread(_) => node.label.clone(),
        })
        .collect();
    let galleys: Vec<_> = shown
        .iter()
        .map(|text| painter.layout_no_wrap(text.clone(), font.clone(), pal.text))
        .collect();
    let widest = galleys.iter().map(|g| g.size().x).fold(0.0, f32::max);
    // Wide enough to read, no wider than a few nodes need.
    let rx = (rect.width() / 2.0 - widest / 2.0 - 24.0).clamp(30.0, 110.0 + 40.0 * n as f32);
    let ry = (rect.height() / 2.0 - 26.0).max(20.0);
    let rects: Vec<Rect> = (0..n)
        .map(|k| {
            let at = if n == 1 {
                centre
            } else {
                let a = PI - TAU * k as f32 / n as f32;
                centre + vec2(rx * a.cos(), -ry * a.sin())
            };
            Rect::from_center_size(at, galleys[k].size() + vec2(18.0, 10.0))
        })
        .collect();

    // Arrows under the nodes, each bent a little to its right, so two
    // arrows between the same pair (holds, and waits for) form a lens.
    for e in &g.edges {
        let (a, b) = (rects[e.from].center(), rects[e.to].center());
        let d = b - a;
        let normal = vec2(-d.y, d.x).normalized();
        let control = a + d * 0.5 + normal * (d.length() * 0.18).max(18.0);
        let start = exit_point(rects[e.from], control);
        let end = exit_point(rects[e.to], control);
        let color = pal.edge(e);
        let width = if e.cycle.is_some() { 3.0 } else { 2.0 };
        let dashed = matches!(e.kind, EdgeKind::WaitsFor { timed: true });
        arrow_along(
            &painter,
            curve(start, control, end),
            Stroke::new(width, color),
            dashed,
        );
        let word = match e.kind {
            EdgeKind::HeldBy => i18n::EDGE_HELD_BY.get(lang),
            EdgeKind::WaitsFor { .. } => i18n::EDGE_WAITS.get(lang),
        };
        let mid = pos2(
            0.25 * start.x + 0.5 * control.x + 0.25 * end.x,
            0.25 * start.y + 0.5 * control.y + 0.25 * end.y,
        );
        painter.text(
            mid + normal * 9.0,
            Align2::CENTER_CENTER,
            word,
            FontId::proportional(11.0),
            color,
        );
    }

    let id = ui.scope_id().with("wait_for_graph");
    for (k, node) in g.nodes.iter().enumerate() {
        let r = rects[k];
        let in_deadlock = g
            .cycles
            .iter()
            .any(|(kind, at)| *kind == Cycle::Deadlock && at.contains(&k));
        let ring = if in_deadlock {
            Stroke::new(2.5, pal.deadlock)
        } else {
            Stroke::new(1.0, pal.weak)
        };
        let text_color = match node.what {
            NodeRef::Thread(w) => {
                let state = record.thread(w).map_or(State::Created, |t| t.state);
                let fill = paint::state_color(state);
                painter.rect(r, CornerRadius::same(10), fill, ring, StrokeKind::Outside);
                text_on(fill)
            }
            NodeRef::Lock(l) => {
                let held = record.resource(l).is_some_and(|r| r.holder.is_some());
                let stroke = if in_deadlock {
                    ring
                } else if held {
                    Stroke::new(2.0, pal.held)
                } else {
                    Stroke::new(1.0, pal.weak)
                };
                painter.rect(
                    r,
                    CornerRadius::same(2),
                    pal.node_bg,
                    stroke,
                    StrokeKind::Outside,
                );
                pal.text
            }
        };
        painter.text(
            r.center(),
            Align2::CENTER_CENTER,
            &shown[k],
            font.clone(),
            text_color,
        );
        let response = ui.interact(r, id.with(k), Sense::hover());
        let label = node.label.clone();
        response.widget_info(|| egui::WidgetInfo::labeled(egui::Role::Label, true, &label));
        response.on_hover_ui(|ui| match node.what {
            NodeRef::Thread(w) => {
                if let Some(t) = record.thread(w) {
                    thread_tooltip(ui, record, t, lang);
                }
            }
            NodeRef::Lock(l) => lock_tooltip(ui, record, l, lang),
        });
    }

    // Once its threads are gone, say which deadlocks the run went through.
    if !g.cycles.iter().any(|(kind, _)| *kind == Cycle::Deadlock) {
        for cycle in record.deadlocks_seen() {
            let mut names: Vec<String> = cycle
                .iter()
                .map(|&w| record.thread_name(w).to_string())
                .collect();
            names.push(names[0].clone());
            ui.label(
                RichText::new(format!(
                    "{}: {}",
                    i18n::DEADLOCK_FORMED.get(lang),
                    names.join(" \u{2192} ")
                ))
                .monospace()
                .color(pal.deadlock.gamma_multiply(0.8)),
            );
        }
    }
    // Each loop in words: monospace, whose font has the arrow.
    for (kind, at) in &g.cycles {
        let mut names: Vec<&str> = at.iter().map(|&k| g.nodes[k].label.as_str()).collect();
        names.push(&g.nodes[at[0]].label);
        let (title, color) = match kind {
            Cycle::Deadlock => (i18n::DEADLOCK.get(lang), pal.deadlock),
            Cycle::Timed => (i18n::TIMED_CYCLE.get(lang), pal.waits),
        };
        ui.label(
            RichText::new(format!("{title}: {}", names.join(" \u{2192} ")))
                .monospace()
                .color(color),
        );
    }
}

/// The view [`crate::scenarios::Extra::WaitForGraph`] asks for.
#[derive(Default)]
pub struct WaitForExtra;

impl ScenarioExtra for WaitForExtra {
    fn show(&mut self, ui: &mut Ui, cx: &ExtraCx, _actions: &mut Vec<Action>) {
        match cx.record {
            Some(record) => show(ui, record, cx.lang),
            None => {
                ui.label(RichText::new(i18n::WAIT_FOR_GRAPH.get(cx.lang)).strong());
                ui.label(
                    RichText::new(i18n::GRAPH_BEFORE_START.get(cx.lang))
                        .weak()
                        .italics(),
                );
            }
        }
    }
}
