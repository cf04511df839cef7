//! Drawing: a pure function of a [`Snapshot`], the [`Ui`] state and the time into a ratatui
//! [`Frame`]. Nothing here reads the store, the clock or the terminal, so a `TestBackend`
//! renders the same screen every time.
//!
//! Every colour doubles as text: states are words, quota bands carry a word (`attn`, `CRIT`,
//! `ALERT`) next to the percentage, the selected row has a `›` marker and the lead a `★`, so
//! the screen reads the same on a terminal without colour.

use baton_core::task::Priority;
use baton_core::task::Status;
use baton_core::task::Task;
use jiff::tz::TimeZone;
use ratatui::Frame;
use ratatui::buffer::Buffer;
use ratatui::layout::Alignment;
use ratatui::layout::Constraint;
use ratatui::layout::Layout;
use ratatui::layout::Rect;
use ratatui::style::Color;
use ratatui::style::Modifier;
use ratatui::style::Style;
use ratatui::style::Stylize;
use ratatui::text::Line;
use ratatui::text::Span;
use ratatui::text::Text;
use ratatui::widgets::Block;
use ratatui::widgets::Borders;
use ratatui::widgets::Cell;
use ratatui::widgets::Clear;
use ratatui::widgets::Paragraph;
use ratatui::widgets::Row;
use ratatui::widgets::Table;
use ratatui::widgets::Wrap;

