//! Worktree isolation and the verified merge queue, end to end: fake agents in a real tmux
//! server, each in its own git worktree of a real repository, writing conflicting changes.

use std::collections::BTreeMap;
use std::collections::BTreeSet;
use std::path::Path;
use std::path::PathBuf;
use std::process::Command;
use std::process::Stdio;
use std::time::Duration;

use crate::common;
use crate::common::Ran;
use crate::common::TestProject;
use crate::common::assert_has;
use crate::common::commit_all_as;
use crate::common::git;

/// The verify script, committed in the repository: fails on conflict markers or a file
/// named BROKEN; on success appends the commit it verified to the log given as `$1`. With a
/// second argument, a directory, it first creates `running.<its pid>` there and waits for the
/// file to go away (so a test can kill the daemon while a verify runs).
const CHECK: &str = r#"#!/bin/sh
set -e
if [ -n "$2" ]; then
    : > "$2/running.$$"
    while [ -e "$2/running.$$" ]; do sleep 0.05; done
fi
if grep -q '^<<<<<<<\|^>>>>>>>\|^=======' shared.txt; then echo "conflict markers left in shared.txt"; exit 1; fi
if [ -e BROKEN ]; then echo "error: BROKEN is there"; exit 1; fi
git rev-parse HEAD >> "$1"
"#;

/// A project in a repository with a commit on `main`, the user's own uncommitted edit to a
/// tracked file and an untracked file of theirs.
fn project() -> TestProject {
    let p = TestProject::new();
    let root = p.root();
    common::init_repo(
        root,
        &[
            ("shared.txt", "base\n"),
            ("README.md", "# project\n"),
            ("check.sh", CHECK),
        ],
    );
    p.write_file("README.md", "# project\n\nmy edit, not committed\n");
    p.write_file("my-notes.txt", "mine\n");
    p
}

/// The log the verify script appends each commit it passed to.
fn verified_log(root: &Path) -> PathBuf {
    root.join("verified.log")
}

/// The verify command: the script, logging to `verified_log`; with `gated`, each verify
/// first waits at the (new) directory `gate` until let past (see `wait_opening_gate`).
fn check_command(root: &Path, gated: bool) -> String {
    let log = verified_log(root);
    if !gated {
        return format!("sh check.sh {}", log.display());
    }
    std::fs::create_dir(gate(root)).unwrap();
    format!("sh check.sh {} {}", log.display(), gate(root).display())
}

/// Where a gated verify waits.
fn gate(root: &Path) -> PathBuf {
    root.join("gate")
}

/// Writes an executable git hook of the repository.
fn write_hook(root: &Path, name: &str, script: &str) {
    use std::os::unix::fs::PermissionsExt;
    let hook = root.join(".git/hooks").join(name);
    std::fs::write(&hook, script).unwrap();
    std::fs::set_permissions(&hook, std::fs::Permissions::from_mode(0o755)).unwrap();
}

/// Writes a config of idle fake agents `names`, each in a worktree of its own, and starts
/// them without a daemon; returns what `baton up` printed.
pub(crate) fn up_isolated(p: &TestProject, names: &[&str]) -> String {
    let agents: String = names
        .iter()
        .map(|n| p.fake_agent(n, "claude", ""))
        .collect();
    p.write_config(&format!(
        "isolation = \"worktree\"\nmemory_file = \".baton/BOARD.md\"\n\n{agents}"
    ));
    p.ok(&["up", "--no-daemon", "--no-wait"])
}

/// Hashes what is the user's: the tracked files and theirs uncommitted, the index, HEAD.
fn user_state(root: &Path) -> BTreeMap<String, Vec<u8>> {
    [
        "shared.txt",
        "README.md",
        "check.sh",
        "my-notes.txt",
        ".git/index",
        ".git/HEAD",
    ]
    .iter()
    .map(|f| ((*f).to_owned(), std::fs::read(root.join(f)).unwrap()))
    .collect()
}

