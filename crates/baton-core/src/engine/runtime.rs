//! The engine's runtime state of tasks and agents, and when an agent is free.

use std::collections::BTreeMap;
use std::collections::BTreeSet;

use super::AgentSpec;
use super::quota;
use crate::delivery::Delivery;
use crate::detector::Detection;
use crate::profile::AgentState;
use crate::task::Task;
use crate::task::TaskId;

/// A task as the engine tracks it.
#[derive(Clone, Debug)]
pub(super) struct TaskRt {
    pub(super) task: Task,
    pub(super) excluded: BTreeSet<String>,
    pub(super) open_deps: usize,
    pub(super) dependents: Vec<TaskId>,
}

/// A paste under way and the watch on its delivery.
#[derive(Clone, Debug)]
pub(super) struct Sending {
    /// A notice (nudge, reminder) is dropped when it cannot be delivered; a task prompt is not.
    pub(super) notice: bool,
    /// The takeover prompt of a lead handoff.
    pub(super) takeover: bool,
    /// The task it is about; none for a message (a quota warning to the lead).
    pub(super) task: Option<TaskId>,
    pub(super) text: String,
    pub(super) delivery: Delivery,
    pub(super) hash_at_enter: u64,
    pub(super) retried: bool,
}

impl Sending {
    /// A paste into `a`'s prompt box whose delivery is watched from `now`.
    pub(super) fn new(
        a: &AgentRt,
        now: u64,
        text: String,
        task: Option<TaskId>,
        kind: SendKind,
    ) -> Sending {
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

/// What an agent would be free for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum FreeFor {
    /// A message or the takeover prompt: never in the middle of a task.
    Message,
    /// A task: a slot left, not limited, no restart due, its prompt box clean (quota and the
    /// lead role have their say in [`Engine::is_free`](super::Engine::is_free)).
    Task,
}

/// What a paste is.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) enum SendKind {
    /// A task prompt: resent once, then the agent is unresponsive.
    Prompt,
    /// A nudge, reminder or message: dropped if not taken.
    Notice,
    /// The takeover prompt of a lead handoff.
    Takeover,
}

/// Where the agent's current turn on its task stands.
#[derive(Clone, Debug, Default)]
pub(super) struct Turn {
    /// Resumed from the store after a restart: the agent may never have seen the prompt.
    pub(super) resumed: bool,
    pub(super) seen_working: bool,
    pub(super) ready_since: Option<u64>,
    pub(super) nudged: bool,
    pub(super) checks: u32,
    pub(super) interrupted: bool,
}

/// An agent as the engine tracks it.
#[derive(Clone, Debug)]
pub(super) struct AgentRt {
    pub(super) spec: AgentSpec,
    pub(super) alive: bool,
    pub(super) detection: Option<Detection>,
    pub(super) hash: u64,
    pub(super) last_change_ms: u64,
    pub(super) tasks: Vec<TaskId>,
    pub(super) sending: Option<Sending>,
    pub(super) turn: Turn,
    pub(super) quota: BTreeMap<String, quota::WindowRt>,
    /// Messages waiting for the agent to be free (dropped if not taken).
    pub(super) inbox: Vec<String>,
    pub(super) limited: bool,
    pub(super) restarts: u32,
    pub(super) restart_at: Option<u64>,
    pub(super) notified_input: bool,
    /// baton's own text may be left in the prompt box (a prompt taken back mid-delivery).
    pub(super) stale_input: bool,
    /// When the box was last cleared with Ctrl-C, and how many times for this episode.
    pub(super) cleared_at: Option<u64>,
    pub(super) clears: u32,
}

impl AgentRt {
    /// An agent of the configuration, not started yet.
    pub(super) fn new(spec: AgentSpec) -> AgentRt {
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
        }
    }

    /// What its screen shows, as last read (unknown before the first read).
    pub(super) fn state(&self) -> AgentState {
        self.detection
            .as_ref()
            .map_or(AgentState::Unknown, |d| d.state)
    }

    /// Whether the agent itself is free for `what`: up, nothing being pasted, its screen
    /// ready, and for a message no task, for a task the rest of [`FreeFor::Task`].
    pub(super) fn free(&self, what: FreeFor) -> bool {
        let idle = self.alive && self.sending.is_none() && self.state().is_ready();
        idle && match what {
            FreeFor::Message => self.tasks.is_empty(),
            FreeFor::Task => {
                !self.limited
                    && self.restart_at.is_none()
                    && (self.tasks.len() as u32) < self.spec.max_tasks
                    && !self.stale_input
            }
        }
    }
}
