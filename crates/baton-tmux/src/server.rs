//! The [`Tmux`] handle: which binary, which socket, which config, reached how; running
//! commands; sessions.

use std::ffi::{OsStr, OsString};
use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crate::control::ControlConnection;
use crate::error::TmuxError;
use crate::launcher::Launcher;
use crate::pane::{PANE_FORMAT, PaneInfo};
use crate::version::TmuxVersion;
use crate::window::WindowSpec;

/// Which tmux server to talk to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Socket {
    /// A named socket in tmux's socket directory (`tmux -L name`).
    Name(String),
    /// A socket at an explicit path (`tmux -S path`).
    Path(PathBuf),
}

/// A handle on one tmux server: binary, socket and config file, on this machine or reached
/// through a [`Launcher`] (ssh). Cheap to clone.
///
/// Each command runs as a tmux process (through the launcher: one ssh process each), unless
/// the handle was given a control connection ([`Tmux::with_control`]): then, while it is
/// attached, commands travel over it as control-mode lines and no process is started.
#[derive(Clone, Debug)]
pub struct Tmux {
    binary: PathBuf,
    socket: Socket,
    config_file: Option<PathBuf>,
    timeout: Duration,
    launcher: Option<Launcher>,
    control: Option<Arc<ControlConnection>>,
}

/// How long one tmux command may take before it is killed and reported.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(10);

impl Tmux {
    /// A handle on the server at `socket`, using the `tmux` binary found on `PATH`.
    pub fn new(socket: Socket) -> Tmux {
        Tmux {
            binary: PathBuf::from("tmux"),
            socket,
            config_file: None,
            timeout: DEFAULT_TIMEOUT,
            launcher: None,
            control: None,
        }
    }

    /// Reach the server through `launcher` (e.g. ssh to another host): every tmux process
    /// becomes `<launcher> '<binary> … -L socket …'`, the binary, socket and config file being
    /// the other host's.
    pub fn with_launcher(self, launcher: Launcher) -> Tmux {
        Tmux {
            launcher: Some(launcher),
            ..self
        }
    }

    /// The launcher, when the server is reached through one.
    pub fn launcher(&self) -> Option<&Launcher> {
        self.launcher.as_ref()
    }

    /// Send commands through `connection` while it is attached: one control client (over one
    /// ssh connection for a remote server) carries them instead of a process each.
    /// `connection` must be attached to this same server (started with this handle).
    ///
    /// Still run as processes: commands with input on stdin (`load-buffer`; [`Tmux::paste`]
    /// uses `set-buffer` over the connection instead), `kill-server` and `kill-session`
    /// (they may end the control client before it answers), [`Tmux::version`], and every
    /// command while the connection is down (before a session exists to attach to, or while
    /// it reconnects). A command sent over the connection is never sent again as a process:
    /// when the connection drops before the reply, the error says so
    /// ([`TmuxError::Disconnected`]) and the command may or may not have run.
    pub fn with_control(self, connection: Arc<ControlConnection>) -> Tmux {
        Tmux {
            control: Some(connection),
            ..self
        }
    }

    /// The same handle without its control connection: every command a process.
    pub fn without_control(&self) -> Tmux {
        Tmux {
            control: None,
            ..self.clone()
        }
    }

    /// The control connection commands go through, when it is attached right now.
    pub(crate) fn connected_control(&self) -> Option<&ControlConnection> {
        self.control.as_deref().filter(|c| c.is_connected())
    }

    /// How long one command may take.
    pub fn timeout(&self) -> Duration {
        self.timeout
    }

    /// Kill a tmux command that takes longer than this, and report it
    /// ([`TmuxError::Timeout`]): a hung server must not hang its caller.
    pub fn with_timeout(self, timeout: Duration) -> Tmux {
        Tmux { timeout, ..self }
    }

    /// Use another tmux binary.
    pub fn with_binary(self, bin: impl Into<PathBuf>) -> Tmux {
        Tmux {
            binary: bin.into(),
            ..self
        }
    }

    /// Start the server with `-f path` (e.g. `/dev/null`), or with tmux's default config if `None`.
    pub fn with_config_file(self, path: Option<PathBuf>) -> Tmux {
        Tmux {
            config_file: path,
            ..self
        }
    }

    /// The socket this handle talks to.
    pub fn socket(&self) -> &Socket {
        &self.socket
    }

