//! The opt-in OAuth usage source: asks Claude Code's (undocumented) usage endpoint how much
//! of the subscriber's quota windows is used, with the login token Claude Code stored.
//!
//! Opt-in only (`[quota] sources = [..., "oauth"]`): Anthropic's terms reserve these tokens
//! for Claude Code itself. The endpoint answers 429 often, so every answer is cached in
//! `.baton/usage-cache.json` for a TTL, and a 429 backs off (Retry-After, else exponential
//! from 60 s) while the last good value is served marked stale.
//!
//! The token leaves this module only in the `Authorization` header of the one request: it is
//! never in an error text, a `Debug` output, a log line or the cache file, and the server's
//! answer bodies are never echoed (they could repeat it). Time comes in as `now_ms`, so every
//! rule here is tested with a fixed clock against a loopback server.

use std::fmt;
use std::fs;
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::CliError;

#[cfg(test)]
mod tests;

/// Where the usage endpoint lives unless told otherwise.
pub const DEFAULT_BASE_URL: &str = "https://api.anthropic.com";
/// The endpoint's path under the base URL.
pub const USAGE_PATH: &str = "/api/oauth/usage";
/// The beta header value the endpoint requires.
pub const BETA_HEADER: &str = "oauth-2025-04-20";
/// How long a cached answer is served without asking again, in milliseconds.
pub const DEFAULT_TTL_MS: i64 = 120_000;
/// The whole request (connect, TLS, answer, body) must finish within this.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(5);
/// The macOS keychain item Claude Code keeps its login in.
#[cfg_attr(not(target_os = "macos"), allow(dead_code))]
pub const KEYCHAIN_SERVICE: &str = "Claude Code-credentials";

/// First back-off after a 429 without Retry-After; it doubles on each further 429.
const BACKOFF_FIRST_MS: i64 = 60_000;
/// The exponential back-off never grows past this.
const BACKOFF_MAX_MS: i64 = 3_600_000;
/// A Retry-After (or a recorded retry time) further away than this is not believed.
const RETRY_AFTER_MAX_MS: i64 = 24 * 3_600_000;
/// Answers larger than this are refused: the real one is well under 1 KiB.
const MAX_BODY_BYTES: u64 = 1 << 20;
/// Version of the cache file layout.
const CACHE_VERSION: u32 = 1;

/// The usage windows the endpoint reports, and the names baton gives them.
const WINDOWS: [(&str, &str); 4] = [
    ("five_hour", "session-5h"),
    ("seven_day", "weekly"),
    ("seven_day_opus", "model:opus"),
    ("seven_day_sonnet", "model:sonnet"),
];

/// A Claude Code OAuth access token. Its `Debug` output never shows the secret.
pub struct Token {
    secret: String,
    expires_at_ms: Option<i64>,
}

impl Token {
    /// Wraps a token and its expiry (ms since the Unix epoch), when known.
    pub fn new(secret: impl Into<String>, expires_at_ms: Option<i64>) -> Token {
        Token {
            secret: secret.into(),
            expires_at_ms,
        }
    }

    /// When the token expires (ms since the Unix epoch), when known.
    #[cfg(test)]
    pub fn expires_at_ms(&self) -> Option<i64> {
        self.expires_at_ms
    }

    /// Whether the token has expired at `now_ms`.
    pub fn is_expired(&self, now_ms: i64) -> bool {
        self.expires_at_ms.is_some_and(|at| now_ms >= at)
    }
}

impl fmt::Debug for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Token")
            .field("secret", &"<redacted>")
            .field("expires_at_ms", &self.expires_at_ms)
            .finish()
    }
}

/// One quota window as the endpoint reported it.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct OauthReading {
    /// baton's name of the window: `session-5h`, `weekly`, `model:opus`, `model:sonnet`.
    pub window: String,
    /// How much of the window is used, in percent (the endpoint's `utilization`).
    pub used_percent: f64,
    /// When the window resets (ms since the Unix epoch), when the endpoint said.
    pub resets_at_ms: Option<i64>,
}

