//! Step mode in the window: the learner is the scheduler. One card per
//! thread (its state, "paused by the scheduler" apart from blocked, its next
//! operation in Python's words, a Step button that says why it cannot run),
//! the controls (Step any, Run N, Advance the clock, Undo, Break it) and the
//! schedule strip, whose cells go back to any earlier step.

use std::sync::mpsc::{Receiver, channel};

use eframe::egui;
use egui::{Color32, RichText, Ui};

use super::Action;
use super::i18n;
use super::paint::state_color;
use crate::explore::ExploreReport;
use crate::lab::gate::{GateView, Status, ThreadView};
use crate::lab::record::Record;
use crate::lab::text::{Lang, Text};
use crate::lab::{Decision, GateEnd, Pick, State};
use crate::t;

/// What the step panel asks the window to do.
#[derive(Clone, Debug, PartialEq)]
pub enum StepAction {
    /// Switch step mode on or off (the run is reset).
    Mode(bool),
    /// Run this thread to its next step, or advance the clock.
    Pick(Pick),
    /// The opened schedule's next step, else the thread that ran last.
    Any,
    /// Run this many steps without stopping.
    Run(usize),
    Undo,
    /// Go back to just before step `n` (counting from 0).
    GoTo(usize),
    /// Search for a schedule that breaks the lesson's invariant.
    BreakIt,
}

/// How many steps "Run N steps" runs.
pub const RUN_N: usize = 10;

/// What a "Break it" search answers: its report, and the first failing
/// schedule's steps if it found one.
pub type BreakItAnswer = Result<(ExploreReport, Option<Vec<Decision>>), String>;

/// "Break it" running on a thread of its own, or its last answer.
#[derive(Default)]
pub struct BreakIt {
    pending: Option<Receiver<BreakItAnswer>>,
    /// What the last search found, for the panel.
    pub said: Option<String>,
}

/// How many schedules "Break it" tries in the window.
pub const BREAK_IT_RUNS: usize = 200;

impl BreakIt {
    pub fn is_running(&self) -> bool {
        self.pending.is_some()
    }

    /// Search `scenario` with `knobs` (copied) on a thread of its own.
    pub fn start(
        &mut self,
        scenario: &'static crate::scenarios::Scenario,
        knobs: &crate::lab::Knobs,
        seed: u64,
    ) {
        let values = knobs.values();
        let (tx, rx) = channel();
        let spawned = std::thread::Builder::new()
            .name("hilos-break-it".into())
            .spawn(move || {
                let knobs = scenario.knobs();
                for (name, v) in values {
                    let _ = knobs.set(name, v);
                }
                let mut found = None;
                let result = crate::explore::explore(scenario, &knobs, BREAK_IT_RUNS, seed, |s| {
                    found = Some(s.steps.clone());
                });
                let _ = tx.send(result.map(|r| (r, found)));
            });
        match spawned {
            Ok(_) => {
                self.pending = Some(rx);
                self.said = None;
            }
            Err(e) => self.said = Some(format!("could not start the search: {e}")),
        }
    }

    /// The search's answer, once, when it is ready.
    pub fn poll(&mut self) -> Option<BreakItAnswer> {
        let rx = self.pending.as_ref()?;
        match rx.try_recv() {
            Ok(answer) => {
                self.pending = None;
                Some(answer)
            }
            Err(std::sync::mpsc::TryRecvError::Empty) => None,
            Err(std::sync::mpsc::TryRecvError::Disconnected) => {
                self.pending = None;
                Some(Err("the search ended without an answer".into()))
            }
        }
    }
}

