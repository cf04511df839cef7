//! `baton attach`: attach the terminal to the project's tmux session.

use std::io::IsTerminal;
use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::ExitCode;

use clap::Args;

use crate::context::Context;
use crate::error::CliError;
use crate::error::CliResult;

/// Arguments of `baton attach`.
#[derive(Args, Debug)]
pub struct AttachArgs {
    /// Open this agent's window (default: the window shown last)
    pub agent: Option<String>,
}

/// Replaces this process with `tmux attach` on the project's server.
pub fn cmd_attach(dir: Option<&Path>, args: &AttachArgs) -> CliResult<ExitCode> {
    let ctx = Context::load(dir)?;
    let project = &ctx.project;
    if !project.tmux.server_running() || !project.tmux.has_session(&project.session)? {
        return Err(
            CliError::user(format!("session `{}` is not running", project.session))
                .hint("start it with `baton up`"),
        );
    }
    if let Some(agent) = &args.agent {
        if let Some(host) = project.config.agent(agent).and_then(|a| a.host.as_ref()) {
            return Err(CliError::user(format!(
                "agent `{agent}` runs on host `{host}`: `baton attach` reaches this machine's agents"
            ))
            .hint(format!(
                "look with `baton peek {agent}`, or on {host}: tmux -L {} attach -t {}",
                baton_core::ssh::remote_socket(&project.socket_name(), host),
                project.session
            )));
        }
        let pane = project.agent_pane(agent)?;
        project
            .tmux
            .run(&["select-window", "-t", &pane.window_id])?;
    }
    if !std::io::stdin().is_terminal() {
        return Err(
            CliError::user("attach needs a terminal on stdin").hint(format!(
                "from a script, read screens with `baton peek`; by hand: tmux -L {} attach -t {}",
                project.socket_name(),
                project.session
            )),
        );
    }
    let mut cmd = project.tmux.command();
    cmd.args(["attach-session", "-t", &project.session]);
    // Inside tmux, $TMUX points at the user's own server; attaching to ours nests a client,
    // which tmux refuses unless TMUX is unset.
    cmd.env_remove("TMUX");
    let err = cmd.exec();
    Err(CliError::user(format!("cannot run tmux: {err}")))
}
