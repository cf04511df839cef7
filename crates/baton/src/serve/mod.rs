//! `baton serve`: the dashboard in a browser. Its own process, reading the same store as
//! `baton watch`; the daemon does not know it is watched, and a server that dies takes
//! nothing with it.
//!
//! - [`auth`]: the token (`.baton/serve.token`, 0600) and the rule each request passes;
//! - [`api`]: the JSON the page reads (`/api/state` from the dashboard's own
//!   [`crate::tui::model::Loader`] snapshot, quota history, tasks done, screens, a task);
//! - [`actions`]: `POST /api/action`, through the same code the CLI commands use, as `web`.
//!
//! One thread takes requests ([`tiny_http`], synchronous), each is answered on a thread of
//! its own; one more thread asks the store's `data_version` whether anything was committed
//! (as `baton watch` does) and wakes every `/api/events` stream, which then sends one
//! `event: change`. A stream sends nothing else but a keep-alive comment every 15 s.

pub mod actions;
pub mod api;
pub mod auth;

use std::io::Read;
use std::io::Write;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;
use std::sync::Condvar;
use std::sync::Mutex;
use std::sync::atomic::AtomicBool;
use std::sync::atomic::AtomicU64;
use std::sync::atomic::Ordering;
use std::time::Duration;

use serde_json::Value;
use serde_json::json;
use tiny_http::Header;
use tiny_http::Method;
use tiny_http::Request;
use tiny_http::Response;

use crate::context::Context;
use crate::error::CliError;
use crate::error::CliResult;
use crate::tui::model::Loader;

/// The journal's name for changes made from the web page.
pub const ACTOR: &str = "web";

/// How often the store is asked whether anything changed (one `PRAGMA data_version`).
const POLL: Duration = Duration::from_millis(100);

/// How long an event stream stays silent before a keep-alive comment.
const KEEP_ALIVE: Duration = Duration::from_secs(15);

/// The page's Content-Security-Policy: nothing but its own files.
const CSP: &str = "default-src 'self'; connect-src 'self'; img-src 'self' data:; style-src 'self'";

/// The page's own files, embedded: path, content type, text. They hold no data and no
/// secret, so they are served to anyone who can reach the server.
const PAGE: [(&str, &str, &str); 4] = [
    (
        "/",
        "text/html; charset=utf-8",
        include_str!("page/index.html"),
    ),
    (
        "/index.html",
        "text/html; charset=utf-8",
        include_str!("page/index.html"),
    ),
    (
        "/app.js",
        "text/javascript; charset=utf-8",
        include_str!("page/app.js"),
    ),
    (
        "/style.css",
        "text/css; charset=utf-8",
        include_str!("page/style.css"),
    ),
];

/// One of the page's files, when `path` names one.
fn page_file(path: &str) -> Option<Answer> {
    PAGE.iter()
        .find(|(p, _, _)| *p == path)
        .map(|(_, content_type, body)| Answer {
            status: 200,
            content_type,
            body: (*body).to_owned(),
        })
}

/// The largest action body read.
const MAX_BODY: u64 = 64 * 1024;

/// The most event streams open at once (each holds a thread); past it a stream is refused
/// with 503, so that a runaway client cannot exhaust the server.
pub const MAX_STREAMS: u64 = 64;

/// How `baton serve` was asked to run.
#[derive(Clone, Debug)]
pub struct Options {
    /// Where to listen (port 0: any free one).
    pub bind: SocketAddr,
    /// Replace the stored token with a new one.
    pub rotate_token: bool,
    /// Ask for the token on every request even on loopback (the rules of a public bind).
    pub require_token: bool,
    /// Print the start line as JSON.
    pub json: bool,
}

/// What every request thread shares.
pub struct Shared {
    /// The project's root.
    pub root: PathBuf,
    /// The configuration, as loaded at start.
    pub config: baton_core::Config,
    /// The tmux session (the project's name).
    pub session: String,
    /// The address listened on, as bound.
    pub bind: SocketAddr,
    token: auth::LiveToken,
    token_required: bool,
    requests: AtomicU64,
    refused: AtomicU64,
    streams: AtomicU64,
    started_ms: i64,
    /// How many changes of the store were seen, with the condition streams wait on.
    change: (Mutex<u64>, Condvar),
    /// The loader `/api/state` reads with (the event poller has its own).
    pub loader: Mutex<Loader>,
    stop: AtomicBool,
}

