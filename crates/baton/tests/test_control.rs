//! Agents started by `baton up` watched through one control-mode connection: a killed agent
//! process, a killed window and a killed server are each noticed within a second.

use std::time::Duration;
use std::time::Instant;

use baton_tmux::Socket;
use baton_tmux::Tmux;
use baton_tmux::control::ControlConnection;
use baton_tmux::control::ControlEvent;
use crossbeam_channel::Receiver;

use crate::common::TestProject;

/// Waits for an event matching `want`, up to `limit`; returns how long it took.
fn within(
    rx: &Receiver<ControlEvent>,
    limit: Duration,
    want: impl Fn(&ControlEvent) -> bool,
) -> Duration {
    let start = Instant::now();
    loop {
        let left = limit.saturating_sub(start.elapsed());
        match rx.recv_timeout(left) {
            Ok(ev) if want(&ev) => return start.elapsed(),
            Ok(_) => {}
            Err(_) => panic!("no matching control-mode event within {limit:?}"),
        }
    }
}

fn window_id(p: &TestProject, agent: &str) -> String {
    let out = p.tmux(&[
        "display-message",
        "-p",
        "-t",
        &p.pane(agent),
        "#{window_id} #{pane_pid}",
    ]);
    String::from_utf8_lossy(&out.stdout)
        .split_whitespace()
        .next()
        .unwrap()
        .to_owned()
}

fn pid(p: &TestProject, agent: &str) -> String {
    let out = p.tmux(&["display-message", "-p", "-t", &p.pane(agent), "#{pane_pid}"]);
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

#[test]
fn deaths_are_noticed_within_a_second() {
    let p = TestProject::with_fake_agents(&[
        ("a1", "claude", ""),
        ("a2", "codex", ""),
        ("a3", "amp", ""),
    ]);
    p.ok(&["up", "--no-daemon"]);
    let tmux = Tmux::new(Socket::Name(p.socket.clone())).with_config_file(Some("/dev/null".into()));
    let (_conn, rx) = ControlConnection::start(tmux, p.session.clone(), Vec::new());
    // The connection is up once a command answers.
    crate::common::wait_until(Duration::from_secs(5), "control connection", || {
        _conn.command("display-message -p ok").is_ok()
    });

    // The agent's process killed: its window closes at once.
    let w1 = window_id(&p, "a1");
    let status = std::process::Command::new("kill")
        .args(["-9", &pid(&p, "a1")])
        .status()
        .unwrap();
    assert!(status.success());
    let took = within(
        &rx,
        Duration::from_secs(1),
        |e| matches!(e, ControlEvent::WindowClose { window } if *window == w1),
    );
    eprintln!("agent killed: noticed after {took:?}");

    // The window killed.
    let w2 = window_id(&p, "a2");
    assert!(p.tmux(&["kill-window", "-t", &w2]).status.success());
    let took = within(
        &rx,
        Duration::from_secs(1),
        |e| matches!(e, ControlEvent::WindowClose { window } if *window == w2),
    );
    eprintln!("window killed: noticed after {took:?}");

    // The whole server killed.
    assert!(p.tmux(&["kill-server"]).status.success());
    let took = within(&rx, Duration::from_secs(1), |e| {
        matches!(e, ControlEvent::Exit { .. } | ControlEvent::Disconnected)
    });
    eprintln!("server killed: noticed after {took:?}");
}
