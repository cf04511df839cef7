//! Tests of the OAuth usage source against a scripted loopback HTTP server.

use std::io::{BufRead, BufReader, Write};
use std::net::{SocketAddr, TcpListener};
use std::sync::mpsc::{self, Receiver, Sender};
use std::thread;
use std::time::{Duration, Instant};

use super::*;

const SECRET: &str = "sk-ant-oat01-TOPSECRET-0123456789abcdef";
const NOW: i64 = 1_790_000_000_000;

/// One scripted answer.
enum Reply {
    /// Answer with this status, extra headers and body.
    Respond {
        status: u16,
        headers: Vec<(&'static str, String)>,
        body: String,
    },
    /// Read the request, then never answer (until the test ends).
    Hang,
}

fn ok(body: &str) -> Reply {
    status(200, body)
}

fn status(code: u16, body: &str) -> Reply {
    Reply::Respond {
        status: code,
        headers: Vec::new(),
        body: body.to_owned(),
    }
}

/// A request as the server saw it.
#[derive(Debug)]
struct Seen {
    request_line: String,
    headers: Vec<(String, String)>,
}

impl Seen {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k.eq_ignore_ascii_case(name))
            .map(|(_, v)| v.as_str())
    }
}

/// A loopback server answering its script in order, one connection per reply. Every request
/// is reported on `seen` before it is answered, so once a client call returns, `seen` holds
/// every request it made: counting needs no sleep.
struct Server {
    addr: SocketAddr,
    seen: Receiver<Seen>,
    /// Dropping it releases hanging connections.
    _release: Sender<()>,
}

impl Server {
    fn start(script: Vec<Reply>) -> Server {
        let listener = TcpListener::bind("127.0.0.1:0").expect("bind loopback");
        let addr = listener.local_addr().expect("local addr");
        let (seen_tx, seen) = mpsc::channel();
        let (release, release_rx) = mpsc::channel::<()>();
        thread::spawn(move || {
            for reply in script {
                let Ok((stream, _)) = listener.accept() else {
                    return;
                };
                let mut reader = BufReader::new(stream.try_clone().expect("clone stream"));
                let mut request_line = String::new();
                if reader.read_line(&mut request_line).is_err() {
                    return;
                }
                let mut headers = Vec::new();
                loop {
                    let mut line = String::new();
                    if reader.read_line(&mut line).unwrap_or(0) == 0 {
                        break;
                    }
                    let line = line.trim_end();
                    if line.is_empty() {
                        break;
                    }
                    if let Some((k, v)) = line.split_once(':') {
                        headers.push((k.trim().to_owned(), v.trim().to_owned()));
                    }
                }
                let _ = seen_tx.send(Seen {
                    request_line: request_line.trim_end().to_owned(),
                    headers,
                });
                match reply {
                    Reply::Respond {
                        status,
                        headers,
                        body,
                    } => {
                        let mut out = stream;
                        let mut head = format!(
                            "HTTP/1.1 {status} Scripted\r\nContent-Type: application/json\r\n\
                             Content-Length: {}\r\nConnection: close\r\n",
                            body.len()
                        );
                        for (k, v) in headers {
                            head.push_str(&format!("{k}: {v}\r\n"));
                        }
                        head.push_str("\r\n");
                        let _ = out.write_all(head.as_bytes());
                        let _ = out.write_all(body.as_bytes());
                        let _ = out.flush();
                    }
                    Reply::Hang => {
                        // Keeps the connection open, silent, until the test drops `release`.
                        let _ = release_rx.recv();
                        drop(stream);
                    }
                }
            }
        });
        Server {
            addr,
            seen,
            _release: release,
        }
    }

    fn base_url(&self) -> String {
        format!("http://{}", self.addr)
    }

    /// The requests made so far (all of them, once the client call has returned).
    fn requests(&self) -> Vec<Seen> {
        self.seen.try_iter().collect()
    }
}

fn client(server: &Server, dir: &tempfile::TempDir) -> UsageClient {
    UsageClient::new(dir.path().join(".baton").join("usage-cache.json"))
        .with_base_url(server.base_url())
        .with_timeout(Duration::from_secs(5))
}

