//! The screens: fixed snapshots drawn at fixed sizes, with and without overlays and colour.

use baton_core::task::Status;
use baton_core::task::TaskId;
use ratatui::style::Color;
use ratatui::style::Modifier;

use crate::tui::model::Filter;
use crate::tui::model::Snapshot;
use crate::tui::model::TaskPage;
use crate::tui::ui::Ask;
use crate::tui::ui::Overlay;
use crate::tui::ui::Pane;
use crate::tui::ui::Peek;
use crate::tui::ui::Prompt;
use crate::tui::ui::Ui;
use crate::tui::view;

use super::MIN;
use super::NOW;
use super::agent;
use super::busy_run;
use super::draw;
use super::empty_project;
use super::handoff_in_progress;
use super::q;
use super::quota_alert;
use super::ui_on;

/// Asserts that `text` shows each of `needles`.
fn assert_shows(text: &str, needles: &[&str]) {
    for needle in needles {
        assert!(text.contains(needle), "{needle} missing: {text:?}");
    }
}

#[test]
fn snapshot_empty_project() {
    let (text, _) = draw(&empty_project(), &Ui::default(), 100, 24);
    insta::assert_snapshot!("empty_project", text);
}

#[test]
fn snapshot_busy_run() {
    let (text, _) = draw(&busy_run(), &ui_on(Pane::Tasks), 120, 32);
    insta::assert_snapshot!("busy_run", text);
}

#[test]
fn snapshot_handoff_in_progress() {
    let (text, buf) = draw(&handoff_in_progress(), &Ui::default(), 120, 32);
    assert!(text.contains("HANDOFF claude → amp: prepare 2m"), "{text}");
    // The handoff stands out in colour too.
    let x = text.lines().next().unwrap().find("HANDOFF").unwrap();
    let col = text.lines().next().unwrap()[..x].chars().count() as u16;
    assert_eq!(buf[(col, 0)].bg, Color::Yellow);
    insta::assert_snapshot!("handoff_in_progress", text);
}

#[test]
fn snapshot_quota_alert() {
    let (text, buf) = draw(&quota_alert(), &Ui::default(), 120, 32);
    assert!(text.contains("95% ALERT"), "{text}");
    assert!(text.contains("ALERT codex 95% 5h"), "{text}");
    // ALERT is red and reversed; readable without colour as the word.
    let (y, line) = text
        .lines()
        .enumerate()
        .find(|(_, l)| l.contains(" codex") && l.contains("95%"))
        .unwrap();
    let x = line[..line.find("ALERT").unwrap()].chars().count() as u16;
    let cell = &buf[(x, y as u16)];
    assert_eq!(cell.fg, Color::Red);
    assert!(cell.modifier.contains(Modifier::REVERSED));
    insta::assert_snapshot!("quota_alert", text);
}

#[test]
fn the_footer_shows_the_merge_queue_in_worktree_mode() {
    let (text, _) = draw(&busy_run(), &Ui::default(), 120, 32);
    assert!(!text.contains("merge "), "{text}");
    let snap = Snapshot {
        merges: Some((1, 3)),
        ..busy_run()
    };
    let (text, _) = draw(&snap, &Ui::default(), 120, 32);
    let footer = text.lines().last().unwrap();
    assert!(footer.contains("merge 1 running · 3 queued"), "{footer}");
}

#[test]
fn an_agent_on_another_host_shows_its_host() {
    let mut snap = busy_run();
    snap.agents[1].host = Some("gpu1".into());
    let (text, _) = draw(&snap, &Ui::default(), 120, 32);
    let cli = snap.agents[1].cli.clone();
    assert_shows(&text, &[&format!("{cli}@gpu1")]);
    // The others, on this machine, show their CLI alone.
    assert!(
        !text.contains(&format!("{}@", snap.agents[0].cli)),
        "{text}"
    );
}

#[test]
fn snapshot_80x24() {
    let (text, _) = draw(&busy_run(), &ui_on(Pane::Agents), 80, 24);
    for l in text.lines() {
        assert!(l.chars().count() <= 80);
    }
    // Everything that matters is still there at 80×24.
    assert_shows(
        &text,
        &[
            "Agents",
            "★claude",
            "working 1m",
            "T-003",
            "Tasks",
            "BLOCKED",
            "Log",
            "usage: 45%/62%",
            "done 3/10",
            "blocked 1",
        ],
    );
    insta::assert_snapshot!("narrow_80x24", text);
}

