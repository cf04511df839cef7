//! Lead handoff end to end: a fake Claude lead whose quota climbs hands the role to a fake
//! Amp, rests, and gets the role back after its (simulated) reset; and a daemon killed in the
//! middle of a takeover finishes it once after a restart.

use std::time::Duration;

use crate::common;
use crate::common::TestProject;
use crate::common::assert_has;

const DEADLINE: Duration = Duration::from_secs(90);

fn count(p: &TestProject, action: &str) -> usize {
    p.journaled(action).len()
}

const DONE: &str =
    "run = [\"[ -z \\\"$BATON_FAKE_TASK\\\" ] || baton task done \\\"$BATON_FAKE_TASK\\\"\"]\n";

/// A fake-agent script: the `first` tasks, then any prompt worked on for 300 ms and reported
/// done.
fn then_any(first: &str) -> String {
    format!("{first}[[task]]\nrepeat = true\nwork_ms = 300\n{DONE}")
}

/// claude's script: its footer at 40 % (with a reset two hours away), then `tasks`, then
/// `then_any`.
fn claude_at_40(tasks: &str) -> String {
    then_any(&format!(
        "quota_percent = 40\nquota_reset = \"{}\"\n{tasks}",
        common::reset_in_two_hours()
    ))
}

fn config(p: &TestProject, claude: &str, amp: &str, codex: &str) {
    let agents = p.fake_agent("claude", "claude", claude)
        + &p.fake_agent("amp", "amp", amp)
        + &p.fake_agent("codex", "codex", codex);
    p.write_config(&format!(
        "{agents}[lead]\nchain = [\"claude\", \"amp\"]\nprepare_at = 85\nhandoff_at = 93\nnotes_deadline_secs = 30\n\n\
         [quota]\nsources = [\"screen\"]\n\n[run]\ntest_tasks = false\n"
    ));
}

#[test]
fn the_lead_hands_over_rests_and_gets_the_role_back() {
    let p = TestProject::new();
    let claude = claude_at_40(&format!(
        "[[task]]\nmatch = \"job c1\"\nwork_ms = 300\nquota_to = 88\n{DONE}\
         [[task]]\nmatch = \"lead-notes.md\"\nwork_ms = 300\nquota_to = 95\n\
         run = [\"printf 'Decided: keep the CLI flags stable.\\\\n' > .baton/lead-notes.md\"]\n\
         [[task]]\nmatch = \"quota reset\"\nwork_ms = 200\nquota_to = 5\n"
    ));
    let codex = then_any(&format!(
        "[[task]]\nmatch = \"long job\"\nwork_ms = 8000\n{DONE}"
    ));
    config(&p, &claude, &then_any(""), &codex);
    p.ok(&["up"]);
    p.ok(&["task", "add", "long job", "--to", "codex"]);
    p.ok(&["task", "add", "later job", "--after", "T-001"]);
    p.ok(&["task", "add", "job c1", "--to", "claude"]);
    common::wait_until(DEADLINE, "amp leads", || {
        p.journal().iter().any(|j| {
            j["action"] == "handoff-done"
                && j["result"].as_str().unwrap_or("").starts_with("amp leads")
        })
    });
    // The document: done, in progress, remaining, the notes.
    let doc = p.read_file("HANDOFF_TO_AMP.md");
    assert!(doc.starts_with("# HANDOFF: claude -> amp"), "{doc}");
    // baton is not on the system PATH here: its commands are named by its absolute path.
    let baton = std::fs::canonicalize(common::baton_bin()).unwrap();
    assert!(
        doc.contains(&format!("{} task list --status open", baton.display())),
        "{doc}"
    );
    let section = |name: &str| {
        let start = doc.find(name).unwrap_or_else(|| panic!("no {name}: {doc}"));
        let rest = &doc[start + name.len()..];
        rest[..rest.find("\n## ").unwrap_or(rest.len())].to_owned()
    };
    for (name, row) in [
        ("## Done", "| T-003 | job c1 | claude |"),
        ("## In progress", "| T-001 | long job | codex |"),
        ("## Remaining", "| MED | T-002 | later job |"),
        ("## Decisions", "Decided: keep the CLI flags stable."),
    ] {
        assert!(section(name).contains(row), "{doc}");
    }
    assert!(doc.contains("claude's quota**: session-5h 95%"), "{doc}");
    let amp_log = std::fs::read_to_string(p.prompt_log("amp")).unwrap();
    assert_has(&amp_log, &["[HANDOFF: claude -> amp]", "HANDOFF_TO_AMP.md"]);

    // claude rests: new work goes elsewhere.
    p.ok(&["task", "add", "work 1"]);
    p.ok(&["task", "add", "work 2"]);
    common::wait_until(DEADLINE, "work done", || {
        ["T-001", "T-002", "T-004", "T-005"]
            .iter()
            .all(|id| p.status(id) == "COMPLETED")
    });
    for id in ["T-004", "T-005"] {
        assert_ne!(
            p.json(&["task", "show", id, "--json"])["assignee"],
            "claude"
        );
    }
    let lead = p.json(&["lead", "--json"]);
    assert_eq!(lead["lead"], "amp", "{lead}");
    assert_eq!(
        lead["state"]["resting"],
        serde_json::json!(["claude"]),
        "{lead}"
    );

    // The reset: claude's footer drops to 5 %; the role comes back.
    p.ok(&["send", "claude", "quota reset"]);
    common::wait_until(DEADLINE, "claude leads again", || {
        p.json(&["lead", "--json"])["lead"] == "claude" && count(&p, "handoff-done") == 2
    });
    let back = p.read_file("HANDOFF_TO_CLAUDE.md");
    assert!(back.starts_with("# HANDOFF: amp -> claude"), "{back}");
    let claude_log = std::fs::read_to_string(p.prompt_log("claude")).unwrap();
    assert_eq!(
        claude_log.matches("[TASK").count(),
        1,
        "claude got no task while resting: {claude_log}"
    );
    assert!(claude_log.contains("[HANDOFF: amp -> claude]"));
    let lead = p.json(&["lead", "--json"]);
    let history = common::actions(&lead["history"]);
    assert_eq!(
        history.iter().filter(|a| **a == "handoff-done").count(),
        2,
        "{history:?}"
    );
    assert!(history.contains(&"handoff-prepare") && history.contains(&"lead-rest-end"));
    let orchlog = p.read_file("ORCHESTRATION_LOG.md");
    assert_eq!(orchlog.matches("| handoff-done |").count(), 2, "{orchlog}");
    assert_has(&orchlog, &["claude's quota came back: the role returns"]);
}

