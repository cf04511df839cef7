//! The quota rules of the engine.
//!
//! - Crossing `warn_percent` in a window: one notification and one message to the lead, again
//!   only after the window went back below (a reset).
//! - At `critical_percent` (or projected to get there within `quota_lookahead_ms`): no new
//!   task; the current one finishes. With `auto_stop`, the agent is interrupted and its task
//!   goes to another agent.
//! - At 100 %: the agent is limited and its task goes to another agent at once.
//! - When a window's reset time passes, its reading no longer counts; a reading that arrives
//!   after its window's reset time is a reset window (no warning, no hold, no handoff).
//! - `ignore_usage` lifts the holding back (an emergency, journaled by the shell).
//!
//! Only the session and weekly windows hold work back: a model-scoped window at its limit
//! makes the CLI fall back to another model, it does not stop the agent.

use super::Action;
use super::AgentRt;
use super::Engine;
use super::Key;
use crate::quota::projection;
use crate::vocab::NoticeKind;

/// One reading as the engine takes it.
#[derive(Clone, Copy, Debug)]
pub(super) struct Reading {
    pub used: f64,
    pub resets_at: Option<u64>,
    pub burn_per_hour: Option<f64>,
}

/// What the engine keeps of one window of an agent.
#[derive(Clone, Debug, Default)]
pub(super) struct WindowRt {
    used: f64,
    resets_at: Option<u64>,
    burn_per_hour: Option<f64>,
    /// When the reading arrived.
    at: u64,
    warned: bool,
    critical: bool,
}

fn holds_back(window: &str) -> bool {
    !window.starts_with("model:")
}

fn current(w: &WindowRt, now: u64) -> bool {
    w.resets_at.is_none_or(|r| r > now)
}

/// Whether the agent has a reading of a holding window that has not reset (or was reset to
/// zero by its reset time).
pub(super) fn known(a: &AgentRt, now: u64) -> bool {
    a.quota
        .iter()
        .any(|(name, w)| holds_back(name) && current(w, now))
}

/// The soonest time one of the agent's holding windows reaches `target` % at its burn rate
/// (the reading's time if it is there); none when no rate is known or every window resets
/// first. The estimate is [`projection::time_to`], the one the shell's quota view uses.
pub(super) fn eta(a: &AgentRt, target: f64, now: u64) -> Option<u64> {
    let ms = |t: u64| i64::try_from(t).unwrap_or(i64::MAX);
    a.quota
        .iter()
        .filter(|(name, w)| holds_back(name) && current(w, now))
        .filter_map(|(_, w)| {
            projection::time_to(
                w.used,
                ms(w.at),
                w.burn_per_hour,
                target,
                w.resets_at.map(ms),
            )
        })
        .min()
        .and_then(|t| u64::try_from(t).ok())
}

/// The highest use of the agent's session and weekly windows that have not reset.
pub(super) fn gating(a: &AgentRt, now: u64) -> f64 {
    a.quota
        .iter()
        .filter(|(name, w)| holds_back(name) && current(w, now))
        .map(|(_, w)| w.used)
        .fold(0.0, f64::max)
}

/// Whether the agent is at `target` % of a holding window, or projected to get there within
/// `lookahead` ms: the rule of both the critical hold-back and the lead's handoff.
pub(super) fn due(a: &AgentRt, target: f64, now: u64, lookahead: u64) -> bool {
    let horizon = now.saturating_add(lookahead);
    gating(a, now) >= target || eta(a, target, now).is_some_and(|t| t <= horizon)
}

impl Engine {
    /// Whether quota keeps new work from the agent.
    pub(super) fn held_back(&self, a: &AgentRt) -> bool {
        !self.settings.ignore_usage
            && due(
                a,
                self.settings.critical_percent,
                self.now,
                self.settings.quota_lookahead_ms,
            )
    }

