//! The project: its root (where `baton.toml` is), its configuration, its tmux server.

use std::path::Path;
use std::path::PathBuf;

use baton_core::Config;
use baton_core::config::FILE_NAME;
use baton_tmux::PaneInfo;
use baton_tmux::Socket;
use baton_tmux::Tmux;

use crate::error::CliError;
use crate::error::CliResult;
use crate::error::io_error;

/// The oldest tmux baton works with (control-mode subscriptions came in 3.2).
pub const MIN_TMUX: (u32, u32) = (3, 2);

/// Environment variable naming a tmux config file for baton's server (`-f`); tests use
/// `/dev/null`. Unset: tmux's usual config.
pub const TMUX_CONFIG_ENV: &str = "BATON_TMUX_CONFIG";

/// A loaded project.
pub struct Project {
    /// The directory holding `baton.toml`.
    pub root: PathBuf,
    /// The validated configuration.
    pub config: Config,
    /// The tmux session name.
    pub session: String,
    /// The project's private tmux server.
    pub tmux: Tmux,
}

/// Returns the nearest directory at or above `start` that holds `baton.toml`. Inside a
/// project's `.baton/` (an agent's worktree holds its own copy of a committed baton.toml),
/// that project.
pub fn find_root(start: &Path) -> Option<PathBuf> {
    let owner = start
        .ancestors()
        .filter(|d| d.file_name().is_some_and(|n| n == ".baton"))
        .filter_map(Path::parent)
        .find(|d| d.join(FILE_NAME).is_file());
    owner.map(Path::to_path_buf).or_else(|| {
        start
            .ancestors()
            .find(|d| d.join(FILE_NAME).is_file())
            .map(Path::to_path_buf)
    })
}

/// Environment variable naming the project root, set in every agent's pane by `baton up`.
pub const PROJECT_ENV: &str = "BATON_PROJECT";

/// Returns the directory commands work from: `-C DIR` or the current directory.
pub fn start_dir(dir: Option<&Path>) -> CliResult<PathBuf> {
    let cwd =
        std::env::current_dir().map_err(|e| io_error("cannot read the current directory", e))?;
    match dir {
        Some(d) => {
            let d = cwd.join(d);
            if d.is_dir() {
                Ok(d)
            } else {
                let what = if d.exists() {
                    "not a directory"
                } else {
                    "no such directory"
                };
                Err(CliError::usage(format!("-C {}: {what}", d.display())))
            }
        }
        None => Ok(cwd),
    }
}

/// Returns a tmux handle for a socket name, honouring [`TMUX_CONFIG_ENV`].
pub fn tmux_for(socket: &str) -> Tmux {
    let config = std::env::var_os(TMUX_CONFIG_ENV).map(PathBuf::from);
    Tmux::new(Socket::Name(socket.to_owned())).with_config_file(config)
}

impl Project {
    /// Loads the project that holds `start`.
    pub fn load(start: &Path) -> CliResult<Project> {
        // An agent whose shell wandered out of the project still reports to its project.
        let from_env = || {
            std::env::var_os(PROJECT_ENV)
                .map(PathBuf::from)
                .filter(|p| p.join(FILE_NAME).is_file())
        };
        let root = find_root(start).or_else(from_env).ok_or_else(|| {
            CliError::user(format!(
                "no {FILE_NAME} in {} or any parent directory",
                start.display()
            ))
            .hint("run `baton init` to write one")
        })?;
        let path = root.join(FILE_NAME);
        let text = std::fs::read_to_string(&path)
            .map_err(|e| io_error(format!("cannot read {}", path.display()), e))?;
        let config = Config::parse(&path, &text)?;
        let session = config.session_name(&root);
        let tmux = tmux_for(&config.socket_name(&root));
        Ok(Project {
            root,
            config,
            session,
            tmux,
        })
    }

    /// Returns the state directory `.baton/`, creating it.
    pub fn state_dir(&self) -> CliResult<PathBuf> {
        let dir = self.root.join(".baton");
        std::fs::create_dir_all(&dir)
            .map_err(|e| io_error(format!("cannot create {}", dir.display()), e))?;
        Ok(dir)
    }

    /// The directory ORCHESTRATION_LOG.md, REPORT.md and HANDOFF_TO_*.md are written to
    /// (`[session] reports_dir`; default: the root). Not created here.
    pub fn reports_dir(&self) -> PathBuf {
        let rel = self.config.reports_dir();
        if rel.as_os_str().is_empty() {
            self.root.clone()
        } else {
            self.root.join(rel)
        }
    }

