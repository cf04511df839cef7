//! The task queue through the CLI: lifecycle, errors that change nothing, many writers at
//! once, and kill -9 in the middle of a transaction.

use std::collections::BTreeSet;
use std::time::Duration;

use crate::common::TestProject;

/// A project with two agents in baton.toml (never started: the task queue needs no tmux).
fn project() -> TestProject {
    let p = TestProject::new();
    p.write_config(
        "[[agent]]\nname = \"claude\"\ncli = \"claude\"\n\n[[agent]]\nname = \"codex\"\ncli = \"codex\"\n",
    );
    p
}

fn json(p: &TestProject, args: &[&str]) -> serde_json::Value {
    serde_json::from_str(&p.ok(args)).unwrap()
}

fn err(p: &TestProject, args: &[&str]) -> String {
    let out = p.run(args);
    assert!(!out.status.success(), "baton {args:?} should have failed");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

fn task_count(p: &TestProject) -> usize {
    json(p, &["task", "list", "--json"])
        .as_array()
        .unwrap()
        .len()
}

#[test]
fn lifecycle_through_the_cli() {
    let p = project();
    let t1 = json(
        &p,
        &[
            "task",
            "add",
            "Build the parser",
            "-p",
            "high",
            "--skill",
            "rust",
            "--json",
        ],
    );
    assert_eq!(t1["id"], "T-001");
    assert_eq!(t1["priority"], "HIGH");
    let t2 = json(
        &p,
        &[
            "task",
            "add",
            "Test the parser",
            "--after",
            "T-001",
            "--to",
            "codex",
            "--body",
            "cargo test",
            "--json",
        ],
    );
    assert_eq!(t2["id"], "T-002");
    assert_eq!(t2["deps"][0], "T-001");

    // Dependencies gate the start; done needs a start.
    assert!(err(&p, &["task", "start", "T-002"]).contains("depends on T-001"));
    let e = err(&p, &["task", "done", "T-001"]);
    assert!(e.contains("cannot go from PENDING to COMPLETED"), "{e}");
    p.ok(&["task", "start", "T-001", "--agent", "claude"]);
    let done = json(
        &p,
        &[
            "task",
            "done",
            "T-001",
            "--note",
            "all green",
            "--as",
            "claude",
            "--json",
        ],
    );
    assert_eq!(done["status"], "COMPLETED");
    assert_eq!(done["notes"][0], "all green");
    // Again: a no-op, not an error, and not journaled twice.
    assert!(
        p.ok(&["task", "done", "T-001"])
            .contains("already COMPLETED")
    );

    assert!(err(&p, &["task", "block", "T-002", "--reason", " "]).contains("--reason"));
    p.ok(&["task", "block", "T-002", "--reason", "credits exhausted"]);
    let shown = json(&p, &["task", "show", "T-002", "--json"]);
    assert_eq!(shown["status"], "BLOCKED");
    assert_eq!(shown["blocked_reason"], "credits exhausted");
    let actions: Vec<&str> = shown["history"]
        .as_array()
        .unwrap()
        .iter()
        .map(|h| h["action"].as_str().unwrap())
        .collect();
    assert_eq!(actions, ["task-add", "task-block"]);

    assert!(err(&p, &["task", "reassign", "T-002", "nobody"]).contains("no agent named `nobody`"));
    p.ok(&["task", "reassign", "T-002", "claude"]);
    assert!(
        err(&p, &["task", "edit", "T-001", "--after", "T-002"]).contains("T-001 → T-002 → T-001")
    );
    p.ok(&["task", "cancel", "T-002", "--reason", "not needed"]);
    assert!(err(&p, &["task", "start", "T-002"]).contains("CANCELLED, which is final"));
    assert!(err(&p, &["task", "done", "T-999"]).contains("no task T-999"));
    assert!(err(&p, &["task", "done", "X-1"]).contains("not a task ID"));

    let ids: Vec<String> = json(&p, &["task", "list", "--json"])
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["id"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(ids, ["T-001", "T-002"]);
    let log = std::fs::read_to_string(p.root().join("ORCHESTRATION_LOG.md")).unwrap();
    assert!(
        log.contains("| time | actor | action | target | result |"),
        "{log}"
    );
    assert!(
        log.contains("| claude | task-done | T-001 claude | IN_PROGRESS → COMPLETED: all green |"),
        "{log}"
    );
    let memory = std::fs::read_to_string(p.root().join("CLAUDE.md")).unwrap();
    assert!(
        memory.contains("| T-001 | Build the parser | claude | HIGH | COMPLETED |"),
        "{memory}"
    );
}

#[test]
fn import_is_all_or_nothing_with_line_numbers() {
    let p = project();
    let good = p.root().join("tasks.md");
    std::fs::write(&good, "# Plan\n\n- [ ] Parser !high #rust {parser}\n- [ ] Tests after:parser @codex\n  run cargo test\n- [x] Already done\n").unwrap();
    let out = p.ok(&["task", "import", good.to_str().unwrap()]);
    assert!(out.contains("2 task(s) imported"), "{out}");
    let t2 = json(&p, &["task", "show", "T-002", "--json"]);
    assert_eq!(t2["deps"][0], "T-001");
    assert_eq!(t2["assignee"], "codex");

    let bad = p.root().join("bad.toml");
    std::fs::write(
        &bad,
        "[[task]]\ntitle = \"ok\"\n\n[[task]]\ntitle = \"bad\"\npriority = \"urgent\"\n",
    )
    .unwrap();
    let e = err(&p, &["task", "import", bad.to_str().unwrap()]);
    assert!(
        e.contains("bad.toml:") && e.contains("nothing was imported"),
        "{e}"
    );
    assert_eq!(task_count(&p), 2, "nothing added");

    let unknown_agent = p.root().join("agent.md");
    std::fs::write(&unknown_agent, "- [ ] one\n- [ ] two @nobody\n").unwrap();
    let e = err(&p, &["task", "import", unknown_agent.to_str().unwrap()]);
    assert!(e.contains("agent.md:2:") && e.contains("nobody"), "{e}");
    assert_eq!(task_count(&p), 2);

    let binary = p.root().join("bin.md");
    std::fs::write(&binary, b"- [ ] ok\n\xff\xfe\n").unwrap();
    assert!(err(&p, &["task", "import", binary.to_str().unwrap()]).contains("bin.md:2: not UTF-8"));
    // The next ID is still dense.
    assert_eq!(json(&p, &["task", "add", "three", "--json"])["id"], "T-003");
}

#[test]
fn a_damaged_or_newer_store_is_refused_untouched() {
    let p = project();
    std::fs::create_dir_all(p.root().join(".baton")).unwrap();
    let db = p.root().join(".baton/state.db");
    std::fs::write(&db, b"garbage garbage garbage garbage").unwrap();
    let e = err(&p, &["task", "list"]);
    assert!(e.contains("is not a baton store"), "{e}");
    assert_eq!(
        std::fs::read(&db).unwrap(),
        b"garbage garbage garbage garbage"
    );
}

/// 8 processes × (add, start, done) × 170 = 4,080 calls at once.
#[test]
fn many_writers_at_once_lose_nothing() {
    let p = project();
    const WORKERS: usize = 8;
    const ROUNDS: usize = 170;
    let ids: Vec<Vec<String>> = std::thread::scope(|s| {
        let handles: Vec<_> = (0..WORKERS)
            .map(|w| {
                let p = &p;
                s.spawn(move || {
                    let mut mine = Vec::new();
                    for r in 0..ROUNDS {
                        let t = json(p, &["task", "add", &format!("w{w} r{r}"), "--json"]);
                        let id = t["id"].as_str().unwrap().to_owned();
                        p.ok(&["task", "start", &id, "--agent", "claude"]);
                        p.ok(&["task", "done", &id, "--note", &format!("by w{w}")]);
                        mine.push(id);
                    }
                    mine
                })
            })
            .collect();
        handles.into_iter().map(|h| h.join().unwrap()).collect()
    });
    let all: Vec<&String> = ids.iter().flatten().collect();
    let unique: BTreeSet<&String> = all.iter().copied().collect();
    assert_eq!(all.len(), WORKERS * ROUNDS);
    assert_eq!(unique.len(), all.len(), "no ID given twice");
    let expected: BTreeSet<String> = (1..=WORKERS * ROUNDS)
        .map(|n| format!("T-{n:03}"))
        .collect();
    assert_eq!(
        unique.into_iter().cloned().collect::<BTreeSet<_>>(),
        expected,
        "IDs are dense"
    );

    let tasks = json(&p, &["task", "list", "--json"]);
    let tasks = tasks.as_array().unwrap();
    assert_eq!(tasks.len(), WORKERS * ROUNDS, "every task exactly once");
    assert!(
        tasks
            .iter()
            .all(|t| t["status"] == "COMPLETED" && t["attempts"] == 1)
    );
    let jsonl = std::fs::read_to_string(p.root().join(".baton/journal.jsonl")).unwrap();
    for action in ["task-add", "task-start", "task-done"] {
        let n = jsonl
            .lines()
            .filter(|l| l.contains(&format!("\"action\":\"{action}\"")))
            .count();
        assert_eq!(n, WORKERS * ROUNDS, "{action} journaled once per task");
    }
    let log = std::fs::read_to_string(p.root().join("ORCHESTRATION_LOG.md")).unwrap();
    assert_eq!(
        log.lines().filter(|l| l.contains("| task-")).count(),
        3 * WORKERS * ROUNDS
    );
    let memory = std::fs::read_to_string(p.root().join("CLAUDE.md")).unwrap();
    assert!(
        memory.contains(&format!(
            "{} older closed tasks are not shown",
            WORKERS * ROUNDS - 20
        )),
        "{memory}"
    );
}

/// kill -9 of `baton task import` while its transaction of 2,000 tasks is under way, again and
/// again: the store stays readable and holds whole imports only.
#[test]
fn kill_9_in_a_transaction_leaves_the_last_committed_state() {
    let p = project();
    let file = p.root().join("big.md");
    let text: String = (0..2000).map(|i| format!("- [ ] task {i}\n")).collect();
    std::fs::write(&file, text).unwrap();
    let mut killed_mid_way = 0;
    for round in 0..12u64 {
        let mut child = p
            .cmd(&["task", "import", file.to_str().unwrap()])
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .unwrap();
        // Spread the kills over the run: start-up, inside the transaction, after commit.
        std::thread::sleep(Duration::from_millis(5 + (round * 37) % 180));
        let _ = child.kill();
        let status = child.wait().unwrap();
        if !status.success() {
            killed_mid_way += 1;
        }
        let n = task_count(&p);
        assert_eq!(
            n % 2000,
            0,
            "round {round}: {n} tasks is not a whole number of imports"
        );
    }
    assert!(
        killed_mid_way > 0,
        "no kill landed before the import finished"
    );
    // Still writable, IDs continue after the last committed import.
    let n = task_count(&p);
    let t = json(&p, &["task", "add", "after the storm", "--json"]);
    assert_eq!(t["id"], format!("T-{:03}", n + 1));
}
