//! `[[host]]`: another machine agents run on, reached through `ssh`; the `ssh` spec
//! (`[user@]host[:port]`) and the checks of what a host may set.

use std::fmt;
use std::path::PathBuf;

use serde::Serialize;

/// The word for this machine where a host is shown (`baton ls`, dashboards); no `[[host]]`
/// may take it.
pub const LOCAL_HOST: &str = "local";

/// Where `ssh` connects: `[user@]host[:port]`, with an IPv6 address in brackets when a port
/// follows (`[::1]:2222`).
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct SshTarget {
    /// The login name; default: ssh's own (the local user, or the ssh config's `User`).
    pub user: Option<String>,
    /// A host name, an alias of the user's ssh config, or an address (IPv6 without brackets).
    pub host: String,
    /// The port; default: ssh's own (22, or the ssh config's `Port`).
    pub port: Option<u16>,
}

impl SshTarget {
    /// Reads `[user@]host[:port]`; the message says what is wrong, without the text.
    pub fn parse(spec: &str) -> Result<SshTarget, String> {
        if spec.is_empty() {
            return Err("is empty: give `user@host`, `host` or `user@host:port`".into());
        }
        if let Some(c) = spec.chars().find(|c| c.is_whitespace() || c.is_control()) {
            return Err(format!("`{spec}` has {c:?}: no space or control character"));
        }
        if spec.contains("://") {
            return Err(format!(
                "`{spec}` is a URL: give `user@host` or `user@host:port`"
            ));
        }
        let (user, rest) = match spec.rsplit_once('@') {
            Some((u, r)) => (Some(u), r),
            None => (None, spec),
        };
        if let Some(u) = user {
            if u.is_empty() {
                return Err(format!("`{spec}` has nothing before `@`"));
            }
            if let Some(c) = u
                .chars()
                .find(|c| !(c.is_alphanumeric() || "._-".contains(*c)))
            {
                return Err(format!("`{spec}`: the user name has `{c}`"));
            }
            if u.starts_with('-') {
                return Err(format!("`{spec}`: the user name starts with `-`"));
            }
        }
        let (host, port) = if let Some(v6) = rest.strip_prefix('[') {
            let Some((addr, after)) = v6.split_once(']') else {
                return Err(format!("`{spec}` has `[` without its closing `]`"));
            };
            if !addr.contains(':') {
                return Err(format!(
                    "`{spec}`: brackets are for an IPv6 address, `{addr}` is none"
                ));
            }
            let port = match after {
                "" => None,
                p => Some(
                    p.strip_prefix(':')
                        .ok_or_else(|| format!("`{spec}`: after `]` only `:port` may follow"))?,
                ),
            };
            (addr, port)
        } else if rest.matches(':').count() > 1 {
            // A bare IPv6 address: its last group is no port.
            (rest, None)
        } else {
            match rest.split_once(':') {
                Some((h, p)) => (h, Some(p)),
                None => (rest, None),
            }
        };
        if host.is_empty() {
            return Err(format!("`{spec}` has no host"));
        }
        if host.starts_with('-') {
            return Err(format!("`{spec}`: the host starts with `-`"));
        }
        if let Some(c) = host
            .chars()
            .find(|c| !(c.is_alphanumeric() || ".-_:%".contains(*c)))
        {
            return Err(format!("`{spec}`: the host has `{c}`"));
        }
        let port = match port {
            None => None,
            Some(p) => match p.parse::<u16>() {
                Ok(n) if n > 0 => Some(n),
                _ => return Err(format!("`{spec}`: `{p}` is not a port (1 to 65535)")),
            },
        };
        Ok(SshTarget {
            user: user.map(str::to_owned),
            host: host.to_owned(),
            port,
        })
    }

    /// The target on an ssh command line a person can run: `-p 2222 dev@gpu1` (no `-p`
    /// without a port).
    pub fn ssh_words(&self) -> String {
        match self.port {
            Some(p) => format!("-p {p} {}", self.destination()),
            None => self.destination(),
        }
    }