impl Shared {
    /// Returns how many changes were seen so far.
    pub fn change(&self) -> u64 {
        *lock(&self.change.0)
    }

    /// Returns a context acting as `web`, loaded afresh (the configuration as it is now).
    pub fn context(&self) -> CliResult<Context> {
        Ok(Context::at(&self.root)?.acting_as(ACTOR))
    }
}

/// Locks a mutex, whatever a panicking holder left.
pub fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Serves until Ctrl-C or SIGTERM.
pub fn run(ctx: &Context, opts: &Options) -> CliResult<()> {
    let project = &ctx.project;
    let token_file = auth::token_path(&project.state_dir()?);
    // Listen first: a server that cannot start must not rotate the token (the old URL would
    // keep working in the server already there, and the new one would be printed nowhere).
    let server = tiny_http::Server::http(opts.bind)
        .map_err(|e| CliError::user(format!("cannot listen on {}: {e}", opts.bind)))?;
    let token = auth::load_or_make_token(&token_file, opts.rotate_token)?;
    let bind = server
        .server_addr()
        .to_ip()
        .ok_or_else(|| CliError::internal("the server has no IP address"))?;
    let server = Arc::new(server);
    let shared = Arc::new(Shared {
        root: project.root.clone(),
        config: project.config.clone(),
        session: project.session.clone(),
        bind,
        token_required: auth::token_required(bind, opts.require_token),
        token: auth::LiveToken::new(token_file.clone(), token.clone()),
        requests: AtomicU64::new(0),
        refused: AtomicU64::new(0),
        streams: AtomicU64::new(0),
        started_ms: crate::store::now_ms(),
        change: (Mutex::new(0), Condvar::new()),
        loader: Mutex::new(Loader::new(project.store()?, &project.root)),
        stop: AtomicBool::new(false),
    });
    stop_on_signals(&shared, &server)?;
    let poller = Loader::new(project.store()?, &project.root);
    {
        let shared = Arc::clone(&shared);
        std::thread::spawn(move || watch_store(&shared, poller));
    }
    let url = format!("http://{bind}/?token={token}");
    if opts.json {
        println!(
            "{}",
            json!({"url": url, "bind": bind.to_string(), "token_file": token_file})
        );
    } else {
        println!("baton serve: {url}");
        if bind.ip().is_unspecified() {
            println!(
                "  (listening on every address of this machine: open it with this machine's name \
                 or address in place of {}, port {})",
                bind.ip(),
                bind.port()
            );
        }
    }
    let _ = std::io::stdout().flush();
    while !shared.stop.load(Ordering::SeqCst) {
        match server.recv() {
            Ok(req) => {
                let shared = Arc::clone(&shared);
                std::thread::spawn(move || handle(&shared, req));
            }
            Err(e) => {
                if shared.stop.load(Ordering::SeqCst) {
                    break;
                }
                eprintln!("warning: baton serve: {e}");
            }
        }
    }
    // Wake the streams: they end with the process.
    shared.change.1.notify_all();
    Ok(())
}

/// Ctrl-C and SIGTERM end the loop (the listener is unblocked) instead of the process.
fn stop_on_signals(shared: &Arc<Shared>, server: &Arc<tiny_http::Server>) -> CliResult<()> {
    use signal_hook::consts::SIGINT;
    use signal_hook::consts::SIGTERM;
    let mut signals = signal_hook::iterator::Signals::new([SIGINT, SIGTERM])
        .map_err(|e| CliError::internal(format!("cannot catch signals: {e}")))?;
    let shared = Arc::clone(shared);
    let server = Arc::clone(server);
    std::thread::spawn(move || {
        if signals.forever().next().is_some() {
            shared.stop.store(true, Ordering::SeqCst);
            server.unblock();
        }
    });
    Ok(())
}

