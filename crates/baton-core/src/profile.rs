//! Agent profiles: how to launch one agent CLI, how to submit a prompt to it, and the screen
//! patterns that tell its state.
//!
//! A profile is data (TOML). The built-in ones live in `profiles/` at the repository root and
//! are embedded at build time; `baton.toml` may override any field of them or define new ones
//! with `[profile.<name>]` tables (`extends = "claude"` starts from an existing profile).

use std::collections::BTreeMap;
use std::fmt;

use regex::Regex;
use serde::Deserialize;
use serde::Serialize;

/// The built-in profiles, as `(name, TOML source)`.
pub const BUILTIN: &[(&str, &str)] = &[
    ("claude", include_str!("../../../profiles/claude.toml")),
    ("codex", include_str!("../../../profiles/codex.toml")),
    ("amp", include_str!("../../../profiles/amp.toml")),
    ("gemini", include_str!("../../../profiles/gemini.toml")),
    ("opencode", include_str!("../../../profiles/opencode.toml")),
    ("generic", include_str!("../../../profiles/generic.toml")),
];

/// The screen states an agent can be detected in.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum AgentState {
    /// The CLI is launching; no prompt box yet.
    Starting,
    /// The agent is busy with a turn.
    Working,
    /// The prompt box is ready and no turn has finished on screen.
    Idle,
    /// A dialog waits for a person (permission, trust, menu).
    NeedsInput,
    /// The agent hit a usage or rate limit.
    RateLimited,
    /// The last turn ended with an error (credits, API error, login).
    Error,
    /// The last turn finished and the prompt box is ready again.
    Finished,
    /// Nothing on screen is conclusive.
    Unknown,
}

impl AgentState {
    /// Every state that has patterns in a profile, in the order profiles list them.
    pub const WITH_PATTERNS: [AgentState; 7] = [
        AgentState::Starting,
        AgentState::Working,
        AgentState::Idle,
        AgentState::NeedsInput,
        AgentState::RateLimited,
        AgentState::Error,
        AgentState::Finished,
    ];

    /// Returns the kebab-case name used in TOML, JSON and output.
    pub fn as_str(self) -> &'static str {
        match self {
            AgentState::Starting => "starting",
            AgentState::Working => "working",
            AgentState::Idle => "idle",
            AgentState::NeedsInput => "needs-input",
            AgentState::RateLimited => "rate-limited",
            AgentState::Error => "error",
            AgentState::Finished => "finished",
            AgentState::Unknown => "unknown",
        }
    }

    /// Returns true when the agent can take a prompt now.
    pub fn is_ready(self) -> bool {
        matches!(self, AgentState::Idle | AgentState::Finished)
    }
}

impl fmt::Display for AgentState {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

/// How a prompt is put into the agent's input box.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum SubmitMethod {
    /// `load-buffer` + `paste-buffer -p` (bracketed paste when the CLI enables it), then Enter.
    Paste,
}

/// A profile as written in TOML: every field optional, so that an override can set only a few.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProfileSpec {
    /// The profile this one starts from (only in `baton.toml` overrides).
    pub extends: Option<String>,
    /// A one-line description.
    pub description: Option<String>,
    /// The program to launch.
    pub command: Option<String>,
    /// Arguments added after the program.
    pub args: Option<Vec<String>>,
    /// Program names that `baton init` and `baton doctor` look for on PATH.
    pub binaries: Option<Vec<String>>,
    /// Which completion hook the CLI supports: "claude-settings", "codex-notify" or "none".
    pub hooks: Option<String>,
    /// Whether the CLI runs the agent's commands in a login shell, whose profile resets PATH
    /// (`baton doctor` then checks that such a shell finds baton).
    pub login_shell: Option<bool>,
    /// How prompts are submitted.
    pub submit: Option<SubmitSpec>,
    /// The screen patterns.
    pub patterns: Option<PatternsSpec>,
    /// Dialogs a fresh start shows and the keys that answer them (`[[first_start]]`, see
    /// [`crate::first_start`]).
    #[serde(default)]
    pub first_start: Option<Vec<crate::first_start::FirstStartSpec>>,
}

