//! `baton watch` in a real terminal: a tmux pane runs the dashboard against a running
//! `baton run` with fake agents; keys go in with `send-keys`, the screen is read back with
//! `capture-pane` until it shows what the keys should have done.

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use crate::common::FOUR_TASKS;
use crate::common::TestProject;
use crate::common::assert_has;
use crate::common::baton_bin;
use crate::common::live_run;
use crate::common::task_status;
use crate::common::wait_for;

/// A second private tmux server for the dashboard's own terminal, killed when dropped.
struct Terminal {
    socket: String,
}

impl Terminal {
    /// Starts `baton watch` (then a marker line, so its exit can be seen) in a 120×40 pane.
    fn start(project: &TestProject, size: (u16, u16)) -> Terminal {
        let t = Terminal {
            socket: format!("{}-watch", project.socket),
        };
        let line = format!(
            "cd '{}' && BATON_TMUX_CONFIG=/dev/null '{}' watch; echo \"watch exited $?\"; sleep 600",
            project.root().display(),
            baton_bin().display()
        );
        let out = t.tmux(&[
            "new-session",
            "-d",
            "-s",
            "w",
            "-x",
            &size.0.to_string(),
            "-y",
            &size.1.to_string(),
            "sh",
            "-c",
            &line,
        ]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        t
    }

    fn tmux(&self, args: &[&str]) -> std::process::Output {
        Command::new("tmux")
            .args(["-f", "/dev/null", "-L", &self.socket])
            .args(args)
            .env_remove("TMUX")
            .output()
            .unwrap()
    }

    fn screen(&self) -> String {
        String::from_utf8_lossy(&self.tmux(&["capture-pane", "-p", "-t", "w"]).stdout).into_owned()
    }

    /// Types keys (tmux key names: `Tab`, `Enter`, `Escape`, or plain letters).
    fn keys(&self, keys: &[&str]) {
        for k in keys {
            let out = self.tmux(&["send-keys", "-t", "w", k]);
            assert!(out.status.success());
        }
    }

    /// Waits until the screen satisfies `cond`; panics with the screen after `secs`.
    fn wait(&self, secs: u64, what: &str, cond: impl Fn(&str) -> bool) -> String {
        wait_for(Duration::from_secs(secs), what, || self.screen(), cond)
    }
}

impl Drop for Terminal {
    fn drop(&mut self) {
        let _ = self.tmux(&["kill-server"]);
    }
}

fn journal_actions(root: &Path, actor: &str) -> Vec<String> {
    crate::common::journal_at(root)
        .iter()
        .filter(|e| e["actor"] == actor)
        .map(|e| e["action"].as_str().unwrap_or("").to_owned())
        .collect()
}

/// The lines of the tasks pane: from its title to the log's.
fn tasks_pane(screen: &str) -> String {
    screen
        .lines()
        .skip_while(|l| !l.contains("Tasks · filter"))
        .take_while(|l| !l.contains("Log ─"))
        .collect::<Vec<_>>()
        .join("\n")
}

#[test]
fn watch_follows_a_live_run_and_acts_on_keys() {
    let (p, run) = live_run(FOUR_TASKS);
    p.ok(&["task", "block", "T-004", "--reason", "needs a decision"]);

    let term = Terminal::start(&p, (120, 40));
    term.wait(20, "the dashboard with both agents working", |s| {
        s.contains("★claude") && s.matches("working").count() >= 2 && s.contains("T-001")
    });

    // Filter the queue to BLOCKED: all → open → PENDING → IN_PROGRESS → BLOCKED.
    term.keys(&["Tab", "f", "f", "f", "f"]);
    let s = term.wait(10, "the BLOCKED filter", |s| {
        s.contains("filter BLOCKED · 1–1 of 1")
    });
    let pane = tasks_pane(&s);
    assert!(
        pane.contains("T-004") && pane.contains("needs a decision"),
        "{s}"
    );
    assert!(!pane.contains("T-001") && !pane.contains("T-003"), "{s}");
    // Back to all.
    term.keys(&["F", "F", "F", "F"]);
    term.wait(10, "the unfiltered queue", |s| {
        s.contains("filter all · 1–4 of 4")
    });

    // Open an agent: a read-only peek at claude's live screen.
    term.keys(&["BTab", "Enter"]);
    term.wait(10, "claude's screen inside the dashboard", |s| {
        s.contains("claude · working") && s.contains("read-only") && s.contains("esc to interrupt")
    });
    term.keys(&["Escape"]);
    term.wait(10, "the peek closed", |s| !s.contains("read-only"));

    // Cancel T-003 (PENDING, last in the queue) from the tasks pane; it asks first.
    term.keys(&["Tab", "End", "c"]);
    term.wait(10, "the confirmation", |s| s.contains("Cancel T-003"));
    term.keys(&["y"]);
    term.wait(10, "the cancelled task", |s| {
        s.contains("T-003 is CANCELLED") && s.contains("done 0/4")
    });
    assert_eq!(task_status(p.root(), "T-003"), "CANCELLED");

    // Pause dispatch.
    term.keys(&["p"]);
    term.wait(10, "dispatch paused", |s| s.contains("dispatch PAUSED"));
    assert_eq!(
        journal_actions(p.root(), "watch"),
        ["task-cancel", "dispatch-pause"]
    );

    // A change made elsewhere shows up without a key.
    p.ok(&["task", "add", "Added while watching"]);
    term.wait(10, "the new task", |s| s.contains("Added while watching"));

    // Quit: the terminal is given back, and the run goes on.
    term.keys(&["q"]);
    let s = term.wait(10, "the dashboard's exit", |s| s.contains("watch exited 0"));
    assert!(
        !s.contains("Agents ·"),
        "the alternate screen was left: {s}"
    );
    let mut run = run;
    assert!(
        run.0.try_wait().unwrap().is_none(),
        "baton run still runs after the dashboard quit"
    );
    assert_eq!(task_status(p.root(), "T-001"), "IN_PROGRESS");
}

#[test]
fn watch_without_a_terminal_says_so() {
    let p = TestProject::new();
    p.write_config("[[agent]]\nname = \"claude\"\ncli = \"claude\"\n");
    let watch = p.exec(&["watch"]);
    watch.expect_code(1);
    assert_has(&watch.stderr, &["baton watch needs a terminal"]);
}
