//! `baton serve`: the HTTP API, its token and its live events (real server, loopback only).

use std::io::BufRead;
use std::io::BufReader;
use std::io::Read;
use std::io::Write;
use std::net::TcpStream;
use std::os::unix::fs::PermissionsExt;
use std::process::Child;
use std::process::Stdio;
use std::time::Duration;
use std::time::Instant;

use serde_json::Value;

use crate::common::TestProject;
use crate::common::assert_has;
use crate::common::assert_lacks;
use crate::common::live_run;

/// A running `baton serve`, killed (by its own pid) when dropped.
struct Serve {
    child: Child,
    /// `127.0.0.1:PORT`.
    addr: String,
    token: String,
}

impl Serve {
    /// Starts `baton serve --bind 127.0.0.1:0` and reads the URL line it prints.
    fn start(p: &TestProject, extra: &[&str]) -> Serve {
        let mut args = vec!["serve", "--bind", "127.0.0.1:0"];
        args.extend_from_slice(extra);
        let mut child = p.spawn(&args, Stdio::piped);
        let mut line = String::new();
        BufReader::new(child.stdout.take().unwrap())
            .read_line(&mut line)
            .unwrap();
        let url = line
            .trim()
            .strip_prefix("baton serve: http://")
            .unwrap_or_else(|| panic!("not the URL line: {line:?}"));
        let (addr, token) = url.split_once("/?token=").unwrap();
        Serve {
            child,
            addr: addr.to_owned(),
            token: token.to_owned(),
        }
    }

    /// Sends one request (`headers` as `Name: value` lines); returns the status and the body.
    fn ask(&self, method: &str, path: &str, headers: &[&str], body: &str) -> (u16, String) {
        let mut s = TcpStream::connect(&self.addr).unwrap();
        s.set_read_timeout(Some(Duration::from_secs(30))).unwrap();
        let mut head = format!(
            "{method} {path} HTTP/1.1\r\nHost: {}\r\nConnection: close\r\nContent-Length: {}\r\n",
            self.addr,
            body.len()
        );
        for h in headers {
            head.push_str(h);
            head.push_str("\r\n");
        }
        head.push_str("\r\n");
        s.write_all(head.as_bytes()).unwrap();
        s.write_all(body.as_bytes()).unwrap();
        let mut out = String::new();
        s.read_to_string(&mut out).unwrap();
        let status = out
            .split(' ')
            .nth(1)
            .and_then(|c| c.parse().ok())
            .unwrap_or_else(|| panic!("no status: {out:?}"));
        let body = out.split_once("\r\n\r\n").map_or("", |(_, b)| b).to_owned();
        (status, body)
    }

    /// GETs a JSON endpoint with the token in the header; panics unless it answers 200.
    fn get(&self, path: &str) -> Value {
        let header = format!("X-Baton-Token: {}", self.token);
        let (status, body) = self.ask("GET", path, &[&header], "");
        assert_eq!(status, 200, "{path}: {body}");
        serde_json::from_str(&body).unwrap_or_else(|e| panic!("{path}: {e}: {body}"))
    }

    /// POSTs an action the way the page does; returns the status and the answer.
    fn act(&self, body: &str, extra: &[&str]) -> (u16, String) {
        let token = format!("X-Baton-Token: {}", self.token);
        let origin = format!("Origin: http://{}", self.addr);
        // The extra headers first: a second `Origin` is not the one read.
        let mut headers = extra.to_vec();
        headers.extend_from_slice(&[token.as_str(), origin.as_str()]);
        self.ask("POST", "/api/action", &headers, body)
    }

