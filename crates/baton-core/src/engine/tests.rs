//! One test per rule, with a simulated clock.

use super::*;

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
    }
}

fn task(id: u32, prio: Priority, skills: &[&str], deps: &[u32]) -> Task {
    Task {
        id: TaskId(id),
        title: format!("task {id}"),
        body: String::new(),
        priority: prio,
        skills: skills.iter().map(|s| s.to_string()).collect(),
        deps: deps.iter().map(|d| TaskId(*d)).collect(),
        assignee: None,
        status: Status::Pending,
        blocked_reason: None,
        attempts: 0,
        notes: Vec::new(),
        created_ms: 0,
        updated_ms: 0,
        review_of: None,
    }
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

fn assigned(actions: &[Action]) -> Vec<(u32, String)> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::Assign { task, agent } => Some((task.0, agent.clone())),
            _ => None,
        })
        .collect()
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

fn done(e: &mut Engine, now: u64, id: u32) -> Vec<Action> {
    let mut t = e.task(TaskId(id)).unwrap().clone();
    t.status = Status::Completed;
    e.step(now, Event::TaskChanged(t))
}

#[test]
fn every_idle_agent_gets_the_best_ready_task_at_once() {
    let mut e = engine(
        Settings::default(),
        vec![agent("a", &["rust"]), agent("b", &["docs"])],
    );
    e.step(1, Event::TaskAdded(task(1, Priority::Low, &[], &[])));
    let mut acts = Vec::new();
    for t in [
        task(2, Priority::High, &["docs"], &[]),
        task(3, Priority::High, &["rust"], &[1]),
    ] {
        acts = e.step(2, Event::TaskAdded(t));
    }
    // T-001 went to the first free agent when it arrived; T-002 (docs) waits for b if b took
    // T-001... check who holds what.
    let holders: Vec<_> = ["a", "b"]
        .iter()
        .map(|n| e.agent_tasks(n).to_vec())
        .collect();
    assert_eq!(
        holders.iter().map(Vec::len).sum::<usize>(),
        2,
        "{holders:?} {acts:?}"
    );
    assert!(
        e.task(TaskId(3)).unwrap().status == Status::Pending,
        "T-003 waits for T-001"
    );
}

#[test]
fn priority_then_age_then_skills() {
    let mut e = Engine::new(
        Settings::default(),
        vec![agent("a", &["rust"]), agent("b", &["docs"])],
    );
    for t in [
        task(1, Priority::Low, &[], &[]),
        task(2, Priority::High, &["docs"], &[]),
        task(3, Priority::High, &["rust"], &[]),
    ] {
        e.step(0, Event::TaskAdded(t));
    }
    let mut got = Vec::new();
    for (n, h) in [("a", 1), ("b", 2)] {
        e.step(0, Event::AgentUp { agent: n.into() });
        got.extend(assigned(&e.step(0, screen(n, AgentState::Idle, None, h))));
    }
    assert_eq!(got, vec![(3, "a".to_string()), (2, "b".to_string())]);
    assert_eq!(e.ready_tasks(), vec![TaskId(1)]);
}

#[test]
fn a_task_whose_skill_nobody_has_still_goes_to_someone() {
    let mut e = engine(Settings::default(), vec![agent("a", &["rust"])]);
    let acts = e.step(1, Event::TaskAdded(task(1, Priority::Med, &["cobol"], &[])));
    assert_eq!(assigned(&acts), vec![(1, "a".to_string())]);
}

#[test]
fn delivery_presses_enter_and_the_next_task_follows_completion_immediately() {
    let mut e = engine(Settings::default(), vec![agent("a", &[])]);
    e.step(1, Event::TaskAdded(task(1, Priority::Med, &[], &[])));
    e.step(1, Event::TaskAdded(task(2, Priority::Med, &[], &[])));
    assert_eq!(e.agent_tasks("a"), &[TaskId(1)]);
    let acts = deliver(&mut e, 10, "a", 500);
    assert!(
        acts.iter().any(
            |a| matches!(a, Action::Journal { what, .. } if what.starts_with("prompt delivered"))
        ),
        "{acts:?}"
    );
    let acts = done(&mut e, 5000, 1);
    assert_eq!(
        assigned(&acts),
        Vec::<(u32, String)>::new(),
        "the agent must show it is ready first"
    );
    let acts = e.step(5001, screen("a", AgentState::Finished, None, 900));
    assert_eq!(assigned(&acts), vec![(2, "a".to_string())]);
}

#[test]
fn a_swallowed_enter_is_pressed_again() {
    let mut e = engine(Settings::default(), vec![agent("a", &[])]);
    e.step(1, Event::TaskAdded(task(1, Priority::Med, &[], &[])));
    let a1 = e.step(10, screen("a", AgentState::Idle, Some("[TASK"), 7));
    assert!(a1.contains(&Action::Press {
        agent: "a".into(),
        key: Key::Enter
    }));
    assert!(
        e.step(300, screen("a", AgentState::Idle, Some("[TASK"), 7))
            .is_empty()
    );
    let a2 = e.step(700, Event::Tick);
    assert!(
        a2.contains(&Action::Press {
            agent: "a".into(),
            key: Key::Enter
        }),
        "{a2:?}"
    );
}

#[test]
fn failed_delivery_gets_ctrl_c_and_a_resend_then_the_task_moves_and_the_agent_restarts() {
    let mut e = engine(Settings::default(), vec![agent("a", &[]), agent("b", &[])]);
    e.step(0, Event::Pause(true));
    e.step(1, Event::TaskAdded(task(1, Priority::Med, &[], &[])));
    // Keep b busy on nothing: only a is free when dispatch resumes.
    e.step(2, screen("b", AgentState::Working, None, 42));
    let acts = e.step(3, Event::Pause(false));
    assert_eq!(assigned(&acts), vec![(1, "a".to_string())]);
    let mut all = Vec::new();
    let mut now = 3;
    while now < 40_000 {
        now += 500;
        all.extend(e.step(now, screen("a", AgentState::Unknown, None, 1)));
    }
    assert!(
        all.contains(&Action::Press {
            agent: "a".into(),
            key: Key::CtrlC
        }),
        "{all:?}"
    );
    assert!(requeued(&all, 1), "{all:?}");
    assert!(
        all.contains(&Action::StartAgent { agent: "a".into() }),
        "{all:?}"
    );
    // The task went to b once b was ready, never back to a.
    let acts = e.step(now + 1, screen("b", AgentState::Idle, None, 43));
    assert_eq!(assigned(&acts), vec![(1, "b".to_string())]);
}

#[test]
fn a_turn_that_ends_unreported_gets_a_nudge_then_review() {
    let mut e = engine(Settings::default(), vec![agent("a", &[])]);
    e.step(1, Event::TaskAdded(task(1, Priority::Med, &[], &[])));
    deliver(&mut e, 10, "a", 500);
    e.step(2000, screen("a", AgentState::Finished, None, 600));
    let acts = e.step(3600, Event::Tick);
    assert!(
        acts.iter().any(
            |a| matches!(a, Action::Paste { text, .. } if text.contains("T-001 is not reported"))
        ),
        "{acts:?}"
    );
    // The nudge is delivered like any prompt, the agent works again, then its Stop hook
    // fires without a report.
    deliver(&mut e, 3700, "a", 700);
    let acts = turn_end(&mut e, 4000, "a");
    assert!(
        acts.iter().any(|a| matches!(
            a,
            Action::MarkUnreported {
                task: TaskId(1),
                ..
            }
        )),
        "{acts:?}"
    );
}

#[test]
fn a_stuck_agent_gets_a_reminder_then_a_resend_then_loses_the_task() {
    let s = Settings {
        stuck_after_ms: 1000,
        ..Settings::default()
    };
    let mut e = engine(s, vec![agent("a", &[]), agent("b", &[])]);
    e.step(0, screen("b", AgentState::Working, None, 9));
    e.step(1, Event::TaskAdded(task(1, Priority::Med, &[], &[])));
    deliver(&mut e, 10, "a", 500);
    let mut all = Vec::new();
    for now in (100..60_000).step_by(100) {
        all.extend(e.step(now, Event::Tick));
    }
    let reminder = all.iter().position(
        |a| matches!(a, Action::Paste { text, .. } if text.starts_with("Status check on T-001")),
    );
    let resend = all.iter().position(|a| {
        *a == Action::Press {
            agent: "a".into(),
            key: Key::CtrlC,
        }
    });
    let requeue = all.iter().position(|a| {
        matches!(
            a,
            Action::Requeue {
                task: TaskId(1),
                ..
            }
        )
    });
    assert!(
        reminder.is_some() && resend.is_some() && requeue.is_some(),
        "{all:?}"
    );
    assert!(reminder < resend && resend < requeue);
}

