//! Control mode against a private tmux server: output, replies, window events,
//! subscriptions, and the supervised connection.

mod common;

use std::sync::Arc;
use std::time::{Duration, Instant};

use baton_tmux::control::{
    ControlClient, ControlConnection, ControlEvent, Subscription, quote_arg,
};
use baton_tmux::{PaneInfo, Tmux, TmuxError, WindowSpec};
use common::{
    TestServer, kill, mortal_window, recv_until, wait_for, wait_for_command, window_running,
};

const SECOND: Duration = Duration::from_secs(1);

#[test]
fn output_is_decoded_to_exact_bytes() {
    let (server, _first) = TestServer::with_session();
    let (client, events) = ControlClient::connect(&server.tmux, "main").unwrap();
    let pane = server
        .tmux
        .new_window(
            "main",
            &WindowSpec::new("printer").command(r"printf 'A\001B\\C\351D|'; exec sleep 100"),
        )
        .unwrap();
    let mut data = Vec::new();
    let want: &[u8] = b"A\x01B\\C\xe9D|";
    let found = recv_until(&events, Duration::from_secs(5), |event| {
        if let ControlEvent::Output { pane: p, data: d } = event
            && p == &pane.pane_id
        {
            data.extend_from_slice(d);
        }
        data.windows(want.len()).any(|w| w == want)
    });
    assert!(found.is_some(), "got {:?}", String::from_utf8_lossy(&data));
    assert!(client.is_alive());
}

#[test]
fn replies_match_commands_across_threads() {
    let (server, _first) = TestServer::with_session();
    let (client, _events) = ControlClient::connect(&server.tmux, "main").unwrap();
    let client = Arc::new(client);
    let threads: Vec<_> = (0..4)
        .map(|t| {
            let client = Arc::clone(&client);
            std::thread::spawn(move || {
                for i in 0..25 {
                    let tag = format!("tag-{t}-{i} #{{session_name}}");
                    let reply = client
                        .command(&format!("display-message -p {}", quote_arg(&tag)))
                        .unwrap();
                    assert_eq!(reply, vec![format!("tag-{t}-{i} main")]);
                }
            })
        })
        .collect();
    for thread in threads {
        thread.join().unwrap();
    }
    // Several blocks on one line, and none at all, keep later replies in step.
    assert_eq!(
        client
            .command("display-message -p a ; display-message -p b")
            .unwrap(),
        vec!["a", "b"]
    );
    assert_eq!(
        client.command("# only a comment").unwrap(),
        Vec::<String>::new()
    );
    assert_eq!(
        client.command("display-message -p 'it'\\''s'").unwrap(),
        vec!["it's"]
    );
    assert!(matches!(
        client.command(""),
        Err(TmuxError::InvalidCommand { .. })
    ));
    assert!(matches!(
        client.command("a\nb"),
        Err(TmuxError::InvalidCommand { .. })
    ));
    assert!(client.is_alive());
}

#[test]
fn errors_are_reported_and_do_not_desync() {
    let (server, _first) = TestServer::with_session();
    let (client, _events) = ControlClient::connect(&server.tmux, "main").unwrap();
    match client.command("no-such-command -x") {
        Err(TmuxError::Control { command, lines }) => {
            assert_eq!(command, "no-such-command -x");
            assert!(
                lines.iter().any(|l| l.contains("unknown command")),
                "{lines:?}"
            );
        }
        other => panic!("unexpected {other:?}"),
    }
    let err = client.command("kill-window -t @999").unwrap_err();
    assert!(err.to_string().contains("@999"), "{err}");
    assert_eq!(client.command("display-message -p ok").unwrap(), vec!["ok"]);
}

#[test]
fn connect_to_missing_session_fails_without_starting_a_server() {
    let server = TestServer::new();
    let err = ControlClient::connect(&server.tmux, "main").unwrap_err();
    assert!(matches!(err, TmuxError::NoSession { .. }), "{err:?}");
    assert!(!server.tmux.server_running());
}

/// Opens a window `name` running `sleep` under a control client's watch, ends it with `end`,
/// and checks that its `WindowClose` comes within a second of that.
fn window_close_is_seen_within_a_second(name: &str, end: impl FnOnce(&Tmux, &PaneInfo)) {
    let (server, _first) = TestServer::with_session();
    let (_client, events) = ControlClient::connect(&server.tmux, "main").unwrap();
    let pane = window_running(&server.tmux, name, "exec sleep 100", "sleep");
    let start = Instant::now();
    end(&server.tmux, &pane);
    let closed = recv_until(
        &events,
        SECOND,
        |e| matches!(e, ControlEvent::WindowClose { window } if window == &pane.window_id),
    );
    assert!(
        closed.is_some(),
        "no WindowClose for {} within 1 s",
        pane.window_id
    );
    assert!(start.elapsed() < SECOND);
}

#[test]
fn killed_pane_process_closes_its_window_within_a_second() {
    window_close_is_seen_within_a_second("victim", |_, pane| kill(pane.pid));
}

