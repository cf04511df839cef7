//! Dispatch latency: from an agent's completion signal (its `baton task done` returned) to the
//! next prompt arriving in its pane, with 1, 10, 50 and 100 fake agents in one private tmux
//! server.
//! Both instants are read from the fake agent's own event log, so they share one clock.
//! Run: `cargo bench -p baton --bench dispatch_latency`. Target: p99 under 1 s at 50 agents.
//!
//! The remote rows run the agents on other hosts: private sshds on 127.0.0.1 (this machine,
//! each host its own tmux socket), the daemon reaching each host through one ssh connection.
//! They also measure what a remote agent costs: bytes read from the hosts' ssh connections
//! per agent and second, the daemon's CPU, store writes. Target: p99 under 1 s at 20 remote
//! agents.

mod common;
#[path = "../tests/common/sshd.rs"]
#[allow(dead_code)]
mod sshd;

use std::path::Path;

use common::baton_command;
use common::kill_server;
use common::percentile;
use common::succeeded;
use common::worker_name;
use common::write_workers_config;

fn baton(dir: &Path, args: &[&str]) -> std::process::Output {
    baton_command(dir, args).output().expect("run baton")
}

fn measure(agents: usize, tasks_per_agent: usize) {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let socket = format!("baton-bench-{}-{agents}", std::process::id());
    let done_cmd = "baton task done \"$BATON_FAKE_TASK\"";
    write_workers_config(root, "bench", &socket, agents, 300, done_cmd);
    let list: String = (0..agents * tasks_per_agent)
        .map(|i| format!("- [ ] job {i}\n"))
        .collect();
    std::fs::write(root.join("plan.md"), list).unwrap();
    let started = std::time::Instant::now();
    let out = baton(root, &["run", "plan.md", "--quiet"]);
    let took = started.elapsed();
    kill_server(&socket);
    succeeded(out, "run failed");
    report(root, agents, agents * tasks_per_agent, took, "");
}

/// Prints the completion → next prompt latencies read from the fake agents' event logs.
fn report(root: &Path, agents: usize, tasks: usize, took: std::time::Duration, extra: &str) {
    let mut latencies = Vec::new();
    for i in 0..agents {
        let events = std::fs::read_to_string(root.join(format!("{}.events", worker_name(i))))
            .unwrap_or_default();
        let mut done_at: Option<u64> = None;
        for line in events.lines() {
            let mut parts = line.splitn(3, ' ');
            let (Some(ms), Some(kind)) = (parts.next(), parts.next()) else {
                continue;
            };
            let Ok(ms) = ms.parse::<u64>() else { continue };
            let detail = parts.next().unwrap_or("");
            if kind == "run" && detail.starts_with("baton task done") && detail.ends_with("-> 0") {
                done_at = Some(ms);
            } else if kind == "paste"
                && let Some(d) = done_at.take()
            {
                latencies.push(ms.saturating_sub(d));
            }
        }
    }
    latencies.sort_unstable();
    if latencies.is_empty() {
        println!("{agents:>3} agents: no completion was followed by a prompt");
        return;
    }
    println!(
        "{agents:>3} agents, {tasks:>4} tasks: completion -> next prompt  n={:<4} p50 {:>4} ms  p99 {:>4} ms  max {:>4} ms   (run took {:.1} s){extra}",
        latencies.len(),
        percentile(&latencies, 0.5),
        percentile(&latencies, 0.99),
        latencies.last().unwrap(),
        took.as_secs_f64()
    );
}

/// The pids and bytes read so far (`rchar`) of the daemon's ssh control connections to the
/// project's hosts (their command runs `tmux -L <socket>@<host> … -C attach-session`).
fn control_ssh_bytes(socket: &str) -> Vec<(u32, u64)> {
    let mut out = Vec::new();
    let Ok(dir) = std::fs::read_dir("/proc") else {
        return out;
    };
    for entry in dir.flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(cmd) = std::fs::read(entry.path().join("cmdline")) else {
            continue;
        };
        let cmd = String::from_utf8_lossy(&cmd);
        if !(cmd.starts_with("ssh\0")
            && cmd.contains(&format!(" {socket}@"))
            && cmd.contains("-C attach-session"))
        {
            continue;
        }
        let io = std::fs::read_to_string(entry.path().join("io")).unwrap_or_default();
        let rchar = io
            .lines()
            .find_map(|l| l.strip_prefix("rchar: "))
            .and_then(|v| v.trim().parse().ok())
            .unwrap_or(0);
        out.push((pid, rchar));
    }
    out
}

