//! A step-shaped time series kept at several resolutions at once, so memory
//! stays bounded however long a run lasts while recent history stays sharp and
//! no peak is ever lost: every level keeps, per time bucket, the minimum, the
//! maximum and the last value.
//!
//! - the raw level keeps the newest changes exactly;
//! - bucket levels of 1 ms, 4 ms, 16 ms … 16 s each keep their newest buckets;
//! - the coarsest level never drops anything: when full it merges neighbours,
//!   so "fit to run" can always show the whole run.
//!
//! A reader picks, for the time window it draws, the coarsest level that still
//! covers the window at its pixel resolution (see [`Series::steps`]).

use std::collections::VecDeque;

/// Widths of the bucket levels, in seconds. Each is 4× the previous one: with
/// 2048 buckets each, a level covers 4× what the one before it does (the 16 ms
/// level alone the last 33 s of a flood), so any window finds a level with
/// about one bucket per pixel or finer.
const WIDTHS: [f64; 8] = [0.001, 0.004, 0.016, 0.064, 0.256, 1.024, 4.096, 16.384];

/// What happened in one time bucket (or, on the raw level, at one instant).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Bucket {
    /// Start of the bucket (the exact time, on the raw level).
    pub t: f64,
    pub min: f64,
    pub max: f64,
    /// The value at the end of the bucket: it holds until the next bucket.
    pub last: f64,
    /// The integral of the value from `t` to `t_last` (0 on the raw level):
    /// with it a reader gets the time-average over any stretch.
    pub area: f64,
    /// When the value last changed in this bucket.
    pub t_last: f64,
}

impl Bucket {
    fn at(t: f64, v: f64) -> Bucket {
        Bucket {
            t,
            min: v,
            max: v,
            last: v,
            area: 0.0,
            t_last: t,
        }
    }

    /// The value becomes `v` at `t`, inside this bucket.
    fn absorb(&mut self, t: f64, v: f64) {
        self.area += self.last * (t - self.t_last).max(0.0);
        self.t_last = self.t_last.max(t);
        self.min = self.min.min(v);
        self.max = self.max.max(v);
        self.last = v;
    }
}

#[derive(Clone, Debug)]
struct Level {
    /// Bucket width in seconds; 0 for the raw level.
    width: f64,
    cap: usize,
    buckets: VecDeque<Bucket>,
    /// Buckets ever appended (the sequence number after the newest), so a
    /// copy can take only what is new.
    pushed: u64,
    /// Bumped when the level is rewritten (merged), which a copy must redo.
    epoch: u32,
    /// The coarsest level merges neighbours when full instead of dropping.
    merges: bool,
}

impl Level {
    fn new(width: f64, cap: usize, merges: bool) -> Level {
        Level {
            width,
            cap,
            buckets: VecDeque::new(),
            pushed: 0,
            epoch: 0,
            merges,
        }
    }

    fn index(&self, t: f64) -> f64 {
        (t / self.width).floor()
    }

    /// The value changes from `prev` to `v` at `t`.
    fn push(&mut self, t: f64, v: f64, prev: f64) {
        let same = match self.buckets.back() {
            Some(b) if self.width == 0.0 => b.t == t,
            Some(b) => self.index(b.t + self.width * 0.5) == self.index(t),
            None => false,
        };
        if same {
            if let Some(b) = self.buckets.back_mut() {
                b.absorb(t, v);
            }
            return;
        }
        let bucket = if self.width == 0.0 {
            Bucket::at(t, v)
        } else {
            let start = self.index(t) * self.width;
            Bucket {
                area: prev * (t - start).max(0.0),
                t_last: t,
                ..Bucket::at(start, v)
            }
        };
        self.buckets.push_back(bucket);
        self.pushed += 1;
        if self.buckets.len() > self.cap {
            if self.merges {
                self.merge();
            } else {
                self.buckets.pop_front();
            }
        }
    }

    /// Double the width and merge neighbours: the level keeps the whole run.
    fn merge(&mut self) {
        let old_width = self.width;
        let width = old_width * 2.0;
        self.width = width;
        // Bucket centres, so rounding in the start times never matters.
        let index = |t: f64| ((t + old_width * 0.5) / width).floor();
        let old = std::mem::take(&mut self.buckets);
        for b in old {
            let i = index(b.t);
            match self.buckets.back_mut() {
                Some(m) if index(m.t) == i => {
                    // m's last value held from its last change to b's start.
                    m.area += m.last * (b.t - m.t_last).max(0.0) + b.area;
                    m.t_last = b.t_last;
                    m.min = m.min.min(b.min);
                    m.max = m.max.max(b.max);
                    m.last = b.last;
                }
                _ => {
                    let start = i * width;
                    // The part of the new bucket before b began held the
                    // value b began from, which b.area already counts.
                    self.buckets.push_back(Bucket { t: start, ..b });
                }
            }
        }
        self.pushed = self.buckets.len() as u64;
        self.epoch += 1;
    }

