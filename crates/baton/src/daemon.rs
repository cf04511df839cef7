//! The daemon: the imperative shell around [`baton_core::engine::Engine`].
//!
//! One thread per event source feeds one channel (crossbeam `select!`, no async runtime):
//! the tmux control-mode connection (`%output` marks an agent's screen dirty, `%window-close`
//! means it died), a Unix socket in `.baton/` that CLI commands poke after they change the
//! store, a watch on the memory file, the verify runner, and a 200 ms ticker. The loop turns
//! each into engine events (a dirty screen is captured and detected at most every 100 ms),
//! then carries out the actions — committing every task change to the store before touching
//! tmux, so a daemon killed at any point restarts from the store with nothing lost and no
//! task dispatched twice.
//!
//! One daemon per project: `.baton/daemon.lock` is held (an OS file lock) while it runs.

use std::collections::BTreeMap;
use std::collections::BTreeSet;
use std::collections::VecDeque;
use std::fs::File;
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::os::unix::net::UnixListener;
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::path::PathBuf;
use std::time::Duration;
use std::time::Instant;

use baton_core::AgentState;
use baton_core::detect;
use baton_core::engine::Action;
use baton_core::engine::AgentSpec;
use baton_core::engine::Engine;
use baton_core::engine::Event;
use baton_core::engine::Key;
use baton_core::engine::Settings;
use baton_core::engine::TaskPurpose;
use baton_core::engine::prompt;
use baton_core::first_start::StartWatch;
use baton_core::first_start::Verdict;
use baton_core::task::Status;
use baton_core::task::TaskId;
use baton_core::vocab::AgentStatus;
use baton_core::vocab::JournalAction;
use baton_core::vocab::MergeState;
use baton_core::vocab::NoticeKind;
use baton_tmux::CaptureRange;
use baton_tmux::control::ControlConnection;
use baton_tmux::control::ControlEvent;
use crossbeam_channel::Sender;
use crossbeam_channel::select;

use crate::error::CliError;
use crate::error::CliResult;
use crate::error::io_error;
use crate::project::Project;
use crate::store::JournalEntry;
use crate::store::StatusChange;
use crate::store::Store;
use crate::store::TaskFilter;

/// The journal's name for the daemon.
pub const ACTOR: &str = "baton";

/// How the daemon runs.
pub struct Options {
    /// Return once the engine says everything is finished (`baton run`), or keep running.
    pub exit_when_finished: bool,
    /// Print a one-line status as the run goes.
    pub progress: bool,
    /// Started by `baton up` in the background: stop once the tmux session is gone for good.
    pub background: bool,
    /// `--ignore-usage`: quota holds no work back (an emergency; journaled).
    pub ignore_usage: bool,
}

/// How long the background daemon waits for a lost tmux session to come back.
const SESSION_GONE_AFTER: Duration = Duration::from_secs(5);

/// How long `baton run` waits for a lost tmux session before starting it again.
const SERVER_LOST_AFTER: Duration = Duration::from_secs(1);

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

/// How a run ended.
pub struct Outcome {
    /// The engine's summary line.
    pub summary: String,
}