    /// `user@host` as ssh takes it (an IPv6 address bare: the port goes with `-p`).
    pub fn destination(&self) -> String {
        match &self.user {
            Some(u) => format!("{u}@{}", self.host),
            None => self.host.clone(),
        }
    }
}

impl fmt::Display for SshTarget {
    /// `[user@]host[:port]`, brackets around an IPv6 address that has a port.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if let Some(u) = &self.user {
            write!(f, "{u}@")?;
        }
        match self.port {
            Some(p) if self.host.contains(':') => write!(f, "[{}]:{p}", self.host),
            Some(p) => write!(f, "{}:{p}", self.host),
            None => write!(f, "{}", self.host),
        }
    }
}

/// One `[[host]]`, validated.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct HostConfig {
    /// The name agents give in `host = "…"`, and the marker of its tmux socket.
    pub name: String,
    /// Where ssh connects.
    pub ssh: SshTarget,
    /// The private key, as written (`~` is expanded by whoever runs ssh).
    pub identity: Option<PathBuf>,
    /// Extra arguments for ssh, passed as they are, before the destination.
    pub ssh_options: Vec<String>,
    /// The project's directory on that host (absolute).
    pub dir: PathBuf,
    /// baton on that host; default: a copy of this baton that `baton up` keeps in
    /// `<dir>/.baton/bin/baton`.
    pub baton: Option<PathBuf>,
    /// How long the host may be unreachable before its agents count as down and their tasks
    /// go to agents elsewhere ([`DOWN_AFTER_SECS`] unless set).
    pub down_after_secs: u64,
}

/// Seconds a host may be unreachable before its agents count as down.
pub const DOWN_AFTER_SECS: u64 = 30;

/// The ssh flags that take an argument (OpenSSH's `getopt` string).
const FLAGS_WITH_ARGUMENT: &str = "bcDeEFiIJlLmoOpPQRSwWB";

/// The ssh flags baton decides, and why: each would change how baton's own sessions run.
const FLAGS_BATON_SETS: &[(char, &str)] = &[
    ('p', "the port goes in `ssh = \"host:port\"`"),
    ('l', "the user goes in `ssh = \"user@host\"`"),
    ('f', "ssh would go to the background, out of baton's sight"),
    ('N', "baton runs a command there"),
    ('n', "baton talks to that command on its standard input"),
    ('T', "baton decides whether a terminal is allocated"),
    ('t', "baton decides whether a terminal is allocated"),
    ('M', "baton owns its connection (no shared master)"),
    ('S', "baton owns its connection (no control socket)"),
    ('O', "baton owns its connection (no control command)"),
    ('W', "baton runs a command there, not a forwarding"),
    ('s', "baton runs a command there, not a subsystem"),
    ('G', "ssh would only print its configuration"),
    ('V', "ssh would only print its version"),
];

/// The `-o` options baton decides (compared without case, as ssh does).
const OPTIONS_BATON_SETS: &[(&str, &str)] = &[
    (
        "BatchMode",
        "baton sets `BatchMode=yes`: it must never wait at a prompt",
    ),
    (
        "ControlMaster",
        "baton owns its connection (no shared master)",
    ),
    (
        "ControlPath",
        "baton owns its connection (no control socket)",
    ),
    ("ControlPersist", "a kept master would outlive `baton down`"),
    ("Port", "the port goes in `ssh = \"host:port\"`"),
    ("User", "the user goes in `ssh = \"user@host\"`"),
    (
        "RequestTTY",
        "baton decides whether a terminal is allocated",
    ),
    ("RemoteCommand", "baton runs its own command there"),
    ("SessionType", "baton runs a command there"),
    (
        "StdinNull",
        "baton talks to that command on its standard input",
    ),
    (
        "ForkAfterAuthentication",
        "ssh would go to the background, out of baton's sight",
    ),
];

