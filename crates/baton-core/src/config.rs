//! `baton.toml`: the project's configuration, parsed from text (the shell reads the file).
//!
//! Every error names the file, the line and the key, and nothing is half-applied: a file either
//! parses and validates whole, or the caller gets an error and keeps what it had.

use std::collections::BTreeMap;
use std::collections::BTreeSet;
use std::fmt;
use std::ops::Range;
use std::path::Path;
use std::path::PathBuf;

use serde::Deserialize;
use serde::Serialize;
use toml::Spanned;

use crate::profile::Profile;
use crate::profile::ProfileSpec;
use crate::profile::builtin_names;
use crate::profile::builtin_spec;

/// The configuration file's name at the project root.
pub const FILE_NAME: &str = "baton.toml";

/// The name of the session's first window: a shell in the project root for the person.
pub const CONSOLE_WINDOW: &str = "baton";

/// An error in `baton.toml`, with where it is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConfigError {
    /// The file.
    pub file: PathBuf,
    /// Line and column, from 1, when known.
    pub position: Option<(usize, usize)>,
    /// The key, such as `agent[2].cli`.
    pub key: String,
    /// What is wrong.
    pub message: String,
}

impl fmt::Display for ConfigError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.file.display())?;
        if let Some((line, col)) = self.position {
            write!(f, ":{line}:{col}")?;
        }
        if self.key.is_empty() {
            write!(f, ": {}", self.message)
        } else {
            write!(f, ": {}: {}", self.key, self.message)
        }
    }
}

impl std::error::Error for ConfigError {}

/// Returns the 1-based line and column of a byte span's start in `text`.
pub fn line_col(text: &str, span: Option<Range<usize>>) -> Option<(usize, usize)> {
    let start = span?.start.min(text.len());
    let before = text.get(..start)?;
    let line = before.matches('\n').count() + 1;
    let col = before.rsplit('\n').next().map_or(0, |l| l.chars().count()) + 1;
    Some((line, col))
}

/// The configuration as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    #[serde(default)]
    session: SessionConfig,
    #[serde(default)]
    agent: Vec<Spanned<RawAgent>>,
    #[serde(default)]
    profile: BTreeMap<String, Spanned<ProfileSpec>>,
    #[serde(default)]
    lead: LeadConfig,
    #[serde(default)]
    quota: QuotaConfig,
    #[serde(default)]
    notify: NotifyConfig,
    #[serde(default)]
    verify: VerifyConfig,
    #[serde(default)]
    run: RunConfig,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawAgent {
    name: Spanned<String>,
    cli: Option<Spanned<String>>,
    #[serde(default)]
    skills: Vec<String>,
    max_tasks: Option<u32>,
    command: Option<String>,
    #[serde(default)]
    env: BTreeMap<String, String>,
    workdir: Option<PathBuf>,
    isolation: Option<Isolation>,
}

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

/// The kinds of notices, as `[notify] disable` names them.
pub const NOTICE_KINDS: [&str; 8] = [
    "quota-warn",
    "quota-critical",
    "task-blocked",
    "needs-input",
    "agent-dead",
    "verify-failed",
    "handoff-done",
    "run-finished",
];

/// `[notify]`: where notices go, and which.
#[derive(Clone, Debug, Deserialize, Serialize, PartialEq, Eq)]
#[serde(deny_unknown_fields, default)]
pub struct NotifyConfig {
    /// `auto` (desktop where a session bus exists, else `notify-send`, else the bell),
    /// `bell`, `off`, or the path of a `notify-send`-compatible program.
    pub backend: String,
    /// Kinds never shown (see [`NOTICE_KINDS`]).
    pub disable: Vec<String>,
}

