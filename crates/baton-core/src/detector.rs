//! The screen detector: a captured pane in, the agent's state and the evidence for it out.
//!
//! A screen has two parts. The **transcript** is what the conversation left on screen: the
//! replies, tool calls, answered dialogs, finished-turn lines. The **live area** is what the
//! CLI draws now around its prompt box: the box itself and what is below it (footer, hints,
//! a menu or dialog that replaced the box), and the *live block* directly above the box (the
//! spinner, the task list under it, notices). The detector's contract:
//!
//! 1. **Scan cap.** Only the last [`MAX_SCAN_BYTES`] bytes of a capture are read, each line cut
//!    at [`MAX_LINE_BYTES`], so any input (empty, binary, 10 MB, one 10 MB line) is judged
//!    in time linear in that cap. Trailing blank lines are ignored. Line numbers in the
//!    evidence still count from the top of the whole capture.
//! 2. **Menus.** A *cursor line* (`❯ 1. Yes`, `›     GPT-5.5 (current)`: a cursor glyph
//!    › ❯ > ▶ ► ➤ → and text) is a menu line when one of the profile's `menu` key hints
//!    ("Enter to select", "enter/esc confirm") is drawn below it, or when it is a numbered
//!    option (`› 1. Try new model`) with the next or previous number within six lines. A menu
//!    line is never the prompt box, even where the idle pattern matches it.
//! 3. **The box** is the lowest line an `idle` pattern matches that is not a menu line.
//! 4. **The live area.** With a box: the box line and all below it, plus the live block above
//!    it — walking up from the box past blank lines and `rule` lines (the box's borders),
//!    then the contiguous non-blank lines, at most `live_above` of them (and a spinner line a
//!    blank line or two above those, with its own block) — unless one of them is
//!    a transcript signal (a reply, a finished line, an error) and not a spinner: then that block is the end of
//!    the transcript and the live area starts at the box. Without a box: the last
//!    `live_lines` lines.
//! 5. **needs-input** when a `needs_input` pattern or a menu line is in the live area and,
//!    when a box is on screen, at or below it: a dialog replaces the box, so a dialog
//!    answered earlier, or quoted in a reply, above a visible box is transcript. Without a
//!    box, a launch (`starting`) line below the dialog means it was answered. A menu about a
//!    limit ("What do you want to do? ❯ 1. Stop and wait for limit to reset") is still a
//!    dialog: a person answers it (the limit line's quota reading is read all the same).
//! 6. **finished** when a profile's `ended` pattern matches a live line and the box is on
//!    screen: the turn is over though a working hint still shows (Claude Code's spinner and
//!    footer while its Stop hook runs, `(running stop hook)`).
//!    Otherwise **working** when a `working` pattern (the spinner, the interrupt hint) matches in the
//!    live area. A line a `working` pattern matches is never a transcript signal (Codex's
//!    `• Working (4s • esc to interrupt)` is not a reply); a turn that ended while its hooks
//!    run (`✻ Vibing… (running stop hook)`) is left out of the working patterns.
//! 7. Otherwise the **newest transcript signal** (rate-limited, error, finished), judged by
//!    the lowest line it matches on anywhere on screen, names the state (on one line a limit
//!    beats an error, an error beats finished) — but only when the box is on screen or the
//!    signal is a limit (a limit screen may hide the box) or an error in the live area (an
//!    error dialog replaces the box; a CLI that exited on an error leaves no box).
//!    A slash command echoed in the transcript below that signal (`/status`, `› /model`)
//!    means a person moved on: the signal no longer counts.
//! 8. Otherwise a box means **idle**; a launch banner means **starting**.
//! 9. Otherwise **unknown**: the detector prefers "unknown" to a wrong "idle".
//!
//! Every match is evidence (line, pattern, live or transcript); the one that decided the
//! state is marked `decisive`.

use std::sync::OnceLock;

use regex::Regex;
use serde::Serialize;

use crate::profile::AgentState;
use crate::profile::Pattern;
use crate::profile::Profile;

/// How many bytes at the end of a capture the detector reads (a 200×50 pane is about 10 KB,
/// so this is several screens).
pub const MAX_SCAN_BYTES: usize = 64 * 1024;

/// How many bytes of one line the detector reads; the rest of a longer line is ignored.
pub const MAX_LINE_BYTES: usize = 2048;

/// Where on screen a piece of evidence was found.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Region {
    /// The prompt box, what is drawn below it, and the live block above it (or, without a
    /// box, the last lines of the screen).
    Live,
    /// Everything else: the conversation so far.
    Transcript,
}

/// One pattern that matched one line of the screen.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Evidence {
    /// The state the pattern stands for.
    pub state: AgentState,
    /// The pattern's source (a menu is `menu: <hint pattern>` or `menu: numbered options`).
    pub pattern: String,
    /// The line's number on the screen, from 1.
    pub line: usize,
    /// The line's text, trimmed at the end.
    pub text: String,
    /// Whether the line is in the live area or the transcript.
    pub region: Region,
    /// Whether this evidence decided the state.
    pub decisive: bool,
}

/// A quota line found on screen, not yet interpreted (`quota::screen` parses the window
/// words and reset times).
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct QuotaHint {
    /// Percent used, from `pct`, `100 - left`, or the `remaining`/`total` amounts; 100 for a
    /// limit-reached line (a `rate_limited` pattern with a `window` or `reset` group).
    pub used_percent: f64,
    /// The window's words as shown ("session", "weekly", "5h"), if the pattern has them.
    pub window: Option<String>,
    /// The reset text as shown ("2pm (Europe/Paris)"), if any.
    pub reset: Option<String>,
    /// The line's number on the screen, from 1.
    pub line: usize,
}

/// What the detector concluded about a screen.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Detection {
    /// The state.
    pub state: AgentState,
    /// Every pattern that matched, top to bottom.
    pub evidence: Vec<Evidence>,
    /// What the prompt box holds, when the box is visible and not empty.
    pub input: Option<String>,
    /// Quota lines found.
    pub quota: Vec<QuotaHint>,
}

