//! The window's files, settings and shortcuts (egui_kittest over the real
//! `HilosApp`): settings saved through eframe's storage come back in a new
//! window; Space, R and F1 work; setups save and open through the path field
//! (where no native dialog can open), and a bad one changes nothing; exports
//! write valid files.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use eframe::egui;
use egui::Role;
use egui_kittest::Harness;
use egui_kittest::kittest::Queryable;
use hilos::lab::controller::Phase;
use hilos::lab::text::Lang;
use hilos::ui::{HilosApp, Theme};

fn harness() -> Harness<'static, HilosApp> {
    let mut harness = Harness::builder()
        .with_size(egui::vec2(1400.0, 900.0))
        .build_eframe(|cc| HilosApp::new(cc, Lang::En));
    harness.run_steps(2);
    harness
}

fn step_until(
    harness: &mut Harness<'static, HilosApp>,
    timeout: Duration,
    mut done: impl FnMut(&HilosApp) -> bool,
) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        harness.step();
        if done(harness.state()) {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// eframe's storage, in memory.
#[derive(Default)]
struct Memory(HashMap<String, String>);

impl eframe::Storage for Memory {
    fn get_string(&self, key: &str) -> Option<String> {
        self.0.get(key).cloned()
    }

    fn set_string(&mut self, key: &str, value: String) {
        self.0.insert(key.to_string(), value);
    }

    fn remove_string(&mut self, key: &str) {
        self.0.remove(key);
    }

    fn flush(&mut self) {}
}

#[test]
fn settings_saved_through_eframe_storage_come_back_in_a_new_window() {
    let mut harness = harness();
    harness.get_by_label("Español").click();
    harness.run_steps(2);
    harness
        .get_by_role_and_label(Role::Button, "Productor\u{2013}consumidor con una Queue")
        .click();
    harness.run_steps(2);
    harness.state().knobs().set("producers", 7.0).unwrap();
    harness.state().knobs().set("produce_pause", 0.25).unwrap();
    harness.get_by_label("Ver").click();
    harness.run_steps(3);
    harness
        .get_by_role_and_label(Role::RadioButton, "Claro")
        .click();
    harness.run_steps(2);
    let mut storage = Memory::default();
    eframe::App::save(harness.state_mut(), &mut storage);

    let mut fresh = harness_from(&storage);
    let app = fresh.state();
    assert_eq!(app.lang(), Lang::Es);
    assert_eq!(app.selected(), "producer-consumer");
    assert_eq!(app.knobs().get("producers"), 7.0);
    assert_eq!(app.knobs().get("produce_pause"), 0.25);
    assert_eq!(app.theme(), Theme::Light);
    fresh.run_steps(2);
    assert!(fresh.query_by_label("Iniciar").is_some());

    // Reset knobs to defaults, from the File menu.
    fresh.get_by_label("Archivo").click();
    fresh.run_steps(3);
    fresh.get_by_label("Restablecer los controles").click();
    fresh.run_steps(2);
    assert_eq!(fresh.state().knobs().get("producers"), 1.0);
}

fn harness_from(storage: &Memory) -> Harness<'static, HilosApp> {
    let saved: HashMap<String, String> = storage.0.clone();
    let mut harness = Harness::builder()
        .with_size(egui::vec2(1400.0, 900.0))
        .build_eframe(move |cc| {
            let mut app = HilosApp::new(cc, Lang::En);
            app.restore_from(&Memory(saved.clone()));
            app
        });
    harness.run_steps(2);
    harness
}

#[test]
fn space_starts_and_stops_r_resets_and_f1_opens_help() {
    let mut harness = harness();
    harness
        .get_by_role_and_label(Role::Button, "Race condition")
        .click();
    harness.run_steps(2);
    harness.state().knobs().set("updates", 100.0).unwrap();
    // Nothing focused: the keys go to the window's shortcuts.
    harness.key_press(egui::Key::Escape);
    harness.run_steps(1);
    harness.key_press(egui::Key::Space);
    assert!(
        step_until(&mut harness, Duration::from_secs(3), |app| app.phase()
            == Phase::Running),
        "Space did not start"
    );
    harness.key_press(egui::Key::Space);
    assert!(
        step_until(&mut harness, Duration::from_secs(3), |app| app.phase()
            == Phase::Stopped),
        "Space did not stop: {:?}",
        harness.state().phase()
    );
    harness.key_press(egui::Key::R);
    assert!(
        step_until(&mut harness, Duration::from_secs(3), |app| app
            .lab()
            .is_none()),
        "R did not reset"
    );
    harness.key_press(egui::Key::F1);
    harness.run_steps(2);
    assert!(
        harness
            .query_by_label_contains("Space: start or stop")
            .is_some()
    );
}

