//! What the conformance checks share: the report, waiting, screens and fixtures, the fake
//! model's request log.

use std::collections::BTreeMap;
use std::panic::AssertUnwindSafe;
use std::path::Path;
use std::path::PathBuf;
use std::process::Command;
use std::process::Stdio;
use std::time::Duration;
use std::time::Instant;

use baton_core::AgentState;
use baton_core::Detection;
use baton_core::Profile;
use baton_core::detect;
use baton_core::profile::builtin_spec;
use baton_fake_model::FakeModel;
use baton_fake_model::Recorded;
use baton_fake_model::Reply;
use baton_fake_model::Rule;
use baton_fake_model::Script;

use crate::common::TestProject;

/// Returns the binaries an environment variable names, `:`-separated (the installer puts the
/// pinned version first); a name that is not a file is reported and left out.
pub fn real_binaries(var: &str) -> Vec<PathBuf> {
    let Some(value) = std::env::var_os(var) else {
        return Vec::new();
    };
    std::env::split_paths(&value)
        .filter(|p| !p.as_os_str().is_empty())
        .filter(|p| {
            let ok = p.is_file();
            if !ok {
                eprintln!("!! {var}: {} is not a file", p.display());
            }
            ok
        })
        .collect()
}

/// Returns `<bin> --version`'s first line.
pub fn version_of(bin: &Path) -> String {
    Command::new(bin)
        .arg("--version")
        .stdin(Stdio::null())
        .output()
        .ok()
        .and_then(|o| String::from_utf8(o.stdout).ok())
        .and_then(|s| s.lines().next().map(str::to_owned))
        .unwrap_or_else(|| "unknown".to_owned())
}

/// A check's outcome.
pub enum Outcome {
    Pass(String),
    Fail(String),
    Skip(String),
}

/// The checks of one CLI.
pub struct Report {
    pub cli: String,
    pub version: String,
    pub checks: Vec<(String, Outcome)>,
}

impl Report {
    pub fn new(cli: &str, version: &str) -> Report {
        Report {
            cli: cli.to_owned(),
            version: version.to_owned(),
            checks: Vec::new(),
        }
    }

    /// A report for a CLI whose binary was not given.
    pub fn missing(cli: &str, var: &str) -> Report {
        let mut r = Report::new(cli, "NOT INSTALLED");
        r.skip(
            "installed",
            &format!("{var} is not set: no check ran against this CLI"),
        );
        r
    }

    /// A report for a CLI whose checks panicked outside a check.
    pub fn panicked(cli: &str, payload: &(dyn std::any::Any + Send)) -> Report {
        let mut r = Report::new(cli, "?");
        r.checks.push((
            "the checks ran to their end".to_owned(),
            Outcome::Fail(format!("panicked outside a check: {}", panic_text(payload))),
        ));
        r
    }

    /// Runs one check: `Ok(note)` passes, `Err(why)` or a panic fails.
    pub fn check(&mut self, name: &str, f: impl FnOnce() -> Result<String, String>) {
        let start = Instant::now();
        let outcome = match std::panic::catch_unwind(AssertUnwindSafe(f)) {
            Ok(Ok(note)) => Outcome::Pass(note),
            Ok(Err(why)) => Outcome::Fail(why),
            Err(p) => Outcome::Fail(panic_text(p.as_ref())),
        };
        let tag = match &outcome {
            Outcome::Pass(_) => "PASS",
            Outcome::Fail(_) => "FAIL",
            Outcome::Skip(_) => "SKIP",
        };
        eprintln!(
            "[conformance] {} {tag} {name} ({:.1}s)",
            self.cli,
            start.elapsed().as_secs_f64()
        );
        // The reason at once, not only in the summary: a run cut short still shows it.
        if let Outcome::Fail(why) = &outcome {
            eprintln!(
                "[conformance] {}   why: {}",
                self.cli,
                why.replace('\n', "\n        ")
            );
        }
        self.checks.push((name.to_owned(), outcome));
    }

    /// Runs a start-up check that may be tried twice: real CLIs starting on a loaded machine
    /// have failed once on CI for reasons not seen since. A second try is made only after a
    /// failure, which is printed at once and kept in the check's note, so the summary shows it.
    pub fn check_twice(&mut self, name: &str, mut f: impl FnMut() -> Result<String, String>) {
        let cli = self.cli.clone();
        self.check(name, || {
            let first = match std::panic::catch_unwind(AssertUnwindSafe(&mut f)) {
                Ok(Ok(note)) => return Ok(note),
                Ok(Err(why)) => why,
                Err(p) => panic_text(p.as_ref()),
            };
            eprintln!(
                "[conformance] {cli} RETRY {name}: the first try failed: {}",
                first.replace('\n', "\n        ")
            );
            f().map(|note| format!("{note} (on the second try; the first failed: {first})"))
        });
    }

