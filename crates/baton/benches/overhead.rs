//! The daemon's overhead: CPU time per agent-hour and peak RSS with 10 and 100 idle fake
//! agents, and with 20 agents streaming output (working on long tasks, their spinners
//! redrawing several times a second); and how many tmux processes it starts per minute (a
//! `tmux` shim first on its PATH counts them; the control-mode client is one long-lived
//! process, so the count should stay near zero).
//!
//! Run: `cargo bench -p baton --bench overhead` (each scenario watches the daemon for 30 s;
//! `BATON_BENCH_SECS` changes that). Targets: idle daemon < 1 % of one core with 100 agents,
//! RSS < 50 MB.

mod common;

use std::path::Path;
use std::process::Command;
use std::time::Duration;
use std::time::Instant;

use common::Server;
use common::baton_command;
use common::fake_agent;
use common::succeeded;

fn baton(dir: &Path, path: &str, args: &[&str]) -> std::process::Output {
    baton_command(dir, args)
        .env("PATH", path)
        .output()
        .expect("run baton")
}

/// (utime + stime in clock ticks, VmHWM in kB) of a process.
fn usage(pid: u32) -> Option<(u64, u64)> {
    let ticks = common::cpu_ticks(pid)?;
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let hwm = status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())?;
    Some((ticks, hwm))
}

fn wait_for(what: &str, limit: Duration, mut cond: impl FnMut() -> bool) {
    let start = Instant::now();
    while !cond() {
        assert!(start.elapsed() < limit, "timed out waiting for {what}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Writes a shim that counts tmux invocations into `count`, and returns a PATH with it first.
fn shim(dir: &Path, count: &Path) -> String {
    let real = Command::new("sh")
        .args(["-c", "command -v tmux"])
        .output()
        .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
        .unwrap_or_default();
    assert!(!real.is_empty(), "tmux is not installed");
    let bin = dir.join("shim");
    std::fs::create_dir_all(&bin).unwrap();
    let script = bin.join("tmux");
    std::fs::write(
        &script,
        format!(
            "#!/bin/sh\necho \"$*\" >> '{}'\nexec '{real}' \"$@\"\n",
            count.display()
        ),
    )
    .unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
    format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    )
}

fn scenario(label: &str, agents: usize, streaming: bool, secs: u64) {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let socket = format!("baton-overhead-{}-{agents}", std::process::id());
    let _server = Server(socket.clone());
    let count = root.join("tmux-calls");
    let path = shim(root, &count);
    let mut config = format!(
        "[session]\nname = \"overhead\"\nsocket = \"{socket}\"\nwidth = 100\nheight = 30\n\n"
    );
    for i in 0..agents {
        let name = format!("a{i:03}");
        let script = "persona = \"claude\"\nstart_delay_ms = 100\n[[task]]\nrepeat = true\nwork_ms = 3600000\n";
        config.push_str(&fake_agent(
            &name,
            &root.join(format!("{name}.toml")),
            script,
        ));
    }
    config.push_str("[quota]\nsources = [\"screen\"]\n\n[run]\ntest_tasks = false\n");
    std::fs::write(root.join("baton.toml"), config).unwrap();
    succeeded(baton(root, &path, &["up"]), "baton up");
    let pid: u32 = std::fs::read_to_string(root.join(".baton/daemon.lock"))
        .unwrap_or_default()
        .trim()
        .parse()
        .expect("the daemon's pid");
    if streaming {
        for i in 0..agents {
            let add = baton(
                root,
                &path,
                &[
                    "task",
                    "add",
                    &format!("stream {i}"),
                    "--to",
                    &format!("a{i:03}"),
                ],
            );
            assert!(add.status.success());
        }
        wait_for("every agent working", Duration::from_secs(120), || {
            let out = baton(root, &path, &["task", "list", "--json"]);
            let list: serde_json::Value =
                serde_json::from_slice(&out.stdout).unwrap_or(serde_json::Value::Null);
            list.as_array().is_some_and(|l| {
                l.len() == agents && l.iter().all(|t| t["status"] == "IN_PROGRESS")
            })
        });
    }
    // Let start-up settle, then watch.
    std::thread::sleep(Duration::from_secs(3));
    let calls_before = std::fs::read_to_string(&count)
        .map(|s| s.lines().count())
        .unwrap_or(0);
    let (t0, _) = usage(pid).expect("daemon running");
    let start = Instant::now();
    std::thread::sleep(Duration::from_secs(secs));
    let (t1, hwm) = usage(pid).expect("daemon still running");
    let wall = start.elapsed().as_secs_f64();
    let calls = std::fs::read_to_string(&count)
        .map(|s| s.lines().count())
        .unwrap_or(0)
        .saturating_sub(calls_before);
    let cpu = (t1 - t0) as f64 / common::clk_tck() as f64;
    let share = cpu / wall * 100.0;
    let per_agent_hour = cpu / (agents as f64 * wall / 3600.0);
    println!(
        "{label:<24} {agents:>3} agents: daemon CPU {share:>5.2} % of a core ({cpu:.2} s in {wall:.0} s, {per_agent_hour:.1} CPU-s per agent-hour), peak RSS {:.1} MB, tmux processes started {:.1}/min",
        hwm as f64 / 1024.0,
        calls as f64 / (wall / 60.0)
    );
    let _ = baton(root, &path, &["down"]);
}

fn main() {
    let full = std::env::args().any(|a| a == "--bench");
    let secs = std::env::var("BATON_BENCH_SECS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(30);
    if !full {
        // `cargo test --benches`: a short look at a small team.
        scenario("idle (quick)", 2, false, 2);
        return;
    }
    scenario("idle", 10, false, secs);
    scenario("idle", 100, false, secs);
    scenario("streaming", 20, true, secs);
}
