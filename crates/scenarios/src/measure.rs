//! Timing a strategy against doing the work one after another, so that a
//! busy or changing machine disturbs the speed-up as little as it can. The
//! lab's Parallelism lessons and the Python programs they print measure the
//! same way:
//!
//! - a warm-up first: a core that was idle runs slowly for a while;
//! - each strategy is timed several rounds, and each time *between two*
//!   sequential runs: its speed-up is the geometric mean of those two
//!   divided by its own time. A machine that slows down for a second (other
//!   programs, a virtual machine's neighbours) slows the strategy and the
//!   runs around it alike. On the 2-core machine this was written on, the
//!   same CPU work took anywhere from 27 to 62 ms over 8 seconds, in
//!   stretches of a fraction of a second to a few seconds;
//! - the median of the rounds is reported, with the lowest and highest.

use std::time::{Duration, Instant};

use super::{round2, to_ms};
use crate::lab::record::Record;
use crate::lab::{Ctx, LabHandle, SyncResult};

/// How long the warm-up computes before anything is timed.
pub const WARM_UP: Duration = Duration::from_millis(500);

/// Compute for [`WARM_UP`] (real time), in small pieces.
pub fn warm_up(ctx: &Ctx) -> SyncResult<()> {
    let until = Instant::now() + WARM_UP;
    while Instant::now() < until {
        ctx.compute(20_000)?;
    }
    Ok(())
}

/// The Python side of the same measuring, for the programs the Parallelism
/// lessons print: `count()` (pure Python CPU work), its calibration against
/// this thread's CPU time, and the warm-up. Both programs include it, so
/// they measure alike.
pub const PY_CPU_WORK: &str = r#"def count(n):
    """Pure Python CPU work: the thread holds the GIL all the while."""
    while n > 0:
        n -= 1

def steps_per_second():
    """How many steps of count() one core runs in a second of CPU time, the
    best of 5 tries (thread_time: other programs using the cores do not
    change it)."""
    n = 200_000
    best = float("inf")
    for _ in range(5):
        started = time.thread_time()
        count(n)
        best = min(best, time.thread_time() - started)
    return n / best

def warm_up(seconds=0.5):
    """A core that was idle runs slowly for a while: compute before timing."""
    until = time.perf_counter() + seconds
    while time.perf_counter() < until:
        count(10_000)"#;

/// The median (the mean of the middle two for an even count); 0 for none.
pub fn median(values: &[f64]) -> f64 {
    let mut v: Vec<f64> = values.iter().copied().filter(|x| x.is_finite()).collect();
    if v.is_empty() {
        return 0.0;
    }
    v.sort_by(f64::total_cmp);
    let mid = v.len() / 2;
    if v.len() % 2 == 1 {
        v[mid]
    } else {
        (v[mid - 1] + v[mid]) / 2.0
    }
}

/// Rounds of strategies, each timed between two sequential runs.
#[derive(Debug, Default)]
pub struct Sandwich {
    /// Every sequential run, in order (one more than the strategies timed).
    sequential: Vec<f64>,
    /// Per strategy, in the order first timed: its times and speed-ups.
    strategies: Vec<(&'static str, Vec<f64>, Vec<f64>)>,
}

impl Sandwich {
    /// Begin with the first sequential run's time (seconds).
    pub fn new(first_sequential: f64) -> Self {
        Sandwich {
            sequential: vec![first_sequential],
            strategies: Vec::new(),
        }
    }

    /// `took`: the strategy's time; `after`: the sequential run timed right
    /// after it. Returns this round's speed-up.
    pub fn add(&mut self, name: &'static str, took: f64, after: f64) -> f64 {
        let before = self.sequential.last().copied().unwrap_or(after);
        self.sequential.push(after);
        let speedup = if took > 0.0 {
            (before * after).sqrt() / took
        } else {
            0.0
        };
        match self.strategies.iter_mut().find(|(n, _, _)| *n == name) {
            Some((_, times, speedups)) => {
                times.push(took);
                speedups.push(speedup);
            }
            None => self.strategies.push((name, vec![took], vec![speedup])),
        }
        speedup
    }

