//! `baton run` and `baton demo` end to end: fake agents in a private tmux server, the daemon
//! dispatching, recovering and verifying until every task is done exactly once.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use crate::common;
use crate::common::TestProject;
use crate::common::assert_has;
use crate::common::baton_bin;
use crate::common::done_step;
use crate::common::strings_of;

use crate::common::journal_at as journal;

/// Writes `plan.md`: `count` tasks, each after the one `stride` places before it.
fn write_chained_plan(root: &Path, count: usize, stride: usize, title: impl Fn(usize) -> String) {
    let list: String = (1..=count)
        .map(|i| {
            let after = if i > stride {
                format!(" after:#{}", i - stride)
            } else {
                String::new()
            };
            format!("- [ ] {}{after}\n", title(i))
        })
        .collect();
    std::fs::write(root.join("plan.md"), list).unwrap();
}

/// The tasks of the project at `root` (`baton task list --json`).
fn task_list(root: &Path) -> Vec<serde_json::Value> {
    let out = std::process::Command::new(baton_bin())
        .args(["task", "list", "--json"])
        .current_dir(root)
        .output()
        .unwrap();
    let list: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    list.as_array().unwrap().clone()
}

/// How many times the journal of the project at `root` says each task was done.
fn done_counts(root: &Path) -> BTreeMap<String, usize> {
    let mut done: BTreeMap<String, usize> = BTreeMap::new();
    for j in journal(root) {
        if j["action"] == "task-done" {
            *done
                .entry(j["task"].as_str().unwrap().to_owned())
                .or_default() += 1;
        }
    }
    done
}

/// Every task COMPLETED, and `task-done` journaled exactly once for each.
fn assert_all_done_once(root: &Path, tasks: usize) {
    let list = task_list(root);
    assert!(list.len() >= tasks, "{} tasks", list.len());
    for t in &list {
        assert_eq!(t["status"], "COMPLETED", "{t}");
    }
    let done = done_counts(root);
    assert_eq!(done.len(), list.len());
    assert!(
        done.values().all(|n| *n == 1),
        "a task was completed twice: {done:?}"
    );
}

#[test]
fn the_demo_runs_to_a_correct_report() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("demo");
    let stdout = common::run_demo(&root, &[]);
    // 9 planned tasks, one fix task, and a test task for each of the 5 features (the tasks
    // with skills rust or refactoring; design, review and docs are no features).
    assert!(
        stdout.contains("finished: 15 completed, 0 blocked, 0 waiting, last verify passed"),
        "{stdout}"
    );
    assert_all_done_once(&root, 15);
    let report = std::fs::read_to_string(root.join("REPORT.md")).unwrap();
    assert!(
        report.contains("`sh check.sh` FAILED") && report.contains("`sh check.sh` passed"),
        "{report}"
    );
    assert!(
        report.contains("| Fix: `sh check.sh` fails | codex | COMPLETED |"),
        "{report}"
    );
    // The lead's quota climbed: it handed the role to amp with its notes.
    assert!(
        report.contains("handoff-done: amp leads, takeover verified"),
        "{report}"
    );
    let handoff = std::fs::read_to_string(root.join("HANDOFF_TO_AMP.md")).unwrap();
    assert!(
        handoff.contains("Decided: hello.sh stays POSIX sh"),
        "{handoff}"
    );
    let actions: Vec<String> = journal(&root)
        .iter()
        .map(|j| format!("{} {}", j["action"], j["result"]))
        .collect();
    let has = |needle: &str| actions.iter().any(|a| a.contains(needle));
    assert!(has("agent-died"), "the crash was noticed");
    assert!(has("agent-restart"), "the crashed agent was restarted");
    fault_row("agent crashed (demo)", 1, &root);
    fault_row("agent hung (demo)", 1, &root);
    assert!(
        has("stuck: Ctrl-C and the prompt again"),
        "the hung agent was recovered"
    );
    // Each feature's test task went to the agent that built it.
    let rows: Vec<Vec<&str>> = report
        .lines()
        .filter(|l| l.starts_with("| T-"))
        .map(|l| l.split(" | ").collect())
        .collect();
    for feature in [
        "Write hello.sh",
        "Write the French greeting",
        "Add shell tests",
    ] {
        let built = rows.iter().find(|r| r[1] == feature).expect(feature);
        let id = built[0].trim_start_matches("| ");
        let test = rows
            .iter()
            .find(|r| r[1] == format!("Test {id}: {feature}"))
            .unwrap_or_else(|| panic!("no test task for {feature}: {report}"));
        assert_eq!(
            test[2], built[2],
            "{feature} tested by its builder: {report}"
        );
    }
    // codex swallowed Enter and still worked.
    let codex = std::fs::read_to_string(root.join(".baton/codex.events.log")).unwrap();
    assert_has(&codex, &["enter-swallowed"]);
}

