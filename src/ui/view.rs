//! What one frame draws, worked out from the window's own copy of the record
//! (no lock held): the shared time window, the lanes grouped by role, the
//! plots' points at the screen's resolution, the metrics and the log lines.

use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

use crate::lab::probe::WorkerId;
use crate::lab::record::Record;
use crate::lab::text::Text;
use crate::scenarios::{Metric, Scenario, SeriesRef};

/// The time window the timeline and every plot share.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct TimeWindow {
    pub start: f64,
    pub end: f64,
}

impl TimeWindow {
    /// The last `width` seconds ending at `now`; while the run is younger than
    /// the window, the window starts at 0 and fills from the left.
    pub fn ending_at(now: f64, width: f64) -> TimeWindow {
        let end = now.max(width);
        TimeWindow {
            start: end - width,
            end,
        }
    }

    pub fn width(&self) -> f64 {
        (self.end - self.start).max(1e-9)
    }
}

/// The narrowest window zoom reaches: 1 ms.
pub const MIN_WIDTH: f64 = 1e-3;

/// What the user does to the shared time axis.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum AxisAction {
    /// Follow "now" (true) or hold the window where it is (false).
    Follow(bool),
    /// Show the whole run.
    Fit,
    /// Multiply the width by `factor`, keeping time `at` where it is.
    Zoom { factor: f64, at: f64 },
    /// Move the window by this many seconds.
    Pan(f64),
    /// The width of the window while following.
    FollowWidth(f64),
}

/// The shared time axis: it follows "now" while a run goes on; after it ends
/// (or on Pause) the user zooms and pans through the whole run.
#[derive(Clone, Debug)]
pub struct TimeAxis {
    pub follow: bool,
    /// Seconds shown while following.
    pub follow_width: f64,
    start: f64,
    width: f64,
}

impl Default for TimeAxis {
    fn default() -> Self {
        TimeAxis {
            follow: true,
            follow_width: 10.0,
            start: 0.0,
            width: 10.0,
        }
    }
}

impl TimeAxis {
    pub fn window(&self, now: f64) -> TimeWindow {
        if self.follow {
            TimeWindow::ending_at(now, self.follow_width)
        } else {
            TimeWindow {
                start: self.start,
                end: self.start + self.width,
            }
        }
    }

    /// Hold the window where it is now.
    fn hold(&mut self, now: f64) {
        let w = self.window(now);
        self.start = w.start;
        self.width = w.width();
        self.follow = false;
    }

    pub fn apply(&mut self, action: AxisAction, now: f64) {
        let longest = (now * 2.0).max(self.follow_width).max(1.0);
        match action {
            AxisAction::Follow(true) => self.follow = true,
            AxisAction::Follow(false) => self.hold(now),
            AxisAction::Fit => {
                self.follow = false;
                self.start = 0.0;
                self.width = now.max(MIN_WIDTH);
            }
            AxisAction::Zoom { factor, at } => {
                self.hold(now);
                let width = (self.width * factor).clamp(MIN_WIDTH, longest);
                let f = (at - self.start) / self.width;
                self.start = at - f * width;
                self.width = width;
                self.clamp_start(now);
            }
            AxisAction::Pan(dt) => {
                self.hold(now);
                self.start += dt;
                self.clamp_start(now);
            }
            AxisAction::FollowWidth(w) => {
                self.follow_width = w.max(MIN_WIDTH);
                if !self.follow {
                    let end = self.start + self.width;
                    self.width = self.follow_width;
                    self.start = end - self.width;
                    self.clamp_start(now);
                }
            }
        }
    }

    /// Keep some of the run in view.
    fn clamp_start(&mut self, now: f64) {
        let lo = -0.5 * self.width;
        let hi = (now - 0.1 * self.width).max(lo);
        self.start = self.start.clamp(lo, hi);
    }
}

/// One row of the timeline.
#[derive(Clone, Debug, PartialEq)]
pub enum Row {
    /// One thread's lane; `indent` under an expanded group.
    Thread { id: WorkerId, indent: bool },
    /// A child process's header: its pid, state, CPU use and GIL holder,
    /// and its life as a strip; its threads' rows follow.
    Process { id: crate::lab::probe::ProcessId },
    /// A group of threads of one role ("Producer × 64"); collapsed, it is one
    /// lane showing the share of its threads in each state over time.
    Group {
        role: Arc<str>,
        members: Vec<WorkerId>,
        alive: usize,
        /// Threads of this role already folded into totals.
        folded: u64,
        /// asyncio tasks of this role alive without a lane of their own
        /// (beyond the record's cap): the group's lane counts them.
        summarised: u64,
        collapsed: bool,
    },
}

/// Groups larger than this start collapsed.
pub const COLLAPSE_ABOVE: usize = 6;

/// Which groups the user opened or closed, by role.
#[derive(Default)]
pub struct Grouping {
    overrides: HashMap<Arc<str>, bool>,
}

