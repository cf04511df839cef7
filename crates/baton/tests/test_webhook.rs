//! `[notify] webhook`: a run's notices reach a loopback webhook, the kinds in `disable` do
//! not, and the URL (a secret) shows in no output, log or journal.

use std::io::Read;
use std::io::Write;
use std::net::TcpListener;
use std::sync::Arc;
use std::sync::Mutex;
use std::time::Duration;

use crate::common::*;

/// The part of the URL that is the secret: it must never show.
const TOKEN: &str = "tok-Wh00kS3cret";

/// A loopback webhook: answers every POST with one status and keeps the bodies.
struct Hook {
    url: String,
    bodies: Arc<Mutex<Vec<serde_json::Value>>>,
}

impl Hook {
    fn start(status: u16) -> Hook {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!("http://{}/{TOKEN}", listener.local_addr().unwrap());
        let bodies = Arc::new(Mutex::new(Vec::new()));
        let keep = Arc::clone(&bodies);
        std::thread::spawn(move || {
            for mut stream in listener.incoming().flatten() {
                let body = read_body(&mut stream);
                if let Ok(v) = serde_json::from_slice(&body) {
                    keep.lock().unwrap().push(v);
                }
                let _ = write!(
                    stream,
                    "HTTP/1.1 {status} Whatever\r\ncontent-length: 0\r\nconnection: close\r\n\r\n"
                );
            }
        });
        Hook { url, bodies }
    }

    /// The `kind` of every notice received, in order.
    fn kinds(&self) -> Vec<String> {
        let bodies = self.bodies.lock().unwrap();
        bodies
            .iter()
            .map(|b| b["kind"].as_str().unwrap_or_default().to_owned())
            .collect()
    }

    /// The notice of `kind` received, if any.
    fn notice(&self, kind: &str) -> Option<serde_json::Value> {
        let bodies = self.bodies.lock().unwrap();
        bodies.iter().find(|b| b["kind"] == kind).cloned()
    }
}

/// Reads a request whole and returns its body (by its Content-Length).
fn read_body(stream: &mut std::net::TcpStream) -> Vec<u8> {
    let mut data = Vec::new();
    let mut chunk = [0u8; 4096];
    loop {
        if let Some(end) = data.windows(4).position(|w| w == b"\r\n\r\n") {
            let head = String::from_utf8_lossy(&data[..end]).to_ascii_lowercase();
            let length: usize = head
                .lines()
                .find_map(|l| l.strip_prefix("content-length:"))
                .and_then(|v| v.trim().parse().ok())
                .unwrap_or(0);
            if data.len() >= end + 4 + length {
                return data[end + 4..end + 4 + length].to_vec();
            }
        }
        match stream.read(&mut chunk) {
            Ok(0) | Err(_) => return Vec::new(),
            Ok(n) => data.extend_from_slice(&chunk[..n]),
        }
    }
}

/// A project with one fake agent that blocks every task it gets, notices to `hook` only
/// (no desktop), and `notify_extra` in `[notify]`; `baton run` over one task, which ends with
/// the task BLOCKED (exit 4) after two notices: `task-blocked`, then `run-finished`.
fn blocked_run(hook: &Hook, notify_extra: &str) -> (TestProject, Ran) {
    let p = TestProject::new();
    let script = "[[task]]\nrepeat = true\nwork_ms = 100\n\
                  run = [\"baton task block \\\"$BATON_FAKE_TASK\\\" --reason \\\"needs a decision\\\"\"]\n";
    p.write_config(&format!(
        "{}[notify]\nbackend = \"off\"\nwebhook = \"{}\"\n{notify_extra}",
        p.fake_agent("solo", "claude", script),
        hook.url
    ));
    p.write_plan("- [ ] Parse the config\n");
    let ran = p.exec(&["run", "plan.md"]);
    ran.expect_code(4);
    (p, ran)
}

