//! `baton serve`'s page in a real browser: headless Chromium (through chromedriver) against a
//! real `baton serve --bind 127.0.0.1:0` over a live `baton run` with slow fake agents. The
//! page must name the agents and tasks, follow the store without a reload, act on the store,
//! and fit a phone; screenshots land in `target/serve-phone.png` and `target/serve-desktop.png`.

use std::io::BufRead;
use std::io::BufReader;
use std::io::Read;
use std::io::Write;
use std::net::TcpListener;
use std::path::Path;
use std::process::Stdio;
use std::sync::Arc;
use std::sync::atomic::AtomicBool;
use std::sync::atomic::AtomicUsize;
use std::sync::atomic::Ordering;
use std::time::Duration;

use serde_json::json;

use crate::common::FOUR_TASKS;
use crate::common::KillOnDrop;
use crate::common::TestProject;
use crate::common::assert_lacks;
use crate::common::baton_command;
use crate::common::browser::Browser;
use crate::common::live_run;
use crate::common::repo_root;
use crate::common::run_demo;
use crate::common::wait_until;

/// A running `baton serve` and the URL it printed.
struct Serve {
    _child: KillOnDrop,
    url: String,
}

/// Starts `baton serve --bind 127.0.0.1:0` in the project at `root` and reads the URL it
/// prints.
fn serve(root: &Path) -> Serve {
    serve_with(root, "127.0.0.1:0", &[])
}

/// Starts `baton serve --bind BIND EXTRA...` in the project at `root` and reads the URL it
/// prints.
fn serve_with(root: &Path, bind: &str, extra: &[&str]) -> Serve {
    let err_path = root.join("serve.err");
    let err = std::fs::File::create(&err_path).unwrap();
    let mut args = vec!["serve", "--bind", bind];
    args.extend_from_slice(extra);
    let mut child = baton_command(&args)
        .current_dir(root)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(err)
        .spawn()
        .unwrap();
    let stdout = child.stdout.take().unwrap();
    let child = KillOnDrop(child);
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        let mut line = String::new();
        let _ = BufReader::new(stdout).read_line(&mut line);
        let _ = tx.send(line);
    });
    let line = rx.recv_timeout(Duration::from_secs(30)).unwrap_or_default();
    let url = line
        .trim()
        .strip_prefix("baton serve: ")
        .unwrap_or_else(|| {
            panic!(
                "baton serve printed {line:?}; stderr:\n{}",
                std::fs::read_to_string(&err_path).unwrap_or_default()
            )
        })
        .to_owned();
    Serve { _child: child, url }
}