pub const STEP_MODE: Text = t!("Step mode", "Paso a paso");
pub const STEP_MODE_HINT: Text = t!(
    "You are the scheduler: exactly one thread runs between two steps, and you pick which. Sleeps and timeouts wait on a virtual clock that moves only when you advance it (or when nothing else can run).",
    "Tú eres el planificador: entre dos pasos corre exactamente un hilo, y tú eliges cuál. Las pausas y los timeouts esperan a un reloj virtual que solo avanza cuando lo adelantas (o cuando nada más puede correr)."
);
pub const BREAK_IT: Text = t!("Break it", "Rómpelo");
pub const BREAK_IT_HINT: Text = t!(
    "Hilos tries 200 schedules (random walks and PCT priority switching) looking for one that breaks the lesson's promise, and opens the first it finds in step mode.",
    "Hilos prueba 200 planificaciones (paseos aleatorios y cambios de prioridad PCT) buscando una que rompa la promesa de la lección, y abre la primera que encuentre en modo paso a paso."
);
const SEARCHING: Text = t!("searching…", "buscando…");
const STEP_ANY: Text = t!("Step any", "Un paso");
const STEP_ANY_HINT: Text = t!(
    "The opened schedule's next step; without one, the thread that ran last if it can, else the first that can.",
    "El siguiente paso de la planificación abierta; sin ella, el último hilo que corrió si puede, si no el primero que pueda."
);
const RUN_STEPS: Text = t!("Run 10 steps", "10 pasos");
const ADVANCE: Text = t!("Advance clock", "Adelantar reloj");
const ADVANCE_HINT: Text = t!(
    "Move the virtual clock to the next deadline: the earliest sleep ends, or a timeout gives up.",
    "Mueve el reloj virtual al siguiente plazo: acaba la pausa más próxima, o un timeout se rinde."
);
const NO_DEADLINE: Text = t!(
    "no sleep or timeout is pending",
    "no hay ninguna pausa ni timeout pendiente"
);
const UNDO: Text = t!("Undo", "Deshacer");
const UNDO_HINT: Text = t!(
    "Start again and replay every choice but the last: the same state as one step ago.",
    "Empieza de nuevo y repite todas las elecciones menos la última: el mismo estado que hace un paso."
);
const STEP: Text = t!("Step", "Paso");
const CLOCK: Text = t!("clock", "reloj");
const STEPS: Text = t!("steps", "pasos");
const RUNNING: Text = t!(
    "running to its next step…",
    "corre hasta su siguiente paso…"
);
const PAUSED: Text = t!("paused by the scheduler", "pausado por el planificador");
const NEXT: Text = t!("next", "siguiente");
const CANNOT_RUN_WAITING: Text = t!(
    "cannot run: its wait is not over",
    "no puede correr: su espera no ha terminado"
);
const CANNOT_RUN_BUSY: Text = t!(
    "another thread is running to its next step",
    "otro hilo corre hasta su siguiente paso"
);
const WAIT_OVER: Text = t!(
    "its wait is over: it goes on when picked",
    "su espera terminó: sigue cuando lo elijas"
);
const IN_SCHEDULE: Text = t!("> next in the schedule", "> siguiente en la planificación");
const UNTIL: Text = t!("until", "hasta");
const HELD_BY: Text = t!("held by", "en manos de");
const FINISHED: Text = t!("Every thread has ended.", "Todos los hilos han terminado.");
const DEADLOCK: Text = t!(
    "Deadlock: no thread can run and no timeout is pending.",
    "Interbloqueo: ningún hilo puede correr y no queda ningún timeout."
);
const DIVERGED: Text = t!(
    "The program no longer follows the schedule",
    "El programa ya no sigue la planificación"
);
const LEFT: Text = t!(
    "The program left the opened schedule here (a knob changed it); you pick from now on",
    "El programa dejó aquí la planificación abierta (un control lo cambió); desde ahora eliges tú"
);
const STRIP_HINT: Text = t!(
    "Each cell is one step, coloured by the thread that ran. Click one to go back to just before it.",
    "Cada celda es un paso, del color del hilo que corrió. Pulsa una para volver justo antes de ella."
);
const START_TO_STEP: Text = t!(
    "Press Start: the threads will wait for you at every step.",
    "Pulsa Iniciar: los hilos te esperarán en cada paso."
);
const WORDS_OF_STATE_WAITING: Text = t!("waiting", "esperando");

/// A colour per thread for the schedule strip (by id, stable across runs).
fn thread_color(id: u32) -> Color32 {
    const PALETTE: [Color32; 8] = [
        Color32::from_rgb(0, 114, 178),
        Color32::from_rgb(230, 159, 0),
        Color32::from_rgb(0, 158, 115),
        Color32::from_rgb(204, 121, 167),
        Color32::from_rgb(86, 180, 233),
        Color32::from_rgb(213, 94, 0),
        Color32::from_rgb(240, 228, 66),
        Color32::from_rgb(120, 120, 120),
    ];
    PALETTE[id as usize % PALETTE.len()]
}

