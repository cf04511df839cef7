//! The orchestration engine: every rule of the workflow as a pure state machine.
//!
//! `Engine::step(now_ms, event) -> Vec<Action>`: no clock, no tmux, no files. The shell feeds
//! it what happened (a screen read, a hook, a task changed in the store, a verify run ended, a
//! timer tick) and carries out the actions it returns, committing task changes to the store
//! before acting on them. Rules:
//!
//! - **Dispatch**: every available agent gets the best ready task at once — dependencies
//!   COMPLETED, skills fitting, then priority, then age. No batch barrier.
//! - **Delivery**: a prompt is pasted, then [`Delivery`] decides on Enter presses; a failed
//!   delivery gets Ctrl-C and the prompt once more, then the task is requeued elsewhere and the
//!   agent restarted.
//! - **Completion**: the agent's own `baton task done` (a task change), a turn-end hook, or the
//!   screen (ready again after working, and quiet for the profile's settle time). A turn that
//!   ends unreported gets one nudge; after the next one the task is UNREPORTED: it waits for a
//!   review (by the lead, else a person) and its dependents wait with it (`review.rs`).
//! - **Recovery**: no screen change for `stuck_after` → a reminder; after two more checks,
//!   Ctrl-C and the prompt again; then the task goes to another agent. A dead agent is
//!   restarted with backoff and its task requeued. A task that failed `max_attempts` times
//!   needs a person.
//! - **Quota**: an agent at or above `critical` gets no new task; one that hit its limit loses
//!   its task to another agent.
//! - **Verify waves**: when the tasks dispatched since the last verify are all closed, the
//!   verify commands run; each failure becomes a fix task (skill `fix`), at most
//!   `max_fix_cycles` per command.

mod lead;
mod merge;
pub mod prompt;
mod quota;
pub mod report_failed;
pub mod review;

pub use lead::LeadPhase;
pub use lead::LeadSnapshot;

use std::collections::BTreeMap;
use std::collections::BTreeSet;

use serde::Serialize;

use crate::delivery::Delivery;
use crate::delivery::Step;
use crate::detector::Detection;
use crate::profile::AgentState;
use crate::profile::Submit;
use crate::task::NewTask;
use crate::task::Priority;
use crate::task::Status;
use crate::task::Task;
use crate::task::TaskId;
pub use merge::CONFLICT_SKILL;
pub use merge::MERGE_SKILL;
pub use merge::MergeOutcome;

/// What the engine knows of one agent from the configuration.
#[derive(Clone, Debug)]
pub struct AgentSpec {
    /// The agent's name.
    pub name: String,
    /// Its skills.
    pub skills: Vec<String>,
    /// How many tasks it may hold at once (0: it gets none, as a lead that only leads).
    pub max_tasks: u32,
    /// Its profile's submission timings.
    pub submit: Submit,
    /// Where it works when it has a git worktree of its own (the prompt's working directory,
    /// with how its work is merged); `None`: the project's shared checkout.
    pub worktree: Option<String>,
}

/// The engine's settings.
#[derive(Clone, Debug)]
pub struct Settings {
    /// No screen change for this long while working: a reminder.
    pub stuck_after_ms: u64,
    /// Failed attempts after which a task needs a person.
    pub max_attempts: u32,
    /// Quota % at which the person and the lead are warned, once per crossing.
    pub warn_percent: f64,
    /// Quota % at which an agent gets no new task (its current one finishes).
    pub critical_percent: f64,
    /// An agent projected to reach `critical_percent` within this long is treated as there.
    pub quota_lookahead_ms: u64,
    /// At critical, stop the agent's work too (Ctrl-C, its task to another agent).
    pub auto_stop: bool,
    /// Emergency override: quota never holds work back (`--ignore-usage`).
    pub ignore_usage: bool,
    /// `[lead] chain`: who leads, in order of handoff.
    pub lead_chain: Vec<String>,
    /// Quota % at which the lead prepares its handoff (notes, no new work).
    pub prepare_at: f64,
    /// Quota % at which the lead role moves on.
    pub handoff_at: f64,
    /// A resting lead whose quota is below this may lead again.
    pub return_below: f64,
    /// Whether the role comes back to an earlier lead of the chain after its reset.
    pub return_after_reset: bool,
    /// How long the lead's notes are waited for.
    pub notes_deadline_ms: u64,
    /// After a handoff found no successor, the next try.
    pub lead_retry_ms: u64,
    /// Verify commands run after each wave.
    pub verify_commands: Vec<String>,
    /// Fix tasks per failing verify command, at most.
    pub max_fix_cycles: u32,
    /// The prompt template.
    pub template: String,
    /// The memory file's name, for prompts.
    pub memory_file: String,
    /// First restart delay; doubles up to `restart_max_ms`.
    pub restart_base_ms: u64,
    /// Longest restart delay.
    pub restart_max_ms: u64,
    /// Nudges, reminders and test tasks, in the run's language.
    pub texts: prompt::Texts,
    /// Once every feature task is done, one test task per feature to the agent that built it.
    pub test_tasks: bool,
    /// Tasks with one of these skills are not features (no test task of their own).
    pub not_features: Vec<String>,
    /// How prompts name baton (`{baton}` in templates and texts): `baton` when a login shell
    /// finds this very binary, else its absolute path, shell-quoted.
    pub baton_cmd: String,
    /// baton's absolute path, shell-quoted: the command given to an agent whose report failed.
    pub baton_path: String,
}

impl Default for Settings {
    fn default() -> Self {
        Settings {
            stuck_after_ms: 10 * 60 * 1000,
            max_attempts: 3,
            warn_percent: 80.0,
            critical_percent: 90.0,
            quota_lookahead_ms: 10 * 60 * 1000,
            auto_stop: false,
            ignore_usage: false,
            lead_chain: Vec::new(),
            prepare_at: 85.0,
            handoff_at: 93.0,
            return_below: 50.0,
            return_after_reset: true,
            notes_deadline_ms: 180_000,
            lead_retry_ms: 60_000,
            verify_commands: Vec::new(),
            max_fix_cycles: 3,
            template: prompt::TEMPLATE_EN.to_owned(),
            memory_file: "CLAUDE.md".to_owned(),
            restart_base_ms: 1000,
            restart_max_ms: 60_000,
            texts: prompt::Texts::default(),
            test_tasks: false,
            not_features: [
                "fix",
                "test",
                "plan",
                "review",
                "docs",
                "design",
                "architecture",
            ]
            .map(String::from)
            .to_vec(),
            baton_cmd: "baton".to_owned(),
            baton_path: "baton".to_owned(),
        }
    }
}

