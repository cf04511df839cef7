//! A tmux server on another host, reached through a real ssh (a private sshd on 127.0.0.1):
//! every command as an ssh process, then commands and events over one control connection,
//! which reconnects when its ssh process is killed. Not wired into `baton up` yet: these
//! tests drive `baton_tmux` directly, with the arguments `baton_core::ssh::ssh_args` builds.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;
use std::time::Instant;

use baton_core::config::HostConfig;
use baton_core::config::SshTarget;
use baton_core::ssh::remote_socket;
use baton_core::ssh::ssh_args;
use baton_tmux::CaptureRange;
use baton_tmux::Key;
use baton_tmux::Launcher;
use baton_tmux::Socket;
use baton_tmux::Tmux;
use baton_tmux::WindowSpec;
use baton_tmux::control::ControlConnection;
use baton_tmux::control::ControlEvent;
use baton_tmux::control::Subscription;
use crossbeam_channel::Receiver;

use crate::common::KillServer;
use crate::common::baton_bin;
use crate::common::prompts;
use crate::common::sshd::Sshd;
use crate::common::wait_until;

const WAIT: Duration = Duration::from_secs(10);

/// Texts whose bytes a shell or tmux's command parser would like to interpret.
fn nasty_texts() -> Vec<String> {
    let mut big = String::from("BIG\n");
    let mut i = 0;
    while big.len() < 40 * 1024 {
        big.push_str(&format!(
            "{i:05} l'été « ça » 🎉 `x` $(y) \"z\" \\ ~ #{{h}} ;\tfin\n"
        ));
        i += 1;
    }
    vec![
        "Don't run $(rm -rf ~) or `whoami` ; echo pwned && exit | cat > /tmp/x".to_owned(),
        "~root ~ $HOME ${HOME} \\ \\\\ \\n \\101 \" ' '\\'' #{pane_id} #x ;; {a} } %if %1"
            .to_owned(),
        "Réécris l'énoncé : « guillemets » — 漢字 مرحبا\ttab\nsecond line\n\n  fourth".to_owned(),
        big,
    ]
}

/// The host: the private sshd, its tmux socket, the ssh launcher counting its runs.
struct Remote {
    /// The test's files: the ssh count, the fake agent's script and logs.
    dir: tempfile::TempDir,
    /// Every command as an ssh process.
    direct: Tmux,
    /// Kills the remote server (through ssh, then on this machine) before sshd goes.
    _guard: ServerGuard,
    sshd: Sshd,
}

/// Kills the remote tmux server when dropped: through ssh while sshd still runs, and by its
/// socket name here (the "remote" is this machine); then removes the socket file tmux leaves.
struct ServerGuard {
    tmux: Tmux,
    local: KillServer,
}

impl Drop for ServerGuard {
    fn drop(&mut self) {
        let _ = self.tmux.kill_server();
        let local = Tmux::new(Socket::Name(std::mem::take(&mut self.local.0)));
        let _ = local.kill_server();
        if let Some(path) = local.socket_path()
            && !local.server_running()
        {
            let _ = std::fs::remove_file(path);
        }
    }
}

impl Remote {
    fn start(name: &str) -> Option<Remote> {
        let sshd = Sshd::start()?;
        let dir = tempfile::Builder::new()
            .prefix("baton-rtmux-")
            .tempdir()
            .unwrap();
        let host = HostConfig {
            name: "loop".into(),
            ssh: SshTarget::parse(&format!("{}@127.0.0.1:{}", sshd.user, sshd.port)).unwrap(),
            identity: Some(sshd.client_key.clone()),
            ssh_options: [
                "-F",
                "/dev/null",
                "-o",
                &format!("UserKnownHostsFile={}", sshd.known_hosts.display()),
                "-o",
                "GlobalKnownHostsFile=/dev/null",
                "-o",
                "IdentitiesOnly=yes",
            ]
            .map(String::from)
            .to_vec(),
            dir: dir.path().to_owned(),
            baton: None,
            down_after_secs: 30,
        };
        let identity = sshd.client_key.display().to_string();
        let args = ssh_args::<&str>(&host, Some(&identity), &[]);
        // `sh -c 'count; exec ssh "$@"'`: the pid is ssh's, and each run leaves a line.
        let count = dir.path().join("ssh.count");
        let mut launcher_args = vec![
            "-c".to_owned(),
            format!("echo >> '{}'; exec ssh \"$@\"", count.display()),
            "counted-ssh".to_owned(),
        ];
        launcher_args.extend(args);
        let socket = remote_socket(
            &format!("baton-rtmux-{}-{name}", std::process::id()),
            &host.name,
        );
        let direct = Tmux::new(Socket::Name(socket.clone()))
            .with_config_file(Some("/dev/null".into()))
            .with_launcher(Launcher::new("sh", launcher_args));
        Some(Remote {
            dir,
            _guard: ServerGuard {
                tmux: direct.clone(),
                local: KillServer(socket),
            },
            direct,
            sshd,
        })
    }