    /// The median sequential time.
    pub fn sequential(&self) -> f64 {
        median(&self.sequential)
    }

    /// A strategy's speed-ups so far: median, lowest, highest, rounds.
    pub fn spread(&self, name: &str) -> Spread {
        let v = self
            .strategies
            .iter()
            .find(|(n, _, _)| *n == name)
            .map_or(&[][..], |(_, _, s)| s.as_slice());
        Spread {
            median: median(v),
            low: v.iter().copied().fold(f64::INFINITY, f64::min),
            high: v.iter().copied().fold(0.0, f64::max),
            rounds: v.len(),
        }
    }

    /// Keep the medians as counters: `sequential_ms`, and per strategy
    /// `{name}_ms` (its median time) and `{name}_speedup_milli`,
    /// `_low_milli`, `_high_milli`; [`speedup_of`] reads them back.
    pub fn record(&self, lab: &LabHandle) {
        lab.counter("sequential_ms").set(to_ms(self.sequential()));
        for (name, times, _) in &self.strategies {
            let s = self.spread(name);
            lab.counter(&format!("{name}_ms")).set(to_ms(median(times)));
            lab.counter(&format!("{name}_speedup_milli"))
                .set(to_ms(s.median));
            lab.counter(&format!("{name}_speedup_low_milli"))
                .set(to_ms(s.low));
            lab.counter(&format!("{name}_speedup_high_milli"))
                .set(to_ms(s.high));
            lab.counter(&format!("{name}_rounds")).set(s.rounds as i64);
        }
    }
}

/// A speed-up measured over several rounds.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Spread {
    pub median: f64,
    pub low: f64,
    pub high: f64,
    pub rounds: usize,
}

impl Spread {
    /// As the log and the Python programs print it.
    pub fn describe(&self) -> String {
        format!(
            "{:.2} (from {:.2} to {:.2} over {} rounds)",
            self.median, self.low, self.high, self.rounds
        )
    }
}

/// A strategy's speed-up as [`Sandwich::record`] kept it, to two decimals:
/// (median, lowest, highest); zeros before it was measured.
pub fn speedup_of(record: &Record, name: &str) -> (f64, f64, f64) {
    let milli = |suffix: &str| {
        record
            .counter_value(&format!("{name}_speedup{suffix}_milli"))
            .map_or(0.0, |v| round2(v as f64 / 1000.0))
    };
    (milli(""), milli("_low"), milli("_high"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_median_of_odd_and_even_counts() {
        assert_eq!(median(&[]), 0.0);
        assert_eq!(median(&[3.0, 1.0, 2.0]), 2.0);
        assert_eq!(median(&[4.0, 1.0, 3.0, 2.0]), 2.5);
    }

    #[test]
    fn a_strategy_is_held_against_the_sequential_runs_on_each_side() {
        // The machine halves its speed in the middle of the second round:
        // the sequential runs around it show it, so the speed-up does not.
        let mut s = Sandwich::new(1.0);
        assert!((s.add("processes", 0.5, 1.0) - 2.0).abs() < 1e-9);
        assert!((s.add("processes", 1.0, 4.0) - 2.0).abs() < 1e-9);
        assert!((s.add("processes", 2.0, 4.0) - 2.0).abs() < 1e-9);
        assert!((s.add("threads", 4.0, 4.0) - 1.0).abs() < 1e-9);
        let p = s.spread("processes");
        assert_eq!(p.rounds, 3);
        assert!((p.median - 2.0).abs() < 1e-9);
        assert_eq!(s.spread("threads").rounds, 1);
        assert_eq!(s.spread("nothing").rounds, 0);
        assert_eq!(s.sequential(), 4.0);
    }
}
