//! Sessions, windows, panes, capture and version against a private tmux server.

mod common;

use std::time::Duration;

use baton_tmux::{CaptureRange, TmuxError, WindowSpec};
use common::{
    TestServer, kill, session_running, wait_for, wait_for_command, wait_for_text, window_running,
};

#[test]
fn sessions_and_windows_get_cwd_env_and_names() {
    let server = TestServer::new();
    let tmux = &server.tmux;
    let dir1 = tempfile::tempdir().unwrap();
    let dir2 = tempfile::tempdir().unwrap();
    // A window that prints its $FOO and its directory.
    let spec = |name: &str, dir: &tempfile::TempDir, foo: &str| {
        WindowSpec::new(name)
            .cwd(dir.path())
            .env("FOO", foo)
            .command("sh -c 'echo $FOO; pwd; exec sleep 100'")
    };
    let first = tmux
        .new_session("main", &spec("first", &dir1, "bar-1"))
        .unwrap();
    assert_eq!(first.session, "main");
    assert_eq!(first.window_name, "first");
    assert_eq!((first.width, first.height), (200, 50));
    assert!(
        first.pane_id.starts_with('%') && first.window_id.starts_with('@'),
        "{first:?}"
    );
    let second = tmux
        .new_window(
            "main",
            &spec("second agent", &dir2, "it's \"quoted\" $HOME"),
        )
        .unwrap();
    assert_eq!(second.window_name, "second agent");
    assert!(second.window_index > first.window_index);

    let text = wait_for_text(tmux, &first.pane_id, "bar-1");
    wait_for_text(tmux, &first.pane_id, &dir1.path().display().to_string());
    assert!(!text.contains("it's"));
    wait_for_text(tmux, &second.pane_id, "it's \"quoted\" $HOME");
    wait_for_text(tmux, &second.pane_id, &dir2.path().display().to_string());

    wait_for_command(tmux, &first.pane_id, "sleep");
    wait_for_command(tmux, &second.pane_id, "sleep");
    let panes = tmux.list_panes("main").unwrap();
    assert_eq!(panes.len(), 2);
    assert_eq!(panes[0].pane_id, first.pane_id);
    assert_eq!(panes[1].pane_id, second.pane_id);
    // Names survive the command changing (automatic-rename off).
    assert_eq!(panes[0].window_name, "first");
    assert_eq!(panes[1].window_name, "second agent");
    for pane in &panes {
        assert_eq!(pane.current_command, "sleep");
        assert!(pane.pid > 0);
        assert!(!pane.dead);
        assert_eq!(pane.session, "main");
    }
    assert_eq!(panes[0].cwd, dir1.path().canonicalize().unwrap());
    assert_eq!(tmux.pane(&second.pane_id).unwrap(), panes[1]);

    assert!(tmux.has_session("main").unwrap());
    // Exact names only: no prefix matching.
    assert!(!tmux.has_session("mai").unwrap());
    assert!(tmux.list_panes("mai").is_err());
    assert!(tmux.new_window("mai", &WindowSpec::new("x")).is_err());
    assert!(tmux.kill_session("mai").is_err());
}

#[test]
fn has_session_without_server_is_false() {
    let server = TestServer::new();
    assert!(!server.tmux.server_running());
    assert!(!server.tmux.has_session("main").unwrap());
    assert!(
        !server.tmux.server_running(),
        "has_session must not start a server"
    );
    server.tmux.kill_server().unwrap();
}

#[test]
fn capture_visible_and_scrollback() {
    let server = TestServer::new();
    let tmux = &server.tmux;
    let pane = tmux
        .new_session(
            "main",
            &WindowSpec::new("log")
                .size(80, 20)
                .command("sh -c 'i=1; while [ $i -le 300 ]; do echo line-$i; i=$((i+1)); done; exec sleep 100'"),
        )
        .unwrap();
    wait_for_command(tmux, &pane.pane_id, "sleep");
    let visible = wait_for_text(tmux, &pane.pane_id, "line-300");
    let lines: Vec<&str> = visible.lines().collect();
    assert_eq!(lines.len(), 20, "{visible:?}");
    assert!(!lines.contains(&"line-1"));

    let all = tmux
        .capture(&pane.pane_id, CaptureRange::with_scrollback(1000))
        .unwrap();
    let all_lines: Vec<&str> = all.lines().collect();
    assert_eq!(all_lines.first(), Some(&"line-1"));
    assert!(all_lines.contains(&"line-150") && all_lines.contains(&"line-300"));

    let history = tmux
        .capture(
            &pane.pane_id,
            CaptureRange {
                start: Some(-1000),
                end: Some(-1),
            },
        )
        .unwrap();
    assert!(history.lines().any(|l| l == "line-1"));
    assert!(!history.lines().any(|l| l == "line-300"), "{history:?}");
}

