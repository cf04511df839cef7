//! The CLI's one error type: a kind that maps to an exit code, a message, and hints.

use std::fmt;
use std::process::ExitCode;

/// What kind of failure, which decides the exit code.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ErrorKind {
    /// The user asked for something that cannot be done as asked (exit 1).
    User,
    /// The command line is wrong (exit 2).
    Usage,
    /// A prompt was not taken by the agent (exit 3).
    Delivery,
    /// A bug or an environment failure baton did not expect (exit 255).
    Internal,
}

/// The exit code of a `baton run` that finished with work not done: a task BLOCKED,
/// UNREPORTED or never started, or the last verify failed. (Not an error: the run did what it
/// could, and REPORT.md says why for each.)
pub const WORK_NOT_DONE: u8 = 4;

/// An error shown to the user.
#[derive(Debug)]
pub struct CliError {
    /// The kind.
    pub kind: ErrorKind,
    /// The message, one line when possible.
    pub message: String,
    /// Things the user can try.
    pub hints: Vec<String>,
}

impl CliError {
    /// Returns a user error.
    pub fn user(message: impl Into<String>) -> CliError {
        CliError {
            kind: ErrorKind::User,
            message: message.into(),
            hints: Vec::new(),
        }
    }

    /// Returns a usage error.
    pub fn usage(message: impl Into<String>) -> CliError {
        CliError {
            kind: ErrorKind::Usage,
            ..CliError::user(message)
        }
    }

    /// Returns an internal error.
    pub fn internal(message: impl Into<String>) -> CliError {
        CliError {
            kind: ErrorKind::Internal,
            ..CliError::user(message)
        }
    }

    /// Adds a hint.
    pub fn hint(mut self, hint: impl Into<String>) -> CliError {
        self.hints.push(hint.into());
        self
    }

    /// Returns the process exit code for this error.
    pub fn exit_code(&self) -> ExitCode {
        ExitCode::from(match self.kind {
            ErrorKind::User => 1,
            ErrorKind::Usage => 2,
            ErrorKind::Delivery => 3,
            ErrorKind::Internal => 255,
        })
    }
}

impl fmt::Display for CliError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "error: {}", self.message)?;
        for h in &self.hints {
            write!(f, "\nhint: {h}")?;
        }
        Ok(())
    }
}

impl From<baton_tmux::TmuxError> for CliError {
    fn from(e: baton_tmux::TmuxError) -> CliError {
        CliError::user(format!("tmux: {e}"))
    }
}

impl From<baton_tmux::SendError> for CliError {
    fn from(e: baton_tmux::SendError) -> CliError {
        match e {
            baton_tmux::SendError::Tmux(t) => t.into(),
            other => CliError::user(other.to_string()),
        }
    }
}

impl From<baton_core::config::ConfigError> for CliError {
    fn from(e: baton_core::config::ConfigError) -> CliError {
        CliError::user(e.to_string())
    }
}

impl From<crate::store::StoreError> for CliError {
    fn from(e: crate::store::StoreError) -> CliError {
        CliError::user(e.to_string())
    }
}

impl From<crate::git::GitError> for CliError {
    fn from(e: crate::git::GitError) -> CliError {
        CliError::user(e.to_string())
    }
}

/// Shorthand for command results.
pub type CliResult<T = ()> = Result<T, CliError>;

/// Wraps an I/O error with what was being done.
pub fn io_error(what: impl fmt::Display, e: std::io::Error) -> CliError {
    CliError::user(format!("{what}: {e}"))
}