/// A key the shell presses in an agent's pane.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
pub enum Key {
    /// Enter.
    Enter,
    /// Ctrl-C.
    CtrlC,
    /// Escape.
    Escape,
}

/// What happened, as the shell reports it.
#[derive(Clone, Debug)]
pub enum Event {
    /// Time passed.
    Tick,
    /// An agent's screen was read; `hash` identifies its content.
    Screen {
        /// The agent.
        agent: String,
        /// What the detector made of it.
        detection: Detection,
        /// A hash of the screen text.
        hash: u64,
    },
    /// The agent's CLI reported the end of a turn (Claude Stop hook, Codex notify).
    TurnEnded {
        /// The agent.
        agent: String,
    },
    /// The agent's process is running (after a start).
    AgentUp {
        /// The agent.
        agent: String,
    },
    /// The agent's process exited or its window closed.
    AgentDied {
        /// The agent.
        agent: String,
    },
    /// A task appeared in the store.
    TaskAdded(Task),
    /// A task changed in the store outside the engine (CLI, memory file, lead).
    TaskChanged(Task),
    /// A verify command finished.
    VerifyFinished {
        /// The wave it verified.
        wave: u64,
        /// The command.
        command: String,
        /// Whether it passed.
        ok: bool,
        /// The end of its output when it failed.
        excerpt: String,
    },
    /// A quota reading for an agent.
    Quota {
        /// The agent.
        agent: String,
        /// The window: `session-5h`, `weekly`, `model:<name>`…
        window: String,
        /// Percent of the window used.
        used_percent: f64,
        /// When the window resets, on the engine's clock, when known.
        resets_at: Option<u64>,
        /// The burn rate, in percentage points per hour, when the history gives one.
        burn_per_hour: Option<f64>,
    },
    /// Dispatch paused (true) or resumed (false).
    Pause(bool),
    /// Someone waits for the end of the run: say `Finished` again if it holds (a daemon that
    /// finished earlier keeps running under `baton up`).
    Rearm,
    /// The lead role as the store kept it (on start).
    LeadRestore(LeadSnapshot),
    /// A person asked for a handoff (to this agent, or the next in the chain).
    HandoffRequested {
        /// The successor asked for.
        to: Option<String>,
    },
    /// The lead wrote its notes for its successor.
    LeadNotes,
    /// The shell wrote the handoff document for this successor.
    HandoffWritten {
        /// The successor.
        to: String,
    },
    /// The lines of an agent's screen that show a failed `baton` call (a report that did not
    /// reach baton: `baton: command not found`, baton's own `error: …`), every time they are
    /// read; see [`report_failed::scan`].
    ReportFailures {
        /// The agent.
        agent: String,
        /// The lines, top to bottom.
        lines: Vec<String>,
    },
    /// A merge queued with `QueueMerge` ended.
    MergeFinished {
        /// The task whose completion queued it.
        task: TaskId,
        /// The agent whose branch it merged.
        agent: String,
        /// How it ended.
        outcome: MergeOutcome,
    },
}

/// What the shell must do. Task changes are committed to the store before anything else.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "action", rename_all = "kebab-case")]
pub enum Action {
    /// Start (or restart) the agent's process.
    StartAgent {
        /// The agent.
        agent: String,
    },
    /// Commit: the task is IN_PROGRESS for the agent (one more attempt).
    Assign {
        /// The task.
        task: TaskId,
        /// The agent.
        agent: String,
    },
    /// Paste text into the agent's prompt box (no Enter).
    Paste {
        /// The agent.
        agent: String,
        /// The text.
        text: String,
    },
    /// Press a key in the agent's pane.
    Press {
        /// The agent.
        agent: String,
        /// The key.
        key: Key,
    },
    /// Commit: the task goes back to PENDING.
    Requeue {
        /// The task.
        task: TaskId,
        /// Why.
        reason: String,
    },
    /// Commit: the task is BLOCKED until a person looks at it.
    NeedsHuman {
        /// The task.
        task: TaskId,
        /// Why.
        reason: String,
    },
    /// Commit: the task ended without a report: UNREPORTED (not COMPLETED: nobody said it is
    /// done). With `review`, a review task goes with it, for `reviewer` (the lead) or, when
    /// `None`, for a person (BLOCKED until one looks). The shell adds the agent's last screen
    /// lines and the diff of its work to the review and reports it back as `TaskAdded`.
    MarkUnreported {
        /// The task.
        task: TaskId,
        /// The agent that had it.
        agent: String,
        /// Why.
        reason: String,
        /// Whether a review task is wanted (not for a review that itself went unreported).
        review: bool,
        /// Who reviews it: the lead, or `None` for a person.
        reviewer: Option<String>,
    },
    /// Commit: add a task (a fix task); the shell reports it back as `TaskAdded`.
    AddTask {
        /// The task.
        task: NewTask,
        /// Why.
        reason: String,
    },
    /// Run the verify commands of a wave, in order; report each as `VerifyFinished`.
    RunVerify {
        /// The wave.
        wave: u64,
        /// The commands.
        commands: Vec<String>,
    },
    /// Tell the person (desktop notification, bell).
    Notify {
        /// What kind (blocked, needs-input, dead, verify-failed, quota-warn, quota-critical).
        kind: String,
        /// The message.
        message: String,
    },
    /// Write a journal entry that changes no task.
    Journal {
        /// The agent concerned.
        agent: Option<String>,
        /// The task concerned.
        task: Option<TaskId>,
        /// What.
        what: String,
    },
    /// Write `HANDOFF_TO_<TO>.md` from the store; report it as `HandoffWritten`.
    WriteHandoff {
        /// The lead handing over.
        from: String,
        /// The successor.
        to: String,
        /// Why.
        reason: String,
    },
    /// Commit: the lead role's new state, with a journal entry.
    Lead {
        /// The state.
        snapshot: LeadSnapshot,
        /// The journal action: lead-set, handoff-prepare, handoff-start, handoff-done…
        what: String,
        /// One line.
        detail: String,
    },
    /// The agent (in a worktree of its own) reported the task done: commit what it left and
    /// queue its branch for a verified merge; report the end as `MergeFinished`.
    QueueMerge {
        /// The task.
        task: TaskId,
        /// The agent.
        agent: String,
    },
    /// Journal `report-failed`: the agent's screen shows a `baton` call that failed.
    ReportFailed {
        /// The agent.
        agent: String,
        /// The task it holds, if any.
        task: Option<TaskId>,
        /// The line that shows the failure.
        line: String,
    },
    /// Nothing more to do: every task is closed or waits for a person, and verify passed.
    Finished {
        /// One line.
        summary: String,
    },
}

#[derive(Clone, Debug)]
struct TaskRt {
    task: Task,
    excluded: BTreeSet<String>,
    open_deps: usize,
    dependents: Vec<TaskId>,
}

