//! Which reading of a window is the truth: readings are ranked by the age of their DATA, not
//! by when baton read them.
//!
//! Every reading carries the time its data was made ([`Candidate::data_ms`]):
//!
//! - the statusLine hook: when the hook fires (Claude Code calls it with the latest API
//!   response's limits);
//! - a Codex rollout: the `token_count` event's timestamp;
//! - the OAuth usage endpoint: when the answer was fetched (a stale answer keeps that time);
//! - the screen: when the notice FIRST appeared with that value ([`screen_data_ms`]). A notice
//!   still on screen, or shown again unchanged after the next reply, is old data: Claude
//!   Code's quota notice stays in the pane's text while the hook reports newer values.
//!
//! Per agent and window, the reading with the newest data wins ([`winner`]); at equal data
//! times a reading from an API response (hook, rollout, OAuth) beats the screen, then the one
//! recorded last wins. A window whose reset time has passed is reset ([`is_reset`]): its
//! reading says nothing of the new window.

use super::projection::format_duration_short;

/// Where a reading comes from, as far as ranking cares.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum SourceKind {
    /// A notice read on the agent's screen.
    Screen,
    /// An API response: the statusLine hook, a Codex rollout, the OAuth endpoint.
    Api,
}

/// The store's name of screen readings.
pub const SCREEN: &str = "screen";

impl SourceKind {
    /// The kind of a source by its stored name: `screen` is the screen, every other source
    /// (`claude-statusline`, `codex-rollout`, `oauth`, `oauth (stale)`) reports an API
    /// response.
    pub fn of(source: &str) -> SourceKind {
        if source == SCREEN {
            SourceKind::Screen
        } else {
            SourceKind::Api
        }
    }
}

/// The short name a person reads for a source: `hook`, `rollout`, `oauth`, `screen`.
pub fn label(source: &str) -> &str {
    match source {
        "claude-statusline" => "hook",
        "codex-rollout" => "rollout",
        other => other,
    }
}

/// One source's current reading of a window, as ranking sees it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Candidate<'a> {
    /// The source's stored name.
    pub source: &'a str,
    /// Percent used.
    pub used_percent: f64,
    /// When the window resets (ms since the epoch), when known.
    pub resets_at_ms: Option<i64>,
    /// When its data was made (ms since the epoch).
    pub data_ms: i64,
    /// The order it was recorded in (a store id): the later wins a full tie.
    pub order: i64,
}

impl Candidate<'_> {
    fn rank(&self) -> (i64, SourceKind, i64) {
        (self.data_ms, SourceKind::of(self.source), self.order)
    }
}

