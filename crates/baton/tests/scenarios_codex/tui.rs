//! A real Codex TUI in a private tmux server (200x50): keys in, screens out, waits with a
//! deadline, and the screens saved as fixtures.

use std::path::Path;
use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;
use std::time::Instant;

use crate::common::KillServer;
use crate::harness::wait_screen;

/// Columns and rows of the pane, as the fixtures are taken.
pub const WIDTH: u16 = 200;
pub const HEIGHT: u16 = 50;

/// One running CLI in its own tmux server; the server is killed when dropped.
pub struct Tui {
    socket: String,
    /// Paths replaced in saved screens, and what they become (`/tmp/project`…).
    pub redact: Vec<(String, String)>,
    _kill: KillServer,
}

impl Tui {
    /// Starts `argv` in `cwd` with `env` on a fresh private tmux server.
    pub fn start(
        socket: &str,
        cwd: &Path,
        env: &[(&str, String)],
        argv: &[String],
    ) -> Result<Tui, String> {
        let mut cmd = Command::new("tmux");
        cmd.args([
            "-f",
            "/dev/null",
            "-L",
            socket,
            "new-session",
            "-d",
            "-s",
            "s",
        ])
        .args(["-x", &WIDTH.to_string(), "-y", &HEIGHT.to_string()])
        .arg("-c")
        .arg(cwd);
        for (k, v) in env {
            cmd.args(["-e", &format!("{k}={v}")]);
        }
        cmd.args(argv);
        let out = cmd.output().map_err(|e| format!("tmux: {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "tmux new-session failed: {}",
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        Ok(Tui {
            socket: socket.to_owned(),
            redact: Vec::new(),
            _kill: KillServer(socket.to_owned()),
        })
    }

    fn tmux(&self, args: &[&str]) -> String {
        Command::new("tmux")
            .args(["-f", "/dev/null", "-L", &self.socket])
            .args(args)
            .output()
            .map(|o| String::from_utf8_lossy(&o.stdout).into_owned())
            .unwrap_or_default()
    }

    /// Returns the visible pane as baton captures it (`capture-pane -p -J`), trailing blank
    /// lines trimmed, the temp paths replaced.
    pub fn screen(&self) -> String {
        let raw = self.tmux(&["capture-pane", "-p", "-J", "-t", "s"]);
        let mut lines: Vec<&str> = raw.lines().collect();
        while lines.last().is_some_and(|l| l.trim().is_empty()) {
            lines.pop();
        }
        let mut s = lines.join("\n");
        s.push('\n');
        for (from, to) in &self.redact {
            s = s.replace(from, to);
        }
        s
    }

    /// Sends tmux key names (`Enter`, `Escape`, `BTab`, `y`…).
    pub fn keys(&self, keys: &[&str]) {
        let mut args = vec!["send-keys", "-t", "s"];
        args.extend_from_slice(keys);
        self.tmux(&args);
    }

    /// Types `text` literally.
    pub fn type_text(&self, text: &str) {
        self.tmux(&["send-keys", "-t", "s", "-l", text]);
    }

    /// Types `text`, waits until the composer shows it, and presses Enter.
    pub fn submit(&self, text: &str) -> Result<(), String> {
        self.type_text(text);
        self.wait(Duration::from_secs(10), &format!("`{text}` typed"), |s| {
            s.lines().any(|l| l.contains(text))
        })?;
        self.keys(&["Enter"]);
        Ok(())
    }

    /// Waits until `ok` holds of the screen; returns that screen, or the last one in the
    /// error.
    pub fn wait(
        &self,
        timeout: Duration,
        what: &str,
        ok: impl Fn(&str) -> bool,
    ) -> Result<String, String> {
        wait_screen(timeout, what, || self.screen(), ok)
    }

    /// Waits until `ok` holds of the screen and the screen has not changed for `quiet` (a
    /// frame, not a transition); returns it. A screen that never stands still (an animated
    /// banner) is taken once `ok` has held for three times `quiet`.
    pub fn settle(
        &self,
        timeout: Duration,
        quiet: Duration,
        what: &str,
        ok: impl Fn(&str) -> bool,
    ) -> Result<String, String> {
        let start = Instant::now();
        let mut last = String::new();
        let mut since = Instant::now();
        let mut held: Option<Instant> = None;
        loop {
            let s = self.screen();
            let holds = ok(&s);
            if !holds {
                held = None;
            } else if held.is_none() {
                held = Some(Instant::now());
            }
            if s != last {
                last = s;
                since = Instant::now();
            } else if holds && since.elapsed() >= quiet {
                return Ok(last);
            }
            if held.is_some_and(|h| h.elapsed() >= quiet * 3) {
                return Ok(last);
            }
            if start.elapsed() >= timeout {
                return Err(format!(
                    "timed out after {timeout:?} waiting for {what} (steady {quiet:?}); last screen:\n{}",
                    crate::harness::trim(&last)
                ));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

/// Where the screens of a version go: the repository's fixtures with
/// `BATON_SCENARIO_WRITE=1`, else `$CARGO_TARGET_TMPDIR/scenarios/`.
pub fn out_dir(cli: &str, version: &str) -> PathBuf {
    let name = format!("{cli}-{version}");
    if std::env::var_os("BATON_SCENARIO_WRITE").is_some_and(|v| v == "1") {
        PathBuf::from(env!("CARGO_MANIFEST_DIR"))
            .join("../../tests/fixtures/real")
            .join(name)
    } else {
        PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
            .join("scenarios")
            .join(name)
    }
}

/// Returns the version number in `codex-cli 0.169.0`.
pub fn version_number(version_line: &str) -> String {
    version_line
        .split_whitespace()
        .find(|w| w.chars().next().is_some_and(|c| c.is_ascii_digit()))
        .unwrap_or("unknown")
        .to_owned()
}