#[derive(Clone, Debug)]
struct Sending {
    /// A notice (nudge, reminder) is dropped when it cannot be delivered; a task prompt is not.
    notice: bool,
    /// The takeover prompt of a lead handoff.
    takeover: bool,
    /// The task it is about; none for a message (a quota warning to the lead).
    task: Option<TaskId>,
    text: String,
    delivery: Delivery,
    hash_at_enter: u64,
    retried: bool,
}

impl Sending {
    /// A paste into `a`'s prompt box whose delivery is watched from `now`.
    fn new(a: &AgentRt, now: u64, text: String, task: Option<TaskId>, kind: SendKind) -> Sending {
        Sending {
            notice: kind == SendKind::Notice,
            takeover: kind == SendKind::Takeover,
            task,
            delivery: Delivery::after_paste(&a.spec.submit, now).expecting(&text),
            text,
            hash_at_enter: a.hash,
            retried: false,
        }
    }
}

/// What a paste is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum SendKind {
    /// A task prompt: resent once, then the agent is unresponsive.
    Prompt,
    /// A nudge, reminder or message: dropped if not taken.
    Notice,
    /// The takeover prompt of a lead handoff.
    Takeover,
}

#[derive(Clone, Debug, Default)]
struct Turn {
    /// Resumed from the store after a restart: the agent may never have seen the prompt.
    resumed: bool,
    seen_working: bool,
    ready_since: Option<u64>,
    nudged: bool,
    checks: u32,
    interrupted: bool,
}

#[derive(Clone, Debug)]
struct AgentRt {
    spec: AgentSpec,
    alive: bool,
    detection: Option<Detection>,
    hash: u64,
    last_change_ms: u64,
    tasks: Vec<TaskId>,
    sending: Option<Sending>,
    turn: Turn,
    quota: BTreeMap<String, quota::WindowRt>,
    /// Messages waiting for the agent to be free (dropped if not taken).
    inbox: Vec<String>,
    limited: bool,
    restarts: u32,
    restart_at: Option<u64>,
    notified_input: bool,
    /// baton's own text may be left in the prompt box (a prompt taken back mid-delivery).
    stale_input: bool,
    /// When the box was last cleared with Ctrl-C, and how many times for this episode.
    cleared_at: Option<u64>,
    clears: u32,
}

impl AgentRt {
    fn state(&self) -> AgentState {
        self.detection
            .as_ref()
            .map_or(AgentState::Unknown, |d| d.state)
    }
}

/// The engine.
pub struct Engine {
    settings: Settings,
    agents: BTreeMap<String, AgentRt>,
    tasks: BTreeMap<TaskId, TaskRt>,
    ready: BTreeSet<(Priority, TaskId)>,
    paused: bool,
    wave: u64,
    wave_tasks: BTreeSet<TaskId>,
    verifying: Option<(u64, usize, bool)>,
    waiting_waves: Vec<u64>,
    fix_cycles: BTreeMap<String, u32>,
    last_verify_ok: bool,
    finished: bool,
    adds_due: usize,
    waiting_on: BTreeMap<TaskId, Vec<TaskId>>,
    wave_closed: usize,
    skilled: BTreeMap<String, Vec<String>>,
    /// Feature tasks PENDING or IN_PROGRESS.
    open_features: usize,
    /// Features that have a test task.
    tested: BTreeSet<TaskId>,
    /// COMPLETED features without a test task yet.
    untested: BTreeSet<TaskId>,
    /// The time of the step being handled.
    now: u64,
    lead: lead::LeadRt,
    /// Merges queued or running.
    merging: BTreeSet<TaskId>,
    /// COMPLETED tasks whose work is not on the integration branch yet, and their agent.
    unmerged: BTreeMap<TaskId, String>,
    /// Failed merges in a row, per agent.
    merge_fixes: BTreeMap<String, u32>,
    /// Tasks whose last merge git could not do.
    merge_errors: BTreeSet<TaskId>,
    /// Failed reports seen on each agent's screen.
    reports: BTreeMap<String, report_failed::ReportRt>,
}

impl Engine {
    /// Creates an engine for these agents; tasks come in as `TaskAdded` events (on start-up,
    /// the shell replays the store's tasks).
    pub fn new(mut settings: Settings, agents: Vec<AgentSpec>) -> Engine {
        settings.template = prompt::fill_baton(&settings.template, &settings.baton_cmd);
        settings.texts.fill_baton(&settings.baton_cmd);
        let mut skilled: BTreeMap<String, Vec<String>> = BTreeMap::new();
        for a in agents.iter().filter(|a| a.max_tasks > 0) {
            for s in &a.skills {
                skilled.entry(s.clone()).or_default().push(a.name.clone());
            }
        }
        Engine {
            settings,
            agents: agents
                .into_iter()
                .map(|spec| {
                    let name = spec.name.clone();
                    (
                        name,
                        AgentRt {
                            spec,
                            alive: false,
                            detection: None,
                            hash: 0,
                            last_change_ms: 0,
                            tasks: Vec::new(),
                            sending: None,
                            turn: Turn::default(),
                            quota: BTreeMap::new(),
                            inbox: Vec::new(),
                            limited: false,
                            restarts: 0,
                            restart_at: None,
                            notified_input: false,
                            stale_input: false,
                            cleared_at: None,
                            clears: 0,
                        },
                    )
                })
                .collect(),
            tasks: BTreeMap::new(),
            ready: BTreeSet::new(),
            paused: false,
            wave: 1,
            wave_tasks: BTreeSet::new(),
            verifying: None,
            waiting_waves: Vec::new(),
            fix_cycles: BTreeMap::new(),
            last_verify_ok: true,
            finished: false,
            adds_due: 0,
            waiting_on: BTreeMap::new(),
            wave_closed: 0,
            skilled,
            open_features: 0,
            tested: BTreeSet::new(),
            untested: BTreeSet::new(),
            now: 0,
            lead: lead::LeadRt::default(),
            merging: BTreeSet::new(),
            unmerged: BTreeMap::new(),
            merge_fixes: BTreeMap::new(),
            merge_errors: BTreeSet::new(),
            reports: BTreeMap::new(),
        }
    }

    /// Loads tasks from the store at start-up, all at once: no decision is taken until every
    /// one is known (the first event after this dispatches).
    pub fn load(&mut self, tasks: impl IntoIterator<Item = Task>) {
        for t in tasks {
            self.add_task(t);
        }
    }

    /// Returns a task as the engine sees it.
    pub fn task(&self, id: TaskId) -> Option<&Task> {
        self.tasks.get(&id).map(|t| &t.task)
    }