#[test]
fn kill_window_session_and_server() {
    let server = TestServer::new();
    let tmux = &server.tmux;
    tmux.new_session("one", &WindowSpec::new("a").command("exec sleep 100"))
        .unwrap();
    let b = tmux
        .new_window("one", &WindowSpec::new("b").command("exec sleep 100"))
        .unwrap();
    tmux.new_session("two", &WindowSpec::new("c").command("exec sleep 100"))
        .unwrap();
    assert_eq!(tmux.list_panes("one").unwrap().len(), 2);

    tmux.kill_window(&b.window_id).unwrap();
    let panes = tmux.list_panes("one").unwrap();
    assert_eq!(panes.len(), 1);
    assert_eq!(panes[0].window_name, "a");

    tmux.kill_session("one").unwrap();
    assert!(!tmux.has_session("one").unwrap());
    assert!(tmux.has_session("two").unwrap());

    assert!(tmux.server_running());
    let socket = tmux.socket_path().unwrap();
    assert!(socket.exists(), "{}", socket.display());
    tmux.kill_server().unwrap();
    assert!(!tmux.server_running());
    tmux.kill_server().unwrap();
}

#[test]
fn respawn_pane_restarts_the_process() {
    let server = TestServer::new();
    let tmux = &server.tmux;
    let pane = session_running(tmux, "w", "exec sleep 100", "sleep");
    tmux.respawn_pane(
        &pane.pane_id,
        &WindowSpec::new("ignored")
            .env("X", "respawned-ok")
            .command("sh -c 'echo $X; exec cat'"),
    )
    .unwrap();
    wait_for_text(tmux, &pane.pane_id, "respawned-ok");
    wait_for_command(tmux, &pane.pane_id, "cat");
    assert_eq!(tmux.pane(&pane.pane_id).unwrap().window_name, "w");
}

#[test]
fn window_whose_command_exits_at_once_is_not_an_error() {
    let (server, _first) = TestServer::with_session();
    let info = server
        .tmux
        .new_window("main", &WindowSpec::new("gone").command("true"))
        .unwrap();
    assert_eq!(info.window_name, "gone");
    let closed = wait_for(Duration::from_secs(5), || {
        server
            .tmux
            .list_panes("main")
            .ok()
            .filter(|p| p.len() == 1)
            .map(|_| ())
    });
    assert!(closed.is_some());
}

#[test]
fn command_errors_carry_args_and_stderr() {
    let (server, _first) = TestServer::with_session();
    let err = server.tmux.run(&["kill-window", "-t", "%999"]).unwrap_err();
    match &err {
        TmuxError::Command {
            args,
            status,
            stderr,
        } => {
            assert_eq!(args[0], "kill-window");
            assert_eq!(*status, Some(1));
            assert!(stderr.contains("%999"), "{stderr}");
        }
        other => panic!("unexpected {other:?}"),
    }
    let message = err.to_string();
    assert!(
        message.contains("tmux kill-window -t %999") && message.contains("can't find"),
        "{message}"
    );
    // display-message alone would succeed (or pick another pane) for these.
    for bad in ["%999", "main:7", "main:0.5", "nosuch", "@99"] {
        assert!(server.tmux.pane(bad).is_err(), "{bad}");
        assert!(server.tmux.paste(bad, "x").is_err(), "{bad}");
    }
}

#[test]
fn version_is_parsed() {
    let server = TestServer::new();
    let version = server.tmux.version().unwrap();
    assert!(version.at_least(3, 0), "{version:?}");
    assert!(!version.raw.is_empty());
    let missing = server
        .tmux
        .clone()
        .with_binary("/nonexistent/tmux")
        .version();
    assert!(matches!(missing, Err(TmuxError::Spawn { .. })));
}

#[test]
fn new_windows_close_when_their_process_exits_even_if_the_config_says_otherwise() {
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("tmux.conf");
    std::fs::write(&config, "set -g remain-on-exit on\nset -g base-index 5\n").unwrap();
    let server = TestServer::new();
    let tmux = server.tmux.clone().with_config_file(Some(config));
    let first = tmux
        .new_session("main", &WindowSpec::new("keeper").command("exec sleep 600"))
        .unwrap();
    assert_eq!(first.window_index, 5, "the config file was not read");
    let pane = window_running(&tmux, "short", "exec sleep 100", "sleep");
    kill(pane.pid);
    let closed = wait_for(Duration::from_secs(5), || {
        tmux.list_panes("main")
            .ok()
            .filter(|p| p.len() == 1)
            .map(|_| ())
    });
    assert!(closed.is_some(), "{:?}", tmux.list_panes("main"));
}

/// A tmux that never answers (a hung server) is stopped after the timeout, with an error
/// naming the command; the caller is not hung.
#[test]
fn a_hung_tmux_command_times_out() {
    let dir = tempfile::tempdir().unwrap();
    let fake = dir.path().join("tmux");
    std::fs::write(&fake, "#!/bin/sh\nexec sleep 30\n").unwrap();
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(&fake, std::fs::Permissions::from_mode(0o755)).unwrap();
    let tmux = baton_tmux::Tmux::new(baton_tmux::Socket::Name("baton-tmux-test-hung".into()))
        .with_binary(&fake)
        .with_timeout(Duration::from_millis(300));
    let started = std::time::Instant::now();
    let err = tmux.run(&["list-sessions"]).unwrap_err();
    assert!(matches!(err, TmuxError::Timeout { .. }), "{err}");
    assert!(err.to_string().contains("list-sessions"), "{err}");
    // Killed at the deadline, not after the 30 s sleep.
    assert!(started.elapsed() < Duration::from_secs(10));
}
