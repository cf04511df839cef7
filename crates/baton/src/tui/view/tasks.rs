//! The task queue pane: a page of the filtered queue.

use baton_core::task::Priority;
use ratatui::buffer::Buffer;
use ratatui::layout::Alignment;
use ratatui::layout::Constraint;
use ratatui::layout::Rect;
use ratatui::style::Color;
use ratatui::style::Modifier;
use ratatui::style::Style;
use ratatui::text::Line;
use ratatui::text::Span;
use ratatui::widgets::Cell;
use ratatui::widgets::Paragraph;
use ratatui::widgets::Row;

use crate::tui::model::Snapshot;
use crate::tui::ui::Overlay;
use crate::tui::ui::Pane;
use crate::tui::ui::Ui;

use super::Clock;
use super::RenderInto;
use super::age;
use super::dim;
use super::head_style;
use super::marked_row;
use super::pane_block;
use super::status_style;
use super::table;
use super::title_style;

fn priority_style(p: Priority) -> Style {
    match p {
        Priority::High => Style::new().fg(Color::LightRed),
        Priority::Med => Style::new(),
        Priority::Low => dim(),
    }
}

pub(super) fn tasks_pane(buf: &mut Buffer, area: Rect, snap: &Snapshot, ui: &Ui, clock: &Clock) {
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
        marked_row(
            sel,
            vec![
                Cell::from(t.id.to_string()),
                Cell::from(Line::from(title)),
                Cell::from(t.assignee.clone().unwrap_or_else(|| "-".to_owned())),
                Cell::from(Span::styled(
                    t.priority.as_str(),
                    priority_style(t.priority),
                )),
                Cell::from(Span::styled(t.status.as_str(), status_style(t.status))),
                Cell::from(
                    Line::from(age(clock.now_ms - t.created_ms)).alignment(Alignment::Right),
                ),
            ],
        )
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
    table(rows, widths, head, buf, inner);
}
