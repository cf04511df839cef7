//! The webhook backend of `[notify]`: every notice the filter lets through is also POSTed to
//! a URL (an ntfy topic, a Slack-compatible hook, a receiver of one's own).
//!
//! The caller never waits on the network: a notice goes into a bounded queue that one thread
//! sends from. Each is tried a few times with backoff on a connection error, a timeout, a
//! 5xx or a 429; any other answer is final. A notice waiting for its next try has a due time
//! and waits aside: later notices go out meanwhile. When the queue is full the oldest notice
//! is dropped. Every notice ends as exactly one of delivered, failed or dropped; the last two
//! are "given up on", said on stderr and handed to the caller's report (the daemon journals
//! them). The URL is a capability: only its scheme and host are ever shown.
//!
//! Delivery is at least once: a request whose answer does not come in time is sent again,
//! although the receiver may have got it. Each notice carries an id (`X-Baton-Notice` header,
//! and `id` in the `json` body), the same on every try, for a receiver to drop repeats.

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

/// The header that carries a notice's id, the same on every try of it.
pub const ID_HEADER: &str = "X-Baton-Notice";

/// How the sender queues, waits and retries.
#[derive(Clone, Debug)]
pub struct Policy {
    /// Notices waiting at most (those waiting for a retry included); past it the oldest is
    /// dropped.
    pub capacity: usize,
    /// One request's whole time, connection to answer.
    pub timeout: Duration,
    /// The waits before the second, third… try: a notice gets `backoff.len() + 1` tries.
    pub backoff: Vec<Duration>,
    /// How long closing the sender waits for the queue to empty (the run's last notice).
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

/// What became of the notices so far: each notice queued ends in exactly one of
/// `delivered`, `failed` or `dropped` (once the sender is closed; before, some may wait).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Stats {
    /// Answered with a 2xx.
    pub delivered: u64,
    /// Given up on: a final answer, every try failed, or baton stopped before it went out.
    pub failed: u64,
    /// Pushed out of a full queue.
    pub dropped: u64,
    /// Requests made, retries included.
    pub attempts: u64,
}

/// A notice given up on (failed or dropped), as reported: nothing of the URL but its scheme
/// and host.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GaveUp {
    /// The notice's kind.
    pub kind: NoticeKind,
    /// The notice's id, as its requests carried it.
    pub id: String,
    /// The webhook, as shown: `https://host/…`.
    pub to: String,
    /// Why: the last try's error, or why it was not tried.
    pub why: String,
    /// Pushed out of a full queue (else failed).
    pub dropped: bool,
}

impl fmt::Display for GaveUp {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "{} notice not delivered to {}: {} (notice {})",
            self.kind, self.to, self.why, self.id
        )
    }
}

/// Where the notices given up on are reported, besides stderr. Called from the sending
/// thread, from [`Webhook::send`] (a drop) and from [`Webhook::close`]: it must not block.
pub type Report = Box<dyn Fn(GaveUp) + Send + Sync>;

/// One notice, as queued.
struct Notice {
    /// Its order of arrival: the lowest queued is the oldest.
    seq: u64,
    id: String,
    kind: NoticeKind,
    title: String,
    body: String,
    time: jiff::Timestamp,
}

/// A notice waiting in the queue: for its first try, or for its next.
struct Pending {
    notice: Notice,
    /// Tries made so far.
    tries: usize,
    /// Not to be tried before (the backoff after a failed try).
    due: Instant,
    /// The last try's error.
    last: Option<String>,
}

#[derive(Default)]
struct State {
    queue: VecDeque<Pending>,
    /// The notice the thread is sending (taken off the queue): its kind and id.
    in_flight: Option<(NoticeKind, String)>,
    /// The sender is closing: no more backoff waits, every notice queued gets one last try
    /// at once, and the thread ends once the queue is empty.
    closing: bool,
    /// The flush time ran out while the notice in flight was being sent: it was counted as
    /// failed then, and its outcome is not counted again.
    abandoned: bool,
    /// Notices queued so far.
    queued: u64,
    stats: Stats,
}

