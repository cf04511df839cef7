//! The loop: one channel fed by every source, the engine stepped on each event, the
//! session lost and found again.

use std::collections::BTreeSet;
use std::collections::VecDeque;
use std::time::Duration;

use baton_core::engine::Engine;
use baton_core::engine::Event;
use baton_core::task::TaskId;
use baton_core::vocab::AgentStatus;
use baton_core::vocab::JournalAction;
use baton_core::vocab::NoticeKind;
use baton_tmux::control::ControlConnection;
use crossbeam_channel::select;

use crate::error::CliError;
use crate::error::CliResult;
use crate::project::Project;
use crate::store::TaskFilter;

use super::ACTOR;
use super::Options;
use super::Outcome;
use super::Shell;
use super::Wake;
use super::process::listen;
use super::process::lock;
use super::socket_path;
use super::tmux;

/// How long the background daemon waits for a lost tmux session to come back.
const SESSION_GONE_AFTER: Duration = Duration::from_secs(5);

/// How long `baton run` waits for a lost tmux session before starting it again.
const SERVER_LOST_AFTER: Duration = Duration::from_secs(1);

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
    let listener = listen(project, wake_tx.clone())?;
    let (mem_tx, mem_rx) = crossbeam_channel::unbounded();
    let mem_path = crate::memory_sync::memory_path(project);
    let _watch = crate::watch::watch_file(&mem_path, Duration::from_millis(100), mem_tx).ok();
    let (conn, control) =
        ControlConnection::start(project.tmux.clone(), project.session.clone(), Vec::new());
    let mut hosts = crate::hosts::Hosts::new(project);
    let connected = super::hosts::connect(project, &mut hosts);
    let remote_events = connected.events;
    let tmux = tmux::RealTmux {
        hosts,
        conn: Some(conn),
        remote_conns: connected.conns,
        paused: std::sync::Mutex::default(),
    };
    let mut shell = Shell::new(
        project,
        store,
        engine,
        Box::new(tmux),
        wake_tx.clone(),
        opts.progress,
        integration,
    );
    shell.hosts.pumps = connected.pumps;
    let ticker = crossbeam_channel::tick(Duration::from_millis(200));
    // Whatever ends the loop (an error included), the webhook's last notices get their flush
    // time and what it gave up on is journaled.
    let ended = (|| -> CliResult<Outcome> {
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
                recv(remote_events) -> ev => {
                    if let Ok((host, ev)) = ev {
                        shell.on_remote(host, ev)?;
                    }
                },
                recv(wake_rx) -> w => match w {
                    Ok(Wake::Poke) => shell.read_store_changes()?,
                    Ok(Wake::HostProbed { host, ok }) => shell.host_probed(&host, ok),
                    Ok(Wake::Merged(items)) => shell.merges_done(items)?,
                    Ok(Wake::Verify { wave, command, ok, excerpt }) => {
                        let detail = match (ok, excerpt.lines().rev().find(|l| !l.trim().is_empty())) {
                            (true, _) => "passed".to_owned(),
                            (false, Some(last)) => format!("FAILED: {last}"),
                            (false, None) => "FAILED (no output)".to_owned(),
                        };
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
                    shell.check_hosts()?;
                    shell.capture_dirty(true)?;
                    shell.poll_quota()?;
                    shell.poll_notes()?;
                    shell.flush_states();
                    shell.sync_memory();
                    shell.feed(Event::Tick)?;
                    shell.pump_merges();
                    shell.journal_webhook_failures();
                    shell.status_line();
                },
            }
            shell.capture_dirty(false)?;
        }
    })();
    shell.close_notices();
    ended
}

