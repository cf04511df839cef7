//! baton's vocabulary: the names written into the journal, the store and `--json` output,
//! each spelled once here. The shell and the engine use these enums; their text forms are
//! what the store holds and what scripts read, so they never change.

use crate::profile::AgentState;

/// Declares a closed set of names with their stored text form: `as_str`, `ALL`, `Display`,
/// `FromStr`, serde as the text form, and comparison with text (`entry.action == X`).
macro_rules! vocabulary {
    ($(#[$meta:meta])* $name:ident { $($(#[$vmeta:meta])* $variant:ident = $text:literal,)+ }) => {
        $(#[$meta])*
        #[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
        pub enum $name {
            $($(#[$vmeta])* $variant,)+
        }

        impl $name {
            /// Every value, in declaration order.
            pub const ALL: [$name; [$(stringify!($variant),)+].len()] = [$($name::$variant,)+];

            /// The text form: what the store holds and `--json` prints.
            pub const fn as_str(self) -> &'static str {
                match self {
                    $($name::$variant => $text,)+
                }
            }
        }

        impl std::fmt::Display for $name {
            /// Honours width and alignment (`{:<9}`), so a name lines up in a table.
            fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
                f.pad(self.as_str())
            }
        }

        impl std::str::FromStr for $name {
            type Err = String;

            fn from_str(s: &str) -> Result<Self, String> {
                $name::ALL
                    .iter()
                    .copied()
                    .find(|v| v.as_str() == s)
                    .ok_or_else(|| {
                        let known: Vec<&str> = $name::ALL.iter().map(|v| v.as_str()).collect();
                        format!("unknown {} '{s}' (known: {})", stringify!($name), known.join(", "))
                    })
            }
        }

        impl serde::Serialize for $name {
            fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
                s.serialize_str(self.as_str())
            }
        }

        impl<'de> serde::Deserialize<'de> for $name {
            fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                let s = <std::borrow::Cow<'de, str>>::deserialize(d)?;
                s.parse().map_err(serde::de::Error::custom)
            }
        }

        text_comparisons!($name);
    };
}

/// Lets a name be compared with its text form either way (`entry.action == X`).
macro_rules! text_comparisons {
    ($name:ident) => {
        impl PartialEq<str> for $name {
            fn eq(&self, other: &str) -> bool {
                self.as_str() == other
            }
        }

        impl PartialEq<&str> for $name {
            fn eq(&self, other: &&str) -> bool {
                self.as_str() == *other
            }
        }

        impl PartialEq<$name> for str {
            fn eq(&self, other: &$name) -> bool {
                self == other.as_str()
            }
        }

        impl PartialEq<$name> for &str {
            fn eq(&self, other: &$name) -> bool {
                *self == other.as_str()
            }
        }

        impl PartialEq<$name> for String {
            fn eq(&self, other: &$name) -> bool {
                self == other.as_str()
            }
        }
    };
}

