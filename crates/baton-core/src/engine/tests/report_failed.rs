//! Failed reports: a `baton` call the agent's screen shows failing is journaled and answered
//! with baton's full path instead of counting as a silent turn.

use super::*;
use crate::engine::report_failed::scan;

/// An engine with one idle agent `a` that was just given T-001; returns the prompt.
fn given_a_task(settings: Settings) -> (Engine, String) {
    let mut e = engine(settings, vec![agent("a", &[])]);
    let acts = e.step(1, Event::TaskAdded(task(1, Priority::Med, &[], &[])));
    let prompt = pasted_to(&acts, "a").pop().expect("a prompt");
    deliver(&mut e, 10, "a", 200);
    (e, prompt)
}

fn failures(lines: &[&str]) -> Event {
    Event::ReportFailures {
        agent: "a".into(),
        lines: lines.iter().map(|l| (*l).to_owned()).collect(),
    }
}

fn settings(cmd: &str) -> Settings {
    Settings {
        baton_cmd: cmd.into(),
        baton_path: "'/opt/my tools/baton'".into(),
        ..Settings::default()
    }
}

#[test]
fn prompts_nudges_and_the_takeover_name_baton_as_told() {
    for lang in ["en", "fr"] {
        let mut s = settings("'/opt/my tools/baton'");
        s.template = prompt::builtin(lang).unwrap().to_owned();
        s.texts = prompt::Texts::for_language(lang);
        let (mut e, prompt) = given_a_task(s);
        assert!(
            prompt.contains(": '/opt/my tools/baton' task done T-001 --note"),
            "{prompt}"
        );
        assert!(prompt.contains(": '/opt/my tools/baton' task block T-001 --reason"));
        assert!(!prompt.contains("{baton}"), "{prompt}");
        let texts = &e.settings.texts;
        for t in [&texts.nudge, &texts.reminder, &texts.takeover] {
            assert!(t.contains("'/opt/my tools/baton' "), "{t}");
            assert!(!t.contains("{baton}") && !t.contains(" baton task"), "{t}");
        }
        // The nudge after a silent turn.
        e.step(2000, screen("a", AgentState::Finished, None, 300));
        let acts = e.step(2000 + 1600, Event::Tick);
        let nudge = pasted_to(&acts, "a").pop().expect("a nudge");
        assert!(
            nudge.contains("'/opt/my tools/baton' task done T-001"),
            "{nudge}"
        );
    }
    // By default (baton found on the login shell's PATH): plain `baton`.
    let (_, prompt) = given_a_task(Settings::default());
    assert!(
        prompt.contains("Run: baton task done T-001 --note"),
        "{prompt}"
    );
}

#[test]
fn an_agent_on_another_host_is_told_its_own_baton() {
    let remote = AgentSpec {
        baton: Some("/srv/work/.baton/bin/baton".into()),
        ..agent("far", &[])
    };
    let mut e = engine(
        settings("'/opt/my tools/baton'"),
        vec![remote, agent("near", &[])],
    );
    let acts = e.step(1, Event::TaskAdded(task(1, Priority::Med, &[], &[])));
    let acts2 = e.step(2, Event::TaskAdded(task(2, Priority::Med, &[], &[])));
    let all: Vec<Action> = acts.into_iter().chain(acts2).collect();
    let far = pasted_to(&all, "far").pop().expect("a prompt for far");
    let near = pasted_to(&all, "near").pop().expect("a prompt for near");
    assert!(
        far.contains("/srv/work/.baton/bin/baton task done T-"),
        "{far}"
    );
    assert!(!far.contains("/opt/my tools/baton"), "{far}");
    assert!(
        near.contains("'/opt/my tools/baton' task done T-"),
        "{near}"
    );
    // Its nudge after a silent turn names the same baton.
    let id = if far.contains("T-001") { 1 } else { 2 };
    deliver(&mut e, 10, "far", 200);
    e.step(2000, screen("far", AgentState::Finished, None, 300));
    let acts = e.step(2000 + 1600, Event::Tick);
    let nudge = pasted_to(&acts, "far").pop().expect("a nudge");
    assert!(
        nudge.contains(&format!("/srv/work/.baton/bin/baton task done T-00{id}")),
        "{nudge}"
    );
}

