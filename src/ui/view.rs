//! What one frame draws, copied out of the lab's record under one short lock.
//! Only the visible part of each lane and series is copied, thinned to about
//! the screen's resolution, so the copy stays small however long the run is.

use std::collections::VecDeque;
use std::sync::Arc;

use crate::lab::State;
use crate::lab::probe::{Target, WorkerId};
use crate::lab::record::{Record, Span, describe_target, unnamed_thread};
use crate::lab::text::Text;
use crate::scenarios::{Metric, Scenario, SeriesRef};

/// One thread's lane, as far as the visible window needs it.
#[derive(Clone, Debug)]
pub struct Lane {
    pub name: Arc<str>,
    pub daemon: bool,
    pub state: State,
    pub target: Option<Target>,
    /// When the current (open) state began.
    pub since: f64,
    pub failure: Option<String>,
    /// Closed spans that reach into the window, oldest first.
    pub spans: Vec<Span>,
}

impl Lane {
    /// The span under time `t`: a closed one, or the open one from `since`.
    pub fn span_at(&self, t: f64, now: f64) -> Option<Span> {
        if t >= self.since {
            return (t <= now).then_some(Span {
                start: self.since,
                end: now,
                state: self.state,
                target: self.target,
            });
        }
        let i = self.spans.partition_point(|s| s.end < t);
        self.spans.get(i).copied().filter(|s| s.start <= t)
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
    /// The largest value drawn, for the y range.
    pub y_max: f64,
}

/// The time window the timeline and the plots share.
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

/// Everything a frame draws about the running (or stopped) lab.
#[derive(Default)]
pub struct View {
    pub now: f64,
    pub window: Option<TimeWindow>,
    pub lanes: Vec<Lane>,
    resource_names: Vec<Option<Arc<str>>>,
    pub metrics: Vec<Metric>,
    /// Each cycle of the wait-for graph, as thread names.
    pub deadlocks: Vec<Vec<Arc<str>>>,
    pub alive: usize,
    pub plots: Vec<PlotData>,
    pub log_trimmed: u64,
    pub events_dropped: u64,
    pub events_recorded: u64,
    /// Value of the counter "progress", if the scenario has one.
    pub progress: Option<i64>,
}

impl View {
    /// Refill from the record. `seconds_per_px` is how much time one pixel of
    /// the timeline covers (from the last frame); finer detail is merged.
    pub fn fill(
        &mut self,
        record: &Record,
        scenario: &Scenario,
        window_seconds: f64,
        seconds_per_px: f64,
    ) {
        let now = record.now();
        let window = TimeWindow::ending_at(now, window_seconds);
        self.now = now;
        self.window = Some(window);
        let min_dt = seconds_per_px.max(1e-9);

        // Lanes: reuse the span buffers of the last frame.
        self.lanes.truncate(record.threads.len());
        for (i, track) in record.threads.iter().enumerate() {
            if i == self.lanes.len() {
                self.lanes.push(Lane {
                    name: track.name.clone(),
                    daemon: track.daemon,
                    state: track.state,
                    target: track.target,
                    since: track.since,
                    failure: None,
                    spans: Vec::new(),
                });
            }
            let lane = &mut self.lanes[i];
            if !Arc::ptr_eq(&lane.name, &track.name) {
                lane.name = track.name.clone();
            }
            lane.daemon = track.daemon;
            lane.state = track.state;
            lane.target = track.target;
            lane.since = track.since;
            if lane.failure != track.failure {
                lane.failure.clone_from(&track.failure);
            }
            lane.spans.clear();
            let first = track.spans.partition_point(|s| s.end < window.start);
            for s in track.spans.range(first..) {
                push_merged(&mut lane.spans, *s, min_dt);
            }
        }

        self.resource_names.clear();
        self.resource_names.extend(
            record
                .resources
                .iter()
                .map(|r| r.as_ref().map(|r| r.name.clone())),
        );
        self.metrics = (scenario.metrics)(record);
        self.deadlocks = record
            .deadlocks()
            .into_iter()
            .map(|cycle| cycle.into_iter().map(|w| self.thread_name(w)).collect())
            .collect();
        self.alive = record.alive_threads();
        self.log_trimmed = record.log_trimmed;
        self.events_dropped = record.events_dropped;
        self.events_recorded = record.events_recorded;
        self.progress = record.counter_value("progress");

        self.plots.clear();
        for spec in scenario.plots {
            let mut y_max: f64 = 0.0;
            let lines = spec
                .series
                .iter()
                .map(|(series, label)| {
                    let points = series_points(record, *series)
                        .map(|p| step_points(p, window, now, min_dt))
                        .unwrap_or_default();
                    for p in &points {
                        y_max = y_max.max(p[1]);
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
            });
        }
    }

    /// Forget the last lab: nothing to draw.
    pub fn clear(&mut self) {
        *self = View::default();
    }

    pub fn thread_name(&self, id: WorkerId) -> Arc<str> {
        self.lanes
            .get(id as usize)
            .map_or_else(|| unnamed_thread(id), |l| l.name.clone())
    }

    /// What a thread waits on, named the way the record names it.
    pub fn target_name(&self, target: Target) -> String {
        describe_target(
            target,
            |r| self.resource_names.get(r as usize).cloned().flatten(),
            |t| self.thread_name(t),
        )
    }
}

/// Add a span, merging it into the previous one when both are thinner than a
/// pixel: the merged span shows whichever state lasted longer.
fn push_merged(out: &mut Vec<Span>, s: Span, min_dt: f64) {
    if let Some(last) = out.last_mut()
        && last.end - last.start < min_dt
        && s.start - last.start < min_dt
    {
        if s.end - s.start > last.end - last.start {
            last.state = s.state;
            last.target = s.target;
        }
        last.end = s.end;
        return;
    }
    out.push(s);
}

fn series_points(record: &Record, series: SeriesRef) -> Option<&[[f64; 2]]> {
    let points = match series {
        SeriesRef::Level(name) => record.resource_by_name(name)?.level_series.points(),
        SeriesRef::Waiters(name) => record.resource_by_name(name)?.waiters_series.points(),
        SeriesRef::Capacity(name) => record.resource_by_name(name)?.capacity_series.points(),
        SeriesRef::Counter(name) => record.counter(name)?.series.points(),
    };
    Some(points)
}

/// Step-shaped points of a series within the window, ending at `now`.
/// Points closer than a pixel are folded into one vertical stroke that keeps
/// their minimum and maximum, so peaks survive and the count stays bounded.
pub fn step_points(
    points: &[[f64; 2]],
    window: TimeWindow,
    now: f64,
    min_dt: f64,
) -> Vec<[f64; 2]> {
    let first = points.partition_point(|p| p[0] < window.start);
    let visible = &points[first.saturating_sub(1)..];
    let mut out: Vec<[f64; 2]> = Vec::with_capacity(visible.len().min(4096) * 2 + 2);
    // The current pixel bucket: its x, the value entering it, min, max, last.
    struct Bucket {
        index: i64,
        x: f64,
        entry: Option<f64>,
        min: f64,
        max: f64,
        last: f64,
    }
    fn flush(out: &mut Vec<[f64; 2]>, b: &Bucket) {
        let mut push = |v: f64| {
            if out.last() != Some(&[b.x, v]) {
                out.push([b.x, v]);
            }
        };
        if let Some(e) = b.entry {
            push(e);
        }
        if b.min != b.last {
            push(b.min);
        }
        if b.max != b.last {
            push(b.max);
        }
        push(b.last);
    }
    let mut bucket: Option<Bucket> = None;
    for p in visible {
        let x = p[0].max(window.start);
        let index = ((x - window.start) / min_dt).floor() as i64;
        match &mut bucket {
            Some(b) if b.index == index => {
                b.min = b.min.min(p[1]);
                b.max = b.max.max(p[1]);
                b.last = p[1];
            }
            _ => {
                let entry = bucket.as_ref().map(|b| b.last);
                if let Some(b) = &bucket {
                    flush(&mut out, b);
                }
                bucket = Some(Bucket {
                    index,
                    x,
                    entry,
                    min: p[1],
                    max: p[1],
                    last: p[1],
                });
            }
        }
    }
    if let Some(b) = &bucket {
        flush(&mut out, b);
        let end = now.max(b.x);
        out.push([end, b.last]);
    }
    out
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

    /// Copy the lines that arrived since the last frame.
    pub fn sync(&mut self, record: &Record) {
        let total = record.log_trimmed + record.log.len() as u64;
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

#[cfg(test)]
mod tests {
    use super::*;

    fn window() -> TimeWindow {
        TimeWindow {
            start: 0.0,
            end: 10.0,
        }
    }

    #[test]
    fn steps_hold_each_value_until_the_next_point_and_reach_now() {
        let pts = [[1.0, 2.0], [3.0, 5.0]];
        let out = step_points(&pts, window(), 4.0, 0.01);
        assert_eq!(out, vec![[1.0, 2.0], [3.0, 2.0], [3.0, 5.0], [4.0, 5.0]]);
    }

    #[test]
    fn dense_points_keep_their_peak() {
        let pts: Vec<[f64; 2]> = (0..1000)
            .map(|i| [1.0 + i as f64 * 1e-4, if i == 500 { 99.0 } else { 1.0 }])
            .collect();
        let out = step_points(&pts, window(), 2.0, 0.01);
        assert!(out.len() < 100, "{} points", out.len());
        assert!(out.iter().any(|p| p[1] == 99.0));
    }

    #[test]
    fn a_point_before_the_window_gives_the_value_at_its_start() {
        let pts = [[-5.0, 7.0], [2.0, 1.0]];
        let out = step_points(&pts, window(), 3.0, 0.01);
        assert_eq!(out[0], [0.0, 7.0]);
    }

    #[test]
    fn window_fills_from_the_left_then_slides() {
        assert_eq!(TimeWindow::ending_at(3.0, 10.0).start, 0.0);
        assert_eq!(TimeWindow::ending_at(25.0, 10.0).start, 15.0);
    }
}