enum Wake {
    Poke,
    /// A merge, or a batch of them, ended: (row, task, agent, how).
    Merged(Vec<(i64, TaskId, String, crate::worktrees::Batched)>),
    Verify {
        wave: u64,
        command: String,
        ok: bool,
        excerpt: String,
    },
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
fn lock(project: &Project) -> CliResult<File> {
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

/// Builds the engine's settings and agents from the configuration.
/// The working-directory line of an isolated agent's prompts; `None` for a shared agent.
fn worktree_note(
    project: &Project,
    a: &baton_core::config::AgentConfig,
    integration: Option<&str>,
) -> Option<String> {
    match (a.isolation, integration) {
        (baton_core::config::Isolation::Worktree, Some(b)) => {
            Some(crate::worktrees::prompt_note(project, a, b))
        }
        _ => None,
    }
}

fn engine_for(
    project: &Project,
    ignore_usage: bool,
    integration: Option<&str>,
) -> CliResult<Engine> {
    let c = &project.config;
    // Every agent merges through the queue, which verifies each merge: no waves.
    let all_isolated = !c.agents.is_empty()
        && c.agents
            .iter()
            .all(|a| a.isolation == baton_core::config::Isolation::Worktree);
    // Agents in worktrees read the memory file of the project root, by its full path.
    let memory_file = if c.uses_worktrees() {
        project
            .root
            .join(&c.session.memory_file)
            .display()
            .to_string()
    } else {
        c.session.memory_file.display().to_string()
    };
    let template = project.template()?;
    let mut texts = prompt::Texts::for_language(c.run.language());
    if c.uses_worktrees() {
        // An agent in a worktree finds the notes file and the handoff document by full path.
        let root = project.root.display().to_string();
        texts.prepare = texts.prepare.replace(
            crate::handoff::NOTES,
            &format!("{root}/{}", crate::handoff::NOTES),
        );
    }
    // The handoff document is in the reports directory (by full path from a worktree).
    texts.takeover = texts
        .takeover
        .replace("{file}", &crate::handoff::takeover_file(project));
    let settings = Settings {
        stuck_after_ms: c.run.stuck_after_secs * 1000,
        max_attempts: c.run.max_attempts,
        warn_percent: f64::from(c.quota.warn),
        critical_percent: f64::from(c.quota.critical),
        auto_stop: c.quota.auto_stop,
        ignore_usage,
        lead_chain: c.lead.chain.clone(),
        prepare_at: f64::from(c.lead.prepare_at),
        handoff_at: f64::from(c.lead.handoff_at),
        return_below: f64::from(c.lead.return_below),
        return_after_reset: c.lead.return_after_reset,
        notes_deadline_ms: c.lead.notes_deadline_secs.saturating_mul(1000),
        verify_commands: if all_isolated {
            Vec::new()
        } else {
            c.verify.commands.clone()
        },
        max_fix_cycles: c.verify.max_fix_cycles,
        template,
        memory_file,
        texts,
        test_tasks: c.run.test_tasks,
        // How prompts name baton: a login shell (Codex's) may not find it by name.
        baton_cmd: crate::baton_cmd::lookup().command(),
        baton_path: crate::baton_cmd::lookup().path(),
        ..Settings::default()
    };
    let agents = c
        .agents
        .iter()
        .map(|a| AgentSpec {
            name: a.name.clone(),
            skills: a.skills.clone(),
            max_tasks: if c.lead.chain.first() == Some(&a.name) && c.agents.len() > 1 {
                a.max_tasks.min(1)
            } else {
                a.max_tasks
            },
            submit: a.profile.submit.clone(),
            worktree: worktree_note(project, a, integration),
        })
        .collect();
    Ok(Engine::new(settings, agents))
}

struct Shell<'p> {
    project: &'p Project,
    conn: Option<ControlConnection>,
    store: Store,
    engine: Engine,
    panes: BTreeMap<String, (String, String)>,
    dirty: BTreeSet<String>,
    states: BTreeMap<String, (AgentStatus, Option<String>)>,
    states_due: BTreeMap<String, crate::store::AgentRow>,
    memory_due: bool,
    last_capture: BTreeMap<String, Instant>,
    journal_seq: i64,
    wake_tx: Sender<Wake>,
    finished: Option<String>,
    started: Instant,
    last_status: String,
    progress: bool,
    disconnected: Option<Instant>,
    screen_quota: bool,
    notifier: crate::notify::Notifier,
    /// The id of the last quota reading fed to the engine.
    quota_seen: i64,
    last_rollout: Option<Instant>,
    last_oauth: Option<Instant>,
    notes_stamp: Option<std::time::SystemTime>,
    oauth_busy: std::sync::Arc<std::sync::atomic::AtomicBool>,
    /// The integration branch, when some agent works in a worktree.
    integration: Option<String>,
    /// A merge (or a batch) runs on its thread.
    merging: bool,
    /// Merges sent back from a failed batch: each is merged alone.
    solo: BTreeSet<i64>,
    /// Merge outcomes to record: with the fix task they lead to, or after the step.
    merge_due: Vec<crate::store::MergeWrite>,
    /// Outcomes met while restoring the queue, with their records, fed once the tasks are
    /// loaded.
    restart_events: Vec<(Event, crate::store::MergeWrite)>,
    /// Failed-report lines last seen on each agent's screen (fed when the count changes).
    report_lines: BTreeMap<String, usize>,
    /// The first-start rule of each agent's window (its pane id): dialogs answered or sent
    /// to a person.
    first_start: BTreeMap<String, (String, StartWatch)>,
}

/// Runs the daemon until it is finished (with `exit_when_finished`) or killed.
pub fn run(project: &Project, opts: &Options) -> CliResult<Outcome> {
    let _lock = lock(project)?;
    let mut store = project.store()?;
    let integration = if project.config.uses_worktrees() {
        crate::worktrees::prepare(project, &mut store)?;
        Some(crate::worktrees::integration_branch(project, Some(&store))?)
    } else {
        None
    };
    let engine = engine_for(project, opts.ignore_usage, integration.as_deref())?;
    let (wake_tx, wake_rx) = crossbeam_channel::unbounded::<Wake>();
    let mut shell = Shell {
        project,
        conn: None,
        store,
        engine,
        panes: BTreeMap::new(),
        dirty: BTreeSet::new(),
        states: BTreeMap::new(),
        states_due: BTreeMap::new(),
        memory_due: false,
        last_capture: BTreeMap::new(),
        journal_seq: 0,
        wake_tx: wake_tx.clone(),
        finished: None,
        started: Instant::now(),
        last_status: String::new(),
        progress: opts.progress,
        disconnected: None,
        screen_quota: crate::quota_watch::enabled(project, "screen"),
        notifier: notifier_from_config(&project.config.notify),
        quota_seen: 0,
        last_rollout: None,
        last_oauth: None,
        notes_stamp: std::fs::metadata(project.root.join(crate::handoff::NOTES))
            .and_then(|m| m.modified())
            .ok(),
        oauth_busy: std::sync::Arc::default(),
        integration,
        merging: false,
        solo: BTreeSet::new(),
        merge_due: Vec::new(),
        restart_events: Vec::new(),
        report_lines: BTreeMap::new(),
        first_start: BTreeMap::new(),
    };
    let listener = listen(project, wake_tx.clone())?;
    let (mem_tx, mem_rx) = crossbeam_channel::unbounded();
    let mem_path = crate::memory_sync::memory_path(project);
    let _watch = crate::watch::watch_file(&mem_path, Duration::from_millis(100), mem_tx).ok();
    let (conn, control) =
        ControlConnection::start(project.tmux.clone(), project.session.clone(), Vec::new());
    shell.conn = Some(conn);
    let ticker = crossbeam_channel::tick(Duration::from_millis(200));

    shell.journal(
        None,
        None,
        JournalAction::DaemonStart,
        &format!("pid {}", std::process::id()),
    );
    if opts.ignore_usage {
        shell.journal(
            None,
            None,
            JournalAction::QuotaOverride,
            "--ignore-usage: quota holds no work back",
        );
    }
    shell.refresh_panes();
    shell.restore_merges()?;
    shell.replay()?;
    for (ev, write) in std::mem::take(&mut shell.restart_events) {
        shell.merge_due.push(write);
        shell.feed(ev)?;
    }
    shell.pump_merges();
    loop {
        if let Some(summary) = shell.finished.clone()
            && opts.exit_when_finished
        {
            shell.flush_states();
            shell.sync_memory();
            drop(listener);
            let _ = std::fs::remove_file(socket_path(&project.root));
            return Ok(Outcome { summary });
        }
        select! {
            recv(control) -> ev => match ev {
                Ok(ev) => shell.on_control(ev),
                Err(_) => return Err(CliError::internal("the control-mode connection ended")),
            },
            recv(wake_rx) -> w => match w {
                Ok(Wake::Poke) => shell.read_store_changes()?,
                Ok(Wake::Merged(items)) => shell.merges_done(items)?,
                Ok(Wake::Verify { wave, command, ok, excerpt }) => {
                    let detail = if ok { "passed".to_owned() } else { format!("FAILED: {}", excerpt.lines().last().unwrap_or("")) };
                    shell.journal(None, None, JournalAction::Verify, &format!("wave {wave}: `{command}` {detail}"));
                    shell.feed(Event::VerifyFinished { wave, command, ok, excerpt })?;
                }
                Err(_) => {}
            },
            recv(mem_rx) -> _ => {
                if let Err(e) = crate::memory_sync::sync(project, &mut shell.store, ACTOR) {
                    eprintln!("warning: memory file: {}", e.message);
                }
                shell.read_store_changes()?;
            },
            recv(ticker) -> _ => {
                // The store deleted or replaced under the daemon: stop, saying so, rather
                // than run on with a file nobody else reads.
                if let Err(e) = shell.store.check_in_place() {
                    let message = e.to_string();
                    shell.journal(None, None, JournalAction::DaemonStop, &message);
                    drop(listener);
                    let _ = std::fs::remove_file(socket_path(&project.root));
                    return Err(CliError::user(message)
                        .hint("restart with `baton up` once the store is in order"));
                }
                if opts.background
                    && shell.disconnected.is_some_and(|t| t.elapsed() >= SESSION_GONE_AFTER)
                    && !project.tmux.has_session(&project.session).unwrap_or(false)
                {
                    shell.journal(None, None, JournalAction::DaemonStop, "the tmux session is gone");
                    shell.flush_states();
                    shell.sync_memory();
                    drop(listener);
                    let _ = std::fs::remove_file(socket_path(&project.root));
                    return Ok(Outcome { summary: "the tmux session is gone".into() });
                }
                if !opts.background
                    && shell.disconnected.is_some_and(|t| t.elapsed() >= SERVER_LOST_AFTER)
                    && !project.tmux.has_session(&project.session).unwrap_or(false)
                {
                    shell.session_lost()?;
                }
                shell.read_store_changes()?;
                shell.capture_dirty(true)?;
                shell.poll_quota()?;
                shell.poll_notes()?;
                shell.flush_states();
                shell.sync_memory();
                shell.feed(Event::Tick)?;
                shell.pump_merges();
                shell.status_line();
            },
        }
        shell.capture_dirty(false)?;
    }
}

fn listen(project: &Project, tx: Sender<Wake>) -> CliResult<UnixListener> {
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

impl Shell<'_> {
    fn journal(
        &mut self,
        agent: Option<&str>,
        task: Option<TaskId>,
        action: JournalAction,
        result: &str,
    ) {
        if let Ok(e) = self.store.journal(
            ACTOR,
            action.as_str(),
            task,
            agent.unwrap_or(""),
            result,
            "",
        ) {
            // The read position moves only in read_store_changes: an agent's entry committed
            // between two of ours must still be read.
            let _ = crate::orchlog::append(self.project, &[e]);
        }
    }

    /// Shows a notice (desktop, `notify-send` or the bell, per `[notify]`), as the kind that
    /// switches it (a failed handoff shows as `handoff-done`).
    fn notify(&self, kind: NoticeKind, message: &str) {
        let kind = kind.switch();
        // The run prints its own end.
        if self.progress && kind != NoticeKind::RunFinished {
            println!("[baton] {kind}: {message}");
        }
        let title = format!("baton · {} · {kind}", self.project.session);
        if let Err(e) = self.notifier.notify(kind, &title, message) {
            eprintln!("warning: notification: {e}");
        }
    }

    /// Tells the engine when the lead wrote its notes (`.baton/lead-notes.md` changed).
    fn poll_notes(&mut self) -> CliResult<()> {
        let stamp = std::fs::metadata(self.project.root.join(crate::handoff::NOTES))
            .and_then(|m| m.modified())
            .ok();
        if stamp != self.notes_stamp {
            self.notes_stamp = stamp;
            if stamp.is_some() {
                self.feed(Event::LeadNotes)?;
            }
        }
        Ok(())
    }

    /// Reads the sources the daemon polls itself (Codex rollouts, every 5 s) and feeds what
    /// any source recorded (the statusLine hook writes the store directly).
    fn poll_quota(&mut self) -> CliResult<()> {
        if self
            .last_rollout
            .is_none_or(|t| t.elapsed() >= Duration::from_secs(5))
        {
            self.last_rollout = Some(Instant::now());
            if crate::quota_watch::enabled(self.project, "rollout") {
                crate::quota_watch::record_rollouts(self.project, &mut self.store);
            }
        }
        let ttl = Duration::from_secs(self.project.config.quota.oauth_ttl_secs.max(1));
        if crate::quota_watch::enabled(self.project, "oauth")
            && self.last_oauth.is_none_or(|t| t.elapsed() >= ttl)
            && !self
                .oauth_busy
                .swap(true, std::sync::atomic::Ordering::SeqCst)
        {
            // A blocking request of up to 5 s: off the loop. Readings land in the store and
            // are fed on a later tick.
            self.last_oauth = Some(Instant::now());
            let root = self.project.root.clone();
            let busy = std::sync::Arc::clone(&self.oauth_busy);
            std::thread::spawn(move || {
                if let Ok(project) = Project::load(&root)
                    && let Ok(mut store) = project.store()
                    && let Err(e) = crate::quota_watch::record_oauth(&project, &mut store, false)
                {
                    eprintln!("warning: {}", e.message);
                }
                busy.store(false, std::sync::atomic::Ordering::SeqCst);
            });
        }
        self.feed_quota()
    }

    /// Feeds the engine each reading it has not seen, with its projection, on its clock.
    ///
    /// Only the readings recorded since the last call are read (this runs on every tick); the
    /// winners are ranked again only when a reading was recorded.
    fn feed_quota(&mut self) -> CliResult<()> {
        let Ok(rows) = self.store.quota_readings_after(self.quota_seen) else {
            return Ok(());
        };
        let mut touched: BTreeSet<(String, String)> = BTreeSet::new();
        for (id, r) in rows {
            self.quota_seen = self.quota_seen.max(id);
            if self.project.config.agent(&r.agent).is_some() {
                touched.insert((r.agent, r.window));
            }
        }
        if touched.is_empty() {
            return Ok(());
        }
        // The engine gets each touched window's winner (the newest data), which may be an
        // older row than the new one: a stale screen value never replaces a newer hook value.
        let new: Vec<_> = touched
            .iter()
            .filter_map(|(agent, window)| self.store.quota_window(agent, window).ok().flatten())
            .collect();
        let critical = f64::from(self.project.config.quota.critical);
        let engine_now = u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX);
        let wall_now = crate::store::now_ms();
        let on_engine_clock = |t: i64| {
            engine_now.saturating_add(u64::try_from(t.saturating_sub(wall_now)).unwrap_or(0))
        };
        for v in crate::quota_watch::views_of(&self.store, critical, new) {
            self.feed(Event::Quota {
                agent: v.reading.agent,
                window: v.reading.window,
                used_percent: v.reading.used_percent,
                resets_at: v.reading.resets_at_ms.map(on_engine_clock),
                burn_per_hour: v.burn_per_hour,
            })?;
        }
        Ok(())
    }