    /// Earliest time this level still describes completely.
    fn covers_from(&self) -> f64 {
        let trimmed = self.pushed > self.buckets.len() as u64 && !self.merges;
        match self.buckets.front() {
            Some(b) if trimmed => b.t + self.width,
            _ => f64::NEG_INFINITY,
        }
    }

    fn sync_from(&mut self, src: &Level) {
        let src_first = src.pushed - src.buckets.len() as u64;
        let resumable = self.epoch == src.epoch
            && self.width == src.width
            && self.pushed > 0
            && self.pushed > src_first
            && self.pushed <= src.pushed;
        if !resumable {
            self.clone_from(src);
            return;
        }
        // The newest bucket we have may have changed since: take it again.
        self.buckets.pop_back();
        let from = (self.pushed - 1 - src_first) as usize;
        self.buckets.extend(src.buckets.range(from..).copied());
        while self.buckets.len() > src.buckets.len() {
            self.buckets.pop_front();
        }
        self.pushed = src.pushed;
    }
}

/// A step-shaped series: each value holds until the next. Min, max and last
/// are exact over the whole run.
#[derive(Clone, Debug)]
pub struct Series {
    levels: Vec<Level>,
    pub min: f64,
    pub max: f64,
    pub last: f64,
    pub samples: u64,
}

impl Series {
    /// A series keeping at most `cap` buckets per level.
    pub fn new(cap: usize) -> Series {
        let cap = cap.max(16);
        let mut levels = vec![Level::new(0.0, cap, false)];
        for (i, w) in WIDTHS.iter().enumerate() {
            levels.push(Level::new(*w, cap, i + 1 == WIDTHS.len()));
        }
        Series {
            levels,
            min: f64::INFINITY,
            max: f64::NEG_INFINITY,
            last: 0.0,
            samples: 0,
        }
    }

    pub fn push(&mut self, t: f64, v: f64) {
        let changed = self.samples == 0 || v != self.last;
        let prev = if self.samples == 0 { v } else { self.last };
        self.samples += 1;
        self.min = self.min.min(v);
        self.max = self.max.max(v);
        self.last = v;
        if changed {
            for level in &mut self.levels {
                level.push(t, v, prev);
            }
        }
    }

    pub fn is_empty(&self) -> bool {
        self.samples == 0
    }

    /// Buckets stored over all levels (what the memory bound is about).
    pub fn stored(&self) -> usize {
        self.levels.iter().map(|l| l.buckets.len()).sum()
    }