/// A server giving `script`'s replies in turn, the temporary directory of the client's
/// cache, and the client.
fn served(script: Vec<Reply>) -> (Server, tempfile::TempDir, UsageClient) {
    let server = Server::start(script);
    let dir = tempfile::tempdir().unwrap();
    let c = client(&server, &dir);
    (server, dir, c)
}

fn token() -> Result<Token, OauthError> {
    Ok(Token::new(SECRET, Some(NOW + 3_600_000)))
}

fn cache_text(c: &UsageClient) -> String {
    fs::read_to_string(c.cache_path()).expect("cache file written")
}

/// Asserts the secret is in none of the error's texts.
fn assert_no_secret(e: &OauthError) {
    let shown = format!("{e} / {e:?} / {}", CliError::from(clone_err(e)));
    assert!(!shown.contains(SECRET), "secret leaked: {shown}");
    assert!(!shown.contains("TOPSECRET"), "secret leaked: {shown}");
}

/// `OauthError` holds an `io::Error`, so it is not `Clone`; rebuild it from its text.
fn clone_err(e: &OauthError) -> OauthError {
    OauthError::BadCredentials {
        location: String::new(),
        reason: e.to_string(),
    }
}

const NORMAL: &str = r#"{
  "five_hour": {"utilization": 35.0, "resets_at": "2026-02-06T22:00:00+00:00"},
  "seven_day": {"utilization": 22, "resets_at": "2026-02-03T09:59:59.571468+00:00"},
  "seven_day_opus": {"utilization": 5.5, "resets_at": null},
  "seven_day_sonnet": {"utilization": 1.0, "resets_at": "2026-01-08T14:59:59Z"},
  "seven_day_oauth_apps": null,
  "extra_usage": {"is_enabled": false, "monthly_limit": null, "utilization": null}
}"#;

fn ms(rfc3339: &str) -> i64 {
    rfc3339
        .parse::<jiff::Timestamp>()
        .expect("timestamp")
        .as_millisecond()
}

#[test]
fn normal_answer_gives_every_window_and_sends_the_right_request() {
    let (server, _dir, c) = served(vec![ok(NORMAL)]);
    let snap = c.usage(NOW, token).expect("usage");
    assert!(!snap.stale && !snap.from_cache);
    assert_eq!(snap.error, None);
    assert_eq!(snap.fetched_at_ms, NOW);
    assert_eq!(
        snap.readings,
        vec![
            OauthReading {
                window: "session-5h".into(),
                used_percent: 35.0,
                resets_at_ms: Some(ms("2026-02-06T22:00:00Z")),
            },
            OauthReading {
                window: "weekly".into(),
                used_percent: 22.0,
                resets_at_ms: Some(ms("2026-02-03T09:59:59.571468Z")),
            },
            OauthReading {
                window: "model:opus".into(),
                used_percent: 5.5,
                resets_at_ms: None,
            },
            OauthReading {
                window: "model:sonnet".into(),
                used_percent: 1.0,
                resets_at_ms: Some(ms("2026-01-08T14:59:59Z")),
            },
        ]
    );
    let reqs = server.requests();
    assert_eq!(reqs.len(), 1);
    let r = &reqs[0];
    assert_eq!(r.request_line, "GET /api/oauth/usage HTTP/1.1");
    assert_eq!(
        r.header("authorization"),
        Some(format!("Bearer {SECRET}").as_str())
    );
    assert_eq!(r.header("anthropic-beta"), Some("oauth-2025-04-20"));
    assert!(
        r.header("user-agent")
            .is_some_and(|ua| ua.starts_with("baton/")),
        "{r:?}"
    );
    let cached = cache_text(&c);
    assert!(cached.contains("session-5h"));
    assert!(!cached.contains(SECRET));
}