    /// The session (or the whole tmux server) is gone under a run: every agent died with it.
    /// Their tasks go back to the queue and the engine restarts them, which starts the
    /// session again; the control-mode client reattaches by itself.
    fn session_lost(&mut self) -> CliResult<()> {
        self.disconnected = None;
        self.journal(
            None,
            None,
            JournalAction::SessionLost,
            "the tmux session is gone: its agents are started again",
        );
        let agents: Vec<String> = self
            .project
            .config
            .agents
            .iter()
            .map(|a| a.name.clone())
            .collect();
        self.panes.clear();
        for agent in agents {
            self.record_state(&agent, AgentStatus::Dead, None);
            self.feed(Event::AgentDied { agent })?;
        }
        Ok(())
    }

    /// Keeps the store's view of an agent (for `baton ls`, `baton watch`) when it changes.
    /// (Writes go to the store in one batch per tick: one write per screen change would cost
    /// a dispatch with many agents.)
    fn record_state(&mut self, agent: &str, state: AgentStatus, pane: Option<&str>) {
        let now = (state, pane.map(str::to_owned));
        if self.states.get(agent) == Some(&now) {
            return;
        }
        self.states.insert(agent.to_owned(), now);
        let cli = self
            .project
            .config
            .agent(agent)
            .map_or("", |a| a.cli.as_str());
        self.states_due.insert(
            agent.to_owned(),
            crate::store::AgentRow {
                name: agent.to_owned(),
                cli: cli.to_owned(),
                state: state.as_str().to_owned(),
                pane: pane.map(str::to_owned),
                since_ms: crate::store::now_ms(),
            },
        );
    }

    /// Renders the memory file when tasks changed since the last render.
    fn sync_memory(&mut self) {
        if std::mem::take(&mut self.memory_due)
            && let Err(e) = crate::memory_sync::sync(self.project, &mut self.store, ACTOR)
        {
            eprintln!("warning: memory file: {}", e.message);
        }
    }

    /// Writes the agent states seen since the last tick.
    fn flush_states(&mut self) {
        if self.states_due.is_empty() {
            return;
        }
        let rows: Vec<crate::store::AgentRow> =
            std::mem::take(&mut self.states_due).into_values().collect();
        if let Err(e) = self.store.set_agent_states(&rows) {
            eprintln!("warning: cannot record agent states: {e}");
        }
    }

