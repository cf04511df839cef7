//! What a first trial of baton found: `--json` on `diff`, `handoff` and `run`; `task done` on
//! a task never started says how; the task list and fake-agent script formats documented and
//! pointed to from `--help`.

use std::path::Path;

use crate::common::TestProject;
use crate::common::commit_all_as;
use crate::common::done_step;
use crate::common::failing_stderr as stderr_of;
use crate::common::init_repo;

/// A project with two agents in baton.toml and a lead chain (never started: no tmux needed).
fn project() -> TestProject {
    let p = TestProject::new();
    p.write_config(
        "[[agent]]\nname = \"claude\"\ncli = \"claude\"\n\n[[agent]]\nname = \"amp\"\ncli = \"amp\"\n\n\
         [lead]\nchain = [\"claude\", \"amp\"]\n",
    );
    p
}

#[test]
fn task_done_on_a_pending_task_says_how_and_force_skips_the_start() {
    let p = project();
    p.ok(&["task", "add", "Write the changelog"]);
    let e = stderr_of(&p, &["task", "done", "T-001"]);
    assert!(e.contains("cannot go from PENDING to COMPLETED"), "{e}");
    assert!(e.contains("baton task start T-001"), "{e}");
    assert!(e.contains("baton task done T-001 --force"), "{e}");
    assert_eq!(p.status("T-001"), "PENDING");
    // --force is for a person: an agent reports the task it was given.
    let e = stderr_of(&p, &["task", "done", "T-001", "--force", "--as", "claude"]);
    assert!(e.contains("--force is for a person"), "{e}");
    assert_eq!(p.status("T-001"), "PENDING");
    let done = p.json(&[
        "task",
        "done",
        "T-001",
        "--force",
        "-m",
        "written by hand",
        "--json",
    ]);
    assert_eq!(done["status"], "COMPLETED");
    assert_eq!(done["notes"][0], "written by hand");
    // The journal says the start was skipped, and by whom.
    let j = p
        .journal()
        .into_iter()
        .rfind(|j| j["action"] == "task-done")
        .unwrap();
    assert_eq!(j["actor"], "user");
    let result = j["result"].as_str().unwrap();
    assert!(result.contains("PENDING → COMPLETED"), "{j}");
    assert!(result.contains("never started (--force)"), "{j}");
    assert!(
        !p.journal().iter().any(|j| j["action"] == "task-start"),
        "no start is made up"
    );
    // Only the start is skipped: a final task stays final.
    p.ok(&["task", "add", "Old idea"]);
    p.ok(&["task", "cancel", "T-002"]);
    let e = stderr_of(&p, &["task", "done", "T-002", "--force"]);
    assert!(e.contains("CANCELLED, which is final"), "{e}");
}

#[test]
fn handoff_json_says_what_was_requested_or_why_not() {
    let p = project();
    let out = p.json(&["handoff", "--to", "amp", "--json"]);
    assert_eq!(out["requested"], true, "{out}");
    assert_eq!(out["to"], "amp", "{out}");
    assert_eq!(out["from"], "claude", "{out}");
    assert_eq!(out["daemon_running"], false, "{out}");
    let seq = out["journal_seq"].as_i64().unwrap();
    let j = p
        .journal()
        .into_iter()
        .find(|j| j["seq"] == seq)
        .expect("the request is journaled");
    assert_eq!(j["action"], "handoff-request");
    // The next of the chain when no --to.
    let out = p.json(&["handoff", "--json"]);
    assert_eq!(out["to"], serde_json::Value::Null, "{out}");
    // A refusal is a JSON object too, and an error.
    let run = p.run(&["handoff", "--to", "nobody", "--json"]);
    assert_eq!(run.status.code(), Some(1));
    let refused: serde_json::Value = serde_json::from_slice(&run.stdout).unwrap();
    assert_eq!(refused["requested"], false, "{refused}");
    assert!(
        refused["refused"]
            .as_str()
            .unwrap()
            .contains("no agent `nobody`"),
        "{refused}"
    );
}

#[test]
fn diff_json_gives_the_pending_commits_and_the_diff() {
    let p = TestProject::new();
    init_repo(p.root(), &[("shared.txt", "base\n")]);
    crate::test_worktree::up_isolated(&p, &["a", "b"]);
    let wt = p.root().join(".baton/worktrees/b");
    std::fs::write(wt.join("shared.txt"), "base\nb's work\n").unwrap();
    commit_all_as(&wt, "b", "b's work");
    let d = p.json(&["diff", "b", "--json"]);
    assert_eq!(d["agent"], "b", "{d}");
    assert_eq!(d["branch"], "baton/b", "{d}");
    assert_eq!(d["integration_branch"], "main", "{d}");
    let pending = d["pending"].as_array().unwrap();
    assert!(
        pending
            .iter()
            .any(|c| c.as_str().unwrap().contains("b's work")),
        "{d}"
    );
    assert!(d["diff"].as_str().unwrap().contains("+b's work"), "{d}");
    let stat = p.json(&["diff", "b", "--stat", "--json"]);
    assert_eq!(stat["diff"], serde_json::Value::Null, "{stat}");
    let a = p.json(&["diff", "a", "--json"]);
    assert_eq!(a["pending"].as_array().unwrap().len(), 0, "{a}");
    assert_eq!(a["diff"], "", "{a}");
}