#[test]
fn null_and_absent_windows_are_unknown_not_zero() {
    let body = r#"{
      "five_hour": {"utilization": 61.0, "resets_at": "2026-01-28T07:59:59.571404+00:00"},
      "seven_day": null,
      "seven_day_sonnet": {"utilization": null, "resets_at": null}
    }"#;
    let server = Server::start(vec![ok(body)]);
    let dir = tempfile::tempdir().unwrap();
    let snap = client(&server, &dir).usage(NOW, token).unwrap();
    let windows: Vec<&str> = snap.readings.iter().map(|r| r.window.as_str()).collect();
    assert_eq!(windows, ["session-5h"]);
    assert_eq!(snap.readings[0].used_percent, 61.0);
}

#[test]
fn status_401_and_403_reject_the_token_without_echoing_the_body() {
    for code in [401, 403] {
        let body = format!(r#"{{"error": "invalid token {SECRET}"}}"#);
        let (_server, _dir, c) = served(vec![status(code, &body)]);
        let e = c.usage(NOW, token).unwrap_err();
        assert!(
            matches!(e, OauthError::TokenRejected { status } if status == code),
            "{e:?}"
        );
        assert_eq!(e.kind(), "token-rejected");
        let text = e.to_string();
        assert!(
            text.contains("run `claude` once to refresh the login"),
            "{text}"
        );
        assert_no_secret(&e);
        assert!(!c.cache_path().exists() || !cache_text(&c).contains(SECRET));
    }
}

#[test]
fn status_429_honours_retry_after_and_serves_the_last_value_stale() {
    let limited = Reply::Respond {
        status: 429,
        headers: vec![("Retry-After", "30".into())],
        body: format!(r#"{{"error": "{SECRET}"}}"#),
    };
    let (server, _dir, c) = served(vec![ok(NORMAL), limited, ok(NORMAL)]);
    c.usage(NOW, token).unwrap();

    // Past the TTL: a request, answered 429 → the last value, stale, and a retry time.
    let t1 = NOW + DEFAULT_TTL_MS + 1;
    let snap = c.usage(t1, token).unwrap();
    assert!(snap.stale && !snap.from_cache);
    assert_eq!(snap.error, Some(FetchErrorKind::RateLimited));
    assert_eq!(snap.retry_at_ms, Some(t1 + 30_000));
    assert_eq!(snap.fetched_at_ms, NOW);
    assert_eq!(snap.readings.len(), 4);
    let cached = cache_text(&c);
    assert!(cached.contains("\"stale\": true") && cached.contains("rate-limited"));
    assert!(!cached.contains(SECRET));
    assert_eq!(server.requests().len(), 2);

    // Within the back-off: no request, the stale value again, and the token is not read.
    let snap = c
        .usage(t1 + 29_000, || panic!("no token needed while backing off"))
        .unwrap();
    assert!(snap.stale && snap.from_cache);
    assert_eq!(snap.error, Some(FetchErrorKind::RateLimited));
    assert!(server.requests().is_empty());

    // After it: a request again, and a good answer clears the stale mark.
    let snap = c.usage(t1 + 30_000, token).unwrap();
    assert!(!snap.stale && snap.error.is_none() && snap.retry_at_ms.is_none());
    assert_eq!(server.requests().len(), 1);
    assert!(cache_text(&c).contains("\"stale\": false"));
}

#[test]
fn status_429_without_retry_after_backs_off_exponentially_from_60_s() {
    let (server, _dir, c) = served(vec![
        status(429, "{}"),
        status(429, "{}"),
        status(429, "{}"),
    ]);
    let e = c.usage(NOW, token).unwrap_err();
    match &e {
        OauthError::Unavailable {
            kind: FetchErrorKind::RateLimited,
            retry_at_ms: Some(at),
            ..
        } => assert_eq!(*at, NOW + 60_000),
        other => panic!("{other:?}"),
    }
    assert!(e.to_string().contains("next try after"), "{e}");

    // Still backing off: an error with no request, even with no value to show.
    let e = c.usage(NOW + 59_999, token).unwrap_err();
    assert_eq!(e.kind(), "rate-limited");
    assert_eq!(server.requests().len(), 1);

    let t = NOW + 60_000;
    let e = c.usage(t, token).unwrap_err();
    assert!(
        matches!(e, OauthError::Unavailable { retry_at_ms: Some(at), .. } if at == t + 120_000),
        "{e:?}"
    );
    let t = t + 120_000;
    let e = c.usage(t, token).unwrap_err();
    assert!(
        matches!(e, OauthError::Unavailable { retry_at_ms: Some(at), .. } if at == t + 240_000),
        "{e:?}"
    );
    assert_eq!(server.requests().len(), 2);
}

#[test]
fn server_error_is_an_error_without_a_value_and_stale_with_one() {
    let body = format!("<html>oops {SECRET}</html>");
    let (server, _dir, c) = served(vec![status(503, &body), ok(NORMAL), status(500, &body)]);
    let c = c.with_ttl_ms(1_000);

    let e = c.usage(NOW, token).unwrap_err();
    assert!(
        matches!(
            e,
            OauthError::Unavailable {
                kind: FetchErrorKind::ServerError,
                ..
            }
        ),
        "{e:?}"
    );
    assert!(e.to_string().contains("HTTP 503"), "{e}");
    assert_no_secret(&e);

    // One TTL later it asks again.
    c.usage(NOW + 1_000, token).unwrap();
    let snap = c.usage(NOW + 2_000, token).unwrap();
    assert!(snap.stale);
    assert_eq!(snap.error, Some(FetchErrorKind::ServerError));
    assert_eq!(snap.retry_at_ms, Some(NOW + 3_000));
    assert_eq!(snap.readings.len(), 4);
    assert!(!cache_text(&c).contains(SECRET));
    assert_eq!(server.requests().len(), 3);
}

#[test]
fn a_server_that_never_answers_times_out() {
    let (server, _dir, c) = served(vec![Reply::Hang]);
    let c = c.with_timeout(Duration::from_millis(300));
    let started = Instant::now();
    let e = c.usage(NOW, token).unwrap_err();
    let took = started.elapsed();
    assert!(
        matches!(
            e,
            OauthError::Unavailable {
                kind: FetchErrorKind::Timeout,
                ..
            }
        ),
        "{e:?}"
    );
    assert!(took < Duration::from_secs(3), "took {took:?}");
    assert!(e.to_string().contains("300 ms"), "{e}");
    assert_eq!(server.requests().len(), 1);
}

#[test]
fn invalid_json_is_an_invalid_response_and_never_echoed() {
    let garbage = format!("{{\"five_hour\": \"{SECRET}\" oops");
    let not_object = format!("[\"{SECRET}\"]");
    for body in [garbage, not_object] {
        let (_server, _dir, c) = served(vec![ok(&body)]);
        let e = c.usage(NOW, token).unwrap_err();
        assert_eq!(e.kind(), "invalid-response", "{e:?}");
        assert_no_secret(&e);
        assert!(!cache_text(&c).contains(SECRET));
    }
}

#[test]
fn a_body_holding_the_token_leaks_into_no_error_and_no_cache() {
    let echo = format!(r#"{{"you_sent": "Bearer {SECRET}"}}"#);
    let mut script = Vec::new();
    for code in [200, 400, 401, 404, 429, 500, 502] {
        script.push(status(code, &echo));
    }
    let (server, _dir, c) = served(script);
    // TTL 0 and a clock that moves past every back-off: every call asks.
    let c = c.with_ttl_ms(0);
    let mut now = NOW;
    for _ in 0..7 {
        match c.usage(now, || Ok(Token::new(SECRET, None))) {
            Ok(snap) => assert!(!format!("{snap:?}").contains(SECRET)),
            Err(e) => assert_no_secret(&e),
        }
        if c.cache_path().exists() {
            assert!(!cache_text(&c).contains(SECRET));
        }
        now += RETRY_AFTER_MAX_MS;
    }
    assert_eq!(server.requests().len(), 7);
}

#[test]
fn a_fresh_cache_makes_no_request() {
    let (server, _dir, c) = served(vec![ok(NORMAL), ok(NORMAL)]);
    let first = c.usage(NOW, token).unwrap();
    assert_eq!(server.requests().len(), 1);
    let second = c
        .usage(NOW + DEFAULT_TTL_MS - 1, || panic!("no token needed"))
        .unwrap();
    assert!(second.from_cache && !second.stale);
    assert_eq!(second.readings, first.readings);
    assert_eq!(second.fetched_at_ms, NOW);
    assert!(server.requests().is_empty());
    // At the TTL it asks again.
    let third = c.usage(NOW + DEFAULT_TTL_MS, token).unwrap();
    assert!(!third.from_cache);
    assert_eq!(server.requests().len(), 1);
}

#[test]
fn a_clock_gone_backwards_does_not_make_the_cache_fresh_forever() {
    let (server, _dir, c) = served(vec![ok(NORMAL), ok(NORMAL)]);
    c.usage(NOW, token).unwrap();
    let snap = c.usage(NOW - 10_000, token).unwrap();
    assert!(!snap.from_cache);
    assert_eq!(server.requests().len(), 2);
}

#[test]
fn a_corrupt_cache_is_ignored_and_rewritten() {
    let (_server, _dir, c) = served(vec![ok(NORMAL)]);
    fs::create_dir_all(c.cache_path().parent().unwrap()).unwrap();
    fs::write(c.cache_path(), "{ not json").unwrap();
    let snap = c.usage(NOW, token).unwrap();
    assert!(!snap.from_cache);
    assert!(read_cache(c.cache_path()).is_some());
}

#[cfg(unix)]
#[test]
fn the_cache_file_is_private_and_replaced_atomically() {
    use std::os::unix::fs::PermissionsExt;
    let (_server, _dir, c) = served(vec![ok(NORMAL)]);
    // A stale cache left world-readable is replaced by a 0600 file.
    fs::create_dir_all(c.cache_path().parent().unwrap()).unwrap();
    fs::write(c.cache_path(), "{}").unwrap();
    fs::set_permissions(c.cache_path(), fs::Permissions::from_mode(0o644)).unwrap();
    c.usage(NOW, token).unwrap();
    let mode = fs::metadata(c.cache_path()).unwrap().permissions().mode();
    assert_eq!(mode & 0o777, 0o600);
    // No temporary file is left behind.
    let names: Vec<String> = fs::read_dir(c.cache_path().parent().unwrap())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect();
    assert_eq!(names, ["usage-cache.json"]);
}

#[test]
fn an_expired_token_makes_no_request() {
    let (server, _dir, c) = served(vec![ok(NORMAL)]);
    let e = c
        .usage(NOW, || Ok(Token::new(SECRET, Some(NOW - 1))))
        .unwrap_err();
    assert_eq!(e.kind(), "token-expired");
    assert!(e.to_string().contains("run `claude` once"), "{e}");
    assert_no_secret(&e);
    assert!(server.requests().is_empty());
}

#[test]
fn plain_http_is_refused_off_loopback() {
    let dir = tempfile::tempdir().unwrap();
    let c = UsageClient::new(dir.path().join("c.json")).with_base_url("http://example.com");
    let e = c.usage(NOW, || panic!("no token needed")).unwrap_err();
    assert_eq!(e.kind(), "invalid-base-url");
    let c = UsageClient::new(dir.path().join("c.json")).with_base_url("ftp://example.com");
    assert_eq!(c.usage(NOW, token).unwrap_err().kind(), "invalid-base-url");
    for ok in [
        "http://127.0.0.1:8080",
        "http://localhost:1/",
        "http://[::1]:9",
        "https://api.anthropic.com",
    ] {
        let c = UsageClient::new("c.json").with_base_url(ok);
        assert_eq!(
            c.endpoint_url().unwrap(),
            format!("{}/api/oauth/usage", ok.trim_end_matches('/'))
        );
    }
    assert!(!is_loopback_authority("127.0.0.1.evil.com"));
    assert!(!is_loopback_authority("localhost.evil.com:80"));
}

#[test]
fn retry_after_is_read_as_seconds_or_a_date() {
    assert_eq!(parse_retry_after_secs("120"), Some(120));
    assert_eq!(parse_retry_after_secs(" 0 "), Some(0));
    assert_eq!(parse_retry_after_secs("-5"), None);
    assert_eq!(parse_retry_after_secs("soon"), None);
    // A date in the past means "now".
    assert_eq!(
        parse_retry_after_secs("Wed, 21 Oct 2015 07:28:00 GMT"),
        Some(0)
    );
}

fn write_credentials(home: &Path, json: &str) -> PathBuf {
    let path = credentials_path(home);
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(&path, json).unwrap();
    path
}

#[test]
fn the_token_is_read_from_the_credentials_file() {
    let home = tempfile::tempdir().unwrap();
    let path = write_credentials(
        home.path(),
        &format!(
            r#"{{"claudeAiOauth": {{"accessToken": "{SECRET}", "refreshToken": "r",
                 "expiresAt": {}, "scopes": ["user:inference", "user:profile"]}}}}"#,
            NOW + 1
        ),
    );
    let t = load_token(&path, NOW).expect("token");
    assert_eq!(t.secret, SECRET);
    assert_eq!(t.expires_at_ms(), Some(NOW + 1));
    let dbg = format!("{t:?}");
    assert!(!dbg.contains(SECRET) && dbg.contains("<redacted>"), "{dbg}");
}

