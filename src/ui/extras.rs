//! The one place that picks a scenario's own view in the window. A scenario
//! names the view it needs ([`Extra`]); this file maps each to its code.
//! Nothing else in the window looks at which scenario runs. What a view is
//! (the trait) lives in `scenario_view`, which the views use, so the views
//! do not point back here.

use super::event_loop::EventLoopExtra;
use super::frozen::FrozenExtra;
use super::philosophers::PhilosophersExtra;
use super::pool_view::{BarsExtra, FuturesExtra, ThreadNotesExtra};
use super::scenario_view::ScenarioExtra;
use super::waitfor::WaitForExtra;
use crate::scenarios::Extra;

/// The view a scenario asked for.
pub fn for_scenario(extra: Extra) -> Option<Box<dyn ScenarioExtra>> {
    match extra {
        Extra::None => None,
        Extra::FrozenUi => Some(Box::new(FrozenExtra::default())),
        Extra::EventLoop { against_n } => Some(Box::new(EventLoopExtra::new(against_n))),
        Extra::ThreadNotes { expected, actual } => {
            Some(Box::new(ThreadNotesExtra { expected, actual }))
        }
        Extra::Futures => Some(Box::new(FuturesExtra)),
        Extra::Bars(groups) => Some(Box::new(BarsExtra { groups })),
        Extra::Processes { strategies } => {
            Some(Box::new(super::process_view::ProcessesExtra { strategies }))
        }
        Extra::WaitForGraph => Some(Box::new(WaitForExtra)),
        Extra::Philosophers => Some(Box::new(PhilosophersExtra)),
    }
}
