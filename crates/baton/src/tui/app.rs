//! The dashboard's loop and keys: reads the store when it changed, draws when something on
//! screen changed, and turns keys into store changes (journaled, actor `watch`) followed by a
//! poke of the daemon.
//!
//! One thread, no busy loop: it waits for a key, a resize, the next store poll (250 ms; one
//! `PRAGMA data_version` query), or the moment an age on screen ticks over, whichever comes
//! first. Sending a message to an agent (verified delivery takes seconds) runs on a thread of
//! its own and reports back through a channel.

use std::io::IsTerminal;
use std::time::Duration;
use std::time::Instant;

use baton_core::task::Status;
use baton_core::task::TaskId;
use baton_tmux::CaptureRange;
use crossbeam_channel::Receiver;
use crossbeam_channel::Sender;
use crossterm::event::Event;
use crossterm::event::KeyCode;
use crossterm::event::KeyEvent;
use crossterm::event::KeyEventKind;
use crossterm::event::KeyModifiers;
use ratatui::Frame;
use ratatui::layout::Rect;

use super::model::Loader;
use super::model::PAUSE_KEY;
use super::model::PageRequest;
use super::model::Snapshot;
use super::ui::Ask;
use super::ui::Overlay;
use super::ui::Pane;
use super::ui::Peek;
use super::ui::Prompt;
use super::ui::Ui;
use super::view;
use super::view::Areas;
use super::view::Clock;
use crate::error::CliError;
use crate::error::CliResult;
use crate::project::Project;
use crate::store::JournalEntry;
use crate::store::Outcome;
use crate::store::StatusChange;
use crate::store::StoreError;
use crate::store::now_ms;

/// The journal's name for changes made from the dashboard.
pub const ACTOR: &str = "watch";

/// How often the store is asked whether anything changed.
const POLL: Duration = Duration::from_millis(250);

/// How often an open peek re-reads the agent's screen.
const PEEK_EVERY: Duration = Duration::from_millis(500);

/// What a background job reports.
#[derive(Debug)]
pub struct JobDone {
    /// The outcome, for the footer.
    pub text: String,
    /// Whether it failed.
    pub error: bool,
}

/// The dashboard: the project, its store, what is shown, and the UI state.
pub struct App {
    project: Project,
    loader: Loader,
    /// What is shown.
    pub snap: Snapshot,
    /// The UI state.
    pub ui: Ui,
    size: Rect,
    areas: Areas,
    jobs_tx: Sender<JobDone>,
    jobs_rx: Receiver<JobDone>,
    /// Whether the screen must be drawn again.
    pub dirty: bool,
    /// Whether the user asked to quit.
    pub quit: bool,
    peeked: Option<Instant>,
    /// Draw without colour (`NO_COLOR` is set).
    pub plain: bool,
}

fn store_err(e: StoreError) -> CliError {
    CliError::user(e.to_string())
}

