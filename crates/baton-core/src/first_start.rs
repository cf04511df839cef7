//! First-start dialogs: the screens a CLI shows on a fresh start (trust this folder, a new
//! model offered, what's new) that baton answers as the profile says, and the rule that
//! sends every other dialog to a person.
//!
//! A profile lists its dialogs as `[[first_start]]` tables: a `name`, a `pattern` (a regex
//! over the whole screen, multi-line: `^` and `$` match at each line) and the `keys` that
//! answer it, chosen to keep the user's configured model and settings. A dialog counts only
//! while it is live: no line of the prompt box (the profile's `idle` patterns) below where
//! its pattern matched, so a dialog answered earlier and still in the pane's text, or quoted
//! by the agent, is not answered again.
//!
//! [`StartWatch`] is the rule, one per agent window: while the agent starts (until it is
//! first seen ready) a known dialog is answered, then baton waits for the screen to change;
//! a known dialog that shows later is answered only when the profile marks it `any_time`;
//! any other dialog (needs-input) while starting, and a known one that is not answered, goes
//! to a person. Time and screens come in; verdicts go out: the shell presses the keys.

use serde::Deserialize;

use crate::detector::Detection;
use crate::profile::AgentState;
use crate::profile::Pattern;
use crate::profile::Profile;
use crate::profile::ProfileError;

/// How long the screen may stay as it was after an answer before a person is told.
pub const ANSWER_WAIT_MS: u64 = 5000;

/// How many times one dialog is answered in one start before a person is told.
pub const MAX_ANSWERS: u32 = 2;

/// Key names a dialog's `keys` may use, besides one letter or digit.
pub const KEY_NAMES: &[&str] = &[
    "Enter", "Escape", "Tab", "BTab", "Up", "Down", "Left", "Right", "Space",
];

/// A first-start dialog as written in TOML.
#[derive(Clone, Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FirstStartSpec {
    /// A short name for the journal: lowercase words joined by `-` (`model-migration`).
    pub name: Option<String>,
    /// A regex over the whole screen (multi-line) that identifies the dialog.
    pub pattern: Option<String>,
    /// The keys that answer it, pressed in order (`["2"]`, `["Down", "Enter"]`).
    pub keys: Option<Vec<String>>,
    /// Whether it may be answered when it shows after the start too (default false: then it
    /// goes to a person).
    pub any_time: Option<bool>,
    /// How long after the prompt box first shows the dialog may still appear, in
    /// milliseconds (Codex draws its idle screen, then the trust dialog): the start lasts
    /// until the agent has been ready this long (default 0, at most 60000).
    pub after_ready_ms: Option<u64>,
}

/// A first-start dialog of a resolved profile.
#[derive(Clone, Debug)]
pub struct FirstStartDialog {
    /// Its name.
    pub name: String,
    /// The pattern, as written.
    pub source: String,
    /// The keys that answer it (tmux key names, or one letter or digit).
    pub keys: Vec<String>,
    /// Whether it is answered after the start too.
    pub any_time: bool,
    /// How long after the prompt box first shows it may still appear.
    pub after_ready_ms: u64,
    pattern: Pattern,
}

impl FirstStartDialog {
    /// Returns the 0-based line of the screen where the pattern's match ends, if it matches.
    fn match_end_line(&self, screen: &str) -> Option<usize> {
        let m = self.pattern.regex().find(screen)?;
        let end = screen[..m.end()].trim_end_matches('\n');
        Some(end.matches('\n').count())
    }

    /// Returns whether the dialog is live on `screen`: its pattern matches and no line of the
    /// prompt box (an `idle` pattern of `profile`) lies below the match.
    pub fn is_live(&self, profile: &Profile, screen: &str) -> bool {
        let Some(end) = self.match_end_line(screen) else {
            return false;
        };
        let idle = profile.patterns(AgentState::Idle);
        !screen
            .lines()
            .skip(end + 1)
            .any(|l| idle.iter().any(|p| p.regex().is_match(l.trim_end())))
    }
}