/// Submission settings as written in TOML.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SubmitSpec {
    /// How the text is typed.
    pub method: Option<SubmitMethod>,
    /// How many extra Enters to press when the agent does not start working.
    pub max_extra_enters: Option<u32>,
    /// How long the agent has to show it started working after Enter, in milliseconds.
    pub working_deadline_ms: Option<u64>,
    /// How long the box may keep the text after Enter before Enter is pressed again, in
    /// milliseconds.
    pub retry_enter_ms: Option<u64>,
    /// How long the box must have shown the text before the first Enter, in milliseconds.
    pub enter_after_text_ms: Option<u64>,
    /// How long output must stay quiet to confirm a finished turn, in milliseconds.
    pub settle_ms: Option<u64>,
    /// How long the CLI may take to show its prompt box after launch, in milliseconds.
    pub startup_timeout_ms: Option<u64>,
}

/// Screen patterns as written in TOML.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PatternsSpec {
    /// The CLI is launching.
    pub starting: Option<Vec<String>>,
    /// A turn is under way.
    pub working: Option<Vec<String>>,
    /// The prompt box is visible.
    pub idle: Option<Vec<String>>,
    /// A dialog waits for a person (counted only in the live area, see `detector`).
    pub needs_input: Option<Vec<String>>,
    /// Key hints of a menu ("Enter to select", "enter/esc confirm"): a cursor line with one
    /// of these below it is a menu waiting for a person, not the prompt box.
    pub menu: Option<Vec<String>>,
    /// A live line saying the turn is over though a working hint still shows (Claude Code's
    /// spinner while its Stop hook runs: `(running stop hook)`): the turn reads finished.
    pub ended: Option<Vec<String>>,
    /// Rules and borders drawn around the prompt box, skipped when looking for the live block
    /// above it (default: a line of box-drawing characters, [`DEFAULT_RULE`]).
    pub rule: Option<Vec<String>>,
    /// How many lines above the prompt box the live area may reach: the spinner, the task
    /// list under it, notices (default 12, at most 100).
    pub live_above: Option<usize>,
    /// Without a prompt box on screen, how many lines at the bottom of the screen make the
    /// live area (default 30, 1 to 500).
    pub live_lines: Option<usize>,
    /// A usage or rate limit was hit.
    pub rate_limited: Option<Vec<String>>,
    /// The turn ended in an error.
    pub error: Option<Vec<String>>,
    /// A turn finished.
    pub finished: Option<Vec<String>>,
    /// Quota lines, with named groups `pct` (used %), `left` (% left) or `remaining` and
    /// `total` (amounts), and optionally `window` and `reset`.
    pub quota: Option<Vec<String>>,
    /// The input line of the prompt box, with a named group `text` holding what is typed.
    pub input: Option<Vec<String>>,
    /// Texts the input line shows when it is empty.
    pub placeholders: Option<Vec<String>>,
}

/// A pattern with its source text, checked when the profile loads and compiled on first use:
/// commands that never read a screen (the task commands agents run) do not pay for compiling
/// a hundred regexes.
#[derive(Clone, Debug)]
pub struct Pattern {
    /// The source as written in the profile.
    pub source: String,
    /// Names of its capture groups.
    pub groups: Vec<String>,
    compiled: std::sync::OnceLock<std::sync::Arc<Regex>>,
}

/// Returns the one compiled regex of a source, compiling it the first time.
fn shared_regex(source: &str) -> std::sync::Arc<Regex> {
    use std::collections::HashMap;
    use std::sync::Arc;
    use std::sync::Mutex;
    use std::sync::OnceLock;
    static COMPILED: OnceLock<Mutex<HashMap<String, Arc<Regex>>>> = OnceLock::new();
    let mut map = COMPILED
        .get_or_init(Mutex::default)
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    Arc::clone(map.entry(source.to_owned()).or_insert_with(|| {
        Arc::new(
            Regex::new(source)
                .unwrap_or_else(|_| Regex::new(r"[^\s\S]").expect("a regex that matches nothing")),
        )
    }))
}

impl Pattern {
    /// Checks the syntax of `source` and returns the pattern, not yet compiled.
    pub fn new(source: &str) -> Result<Pattern, String> {
        let hir = regex_syntax::Parser::new()
            .parse(source)
            .map_err(|e| e.to_string())?;
        let mut groups = Vec::new();
        collect_groups(&hir, &mut groups);
        Ok(Pattern {
            source: source.to_owned(),
            groups,
            compiled: std::sync::OnceLock::new(),
        })
    }