    /// Every change that is still kept exactly (the raw level), oldest first.
    pub fn raw(&self) -> impl Iterator<Item = (f64, f64)> + '_ {
        self.levels[0].buckets.iter().map(|b| (b.t, b.last))
    }

    /// The level to draw `[start, end]` from when one pixel is `dt` seconds:
    /// the coarsest level finer than a pixel that covers the window, else the
    /// finest level that covers it.
    fn level_for(&self, start: f64, dt: f64) -> &Level {
        let covering = || self.levels.iter().filter(|l| l.covers_from() <= start);
        covering()
            .rfind(|l| l.width <= dt)
            .or_else(|| covering().next())
            .unwrap_or_else(|| &self.levels[self.levels.len() - 1])
    }

    /// Step points to draw over `[start, end]` up to `now`, about one vertical
    /// stroke per pixel of `dt` seconds, every bucket's min and max kept.
    pub fn steps(&self, start: f64, end: f64, now: f64, dt: f64) -> Vec<[f64; 2]> {
        let dt = dt.max(1e-9);
        let level = self.level_for(start, dt);
        let buckets = &level.buckets;
        let first = buckets.partition_point(|b| b.t < start);
        let before = first.saturating_sub(1);
        let visible = buckets.range(before..).take_while(|b| b.t <= end).copied();
        fold_steps(visible, start, now.min(end.max(start)), dt)
    }

    /// The integral of the value over each of `columns` equal slices of
    /// `[start, end]` (nothing after `now`, nor before the first value), from
    /// a level several times finer than a slice: the time-weighted shares a
    /// stacked strip draws, in one pass over the window's buckets.
    pub fn integrals(&self, start: f64, end: f64, now: f64, columns: usize) -> Vec<f64> {
        let columns = columns.max(1);
        let mut acc = vec![0.0; columns];
        let col_dt = (end - start) / columns as f64;
        let stop = end.min(now);
        if col_dt.is_nan() || col_dt <= 0.0 || stop <= start || self.samples == 0 {
            return acc;
        }
        // Spread `integral`, earned evenly over [x0, x1), over the columns.
        let mut spread = |x0: f64, x1: f64, integral: f64| {
            let (a, b) = (x0.max(start), x1.min(stop));
            if b <= a || x1 <= x0 {
                return;
            }
            let rate = integral / (x1 - x0);
            let c0 = (((a - start) / col_dt) as usize).min(columns - 1);
            let c1 = (((b - start) / col_dt) as usize).min(columns - 1);
            for (c, slot) in acc.iter_mut().enumerate().take(c1 + 1).skip(c0) {
                let lo = a.max(start + c as f64 * col_dt);
                let hi = b.min(start + (c + 1) as f64 * col_dt);
                if hi > lo {
                    *slot += rate * (hi - lo);
                }
            }
        };
        // Buckets cut by a column's edge are split in proportion: a level
        // well finer than a column keeps that error small.
        let level = self.level_for(start, col_dt / 8.0);
        let w = level.width;
        let buckets = &level.buckets;
        let first = buckets.partition_point(|b| b.t + w <= start && b.t < start);
        let mut value = first.checked_sub(1).map(|i| buckets[i].last);
        let mut cursor = start;
        for b in buckets.range(first..) {
            if b.t >= stop {
                break;
            }
            if let Some(v) = value
                && b.t > cursor
            {
                spread(cursor, b.t, v * (b.t - cursor));
            }
            if w > 0.0 {
                let b_end = (b.t + w).min(now);
                let integral = b.area + b.last * (b_end - b.t_last).max(0.0);
                spread(b.t, b_end, integral);
                cursor = cursor.max(b_end);
            } else {
                cursor = cursor.max(b.t);
            }
            value = Some(b.last);
        }
        if let Some(v) = value {
            spread(cursor, stop, v * (stop - cursor));
        }
        acc
    }

    /// Copy what changed in `src` since the last copy.
    pub fn sync_from(&mut self, src: &Series) {
        if self.levels.len() != src.levels.len() {
            self.clone_from(src);
            return;
        }
        for (mine, theirs) in self.levels.iter_mut().zip(&src.levels) {
            mine.sync_from(theirs);
        }
        self.min = src.min;
        self.max = src.max;
        self.last = src.last;
        self.samples = src.samples;
    }
}

