//! How long the task commands agents run from their panes take, as whole processes, with
//! 10,000 tasks in the store. Run: `cargo bench -p baton --bench task_cli`.
//!
//! Targets: `baton task done` under 20 ms with 10,000 tasks; `baton ls --json` is measured
//! with one fake agent running.

mod common;

use std::path::Path;
use std::process::Command;
use std::time::Duration;
use std::time::Instant;

use common::baton_command;
use common::kill_server;
use common::percentile;
use common::succeeded;

fn baton(dir: &Path, args: &[&str]) -> Duration {
    let start = Instant::now();
    let out = Command::new(env!("CARGO_BIN_EXE_baton"))
        .args(args)
        .current_dir(dir)
        .output()
        .expect("run baton");
    let took = start.elapsed();
    succeeded(out, &format!("baton {args:?}"));
    took
}

fn report(name: &str, mut times: Vec<Duration>) {
    times.sort();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    println!(
        "{name:<34} n={:<4} p50 {:>6.2} ms   p90 {:>6.2} ms   p99 {:>6.2} ms   max {:>6.2} ms",
        times.len(),
        ms(percentile(&times, 0.5)),
        ms(percentile(&times, 0.9)),
        ms(percentile(&times, 0.99)),
        ms(*times.last().unwrap())
    );
}

fn main() {
    // `cargo bench` passes --bench; `cargo test --benches` passes nothing: run a small version.
    let full = std::env::args().any(|a| a == "--bench");
    let total = if full { 10_000 } else { 200 };
    let samples = if full { 200 } else { 10 };
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    let socket = format!("baton-bench-cli-{}", std::process::id());
    std::fs::write(
        root.join("baton.toml"),
        format!(
            "[session]\nsocket = \"{socket}\"\n\n[[agent]]\nname = \"claude\"\ncli = \"claude\"\ncommand = \"{} fake-agent --persona claude\"\n",
            env!("CARGO_BIN_EXE_baton")
        ),
    )
    .unwrap();
    let list: String = (0..total)
        .map(|i| format!("- [ ] task number {i} !{}\n", ["high", "med", "low"][i % 3]))
        .collect();
    std::fs::write(root.join("tasks.md"), list).unwrap();
    let took = baton(root, &["task", "import", "tasks.md"]);
    println!(
        "store with {total} tasks (import took {:.0} ms); {samples} samples each",
        took.as_secs_f64() * 1000.0
    );

    let ids: Vec<String> = (1..=samples).map(|i| format!("T-{i:03}")).collect();
    let mut start = Vec::new();
    for id in &ids {
        start.push(baton(root, &["task", "start", id, "--agent", "claude"]));
    }
    report("baton task start", start);
    let mut done = Vec::new();
    for id in &ids {
        done.push(baton(root, &["task", "done", id, "--note", "bench"]));
    }
    report("baton task done", done);
    let mut add = Vec::new();
    for i in 0..samples {
        add.push(baton(root, &["task", "add", &format!("added {i}")]));
    }
    report("baton task add", add);
    let mut list = Vec::new();
    for _ in 0..samples.min(20) {
        list.push(baton(
            root,
            &["task", "list", "--json", "--status", "IN_PROGRESS"],
        ));
    }
    report("baton task list --status IN_PROGRESS", list);
    // `baton ls --json` reads the running agent's screen too: start one (no daemon).
    let up = baton_command(root, &["up", "--no-daemon"]).output();
    succeeded(up.expect("baton up"), "baton up --no-daemon");
    let mut ls = Vec::new();
    for _ in 0..samples.min(50) {
        ls.push(baton(root, &["ls", "--json"]));
    }
    kill_server(&socket);
    report("baton ls --json (1 agent running)", ls);
    let mut version = Vec::new();
    for _ in 0..samples {
        version.push(baton(root, &["--version"]));
    }
    report("baton --version (process floor)", version);
}
