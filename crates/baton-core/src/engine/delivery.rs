//! Delivery: screens read, pastes watched until they are taken (Enter pressed again, one
//! resend), messages queued until their agent is free, baton's text left in a box cleared.

use super::Action;
use super::Engine;
use super::FreeFor;
use super::Key;
use super::SendKind;
use super::Sending;
use super::quota;
use crate::delivery::Delivery;
use crate::delivery::Step;
use crate::detector::Detection;
use crate::profile::AgentState;
use crate::task::TaskId;
use crate::vocab::NoticeKind;

impl Engine {
    pub(super) fn on_screen(
        &mut self,
        now: u64,
        agent: &str,
        detection: Detection,
        hash: u64,
        out: &mut Vec<Action>,
    ) {
        let Some(a) = self.agents.get_mut(agent) else {
            return;
        };
        if hash != a.hash {
            a.hash = hash;
            a.last_change_ms = now;
            a.turn.checks = 0;
        }
        let state = detection.state;
        a.detection = Some(detection);
        if !a.alive && state != AgentState::Unknown {
            a.alive = true;
        }
        if state != AgentState::NeedsInput {
            a.notified_input = false;
        }
        if a.stale_input && a.sending.is_none() {
            let text_left = a.detection.as_ref().is_some_and(|d| d.input.is_some());
            if !text_left || a.clears >= 2 {
                // Empty, or two Ctrl-C did not empty it (what shows is not ours): go on.
                a.stale_input = false;
                a.clears = 0;
            } else if state.is_ready() && a.cleared_at.is_none_or(|t| now.saturating_sub(t) >= 2000)
            {
                // One Ctrl-C clears the box (it never exits a CLI whose box holds text).
                a.cleared_at = Some(now);
                a.clears += 1;
                out.push(Action::Press {
                    agent: agent.to_owned(),
                    key: Key::CtrlC,
                });
                out.push(Action::Journal {
                    agent: Some(agent.to_owned()),
                    task: None,
                    what: "cleared a prompt left unsubmitted in the box".into(),
                });
            }
        }
        if state.is_ready() && a.tasks.is_empty() && a.limited {
            a.limited = quota::gating(a, now) >= self.settings.critical_percent;
        }
        if a.sending.is_some() {
            self.observe_delivery(now, agent, out);
            return;
        }
        let Some(a) = self.agents.get_mut(agent) else {
            return;
        };
        let Some(&task) = a.tasks.first() else { return };
        match state {
            AgentState::Working => {
                a.turn.seen_working = true;
                a.turn.ready_since = None;
            }
            s if s.is_ready() && a.turn.seen_working => {
                a.turn.ready_since.get_or_insert(now);
            }
            AgentState::NeedsInput if !a.notified_input => {
                a.notified_input = true;
                out.push(Action::Notify {
                    kind: NoticeKind::NeedsInput,
                    message: format!(
                        "{agent} waits for a person (a dialog is open) while on {task}"
                    ),
                });
            }
            AgentState::RateLimited | AgentState::Error => {
                a.limited = state == AgentState::RateLimited;
                let why = if state == AgentState::RateLimited {
                    "usage limit reached"
                } else {
                    "the agent shows an error"
                };
                self.take_back(agent, task, why, true, out);
            }
            _ => {}
        }
    }

