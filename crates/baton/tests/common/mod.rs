//! Test support: a scratch project with its own private tmux server, fake agents, and
//! helpers to run `baton` and wait for conditions with a deadline.

#![allow(dead_code)]

pub mod browser;
pub mod sshd;

use std::path::Path;
use std::path::PathBuf;
use std::process::Child;
use std::process::Command;
use std::process::Output;
use std::process::Stdio;
use std::sync::atomic::AtomicU32;
use std::sync::atomic::Ordering;
use std::time::Duration;
use std::time::Instant;

/// The `baton` binary under test.
pub fn baton_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_baton"))
}

static COUNTER: AtomicU32 = AtomicU32::new(0);

/// A scratch project: a temporary directory with a baton.toml, and a private tmux server that
/// is killed when the value is dropped.
pub struct TestProject {
    pub dir: tempfile::TempDir,
    pub socket: String,
    pub session: String,
}

impl TestProject {
    /// Creates an empty project (no baton.toml yet) with a unique socket and session.
    pub fn new() -> TestProject {
        let n = COUNTER.fetch_add(1, Ordering::SeqCst);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.subsec_nanos() % 100_000);
        let id = format!("{}-{n}-{nanos}", std::process::id());
        TestProject {
            dir: tempfile::Builder::new()
                .prefix("baton-test-")
                .tempdir()
                .unwrap(),
            socket: format!("baton-test-{id}"),
            session: format!("t{id}"),
        }
    }

    /// Returns the project root.
    pub fn root(&self) -> &Path {
        self.dir.path()
    }

    /// Writes baton.toml: the session header, then `agents` verbatim.
    pub fn write_config(&self, agents: &str) {
        let text = format!(
            "[session]\nname = \"{}\"\nsocket = \"{}\"\nwidth = 120\nheight = 40\n\n{agents}",
            self.session, self.socket
        );
        std::fs::write(self.root().join("baton.toml"), text).unwrap();
    }

    /// Writes a fake-agent script file and returns its path.
    pub fn write_script(&self, name: &str, toml: &str) -> PathBuf {
        let path = self.root().join(format!("{name}.fake.toml"));
        std::fs::write(&path, toml).unwrap();
        path
    }

    /// Returns an `[[agent]]` table running the fake agent with a script written for it.
    /// The script gets `persona`, `log` and `events` set to files in the project.
    pub fn fake_agent(&self, name: &str, cli: &str, script_extra: &str) -> String {
        let script = self.write_script(
            name,
            &format!(
                "persona = \"{cli}\"\nlog = \"{}\"\nevents = \"{}\"\n{}{script_extra}",
                self.prompt_log(name).display(),
                self.events_log(name).display(),
                if script_extra.contains("start_delay_ms") {
                    ""
                } else {
                    "start_delay_ms = 100\n"
                }
            ),
        );
        format!(
            "[[agent]]\nname = \"{name}\"\ncli = \"{cli}\"\ncommand = \"{} fake-agent --script {}\"\n\n",
            baton_bin().display(),
            script.display()
        )
    }

    /// Returns the prompt log of a fake agent.
    pub fn prompt_log(&self, agent: &str) -> PathBuf {
        self.root().join(format!("{agent}.prompts.log"))
    }

    /// Returns the event log of a fake agent.
    pub fn events_log(&self, agent: &str) -> PathBuf {
        self.root().join(format!("{agent}.events.log"))
    }

    /// Returns a `baton` command running in the project, with a clean tmux config.
    pub fn cmd(&self, args: &[&str]) -> Command {
        let mut c = baton_command(args);
        c.current_dir(self.root());
        c
    }

    /// Starts `baton` in the project in the background: stdin closed, stdout and stderr set up
    /// by `output` (`Stdio::null` to throw them away, `Stdio::piped` to keep them for
    /// `wait_with_output`).
    pub fn spawn(&self, args: &[&str], output: fn() -> Stdio) -> Child {
        self.cmd(args)
            .stdin(Stdio::null())
            .stdout(output())
            .stderr(output())
            .spawn()
            .unwrap()
    }

    /// Runs `baton` and returns its output.
    pub fn run(&self, args: &[&str]) -> Output {
        self.cmd(args).output().unwrap()
    }

    /// Runs `baton` and returns its exit code and its two streams as text.
    pub fn exec(&self, args: &[&str]) -> Ran {
        Ran::from(self.run(args))
    }

    /// Runs `baton` with `input` on its stdin; returns its exit code and its two streams.
    pub fn exec_with_stdin(&self, args: &[&str], input: &[u8]) -> Ran {
        let mut child = self
            .cmd(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        std::io::Write::write_all(&mut child.stdin.take().unwrap(), input).unwrap();
        Ran::from(child.wait_with_output().unwrap())
    }

    /// Creates a project whose baton.toml has one fake agent (see `fake_agent`).
    pub fn with_fake_agent(name: &str, cli: &str, script_extra: &str) -> TestProject {
        TestProject::with_fake_agents(&[(name, cli, script_extra)])
    }

    /// Creates a project whose baton.toml has these fake agents, each `(name, cli,
    /// script_extra)` (see `fake_agent`).
    pub fn with_fake_agents(agents: &[(&str, &str, &str)]) -> TestProject {
        let p = TestProject::new();
        let tables: String = agents
            .iter()
            .map(|(name, cli, extra)| p.fake_agent(name, cli, extra))
            .collect();
        p.write_config(&tables);
        p
    }

    /// Writes a file in the project (`plan.md`, a script…) and returns its path.
    pub fn write_file(&self, name: &str, text: &str) -> PathBuf {
        let path = self.root().join(name);
        std::fs::write(&path, text).unwrap();
        path
    }

    /// Writes `plan.md` in the project: the Markdown checklist `baton run`/`import` read.
    pub fn write_plan(&self, text: &str) -> PathBuf {
        self.write_file("plan.md", text)
    }

    /// Reads a file of the project (`baton.toml`, `REPORT.md`…) as text.
    #[track_caller]
    pub fn read_file(&self, name: &str) -> String {
        let path = self.root().join(name);
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()))
    }

    /// Runs `baton doctor --json`: its exit code and its checks.
    pub fn doctor(&self) -> (Option<i32>, serde_json::Value) {
        let out = self.exec(&["doctor", "--json"]);
        let checks =
            serde_json::from_str(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", out.both()));
        (out.code, checks)
    }

    /// Returns the check `name` of `baton doctor --json` after checking that its `ok` is
    /// `ok`; panics, showing the check, otherwise.
    #[track_caller]
    pub fn expect_check(&self, name: &str, ok: bool) -> serde_json::Value {
        let check = self.doctor_check(name);
        assert_eq!(check["ok"], ok, "{check}");
        check
    }

    /// Returns the check `name` of `baton doctor --json`; panics when there is none.
    #[track_caller]
    pub fn doctor_check(&self, name: &str) -> serde_json::Value {
        let (_, checks) = self.doctor();
        find_check(&checks, name)
            .cloned()
            .unwrap_or_else(|| panic!("no check `{name}` in {checks:#}"))
    }

    /// Runs `baton` (a command with `--json`) and parses its output.
    pub fn json(&self, args: &[&str]) -> serde_json::Value {
        serde_json::from_str(&self.ok(args)).unwrap()
    }

    /// Returns the whole journal, oldest first.
    pub fn journal(&self) -> Vec<serde_json::Value> {
        journal_at(self.root())
    }

    /// Returns the journal entries with this action, oldest first.
    pub fn journaled(&self, action: &str) -> Vec<serde_json::Value> {
        self.journal()
            .into_iter()
            .filter(|j| j["action"] == action)
            .collect()
    }

    /// Returns a task's status (`COMPLETED`…).
    pub fn status(&self, id: &str) -> String {
        self.json(&["task", "show", id, "--json"])["status"]
            .as_str()
            .unwrap_or("")
            .to_owned()
    }

    /// Runs `baton` and panics with its output unless it succeeds; returns stdout.
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.run(args);
        assert!(
            out.status.success(),
            "baton {args:?} failed ({}):\nstdout:\n{}\nstderr:\n{}",
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        String::from_utf8(out.stdout).unwrap()
    }

    /// Runs a tmux command on the project's private server.
    pub fn tmux(&self, args: &[&str]) -> Output {
        Command::new("tmux")
            .args(["-f", "/dev/null", "-L", &self.socket])
            .args(args)
            .output()
            .unwrap()
    }

    /// Returns the pane id of an agent's window; panics when there is none.
    pub fn pane(&self, agent: &str) -> String {
        self.try_pane(agent)
            .unwrap_or_else(|| panic!("no window for {agent}"))
    }

    /// Returns the pane id of an agent's window, if it has one.
    #[allow(dead_code)]
    pub fn try_pane(&self, agent: &str) -> Option<String> {
        let out = self.tmux(&[
            "list-panes",
            "-s",
            "-t",
            &self.session,
            "-F",
            "#{window_name} #{pane_id}",
        ]);
        String::from_utf8_lossy(&out.stdout)
            .lines()
            .find_map(|l| l.strip_prefix(&format!("{agent} ")).map(str::to_owned))
    }

    /// Returns the visible screen of an agent's pane.
    pub fn capture(&self, agent: &str) -> String {
        let pane = self.pane(agent);
        String::from_utf8_lossy(&self.tmux(&["capture-pane", "-p", "-J", "-t", &pane]).stdout)
            .into_owned()
    }
}

