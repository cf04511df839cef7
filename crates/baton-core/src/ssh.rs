//! The pure part of reaching another host through `ssh`: the argument vector, the remote
//! tmux socket's name, the command line the remote shell reads, what a failed ssh means, and
//! the probe `baton doctor` runs there. The shell runs ssh; nothing here does.
//!
//! ssh takes the first value it gets for each option, and the command line comes before any
//! config file: baton's own `-o` come first, so a host's `ssh_options` cannot undo them
//! (the configuration refuses those that try, so the user is told rather than ignored).

use std::collections::BTreeMap;

use crate::config::HostConfig;
use crate::config::ssh_option;

/// Seconds ssh waits for the TCP connection unless the host's `ssh_options` set
/// `ConnectTimeout`.
pub const CONNECT_TIMEOUT_SECS: u32 = 10;

/// Seconds between ssh's keepalive probes (three unanswered: the connection is dead).
pub const SERVER_ALIVE_SECS: u32 = 15;

/// The exit code ssh itself fails with (any other is the remote command's).
pub const SSH_FAILED: i32 = 255;

/// Returns the tmux socket name (`tmux -L`) of the project's agents on `host`:
/// `<socket>@<host>`. A local socket name never has `@` (`[session] socket` and the session
/// name allow letters, digits, `-` and `_`), so the two cannot collide even when the host is
/// this very machine.
pub fn remote_socket(local_socket: &str, host: &str) -> String {
    format!("{local_socket}@{host}")
}

/// Quotes a word for a POSIX shell: as it is when it has only safe characters, else in
/// single quotes.
pub fn shell_quote(word: &str) -> String {
    let safe = |c: char| c.is_ascii_alphanumeric() || "@%+=:,./_-".contains(c);
    if !word.is_empty() && word.chars().all(safe) {
        word.to_owned()
    } else {
        format!("'{}'", word.replace('\'', "'\\''"))
    }
}

/// Returns the one string ssh sends as the remote command: `words` quoted for the remote
/// (POSIX) shell, which splits them again.
pub fn remote_command<S: AsRef<str>>(words: &[S]) -> String {
    words
        .iter()
        .map(|w| shell_quote(w.as_ref()))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Returns ssh's arguments (without the program) to run `remote` (words, quoted here) on
/// `host`: `-o BatchMode=yes` (never a prompt), `-o ControlMaster=no -o ControlPath=none`
/// (no connection shared with, or left to, other ssh runs), `-o ConnectTimeout=…`, `-p port`,
/// `-i identity` (`identity` is the host's, with `~` already expanded by the caller), the
/// host's `ssh_options` as they are, `--`, `user@host`, then the command.
pub fn ssh_args<S: AsRef<str>>(
    host: &HostConfig,
    identity: Option<&str>,
    remote: &[S],
) -> Vec<String> {
    // No shared master: a `ControlMaster auto` + `ControlPersist` of the user's ssh config
    // would leave a connection behind `baton down`; baton keeps its own.
    let mut args: Vec<String> = [
        "-o",
        "BatchMode=yes",
        "-o",
        "ControlMaster=no",
        "-o",
        "ControlPath=none",
    ]
    .map(String::from)
    .to_vec();
    if ssh_option(&host.ssh_options, "ConnectTimeout").is_none() {
        args.extend([
            "-o".into(),
            format!("ConnectTimeout={CONNECT_TIMEOUT_SECS}"),
        ]);
    }
    // A connection whose network died without closing it is noticed within 45 s (ssh then
    // exits and the control connection reconnects), unless the host sets its own keepalive.
    if ssh_option(&host.ssh_options, "ServerAliveInterval").is_none() {
        args.extend([
            "-o".into(),
            format!("ServerAliveInterval={SERVER_ALIVE_SECS}"),
            "-o".into(),
            "ServerAliveCountMax=3".into(),
        ]);
    }
    if let Some(port) = host.ssh.port {
        args.extend(["-p".into(), port.to_string()]);
    }
    if let Some(identity) = identity {
        args.extend(["-i".into(), identity.to_owned()]);
    }
    args.extend(host.ssh_options.iter().cloned());
    args.push("--".into());
    args.push(host.ssh.destination());
    if !remote.is_empty() {
        args.push(remote_command(remote));
    }
    args
}

/// Returns the remote command words that run tmux on the project's socket there.
pub fn remote_tmux<S: AsRef<str>>(local_socket: &str, host: &str, args: &[S]) -> Vec<String> {
    [
        "tmux".to_owned(),
        "-L".into(),
        remote_socket(local_socket, host),
    ]
    .into_iter()
    .chain(args.iter().map(|a| a.as_ref().to_owned()))
    .collect()
}

/// Why ssh could not run the command, read from its exit code and standard error.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum SshFailure {
    /// Nothing listens on that port (`Connection refused`).
    Refused,
    /// The host cannot be reached: no route, network unreachable, or no answer in time.
    Unreachable(String),
    /// The host name does not resolve.
    Unresolved,
    /// The host's key is not in known_hosts (and BatchMode forbids asking).
    HostKeyUnknown,
    /// The host's key differs from the one known: maybe another machine.
    HostKeyChanged,
    /// The server refused every key (or the key could not be used).
    AuthRefused,
    /// The connection closed before the session started.
    Closed,
    /// Anything else: ssh's last line.
    Other(String),
}