/// Why a fetch failed without the token being at fault; recorded with a stale value.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum FetchErrorKind {
    /// HTTP 429: too many requests.
    RateLimited,
    /// HTTP 5xx.
    ServerError,
    /// No complete answer within the timeout.
    Timeout,
    /// DNS, connection, TLS or another transport failure.
    Network,
    /// The answer was not the expected JSON.
    InvalidResponse,
    /// An HTTP status baton does not expect (e.g. 404 if the endpoint moved).
    UnexpectedStatus,
}

impl FetchErrorKind {
    /// The kebab-case name, as stored in the cache and shown to the user.
    pub fn as_str(self) -> &'static str {
        match self {
            FetchErrorKind::RateLimited => "rate-limited",
            FetchErrorKind::ServerError => "server-error",
            FetchErrorKind::Timeout => "timeout",
            FetchErrorKind::Network => "network",
            FetchErrorKind::InvalidResponse => "invalid-response",
            FetchErrorKind::UnexpectedStatus => "unexpected-status",
        }
    }
}

impl fmt::Display for FetchErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What the usage source knows at a given moment.
#[derive(Clone, Debug, PartialEq)]
pub struct UsageSnapshot {
    /// The windows the endpoint reported; a window it did not report is unknown, not 0 %.
    pub readings: Vec<OauthReading>,
    /// When these readings were fetched (ms since the Unix epoch).
    pub fetched_at_ms: i64,
    /// True when the readings are older than the TTL because the last request failed.
    pub stale: bool,
    /// Why the last request failed, when `stale`.
    pub error: Option<FetchErrorKind>,
    /// No request is made before this time (ms since the Unix epoch), when backing off.
    pub retry_at_ms: Option<i64>,
    /// True when no request was made for this answer (fresh cache, or backing off).
    pub from_cache: bool,
}

/// A failure of the OAuth usage source. None of its texts holds the token.
#[derive(Debug, thiserror::Error)]
pub enum OauthError {
    /// No Claude Code login was found.
    #[error("no Claude Code login found in {location}")]
    NoCredentials {
        /// Where baton looked.
        location: String,
    },
    /// The credentials exist but cannot be read or have no token.
    #[error("cannot read the Claude Code login in {location}: {reason}")]
    BadCredentials {
        /// Where the credentials are.
        location: String,
        /// What is wrong, without any of the file's content.
        reason: String,
    },
    /// The stored token has expired.
    #[error(
        "the Claude Code login expired at {}: run `claude` once to refresh the login, then retry",
        rfc3339(*.expired_at_ms)
    )]
    TokenExpired {
        /// When it expired (ms since the Unix epoch).
        expired_at_ms: i64,
    },
    /// The endpoint answered 401 or 403.
    #[error(
        "the usage endpoint rejected the Claude Code login (HTTP {status}): it expired or was \
         revoked; run `claude` once to refresh the login, then retry"
    )]
    TokenRejected {
        /// The HTTP status.
        status: u16,
    },
    /// The base URL would send the token in clear text, or is malformed.
    #[error("refusing usage endpoint {url:?}: {reason}")]
    InvalidBaseUrl {
        /// The base URL as configured.
        url: String,
        /// Why it is refused.
        reason: &'static str,
    },
    /// The endpoint could not be asked, and no earlier value is cached.
    #[error("usage endpoint unavailable ({kind}): {detail}{}", retry_suffix(*.retry_at_ms))]
    Unavailable {
        /// What went wrong.
        kind: FetchErrorKind,
        /// A short description, never the server's answer body.
        detail: String,
        /// No request is made before this time (ms since the Unix epoch), when backing off.
        retry_at_ms: Option<i64>,
    },
    /// The cache file could not be written.
    #[error("cannot write the usage cache {}: {source}", path.display())]
    Cache {
        /// The cache file.
        path: PathBuf,
        /// The I/O error.
        #[source]
        source: io::Error,
    },
}

impl OauthError {
    /// A stable kebab-case name for the failure.
    #[cfg(test)]
    pub fn kind(&self) -> &'static str {
        match self {
            OauthError::NoCredentials { .. } => "no-credentials",
            OauthError::BadCredentials { .. } => "bad-credentials",
            OauthError::TokenExpired { .. } => "token-expired",
            OauthError::TokenRejected { .. } => "token-rejected",
            OauthError::InvalidBaseUrl { .. } => "invalid-base-url",
            OauthError::Unavailable { kind, .. } => kind.as_str(),
            OauthError::Cache { .. } => "cache",
        }
    }
}