struct Shared {
    state: Mutex<State>,
    /// Work came, or the sender is closing.
    wake: Condvar,
    /// The thread finished a notice.
    idle: Condvar,
    report: Report,
    /// The webhook as shown.
    to: String,
}

impl Shared {
    fn lock(&self) -> MutexGuard<'_, State> {
        self.state.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Says a notice was given up on, on stderr and to the report. Call without the lock.
    fn gave_up(&self, g: GaveUp) {
        eprintln!("warning: webhook: {g}");
        (self.report)(g);
    }

    /// Drops the oldest queued notice while the queue holds more than `capacity`; returns
    /// what was given up on.
    fn trim(&self, s: &mut State, capacity: usize) -> Vec<GaveUp> {
        let mut out = Vec::new();
        while s.queue.len() > capacity {
            let Some(i) = (0..s.queue.len()).min_by_key(|&i| s.queue[i].notice.seq) else {
                break;
            };
            let Some(p) = s.queue.remove(i) else { break };
            s.stats.dropped += 1;
            out.push(GaveUp {
                kind: p.notice.kind,
                id: p.notice.id,
                to: self.to.clone(),
                why: format!("dropped: the queue was full ({capacity} waiting)"),
                dropped: true,
            });
        }
        out
    }
}

/// The sending half: [`Webhook::send`] queues and returns at once.
pub struct Webhook {
    shared: Arc<Shared>,
    url: WebhookUrl,
    format: WebhookFormat,
    capacity: usize,
    flush: Duration,
    /// The first part of every notice id: when and by which process this sender started.
    id_prefix: String,
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
    /// Starts the sending thread for `url`; `project` names the project in each notice;
    /// `report` hears of every notice given up on.
    pub fn start(
        url: WebhookUrl,
        format: WebhookFormat,
        project: &str,
        policy: Policy,
        report: Report,
    ) -> io::Result<Webhook> {
        let shared = Arc::new(Shared {
            state: Mutex::new(State::default()),
            wake: Condvar::new(),
            idle: Condvar::new(),
            report,
            to: url.redacted(),
        });
        let capacity = policy.capacity.max(1);
        let worker = Worker {
            shared: Arc::clone(&shared),
            agent: agent_for(&url, policy.timeout),
            url: url.clone(),
            format,
            project: project.to_owned(),
            capacity,
            policy: policy.clone(),
        };
        thread::Builder::new()
            .name("notify-webhook".into())
            .spawn(move || worker.run())?;
        // Unique across runs and processes: a receiver keeps ids to drop repeats.
        let id_prefix = format!(
            "{:x}-{:x}",
            jiff::Timestamp::now().as_millisecond(),
            std::process::id()
        );
        Ok(Webhook {
            shared,
            url,
            format,
            capacity,
            flush: policy.flush,
            id_prefix,
        })
    }

    /// Queues a notice (title and body already cleaned by the notifier); drops the oldest
    /// waiting one when the queue is full. Never waits on the network.
    pub fn send(&self, kind: NoticeKind, title: &str, body: &str) {
        let mut s = self.shared.lock();
        s.queued += 1;
        let notice = Notice {
            seq: s.queued,
            id: format!("{}-{}", self.id_prefix, s.queued),
            kind,
            title: title.to_owned(),
            body: body.to_owned(),
            time: jiff::Timestamp::now(),
        };
        if s.closing {
            // Closed: the thread is gone or going; the notice is counted, not lost.
            s.stats.failed += 1;
            drop(s);
            self.shared.gave_up(GaveUp {
                kind,
                id: notice.id,
                to: self.shared.to.clone(),
                why: "baton was stopping: not sent".into(),
                dropped: false,
            });
            return;
        }
        s.queue.push_back(Pending {
            notice,
            tries: 0,
            due: Instant::now(),
            last: None,
        });
        let dropped = self.shared.trim(&mut s, self.capacity);
        drop(s);
        self.shared.wake.notify_all();
        for g in dropped {
            self.shared.gave_up(g);
        }
    }