impl SshFailure {
    /// Reads a finished ssh: `None` when ssh itself did not fail (the code is not 255, so it
    /// is the remote command's).
    pub fn of(code: Option<i32>, stderr: &str) -> Option<SshFailure> {
        if code.is_some_and(|c| c != SSH_FAILED) {
            return None;
        }
        let has = |s: &str| stderr.contains(s);
        Some(if has("REMOTE HOST IDENTIFICATION HAS CHANGED") {
            SshFailure::HostKeyChanged
        } else if has("Host key verification failed") || has("host key is known for") {
            SshFailure::HostKeyUnknown
        } else if has("Permission denied") || has("Too many authentication failures") {
            SshFailure::AuthRefused
        } else if has("Connection refused") {
            SshFailure::Refused
        } else if has("Could not resolve hostname") {
            SshFailure::Unresolved
        } else if let Some(why) = ["No route to host", "Network is unreachable", "timed out"]
            .into_iter()
            .find(|s| has(s))
        {
            SshFailure::Unreachable(why.to_owned())
        } else if has("Connection closed") || has("Connection reset") {
            SshFailure::Closed
        } else {
            let last = stderr
                .lines()
                .map(str::trim)
                .rfind(|l| !l.is_empty())
                .unwrap_or("no message");
            SshFailure::Other(match code {
                Some(c) => format!("{last} (exit {c})"),
                None => format!("{last} (ended by a signal)"),
            })
        })
    }

    /// What went wrong, in a few words.
    pub fn summary(&self) -> String {
        match self {
            SshFailure::Refused => "connection refused: nothing listens on that port".into(),
            SshFailure::Unreachable(why) => format!("unreachable: {why}"),
            SshFailure::Unresolved => "the host name does not resolve".into(),
            SshFailure::HostKeyUnknown => "host key unknown: not in known_hosts".into(),
            SshFailure::HostKeyChanged => {
                "host key CHANGED: it differs from the one in known_hosts".into()
            }
            SshFailure::AuthRefused => "authentication refused: no key was accepted".into(),
            SshFailure::Closed => "the connection closed before the session started".into(),
            SshFailure::Other(m) => m.clone(),
        }
    }

    /// How to fix it, for the host at `target` (its `ssh = …` quoted as written; commands a
    /// person can run given with `-p` for the port; the host's `identity` and `ssh_options`
    /// apply too).
    pub fn hint(&self, target: &crate::config::SshTarget) -> String {
        let words = target.ssh_words();
        match self {
            SshFailure::Refused => {
                format!("check the port in `ssh = \"{target}\"` and that sshd runs there")
            }
            SshFailure::Unreachable(_) | SshFailure::Unresolved => {
                format!("check the host name in `ssh = \"{target}\"` and the network")
            }
            SshFailure::HostKeyUnknown => format!(
                "connect once by hand (ssh {words}) and check the fingerprint it shows: \
                 baton never accepts a key on its own"
            ),
            SshFailure::HostKeyChanged => {
                "make sure it is the same machine, then replace its line in known_hosts \
                 (ssh-keygen -R)"
                    .into()
            }
            SshFailure::AuthRefused => "set `identity` to a key the host authorizes, or load \
                 it in ssh-agent (baton runs ssh with BatchMode=yes: no password prompt)"
                .into(),
            SshFailure::Closed | SshFailure::Other(_) => {
                format!(
                    "run `ssh -v {words} true` (with the host's identity and options) to see what ssh does"
                )
            }
        }
    }
}