impl Detection {
    /// Returns the evidence lines for one state.
    pub fn evidence_for(&self, state: AgentState) -> impl Iterator<Item = &Evidence> {
        self.evidence.iter().filter(move |e| e.state == state)
    }

    /// Returns the evidence that decided the state (none for unknown).
    pub fn deciding(&self) -> Option<&Evidence> {
        self.evidence.iter().find(|e| e.decisive)
    }
}

/// The part of a capture the detector reads: at most [`MAX_SCAN_BYTES`] from its end, cut
/// at a line start when there is one, each line at most [`MAX_LINE_BYTES`] (cut at a char
/// boundary) and trimmed at the end, trailing blank lines dropped. Returns the lines and the
/// number of lines of the capture before them.
fn scanned(screen: &str) -> (Vec<&str>, usize) {
    let mut start = screen.len().saturating_sub(MAX_SCAN_BYTES);
    while !screen.is_char_boundary(start) {
        start += 1;
    }
    if start > 0
        && screen.as_bytes()[start - 1] != b'\n'
        && let Some(nl) = screen[start..].find('\n')
    {
        start += nl + 1;
    }
    let skipped = screen.as_bytes()[..start]
        .iter()
        .filter(|b| **b == b'\n')
        .count();
    let mut lines: Vec<&str> = screen[start..]
        .lines()
        .map(|l| {
            let mut end = l.len().min(MAX_LINE_BYTES);
            while !l.is_char_boundary(end) {
                end -= 1;
            }
            l[..end].trim_end()
        })
        .collect();
    while lines.last().is_some_and(|l| l.is_empty()) {
        lines.pop();
    }
    (lines, skipped)
}

/// A cursor line: a cursor glyph, then text (inside a box's left border, too).
fn cursor_re() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| Regex::new(r"^\s*(?:│\s*)?[›❯>▶►➤→]\s*\S").expect("cursor regex"))
}

/// A slash command alone on its line, as the CLIs echo it (`/status`, `› /model`).
fn slash_command_re() -> &'static Regex {
    static RE: OnceLock<Regex> = OnceLock::new();
    RE.get_or_init(|| {
        Regex::new(r"^\s*(?:[›❯>]\s*)?/[a-z][\w-]*\s*$").expect("slash command regex")
    })
}

/// A numbered option, with or without a cursor: its number.
fn option_number(line: &str) -> Option<u32> {
    static RE: OnceLock<Regex> = OnceLock::new();
    let re = RE.get_or_init(|| {
        Regex::new(r"^\s*(?:│\s*)?(?:[›❯>▶►➤→]\s*)?(\d{1,2})[.)]\s+\S").expect("option regex")
    });
    re.captures(line)?.get(1)?.as_str().parse().ok()
}

/// Returns why line `i` is a menu line (see the module doc, rule 2), if it is one.
fn menu_reason(
    profile: &Profile,
    lines: &[&str],
    i: usize,
    hints: &[(usize, &Pattern)],
) -> Option<String> {
    let line = lines[i];
    if !cursor_re().is_match(line) {
        return None;
    }
    if let Some((_, p)) = hints.iter().find(|(h, _)| *h > i) {
        return Some(format!("menu: {}", p.source));
    }
    let _ = profile;
    let n = option_number(line)?;
    let near = |j: usize| option_number(lines[j]);
    let below = (i + 1..lines.len().min(i + 7)).any(|j| near(j) == Some(n + 1));
    let above = (i.saturating_sub(6)..i).any(|j| n > 0 && near(j) == Some(n - 1));
    (below || above).then(|| "menu: numbered options".to_owned())
}

