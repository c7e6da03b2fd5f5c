//! The window's own frame times: CPU time spent in each update and the real
//! gap between frames, kept for the last few hundred frames.

use std::collections::VecDeque;

/// How many frames the history keeps.
pub const HISTORY: usize = 300;

/// The first frames build font atlases and layouts once; they would dwarf
/// everything after them in the plot, so they are not kept.
const SKIP_FIRST: u32 = 3;

#[derive(Default)]
pub struct FrameTimes {
    cpu: VecDeque<f32>,
    gap: VecDeque<f32>,
    skipped: u32,
}

impl FrameTimes {
    pub fn push(&mut self, cpu_ms: f32, gap_ms: f32) {
        if self.skipped < SKIP_FIRST {
            self.skipped += 1;
            return;
        }
        if self.cpu.len() == HISTORY {
            self.cpu.pop_front();
            self.gap.pop_front();
        }
        self.cpu.push_back(cpu_ms);
        self.gap.push_back(gap_ms);
    }

    /// CPU time of the last frame, in ms.
    pub fn last_cpu_ms(&self) -> f32 {
        self.cpu.back().copied().unwrap_or(0.0)
    }

    pub fn cpu_ms(&self) -> impl Iterator<Item = f32> + '_ {
        self.cpu.iter().copied()
    }

    pub fn gap_ms(&self) -> impl Iterator<Item = f32> + '_ {
        self.gap.iter().copied()
    }

    pub fn len(&self) -> usize {
        self.cpu.len()
    }
}