/// Returns the first of `profile`'s dialogs that is live on `screen`.
pub fn live_dialog<'p>(profile: &'p Profile, screen: &str) -> Option<&'p FirstStartDialog> {
    profile
        .first_start
        .iter()
        .find(|d| d.is_live(profile, screen))
}

/// Checks the `[[first_start]]` tables of profile `profile` and compiles them.
pub fn resolve(
    profile: &str,
    specs: Option<&[FirstStartSpec]>,
) -> Result<Vec<FirstStartDialog>, ProfileError> {
    let mut out: Vec<FirstStartDialog> = Vec::new();
    for (i, spec) in specs.unwrap_or_default().iter().enumerate() {
        let err = |field: &str, message: String| ProfileError {
            profile: profile.to_owned(),
            field: format!("first_start[{i}].{field}"),
            message,
        };
        let name = spec
            .name
            .clone()
            .ok_or_else(|| err("name", "missing: a short name for the journal".to_owned()))?;
        let plain = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-';
        if name.is_empty() || !name.chars().all(plain) {
            return Err(err(
                "name",
                format!("`{name}` must be lowercase letters, digits and `-`"),
            ));
        }
        if out.iter().any(|d| d.name == name) {
            return Err(err("name", format!("`{name}` is listed twice")));
        }
        let source = spec
            .pattern
            .clone()
            .filter(|p| !p.trim().is_empty())
            .ok_or_else(|| {
                err(
                    "pattern",
                    "missing: a regex over the screen that identifies the dialog".to_owned(),
                )
            })?;
        let pattern = Pattern::new(&format!("(?m){source}")).map_err(|e| err("pattern", e))?;
        pattern.compile().map_err(|e| err("pattern", e))?;
        let keys = spec.keys.clone().unwrap_or_default();
        if keys.is_empty() || keys.len() > 8 {
            return Err(err(
                "keys",
                "give 1 to 8 keys that answer the dialog".to_owned(),
            ));
        }
        for (k, key) in keys.iter().enumerate() {
            let one_char =
                key.chars().count() == 1 && key.chars().all(|c| c.is_ascii_alphanumeric());
            if !one_char && !KEY_NAMES.contains(&key.as_str()) {
                return Err(err(
                    &format!("keys[{k}]"),
                    format!(
                        "`{key}` is not a key: use {} or one letter or digit",
                        KEY_NAMES.join(", ")
                    ),
                ));
            }
        }
        let after_ready_ms = spec.after_ready_ms.unwrap_or(0);
        if after_ready_ms > 60_000 {
            return Err(err("after_ready_ms", "must be at most 60000".to_owned()));
        }
        out.push(FirstStartDialog {
            name,
            source,
            keys,
            any_time: spec.any_time.unwrap_or(false),
            after_ready_ms,
            pattern,
        });
    }
    Ok(out)
}

/// What the shell does with one screen of a watched agent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Verdict {
    /// Nothing: the detection stands.
    Clear,
    /// Press `keys` to answer the dialog `dialog` (and journal it); the agent is not ready.
    Answer {
        /// The dialog's name.
        dialog: String,
        /// The keys, in order.
        keys: Vec<String>,
    },
    /// A known dialog is being answered: the agent is not ready yet.
    Wait,
    /// A person must answer what is on screen; the agent is not ready (needs-input). `tell`
    /// is true the first time this reason is given.
    Person {
        /// Why, in words for a person.
        reason: String,
        /// Tell the person now.
        tell: bool,
    },
}

#[derive(Clone, Debug)]
struct Pending {
    dialog: String,
    screen: String,
    at_ms: u64,
}

/// The first-start rule of one agent window.
#[derive(Clone, Debug)]
pub struct StartWatch {
    starting: bool,
    /// Since when the agent shows ready with no dialog (while starting).
    ready_since: Option<u64>,
    answers_keys: bool,
    pending: Option<Pending>,
    answered: Vec<(String, u32)>,
    told: Option<String>,
}