/// Detects the state of an agent from a captured screen (see the module doc for the rules).
pub fn detect(profile: &Profile, screen: &str) -> Detection {
    let (lines, skipped) = scanned(screen);
    let n = lines.len();
    let bottom = n.saturating_sub(profile.live_lines);

    // Menus: cursor lines with a key hint below them, or numbered options.
    let hints: Vec<(usize, &Pattern)> = (bottom..n)
        .filter_map(|i| first_match(&profile.menu, lines[i]).map(|p| (i, p)))
        .collect();
    let menus: Vec<(usize, String)> = (bottom..n)
        .filter_map(|i| menu_reason(profile, &lines, i, &hints).map(|r| (i, r)))
        .collect();
    let is_menu = |i: usize| menus.iter().any(|(m, _)| *m == i);

    // The box: the lowest idle match that is not a menu line.
    let prompt_box = (0..n).rev().find(|&i| {
        !is_menu(i) && first_match(profile.patterns(AgentState::Idle), lines[i]).is_some()
    });

    // The live area: [live_top, n); dialogs count from dialog_top.
    let (live_top, dialog_top) = match prompt_box {
        Some(b) => {
            let mut i = b;
            while i > 0
                && (lines[i - 1].is_empty() || first_match(&profile.rules, lines[i - 1]).is_some())
            {
                i -= 1;
            }
            // The block's lines count from its lowest one, however far above the box it is.
            let start = i;
            let mut top = b;
            while i > 0 && !lines[i - 1].is_empty() && start - (i - 1) < profile.live_above {
                i -= 1;
                top = i;
            }
            let spinner = |l: &str| first_match(profile.patterns(AgentState::Working), l).is_some();
            // A block holding a transcript signal (a reply, an error) is the transcript's end.
            let signal = |l: &str| {
                [
                    AgentState::Finished,
                    AgentState::Error,
                    AgentState::RateLimited,
                ]
                .into_iter()
                .any(|s| first_match(profile.patterns(s), l).is_some())
            };
            // A spinner a blank line or two above a block that has none belongs to it (Gemini
            // CLI draws its mode line between the spinner and the box), with its own block,
            // unless that holds a transcript signal.
            let mut j = top;
            while j > 0 && top - j < 2 && lines[j - 1].is_empty() {
                j -= 1;
            }
            if j < top
                && j > 0
                && !lines[top..b].iter().any(|l| spinner(l))
                && spinner(lines[j - 1])
                && start - (j - 1) < profile.live_above
            {
                let mut above = j - 1;
                while above > 0
                    && !lines[above - 1].is_empty()
                    && start - (above - 1) < profile.live_above
                {
                    above -= 1;
                }
                if !lines[above..j].iter().any(|l| signal(l) && !spinner(l)) {
                    top = above;
                }
            }
            if lines[top..b].iter().any(|l| signal(l) && !spinner(l)) {
                top = b;
            }
            (top, b)
        }
        None => (bottom, bottom),
    };
    let region = |i: usize| {
        if i >= live_top {
            Region::Live
        } else {
            Region::Transcript
        }
    };

    let mut evidence = Vec::new();
    for state in AgentState::WITH_PATTERNS {
        for (idx, line) in lines.iter().enumerate() {
            if let Some(p) = first_match(profile.patterns(state), line) {
                evidence.push(Evidence {
                    state,
                    pattern: p.source.clone(),
                    line: idx + 1,
                    text: (*line).to_owned(),
                    region: region(idx),
                    decisive: false,
                });
            }
        }
    }
    for (idx, reason) in &menus {
        evidence.push(Evidence {
            state: AgentState::NeedsInput,
            pattern: reason.clone(),
            line: idx + 1,
            text: lines[*idx].to_owned(),
            region: region(*idx),
            decisive: false,
        });
    }
    // A live line saying the turn is over (its hooks run) though a working hint still shows.
    let ended_at = (live_top..n)
        .rev()
        .find_map(|i| first_match(&profile.ended, lines[i]).map(|p| (i, p)));
    if let Some((i, p)) = ended_at {
        evidence.push(Evidence {
            state: AgentState::Finished,
            pattern: format!("ended: {}", p.source),
            line: i + 1,
            text: lines[i].to_owned(),
            region: Region::Live,
            decisive: false,
        });
    }
    evidence.sort_by_key(|e| (e.line, e.state));

    // Each rule picks the index of its deciding evidence.
    let lowest = |pred: &dyn Fn(&Evidence) -> bool| {
        evidence
            .iter()
            .enumerate()
            .filter(|(_, e)| pred(e))
            .max_by_key(|(_, e)| e.line)
            .map(|(k, _)| k)
    };
    let working_line = |line: usize| {
        evidence
            .iter()
            .any(|e| e.line == line && e.state == AgentState::Working)
    };
    // Without a box, a launch line below a dialog says it was answered (Gemini CLI restarts
    // after its trust dialog, which stays drawn above).
    let launch = lowest(&|e| e.state == AgentState::Starting).map(|k| evidence[k].line);
    let dialog = lowest(&|e| {
        e.state == AgentState::NeedsInput
            && e.line > dialog_top
            && (prompt_box.is_some() || launch.is_none_or(|l| l < e.line))
    });
    let working = lowest(&|e| e.state == AgentState::Working && e.region == Region::Live);
    // Transcript signals, newest last; on one line a limit beats an error beats finished.
    let mut signals: Vec<(usize, &Evidence)> = evidence
        .iter()
        .enumerate()
        .filter(|(_, e)| {
            matches!(
                e.state,
                AgentState::RateLimited | AgentState::Error | AgentState::Finished
            ) && !working_line(e.line)
        })
        .collect();
    signals.sort_by_key(|(_, e)| (e.line, e.state));
    signals.dedup_by_key(|(_, e)| e.line);
    // A slash command typed after the newest signal (`/status`, `› /model`) means a person
    // moved on: that signal no longer names the state.
    let command_after = signals.last().is_some_and(|(_, last)| {
        lines
            .iter()
            .enumerate()
            .skip(last.line)
            .any(|(i, l)| live_top > i && slash_command_re().is_match(l))
    });
    if command_after {
        signals.clear();
    }
    let transcript = match signals.as_slice() {
        // A finished line right after an error or a limit closes that failed turn.
        [.., (k, prev), (_, last)]
            if last.state == AgentState::Finished && prev.state != AgentState::Finished =>
        {
            Some((*k, prev.state))
        }
        [.., (k, last)] => Some((*k, last.state)),
        [] => None,
    };
    let box_evidence = prompt_box.and_then(|b| {
        evidence
            .iter()
            .position(|e| e.line == b + 1 && e.state == AgentState::Idle)
    });
    let ended = lowest(&|e| e.pattern.starts_with("ended: "));
    let (state, decisive) = if let Some(k) = dialog {
        (AgentState::NeedsInput, Some(k))
    } else if let Some(k) = ended.filter(|_| prompt_box.is_some()) {
        (AgentState::Finished, Some(k))
    } else if let Some(k) = working {
        (AgentState::Working, Some(k))
    } else {
        match transcript {
            Some((k, AgentState::RateLimited)) => (AgentState::RateLimited, Some(k)),
            // An error dialog or message that replaced the box (or a CLI that exited on it).
            Some((k, AgentState::Error))
                if prompt_box.is_none() && evidence[k].region == Region::Live =>
            {
                (AgentState::Error, Some(k))
            }
            Some((k, s)) if prompt_box.is_some() => (s, Some(k)),
            _ if prompt_box.is_some() => (AgentState::Idle, box_evidence),
            _ => match lowest(&|e| e.state == AgentState::Starting) {
                Some(k) => (AgentState::Starting, Some(k)),
                None => (AgentState::Unknown, None),
            },
        }
    };
    if let Some(k) = decisive {
        evidence[k].decisive = true;
    }
    for e in &mut evidence {
        e.line += skipped;
    }
    let mut quota = quota_hints(profile, &lines);
    for q in &mut quota {
        q.line += skipped;
    }
    Detection {
        state,
        input: match prompt_box {
            Some(b) => input_text(profile, &lines[..=b]),
            None => None,
        },
        quota,
        evidence,
    }
}