impl App {
    /// Opens the project's store and reads the first snapshot for a screen of `size`.
    pub fn new(project: Project, size: Rect) -> CliResult<App> {
        let store = project.store()?;
        let loader = Loader::new(store, &project.root);
        let (jobs_tx, jobs_rx) = crossbeam_channel::unbounded();
        let mut app = App {
            size,
            areas: view::layout(size, project.config.agents.len(), 0),
            project,
            loader,
            snap: Snapshot::default(),
            ui: Ui::default(),
            jobs_tx,
            jobs_rx,
            dirty: true,
            quit: false,
            peeked: None,
            plain: std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty()),
        };
        app.reload()?;
        Ok(app)
    }

    /// Draws the dashboard at the clock's time.
    pub fn draw(&self, frame: &mut Frame<'_>, clock: &Clock) {
        view::render(frame, &self.snap, &self.ui, clock);
        if self.plain {
            view::strip_colour(frame.buffer_mut());
        }
    }

    /// Returns when an age on screen next ticks over.
    pub fn next_change_ms(&self, now_ms: i64) -> Option<i64> {
        view::next_change_ms(&self.snap, &self.ui, self.areas.agent_rows(), now_ms)
    }

    fn page_request(&self) -> PageRequest {
        PageRequest {
            filter: self.ui.filter,
            offset: self.ui.task_top,
            limit: self.areas.task_rows().max(1),
        }
    }

    /// Reads a whole snapshot again, keeping the selection on the same task when it moved.
    pub fn reload(&mut self) -> CliResult<()> {
        let selected = self.selected_task_id();
        let snap = self
            .loader
            .load(
                &self.project.config,
                &self.project.session,
                self.page_request(),
            )
            .map_err(store_err)?;
        if snap != self.snap {
            self.snap = snap;
            self.dirty = true;
        }
        if let Some(id) = selected
            && let Some(i) = self.snap.tasks.rows.iter().position(|t| t.id == id)
        {
            self.ui.task_sel = self.snap.tasks.offset + i;
        }
        self.relayout()
    }

    /// Reloads when the store changed since the last read; returns whether it did.
    pub fn refresh(&mut self) -> CliResult<bool> {
        if self.loader.changed().map_err(store_err)? {
            self.reload()?;
            return Ok(true);
        }
        Ok(false)
    }

    fn reload_page(&mut self) -> CliResult<()> {
        self.snap.tasks = self.loader.page(self.page_request()).map_err(store_err)?;
        self.dirty = true;
        Ok(())
    }

    /// Keeps selections inside the lists and visible; reads another page when the visible
    /// window of the queue moved.
    fn clamp(&mut self) -> CliResult<()> {
        let n = self.snap.agents.len();
        self.ui.agent_sel = self.ui.agent_sel.min(n.saturating_sub(1));
        let rows = self.areas.agent_rows().max(1);
        self.ui.agent_top = scroll_to(self.ui.agent_top, self.ui.agent_sel, rows, n);
        let total = self.snap.tasks.total;
        self.ui.task_sel = self.ui.task_sel.min(total.saturating_sub(1));
        let rows = self.areas.task_rows().max(1);
        let top = scroll_to(self.ui.task_top, self.ui.task_sel, rows, total);
        if top != self.ui.task_top || self.snap.tasks.offset != top {
            self.ui.task_top = top;
            self.reload_page()?;
        }
        self.ui.log_back = self
            .ui
            .log_back
            .min(self.snap.log.len().saturating_sub(self.areas.log_rows()));
        Ok(())
    }

    /// Adapts to a new terminal size.
    pub fn resize(&mut self, size: Rect) -> CliResult<()> {
        self.size = size;
        self.relayout()?;
        self.dirty = true;
        Ok(())
    }

    /// Splits the screen again (its size or the number of agents or tasks changed); reads
    /// another page when more or fewer task rows fit.
    fn relayout(&mut self) -> CliResult<()> {
        let areas = view::layout(self.size, self.snap.agents.len(), self.snap.tasks.total);
        let other_rows = areas.task_rows() != self.areas.task_rows();
        self.areas = areas;
        if other_rows {
            self.reload_page()?;
        }
        self.clamp()
    }

    fn selected_task_id(&self) -> Option<TaskId> {
        let i = self.ui.task_sel.checked_sub(self.snap.tasks.offset)?;
        self.snap.tasks.rows.get(i).map(|t| t.id)
    }

    fn selected_agent(&self) -> Option<String> {
        self.snap
            .agents
            .get(self.ui.agent_sel)
            .map(|a| a.name.clone())
    }

    /// Takes one terminal event.
    pub fn on_event(&mut self, event: &Event) -> CliResult<()> {
        match event {
            Event::Key(k) if k.kind != KeyEventKind::Release => self.on_key(*k),
            Event::Resize(w, h) => self.resize(Rect::new(0, 0, *w, *h)),
            _ => Ok(()),
        }
    }

    /// Takes one key.
    pub fn on_key(&mut self, key: KeyEvent) -> CliResult<()> {
        self.dirty = true;
        if key.code == KeyCode::Char('c') && key.modifiers.contains(KeyModifiers::CONTROL) {
            self.quit = true;
            return Ok(());
        }
        match std::mem::take(&mut self.ui.overlay) {
            Overlay::None => self.on_key_panes(key),
            Overlay::Prompt(p) => self.on_key_prompt(p, key),
            Overlay::Peek(p) => {
                match key.code {
                    KeyCode::Esc | KeyCode::Char('q') | KeyCode::Enter => self.peeked = None,
                    KeyCode::Char(c @ ('m' | 'M')) => self.ask_message(&p.agent, c == 'M'),
                    KeyCode::Char('t') => {
                        self.jump(&p.agent);
                        self.ui.overlay = Overlay::Peek(p);
                    }
                    _ => self.ui.overlay = Overlay::Peek(p),
                }
                Ok(())
            }
            Overlay::Detail(t) => {
                match key.code {
                    KeyCode::Char(c @ ('r' | 'b' | 'c' | 'u')) => self.task_key(c, t.id)?,
                    KeyCode::Esc | KeyCode::Char('q') | KeyCode::Enter => {}
                    _ => self.ui.overlay = Overlay::Detail(t),
                }
                Ok(())
            }
            Overlay::Help => {
                if !matches!(key.code, KeyCode::Esc | KeyCode::Char('q' | '?')) {
                    self.ui.overlay = Overlay::Help;
                }
                Ok(())
            }
        }
    }

    fn on_key_panes(&mut self, key: KeyEvent) -> CliResult<()> {
        let page = self.areas.task_rows().max(1);
        match key.code {
            KeyCode::Char('q') => self.quit = true,
            KeyCode::Char('?') => self.ui.overlay = Overlay::Help,
            KeyCode::Esc => self.ui.message = None,
            KeyCode::Tab => self.ui.focus = self.ui.focus.step(true),
            KeyCode::BackTab => self.ui.focus = self.ui.focus.step(false),
            KeyCode::Up | KeyCode::Char('k') => self.move_by(-1)?,
            KeyCode::Down | KeyCode::Char('j') => self.move_by(1)?,
            KeyCode::PageUp => self.move_by(-(page as i64))?,
            KeyCode::PageDown => self.move_by(page as i64)?,
            KeyCode::Home | KeyCode::Char('g') => self.move_by(i64::MIN / 2)?,
            KeyCode::End | KeyCode::Char('G') => self.move_by(i64::MAX / 2)?,
            KeyCode::Char('f') | KeyCode::Char('F') => {
                self.ui.filter = self.ui.filter.step(key.code == KeyCode::Char('f'));
                self.ui.task_sel = 0;
                self.ui.task_top = 0;
                self.reload_page()?;
                self.clamp()?;
            }
            KeyCode::Char('p') => self.toggle_pause()?,
            KeyCode::Char('H') => self.ask_handoff(),
            _ => match self.ui.focus {
                Pane::Agents => self.agent_key(key.code),
                Pane::Tasks => {
                    if let Some(id) = self.selected_task_id() {
                        match key.code {
                            KeyCode::Enter => {
                                if let Some(t) = self.snap.tasks.rows.iter().find(|t| t.id == id) {
                                    self.ui.overlay = Overlay::Detail(Box::new(t.clone()));
                                }
                            }
                            KeyCode::Char(c) => self.task_key(c, id)?,
                            _ => {}
                        }
                    }
                }
                Pane::Log => {}
            },
        }
        Ok(())
    }

    fn move_by(&mut self, delta: i64) -> CliResult<()> {
        let step = |at: usize, n: usize| -> usize {
            let to = (at as i64).saturating_add(delta);
            to.clamp(0, n.saturating_sub(1) as i64) as usize
        };
        match self.ui.focus {
            Pane::Agents => self.ui.agent_sel = step(self.ui.agent_sel, self.snap.agents.len()),
            Pane::Tasks => self.ui.task_sel = step(self.ui.task_sel, self.snap.tasks.total),
            Pane::Log => {
                // Up goes back in time.
                let max = self.snap.log.len().saturating_sub(self.areas.log_rows());
                let back = (self.ui.log_back as i64).saturating_sub(delta);
                self.ui.log_back = back.clamp(0, max as i64) as usize;
            }
        }
        self.clamp()
    }

    fn agent_key(&mut self, code: KeyCode) {
        let Some(agent) = self.selected_agent() else {
            return;
        };
        match code {
            KeyCode::Enter | KeyCode::Char('o') => self.open_peek(&agent),
            KeyCode::Char(c @ ('m' | 'M')) => self.ask_message(&agent, c == 'M'),
            KeyCode::Char('t') => self.jump(&agent),
            _ => {}
        }
    }

    fn task_key(&mut self, c: char, id: TaskId) -> CliResult<()> {
        let title = self
            .snap
            .tasks
            .rows
            .iter()
            .find(|t| t.id == id)
            .map(|t| t.title.clone())
            .unwrap_or_default();
        match c {
            'b' => {
                self.ui.overlay = Overlay::Prompt(Prompt {
                    ask: Ask::Block(id),
                    title: format!("Block {id}"),
                    label: format!("Why is «{title}» blocked?"),
                    input: String::new(),
                    choices: Vec::new(),
                    selected: 0,
                })
            }
            'c' => {
                self.ui.overlay = Overlay::Prompt(Prompt {
                    ask: Ask::Cancel(id),
                    title: format!("Cancel {id}"),
                    label: format!("Cancel «{title}»? y/n"),
                    input: String::new(),
                    choices: Vec::new(),
                    selected: 0,
                })
            }
            'r' => {
                let current = self
                    .snap
                    .tasks
                    .rows
                    .iter()
                    .find(|t| t.id == id)
                    .and_then(|t| t.assignee.clone());
                let choices: Vec<String> = self
                    .project
                    .config
                    .agents
                    .iter()
                    .map(|a| a.name.clone())
                    .filter(|a| Some(a) != current.as_ref())
                    .collect();
                if choices.is_empty() {
                    self.ui.complain("no other agent to give it to");
                    return Ok(());
                }
                self.ui.overlay = Overlay::Prompt(Prompt {
                    ask: Ask::Reassign(id),
                    title: format!("Reassign {id}"),
                    label: format!("Give «{title}» to:"),
                    input: String::new(),
                    choices,
                    selected: 0,
                })
            }
            'u' => self.set_status(id, Status::Pending, StatusChange::default())?,
            _ => {}
        }
        Ok(())
    }

    fn ask_message(&mut self, agent: &str, force: bool) {
        self.peeked = None;
        self.ui.overlay = Overlay::Prompt(Prompt {
            ask: Ask::Message(agent.to_owned(), force),
            title: format!("Message to {agent}"),
            label: if force {
                "Typed into its prompt even if it is busy, and submitted (verified):".into()
            } else {
                "Typed into its prompt once it is ready, and submitted (verified):".into()
            },
            input: String::new(),
            choices: Vec::new(),
            selected: 0,
        });
    }

    fn ask_handoff(&mut self) {
        let lead = self.snap.lead.clone();
        let chain = &self.project.config.lead.chain;
        // The chain's order first (the next in line on top), then the other agents.
        let mut choices: Vec<String> = chain
            .iter()
            .skip_while(|a| Some(*a) != lead.as_ref())
            .skip(1)
            .chain(chain.iter())
            .cloned()
            .collect();
        for a in &self.project.config.agents {
            choices.push(a.name.clone());
        }
        let mut seen = std::collections::BTreeSet::new();
        choices.retain(|a| Some(a) != lead.as_ref() && seen.insert(a.clone()));
        if choices.is_empty() {
            self.ui.complain("no agent to hand the lead role to");
            return;
        }
        self.ui.overlay = Overlay::Prompt(Prompt {
            ask: Ask::Handoff,
            title: "Hand over the lead".into(),
            label: format!(
                "Hand the lead role from {} to:",
                lead.as_deref().unwrap_or("nobody")
            ),
            input: String::new(),
            choices,
            selected: 0,
        });
    }

    fn on_key_prompt(&mut self, mut p: Prompt, key: KeyEvent) -> CliResult<()> {
        if let Ask::Cancel(id) = p.ask {
            match key.code {
                KeyCode::Char('y' | 'Y') => {
                    let c = StatusChange {
                        note: Some("cancelled from baton watch".into()),
                        ..Default::default()
                    };
                    self.set_status(id, Status::Cancelled, c)?;
                }
                KeyCode::Char('n' | 'N') | KeyCode::Esc => self.ui.say("not cancelled"),
                _ => self.ui.overlay = Overlay::Prompt(p),
            }
            return Ok(());
        }
        match key.code {
            KeyCode::Esc => return Ok(()),
            KeyCode::Enter => return self.answer(p),
            KeyCode::Up if !p.choices.is_empty() => p.selected = p.selected.saturating_sub(1),
            KeyCode::Down if !p.choices.is_empty() => {
                p.selected = (p.selected + 1).min(p.choices.len() - 1);
            }
            KeyCode::Backspace => {
                p.input.pop();
            }
            KeyCode::Char(c) if p.choices.is_empty() => p.input.push(c),
            KeyCode::Char(c) => {
                // Typing picks the first choice that starts with what was typed.
                p.input.push(c);
                match p.choices.iter().position(|a| a.starts_with(&p.input)) {
                    Some(i) => p.selected = i,
                    None => p.input.clear(),
                }
            }
            _ => {}
        }
        self.ui.overlay = Overlay::Prompt(p);
        Ok(())
    }

    fn answer(&mut self, p: Prompt) -> CliResult<()> {
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

    fn set_status(&mut self, id: TaskId, to: Status, c: StatusChange) -> CliResult<()> {
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

    fn toggle_pause(&mut self) -> CliResult<()> {
        let pause = !self.snap.paused;
        let store = self.loader.store_mut();
        let done = store
            .set_meta(PAUSE_KEY, if pause { "1" } else { "0" })
            .and_then(|()| {
                store.journal(
                    ACTOR,
                    if pause {
                        baton_core::vocab::JournalAction::DispatchPause
                    } else {
                        baton_core::vocab::JournalAction::DispatchResume
                    },
                    None,
                    "",
                    if pause { "paused" } else { "resumed" },
                    "",
                )
            });
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
    fn after_change(&mut self, entries: &[JournalEntry]) {
        if let Err(e) = crate::orchlog::append(&self.project, entries) {
            self.ui.complain(e.message);
        }
        if let Err(e) = crate::memory_sync::sync(&self.project, self.loader.store_mut(), ACTOR) {
            self.ui
                .complain(format!("memory file not updated: {}", e.message));
        }
        crate::daemon::poke(&self.project.root);
        self.loader.invalidate();
    }

    fn open_peek(&mut self, agent: &str) {
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
    fn jump(&mut self, agent: &str) {
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

    fn send_message(&mut self, agent: String, text: String, force: bool) {
        self.ui.say(format!("sending to {agent}…"));
        let root = self.project.root.clone();
        let tx = self.jobs_tx.clone();
        std::thread::spawn(move || {
            let done = match deliver(&root, &agent, &text, force) {
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

/// Sends a message the way `baton send` does: only to an agent ready for it (unless
/// `force`), verified.
fn deliver(root: &std::path::Path, agent: &str, text: &str, force: bool) -> CliResult<String> {
    let project = Project::load(root)?;
    let pane = project.agent_pane(agent)?;
    let profile = &project
        .config
        .agent(agent)
        .ok_or_else(|| CliError::user(format!("no agent `{agent}`")))?
        .profile;
    if !force {
        let seen = crate::delivery::wait_ready(
            &project.tmux,
            &pane.pane_id,
            profile,
            Duration::from_secs(3),
        )?;
        if !seen.state.is_ready() {
            return Err(CliError::user(format!(
                "{} (not ready): nothing sent; M sends anyway",
                seen.state
            )));
        }
    }
    let sent = crate::delivery::send_verified(&project.tmux, &pane.pane_id, profile, text, true)?;
    Ok(format!(
        "sent to {agent} ({}; Enter ×{})",
        sent.state
            .map_or_else(|| "sent".to_owned(), |s| s.to_string()),
        sent.enters
    ))
}

/// Returns the first visible row so that `sel` is on screen, moving as little as possible.
fn scroll_to(top: usize, sel: usize, rows: usize, total: usize) -> usize {
    let top = if sel < top {
        sel
    } else if sel >= top + rows {
        sel + 1 - rows
    } else {
        top
    };
    top.min(total.saturating_sub(rows))
}

/// Runs the dashboard on the terminal until the user quits.
pub fn run(project: Project) -> CliResult<()> {
    if !std::io::stdout().is_terminal() || !std::io::stdin().is_terminal() {
        return Err(CliError::user("baton watch needs a terminal (stdin and stdout are not one)")
            .hint("run it in a terminal; for scripts use `baton task list --json`, `baton log --json`, `baton ls --json`"));
    }
    let io = |e: std::io::Error| CliError::user(format!("terminal: {e}"));
    let mut terminal = ratatui::try_init().map_err(io)?;
    let result = (|| {
        let size = terminal.size().map_err(io)?;
        let mut app = App::new(project, Rect::new(0, 0, size.width, size.height))?;
        event_loop(&mut terminal, &mut app)
    })();
    ratatui::restore();
    result
}

fn event_loop(terminal: &mut ratatui::DefaultTerminal, app: &mut App) -> CliResult<()> {
    let io = |e: std::io::Error| CliError::user(format!("terminal: {e}"));
    let tz = jiff::tz::TimeZone::system();
    let mut next_poll = Instant::now() + POLL;
    while !app.quit {
        let now = now_ms();
        if app.dirty {
            let clock = Clock {
                now_ms: now,
                tz: tz.clone(),
            };
            terminal.draw(|f| app.draw(f, &clock)).map_err(io)?;
            app.dirty = false;
        }
        // Sleep until the first of: a key, the next poll, an age ticking over, a peek.
        let mut wake = next_poll;
        if let Some(at) = app.next_change_ms(now) {
            let ms = u64::try_from(at.saturating_sub(now_ms()).max(0)).unwrap_or(0);
            wake = wake.min(Instant::now() + Duration::from_millis(ms));
        }
        if let Some(at) = app.peek_due() {
            wake = wake.min(at);
        }
        let timeout = wake.saturating_duration_since(Instant::now());
        if crossterm::event::poll(timeout).map_err(io)? {
            let ev = crossterm::event::read().map_err(io)?;
            if let Err(e) = app.on_event(&ev) {
                app.ui.complain(e.message);
            }
            continue;
        }
        let now_i = Instant::now();
        if now_i >= next_poll {
            next_poll = now_i + POLL;
            if let Err(e) = app.refresh() {
                app.ui.complain(e.message);
                app.dirty = true;
            }
            app.poll_jobs();
        }
        if app.peek_due().is_some_and(|t| now_i >= t) {
            app.refresh_peek();
        }
        if app.next_change_ms(now).is_some_and(|at| at <= now_ms()) {
            app.dirty = true;
        }
    }
    Ok(())
}
