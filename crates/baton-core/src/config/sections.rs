//! The sections of `baton.toml` as typed values, with their defaults: `[session]`, `[lead]`,
//! `[quota]`, `[notify]`, `[verify]`, `[run]` and `[[agent]]`.

use std::collections::BTreeMap;
use std::path::PathBuf;

use serde::Deserialize;
use serde::Serialize;

use super::webhook::WebhookFormat;
use super::webhook::WebhookUrl;
use crate::profile::Profile;
use crate::vocab::NoticeKind;

/// `[session]`: the tmux session and shared files.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct SessionConfig {
    /// The tmux session name; default: the project directory's name.
    pub name: Option<String>,
    /// The shared memory file, relative to the project root.
    pub memory_file: PathBuf,
    /// The tmux server's socket name (`tmux -L`); default `baton-<session name>`.
    pub socket: Option<String>,
    /// Width and height of new agent windows.
    pub width: u16,
    /// Height of new agent windows.
    pub height: u16,
    /// Where agents work: all in the project's checkout, or each in a git worktree of its own.
    pub isolation: Isolation,
    /// The branch verified work is merged into (worktree mode); default: the branch checked
    /// out in the project root.
    pub integration_branch: Option<String>,
    /// Where ORCHESTRATION_LOG.md, REPORT.md and HANDOFF_TO_*.md are written, relative to the
    /// project root and inside it; default: the project root.
    pub reports_dir: PathBuf,
}

/// Where an agent works.
#[derive(Clone, Copy, Debug, Default, Deserialize, Serialize, PartialEq, Eq)]
#[serde(rename_all = "lowercase")]
pub enum Isolation {
    /// In the project's own checkout, with every other shared agent (the hand-run way).
    #[default]
    Shared,
    /// In `.baton/worktrees/<agent>` on branch `baton/<agent>`; its work reaches the
    /// integration branch only through the verified merge queue.
    Worktree,
}

impl Default for SessionConfig {
    fn default() -> Self {
        SessionConfig {
            name: None,
            memory_file: PathBuf::from("CLAUDE.md"),
            socket: None,
            width: 160,
            height: 48,
            isolation: Isolation::Shared,
            integration_branch: None,
            reports_dir: PathBuf::from("."),
        }
    }
}

/// `[lead]`: who leads, and when the role moves.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct LeadConfig {
    /// Agents in order of handoff; the first leads.
    pub chain: Vec<String>,
    /// Session % at which the lead prepares its handoff.
    pub prepare_at: u8,
    /// Session % at which the lead role moves on.
    pub handoff_at: u8,
    /// Session % after a reset below which the role comes back.
    pub return_below: u8,
    /// Whether the role comes back after the first lead's reset.
    #[serde(rename = "return")]
    pub return_after_reset: bool,
    /// How long the lead's notes are waited for before the handoff goes on without them.
    pub notes_deadline_secs: u64,
}

impl Default for LeadConfig {
    fn default() -> Self {
        LeadConfig {
            chain: Vec::new(),
            prepare_at: 85,
            handoff_at: 93,
            return_below: 50,
            return_after_reset: true,
            notes_deadline_secs: 180,
        }
    }
}

/// `[quota]`: usage thresholds and sources.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct QuotaConfig {
    /// % at which a warning is sent.
    pub warn: u8,
    /// % at which an agent gets no new task.
    pub critical: u8,
    /// Where readings come from: "hook", "screen", "rollout", "oauth" (opt-in).
    pub sources: Vec<String>,
    /// Stop every agent at critical.
    pub auto_stop: bool,
    /// The five display bands (`attention`, `high`, `critical`, `alert`); by default they
    /// follow `warn` and `critical` (see `quota::bands`).
    pub bands: Option<crate::quota::bands::Bands>,
    /// How long a reading of the OAuth usage endpoint is reused, in seconds.
    pub oauth_ttl_secs: u64,
}

impl QuotaConfig {
    /// The display bands.
    pub fn bands(&self) -> crate::quota::bands::Bands {
        self.bands.unwrap_or_else(|| {
            crate::quota::bands::Bands::from_warn_critical(
                f64::from(self.warn),
                f64::from(self.critical),
            )
            .unwrap_or_default()
        })
    }
}

impl Default for QuotaConfig {
    fn default() -> Self {
        QuotaConfig {
            warn: 80,
            critical: 90,
            sources: vec!["hook".into(), "screen".into(), "rollout".into()],
            auto_stop: false,
            bands: None,
            oauth_ttl_secs: 120,
        }
    }
}