    /// Where the socket file lives: the path itself for [`Socket::Path`]; for [`Socket::Name`],
    /// `$TMUX_TMPDIR` (or `/tmp`) `/tmux-<uid>/<name>` (`None` if the uid cannot be read from
    /// `/proc/self/status`). tmux leaves the file behind after `kill-server`. `None` for a
    /// server reached through a launcher: its socket is on the other host.
    pub fn socket_path(&self) -> Option<PathBuf> {
        if self.launcher.is_some() {
            return None;
        }
        match &self.socket {
            Socket::Path(path) => Some(path.clone()),
            Socket::Name(name) => {
                let status = std::fs::read_to_string("/proc/self/status").ok()?;
                let uid = status
                    .lines()
                    .find_map(|l| l.strip_prefix("Uid:"))?
                    .split_whitespace()
                    .next()?;
                let base = std::env::var_os("TMUX_TMPDIR")
                    .filter(|d| !d.is_empty())
                    .map_or_else(|| PathBuf::from("/tmp"), PathBuf::from);
                Some(base.join(format!("tmux-{uid}")).join(name))
            }
        }
    }

    /// The tmux binary this handle runs.
    pub fn binary(&self) -> &std::path::Path {
        &self.binary
    }

    /// A `tmux [-f config] -u -L name|-S path` command, ready for more arguments.
    ///
    /// `TMUX` and `TMUX_PANE` are removed from its environment so that running inside tmux
    /// changes nothing; `-u` makes tmux assume UTF-8 whatever the locale.
    ///
    /// Through a launcher, this is the launcher's command with that prefix as its command
    /// line, and arguments added to it reach the remote shell unquoted: use
    /// [`Tmux::command_with`] there.
    pub fn command(&self) -> Command {
        self.command_with::<&OsStr>(&[])
    }

    /// A `tmux [-f config] -u -L name|-S path <args>` command (see [`Tmux::command`]); through
    /// a launcher, the whole tmux command line is quoted for the remote shell.
    pub fn command_with<S: AsRef<OsStr>>(&self, args: &[S]) -> Command {
        let mut words: Vec<OsString> = Vec::new();
        if let Some(config) = &self.config_file {
            words.push("-f".into());
            words.push(config.clone().into_os_string());
        }
        words.push("-u".into());
        match &self.socket {
            Socket::Name(name) => words.extend(["-L".into(), name.into()]),
            Socket::Path(path) => words.extend(["-S".into(), path.clone().into_os_string()]),
        }
        words.extend(args.iter().map(|a| a.as_ref().to_owned()));
        let mut cmd = match &self.launcher {
            Some(launcher) => {
                words.insert(0, self.binary.clone().into_os_string());
                launcher.command(&words)
            }
            None => {
                let mut cmd = Command::new(&self.binary);
                cmd.args(words);
                cmd
            }
        };
        cmd.env_remove("TMUX").env_remove("TMUX_PANE");
        cmd
    }

    /// Run `tmux <args>` and return its stdout; a non-zero exit is [`TmuxError::Command`].
    pub fn run(&self, args: &[&str]) -> Result<String, TmuxError> {
        let args: Vec<&OsStr> = args.iter().map(OsStr::new).collect();
        self.exec(&args, None)
    }

    /// Run `tmux <args>` with `input` on its stdin and return its stdout.
    pub fn run_with_stdin(&self, args: &[&str], input: &[u8]) -> Result<String, TmuxError> {
        let args: Vec<&OsStr> = args.iter().map(OsStr::new).collect();
        self.exec(&args, Some(input))
    }

    /// Run tmux with OS-string arguments and optional stdin; the common path for every
    /// command: over the control connection when it is attached and can carry the command,
    /// else as a process.
    pub(crate) fn exec(&self, args: &[&OsStr], input: Option<&[u8]>) -> Result<String, TmuxError> {
        if input.is_none()
            && let Some(connection) = self.connected_control()
            && !ends_a_client(args)
        {
            return self.exec_control(connection, args);
        }
        self.exec_process(args, input)
    }