impl Drop for TestProject {
    fn drop(&mut self) {
        // Stops a daemon `baton up` started (and the session), then the whole server.
        let _ = self.cmd(&["down"]).output();
        let _ = self.tmux(&["kill-server"]);
    }
}

/// What a finished command printed: its exit code (`None` when a signal ended it) and its
/// two streams as text.
pub struct Ran {
    pub code: Option<i32>,
    pub stdout: String,
    pub stderr: String,
}

impl From<Output> for Ran {
    fn from(out: Output) -> Ran {
        Ran {
            code: out.status.code(),
            stdout: String::from_utf8_lossy(&out.stdout).into_owned(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        }
    }
}

impl Ran {
    /// Both streams, for a failed assertion's message.
    pub fn both(&self) -> String {
        format!("stdout:\n{}\nstderr:\n{}", self.stdout, self.stderr)
    }

    /// Panics, showing both streams, unless the command exited with `code`.
    #[track_caller]
    pub fn expect_code(&self, code: i32) -> &Ran {
        assert_eq!(self.code, Some(code), "{}", self.both());
        self
    }
}

/// Returns the check `name` among the checks `baton doctor --json` printed.
pub fn find_check<'a>(checks: &'a serde_json::Value, name: &str) -> Option<&'a serde_json::Value> {
    checks
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == name)
}

