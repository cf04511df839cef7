//! Agents on other hosts doing real work: `baton run` with one local and two remote fake
//! agents, each remote host a private sshd on 127.0.0.1 (the same machine, its own tmux
//! socket `<socket>@<host>`), every ssh connection of the daemon cut once in the middle —
//! once while a report waits on the host — and every task still done exactly once.

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

const WAIT: Duration = Duration::from_secs(60);

/// The pids of the daemon's control connection to `host`: the ssh client running
/// `tmux -L <socket>@<host> -C attach-session`.
pub(crate) fn control_ssh(socket: &str, host: &str) -> Vec<u32> {
    let (server, attach) = (format!(" {socket}@{host} "), "-C attach-session");
    let mut pids = Vec::new();
    for entry in std::fs::read_dir("/proc").unwrap().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(cmd) = std::fs::read(entry.path().join("cmdline")) else {
            continue;
        };
        let words: Vec<String> = cmd
            .split(|b| *b == 0)
            .map(|w| String::from_utf8_lossy(w).into_owned())
            .collect();
        if words.first().is_some_and(|w| w.ends_with("ssh"))
            && words
                .iter()
                .any(|w| w.contains(&server) && w.contains(attach))
        {
            pids.push(pid);
        }
    }
    pids
}

pub(crate) fn signal(pid: u32, sig: &str) {
    let _ = std::process::Command::new("kill")
        .args([sig, &pid.to_string()])
        .status();
}

/// The names of the tmux buffers on `host`'s server (this machine, its own socket).
pub(crate) fn buffers(socket: &str, host: &str) -> Vec<String> {
    let out = std::process::Command::new("tmux")
        .args(["-L", &format!("{socket}@{host}"), "list-buffers", "-F"])
        .arg("#{buffer_name}")
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(str::to_owned)
        .collect()
}

pub(crate) fn events(p: &TestProject, agent: &str) -> String {
    std::fs::read_to_string(p.events_log(agent)).unwrap_or_default()
}

pub(crate) fn journal_has(root: &Path, action: &str, needle: &str) -> bool {
    journal(root)
        .iter()
        .any(|j| j["action"] == action && j["result"].as_str().unwrap_or("").contains(needle))
}

/// Cuts the daemon's connection to `host` while its agent's report of a finished task waits
/// there: the ssh client is stopped (nothing read), the agent finishes and its report goes
/// to a buffer of the host's tmux, then the ssh client is killed; the daemon reconnects and
/// carries the report out.
fn cut_with_a_report_waiting(p: &TestProject, host: &str, agent: &str) {
    let pids = {
        let mut found = Vec::new();
        wait_until(WAIT, &format!("the control connection to {host}"), || {
            found = control_ssh(&p.socket, host);
            !found.is_empty()
        });
        found
    };
    // Stopped as soon as the agent works: its report comes while the connection is frozen.
    wait_until(WAIT, &format!("{agent} working"), || {
        events(p, agent).contains("work-start")
    });
    for pid in &pids {
        signal(*pid, "-STOP");
    }
    wait_until(
        WAIT,
        &format!("a report of {agent} waiting on {host}"),
        || {
            buffers(&p.socket, host)
                .iter()
                .any(|b| b.starts_with("baton-report-"))
        },
    );
    for pid in &pids {
        signal(*pid, "-KILL");
        signal(*pid, "-CONT");
    }
    wait_until(WAIT, &format!("the daemon back on {host}"), || {
        journal_has(p.root(), "host-back", &format!("{host}: connected again"))
    });
}

/// The output of a child, read as it comes (so a failed wait can show it).
#[derive(Clone, Default)]
pub(crate) struct Output(std::sync::Arc<std::sync::Mutex<(String, String)>>);

impl Output {
    pub(crate) fn take(&self) -> (String, String) {
        let g = self.0.lock().unwrap();
        (g.0.clone(), g.1.clone())
    }
}

pub(crate) fn run_output(child: &mut std::process::Child) -> Output {
    use std::io::BufRead as _;
    let out = Output::default();
    let (o, e) = (child.stdout.take().unwrap(), child.stderr.take().unwrap());
    for (stream, err) in [
        (Box::new(o) as Box<dyn std::io::Read + Send>, false),
        (Box::new(e), true),
    ] {
        let out = out.clone();
        std::thread::spawn(move || {
            for line in std::io::BufReader::new(stream)
                .lines()
                .map_while(Result::ok)
            {
                let mut g = out.0.lock().unwrap();
                let s = if err { &mut g.1 } else { &mut g.0 };
                s.push_str(&line);
                s.push('\n');
            }
        });
    }
    out
}