impl Grouping {
    pub fn toggle(&mut self, role: &Arc<str>, collapsed_now: bool) {
        self.overrides.insert(role.clone(), !collapsed_now);
    }

    fn collapsed(&self, role: &Arc<str>, members: usize) -> bool {
        self.overrides
            .get(role)
            .copied()
            .unwrap_or(members > COLLAPSE_ABOVE)
    }

    /// The rows for the threads kept in `record`: one lane per thread, or a
    /// group per role with several threads, in order of first appearance.
    pub fn rows(&self, record: &Record) -> Vec<Row> {
        let mut order: Vec<Arc<str>> = Vec::new();
        let mut by_role: HashMap<Arc<str>, Vec<WorkerId>> = HashMap::new();
        for t in record.threads() {
            by_role
                .entry(t.role.clone())
                .or_insert_with(|| {
                    order.push(t.role.clone());
                    Vec::new()
                })
                .push(t.id);
        }
        // Roles whose tasks are all counted without lanes still get a group.
        for (role, _) in record.summarised_roles() {
            if !by_role.contains_key(role) {
                by_role.insert(role.clone(), Vec::new());
                order.push(role.clone());
            }
        }
        let mut rows = Vec::new();
        let mut headed = std::collections::HashSet::new();
        for role in order {
            let members = by_role.remove(&role).unwrap_or_default();
            // A child process's threads come under its header.
            if let Some(p) = members
                .first()
                .and_then(|id| record.thread(*id))
                .and_then(|t| t.process)
                && headed.insert(p)
            {
                rows.push(Row::Process { id: p });
            }
            let folded = record.folded.roles.get(&role).map_or(0, |f| f.threads)
                + record
                    .folded_tasks
                    .roles
                    .get(&role)
                    .map_or(0, |f| f.threads);
            let summarised = record.summarised_alive(&role);
            if members.len() == 1 && folded == 0 && summarised == 0 {
                rows.push(Row::Thread {
                    id: members[0],
                    indent: false,
                });
                continue;
            }
            let collapsed = self.collapsed(&role, members.len() + summarised as usize);
            let alive = members
                .iter()
                .filter(|id| record.thread(**id).is_some_and(|t| t.is_alive()))
                .count();
            let lanes: Vec<Row> = if collapsed {
                Vec::new()
            } else {
                members
                    .iter()
                    .map(|&id| Row::Thread { id, indent: true })
                    .collect()
            };
            rows.push(Row::Group {
                role,
                members,
                alive,
                folded,
                summarised,
                collapsed,
            });
            rows.extend(lanes);
        }
        rows
    }
}

/// One line of a plot, as step points ready to draw.
#[derive(Clone, Debug)]
pub struct PlotLine {
    pub label: Text,
    pub series: SeriesRef,
    pub points: Vec<[f64; 2]>,
}

#[derive(Clone, Debug)]
pub struct PlotData {
    pub title: Text,
    pub lines: Vec<PlotLine>,
    /// The largest and smallest values drawn, for the y range.
    pub y_max: f64,
    pub y_min: f64,
}

/// Everything a frame draws besides the lanes (which it paints straight
/// from the record copy).
#[derive(Default)]
pub struct View {
    pub now: f64,
    /// Where "fit to run" ends: the last event of a run that is over, else now.
    pub run_end: f64,
    pub window: Option<TimeWindow>,
    pub rows: Vec<Row>,
    pub metrics: Vec<Metric>,
    /// Each cycle of the wait-for graph, as thread names.
    pub deadlocks: Vec<Vec<Arc<str>>>,
    pub alive: usize,
    /// Child processes alive now, and ever made.
    pub processes_alive: usize,
    pub processes_ever: usize,
    /// Threads kept plus threads folded into totals.
    pub threads_ever: u64,
    pub folded: u64,
    /// asyncio tasks alive, ever, and folded into totals.
    pub tasks_alive: usize,
    pub tasks_ever: u64,
    pub tasks_folded: u64,
    pub plots: Vec<PlotData>,
    pub log_trimmed: u64,
    pub events_dropped: u64,
    pub events_recorded: u64,
    /// Value of the counter "progress", if the scenario has one.
    pub progress: Option<i64>,
}

