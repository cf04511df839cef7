//! `baton send`: type a prompt into an agent and verify that it was submitted.

use std::io::Read;
use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;
use std::time::Instant;

use baton_core::AgentState;
use baton_tmux::SendError;
use baton_tmux::Tmux;
use clap::Args;

use crate::commands::ok;
use crate::commands::print_json;
use crate::context::Context;
use crate::delivery::send_verified;
use crate::delivery::stripped_warning;
use crate::delivery::wait_ready;
use crate::error::CliError;
use crate::error::CliResult;
use crate::error::io_error;

/// Arguments of `baton send`.
#[derive(Args, Debug)]
pub struct SendArgs {
    /// The agent
    pub agent: String,
    /// The prompt; `-` reads it from stdin
    pub text: String,
    /// Type it even when the agent is busy or shows a dialog (never into a shell: a pane
    /// running a shell is refused at once)
    #[arg(long)]
    pub force: bool,
    /// Press Enter once and do not check that the agent started
    #[arg(long)]
    pub no_verify: bool,
    /// Print the outcome as JSON
    #[arg(long)]
    pub json: bool,
}

/// Reads the prompt from the argument or stdin; it must be UTF-8 text.
fn read_text(arg: &str) -> CliResult<String> {
    if arg != "-" {
        return Ok(arg.to_owned());
    }
    let mut bytes = Vec::new();
    std::io::stdin()
        .read_to_end(&mut bytes)
        .map_err(|e| io_error("cannot read stdin", e))?;
    String::from_utf8(bytes).map_err(|e| {
        CliError::user(format!(
            "stdin is not UTF-8 text (invalid byte at offset {})",
            e.utf8_error().valid_up_to()
        ))
    })
}

/// How long a pane may show a shell in the foreground before `baton send` refuses it: an
/// agent just started runs `sh -c 'exec <command>'` for a moment.
const SHELL_GRACE: Duration = Duration::from_secs(1);

/// Refuses at once, before any wait for the agent, a pane whose foreground process is a shell
/// (or that is dead): --force cannot help, a prompt typed there would run as commands.
fn refuse_shell(tmux: &Tmux, agent: &str, pane: &str) -> CliResult<()> {
    let start = Instant::now();
    loop {
        match tmux.check_pane_accepts_text(pane) {
            Ok(_) => return Ok(()),
            Err(SendError::ShellInForeground { command, .. }) => {
                if start.elapsed() >= SHELL_GRACE {
                    return Err(CliError::user(format!(
                        "the pane of agent `{agent}` runs `{command}`, a shell: a prompt would run as shell commands"
                    ))
                    .hint("baton never types into a shell, even with --force")
                    .hint(format!(
                        "check the `command` of agent `{agent}` in baton.toml, then restart it with `baton down` and `baton up`"
                    )));
                }
            }
            Err(other) => return Err(other.into()),
        }
        std::thread::sleep(Duration::from_millis(30));
    }
}

/// Sends the prompt.
pub fn cmd_send(dir: Option<&Path>, args: &SendArgs) -> CliResult<ExitCode> {
    let ctx = Context::load(dir)?;
    let project = &ctx.project;
    let text = read_text(&args.text)?;
    let (tmux, pane) = crate::hosts::agent_pane(project, &args.agent)?;
    refuse_shell(&tmux, &args.agent, &pane.pane_id)?;
    // From here to the check, no other message to this agent is typed.
    let _lock = crate::delivery::send_lock(project, &args.agent)?;
    let profile = &project.config.agent(&args.agent).expect("checked").profile;
    // Forced into a working agent, the check after the Enter proves nothing: it is not made.
    let busy = if args.force {
        let now = wait_ready(&tmux, &pane.pane_id, profile, Duration::ZERO)?;
        crate::delivery::unverifiable(now.state)
    } else {
        None
    };
    if !args.force {
        let limit = Duration::from_millis(profile.submit.startup_timeout_ms);
        let seen = wait_ready(&tmux, &pane.pane_id, profile, limit)?;
        match seen.state {
            s if s.is_ready() => {
                if let Some(held) = crate::delivery::held_text(&seen) {
                    return Err(CliError::user(format!(
                        "the input box of agent `{}` already holds `{held}`: your message would be joined to it and sent as one",
                        args.agent
                    ))
                    .hint(format!(
                        "clear it in the agent (`baton attach {}`), or pass --force to type anyway",
                        args.agent
                    )));
                }
            }
            AgentState::NeedsInput => {
                return Err(CliError::user(format!(
                    "agent `{}` shows a dialog that waits for a person; the prompt would answer it",
                    args.agent
                ))
                .hint(format!(
                    "answer it with `baton attach {}`, or pass --force",
                    args.agent
                )));
            }
            other => {
                return Err(CliError::user(format!(
                    "agent `{}` is not ready for a prompt (detected: {other})",
                    args.agent
                ))
                .hint("wait for it, look with `baton peek`, or pass --force to type anyway"));
            }
        }
    }
    let sent = send_verified(
        &tmux,
        &pane.pane_id,
        profile,
        &text,
        !args.no_verify && busy.is_none(),
    )?;
    crate::delivery::journal_sent(&ctx, &args.agent, &sent, args.force, busy);
    if let Some(warning) = stripped_warning(&sent.stripped) {
        eprintln!("warning: {warning}");
    }
    if args.json {
        return print_json(&sent);
    }
    if let Some(state) = busy {
        println!(
            "{} bytes {}",
            sent.bytes,
            crate::delivery::unverified(&args.agent, state)
        );
        return ok();
    }
    match sent.state {
        Some(state) => println!(
            "sent {} bytes to {} (Enter ×{}, {} after {:.2}s)",
            sent.bytes,
            args.agent,
            sent.enters,
            state,
            sent.elapsed_ms as f64 / 1000.0
        ),
        None => println!("sent {} bytes to {} (not verified)", sent.bytes, args.agent),
    }
    ok()
}