/// Returns a POSIX shell script that reports, one `key=value` a line: the host's system
/// (`os=` uname -s and -m), `tmux=` (its `tmux -V`, empty when missing), `baton=` (the
/// configured path when it runs, else the copy `baton up` keeps in `<dir>/.baton/bin`, else
/// empty), `dir=` (`writable`,
/// `readonly` or `missing`), then `cli<i>=` the path of each program (empty when missing),
/// looked up in `dir` when there is one.
pub fn probe_script(host: &HostConfig, programs: &[&str]) -> String {
    let mut s = String::from(
        "printf 'os=%s %s\\n' \"$(uname -s)\" \"$(uname -m)\"\n\
         if command -v tmux >/dev/null 2>&1; then printf 'tmux=%s\\n' \"$(tmux -V 2>&1)\"; \
         else echo tmux=; fi\n",
    );
    match &host.baton {
        Some(b) => s.push_str(&format!(
            "b={}; if [ -f \"$b\" ] && [ -x \"$b\" ]; then echo \"baton=$b\"; else echo baton=; fi\n",
            shell_quote(&b.to_string_lossy())
        )),
        // The copy `baton up` keeps there.
        None => s.push_str(&format!(
            "b={}; if [ -f \"$b\" ] && [ -x \"$b\" ]; then echo \"baton=$b\"; else echo baton=; fi\n",
            shell_quote(&host.dir.join(".baton/bin/baton").to_string_lossy())
        )),
    }
    s.push_str(&format!(
        "d={}\nif [ -d \"$d\" ]; then t=\"$d/.baton-doctor-$$\"; \
         if ( : > \"$t\" ) 2>/dev/null; then rm -f \"$t\"; echo dir=writable; \
         else echo dir=readonly; fi; cd \"$d\" || exit 1; else echo dir=missing; fi\n",
        shell_quote(&host.dir.to_string_lossy())
    ));
    // The agents' windows have the host's baton first on their PATH: so does the look-up.
    let bin = host
        .baton
        .as_ref()
        .and_then(|b| b.parent().map(std::path::Path::to_path_buf))
        .unwrap_or_else(|| host.dir.join(".baton/bin"));
    s.push_str(&format!(
        "PATH={}:\"$PATH\"; export PATH\n",
        shell_quote(&bin.to_string_lossy())
    ));
    for (i, p) in programs.iter().enumerate() {
        s.push_str(&format!(
            "echo \"cli{i}=$(command -v {} 2>/dev/null)\"\n",
            shell_quote(p)
        ));
    }
    s
}

/// What [`probe_script`] reported.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Probe {
    /// `uname -s` and `uname -m`.
    pub os: String,
    /// `tmux -V`, or None when tmux is missing.
    pub tmux: Option<String>,
    /// The baton found there.
    pub baton: Option<String>,
    /// `writable`, `readonly` or `missing` (None: the script did not get that far).
    pub dir: Option<String>,
    /// Each program's path, in the order given (None: missing).
    pub programs: Vec<Option<String>>,
}

impl Probe {
    /// Reads the script's output for `programs` programs.
    pub fn parse(stdout: &str, programs: usize) -> Probe {
        let values: BTreeMap<&str, &str> = stdout
            .lines()
            .filter_map(|l| l.split_once('='))
            .map(|(k, v)| (k, v.trim()))
            .collect();
        let some = |k: &str| {
            values
                .get(k)
                .filter(|v| !v.is_empty())
                .map(|v| (*v).to_owned())
        };
        Probe {
            os: some("os").unwrap_or_default(),
            tmux: some("tmux"),
            baton: some("baton"),
            dir: some("dir"),
            programs: (0..programs).map(|i| some(&format!("cli{i}"))).collect(),
        }
    }
}