#[test]
fn an_expired_login_says_how_to_refresh_it() {
    let home = tempfile::tempdir().unwrap();
    let path = write_credentials(
        home.path(),
        &format!(r#"{{"claudeAiOauth": {{"accessToken": "{SECRET}", "expiresAt": {NOW}}}}}"#),
    );
    let e = load_token(&path, NOW).unwrap_err();
    assert!(matches!(e, OauthError::TokenExpired { expired_at_ms } if expired_at_ms == NOW));
    let text = e.to_string();
    assert!(
        text.contains("run `claude` once to refresh the login"),
        "{text}"
    );
    assert_no_secret(&e);
}

#[cfg(not(target_os = "macos"))]
#[test]
fn a_missing_login_is_no_credentials() {
    let home = tempfile::tempdir().unwrap();
    let e = load_token(&credentials_path(home.path()), NOW).unwrap_err();
    assert_eq!(e.kind(), "no-credentials");
    assert!(e.to_string().contains(".credentials.json"), "{e}");
}

#[test]
fn bad_credentials_never_show_their_content() {
    let home = tempfile::tempdir().unwrap();
    for json in [
        format!("{{\"claudeAiOauth\": {{\"accessToken\": \"{SECRET}\""),
        format!(r#"{{"claudeAiOauth": {{"accessToken": ["{SECRET}"]}}}}"#),
        format!(r#"{{"apiKey": "{SECRET}"}}"#),
        format!(r#"{{"claudeAiOauth": {{"accessToken": "", "expiresAt": "{SECRET}"}}}}"#),
    ] {
        let path = write_credentials(home.path(), &json);
        let e = load_token(&path, NOW).unwrap_err();
        assert_eq!(e.kind(), "bad-credentials", "{e:?}");
        assert_no_secret(&e);
    }
}

#[test]
fn a_token_without_expiry_is_used() {
    let home = tempfile::tempdir().unwrap();
    let path = write_credentials(
        home.path(),
        &format!(r#"{{"claudeAiOauth": {{"accessToken": "{SECRET}"}}}}"#),
    );
    let t = load_token(&path, NOW).unwrap();
    assert_eq!(t.expires_at_ms(), None);
    assert!(!t.is_expired(i64::MAX));
}

#[test]
fn a_token_unfit_for_a_header_is_bad_credentials_and_sends_nothing() {
    let (server, _dir, c) = served(vec![ok(NORMAL)]);
    let e = c
        .usage(NOW, || Ok(Token::new(format!("{SECRET}\n"), None)))
        .unwrap_err();
    assert_eq!(e.kind(), "bad-credentials", "{e:?}");
    assert_no_secret(&e);
    assert!(server.requests().is_empty());
}