#[test]
fn page_follows_a_live_run_and_acts_on_the_store() {
    let Some(browser) = Browser::start() else {
        return;
    };
    let (p, _run) = live_run(FOUR_TASKS);
    let server = serve(p.root());
    browser.goto(&server.url);

    // The agents and the tasks, by name.
    browser.wait_text("#agent-list", 20, "both agents", |t| {
        t.contains("claude") && t.contains("codex") && t.matches("working").count() >= 2
    });
    browser.wait_text("#task-list", 20, "the four tasks", |t| {
        [
            "T-001",
            "Design the tool",
            "Write the code",
            "Write the docs",
            "Review it",
        ]
        .iter()
        .all(|s| t.contains(s))
    });
    // The plot of tasks done is drawn as inline SVG.
    browser.wait_find("#plot-list svg", 20);

    // A task finished in the store shows as done, without a reload (the marker survives).
    browser.js("window.batonMarker = 42;", json!([]));
    p.ok(&["task", "done", "T-001"]);
    browser.wait_text("#task-T-001 .status", 10, "T-001 done on the page", |t| {
        t == "COMPLETED"
    });
    assert_eq!(
        browser.js("return window.batonMarker;", json!([])),
        json!(42),
        "the page was reloaded"
    );

    // An action from the page reaches the store: block T-004 with a reason.
    browser.click_on("#task-T-004 button[data-act=\"block\"]", 10);
    browser.wait_find("#ask[open] #ask-text", 5);
    let reason = browser.wait_find("#ask-text", 5);
    browser.type_into(&reason, "waits for a decision");
    browser.click_on("#ask-ok", 5);
    wait_until(
        Duration::from_secs(10),
        "T-004 blocked in the store",
        || p.status("T-004") == "BLOCKED",
    );
    let web: Vec<_> = p
        .journal()
        .into_iter()
        .filter(|e| e["actor"] == "web")
        .collect();
    assert!(
        web.iter().any(|e| e["task"] == "T-004"),
        "no journal entry by `web` for T-004: {web:?}"
    );
    browser.wait_text("#task-T-004", 10, "T-004 blocked on the page", |t| {
        t.contains("BLOCKED") && t.contains("waits for a decision")
    });
    browser.wait_text("#journal-list", 10, "the action in the journal", |t| {
        t.contains("web")
    });

    // An agent's screen, live, in a <pre>.
    browser.click_on("button[data-key=\"screen-claude\"]", 5);
    browser.wait_text("#screen-text", 10, "claude's screen", |t| {
        !t.trim().is_empty() && t != "reading…" && !t.starts_with("(no screen")
    });
    browser.click_on("#screen-close", 5);

    // A task's history, on a click of its ID.
    browser.click_on("button[data-key=\"open-T-004\"]", 5);
    browser.wait_text("#detail-body", 10, "T-004's history", |t| {
        t.contains("History") && t.contains("web")
    });
    // No agent CLI told T-004's cost: a dash, never $0.
    browser.wait_text("#detail-body", 10, "T-004's cost unknown", |t| {
        let words = t.split_whitespace().collect::<Vec<_>>().join(" ");
        words.contains("Time — Cost — Tokens — in / — out")
    });
    browser.click_on("#detail-close", 5);
}

