//! `baton up`: start the session, one window per agent, and the daemon (in the background);
//! wait for the agents to be ready.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;
use std::time::Instant;

use baton_core::AgentState;
use baton_core::config::AgentConfig;
use baton_core::config::CONSOLE_WINDOW;
use baton_core::first_start::StartWatch;
use baton_core::first_start::Verdict;
use baton_core::vocab::JournalAction;
use baton_tmux::WindowSpec;
use clap::Args;

use crate::commands::ok;
use crate::delivery::look;
use crate::delivery::press_keys;
use crate::error::CliError;
use crate::error::CliResult;
use crate::project::Project;
use crate::project::start_dir;

/// Arguments of `baton up`.
#[derive(Args, Debug)]
pub struct UpArgs {
    /// Return once the windows exist, without waiting for the agents to be ready
    #[arg(long)]
    pub no_wait: bool,
    /// Start only the agents, not the daemon that hands out tasks and watches them
    #[arg(long)]
    pub no_daemon: bool,
    /// Give agents work even at critical quota (an emergency override, journaled)
    #[arg(long)]
    pub ignore_usage: bool,
    /// Print nothing (the daemon restarting an agent).
    #[arg(skip)]
    pub quiet: bool,
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
fn agent_window(project: &Project, agent: &AgentConfig) -> WindowSpec {
    let s = &project.config.session;
    let command = command_with_hooks(&agent.command, &agent.profile.hooks, &agent.name);
    let mut spec = WindowSpec::new(agent.name.clone())
        .cwd(crate::worktrees::agent_dir(project, agent))
        .command(with_own_dir_on_path(&launch_line(&command)))
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

/// Starts what is not running and reports each agent's state.
pub fn cmd_up(dir: Option<&Path>, args: &UpArgs) -> CliResult<ExitCode> {
    let quiet = args.quiet;
    macro_rules! say {
        ($($arg:tt)*) => {
            if !quiet {
                println!($($arg)*);
            }
        };
    }
    let project = Project::load(&start_dir(dir)?)?;
    project.check_tmux()?;
    project.state_dir()?;
    if !quiet {
        for w in &project.config.warnings {
            eprintln!("warning: {w}");
        }
    }
    if project.config.agents.is_empty() {
        return Err(
            CliError::user("no [[agent]] in baton.toml: nothing to start")
                .hint("add agents, or run `baton init` in a new directory"),
        );
    }
    // The project's store (a new one on the first run): a deleted or replaced store stops
    // `baton up` here, before anything starts.
    let mut store = project.store()?;
    if project.config.uses_worktrees() {
        for line in crate::worktrees::prepare(&project, &mut store)? {
            say!("{line}");
        }
    }
    for agent in &project.config.agents {
        let dir = crate::worktrees::agent_dir(&project, agent);
        if !dir.is_dir() {
            return Err(CliError::user(format!(
                "agent `{}`: workdir {} is not a directory",
                agent.name,
                dir.display()
            )));
        }
    }
    let tmux = &project.tmux;
    let s = &project.config.session;
    if !tmux.server_running() || !tmux.has_session(&project.session)? {
        let console = WindowSpec::new(CONSOLE_WINDOW)
            .cwd(project.root.clone())
            .size(s.width, s.height);
        tmux.new_session(&project.session, &console)?;
        // Larger scrollback for the agents' windows, created after this.
        tmux.run(&[
            "set-option",
            "-t",
            &project.session,
            "history-limit",
            "20000",
        ])?;
        say!(
            "started session `{}` on tmux socket `{}`",
            project.session,
            project.socket_name()
        );
    }
    let panes = project.panes()?;
    let mut started = Vec::new();
    for agent in &project.config.agents {
        match panes.iter().find(|p| p.window_name == agent.name) {
            Some(p) if !p.dead => say!("{:<12} already running in {}", agent.name, p.pane_id),
            Some(p) => {
                tmux.respawn_pane(&p.pane_id, &agent_window(&project, agent))?;
                say!("{:<12} restarted in {}", agent.name, p.pane_id);
                started.push(agent);
            }
            None => {
                let p = tmux.new_window(&project.session, &agent_window(&project, agent))?;
                say!(
                    "{:<12} started in {} ({})",
                    agent.name,
                    p.pane_id,
                    agent.command
                );
                started.push(agent);
            }
        }
    }
    if !args.no_daemon {
        match crate::daemon::spawn_background(&project, args.ignore_usage)? {
            crate::daemon::Spawned::Started(pid) => say!(
                "daemon started (pid {pid}); it dispatches tasks as they are added (log: .baton/daemon.log)"
            ),
            crate::daemon::Spawned::AlreadyRunning(pid) => {
                say!("daemon already running (pid {pid})");
            }
        }
    }
    if args.no_wait {
        return ok();
    }
    // Without a daemon, `baton up` answers the agents' first-start dialogs itself; with one,
    // the daemon does (one answerer: two would press every key twice).
    let problems = wait_for_agents(&project, &mut store, &started, args.no_daemon)?;
    say!(
        "attach with: baton attach   (tmux -L {} attach -t {})",
        project.socket_name(),
        project.session
    );
    if problems.is_empty() {
        ok()
    } else {
        let mut e = CliError::user(format!(
            "{} agent(s) not ready:\n  {}",
            problems.len(),
            problems.join("\n  ")
        ));
        e = e.hint("look with `baton peek <agent>` or `baton attach <agent>`");
        Err(e)
    }
}

/// Waits until every started agent is ready, needs a person, or exceeds its start-up time;
/// returns one line per agent that is not ready. A known first-start dialog is answered as
/// the profile says when `answer` (else it is left to the daemon, and waited for); any other
/// dialog is a problem for a person, never typed into.
fn wait_for_agents(
    project: &Project,
    store: &mut crate::store::Store,
    agents: &[&AgentConfig],
    answer: bool,
) -> CliResult<Vec<String>> {
    let start = Instant::now();
    let mut pending: Vec<&AgentConfig> = agents.to_vec();
    let mut watches: BTreeMap<&str, StartWatch> = agents
        .iter()
        .map(|a| {
            let w = if answer {
                StartWatch::starting()
            } else {
                StartWatch::watching()
            };
            (a.name.as_str(), w)
        })
        .collect();
    let mut problems = Vec::new();
    while !pending.is_empty() {
        let panes = project.panes()?;
        let mut still = Vec::new();
        for agent in pending {
            let limit = Duration::from_millis(agent.profile.submit.startup_timeout_ms);
            let Some(pane) = panes
                .iter()
                .find(|p| p.window_name == agent.name && !p.dead)
            else {
                problems.push(format!(
                    "{}: exited during start-up (command: {}); run it by hand to see why",
                    agent.name, agent.command
                ));
                continue;
            };
            let (d, screen) = look(&project.tmux, &pane.pane_id, &agent.profile)?;
            let secs = start.elapsed().as_secs_f64();
            let now_ms = u64::try_from(start.elapsed().as_millis()).unwrap_or(u64::MAX);
            let watch = watches.get_mut(agent.name.as_str()).expect("one per agent");
            let timed_out = || {
                format!(
                    "{}: not ready after {:.0}s (detected: {})",
                    agent.name,
                    limit.as_secs_f64(),
                    d.state
                )
            };
            match watch.observe(now_ms, &agent.profile, &screen, &d) {
                Verdict::Answer { dialog, keys } => {
                    press_keys(&project.tmux, &pane.pane_id, &keys)?;
                    let what = format!("{dialog} (keys: {})", keys.join(" "));
                    journal(
                        project,
                        store,
                        &agent.name,
                        JournalAction::FirstStartAnswered,
                        &what,
                    );
                    println!("{:<12} answered the first-start dialog {what}", agent.name);
                    still.push(agent);
                }
                Verdict::Person { reason, .. } => {
                    journal(
                        project,
                        store,
                        &agent.name,
                        JournalAction::FirstStartPerson,
                        &reason,
                    );
                    problems.push(format!(
                        "{}: waits for a person ({reason}): answer it with `baton attach {}`",
                        agent.name, agent.name
                    ));
                }
                Verdict::Wait if start.elapsed() >= limit => problems.push(timed_out()),
                Verdict::Wait => still.push(agent),
                Verdict::Clear if d.state.is_ready() => {
                    println!("{:<12} ready ({}) after {secs:.1}s", agent.name, d.state);
                }
                Verdict::Clear if d.state == AgentState::NeedsInput => {
                    problems.push(format!(
                        "{}: waits for a person (a dialog is open): answer it with `baton attach {}`",
                        agent.name, agent.name
                    ));
                }
                Verdict::Clear if start.elapsed() >= limit => problems.push(timed_out()),
                Verdict::Clear => still.push(agent),
            }
        }
        pending = still;
        if !pending.is_empty() {
            std::thread::sleep(Duration::from_millis(50));
        }
    }
    Ok(problems)
}

/// Journals what `baton up` did for an agent (as the daemon would: actor `baton`).
fn journal(
    project: &Project,
    store: &mut crate::store::Store,
    agent: &str,
    action: JournalAction,
    result: &str,
) {
    if let Ok(e) = store.journal(
        crate::daemon::ACTOR,
        action.as_str(),
        None,
        agent,
        result,
        "",
    ) {
        let _ = crate::orchlog::append(project, &[e]);
    }
}

#[cfg(test)]
mod tests {
    use super::command_with_hooks;
    use super::launch_line;

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
    fn simple_commands_are_execed() {
        assert_eq!(launch_line("claude --model x"), "exec claude --model x");
        assert_eq!(launch_line(" exec claude "), "exec claude");
        assert_eq!(launch_line("cd x && claude"), "cd x && claude");
        assert_eq!(launch_line("FOO=$BAR claude"), "FOO=$BAR claude");
    }
}
