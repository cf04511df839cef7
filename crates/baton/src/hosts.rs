//! Agents on other hosts (`[[host]]`): each host's tmux server reached through ssh, and
//! [`Hosts`], which puts the local server and every host's behind one [`WindowOps`] so
//! `baton up`, `baton run` and the daemon start and drive a remote agent as a local one.
//!
//! A pane or window on another host is named `<id>@<host>` here (`%3@gpu1`): tmux ids are
//! only unique within one server, and a host name never holds `@`. [`tag`] and [`untag`]
//! convert.
//!
//! The agent's side: [`prepare`] makes the host's directory and puts baton there (this very
//! binary, when the host's OS and architecture are this machine's); the agent's window gets
//! the environment a local one gets, `BATON_HOST` naming its host, and the host's baton first
//! on its PATH. Its reports travel back through its tmux server (`remote_report`).

use std::collections::BTreeMap;
use std::collections::BTreeSet;
use std::path::Path;
use std::path::PathBuf;
use std::sync::Mutex;
use std::time::Duration;

use baton_core::config::HostConfig;
use baton_tmux::Launcher;
use baton_tmux::PaneInfo;
use baton_tmux::Socket;
use baton_tmux::Tmux;
use baton_tmux::TmuxError;
use baton_tmux::WindowSpec;

use crate::error::CliError;
use crate::error::CliResult;
use crate::project::Project;
use crate::windows::WindowOps;

/// Environment variable set in a remote agent's window: the name of its host. A baton run
/// there with it sends its reports through tmux instead of opening a store.
pub const HOST_ENV: &str = "BATON_HOST";

/// The hint of an error that is the host being out of reach (not a mistake to fix): an agent
/// there is started when the daemon reaches the host again.
pub const TRIED_AGAIN: &str = "the daemon tries the host again and starts its agents there";

/// Whether `e` says a host could not be reached (and is tried again), rather than a mistake.
pub fn is_unreachable(e: &CliError) -> bool {
    e.hints.iter().any(|h| h == TRIED_AGAIN)
}

/// A tmux command on another host that failed: ssh's own failure (exit 255) is the host out
/// of reach.
pub fn tmux_error(host: &str, e: TmuxError) -> CliError {
    match &e {
        TmuxError::Command {
            status: Some(255),
            stderr,
            ..
        } => CliError::user(format!("host `{host}`: {}", stderr.trim())).hint(TRIED_AGAIN),
        TmuxError::Disconnected { .. } | TmuxError::Timeout { .. } => {
            CliError::user(format!("host `{host}`: {e}")).hint(TRIED_AGAIN)
        }
        _ => e.into(),
    }
}

/// How long a check that ssh reaches a host may take.
const PROBE_DEADLINE: Duration = Duration::from_secs(15);

/// How long preparing a host (one ssh run; the copy of baton is another) may take.
const PREPARE_DEADLINE: Duration = Duration::from_secs(60);

/// The name of pane or window `id` of `host`'s server: `%3@gpu1`.
pub fn tag(id: &str, host: &str) -> String {
    format!("{id}@{host}")
}

/// Splits a name made by [`tag`]: (`%3`, `Some("gpu1")`); a local id comes back as it is.
pub fn untag(id: &str) -> (&str, Option<&str>) {
    match id.get(1..).and_then(|rest| rest.find('@')) {
        Some(i) => (&id[..=i], Some(&id[i + 2..])),
        None => (id, None),
    }
}

/// A handle on the project's tmux server on `host`, every command an ssh process (the
/// daemon adds its control connection): socket `<socket>@<host>`, tmux's config as the
/// local server's (`BATON_TMUX_CONFIG`).
pub fn remote_tmux(project: &Project, host: &HostConfig) -> Tmux {
    let args = baton_core::ssh::ssh_args::<&str>(host, crate::ssh::identity(host).as_deref(), &[]);
    let socket = baton_core::ssh::remote_socket(&project.socket_name(), &host.name);
    let config = std::env::var_os(crate::project::TMUX_CONFIG_ENV).map(PathBuf::from);
    Tmux::new(Socket::Name(socket))
        .with_config_file(config)
        .with_launcher(Launcher::ssh(args))
}

/// The baton a host's agents run: its `baton = …`, else `<dir>/.baton/bin/baton`, which
/// [`prepare`] keeps a copy of this one in.
pub fn remote_baton(host: &HostConfig) -> PathBuf {
    host.baton
        .clone()
        .unwrap_or_else(|| host.dir.join(".baton/bin/baton"))
}