/// True when a host whose `uname -s`/`uname -m` are `uname` runs the binaries of a machine
/// with Rust's `os` and `arch` (`std::env::consts`): then this baton can be copied there.
pub fn same_platform(os: &str, arch: &str, uname: &str) -> bool {
    let mut words = uname.split_whitespace();
    let (Some(s), Some(m)) = (words.next(), words.next()) else {
        return false;
    };
    let s = match s.to_ascii_lowercase().as_str() {
        "darwin" => "macos".to_owned(),
        other => other.to_owned(),
    };
    let m = match m {
        "arm64" => "aarch64",
        "amd64" => "x86_64",
        "i686" | "i386" => "x86",
        other => other,
    };
    s == os && m == arch
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;
    use crate::config::SshTarget;

    fn host(ssh: &str, options: &[&str]) -> HostConfig {
        HostConfig {
            name: "gpu1".into(),
            ssh: SshTarget::parse(ssh).unwrap(),
            identity: None,
            ssh_options: options.iter().map(|o| o.to_string()).collect(),
            dir: PathBuf::from("/srv/work/it's here"),
            baton: None,
            down_after_secs: 30,
        }
    }

    #[test]
    fn the_argument_vector_puts_batons_options_first() {
        let h = host("dev@gpu1.lan:2222", &["-o", "ServerAliveInterval=15"]);
        assert_eq!(
            ssh_args(&h, Some("/home/me/.ssh/id_ed25519"), &["tmux", "-V"]),
            [
                "-o",
                "BatchMode=yes",
                "-o",
                "ControlMaster=no",
                "-o",
                "ControlPath=none",
                "-o",
                "ConnectTimeout=10",
                "-p",
                "2222",
                "-i",
                "/home/me/.ssh/id_ed25519",
                "-o",
                "ServerAliveInterval=15",
                "--",
                "dev@gpu1.lan",
                "tmux -V",
            ]
        );
        // No port, no identity, no command; the user's ConnectTimeout replaces baton's.
        let h = host("[::1]", &["-oConnectTimeout=30"]);
        assert_eq!(
            ssh_args::<&str>(&h, None, &[]),
            [
                "-o",
                "BatchMode=yes",
                "-o",
                "ControlMaster=no",
                "-o",
                "ControlPath=none",
                "-o",
                "ServerAliveInterval=15",
                "-o",
                "ServerAliveCountMax=3",
                "-oConnectTimeout=30",
                "--",
                "::1"
            ]
        );
        let h = host("me@[::1]:2200", &[]);
        let args = ssh_args(&h, None, &["true"]);
        assert_eq!(&args[args.len() - 4..], ["2200", "--", "me@::1", "true"]);
    }

    #[test]
    fn the_remote_command_survives_the_remote_shell() {
        assert_eq!(
            remote_command(&["sh", "-c", "echo \"$HOME\" it's; rm -rf /"]),
            "sh -c 'echo \"$HOME\" it'\\''s; rm -rf /'"
        );
        assert_eq!(remote_command(&["a b", "", "x=1"]), "'a b' '' x=1");
        assert_eq!(
            remote_tmux("baton-p", "gpu1", &["-C", "attach"]),
            ["tmux", "-L", "baton-p@gpu1", "-C", "attach"]
        );
    }

    #[test]
    fn a_remote_socket_never_equals_a_local_one() {
        let remote = remote_socket("baton-palm", "gpu1");
        assert_eq!(remote, "baton-palm@gpu1");
        // Every local socket name passes the configuration's name check; this one cannot.
        let c = crate::config::Config::parse(
            std::path::Path::new("baton.toml"),
            &format!("[session]\nsocket = \"{remote}\"\n"),
        );
        assert!(c.is_err(), "{c:?}");
    }

    #[test]
    fn ssh_failures_are_told_apart() {
        let of = |code: Option<i32>, stderr: &str| SshFailure::of(code, stderr);
        assert_eq!(of(Some(0), ""), None);
        assert_eq!(of(Some(1), "Permission denied"), None, "the command's own");
        assert_eq!(
            of(
                Some(255),
                "No ED25519 host key is known for [127.0.0.1]:2222 and you have requested \
                 strict checking.\r\nHost key verification failed.\r\n"
            ),
            Some(SshFailure::HostKeyUnknown)
        );
        assert_eq!(
            of(
                Some(255),
                "@@@@@\n@    WARNING: REMOTE HOST IDENTIFICATION HAS CHANGED!     @\n\
                 Host key verification failed.\n"
            ),
            Some(SshFailure::HostKeyChanged)
        );
        assert_eq!(
            of(
                Some(255),
                "dev@127.0.0.1: Permission denied (publickey).\r\n"
            ),
            Some(SshFailure::AuthRefused)
        );
        assert_eq!(
            of(
                Some(255),
                "ssh: connect to host 127.0.0.1 port 1: Connection refused\r\n"
            ),
            Some(SshFailure::Refused)
        );
        assert_eq!(
            of(
                Some(255),
                "ssh: connect to host 10.9.9.9 port 22: Connection timed out\r\n"
            ),
            Some(SshFailure::Unreachable("timed out".into()))
        );
        assert_eq!(
            of(
                Some(255),
                "ssh: connect to host 10.9.9.9 port 22: No route to host"
            ),
            Some(SshFailure::Unreachable("No route to host".into()))
        );
        assert_eq!(
            of(
                Some(255),
                "ssh: Could not resolve hostname gpu9: Name or service not known"
            ),
            Some(SshFailure::Unresolved)
        );
        assert_eq!(
            of(
                Some(255),
                "kex_exchange_identification: Connection closed by remote host"
            ),
            Some(SshFailure::Closed)
        );
        assert_eq!(
            of(Some(255), "odd\nsomething else\n\n"),
            Some(SshFailure::Other("something else (exit 255)".into()))
        );
        assert_eq!(
            of(None, ""),
            Some(SshFailure::Other("no message (ended by a signal)".into()))
        );
        for f in [
            SshFailure::HostKeyUnknown,
            SshFailure::AuthRefused,
            SshFailure::Refused,
        ] {
            assert!(
                f.hint(&SshTarget::parse("dev@gpu1:2222").unwrap()).len() > 20,
                "{f:?}"
            );
        }
        assert!(
            SshFailure::Refused
                .hint(&SshTarget::parse("dev@gpu1:2222").unwrap())
                .contains("dev@gpu1:2222")
        );
        assert!(
            SshFailure::Closed
                .hint(&SshTarget::parse("dev@gpu1:2222").unwrap())
                .contains("ssh -v -p 2222 dev@gpu1 true")
        );
    }

    #[test]
    fn the_probe_quotes_what_it_is_given_and_reads_back() {
        let mut h = host("gpu1", &[]);
        let s = probe_script(&h, &["codex", "./bin/my agent"]);
        assert!(s.contains("d='/srv/work/it'\\''s here'"), "{s}");
        assert!(s.contains("command -v codex "), "{s}");
        assert!(s.contains("command -v './bin/my agent' "), "{s}");
        // Without `baton = …`: the copy `baton up` keeps in the host's directory.
        assert!(
            s.contains("b='/srv/work/it'\\''s here/.baton/bin/baton';"),
            "{s}"
        );
        h.baton = Some(PathBuf::from("/opt/baton"));
        assert!(probe_script(&h, &[]).contains("b=/opt/baton;"));

        let p = Probe::parse(
            "os=Linux x86_64\ntmux=tmux 3.3a\nbaton=\ndir=writable\ncli0=/usr/bin/codex\ncli1=\n",
            2,
        );
        assert_eq!(
            p,
            Probe {
                os: "Linux x86_64".into(),
                tmux: Some("tmux 3.3a".into()),
                baton: None,
                dir: Some("writable".into()),
                programs: vec![Some("/usr/bin/codex".into()), None],
            }
        );
        assert_eq!(Probe::parse("", 1).programs, [None]);
    }

    #[test]
    fn platforms_match_as_uname_names_them() {
        assert!(same_platform("linux", "x86_64", "Linux x86_64"));
        assert!(same_platform("macos", "aarch64", "Darwin arm64"));
        assert!(!same_platform("linux", "x86_64", "Linux aarch64"));
        assert!(!same_platform("linux", "x86_64", "Darwin x86_64"));
        assert!(!same_platform("linux", "x86_64", ""));
    }
}
