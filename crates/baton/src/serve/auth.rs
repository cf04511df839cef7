//! Who may ask what: the access token (made on first use, kept `0600` in `.baton/`), and the
//! rule every request passes before it is answered.
//!
//! Bound to a loopback address a request needs no token (a token it gives must be right);
//! bound anywhere else every request needs it: in the `X-Baton-Token` header, or, for a GET
//! only (the page's first load, `EventSource`), in `?token=`. A POST must say
//! `Content-Type: application/json`, and an `Origin` it carries must be the server's own, so
//! no page of another site can act (no CORS header is ever sent, so none can read either).

use std::io::Read;
use std::io::Write;
use std::net::SocketAddr;
use std::os::unix::fs::OpenOptionsExt;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::path::PathBuf;

use crate::error::CliError;
use crate::error::CliResult;

/// The header that carries the token.
pub const TOKEN_HEADER: &str = "X-Baton-Token";

/// Returns the token file of the project whose state directory is `state_dir`.
pub fn token_path(state_dir: &Path) -> PathBuf {
    state_dir.join("serve.token")
}

/// Returns the project's token: the one stored, or a new one (also when `rotate`), written
/// with mode 0600.
pub fn load_or_make_token(path: &Path, rotate: bool) -> CliResult<String> {
    if !rotate && let Some(token) = read_token(path) {
        // Whatever made it, it stays private.
        let _ = std::fs::set_permissions(path, std::fs::Permissions::from_mode(0o600));
        return Ok(token);
    }
    let token = new_token()?;
    let tmp = path.with_extension("token.new");
    let _ = std::fs::remove_file(&tmp);
    let write = || -> std::io::Result<()> {
        let mut f = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&tmp)?;
        f.write_all(token.as_bytes())?;
        f.write_all(b"\n")?;
        f.sync_all()?;
        std::fs::rename(&tmp, path)
    };
    write().map_err(|e| CliError::user(format!("cannot write {}: {e}", path.display())))?;
    Ok(token)
}

/// Reads a stored token; `None` when the file is missing or holds no valid token (at least
/// 32 hex digits).
pub fn read_token(path: &Path) -> Option<String> {
    let text = std::fs::read_to_string(path).ok()?;
    let token = text.trim();
    (token.len() >= 32 && token.bytes().all(|b| b.is_ascii_hexdigit())).then(|| token.to_owned())
}

/// The token a running server checks against: the file's, read again whenever the file
/// changes, so that `baton serve --rotate-token` run beside it revokes the old one at once.
/// A file that goes missing or turns invalid keeps the last good token.
pub struct LiveToken {
    path: PathBuf,
    seen: std::sync::Mutex<(String, Option<std::time::SystemTime>)>,
}

impl LiveToken {
    /// The token `token`, kept in `path`.
    pub fn new(path: PathBuf, token: String) -> LiveToken {
        let modified = std::fs::metadata(&path).and_then(|m| m.modified()).ok();
        LiveToken {
            path,
            seen: std::sync::Mutex::new((token, modified)),
        }
    }

    /// The current token (one `stat` per call; the file is read only when it changed).
    pub fn get(&self) -> String {
        let modified = std::fs::metadata(&self.path)
            .and_then(|m| m.modified())
            .ok();
        let mut seen = super::lock(&self.seen);
        if modified.is_some() && modified != seen.1 {
            if let Some(token) = read_token(&self.path) {
                seen.0 = token;
            }
            seen.1 = modified;
        }
        seen.0.clone()
    }
}

/// 32 random bytes from the system, in hex.
fn new_token() -> CliResult<String> {
    let mut bytes = [0u8; 32];
    std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut bytes))
        .map_err(|e| CliError::internal(format!("cannot read random bytes for the token: {e}")))?;
    Ok(bytes.iter().map(|b| format!("{b:02x}")).collect())
}

/// Whether a server bound to `bind` needs the token on every request (`force`: as if it
/// were bound elsewhere than loopback).
pub fn token_required(bind: SocketAddr, force: bool) -> bool {
    force || !bind.ip().is_loopback()
}

/// What the rule looks at in a request.
#[derive(Clone, Debug, Default)]
pub struct Asked<'a> {
    /// A POST (an action) rather than a GET.
    pub post: bool,
    /// The `X-Baton-Token` header.
    pub header_token: Option<&'a str>,
    /// `?token=` of the URL.
    pub query_token: Option<&'a str>,
    /// The `Content-Type` header.
    pub content_type: Option<&'a str>,
    /// The `Origin` header.
    pub origin: Option<&'a str>,
    /// The `Host` header.
    pub host: Option<&'a str>,
}

/// A refusal: the status (401, 403, 415) and why.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Refusal {
    /// The HTTP status.
    pub status: u16,
    /// Why, for the `error` field.
    pub why: &'static str,
}

fn refuse(status: u16, why: &'static str) -> Result<(), Refusal> {
    Err(Refusal { status, why })
}

