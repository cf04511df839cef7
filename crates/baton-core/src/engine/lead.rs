//! The lead role and its handoff.
//!
//! - The first agent of `[lead] chain` leads. At `prepare_at` % (session or weekly) it gets no
//!   new work and is asked for its notes (`.baton/lead-notes.md`).
//! - At `handoff_at` %, or when its burn rate says it gets there within the quota lookahead,
//!   or on request (`baton handoff`), once the notes are in or their deadline passed: the
//!   next agent of the chain that is up, not resting and not held back by quota is chosen;
//!   the shell writes `HANDOFF_TO_<AGENT>.md` (`WriteHandoff`) and reports it
//!   (`HandoffWritten`); the successor gets the takeover prompt as soon as it is free of
//!   tasks, with verified delivery. Delivered: it leads, the old lead rests (no tasks).
//!   Not delivered, or the successor died: the next in the chain.
//! - No successor: a notice, the lead stays, another try after `lead_retry_ms`.
//! - A resting lead whose quota came back (its windows reset, or below `return_below`)
//!   stops resting; if it comes before the current lead in the chain and `return` is on,
//!   the role is handed back the same way.
//! - Every step is committed by the shell (`Action::Lead`) before the next, and restored on
//!   start (`Event::LeadRestore`): a takeover under way is sent again (the document exists);
//!   a handoff is never started twice at once.

use serde::Deserialize;
use serde::Serialize;

use super::Action;
use super::AgentRt;
use super::Engine;
use super::FreeFor;
use super::HandoffDone;
use super::SendKind;
use super::Sending;
use super::prompt;
use super::quota;
use crate::vocab::JournalAction;
use crate::vocab::NoticeKind;

/// Where the lead role stands, as the store keeps it.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LeadSnapshot {
    /// The lead.
    pub lead: Option<String>,
    /// What the lead role is doing (`phase`, and for a takeover `from`, `to`, `reason`,
    /// `rest`, all at the top level).
    #[serde(flatten)]
    pub phase: LeadPhase,
    /// Former leads waiting for their quota to come back: they get no task.
    pub resting: Vec<String>,
}

/// A step of the lead role.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "phase", rename_all = "kebab-case")]
pub enum LeadPhase {
    /// Leading.
    #[default]
    Leading,
    /// Asked for its notes; no new work for it.
    Preparing,
    /// The handoff document is written; the successor must take over.
    Takeover {
        /// The lead handing over.
        from: String,
        /// The successor.
        to: String,
        /// Why.
        reason: String,
        /// Handed over for quota: the old lead rests until its quota comes back (and the role
        /// returns); otherwise (asked for by a person) it just works on.
        rest: bool,
    },
}

/// What the engine keeps besides the snapshot (times are on this run's clock).
#[derive(Clone, Debug, Default)]
pub(super) struct LeadRt {
    pub snap: LeadSnapshot,
    since: u64,
    notes: bool,
    tried: Vec<String>,
    next_try: u64,
    writing: Option<(String, String, bool)>,
    takeover_sent: bool,
    /// A handoff to start at once: the successor asked for, and why.
    requested: Option<(Option<String>, String)>,
    announced: bool,
}

impl Engine {
    /// The current lead: the stored one, else the chain's first.
    pub fn lead(&self) -> Option<&str> {
        self.lead
            .snap
            .lead
            .as_deref()
            .or_else(|| self.settings.lead_chain.first().map(String::as_str))
    }

    /// The lead role's state.
    pub fn lead_snapshot(&self) -> &LeadSnapshot {
        &self.lead.snap
    }

    /// Whether the lead role keeps work from this agent: it rests, it is the lead preparing
    /// or handing over, or it is taking over.
    pub(super) fn lead_holds(&self, a: &AgentRt) -> bool {
        let name = a.spec.name.as_str();
        if self.lead.snap.resting.iter().any(|r| r == name) {
            return true;
        }
        match &self.lead.snap.phase {
            LeadPhase::Leading => false,
            LeadPhase::Preparing => self.lead() == Some(name),
            LeadPhase::Takeover { from, to, .. } => name == from || name == to,
        }
    }

