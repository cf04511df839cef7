//! Recovery: unreported turns, stuck and dead agents, tasks that keep failing, resumed tasks.

use super::*;

#[test]
fn a_turn_that_ends_unreported_gets_a_nudge_then_review() {
    let mut e = working_on_t1(Settings::default(), vec![agent("a", &[])], Priority::Med);
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
    let s = settings(|s| s.stuck_after_ms = 1000);
    let mut e = engine(s, agents(&["a", "b"]));
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
fn a_dialog_that_waits_for_a_person_is_not_stuck() {
    let s = settings(|s| s.stuck_after_ms = 1000);
    let mut e = engine(s, agents(&["a", "b"]));
    e.step(0, screen("b", AgentState::Working, None, 9));
    e.step(1, Event::TaskAdded(task(1, Priority::Med, &[], &[])));
    deliver(&mut e, 10, "a", 500);
    // A permission dialog opens and stays: the person was told; nothing is typed into it,
    // no Ctrl-C, the task stays with its agent.
    let mut all = e.step(50, screen("a", AgentState::NeedsInput, None, 501));
    for now in (100..60_000).step_by(100) {
        all.extend(e.step(now, Event::Tick));
    }
    assert!(
        all.iter().any(|a| matches!(
            a,
            Action::Notify {
                kind: crate::vocab::NoticeKind::NeedsInput,
                ..
            }
        )),
        "{all:?}"
    );
    assert!(
        !all.iter().any(|a| matches!(
            a,
            Action::Paste { .. } | Action::Press { .. } | Action::Requeue { .. }
        )),
        "{all:?}"
    );
    assert_eq!(e.task(TaskId(1)).unwrap().assignee.as_deref(), Some("a"));
    // Answered, it works again; from then on the stuck rule watches it as before.
    let mut after = e.step(60_000, screen("a", AgentState::Working, None, 502));
    for now in (60_100..120_000).step_by(100) {
        after.extend(e.step(now, Event::Tick));
    }
    assert!(
        after.iter().any(
            |a| matches!(a, Action::Paste { text, .. } if text.starts_with("Status check on T-001"))
        ),
        "{after:?}"
    );
}

#[test]
fn a_dead_agent_is_restarted_with_backoff_and_its_task_requeued() {
    let mut e = working_on_t1(Settings::default(), vec![agent("a", &[])], Priority::Med);
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
    let s = settings(|s| s.max_attempts = 2);
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
fn nudges_speak_the_run_language() {
    let s = settings(|s| {
        s.texts = prompt::Texts::for_language("fr");
        s.stuck_after_ms = 1000;
    });
    let mut e = working_on_t1(s, vec![agent("a", &[])], Priority::Med);
    let acts = e.step(2000, Event::Tick);
    assert!(
        acts.iter().any(
            |a| matches!(a, Action::Paste { text, .. } if text.starts_with("Point sur T-001"))
        ),
        "{acts:?}"
    );
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
