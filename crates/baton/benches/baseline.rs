//! baton against the hand-run workflow it replaces, and baton's throughput.
//!
//! 1. Side by side, with the same fake agents (claude persona, same work per task) and the same
//!    tasks: `baton run plan.md`, then the hand-run mechanism of the French workflow — a bash
//!    loop that reads a completion log every N seconds and, for every agent whose task is
//!    logged DONE, types the next task with `tmux send-keys` (no check that it was submitted).
//!    N = 80 s (the workflow's interval) and N = 5 s.
//! 2. Throughput: 2,000 tasks of 200 ms over 20 agents with `baton run`; makespan against the
//!    ideal (total work / agents).
//!
//! Every instant comes from the fake agents' event logs (`work-start` when a prompt was
//! submitted, `work-done` after the agent's completion command returned); their `<ms>` field is
//! Unix time, so all agents share one clock.
//!
//! - makespan: the first `work-start` to the last `work-done`, over all agents;
//! - idle agent-time: summed over agents, the time from the makespan's start to its first
//!   prompt, and from each `work-done` to its next `work-start` — or, after its last task, to
//!   the moment the last task was handed out (idle while tasks remained).
//!
//! Run: `cargo bench -p baton --bench baseline` (about 4 minutes; `-- --quick` or
//! `BATON_BENCH_QUICK=1`: no 80 s loop and 200 tasks for throughput). `cargo test --benches`
//! runs a tiny version (2 agents, 4 tasks, N = 1 s).
//! Target: at least 10x less idle agent-time than the loop at 80 s, and less at 5 s.

mod common;

use std::fs::File;
use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::Child;
use std::process::Command;
use std::process::Stdio;
use std::time::Duration;
use std::time::Instant;

use common::baton_command;
use common::percentile;
use common::worker_name;
use common::write_workers_config;

const SESSION: &str = "bench";

/// Kills the private tmux server when dropped, whatever happened, then removes its socket.
struct Server {
    socket: String,
}

impl Drop for Server {
    fn drop(&mut self) {
        drop(common::Server(self.socket.clone()));
        // tmux leaves the socket file behind (`baton down` kills the server too).
        let _ = std::fs::remove_file(socket_path(&self.socket));
    }
}

/// Where `tmux -L name` puts its socket: `$TMUX_TMPDIR` (else /tmp), `tmux-<uid>/name`.
fn socket_path(name: &str) -> PathBuf {
    use std::os::unix::fs::MetadataExt;
    let uid = std::fs::metadata("/proc/self").map_or(0, |m| m.uid());
    let dir = std::env::var_os("TMUX_TMPDIR")
        .filter(|d| !d.is_empty())
        .map_or_else(|| PathBuf::from("/tmp"), PathBuf::from);
    dir.join(format!("tmux-{uid}")).join(name)
}

/// A child in its own process group, killed (the whole group) when dropped.
struct Group {
    child: Child,
}

impl Group {
    fn spawn(mut cmd: Command) -> Group {
        Group {
            child: cmd.process_group(0).spawn().expect("spawn"),
        }
    }
}

impl Drop for Group {
    fn drop(&mut self) {
        if matches!(self.child.try_wait(), Ok(None)) {
            let _ = Command::new("kill")
                .args(["-KILL", "--", &format!("-{}", self.child.id())])
                .status();
        }
        let _ = self.child.wait();
    }
}

/// A scratch project: `baton.toml` with `agents` fake agents on a private socket.
struct Project {
    // Field order: the server goes before the directory it runs in.
    server: Server,
    root: PathBuf,
    agents: usize,
    _dir: tempfile::TempDir,
}

impl Project {
    /// `done_cmd` is what each agent runs (with `sh -c`) when a task's work ends.
    fn new(label: &str, agents: usize, work_ms: u64, done_cmd: &str) -> Project {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().to_owned();
        let socket = format!("baton-bench-bl-{}-{label}", std::process::id());
        write_workers_config(&root, SESSION, &socket, agents, work_ms, done_cmd);
        Project {
            server: Server { socket },
            root,
            agents,
            _dir: dir,
        }
    }

    fn baton(&self, args: &[&str]) -> Command {
        baton_command(&self.root, args)
    }

