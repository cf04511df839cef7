//! The agents pane: one row per agent with its state, task and quota bars.

use ratatui::buffer::Buffer;
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

use baton_core::AgentState;
use baton_core::vocab::AgentStatus;

use crate::tui::model::AgentView;
use crate::tui::model::Quota;
use crate::tui::model::Snapshot;
use crate::tui::model::band_word;
use crate::tui::ui::Overlay;
use crate::tui::ui::Pane;
use crate::tui::ui::Ui;

use super::Clock;
use super::RenderInto;
use super::age;
use super::band_style;
use super::dim;
use super::head_style;
use super::marked_row;
use super::pane_block;
use super::state_style;
use super::table;
use super::title_style;

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

pub(super) fn agent_state(a: &AgentView, now_ms: i64) -> String {
    match (a.state.as_str(), a.since_ms) {
        ("", _) => "not seen".to_owned(),
        (s, Some(since)) => format!("{s} {}", age(now_ms - since)),
        (s, None) => s.to_owned(),
    }
}

pub(super) fn agents_pane(buf: &mut Buffer, area: Rect, snap: &Snapshot, ui: &Ui, clock: &Clock) {
    let focused = ui.focus == Pane::Agents && ui.overlay == Overlay::None;
    let working = snap
        .agents
        .iter()
        .filter(|a| a.state == AgentStatus::Screen(AgentState::Working))
        .count();
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
    // `cli@host` for an agent on another host.
    let cli_of = |a: &AgentView| match &a.host {
        Some(h) => format!("{}@{h}", a.cli),
        None => a.cli.clone(),
    };
    let cli_w = snap
        .agents
        .iter()
        .map(|a| cli_of(a).chars().count())
        .max()
        .unwrap_or(3)
        .clamp(3, 18);
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
        marked_row(
            sel,
            vec![
                Cell::from(Span::styled(
                    name,
                    if a.lead {
                        Style::new().add_modifier(Modifier::BOLD)
                    } else {
                        Style::new()
                    },
                )),
                Cell::from(cli_of(a)),
                Cell::from(Span::styled(state.clone(), state_style(&a.state))),
                Cell::from(task),
                Cell::from(quota_cell(a.session, bar_width)),
                Cell::from(weekly_cell(a.weekly)),
            ],
        )
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
    table(table_rows, widths, head, buf, inner);
}
