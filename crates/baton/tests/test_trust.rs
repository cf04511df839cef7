//! What baton says happened is what happened: tasks go out in priority order, work nobody
//! reported is not called COMPLETED, and the review settles it.

use crate::common::TestProject;
use crate::common::assert_has;
use crate::common::journal_at as journal;
use crate::common::project_with_agent;

/// The order in which tasks were started, from the journal.
fn starts(p: &TestProject) -> Vec<String> {
    journal(p.root())
        .iter()
        .filter(|j| j["action"] == "task-start")
        .filter_map(|j| j["task"].as_str().map(str::to_owned))
        .collect()
}

/// A project with the fake agents `a` (Claude) and `b` (Codex, running `b_script` too), each
/// working 200 ms on a prompt; `tables` end its baton.toml.
fn a_and_b(b_script: &str, tables: &str) -> TestProject {
    let p = TestProject::new();
    p.write_config(&format!(
        "{}{}{tables}",
        p.fake_agent("a", "claude", "default_work_ms = 200\n"),
        p.fake_agent("b", "codex", &format!("default_work_ms = 200\n{b_script}"))
    ));
    p
}

fn task_json(p: &TestProject, id: &str) -> serde_json::Value {
    p.json(&["task", "show", id, "--json"])
}

/// Features LOW, HIGH, MED (in that order of IDs) built by `a` while `b` works on a slow
/// one: when `b` finishes, every test task is added in one step while `a` is free, and `a`
/// takes its own HIGH, MED, LOW. The daemon once fed the events of one step newest first, so
/// the LOW feature's test went out first.
#[test]
fn test_tasks_added_together_go_out_by_priority() {
    let p = a_and_b(
        "[[task]]\nmatch = \"slow feature\"\nwork_ms = 4000\n",
        "[run]\nstuck_after_secs = 30\n",
    );
    p.write_plan("- [ ] low feature !low @a\n- [ ] high feature !high @a\n- [ ] med feature !med @a\n- [ ] slow feature @b\n");
    let stdout = p.ok(&["run", "plan.md", "--quiet"]);
    assert!(
        stdout.contains("finished: 8 completed, 0 blocked, 0 waiting"),
        "{stdout}"
    );
    let list = p.json(&["task", "list", "--json"]);
    let test_of = |feature: &str| {
        list.as_array()
            .unwrap()
            .iter()
            .find(|t| t["deps"].as_array().unwrap().iter().any(|d| d == feature))
            .map(|t| t["id"].as_str().unwrap().to_owned())
            .unwrap_or_else(|| panic!("no test task for {feature}: {list}"))
    };
    let tests_of_a = [test_of("T-001"), test_of("T-002"), test_of("T-003")];
    let order: Vec<String> = starts(&p)
        .into_iter()
        .filter(|t| tests_of_a.contains(t))
        .collect();
    assert_eq!(
        order,
        [test_of("T-002"), test_of("T-003"), test_of("T-001")],
        "a's test tasks by priority (HIGH, MED, LOW)"
    );
}

/// Runs `baton run plan.md --quiet`, which must exit 4 (work not done) and say `what` is
/// left; returns its stdout.
fn run_not_all_done(p: &TestProject, what: &str) -> String {
    let run = p.exec(&["run", "plan.md", "--quiet"]);
    run.expect_code(4);
    assert_has(&run.stderr, &[&format!("not all done: {what};")]);
    run.stdout
}

