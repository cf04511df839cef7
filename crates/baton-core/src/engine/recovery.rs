//! Recovery: turns that end unreported (a nudge), stuck agents (a reminder, a resend, the task
//! elsewhere), dead agents (restarted with backoff), tasks that keep failing (a person).

use super::Action;
use super::Engine;
use super::Key;
use super::LeadPhase;
use super::Turn;
use super::prompt;
use crate::profile::AgentState;
use crate::task::Status;
use crate::task::TaskId;
use crate::vocab::NoticeKind;

impl Engine {
    pub(super) fn turn_ended(&mut self, now: u64, agent: &str, out: &mut Vec<Action>) {
        let Some(a) = self.agents.get_mut(agent) else {
            return;
        };
        if a.sending.is_some() {
            return;
        }
        let Some(&task) = a.tasks.first() else { return };
        if a.detection
            .as_ref()
            .is_some_and(|d| d.state == AgentState::Working)
        {
            // The screen, read just before this event, shows a turn running: the hook that
            // fired is the previous turn's, read late (its task reported and the next one out
            // already). This turn's own end comes later, or its finished screen does.
            return;
        }
        a.turn.ready_since = None;
        a.turn.seen_working = false;
        // A turn that ended on a failed report is no silence: it gets the command instead.
        if self.answer_failed_report(now, agent, task, out) {
            return;
        }
        let Some(a) = self.agents.get_mut(agent) else {
            return;
        };
        if a.turn.resumed {
            // The daemon restarted while this task was out: the prompt may never have
            // arrived. Send it again; an agent that already did the work just reports it.
            a.turn.resumed = false;
            let text = format!(
                "(baton restarted: if you already finished {task}, just report it with {} task done {task}.)\n\n{}",
                self.baton_of(agent),
                self.prompt_for(agent, task)
            );
            self.send(now, agent, task, text, false, out);
            return;
        }
        if !a.turn.nudged {
            a.turn.nudged = true;
            if let Some(t) = self.tasks.get(&task) {
                let text = prompt::short(&self.texts_of(agent).nudge, &t.task);
                self.send(now, agent, task, text, true, out);
            }
        } else {
            self.release(agent, task);
            self.went_unreported(agent, task, out);
        }
    }

    pub(super) fn timers(&mut self, now: u64, out: &mut Vec<Action>) {
        self.quota_resets(now, out);
        let names: Vec<String> = self.agents.keys().cloned().collect();
        for name in names {
            let Some(a) = self.agents.get_mut(&name) else {
                continue;
            };
            if !a.alive {
                if a.restart_at.is_some_and(|t| t <= now) {
                    a.restart_at = None;
                    out.push(Action::StartAgent {
                        agent: name.clone(),
                    });
                }
                continue;
            }
            if a.sending.is_some() {
                self.observe_delivery(now, &name, out);
                continue;
            }
            let Some(&task) = a.tasks.first() else {
                continue;
            };
            if let Some(since) = a.turn.ready_since
                && now.saturating_sub(since) >= a.spec.submit.settle_ms
                && a.state().is_ready()
            {
                self.turn_ended(now, &name, out);
                continue;
            }
            let Some(a) = self.agents.get_mut(&name) else {
                continue;
            };
            // A dialog waits for a person, who was told (needs-input): the agent is not stuck,
            // and a reminder or Ctrl-C would answer or kill the dialog. Its answer changes the
            // screen, and the clock starts again from there.
            if a.state() == AgentState::NeedsInput {
                a.last_change_ms = now;
                continue;
            }
            if now.saturating_sub(a.last_change_ms) < self.settings.stuck_after_ms {
                continue;
            }
            a.last_change_ms = now;
            a.turn.checks += 1;
            let Some(t) = self.tasks.get(&task) else {
                continue;
            };
            match a.turn.checks {
                1 => {
                    let text = prompt::short(&self.texts_of(&name).reminder, &t.task);
                    self.send(now, &name, task, text, true, out);
                }
                2 => {}
                3 if !a.turn.interrupted => {
                    a.turn.interrupted = true;
                    a.turn.checks = 0;
                    let text = self.prompt_for(&name, task);
                    out.push(Action::Press {
                        agent: name.clone(),
                        key: Key::CtrlC,
                    });
                    self.send(now, &name, task, text, false, out);
                    out.push(Action::Journal {
                        agent: Some(name.clone()),
                        task: Some(task),
                        what: "stuck: Ctrl-C and the prompt again".into(),
                    });
                }
                _ => {
                    self.take_back(
                        &name,
                        task,
                        "stuck: no screen change after a reminder and a resend",
                        true,
                        out,
                    );
                    self.schedule_restart(now, &name, out);
                }
            }
        }
    }

    /// Takes a task back from an agent and puts it back in the queue (elsewhere when `exclude`).
    pub(super) fn take_back(
        &mut self,
        agent: &str,
        task: TaskId,
        why: &str,
        exclude: bool,
        out: &mut Vec<Action>,
    ) {
        self.release(agent, task);
        let max = self.settings.max_attempts;
        let Some(t) = self.tasks.get_mut(&task) else {
            return;
        };
        if exclude {
            t.excluded.insert(agent.to_owned());
        }
        if t.task.attempts >= max {
            out.push(Action::NeedsHuman {
                task,
                reason: format!("failed {} times (last: {why})", t.task.attempts),
            });
            out.push(Action::Notify {
                kind: NoticeKind::TaskBlocked,
                message: format!("{task} needs a person: {why}"),
            });
            t.task.blocked_reason = Some(why.to_owned());
            self.set_status(task, Status::Blocked);
        } else {
            out.push(Action::Requeue {
                task,
                reason: format!("{agent}: {why}"),
            });
            self.set_status(task, Status::Pending);
        }
    }

    pub(super) fn schedule_restart(&mut self, now: u64, agent: &str, out: &mut Vec<Action>) {
        let (base, max) = (self.settings.restart_base_ms, self.settings.restart_max_ms);
        let Some(a) = self.agents.get_mut(agent) else {
            return;
        };
        a.alive = false;
        a.detection = None;
        let delay = base.saturating_mul(1u64 << a.restarts.min(16)).min(max);
        a.restarts += 1;
        a.restart_at = Some(now + delay);
        out.push(Action::Journal {
            agent: Some(agent.to_owned()),
            task: None,
            what: format!("restart in {} ms (restart #{})", delay, a.restarts),
        });
    }

    pub(super) fn agent_died(&mut self, now: u64, agent: &str, out: &mut Vec<Action>) {
        let Some(a) = self.agents.get_mut(agent) else {
            return;
        };
        let tasks = std::mem::take(&mut a.tasks);
        let taking_over = a.sending.as_ref().is_some_and(|s| s.takeover);
        a.sending = None;
        a.turn = Turn::default();
        if taking_over
            || matches!(&self.lead.snap.phase, LeadPhase::Takeover { to, .. } if to == agent)
        {
            self.takeover_failed(agent, "it died", out);
        }
        out.push(Action::Notify {
            kind: NoticeKind::AgentDead,
            message: format!("{agent} exited"),
        });
        for t in tasks {
            self.take_back(agent, t, "the agent died", true, out);
        }
        self.schedule_restart(now, agent, out);
    }
}