#[test]
fn a_dead_agent_is_restarted_with_backoff_and_its_task_requeued() {
    let mut e = engine(Settings::default(), vec![agent("a", &[])]);
    e.step(1, Event::TaskAdded(task(1, Priority::Med, &[], &[])));
    deliver(&mut e, 10, "a", 500);
    let acts = e.step(100, Event::AgentDied { agent: "a".into() });
    assert!(requeued(&acts, 1));
    assert!(
        !e.step(1099, Event::Tick)
            .contains(&Action::StartAgent { agent: "a".into() })
    );
    assert!(
        e.step(1100, Event::Tick)
            .contains(&Action::StartAgent { agent: "a".into() })
    );
    e.step(1200, Event::AgentUp { agent: "a".into() });
    let acts = e.step(1300, screen("a", AgentState::Idle, None, 1));
    assert_eq!(
        assigned(&acts),
        vec![(1, "a".to_string())],
        "a restarted agent may take it back"
    );
    e.step(1400, Event::AgentDied { agent: "a".into() });
    assert!(
        !e.step(3399, Event::Tick)
            .contains(&Action::StartAgent { agent: "a".into() })
    );
    assert!(
        e.step(3400, Event::Tick)
            .contains(&Action::StartAgent { agent: "a".into() }),
        "second delay doubles"
    );
}

#[test]
fn a_task_that_keeps_failing_needs_a_person() {
    let s = Settings {
        max_attempts: 2,
        ..Settings::default()
    };
    let mut e = engine(s, vec![agent("a", &[])]);
    e.step(1, Event::TaskAdded(task(1, Priority::Med, &[], &[])));
    let mut now = 10;
    let mut all = Vec::new();
    for _ in 0..2 {
        all.extend(deliver(&mut e, now, "a", now * 10));
        all.extend(e.step(now + 100, Event::AgentDied { agent: "a".into() }));
        now += 100_000;
        all.extend(e.step(now, Event::Tick));
        e.step(now + 1, Event::AgentUp { agent: "a".into() });
        all.extend(e.step(now + 2, screen("a", AgentState::Idle, None, now)));
    }
    assert!(
        all.iter().any(|a| matches!(
            a,
            Action::NeedsHuman {
                task: TaskId(1),
                ..
            }
        )),
        "{all:?}"
    );
    assert_eq!(e.task(TaskId(1)).unwrap().status, Status::Blocked);
}

#[test]
fn an_agent_at_critical_quota_gets_nothing_new() {
    let mut e = engine(Settings::default(), vec![agent("a", &[])]);
    e.step(0, quota("a", "session-5h", 91.0));
    assert!(assigned(&e.step(1, Event::TaskAdded(task(1, Priority::Med, &[], &[])))).is_empty());
    let acts = e.step(2, quota("a", "session-5h", 10.0));
    assert_eq!(assigned(&acts), vec![(1, "a".to_string())]);
}

#[test]
fn blocked_for_credits_goes_to_another_agent_at_once() {
    let mut e = engine(Settings::default(), vec![agent("a", &[]), agent("b", &[])]);
    e.step(1, Event::TaskAdded(task(1, Priority::Med, &[], &[])));
    let holder = assignee(&e, 1);
    let other = if holder == "a" { "b" } else { "a" };
    deliver(&mut e, 10, &holder, 500);
    let mut t = e.task(TaskId(1)).unwrap().clone();
    t.status = Status::Blocked;
    t.blocked_reason = Some("Credit balance is too low".into());
    let acts = e.step(20, Event::TaskChanged(t));
    assert!(requeued(&acts, 1), "{acts:?}");
    assert_eq!(assigned(&acts), vec![(1, other.to_string())]);
}

#[test]
fn waves_run_verify_and_failures_become_fix_tasks() {
    let s = Settings {
        verify_commands: vec!["cargo test".into()],
        max_fix_cycles: 1,
        ..Settings::default()
    };
    let mut e = engine(s, vec![agent("a", &["fix"])]);
    e.step(1, Event::TaskAdded(task(1, Priority::Med, &[], &[])));
    deliver(&mut e, 10, "a", 500);
    let acts = done(&mut e, 100, 1);
    assert!(
        acts.contains(&Action::RunVerify {
            wave: 1,
            commands: vec!["cargo test".into()]
        }),
        "{acts:?}"
    );
    let acts = e.step(
        200,
        Event::VerifyFinished {
            wave: 1,
            command: "cargo test".into(),
            ok: false,
            excerpt: "test parse ... FAILED".into(),
        },
    );
    let fix = acts.iter().find_map(|a| match a {
        Action::AddTask { task, .. } => Some(task.clone()),
        _ => None,
    });
    let fix = fix.expect("a fix task");
    assert_eq!(fix.skills, vec!["fix".to_string()]);
    assert!(fix.body.contains("test parse ... FAILED"));
    assert!(
        !acts.iter().any(|a| matches!(a, Action::Finished { .. })),
        "not finished while a fix is due"
    );
    // The shell commits the fix task and reports it; it is done; verify fails again: no more
    // fix cycles, a person is told, and the run ends.
    let mut t = task(2, Priority::High, &["fix"], &[]);
    t.title = fix.title;
    e.step(300, Event::TaskAdded(t));
    e.step(310, screen("a", AgentState::Idle, None, 700));
    deliver(&mut e, 320, "a", 800);
    let acts = done(&mut e, 400, 2);
    assert!(acts.contains(&Action::RunVerify {
        wave: 2,
        commands: vec!["cargo test".into()]
    }));
    let acts = e.step(
        500,
        Event::VerifyFinished {
            wave: 2,
            command: "cargo test".into(),
            ok: false,
            excerpt: String::new(),
        },
    );
    assert!(
        acts.iter()
            .any(|a| matches!(a, Action::Notify { kind, .. } if kind == "verify-failed"))
    );
    assert!(
        acts.iter().any(
            |a| matches!(a, Action::Finished { summary } if summary.contains("last verify FAILED"))
        ),
        "{acts:?}"
    );
}

#[test]
fn finished_once_everything_is_done() {
    let mut e = engine(Settings::default(), vec![agent("a", &[])]);
    e.step(1, Event::TaskAdded(task(1, Priority::Med, &[], &[])));
    deliver(&mut e, 10, "a", 500);
    let acts = done(&mut e, 100, 1);
    assert!(
        acts.iter().any(
            |a| matches!(a, Action::Finished { summary } if summary.starts_with("1 completed"))
        ),
        "{acts:?}"
    );
    assert!(
        !e.step(200, Event::Tick)
            .iter()
            .any(|a| matches!(a, Action::Finished { .. })),
        "only once"
    );
}

#[test]
fn the_lead_with_no_task_slots_gets_nothing() {
    let lead = AgentSpec {
        max_tasks: 0,
        ..agent("lead", &[])
    };
    let mut e = engine(Settings::default(), vec![lead]);
    assert!(assigned(&e.step(1, Event::TaskAdded(task(1, Priority::High, &[], &[])))).is_empty());
}

#[test]
fn a_skilled_task_goes_elsewhere_when_its_skilled_agent_is_excluded() {
    let mut e = engine(
        Settings::default(),
        vec![agent("a", &["refactoring"]), agent("b", &[])],
    );
    e.step(
        1,
        Event::TaskAdded(task(1, Priority::Med, &["refactoring"], &[])),
    );
    assert_eq!(e.agent_tasks("a"), &[TaskId(1)], "b has not the skill");
    deliver(&mut e, 10, "a", 500);
    let acts = e.step(100, Event::AgentDied { agent: "a".into() });
    assert!(requeued(&acts, 1));
    assert_eq!(assigned(&acts), vec![(1, "b".to_string())]);
}