#[test]
fn forty_tasks_with_dependencies_all_done_once() {
    let p = TestProject::new();
    let step = |persona: &str, extra: &str| {
        format!(
            "default_work_ms = 300\n{extra}\n{}",
            done_step(300, &format!(" --note \\\"{persona}\\\""))
        )
    };
    let fix = "[[task]]\nmatch = \"Fix:\"\nwork_ms = 200\nrun = [\"touch fixed.txt\", \"baton task done \\\"$BATON_FAKE_TASK\\\"\"]\n";
    // gemini hangs on its first prompt; amp crashes on its first prompt, once (a marker
    // file), and runs normally after baton restarts it.
    let crashy = p.write_script(
        "amp-crash",
        "persona = \"amp\"\nstart_delay_ms = 100\n[[task]]\ncrash = 3\n",
    );
    let amp = p.fake_agent("amp", "amp", &step("amp", ""));
    let normal = p.root().join("amp.fake.toml");
    let marker = p.root().join("amp-crashed");
    let amp = amp.replace(
        &format!("fake-agent --script {}", normal.display()),
        &format!(
            "fake-agent --script $(test -e {m} && echo {n} || (touch {m}; echo {c}))",
            m = marker.display(),
            n = normal.display(),
            c = crashy.display()
        ),
    );
    let agents = p.fake_agent("claude", "claude", &step("claude", ""))
        + &p.fake_agent(
            "codex",
            "codex",
            &step("codex", &format!("swallow_first_enter = true\n{fix}")),
        )
        + &amp
        + &p.fake_agent(
            "gemini",
            "gemini",
            &step("gemini", "[[task]]\nhang = true\n"),
        );
    let agents = agents.replace("cli = \"codex\"\n", "cli = \"codex\"\nskills = [\"fix\"]\n");
    p.write_config(&format!(
        "{agents}[verify]\ncommands = [\"test -f fixed.txt\"]\nmax_fix_cycles = 2\n\n[run]\nstuck_after_secs = 2\ntest_tasks = false\n"
    ));
    write_chained_plan(p.root(), 40, 4, |i| format!("task {i} of the plan"));
    let stdout = p.ok(&["run", "plan.md", "--quiet"]);
    assert!(
        stdout.contains("finished: 41 completed, 0 blocked, 0 waiting, last verify passed"),
        "{stdout}"
    );
    assert_all_done_once(p.root(), 41);
    let report = std::fs::read_to_string(p.root().join("REPORT.md")).unwrap();
    assert_eq!(report.matches("| COMPLETED |").count(), 41, "{report}");
    let actions: Vec<String> = journal(p.root())
        .iter()
        .map(|j| format!("{} {}", j["action"], j["result"]))
        .collect();
    let has = |needle: &str| actions.iter().any(|a| a.contains(needle));
    assert!(
        has("agent-died") && has("agent-restart"),
        "the crashed agent was restarted"
    );
    assert!(
        has("stuck: Ctrl-C and the prompt again"),
        "the hung agent was recovered"
    );
    assert!(
        has("verify") && has("FAILED") && has("passed"),
        "a verify failure was fixed"
    );
    // Again: nothing left to do, and nothing done twice.
    let again = p.run(&["run", "plan.md", "--quiet"]);
    assert!(String::from_utf8_lossy(&again.stdout).contains("imported before"));
    assert_all_done_once(p.root(), 41);
}

/// kill -9 of the daemon at 20 moments spread over a run, restarted each time: no task lost,
/// none done twice, none started again after it was reported done.
#[test]
fn kill_9_of_the_daemon_loses_nothing() {
    let p = TestProject::new();
    let agents = common::four_personas(&p, &done_step(400, ""));
    p.write_config(&format!(
        "{agents}[run]\nstuck_after_secs = 2\ntest_tasks = false\n"
    ));
    write_chained_plan(p.root(), 30, 6, |i| format!("job {i}"));
    for round in 0..20u64 {
        let mut child = p.spawn(&["run", "plan.md", "--quiet"], Stdio::null);
        // The fault: kill -9 at a moment that moves through start-up, dispatch and delivery.
        std::thread::sleep(Duration::from_millis(150 + (round * 97) % 900));
        let _ = child.kill();
        let _ = child.wait();
    }
    // The final run succeeds.
    p.ok(&["run", "plan.md", "--quiet"]);
    assert_all_done_once(p.root(), 30);
    let mut done_at: BTreeMap<String, i64> = BTreeMap::new();
    for j in journal(p.root()) {
        let Some(task) = j["task"].as_str() else {
            continue;
        };
        match j["action"].as_str() {
            Some("task-done") => {
                done_at.insert(task.to_owned(), j["seq"].as_i64().unwrap());
            }
            Some("task-start") => {
                assert!(
                    !done_at.contains_key(task),
                    "{task} started again after it was done"
                );
            }
            _ => {}
        }
    }
    let starts = journal(p.root())
        .iter()
        .filter(|j| j["action"] == "daemon-start")
        .count();
    assert!(starts >= 2, "the daemon did start several times ({starts})");
    fault_row("daemon kill -9", 20, p.root());
}

