//! Delivery: Enter pressed until the prompt is taken, resends, a box left with text.

use super::*;

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
    let mut e = engine(Settings::default(), agents(&["a", "b"]));
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
