//! Configuration that tells the truth, and the files baton writes in the user's repository:
//! `[run] template` checked before anything starts, warnings for typos, value errors with
//! their line, `.baton/` in `.gitignore`, `[session] reports_dir`.

use crate::common::TestProject;
use crate::common::git;

fn doctor(p: &TestProject) -> (Option<i32>, serde_json::Value) {
    let out = p.run(&["doctor", "--json"]);
    let v = serde_json::from_slice(&out.stdout)
        .unwrap_or_else(|e| panic!("{e}: {}", String::from_utf8_lossy(&out.stdout)));
    (out.status.code(), v)
}

fn find<'a>(checks: &'a serde_json::Value, name: &str) -> Option<&'a serde_json::Value> {
    checks
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == name)
}

/// A template file that is not there fails `baton doctor`, and `baton run --goal` refuses
/// before it creates a task or starts the session.
#[test]
fn a_missing_template_is_caught_by_doctor_and_before_run_starts_anything() {
    let p = TestProject::new();
    let agent = p.fake_agent("claude", "claude", "");
    p.write_config(&format!("{agent}[run]\ntemplate = \"nofile.md\"\n"));
    let (code, checks) = doctor(&p);
    assert_eq!(code, Some(1), "{checks:#}");
    let t = find(&checks, "template").unwrap_or_else(|| panic!("{checks:#}"));
    assert_eq!(t["ok"], false, "{t}");
    assert!(t["detail"].as_str().unwrap().contains("nofile.md"), "{t}");

    let out = p.run(&["run", "--goal", "Add a --json flag"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("baton.toml:13:1: run.template: cannot read `nofile.md`"),
        "{err}"
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
    std::fs::write(p.root().join("nofile.md"), "Do {id}: {title}\n").unwrap();
    let (_, checks) = doctor(&p);
    assert_eq!(find(&checks, "template").unwrap()["ok"], true, "{checks:#}");
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
    let out = p.run(&["doctor"]);
    let text = String::from_utf8_lossy(&out.stdout);
    // The input pattern lacks `text`: that one is an error, with its line.
    assert_eq!(out.status.code(), Some(1), "{text}");
    assert!(text.contains("patterns.input[0]"), "{text}");

    p.write_config(&format!(
        "{agent}[profile.clude]\nargs = [\"--model\", \"opus\"]\n\n[profile.claude.patterns]\ninput = ['^> (?P<text>.*) (?P<mode>\\w+)$']\n"
    ));
    let (code, checks) = doctor(&p);
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
    let text = String::from_utf8_lossy(&p.run(&["doctor"]).stdout).into_owned();
    assert!(
        text.lines()
            .any(|l| l.starts_with("warn") && l.contains("clude")),
        "{text}"
    );
}

/// Value errors name the line and the key, as type errors do.
#[test]
fn value_errors_name_their_line() {
    let p = TestProject::new();
    let agent = p.fake_agent("claude", "claude", "");
    p.write_config(&format!("{agent}[quota]\ncritical = 90\nwarn = 95\n"));
    let out = p.run(&["ls"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(
        err.contains("baton.toml:14:1: quota.warn: `95` is above critical (90)"),
        "{err}"
    );
    p.write_config(&format!("{agent}[lead]\nchain = [\"claude\", \"codex\"]\n"));
    let out = p.run(&["ls"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("baton.toml:13:20: lead.chain[1]: `codex` is not the name of an [[agent]]"),
        "{err}"
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
    std::fs::write(p.root().join(".gitignore"), mine).unwrap();
    let out = p.ok(&["init"]);
    let ignore = std::fs::read_to_string(p.root().join(".gitignore")).unwrap();
    assert_eq!(ignore, format!("{mine}\n.baton/\n"));
    for name in [
        "ORCHESTRATION_LOG.md",
        "REPORT.md",
        "HANDOFF_TO_",
        "reports_dir",
        ".gitignore",
    ] {
        assert!(out.contains(name), "{name}: {out}");
    }
    let text = std::fs::read_to_string(p.root().join("baton.toml")).unwrap();
    assert!(text.contains("# reports_dir = "), "{text}");
    p.ok(&["init", "--force"]);
    assert_eq!(
        std::fs::read_to_string(p.root().join(".gitignore")).unwrap(),
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
    assert_eq!(
        std::fs::read_to_string(q.root().join(".gitignore")).unwrap(),
        ".baton/\n"
    );
    // Not in a repository: nothing to ignore.
    let r = TestProject::new();
    let out = r.ok(&["init"]);
    assert!(!r.root().join(".gitignore").exists());
    assert!(
        out.contains("REPORT.md") && out.contains("reports_dir"),
        "{out}"
    );
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
    let out = p.ok(&["run", "--quiet"]);
    assert!(out.contains("docs/runs/REPORT.md"), "{out}");
    let runs = p.root().join("docs/runs");
    assert!(runs.join("REPORT.md").is_file());
    assert!(!p.root().join("REPORT.md").exists());
    assert!(!p.root().join("ORCHESTRATION_LOG.md").exists());
    let log = std::fs::read_to_string(runs.join("ORCHESTRATION_LOG.md")).unwrap();
    assert!(
        log.contains("task-add") && log.contains("task-done"),
        "{log}"
    );
}