impl Default for NotifyConfig {
    fn default() -> Self {
        NotifyConfig {
            backend: "auto".into(),
            disable: Vec::new(),
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
    /// The resolved profile.
    pub profile: Profile,
}

/// The whole configuration, validated.
#[derive(Clone, Debug)]
pub struct Config {
    /// `[session]`.
    pub session: SessionConfig,
    /// `[[agent]]`, in file order.
    pub agents: Vec<AgentConfig>,
    /// Every profile: built-ins with overrides applied, plus the file's own.
    pub profiles: BTreeMap<String, Profile>,
    /// `[lead]`.
    pub lead: LeadConfig,
    /// `[quota]`.
    pub quota: QuotaConfig,
    /// `[notify]`.
    pub notify: NotifyConfig,
    /// `[verify]`.
    pub verify: VerifyConfig,
    /// `[run]`.
    pub run: RunConfig,
}

impl Config {
    /// Parses and validates `text`, read from `file`.
    pub fn parse(file: &Path, text: &str) -> Result<Config, ConfigError> {
        let error = |span: Option<Range<usize>>, key: &str, message: String| ConfigError {
            file: file.to_owned(),
            position: line_col(text, span),
            key: key.to_owned(),
            message,
        };
        let raw: RawConfig = toml::from_str(text)
            .map_err(|e| error(e.span(), "", e.message().trim_end().to_owned()))?;

        let mut profiles = BTreeMap::new();
        for name in builtin_names() {
            let spec = builtin_spec(name).expect("built-in");
            let spec = match raw.profile.get(name) {
                Some(over) => spec.merged(over.get_ref()),
                None => spec,
            };
            let span = raw.profile.get(name).map(Spanned::span);
            let p = spec
                .resolve(name)
                .map_err(|e| error(span, &format!("profile.{name}.{}", e.field), e.message))?;
            profiles.insert(name.to_owned(), p);
        }
        for (name, spec) in &raw.profile {
            if profiles.contains_key(name) && builtin_spec(name).is_some() {
                continue;
            }
            check_name(name)
                .map_err(|m| error(Some(spec.span()), &format!("profile.{name}"), m))?;
            let base_name = spec
                .get_ref()
                .extends
                .clone()
                .unwrap_or_else(|| "generic".into());
            let base = builtin_spec(&base_name).ok_or_else(|| {
                error(
                    Some(spec.span()),
                    &format!("profile.{name}.extends"),
                    format!(
                        "unknown profile `{base_name}` (built-in: {})",
                        builtin_names().collect::<Vec<_>>().join(", ")
                    ),
                )
            })?;
            let p = base.merged(spec.get_ref()).resolve(name).map_err(|e| {
                error(
                    Some(spec.span()),
                    &format!("profile.{name}.{}", e.field),
                    e.message,
                )
            })?;
            profiles.insert(name.clone(), p);
        }

        let mut agents = Vec::new();
        let mut seen = BTreeSet::new();
        for (i, agent) in raw.agent.iter().enumerate() {
            let a = agent.get_ref();
            let key = |k: &str| format!("agent[{i}].{k}");
            let name = a.name.get_ref().clone();
            check_name(&name).map_err(|m| error(Some(a.name.span()), &key("name"), m))?;
            if name == CONSOLE_WINDOW {
                return Err(error(
                    Some(a.name.span()),
                    &key("name"),
                    format!("`{CONSOLE_WINDOW}` is the name of baton's own console window"),
                ));
            }
            if !seen.insert(name.clone()) {
                return Err(error(
                    Some(a.name.span()),
                    &key("name"),
                    format!("`{name}` is already the name of another agent"),
                ));
            }
            let (cli, cli_span) = match &a.cli {
                Some(c) => (c.get_ref().clone(), Some(c.span())),
                None if profiles.contains_key(&name) => (name.clone(), None),
                None => (String::from("generic"), None),
            };
            let profile = profiles.get(&cli).cloned().ok_or_else(|| {
                error(
                    cli_span.or(Some(agent.span())),
                    &key("cli"),
                    format!(
                        "unknown profile `{cli}` (known: {})",
                        profiles.keys().cloned().collect::<Vec<_>>().join(", ")
                    ),
                )
            })?;
            let command = match &a.command {
                Some(c) if c.trim().is_empty() => {
                    return Err(error(
                        Some(agent.span()),
                        &key("command"),
                        "is empty".into(),
                    ));
                }
                Some(c) => c.clone(),
                None => std::iter::once(profile.command.clone())
                    .chain(profile.args.iter().cloned())
                    .collect::<Vec<_>>()
                    .join(" "),
            };
            for k in a.env.keys() {
                if k.is_empty() || k.contains('=') || k.contains('\0') {
                    return Err(error(
                        Some(agent.span()),
                        &key("env"),
                        format!("`{k}` is not a valid variable name"),
                    ));
                }
            }
            let isolation = a.isolation.unwrap_or(raw.session.isolation);
            if isolation == Isolation::Worktree && a.max_tasks.is_some_and(|n| n > 1) {
                return Err(error(
                    Some(agent.span()),
                    &key("max_tasks"),
                    "an agent in a worktree holds one task at a time (its branch is committed and merged per task)".into(),
                ));
            }
            agents.push(AgentConfig {
                name,
                cli,
                skills: a.skills.clone(),
                max_tasks: a.max_tasks.unwrap_or(1),
                command,
                env: a.env.clone(),
                workdir: a.workdir.clone().unwrap_or_else(|| PathBuf::from(".")),
                isolation,
                profile,
            });
        }

        if let Some(name) = &raw.session.name {
            check_name(name).map_err(|m| error(None, "session.name", m))?;
        }
        if let Some(b) = &raw.session.integration_branch
            && (b.is_empty()
                || b.starts_with('-')
                || b.starts_with("baton/")
                || b.chars()
                    .any(|c| c.is_whitespace() || "~^:?*[\\".contains(c)))
        {
            return Err(error(
                None,
                "session.integration_branch",
                format!("`{b}` is not a branch name baton can merge into"),
            ));
        }
        if let Some(sock) = &raw.session.socket {
            check_name(sock).map_err(|m| error(None, "session.socket", m))?;
        }
        if raw.session.width < 20 || raw.session.height < 5 {
            return Err(error(
                None,
                "session.width",
                "windows must be at least 20x5".into(),
            ));
        }
        for member in &raw.lead.chain {
            if !seen.contains(member) {
                return Err(error(
                    None,
                    "lead.chain",
                    format!("`{member}` is not the name of an [[agent]]"),
                ));
            }
        }
        let l = &raw.lead;
        if !(l.prepare_at <= l.handoff_at && l.handoff_at <= 100 && l.return_below <= 100) {
            return Err(error(
                None,
                "lead",
                "needs prepare_at <= handoff_at <= 100 and return_below <= 100".into(),
            ));
        }
        let q = &raw.quota;
        if !(q.warn <= q.critical && q.critical <= 100) {
            return Err(error(None, "quota", "needs warn <= critical <= 100".into()));
        }
        for k in &raw.notify.disable {
            if !NOTICE_KINDS.contains(&k.as_str()) {
                return Err(error(
                    None,
                    "notify.disable",
                    format!("`{k}` is not one of {}", NOTICE_KINDS.join(", ")),
                ));
            }
        }
        if let Some(b) = &q.bands {
            b.validate()
                .map_err(|e| error(None, "quota.bands", e.0.clone()))?;
        }
        for s in &q.sources {
            if !["hook", "screen", "rollout", "oauth"].contains(&s.as_str()) {
                return Err(error(
                    None,
                    "quota.sources",
                    format!("`{s}` is not one of hook, screen, rollout, oauth"),
                ));
            }
        }

        if let Some(l) = &raw.run.language
            && !["en", "fr"].contains(&l.as_str())
        {
            return Err(error(
                None,
                "run.language",
                format!("`{l}` is not one of en, fr"),
            ));
        }
        if raw.verify.batch == 0 {
            return Err(error(
                None,
                "verify.batch",
                "must be at least 1 (1: one merge, one verify)".into(),
            ));
        }
        if raw.run.stuck_after_secs == 0 || raw.run.max_attempts == 0 {
            return Err(error(
                None,
                "run",
                "stuck_after_secs and max_attempts must be at least 1".into(),
            ));
        }
        Ok(Config {
            session: raw.session,
            agents,
            profiles,
            lead: raw.lead,
            quota: raw.quota,
            notify: raw.notify,
            verify: raw.verify,
            run: raw.run,
        })
    }

    /// Returns the agent with this name.
    pub fn agent(&self, name: &str) -> Option<&AgentConfig> {
        self.agents.iter().find(|a| a.name == name)
    }

    /// True when some agent works in a worktree of its own.
    pub fn uses_worktrees(&self) -> bool {
        self.agents
            .iter()
            .any(|a| a.isolation == Isolation::Worktree)
    }

    /// Returns the session name, defaulting to a sanitized form of the project directory's name.
    pub fn session_name(&self, root: &Path) -> String {
        self.session.name.clone().unwrap_or_else(|| {
            let base = root.file_name().map(|n| n.to_string_lossy().into_owned());
            sanitize_name(base.as_deref().unwrap_or("baton"))
        })
    }

    /// Returns the tmux socket name: `[session] socket`, else `baton-<session>`.
    pub fn socket_name(&self, root: &Path) -> String {
        self.session
            .socket
            .clone()
            .unwrap_or_else(|| format!("baton-{}", self.session_name(root)))
    }
}

/// Checks a name used for tmux sessions, windows and sockets.
fn check_name(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("must not be empty".into());
    }
    if name.len() > 64 {
        return Err(format!("`{name}` is longer than 64 characters"));
    }
    if let Some(c) = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || *c == '-' || *c == '_'))
    {
        return Err(format!(
            "`{name}` has `{c}`: use letters, digits, `-` and `_` (tmux gives `.` and `:` a meaning)"
        ));
    }
    Ok(())
}

