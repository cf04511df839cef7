//! `baton watch`: the live dashboard, in ratatui over crossterm.
//!
//! - [`model`]: the [`model::Snapshot`] view model, read from the store (a page of tasks,
//!   counts, the journal's tail, agents, quota, lead, handoff) by a [`model::Loader`] that
//!   reads again only when SQLite says something was committed;
//! - [`ui`]: the dashboard's own state (focus, selections, filter, overlays);
//! - [`view`]: pure drawing of both into a frame (snapshot-tested with `TestBackend`);
//! - [`app`]: the loop, the keys, and the actions (store changes journaled as `watch`, then
//!   a poke of the daemon).
//!
//! The dashboard is a reader like any `baton` command: it starts and stops without the
//! daemon noticing, and works (read-only views, task actions) when no daemon runs.

pub mod app;
pub mod model;
pub mod ui;
pub mod view;

#[cfg(test)]
mod tests;

use std::time::Instant;

use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::layout::Rect;
use serde::Serialize;

use crate::error::CliError;
use crate::error::CliResult;
use crate::project::Project;

/// What `baton watch --bench-frames` measures, in microseconds per sample.
#[derive(Debug, Serialize)]
pub struct BenchFigures {
    /// Terminal width and height.
    pub size: (u16, u16),
    /// Agents and tasks in the project.
    pub agents: usize,
    /// Tasks in the store.
    pub tasks: u64,
    /// A whole snapshot read from the store.
    pub load_us: Vec<u64>,
    /// A frame drawn (off-screen) from a snapshot.
    pub render_us: Vec<u64>,
    /// The idle poll: asking the store whether anything changed.
    pub poll_us: Vec<u64>,
    /// Moving the selection one row down the queue, read and drawn.
    pub scroll_us: Vec<u64>,
}

/// Loads and draws `frames` times off-screen at `size`, and returns the timings.
pub fn bench(project: Project, frames: usize, size: (u16, u16)) -> CliResult<BenchFigures> {
    let area = Rect::new(0, 0, size.0, size.1);
    let agents = project.config.agents.len();
    let mut app = app::App::new(project, area)?;
    let mut terminal = Terminal::new(TestBackend::new(size.0, size.1))
        .map_err(|e| CliError::internal(e.to_string()))?;
    let clock = view::Clock {
        now_ms: crate::store::now_ms(),
        tz: jiff::tz::TimeZone::UTC,
    };
    let us = |t: Instant| u64::try_from(t.elapsed().as_micros()).unwrap_or(u64::MAX);
    let mut figures = BenchFigures {
        size,
        agents,
        tasks: app.snap.counts.total,
        load_us: Vec::new(),
        render_us: Vec::new(),
        poll_us: Vec::new(),
        scroll_us: Vec::new(),
    };
    app.ui.focus = ui::Pane::Tasks;
    for _ in 0..frames {
        let t = Instant::now();
        app.reload()?;
        figures.load_us.push(us(t));
        let t = Instant::now();
        terminal
            .draw(|f| app.draw(f, &clock))
            .map_err(|e| CliError::internal(e.to_string()))?;
        figures.render_us.push(us(t));
        let t = Instant::now();
        app.refresh()?;
        figures.poll_us.push(us(t));
        // A key, read and drawn: far down the queue, so each step reads another page.
        let t = Instant::now();
        app.on_key(crossterm::event::KeyEvent::from(
            crossterm::event::KeyCode::PageDown,
        ))?;
        terminal
            .draw(|f| app.draw(f, &clock))
            .map_err(|e| CliError::internal(e.to_string()))?;
        figures.scroll_us.push(us(t));
    }
    Ok(figures)
}