#[test]
fn a_failed_report_is_journaled_and_answered_instead_of_counted() {
    let (mut e, _) = given_a_task(settings("baton"));
    let line = "└ bash: line 1: baton: command not found";
    let acts = e.step(500, failures(&[line]));
    assert!(
        acts.contains(&Action::ReportFailed {
            agent: "a".into(),
            task: Some(TaskId(1)),
            line: line.into(),
        }),
        "{acts:?}"
    );
    // The same line read again is not a new failure.
    let acts = e.step(600, failures(&[line]));
    assert!(
        !acts
            .iter()
            .any(|a| matches!(a, Action::ReportFailed { .. })),
        "{acts:?}"
    );
    // The turn ends: the answer (baton's full path), no nudge, nothing for review.
    let acts = turn_end(&mut e, 700, "a");
    let sent = pasted_to(&acts, "a");
    assert_eq!(sent.len(), 1, "{acts:?}");
    assert!(
        sent[0].contains("'/opt/my tools/baton' task done T-001 --note"),
        "{}",
        sent[0]
    );
    assert!(
        !sent[0].contains("not reported. If"),
        "a nudge: {}",
        sent[0]
    );
    assert_eq!(
        scan(&sent[0]),
        Vec::<String>::new(),
        "the answer must not match"
    );
    assert!(
        !acts
            .iter()
            .any(|a| matches!(a, Action::MarkUnreported { .. })),
        "{acts:?}"
    );
    deliver(&mut e, 800, "a", 900);
    // The agent reports with the full path: the task is done, nothing else happens.
    let acts = done(&mut e, 1000, 1);
    let acts2 = turn_end(&mut e, 1100, "a");
    assert!(
        !acts
            .iter()
            .chain(&acts2)
            .any(|a| matches!(a, Action::MarkUnreported { .. } | Action::Paste { .. })),
        "{acts:?} {acts2:?}"
    );
}

#[test]
fn after_the_answer_a_silent_turn_counts_again() {
    let (mut e, _) = given_a_task(settings("baton"));
    e.step(500, failures(&["zsh: command not found: baton"]));
    let acts = turn_end(&mut e, 700, "a");
    assert_eq!(pasted_to(&acts, "a").len(), 1, "{acts:?}");
    deliver(&mut e, 800, "a", 900);
    // The answer's turn ends silently: the usual nudge, then review.
    let acts = turn_end(&mut e, 1000, "a");
    assert!(
        pasted_to(&acts, "a")
            .iter()
            .any(|p| p.contains("T-001 is not reported")),
        "{acts:?}"
    );
    deliver(&mut e, 1100, "a", 1200);
    let acts = turn_end(&mut e, 1300, "a");
    assert!(
        acts.iter()
            .any(|a| matches!(a, Action::MarkUnreported { .. })),
        "{acts:?}"
    );
}

#[test]
fn a_new_failure_after_old_ones_scrolled_off_counts() {
    let (mut e, _) = given_a_task(settings("baton"));
    let l = "bash: baton: command not found";
    let n = |acts: &[Action]| {
        acts.iter()
            .filter(|a| matches!(a, Action::ReportFailed { .. }))
            .count()
    };
    assert_eq!(n(&e.step(100, failures(&[l]))), 1);
    assert_eq!(n(&e.step(200, failures(&[l, l]))), 1);
    assert_eq!(n(&e.step(300, failures(&[]))), 0);
    assert_eq!(n(&e.step(400, failures(&[l]))), 1);
}

#[test]
fn scan_finds_failed_baton_calls() {
    let screens = [
        // Codex 0.169.0 (bash -lc), as the conformance tier saw it.
        "• Ran baton task done T-001 --note naive\n  └ /bin/bash: line 1: baton: command not found\n",
        "zsh:1: command not found: baton\n",
        "sh: 1: baton: not found\n",
        "/bin/bash: line 1: /tmp/gone/baton: No such file or directory\n",
        // baton's own error under the report.
        "• Ran '/opt/b/baton' task done T-009\n  └ error: unknown task T-009\n",
        "● Bash(baton task block T-002 --reason \"x\")\n  ⎿  Error: Exit code 1\n     error: the store is locked\n",
    ];
    for s in screens {
        assert_eq!(scan(s).len(), 1, "{s}");
    }
    let fine = [
        // The prompt itself, a nudge, the answer.
        "Run: baton task done T-001 --note \"<one line>\"\nIf you cannot finish, run: baton task block T-001 --reason \"<why>\"\n",
        "Your turn ended but T-001 is not reported. If it is done, run: baton task done T-001 --note \"…\".\n",
        // An error of another command, after a report that worked.
        "• Ran baton task done T-001\n  └ T-001 COMPLETED\n\n• Ran cargo build\n  └ error: could not compile\n",
        "rebaton: command not found\n",
        "error: no baton here\n",
    ];
    for s in fine {
        assert_eq!(scan(s), Vec::<String>::new(), "{s}");
    }
    assert_eq!(
        scan("x\n  └ bash: line 1: baton: command not found\n"),
        vec!["└ bash: line 1: baton: command not found".to_owned()]
    );
}
