//! Starting the agents' windows: the session, one window per agent (a dead one respawned),
//! each launched with its CLI's hooks; used by `baton up` and by the daemon restarting an agent.

use baton_core::config::AgentConfig;
use baton_core::config::CONSOLE_WINDOW;
use baton_tmux::PaneInfo;
use baton_tmux::Tmux;
use baton_tmux::TmuxError;
use baton_tmux::WindowSpec;

use crate::error::CliError;
use crate::error::CliResult;
use crate::project::Project;
use crate::store::Store;

/// The tmux operations starting windows needs (the real server, or a fake in tests).
pub trait WindowOps {
    /// Whether the server runs and has this session.
    fn has_session(&self, session: &str) -> Result<bool, TmuxError>;
    /// The session's panes; none when the session (or the server) is not running.
    fn session_panes(&self, session: &str) -> Result<Vec<PaneInfo>, TmuxError>;
    /// Starts the session with its console window, with a larger scrollback for the windows
    /// created after it.
    fn start_session(&self, session: &str, console: &WindowSpec) -> Result<(), TmuxError>;
    /// Opens a window in the session.
    fn new_window(&self, session: &str, window: &WindowSpec) -> Result<PaneInfo, TmuxError>;
    /// Runs a window's command again in a dead pane.
    fn respawn_pane(&self, pane: &str, window: &WindowSpec) -> Result<(), TmuxError>;
    /// Gets an agent's host ready before its window opens there (nothing for a local agent).
    fn prepare_host(&self, agent: &str) -> CliResult<()> {
        let _ = agent;
        Ok(())
    }
}

impl WindowOps for Tmux {
    fn has_session(&self, session: &str) -> Result<bool, TmuxError> {
        Ok(self.server_running() && Tmux::has_session(self, session)?)
    }

    fn session_panes(&self, session: &str) -> Result<Vec<PaneInfo>, TmuxError> {
        if !WindowOps::has_session(self, session)? {
            return Ok(Vec::new());
        }
        self.list_panes(session)
    }

    fn start_session(&self, session: &str, console: &WindowSpec) -> Result<(), TmuxError> {
        self.new_session(session, console)?;
        self.run(&["set-option", "-t", session, "history-limit", "20000"])?;
        Ok(())
    }

    fn new_window(&self, session: &str, window: &WindowSpec) -> Result<PaneInfo, TmuxError> {
        Tmux::new_window(self, session, window)
    }

    fn respawn_pane(&self, pane: &str, window: &WindowSpec) -> Result<(), TmuxError> {
        Tmux::respawn_pane(self, pane, window)
    }
}

/// Starts what is not running: the session, then each agent's window (a dead one respawned
/// in its pane); says what it did through `say`. Returns the agents started.
///
/// With worktree isolation the agents' worktrees are prepared first; an agent whose
/// directory is missing stops it before anything starts.
pub fn start<'p, T: WindowOps + ?Sized>(
    tmux: &T,
    project: &'p Project,
    store: &mut Store,
    say: &mut dyn FnMut(String),
) -> CliResult<Vec<&'p AgentConfig>> {
    crate::hosts::check(project)?;
    if project.config.uses_worktrees() {
        for line in crate::worktrees::prepare(project, store)? {
            say(line);
        }
    }
    for agent in project.config.agents.iter().filter(|a| a.host.is_none()) {
        let dir = crate::worktrees::agent_dir(project, agent);
        if !dir.is_dir() {
            return Err(CliError::user(format!(
                "agent `{}`: workdir {} is not a directory",
                agent.name,
                dir.display()
            )));
        }
    }
    let s = &project.config.session;
    if !tmux.has_session(&project.session)? {
        let console = WindowSpec::new(CONSOLE_WINDOW)
            .cwd(project.root.clone())
            .size(s.width, s.height);
        tmux.start_session(&project.session, &console)?;
        say(format!(
            "started session `{}` on tmux socket `{}`",
            project.session,
            project.socket_name()
        ));
    }
    let panes = tmux.session_panes(&project.session)?;
    let mut started = Vec::new();
    for agent in &project.config.agents {
        match start_one(tmux, project, agent, &panes) {
            Ok((line, true)) => {
                say(line);
                started.push(agent);
            }
            Ok((line, false)) => say(line),
            // An agent on a host that cannot be reached now waits for its host: the others
            // start (the daemon tries the host again). A mistake (a directory that cannot be
            // made, no baton there) stops the start as it would for a local agent.
            Err(e) if agent.host.is_some() && crate::hosts::is_unreachable(&e) => say(format!(
                "{:<12} not started: {}{}",
                agent.name,
                e.message,
                e.hints
                    .iter()
                    .map(|h| format!("\n{:<12} hint: {h}", ""))
                    .collect::<String>()
            )),
            Err(e) => return Err(e),
        }
    }
    Ok(started)
}