    /// Records a check that cannot be made, and why.
    pub fn skip(&mut self, name: &str, why: &str) {
        self.checks
            .push((name.to_owned(), Outcome::Skip(why.to_owned())));
    }

    /// Returns whether a check passed.
    pub fn passed(&self, name: &str) -> bool {
        self.checks
            .iter()
            .any(|(n, o)| n == name && matches!(o, Outcome::Pass(_)))
    }
}

/// Returns a panic's message.
fn panic_text(payload: &(dyn std::any::Any + Send)) -> String {
    payload
        .downcast_ref::<String>()
        .cloned()
        .or_else(|| payload.downcast_ref::<&str>().map(|s| (*s).to_owned()))
        .unwrap_or_else(|| "panicked".into())
}

/// Prints the summary; returns the number of failed checks.
pub fn print_summary(reports: &[Report]) -> usize {
    let mut failed = 0;
    let mut out = String::from("\n======== conformance summary ========\n");
    for r in reports {
        out.push_str(&format!("{}: {}\n", r.cli, r.version));
        for (name, o) in &r.checks {
            let (tag, note) = match o {
                Outcome::Pass(n) => ("PASS", n),
                Outcome::Fail(n) => {
                    failed += 1;
                    ("FAIL", n)
                }
                Outcome::Skip(n) => ("SKIP", n),
            };
            let note = note.replace('\n', "\n        ");
            if note.is_empty() {
                out.push_str(&format!("  {tag}  {name}\n"));
            } else {
                out.push_str(&format!("  {tag}  {name}: {note}\n"));
            }
        }
    }
    out.push_str(&format!(
        "======== {} ========\n",
        if failed == 0 {
            "all checks passed".to_owned()
        } else {
            format!("{failed} FAILED")
        }
    ));
    eprintln!("{out}");
    failed
}

