//! The task queue through the CLI: lifecycle, errors that change nothing, many writers at
//! once, and kill -9 in the middle of a transaction.

use std::collections::BTreeSet;
use std::process::Stdio;
use std::time::Duration;

use crate::common::TestProject;
use crate::common::failing_stderr as err;
use crate::common::strings_of;

/// A project with two agents in baton.toml (never started: the task queue needs no tmux).
fn project() -> TestProject {
    let p = TestProject::new();
    p.write_config(
        "[[agent]]\nname = \"claude\"\ncli = \"claude\"\n\n[[agent]]\nname = \"codex\"\ncli = \"codex\"\n",
    );
    p
}

fn task_count(p: &TestProject) -> usize {
    p.json(&["task", "list", "--json"])
        .as_array()
        .unwrap()
        .len()
}

#[test]
fn lifecycle_through_the_cli() {
    let p = project();
    let t1 = p.json(&[
        "task",
        "add",
        "Build the parser",
        "-p",
        "high",
        "--skill",
        "rust",
        "--json",
    ]);
    assert_eq!(t1["id"], "T-001");
    assert_eq!(t1["priority"], "HIGH");
    let t2 = p.json(&[
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
    ]);
    assert_eq!(t2["id"], "T-002");
    assert_eq!(t2["deps"][0], "T-001");

    // Dependencies gate the start; done needs a start.
    assert!(err(&p, &["task", "start", "T-002"]).contains("depends on T-001"));
    let e = err(&p, &["task", "done", "T-001"]);
    assert!(e.contains("cannot go from PENDING to COMPLETED"), "{e}");
    p.ok(&["task", "start", "T-001", "--agent", "claude"]);
    let done = p.json(&[
        "task",
        "done",
        "T-001",
        "--note",
        "all green",
        "--as",
        "claude",
        "--json",
    ]);
    assert_eq!(done["status"], "COMPLETED");
    assert_eq!(done["notes"][0], "all green");
    // Again: a no-op, not an error, and not journaled twice.
    assert!(
        p.ok(&["task", "done", "T-001"])
            .contains("already COMPLETED")
    );

    assert!(err(&p, &["task", "block", "T-002", "--reason", " "]).contains("--reason"));
    p.ok(&["task", "block", "T-002", "--reason", "credits exhausted"]);
    let shown = p.json(&["task", "show", "T-002", "--json"]);
    assert_eq!(shown["status"], "BLOCKED");
    assert_eq!(shown["blocked_reason"], "credits exhausted");
    assert_eq!(
        strings_of(&shown["history"], "action"),
        ["task-add", "task-block"]
    );

    assert!(err(&p, &["task", "reassign", "T-002", "nobody"]).contains("no agent named `nobody`"));
    // Nothing runs here: the reassignment is made, and the waiting is said.
    let ran = p.exec(&["task", "reassign", "T-002", "claude"]);
    assert_eq!(ran.code, Some(0), "{}", ran.stderr);
    assert!(
        ran.stderr
            .contains("warning: agent `claude` is not running: the task waits until it runs"),
        "{}",
        ran.stderr
    );
    assert!(
        err(&p, &["task", "edit", "T-001", "--after", "T-002"]).contains("T-001 → T-002 → T-001")
    );
    p.ok(&["task", "cancel", "T-002", "--reason", "not needed"]);
    assert!(err(&p, &["task", "start", "T-002"]).contains("CANCELLED, which is final"));
    assert!(err(&p, &["task", "done", "T-999"]).contains("no task T-999"));
    assert!(err(&p, &["task", "done", "X-1"]).contains("not a task ID"));

    let list = p.json(&["task", "list", "--json"]);
    assert_eq!(strings_of(&list, "id"), ["T-001", "T-002"]);
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
    let good = p.write_file(
        "tasks.md",
        "# Plan\n\n- [ ] Parser !high #rust {parser}\n- [ ] Tests after:parser @codex\n  run cargo test\n- [x] Already done\n",
    );
    let out = p.ok(&["task", "import", good.to_str().unwrap()]);
    assert!(out.contains("2 task(s) imported"), "{out}");
    let t2 = p.json(&["task", "show", "T-002", "--json"]);
    assert_eq!(t2["deps"][0], "T-001");
    assert_eq!(t2["assignee"], "codex");

    let bad = p.write_file(
        "bad.toml",
        "[[task]]\ntitle = \"ok\"\n\n[[task]]\ntitle = \"bad\"\npriority = \"urgent\"\n",
    );
    let e = err(&p, &["task", "import", bad.to_str().unwrap()]);
    assert!(
        e.contains("bad.toml:") && e.contains("nothing was imported"),
        "{e}"
    );
    assert_eq!(task_count(&p), 2, "nothing added");

    let unknown_agent = p.write_file("agent.md", "- [ ] one\n- [ ] two @nobody\n");
    let e = err(&p, &["task", "import", unknown_agent.to_str().unwrap()]);
    assert!(e.contains("agent.md:2:") && e.contains("nobody"), "{e}");
    assert_eq!(task_count(&p), 2);

    let binary = p.root().join("bin.md");
    std::fs::write(&binary, b"- [ ] ok\n\xff\xfe\n").unwrap();
    assert!(err(&p, &["task", "import", binary.to_str().unwrap()]).contains("bin.md:2: not UTF-8"));
    // The next ID is still dense.
    assert_eq!(p.json(&["task", "add", "three", "--json"])["id"], "T-003");
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
                        let t = p.json(&["task", "add", &format!("w{w} r{r}"), "--json"]);
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

    let tasks = p.json(&["task", "list", "--json"]);
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
    let text: String = (0..2000).map(|i| format!("- [ ] task {i}\n")).collect();
    let file = p.write_file("big.md", &text);
    let mut killed_mid_way = 0;
    for round in 0..12u64 {
        let mut child = p.spawn(&["task", "import", file.to_str().unwrap()], Stdio::null);
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
    let t = p.json(&["task", "add", "after the storm", "--json"]);
    assert_eq!(t["id"], format!("T-{:03}", n + 1));
}

fn remove_store(root: &std::path::Path) {
    for f in ["state.db", "state.db-wal", "state.db-shm"] {
        let _ = std::fs::remove_file(root.join(".baton").join(f));
    }
}

/// The store is one: deleted, a command refuses instead of starting an empty store; replaced
/// by another project's, it refuses too; a backup of the project's own is accepted; deleting
/// `.baton/store-id` is the way out.
#[test]
fn a_deleted_or_replaced_store_is_refused_and_never_silently_recreated() {
    let p = project();
    for title in ["first", "second"] {
        p.ok(&["task", "add", title]);
    }
    let db = p.root().join(".baton/state.db");
    let backup = p.root().join("backup.db");
    // A consistent copy (the WAL folded in) of the project's own store.
    let out = std::process::Command::new("sqlite3")
        .arg(&db)
        .arg(format!(".backup '{}'", backup.display()))
        .output();
    let have_sqlite3 = out.is_ok_and(|o| o.status.success());

    remove_store(p.root());
    let e = err(&p, &["task", "add", "third"]);
    assert!(e.contains("state.db was deleted"), "{e}");
    assert!(e.contains("delete") && e.contains("store-id"), "{e}");
    assert!(!db.exists(), "no empty store was created in its place");
    let e = err(&p, &["task", "list"]);
    assert!(e.contains("was deleted"), "{e}");

    // Another project's store put in its place.
    let q = project();
    q.ok(&["task", "add", "elsewhere"]);
    q.ok(&["task", "list"]);
    std::fs::copy(q.root().join(".baton/state.db"), &db).unwrap();
    let _ = std::fs::copy(
        q.root().join(".baton/state.db-wal"),
        p.root().join(".baton/state.db-wal"),
    );
    let e = err(&p, &["task", "list"]);
    assert!(e.contains("state.db was replaced"), "{e}");

    // The file emptied (truncated to nothing): refused as it is, nothing written into it.
    remove_store(p.root());
    std::fs::write(&db, b"").unwrap();
    let e = err(&p, &["task", "list"]);
    assert!(
        e.contains("state.db is empty") && e.contains("was emptied"),
        "{e}"
    );
    assert_eq!(
        std::fs::metadata(&db).unwrap().len(),
        0,
        "SQLite wrote into it"
    );

    // The project's own store back from a backup: accepted.
    if have_sqlite3 {
        remove_store(p.root());
        std::fs::copy(&backup, &db).unwrap();
        let list = p.json(&["task", "list", "--json"]);
        assert_eq!(list.as_array().unwrap().len(), 2, "{list}");
    }

    // The way out: forget the recorded store; the next command starts afresh.
    remove_store(p.root());
    std::fs::remove_file(p.root().join(".baton/store-id")).unwrap();
    let t = p.json(&["task", "add", "fresh", "--json"]);
    assert_eq!(t["id"], "T-001");
    assert!(p.root().join(".baton/store-id").exists());
}

/// An old row of the memory file, rendered from a store that is gone, is never applied to the
/// new store's task of the same ID; it is reported once, and the region is rendered again.
#[test]
fn memory_file_rows_from_another_store_are_never_applied() {
    let p = project();
    p.ok(&["task", "add", "old one"]);
    p.ok(&["task", "start", "T-001", "--agent", "claude"]);
    p.ok(&["task", "done", "T-001", "--note", "old work"]);
    let memory = p.root().join("CLAUDE.md");
    let old = std::fs::read_to_string(&memory).unwrap();
    assert!(old.contains("| T-001 | COMPLETED | old work |"), "{old}");
    // Start afresh (the documented way out), keeping the memory file.
    remove_store(p.root());
    let _ = std::fs::remove_file(p.root().join(".baton/store-id"));
    let out = p.run(&["task", "add", "new one"]);
    assert!(out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(stderr.matches("rendered from store").count(), 1, "{stderr}");
    p.ok(&["task", "start", "T-001", "--agent", "claude"]);
    // The old file comes back (an editor's buffer, a checkout): its log row says T-001 is
    // COMPLETED — of the old store.
    std::fs::write(&memory, &old).unwrap();
    let out = p.run(&["memory", "sync"]);
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(
        p.status("T-001"),
        "IN_PROGRESS",
        "the old row was not applied"
    );
    assert_eq!(out.status.code(), Some(1), "{stdout}");
    assert_eq!(stdout.matches("refused:").count(), 1, "{stdout}");
    let now = std::fs::read_to_string(&memory).unwrap();
    assert!(!now.contains("old work"), "{now}");
    assert!(now.contains("| T-001 | new one |"), "{now}");
    assert!(now.contains("<!-- baton:store "), "{now}");
    // Rendered from this store now: nothing more to report.
    p.ok(&["memory", "sync"]);
}

/// The daemon checks on every tick that the store it opened is still the one at
/// `.baton/state.db`: deleted under it, it stops and says why (daemon log, journal mirror).
#[test]
fn the_daemon_stops_when_its_store_is_deleted() {
    let p = crate::common::project_with_agent("a1", "claude", "", "");
    let up = p.ok(&["up"]);
    assert!(up.contains("daemon started"), "{up}");
    p.ok(&["task", "add", "something"]);
    remove_store(p.root());
    let lock = p.root().join(".baton/daemon.lock");
    crate::common::wait_until(Duration::from_secs(20), "the daemon to stop", || {
        std::fs::File::options()
            .read(true)
            .write(true)
            .open(&lock)
            .is_ok_and(|f| f.try_lock().is_ok())
    });
    let log = std::fs::read_to_string(p.root().join(".baton/daemon.log")).unwrap();
    assert!(
        log.contains("state.db was deleted while this process had it open"),
        "{log}"
    );
    let mirror = std::fs::read_to_string(p.root().join("ORCHESTRATION_LOG.md")).unwrap();
    assert!(
        mirror.contains("daemon-stop") && mirror.contains("was deleted"),
        "{mirror}"
    );
    let e = err(&p, &["up"]);
    assert!(e.contains("state.db was deleted"), "{e}");
}

/// Importing a file again adds only the items not imported before and says what it skipped;
/// a new item's dependency on an item imported before is that task; the dry run runs every
/// check the import runs (a dependency on a missing ID, with file:line) and honours --json.
#[test]
fn importing_a_file_again_adds_only_its_new_items_and_the_dry_run_checks_everything() {
    let p = project();
    let plan = p.write_plan("- [ ] Parser !high {parser}\n- [ ] Docs\n");
    let name = plan.to_str().unwrap();
    p.ok(&["task", "import", name]);
    assert_eq!(task_count(&p), 2);

    // One item added, one edited (it keeps its label: not new), one unlabelled item retitled
    // would be new — here the unlabelled one is left as it was.
    p.write_plan(
        "- [ ] Parse the config !high {parser}\n- [ ] Docs\n- [ ] Tests after:parser @codex\n",
    );
    let dry = p.json(&["task", "import", name, "--dry-run", "--json"]);
    assert_eq!(dry["would_add"].as_array().unwrap().len(), 1, "{dry}");
    assert_eq!(dry["would_add"][0]["title"], "Tests");
    assert_eq!(dry["would_add"][0]["line"], 3);
    assert_eq!(dry["would_add"][0]["id"], "T-003");
    assert_eq!(dry["would_add"][0]["deps"][0], "T-001");
    let skipped: Vec<_> = dry["skipped"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["task"].as_str().unwrap().to_owned())
        .collect();
    assert_eq!(skipped, ["T-001", "T-002"], "{dry}");
    assert_eq!(task_count(&p), 2, "the dry run added nothing");

    let out = p.ok(&["task", "import", name]);
    assert!(
        out.contains("skipped 2 items already imported from") && out.contains("T-001"),
        "{out}"
    );
    assert!(out.contains("1 task(s) imported"), "{out}");
    assert_eq!(task_count(&p), 3);
    let t3 = p.json(&["task", "show", "T-003", "--json"]);
    assert_eq!(t3["title"], "Tests");
    assert_eq!(
        t3["deps"][0], "T-001",
        "the dependency resolved to the existing task"
    );

    // Nothing new: nothing added, exit 0.
    let out = p.ok(&["task", "import", name]);
    assert!(out.contains("skipped 3 items"), "{out}");
    assert_eq!(task_count(&p), 3);

    // The dry run refuses what the import refuses: a dependency on a task that does not
    // exist, with the file and line.
    let bad = p.write_file("bad.md", "- [ ] fine\n- [ ] needs a ghost after:T-099\n");
    for extra in [&["--dry-run"][..], &["--dry-run", "--json"], &[]] {
        let mut args = vec!["task", "import", bad.to_str().unwrap()];
        args.extend_from_slice(extra);
        let e = err(&p, &args);
        assert!(
            e.contains("bad.md:2:") && e.contains("T-099") && e.contains("does not exist"),
            "{extra:?}: {e}"
        );
    }
    assert_eq!(task_count(&p), 3);
}

/// `baton run plan.md`, the plan edited, `baton run plan.md` again: the second run adds only
/// the new item, and every task is done exactly once.
#[test]
fn editing_and_rerunning_a_plan_adds_only_the_new_items() {
    let p = crate::common::project_with_agent(
        "a1",
        "claude",
        &crate::common::done_step(50, " --note ok"),
        "[run]\ntest_tasks = false\n",
    );
    p.write_plan("# Plan\n\n- [ ] First job\n- [ ] Second job\n");
    let out = p.ok(&["run", "plan.md", "--quiet"]);
    assert!(out.contains("finished: 2 completed"), "{out}");
    p.write_plan("# Plan\n\n- [ ] First job\n- [ ] Second job\n- [ ] Third job after:#2\n");
    let out = p.ok(&["run", "plan.md", "--quiet"]);
    assert!(
        out.contains("skipped 2 items already imported from plan.md"),
        "{out}"
    );
    assert!(out.contains("1 task(s) imported"), "{out}");
    let list = p.json(&["task", "list", "--json"]);
    let titles: Vec<_> = list
        .as_array()
        .unwrap()
        .iter()
        .map(|t| {
            (
                t["title"].as_str().unwrap().to_owned(),
                t["status"].as_str().unwrap().to_owned(),
            )
        })
        .collect();
    assert_eq!(
        titles,
        [
            ("First job".to_owned(), "COMPLETED".to_owned()),
            ("Second job".to_owned(), "COMPLETED".to_owned()),
            ("Third job".to_owned(), "COMPLETED".to_owned()),
        ]
    );
    assert_eq!(
        p.json(&["task", "show", "T-003", "--json"])["deps"][0],
        "T-002"
    );
}

/// A plan `baton run` imported before items had keys (it recorded the file's hash): its items
/// whose title is a task's title count as imported.
#[test]
fn a_plan_imported_before_item_keys_is_not_imported_again() {
    let p = project();
    p.write_plan("- [ ] First\n- [ ] Second\n");
    p.ok(&["task", "import", "plan.md"]);
    // What an older baton left: no item rows, the file's hash row.
    let db = p.root().join(".baton/state.db");
    let sql = "DELETE FROM meta WHERE key LIKE 'import|%'; \
               INSERT INTO meta (key, value) VALUES ('imported.00ff00ff00ff00ff', 'plan.md');";
    let Ok(out) = std::process::Command::new("sqlite3")
        .arg(&db)
        .arg(sql)
        .output()
    else {
        eprintln!("SKIPPED: no sqlite3 command");
        return;
    };
    assert!(out.status.success(), "{out:?}");
    p.write_plan("- [ ] First\n- [ ] Second\n- [ ] Third\n");
    let out = p.ok(&["task", "import", "plan.md"]);
    assert!(out.contains("skipped 2 items"), "{out}");
    assert_eq!(task_count(&p), 3);
    // Recorded per item now.
    let out = p.ok(&["task", "import", "plan.md"]);
    assert!(out.contains("skipped 3 items"), "{out}");
}
