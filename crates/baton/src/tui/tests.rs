//! The whole dashboard drawn into ratatui's `TestBackend` and snapshotted as text (insta), for
//! fixed snapshots and a fixed clock; then the keys, on a real store in a scratch project.

use baton_core::task::Priority;
use baton_core::task::Status;
use baton_core::task::Task;
use baton_core::task::TaskId;
use crossterm::event::KeyCode;
use crossterm::event::KeyEvent;
use crossterm::event::KeyModifiers;
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::layout::Rect;
use ratatui::style::Color;
use ratatui::style::Modifier;

use super::app::App;
use super::model::AgentView;
use super::model::Counts;
use super::model::Filter;
use super::model::HandoffView;
use super::model::Quota;
use super::model::Snapshot;
use super::model::TaskPage;
use super::ui::Ask;
use super::ui::Overlay;
use super::ui::Pane;
use super::ui::Peek;
use super::ui::Prompt;
use super::ui::Ui;
use super::view;
use super::view::Clock;
use crate::store::JournalEntry;

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
    Counts {
        total: rows.len() as u64,
        done: n(Status::Completed),
        unreported: n(Status::Unreported),
        blocked: n(Status::Blocked),
        running: n(Status::InProgress),
        pending: n(Status::Pending),
        cancelled: n(Status::Cancelled),
    }
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
fn snapshot_80x24() {
    let (text, _) = draw(&busy_run(), &ui_on(Pane::Agents), 80, 24);
    for l in text.lines() {
        assert!(l.chars().count() <= 80);
    }
    // Everything that matters is still there at 80×24.
    for needle in [
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
    ] {
        assert!(text.contains(needle), "{needle} missing:\n{text}");
    }
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

// --- The keys, on a real store. ---

struct Scratch {
    dir: tempfile::TempDir,
}

impl Scratch {
    fn new() -> Scratch {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("baton.toml"),
            "[session]\nname = \"scratch\"\nsocket = \"baton-tui-unit-never-started\"\n\n\
             [[agent]]\nname = \"claude\"\ncli = \"claude\"\n\n\
             [[agent]]\nname = \"codex\"\ncli = \"codex\"\n\n\
             [[agent]]\nname = \"amp\"\ncli = \"amp\"\n\n\
             [lead]\nchain = [\"claude\", \"amp\"]\n",
        )
        .unwrap();
        let s = Scratch { dir };
        let mut store = s.project().store().unwrap();
        let tasks: Vec<baton_core::task::NewTask> = (1..=30)
            .map(|i| baton_core::task::NewTask {
                title: format!("task number {i}"),
                ..Default::default()
            })
            .collect();
        store.add_tasks(&tasks, "user").unwrap();
        let start = |who: &str| crate::store::StatusChange {
            assignee: Some(who.into()),
            ..Default::default()
        };
        store
            .set_status(TaskId(1), Status::InProgress, "baton", start("claude"))
            .unwrap();
        store
            .set_status(
                TaskId(2),
                Status::Blocked,
                "codex",
                crate::store::StatusChange {
                    reason: Some("no credits".into()),
                    ..Default::default()
                },
            )
            .unwrap();
        store
            .set_agent_states(&[crate::store::AgentRow {
                name: "claude".into(),
                cli: "claude".into(),
                state: "working".into(),
                pane: Some("%1".into()),
                since_ms: crate::store::now_ms(),
            }])
            .unwrap();
        store
            .record_quota("claude", "session-5h", 45.0, None, "test")
            .unwrap();
        store
            .record_quota("claude", "weekly", 62.0, None, "test")
            .unwrap();
        s
    }

    fn project(&self) -> crate::project::Project {
        crate::project::Project::load(self.dir.path()).unwrap()
    }

    fn app(&self, w: u16, h: u16) -> App {
        App::new(self.project(), Rect::new(0, 0, w, h)).unwrap()
    }

    fn store(&self) -> crate::store::Store {
        self.project().store().unwrap()
    }
}

fn key(app: &mut App, code: KeyCode) {
    app.on_key(KeyEvent::new(code, KeyModifiers::NONE)).unwrap();
}

fn keys(app: &mut App, text: &str) {
    for c in text.chars() {
        key(app, KeyCode::Char(c));
    }
}

fn screen(app: &App, w: u16, h: u16) -> String {
    let mut t = Terminal::new(TestBackend::new(w, h)).unwrap();
    t.draw(|f| app.draw(f, &clock())).unwrap();
    view::buffer_text(t.backend().buffer())
}

#[test]
fn the_store_feeds_the_dashboard() {
    let s = Scratch::new();
    let app = s.app(100, 30);
    let text = screen(&app, 100, 30);
    assert!(text.contains("usage: 45%/62%"), "{text}");
    assert!(text.contains("done 0/30"), "{text}");
    assert!(text.contains("blocked 1"), "{text}");
    assert!(text.contains("★claude"), "{text}");
    assert!(
        text.contains("T-001 task number 1"),
        "the current task: {text}"
    );
    assert!(text.contains("no credits"), "the block reason: {text}");
    assert!(text.contains("task-block"), "the log: {text}");
    assert_eq!(app.snap.daemon, Some(false));
}

