//! Dispatch latency: from an agent's completion signal (its `baton task done` returned) to the
//! next prompt arriving in its pane, with 1, 10, 50 and 100 fake agents in one private tmux
//! server.
//! Both instants are read from the fake agent's own event log, so they share one clock.
//! Run: `cargo bench -p baton --bench dispatch_latency`. Target: p99 under 1 s at 50 agents.

mod common;

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
        "{agents:>3} agents, {:>4} tasks: completion -> next prompt  n={:<4} p50 {:>4} ms  p99 {:>4} ms  max {:>4} ms   (run took {:.1} s)",
        agents * tasks_per_agent,
        latencies.len(),
        percentile(&latencies, 0.5),
        percentile(&latencies, 0.99),
        latencies.last().unwrap(),
        took.as_secs_f64()
    );
}

fn main() {
    let full = std::env::args().any(|a| a == "--bench");
    if !full {
        // `cargo test --benches`: a quick run that the harness can afford.
        measure(2, 3);
        return;
    }
    for agents in [1, 10, 50, 100] {
        measure(agents, if agents == 1 { 20 } else { 5 });
    }
}