    /// Returns the tasks an agent holds.
    pub fn agent_tasks(&self, agent: &str) -> &[TaskId] {
        self.agents.get(agent).map_or(&[], |a| a.tasks.as_slice())
    }

    /// Returns true when `agent` could take `task` right now (used by the simulator's checks).
    pub fn could_take(&self, agent: &str, task: TaskId) -> bool {
        let (Some(a), Some(t)) = (self.agents.get(agent), self.tasks.get(&task)) else {
            return false;
        };
        self.available(a) && self.fits(a, t)
    }

    /// Returns an agent that is free while a ready task fits it, if any: after every step
    /// there should be none (the simulator asserts it).
    pub fn idle_agent_with_work(&self) -> Option<(String, TaskId)> {
        if self.paused {
            return None;
        }
        for a in self.agents.values().filter(|a| self.available(a)) {
            for (_, id) in &self.ready {
                if self.tasks.get(id).is_some_and(|t| self.fits(a, t)) {
                    return Some((a.spec.name.clone(), *id));
                }
            }
        }
        None
    }

    /// Returns the ready tasks, best first.
    pub fn ready_tasks(&self) -> Vec<TaskId> {
        self.ready.iter().map(|(_, id)| *id).collect()
    }

    /// Returns the agents' names.
    pub fn agent_names(&self) -> Vec<String> {
        self.agents.keys().cloned().collect()
    }

    /// Handles one event at time `now` (milliseconds, from any fixed origin).
    pub fn step(&mut self, now: u64, event: Event) -> Vec<Action> {
        let mut out = Vec::new();
        self.now = now;
        match event {
            Event::Tick => {}
            Event::Screen {
                agent,
                detection,
                hash,
            } => self.on_screen(now, &agent, detection, hash, &mut out),
            Event::TurnEnded { agent } => self.turn_ended(now, &agent, &mut out),
            Event::AgentUp { agent } => {
                if let Some(a) = self.agents.get_mut(&agent) {
                    a.alive = true;
                    a.restart_at = None;
                    a.last_change_ms = now;
                    a.detection = None;
                }
            }
            Event::AgentDied { agent } => self.agent_died(now, &agent, &mut out),
            Event::TaskAdded(task) => {
                self.adds_due = self.adds_due.saturating_sub(1);
                self.add_task(task);
            }
            Event::TaskChanged(task) => self.task_changed(task, &mut out),
            Event::VerifyFinished {
                wave,
                command,
                ok,
                excerpt,
            } => self.verify_finished(wave, &command, ok, &excerpt, &mut out),
            Event::Quota {
                agent,
                window,
                used_percent,
                resets_at,
                burn_per_hour,
            } => self.on_quota(
                &agent,
                &window,
                quota::Reading {
                    used: used_percent,
                    resets_at,
                    burn_per_hour,
                },
                &mut out,
            ),
            Event::Pause(p) => self.paused = p,
            Event::Rearm => self.finished = false,
            Event::LeadRestore(snap) => self.lead_restore(snap),
            Event::HandoffRequested { to } => self.handoff_requested(to),
            Event::LeadNotes => self.lead_notes(),
            Event::HandoffWritten { to } => self.handoff_written(&to, &mut out),
            Event::MergeFinished {
                task,
                agent,
                outcome,
            } => self.merge_finished(task, &agent, outcome, &mut out),
            Event::ReportFailures { agent, lines } => {
                self.report_failures(&agent, lines, &mut out);
            }
        }
        self.timers(now, &mut out);
        self.lead_step(now, &mut out);
        self.dispatch(now, &mut out);
        self.check_tests(&mut out);
        self.check_waves(&mut out);
        self.check_finished(&mut out);
        out
    }

    fn add_task(&mut self, task: Task) {
        let id = task.id;
        let open_deps = task
            .deps
            .iter()
            .filter(|d| {
                self.unmerged_dep(**d)
                    || self
                        .tasks
                        .get(d)
                        .is_none_or(|t| t.task.status != Status::Completed)
            })
            .count();
        for d in &task.deps {
            match self.tasks.get_mut(d) {
                Some(dep) => dep.dependents.push(id),
                // Not known yet: it finds its dependents when it arrives.
                None => self.waiting_on.entry(*d).or_default().push(id),
            }
        }
        let dependents = self.waiting_on.remove(&id).unwrap_or_default();
        if let Some(old) = self.tasks.get(&id).map(|t| t.task.clone()) {
            self.count_feature(&old, false);
        }
        self.count_feature(&task, true);
        if task.skills.iter().any(|s| s == "test") {
            for d in &task.deps {
                self.tested.insert(*d);
                self.untested.remove(d);
            }
        }
        let status = task.status;
        let assignee = task.assignee.clone();
        self.tasks.insert(
            id,
            TaskRt {
                task,
                excluded: BTreeSet::new(),
                open_deps,
                dependents,
            },
        );
        if status == Status::InProgress
            && let Some(agent) = assignee
            && let Some(a) = self.agents.get_mut(&agent)
            && !a.tasks.contains(&id)
        {
            // Resumed after a restart: the agent may still be working on it.
            a.tasks.push(id);
            a.turn = Turn {
                resumed: true,
                seen_working: true,
                ..Turn::default()
            };
        }
        self.finished = false;
        self.refresh_ready(id);
    }

    fn is_feature(&self, t: &Task) -> bool {
        !t.skills
            .iter()
            .any(|s| self.settings.not_features.contains(s))
    }

    /// Counts a task in (or out of) the feature bookkeeping of the test-task rule.
    fn count_feature(&mut self, t: &Task, add: bool) {
        if !self.is_feature(t) {
            return;
        }
        if matches!(t.status, Status::Pending | Status::InProgress) {
            if add {
                self.open_features += 1;
            } else {
                self.open_features = self.open_features.saturating_sub(1);
            }
        }
        if t.status == Status::Completed && !self.tested.contains(&t.id) {
            if add {
                self.untested.insert(t.id);
            } else {
                self.untested.remove(&t.id);
            }
        }
    }

    fn refresh_ready(&mut self, id: TaskId) {
        let Some(t) = self.tasks.get(&id) else { return };
        let key = (t.task.priority, id);
        if t.task.status == Status::Pending && t.open_deps == 0 {
            self.ready.insert(key);
        } else {
            self.ready.remove(&key);
        }
    }