/// Fake-agent steps shared by both agents: each writes its side of shared.txt; the first
/// conflict fix is reported done with the markers still in (baton must not commit them), the
/// next writes both sides; a verify fix removes BROKEN.
fn steps() -> String {
    let done = common::REPORT_DONE;
    format!(
        "[[task]]\nmatch = \"Resolve the merge conflict\"\nwork_ms = 200\n{done}\
         [[task]]\nmatch = \"Resolve the merge conflict\"\nrepeat = true\nwork_ms = 200\nwrite = [{{ path = \"shared.txt\", content = \"base\\nalpha\\nbeta\\n\" }}]\n{done}\
         [[task]]\nmatch = \"Fix: \"\nrepeat = true\nwork_ms = 200\nrun = [\"rm -f BROKEN\", \"baton task done \\\"$BATON_FAKE_TASK\\\"\"]\n\
         [[task]]\nmatch = \"alpha feature\"\nrepeat = true\nwork_ms = 300\nwrite = [{{ path = \"shared.txt\", content = \"base\\nalpha\\n\" }}]\n{done}\
         [[task]]\nmatch = \"beta feature\"\nrepeat = true\nwork_ms = 300\nwrite = [{{ path = \"shared.txt\", content = \"base\\nbeta\\n\" }}]\n{done}\
         [[task]]\nmatch = \"broken feature\"\nrepeat = true\nwork_ms = 300\nwrite = [{{ path = \"BROKEN\", content = \"x\\n\" }}]\n{done}"
    )
}

/// A project (see `project`) whose agents a and b take the `steps`, verified by
/// `check_command`.
fn two_agent_project(gated: bool) -> TestProject {
    let p = project();
    let verify = check_command(p.root(), gated);
    let agents = p.fake_agent("a", "claude", &steps()) + &p.fake_agent("b", "claude", &steps());
    p.write_config(&format!(
        "isolation = \"worktree\"\nmemory_file = \".baton/BOARD.md\"\n\n{agents}[verify]\ncommands = [{verify:?}]\nmax_fix_cycles = 3\n\n[run]\nstuck_after_secs = 5\ntest_tasks = false\n"
    ));
    p
}

/// Every value the integration branch took, oldest first (its reflog).
fn history(root: &Path) -> Vec<String> {
    let mut h: Vec<String> = git(root, &["reflog", "show", "--format=%H", "refs/heads/main"])
        .lines()
        .map(str::to_owned)
        .collect();
    h.reverse();
    h
}

/// The integration branch only ever moved forward (each value a descendant of the one before),
/// and only to commits whose verify passed.
fn assert_only_verified_fast_forwards(root: &Path, verified_log: &Path) {
    let verified: BTreeSet<String> = std::fs::read_to_string(verified_log)
        .unwrap_or_default()
        .lines()
        .map(str::to_owned)
        .collect();
    let h = history(root);
    assert!(h.len() >= 2, "main never moved: {h:?}");
    for w in h.windows(2) {
        let ok = Command::new("git")
            .arg("-C")
            .arg(root)
            .args(["merge-base", "--is-ancestor", &w[0], &w[1]])
            .status()
            .unwrap()
            .success();
        assert!(
            ok,
            "main was rewritten: {} is not an ancestor of {}",
            w[0], w[1]
        );
        assert!(
            verified.contains(&w[1]),
            "main moved to {} whose verify never passed (verified: {verified:?})",
            w[1]
        );
    }
}

