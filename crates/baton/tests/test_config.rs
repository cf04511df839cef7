//! Configuration that tells the truth, and the files baton writes in the user's repository:
//! `[run] template` checked before anything starts, warnings for typos, value errors with
//! their line, `.baton/` in `.gitignore`, `[session] reports_dir`.

use crate::common::TestProject;
use crate::common::assert_has;
use crate::common::find_check;
use crate::common::git;
use crate::common::line_with;

/// A template file that is not there fails `baton doctor`, and `baton run --goal` refuses
/// before it creates a task or starts the session.
#[test]
fn a_missing_template_is_caught_by_doctor_and_before_run_starts_anything() {
    let p = TestProject::new();
    let agent = p.fake_agent("claude", "claude", "");
    p.write_config(&format!("{agent}[run]\ntemplate = \"nofile.md\"\n"));
    let (code, checks) = p.doctor();
    assert_eq!(code, Some(1), "{checks:#}");
    let t = find_check(&checks, "template").unwrap_or_else(|| panic!("{checks:#}"));
    assert_eq!(t["ok"], false, "{t}");
    assert!(t["detail"].as_str().unwrap().contains("nofile.md"), "{t}");

    assert_has(
        &p.exec(&["run", "--goal", "Add a --json flag"])
            .expect_code(1)
            .stderr,
        &["baton.toml:13:1: run.template: cannot read `nofile.md`"],
    );
    let tasks = p.json(&["task", "list", "--json"]);
    assert_eq!(
        tasks.as_array().unwrap().len(),
        0,
        "a task was created: {tasks:#}"
    );
    assert!(
        !p.tmux(&["has-session", "-t", &p.session]).status.success(),
        "the session was started"
    );

    // With the file there, doctor passes it.
    p.write_file("nofile.md", "Do {id}: {title}\n");
    p.expect_check("template", true);
}

/// `[profile.clude]` (a typo) and a pattern group nothing reads are warnings doctor prints
/// with their line; they do not fail it.
#[test]
fn doctor_prints_the_warnings_of_the_configuration() {
    let p = TestProject::new();
    let agent = p.fake_agent("claude", "claude", "");
    p.write_config(&format!(
        "{agent}[profile.clude]\nargs = [\"--model\", \"opus\"]\n\n[profile.claude.patterns]\ninput = ['^> (?P<txt>.*)$']\n"
    ));
    // The input pattern lacks `text`: that one is an error, with its line.
    assert_has(
        &p.exec(&["doctor"]).expect_code(1).stdout,
        &["patterns.input[0]"],
    );

    p.write_config(&format!(
        "{agent}[profile.clude]\nargs = [\"--model\", \"opus\"]\n\n[profile.claude.patterns]\ninput = ['^> (?P<text>.*) (?P<mode>\\w+)$']\n"
    ));
    let (code, checks) = p.doctor();
    let warnings: Vec<&serde_json::Value> = checks
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["warning"] == true)
        .collect();
    assert_eq!(warnings.len(), 2, "{checks:#}");
    let typo = warnings
        .iter()
        .find(|w| w["detail"].as_str().unwrap().contains("profile `clude`"))
        .unwrap_or_else(|| panic!("{checks:#}"));
    let detail = typo["detail"].as_str().unwrap();
    // The session header takes 6 lines, the agent 5: [profile.clude] is on line 12.
    assert!(detail.contains("baton.toml:12:"), "{detail}");
    assert!(detail.contains("a typo of `claude`?"), "{detail}");
    let group = warnings
        .iter()
        .find(|w| w["detail"].as_str().unwrap().contains("`mode`"))
        .unwrap_or_else(|| panic!("{checks:#}"));
    assert!(
        group["detail"]
            .as_str()
            .unwrap()
            .contains("profile.claude.patterns.input[0]"),
        "{group}"
    );
    assert_eq!(code, Some(0), "warnings do not fail doctor: {checks:#}");
    line_with(&p.exec(&["doctor"]).stdout, "warn", &["clude"]);
}

/// Value errors name the line and the key, as type errors do.
#[test]
fn value_errors_name_their_line() {
    let p = TestProject::new();
    let agent = p.fake_agent("claude", "claude", "");
    p.write_config(&format!("{agent}[quota]\ncritical = 90\nwarn = 95\n"));
    assert_has(
        &p.exec(&["ls"]).expect_code(1).stderr,
        &["baton.toml:14:1: quota.warn: `95` is above critical (90)"],
    );
    p.write_config(&format!("{agent}[lead]\nchain = [\"claude\", \"codex\"]\n"));
    assert_has(
        &p.exec(&["ls"]).stderr,
        &["baton.toml:13:20: lead.chain[1]: `codex` is not the name of an [[agent]]"],
    );
}

/// In a git repository `baton init` adds `.baton/` to `.gitignore` (once, keeping the
/// user's bytes) and says which files it writes at the root and how to move them; outside
/// one it writes no `.gitignore`.
#[test]
fn init_ignores_the_state_dir_in_git_and_names_the_files_it_writes() {
    let p = TestProject::new();
    git(p.root(), &["init", "-q", "-b", "main"]);
    let mine = "target\n# keep\r\n/node_modules";
    p.write_file(".gitignore", mine);
    let out = p.ok(&["init"]);
    assert_eq!(p.read_file(".gitignore"), format!("{mine}\n.baton/\n"));
    assert_has(
        &out,
        &[
            "ORCHESTRATION_LOG.md",
            "REPORT.md",
            "HANDOFF_TO_",
            "reports_dir",
            ".gitignore",
        ],
    );
    assert_has(&p.read_file("baton.toml"), &["# reports_dir = "]);
    p.ok(&["init", "--force"]);
    assert_eq!(
        p.read_file(".gitignore"),
        format!("{mine}\n.baton/\n"),
        "not added twice"
    );
    let status = git(
        p.root(),
        &["status", "--porcelain", "--untracked-files=all"],
    );
    assert!(!status.contains(".baton"), "{status}");

    // No .gitignore of its own: one is created.
    let q = TestProject::new();
    git(q.root(), &["init", "-q", "-b", "main"]);
    q.ok(&["init"]);
    assert_eq!(q.read_file(".gitignore"), ".baton/\n");
    // Not in a repository: nothing to ignore.
    let r = TestProject::new();
    let out = r.ok(&["init"]);
    assert!(!r.root().join(".gitignore").exists());
    assert_has(&out, &["REPORT.md", "reports_dir"]);
}

/// `[session] reports_dir` moves ORCHESTRATION_LOG.md and REPORT.md (HANDOFF_TO_*.md: the
/// unit tests of `handoff.rs`).
#[test]
fn reports_dir_moves_the_log_and_the_report() {
    let p = TestProject::new();
    let done = "[[task]]\nrepeat = true\nwork_ms = 100\nrun = [\"baton task done \\\"$BATON_FAKE_TASK\\\"\"]\n";
    let agent = p.fake_agent("claude", "claude", done);
    p.write_config(&format!(
        "reports_dir = \"docs/runs\"\n\n{agent}[run]\ntest_tasks = false\n"
    ));
    p.ok(&["task", "add", "Parse the config"]);
    assert_has(&p.ok(&["run", "--quiet"]), &["docs/runs/REPORT.md"]);
    assert!(p.root().join("docs/runs/REPORT.md").is_file());
    assert!(!p.root().join("REPORT.md").exists());
    assert!(!p.root().join("ORCHESTRATION_LOG.md").exists());
    assert_has(
        &p.read_file("docs/runs/ORCHESTRATION_LOG.md"),
        &["task-add", "task-done"],
    );
}