    /// Run the command as one control-mode line; `%error` becomes [`TmuxError::Command`]
    /// (status 1, tmux's message as stderr), as a failed tmux process would.
    fn exec_control(
        &self,
        connection: &ControlConnection,
        args: &[&OsStr],
    ) -> Result<String, TmuxError> {
        let line = crate::control::command_line(args);
        match connection.command_with_timeout(&line, self.timeout) {
            Ok(lines) => Ok(lines.iter().map(|l| format!("{l}\n")).collect()),
            Err(TmuxError::Control { lines, .. }) => Err(TmuxError::Command {
                args: args
                    .iter()
                    .map(|a| a.to_string_lossy().into_owned())
                    .collect(),
                status: Some(1),
                stderr: lines.join("\n"),
            }),
            Err(other) => Err(other),
        }
    }

    /// Run `tmux <args>` as a process, whatever the control connection.
    pub(crate) fn run_process(&self, args: &[&str]) -> Result<String, TmuxError> {
        let args: Vec<&OsStr> = args.iter().map(OsStr::new).collect();
        self.exec_process(&args, None)
    }

    /// Run one tmux process (through the launcher, if any) with optional stdin.
    fn exec_process(&self, args: &[&OsStr], input: Option<&[u8]>) -> Result<String, TmuxError> {
        let mut cmd = self.command_with(args);
        cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
        cmd.stdin(if input.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        });
        let mut child = cmd.spawn().map_err(|source| TmuxError::Spawn {
            command: self.describe(args),
            source,
        })?;
        if let Some(input) = input
            && let Some(mut stdin) = child.stdin.take()
        {
            // tmux may exit early (no server...); its stderr then says why, so a broken pipe
            // here is not the error to report.
            if let Err(source) = stdin.write_all(input)
                && source.kind() != std::io::ErrorKind::BrokenPipe
            {
                let _ = child.kill();
                let _ = child.wait();
                return Err(TmuxError::Io {
                    command: self.describe(args),
                    source,
                });
            }
        }
        let output = self.wait(child).map_err(|e| match e {
            Waited::Io(source) => TmuxError::Io {
                command: self.describe(args),
                source,
            },
            Waited::TimedOut => TmuxError::Timeout {
                command: self.describe(args),
                timeout: self.timeout,
            },
        })?;
        if output.status.success() {
            Ok(String::from_utf8_lossy(&output.stdout).into_owned())
        } else {
            Err(TmuxError::Command {
                args: args
                    .iter()
                    .map(|a| a.to_string_lossy().into_owned())
                    .collect(),
                status: output.status.code(),
                stderr: String::from_utf8_lossy(&output.stderr).trim().to_owned(),
            })
        }
    }

    /// Waits for a tmux process, reading its output, for at most `self.timeout`. The wait
    /// runs on a thread of its own and this one blocks on its answer, so a command costs no
    /// polling delay; a process past the deadline is killed (it is not reaped before, so its
    /// pid cannot have been reused).
    fn wait(&self, child: std::process::Child) -> Result<std::process::Output, Waited> {
        let pid = child.id();
        let (tx, rx) = std::sync::mpsc::channel();
        std::thread::spawn(move || {
            let _ = tx.send(child.wait_with_output());
        });
        match rx.recv_timeout(self.timeout) {
            Ok(output) => output.map_err(Waited::Io),
            Err(_) => {
                let _ = Command::new("kill")
                    .args(["-KILL", &pid.to_string()])
                    .stderr(Stdio::null())
                    .status();
                Err(Waited::TimedOut)
            }
        }
    }

    fn describe(&self, args: &[&OsStr]) -> String {
        let mut text = match &self.launcher {
            Some(launcher) => format!(
                "{} … {}",
                launcher.program().display(),
                self.binary.display()
            ),
            None => self.binary.to_string_lossy().into_owned(),
        };
        for arg in args {
            text.push(' ');
            text.push_str(&arg.to_string_lossy());
        }
        text
    }

    /// Whether a server is listening on this socket (never starts one).
    pub fn server_running(&self) -> bool {
        self.run(&["list-sessions", "-F", "#{session_id}"]).is_ok()
    }

    /// Whether a session with exactly this name exists (false if no server is running).
    pub fn has_session(&self, session: &str) -> Result<bool, TmuxError> {
        match self.run(&["has-session", "-t", &exact(session)]) {
            Ok(_) => Ok(true),
            Err(TmuxError::Command { .. }) => Ok(false),
            Err(other) => Err(other),
        }
    }

    /// Create a detached session (starting the server if needed) whose first window follows `window`.
    pub fn new_session(&self, session: &str, window: &WindowSpec) -> Result<PaneInfo, TmuxError> {
        let mut args: Vec<OsString> = ["new-session", "-d", "-P", "-F", PANE_FORMAT, "-s", session]
            .iter()
            .map(OsString::from)
            .collect();
        args.push("-x".into());
        args.push(window.width.to_string().into());
        args.push("-y".into());
        args.push(window.height.to_string().into());
        window.push_args(&mut args);
        self.create(args)
    }

    /// Add a detached window at the end of `session`; focus stays where it was.
    pub fn new_window(&self, session: &str, window: &WindowSpec) -> Result<PaneInfo, TmuxError> {
        let target = format!("{}:", exact(session));
        let mut args: Vec<OsString> = ["new-window", "-d", "-P", "-F", PANE_FORMAT, "-t", &target]
            .iter()
            .map(OsString::from)
            .collect();
        window.push_args(&mut args);
        self.create(args)
    }

    fn create(&self, args: Vec<OsString>) -> Result<PaneInfo, TmuxError> {
        let refs: Vec<&OsStr> = args.iter().map(OsString::as_os_str).collect();
        let out = self.exec(&refs, None)?;
        let info = PaneInfo::parse_one(&out, "new-session/new-window")?;
        let window = info.window_id.as_str();
        // Pin the name, and keep tmux's default remain-on-exit (off) whatever a user config
        // says: a pane whose process exits then closes its window (`%window-close` at once).
        let mut args = Vec::new();
        for (option, value) in [
            ("automatic-rename", "off"),
            ("allow-rename", "off"),
            ("remain-on-exit", "off"),
        ] {
            if !args.is_empty() {
                args.push(";");
            }
            args.extend(["set-option", "-w", "-t", window, option, value]);
        }
        let pinned = self.run(&args);
        match pinned {
            Ok(_) => Ok(info),
            // The command may already have exited and taken its window with it.
            Err(_) if !self.window_exists(window) => Ok(info),
            Err(err) => Err(err),
        }
    }

    fn window_exists(&self, window: &str) -> bool {
        // list-panes resolves its target strictly (display-message does not).
        self.run(&["list-panes", "-t", window, "-F", "#{pane_id}"])
            .is_ok()
    }

    /// Restart the pane's process (`respawn-pane -k`) with the spec's cwd, env and command.
    ///
    /// The window keeps its name and size.
    pub fn respawn_pane(&self, target: &str, window: &WindowSpec) -> Result<(), TmuxError> {
        let mut args: Vec<OsString> = ["respawn-pane", "-k", "-t", target]
            .iter()
            .map(OsString::from)
            .collect();
        window.push_process_args(&mut args);
        let refs: Vec<&OsStr> = args.iter().map(OsString::as_os_str).collect();
        self.exec(&refs, None).map(drop)
    }

    /// Kill a window (`kill-window -t target`).
    pub fn kill_window(&self, target: &str) -> Result<(), TmuxError> {
        self.run(&["kill-window", "-t", target]).map(drop)
    }

    /// Kill the session with exactly this name.
    pub fn kill_session(&self, session: &str) -> Result<(), TmuxError> {
        self.run_process(&["kill-session", "-t", &exact(session)])
            .map(drop)
    }

    /// Kill the server and wait (up to 2 s) until it is gone; fine if none was running.
    ///
    /// tmux answers `kill-server` before the server has exited; a client connecting in
    /// between (e.g. a `new-session` starting it again) fails with "server exited
    /// unexpectedly", hence the wait.
    pub fn kill_server(&self) -> Result<(), TmuxError> {
        match self.run_process(&["kill-server"]) {
            Ok(_) => {
                self.wait_server_gone(Duration::from_secs(2));
                Ok(())
            }
            Err(TmuxError::Command { .. }) if self.wait_server_gone(Duration::from_secs(2)) => {
                Ok(())
            }
            Err(err) => Err(err),
        }
    }

    /// Poll until no server accepts connections on the socket; false if one still does.
    fn wait_server_gone(&self, timeout: Duration) -> bool {
        let deadline = Instant::now() + timeout;
        loop {
            match self.run_process(&["list-sessions", "-F", "#{session_id}"]) {
                // A dying server still accepts connections, then drops them.
                Err(TmuxError::Command { stderr, .. })
                    if !stderr.contains("exited unexpectedly") =>
                {
                    return true;
                }
                Err(TmuxError::Spawn { .. }) => return true,
                _ => {}
            }
            if Instant::now() >= deadline {
                return false;
            }
            std::thread::sleep(Duration::from_millis(10));
        }
    }

    /// All panes of the session with exactly this name, in window order.
    pub fn list_panes(&self, session: &str) -> Result<Vec<PaneInfo>, TmuxError> {
        // `=name:`, not `=name`: as a window target `=name` may fall back to another session.
        let target = format!("{}:", exact(session));
        let out = self.run(&["list-panes", "-s", "-t", &target, "-F", PANE_FORMAT])?;
        out.lines()
            .filter(|line| !line.is_empty())
            .map(|line| PaneInfo::parse(line, "list-panes"))
            .collect()
    }

    /// One pane's details (`target` may be `%3`, `@2`, `session:1.0`...); an error if no
    /// such pane exists.
    pub fn pane(&self, target: &str) -> Result<PaneInfo, TmuxError> {
        let line = self.display_strict(target, PANE_FORMAT)?;
        PaneInfo::parse(&line, "display-message")
    }

    /// `display-message -p -t target format`, but failing when the target does not exist.
    ///
    /// display-message alone never fails on a bad target: tmux 3.3a prints empty fields for
    /// `%999` and silently falls back to another pane for `session:7`. capture-pane resolves
    /// targets strictly, so it runs first (one screen row, discarded) and stops the chain.
    pub(crate) fn display_strict(&self, target: &str, format: &str) -> Result<String, TmuxError> {
        let out = self.run(&[
            "capture-pane",
            "-p",
            "-t",
            target,
            "-S",
            "0",
            "-E",
            "0",
            ";",
            "display-message",
            "-p",
            "-t",
            target,
            format,
        ])?;
        let out = out.strip_suffix('\n').unwrap_or(&out);
        Ok(out.rsplit('\n').next().unwrap_or(out).to_owned())
    }

    /// The tmux version (`tmux -V`; through the launcher, the other host's).
    pub fn version(&self) -> Result<TmuxVersion, TmuxError> {
        let command = format!("{} -V", self.binary.display());
        let mut cmd = match &self.launcher {
            Some(launcher) => launcher.command(&[self.binary.as_os_str(), OsStr::new("-V")]),
            None => {
                let mut cmd = Command::new(&self.binary);
                cmd.arg("-V");
                cmd
            }
        };
        let output = cmd
            .stdin(Stdio::null())
            .output()
            .map_err(|source| TmuxError::Spawn {
                command: command.clone(),
                source,
            })?;
        let text = String::from_utf8_lossy(&output.stdout).into_owned();
        if !output.status.success() {
            return Err(TmuxError::Command {
                args: vec!["-V".to_owned()],
                status: output.status.code(),
                stderr: String::from_utf8_lossy(&output.stderr).trim().to_owned(),
            });
        }
        TmuxVersion::parse(&text).ok_or(TmuxError::Parse {
            command,
            output: text,
        })
    }
}

