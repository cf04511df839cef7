//! The TOML script that tells the fake agent how to behave.

use std::path::Path;
use std::path::PathBuf;

use serde::Deserialize;

/// Which real CLI the fake agent imitates on screen.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Persona {
    /// Claude Code (v2 screens).
    #[default]
    Claude,
    /// OpenAI Codex CLI.
    Codex,
    /// Amp (a guess at its TUI).
    Amp,
    /// Gemini CLI.
    Gemini,
}

impl Persona {
    /// Every persona, in command-line order.
    pub const ALL: [Persona; 4] = [
        Persona::Claude,
        Persona::Codex,
        Persona::Amp,
        Persona::Gemini,
    ];

    /// Returns the persona's command-line name.
    pub fn name(self) -> &'static str {
        match self {
            Persona::Claude => "claude",
            Persona::Codex => "codex",
            Persona::Amp => "amp",
            Persona::Gemini => "gemini",
        }
    }

    /// Returns the persona named `name`, if any.
    pub fn from_name(name: &str) -> Option<Persona> {
        Persona::ALL.into_iter().find(|p| p.name() == name)
    }
}

/// A whole script; every key is optional.
#[derive(Debug, Clone, PartialEq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Script {
    /// The persona to show.
    pub persona: Persona,
    /// Where submitted prompts are recorded.
    pub log: Option<PathBuf>,
    /// Where events are recorded.
    pub events: Option<PathBuf>,
    /// How long the starting screen shows, in milliseconds.
    pub start_delay_ms: u64,
    /// Whether the trust dialog shows first.
    pub trust_dialog: bool,
    /// Whether the model-migration menu shows at start (after the trust dialog), as Codex
    /// 0.169+ draws it when the configured model has a successor.
    pub model_menu: bool,
    /// Whether the first Enter after each paste is swallowed (the Codex quirk).
    pub swallow_first_enter: bool,
    /// The used quota shown in the footer; `None` hides the quota line.
    pub quota_percent: Option<u32>,
    /// Added to `quota_percent` after each completed task.
    pub quota_step: u32,
    /// The quota window word ("session", "weekly", "5-hour", "Opus").
    pub quota_window: String,
    /// The text after "resets"; `None` uses a persona default where one is needed.
    pub quota_reset: Option<String>,
    /// The quota at which prompts hit the usage-limit screen.
    pub limit_at: u32,
    /// How long a task works when its entry does not say.
    pub default_work_ms: u64,
    /// The reply when a task entry does not say.
    pub default_reply: String,
    /// Whether the agent reports each task it finishes, as a well-behaved agent does: after
    /// the work it runs `baton task done <ID>` for the task its prompt names (unless the
    /// entry's own `run` already calls `baton task done`). `false` plays an agent that
    /// never reports (a task entry's `report` overrides it).
    pub report: bool,
    /// Per-prompt behaviours, tried in order.
    #[serde(rename = "task")]
    pub tasks: Vec<Task>,
}

impl Default for Script {
    fn default() -> Self {
        Script {
            persona: Persona::Claude,
            log: None,
            events: None,
            start_delay_ms: 300,
            trust_dialog: false,
            model_menu: false,
            swallow_first_enter: false,
            quota_percent: None,
            quota_step: 0,
            quota_window: "session".to_owned(),
            quota_reset: None,
            limit_at: 100,
            default_work_ms: 1000,
            default_reply: "Done.".to_owned(),
            report: true,
            tasks: Vec::new(),
        }
    }
}

/// What the agent does with one submitted prompt.
#[derive(Debug, Clone, Default, PartialEq, Eq, Deserialize)]
#[serde(default, deny_unknown_fields)]
pub struct Task {
    /// A substring the prompt must contain; `None` matches any prompt.
    #[serde(rename = "match")]
    pub pattern: Option<String>,
    /// How long the work lasts, in milliseconds.
    pub work_ms: Option<u64>,
    /// The reply shown when the work ends.
    pub reply: Option<String>,
    /// Files written when the work ends.
    pub write: Vec<FileWrite>,
    /// Shell commands run (with `sh -c`) when the work ends.
    pub run: Vec<String>,
    /// Whether the permission dialog shows before the work.
    pub permission: bool,
    /// Whether the agent freezes after one working frame.
    pub hang: bool,
    /// An exit code to crash with right after logging the prompt.
    pub crash: Option<i32>,
    /// Whether the usage-limit screen shows instead of the work.
    pub limit_reached: bool,
    /// The footer's quota jumps to this % when the work starts (usage spent elsewhere).
    pub quota_to: Option<u32>,
    /// The usage limit is reached this long into the work: the footer shows 100 % and the
    /// limit screen replaces the work, which never finishes.
    pub limit_after_ms: Option<u64>,
    /// Whether the credits-exhausted error shows instead of the work.
    pub credits_exhausted: bool,
    /// Whether the entry may be used more than once.
    pub repeat: bool,
    /// Overrides the script's `report` for this entry.
    pub report: Option<bool>,
}