/// The dashboard shows each window's winning reading (the newest data: a notice still on
/// screen, read again after the hook's 100 %, does not replace it) and a window whose reset
/// time has passed as reset, not its old 100 %.
#[test]
fn the_dashboard_shows_the_newest_data_and_reset_windows() {
    use crate::store::QuotaData;
    let s = Scratch::new();
    let mut store = s.store();
    let now = crate::store::now_ms();
    let reset = Some(now + 3_600_000);
    let screen = |store: &mut crate::store::Store, at: i64| {
        store
            .record_quota_data(
                "amp",
                "session-5h",
                90.0,
                reset,
                "screen",
                QuotaData::Screen,
                at,
            )
            .unwrap()
    };
    assert!(screen(&mut store, now - 120_000));
    store
        .record_quota_data(
            "amp",
            "session-5h",
            100.0,
            reset,
            "claude-statusline",
            QuotaData::At(now - 60_000),
            now - 60_000,
        )
        .unwrap();
    assert!(!screen(&mut store, now), "the same notice is old data");
    store
        .record_quota(
            "codex",
            "session-5h",
            100.0,
            Some(now - 60_000),
            "codex-rollout",
        )
        .unwrap();
    let app = s.app(120, 30);
    let view = |name: &str| app.snap.agents.iter().find(|a| a.name == name).unwrap();
    assert_eq!(view("amp").session.unwrap().percent, 100.0);
    assert_eq!(view("codex").session.unwrap().percent, 0.0);
    let text = screen_text(&app);
    let line = |name: &str| {
        text.lines()
            .find(|l| l.contains(&format!(" {name} ")))
            .unwrap_or_else(|| panic!("{name}: {text}"))
            .to_owned()
    };
    assert!(line("amp").contains("100%"), "{text}");
    assert!(line("codex").contains("reset"), "{text}");
    assert!(!line("codex").contains("100%"), "{text}");
}

fn screen_text(app: &App) -> String {
    screen(app, 120, 30)
}

#[test]
fn keys_filter_scroll_and_act_on_tasks() {
    let s = Scratch::new();
    let mut app = s.app(100, 30);
    key(&mut app, KeyCode::Tab);
    assert_eq!(app.ui.focus, Pane::Tasks);
    // Filter to BLOCKED: all → open → PENDING → IN_PROGRESS → BLOCKED.
    keys(&mut app, "ffff");
    assert_eq!(app.ui.filter, Filter::Only(Status::Blocked));
    let text = screen(&app, 100, 30);
    assert!(text.contains("filter BLOCKED · 1–1 of 1"), "{text}");
    assert!(!text.contains("task number 3 "), "{text}");
    keys(&mut app, "FFFF");
    assert_eq!(app.ui.filter, Filter::All);
    // Scrolling far down reads another page.
    key(&mut app, KeyCode::End);
    assert_eq!(app.ui.task_sel, 29);
    assert!(app.snap.tasks.offset > 0);
    assert!(screen(&app, 100, 30).contains("› T-030"));
    key(&mut app, KeyCode::Home);
    // The first rows: T-001 (IN_PROGRESS), T-002 (BLOCKED), T-003…
    key(&mut app, KeyCode::Down);
    key(&mut app, KeyCode::Down);
    assert_eq!(app.snap.tasks.rows[2].id, TaskId(3));
    // Block T-003 with a reason.
    key(&mut app, KeyCode::Char('b'));
    assert!(matches!(app.ui.overlay, Overlay::Prompt(_)));
    keys(&mut app, "waiting for CI");
    key(&mut app, KeyCode::Enter);
    let t = s.store().task(TaskId(3)).unwrap();
    assert_eq!(t.status, Status::Blocked);
    assert_eq!(t.blocked_reason.as_deref(), Some("waiting for CI"));
    assert!(app.refresh().unwrap(), "its own change is read back");
    // The selection follows T-003 to its new place in the queue.
    assert_eq!(
        app.snap.tasks.rows[app.ui.task_sel - app.snap.tasks.offset].id,
        TaskId(3)
    );
    // An empty reason changes nothing.
    key(&mut app, KeyCode::Char('u'));
    assert_eq!(s.store().task(TaskId(3)).unwrap().status, Status::Pending);
    app.refresh().unwrap();
    key(&mut app, KeyCode::Char('b'));
    key(&mut app, KeyCode::Enter);
    assert!(app.ui.message.as_ref().unwrap().error);
    assert_eq!(s.store().task(TaskId(3)).unwrap().status, Status::Pending);
    // Cancel asks first; n keeps it.
    key(&mut app, KeyCode::Char('c'));
    key(&mut app, KeyCode::Char('n'));
    assert_eq!(s.store().task(TaskId(3)).unwrap().status, Status::Pending);
    key(&mut app, KeyCode::Char('c'));
    key(&mut app, KeyCode::Char('y'));
    assert_eq!(s.store().task(TaskId(3)).unwrap().status, Status::Cancelled);
    app.refresh().unwrap();
    // Reassign T-001 (IN_PROGRESS, claude) to amp: type "a" to pick it.
    key(&mut app, KeyCode::Home);
    key(&mut app, KeyCode::Char('r'));
    let Overlay::Prompt(p) = &app.ui.overlay else {
        panic!("no chooser")
    };
    assert_eq!(p.choices, ["codex", "amp"]);
    key(&mut app, KeyCode::Char('a'));
    key(&mut app, KeyCode::Enter);
    let t = s.store().task(TaskId(1)).unwrap();
    assert_eq!(
        (t.status, t.assignee.as_deref()),
        (Status::Pending, Some("amp"))
    );
    let journal = s.store().journal_since(0, 1000).unwrap();
    let mine: Vec<&str> = journal
        .iter()
        .filter(|e| e.actor == "watch")
        .map(|e| e.action.as_str())
        .collect();
    assert_eq!(
        mine,
        ["task-block", "task-requeue", "task-cancel", "task-reassign"]
    );
    assert!(
        std::fs::read_to_string(s.dir.path().join("ORCHESTRATION_LOG.md"))
            .unwrap()
            .contains("| watch | task-reassign |")
    );
}

