//! The keys, on a real store in a scratch project: filters, scrolling, task actions, the
//! pause, a handoff request, and reading again only on a change.

use baton_core::task::Status;
use baton_core::task::TaskId;
use crossterm::event::KeyCode;
use crossterm::event::KeyEvent;
use crossterm::event::KeyModifiers;
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::layout::Rect;

use crate::tui::app::App;
use crate::tui::model::Filter;
use crate::tui::ui::Overlay;
use crate::tui::ui::Pane;
use crate::tui::view;

use super::block;
use super::clock;

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
        block(&mut store, TaskId(2), "codex", "no credits");
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
            .record_quota(&quota("claude", "session-5h", 45.0, None, "test"))
            .unwrap();
        store
            .record_quota(&quota("claude", "weekly", 62.0, None, "test"))
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
                &quota("amp", "session-5h", 90.0, reset, "screen"),
                QuotaData::Screen,
                at,
            )
            .unwrap()
    };
    assert!(screen(&mut store, now - 120_000));
    store
        .record_quota_data(
            &quota("amp", "session-5h", 100.0, reset, "claude-statusline"),
            QuotaData::At(now - 60_000),
            now - 60_000,
        )
        .unwrap();
    assert!(!screen(&mut store, now), "the same notice is old data");
    store
        .record_quota(&quota(
            "codex",
            "session-5h",
            100.0,
            Some(now - 60_000),
            "codex-rollout",
        ))
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

/// A quota reading to record.
fn quota<'a>(
    agent: &'a str,
    window: &'a str,
    used_percent: f64,
    resets_at_ms: Option<i64>,
    source: &'a str,
) -> crate::store::QuotaSample<'a> {
    crate::store::QuotaSample {
        agent,
        window,
        used_percent,
        resets_at_ms,
        source,
    }
}