    pub(super) fn on_quota(
        &mut self,
        agent: &str,
        window: &str,
        r: Reading,
        out: &mut Vec<Action>,
    ) {
        let (warn, critical) = (self.settings.warn_percent, self.settings.critical_percent);
        let lead = self.lead().map(str::to_owned);
        let (auto_stop, ignore) = (self.settings.auto_stop, self.settings.ignore_usage);
        let Some(a) = self.agents.get_mut(agent) else {
            return;
        };
        if r.resets_at.is_some_and(|t| t <= self.now) {
            // The window has reset since this reading (the newest stored one fed again after
            // a restart, an old rollout): it says nothing of the new window.
            if let Some(w) = a.quota.get_mut(window) {
                *w = WindowRt::default();
            }
            if gating(a, self.now) < critical {
                a.limited = false;
            }
            return;
        }
        let w = a.quota.entry(window.to_owned()).or_default();
        w.used = r.used;
        w.resets_at = r.resets_at;
        w.burn_per_hour = r.burn_per_hour;
        w.at = self.now;
        let mut warned_now = false;
        let mut critical_now = false;
        if r.used >= warn && !w.warned {
            w.warned = true;
            warned_now = true;
        } else if r.used < warn {
            w.warned = false;
        }
        if r.used >= critical && !w.critical {
            w.critical = true;
            critical_now = holds_back(window);
        } else if r.used < critical {
            w.critical = false;
        }
        let gating_now = gating(a, self.now);
        if gating_now < critical {
            a.limited = false;
        }
        let at_limit = holds_back(window) && r.used >= 100.0;
        if at_limit {
            a.limited = true;
        }
        let tasks = a.tasks.clone();
        if warned_now {
            let text = format!(
                "{agent} has used {:.0}% of its {window} quota (warning at {warn:.0}%)",
                r.used
            );
            out.push(Action::Notify {
                kind: NoticeKind::QuotaWarn,
                message: text.clone(),
            });
            if let Some(lead) = lead.filter(|l| l != agent) {
                self.message(
                    &lead,
                    format!(
                        "[baton] Quota: {text}. At {critical:.0}% it gets no new task; plan around it."
                    ),
                );
            }
        }
        if critical_now {
            let stop = auto_stop && !ignore && !tasks.is_empty();
            out.push(Action::Notify {
                kind: NoticeKind::QuotaCritical,
                message: format!(
                    "{agent} has used {:.0}% of its {window} quota: {}",
                    r.used,
                    if ignore {
                        "--ignore-usage is on, it still gets tasks"
                    } else if stop {
                        "auto_stop: its work is stopped and handed to another agent"
                    } else {
                        "no new task for it (its current task finishes)"
                    }
                ),
            });
            if stop && !at_limit {
                out.push(Action::Press {
                    agent: agent.to_owned(),
                    key: Key::CtrlC,
                });
                for t in &tasks {
                    self.take_back(agent, *t, "quota critical (auto_stop)", true, out);
                }
            }
        }
        if at_limit {
            for t in tasks {
                self.take_back(agent, t, "usage limit reached (100%)", true, out);
            }
        }
    }

    /// Forgets readings whose window has reset, so the agent gets work again.
    pub(super) fn quota_resets(&mut self, now: u64, out: &mut Vec<Action>) {
        let critical = self.settings.critical_percent;
        for (name, a) in &mut self.agents {
            let mut reset = Vec::new();
            for (window, w) in &mut a.quota {
                if w.used > 0.0 && w.resets_at.is_some_and(|r| r <= now) {
                    *w = WindowRt::default();
                    reset.push(window.clone());
                }
            }
            if reset.is_empty() {
                continue;
            }
            if gating(a, now) < critical {
                a.limited = false;
            }
            for window in reset {
                out.push(Action::Journal {
                    agent: Some(name.clone()),
                    task: None,
                    what: format!("quota window {window} reset"),
                });
            }
        }
    }
}
