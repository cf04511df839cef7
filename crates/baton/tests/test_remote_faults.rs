//! Faults of agents on other hosts, each a row of the fault table: a host that goes down in
//! the middle of a run and comes back (a network partition: its tmux server and agent run on
//! there), a host down when the run starts, and a host whose clock is 3 hours ahead. The
//! "host" is a private sshd on 127.0.0.1 (the same machine, its own tmux socket
//! `<socket>@<host>`), stopped and started again on its port.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use crate::common::KillServer;
use crate::common::TestProject;
use crate::common::assert_has;
use crate::common::done_step;
use crate::common::journal_at as journal;
use crate::common::sshd::Sshd;
use crate::common::wait_until;
use crate::test_remote_run::ShowOnPanic;
use crate::test_remote_run::buffers;
use crate::test_remote_run::control_ssh;
use crate::test_remote_run::events;
use crate::test_remote_run::journal_has;
use crate::test_remote_run::run_output;
use crate::test_remote_run::signal;

const WAIT: Duration = Duration::from_secs(60);

/// A project with `near` here and `far` on host `h1` (`down_after_secs = 2`), each working
/// its own time per task, and a plan of `tasks` tasks.
fn two_agents(p: &TestProject, sshd: &Sshd, work: &Path, near_ms: u32, far_ms: u32, tasks: usize) {
    let config = p.fake_agent("near", "claude", &done_step(near_ms, ""))
        + &p.fake_agent("far", "codex", &done_step(far_ms, ""))
        + "host = \"h1\"\n\n"
        + &sshd.host_table("h1", work, "down_after_secs = 2")
        + "\n[run]\ntest_tasks = false\n";
    p.write_config(&config);
    let plan: String = (1..=tasks).map(|i| format!("- [ ] task {i}\n")).collect();
    std::fs::write(p.root().join("plan.md"), plan).unwrap();
}

/// The journal in short, one entry a line (for a failed assertion's message).
fn journal_text(root: &Path) -> String {
    journal(root)
        .iter()
        .map(|j| {
            format!(
                "{} {} {} {} {} {}\n",
                j["at_ms"], j["actor"], j["action"], j["task"], j["target"], j["result"]
            )
        })
        .collect()
}

fn tasks(p: &TestProject) -> Vec<serde_json::Value> {
    p.json(&["task", "list", "--json"])
        .as_array()
        .unwrap()
        .clone()
}

/// Every task COMPLETED, and each done exactly once (one `task-done` entry).
fn assert_all_done_once(p: &TestProject, n: usize) -> Vec<serde_json::Value> {
    let list = tasks(p);
    assert_eq!(list.len(), n, "{list:#?}");
    assert!(list.iter().all(|t| t["status"] == "COMPLETED"), "{list:#?}");
    let mut done: BTreeMap<String, usize> = BTreeMap::new();
    for j in journal(p.root()) {
        if j["action"] == "task-done" {
            *done
                .entry(j["task"].as_str().unwrap().to_owned())
                .or_default() += 1;
        }
    }
    for t in &list {
        let id = t["id"].as_str().unwrap();
        assert_eq!(done.get(id), Some(&1), "{id} done {:?} times", done.get(id));
    }
    list
}

/// The position of the first journal entry of `action` about `agent` whose result holds
/// `needle`.
fn seq_of(entries: &[serde_json::Value], action: &str, agent: &str, needle: &str) -> Option<i64> {
    entries
        .iter()
        .find(|j| {
            j["action"] == action
                && j["target"] == agent
                && j["result"].as_str().unwrap_or("").contains(needle)
        })
        .and_then(|j| j["seq"].as_i64())
}

/// Waits for the run to end, and returns its stdout (it must have succeeded).
fn finish(
    p: &TestProject,
    mut run: std::process::Child,
    output: &crate::test_remote_run::Output,
) -> String {
    let status = run.wait().unwrap();
    let (stdout, stderr) = output.take();
    assert!(
        status.success(),
        "{stdout}\n{stderr}\n--- journal\n{}",
        journal_text(p.root())
    );
    stdout
}