vocabulary! {
    /// What a journal line records (its `action` column).
    JournalAction {
        /// A task was added (`baton task add`, an import, the engine's fix or test task).
        TaskAdd = "task-add",
        /// The engine added a task (a fix or test task), with why.
        TaskCreated = "task-created",
        /// A closed task was opened again.
        TaskReopen = "task-reopen",
        /// A note was added to a task without changing its status.
        TaskNote = "task-note",
        /// A task went back to PENDING.
        TaskRequeue = "task-requeue",
        /// A task went IN_PROGRESS.
        TaskStart = "task-start",
        /// A task ended without a report: UNREPORTED.
        TaskUnreported = "task-unreported",
        /// A task went COMPLETED.
        TaskDone = "task-done",
        /// A task went BLOCKED.
        TaskBlock = "task-block",
        /// A task went CANCELLED.
        TaskCancel = "task-cancel",
        /// A task completed for review: written by earlier versions, still read back.
        TaskReview = "task-review",
        /// A task was given to another agent.
        TaskReassign = "task-reassign",
        /// A task's title, body, priority, skills or dependencies changed.
        TaskEdit = "task-edit",
        /// A finished turn, reported by an agent CLI's hook.
        TurnEnd = "agent-turn-end",
        /// An agent's window closed or its process exited.
        AgentDied = "agent-died",
        /// An agent was started again after it died.
        AgentRestart = "agent-restart",
        /// A first-start dialog (trust, theme, login…) was answered for an agent.
        FirstStartAnswered = "first-start-answered",
        /// Answering a first-start dialog failed.
        FirstStartFailed = "first-start-failed",
        /// A first-start dialog needs a person.
        FirstStartPerson = "first-start-person",
        /// Pasting a prompt into an agent's pane failed.
        PasteFailed = "paste-failed",
        /// An agent's screen shows a `baton` call that failed.
        ReportFailed = "report-failed",
        /// What the engine did that changes no task (a nudge, a restart delay…).
        Engine = "engine",
        /// An agent's worktree was set up or refused.
        Worktree = "worktree",
        /// A step of the verified merge queue.
        Merge = "merge",
        /// Verify commands started for a wave.
        VerifyStart = "verify-start",
        /// One verify command finished.
        Verify = "verify",
        /// The daemon started.
        DaemonStart = "daemon-start",
        /// The daemon stopped.
        DaemonStop = "daemon-stop",
        /// The daemon runs with quota limits ignored (`--ignore-usage`).
        QuotaOverride = "quota-override",
        /// The tmux session went away under the daemon.
        SessionLost = "session-lost",
        /// The ssh connection to another host's tmux dropped (the daemon reconnects).
        HostLost = "host-lost",
        /// The connection to another host is back.
        HostBack = "host-back",
        /// Another host stayed unreachable: its agents count as down, their tasks go elsewhere.
        HostDown = "host-down",
        /// `baton down` stopped the session (and the daemon).
        SessionDown = "session-down",
        /// Dispatch was paused (no new task starts).
        DispatchPause = "dispatch-pause",
        /// Dispatch was resumed.
        DispatchResume = "dispatch-resume",
        /// A person's message was typed into an agent's pane (`baton send`, the dashboards):
        /// how many bytes and how it was checked, never its text.
        MessageSent = "message-sent",
        /// A `baton run` that follows a daemon already running.
        RunFollow = "run-follow",
        /// The run finished: every task closed or waiting for a person.
        RunFinished = "run-finished",
        /// An edit of the memory file's task table was refused.
        MemoryEditRejected = "memory-edit-rejected",
        /// The lead role went to an agent.
        LeadSet = "lead-set",
        /// A lead that rested (its quota spent) may lead again.
        LeadRestEnd = "lead-rest-end",
        /// A handoff asked for by a person (`baton handoff`, `baton watch`).
        HandoffRequest = "handoff-request",
        /// The lead was asked for its notes: a handoff is near.
        HandoffPrepare = "handoff-prepare",
        /// The lead's quota came back: the handoff being prepared is off.
        HandoffCancel = "handoff-cancel",
        /// The handoff document was written for the successor.
        HandoffDocument = "handoff-document",
        /// The successor was told to take over.
        HandoffStart = "handoff-start",
        /// The successor took over the lead role.
        HandoffDone = "handoff-done",
        /// A handoff did not happen (no successor, no document, no takeover).
        HandoffFailed = "handoff-failed",
        /// Notice: an agent's quota crossed the warn threshold.
        NotifyQuotaWarn = "notify-quota-warn",
        /// Notice: an agent's quota crossed the critical threshold.
        NotifyQuotaCritical = "notify-quota-critical",
        /// Notice: a task is blocked.
        NotifyBlocked = "notify-blocked",
        /// Notice: an agent waits for a person.
        NotifyNeedsInput = "notify-needs-input",
        /// Notice: an agent died.
        NotifyDead = "notify-dead",
        /// Notice: verify failed.
        NotifyVerifyFailed = "notify-verify-failed",
        /// Notice: the lead role moved on.
        NotifyHandoffDone = "notify-handoff-done",
        /// Notice: a handoff failed.
        NotifyHandoffFailed = "notify-handoff-failed",
        /// The webhook gave a notice up (every try failed, a final answer, baton stopped, or
        /// a full queue): its kind, the webhook's scheme and host, why, its id.
        WebhookFailed = "webhook-failed",
    }
}

impl JournalAction {
    /// The actions of the lead role's history (`lead-…`, `handoff-…`).
    pub fn is_lead(self) -> bool {
        self.is_handoff() || matches!(self, JournalAction::LeadSet | JournalAction::LeadRestEnd)
    }

    /// The steps of a handoff (`handoff-…`).
    pub fn is_handoff(self) -> bool {
        matches!(
            self,
            JournalAction::HandoffRequest
                | JournalAction::HandoffPrepare
                | JournalAction::HandoffCancel
                | JournalAction::HandoffDocument
                | JournalAction::HandoffStart
                | JournalAction::HandoffDone
                | JournalAction::HandoffFailed
        )
    }