#[test]
fn a_run_posts_its_notices_to_the_webhook() {
    let hook = Hook::start(204);
    let (p, _) = blocked_run(&hook, "");
    // The run's end waits for the queue to empty: both are there once it has exited.
    wait_until(Duration::from_secs(10), "both notices", || {
        hook.kinds().len() >= 2
    });
    assert_eq!(hook.kinds(), ["task-blocked", "run-finished"]);
    let blocked = hook.notice("task-blocked").unwrap();
    assert_eq!(blocked["project"], p.session.as_str());
    assert!(
        blocked["body"].as_str().unwrap().contains("T-001"),
        "{blocked}"
    );
    assert!(blocked["title"].as_str().unwrap().contains("task-blocked"));
    assert!(
        blocked["time"].as_str().unwrap().ends_with('Z'),
        "{blocked}"
    );
    // A blocked task waits for a person: urgent. Each notice has its own id.
    assert_eq!(blocked["urgent"], true, "{blocked}");
    let finished = hook.notice("run-finished").unwrap();
    assert_ne!(blocked["id"], finished["id"]);
    assert!(blocked["id"].as_str().is_some_and(|id| !id.is_empty()));
    assert!(p.journaled("webhook-failed").is_empty());
}

#[test]
fn a_disabled_kind_does_not_reach_the_webhook_and_the_url_shows_nowhere() {
    // Every POST is refused (400): the sender says so, without the URL.
    let hook = Hook::start(400);
    let (p, ran) = blocked_run(&hook, "disable = [\"task-blocked\"]\n");
    wait_until(Duration::from_secs(10), "run-finished", || {
        hook.notice("run-finished").is_some()
    });
    assert_eq!(hook.kinds(), ["run-finished"]);
    // The notice was raised (journaled), only not sent.
    assert!(!p.journaled("notify-blocked").is_empty());

    let shown = format!("{}{}", hook.url.split(TOKEN).next().unwrap(), "…");
    assert_has(&ran.stderr, &["HTTP 400", &shown]);
    // The notice given up on is journaled once, and doctor shows it.
    let failed = p.journaled("webhook-failed");
    assert_eq!(failed.len(), 1, "{failed:?}");
    let line = failed[0]["result"].as_str().unwrap();
    assert!(
        line.starts_with(&format!(
            "run-finished notice not delivered to {shown}: HTTP 400"
        )),
        "{line}"
    );
    let doctor = p.exec(&["doctor"]);
    assert_has(
        &doctor.stdout,
        &[
            "webhook",
            &shown,
            "json format",
            "HTTP 400",
            "webhook-failed",
        ],
    );
    let log = p.exec(&["log", "--json"]);
    let report = p.read_file("REPORT.md");
    let orchlog = p.read_file("ORCHESTRATION_LOG.md");
    let daemon_log =
        std::fs::read_to_string(p.root().join(".baton/daemon.log")).unwrap_or_default();
    for (what, text) in [
        ("run stdout", ran.stdout.as_str()),
        ("run stderr", &ran.stderr),
        ("doctor", &doctor.stdout),
        ("doctor --json", &p.exec(&["doctor", "--json"]).stdout),
        ("log --json", &log.stdout),
        ("ls --json", &p.exec(&["ls", "--json"]).stdout),
        ("REPORT.md", &report),
        ("ORCHESTRATION_LOG.md", &orchlog),
        ("daemon.log", &daemon_log),
    ] {
        assert!(
            !text.contains(TOKEN),
            "{what} shows the webhook URL:\n{text}"
        );
    }
}

#[test]
fn a_bad_webhook_url_is_refused_without_showing_it() {
    let p = TestProject::new();
    p.write_config(&format!(
        "[notify]\nwebhook = \"ftp://example.invalid/{TOKEN}\"\n"
    ));
    let doctor = p.exec(&["doctor"]);
    assert_has(&doctor.stdout, &["notify.webhook", "http://"]);
    assert_lacks(&doctor.stdout, &[TOKEN]);
    assert_lacks(&failing_stderr(&p, &["task", "list"]), &[TOKEN]);
}