/// The page's other actions, each through its own control, each reaching the store as `web`:
/// add a task, filter the list, message a busy agent (refused, as `baton send` refuses, said
/// so on the page, then sent anyway when the person says so), pause and resume dispatch, ask
/// for a handoff.
#[test]
fn page_adds_filters_messages_pauses_and_hands_off() {
    let Some(browser) = Browser::start() else {
        return;
    };
    let (p, _run) = live_run(FOUR_TASKS);
    let server = serve(p.root());
    browser.goto(&server.url);
    browser.wait_text("#task-list", 20, "the four tasks", |t| t.contains("T-004"));
    let paused = |p: &TestProject| {
        serde_json::from_str::<serde_json::Value>(&p.ok(&["ls", "--json"])).unwrap()["paused"]
            .clone()
    };
    let by_web = |action: &str| {
        p.journal()
            .into_iter()
            .filter(|e| e["actor"] == "web" && e["action"] == action)
            .count()
    };

    // Add a task with the form (typed, then Enter submits it).
    let field = browser.wait_find("#add-title", 5);
    browser.type_into(&field, "Added from the phone\u{E007}");
    browser.wait_text("#task-list", 10, "the new task on the page", |t| {
        t.contains("T-005") && t.contains("Added from the phone")
    });
    assert_eq!(p.status("T-005"), "PENDING");
    assert_eq!(by_web("task-add"), 1, "{:?}", p.journal());

    // The filter: only what is in progress, then everything again.
    let choose = |value: &str| {
        browser.js(
            "const s = document.getElementById('filter'); s.value = arguments[0]; \
             s.dispatchEvent(new Event('change')); return s.value;",
            json!([value]),
        )
    };
    assert_eq!(choose("IN_PROGRESS"), json!("IN_PROGRESS"));
    browser.wait_text("#task-list", 10, "only the tasks in progress", |t| {
        t.contains("T-001") && t.contains("T-002") && !t.contains("T-005")
    });
    choose("COMPLETED");
    browser.wait_text("#task-list", 10, "no task done yet", |t| {
        t.contains("No task with this status.")
    });
    choose("all");
    browser.wait_text("#task-list", 10, "every task again", |t| {
        t.contains("T-001") && t.contains("T-005")
    });

    // A message to a busy agent is checked like `baton send`: refused, and the page says why;
    // nothing is typed into its pane.
    browser.click_on("button[data-key=\"send-claude\"]", 5);
    let text = browser.wait_find("#ask[open] #ask-text", 5);
    browser.type_into(&text, "a word from the page");
    browser.click_on("#ask-ok", 5);
    browser.wait_text("#message", 10, "the refusal", |t| {
        t.contains("(not ready): nothing sent")
    });
    // The page then offers to type it in anyway; accepted, it is typed in (and not checked:
    // the agent is busy), and journaled by `web` with its size, never its text.
    browser.wait_text("#ask-h", 10, "the offer to send anyway", |t| {
        t == "Send anyway?"
    });
    browser.click_on("#ask-ok", 5);
    // Typed into a busy agent, it cannot be checked: the page says so.
    browser.wait_text("#message", 20, "the message typed in", |t| {
        t.starts_with("typed into claude's input while it was working: not checked")
    });
    assert_eq!(by_web("message-sent"), 1, "{:?}", p.journal());
    let sent = p.journaled("message-sent");
    assert_eq!(sent[0]["target"], "claude");
    assert!(
        sent[0]["result"]
            .as_str()
            .is_some_and(|r| r.starts_with("20 bytes sent with force (typed while working")),
        "{sent:?}"
    );
    assert_lacks(
        &serde_json::to_string(&p.journal()).unwrap(),
        &["a word from the page"],
    );

    // Pause, then resume, with the same button; the store follows each click.
    browser.click_on("#pause", 5);
    wait_until(Duration::from_secs(10), "dispatch paused", || {
        by_web("dispatch-pause") == 1 && paused(&p) == json!(true)
    });
    browser.wait_text("#pause", 10, "the button offers to resume", |t| {
        t == "Resume dispatch"
    });
    browser.wait_text("#summary", 10, "the summary says paused", |t| {
        t.contains("dispatch PAUSED")
    });
    browser.click_on("#pause", 5);
    wait_until(Duration::from_secs(10), "dispatch resumed", || {
        by_web("dispatch-resume") == 1 && paused(&p) == json!(false)
    });

    // Ask for a handoff to the next of the chain.
    browser.click_on("#handoff", 5);
    browser.wait_find("#ask[open] #ask-select", 5);
    browser.click_on("#ask-ok", 5);
    browser.wait_text("#message", 10, "the handoff asked for", |t| {
        t.contains("handoff to the next of the chain asked for")
    });
    wait_until(
        Duration::from_secs(10),
        "the handoff request journaled",
        || by_web("handoff-request") == 1,
    );
}

/// The page over what `baton demo` leaves (`--keep`): four agents, a lead handoff, quota
/// readings and fifteen tasks done. Screenshots for people to look at (the README's is the
/// phone one).
#[test]
fn page_fits_a_phone_and_a_desktop() {
    let Some(browser) = Browser::start() else {
        return;
    };
    let demo = tempfile::Builder::new()
        .prefix("baton-serve-demo-")
        .tempdir()
        .unwrap();
    run_demo(demo.path(), &["--keep"]);
    let server = serve(demo.path());
    let target = repo_root().join("target");

    // 640×400 is a 1280×800 screen at 200 % zoom: it must not scroll sideways either.
    for (name, width, height, mobile) in [
        ("zoom", 640, 400, false),
        ("phone", 390, 844, true),
        ("desktop", 1280, 800, false),
    ] {
        browser.viewport(width, height, mobile);
        browser.goto(&server.url);
        browser.wait_text("#agent-list", 20, "the demo's agents", |t| {
            ["claude", "codex", "amp", "gemini", "ALERT"]
                .iter()
                .all(|s| t.contains(s))
        });
        browser.wait_text("#summary", 20, "the demo's tasks done", |t| {
            t.contains("done 15/15") && t.contains("lead amp")
        });
        browser.wait_text("#task-list", 20, "the demo's tasks", |t| {
            t.contains("Write hello.sh")
        });
        browser.wait_text("#handoffs", 20, "the handoff", |t| {
            t.contains("claude → amp")
        });
        // The plots: tasks done, and claude's quota with its handoff line.
        browser.wait_text("#plot-list", 30, "the plots", |t| {
            t.contains("Tasks done 15") && t.contains("handoff 93%")
        });
        // Nothing wider than the screen: no sideways scrolling.
        let widths = browser.js(
            "return [document.documentElement.scrollWidth, window.innerWidth];",
            json!([]),
        );
        assert!(
            widths[0].as_u64() <= widths[1].as_u64(),
            "{name}: the page is wider than the viewport: {widths}"
        );
        if name != "zoom" {
            browser.screenshot(&target.join(format!("serve-{name}.png")));
        }
    }
}