/// Two agents change the same line; one merge conflicts and becomes a fix task for its agent,
/// a third change breaks verify and becomes another; in the end main holds both changes, only
/// ever moved to verified commits, and the user's checkout is byte for byte as it was.
#[test]
fn conflicting_agents_merge_through_the_verified_queue() {
    let p = two_agent_project(false);
    let root = p.root();
    let verified = verified_log(root);
    let before = user_state(root);
    p.write_plan("- [ ] alpha feature\n- [ ] beta feature\n");
    p.ok(&["run", "plan.md", "--quiet"]);
    // Both changes are in, through the queue.
    assert_eq!(git(root, &["show", "main:shared.txt"]), "base\nalpha\nbeta");
    assert_only_verified_fast_forwards(root, &verified);
    // The second merge conflicted: a fix task for the same agent, with the conflict.
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
    let fix = fixes
        .first()
        .unwrap_or_else(|| panic!("no conflict fix task: {tasks:#?}"));
    assert_eq!(fix["status"], "COMPLETED");
    assert!(
        fix["body"].as_str().unwrap().contains("shared.txt"),
        "{fix}"
    );
    // The first fix was reported with the markers still in: not committed, fixed again.
    assert_eq!(fixes.len(), 2, "{tasks:#?}");
    let history = git(root, &["log", "-p", "--all", "--format=%H"]);
    assert!(
        !history
            .lines()
            .any(|l| l.starts_with("+<<<<<<<") || l.starts_with("+>>>>>>>")),
        "conflict markers were committed:\n{history}"
    );
    let queue = p.json(&["merge-queue", "--json"]);
    let merges = queue["merges"].as_array().unwrap();
    let conflicted = merges
        .iter()
        .find(|m| m["state"] == "conflict")
        .unwrap_or_else(|| panic!("no conflict in the queue: {merges:#?}"));
    assert_eq!(
        fix["assignee"], conflicted["agent"],
        "the fix goes to its author"
    );
    assert!(merges.iter().any(|m| m["state"] == "merged"));
    // The text table lines up: each row's HEAD column starts where the header's does.
    let table = p.ok(&["merge-queue"]);
    let header = table.lines().find(|l| l.starts_with("#")).unwrap();
    let at = header.find("HEAD").unwrap();
    let rows = table
        .lines()
        .filter(|l| l.starts_with(|c: char| c.is_ascii_digit()));
    for row in rows {
        assert_eq!(row.as_bytes()[at - 1], b' ', "{table}");
        assert_ne!(row.as_bytes()[at], b' ', "misaligned:\n{table}");
    }
    assert!(
        queue["agents"]
            .as_array()
            .unwrap()
            .iter()
            .all(|a| a["pending"].as_array().unwrap().is_empty()),
        "{queue:#}"
    );
    // Each commit says which task it is, with its agent as co-author.
    let log = git(root, &["log", "--format=%s%n%b", "main"]);
    assert!(
        log.contains("T-001: alpha feature") && log.contains("T-002: beta feature"),
        "{log}"
    );
    assert!(
        log.contains("Co-authored-by: a <a@baton.invalid>")
            || log.contains("Co-authored-by: b <b@baton.invalid>"),
        "{log}"
    );
    // The report names each merge commit.
    let report = std::fs::read_to_string(root.join("REPORT.md")).unwrap();
    assert!(report.contains("## Merges"), "{report}");
    let head = git(root, &["rev-parse", "main"]);
    assert!(report.contains(&head[..12]), "{report}");
    // The user's checkout: not a byte changed, nothing of baton's in its status.
    assert_eq!(user_state(root), before);
    let status = git(root, &["status", "--porcelain", "--untracked-files=all"]);
    assert!(!status.contains(".baton"), "{status}");

    // A change that breaks verify never reaches main: a fix task, then it is merged.
    let main_before = git(root, &["rev-parse", "main"]);
    p.write_file("plan2.md", "- [ ] broken feature\n");
    p.ok(&["run", "plan2.md", "--quiet"]);
    let tasks = p.json(&["task", "list", "--json"]);
    assert!(
        tasks.as_array().unwrap().iter().any(|t| t["title"]
            .as_str()
            .unwrap()
            .starts_with("Fix: T-")
            && t["body"].as_str().unwrap().contains("BROKEN is there")),
        "{tasks:#}"
    );
    assert!(
        p.json(&["merge-queue", "--json"])["merges"]
            .as_array()
            .unwrap()
            .iter()
            .any(|m| m["state"] == "failed" && m["detail"].as_str().unwrap().contains("BROKEN")),
    );
    assert_only_verified_fast_forwards(root, &verified);
    assert_ne!(git(root, &["rev-parse", "main"]), main_before);
    assert!(!git(root, &["ls-tree", "--name-only", "main"]).contains("BROKEN"));
    // `baton diff` has nothing left to show; prune removes every worktree and branch.
    let diff = p.ok(&["diff", "a"]);
    assert!(diff.contains("nothing unmerged"), "{diff}");
    p.ok(&["down", "--prune"]);
    assert!(!root.join(".baton/worktrees/a").exists());
    assert!(git(root, &["branch", "--list", "baton/*"]).is_empty());
    assert_eq!(user_state(root), before);

    // `main` is checked out here: merge-queue says the files are behind, `baton sync` brings
    // the merged work in on the person's request and keeps their edits.
    let queue = p.json(&["merge-queue", "--json"]);
    assert!(
        queue["checkout"]
            .as_str()
            .unwrap_or("")
            .contains("baton sync"),
        "{queue:#}"
    );
    let out = p.ok(&["sync"]);
    assert!(out.contains("merge(s) brought in"), "{out}");
    assert_eq!(
        std::fs::read_to_string(root.join("shared.txt")).unwrap(),
        "base\nalpha\nbeta\n"
    );
    let after = user_state(root);
    assert_eq!(after["README.md"], before["README.md"]);
    assert_eq!(after["my-notes.txt"], before["my-notes.txt"]);
    let status = git(root, &["status", "--porcelain"]);
    assert_eq!(
        status
            .lines()
            .filter(|l| !l.starts_with("??"))
            .collect::<Vec<_>>(),
        ["M README.md"],
        "only the person's own edit differs from main now"
    );
    assert!(p.ok(&["sync"]).contains("up to date"));
}

