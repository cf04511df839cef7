//! Error types: every failure names the tmux command involved and what tmux said.

use std::time::Duration;

/// A tmux command failed, could not be run, or answered something unexpected.
#[derive(Debug, thiserror::Error)]
pub enum TmuxError {
    /// The tmux binary could not be started.
    #[error("could not run `{command}`: {source}")]
    Spawn {
        /// The command line that could not be started.
        command: String,
        /// The operating-system error.
        #[source]
        source: std::io::Error,
    },
    /// Reading from or writing to a tmux process failed.
    #[error("i/o error talking to `{command}`: {source}")]
    Io {
        /// The command line involved.
        command: String,
        /// The operating-system error.
        #[source]
        source: std::io::Error,
    },
    /// tmux exited with a non-zero status.
    #[error("`tmux {}` failed ({}): {}", args.join(" "), status_text(*status), stderr_text(stderr))]
    Command {
        /// The tmux arguments (without the socket options).
        args: Vec<String>,
        /// The exit code, `None` if tmux was killed by a signal.
        status: Option<i32>,
        /// What tmux wrote on stderr, trimmed.
        stderr: String,
    },
    /// tmux answered something this crate cannot interpret.
    #[error("unexpected output from `{command}`: {output:?}")]
    Parse {
        /// The command whose output was not understood.
        command: String,
        /// The output, verbatim.
        output: String,
    },
    /// The session does not exist on this server (or the server is not running).
    #[error("tmux session `{session}` does not exist")]
    NoSession {
        /// The session name.
        session: String,
    },
    /// A control-mode command was answered with `%error`.
    #[error("control-mode command `{command}` failed: {}", lines.join(" / "))]
    Control {
        /// The command line sent.
        command: String,
        /// The lines of the `%error` block.
        lines: Vec<String>,
    },
    /// A command got no reply in time (a hung tmux server?); a tmux process is killed.
    #[error("`{command}` got no reply from tmux within {timeout:?}")]
    Timeout {
        /// The command line sent.
        command: String,
        /// How long we waited.
        timeout: Duration,
    },
    /// The control-mode client is gone (tmux exited, was killed or detached).
    #[error("control-mode client is disconnected (command `{command}`)")]
    Disconnected {
        /// The command line that could not be sent or answered.
        command: String,
    },
    /// A control-mode command line was rejected before being sent.
    #[error("invalid control-mode command {command:?}: {reason}")]
    InvalidCommand {
        /// The rejected command line.
        command: String,
        /// Why it was rejected.
        reason: &'static str,
    },
}

fn status_text(status: Option<i32>) -> String {
    match status {
        Some(code) => format!("exit status {code}"),
        None => "killed by a signal".to_owned(),
    }
}

fn stderr_text(stderr: &str) -> &str {
    if stderr.is_empty() {
        "(no message)"
    } else {
        stderr
    }
}

/// Why [`crate::Tmux::paste`] did not send a text.
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    /// The pane's foreground process is a shell: typing would run the text as commands.
    #[error(
        "refusing to type into pane {target}: its foreground process is `{command}`, not an agent (the text would run as shell commands)"
    )]
    ShellInForeground {
        /// The pane targeted.
        target: String,
        /// Its foreground command (`#{pane_current_command}`).
        command: String,
    },
    /// The pane's process has exited.
    #[error("refusing to type into pane {target}: its process has exited")]
    PaneDead {
        /// The pane targeted.
        target: String,
    },
    /// Nothing is left to send once control characters are removed.
    #[error("nothing to send: the text is empty once control characters are removed")]
    Empty,
    /// A tmux command failed.
    #[error(transparent)]
    Tmux(#[from] TmuxError),
}