    /// Returns the compiled regex. A pattern that parses but exceeds the regex size limit
    /// matches nothing (`baton doctor` reports it).
    ///
    /// Patterns with the same source share one compiled regex (and its matching caches): a
    /// hundred agents of one profile cost one set of regexes, not a hundred.
    pub fn regex(&self) -> &Regex {
        self.compiled.get_or_init(|| shared_regex(&self.source))
    }

    /// Compiles the pattern now, returning the error if it cannot be.
    pub fn compile(&self) -> Result<(), String> {
        Regex::new(&self.source)
            .map(|_| ())
            .map_err(|e| e.to_string())
    }
}

fn collect_groups(hir: &regex_syntax::hir::Hir, out: &mut Vec<String>) {
    use regex_syntax::hir::HirKind;
    match hir.kind() {
        HirKind::Capture(c) => {
            if let Some(n) = &c.name {
                out.push(n.to_string());
            }
            collect_groups(&c.sub, out);
        }
        HirKind::Repetition(r) => collect_groups(&r.sub, out),
        HirKind::Concat(v) | HirKind::Alternation(v) => {
            for h in v {
                collect_groups(h, out);
            }
        }
        _ => {}
    }
}

/// Submission settings of a resolved profile.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Submit {
    /// How the text is typed.
    pub method: SubmitMethod,
    /// How many extra Enters to press when the agent does not start working.
    pub max_extra_enters: u32,
    /// How long the agent has to show it started working after Enter, in milliseconds.
    pub working_deadline_ms: u64,
    /// How long the box may keep the text after Enter before Enter is pressed again, in
    /// milliseconds (the swallowed-Enter case). Too short for a CLI that reads keys late on a
    /// loaded machine, and that CLI may take both Enters as two submissions.
    pub retry_enter_ms: u64,
    /// How long the box must have shown the pasted text before the first Enter, in
    /// milliseconds: a CLI that reads an Enter right after other input as a newline (Gemini
    /// CLI's 30 ms fast-return guard) then takes the first Enter as the submission.
    pub enter_after_text_ms: u64,
    /// How long output must stay quiet to confirm a finished turn, in milliseconds.
    pub settle_ms: u64,
    /// How long the CLI may take to show its prompt box after launch, in milliseconds.
    pub startup_timeout_ms: u64,
    /// Whether the profile can read what its box holds (it has `input` patterns): only then
    /// does a box that never showed the prompt make a delivery fail.
    pub reads_box: bool,
}

impl Default for Submit {
    /// The defaults a profile gets for every submission field it leaves out.
    fn default() -> Self {
        Submit {
            method: SubmitMethod::Paste,
            max_extra_enters: 2,
            working_deadline_ms: 3000,
            retry_enter_ms: 600,
            enter_after_text_ms: 0,
            settle_ms: 1500,
            startup_timeout_ms: 30_000,
            reads_box: true,
        }
    }
}

/// A resolved profile: every field set, every pattern compiled.
#[derive(Clone, Debug)]
pub struct Profile {
    /// The profile's name.
    pub name: String,
    /// A one-line description.
    pub description: String,
    /// The program to launch.
    pub command: String,
    /// Arguments added after the program.
    pub args: Vec<String>,
    /// Program names looked for on PATH.
    pub binaries: Vec<String>,
    /// Which completion hook the CLI supports.
    pub hooks: String,
    /// Whether the CLI runs the agent's commands in a login shell.
    pub login_shell: bool,
    /// Submission settings.
    pub submit: Submit,
    /// Patterns for each state.
    pub states: BTreeMap<AgentState, Vec<Pattern>>,
    /// Quota line patterns.
    pub quota: Vec<Pattern>,
    /// Input line patterns.
    pub input: Vec<Pattern>,
    /// Placeholder texts of an empty input line.
    pub placeholders: Vec<String>,
    /// Menu key hint patterns.
    pub menu: Vec<Pattern>,
    /// Turn-ended patterns (they beat a working hint in the live area).
    pub ended: Vec<Pattern>,
    /// Rule and border line patterns around the prompt box.
    pub rules: Vec<Pattern>,
    /// How many lines above the prompt box the live area may reach.
    pub live_above: usize,
    /// Without a prompt box, how many bottom lines make the live area.
    pub live_lines: usize,
    /// First-start dialogs baton answers (see [`crate::first_start`]).
    pub first_start: Vec<crate::first_start::FirstStartDialog>,
}

