//! `[notify] webhook`: the URL notices are POSTed to, and the shape of what is POSTed.
//!
//! The URL is a capability (an ntfy topic, a Slack hook's path, a token in a query): whoever
//! knows it can post. It shows only as its scheme and host ([`WebhookUrl::redacted`]), in
//! `Debug` too, and is never serialized.

use std::fmt;

use serde::Deserialize;
use serde::Serialize;

/// A webhook URL as written in `baton.toml`; `Config::parse` refuses one that
/// [`WebhookUrl::check`] does not accept.
#[derive(Clone, PartialEq, Eq, Deserialize)]
#[serde(transparent)]
pub struct WebhookUrl(String);

/// What a webhook receives: its body, and for ntfy its headers. Every format also gets the
/// notice's id in an `X-Baton-Notice` header, the same on each try.
#[derive(Clone, Copy, Debug, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum WebhookFormat {
    /// `{"id", "kind", "title", "body", "project", "time", "urgent"}`: for a receiver of
    /// one's own.
    #[default]
    Json,
    /// `{"text": "title\nbody"}`, `&`, `<` and `>` escaped: Slack incoming webhooks and the
    /// hooks that copy them (Mattermost, Rocket.Chat, Discord's `/slack` endpoint).
    Slack,
    /// The body as plain text, with `Title` (plain ASCII), `Priority` and `Tags` headers: an
    /// ntfy topic URL, so the phone shows a readable notice.
    Ntfy,
}

impl WebhookFormat {
    /// The name `webhook_format` takes.
    pub fn as_str(self) -> &'static str {
        match self {
            WebhookFormat::Json => "json",
            WebhookFormat::Slack => "slack",
            WebhookFormat::Ntfy => "ntfy",
        }
    }
}

impl WebhookUrl {
    /// The longest URL taken, in characters: longer ones are refused by many servers and
    /// are most likely a paste gone wrong.
    pub const MAX_LEN: usize = 2048;

    /// A URL from its text (checked by `Config::parse`, not here).
    pub fn new(url: impl Into<String>) -> WebhookUrl {
        WebhookUrl(url.into())
    }

    /// Why the URL cannot be used, in words that do not repeat it: at most
    /// [`WebhookUrl::MAX_LEN`] characters, http or https, a host, no space or control
    /// character, no user name or password.
    pub fn check(&self) -> Result<(), String> {
        let url = self.0.as_str();
        let length = url.chars().count();
        if length > WebhookUrl::MAX_LEN {
            return Err(format!(
                "is {length} characters long; baton takes at most {}",
                WebhookUrl::MAX_LEN
            ));
        }
        if url.chars().any(|c| c.is_whitespace() || c.is_control()) {
            return Err("has a space or a control character".into());
        }
        let Some((scheme, rest)) = url.split_once("://") else {
            return Err("is not a URL: it must start with `http://` or `https://`".into());
        };
        if !scheme.eq_ignore_ascii_case("http") && !scheme.eq_ignore_ascii_case("https") {
            return Err("must start with `http://` or `https://`".into());
        }
        let authority = authority_of(rest);
        if authority.contains('@') {
            return Err(
                "has a user name or password before `@`, which baton does not send: \
                 use a URL whose path or query carries the token"
                    .into(),
            );
        }
        let host = host_of(authority);
        if host.is_empty() {
            return Err("has no host".into());
        }
        let port = match authority.strip_prefix('[') {
            Some(v6) => match v6.split_once(']') {
                Some((_, "")) => None,
                Some((_, after)) => Some(after.strip_prefix(':').unwrap_or(after)),
                None => return Err("has an IPv6 address without its closing `]`".into()),
            },
            None => authority.split_once(':').map(|(_, p)| p),
        };
        if let Some(p) = port
            && p.parse::<u16>().is_err()
        {
            return Err("has a port that is not a number from 0 to 65535".into());
        }
        Ok(())
    }

    /// The URL itself, for the one place that sends to it: never show it.
    pub fn secret(&self) -> &str {
        &self.0
    }

    /// The scheme and host (and port), which is all baton ever shows: `https://ntfy.sh/…`.
    pub fn redacted(&self) -> String {
        match self.0.split_once("://") {
            Some((scheme, rest)) => {
                let authority = authority_of(rest);
                // A user name or password (refused by `check`) is not shown either.
                let authority = authority.rsplit_once('@').map_or(authority, |(_, a)| a);
                format!("{}://{authority}/…", scheme.to_ascii_lowercase())
            }
            None => "(not a URL)".into(),
        }
    }