/// What one card says of a thread's wait: "blocked on lock_a (held by Thread-2)".
fn wait_words(t: &ThreadView, record: Option<&Record>, lang: Lang) -> Option<String> {
    let (state, target) = t.waits?;
    let mut words = i18n::state_name(state).get(lang).to_string();
    if let (Some(target), Some(record)) = (target, record) {
        words.push(' ');
        words.push_str(&record.target_name(target));
        if let crate::lab::Target::Resource(r) = target
            && let Some(holder) = record.resource(r).and_then(|r| r.holder)
            && holder != t.id
        {
            words.push_str(&format!(
                " ({} {})",
                HELD_BY.get(lang),
                record.thread_name(holder)
            ));
        }
    }
    if let Some(d) = t.deadline {
        words.push_str(&format!(" {} {d:.3} s", UNTIL.get(lang)));
    }
    Some(words)
}

/// The step panel: controls, cards and the strip. `record` is the window's copy.
pub fn show(
    ui: &mut Ui,
    view: Option<&GateView>,
    record: Option<&Record>,
    break_it: &BreakIt,
    can_break: bool,
    lang: Lang,
    actions: &mut Vec<Action>,
) {
    let frame = egui::Frame::group(ui.style()).inner_margin(egui::Margin::same(8));
    frame.show(ui, |ui| {
        ui.set_min_width(ui.available_width());
        ui.horizontal_wrapped(|ui| {
            ui.label(RichText::new(STEP_MODE.get(lang)).strong())
                .on_hover_text(STEP_MODE_HINT.get(lang));
            let Some(view) = view else {
                ui.label(RichText::new(START_TO_STEP.get(lang)).weak().italics());
                break_it_button(ui, break_it, can_break, lang, actions);
                return;
            };
            ui.separator();
            ui.label(
                RichText::new(format!(
                    "{} {:.3} s · {} {}",
                    CLOCK.get(lang),
                    view.clock,
                    view.decisions.len(),
                    STEPS.get(lang)
                ))
                .monospace(),
            );
            ui.separator();
            let open = view.end.is_none();
            let any_can_run = view.threads.iter().any(|t| t.can_run);
            if ui
                .add_enabled(
                    open && view.awaiting && any_can_run,
                    egui::Button::new(STEP_ANY.get(lang)),
                )
                .on_hover_text(STEP_ANY_HINT.get(lang))
                .clicked()
            {
                actions.push(Action::Step(StepAction::Any));
            }
            if ui
                .add_enabled(
                    open && view.awaiting,
                    egui::Button::new(RUN_STEPS.get(lang)),
                )
                .clicked()
            {
                actions.push(Action::Step(StepAction::Run(RUN_N)));
            }
            let advance = egui::Button::new(match view.next_deadline {
                Some(d) => format!("{} -> {d:.3} s", ADVANCE.get(lang)),
                None => ADVANCE.get(lang).to_string(),
            });
            let response = ui
                .add_enabled(
                    open && view.awaiting && view.next_deadline.is_some(),
                    advance,
                )
                .on_hover_text(ADVANCE_HINT.get(lang))
                .on_disabled_hover_text(NO_DEADLINE.get(lang));
            if response.clicked() {
                actions.push(Action::Step(StepAction::Pick(Pick::AdvanceClock)));
            }
            if ui
                .add_enabled(
                    !view.decisions.is_empty(),
                    egui::Button::new(UNDO.get(lang)),
                )
                .on_hover_text(UNDO_HINT.get(lang))
                .clicked()
            {
                actions.push(Action::Step(StepAction::Undo));
            }
            break_it_button(ui, break_it, can_break, lang, actions);
        });
        if let Some(said) = &break_it.said {
            ui.label(RichText::new(said).color(ui.visuals().warn_fg_color));
        }
        let Some(view) = view else {
            return;
        };
        match &view.end {
            Some(GateEnd::Finished) => {
                ui.label(RichText::new(FINISHED.get(lang)).strong());
            }
            Some(GateEnd::Deadlock { waiting }) => {
                let names: Vec<String> = waiting
                    .iter()
                    .map(|w| {
                        record.map_or_else(|| w.to_string(), |r| r.thread_name(*w).to_string())
                    })
                    .collect();
                let cycle = record
                    .and_then(|r| r.deadlocks().into_iter().next())
                    .map(|c| {
                        let names: Vec<String> = c
                            .iter()
                            .map(|w| {
                                record.map_or_else(String::new, |r| r.thread_name(*w).to_string())
                            })
                            .collect();
                        format!(" {}", names.join(" -> "))
                    })
                    .unwrap_or_default();
                ui.label(
                    RichText::new(format!(
                        "{} {}.{cycle}",
                        DEADLOCK.get(lang),
                        names.join(", ")
                    ))
                    .color(Color32::from_rgb(213, 94, 0))
                    .strong(),
                );
            }
            Some(GateEnd::Diverged {
                step,
                expected,
                found,
            }) => {
                ui.label(
                    RichText::new(format!(
                        "{} ({step}): {expected} / {found}",
                        DIVERGED.get(lang)
                    ))
                    .color(ui.visuals().warn_fg_color),
                );
            }
            Some(GateEnd::StepLimit { steps }) => {
                ui.label(format!("{steps} {}", STEPS.get(lang)));
            }
            None => {}
        }
        if let Some(GateEnd::Diverged {
            step,
            expected,
            found,
        }) = &view.left_schedule
        {
            ui.label(
                RichText::new(format!("{} ({step}): {expected} / {found}", LEFT.get(lang)))
                    .color(ui.visuals().warn_fg_color),
            );
        }
        ui.add_space(4.0);
        ui.horizontal_wrapped(|ui| {
            for t in &view.threads {
                card(ui, t, view, record, lang, actions);
            }
        });
        ui.add_space(4.0);
        strip(ui, view, lang, actions);
    });
}