    /// Stops it with SIGTERM and returns its exit code.
    fn terminate(mut self) -> Option<i32> {
        let pid = self.child.id().to_string();
        let sent = std::process::Command::new("kill")
            .args(["-TERM", &pid])
            .status()
            .unwrap();
        assert!(sent.success());
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Some(status) = self.child.try_wait().unwrap() {
                return status.code();
            }
            assert!(
                Instant::now() < deadline,
                "baton serve did not stop on SIGTERM"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Serve {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// An open `/api/events` stream.
struct Events {
    stream: TcpStream,
    seen: String,
}

impl Events {
    fn open(serve: &Serve) -> Events {
        let mut stream = TcpStream::connect(&serve.addr).unwrap();
        let req = format!(
            "GET /api/events?token={} HTTP/1.1\r\nHost: {}\r\n\r\n",
            serve.token, serve.addr
        );
        stream.write_all(req.as_bytes()).unwrap();
        stream
            .set_read_timeout(Some(Duration::from_millis(100)))
            .unwrap();
        let mut e = Events {
            stream,
            seen: String::new(),
        };
        e.wait_for(Duration::from_secs(10), "the stream's head", |s| {
            s.contains("text/event-stream")
        });
        e
    }

    /// Reads until `cond` holds of all that arrived; panics after `timeout`.
    fn wait_for(&mut self, timeout: Duration, what: &str, cond: impl Fn(&str) -> bool) {
        let deadline = Instant::now() + timeout;
        let mut buf = [0u8; 4096];
        while !cond(&self.seen) {
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {what}; the stream said: {:?}",
                self.seen
            );
            match self.stream.read(&mut buf) {
                Ok(0) => panic!("the stream ended: {:?}", self.seen),
                Ok(n) => self.seen.push_str(&String::from_utf8_lossy(&buf[..n])),
                Err(e)
                    if matches!(
                        e.kind(),
                        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
                    ) => {}
                Err(e) => panic!("{e}"),
            }
        }
    }
}

fn ids(list: &Value, field: &str) -> Vec<String> {
    list.as_array()
        .unwrap()
        .iter()
        .map(|v| v[field].as_str().unwrap_or("").to_owned())
        .collect()
}

#[test]
fn serve_shows_a_live_run_and_pushes_its_changes() {
    let (p, _run) = live_run("- [ ] Design the tool\n- [ ] Write the code\n- [ ] Write the docs\n");
    let serve = Serve::start(&p, &[]);

    let state = serve.get("/api/state");
    assert_eq!(ids(&state["agents"], "name"), ["claude", "codex"]);
    assert_eq!(ids(&state["tasks"], "id"), ["T-001", "T-002", "T-003"]);
    assert_eq!(state["counts"]["IN_PROGRESS"], 2, "{state}");
    assert_eq!(state["lead"]["current"], "claude");
    let working: Vec<&Value> = state["agents"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|a| a["task"].is_string())
        .collect();
    assert_eq!(working.len(), 2, "{state}");
    assert_eq!(state["agents"][0]["host"], "local");
    // The server filters and pages the tasks: the page asks for what it shows.
    let page = serve.get("/api/state?filter=PENDING&limit=5");
    assert_eq!(ids(&page["tasks"], "id"), ["T-003"], "{page}");
    assert_eq!(page["tasks_total"], 1, "{page}");
    let page = serve.get("/api/state?filter=open&limit=1");
    assert_eq!(page["tasks"].as_array().unwrap().len(), 1, "{page}");
    assert_eq!(page["tasks_total"], 3, "{page}");
    assert_eq!(
        page["counts"]["total"], 3,
        "the counts are of every task: {page}"
    );
    let page = serve.get("/api/state?filter=open&limit=1&offset=2");
    assert_eq!(ids(&page["tasks"], "id"), ["T-003"], "{page}");
    for bad in ["filter=someday", "limit=many", "limit=0", "offset=-1"] {
        let (status, body) = serve.ask("GET", &format!("/api/state?{bad}"), &[], "");
        assert_eq!(status, 400, "{bad}: {body}");
    }

    // A task finished in the store is pushed to an open stream.
    let mut events = Events::open(&serve);
    p.ok(&["task", "done", "T-001", "--note", "shipped"]);
    events.wait_for(Duration::from_secs(10), "a change event", |s| {
        s.contains("event: change\ndata: {\"change\":")
    });
    let state = serve.get("/api/state");
    let t1 = &state["tasks"].as_array().unwrap()[..]
        .iter()
        .find(|t| t["id"] == "T-001")
        .cloned()
        .unwrap();
    assert_eq!(t1["status"], "COMPLETED", "{state}");
    assert!(state["change"].as_u64().unwrap() >= 1, "{state}");

    // The other reads.
    let task = serve.get("/api/task?id=T-001");
    assert_eq!(task["status"], "COMPLETED");
    assert!(ids(&task["history"], "action").contains(&"task-done".to_owned()));
    // Cost and tokens nobody told are null, not 0; the time is known.
    for field in ["cost_usd", "input_tokens", "output_tokens"] {
        assert!(task[field].is_null(), "{field}: {task}");
    }
    assert!(task["duration_ms"].as_i64().is_some(), "{task}");
    let done = serve.get("/api/done");
    assert_eq!(done["points"].as_array().unwrap().len(), 1, "{done}");
    assert_eq!(done["points"][0]["done"], 1, "{done}");
    assert_eq!(done["total"], 1, "{done}");
    let quota = serve.get("/api/quota?agent=codex");
    assert_eq!(quota["agent"], "codex");
    assert!(quota["points"].is_array() && quota["projection"].is_array());
    // Without an agent: every agent's, in one answer, in the configuration's order.
    let all = serve.get("/api/quota");
    assert_eq!(ids(&all["agents"], "agent"), ["claude", "codex"], "{all}");
    assert_eq!(all["agents"][1]["points"], quota["points"], "{all}");
    assert_eq!(serve.ask("GET", "/api/quota?agent=nobody", &[], "").0, 404);
    let screen = serve.get("/api/screen?agent=claude");
    assert!(
        screen["text"].as_str().unwrap().contains("Claude Code"),
        "{screen}"
    );
    assert_eq!(serve.ask("GET", "/api/screen?agent=nobody", &[], "").0, 404);
    assert_eq!(serve.ask("GET", "/api/task?id=T-999", &[], "").0, 404);

    // The page and its files, under their policy.
    let (status, page) = serve.ask("GET", "/", &[], "");
    assert_eq!(status, 200);
    assert!(page.contains("<html"), "{page}");
    assert_eq!(serve.ask("GET", "/app.js", &[], "").0, 200);
    assert_eq!(serve.ask("GET", "/nothing", &[], "").0, 404);

    assert_eq!(serve.terminate(), Some(0));
}

#[test]
fn serve_refuses_what_it_must_and_acts_as_web() {
    let p = TestProject::with_fake_agents(&[("claude", "claude", ""), ("codex", "codex", "")]);
    p.ok(&["task", "add", "Parse the config"]);
    p.ok(&["task", "add", "Write the docs"]);
    let serve = Serve::start(&p, &["--require-token"]);
    let token_file = p.root().join(".baton/serve.token");
    let mode = std::fs::metadata(&token_file).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
    assert_eq!(
        std::fs::read_to_string(&token_file).unwrap().trim(),
        serve.token
    );

    // Every request needs the right token.
    assert_eq!(serve.ask("GET", "/api/state", &[], "").0, 401);
    assert_eq!(
        serve
            .ask("GET", "/api/state", &["X-Baton-Token: wrong"], "")
            .0,
        401
    );
    let wrong_query = "/api/state?token=0000";
    assert_eq!(serve.ask("GET", wrong_query, &[], "").0, 401);
    // The page's own files hold no data: they load without it (the page then asks the API
    // with the token of its URL), so the printed URL works on a public bind.
    for file in ["/", "/app.js", "/style.css"] {
        let (status, body) = serve.ask("GET", file, &[], "");
        assert_eq!(status, 200, "{file}: {body}");
        assert_lacks(&body, &[&serve.token]);
    }
    let state = serve.get("/api/state");
    assert_eq!(ids(&state["tasks"], "id"), ["T-001", "T-002"]);
    let status = serve.get("/api/status");
    assert_eq!(status["refused"], 3, "{status}");
    assert_eq!(status["token_required"], true);

    // Actions: the token in the header, JSON, from the page's own origin.
    let block = r#"{"action": "block", "task": "T-001", "reason": "needs a decision"}"#;
    let json = "Content-Type: application/json";
    let (status, _) = serve.act(block, &["Origin: http://evil.example", json]);
    assert_eq!(status, 403);
    let (status, _) = serve.act(block, &["Content-Type: text/plain"]);
    assert_eq!(status, 415);
    let in_query = format!("/api/action?token={}", serve.token);
    assert_eq!(serve.ask("POST", &in_query, &[json], block).0, 401);
    assert_eq!(
        p.status("T-001"),
        "PENDING",
        "a refused action changed nothing"
    );
    assert!(p.journal().iter().all(|e| e["actor"] != "web"));
    assert_eq!(serve.get("/api/status")["refused"], 6);

    let (status, body) = serve.act(block, &[json]);
    assert_eq!(status, 200, "{body}");
    assert_has(&body, &[r#""ok":true"#, "T-001 is BLOCKED"]);
    assert_eq!(p.status("T-001"), "BLOCKED");
    let web: Vec<Value> = p
        .journal()
        .into_iter()
        .filter(|e| e["actor"] == "web")
        .collect();
    assert_eq!(web.len(), 1, "{web:?}");
    assert_eq!(web[0]["action"], "task-block");
    assert_eq!(web[0]["task"], "T-001");

    // More actions, and what a wrong one says.
    let (status, body) = serve.act(r#"{"action": "add", "text": "From the page"}"#, &[json]);
    assert_eq!(status, 200, "{body}");
    assert_eq!(p.status("T-003"), "PENDING");
    let (status, _) = serve.act(r#"{"action": "pause"}"#, &[json]);
    assert_eq!(status, 200);
    assert_eq!(p.journaled("dispatch-pause")[0]["actor"], "web");
    let (status, body) = serve.act(r#"{"action": "block", "task": "T-002"}"#, &[json]);
    assert_eq!(status, 400, "{body}");
    assert_has(&body, &["needs `reason`"]);
    let (status, _) = serve.act(r#"{"action": "explode"}"#, &[json]);
    assert_eq!(status, 400);
    // Too big a body is said so, not parsed in half.
    let big = format!(
        r#"{{"action": "add", "text": "{}"}}"#,
        "x".repeat(70 * 1024)
    );
    let (status, body) = serve.act(&big, &[json]);
    assert_eq!(status, 413, "{body}");
    assert!(
        !p.run(&["task", "show", "T-004"]).status.success(),
        "nothing was added"
    );

    // `done` confirms a task that ended unreported, and nothing else: an agent reports its
    // own work. (The store is set as the daemon leaves such a task.)
    let (status, body) = serve.act(r#"{"action": "done", "task": "T-002"}"#, &[json]);
    assert_eq!(status, 409, "{body}");
    assert_has(
        &body,
        &["T-002 is PENDING: only a task that ended unreported"],
    );
    let db = rusqlite::Connection::open(p.root().join(".baton/state.db")).unwrap();
    db.busy_timeout(Duration::from_secs(10)).unwrap();
    db.execute(
        "UPDATE tasks SET status = 'UNREPORTED', assignee = 'claude' WHERE id = 2",
        [],
    )
    .unwrap();
    drop(db);
    let (status, body) = serve.act(r#"{"action": "done", "task": "T-002"}"#, &[json]);
    assert_eq!(status, 200, "{body}");
    assert_eq!(p.status("T-002"), "COMPLETED");
    let done = p.journaled("task-done");
    assert_eq!(done.last().unwrap()["actor"], "web", "{done:?}");

    // The token is in no log.
    let token = serve.token.clone();
    assert_eq!(serve.terminate(), Some(0));
    for f in [".baton/journal.jsonl", "ORCHESTRATION_LOG.md"] {
        assert_lacks(&p.read_file(f), &[&token]);
    }
    assert_lacks(&p.ok(&["log", "--json"]), &[&token]);

    // --rotate-token replaces it; the old one is refused.
    let serve = Serve::start(&p, &["--rotate-token"]);
    assert_ne!(serve.token, token);
    assert_eq!(
        std::fs::read_to_string(&token_file).unwrap().trim(),
        serve.token
    );
    let old = format!("X-Baton-Token: {token}");
    assert_eq!(serve.ask("GET", "/api/state", &[&old], "").0, 401);
    // On loopback without --require-token, no token is needed.
    assert_eq!(serve.ask("GET", "/api/state", &[], "").0, 200);
    let again = Serve::start(&p, &[]);
    assert_eq!(again.token, serve.token, "the token is kept between starts");

    // A rotation run beside a running server revokes the old token in it at once...
    let running = Serve::start(&p, &["--require-token"]);
    let old = format!("X-Baton-Token: {}", running.token);
    let beside = Serve::start(&p, &["--rotate-token"]);
    let new = format!("X-Baton-Token: {}", beside.token);
    assert_eq!(running.ask("GET", "/api/state", &[&old], "").0, 401);
    assert_eq!(running.ask("GET", "/api/state", &[&new], "").0, 200);
    // ...and one that cannot listen (its port is taken) changes nothing.
    let taken = p.exec(&["serve", "--bind", &running.addr, "--rotate-token"]);
    assert_ne!(taken.code, Some(0));
    assert_has(&taken.stderr, &["cannot listen on"]);
    assert_eq!(
        std::fs::read_to_string(&token_file).unwrap().trim(),
        beside.token
    );
    assert_eq!(running.ask("GET", "/api/state", &[&new], "").0, 200);
}

#[test]
fn serve_caps_its_event_streams_and_frees_a_closed_one() {
    let p = TestProject::with_fake_agents(&[("claude", "claude", "")]);
    let serve = Serve::start(&p, &[]);
    // The cap is 64 (serve::MAX_STREAMS): every stream under it is served...
    let mut open: Vec<Events> = (0..64).map(|_| Events::open(&serve)).collect();
    assert_eq!(serve.get("/api/status")["streams"], 64);
    // ...the next is refused, and counted nowhere as open.
    let (status, body) = serve.ask("GET", "/api/events", &[], "");
    assert_eq!(status, 503, "{body}");
    assert_has(&body, &["64 event streams are open already"]);
    assert_eq!(serve.get("/api/status")["streams"], 64);
    // A stream whose client left is freed when a write to it fails (TCP lets the first write
    // after the close through: changes are made until it is freed), and a new one is served.
    drop(open.pop());
    let deadline = Instant::now() + Duration::from_secs(20);
    while serve.get("/api/status")["streams"] != 63 {
        assert!(
            Instant::now() < deadline,
            "the closed stream was never freed"
        );
        p.ok(&["task", "add", "Wake the streams"]);
    }
    let mut again = Events::open(&serve);
    again.wait_for(Duration::from_secs(10), "a change", |s| {
        s.contains(": baton")
    });
    assert_eq!(serve.terminate(), Some(0));
}

#[test]
fn serve_shows_each_agents_host() {
    let p = TestProject::new();
    p.write_config(&format!(
        "{}[[host]]\nname = \"gpu1\"\nssh = \"dev@127.0.0.1:2222\"\ndir = \"/srv/work\"\n\n\
         [[agent]]\nname = \"far\"\ncli = \"codex\"\nhost = \"gpu1\"\n",
        p.fake_agent("claude", "claude", "")
    ));
    let serve = Serve::start(&p, &[]);
    let state = serve.get("/api/state");
    assert_eq!(ids(&state["agents"], "name"), ["claude", "far"], "{state}");
    assert_eq!(ids(&state["agents"], "host"), ["local", "gpu1"], "{state}");
    assert_eq!(serve.terminate(), Some(0));
}