#[test]
fn keys_pause_dispatch_and_request_a_handoff() {
    let s = Scratch::new();
    let mut app = s.app(100, 30);
    key(&mut app, KeyCode::Char('p'));
    assert_eq!(
        s.store().meta("dispatch_paused").unwrap().as_deref(),
        Some("1")
    );
    app.refresh().unwrap();
    assert!(app.snap.paused);
    assert!(screen(&app, 100, 30).contains("dispatch PAUSED"));
    key(&mut app, KeyCode::Char('p'));
    assert_eq!(
        s.store().meta("dispatch_paused").unwrap().as_deref(),
        Some("0")
    );
    // The handoff chooser offers the chain's next first.
    key(&mut app, KeyCode::Char('H'));
    let Overlay::Prompt(p) = &app.ui.overlay else {
        panic!("no chooser")
    };
    assert_eq!(p.choices, ["amp", "codex"]);
    key(&mut app, KeyCode::Enter);
    app.refresh().unwrap();
    let h = app.snap.handoff.clone().expect("a handoff under way");
    assert_eq!(
        (h.from.as_str(), h.to.as_str(), h.step.as_str()),
        ("claude", "amp", "request")
    );
    let actions: Vec<(String, String)> = s
        .store()
        .journal_since(0, 1000)
        .unwrap()
        .into_iter()
        .filter(|e| e.actor == "watch")
        .map(|e| (e.action, e.target))
        .collect();
    assert_eq!(
        actions,
        [
            ("dispatch-pause".into(), String::new()),
            ("dispatch-resume".into(), String::new()),
            ("handoff-request".into(), "amp".into())
        ]
    );
}

#[test]
fn help_opens_and_closes_and_q_quits() {
    let s = Scratch::new();
    let mut app = s.app(80, 24);
    key(&mut app, KeyCode::Char('?'));
    assert!(screen(&app, 80, 24).contains("hand the lead role to an agent"));
    // q closes the overlay first, then quits.
    key(&mut app, KeyCode::Char('q'));
    assert_eq!(app.ui.overlay, Overlay::None);
    assert!(!app.quit);
    key(&mut app, KeyCode::Char('q'));
    assert!(app.quit);
    let mut app = s.app(80, 24);
    app.on_key(KeyEvent::new(KeyCode::Char('c'), KeyModifiers::CONTROL))
        .unwrap();
    assert!(app.quit);
}

#[test]
fn nothing_is_read_again_while_nothing_changes() {
    let s = Scratch::new();
    let mut app = s.app(80, 24);
    assert!(!app.refresh().unwrap());
    // Another process commits: the next poll sees it.
    let mut other = s.store();
    other
        .set_status(TaskId(5), Status::Cancelled, "user", Default::default())
        .unwrap();
    assert!(app.refresh().unwrap());
    assert_eq!(app.snap.counts.cancelled, 1);
    assert!(!app.refresh().unwrap());
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
    for needle in ["HANDOFF claude → amp", "PAUSED"] {
        assert!(header.contains(needle), "{needle} missing: {header:?}");
    }
    for needle in [
        "88%/70%",
        "done 3/10",
        "blocked 1",
        "run 2",
        "pend 3",
        "merge 1",
        "12 queued",
        "PAUSED",
    ] {
        assert!(footer.contains(needle), "{needle} missing: {footer:?}");
    }
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
