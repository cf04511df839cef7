//! `baton up`: start the session, one window per agent, and wait for the agents to be ready.

use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;
use std::time::Instant;

use baton_core::AgentState;
use baton_core::config::AgentConfig;
use baton_core::config::CONSOLE_WINDOW;
use baton_tmux::WindowSpec;
use clap::Args;

use crate::commands::ok;
use crate::delivery::look;
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

/// Returns the window spec of an agent.
fn agent_window(project: &Project, agent: &AgentConfig) -> WindowSpec {
    let s = &project.config.session;
    let mut spec = WindowSpec::new(agent.name.clone())
        .cwd(project.root.join(&agent.workdir))
        .command(launch_line(&agent.command))
        .size(s.width, s.height)
        .env("BATON_AGENT", agent.name.clone())
        .env("BATON_PROJECT", project.root.display().to_string())
        .env("BATON_SESSION", project.session.clone())
        .env("BATON_SOCKET", project.socket_name());
    // Agents report with `baton task done …` from their panes: make sure this very baton is
    // the one they find, installed or not.
    if let Some(path) = path_with_own_dir() {
        spec = spec.env("PATH", path);
    }
    for (k, v) in &agent.env {
        spec = spec.env(k.clone(), v.clone());
    }
    spec
}

/// Returns PATH with the directory of the running `baton` binary first.
fn path_with_own_dir() -> Option<String> {
    let exe = std::env::current_exe().ok()?;
    let dir = exe.parent()?.to_path_buf();
    let old = std::env::var_os("PATH").unwrap_or_default();
    let dirs = std::iter::once(dir).chain(std::env::split_paths(&old).collect::<Vec<_>>());
    std::env::join_paths(dirs).ok()?.into_string().ok()
}

/// Starts what is not running and reports each agent's state.
pub fn cmd_up(dir: Option<&Path>, args: &UpArgs) -> CliResult<ExitCode> {
    let project = Project::load(&start_dir(dir)?)?;
    project.check_tmux()?;
    project.state_dir()?;
    if project.config.agents.is_empty() {
        return Err(
            CliError::user("no [[agent]] in baton.toml: nothing to start")
                .hint("add agents, or run `baton init` in a new directory"),
        );
    }
    for agent in &project.config.agents {
        let dir = project.root.join(&agent.workdir);
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
        println!(
            "started session `{}` on tmux socket `{}`",
            project.session,
            project.socket_name()
        );
    }
    let panes = project.panes()?;
    let mut started = Vec::new();
    for agent in &project.config.agents {
        match panes.iter().find(|p| p.window_name == agent.name) {
            Some(p) if !p.dead => println!("{:<12} already running in {}", agent.name, p.pane_id),
            Some(p) => {
                tmux.respawn_pane(&p.pane_id, &agent_window(&project, agent))?;
                println!("{:<12} restarted in {}", agent.name, p.pane_id);
                started.push(agent);
            }
            None => {
                let p = tmux.new_window(&project.session, &agent_window(&project, agent))?;
                println!(
                    "{:<12} started in {} ({})",
                    agent.name, p.pane_id, agent.command
                );
                started.push(agent);
            }
        }
    }
    if args.no_wait {
        return ok();
    }
    let problems = wait_for_agents(&project, &started)?;
    println!(
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
/// returns one line per agent that is not ready.
fn wait_for_agents(project: &Project, agents: &[&AgentConfig]) -> CliResult<Vec<String>> {
    let start = Instant::now();
    let mut pending: Vec<&AgentConfig> = agents.to_vec();
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
            let (d, _) = look(&project.tmux, &pane.pane_id, &agent.profile)?;
            let secs = start.elapsed().as_secs_f64();
            if d.state.is_ready() {
                println!("{:<12} ready ({}) after {secs:.1}s", agent.name, d.state);
            } else if d.state == AgentState::NeedsInput {
                problems.push(format!(
                    "{}: waits for a person (a dialog is open): answer it with `baton attach {}`",
                    agent.name, agent.name
                ));
            } else if start.elapsed() >= limit {
                problems.push(format!(
                    "{}: not ready after {:.0}s (detected: {})",
                    agent.name,
                    limit.as_secs_f64(),
                    d.state
                ));
            } else {
                still.push(agent);
            }
        }
        pending = still;
        if !pending.is_empty() {
            std::thread::sleep(Duration::from_millis(50));
        }
    }
    Ok(problems)
}

#[cfg(test)]
mod tests {
    use super::launch_line;

    #[test]
    fn simple_commands_are_execed() {
        assert_eq!(launch_line("claude --model x"), "exec claude --model x");
        assert_eq!(launch_line(" exec claude "), "exec claude");
        assert_eq!(launch_line("cd x && claude"), "cd x && claude");
        assert_eq!(launch_line("FOO=$BAR claude"), "FOO=$BAR claude");
    }
}