/// The rule pattern a profile gets when it names none: a line of box-drawing characters,
/// with the corners of a box's top or bottom border.
pub const DEFAULT_RULE: &str = r"^\s*[╭╰┌└]?[─━═╌┄▀▄]{3,}[╮╯┐┘]?\s*$";

/// An error in a profile: which profile, which field, what is wrong.
#[derive(Debug, thiserror::Error, PartialEq, Eq)]
#[error("profile `{profile}`: {field}: {message}")]
pub struct ProfileError {
    /// The profile's name.
    pub profile: String,
    /// The field, such as `patterns.working[2]`.
    pub field: String,
    /// What is wrong.
    pub message: String,
}

impl ProfileSpec {
    /// Parses a profile from TOML text; `origin` names the file in errors.
    pub fn parse(origin: &str, text: &str) -> Result<ProfileSpec, ProfileError> {
        toml::from_str(text).map_err(|e| ProfileError {
            profile: origin.to_owned(),
            field: crate::config::line_col(text, e.span())
                .map(|(l, c)| format!("line {l}, column {c}"))
                .unwrap_or_else(|| "toml".to_owned()),
            message: e.message().to_owned(),
        })
    }

    /// Returns `self` with every field that `over` sets replaced by `over`'s value.
    pub fn merged(mut self, over: &ProfileSpec) -> ProfileSpec {
        fn pick<T: Clone>(base: &mut Option<T>, over: &Option<T>) {
            if over.is_some() {
                base.clone_from(over);
            }
        }
        pick(&mut self.description, &over.description);
        pick(&mut self.command, &over.command);
        pick(&mut self.args, &over.args);
        pick(&mut self.binaries, &over.binaries);
        pick(&mut self.hooks, &over.hooks);
        pick(&mut self.login_shell, &over.login_shell);
        pick(&mut self.first_start, &over.first_start);
        if let Some(o) = &over.submit {
            let s = self.submit.get_or_insert_with(SubmitSpec::default);
            pick(&mut s.method, &o.method);
            pick(&mut s.max_extra_enters, &o.max_extra_enters);
            pick(&mut s.working_deadline_ms, &o.working_deadline_ms);
            pick(&mut s.retry_enter_ms, &o.retry_enter_ms);
            pick(&mut s.enter_after_text_ms, &o.enter_after_text_ms);
            pick(&mut s.settle_ms, &o.settle_ms);
            pick(&mut s.startup_timeout_ms, &o.startup_timeout_ms);
        }
        if let Some(o) = &over.patterns {
            let p = self.patterns.get_or_insert_with(PatternsSpec::default);
            pick(&mut p.starting, &o.starting);
            pick(&mut p.working, &o.working);
            pick(&mut p.idle, &o.idle);
            pick(&mut p.needs_input, &o.needs_input);
            pick(&mut p.menu, &o.menu);
            pick(&mut p.ended, &o.ended);
            pick(&mut p.rule, &o.rule);
            pick(&mut p.live_above, &o.live_above);
            pick(&mut p.live_lines, &o.live_lines);
            pick(&mut p.rate_limited, &o.rate_limited);
            pick(&mut p.error, &o.error);
            pick(&mut p.finished, &o.finished);
            pick(&mut p.quota, &o.quota);
            pick(&mut p.input, &o.input);
            pick(&mut p.placeholders, &o.placeholders);
        }
        self
    }