    /// How many ssh processes were started so far.
    fn ssh_runs(&self) -> usize {
        std::fs::read_to_string(self.dir.path().join("ssh.count")).map_or(0, |s| s.lines().count())
    }

    /// A window spec running the fake agent (Claude's screens), logging its prompts.
    fn fake_agent(&self) -> WindowSpec {
        let script = self.dir.path().join("agent.fake.toml");
        std::fs::write(
            &script,
            format!(
                "persona = \"claude\"\nlog = \"{}\"\nevents = \"{}\"\nstart_delay_ms = 100\n\
                 default_work_ms = 20\nreport = false\n",
                self.prompt_log().display(),
                self.events_log().display()
            ),
        )
        .unwrap();
        WindowSpec::new("agent")
            .cwd(self.dir.path())
            .size(120, 40)
            .command(format!(
                "exec {} fake-agent --script {}",
                baton_bin().display(),
                script.display()
            ))
    }

    fn prompt_log(&self) -> PathBuf {
        self.dir.path().join("agent.prompts.log")
    }

    fn events_log(&self) -> PathBuf {
        self.dir.path().join("agent.events.log")
    }
}

/// Waits until the pane shows the fake agent's idle prompt box.
fn wait_idle(tmux: &Tmux, pane: &str) {
    wait_until(WAIT, "the fake agent's prompt box", || {
        tmux.capture(pane, CaptureRange::visible())
            .is_ok_and(|t| t.contains("bypass permissions on"))
    });
}

/// Pastes each text and presses Enter, waiting for the agent's work on it to end; then
/// checks the agent logged exactly these prompts after the `before` it had.
fn deliver(tmux: &Tmux, pane: &str, remote: &Remote, texts: &[String], before: usize) {
    for (i, text) in texts.iter().enumerate() {
        tmux.paste(pane, text).unwrap();
        tmux.send_key(pane, Key::Enter).unwrap();
        let seq = before + i + 1;
        wait_until(WAIT, &format!("prompt {seq} worked on"), || {
            std::fs::read_to_string(remote.events_log())
                .is_ok_and(|t| t.lines().any(|l| l.ends_with(&format!("work-done {seq}"))))
        });
    }
    let got = prompts(&remote.prompt_log());
    assert_eq!(got.len(), before + texts.len(), "each prompt once");
    for (g, want) in got[before..].iter().zip(texts) {
        assert!(
            g == want.as_bytes(),
            "a prompt differs:\n got: {:?}\nwant: {:?}",
            String::from_utf8_lossy(&g[..g.len().min(300)]),
            &want[..want.len().min(300)]
        );
    }
}

/// Waits for an event matching `want`.
fn expect_event(events: &Receiver<ControlEvent>, what: &str, want: impl Fn(&ControlEvent) -> bool) {
    let deadline = Instant::now() + WAIT;
    loop {
        let left = deadline.saturating_duration_since(Instant::now());
        match events.recv_timeout(left) {
            Ok(e) if want(&e) => return,
            Ok(_) => {}
            Err(_) => panic!("no {what} within {WAIT:?}"),
        }
    }
}