impl From<OauthError> for CliError {
    fn from(e: OauthError) -> CliError {
        let hint = match &e {
            OauthError::NoCredentials { .. } => Some(
                "log in once with `claude` (a Claude subscription), or remove \"oauth\" from \
                 [quota] sources in baton.toml",
            ),
            OauthError::BadCredentials { .. } => Some("run `claude` once to refresh the login"),
            _ => None,
        };
        let err = match e {
            OauthError::Cache { .. } => CliError::internal(e.to_string()),
            _ => CliError::user(e.to_string()),
        };
        match hint {
            Some(h) => err.hint(h),
            None => err,
        }
    }
}

fn rfc3339(ms: i64) -> String {
    match jiff::Timestamp::from_millisecond(ms) {
        Ok(t) => t.to_string(),
        Err(_) => format!("{ms} ms"),
    }
}

fn retry_suffix(retry_at_ms: Option<i64>) -> String {
    match retry_at_ms {
        Some(ms) => format!("; next try after {}", rfc3339(ms)),
        None => String::new(),
    }
}

/// The credentials file Claude Code writes under a home directory.
pub fn credentials_path(home: &Path) -> PathBuf {
    home.join(".claude").join(".credentials.json")
}

/// Loads Claude Code's OAuth token from `credentials` (usually
/// [`credentials_path`]`(home)`); on macOS, when that file does not exist, from the keychain
/// item [`KEYCHAIN_SERVICE`]. An expired token is an error that says how to refresh it.
pub fn load_token(credentials: &Path, now_ms: i64) -> Result<Token, OauthError> {
    let location = credentials.display().to_string();
    let token = match fs::read(credentials) {
        Ok(bytes) => parse_credentials(&bytes, &location)?,
        Err(e) if e.kind() == io::ErrorKind::NotFound => token_from_keychain(location)?,
        Err(e) => {
            return Err(OauthError::BadCredentials {
                location,
                reason: e.to_string(),
            });
        }
    };
    match token.expires_at_ms {
        Some(at) if now_ms >= at => Err(OauthError::TokenExpired { expired_at_ms: at }),
        _ => Ok(token),
    }
}

#[cfg(not(target_os = "macos"))]
fn token_from_keychain(file_location: String) -> Result<Token, OauthError> {
    Err(OauthError::NoCredentials {
        location: file_location,
    })
}

#[cfg(target_os = "macos")]
fn token_from_keychain(file_location: String) -> Result<Token, OauthError> {
    use std::process::{Command, Stdio};
    let location = format!("{file_location} or the keychain item \"{KEYCHAIN_SERVICE}\"");
    // `-w` prints the password (the credentials JSON) alone. Its stderr is not kept: only
    // the exit status says whether the item exists.
    let out = Command::new("security")
        .args(["find-generic-password", "-s", KEYCHAIN_SERVICE, "-w"])
        .stdin(Stdio::null())
        .stderr(Stdio::null())
        .output();
    match out {
        Ok(out) if out.status.success() => parse_credentials(&out.stdout, &location),
        _ => Err(OauthError::NoCredentials { location }),
    }
}

/// Reads `claudeAiOauth.accessToken` and `claudeAiOauth.expiresAt` (ms) from the JSON
/// Claude Code stores. Errors name a position at most, never the content.
fn parse_credentials(bytes: &[u8], location: &str) -> Result<Token, OauthError> {
    let bad = |reason: String| OauthError::BadCredentials {
        location: location.to_owned(),
        reason,
    };
    let v: Value = serde_json::from_slice(bytes).map_err(|e| {
        bad(format!(
            "not valid JSON (line {}, column {})",
            e.line(),
            e.column()
        ))
    })?;
    let oauth = v
        .get("claudeAiOauth")
        .filter(|o| o.is_object())
        .ok_or_else(|| {
            bad("no \"claudeAiOauth\" object (not logged in with a subscription?)".into())
        })?;
    let secret = oauth
        .get("accessToken")
        .and_then(Value::as_str)
        .filter(|s| !s.trim().is_empty())
        .ok_or_else(|| bad("no \"claudeAiOauth.accessToken\"".into()))?;
    let expires_at_ms = oauth.get("expiresAt").and_then(Value::as_i64);
    Ok(Token::new(secret.trim(), expires_at_ms))
}

