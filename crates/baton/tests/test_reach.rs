//! Reports that must reach baton although the agent's shell does not have it on its PATH
//! (Codex runs commands in a login shell, whose profile resets PATH): prompts name baton so
//! that any shell finds it, and a failed report seen on screen is journaled and answered.
//!
//! The fake agent plays such a CLI: its commands run with PATH reset to the system's
//! (`/usr/bin:/bin`, what Debian's /etc/profile does), and it runs the command its prompt
//! gives, as a model would.

use std::path::Path;

use crate::common::TestProject;
use crate::common::assert_has;
use crate::common::baton_bin;
use crate::common::line_with;
use crate::common::prompts;

/// A fake-agent `run` entry: takes the last `<marker><command> task done <task>` from the
/// agent's prompt log and runs that command with the system PATH only.
fn run_from_prompt(log: &Path, marker: &str) -> String {
    format!(
        "run = ['''line=$(grep -a -o -- \"{marker}.* task done $BATON_FAKE_TASK\" '{}' | tail -n 1); cmd=${{line#\"{marker}\"}}; PATH=/usr/bin:/bin; eval \"$cmd --note 'from a login shell'\"''']\n",
        log.display()
    )
}

/// The `task-done` entries of the journal: (task, actor).
fn done_by(p: &TestProject) -> Vec<(String, String)> {
    p.journaled("task-done")
        .iter()
        .map(|e| {
            (
                e["task"].as_str().unwrap_or("").to_owned(),
                e["actor"].as_str().unwrap_or("").to_owned(),
            )
        })
        .collect()
}

/// Runs `plan` (no test tasks) with one agent, codex, playing `script`; returns what
/// `baton run` printed.
fn run_codex(p: &TestProject, script: &str, plan: &str) -> String {
    p.write_config(&format!(
        "{}[run]\ntest_tasks = false\n",
        p.fake_agent("codex", "codex", script)
    ));
    p.write_plan(plan);
    p.ok(&["run", "plan.md", "--quiet"])
}

/// baton is not on the system PATH here (the test binary's directory): the prompts give its
/// absolute path, and an agent running it from a login shell reports both tasks itself.
#[test]
fn prompts_name_baton_so_a_login_shell_finds_it() {
    let p = TestProject::new();
    let script = format!(
        "[[task]]\nrepeat = true\nwork_ms = 1000\n{}",
        run_from_prompt(&p.prompt_log("codex"), "Run: ")
    );
    assert_has(
        &run_codex(&p, &script, "- [ ] first\n- [ ] second\n"),
        &["finished: 2 completed"],
    );
    let first = String::from_utf8_lossy(&prompts(&p.prompt_log("codex"))[0]).into_owned();
    let bin = std::fs::canonicalize(baton_bin()).unwrap();
    assert!(
        first.contains(&format!("Run: {} task done T-001", bin.display())),
        "{first}"
    );
    let done = done_by(&p);
    assert_eq!(
        done,
        [
            ("T-001".to_owned(), "codex".to_owned()),
            ("T-002".to_owned(), "codex".to_owned())
        ],
        "each task reported by the agent, none completed for review: {:?}",
        p.journal()
    );
}

/// The agent's report fails on screen (`baton: command not found`): baton journals it and
/// answers with the command to run, instead of taking the turn for silence.
#[test]
fn a_failed_report_on_screen_is_journaled_and_answered() {
    let p = TestProject::new();
    let script = format!(
        "report = false\n[[task]]\nmatch = \"[baton] Your last baton command\"\nrepeat = true\nwork_ms = 100\n{}\n\
         [[task]]\nrepeat = true\nwork_ms = 1500\nreply = \"bash: line 1: baton: command not found\"\n",
        run_from_prompt(&p.prompt_log("codex"), "full path: ")
    );
    assert_has(
        &run_codex(&p, &script, "- [ ] only\n"),
        &["finished: 1 completed"],
    );
    let journal = p.journal();
    let failed: Vec<_> = journal
        .iter()
        .filter(|e| e["action"] == "report-failed")
        .collect();
    assert_eq!(failed.len(), 1, "{journal:?}");
    assert_eq!(failed[0]["task"], "T-001");
    assert_eq!(failed[0]["target"], "codex");
    assert!(
        failed[0]["result"]
            .as_str()
            .unwrap_or("")
            .contains("baton: command not found"),
        "{:?}",
        failed[0]
    );
    let bin = std::fs::canonicalize(baton_bin()).unwrap();
    let answer = prompts(&p.prompt_log("codex"))
        .iter()
        .map(|b| String::from_utf8_lossy(b).into_owned())
        .find(|t| t.starts_with("[baton] Your last baton command"))
        .expect("the answer");
    assert!(
        answer.contains(&format!("{} task done T-001", bin.display())),
        "{answer}"
    );
    assert_eq!(
        done_by(&p),
        [("T-001".to_owned(), "codex".to_owned())],
        "{journal:?}"
    );
    assert!(
        !journal.iter().any(|e| e["action"] == "task-review"),
        "{journal:?}"
    );
}

/// `baton doctor` warns when an agent's CLI runs commands in a login shell that does not
/// find this baton, and says what prompts use instead; the warning fails nothing.
#[test]
fn doctor_warns_when_a_login_shell_does_not_find_baton() {
    let p = TestProject::with_fake_agents(&[("codex", "codex", ""), ("claude", "claude", "")]);
    let stdout = p.exec(&["doctor"]).stdout;
    let bin = std::fs::canonicalize(baton_bin()).unwrap();
    let line = line_with(&stdout, "", &["login shell"]);
    assert!(line.starts_with("warn"), "{line}");
    assert!(
        line.contains("codex:") && !line.contains("claude"),
        "{line}"
    );
    assert!(line.contains(&bin.display().to_string()), "{line}");
    let check = p.expect_check("login shell", true);
    assert_eq!(check["warning"], true, "{check}");
}