impl StartWatch {
    /// Watches a window that has just started; known dialogs are answered.
    pub fn starting() -> StartWatch {
        StartWatch {
            starting: true,
            ready_since: None,
            answers_keys: true,
            pending: None,
            answered: Vec::new(),
            told: None,
        }
    }

    /// Watches a starting window that another process answers for (`baton up` while the
    /// daemon runs): a known dialog means "not ready yet", never a key.
    pub fn watching() -> StartWatch {
        StartWatch {
            answers_keys: false,
            ..StartWatch::starting()
        }
    }

    /// Returns whether the agent has not been seen ready since its window started.
    pub fn is_starting(&self) -> bool {
        self.starting
    }

    /// Judges one screen at `now_ms`, with what the detector made of it.
    pub fn observe(
        &mut self,
        now_ms: u64,
        profile: &Profile,
        screen: &str,
        seen: &Detection,
    ) -> Verdict {
        if let Some(p) = &self.pending {
            if p.screen == screen {
                if now_ms < p.at_ms + ANSWER_WAIT_MS {
                    return Verdict::Wait;
                }
                // Keys pressed while a CLI still sets up its terminal are lost (Codex's trust
                // dialog, seen on a loaded machine): the same screen is answered again, up to
                // MAX_ANSWERS in all, before a person is told.
                let again = profile.first_start.iter().find(|d| d.name == p.dialog);
                if let Some(d) = again
                    && self.answers(&d.name) < MAX_ANSWERS
                {
                    return self.answer(d, screen, now_ms);
                }
                let reason = format!(
                    "the answer to the first-start dialog `{}` changed nothing on screen",
                    p.dialog
                );
                self.pending = None;
                return self.person(reason);
            }
            self.pending = None;
        }
        if let Some(d) = live_dialog(profile, screen) {
            let count = self.answers(&d.name);
            if !(self.starting || d.any_time) {
                return self.person(format!(
                    "the dialog `{}` showed after the start, and the profile does not mark it safe to answer at any time",
                    d.name
                ));
            }
            if count >= MAX_ANSWERS {
                return self.person(format!(
                    "the first-start dialog `{}` still shows after {count} answers",
                    d.name
                ));
            }
            self.told = None;
            self.ready_since = None;
            if !self.answers_keys {
                return Verdict::Wait;
            }
            return self.answer(d, screen, now_ms);
        }
        if self.starting && seen.state == AgentState::NeedsInput {
            return self
                .person("a dialog baton does not know is open while the agent starts".to_owned());
        }
        self.told = None;
        if !self.starting {
            return Verdict::Clear;
        }
        if !seen.state.is_ready() {
            self.ready_since = None;
            return Verdict::Clear;
        }
        // Ready: the start is over once no dialog of the profile can still come.
        let settle = profile
            .first_start
            .iter()
            .map(|d| d.after_ready_ms)
            .max()
            .unwrap_or(0);
        let since = *self.ready_since.get_or_insert(now_ms);
        if now_ms.saturating_sub(since) < settle {
            return Verdict::Wait;
        }
        self.starting = false;
        Verdict::Clear
    }

    /// How many times the dialog `name` was answered in this start.
    fn answers(&self, name: &str) -> u32 {
        self.answered
            .iter()
            .find(|(n, _)| n == name)
            .map_or(0, |(_, c)| *c)
    }

    /// Answers `d` on `screen`: counts it, and waits for the screen to change.
    fn answer(&mut self, d: &FirstStartDialog, screen: &str, now_ms: u64) -> Verdict {
        match self.answered.iter_mut().find(|(n, _)| *n == d.name) {
            Some((_, c)) => *c += 1,
            None => self.answered.push((d.name.clone(), 1)),
        }
        self.pending = Some(Pending {
            dialog: d.name.clone(),
            screen: screen.to_owned(),
            at_ms: now_ms,
        });
        Verdict::Answer {
            dialog: d.name.clone(),
            keys: d.keys.clone(),
        }
    }