/// Asks the usage endpoint, through a cache file.
#[derive(Clone, Debug)]
pub struct UsageClient {
    base_url: String,
    cache_path: PathBuf,
    ttl_ms: i64,
    timeout: Duration,
    user_agent: String,
}

impl UsageClient {
    /// A client with the default endpoint, TTL and timeout, caching in `cache_path`
    /// (usually `.baton/usage-cache.json`).
    pub fn new(cache_path: impl Into<PathBuf>) -> UsageClient {
        UsageClient {
            base_url: DEFAULT_BASE_URL.to_owned(),
            cache_path: cache_path.into(),
            ttl_ms: DEFAULT_TTL_MS,
            timeout: DEFAULT_TIMEOUT,
            user_agent: format!("baton/{} (oauth-usage)", env!("CARGO_PKG_VERSION")),
        }
    }

    /// Uses another base URL (`https://…`, or `http://` on a loopback address only).
    pub fn with_base_url(mut self, base_url: impl Into<String>) -> UsageClient {
        self.base_url = base_url.into();
        self
    }

    /// Serves a cached answer for `ttl_ms` milliseconds (0: ask every time).
    pub fn with_ttl_ms(mut self, ttl_ms: i64) -> UsageClient {
        self.ttl_ms = ttl_ms.max(0);
        self
    }

    /// Gives up on a request after `timeout`, end to end.
    #[cfg(test)]
    pub fn with_timeout(mut self, timeout: Duration) -> UsageClient {
        self.timeout = timeout;
        self
    }

    /// The cache file.
    #[cfg(test)]
    pub fn cache_path(&self) -> &Path {
        &self.cache_path
    }

    /// The current usage: the cached answer while it is younger than the TTL, else a new
    /// request with the token from `token` (called only then). When the request fails for a
    /// reason other than the token, the last good answer is returned marked `stale` (an error
    /// only when there is none), and no new request is made before `retry_at_ms`.
    pub fn usage<F>(&self, now_ms: i64, token: F) -> Result<UsageSnapshot, OauthError>
    where
        F: FnOnce() -> Result<Token, OauthError>,
    {
        let url = self.endpoint_url()?;
        let cache = read_cache(&self.cache_path);
        if let Some(c) = &cache {
            if let Some(snap) = c.fresh_snapshot(now_ms, self.ttl_ms) {
                return Ok(snap);
            }
            if let Some(retry_at) = c.retry_at_ms
                && now_ms < retry_at
                && retry_at - now_ms <= RETRY_AFTER_MAX_MS
            {
                let kind = c.error.unwrap_or(FetchErrorKind::RateLimited);
                return c.stale_snapshot(true).ok_or(OauthError::Unavailable {
                    kind,
                    detail: "backing off after an earlier failure".into(),
                    retry_at_ms: Some(retry_at),
                });
            }
        }
        let token = token()?;
        if let Some(at) = token.expires_at_ms.filter(|_| token.is_expired(now_ms)) {
            return Err(OauthError::TokenExpired { expired_at_ms: at });
        }
        match self.fetch(&url, &token) {
            Ok(readings) => {
                let file = CacheFile {
                    version: CACHE_VERSION,
                    readings: Some(readings.clone()),
                    fetched_at_ms: Some(now_ms),
                    stale: false,
                    error: None,
                    retry_at_ms: None,
                    backoff_ms: None,
                };
                write_cache(&self.cache_path, &file)?;
                Ok(UsageSnapshot {
                    readings,
                    fetched_at_ms: now_ms,
                    stale: false,
                    error: None,
                    retry_at_ms: None,
                    from_cache: false,
                })
            }
            Err(Failure::Rejected(status)) => Err(OauthError::TokenRejected { status }),
            Err(Failure::BadToken) => Err(OauthError::BadCredentials {
                location: "the stored login".into(),
                reason: "its token holds characters an HTTP header cannot carry".into(),
            }),
            Err(Failure::Transient {
                kind,
                detail,
                retry_after_ms,
            }) => {
                let prev_backoff = cache.as_ref().and_then(|c| c.backoff_ms);
                let (wait_ms, backoff_ms) = match kind {
                    FetchErrorKind::RateLimited => {
                        let wait = retry_after_ms.unwrap_or_else(|| match prev_backoff {
                            Some(b) => b.saturating_mul(2).clamp(BACKOFF_FIRST_MS, BACKOFF_MAX_MS),
                            None => BACKOFF_FIRST_MS,
                        });
                        (wait, Some(wait))
                    }
                    // Other failures wait one TTL, so a polling caller does not hammer a
                    // failing server.
                    _ => (self.ttl_ms, prev_backoff),
                };
                let retry_at_ms = (wait_ms > 0).then(|| now_ms.saturating_add(wait_ms));
                let (readings, fetched_at_ms) = match &cache {
                    Some(c) => (c.readings.clone(), c.fetched_at_ms),
                    None => (None, None),
                };
                let file = CacheFile {
                    version: CACHE_VERSION,
                    readings,
                    fetched_at_ms,
                    stale: true,
                    error: Some(kind),
                    retry_at_ms,
                    backoff_ms,
                };
                // Best effort: the fetch failure is the news, a cache failure would hide it.
                let _ = write_cache(&self.cache_path, &file);
                file.stale_snapshot(false).ok_or(OauthError::Unavailable {
                    kind,
                    detail,
                    retry_at_ms,
                })
            }
        }
    }