    /// Whether the lead role keeps this agent from tasks for a while: resting, preparing, or
    /// handing over — not the successor of a takeover, held back only until its takeover
    /// prompt is delivered (seconds), so a task reserved for it waits for it.
    pub(super) fn lead_holds_long(&self, a: &AgentRt) -> bool {
        match &self.lead.snap.phase {
            LeadPhase::Takeover { to, .. } if *to == a.spec.name => {
                self.lead.snap.resting.contains(&a.spec.name)
            }
            _ => self.lead_holds(a),
        }
    }

    /// The lead's use of its session and weekly windows.
    fn lead_used(&self, agent: &str) -> f64 {
        self.agents
            .get(agent)
            .map_or(0.0, |a| quota::gating(a, self.now))
    }

    fn commit_lead(&mut self, what: JournalAction, detail: String, out: &mut Vec<Action>) {
        out.push(Action::Lead {
            snapshot: self.lead.snap.clone(),
            what,
            detail,
            handoff: None,
        });
    }

    pub(super) fn lead_restore(&mut self, snap: LeadSnapshot) {
        self.lead = LeadRt {
            snap,
            since: self.now,
            announced: true,
            ..LeadRt::default()
        };
    }

    pub(super) fn handoff_requested(&mut self, to: Option<String>) {
        self.lead.requested = Some((to, "asked for (baton handoff)".to_owned()));
    }

    pub(super) fn lead_notes(&mut self) {
        if self.lead.snap.phase == LeadPhase::Preparing {
            self.lead.notes = true;
        }
    }

    /// The rules that run on every step.
    pub(super) fn lead_step(&mut self, now: u64, out: &mut Vec<Action>) {
        if self.settings.lead_chain.is_empty() {
            return;
        }
        let Some(cur) = self.lead().map(str::to_owned) else {
            return;
        };
        if !self.lead.announced {
            self.lead.announced = true;
            self.lead.snap.lead = Some(cur.clone());
            self.commit_lead(JournalAction::LeadSet, format!("{cur} leads"), out);
        }
        self.end_rests(&cur, out);
        let phase = self.lead.snap.phase.clone();
        if !matches!(phase, LeadPhase::Takeover { .. }) && self.take_request(now, &cur, out) {
            return;
        }
        // A lead at its usage limit can write no notes and answer nothing: the role moves on
        // now (it waited for notes that could not come while the run went on without a lead).
        let at_limit = self
            .agents
            .get(&cur)
            .is_some_and(|a| a.limited || a.state() == crate::profile::AgentState::RateLimited);
        if at_limit && matches!(phase, LeadPhase::Leading | LeadPhase::Preparing) {
            let used = self.lead_used(&cur);
            let reason = format!("{cur} is at its usage limit ({used:.0}%): no notes can come");
            self.start_handoff(now, &cur, None, &reason, out);
            return;
        }
        match phase {
            LeadPhase::Leading => {
                let used = self.lead_used(&cur);
                if used >= self.settings.prepare_at || self.handoff_due(&cur) {
                    self.lead.snap.phase = LeadPhase::Preparing;
                    self.lead.since = now;
                    self.lead.notes = false;
                    let text = prompt::fill_lead(
                        &self.texts_of(&cur).prepare,
                        &cur,
                        "",
                        used,
                        self.settings.handoff_at,
                    );
                    self.message(&cur, text);
                    self.commit_lead(
                        JournalAction::HandoffPrepare,
                        format!("{cur} at {used:.0}%: notes asked for, no new work"),
                        out,
                    );
                }
            }
            LeadPhase::Preparing => {
                let used = self.lead_used(&cur);
                let due = self.handoff_due(&cur);
                // Preparing, it gets no new work, so its quota may stop short of `handoff_at`
                // for hours: once its notes are in and it holds no task, the role moves on
                // now (it stays a plain agent while its own limits allow).
                let idle = self.agents.get(&cur).is_some_and(|a| a.tasks.is_empty());
                if !due && self.lead.notes && idle && used >= self.settings.prepare_at {
                    let reason = format!(
                        "{cur}'s quota at {used:.0}% (prepare at {:.0}%): its notes are in and it has no task",
                        self.settings.prepare_at
                    );
                    self.start_handoff(now, &cur, None, &reason, out);
                    return;
                }
                if !due && used < self.settings.prepare_at {
                    self.lead.snap.phase = LeadPhase::Leading;
                    self.commit_lead(
                        JournalAction::HandoffCancel,
                        format!("{cur} back at {used:.0}%: it leads on"),
                        out,
                    );
                } else if due
                    && (self.lead.notes
                        || now.saturating_sub(self.lead.since) >= self.settings.notes_deadline_ms)
                {
                    let reason = format!(
                        "{cur}'s quota at {used:.0}% (hand over at {:.0}%)",
                        self.settings.handoff_at
                    );
                    self.start_handoff(now, &cur, None, &reason, out);
                }
            }
            LeadPhase::Takeover { from, to, .. } => {
                let ready = self
                    .agents
                    .get(&to)
                    .is_some_and(|a| self.is_free(a, FreeFor::Message));
                if !self.lead.takeover_sent && ready {
                    self.lead.takeover_sent = true;
                    let text = prompt::fill_lead(
                        &self.texts_of(&to).takeover,
                        &from,
                        &to,
                        0.0,
                        self.settings.handoff_at,
                    );
                    if let Some(a) = self.agents.get_mut(&to) {
                        a.sending =
                            Some(Sending::new(a, now, text.clone(), None, SendKind::Takeover));
                        out.push(Action::Paste { agent: to, text });
                    }
                }
            }
        }
    }

