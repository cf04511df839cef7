//! The actions carried out, against a fake tmux that records calls and returns scripted
//! screens, and a real store in a temporary directory.

use std::cell::Cell;
use std::cell::RefCell;
use std::collections::BTreeSet;
use std::collections::VecDeque;
use std::rc::Rc;

use baton_core::AgentState;
use baton_core::Detection;
use baton_core::engine::Action;
use baton_core::engine::Event;
use baton_core::engine::Key;
use baton_core::task::NewTask;
use baton_core::task::Status;
use baton_core::task::TaskId;
use baton_tmux::PaneInfo;
use baton_tmux::TmuxError;
use baton_tmux::WindowSpec;

use super::Shell;
use super::tmux::TmuxOps;
use crate::error::CliResult;
use crate::project::Project;
use crate::store::JournalEntry;
use crate::windows::WindowOps;

/// A call the daemon made to tmux.
#[derive(Clone, Debug, PartialEq)]
enum Call {
    Paste { pane: String, text: String },
    Key { pane: String, key: String },
    StartSession { session: String },
    NewWindow { name: String, command: String },
    Respawn { pane: String, name: String },
}

/// The fake server's state, shared between the shell and the test.
#[derive(Default)]
struct Server {
    calls: RefCell<Vec<Call>>,
    /// The session's panes (none: no session).
    panes: RefCell<Vec<PaneInfo>>,
    /// The screen each pane shows.
    screens: RefCell<std::collections::BTreeMap<String, String>>,
    /// Pastes fail with this message.
    paste_error: RefCell<Option<String>>,
    next_pane: Cell<u32>,
}

impl Server {
    fn calls(&self) -> Vec<Call> {
        self.calls.borrow().clone()
    }

    fn pastes(&self) -> Vec<String> {
        self.calls()
            .into_iter()
            .filter_map(|c| match c {
                Call::Paste { text, .. } => Some(text),
                _ => None,
            })
            .collect()
    }

    fn add_pane(&self, name: &str, dead: bool) -> PaneInfo {
        let n = self.next_pane.get() + 1;
        self.next_pane.set(n);
        let p = PaneInfo {
            pane_id: format!("%{n}"),
            window_id: format!("@{n}"),
            window_index: n,
            window_name: name.to_owned(),
            session: "s".into(),
            pid: 0,
            current_command: String::new(),
            dead,
            dead_status: None,
            width: 80,
            height: 24,
            cwd: std::path::PathBuf::new(),
        };
        self.panes.borrow_mut().push(p.clone());
        p
    }
}

struct FakeTmux(Rc<Server>);

impl WindowOps for FakeTmux {
    fn has_session(&self, _session: &str) -> Result<bool, TmuxError> {
        Ok(!self.0.panes.borrow().is_empty())
    }

    fn session_panes(&self, _session: &str) -> Result<Vec<PaneInfo>, TmuxError> {
        Ok(self.0.panes.borrow().clone())
    }

    fn start_session(&self, session: &str, console: &WindowSpec) -> Result<(), TmuxError> {
        self.0.calls.borrow_mut().push(Call::StartSession {
            session: session.to_owned(),
        });
        self.0.add_pane(&console.name, false);
        Ok(())
    }

    fn new_window(&self, _session: &str, window: &WindowSpec) -> Result<PaneInfo, TmuxError> {
        self.0.calls.borrow_mut().push(Call::NewWindow {
            name: window.name.clone(),
            command: window.command.clone().unwrap_or_default(),
        });
        Ok(self.0.add_pane(&window.name, false))
    }

    fn respawn_pane(&self, pane: &str, window: &WindowSpec) -> Result<(), TmuxError> {
        self.0.calls.borrow_mut().push(Call::Respawn {
            pane: pane.to_owned(),
            name: window.name.clone(),
        });
        for p in self.0.panes.borrow_mut().iter_mut() {
            if p.pane_id == pane {
                p.dead = false;
            }
        }
        Ok(())
    }
}

impl TmuxOps for FakeTmux {
    fn paste(&self, pane: &str, text: &str) -> Result<(), String> {
        if let Some(e) = self.0.paste_error.borrow().clone() {
            return Err(e);
        }
        self.0.calls.borrow_mut().push(Call::Paste {
            pane: pane.to_owned(),
            text: text.to_owned(),
        });
        Ok(())
    }

    fn send_key(&self, pane: &str, key: baton_tmux::Key) -> Result<(), TmuxError> {
        self.0.calls.borrow_mut().push(Call::Key {
            pane: pane.to_owned(),
            key: key.tmux_name().to_owned(),
        });
        Ok(())
    }

    fn press_keys(&self, pane: &str, keys: &[String]) -> CliResult<()> {
        for key in keys {
            self.0.calls.borrow_mut().push(Call::Key {
                pane: pane.to_owned(),
                key: key.clone(),
            });
        }
        Ok(())
    }

