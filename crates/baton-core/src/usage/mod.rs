//! Cost and tokens per task: what the agent CLIs tell of a session's spending, and each task's
//! share of it. Pure: readings and journal lines in, shares out.
//!
//! - [`sources`]: the session counters found in Claude Code's statusLine payload (cost) and
//!   transcript (tokens), and in Codex's rollout files (tokens).
//! - [`share`]: a task's share of an agent's readings over the task's spans;
//!   [`task_spans`]: those spans, from the journal's `task-start` lines.
//!
//! A reading holds a session's cumulative counters. A task's share, per counter, is the sum of
//! the increments between the last reading at or before the task's start and the last reading
//! at or before the agent's next task's start (none: every later reading). A counter that went
//! down, or a reading of a session not seen before, means a new session: its value counts
//! from zero; a session seen before and taken up again (`--resume`) goes on from its last
//! value.

pub mod sources;

use std::collections::BTreeMap;

use serde::Serialize;

use crate::render::JournalLine;
use crate::task::TaskId;
use crate::vocab::JournalAction;

/// What a session spent, as far as its CLI tells: each field is unknown (`None`) when no
/// source gives it — never 0 for unknown.
#[derive(Clone, Copy, Debug, Default, PartialEq, Serialize)]
pub struct Usage {
    /// Cost in US dollars (the CLI's own estimate at list price).
    pub cost_usd: Option<f64>,
    /// Input tokens, cached ones included.
    pub input_tokens: Option<u64>,
    /// Output tokens.
    pub output_tokens: Option<u64>,
}

impl Usage {
    /// Returns whether nothing is known.
    pub fn is_empty(&self) -> bool {
        self.cost_usd.is_none() && self.input_tokens.is_none() && self.output_tokens.is_none()
    }
}

impl std::ops::Add for Usage {
    type Output = Usage;

    /// Returns the sum, field by field; a field unknown on both sides stays unknown.
    fn add(self, other: Usage) -> Usage {
        fn sum<T: std::ops::Add<Output = T>>(a: Option<T>, b: Option<T>) -> Option<T> {
            match (a, b) {
                (Some(a), Some(b)) => Some(a + b),
                (a, b) => a.or(b),
            }
        }
        Usage {
            cost_usd: sum(self.cost_usd, other.cost_usd).map(round_usd),
            input_tokens: sum(self.input_tokens, other.input_tokens),
            output_tokens: sum(self.output_tokens, other.output_tokens),
        }
    }
}

/// Rounds dollars to a millionth, so differences of the CLI's figures do not show float noise.
fn round_usd(x: f64) -> f64 {
    (x * 1e6).round() / 1e6
}

/// One reading of an agent's session counters.
#[derive(Clone, Debug, PartialEq)]
pub struct Reading {
    /// When its data was made (ms since the Unix epoch).
    pub at_ms: i64,
    /// The CLI's session, when known: a reading of another session counts from zero.
    pub session: Option<String>,
    /// The cumulative counters.
    pub usage: Usage,
}

/// A time span an agent spent on a task: after `start_ms`, up to and including `end_ms`
/// (`None`: no end yet).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Span {
    /// The task's start (a reading at this time is the baseline, not part of the task).
    pub start_ms: i64,
    /// The agent's next task's start, if any.
    pub end_ms: Option<i64>,
}

/// A counter of a reading: dollars or tokens.
trait Counter: Copy + PartialOrd + std::ops::Sub<Output = Self> + std::ops::Add<Output = Self> {
    const ZERO: Self;
}

impl Counter for f64 {
    const ZERO: f64 = 0.0;
}

impl Counter for u64 {
    const ZERO: u64 = 0;
}

/// One counter's share of a span: `None` when no reading in the span has it.
fn counter_share<T: Counter>(
    readings: &[&Reading],
    span: Span,
    get: impl Fn(&Usage) -> Option<T>,
) -> Option<T> {
    let mut prev: Option<(Option<&str>, T)> = None;
    // Each session's last value: a session taken up again (`--resume`) goes on from it.
    let mut last: BTreeMap<&str, T> = BTreeMap::new();
    let mut total: Option<T> = None;
    for r in readings {
        if span.end_ms.is_some_and(|end| r.at_ms > end) {
            break;
        }
        let Some(v) = get(&r.usage) else { continue };
        let session = r.session.as_deref();
        let base = match prev {
            // The same session as the reading before (or either not named): from it.
            Some((ps, p)) if session.is_none() || ps.is_none() || ps == session => Some(p),
            // Another session: from its own last value if it was seen, else from zero.
            _ => session.and_then(|s| last.get(s).copied()),
        };
        prev = Some((session, v));
        if let Some(s) = session {
            last.insert(s, v);
        }
        if r.at_ms <= span.start_ms {
            continue;
        }
        // A decrease: the session restarted (/clear, a crash) and counts from zero.
        let increment = match base {
            Some(p) if v >= p => v - p,
            _ => v,
        };
        total = Some(total.unwrap_or(T::ZERO) + increment);
    }
    total
}