/// Agents that never report: their work is UNREPORTED, not COMPLETED; the run says so; with
/// no lead a person gets a review task (BLOCKED for a person) with the agent's screen and the
/// diff; dependents wait; confirming the task closes its review and lets the dependent go.
#[test]
fn work_nobody_reported_waits_for_a_review() {
    let p = project_with_agent(
        "claude",
        "claude",
        "report = false\ndefault_work_ms = 200\n[[task]]\nrepeat = true\nwork_ms = 200\nreply = \"I wrote notes.txt.\"\nwrite = [{ path = \"notes.txt\", content = \"some work\\n\" }]\n",
        "[run]\nstuck_after_secs = 30\ntest_tasks = false\n",
    );
    p.write_plan("- [ ] write the notes {notes}\n- [ ] publish the notes after:notes\n");
    let stdout = run_not_all_done(&p, "1 UNREPORTED, 1 BLOCKED, 1 PENDING");
    assert!(
        stdout.contains("finished: 1 done, unreported: review · 0 completed, 1 blocked, 1 waiting"),
        "{stdout}"
    );
    let t1 = task_json(&p, "T-001");
    assert_eq!(t1["status"], "UNREPORTED", "{t1}");
    // The dependent never started.
    assert_eq!(task_json(&p, "T-002")["status"], "PENDING");
    // The review: for a person, with the agent's screen lines.
    let review = task_json(&p, "T-003");
    assert_eq!(review["status"], "BLOCKED", "{review}");
    assert_eq!(review["review_of"], "T-001", "{review}");
    let body = review["body"].as_str().unwrap();
    assert!(body.contains("I wrote notes.txt."), "{body}");
    assert!(body.contains("baton task reopen T-001"), "{body}");
    assert!(
        review["blocked_reason"]
            .as_str()
            .unwrap()
            .starts_with("needs a person: review T-001"),
        "{review}"
    );
    let ls = p.ok(&["ls"]);
    assert!(ls.contains("unreported"), "{ls}");
    let report = std::fs::read_to_string(p.root().join("REPORT.md")).unwrap();
    assert!(report.contains("- Done, unreported: 1 (T-001)"), "{report}");
    assert!(report.contains("| UNREPORTED |"), "{report}");

    // The person confirms T-001: its review closes; T-002 can now go.
    p.ok(&["task", "done", "T-001", "--note", "checked notes.txt"]);
    assert_eq!(task_json(&p, "T-001")["status"], "COMPLETED");
    let done = journal(p.root())
        .into_iter()
        .rfind(|j| j["action"] == "task-done" && j["task"] == "T-001")
        .unwrap();
    assert_eq!(done["actor"], "user", "the journal says who confirmed it");
    assert_eq!(done["result"], "UNREPORTED → COMPLETED");
    let out = p.run(&["run", "plan.md", "--quiet"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        task_json(&p, "T-003")["status"],
        "CANCELLED",
        "the review closed: {stdout}"
    );
    assert_eq!(task_json(&p, "T-002")["status"], "UNREPORTED", "{stdout}");
}

/// `baton task reopen`: a COMPLETED task goes back to PENDING with the reason as a note; a
/// PENDING one cannot be reopened; the reason is required.
#[test]
fn a_completed_task_can_be_reopened_with_a_reason() {
    let p = TestProject::new();
    p.write_config("");
    p.ok(&["task", "add", "Parse the config"]);
    p.ok(&["task", "start", "T-001"]);
    p.ok(&["task", "done", "T-001"]);
    let no_reason = p.exec(&["task", "reopen", "T-001", "--reason", " "]);
    assert_has(&no_reason.expect_code(1).stderr, &["needs a reason"]);
    p.ok(&[
        "task",
        "reopen",
        "T-001",
        "--reason",
        "the tests fail on CRLF files",
    ]);
    let t = task_json(&p, "T-001");
    assert_eq!(t["status"], "PENDING", "{t}");
    assert!(
        t["notes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|n| n == "reopened: the tests fail on CRLF files"),
        "{t}"
    );
    let again = p.exec(&["task", "reopen", "T-001", "--reason", "x"]);
    assert_has(
        &again.expect_code(1).stderr,
        &["only a COMPLETED or UNREPORTED task"],
    );
    // Reopening is the way back from COMPLETED: `requeue` says so.
    p.ok(&["task", "start", "T-001"]);
    p.ok(&["task", "done", "T-001"]);
    assert_has(
        &p.exec(&["task", "requeue", "T-001"]).stderr,
        &["baton task reopen"],
    );
}

/// With a lead, the review of unreported work goes to the lead, and the run does not end
/// before the review is done (it once finished while the review was still being pasted).
#[test]
fn the_lead_gets_the_review_and_the_run_waits_for_it() {
    let p = a_and_b(
        "report = false\n",
        "[lead]\nchain = [\"a\", \"b\"]\n\n[run]\nstuck_after_secs = 30\ntest_tasks = false\n",
    );
    p.write_plan("- [ ] Write the lexer @b\n");
    let stdout = run_not_all_done(&p, "1 UNREPORTED");
    let review = task_json(&p, "T-002");
    assert_eq!(review["review_of"], "T-001", "{review}");
    assert_eq!(review["assignee"], "a", "{review}");
    // The lead reported its review done (without deciding): the run waited for it.
    assert_eq!(review["status"], "COMPLETED", "{review}\n{stdout}");
    assert_eq!(task_json(&p, "T-001")["status"], "UNREPORTED");
    assert!(
        stdout.contains("finished: 1 done, unreported: review · 1 completed, 0 blocked, 0 waiting"),
        "{stdout}"
    );
    let finished = journal(p.root())
        .iter()
        .filter(|j| j["action"] == "run-finished")
        .count();
    assert_eq!(finished, 1, "one run-finished entry");
}

/// `baton ls` in a project whose store was deleted says so (it listed the agents in silence).
#[test]
fn ls_says_when_the_store_was_deleted() {
    let p = TestProject::new();
    p.write_config("");
    p.ok(&["task", "add", "one"]);
    assert!(p.ok(&["ls"]).contains("tasks: 0/1 completed, 1 pending"));
    std::fs::remove_file(p.root().join(".baton/state.db")).unwrap();
    assert_has(&p.exec(&["ls"]).stderr, &["warning:", "deleted"]);
    assert!(
        !p.root().join(".baton/state.db").exists(),
        "no empty store made"
    );
}

/// A verify that fails: the run exits 4 and says so; run again with nothing new to do, it
/// still says the last verify FAILED (it said "passed", and rewrote REPORT.md so), and the
/// journal names a failure without output as such.
#[test]
fn a_failed_verify_is_still_failed_when_the_run_is_resumed() {
    let p = project_with_agent(
        "claude",
        "claude",
        "default_work_ms = 100\n",
        "[verify]\ncommands = [\"test -f never.txt\"]\nmax_fix_cycles = 0\n\n[run]\ntest_tasks = false\n",
    );
    p.write_plan("- [ ] write the parser\n");
    for round in ["first", "again"] {
        let stdout = run_not_all_done(&p, "the last verify failed");
        assert!(
            stdout.contains("finished: 1 completed, 0 blocked, 0 waiting, last verify FAILED"),
            "{round}: {stdout}"
        );
        let report = std::fs::read_to_string(p.root().join("REPORT.md")).unwrap();
        assert!(report.contains("last verify FAILED"), "{round}: {report}");
        assert!(!report.contains("last verify passed"), "{round}: {report}");
    }
    let json = p.run(&["run", "plan.md", "--json"]);
    let summary: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(json.status.code(), Some(4), "{summary}");
    assert_eq!(summary["verify"]["last"], "failed", "{summary}");
    assert_eq!(summary["finished"], true, "{summary}");
    assert_eq!(summary["exit_code"], 4, "{summary}");
    let verify: Vec<String> = journal(p.root())
        .iter()
        .filter(|j| j["action"] == "verify")
        .map(|j| j["result"].as_str().unwrap_or("").to_owned())
        .collect();
    assert_eq!(
        verify,
        ["wave 1: `test -f never.txt` FAILED (no output)"],
        "one verify, in the first run only"
    );
}
