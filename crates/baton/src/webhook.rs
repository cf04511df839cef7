//! The webhook backend of `[notify]`: every notice the filter lets through is also POSTed to
//! a URL (an ntfy topic, a Slack-compatible hook, a receiver of one's own).
//!
//! The caller never waits on the network: a notice goes into a bounded queue that one thread
//! sends from. Each is tried a few times with backoff on a connection error, a timeout, a
//! 5xx or a 429; any other answer is final. When the queue is full the oldest notice is
//! dropped, and counted. The URL is a capability: only its scheme and host are ever shown.

use std::collections::VecDeque;
use std::fmt;
use std::io;
use std::sync::Arc;
use std::sync::Condvar;
use std::sync::Mutex;
use std::sync::MutexGuard;
use std::thread;
use std::time::Duration;
use std::time::Instant;

use baton_core::config::WebhookFormat;
use baton_core::config::WebhookUrl;
use baton_core::vocab::NoticeKind;

/// How the sender queues, waits and retries.
#[derive(Clone, Debug)]
pub struct Policy {
    /// Notices waiting at most; past it the oldest is dropped.
    pub capacity: usize,
    /// One request's whole time, connection to answer.
    pub timeout: Duration,
    /// The waits before the second, third… try: a notice gets `backoff.len() + 1` tries.
    pub backoff: Vec<Duration>,
    /// How long dropping the sender waits for the queue to empty (the run's last notice).
    pub flush: Duration,
}

impl Default for Policy {
    /// 32 notices; 5 s a request; three tries over about 30 s; 5 s to flush.
    fn default() -> Policy {
        Policy {
            capacity: 32,
            timeout: Duration::from_secs(5),
            backoff: vec![Duration::from_secs(5), Duration::from_secs(15)],
            flush: Duration::from_secs(5),
        }
    }
}

/// What became of the notices so far.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Answered with a 2xx.
    pub delivered: u64,
    /// Given up on: a final answer, or every try failed.
    pub failed: u64,
    /// Pushed out of a full queue before being sent.
    pub dropped: u64,
    /// Requests made, retries included.
    pub attempts: u64,
}

/// One notice, as queued.
struct Notice {
    kind: NoticeKind,
    title: String,
    body: String,
    time: jiff::Timestamp,
}

#[derive(Default)]
struct State {
    queue: VecDeque<Notice>,
    /// The thread is sending one (taken off the queue).
    busy: bool,
    /// The sender was dropped: no more backoff waits, the thread ends once the queue is empty.
    closing: bool,
    stats: Stats,
}

struct Shared {
    state: Mutex<State>,
    /// Work came, or the sender is closing.
    wake: Condvar,
    /// The thread finished a notice.
    idle: Condvar,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }
}

/// The sending half: [`Webhook::send`] queues and returns at once.
pub struct Webhook {
    shared: Arc<Shared>,
    url: WebhookUrl,
    format: WebhookFormat,
    capacity: usize,
    flush: Duration,
}

impl fmt::Debug for Webhook {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Webhook")
            .field("url", &self.url.redacted())
            .field("format", &self.format)
            .finish_non_exhaustive()
    }
}

impl Webhook {
    /// Starts the sending thread for `url`; `project` names the project in each notice.
    pub fn start(
        url: WebhookUrl,
        format: WebhookFormat,
        project: &str,
        policy: Policy,
    ) -> io::Result<Webhook> {
        let shared = Arc::new(Shared {
            state: Mutex::new(State::default()),
            wake: Condvar::new(),
            idle: Condvar::new(),
        });
        let worker = Worker {
            shared: Arc::clone(&shared),
            agent: agent_for(&url, policy.timeout),
            url: url.clone(),
            format,
            project: project.to_owned(),
            policy: policy.clone(),
        };
        thread::Builder::new()
            .name("notify-webhook".into())
            .spawn(move || worker.run())?;
        Ok(Webhook {
            shared,
            url,
            format,
            capacity: policy.capacity.max(1),
            flush: policy.flush,
        })
    }

