//! Reports from agents on other hosts, carried by their tmux server.
//!
//! On the host, a baton run in an agent's window (`BATON_HOST` set) does not open a store: it
//! puts its command (`task done T-003 --note …`, `hook stop --agent a` with the hook's
//! payload) as one JSON line, in hex digits, in a named tmux buffer `baton-report-<id>` of the
//! server it runs in, then waits for the buffer `baton-answer-<id>` (a hook does not wait). The buffers live
//! in the host's tmux server, so a report made while the daemon's ssh connection is cut
//! waits there: that is the spool.
//!
//! In the daemon, one [`Pump`] per host lists those buffers over the host's control
//! connection (every 100 ms, and at once when poked), runs each report's command with this
//! baton in the project (as the agent), records its answer in the store (`remote_reports`)
//! keyed by the report's id, writes the answer buffer, then deletes the report. A report
//! read again (the connection cut after the command ran, before the delete) finds its answer
//! in the store and is answered from it: each report is carried out exactly once.

use std::collections::BTreeMap;
use std::io::Read as _;
use std::io::Write as _;
use std::path::PathBuf;
use std::process::Command;
use std::process::ExitCode;
use std::process::Stdio;
use std::sync::Arc;
use std::time::Duration;
use std::time::Instant;

use baton_tmux::Tmux;
use baton_tmux::control::ControlConnection;
use crossbeam_channel::Receiver;
use crossbeam_channel::Sender;
use serde::Deserialize;
use serde::Serialize;

use crate::store::RemoteAnswer;
use crate::store::Store;

/// Prefix of a report buffer's name.
const REPORT: &str = "baton-report-";
/// Prefix of an answer buffer's name.
const ANSWER: &str = "baton-answer-";

/// How long a baton on the host waits for its answer before saying the report is queued.
const ANSWER_WAIT: Duration = Duration::from_secs(30);

/// How long a report's command may run in the daemon.
const RUN_DEADLINE: Duration = Duration::from_secs(60);

/// At most one statusLine report of an agent is carried out in this time.
const STATUS_EVERY: Duration = Duration::from_secs(2);

/// How often the daemon looks for reports on a connected host.
const POLL: Duration = Duration::from_millis(100);

/// The most of a command's output kept in an answer (each stream).
const MAX_ANSWER: usize = 12 * 1024;

/// The commands an agent on another host may run through its report channel (the first
/// word after `baton`); the others run on the host itself, or are refused there.
pub const FORWARDED: &[&str] = &[
    "task",
    "hook",
    "lead",
    "handoff",
    "log",
    "ls",
    "usage",
    "memory",
    "pause",
    "resume",
    "send",
    "peek",
    "merge-queue",
];

/// One report, as it travels (one JSON line).
#[derive(Debug, Serialize, Deserialize)]
struct Report {
    /// Unique per report: the buffers' names, and the key it is carried out once by.
    id: String,
    /// The agent (its `BATON_AGENT`).
    agent: String,
    /// baton's arguments, without the program.
    args: Vec<String>,
    /// The standard input the command reads (a hook's payload).
    stdin: Option<String>,
    /// Whether the sender waits for an answer.
    wait: bool,
}

impl Report {
    /// A statusLine hook's payload.
    fn is_statusline(&self) -> bool {
        self.args.first().is_some_and(|a| a == "hook")
            && self.args.iter().skip(1).any(|a| a == "statusline")
    }
}