use super::model::AgentView;
use super::model::Band;
use super::model::Quota;
use super::model::Snapshot;
use super::model::band_word;
use super::model::default_band;
use super::ui::Ask;
use super::ui::Overlay;
use super::ui::Pane;
use super::ui::Peek;
use super::ui::Prompt;
use super::ui::Ui;
use crate::store::JournalEntry;

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
    match state {
        "working" => Style::new().fg(Color::Cyan),
        "idle" | "finished" => Style::new().fg(Color::Green),
        "needs-input" => Style::new().fg(Color::Magenta).add_modifier(Modifier::BOLD),
        "rate-limited" | "error" | "dead" => {
            Style::new().fg(Color::Red).add_modifier(Modifier::BOLD)
        }
        "starting" => Style::new().fg(Color::Yellow),
        _ => Style::new().fg(Color::DarkGray),
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

/// One part of the header or the footer: its text, a shorter form for a narrow terminal, and
/// how much it matters (the least important part goes first when the line is too long).
struct Part {
    keep: u8,
    full: Vec<Span<'static>>,
    short: Option<Vec<Span<'static>>>,
}

/// Never dropped: the line is cut rather than lose it.
const ALWAYS: u8 = u8::MAX;

impl Part {
    fn new(keep: u8, full: Vec<Span<'static>>) -> Part {
        Part {
            keep,
            full,
            short: None,
        }
    }

    fn or_short(mut self, short: Vec<Span<'static>>) -> Part {
        self.short = Some(short);
        self
    }
}

/// Joins parts with `sep`, fitted into `width` columns: first the least important parts take
/// their short form, then (when `drop` allows) they go, least important first. A part is never
/// cut in the middle, so a count is shown whole or not at all. Returns the line and whether
/// every part is in it.
fn fit(parts: &[Part], sep: &Span<'static>, width: usize, drop: bool) -> (Line<'static>, bool) {
    let span_w = |v: &[Span<'static>]| v.iter().map(Span::width).sum::<usize>();
    let mut short = vec![false; parts.len()];
    let mut shown = vec![true; parts.len()];
    let total = |short: &[bool], shown: &[bool]| {
        let (mut w, mut n) = (0usize, 0usize);
        for (i, p) in parts.iter().enumerate().filter(|(i, _)| shown[*i]) {
            w += match (&p.short, short[i]) {
                (Some(s), true) => span_w(s),
                _ => span_w(&p.full),
            };
            n += 1;
        }
        w + sep.width() * n.saturating_sub(1)
    };
    // The least important first; among equals, the rightmost first.
    let mut order: Vec<usize> = (0..parts.len()).collect();
    order.sort_by_key(|&i| (parts[i].keep, std::cmp::Reverse(i)));
    for &i in &order {
        if total(&short, &shown) <= width {
            break;
        }
        short[i] = parts[i].short.is_some();
    }
    if drop {
        for &i in order.iter().filter(|&&i| parts[i].keep != ALWAYS) {
            if total(&short, &shown) <= width {
                break;
            }
            shown[i] = false;
        }
    }
    let mut spans = Vec::new();
    for (i, p) in parts.iter().enumerate().filter(|(i, _)| shown[*i]) {
        if !spans.is_empty() {
            spans.push(sep.clone());
        }
        match (&p.short, short[i]) {
            (Some(s), true) => spans.extend(s.iter().cloned()),
            _ => spans.extend(p.full.iter().cloned()),
        }
    }
    (Line::from(spans), shown.iter().all(|s| *s))
}

fn header(buf: &mut Buffer, area: Rect, snap: &Snapshot, clock: &Clock) {
    let bar = Style::new().fg(Color::White).bg(Color::Blue);
    let loud = Style::new()
        .fg(Color::Black)
        .bg(Color::Yellow)
        .add_modifier(Modifier::BOLD);
    let mut parts = vec![
        Part::new(
            3,
            vec![Span::styled(
                format!(" baton · {}", snap.session),
                bar.add_modifier(Modifier::BOLD),
            )],
        )
        .or_short(vec![Span::styled(
            " baton",
            bar.add_modifier(Modifier::BOLD),
        )]),
    ];
    if let Some(h) = &snap.handoff {
        let handoff = format!("HANDOFF {} → {}", h.from, h.to);
        parts.push(
            Part::new(
                ALWAYS,
                vec![Span::styled(
                    format!("{handoff}: {} {}", h.step, age(clock.now_ms - h.since_ms)),
                    loud,
                )],
            )
            .or_short(vec![Span::styled(handoff, loud)]),
        );
    } else {
        parts.push(Part::new(
            6,
            vec![Span::styled(
                format!("lead {}", snap.lead.as_deref().unwrap_or("none")),
                bar,
            )],
        ));
    }
    match snap.daemon {
        Some(true) => parts.push(Part::new(1, vec![Span::styled("daemon on", bar)])),
        Some(false) => parts.push(Part::new(
            5,
            vec![Span::styled(
                "daemon off",
                bar.fg(Color::Yellow).add_modifier(Modifier::BOLD),
            )],
        )),
        None => {}
    }
    if snap.paused {
        parts.push(
            Part::new(ALWAYS, vec![Span::styled("dispatch PAUSED", loud)])
                .or_short(vec![Span::styled("PAUSED", loud)]),
        );
    } else {
        parts.push(Part::new(2, vec![Span::styled("dispatch on", bar)]));
    }
    if let Some((a, window, q)) = snap.alerts().first() {
        // The agents pane shows it too: it goes before the state of the run.
        parts.push(Part::new(
            4,
            vec![Span::styled(
                format!(
                    "{} {} {:.0}% {}",
                    band_word(q.band()),
                    a.name,
                    q.percent,
                    window
                ),
                band_style(q.band()),
            )],
        ));
    }
    let (line, _) = fit(
        &parts,
        &Span::styled(" │ ", bar),
        usize::from(area.width),
        true,
    );
    buf.set_style(area, bar);
    Paragraph::new(line).render_into(buf, area);
}

/// A quota bar: `████░░ 45% ok`.
fn quota_cell(q: Option<Quota>, bar_width: usize) -> Line<'static> {
    let Some(q) = q else {
        return Line::from(vec![
            Span::styled("·".repeat(bar_width), dim()),
            Span::styled("    ?", dim()),
        ]);
    };
    if q.reset {
        return Line::from(vec![
            Span::styled("░".repeat(bar_width), dim()),
            Span::styled(" reset", dim()),
        ]);
    }
    let band = q.band();
    let filled = ((q.percent.clamp(0.0, 100.0) / 100.0) * bar_width as f64).round() as usize;
    let colour = band_style(band).remove_modifier(Modifier::REVERSED | Modifier::BOLD);
    Line::from(vec![
        Span::styled("█".repeat(filled), colour),
        Span::styled("░".repeat(bar_width - filled), dim()),
        Span::styled(format!(" {:>3.0}% ", q.percent), colour),
        Span::styled(band_word(band), band_style(band)),
    ])
}

fn weekly_cell(q: Option<Quota>) -> Line<'static> {
    match q {
        None => Line::styled("   ?", dim()),
        Some(q) if q.reset => Line::styled("reset", dim()),
        Some(q) => Line::from(vec![
            Span::styled(
                format!("{:>3.0}% ", q.percent),
                band_style(q.band()).remove_modifier(Modifier::REVERSED | Modifier::BOLD),
            ),
            Span::styled(band_word(q.band()), band_style(q.band())),
        ]),
    }
}

