//! What goes in and out of the engine: its settings, the agents it is given, the events the
//! shell reports and the actions it carries out.

use serde::Serialize;

use super::LeadSnapshot;
use super::MergeOutcome;
use super::prompt;
#[cfg(doc)]
use super::report_failed;
use crate::detector::Detection;
use crate::profile::Submit;
use crate::task::NewTask;
use crate::task::Priority;
use crate::task::Task;
use crate::task::TaskId;
use crate::vocab::JournalAction;
use crate::vocab::NoticeKind;

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
    /// How its prompts name baton when not as [`Settings::baton_cmd`] says: an agent on
    /// another host runs the baton there (its absolute path, shell-quoted).
    pub baton: Option<String>,
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
        /// What it is for.
        purpose: TaskPurpose,
        /// Why, in a line for the journal.
        reason: String,
    },
    /// Run the verify commands of a wave, in order; report each as `VerifyFinished`.
    RunVerify {
        /// The wave.
        wave: u64,
        /// The commands.
        commands: Vec<String>,
    },
    /// Every verify command of a wave finished: `passed` when all of them passed. The shell
    /// keeps it (the last verify of the run, said again by a run resumed later).
    VerifyDone {
        /// The wave.
        wave: u64,
        /// Whether every command passed.
        passed: bool,
    },
    /// Tell the person (desktop notification, bell).
    Notify {
        /// What kind.
        kind: NoticeKind,
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
        what: JournalAction,
        /// One line.
        detail: String,
        /// For a handoff done: who handed over to whom and why, kept in the entry's detail
        /// (JSON) for readers that need the parts, not the sentence.
        handoff: Option<HandoffDone>,
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

/// What a task the engine adds ([`Action::AddTask`]) is for.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "for", rename_all = "kebab-case")]
pub enum TaskPurpose {
    /// The test task of a finished feature.
    Test {
        /// The feature.
        of: TaskId,
    },
    /// A fix for a verify command that failed after a wave.
    VerifyFix {
        /// The wave.
        wave: u64,
        /// The command.
        command: String,
    },
    /// A fix for the merge of a task's work that failed (conflict, verify, commit), pinned to
    /// the agent whose branch it was: committed with the merge's outcome.
    MergeFix {
        /// The task whose merge failed.
        of: TaskId,
    },
}

/// Returns the task an [`Action::AddTask`] becomes once the store gives it `id`: PENDING, never
/// started, MED when it has no priority (what the shell reports back as `TaskAdded`).
pub fn added_task(id: TaskId, new: NewTask) -> Task {
    Task {
        body: new.body,
        priority: new.priority.unwrap_or(Priority::Med),
        skills: new.skills,
        deps: new.deps,
        assignee: new.assignee,
        ..Task::pending(id, new.title)
    }
}

/// A handoff carried out, as its journal entry's detail holds it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct HandoffDone {
    /// The lead that handed over.
    pub from: String,
    /// The new lead.
    pub to: String,
    /// Why the handoff happened.
    pub reason: String,
}
