//! Worktree isolation for an agent on another host: `baton run` with one local and one
//! remote fake agent, both `isolation = "worktree"`; the remote one works in a clone on its
//! host (a private sshd on 127.0.0.1: the host is this machine with a directory of its own),
//! its work comes back through the same verified merge queue, and its clone gets the
//! integration branch before each task.

use std::path::Path;
use std::process::Stdio;

use crate::common;
use crate::common::KillServer;
use crate::common::TestProject;
use crate::common::assert_has;
use crate::common::git;
use crate::common::journal_at as journal;
use crate::common::sshd::Sshd;

/// A fake-agent step for the prompt matching `title`: writes `file` (its content: the
/// title), then reports the task done.
fn write_step(title: &str, file: &str) -> String {
    format!(
        "[[task]]\nmatch = \"{title}\"\nwork_ms = 200\nwrite = [{{ path = \"{file}\", content = \"{title}\\n\" }}]\n{}",
        common::REPORT_DONE
    )
}

/// The content of `file` on `branch` (trimmed).
fn file_on(root: &Path, branch: &str, file: &str) -> String {
    git(root, &["show", &format!("{branch}:{file}")])
}

#[test]
fn a_remote_agent_in_a_clone_merges_through_the_verified_queue() {
    let Some(sshd) = Sshd::start() else {
        return;
    };
    let p = TestProject::new();
    let root = p.root();
    let _h1 = KillServer(format!("{}@h1", p.socket));
    common::init_repo(root, &[("README.md", "# project\n")]);
    let host_dir = tempfile::tempdir().unwrap();
    let dir = host_dir.path().join("work");
    let near = write_step("local one", "local-1.txt") + &write_step("local two", "local-2.txt");
    // Its second task sees what the local agent's first one merged: its clone got the
    // integration branch before it started.
    let far = write_step("remote one", "far-1.txt")
        + "[[task]]\nmatch = \"remote sees local\"\nwork_ms = 200\n\
           run = [\"cp local-1.txt far-saw-local.txt\", \"baton task done \\\"$BATON_FAKE_TASK\\\"\"]\n";
    let config = format!(
        "isolation = \"worktree\"\nmemory_file = \".baton/BOARD.md\"\n\n{}{}host = \"h1\"\n\n{}\n\
         [verify]\ncommands = [\"git ls-files --error-unmatch README.md\"]\n\n\
         [run]\ntest_tasks = false\n",
        p.fake_agent("near", "claude", &near),
        p.fake_agent("far", "codex", &far),
        sshd.host_table("h1", &dir, ""),
    );
    p.write_config(&config);
    p.write_plan(
        "- [ ] local one {l1} @near\n- [ ] remote one @far\n\
         - [ ] remote sees local after:l1 @far\n- [ ] local two @near\n",
    );

    let run = p
        .spawn(&["run", "plan.md"], Stdio::piped)
        .wait_with_output()
        .unwrap();
    let (stdout, stderr) = (
        String::from_utf8_lossy(&run.stdout),
        String::from_utf8_lossy(&run.stderr),
    );
    assert!(
        run.status.success(),
        "{stdout}\n{stderr}\n--- sshd\n{}",
        sshd.log()
    );
    let clone = dir.join(".baton/worktrees/far");
    assert_has(
        &stdout,
        &[
            &format!("far          works in {} on h1", clone.display()),
            "new clone, from main",
            "finished: 4 completed, 0 blocked, 0 waiting",
        ],
    );

    // Every task done exactly once, by the agent it was given to.
    let tasks = p.json(&["task", "list", "--json"]);
    let tasks = tasks.as_array().unwrap();
    assert_eq!(tasks.len(), 4, "{tasks:#?}");
    let entries = journal(root);
    for t in tasks {
        assert_eq!(t["status"], "COMPLETED", "{t:#}");
        let id = t["id"].as_str().unwrap();
        let done = entries
            .iter()
            .filter(|j| j["action"] == "task-done" && j["task"] == id)
            .count();
        assert_eq!(done, 1, "{id} done {done} times");
    }

    // Everyone's work is on the integration branch, the remote agent's included, and the
    // remote agent's second task saw the local agent's merged file.
    assert_eq!(file_on(root, "main", "local-1.txt"), "local one");
    assert_eq!(file_on(root, "main", "local-2.txt"), "local two");
    assert_eq!(file_on(root, "main", "far-1.txt"), "remote one");
    assert_eq!(file_on(root, "main", "far-saw-local.txt"), "local one");
    // Committed on the host as the task's work, fetched back as baton/far.
    let log = git(root, &["log", "--format=%s", "main"]);
    assert_has(&log, &["remote one", "remote sees local"]);
    assert!(
        git(root, &["merge-base", "--is-ancestor", "baton/far", "main"]).is_empty(),
        "baton/far is in main"
    );

    // Each merge went through the queue and was merged; the remote agent's too.
    let queue = p.json(&["merge-queue", "--json"]);
    let merges = queue["merges"].as_array().unwrap();
    assert_eq!(merges.len(), 4, "{queue:#}");
    assert!(merges.iter().all(|m| m["state"] == "merged"), "{queue:#}");
    assert_eq!(
        merges.iter().filter(|m| m["agent"] == "far").count(),
        2,
        "{queue:#}"
    );

    // The clone on the host: on baton/far, with the integration branch pushed to it.
    assert_eq!(
        git(&clone, &["symbolic-ref", "--short", "HEAD"]),
        "baton/far"
    );
    assert!(
        git(&clone, &["merge-base", "--is-ancestor", "main", "HEAD"]).is_empty(),
        "the clone's branch holds its main"
    );
    assert_eq!(
        git(&clone, &["show", "main:local-1.txt"]),
        "local one",
        "the local agent's merged work reached the host"
    );
    // The remote agent's prompts named its clone on the host.
    let prompts = std::fs::read_to_string(p.prompt_log("far")).unwrap();
    assert_has(
        &prompts,
        &[&format!(
            "{} on h1 — your own git clone of the project, on branch baton/far",
            clone.display()
        )],
    );
    // The user's checkout is where it was: on main, the files of the first commit only.
    assert!(!root.join("far-1.txt").exists() && !root.join("local-1.txt").exists());
}

