//! The engine's tests, one file per rule family, with a simulated clock; the shared helpers
//! (agents, tasks, screens, an engine whose agents are up) are here.

mod delivery;
mod dispatch;
mod lead;
mod merge;
mod quota;
mod recovery;
mod report_failed;
mod review;
mod waves;

use super::*;
use crate::detector::Detection;
use crate::profile::AgentState;
use crate::profile::Submit;
use crate::task::NewTask;
use crate::task::Priority;
use crate::task::Status;
use crate::task::Task;

fn submit() -> Submit {
    Submit::default()
}

fn agent(name: &str, skills: &[&str]) -> AgentSpec {
    AgentSpec {
        name: name.into(),
        skills: skills.iter().map(|s| s.to_string()).collect(),
        max_tasks: 1,
        submit: submit(),
        worktree: None,
        baton: None,
    }
}

/// Agents of these names, with no skills.
fn agents(names: &[&str]) -> Vec<AgentSpec> {
    names.iter().map(|name| agent(name, &[])).collect()
}

fn task(id: u32, prio: Priority, skills: &[&str], deps: &[u32]) -> Task {
    let new = NewTask {
        title: format!("task {id}"),
        priority: Some(prio),
        skills: skills.iter().map(|s| s.to_string()).collect(),
        deps: deps.iter().map(|d| TaskId(*d)).collect(),
        ..NewTask::default()
    };
    added_task(TaskId(id), new)
}

fn det(state: AgentState, input: Option<&str>) -> Detection {
    Detection {
        state,
        evidence: Vec::new(),
        input: input.map(str::to_owned),
        quota: Vec::new(),
    }
}

fn screen(agent: &str, state: AgentState, input: Option<&str>, hash: u64) -> Event {
    Event::Screen {
        agent: agent.into(),
        detection: det(state, input),
        hash,
    }
}

fn quota(agent: &str, window: &str, used: f64) -> Event {
    Event::Quota {
        agent: agent.into(),
        window: window.into(),
        used_percent: used,
        resets_at: None,
        burn_per_hour: None,
    }
}

/// What `pick` makes of each action it picks.
fn each<T>(actions: &[Action], pick: impl FnMut(&Action) -> Option<T>) -> Vec<T> {
    actions.iter().filter_map(pick).collect()
}

fn assigned(actions: &[Action]) -> Vec<(u32, String)> {
    each(actions, |a| match a {
        Action::Assign { task, agent } => Some((task.0, agent.clone())),
        _ => None,
    })
}

/// True when the actions requeue task `id`.
fn requeued(actions: &[Action], id: u32) -> bool {
    actions
        .iter()
        .any(|a| matches!(a, Action::Requeue { task: TaskId(t), .. } if *t == id))
}

/// The agent task `id` is assigned to; panics when it is unknown or unassigned.
fn assignee(e: &Engine, id: u32) -> String {
    e.task(TaskId(id)).unwrap().assignee.clone().unwrap()
}

/// An engine whose agents are up and idle.
fn engine(settings: Settings, agents: Vec<AgentSpec>) -> Engine {
    let names: Vec<String> = agents.iter().map(|a| a.name.clone()).collect();
    let mut e = Engine::new(settings, agents);
    for (i, n) in names.iter().enumerate() {
        e.step(0, Event::AgentUp { agent: n.clone() });
        e.step(0, screen(n, AgentState::Idle, None, 100 + i as u64));
    }
    e
}

/// Completes the delivery of the prompt an agent was just given (a task, a nudge, a takeover:
/// the box shows it as a paste placeholder).
fn deliver(e: &mut Engine, now: u64, agent: &str, hash: u64) -> Vec<Action> {
    let shown = Some("[Pasted text #1 +12 lines]");
    let a = e.step(now, screen(agent, AgentState::Idle, shown, hash));
    assert!(
        a.contains(&Action::Press {
            agent: agent.into(),
            key: Key::Enter
        }),
        "{a:?}"
    );
    e.step(now + 50, screen(agent, AgentState::Working, None, hash + 1))
}