    /// The notice this entry records, for a `notify-…` action.
    pub fn notice(self) -> Option<NoticeKind> {
        NoticeKind::ALL
            .into_iter()
            .find(|k| k.journal_action() == self && self != JournalAction::RunFinished)
    }

    /// For a step of a handoff, its name after `handoff-` (`request`, `prepare`, `start`…),
    /// as the dashboard shows it.
    pub fn handoff_step(self) -> Option<&'static str> {
        self.is_handoff()
            .then(|| &self.as_str()[JournalAction::HANDOFF_PREFIX.len()..])
    }

    /// The prefix shared by the text of every handoff step, for a store query that reads
    /// only those (see [`JournalAction::is_handoff`]).
    pub const HANDOFF_PREFIX: &'static str = "handoff-";

    /// For a `notify-…` entry, the notice's name as the journal spells it (`blocked`,
    /// `dead`, `quota-warn`…): what REPORT.md shows.
    pub fn notice_name(self) -> Option<&'static str> {
        self.notice()
            .map(|_| &self.as_str()[JournalAction::NOTIFY_PREFIX.len()..])
    }

    /// The prefix of every `notify-…` action.
    const NOTIFY_PREFIX: &'static str = "notify-";
}

vocabulary! {
    /// What a notice is about. The text form is the name `[notify] disable` takes and the
    /// notice's title shows.
    NoticeKind {
        /// An agent's quota crossed the warn threshold.
        QuotaWarn = "quota-warn",
        /// An agent's quota crossed the critical threshold.
        QuotaCritical = "quota-critical",
        /// A task is blocked.
        TaskBlocked = "task-blocked",
        /// An agent waits for a person (permission dialog, question).
        NeedsInput = "needs-input",
        /// An agent's process exited or its pane died.
        AgentDead = "agent-dead",
        /// A verify command failed.
        VerifyFailed = "verify-failed",
        /// The lead role moved to another agent.
        HandoffDone = "handoff-done",
        /// A handoff found no successor: shown, and switched off, as [`NoticeKind::HandoffDone`].
        HandoffFailed = "handoff-failed",
        /// A run finished.
        RunFinished = "run-finished",
    }
}

impl NoticeKind {
    /// The kind that `[notify] disable` switches this one with, and the notice shows: a
    /// failed handoff is news of the same kind as one done.
    pub fn switch(self) -> NoticeKind {
        match self {
            NoticeKind::HandoffFailed => NoticeKind::HandoffDone,
            k => k,
        }
    }

    /// The kinds `[notify] disable` may name.
    pub fn switches() -> impl Iterator<Item = NoticeKind> {
        NoticeKind::ALL.into_iter().filter(|k| k.switch() == *k)
    }

    /// Whether the notice asks for attention now (critical urgency, ntfy priority high)
    /// rather than soon: an agent or a task stands still until someone acts.
    pub fn is_urgent(self) -> bool {
        matches!(
            self,
            NoticeKind::QuotaCritical
                | NoticeKind::AgentDead
                | NoticeKind::NeedsInput
                | NoticeKind::TaskBlocked
        )
    }

    /// The journal entry that records the notice (the end of a run is journaled as
    /// `run-finished`).
    pub fn journal_action(self) -> JournalAction {
        match self {
            NoticeKind::QuotaWarn => JournalAction::NotifyQuotaWarn,
            NoticeKind::QuotaCritical => JournalAction::NotifyQuotaCritical,
            NoticeKind::TaskBlocked => JournalAction::NotifyBlocked,
            NoticeKind::NeedsInput => JournalAction::NotifyNeedsInput,
            NoticeKind::AgentDead => JournalAction::NotifyDead,
            NoticeKind::VerifyFailed => JournalAction::NotifyVerifyFailed,
            NoticeKind::HandoffDone => JournalAction::NotifyHandoffDone,
            NoticeKind::HandoffFailed => JournalAction::NotifyHandoffFailed,
            NoticeKind::RunFinished => JournalAction::RunFinished,
        }
    }
}

vocabulary! {
    /// Where a merge of the verified merge queue stands (the `merges` table's `state`).
    MergeState {
        /// Waiting for its turn.
        Queued = "queued",
        /// Being rebased and verified.
        Running = "running",
        /// On the integration branch.
        Merged = "merged",
        /// The rebase stopped on conflicts: a fix task resolves them.
        Conflict = "conflict",
        /// A verify command (or the commit of the agent's work) failed: a fix task.
        Failed = "failed",
        /// git itself failed: a person looks.
        Error = "error",
    }
}