#[test]
fn a_task_resumed_after_a_restart_gets_its_prompt_again() {
    let mut e = engine(Settings::default(), vec![agent("a", &[])]);
    let mut t = task(1, Priority::Med, &[], &[]);
    t.status = Status::InProgress;
    t.assignee = Some("a".into());
    t.attempts = 1;
    e.step(1, Event::TaskAdded(t));
    assert_eq!(e.agent_tasks("a"), &[TaskId(1)]);
    e.step(10, screen("a", AgentState::Idle, None, 5));
    let acts = e.step(2000, Event::Tick);
    assert!(
        acts.iter().any(|a| matches!(a, Action::Paste { text, .. } if text.starts_with("(baton restarted") && text.contains("TASK_ID: T-001"))),
        "{acts:?}"
    );
}

#[test]
fn nothing_is_decided_before_every_task_is_loaded() {
    let mut e = engine(Settings::default(), vec![agent("a", &[])]);
    let mut first = task(1, Priority::Med, &[], &[]);
    first.status = Status::Completed;
    e.load(vec![first, task(2, Priority::Med, &[], &[1])]);
    let acts = e.step(10, Event::Tick);
    assert!(
        !acts.iter().any(|a| matches!(a, Action::Finished { .. })),
        "{acts:?}"
    );
    assert_eq!(assigned(&acts), vec![(2, "a".to_string())]);
}

fn added(actions: &[Action]) -> Vec<NewTask> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::AddTask { task, .. } => Some(task.clone()),
            _ => None,
        })
        .collect()
}

/// Plays the shell's part for an `AddTask`: the store gives it the next ID.
fn store_task(e: &mut Engine, now: u64, id: u32, new: &NewTask) -> Vec<Action> {
    let t = Task {
        title: new.title.clone(),
        body: new.body.clone(),
        priority: new.priority.unwrap_or(Priority::Med),
        skills: new.skills.clone(),
        deps: new.deps.clone(),
        assignee: new.assignee.clone(),
        ..task(id, Priority::Med, &[], &[])
    };
    e.step(now, Event::TaskAdded(t))
}

#[test]
fn test_tasks_come_once_every_feature_is_done_and_go_to_the_builder() {
    let settings = Settings {
        test_tasks: true,
        ..Settings::default()
    };
    let mut e = engine(settings, vec![agent("a", &[]), agent("b", &[])]);
    e.step(1, Event::TaskAdded(task(1, Priority::High, &[], &[])));
    e.step(1, Event::TaskAdded(task(2, Priority::Med, &[], &[])));
    e.step(1, Event::TaskAdded(task(3, Priority::Med, &["docs"], &[])));
    let (b1, b2) = (assignee(&e, 1), assignee(&e, 2));
    deliver(&mut e, 10, &b1, 500);
    deliver(&mut e, 10, &b2, 600);
    // One feature done, one still open: no test task yet.
    assert!(added(&done(&mut e, 100, 1)).is_empty());
    e.step(105, screen(&b1, AgentState::Idle, None, 650));
    let holder = assignee(&e, 3);
    deliver(&mut e, 110, &holder, 700);
    let acts = done(&mut e, 200, 2);
    let tests = added(&acts);
    assert_eq!(tests.len(), 2, "{acts:?}");
    assert_eq!(tests[0].title, "Test T-001: task 1");
    assert_eq!(tests[0].assignee.as_deref(), Some(b1.as_str()));
    assert_eq!(tests[0].deps, vec![TaskId(1)]);
    assert_eq!(tests[0].skills, vec!["test".to_owned()]);
    assert_eq!(tests[1].assignee.as_deref(), Some(b2.as_str()));
    // Not finished while the test tasks are on their way to the store.
    assert!(!acts.iter().any(|a| matches!(a, Action::Finished { .. })));
    // The docs task (not a feature) gets none; test tasks get none; nothing is asked twice.
    done(&mut e, 210, 3);
    assert_eq!(holder, b1);
    e.step(215, screen(&b1, AgentState::Idle, None, 900));
    let a1 = store_task(&mut e, 220, 4, &tests[0]);
    assert!(assigned(&a1).contains(&(4, b1.clone())), "{a1:?}");
    store_task(&mut e, 220, 5, &tests[1]);
    deliver(&mut e, 230, &b1, 1000);
    assert!(added(&done(&mut e, 300, 4)).is_empty());
    assert!(added(&e.step(400, Event::Tick)).is_empty());
}

#[test]
fn test_tasks_are_not_asked_again_after_a_restart() {
    let settings = Settings {
        test_tasks: true,
        ..Settings::default()
    };
    let mut e = Engine::new(settings, vec![agent("a", &[])]);
    let mut feature = task(1, Priority::Med, &[], &[]);
    feature.status = Status::Completed;
    feature.assignee = Some("a".into());
    let mut test = task(2, Priority::Med, &["test"], &[1]);
    test.status = Status::Completed;
    e.load([feature, test]);
    let acts = e.step(10, Event::AgentUp { agent: "a".into() });
    assert!(added(&acts).is_empty(), "{acts:?}");
    // Off by default: a finished feature alone gets nothing either.
    let mut e = engine(Settings::default(), vec![agent("a", &[])]);
    e.step(1, Event::TaskAdded(task(1, Priority::Med, &[], &[])));
    deliver(&mut e, 10, "a", 500);
    assert!(added(&done(&mut e, 100, 1)).is_empty());
}

#[test]
fn nudges_speak_the_run_language() {
    let settings = Settings {
        texts: prompt::Texts::for_language("fr"),
        stuck_after_ms: 1000,
        ..Settings::default()
    };
    let mut e = engine(settings, vec![agent("a", &[])]);
    e.step(1, Event::TaskAdded(task(1, Priority::Med, &[], &[])));
    deliver(&mut e, 10, "a", 500);
    let acts = e.step(2000, Event::Tick);
    assert!(
        acts.iter().any(
            |a| matches!(a, Action::Paste { text, .. } if text.starts_with("Point sur T-001"))
        ),
        "{acts:?}"
    );
}

#[test]
fn rearm_says_finished_again_when_it_holds() {
    let mut e = engine(Settings::default(), vec![agent("a", &[])]);
    e.step(1, Event::TaskAdded(task(1, Priority::Med, &[], &[])));
    deliver(&mut e, 10, "a", 500);
    let finished = |acts: &[Action]| acts.iter().any(|a| matches!(a, Action::Finished { .. }));
    assert!(finished(&done(&mut e, 100, 1)));
    assert!(!finished(&e.step(200, Event::Tick)));
    assert!(finished(&e.step(300, Event::Rearm)));
    // Not while work remains.
    e.step(400, Event::TaskAdded(task(2, Priority::Med, &[], &[])));
    assert!(!finished(&e.step(500, Event::Rearm)));
}

fn notices(actions: &[Action], kind: &str) -> usize {
    actions
        .iter()
        .filter(|a| matches!(a, Action::Notify { kind: k, .. } if k == kind))
        .count()
}

#[test]
fn quota_warn_fires_once_per_crossing_and_tells_the_lead() {
    let settings = Settings {
        lead_chain: vec!["lead".into()],
        ..Settings::default()
    };
    let mut e = engine(settings, vec![agent("a", &[]), agent("lead", &[])]);
    let mut warns = 0;
    let mut to_lead = Vec::new();
    for (t, used) in [(10, 40.0), (20, 79.0), (30, 81.0), (40, 85.0), (50, 88.0)] {
        let acts = e.step(t, quota("a", "session-5h", used));
        warns += notices(&acts, "quota-warn");
        to_lead.extend(acts.into_iter().filter_map(|a| match a {
            Action::Paste { agent, text } if agent == "lead" => Some(text),
            _ => None,
        }));
    }
    assert_eq!(warns, 1, "one notification for one crossing");
    assert_eq!(to_lead.len(), 1, "{to_lead:?}");
    assert!(
        to_lead[0].contains("a has used 81% of its session-5h quota"),
        "{to_lead:?}"
    );
    // Back under (a reset), then over again: a second crossing, a second warning.
    e.step(60, quota("a", "session-5h", 5.0));
    assert_eq!(
        notices(&e.step(70, quota("a", "session-5h", 82.0)), "quota-warn"),
        1
    );
}