/// The server a configured agent runs on (its host's, through ssh, or the local one) and its
/// pane there, with an error that says what to do when it is unknown or not running.
pub fn agent_pane(project: &Project, agent: &str) -> CliResult<(Tmux, PaneInfo)> {
    project.check_agent(agent)?;
    let host = project
        .config
        .agent(agent)
        .and_then(|a| a.host.as_ref())
        .and_then(|h| project.config.hosts.iter().find(|c| &c.name == h));
    let Some(host) = host else {
        return Ok((project.tmux.clone(), project.agent_pane(agent)?));
    };
    let tmux = remote_tmux(project, host);
    let panes = WindowOps::session_panes(&tmux, &project.session)?;
    if let Some(pane) = panes.into_iter().find(|p| p.window_name == agent) {
        return Ok((tmux, pane));
    }
    // None there: is it the agent, or the host?
    reachable(host)?;
    Err(
        CliError::user(format!("agent `{agent}` is not running on {}", host.name))
            .hint("start the agents with `baton up`"),
    )
}

/// Checks that ssh reaches `host` (one run of `true`); the error says why not.
pub fn reachable(host: &HostConfig) -> CliResult<()> {
    let run = crate::ssh::run(host, &["true"], PROBE_DEADLINE)
        .map_err(|e| CliError::user(format!("host `{}`: cannot run ssh: {e}", host.name)))?;
    if run.code == Some(0) {
        Ok(())
    } else {
        Err(ssh_error(host, &run, "cannot run a command"))
    }
}

/// Stops the project's session on every host its agents run on (and that host's tmux server
/// when no other session is left there); one line per host saying what happened.
pub fn stop_all(project: &Project) -> Vec<String> {
    let used: BTreeSet<&str> = project
        .config
        .agents
        .iter()
        .filter_map(|a| a.host.as_deref())
        .collect();
    let mut lines = Vec::new();
    for host in project
        .config
        .hosts
        .iter()
        .filter(|h| used.contains(h.name.as_str()))
    {
        let tmux = remote_tmux(project, host);
        match WindowOps::session_panes(&tmux, &project.session) {
            Ok(panes) if panes.is_empty() => {}
            Ok(panes) => {
                let agents = panes
                    .iter()
                    .filter(|p| p.window_name != baton_core::config::CONSOLE_WINDOW)
                    .count();
                match tmux.kill_session(&project.session) {
                    Ok(()) => {
                        let others = tmux
                            .run(&["list-sessions", "-F", "#{session_name}"])
                            .map(|s| s.lines().count())
                            .unwrap_or(0);
                        if others == 0 {
                            let _ = tmux.kill_server();
                        }
                        lines.push(format!(
                            "stopped session `{}` on {} ({agents} agent window{})",
                            project.session,
                            host.name,
                            if agents == 1 { "" } else { "s" }
                        ));
                    }
                    Err(e) => {
                        lines.push(format!("host {}: cannot stop its session: {e}", host.name))
                    }
                }
            }
            Err(e) => lines.push(format!(
                "host {}: cannot reach it to stop its agents: {e}",
                host.name
            )),
        }
    }
    lines
}

/// Checks what agents on other hosts need before anything starts. Nothing is refused any
/// more: a remote agent in worktree isolation works in a clone on its host
/// (`crate::clones`), a shared one in the host's `dir`.
pub fn check(project: &Project) -> CliResult<()> {
    let _ = project;
    Ok(())
}

/// Makes the host's directory and puts baton there when it is missing (or, for the copy
/// baton keeps, another build): this binary when the host runs the same OS and architecture,
/// else an error telling how to install it. One ssh run, two when baton is copied.
pub fn prepare(host: &HostConfig) -> CliResult<()> {
    let dir = host.dir.display().to_string();
    let baton = remote_baton(host).display().to_string();
    let q = baton_core::ssh::shell_quote;
    let script = format!(
        "mkdir -p {d} && uname -sm && if [ -x {b} ]; then wc -c < {b}; else echo missing; fi",
        d = q(&dir),
        b = q(&baton)
    );
    let run = crate::ssh::run(host, &["sh", "-c", &script], PREPARE_DEADLINE)
        .map_err(|e| CliError::user(format!("host `{}`: cannot run ssh: {e}", host.name)))?;
    if run.code != Some(0) {
        return Err(ssh_error(host, &run, &format!("cannot make {dir}")));
    }
    let mut lines = run.stdout.lines();
    let uname = lines.next().unwrap_or_default().to_owned();
    let there = lines.next().unwrap_or("missing").trim().to_owned();
    let exe = std::env::current_exe()
        .map_err(|e| CliError::internal(format!("cannot find this baton's binary: {e}")))?;
    let size = std::fs::metadata(&exe).map(|m| m.len()).unwrap_or(0);
    let managed = host.baton.is_none();
    if there != "missing" && (!managed || there == size.to_string()) {
        return Ok(());
    }
    if !managed {
        return Err(CliError::user(format!(
            "host `{}`: no baton at {baton} (its `baton = …`)",
            host.name
        ))
        .hint("install baton there, or remove `baton = …` to let baton copy itself there"));
    }
    let (os, arch) = (std::env::consts::OS, std::env::consts::ARCH);
    if !baton_core::ssh::same_platform(os, arch, &uname) {
        return Err(CliError::user(format!(
            "host `{}` runs `{}` and this baton is built for {os} {arch}: it cannot be copied there",
            host.name,
            uname.trim()
        ))
        .hint(format!(
            "build and install baton on {} (`cargo install --path crates/baton`), then set `baton = \"<its path>\"` in its [[host]]",
            host.name
        )));
    }
    copy_baton(host, &exe, &baton)
}

