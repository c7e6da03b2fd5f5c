//! Run it in Python: find the user's own CPython, run a scenario's program
//! in a child process (never on the caller's thread), collect what it prints,
//! and hold its outcome lines against the lab's metrics. No egui here: the
//! window and `hilos run --python --check` share it.

use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use parking_lot::Mutex;

use crate::lab::text::Text;
use crate::scenarios::{Agree, Metric, Outcome, Scenario};

/// Where to look for Python when no path is given: this variable, then
/// `python3`, then `python` on the PATH.
pub const PYTHON_ENV: &str = "HILOS_PYTHON";

/// A Python 3 interpreter that answered `--version`.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Interpreter {
    pub path: PathBuf,
    /// What it printed, e.g. "Python 3.11.7".
    pub version: String,
}

/// Ask `candidate --version`; a Python 3 answers "Python 3.x.y".
fn probe(candidate: &Path) -> Option<Interpreter> {
    let out = Command::new(candidate)
        .arg("--version")
        .stdin(Stdio::null())
        .output()
        .ok()?;
    // Python 2 printed its version on stderr.
    let text = String::from_utf8_lossy(if out.stdout.is_empty() {
        &out.stderr
    } else {
        &out.stdout
    })
    .trim()
    .to_string();
    (out.status.success() && text.starts_with("Python 3")).then(|| Interpreter {
        path: candidate.to_path_buf(),
        version: text,
    })
}

/// Find a Python 3: `explicit` if given (a path set in the window), else
/// `$HILOS_PYTHON`, else `python3` or `python` on the PATH. The error says
/// what was tried and how to set one.
pub fn find_interpreter(explicit: Option<&Path>) -> Result<Interpreter, String> {
    let mut tried = Vec::new();
    let from_env = std::env::var_os(PYTHON_ENV).filter(|v| !v.is_empty());
    let candidates: Vec<PathBuf> = match (explicit, &from_env) {
        (Some(p), _) => vec![p.to_path_buf()],
        (None, Some(p)) => vec![PathBuf::from(p)],
        (None, None) => vec![PathBuf::from("python3"), PathBuf::from("python")],
    };
    for c in &candidates {
        if let Some(found) = probe(c) {
            return Ok(found);
        }
        tried.push(c.display().to_string());
    }
    let how = match (explicit, &from_env) {
        (Some(_), _) => "check the path set in the window".to_string(),
        (None, Some(_)) => format!("check ${PYTHON_ENV}"),
        (None, None) => format!(
            "install Python 3 (python.org, or your system's python3 package), or set \
             ${PYTHON_ENV}=/path/to/python3"
        ),
    };
    Err(format!(
        "no Python 3 interpreter found (tried {}); {how}",
        tried.join(", ")
    ))
}

/// One line the program printed.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct OutputLine {
    /// Seconds since the program started.
    pub t: f64,
    /// Printed on stderr (where `logging` writes by default).
    pub stderr: bool,
    pub text: String,
}

/// How the program ended.
#[derive(Clone, Debug, PartialEq, serde::Serialize)]
pub struct Exit {
    /// The exit status; None when a signal (or Stop) ended it.
    pub code: Option<i32>,
    pub seconds: f64,
    /// Stop (or a time limit) ended it.
    pub killed: bool,
}

/// At most this many lines are kept; later ones are counted.
const MAX_LINES: usize = 5000;

#[derive(Default)]
struct State {
    lines: Vec<OutputLine>,
    lines_dropped: u64,
    exit: Option<Exit>,
    killed: bool,
    /// Output streams not yet read to their end.
    open_streams: usize,
}

/// A Python program running in a child process. Dropping it stops it.
pub struct PythonRun {
    state: Arc<Mutex<State>>,
    child: Arc<Mutex<Child>>,
    started: Instant,
}

/// What a run has printed so far, and how it ended if it has.
#[derive(Clone, Debug, Default)]
pub struct Snapshot {
    pub lines: Vec<OutputLine>,
    pub lines_dropped: u64,
    pub exit: Option<Exit>,
    pub seconds: f64,
}

impl Snapshot {
    /// Everything printed, stdout and stderr interleaved as they arrived.
    pub fn text(&self) -> String {
        let mut out = String::new();
        for l in &self.lines {
            out.push_str(&l.text);
            out.push('\n');
        }
        out
    }
}