/// The host goes away while its agent works (sshd and every session stopped, the daemon's ssh
/// client killed) and stays away past `down_after_secs`: its agent counts as down and its task
/// goes to the agent here. The agent on the host runs on (the network is down, not the
/// machine) and its report of that task waits there; when the host is back the report is
/// carried out without completing the task a second time, and the agent starts afresh.
#[test]
fn a_host_down_mid_run_gives_its_task_to_an_agent_here_and_comes_back() {
    let Some(sshd) = Sshd::start() else {
        return;
    };
    let p = TestProject::new();
    let _h1 = KillServer(format!("{}@h1", p.socket));
    let work = tempfile::tempdir().unwrap();
    two_agents(&p, &sshd, &work.path().join("work"), 2500, 2000, 8);

    let mut run = p.spawn(&["run", "plan.md"], Stdio::piped);
    let output = run_output(&mut run);
    let shown = ShowOnPanic(&output, &sshd);
    wait_until(WAIT, "the control connection to h1", || {
        !control_ssh(&p.socket, "h1").is_empty()
    });
    wait_until(WAIT, "far working", || {
        events(&p, "far").contains("work-start")
    });
    let cut = tasks(&p)
        .into_iter()
        .find(|t| t["assignee"] == "far" && t["status"] == "IN_PROGRESS")
        .expect("far works on a task")["id"]
        .as_str()
        .unwrap()
        .to_owned();
    sshd.stop();
    for pid in control_ssh(&p.socket, "h1") {
        signal(pid, "-KILL");
    }
    wait_until(WAIT, "h1 counted down", || {
        journal_has(p.root(), "host-down", "h1: unreachable")
    });
    // far finished meanwhile: its report waits on the host.
    wait_until(WAIT, "far's report waiting on h1", || {
        buffers(&p.socket, "h1")
            .iter()
            .any(|b| b.starts_with("baton-report-"))
    });
    wait_until(WAIT, &format!("{cut} done here"), || {
        tasks(&p)
            .iter()
            .any(|t| t["id"] == cut.as_str() && t["status"] == "COMPLETED")
    });
    sshd.restart();
    wait_until(WAIT, "h1 back", || {
        journal_has(p.root(), "host-back", "h1: connected again")
    });
    wait_until(WAIT, "far started again", || {
        journal_has(p.root(), "agent-restart", "host h1 is back")
    });
    let stdout = finish(&p, run, &output);
    drop(shown);
    assert_has(&stdout, &["finished: 8 completed, 0 blocked, 0 waiting"]);

    let list = assert_all_done_once(&p, 8);
    let entries = journal(p.root());
    // far's task went back to the queue when its host was counted down, and near did it.
    let down = entries
        .iter()
        .position(|j| j["action"] == "host-down")
        .unwrap();
    assert!(
        entries[down..]
            .iter()
            .any(|j| j["action"] == "task-requeue" && j["task"] == cut.as_str()),
        "{cut} was not requeued after h1 went down"
    );
    let done = entries
        .iter()
        .find(|j| j["action"] == "task-done" && j["task"] == cut.as_str())
        .unwrap();
    assert_eq!(done["actor"], "near", "{done}");
    assert!(journal_has(p.root(), "host-lost", "h1"));
    assert!(journal_has(p.root(), "agent-died", "host h1 is down"));
    // far's late report was read (the spool drained) and refused: the task went to near, so
    // far's report of it is not taken (no second completion, counted above).
    assert!(
        !buffers(&p.socket, "h1")
            .iter()
            .any(|b| b.starts_with("baton-report-")),
        "a report was left on h1"
    );
    let db = rusqlite::Connection::open(p.root().join(".baton/state.db")).unwrap();
    let refused: String = db
        .query_row(
            "SELECT stderr FROM remote_reports WHERE agent = 'far' AND command = 'task done' AND code = 1",
            [],
            |r| r.get(0),
        )
        .unwrap_or_else(|e| panic!("no refused late report of far: {e}"));
    assert_has(
        &refused,
        &[&format!("{cut} is no longer yours (it is near's now)")],
    );
    // Back, far got work again when some was left for it.
    let restart = seq_of(&entries, "agent-restart", "far", "host h1 is back").unwrap();
    let unstarted = list
        .iter()
        .filter(|t| {
            let id = t["id"].as_str().unwrap();
            !entries.iter().any(|j| {
                j["action"] == "task-start"
                    && j["task"] == id
                    && j["seq"].as_i64().unwrap() < restart
            })
        })
        .count();
    if unstarted >= 2 {
        assert!(
            entries.iter().any(|j| j["action"] == "task-start"
                && j["target"] == "far"
                && j["seq"].as_i64().unwrap() > restart),
            "far got no work after h1 came back ({unstarted} tasks were left)"
        );
    }
    crate::test_run::fault_row("host down mid-run", 1, p.root());
}

