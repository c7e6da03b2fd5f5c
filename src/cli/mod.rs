//! The headless runner: `hilos list` and `hilos run`, for tests and scripts.
//! It produces the same numbers the window shows, as text or as JSON.
//!
//! [`parse`] reads and checks the whole command line without starting anything:
//! it returns a [`Plan`] in which every value is valid, or a one-line
//! [`UsageError`]. The binary then carries the plan out.

//!
//! Split by job: `args` reads the command line into a plan, `commands`
//! carries a plan out (run, replay, explore, check), `report` turns a
//! finished run into what is printed (text or JSON).
use std::collections::BTreeMap;
use std::ffi::OsString;
use std::fmt::Write as _;
use std::time::Duration;

use clap::error::{ContextKind, ContextValue, ErrorKind};
use clap::{Args, CommandFactory as _, FromArgMatches as _, Parser, Subcommand};
use serde::Serialize;

use crate::lab::knobs::{KnobError, format_number};
use crate::lab::record::Record;
use crate::lab::text::Lang;
use crate::lab::{Knobs, Lab, LabOptions, MAX_SPEED, MIN_SPEED, State, StopReport};
use crate::scenarios::{self, Scenario};

mod args;
mod commands;
mod report;

pub use args::*;
pub use commands::*;
pub use report::*;