#[test]
fn snapshot_help_peek_prompt_and_detail() {
    let mut ui = Ui {
        overlay: Overlay::Help,
        ..Ui::default()
    };
    let (help, _) = draw(&busy_run(), &ui, 80, 24);
    insta::assert_snapshot!("help_80x24", help);
    ui.overlay = Overlay::Peek(Peek {
        agent: "codex".into(),
        screen: "╭────────────────────╮\n│ >_ OpenAI Codex    │\n╰────────────────────╯\n\n• Working (12s • esc to interrupt)\n\n› \n\n  100% context left\n\n\n".into(),
        error: None,
    });
    let (peek, _) = draw(&busy_run(), &ui, 80, 24);
    insta::assert_snapshot!("peek_80x24", peek);
    ui.overlay = Overlay::Prompt(Prompt {
        ask: Ask::Block(TaskId(8)),
        title: "Block T-008".into(),
        label: "Why is «Add shell tests» blocked?".into(),
        input: "waiting for the CI image".into(),
        choices: Vec::new(),
        selected: 0,
    });
    let (block, _) = draw(&busy_run(), &ui, 80, 24);
    insta::assert_snapshot!("block_prompt_80x24", block);
    let mut t = busy_run().tasks.rows[2].clone();
    t.body = "Check the accents.\nCompare with the English one.".into();
    t.notes = vec!["asked for a native speaker".into()];
    ui.overlay = Overlay::Detail(Box::new(t));
    let (detail, _) = draw(&busy_run(), &ui, 80, 24);
    insta::assert_snapshot!("detail_80x24", detail);
}

#[test]
fn a_filter_with_no_match_and_a_tiny_terminal_do_not_break() {
    let mut s = busy_run();
    s.tasks = TaskPage {
        filter: Filter::Only(Status::Cancelled),
        ..TaskPage::default()
    };
    let (text, _) = draw(&s, &Ui::default(), 80, 24);
    assert!(
        text.contains("no task matches the filter `CANCELLED`"),
        "{text}"
    );
    for (w, h) in [(1, 1), (20, 5), (40, 8), (200, 3)] {
        draw(&busy_run(), &Ui::default(), w, h);
    }
}

#[test]
fn ages_tick_over_on_time() {
    assert_eq!(view::age(59_999), "59s");
    assert_eq!(view::age(61_000), "1m");
    assert_eq!(view::age(3 * 3_600_000 + 5 * MIN), "3h05m");
    assert_eq!(view::age(50 * 3_600_000), "2d2h");
    let mut s = empty_project();
    s.agents[0] = agent("claude", "claude", "idle", 1_500);
    // 1.5 s shown as "1s": it changes at 2 s, half a second from now.
    assert_eq!(
        view::next_change_ms(&s, &Ui::default(), 10, NOW),
        Some(NOW + 500)
    );
    assert_eq!(
        view::next_change_ms(&empty_project(), &Ui::default(), 10, NOW),
        None
    );
}

#[test]
fn without_colour_the_words_remain() {
    let (before, mut buf) = draw(&quota_alert(), &Ui::default(), 120, 32);
    view::strip_colour(&mut buf);
    assert_eq!(view::buffer_text(&buf), before);
    let area = buf.area;
    for y in area.top()..area.bottom() {
        for x in area.left()..area.right() {
            assert_eq!(
                (buf[(x, y)].fg, buf[(x, y)].bg),
                (Color::Reset, Color::Reset)
            );
        }
    }
    // Bands still stand out by their word and, for ALERT, reverse video.
    assert!(before.contains("95% ALERT") && before.contains("45% ok"));
}

#[test]
fn at_80x24_a_handoff_and_a_pause_keep_the_counts_readable() {
    // The busiest header and footer: a handoff under way, dispatch paused, a quota alert,
    // the merge queue, and a message in the footer.
    let mut s = handoff_in_progress();
    s.paused = true;
    s.agents[1].session = q(95.0);
    s.merges = Some((1, 12));
    let ui = ui_on(Pane::Agents);
    let (text, _) = draw(&s, &ui, 80, 24);
    let header = text.lines().next().unwrap();
    let footer = text.lines().last().unwrap();
    for l in text.lines() {
        assert!(l.chars().count() <= 80, "{l}");
    }
    assert_shows(header, &["HANDOFF claude → amp", "PAUSED"]);
    assert_shows(
        footer,
        &[
            "88%/70%",
            "done 3/10",
            "blocked 1",
            "run 2",
            "pend 3",
            "merge 1",
            "12 queued",
            "PAUSED",
        ],
    );
    insta::assert_snapshot!("handoff_paused_80x24", text);
}

#[test]
fn unreported_work_is_counted_apart_in_the_footer() {
    let mut s = handoff_in_progress();
    s.counts.unreported = 2;
    let (text, _) = draw(&s, &ui_on(Pane::Agents), 120, 30);
    let footer = text.lines().last().unwrap();
    assert!(footer.contains("unreported 2"), "{footer:?}");
    // At 80 columns, with everything else going on, it stays (shortened).
    s.paused = true;
    s.merges = Some((1, 12));
    let (text, _) = draw(&s, &ui_on(Pane::Agents), 80, 24);
    let footer = text.lines().last().unwrap();
    assert!(footer.contains("unrep 2"), "{footer:?}");
    assert!(footer.contains("done 3/10"), "{footer:?}");
}