impl PythonRun {
    /// Start `code` under `interpreter` (unbuffered, so lines arrive as they
    /// are printed). The code goes in on stdin, so nothing is written to disk.
    pub fn start(interpreter: &Interpreter, code: &str) -> std::io::Result<PythonRun> {
        let mut child = Command::new(&interpreter.path)
            .args(["-u", "-"])
            .env("PYTHONIOENCODING", "utf-8")
            .env("PYTHONUNBUFFERED", "1")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()?;
        let started = Instant::now();
        if let Some(mut stdin) = child.stdin.take() {
            // Closing stdin ends the program's source; a failed write shows
            // up as the program's own error.
            let _ = stdin.write_all(code.as_bytes());
        }
        let state = Arc::new(Mutex::new(State::default()));
        let readers: Vec<Box<dyn std::io::Read + Send>> = [
            child
                .stdout
                .take()
                .map(|s| Box::new(s) as Box<dyn std::io::Read + Send>),
            child
                .stderr
                .take()
                .map(|s| Box::new(s) as Box<dyn std::io::Read + Send>),
        ]
        .into_iter()
        .flatten()
        .collect();
        state.lock().open_streams = readers.len();
        for (i, reader) in readers.into_iter().enumerate() {
            let state = state.clone();
            let unread = state.clone();
            let stderr = i == 1;
            let spawned = std::thread::Builder::new()
                .name("hilos-python-out".into())
                .spawn(move || {
                    for line in BufReader::new(reader).lines() {
                        let Ok(text) = line else { break };
                        let mut s = state.lock();
                        if s.lines.len() < MAX_LINES {
                            s.lines.push(OutputLine {
                                t: started.elapsed().as_secs_f64(),
                                stderr,
                                text,
                            });
                        } else {
                            s.lines_dropped += 1;
                        }
                    }
                    let mut s = state.lock();
                    s.open_streams = s.open_streams.saturating_sub(1);
                });
            if spawned.is_err() {
                // No reader for this stream: nothing to wait for.
                let mut s = unread.lock();
                s.open_streams = s.open_streams.saturating_sub(1);
            }
        }
        let child = Arc::new(Mutex::new(child));
        {
            let (state, child) = (state.clone(), child.clone());
            let _ = std::thread::Builder::new()
                .name("hilos-python-wait".into())
                .spawn(move || {
                    loop {
                        let status = child.lock().try_wait();
                        match status {
                            Ok(Some(status)) => {
                                let mut s = state.lock();
                                let killed = s.killed;
                                s.exit = Some(Exit {
                                    code: status.code(),
                                    seconds: started.elapsed().as_secs_f64(),
                                    killed,
                                });
                                return;
                            }
                            Ok(None) => std::thread::sleep(Duration::from_millis(5)),
                            Err(_) => {
                                state.lock().exit = Some(Exit {
                                    code: None,
                                    seconds: started.elapsed().as_secs_f64(),
                                    killed: false,
                                });
                                return;
                            }
                        }
                    }
                });
        }
        Ok(PythonRun {
            state,
            child,
            started,
        })
    }

    pub fn snapshot(&self) -> Snapshot {
        let s = self.state.lock();
        Snapshot {
            lines: s.lines.clone(),
            lines_dropped: s.lines_dropped,
            exit: s.exit.clone(),
            seconds: s
                .exit
                .as_ref()
                .map_or_else(|| self.started.elapsed().as_secs_f64(), |e| e.seconds),
        }
    }

    /// The lines printed after the first `seen`, how many lines there are
    /// in all, and the exit if it has come: what a window copies each frame.
    pub fn lines_since(&self, seen: usize) -> (Vec<OutputLine>, Option<Exit>, f64) {
        let s = self.state.lock();
        let new = s.lines.get(seen..).map_or_else(Vec::new, <[_]>::to_vec);
        let seconds = s
            .exit
            .as_ref()
            .map_or_else(|| self.started.elapsed().as_secs_f64(), |e| e.seconds);
        (new, s.exit.clone(), seconds)
    }

    pub fn is_finished(&self) -> bool {
        self.state.lock().exit.is_some()
    }

    /// End the program now (Stop, or a time limit).
    pub fn stop(&self) {
        if self.is_finished() {
            return;
        }
        self.state.lock().killed = true;
        let _ = self.child.lock().kill();
    }

