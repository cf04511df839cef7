//! `baton doctor`'s checks of each `[[host]]`, through ssh for real: one ssh session per
//! host runs a probe script (`baton_core::ssh::probe_script`) and every check is read from
//! what it printed, or from why ssh failed.

use std::time::Duration;

use baton_core::config::Config;
use baton_core::config::HostConfig;
use baton_core::config::ssh_option;
use baton_core::ssh::CONNECT_TIMEOUT_SECS;
use baton_core::ssh::Probe;
use baton_core::ssh::SshFailure;
use baton_tmux::TmuxVersion;

use super::Check;
use super::check;
use super::warn;
use crate::project::MIN_TMUX;

/// The checks of every host, the hosts checked at once (each may wait its connect timeout).
pub(super) fn host_checks(config: &Config) -> Vec<Check> {
    std::thread::scope(|s| {
        let running: Vec<_> = config
            .hosts
            .iter()
            .map(|h| s.spawn(move || one_host(config, h)))
            .collect();
        running
            .into_iter()
            .flat_map(|r| r.join().unwrap_or_default())
            .collect()
    })
}

/// The first word of an agent's command: the program ssh looks up there.
fn program(command: &str) -> &str {
    command.split_whitespace().next().unwrap_or_default()
}

/// One host: reachable without a prompt, its key known, tmux, baton, the directory, and the
/// CLI of each of its agents.
fn one_host(config: &Config, host: &HostConfig) -> Vec<Check> {
    let name = format!("host {}", host.name);
    let target = host.ssh.to_string();
    let agents: Vec<_> = config
        .agents
        .iter()
        .filter(|a| a.host.as_deref() == Some(host.name.as_str()))
        .collect();
    let programs: Vec<&str> = agents.iter().map(|a| program(&a.command)).collect();
    let script = baton_core::ssh::probe_script(host, &programs);
    let connect = ssh_option(&host.ssh_options, "ConnectTimeout")
        .and_then(|v| v.parse::<u64>().ok())
        .unwrap_or(CONNECT_TIMEOUT_SECS.into());
    let deadline = Duration::from_secs(connect + 20);
    let unchecked = |why: &str| -> Vec<Check> {
        agents
            .iter()
            .map(|a| {
                check(
                    format!("agent {}", a.name),
                    false,
                    format!("on {}: not checked ({why})", host.name),
                    None,
                )
            })
            .collect()
    };
    let ran = match crate::ssh::run(host, &["sh", "-c", &script], deadline) {
        Ok(r) => r,
        Err(e) => {
            let mut out = vec![check(
                name,
                false,
                format!("cannot run ssh: {e}"),
                Some(
                    "install an ssh client (Debian/Ubuntu: apt-get install openssh-client)".into(),
                ),
            )];
            out.extend(unchecked("no ssh here"));
            return out;
        }
    };
    if ran.timed_out {
        let mut out = vec![check(
            name,
            false,
            format!("{target}: no answer within {}s", deadline.as_secs()),
            Some(format!("run `ssh -v {target} true` to see where it waits")),
        )];
        out.extend(unchecked("no answer"));
        return out;
    }
    if let Some(failure) = SshFailure::of(ran.code, &ran.stderr) {
        let mut out = vec![check(
            name,
            false,
            format!("{target}: {}", failure.summary()),
            Some(failure.hint(&host.ssh)),
        )];
        out.extend(unchecked(&format!("{} cannot be reached", host.name)));
        return out;
    }
    let probe = Probe::parse(&ran.stdout, programs.len());
    if ran.code != Some(0) || probe.dir.is_none() {
        let last = ran.stderr.lines().rfind(|l| !l.trim().is_empty());
        let mut out = vec![check(
            name,
            false,
            format!(
                "{target}: connected, but the checks there failed (exit {}){}",
                ran.code.map_or("by a signal".into(), |c| c.to_string()),
                last.map(|l| format!(": {}", l.trim())).unwrap_or_default()
            ),
            Some("baton's checks need a POSIX shell (sh) on the host".into()),
        )];
        out.extend(unchecked("the checks failed"));
        return out;
    }
    let mut out = vec![check(
        &name,
        true,
        format!(
            "{target}: reachable without a prompt, host key known, key accepted ({})",
            probe.os
        ),
        None,
    )];
    out.push(
        match probe.tmux.as_deref().map(|t| (t, TmuxVersion::parse(t))) {
            Some((said, Some(v))) => check(
                format!("{name} tmux"),
                v.at_least(MIN_TMUX.0, MIN_TMUX.1),
                said,
                Some(format!(
                    "baton needs tmux {}.{} or newer on {}",
                    MIN_TMUX.0, MIN_TMUX.1, host.name
                )),
            ),
            Some((raw, None)) => check(
                format!("{name} tmux"),
                false,
                format!("`tmux -V` says `{raw}`"),
                None,
            ),
            None => check(
                format!("{name} tmux"),
                false,
                format!("tmux is not on {}'s PATH", host.name),
                Some(format!(
                    "install tmux {}.{} or newer there (Debian/Ubuntu: apt-get install tmux)",
                    MIN_TMUX.0, MIN_TMUX.1
                )),
            ),
        },
    );
    out.push(baton_check(host, &probe));
    let dir = host.dir.display();
    out.push(match probe.dir.as_deref() {
        Some("writable") => check(
            format!("{name} dir"),
            true,
            format!("{dir} is writable"),
            None,
        ),
        Some("readonly") => check(
            format!("{name} dir"),
            false,
            format!("{dir} is not writable"),
            Some("check the directory's permissions there".into()),
        ),
        _ => warn(
            format!("{name} dir"),
            format!("{dir} does not exist on {}", host.name),
            format!(
                "`baton up` makes it (or: ssh {} mkdir -p {dir})",
                host.ssh.ssh_words()
            ),
        ),
    });
    for (agent, found) in agents.iter().zip(&probe.programs) {
        out.push(check(
            format!("agent {}", agent.name),
            found.is_some(),
            match found {
                Some(p) => format!("{} → {p} on {}", agent.command, host.name),
                None => format!(
                    "`{}` not found on {} (PATH as ssh runs commands there, from {dir})",
                    program(&agent.command),
                    host.name
                ),
            },
            Some(format!(
                "install the {} CLI on {}, or set `command` for agent `{}` in baton.toml",
                agent.cli, host.name, agent.name
            )),
        ));
    }
    out
}