#[test]
fn at_critical_the_current_task_finishes_and_nothing_new_comes() {
    let mut e = engine(Settings::default(), vec![agent("a", &[]), agent("b", &[])]);
    e.step(1, Event::TaskAdded(task(1, Priority::Med, &[], &[])));
    let holder = assignee(&e, 1);
    let other = if holder == "a" { "b" } else { "a" };
    deliver(&mut e, 10, &holder, 500);
    // The other agent is busy too, so that only the holder could take the next task.
    e.step(11, Event::TaskAdded(task(2, Priority::Med, &[], &[])));
    deliver(&mut e, 20, other, 600);
    let acts = e.step(30, quota(&holder, "session-5h", 91.0));
    assert_eq!(notices(&acts, "quota-critical"), 1, "{acts:?}");
    assert!(
        !acts.iter().any(|a| matches!(a, Action::Requeue { .. })),
        "it keeps its task"
    );
    e.step(40, Event::TaskAdded(task(3, Priority::Med, &[], &[])));
    done(&mut e, 50, 1);
    let acts = e.step(60, screen(&holder, AgentState::Idle, None, 700));
    assert!(
        assigned(&acts).is_empty(),
        "nothing new at critical: {acts:?}"
    );
    // The other agent finishes and takes T-003.
    done(&mut e, 70, 2);
    let acts = e.step(80, screen(other, AgentState::Idle, None, 800));
    assert_eq!(assigned(&acts), vec![(3, other.to_owned())]);
}

#[test]
fn at_the_limit_the_task_goes_to_another_agent() {
    let mut e = engine(Settings::default(), vec![agent("a", &[]), agent("b", &[])]);
    e.step(1, Event::TaskAdded(task(1, Priority::Med, &[], &[])));
    let holder = assignee(&e, 1);
    let other = if holder == "a" { "b" } else { "a" };
    deliver(&mut e, 10, &holder, 500);
    let acts = e.step(20, quota(&holder, "session-5h", 100.0));
    assert!(requeued(&acts, 1), "{acts:?}");
    assert_eq!(assigned(&acts), vec![(1, other.to_owned())]);
}

#[test]
fn auto_stop_interrupts_at_critical_and_ignore_usage_overrides() {
    let settings = Settings {
        auto_stop: true,
        ..Settings::default()
    };
    let mut e = engine(settings, vec![agent("a", &[])]);
    e.step(1, Event::TaskAdded(task(1, Priority::Med, &[], &[])));
    deliver(&mut e, 10, "a", 500);
    let acts = e.step(20, quota("a", "weekly", 92.0));
    assert!(acts.contains(&Action::Press {
        agent: "a".into(),
        key: Key::CtrlC
    }));
    assert!(
        acts.iter().any(|a| matches!(a, Action::Requeue { .. })),
        "{acts:?}"
    );

    let settings = Settings {
        auto_stop: true,
        ignore_usage: true,
        ..Settings::default()
    };
    let mut e = engine(settings, vec![agent("a", &[])]);
    e.step(1, quota("a", "session-5h", 95.0));
    let acts = e.step(2, Event::TaskAdded(task(1, Priority::Med, &[], &[])));
    assert_eq!(assigned(&acts), vec![(1, "a".to_owned())], "--ignore-usage");
}

#[test]
fn a_reset_window_or_a_model_window_holds_nothing_back() {
    let mut e = engine(Settings::default(), vec![agent("a", &[])]);
    e.step(
        1,
        Event::Quota {
            agent: "a".into(),
            window: "session-5h".into(),
            used_percent: 95.0,
            resets_at: Some(1000),
            burn_per_hour: None,
        },
    );
    e.step(2, quota("a", "model:opus", 100.0));
    assert!(assigned(&e.step(3, Event::TaskAdded(task(1, Priority::Med, &[], &[])))).is_empty());
    let acts = e.step(1000, Event::Tick);
    assert_eq!(assigned(&acts), vec![(1, "a".to_owned())], "{acts:?}");
    assert!(acts.iter().any(
        |a| matches!(a, Action::Journal { what, .. } if what == "quota window session-5h reset")
    ));
}

/// A reading whose window has already reset when it arrives (the newest stored reading fed
/// again after a daemon restart, an old rollout) is a reset window: no warning, no task taken
/// back, no holding back, no handoff.
#[test]
fn a_reading_of_a_window_already_reset_counts_as_reset() {
    let mut e = engine(
        lead_settings(&["claude", "codex"]),
        vec![agent("claude", &[]), agent("codex", &[]), agent("a", &[])],
    );
    e.step(1, Event::TaskAdded(task(1, Priority::Med, &[], &[])));
    let holder = assignee(&e, 1);
    deliver(&mut e, 10, &holder, 500);
    for who in ["claude", "codex", "a"] {
        let acts = e.step(
            5_000,
            Event::Quota {
                agent: who.into(),
                window: "session-5h".into(),
                used_percent: 100.0,
                resets_at: Some(4_000),
                burn_per_hour: None,
            },
        );
        assert!(!requeued(&acts, 1), "{who}: {acts:?}");
        assert_eq!(notices(&acts, "quota-warn"), 0, "{who}: {acts:?}");
        assert_eq!(notices(&acts, "quota-critical"), 0, "{who}: {acts:?}");
        assert!(lead_actions(&acts).is_empty(), "{who}: {acts:?}");
    }
    let acts = e.step(6_000, Event::Tick);
    assert!(lead_actions(&acts).is_empty(), "{acts:?}");
    assert_eq!(
        e.task(TaskId(1)).unwrap().assignee.as_deref(),
        Some(holder.as_str())
    );
}

#[test]
fn a_projected_crossing_holds_new_work_back_early() {
    let mut e = engine(Settings::default(), vec![agent("a", &[])]);
    let reading = |rate: f64| Event::Quota {
        agent: "a".into(),
        window: "session-5h".into(),
        used_percent: 70.0,
        resets_at: None,
        burn_per_hour: Some(rate),
    };
    // 20 points to critical at 240 %/h: there in 5 minutes (within the 10-minute lookahead).
    e.step(1, reading(240.0));
    assert!(assigned(&e.step(2, Event::TaskAdded(task(1, Priority::Med, &[], &[])))).is_empty());
    // At 20 %/h: an hour away, work again.
    let acts = e.step(3, reading(20.0));
    assert_eq!(assigned(&acts), vec![(1, "a".to_owned())]);
}

fn lead_settings(chain: &[&str]) -> Settings {
    Settings {
        lead_chain: chain.iter().map(|s| s.to_string()).collect(),
        notes_deadline_ms: 5_000,
        ..Settings::default()
    }
}

fn lead_actions(actions: &[Action]) -> Vec<String> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::Lead { what, .. } => Some(what.clone()),
            Action::WriteHandoff { from, to, .. } => Some(format!("write {from}->{to}")),
            _ => None,
        })
        .collect()
}

fn pasted_to(actions: &[Action], agent: &str) -> Vec<String> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::Paste { agent: to, text } if to == agent => Some(text.clone()),
            _ => None,
        })
        .collect()
}

/// Runs a handoff from `claude` (at 95 %) to the next agent up to the written document.
fn handoff_to_written(e: &mut Engine, t: u64, to: &str) -> Vec<Action> {
    let mut all = e.step(t, quota("claude", "session-5h", 95.0));
    all.extend(e.step(t + 1, Event::LeadNotes));
    assert!(
        lead_actions(&all).contains(&format!("write claude->{to}")),
        "{all:?}"
    );
    all.extend(e.step(t + 2, Event::HandoffWritten { to: to.into() }));
    all
}