#[test]
fn a_daemon_killed_during_a_takeover_finishes_it_once() {
    let p = TestProject::new();
    let claude = claude_at_40(
        "[[task]]\nmatch = \"job c1\"\nwork_ms = 300\nquota_to = 95\n\
         run = [\"printf 'notes\\\\n' > .baton/lead-notes.md\", \"baton task done \\\"$BATON_FAKE_TASK\\\"\"]\n",
    );
    // amp is busy while the handoff starts: the takeover waits for it.
    let amp = then_any(&format!(
        "[[task]]\nmatch = \"busy job\"\nwork_ms = 6000\n{DONE}"
    ));
    config(&p, &claude, &amp, &then_any(""));
    p.ok(&["up"]);
    p.ok(&["task", "add", "busy job", "--to", "amp"]);
    common::wait_until(DEADLINE, "amp busy", || p.status("T-001") == "IN_PROGRESS");
    p.ok(&["task", "add", "job c1", "--to", "claude"]);
    common::wait_until(DEADLINE, "the handoff document written", || {
        count(&p, "handoff-start") == 1
    });
    assert_eq!(count(&p, "handoff-done"), 0, "amp is still busy");
    let pid: u32 = p.read_file(".baton/daemon.lock").trim().parse().unwrap();
    let killed = std::process::Command::new("kill")
        .args(["-9", &pid.to_string()])
        .status()
        .unwrap();
    assert!(killed.success());
    // Gone, or a zombie nobody reaped yet (its lock is released either way).
    common::wait_until(DEADLINE, "the killed daemon gone", || {
        std::fs::read_to_string(format!("/proc/{pid}/stat")).map_or(true, |s| {
            s.rsplit(')')
                .next()
                .is_some_and(|r| r.trim_start().starts_with('Z'))
        })
    });
    let up = p.ok(&["up"]);
    assert!(up.contains("daemon started"), "{up}");
    common::wait_until(DEADLINE, "the takeover verified", || {
        count(&p, "handoff-done") >= 1
    });
    assert_eq!(count(&p, "handoff-done"), 1);
    assert_eq!(count(&p, "handoff-start"), 1, "not started twice");
    let lead = p.json(&["lead", "--json"]);
    assert_eq!(lead["lead"], "amp", "{lead}");
    assert_eq!(lead["state"]["phase"], "leading", "{lead}");
    let amp_log = std::fs::read_to_string(p.prompt_log("amp")).unwrap();
    assert_eq!(
        amp_log.matches("[HANDOFF: claude -> amp]").count(),
        1,
        "{amp_log}"
    );
}

/// `baton handoff --to amp` before any daemon runs: it promises the handoff happens once the
/// daemon runs, and it does (the daemon read the journal only from its own start).
#[test]
fn a_handoff_asked_for_before_the_daemon_runs_is_carried_out() {
    let p = TestProject::new();
    let any = then_any("");
    config(&p, &any, &any, &any);
    let asked = p.ok(&["handoff", "--to", "amp"]);
    assert!(asked.contains("once the daemon runs"), "{asked}");
    // To the lead itself: refused at once.
    assert_has(
        &p.exec(&["handoff", "--to", "claude"]).expect_code(1).stderr,
        &["claude already leads"],
    );
    let own = p.run(&["handoff", "--to", "claude", "--json"]);
    let view: serde_json::Value = serde_json::from_slice(&own.stdout).unwrap();
    assert_eq!(
        view["from"], "claude",
        "the refusal names who leads: {view}"
    );
    p.ok(&["up"]);
    common::wait_until(DEADLINE, "amp leads", || {
        p.json(&["lead", "--json"])["lead"] == "amp"
    });
    assert_eq!(count(&p, "handoff-done"), 1);
    p.ok(&["down"]);
}