    fn set_status(&mut self, id: TaskId, status: Status) {
        let Some(t) = self.tasks.get_mut(&id) else {
            return;
        };
        let was = t.task.status;
        if was != status {
            let mut before = t.task.clone();
            before.status = was;
            let mut after = before.clone();
            after.status = status;
            self.count_feature(&before, false);
            self.count_feature(&after, true);
        }
        let Some(t) = self.tasks.get_mut(&id) else {
            return;
        };
        t.task.status = status;
        // Work that ended, reported or not, closes for its wave: the verify checks it too.
        if (status.is_final() || matches!(status, Status::Blocked | Status::Unreported))
            && self.wave_tasks.remove(&id)
        {
            self.wave_closed += 1;
        }
        if status == Status::Completed && was != Status::Completed && !self.unmerged_dep(id) {
            self.release_dependents(id);
        }
        if was == Status::Completed && status != Status::Completed && !self.unmerged_dep(id) {
            // Reopened: its dependents not started yet wait for it again.
            self.hold_dependents(id);
        }
        self.refresh_ready(id);
    }

    /// A dependency of these tasks is satisfied.
    fn release_dependents(&mut self, id: TaskId) {
        self.dependency_changed(id, true);
    }

    /// A dependency of these tasks is open again (its task was reopened).
    fn hold_dependents(&mut self, id: TaskId) {
        self.dependency_changed(id, false);
    }

    /// One dependency of `id`'s dependents closed (`done`) or opened again.
    fn dependency_changed(&mut self, id: TaskId, done: bool) {
        let Some(t) = self.tasks.get(&id) else {
            return;
        };
        for d in t.dependents.clone() {
            if let Some(dt) = self.tasks.get_mut(&d) {
                dt.open_deps = if done {
                    dt.open_deps.saturating_sub(1)
                } else {
                    dt.open_deps + 1
                };
            }
            self.refresh_ready(d);
        }
    }

    fn release(&mut self, agent: &str, task: TaskId) {
        if let Some(a) = self.agents.get_mut(agent) {
            a.tasks.retain(|t| *t != task);
            if a.sending.as_ref().is_some_and(|s| s.task == Some(task)) {
                // Its text may still sit unsubmitted in the prompt box: cleared before the
                // next prompt is pasted, or the two would be submitted as one.
                a.sending = None;
                a.stale_input = true;
            }
            if a.tasks.is_empty() {
                a.turn = Turn::default();
            }
        }
    }

    fn holder(&self, task: TaskId) -> Option<String> {
        self.agents
            .iter()
            .find(|(_, a)| a.tasks.contains(&task))
            .map(|(n, _)| n.clone())
    }

    fn task_changed(&mut self, task: Task, out: &mut Vec<Action>) {
        let id = task.id;
        if !self.tasks.contains_key(&id) {
            self.add_task(task);
            return;
        }
        let status = task.status;
        let holder = self.holder(id);
        if let Some(t) = self.tasks.get_mut(&id) {
            t.task.assignee = task.assignee.clone();
            t.task.attempts = task.attempts;
            t.task.blocked_reason = task.blocked_reason.clone();
            t.task.priority = task.priority;
        }
        if status == Status::Completed {
            self.queue_merge(id, out);
        }
        let was = self.tasks.get(&id).map(|t| t.task.status);
        // Priority may have changed: re-key.
        self.ready.retain(|(_, t)| *t != id);
        self.set_status(id, status);
        if let Some(was) = was {
            self.review_settled(id, was, status, out);
        }
        if status != Status::InProgress
            && let Some(agent) = &holder
        {
            self.release(agent, id);
            if let Some(a) = self.agents.get_mut(agent) {
                a.restarts = 0;
            }
        }
        if status == Status::Blocked {
            let reason = task.blocked_reason.clone().unwrap_or_default();
            let lower = reason.to_lowercase();
            if [
                "credit",
                "quota",
                "usage limit",
                "rate limit",
                "limit reached",
            ]
            .iter()
            .any(|w| lower.contains(w))
            {
                if let (Some(agent), Some(t)) = (&holder, self.tasks.get_mut(&id)) {
                    t.excluded.insert(agent.clone());
                }
                if let Some(agent) = &holder
                    && let Some(a) = self.agents.get_mut(agent)
                {
                    a.limited = true;
                }
                out.push(Action::Requeue {
                    task: id,
                    reason: format!("blocked for {reason}: given to another agent"),
                });
                self.set_status(id, Status::Pending);
            } else {
                out.push(Action::Notify {
                    kind: "blocked".into(),
                    message: format!("{id} is BLOCKED: {reason}"),
                });
            }
        }
    }

    fn on_screen(
        &mut self,
        now: u64,
        agent: &str,
        detection: Detection,
        hash: u64,
        out: &mut Vec<Action>,
    ) {
        let Some(a) = self.agents.get_mut(agent) else {
            return;
        };
        if hash != a.hash {
            a.hash = hash;
            a.last_change_ms = now;
            a.turn.checks = 0;
        }
        let state = detection.state;
        a.detection = Some(detection);
        if !a.alive && state != AgentState::Unknown {
            a.alive = true;
        }
        if state != AgentState::NeedsInput {
            a.notified_input = false;
        }
        if a.stale_input && a.sending.is_none() {
            let text_left = a.detection.as_ref().is_some_and(|d| d.input.is_some());
            if !text_left || a.clears >= 2 {
                // Empty, or two Ctrl-C did not empty it (what shows is not ours): go on.
                a.stale_input = false;
                a.clears = 0;
            } else if state.is_ready() && a.cleared_at.is_none_or(|t| now.saturating_sub(t) >= 2000)
            {
                // One Ctrl-C clears the box (it never exits a CLI whose box holds text).
                a.cleared_at = Some(now);
                a.clears += 1;
                out.push(Action::Press {
                    agent: agent.to_owned(),
                    key: Key::CtrlC,
                });
                out.push(Action::Journal {
                    agent: Some(agent.to_owned()),
                    task: None,
                    what: "cleared a prompt left unsubmitted in the box".into(),
                });
            }
        }
        if state.is_ready() && a.tasks.is_empty() && a.limited {
            a.limited = quota::gating(a, now) >= self.settings.critical_percent;
        }
        if a.sending.is_some() {
            self.observe_delivery(now, agent, out);
            return;
        }
        let Some(a) = self.agents.get_mut(agent) else {
            return;
        };
        let Some(&task) = a.tasks.first() else { return };
        match state {
            AgentState::Working => {
                a.turn.seen_working = true;
                a.turn.ready_since = None;
            }
            s if s.is_ready() && a.turn.seen_working => {
                a.turn.ready_since.get_or_insert(now);
            }
            AgentState::NeedsInput if !a.notified_input => {
                a.notified_input = true;
                out.push(Action::Notify {
                    kind: "needs-input".into(),
                    message: format!(
                        "{agent} waits for a person (a dialog is open) while on {task}"
                    ),
                });
            }
            AgentState::RateLimited | AgentState::Error => {
                a.limited = state == AgentState::RateLimited;
                let why = if state == AgentState::RateLimited {
                    "usage limit reached"
                } else {
                    "the agent shows an error"
                };
                self.take_back(agent, task, why, true, out);
            }
            _ => {}
        }
    }