/// Sends this command to the daemon through the host's tmux server (run on the host, in an
/// agent's window) and prints its answer; `hook` reads standard input and does not wait.
pub fn forward(host: &str, hook: bool) -> ExitCode {
    if std::env::var_os("TMUX").is_none() {
        eprintln!(
            "baton: {} is set (an agent on host `{host}`) but this is not inside tmux: the report cannot reach the daemon",
            crate::hosts::HOST_ENV
        );
        return ExitCode::from(1);
    }
    let args: Vec<String> = std::env::args_os()
        .skip(1)
        .map(|a| a.to_string_lossy().into_owned())
        .collect();
    // A hook's payload, or a text given as `-` (`baton send agent -`).
    let stdin = (hook || args.iter().any(|a| a == "-")).then(|| {
        let mut text = String::new();
        let _ = std::io::stdin().take(1 << 20).read_to_string(&mut text);
        text
    });
    let query = is_query(&args);
    let report = Report {
        // The time first, so that the daemon carries a host's reports out in the order made.
        id: format!(
            "{:020}-{}",
            std::time::SystemTime::now()
                .duration_since(std::time::UNIX_EPOCH)
                .map_or(0, |d| d.as_nanos()),
            &crate::store::new_report_id()[..12]
        ),
        agent: std::env::var("BATON_AGENT").unwrap_or_default(),
        args,
        stdin,
        wait: !hook,
    };
    let line = to_hex(
        serde_json::to_string(&report)
            .unwrap_or_default()
            .as_bytes(),
    );
    let name = format!("{REPORT}{}", report.id);
    if let Err(e) = tmux(&["load-buffer", "-b", &name, "-"], Some(line.as_bytes())) {
        eprintln!("baton: cannot hand the report to this host's tmux server: {e}");
        return ExitCode::from(1);
    }
    if hook {
        return ExitCode::SUCCESS;
    }
    let answer_name = format!("{ANSWER}{}", report.id);
    let until = Instant::now() + ANSWER_WAIT;
    while Instant::now() < until {
        if let Ok(text) = tmux(&["show-buffer", "-b", &answer_name], None) {
            let _ = tmux(&["delete-buffer", "-b", &answer_name], None);
            let Ok(answer) = serde_json::from_str::<RemoteAnswer>(text.trim()) else {
                eprintln!("baton: the daemon's answer could not be read: {text}");
                return ExitCode::from(1);
            };
            print!("{}", answer.stdout);
            eprint!("{}", answer.stderr);
            let _ = std::io::stdout().flush();
            return ExitCode::from(u8::try_from(answer.code).unwrap_or(1));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    if query {
        // A question is worth nothing later: taken back, and said unanswered.
        let _ = tmux(&["delete-buffer", "-b", &name], None);
        eprintln!(
            "baton: no answer from the daemon in {} s (its connection to host `{host}` may be down): nothing was read; try again",
            ANSWER_WAIT.as_secs()
        );
        return ExitCode::from(1);
    }
    eprintln!(
        "baton: the report ({}) waits on host `{host}` for the daemon, which has not answered in {} s (its connection may be down): it is carried out once when it reads it",
        report.id,
        ANSWER_WAIT.as_secs()
    );
    ExitCode::SUCCESS
}

/// Whether a command only reads (its answer is the point: carried out later, it is worth
/// nothing).
fn is_query(args: &[String]) -> bool {
    let words: Vec<&str> = args
        .iter()
        .map(String::as_str)
        .filter(|a| !a.starts_with('-'))
        .collect();
    matches!(
        words.as_slice(),
        ["ls" | "log" | "usage" | "peek", ..]
            | ["task", "list" | "show", ..]
            | ["merge-queue"]
            | ["lead"]
            | ["memory", "show", ..]
    )
}

/// Runs the host's `tmux` on the server of the pane it runs in (`$TMUX`); its stdout.
fn tmux(args: &[&str], input: Option<&[u8]>) -> Result<String, String> {
    let mut child = Command::new("tmux")
        .args(args)
        .stdin(if input.is_some() {
            Stdio::piped()
        } else {
            Stdio::null()
        })
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| format!("cannot run tmux: {e}"))?;
    if let (Some(data), Some(mut w)) = (input, child.stdin.take()) {
        w.write_all(data).map_err(|e| e.to_string())?;
    }
    let out = child.wait_with_output().map_err(|e| e.to_string())?;
    if out.status.success() {
        Ok(String::from_utf8_lossy(&out.stdout).into_owned())
    } else {
        Err(String::from_utf8_lossy(&out.stderr).trim().to_owned())
    }
}

/// The daemon's side for one host: a thread carrying out that host's reports.
pub struct Pump {
    poke: Sender<()>,
    stop: Option<Sender<()>>,
    thread: Option<std::thread::JoinHandle<()>>,
}

impl Pump {
    /// Starts the thread for `host`, whose server `tmux` reaches (through `conn` when it is
    /// connected; nothing is read while it is not), in the project at `root`.
    pub fn start(
        host: String,
        agents: Vec<String>,
        tmux: Tmux,
        conn: Arc<ControlConnection>,
        root: PathBuf,
    ) -> Pump {
        let (poke, poked) = crossbeam_channel::bounded(1);
        let (stop, stopped) = crossbeam_channel::bounded(0);
        let worker = Worker {
            host,
            agents,
            tmux,
            conn,
            root,
            store: None,
            last_status: BTreeMap::new(),
        };
        let thread = std::thread::Builder::new()
            .name("baton-remote-reports".into())
            .spawn(move || worker.run(&poked, &stopped))
            .ok();
        Pump {
            poke,
            stop: Some(stop),
            thread,
        }
    }

    /// Looks for reports now (a screen of the host changed, the connection came back).
    pub fn poke(&self) {
        let _ = self.poke.try_send(());
    }
}

impl Drop for Pump {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

struct Worker {
    host: String,
    agents: Vec<String>,
    tmux: Tmux,
    conn: Arc<ControlConnection>,
    root: PathBuf,
    store: Option<Store>,
    /// When each agent's last statusLine report was carried out.
    last_status: BTreeMap<String, Instant>,
}

impl Worker {
    fn run(mut self, poked: &Receiver<()>, stopped: &Receiver<()>) {
        loop {
            crossbeam_channel::select! {
                recv(stopped) -> _ => return,
                recv(poked) -> _ => {}
                default(POLL) => {}
            }
            if self.conn.is_connected() {
                self.pass();
            }
        }
    }

    /// Carries out every report waiting on the host, oldest name first.
    fn pass(&mut self) {
        let Ok(names) = self.tmux.run(&["list-buffers", "-F", "#{buffer_name}"]) else {
            return;
        };
        let mut reports: Vec<&str> = names
            .lines()
            .map(str::trim)
            .filter(|n| n.starts_with(REPORT))
            .collect();
        // Ids start with the time they were made on the host: in the order made.
        reports.sort_unstable();
        let read: Vec<(&str, Report)> = reports
            .into_iter()
            .filter_map(|n| Some((n, self.read(n)?)))
            .collect();
        // A statusLine payload is a snapshot: only an agent's newest counts, at most one every
        // STATUS_EVERY (Claude Code runs it on every refresh).
        let newest: BTreeMap<&str, usize> = read
            .iter()
            .enumerate()
            .filter(|(_, (_, r))| r.is_statusline())
            .map(|(i, (_, r))| (r.agent.as_str(), i))
            .collect();
        for (i, (name, report)) in read.iter().enumerate() {
            if !self.conn.is_connected() {
                return;
            }
            if report.is_statusline() {
                if newest.get(report.agent.as_str()) != Some(&i) {
                    let _ = self.tmux.run(&["delete-buffer", "-b", name]);
                    continue;
                }
                if self
                    .last_status
                    .get(&report.agent)
                    .is_some_and(|t| t.elapsed() < STATUS_EVERY)
                {
                    continue;
                }
                self.last_status
                    .insert(report.agent.clone(), Instant::now());
            }
            self.carry(name, report);
        }
    }

    /// Reads a report buffer; one that is not a report is deleted.
    fn read(&self, name: &str) -> Option<Report> {
        let text = self.tmux.run(&["show-buffer", "-b", name]).ok()?;
        let json = from_hex(text.trim()).unwrap_or_default();
        match serde_json::from_slice::<Report>(&json) {
            Ok(r) if format!("{REPORT}{}", r.id) == name => Some(r),
            Ok(_) | Err(_) => {
                eprintln!(
                    "warning: host {}: buffer {name} is no report baton can read: deleted",
                    self.host
                );
                let _ = self.tmux.run(&["delete-buffer", "-b", name]);
                None
            }
        }
    }

    /// Carries a report out (or answers it from the store), answers, deletes it.
    fn carry(&mut self, name: &str, report: &Report) {
        let Some(answer) = self.answer(report) else {
            // The store could not be read or written: the report stays for the next pass.
            return;
        };
        if report.wait {
            let line = serde_json::to_string(&answer).unwrap_or_default();
            let answer_name = format!("{ANSWER}{}", report.id);
            if self
                .tmux
                .load_buffer(&answer_name, line.as_bytes())
                .is_err()
            {
                return;
            }
        }
        let _ = self.tmux.run(&["delete-buffer", "-b", name]);
    }

    /// The report's answer: the one recorded when it was carried out before, else its command
    /// run now and recorded. `None` when the store cannot be used.
    fn answer(&mut self, report: &Report) -> Option<RemoteAnswer> {
        if self.store.is_none() {
            match Store::open_project(&self.root.join(".baton")) {
                Ok(s) => self.store = Some(s),
                Err(e) => {
                    eprintln!("warning: host {}: cannot open the store: {e}", self.host);
                    return None;
                }
            }
        }
        match self.store.as_ref()?.remote_answer(&report.id) {
            Ok(Some(a)) => return Some(a),
            Ok(None) => {}
            Err(e) => {
                eprintln!("warning: host {}: {e}", self.host);
                return None;
            }
        }
        let answer = match self.not_theirs(report) {
            Some(refusal) => refusal,
            None => self.carry_out(report),
        };
        let command = report.args.first().cloned().unwrap_or_default();
        let sub = report.args.get(1).filter(|a| !a.starts_with('-'));
        let command = sub.map_or(command.clone(), |s| format!("{command} {s}"));
        let store = self.store.as_mut()?;
        if let Err(e) =
            store.record_remote_answer(&report.id, &self.host, &report.agent, &command, &answer)
        {
            eprintln!("warning: host {}: cannot record a report: {e}", self.host);
        }
        Some(answer)
    }

    /// A `task done|block` of a task that is no longer the agent's: it was taken back while
    /// the host was cut off (and may be done by another agent now). Refused, so a late report
    /// from a host that was down never completes another agent's work.
    fn not_theirs(&self, report: &Report) -> Option<RemoteAnswer> {
        let [task, verb, id, ..] = report.args.as_slice() else {
            return None;
        };
        if task != "task" || !matches!(verb.as_str(), "done" | "block") {
            return None;
        }
        let id: baton_core::task::TaskId = id.parse().ok()?;
        let t = self.store.as_ref()?.task(id).ok()?;
        // Still its own (in progress, unreported, or already closed by it: the command says
        // so itself); a task taken back is PENDING or another agent's.
        if t.assignee.as_deref() == Some(report.agent.as_str())
            && t.status != baton_core::task::Status::Pending
        {
            return None;
        }
        let now = match &t.assignee {
            Some(other) if other != &report.agent => format!("it is {other}'s now"),
            _ => format!("it is {} now", t.status),
        };
        Some(RemoteAnswer {
            code: 1,
            stdout: String::new(),
            stderr: format!(
                "baton: {id} is no longer yours ({now}): it was taken back while this host was out of reach; this report is not taken\n"
            ),
        })
    }

    /// Runs the report's command here, as its agent, in the project.
    fn carry_out(&self, report: &Report) -> RemoteAnswer {
        let refuse = |why: String| RemoteAnswer {
            code: 2,
            stdout: String::new(),
            stderr: format!("baton: {why}\n"),
        };
        if !self.agents.contains(&report.agent) {
            return refuse(format!(
                "`{}` is no agent of host `{}` in baton.toml",
                report.agent, self.host
            ));
        }
        let first = report.args.first().map(String::as_str).unwrap_or_default();
        if !FORWARDED.contains(&first) {
            return refuse(format!(
                "`baton {first}` cannot be run by an agent on another host"
            ));
        }
        let exe = match std::env::current_exe() {
            Ok(e) => e,
            Err(e) => return refuse(format!("cannot find baton's binary: {e}")),
        };
        let spawned = Command::new(exe)
            .arg("-C")
            .arg(&self.root)
            .args(&report.args)
            .current_dir(&self.root)
            .env("BATON_AGENT", &report.agent)
            .env_remove(crate::hosts::HOST_ENV)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn();
        let mut child = match spawned {
            Ok(c) => c,
            Err(e) => return refuse(format!("cannot run baton: {e}")),
        };
        if let Some(mut w) = child.stdin.take() {
            let input = report.stdin.clone().unwrap_or_default();
            std::thread::spawn(move || {
                let _ = w.write_all(input.as_bytes());
            });
        }
        match crate::processes::output_or_kill(&mut child, RUN_DEADLINE, u64::MAX) {
            Ok(out) => RemoteAnswer {
                code: out.status.map_or(124, |s| s.code().unwrap_or(1)),
                stdout: cut(out.stdout),
                stderr: cut(out.stderr),
            },
            Err(e) => RemoteAnswer {
                code: 1,
                stdout: String::new(),
                stderr: format!("baton: cannot wait for baton: {e}\n"),
            },
        }
    }
}

/// A report as it sits in its buffer: hex digits. tmux prints a buffer to a control client
/// with `\` doubled and bytes outside printable ASCII as octal escapes; digits stay digits.
fn to_hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// The bytes of [`to_hex`]'s digits; `None` when they are not.
fn from_hex(text: &str) -> Option<Vec<u8>> {
    if !text.len().is_multiple_of(2) {
        return None;
    }
    (0..text.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(text.get(i..i + 2)?, 16).ok())
        .collect()
}

/// At most [`MAX_ANSWER`] bytes of an output, saying how much was cut.
fn cut(mut text: String) -> String {
    if text.len() <= MAX_ANSWER {
        return text;
    }
    let mut end = MAX_ANSWER;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    let more = text.len() - end;
    text.truncate(end);
    text.push_str(&format!("\n(… {more} more bytes not carried back)\n"));
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_report_survives_its_buffer_byte_for_byte() {
        let text = "{\"a\":\"l'été \\\" \\n 🎉\"}\n\t\u{1}";
        assert_eq!(from_hex(&to_hex(text.as_bytes())).unwrap(), text.as_bytes());
        assert!(
            to_hex(text.as_bytes())
                .bytes()
                .all(|b| b.is_ascii_hexdigit())
        );
        assert_eq!(from_hex("0"), None);
        assert_eq!(from_hex("zz"), None);
    }

    #[test]
    fn questions_are_told_from_reports() {
        let words = |s: &str| s.split(' ').map(str::to_owned).collect::<Vec<_>>();
        for q in [
            "task list --json",
            "task show T-001",
            "ls",
            "log --json",
            "lead",
        ] {
            assert!(is_query(&words(q)), "{q}");
        }
        for r in [
            "task done T-001",
            "task add x",
            "send a -",
            "lead handoff",
            "hook stop",
        ] {
            assert!(!is_query(&words(r)), "{r}");
        }
    }

    #[test]
    fn a_statusline_hook_is_told_from_other_reports() {
        let report = |args: &[&str]| Report {
            id: "1".into(),
            agent: "a".into(),
            args: args.iter().map(|a| (*a).to_owned()).collect(),
            stdin: None,
            wait: false,
        };
        assert!(report(&["hook", "statusline", "--agent", "a"]).is_statusline());
        assert!(!report(&["hook", "stop", "--agent", "a"]).is_statusline());
        assert!(!report(&["task", "add", "statusline"]).is_statusline());
    }
}
