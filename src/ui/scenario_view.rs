//! What a scenario's own view is to the window: the [`ScenarioExtra`]
//! trait each view implements and the [`ExtraCx`] it reads while it draws.
//! The views (`waitfor`, `philosophers`, `pool_view`…) use this file; the
//! window's shell and `extras` (which picks a view per scenario) use both.

use eframe::egui::Ui;

use super::Action;
use super::frames::FrameTimes;
use super::view::View;
use crate::lab::Knobs;
use crate::lab::controller::Controller;
use crate::lab::record::Record;
use crate::lab::text::Lang;

/// What an extra view may read while it draws.
pub struct ExtraCx<'a> {
    pub lang: Lang,
    pub view: &'a View,
    pub frames: &'a FrameTimes,
    pub knobs: &'a Knobs,
    pub speed: f64,
    pub running: bool,
    /// The window's own copy of the record (no lock held), once a run started.
    pub record: Option<&'a Record>,
}

/// A scenario's own view and behaviour in the window.
pub trait ScenarioExtra {
    /// Draw above the timeline; push what the user asked for.
    fn show(&mut self, ui: &mut Ui, cx: &ExtraCx, actions: &mut Vec<Action>);

    /// A note shown under a knob, e.g. how long a run would freeze the window.
    fn knob_note(&self, _knob: &str, _cx: &ExtraCx) -> Option<String> {
        None
    }

    /// Start was pressed: do it this scenario's way and return true, or
    /// return false to let the controller start the lab as usual.
    fn start(&mut self, _controller: &mut Controller) -> bool {
        false
    }

    /// An [`Action::Extra`] this view pushed.
    fn act(&mut self, _code: u32, _controller: &mut Controller) {}

    /// The run was reset or another one started.
    fn reset(&mut self) {}

    /// After the frame is built. Returns whether the frame was blocked on
    /// purpose (frozen-ui's run on the UI thread happens here).
    fn end_frame(&mut self, _speed: f64) -> bool {
        false
    }

    /// Note this frame's CPU time.
    fn after_frame(&mut self, _cpu_ms: f32, _running: bool, _blocked: bool) {}

    /// Whether the view moves by itself (asks for frames while idle).
    fn animating(&self) -> bool {
        false
    }

    /// For tests: (steps done, steps) of a progress the view shows.
    fn progress(&self, _view: &View, _knobs: &Knobs) -> Option<(usize, usize)> {
        None
    }

    /// For tests: the longest frame of the view's current run, in ms.
    fn longest_frame_ms(&self) -> Option<f32> {
        None
    }

    /// Whether the view shows the frame-time plot itself.
    fn shows_frame_times(&self) -> bool {
        false
    }
}