    /// Queues a notice (title and body already cleaned by the notifier); drops the oldest
    /// waiting one when the queue is full. Never waits on the network.
    pub fn send(&self, kind: NoticeKind, title: &str, body: &str) {
        let notice = Notice {
            kind,
            title: title.to_owned(),
            body: body.to_owned(),
            time: jiff::Timestamp::now(),
        };
        let mut s = self.shared.lock();
        if s.queue.len() >= self.capacity {
            s.queue.pop_front();
            s.stats.dropped += 1;
            eprintln!(
                "warning: webhook {}: the queue is full, the oldest notice was dropped ({} so far)",
                self.url.redacted(),
                s.stats.dropped
            );
        }
        s.queue.push_back(notice);
        drop(s);
        self.shared.wake.notify_all();
    }

    /// The counts so far.
    #[cfg(test)]
    pub fn stats(&self) -> Stats {
        self.shared.lock().stats
    }
}

impl Drop for Webhook {
    /// Gives the queue up to the flush time to empty (the run's last notice is often the
    /// one that matters), without backoff waits, then leaves the thread to end on its own.
    fn drop(&mut self) {
        let until = Instant::now() + self.flush;
        let mut s = self.shared.lock();
        s.closing = true;
        self.shared.wake.notify_all();
        while (s.busy || !s.queue.is_empty()) && Instant::now() < until {
            let left = until.saturating_duration_since(Instant::now());
            s = self
                .shared
                .idle
                .wait_timeout(s, left)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
        let left = s.queue.len() + usize::from(s.busy);
        let Stats {
            delivered,
            failed,
            dropped,
            ..
        } = s.stats;
        if failed + dropped > 0 || left > 0 {
            eprintln!(
                "warning: webhook {}: {delivered} notice(s) delivered, {failed} failed, \
                 {dropped} dropped (queue full), {left} unsent at exit",
                self.url.redacted()
            );
        }
    }
}

/// The sending thread's side.
struct Worker {
    shared: Arc<Shared>,
    agent: ureq::Agent,
    url: WebhookUrl,
    format: WebhookFormat,
    project: String,
    policy: Policy,
}

/// How one try ended.
enum Try {
    Delivered,
    /// Worth another try: no connection, no answer in time, a 5xx or a 429.
    Again(String),
    /// An answer that another try would not change.
    Final(String),
}

impl Worker {
    fn run(self) {
        loop {
            let notice = {
                let mut s = self.shared.lock();
                loop {
                    if let Some(n) = s.queue.pop_front() {
                        s.busy = true;
                        break n;
                    }
                    if s.closing {
                        return;
                    }
                    s = self.shared.wake.wait(s).unwrap_or_else(|e| e.into_inner());
                }
            };
            let outcome = self.deliver(&notice);
            let mut s = self.shared.lock();
            s.busy = false;
            match outcome {
                Ok(()) => s.stats.delivered += 1,
                Err(why) => {
                    s.stats.failed += 1;
                    eprintln!(
                        "warning: webhook {}: {} notice not delivered: {why}",
                        self.url.redacted(),
                        notice.kind
                    );
                }
            }
            drop(s);
            self.shared.idle.notify_all();
        }
    }

    /// Tries `notice` until it is delivered, refused, or out of tries.
    fn deliver(&self, notice: &Notice) -> Result<(), String> {
        let mut waits = self.policy.backoff.iter();
        loop {
            self.shared.lock().stats.attempts += 1;
            let why = match self.post(notice) {
                Try::Delivered => return Ok(()),
                Try::Final(why) => return Err(why),
                Try::Again(why) => why,
            };
            let Some(wait) = waits.next() else {
                return Err(format!("{why} ({} tries)", self.policy.backoff.len() + 1));
            };
            if !self.pause(*wait) {
                return Err(format!("{why} (baton was stopping: not tried again)"));
            }
        }
    }

    /// Waits `d` unless the sender is closing; false when it is.
    fn pause(&self, d: Duration) -> bool {
        let until = Instant::now() + d;
        let mut s = self.shared.lock();
        while !s.closing {
            let left = until.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return true;
            }
            s = self
                .shared
                .wake
                .wait_timeout(s, left)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
        false
    }