fn agent_state(a: &AgentView, now_ms: i64) -> String {
    match (a.state.as_str(), a.since_ms) {
        ("", _) => "not seen".to_owned(),
        (s, Some(since)) => format!("{s} {}", age(now_ms - since)),
        (s, None) => s.to_owned(),
    }
}

fn agents_pane(buf: &mut Buffer, area: Rect, snap: &Snapshot, ui: &Ui, clock: &Clock) {
    let focused = ui.focus == Pane::Agents && ui.overlay == Overlay::None;
    let working = snap.agents.iter().filter(|a| a.state == "working").count();
    let block = pane_block(
        vec![
            Span::styled("Agents", title_style(focused)),
            Span::styled(
                format!(" · {} · {working} working", snap.agents.len()),
                dim(),
            ),
        ],
        focused,
    );
    let inner = block.inner(area);
    block.render_into(buf, area);
    if snap.agents.is_empty() {
        Paragraph::new(Line::styled(
            " no agents: add [[agent]] tables to baton.toml",
            dim(),
        ))
        .render_into(buf, inner);
        return;
    }
    let rows = usize::from(inner.height.saturating_sub(1));
    let wide = area.width >= 110;
    let bar_width = if wide { 10 } else { 6 };
    let shown: Vec<(usize, &AgentView)> = snap
        .agents
        .iter()
        .enumerate()
        .skip(ui.agent_top)
        .take(rows)
        .collect();
    let name_w = snap
        .agents
        .iter()
        .map(|a| a.name.chars().count() + 1)
        .max()
        .unwrap_or(5)
        .clamp(6, 16);
    let cli_w = snap
        .agents
        .iter()
        .map(|a| a.cli.chars().count())
        .max()
        .unwrap_or(3)
        .clamp(3, 8);
    let states: Vec<String> = shown
        .iter()
        .map(|(_, a)| agent_state(a, clock.now_ms))
        .collect();
    let state_w = states
        .iter()
        .map(|s| s.chars().count())
        .max()
        .unwrap_or(5)
        .clamp(5, 18);
    let quota_w = bar_width + 11;
    let table_rows = shown.iter().zip(&states).map(|((i, a), state)| {
        let sel = focused && *i == ui.agent_sel;
        let name = format!("{}{}", if a.lead { "★" } else { " " }, a.name);
        let task = match &a.task {
            Some((id, title)) => Line::from(vec![
                Span::styled(format!("{id} "), Style::new().fg(Color::Cyan)),
                Span::raw(title.clone()),
            ]),
            None => Line::styled("-", dim()),
        };
        let row = Row::new(vec![
            Cell::from(if sel { "›" } else { " " }),
            Cell::from(Span::styled(
                name,
                if a.lead {
                    Style::new().add_modifier(Modifier::BOLD)
                } else {
                    Style::new()
                },
            )),
            Cell::from(a.cli.clone()),
            Cell::from(Span::styled(state.clone(), state_style(&a.state))),
            Cell::from(task),
            Cell::from(quota_cell(a.session, bar_width)),
            Cell::from(weekly_cell(a.weekly)),
        ]);
        if sel {
            row.style(selected_style())
        } else {
            row
        }
    });
    let widths = [
        Constraint::Length(1),
        Constraint::Length(name_w as u16),
        Constraint::Length(cli_w as u16),
        Constraint::Length(state_w as u16),
        Constraint::Fill(1),
        Constraint::Length(quota_w as u16),
        Constraint::Length(10),
    ];
    let head = Row::new(["", " AGENT", "CLI", "STATE", "TASK", "SESSION 5H", "WEEKLY"])
        .style(head_style());
    Table::new(table_rows, widths)
        .header(head)
        .column_spacing(1)
        .render_into(buf, inner);
}

fn priority_style(p: Priority) -> Style {
    match p {
        Priority::High => Style::new().fg(Color::LightRed),
        Priority::Med => Style::new(),
        Priority::Low => dim(),
    }
}