impl Shell<'_> {
    pub(super) fn journal(
        &mut self,
        agent: Option<&str>,
        task: Option<TaskId>,
        action: JournalAction,
        result: &str,
    ) {
        self.journal_with(agent, task, action, result, "");
    }

    /// [`Shell::journal`] with a detail (JSON for the readers that need an entry's parts).
    pub(super) fn journal_with(
        &mut self,
        agent: Option<&str>,
        task: Option<TaskId>,
        action: JournalAction,
        result: &str,
        detail: &str,
    ) {
        if let Ok(e) = self
            .store
            .journal(ACTOR, action, task, agent.unwrap_or(""), result, detail)
        {
            // The read position moves only in read_store_changes: an agent's entry committed
            // between two of ours must still be read.
            let _ = crate::orchlog::append(self.project, &[e]);
        }
    }

    /// Journals the notices the webhook gave up on since the last call, one line each (its
    /// kind, the webhook's scheme and host, why): `baton log` and `baton doctor` show them.
    pub(super) fn journal_webhook_failures(&mut self) {
        while let Ok(g) = self.webhook_failures.try_recv() {
            self.journal(None, None, JournalAction::WebhookFailed, &g.to_string());
        }
    }

    /// Closes the webhook (its last notices get their flush time) and journals what it gave
    /// up on, before the daemon returns.
    fn close_notices(&mut self) {
        self.notifier.close_webhook();
        self.journal_webhook_failures();
    }

    /// Shows a notice (desktop, `notify-send` or the bell, per `[notify]`), as the kind that
    /// switches it (a failed handoff shows as `handoff-done`).
    pub(super) fn notify(&self, kind: NoticeKind, message: &str) {
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
        // The agents on other hosts run on their own servers.
        let agents: Vec<String> = self
            .project
            .config
            .agents
            .iter()
            .filter(|a| a.host.is_none())
            .map(|a| a.name.clone())
            .collect();
        self.panes
            .retain(|_, (p, _)| crate::hosts::untag(p).1.is_some());
        for agent in agents {
            self.record_state(&agent, AgentStatus::Dead, None);
            self.feed(Event::AgentDied { agent })?;
        }
        Ok(())
    }

    /// Keeps the store's view of an agent (for `baton ls`, `baton watch`) when it changes.
    /// (Writes go to the store in one batch per tick: one write per screen change would cost
    /// a dispatch with many agents.)
    pub(super) fn record_state(&mut self, agent: &str, state: AgentStatus, pane: Option<&str>) {
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

    /// Reads the agents' panes again; those of a host whose connection is down keep their
    /// last known panes (their agents run on there).
    pub(super) fn refresh_panes(&mut self) {
        if let Ok(panes) = self.tmux.session_panes(&self.project.session) {
            let kept: Vec<(String, (String, String))> = self
                .panes
                .iter()
                .filter(|(_, (p, _))| {
                    crate::hosts::untag(p)
                        .1
                        .is_some_and(|h| !self.tmux.connected(h))
                })
                .map(|(a, p)| (a.clone(), p.clone()))
                .collect();
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
            for (agent, pane) in kept {
                self.panes.entry(agent).or_insert(pane);
            }
        }
    }

    /// Replays the store into the engine: every task, then the running agents.
    fn replay(&mut self) -> CliResult<()> {
        let seen = self.store.journal_since(0, usize::MAX)?;
        self.journal_seq = seen.last().map_or(0, |j| j.seq);
        let tasks = self.store.tasks(&TaskFilter::default())?;
        self.engine.load(tasks);
        self.engine.load_last_verify(self.store.last_verify()?);
        if let Some(snap) = self.store.lead_snapshot()? {
            self.feed(Event::LeadRestore(snap))?;
        }
        if self.store.paused()? {
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

    pub(super) fn feed(&mut self, event: Event) -> CliResult<()> {
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

    fn status_line(&mut self) {
        if !self.progress {
            return;
        }
        let Ok(counts) = self.store.counts() else {
            return;
        };
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
        let line = baton_core::progress::line(&counts, self.engine.merges_pending(), &agents);
        if line != self.last_status {
            let secs = self.started.elapsed().as_secs();
            println!("{}", baton_core::progress::stamped(secs, &line));
            self.last_status = line;
        }
    }
}

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

/// Builds the engine from the configuration: reads what the settings need (the template,
/// baton's path, the worktrees) and hands it to [`baton_core::settings::engine_settings`].
pub(super) fn engine_for(
    project: &Project,
    ignore_usage: bool,
    integration: Option<&str>,
) -> CliResult<Engine> {
    let inputs = baton_core::settings::Inputs {
        root: &project.root,
        template: project.template()?,
        ignore_usage,
        notes_file: crate::handoff::NOTES,
        takeover_file: crate::handoff::takeover_file(project),
        // How prompts name baton: a login shell (Codex's) may not find it by name.
        baton_cmd: crate::baton_cmd::lookup().command(),
        baton_path: crate::baton_cmd::lookup().path(),
        remote_batons: project
            .config
            .agents
            .iter()
            .filter_map(|a| {
                let host = project
                    .config
                    .hosts
                    .iter()
                    .find(|h| Some(&h.name) == a.host.as_ref())?;
                let path = crate::hosts::remote_baton(host).display().to_string();
                Some((a.name.clone(), baton_core::ssh::shell_quote(&path)))
            })
            .collect(),
        worktree_notes: project
            .config
            .agents
            .iter()
            .filter_map(|a| Some((a.name.clone(), worktree_note(project, a, integration)?)))
            .collect(),
    };
    let (settings, agents) = baton_core::settings::engine_settings(&project.config, inputs);
    Ok(Engine::new(settings, agents))
}
