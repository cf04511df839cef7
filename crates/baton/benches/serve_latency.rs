//! `baton serve` with 100 agents and 10,000 tasks: how soon a change committed to the store
//! reaches the event streams, the page's `/api/state`, and the page drawn in headless
//! Chromium; how many requests the page makes and how much CPU the server uses while nothing
//! changes. Run: `cargo bench -p baton --bench serve_latency`.
//!
//! Each change is one SQL transaction on `.baton/state.db` (a task's title), timed from just
//! before it: to the `event: change` line on each of ten raw `/api/events` streams; to the
//! first `/api/state` answer (asked when the first event came, as the page does) that holds
//! the new title; and to the moment the page in Chromium shows it (a `MutationObserver` in
//! the page notes `Date.now()`; the bench's clock is the same wall clock). Changes come at a
//! pseudo-random 0–250 ms apart so that they land at any moment of the server's 100 ms poll.
//! The browser row is skipped, and says so, when `chromium` or `chromedriver` is missing.

mod common;

#[allow(dead_code)]
#[path = "../tests/common/browser.rs"]
mod browser;

use std::io::BufRead;
use std::io::BufReader;
use std::io::Read;
use std::io::Write;
use std::net::TcpStream;
use std::path::Path;
use std::process::Child;
use std::process::Stdio;
use std::sync::mpsc;
use std::time::Duration;
use std::time::Instant;

use common::baton_command;
use common::now_ms;
use common::report_us;
use rusqlite::Connection;
use rusqlite::params;
use serde_json::Value;

