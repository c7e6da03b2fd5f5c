//! The window (egui only): draws what the lab records.

use crate::lab::text::Lang;

pub fn run(_lang: Lang) -> Result<(), String> {
    Err("the window is not built yet".into())
}