    /// Closes the sender: every queued notice gets one last try at once (no backoff wait)
    /// within the flush time; what is still unsent when it runs out is counted as failed
    /// and reported. Returns the final counts, after a summary on stderr when some notice
    /// was given up on. Closing again returns the counts.
    pub fn close(&self) -> Stats {
        let until = Instant::now() + self.flush;
        let mut s = self.shared.lock();
        if s.closing {
            return s.stats;
        }
        s.closing = true;
        self.shared.wake.notify_all();
        while (s.in_flight.is_some() || !s.queue.is_empty()) && Instant::now() < until {
            let left = until.saturating_duration_since(Instant::now());
            s = self
                .shared
                .idle
                .wait_timeout(s, left)
                .unwrap_or_else(|e| e.into_inner())
                .0;
        }
        let mut given_up = Vec::new();
        if let Some((kind, id)) = s.in_flight.clone() {
            s.abandoned = true;
            s.stats.failed += 1;
            given_up.push(GaveUp {
                kind,
                id,
                to: self.shared.to.clone(),
                why: format!(
                    "no answer within the {} s baton gives its notices when it stops",
                    self.flush.as_secs_f32()
                ),
                dropped: false,
            });
        }
        for p in std::mem::take(&mut s.queue) {
            s.stats.failed += 1;
            let why = match p.last {
                Some(last) => format!("{last}; baton stopped before another try"),
                None => "baton stopped before it could be sent".into(),
            };
            given_up.push(GaveUp {
                kind: p.notice.kind,
                id: p.notice.id,
                to: self.shared.to.clone(),
                why,
                dropped: false,
            });
        }
        let stats = s.stats;
        drop(s);
        self.shared.wake.notify_all();
        for g in given_up {
            self.shared.gave_up(g);
        }
        let Stats {
            delivered,
            failed,
            dropped,
            ..
        } = stats;
        if failed + dropped > 0 {
            eprintln!(
                "warning: webhook {}: {delivered} notice(s) delivered, {failed} failed, \
                 {dropped} dropped (queue full)",
                self.shared.to
            );
        }
        stats
    }

    /// The counts so far.
    #[cfg(test)]
    pub fn stats(&self) -> Stats {
        self.shared.lock().stats
    }
}

impl Drop for Webhook {
    /// Closes the sender ([`Webhook::close`]) unless that was done, then leaves the thread
    /// to end on its own.
    fn drop(&mut self) {
        self.close();
    }
}