/// Reads a saved capture's place: `<cli>-<version>/<state>-<scenario>.txt` (the folder and
/// the file's stem are given) → `(cli, version, state)`. A stem may also be `<cli>-<state>…`,
/// as the conformance tier names its screens. The error says what is wrong with the name.
pub fn fixture_name(folder: &str, stem: &str) -> Result<(String, String, AgentState), String> {
    let (cli, version) = folder
        .match_indices('-')
        .map(|(i, _)| i)
        .find(|&i| folder[i + 1..].starts_with(|c: char| c.is_ascii_digit()))
        .map(|i| (&folder[..i], &folder[i + 1..]))
        .ok_or_else(|| format!("folder `{folder}` is not `<cli>-<version>`"))?;
    let rest = stem
        .strip_prefix(cli)
        .and_then(|r| r.strip_prefix('-'))
        .unwrap_or(stem);
    // The states a saved capture's name may start with (no state's name is another's
    // prefix, so the order does not matter).
    let states = || {
        AgentState::WITH_PATTERNS
            .into_iter()
            .chain([AgentState::Unknown])
    };
    let state = states()
        .find(|s| rest == s.as_str() || rest.starts_with(&format!("{}-", s.as_str())))
        .ok_or_else(|| {
            let names: Vec<&str> = states().map(AgentState::as_str).collect();
            format!(
                "`{stem}` does not start with a state ({})",
                names.join(", ")
            )
        })?;
    Ok((cli.to_owned(), version.to_owned(), state))
}

fn first_match<'p>(patterns: &'p [Pattern], line: &str) -> Option<&'p Pattern> {
    patterns.iter().find(|p| p.regex().is_match(line))
}

/// Returns what the lowest input line holds, unless it is empty or a placeholder.
fn input_text(profile: &Profile, lines: &[&str]) -> Option<String> {
    let text = lines.iter().rev().find_map(|line| {
        profile
            .input
            .iter()
            .find_map(|p| p.regex().captures(line))
            .map(|c| c.name("text").map_or("", |m| m.as_str()).trim().to_owned())
    })?;
    if text.is_empty() || profile.placeholders.iter().any(|p| p == &text) {
        None
    } else {
        Some(text)
    }
}

/// Finds the quota lines of a screen: each line gives at most one hint, from the first
/// `quota` pattern that reads a valid percentage, or else from the first `rate_limited`
/// pattern with a `window` or `reset` group, which reads 100 % (a limit reached). A pattern
/// with a `reset` group that matched without one is tried again on the line joined with the
/// next one, for reset times the pane wrapped or a box put on its own line.
fn quota_hints(profile: &Profile, lines: &[&str]) -> Vec<QuotaHint> {
    let limits: Vec<&Pattern> = profile
        .patterns(AgentState::RateLimited)
        .iter()
        .filter(|p| p.groups.iter().any(|g| g == "window" || g == "reset"))
        .collect();
    let mut hints = Vec::new();
    for (idx, line) in lines.iter().enumerate() {
        let next = lines
            .get(idx + 1)
            .map(|n| n.trim())
            .filter(|n| !n.is_empty());
        let hint = profile
            .quota
            .iter()
            .find_map(|p| hint_of(p, line, next, None))
            .or_else(|| {
                limits
                    .iter()
                    .find_map(|p| hint_of(p, line, next, Some(100.0)))
            });
        if let Some(mut h) = hint {
            h.line = idx + 1;
            hints.push(h);
        }
    }
    hints
}

/// The hint of one pattern on one line (and the next, for a missing reset). `used` is the
/// fixed percentage of limit patterns.
fn hint_of(p: &Pattern, line: &str, next: Option<&str>, used: Option<f64>) -> Option<QuotaHint> {
    let hint = hint_from(&p.regex().captures(line)?, used)?;
    if hint.reset.is_none()
        && p.groups.iter().any(|g| g == "reset")
        && let Some(next) = next
    {
        let joined = format!("{} {next}", line.trim_end());
        if let Some(h) = p
            .regex()
            .captures(&joined)
            .and_then(|c| hint_from(&c, used))
            .filter(|h| h.reset.is_some())
        {
            return Some(h);
        }
    }
    Some(hint)
}