    fn observe_delivery(&mut self, now: u64, agent: &str, out: &mut Vec<Action>) {
        let Some(a) = self.agents.get_mut(agent) else {
            return;
        };
        let Some(s) = a.sending.as_mut() else { return };
        let Some(d) = a.detection.clone() else { return };
        match s.delivery.observe(now, &d, a.hash != s.hash_at_enter) {
            Step::Wait => {}
            Step::PressEnter => {
                s.hash_at_enter = a.hash;
                out.push(Action::Press {
                    agent: agent.to_owned(),
                    key: Key::Enter,
                });
            }
            Step::Delivered { state, enters } => {
                let task = s.task;
                let takeover = s.takeover;
                a.sending = None;
                a.last_change_ms = now;
                a.turn.seen_working = state == AgentState::Working;
                a.turn.ready_since = None;
                a.turn.resumed = false;
                out.push(Action::Journal {
                    agent: Some(agent.to_owned()),
                    task,
                    what: format!(
                        "{} delivered (Enter ×{enters}, {state})",
                        if takeover {
                            "takeover prompt"
                        } else if task.is_some() {
                            "prompt"
                        } else {
                            "message"
                        }
                    ),
                });
                if let Some(task) = task
                    && matches!(state, AgentState::RateLimited | AgentState::Error)
                {
                    a.limited = state == AgentState::RateLimited;
                    self.take_back(agent, task, "the agent refused the prompt", true, out);
                }
                if takeover {
                    self.takeover_verified(agent, out);
                }
            }
            Step::Failed { reason, .. } => {
                let task = s.task;
                if s.notice {
                    a.sending = None;
                    out.push(Action::Journal {
                        agent: Some(agent.to_owned()),
                        task,
                        what: format!("a notice was not taken ({reason})"),
                    });
                } else if !s.retried {
                    s.retried = true;
                    s.delivery = Delivery::after_paste(&a.spec.submit, now).expecting(&s.text);
                    let text = s.text.clone();
                    out.push(Action::Press {
                        agent: agent.to_owned(),
                        key: Key::CtrlC,
                    });
                    out.push(Action::Paste {
                        agent: agent.to_owned(),
                        text,
                    });
                    out.push(Action::Journal {
                        agent: Some(agent.to_owned()),
                        task,
                        what: format!("delivery failed ({reason}): Ctrl-C and the prompt again"),
                    });
                } else {
                    let takeover = s.takeover;
                    a.sending = None;
                    if takeover {
                        self.takeover_failed(agent, &format!("unresponsive: {reason}"), out);
                    }
                    if let Some(task) = task {
                        self.take_back(
                            agent,
                            task,
                            &format!("agent unresponsive: {reason}"),
                            true,
                            out,
                        );
                    }
                    self.schedule_restart(now, agent, out);
                }
            }
        }
    }

    /// Takes a task back from an agent and puts it back in the queue (elsewhere when `exclude`).
    fn take_back(
        &mut self,
        agent: &str,
        task: TaskId,
        why: &str,
        exclude: bool,
        out: &mut Vec<Action>,
    ) {
        self.release(agent, task);
        let max = self.settings.max_attempts;
        let Some(t) = self.tasks.get_mut(&task) else {
            return;
        };
        if exclude {
            t.excluded.insert(agent.to_owned());
        }
        if t.task.attempts >= max {
            out.push(Action::NeedsHuman {
                task,
                reason: format!("failed {} times (last: {why})", t.task.attempts),
            });
            out.push(Action::Notify {
                kind: "blocked".into(),
                message: format!("{task} needs a person: {why}"),
            });
            t.task.blocked_reason = Some(why.to_owned());
            self.set_status(task, Status::Blocked);
        } else {
            out.push(Action::Requeue {
                task,
                reason: format!("{agent}: {why}"),
            });
            self.set_status(task, Status::Pending);
        }
    }

    fn schedule_restart(&mut self, now: u64, agent: &str, out: &mut Vec<Action>) {
        let (base, max) = (self.settings.restart_base_ms, self.settings.restart_max_ms);
        let Some(a) = self.agents.get_mut(agent) else {
            return;
        };
        a.alive = false;
        a.detection = None;
        let delay = base.saturating_mul(1u64 << a.restarts.min(16)).min(max);
        a.restarts += 1;
        a.restart_at = Some(now + delay);
        out.push(Action::Journal {
            agent: Some(agent.to_owned()),
            task: None,
            what: format!("restart in {} ms (restart #{})", delay, a.restarts),
        });
    }

    fn agent_died(&mut self, now: u64, agent: &str, out: &mut Vec<Action>) {
        let Some(a) = self.agents.get_mut(agent) else {
            return;
        };
        let tasks = std::mem::take(&mut a.tasks);
        let taking_over = a.sending.as_ref().is_some_and(|s| s.takeover);
        a.sending = None;
        a.turn = Turn::default();
        if taking_over
            || matches!(&self.lead.snap.phase, LeadPhase::Takeover { to, .. } if to == agent)
        {
            self.takeover_failed(agent, "it died", out);
        }
        out.push(Action::Notify {
            kind: "dead".into(),
            message: format!("{agent} exited"),
        });
        for t in tasks {
            self.take_back(agent, t, "the agent died", true, out);
        }
        self.schedule_restart(now, agent, out);
    }

    fn turn_ended(&mut self, now: u64, agent: &str, out: &mut Vec<Action>) {
        let Some(a) = self.agents.get_mut(agent) else {
            return;
        };
        if a.sending.is_some() {
            return;
        }
        let Some(&task) = a.tasks.first() else { return };
        if a.detection
            .as_ref()
            .is_some_and(|d| d.state == AgentState::Working)
        {
            // The screen, read just before this event, shows a turn running: the hook that
            // fired is the previous turn's, read late (its task reported and the next one out
            // already). This turn's own end comes later, or its finished screen does.
            return;
        }
        a.turn.ready_since = None;
        a.turn.seen_working = false;
        // A turn that ended on a failed report is no silence: it gets the command instead.
        if self.answer_failed_report(now, agent, task, out) {
            return;
        }
        let Some(a) = self.agents.get_mut(agent) else {
            return;
        };
        if a.turn.resumed {
            // The daemon restarted while this task was out: the prompt may never have
            // arrived. Send it again; an agent that already did the work just reports it.
            a.turn.resumed = false;
            let text = format!(
                "(baton restarted: if you already finished {task}, just report it with {} task done {task}.)\n\n{}",
                self.settings.baton_cmd,
                self.prompt_for(agent, task)
            );
            self.send(now, agent, task, text, false, out);
            return;
        }
        if !a.turn.nudged {
            a.turn.nudged = true;
            if let Some(t) = self.tasks.get(&task) {
                let text = prompt::short(&self.settings.texts.nudge, &t.task);
                self.send(now, agent, task, text, true, out);
            }
        } else {
            self.release(agent, task);
            self.went_unreported(agent, task, out);
        }
    }

