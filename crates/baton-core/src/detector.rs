//! The screen detector: a captured pane in, the agent's state and the evidence for it out.
//!
//! Rules, in order:
//! 1. A dialog (needs-input) wins: it is live UI and blocks everything else.
//! 2. A working signal (spinner, "esc to interrupt") wins next: it only shows during a turn.
//! 3. Otherwise the most recent transcript signal (rate-limited, error, finished), judged by
//!    the lowest line it matches on, names the state — but only when the prompt box is on
//!    screen or the signal is a limit (a limit screen may hide the box).
//! 4. Otherwise a visible prompt box means idle; a launch banner means starting.
//! 5. Otherwise unknown: the detector prefers "unknown" to a wrong "idle".

use serde::Serialize;

use crate::profile::AgentState;
use crate::profile::Pattern;
use crate::profile::Profile;

/// One pattern that matched one line of the screen.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Evidence {
    /// The state the pattern stands for.
    pub state: AgentState,
    /// The pattern's source.
    pub pattern: String,
    /// The line's number on the screen, from 1.
    pub line: usize,
    /// The line's text, trimmed at the end.
    pub text: String,
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
}

/// Detects the state of an agent from a captured screen.
pub fn detect(profile: &Profile, screen: &str) -> Detection {
    let lines: Vec<&str> = screen.lines().map(str::trim_end).collect();
    let mut evidence = Vec::new();
    for state in AgentState::WITH_PATTERNS {
        for (idx, line) in lines.iter().enumerate() {
            if let Some(p) = first_match(profile.patterns(state), line) {
                evidence.push(Evidence {
                    state,
                    pattern: p.source.clone(),
                    line: idx + 1,
                    text: (*line).to_owned(),
                });
            }
        }
    }
    evidence.sort_by_key(|e| (e.line, e.state));

    let last_line = |state: AgentState| {
        evidence
            .iter()
            .filter(|e| e.state == state)
            .map(|e| e.line)
            .max()
    };
    let box_visible = last_line(AgentState::Idle).is_some();

    let state = if last_line(AgentState::NeedsInput).is_some() {
        AgentState::NeedsInput
    } else if last_line(AgentState::Working).is_some() {
        AgentState::Working
    } else {
        let transcript = [
            AgentState::RateLimited,
            AgentState::Error,
            AgentState::Finished,
        ]
        .into_iter()
        .filter_map(|s| last_line(s).map(|l| (l, s)))
        .max_by_key(|(l, s)| (*l, std::cmp::Reverse(*s)));
        match transcript {
            Some((_, AgentState::RateLimited)) => AgentState::RateLimited,
            Some((_, s)) if box_visible => s,
            _ if box_visible => AgentState::Idle,
            _ if last_line(AgentState::Starting).is_some() => AgentState::Starting,
            _ => AgentState::Unknown,
        }
    };

    Detection {
        state,
        input: if box_visible {
            input_text(profile, &lines)
        } else {
            None
        },
        quota: quota_hints(profile, &lines),
        evidence,
    }
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
}