/// A running `baton serve`, killed when dropped.
struct Serve {
    child: Child,
    addr: String,
    token: String,
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Serve {
    fn start(root: &Path) -> Serve {
        let mut child = baton_command(root, &["serve", "--bind", "127.0.0.1:0", "--json"])
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("start baton serve");
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let v: Value = serde_json::from_str(&line)
            .unwrap_or_else(|e| panic!("baton serve printed {line:?}: {e}"));
        let url = v["url"].as_str().unwrap();
        let token = url.split_once("token=").unwrap().1.to_owned();
        Serve {
            child,
            addr: v["bind"].as_str().unwrap().to_owned(),
            token,
        }
    }

    /// One GET (a connection of its own, closed after the answer); returns the body.
    fn get(&self, path: &str) -> String {
        let mut s = TcpStream::connect(&self.addr).unwrap();
        write!(
            s,
            "GET {path} HTTP/1.1\r\nHost: {}\r\nX-Baton-Token: {}\r\nConnection: close\r\n\r\n",
            self.addr, self.token
        )
        .unwrap();
        let mut text = String::new();
        s.read_to_string(&mut text).unwrap();
        let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
        assert!(head.starts_with("HTTP/1.1 200"), "GET {path}: {head}");
        body.to_owned()
    }

    /// Opens an event stream on a thread that sends the time of each `event: change`.
    fn stream(&self, tx: mpsc::Sender<(usize, Instant)>, n: usize) {
        let mut s = TcpStream::connect(&self.addr).unwrap();
        write!(
            s,
            "GET /api/events HTTP/1.1\r\nHost: {}\r\nX-Baton-Token: {}\r\nAccept: text/event-stream\r\n\r\n",
            self.addr, self.token
        )
        .unwrap();
        std::thread::spawn(move || {
            for line in BufReader::new(s).lines() {
                let Ok(line) = line else { return };
                if line == "event: change" && tx.send((n, Instant::now())).is_err() {
                    return;
                }
            }
        });
    }

    fn status(&self) -> Value {
        serde_json::from_str(&self.get("/api/status")).unwrap()
    }
}

/// The CPU ticks (user + system) a process used so far.
fn cpu_ticks(pid: u32) -> u64 {
    common::cpu_ticks(pid).expect("the server's /proc/<pid>/stat")
}

/// Installed in the page: notes when the body first shows `window.__want`.
const WATCH: &str = "window.__want = arguments[0]; window.__seen = 0;
if (!window.__obs) {
  window.__obs = new MutationObserver(() => {
    if (window.__want && !window.__seen && document.body.textContent.includes(window.__want)) {
      window.__seen = Date.now();
    }
  });
  window.__obs.observe(document.body, { childList: true, subtree: true, characterData: true });
}
return true;";

const STREAMS: usize = 10;

fn main() {
    // `cargo bench` passes --bench; `cargo test --benches` passes nothing: run a small version.
    let full = std::env::args().any(|a| a == "--bench");
    let (agents, tasks, changes, idle_secs) = if full {
        (100, 10_000, 200, 10)
    } else {
        (10, 300, 5, 1)
    };
    let dir = tempfile::tempdir().unwrap();
    let root = dir.path();
    common::timed_project(root, "s", agents, tasks);
    let serve = Serve::start(root);
    let state_bytes = serve.get("/api/state").len();
    println!("/api/state: {state_bytes} bytes");

    let (tx, rx) = mpsc::channel();
    for n in 0..STREAMS {
        serve.stream(tx.clone(), n);
    }
    drop(tx);

    let browser = browser::which(&["chromium", "chromium-browser"])
        .and(browser::which(&["chromedriver"]))
        .and_then(|_| browser::Browser::start());
    match &browser {
        Some(b) => {
            b.viewport(390, 844, true);
            b.goto(&format!("http://{}/?token={}", serve.addr, serve.token));
            b.wait_text("body", 30, "the agents on the page", |t| {
                t.contains("agent000")
            });
        }
        None => println!("browser row skipped: chromium or chromedriver is not on PATH"),
    }

    // Let the page finish loading (its plots come after the state, at most every 3 s): until
    // no request came for 4 s.
    let mut last = serve.status()["requests"].as_u64().unwrap();
    loop {
        std::thread::sleep(Duration::from_secs(4));
        let now = serve.status()["requests"].as_u64().unwrap();
        if now == last + 1 {
            break;
        }
        last = now;
    }
    // Nothing changes: the page must make no request, and the server stay cold.
    let before = serve.status()["requests"].as_u64().unwrap();
    let hz = common::clk_tck() as f64;
    let cpu_before = cpu_ticks(serve.child.id());
    std::thread::sleep(Duration::from_secs(idle_secs));
    let idle_cpu = (cpu_ticks(serve.child.id()) - cpu_before) as f64 / hz;
    // The status request itself is one.
    let made = serve.status()["requests"].as_u64().unwrap() - before - 1;
    println!(
        "idle {idle_secs} s: {made} requests from the page and streams, server CPU {idle_cpu:.3} s ({:.2} %)",
        idle_cpu / idle_secs as f64 * 100.0
    );

    let db = Connection::open(root.join(".baton/state.db")).unwrap();
    db.busy_timeout(Duration::from_secs(10)).unwrap();
    let (mut to_event, mut to_state, mut to_page) = (Vec::new(), Vec::new(), Vec::new());
    let cpu_before = cpu_ticks(serve.child.id());
    let began = Instant::now();
    for n in 1..=changes {
        let title = format!("changed live {n:05}");
        if let Some(b) = &browser {
            b.js(WATCH, serde_json::json!([title]));
        }
        let wall = now_ms();
        let t = Instant::now();
        db.execute(
            "UPDATE tasks SET title = ?1, updated_ms = ?2 WHERE id = 1",
            params![title, wall],
        )
        .unwrap();
        // Every stream gets its event; the first one makes the page's request.
        let mut got = 0;
        while got < STREAMS {
            let (_, at) = rx
                .recv_timeout(Duration::from_secs(5))
                .unwrap_or_else(|e| panic!("change {n}: an event stream got nothing: {e}"));
            if got == 0 {
                assert!(
                    serve.get("/api/state").contains(&title),
                    "change {n}: /api/state after the event does not hold it"
                );
                to_state.push(t.elapsed().as_micros() as u64);
            }
            to_event.push(at.duration_since(t).as_micros() as u64);
            got += 1;
        }
        if let Some(b) = &browser {
            let deadline = Instant::now() + Duration::from_secs(5);
            loop {
                let seen = b.js("return window.__seen;", serde_json::json!([]));
                if let Some(seen) = seen.as_i64().filter(|s| *s > 0) {
                    to_page.push((seen - wall).max(0) as u64 * 1000);
                    break;
                }
                assert!(
                    Instant::now() < deadline,
                    "change {n} never showed in the page"
                );
                std::thread::sleep(Duration::from_millis(5));
            }
        }
        std::thread::sleep(Duration::from_millis((n as u64 * 7_919) % 250));
    }
    let busy = (cpu_ticks(serve.child.id()) - cpu_before) as f64 / hz;
    let took = began.elapsed().as_secs_f64();
    println!(
        "server CPU with {changes} changes over {took:.0} s: {busy:.3} s ({:.1} %)",
        busy / took * 100.0
    );
    let status = std::fs::read_to_string(format!("/proc/{}/status", serve.child.id())).unwrap();
    let field = |name: &str| {
        status
            .lines()
            .find_map(|l| l.strip_prefix(name))
            .map_or("?".to_owned(), |v| v.trim().to_owned())
    };
    println!(
        "server memory: {} resident now, {} at most; {} threads",
        field("VmRSS:"),
        field("VmHWM:"),
        field("Threads:")
    );
    report_us(
        &format!("store commit → event on {STREAMS} streams"),
        to_event,
    );
    report_us("store commit → /api/state holds it", to_state);
    if browser.is_some() {
        report_us("store commit → shown in Chromium (ms clock)", to_page);
    }
}