#[test]
fn the_lead_prepares_then_hands_over_and_rests() {
    let mut e = engine(
        lead_settings(&["claude", "amp"]),
        vec![agent("claude", &[]), agent("amp", &[])],
    );
    let acts = e.step(10, quota("claude", "session-5h", 86.0));
    assert_eq!(lead_actions(&acts), ["handoff-prepare"]);
    let notes = pasted_to(&acts, "claude");
    assert!(notes[0].contains(".baton/lead-notes.md"), "{notes:?}");
    // Preparing: no new work for the lead.
    e.step(20, screen("claude", AgentState::Working, None, 900));
    e.step(30, screen("claude", AgentState::Idle, None, 901));
    e.step(35, Event::TaskAdded(task(1, Priority::Med, &[], &[])));
    assert_eq!(e.task(TaskId(1)).unwrap().assignee.as_deref(), Some("amp"));
    done(&mut e, 40, 1);
    e.step(45, screen("amp", AgentState::Idle, None, 950));
    // At the handoff threshold with the notes in: the document, then the takeover.
    let acts = handoff_to_written(&mut e, 100, "amp");
    assert_eq!(
        lead_actions(&acts),
        ["write claude->amp", "handoff-start"],
        "{acts:?}"
    );
    let takeover = pasted_to(&acts, "amp");
    assert!(takeover[0].contains("HANDOFF_TO_AMP.md"), "{takeover:?}");
    // amp starts working on it: verified.
    let acts = deliver(&mut e, 200, "amp", 1000);
    assert_eq!(lead_actions(&acts), ["handoff-done"]);
    assert_eq!(e.lead(), Some("amp"));
    assert_eq!(e.lead_snapshot().resting, ["claude"]);
    // claude rests: nothing for it.
    e.step(300, screen("amp", AgentState::Working, None, 1100));
    let acts = e.step(310, Event::TaskAdded(task(2, Priority::Med, &[], &[])));
    assert!(assigned(&acts).is_empty(), "{acts:?}");
}

#[test]
fn the_role_comes_back_after_the_reset() {
    let mut e = engine(
        lead_settings(&["claude", "amp"]),
        vec![agent("claude", &[]), agent("amp", &[])],
    );
    e.step(10, quota("claude", "session-5h", 86.0));
    deliver(&mut e, 20, "claude", 5000);
    e.step(30, screen("claude", AgentState::Idle, None, 5100));
    handoff_to_written(&mut e, 100, "amp");
    deliver(&mut e, 200, "amp", 1000);
    e.step(250, screen("amp", AgentState::Idle, None, 1001));
    assert_eq!(e.lead(), Some("amp"));
    // claude's window reset: it stops resting and gets the role back.
    let acts = e.step(300, quota("claude", "session-5h", 4.0));
    assert_eq!(
        lead_actions(&acts),
        ["lead-rest-end", "write amp->claude"],
        "{acts:?}"
    );
    let acts = e.step(
        310,
        Event::HandoffWritten {
            to: "claude".into(),
        },
    );
    assert!(pasted_to(&acts, "claude")[0].contains("HANDOFF_TO_CLAUDE.md"));
    let acts = deliver(&mut e, 400, "claude", 2000);
    assert_eq!(lead_actions(&acts), ["handoff-done"]);
    assert_eq!(e.lead(), Some("claude"));
    // amp handed back for claude's reset, not for its own quota: it works on.
    assert!(e.lead_snapshot().resting.is_empty());
    e.step(450, screen("claude", AgentState::Working, None, 2100));
    let acts = e.step(510, Event::TaskAdded(task(1, Priority::Med, &[], &[])));
    assert_eq!(assigned(&acts), vec![(1, "amp".to_owned())]);
}

#[test]
fn no_successor_keeps_the_lead_and_tries_again() {
    let mut e = engine(
        lead_settings(&["claude", "amp"]),
        vec![agent("claude", &[]), agent("amp", &[])],
    );
    e.step(1, quota("amp", "session-5h", 95.0));
    e.step(10, quota("claude", "session-5h", 94.0));
    let acts = e.step(20, Event::LeadNotes);
    assert!(
        acts.iter()
            .any(|a| matches!(a, Action::Notify { kind, .. } if kind == "handoff-failed")),
        "{acts:?}"
    );
    assert_eq!(e.lead(), Some("claude"));
    // Still none: no notice before the retry time.
    assert!(lead_actions(&e.step(1000, Event::Tick)).is_empty());
    // amp's quota came back: the next try finds it.
    e.step(30_000, quota("amp", "session-5h", 20.0));
    let acts = e.step(61_000, Event::Tick);
    assert_eq!(lead_actions(&acts), ["write claude->amp"], "{acts:?}");
    // Never twice at once.
    assert!(lead_actions(&e.step(61_100, quota("claude", "session-5h", 97.0))).is_empty());
}

#[test]
fn a_successor_that_dies_during_the_takeover_passes_it_on() {
    let mut e = engine(
        lead_settings(&["claude", "amp", "codex"]),
        vec![agent("claude", &[]), agent("amp", &[]), agent("codex", &[])],
    );
    e.step(10, quota("claude", "session-5h", 86.0));
    deliver(&mut e, 20, "claude", 5000);
    e.step(30, screen("claude", AgentState::Idle, None, 5100));
    handoff_to_written(&mut e, 100, "amp");
    let acts = e.step(
        150,
        Event::AgentDied {
            agent: "amp".into(),
        },
    );
    assert_eq!(
        lead_actions(&acts),
        ["handoff-failed", "write claude->codex"],
        "{acts:?}"
    );
    let acts = e.step(160, Event::HandoffWritten { to: "codex".into() });
    assert!(pasted_to(&acts, "codex")[0].contains("HANDOFF_TO_CODEX.md"));
    let acts = deliver(&mut e, 200, "codex", 3000);
    assert_eq!(lead_actions(&acts), ["handoff-done"]);
    assert_eq!(e.lead(), Some("codex"));
}

#[test]
fn a_takeover_under_way_resumes_after_a_restart() {
    let snap = LeadSnapshot {
        lead: Some("claude".into()),
        phase: LeadPhase::Takeover {
            from: "claude".into(),
            to: "amp".into(),
            reason: "quota".into(),
            rest: true,
        },
        resting: Vec::new(),
    };
    let mut e = Engine::new(
        lead_settings(&["claude", "amp"]),
        vec![agent("claude", &[]), agent("amp", &[])],
    );
    e.step(0, Event::LeadRestore(snap));
    e.step(
        1,
        Event::AgentUp {
            agent: "amp".into(),
        },
    );
    let acts = e.step(2, screen("amp", AgentState::Idle, None, 10));
    assert!(pasted_to(&acts, "amp")[0].contains("HANDOFF_TO_AMP.md"));
    assert!(lead_actions(&acts).is_empty(), "no second start: {acts:?}");
    let acts = deliver(&mut e, 100, "amp", 20);
    assert_eq!(lead_actions(&acts), ["handoff-done"]);
    assert_eq!(e.lead(), Some("amp"));
}

#[test]
fn a_person_can_ask_for_a_handoff() {
    let mut e = engine(
        lead_settings(&["claude", "amp", "codex"]),
        vec![agent("claude", &[]), agent("amp", &[]), agent("codex", &[])],
    );
    let acts = e.step(
        10,
        Event::HandoffRequested {
            to: Some("codex".into()),
        },
    );
    assert_eq!(lead_actions(&acts), ["write claude->codex"]);
}

#[test]
fn a_reservation_lapses_while_its_agent_is_held_back() {
    let mut e = engine(Settings::default(), vec![agent("a", &[]), agent("b", &[])]);
    e.step(1, quota("a", "session-5h", 95.0));
    let mut t = task(1, Priority::Med, &[], &[]);
    t.assignee = Some("a".into());
    let acts = e.step(2, Event::TaskAdded(t));
    assert_eq!(assigned(&acts), vec![(1, "b".to_owned())], "{acts:?}");
    // While a can work, the reservation holds.
    e.step(3, quota("a", "session-5h", 10.0));
    let mut t = task(2, Priority::Med, &[], &[]);
    t.assignee = Some("a".into());
    let acts = e.step(4, Event::TaskAdded(t));
    assert_eq!(assigned(&acts), vec![(2, "a".to_owned())], "{acts:?}");
}

#[test]
fn a_skill_only_a_resting_agent_has_goes_to_anyone() {
    let mut e = engine(
        Settings::default(),
        vec![agent("a", &["review"]), agent("b", &[])],
    );
    e.step(1, quota("a", "session-5h", 96.0));
    let acts = e.step(
        2,
        Event::TaskAdded(task(1, Priority::Med, &["review"], &[])),
    );
    assert_eq!(assigned(&acts), vec![(1, "b".to_owned())], "{acts:?}");
}

