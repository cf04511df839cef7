//! The header and the footer: parts of a line, each with a short form and a weight, fitted
//! into the terminal's width.

use ratatui::buffer::Buffer;
use ratatui::layout::Alignment;
use ratatui::layout::Constraint;
use ratatui::layout::Layout;
use ratatui::layout::Rect;
use ratatui::style::Color;
use ratatui::style::Modifier;
use ratatui::style::Style;
use ratatui::text::Line;
use ratatui::text::Span;
use ratatui::widgets::Paragraph;

use crate::tui::model::Snapshot;
use crate::tui::model::band_word;
use crate::tui::model::default_band;
use crate::tui::ui::Ui;

use super::Clock;
use super::RenderInto;
use super::age;
use super::band_style;
use super::dim;

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

pub(super) fn header(buf: &mut Buffer, area: Rect, snap: &Snapshot, clock: &Clock) {
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

fn percent(p: Option<f64>) -> Span<'static> {
    match p {
        Some(p) => Span::styled(
            format!("{p:.0}%"),
            band_style(default_band(p)).remove_modifier(Modifier::REVERSED),
        ),
        None => Span::raw("?"),
    }
}

pub(super) fn footer(buf: &mut Buffer, area: Rect, snap: &Snapshot, ui: &Ui, now_ms: i64) {
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
