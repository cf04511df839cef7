//! Driving a real CLI in a window of a private tmux server, by keys, and saving its screens
//! as fixtures (`tests/fixtures/real/<cli>-<version>/<state>-<scenario>.txt`).
//!
//! The scenarios wait on what the screen shows (texts a person would read) and on the
//! requests the fake model server received, never on the detector: the fixtures carry the
//! TRUE state, whatever the detector of the day makes of them.

use std::path::Path;
use std::path::PathBuf;
use std::time::Duration;
use std::time::Instant;

use crate::common::TestProject;
use crate::harness::wait_for;
use crate::harness::wait_screen;

/// The pane size every screen is taken at.
pub const WIDTH: &str = "200";
pub const HEIGHT: &str = "50";

/// Returns the directories screens of `<cli>-<version>` go to: the target's tmp dir, or with
/// `BATON_SCENARIO_WRITE=1` the repository's fixtures.
pub fn out_dirs(name: &str) -> Vec<PathBuf> {
    if std::env::var_os("BATON_SCENARIO_WRITE").is_some_and(|v| v == "1") {
        vec![
            PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                .join("../../tests/fixtures/real")
                .join(name),
        ]
    } else {
        vec![
            PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
                .join("scenarios")
                .join(name),
        ]
    }
}

/// Returns the version number in `<bin> --version`'s line (`2.1.329 (Claude Code)` →
/// `2.1.329`).
pub fn version_number(line: &str) -> String {
    line.split_whitespace()
        .find(|w| w.chars().next().is_some_and(|c| c.is_ascii_digit()))
        .unwrap_or("unknown")
        .to_owned()
}

/// Returns a capture as a fixture holds it: trailing blank lines trimmed, one final newline,
/// and the machine's temp paths replaced (`from` → `to`, longest first).
pub fn fixture_text(screen: &str, replace: &[(String, String)]) -> String {
    let mut s = screen.to_owned();
    let mut pairs: Vec<&(String, String)> = replace.iter().collect();
    pairs.sort_by_key(|(from, _)| std::cmp::Reverse(from.len()));
    for (from, to) in pairs {
        if !from.is_empty() {
            s = s.replace(from.as_str(), to);
        }
    }
    let lines: Vec<&str> = s.lines().collect();
    let end = lines
        .iter()
        .rposition(|l| !l.trim().is_empty())
        .map_or(0, |i| i + 1);
    let mut out = lines[..end].join("\n");
    out.push('\n');
    out
}

/// Where the screens of one CLI version go, and the paths to hide in them.
pub struct Out {
    pub dirs: Vec<PathBuf>,
    pub replace: Vec<(String, String)>,
}

impl Out {
    /// Saves a screen as `<file>` (`<state>-<scenario>.txt`) in every directory.
    pub fn save(&self, file: &str, screen: &str) -> Result<(), String> {
        let text = fixture_text(screen, &self.replace);
        for dir in &self.dirs {
            std::fs::create_dir_all(dir).map_err(|e| format!("{}: {e}", dir.display()))?;
            std::fs::write(dir.join(file), &text)
                .map_err(|e| format!("{}: {e}", dir.join(file).display()))?;
        }
        Ok(())
    }
}

/// Starts the project's tmux session (the first window holds nothing), every window 200×50.
pub fn start_session(project: &TestProject) {
    let out = project.tmux(&[
        "new-session",
        "-d",
        "-s",
        &project.session,
        "-n",
        "hold",
        "-x",
        WIDTH,
        "-y",
        HEIGHT,
        "sleep 86400",
    ]);
    assert!(
        out.status.success(),
        "tmux new-session: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    project.tmux(&[
        "set-option",
        "-g",
        "default-size",
        &format!("{WIDTH}x{HEIGHT}"),
    ]);
    project.tmux(&["set-option", "-g", "remain-on-exit", "on"]);
}

/// A CLI running in a window.
pub struct Win<'a> {
    pub project: &'a TestProject,
    pub name: String,
}

