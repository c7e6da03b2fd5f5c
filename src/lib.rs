//! Hilos: a concurrency lab. `lab` runs real instrumented threads with Python's
//! semantics; `scenarios` are the lessons; `ui` draws them; `cli` runs them headless.

pub mod cli;
pub mod explore;
pub mod export;
pub mod lab;
pub mod python;
pub mod scenarios;
pub mod setup;
pub mod ui;