#[test]
fn kill_window_is_seen_within_a_second() {
    window_close_is_seen_within_a_second("doomed", |tmux, pane| {
        tmux.kill_window(&pane.window_id).unwrap()
    });
}

#[test]
fn kill_server_is_seen_within_a_second() {
    let (server, _first) = TestServer::with_session();
    let (client, events) = ControlClient::connect(&server.tmux, "main").unwrap();
    let start = Instant::now();
    server.tmux.kill_server().unwrap();
    let gone = recv_until(&events, SECOND, |e| {
        matches!(e, ControlEvent::Exit { .. } | ControlEvent::Disconnected)
    });
    assert!(gone.is_some());
    assert!(start.elapsed() < SECOND);
    let disconnected = recv_until(&events, SECOND, |e| matches!(e, ControlEvent::Disconnected));
    assert!(disconnected.is_some() || matches!(gone, Some(ControlEvent::Disconnected)));
    assert!(wait_for(SECOND, || (!client.is_alive()).then_some(())).is_some());
    assert!(matches!(
        client.command("display-message -p x"),
        Err(TmuxError::Disconnected { .. })
    ));
}

#[test]
fn pane_dead_subscription_fires() {
    let (server, _first) = TestServer::with_session();
    let (client, events) = ControlClient::connect(&server.tmux, "main").unwrap();
    let pane = mortal_window(&server.tmux, "mortal");
    client.subscribe("dead", "%*", "#{pane_dead}").unwrap();
    wait_for_command(&server.tmux, &pane.pane_id, "sleep");
    kill(pane.pid);
    let fired = recv_until(&events, Duration::from_secs(3), |e| {
        matches!(e, ControlEvent::SubscriptionChanged { name, pane: p, value, .. }
            if name == "dead" && p == &pane.pane_id && value == "1")
    });
    assert!(fired.is_some(), "no pane_dead=1 for {}", pane.pane_id);
    assert!(server.tmux.pane(&pane.pane_id).unwrap().dead);
}

fn is_subscription(event: &ControlEvent, pane: &str) -> bool {
    matches!(event, ControlEvent::SubscriptionChanged { name, pane: p, .. } if name == "dead" && p == pane)
}

#[test]
fn connection_reconnects_after_client_and_server_deaths() {
    let (server, first) = TestServer::with_session();
    let subs = vec![Subscription::new("dead", "%*", "#{pane_dead}")];
    let (conn, events) = ControlConnection::start(server.tmux.clone(), "main".to_owned(), subs);
    let wait = Duration::from_secs(5);
    // `start` attaches at once, or keeps trying in the background when that first attempt
    // fails (it did on a loaded machine): connected within the deadline either way.
    assert!(wait_for(wait, || conn.is_connected().then_some(())).is_some());
    // The subscription's first value comes once attached; events before it (a first failed
    // attempt's Disconnected and Reconnected) are consumed with it.
    assert!(recv_until(&events, wait, |e| is_subscription(e, &first.pane_id)).is_some());
    assert_eq!(conn.command("display-message -p hi").unwrap(), vec!["hi"]);

    // The control client process dies.
    let old_pid = conn.client_pid().unwrap();
    kill(old_pid);
    assert!(recv_until(&events, wait, |e| *e == ControlEvent::Disconnected).is_some());
    assert!(recv_until(&events, wait, |e| *e == ControlEvent::Reconnected).is_some());
    assert!(recv_until(&events, wait, |e| is_subscription(e, &first.pane_id)).is_some());
    assert_ne!(conn.client_pid(), Some(old_pid));
    assert_eq!(
        conn.command("display-message -p again").unwrap(),
        vec!["again"]
    );

    // The server dies and comes back with the same session name.
    server.tmux.kill_server().unwrap();
    assert!(recv_until(&events, wait, |e| *e == ControlEvent::Disconnected).is_some());
    assert!(matches!(
        conn.command("display-message -p x"),
        Err(TmuxError::Disconnected { .. })
    ));
    let reborn = server
        .tmux
        .new_session("main", &WindowSpec::new("keeper").command("exec sleep 600"))
        .unwrap();
    assert!(recv_until(&events, wait, |e| *e == ControlEvent::Reconnected).is_some());
    assert!(recv_until(&events, wait, |e| is_subscription(e, &reborn.pane_id)).is_some());
    assert_eq!(
        conn.command("display-message -p back").unwrap(),
        vec!["back"]
    );
    drop(conn);
}

#[test]
fn connection_started_before_the_session_exists() {
    let server = TestServer::new();
    let (conn, events) =
        ControlConnection::start(server.tmux.clone(), "late".to_owned(), Vec::new());
    assert_eq!(events.recv_timeout(SECOND), Ok(ControlEvent::Disconnected));
    assert!(!conn.is_connected());
    server
        .tmux
        .new_session("late", &WindowSpec::new("w").command("exec sleep 600"))
        .unwrap();
    assert!(
        recv_until(&events, Duration::from_secs(5), |e| *e
            == ControlEvent::Reconnected)
        .is_some()
    );
    assert_eq!(
        conn.command("display-message -p '#{session_name}'")
            .unwrap(),
        vec!["late"]
    );
}
