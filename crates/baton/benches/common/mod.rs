//! Helpers shared by the benches (`mod common;` in each). Not a bench target itself: Cargo only
//! discovers `benches/*.rs` and `benches/*/main.rs`.

// Not every bench uses every helper.
#![allow(dead_code)]

use std::path::Path;
use std::process::Command;
use std::process::Output;
use std::time::Duration;

use rusqlite::Connection;
use rusqlite::params;

/// The value at fraction `p` (0.0 to 1.0) of an ascending, non-empty slice: index
/// `((len - 1) * p).round()`. Panics on an empty slice.
pub fn percentile<T: Copy>(sorted: &[T], p: f64) -> T {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

/// Kills the private tmux server `tmux -L <name>` when dropped, whatever happened.
pub struct Server(pub String);

impl Drop for Server {
    fn drop(&mut self) {
        kill_server(&self.0);
    }
}

/// Kills the private tmux server `tmux -L <name>`, if it runs.
pub fn kill_server(name: &str) {
    let _ = Command::new("tmux")
        .args(["-L", name, "kill-server"])
        .output();
}

/// The `baton` under bench, run in `dir` with `args`, with no tmux configuration of the user's
/// and outside any tmux it was started in.
pub fn baton_command(dir: &Path, args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_baton"));
    cmd.args(args)
        .current_dir(dir)
        .env("BATON_TMUX_CONFIG", "/dev/null")
        .env_remove("TMUX");
    cmd
}

/// `out`, after a check that its process succeeded (else a panic with `what` and its stderr).
pub fn succeeded(out: Output, what: &str) -> Output {
    assert!(
        out.status.success(),
        "{what}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// Writes the fake-agent script `script` (its text `text`) and gives the `[[agent]]` entry of
/// baton.toml for a Claude Code look-alike `name` that runs it.
pub fn fake_agent(name: &str, script: &Path, text: &str) -> String {
    std::fs::write(script, text).unwrap();
    format!(
        "[[agent]]\nname = \"{name}\"\ncli = \"claude\"\ncommand = \"{} fake-agent --script {}\"\n\n",
        env!("CARGO_BIN_EXE_baton"),
        script.display()
    )
}

/// Clock ticks per second (`getconf CLK_TCK`), 100 if that fails.
pub fn clk_tck() -> u64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse().ok())
        .unwrap_or(100)
}

/// CPU time (utime + stime) of a process, in clock ticks, from `/proc/<pid>/stat`; `None` if
/// it cannot be read.
pub fn cpu_ticks(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name (which may hold spaces) start after the last ')'.
    let after = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = after.split_whitespace().collect();
    // After the command: state is field 3, utime 14, stime 15 (1-based in proc(5)).
    Some(fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?)
}

/// Quotes `s` as a TOML basic string.
pub fn toml_str(s: &str) -> String {
    format!("\"{}\"", s.replace('\\', "\\\\").replace('"', "\\\""))
}

/// The name of the `i`th agent of `write_workers_config`.
pub fn worker_name(i: usize) -> String {
    format!("a{i:02}")
}

/// Writes `baton.toml` in `root` for `agents` fake Claude Code agents `a00`, `a01`, … in
/// session `session` (100×30) of the private tmux server `socket`: each takes task after task,
/// works `work_ms` on each, then runs `done_cmd`, and logs its events to `<name>.events`. Only
/// the listed tasks run: no test tasks after them.
pub fn write_workers_config(
    root: &Path,
    session: &str,
    socket: &str,
    agents: usize,
    work_ms: u64,
    done_cmd: &str,
) {
    write_workers_config_with(
        root,
        session,
        socket,
        agents,
        work_ms,
        done_cmd,
        &|_| String::new(),
        "",
    );
}

/// [`write_workers_config`] with `agent_extra(i)` appended to the `i`th agent's table and
/// `tail` (e.g. `[[host]]` tables) before `[run]`.
#[allow(clippy::too_many_arguments)]
pub fn write_workers_config_with(
    root: &Path,
    session: &str,
    socket: &str,
    agents: usize,
    work_ms: u64,
    done_cmd: &str,
    agent_extra: &dyn Fn(usize) -> String,
    tail: &str,
) {
    let mut config = format!(
        "[session]\nname = \"{session}\"\nsocket = \"{socket}\"\nwidth = 100\nheight = 30\n\n"
    );
    for i in 0..agents {
        let name = worker_name(i);
        let script = format!(
            "persona = \"claude\"\nevents = {}\nstart_delay_ms = 100\n[[task]]\nrepeat = true\nwork_ms = {work_ms}\nrun = [{}]\n",
            toml_str(&root.join(format!("{name}.events")).display().to_string()),
            toml_str(done_cmd),
        );
        config.push_str(&fake_agent(
            &name,
            &root.join(format!("{name}.toml")),
            &script,
        ));
        config.push_str(&agent_extra(i));
    }
    config.push_str(tail);
    config.push_str("[run]\ntest_tasks = false\n");
    std::fs::write(root.join("baton.toml"), config).unwrap();
}

/// Milliseconds since the epoch.
pub fn now_ms() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_millis() as i64)
}