/// Whether the page fits the viewport (no sideways scrolling), and where the open dialog, if
/// any, sits: `[scrollWidth, innerWidth, dialog left, dialog right]`.
fn widths(browser: &Browser) -> Vec<i64> {
    let v = browser.js(
        "const d = document.querySelector('dialog[open]'); \
         const r = d ? d.getBoundingClientRect() : {left: 0, right: 0}; \
         return [document.documentElement.scrollWidth, window.innerWidth, \
                 Math.floor(r.left), Math.ceil(r.right)];",
        json!([]),
    );
    v.as_array()
        .unwrap()
        .iter()
        .map(|n| n.as_i64().unwrap())
        .collect()
}

/// The `data-key` of the focused element ("" for none, `body` for the page itself).
fn focused(browser: &Browser) -> String {
    browser
        .js(
            "const a = document.activeElement; \
             return !a || a === document.body ? 'body' : (a.dataset.key || a.id || a.tagName);",
            json!([]),
        )
        .as_str()
        .unwrap_or("")
        .to_owned()
}

/// A project whose daemon does not run, on a phone, served as on a public bind (the token
/// asked for): the token leaves the address bar and a reload still works; the cards say their
/// states are as last seen; a task's details show its body as text and never `null`; a
/// 300-character unbroken reason wraps (the page and its dialog stay on the screen); the ask
/// dialog works from the keyboard and gives focus back; an UNREPORTED task is confirmed done.
#[test]
fn page_on_a_phone_without_the_daemon() {
    let Some(browser) = Browser::start() else {
        return;
    };
    let p = TestProject::with_fake_agents(&[("claude", "claude", ""), ("codex", "codex", "")]);
    p.ok(&[
        "task",
        "add",
        "Parse the config",
        "--body",
        "Read baton.toml.\n<b>not bold</b> & kept as text",
    ]);
    p.ok(&["task", "add", "Write the docs"]);
    p.ok(&["task", "add", "Ship it"]);
    let server = serve_with(p.root(), "127.0.0.1:0", &["--require-token"]);
    assert!(server.url.contains("?token="), "{}", server.url);
    browser.viewport(390, 844, true);
    browser.goto(&server.url);
    browser.wait_text("#task-list", 20, "the three tasks", |t| {
        t.contains("T-001") && t.contains("Ship it")
    });

    // The token is out of the address bar, kept in the tab.
    assert_eq!(browser.js("return location.search;", json!([])), json!(""));
    assert_eq!(
        browser.js("return location.pathname;", json!([])),
        json!("/")
    );

    // The daemon is off: each card says its state is as last seen.
    browser.wait_text("#agent-list", 10, "both cards as last seen", |t| {
        t.matches("(last seen").count() == 2 && t.matches("daemon off)").count() == 2
    });

    // A PENDING task's details: its body as text (no markup run), no `null` anywhere.
    browser.click_on("button[data-key=\"open-T-001\"]", 5);
    let detail = browser.wait_text("#detail-body", 10, "T-001's body", |t| {
        t.contains("History") && t.contains("<b>not bold</b> & kept as text")
    });
    assert!(detail.contains("Read baton.toml.\n<b>"), "{detail:?}");
    assert!(browser.find("#detail-body .tbody b").is_none());
    let whole = browser.text("#detail");
    assert_lacks(&whole, &["null", "undefined", "NaN"]);
    browser.click_on("#detail-close", 5);
    assert_eq!(focused(&browser), "open-T-001");

    // The keyboard: Enter on Message opens the dialog, Enter in the field sends; focus goes
    // back to the Message button (no session runs: the page says so).
    // (A redraw between the focus and the key takes the focus away: then again, until the
    // dialog opens.)
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while browser.find("#ask[open]").is_none() {
        assert!(
            std::time::Instant::now() < deadline,
            "Enter on Message never opened the dialog"
        );
        browser.js(
            "document.querySelector('[data-key=\"send-claude\"]').focus();",
            json!([]),
        );
        browser.press("\u{E007}");
        std::thread::sleep(Duration::from_millis(100));
    }
    let text = browser.wait_find("#ask[open] #ask-text", 5);
    assert_eq!(focused(&browser), "ask-text");
    // A change in the store redraws the cards behind the dialog: the button that opened it
    // is replaced by a new one.
    browser.js(
        "document.querySelector('[data-key=\"send-claude\"]').dataset.old = '1';",
        json!([]),
    );
    p.ok(&["task", "add", "Added while the dialog is open"]);
    wait_until(Duration::from_secs(10), "the cards redrawn", || {
        browser
            .find("[data-key=\"send-claude\"][data-old]")
            .is_none()
    });
    // Shift+Enter makes a new line (the second Shift lets the key go), Enter sends.
    browser.type_into(&text, "first line\u{E008}\u{E007}\u{E008}second line");
    assert_eq!(
        browser.js(
            "return document.getElementById('ask-text').value;",
            json!([])
        ),
        json!("first line\nsecond line")
    );
    browser.type_into(&text, "\u{E007}");
    browser.wait_text("#message", 10, "the answer to the message", |t| {
        !t.is_empty() && t != "…"
    });
    assert!(
        browser.find("#ask[open]").is_none(),
        "the dialog is still open"
    );
    assert_eq!(focused(&browser), "send-claude");

    // Block T-002 from the keyboard with a 300-character unbroken reason: its Block button
    // goes with the status, so focus lands on the task's ID.
    let reason: String = "0123456789abcdef".chars().cycle().take(300).collect();
    browser.js(
        "document.querySelector('[data-key=\"block-T-002\"]').focus();",
        json!([]),
    );
    browser.press("\u{E007}");
    let text = browser.wait_find("#ask[open] #ask-text", 5);
    browser.type_into(&text, &format!("{reason}\u{E007}"));
    wait_until(
        Duration::from_secs(10),
        "T-002 blocked in the store",
        || p.status("T-002") == "BLOCKED",
    );
    browser.wait_text("#task-T-002", 10, "the reason on the page", |t| {
        t.contains("BLOCKED") && t.contains(&reason[..40])
    });
    let shown = p.json(&["task", "show", "T-002", "--json"]);
    assert_eq!(shown["blocked_reason"], json!(reason));
    assert_eq!(focused(&browser), "open-T-002");
    let w = widths(&browser);
    assert!(
        w[0] <= w[1] && w[1] == 390,
        "the page is wider than the phone: {w:?}"
    );

    // Its details, in a dialog that stays on the screen.
    browser.click_on("button[data-key=\"open-T-002\"]", 5);
    browser.wait_text("#detail-body", 10, "T-002's reason", |t| {
        t.contains("Blocked: 0123")
    });
    let w = widths(&browser);
    assert!(
        w[0] <= w[1] && w[1] == 390 && w[2] >= 0 && w[3] <= w[1],
        "the dialog or the page is off the phone's screen: {w:?}"
    );
    browser.click_on("#detail-close", 5);

    // An UNREPORTED task (set in the store as the daemon leaves one) is confirmed done.
    let db = rusqlite::Connection::open(p.root().join(".baton/state.db")).unwrap();
    db.busy_timeout(Duration::from_secs(10)).unwrap();
    db.execute(
        "UPDATE tasks SET status = 'UNREPORTED', assignee = 'claude' WHERE id = 3",
        [],
    )
    .unwrap();
    drop(db);
    browser.click_on("button[data-act=\"done\"][data-task=\"T-003\"]", 15);
    wait_until(Duration::from_secs(10), "T-003 completed", || {
        p.status("T-003") == "COMPLETED"
    });
    let done = p.journaled("task-done");
    assert_eq!(done.last().unwrap()["actor"], "web", "{done:?}");
    browser.wait_text("#task-T-003 .status", 10, "T-003 done on the page", |t| {
        t == "COMPLETED"
    });

    // A reload in the tab still reads the state (the token kept in the tab).
    browser.js("window.batonMarker = 1;", json!([]));
    browser.reload();
    browser.wait_text("#task-list", 20, "the tasks after the reload", |t| {
        t.contains("T-003") && t.contains("Ship it")
    });
    assert_eq!(
        browser.js("return window.batonMarker;", json!([])),
        json!(null)
    );
    assert_lacks(&browser.text("#message"), &["refused"]);
    assert_eq!(browser.js("return location.search;", json!([])), json!(""));
}