impl Task {
    /// Returns whether this entry applies to `prompt`.
    pub fn matches(&self, prompt: &[u8]) -> bool {
        match &self.pattern {
            None => true,
            Some(p) if p.is_empty() => true,
            Some(p) => prompt.windows(p.len()).any(|w| w == p.as_bytes()),
        }
    }
}

/// A file the agent writes when a task's work ends.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileWrite {
    /// The file, relative to the current directory unless absolute.
    pub path: PathBuf,
    /// The file's new content.
    pub content: String,
}

/// Why a script could not be loaded.
#[derive(Debug, thiserror::Error)]
pub enum ScriptError {
    /// The file could not be read.
    #[error("cannot read script {}: {source}", .path.display())]
    Read {
        /// The script's path.
        path: PathBuf,
        /// The underlying error.
        source: std::io::Error,
    },
    /// The file is not a valid script (the message has the line and column).
    #[error("bad script {}: {source}", .path.display())]
    Parse {
        /// The script's path.
        path: PathBuf,
        /// The parse error, with line and column.
        source: toml::de::Error,
    },
}

impl Script {
    /// Parses a script from TOML text.
    pub fn parse(text: &str) -> Result<Script, toml::de::Error> {
        toml::from_str(text)
    }

    /// Reads and parses the script at `path`.
    pub fn load(path: &Path) -> Result<Script, ScriptError> {
        let text = std::fs::read_to_string(path).map_err(|source| ScriptError::Read {
            path: path.to_owned(),
            source,
        })?;
        Script::parse(&text).map_err(|source| ScriptError::Parse {
            path: path.to_owned(),
            source,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn empty_script_has_defaults() {
        let s = Script::parse("").unwrap();
        assert_eq!(s, Script::default());
        assert_eq!(s.persona, Persona::Claude);
        assert_eq!(s.start_delay_ms, 300);
        assert_eq!(s.limit_at, 100);
        assert_eq!(s.default_work_ms, 1000);
        assert_eq!(s.default_reply, "Done.");
        assert_eq!(s.quota_window, "session");
        assert!(s.quota_percent.is_none());
        assert!(s.tasks.is_empty());
    }

    #[test]
    fn full_script_parses() {
        let s = Script::parse(
            r#"
persona = "codex"
log = "prompts.log"
events = "events.log"
start_delay_ms = 10
trust_dialog = true
swallow_first_enter = true
quota_percent = 40
quota_step = 5
quota_window = "weekly"
quota_reset = "2pm (Europe/Paris)"
limit_at = 90
default_work_ms = 50
default_reply = "Ok."

[[task]]
match = "T-001"
work_ms = 2000
reply = "Implemented the parser."
write = [{ path = "src/x.txt", content = "hello\n" }]
run = ["true"]
permission = true
repeat = true

[[task]]
crash = 3
"#,
        )
        .unwrap();
        assert_eq!(s.persona, Persona::Codex);
        assert_eq!(s.log.as_deref(), Some(Path::new("prompts.log")));
        assert_eq!(s.quota_percent, Some(40));
        assert_eq!(s.quota_reset.as_deref(), Some("2pm (Europe/Paris)"));
        assert_eq!(s.tasks.len(), 2);
        assert_eq!(s.tasks[0].pattern.as_deref(), Some("T-001"));
        assert_eq!(s.tasks[0].write[0].content, "hello\n");
        assert!(s.tasks[0].permission && s.tasks[0].repeat);
        assert_eq!(s.tasks[1].crash, Some(3));
        assert!(s.tasks[1].matches(b"anything"));
        assert!(s.tasks[0].matches(b"do T-001 now"));
        assert!(!s.tasks[0].matches(b"do T-002 now"));
    }

    #[test]
    fn unknown_key_names_the_line() {
        let err = Script::parse("persona = \"claude\"\n\nbogus_key = 1\n").unwrap_err();
        let msg = err.to_string();
        assert!(msg.contains("line 3"), "{msg}");
        assert!(msg.contains("bogus_key"), "{msg}");
    }

    #[test]
    fn unknown_persona_is_an_error() {
        let err = Script::parse("persona = \"cursor\"\n").unwrap_err();
        assert!(err.to_string().contains("line 1"), "{err}");
    }

    #[test]
    fn load_error_names_the_file() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("bad.toml");
        std::fs::write(&path, "[[task]]\nwork_ms = \"slow\"\n").unwrap();
        let msg = Script::load(&path).unwrap_err().to_string();
        assert!(msg.contains("bad.toml"), "{msg}");
        assert!(msg.contains("line 2"), "{msg}");
        let missing = Script::load(&dir.path().join("missing.toml")).unwrap_err();
        assert!(missing.to_string().contains("missing.toml"));
    }
}