/// Copies `exe` to `baton` on the host: written beside it, then renamed (a running copy is
/// never overwritten in place).
fn copy_baton(host: &HostConfig, exe: &Path, baton: &str) -> CliResult<()> {
    let q = baton_core::ssh::shell_quote;
    let parent = Path::new(baton)
        .parent()
        .map_or_else(|| ".".to_owned(), |p| p.display().to_string());
    let tmp = format!("{baton}.part");
    let script = format!(
        "mkdir -p {p} && cat > {t} && chmod 755 {t} && mv -f {t} {b}",
        p = q(&parent),
        t = q(&tmp),
        b = q(baton)
    );
    let run = crate::ssh::run_with_input(host, &["sh", "-c", &script], exe, PREPARE_DEADLINE)
        .map_err(|e| CliError::user(format!("host `{}`: cannot run ssh: {e}", host.name)))?;
    if run.code != Some(0) {
        return Err(ssh_error(
            host,
            &run,
            &format!("cannot copy baton to {baton}"),
        ));
    }
    Ok(())
}

/// The error of a failed ssh run on `host`: what ssh said, or the remote command's error.
fn ssh_error(host: &HostConfig, run: &crate::ssh::SshRun, what: &str) -> CliError {
    let target = host.ssh.to_string();
    if run.timed_out {
        return CliError::user(format!(
            "host `{}` ({target}): no answer in time",
            host.name
        ))
        .hint(TRIED_AGAIN);
    }
    match baton_core::ssh::SshFailure::of(run.code, &run.stderr) {
        Some(f) => CliError::user(format!("host `{}` ({target}): {}", host.name, f.summary()))
            .hint(f.hint(&host.ssh))
            .hint(TRIED_AGAIN),
        None => CliError::user(format!(
            "host `{}`: {what}: {}",
            host.name,
            run.stderr.trim()
        )),
    }
}

/// The local tmux server and every host's, as one: panes and windows of another host are
/// tagged (`%3@gpu1`); a window is opened on its agent's host, the host prepared first (once).
pub struct Hosts {
    /// The local server.
    pub local: Tmux,
    /// Each host's server, by host name.
    pub remotes: BTreeMap<String, Tmux>,
    /// Each remote agent's host.
    agent_host: BTreeMap<String, String>,
    /// The host configurations, by name.
    configs: BTreeMap<String, HostConfig>,
    /// The remote console's window spec, by host (its directory).
    consoles: BTreeMap<String, WindowSpec>,
    /// Hosts prepared by this process.
    prepared: Mutex<BTreeSet<String>>,
}

impl Hosts {
    /// The project's servers: the local one, and one per host an agent runs on.
    pub fn new(project: &Project) -> Hosts {
        let mut remotes = BTreeMap::new();
        let mut configs = BTreeMap::new();
        let mut consoles = BTreeMap::new();
        let mut agent_host = BTreeMap::new();
        let s = &project.config.session;
        for a in &project.config.agents {
            let Some(name) = &a.host else { continue };
            let Some(host) = project.config.hosts.iter().find(|h| &h.name == name) else {
                continue;
            };
            agent_host.insert(a.name.clone(), name.clone());
            remotes
                .entry(name.clone())
                .or_insert_with(|| remote_tmux(project, host));
            configs.insert(name.clone(), host.clone());
            consoles.insert(
                name.clone(),
                WindowSpec::new(baton_core::config::CONSOLE_WINDOW)
                    .cwd(host.dir.clone())
                    .size(s.width, s.height),
            );
        }
        Hosts {
            local: project.tmux.clone(),
            remotes,
            agent_host,
            configs,
            consoles,
            prepared: Mutex::new(BTreeSet::new()),
        }
    }