/// Polls `f` every 50 ms until it returns `Some`, or fails after `timeout`.
pub fn wait_for<T>(
    timeout: Duration,
    what: &str,
    mut f: impl FnMut() -> Option<T>,
) -> Result<T, String> {
    let start = Instant::now();
    loop {
        if let Some(v) = f() {
            return Ok(v);
        }
        if start.elapsed() >= timeout {
            return Err(format!("timed out after {timeout:?} waiting for {what}"));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Polls `screen` (see `wait_for`) until `ok` holds of it; returns that screen, or fails with
/// the last one seen. For the scenario scripts' windows.
#[allow(dead_code)]
pub fn wait_screen(
    timeout: Duration,
    what: &str,
    mut screen: impl FnMut() -> String,
    ok: impl Fn(&str) -> bool,
) -> Result<String, String> {
    let mut last = String::new();
    wait_for(timeout, what, || {
        last = screen();
        ok(&last).then(|| last.clone())
    })
    .map_err(|e| format!("{e}; last screen:\n{}", trim(&last)))
}

/// Returns the built-in profile of a CLI.
pub fn profile(cli: &str) -> Profile {
    builtin_spec(cli).unwrap().resolve(cli).unwrap()
}

/// The longest a turn (or a state to show) may take.
pub const TURN: Duration = Duration::from_secs(60);

/// Returns what the checks of one CLI start from: its version, an empty report, a project,
/// and a directory for the agents' private homes.
pub fn start(cli: &str, bin: &Path) -> (String, Report, TestProject, tempfile::TempDir) {
    let version = version_of(bin);
    let report = Report::new(cli, &version);
    let homes = temp_dir(&format!("baton-conf-{cli}-"));
    (version, report, TestProject::new(), homes)
}

/// Returns a fresh temporary directory whose name starts with `prefix`.
pub fn temp_dir(prefix: &str) -> tempfile::TempDir {
    tempfile::Builder::new().prefix(prefix).tempdir().unwrap()
}

/// An agent of a conformance project: its name, profile and the screens saved.
pub struct Screens<'a> {
    pub project: &'a TestProject,
    pub profile: Profile,
    /// Where screens are saved (`…/<cli>-<version>`).
    pub out_dirs: Vec<PathBuf>,
    /// Whether saved screens have the project's temp path replaced by `/tmp/project`.
    pub masked: bool,
}

impl<'a> Screens<'a> {
    /// The screens of `cli` in `project`, saved as they are.
    pub fn new(project: &'a TestProject, cli: &str, version: &str) -> Screens<'a> {
        Screens {
            project,
            profile: profile(cli),
            out_dirs: out_dirs(cli, version),
            masked: false,
        }
    }

    /// The same, saved with the project's temp path replaced by `/tmp/project`.
    pub fn masked(self) -> Screens<'a> {
        Screens {
            masked: true,
            ..self
        }
    }

    /// Returns the agent's screen and what the detector makes of it.
    pub fn look(&self, agent: &str) -> (String, Detection) {
        let screen = self.project.capture(agent);
        let d = detect(&self.profile, &screen);
        (screen, d)
    }

    /// Waits until the agent's screen is detected as `state` (and `also` holds of it);
    /// returns that screen.
    pub fn wait_state(
        &self,
        agent: &str,
        state: AgentState,
        timeout: Duration,
        also: impl Fn(&str) -> bool,
    ) -> Result<String, String> {
        let mut last = String::new();
        let r = wait_for(timeout, &format!("{agent} to be {state}"), || {
            let (screen, d) = self.look(agent);
            let ok = d.state == state && also(&screen);
            last = screen;
            ok.then(|| last.clone())
        });
        r.map_err(|e| {
            format!(
                "{e}; last screen ({}):\n{}",
                detect(&self.profile, &last).state,
                trim(&last)
            )
        })
    }

    /// Saves a screen as `<profile>-<state>[-variant].txt` (masked: with the project's temp
    /// path replaced by `/tmp/project`).
    pub fn save(&self, file: &str, screen: &str) {
        let screen = if self.masked {
            let root = self.project.root().display().to_string();
            screen.replace(&root, "/tmp/project")
        } else {
            screen.to_owned()
        };
        for dir in &self.out_dirs {
            let _ = std::fs::create_dir_all(dir);
            let _ = std::fs::write(dir.join(file), &screen);
        }
    }

    /// Waits until the agent shows the finished turn that acknowledged `marker`; returns
    /// that screen.
    pub fn finished(&self, agent: &str, marker: &str) -> Result<String, String> {
        let m = format!("ack {marker}");
        self.wait_state(agent, AgentState::Finished, TURN, move |s| s.contains(&m))
    }

    /// Waits until the agent's fresh screen is idle; saves it as `file`.
    pub fn idle(&self, agent: &str, file: &str) -> Result<String, String> {
        let s = self.wait_state(agent, AgentState::Idle, TURN, |_| true)?;
        self.save(file, &s);
        Ok(String::new())
    }

    /// Sends `<marker> <words>` to `agent`, where `marker` is the rule of a slow reply; saves
    /// the working screen as `file` and returns the screen of the finished turn.
    pub fn working(
        &self,
        agent: &str,
        marker: &str,
        words: &str,
        file: &str,
    ) -> Result<String, String> {
        send(self.project, agent, &format!("{marker} {words}"))?;
        let s = self.wait_state(agent, AgentState::Working, TURN, |_| true)?;
        self.save(file, &s);
        self.finished(agent, marker)
    }

    /// Adds task T-001, starts it for `agent` and sends `<marker> please finish T-001`, where
    /// `marker` is the rule whose tool call runs `baton task done T-001`; waits for the
    /// finished turn (saved as `file`, if any) and fails unless T-001 is COMPLETED.
    pub fn completes_t001(
        &self,
        agent: &str,
        marker: &str,
        file: Option<&str>,
    ) -> Result<(), String> {
        let project = self.project;
        project.ok(&["task", "add", "Conformance task"]);
        project.ok(&["task", "start", "T-001", "--agent", agent]);
        send(project, agent, &format!("{marker} please finish T-001"))?;
        let s = self.finished(agent, marker)?;
        if let Some(file) = file {
            self.save(file, &s);
        }
        let shown: serde_json::Value =
            serde_json::from_str(&project.ok(&["task", "show", "T-001", "--json"]))
                .map_err(|e| e.to_string())?;
        let status = shown["status"].as_str().unwrap_or("").to_owned();
        if status != "COMPLETED" {
            return Err(format!("T-001 is {status}: {shown}"));
        }
        Ok(())
    }

    /// Sends `prompt` to `agent`, whose reply runs `touch perm-was-granted.txt`: waits for
    /// the permission dialog, saves it as `file`, and fails when the file was made without an
    /// answer. With `late`, a prompt taken late is no failure (see `send_maybe_late`); the
    /// note says so.
    pub fn permission_dialog(
        &self,
        agent: &str,
        prompt: &str,
        file: &str,
        late: bool,
    ) -> Result<String, String> {
        let note = if late {
            send_maybe_late(self.project, agent, prompt)?
        } else {
            send(self.project, agent, prompt).map(|_| String::new())?
        };
        let s = self.wait_state(agent, AgentState::NeedsInput, TURN, |_| true)?;
        self.save(file, &s);
        if self.project.root().join("perm-was-granted.txt").exists() {
            return Err("the command ran without approval".into());
        }
        Ok(note)
    }
}

/// Returns how many requests the fake model server of `agent` logged; fails when its log
/// holds `key`.
pub fn key_not_logged(agent: &str, key: &str) -> Result<String, String> {
    let log = std::fs::read_to_string(log_path(agent)).unwrap_or_default();
    if log.contains(key) {
        return Err("the key is in the request log".into());
    }
    Ok(format!("{} requests logged", log.lines().count()))
}

/// Returns the directories screens go to: the target's tmp dir always, the repository's
/// fixtures with `BATON_CONFORMANCE_UPDATE_FIXTURES=1`.
pub fn out_dirs(cli: &str, version: &str) -> Vec<PathBuf> {
    let v = version
        .split_whitespace()
        .find(|w| w.chars().next().is_some_and(|c| c.is_ascii_digit()))
        .unwrap_or("unknown");
    let name = format!("{cli}-{v}");
    let mut dirs = vec![
        PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
            .join("conformance")
            .join(&name),
    ];
    if std::env::var_os("BATON_CONFORMANCE_UPDATE_FIXTURES").is_some_and(|v| v == "1") {
        dirs.push(
            PathBuf::from(env!("CARGO_MANIFEST_DIR"))
                .join("../../tests/fixtures/real")
                .join(&name),
        );
    }
    dirs
}

/// Returns a screen without its trailing blank lines and spaces, for messages.
pub fn trim(screen: &str) -> String {
    screen
        .lines()
        .map(str::trim_end)
        .filter(|l| !l.is_empty())
        .collect::<Vec<_>>()
        .join("\n")
}

/// Returns the main (tool-offering) requests at step 0 whose prompt contains `marker`.
pub fn first_steps<'a>(requests: &'a [Recorded], marker: &str) -> Vec<&'a Recorded> {
    requests
        .iter()
        .filter(|r| {
            r.turn.as_ref().is_some_and(|t| {
                t.kind == "main"
                    && t.step == 0
                    && t.prompt.as_deref().is_some_and(|p| p.contains(marker))
            })
        })
        .collect()
}