fn type_path_and_confirm(harness: &mut Harness<'static, HilosApp>, path: &str, button: &str) {
    // The field's window appears over the next frames.
    harness.run_steps(3);
    let field = harness.get_by_role_and_label(Role::TextInput, "File path");
    field.focus();
    harness.run_steps(1);
    // Replace the suggested name.
    harness.key_press_modifiers(egui::Modifiers::COMMAND, egui::Key::A);
    harness.run_steps(1);
    harness
        .get_by_role_and_label(Role::TextInput, "File path")
        .type_text(path);
    harness.run_steps(1);
    harness.get_by_label(button).click();
    harness.run_steps(2);
}

#[test]
fn a_setup_saves_and_opens_through_the_path_field_and_a_bad_one_changes_nothing() {
    let dir = std::env::temp_dir().join(format!("hilos-ui-files-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let file = dir.join("mine.setup.json");

    let mut harness = harness();
    harness.state_mut().use_path_field(true);
    harness
        .get_by_role_and_label(Role::Button, "Race condition")
        .click();
    harness.run_steps(2);
    harness.state().knobs().set("threads", 9.0).unwrap();
    harness.get_by_label("File").click();
    harness.run_steps(3);
    harness.get_by_label("Save setup\u{2026} Ctrl+S").click();
    harness.run_steps(2);
    type_path_and_confirm(&mut harness, file.to_str().unwrap(), "Save");
    assert!(
        step_until(&mut harness, Duration::from_secs(3), |_| file.exists()),
        "nothing written"
    );
    let text = std::fs::read_to_string(&file).unwrap();
    assert!(text.contains("\"threads\": 9"), "{text}");

    // Change things, then open the file: they come back.
    harness.state().knobs().set("threads", 2.0).unwrap();
    harness
        .get_by_role_and_label(Role::Button, "Producer\u{2013}consumer with a Queue")
        .click();
    harness.run_steps(2);
    harness.state_mut().open_setup(&file);
    harness.run_steps(2);
    assert_eq!(harness.state().selected(), "race-condition");
    assert_eq!(harness.state().knobs().get("threads"), 9.0);

    // A bad file: one message, nothing changes.
    let bad = dir.join("bad.json");
    std::fs::write(
        &bad,
        r#"{"hilos_setup": 1, "scenario": "producer-consumer", "knobs": {"producers": 999}}"#,
    )
    .unwrap();
    harness.state_mut().open_setup(&bad);
    harness.run_steps(2);
    assert_eq!(harness.state().selected(), "race-condition");
    assert_eq!(harness.state().knobs().get("threads"), 9.0);
    assert!(harness.query_by_label_contains("out of range").is_some());
}

#[test]
fn exports_from_the_window_write_valid_files_off_the_ui_thread() {
    let dir = std::env::temp_dir().join(format!("hilos-ui-export-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&dir);
    std::fs::create_dir_all(&dir).unwrap();
    let mut harness = harness();
    harness.state_mut().use_path_field(true);
    harness
        .get_by_role_and_label(Role::Button, "Race condition")
        .click();
    harness.run_steps(2);
    // Nothing to export before a run: said, not done.
    harness.get_by_label("File").click();
    harness.run_steps(3);
    harness
        .get_by_label("Export trace for Perfetto\u{2026} Ctrl+E")
        .click();
    harness.run_steps(2);
    assert!(
        harness
            .query_by_label_contains("Nothing to export yet")
            .is_some()
    );

    harness.state().knobs().set("pause", 0.02).unwrap();
    harness.get_by_label("Start").click();
    assert!(step_until(&mut harness, Duration::from_secs(5), |app| {
        app.phase() == Phase::Finished && app.view().run_end > 0.0
    }));
    for (item, name) in [
        ("Export trace for Perfetto\u{2026} Ctrl+E", "run.trace.json"),
        ("Export series as CSV\u{2026}", "run.csv"),
        ("Export run as JSON\u{2026}", "run.json"),
    ] {
        let path = dir.join(name);
        harness.get_by_label("File").click();
        harness.run_steps(3);
        harness.get_by_label(item).click();
        harness.run_steps(2);
        type_path_and_confirm(&mut harness, path.to_str().unwrap(), "Save");
        assert!(
            step_until(&mut harness, Duration::from_secs(5), |_| path.exists()),
            "{name} not written"
        );
    }
    let trace: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("run.trace.json")).unwrap())
            .unwrap();
    assert!(
        trace["traceEvents"]
            .as_array()
            .is_some_and(|e| e.len() > 10)
    );
    let csv = std::fs::read_to_string(dir.join("run.csv")).unwrap();
    assert!(csv.starts_with("series,seconds,value\n") && csv.contains("\nactual,"));
    let run: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(dir.join("run.json")).unwrap()).unwrap();
    assert_eq!(run["scenario"], "race-condition");
    assert_eq!(run["metrics"]["actual"], 1.0);
}