    fn refresh_panes(&mut self) {
        if let Ok(panes) = self.project.panes() {
            self.panes = panes
                .into_iter()
                .filter(|p| self.project.config.agent(&p.window_name).is_some() && !p.dead)
                .map(|p| {
                    (
                        p.window_name.clone(),
                        (p.pane_id.clone(), p.window_id.clone()),
                    )
                })
                .collect();
        }
    }

    /// Restores the merge queue after a stop: kills a verify the stopped daemon left
    /// running, puts merges left running back in the queue, queues tasks reported done while
    /// no daemon ran, and tells the engine which completed work is not merged yet (before
    /// the tasks are loaded, so their dependents wait). What committing those tasks met (a
    /// conflict) reaches the engine once the tasks are loaded.
    fn restore_merges(&mut self) -> CliResult<()> {
        if self.integration.is_none() {
            return Ok(());
        }
        let e = |e: crate::store::StoreError| CliError::user(e.to_string());
        crate::worktrees::kill_stale_verify(&self.project.root);
        let requeued = self.store.requeue_running_merges().map_err(e)?;
        if requeued > 0 {
            self.journal(
                None,
                None,
                JournalAction::Merge,
                &format!("{requeued} merge(s) interrupted by a stop: queued again"),
            );
        }
        let isolated: Vec<String> = crate::worktrees::isolated(self.project)
            .iter()
            .map(|a| a.name.clone())
            .collect();
        let mut events = Vec::new();
        for (task, agent) in self.store.completed_without_merge(&isolated).map_err(e)? {
            let mut one = VecDeque::new();
            self.queue_merge(task, &agent, &mut one)?;
            // An outcome met while committing: its record waits for its own event (fed once
            // the tasks are loaded), to be committed with the fix task it leads to.
            if let (Some(ev), Some(write)) = (one.pop_back(), self.merge_due.pop()) {
                events.push((ev, write));
            }
        }
        let mut pending = self.store.pending_merges().map_err(e)?;
        for (ev, _) in &events {
            if let Event::MergeFinished { task, agent, .. } = ev {
                pending.push((*task, agent.clone(), true));
            }
        }
        self.engine.load_merges(pending);
        self.engine
            .load_merge_fixes(self.store.merge_failures_in_a_row().map_err(e)?);
        self.restart_events = events;
        Ok(())
    }

    /// Commits what the agent left for a task it reported done and queues its branch; an
    /// outcome met on the way (conflict markers left, another conflict, a wrong branch) is
    /// reported at once.
    fn queue_merge(
        &mut self,
        task: TaskId,
        agent: &str,
        queue: &mut VecDeque<Event>,
    ) -> CliResult<()> {
        let e = |e: crate::store::StoreError| CliError::user(e.to_string());
        let t = self.store.task(task).map_err(e)?;
        let outcome = match crate::worktrees::commit_done(&self.project.root, agent, &t) {
            Ok(crate::worktrees::Committed::Ready { commit, held_back }) => {
                let id = self.store.queue_merge(task, agent).map_err(e)?;
                let mut what = match commit {
                    Some(c) => format!("committed {} and queued (#{id})", &c[..c.len().min(12)]),
                    None => format!("queued (#{id})"),
                };
                if !held_back.is_empty() {
                    what.push_str(&format!(
                        "; not committed, they look like secrets: {} (commit them yourself, or ignore them)",
                        held_back.join(", ")
                    ));
                }
                self.journal(Some(agent), Some(task), JournalAction::Merge, &what);
                return Ok(());
            }
            Ok(crate::worktrees::Committed::Outcome(outcome)) => outcome,
            // A pre-commit hook refused it, a lock: the work is still there, for a fix.
            Err(err) => baton_core::engine::MergeOutcome::CommitFailed {
                excerpt: err.to_string(),
            },
        };
        let (state, detail) = outcome.state();
        self.journal(
            Some(agent),
            Some(task),
            JournalAction::Merge,
            &format!(
                "not queued: {state}: {}",
                detail.lines().next().unwrap_or("")
            ),
        );
        self.merge_due.push(crate::store::MergeWrite {
            id: None,
            task,
            agent: agent.to_owned(),
            state: state.as_str().to_owned(),
            base: None,
            head: None,
            merge_commit: None,
            detail,
        });
        queue.push_back(Event::MergeFinished {
            task,
            agent: agent.to_owned(),
            outcome,
        });
        Ok(())
    }

    /// Starts the next queued merge when none runs. A merge of an agent whose earlier merge
    /// failed waits for that failure's fix (it would fail the same way and spend a fix
    /// cycle); the fix's own merge goes first.
    fn pump_merges(&mut self) {
        let Some(integration) = self.integration.clone() else {
            return;
        };
        if self.merging {
            return;
        }
        let rows = match self.store.queued_merges() {
            Ok(rows) => rows,
            Err(err) => {
                eprintln!("warning: merge queue: {err}");
                return;
            }
        };
        let is_fix = |task: TaskId| {
            self.engine.task(task).is_some_and(|t| {
                t.skills
                    .iter()
                    .any(|s| s == baton_core::engine::MERGE_SKILL)
            })
        };
        let eligible: Vec<&crate::store::MergeRow> = rows
            .iter()
            .filter(|r| !self.engine.open_merge_fix(&r.agent) || is_fix(r.task))
            .collect();
        let Some(first) = eligible.first() else {
            return;
        };
        // A batch: the oldest queued merge of each agent, up to `[verify] batch`; one sent
        // back from a failed batch goes alone.
        let limit = self.project.config.verify.batch.max(1) as usize;
        let mut batch: Vec<crate::store::MergeRow> = vec![(*first).clone()];
        if !self.solo.contains(&first.id) {
            // One merge per agent (its branch's head carries its later work too); an agent
            // with a merge sent back to go alone stays out of the batch altogether.
            let mut seen: BTreeSet<&str> = BTreeSet::from([first.agent.as_str()]);
            for r in eligible.iter().skip(1) {
                if batch.len() >= limit {
                    break;
                }
                if seen.insert(r.agent.as_str()) && !self.solo.contains(&r.id) {
                    batch.push((*r).clone());
                }
            }
        }
        for (n, row) in batch.iter().enumerate() {
            if let Err(err) =
                self.store
                    .set_merge(row.id, MergeState::Running.as_str(), None, None, None, "")
            {
                eprintln!("warning: merge queue: {err}");
                // Not started: the rows already marked go back to the queue.
                for marked in &batch[..n] {
                    let _ = self.store.set_merge(
                        marked.id,
                        MergeState::Queued.as_str(),
                        None,
                        None,
                        None,
                        "",
                    );
                }
                return;
            }
        }
        for row in &batch {
            self.solo.remove(&row.id);
        }
        self.merging = true;
        // A merge queued again by a person (`--retry`) is one the run waits for, too.
        self.engine.load_merges(
            batch
                .iter()
                .map(|r| (r.task, r.agent.clone(), true))
                .collect::<Vec<_>>(),
        );
        for row in &batch {
            let with = if batch.len() > 1 {
                format!(" (a batch of {}, one verify)", batch.len())
            } else {
                String::new()
            };
            self.journal(
                Some(&row.agent),
                Some(row.task),
                JournalAction::Merge,
                &format!(
                    "#{} started: rebase onto {integration}, verify{with}",
                    row.id
                ),
            );
        }
        let jobs: Vec<crate::worktrees::MergeJob> = batch
            .iter()
            .map(|row| crate::worktrees::MergeJob {
                id: row.id,
                root: self.project.root.clone(),
                agent: row.agent.clone(),
                integration: integration.clone(),
                verify: self.project.config.verify.commands.clone(),
            })
            .collect();
        let tx = self.wake_tx.clone();
        std::thread::spawn(move || {
            // A panic must not stall the queue: it is reported like any git failure.
            let results = std::panic::catch_unwind(|| crate::worktrees::run_batch(&jobs))
                .unwrap_or_else(|_| {
                    let failed = crate::worktrees::MergeResult {
                        base: None,
                        head: None,
                        outcome: baton_core::engine::MergeOutcome::Error {
                            message: "the merge worker panicked".into(),
                        },
                        summary: "the merge worker panicked".into(),
                    };
                    vec![crate::worktrees::Batched::Done(failed); jobs.len()]
                });
            let items = batch
                .into_iter()
                .zip(results)
                .map(|(row, how)| (row.id, row.task, row.agent, how))
                .collect();
            let _ = tx.send(Wake::Merged(items));
        });
    }

