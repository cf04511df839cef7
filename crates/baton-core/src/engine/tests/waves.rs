//! Verify waves, test tasks and the end of the run.

use super::*;

#[test]
fn waves_run_verify_and_failures_become_fix_tasks() {
    let s = settings(|s| {
        s.verify_commands = vec!["cargo test".into()];
        s.max_fix_cycles = 1;
    });
    let mut e = working_on_t1(s, vec![agent("a", &["fix"])], Priority::Med);
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
    let mut e = working_on_t1(Settings::default(), vec![agent("a", &[])], Priority::Med);
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
fn test_tasks_come_once_every_feature_is_done_and_go_to_the_builder() {
    let s = settings(|s| s.test_tasks = true);
    let mut e = engine(s, agents(&["a", "b"]));
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
    let s = settings(|s| s.test_tasks = true);
    let mut e = Engine::new(s, vec![agent("a", &[])]);
    let mut feature = task(1, Priority::Med, &[], &[]);
    feature.status = Status::Completed;
    feature.assignee = Some("a".into());
    let mut test = task(2, Priority::Med, &["test"], &[1]);
    test.status = Status::Completed;
    e.load([feature, test]);
    let acts = e.step(10, Event::AgentUp { agent: "a".into() });
    assert!(added(&acts).is_empty(), "{acts:?}");
    // Off by default: a finished feature alone gets nothing either.
    let mut e = working_on_t1(Settings::default(), vec![agent("a", &[])], Priority::Med);
    assert!(added(&done(&mut e, 100, 1)).is_empty());
}

#[test]
fn rearm_says_finished_again_when_it_holds() {
    let mut e = working_on_t1(Settings::default(), vec![agent("a", &[])], Priority::Med);
    let finished = |acts: &[Action]| acts.iter().any(|a| matches!(a, Action::Finished { .. }));
    assert!(finished(&done(&mut e, 100, 1)));
    assert!(!finished(&e.step(200, Event::Tick)));
    assert!(finished(&e.step(300, Event::Rearm)));
    // Not while work remains.
    e.step(400, Event::TaskAdded(task(2, Priority::Med, &[], &[])));
    assert!(!finished(&e.step(500, Event::Rearm)));
}

#[test]
fn test_tasks_are_added_by_priority_not_by_id() {
    let s = settings(|s| s.test_tasks = true);
    let mut e = engine(s, vec![agent("a", &[])]);
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

/// A run resumed with nothing left to do says the verify it recalls, never a pass it did not
/// see (it said "last verify passed" after a failed one).
#[test]
fn a_resumed_run_says_the_verify_it_recalls() {
    let finish = |recalled: Option<bool>| {
        let s = settings(|s| s.verify_commands = vec!["cargo test".into()]);
        let mut e = engine(s, vec![agent("a", &[])]);
        let mut t = task(1, Priority::Med, &[], &[]);
        t.status = Status::Completed;
        e.load(vec![t]);
        e.load_last_verify(recalled);
        e.step(10, Event::Tick)
            .into_iter()
            .find_map(|a| match a {
                Action::Finished { summary } => Some(summary),
                _ => None,
            })
            .expect("finished")
    };
    assert!(
        finish(Some(false)).ends_with("last verify FAILED"),
        "{}",
        finish(Some(false))
    );
    assert!(finish(Some(true)).ends_with("last verify passed"));
    assert!(finish(None).ends_with("no verify ran"), "{}", finish(None));
}

/// The end of a wave's verify is an action the shell keeps.
#[test]
fn a_wave_verify_ends_with_its_result() {
    let s = settings(|s| s.verify_commands = vec!["cargo test".into()]);
    let mut e = working_on_t1(s, vec![agent("a", &[])], Priority::Med);
    done(&mut e, 100, 1);
    let acts = e.step(
        200,
        Event::VerifyFinished {
            wave: 1,
            command: "cargo test".into(),
            ok: true,
            excerpt: String::new(),
        },
    );
    assert!(
        acts.contains(&Action::VerifyDone {
            wave: 1,
            passed: true
        }),
        "{acts:?}"
    );
}
