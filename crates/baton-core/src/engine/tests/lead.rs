//! The lead role and its handoff.

use super::*;

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

/// The successor's takeover prompt is delivered: the handoff is done and `to` leads.
fn takes_over(e: &mut Engine, now: u64, to: &str, hash: u64) {
    let acts = deliver(e, now, to, hash);
    assert_eq!(lead_actions(&acts), ["handoff-done"]);
    assert_eq!(e.lead(), Some(to));
    // The entry keeps its parts for readers (the web page's handoff list, its plots).
    let parts = acts.iter().find_map(|a| match a {
        Action::Lead {
            handoff: Some(h), ..
        } => Some(h.clone()),
        _ => None,
    });
    let parts = parts.expect("a handoff-done carries who, to whom and why");
    assert_eq!(parts.to, to);
    assert_ne!(parts.from, to);
    assert!(!parts.reason.is_empty(), "{parts:?}");
}

#[test]
fn the_lead_prepares_then_hands_over_and_rests() {
    let mut e = lead_engine(&["claude", "amp"]);
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
    takes_over(&mut e, 200, "amp", 1000);
    assert_eq!(e.lead_snapshot().resting, ["claude"]);
    // claude rests: nothing for it.
    e.step(300, screen("amp", AgentState::Working, None, 1100));
    let acts = e.step(310, Event::TaskAdded(task(2, Priority::Med, &[], &[])));
    assert!(assigned(&acts).is_empty(), "{acts:?}");
}

#[test]
fn the_role_comes_back_after_the_reset() {
    let mut e = lead_engine(&["claude", "amp"]);
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
    takes_over(&mut e, 400, "claude", 2000);
    // amp handed back for claude's reset, not for its own quota: it works on.
    assert!(e.lead_snapshot().resting.is_empty());
    e.step(450, screen("claude", AgentState::Working, None, 2100));
    let acts = e.step(510, Event::TaskAdded(task(1, Priority::Med, &[], &[])));
    assert_eq!(assigned(&acts), vec![(1, "amp".to_owned())]);
}

#[test]
fn no_successor_keeps_the_lead_and_tries_again() {
    let mut e = lead_engine(&["claude", "amp"]);
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
    let mut e = lead_engine(&["claude", "amp", "codex"]);
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
    takes_over(&mut e, 200, "codex", 3000);
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
        agents(&["claude", "amp"]),
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
    takes_over(&mut e, 100, "amp", 20);
}

#[test]
fn a_person_can_ask_for_a_handoff() {
    let mut e = lead_engine(&["claude", "amp", "codex"]);
    let acts = e.step(
        10,
        Event::HandoffRequested {
            to: Some("codex".into()),
        },
    );
    assert_eq!(lead_actions(&acts), ["write claude->codex"]);
}

/// A lead at 90 % (prepare at 85, hand over at 93) gets no new work, so its quota may never
/// reach 93: once its notes are in and it holds no task, the role moves on at once, and it
/// works on as a plain agent (no rest: it is below its limits).
#[test]
fn a_preparing_lead_with_its_notes_in_and_no_task_hands_over_at_once() {
    let mut e = lead_engine(&["claude", "amp"]);
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
    takes_over(&mut e, 1_100, "amp", 1000);
    assert!(e.lead_snapshot().resting.is_empty());
}

#[test]
fn a_handoff_to_the_current_lead_is_refused_and_undoes_nothing() {
    let mut e = lead_engine(&["claude", "codex"]);
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

/// A lead that hits its usage limit hands the role over at once: it can write no notes (the
/// role waited for them while the run went on without a lead).
#[test]
fn a_lead_at_its_limit_hands_over_at_once() {
    let mut e = lead_engine(&["claude", "amp"]);
    e.step(5, screen("amp", AgentState::Idle, None, 950));
    let acts = e.step(10, quota("claude", "session-5h", 60.0));
    assert!(
        lead_actions(&acts).iter().all(|a| a != "handoff-prepare"),
        "{acts:?}"
    );
    let acts = e.step(20, screen("claude", AgentState::RateLimited, None, 900));
    assert_eq!(lead_actions(&acts), ["write claude->amp"], "{acts:?}");
    e.step(30, Event::HandoffWritten { to: "amp".into() });
    takes_over(&mut e, 100, "amp", 1000);
}

/// A successor whose screen answers the takeover prompt with its limit did not take over: the
/// next in the chain is tried (a takeover "delivered" to a limit screen was verified).
#[test]
fn a_successor_at_its_limit_does_not_take_over() {
    let mut e = lead_engine(&["claude", "amp", "codex"]);
    e.step(5, screen("amp", AgentState::Idle, None, 950));
    e.step(5, screen("codex", AgentState::Idle, None, 960));
    handoff_to_written(&mut e, 100, "amp");
    let shown = Some("[Pasted text #1 +12 lines]");
    let acts = e.step(200, screen("amp", AgentState::Idle, shown, 1000));
    assert!(acts.contains(&Action::Press {
        agent: "amp".into(),
        key: Key::Enter
    }));
    let acts = e.step(250, screen("amp", AgentState::RateLimited, None, 1001));
    assert!(
        acts.iter().any(|a| matches!(a, Action::Journal { what, .. }
            if what.starts_with("takeover prompt not read: the agent shows rate-limited"))),
        "{acts:?}"
    );
    assert!(
        lead_actions(&acts).contains(&"handoff-failed".to_owned()),
        "{acts:?}"
    );
    assert_ne!(e.lead(), Some("amp"));
    // Straight on to the next in the chain.
    assert!(
        lead_actions(&acts).contains(&"write claude->codex".to_owned()),
        "{acts:?}"
    );
}
