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
//!   restarted with backoff and its task requeued. A dialog waiting for a person is not stuck. A task that failed `max_attempts` times
//!   needs a person.
//! - **Quota**: an agent at or above `critical` gets no new task; one that hit its limit loses
//!   its task to another agent.
//! - **Verify waves**: when the tasks dispatched since the last verify are all closed, the
//!   verify commands run; each failure becomes a fix task (skill `fix`), at most
//!   `max_fix_cycles` per command.
//!
//! The rules live by family: `types` (what goes in and out), `runtime` (what the engine keeps
//! of agents and tasks, and when an agent is free), `tasks` (task bookkeeping), `dispatch`,
//! `delivery`, `recovery`, `waves`, `quota`, `lead`, `merge`, `review`, [`report_failed`].

mod delivery;
mod dispatch;
mod lead;
mod merge;
pub mod prompt;
mod quota;
mod recovery;
pub mod report_failed;
pub mod review;
mod runtime;
mod tasks;
mod types;
mod waves;

use std::collections::BTreeMap;
use std::collections::BTreeSet;

pub use lead::LeadPhase;
pub use lead::LeadSnapshot;
pub use merge::CONFLICT_SKILL;
pub use merge::MERGE_SKILL;
pub use merge::MergeOutcome;
use runtime::AgentRt;
use runtime::FreeFor;
use runtime::SendKind;
use runtime::Sending;
use runtime::TaskRt;
use runtime::Turn;
pub use types::Action;
pub use types::AgentSpec;
pub use types::Event;
pub use types::HandoffDone;
pub use types::Key;
pub use types::Settings;
pub use types::TaskPurpose;
pub use types::added_task;

use crate::task::Priority;
use crate::task::TaskId;

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
    /// The result of the last wave's verify: of this run, or as the shell recalled it from
    /// an earlier one; `None` when none ran.
    last_verify: Option<bool>,
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
    /// The prompt template and texts of each agent that names baton its own way (on another
    /// host), filled with its command.
    own_texts: BTreeMap<String, OwnTexts>,
}

/// An agent's template and texts filled with its own baton command.
#[derive(Clone, Debug)]
struct OwnTexts {
    template: String,
    texts: prompt::Texts,
    baton: String,
}

impl Engine {
    /// Creates an engine for these agents; tasks come in as `TaskAdded` events (on start-up,
    /// the shell replays the store's tasks).
    pub fn new(mut settings: Settings, agents: Vec<AgentSpec>) -> Engine {
        let own_texts = agents
            .iter()
            .filter_map(|a| {
                let baton = a.baton.clone()?;
                let mut texts = settings.texts.clone();
                texts.fill_baton(&baton);
                let template = prompt::fill_baton(&settings.template, &baton);
                Some((
                    a.name.clone(),
                    OwnTexts {
                        template,
                        texts,
                        baton,
                    },
                ))
            })
            .collect();
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
                .map(|spec| (spec.name.clone(), AgentRt::new(spec)))
                .collect(),
            tasks: BTreeMap::new(),
            ready: BTreeSet::new(),
            paused: false,
            wave: 1,
            wave_tasks: BTreeSet::new(),
            verifying: None,
            waiting_waves: Vec::new(),
            fix_cycles: BTreeMap::new(),
            last_verify: None,
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
            own_texts,
        }
    }

    /// The prompt template as `agent` gets it (filled with its baton command).
    fn template_of(&self, agent: &str) -> &str {
        self.own_texts
            .get(agent)
            .map_or(&self.settings.template, |o| &o.template)
    }

    /// The nudge, reminder and other texts as `agent` gets them.
    fn texts_of(&self, agent: &str) -> &prompt::Texts {
        self.own_texts
            .get(agent)
            .map_or(&self.settings.texts, |o| &o.texts)
    }

    /// How `agent`'s prompts name baton.
    fn baton_of(&self, agent: &str) -> &str {
        self.own_texts
            .get(agent)
            .map_or(&self.settings.baton_cmd, |o| &o.baton)
    }

    /// baton's path as `agent` runs it (its own baton's, on another host).
    fn baton_path_of(&self, agent: &str) -> &str {
        self.own_texts
            .get(agent)
            .map_or(&self.settings.baton_path, |o| &o.baton)
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
}

#[cfg(test)]
mod tests;
