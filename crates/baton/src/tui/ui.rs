//! The dashboard's own state — focus, selections, filter, the open overlay, the last message —
//! kept apart from the [`Snapshot`](super::model::Snapshot) so that both render as plain data.

use baton_core::task::Task;
use baton_core::task::TaskId;

use super::model::Filter;

/// The panes, in the order Tab visits them.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Pane {
    /// The agents.
    #[default]
    Agents,
    /// The task queue.
    Tasks,
    /// The journal's tail.
    Log,
}

impl Pane {
    /// Returns the next pane (`forward`) or the previous one.
    pub fn step(self, forward: bool) -> Pane {
        match (self, forward) {
            (Pane::Agents, true) | (Pane::Log, false) => Pane::Tasks,
            (Pane::Tasks, true) | (Pane::Agents, false) => Pane::Log,
            (Pane::Log, true) | (Pane::Tasks, false) => Pane::Agents,
        }
    }
}

/// What a prompt asks for, and what happens on Enter.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Ask {
    /// A reason, then the task is BLOCKED.
    Block(TaskId),
    /// A yes, then the task is CANCELLED.
    Cancel(TaskId),
    /// An agent, then the task is given to it.
    Reassign(TaskId),
    /// A message, then it is sent to the agent (verified delivery); `true`: even when the
    /// agent is busy.
    Message(String, bool),
    /// An agent, then a handoff of the lead role to it is requested.
    Handoff,
}

/// A prompt: a line of text, a choice among agents, or a yes/no.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Prompt {
    /// What it is for.
    pub ask: Ask,
    /// Its title (`Block T-003`).
    pub title: String,
    /// The question or the label of the input line.
    pub label: String,
    /// The text typed so far.
    pub input: String,
    /// The choices, when it is a choice.
    pub choices: Vec<String>,
    /// The highlighted choice.
    pub selected: usize,
}

impl Prompt {
    /// Returns a prompt for `ask`, with nothing typed yet: a choice among `choices`, or a line
    /// of text (a yes/no for a cancel) when there are none.
    pub fn new(ask: Ask, title: String, label: String, choices: Vec<String>) -> Prompt {
        Prompt {
            ask,
            title,
            label,
            input: String::new(),
            choices,
            selected: 0,
        }
    }
}

/// An agent's screen shown inside the dashboard (read-only).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Peek {
    /// The agent.
    pub agent: String,
    /// Its screen as last captured.
    pub screen: String,
    /// Why it could not be captured, if it could not.
    pub error: Option<String>,
}

/// What is drawn over the panes.
#[derive(Clone, Debug, Default, PartialEq)]
pub enum Overlay {
    /// Nothing.
    #[default]
    None,
    /// The list of keys.
    Help,
    /// An agent's screen.
    Peek(Peek),
    /// A task's details.
    Detail(Box<Task>),
    /// A prompt.
    Prompt(Prompt),
}

/// A line for the footer: what an action did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Message {
    /// The text.
    pub text: String,
    /// Whether it reports a failure.
    pub error: bool,
    /// When it stops showing (ms since the epoch).
    pub until_ms: i64,
}

/// How long a footer message shows.
pub const MESSAGE_MS: i64 = 8_000;

/// The dashboard's state.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Ui {
    /// The pane with the keyboard.
    pub focus: Pane,
    /// The selected agent (index in the configuration).
    pub agent_sel: usize,
    /// The first agent shown.
    pub agent_top: usize,
    /// The selected task (index in the filtered queue).
    pub task_sel: usize,
    /// The first task shown.
    pub task_top: usize,
    /// How many lines the log is scrolled back from the newest.
    pub log_back: usize,
    /// The queue's filter.
    pub filter: Filter,
    /// The overlay.
    pub overlay: Overlay,
    /// The last action's outcome.
    pub message: Option<Message>,
}

impl Ui {
    /// Sets the footer message.
    pub fn say(&mut self, text: impl Into<String>) {
        self.message = Some(Message {
            text: text.into(),
            error: false,
            until_ms: crate::store::now_ms() + MESSAGE_MS,
        });
    }

    /// Sets the footer message, as a failure.
    pub fn complain(&mut self, text: impl Into<String>) {
        self.message = Some(Message {
            text: text.into(),
            error: true,
            until_ms: crate::store::now_ms() + MESSAGE_MS,
        });
    }
}
