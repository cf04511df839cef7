//! The [`Tmux`] handle: which binary, which socket, which config; running commands; sessions.

use std::ffi::{OsStr, OsString};
use std::io::Write;
use std::path::PathBuf;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::error::TmuxError;
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

/// A handle on one tmux server: binary, socket and config file. Cheap to clone.
#[derive(Clone, Debug)]
pub struct Tmux {
    binary: PathBuf,
    socket: Socket,
    config_file: Option<PathBuf>,
    timeout: Duration,
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
        }
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
    /// `/proc/self/status`). tmux leaves the file behind after `kill-server`.
    pub fn socket_path(&self) -> Option<PathBuf> {
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
    pub fn command(&self) -> Command {
        let mut cmd = Command::new(&self.binary);
        if let Some(config) = &self.config_file {
            cmd.arg("-f").arg(config);
        }
        cmd.arg("-u");
        match &self.socket {
            Socket::Name(name) => cmd.arg("-L").arg(name),
            Socket::Path(path) => cmd.arg("-S").arg(path),
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

    /// Run tmux with OS-string arguments and optional stdin; the common path for every command.
    pub(crate) fn exec(&self, args: &[&OsStr], input: Option<&[u8]>) -> Result<String, TmuxError> {
        let mut cmd = self.command();
        cmd.args(args).stdout(Stdio::piped()).stderr(Stdio::piped());
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
        let mut text = self.binary.to_string_lossy().into_owned();
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
        self.run(&["kill-session", "-t", &exact(session)]).map(drop)
    }

    /// Kill the server and wait (up to 2 s) until it is gone; fine if none was running.
    ///
    /// tmux answers `kill-server` before the server has exited; a client connecting in
    /// between (e.g. a `new-session` starting it again) fails with "server exited
    /// unexpectedly", hence the wait.
    pub fn kill_server(&self) -> Result<(), TmuxError> {
        match self.run(&["kill-server"]) {
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
            match self.run(&["list-sessions", "-F", "#{session_id}"]) {
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

    /// The tmux version (`tmux -V`).
    pub fn version(&self) -> Result<TmuxVersion, TmuxError> {
        let command = format!("{} -V", self.binary.display());
        let output = Command::new(&self.binary)
            .arg("-V")
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

/// A session target that matches this exact name only (no prefix or pattern matching).
pub(crate) fn exact(session: &str) -> String {
    format!("={session}")
}

/// Why waiting for a tmux process failed.
enum Waited {
    Io(std::io::Error),
    TimedOut,
}