/// Prints the run's output and sshd's log when the test panics before the run ends.
pub(crate) struct ShowOnPanic<'a>(pub(crate) &'a Output, pub(crate) &'a Sshd);

impl Drop for ShowOnPanic<'_> {
    fn drop(&mut self) {
        if std::thread::panicking() {
            let (o, e) = self.0.take();
            eprintln!(
                "--- run stdout\n{o}\n--- run stderr\n{e}\n--- sshd\n{}",
                self.1.log()
            );
        }
    }
}

#[test]
fn a_plan_runs_on_two_remote_hosts_with_every_connection_cut_once() {
    let Some(sshd) = Sshd::start() else {
        return;
    };
    let p = TestProject::new();
    let _h1 = KillServer(format!("{}@h1", p.socket));
    let _h2 = KillServer(format!("{}@h2", p.socket));
    let dir1 = tempfile::tempdir().unwrap();
    let dir2 = tempfile::tempdir().unwrap();
    let step = done_step(2500, "");
    let config = p.fake_agent("near", "claude", &step)
        + &p.fake_agent("far1", "codex", &step)
        + "host = \"h1\"\n\n"
        + &p.fake_agent("far2", "claude", &step)
        + "host = \"h2\"\n\n"
        + &sshd.host_table("h1", &dir1.path().join("work"), "")
        + "\n"
        + &sshd.host_table("h2", &dir2.path().join("work"), "")
        + "\n[run]\ntest_tasks = false\n";
    p.write_config(&config);
    let plan: String = (1..=9).map(|i| format!("- [ ] task {i}\n")).collect();
    std::fs::write(p.root().join("plan.md"), plan).unwrap();

    let mut run = p.spawn(&["run", "plan.md"], Stdio::piped);
    let output = run_output(&mut run);
    let shown = ShowOnPanic(&output, &sshd);
    // Both hosts cut while their agents' first tasks are under way.
    std::thread::scope(|s| {
        s.spawn(|| cut_with_a_report_waiting(&p, "h1", "far1"));
        s.spawn(|| cut_with_a_report_waiting(&p, "h2", "far2"));
    });
    let status = run.wait().unwrap();
    drop(shown);
    let (stdout, stderr) = output.take();
    assert!(status.success(), "{stdout}\n{stderr}\n{}", sshd.log());
    assert_has(
        &stdout,
        &[
            "finished: 9 completed, 0 blocked, 0 waiting",
            "on h1",
            "on h2",
        ],
    );

    // Every task done exactly once, each remote agent did some.
    let tasks = p.json(&["task", "list", "--json"]);
    let tasks = tasks.as_array().unwrap();
    assert_eq!(tasks.len(), 9);
    assert!(
        tasks.iter().all(|t| t["status"] == "COMPLETED"),
        "{tasks:#?}"
    );
    let entries = journal(p.root());
    for t in tasks {
        let id = t["id"].as_str().unwrap();
        let done: Vec<&serde_json::Value> = entries
            .iter()
            .filter(|j| j["action"] == "task-done" && j["task"] == id)
            .collect();
        assert_eq!(done.len(), 1, "{id} done {} times", done.len());
    }
    for agent in ["far1", "far2"] {
        let by = tasks.iter().filter(|t| t["assignee"] == agent).count();
        assert!(by >= 1, "{agent} did no task: {tasks:#?}");
        // Its prompts told it the baton on its host.
        let log = std::fs::read_to_string(p.prompt_log(agent)).unwrap();
        assert_has(&log, &["/work/.baton/bin/baton task done T-"]);
    }
    for host in ["h1", "h2"] {
        assert!(journal_has(p.root(), "host-lost", host));
        assert!(journal_has(p.root(), "host-back", host));
        // The spool drained: no report left on the host.
        assert!(
            !buffers(&p.socket, host)
                .iter()
                .any(|b| b.starts_with("baton-report-")),
            "{host}: a report was left"
        );
    }
    // The agents' hosts are shown.
    let ls = p.json(&["ls", "--json"]);
    let hosts: Vec<(&str, &str)> = ls["agents"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| (a["name"].as_str().unwrap(), a["host"].as_str().unwrap()))
        .collect();
    assert_eq!(hosts, [("near", "local"), ("far1", "h1"), ("far2", "h2")]);
    crate::test_run::fault_row("ssh connection cut (2 hosts)", 2, p.root());
}