/// Whether the command line holds `kill-server` or `kill-session`, which may end a control
/// client before it answers.
fn ends_a_client(args: &[&OsStr]) -> bool {
    let mut command_position = true;
    for arg in args {
        if command_position && (*arg == "kill-server" || *arg == "kill-session") {
            return true;
        }
        command_position = *arg == ";";
    }
    false
}

/// A session target that matches this exact name only (no prefix or pattern matching).
pub(crate) fn exact(session: &str) -> String {
    format!("={session}")
}

/// Why waiting for a tmux process failed.
enum Waited {
    Io(std::io::Error),
    TimedOut,
}

#[cfg(test)]
mod tests {
    use std::ffi::OsStr;

    use super::ends_a_client;

    fn ends(args: &[&str]) -> bool {
        let args: Vec<&OsStr> = args.iter().map(OsStr::new).collect();
        ends_a_client(&args)
    }

    #[test]
    fn kills_are_found_in_command_position_only() {
        assert!(ends(&["kill-server"]));
        assert!(ends(&["kill-session", "-t", "=s"]));
        assert!(ends(&["display-message", "-p", "x", ";", "kill-session"]));
        assert!(!ends(&["display-message", "-p", "kill-server"]));
        assert!(!ends(&["kill-window", "-t", "@1"]));
        assert!(!ends(&["send-keys", "-t", "%1", "kill-session"]));
    }
}