/// Shared agents working in the checkout where the integration branch is checked out would
/// commit the stale files over merged work: refused, with what to do.
#[test]
fn shared_agents_beside_the_checked_out_integration_branch_are_refused() {
    let p = project();
    let agents = p.fake_agent("a", "claude", "") + &p.fake_agent("b", "claude", "");
    let agents = agents.replacen(
        "[[agent]]\nname = \"b\"",
        "[[agent]]\nname = \"b\"\nisolation = \"shared\"",
        1,
    );
    p.write_config(&format!("isolation = \"worktree\"\n\n{agents}"));
    let up = p.exec(&["up", "--no-daemon", "--no-wait"]);
    up.expect_code(1);
    assert_has(
        &up.stderr,
        &["would undo merged work", "integration_branch"],
    );
}

/// The verifies waiting at the gate: their pids.
fn waiting(gate: &Path) -> BTreeSet<u32> {
    std::fs::read_dir(gate)
        .unwrap()
        .filter_map(|e| {
            e.ok()?
                .file_name()
                .to_str()?
                .strip_prefix("running.")?
                .parse()
                .ok()
        })
        .collect()
}

/// Waits for a run to end while letting every verify past the gate as it arrives; fails the
/// test unless the run succeeded.
fn wait_opening_gate(child: std::process::Child, gate: &Path) {
    let stop = std::sync::atomic::AtomicBool::new(false);
    std::thread::scope(|scope| {
        scope.spawn(|| {
            while !stop.load(std::sync::atomic::Ordering::SeqCst) {
                for pid in waiting(gate) {
                    let _ = std::fs::remove_file(gate.join(format!("running.{pid}")));
                }
                std::thread::sleep(Duration::from_millis(20));
            }
        });
        let out = child.wait_with_output().unwrap();
        stop.store(true, std::sync::atomic::Ordering::SeqCst);
        Ran::from(out).expect_code(0);
    });
}