/// Turns any text into a valid name: other characters become `-`.
pub fn sanitize_name(text: &str) -> String {
    let s: String = text
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '-'
            }
        })
        .take(64)
        .collect();
    if s.is_empty() { "baton".into() } else { s }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Config, ConfigError> {
        Config::parse(Path::new("baton.toml"), text)
    }

    #[test]
    fn design_example_parses() {
        let c = parse(
            r#"
[session]
name = "palm-oil-bot"
memory_file = "CLAUDE.md"

[[agent]]
name = "claude"
cli = "claude"
skills = ["architecture", "critical"]
max_tasks = 1

[[agent]]
name = "codex"
cli = "codex"
skills = ["refactoring", "review", "fix"]

[[agent]]
name = "helper"
cli = "claude"
command = "./bin/claude-wrapper --model sonnet"

[lead]
chain = ["claude", "codex"]
prepare_at = 85
handoff_at = 93
return_below = 50

[quota]
warn = 80
critical = 90
sources = ["hook", "screen"]

[verify]
commands = ["cargo build --release", "cargo test"]
max_fix_cycles = 3
"#,
        )
        .unwrap();
        assert_eq!(c.agents.len(), 3);
        assert_eq!(c.agents[2].command, "./bin/claude-wrapper --model sonnet");
        assert_eq!(c.agents[2].profile.name, "claude");
        assert_eq!(c.agents[1].command, "codex --no-daemon");
        assert_eq!(c.session_name(Path::new("/x/y")), "palm-oil-bot");
        assert_eq!(c.socket_name(Path::new("/x/y")), "baton-palm-oil-bot");
    }

    #[test]
    fn unknown_key_names_line_and_key() {
        let e = parse("[[agent]]\nname = \"a\"\nclii = \"claude\"\n").unwrap_err();
        assert_eq!(e.position, Some((3, 1)));
        assert!(e.to_string().starts_with("baton.toml:3:1: "), "{e}");
        assert!(e.message.contains("clii"), "{e}");
    }

    #[test]
    fn unknown_profile_points_at_the_value() {
        let e = parse("[[agent]]\nname = \"a\"\ncli = \"claud\"\n").unwrap_err();
        assert_eq!(e.key, "agent[0].cli");
        assert_eq!(e.position.map(|p| p.0), Some(3));
        assert!(e.message.contains("unknown profile `claud`"), "{e}");
    }

    #[test]
    fn duplicate_and_bad_names() {
        let e = parse("[[agent]]\nname = \"a\"\n[[agent]]\nname = \"a\"\n").unwrap_err();
        assert_eq!(e.key, "agent[1].name");
        assert_eq!(e.position.map(|p| p.0), Some(4));
        let e = parse("[[agent]]\nname = \"a.b\"\n").unwrap_err();
        assert!(e.message.contains("`.`"), "{e}");
    }

    #[test]
    fn wrong_type_is_reported() {
        let e = parse("[[agent]]\nname = \"a\"\nmax_tasks = \"two\"\n").unwrap_err();
        assert_eq!(e.position.map(|p| p.0), Some(3), "{e}");
    }

    #[test]
    fn profile_override_and_new_profile() {
        let c = parse(
            "[profile.claude]\ncommand = \"my-claude\"\n[profile.mycli]\nextends = \"codex\"\ncommand = \"mycli\"\n[[agent]]\nname = \"x\"\ncli = \"mycli\"\n",
        )
        .unwrap();
        assert_eq!(c.profiles["claude"].command, "my-claude");
        assert_eq!(c.agents[0].command, "mycli --no-daemon");
        assert_eq!(
            c.agents[0].profile.placeholders[0],
            "Ask Codex to do anything"
        );
        let e = parse("[profile.claude.patterns]\nworking = [\"(\"]\n").unwrap_err();
        assert_eq!(e.key, "profile.claude.patterns.working[0]");
        assert_eq!(e.position.map(|p| p.0), Some(1), "{e}");
    }

    #[test]
    fn lead_chain_must_name_agents() {
        let e = parse("[[agent]]\nname = \"a\"\n[lead]\nchain = [\"a\", \"b\"]\n").unwrap_err();
        assert_eq!(e.key, "lead.chain");
        assert!(e.message.contains("`b`"));
    }

    #[test]
    fn empty_file_is_valid() {
        let c = parse("").unwrap();
        assert!(c.agents.is_empty());
        assert_eq!(c.session_name(Path::new("/tmp/my project")), "my-project");
    }

    #[test]
    fn isolation_default_session_and_per_agent_override() {
        let c = parse(
            "[session]\nisolation = \"worktree\"\n[[agent]]\nname = \"a\"\n[[agent]]\nname = \"b\"\nisolation = \"shared\"\n",
        )
        .unwrap();
        assert_eq!(c.agents[0].isolation, Isolation::Worktree);
        assert_eq!(c.agents[1].isolation, Isolation::Shared);
        assert!(c.uses_worktrees());
        assert!(!parse("").unwrap().uses_worktrees());
        let e = parse("[session]\nisolation = \"chroot\"\n").unwrap_err();
        assert_eq!(e.position.map(|p| p.0), Some(2), "{e}");
        assert!(e.to_string().contains("chroot"), "{e}");
        let e =
            parse("[session]\nisolation = \"worktree\"\n[[agent]]\nname = \"a\"\nmax_tasks = 2\n")
                .unwrap_err();
        assert_eq!(e.key, "agent[0].max_tasks", "{e}");
        assert_eq!(e.position.map(|p| p.0), Some(3), "{e}");
        let e = parse("[session]\nintegration_branch = \"baton/x\"\n").unwrap_err();
        assert_eq!(e.key, "session.integration_branch", "{e}");
    }
}