/// The sending thread's side.
struct Worker {
    shared: Arc<Shared>,
    agent: ureq::Agent,
    url: WebhookUrl,
    format: WebhookFormat,
    project: String,
    capacity: usize,
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
        while let Some(mut pending) = self.next() {
            let outcome = self.post(&pending.notice);
            pending.tries += 1;
            let mut s = self.shared.lock();
            s.in_flight = None;
            let mut given_up = Vec::new();
            if std::mem::take(&mut s.abandoned) {
                // Counted (as failed) when the flush time ran out.
            } else {
                let fail = |s: &mut State, why: String| {
                    s.stats.failed += 1;
                    GaveUp {
                        kind: pending.notice.kind,
                        id: pending.notice.id.clone(),
                        to: self.shared.to.clone(),
                        why,
                        dropped: false,
                    }
                };
                match outcome {
                    Try::Delivered => s.stats.delivered += 1,
                    Try::Final(why) => given_up.push(fail(&mut s, why)),
                    Try::Again(why) if s.closing => given_up.push(fail(
                        &mut s,
                        format!("{why} (baton was stopping: not tried again)"),
                    )),
                    Try::Again(why) => match self.policy.backoff.get(pending.tries - 1) {
                        None => {
                            let why = format!("{why} ({} tries)", pending.tries);
                            given_up.push(fail(&mut s, why));
                        }
                        Some(wait) => {
                            // Aside until due: later notices go out meanwhile.
                            pending.due = Instant::now() + *wait;
                            pending.last = Some(why);
                            s.queue.push_back(pending);
                            given_up.extend(self.shared.trim(&mut s, self.capacity));
                        }
                    },
                }
            }
            drop(s);
            self.shared.idle.notify_all();
            for g in given_up {
                self.shared.gave_up(g);
            }
        }
        self.shared.idle.notify_all();
    }

    /// Waits for the next notice due (the first queued whose due time has come; when
    /// closing, the first queued) and takes it; `None` once closing with an empty queue.
    fn next(&self) -> Option<Pending> {
        let mut s = self.shared.lock();
        loop {
            let now = Instant::now();
            let closing = s.closing;
            if let Some(i) = s.queue.iter().position(|p| closing || p.due <= now)
                && let Some(p) = s.queue.remove(i)
            {
                s.in_flight = Some((p.notice.kind, p.notice.id.clone()));
                s.stats.attempts += 1;
                return Some(p);
            }
            if closing {
                return None;
            }
            s = match s.queue.iter().map(|p| p.due).min() {
                Some(due) => {
                    self.shared
                        .wake
                        .wait_timeout(s, due.saturating_duration_since(now))
                        .unwrap_or_else(|e| e.into_inner())
                        .0
                }
                None => self.shared.wake.wait(s).unwrap_or_else(|e| e.into_inner()),
            };
        }
    }

    /// One POST.
    fn post(&self, notice: &Notice) -> Try {
        let request = self
            .agent
            .post(self.url.secret())
            .header(ID_HEADER, notice.id.as_str());
        let sent = match self.format {
            WebhookFormat::Json => request
                .content_type("application/json")
                .send(json_body(notice, &self.project)),
            WebhookFormat::Slack => request
                .content_type("application/json")
                .send(slack_body(notice)),
            WebhookFormat::Ntfy => {
                let urgent = notice.kind.is_urgent();
                request
                    .content_type("text/plain; charset=utf-8")
                    .header("Title", ascii_title(&notice.title))
                    .header("Priority", if urgent { "high" } else { "default" })
                    .header("Tags", ntfy_tags(notice.kind))
                    .send(if notice.body.is_empty() {
                        notice.title.as_str()
                    } else {
                        notice.body.as_str()
                    })
            }
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
        "id": n.id,
        "kind": n.kind,
        "title": n.title,
        "body": n.body,
        "project": project,
        "time": n.time.to_string(),
        "urgent": n.kind.is_urgent(),
    })
    .to_string()
}

/// The `slack` format's body: the one field every Slack-compatible hook reads, with `&`,
/// `<` and `>` escaped as Slack requires (else `<…>` is read as a link or a mention).
fn slack_body(n: &Notice) -> String {
    let text = if n.body.is_empty() {
        n.title.clone()
    } else {
        format!("{}\n{}", n.title, n.body)
    };
    let text = text
        .replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;");
    serde_json::json!({ "text": text }).to_string()
}

/// An ntfy `Title` header: printable ASCII, so every client shows it as written (`·`
/// becomes `-`, `…` `...`, any other character `?`); the body carries the text in UTF-8.
fn ascii_title(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            ' '..='~' => out.push(c),
            '·' | '–' | '—' => out.push('-'),
            '…' => out.push_str("..."),
            _ => out.push('?'),
        }
    }
    out
}

