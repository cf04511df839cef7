//! Clean exits: `baton demo | head` leaves nothing running, Ctrl-C during `baton run` says
//! what goes on and how to resume, and `scripts/demo` finds the binary where cargo put it.

use std::io::BufRead;
use std::io::BufReader;
use std::path::Path;
use std::process::Command;
use std::process::ExitStatus;
use std::process::Stdio;
use std::time::Duration;
use std::time::Instant;

use crate::common::KillServer;
use crate::common::Ran;
use crate::common::TestProject;
use crate::common::assert_has;
use crate::common::baton_bin;
use crate::common::baton_command;
use crate::common::repo_root;
use crate::common::stdout_of;
use crate::common::wait_until;

/// Waits for `child` to exit within `timeout` (killing it and failing the test otherwise).
fn wait_exit(child: &mut std::process::Child, timeout: Duration, what: &str) -> ExitStatus {
    let start = Instant::now();
    loop {
        if let Some(status) = child.try_wait().unwrap() {
            return status;
        }
        if start.elapsed() >= timeout {
            let _ = child.kill();
            let _ = child.wait();
            panic!("timed out after {timeout:?} waiting for {what} to exit");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Waits for `child` to exit as `wait_exit` does; returns its status and what it wrote on its
/// piped stderr.
fn wait_exit_and_stderr(
    child: &mut std::process::Child,
    timeout: Duration,
    what: &str,
) -> (ExitStatus, String) {
    let status = wait_exit(child, timeout, what);
    let mut stderr = String::new();
    std::io::Read::read_to_string(&mut child.stderr.take().unwrap(), &mut stderr).unwrap();
    (status, stderr)
}

/// The pids of live processes whose command line mentions `needle` (zombies excluded).
fn processes_mentioning(needle: &str) -> Vec<(u32, String)> {
    let mut found = Vec::new();
    let Ok(entries) = std::fs::read_dir("/proc") else {
        return found;
    };
    for entry in entries.flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let Ok(cmdline) = std::fs::read(entry.path().join("cmdline")) else {
            continue;
        };
        let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
        let zombie = std::fs::read_to_string(entry.path().join("stat"))
            .map(|s| {
                s.rsplit_once(')')
                    .is_some_and(|(_, rest)| rest.trim_start().starts_with('Z'))
            })
            .unwrap_or(true);
        if !zombie && cmdline.contains(needle) {
            found.push((pid, cmdline));
        }
    }
    found
}

/// Whether a tmux server answers on socket `name`.
fn tmux_server_runs(name: &str) -> bool {
    Command::new("tmux")
        .args(["-L", name, "list-sessions"])
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success())
}

/// `baton demo | head`: the reader goes away once the agents are up; the demo exits quietly with
/// 141 (as a shell reports SIGPIPE) and its tmux server, agents and daemon are gone.
#[test]
fn a_demo_whose_reader_goes_away_leaves_nothing_running() {
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path().join("demo");
    let mut child = baton_command(&["demo", "--dir", root.to_str().unwrap()])
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let socket = format!("baton-demo-{}", child.id());
    let _guard = KillServer(socket.clone());
    {
        // Like `head`: read until the agents are up (the server runs), then close the pipe.
        let mut reader = BufReader::new(child.stdout.take().unwrap());
        let mut seen = String::new();
        while !seen.contains("running; the dashboard") {
            let mut line = String::new();
            let n = reader.read_line(&mut line).unwrap();
            assert!(n > 0, "the demo ended early:\n{seen}");
            seen.push_str(&line);
        }
        assert!(seen.starts_with("demo project:"), "{seen}");
        assert!(tmux_server_runs(&socket), "the demo's server runs");
    }
    let (status, stderr) = wait_exit_and_stderr(&mut child, Duration::from_secs(60), "baton demo");
    assert_eq!(status.code(), Some(141), "{status}; stderr:\n{stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(
        !tmux_server_runs(&socket),
        "the demo's tmux server ({socket}) is still running"
    );
    let needle = root.to_str().unwrap();
    wait_until(Duration::from_secs(10), "the demo's agents to exit", || {
        processes_mentioning(needle).is_empty()
    });
}

/// Starts `baton run` on two tasks its one fake agent works on for a minute; returns it
/// once the first task is IN_PROGRESS, with its stderr.
fn run_until_busy(p: &TestProject) -> std::process::Child {
    p.write_config(&p.fake_agent(
        "claude",
        "claude",
        "[[task]]\nrepeat = true\nwork_ms = 60000\n",
    ));
    p.write_plan("- [ ] job one\n- [ ] job two\n");
    let child = p.spawn(&["run", "plan.md"], Stdio::piped);
    wait_until(Duration::from_secs(30), "a task in progress", || {
        p.journal().iter().any(|j| j["action"] == "task-start")
    });
    child
}

/// Sends SIGINT to `pid`, as Ctrl-C in a terminal does.
fn interrupt(pid: u32) {
    let status = Command::new("kill")
        .args(["-INT", &pid.to_string()])
        .status()
        .unwrap();
    assert!(status.success());
}

/// Ctrl-C during `baton run`: it says the agents go on in their tmux session, which tasks
/// stay IN_PROGRESS, and how to resume or stop; it exits 130; the agents do go on.
#[test]
fn ctrl_c_during_run_says_what_goes_on_and_how_to_resume() {
    let p = TestProject::new();
    let mut child = run_until_busy(&p);
    interrupt(child.id());
    let (status, stderr) = wait_exit_and_stderr(&mut child, Duration::from_secs(10), "baton run");
    assert_eq!(status.code(), Some(130), "{status}; stderr:\n{stderr}");
    assert_has(
        &stderr,
        &[
            "interrupted",
            "keep running",
            &format!("tmux session `{}`", p.session),
            "T-001",
            "IN_PROGRESS",
            "baton run",
            "state.db",
            "baton down",
        ],
    );
    // What it said holds: the agent still runs and its task is still in progress.
    assert_eq!(p.status("T-001"), "IN_PROGRESS");
    let panes = p.tmux(&["list-panes", "-s", "-t", &p.session]);
    assert!(panes.status.success(), "the session is gone");
    p.pane("claude");
}

/// What `scripts/demo --print-binary` prints, started in `cwd` (or here) with
/// CARGO_TARGET_DIR set to `target`.
fn demo_binary(cwd: Option<&Path>, target: &Path) -> String {
    let mut script = Command::new("bash");
    script
        .arg(repo_root().join("scripts/demo"))
        .arg("--print-binary")
        .env("CARGO_TARGET_DIR", target);
    if let Some(cwd) = cwd {
        script.current_dir(cwd);
    }
    String::from_utf8_lossy(&stdout_of(&mut script))
        .trim()
        .to_owned()
}

/// `scripts/demo` runs the binary cargo built, also when CARGO_TARGET_DIR puts it elsewhere.
#[test]
fn the_demo_script_runs_the_binary_where_cargo_builds_it() {
    let target = tempfile::tempdir().unwrap();
    assert_eq!(
        demo_binary(None, target.path()),
        target.path().join("release/baton").to_str().unwrap()
    );
    // A relative CARGO_TARGET_DIR is relative to where the script is started, as for cargo.
    let cwd = tempfile::tempdir().unwrap();
    assert_eq!(
        demo_binary(Some(cwd.path()), Path::new("out")),
        cwd.path().join("out/release/baton").to_str().unwrap()
    );
}

/// `baton demo --dir` into a directory that holds someone's files refuses and writes nothing
/// (it wrote its baton.toml and tasks.md over theirs); an empty one is taken.
#[test]
fn the_demo_never_writes_over_a_directory_of_someone_else() {
    let scratch = tempfile::tempdir().unwrap();
    let mine = scratch.path().join("mine");
    std::fs::create_dir(&mine).unwrap();
    std::fs::write(mine.join("baton.toml"), "# my precious config\n").unwrap();
    std::fs::write(mine.join("tasks.md"), "mine\n").unwrap();
    let out = Ran::from(
        baton_command(&["demo", "--quiet", "--dir"])
            .arg(&mine)
            .output()
            .unwrap(),
    );
    assert_has(
        &out.expect_code(1).stderr,
        &["is not empty and not a demo project"],
    );
    assert_eq!(
        std::fs::read_to_string(mine.join("baton.toml")).unwrap(),
        "# my precious config\n"
    );
    assert_eq!(
        std::fs::read_to_string(mine.join("tasks.md")).unwrap(),
        "mine\n"
    );
    assert!(!mine.join(".baton").exists(), "nothing written");
}

/// `baton down` is journaled, with the tasks it leaves IN_PROGRESS (it left no trace).
#[test]
fn baton_down_is_journaled_with_the_work_it_leaves() {
    let p = TestProject::with_fake_agent("claude", "claude", "");
    p.ok(&["task", "add", "write the parser"]);
    p.ok(&["task", "start", "T-001"]);
    p.ok(&["up", "--no-wait", "--no-daemon"]);
    p.ok(&["down"]);
    let down = p.journaled("session-down");
    assert_eq!(down.len(), 1, "{down:?}");
    assert_has(
        down[0]["result"].as_str().unwrap(),
        &["(1 agent window(s)); T-001", "left IN_PROGRESS"],
    );
}

/// A process an agent started that ignores the pane's hangup (as Gemini CLI's relaunched
/// `node` does) is ended by `baton down`, and said (it ran on after the session was gone).
#[test]
fn baton_down_ends_what_the_agents_left_running() {
    let p = TestProject::new();
    let script = p.write_script("claude", "persona = \"claude\"\nstart_delay_ms = 100\n");
    let pidfile = p.root().join("child.pid");
    p.write_config(&format!(
        "[[agent]]\nname = \"claude\"\ncli = \"claude\"\ncommand = \"nohup sleep 600 >/dev/null 2>&1 & echo $! > {}; exec {} fake-agent --script {}\"\n",
        pidfile.display(),
        baton_bin().display(),
        script.display()
    ));
    p.ok(&["up", "--no-wait", "--no-daemon"]);
    let mut pid = String::new();
    wait_until(Duration::from_secs(10), "the agent's child", || {
        pid = std::fs::read_to_string(&pidfile)
            .unwrap_or_default()
            .trim()
            .to_owned();
        !pid.is_empty()
    });
    let running = || Path::new(&format!("/proc/{pid}")).exists();
    assert!(running(), "the child runs before `baton down`");
    assert_has(&p.ok(&["down"]), &["ended 1 process(es)"]);
    wait_until(Duration::from_secs(10), "the child to be gone", || {
        !running()
    });
}
