//! A scripted fake model server for the conformance tests: the Anthropic Messages API, the
//! OpenAI Responses API, the OpenAI Chat Completions API and Google's Gemini API, streamed as
//! SSE, on loopback only, on a random port.
//!
//! Each request is answered from a [`Script`] and recorded (method, path, headers with
//! secrets redacted, body, and what the server made of it). Tests use it in-process
//! ([`FakeModel::start`]) or as the `baton-fake-model` binary.
//!
//! Plain HTTP/1.1 over `std::net`, one thread per connection, keep-alive, chunked SSE: no
//! async runtime.

pub mod chat;
pub mod gemini;
pub mod http;
pub mod script;
pub mod stream;
pub mod template;

use std::io::BufReader;
use std::io::Write;
use std::net::Ipv4Addr;
use std::net::SocketAddr;
use std::net::TcpListener;
use std::net::TcpStream;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::AtomicBool;
use std::sync::atomic::AtomicU64;
use std::sync::atomic::Ordering;

pub use script::Reply;
pub use script::Rule;
pub use script::Script;
pub use script::ToolCall;
pub use script::Turn;
use serde::Serialize;
use serde_json::Value;

/// Headers whose values are never recorded.
const SECRET_HEADERS: &[&str] = &[
    "authorization",
    "proxy-authorization",
    "x-api-key",
    "cookie",
    "set-cookie",
];

/// Returns whether a header's value must be redacted.
pub fn is_secret_header(name: &str) -> bool {
    let n = name.to_ascii_lowercase();
    SECRET_HEADERS.contains(&n.as_str())
        || n.contains("token")
        || n.contains("secret")
        || n.ends_with("-key")
}

/// One recorded request.
#[derive(Clone, Debug, Serialize)]
pub struct Recorded {
    /// Its number, from 1, in arrival order.
    pub seq: u64,
    /// Milliseconds since the server started.
    pub at_ms: u64,
    /// The method.
    pub method: String,
    /// The path with the query.
    pub path: String,
    /// `anthropic`, `openai` (Responses), `openai-chat`, `gemini` or `other`.
    pub api: &'static str,
    /// Headers, secrets redacted.
    pub headers: Vec<(String, String)>,
    /// The body as JSON (or as a string when it is not JSON).
    pub body: Value,
    /// What the server understood of it.
    pub turn: Option<Turn>,
    /// Which rule answered (`default`, `side`, `<rule>#<step>`, or empty).
    pub rule: String,
    /// The status answered.
    pub status: u16,
}

struct Shared {
    script: Mutex<Script>,
    log: Mutex<Vec<Recorded>>,
    log_file: Option<PathBuf>,
    seq: AtomicU64,
    started: std::time::Instant,
    stop: AtomicBool,
}

/// A running server; stops when dropped.
pub struct FakeModel {
    addr: SocketAddr,
    shared: Arc<Shared>,
}

impl FakeModel {
    /// Starts a server on 127.0.0.1 with a random port.
    pub fn start(script: Script, log_file: Option<PathBuf>) -> std::io::Result<FakeModel> {
        script.check().map_err(std::io::Error::other)?;
        let listener = TcpListener::bind((Ipv4Addr::LOCALHOST, 0))?;
        let addr = listener.local_addr()?;
        let shared = Arc::new(Shared {
            script: Mutex::new(script),
            log: Mutex::new(Vec::new()),
            log_file,
            seq: AtomicU64::new(0),
            started: std::time::Instant::now(),
            stop: AtomicBool::new(false),
        });
        let s = Arc::clone(&shared);
        std::thread::Builder::new()
            .name("fake-model-accept".into())
            .spawn(move || {
                for conn in listener.incoming() {
                    if s.stop.load(Ordering::SeqCst) {
                        break;
                    }
                    let Ok(conn) = conn else { continue };
                    let s = Arc::clone(&s);
                    let _ = std::thread::Builder::new()
                        .name("fake-model-conn".into())
                        .spawn(move || serve(conn, &s));
                }
            })?;
        Ok(FakeModel { addr, shared })
    }

    /// Returns the port.
    pub fn port(&self) -> u16 {
        self.addr.port()
    }

    /// Returns `http://127.0.0.1:PORT`.
    pub fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// Replaces the script (for the following requests).
    pub fn set_script(&self, script: Script) {
        *self.shared.script.lock().unwrap_or_else(|e| e.into_inner()) = script;
    }

    /// Returns every request recorded so far.
    pub fn requests(&self) -> Vec<Recorded> {
        self.shared
            .log
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .clone()
    }
}

impl Drop for FakeModel {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        // Wake the accept loop so it sees the flag.
        let _ = TcpStream::connect(self.addr);
    }
}

fn serve(conn: TcpStream, s: &Shared) {
    let _ = conn.set_nodelay(true);
    let Ok(write_half) = conn.try_clone() else {
        return;
    };
    let mut w = write_half;
    let mut r = BufReader::new(conn);
    while let Ok(Some(req)) = http::read_request(&mut r) {
        if s.stop.load(Ordering::SeqCst) || answer(&mut w, &req, s).is_err() {
            break;
        }
        if req
            .header("connection")
            .is_some_and(|v| v.eq_ignore_ascii_case("close"))
        {
            break;
        }
    }
}

