//! CPU use, sampled from /proc every 200 ms while a lab has children:
//! each child's and the lab's own (% of one core, as `top` shows it) and
//! the machine's (% of all its cores).

use std::sync::Weak;
use std::time::{Duration, Instant};

use crate::LabShared;
use crate::probe::EventKind;

const EVERY: Duration = Duration::from_millis(200);

/// Clock ticks a process has run (user + system), from /proc/PID/stat.
fn ticks(pid: &str) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after = stat.rsplit_once(')')?.1;
    let mut fields = after.split_whitespace();
    // After the command: state is field 3; utime 14, stime 15.
    let utime: u64 = fields.nth(11)?.parse().ok()?;
    let stime: u64 = fields.next()?.parse().ok()?;
    Some(utime + stime)
}

/// (busy, total) jiffies of the whole machine, from /proc/stat.
fn machine() -> Option<(u64, u64)> {
    let stat = std::fs::read_to_string("/proc/stat").ok()?;
    let line = stat.lines().next()?;
    let v: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .filter_map(|x| x.parse().ok())
        .collect();
    let total: u64 = v.iter().take(8).sum();
    let idle = v.get(3).copied().unwrap_or(0) + v.get(4).copied().unwrap_or(0);
    Some((total.saturating_sub(idle), total))
}

fn ticks_per_second() -> f64 {
    rustix::param::clock_ticks_per_second() as f64
}

pub(super) fn sample(lab: &Weak<LabShared>) {
    let hz = ticks_per_second().max(1.0);
    let mut last = Instant::now();
    let mut last_machine = machine();
    let mut last_self = ticks("self");
    let mut last_child: std::collections::HashMap<u32, u64> = Default::default();
    loop {
        // In short naps, so Stop never waits for a whole period.
        let nap_until = Instant::now() + EVERY;
        while Instant::now() < nap_until {
            std::thread::sleep(Duration::from_millis(10));
            match lab.upgrade() {
                Some(l) if !l.is_stopping() => {}
                _ => return,
            }
        }
        let Some(lab) = lab.upgrade() else { return };
        if lab.is_stopping() {
            return;
        }
        let now = Instant::now();
        let dt = (now - last).as_secs_f64().max(1e-3);
        last = now;
        if let (Some((b0, t0)), Some((b1, t1))) = (last_machine, machine()) {
            let total = t1.saturating_sub(t0).max(1) as f64;
            lab.probe.emit(EventKind::MachineCpu {
                percent: 100.0 * b1.saturating_sub(b0) as f64 / total,
            });
            last_machine = Some((b1, t1));
        }
        if let (Some(a), Some(b)) = (last_self, ticks("self")) {
            lab.probe.emit(EventKind::ProcessCpu {
                id: None,
                percent: 100.0 * b.saturating_sub(a) as f64 / hz / dt,
            });
            last_self = Some(b);
        }
        for p in lab.processes().alive() {
            let Some(pid) = p.m.lock().pid else { continue };
            let Some(now_ticks) = ticks(&pid.to_string()) else {
                continue;
            };
            if let Some(before) = last_child.insert(pid, now_ticks) {
                lab.probe.emit(EventKind::ProcessCpu {
                    id: Some(p.id),
                    percent: 100.0 * now_ticks.saturating_sub(before) as f64 / hz / dt,
                });
            }
        }
    }
}
