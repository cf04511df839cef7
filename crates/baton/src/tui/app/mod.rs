//! The dashboard's loop and keys: reads the store when it changed, draws when something on
//! screen changed, and turns keys into store changes (journaled, actor `watch`) followed by a
//! poke of the daemon.
//!
//! One thread, no busy loop: it waits for a key, a resize, the next store poll (250 ms; one
//! `PRAGMA data_version` query), or the moment an age on screen ticks over, whichever comes
//! first. Sending a message to an agent (verified delivery takes seconds) runs on a thread of
//! its own and reports back through a channel.
//!
//! This file holds the state, the reads and the loop; [`keys`] turns keys into overlays and
//! calls, [`actions`] carries them out (store changes, peeks, jumps, messages).

mod actions;
mod keys;

use std::io::IsTerminal;
use std::time::Duration;
use std::time::Instant;

use baton_core::task::TaskId;
use crossbeam_channel::Receiver;
use crossbeam_channel::Sender;
use ratatui::Frame;
use ratatui::layout::Rect;

use crate::error::CliError;
use crate::error::CliResult;
use crate::project::Project;
use crate::store::StoreError;
use crate::store::now_ms;
use crate::tui::model::Loader;
use crate::tui::model::PageRequest;
use crate::tui::model::Snapshot;
use crate::tui::ui::Ui;
use crate::tui::view;
use crate::tui::view::Areas;
use crate::tui::view::Clock;

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
