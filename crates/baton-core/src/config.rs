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

/// Returns the span of a key's entry in `text`: `key` is dotted, with `[n]` for an array's
/// element (`lead.chain[1]`, `profile.x.patterns.working[0]`). A key names its entry (the
/// line where it is set), an element its value. `None` when the text does not set it.
pub fn key_span(text: &str, key: &str) -> Option<Range<usize>> {
    use toml::de::DeTable;
    use toml::de::DeValue;
    let doc = DeTable::parse(text).ok()?;
    let mut table: &DeTable<'_> = doc.get_ref();
    let mut found: Option<Range<usize>> = None;
    let mut value: Option<&DeValue<'_>> = None;
    for part in key.split('.') {
        let (name, indexes) = match part.find('[') {
            Some(i) => (&part[..i], &part[i..]),
            None => (part, ""),
        };
        if let Some(DeValue::Table(t)) = value {
            table = t;
        } else if value.is_some() {
            return None;
        }
        let (k, v) = table.iter().find(|(k, _)| k.get_ref() == name)?;
        found = Some(k.span());
        value = Some(v.get_ref());
        for index in indexes
            .split(']')
            .filter_map(|s| s.strip_prefix('['))
            .map(str::parse::<usize>)
        {
            let DeValue::Array(a) = value? else {
                return None;
            };
            let item = a.get(index.ok()?)?;
            found = Some(item.span());
            value = Some(item.get_ref());
        }
    }
    found
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
    /// What is valid but most likely not what was meant (a profile no agent uses, a pattern
    /// group nothing reads), with where it is; `baton doctor` and `baton up` print them.
    pub warnings: Vec<ConfigError>,
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
        // A value error: where the key is set in the file.
        let at = |key: &str, message: String| error(key_span(text, key), key, message);
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
                        key_span(text, &key("command")).or(Some(agent.span())),
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
                        key_span(text, &key("env")).or(Some(agent.span())),
                        &key("env"),
                        format!("`{k}` is not a valid variable name"),
                    ));
                }
            }
            let isolation = a.isolation.unwrap_or(raw.session.isolation);
            if isolation == Isolation::Worktree && a.max_tasks.is_some_and(|n| n > 1) {
                return Err(error(
                    key_span(text, &key("max_tasks")).or(Some(agent.span())),
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
            check_name(name).map_err(|m| at("session.name", m))?;
        }
        if let Some(b) = &raw.session.integration_branch
            && (b.is_empty()
                || b.starts_with('-')
                || b.starts_with("baton/")
                || b.chars()
                    .any(|c| c.is_whitespace() || "~^:?*[\\".contains(c)))
        {
            return Err(at(
                "session.integration_branch",
                format!("`{b}` is not a branch name baton can merge into"),
            ));
        }
        if let Some(sock) = &raw.session.socket {
            check_name(sock).map_err(|m| at("session.socket", m))?;
        }
        if raw.session.width < 20 {
            return Err(at("session.width", "must be at least 20".into()));
        }
        if raw.session.height < 5 {
            return Err(at("session.height", "must be at least 5".into()));
        }
        check_reports_dir(&raw.session.reports_dir).map_err(|m| at("session.reports_dir", m))?;
        for (i, member) in raw.lead.chain.iter().enumerate() {
            if !seen.contains(member) {
                return Err(at(
                    &format!("lead.chain[{i}]"),
                    format!(
                        "`{member}` is not the name of an [[agent]] (agents: {})",
                        if seen.is_empty() {
                            "none".to_owned()
                        } else {
                            seen.iter().cloned().collect::<Vec<_>>().join(", ")
                        }
                    ),
                ));
            }
        }
        let l = &raw.lead;
        for (key, v) in [
            ("lead.handoff_at", l.handoff_at),
            ("lead.return_below", l.return_below),
        ] {
            if v > 100 {
                return Err(at(key, format!("`{v}` is above 100 (a percentage)")));
            }
        }
        if l.prepare_at > l.handoff_at {
            return Err(at(
                "lead.prepare_at",
                format!(
                    "`{}` is above handoff_at ({}): the lead prepares before it hands off",
                    l.prepare_at, l.handoff_at
                ),
            ));
        }
        let q = &raw.quota;
        if q.critical > 100 {
            return Err(at(
                "quota.critical",
                format!("`{}` is above 100 (a percentage)", q.critical),
            ));
        }
        if q.warn > q.critical {
            return Err(at(
                "quota.warn",
                format!(
                    "`{}` is above critical ({}): the warning comes first",
                    q.warn, q.critical
                ),
            ));
        }
        for (i, k) in raw.notify.disable.iter().enumerate() {
            if !NOTICE_KINDS.contains(&k.as_str()) {
                return Err(at(
                    &format!("notify.disable[{i}]"),
                    format!("`{k}` is not one of {}", NOTICE_KINDS.join(", ")),
                ));
            }
        }
        if let Some(b) = &q.bands {
            b.validate().map_err(|e| at("quota.bands", e.0.clone()))?;
        }
        for (i, s) in q.sources.iter().enumerate() {
            if !["hook", "screen", "rollout", "oauth"].contains(&s.as_str()) {
                return Err(at(
                    &format!("quota.sources[{i}]"),
                    format!("`{s}` is not one of hook, screen, rollout, oauth"),
                ));
            }
        }

        if let Some(l) = &raw.run.language
            && !["en", "fr"].contains(&l.as_str())
        {
            return Err(at("run.language", format!("`{l}` is not one of en, fr")));
        }
        if raw.run.template.trim().is_empty() {
            return Err(at(
                "run.template",
                "is empty: \"en\", \"fr\", or a file of your own".into(),
            ));
        }
        if raw.verify.batch == 0 {
            return Err(at(
                "verify.batch",
                "must be at least 1 (1: one merge, one verify)".into(),
            ));
        }
        if raw.run.stuck_after_secs == 0 {
            return Err(at("run.stuck_after_secs", "must be at least 1".into()));
        }
        if raw.run.max_attempts == 0 {
            return Err(at("run.max_attempts", "must be at least 1".into()));
        }
        let warnings = warnings(file, text, &raw, &agents, &profiles);
        Ok(Config {
            session: raw.session,
            agents,
            profiles,
            lead: raw.lead,
            quota: raw.quota,
            notify: raw.notify,
            verify: raw.verify,
            run: raw.run,
            warnings,
        })
    }

    /// Where ORCHESTRATION_LOG.md, REPORT.md and HANDOFF_TO_*.md go, relative to the project
    /// root: empty for the root itself.
    pub fn reports_dir(&self) -> PathBuf {
        self.session
            .reports_dir
            .components()
            .filter(|c| !matches!(c, std::path::Component::CurDir))
            .collect()
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

/// The warnings of a configuration that validated: `[profile.x]` tables no agent uses (a
/// `[profile.clude]` typo makes a new profile), and named groups in a file's patterns that
/// nothing reads.
fn warnings(
    file: &Path,
    text: &str,
    raw: &RawConfig,
    agents: &[AgentConfig],
    profiles: &BTreeMap<String, Profile>,
) -> Vec<ConfigError> {
    let error = |span: Option<Range<usize>>, key: &str, message: String| ConfigError {
        file: file.to_owned(),
        position: line_col(text, span),
        key: key.to_owned(),
        message,
    };
    let mut out = Vec::new();
    for (name, spec) in &raw.profile {
        let key = format!("profile.{name}");
        let span = key_span(text, &key).or(Some(spec.span()));
        if !agents.iter().any(|a| &a.cli == name) {
            let known = builtin_names()
                .map(str::to_owned)
                .chain(agents.iter().map(|a| a.cli.clone()))
                .filter(|k| k != name);
            let near = known
                .filter(|k| edit_distance(k, name) <= 2)
                .min_by_key(|k| edit_distance(k, name));
            let mut message = format!(
                "no [[agent]] uses profile `{name}` (an agent picks one with `cli = \"{name}\"`)"
            );
            if let Some(n) = near {
                message.push_str(&format!("; a typo of `{n}`?"));
            }
            out.push(error(span.clone(), &key, message));
        }
        let Some(profile) = profiles.get(name) else {
            continue;
        };
        for (field, i, group) in profile.unread_groups() {
            let key = format!("{key}.patterns.{field}[{i}]");
            let read = crate::profile::read_groups(&field);
            out.push(error(
                key_span(text, &key).or(span.clone()),
                &key,
                format!(
                    "named group `{group}` is read by nothing ({})",
                    if read.is_empty() {
                        format!("baton reads no group of `{field}` patterns: use `(?:…)`")
                    } else {
                        format!("`{field}` patterns are read for: {}", read.join(", "))
                    }
                ),
            ));
        }
    }
    out
}

/// The number of single-character edits between two short names.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cur = row[j + 1];
            row[j + 1] = (prev + usize::from(ca != *cb)).min(row[j] + 1).min(cur + 1);
            prev = cur;
        }
    }
    row[b.len()]
}