    /// One POST.
    fn post(&self, notice: &Notice) -> Try {
        let request = self.agent.post(self.url.secret());
        let sent = match self.format {
            WebhookFormat::Json => request
                .content_type("application/json")
                .send(json_body(notice, &self.project)),
            WebhookFormat::Slack => request
                .content_type("application/json")
                .send(slack_body(notice)),
            WebhookFormat::Ntfy => request
                .content_type("text/plain; charset=utf-8")
                .header("Title", encoded_word(&notice.title))
                .header(
                    "Priority",
                    if notice.kind.is_urgent() {
                        "high"
                    } else {
                        "default"
                    },
                )
                .header("Tags", format!("baton,{}", notice.kind))
                .send(if notice.body.is_empty() {
                    notice.title.as_str()
                } else {
                    notice.body.as_str()
                }),
        };
        match sent {
            Ok(resp) => match resp.status().as_u16() {
                200..=299 => Try::Delivered,
                status @ (429 | 500..=599) => Try::Again(format!("HTTP {status}")),
                status @ 300..=399 => {
                    Try::Final(format!("HTTP {status} (redirects are not followed)"))
                }
                status => Try::Final(format!("HTTP {status}")),
            },
            Err(e) => Try::Again(self.describe(&e)),
        }
    }

    /// A transport error in words that cannot hold the URL's path or query.
    fn describe(&self, e: &ureq::Error) -> String {
        let timed_out = match e {
            ureq::Error::Timeout(_) => true,
            ureq::Error::Io(io) => io.kind() == io::ErrorKind::TimedOut,
            _ => false,
        };
        if timed_out {
            return format!("no answer within {} s", self.policy.timeout.as_secs_f32());
        }
        match e {
            ureq::Error::Io(io) => io.kind().to_string(),
            ureq::Error::HostNotFound => "host not found".into(),
            ureq::Error::ConnectionFailed => "connection failed".into(),
            other => redact(&other.to_string(), &self.url),
        }
    }
}

/// The HTTP agent: a whole-request timeout, statuses as answers, no redirects, and no proxy
/// for this machine.
fn agent_for(url: &WebhookUrl, timeout: Duration) -> ureq::Agent {
    let config = ureq::Agent::config_builder()
        .timeout_global(Some(timeout))
        .http_status_as_error(false)
        .max_redirects(0)
        .user_agent(concat!("baton/", env!("CARGO_PKG_VERSION")))
        .proxy(if url.is_loopback() {
            None
        } else {
            ureq::Proxy::try_from_env()
        })
        .build();
    ureq::Agent::new_with_config(config)
}

/// The `json` format's body.
fn json_body(n: &Notice, project: &str) -> String {
    serde_json::json!({
        "kind": n.kind,
        "title": n.title,
        "body": n.body,
        "project": project,
        "time": n.time.to_string(),
        "urgent": n.kind.is_urgent(),
    })
    .to_string()
}

/// The `slack` format's body: the one field every Slack-compatible hook reads.
fn slack_body(n: &Notice) -> String {
    let text = if n.body.is_empty() {
        n.title.clone()
    } else {
        format!("{}\n{}", n.title, n.body)
    };
    serde_json::json!({ "text": text }).to_string()
}

/// `text` as an HTTP header value: as is when it is printable ASCII, else an RFC 2047
/// encoded word (`=?UTF-8?Q?…?=`), which ntfy decodes.
fn encoded_word(text: &str) -> String {
    if text.bytes().all(|b| (0x20..0x7f).contains(&b)) {
        return text.to_owned();
    }
    let mut out = String::from("=?UTF-8?Q?");
    for b in text.bytes() {
        match b {
            b' ' => out.push('_'),
            b if b.is_ascii_alphanumeric() || b"!*+-/".contains(&b) => out.push(char::from(b)),
            b => out.push_str(&format!("={b:02X}")),
        }
    }
    out.push_str("?=");
    out
}

/// Removes the URL, whole and from its path on, from a text that is to be shown; and keeps
/// it short. Defence in depth: ureq's error texts are not expected to hold it.
fn redact(text: &str, url: &WebhookUrl) -> String {
    let secret = url.secret();
    let mut out = text.replace(secret, &url.redacted());
    if let Some((_, rest)) = secret.split_once("://")
        && let Some(i) = rest.find(['/', '?', '#'])
        && rest.len() - i > 1
    {
        out = out.replace(&rest[i..], "/…");
    }
    if out.chars().count() > 200 {
        out = out.chars().take(200).collect::<String>() + "…";
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::BufRead;
    use std::io::BufReader;
    use std::io::Read;
    use std::io::Write;
    use std::net::TcpListener;

    /// A request the test server got.
    #[derive(Clone, Debug)]
    struct Got {
        head: String,
        body: String,
    }

    /// A loopback HTTP server that records each request and answers with the next status of
    /// its list (the last one repeats).
    struct Server {
        url: String,
        got: Arc<Mutex<Vec<Got>>>,
    }

    impl Server {
        fn start(statuses: &[u16]) -> Server {
            let listener = TcpListener::bind("127.0.0.1:0").unwrap();
            let url = format!(
                "http://{}/hook/Secret-token",
                listener.local_addr().unwrap()
            );
            let got = Arc::new(Mutex::new(Vec::new()));
            let record = Arc::clone(&got);
            let statuses = statuses.to_vec();
            thread::spawn(move || {
                for (i, stream) in listener.incoming().enumerate() {
                    let Ok(stream) = stream else { return };
                    let status = statuses[i.min(statuses.len() - 1)];
                    let _ = answer(stream, status, &record);
                }
            });
            Server { url, got }
        }

        fn got(&self) -> Vec<Got> {
            self.got.lock().unwrap().clone()
        }
    }

    /// Reads one request, records it, then answers `status`: once the client has its answer,
    /// the request is on record.
    fn answer(stream: std::net::TcpStream, status: u16, record: &Mutex<Vec<Got>>) -> Option<()> {
        let mut reader = BufReader::new(stream.try_clone().ok()?);
        let mut head = String::new();
        loop {
            let mut line = String::new();
            if reader.read_line(&mut line).ok()? == 0 {
                return None;
            }
            if line == "\r\n" {
                break;
            }
            head.push_str(&line);
        }
        let length = head
            .lines()
            .find_map(|l| {
                let (k, v) = l.split_once(':')?;
                k.eq_ignore_ascii_case("content-length")
                    .then(|| v.trim().parse::<usize>().ok())?
            })
            .unwrap_or(0);
        let mut body = vec![0; length];
        reader.read_exact(&mut body).ok()?;
        record.lock().unwrap().push(Got {
            head,
            body: String::from_utf8_lossy(&body).into_owned(),
        });
        let mut stream = stream;
        write!(
            stream,
            "HTTP/1.1 {status} X\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
        )
        .ok()
    }

    /// Short waits, so the tests run in moments.
    fn quick() -> Policy {
        Policy {
            capacity: 8,
            timeout: Duration::from_secs(2),
            backoff: vec![Duration::from_millis(50), Duration::from_millis(50)],
            flush: Duration::from_secs(20),
        }
    }

    fn start(url: &str, format: WebhookFormat, policy: Policy) -> Webhook {
        Webhook::start(WebhookUrl::new(url), format, "palm", policy).unwrap()
    }

    /// A server answering `statuses`, a sender to it, and one notice sent.
    fn one_sent(
        statuses: &[u16],
        format: WebhookFormat,
        kind: NoticeKind,
        text: (&str, &str),
    ) -> (Server, Webhook) {
        let server = Server::start(statuses);
        let w = start(&server.url, format, quick());
        w.send(kind, text.0, text.1);
        (server, w)
    }

    /// A sender to a loopback server that takes connections (the kernel's backlog) but never
    /// answers: its thread stays on the first notice. Keep the listener alive meanwhile.
    fn silent(capacity: usize) -> (TcpListener, Webhook) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let url = format!(
            "http://{}/hook/Secret-token",
            listener.local_addr().unwrap()
        );
        let policy = Policy {
            capacity,
            timeout: Duration::from_secs(600),
            flush: Duration::from_millis(100),
            ..quick()
        };
        let w = start(&url, WebhookFormat::Json, policy);
        (listener, w)
    }

    /// Waits until `cond` holds, up to a deadline.
    fn wait_until(what: &str, cond: impl Fn() -> bool) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while !cond() {
            assert!(Instant::now() < deadline, "never {what}");
            thread::sleep(Duration::from_millis(10));
        }
    }

