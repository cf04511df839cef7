//! What is drawn over the panes: the list of keys, an agent's screen, a task's details and
//! a prompt.

use baton_core::task::Task;
use ratatui::buffer::Buffer;
use ratatui::layout::Rect;
use ratatui::style::Color;
use ratatui::style::Modifier;
use ratatui::style::Style;
use ratatui::style::Stylize;
use ratatui::text::Line;
use ratatui::text::Span;
use ratatui::text::Text;
use ratatui::widgets::Block;
use ratatui::widgets::Clear;
use ratatui::widgets::Paragraph;
use ratatui::widgets::Wrap;

use crate::tui::model::Snapshot;
use crate::tui::ui::Ask;
use crate::tui::ui::Peek;
use crate::tui::ui::Prompt;

use super::Clock;
use super::RenderInto;
use super::age;
use super::agents::agent_state;
use super::dim;
use super::head_style;
use super::selected_style;

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

pub(super) fn help(buf: &mut Buffer, area: Rect) {
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

pub(super) fn peek(buf: &mut Buffer, area: Rect, p: &Peek, snap: &Snapshot, clock: &Clock) {
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

pub(super) fn detail(buf: &mut Buffer, area: Rect, t: &Task, clock: &Clock) {
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

pub(super) fn prompt(buf: &mut Buffer, area: Rect, p: &Prompt) {
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