    /// Starts the handoff asked for, if any (one to the current lead is refused); returns
    /// whether there was one.
    fn take_request(&mut self, now: u64, cur: &str, out: &mut Vec<Action>) -> bool {
        let Some((to, why)) = self.lead.requested.take() else {
            return false;
        };
        if to.as_deref() == Some(cur) {
            self.refuse_own(cur, out);
        } else {
            self.start_handoff(now, cur, to, &why, out);
        }
        true
    }

    /// A handoff asked for to the current lead: refused (it would undo a newer request).
    fn refuse_own(&mut self, cur: &str, out: &mut Vec<Action>) {
        out.push(Action::Journal {
            agent: Some(cur.to_owned()),
            task: None,
            what: format!("handoff refused: {cur} already leads"),
        });
    }

    /// Whether the lead must hand over now: at `handoff_at`, or projected to get there within
    /// the quota lookahead.
    fn handoff_due(&self, lead: &str) -> bool {
        self.agents.get(lead).is_some_and(|a| {
            quota::due(
                a,
                self.settings.handoff_at,
                self.now,
                self.settings.quota_lookahead_ms,
            )
        })
    }

    /// Resting leads whose quota came back rest no more; the chain's earlier one gets the role
    /// back.
    fn end_rests(&mut self, cur: &str, out: &mut Vec<Action>) {
        let back: Vec<String> = self
            .lead
            .snap
            .resting
            .iter()
            .filter(|r| {
                self.agents.get(*r).is_some_and(|a| {
                    quota::known(a, self.now)
                        && quota::gating(a, self.now) < self.settings.return_below
                        && !self.held_back(a)
                })
            })
            .cloned()
            .collect();
        for r in back {
            self.lead.snap.resting.retain(|x| *x != r);
            self.commit_lead(
                JournalAction::LeadRestEnd,
                format!("{r}'s quota came back"),
                out,
            );
            let rank = |n: &str| self.settings.lead_chain.iter().position(|c| c == n);
            if self.settings.return_after_reset
                && rank(&r).is_some()
                && rank(&r) < rank(cur).or(Some(usize::MAX))
                && self.lead.requested.is_none()
            {
                let why = format!("{r}'s quota came back: the role returns");
                self.lead.requested = Some((Some(r), why));
            }
        }
    }

    /// The next agent of the chain after `cur` that may take the role now.
    fn successor(&self, cur: &str) -> Option<String> {
        let chain = &self.settings.lead_chain;
        let start = chain.iter().position(|c| c == cur).map_or(0, |i| i + 1);
        (0..chain.len())
            .map(|k| &chain[(start + k) % chain.len()])
            .find(|name| {
                *name != cur
                    && !self.lead.tried.contains(name)
                    && !self.lead.snap.resting.contains(name)
                    && self
                        .agents
                        .get(*name)
                        .is_some_and(|a| a.alive && !a.limited && !self.held_back(a))
            })
            .cloned()
    }