/// The host cannot be reached when the run starts: the agent here works; the host is counted
/// down and tried again, and when its sshd listens its agent starts there and works too.
#[test]
fn a_host_down_at_start_joins_when_it_comes_up() {
    let Some(sshd) = Sshd::start() else {
        return;
    };
    sshd.stop();
    let p = TestProject::new();
    let _h1 = KillServer(format!("{}@h1", p.socket));
    let work = tempfile::tempdir().unwrap();
    two_agents(&p, &sshd, &work.path().join("work"), 2000, 300, 8);

    let mut run = p.spawn(&["run", "plan.md"], Stdio::piped);
    let output = run_output(&mut run);
    let shown = ShowOnPanic(&output, &sshd);
    wait_until(WAIT, "h1 counted down", || {
        journal_has(p.root(), "host-down", "h1: unreachable")
    });
    wait_until(WAIT, "near working", || {
        events(&p, "near").contains("work-start")
    });
    sshd.restart();
    wait_until(WAIT, "far started on h1", || {
        journal_has(p.root(), "agent-restart", "host h1 is back")
    });
    let ls = p.json(&["ls", "--json"]);
    let far = ls["agents"]
        .as_array()
        .unwrap()
        .iter()
        .find(|a| a["name"] == "far")
        .cloned()
        .unwrap();
    assert_eq!(far["host"], "h1", "{far}");
    let stdout = finish(&p, run, &output);
    drop(shown);
    assert_has(
        &stdout,
        &[
            "far",
            "not started",
            "finished: 8 completed, 0 blocked, 0 waiting",
        ],
    );
    let list = assert_all_done_once(&p, 8);
    for agent in ["near", "far"] {
        assert!(
            list.iter().any(|t| t["assignee"] == agent),
            "{agent} did no task: {list:#?}"
        );
    }
    crate::test_run::fault_row("host down at start", 1, p.root());
}

fn now_ms() -> i64 {
    i64::try_from(
        std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_millis(),
    )
    .unwrap()
}

/// Every process of the host sees a clock 3 hours ahead (sshd and its sessions under
/// faketime: its tmux server, the agent, the baton there): the run's times are still this
/// machine's, every journal entry within the run's wall-clock window here.
#[test]
fn a_host_whose_clock_is_3_hours_ahead_leaves_the_times_to_the_daemon() {
    let Some(sshd) = Sshd::start_with_clock(Some("+3h")) else {
        return;
    };
    let ahead = sshd.remote_clock_offset();
    assert!(
        (ahead - 3 * 3600).abs() < 300,
        "faketime did not move the clock of the ssh session: it is {ahead} s ahead, not 3 h \
         (sshd runs under `faketime -f +3h`, its sessions get LD_PRELOAD and FAKETIME \
         through its SetEnv)\n{}",
        sshd.log()
    );
    let p = TestProject::new();
    let _h1 = KillServer(format!("{}@h1", p.socket));
    let work = tempfile::tempdir().unwrap();
    two_agents(&p, &sshd, &work.path().join("work"), 2000, 300, 6);

    let started = now_ms();
    let mut run = p.spawn(&["run", "plan.md"], Stdio::piped);
    let output = run_output(&mut run);
    let shown = ShowOnPanic(&output, &sshd);
    let stdout = finish(&p, run, &output);
    let ended = now_ms();
    drop(shown);
    assert_has(&stdout, &["finished: 6 completed, 0 blocked, 0 waiting"]);
    let list = assert_all_done_once(&p, 6);
    assert!(
        list.iter().any(|t| t["assignee"] == "far"),
        "far did no task:\n{}",
        journal_text(p.root())
    );
    // The agent on the host ran with its clock: its event log's times are 3 h ahead.
    let far_events = events(&p, "far");
    let far_time: i64 = far_events
        .lines()
        .find(|l| l.contains(" work-start "))
        .and_then(|l| l.split_whitespace().next())
        .and_then(|t| t.parse().ok())
        .unwrap_or_else(|| panic!("no work-start in far's events:\n{far_events}"));
    assert!(
        (far_time - started - 3 * 3600 * 1000).abs() < 300_000,
        "far's clock is not 3 h ahead: {far_time} vs {started}"
    );
    // Every time of the run is this machine's.
    let window = (started - 1000)..=(ended + 1000);
    for j in journal(p.root()) {
        let at = j["at_ms"].as_i64().unwrap();
        assert!(
            window.contains(&at),
            "a journal entry's time is outside the run ({started}..{ended}): {j}"
        );
    }
    for t in &list {
        for field in ["created_ms", "updated_ms"] {
            let at = t[field].as_i64().unwrap();
            assert!(window.contains(&at), "{field} of a task: {t}");
        }
    }
    crate::test_run::fault_row("host clock 3 h ahead", 1, p.root());
}
