//! `baton down`: stop the daemon, the agents and the session.

use std::path::Path;
use std::process::ExitCode;

use clap::Args;

use crate::commands::ok;
use crate::error::CliResult;
use crate::project::Project;
use crate::project::start_dir;

/// Arguments of `baton down`.
#[derive(Args, Debug)]
pub struct DownArgs {}

/// Kills the session, and the private server when no other session is left on it.
pub fn cmd_down(dir: Option<&Path>, _args: &DownArgs) -> CliResult<ExitCode> {
    let project = Project::load(&start_dir(dir)?)?;
    if let Some(pid) = crate::daemon::stop(&project)? {
        println!("stopped the daemon (pid {pid})");
    }
    if !project.tmux.server_running() || !project.tmux.has_session(&project.session)? {
        println!("session `{}` is not running", project.session);
        return ok();
    }
    let agents = project.panes()?.len().saturating_sub(1);
    project.tmux.kill_session(&project.session)?;
    let others = project
        .tmux
        .run(&["list-sessions", "-F", "#{session_name}"])
        .map(|s| s.lines().count())
        .unwrap_or(0);
    if others == 0 {
        project.tmux.kill_server()?;
    }
    println!(
        "stopped session `{}` ({agents} agent window{})",
        project.session,
        if agents == 1 { "" } else { "s" }
    );
    ok()
}