    /// Compiles the spec into a profile named `name`.
    pub fn resolve(&self, name: &str) -> Result<Profile, ProfileError> {
        let err = |field: &str, message: String| ProfileError {
            profile: name.to_owned(),
            field: field.to_owned(),
            message,
        };
        let command = self
            .command
            .clone()
            .filter(|c| !c.trim().is_empty())
            .ok_or_else(|| err("command", "missing: the program to launch".to_owned()))?;
        let hooks = self.hooks.clone().unwrap_or_else(|| "none".to_owned());
        if !["none", "claude-settings", "codex-notify"].contains(&hooks.as_str()) {
            return Err(err(
                "hooks",
                format!("`{hooks}` is not one of none, claude-settings, codex-notify"),
            ));
        }
        let s = self.submit.clone().unwrap_or_default();
        let defaults = Submit::default();
        let submit = Submit {
            method: s.method.unwrap_or(defaults.method),
            max_extra_enters: s.max_extra_enters.unwrap_or(defaults.max_extra_enters),
            working_deadline_ms: s
                .working_deadline_ms
                .unwrap_or(defaults.working_deadline_ms),
            retry_enter_ms: s.retry_enter_ms.unwrap_or(defaults.retry_enter_ms),
            enter_after_text_ms: s
                .enter_after_text_ms
                .unwrap_or(defaults.enter_after_text_ms),
            settle_ms: s.settle_ms.unwrap_or(defaults.settle_ms),
            startup_timeout_ms: s.startup_timeout_ms.unwrap_or(defaults.startup_timeout_ms),
            reads_box: self
                .patterns
                .as_ref()
                .and_then(|p| p.input.as_ref())
                .is_some_and(|i| !i.is_empty()),
        };
        if submit.max_extra_enters > 10 {
            return Err(err(
                "submit.max_extra_enters",
                "must be at most 10".to_owned(),
            ));
        }
        if submit.working_deadline_ms == 0 || submit.working_deadline_ms > 600_000 {
            return Err(err(
                "submit.working_deadline_ms",
                "must be between 1 and 600000".to_owned(),
            ));
        }
        if !(100..=60_000).contains(&submit.retry_enter_ms) {
            return Err(err(
                "submit.retry_enter_ms",
                "must be between 100 and 60000".to_owned(),
            ));
        }
        if submit.enter_after_text_ms > 5_000 {
            return Err(err(
                "submit.enter_after_text_ms",
                "must be at most 5000".to_owned(),
            ));
        }
        let p = self.patterns.clone().unwrap_or_default();
        let compile =
            |field: &str, list: &Option<Vec<String>>| -> Result<Vec<Pattern>, ProfileError> {
                list.iter()
                    .flatten()
                    .enumerate()
                    .map(|(i, src)| {
                        Pattern::new(src).map_err(|e| err(&format!("patterns.{field}[{i}]"), e))
                    })
                    .collect()
            };
        let mut states = BTreeMap::new();
        states.insert(AgentState::Starting, compile("starting", &p.starting)?);
        states.insert(AgentState::Working, compile("working", &p.working)?);
        states.insert(AgentState::Idle, compile("idle", &p.idle)?);
        states.insert(
            AgentState::NeedsInput,
            compile("needs_input", &p.needs_input)?,
        );
        states.insert(
            AgentState::RateLimited,
            compile("rate_limited", &p.rate_limited)?,
        );
        states.insert(AgentState::Error, compile("error", &p.error)?);
        states.insert(AgentState::Finished, compile("finished", &p.finished)?);
        if states[&AgentState::Idle].is_empty() {
            return Err(err(
                "patterns.idle",
                "at least one pattern is needed: without it no agent is ever ready".to_owned(),
            ));
        }
        let quota = compile("quota", &p.quota)?;
        for (i, q) in quota.iter().enumerate() {
            let has = |n: &str| q.groups.iter().any(|g| g == n);
            if !(has("pct") || has("left") || (has("remaining") && has("total"))) {
                return Err(err(
                    &format!("patterns.quota[{i}]"),
                    "needs a named group `pct` (percent used), `left` (percent left), \
                     or `remaining` and `total` (amounts)"
                        .to_owned(),
                ));
            }
        }
        let menu = compile("menu", &p.menu)?;
        let ended = compile("ended", &p.ended)?;
        let rules = match &p.rule {
            Some(_) => compile("rule", &p.rule)?,
            None => vec![Pattern::new(DEFAULT_RULE).expect("the default rule parses")],
        };
        let live_above = p.live_above.unwrap_or(12);
        if live_above > 100 {
            return Err(err(
                "patterns.live_above",
                format!("{live_above} is more than 100 lines"),
            ));
        }
        let live_lines = p.live_lines.unwrap_or(30);
        if !(1..=500).contains(&live_lines) {
            return Err(err(
                "patterns.live_lines",
                format!("{live_lines} is not between 1 and 500"),
            ));
        }
        let input = compile("input", &p.input)?;
        for (i, q) in input.iter().enumerate() {
            if !q.groups.iter().any(|n| n == "text") {
                return Err(err(
                    &format!("patterns.input[{i}]"),
                    "needs a named group `text` (what the box holds)".to_owned(),
                ));
            }
        }
        Ok(Profile {
            name: name.to_owned(),
            description: self.description.clone().unwrap_or_default(),
            command,
            args: self.args.clone().unwrap_or_default(),
            binaries: self.binaries.clone().unwrap_or_default(),
            hooks,
            login_shell: self.login_shell.unwrap_or(false),
            submit,
            states,
            quota,
            input,
            placeholders: p.placeholders.clone().unwrap_or_default(),
            menu,
            ended,
            rules,
            live_above,
            live_lines,
            first_start: crate::first_start::resolve(name, self.first_start.as_deref())?,
        })
    }
}