fn tasks_pane(buf: &mut Buffer, area: Rect, snap: &Snapshot, ui: &Ui, clock: &Clock) {
    let focused = ui.focus == Pane::Tasks && ui.overlay == Overlay::None;
    let page = &snap.tasks;
    let shown = if page.total == 0 {
        "0".to_owned()
    } else {
        format!(
            "{}–{} of {}",
            page.offset + 1,
            (page.offset + page.rows.len()).min(page.total),
            page.total
        )
    };
    let block = pane_block(
        vec![
            Span::styled("Tasks", title_style(focused)),
            Span::styled(" · filter ", dim()),
            Span::styled(
                page.filter.label(),
                Style::new().fg(Color::Yellow).add_modifier(Modifier::BOLD),
            ),
            Span::styled(format!(" · {shown}"), dim()),
        ],
        focused,
    );
    let inner = block.inner(area);
    block.render_into(buf, area);
    if page.rows.is_empty() {
        let text = if snap.counts.total == 0 {
            " no tasks yet: `baton task add`, `baton task import` or `baton run plan.md`".to_owned()
        } else {
            format!(
                " no task matches the filter `{}` (f: next filter)",
                page.filter.label()
            )
        };
        Paragraph::new(Line::styled(text, dim())).render_into(buf, inner);
        return;
    }
    let id_w = page
        .rows
        .iter()
        .map(|t| t.id.to_string().len())
        .max()
        .unwrap_or(5);
    let agent_w = page
        .rows
        .iter()
        .filter_map(|t| t.assignee.as_ref().map(|a| a.chars().count()))
        .max()
        .unwrap_or(0)
        .clamp(5, 12);
    let rows = page.rows.iter().enumerate().map(|(i, t)| {
        let sel = focused && page.offset + i == ui.task_sel;
        let mut title = vec![Span::raw(t.title.clone())];
        if let Some(r) = &t.blocked_reason {
            title.push(Span::styled(format!(" — {r}"), Style::new().fg(Color::Red)));
        }
        let row = Row::new(vec![
            Cell::from(if sel { "›" } else { " " }),
            Cell::from(t.id.to_string()),
            Cell::from(Line::from(title)),
            Cell::from(t.assignee.clone().unwrap_or_else(|| "-".to_owned())),
            Cell::from(Span::styled(
                t.priority.as_str(),
                priority_style(t.priority),
            )),
            Cell::from(Span::styled(t.status.as_str(), status_style(t.status))),
            Cell::from(Line::from(age(clock.now_ms - t.created_ms)).alignment(Alignment::Right)),
        ]);
        if sel {
            row.style(selected_style())
        } else {
            row
        }
    });
    let widths = [
        Constraint::Length(1),
        Constraint::Length(id_w as u16),
        Constraint::Fill(1),
        Constraint::Length(agent_w as u16),
        Constraint::Length(4),
        Constraint::Length(11),
        Constraint::Length(6),
    ];
    let head = Row::new(vec![
        Cell::from(""),
        Cell::from("ID"),
        Cell::from("TITLE"),
        Cell::from("AGENT"),
        Cell::from("PRI"),
        Cell::from("STATUS"),
        Cell::from(Line::from("AGE").alignment(Alignment::Right)),
    ])
    .style(head_style());
    Table::new(rows, widths)
        .header(head)
        .column_spacing(1)
        .render_into(buf, inner);
}

fn action_style(action: &str) -> Style {
    match action {
        "task-done" => Style::new().fg(Color::Green),
        "task-block" | "agent-died" | "verify-failed" | "memory-edit-rejected" | "needs-human" => {
            Style::new().fg(Color::Red)
        }
        "task-start" | "task-assign" => Style::new().fg(Color::Cyan),
        a if a.starts_with("handoff") => {
            Style::new().fg(Color::Yellow).add_modifier(Modifier::BOLD)
        }
        a if a.starts_with("dispatch-") => Style::new().fg(Color::Yellow),
        _ => Style::new(),
    }
}

fn log_line(j: &JournalEntry, tz: &TimeZone) -> Line<'static> {
    let time = jiff::Timestamp::from_millisecond(j.at_ms)
        .map(|t| t.to_zoned(tz.clone()).strftime("%H:%M:%S").to_string())
        .unwrap_or_default();
    let target = match (j.task, j.target.as_str()) {
        (Some(t), "") => t.to_string(),
        (Some(t), o) => format!("{t} {o}"),
        (None, o) => o.to_owned(),
    };
    let mut spans = vec![
        Span::styled(format!(" {time} "), dim()),
        Span::raw(format!("{:<8} ", j.actor)),
        Span::styled(format!("{:<14} ", j.action), action_style(&j.action)),
        Span::raw(format!("{target:<12} ")),
        Span::raw(j.result.replace(['\n', '\r'], " ")),
    ];
    if !j.detail.is_empty() && !j.detail.starts_with('{') {
        spans.push(Span::styled(
            format!(" — {}", j.detail.replace(['\n', '\r'], " ")),
            dim(),
        ));
    }
    Line::from(spans)
}