    /// Records the merges of a batch (or one) and tells the engine; then the next.
    fn merges_done(
        &mut self,
        items: Vec<(i64, TaskId, String, crate::worktrees::Batched)>,
    ) -> CliResult<()> {
        self.merging = false;
        for (id, task, agent, how) in items {
            match how {
                crate::worktrees::Batched::Done(result) => {
                    self.merge_done(id, task, agent, result)?;
                }
                crate::worktrees::Batched::Again(why) => {
                    if let Err(err) = self.store.set_merge(
                        id,
                        MergeState::Queued.as_str(),
                        None,
                        None,
                        None,
                        &why,
                    ) {
                        // Left `running`: a restart queues it again.
                        eprintln!("warning: merge queue: {err}");
                    }
                    self.solo.insert(id);
                    self.journal(
                        Some(&agent),
                        Some(task),
                        JournalAction::Merge,
                        &format!("#{id} back in the queue: {why}"),
                    );
                }
            }
        }
        self.pump_merges();
        Ok(())
    }

    /// Records a finished merge and tells the engine; a fix task it leads to is committed
    /// in the same transaction as the outcome.
    fn merge_done(
        &mut self,
        id: i64,
        task: TaskId,
        agent: String,
        result: crate::worktrees::MergeResult,
    ) -> CliResult<()> {
        let (state, mut detail) = result.outcome.state();
        if state == MergeState::Merged {
            detail.clone_from(&result.summary);
        }
        let merge_commit = match &result.outcome {
            baton_core::engine::MergeOutcome::Merged { commit } => Some(commit.clone()),
            _ => None,
        };
        self.journal(
            Some(&agent),
            Some(task),
            JournalAction::Merge,
            &format!("#{id} {}", result.summary),
        );
        self.merge_due.push(crate::store::MergeWrite {
            id: Some(id),
            task,
            agent: agent.clone(),
            state: state.as_str().to_owned(),
            base: result.base,
            head: result.head,
            merge_commit,
            detail,
        });
        self.feed(Event::MergeFinished {
            task,
            agent,
            outcome: result.outcome,
        })?;
        Ok(())
    }

    /// Records the merge outcomes no fix task took along (merged, or no fix cycle left).
    fn flush_merges(&mut self) {
        for m in std::mem::take(&mut self.merge_due) {
            if let Err(err) = self.store.write_merge(&m) {
                eprintln!("warning: merge queue: {err}");
            }
        }
    }

    /// Replays the store into the engine: every task, then the running agents.
    fn replay(&mut self) -> CliResult<()> {
        let e = |e: crate::store::StoreError| CliError::user(e.to_string());
        let seen = self.store.journal_since(0, usize::MAX).map_err(e)?;
        self.journal_seq = seen.last().map_or(0, |j| j.seq);
        let tasks = self.store.tasks(&TaskFilter::default()).map_err(e)?;
        self.engine.load(tasks);
        if let Some(snap) = self.store.lead_snapshot().map_err(e)? {
            self.feed(Event::LeadRestore(snap))?;
        }
        if self.store.meta("dispatch_paused").map_err(e)?.as_deref() == Some("1") {
            self.feed(Event::Pause(true))?;
        }
        let names: Vec<String> = self.panes.keys().cloned().collect();
        for agent in names {
            self.feed(Event::AgentUp {
                agent: agent.clone(),
            })?;
            self.dirty.insert(agent);
        }
        // A handoff asked for while no daemon read the journal (before this one started, or
        // between two) is not lost: the newest request after the daemon's last lead entry.
        let last_lead = seen
            .iter()
            .rposition(|j| j.actor == ACTOR && j.action.parse().is_ok_and(JournalAction::is_lead));
        let pending = seen
            .iter()
            .enumerate()
            .filter(|(i, j)| {
                j.action == JournalAction::HandoffRequest
                    && j.actor != ACTOR
                    && last_lead.is_none_or(|l| *i > l)
            })
            .map(|(_, j)| j.target.clone())
            .next_back();
        if let Some(to) = pending {
            self.feed(Event::HandoffRequested {
                to: (!to.is_empty()).then_some(to),
            })?;
        }
        self.capture_dirty(true)
    }

    fn on_control(&mut self, ev: ControlEvent) {
        match ev {
            ControlEvent::Output { pane, .. } => {
                if let Some(agent) = self
                    .panes
                    .iter()
                    .find(|(_, (p, _))| *p == pane)
                    .map(|(a, _)| a.clone())
                {
                    self.dirty.insert(agent);
                }
            }
            ControlEvent::WindowClose { window } => {
                if let Some(agent) = self
                    .panes
                    .iter()
                    .find(|(_, (_, w))| *w == window)
                    .map(|(a, _)| a.clone())
                {
                    self.panes.remove(&agent);
                    self.record_state(&agent, AgentStatus::Dead, None);
                    self.journal(
                        Some(&agent),
                        None,
                        JournalAction::AgentDied,
                        "window closed",
                    );
                    let _ = self.feed(Event::AgentDied { agent });
                }
            }
            ControlEvent::Disconnected => {
                self.disconnected.get_or_insert_with(Instant::now);
            }
            ControlEvent::Reconnected => {
                self.disconnected = None;
                self.refresh_panes();
                self.dirty.extend(self.panes.keys().cloned());
            }
            _ => {}
        }
    }

    /// Captures dirty screens (at most every 100 ms per agent; `all` also takes a fallback
    /// look at every agent every 2 s) and feeds the detections.
    fn capture_dirty(&mut self, all: bool) -> CliResult<()> {
        let now = Instant::now();
        if all {
            for a in self.panes.keys() {
                if self
                    .last_capture
                    .get(a)
                    .is_none_or(|t| now.duration_since(*t) >= Duration::from_secs(2))
                {
                    self.dirty.insert(a.clone());
                }
            }
        }
        let due: Vec<String> = self
            .dirty
            .iter()
            .filter(|a| {
                self.last_capture
                    .get(*a)
                    .is_none_or(|t| now.duration_since(*t) >= Duration::from_millis(100))
            })
            .cloned()
            .collect();
        for agent in due {
            self.capture(agent, now)?;
        }
        Ok(())
    }