#[test]
fn a_prompt_left_in_the_box_is_cleared_before_the_next_one() {
    let mut e = engine(Settings::default(), vec![agent("a", &[])]);
    e.step(1, Event::TaskAdded(task(1, Priority::Med, &[], &[])));
    // The prompt is pasted but not yet submitted when T-001 is reported done (a resend).
    e.step(10, screen("a", AgentState::Idle, Some("[TASK T-001"), 500));
    done(&mut e, 20, 1);
    e.step(21, Event::TaskAdded(task(2, Priority::Med, &[], &[])));
    let acts = e.step(30, screen("a", AgentState::Idle, Some("[TASK T-001"), 501));
    assert!(
        acts.contains(&Action::Press {
            agent: "a".into(),
            key: Key::CtrlC
        }),
        "{acts:?}"
    );
    assert!(
        assigned(&acts).is_empty(),
        "nothing pasted on top: {acts:?}"
    );
    // The box is empty again: T-002 goes out.
    let acts = e.step(40, screen("a", AgentState::Idle, None, 502));
    assert_eq!(assigned(&acts), vec![(2, "a".to_owned())]);
}

fn isolated(name: &str) -> AgentSpec {
    AgentSpec {
        worktree: Some(format!("/p/.baton/worktrees/{name}")),
        ..agent(name, &[])
    }
}

fn queued_merges(actions: &[Action]) -> Vec<(u32, String)> {
    actions
        .iter()
        .filter_map(|a| match a {
            Action::QueueMerge { task, agent } => Some((task.0, agent.clone())),
            _ => None,
        })
        .collect()
}

fn merge(e: &mut Engine, now: u64, id: u32, agent: &str, outcome: MergeOutcome) -> Vec<Action> {
    e.step(
        now,
        Event::MergeFinished {
            task: TaskId(id),
            agent: agent.into(),
            outcome,
        },
    )
}

#[test]
fn a_worktree_agents_done_task_is_queued_and_its_dependents_wait_for_the_merge() {
    let mut e = engine(Settings::default(), vec![isolated("a"), agent("b", &[])]);
    let acts = e.step(1, Event::TaskAdded(task(1, Priority::High, &[], &[])));
    assert_eq!(assigned(&acts), vec![(1, "a".to_string())]);
    let acts = deliver(&mut e, 10, "a", 500);
    assert!(queued_merges(&acts).is_empty());
    e.step(20, Event::TaskAdded(task(2, Priority::High, &[], &[1])));
    let acts = done(&mut e, 100, 1);
    assert_eq!(queued_merges(&acts), vec![(1, "a".to_string())]);
    assert!(
        assigned(&acts).is_empty(),
        "T-002 waits for T-001's merge: {acts:?}"
    );
    // The prompt told the agent where it works.
    assert!(!acts.iter().any(|a| matches!(a, Action::Finished { .. })));
    let acts = merge(
        &mut e,
        200,
        1,
        "a",
        MergeOutcome::Merged {
            commit: "abc".into(),
        },
    );
    assert_eq!(
        assigned(&acts).len(),
        1,
        "merged: its dependent goes out: {acts:?}"
    );
    let text = acts
        .iter()
        .find_map(|a| match a {
            Action::Paste { text, .. } => Some(text.clone()),
            _ => None,
        })
        .expect("a prompt");
    if assigned(&acts)[0].1 == "a" {
        assert!(text.contains("/p/.baton/worktrees/a"), "{text}");
    }
}

#[test]
fn a_shared_agents_done_task_is_not_queued() {
    let mut e = engine(Settings::default(), vec![agent("a", &[])]);
    e.step(1, Event::TaskAdded(task(1, Priority::High, &[], &[])));
    deliver(&mut e, 10, "a", 500);
    let acts = done(&mut e, 100, 1);
    assert!(queued_merges(&acts).is_empty());
    assert!(
        acts.iter().any(|a| matches!(a, Action::Finished { .. })),
        "{acts:?}"
    );
}

#[test]
fn a_conflict_becomes_a_fix_task_for_the_same_agent_and_the_run_waits_for_the_merge() {
    let s = Settings {
        max_fix_cycles: 1,
        ..Settings::default()
    };
    let mut e = engine(s, vec![isolated("a"), isolated("b")]);
    e.step(1, Event::TaskAdded(task(1, Priority::High, &[], &[])));
    e.step(2, Event::TaskAdded(task(3, Priority::Low, &[], &[1])));
    deliver(&mut e, 10, "a", 500);
    let acts = done(&mut e, 100, 1);
    assert_eq!(queued_merges(&acts).len(), 1);
    let acts = merge(
        &mut e,
        200,
        1,
        "a",
        MergeOutcome::Conflict {
            files: vec!["src/lib.rs".into()],
            excerpt: "<<<<<<< HEAD\nx\n=======\ny\n>>>>>>> T-001".into(),
        },
    );
    let fix = added(&acts);
    assert_eq!(fix.len(), 1, "{acts:?}");
    assert_eq!(fix[0].assignee.as_deref(), Some("a"));
    assert_eq!(fix[0].skills, ["fix", MERGE_SKILL, CONFLICT_SKILL]);
    assert_eq!(fix[0].priority, Some(Priority::High));
    assert!(fix[0].body.contains("src/lib.rs") && fix[0].body.contains("<<<<<<< HEAD"));
    assert!(!acts.iter().any(|a| matches!(a, Action::Finished { .. })));
    // The fix is done and merged: T-001's dependent may go at last.
    e.step(250, screen("a", AgentState::Idle, None, 700));
    let acts = store_task(&mut e, 300, 2, &fix[0]);
    assert_eq!(assigned(&acts), vec![(2, "a".to_string())]);
    deliver(&mut e, 310, "a", 900);
    let acts = done(&mut e, 400, 2);
    assert_eq!(queued_merges(&acts), vec![(2, "a".to_string())]);
    assert!(assigned(&acts).is_empty(), "T-003 still waits: {acts:?}");
    let acts = merge(
        &mut e,
        500,
        2,
        "a",
        MergeOutcome::Merged {
            commit: "def".into(),
        },
    );
    assert_eq!(
        assigned(&acts).len(),
        1,
        "T-001 settled by the fix's merge: {acts:?}"
    );
}

#[test]
fn failed_merges_past_the_fix_cycles_tell_a_person() {
    let s = Settings {
        max_fix_cycles: 1,
        ..Settings::default()
    };
    let mut e = engine(s, vec![isolated("a")]);
    e.step(1, Event::TaskAdded(task(1, Priority::High, &[], &[])));
    deliver(&mut e, 10, "a", 500);
    done(&mut e, 100, 1);
    let failed = || MergeOutcome::Failed {
        command: "cargo test".into(),
        excerpt: "test x ... FAILED".into(),
    };
    let acts = merge(&mut e, 200, 1, "a", failed());
    let fix = added(&acts);
    assert!(fix[0].body.contains("cargo test") && fix[0].body.contains("FAILED"));
    e.step(250, screen("a", AgentState::Idle, None, 700));
    store_task(&mut e, 300, 2, &fix[0]);
    deliver(&mut e, 310, "a", 900);
    done(&mut e, 400, 2);
    let acts = merge(&mut e, 500, 2, "a", failed());
    assert!(added(&acts).is_empty());
    assert!(
        acts.iter()
            .any(|a| matches!(a, Action::Notify { kind, .. } if kind == "verify-failed")),
        "{acts:?}"
    );
}

#[test]
fn merges_restored_after_a_restart_hold_dependents_and_the_end() {
    let mut e = Engine::new(Settings::default(), vec![isolated("a")]);
    e.load_merges([(TaskId(1), "a".to_string(), true)]);
    let mut t1 = task(1, Priority::High, &[], &[]);
    t1.status = Status::Completed;
    t1.assignee = Some("a".into());
    e.load([t1, task(2, Priority::High, &[], &[1])]);
    e.step(0, Event::AgentUp { agent: "a".into() });
    let acts = e.step(1, screen("a", AgentState::Idle, None, 5));
    assert!(assigned(&acts).is_empty(), "{acts:?}");
    assert!(!acts.iter().any(|a| matches!(a, Action::Finished { .. })));
    let acts = merge(
        &mut e,
        10,
        1,
        "a",
        MergeOutcome::Merged { commit: "c".into() },
    );
    assert_eq!(assigned(&acts), vec![(2, "a".to_string())]);
}

