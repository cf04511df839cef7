//! Drawing: a pure function of a [`Snapshot`], the [`Ui`] state and the time into a ratatui
//! [`Frame`]. Nothing here reads the store, the clock or the terminal, so a `TestBackend`
//! renders the same screen every time.
//!
//! Every colour doubles as text: states are words, quota bands carry a word (`attn`, `CRIT`,
//! `ALERT`) next to the percentage, the selected row has a `›` marker and the lead a `★`, so
//! the screen reads the same on a terminal without colour.
//!
//! This file holds the layout, the whole-frame entry points and the shared styles; each part
//! of the screen is drawn by its own file: [`bars`] (header and footer), [`agents`],
//! [`tasks`], [`journal`] (the log pane) and [`dialogs`] (help, peek, detail, prompt).

mod agents;
mod bars;
mod dialogs;
mod journal;
mod tasks;

use baton_core::task::Status;
use jiff::tz::TimeZone;
use ratatui::Frame;
use ratatui::buffer::Buffer;
use ratatui::layout::Constraint;
use ratatui::layout::Layout;
use ratatui::layout::Rect;
use ratatui::style::Color;
use ratatui::style::Modifier;
use ratatui::style::Style;
use ratatui::text::Line;
use ratatui::text::Span;
use ratatui::widgets::Block;
use ratatui::widgets::Borders;
use ratatui::widgets::Cell;
use ratatui::widgets::Row;
use ratatui::widgets::Table;

use crate::tui::model::Band;
use crate::tui::model::Snapshot;
use crate::tui::ui::Overlay;
use crate::tui::ui::Ui;

use agents::agents_pane;
use bars::footer;
use bars::header;
use dialogs::detail;
use dialogs::help;
use dialogs::peek;
use dialogs::prompt;
use journal::log_pane;
use tasks::tasks_pane;

/// The time a frame is drawn at, and the zone clock times are shown in.
#[derive(Clone, Debug)]
pub struct Clock {
    /// Now, in milliseconds since the epoch.
    pub now_ms: i64,
    /// The zone of the log's clock times.
    pub tz: TimeZone,
}

/// Where each part of the screen goes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Areas {
    /// The top line.
    pub header: Rect,
    /// The agents pane (title, column headers, rows).
    pub agents: Rect,
    /// The task queue pane.
    pub tasks: Rect,
    /// The log pane.
    pub log: Rect,
    /// The bottom line.
    pub footer: Rect,
}

impl Areas {
    /// Returns how many agent rows fit.
    pub fn agent_rows(&self) -> usize {
        usize::from(self.agents.height.saturating_sub(2))
    }

    /// Returns how many task rows fit.
    pub fn task_rows(&self) -> usize {
        usize::from(self.tasks.height.saturating_sub(2))
    }

    /// Returns how many log lines fit.
    pub fn log_rows(&self) -> usize {
        usize::from(self.log.height.saturating_sub(1))
    }
}

/// Splits the screen: a header line, the agents (as many rows as agents, up to two fifths),
/// the tasks (as many rows as tasks, up to what the log's quarter leaves), the log (the
/// rest), a footer line.
pub fn layout(area: Rect, agents: usize, tasks: usize) -> Areas {
    let rest = area.height.saturating_sub(2);
    let want = |n: usize| u16::try_from(n.max(1) + 2).unwrap_or(u16::MAX);
    let agents_h = want(agents).min((rest * 2 / 5).max(3)).min(rest);
    let log_min = (rest / 4).max(3).min(rest.saturating_sub(agents_h));
    let tasks_h = want(tasks).min(rest.saturating_sub(agents_h + log_min));
    let log_h = rest.saturating_sub(agents_h + tasks_h);
    let [header, agents, tasks, log, footer] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Length(agents_h),
        Constraint::Length(tasks_h),
        Constraint::Length(log_h),
        Constraint::Length(1),
    ])
    .areas(area);
    Areas {
        header,
        agents,
        tasks,
        log,
        footer,
    }
}

