//! Unreported work: reviews by the lead or a person, and what waits for them.

use super::*;
use crate::vocab::NoticeKind;

/// Runs task 1 on agent `a` to the end of its second unreported turn; returns those actions.
fn end_unreported(e: &mut Engine, agent: &str) -> Vec<Action> {
    deliver(e, 10, agent, 500);
    e.step(2000, screen(agent, AgentState::Finished, None, 600));
    e.step(3600, Event::Tick);
    deliver(e, 3700, agent, 700);
    turn_end(e, 4000, agent)
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
    let s = settings(|s| s.lead_chain = vec!["lead".into()]);
    let mut lead = agent("lead", &[]);
    lead.max_tasks = 1;
    let mut e = engine(s, vec![agent("a", &[]), lead]);
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
    let s = settings(|s| s.lead_chain = vec!["a".into()]);
    let mut e = engine(s, vec![agent("a", &[])]);
    e.step(1, Event::TaskAdded(review_of(1, 9, None, Status::Pending)));
    let acts = end_unreported(&mut e, "a");
    // A review that went unreported: no review of it; a person is told.
    assert_eq!(marked(&acts), Some((1, false, None)), "{acts:?}");
    assert!(
        acts.iter()
            .any(|a| matches!(a, Action::Notify { kind, .. } if *kind == NoticeKind::TaskBlocked)),
        "{acts:?}"
    );
    let mut e = engine(
        settings(|s| s.lead_chain = vec!["a".into()]),
        vec![agent("a", &[])],
    );
    e.step(1, Event::TaskAdded(task(1, Priority::Med, &[], &[])));
    let acts = end_unreported(&mut e, "a");
    assert_eq!(marked(&acts), Some((1, true, None)), "{acts:?}");
}
