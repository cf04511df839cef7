//! The whole dashboard drawn into ratatui's `TestBackend` and snapshotted as text (insta), for
//! fixed snapshots and a fixed clock; then the keys, on a real store in a scratch project.
//!
//! This file holds the fixtures; [`screens`] draws them, [`keys`] drives a real [`App`].

mod keys;
mod screens;

use baton_core::task::Priority;
use baton_core::task::Status;
use baton_core::task::Task;
use baton_core::task::TaskId;
use ratatui::Terminal;
use ratatui::backend::TestBackend;

use crate::store::JournalEntry;
use crate::tui::model::AgentView;
use crate::tui::model::Counts;
use crate::tui::model::Filter;
use crate::tui::model::HandoffView;
use crate::tui::model::Quota;
use crate::tui::model::Snapshot;
use crate::tui::model::TaskPage;
use crate::tui::ui::Pane;
use crate::tui::ui::Ui;
use crate::tui::view;
use crate::tui::view::Clock;

/// 2026-03-02 14:00:00 UTC.
const NOW: i64 = 1_772_460_000_000;
const MIN: i64 = 60_000;

fn clock() -> Clock {
    Clock {
        now_ms: NOW,
        tz: jiff::tz::TimeZone::UTC,
    }
}

fn q(percent: f64) -> Option<Quota> {
    Some(Quota::new(percent, None))
}

fn agent(name: &str, cli: &str, state: &str, ago_ms: i64) -> AgentView {
    AgentView {
        name: name.into(),
        cli: cli.into(),
        state: state.into(),
        since_ms: (!state.is_empty()).then_some(NOW - ago_ms),
        pane: (!state.is_empty()).then(|| "%1".into()),
        ..AgentView::default()
    }
}

fn task(id: u32, title: &str, status: Status, priority: Priority, who: Option<&str>) -> Task {
    Task {
        id: TaskId(id),
        title: title.into(),
        body: String::new(),
        priority,
        skills: Vec::new(),
        deps: Vec::new(),
        assignee: who.map(Into::into),
        status,
        blocked_reason: (status == Status::Blocked).then(|| "needs an API key".into()),
        attempts: u32::from(status != Status::Pending),
        notes: Vec::new(),
        created_ms: NOW - i64::from(40 - id) * 3 * MIN,
        updated_ms: NOW - MIN,
        review_of: None,
    }
}

fn entry(
    seq: i64,
    ago_s: i64,
    actor: &str,
    action: &str,
    t: Option<u32>,
    target: &str,
    result: &str,
) -> JournalEntry {
    JournalEntry {
        seq,
        at_ms: NOW - ago_s * 1000,
        actor: actor.into(),
        action: action.into(),
        task: t.map(TaskId),
        target: target.into(),
        result: result.into(),
        detail: String::new(),
    }
}

fn counts(rows: &[Task]) -> Counts {
    let n = |s: Status| rows.iter().filter(|t| t.status == s).count() as u64;
    Counts::by_status(rows.len() as u64, n)
}

fn empty_project() -> Snapshot {
    let mut claude = agent("claude", "claude", "", 0);
    claude.lead = true;
    Snapshot {
        session: "greet".into(),
        agents: vec![claude, agent("codex", "codex", "", 0)],
        lead: Some("claude".into()),
        daemon: Some(false),
        ..Snapshot::default()
    }
}

