//! The child's side: `hilos __child TOKEN NAME` reads its job from stdin,
//! runs it as the MainThread of a lab of its own (its own GIL, its own
//! threads) whose events go up stdout, and exits with Python's exit code:
//! 0, 1 after an exception (its traceback on stderr), 101 after a panic
//! (a crash: a bug in Hilos).

use std::io::{BufRead, Write};
use std::panic::{AssertUnwindSafe, catch_unwind};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use parking_lot::Mutex;

use super::wire::{Down, Handle, Spec, Up, WireEvent};
use crate::probe::LabClock;
use crate::{Ctx, Knobs, Lab, LabOptions, SyncError, SyncResult};

/// What a child target gets besides its context: its arguments and the
/// `multiprocessing` objects it was handed.
#[derive(Clone, Debug)]
pub struct ChildArgs {
    pub name: String,
    pub args: serde_json::Value,
    pub handles: Vec<Handle>,
}

impl ChildArgs {
    /// The handle of the object named `name`.
    pub fn handle(&self, name: &str) -> SyncResult<&Handle> {
        self.handles
            .iter()
            .find(|h| handle_name(h) == name)
            .ok_or_else(|| SyncError::exception("KeyError", format!("no object '{name}'")))
    }

    /// The handle of the first `Manager` it was given.
    pub fn handle_any_manager(&self) -> SyncResult<&Handle> {
        self.handles
            .iter()
            .find(|h| matches!(h, Handle::Manager { .. }))
            .ok_or_else(|| SyncError::exception("KeyError", "no manager"))
    }

    /// A number argument.
    pub fn num(&self, key: &str) -> f64 {
        self.args.get(key).and_then(|v| v.as_f64()).unwrap_or(0.0)
    }
}

fn handle_name(h: &Handle) -> &str {
    match h {
        Handle::Queue { name, .. }
        | Handle::Conn { name, .. }
        | Handle::Lock { name, .. }
        | Handle::Value { name, .. }
        | Handle::Array { name, .. } => name,
        Handle::Manager { path } => path,
    }
}

/// A function a child process can run, by name.
pub type ChildTarget = fn(&Ctx, &ChildArgs) -> SyncResult<()>;

type Out = Arc<Mutex<std::io::BufWriter<std::io::Stdout>>>;

fn send(out: &Out, up: &Up) {
    if let Ok(mut line) = serde_json::to_string(up) {
        line.push('\n');
        let mut o = out.lock();
        let _ = o.write_all(line.as_bytes());
        let _ = o.flush();
    }
}

/// What the app hands a child process, so that the engine never imports
/// the lessons: how to find what a job names, and a scenario's knobs.
#[derive(Clone, Copy)]
pub struct Registry {
    /// The function a job names (`gil.task`, a pool's worker loop...).
    pub target: fn(&str) -> Option<ChildTarget>,
    /// The knobs of the scenario with this id, at their defaults.
    pub knobs: fn(&str) -> Option<Knobs>,
}