/// An ntfy `Tags` header: `baton`, the kind, and for an urgent one an emoji the phone shows
/// beside the title (`rotating_light`).
fn ntfy_tags(kind: NoticeKind) -> String {
    if kind.is_urgent() {
        format!("rotating_light,baton,{kind}")
    } else {
        format!("baton,{kind}")
    }
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

    impl Got {
        /// The value of header `name`, if sent.
        fn header(&self, name: &str) -> Option<String> {
            self.head.lines().find_map(|l| {
                let (k, v) = l.split_once(':')?;
                k.eq_ignore_ascii_case(name).then(|| v.trim().to_owned())
            })
        }

        /// The notice id the request carried (its header).
        fn id(&self) -> String {
            self.header(ID_HEADER).unwrap_or_default()
        }
    }

    /// A loopback HTTP server that records each request, then, after the delay of its
    /// script's next step, answers with that step's status (the last step repeats). Each
    /// connection is served on a thread of its own: a slow answer holds back no other.
    struct Server {
        url: String,
        got: Arc<Mutex<Vec<Got>>>,
        /// Answers written (or that failed to be: the client had left).
        answered: Arc<Mutex<usize>>,
    }

    impl Server {
        fn start(statuses: &[u16]) -> Server {
            let script: Vec<(u16, Duration)> =
                statuses.iter().map(|s| (*s, Duration::ZERO)).collect();
            Server::script(&script)
        }

        fn script(steps: &[(u16, Duration)]) -> Server {
            let listener = TcpListener::bind("127.0.0.1:0").unwrap();
            let url = format!(
                "http://{}/hook/Secret-token",
                listener.local_addr().unwrap()
            );
            let got = Arc::new(Mutex::new(Vec::new()));
            let answered = Arc::new(Mutex::new(0));
            let (record, count) = (Arc::clone(&got), Arc::clone(&answered));
            let steps = steps.to_vec();
            thread::spawn(move || {
                for (i, stream) in listener.incoming().enumerate() {
                    let Ok(stream) = stream else { return };
                    let (status, delay) = steps[i.min(steps.len() - 1)];
                    let (record, count) = (Arc::clone(&record), Arc::clone(&count));
                    thread::spawn(move || {
                        let _ = answer(stream, status, delay, &record);
                        *count.lock().unwrap() += 1;
                    });
                }
            });
            Server { url, got, answered }
        }

        fn got(&self) -> Vec<Got> {
            self.got.lock().unwrap().clone()
        }

        fn answered(&self) -> usize {
            *self.answered.lock().unwrap()
        }
    }

    /// Reads one request, records it, waits `delay`, then answers `status`: once the client
    /// has its answer, the request is on record.
    fn answer(
        stream: std::net::TcpStream,
        status: u16,
        delay: Duration,
        record: &Mutex<Vec<Got>>,
    ) -> Option<()> {
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
        // The receiver's slowness, not a wait for a condition.
        thread::sleep(delay);
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

    /// What a sender reported as given up on.
    type Reported = Arc<Mutex<Vec<GaveUp>>>;

    /// A sender that reports into the list returned too.
    fn start_reporting(url: &str, format: WebhookFormat, policy: Policy) -> (Webhook, Reported) {
        let reported = Reported::default();
        let keep = Arc::clone(&reported);
        let report: Report = Box::new(move |g| keep.lock().unwrap().push(g));
        let w = Webhook::start(WebhookUrl::new(url), format, "palm", policy, report).unwrap();
        (w, reported)
    }

    fn start(url: &str, format: WebhookFormat, policy: Policy) -> Webhook {
        start_reporting(url, format, policy).0
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
    fn silent(capacity: usize) -> (TcpListener, Webhook, Reported) {
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
        let (w, reported) = start_reporting(&url, WebhookFormat::Json, policy);
        (listener, w, reported)
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

    /// Whether the sender's thread is between two notices (none in flight).
    fn between(w: &Webhook) -> bool {
        w.shared.lock().in_flight.is_none()
    }

    #[test]
    fn the_json_body_carries_id_kind_title_body_project_and_time() {
        let (server, w) = one_sent(
            &[200],
            WebhookFormat::Json,
            NoticeKind::RunFinished,
            ("baton · palm", "15 completed"),
        );
        wait_stats(&w, "delivered", |s| s.delivered == 1);
        let got = server.got();
        assert_eq!(got.len(), 1);
        assert!(
            got[0].head.starts_with("POST /hook/Secret-token "),
            "{}",
            got[0].head
        );
        assert_eq!(
            got[0].header("content-type").as_deref(),
            Some("application/json")
        );
        let v: serde_json::Value = serde_json::from_str(&got[0].body).unwrap();
        assert_eq!(v["kind"], "run-finished");
        assert_eq!(v["title"], "baton · palm");
        assert_eq!(v["body"], "15 completed");
        assert_eq!(v["project"], "palm");
        assert_eq!(v["urgent"], false);
        let time = v["time"].as_str().unwrap();
        assert!(time.parse::<jiff::Timestamp>().is_ok(), "{time}");
        assert!(time.ends_with('Z'), "{time}");
        // The id a receiver dedupes on: in the body and in the header.
        let id = v["id"].as_str().unwrap();
        assert!(id.len() > 4, "{id}");
        assert_eq!(got[0].id(), id);
    }

    #[test]
    fn the_slack_text_escapes_what_slack_reads_as_markup() {
        let (server, w) = one_sent(
            &[200],
            WebhookFormat::Slack,
            NoticeKind::TaskBlocked,
            ("baton · palm", "T-001 <needs> a & b > c"),
        );
        wait_stats(&w, "delivered", |s| s.delivered == 1);
        let v: serde_json::Value = serde_json::from_str(&server.got()[0].body).unwrap();
        assert_eq!(
            v,
            serde_json::json!({"text": "baton · palm\nT-001 &lt;needs&gt; a &amp; b &gt; c"})
        );
    }

    #[test]
    fn ntfy_titles_are_plain_ascii_and_urgent_kinds_are_high() {
        for (kind, urgent) in [
            (NoticeKind::AgentDead, true),
            (NoticeKind::NeedsInput, true),
            (NoticeKind::TaskBlocked, true),
            (NoticeKind::QuotaWarn, false),
        ] {
            let (server, w) = one_sent(
                &[200],
                WebhookFormat::Ntfy,
                kind,
                ("baton · palm · x", "claude é"),
            );
            wait_stats(&w, "delivered", |s| s.delivered == 1);
            let got = &server.got()[0];
            assert_eq!(got.body, "claude é");
            assert_eq!(
                got.header("title").as_deref(),
                Some("baton - palm - x"),
                "{kind}"
            );
            let (priority, tags) = if urgent {
                ("high", format!("rotating_light,baton,{kind}"))
            } else {
                ("default", format!("baton,{kind}"))
            };
            assert_eq!(got.header("priority").as_deref(), Some(priority), "{kind}");
            assert_eq!(got.header("tags"), Some(tags), "{kind}");
        }
        assert_eq!(ascii_title("plain title"), "plain title");
        assert_eq!(ascii_title("a…b é\u{1F600}"), "a...b ??");
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
        let got = server.got();
        assert_eq!(got.len(), 2);
        // The same notice: the same id on both tries.
        assert_eq!(got[0].id(), got[1].id());
    }

    #[test]
    fn a_request_that_timed_out_is_sent_again_with_the_same_id() {
        // The first request arrives whole, but its answer comes after the client gave up:
        // the notice is sent again (at least once), and the receiver can tell it is a repeat.
        let server = Server::script(&[(200, Duration::from_millis(1500)), (200, Duration::ZERO)]);
        let policy = Policy {
            timeout: Duration::from_millis(300),
            ..quick()
        };
        let w = start(&server.url, WebhookFormat::Json, policy);
        w.send(NoticeKind::QuotaWarn, "t", "b");
        let s = wait_stats(&w, "delivered", |s| s.delivered == 1);
        assert_eq!((s.attempts, s.failed), (2, 0));
        let got = server.got();
        assert_eq!(got.len(), 2, "{got:?}");
        assert_eq!(got[0].id(), got[1].id());
        assert!(!got[0].id().is_empty());
        let ids: Vec<serde_json::Value> = got
            .iter()
            .map(|g| serde_json::from_str::<serde_json::Value>(&g.body).unwrap()["id"].clone())
            .collect();
        assert_eq!(ids[0], ids[1]);
        assert_eq!(ids[0].as_str(), Some(got[0].id().as_str()));
    }

    #[test]
    fn a_4xx_is_not_tried_again() {
        let server = Server::start(&[400, 200]);
        let (w, reported) = start_reporting(&server.url, WebhookFormat::Json, quick());
        w.send(NoticeKind::QuotaWarn, "t", "b");
        let s = wait_stats(&w, "failed", |s| s.failed == 1);
        assert_eq!((s.attempts, s.delivered), (1, 0));
        // The next notice is the next request: the first was not sent again.
        w.send(NoticeKind::QuotaWarn, "t2", "b2");
        wait_stats(&w, "delivered", |s| s.delivered == 1);
        let got = server.got();
        assert_eq!(got.len(), 2);
        assert!(got[1].body.contains("t2"), "{got:?}");
        assert_ne!(got[0].id(), got[1].id());
        // Reported once, without the URL's path.
        let reported = reported.lock().unwrap().clone();
        assert_eq!(reported.len(), 1, "{reported:?}");
        let text = reported[0].to_string();
        assert!(text.starts_with("quota-warn notice not delivered to http://127.0.0.1:"));
        assert!(text.contains("/…: HTTP 400"), "{text}");
        assert!(text.contains(&got[0].id()), "{text}");
        assert!(!text.contains("Secret"), "{text}");
    }

    #[test]
    fn a_refused_connection_is_tried_every_time_then_given_up() {
        // A port nothing listens on: bind, note it, close.
        let port = TcpListener::bind("127.0.0.1:0")
            .unwrap()
            .local_addr()
            .unwrap()
            .port();
        let (w, reported) = start_reporting(
            &format!("http://127.0.0.1:{port}/hook/Secret-token"),
            WebhookFormat::Json,
            quick(),
        );
        w.send(NoticeKind::QuotaWarn, "t", "b");
        let s = wait_stats(&w, "failed", |s| s.failed == 1);
        assert_eq!((s.attempts, s.delivered), (3, 0));
        let reported = reported.lock().unwrap().clone();
        assert_eq!(reported.len(), 1, "{reported:?}");
        assert!(reported[0].why.ends_with("(3 tries)"), "{reported:?}");
    }

    #[test]
    fn a_notice_waiting_for_a_retry_does_not_hold_back_later_ones() {
        // The first notice's retry is a minute away: the second goes out meanwhile.
        let server = Server::start(&[500, 200]);
        let policy = Policy {
            backoff: vec![Duration::from_secs(60)],
            ..quick()
        };
        let w = start(&server.url, WebhookFormat::Json, policy);
        w.send(NoticeKind::QuotaWarn, "first", "b");
        wait_until("the first tried", || server.got().len() == 1);
        w.send(NoticeKind::QuotaWarn, "second", "b");
        let s = wait_stats(&w, "the second delivered", |s| s.delivered == 1);
        assert_eq!((s.attempts, s.failed), (2, 0));
        let got = server.got();
        assert!(got[1].body.contains("second"), "{got:?}");
        // Closing: the waiting one gets its last try at once, not in a minute.
        let started = Instant::now();
        let s = w.close();
        assert!(started.elapsed() < Duration::from_secs(10));
        assert_eq!((s.delivered, s.failed, s.attempts), (2, 0, 3), "{s:?}");
        let got = server.got();
        assert!(got[2].body.contains("first"), "{got:?}");
        assert_eq!(got[0].id(), got[2].id());
    }

    #[test]
    fn closing_tries_a_waiting_retry_once_more_and_counts_it_failed() {
        let server = Server::start(&[500]);
        let policy = Policy {
            backoff: vec![Duration::from_secs(60)],
            ..quick()
        };
        let (w, reported) = start_reporting(&server.url, WebhookFormat::Json, policy);
        w.send(NoticeKind::AgentDead, "t", "b");
        wait_until("the first try done", || {
            w.stats().attempts == 1 && between(&w)
        });
        let s = w.close();
        assert_eq!((s.delivered, s.failed, s.attempts), (0, 1, 2), "{s:?}");
        assert_eq!(server.got().len(), 2);
        let reported = reported.lock().unwrap().clone();
        assert_eq!(reported.len(), 1, "{reported:?}");
        assert!(
            reported[0].why.contains("HTTP 500 (baton was stopping"),
            "{reported:?}"
        );
        // Closing again changes nothing; a notice sent after is counted, not lost.
        assert_eq!(w.close(), s);
        w.send(NoticeKind::AgentDead, "late", "b");
        assert_eq!(w.stats().failed, 2);
    }

    #[test]
    fn what_the_flush_time_leaves_unsent_is_counted_failed_and_reported() {
        let (_listener, w, reported) = silent(8);
        for title in ["first", "second", "third"] {
            w.send(NoticeKind::QuotaWarn, title, "b");
        }
        let s = w.close();
        assert_eq!((s.delivered, s.failed, s.dropped), (0, 3, 0), "{s:?}");
        let reported = reported.lock().unwrap().clone();
        assert_eq!(reported.len(), 3, "{reported:?}");
        assert!(reported.iter().all(|g| !g.dropped), "{reported:?}");
    }

    #[test]
    fn a_slow_receiver_leaves_every_notice_counted_once() {
        // Slow answers and a small queue: each notice ends delivered or dropped, once, and
        // the receiver got each delivered one exactly once.
        let server = Server::script(&[(200, Duration::from_millis(300))]);
        let policy = Policy {
            capacity: 2,
            ..quick()
        };
        let (w, reported) = start_reporting(&server.url, WebhookFormat::Json, policy);
        for i in 0..6 {
            w.send(NoticeKind::QuotaWarn, &format!("n{i}"), "b");
        }
        let s = w.close();
        assert_eq!(s.failed, 0, "{s:?}");
        assert_eq!(s.delivered + s.dropped, 6, "{s:?}");
        assert!(s.dropped >= 1, "{s:?}");
        let got = server.got();
        let ids: std::collections::BTreeSet<String> = got.iter().map(Got::id).collect();
        assert_eq!((got.len(), ids.len()), (s.delivered as usize, got.len()));
        let reported = reported.lock().unwrap().clone();
        assert_eq!(reported.len() as u64, s.dropped, "{reported:?}");
        assert!(reported.iter().all(|g| g.dropped), "{reported:?}");

        // Slower than the flush time: what is in flight when it runs out is counted failed
        // then, and its late answer does not count it again.
        let server = Server::script(&[(200, Duration::from_millis(800))]);
        let policy = Policy {
            flush: Duration::from_millis(200),
            ..quick()
        };
        let w = start(&server.url, WebhookFormat::Json, policy);
        w.send(NoticeKind::QuotaWarn, "a", "b");
        wait_until("the thread took it", || !between(&w));
        w.send(NoticeKind::QuotaWarn, "c", "d");
        let s = w.close();
        assert_eq!((s.delivered, s.failed, s.dropped), (0, 2, 0), "{s:?}");
        wait_until("the late answer", || server.answered() == 1 && between(&w));
        assert_eq!(w.stats(), s);
    }

    #[test]
    fn a_full_queue_drops_the_oldest() {
        // The thread holds the first notice; the queue fills behind it.
        let (_listener, w, reported) = silent(2);
        w.send(NoticeKind::QuotaWarn, "first", "b");
        // Until the thread has taken the first one, it is a queued one like the others.
        wait_until("the thread took it", || !between(&w));
        for title in ["second", "third", "fourth"] {
            w.send(NoticeKind::QuotaWarn, title, "b");
        }
        assert_eq!(w.stats().dropped, 1);
        let titles: Vec<String> = w
            .shared
            .lock()
            .queue
            .iter()
            .map(|p| p.notice.title.clone())
            .collect();
        assert_eq!(titles, ["third", "fourth"]);
        let reported = reported.lock().unwrap().clone();
        assert_eq!(reported.len(), 1, "{reported:?}");
        assert!(reported[0].dropped && reported[0].why.contains("queue was full"));
    }

    #[test]
    fn a_server_that_never_answers_does_not_block_the_caller() {
        let (_listener, w, _) = silent(8);
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