/// Returns the index of the winning candidate: the newest data, then an API response over
/// the screen, then the one recorded last. `None` when there is none.
pub fn winner(candidates: &[Candidate<'_>]) -> Option<usize> {
    candidates
        .iter()
        .enumerate()
        .max_by_key(|(_, c)| c.rank())
        .map(|(i, _)| i)
}

/// How far apart two reset times of one notice may be beyond the time between the two reads:
/// a minute (a relative reset, `resets in 2h 15m`, is counted from the time it is read, and
/// CLIs round to the minute).
pub const NOTICE_RESET_SLACK_MS: i64 = 60_000;

/// Whether a screen reading shows the same value as the earlier one `prev` (percent, reset,
/// data time): the same percent, and reset times that differ by no more than the time since
/// `prev` was made plus [`NOTICE_RESET_SLACK_MS`] (the notice, still on screen or shown again,
/// read with a relative reset that moved with the clock).
pub fn same_notice(
    prev: (f64, Option<i64>, i64),
    used_percent: f64,
    resets_at_ms: Option<i64>,
    now_ms: i64,
) -> bool {
    let (p_used, p_reset, p_data) = prev;
    if p_used != used_percent {
        return false;
    }
    match (p_reset, resets_at_ms) {
        (None, None) => true,
        (Some(a), Some(b)) => {
            let drift = now_ms.saturating_sub(p_data).max(0);
            a.abs_diff(b) <= drift.saturating_add(NOTICE_RESET_SLACK_MS).unsigned_abs()
        }
        _ => false,
    }
}

/// The time a screen reading's data was made: when the notice first appeared with this
/// value. `prev` is the screen's latest earlier reading of the window (percent, reset, data
/// time): the same notice keeps its time; a new value, or none before, is new data (`now`).
/// An earlier notice whose window has reset since is a notice of another window.
pub fn screen_data_ms(
    prev: Option<(f64, Option<i64>, i64)>,
    used_percent: f64,
    resets_at_ms: Option<i64>,
    now_ms: i64,
) -> i64 {
    match prev {
        Some(p) if !is_reset(p.1, now_ms) && same_notice(p, used_percent, resets_at_ms, now_ms) => {
            p.2.min(now_ms)
        }
        _ => now_ms,
    }
}

/// Whether a window's reset time has passed: its reading belongs to a window that is over.
pub fn is_reset(resets_at_ms: Option<i64>, now_ms: i64) -> bool {
    resets_at_ms.is_some_and(|t| t <= now_ms)
}

/// What a window is at now, as far as a reading tells: its percent, or 0 once its reset time
/// has passed.
pub fn used_now(used_percent: f64, resets_at_ms: Option<i64>, now_ms: i64) -> f64 {
    if is_reset(resets_at_ms, now_ms) {
        0.0
    } else {
        used_percent
    }
}

/// Says which source won and why: `hook, 2m old; screen 90% is older`. `others` are the
/// other sources' readings of the same window.
pub fn explain(win: &Candidate<'_>, others: &[Candidate<'_>], now_ms: i64) -> String {
    let mut text = format!(
        "{}, {} old",
        label(win.source),
        format_duration_short(now_ms.saturating_sub(win.data_ms).max(0))
    );
    for o in others {
        let why = if o.data_ms < win.data_ms {
            "is older"
        } else if SourceKind::of(o.source) < SourceKind::of(win.source) {
            "is as old, from the screen"
        } else {
            "is as old, recorded earlier"
        };
        text.push_str(&format!(
            "; {} {:.0}% {why}",
            label(o.source),
            o.used_percent
        ));
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIN: i64 = 60_000;
    const T0: i64 = 1_790_000_000_000;

    fn c(source: &str, used: f64, data_min: i64, order: i64) -> Candidate<'_> {
        Candidate {
            source,
            used_percent: used,
            resets_at_ms: Some(T0 + 120 * MIN),
            data_ms: T0 + data_min * MIN,
            order,
        }
    }

    /// When a screen reading of `used` % (its reset `reset_min` minutes after T0) read at `now`
    /// was first shown, after the 90 % notice (its reset at 120 minutes) first read at `first_ms`.
    fn after_notice(first_ms: i64, used: f64, reset_min: i64, now: i64) -> i64 {
        let notice = (90.0, Some(T0 + 120 * MIN), first_ms);
        screen_data_ms(Some(notice), used, Some(T0 + reset_min * MIN), now)
    }

    /// The screen's reading of `used` %, its data of `data_ms`, recorded fourth.
    fn screen_read(used: f64, data_ms: i64) -> Candidate<'static> {
        Candidate {
            data_ms,
            ..c("screen", used, 0, 4)
        }
    }

    /// The real handoff run: the hook said 95 then 100 %, the screen still showed the 90 %
    /// notice it first showed before both. Read again last, the screen still loses.
    #[test]
    fn newer_hook_data_beats_a_notice_still_on_screen() {
        let now = T0 + 10 * MIN;
        let first_seen = screen_data_ms(None, 90.0, Some(T0 + 120 * MIN), T0);
        assert_eq!(first_seen, T0);
        // Seen again 10 minutes later (recorded last): still the notice of T0.
        let again = after_notice(first_seen, 90.0, 120, now);
        assert_eq!(again, T0);
        let cands = [
            c("claude-statusline", 100.0, 6, 3),
            screen_read(90.0, again),
        ];
        let w = winner(&cands).unwrap();
        assert_eq!(cands[w].used_percent, 100.0);
        assert_eq!(
            explain(&cands[w], &[cands[1 - w]], now),
            "hook, 4m old; screen 90% is older"
        );
    }

    #[test]
    fn a_new_notice_is_new_data() {
        let now = T0 + 10 * MIN;
        // A new value on screen is new data and wins over an older hook value.
        let d = after_notice(T0, 96.0, 120, now);
        assert_eq!(d, now);
        let cands = [c("claude-statusline", 95.0, 5, 3), screen_read(96.0, d)];
        assert_eq!(winner(&cands), Some(1));
        // The same percent in the next window (another reset) is new data.
        let next = T0 + 200 * MIN;
        assert_eq!(after_notice(T0, 90.0, 420, next), next);
        // A relative reset read later moves with the clock: the same notice.
        assert_eq!(after_notice(T0, 90.0, 130, now), T0);
        assert!(!same_notice((90.0, Some(T0), T0), 90.0, None, now));
        assert!(same_notice((90.0, None, T0), 90.0, None, now));
    }

    #[test]
    fn ties_go_to_the_api_then_to_the_last_recorded() {
        let cands = [c("screen", 90.0, 5, 9), c("codex-rollout", 91.0, 5, 2)];
        assert_eq!(winner(&cands), Some(1));
        assert_eq!(
            explain(&cands[1], &cands[..1], T0 + 5 * MIN),
            "rollout, 0 s old; screen 90% is as old, from the screen"
        );
        let cands = [c("oauth", 90.0, 5, 1), c("claude-statusline", 91.0, 5, 2)];
        assert_eq!(winner(&cands), Some(1));
        assert_eq!(winner(&[]), None);
    }

    #[test]
    fn a_passed_reset_is_a_reset_window() {
        let reset = Some(T0);
        assert!(!is_reset(reset, T0 - 1));
        assert!(is_reset(reset, T0));
        assert!(!is_reset(None, T0));
        assert_eq!(used_now(100.0, reset, T0 + MIN), 0.0);
        assert_eq!(used_now(100.0, reset, T0 - MIN), 100.0);
        assert_eq!(used_now(100.0, None, T0), 100.0);
        // A notice of a window that has reset is not the same notice any more.
        assert_eq!(
            screen_data_ms(Some((90.0, reset, T0 - MIN)), 90.0, reset, T0 + MIN),
            T0 + MIN
        );
    }

    #[test]
    fn labels() {
        assert_eq!(label("claude-statusline"), "hook");
        assert_eq!(label("codex-rollout"), "rollout");
        assert_eq!(label("oauth (stale)"), "oauth (stale)");
        assert_eq!(SourceKind::of("screen"), SourceKind::Screen);
        assert_eq!(SourceKind::of("oauth"), SourceKind::Api);
    }
}