/// Writes a project with `agents` agents and `tasks` tasks in every state.
pub fn project(root: &Path, socket: &str, agents: usize, tasks: usize) {
    let mut config = format!("[session]\nname = \"bench\"\nsocket = \"{socket}\"\n\n");
    for i in 0..agents {
        config.push_str(&format!(
            "[[agent]]\nname = \"agent{i:03}\"\ncli = \"{}\"\n\n",
            ["claude", "codex", "amp", "gemini"][i % 4]
        ));
    }
    config.push_str("[lead]\nchain = [\"agent000\", \"agent001\"]\n");
    std::fs::write(root.join("baton.toml"), config).unwrap();
    let list: String = (0..tasks)
        .map(|i| {
            format!(
                "- [ ] task number {i}: make the thing work !{}\n",
                ["high", "med", "low"][i % 3]
            )
        })
        .collect();
    std::fs::write(root.join("tasks.md"), list).unwrap();
    succeeded(
        baton_command(root, &["task", "import", "tasks.md"])
            .output()
            .expect("run baton"),
        "baton task import",
    );
    let db = Connection::open(root.join(".baton/state.db")).unwrap();
    db.busy_timeout(Duration::from_secs(10)).unwrap();
    let now = now_ms();
    db.execute_batch("BEGIN").unwrap();
    // Half done, one in progress per agent, a few blocked and cancelled.
    db.execute(
        "UPDATE tasks SET status = 'COMPLETED', assignee = 'agent' || printf('%03d', id % ?1) WHERE id > ?2 AND id % 2 = 0",
        params![agents as i64, agents as i64],
    )
    .unwrap();
    db.execute(
        "UPDATE tasks SET status = 'IN_PROGRESS', assignee = 'agent' || printf('%03d', id - 1) WHERE id <= ?1",
        params![agents as i64],
    )
    .unwrap();
    db.execute(
        "UPDATE tasks SET status = 'BLOCKED', blocked_reason = 'no credits' WHERE id % 97 = 0 AND status = 'PENDING'",
        [],
    )
    .unwrap();
    db.execute(
        "UPDATE tasks SET status = 'CANCELLED' WHERE id % 89 = 0 AND status = 'PENDING'",
        [],
    )
    .unwrap();
    for i in 0..agents {
        let name = format!("agent{i:03}");
        db.execute(
            "INSERT INTO agents (name, cli, state, pane, updated_ms) VALUES (?1, 'claude', ?2, ?3, ?4)",
            params![name, ["working", "idle", "working", "needs-input"][i % 4], format!("%{i}"), now - (i as i64) * 7_000],
        )
        .unwrap();
        // Fifty readings of each window, as a long run leaves them.
        for k in 0..50 {
            for (window, base) in [("session-5h", 10.0), ("weekly", 30.0)] {
                db.execute(
                    "INSERT INTO quota_readings (agent, window, used_percent, resets_at_ms, source, observed_ms) VALUES (?1, ?2, ?3, NULL, 'bench', ?4)",
                    params![name, window, (base + (i % 60) as f64 + k as f64 * 0.5).min(100.0), now - (50 - k) * 60_000],
                )
                .unwrap();
            }
        }
    }
    // The journal of a long run: ten entries per task.
    for i in 0..tasks * 9 {
        db.execute(
            "INSERT INTO journal (at_ms, actor, action, task, target, result, detail) VALUES (?1, 'baton', 'engine', ?2, 'agent000', 'screen changed', '')",
            params![now - 1000, (i % tasks) as i64 + 1],
        )
        .unwrap();
    }
    db.execute_batch("COMMIT").unwrap();
}

/// Prints one latency row: `name`, how many, p50, p99 and max of `us` (microseconds) in ms.
pub fn report_us(name: &str, mut us: Vec<u64>) {
    us.sort_unstable();
    let ms = |u: u64| u as f64 / 1000.0;
    println!(
        "{name:<44} n={:<4} p50 {:>7.2} ms   p99 {:>7.2} ms   max {:>7.2} ms",
        us.len(),
        ms(percentile(&us, 0.5)),
        ms(percentile(&us, 0.99)),
        ms(*us.last().unwrap())
    );
}

/// Writes the dashboard benches' project (see [`project`]) in `root`, with a private tmux
/// socket named after `tag`, and says how big it is and how long it took.
pub fn timed_project(root: &Path, tag: &str, agents: usize, tasks: usize) {
    let started = std::time::Instant::now();
    project(
        root,
        &format!("baton-bench-{tag}{}", std::process::id()),
        agents,
        tasks,
    );
    println!(
        "project: {agents} agents, {tasks} tasks, {} journal entries, {} quota readings (set up in {:.1} s)",
        tasks * 10,
        agents * 100,
        started.elapsed().as_secs_f64()
    );
}