/// Asks the store whether anything changed, every [`POLL`]; on a change, counts it and wakes
/// the event streams. The same question `baton watch` asks ([`Loader::changed`]).
fn watch_store(shared: &Shared, mut loader: Loader) {
    let page = crate::tui::model::PageRequest::default();
    let mut first = true;
    while !shared.stop.load(Ordering::SeqCst) {
        match loader.changed() {
            Ok(true) => {
                // Read it (the loader remembers what it saw) so the next change is a new one.
                if let Err(e) = loader.load(&shared.config, &shared.session, page) {
                    eprintln!("warning: baton serve: cannot read the store: {e}");
                }
                if !first {
                    *lock(&shared.change.0) += 1;
                    shared.change.1.notify_all();
                }
                first = false;
            }
            Ok(false) => {}
            Err(e) => eprintln!("warning: baton serve: cannot read the store: {e}"),
        }
        std::thread::sleep(POLL);
    }
}

/// The parts of a URL: its path and its query's pairs, decoded.
pub struct Url {
    /// The path.
    pub path: String,
    /// The query's pairs.
    pub query: Vec<(String, String)>,
}

impl Url {
    /// Splits a request's URL.
    pub fn parse(url: &str) -> Url {
        let (path, query) = url.split_once('?').unwrap_or((url, ""));
        Url {
            path: path.to_owned(),
            query: query
                .split('&')
                .filter(|p| !p.is_empty())
                .map(|p| {
                    let (k, v) = p.split_once('=').unwrap_or((p, ""));
                    (decode(k), decode(v))
                })
                .collect(),
        }
    }

    /// Returns a query value.
    pub fn get(&self, key: &str) -> Option<&str> {
        self.query
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, v)| v.as_str())
    }
}

