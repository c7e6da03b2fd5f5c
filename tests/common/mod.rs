//! What several test files measure the same way: CPU time, which other
//! programs on the machine do not change, where wall time would depend on
//! how busy the machine is. `mod common;` in a test file brings these in.
//! Linux only (libc is a Linux dependency here); elsewhere they return 0,
//! and only the tests' wall-time bounds are checked.

#![allow(dead_code)]

use std::time::Duration;

#[cfg(target_os = "linux")]
fn usage(who: libc::c_int) -> libc::rusage {
    // SAFETY: getrusage only writes the struct it is given.
    let mut u: libc::rusage = unsafe { std::mem::zeroed() };
    // SAFETY: as above; `who` is RUSAGE_SELF or RUSAGE_THREAD.
    unsafe { libc::getrusage(who, &mut u) };
    u
}

#[cfg(target_os = "linux")]
fn cpu(u: &libc::rusage) -> Duration {
    let tv = |t: libc::timeval| Duration::new(t.tv_sec as u64, t.tv_usec as u32 * 1000);
    tv(u.ru_utime) + tv(u.ru_stime)
}

/// The calling thread's CPU time, and how many times it gave up the CPU to
/// wait (voluntary context switches).
#[cfg(target_os = "linux")]
pub fn thread_usage() -> (Duration, i64) {
    let u = usage(libc::RUSAGE_THREAD);
    (cpu(&u), u.ru_nvcsw)
}

#[cfg(not(target_os = "linux"))]
pub fn thread_usage() -> (Duration, i64) {
    (Duration::ZERO, 0)
}

/// This process's CPU time so far, every thread, user and system.
#[cfg(target_os = "linux")]
pub fn process_cpu() -> Duration {
    cpu(&usage(libc::RUSAGE_SELF))
}

#[cfg(not(target_os = "linux"))]
pub fn process_cpu() -> Duration {
    Duration::ZERO
}

/// The calling thread's time on a CPU and time spent runnable but waiting
/// for one (`/proc/thread-self/schedstat`, nanoseconds). Over an interval,
/// wall time minus both is the time the thread was blocked: asleep on a
/// lock, a join, a channel or the kernel, which the load beside it does not
/// lengthen (preemption counts as waiting for a CPU, not as blocked).
#[cfg(target_os = "linux")]
pub fn thread_sched() -> Option<(Duration, Duration)> {
    let s = std::fs::read_to_string("/proc/thread-self/schedstat").ok()?;
    let mut it = s.split_whitespace().map(|v| v.parse::<u64>().ok());
    let on_cpu = it.next()??;
    let run_delay = it.next()??;
    Some((
        Duration::from_nanos(on_cpu),
        Duration::from_nanos(run_delay),
    ))
}

#[cfg(not(target_os = "linux"))]
pub fn thread_sched() -> Option<(Duration, Duration)> {
    None
}

/// How many of a lab's OS threads are still listed once they have had a
/// moment to go (`None` where they cannot be counted: not Linux). A thread
/// that was joined has ended, but the kernel may list it in /proc for a
/// little while longer, more so on a loaded machine: wait up to a second
/// for the count to reach 0, and return what it is then.
pub fn os_threads_left(prefix: &str) -> Option<usize> {
    let deadline = std::time::Instant::now() + Duration::from_secs(1);
    loop {
        let n = hilos::lab::count_os_threads_with_prefix(prefix)?;
        if n == 0 || std::time::Instant::now() >= deadline {
            return Some(n);
        }
        std::thread::sleep(Duration::from_millis(2));
    }
}