impl MergeState {
    /// Whether the merge is still to run or running.
    pub fn is_open(self) -> bool {
        matches!(self, MergeState::Queued | MergeState::Running)
    }

    /// Whether the merge ended without reaching the integration branch.
    pub fn is_failure(self) -> bool {
        matches!(
            self,
            MergeState::Conflict | MergeState::Failed | MergeState::Error
        )
    }
}

/// An agent's state as the store records it and `--json` prints it: what its screen showed,
/// or `dead` once its process or window is gone.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AgentStatus {
    /// What the detector read on its screen.
    Screen(AgentState),
    /// Its process exited or its window closed.
    Dead,
}

impl AgentStatus {
    /// The text form: what the store holds and `--json` prints.
    pub fn as_str(self) -> &'static str {
        match self {
            AgentStatus::Screen(s) => s.as_str(),
            AgentStatus::Dead => "dead",
        }
    }
}

impl std::fmt::Display for AgentStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.pad(self.as_str())
    }
}

impl std::str::FromStr for AgentStatus {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, String> {
        AgentState::WITH_PATTERNS
            .into_iter()
            .chain([AgentState::Unknown])
            .map(AgentStatus::Screen)
            .chain([AgentStatus::Dead])
            .find(|v| v.as_str() == s)
            .ok_or_else(|| format!("unknown AgentStatus '{s}'"))
    }
}

impl From<AgentState> for AgentStatus {
    fn from(s: AgentState) -> Self {
        AgentStatus::Screen(s)
    }
}

text_comparisons!(AgentStatus);

#[cfg(test)]
mod tests {
    use super::AgentState;
    use super::AgentStatus;
    use super::JournalAction;
    use super::MergeState;
    use super::NoticeKind;

    #[test]
    fn text_forms_are_unique_and_parse_back() {
        let mut seen = std::collections::BTreeSet::new();
        for a in JournalAction::ALL {
            assert!(seen.insert(a.as_str()), "{a} spelled twice");
            assert_eq!(a.as_str().parse::<JournalAction>().unwrap(), a);
            assert_eq!(serde_json::to_string(&a).unwrap(), format!("\"{a}\""));
        }
        // Padded like a string in a table.
        assert_eq!(format!("[{:<8}]", MergeState::Queued), "[queued  ]");
        let err = "no-such".parse::<JournalAction>().unwrap_err();
        assert!(err.contains("unknown JournalAction 'no-such'"), "{err}");
        for m in MergeState::ALL {
            assert_eq!(m.as_str().parse::<MergeState>().unwrap(), m);
        }
        for s in ["dead", "idle", "needs-input", "unknown"] {
            assert_eq!(s.parse::<AgentStatus>().unwrap().as_str(), s);
        }
        assert_eq!(AgentStatus::from(AgentState::Working), "working");
    }

    #[test]
    fn handoff_steps_share_their_prefix_and_notices_their_actions() {
        for a in JournalAction::ALL {
            assert_eq!(
                a.is_handoff(),
                a.as_str().starts_with(JournalAction::HANDOFF_PREFIX),
                "{a}"
            );
            assert_eq!(
                a.is_lead(),
                a.is_handoff() || a.as_str().starts_with("lead-"),
                "{a}"
            );
            assert_eq!(
                a.notice().is_some(),
                a.as_str().starts_with("notify-"),
                "{a}"
            );
            assert_eq!(a.notice_name(), a.as_str().strip_prefix("notify-"), "{a}");
            assert_eq!(a.handoff_step(), a.as_str().strip_prefix("handoff-"), "{a}");
        }
        for k in NoticeKind::ALL {
            if k != NoticeKind::RunFinished {
                assert_eq!(k.journal_action().notice(), Some(k));
            }
        }
        let urgent: Vec<&str> = NoticeKind::ALL
            .into_iter()
            .filter(|k| k.is_urgent())
            .map(NoticeKind::as_str)
            .collect();
        assert_eq!(
            urgent,
            [
                "quota-critical",
                "task-blocked",
                "needs-input",
                "agent-dead"
            ]
        );
        let switches: Vec<&str> = NoticeKind::switches().map(NoticeKind::as_str).collect();
        assert_eq!(
            switches.join(", "),
            "quota-warn, quota-critical, task-blocked, needs-input, agent-dead, verify-failed, \
             handoff-done, run-finished"
        );
    }
}