    /// Whether the URL is plain http to a host other than this machine: it then travels in
    /// clear, and so does the capability it is.
    pub fn is_cleartext(&self) -> bool {
        let Some((scheme, rest)) = self.0.split_once("://") else {
            return false;
        };
        scheme.eq_ignore_ascii_case("http") && !is_loopback_rest(rest)
    }

    /// Whether the URL names this machine (`localhost`, 127.0.0.0/8, `::1`).
    pub fn is_loopback(&self) -> bool {
        self.0
            .split_once("://")
            .is_some_and(|(_, rest)| is_loopback_rest(rest))
    }
}

/// Whether what follows `scheme://` names this machine.
fn is_loopback_rest(rest: &str) -> bool {
    let host = host_of(authority_of(rest));
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

impl fmt::Debug for WebhookUrl {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("WebhookUrl").field(&self.redacted()).finish()
    }
}

/// The authority of what follows `scheme://`: up to the path, query or fragment.
fn authority_of(rest: &str) -> &str {
    rest.split(['/', '?', '#']).next().unwrap_or("")
}

/// The host of an authority, without brackets, user or port.
fn host_of(authority: &str) -> &str {
    let authority = authority.rsplit_once('@').map_or(authority, |(_, a)| a);
    if let Some(v6) = authority.strip_prefix('[') {
        v6.split(']').next().unwrap_or("")
    } else {
        authority.split(':').next().unwrap_or("")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn good_urls_pass_and_show_only_scheme_and_host() {
        for (url, shown) in [
            ("https://ntfy.sh/baton-Secret123", "https://ntfy.sh/…"),
            (
                "https://hooks.example.com/services/T0/B0/Secret",
                "https://hooks.example.com/…",
            ),
            (
                "http://127.0.0.1:8080/hook?token=Secret",
                "http://127.0.0.1:8080/…",
            ),
            ("HTTPS://[::1]:9/x", "https://[::1]:9/…"),
            ("https://example.com", "https://example.com/…"),
        ] {
            let u = WebhookUrl::new(url);
            assert_eq!(u.check(), Ok(()), "{url}");
            assert_eq!(u.redacted(), shown);
            assert!(!format!("{u:?}").contains("Secret"), "{u:?}");
        }
    }

    #[test]
    fn bad_urls_are_refused_without_repeating_them() {
        for (url, why) in [
            ("ntfy.sh/Secret", "is not a URL"),
            ("ftp://host/Secret", "must start with"),
            ("https:///Secret", "has no host"),
            ("https://user:Secret@host/x", "user name or password"),
            ("https://host:99999/Secret", "port"),
            ("https://[::1/Secret", "`]`"),
            ("https://host/Sec ret", "space"),
        ] {
            let e = WebhookUrl::new(url).check().unwrap_err();
            assert!(e.contains(why), "{url}: {e}");
            assert!(!e.contains("Secret") && !e.contains("Sec ret"), "{e}");
        }
        let longest = format!("https://ntfy.sh/{}", "S".repeat(WebhookUrl::MAX_LEN - 16));
        assert_eq!(WebhookUrl::new(&longest).check(), Ok(()));
        for url in [
            format!("{longest}S"),
            format!("https://ntfy.sh/Secret{}", "x".repeat(20_000)),
        ] {
            let e = WebhookUrl::new(&url).check().unwrap_err();
            let length = url.chars().count();
            assert_eq!(
                e,
                format!("is {length} characters long; baton takes at most 2048")
            );
        }
        assert!(
            !WebhookUrl::new("https://user:Secret@host/x")
                .redacted()
                .contains("Secret")
        );
    }

    #[test]
    fn format_names_are_the_ones_the_file_takes() {
        for f in [
            WebhookFormat::Json,
            WebhookFormat::Slack,
            WebhookFormat::Ntfy,
        ] {
            let json = format!("\"{}\"", f.as_str());
            assert_eq!(serde_json::from_str::<WebhookFormat>(&json).unwrap(), f);
        }
    }

    #[test]
    fn cleartext_is_plain_http_off_this_machine() {
        assert!(WebhookUrl::new("http://ntfy.lan/t").is_cleartext());
        assert!(!WebhookUrl::new("https://ntfy.sh/t").is_cleartext());
        assert!(!WebhookUrl::new("http://localhost:80/t").is_cleartext());
        assert!(!WebhookUrl::new("http://127.0.0.1:80/t").is_cleartext());
        assert!(WebhookUrl::new("http://[::1]:80/t").is_loopback());
    }
}