    fn endpoint_url(&self) -> Result<String, OauthError> {
        let base = self.base_url.trim_end_matches('/');
        let invalid = |reason| OauthError::InvalidBaseUrl {
            url: self.base_url.clone(),
            reason,
        };
        if let Some(rest) = base.strip_prefix("http://") {
            if !is_loopback_authority(rest) {
                return Err(invalid(
                    "plain http is allowed on loopback only: the token would travel in clear",
                ));
            }
        } else if !base.starts_with("https://") {
            return Err(invalid("not an http(s) URL"));
        }
        Ok(format!("{base}{USAGE_PATH}"))
    }

    /// One request, no cache.
    fn fetch(&self, url: &str, token: &Token) -> Result<Vec<OauthReading>, Failure> {
        let after_scheme = url.split_once("://").map_or(url, |(_, r)| r);
        let loopback = is_loopback_authority(after_scheme);
        let config = ureq::Agent::config_builder()
            .timeout_global(Some(self.timeout))
            .http_status_as_error(false)
            // Nothing to follow: a redirect answer is an unexpected status.
            .max_redirects(0)
            .user_agent(self.user_agent.as_str())
            .accept("application/json")
            .proxy(if loopback {
                None
            } else {
                ureq::Proxy::try_from_env()
            })
            .build();
        let agent = ureq::Agent::new_with_config(config);
        let mut auth = ureq::http::HeaderValue::try_from(format!("Bearer {}", token.secret))
            .map_err(|_| Failure::BadToken)?;
        auth.set_sensitive(true);
        let mut resp = agent
            .get(url)
            .header(ureq::http::header::AUTHORIZATION, auth)
            .header("anthropic-beta", BETA_HEADER)
            .call()
            .map_err(|e| transport_failure(&e, self.timeout, token))?;
        let status = resp.status().as_u16();
        match status {
            200..=299 => {}
            401 | 403 => return Err(Failure::Rejected(status)),
            429 => {
                let retry_after_ms = resp
                    .headers()
                    .get(ureq::http::header::RETRY_AFTER)
                    .and_then(|v| v.to_str().ok())
                    .and_then(parse_retry_after_secs)
                    .map(|s| s.saturating_mul(1000).clamp(1000, RETRY_AFTER_MAX_MS));
                return Err(Failure::Transient {
                    kind: FetchErrorKind::RateLimited,
                    detail: "HTTP 429 (too many requests)".into(),
                    retry_after_ms,
                });
            }
            500..=599 => {
                return Err(Failure::Transient {
                    kind: FetchErrorKind::ServerError,
                    detail: format!("HTTP {status}"),
                    retry_after_ms: None,
                });
            }
            _ => {
                return Err(Failure::Transient {
                    kind: FetchErrorKind::UnexpectedStatus,
                    detail: format!("HTTP {status}"),
                    retry_after_ms: None,
                });
            }
        }
        let body = resp
            .body_mut()
            .with_config()
            .limit(MAX_BODY_BYTES)
            .read_to_string()
            .map_err(|e| match e {
                ureq::Error::BodyExceedsLimit(_) => Failure::Transient {
                    kind: FetchErrorKind::InvalidResponse,
                    detail: "answer larger than 1 MiB".into(),
                    retry_after_ms: None,
                },
                other => transport_failure(&other, self.timeout, token),
            })?;
        parse_usage(&body).map_err(|detail| Failure::Transient {
            kind: FetchErrorKind::InvalidResponse,
            detail,
            retry_after_ms: None,
        })
    }
}