fn log_pane(buf: &mut Buffer, area: Rect, snap: &Snapshot, ui: &Ui, clock: &Clock) {
    let focused = ui.focus == Pane::Log && ui.overlay == Overlay::None;
    let mut title = vec![Span::styled("Log", title_style(focused))];
    if ui.log_back > 0 {
        title.push(Span::styled(
            format!(" · {} back (End: follow)", ui.log_back),
            dim(),
        ));
    }
    let block = pane_block(title, focused);
    let inner = block.inner(area);
    block.render_into(buf, area);
    if snap.log.is_empty() {
        Paragraph::new(Line::styled(" nothing journaled yet", dim())).render_into(buf, inner);
        return;
    }
    let rows = usize::from(inner.height);
    let end = snap.log.len().saturating_sub(ui.log_back);
    let start = end.saturating_sub(rows);
    let lines: Vec<Line<'static>> = snap.log[start..end]
        .iter()
        .map(|j| log_line(j, &clock.tz))
        .collect();
    Paragraph::new(lines).render_into(buf, inner);
}

fn percent(p: Option<f64>) -> Span<'static> {
    match p {
        Some(p) => Span::styled(
            format!("{p:.0}%"),
            band_style(default_band(p)).remove_modifier(Modifier::REVERSED),
        ),
        None => Span::raw("?"),
    }
}

fn footer(buf: &mut Buffer, area: Rect, snap: &Snapshot, ui: &Ui, now_ms: i64) {
    let (session, weekly) = snap.usage();
    let c = snap.counts;
    let usage = |label: &'static str| {
        vec![
            Span::raw(label),
            percent(session),
            Span::raw("/"),
            percent(weekly),
        ]
    };
    let mut parts = vec![
        Part::new(2, usage(" usage: ")).or_short(usage(" ")),
        Part::new(
            ALWAYS,
            vec![Span::raw(format!("done {}/{}", c.done, c.total))],
        ),
        Part::new(
            5,
            vec![Span::styled(
                format!("blocked {}", c.blocked),
                if c.blocked > 0 {
                    Style::new().fg(Color::Red).add_modifier(Modifier::BOLD)
                } else {
                    Style::new()
                },
            )],
        ),
        Part::new(
            3,
            vec![Span::raw(format!(
                "running {} · pending {}",
                c.running, c.pending
            ))],
        )
        .or_short(vec![Span::raw(format!(
            "run {} · pend {}",
            c.running, c.pending
        ))]),
    ];
    if c.unreported > 0 {
        // Done but nobody reported it: counted apart from `done`, waiting for a review.
        parts.insert(
            2,
            Part::new(
                ALWAYS,
                vec![Span::styled(
                    format!("unreported {}", c.unreported),
                    Style::new().fg(Color::Yellow).add_modifier(Modifier::BOLD),
                )],
            )
            .or_short(vec![Span::styled(
                format!("unrep {}", c.unreported),
                Style::new().fg(Color::Yellow).add_modifier(Modifier::BOLD),
            )]),
        );
    }
    if let Some((running, queued)) = snap.merges {
        parts.push(
            Part::new(
                4,
                vec![Span::raw(format!(
                    "merge {running} running · {queued} queued"
                ))],
            )
            .or_short(vec![Span::raw(format!(
                "merge {running} · {queued} queued"
            ))]),
        );
    }
    if snap.paused {
        parts.push(Part::new(
            ALWAYS,
            vec![Span::styled(
                "PAUSED",
                Style::new().fg(Color::Yellow).add_modifier(Modifier::BOLD),
            )],
        ));
    }
    let sep = Span::styled(" │ ", dim());
    let width = usize::from(area.width);
    // A message wins the space over the counts (it goes away after a few seconds); the key
    // hint gives way to them.
    let message = ui.message.as_ref().filter(|m| m.until_ms > now_ms);
    let (left, right) = match message {
        Some(m) => {
            let right = if m.error {
                Line::styled(
                    format!(" {} ", m.text),
                    Style::new().fg(Color::Red).add_modifier(Modifier::BOLD),
                )
            } else {
                Line::styled(format!(" {} ", m.text), Style::new().fg(Color::Green))
            };
            let room = width.saturating_sub(right.width().min(width.saturating_sub(16)));
            (fit(&parts, &sep, room, true).0, right)
        }
        None => {
            let hint = Line::styled(" ? keys · q quit ", dim());
            match fit(&parts, &sep, width.saturating_sub(hint.width()), false) {
                (left, true) if left.width() + hint.width() <= width => (left, hint),
                _ => (fit(&parts, &sep, width, true).0, Line::default()),
            }
        }
    };
    let right_w = u16::try_from(right.width()).unwrap_or(u16::MAX).min(
        area.width
            .saturating_sub(u16::try_from(left.width().min(16)).unwrap_or(16)),
    );
    let [l, r] = Layout::horizontal([Constraint::Fill(1), Constraint::Length(right_w)]).areas(area);
    Paragraph::new(left).render_into(buf, l);
    Paragraph::new(right.alignment(Alignment::Right)).render_into(buf, r);
}