    /// Waits until `cond` holds of the sender's counts; returns them.
    fn wait_stats(w: &Webhook, what: &str, cond: impl Fn(&Stats) -> bool) -> Stats {
        wait_until(what, || cond(&w.stats()));
        w.stats()
    }

    #[test]
    fn the_json_body_carries_kind_title_body_project_and_time() {
        let (server, w) = one_sent(
            &[200],
            WebhookFormat::Json,
            NoticeKind::TaskBlocked,
            ("baton · palm", "T-001 is BLOCKED"),
        );
        wait_stats(&w, "delivered", |s| s.delivered == 1);
        let got = server.got();
        assert_eq!(got.len(), 1);
        assert!(
            got[0].head.starts_with("POST /hook/Secret-token "),
            "{}",
            got[0].head
        );
        assert!(
            got[0]
                .head
                .to_ascii_lowercase()
                .contains("content-type: application/json"),
            "{}",
            got[0].head
        );
        let v: serde_json::Value = serde_json::from_str(&got[0].body).unwrap();
        assert_eq!(v["kind"], "task-blocked");
        assert_eq!(v["title"], "baton · palm");
        assert_eq!(v["body"], "T-001 is BLOCKED");
        assert_eq!(v["project"], "palm");
        assert_eq!(v["urgent"], false);
        let time = v["time"].as_str().unwrap();
        assert!(time.parse::<jiff::Timestamp>().is_ok(), "{time}");
        assert!(time.ends_with('Z'), "{time}");
    }