/// Runs `baton send AGENT -` with `text` on stdin; returns its stdout or the failure.
pub fn send(project: &TestProject, agent: &str, text: &str) -> Result<String, String> {
    use std::io::Write;
    let mut child = project
        .cmd(&["send", agent, "-"])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| e.to_string())?;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(text.as_bytes())
        .map_err(|e| e.to_string())?;
    let out = child.wait_with_output().map_err(|e| e.to_string())?;
    if out.status.success() {
        let said = String::from_utf8_lossy(&out.stdout).into_owned();
        // How it was taken (Enter presses, the state that proved it), for the log.
        eprintln!("[conformance] baton send {agent}: {}", said.trim());
        Ok(said)
    } else {
        Err(format!(
            "baton send {agent} failed ({}): {}{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ))
    }
}

/// Runs `baton send` for a check whose subject is what follows the prompt: "not delivered"
/// (exit 3) is not a failure yet, since the prompt may be taken late; the check's own wait
/// decides. Returns a note with baton's verdict when it said so.
#[allow(dead_code)]
pub fn send_maybe_late(project: &TestProject, agent: &str, text: &str) -> Result<String, String> {
    match send(project, agent, text) {
        Ok(_) => Ok(String::new()),
        Err(e) if e.contains("(exit status: 3)") => {
            let why = e.lines().next().unwrap_or("").to_owned();
            eprintln!("[conformance] {agent}: {why}; waiting for the screen anyway");
            Ok(format!(" (taken late: {why})"))
        }
        Err(e) => Err(e),
    }
}

/// Checks that a prompt reached the model exactly once: one first-step request carries it,
/// and its text holds the prompt exactly (`exact`: is exactly the prompt). Claude Code sends
/// a pasted prompt inside `<pasted_content id="…">` tags after its own reminders, hence
/// "holds" for it.
pub fn check_once(
    server: &FakeModel,
    marker: &str,
    sent: &str,
    exact: bool,
) -> Result<String, String> {
    let requests = server.requests();
    let firsts = first_steps(&requests, marker);
    if firsts.len() != 1 {
        return Err(format!(
            "{} first-step requests carry {marker}, want 1",
            firsts.len()
        ));
    }
    let prompt = firsts[0]
        .turn
        .as_ref()
        .and_then(|t| t.prompt.clone())
        .unwrap_or_default();
    let ok = if exact {
        prompt == sent
    } else {
        prompt.contains(sent)
    };
    if !ok {
        let from = prompt.find(marker).unwrap_or(0);
        let seen: String = prompt[from..].chars().take(300).collect();
        return Err(format!(
            "the model got a different text ({} bytes, sent {}); from the marker on: {seen:?}",
            prompt.len(),
            sent.len(),
        ));
    }
    // The whole conversation holds it once: a second submission would be a second message.
    let last = requests
        .iter()
        .rev()
        .find(|r| r.turn.as_ref().is_some_and(|t| t.kind == "main"))
        .unwrap();
    let body = last.body.to_string();
    let count = body.matches(marker).count();
    if count != 1 {
        return Err(format!(
            "the last request holds {marker} {count} times, want 1"
        ));
    }
    Ok(format!("{} bytes, once", sent.len()))
}

/// Waits until no request has arrived for `quiet`, then checks none carries `marker`'s
/// successor: used to show an extra Enter on an empty prompt box submits nothing.
pub fn no_new_request(
    server: &FakeModel,
    before: usize,
    quiet: Duration,
) -> Result<String, String> {
    let start = Instant::now();
    while start.elapsed() < quiet {
        let n = server.requests().len();
        if n != before {
            return Err(format!(
                "{} request(s) arrived after an Enter on an empty box",
                n - before
            ));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    Ok(format!("no request within {quiet:?}"))
}

/// Waits (10 s at most) until the journal holds `n` agent-turn-end entries of `agent`;
/// returns them. A failure lists every agent-turn-end entry.
pub fn turn_ends(
    project: &TestProject,
    agent: &str,
    n: usize,
) -> Result<Vec<serde_json::Value>, String> {
    let what = format!("{n} agent-turn-end entries");
    wait_for(Duration::from_secs(10), &what, || {
        let e: Vec<_> = journal(project, "agent-turn-end")
            .into_iter()
            .filter(|e| e["actor"] == agent)
            .collect();
        (e.len() >= n).then_some(e)
    })
    .map_err(|e| {
        let all = journal(project, "agent-turn-end");
        format!(
            "{e}; the journal has {} agent-turn-end entries: {all:?}",
            all.len()
        )
    })
}

/// Returns whether the journal (JSON lines mirror) holds any of `secrets`.
pub fn journal_holds(project: &TestProject, secrets: &[&str]) -> bool {
    let text =
        std::fs::read_to_string(project.root().join(".baton/journal.jsonl")).unwrap_or_default();
    secrets.iter().any(|s| text.contains(s))
}

/// Returns the journal entries (JSON lines mirror) with this action.
pub fn journal(project: &TestProject, action: &str) -> Vec<serde_json::Value> {
    std::fs::read_to_string(project.root().join(".baton/journal.jsonl"))
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|v| v["action"] == action)
        .collect()
}

/// A French prompt with the characters that trip terminals.
pub const FRENCH: &str = "Corrige le bogue « à la façon » de l'équipe : évite les accents perdus, \
les guillemets \"doubles\", les `backticks` et $(echo pas ça). Merci, où qu'on soit — déjà prêt ?";

/// Returns a multi-line prompt.
pub fn multiline(marker: &str) -> String {
    format!(
        "{marker} first line\nsecond line with  two spaces\n\nfourth line after a blank\n  indented last line"
    )
}

/// Returns a prompt of `size` bytes (ASCII lines), starting with the marker.
pub fn big(marker: &str, size: usize) -> String {
    let mut s = format!("{marker} a long prompt follows.\n");
    let mut i = 0;
    while s.len() < size {
        let line = format!("line {i:04}: the quick brown fox jumps over the lazy dog {i}\n");
        s.push_str(&line);
        i += 1;
    }
    s.truncate(size - 1);
    s.push('.');
    s
}

/// Returns where the fake model server of an agent logs its requests (kept after the run,
/// for a look when a check fails): `$CARGO_TARGET_TMPDIR/conformance/<agent>.requests.jsonl`,
/// emptied first.
pub fn fresh_log_path(agent: &str) -> PathBuf {
    let p = log_path(agent);
    let _ = std::fs::create_dir_all(p.parent().unwrap());
    let _ = std::fs::remove_file(&p);
    p
}

/// Returns the request log of an agent's fake model server.
pub fn log_path(agent: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
        .join("conformance")
        .join(format!("{agent}.requests.jsonl"))
}

/// The fake model's answer to a prompt that carries `marker`: `ack <marker>`.
pub fn ack(marker: &str) -> Reply {
    Reply::text(&format!("ack {marker}"))
}

/// How a CLI's copy of a sent prompt compares with what was sent.
#[derive(Clone, Copy)]
pub enum Received {
    /// The prompt is exactly what was sent.
    Exact,
    /// The prompt holds what was sent (Claude Code wraps a paste in tags after its reminders).
    Holds,
    /// Exact, but for the one space opencode 1.18 may add after a paste (seen after
    /// multi-line and long pastes).
    ExactButASpace,
}

/// The delivery checks every CLI shares: a multi-line, a French and a 10 KiB prompt, each
/// carrying a marker the fake model acknowledges.
pub struct Deliveries {
    pub multi: &'static str,
    pub french: &'static str,
    pub big: &'static str,
    /// How the CLI's copy of a prompt compares with what was sent.
    pub received: Received,
}

impl Deliveries {
    /// The fake model's rules for the three prompts.
    pub fn rules(&self) -> Vec<Rule> {
        [self.multi, self.french, self.big]
            .into_iter()
            .map(|m| Rule::new(m, vec![ack(m)]))
            .collect()
    }

    /// A script of the rules for the three prompts, then `rules`.
    pub fn script(&self, rules: Vec<Rule>) -> Script {
        Script {
            rules: [self.rules(), rules].concat(),
            ..Script::default()
        }
    }

    /// Checks an extra Enter on `agent`'s empty prompt box submits nothing, then runs the
    /// three checks, in order, each waiting for the finished turn that acknowledged its
    /// marker. The multi-line check's screen is saved as `multi_file`; with `finished_note`, a
    /// check that the finished state was detected after that turn follows it.
    pub fn check(
        &self,
        report: &mut Report,
        screens: &Screens<'_>,
        server: &FakeModel,
        agent: &str,
        multi_file: &str,
        finished_note: Option<&str>,
    ) {
        let project = screens.project;
        report.check("extra Enter on an empty box submits nothing", || {
            extra_enter(project, server, agent)
        });
        let finished = |marker: &str| screens.finished(agent, marker);
        let received = self.received;
        let suffix = match received {
            Received::ExactButASpace => " (+1 space)",
            _ => "",
        };
        let once = |marker: &str, sent: &str| match received {
            Received::Exact => check_once(server, marker, sent, true),
            Received::Holds => check_once(server, marker, sent, false),
            Received::ExactButASpace => once_but_a_space(server, marker, sent),
        };
        let mut screen = None;
        report.check(
            &format!("send multi-line prompt: submitted once, exact{suffix}"),
            || {
                let multi = multiline(self.multi);
                send(project, agent, &multi)?;
                screen = Some(finished(self.multi)?);
                once(self.multi, &multi)
            },
        );
        if let Some(s) = &screen {
            screens.save(multi_file, s);
        }
        if let Some(note) = finished_note {
            report.check("finished detected after a turn", || {
                finished(self.multi).map(|_| note.to_owned())
            });
        }
        report.check(
            &format!("send French prompt: submitted once, exact{suffix}"),
            || {
                let p = format!("{} {FRENCH}", self.french);
                send(project, agent, &p)?;
                finished(self.french)?;
                once(self.french, &p)
            },
        );
        report.check(
            &format!("send 10 KiB prompt: submitted once, exact{suffix}"),
            || {
                let p = big(self.big, 10 * 1024);
                send(project, agent, &p)?;
                finished(self.big)?;
                once(self.big, &p)
            },
        );
    }
}

/// The markers of the checks Gemini CLI and opencode share beyond delivery: a slow reply
/// (working), a task reported through the shell tool, a command that needs a permission, and
/// an HTTP 429.
pub struct ShellChecks {
    pub slow: &'static str,
    pub task: &'static str,
    pub perm: &'static str,
    pub limit: &'static str,
}

impl ShellChecks {
    /// The fake model's rules for them; `shell(command)` is the CLI's shell tool call.
    pub fn rules(&self, shell: impl Fn(&str) -> Reply) -> Vec<Rule> {
        vec![
            slow_ack(self.slow),
            tool_turn(self.task, shell("baton task done T-001")),
            tool_turn(self.perm, shell("touch perm-was-granted.txt")),
            Rule::new(self.limit, vec![status(429)]),
        ]
    }
}

/// Starts a fake model server with `script`, logging to `fresh_log_path(log)`.
pub fn serve(script: Script, log: &str) -> FakeModel {
    FakeModel::start(script, Some(fresh_log_path(log))).unwrap()
}

/// The rule of a slow reply: `ack <marker> after a long think`, 5 s late.
pub fn slow_ack(marker: &str) -> Rule {
    Rule::new(
        marker,
        vec![Reply {
            text: Some(format!("ack {marker} after a long think")),
            delay_ms: 5000,
            ..Reply::default()
        }],
    )
}

/// The rule of a turn that makes one tool call, then answers `ack <marker>`.
pub fn tool_turn(marker: &str, call: Reply) -> Rule {
    Rule::new(marker, vec![call, ack(marker)])
}

/// A reply with an HTTP error status and no body.
pub fn status(code: u16) -> Reply {
    Reply {
        status: Some(code),
        ..Reply::default()
    }
}

/// Checks a pasted prompt reached the model once, exact but for one space added at its end.
fn once_but_a_space(server: &FakeModel, marker: &str, sent: &str) -> Result<String, String> {
    check_once(server, marker, sent, false)?;
    let requests = server.requests();
    let got = first_steps(&requests, marker)[0]
        .turn
        .as_ref()
        .and_then(|t| t.prompt.clone())
        .unwrap_or_default();
    match got.strip_suffix(' ') {
        Some(g) if g == sent => Ok(format!("{} bytes, once, a space added", sent.len())),
        _ if got == sent => Ok(format!("{} bytes, once, exact", sent.len())),
        _ => Err(format!(
            "the model got {} bytes, sent {}; ends {:?}",
            got.len(),
            sent.len(),
            got.chars().rev().take(20).collect::<String>()
        )),
    }
}

/// Runs `baton run plan.md --quiet` until it ends (killed after 240 s); returns whether it
/// ended in time, and its output.
#[allow(dead_code)]
pub fn run_plan(
    project: &TestProject,
) -> Result<
    (
        Result<std::process::ExitStatus, String>,
        std::process::Output,
    ),
    String,
> {
    let mut child = project
        .cmd(&["run", "plan.md", "--quiet"])
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .map_err(|e| e.to_string())?;
    let ended = wait_for(Duration::from_secs(240), "baton run to end", || {
        child.try_wait().ok().flatten()
    });
    if ended.is_err() {
        let _ = child.kill();
    }
    let out = child.wait_with_output().map_err(|e| e.to_string())?;
    Ok((ended, out))
}

/// A `baton run plan.md` that ended (or was killed after 240 s): how, its output, then the
/// agent's screen and the journal.
pub struct PlanRun {
    pub ended: Result<std::process::ExitStatus, String>,
    pub out: std::process::Output,
    pub screen: String,
    pub journal: Vec<serde_json::Value>,
}

impl PlanRun {
    /// Runs the project's plan (see `run_plan`), then reads `agent`'s screen and the journal.
    pub fn of(project: &TestProject, agent: &str) -> Result<PlanRun, String> {
        let (ended, out) = run_plan(project)?;
        Ok(PlanRun {
            ended,
            out,
            screen: project.capture(agent),
            journal: project.journal(),
        })
    }

    /// What a failure shows: baton run's output, the journal in brief and the screen.
    pub fn context(&self) -> String {
        let brief: Vec<String> = self
            .journal
            .iter()
            .map(|e| {
                format!(
                    "{} {} {} {}",
                    e["actor"], e["action"], e["task"], e["result"]
                )
            })
            .collect();
        format!(
            "\nbaton run: {}\n{}\njournal:\n{}\nscreen:\n{}",
            String::from_utf8_lossy(&self.out.stdout),
            String::from_utf8_lossy(&self.out.stderr),
            brief.join("\n"),
            trim(&self.screen)
        )
    }

    /// Fails, with the context, unless the run ended in time.
    pub fn ended_in_time(&self) -> Result<(), String> {
        match &self.ended {
            Ok(_) => Ok(()),
            Err(e) => Err(format!("{e}{}", self.context())),
        }
    }
}

/// Returns the full path of the baton binary under test.
pub fn baton_path() -> String {
    let baton = std::fs::canonicalize(crate::common::baton_bin()).unwrap();
    baton.display().to_string()
}

/// Runs `baton up --no-daemon`; returns its "ready" lines, or its output when it failed.
pub fn up_ready(project: &TestProject) -> Result<String, String> {
    let out = project.run(&["up", "--no-daemon"]);
    if !out.status.success() {
        return Err(format!(
            "baton up failed: {}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    Ok(String::from_utf8_lossy(&out.stdout)
        .lines()
        .filter(|l| l.contains("ready"))
        .map(str::trim)
        .collect::<Vec<_>>()
        .join("; "))
}

/// Presses Enter in `agent`'s empty prompt box; passes when no request follows for 1.5 s.
pub fn extra_enter(
    project: &TestProject,
    server: &FakeModel,
    agent: &str,
) -> Result<String, String> {
    let before = server.requests().len();
    project.tmux(&["send-keys", "-t", &project.pane(agent), "Enter"]);
    no_new_request(server, before, Duration::from_millis(1500))
}

/// Writes CODEX_HOME/config.toml: `model_provider = "fake"`, then `settings` (top-level keys,
/// then any tables), then the fake provider: the fake model server's Responses API at
/// `base_url`, the key in `FAKE_API_KEY`, no request retried and `stream_retries` streams.
pub fn write_codex_config(home: &Path, settings: &str, base_url: &str, stream_retries: u32) {
    std::fs::create_dir_all(home).unwrap();
    let cfg = format!(
        r#"model_provider = "fake"
{settings}
[model_providers.fake]
name = "Fake"
base_url = "{base_url}/v1"
wire_api = "responses"
env_key = "FAKE_API_KEY"
requires_openai_auth = false
request_max_retries = 0
stream_max_retries = {stream_retries}
"#
    );
    std::fs::write(home.join("config.toml"), cfg).unwrap();
}

/// The environment of a Claude Code with the private HOME `home`, offline but for the fake
/// model `server`.
pub fn claude_env(home: &Path, server: &FakeModel) -> Vec<(&'static str, String)> {
    vec![
        ("HOME", home.display().to_string()),
        ("ANTHROPIC_BASE_URL", server.base_url()),
        ("DISABLE_TELEMETRY", "1".into()),
        ("CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC", "1".into()),
        ("DISABLE_AUTOUPDATER", "1".into()),
        ("DISABLE_ERROR_REPORTING", "1".into()),
        ("IS_SANDBOX", "1".into()),
    ]
}

/// The unified rate-limit headers of a subscriber at `util` of the 5-hour window.
pub fn unified(status: &str, util: &str, reset: u64) -> BTreeMap<String, String> {
    [
        ("anthropic-ratelimit-unified-status", status.to_owned()),
        ("anthropic-ratelimit-unified-5h-status", status.to_owned()),
        (
            "anthropic-ratelimit-unified-5h-utilization",
            util.to_owned(),
        ),
        ("anthropic-ratelimit-unified-5h-reset", reset.to_string()),
        (
            "anthropic-ratelimit-unified-7d-status",
            "allowed".to_owned(),
        ),
        (
            "anthropic-ratelimit-unified-7d-utilization",
            "0.40".to_owned(),
        ),
        (
            "anthropic-ratelimit-unified-7d-reset",
            (reset + 86_400 * 3).to_string(),
        ),
        (
            "anthropic-ratelimit-unified-representative-claim",
            "five_hour".to_owned(),
        ),
        ("anthropic-ratelimit-unified-reset", reset.to_string()),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v))
    .collect()
}

/// Returns the 5-hour window's reset for the subscription checks: the whole hour three hours
/// on from this one (Unix seconds).
pub fn reset_in_3h() -> u64 {
    (std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        / 3600
        + 3)
        * 3600
}

/// The Anthropic API's answer to a subscriber out of quota: HTTP 429, the unified status
/// rejected until `reset`, retry after an hour.
pub fn usage_limit(reset: u64) -> Reply {
    let mut limit = Reply {
        status: Some(429),
        headers: unified("rejected", "1.0", reset),
        error_body: Some(
            serde_json::json!({"type": "error", "error": {"type": "rate_limit_error", "message": "This request would exceed your account's rate limit. Please try again later."}}),
        ),
        ..Reply::default()
    };
    limit.headers.insert("retry-after".into(), "3600".into());
    limit
}