/// Percent-decodes a query part (`+` is a space).
fn decode(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        match b[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < b.len() => {
                let hex = std::str::from_utf8(&b[i + 1..i + 3]).unwrap_or("");
                match u8::from_str_radix(hex, 16) {
                    Ok(v) => {
                        out.push(v);
                        i += 2;
                    }
                    Err(_) => out.push(b'%'),
                }
            }
            c => out.push(c),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn header_value<'a>(req: &'a Request, name: &'static str) -> Option<&'a str> {
    req.headers()
        .iter()
        .find(|h| h.field.equiv(name))
        .map(|h| h.value.as_str())
}

fn header(name: &str, value: &str) -> Header {
    Header::from_bytes(name.as_bytes(), value.as_bytes()).expect("a valid header")
}

/// An answer: status, content type and body.
pub struct Answer {
    /// The HTTP status.
    pub status: u16,
    /// The content type.
    pub content_type: &'static str,
    /// The body.
    pub body: String,
}

impl Answer {
    /// A JSON answer.
    pub fn json(status: u16, value: &Value) -> Answer {
        Answer {
            status,
            content_type: "application/json",
            body: value.to_string(),
        }
    }

    /// An error: `{"error": why}` (and `"ok": false`, for actions).
    pub fn error(status: u16, why: impl Into<String>) -> Answer {
        Answer::json(status, &json!({"ok": false, "error": why.into()}))
    }
}

fn respond(req: Request, a: Answer) {
    let mut r = Response::from_string(a.body)
        .with_status_code(a.status)
        .with_header(header("Content-Type", a.content_type))
        .with_header(header("Cache-Control", "no-store"))
        .with_header(header("X-Content-Type-Options", "nosniff"))
        .with_header(header("Referrer-Policy", "no-referrer"));
    if a.content_type.starts_with("text/html") {
        r = r
            .with_header(header("Content-Security-Policy", CSP))
            .with_header(header("X-Frame-Options", "DENY"));
    }
    // The client may be gone: nothing to do about it.
    let _ = req.respond(r);
}

/// Answers one request: the rule first, then the route.
fn handle(shared: &Shared, mut req: Request) {
    shared.requests.fetch_add(1, Ordering::Relaxed);
    let url = Url::parse(req.url());
    let post = *req.method() == Method::Post;
    let asked = auth::Asked {
        post,
        header_token: header_value(&req, auth::TOKEN_HEADER).filter(|t| !t.is_empty()),
        query_token: url.get("token").filter(|t| !t.is_empty()),
        content_type: header_value(&req, "Content-Type"),
        origin: header_value(&req, "Origin"),
        host: header_value(&req, "Host"),
    };
    // The page's own files load without the token (the page then asks the API with the
    // token from its URL), so a non-loopback bind works.
    if *req.method() == Method::Get
        && let Some(file) = page_file(&url.path)
    {
        return respond(req, file);
    }
    if let Err(r) = auth::check(&asked, &shared.token.get(), shared.token_required) {
        shared.refused.fetch_add(1, Ordering::Relaxed);
        return respond(req, Answer::error(r.status, r.why));
    }
    let answer = match (req.method(), url.path.as_str()) {
        (Method::Get, "/api/events") => return events(shared, req),
        (Method::Post, "/api/action") => {
            let mut body = String::new();
            match req.as_reader().take(MAX_BODY + 1).read_to_string(&mut body) {
                Ok(n) if n as u64 > MAX_BODY => {
                    Answer::error(413, format!("an action is at most {MAX_BODY} bytes"))
                }
                Ok(_) => actions::answer(shared, &body),
                Err(e) => Answer::error(400, format!("cannot read the body: {e}")),
            }
        }
        (Method::Get, path) => get(shared, path, &url),
        _ => Answer::error(405, "only GET, and POST /api/action"),
    };
    respond(req, answer);
}

fn get(shared: &Shared, path: &str, url: &Url) -> Answer {
    match path {
        "/api/status" => Answer::json(
            200,
            &json!({
                "bind": shared.bind.to_string(),
                "requests": shared.requests.load(Ordering::Relaxed),
                "refused": shared.refused.load(Ordering::Relaxed),
                "streams": shared.streams.load(Ordering::Relaxed),
                "started_ms": shared.started_ms,
                "token_required": shared.token_required,
            }),
        ),
        "/api/state" => api::state(shared, url),
        "/api/quota" => api::quota(shared, url.get("agent")),
        "/api/done" => api::done(shared),
        "/api/screen" => api::screen(shared, url.get("agent").unwrap_or("")),
        "/api/task" => api::task(shared, url.get("id").unwrap_or("")),
        _ => Answer::error(404, format!("nothing at {path}")),
    }
}

/// `/api/events`: one `event: change` each time the store changes; a keep-alive comment
/// after 15 s of silence. Ends when the client goes away.
fn events(shared: &Shared, req: Request) {
    if shared.streams.fetch_add(1, Ordering::SeqCst) >= MAX_STREAMS {
        shared.streams.fetch_sub(1, Ordering::SeqCst);
        return respond(
            req,
            Answer::error(503, format!("{MAX_STREAMS} event streams are open already")),
        );
    }
    stream(shared, req);
    shared.streams.fetch_sub(1, Ordering::SeqCst);
}

/// Writes the event stream until the client goes away or the server stops.
fn stream(shared: &Shared, req: Request) {
    let mut out = req.into_writer();
    let head = "HTTP/1.1 200 OK\r\nContent-Type: text/event-stream\r\nCache-Control: no-store\r\n\
                X-Content-Type-Options: nosniff\r\nConnection: close\r\n\r\n: baton\n\n";
    if out
        .write_all(head.as_bytes())
        .and_then(|()| out.flush())
        .is_err()
    {
        return;
    }
    let mut seen = shared.change();
    loop {
        let (now, timed_out) = {
            let guard = lock(&shared.change.0);
            let (guard, t) = shared
                .change
                .1
                .wait_timeout_while(guard, KEEP_ALIVE, |n| {
                    *n == seen && !shared.stop.load(Ordering::SeqCst)
                })
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            (*guard, t.timed_out())
        };
        if shared.stop.load(Ordering::SeqCst) {
            return;
        }
        let text = if timed_out {
            ": keep-alive\n\n".to_owned()
        } else {
            seen = now;
            format!("event: change\ndata: {}\n\n", json!({ "change": now }))
        };
        if out
            .write_all(text.as_bytes())
            .and_then(|()| out.flush())
            .is_err()
        {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn urls_split_into_path_and_decoded_query() {
        let u = Url::parse("/api/quota?agent=co%64ex&x=a+b&token=");
        assert_eq!(u.path, "/api/quota");
        assert_eq!(u.get("agent"), Some("codex"));
        assert_eq!(u.get("x"), Some("a b"));
        assert_eq!(u.get("token"), Some(""));
        assert_eq!(u.get("nope"), None);
        assert_eq!(Url::parse("/").query.len(), 0);
        assert_eq!(decode("100%"), "100%");
        assert_eq!(decode("%zz"), "%zz");
    }
}