fn answer(w: &mut TcpStream, req: &http::Request, s: &Shared) -> std::io::Result<()> {
    let seq = s.seq.fetch_add(1, Ordering::SeqCst) + 1;
    let body: Value = serde_json::from_slice(&req.body)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&req.body).into_owned()));
    let route = req.route();
    let gemini_call = gemini::route_parts(route).filter(|(_, m)| gemini::is_model_call(m));
    let (api, turn) = if req.method == "POST" && route.ends_with("/messages") {
        ("anthropic", Some(script::anthropic_turn(&body)))
    } else if req.method == "POST" && route.ends_with("/chat/completions") {
        ("openai-chat", Some(chat::chat_turn(&body)))
    } else if req.method == "POST" && gemini_call.is_some() {
        ("gemini", Some(gemini::gemini_turn(&body)))
    } else if req.method == "POST" && route.ends_with("/responses") {
        (
            "openai",
            Some(script::openai_turn(
                &body,
                req.header("x-codex-turn-metadata"),
            )),
        )
    } else {
        ("other", None)
    };
    let script = s.script.lock().unwrap_or_else(|e| e.into_inner()).clone();
    let (reply, rule) = match &turn {
        Some(t) => {
            let (r, n) = script.choose(t);
            let r = if api == "gemini" {
                gemini::shape_reply(r, t, &body)
            } else {
                r
            };
            (Some(r), n)
        }
        None => (None, String::new()),
    };
    let status = reply.as_ref().and_then(|r| r.status).unwrap_or(match api {
        "other" => other_status(route),
        _ => 200,
    });
    record(
        s,
        Recorded {
            seq,
            at_ms: s.started.elapsed().as_millis() as u64,
            method: req.method.clone(),
            path: req.path.clone(),
            api,
            headers: req
                .headers
                .iter()
                .map(|(k, v)| {
                    let v = if is_secret_header(k) {
                        "[redacted]".to_owned()
                    } else {
                        v.clone()
                    };
                    (k.clone(), v)
                })
                .collect(),
            body: body.clone(),
            turn: turn.clone(),
            rule,
            status,
        },
    );
    let mut headers: Vec<(String, String)> = script.headers.clone().into_iter().collect();
    if let Some(r) = &reply {
        headers.extend(r.headers.clone());
    }
    headers.push(("request-id".into(), format!("req_fake_{seq}")));
    let model = body
        .get("model")
        .and_then(Value::as_str)
        .or(gemini_call.map(|(m, _)| m))
        .unwrap_or("fake-model")
        .to_owned();
    let json_headers = |mut h: Vec<(String, String)>| {
        h.push(("content-type".into(), "application/json".into()));
        h
    };
    let Some(reply) = reply else {
        let body = other_body(route);
        return http::write_full(
            w,
            status,
            &json_headers(headers),
            body.to_string().as_bytes(),
        );
    };
    if status != 200 {
        let body = reply.error_body.clone().unwrap_or_else(|| match api {
            "anthropic" => stream::anthropic_error(status),
            "gemini" => gemini::gemini_error(status),
            _ => stream::openai_error(status),
        });
        return http::write_full(
            w,
            status,
            &json_headers(headers),
            body.to_string().as_bytes(),
        );
    }
    let streaming = match gemini_call {
        Some((_, method)) => method == "streamGenerateContent",
        None => body.get("stream").and_then(Value::as_bool).unwrap_or(false),
    };
    if !streaming {
        let body = match api {
            "anthropic" => stream::anthropic_json(&reply, &model, seq),
            "gemini" => gemini::gemini_json(&reply, &model, seq),
            "openai-chat" => chat::chat_json(&reply, &model, seq),
            _ => serde_json::json!({"id": format!("resp_fake_{seq}"), "object": "response",
                "status": "completed", "model": model,
                "output": [{"type": "message", "role": "assistant",
                    "content": [{"type": "output_text", "text": reply.text.clone().unwrap_or_default()}]}]}),
        };
        return http::write_full(w, 200, &json_headers(headers), body.to_string().as_bytes());
    }
    headers.push(("content-type".into(), "text/event-stream".into()));
    headers.push(("cache-control".into(), "no-cache".into()));
    let mut out = http::Chunked::start(w, 200, &headers)?;
    match api {
        "anthropic" => stream::anthropic_sse(&mut out, &reply, &model, seq)?,
        "gemini" => gemini::gemini_sse(&mut out, &reply, &model, seq)?,
        "openai-chat" => {
            let usage = body
                .pointer("/stream_options/include_usage")
                .and_then(Value::as_bool)
                .unwrap_or(false);
            chat::chat_sse(&mut out, &reply, &model, seq, usage)?
        }
        _ => stream::openai_sse(&mut out, &reply, &model, seq)?,
    }
    out.finish()
}

/// Statuses of the endpoints that are not model calls.
fn other_status(route: &str) -> u16 {
    if route.ends_with("/count_tokens")
        || route.ends_with("/models")
        || route.ends_with(":countTokens")
    {
        200
    } else {
        404
    }
}

fn other_body(route: &str) -> Value {
    if route.ends_with("/count_tokens") {
        serde_json::json!({"input_tokens": 100})
    } else if route.ends_with(":countTokens") {
        serde_json::json!({"totalTokens": 100})
    } else if route.ends_with("/models") {
        serde_json::json!({"object": "list", "data": [], "models": []})
    } else {
        serde_json::json!({"error": {"type": "not_found_error", "message": "fake model server: no such endpoint"}})
    }
}

fn record(s: &Shared, r: Recorded) {
    if let Some(path) = &s.log_file
        && let Ok(line) = serde_json::to_string(&r)
        && let Ok(mut f) = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
    {
        let _ = f.write_all(format!("{line}\n").as_bytes());
    }
    s.log.lock().unwrap_or_else(|e| e.into_inner()).push(r);
}