    /// Reads one agent's screen now and feeds the detection.
    fn capture(&mut self, agent: String, now: Instant) -> CliResult<()> {
        self.dirty.remove(&agent);
        self.last_capture.insert(agent.clone(), now);
        let Some((pane, _)) = self.panes.get(&agent).cloned() else {
            return Ok(());
        };
        let Some(cfg) = self.project.config.agent(&agent) else {
            return Ok(());
        };
        let Some(screen) = self.read_screen(&pane) else {
            return Ok(());
        };
        let mut detection = detect(&cfg.profile, &screen);
        self.first_start_rule(&agent, &pane, &cfg.profile, &screen, &mut detection);
        // A `baton` call that failed on screen (a report that did not reach baton).
        let failures = baton_core::engine::report_failed::scan(&screen);
        if self.report_lines.get(&agent).copied().unwrap_or(0) != failures.len() {
            self.report_lines.insert(agent.clone(), failures.len());
            self.feed(Event::ReportFailures {
                agent: agent.clone(),
                lines: failures,
            })?;
        }
        let hash = {
            use std::hash::Hash;
            use std::hash::Hasher;
            let mut h = std::collections::hash_map::DefaultHasher::new();
            screen.hash(&mut h);
            h.finish()
        };
        if self.screen_quota
            && crate::quota_watch::record_screen(&mut self.store, &agent, &detection.quota) > 0
        {
            self.feed_quota()?;
        }
        self.record_state(&agent, detection.state.into(), Some(&pane));
        self.feed(Event::Screen {
            agent,
            detection,
            hash,
        })?;
        Ok(())
    }