/// kill -9 of the daemon during a merge — right as it starts (preparing the scratch worktree,
/// rebasing), then twice while its verify runs: the integration branch stays where it was or
/// moves forward to a verified commit, never rewritten; the restarted daemon kills the
/// orphaned verify and runs the merge again; everything is merged in the end.
#[test]
fn kill_9_during_a_merge_leaves_no_half_merged_state() {
    let p = two_agent_project(true);
    let root = p.root();
    let (verified, gate) = (verified_log(root), gate(root));
    let before = user_state(root);
    p.write_plan("- [ ] alpha feature\n- [ ] beta feature\n");
    let merge_starts = |p: &TestProject| {
        p.journal()
            .iter()
            .filter(|j| {
                j["action"] == "merge" && j["result"].as_str().unwrap_or("").contains("started")
            })
            .count()
    };
    let mut orphans = BTreeSet::new();
    for round in 0..3 {
        let main_before = git(root, &["rev-parse", "main"]);
        let starts = merge_starts(&p);
        let seen = waiting(&gate);
        let mut child = p.spawn(&["run", "plan.md", "--quiet"], Stdio::null);
        if round == 0 {
            common::wait_until(Duration::from_secs(60), "a merge started", || {
                merge_starts(&p) > starts
            });
        } else {
            common::wait_until(Duration::from_secs(60), "a verify running", || {
                !waiting(&gate).is_subset(&seen)
            });
            orphans.extend(waiting(&gate).difference(&seen).copied());
        }
        child.kill().unwrap();
        child.wait().unwrap();
        // Killed before its verify passed: main did not move.
        assert_eq!(git(root, &["rev-parse", "main"]), main_before);
        assert!(
            !git(root, &["worktree", "list"]).is_empty(),
            "the repository still reads"
        );
    }
    // The last run goes through. Its daemon first kills the verifies the killed ones left
    // waiting at the gate (nothing lets them past yet)...
    assert!(!orphans.is_empty());
    let child = p.spawn(&["run", "plan.md", "--quiet"], Stdio::piped);
    common::wait_until(Duration::from_secs(30), "orphaned verifies killed", || {
        orphans
            .iter()
            .all(|pid| !Path::new(&format!("/proc/{pid}")).exists())
    });
    // ... then verifies are let past the gate.
    wait_opening_gate(child, &gate);
    assert_eq!(git(root, &["show", "main:shared.txt"]), "base\nalpha\nbeta");
    assert_only_verified_fast_forwards(root, &verified);
    assert!(
        p.journal().iter().any(|j| j["action"] == "merge"
            && j["result"]
                .as_str()
                .unwrap_or("")
                .contains("interrupted by a stop")),
        "the restarted daemon queued the interrupted merge again"
    );
    assert_eq!(user_state(root), before);
    crate::test_run::fault_row("daemon kill -9 mid-merge", 3, root);
}

/// `baton demo --worktree`: the conflict and the broken change of the demo both end merged,
/// and main holds both greetings.
#[test]
fn the_worktree_demo_merges_everything() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("demo");
    let stdout = common::run_demo(&root, &["--worktree"]);
    assert_eq!(
        git(&root, &["show", "main:greetings.txt"]),
        "Greetings:\nHello\nBonjour"
    );
    assert!(stdout.contains("## Merges"), "{stdout}");
    assert!(stdout.contains("| conflict |"), "{stdout}");
    assert!(stdout.contains("| failed |"), "{stdout}");
    assert!(stdout.contains("Resolve the merge conflict"), "{stdout}");
}

/// kill -9 after the integration branch moved but before the merge was recorded (held there
/// by a reference-transaction hook): the restarted daemon finds the change already in, records
/// the merge, and the branch is neither moved back nor merged twice.
#[test]
fn kill_9_between_the_branch_moving_and_its_record() {
    let p = two_agent_project(false);
    let root = p.root();
    let verified = verified_log(root);
    // Once the main branch moved (the transaction is committed), say so and wait while the
    // hold file exists.
    let hold = root.join("hold");
    let moved = root.join("moved");
    write_hook(
        root,
        "reference-transaction",
        &format!(
            "#!/bin/sh\n[ \"$1\" = committed ] || exit 0\nwhile read old new ref; do\n  if [ \"$ref\" = refs/heads/main ] && [ -e {hold} ]; then\n    echo \"$new\" > {moved}\n    while [ -e {hold} ]; do sleep 0.05; done\n  fi\ndone\n",
            hold = hold.display(),
            moved = moved.display()
        ),
    );
    std::fs::write(&hold, "").unwrap();
    p.write_plan("- [ ] alpha feature\n");
    let mut child = p.spawn(&["run", "plan.md", "--quiet"], Stdio::null);
    common::wait_until(Duration::from_secs(60), "main moved by the queue", || {
        moved.exists()
    });
    child.kill().unwrap();
    child.wait().unwrap();
    let landed = std::fs::read_to_string(&moved).unwrap().trim().to_owned();
    assert_eq!(git(root, &["rev-parse", "main"]), landed);
    let queue = p.json(&["merge-queue", "--json"]);
    assert_eq!(queue["merges"][0]["state"], "running", "{queue:#}");
    std::fs::remove_file(&hold).unwrap();
    p.ok(&["run", "plan.md", "--quiet"]);
    assert_eq!(git(root, &["rev-parse", "main"]), landed, "not moved again");
    assert_eq!(git(root, &["show", "main:shared.txt"]), "base\nalpha");
    let queue = p.json(&["merge-queue", "--json"]);
    let merges = queue["merges"].as_array().unwrap();
    assert_eq!(merges.len(), 1, "{queue:#}");
    assert_eq!(merges[0]["state"], "merged");
    assert_eq!(merges[0]["merge_commit"].as_str(), Some(landed.as_str()));
    assert!(
        merges[0]["detail"].as_str().unwrap().contains("already in"),
        "{queue:#}"
    );
    assert_only_verified_fast_forwards(root, &verified);
    assert_eq!(history(root).len(), 2, "main moved exactly once");
    crate::test_run::fault_row("daemon kill -9 after ref moved", 1, root);
}