/// Many agents reporting at once: an agent's `task done` committed between two of the
/// daemon's own journal entries must still reach the engine (it once skipped them, and the
/// run never ended).
#[test]
fn many_agents_reporting_at_once_are_all_heard() {
    let p = TestProject::new();
    let step = done_step(50, "");
    let agents: String = (0..20)
        .map(|i| p.fake_agent(&format!("a{i:02}"), "claude", &step))
        .collect();
    p.write_config(&format!("{agents}[run]\ntest_tasks = false\n"));
    let list: String = (0..80).map(|i| format!("- [ ] quick {i}\n")).collect();
    p.write_plan(&list);
    let stdout = p.ok(&["run", "plan.md", "--quiet"]);
    assert!(stdout.contains("finished: 80 completed"), "{stdout}");
    assert_all_done_once(p.root(), 80);
}

/// `baton up` starts the daemon in the background: a task added afterwards is done without a
/// `baton run`; `baton run` then follows that daemon instead of starting another; `baton down`
/// stops it.
#[test]
fn up_starts_the_daemon_and_run_follows_it() {
    let p = TestProject::new();
    let step = done_step(100, " --note bg");
    let agents = p.fake_agent("a1", "claude", &step) + &p.fake_agent("a2", "codex", &step);
    p.write_config(&format!("{agents}[run]\ntest_tasks = false\n"));
    let up = p.ok(&["up"]);
    assert!(up.contains("daemon started (pid "), "{up}");
    let again = p.ok(&["up"]);
    assert!(again.contains("daemon already running"), "{again}");
    p.ok(&["task", "add", "first job"]);
    common::wait_until(Duration::from_secs(60), "T-001 done by the daemon", || {
        p.ok(&["task", "show", "T-001", "--json"])
            .contains("\"COMPLETED\"")
    });
    p.ok(&["task", "add", "second job"]);
    let stdout = p.ok(&["run", "--quiet"]);
    assert!(stdout.contains("following the daemon"), "{stdout}");
    assert!(stdout.contains("finished: 2 completed"), "{stdout}");
    assert_all_done_once(p.root(), 2);
    let down = p.ok(&["down"]);
    assert!(down.contains("stopped the daemon"), "{down}");
    assert!(
        !std::fs::read_to_string(p.root().join(".baton/daemon.log"))
            .unwrap_or_default()
            .contains("panicked")
    );
}

/// Prints one row of the fault table (`cargo test -- --nocapture` shows them together).
pub(crate) fn fault_row(fault: &str, injected: usize, root: &Path) {
    let lost = task_list(root)
        .iter()
        .filter(|t| t["status"] != "COMPLETED")
        .count();
    let dups: usize = done_counts(root)
        .values()
        .map(|n| n.saturating_sub(1))
        .sum();
    print_fault_row(fault, injected, lost, dups);
}

/// Prints a row of the fault table, and appends it to `$BATON_FAULT_TABLE` when set (`.ci/run`
/// prints the whole table after the tests).
fn print_fault_row(
    fault: &str,
    injected: usize,
    lost: impl std::fmt::Display,
    dups: impl std::fmt::Display,
) {
    let row = format!("| {fault:<32} | {injected:>8} | {lost:>10} | {dups:>10} |");
    println!("{row}");
    if let Some(path) = std::env::var_os("BATON_FAULT_TABLE") {
        use std::io::Write;
        if let Ok(mut f) = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
        {
            let _ = f.write_all(format!("{row}\n").as_bytes());
        }
    }
}

/// A run with 3 agents and 18 tasks, started in the background; returns it once some tasks
/// are done.
fn run_under_fault(p: &TestProject) -> std::process::Child {
    let step = done_step(300, "");
    let agents: String = ["claude", "codex", "amp"]
        .iter()
        .map(|cli| p.fake_agent(cli, cli, &step))
        .collect();
    p.write_config(&format!(
        "{agents}[run]\nstuck_after_secs = 3\ntest_tasks = false\n"
    ));
    let list: String = (1..=18).map(|i| format!("- [ ] job {i}\n")).collect();
    p.write_plan(&list);
    let child = p.spawn(&["run", "plan.md", "--quiet"], Stdio::piped);
    common::wait_until(Duration::from_secs(60), "some tasks done", || {
        journal(p.root())
            .iter()
            .filter(|j| j["action"] == "task-done")
            .count()
            >= 3
    });
    child
}

