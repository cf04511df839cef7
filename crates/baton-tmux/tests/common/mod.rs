//! Shared test helpers: a private tmux server per test, polling with deadlines.
#![allow(dead_code)]

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use baton_tmux::control::ControlEvent;
use baton_tmux::{PaneInfo, Socket, Tmux, WindowSpec};
use crossbeam_channel::Receiver;

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// A private tmux server, killed on drop.
pub struct TestServer {
    pub tmux: Tmux,
}

impl TestServer {
    pub fn new() -> TestServer {
        let n = COUNTER.fetch_add(1, Ordering::Relaxed);
        let name = format!("baton-tmux-test-{}-{n}", std::process::id());
        let tmux = Tmux::new(Socket::Name(name)).with_config_file(Some("/dev/null".into()));
        TestServer { tmux }
    }

    /// A server with session `main` whose first window runs `sleep` (keeps the session alive).
    pub fn with_session() -> (TestServer, PaneInfo) {
        let server = TestServer::new();
        let first = server
            .tmux
            .new_session("main", &WindowSpec::new("keeper").command("exec sleep 600"))
            .expect("new-session");
        (server, first)
    }
}

impl Drop for TestServer {
    fn drop(&mut self) {
        let _ = self.tmux.kill_server();
        // tmux leaves its socket file behind.
        if let Some(path) = self.tmux.socket_path()
            && !self.tmux.server_running()
        {
            let _ = std::fs::remove_file(path);
        }
    }
}

/// Poll `f` every 10 ms until it returns `Some` or `timeout` passes.
pub fn wait_for<T>(timeout: Duration, mut f: impl FnMut() -> Option<T>) -> Option<T> {
    let deadline = Instant::now() + timeout;
    loop {
        if let Some(value) = f() {
            return Some(value);
        }
        if Instant::now() >= deadline {
            return None;
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// Opens a window `name` in session `main` running `sleep 100`, whose pane stays after its
/// process dies (`remain-on-exit`), for the tests of a dead pane.
pub fn mortal_window(tmux: &Tmux, name: &str) -> PaneInfo {
    let pane = tmux
        .new_window("main", &WindowSpec::new(name).command("exec sleep 100"))
        .unwrap();
    tmux.run(&[
        "set-option",
        "-w",
        "-t",
        &pane.window_id,
        "remain-on-exit",
        "on",
    ])
    .unwrap();
    pane
}

/// Opens session `main` with one window `name` running `command`; returns its pane once the
/// pane's foreground command is `running`.
pub fn session_running(tmux: &Tmux, name: &str, command: &str, running: &str) -> PaneInfo {
    let spec = WindowSpec::new(name).command(command);
    let pane = tmux.new_session("main", &spec).unwrap();
    wait_for_command(tmux, &pane.pane_id, running);
    pane
}

/// Opens a window `name` in session `main` running `command`; returns its pane once the pane's
/// foreground command is `running`.
pub fn window_running(tmux: &Tmux, name: &str, command: &str, running: &str) -> PaneInfo {
    let pane = tmux
        .new_window("main", &WindowSpec::new(name).command(command))
        .unwrap();
    wait_for_command(tmux, &pane.pane_id, running);
    pane
}

/// Wait for a pane's foreground command to be `command`.
pub fn wait_for_command(tmux: &Tmux, pane: &str, command: &str) {
    let seen = wait_for(Duration::from_secs(5), || {
        tmux.pane(pane)
            .ok()
            .filter(|p| p.current_command == command)
            .map(|_| ())
    });
    assert!(
        seen.is_some(),
        "pane {pane} never ran {command}: {:?}",
        tmux.pane(pane)
    );
}

/// Wait until the pane's visible text contains `needle`; returns the capture.
pub fn wait_for_text(tmux: &Tmux, pane: &str, needle: &str) -> String {
    let found = wait_for(Duration::from_secs(5), || {
        tmux.capture(pane, Default::default())
            .ok()
            .filter(|text| text.contains(needle))
    });
    found.unwrap_or_else(|| {
        panic!(
            "{needle:?} never appeared in {pane}: {:?}",
            tmux.capture(pane, Default::default())
        )
    })
}

/// Receive events until one matches, within `timeout`.
pub fn recv_until(
    events: &Receiver<ControlEvent>,
    timeout: Duration,
    mut pred: impl FnMut(&ControlEvent) -> bool,
) -> Option<ControlEvent> {
    let deadline = Instant::now() + timeout;
    loop {
        let left = deadline.checked_duration_since(Instant::now())?;
        match events.recv_timeout(left) {
            Ok(event) if pred(&event) => return Some(event),
            Ok(_) => {}
            Err(_) => return None,
        }
    }
}

/// `kill <pid>` (SIGTERM).
pub fn kill(pid: u32) {
    let status = std::process::Command::new("kill")
        .arg(pid.to_string())
        .status()
        .expect("run kill");
    assert!(status.success(), "kill {pid} failed");
}

/// A pane recording its raw input to `out.bin` in `dir`, once it shows `READY`.
pub fn recorder(tmux: &Tmux, dir: &Path, bracketed: bool) -> (PaneInfo, PathBuf) {
    // tmux 3.3a has no format for the bracketed-paste mode: the mode is set once tmux has
    // drawn the text printed after the escape sequence.
    let enable = if bracketed { r"\033[?2004h" } else { "" };
    let command = format!("sh -c \"printf '{enable}READY'; stty raw -echo; exec cat > out.bin\"");
    let pane = tmux
        .new_session("main", &WindowSpec::new("rec").cwd(dir).command(command))
        .unwrap();
    wait_for_text(tmux, &pane.pane_id, "READY");
    wait_for_command(tmux, &pane.pane_id, "cat");
    (pane, dir.join("out.bin"))
}

/// Wait until `path` holds `len` bytes; returns them.
pub fn read_when_len(path: &Path, len: usize) -> Vec<u8> {
    let got = wait_for(Duration::from_secs(10), || {
        std::fs::read(path).ok().filter(|b| b.len() >= len)
    });
    got.unwrap_or_else(|| {
        panic!(
            "{} never reached {len} bytes (has {:?})",
            path.display(),
            std::fs::metadata(path).map(|m| m.len())
        )
    })
}

pub fn cr_to_lf(bytes: &[u8]) -> Vec<u8> {
    bytes
        .iter()
        .map(|&b| if b == b'\r' { b'\n' } else { b })
        .collect()
}

/// A text of 70 KiB: many lines with accents, an emoji, quotes, `$( )` and tabs.
pub fn big_text() -> String {
    let mut text = String::new();
    let mut i = 0;
    while text.len() < 70 * 1024 {
        text.push_str(&format!("{i:05} l'été à Noël 🎉 `x` $(y) \"z\"\tfin\n"));
        i += 1;
    }
    text
}