/// Why one request failed.
enum Failure {
    /// 401 / 403: the token is no good.
    Rejected(u16),
    /// The token cannot even be put in a header.
    BadToken,
    /// Anything else: keep the last value, try again later.
    Transient {
        kind: FetchErrorKind,
        detail: String,
        retry_after_ms: Option<i64>,
    },
}

/// Maps a ureq error to a failure whose text cannot hold the token.
fn transport_failure(e: &ureq::Error, timeout: Duration, token: &Token) -> Failure {
    let timed_out = match e {
        ureq::Error::Timeout(_) => true,
        ureq::Error::Io(io) => matches!(
            io.kind(),
            io::ErrorKind::TimedOut | io::ErrorKind::WouldBlock
        ),
        _ => false,
    };
    let (kind, detail) = if timed_out {
        (
            FetchErrorKind::Timeout,
            format!("no answer within {} ms", timeout.as_millis()),
        )
    } else {
        (FetchErrorKind::Network, redact(&e.to_string(), token))
    };
    Failure::Transient {
        kind,
        detail,
        retry_after_ms: None,
    }
}

/// Removes the token from a text that did not come from the server's body, and keeps it
/// short. Defence in depth: ureq's error texts are not expected to hold it.
fn redact(text: &str, token: &Token) -> String {
    let mut out = if token.secret.is_empty() {
        text.to_owned()
    } else {
        text.replace(token.secret.as_str(), "<redacted>")
    };
    if out.chars().count() > 200 {
        out = out.chars().take(200).collect::<String>() + "…";
    }
    out
}

/// `Retry-After` as delay-seconds; an HTTP-date is read too.
fn parse_retry_after_secs(v: &str) -> Option<i64> {
    let v = v.trim();
    if let Ok(secs) = v.parse::<i64>() {
        return (secs >= 0).then_some(secs);
    }
    let when = jiff::fmt::rfc2822::parse(v).ok()?.timestamp();
    let secs = when.as_second() - jiff::Timestamp::now().as_second();
    Some(secs.max(0))
}

