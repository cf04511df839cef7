//! A tmux server reached through a launcher (here `sh -c`, standing in for ssh on this same
//! machine): every `Tmux` operation as a process through it, then commands carried by one
//! control connection instead of a process each.

mod common;

use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use baton_tmux::control::{ControlConnection, ControlEvent};
use baton_tmux::{CaptureRange, Key, Launcher, TmuxError, WindowSpec};
use common::{
    TestServer, big_text, cr_to_lf, kill, read_when_len, recorder, recv_until, wait_for,
    wait_for_text,
};

/// Texts whose every byte tmux's command parser or a shell would like to interpret.
const NASTY: &[&str] = &[
    "~root ~ $HOME ${HOME} $(echo no) `echo no` \\ \\\\ \\n \\101 \" ' '\\'' #{pane_id} #x ; ;; {a} } %if %1",
    "Réécris « ça » — 🎉 漢字 مرحبا\ttab\nsecond line\n\n  fourth; echo pwned\n",
    "-starts-with-a-dash",
];

/// A launcher running its command line with `sh -c`, counting its runs in `count`; tmux
/// replaces the shells (`exec`), so killing the launcher's process kills the tmux client, as
/// killing ssh cuts the connection.
fn counting_sh(count: &Path) -> Launcher {
    let script = format!(
        "echo >> '{}'; exec sh -c \"exec $0\"",
        count.display().to_string().replace('\'', r"'\''")
    );
    Launcher::new("sh", vec!["-c".into(), script])
}

fn runs(count: &Path) -> usize {
    std::fs::read_to_string(count).map_or(0, |s| s.lines().count())
}

#[test]
fn every_operation_works_through_a_launcher() {
    let server = TestServer::new();
    let dir = tempfile::tempdir().unwrap();
    let count = dir.path().join("count");
    let tmux = server.tmux.clone().with_launcher(counting_sh(&count));
    assert!(!tmux.has_session("main").unwrap());
    assert!(
        tmux.socket_path().is_none(),
        "the socket is the other host's"
    );
    assert!(tmux.version().is_ok());

    let (pane, out) = recorder(&tmux, dir.path(), false);
    assert!(tmux.has_session("main").unwrap());
    assert!(!tmux.has_session("mai").unwrap());
    let other = tmux
        .new_window(
            "main",
            &WindowSpec::new("it's w")
                .env("FOO", "a 'b' $c")
                .command("printf '%s|' \"$FOO\"; exec sleep 100"),
        )
        .unwrap();
    assert_eq!(other.window_name, "it's w");
    wait_for_text(&tmux, &other.pane_id, "a 'b' $c|");
    let panes = tmux.list_panes("main").unwrap();
    assert_eq!(panes.len(), 2, "{panes:?}");
    assert_eq!(
        tmux.pane(&other.pane_id).unwrap().window_id,
        other.window_id
    );

    let mut expected = String::new();
    for text in NASTY {
        tmux.paste(&pane.pane_id, text).unwrap();
        expected.push_str(text);
    }
    tmux.send_key(&pane.pane_id, Key::Named("x".into()))
        .unwrap();
    expected.push('x');
    let got = cr_to_lf(&read_when_len(&out, expected.len()));
    assert_eq!(String::from_utf8_lossy(&got), expected);
    assert!(
        tmux.capture(&other.pane_id, CaptureRange::visible())
            .unwrap()
            .contains("a 'b' $c|")
    );

    tmux.kill_window(&other.window_id).unwrap();
    assert_eq!(tmux.list_panes("main").unwrap().len(), 1);
    let err = tmux.run(&["kill-window", "-t", "%999"]).unwrap_err();
    assert!(
        matches!(&err, TmuxError::Command { status: Some(1), stderr, .. } if stderr.contains("%999")),
        "{err:?}"
    );
    tmux.kill_session("main").unwrap();
    assert!(!tmux.has_session("main").unwrap());
    assert!(
        runs(&count) > 10,
        "each command was a process of the launcher"
    );
}

#[test]
fn commands_ride_one_control_connection() {
    let server = TestServer::new();
    let dir = tempfile::tempdir().unwrap();
    let count = dir.path().join("count");
    let direct = server.tmux.clone().with_launcher(counting_sh(&count));
    let (pane, out) = recorder(&direct, dir.path(), false);
    let (conn, events) = ControlConnection::start(direct.clone(), "main".into(), Vec::new());
    let conn = Arc::new(conn);
    let tmux = direct.clone().with_control(Arc::clone(&conn));
    let wait = Duration::from_secs(5);
    assert!(wait_for(wait, || conn.is_connected().then_some(())).is_some());
    let before = runs(&count);

    let mut expected = String::new();
    for text in NASTY.iter().map(|t| t.to_string()).chain([big_text()]) {
        tmux.paste(&pane.pane_id, &text).unwrap();
        expected.push_str(&text);
    }
    for _ in 0..20 {
        assert_eq!(tmux.pane(&pane.pane_id).unwrap().current_command, "cat");
        assert_eq!(tmux.list_panes("main").unwrap().len(), 1);
        tmux.capture(&pane.pane_id, CaptureRange::visible())
            .unwrap();
    }
    assert!(tmux.has_session("main").unwrap());
    assert!(!tmux.has_session("nosuch").unwrap());
    let err = tmux.pane("%999").unwrap_err();
    assert!(
        matches!(
            &err,
            TmuxError::Command {
                status: Some(1),
                ..
            }
        ),
        "{err:?}"
    );
    let printer = tmux
        .new_window(
            "main",
            &WindowSpec::new("p").command("printf 'one\\ntwo|'; exec sleep 100"),
        )
        .unwrap();
    wait_for_text(&tmux, &printer.pane_id, "two|");
    tmux.send_key(&pane.pane_id, Key::Enter).unwrap();
    expected.push('\n');
    let got = cr_to_lf(&read_when_len(&out, expected.len()));
    assert!(
        got == expected.as_bytes(),
        "the pasted bytes differ ({} bytes, want {})",
        got.len(),
        expected.len()
    );
    assert_eq!(
        runs(&count),
        before,
        "no process was started for commands the connection carries"
    );
    // The pane's output arrives as events on the same connection.
    let mut seen = Vec::new();
    let found = recv_until(&events, wait, |e| {
        if let ControlEvent::Output { pane: p, data } = e
            && *p == printer.pane_id
        {
            seen.extend_from_slice(data);
        }
        seen.windows(4).any(|w| w == b"two|")
    });
    assert!(found.is_some(), "{:?}", String::from_utf8_lossy(&seen));

    // The client dies: its commands go as processes until it is back, then over it again.
    kill(conn.client_pid().unwrap());
    assert!(recv_until(&events, wait, |e| *e == ControlEvent::Reconnected).is_some());
    let before = runs(&count);
    for _ in 0..10 {
        tmux.capture(&printer.pane_id, CaptureRange::visible())
            .unwrap();
    }
    assert_eq!(runs(&count), before);
    // kill-session never rides the connection it may end.
    // (The connection then tries to attach again: more processes may follow.)
    tmux.kill_session("main").unwrap();
    assert!(runs(&count) > before);
}