    /// Wait until the program ends, up to `timeout`; then the output has
    /// been read to its end too. Returns whether it ended.
    pub fn wait(&self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        while !self.is_finished() {
            if Instant::now() >= deadline {
                return false;
            }
            std::thread::sleep(Duration::from_millis(5));
        }
        // The readers see end-of-file right after the exit; let them read
        // the last lines (on a loaded machine that can take a while).
        let deadline = Instant::now() + Duration::from_secs(2);
        while self.state.lock().open_streams > 0 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(2));
        }
        true
    }
}

impl Drop for PythonRun {
    fn drop(&mut self) {
        self.stop();
    }
}

/// The number printed right after `needle` on the last line that has it.
pub fn printed_number(output: &str, needle: &str) -> Option<f64> {
    output.lines().rev().find_map(|line| {
        let at = line.find(needle)?;
        let rest = line[at + needle.len()..].trim_start();
        let end = rest
            .char_indices()
            .find(|(i, c)| {
                !(c.is_ascii_digit() || *c == '.' || (*i == 0 && (*c == '-' || *c == '+')))
            })
            .map_or(rest.len(), |(i, _)| i);
        rest[..end].trim_end_matches('.').parse().ok()
    })
}

/// Whether the lab and CPython agree on one outcome.
#[derive(Clone, Copy, Debug, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Verdict {
    Agree,
    Differ,
    /// One side did not report it (the program failed, or the run was cut short).
    Missing,
}

/// One outcome, side by side.
#[derive(Clone, Debug, serde::Serialize)]
pub struct Compared {
    pub metric: &'static str,
    #[serde(skip)]
    pub label: Text,
    pub lab: Option<f64>,
    pub python: Option<f64>,
    pub verdict: Verdict,
    /// Why the two may differ a little (wall-clock jitter…), in English.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tolerance: Option<String>,
    #[serde(skip)]
    pub why: Option<Text>,
}

fn agrees(agree: Agree, lab: f64, python: f64) -> bool {
    match agree {
        Agree::Exactly => lab == python,
        Agree::Within { abs, .. } => (lab - python).abs() <= abs,
        Agree::Roughly { rel, abs, .. } => {
            (lab - python).abs() <= abs + rel * lab.abs().max(python.abs())
        }
    }
}

/// Hold each of the scenario's outcomes: the lab's metric against the number
/// the program printed.
pub fn compare(scenario: &Scenario, metrics: &[Metric], output: &str) -> Vec<Compared> {
    scenario
        .outcomes
        .iter()
        .map(|o: &Outcome| {
            let lab = metrics.iter().find(|m| m.name == o.metric).map(|m| m.value);
            let python = printed_number(output, o.printed_after);
            let verdict = match (lab, python) {
                (Some(l), Some(p)) if agrees(o.agree, l, p) => Verdict::Agree,
                (Some(_), Some(_)) => Verdict::Differ,
                _ => Verdict::Missing,
            };
            let (tolerance, why) = match o.agree {
                Agree::Exactly => (None, None),
                Agree::Within { abs, why } => {
                    (Some(format!("within {abs}: {}", why.en)), Some(why))
                }
                Agree::Roughly { rel, abs, why } => (
                    Some(format!("within {:.0}% (+{abs}): {}", rel * 100.0, why.en)),
                    Some(why),
                ),
            };
            Compared {
                metric: o.metric,
                label: o.label,
                lab,
                python,
                verdict,
                tolerance,
                why,
            }
        })
        .collect()
}

/// All agree (and there is something to compare).
pub fn all_agree(compared: &[Compared]) -> bool {
    !compared.is_empty() && compared.iter().all(|c| c.verdict == Verdict::Agree)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_number_after_the_needle_on_the_last_line_that_has_it() {
        let out = "12:00:01: Testing update. Ending value is 1.\nnoise\n";
        assert_eq!(printed_number(out, "Ending value is"), Some(1.0));
        let out = "took 0.5 s\ntook 0.25 s\n";
        assert_eq!(printed_number(out, "took "), Some(0.25));
        assert_eq!(printed_number("gap: -3ms", "gap:"), Some(-3.0));
        assert_eq!(printed_number("nothing here", "value is"), None);
        assert_eq!(printed_number("value is abc", "value is"), None);
    }
}