fn hint_from(c: &regex::Captures<'_>, used: Option<f64>) -> Option<QuotaHint> {
    let num = |name: &str| c.name(name).and_then(|m| m.as_str().parse::<f64>().ok());
    let used = if used.is_some() {
        used
    } else if let Some(pct) = num("pct") {
        Some(pct)
    } else if let Some(left) = num("left") {
        Some(100.0 - left)
    } else {
        match (num("remaining"), num("total")) {
            // More left than the total, or a negative amount, is a misread: no hint.
            (Some(r), Some(t)) if t > 0.0 && (0.0..=t).contains(&r) => Some((t - r) / t * 100.0),
            _ => None,
        }
    };
    let used_percent = used.filter(|u| (0.0..=100.0).contains(u))?;
    let text = |name: &str| {
        c.name(name)
            .map(|m| m.as_str().trim().to_owned())
            .filter(|s| !s.is_empty())
    };
    Some(QuotaHint {
        used_percent,
        window: text("window"),
        reset: text("reset"),
        line: 0,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::profile::builtin_spec;

    fn profile(name: &str) -> Profile {
        builtin_spec(name).unwrap().resolve(name).unwrap()
    }

    fn state(name: &str, screen: &str) -> AgentState {
        detect(&profile(name), screen).state
    }

    const RULE: &str = "────────────────────────────────────────";

    /// The rules added while judging the version matrix, each on the real lines that asked
    /// for it (tests/fixtures/real/).
    #[test]
    fn rules_from_the_version_matrix() {
        // Claude Code 2.1.329: the Stop hook runs while the footer still says "esc to
        // interrupt": the turn is over.
        let stop_hook = format!(
            "● ack STOPHOOK\n\n✢ Pouncing… (running stop hook)\n  ⎿  Tip: Use /memory to view \
             and manage Claude memory\n\n{RULE}\n❯ \n{RULE}\n  ⏵⏵ bypass permissions on \
             (shift+tab to cycle) · esc to interrupt\n"
        );
        assert_eq!(state("claude", &stop_hook), AgentState::Finished);
        // Gemini CLI 0.20: its mode line sits between the spinner and the box.
        let gemini = "✦ ack BIG\n\n > SLOW think first\n\n⠋ Confuzzling the options... (esc to \
             cancel, 0s)\n\n                                YOLO mode (ctrl + y to toggle)\n\
             ╭──────────────────────────────╮\n│ *   Type your message or @path/to/file │\n\
             ╰──────────────────────────────╯\n";
        assert_eq!(state("gemini", gemini), AgentState::Working);
        // …but a spinner-like line above a reply block is not pulled in.
        let tool = format!(
            "● Bash(sleep 8 && echo built)\n  ⎿  Running…\n\n✻ Verifying the setup… (esc to \
             interrupt · ctrl+t to show todos)\n  ⎿  Next: Write the tests\n\n{RULE}\n> \n{RULE}\n"
        );
        assert_eq!(state("claude", &tool), AgentState::Working);
        // Gemini CLI restarting after its trust dialog, which stays drawn above.
        let restart = " ╭────╮\n │ Do you trust the files in this folder? │\n │ ● 1. Trust folder │\n\
             │   2. Don't trust │\n ╰────╯\n\n Gemini CLI is restarting to apply the trust changes...\n";
        assert_eq!(state("gemini", restart), AgentState::Starting);
        // Codex: `/status` typed after a finished turn: a person moved on, the card is no turn.
        let status = "• ack PLANQ-7\n\n  Worked for 1s • 09:25\n\n/status\n\n  >_ OpenAI Codex \
             (v0.171.0)\n  Model:   GPT-5.5\n\n› Ask Codex to do anything\n\n  ? for shortcuts\n";
        assert_eq!(state("codex", status), AgentState::Idle);
        // Claude Code 2.0.55's menus sit inside a box border.
        let bypass = "│ https://code.claude.com/docs/en/security │\n│                    │\n\
             │ ❯ 1. No, exit      │\n│   2. Yes, I accept │\n╰────────────────────╯\n   Enter to \
             confirm · Esc to exit\n";
        assert_eq!(state("claude", bypass), AgentState::NeedsInput);
        // Amp: an error that replaced the box, and a CLI that exited on an error.
        assert_eq!(
            state(
                "amp",
                "┃ Say hello\n\nError: request failed with status 500\n"
            ),
            AgentState::Error
        );
        // A 429 "Request rejected" API error is a limit, not an error.
        let rejected = format!(
            "● API Error: Request rejected (429) · Number of request tokens has exceeded your \
             per-minute rate limit\n\n{RULE}\n❯ \n{RULE}\n"
        );
        assert_eq!(state("claude", &rejected), AgentState::RateLimited);
    }

    #[test]
    fn claude_states_from_real_strings() {
        let idle = format!("{RULE}\n❯ \n{RULE}\n  ⏵⏵ bypass permissions on (shift+tab to cycle)\n");
        assert_eq!(state("claude", &idle), AgentState::Idle);
        let working = format!(
            "> fix it\n✢ Whirring… (2s · ↓ 8 tokens)\n{RULE}\n❯ \n{RULE}\n  ⏵⏵ bypass permissions on · esc to interrupt\n"
        );
        assert_eq!(state("claude", &working), AgentState::Working);
        let finished = format!(
            "> fix it\n● Done.\n✻ Crunched for 8s · done 5:06 AM\n{RULE}\n❯ \n{RULE}\n  ⏵⏵ bypass permissions on (shift+tab to cycle)\n"
        );
        assert_eq!(state("claude", &finished), AgentState::Finished);
        let dialog = " Bash command\n   rm -rf build\n This command requires approval\n Do you want to proceed?\n ❯ 1. Yes\n   2. No\n Esc to cancel · Tab to amend\n";
        assert_eq!(state("claude", dialog), AgentState::NeedsInput);
        let limit = "⎿  You've hit your 5-hour limit · resets 6:38am (UTC)\n● Usage limit reached · continuing automatically at 6:38am · esc to cancel\n";
        assert_eq!(state("claude", limit), AgentState::RateLimited);
        assert_eq!(
            state("claude", " ✻ Welcome to Claude Code\n"),
            AgentState::Starting
        );
    }

    #[test]
    fn newest_transcript_signal_wins() {
        let screen = format!(
            "● Credit balance is too low\n> again\n● ok\n✻ Baked for 3s\n{RULE}\n❯ \n{RULE}\n"
        );
        assert_eq!(state("claude", &screen), AgentState::Finished);
        let screen =
            format!("✻ Baked for 3s\n> again\n● Credit balance is too low\n{RULE}\n❯ \n{RULE}\n");
        assert_eq!(state("claude", &screen), AgentState::Error);
    }

    #[test]
    fn prefers_unknown_to_a_wrong_idle() {
        assert_eq!(state("claude", ""), AgentState::Unknown);
        assert_eq!(state("claude", "$ ls\nfoo bar\n$ \n"), AgentState::Unknown);
        // A finished line without the prompt box is not enough to call the agent ready.
        assert_eq!(state("claude", "✻ Crunched for 8s\n"), AgentState::Unknown);
    }

    #[test]
    fn input_box_contents() {
        let p = profile("claude");
        let d = detect(&p, &format!("{RULE}\n❯ hello there\n{RULE}\n"));
        assert_eq!(d.input.as_deref(), Some("hello there"));
        let d = detect(&p, &format!("{RULE}\n❯ \n{RULE}\n"));
        assert_eq!(d.input, None);
        let c = profile("codex");
        assert_eq!(detect(&c, "› Ask Codex to do anything\n").input, None);
        assert_eq!(
            detect(&c, "› Fix the bug\n").input.as_deref(),
            Some("Fix the bug")
        );
    }

    #[test]
    fn quota_hints_from_each_cli() {
        let p = profile("claude");
        let d = detect(
            &p,
            "  You've used 93% of your session limit · resets 2pm (Europe/Paris)\n",
        );
        assert_eq!(d.quota.len(), 1);
        assert_eq!(d.quota[0].used_percent, 93.0);
        assert_eq!(d.quota[0].window.as_deref(), Some("session"));
        assert_eq!(d.quota[0].reset.as_deref(), Some("2pm (Europe/Paris)"));
        let d = detect(
            &p,
            "You've used 81% of your 5-hour limit · resets 7:07am (UTC) · /upgrade to keep using Claude Code\n",
        );
        assert_eq!(d.quota[0].window.as_deref(), Some("5-hour"));
        assert_eq!(d.quota[0].reset.as_deref(), Some("7:07am (UTC)"));
        let c = profile("codex");
        let d = detect(
            &c,
            "  5h limit: [███░░] 72% used (resets 03:14)\n  Weekly limit: [█░░░░] 55% left\n",
        );
        assert_eq!(d.quota.len(), 2);
        assert_eq!(d.quota[0].used_percent, 72.0);
        assert_eq!(d.quota[0].reset.as_deref(), Some("03:14"));
        assert_eq!(d.quota[1].used_percent, 45.0);
        let a = profile("amp");
        let d = detect(&a, "  Amp Free: $15/$20 remaining · ctrl+c to exit\n");
        assert_eq!(d.quota[0].used_percent, 25.0);
    }

    #[test]
    fn limit_lines_are_full_quota_hints() {
        let p = profile("claude");
        let d = detect(
            &p,
            "⎿  You've hit your 5-hour limit · resets 6:38am (UTC)\n● Usage limit reached · continuing automatically at 6:38am · esc to cancel\n",
        );
        assert_eq!(d.state, AgentState::RateLimited);
        assert_eq!(d.quota.len(), 2);
        assert_eq!(d.quota[0].used_percent, 100.0);
        assert_eq!(d.quota[0].window.as_deref(), Some("5-hour"));
        assert_eq!(d.quota[0].reset.as_deref(), Some("6:38am (UTC)"));
        assert_eq!(d.quota[0].line, 1);
        assert_eq!(d.quota[1].window, None);
        assert_eq!(d.quota[1].reset.as_deref(), Some("6:38am"));
        assert_eq!(d.quota[1].line, 2);
        // Still rate-limited without a reset; a window-less "limit" too.
        let d = detect(&p, "You've hit your limit · resets 8pm (Africa/Cairo)\n");
        assert_eq!(d.state, AgentState::RateLimited);
        assert_eq!(d.quota[0].window, None);
        assert_eq!(d.quota[0].reset.as_deref(), Some("8pm (Africa/Cairo)"));
        let d = detect(&p, "You've hit your weekly limit\n");
        assert_eq!(d.state, AgentState::RateLimited);
        assert_eq!(d.quota[0].window.as_deref(), Some("weekly"));
        assert_eq!(d.quota[0].reset, None);
        // A limit pattern without `window` or `reset` groups is a state, not a reading.
        let g = profile("gemini");
        let d = detect(&g, "RESOURCE_EXHAUSTED\n");
        assert_eq!(d.state, AgentState::RateLimited);
        assert!(d.quota.is_empty());
    }

    #[test]
    fn a_reset_on_the_next_line_is_joined() {
        let g = profile("gemini");
        let d = detect(
            &g,
            "│ Usage limit reached for all Pro models.   │\n│ Access resets at 11:00 AM GMT+2.   │\n│ /stats model for usage details │\n",
        );
        assert_eq!(d.quota.len(), 1);
        assert_eq!(d.quota[0].window.as_deref(), Some("all Pro models"));
        assert_eq!(d.quota[0].reset.as_deref(), Some("11:00 AM GMT+2"));
        assert_eq!(d.quota[0].line, 1);
        let c = profile("codex");
        let d = detect(
            &c,
            "■ You've hit your usage limit. Upgrade to Pro (https://openai.com/chatgpt/pricing) or try\nagain at 3:28 PM.\n",
        );
        assert_eq!(d.quota.len(), 1);
        assert_eq!(d.quota[0].reset.as_deref(), Some("3:28 PM"));
        // The next line is not joined when it does not complete the match.
        let p = profile("claude");
        let d = detect(
            &p,
            "You've used 93% of your session limit\n  ⏵⏵ bypass permissions on · resets never\n",
        );
        assert_eq!(d.quota.len(), 1);
        assert_eq!(d.quota[0].reset, None);
    }

    #[test]
    fn garbage_gives_no_quota() {
        let p = profile("claude");
        for s in [
            "You've used 930% of your session limit",
            "used 93%",
            "You've used % of",
        ] {
            assert!(detect(&p, s).quota.is_empty(), "{s}");
        }
        let a = profile("amp");
        for s in [
            "Amp Free: $25/$20 remaining",
            "Amp Free: $5/$0 remaining",
            "Individual credits: $0 remaining",
        ] {
            assert!(detect(&a, s).quota.is_empty(), "{s}");
        }
    }

    #[test]
    fn evidence_names_line_and_pattern() {
        let p = profile("claude");
        let d = detect(&p, &format!("a\n✢ Whirring…\n{RULE}\n❯ \n"));
        let w: Vec<_> = d.evidence_for(AgentState::Working).collect();
        assert_eq!(w.len(), 1);
        assert_eq!(w[0].line, 2);
        assert_eq!(w[0].text, "✢ Whirring…");
    }

    fn claude_box(above: &str) -> String {
        format!("{above}\n\n{RULE}\n❯ \n{RULE}\n  ⏵⏵ accept edits on (shift+tab to cycle)\n")
    }

    #[test]
    fn spinner_text_of_any_length_is_working() {
        for spinner in [
            "✽ Adding arrow key support to the watch view…",
            "✽ Adding arrow key support to ib watch normal mode…",
            "✽ Verifying gesture setup… (5m 20s · ↓ 2.7k tokens)",
            "✢ Whirring…",
            "* Churning…",
            "✻ Honking… (esc to interrupt)",
        ] {
            let screen = format!(
                "❯ do the list\n\n● Reading the code\n\n{spinner}\n  ⎿  ☒ Read the watch view\n     ☐ Add arrow keys\n\n{RULE}\n❯ \n{RULE}\n  ⏵⏵ accept edits on · 7 local agents\n"
            );
            let d = detect(&profile("claude"), &screen);
            assert_eq!(d.state, AgentState::Working, "{spinner}");
            let e = d.deciding().unwrap();
            assert_eq!((e.line, e.region), (5, Region::Live), "{spinner}");
        }
    }

    #[test]
    fn a_codex_status_line_is_working_not_a_reply() {
        for status in [
            "• Working (4s • esc to interrupt) · 1 background terminal running · /ps to view · /stop to close",
            "◦ Working (0s • esc to interrupt)",
            "• Planning the fix (12s • esc to interrupt)",
        ] {
            let screen = format!(
                "› run the tests\n\n• Ran cargo test\n  └ ok\n\n{status}\n\n\n› Ask Codex to do anything\n\n  ? for shortcuts\n"
            );
            let d = detect(&profile("codex"), &screen);
            assert_eq!(d.state, AgentState::Working, "{status}");
            assert_eq!(d.deciding().unwrap().line, 6, "{status}");
        }
        // Older Codex (0.130) prints no "Worked for": the reply is the sign.
        let screen =
            "› run CXPERM\n• done PERM\n› Implement {feature}\n  gpt-5.5 default · /tmp/project\n";
        assert_eq!(state("codex", screen), AgentState::Finished);
    }

    #[test]
    fn an_ellipsis_in_the_transcript_is_not_working() {
        let screen = claude_box(
            "❯ explain\n\n● The loader has three steps:\n* Loading…\n· Parsing…\n\n✻ Baked for 3s",
        );
        assert_eq!(state("claude", &screen), AgentState::Finished);
        // Without a finished line either (older versions after a quick turn), even right
        // above the box.
        let screen = claude_box("❯ explain\n\n⏺ Steps:\n* Loading…\n\n⏺ That is all.");
        assert_eq!(state("claude", &screen), AgentState::Finished);
        let screen = claude_box("❯ explain\n● Steps:\n* Loading…");
        assert_eq!(state("claude", &screen), AgentState::Finished);
    }

    #[test]
    fn a_stop_hook_running_is_a_finished_turn() {
        let screen = claude_box("❯ fix it\n\n● Fixed.\n\n✻ Vibing… (running stop hook)");
        let d = detect(&profile("claude"), &screen);
        assert_eq!(d.state, AgentState::Finished);
        assert_eq!(d.deciding().unwrap().text, "✻ Vibing… (running stop hook)");
    }

    #[test]
    fn dialogs_above_a_visible_box_are_history() {
        // A trust dialog answered at start, still in the pane's text above the box.
        let answered = claude_box(
            " Do you trust the files in this folder?\n ❯ 1. Yes, proceed\n   2. No, exit\n Enter to confirm · Esc to cancel\n\n ✻ Welcome to Claude Code",
        );
        assert_eq!(state("claude", &answered), AgentState::Idle);
        // An agent quoting a dialog in its reply, right above the box.
        let quoted = claude_box(
            "❯ QUOTE it\n\n● The dialog said: Do you want to proceed?\n  ❯ 1. Yes\n    2. No\n  Esc to cancel · Tab to amend\n  That is all.",
        );
        let d = detect(&profile("claude"), &quoted);
        assert_eq!(d.state, AgentState::Finished);
        assert!(
            d.evidence_for(AgentState::NeedsInput)
                .all(|e| e.region == Region::Transcript || !e.decisive)
        );
        // The same dialog live (no box under it) is needs-input.
        let live = " Bash command\n   rm -rf build\n Do you want to proceed?\n ❯ 1. Yes\n   2. No\n\n Esc to cancel · Tab to amend\n";
        let d = detect(&profile("claude"), live);
        assert_eq!(d.state, AgentState::NeedsInput);
        assert_eq!(d.deciding().unwrap().region, Region::Live);
    }

    #[test]
    fn menus_are_needs_input_never_idle() {
        let c = profile("codex");
        // Codex 0.171.0's model-migration menu on a fresh CODEX_HOME.
        let migration = "\n  Meet GPT-6 Sol\n\n  Our latest Sol is more intelligent and more efficient.\n\n› 1. Try new model\n  2. Use existing model\n\n  enter/esc confirm · ^c quit\n";
        let d = detect(&c, migration);
        assert_eq!(d.state, AgentState::NeedsInput);
        assert_eq!(d.input, None);
        assert_eq!(d.deciding().unwrap().text, "› 1. Try new model");
        // The same menu without its hint line: numbered options with a cursor.
        assert_eq!(
            state(
                "codex",
                "  Meet GPT-6 Sol\n\n› 1. Try new model\n  2. Use existing model\n"
            ),
            AgentState::NeedsInput
        );
        // A picker whose cursor row has no number (/model).
        let picker = "  Select Model and Effort\n\n  8. GPT-5.6-Sol     Legacy model.\n      GPT-5.6-Luna   Legacy fast model.\n›     GPT-5.5 (current)  Legacy coding model.\n\n  enter select · esc back\n";
        assert_eq!(state("codex", picker), AgentState::NeedsInput);
        // A checkbox list (/experimental): a line naming enter and esc is a menu hint.
        let checks = "■ You've hit your usage limit. Try again at 12:15.\n\n  Experimental features\n\n› [ ] Network proxy   Apply network proxy restrictions.\n  [ ] System proxy    Use system proxy settings.\n\n  space toggle · enter save · esc save/close\n";
        assert_eq!(state("codex", checks), AgentState::NeedsInput);
        // Claude's AskUserQuestion and plan approval.
        let ask = " ☐ Color\n\n Which color do you prefer?\n\n❯ 1. Red\n     Warm\n  2. Blue\n     Cold\n\n Enter to select · ↑/↓ to navigate · Esc to cancel\n";
        assert_eq!(state("claude", ask), AgentState::NeedsInput);
        let plan = " Would you like to proceed?\n\n ❯ 1. Yes, and auto-accept edits\n   2. Yes, and manually approve edits\n   3. No, keep planning\n\n ctrl-g to edit in Notepad · Enter to select · Esc to cancel\n";
        assert_eq!(state("claude", plan), AgentState::NeedsInput);
        // The prompt box with a typed numbered line and no hint stays the box.
        let typed = format!("{RULE}\n❯ 1. fix the bug\n{RULE}\n  ? for shortcuts\n");
        let d = detect(&profile("claude"), &typed);
        assert_eq!(d.state, AgentState::Idle);
        assert_eq!(d.input.as_deref(), Some("1. fix the bug"));
    }

    #[test]
    fn api_errors_in_the_transcript() {
        let limited = [
            r#"  ⎿  Error: 429 {"type":"error","error":{"type":"rate_limit_error","message":"Number of request tokens has exceeded your per-minute rate limit"}}"#,
            r#"  ⎿  API Error: 429 {"error":{"type":"rate_limit_error"},"type":"error"}"#,
        ];
        for line in limited {
            let screen = claude_box(&format!("❯ go\n{line}"));
            assert_eq!(state("claude", &screen), AgentState::RateLimited, "{line}");
            // The finished line that closes the failed turn does not hide it.
            let screen = claude_box(&format!("❯ go\n{line}\n\n✻ Cooked for 2m 54s"));
            assert_eq!(state("claude", &screen), AgentState::RateLimited, "{line}");
        }
        let errors = [
            r#"  ⎿  API Error: 500 {"type":"error","error":{"type":"api_error","message":"Internal server error"}}"#,
            r#"  ⎿  Error: 529 {"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}"#,
            "  ⎿  API Error: 529 Overloaded",
            "  ⎿  Overloaded",
            r#"  ⎿  500 {"type":"error","error":{"type":"api_error"}}"#,
        ];
        for line in errors {
            let screen = claude_box(&format!("❯ go\n{line}"));
            assert_eq!(state("claude", &screen), AgentState::Error, "{line}");
        }
        // A later successful turn wins over an old error.
        let screen = claude_box(&format!(
            "❯ go\n{}\n\n❯ again\n\n● Done.\n\n✻ Baked for 3s",
            errors[0]
        ));
        assert_eq!(state("claude", &screen), AgentState::Finished);
    }

    #[test]
    fn older_claude_screens() {
        // 2.0.x: "> " between rules, ✻ as a spinner glyph, ● / ⏺ bullets.
        let box20 = |above: &str| format!("{above}\n{RULE}\n> \n{RULE}\n  ? for shortcuts\n");
        assert_eq!(
            state("claude", &box20(" ✻ Welcome to Claude Code!\n")),
            AgentState::Idle
        );
        assert_eq!(
            state(
                "claude",
                &box20("> SLOW two\n\n✻ Honking… (esc to interrupt)\n  ⎿  Tip: Use /stickers")
            ),
            AgentState::Working
        );
        assert_eq!(
            state("claude", &box20("> fix\n\n⏺ Fixed the bug.\n")),
            AgentState::Finished
        );
        // 1.x: the "│ > " box.
        let old = "> fix\n\n⏺ Fixed.\n\n╭──────────────╮\n│ >            │\n╰──────────────╯\n  ? for shortcuts\n";
        assert_eq!(state("claude", old), AgentState::Finished);
        let old = "> fix\n\n✳ Pondering… (12s · esc to interrupt)\n\n╭──────────────╮\n│ >            │\n╰──────────────╯\n";
        assert_eq!(state("claude", old), AgentState::Working);
    }

    #[test]
    fn bad_input_reads_unknown_quickly() {
        let p = profile("claude");
        let ten_mb = 10 * 1024 * 1024;
        let binary = String::from_utf8_lossy(&[0u8, 0xff, 0xfe, b'\n', 0x80, 0, 0xc3]).into_owned();
        let lines = "garbage line without meaning\n".repeat(ten_mb / 29);
        let one_line = "x".repeat(ten_mb);
        let nuls = "\0".repeat(ten_mb);
        let wide = "✽".repeat(ten_mb / 3);
        for (name, screen) in [
            ("empty", ""),
            ("blank", "\n\n   \n"),
            ("binary", binary.as_str()),
            ("10 MB of lines", lines.as_str()),
            ("one 10 MB line", one_line.as_str()),
            ("10 MB of NULs", nuls.as_str()),
            ("10 MB of one wide char", wide.as_str()),
        ] {
            let start = std::time::Instant::now();
            let d = detect(&p, screen);
            assert_eq!(d.state, AgentState::Unknown, "{name}");
            assert!(
                start.elapsed() < std::time::Duration::from_secs(5),
                "{name} took {:?}",
                start.elapsed()
            );
        }
        // A real screen at the end of a huge capture is still read, its lines numbered from
        // the top of the capture.
        let screen = format!("{lines}{RULE}\n❯ \n{RULE}\n");
        let d = detect(&p, &screen);
        assert_eq!(d.state, AgentState::Idle);
        assert_eq!(d.deciding().unwrap().line, screen.lines().count() - 1);
    }

    #[test]
    fn fixture_names() {
        assert_eq!(
            fixture_name("claude-2.1.329", "needs-input-bash-permission"),
            Ok(("claude".into(), "2.1.329".into(), AgentState::NeedsInput))
        );
        assert_eq!(
            fixture_name("codex-0.171.0", "codex-idle"),
            Ok(("codex".into(), "0.171.0".into(), AgentState::Idle))
        );
        assert!(
            fixture_name("claude", "idle")
                .unwrap_err()
                .contains("folder")
        );
        assert!(
            fixture_name("claude-2.1.0", "sleepy-cat")
                .unwrap_err()
                .contains("does not start with a state")
        );
    }
}