    fn capture(&self, pane: &str) -> Option<String> {
        self.0.screens.borrow().get(pane).cloned()
    }
}

/// A project of one agent `a` in a temporary directory, notices off.
fn project() -> (tempfile::TempDir, Project) {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(
        dir.path().join("baton.toml"),
        "[session]\nname = \"s\"\n\n[[agent]]\nname = \"a\"\ncli = \"claude\"\ncommand = \"claude-x\"\n\n[notify]\nbackend = \"off\"\n",
    )
    .unwrap();
    let project = Project::load(dir.path()).unwrap();
    (dir, project)
}

/// A shell on the project's store (a real SQLite file) and a fake tmux.
/// `project()` and a fake tmux server with no panes.
fn project_and_server() -> (tempfile::TempDir, Project, Rc<Server>) {
    let (dir, project) = project();
    (dir, project, Rc::new(Server::default()))
}

fn shell<'p>(project: &'p Project, server: &Rc<Server>) -> Shell<'p> {
    let store = project.store().unwrap();
    let engine = super::run::engine_for(project, false, None).unwrap();
    let (wake_tx, _wake_rx) = crossbeam_channel::unbounded();
    let mut shell = Shell::new(
        project,
        store,
        engine,
        Box::new(FakeTmux(Rc::clone(server))),
        wake_tx,
        false,
        None,
    );
    shell.refresh_panes();
    shell
}

fn idle(input: Option<&str>) -> Detection {
    Detection {
        state: AgentState::Idle,
        evidence: Vec::new(),
        input: input.map(str::to_owned),
        quota: Vec::new(),
    }
}

fn screen(state: AgentState, hash: u64) -> Event {
    Event::Screen {
        agent: "a".into(),
        detection: Detection {
            state,
            ..idle(None)
        },
        hash,
    }
}

/// The whole journal, oldest first.
fn journal(shell: &Shell<'_>) -> Vec<JournalEntry> {
    shell.store.journal_since(0, usize::MAX).unwrap()
}

fn has_entry(shell: &Shell<'_>, action: &str, result_part: &str) -> bool {
    journal(shell)
        .iter()
        .any(|j| j.action == action && j.result.contains(result_part))
}

/// Adds a task to the store and tells the engine, as a CLI command followed by a poke would.
fn add_task(shell: &mut Shell<'_>, title: &str) -> TaskId {
    let (tasks, _) = shell
        .store
        .add_tasks(
            &[NewTask {
                title: title.into(),
                ..NewTask::default()
            }],
            "user",
        )
        .unwrap();
    let id = tasks[0].id;
    shell.feed(Event::TaskAdded(tasks[0].clone())).unwrap();
    id
}

/// Carries out actions in order, as `feed` does for one step; returns the events queued.
fn act(shell: &mut Shell<'_>, actions: impl IntoIterator<Item = Action>) -> Vec<Event> {
    let mut queue = VecDeque::new();
    let mut skip = BTreeSet::new();
    let mut entries = Vec::new();
    for action in actions {
        shell
            .act(action, &mut queue, &mut skip, &mut entries)
            .unwrap();
    }
    queue.into()
}

fn paste(agent: &str, text: &str) -> Action {
    Action::Paste {
        agent: agent.into(),
        text: text.into(),
    }
}

/// A shell whose agent `a` runs in pane `%1` (the engine not told).
fn running<'p>(project: &'p Project, server: &Rc<Server>) -> Shell<'p> {
    server.add_pane("a", false);
    shell(project, server)
}

/// A shell whose agent `a` is up and idle in pane `%1`.
fn ready<'p>(project: &'p Project, server: &Rc<Server>) -> Shell<'p> {
    let mut shell = running(project, server);
    shell.feed(Event::AgentUp { agent: "a".into() }).unwrap();
    shell.feed(screen(AgentState::Idle, 1)).unwrap();
    shell
}

/// Delivers the prompt just pasted: the box shows it, Enter is pressed, the agent works.
fn deliver(shell: &mut Shell<'_>, hash: u64) {
    shell
        .feed(Event::Screen {
            agent: "a".into(),
            detection: idle(Some("[Pasted text #1 +12 lines]")),
            hash,
        })
        .unwrap();
    shell.feed(screen(AgentState::Working, hash + 1)).unwrap();
}

