//! The house rules of ARCHITECTURE.md, checked so that they stay true.
//!
//! - The crates point one way: the app uses the lessons, the lessons use the
//!   engine. Cargo refuses a cycle between crates, so what is left to check
//!   is that the engine's and the lessons' manifests do not name what sits
//!   above them (egui, eframe, the lessons, the app).
//! - Inside the engine, its folders form layers: the core at the top level
//!   (clock and events, recorder, workers, waits, gate), then `sync` (the
//!   primitives), then `futures`, `process` and `aio` (what runs on them). A
//!   file may use its own layer and the layers below it, never one above or
//!   beside. `lib.rs` is the crate's front door: it declares every module and
//!   re-exports from them (`pub mod`, `pub use`), and is held to the core's
//!   rule in everything else. The core reaches the layers above it only
//!   through the hooks they register (`extension.rs`).

use std::path::{Path, PathBuf};

/// Folders that are part of the core, split from one file by job: held to
/// the top level's rule.
const CORE_FOLDERS: &[&str] = &["record"];

/// The lab's folders, each with the folders it may use (besides itself and
/// the top level, which everything may use).
const LAYERS: &[(&str, &[&str])] = &[
    ("sync", &[]),
    ("futures", &["sync"]),
    ("process", &["sync"]),
    ("aio", &["sync"]),
];

fn rust_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let entries = std::fs::read_dir(dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    for entry in entries.flatten() {
        let path = entry.path();
        if path.is_dir() {
            rust_files(&path, out);
        } else if path.extension().is_some_and(|e| e == "rs") {
            out.push(path);
        }
    }
}