fn break_it_button(
    ui: &mut Ui,
    break_it: &BreakIt,
    can_break: bool,
    lang: Lang,
    actions: &mut Vec<Action>,
) {
    ui.separator();
    if break_it.is_running() {
        ui.spinner();
        ui.label(SEARCHING.get(lang));
    } else if ui
        .add_enabled(can_break, egui::Button::new(BREAK_IT.get(lang)))
        .on_hover_text(BREAK_IT_HINT.get(lang))
        .clicked()
    {
        actions.push(Action::Step(StepAction::BreakIt));
    }
}

fn card(
    ui: &mut Ui,
    t: &ThreadView,
    view: &GateView,
    record: Option<&Record>,
    lang: Lang,
    actions: &mut Vec<Action>,
) {
    let state = match t.status {
        Status::Running => State::Running,
        Status::Paused => State::Ready,
        Status::Waiting => t.waits.map_or(State::Waiting, |(s, _)| s),
    };
    let color = state_color(state);
    let suggested = matches!(&view.suggestion, Some(Pick::Thread { id, .. }) if *id == t.id);
    let stroke = if suggested {
        egui::Stroke::new(2.0, ui.visuals().selection.stroke.color)
    } else {
        egui::Stroke::new(1.0, color)
    };
    egui::Frame::new()
        .stroke(stroke)
        .corner_radius(4.0)
        .inner_margin(egui::Margin::same(6))
        .show(ui, |ui| {
            ui.set_width(210.0);
            ui.vertical(|ui| {
                ui.horizontal(|ui| {
                    let (rect, _) =
                        ui.allocate_exact_size(egui::vec2(10.0, 10.0), egui::Sense::hover());
                    ui.painter().rect_filled(rect, 2.0, color);
                    ui.label(RichText::new(&*t.name).strong());
                });
                let status = match t.status {
                    Status::Running => RUNNING.get(lang).to_string(),
                    Status::Paused => PAUSED.get(lang).to_string(),
                    Status::Waiting if t.can_run => format!(
                        "{}; {}",
                        wait_words(t, record, lang)
                            .unwrap_or_else(|| WORDS_OF_STATE_WAITING.get(lang).to_string()),
                        WAIT_OVER.get(lang)
                    ),
                    Status::Waiting => wait_words(t, record, lang)
                        .unwrap_or_else(|| WORDS_OF_STATE_WAITING.get(lang).to_string()),
                };
                ui.label(
                    RichText::new(status)
                        .small()
                        .color(if t.status == Status::Waiting {
                            color
                        } else {
                            ui.visuals().weak_text_color()
                        }),
                );
                if let Some(op) = &t.op {
                    let code = match op.kind {
                        crate::lab::OpKind::Exit => format!("# {}", op.code),
                        _ => op.code.clone(),
                    };
                    ui.label(RichText::new(format!("{}: {code}", NEXT.get(lang))).monospace());
                }
                if suggested {
                    ui.label(RichText::new(IN_SCHEDULE.get(lang)).small());
                }
                let why_not = if !view.awaiting {
                    CANNOT_RUN_BUSY.get(lang)
                } else {
                    CANNOT_RUN_WAITING.get(lang)
                };
                let open = view.end.is_none();
                if ui
                    .add_enabled(
                        open && t.can_run,
                        egui::Button::new(format!("{} {}", STEP.get(lang), t.name)),
                    )
                    .on_disabled_hover_text(why_not)
                    .clicked()
                {
                    actions.push(Action::Step(StepAction::Pick(Pick::Thread {
                        id: t.id,
                        name: t.name.to_string(),
                    })));
                }
            });
        });
}

