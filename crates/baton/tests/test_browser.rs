//! `baton serve`'s page in a real browser: headless Chromium (through chromedriver) against a
//! real `baton serve --bind 127.0.0.1:0` over a live `baton run` with slow fake agents. The
//! page must name the agents and tasks, follow the store without a reload, act on the store,
//! and fit a phone; screenshots land in `target/serve-phone.png` and `target/serve-desktop.png`.

use std::io::BufRead;
use std::io::BufReader;
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use serde_json::json;

use crate::common::FOUR_TASKS;
use crate::common::KillOnDrop;
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
    let err_path = root.join("serve.err");
    let err = std::fs::File::create(&err_path).unwrap();
    let mut child = baton_command(&["serve", "--bind", "127.0.0.1:0"])
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
    let paused = |p: &crate::common::TestProject| {
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