    fn start_handoff(
        &mut self,
        now: u64,
        cur: &str,
        to: Option<String>,
        reason: &str,
        out: &mut Vec<Action>,
    ) {
        // A handoff for quota: the lead is at its threshold (or projected there).
        let rest = self.handoff_due(cur);
        if self.lead.writing.is_some() || now < self.lead.next_try {
            return;
        }
        let to = to
            .filter(|t| t != cur && self.agents.get(t).is_some_and(|a| a.alive))
            .or_else(|| self.successor(cur));
        let Some(to) = to else {
            self.lead.next_try = now.saturating_add(self.settings.lead_retry_ms);
            self.lead.tried.clear();
            out.push(Action::Notify {
                kind: NoticeKind::HandoffFailed,
                message: format!("no agent can take the lead from {cur} now ({reason}): {cur} keeps it; trying again"),
            });
            return;
        };
        self.lead.writing = Some((to.clone(), reason.to_owned(), rest));
        out.push(Action::WriteHandoff {
            from: cur.to_owned(),
            to,
            reason: reason.to_owned(),
        });
    }

    pub(super) fn handoff_written(&mut self, to: &str, out: &mut Vec<Action>) {
        let Some((want, reason, rest)) = self.lead.writing.take() else {
            return;
        };
        if want != to {
            return;
        }
        let Some(from) = self.lead().map(str::to_owned) else {
            return;
        };
        self.lead.snap.phase = LeadPhase::Takeover {
            from: from.clone(),
            to: to.to_owned(),
            reason: reason.clone(),
            rest,
        };
        self.lead.since = self.now;
        self.lead.takeover_sent = false;
        self.commit_lead(
            JournalAction::HandoffStart,
            format!(
                "{from} → {to}: {} written ({reason})",
                prompt::handoff_file(to)
            ),
            out,
        );
    }

    /// The successor showed it works on the takeover prompt: it leads.
    pub(super) fn takeover_verified(&mut self, to: &str, out: &mut Vec<Action>) {
        let LeadPhase::Takeover {
            from, reason, rest, ..
        } = self.lead.snap.phase.clone()
        else {
            return;
        };
        self.lead.snap.lead = Some(to.to_owned());
        self.lead.snap.phase = LeadPhase::Leading;
        self.lead.snap.resting.retain(|r| r != to);
        if rest && from != to && !self.lead.snap.resting.contains(&from) {
            self.lead.snap.resting.push(from.clone());
        }
        self.lead.tried.clear();
        out.push(Action::Lead {
            snapshot: self.lead.snap.clone(),
            what: JournalAction::HandoffDone,
            detail: format!(
                "{to} leads, takeover verified; {from} {} ({reason})",
                if rest {
                    "rests until its quota comes back"
                } else {
                    "works on"
                }
            ),
            handoff: Some(HandoffDone {
                from: from.clone(),
                to: to.to_owned(),
                reason: reason.clone(),
            }),
        });
        out.push(Action::Notify {
            kind: NoticeKind::HandoffDone,
            message: format!("{to} took over the lead from {from}"),
        });
    }

    /// The successor did not take over (not delivered, or it died): the next one.
    pub(super) fn takeover_failed(&mut self, to: &str, why: &str, out: &mut Vec<Action>) {
        let LeadPhase::Takeover {
            from,
            to: want,
            reason,
            ..
        } = self.lead.snap.phase.clone()
        else {
            return;
        };
        if want != to {
            return;
        }
        self.lead.tried.push(to.to_owned());
        self.lead.snap.phase = LeadPhase::Preparing;
        self.lead.notes = true;
        self.lead.since = self.now;
        // Straight on to the next in the chain (the failed one is skipped).
        self.lead.requested = Some((None, reason));
        self.commit_lead(
            JournalAction::HandoffFailed,
            format!("{to} did not take over from {from} ({why}): the next in the chain"),
            out,
        );
    }
}