    /// Returns the prompt template `[run] template` names: a built-in one, or the text of
    /// the file (relative to the root). A file that cannot be read, or is empty, is an error
    /// naming the line of `template` in baton.toml.
    pub fn template(&self) -> CliResult<String> {
        let name = &self.config.run.template;
        if let Some(t) = baton_core::engine::prompt::builtin(name) {
            return Ok(t.to_owned());
        }
        let path = self.root.join(name);
        let problem = match std::fs::read_to_string(&path) {
            Ok(t) if !t.trim().is_empty() => return Ok(t),
            Ok(_) => format!("`{name}` is empty ({})", path.display()),
            Err(e) => format!("cannot read `{name}` ({}): {e}", path.display()),
        };
        let file = self.root.join(FILE_NAME);
        let text = std::fs::read_to_string(&file).unwrap_or_default();
        let at = baton_core::config::key_span(&text, "run.template");
        let error = baton_core::config::ConfigError {
            position: baton_core::config::line_col(&text, at),
            file,
            key: "run.template".into(),
            message: problem,
        };
        Err(CliError::user(error.to_string())
            .hint("give \"en\", \"fr\", or a template file relative to the project root"))
    }

    /// Opens the store, `.baton/state.db` — the project's own: a deleted or replaced store is
    /// an error that says so (see `Store::open_project`).
    pub fn store(&self) -> CliResult<crate::store::Store> {
        Ok(crate::store::Store::open_project(&self.state_dir()?)?)
    }

    /// Checks that `name` is an agent of baton.toml.
    pub fn check_agent(&self, name: &str) -> CliResult<()> {
        if self.config.agent(name).is_some() {
            return Ok(());
        }
        let known: Vec<_> = self.config.agents.iter().map(|a| a.name.as_str()).collect();
        Err(
            CliError::user(format!("no agent named `{name}` in baton.toml")).hint(format!(
                "agents: {}",
                if known.is_empty() {
                    "none".to_owned()
                } else {
                    known.join(", ")
                }
            )),
        )
    }

    /// Returns the socket name, for messages.
    pub fn socket_name(&self) -> String {
        self.config.socket_name(&self.root)
    }

    /// Checks that tmux is installed and recent enough.
    pub fn check_tmux(&self) -> CliResult<()> {
        let v = self.tmux.version().map_err(|e| {
            CliError::user(format!("tmux is not usable: {e}"))
                .hint("install tmux 3.2 or newer (Debian/Ubuntu: apt-get install tmux)")
        })?;
        if !v.at_least(MIN_TMUX.0, MIN_TMUX.1) {
            return Err(CliError::user(format!(
                "tmux {} is too old: baton needs {}.{} or newer",
                v.raw, MIN_TMUX.0, MIN_TMUX.1
            )));
        }
        Ok(())
    }

    /// Returns the panes of the session, or none when it is not running.
    pub fn panes(&self) -> CliResult<Vec<PaneInfo>> {
        if !self.tmux.server_running() || !self.tmux.has_session(&self.session)? {
            return Ok(Vec::new());
        }
        Ok(self.tmux.list_panes(&self.session)?)
    }

    /// Returns the pane of a configured agent, with an error that says what to do when the
    /// agent is unknown or not running.
    pub fn agent_pane(&self, agent: &str) -> CliResult<PaneInfo> {
        self.check_agent(agent)?;
        self.panes()?
            .into_iter()
            .find(|p| p.window_name == agent)
            .ok_or_else(|| {
                CliError::user(format!("agent `{agent}` is not running"))
                    .hint("start the agents with `baton up`")
            })
    }

    /// When a task given to `agent` would wait because the agent is not running: what to
    /// say (a reassignment is still made: the agent may be started later).
    pub fn not_running(&self, agent: &str) -> Option<String> {
        self.agent_pane(agent).err().map(|_| {
            format!("agent `{agent}` is not running: the task waits until it runs (`baton up`)")
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_worktree_inside_baton_belongs_to_the_project_holding_it() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        let wt = root.join(".baton/worktrees/a/src");
        std::fs::create_dir_all(&wt).unwrap();
        std::fs::write(root.join(FILE_NAME), "").unwrap();
        // The worktree's own checkout of a committed baton.toml.
        std::fs::write(root.join(".baton/worktrees/a").join(FILE_NAME), "").unwrap();
        assert_eq!(find_root(&wt).as_deref(), Some(root));
        let other = root.join("sub");
        std::fs::create_dir_all(&other).unwrap();
        std::fs::write(other.join(FILE_NAME), "").unwrap();
        assert_eq!(find_root(&other).as_deref(), Some(other.as_path()));
    }
}