    pub(super) fn observe_delivery(&mut self, now: u64, agent: &str, out: &mut Vec<Action>) {
        let Some(a) = self.agents.get_mut(agent) else {
            return;
        };
        let Some(s) = a.sending.as_mut() else { return };
        let Some(d) = a.detection.clone() else { return };
        match s.delivery.observe(now, &d, a.hash != s.hash_at_enter) {
            Step::Wait => {}
            Step::PressEnter => {
                s.hash_at_enter = a.hash;
                out.push(Action::Press {
                    agent: agent.to_owned(),
                    key: Key::Enter,
                });
            }
            Step::Delivered { state, enters } => {
                let task = s.task;
                let takeover = s.takeover;
                a.sending = None;
                a.last_change_ms = now;
                a.turn.seen_working = state == AgentState::Working;
                a.turn.ready_since = None;
                a.turn.resumed = false;
                let what = if takeover {
                    "takeover prompt"
                } else if task.is_some() {
                    "prompt"
                } else {
                    "message"
                };
                // Taken by a limit or error screen, it is read by nobody: said as such (a
                // message to a lead at its limit was "delivered", and a successor at its limit
                // "took over").
                let refused = matches!(state, AgentState::RateLimited | AgentState::Error);
                out.push(Action::Journal {
                    agent: Some(agent.to_owned()),
                    task,
                    what: if refused {
                        format!("{what} not read: the agent shows {state} (Enter ×{enters})")
                    } else {
                        format!("{what} delivered (Enter ×{enters}, {state})")
                    },
                });
                if refused {
                    a.limited = state == AgentState::RateLimited;
                }
                if let Some(task) = task
                    && refused
                {
                    self.take_back(agent, task, "the agent refused the prompt", true, out);
                }
                if takeover && refused {
                    self.takeover_failed(agent, &format!("it shows {state}"), out);
                } else if takeover {
                    self.takeover_verified(agent, out);
                }
            }
            Step::Failed { reason, .. } => {
                let task = s.task;
                if s.notice {
                    a.sending = None;
                    out.push(Action::Journal {
                        agent: Some(agent.to_owned()),
                        task,
                        what: format!("a notice was not taken ({reason})"),
                    });
                } else if !s.retried {
                    s.retried = true;
                    s.delivery = Delivery::after_paste(&a.spec.submit, now).expecting(&s.text);
                    let text = s.text.clone();
                    out.push(Action::Press {
                        agent: agent.to_owned(),
                        key: Key::CtrlC,
                    });
                    out.push(Action::Paste {
                        agent: agent.to_owned(),
                        text,
                    });
                    out.push(Action::Journal {
                        agent: Some(agent.to_owned()),
                        task,
                        what: format!("delivery failed ({reason}): Ctrl-C and the prompt again"),
                    });
                } else {
                    let takeover = s.takeover;
                    a.sending = None;
                    if takeover {
                        self.takeover_failed(agent, &format!("unresponsive: {reason}"), out);
                    }
                    if let Some(task) = task {
                        self.take_back(
                            agent,
                            task,
                            &format!("agent unresponsive: {reason}"),
                            true,
                            out,
                        );
                    }
                    self.schedule_restart(now, agent, out);
                }
            }
        }
    }

    /// Pastes `text` into the agent's prompt box with verified delivery (Enter is pressed by
    /// the delivery rule, again if it was swallowed).
    pub(super) fn send(
        &mut self,
        now: u64,
        agent: &str,
        task: TaskId,
        text: String,
        notice: bool,
        out: &mut Vec<Action>,
    ) {
        let Some(a) = self.agents.get_mut(agent) else {
            return;
        };
        let kind = if notice {
            SendKind::Notice
        } else {
            SendKind::Prompt
        };
        a.sending = Some(Sending::new(a, now, text.clone(), Some(task), kind));
        out.push(Action::Paste {
            agent: agent.to_owned(),
            text,
        });
    }

    /// Queues a message for an agent; it is pasted once the agent is free.
    pub(super) fn message(&mut self, agent: &str, text: String) {
        if let Some(a) = self.agents.get_mut(agent) {
            a.inbox.push(text);
        }
    }

    /// Pastes waiting messages into agents that are up, ready, free of tasks and not receiving
    /// anything.
    pub(super) fn deliver_messages(&mut self, now: u64, out: &mut Vec<Action>) {
        // A message never lands in the middle of a task's turn.
        let due: Vec<String> = self
            .agents
            .values()
            .filter(|a| !a.inbox.is_empty() && self.is_free(a, FreeFor::Message))
            .map(|a| a.spec.name.clone())
            .collect();
        for name in due {
            let Some(a) = self.agents.get_mut(&name) else {
                continue;
            };
            let text = a.inbox.remove(0);
            a.sending = Some(Sending::new(a, now, text.clone(), None, SendKind::Notice));
            out.push(Action::Paste { agent: name, text });
        }
    }
}