/// Returns a rectangle of at most `w`×`h` centred in `area`.
fn centred(area: Rect, w: u16, h: u16) -> Rect {
    let w = w.min(area.width);
    let h = h.min(area.height);
    Rect {
        x: area.x + (area.width - w) / 2,
        y: area.y + (area.height - h) / 2,
        width: w,
        height: h,
    }
}

/// The keys, as `?` lists them: (keys, what they do), by pane.
pub const KEYS: &[(&str, &str)] = &[
    ("Tab S-Tab", "next / previous pane"),
    ("↑↓ j k", "move; PgUp PgDn Home End"),
    ("f F", "task filter: next / previous"),
    ("p", "pause / resume dispatch"),
    ("H", "hand the lead role to an agent"),
    ("? Esc", "this help / close"),
    ("q C-c", "quit (the daemon keeps running)"),
    ("", "Agents pane:"),
    ("Enter o", "peek at the agent's screen"),
    ("m M", "send it a message (verified; M: even if busy)"),
    ("t", "jump to its tmux window"),
    ("", "Tasks pane:"),
    ("Enter", "task details"),
    ("r", "reassign to another agent"),
    ("b", "block (asks why)"),
    ("c", "cancel (asks to confirm)"),
    ("u", "requeue / unblock"),
];

fn help(buf: &mut Buffer, area: Rect) {
    let h = u16::try_from(KEYS.len()).unwrap_or(20) + 2;
    let r = centred(area, 58, h);
    Clear.render_into(buf, r);
    let block = Block::bordered()
        .title(Line::from(" keys ").bold())
        .title_bottom(Line::from(" Esc close ").right_aligned());
    let lines: Vec<Line<'static>> = KEYS
        .iter()
        .map(|(k, what)| {
            if k.is_empty() {
                Line::styled(format!(" {what}"), head_style())
            } else {
                Line::from(vec![
                    Span::styled(format!(" {k:<10}"), Style::new().fg(Color::Yellow)),
                    Span::raw(*what),
                ])
            }
        })
        .collect();
    Paragraph::new(lines).block(block).render_into(buf, r);
}

fn peek(buf: &mut Buffer, area: Rect, p: &Peek, snap: &Snapshot, clock: &Clock) {
    // Between the header and the footer, which stay in view.
    let r = Rect {
        y: area.y + 1,
        height: area.height.saturating_sub(2),
        ..area
    };
    Clear.render_into(buf, r);
    let state = snap
        .agents
        .iter()
        .find(|a| a.name == p.agent)
        .map(|a| agent_state(a, clock.now_ms))
        .unwrap_or_default();
    let block = Block::bordered()
        .border_style(Style::new().fg(Color::Blue))
        .title(Line::from(vec![
            Span::styled(
                format!(" {} ", p.agent),
                Style::new().add_modifier(Modifier::BOLD),
            ),
            Span::styled(format!("· {state} · read-only "), dim()),
        ]))
        .title_bottom(Line::from(" Esc close · m message · t jump to window ").right_aligned());
    let inner = block.inner(r);
    block.render_into(buf, r);
    if let Some(e) = &p.error {
        Paragraph::new(Line::styled(format!(" {e}"), Style::new().fg(Color::Red)))
            .render_into(buf, inner);
        return;
    }
    // Show the bottom of the screen, where the agent's prompt and status are.
    let lines: Vec<&str> = p.screen.trim_end().lines().collect();
    let start = lines.len().saturating_sub(usize::from(inner.height));
    let text: Vec<Line<'static>> = lines[start..]
        .iter()
        .map(|l| Line::raw((*l).to_owned()))
        .collect();
    Paragraph::new(text).render_into(buf, inner);
}