/// Whether a `Host` header names this machine's loopback (`localhost`, `127.0.0.1`,
/// `[::1]`, with any port).
fn loopback_host(host: &str) -> bool {
    let name = match host.rsplit_once(':') {
        Some((name, port)) if !name.ends_with(':') && port.bytes().all(|b| b.is_ascii_digit()) => {
            name
        }
        _ => host,
    };
    let name = name.trim_start_matches('[').trim_end_matches(']');
    name.eq_ignore_ascii_case("localhost")
        || name.to_ascii_lowercase().ends_with(".localhost")
        || name
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// Checks a request against the rule; `required`: whether every request needs the token.
/// A request to a loopback bind whose `Host` is not a loopback name (a page of another site
/// whose name was pointed at 127.0.0.1: DNS rebinding) needs the token too.
pub fn check(asked: &Asked<'_>, token: &str, required: bool) -> Result<(), Refusal> {
    let required = required || !asked.host.is_some_and(loopback_host);
    // A POST may carry the token in the header only: a URL ends up in logs and histories.
    let given = if asked.post {
        asked.header_token
    } else {
        asked.header_token.or(asked.query_token)
    };
    match given {
        Some(t) if !same(t, token) => return refuse(401, "wrong token"),
        None if required && asked.post && asked.query_token.is_some() => {
            return refuse(
                401,
                "an action carries the token in the X-Baton-Token header",
            );
        }
        None if required => return refuse(401, "this server needs its token"),
        _ => {}
    }
    if asked.post {
        if let Some(origin) = asked.origin {
            let own = asked.host.map(|h| format!("http://{h}"));
            if own.as_deref() != Some(origin) {
                return refuse(403, "an action from another origin");
            }
        }
        let json = asked.content_type.is_some_and(|c| {
            c.split(';')
                .next()
                .is_some_and(|m| m.trim().eq_ignore_ascii_case("application/json"))
        });
        if !json {
            return refuse(
                415,
                "an action is a JSON body (Content-Type: application/json)",
            );
        }
    }
    Ok(())
}

/// Compares two tokens in time that does not depend on where they differ.
fn same(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    const T: &str = "abc123";

    #[test]
    fn a_bind_elsewhere_than_loopback_needs_the_token() {
        let at = |s: &str| s.parse::<SocketAddr>().unwrap();
        assert!(!token_required(at("127.0.0.1:7878"), false));
        assert!(!token_required(at("[::1]:7878"), false));
        assert!(token_required(at("0.0.0.0:7878"), false));
        assert!(token_required(at("192.168.1.4:80"), false));
        assert!(token_required(at("[::]:80"), false));
        assert!(token_required(at("127.0.0.1:7878"), true));
    }

    #[test]
    fn gets_need_a_right_token_when_required() {
        let get = |h: Option<&'static str>, q: Option<&'static str>| Asked {
            header_token: h,
            query_token: q,
            host: Some("localhost:7878"),
            ..Asked::default()
        };
        let status = |a: &Asked<'_>, req| check(a, T, req).map_err(|r| r.status);
        assert_eq!(status(&get(None, None), false), Ok(()));
        assert_eq!(status(&get(None, None), true), Err(401));
        assert_eq!(status(&get(Some("nope"), None), false), Err(401));
        assert_eq!(status(&get(None, Some("nope")), true), Err(401));
        assert_eq!(status(&get(Some(T), None), true), Ok(()));
        assert_eq!(status(&get(None, Some(T)), true), Ok(()));
    }

    #[test]
    fn a_foreign_host_name_needs_the_token_even_on_loopback() {
        for (host, loopback) in [
            ("127.0.0.1:7878", true),
            ("localhost", true),
            ("app.localhost:80", true),
            ("[::1]:7878", true),
            ("::1", true),
            ("127.0.0.2", true),
            ("evil.example:7878", false),
            ("192.168.1.4:7878", false),
            ("localhost.evil.example", false),
        ] {
            assert_eq!(loopback_host(host), loopback, "{host}");
            let asked = Asked {
                host: Some(host),
                ..Asked::default()
            };
            assert_eq!(check(&asked, T, false).is_ok(), loopback, "{host}");
        }
        assert_eq!(
            check(&Asked::default(), T, false).map_err(|r| r.status),
            Err(401)
        );
    }

    #[test]
    fn posts_are_json_from_the_own_origin_with_the_token_in_the_header() {
        let post = |h: Option<&'static str>, ct: Option<&'static str>, origin| Asked {
            post: true,
            header_token: h,
            query_token: None,
            content_type: ct,
            origin,
            host: Some("127.0.0.1:9000"),
        };
        let json = Some("application/json; charset=utf-8");
        let status = |a: &Asked<'_>, req| check(a, T, req).map_err(|r| r.status);
        assert_eq!(status(&post(None, json, None), false), Ok(()));
        assert_eq!(
            status(&post(None, Some("text/plain"), None), false),
            Err(415)
        );
        assert_eq!(status(&post(None, None, None), false), Err(415));
        let own = Some("http://127.0.0.1:9000");
        assert_eq!(status(&post(None, json, own), false), Ok(()));
        let foreign = Some("http://evil.example");
        assert_eq!(status(&post(None, json, foreign), false), Err(403));
        assert_eq!(status(&post(None, json, None), true), Err(401));
        assert_eq!(status(&post(Some(T), json, own), true), Ok(()));
        let mut in_query = post(None, json, None);
        in_query.query_token = Some(T);
        assert_eq!(status(&in_query, true), Err(401));
    }

    #[test]
    fn the_token_file_is_private_and_rotates() {
        let dir = tempfile::tempdir().unwrap();
        let path = token_path(dir.path());
        let first = load_or_make_token(&path, false).unwrap();
        assert_eq!(first.len(), 64);
        let mode = std::fs::metadata(&path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600);
        assert_eq!(load_or_make_token(&path, false).unwrap(), first);
        let second = load_or_make_token(&path, true).unwrap();
        assert_ne!(second, first);
        assert_eq!(load_or_make_token(&path, false).unwrap(), second);
    }
}
