//! The processes an agent leaves behind: a CLI can start children that outlive its tmux pane
//! (Gemini CLI 0.43+ relaunches itself as a child `node` that ignores the pane's hangup), so
//! `baton down` reads the agents' process trees before it kills the session and ends what is
//! left of them after.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::Duration;
use std::time::Instant;

/// Waits for `child` until `deadline` has passed, then kills (and reaps) it: `Ok(None)`
/// when it was killed. A child that cannot be waited for is killed too, and the error
/// returned.
pub fn wait_or_kill(
    child: &mut std::process::Child,
    deadline: Duration,
) -> std::io::Result<Option<std::process::ExitStatus>> {
    let until = Instant::now() + deadline;
    loop {
        match child.try_wait() {
            Ok(Some(status)) => return Ok(Some(status)),
            Ok(None) if Instant::now() < until => std::thread::sleep(Duration::from_millis(20)),
            other => {
                let _ = child.kill();
                let _ = child.wait();
                return other.map(|_| None);
            }
        }
    }
}

/// What a child printed, read while it ran, and how it ended ([`output_or_kill`]).
pub struct Output {
    /// Its exit status; `None` when the deadline ended it.
    pub status: Option<std::process::ExitStatus>,
    /// Its standard output, at most `cap` bytes, as text.
    pub stdout: String,
    /// Its standard error, at most `cap` bytes, as text.
    pub stderr: String,
}

/// Reads a child's piped stdout and stderr (each on a thread, at most `cap` bytes of each)
/// while [`wait_or_kill`] waits for it.
pub fn output_or_kill(
    child: &mut std::process::Child,
    deadline: Duration,
    cap: u64,
) -> std::io::Result<Output> {
    use std::io::Read as _;
    fn read(
        r: Option<impl std::io::Read + Send + 'static>,
        cap: u64,
    ) -> std::thread::JoinHandle<String> {
        std::thread::spawn(move || {
            let mut buf = Vec::new();
            if let Some(r) = r {
                let _ = r.take(cap).read_to_end(&mut buf);
            }
            String::from_utf8_lossy(&buf).into_owned()
        })
    }
    let out = read(child.stdout.take(), cap);
    let err = read(child.stderr.take(), cap);
    let status = wait_or_kill(child, deadline);
    let (stdout, stderr) = (
        out.join().unwrap_or_default(),
        err.join().unwrap_or_default(),
    );
    Ok(Output {
        status: status?,
        stdout,
        stderr,
    })
}

/// A process seen in a tree: its pid and, where the system says it, when it started (so that
/// a pid reused by another program meanwhile is never signalled).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Seen {
    /// The process id.
    pub pid: u32,
    /// Its start time in clock ticks since boot (Linux), or `None`.
    started: Option<u64>,
}

/// Every process of the system: pid → (parent pid, start time).
fn table() -> BTreeMap<u32, (u32, Option<u64>)> {
    let proc = Path::new("/proc");
    if proc.join("self").is_dir() {
        return std::fs::read_dir(proc)
            .into_iter()
            .flatten()
            .flatten()
            .filter_map(|e| {
                let pid: u32 = e.file_name().to_str()?.parse().ok()?;
                let (ppid, started) = stat(pid)?;
                Some((pid, (ppid, Some(started))))
            })
            .collect();
    }
    // Elsewhere: `ps`, without start times.
    let out = std::process::Command::new("ps")
        .args(["-A", "-o", "pid=", "-o", "ppid="])
        .output();
    let Ok(out) = out else {
        return BTreeMap::new();
    };
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter_map(|l| {
            let mut w = l.split_whitespace();
            let pid = w.next()?.parse().ok()?;
            let ppid = w.next()?.parse().ok()?;
            Some((pid, (ppid, None)))
        })
        .collect()
}

/// A Linux process's parent and start time, from `/proc/<pid>/stat`; `None` for a process
/// that is gone or has exited (a zombie waiting for its parent).
fn stat(pid: u32) -> Option<(u32, u64)> {
    let text = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // "pid (comm) state ppid … starttime(22nd)": the comm may hold spaces and ')'.
    let rest = text.rsplit_once(')')?.1;
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // After the comm: state is field 3, ppid 4, starttime 22.
    if fields.first().is_some_and(|s| *s == "Z" || *s == "X") {
        return None;
    }
    let ppid = fields.get(1)?.parse().ok()?;
    let started = fields.get(19)?.parse().ok()?;
    Some((ppid, started))
}

/// Returns the processes of the trees rooted at `roots`, the roots included.
pub fn trees(roots: &[u32]) -> Vec<Seen> {
    let all = table();
    let mut out: Vec<Seen> = Vec::new();
    let mut queue: Vec<u32> = roots
        .iter()
        .copied()
        .filter(|p| all.contains_key(p))
        .collect();
    while let Some(pid) = queue.pop() {
        if out.iter().any(|s| s.pid == pid) {
            continue;
        }
        out.push(Seen {
            pid,
            started: all.get(&pid).and_then(|(_, s)| *s),
        });
        queue.extend(
            all.iter()
                .filter(|(_, (ppid, _))| *ppid == pid)
                .map(|(child, _)| *child),
        );
    }
    out
}

/// Whether the process still runs (the same one: its start time unchanged where known).
fn alive(s: &Seen) -> bool {
    match s.started {
        Some(started) => stat(s.pid).is_some_and(|(_, now)| now == started),
        None => std::process::Command::new("kill")
            .args(["-0", &s.pid.to_string()])
            .stderr(std::process::Stdio::null())
            .status()
            .is_ok_and(|st| st.success()),
    }
}

fn signal(sig: &str, pids: &[&Seen]) {
    if pids.is_empty() {
        return;
    }
    let _ = std::process::Command::new("kill")
        .arg(sig)
        .args(pids.iter().map(|s| s.pid.to_string()))
        .stderr(std::process::Stdio::null())
        .status();
}

/// Ends the processes of `seen` that still run: SIGTERM, then SIGKILL for those still there
/// after `grace`. Returns how many were still running.
pub fn end(seen: &[Seen], grace: Duration) -> usize {
    let left: Vec<&Seen> = seen.iter().filter(|s| alive(s)).collect();
    signal("-TERM", &left);
    let deadline = Instant::now() + grace;
    loop {
        let still: Vec<&Seen> = left.iter().copied().filter(|s| alive(s)).collect();
        if still.is_empty() {
            break;
        }
        if Instant::now() >= deadline {
            signal("-KILL", &still);
            break;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    left.len()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_tree_holds_the_children_of_its_root_and_end_stops_them() {
        let mut child = std::process::Command::new("sh")
            .args(["-c", "sleep 600 & sleep 600 & wait"])
            .spawn()
            .unwrap();
        let root = child.id();
        // Wait for both sleeps to be there (a deadline, not a guess).
        let start = Instant::now();
        let mut tree = trees(&[root]);
        while tree.len() < 3 {
            assert!(start.elapsed() < Duration::from_secs(10), "{tree:?}");
            std::thread::sleep(Duration::from_millis(20));
            tree = trees(&[root]);
        }
        assert_eq!(tree[0].pid, root);
        assert_eq!(end(&tree, Duration::from_secs(5)), 3);
        let _ = child.wait();
        assert!(tree.iter().all(|s| !alive(s)), "{tree:?}");
        assert_eq!(end(&tree, Duration::from_secs(1)), 0, "nothing left to end");
    }
}