/// Draws the whole dashboard.
pub fn render(frame: &mut Frame<'_>, snap: &Snapshot, ui: &Ui, clock: &Clock) {
    let area = frame.area();
    let areas = layout(area, snap.agents.len(), snap.tasks.total);
    let buf = frame.buffer_mut();
    header(buf, areas.header, snap, clock);
    agents_pane(buf, areas.agents, snap, ui, clock);
    tasks_pane(buf, areas.tasks, snap, ui, clock);
    log_pane(buf, areas.log, snap, ui, clock);
    footer(buf, areas.footer, snap, ui, clock.now_ms);
    match &ui.overlay {
        Overlay::None => {}
        Overlay::Help => help(buf, area),
        Overlay::Peek(p) => peek(buf, area, p, snap, clock),
        Overlay::Detail(t) => detail(buf, area, t, clock),
        Overlay::Prompt(p) => prompt(buf, area, p),
    }
}

/// Removes every colour from a drawn frame, keeping bold and reverse (for `NO_COLOR`): the
/// screen says everything in words and symbols too.
pub fn strip_colour(buf: &mut Buffer) {
    let area = buf.area;
    for y in area.top()..area.bottom() {
        for x in area.left()..area.right() {
            let cell = &mut buf[(x, y)];
            cell.fg = Color::Reset;
            cell.bg = Color::Reset;
        }
    }
}

/// Returns when the drawn screen next changes on its own (an age ticking over), so the loop
/// can sleep until then instead of redrawing on a timer; `None`: nothing on screen ages.
pub fn next_change_ms(snap: &Snapshot, ui: &Ui, rows: usize, now_ms: i64) -> Option<i64> {
    let agents = snap
        .agents
        .iter()
        .skip(ui.agent_top)
        .take(rows.max(1))
        .filter_map(|a| a.since_ms);
    let tasks = snap.tasks.rows.iter().map(|t| t.created_ms);
    let handoff = snap.handoff.iter().map(|h| h.since_ms);
    let message = ui
        .message
        .as_ref()
        .map(|m| m.until_ms)
        .filter(|&t| t > now_ms);
    agents
        .chain(tasks)
        .chain(handoff)
        .map(|since| now_ms + until_next_tick(now_ms - since))
        .chain(message)
        .min()
}

/// Returns how long until a duration shown by [`age`] shows something else.
fn until_next_tick(elapsed_ms: i64) -> i64 {
    let e = elapsed_ms.max(0);
    let unit = match e {
        e if e < 60_000 => 1_000,
        e if e < 86_400_000 => 60_000,
        _ => 3_600_000,
    };
    unit - e % unit
}

/// Formats a duration compactly: `12s`, `4m`, `3h05m`, `2d4h`.
pub fn age(elapsed_ms: i64) -> String {
    let s = elapsed_ms.max(0) / 1000;
    match s {
        s if s < 60 => format!("{s}s"),
        s if s < 3600 => format!("{}m", s / 60),
        s if s < 86_400 => format!("{}h{:02}m", s / 3600, s % 3600 / 60),
        s => format!("{}d{}h", s / 86_400, s % 86_400 / 3600),
    }
}

/// Returns the colour and emphasis of a quota band.
pub fn band_style(band: Band) -> Style {
    match band {
        Band::Ok => Style::new().fg(Color::Green),
        Band::Attention => Style::new().fg(Color::Yellow),
        Band::High => Style::new().fg(Color::LightRed),
        Band::Critical => Style::new().fg(Color::Red).add_modifier(Modifier::BOLD),
        Band::Alert => Style::new()
            .fg(Color::Red)
            .add_modifier(Modifier::BOLD | Modifier::REVERSED),
    }
}

/// Returns the colour of an agent state.
pub fn state_style(state: &str) -> Style {
    use baton_core::AgentState as S;
    use baton_core::vocab::AgentStatus::Dead;
    use baton_core::vocab::AgentStatus::Screen;
    match state.parse() {
        Ok(Screen(S::Working)) => Style::new().fg(Color::Cyan),
        Ok(Screen(S::Idle | S::Finished)) => Style::new().fg(Color::Green),
        Ok(Screen(S::NeedsInput)) => Style::new().fg(Color::Magenta).add_modifier(Modifier::BOLD),
        Ok(Screen(S::RateLimited | S::Error) | Dead) => {
            Style::new().fg(Color::Red).add_modifier(Modifier::BOLD)
        }
        Ok(Screen(S::Starting)) => Style::new().fg(Color::Yellow),
        Ok(Screen(S::Unknown)) | Err(_) => Style::new().fg(Color::DarkGray),
    }
}