    /// Runs baton to completion within `limit`, output to files; panics on failure.
    fn baton_ok(&self, args: &[&str], limit: Duration) {
        let tag = args.join("-").replace(['/', '.', ' '], "_");
        let out = self.root.join(format!("{tag}.out"));
        let mut cmd = self.baton(args);
        cmd.stdin(Stdio::null())
            .stdout(File::create(&out).unwrap())
            .stderr(File::create(self.root.join(format!("{tag}.err"))).unwrap());
        let mut group = Group::spawn(cmd);
        let deadline = Instant::now() + limit;
        let status = loop {
            if let Some(status) = group.child.try_wait().unwrap() {
                break status;
            }
            assert!(
                Instant::now() < deadline,
                "baton {args:?} still running after {limit:?}: {}",
                self.tail(&format!("{tag}.err"))
            );
            std::thread::sleep(Duration::from_millis(20));
        };
        assert!(
            status.success(),
            "baton {args:?} failed ({status}): {}{}",
            self.tail(&format!("{tag}.out")),
            self.tail(&format!("{tag}.err"))
        );
    }

    fn tail(&self, file: &str) -> String {
        let text = std::fs::read_to_string(self.root.join(file)).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        lines[lines.len().saturating_sub(30)..].join("\n")
    }

    /// Each agent's event log, reduced to the instants that matter.
    fn timelines(&self) -> Vec<Timeline> {
        (0..self.agents)
            .map(|i| {
                let path = self.root.join(format!("{}.events", worker_name(i)));
                let events = baton_fake_agent::read_events(&path).unwrap_or_default();
                let at = |kind: &str| {
                    events
                        .iter()
                        .filter(|e| e.kind == kind)
                        .map(|e| e.unix_ms)
                        .collect::<Vec<_>>()
                };
                Timeline {
                    starts: at("work-start"),
                    dones: at("work-done"),
                    pastes: at("paste"),
                }
            })
            .collect()
    }

    fn done_count(&self) -> usize {
        self.timelines().iter().map(|t| t.dones.len()).sum()
    }
}

/// One agent's instants, in Unix ms.
struct Timeline {
    /// A prompt was submitted (its Enter pressed) and the work began.
    starts: Vec<u64>,
    /// The work ended and the completion command returned.
    dones: Vec<u64>,
    /// A bracketed paste arrived (baton's delivery; the loop types its prompts instead).
    pastes: Vec<u64>,
}

/// What one run measured.
struct Figures {
    tasks: usize,
    makespan_ms: u64,
    idle_ms: u64,
    /// Each completion → next prompt submitted to the same agent, sorted.
    gaps: Vec<u64>,
    /// Of those, completion → the prompt's paste arrived (baton only), sorted.
    to_paste: Vec<u64>,
    /// Tasks per agent, fewest and most.
    spread: (usize, usize),
    /// The whole command (agents' start-up included for `baton run`).
    wall: Duration,
}

fn measure(project: &Project, wall: Duration) -> Figures {
    let lines = project.timelines();
    for (i, t) in lines.iter().enumerate() {
        assert_eq!(
            t.starts.len(),
            t.dones.len(),
            "{}: every prompt should have been worked to its end",
            worker_name(i)
        );
    }
    let first = lines.iter().filter_map(|t| t.starts.first()).min().copied();
    let Some(first) = first else {
        panic!("no agent received a prompt");
    };
    let last_done = lines.iter().filter_map(|t| t.dones.last()).max().copied();
    let last_dispatch = lines.iter().filter_map(|t| t.starts.last()).max().copied();
    let (last_done, last_dispatch) = (last_done.unwrap(), last_dispatch.unwrap());
    let mut idle = 0;
    let mut gaps = Vec::new();
    let mut to_paste = Vec::new();
    for t in &lines {
        let Some(&s0) = t.starts.first() else {
            idle += last_dispatch - first;
            continue;
        };
        idle += s0 - first;
        for k in 1..t.starts.len() {
            let (done, start) = (t.dones[k - 1], t.starts[k]);
            gaps.push(start.saturating_sub(done));
            idle += start.saturating_sub(done);
            if let Some(p) = t.pastes.iter().find(|&&p| p >= done && p <= start) {
                to_paste.push(p - done);
            }
        }
        idle += last_dispatch.saturating_sub(*t.dones.last().unwrap());
    }
    gaps.sort_unstable();
    to_paste.sort_unstable();
    let per: Vec<usize> = lines.iter().map(|t| t.starts.len()).collect();
    Figures {
        tasks: per.iter().sum(),
        makespan_ms: last_done - first,
        idle_ms: idle,
        gaps,
        to_paste,
        spread: (
            per.iter().copied().min().unwrap_or(0),
            per.iter().copied().max().unwrap_or(0),
        ),
        wall,
    }
}

/// [`percentile`], or 0 for an empty slice (e.g. no gaps when each agent had one task).
fn percentile_or_zero(sorted: &[u64], p: f64) -> u64 {
    if sorted.is_empty() {
        return 0;
    }
    percentile(sorted, p)
}