    #[test]
    fn the_slack_and_ntfy_formats() {
        let (server, w) = one_sent(
            &[200],
            WebhookFormat::Slack,
            NoticeKind::RunFinished,
            ("baton · palm", "15 completed"),
        );
        wait_stats(&w, "delivered", |s| s.delivered == 1);
        let v: serde_json::Value = serde_json::from_str(&server.got()[0].body).unwrap();
        assert_eq!(v, serde_json::json!({"text": "baton · palm\n15 completed"}));

        let (server, w) = one_sent(
            &[200],
            WebhookFormat::Ntfy,
            NoticeKind::AgentDead,
            ("baton · palm", "claude died"),
        );
        wait_stats(&w, "delivered", |s| s.delivered == 1);
        let got = &server.got()[0];
        assert_eq!(got.body, "claude died");
        let head = got.head.to_ascii_lowercase();
        assert!(
            head.contains("title: =?utf-8?q?baton_=c2=b7_palm?="),
            "{head}"
        );
        assert!(head.contains("priority: high"), "{head}");
        assert!(head.contains("tags: baton,agent-dead"), "{head}");
        assert_eq!(encoded_word("plain title"), "plain title");
    }

    #[test]
    fn a_5xx_is_tried_again_and_delivered_once() {
        let (server, w) = one_sent(
            &[500, 200],
            WebhookFormat::Json,
            NoticeKind::QuotaWarn,
            ("t", "b"),
        );
        let s = wait_stats(&w, "delivered", |s| s.delivered == 1);
        assert_eq!((s.attempts, s.failed), (2, 0));
        assert_eq!(server.got().len(), 2);
    }