/// A shell loop for a fake agent's `run`: waits (at most 60 s) until `cond` holds.
fn wait_for(cond: &str) -> String {
    format!("i=0; until {cond}; do [ $i -lt 600 ] || exit 1; i=$((i+1)); sleep 0.1; done")
}

/// The remote agent's change conflicts with the local one's, merged first: the conflict
/// becomes a fix task for the remote agent, whose clone is stopped at the conflict on its
/// host; a resolution reported with the markers still in is not committed (another fix), the
/// next one is, continued there, fetched back and merged.
#[test]
fn a_remote_agent_resolves_its_conflict_in_its_clone() {
    let Some(sshd) = Sshd::start() else {
        return;
    };
    let p = TestProject::new();
    let root = p.root();
    let _h1 = KillServer(format!("{}@h1", p.socket));
    common::init_repo(root, &[("shared.txt", "base\n")]);
    let host_dir = tempfile::tempdir().unwrap();
    let dir = host_dir.path().join("work");
    let started = root.join("far-started");
    let done = common::REPORT_DONE;
    // The local change waits until the remote agent works on its own, so both start from
    // the same main; the remote agent reports once the local change is merged.
    let near = format!(
        "[[task]]\nmatch = \"near edit\"\nwork_ms = 100\n\
         write = [{{ path = \"shared.txt\", content = \"base\\nnear\\n\" }}]\n\
         run = [{:?}, \"baton task done \\\"$BATON_FAKE_TASK\\\"\"]\n",
        wait_for(&format!("[ -e {} ]", started.display()))
    );
    let near_merged = format!(
        "git -C {} show main:shared.txt | grep -q near",
        root.display()
    );
    let far = format!(
        "[[task]]\nmatch = \"Resolve the merge conflict\"\nwork_ms = 100\n{done}\
         [[task]]\nmatch = \"Resolve the merge conflict\"\nrepeat = true\nwork_ms = 100\n\
         write = [{{ path = \"shared.txt\", content = \"base\\nnear\\nfar\\n\" }}]\n{done}\
         [[task]]\nmatch = \"far edit\"\nwork_ms = 100\n\
         write = [{{ path = \"shared.txt\", content = \"base\\nfar\\n\" }}]\n\
         run = [{:?}, {:?}, \"baton task done \\\"$BATON_FAKE_TASK\\\"\"]\n",
        format!("touch {}", started.display()),
        wait_for(&near_merged)
    );
    let config = format!(
        "isolation = \"worktree\"\nmemory_file = \".baton/BOARD.md\"\n\n{}{}host = \"h1\"\n\n{}\n\
         [verify]\ncommands = [\"! grep -q '^<<<<<<<\\\\|^>>>>>>>\\\\|^=======' shared.txt\"]\n\
         max_fix_cycles = 3\n\n[run]\ntest_tasks = false\n",
        p.fake_agent("near", "claude", &near),
        p.fake_agent("far", "codex", &far),
        sshd.host_table("h1", &dir, ""),
    );
    p.write_config(&config);
    p.write_plan("- [ ] near edit @near\n- [ ] far edit @far\n");

    let run = p
        .spawn(&["run", "plan.md"], Stdio::piped)
        .wait_with_output()
        .unwrap();
    let (stdout, stderr) = (
        String::from_utf8_lossy(&run.stdout),
        String::from_utf8_lossy(&run.stderr),
    );
    assert!(
        run.status.success(),
        "{stdout}\n{stderr}\n--- sshd\n{}",
        sshd.log()
    );
    assert_eq!(file_on(root, "main", "shared.txt"), "base\nnear\nfar");

    // Two fixes for the remote agent: the markers left, then the resolution.
    let tasks = p.json(&["task", "list", "--json"]);
    let tasks = tasks.as_array().unwrap();
    let fixes: Vec<&serde_json::Value> = tasks
        .iter()
        .filter(|t| {
            t["title"]
                .as_str()
                .unwrap()
                .starts_with("Resolve the merge conflict")
        })
        .collect();
    assert_eq!(fixes.len(), 2, "{tasks:#?}");
    assert!(
        tasks.iter().all(|t| t["status"] == "COMPLETED"),
        "{tasks:#?}"
    );
    assert!(fixes.iter().all(|t| t["assignee"] == "far"), "{fixes:#?}");
    let entries = journal(root);
    let said = |needle: &str| {
        entries
            .iter()
            .any(|j| j["action"] == "merge" && j["result"].as_str().unwrap_or("").contains(needle))
    };
    assert!(said("CONFLICT with main in shared.txt"), "{entries:#?}");
    let synced = entries.iter().any(|j| {
        j["action"] == "worktree"
            && j["result"]
                .as_str()
                .unwrap_or("")
                .contains("on h1: worktree rebased onto main: stopped at the conflict")
    });
    assert!(
        synced,
        "the clone was stopped at the conflict: {entries:#?}"
    );
    assert!(
        said("not queued: conflict: shared.txt"),
        "the markers were found in the clone: {entries:#?}"
    );
    let queue = p.json(&["merge-queue", "--json"]);
    let merges = queue["merges"].as_array().unwrap();
    let far_last = merges.iter().rev().find(|m| m["agent"] == "far").unwrap();
    assert_eq!(far_last["state"], "merged", "{queue:#}");
    // The clone's rebase was finished there, on its branch.
    let clone = dir.join(".baton/worktrees/far");
    assert_eq!(
        git(&clone, &["symbolic-ref", "--short", "HEAD"]),
        "baton/far"
    );
    assert_eq!(git(&clone, &["status", "--porcelain"]), "");
}