/// Starts one agent's window unless it runs; returns what was done, and whether it started.
fn start_one<T: WindowOps + ?Sized>(
    tmux: &T,
    project: &Project,
    agent: &AgentConfig,
    panes: &[PaneInfo],
) -> CliResult<(String, bool)> {
    let on = agent
        .host
        .as_ref()
        .map_or_else(String::new, |h| format!(" on {h}"));
    match panes.iter().find(|p| p.window_name == agent.name) {
        Some(p) if !p.dead => Ok((
            format!("{:<12} already running in {}{on}", agent.name, p.pane_id),
            false,
        )),
        Some(p) => {
            tmux.prepare_host(&agent.name)?;
            tmux.respawn_pane(&p.pane_id, &agent_window(project, agent))
                .map_err(|e| on_host(agent, e))?;
            Ok((
                format!("{:<12} restarted in {}{on}", agent.name, p.pane_id),
                true,
            ))
        }
        None => {
            tmux.prepare_host(&agent.name)?;
            let p = tmux
                .new_window(&project.session, &agent_window(project, agent))
                .map_err(|e| on_host(agent, e))?;
            Ok((
                format!(
                    "{:<12} started in {}{on} ({})",
                    agent.name, p.pane_id, agent.command
                ),
                true,
            ))
        }
    }
}

/// A tmux error of an agent's window: on another host, said as the host's.
fn on_host(agent: &AgentConfig, e: TmuxError) -> CliError {
    match &agent.host {
        Some(host) => crate::hosts::tmux_error(host, e),
        None => e.into(),
    }
}

/// Characters that make a command line more than one simple command.
const SHELL_SYNTAX: &[char] = &[';', '&', '|', '<', '>', '(', ')', '`', '$', '\n'];

/// Returns the line tmux runs for an agent: `exec`'d when it is one simple command, so that
/// the agent itself, not a shell, is the pane's process.
pub fn launch_line(command: &str) -> String {
    let trimmed = command.trim();
    if trimmed.contains(SHELL_SYNTAX) || trimmed.starts_with("exec ") {
        trimmed.to_owned()
    } else {
        format!("exec {trimmed}")
    }
}

/// Quotes a word for a POSIX shell.
fn shell_quote(word: &str) -> String {
    format!("'{}'", word.replace('\'', "'\\''"))
}

/// Returns the agent's command line with the arguments that wire its CLI's hooks to
/// `baton hook …` (`baton` is first on the agent's PATH):
///
/// - `claude-settings`: `--settings '<json>'` with a Stop hook and a statusLine command;
/// - `codex-notify`: `-c 'notify=[…]'`, which overrides a `notify` of the user's config.
///
/// A command line that is more than one simple command is left as it is (the hook
/// arguments would land on the wrong program).
pub fn command_with_hooks(command: &str, hooks: &str, agent: &str) -> String {
    let trimmed = command.trim();
    if trimmed.contains(SHELL_SYNTAX) {
        return trimmed.to_owned();
    }
    let plain = |c: char| c.is_ascii_alphanumeric() || "._-".contains(c);
    let quoted_agent = if !agent.is_empty() && agent.chars().all(plain) {
        agent.to_owned()
    } else {
        shell_quote(agent)
    };
    match hooks {
        "claude-settings" => {
            let hook = |which: &str| format!("baton hook {which} --agent {quoted_agent}");
            let settings = serde_json::json!({
                "hooks": {"Stop": [{"hooks": [{"type": "command", "command": hook("stop")}]}]},
                "statusLine": {"type": "command", "command": hook("statusline"), "padding": 0},
            });
            format!(
                "{trimmed} --settings {}",
                shell_quote(&settings.to_string())
            )
        }
        "codex-notify" => {
            let argv = serde_json::json!(["baton", "hook", "notify", "--agent", agent]);
            format!("{trimmed} -c {}", shell_quote(&format!("notify={argv}")))
        }
        _ => trimmed.to_owned(),
    }
}

