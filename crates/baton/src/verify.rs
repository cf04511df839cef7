//! Running one verify command: `sh -c` in a directory, its output kept in a log file.

use std::os::unix::process::CommandExt;
use std::path::Path;
use std::process::Stdio;

/// How many lines of a failing command's output go into its fix task.
const EXCERPT_LINES: usize = 40;

/// Runs `command` with `sh -c` in `cwd`, in a process group of its own (whose id is written
/// to `pid_file` while it runs, when given), writes its output to `log`; returns whether it
/// passed and the end of its output.
pub fn run_check(
    command: &str,
    cwd: &Path,
    log: &Path,
    pid_file: Option<&Path>,
    env: &[(&str, &str)],
) -> (bool, String) {
    let mut cmd = std::process::Command::new("sh");
    cmd.arg("-c")
        .arg(command)
        .current_dir(cwd)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .process_group(0);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let out = cmd.spawn().and_then(|child| {
        if let Some(f) = pid_file {
            let _ = std::fs::write(f, child.id().to_string());
        }
        child.wait_with_output()
    });
    if let Some(f) = pid_file {
        let _ = std::fs::remove_file(f);
    }
    let (ok, text) = match out {
        Ok(o) => {
            let mut t = String::from_utf8_lossy(&o.stdout).into_owned();
            t.push_str(&String::from_utf8_lossy(&o.stderr));
            (o.status.success(), t)
        }
        Err(e) => (false, format!("cannot run: {e}")),
    };
    if let Some(dir) = log.parent() {
        let _ = std::fs::create_dir_all(dir);
    }
    let _ = std::fs::write(log, &text);
    let lines: Vec<&str> = text.lines().collect();
    (
        ok,
        lines[lines.len().saturating_sub(EXCERPT_LINES)..].join("\n"),
    )
}