/// Returns the `action` of every entry of a JSON array (the journal, a task's or the lead's
/// history), in order.
pub fn actions(entries: &serde_json::Value) -> Vec<&str> {
    entries
        .as_array()
        .unwrap()
        .iter()
        .map(|e| e["action"].as_str().unwrap())
        .collect()
}

/// Panics unless `text` contains every one of `needles`, showing the text and the first one
/// missing.
#[track_caller]
pub fn assert_has(text: &str, needles: &[&str]) {
    if let Some(missing) = needles.iter().find(|n| !text.contains(**n)) {
        panic!("{missing:?} not found in:\n{text}");
    }
}

/// Panics when `text` contains any of `needles`, showing the text and the one found.
#[track_caller]
pub fn assert_lacks(text: &str, needles: &[&str]) {
    if let Some(found) = needles.iter().find(|n| text.contains(**n)) {
        panic!("{found:?} should not be in:\n{text}");
    }
}

/// Returns the first line of `text` that starts with `prefix` and contains every one of
/// `needles`; panics, showing the text, when there is none.
#[track_caller]
pub fn line_with<'a>(text: &'a str, prefix: &str, needles: &[&str]) -> &'a str {
    text.lines()
        .find(|l| l.starts_with(prefix) && needles.iter().all(|n| l.contains(n)))
        .unwrap_or_else(|| panic!("no line starting {prefix:?} with {needles:?} in:\n{text}"))
}

