//! The daemon as a process: the single-instance lock, starting it in the background,
//! stopping it, and the socket CLI commands poke.

use std::fs::File;
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixListener;
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::path::PathBuf;
use std::time::Duration;
use std::time::Instant;

use crossbeam_channel::Sender;

use crate::error::CliError;
use crate::error::CliResult;
use crate::error::io_error;
use crate::project::Project;

use super::Wake;

/// What `spawn_background` did.
pub enum Spawned {
    /// A daemon was started with this pid.
    Started(u32),
    /// One already runs, with this pid.
    AlreadyRunning(u32),
}

/// Returns the pid of the daemon running for this project, if one runs.
pub fn running_pid(project: &Project) -> Option<u32> {
    let path = project.root.join(".baton").join("daemon.lock");
    let f = File::options().read(true).write(true).open(&path).ok()?;
    match f.try_lock() {
        Ok(()) => None,
        Err(_) => Some(
            std::fs::read_to_string(&path)
                .ok()?
                .trim()
                .parse()
                .unwrap_or(0),
        ),
    }
}

/// Starts the daemon as a background process (its own process group, output appended to
/// `.baton/daemon.log`), unless one already runs.
pub fn spawn_background(project: &Project, ignore_usage: bool) -> CliResult<Spawned> {
    if let Some(pid) = running_pid(project) {
        return Ok(Spawned::AlreadyRunning(pid));
    }
    use std::os::unix::process::CommandExt;
    let dir = project.state_dir()?;
    let log_path = dir.join("daemon.log");
    let log = File::options()
        .create(true)
        .append(true)
        .open(&log_path)
        .map_err(|e| io_error(format!("cannot open {}", log_path.display()), e))?;
    let err = log
        .try_clone()
        .map_err(|e| io_error("cannot open the daemon log", e))?;
    let exe = std::env::current_exe().map_err(|e| io_error("cannot find the baton binary", e))?;
    let child = std::process::Command::new(exe)
        .arg("-C")
        .arg(&project.root)
        .arg("daemon")
        .args(ignore_usage.then_some("--ignore-usage"))
        .stdin(std::process::Stdio::null())
        .stdout(log)
        .stderr(err)
        .process_group(0)
        .spawn()
        .map_err(|e| io_error("cannot start the daemon", e))?;
    Ok(Spawned::Started(child.id()))
}

/// Stops the project's daemon (SIGTERM, then SIGKILL after 5 s); returns its pid if one ran.
pub fn stop(project: &Project) -> CliResult<Option<u32>> {
    let Some(pid) = running_pid(project) else {
        return Ok(None);
    };
    let signal = |sig: &str| {
        std::process::Command::new("kill")
            .args([sig, &pid.to_string()])
            .stderr(std::process::Stdio::null())
            .status()
    };
    if pid > 0 {
        let _ = signal("-TERM");
    }
    let deadline = Instant::now() + Duration::from_secs(5);
    while running_pid(project).is_some() {
        if Instant::now() >= deadline {
            if pid > 0 {
                let _ = signal("-KILL");
            }
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    let _ = std::fs::remove_file(socket_path(&project.root));
    Ok(Some(pid))
}

/// Returns the path of the daemon's socket.
pub fn socket_path(root: &Path) -> PathBuf {
    root.join(".baton").join("daemon.sock")
}

/// Tells a running daemon that the store changed; does nothing when none runs.
pub fn poke(root: &Path) {
    if let Ok(mut s) = UnixStream::connect(socket_path(root)) {
        let _ = s.write_all(b"\n");
    }
}

/// Takes the single-instance lock, or says who holds it.
pub(super) fn lock(project: &Project) -> CliResult<File> {
    let path = project.state_dir()?.join("daemon.lock");
    let mut f = File::options()
        .create(true)
        .truncate(false)
        .read(true)
        .write(true)
        .open(&path)
        .map_err(|e| io_error(format!("cannot open {}", path.display()), e))?;
    match f.try_lock() {
        Ok(()) => {}
        Err(std::fs::TryLockError::WouldBlock) => {
            let pid = std::fs::read_to_string(&path).unwrap_or_default();
            return Err(CliError::user(format!(
                "a baton daemon already runs for this project (pid {})",
                pid.trim()
            ))
            .hint("watch it with `baton ls` / `baton log`, or stop it first"));
        }
        Err(std::fs::TryLockError::Error(e)) => {
            return Err(io_error(format!("cannot lock {}", path.display()), e));
        }
    }
    f.set_len(0).ok();
    let _ = write!(f, "{}", std::process::id());
    Ok(f)
}

/// Listens on the daemon's socket: each connection wakes the loop.
pub(super) fn listen(project: &Project, tx: Sender<Wake>) -> CliResult<UnixListener> {
    let path = socket_path(&project.root);
    let _ = std::fs::remove_file(&path);
    let listener = UnixListener::bind(&path)
        .map_err(|e| io_error(format!("cannot listen on {}", path.display()), e))?;
    let _ = std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o600));
    let accept = listener
        .try_clone()
        .map_err(|e| io_error("cannot clone the socket", e))?;
    std::thread::spawn(move || {
        for stream in accept.incoming() {
            drop(stream);
            if tx.send(Wake::Poke).is_err() {
                return;
            }
        }
    });
    Ok(listener)
}