impl<'a> Win<'a> {
    /// Opens a window `name` in `cwd` running `argv` with `env` added.
    pub fn open(
        project: &'a TestProject,
        name: &str,
        cwd: &Path,
        env: &[(String, String)],
        argv: &str,
    ) -> Win<'a> {
        let cwd = cwd.display().to_string();
        let target = format!("{}:", project.session);
        let mut args: Vec<String> = ["new-window", "-d", "-t", &target, "-n", name, "-c", &cwd]
            .iter()
            .map(|s| (*s).to_owned())
            .collect();
        for (k, v) in env {
            args.push("-e".into());
            args.push(format!("{k}={v}"));
        }
        args.push(argv.to_owned());
        let refs: Vec<&str> = args.iter().map(String::as_str).collect();
        let out = project.tmux(&refs);
        assert!(
            out.status.success(),
            "tmux new-window: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let w = Win {
            project,
            name: name.to_owned(),
        };
        project.tmux(&["resize-window", "-t", &w.pane(), "-x", WIDTH, "-y", HEIGHT]);
        w
    }

    /// Returns the pane id.
    pub fn pane(&self) -> String {
        self.project.pane(&self.name)
    }

    /// Returns the visible screen (`capture-pane -p -J`).
    pub fn screen(&self) -> String {
        self.project.capture(&self.name)
    }

    /// Sends tmux key names (`Enter`, `Down`, `Escape`…).
    pub fn keys(&self, keys: &[&str]) {
        let pane = self.pane();
        let mut args = vec!["send-keys", "-t", &pane];
        args.extend_from_slice(keys);
        self.project.tmux(&args);
    }

    /// Types `text` literally (no Enter).
    pub fn type_text(&self, text: &str) {
        let pane = self.pane();
        self.project.tmux(&["send-keys", "-t", &pane, "-l", text]);
    }

    /// Waits until `pred` holds of the screen; returns that screen.
    pub fn wait(
        &self,
        what: &str,
        timeout: Duration,
        pred: impl Fn(&str) -> bool,
    ) -> Result<String, String> {
        wait_screen(timeout, what, || self.screen(), pred)
    }

    /// Waits until `pred` holds and the screen has not changed for `quiet` (spinner glyphs,
    /// timers and token counts aside); returns the last screen. For screens that must not
    /// catch a transition.
    pub fn settle(
        &self,
        what: &str,
        timeout: Duration,
        quiet: Duration,
        pred: impl Fn(&str) -> bool,
    ) -> Result<String, String> {
        let start = Instant::now();
        let mut since: Option<(Instant, String)> = None;
        let mut last;
        loop {
            last = self.screen();
            if pred(&last) {
                let key = calm(&last);
                match &since {
                    Some((t, k)) if *k == key => {
                        if t.elapsed() >= quiet {
                            return Ok(last);
                        }
                    }
                    _ => since = Some((Instant::now(), key)),
                }
            } else {
                since = None;
            }
            if start.elapsed() >= timeout {
                return Err(format!(
                    "timed out after {timeout:?} waiting for {what} (settled); last screen:\n{}",
                    crate::harness::trim(&last)
                ));
            }
            std::thread::sleep(Duration::from_millis(50));
        }
    }

    /// Types a prompt, waits until the box shows its start, and presses Enter.
    pub fn prompt(&self, text: &str) -> Result<(), String> {
        self.type_text(text);
        let head: String = text.chars().take(24).collect();
        self.wait(
            &format!("the box to show {head:?}"),
            Duration::from_secs(20),
            |s| s.contains(&head),
        )?;
        self.keys(&["Enter"]);
        Ok(())
    }

    /// Moves a menu's cursor (`❯` or `>` at the start of an option line) to the option line
    /// containing `target` and presses Enter.
    pub fn choose(&self, target: &str) -> Result<(), String> {
        let deadline = Instant::now() + Duration::from_secs(20);
        let mut last = String::new();
        while Instant::now() < deadline {
            let screen = self.screen();
            let lines: Vec<&str> = screen.lines().collect();
            let cursor = lines.iter().rposition(|l| is_cursor_line(l));
            // An option line is indented (the prompt box's own `❯` is at column 0).
            let want = lines
                .iter()
                .rposition(|l| l.contains(target) && (l.starts_with(' ') || l.starts_with('│')));
            if let (Some(c), Some(w)) = (cursor, want) {
                if c == w {
                    self.keys(&["Enter"]);
                    return Ok(());
                }
                self.keys(&[if w > c { "Down" } else { "Up" }]);
                // The cursor moves on the next frame.
                let before = screen.clone();
                let _ = wait_for(Duration::from_secs(3), "the cursor to move", || {
                    (self.screen() != before).then_some(())
                });
            } else {
                std::thread::sleep(Duration::from_millis(100));
            }
            last = screen;
        }
        Err(format!(
            "no menu option {target:?} could be chosen; last screen:\n{}",
            crate::harness::trim(&last)
        ))
    }
}

/// Returns whether a line is a menu option under the cursor: `❯`/`>` after at least one
/// space (the prompt box's `❯` starts at column 0).
fn is_cursor_line(l: &str) -> bool {
    // Inside a box (`│ ❯ 2. No`) or indented (` ❯ 1. Yes`).
    let l = l.strip_prefix('│').unwrap_or(l);
    let t = l.trim_start();
    let indented = t.len() < l.len();
    indented && (t.starts_with("❯ ") || t.starts_with("> ")) && t.chars().nth(2).is_some()
}

/// A screen with what changes by itself taken out (spinner glyphs, digits), to tell a settled
/// screen.
fn calm(screen: &str) -> String {
    screen
        .chars()
        .map(|c| {
            if c.is_ascii_digit() || "·✢✳✶✻✽*⠂⠐⏺●◐◓◑◒".contains(c) {
                '#'
            } else {
                c
            }
        })
        .collect()
}