impl Profile {
    /// Every pattern list with its field name under `[patterns]` (`needs_input`, `menu`, …).
    fn pattern_lists(&self) -> impl Iterator<Item = (String, &Vec<Pattern>)> {
        self.states
            .iter()
            .map(|(s, p)| (s.as_str().replace('-', "_"), p))
            .chain([
                ("quota".to_owned(), &self.quota),
                ("input".to_owned(), &self.input),
                ("menu".to_owned(), &self.menu),
                ("ended".to_owned(), &self.ended),
                ("rule".to_owned(), &self.rules),
            ])
    }

    /// Compiles every pattern now; returns the first that cannot be, with its field.
    pub fn compile_all(&self) -> Result<(), ProfileError> {
        let lists = self.pattern_lists();
        for (field, list) in lists {
            for (i, p) in list.iter().enumerate() {
                p.compile().map_err(|message| ProfileError {
                    profile: self.name.clone(),
                    field: format!("patterns.{field}[{i}]"),
                    message,
                })?;
            }
        }
        Ok(())
    }

    /// The named groups of its patterns that baton never reads, as `(field, index, group)`
    /// (`("quota", 0, "pcnt")`): valid regexes, but most likely a typo (see [`read_groups`]).
    pub fn unread_groups(&self) -> Vec<(String, usize, String)> {
        let lists = self.pattern_lists();
        let mut out = Vec::new();
        for (field, list) in lists {
            let read = read_groups(&field);
            for (i, p) in list.iter().enumerate() {
                for g in &p.groups {
                    if !read.contains(&g.as_str()) {
                        out.push((field.clone(), i, g.clone()));
                    }
                }
            }
        }
        out
    }

    /// Returns the patterns of one state.
    pub fn patterns(&self, state: AgentState) -> &[Pattern] {
        self.states.get(&state).map(Vec::as_slice).unwrap_or(&[])
    }
}

/// The named groups baton reads from the patterns of a field (`quota`, `input`,
/// `rate_limited`, …): the quota numbers and words, the input box's text, a reached limit's
/// window and reset. Other state patterns have none read.
pub fn read_groups(field: &str) -> &'static [&'static str] {
    match field {
        "quota" => &["pct", "left", "remaining", "total", "window", "reset"],
        "input" => &["text"],
        "rate_limited" => &["window", "reset"],
        _ => &[],
    }
}

/// Returns the spec of a built-in profile, parsed.
pub fn builtin_spec(name: &str) -> Option<ProfileSpec> {
    BUILTIN.iter().find(|(n, _)| *n == name).map(|(n, text)| {
        ProfileSpec::parse(&format!("profiles/{n}.toml"), text).expect("built-in profile parses")
    })
}

