//! `baton.toml`: the project's configuration, parsed from text (the shell reads the file).
//!
//! Every error names the file, the line and the key, and nothing is half-applied: a file either
//! parses and validates whole, or the caller gets an error and keeps what it had.
//!
//! This file holds [`Config`] and its parsing; the sections' types are in `sections.rs`, the
//! error and its position in `error.rs`, the checks and warnings in `checks.rs`.

mod checks;
mod error;
mod host;
mod sections;
mod webhook;

pub use checks::sanitize_name;
pub use error::ConfigError;
pub use error::key_span;
pub use error::line_col;
pub use host::HostConfig;
pub use host::LOCAL_HOST;
pub use host::SshTarget;
pub use host::ssh_option;
pub use sections::AgentConfig;
pub use sections::Isolation;
pub use sections::LeadConfig;
pub use sections::NotifyConfig;
pub use sections::QuotaConfig;
pub use sections::RunConfig;
pub use sections::SessionConfig;
pub use sections::VerifyConfig;
pub use sections::notice_switch;
pub use webhook::WebhookFormat;
pub use webhook::WebhookUrl;

use std::collections::BTreeMap;
use std::collections::BTreeSet;
use std::ops::Range;
use std::path::Path;
use std::path::PathBuf;

use serde::Deserialize;
use toml::Spanned;

use crate::profile::Profile;
use crate::profile::ProfileSpec;
use crate::profile::builtin_names;
use crate::profile::builtin_spec;

use checks::check_name;
use checks::check_reports_dir;
use checks::warnings;

/// The configuration file's name at the project root.
pub const FILE_NAME: &str = "baton.toml";

/// The name of the session's first window: a shell in the project root for the person.
pub const CONSOLE_WINDOW: &str = "baton";

/// The configuration as written.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawConfig {
    #[serde(default)]
    session: SessionConfig,
    #[serde(default)]
    agent: Vec<Spanned<RawAgent>>,
    #[serde(default)]
    host: Vec<Spanned<RawHost>>,
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
    host: Option<Spanned<String>>,
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct RawHost {
    name: Spanned<String>,
    ssh: String,
    identity: Option<PathBuf>,
    #[serde(default)]
    ssh_options: Vec<String>,
    dir: PathBuf,
    baton: Option<PathBuf>,
    down_after_secs: Option<u64>,
}

/// The whole configuration, validated.
#[derive(Clone, Debug)]
pub struct Config {
    /// `[session]`.
    pub session: SessionConfig,
    /// `[[agent]]`, in file order.
    pub agents: Vec<AgentConfig>,
    /// `[[host]]`, in file order: the other machines agents run on.
    pub hosts: Vec<HostConfig>,
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