fn secs(ms: u64) -> f64 {
    ms as f64 / 1000.0
}

/// `baton run plan.md` with `tasks` tasks; each agent reports with `baton task done`.
fn run_baton(label: &str, agents: usize, tasks: usize, work_ms: u64) -> Figures {
    let project = Project::new(
        label,
        agents,
        work_ms,
        "baton task done \"$BATON_FAKE_TASK\"",
    );
    let list: String = (1..=tasks).map(|i| format!("- [ ] job {i}\n")).collect();
    std::fs::write(project.root.join("plan.md"), list).unwrap();
    // Generous: 20x the ideal, plus start-up.
    let limit = Duration::from_millis(
        60_000 + 20 * (tasks as u64 * work_ms).div_ceil(agents as u64) + 100 * tasks as u64,
    );
    let started = Instant::now();
    project.baton_ok(&["run", "plan.md", "--quiet"], limit);
    let wall = started.elapsed();
    let figures = measure(&project, wall);
    assert_eq!(figures.tasks, tasks, "baton run: tasks worked");
    figures
}

/// The hand-run workflow's dispatch loop, as a bash script.
fn loop_script(project: &Project, interval_s: u64, tasks: usize) -> String {
    let agents: Vec<String> = (0..project.agents).map(worker_name).collect();
    format!(
        r#"#!/usr/bin/env bash
# The orchestrator of the hand-run workflow, reduced to its dispatch loop: read the shared
# completion log; every agent whose task is logged DONE gets the next task, typed with
# tmux send-keys (no check that it was submitted); sleep; again.
set -u
SOCKET='{socket}'
SESSION='{SESSION}'
INTERVAL={interval_s}
LOG='{log}'
AGENTS=({agents})
TASKS={tasks}
next=1
declare -A current=()
while :; do
    busy=0
    for a in "${{AGENTS[@]}}"; do
        t=${{current[$a]:-}}
        if [[ -n $t ]] && ! grep -qx "$t DONE" "$LOG" 2>/dev/null; then
            busy=1
            continue
        fi
        current[$a]=
        if ((next <= TASKS)); then
            id=$(printf 'T-%03d' "$next")
            next=$((next + 1))
            tmux -f /dev/null -L "$SOCKET" send-keys -t "$SESSION:$a" -l \
                "TASK_ID: $id - job $id. When you are done, append the line '$id DONE' to COMPLETION_LOG.md."
            tmux -f /dev/null -L "$SOCKET" send-keys -t "$SESSION:$a" Enter
            echo "$(date +%s%3N) sent $id to $a" >>orchestrator.log
            current[$a]=$id
            busy=1
        fi
    done
    ((busy)) || exit 0
    sleep "$INTERVAL"
done
"#,
        socket = project.server.socket,
        log = project.root.join("COMPLETION_LOG.md").display(),
        agents = agents.join(" "),
    )
}