/// Returns the names of the built-in profiles.
pub fn builtin_names() -> impl Iterator<Item = &'static str> {
    BUILTIN.iter().map(|(n, _)| *n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builtins_resolve() {
        for name in builtin_names() {
            let spec = builtin_spec(name).unwrap();
            let p = spec.resolve(name).unwrap_or_else(|e| panic!("{e}"));
            assert!(!p.patterns(AgentState::Idle).is_empty(), "{name}");
            // opencode's box line cannot be told from its transcript's user messages with
            // one-line patterns: delivery goes by the working signal alone (docs/conformance.md).
            if name != "opencode" {
                assert!(!p.input.is_empty(), "{name} has an input pattern");
            }
        }
    }

    #[test]
    fn override_replaces_only_given_fields() {
        let base = builtin_spec("claude").unwrap();
        let over = ProfileSpec::parse(
            "baton.toml",
            "command = \"./wrapper\"\n[submit]\nsettle_ms = 99\n",
        )
        .unwrap();
        let p = base.merged(&over).resolve("claude").unwrap();
        assert_eq!(p.command, "./wrapper");
        assert_eq!(p.submit.settle_ms, 99);
        assert_eq!(p.submit.working_deadline_ms, 3000);
        assert!(!p.patterns(AgentState::Working).is_empty());
    }

    #[test]
    fn bad_regex_names_the_field() {
        let spec = ProfileSpec::parse(
            "x",
            "command = \"x\"\n[patterns]\nidle = [\"ok\"]\nworking = [\"a\", \"(\"]\n",
        )
        .unwrap();
        let e = spec.resolve("x").unwrap_err();
        assert_eq!(e.field, "patterns.working[1]");
        assert!(
            e.to_string()
                .starts_with("profile `x`: patterns.working[1]: "),
            "{e}"
        );
    }

    #[test]
    fn quota_pattern_needs_a_group() {
        let spec = ProfileSpec::parse(
            "x",
            "command = \"x\"\n[patterns]\nidle = [\"ok\"]\nquota = [\"used \\\\d+%\"]\n",
        )
        .unwrap();
        let e = spec.resolve("x").unwrap_err();
        assert_eq!(e.field, "patterns.quota[0]");
    }

    #[test]
    fn live_area_fields_are_checked_and_optional() {
        let parse = |extra: &str| {
            ProfileSpec::parse(
                "x",
                &format!("command = \"x\"\n[patterns]\nidle = [\"ok\"]\n{extra}"),
            )
            .unwrap()
            .resolve("x")
        };
        let p = parse("").unwrap();
        assert_eq!((p.live_above, p.live_lines), (12, 30));
        assert!(p.menu.is_empty());
        assert_eq!(p.rules[0].source, DEFAULT_RULE);
        let p = parse("live_above = 0\nlive_lines = 500\nrule = ['^===']\nmenu = ['pick one']\n")
            .unwrap();
        assert_eq!((p.live_above, p.live_lines), (0, 500));
        assert_eq!(p.rules[0].source, "^===");
        let e = parse("live_above = 101\n").unwrap_err();
        assert_eq!(e.field, "patterns.live_above");
        assert!(e.message.contains("101"), "{e}");
        let e = parse("live_lines = 0\n").unwrap_err();
        assert_eq!(e.field, "patterns.live_lines");
        let e = parse("menu = ['ok', '(']\n").unwrap_err();
        assert_eq!(e.field, "patterns.menu[1]");
        let e = parse("rule = ['[']\n").unwrap_err();
        assert_eq!(e.field, "patterns.rule[0]");
        let e = ProfileSpec::parse(
            "p.toml",
            "command = \"x\"\n[patterns]\nlive_above = \"many\"\n",
        )
        .unwrap_err();
        assert!(e.field.starts_with("line 3"), "{e}");
    }

    #[test]
    fn builtins_read_every_group_they_name() {
        for name in builtin_names() {
            let p = builtin_spec(name).unwrap().resolve(name).unwrap();
            assert_eq!(p.unread_groups(), Vec::new(), "{name}");
        }
    }

    #[test]
    fn a_group_nothing_reads_is_found() {
        let spec = ProfileSpec::parse(
            "x",
            "command = \"x\"\n[patterns]\nidle = [\"ok\"]\nworking = [\"(?P<what>busy)\"]\nquota = [\"(?P<pcnt>\\\\d+)% (?P<pct>\\\\d+)\"]\n",
        )
        .unwrap();
        let p = spec.resolve("x").unwrap();
        assert_eq!(
            p.unread_groups(),
            vec![
                ("working".to_owned(), 0, "what".to_owned()),
                ("quota".to_owned(), 0, "pcnt".to_owned()),
            ]
        );
    }

    #[test]
    fn unknown_key_is_refused_with_its_line() {
        let e = ProfileSpec::parse("p.toml", "command = \"x\"\n\ncomand = \"y\"\n").unwrap_err();
        assert!(e.field.starts_with("line 3"), "{e}");
        assert!(e.message.contains("comand"), "{e}");
    }
}