/// `agents` fake agents spread over `hosts` hosts (private sshds on loopback), none here.
fn measure_remote(hosts: usize, agents: usize, tasks_per_agent: usize) {
    let mut sshds = Vec::new();
    for _ in 0..hosts {
        match sshd::Sshd::start() {
            Some(s) => sshds.push(s),
            None => {
                println!("remote rows skipped: no sshd (BATON_SKIP_SSHD=1)");
                return;
            }
        }
    }
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let socket = format!("baton-bench-{}-r{agents}", std::process::id());
    let mut tail = String::new();
    for (h, s) in sshds.iter().enumerate() {
        let there = root.join(format!("host{h}"));
        tail.push_str(&s.host_table(&format!("h{h}"), &there, ""));
        tail.push('\n');
    }
    let done_cmd = "baton task done \"$BATON_FAKE_TASK\"";
    common::write_workers_config_with(
        root,
        "bench",
        &socket,
        agents,
        300,
        done_cmd,
        &|i| format!("host = \"h{}\"\n\n", i % hosts),
        &tail,
    );
    let list: String = (0..agents * tasks_per_agent)
        .map(|i| format!("- [ ] job {i}\n"))
        .collect();
    std::fs::write(root.join("plan.md"), list).unwrap();
    let started = std::time::Instant::now();
    let mut child = baton_command(root, &["run", "plan.md", "--quiet"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("run baton");
    let pid = child.id();
    // Sampled until the run ends: the daemon's CPU, the hosts' connections and their bytes.
    let mut cpu = 0;
    let mut bytes: std::collections::BTreeMap<u32, u64> = std::collections::BTreeMap::new();
    let mut dispatching: Option<(std::time::Instant, u64, u64)> = None;
    loop {
        if let Some(t) = common::cpu_ticks(pid) {
            cpu = t;
        }
        let conns = control_ssh_bytes(&socket);
        for (p, b) in &conns {
            bytes.insert(*p, *b);
        }
        // The daemon's share starts once every host is connected (after `baton up`'s start).
        if dispatching.is_none() && conns.len() >= hosts {
            dispatching = Some((std::time::Instant::now(), cpu, bytes.values().sum()));
        }
        if child.try_wait().ok().flatten().is_some() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let took = started.elapsed();
    let out = child.wait_with_output().unwrap();
    for h in 0..hosts {
        kill_server(&format!("{socket}@h{h}"));
    }
    kill_server(&socket);
    succeeded(out, "remote run failed");
    let (since, cpu0, bytes0) = dispatching.unwrap_or((started, 0, 0));
    let secs = since.elapsed().as_secs_f64().max(0.001);
    let per_agent = (bytes.values().sum::<u64>() - bytes0) as f64 / secs / agents as f64;
    let cpu_pct = (cpu - cpu0) as f64 / common::clk_tck() as f64 / secs * 100.0;
    let tasks = agents * tasks_per_agent;
    let journal = rusqlite::Connection::open(root.join(".baton/state.db"))
        .and_then(|c| c.query_row("SELECT COUNT(*) FROM journal", [], |r| r.get::<_, i64>(0)))
        .unwrap_or(0);
    let extra = format!(
        "\n     on {hosts} host(s), {} ssh connection(s): {:.0} bytes/s per agent from ssh, daemon {cpu_pct:.1} % of a core over {secs:.1} s, {:.1} journal entries per task",
        bytes.len(),
        per_agent,
        journal as f64 / tasks as f64
    );
    report(root, agents, tasks, took, &extra);
}

fn main() {
    let full = std::env::args().any(|a| a == "--bench");
    if !full {
        // `cargo test --benches`: a quick run that the harness can afford.
        measure(2, 3);
        measure_remote(1, 2, 2);
        return;
    }
    for agents in [1, 10, 50, 100] {
        measure(agents, if agents == 1 { 20 } else { 5 });
    }
    // Behind ssh: 20 agents on 2 hosts, then on 10 hosts.
    measure_remote(2, 20, 5);
    measure_remote(10, 20, 5);
}
