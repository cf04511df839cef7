//! Dispatch: who gets which ready task, reservations, skills, exclusions.

use super::*;

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
fn blocked_for_credits_goes_to_another_agent_at_once() {
    let (mut e, _, other) = one_of_two_working_on_t1();
    let acts = change_task(&mut e, 20, 1, |t| {
        t.status = Status::Blocked;
        t.blocked_reason = Some("Credit balance is too low".into());
    });
    assert!(requeued(&acts, 1), "{acts:?}");
    assert_eq!(assigned(&acts), vec![(1, other.to_string())]);
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

#[test]
fn a_reservation_lapses_while_its_agent_is_held_back() {
    let mut e = engine(Settings::default(), agents(&["a", "b"]));
    e.step(1, quota("a", "session-5h", 95.0));
    let mut t = task(1, Priority::Med, &[], &[]);
    t.assignee = Some("a".into());
    let acts = e.step(2, Event::TaskAdded(t));
    assert_eq!(assigned(&acts), vec![(1, "b".to_owned())], "{acts:?}");
    // The lapse is said, with why (the task went elsewhere in silence).
    assert!(
        acts.iter().any(|a| matches!(a, Action::Journal { what, .. }
            if what == "reserved for a, who cannot work for now (its quota holds it back): given to b")),
        "{acts:?}"
    );
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
    change_task(&mut e, 200, 1, |t| {
        t.status = Status::Pending;
        t.assignee = None;
    });
    let acts = e.step(300, Event::Pause(false));
    assert_eq!(assigned(&acts), vec![(1, "a".to_owned())], "{acts:?}");
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

/// A person reassigns a task its agent is working on: that agent is interrupted (it went on
/// and reported it), and the task goes to the agent named, not to whichever is free first.
#[test]
fn a_reassigned_task_interrupts_its_agent_and_goes_to_the_one_named() {
    let mut e = working_on_t1(Settings::default(), agents(&["a", "b", "c"]), Priority::Med);
    // b is busy for now; c is free.
    e.step(20, screen("b", AgentState::Working, None, 40));
    e.step(20, screen("c", AgentState::Idle, None, 41));
    let acts = change_task(&mut e, 100, 1, |t| {
        t.status = Status::Pending;
        t.assignee = Some("b".into());
        t.attempts = 0;
    });
    assert!(
        acts.contains(&Action::Press {
            agent: "a".into(),
            key: Key::CtrlC
        }),
        "{acts:?}"
    );
    assert!(assigned(&acts).is_empty(), "not to c: {acts:?}");
    let acts = e.step(200, screen("a", AgentState::Idle, None, 600));
    assert!(assigned(&acts).is_empty(), "not back to a: {acts:?}");
    let acts = e.step(300, screen("b", AgentState::Idle, None, 42));
    assert_eq!(assigned(&acts), vec![(1, "b".to_string())]);
}