    /// Applies the first-start rule to one screen of an agent: answers a known dialog (the
    /// agent reads as starting meanwhile), and makes any dialog a person must answer read as
    /// needs-input, telling the person once.
    fn first_start_rule(
        &mut self,
        agent: &str,
        pane: &str,
        profile: &baton_core::Profile,
        screen: &str,
        detection: &mut baton_core::Detection,
    ) {
        let now_ms = u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX);
        let entry = self
            .first_start
            .entry(agent.to_owned())
            .or_insert_with(|| (pane.to_owned(), StartWatch::starting()));
        if entry.0 != pane {
            // A new window: a new start.
            *entry = (pane.to_owned(), StartWatch::starting());
        }
        match entry.1.observe(now_ms, profile, screen, detection) {
            Verdict::Clear => {}
            Verdict::Wait => {
                detection.state = AgentState::Starting;
                self.dirty.insert(agent.to_owned());
            }
            Verdict::Answer { dialog, keys } => {
                detection.state = AgentState::Starting;
                let what = format!("{dialog} (keys: {})", keys.join(" "));
                match crate::delivery::press_keys(&self.project.tmux, pane, &keys) {
                    Ok(()) => {
                        self.journal(Some(agent), None, JournalAction::FirstStartAnswered, &what)
                    }
                    Err(e) => self.journal(
                        Some(agent),
                        None,
                        JournalAction::FirstStartFailed,
                        &format!("{what}: {}", e.message),
                    ),
                }
                self.dirty.insert(agent.to_owned());
            }
            Verdict::Person { reason, tell } => {
                detection.state = AgentState::NeedsInput;
                if tell {
                    let message = format!("{agent} waits for a person: {reason}");
                    self.journal(Some(agent), None, JournalAction::FirstStartPerson, &reason);
                    self.notify(NoticeKind::NeedsInput, &message);
                    self.journal(None, None, JournalAction::NotifyNeedsInput, &message);
                }
            }
        }
    }

    /// Reads a pane's visible screen through the persistent control-mode client (no process
    /// spawned), or with `tmux capture-pane` when the client is not connected.
    fn read_screen(&self, pane: &str) -> Option<String> {
        if let Some(conn) = &self.conn
            && let Ok(lines) = conn.command(&format!("capture-pane -p -J -t {pane}"))
        {
            let mut screen = lines.join("\n");
            screen.push('\n');
            return Some(screen);
        }
        self.project
            .tmux
            .capture(pane, CaptureRange::default())
            .ok()
    }

    /// Feeds changes other processes made to the store (CLI, memory file) into the engine.
    fn read_store_changes(&mut self) -> CliResult<()> {
        let e = |e: crate::store::StoreError| CliError::user(e.to_string());
        let entries: Vec<JournalEntry> = self
            .store
            .journal_since(self.journal_seq, 10_000)
            .map_err(e)?;
        let mut touched = BTreeSet::new();
        let mut turns_ended = Vec::new();
        let mut rearm = false;
        let mut pause = None;
        let mut handoffs = Vec::new();
        for j in &entries {
            self.journal_seq = self.journal_seq.max(j.seq);
            // The agent's CLI said its turn ended (Claude Stop hook, Codex notify).
            match j.action.parse() {
                // The agent's CLI said its turn ended (Claude Stop hook, Codex notify).
                Ok(JournalAction::TurnEnd) if self.project.config.agent(&j.target).is_some() => {
                    turns_ended.push(j.target.clone());
                }
                Ok(JournalAction::RunFollow) => rearm = true,
                Ok(JournalAction::DispatchPause) => pause = Some(true),
                Ok(JournalAction::DispatchResume) => pause = Some(false),
                Ok(JournalAction::HandoffRequest) if j.actor != ACTOR => {
                    handoffs.push((!j.target.is_empty()).then(|| j.target.clone()));
                }
                _ => {}
            }
            if j.actor != ACTOR
                && let Some(t) = j.task
            {
                touched.insert(t);
            }
        }
        for id in touched {
            let Ok(task) = self.store.task(id) else {
                continue;
            };
            if self.engine.task(id).is_some() {
                self.feed(Event::TaskChanged(task))?;
            } else {
                self.feed(Event::TaskAdded(task))?;
            }
        }
        // After the task changes: a turn that ended with `baton task done` is no unreported turn.
        for agent in turns_ended {
            // Its screen first: a report that failed just before the turn ended must be seen.
            self.capture(agent.clone(), Instant::now())?;
            self.feed(Event::TurnEnded { agent })?;
        }
        if let Some(p) = pause {
            self.feed(Event::Pause(p))?;
        }
        for to in handoffs {
            self.feed(Event::HandoffRequested { to })?;
        }
        if rearm {
            self.feed(Event::Rearm)?;
        }
        Ok(())
    }

    fn feed(&mut self, event: Event) -> CliResult<()> {
        // In order: the events an action produced (tasks it added, …) are seen in the order
        // they happened, so several tasks added in one step are dispatched by priority.
        let mut queue = VecDeque::from([event]);
        while let Some(ev) = queue.pop_front() {
            let now = u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX);
            let actions = self.engine.step(now, ev);
            let mut skip_paste: BTreeSet<String> = BTreeSet::new();
            let mut journal = Vec::new();
            for a in actions {
                self.act(a, &mut queue, &mut skip_paste, &mut journal)?;
            }
            if !journal.is_empty() {
                let _ = crate::orchlog::append(self.project, &journal);
                // Rendered on the next tick (at most 200 ms later): one render and fsync for
                // a burst of changes, not one per change.
                self.memory_due = true;
            }
        }
        self.flush_merges();
        Ok(())
    }

    fn set_status(
        &mut self,
        task: TaskId,
        to: Status,
        change: StatusChange,
        journal: &mut Vec<JournalEntry>,
    ) -> bool {
        match self.store.set_status(task, to, ACTOR, change) {
            Ok(crate::store::Outcome::Changed(_, entries)) => {
                journal.extend(entries);
                true
            }
            Ok(crate::store::Outcome::Unchanged(_)) => true,
            Err(e) => {
                eprintln!("warning: {e}");
                false
            }
        }
    }

    /// A task ended without a report: UNREPORTED and, with `review`, its review task (the
    /// agent's last screen lines and the diff of its work in it), in one transaction.
    #[allow(clippy::too_many_arguments)]
    fn mark_unreported(
        &mut self,
        task: TaskId,
        agent: &str,
        reason: &str,
        review: bool,
        reviewer: Option<String>,
        queue: &mut VecDeque<Event>,
        journal: &mut Vec<JournalEntry>,
    ) {
        let note = format!("UNREPORTED: {reason}");
        // Named as in every prompt: by its absolute path when a login shell would not find it.
        let baton = crate::baton_cmd::lookup().command();
        let made = match (review, self.store.task(task)) {
            (true, Ok(t)) => {
                let screen = self.last_lines(agent, 40);
                let isolated = self
                    .project
                    .config
                    .agent(agent)
                    .is_some_and(|a| a.isolation == baton_core::config::Isolation::Worktree);
                let integration = self.integration.as_deref().filter(|_| isolated);
                let diff = crate::review::diff_of_work(&self.project.root, integration, agent);
                let evidence = baton_core::engine::review::Evidence {
                    screen: &screen,
                    diff: &diff,
                };
                let new = baton_core::engine::review::review_task(
                    &t,
                    agent,
                    reason,
                    reviewer.as_deref(),
                    &evidence,
                    &baton,
                );
                let person = reviewer
                    .is_none()
                    .then(|| baton_core::engine::review::for_person(task, &baton));
                self.store
                    .mark_unreported(task, ACTOR, &note, Some((&new, person.as_deref())))
            }
            _ => self.store.mark_unreported(task, ACTOR, &note, None),
        };
        match made {
            Ok((_, review_task, entries)) => {
                journal.extend(entries);
                if let Some(r) = review_task {
                    let who = reviewer.as_deref().unwrap_or("a person");
                    self.journal(
                        None,
                        Some(r.id),
                        JournalAction::TaskCreated,
                        &format!("review of {task} ({reason}), for {who}"),
                    );
                    if reviewer.is_none() {
                        self.notify(
                            NoticeKind::TaskBlocked,
                            &format!(
                                "{task} ended unreported: {} waits for a person to review it",
                                r.id
                            ),
                        );
                    }
                    queue.push_back(Event::TaskAdded(r));
                }
            }
            Err(e) => {
                eprintln!("warning: {task}: cannot mark it UNREPORTED: {e}");
                // The engine is told the store's truth.
                if let Ok(t) = self.store.task(task) {
                    queue.push_back(Event::TaskChanged(t));
                }
            }
        }
    }

    /// The last `n` non-empty lines of an agent's screen (empty when it cannot be read).
    fn last_lines(&self, agent: &str, n: usize) -> String {
        let Some((pane, _)) = self.panes.get(agent) else {
            return String::new();
        };
        let screen = self.read_screen(pane).unwrap_or_default();
        let lines: Vec<&str> = screen.trim_end().lines().collect();
        lines[lines.len().saturating_sub(n)..].join("\n")
    }

    fn act(
        &mut self,
        action: Action,
        queue: &mut VecDeque<Event>,
        skip_paste: &mut BTreeSet<String>,
        journal: &mut Vec<JournalEntry>,
    ) -> CliResult<()> {
        match action {
            Action::Assign { task, agent } => {
                let change = StatusChange {
                    assignee: Some(agent.clone()),
                    ..StatusChange::default()
                };
                // Given back to the agent that had it: what it left uncommitted is this task's.
                let had_it = self
                    .store
                    .task(task)
                    .is_ok_and(|t| t.attempts > 0 && t.assignee.as_deref() == Some(agent.as_str()));
                if !self.set_status(task, Status::InProgress, change, journal) {
                    // The store disagrees (changed meanwhile): tell the engine the truth.
                    skip_paste.insert(agent);
                    if let Ok(t) = self.store.task(task) {
                        queue.push_back(Event::TaskChanged(t));
                    }
                } else if let Some(integration) = self.integration.clone()
                    && self
                        .project
                        .config
                        .agent(&agent)
                        .is_some_and(|a| a.isolation == baton_core::config::Isolation::Worktree)
                {
                    // It starts from everyone's merged work (a conflict fix: at the conflict).
                    let has = |skill: &str| {
                        self.engine
                            .task(task)
                            .is_some_and(|t| t.skills.iter().any(|s| s == skill))
                    };
                    let how = crate::worktrees::SyncFor {
                        keep_conflict: has(baton_core::engine::CONFLICT_SKILL),
                        keep_work: had_it || has(baton_core::engine::MERGE_SKILL),
                    };
                    if let Some(line) = crate::worktrees::sync_for_task(
                        &self.project.root,
                        &agent,
                        &integration,
                        how,
                    ) {
                        self.journal(Some(&agent), Some(task), JournalAction::Worktree, &line);
                    }
                }
            }
            Action::Paste { agent, text } => {
                if skip_paste.remove(&agent) {
                    return Ok(());
                }
                if let Some((pane, _)) = self.panes.get(&agent).cloned()
                    && let Err(e) = self.project.tmux.paste(&pane, &text)
                {
                    self.journal(
                        Some(&agent),
                        None,
                        JournalAction::PasteFailed,
                        &e.to_string(),
                    );
                }
            }
            Action::Press { agent, key } => {
                if let Some((pane, _)) = self.panes.get(&agent).cloned() {
                    let key = match key {
                        Key::Enter => baton_tmux::Key::Enter,
                        Key::CtrlC => baton_tmux::Key::CtrlC,
                        Key::Escape => baton_tmux::Key::Escape,
                    };
                    let _ = self.project.tmux.send_key(&pane, key);
                }
            }
            Action::Requeue { task, reason } => {
                let change = StatusChange {
                    note: Some(reason),
                    ..StatusChange::default()
                };
                self.set_status(task, Status::Pending, change, journal);
            }
            Action::NeedsHuman { task, reason } => {
                let change = StatusChange {
                    reason: Some(format!("needs a person: {reason}")),
                    ..StatusChange::default()
                };
                self.set_status(task, Status::Blocked, change, journal);
            }
            Action::MarkUnreported {
                task,
                agent,
                reason,
                review,
                reviewer,
            } => self.mark_unreported(task, &agent, &reason, review, reviewer, queue, journal),
            Action::AddTask {
                task,
                purpose,
                reason,
            } => {
                // A merge's fix task: committed with the merge's outcome, all or nothing.
                let due = match purpose {
                    TaskPurpose::MergeFix { of } => self.merge_due.iter().position(|m| {
                        m.task == of && task.assignee.as_deref() == Some(m.agent.as_str())
                    }),
                    TaskPurpose::Test { .. } | TaskPurpose::VerifyFix { .. } => None,
                };
                let added = match due {
                    Some(i) => {
                        let m = self.merge_due.remove(i);
                        let added = self.store.add_fix_for_merge(&task, ACTOR, &m);
                        if added.is_err() {
                            // The outcome is still recorded (after the step), without its fix.
                            self.merge_due.push(m);
                        }
                        added
                    }
                    None => self.store.add_tasks(std::slice::from_ref(&task), ACTOR),
                };
                match added {
                    Ok((tasks, entries)) => {
                        journal.extend(entries);
                        for t in tasks {
                            self.journal(None, Some(t.id), JournalAction::TaskCreated, &reason);
                            queue.push_back(Event::TaskAdded(t));
                        }
                    }
                    Err(e) => eprintln!("warning: cannot add a task ({reason}): {e}"),
                }
            }
            Action::RunVerify { wave, commands } => self.run_verify(wave, commands),
            Action::QueueMerge { task, agent } => self.queue_merge(task, &agent, queue)?,
            Action::StartAgent { agent } => {
                let args = crate::commands::up::UpArgs {
                    no_wait: true,
                    no_daemon: true,
                    ignore_usage: false,
                    quiet: true,
                };
                let quiet = crate::commands::up::cmd_up(Some(&self.project.root), &args);
                if quiet.is_ok() {
                    // A new start: its first-start dialogs are answered again.
                    self.first_start.remove(&agent);
                    self.refresh_panes();
                    self.journal(
                        Some(&agent),
                        None,
                        JournalAction::AgentRestart,
                        "started again",
                    );
                    queue.push_back(Event::AgentUp {
                        agent: agent.clone(),
                    });
                    self.dirty.insert(agent);
                }
            }
            Action::Notify { kind, message } => {
                self.notify(kind, &message);
                self.journal(None, None, kind.journal_action(), &message);
            }
            Action::Journal { agent, task, what } => {
                self.journal(agent.as_deref(), task, JournalAction::Engine, &what)
            }
            Action::ReportFailed { agent, task, line } => {
                self.journal(Some(&agent), task, JournalAction::ReportFailed, &line)
            }
            Action::Lead {
                snapshot,
                what,
                detail,
            } => {
                if let Err(e) = self.store.set_lead(&snapshot) {
                    eprintln!("warning: cannot record the lead: {e}");
                }
                // The entry names whom it concerns: the successor while one takes over.
                let target = match &snapshot.phase {
                    baton_core::engine::LeadPhase::Takeover { to, .. } => to.clone(),
                    _ => snapshot.lead.clone().unwrap_or_default(),
                };
                self.journal(Some(&target), None, what, &detail);
            }
            Action::WriteHandoff { from, to, reason } => {
                match crate::handoff::write(self.project, &self.store, &from, &to, &reason) {
                    Ok(path) => {
                        let name = path
                            .file_name()
                            .map(|n| n.to_string_lossy().into_owned())
                            .unwrap_or_default();
                        self.journal(
                            Some(&to),
                            None,
                            JournalAction::HandoffDocument,
                            &format!("{name} written for {to}"),
                        );
                        queue.push_back(Event::HandoffWritten { to });
                    }
                    Err(e) => {
                        self.journal(
                            Some(&to),
                            None,
                            JournalAction::HandoffFailed,
                            &format!("cannot write the handoff document: {}", e.message),
                        );
                    }
                }
            }
            Action::Finished { summary } => {
                // The report lists every merge: the outcomes of this step too.
                self.flush_merges();
                self.notify(NoticeKind::RunFinished, &summary);
                self.journal(None, None, JournalAction::RunFinished, &summary);
                if let Err(e) = crate::report::write(self.project, &self.store, &summary) {
                    eprintln!("warning: REPORT.md: {}", e.message);
                }
                self.finished = Some(summary);
            }
        }
        Ok(())
    }

    fn run_verify(&mut self, wave: u64, commands: Vec<String>) {
        let root = self.project.root.clone();
        let tx = self.wake_tx.clone();
        self.journal(
            None,
            None,
            JournalAction::VerifyStart,
            &format!("wave {wave}: {}", commands.join(" && ")),
        );
        std::thread::spawn(move || {
            let dir = root.join(".baton").join("verify");
            for (i, command) in commands.into_iter().enumerate() {
                let (ok, excerpt) = crate::verify::run_check(
                    &command,
                    &root,
                    &dir.join(format!("wave-{wave}-{i}.log")),
                    None,
                    &[],
                );
                if tx
                    .send(Wake::Verify {
                        wave,
                        command,
                        ok,
                        excerpt,
                    })
                    .is_err()
                {
                    return;
                }
            }
        });
    }

    fn status_line(&mut self) {
        if !self.progress {
            return;
        }
        let Ok(counts) = self.store.counts() else {
            return;
        };
        let total: u64 = counts.values().sum();
        let done = counts.get(&Status::Completed).copied().unwrap_or(0);
        let blocked = counts.get(&Status::Blocked).copied().unwrap_or(0);
        let unreported = counts.get(&Status::Unreported).copied().unwrap_or(0);
        let agents: Vec<String> = self
            .project
            .config
            .agents
            .iter()
            .map(|a| match self.engine.agent_tasks(&a.name).first() {
                Some(t) => format!("{} {t}", a.name),
                None if self.panes.contains_key(&a.name) => format!("{} idle", a.name),
                None => format!("{} down", a.name),
            })
            .collect();
        let merging = self.engine.merges_pending();
        let line = format!(
            "[baton {:>4}s] {done}/{total} done{}{}{} · {}",
            self.started.elapsed().as_secs(),
            if unreported > 0 {
                format!(", {unreported} unreported")
            } else {
                String::new()
            },
            if blocked > 0 {
                format!(", {blocked} blocked")
            } else {
                String::new()
            },
            if merging > 0 {
                format!(", {merging} to merge")
            } else {
                String::new()
            },
            agents.join(" · ")
        );
        let changed_part = line
            .split_once(']')
            .map(|(_, r)| r.to_owned())
            .unwrap_or_default();
        if changed_part != self.last_status {
            self.last_status = changed_part;
            println!("{line}");
        }
    }
}

/// The notifier `baton.toml`'s `[notify]` asks for.
fn notifier_from_config(c: &baton_core::config::NotifyConfig) -> crate::notify::Notifier {
    use crate::notify::Backend;
    use crate::notify::NoticeFilter;
    use crate::notify::NoticeKind;
    use crate::notify::Notifier;
    let mut filter = NoticeFilter::all();
    for name in &c.disable {
        if let Ok(kind) = name.parse::<NoticeKind>() {
            filter.set(kind, false);
        }
    }
    let backend = match c.backend.as_str() {
        "auto" => Backend::detect(),
        "bell" => Backend::Bell,
        "off" => Backend::Off,
        program => Backend::Command(PathBuf::from(program)),
    };
    Notifier::new(backend, filter)
}