#[test]
fn a_merge_fix_stays_with_its_agent_even_when_it_cannot_work() {
    let mut e = engine(Settings::default(), vec![isolated("a"), isolated("b")]);
    e.step(1, Event::TaskAdded(task(1, Priority::High, &[], &[])));
    deliver(&mut e, 10, "a", 500);
    done(&mut e, 100, 1);
    let acts = merge(
        &mut e,
        200,
        1,
        "a",
        MergeOutcome::Failed {
            command: "make".into(),
            excerpt: "boom".into(),
        },
    );
    let fix = added(&acts);
    // a is busy (its screen says working) and then resting after attempts: b never gets it.
    let mut t = Task {
        attempts: 1,
        ..task(2, Priority::High, &[], &[])
    };
    t.title = fix[0].title.clone();
    t.skills = fix[0].skills.clone();
    t.assignee = fix[0].assignee.clone();
    let acts = e.step(300, Event::TaskAdded(t));
    assert!(assigned(&acts).is_empty(), "{acts:?}");
    assert!(!e.could_take("b", TaskId(2)));
    let acts = e.step(400, screen("a", AgentState::Idle, None, 901));
    assert_eq!(assigned(&acts), vec![(2, "a".to_string())]);
}

#[test]
fn a_merge_git_could_not_do_tells_a_person_and_makes_no_fix_task() {
    let mut e = engine(Settings::default(), vec![isolated("a")]);
    e.step(1, Event::TaskAdded(task(1, Priority::High, &[], &[])));
    deliver(&mut e, 10, "a", 500);
    done(&mut e, 100, 1);
    let acts = merge(
        &mut e,
        200,
        1,
        "a",
        MergeOutcome::Error {
            message: "fatal: Unable to create index.lock".into(),
        },
    );
    assert!(added(&acts).is_empty(), "{acts:?}");
    assert!(
        acts.iter().any(|a| matches!(a, Action::Notify { message, .. } if message.contains("index.lock") && message.contains("--retry"))),
        "{acts:?}"
    );
}

#[test]
fn an_excluded_agent_keeps_its_merge_fix_and_a_blocked_fix_holds_nothing() {
    let mut e = engine(Settings::default(), vec![isolated("a"), isolated("b")]);
    e.step(1, Event::TaskAdded(task(1, Priority::High, &[], &[])));
    deliver(&mut e, 10, "a", 500);
    done(&mut e, 100, 1);
    let fix = added(&merge(
        &mut e,
        200,
        1,
        "a",
        MergeOutcome::Failed {
            command: "make".into(),
            excerpt: "boom".into(),
        },
    ));
    let t = Task {
        title: fix[0].title.clone(),
        skills: fix[0].skills.clone(),
        assignee: fix[0].assignee.clone(),
        ..task(2, Priority::High, &[], &[])
    };
    e.step(300, Event::TaskAdded(t));
    // a failed to take it once (excluded), b is free: still only a may.
    e.tasks
        .get_mut(&TaskId(2))
        .unwrap()
        .excluded
        .insert("a".into());
    assert!(e.open_merge_fix("a"));
    assert!(!e.could_take("b", TaskId(2)));
    let acts = e.step(400, screen("a", AgentState::Idle, None, 901));
    assert_eq!(assigned(&acts), vec![(2, "a".to_string())]);
    // Blocked (a person must look): it no longer holds a's other merges.
    let mut t2 = e.task(TaskId(2)).unwrap().clone();
    t2.status = Status::Blocked;
    t2.blocked_reason = Some("needs a person".into());
    e.step(500, Event::TaskChanged(t2));
    assert!(!e.open_merge_fix("a"));
}

#[test]
fn work_git_could_not_merge_is_not_settled_by_a_later_merge() {
    let mut e = engine(Settings::default(), vec![isolated("a")]);
    e.step(1, Event::TaskAdded(task(1, Priority::High, &[], &[])));
    e.step(2, Event::TaskAdded(task(3, Priority::Low, &[], &[1])));
    e.step(3, Event::TaskAdded(task(2, Priority::Med, &[], &[])));
    deliver(&mut e, 10, "a", 500);
    done(&mut e, 100, 1);
    merge(
        &mut e,
        150,
        1,
        "a",
        MergeOutcome::Error {
            message: "on branch x instead of baton/a".into(),
        },
    );
    let acts = e.step(200, screen("a", AgentState::Idle, None, 600));
    assert_eq!(assigned(&acts), vec![(2, "a".to_string())]);
    deliver(&mut e, 210, "a", 700);
    done(&mut e, 300, 2);
    let acts = merge(
        &mut e,
        400,
        2,
        "a",
        MergeOutcome::Merged { commit: "c".into() },
    );
    let acts = [acts, e.step(410, screen("a", AgentState::Idle, None, 800))].concat();
    assert!(
        !assigned(&acts).iter().any(|(t, _)| *t == 3),
        "T-001's work may not be on the branch: T-003 waits ({acts:?})"
    );
    // A person fixed it and queued it again: merged, T-003 goes.
    let acts = merge(
        &mut e,
        500,
        1,
        "a",
        MergeOutcome::Merged { commit: "d".into() },
    );
    assert_eq!(assigned(&acts), vec![(3, "a".to_string())]);
}

