//! The commands around an agent on another host: `baton peek` and `baton send` reach it
//! through ssh, `baton attach` says how to look there; what a baton run on the host (in the
//! agent's environment) sends back through the host's tmux: commands carried out here and
//! answered, `baton up` refused, statusLine payloads kept to the newest.

use std::path::Path;
use std::time::Duration;

use crate::common::KillServer;
use crate::common::TestProject;
use crate::common::assert_has;
use crate::common::sshd::Sshd;
use crate::common::wait_until;

const WAIT: Duration = Duration::from_secs(30);

/// Runs `script` (sh) in a new window of the host's tmux server, as the agent `far` would
/// (`BATON_HOST`, `BATON_AGENT`, inside tmux), with the host's baton first on PATH; waits for
/// it to write `done` to `<tag>.done` in `out`; returns what it wrote to `<tag>.out`.
fn on_host(socket: &str, host_dir: &Path, out: &Path, tag: &str, script: &str) -> String {
    let bin = host_dir.join(".baton/bin");
    let line = format!(
        "export PATH='{}':\"$PATH\"; ( {script} ) > '{o}' 2>&1; echo \"exit $?\" >> '{o}'; echo done > '{d}'",
        bin.display(),
        o = out.join(format!("{tag}.out")).display(),
        d = out.join(format!("{tag}.done")).display(),
    );
    let status = std::process::Command::new("tmux")
        .args(["-L", &format!("{socket}@h1"), "new-window", "-d"])
        .args(["-e", "BATON_HOST=h1", "-e", "BATON_AGENT=far"])
        .arg(line)
        .status()
        .unwrap();
    assert!(status.success());
    let done = out.join(format!("{tag}.done"));
    wait_until(WAIT, &format!("`{tag}` on the host"), || done.exists());
    std::fs::read_to_string(out.join(format!("{tag}.out"))).unwrap()
}

#[test]
fn commands_reach_an_agent_on_a_host_and_its_reports_come_back() {
    let Some(sshd) = Sshd::start() else {
        return;
    };
    let p = TestProject::new();
    let _h1 = KillServer(format!("{}@h1", p.socket));
    let there = tempfile::tempdir().unwrap();
    let host_dir = there.path().join("work");
    let out = tempfile::tempdir().unwrap();
    // A host directory that cannot be made is a mistake to fix, not a host to wait for.
    let file = there.path().join("a-file");
    std::fs::write(&file, "").unwrap();
    p.write_config(
        &(p.fake_agent("far", "claude", "")
            + "host = \"h1\"\n\n"
            + &sshd.host_table("h1", &file.join("work"), "")),
    );
    let bad = p.exec(&["up", "--no-daemon"]);
    assert_eq!(bad.code, Some(1), "{}", bad.both());
    assert_has(&bad.stderr, &["host `h1`: cannot make"]);

    p.write_config(
        &(p.fake_agent("far", "claude", "")
            + "host = \"h1\"\n\n"
            + &sshd.host_table("h1", &host_dir, "")),
    );
    let up = p.ok(&["up"]);
    assert_has(&up, &["far", "on h1", "ready"]);
    // The task added below is not handed to far: it stays free for the messages.
    p.ok(&["pause"]);
    let ls = p.json(&["ls", "--json"]);
    let far = &ls["agents"][0];
    assert_eq!(
        (&far["running"], &far["host"]),
        (&true.into(), &"h1".into()),
        "{ls:#}"
    );
    assert!(far["pane"].as_str().unwrap().ends_with("@h1"), "{ls:#}");

    // peek and send go through ssh; attach says where to look.
    let peek = p.ok(&["peek", "far"]);
    assert_has(&peek, &["── far · %", "bypass permissions on"]);
    let sent = p.ok(&["send", "far", "hello from here"]);
    assert_has(&sent, &["far"]);
    wait_until(WAIT, "the prompt in the agent", || {
        std::fs::read_to_string(p.prompt_log("far")).is_ok_and(|t| t.contains("hello from here"))
    });
    let attach = p.exec(&["attach", "far"]);
    assert_eq!(attach.code, Some(1), "{}", attach.both());
    assert_has(
        &attach.stderr,
        &[
            "runs on host `h1`",
            &format!("tmux -L {}@h1 attach", p.socket),
        ],
    );

    // A command run on the host is carried out here, as the agent, and answered there.
    let added = on_host(
        &p.socket,
        &host_dir,
        out.path(),
        "add",
        "baton task add 'made on the host' --priority high",
    );
    assert_has(&added, &["T-001", "exit 0"]);
    let tasks = p.json(&["task", "list", "--json"]);
    assert_eq!(tasks[0]["title"], "made on the host", "{tasks:#}");
    let log = p.ok(&["log", "--json"]);
    assert!(
        log.contains("\"actor\":\"far\"") || log.contains("\"actor\": \"far\""),
        "{log}"
    );
    // A text on standard input (`-`) goes with the command.
    let piped = on_host(
        &p.socket,
        &host_dir,
        out.path(),
        "send",
        "echo 'piped from the host' | baton send far -",
    );
    assert_has(&piped, &["exit 0"]);
    wait_until(WAIT, "the piped prompt in the agent", || {
        std::fs::read_to_string(p.prompt_log("far"))
            .is_ok_and(|t| t.contains("piped from the host"))
    });
    // What an agent may not do from there is refused, with a reason.
    let up_there = on_host(&p.socket, &host_dir, out.path(), "up", "baton up");
    assert_has(
        &up_there,
        &[
            "`baton up` cannot be run by an agent on another host",
            "exit 2",
        ],
    );

    // Five statusLine payloads in a row: the newest is read, the older ones are not.
    let payloads: String = (1..=5)
        .map(|i| {
            format!(
                "echo '{{\"session_id\":\"s1\",\"cost\":{{\"total_cost_usd\":0.{i}}}}}' | baton hook statusline --agent far; "
            )
        })
        .collect();
    let status = on_host(&p.socket, &host_dir, out.path(), "status", &payloads);
    assert_has(&status, &["exit 0"]);
    let db = rusqlite::Connection::open(p.root().join(".baton/state.db")).unwrap();
    let costs = || -> Vec<f64> {
        let mut stmt = db
            .prepare("SELECT cost_usd FROM usage_readings WHERE agent = 'far' ORDER BY id")
            .unwrap();
        stmt.query_map([], |r| r.get::<_, Option<f64>>(0))
            .unwrap()
            .filter_map(|c| c.unwrap())
            .collect()
    };
    wait_until(WAIT, "the newest statusLine read", || {
        costs().last().is_some_and(|c| (c - 0.5).abs() < 1e-9)
    });
    let read = costs();
    assert!(read.len() < 5, "every payload was carried out: {read:?}");
    // No report is left on the host (each is deleted once carried out).
    wait_until(WAIT, "the host's reports all taken", || {
        let buffers = std::process::Command::new("tmux")
            .args(["-L", &format!("{}@h1", p.socket), "list-buffers", "-F"])
            .arg("#{buffer_name}")
            .output()
            .unwrap();
        !String::from_utf8_lossy(&buffers.stdout).contains("baton-report-")
    });

    // `baton down` stops the agents on the host too.
    let down = p.ok(&["down"]);
    assert_has(&down, &[&format!("stopped session `{}` on h1", p.session)]);
    let left = std::process::Command::new("tmux")
        .args(["-L", &format!("{}@h1", p.socket), "has-session"])
        .output()
        .unwrap();
    assert!(!left.status.success(), "the host's session is still there");
}