/// Returns the window spec of an agent.
pub(crate) fn agent_window(project: &Project, agent: &AgentConfig) -> WindowSpec {
    if let Some(host) = agent
        .host
        .as_ref()
        .and_then(|h| project.config.hosts.iter().find(|c| &c.name == h))
    {
        return remote_window(project, agent, host);
    }
    let s = &project.config.session;
    let command = command_with_hooks(&agent.command, &agent.profile.hooks, &agent.name);
    let mut spec = WindowSpec::new(agent.name.clone())
        .cwd(crate::worktrees::agent_dir(project, agent))
        .command(without_headless_switches(
            &with_own_dir_on_path(&launch_line(&command)),
            &agent.env,
        ))
        .size(s.width, s.height)
        .env("BATON_AGENT", agent.name.clone())
        .env("BATON_PROJECT", project.root.display().to_string())
        .env("BATON_SESSION", project.session.clone())
        .env("BATON_SOCKET", project.socket_name());
    for (k, v) in &agent.env {
        spec = spec.env(k.clone(), v.clone());
    }
    spec
}

/// Returns the window spec of an agent on `host`: the same as a local agent's, in its
/// directory there (the host's `dir`, or in worktree isolation its clone; `workdir` under
/// it), with `BATON_HOST` set and the host's baton first on PATH.
fn remote_window(
    project: &Project,
    agent: &AgentConfig,
    host: &baton_core::config::HostConfig,
) -> WindowSpec {
    let s = &project.config.session;
    let command = command_with_hooks(&agent.command, &agent.profile.hooks, &agent.name);
    let baton = crate::hosts::remote_baton(host);
    let bin = baton
        .parent()
        .map_or_else(|| ".".to_owned(), |d| d.display().to_string());
    let line = format!(
        "export PATH={}:\"$PATH\"; {}",
        shell_quote(&bin),
        launch_line(&command)
    );
    let socket = baton_core::ssh::remote_socket(&project.socket_name(), &host.name);
    let mut spec = WindowSpec::new(agent.name.clone())
        .cwd(crate::worktrees::agent_dir(project, agent))
        .command(without_headless_switches(&line, &agent.env))
        .size(s.width, s.height)
        .env("BATON_AGENT", agent.name.clone())
        .env("BATON_PROJECT", host.dir.display().to_string())
        .env("BATON_SESSION", project.session.clone())
        .env("BATON_SOCKET", socket)
        .env(crate::hosts::HOST_ENV, host.name.clone());
    for (k, v) in &agent.env {
        spec = spec.env(k.clone(), v.clone());
    }
    spec
}

/// Environment variables that tell a CLI it runs in a CI job, not in a terminal: Gemini CLI
/// reads `CI=true` or `GITHUB_ACTIONS=true` as headless mode and exits at once without a
/// prompt (0.61.0, seen in a CI run), and `CONTINUOUS_INTEGRATION` is the same switch for
/// ink's CI detection. An agent window is a terminal by definition, so its launch line unsets
/// them, unless the agent's own `env` sets one.
pub const HEADLESS_SWITCHES: [&str; 3] = ["CI", "CONTINUOUS_INTEGRATION", "GITHUB_ACTIONS"];

/// Prefixes the launch line with `unset` of the [`HEADLESS_SWITCHES`] the agent's `env` does
/// not set. (The window inherits the tmux server's environment, which is that of whoever
/// started it: a `baton up` in a CI job passes its `CI=true` on.)
fn without_headless_switches(
    line: &str,
    agent_env: &std::collections::BTreeMap<String, String>,
) -> String {
    let unset: Vec<&str> = HEADLESS_SWITCHES
        .into_iter()
        .filter(|v| !agent_env.contains_key(*v))
        .collect();
    if unset.is_empty() {
        line.to_owned()
    } else {
        format!("unset {}; {line}", unset.join(" "))
    }
}