/// baton on the host: the configured path, or the copy `baton up` keeps in
/// `<dir>/.baton/bin/baton`. No copy yet is a warning when this baton can be copied there
/// (same system and architecture); a configured path that is not there, or a host this baton
/// cannot run on, is a failure.
fn baton_check(host: &HostConfig, probe: &Probe) -> Check {
    let name = format!("host {} baton", host.name);
    if let Some(found) = &probe.baton {
        return check(name, true, found.clone(), None);
    }
    if let Some(configured) = &host.baton {
        return check(
            name,
            false,
            format!(
                "`baton = \"{}\"` is not an executable on {}",
                configured.display(),
                host.name
            ),
            Some("install baton there, or fix the path".into()),
        );
    }
    let (os, arch) = (std::env::consts::OS, std::env::consts::ARCH);
    if baton_core::ssh::same_platform(os, arch, &probe.os) {
        warn(
            name,
            format!("no copy in {}/.baton/bin yet", host.dir.display()),
            format!(
                "`baton up` will copy this baton there ({} is {}, as this machine)",
                host.name, probe.os
            ),
        )
    } else {
        check(
            name,
            false,
            format!(
                "none configured, and {} is {} while this baton is built for {os} {arch}: it cannot be copied there",
                host.name, probe.os
            ),
            Some(format!(
                "install baton on {} and set `baton = \"/path/to/baton\"` in its [[host]]",
                host.name
            )),
        )
    }
}