    fn person(&mut self, reason: String) -> Verdict {
        let tell = self.told.as_deref() != Some(reason.as_str());
        self.told = Some(reason.clone());
        Verdict::Person { reason, tell }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detector::detect;
    use crate::profile::ProfileSpec;
    use crate::profile::builtin_spec;

    fn profile(name: &str) -> Profile {
        builtin_spec(name).unwrap().resolve(name).unwrap()
    }

    fn fixture(path: &str) -> String {
        let p = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../tests/fixtures/real")
            .join(path);
        std::fs::read_to_string(&p).unwrap_or_else(|e| panic!("{}: {e}", p.display()))
    }

    fn dialog_on(cli: &str, screen: &str) -> Option<String> {
        live_dialog(&profile(cli), screen).map(|d| d.name.clone())
    }

    #[test]
    fn real_first_start_screens_are_known() {
        for (cli, file, name) in [
            (
                "codex",
                "codex-0.171.0/needs-input-model-migration.txt",
                "model-migration",
            ),
            (
                "codex",
                "codex-0.169.0/needs-input-model-migration.txt",
                "model-migration",
            ),
            (
                "codex",
                "codex-0.171.0/needs-input-trust-folder.txt",
                "trust-folder",
            ),
            (
                "claude",
                "claude-2.1.329/needs-input-trust-folder.txt",
                "trust-folder",
            ),
            (
                "claude",
                "claude-2.1.332/needs-input-trust-folder.txt",
                "trust-folder",
            ),
            (
                "gemini",
                "gemini-0.61.0/needs-input-trust-folder.txt",
                "trust-folder",
            ),
        ] {
            assert_eq!(
                dialog_on(cli, &fixture(file)).as_deref(),
                Some(name),
                "{file}"
            );
        }
    }

    #[test]
    fn the_model_migration_keeps_the_existing_model() {
        let p = profile("codex");
        let d = p
            .first_start
            .iter()
            .find(|d| d.name == "model-migration")
            .unwrap();
        // "2. Use existing model": the digit picks it (verified on 0.169.0 and 0.171.0).
        assert_eq!(d.keys, ["2"]);
        assert!(d.any_time);
    }

    #[test]
    fn other_dialogs_and_ready_screens_are_not_known() {
        for (cli, file) in [
            ("claude", "claude-2.1.329/needs-input-custom-api-key.txt"),
            (
                "claude",
                "claude-2.1.329/needs-input-bypass-permissions-warning.txt",
            ),
            ("claude", "claude-2.1.329/needs-input-bash-permission.txt"),
            ("claude", "claude-2.1.329/idle-fresh-start.txt"),
            ("codex", "codex-0.169.0/idle-fresh-start.txt"),
            ("codex", "codex-0.169.0/finished-multiline-prompt.txt"),
        ] {
            assert_eq!(dialog_on(cli, &fixture(file)), None, "{file}");
        }
    }

    #[test]
    fn a_dialog_with_the_prompt_box_below_is_not_live() {
        let menu = fixture("codex-0.171.0/needs-input-model-migration.txt");
        let quoted = format!("{menu}\n• I saw that menu.\n\n› Ask Codex to do anything\n");
        assert_eq!(dialog_on("codex", &quoted), None);
        assert_eq!(
            dialog_on("codex", &menu).as_deref(),
            Some("model-migration")
        );
    }

    fn seen(p: &Profile, screen: &str) -> Detection {
        detect(p, screen)
    }

    const CLAUDE_IDLE: &str = "claude-2.1.329/idle-fresh-start.txt";
    const CLAUDE_TRUST: &str = "claude-2.1.329/needs-input-trust-folder.txt";
    const CODEX_IDLE: &str = "codex-0.169.0/idle-fresh-start.txt";
    const CODEX_MENU: &str = "codex-0.171.0/needs-input-model-migration.txt";
    const CODEX_TRUST: &str = "codex-0.171.0/needs-input-trust-folder.txt";

    /// A start watch over an agent of a built-in profile.
    struct Watch {
        watch: StartWatch,
        profile: Profile,
    }

    impl Watch {
        fn starting(cli: &str) -> Watch {
            let (watch, profile) = (StartWatch::starting(), profile(cli));
            Watch { watch, profile }
        }

        fn watching(cli: &str) -> Watch {
            let (watch, profile) = (StartWatch::watching(), profile(cli));
            Watch { watch, profile }
        }

        /// What the watch makes of the real screen `path` at `now`, read as the detector
        /// reads it.
        fn look(&mut self, now: u64, path: &str) -> Verdict {
            let screen = fixture(path);
            let seen = seen(&self.profile, &screen);
            self.watch.observe(now, &self.profile, &screen, &seen)
        }
    }

    /// Why the watch gave the screen to a person, and whether to tell them; panics when it did not.
    fn person(v: Verdict) -> (String, bool) {
        match v {
            Verdict::Person { reason, tell } => (reason, tell),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_start_answers_waits_for_a_change_then_is_ready() {
        let mut w = Watch::starting("codex");
        assert_eq!(
            w.look(0, CODEX_MENU),
            Verdict::Answer {
                dialog: "model-migration".into(),
                keys: vec!["2".into()]
            }
        );
        // The same screen: the answer has not landed yet.
        assert_eq!(w.look(100, CODEX_MENU), Verdict::Wait);
        assert!(w.watch.is_starting());
        // Ready, but Codex may still draw its trust dialog for a while.
        assert_eq!(w.look(300, CODEX_IDLE), Verdict::Wait);
        assert_eq!(w.look(3299, CODEX_IDLE), Verdict::Wait);
        assert!(w.watch.is_starting());
        assert_eq!(w.look(3300, CODEX_IDLE), Verdict::Clear);
        assert!(!w.watch.is_starting());
    }

    #[test]
    fn an_answer_that_changes_nothing_is_given_again_then_goes_to_a_person() {
        let p = profile("codex");
        let menu = fixture(CODEX_MENU);
        let d = seen(&p, &menu);
        let mut w = StartWatch::starting();
        assert!(matches!(
            w.observe(0, &p, &menu, &d),
            Verdict::Answer { .. }
        ));
        assert_eq!(w.observe(ANSWER_WAIT_MS - 1, &p, &menu, &d), Verdict::Wait);
        // The keys may have been lost: the same screen is answered once more.
        assert!(matches!(
            w.observe(ANSWER_WAIT_MS, &p, &menu, &d),
            Verdict::Answer { .. }
        ));
        assert_eq!(
            w.observe(2 * ANSWER_WAIT_MS - 1, &p, &menu, &d),
            Verdict::Wait
        );
        let (reason, tell) = person(w.observe(2 * ANSWER_WAIT_MS, &p, &menu, &d));
        assert!(tell);
        assert!(reason.contains("changed nothing"), "{reason}");
        // Never a third time, whatever the screen.
        let mut other = menu.clone();
        other.push_str("\n ");
        let (reason, tell) = person(w.observe(2 * ANSWER_WAIT_MS + 2, &p, &other, &d));
        assert!(tell);
        assert!(reason.contains("after 2 answers"), "{reason}");
        assert!(matches!(
            w.observe(2 * ANSWER_WAIT_MS + 3, &p, &other, &d),
            Verdict::Person { tell: false, .. }
        ));
    }

    #[test]
    fn an_unknown_dialog_at_start_goes_to_a_person() {
        let p = profile("claude");
        let key = fixture("claude-2.1.329/needs-input-custom-api-key.txt");
        let mut w = StartWatch::starting();
        // Seen as needs-input (what the detector says of a dialog it knows as one).
        let mut d = seen(&p, &key);
        d.state = AgentState::NeedsInput;
        assert!(matches!(
            w.observe(0, &p, &key, &d),
            Verdict::Person { tell: true, .. }
        ));
        assert!(matches!(
            w.observe(10, &p, &key, &d),
            Verdict::Person { tell: false, .. }
        ));
    }

    #[test]
    fn a_known_dialog_after_the_start_is_answered_only_when_safe_any_time() {
        let mut w = Watch::starting("claude");
        assert_eq!(w.look(0, CLAUDE_IDLE), Verdict::Clear);
        let (reason, _) = person(w.look(10, CLAUDE_TRUST));
        assert!(reason.contains("after the start"), "{reason}");
        let mut w = Watch::starting("codex");
        assert_eq!(w.look(0, CODEX_IDLE), Verdict::Wait);
        assert_eq!(w.look(5000, CODEX_IDLE), Verdict::Clear);
        assert!(matches!(w.look(5010, CODEX_MENU), Verdict::Answer { .. }));
    }

    #[test]
    fn codex_draws_its_idle_screen_before_the_trust_dialog() {
        // Seen on 0.169.0 and 0.171.0: "› Ask Codex to do anything" at 0.5 s, the trust
        // dialog at 1.9 s.
        let mut w = Watch::starting("codex");
        assert_eq!(w.look(500, CODEX_IDLE), Verdict::Wait);
        assert_eq!(
            w.look(1900, CODEX_TRUST),
            Verdict::Answer {
                dialog: "trust-folder".into(),
                keys: vec!["Enter".into()]
            }
        );
        // Claude Code has no such delay: ready is ready.
        let mut w = Watch::starting("claude");
        assert_eq!(w.look(0, CLAUDE_IDLE), Verdict::Clear);
    }

    #[test]
    fn a_watcher_never_answers() {
        let mut w = Watch::watching("codex");
        assert_eq!(w.look(0, CODEX_MENU), Verdict::Wait);
    }

    fn resolve_err(toml: &str) -> ProfileError {
        ProfileSpec::parse(
            "x",
            &format!("command = \"x\"\n[patterns]\nidle = [\"ok\"]\n{toml}"),
        )
        .and_then(|s| s.resolve("x"))
        .unwrap_err()
    }

    #[test]
    fn bad_dialogs_name_their_field() {
        let e = resolve_err("[[first_start]]\npattern = \"a\"\nkeys = [\"Enter\"]\n");
        assert_eq!(e.field, "first_start[0].name");
        let e = resolve_err(
            "[[first_start]]\nname = \"Trust Me\"\npattern = \"a\"\nkeys = [\"Enter\"]\n",
        );
        assert_eq!(e.field, "first_start[0].name");
        let e = resolve_err("[[first_start]]\nname = \"t\"\npattern = \"(\"\nkeys = [\"Enter\"]\n");
        assert_eq!(e.field, "first_start[0].pattern");
        let e = resolve_err("[[first_start]]\nname = \"t\"\npattern = \"a\"\n");
        assert_eq!(e.field, "first_start[0].keys");
        let e = resolve_err(
            "[[first_start]]\nname = \"t\"\npattern = \"a\"\nkeys = [\"Down\", \"Entr\"]\n",
        );
        assert_eq!(e.field, "first_start[0].keys[1]");
        assert!(e.message.contains("`Entr` is not a key"), "{e}");
        let e = resolve_err(
            "[[first_start]]\nname = \"t\"\npattern = \"a\"\nkeys = [\"1\"]\n[[first_start]]\nname = \"t\"\npattern = \"b\"\nkeys = [\"1\"]\n",
        );
        assert_eq!(e.field, "first_start[1].name");
        let e = resolve_err("[[first_start]]\nname = \"t\"\npatern = \"a\"\n");
        assert!(e.message.contains("patern"), "{e}");
    }

    #[test]
    fn an_override_replaces_the_list() {
        let base = builtin_spec("codex").unwrap();
        let over = ProfileSpec::parse("baton.toml", "first_start = []\n").unwrap();
        let p = base.merged(&over).resolve("codex").unwrap();
        assert!(p.first_start.is_empty());
        assert!(!profile("codex").first_start.is_empty());
    }
}