fn is_loopback_authority(rest: &str) -> bool {
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    let host = if let Some(v6) = authority.strip_prefix('[') {
        v6.split(']').next().unwrap_or("")
    } else {
        authority.rsplit_once(':').map_or(authority, |(h, _)| h)
    };
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// Reads the windows out of the endpoint's answer. A window that is absent or null, or
/// whose utilization is not a number, is left out: unknown, not 0 %.
fn parse_usage(body: &str) -> Result<Vec<OauthReading>, String> {
    let v: Value = serde_json::from_str(body).map_err(|e| {
        format!(
            "the answer is not valid JSON (line {}, column {})",
            e.line(),
            e.column()
        )
    })?;
    let obj = v
        .as_object()
        .ok_or_else(|| "the answer is not a JSON object".to_owned())?;
    let mut readings = Vec::new();
    for (key, window) in WINDOWS {
        let Some(w) = obj.get(key).and_then(Value::as_object) else {
            continue;
        };
        let Some(used_percent) = w.get("utilization").and_then(Value::as_f64) else {
            continue;
        };
        let resets_at_ms = w
            .get("resets_at")
            .and_then(Value::as_str)
            .and_then(|s| s.parse::<jiff::Timestamp>().ok())
            .map(|t| t.as_millisecond());
        readings.push(OauthReading {
            window: window.to_owned(),
            used_percent,
            resets_at_ms,
        });
    }
    Ok(readings)
}

/// The cache file's content. It never holds the token.
#[derive(Debug, Serialize, Deserialize)]
struct CacheFile {
    version: u32,
    /// The last good readings; `None` when no request ever succeeded.
    readings: Option<Vec<OauthReading>>,
    /// When they were fetched.
    fetched_at_ms: Option<i64>,
    /// The last request failed.
    stale: bool,
    /// Why it failed.
    error: Option<FetchErrorKind>,
    /// No request before this.
    retry_at_ms: Option<i64>,
    /// The last 429 back-off, which the next one doubles.
    backoff_ms: Option<i64>,
}

impl CacheFile {
    fn fresh_snapshot(&self, now_ms: i64, ttl_ms: i64) -> Option<UsageSnapshot> {
        let readings = self.readings.as_ref()?;
        let at = self.fetched_at_ms?;
        let age = now_ms.checked_sub(at)?;
        (!self.stale && (0..ttl_ms).contains(&age)).then(|| UsageSnapshot {
            readings: readings.clone(),
            fetched_at_ms: at,
            stale: false,
            error: None,
            retry_at_ms: None,
            from_cache: true,
        })
    }

    fn stale_snapshot(&self, from_cache: bool) -> Option<UsageSnapshot> {
        Some(UsageSnapshot {
            readings: self.readings.clone()?,
            fetched_at_ms: self.fetched_at_ms?,
            stale: true,
            error: self.error,
            retry_at_ms: self.retry_at_ms,
            from_cache,
        })
    }
}

/// The cache, or `None` when it is missing, unreadable or of another version: it is only a
/// cache, the next good answer rewrites it.
fn read_cache(path: &Path) -> Option<CacheFile> {
    let bytes = fs::read(path).ok()?;
    let file: CacheFile = serde_json::from_slice(&bytes).ok()?;
    (file.version == CACHE_VERSION).then_some(file)
}

fn write_cache(path: &Path, file: &CacheFile) -> Result<(), OauthError> {
    let mut bytes = serde_json::to_vec_pretty(file).map_err(|e| OauthError::Cache {
        path: path.to_owned(),
        source: io::Error::other(e),
    })?;
    bytes.push(b'\n');
    write_atomically(path, &bytes).map_err(|source| OauthError::Cache {
        path: path.to_owned(),
        source,
    })
}

/// Writes `bytes` to a new file (mode 0600) beside `path`, syncs it, and renames it over
/// `path`: a reader sees the old content or the new, never a part.
fn write_atomically(path: &Path, bytes: &[u8]) -> io::Result<()> {
    static SEQ: AtomicU64 = AtomicU64::new(0);
    let dir = match path.parent() {
        Some(d) if !d.as_os_str().is_empty() => d,
        _ => Path::new("."),
    };
    fs::create_dir_all(dir)?;
    let name = path
        .file_name()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "no file name"))?;
    let tmp = dir.join(format!(
        ".{}.{}.{}.tmp",
        name.to_string_lossy(),
        std::process::id(),
        SEQ.fetch_add(1, Ordering::Relaxed)
    ));
    let mut opts = fs::OpenOptions::new();
    opts.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let result = (|| {
        let mut f = opts.open(&tmp)?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            // The umask may only have removed bits; make it exactly 0600.
            f.set_permissions(fs::Permissions::from_mode(0o600))?;
        }
        f.write_all(bytes)?;
        f.sync_all()?;
        drop(f);
        fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
        return result;
    }
    #[cfg(unix)]
    if let Ok(d) = fs::File::open(dir) {
        // Makes the rename itself durable; some file systems refuse, which is harmless.
        let _ = d.sync_all();
    }
    Ok(())
}