/// Checks `ssh_options`: every element is an option (or an option's argument), none that
/// baton sets itself. Returns the index of the element at fault and why.
pub fn check_ssh_options(options: &[String]) -> Result<(), (usize, String)> {
    let mut i = 0;
    while i < options.len() {
        let word = &options[i];
        let Some(flags) = word.strip_prefix('-').filter(|f| !f.is_empty()) else {
            return Err((
                i,
                format!(
                    "`{word}` is not an option: ssh would take it for the host (an option \
                     is written `\"-o\", \"{word}\"`)"
                ),
            ));
        };
        if flags == "-" {
            return Err((i, "`--` would end ssh's options before baton's own".into()));
        }
        for (at, flag) in flags.char_indices() {
            if let Some((_, why)) = FLAGS_BATON_SETS.iter().find(|(f, _)| *f == flag) {
                return Err((i, format!("`-{flag}` is baton's to set: {why}")));
            }
            if !FLAGS_WITH_ARGUMENT.contains(flag) {
                if !flag.is_ascii_alphanumeric() {
                    return Err((i, format!("`{word}`: `{flag}` is no ssh option")));
                }
                continue;
            }
            let inline = &flags[at + flag.len_utf8()..];
            let (argument, at_index) = if inline.is_empty() {
                i += 1;
                match options.get(i) {
                    Some(a) => (a.as_str(), i),
                    None => {
                        return Err((i - 1, format!("`-{flag}` needs an argument after it")));
                    }
                }
            } else {
                (inline, i)
            };
            if flag == 'o' {
                let key = argument
                    .trim_start()
                    .split(|c: char| c == '=' || c.is_whitespace())
                    .next()
                    .unwrap_or_default();
                if let Some((k, why)) = OPTIONS_BATON_SETS
                    .iter()
                    .find(|(k, _)| k.eq_ignore_ascii_case(key))
                {
                    return Err((at_index, format!("`{k}` is baton's to set: {why}")));
                }
            }
            break;
        }
        i += 1;
    }
    Ok(())
}