    fn timers(&mut self, now: u64, out: &mut Vec<Action>) {
        self.quota_resets(now, out);
        let names: Vec<String> = self.agents.keys().cloned().collect();
        for name in names {
            let Some(a) = self.agents.get_mut(&name) else {
                continue;
            };
            if !a.alive {
                if a.restart_at.is_some_and(|t| t <= now) {
                    a.restart_at = None;
                    out.push(Action::StartAgent {
                        agent: name.clone(),
                    });
                }
                continue;
            }
            if a.sending.is_some() {
                self.observe_delivery(now, &name, out);
                continue;
            }
            let Some(&task) = a.tasks.first() else {
                continue;
            };
            if let Some(since) = a.turn.ready_since
                && now.saturating_sub(since) >= a.spec.submit.settle_ms
                && a.state().is_ready()
            {
                self.turn_ended(now, &name, out);
                continue;
            }
            let Some(a) = self.agents.get_mut(&name) else {
                continue;
            };
            if now.saturating_sub(a.last_change_ms) < self.settings.stuck_after_ms {
                continue;
            }
            a.last_change_ms = now;
            a.turn.checks += 1;
            let Some(t) = self.tasks.get(&task) else {
                continue;
            };
            match a.turn.checks {
                1 => {
                    let text = prompt::short(&self.settings.texts.reminder, &t.task);
                    self.send(now, &name, task, text, true, out);
                }
                2 => {}
                3 if !a.turn.interrupted => {
                    a.turn.interrupted = true;
                    a.turn.checks = 0;
                    let text = self.prompt_for(&name, task);
                    out.push(Action::Press {
                        agent: name.clone(),
                        key: Key::CtrlC,
                    });
                    self.send(now, &name, task, text, false, out);
                    out.push(Action::Journal {
                        agent: Some(name.clone()),
                        task: Some(task),
                        what: "stuck: Ctrl-C and the prompt again".into(),
                    });
                }
                _ => {
                    self.take_back(
                        &name,
                        task,
                        "stuck: no screen change after a reminder and a resend",
                        true,
                        out,
                    );
                    self.schedule_restart(now, &name, out);
                }
            }
        }
    }

    /// Pastes `text` into the agent's prompt box with verified delivery (Enter is pressed by
    /// the delivery rule, again if it was swallowed).
    fn send(
        &mut self,
        now: u64,
        agent: &str,
        task: TaskId,
        text: String,
        notice: bool,
        out: &mut Vec<Action>,
    ) {
        let Some(a) = self.agents.get_mut(agent) else {
            return;
        };
        let kind = if notice {
            SendKind::Notice
        } else {
            SendKind::Prompt
        };
        a.sending = Some(Sending::new(a, now, text.clone(), Some(task), kind));
        out.push(Action::Paste {
            agent: agent.to_owned(),
            text,
        });
    }

    fn prompt_for(&self, agent: &str, task: TaskId) -> String {
        let Some(t) = self.tasks.get(&task) else {
            return String::new();
        };
        prompt::render(
            &self.settings.template,
            &prompt::PromptContext {
                task: &t.task,
                agent,
                workdir: self
                    .agents
                    .get(agent)
                    .and_then(|a| a.spec.worktree.as_deref())
                    .unwrap_or("."),
                memory_file: &self.settings.memory_file,
            },
        )
    }

    fn available(&self, a: &AgentRt) -> bool {
        a.alive
            && a.sending.is_none()
            && !a.limited
            && a.restart_at.is_none()
            && (a.tasks.len() as u32) < a.spec.max_tasks
            && a.state().is_ready()
            && !a.stale_input
            && !self.held_back(a)
            && !self.lead_holds(a)
    }

    /// Whether an agent cannot work for a while (limited, held back by quota, resting or
    /// handing the lead over): its reservations lapse and its skills count for nothing.
    fn out_for_now(&self, a: &AgentRt) -> bool {
        a.limited || self.held_back(a) || self.lead_holds_long(a)
    }

    fn fits(&self, a: &AgentRt, t: &TaskRt) -> bool {
        // A merge fix belongs to the agent whose worktree holds the work, whatever happens
        // (even after that agent was excluded from it: nobody else can do it).
        if t.task.skills.iter().any(|s| s == MERGE_SKILL)
            && let Some(to) = &t.task.assignee
            && self.agents.contains_key(to)
        {
            return *to == a.spec.name;
        }
        // Excluded agents are tried again only once every agent has been excluded.
        let workers = self
            .agents
            .values()
            .filter(|a| a.spec.max_tasks > 0)
            .count();
        if t.excluded.contains(&a.spec.name) && t.excluded.len() < workers {
            return false;
        }
        // `--to agent` reserves a task until it is first given out; after that the assignee
        // is only who had it last, and a requeued task may go anywhere not excluded.
        // A reservation lapses while its agent cannot work for a while (resting after a
        // handoff, held back by quota, limited): the task goes elsewhere rather than wait.
        if t.task.attempts == 0
            && let Some(to) = &t.task.assignee
            && let Some(reserved) = self.agents.get(to)
        {
            if *to == a.spec.name {
                // Reserved for it: its skills do not matter (a feature's test task goes to
                // its builder, who may not have the `test` skill another agent has).
                return true;
            }
            if !self.out_for_now(reserved) {
                return false;
            }
        }
        // A skilled task goes to an agent with one of its skills; to anyone when no agent that
        // has them may take it (none exists, all were excluded from it, or they cannot work
        // for a while).
        t.task.skills.is_empty()
            || t.task.skills.iter().any(|s| a.spec.skills.contains(s))
            || !t.task.skills.iter().any(|s| {
                self.skilled.get(s).is_some_and(|names| {
                    names.iter().any(|n| {
                        !t.excluded.contains(n)
                            && self.agents.get(n).is_some_and(|sa| !self.out_for_now(sa))
                    })
                })
            })
    }