/// The same tasks, handed out by the polling loop every `interval_s` seconds.
fn run_loop(label: &str, agents: usize, tasks: usize, work_ms: u64, interval_s: u64) -> Figures {
    // The agents' working directory is the project root.
    let project = Project::new(
        label,
        agents,
        work_ms,
        "echo \"$BATON_FAKE_TASK DONE\" >> COMPLETION_LOG.md",
    );
    // The agents only: no daemon hands anything out.
    project.baton_ok(&["up", "--no-daemon"], Duration::from_secs(60));
    let script = project.root.join("orchestrate.sh");
    std::fs::write(&script, loop_script(&project, interval_s, tasks)).unwrap();
    let mut cmd = Command::new("bash");
    cmd.arg(&script)
        .current_dir(&project.root)
        .env_remove("TMUX")
        .stdout(Stdio::null())
        .stderr(File::create(project.root.join("orchestrate.err")).unwrap());
    let started = Instant::now();
    let mut orchestrator = Group::spawn(cmd);
    let rounds = tasks.div_ceil(agents) as u64;
    let limit = Duration::from_secs(60 + (rounds + 1) * (interval_s + work_ms.div_ceil(1000)));
    let deadline = started + limit;
    // Done when every task's work-done is logged; the loop itself would notice at its next
    // poll, up to N s later: not waited for.
    loop {
        if project.done_count() >= tasks {
            break;
        }
        if let Some(status) = orchestrator.child.try_wait().unwrap() {
            // It exits once it saw every task DONE; the last work-done follows at once.
            assert!(
                status.success(),
                "loop failed: {}",
                project.tail("orchestrate.err")
            );
        }
        assert!(
            Instant::now() < deadline,
            "loop N = {interval_s} s: {} of {tasks} tasks done after {limit:?}\n{}\n{}",
            project.done_count(),
            project.tail("orchestrator.log"),
            project.tail("orchestrate.err")
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let wall = started.elapsed();
    drop(orchestrator);
    project.baton_ok(&["down"], Duration::from_secs(30));
    let figures = measure(&project, wall);
    assert_eq!(figures.tasks, tasks, "loop: tasks worked");
    figures
}

fn row(name: &str, f: &Figures) {
    println!(
        "  {name:<24} {:>3} tasks  makespan {:>7.1} s  idle agent-time {:>7.1} s  completion -> next prompt p50 {:>6} ms, max {:>6} ms  (tasks/agent {}-{}; command {:.1} s)",
        f.tasks,
        secs(f.makespan_ms),
        secs(f.idle_ms),
        percentile_or_zero(&f.gaps, 0.5),
        f.gaps.last().copied().unwrap_or(0),
        f.spread.0,
        f.spread.1,
        f.wall.as_secs_f64()
    );
    if !f.to_paste.is_empty() {
        println!(
            "  {:<24} of which completion -> paste arrived p50 {} ms, max {} ms; the rest is the delivery check before Enter",
            "",
            percentile(&f.to_paste, 0.5),
            f.to_paste.last().unwrap()
        );
    }
}

fn side_by_side(agents: usize, rounds: usize, work_ms: u64, intervals: &[u64]) {
    let tasks = agents * rounds;
    println!(
        "baseline: {agents} agents x {rounds} rounds = {tasks} tasks of {work_ms} ms, same fake agents for each side"
    );
    let baton = run_baton("baton", agents, tasks, work_ms);
    row("baton run", &baton);
    for &n in intervals {
        let hand = run_loop(&format!("loop{n}"), agents, tasks, work_ms, n);
        row(&format!("polling loop, N = {n} s"), &hand);
        let idle_ratio = hand.idle_ms as f64 / baton.idle_ms.max(1) as f64;
        let makespan_ratio = hand.makespan_ms as f64 / baton.makespan_ms.max(1) as f64;
        let target = if n >= 80 { 10.0 } else { 1.0 };
        println!(
            "  N = {n} s: idle agent-time loop / baton = {idle_ratio:.0}x (target > {target:.0}x: {}), makespan loop / baton = {makespan_ratio:.1}x",
            if idle_ratio > target {
                "met"
            } else {
                "NOT met"
            }
        );
    }
}

fn throughput(agents: usize, tasks: usize, work_ms: u64) {
    let f = run_baton("tput", agents, tasks, work_ms);
    let ideal = (tasks as u64 * work_ms).div_ceil(agents as u64);
    println!(
        "throughput: {tasks} tasks of {work_ms} ms over {agents} agents with baton run: makespan {:.1} s, ideal {:.1} s (work / agents), ratio {:.2}x",
        secs(f.makespan_ms),
        secs(ideal),
        f.makespan_ms as f64 / ideal as f64
    );
    println!(
        "  completion -> next prompt p50 {} ms, p99 {} ms, max {} ms (paste arrived p50 {} ms, p99 {} ms); idle agent-time {:.1} s; tasks/agent {}-{}; whole `baton run` (import, start-up) {:.1} s",
        percentile_or_zero(&f.gaps, 0.5),
        percentile_or_zero(&f.gaps, 0.99),
        f.gaps.last().copied().unwrap_or(0),
        percentile_or_zero(&f.to_paste, 0.5),
        percentile_or_zero(&f.to_paste, 0.99),
        secs(f.idle_ms),
        f.spread.0,
        f.spread.1,
        f.wall.as_secs_f64()
    );
}

fn main() {
    // `cargo bench` passes --bench; `cargo test --benches` passes nothing: a tiny run.
    let full = std::env::args().any(|a| a == "--bench");
    if !full {
        side_by_side(2, 2, 300, &[1]);
        return;
    }
    let quick = std::env::args().any(|a| a == "--quick")
        || std::env::var_os("BATON_BENCH_QUICK").is_some_and(|v| v != "0" && !v.is_empty());
    let started = Instant::now();
    if quick {
        println!("(quick: no 80 s loop, 200 tasks for throughput)");
        side_by_side(4, 3, 2000, &[5]);
        throughput(20, 200, 200);
    } else {
        side_by_side(4, 3, 2000, &[80, 5]);
        throughput(20, 2000, 200);
    }
    println!("(bench took {:.0} s)", started.elapsed().as_secs_f64());
}
