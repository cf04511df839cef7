//! The log pane: the journal's tail, newest at the bottom.

use jiff::tz::TimeZone;
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::Color;
use ratatui::style::Modifier;
use ratatui::style::Style;
use ratatui::text::Line;
use ratatui::text::Span;
use ratatui::widgets::Paragraph;

use baton_core::vocab::JournalAction;

use crate::store::JournalEntry;
use crate::tui::model::Snapshot;
use crate::tui::ui::Overlay;
use crate::tui::ui::Pane;
use crate::tui::ui::Ui;

use super::Clock;
use super::RenderInto;
use super::dim;
use super::pane_block;
use super::title_style;

fn action_style(action: &str) -> Style {
    match action.parse() {
        Ok(JournalAction::TaskDone) => Style::new().fg(Color::Green),
        Ok(
            JournalAction::TaskBlock | JournalAction::AgentDied | JournalAction::MemoryEditRejected,
        ) => Style::new().fg(Color::Red),
        Ok(JournalAction::TaskStart) => Style::new().fg(Color::Cyan),
        Ok(a) if a.is_handoff() => Style::new().fg(Color::Yellow).add_modifier(Modifier::BOLD),
        Ok(JournalAction::DispatchPause | JournalAction::DispatchResume) => {
            Style::new().fg(Color::Yellow)
        }
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

pub(super) fn log_pane(buf: &mut Buffer, area: Rect, snap: &Snapshot, ui: &Ui, clock: &Clock) {
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