fn busy_run() -> Snapshot {
    use Priority::*;
    use Status::*;
    let mut claude = agent("claude", "claude", "working", 95_000);
    claude.lead = true;
    claude.task = Some((TaskId(3), "Design the greeting tool".into()));
    claude.session = q(45.0);
    claude.weekly = q(62.0);
    let mut codex = agent("codex", "codex", "working", 12 * MIN);
    codex.task = Some((TaskId(5), "Write hello.sh with a --name option".into()));
    codex.session = q(78.0);
    codex.weekly = q(40.0);
    let mut amp = agent("amp", "amp", "idle", 8_000);
    amp.session = q(12.0);
    let mut gemini = agent("gemini", "gemini", "needs-input", 3 * MIN);
    gemini.session = q(55.0);
    gemini.weekly = q(20.0);
    let rows = vec![
        task(
            3,
            "Design the greeting tool",
            InProgress,
            High,
            Some("claude"),
        ),
        task(
            5,
            "Write hello.sh with a --name option",
            InProgress,
            Med,
            Some("codex"),
        ),
        task(
            7,
            "Review the French greeting",
            Blocked,
            Med,
            Some("gemini"),
        ),
        task(8, "Add shell tests", Pending, High, None),
        task(
            9,
            "Write the usage examples for the README and the man page",
            Pending,
            Med,
            None,
        ),
        task(10, "Package the tool", Pending, Low, None),
        task(
            1,
            "Write the docs for hello.sh",
            Completed,
            Med,
            Some("amp"),
        ),
        task(
            2,
            "Write the French greeting",
            Completed,
            Med,
            Some("codex"),
        ),
        task(
            4,
            "Fix: `sh check.sh` fails",
            Completed,
            High,
            Some("codex"),
        ),
        task(6, "Old idea", Cancelled, Low, None),
    ];
    let log = vec![
        entry(
            40,
            300,
            "baton",
            "task-start",
            Some(3),
            "claude",
            "PENDING → IN_PROGRESS",
        ),
        entry(
            41,
            250,
            "codex",
            "task-done",
            Some(2),
            "codex",
            "IN_PROGRESS → COMPLETED",
        ),
        entry(
            42,
            200,
            "baton",
            "verify-failed",
            None,
            "sh check.sh",
            "exit 1",
        ),
        entry(43, 180, "baton", "task-add", Some(4), "", "PENDING"),
        entry(
            44,
            120,
            "codex",
            "task-done",
            Some(4),
            "codex",
            "IN_PROGRESS → COMPLETED",
        ),
        entry(
            45,
            90,
            "gemini",
            "task-block",
            Some(7),
            "gemini",
            "IN_PROGRESS → BLOCKED",
        ),
        entry(
            46,
            60,
            "baton",
            "task-start",
            Some(5),
            "codex",
            "PENDING → IN_PROGRESS",
        ),
        entry(
            47,
            8,
            "amp",
            "task-done",
            Some(1),
            "amp",
            "IN_PROGRESS → COMPLETED",
        ),
    ];
    Snapshot {
        session: "greet".into(),
        agents: vec![claude, codex, amp, gemini],
        counts: counts(&rows),
        tasks: TaskPage {
            filter: Filter::All,
            offset: 0,
            total: rows.len(),
            rows,
        },
        log,
        lead: Some("claude".into()),
        handoff: None,
        paused: false,
        daemon: Some(true),
        merges: None,
    }
}

fn handoff_in_progress() -> Snapshot {
    let mut s = busy_run();
    s.agents[0].session = q(88.0);
    s.agents[0].weekly = q(70.0);
    s.handoff = Some(HandoffView {
        from: "claude".into(),
        to: "amp".into(),
        step: "prepare".into(),
        since_ms: NOW - 2 * MIN,
    });
    s.log.push(entry(
        48,
        120,
        "baton",
        "handoff-prepare",
        None,
        "amp",
        "claude at 88%",
    ));
    s
}

fn quota_alert() -> Snapshot {
    let mut s = busy_run();
    s.agents[1].session = q(95.0);
    s.agents[1].weekly = q(81.0);
    s.agents[0].weekly = q(93.5);
    s.paused = true;
    s
}

/// Blocks a task in a real store, as `actor`, for `reason` (the fixtures of the key tests and
/// of the loader's).
pub(super) fn block(store: &mut crate::store::Store, id: TaskId, actor: &str, reason: &str) {
    store
        .set_status(
            id,
            Status::Blocked,
            actor,
            crate::store::StatusChange {
                reason: Some(reason.into()),
                ..Default::default()
            },
        )
        .unwrap();
}

/// Draws a snapshot and returns the screen as text.
fn draw(snap: &Snapshot, ui: &Ui, w: u16, h: u16) -> (String, ratatui::buffer::Buffer) {
    let mut t = Terminal::new(TestBackend::new(w, h)).unwrap();
    t.draw(|f| view::render(f, snap, ui, &clock())).unwrap();
    let buf = t.backend().buffer().clone();
    (view::buffer_text(&buf), buf)
}

fn ui_on(focus: Pane) -> Ui {
    Ui {
        focus,
        ..Ui::default()
    }
}