fn detail(buf: &mut Buffer, area: Rect, t: &Task, clock: &Clock) {
    let block = Block::bordered()
        .title(Line::from(format!(" {} ", t.id)).bold())
        .title_bottom(Line::from(" Esc close · r reassign · b block · c cancel ").right_aligned());
    let field = |k: &str, v: String| {
        Line::from(vec![
            Span::styled(format!("{k:<9}"), head_style()),
            Span::raw(v),
        ])
    };
    let list = |v: Vec<String>| {
        if v.is_empty() {
            "-".to_owned()
        } else {
            v.join(", ")
        }
    };
    let mut lines = vec![
        Line::from(t.title.clone()).bold(),
        field(
            "status",
            format!(
                "{} · {} · {} old",
                t.status,
                t.priority,
                age(clock.now_ms - t.created_ms)
            ),
        ),
        field("agent", t.assignee.clone().unwrap_or_else(|| "-".into())),
        field("attempts", t.attempts.to_string()),
        field("skills", list(t.skills.clone())),
        field(
            "after",
            list(t.deps.iter().map(ToString::to_string).collect()),
        ),
    ];
    if let Some(reason) = &t.blocked_reason {
        lines.push(field("blocked", reason.clone()));
    }
    for n in &t.notes {
        lines.push(field("note", n.clone()));
    }
    if !t.body.trim().is_empty() {
        lines.push(Line::raw(""));
        lines.extend(t.body.lines().map(|l| Line::raw(l.to_owned())));
    }
    let w = area.width.min(76);
    let inner_w = usize::from(w.saturating_sub(2)).max(1);
    let rows: usize = lines
        .iter()
        .map(|l| l.width().div_ceil(inner_w).max(1))
        .sum();
    let h = u16::try_from(rows + 2)
        .unwrap_or(u16::MAX)
        .min(area.height.saturating_sub(2));
    let para = Paragraph::new(Text::from(lines))
        .wrap(Wrap { trim: false })
        .block(block);
    let r = centred(area, w, h);
    Clear.render_into(buf, r);
    para.render_into(buf, r);
}

fn prompt(buf: &mut Buffer, area: Rect, p: &Prompt) {
    let choices = u16::try_from(p.choices.len()).unwrap_or(10).min(12);
    let h = if p.choices.is_empty() { 5 } else { choices + 4 };
    let w = area.width.saturating_sub(4).min(72);
    let r = centred(area, w, h);
    Clear.render_into(buf, r);
    let hint = match (&p.ask, p.choices.is_empty()) {
        (Ask::Cancel(_), _) => " y yes · n no ",
        (_, false) => " ↑↓ choose · Enter ok · Esc cancel ",
        (_, true) => " Enter ok · Esc cancel ",
    };
    let block = Block::bordered()
        .border_style(Style::new().fg(Color::Yellow))
        .title(Line::from(format!(" {} ", p.title)).bold())
        .title_bottom(Line::from(hint).right_aligned());
    let mut lines = vec![Line::raw(format!(" {}", p.label))];
    if p.choices.is_empty() {
        if !matches!(p.ask, Ask::Cancel(_)) {
            lines.push(Line::from(vec![
                Span::raw(" > "),
                Span::raw(p.input.clone()),
                Span::styled("█", Style::new().add_modifier(Modifier::SLOW_BLINK)),
            ]));
        }
    } else {
        let top = p
            .selected
            .saturating_sub(usize::from(choices).saturating_sub(1));
        for (i, c) in p
            .choices
            .iter()
            .enumerate()
            .skip(top)
            .take(usize::from(choices))
        {
            let sel = i == p.selected;
            lines.push(Line::styled(
                format!(" {} {c}", if sel { "›" } else { " " }),
                if sel { selected_style() } else { Style::new() },
            ));
        }
    }
    Paragraph::new(lines).block(block).render_into(buf, r);
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
