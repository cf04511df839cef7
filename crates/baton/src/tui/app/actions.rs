//! What the keys and prompts carry out: store changes (journaled as `watch`, then the
//! after-change steps), the pause, peeks, jumps to a window, and messages sent in the
//! background.

use std::time::Instant;

use baton_core::task::Status;
use baton_core::task::TaskId;
use baton_tmux::CaptureRange;

use crate::error::CliResult;
use crate::store::JournalEntry;
use crate::store::Outcome;
use crate::store::StatusChange;
use crate::tui::ui::Ask;
use crate::tui::ui::Overlay;
use crate::tui::ui::Peek;
use crate::tui::ui::Prompt;

use super::ACTOR;
use super::App;
use super::JobDone;
use super::PEEK_EVERY;

impl App {
    pub(super) fn answer(&mut self, p: Prompt) -> CliResult<()> {
        let choice = p.choices.get(p.selected).cloned();
        let text = p.input.trim().to_owned();
        match p.ask {
            Ask::Block(id) => {
                if text.is_empty() {
                    self.ui.complain("a block needs a reason: nothing changed");
                    return Ok(());
                }
                let c = StatusChange {
                    reason: Some(text),
                    ..Default::default()
                };
                self.set_status(id, Status::Blocked, c)?;
            }
            Ask::Cancel(_) => {}
            Ask::Reassign(id) => {
                if let Some(agent) = choice {
                    match self.loader.store_mut().reassign(id, &agent, ACTOR) {
                        Ok((t, journal)) => {
                            self.after_change(&journal);
                            self.ui.say(format!("{} given to {agent}", t.id));
                        }
                        Err(e) => self.ui.complain(e.to_string()),
                    }
                }
            }
            Ask::Message(agent, force) => {
                if text.is_empty() {
                    self.ui.complain("empty message: nothing sent");
                } else {
                    self.send_message(agent, text, force);
                }
            }
            Ask::Handoff => {
                if let Some(to) = choice {
                    let from = self.snap.lead.clone().unwrap_or_default();
                    let detail = serde_json::json!({ "from": from }).to_string();
                    match self.loader.store_mut().journal(
                        ACTOR,
                        baton_core::vocab::JournalAction::HandoffRequest,
                        None,
                        &to,
                        "requested",
                        &detail,
                    ) {
                        Ok(e) => {
                            self.after_change(&[e]);
                            self.ui.say(format!(
                                "handoff to {to} requested: the daemon carries it out"
                            ));
                        }
                        Err(e) => self.ui.complain(e.to_string()),
                    }
                }
            }
        }
        Ok(())
    }

    pub(super) fn set_status(&mut self, id: TaskId, to: Status, c: StatusChange) -> CliResult<()> {
        match self.loader.store_mut().set_status(id, to, ACTOR, c) {
            Ok(Outcome::Changed(t, journal)) => {
                self.after_change(&journal);
                self.ui.say(format!("{} is {}", t.id, t.status));
            }
            Ok(Outcome::Unchanged(t)) => self.ui.say(format!("{} is already {}", t.id, t.status)),
            Err(e) => self.ui.complain(e.to_string()),
        }
        Ok(())
    }

    pub(super) fn toggle_pause(&mut self) -> CliResult<()> {
        let pause = !self.snap.paused;
        let done = self.loader.store_mut().set_paused(pause, ACTOR);
        match done {
            Ok(e) => {
                self.after_change(&[e]);
                self.ui.say(if pause {
                    "dispatch paused: agents finish their tasks, none gets a new one"
                } else {
                    "dispatch resumed"
                });
            }
            Err(e) => self.ui.complain(e.to_string()),
        }
        Ok(())
    }

    /// What every change from the dashboard is followed by, as after a `baton task` command:
    /// the logs mirror the journal, the memory file is rendered again, the daemon is woken,
    /// and the next poll reads the store again.
    pub(super) fn after_change(&mut self, entries: &[JournalEntry]) {
        let store = self.loader.store_mut();
        for w in crate::context::after_change(&self.project, ACTOR, store, entries) {
            self.ui.complain(w);
        }
        self.loader.invalidate();
    }