#[test]
fn run_json_prints_one_summary_object_and_progress_on_stderr() {
    let p = TestProject::new();
    let step = done_step(100, "");
    let agents = p.fake_agent("a1", "claude", &step) + &p.fake_agent("a2", "codex", &step);
    p.write_config(&format!(
        "{agents}[verify]\ncommands = [\"true\"]\n\n[run]\ntest_tasks = false\n"
    ));
    p.write_plan("- [ ] one\n- [ ] two\n- [ ] three after:#1\n");
    let ran = p.exec(&["run", "plan.md", "--json"]);
    ran.expect_code(0);
    let (stdout, stderr) = (&ran.stdout, &ran.stderr);
    // stdout holds the summary and nothing else.
    let s: serde_json::Value =
        serde_json::from_str(stdout).unwrap_or_else(|e| panic!("{e}: {stdout}"));
    assert_eq!(s["finished"], true, "{s}");
    assert_eq!(s["tasks"]["total"], 3, "{s}");
    assert_eq!(s["tasks"]["COMPLETED"], 3, "{s}");
    assert_eq!(s["tasks"]["BLOCKED"], 0, "{s}");
    assert_eq!(s["verify"]["last"], "passed", "{s}");
    assert!(s["verify"]["runs"].as_u64().unwrap() >= 1, "{s}");
    assert!(s["duration_ms"].as_u64().unwrap() > 0, "{s}");
    assert!(s["problems"].is_u64(), "{s}");
    assert!(
        s["summary"].as_str().unwrap().starts_with("3 completed"),
        "{s}"
    );
    assert!(s["report"].as_str().unwrap().ends_with("REPORT.md"), "{s}");
    // The progress went to stderr.
    assert!(stderr.contains("3 task(s) imported"), "{stderr}");
    assert!(stderr.contains("finished: 3 completed"), "{stderr}");
}

#[test]
fn help_points_to_the_format_docs() {
    let p = TestProject::new();
    let import = p.ok(&["task", "import", "--help"]);
    assert!(import.contains("docs/import.md"), "{import}");
    for needle in ["- [ ]", "[[task]]", "after:", "!high", "#skill"] {
        assert!(import.contains(needle), "{needle} missing: {import}");
    }
    let fake = p.ok(&["fake-agent", "--help"]);
    assert!(fake.contains("docs/fake-agent.md"), "{fake}");
    assert!(fake.contains("[[task]]"), "{fake}");
}

/// Every Markdown, TOML and JSON example of docs/import.md imports as it is (the error
/// examples are `text` blocks).
#[test]
fn the_import_doc_examples_import() {
    let doc =
        std::fs::read_to_string(Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/import.md"))
            .unwrap();
    let mut blocks = Vec::new();
    let mut current: Option<(String, String)> = None;
    for line in doc.lines() {
        match (&mut current, line.strip_prefix("```")) {
            (None, Some(lang)) => current = Some((lang.trim().to_owned(), String::new())),
            (Some(_), Some("")) => blocks.push(current.take().unwrap()),
            (Some((_, text)), _) => {
                text.push_str(line);
                text.push('\n');
            }
            (None, None) => {}
        }
    }
    let examples: Vec<_> = blocks
        .iter()
        .filter(|(lang, _)| matches!(lang.as_str(), "markdown" | "toml" | "json"))
        .collect();
    assert!(examples.len() >= 4, "{blocks:?}");
    for (i, (lang, text)) in examples.iter().enumerate() {
        let p = project();
        // An example may depend on T-014, which must exist.
        for n in 1..=14 * usize::from(text.contains("T-014")) {
            p.ok(&["task", "add", &format!("earlier task {n}")]);
        }
        let ext = if *lang == "markdown" { "md" } else { lang };
        let file = format!("example{i}.{ext}");
        std::fs::write(p.root().join(&file), text).unwrap();
        let out = p.run(&["task", "import", &file, "--dry-run"]);
        assert!(
            out.status.success(),
            "example {i} ({lang}) of docs/import.md:\n{text}\n{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
}