        let hosts = parse_hosts(&raw.host, text, &error)?;

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
            let host = match &a.host {
                Some(h) if h.get_ref() == LOCAL_HOST => None,
                Some(h) if hosts.iter().any(|x| &x.name == h.get_ref()) => {
                    Some(h.get_ref().clone())
                }
                Some(h) => {
                    return Err(error(
                        key_span(text, &key("host")).or(Some(h.span())),
                        &key("host"),
                        format!(
                            "`{}` is not the name of a [[host]] (hosts: {}; `{LOCAL_HOST}` is this machine)",
                            h.get_ref(),
                            if hosts.is_empty() {
                                "none".to_owned()
                            } else {
                                hosts
                                    .iter()
                                    .map(|x| x.name.clone())
                                    .collect::<Vec<_>>()
                                    .join(", ")
                            }
                        ),
                    ));
                }
                None => None,
            };
            agents.push(AgentConfig {
                name,
                host,
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
        let unknown: Vec<(usize, String)> = raw
            .notify
            .disable
            .iter()
            .enumerate()
            .filter_map(|(i, k)| notice_switch(k).err().map(|m| (i, m)))
            .collect();
        match unknown.as_slice() {
            [] => {}
            [(i, m)] => return Err(at(&format!("notify.disable[{i}]"), m.clone())),
            [(first, _), ..] => {
                // Every unknown name at once, placed at the first.
                let names: Vec<String> = unknown
                    .iter()
                    .map(|(i, _)| format!("`{}`", raw.notify.disable[*i]))
                    .collect();
                let kinds: Vec<&str> = crate::vocab::NoticeKind::switches()
                    .map(crate::vocab::NoticeKind::as_str)
                    .collect();
                return Err(at(
                    &format!("notify.disable[{first}]"),
                    format!(
                        "{} are not notice kinds; the kinds are {}",
                        names.join(", "),
                        kinds.join(", ")
                    ),
                ));
            }
        }
        if let Some(url) = &raw.notify.webhook {
            url.check().map_err(|m| at("notify.webhook", m))?;
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
            hosts,
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

    /// Returns the `[[host]]` with this name.
    pub fn host(&self, name: &str) -> Option<&HostConfig> {
        self.hosts.iter().find(|h| h.name == name)
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

/// Makes a `ConfigError` from a span, a key and a message.
type MakeError<'a> = dyn Fn(Option<Range<usize>>, &str, String) -> ConfigError + 'a;

/// Validates `[[host]]` tables: names (unique, not `local`), the `ssh` spec, an absolute
/// `dir`, and `ssh_options` that leave baton's own settings alone.
fn parse_hosts(
    raw: &[Spanned<RawHost>],
    text: &str,
    error: &MakeError<'_>,
) -> Result<Vec<HostConfig>, ConfigError> {
    let mut hosts: Vec<HostConfig> = Vec::new();
    for (i, host) in raw.iter().enumerate() {
        let h = host.get_ref();
        let key = |k: &str| format!("host[{i}].{k}");
        let at =
            |k: &str, m: String| error(key_span(text, &key(k)).or(Some(host.span())), &key(k), m);
        let name = h.name.get_ref().clone();
        check_name(&name).map_err(|m| error(Some(h.name.span()), &key("name"), m))?;
        if name == LOCAL_HOST {
            return Err(error(
                Some(h.name.span()),
                &key("name"),
                format!("`{LOCAL_HOST}` is the word for this machine: give the host another name"),
            ));
        }
        if hosts.iter().any(|x| x.name == name) {
            return Err(error(
                Some(h.name.span()),
                &key("name"),
                format!("`{name}` is already the name of another host"),
            ));
        }
        let ssh = SshTarget::parse(&h.ssh).map_err(|m| at("ssh", m))?;
        // The host's paths are POSIX whatever this machine is.
        if !h.dir.to_string_lossy().starts_with('/') {
            return Err(at(
                "dir",
                format!(
                    "`{}` is relative: give the project's absolute directory on {name}",
                    h.dir.display()
                ),
            ));
        }
        if let Some(b) = &h.baton
            && b.as_os_str().is_empty()
        {
            return Err(at(
                "baton",
                "is empty: leave it out to use `baton` on the host's PATH".into(),
            ));
        }
        if h.down_after_secs == Some(0) {
            return Err(at(
                "down_after_secs",
                "must be at least 1: how long the host may be unreachable before its agents count as down".into(),
            ));
        }
        if let Some(p) = &h.identity
            && p.as_os_str().is_empty()
        {
            return Err(at(
                "identity",
                "is empty: leave it out to use ssh's own keys".into(),
            ));
        }
        host::check_ssh_options(&h.ssh_options).map_err(|(j, m)| {
            let k = format!("ssh_options[{j}]");
            error(key_span(text, &key(&k)).or(Some(host.span())), &key(&k), m)
        })?;
        hosts.push(HostConfig {
            name,
            ssh,
            identity: h.identity.clone(),
            ssh_options: h.ssh_options.clone(),
            dir: h.dir.clone(),
            baton: h.baton.clone(),
            down_after_secs: h.down_after_secs.unwrap_or(host::DOWN_AFTER_SECS),
        });
    }
    Ok(hosts)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(text: &str) -> Result<Config, ConfigError> {
        Config::parse(Path::new("baton.toml"), text)
    }

    #[test]
    fn notify_disable_names_notice_kinds() {
        use crate::vocab::NoticeKind;
        let every: Vec<String> = NoticeKind::switches().map(|k| format!("\"{k}\"")).collect();
        let c = parse(&format!("[notify]\ndisable = [{}]\n", every.join(", "))).unwrap();
        assert_eq!(
            c.notify.disabled().unwrap(),
            NoticeKind::switches().collect::<Vec<_>>()
        );
        // A failed handoff is switched with `handoff-done`: its own name is no switch.
        let e = parse("[notify]\ndisable = [\"quota-warn\", \"handoff-failed\"]\n").unwrap_err();
        assert_eq!(
            (e.key.as_str(), e.position),
            ("notify.disable[1]", Some((2, 26))),
            "{e}"
        );
        assert_eq!(
            e.to_string(),
            "baton.toml:2:26: notify.disable[1]: `handoff-failed` is not one of quota-warn, \
             quota-critical, task-blocked, needs-input, agent-dead, verify-failed, handoff-done, \
             run-finished"
        );
        let e = parse("[notify]\ndisable = [\"blocked\"]\n").unwrap_err();
        assert_eq!(e.key, "notify.disable[0]", "{e}");
        // Several unknown names: all of them, at the first.
        let e =
            parse("[notify]\ndisable = [\"blocked\", \"run-finished\", \"dead\"]\n").unwrap_err();
        assert_eq!(
            (e.key.as_str(), e.position),
            ("notify.disable[0]", Some((2, 12))),
            "{e}"
        );
        assert_eq!(
            e.message,
            "`blocked`, `dead` are not notice kinds; the kinds are quota-warn, quota-critical, \
             task-blocked, needs-input, agent-dead, verify-failed, handoff-done, run-finished"
        );
    }

    #[test]
    fn notify_webhook_is_checked_and_never_shown() {
        let c = parse(
            "[notify]\nwebhook = \"https://ntfy.sh/baton-Secret\"\nwebhook_format = \"ntfy\"\n",
        )
        .unwrap();
        let url = c.notify.webhook.as_ref().unwrap();
        assert_eq!(url.secret(), "https://ntfy.sh/baton-Secret");
        assert_eq!(c.notify.webhook_format, WebhookFormat::Ntfy);
        assert!(!format!("{c:?}").contains("Secret"));
        assert!(!toml::to_string(&c.notify).unwrap().contains("Secret"));
        assert_eq!(parse("").unwrap().notify.webhook, None);
        assert_eq!(
            parse("").unwrap().notify.webhook_format,
            WebhookFormat::Json
        );

        let e = parse("[notify]\ndisable = []\nwebhook = \"ftp://host/Secret\"\n").unwrap_err();
        assert_eq!(
            (e.key.as_str(), e.position),
            ("notify.webhook", Some((3, 1))),
            "{e}"
        );
        assert!(!e.to_string().contains("Secret"), "{e}");
        // A URL of 20 000 characters: refused, with the file, line and field.
        let long = format!("https://ntfy.sh/Secret{}", "x".repeat(20_000));
        let e = parse(&format!("[notify]\nwebhook = \"{long}\"\n")).unwrap_err();
        assert_eq!(
            (e.key.as_str(), e.position),
            ("notify.webhook", Some((2, 1))),
            "{e}"
        );
        assert!(
            e.to_string()
                .starts_with("baton.toml:2:1: notify.webhook: is 20022 characters long"),
            "{e}"
        );
        assert!(!e.to_string().contains("Secret"), "{e}");
        let e = parse("[notify]\nwebhook_format = \"xml\"\n").unwrap_err();
        assert_eq!(e.position.map(|p| p.0), Some(2), "{e}");
        assert!(
            e.to_string().contains("json, slack, ntfy") || e.to_string().contains("`json`"),
            "{e}"
        );
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

    const HOSTS: &str = r#"
[[host]]
name = "gpu1"
ssh = "dev@gpu1.lan:2222"
identity = "~/.ssh/id_ed25519"
ssh_options = ["-o", "ServerAliveInterval=15"]
dir = "/srv/work/palm-oil-bot"

[[host]]
name = "box"
ssh = "[::1]:2200"
dir = "/home/me/p"
baton = "/usr/local/bin/baton"

[[agent]]
name = "codex2"
cli = "codex"
host = "gpu1"

[[agent]]
name = "here"
host = "local"

[[agent]]
name = "also-here"
"#;

    #[test]
    fn hosts_parse_and_agents_name_them() {
        let c = parse(HOSTS).unwrap();
        assert_eq!(c.hosts.len(), 2);
        let gpu1 = c.host("gpu1").unwrap();
        assert_eq!(gpu1.ssh.user.as_deref(), Some("dev"));
        assert_eq!(gpu1.ssh.host, "gpu1.lan");
        assert_eq!(gpu1.ssh.port, Some(2222));
        assert_eq!(gpu1.identity, Some(PathBuf::from("~/.ssh/id_ed25519")));
        assert_eq!(gpu1.ssh_options, ["-o", "ServerAliveInterval=15"]);
        assert_eq!(gpu1.dir, PathBuf::from("/srv/work/palm-oil-bot"));
        assert_eq!(gpu1.baton, None);
        let b = c.host("box").unwrap();
        assert_eq!((b.ssh.host.as_str(), b.ssh.port), ("::1", Some(2200)));
        assert_eq!(b.baton, Some(PathBuf::from("/usr/local/bin/baton")));
        let hosts: Vec<Option<&str>> = c.agents.iter().map(|a| a.host.as_deref()).collect();
        assert_eq!(hosts, [Some("gpu1"), None, None]);
        assert!(c.warnings.is_empty(), "{:?}", c.warnings);
        assert!(parse("").unwrap().hosts.is_empty());
    }

    /// Replaces the first `from` of the example with `to` and returns the error.
    fn host_error(from: &str, to: &str) -> ConfigError {
        assert!(HOSTS.contains(from), "{from}");
        parse(&HOSTS.replacen(from, to, 1)).unwrap_err()
    }

    /// The line at which `needle` first is in `text` (from 1).
    fn line_of(text: &str, needle: &str) -> usize {
        text[..text.find(needle).unwrap()].matches('\n').count() + 1
    }

    #[test]
    fn every_host_error_names_its_line_and_field() {
        for (from, to, key, why) in [
            (
                "host = \"gpu1\"",
                "host = \"gpu2\"",
                "agent[0].host",
                "`gpu2` is not the name of a [[host]] (hosts: gpu1, box; `local` is this machine)",
            ),
            (
                "name = \"box\"",
                "name = \"gpu1\"",
                "host[1].name",
                "`gpu1` is already the name of another host",
            ),
            (
                "name = \"box\"",
                "name = \"local\"",
                "host[1].name",
                "`local` is the word for this machine",
            ),
            ("name = \"box\"", "name = \"b.x\"", "host[1].name", "`.`"),
            (
                "ssh = \"[::1]:2200\"",
                "ssh = \"[::1]:99999\"",
                "host[1].ssh",
                "`99999` is not a port",
            ),
            (
                "ssh = \"dev@gpu1.lan:2222\"",
                "ssh = \"dev@\"",
                "host[0].ssh",
                "has no host",
            ),
            (
                "dir = \"/home/me/p\"",
                "dir = \"home/me/p\"",
                "host[1].dir",
                "`home/me/p` is relative",
            ),
            (
                "dir = \"/home/me/p\"",
                "dir = \"~/p\"",
                "host[1].dir",
                "is relative",
            ),
            (
                "\"ServerAliveInterval=15\"]",
                "\"ServerAliveInterval=15\", \"-o\", \"BatchMode=no\"]",
                "host[0].ssh_options[3]",
                "`BatchMode` is baton's to set",
            ),
            (
                "ssh_options = [\"-o\", \"ServerAliveInterval=15\"]",
                "ssh_options = [\"ServerAliveInterval=15\"]",
                "host[0].ssh_options[0]",
                "is not an option",
            ),
            (
                "baton = \"/usr/local/bin/baton\"",
                "baton = \"\"",
                "host[1].baton",
                "is empty",
            ),
            (
                "identity = \"~/.ssh/id_ed25519\"",
                "identity = \"\"",
                "host[0].identity",
                "is empty",
            ),
        ] {
            let e = host_error(from, to);
            assert_eq!(e.key, key, "{e}");
            assert_eq!(e.position.map(|p| p.0), Some(line_of(HOSTS, from)), "{e}");
            assert!(e.message.contains(why), "{e}");
            assert!(e.to_string().starts_with("baton.toml:"), "{e}");
        }
        // A table without its required fields, and a field no host has.
        let e = parse("[[host]]\nname = \"a\"\nssh = \"a\"\n").unwrap_err();
        assert!(e.message.contains("dir"), "{e}");
        assert_eq!(e.position.map(|p| p.0), Some(1), "{e}");
        let e =
            parse("[[host]]\nname = \"a\"\nssh = \"a\"\ndir = \"/a\"\nport = 22\n").unwrap_err();
        assert_eq!(e.position.map(|p| p.0), Some(5), "{e}");
        assert!(e.message.contains("port"), "{e}");
        // An agent on a host when there is none.
        let e = parse("[[agent]]\nname = \"a\"\nhost = \"gpu1\"\n").unwrap_err();
        assert_eq!(
            (e.key.as_str(), e.position.map(|p| p.0)),
            ("agent[0].host", Some(3))
        );
        assert!(e.message.contains("(hosts: none;"), "{e}");
    }
}
