//! `baton watch` with 100 agents and 10,000 tasks: how long a snapshot takes to read, a frame
//! to draw, an idle poll, a scroll; how much CPU the dashboard uses idle and while the store
//! changes a few times a second; how soon a change reaches the screen.
//! Run: `cargo bench -p baton --bench watch_render`.
//!
//! The store is filled by `baton task import`, then with SQL for what only a daemon writes
//! (agent states, quota readings, the journal of a long run). The in-process figures come from
//! the hidden `baton watch --bench-frames N`; the CPU and latency figures from a real
//! `baton watch` in a private tmux server, read from `/proc/<pid>/stat`.

mod common;

use std::path::Path;
use std::process::Command;
use std::time::Duration;
use std::time::Instant;

use common::Server;
use common::baton_command;
use common::now_ms;
use common::report_us;
use common::succeeded;
use rusqlite::Connection;
use rusqlite::params;

fn baton(dir: &Path, args: &[&str]) -> std::process::Output {
    let out = baton_command(dir, args).output().expect("run baton");
    succeeded(out, &format!("baton {args:?}"))
}

fn bench_frames(root: &Path, frames: usize, size: &str) {
    let out = baton(
        root,
        &[
            "watch",
            "--bench-frames",
            &frames.to_string(),
            "--bench-size",
            size,
        ],
    );
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let list = |k: &str| -> Vec<u64> {
        v[k].as_array()
            .unwrap()
            .iter()
            .map(|x| x.as_u64().unwrap())
            .collect()
    };
    println!("-- {size}: {} agents, {} tasks", v["agents"], v["tasks"]);
    report_us("read a whole snapshot", list("load_us"));
    report_us("draw a frame", list("render_us"));
    report_us("idle poll (nothing changed)", list("poll_us"));
    report_us("PgDn in the queue: read page + draw", list("scroll_us"));
}

/// CPU time (user + system) of a process, in clock ticks; 0 if it cannot be read.
fn cpu_ticks(pid: u32) -> u64 {
    common::cpu_ticks(pid).unwrap_or(0)
}

// `common::Server` kills the server when dropped; the live figures also drive it.
impl Server {
    fn tmux(&self, args: &[&str]) -> std::process::Output {
        Command::new("tmux")
            .args(["-f", "/dev/null", "-L", &self.0])
            .args(args)
            .env_remove("TMUX")
            .output()
            .unwrap()
    }
}

fn live(root: &Path, seconds: u64) {
    if Command::new("tmux").arg("-V").output().is_err() || !Path::new("/proc/self").exists() {
        println!("(no tmux or no /proc: the live figures are skipped)");
        return;
    }
    let server = Server(format!("baton-bench-watch-{}", std::process::id()));
    let line = format!(
        "cd '{}' && exec '{}' watch",
        root.display(),
        env!("CARGO_BIN_EXE_baton")
    );
    let out = server.tmux(&[
        "new-session",
        "-d",
        "-s",
        "w",
        "-x",
        "160",
        "-y",
        "48",
        "-P",
        "-F",
        "#{pane_pid}",
        &line,
    ]);
    let pid: u32 = String::from_utf8_lossy(&out.stdout).trim().parse().unwrap();
    let screen = || {
        String::from_utf8_lossy(&server.tmux(&["capture-pane", "-p", "-t", "w"]).stdout)
            .into_owned()
    };
    let start = Instant::now();
    while !screen().contains("Agents ·") {
        assert!(
            start.elapsed() < Duration::from_secs(20),
            "the dashboard did not start:\n{}",
            screen()
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_millis(500));
    let hz = common::clk_tck() as f64;
    let before = cpu_ticks(pid);
    std::thread::sleep(Duration::from_secs(seconds));
    let idle = (cpu_ticks(pid) - before) as f64 / hz;
    println!(
        "idle CPU over {seconds} s: {:.3} s ({:.2} %)",
        idle,
        idle / seconds as f64 * 100.0
    );
    // A busy run: a task changes two to four times a second; each change must reach the screen.
    let db = Connection::open(root.join(".baton/state.db")).unwrap();
    db.busy_timeout(Duration::from_secs(10)).unwrap();
    let before = cpu_ticks(pid);
    let began = Instant::now();
    let mut latency = Vec::new();
    let mut n = 0;
    while began.elapsed() < Duration::from_secs(seconds) {
        n += 1;
        let title = format!("changed live {n:05}");
        let t = Instant::now();
        db.execute(
            "UPDATE tasks SET title = ?1, updated_ms = ?2 WHERE id = 1",
            params![title, now_ms()],
        )
        .unwrap();
        db.execute(
            "INSERT INTO journal (at_ms, actor, action, task, target, result, detail) VALUES (?1, 'bench', 'task-edit', 1, '', ?2, '')",
            params![now_ms(), title],
        )
        .unwrap();
        // Wait for it on screen (capture-pane costs a few ms; it is what a person sees).
        while !screen().contains(&title) {
            assert!(
                t.elapsed() < Duration::from_secs(5),
                "change {n} never showed"
            );
            std::thread::sleep(Duration::from_millis(5));
        }
        latency.push(t.elapsed().as_micros() as u64);
        // Wait a pseudo-random 0–250 ms before the next change, so that changes land at any
        // moment of the dashboard's 250 ms poll (a fixed pause would lock onto its phase).
        std::thread::sleep(Duration::from_millis((n as u64 * 7_919) % 250));
    }
    let busy = (cpu_ticks(pid) - before) as f64 / hz;
    let took = began.elapsed().as_secs_f64();
    println!(
        "CPU with {n} changes over {took:.0} s: {busy:.3} s ({:.1} %)",
        busy / took * 100.0
    );
    report_us("store change → on screen", latency);
}

fn main() {
    // `cargo bench` passes --bench; `cargo test --benches` passes nothing: run a small version.
    let full = std::env::args().any(|a| a == "--bench");
    let (agents, tasks, frames, seconds) = if full {
        (100, 10_000, 200, 10)
    } else {
        (10, 300, 5, 1)
    };
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    common::timed_project(root, "w", agents, tasks);
    bench_frames(root, frames, "160x48");
    bench_frames(root, frames, "80x24");
    live(root, seconds);
}