#[test]
fn a_task_prompt_is_pasted_submitted_and_journaled() {
    let (_dir, project, server) = project_and_server();
    let mut shell = ready(&project, &server);
    let id = add_task(&mut shell, "write the parser");

    // Committed to the store before tmux: in progress, for `a`, journaled by the daemon.
    let t = shell.store.task(id).unwrap();
    assert_eq!(t.status, Status::InProgress);
    assert_eq!(t.assignee.as_deref(), Some("a"));
    assert!(
        journal(&shell)
            .iter()
            .any(|j| j.actor == super::ACTOR && j.task == Some(id)),
        "{:?}",
        journal(&shell)
    );
    let pastes = server.pastes();
    assert_eq!(pastes.len(), 1, "{:?}", server.calls());
    assert!(pastes[0].contains("write the parser"), "{}", pastes[0]);
    assert!(matches!(&server.calls()[0], Call::Paste { pane, .. } if pane == "%1"));

    // The box shows the paste: Enter submits it.
    deliver(&mut shell, 10);
    assert_eq!(
        server.calls().last(),
        Some(&Call::Key {
            pane: "%1".into(),
            key: "Enter".into()
        }),
        "{:?}",
        server.calls()
    );
    // The orchestration log got the entries too.
    let log = std::fs::read_to_string(project.reports_dir().join("ORCHESTRATION_LOG.md"))
        .unwrap_or_default();
    assert!(log.contains(&id.to_string()), "{log}");
}

#[test]
fn a_turn_that_ends_unreported_gets_a_nudge() {
    let (_dir, project, server) = project_and_server();
    let mut shell = ready(&project, &server);
    let id = add_task(&mut shell, "write the parser");
    deliver(&mut shell, 10);
    shell.feed(screen(AgentState::Finished, 20)).unwrap();
    shell.feed(Event::TurnEnded { agent: "a".into() }).unwrap();
    let pastes = server.pastes();
    assert_eq!(pastes.len(), 2, "{:?}", server.calls());
    assert!(
        pastes[1].contains(&format!("{id} is not reported")),
        "{}",
        pastes[1]
    );
    // The task stays the agent's, in progress.
    assert_eq!(shell.store.task(id).unwrap().status, Status::InProgress);
}

/// Asserts that agent `a` has a pane again and that the journal says it was started again.
fn assert_restarted(shell: &Shell<'_>) {
    assert!(shell.panes.contains_key("a"));
    assert!(has_entry(shell, "agent-restart", "started again"));
}

#[test]
fn a_dead_agent_is_restarted_in_its_own_pane() {
    let (_dir, project, server) = project_and_server();
    let dead = server.add_pane("a", true);
    let mut shell = shell(&project, &server);
    // A dead pane is no agent's.
    assert!(shell.panes.is_empty());
    let queued = act(&mut shell, [Action::StartAgent { agent: "a".into() }]);
    assert_eq!(
        server.calls(),
        [Call::Respawn {
            pane: dead.pane_id.clone(),
            name: "a".into()
        }]
    );
    assert!(matches!(&queued[..], [Event::AgentUp { agent }] if agent == "a"));
    assert_eq!(
        shell.panes.get("a"),
        Some(&(dead.pane_id.clone(), dead.window_id.clone()))
    );
    assert!(shell.dirty.contains("a"));
    assert_restarted(&shell);
}

#[test]
fn a_lost_session_is_started_again_with_the_agents_windows() {
    let (_dir, project, server) = project_and_server();
    let mut shell = shell(&project, &server);
    act(&mut shell, [Action::StartAgent { agent: "a".into() }]);
    let calls = server.calls();
    assert_eq!(
        calls[0],
        Call::StartSession {
            session: "s".into()
        }
    );
    assert!(
        matches!(&calls[1], Call::NewWindow { name, command } if name == "a" && command.contains("exec claude-x --settings")),
        "{calls:?}"
    );
    assert_eq!(calls.len(), 2);
    assert_restarted(&shell);
}

#[test]
fn a_failed_paste_is_journaled() {
    let (_dir, project, server) = project_and_server();
    let mut shell = running(&project, &server);
    *server.paste_error.borrow_mut() = Some("pane %1 is not accepting text".into());
    act(&mut shell, [paste("a", "hello")]);
    assert!(server.pastes().is_empty());
    let entry = journal(&shell)
        .into_iter()
        .find(|j| j.action == "paste-failed")
        .expect("a paste-failed entry");
    assert_eq!(entry.target, "a");
    assert_eq!(entry.result, "pane %1 is not accepting text");
}

#[test]
fn keys_go_to_the_agents_pane_and_nothing_to_an_agent_without_one() {
    let (_dir, project, server) = project_and_server();
    let mut shell = running(&project, &server);
    let press = Action::Press {
        agent: "a".into(),
        key: Key::CtrlC,
    };
    act(&mut shell, [press, paste("nobody", "x")]);
    assert_eq!(
        server.calls(),
        [Call::Key {
            pane: "%1".into(),
            key: "C-c".into()
        }]
    );
}

#[test]
fn a_paste_after_an_assignment_the_store_refused_is_skipped() {
    let (_dir, project, server) = project_and_server();
    let mut shell = running(&project, &server);
    // No such task: the store refuses, the prompt that follows is not pasted.
    let assign = Action::Assign {
        task: TaskId(42),
        agent: "a".into(),
    };
    act(&mut shell, [assign, paste("a", "T-042")]);
    assert!(server.calls().is_empty(), "{:?}", server.calls());
}