    fn dispatch(&mut self, now: u64, out: &mut Vec<Action>) {
        self.deliver_messages(now, out);
        if self.paused {
            return;
        }
        let mut free = self.agents.values().filter(|a| self.available(a)).count();
        if free == 0 || self.ready.is_empty() {
            return;
        }
        let ready: Vec<TaskId> = self.ready.iter().map(|(_, id)| *id).collect();
        for id in ready {
            if free == 0 {
                break;
            }
            let Some(t) = self.tasks.get(&id) else {
                continue;
            };
            let best = self
                .agents
                .values()
                .filter(|a| self.available(a) && self.fits(a, t))
                .max_by_key(|a| {
                    let overlap = t
                        .task
                        .skills
                        .iter()
                        .filter(|s| a.spec.skills.contains(s))
                        .count();
                    (
                        overlap,
                        std::cmp::Reverse(a.tasks.len()),
                        std::cmp::Reverse(a.spec.name.clone()),
                    )
                })
                .map(|a| a.spec.name.clone());
            let Some(agent) = best else { continue };
            let text = self.prompt_for(&agent, id);
            if let Some(t) = self.tasks.get_mut(&id) {
                t.task.attempts += 1;
                t.task.assignee = Some(agent.clone());
            }
            self.wave_tasks.insert(id);
            self.set_status(id, Status::InProgress);
            let Some(a) = self.agents.get_mut(&agent) else {
                continue;
            };
            a.tasks.push(id);
            a.turn = Turn::default();
            a.sending = Some(Sending::new(
                a,
                now,
                text.clone(),
                Some(id),
                SendKind::Prompt,
            ));
            out.push(Action::Assign {
                task: id,
                agent: agent.clone(),
            });
            out.push(Action::Paste { agent, text });
            free = self.agents.values().filter(|a| self.available(a)).count();
        }
    }

    /// Once no feature is PENDING or IN_PROGRESS, each COMPLETED feature without a test task
    /// gets one, reserved for the agent that built it.
    fn check_tests(&mut self, out: &mut Vec<Action>) {
        if !self.settings.test_tasks || self.open_features > 0 || self.untested.is_empty() {
            return;
        }
        // By priority, then ID: the shell adds them in this order and dispatch sees the most
        // important first.
        let mut features: Vec<(Priority, TaskId)> = std::mem::take(&mut self.untested)
            .into_iter()
            .filter_map(|id| self.tasks.get(&id).map(|t| (t.task.priority, id)))
            .collect();
        features.sort();
        for (_, id) in features {
            let Some(t) = self.tasks.get(&id) else {
                continue;
            };
            let agent = t.task.assignee.clone();
            let (title, body) = prompt::test_task_text(
                &self.settings.texts,
                &t.task,
                agent.as_deref().unwrap_or("an agent"),
            );
            let priority = t.task.priority;
            self.tested.insert(id);
            self.adds_due += 1;
            out.push(Action::AddTask {
                task: NewTask {
                    title,
                    body,
                    priority: Some(priority),
                    skills: vec!["test".to_owned()],
                    deps: vec![id],
                    assignee: agent,
                },
                reason: format!("every feature is done: {id} gets its test task"),
            });
        }
    }

    fn check_waves(&mut self, out: &mut Vec<Action>) {
        if self.wave_tasks.is_empty() && self.wave_closed > 0 {
            let wave = self.wave;
            self.wave += 1;
            self.wave_closed = 0;
            if !self.settings.verify_commands.is_empty() {
                self.waiting_waves.push(wave);
            }
        }
        if self.verifying.is_none()
            && let Some(wave) = self.waiting_waves.first().copied()
        {
            self.waiting_waves.remove(0);
            self.verifying = Some((wave, 0, true));
            out.push(Action::RunVerify {
                wave,
                commands: self.settings.verify_commands.clone(),
            });
        }
    }

    fn verify_finished(
        &mut self,
        wave: u64,
        command: &str,
        ok: bool,
        excerpt: &str,
        out: &mut Vec<Action>,
    ) {
        let Some((w, done, all_ok)) = self.verifying.as_mut() else {
            return;
        };
        if *w != wave {
            return;
        }
        *done += 1;
        *all_ok &= ok;
        if !ok {
            let cycles = self.fix_cycles.entry(command.to_owned()).or_insert(0);
            if *cycles < self.settings.max_fix_cycles {
                *cycles += 1;
                self.adds_due += 1;
                out.push(Action::AddTask {
                    task: NewTask {
                        title: format!("Fix: `{command}` fails"),
                        body: format!(
                            "The verify command `{command}` failed after wave {wave} (fix cycle {cycles} of {}).\n\nEnd of its output:\n\n```\n{}\n```\n\nMake it pass without weakening the check.",
                            self.settings.max_fix_cycles,
                            excerpt.trim_end()
                        ),
                        priority: Some(Priority::High),
                        skills: vec!["fix".to_owned()],
                        deps: Vec::new(),
                        assignee: None,
                    },
                    reason: format!("verify failed: {command}"),
                });
            } else {
                out.push(Action::Notify {
                    kind: "verify-failed".into(),
                    message: format!(
                        "`{command}` still fails after {} fix cycles: a person must look",
                        self.settings.max_fix_cycles
                    ),
                });
            }
        }
        let (_, done, all_ok) = *self.verifying.as_ref().expect("checked above");
        if done >= self.settings.verify_commands.len() {
            self.verifying = None;
            self.last_verify_ok = all_ok;
            if !all_ok {
                out.push(Action::Notify {
                    kind: "verify-failed".into(),
                    message: format!("verify of wave {wave} failed"),
                });
            }
        }
    }

    fn check_finished(&mut self, out: &mut Vec<Action>) {
        if self.finished || self.tasks.is_empty() {
            return;
        }
        let busy = self
            .agents
            .values()
            .any(|a| !a.tasks.is_empty() || a.sending.is_some());
        // Ready work and an agent that may take it, now or once it is up: not over.
        let dispatchable =
            !self.ready.is_empty() && self.agents.values().any(|a| a.spec.max_tasks > 0);
        if busy
            || dispatchable
            || self.adds_due > 0
            || self.verifying.is_some()
            || !self.merging.is_empty()
            || !self.waiting_waves.is_empty()
            || !self.wave_tasks.is_empty()
        {
            return;
        }
        self.finished = true;
        let count = |s: Status| self.tasks.values().filter(|t| t.task.status == s).count();
        let (done, blocked, pending) = (
            count(Status::Completed),
            count(Status::Blocked),
            count(Status::Pending),
        );
        let verify = if self.settings.verify_commands.is_empty() {
            String::new()
        } else if self.last_verify_ok {
            ", last verify passed".into()
        } else {
            ", last verify FAILED".into()
        };
        // Work nobody reported is not counted as completed: it comes first, to be reviewed.
        let unreported = match count(Status::Unreported) {
            0 => String::new(),
            n => format!("{n} done, unreported: review · "),
        };
        out.push(Action::Finished {
            summary: format!(
                "{unreported}{done} completed, {blocked} blocked, {pending} waiting{verify}"
            ),
        });
    }
}

#[cfg(test)]
mod tests;