/// Run as a child; never returns. `registry` finds what the job names.
pub fn main(registry: Registry) -> ! {
    let find = registry.target;
    let stdin = std::io::stdin();
    let mut first = String::new();
    if stdin.lock().read_line(&mut first).is_err() {
        std::process::exit(2);
    }
    let spec: Spec = match serde_json::from_str(&first) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("hilos: this is a child process of the lab; bad job: {e}");
            std::process::exit(2);
        }
    };
    let Some(target) = find(&spec.target) else {
        eprintln!("hilos: no child target '{}'", spec.target);
        std::process::exit(2);
    };
    let out: Out = Arc::new(Mutex::new(std::io::BufWriter::new(std::io::stdout())));
    let clock: Arc<OnceLock<LabClock>> = Arc::new(OnceLock::new());
    let forward = {
        let (out, clock, epoch) = (out.clone(), clock.clone(), spec.epoch_mono);
        Arc::new(move |events: Vec<crate::probe::Event>, dropped: u64| {
            let Some(clock) = clock.get() else { return };
            // Our clock's epoch against the lab's: both read CLOCK_MONOTONIC.
            let shift = clock.epoch_mono().saturating_sub(epoch);
            let events = events
                .into_iter()
                .filter_map(|e| {
                    let t = clock.to_ns(e.t_raw) + shift;
                    WireEvent::from_event(e.kind).map(|w| (t, w))
                })
                .collect();
            send(&out, &Up::Events { dropped, events });
        }) as crate::record::Forward
    };
    let knobs = match spec.scenario.as_deref().and_then(registry.knobs) {
        Some(k) => {
            for (name, v) in &spec.knobs {
                let _ = k.set(name, *v);
            }
            k
        }
        None => Knobs::new(&[]),
    };
    let lab = Arc::new(Lab::new(
        LabOptions {
            speed: spec.speed,
            forward: Some(forward),
            priority: if spec.below_ui {
                crate::WorkerPriority::BelowUi
            } else {
                crate::WorkerPriority::Normal
            },
            ..LabOptions::default()
        },
        knobs,
    ));
    let _ = clock.set(lab.handle().shared().probe.clock().clone());
    if let Some((fd, _)) = spec.shm {
        match super::ipc::SharedMemory::open(fd) {
            Ok(shm) => *lab.handle().shared().processes().shm.lock() = Some(Arc::new(shm)),
            Err(e) => eprintln!("hilos: no shared memory in the child: {e}"),
        }
    }
    // Orders from the lab; its end closing means the lab is gone.
    {
        let lab = lab.clone();
        let _ = std::thread::Builder::new()
            .name("hilos-child-control".into())
            .spawn(move || {
                for line in std::io::stdin().lock().lines() {
                    let Ok(line) = line else { break };
                    match serde_json::from_str::<Down>(&line) {
                        Ok(Down::Knob { name, value }) => {
                            let _ = lab.set_knob(&name, value);
                        }
                        Ok(Down::Speed { speed }) => lab.set_speed(speed),
                        Err(_) => {}
                    }
                }
                // Orphaned: leave now, whatever runs.
                std::process::exit(1);
            });
    }
    send(
        &out,
        &Up::Hello {
            pid: std::process::id(),
        },
    );
    // How the target ended: its result, or the text of its panic.
    type Outcome = Option<Result<SyncResult<()>, String>>;
    let outcome: Arc<Mutex<Outcome>> = Arc::default();
    let args = ChildArgs {
        name: spec.name.clone(),
        args: spec.args.clone(),
        handles: spec.handles.clone(),
    };
    let (gil, interval) = (spec.gil, spec.switch_interval);
    let started = {
        let outcome = outcome.clone();
        lab.start_main(move |ctx| {
            let interp = ctx.lab().interpreter("GIL", gil, interval);
            let result = catch_unwind(AssertUnwindSafe(|| {
                ctx.attach(&interp)?;
                target(ctx, &args)
            }));
            let r = match result {
                Ok(r) => r,
                Err(p) => {
                    *outcome.lock() = Some(Err(panic_text(p.as_ref())));
                    return Err(SyncError::exception("SystemError", "the child panicked"));
                }
            };
            *outcome.lock() = Some(Ok(r.clone()));
            r
        })
    };
    if started.is_err() {
        std::process::exit(1);
    }
    while !lab.wait(Duration::from_secs(3600)) {}
    lab.stop();
    let code = match outcome.lock().take() {
        Some(Ok(Ok(()))) | None => 0,
        Some(Ok(Err(SyncError::Stopped))) => 0,
        Some(Ok(Err(e))) => {
            // What Python prints for an exception that ends a process.
            let line = e.python_line();
            eprintln!(
                "Process {}:\nTraceback (most recent call last):\n  (in the lab's {})\n{line}",
                spec.name, spec.target
            );
            send(&out, &Up::Raised { line });
            1
        }
        Some(Err(message)) => {
            send(
                &out,
                &Up::Raised {
                    line: format!("panic: {message}"),
                },
            );
            101
        }
    };
    let _ = out.lock().flush();
    std::process::exit(code);
}

fn panic_text(payload: &(dyn std::any::Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "a panic".to_string()
    }
}