/// A stand-in on a port that answers every request 503 (what `baton serve` answers a stream
/// over its cap), counting the event streams asked for; stopped (its port freed) when dropped.
struct Refuser {
    stop: Arc<AtomicBool>,
    streams: Arc<AtomicUsize>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Refuser {
    fn start(addr: &str) -> Refuser {
        let mut listener = None;
        wait_until(Duration::from_secs(10), "the port free again", || {
            listener = TcpListener::bind(addr).ok();
            listener.is_some()
        });
        let listener = listener.unwrap();
        listener.set_nonblocking(true).unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let streams = Arc::new(AtomicUsize::new(0));
        let (stop2, streams2) = (Arc::clone(&stop), Arc::clone(&streams));
        let thread = std::thread::spawn(move || {
            while !stop2.load(Ordering::SeqCst) {
                let Ok((mut s, _)) = listener.accept() else {
                    std::thread::sleep(Duration::from_millis(10));
                    continue;
                };
                let _ = s.set_nonblocking(false);
                let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
                let mut head = Vec::new();
                let mut buf = [0u8; 2048];
                while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                    match s.read(&mut buf) {
                        Ok(0) | Err(_) => break,
                        Ok(n) => head.extend_from_slice(&buf[..n]),
                    }
                }
                if head.starts_with(b"GET /api/events") {
                    streams2.fetch_add(1, Ordering::SeqCst);
                }
                let body = r#"{"error": "64 event streams are open already"}"#;
                let _ = write!(
                    s,
                    "HTTP/1.1 503 Service Unavailable\r\ncontent-type: application/json\r\n\
                     content-length: {}\r\nconnection: close\r\n\r\n{body}",
                    body.len()
                );
            }
        });
        Refuser {
            stop,
            streams,
            thread: Some(thread),
        }
    }
}

