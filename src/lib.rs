//! Hilos: a concurrency lab. `lab` runs real instrumented threads with Python's
//! semantics; `scenarios` are the lessons; `ui` draws them; `cli` runs them headless.

pub mod cli;
pub mod explore;
pub mod export;
pub mod python;
pub mod setup;
pub mod ui;

/// The engine (the `hilos-lab` crate): real threads with Python's semantics,
/// the recorder, the gate, the controller. It knows no lesson and no egui.
pub use hilos_lab as lab;
/// `t!("English", "Español")`: a text in both languages.
pub use hilos_lab::t;
/// The lessons (the `hilos-scenarios` crate), built on the engine.
pub use hilos_scenarios as scenarios;

/// ARCHITECTURE.md's example scenario is compiled and run as a doctest, so
/// the way to add a scenario stays true.
#[cfg(doctest)]
#[doc = include_str!("../ARCHITECTURE.md")]
pub struct ArchitectureMd;