/// Runs task 1 on agent `a` to the end of its second unreported turn; returns those actions.
fn end_unreported(e: &mut Engine, agent: &str) -> Vec<Action> {
    deliver(e, 10, agent, 500);
    e.step(2000, screen(agent, AgentState::Finished, None, 600));
    e.step(3600, Event::Tick);
    deliver(e, 3700, agent, 700);
    turn_end(e, 4000, agent)
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

#[test]
fn a_late_turn_end_of_the_previous_turn_is_no_silence() {
    // Codex's notify for the turn that reported T-001 is read after T-002 went out and the
    // agent works on it: no nudge; T-002's own end still counts.
    let mut e = engine(Settings::default(), vec![agent("a", &[])]);
    e.step(1, Event::TaskAdded(task(1, Priority::Med, &[], &[])));
    e.step(1, Event::TaskAdded(task(2, Priority::Med, &[], &[])));
    deliver(&mut e, 10, "a", 500);
    done(&mut e, 2000, 1);
    let acts = e.step(2001, screen("a", AgentState::Finished, None, 900));
    assert_eq!(assigned(&acts), vec![(2, "a".to_string())]);
    deliver(&mut e, 2100, "a", 1000);
    let acts = e.step(2300, Event::TurnEnded { agent: "a".into() });
    assert!(!nudged(&acts), "the old turn's end nudged: {acts:?}");
    let acts = turn_end(&mut e, 4000, "a");
    assert!(nudged(&acts), "{acts:?}");
}

fn nudged(acts: &[Action]) -> bool {
    acts.iter()
        .any(|a| matches!(a, Action::Paste { text, .. } if text.contains("is not reported")))
}

fn marked(actions: &[Action]) -> Option<(u32, bool, Option<String>)> {
    actions.iter().find_map(|a| match a {
        Action::MarkUnreported {
            task,
            review,
            reviewer,
            ..
        } => Some((task.0, *review, reviewer.clone())),
        _ => None,
    })
}

/// A review task as the shell adds it back.
fn review_of(id: u32, of: u32, assignee: Option<&str>, status: Status) -> Task {
    let mut t = task(id, Priority::Med, &["review"], &[]);
    t.review_of = Some(TaskId(of));
    t.assignee = assignee.map(str::to_owned);
    t.status = status;
    t
}

#[test]
fn unreported_work_is_not_completed_its_dependents_wait_and_the_lead_reviews_it() {
    let settings = Settings {
        lead_chain: vec!["lead".into()],
        ..Settings::default()
    };
    let mut lead = agent("lead", &[]);
    lead.max_tasks = 1;
    let mut e = engine(settings, vec![agent("a", &[]), lead]);
    e.step(1, Event::TaskAdded(task(1, Priority::Med, &["x"], &[])));
    e.step(1, Event::TaskAdded(task(2, Priority::Med, &[], &[1])));
    assert_eq!(assignee(&e, 1), "a");
    let acts = end_unreported(&mut e, "a");
    assert_eq!(
        marked(&acts),
        Some((1, true, Some("lead".into()))),
        "{acts:?}"
    );
    assert_eq!(e.task(TaskId(1)).unwrap().status, Status::Unreported);
    // Its dependent waits, though both agents are free.
    assert!(assigned(&acts).is_empty(), "{acts:?}");
    assert!(e.idle_agent_with_work().is_none());
    // The review goes to the lead.
    let acts = e.step(
        4100,
        Event::TaskAdded(review_of(3, 1, Some("lead"), Status::Pending)),
    );
    assert_eq!(assigned(&acts), vec![(3, "lead".to_owned())]);
    deliver(&mut e, 4200, "lead", 900);
    e.step(4500, screen("a", AgentState::Idle, None, 800));
    // The lead confirms task 1: the dependent goes out. (The store closes the review.)
    let acts = done(&mut e, 5000, 1);
    assert_eq!(assigned(&acts), vec![(2, "a".to_owned())], "{acts:?}");
}

#[test]
fn the_run_summary_counts_unreported_work_apart() {
    let mut e = engine(Settings::default(), vec![agent("a", &[])]);
    e.step(1, Event::TaskAdded(task(1, Priority::Med, &[], &[])));
    let acts = end_unreported(&mut e, "a");
    // No lead: a person reviews.
    assert_eq!(marked(&acts), Some((1, true, None)), "{acts:?}");
    let acts = e.step(
        4100,
        Event::TaskAdded(review_of(2, 1, None, Status::Blocked)),
    );
    let summary = acts
        .iter()
        .chain(e.step(4200, Event::Tick).iter())
        .find_map(|a| match a {
            Action::Finished { summary } => Some(summary.clone()),
            _ => None,
        });
    assert_eq!(
        summary.as_deref(),
        Some("1 done, unreported: review · 0 completed, 1 blocked, 0 waiting")
    );
}

#[test]
fn the_lead_never_reviews_its_own_work_and_a_review_gets_no_review() {
    let settings = Settings {
        lead_chain: vec!["a".into()],
        ..Settings::default()
    };
    let mut e = engine(settings, vec![agent("a", &[])]);
    e.step(1, Event::TaskAdded(review_of(1, 9, None, Status::Pending)));
    let acts = end_unreported(&mut e, "a");
    // A review that went unreported: no review of it; a person is told.
    assert_eq!(marked(&acts), Some((1, false, None)), "{acts:?}");
    assert!(
        acts.iter()
            .any(|a| matches!(a, Action::Notify { kind, .. } if kind == "blocked")),
        "{acts:?}"
    );
    let mut e = engine(
        Settings {
            lead_chain: vec!["a".into()],
            ..Settings::default()
        },
        vec![agent("a", &[])],
    );
    e.step(1, Event::TaskAdded(task(1, Priority::Med, &[], &[])));
    let acts = end_unreported(&mut e, "a");
    assert_eq!(marked(&acts), Some((1, true, None)), "{acts:?}");
}

#[test]
fn a_reopened_task_goes_out_again_and_holds_its_dependents_back() {
    let mut e = engine(Settings::default(), vec![agent("a", &[])]);
    e.step(1, Event::TaskAdded(task(1, Priority::Med, &[], &[])));
    e.step(1, Event::TaskAdded(task(2, Priority::Low, &[], &[1])));
    e.step(1, Event::Pause(true));
    // Done while paused: nothing goes out.
    deliver(&mut e, 10, "a", 500);
    let acts = done(&mut e, 100, 1);
    assert!(assigned(&acts).is_empty());
    e.step(150, screen("a", AgentState::Idle, None, 800));
    // Reopened: PENDING again; its dependent waits for it; it goes out first.
    let mut t = e.task(TaskId(1)).unwrap().clone();
    t.status = Status::Pending;
    t.assignee = None;
    e.step(200, Event::TaskChanged(t));
    let acts = e.step(300, Event::Pause(false));
    assert_eq!(assigned(&acts), vec![(1, "a".to_owned())], "{acts:?}");
}

#[test]
fn test_tasks_are_added_by_priority_not_by_id() {
    let settings = Settings {
        test_tasks: true,
        ..Settings::default()
    };
    let mut e = engine(settings, vec![agent("a", &[])]);
    e.step(1, Event::Pause(true));
    for (id, p) in [(1, Priority::Low), (2, Priority::High), (3, Priority::Med)] {
        let mut t = task(id, p, &[], &[]);
        t.status = Status::InProgress;
        t.assignee = Some("a".into());
        e.step(1, Event::TaskAdded(t));
    }
    done(&mut e, 2, 1);
    done(&mut e, 3, 2);
    // The last feature done: the three test tasks come together.
    let acts = done(&mut e, 4, 3);
    let added: Vec<Vec<TaskId>> = acts
        .iter()
        .filter_map(|a| match a {
            Action::AddTask { task, .. } => Some(task.deps.clone()),
            _ => None,
        })
        .collect();
    assert_eq!(
        added,
        vec![vec![TaskId(2)], vec![TaskId(3)], vec![TaskId(1)]],
        "{acts:?}"
    );
}

/// A lead at 90 % (prepare at 85, hand over at 93) gets no new work, so its quota may never
/// reach 93: once its notes are in and it holds no task, the role moves on at once, and it
/// works on as a plain agent (no rest: it is below its limits).
#[test]
fn a_preparing_lead_with_its_notes_in_and_no_task_hands_over_at_once() {
    let mut e = engine(
        lead_settings(&["claude", "amp"]),
        vec![agent("claude", &[]), agent("amp", &[])],
    );
    let acts = e.step(10, quota("claude", "session-5h", 90.0));
    assert_eq!(lead_actions(&acts), ["handoff-prepare"]);
    deliver(&mut e, 20, "claude", 900);
    e.step(30, screen("claude", AgentState::Idle, None, 901));
    // Not before the notes.
    let acts = e.step(1_000, Event::Tick);
    assert!(lead_actions(&acts).is_empty(), "{acts:?}");
    let acts = e.step(1_010, Event::LeadNotes);
    assert_eq!(lead_actions(&acts), ["write claude->amp"], "{acts:?}");
    e.step(1_020, Event::HandoffWritten { to: "amp".into() });
    let acts = deliver(&mut e, 1_100, "amp", 1000);
    assert_eq!(lead_actions(&acts), ["handoff-done"]);
    assert_eq!(e.lead(), Some("amp"));
    assert!(e.lead_snapshot().resting.is_empty());
}

#[test]
fn a_handoff_to_the_current_lead_is_refused_and_undoes_nothing() {
    let mut e = engine(
        lead_settings(&["claude", "codex"]),
        vec![agent("claude", &[]), agent("codex", &[])],
    );
    e.step(1, Event::Tick);
    let acts = e.step(
        10,
        Event::HandoffRequested {
            to: Some("claude".into()),
        },
    );
    assert!(lead_actions(&acts).is_empty(), "{acts:?}");
    assert!(
        acts.iter().any(|a| matches!(
            a,
            Action::Journal { what, .. } if what == "handoff refused: claude already leads"
        )),
        "{acts:?}"
    );
    assert_eq!(e.lead(), Some("claude"));
}

/// A task reserved for an agent goes to it even without the task's skill, when another agent
/// has that skill: before, neither could take it (a feature's test task, reserved for its
/// builder, waited forever when a tester existed).
#[test]
fn a_reservation_outweighs_skills() {
    let mut e = engine(
        Settings::default(),
        vec![agent("builder", &["rust"]), agent("tester", &["test"])],
    );
    let mut t = task(1, Priority::Med, &["test"], &[]);
    t.assignee = Some("builder".into());
    let acts = e.step(1, Event::TaskAdded(t));
    assert_eq!(assigned(&acts), vec![(1, "builder".to_owned())], "{acts:?}");
}
