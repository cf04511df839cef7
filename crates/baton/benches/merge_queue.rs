//! What the verified merge queue costs: 4 fake agents, each in its own git worktree, do 40
//! small tasks (one new file each, no conflicts). With a verify that does nothing (`true`)
//! the figures are the queue's own work — commit, rebase in the scratch worktree,
//! compare-and-swap — plus the wait behind other merges; with a verify of 300 ms, one merge
//! per verify (`batch = 1`) against up to four (`batch = 4`).
//! Run: `cargo bench -p baton --bench merge_queue`.
//!
//! Prints, per task: from `baton task done` to the commit being queued, the merge itself
//! (started → integration branch moved), and from `task done` to landed on the branch.

mod common;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;

use common::baton_command;
use common::fake_agent;
use common::kill_server;
use common::percentile;
use common::succeeded;

const AGENTS: usize = 4;
const TASKS: usize = 40;

fn git(dir: &Path, args: &[&str]) {
    let ok = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .output()
        .expect("run git")
        .status
        .success();
    assert!(ok, "git {args:?}");
}

fn report(name: &str, mut ms: Vec<i64>) {
    ms.sort_unstable();
    println!(
        "{name:<34} n={:<3} p50 {:>5} ms   p90 {:>5} ms   max {:>5} ms",
        ms.len(),
        percentile(&ms, 0.5),
        percentile(&ms, 0.9),
        ms.last().copied().unwrap_or(0)
    );
}

fn main() {
    scenario("true", 1);
    scenario("sleep 0.3", 1);
    scenario("sleep 0.3", 4);
}

fn scenario(verify: &str, batch: u32) {
    let dir = tempfile::tempdir().expect("temp dir");
    let root = dir.path();
    // A repository with one commit on main.
    std::fs::write(root.join("README.md"), "bench\n").unwrap();
    for args in [
        &["init", "-q", "-b", "main"][..],
        &["config", "user.name", "bench"],
        &["config", "user.email", "bench@baton.invalid"],
        &["add", "README.md"],
        &["commit", "-q", "-m", "start"],
    ] {
        git(root, args);
    }
    let socket = format!("baton-bench-merge-{}", std::process::id());
    let script = "persona = \"claude\"\nstart_delay_ms = 100\n[[task]]\nrepeat = true\nwork_ms = 100\n\
                  run = [\"echo done > \\\"$BATON_FAKE_TASK.txt\\\"\", \"baton task done \\\"$BATON_FAKE_TASK\\\"\"]\n";
    let mut agents = String::new();
    for i in 0..AGENTS {
        agents.push_str(&fake_agent(
            &format!("a{i}"),
            &root.join(format!("a{i}.fake.toml")),
            script,
        ));
    }
    std::fs::write(
        root.join("baton.toml"),
        format!(
            "[session]\nname = \"bench\"\nsocket = \"{socket}\"\nisolation = \"worktree\"\nmemory_file = \".baton/BOARD.md\"\n\n{agents}\
             [verify]\ncommands = [{verify:?}]\nbatch = {batch}\n\n[run]\ntest_tasks = false\n"
        ),
    )
    .unwrap();
    let plan: String = (1..=TASKS).map(|i| format!("- [ ] job {i}\n")).collect();
    std::fs::write(root.join("plan.md"), plan).unwrap();
    let out = baton_command(root, &["run", "plan.md", "--quiet"])
        .output()
        .expect("run baton");
    let _ = baton_command(root, &["down", "--prune"]).output();
    kill_server(&socket);
    succeeded(out, "baton run");
    let log = baton_command(root, &["log", "--json", "-n", "100000"])
        .output()
        .expect("baton log");
    let journal: Vec<serde_json::Value> = serde_json::from_slice(&log.stdout).expect("json");
    let mut done: BTreeMap<String, i64> = BTreeMap::new();
    let mut queued: BTreeMap<String, i64> = BTreeMap::new();
    let mut started: BTreeMap<String, i64> = BTreeMap::new();
    let mut landed: BTreeMap<String, i64> = BTreeMap::new();
    for j in &journal {
        let (Some(task), Some(at)) = (j["task"].as_str(), j["at_ms"].as_i64()) else {
            continue;
        };
        let result = j["result"].as_str().unwrap_or("");
        match j["action"].as_str() {
            Some("task-done") => {
                done.insert(task.to_owned(), at);
            }
            Some("merge") if result.contains("queued") => {
                queued.insert(task.to_owned(), at);
            }
            Some("merge") if result.contains("started") => {
                started.insert(task.to_owned(), at);
            }
            Some("merge") if result.contains("fast-forwarded") || result.contains("already in") => {
                landed.insert(task.to_owned(), at);
            }
            _ => {}
        }
    }
    assert_eq!(landed.len(), TASKS, "every task landed: {landed:?}");
    let span = |from: &BTreeMap<String, i64>, to: &BTreeMap<String, i64>| -> Vec<i64> {
        from.iter()
            .filter_map(|(t, a)| to.get(t).map(|b| b - a))
            .collect()
    };
    println!(
        "\nmerge queue: {AGENTS} agents in worktrees, {TASKS} tasks, verify = `{verify}`, batch = {batch}"
    );
    report("task done → committed and queued", span(&done, &queued));
    report("merge (rebase, verify, CAS)", span(&started, &landed));
    report("task done → on the branch", span(&done, &landed));
    let first = done.values().min().copied().unwrap_or(0);
    let last = landed.values().max().copied().unwrap_or(0);
    println!(
        "{:<34} {:.1} merges/s over the run, {} verify runs",
        "throughput",
        TASKS as f64 / ((last - first).max(1) as f64 / 1000.0),
        // One log per verify run, named after the first merge it checked.
        std::fs::read_dir(root.join(".baton/verify"))
            .map(|d| {
                d.filter_map(Result::ok)
                    .filter(|e| {
                        let n = e.file_name().to_string_lossy().into_owned();
                        n.starts_with("merge-") && n.ends_with("-0.log")
                    })
                    .count()
            })
            .unwrap_or(0)
    );
}