/// An engine whose agent `a` took T-001 (no skills, no dependencies, of this priority) and
/// is working on it: the prompt was delivered at 10 ms.
fn working_on_t1(settings: Settings, agents: Vec<AgentSpec>, prio: Priority) -> Engine {
    let mut e = engine(settings, agents);
    e.step(1, Event::TaskAdded(task(1, prio, &[], &[])));
    deliver(&mut e, 10, "a", 500);
    e
}

/// An engine with idle agents a and b where one of them (the holder) took T-001 (of medium
/// priority) and is working on it: the engine, the holder and the other agent.
fn one_of_two_working_on_t1() -> (Engine, String, &'static str) {
    let mut e = engine(Settings::default(), agents(&["a", "b"]));
    e.step(1, Event::TaskAdded(task(1, Priority::Med, &[], &[])));
    let holder = assignee(&e, 1);
    let other = if holder == "a" { "b" } else { "a" };
    deliver(&mut e, 10, &holder, 500);
    (e, holder, other)
}

/// Plays a change to task `id` made through the store (a person's or an agent's command).
fn change_task(e: &mut Engine, now: u64, id: u32, edit: impl FnOnce(&mut Task)) -> Vec<Action> {
    let mut t = e.task(TaskId(id)).unwrap().clone();
    edit(&mut t);
    e.step(now, Event::TaskChanged(t))
}

fn done(e: &mut Engine, now: u64, id: u32) -> Vec<Action> {
    change_task(e, now, id, |t| t.status = Status::Completed)
}

fn added(actions: &[Action]) -> Vec<NewTask> {
    each(actions, |a| match a {
        Action::AddTask { task, .. } => Some(task.clone()),
        _ => None,
    })
}

/// Plays the shell's part for an `AddTask`: the store gives it the next ID.
fn store_task(e: &mut Engine, now: u64, id: u32, new: &NewTask) -> Vec<Action> {
    e.step(now, Event::TaskAdded(added_task(TaskId(id), new.clone())))
}

fn notices(actions: &[Action], kind: &str) -> usize {
    actions
        .iter()
        .filter(|a| matches!(a, Action::Notify { kind: k, .. } if k == kind))
        .count()
}

/// The default settings with `change` made to them.
fn settings(change: impl FnOnce(&mut Settings)) -> Settings {
    let mut s = Settings::default();
    change(&mut s);
    s
}

fn lead_settings(chain: &[&str]) -> Settings {
    Settings {
        lead_chain: chain.iter().map(|s| s.to_string()).collect(),
        notes_deadline_ms: 5_000,
        ..Settings::default()
    }
}

/// An engine whose agents are the lead chain's, up and idle.
fn lead_engine(chain: &[&str]) -> Engine {
    engine(lead_settings(chain), agents(chain))
}

fn pasted_to(actions: &[Action], agent: &str) -> Vec<String> {
    each(actions, |a| match a {
        Action::Paste { agent: to, text } if to == agent => Some(text.clone()),
        _ => None,
    })
}

/// A turn's end as the daemon feeds it: the screen it read first (the turn over), then the
/// hook's event.
fn turn_end(e: &mut Engine, now: u64, agent: &str) -> Vec<Action> {
    let mut acts = e.step(
        now,
        screen(agent, AgentState::Finished, None, 7_000_000 + now),
    );
    acts.extend(e.step(
        now,
        Event::TurnEnded {
            agent: agent.into(),
        },
    ));
    acts
}

fn lead_actions(actions: &[Action]) -> Vec<String> {
    each(actions, |a| match a {
        Action::Lead { what, .. } => Some(what.to_string()),
        Action::WriteHandoff { from, to, .. } => Some(format!("write {from}->{to}")),
        _ => None,
    })
}