/// The value an `-o` option is given in `options` (the first, as ssh takes the first), if
/// any: `ConnectTimeout` set by the user replaces baton's.
pub fn ssh_option<'a>(options: &'a [String], name: &str) -> Option<&'a str> {
    let mut words = options.iter();
    while let Some(w) = words.next() {
        let argument = match w.strip_prefix("-o") {
            Some("") => words.next().map(String::as_str),
            Some(inline) => Some(inline),
            None => None,
        };
        let Some(argument) = argument.map(str::trim_start) else {
            continue;
        };
        let (key, value) = argument
            .split_once(|c: char| c == '=' || c.is_whitespace())
            .unwrap_or((argument, ""));
        if key.eq_ignore_ascii_case(name) {
            return Some(value.trim_start_matches(|c: char| c == '=' || c.is_whitespace()));
        }
    }
    None
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(spec: &str) -> (Option<&'static str>, String, Option<u16>) {
        let t = SshTarget::parse(spec).unwrap();
        (t.user.map(|u| &*u.leak()), t.host, t.port)
    }

    #[test]
    fn ssh_specs_in_every_form() {
        assert_eq!(
            target("dev@gpu1.lan:2222"),
            (Some("dev"), "gpu1.lan".into(), Some(2222))
        );
        assert_eq!(target("gpu1"), (None, "gpu1".into(), None));
        assert_eq!(target("dev@gpu1"), (Some("dev"), "gpu1".into(), None));
        assert_eq!(target("gpu1:22"), (None, "gpu1".into(), Some(22)));
        assert_eq!(target("[::1]:2222"), (None, "::1".into(), Some(2222)));
        assert_eq!(target("me@[::1]"), (Some("me"), "::1".into(), None));
        assert_eq!(target("fe80::1%eth0"), (None, "fe80::1%eth0".into(), None));
        assert_eq!(
            target("first.last@127.0.0.1:1"),
            (Some("first.last"), "127.0.0.1".into(), Some(1))
        );
        for spec in [
            "dev@gpu1.lan:2222",
            "gpu1",
            "[::1]:2222",
            "me@[::1]:22",
            "::1",
        ] {
            assert_eq!(SshTarget::parse(spec).unwrap().to_string(), spec);
        }
        assert_eq!(
            SshTarget::parse("me@[::1]").unwrap().destination(),
            "me@::1"
        );
    }

    #[test]
    fn bad_ssh_specs_say_why() {
        for (spec, why) in [
            ("", "is empty"),
            ("dev@", "no host"),
            ("@gpu1", "nothing before `@`"),
            ("gpu1:", "is not a port"),
            ("gpu1:0", "is not a port"),
            ("gpu1:70000", "is not a port"),
            ("gpu1:ssh", "is not a port"),
            ("[::1", "closing `]`"),
            ("[gpu1]:22", "IPv6"),
            ("[::1]x", "only `:port`"),
            ("-oProxyCommand=x", "starts with `-`"),
            ("-x@gpu1", "starts with `-`"),
            ("dev@gpu 1", "space"),
            ("ssh://gpu1", "URL"),
            ("gpu1/x", "has `/`"),
            ("d;v@gpu1", "user name has `;`"),
        ] {
            let e = SshTarget::parse(spec).unwrap_err();
            assert!(e.contains(why), "{spec}: {e}");
        }
    }

    fn options(words: &[&str]) -> Result<(), (usize, String)> {
        check_ssh_options(&words.iter().map(|w| w.to_string()).collect::<Vec<_>>())
    }

    #[test]
    fn ssh_options_are_passed_unless_baton_sets_them() {
        for good in [
            &["-o", "ServerAliveInterval=15"][..],
            &["-oServerAliveInterval=15", "-4", "-v"],
            &["-F", "/dev/null", "-o", "UserKnownHostsFile=/tmp/k"],
            &["-J", "jump@bastion", "-i", "/k", "-A"],
            &["-o", "StrictHostKeyChecking accept-new", "-vC"],
            &["-o", "ConnectTimeout=30"],
            &[],
        ] {
            assert_eq!(options(good), Ok(()), "{good:?}");
        }
        for (bad, index, why) in [
            (&["-o", "BatchMode=no"][..], 1, "`BatchMode` is baton's"),
            (&["-obatchmode no"], 0, "`BatchMode` is baton's"),
            (&["-v", "-o", " ControlMaster=auto"], 2, "`ControlMaster`"),
            (&["-o", "ControlPersist 10m"], 1, "outlive"),
            (&["-o", "Port=22"], 1, "host:port"),
            (&["-p", "22"], 0, "`-p` is baton's"),
            (&["-vf"], 0, "`-f` is baton's"),
            (&["-l", "root"], 0, "`-l`"),
            (&["-t"], 0, "terminal"),
            (&["ServerAliveInterval=15"], 0, "not an option"),
            (&["-o"], 0, "needs an argument"),
            (&["-F", "x", "gpu1"], 2, "not an option"),
            (&["--"], 0, "`--`"),
            (&["-"], 0, "not an option"),
        ] {
            let (i, m) = options(bad).unwrap_err();
            assert_eq!(i, index, "{bad:?}: {m}");
            assert!(m.contains(why), "{bad:?}: {m}");
        }
    }

    #[test]
    fn an_option_is_found_as_ssh_reads_it() {
        let words: Vec<String> = ["-o", "ConnectTimeout=30", "-oconnecttimeout 5"]
            .iter()
            .map(|w| w.to_string())
            .collect();
        assert_eq!(ssh_option(&words, "ConnectTimeout"), Some("30"));
        assert_eq!(ssh_option(&words[2..], "ConnectTimeout"), Some("5"));
        assert_eq!(ssh_option(&words, "BatchMode"), None);
    }
}
