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