    pub(super) fn open_peek(&mut self, agent: &str) {
        self.ui.overlay = Overlay::Peek(Peek {
            agent: agent.to_owned(),
            ..Peek::default()
        });
        self.refresh_peek();
    }

    /// Reads the peeked agent's screen again; returns whether the overlay changed.
    pub fn refresh_peek(&mut self) -> bool {
        let Overlay::Peek(p) = &self.ui.overlay else {
            self.peeked = None;
            return false;
        };
        self.peeked = Some(Instant::now());
        let read = self.project.agent_pane(&p.agent).and_then(|pane| {
            Ok(self
                .project
                .tmux
                .capture(&pane.pane_id, CaptureRange::default())?)
        });
        let next = Peek {
            agent: p.agent.clone(),
            screen: read.as_ref().cloned().unwrap_or_default(),
            error: read.err().map(|e| e.message),
        };
        if *p == next {
            return false;
        }
        self.ui.overlay = Overlay::Peek(next);
        self.dirty = true;
        true
    }

    /// Returns when the open peek should be read again.
    pub fn peek_due(&self) -> Option<Instant> {
        self.peeked.map(|t| t + PEEK_EVERY)
    }

    /// Shows an agent's tmux window: switches this client to it when the dashboard runs
    /// inside the project's tmux server, else selects it for the next `baton attach`.
    pub(super) fn jump(&mut self, agent: &str) {
        let pane = match self.project.agent_pane(agent) {
            Ok(p) => p,
            Err(e) => return self.ui.complain(e.message),
        };
        let inside = std::env::var("TMUX").ok().filter(|t| {
            self.project
                .tmux
                .socket_path()
                .is_some_and(|s| t.split(',').next() == Some(&*s.to_string_lossy()))
        });
        // Make it the session's current window (what `baton attach` shows), then, inside
        // baton's own tmux, move this client there.
        let selected = self
            .project
            .tmux
            .run(&["select-window", "-t", &pane.pane_id])
            .map(|_| ())
            .map_err(|e| e.to_string());
        let switched = inside.as_ref().map(|tmux_env| {
            let mut cmd = self.project.tmux.command();
            cmd.env("TMUX", tmux_env);
            if let Ok(p) = std::env::var("TMUX_PANE") {
                cmd.env("TMUX_PANE", p);
            }
            cmd.args(["switch-client", "-t", &pane.pane_id]);
            matches!(cmd.output(), Ok(o) if o.status.success())
        });
        match (selected, switched) {
            (_, Some(true)) => self.ui.say(format!("switched to {agent}'s window")),
            (Err(e), _) => self
                .ui
                .complain(format!("cannot show {agent}'s window: {e}")),
            (Ok(()), _) => self.ui.say(format!(
                "{agent}'s window selected: see it with `baton attach`"
            )),
        }
    }

    pub(super) fn send_message(&mut self, agent: String, text: String, force: bool) {
        self.ui.say(format!("sending to {agent}…"));
        let root = self.project.root.clone();
        let tx = self.jobs_tx.clone();
        std::thread::spawn(move || {
            let done = match crate::delivery::deliver(
                &root,
                ACTOR,
                &agent,
                &text,
                force,
                "M sends anyway",
            ) {
                Ok(s) => JobDone {
                    text: s,
                    error: false,
                },
                Err(e) => JobDone {
                    text: format!("{agent}: {}", e.message),
                    error: true,
                },
            };
            let _ = tx.send(done);
        });
    }

    /// Takes the reports of finished background jobs; returns whether there were any.
    pub fn poll_jobs(&mut self) -> bool {
        let mut any = false;
        while let Ok(done) = self.jobs_rx.try_recv() {
            if done.error {
                self.ui.complain(done.text);
            } else {
                self.ui.say(done.text);
            }
            self.dirty = true;
            any = true;
        }
        any
    }
}
