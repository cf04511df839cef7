//! Runs the fake agent in a private tmux server and checks what a driver would see.

use std::io::Write;
use std::path::Path;
use std::process::Command;
use std::process::Output;
use std::process::Stdio;
use std::sync::atomic::AtomicUsize;
use std::sync::atomic::Ordering;
use std::time::Duration;
use std::time::Instant;

use baton_fake_agent::Event;
use baton_fake_agent::read_events;
use baton_fake_agent::read_prompt_log;

const DEADLINE: Duration = Duration::from_secs(10);
const POLL: Duration = Duration::from_millis(50);
const PANE: &str = "fake";

/// A private tmux server, killed when dropped.
struct Tmux {
    socket: String,
}

fn tmux_available() -> bool {
    let ok = Command::new("tmux")
        .arg("-V")
        .output()
        .is_ok_and(|o| o.status.success());
    if !ok {
        eprintln!("tmux not found: skipping");
    }
    ok
}

impl Tmux {
    fn new() -> Tmux {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, Ordering::SeqCst);
        Tmux {
            socket: format!("baton-fake-test-{}-{n}", std::process::id()),
        }
    }

    fn command(&self) -> Command {
        let mut cmd = Command::new("tmux");
        cmd.args(["-L", &self.socket, "-f", "/dev/null"])
            .env_remove("TMUX")
            .env_remove("BATON_FAKE_SCRIPT");
        cmd
    }

    fn output(&self, args: &[&str]) -> Output {
        self.command().args(args).output().expect("run tmux")
    }

    fn run(&self, args: &[&str]) -> String {
        let out = self.output(args);
        assert!(
            out.status.success(),
            "tmux {args:?} failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Opens the test session (120×40) in `dir`, running `command`.
    fn new_session(&self, dir: &Path, command: &[&str]) {
        let dir = dir.to_str().expect("utf-8 temp dir");
        let mut all = vec![
            "new-session",
            "-d",
            "-s",
            PANE,
            "-x",
            "120",
            "-y",
            "40",
            "-c",
            dir,
            "--",
        ];
        all.extend_from_slice(command);
        self.run(&all);
    }

    /// Starts the fake agent in `dir` with `args`.
    fn start(&self, dir: &Path, args: &[&str]) {
        let mut command = vec![env!("CARGO_BIN_EXE_baton-fake-agent")];
        command.extend_from_slice(args);
        self.new_session(dir, &command);
    }

    fn capture(&self) -> String {
        self.run(&["capture-pane", "-p", "-t", PANE])
    }

    /// Polls the pane until `cond` holds; panics with the last screen after the deadline.
    fn wait_screen(&self, what: &str, cond: impl Fn(&str) -> bool) -> String {
        let start = Instant::now();
        loop {
            let screen = self.capture();
            if cond(&screen) {
                return screen;
            }
            assert!(
                start.elapsed() < DEADLINE,
                "timed out waiting for {what}; screen:\n{screen}"
            );
            std::thread::sleep(POLL);
        }
    }

    /// Pastes `text` the way baton does: load-buffer from stdin, then a bracketed paste.
    fn paste(&self, text: &[u8]) {
        let mut child = self
            .command()
            .args(["load-buffer", "-b", "X", "-"])
            .stdin(Stdio::piped())
            .spawn()
            .expect("spawn tmux load-buffer");
        child
            .stdin
            .take()
            .expect("stdin")
            .write_all(text)
            .expect("write buffer");
        assert!(child.wait().expect("wait load-buffer").success());
        self.run(&["paste-buffer", "-p", "-d", "-b", "X", "-t", PANE]);
    }

    /// Starts the fake agent like [`Tmux::start`], through `sh`, which writes the agent's
    /// exit code to `dir/exit-code` (tmux 3.3a does not always fill `pane_dead_status`).
    fn start_recording_exit(&self, dir: &Path, args: &[&str]) {
        let mut command = vec![
            "sh",
            "-c",
            "\"$@\"; echo $? > exit-code.tmp && mv exit-code.tmp exit-code",
            "sh",
            env!("CARGO_BIN_EXE_baton-fake-agent"),
        ];
        command.extend_from_slice(args);
        self.new_session(dir, &command);
        self.run(&["set-option", "-g", "remain-on-exit", "on"]);
    }

    /// Waits until the agent started by [`Tmux::start_recording_exit`] exits and the pane
    /// is dead; returns the exit code.
    fn wait_exit(&self, dir: &Path) -> i32 {
        let path = dir.join("exit-code");
        wait_until("the agent to exit", || path.exists());
        wait_until("the pane to die", || {
            self.run(&["display-message", "-p", "-t", PANE, "#{pane_dead}"])
                .trim()
                == "1"
        });
        let text = std::fs::read_to_string(&path).expect("read exit code");
        text.trim().parse().expect("numeric exit code")
    }

    /// Pastes `text` and presses Enter.
    fn submit(&self, text: &[u8]) {
        self.paste(text);
        self.keys(&["Enter"]);
    }

    fn keys(&self, keys: &[&str]) {
        let mut args = vec!["send-keys", "-t", PANE];
        args.extend_from_slice(keys);
        self.run(&args);
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let socket = self
            .command()
            .args(["display-message", "-p", "#{socket_path}"])
            .output()
            .ok()
            .map(|o| String::from_utf8_lossy(&o.stdout).trim().to_owned())
            .filter(|p| !p.is_empty());
        let _ = self.output(&["kill-server"]);
        // tmux leaves the socket file behind.
        if let Some(socket) = socket {
            let _ = std::fs::remove_file(socket);
        }
    }
}

/// Polls until `cond` holds, panicking with `what` after the deadline.
fn wait_until(what: &str, cond: impl Fn() -> bool) {
    let start = Instant::now();
    while !cond() {
        assert!(start.elapsed() < DEADLINE, "timed out waiting for {what}");
        std::thread::sleep(POLL);
    }
}

fn events(dir: &Path) -> Vec<Event> {
    read_events(&dir.join("events.log")).unwrap_or_default()
}

fn has_event(dir: &Path, kind: &str, detail: &str) -> bool {
    events(dir)
        .iter()
        .any(|e| e.kind == kind && e.detail == detail)
}

fn count_events(dir: &Path, kind: &str) -> usize {
    events(dir).iter().filter(|e| e.kind == kind).count()
}

/// Returns whether a Claude screen shows the input box (capture-pane drops trailing spaces).
fn claude_idle(screen: &str) -> bool {
    screen.lines().any(|l| l.starts_with('❯'))
}

/// A private tmux server where `start` (`Tmux::start` or `Tmux::start_recording_exit`) ran
/// the fake agent with the script `body` (`--script`, then `args`), in a new temporary
/// directory; `None` when there is no tmux.
fn scripted(
    body: &str,
    args: &[&str],
    start: fn(&Tmux, &Path, &[&str]),
) -> Option<(tempfile::TempDir, Tmux)> {
    if !tmux_available() {
        return None;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let script = write_script(dir.path(), body);
    let tmux = Tmux::new();
    let mut all = vec!["--script", script.as_str()];
    all.extend_from_slice(args);
    start(&tmux, dir.path(), &all);
    Some((dir, tmux))
}

/// Like `scripted` for a Claude Code look-alike, which is then given `prompt` once idle.
fn submitted(
    body: &str,
    start: fn(&Tmux, &Path, &[&str]),
    prompt: &[u8],
) -> Option<(tempfile::TempDir, Tmux)> {
    let (dir, tmux) = scripted(body, &[], start)?;
    tmux.wait_screen("idle", claude_idle);
    tmux.submit(prompt);
    Some((dir, tmux))
}

fn write_script(dir: &Path, body: &str) -> String {
    let path = dir.join("script.toml");
    std::fs::write(
        &path,
        format!("log = \"prompts.log\"\nevents = \"events.log\"\n{body}"),
    )
    .expect("write script");
    path.to_str().expect("utf-8 path").to_owned()
}

const TRICKY_PROMPT: &str = "Café crème à l'été, naïve déjà-vu 🎉🚀\n\
$(rm -rf ~) and `whoami` and \"quotes\" 'single' \\backslash\tafter-tab\n\
third line; echo $HOME && exit 1\n";

#[test]
fn claude_starts_works_and_logs_prompt_byte_exact() {
    let Some((dir, tmux)) = scripted(
        r#"
start_delay_ms = 1500
quota_percent = 37
quota_window = "weekly"
quota_reset = "Mon 12:00am"
[[task]]
match = "whoami"
work_ms = 1500
reply = "Implemented the parser."
write = [{ path = "out/result.txt", content = "hello\n" }]
"#,
        &[],
        Tmux::start,
    ) else {
        return;
    };
    tmux.wait_screen("starting screen", |s| {
        s.contains(" ✻ Welcome to Claude Code") && s.contains("Starting…")
    });
    let idle = tmux.wait_screen("idle screen", claude_idle);
    assert!(idle.contains(" ✻ Welcome to Claude Code (fake)"), "{idle}");
    assert!(
        idle.contains("  ⏵⏵ bypass permissions on (shift+tab to cycle)"),
        "{idle}"
    );
    assert!(
        idle.contains("  You've used 37% of your weekly limit · resets Mon 12:00am"),
        "{idle}"
    );
    assert!(has_event(dir.path(), "ready", ""));

    tmux.paste(TRICKY_PROMPT.as_bytes());
    tmux.wait_screen("pasted text in the box", |s| {
        s.contains("[Pasted text #1 +3 lines]")
    });
    tmux.keys(&["Enter"]);
    let working = tmux.wait_screen("spinner", |s| s.contains("s · esc to interrupt)"));
    assert!(working.contains("> Café crème à l'été"), "{working}");
    assert!(working.lines().any(|l| l.contains("… (")), "{working}");
    let done = tmux.wait_screen("finished screen", |s| {
        s.contains("● Implemented the parser.")
    });
    assert!(done.contains(" for 2s"), "{done}");
    assert!(!done.contains("esc to interrupt"), "{done}");

    let prompts = read_prompt_log(&dir.path().join("prompts.log")).expect("prompt log");
    assert_eq!(prompts, vec![TRICKY_PROMPT.as_bytes().to_vec()]);
    assert_eq!(
        std::fs::read_to_string(dir.path().join("out/result.txt")).expect("written file"),
        "hello\n"
    );
    assert!(has_event(dir.path(), "work-done", "1"));
    assert!(has_event(
        dir.path(),
        "submit",
        &format!("1 {}", TRICKY_PROMPT.len())
    ));
}

#[test]
fn codex_swallows_the_first_enter_after_a_paste() {
    let Some((dir, tmux)) = scripted(
        "persona = \"claude\"\nswallow_first_enter = true\nstart_delay_ms = 0\ndefault_work_ms = 1200\ndefault_reply = \"Swallowed fine.\"\n",
        &["--persona", "codex"],
        Tmux::start,
    ) else {
        return;
    };
    tmux.wait_screen("codex idle", |s| s.contains("› Ask Codex to do anything"));
    tmux.paste("fix T-001 ✓".as_bytes());
    tmux.wait_screen("text in the box", |s| s.contains("› fix T-001 ✓"));
    tmux.keys(&["Enter"]);
    wait_until("enter-swallowed", || {
        count_events(dir.path(), "enter-swallowed") == 1
    });
    assert_eq!(count_events(dir.path(), "submit"), 0);
    assert!(tmux.capture().contains("› fix T-001 ✓"));
    tmux.keys(&["Enter"]);
    tmux.wait_screen("working", |s| {
        s.contains("Working (") && s.contains("• esc to interrupt)")
    });
    let done = tmux.wait_screen("finished", |s| s.contains("─ Worked for 2s ─"));
    assert!(done.contains("• Swallowed fine."), "{done}");
    assert!(done.contains("› Ask Codex to do anything"), "{done}");
    assert_eq!(count_events(dir.path(), "submit"), 1);
    let prompts = read_prompt_log(&dir.path().join("prompts.log")).expect("prompt log");
    assert_eq!(prompts, vec!["fix T-001 ✓".as_bytes().to_vec()]);
}

#[test]
fn crash_exits_with_the_scripted_code() {
    let script = "start_delay_ms = 0\n[[task]]\ncrash = 3\n";
    let Some((dir, tmux)) = submitted(script, Tmux::start_recording_exit, b"please crash") else {
        return;
    };
    assert_eq!(tmux.wait_exit(dir.path()), 3);
    let prompts = read_prompt_log(&dir.path().join("prompts.log")).expect("prompt log");
    assert_eq!(prompts, vec![b"please crash".to_vec()]);
    assert!(has_event(dir.path(), "crash", "3"));
    assert!(has_event(dir.path(), "exit", "3"));
    assert!(tmux.capture().contains("fake agent crashed"));
}

#[test]
fn hang_freezes_until_ctrl_c() {
    let script = "start_delay_ms = 0\n[[task]]\nhang = true\n";
    let Some((dir, tmux)) = submitted(script, Tmux::start, b"hang forever") else {
        return;
    };
    let frozen = tmux.wait_screen("one working frame", |s| {
        s.contains("(0s · esc to interrupt)")
    });
    // A live spinner would show "1s" by now; a frozen one shows the same frame.
    std::thread::sleep(Duration::from_millis(1500));
    assert_eq!(tmux.capture(), frozen);
    assert!(has_event(dir.path(), "work-start", "1"));
    tmux.keys(&["C-c"]);
    let idle = tmux.wait_screen("interrupted", |s| {
        s.contains("⎿  Interrupted · What should Claude do instead?")
    });
    assert!(!idle.contains("esc to interrupt"), "{idle}");
    assert!(has_event(dir.path(), "interrupt", "1"));
    assert_eq!(count_events(dir.path(), "work-done"), 0);
}

#[test]
fn esc_interrupts_work_and_double_ctrl_c_exits() {
    let Some((dir, tmux)) = scripted(
        "persona = \"gemini\"\nstart_delay_ms = 0\ndefault_work_ms = 60000\n",
        &[],
        Tmux::start_recording_exit,
    ) else {
        return;
    };
    tmux.wait_screen("gemini idle", |s| {
        s.contains("│ >   Type your message or @path/to/file")
    });
    tmux.submit(b"long job");
    tmux.wait_screen("thinking", |s| s.contains("Thinking… (esc to cancel, "));
    tmux.keys(&["Escape"]);
    tmux.wait_screen("interrupted", |s| s.contains("✕ Interrupted by user"));
    assert!(has_event(dir.path(), "key", "esc"));
    tmux.keys(&["C-c"]);
    tmux.wait_screen("exit hint", |s| s.contains("Press Ctrl+C again to exit."));
    tmux.keys(&["C-c"]);
    assert_eq!(tmux.wait_exit(dir.path()), 0);
    assert!(has_event(dir.path(), "exit", "0"));
}