/// Checks `[session] reports_dir`: relative to the project root and inside it.
fn check_reports_dir(dir: &Path) -> Result<(), String> {
    use std::path::Component;
    if dir.as_os_str().is_empty() {
        return Err("is empty: \".\" is the project root".into());
    }
    for c in dir.components() {
        match c {
            Component::Normal(_) | Component::CurDir => {}
            Component::ParentDir => {
                return Err(format!(
                    "`{}` leaves the project: give a directory inside it",
                    dir.display()
                ));
            }
            Component::RootDir | Component::Prefix(_) => {
                return Err(format!(
                    "`{}` is absolute: give a directory relative to the project root",
                    dir.display()
                ));
            }
        }
    }
    Ok(())
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
        assert_eq!(e.key, "lead.chain[1]");
        assert!(e.message.contains("`b`"));
    }

    #[test]
    fn value_errors_give_the_line_of_their_key() {
        let e = parse("[quota]\ncritical = 90\nwarn = 95\n").unwrap_err();
        assert_eq!(e.key, "quota.warn", "{e}");
        assert_eq!(e.position, Some((3, 1)), "{e}");
        assert!(e.message.contains("above critical (90)"), "{e}");
        let e =
            parse("[[agent]]\nname = \"a\"\n\n[lead]\nprepare_at = 80\nchain = [\"a\", \"b\"]\n")
                .unwrap_err();
        assert_eq!(e.key, "lead.chain[1]", "{e}");
        assert_eq!(e.position, Some((6, 15)), "{e}");
        assert!(
            e.to_string()
                .starts_with("baton.toml:6:15: lead.chain[1]: `b`"),
            "{e}"
        );
        let e = parse("[lead]\nhandoff_at = 70\nprepare_at = 85\n").unwrap_err();
        assert_eq!(
            (e.key.as_str(), e.position),
            ("lead.prepare_at", Some((3, 1))),
            "{e}"
        );
        let e = parse("[notify]\ndisable = [\"run-finished\",\n  \"quota-wrn\"]\n").unwrap_err();
        assert_eq!(
            (e.key.as_str(), e.position),
            ("notify.disable[1]", Some((3, 3))),
            "{e}"
        );
        let e = parse("[run]\n\nmax_attempts = 0\n").unwrap_err();
        assert_eq!(
            (e.key.as_str(), e.position),
            ("run.max_attempts", Some((3, 1))),
            "{e}"
        );
        let e = parse("[session]\nheight = 2\n").unwrap_err();
        assert_eq!(
            (e.key.as_str(), e.position),
            ("session.height", Some((2, 1))),
            "{e}"
        );
        let e = parse("[quota]\nsources = [\"hook\", \"scren\"]\n").unwrap_err();
        assert_eq!(e.key, "quota.sources[1]", "{e}");
        assert_eq!(e.position.map(|p| p.0), Some(2), "{e}");
    }

    #[test]
    fn a_profile_no_agent_uses_is_a_warning_with_its_line() {
        let c = parse(
            "[[agent]]\nname = \"a\"\ncli = \"claude\"\n\n[profile.clude]\nargs = [\"--model\", \"opus\"]\n",
        )
        .unwrap();
        assert_eq!(c.warnings.len(), 1, "{:?}", c.warnings);
        let w = &c.warnings[0];
        assert_eq!(w.key, "profile.clude");
        assert_eq!(w.position.map(|p| p.0), Some(5), "{w}");
        assert!(
            w.message.contains("no [[agent]] uses profile `clude`"),
            "{w}"
        );
        assert!(w.message.contains("a typo of `claude`?"), "{w}");
        // Used: no warning; the design example has none either.
        let c =
            parse("[[agent]]\nname = \"a\"\ncli = \"mine\"\n[profile.mine]\nextends = \"codex\"\n")
                .unwrap();
        assert!(c.warnings.is_empty(), "{:?}", c.warnings);
    }

    #[test]
    fn a_pattern_group_nothing_reads_is_a_warning() {
        let c = parse(
            "[[agent]]\nname = \"claude\"\n[profile.claude.patterns]\nquota = [\n  '(?P<pct>\\d+)% used',\n  '(?P<pcnt>\\d+)% left',\n]\n",
        );
        // `pcnt` alone: not a quota pattern at all, an error (it reads no number).
        assert!(c.is_err(), "{c:?}");
        let c = parse(
            "[[agent]]\nname = \"claude\"\n[profile.claude.patterns]\nquota = [\n  '(?P<pct>\\d+)% used',\n  '(?P<left>\\d+)% left, resets (?P<rest>.+)',\n]\n",
        )
        .unwrap();
        assert_eq!(c.warnings.len(), 1, "{:?}", c.warnings);
        let w = &c.warnings[0];
        assert_eq!(w.key, "profile.claude.patterns.quota[1]");
        assert_eq!(w.position, Some((6, 3)), "{w}");
        assert!(
            w.message.contains("`rest`") && w.message.contains("reset"),
            "{w}"
        );
    }

    #[test]
    fn reports_dir_stays_inside_the_project() {
        assert_eq!(parse("").unwrap().reports_dir(), PathBuf::new());
        let c = parse("[session]\nreports_dir = \"./docs/runs\"\n").unwrap();
        assert_eq!(c.reports_dir(), PathBuf::from("docs/runs"));
        for bad in ["../elsewhere", "/tmp/x", "a/../../b", ""] {
            let e = parse(&format!("[session]\nreports_dir = {bad:?}\n")).unwrap_err();
            assert_eq!(e.key, "session.reports_dir", "{e}");
            assert_eq!(e.position, Some((2, 1)), "{e}");
        }
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
        assert_eq!(e.position.map(|p| p.0), Some(5), "{e}");
        let e = parse("[session]\nintegration_branch = \"baton/x\"\n").unwrap_err();
        assert_eq!(e.key, "session.integration_branch", "{e}");
    }
}