impl View {
    /// Work out this frame's view. `seconds_per_px` is how much time one
    /// pixel of the timeline covers; finer detail is folded.
    pub fn fill(
        &mut self,
        record: &Record,
        scenario: &Scenario,
        window: TimeWindow,
        seconds_per_px: f64,
        grouping: &Grouping,
    ) {
        let now = record.now();
        self.now = now;
        self.run_end = match record.ended_at {
            Some(_) => record.last_event_at.min(now),
            None => now,
        };
        self.window = Some(window);
        let dt = seconds_per_px.max(1e-9);
        self.rows = grouping.rows(record);
        self.metrics = (scenario.metrics)(record);
        self.deadlocks = record
            .deadlocks()
            .into_iter()
            .map(|cycle| cycle.into_iter().map(|w| record.thread_name(w)).collect())
            .collect();
        self.alive = record.alive_threads();
        self.processes_alive = record.alive_processes();
        self.processes_ever = record.processes().len();
        self.threads_ever = record.threads_ever();
        self.folded = record.folded.all.threads;
        self.tasks_alive = record.alive_tasks();
        self.tasks_ever = record.tasks_ever();
        self.tasks_folded = record.folded_tasks.all.threads;
        self.log_trimmed = record.log_trimmed;
        self.events_dropped = record.events_dropped;
        self.events_recorded = record.events_recorded;
        self.progress = record.counter_value("progress");

        self.plots.clear();
        for spec in scenario.plots {
            let mut y_max: f64 = 0.0;
            let mut y_min: f64 = 0.0;
            let lines = spec
                .series
                .iter()
                .map(|(series, label)| {
                    let points = series_of(record, *series)
                        .map(|s| s.steps(window.start, window.end, now, dt))
                        .unwrap_or_default();
                    for p in &points {
                        y_max = y_max.max(p[1]);
                        y_min = y_min.min(p[1]);
                    }
                    PlotLine {
                        label: *label,
                        series: *series,
                        points,
                    }
                })
                .collect();
            self.plots.push(PlotData {
                title: spec.title,
                lines,
                y_max,
                y_min,
            });
        }
    }

    /// Forget the last run: nothing to draw.
    pub fn clear(&mut self) {
        *self = View::default();
    }
}

fn series_of(record: &Record, series: SeriesRef) -> Option<&crate::lab::record::Series> {
    Some(match series {
        SeriesRef::Level(name) => &record.resource_by_name(name)?.level_series,
        SeriesRef::Waiters(name) => &record.resource_by_name(name)?.waiters_series,
        SeriesRef::Capacity(name) => &record.resource_by_name(name)?.capacity_series,
        SeriesRef::Counter(name) => &record.counter(name)?.series,
        SeriesRef::AliveThreads => &record.alive_series,
        SeriesRef::Processes => &record.processes_series,
    })
}

/// The newest log lines, formatted once when they arrive.
#[derive(Default)]
pub struct LogView {
    pub lines: VecDeque<String>,
    /// Lines of the record seen so far (trimmed ones included).
    seen: u64,
}

/// How many log lines the window keeps.
pub const LOG_LINES: usize = 500;

impl LogView {
    pub fn clear(&mut self) {
        self.lines.clear();
        self.seen = 0;
    }

    /// Lines logged but not shown: older than the newest [`LOG_LINES`].
    pub fn hidden(&self) -> u64 {
        self.seen.saturating_sub(self.lines.len() as u64)
    }

    /// Format the lines that arrived since the last frame.
    pub fn sync(&mut self, record: &Record) {
        let total = record.log_total();
        if total < self.seen {
            self.clear();
        }
        let new = (total - self.seen).min(LOG_LINES as u64) as usize;
        let new = new.min(record.log.len());
        let from = record.log.len() - new;
        for line in record.log.range(from..) {
            self.lines
                .push_back(format!("{:>9.3}  {}", line.t, line.text));
        }
        while self.lines.len() > LOG_LINES {
            self.lines.pop_front();
        }
        self.seen = total;
    }
}

/// Who holds the process's GIL now (its resource is "NAME: GIL").
pub fn gil_holder(record: &Record, p: &crate::lab::record::ProcessTrack) -> Option<String> {
    let gil = record.resource_by_name(&format!("{}: GIL", p.name))?;
    let holder = gil.holder?;
    Some(record.thread_name(holder).to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn window_fills_from_the_left_then_slides() {
        assert_eq!(TimeWindow::ending_at(3.0, 10.0).start, 0.0);
        assert_eq!(TimeWindow::ending_at(25.0, 10.0).start, 15.0);
    }

    #[test]
    fn fit_shows_the_whole_run_and_zoom_keeps_the_pointer_time() {
        let mut axis = TimeAxis::default();
        axis.apply(AxisAction::Fit, 0.8);
        assert_eq!(
            axis.window(0.8),
            TimeWindow {
                start: 0.0,
                end: 0.8
            }
        );
        axis.apply(
            AxisAction::Zoom {
                factor: 0.5,
                at: 0.6,
            },
            0.8,
        );
        let w = axis.window(0.8);
        assert!((w.width() - 0.4).abs() < 1e-9);
        // 0.6 was at 75% of the window and still is.
        assert!(((0.6 - w.start) / w.width() - 0.75).abs() < 1e-9);
        axis.apply(AxisAction::Pan(-10.0), 0.8);
        assert!(
            axis.window(0.8).start >= -0.2 - 1e-9,
            "{:?}",
            axis.window(0.8)
        );
        axis.apply(AxisAction::Follow(true), 0.8);
        assert!(axis.follow);
    }
}