/// `baton down --prune` removes what holds nothing unmerged and refuses, with the list, where
/// work would be lost: uncommitted changes, a commit not on the integration branch.
#[test]
fn prune_refuses_where_work_would_be_lost() {
    let p = project();
    let root = p.root();
    let out = up_isolated(&p, &["a", "b", "c"]);
    assert!(
        out.contains("works in .baton/worktrees/a on branch baton/a"),
        "{out}"
    );
    assert!(
        out.contains("baton sync"),
        "the checked-out branch is pointed out: {out}"
    );
    let wt = |a: &str| root.join(".baton/worktrees").join(a);
    // a: an uncommitted file; b: a commit of its own; c: nothing.
    std::fs::write(wt("a").join("draft.txt"), "half done\n").unwrap();
    std::fs::write(wt("b").join("shared.txt"), "base\nb's work\n").unwrap();
    commit_all_as(&wt("b"), "b", "b's work");
    let diff = p.ok(&["diff", "b"]);
    assert!(diff.contains("+b's work"), "{diff}");
    let down = p.exec(&["down", "--prune"]);
    down.expect_code(1);
    assert_has(
        &down.stderr,
        &["a: uncommitted changes", "b: commit", "b's work"],
    );
    assert!(wt("a").join("draft.txt").exists() && wt("b").exists());
    assert!(!wt("c").exists(), "c had nothing unmerged");
    assert!(git(root, &["branch", "--list", "baton/c"]).is_empty());
    // Errors name what is wrong.
    let out = p.run(&["diff", "nobody"]);
    assert!(String::from_utf8_lossy(&out.stderr).contains("no agent named `nobody`"));
}

