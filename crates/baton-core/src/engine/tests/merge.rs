//! Merges of worktree agents' work: queued, conflicts, fix cycles, restored.

use super::*;

fn isolated(name: &str) -> AgentSpec {
    AgentSpec {
        worktree: Some(format!("/p/.baton/worktrees/{name}")),
        ..agent(name, &[])
    }
}

fn queued_merges(actions: &[Action]) -> Vec<(u32, String)> {
    each(actions, |a| match a {
        Action::QueueMerge { task, agent } => Some((task.0, agent.clone())),
        _ => None,
    })
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

/// Task `id`'s merge went in as `commit`.
fn merged(e: &mut Engine, now: u64, id: u32, agent: &str, commit: &str) -> Vec<Action> {
    let commit = commit.into();
    merge(e, now, id, agent, MergeOutcome::Merged { commit })
}

/// Task `id`'s merge failed its check `command`, which printed `excerpt`.
fn merge_failed(
    e: &mut Engine,
    now: u64,
    id: u32,
    agent: &str,
    command: &str,
    excerpt: &str,
) -> Vec<Action> {
    let (command, excerpt) = (command.into(), excerpt.into());
    merge(e, now, id, agent, MergeOutcome::Failed { command, excerpt })
}

/// Agents a and b in worktrees; a's T-001 failed its merge's check: the engine, and the fix
/// task it asked for as the store gives it back (T-002), not added yet.
fn merge_fix_of_t1() -> (Engine, Task) {
    let agents = vec![isolated("a"), isolated("b")];
    let mut e = working_on_t1(Settings::default(), agents, Priority::High);
    done(&mut e, 100, 1);
    let fix = added(&merge_failed(&mut e, 200, 1, "a", "make", "boom"));
    let t = Task {
        title: fix[0].title.clone(),
        skills: fix[0].skills.clone(),
        assignee: fix[0].assignee.clone(),
        ..task(2, Priority::High, &[], &[])
    };
    (e, t)
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
    let acts = merged(&mut e, 200, 1, "a", "abc");
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
    let mut e = working_on_t1(Settings::default(), vec![agent("a", &[])], Priority::High);
    let acts = done(&mut e, 100, 1);
    assert!(queued_merges(&acts).is_empty());
    assert!(
        acts.iter().any(|a| matches!(a, Action::Finished { .. })),
        "{acts:?}"
    );
}

#[test]
fn a_conflict_becomes_a_fix_task_for_the_same_agent_and_the_run_waits_for_the_merge() {
    let s = settings(|s| s.max_fix_cycles = 1);
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
    let acts = merged(&mut e, 500, 2, "a", "def");
    assert_eq!(
        assigned(&acts).len(),
        1,
        "T-001 settled by the fix's merge: {acts:?}"
    );
}

#[test]
fn failed_merges_past_the_fix_cycles_tell_a_person() {
    let s = settings(|s| s.max_fix_cycles = 1);
    let mut e = working_on_t1(s, vec![isolated("a")], Priority::High);
    done(&mut e, 100, 1);
    let failed =
        |e: &mut Engine, now, id| merge_failed(e, now, id, "a", "cargo test", "test x ... FAILED");
    let acts = failed(&mut e, 200, 1);
    let fix = added(&acts);
    assert!(fix[0].body.contains("cargo test") && fix[0].body.contains("FAILED"));
    e.step(250, screen("a", AgentState::Idle, None, 700));
    store_task(&mut e, 300, 2, &fix[0]);
    deliver(&mut e, 310, "a", 900);
    done(&mut e, 400, 2);
    let acts = failed(&mut e, 500, 2);
    assert!(added(&acts).is_empty());
    assert!(
        acts.iter()
            .any(|a| matches!(a, Action::Notify { kind, .. } if kind == "verify-failed")),
        "{acts:?}"
    );
    // The run ends, and its summary says the two changes are not on the integration branch
    // (it counted them completed and said nothing more).
    let summary = acts.iter().find_map(|a| match a {
        Action::Finished { summary } => Some(summary.clone()),
        _ => None,
    });
    assert_eq!(
        summary.as_deref(),
        Some("2 completed, 0 blocked, 0 waiting, 2 not merged"),
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
    let acts = merged(&mut e, 10, 1, "a", "c");
    assert_eq!(assigned(&acts), vec![(2, "a".to_string())]);
}

#[test]
fn a_merge_fix_stays_with_its_agent_even_when_it_cannot_work() {
    let (mut e, mut t) = merge_fix_of_t1();
    // a is busy (its screen says working) and then resting after attempts: b never gets it.
    t.attempts = 1;
    let acts = e.step(300, Event::TaskAdded(t));
    assert!(assigned(&acts).is_empty(), "{acts:?}");
    assert!(!e.could_take("b", TaskId(2)));
    let acts = e.step(400, screen("a", AgentState::Idle, None, 901));
    assert_eq!(assigned(&acts), vec![(2, "a".to_string())]);
}

#[test]
fn a_merge_git_could_not_do_tells_a_person_and_makes_no_fix_task() {
    let mut e = working_on_t1(Settings::default(), vec![isolated("a")], Priority::High);
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
    let (mut e, t) = merge_fix_of_t1();
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
    change_task(&mut e, 500, 2, |t| {
        t.status = Status::Blocked;
        t.blocked_reason = Some("needs a person".into());
    });
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
    let acts = merged(&mut e, 400, 2, "a", "c");
    let acts = [acts, e.step(410, screen("a", AgentState::Idle, None, 800))].concat();
    assert!(
        !assigned(&acts).iter().any(|(t, _)| *t == 3),
        "T-001's work may not be on the branch: T-003 waits ({acts:?})"
    );
    // A person fixed it and queued it again: merged, T-003 goes.
    let acts = merged(&mut e, 500, 1, "a", "d");
    assert_eq!(assigned(&acts), vec![(3, "a".to_string())]);
}