/// Every `Tmux` operation works as one ssh process each: sessions, a window with a command,
/// list-panes, capture, a paste (load-buffer from ssh's stdin) read back byte-exact, keys,
/// kill.
#[test]
fn every_tmux_command_runs_through_ssh() {
    let Some(remote) = Remote::start("direct") else {
        return;
    };
    let tmux = &remote.direct;
    assert_eq!(tmux.version().unwrap().major, 3, "{}", remote.sshd.log());
    assert!(!tmux.has_session("s").unwrap());
    tmux.new_session("s", &WindowSpec::new("baton").command("exec sleep 600"))
        .unwrap_or_else(|e| panic!("{e}\n{}", remote.sshd.log()));
    assert!(tmux.has_session("s").unwrap());
    let pane = tmux.new_window("s", &remote.fake_agent()).unwrap();
    assert_eq!(tmux.list_panes("s").unwrap().len(), 2);
    wait_idle(tmux, &pane.pane_id);
    let before = remote.ssh_runs();
    let texts = &nasty_texts()[..2];
    deliver(tmux, &pane.pane_id, &remote, texts, 0);
    assert!(
        remote.ssh_runs() >= before + 2 * texts.len(),
        "a process for each paste and key"
    );
    assert!(
        tmux.capture(&pane.pane_id, CaptureRange::visible())
            .unwrap()
            .contains("Done.")
    );
    tmux.kill_window(&pane.window_id).unwrap();
    assert_eq!(tmux.list_panes("s").unwrap().len(), 1);
    tmux.kill_session("s").unwrap();
    assert!(!tmux.has_session("s").unwrap());
}

/// One control connection over one ssh process carries the commands (no ssh per command),
/// delivers `%output`, and when its ssh is killed it reconnects, re-applies its subscription
/// and carries commands again.
#[test]
fn one_ssh_connection_carries_commands_and_reconnects() {
    let Some(remote) = Remote::start("control") else {
        return;
    };
    let direct = &remote.direct;
    direct
        .new_session("s", &WindowSpec::new("baton").command("exec sleep 600"))
        .unwrap_or_else(|e| panic!("{e}\n{}", remote.sshd.log()));
    let subs = vec![Subscription::new("cmd", "%*", "#{pane_current_command}")];
    let (conn, events) = ControlConnection::start(direct.clone(), "s".into(), subs);
    let conn = Arc::new(conn);
    let tmux = direct.clone().with_control(Arc::clone(&conn));
    wait_until(WAIT, "the control connection", || conn.is_connected());
    expect_event(
        &events,
        "the subscription's first value",
        |e| matches!(e, ControlEvent::SubscriptionChanged { name, .. } if name == "cmd"),
    );

    let before = remote.ssh_runs();
    let pane = tmux.new_window("s", &remote.fake_agent()).unwrap();
    wait_idle(&tmux, &pane.pane_id);
    let texts = nasty_texts();
    deliver(&tmux, &pane.pane_id, &remote, &texts, 0);
    // The agent's screen came as %output on the same connection.
    expect_event(
        &events,
        "%output of the agent's pane",
        |e| matches!(e, ControlEvent::Output { pane: p, .. } if *p == pane.pane_id),
    );
    let n = 50;
    for _ in 0..n {
        assert!(
            tmux.pane(&pane.pane_id)
                .unwrap()
                .current_command
                .contains("baton")
        );
        assert_eq!(tmux.list_panes("s").unwrap().len(), 2);
    }
    assert!(
        tmux.capture(&pane.pane_id, CaptureRange::visible())
            .unwrap()
            .contains("Done.")
    );
    assert_eq!(
        remote.ssh_runs(),
        before,
        "{n} queries, {} prompts and a window started no ssh process",
        texts.len()
    );

    // The connection cut: ssh killed.
    let ssh = conn.client_pid().unwrap();
    let status = std::process::Command::new("kill")
        .args(["-9", &ssh.to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    expect_event(&events, "Disconnected", |e| {
        *e == ControlEvent::Disconnected
    });
    expect_event(&events, "Reconnected", |e| *e == ControlEvent::Reconnected);
    expect_event(
        &events,
        "the subscription again",
        |e| matches!(e, ControlEvent::SubscriptionChanged { name, .. } if name == "cmd"),
    );
    assert_ne!(conn.client_pid(), Some(ssh));
    let before = remote.ssh_runs();
    deliver(&tmux, &pane.pane_id, &remote, &texts[..2], texts.len());
    for _ in 0..n {
        tmux.capture(&pane.pane_id, CaptureRange::visible())
            .unwrap();
    }
    assert_eq!(
        remote.ssh_runs(),
        before,
        "carried again, no ssh per command"
    );
    assert_socket_is_remote(direct);
}

/// The remote socket is `<socket>@<host>`: not a name a local server of baton can have.
fn assert_socket_is_remote(tmux: &Tmux) {
    match tmux.socket() {
        Socket::Name(name) => assert!(name.ends_with("@loop"), "{name}"),
        other => panic!("{other:?}"),
    }
    assert!(tmux.socket_path().is_none());
}