/// Waits for a run started by `run_under_fault` and checks every task was done once.
fn finishes_all(p: &TestProject, child: std::process::Child) {
    let out = child.wait_with_output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success() && stdout.contains("finished: 18 completed"),
        "{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_all_done_once(p.root(), 18);
}

/// The whole tmux server killed in the middle of a run: `baton run` starts the session
/// again, the tasks that were out go back to the queue, and every task is done once.
#[test]
fn a_killed_tmux_server_is_started_again() {
    let p = TestProject::new();
    let child = run_under_fault(&p);
    let killed = p.tmux(&["kill-server"]);
    assert!(killed.status.success());
    finishes_all(&p, child);
    assert!(
        journal(p.root())
            .iter()
            .any(|j| j["action"] == "session-lost")
    );
    fault_row("tmux server killed", 1, p.root());
}

/// The tmux server frozen (SIGSTOP) for 12 s in the middle of a run: every tmux command
/// hangs meanwhile; none hangs baton for good, and the run ends with every task done once.
#[test]
fn a_frozen_tmux_server_hangs_nothing_for_good() {
    let p = TestProject::new();
    let child = run_under_fault(&p);
    let pid = String::from_utf8_lossy(&p.tmux(&["display-message", "-p", "#{pid}"]).stdout)
        .trim()
        .to_owned();
    assert!(!pid.is_empty());
    let signal = |sig: &str| {
        std::process::Command::new("kill")
            .args([sig, &pid])
            .status()
            .unwrap()
    };
    assert!(signal("-STOP").success());
    // The fault lasts 12 s: longer than a tmux command may take (10 s).
    std::thread::sleep(Duration::from_secs(12));
    assert!(signal("-CONT").success());
    finishes_all(&p, child);
    fault_row("tmux server frozen 12 s", 1, p.root());
}

/// Unmounts a scratch tmpfs when dropped.
struct Mount(std::path::PathBuf);

impl Drop for Mount {
    fn drop(&mut self) {
        let _ = std::process::Command::new("umount").arg(&self.0).status();
    }
}

/// The disk full under the store: `baton task add` fails with a clear message and changes
/// nothing; once there is room again everything works and nothing was lost. Needs to mount a
/// small tmpfs (root); says SKIPPED where it cannot.
#[test]
fn a_full_disk_loses_nothing() {
    let base = tempfile::tempdir().unwrap();
    let mnt = base.path().join("small");
    std::fs::create_dir(&mnt).unwrap();
    let mounted = std::process::Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=2m", "tmpfs"])
        .arg(&mnt)
        .output();
    if !mounted.is_ok_and(|o| o.status.success()) {
        println!("SKIPPED a_full_disk_loses_nothing: cannot mount a tmpfs here");
        print_fault_row("disk full (SKIPPED: no tmpfs)", 0, "-", "-");
        return;
    }
    let _guard = Mount(mnt.clone());
    let baton = |args: &[&str]| {
        std::process::Command::new(baton_bin())
            .args(args)
            .current_dir(&mnt)
            .output()
            .unwrap()
    };
    std::fs::write(
        mnt.join("baton.toml"),
        "[session]\nname = \"full\"\nsocket = \"baton-test-full\"\n",
    )
    .unwrap();
    for i in 0..20 {
        let out = baton(&["task", "add", &format!("before {i}")]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    // Fill the disk.
    let filler = mnt.join("filler");
    let mut f = std::fs::File::create(&filler).unwrap();
    let chunk = vec![0u8; 64 * 1024];
    use std::io::Write;
    while f.write_all(&chunk).is_ok() {}
    let _ = f.sync_all();
    let mut refused = 0;
    for i in 0..5 {
        let out = baton(&[
            "task",
            "add",
            &format!("while full {i}"),
            "--body",
            &"x".repeat(20_000),
        ]);
        if !out.status.success() {
            refused += 1;
            let err = String::from_utf8_lossy(&out.stderr);
            assert!(
                err.contains("full") || err.contains("space") || err.contains("disk"),
                "a clear message: {err}"
            );
        }
    }
    assert!(refused > 0, "the full disk was never noticed");
    drop(f);
    std::fs::remove_file(&filler).unwrap();
    let out = baton(&["task", "add", "after"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let out = baton(&["task", "list", "--json"]);
    let list: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let titles = strings_of(&list, "title");
    for i in 0..20 {
        assert!(
            titles.contains(&format!("before {i}").as_str()),
            "lost before {i}"
        );
    }
    assert!(titles.contains(&"after"));
    // IDs stay dense: a refused add took no ID.
    assert_eq!(strings_of(&list, "id").len(), titles.len());
    let doctor = baton(&["doctor"]);
    assert!(
        !String::from_utf8_lossy(&doctor.stdout).contains("store integrity: FAIL"),
        "{}",
        String::from_utf8_lossy(&doctor.stdout)
    );
    print_fault_row("disk full under the store", refused, 0, 0);
}