impl Drop for Refuser {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

/// The server goes away and its port answers 503 (a stream refused, as over the cap): the
/// browser gives the event stream up, the page makes new ones, and once `baton serve` is back
/// on the same port the page says it is live, shows a task added meanwhile without a reload,
/// and drops its stale "could not read the state" message.
#[test]
fn page_reconnects_to_a_restarted_server() {
    let Some(browser) = Browser::start() else {
        return;
    };
    let p = TestProject::with_fake_agents(&[("claude", "claude", "")]);
    p.ok(&["task", "add", "Before the restart"]);
    let first = serve(p.root());
    let addr = first
        .url
        .strip_prefix("http://")
        .and_then(|u| u.split_once('/'))
        .map(|(addr, _)| addr.to_owned())
        .unwrap();
    browser.goto(&first.url);
    browser.wait_text("#task-list", 20, "the first task", |t| t.contains("T-001"));
    browser.wait_text("#live", 10, "the stream open", |t| t == "live");
    browser.js("window.batonMarker = 7;", json!([]));

    drop(first);
    let refuser = Refuser::start(&addr);
    // A 503 makes the browser give the stream up for good (CLOSED): the page says so.
    browser.wait_text("#live", 30, "the stream given up", |t| {
        t.starts_with("offline: retry in")
    });
    // A read of the state fails meanwhile, and says so.
    browser.js(
        "const s = document.getElementById('filter'); s.value = 'open'; \
         s.dispatchEvent(new Event('change'));",
        json!([]),
    );
    browser.wait_text("#message", 10, "the failed read", |t| {
        t.starts_with("could not read the state") && t.contains("503")
    });
    // The page asks for a new stream after the browser gave one up.
    wait_until(Duration::from_secs(20), "a new stream asked for", || {
        refuser.streams.load(Ordering::SeqCst) >= 2
    });

    drop(refuser);
    let _second = serve_with(p.root(), &addr, &[]);
    p.ok(&["task", "add", "After the restart"]);
    browser.wait_text("#live", 40, "the stream open again", |t| t == "live");
    browser.wait_text("#task-list", 10, "the task added after the restart", |t| {
        t.contains("T-002") && t.contains("After the restart")
    });
    browser.wait_text("#message", 10, "the stale message gone", |t| {
        !t.contains("could not read")
    });
    assert_eq!(
        browser.js("return window.batonMarker;", json!([])),
        json!(7),
        "the page was reloaded"
    );
}

/// A project without agents says so instead of a blank section.
#[test]
fn page_says_there_are_no_agents() {
    let Some(browser) = Browser::start() else {
        return;
    };
    let p = TestProject::new();
    p.write_config("");
    let server = serve(p.root());
    browser.goto(&server.url);
    browser.wait_text("#agent-list", 20, "no agents said", |t| {
        t == "No agents in baton.toml."
    });
    browser.wait_text("#task-list", 10, "no tasks said", |t| t == "No task yet.");
}

/// The harness itself: Chromium starts, runs script, clicks, types and takes a screenshot.
#[test]
fn browser_harness_drives_chromium() {
    let Some(browser) = Browser::start() else {
        return;
    };
    let page = "<meta name=viewport content=\"width=device-width\"><button id=b>go</button><input id=i><p id=o></p>\
                <script>b.onclick = () => o.textContent = 'clicked ' + i.value;</script>";
    browser.goto(&format!("data:text/html,{}", page.replace('#', "%23")));
    browser.type_into(&browser.wait_find("#i", 10), "hello");
    browser.click_on("#b", 10);
    browser.wait_text("#o", 10, "the click", |t| t == "clicked hello");
    browser.viewport(390, 844, true);
    assert_eq!(
        browser.js("return window.innerWidth;", json!([])),
        json!(390)
    );
    let dir = tempfile::tempdir().unwrap();
    let png = dir.path().join("shot.png");
    browser.screenshot(&png);
    assert!(std::fs::metadata(&png).unwrap().len() > 100);
}

#[test]
fn base64_decodes_as_the_standard_says() {
    use crate::common::browser::decode_base64;
    assert_eq!(decode_base64("aGVsbG8="), b"hello");
    assert_eq!(decode_base64("aGVsbG8h"), b"hello!");
    assert_eq!(decode_base64("aGk="), b"hi");
    assert_eq!(decode_base64("+/8A\n"), [0xfb, 0xff, 0x00]);
}