/// Returns what an agent spent over these spans, by its readings (any order; equal times
/// keep their given order). A counter is `None` when no reading in any span has it.
pub fn share(readings: &[Reading], spans: &[Span]) -> Usage {
    let mut sorted: Vec<&Reading> = readings.iter().collect();
    sorted.sort_by_key(|r| r.at_ms);
    spans
        .iter()
        .map(|&span| Usage {
            cost_usd: counter_share(&sorted, span, |u| u.cost_usd),
            input_tokens: counter_share(&sorted, span, |u| u.input_tokens),
            output_tokens: counter_share(&sorted, span, |u| u.output_tokens),
        })
        .fold(Usage::default(), |a, b| a + b)
}

/// Returns the spans of each task, by agent: each `task-start` line (its target is the agent)
/// starts one, which ends at that agent's next `task-start` (journal order).
pub fn task_spans(journal: &[JournalLine<'_>]) -> BTreeMap<TaskId, Vec<(String, Span)>> {
    let starts: Vec<(TaskId, &str, i64)> = journal
        .iter()
        .filter(|j| j.action == JournalAction::TaskStart && !j.target.is_empty())
        .filter_map(|j| Some((j.task?, j.target, j.at_ms)))
        .collect();
    let mut out: BTreeMap<TaskId, Vec<(String, Span)>> = BTreeMap::new();
    for (i, &(task, agent, start_ms)) in starts.iter().enumerate() {
        let end_ms = starts[i + 1..]
            .iter()
            .find(|(_, a, _)| *a == agent)
            .map(|&(_, _, at)| at.max(start_ms));
        out.entry(task)
            .or_default()
            .push((agent.to_owned(), Span { start_ms, end_ms }));
    }
    out
}

/// Returns each started task's share of its agents' readings (`readings` by agent); a task
/// whose agents told nothing in its spans gets an empty [`Usage`].
pub fn task_shares(
    journal: &[JournalLine<'_>],
    readings: &BTreeMap<String, Vec<Reading>>,
) -> BTreeMap<TaskId, Usage> {
    task_spans(journal)
        .into_iter()
        .map(|(task, spans)| {
            let usage = spans
                .iter()
                .filter_map(|(agent, span)| Some(share(readings.get(agent)?, &[*span])))
                .fold(Usage::default(), |a, b| a + b);
            (task, usage)
        })
        .collect()
}

/// Returns the sum of these shares (a run's total).
pub fn total<'a>(shares: impl IntoIterator<Item = &'a Usage>) -> Usage {
    shares
        .into_iter()
        .copied()
        .fold(Usage::default(), |a, b| a + b)
}

/// Formats a cost for people: `$0.0123`, `$4.57`, or `—` when unknown.
pub fn format_cost(cost: Option<f64>) -> String {
    match cost {
        None => "—".to_owned(),
        Some(c) if c < 1.0 => format!("${c:.4}"),
        Some(c) => format!("${c:.2}"),
    }
}

/// Formats a token count for people: `950`, `12.3k`, `4.56M`, or `—` when unknown.
pub fn format_tokens(n: Option<u64>) -> String {
    match n {
        None => "—".to_owned(),
        Some(n) if n < 1000 => n.to_string(),
        Some(n) if n < 1_000_000 => format!("{:.1}k", n as f64 / 1e3),
        Some(n) => format!("{:.2}M", n as f64 / 1e6),
    }
}

/// Formats a usage for people: `$0.0123 · 12.3k in / 950 out tokens`; unknown parts are `—`.
pub fn format_usage(u: &Usage) -> String {
    format!(
        "{} · {} in / {} out tokens",
        format_cost(u.cost_usd),
        format_tokens(u.input_tokens),
        format_tokens(u.output_tokens)
    )
}

#[cfg(test)]
mod tests;