    /// The host an agent runs on (`None`: this machine).
    pub fn host_of(&self, agent: &str) -> Option<&str> {
        self.agent_host.get(agent).map(String::as_str)
    }

    /// The agents on `host`.
    pub fn agents_on(&self, host: &str) -> Vec<String> {
        self.agent_host
            .iter()
            .filter(|(_, h)| *h == host)
            .map(|(a, _)| a.clone())
            .collect()
    }

    /// The server a (tagged) pane or window is on, and its id there.
    pub fn route<'a>(&'a self, id: &'a str) -> Result<(&'a Tmux, &'a str), TmuxError> {
        match untag(id) {
            (id, None) => Ok((&self.local, id)),
            (id, Some(host)) => match self.remotes.get(host) {
                Some(t) => Ok((t, id)),
                None => Err(TmuxError::Command {
                    args: vec![format!("(pane {id} on host {host})")],
                    status: None,
                    stderr: format!("no host `{host}` in baton.toml"),
                }),
            },
        }
    }

    /// Gives a host's server a control connection (the daemon's): its commands go through it.
    pub fn set_remote(&mut self, host: &str, tmux: Tmux) {
        self.remotes.insert(host.to_owned(), tmux);
    }

    /// The panes of `session` on `host`'s server, tagged.
    pub fn remote_panes(&self, host: &str, session: &str) -> Result<Vec<PaneInfo>, TmuxError> {
        let Some(t) = self.remotes.get(host) else {
            return Ok(Vec::new());
        };
        let panes = WindowOps::session_panes(t, session)?;
        Ok(panes
            .into_iter()
            .map(|p| PaneInfo {
                pane_id: tag(&p.pane_id, host),
                window_id: tag(&p.window_id, host),
                ..p
            })
            .collect())
    }

    /// Prepares `host` once per process ([`prepare`]).
    fn prepare_once(&self, host: &str) -> CliResult<()> {
        let mut done = self
            .prepared
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if done.contains(host) {
            return Ok(());
        }
        let Some(config) = self.configs.get(host) else {
            return Ok(());
        };
        prepare(config)?;
        done.insert(host.to_owned());
        Ok(())
    }
}

impl WindowOps for Hosts {
    fn has_session(&self, session: &str) -> Result<bool, TmuxError> {
        WindowOps::has_session(&self.local, session)
    }

    /// The local panes, then each reachable host's (a host that cannot be reached has none).
    fn session_panes(&self, session: &str) -> Result<Vec<PaneInfo>, TmuxError> {
        let mut panes = WindowOps::session_panes(&self.local, session)?;
        for host in self.remotes.keys() {
            if let Ok(more) = self.remote_panes(host, session) {
                panes.extend(more);
            }
        }
        Ok(panes)
    }

    fn start_session(&self, session: &str, console: &WindowSpec) -> Result<(), TmuxError> {
        WindowOps::start_session(&self.local, session, console)
    }

    /// Opens the window on its agent's host: the host prepared and its session started (with
    /// a console window in the host's directory) first.
    fn new_window(&self, session: &str, window: &WindowSpec) -> Result<PaneInfo, TmuxError> {
        let Some(host) = self.agent_host.get(&window.name) else {
            return WindowOps::new_window(&self.local, session, window);
        };
        let t = &self.remotes[host];
        if !WindowOps::has_session(t, session)? {
            WindowOps::start_session(t, session, &self.consoles[host])?;
        }
        let p = WindowOps::new_window(t, session, window)?;
        Ok(PaneInfo {
            pane_id: tag(&p.pane_id, host),
            window_id: tag(&p.window_id, host),
            ..p
        })
    }

    fn respawn_pane(&self, pane: &str, window: &WindowSpec) -> Result<(), TmuxError> {
        let (t, id) = self.route(pane)?;
        WindowOps::respawn_pane(t, id, window)
    }

    fn prepare_host(&self, agent: &str) -> CliResult<()> {
        match self.agent_host.get(agent) {
            Some(host) => self.prepare_once(host),
            None => Ok(()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_of_other_hosts_are_tagged_and_untagged() {
        assert_eq!(tag("%3", "gpu1"), "%3@gpu1");
        assert_eq!(untag("%3@gpu1"), ("%3", Some("gpu1")));
        assert_eq!(untag("@12@gpu-2_b"), ("@12", Some("gpu-2_b")));
        assert_eq!(untag("@12"), ("@12", None));
        assert_eq!(untag("%3"), ("%3", None));
        assert_eq!(untag(""), ("", None));
    }
}