/// Returns the colour of a task status.
pub fn status_style(status: Status) -> Style {
    match status {
        Status::Pending => Style::new(),
        Status::InProgress => Style::new().fg(Color::Cyan),
        Status::Unreported => Style::new().fg(Color::Yellow).add_modifier(Modifier::BOLD),
        Status::Completed => Style::new().fg(Color::Green),
        Status::Blocked => Style::new().fg(Color::Red).add_modifier(Modifier::BOLD),
        Status::Cancelled => Style::new().fg(Color::DarkGray),
    }
}

fn title_style(focused: bool) -> Style {
    if focused {
        Style::new().add_modifier(Modifier::BOLD)
    } else {
        Style::new().fg(Color::Gray)
    }
}

fn dim() -> Style {
    Style::new().fg(Color::DarkGray)
}

fn head_style() -> Style {
    Style::new()
        .fg(Color::DarkGray)
        .add_modifier(Modifier::BOLD)
}

fn selected_style() -> Style {
    Style::new().add_modifier(Modifier::REVERSED)
}

/// A table row: the selection marker (`›`) before `cells`, the whole row reversed when
/// selected.
fn marked_row(sel: bool, mut cells: Vec<Cell<'static>>) -> Row<'static> {
    cells.insert(0, Cell::from(if sel { "›" } else { " " }));
    let row = Row::new(cells);
    if sel {
        row.style(selected_style())
    } else {
        row
    }
}

/// Draws a pane's table: `head` over `rows`, one column apart.
fn table<'a>(
    rows: impl IntoIterator<Item = Row<'a>>,
    widths: impl IntoIterator<Item = Constraint>,
    head: Row<'a>,
    buf: &mut Buffer,
    area: Rect,
) {
    Table::new(rows, widths)
        .header(head)
        .column_spacing(1)
        .render_into(buf, area);
}

/// A pane's top line: `▶ Title · details` when it has the keyboard, `  Title · details` else.
fn pane_block(title: Vec<Span<'static>>, focused: bool) -> Block<'static> {
    let mut spans = vec![Span::styled(
        if focused { "▶ " } else { "  " },
        title_style(focused),
    )];
    spans.extend(title);
    spans.push(Span::raw(" "));
    Block::new()
        .borders(Borders::TOP)
        .border_style(if focused {
            Style::new().fg(Color::Blue)
        } else {
            dim()
        })
        .title(Line::from(spans))
}

/// Widgets draw into a buffer region; a small extension so the drawing functions above work
/// on a [`Buffer`] (what `Frame::buffer_mut` and tests hand out).
trait RenderInto {
    fn render_into(self, buf: &mut Buffer, area: Rect);
}

impl<W: ratatui::widgets::Widget> RenderInto for W {
    fn render_into(self, buf: &mut Buffer, area: Rect) {
        self.render(area, buf);
    }
}

#[cfg(test)]
/// Returns a buffer's text, one line per row, trailing spaces trimmed (for snapshots and
/// tests).
pub fn buffer_text(buf: &Buffer) -> String {
    let area = buf.area;
    let mut out = String::new();
    for y in area.top()..area.bottom() {
        let mut line = String::new();
        let mut skip = 0;
        for x in area.left()..area.right() {
            if skip > 0 {
                skip -= 1;
                continue;
            }
            let sym = buf[(x, y)].symbol();
            line.push_str(sym);
            skip = unicode_width(sym).saturating_sub(1);
        }
        out.push_str(line.trim_end());
        out.push('\n');
    }
    out
}

#[cfg(test)]
/// Returns the display width of a cell's symbol (wide characters take two cells).
fn unicode_width(s: &str) -> usize {
    use ratatui::text::Span as S;
    S::raw(s).width().max(1)
}
