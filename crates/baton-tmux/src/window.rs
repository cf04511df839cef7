//! [`WindowSpec`]: what to run in a new window, where, with which environment.

use std::ffi::OsString;
use std::path::PathBuf;

/// How to create a window: name, working directory, environment, command and size.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct WindowSpec {
    /// Window name (`-n`); renames are then disabled so it stays. Empty: tmux picks one.
    pub name: String,
    /// Working directory (`-c`); `None`: tmux's default.
    pub cwd: Option<PathBuf>,
    /// Extra environment for the process (`-e K=V`, tmux 3.0+).
    pub env: Vec<(String, String)>,
    /// Command line, run by tmux through the shell; `None`: the default shell.
    pub command: Option<String>,
    /// Width in cells (used when creating a session).
    pub width: u16,
    /// Height in cells (used when creating a session).
    pub height: u16,
}

impl Default for WindowSpec {
    fn default() -> Self {
        WindowSpec {
            name: String::new(),
            cwd: None,
            env: Vec::new(),
            command: None,
            width: 200,
            height: 50,
        }
    }
}

impl WindowSpec {
    /// A 200x50 spec with this name and nothing else set.
    pub fn new(name: impl Into<String>) -> WindowSpec {
        WindowSpec {
            name: name.into(),
            ..WindowSpec::default()
        }
    }

    /// Set the working directory.
    pub fn cwd(mut self, cwd: impl Into<PathBuf>) -> WindowSpec {
        self.cwd = Some(cwd.into());
        self
    }

    /// Add one environment variable.
    pub fn env(mut self, key: impl Into<String>, value: impl Into<String>) -> WindowSpec {
        self.env.push((key.into(), value.into()));
        self
    }

    /// Set the command line (run through the shell).
    pub fn command(mut self, command: impl Into<String>) -> WindowSpec {
        self.command = Some(command.into());
        self
    }

    /// Set the size in cells.
    pub fn size(mut self, width: u16, height: u16) -> WindowSpec {
        self.width = width;
        self.height = height;
        self
    }

    /// `-n name -c cwd -e K=V... [command]` for new-session / new-window.
    pub(crate) fn push_args(&self, args: &mut Vec<OsString>) {
        if !self.name.is_empty() {
            args.push("-n".into());
            args.push(self.name.clone().into());
        }
        self.push_process_args(args);
    }

    /// `-c cwd -e K=V... [command]`, shared with respawn-pane.
    pub(crate) fn push_process_args(&self, args: &mut Vec<OsString>) {
        if let Some(cwd) = &self.cwd {
            args.push("-c".into());
            args.push(cwd.clone().into_os_string());
        }
        for (key, value) in &self.env {
            args.push("-e".into());
            args.push(format!("{key}={value}").into());
        }
        if let Some(command) = &self.command {
            args.push(command.clone().into());
        }
    }
}
