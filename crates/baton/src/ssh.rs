//! Running `ssh` to another `[[host]]`: the shell around `baton_core::ssh` (which builds the
//! arguments): `~` in `identity` expanded, one command run with a deadline, its output kept.

use std::path::Path;
use std::process::Command;
use std::process::Stdio;
use std::time::Duration;

use baton_core::config::HostConfig;

/// The ssh program.
const SSH: &str = "ssh";

/// What one ssh run gave: the exit code (None when killed or ended by a signal), both
/// streams, and whether the deadline ended it.
#[derive(Debug)]
pub struct SshRun {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
    pub timed_out: bool,
}

/// Returns the host's `identity` with a leading `~/` (or a lone `~`) made the home directory.
pub fn identity(host: &HostConfig) -> Option<String> {
    let path = host.identity.as_deref()?.to_string_lossy().into_owned();
    let home = std::env::var_os("HOME").map(|h| Path::new(&h).to_string_lossy().into_owned());
    Some(match (path.strip_prefix('~'), home) {
        (Some(""), Some(h)) => h,
        (Some(rest), Some(h)) if rest.starts_with('/') => format!("{h}{rest}"),
        _ => path,
    })
}

/// Runs `remote` (words) on `host` through ssh, killed after `deadline`; stdin is closed, so
/// nothing can wait for a person (ssh runs with BatchMode=yes too).
pub fn run(host: &HostConfig, remote: &[&str], deadline: Duration) -> std::io::Result<SshRun> {
    run_from(host, remote, Stdio::null(), deadline)
}

/// [`run`] with the file `input` on the remote command's standard input.
pub fn run_with_input(
    host: &HostConfig,
    remote: &[&str],
    input: &Path,
    deadline: Duration,
) -> std::io::Result<SshRun> {
    let file = std::fs::File::open(input)?;
    run_from(host, remote, Stdio::from(file), deadline)
}

fn run_from(
    host: &HostConfig,
    remote: &[&str],
    stdin: Stdio,
    deadline: Duration,
) -> std::io::Result<SshRun> {
    let args = baton_core::ssh::ssh_args(host, identity(host).as_deref(), remote);
    let mut child = Command::new(SSH)
        .args(&args)
        .stdin(stdin)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()?;
    let out = crate::processes::output_or_kill(&mut child, deadline, 1 << 20)?;
    Ok(SshRun {
        code: out.status.and_then(|s| s.code()),
        timed_out: out.status.is_none(),
        stdout: out.stdout,
        stderr: out.stderr,
    })
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;

    #[test]
    fn identity_expands_the_home_directory_only() {
        let Some(home) = std::env::var_os("HOME") else {
            return;
        };
        let home = home.to_string_lossy().into_owned();
        let mut h = HostConfig {
            name: "h".into(),
            ssh: baton_core::config::SshTarget::parse("h").unwrap(),
            identity: Some(PathBuf::from("~/.ssh/id_ed25519")),
            ssh_options: Vec::new(),
            dir: PathBuf::from("/x"),
            baton: None,
            down_after_secs: 30,
        };
        assert_eq!(identity(&h), Some(format!("{home}/.ssh/id_ed25519")));
        for (given, expected) in [
            ("~", home.clone()),
            ("~other/k", "~other/k".into()),
            ("/k/~/x", "/k/~/x".into()),
            ("k", "k".into()),
        ] {
            h.identity = Some(PathBuf::from(given));
            assert_eq!(identity(&h), Some(expected), "{given}");
        }
        h.identity = None;
        assert_eq!(identity(&h), None);
    }
}