/// A pre-commit hook refuses the agent's work: the work stays in its worktree, a fix task goes
/// to the same agent (its work kept, not set aside), and the fixed work is merged. The `.env`
/// it also wrote is never committed.
#[test]
fn work_a_pre_commit_hook_refuses_becomes_a_fix_for_its_agent() {
    let p = project();
    let root = p.root();
    write_hook(
        root,
        "pre-commit",
        "#!/bin/sh\nif git diff --cached | grep -q '^+.*TODO'; then echo 'pre-commit: a TODO is left'; exit 1; fi\n",
    );
    let done = common::REPORT_DONE;
    let script = format!(
        "[[task]]\nmatch = \"could not be committed\"\nwork_ms = 200\nwrite = [{{ path = \"shared.txt\", content = \"base\\ngamma\\n\" }}]\n{done}\
         [[task]]\nmatch = \"gamma feature\"\nwork_ms = 200\nwrite = [{{ path = \"shared.txt\", content = \"base\\nTODO gamma\\n\" }}, {{ path = \".env\", content = \"API_TOKEN=not-for-git\\n\" }}]\n{done}"
    );
    let agents = p.fake_agent("a", "claude", &script);
    p.write_config(&format!(
        "isolation = \"worktree\"\nmemory_file = \".baton/BOARD.md\"\n\n{agents}[verify]\ncommands = [\"true\"]\n\n[run]\ntest_tasks = false\n"
    ));
    p.write_plan("- [ ] gamma feature\n");
    p.ok(&["run", "plan.md", "--quiet"]);
    assert_eq!(git(root, &["show", "main:shared.txt"]), "base\ngamma");
    let tasks = p.json(&["task", "list", "--json"]);
    let fix = tasks
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["title"] == "Fix: T-001 could not be committed")
        .unwrap_or_else(|| panic!("{tasks:#}"));
    assert_eq!(fix["assignee"], "a");
    assert_eq!(fix["status"], "COMPLETED");
    assert!(
        fix["body"].as_str().unwrap().contains("a TODO is left"),
        "{fix}"
    );
    // The agent's work was kept for the fix, not set aside.
    let journal = p.journal();
    assert!(
        journal
            .iter()
            .any(|j| j["action"] == "worktree"
                && j["result"].as_str().unwrap_or("").contains("kept")),
        "{journal:#?}"
    );
    assert!(git(root, &["for-each-ref", "refs/baton/set-aside"]).is_empty());
    // The `.env` it wrote was never committed, and the journal says why.
    let everything = git(root, &["log", "--all", "--name-only", "--format="]);
    assert!(!everything.lines().any(|l| l == ".env"), "{everything}");
    assert!(
        journal.iter().any(|j| j["result"]
            .as_str()
            .unwrap_or("")
            .contains("look like secrets: .env")),
        "{journal:#?}"
    );
}

