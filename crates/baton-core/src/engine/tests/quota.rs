//! Quota: warnings, the critical hold-back, the limit, resets and projections.

use super::*;

#[test]
fn an_agent_at_critical_quota_gets_nothing_new() {
    let mut e = engine(Settings::default(), vec![agent("a", &[])]);
    e.step(0, quota("a", "session-5h", 91.0));
    assert!(assigned(&e.step(1, Event::TaskAdded(task(1, Priority::Med, &[], &[])))).is_empty());
    let acts = e.step(2, quota("a", "session-5h", 10.0));
    assert_eq!(assigned(&acts), vec![(1, "a".to_string())]);
}

#[test]
fn quota_warn_fires_once_per_crossing_and_tells_the_lead() {
    let s = settings(|s| s.lead_chain = vec!["lead".into()]);
    let mut e = engine(s, agents(&["a", "lead"]));
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
    let (mut e, holder, other) = one_of_two_working_on_t1();
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
    let (mut e, holder, other) = one_of_two_working_on_t1();
    let acts = e.step(20, quota(&holder, "session-5h", 100.0));
    assert!(requeued(&acts, 1), "{acts:?}");
    assert_eq!(assigned(&acts), vec![(1, other.to_owned())]);
}

#[test]
fn auto_stop_interrupts_at_critical_and_ignore_usage_overrides() {
    let s = settings(|s| s.auto_stop = true);
    let mut e = working_on_t1(s, vec![agent("a", &[])], Priority::Med);
    let acts = e.step(20, quota("a", "weekly", 92.0));
    assert!(acts.contains(&Action::Press {
        agent: "a".into(),
        key: Key::CtrlC
    }));
    assert!(
        acts.iter().any(|a| matches!(a, Action::Requeue { .. })),
        "{acts:?}"
    );

    let s = settings(|s| {
        s.auto_stop = true;
        s.ignore_usage = true;
    });
    let mut e = engine(s, vec![agent("a", &[])]);
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
        agents(&["claude", "codex", "a"]),
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