/// Waits until `cond` holds, checking every 20 ms, and panics with `what` after `timeout`.
pub fn wait_until(timeout: Duration, what: &str, mut cond: impl FnMut() -> bool) {
    let start = Instant::now();
    while !cond() {
        assert!(
            start.elapsed() < timeout,
            "timed out after {timeout:?} waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Returns the prompts a fake agent logged.
pub fn prompts(path: &Path) -> Vec<Vec<u8>> {
    if !path.exists() {
        return Vec::new();
    }
    baton_fake_agent::read_prompt_log(path).unwrap()
}

/// Two hours from now, as Claude prints a reset time (`3:45pm`).
pub fn reset_in_two_hours() -> String {
    jiff::Zoned::now()
        .checked_add(jiff::SignedDuration::from_hours(2))
        .unwrap()
        .strftime("%-I:%M%P")
        .to_string()
}

/// Kills a private tmux server when dropped (for tests whose project is not a TestProject).
pub struct KillServer(pub String);

impl Drop for KillServer {
    fn drop(&mut self) {
        if !self.0.is_empty() {
            let _ = Command::new("tmux")
                .args(["-L", &self.0, "kill-server"])
                .output();
        }
    }
}

/// Returns the tmux socket a project's baton.toml names (empty when none).
pub fn configured_socket(root: &Path) -> String {
    std::fs::read_to_string(root.join("baton.toml"))
        .unwrap_or_default()
        .lines()
        .find_map(|l| l.strip_prefix("socket = \""))
        .unwrap_or("")
        .trim_end_matches('"')
        .to_owned()
}

/// Returns a `baton` command with a clean tmux set-up: no tmux config of the user's, not
/// inside tmux.
pub fn baton_command(args: &[&str]) -> Command {
    let mut c = Command::new(baton_bin());
    c.args(args)
        .env("BATON_TMUX_CONFIG", "/dev/null")
        .env_remove("TMUX");
    c
}

/// Runs `cmd` to its end and returns its stdout; fails the test, with its stderr, when it
/// fails.
#[track_caller]
pub fn stdout_of(cmd: &mut Command) -> Vec<u8> {
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{cmd:?} failed ({}): {}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    out.stdout
}

/// The repository's root (two levels above this crate).
pub fn repo_root() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .and_then(Path::parent)
        .unwrap()
}

/// The saved screens under `tests/fixtures/`.
pub fn fixtures_dir() -> PathBuf {
    repo_root().join("tests/fixtures")
}

/// Every `.txt` file below `dir`, sorted (none when `dir` is missing).
pub fn txt_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd.flatten() {
            let path = e.path();
            if path.is_dir() {
                out.extend(txt_files(&path));
            } else if path.extension().is_some_and(|x| x == "txt") {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}

/// A saved real screen, `tests/fixtures/real/<cli>-<version>/<state>-<scenario>.txt`, read
/// as its name says.
pub struct RealCapture {
    /// `<cli>-<version>/<state>-<scenario>.txt`, to name it in a message.
    pub shown: String,
    pub cli: String,
    pub version: String,
    /// The state its name gives.
    pub expected: baton_core::AgentState,
    /// The CLI's built-in profile.
    pub profile: baton_core::Profile,
    pub screen: String,
}

/// Every saved real capture, by folder and file name.
pub fn real_captures() -> Vec<RealCapture> {
    let real = fixtures_dir().join("real");
    let mut out = Vec::new();
    for file in txt_files(&real) {
        // The folder right under real/ names the CLI and its version; a file beside the
        // folders is none of them.
        let mut parts = file.strip_prefix(&real).unwrap().iter();
        let (Some(folder), Some(_)) = (parts.next(), parts.next()) else {
            continue;
        };
        let folder = folder.to_string_lossy();
        let stem = file.file_stem().unwrap().to_string_lossy().into_owned();
        let shown = format!("{folder}/{stem}.txt");
        let (cli, version, expected) = baton_core::detector::fixture_name(&folder, &stem)
            .unwrap_or_else(|e| panic!("{shown}: {e}"));
        let profile = baton_core::profile::builtin_spec(&cli)
            .unwrap_or_else(|| panic!("{shown}: no built-in profile `{cli}`"))
            .resolve(&cli)
            .unwrap();
        let screen = String::from_utf8_lossy(&std::fs::read(&file).unwrap()).into_owned();
        out.push(RealCapture {
            shown,
            cli,
            version,
            expected,
            profile,
            screen,
        });
    }
    out
}

/// Runs `baton demo --quiet --dir <root> <extra>` to its end; returns its stdout, with the
/// demo's tmux server killed once the guard goes. Fails the test when the demo fails.
pub fn run_demo(root: &Path, extra: &[&str]) -> String {
    let out = baton_command(&["demo", "--quiet", "--dir", root.to_str().unwrap()])
        .args(extra)
        .output()
        .unwrap();
    let _guard = KillServer(configured_socket(root));
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(
        out.status.success(),
        "demo failed:\n{stdout}\n{}",
        String::from_utf8_lossy(&out.stderr)
    );
    stdout
}

/// Returns the whole journal of the project at `root`, oldest first.
pub fn journal_at(root: &Path) -> Vec<serde_json::Value> {
    let stdout = stdout_of(baton_command(&["log", "--json", "-n", "100000"]).current_dir(root));
    serde_json::from_slice::<serde_json::Value>(&stdout)
        .unwrap()
        .as_array()
        .unwrap()
        .clone()
}

/// Runs git in `dir` (no system config; the user's index is not refreshed, so tests can hash
/// it) and returns its trimmed output; fails the test when git fails.
pub fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .arg("-C")
        .arg(dir)
        .args(args)
        .env("GIT_CONFIG_NOSYSTEM", "1")
        .env("GIT_OPTIONAL_LOCKS", "0")
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

/// The fake-agent `run` line that reports the agent's task done (for a `[[task]]` step).
pub const REPORT_DONE: &str = "run = [\"baton task done \\\"$BATON_FAKE_TASK\\\"\"]\n";

/// A fake-agent step for every prompt: works `work_ms`, then reports its task done with
/// `extra` after the task ID (`""`, `" --note ok"`…).
pub fn done_step(work_ms: u32, extra: &str) -> String {
    format!(
        "[[task]]\nrepeat = true\nwork_ms = {work_ms}\nrun = [\"baton task done \\\"$BATON_FAKE_TASK\\\"{extra}\"]\n"
    )
}

/// Makes `root` a git repository whose `main` holds one commit ("initial", by Person) of
/// `files` (name, content).
pub fn init_repo(root: &Path, files: &[(&str, &str)]) {
    git(root, &["init", "-q", "-b", "main"]);
    git(root, &["config", "user.name", "Person"]);
    git(root, &["config", "user.email", "person@example.invalid"]);
    let mut add = vec!["add"];
    for (name, text) in files {
        std::fs::write(root.join(name), text).unwrap();
        add.push(name);
    }
    git(root, &add);
    git(root, &["commit", "-q", "-m", "initial"]);
}

/// Commits every change to the tracked files of `dir` as `who` (`who@x.invalid`).
pub fn commit_all_as(dir: &Path, who: &str, message: &str) {
    let name = format!("user.name={who}");
    let email = format!("user.email={who}@x.invalid");
    git(dir, &["-c", &name, "-c", &email, "commit", "-qam", message]);
}

/// `[[agent]]` tables for the four fake personas, each running `script`: claude, codex (which
/// swallows the first Enter of each prompt), amp and gemini.
pub fn four_personas(p: &TestProject, script: &str) -> String {
    p.fake_agent("claude", "claude", script)
        + &p.fake_agent(
            "codex",
            "codex",
            &format!("swallow_first_enter = true\n{script}"),
        )
        + &p.fake_agent("amp", "amp", script)
        + &p.fake_agent("gemini", "gemini", script)
}

/// Runs `baton <args>` in the project, which must fail; returns its stderr.
pub fn failing_stderr(p: &TestProject, args: &[&str]) -> String {
    let out = p.run(args);
    assert!(!out.status.success(), "baton {args:?} should have failed");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// The string `field` of every item of the JSON array `list` (panics on anything else).
pub fn strings_of<'a>(list: &'a serde_json::Value, field: &str) -> Vec<&'a str> {
    list.as_array()
        .unwrap()
        .iter()
        .map(|item| item[field].as_str().unwrap())
        .collect()
}

/// The first item of the JSON array `list` whose `field` is `value`.
pub fn item_where<'a>(
    list: &'a serde_json::Value,
    field: &str,
    value: &str,
) -> Option<&'a serde_json::Value> {
    list.as_array()?.iter().find(|item| item[field] == value)
}