    #[test]
    fn a_4xx_is_not_tried_again() {
        let (server, w) = one_sent(
            &[400, 200],
            WebhookFormat::Json,
            NoticeKind::QuotaWarn,
            ("t", "b"),
        );
        let s = wait_stats(&w, "failed", |s| s.failed == 1);
        assert_eq!((s.attempts, s.delivered), (1, 0));
        // The next notice is the next request: the first was not sent again.
        w.send(NoticeKind::QuotaWarn, "t2", "b2");
        wait_stats(&w, "delivered", |s| s.delivered == 1);
        let got = server.got();
        assert_eq!(got.len(), 2);
        assert!(got[1].body.contains("t2"), "{got:?}");
    }

    #[test]
    fn a_refused_connection_is_tried_every_time_then_given_up() {
        // A port nothing listens on: bind, note it, close.
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let w = start(
            &format!("http://127.0.0.1:{port}/hook/Secret-token"),
            WebhookFormat::Json,
            quick(),
        );
        w.send(NoticeKind::QuotaWarn, "t", "b");
        let s = wait_stats(&w, "failed", |s| s.failed == 1);
        assert_eq!((s.attempts, s.delivered), (3, 0));
    }

    #[test]
    fn a_full_queue_drops_the_oldest() {
        // The thread holds the first notice; the queue fills behind it.
        let (_listener, w) = silent(2);
        w.send(NoticeKind::QuotaWarn, "first", "b");
        // Until the thread has taken the first one, it is a queued one like the others.
        wait_until("the thread took it", || w.shared.lock().busy);
        for title in ["second", "third", "fourth"] {
            w.send(NoticeKind::QuotaWarn, title, "b");
        }
        assert_eq!(w.stats().dropped, 1);
        let titles: Vec<String> = w
            .shared
            .lock()
            .queue
            .iter()
            .map(|n| n.title.clone())
            .collect();
        assert_eq!(titles, ["third", "fourth"]);
    }

    #[test]
    fn a_server_that_never_answers_does_not_block_the_caller() {
        let (_listener, w) = silent(8);
        for _ in 0..20 {
            w.send(NoticeKind::NeedsInput, "t", "b");
        }
        // Returned: every call came back while the thread still waits on the first answer.
        let s = w.stats();
        assert_eq!(s.delivered + s.failed, 0, "{s:?}");
        assert!(s.dropped >= 20 - 8 - 1, "{s:?}");
    }

    #[test]
    fn the_notifier_posts_what_its_filter_lets_through_besides_the_desktop() {
        use crate::notify::{Backend, Delivery, NoticeFilter, Notifier};
        let server = Server::start(&[200]);
        let mut filter = NoticeFilter::all();
        filter.set(NoticeKind::QuotaWarn, false);
        let n = Notifier::new(Backend::Off, filter).with_webhook(start(
            &server.url,
            WebhookFormat::Json,
            quick(),
        ));
        assert_eq!(
            n.notify(NoticeKind::QuotaWarn, "t", "b").unwrap(),
            Delivery::Skipped
        );
        assert_eq!(
            n.notify(NoticeKind::VerifyFailed, "ti\x1btle", "body")
                .unwrap(),
            Delivery::Sent
        );
        // Dropping the notifier flushes its queue.
        drop(n);
        let got = server.got();
        assert_eq!(got.len(), 1, "{got:?}");
        let v: serde_json::Value = serde_json::from_str(&got[0].body).unwrap();
        assert_eq!(
            (v["kind"].as_str(), v["title"].as_str()),
            (Some("verify-failed"), Some("ti tle"))
        );
    }

    #[test]
    fn errors_and_debug_never_show_the_path() {
        let url = WebhookUrl::new("https://hooks.example.com/services/Secret-token?x=1");
        let text = "failed for https://hooks.example.com/services/Secret-token?x=1 \
                    and /services/Secret-token?x=1";
        let shown = redact(text, &url);
        assert!(!shown.contains("Secret"), "{shown}");
        assert!(shown.contains("https://hooks.example.com/…"), "{shown}");
        let server = Server::start(&[200]);
        let w = start(&server.url, WebhookFormat::Json, quick());
        assert!(!format!("{w:?}").contains("Secret"), "{w:?}");
    }
}