/// Buckets (oldest first; the first may start before `start`) as step points,
/// folded to about one stroke per `dt`: each stroke keeps the value entering
/// it, the min, the max and the value leaving it.
pub fn fold_steps(
    buckets: impl Iterator<Item = Bucket>,
    start: f64,
    now: f64,
    dt: f64,
) -> Vec<[f64; 2]> {
    struct Stroke {
        index: i64,
        x: f64,
        entry: Option<f64>,
        min: f64,
        max: f64,
        last: f64,
    }
    fn flush(out: &mut Vec<[f64; 2]>, s: &Stroke) {
        let mut push = |v: f64| {
            if out.last() != Some(&[s.x, v]) {
                out.push([s.x, v]);
            }
        };
        if let Some(e) = s.entry {
            push(e);
        }
        if s.min != s.last {
            push(s.min);
        }
        if s.max != s.last {
            push(s.max);
        }
        push(s.last);
    }
    let mut out: Vec<[f64; 2]> = Vec::new();
    let mut stroke: Option<Stroke> = None;
    for b in buckets {
        let x = b.t.max(start);
        let index = ((x - start) / dt).floor() as i64;
        match &mut stroke {
            Some(s) if s.index == index => {
                s.min = s.min.min(b.min);
                s.max = s.max.max(b.max);
                s.last = b.last;
            }
            _ => {
                let entry = stroke.as_ref().map(|s| s.last);
                if let Some(s) = &stroke {
                    flush(&mut out, s);
                }
                stroke = Some(Stroke {
                    index,
                    x,
                    entry,
                    min: b.min,
                    max: b.max,
                    last: b.last,
                });
            }
        }
    }
    if let Some(s) = &stroke {
        flush(&mut out, s);
        out.push([now.max(s.x), s.last]);
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn steps_hold_each_value_until_the_next_point_and_reach_now() {
        let mut s = Series::new(64);
        s.push(1.0, 2.0);
        s.push(3.0, 5.0);
        let out = s.steps(0.0, 10.0, 4.0, 1e-6);
        assert_eq!(out, vec![[1.0, 2.0], [3.0, 2.0], [3.0, 5.0], [4.0, 5.0]]);
    }

    #[test]
    fn a_point_before_the_window_gives_the_value_at_its_start() {
        let mut s = Series::new(64);
        s.push(1.0, 7.0);
        s.push(12.0, 1.0);
        let out = s.steps(10.0, 20.0, 13.0, 0.01);
        assert_eq!(out[0], [10.0, 7.0]);
    }

    #[test]
    fn dense_points_keep_their_peak_in_few_strokes() {
        let mut s = Series::new(4096);
        for i in 0..1000 {
            s.push(
                1.0 + i as f64 * 1e-4,
                if i == 500 { 99.0 } else { 1.0 + (i % 2) as f64 },
            );
        }
        let out = s.steps(0.0, 10.0, 2.0, 0.01);
        assert!(out.len() < 100, "{} points", out.len());
        assert!(out.iter().any(|p| p[1] == 99.0));
    }

    #[test]
    fn after_an_hour_of_flood_the_last_seconds_stay_sharp_and_memory_bounded() {
        // One change every 0.5 ms for an hour (7.2 M changes), a 3 ms burst
        // to 50 at 3590 s, and one to 80 at 100 s.
        let mut s = Series::new(4096);
        let step = 0.0005;
        let n = (3600.0 / step) as u64;
        for i in 0..n {
            let t = i as f64 * step;
            let v = if (3590.0..3590.003).contains(&t) {
                50.0
            } else if (100.0..100.002).contains(&t) {
                80.0
            } else {
                (i % 3) as f64
            };
            s.push(t, v);
        }
        assert!(s.stored() <= 4096 * 9, "{} buckets", s.stored());
        // The last 10 s at 1000 px: 10 ms a pixel; the burst is there.
        let recent = s.steps(3590.0 - 5.0, 3600.0, 3600.0, 0.01);
        assert!(recent.iter().any(|p| p[1] == 50.0), "burst lost");
        assert!(recent.len() < 6000, "{}", recent.len());
        // The whole hour at 1000 px still shows both peaks.
        let all = s.steps(0.0, 3600.0, 3600.0, 3.6);
        assert!(all.iter().any(|p| p[1] == 80.0), "old peak lost");
        assert!(all.iter().any(|p| p[1] == 50.0));
        assert!(all.len() < 6000, "{}", all.len());
        assert_eq!(s.max, 80.0);
    }

    #[test]
    fn the_coarsest_level_keeps_the_whole_run() {
        let mut s = Series::new(16);
        s.push(0.5, 42.0);
        for i in 1..36_000 {
            s.push(i as f64 * 0.1, (i % 5) as f64);
        }
        assert!(s.stored() <= 16 * 9 + 1);
        let all = s.steps(0.0, 3600.0, 3600.0, 3.6);
        assert!(all.iter().any(|p| p[1] == 42.0), "the first value fell off");
    }

    #[test]
    fn integrals_are_time_weighted_at_every_level() {
        // 2 for 0.3 s, 5 for 0.2 s, 1 after: over [0, 1) the integral is
        // 0.6 + 1.0 + 0.5 = 2.1, at any column count and any level.
        let mut s = Series::new(4096);
        s.push(0.0, 2.0);
        s.push(0.3, 5.0);
        s.push(0.5, 1.0);
        for columns in [1, 2, 10, 1000] {
            let total: f64 = s.integrals(0.0, 1.0, 1.0, columns).iter().sum();
            assert!((total - 2.1).abs() < 1e-6, "{columns} columns: {total}");
        }
        let halves = s.integrals(0.0, 1.0, 1.0, 2);
        assert!(
            (halves[0] - 1.6).abs() < 0.03 && (halves[1] - 0.5).abs() < 0.03,
            "{halves:?}"
        );
        // Nothing after now.
        let early: f64 = s.integrals(0.0, 1.0, 0.4, 4).iter().sum();
        assert!((early - 1.1).abs() < 1e-6, "{early}");
        // A flood on the merging level keeps the total.
        let mut f = Series::new(16);
        for i in 0..100_000 {
            f.push(i as f64 * 0.01, (i % 2) as f64);
        }
        let total: f64 = f.integrals(0.0, 1000.0, 1000.0, 50).iter().sum();
        assert!((total - 500.0).abs() < 1.0, "{total}");
    }

    #[test]
    fn a_copy_follows_incrementally_and_equals_the_source() {
        let mut src = Series::new(32);
        let mut copy = Series::new(32);
        for round in 0..200 {
            for i in 0..37 {
                let t = (round * 37 + i) as f64 * 0.0007;
                src.push(t, ((round * 7 + i * 3) % 11) as f64);
            }
            copy.sync_from(&src);
            for (a, b) in copy.levels.iter().zip(&src.levels) {
                assert_eq!(a.buckets, b.buckets, "level of width {}", b.width);
                assert_eq!(a.pushed, b.pushed);
            }
        }
    }
}