/// Reads with `read` every 20 ms until `cond` holds of what it read, and returns that; after
/// `timeout`, panics with `what` and the last reading.
pub fn wait_for(
    timeout: Duration,
    what: &str,
    mut read: impl FnMut() -> String,
    cond: impl Fn(&str) -> bool,
) -> String {
    let start = Instant::now();
    loop {
        let got = read();
        if cond(&got) {
            return got;
        }
        assert!(
            start.elapsed() < timeout,
            "timed out after {timeout:?} waiting for {what}; last read:\n{got}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// A project whose baton.toml holds one fake agent, `name` (CLI `cli`, running `script`), and
/// then `tables`.
pub fn project_with_agent(name: &str, cli: &str, script: &str, tables: &str) -> TestProject {
    let p = TestProject::new();
    p.write_config(&format!("{}{tables}", p.fake_agent(name, cli, script)));
    p
}

/// A child process (`baton run`, `baton serve`…) killed, by its own pid, when dropped.
pub struct KillOnDrop(pub Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A task's status (`IN_PROGRESS`…), or "" while it does not exist (a plan not imported yet).
pub fn task_status(root: &Path, id: &str) -> String {
    let out = Command::new(baton_bin())
        .args(["task", "show", id, "--json"])
        .current_dir(root)
        .output()
        .unwrap();
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
    v["status"].as_str().unwrap_or("").to_owned()
}

/// A plan of four tasks for [`live_run`].
pub const FOUR_TASKS: &str =
    "- [ ] Design the tool\n- [ ] Write the code\n- [ ] Write the docs\n- [ ] Review it\n";

/// A project with two slow fake agents (claude leads, then codex) running `plan` in the
/// background: tasks take ten minutes, so the run stays busy while a dashboard is driven.
/// Returns once T-001 and T-002 are IN_PROGRESS; the run is killed with the guard.
pub fn live_run(plan: &str) -> (TestProject, KillOnDrop) {
    let p = TestProject::new();
    let slow = "[[task]]\nrepeat = true\nwork_ms = 600000\n";
    let agents = p.fake_agent("claude", "claude", slow) + &p.fake_agent("codex", "codex", slow);
    p.write_config(&format!(
        "{agents}[lead]\nchain = [\"claude\", \"codex\"]\n"
    ));
    p.write_plan(plan);
    let run = KillOnDrop(p.spawn(&["run", "plan.md", "--quiet"], Stdio::null));
    wait_until(Duration::from_secs(30), "two tasks in progress", || {
        task_status(p.root(), "T-001") == "IN_PROGRESS"
            && task_status(p.root(), "T-002") == "IN_PROGRESS"
    });
    (p, run)
}