/// Puts the running baton's directory first on PATH in the launch line itself: agents report
/// with `baton task done …` from their panes, and must find this very baton, installed or
/// not. (PATH given to tmux with `-e` does not survive: the shell's profile resets it.)
fn with_own_dir_on_path(line: &str) -> String {
    let dir = std::env::current_exe()
        .ok()
        .and_then(|e| e.parent().map(|d| d.display().to_string()));
    match dir {
        Some(d) => format!("export PATH={}:\"$PATH\"; {line}", shell_quote(&d)),
        None => line.to_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::command_with_hooks;
    use super::launch_line;
    use super::without_headless_switches;

    /// Splits a command line the way `sh` would for these simple cases: words, single quotes.
    fn words(line: &str) -> Vec<String> {
        let mut out = Vec::new();
        let mut cur = String::new();
        let mut quoted = false;
        let mut any = false;
        for c in line.chars() {
            match c {
                '\'' => {
                    quoted = !quoted;
                    any = true;
                }
                ' ' if !quoted => {
                    if any || !cur.is_empty() {
                        out.push(std::mem::take(&mut cur));
                    }
                    any = false;
                }
                c => cur.push(c),
            }
        }
        if any || !cur.is_empty() {
            out.push(cur);
        }
        out
    }

    #[test]
    fn claude_gets_stop_and_statusline_hooks() {
        let line = command_with_hooks("claude --model x", "claude-settings", "alice");
        let w = words(&line);
        assert_eq!(&w[..4], &["claude", "--model", "x", "--settings"]);
        let settings: serde_json::Value = serde_json::from_str(&w[4]).unwrap();
        assert_eq!(
            settings["hooks"]["Stop"][0]["hooks"][0]["command"],
            "baton hook stop --agent alice"
        );
        assert_eq!(
            settings["statusLine"]["command"],
            "baton hook statusline --agent alice"
        );
        assert!(launch_line(&line).starts_with("exec claude --model x --settings '{"));
    }

    #[test]
    fn codex_gets_notify() {
        let line = command_with_hooks("codex --no-daemon", "codex-notify", "bob");
        assert_eq!(
            words(&line),
            [
                "codex",
                "--no-daemon",
                "-c",
                r#"notify=["baton","hook","notify","--agent","bob"]"#
            ]
        );
    }

    #[test]
    fn other_commands_are_untouched() {
        assert_eq!(command_with_hooks("amp", "none", "a"), "amp");
        assert_eq!(
            command_with_hooks("cd x && claude", "claude-settings", "a"),
            "cd x && claude"
        );
    }

    #[test]
    fn ci_switches_are_unset_unless_the_agent_sets_them() {
        let mut env = std::collections::BTreeMap::new();
        assert_eq!(
            without_headless_switches("exec gemini", &env),
            "unset CI CONTINUOUS_INTEGRATION GITHUB_ACTIONS; exec gemini"
        );
        env.insert("CI".to_owned(), "1".to_owned());
        assert_eq!(
            without_headless_switches("exec gemini", &env),
            "unset CONTINUOUS_INTEGRATION GITHUB_ACTIONS; exec gemini"
        );
        for v in ["CONTINUOUS_INTEGRATION", "GITHUB_ACTIONS"] {
            env.insert(v.to_owned(), "1".to_owned());
        }
        assert_eq!(
            without_headless_switches("exec gemini", &env),
            "exec gemini"
        );
    }

    #[test]
    fn simple_commands_are_execed() {
        assert_eq!(launch_line("claude --model x"), "exec claude --model x");
        assert_eq!(launch_line(" exec claude "), "exec claude");
        assert_eq!(launch_line("cd x && claude"), "cd x && claude");
        assert_eq!(launch_line("FOO=$BAR claude"), "FOO=$BAR claude");
    }
}