/// `[notify]`: where notices go, and which.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct NotifyConfig {
    /// `auto` (desktop where a session bus exists, else `notify-send`, else the bell),
    /// `bell`, `off`, or the path of a `notify-send`-compatible program.
    pub backend: String,
    /// Kinds never shown (see [`NoticeKind::switches`]), on the desktop or the webhook.
    pub disable: Vec<String>,
    /// Where every notice is also POSTed (http or https); a secret, never serialized or
    /// shown whole.
    #[serde(skip_serializing)]
    pub webhook: Option<WebhookUrl>,
    /// The shape of the webhook's POST: `json` (default), `slack` or `ntfy`.
    pub webhook_format: WebhookFormat,
}

impl NotifyConfig {
    /// The kinds `disable` switches off (`Config::parse` refuses a file that names another).
    pub fn disabled(&self) -> Result<Vec<NoticeKind>, String> {
        self.disable.iter().map(|k| notice_switch(k)).collect()
    }
}

/// Reads a name of `[notify] disable`: a notice kind that can be switched off.
pub fn notice_switch(name: &str) -> Result<NoticeKind, String> {
    NoticeKind::switches().find(|k| *k == name).ok_or_else(|| {
        let names: Vec<&str> = NoticeKind::switches().map(NoticeKind::as_str).collect();
        format!("`{name}` is not one of {}", names.join(", "))
    })
}

impl Default for NotifyConfig {
    fn default() -> Self {
        NotifyConfig {
            backend: "auto".into(),
            disable: Vec::new(),
            webhook: None,
            webhook_format: WebhookFormat::Json,
        }
    }
}

/// `[verify]`: the commands run after each wave.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct VerifyConfig {
    /// Shell commands, run in order.
    pub commands: Vec<String>,
    /// How many fix cycles one failure may get.
    pub max_fix_cycles: u32,
    /// Worktree mode: how many queued merges (of different agents) one verify may check at
    /// once; a batch that fails is merged one by one. 1: one merge, one verify.
    pub batch: u32,
}

impl Default for VerifyConfig {
    fn default() -> Self {
        VerifyConfig {
            commands: Vec::new(),
            max_fix_cycles: 3,
            batch: 1,
        }
    }
}

/// `[run]`: how the orchestration runs.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct RunConfig {
    /// Seconds without a screen change before a working agent gets a reminder.
    pub stuck_after_secs: u64,
    /// Failed attempts after which a task needs a person.
    pub max_attempts: u32,
    /// The prompt template: "en", "fr", or a file path relative to the project root.
    pub template: String,
    /// The language of nudges, reminders and test tasks: "en" or "fr" (default: the
    /// template's when it is a built-in one, else "en").
    pub language: Option<String>,
    /// Once every feature task is done, one test task per feature goes to the agent that
    /// built it.
    pub test_tasks: bool,
}

impl RunConfig {
    /// The language of the engine's short texts.
    pub fn language(&self) -> &str {
        match (&self.language, self.template.as_str()) {
            (Some(l), _) => l,
            (None, t @ ("en" | "fr")) => t,
            (None, _) => "en",
        }
    }
}

impl Default for RunConfig {
    fn default() -> Self {
        RunConfig {
            stuck_after_secs: 600,
            max_attempts: 3,
            template: "en".into(),
            language: None,
            test_tasks: true,
        }
    }
}

/// One configured agent, with its profile resolved.
#[derive(Clone, Debug)]
pub struct AgentConfig {
    /// The agent's name: its window name, and how tasks and people refer to it.
    pub name: String,
    /// The profile's name.
    pub cli: String,
    /// Skills used to route tasks.
    pub skills: Vec<String>,
    /// How many tasks it may hold at once.
    pub max_tasks: u32,
    /// The full launch command line (the profile's command and args unless overridden).
    pub command: String,
    /// Extra environment for the agent's process.
    pub env: BTreeMap<String, String>,
    /// Where the agent works, relative to the project root ("." by default); in worktree
    /// mode, relative to its worktree.
    pub workdir: PathBuf,
    /// `[session] isolation`, or the agent's own `isolation`.
    pub isolation: Isolation,
    /// The `[[host]]` it runs on; `None`: this machine.
    pub host: Option<String>,
    /// The resolved profile.
    pub profile: Profile,
}