/// The schedule so far: a cell per step; a click goes back to before it.
fn strip(ui: &mut Ui, view: &GateView, lang: Lang, actions: &mut Vec<Action>) {
    if view.decisions.is_empty() {
        return;
    }
    ui.horizontal_wrapped(|ui| {
        ui.spacing_mut().item_spacing.x = 1.0;
        for (i, d) in view.decisions.iter().enumerate() {
            let (color, who) = match &d.pick {
                Pick::Thread { id, name } => (thread_color(*id), name.clone()),
                Pick::AdvanceClock => (ui.visuals().weak_text_color(), CLOCK.get(lang).to_string()),
            };
            let (rect, response) =
                ui.allocate_exact_size(egui::vec2(9.0, 14.0), egui::Sense::click());
            ui.painter().rect_filled(rect, 1.0, color);
            let response = response.on_hover_text(format!(
                "{} {}: {who}: {}\n{}",
                STEP.get(lang),
                i + 1,
                d.op,
                STRIP_HINT.get(lang)
            ));
            if response.clicked() {
                actions.push(Action::Step(StepAction::GoTo(i)));
            }
        }
    });
}

// ---- The app's side: what a step-mode action does to the running lab.

impl super::HilosApp {
    /// What the step panel asked for.
    pub fn step(&mut self, action: StepAction) {
        match action {
            StepAction::Mode(on) => {
                self.reset();
                self.controller.set_step_mode(on);
                self.break_it.said = None;
            }
            StepAction::Pick(pick) => {
                if let Some(gate) = self.controller.gate()
                    && let Err(e) = gate.choose(pick)
                {
                    self.message = Some(e);
                }
            }
            StepAction::Any => {
                if let Some(gate) = self.controller.gate() {
                    gate.step_any();
                }
            }
            StepAction::Run(n) => {
                if let Some(gate) = self.controller.gate() {
                    gate.run_steps(n);
                }
            }
            StepAction::Undo => {
                self.view.clear();
                self.log.clear();
                self.controller.undo();
            }
            StepAction::GoTo(n) => {
                self.view.clear();
                self.log.clear();
                self.controller.go_to_step(n);
            }
            StepAction::BreakIt => {
                if self.break_it.is_running() {
                    return;
                }
                let scenario = self.scenario();
                self.break_it
                    .start(scenario, self.controller.knobs(), self.break_seed);
                self.break_seed += 1;
            }
        }
    }

    /// "Break it"'s answer: open the failing schedule in step mode, or say
    /// that every schedule kept the promise.
    pub(super) fn poll_break_it(&mut self) {
        let Some(answer) = self.break_it.poll() else {
            return;
        };
        let lang = self.lang;
        self.break_it.said = Some(match answer {
            Ok((report, Some(steps))) => {
                self.reset();
                self.controller.open_schedule(steps);
                self.axis.apply(super::view::AxisAction::Follow(true), 0.0);
                format!(
                    "{} {} / {}: {}. {}",
                    i18n::BROKEN_IN_RUN.get(lang),
                    report.first_broken_run.unwrap_or(0),
                    report.runs,
                    report.first_broken.unwrap_or_default(),
                    i18n::SCHEDULE_OPENED.get(lang)
                )
            }
            Ok((report, None)) => format!(
                "{} {}: «{}» {}",
                report.runs,
                i18n::SCHEDULES_TRIED.get(lang),
                self.scenario_invariant(),
                i18n::HELD_IN_EVERY_ONE.get(lang)
            ),
            Err(e) => e,
        });
    }

    pub(super) fn scenario_invariant(&self) -> &'static str {
        self.scenario()
            .stepping
            .invariant()
            .map_or("", |i| i.holds.get(self.lang))
    }
}