/// `[verify] batch = 3`: merges that pile up behind a running one are checked under one verify
/// and land together; a batch whose verify fails is merged one by one, so only the broken
/// change becomes a fix task. The branch still only points at verified commits. The order is
/// forced: the first change's verify waits at a gate while the others, held until it does,
/// are reported and queued.
#[test]
fn batched_merges_share_a_verify_and_a_failed_batch_goes_one_by_one() {
    let p = project();
    let root = p.root();
    let (verified, gate) = (verified_log(root), gate(root));
    let verify = check_command(root, true);
    let go = root.join("go");
    let done = "\"baton task done \\\"$BATON_FAKE_TASK\\\"\"";
    // `held`: reported only once the file `go.<round>` exists.
    let task = |word: &str, path: &str, held: Option<u32>| {
        let wait = held.map_or(String::new(), |r| {
            format!(
                "\"while [ ! -e {}.{r} ]; do sleep 0.05; done\", ",
                go.display()
            )
        });
        format!(
            "[[task]]\nmatch = \"{word} file\"\nwork_ms = 100\nwrite = [{{ path = \"{path}\", content = \"{word}\\n\" }}]\nrun = [{wait}{done}]\n"
        )
    };
    let script = format!(
        "[[task]]\nmatch = \"Fix: \"\nrepeat = true\nwork_ms = 100\nrun = [\"rm -f BROKEN\", {done}]\n{}{}{}{}{}{}",
        task("alpha", "alpha.txt", None),
        task("beta", "beta.txt", Some(1)),
        task("gamma", "gamma.txt", Some(1)),
        task("delta", "delta.txt", None),
        task("epsilon", "epsilon.txt", Some(2)),
        task("broken", "BROKEN", Some(2)),
    );
    let agents: String = ["a", "b", "c"]
        .iter()
        .map(|n| p.fake_agent(n, "claude", &script))
        .collect();
    p.write_config(&format!(
        "isolation = \"worktree\"\nmemory_file = \".baton/BOARD.md\"\n\n{agents}[verify]\ncommands = [{verify:?}]\nbatch = 3\n\n[run]\ntest_tasks = false\n"
    ));
    let queued = |p: &TestProject| {
        p.json(&["merge-queue", "--json"])["merges"]
            .as_array()
            .unwrap()
            .iter()
            .filter(|m| m["state"] == "queued")
            .count()
    };
    // One round: start the run; once the first merge waits at the gate, release the held
    // tasks; once both are queued behind it, let every verify through.
    let round = |plan: &str, n: u32| {
        let child = p.spawn(&["run", plan, "--quiet"], Stdio::piped);
        common::wait_until(
            Duration::from_secs(60),
            "the first merge at the gate",
            || !waiting(&gate).is_empty(),
        );
        std::fs::write(format!("{}.{n}", go.display()), "").unwrap();
        common::wait_until(
            Duration::from_secs(60),
            "two merges queued behind it",
            || queued(&p) >= 2,
        );
        wait_opening_gate(child, &gate);
    };

    // Round 1: alpha alone, then beta and gamma as one batch: three merges, two verifies.
    p.write_plan("- [ ] alpha file\n- [ ] beta file\n- [ ] gamma file\n");
    round("plan.md", 1);
    let merges = p.json(&["merge-queue", "--json"])["merges"]
        .as_array()
        .unwrap()
        .clone();
    let batched: Vec<&serde_json::Value> = merges
        .iter()
        .filter(|m| m["detail"].as_str().unwrap_or("").contains("in a batch"))
        .collect();
    assert_eq!(batched.len(), 2, "{merges:#?}");
    assert_eq!(
        batched[0]["merge_commit"], batched[1]["merge_commit"],
        "one landing"
    );
    let tree = git(root, &["ls-tree", "--name-only", "main"]);
    for f in ["alpha.txt", "beta.txt", "gamma.txt"] {
        assert!(tree.lines().any(|l| l == f), "{f} missing: {tree}");
    }
    let verifies = std::fs::read_to_string(&verified).unwrap().lines().count();
    assert_eq!(verifies, 2, "three merges, two verifies");
    assert_only_verified_fast_forwards(root, &verified);

    // Round 2: delta alone, then epsilon with the broken change: the batch fails, each goes
    // alone; only the broken one becomes a fix task.
    p.write_file(
        "plan2.md",
        "- [ ] delta file\n- [ ] epsilon file\n- [ ] broken file\n",
    );
    round("plan2.md", 2);
    let journal = p.journal();
    let back = journal
        .iter()
        .filter(|j| {
            j["result"]
                .as_str()
                .unwrap_or("")
                .contains("back in the queue")
        })
        .count();
    assert_eq!(back, 2, "the failed batch of two went back to the queue");
    let tasks = p.json(&["task", "list", "--json"]);
    let fixes: Vec<&serde_json::Value> = tasks
        .as_array()
        .unwrap()
        .iter()
        .filter(|t| t["title"].as_str().unwrap().starts_with("Fix: "))
        .collect();
    assert_eq!(fixes.len(), 1, "only the broken change: {fixes:#?}");
    let tree = git(root, &["ls-tree", "--name-only", "main"]);
    for f in ["delta.txt", "epsilon.txt"] {
        assert!(tree.lines().any(|l| l == f), "{f} missing: {tree}");
    }
    assert!(!tree.lines().any(|l| l == "BROKEN"), "{tree}");
    assert_only_verified_fast_forwards(root, &verified);
}

/// A conflict past the fix cycles (none here): the run ends, exits 4 and names the change
/// that is not on the integration branch; its summary says it (a completed task whose work
/// never merged was counted completed, exit 0).
#[test]
fn a_change_that_never_merged_is_said_and_fails_the_run() {
    let p = project();
    let agents = p.fake_agent("a", "claude", &steps()) + &p.fake_agent("b", "claude", &steps());
    p.write_config(&format!(
        "isolation = \"worktree\"\n\n{agents}[verify]\ncommands = [\"true\"]\nmax_fix_cycles = 0\n\n[run]\nstuck_after_secs = 5\ntest_tasks = false\n"
    ));
    p.write_plan("- [ ] alpha feature @a\n- [ ] beta feature @b\n");
    let run = p.exec(&["run", "plan.md", "--quiet"]);
    run.expect_code(4);
    assert_has(
        &run.stdout,
        &["finished: 2 completed, 0 blocked, 0 waiting, 1 not merged"],
    );
    assert_has(&run.stderr, &["not all done: 1 change(s) not merged (T-00"]);
}