/// The code of a file without its comments and its unit tests.
fn code(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let text = match text.find("#[cfg(test)]") {
        Some(i) => &text[..i],
        None => &text[..],
    };
    text.lines()
        .map(|l| match l.find("//") {
            Some(i) => &l[..i],
            None => l,
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// `lib.rs` without its module declarations and re-exports (which name
/// every layer: that is what a front door is for).
fn front_door(code: &str) -> String {
    let mut out = Vec::new();
    let mut in_reexport = false;
    for line in code.lines() {
        let t = line.trim_start();
        if t.starts_with("pub use ")
            || t.starts_with("pub mod ")
            || t.starts_with("pub(crate) mod ")
            || t.starts_with("mod ")
        {
            in_reexport = !t.trim_end().ends_with(';');
            continue;
        }
        if in_reexport {
            in_reexport = !t.trim_end().ends_with(';');
            continue;
        }
        out.push(line);
    }
    out.join("\n")
}

/// Whether `name::` starts a path somewhere in `code` (not `std::sync::`).
fn starts_a_path(code: &str, name: &str) -> bool {
    let pattern = format!("{name}::");
    code.match_indices(&pattern).any(|(i, _)| {
        !code[..i]
            .chars()
            .next_back()
            .is_some_and(|c| c.is_alphanumeric() || c == '_' || c == ':')
    })
}

/// The first segment of every path that starts with `prefix` (`crate::`,
/// `super::`), including each entry of a `prefix{a::b, c}` group.
fn first_segments(code: &str, prefix: &str) -> Vec<String> {
    let ident = |s: &str| -> String {
        s.trim_start()
            .chars()
            .take_while(|c| c.is_alphanumeric() || *c == '_')
            .collect()
    };
    let mut out = Vec::new();
    for (i, _) in code.match_indices(prefix) {
        // Not the tail of a longer path such as `super::super::`.
        let before = code[..i].chars().next_back();
        if before.is_some_and(|c| c.is_alphanumeric() || c == '_' || c == ':') {
            continue;
        }
        let rest = &code[i + prefix.len()..];
        if let Some(group) = rest.strip_prefix('{') {
            let group = &group[..group.find('}').unwrap_or(group.len())];
            out.extend(group.split(',').map(ident));
        } else {
            out.push(ident(rest));
        }
    }
    out.retain(|s| !s.is_empty());
    out
}

#[test]
fn the_engine_s_folders_use_only_the_layers_below_them() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("crates/lab/src");
    let mut files = Vec::new();
    rust_files(&root, &mut files);
    assert!(files.len() > 20, "the lab's files: {}", files.len());
    let folders: Vec<&str> = LAYERS.iter().map(|(f, _)| *f).collect();
    let mut wrong = Vec::new();
    for path in &files {
        let rel = path.strip_prefix(&root).expect("under the lab");
        let folder = rel
            .components()
            .next()
            .filter(|_| rel.components().count() > 1)
            .and_then(|c| c.as_os_str().to_str())
            .filter(|f| !CORE_FOLDERS.contains(f));
        let allowed: Vec<&str> = match folder {
            None => Vec::new(),
            Some(f) => {
                let below = LAYERS
                    .iter()
                    .find(|(name, _)| *name == f)
                    .unwrap_or_else(|| panic!("{f}: a lab folder missing from LAYERS"))
                    .1;
                below.iter().copied().chain([f]).collect()
            }
        };
        let mut code = code(path);
        if rel == Path::new("lib.rs") {
            code = front_door(&code);
            // At the crate root a module's own name starts a path too.
            for name in &folders {
                if starts_a_path(&code, name) {
                    wrong.push(format!("lib.rs uses {name}"));
                }
            }
        }
        let mut used = first_segments(&code, "crate::");
        // At the top level (and in a core folder's `mod.rs`), `super::` is
        // the crate root too.
        if folder.is_none() && (rel.components().count() == 1 || rel.ends_with("mod.rs")) {
            used.extend(first_segments(&code, "super::"));
        }
        for name in used {
            if folders.contains(&name.as_str()) && !allowed.contains(&name.as_str()) {
                wrong.push(format!("{} uses {name}", rel.display()));
            }
        }
    }
    wrong.sort();
    wrong.dedup();
    assert!(wrong.is_empty(), "upward or sideways: {wrong:#?}");
}

/// The crates a manifest depends on (the keys of its dependency tables).
fn dependencies(crate_dir: &str) -> Vec<String> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR"))
        .join(crate_dir)
        .join("Cargo.toml");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let mut in_deps = false;
    let mut out = Vec::new();
    for line in text.lines().map(str::trim) {
        if line.starts_with('[') {
            in_deps = line.contains("dependencies]");
        } else if in_deps
            && !line.starts_with('#')
            && let Some(key) = line.split(['=', '.']).next().map(str::trim)
            && !key.is_empty()
        {
            out.push(key.to_string());
        }
    }
    out
}

#[test]
fn the_engine_and_the_lessons_do_not_depend_on_what_sits_above_them() {
    let lab = dependencies("crates/lab");
    let lessons = dependencies("crates/scenarios");
    assert!(lab.iter().any(|d| d == "crossbeam-channel"), "{lab:?}");
    assert!(lessons.iter().any(|d| d == "hilos-lab"), "{lessons:?}");
    for above in [
        "egui",
        "eframe",
        "egui_plot",
        "rfd",
        "hilos-scenarios",
        "hilos",
    ] {
        assert!(
            !lab.iter().any(|d| d == above),
            "the engine depends on {above}"
        );
    }
    for above in ["egui", "eframe", "egui_plot", "rfd", "hilos"] {
        assert!(
            !lessons.iter().any(|d| d == above),
            "the lessons depend on {above}"
        );
    }
}

#[test]
fn the_front_door_keeps_its_calls_and_drops_its_declarations() {
    let code =
        "pub mod futures;\npub use futures::{\n    Future,\n};\nfn f() { process::stop_all(); }";
    let kept = front_door(code);
    assert!(!kept.contains("Future"), "{kept}");
    assert!(kept.contains("process::stop_all"), "{kept}");
    assert!(starts_a_path(&kept, "process"));
    assert!(!starts_a_path("use std::sync::Arc;", "sync"));
}

#[test]
fn the_checker_sees_an_upward_path() {
    // The parser above, on the shapes the lab's files use.
    let code = "use crate::sync::Lock;\nuse crate::{probe::X, futures::Y};\nlet a = super::super::aio::f();\nuse super::gate;";
    assert_eq!(
        first_segments(code, "crate::"),
        ["sync", "probe", "futures"]
    );
    assert_eq!(first_segments(code, "super::"), ["super", "gate"]);
}
