//! Dispatch: every free agent gets the best ready task that fits it, at once.

use super::Action;
use super::AgentRt;
use super::Engine;
use super::FreeFor;
use super::MERGE_SKILL;
use super::SendKind;
use super::Sending;
use super::TaskRt;
use super::Turn;
use super::prompt;
use crate::task::Status;
use crate::task::TaskId;

impl Engine {
    /// Returns true when `agent` could take `task` right now (used by the simulator's checks).
    pub fn could_take(&self, agent: &str, task: TaskId) -> bool {
        let (Some(a), Some(t)) = (self.agents.get(agent), self.tasks.get(&task)) else {
            return false;
        };
        self.is_free(a, FreeFor::Task) && self.fits(a, t)
    }

    /// Returns an agent that is free while a ready task fits it, if any: after every step
    /// there should be none (the simulator asserts it).
    pub fn idle_agent_with_work(&self) -> Option<(String, TaskId)> {
        if self.paused {
            return None;
        }
        for a in self
            .agents
            .values()
            .filter(|a| self.is_free(a, FreeFor::Task))
        {
            for (_, id) in &self.ready {
                if self.tasks.get(id).is_some_and(|t| self.fits(a, t)) {
                    return Some((a.spec.name.clone(), *id));
                }
            }
        }
        None
    }

    /// Whether an agent is free for `what`: the one "agent is free" rule of the engine. For a
    /// task, quota must not hold it back and the lead role must not keep it (resting,
    /// preparing, handing over, taking over).
    pub(super) fn is_free(&self, a: &AgentRt, what: FreeFor) -> bool {
        a.free(what) && (what == FreeFor::Message || (!self.held_back(a) && !self.lead_holds(a)))
    }

    /// Whether an agent cannot work for a while (limited, held back by quota, resting or
    /// handing the lead over): its reservations lapse and its skills count for nothing.
    pub(super) fn out_for_now(&self, a: &AgentRt) -> bool {
        a.limited || self.held_back(a) || self.lead_holds_long(a)
    }

    /// Why an agent is out for now, in words (see [`Engine::out_for_now`]).
    fn out_reason(&self, a: &AgentRt) -> &'static str {
        if a.limited {
            "at its usage limit"
        } else if self.held_back(a) {
            "its quota holds it back"
        } else {
            "the lead role keeps it"
        }
    }

    pub(super) fn fits(&self, a: &AgentRt, t: &TaskRt) -> bool {
        // A merge fix belongs to the agent whose worktree holds the work, whatever happens
        // (even after that agent was excluded from it: nobody else can do it).
        if t.task.skills.iter().any(|s| s == MERGE_SKILL)
            && let Some(to) = &t.task.assignee
            && self.agents.contains_key(to)
        {
            return *to == a.spec.name;
        }
        // Excluded agents are tried again only once every agent has been excluded.
        let workers = self
            .agents
            .values()
            .filter(|a| a.spec.max_tasks > 0)
            .count();
        if t.excluded.contains(&a.spec.name) && t.excluded.len() < workers {
            return false;
        }
        // `--to agent` reserves a task until it is first given out; after that the assignee
        // is only who had it last, and a requeued task may go anywhere not excluded.
        // A reservation lapses while its agent cannot work for a while (resting after a
        // handoff, held back by quota, limited): the task goes elsewhere rather than wait.
        if t.task.attempts == 0
            && let Some(to) = &t.task.assignee
            && let Some(reserved) = self.agents.get(to)
        {
            if *to == a.spec.name {
                // Reserved for it: its skills do not matter (a feature's test task goes to
                // its builder, who may not have the `test` skill another agent has).
                return true;
            }
            if !self.out_for_now(reserved) {
                return false;
            }
        }
        // A skilled task goes to an agent with one of its skills; to anyone when no agent that
        // has them may take it (none exists, all were excluded from it, or they cannot work
        // for a while).
        t.task.skills.is_empty()
            || t.task.skills.iter().any(|s| a.spec.skills.contains(s))
            || !t.task.skills.iter().any(|s| {
                self.skilled.get(s).is_some_and(|names| {
                    names.iter().any(|n| {
                        !t.excluded.contains(n)
                            && self.agents.get(n).is_some_and(|sa| !self.out_for_now(sa))
                    })
                })
            })
    }

    pub(super) fn dispatch(&mut self, now: u64, out: &mut Vec<Action>) {
        self.deliver_messages(now, out);
        if self.paused {
            return;
        }
        let mut free = self
            .agents
            .values()
            .filter(|a| self.is_free(a, FreeFor::Task))
            .count();
        if free == 0 || self.ready.is_empty() {
            return;
        }
        let ready: Vec<TaskId> = self.ready.iter().map(|(_, id)| *id).collect();
        for id in ready {
            if free == 0 {
                break;
            }
            let Some(t) = self.tasks.get(&id) else {
                continue;
            };
            let best = self
                .agents
                .values()
                .filter(|a| self.is_free(a, FreeFor::Task) && self.fits(a, t))
                .max_by_key(|a| {
                    let overlap = t
                        .task
                        .skills
                        .iter()
                        .filter(|s| a.spec.skills.contains(s))
                        .count();
                    (
                        overlap,
                        std::cmp::Reverse(a.tasks.len()),
                        std::cmp::Reverse(a.spec.name.clone()),
                    )
                })
                .map(|a| a.spec.name.clone());
            let Some(agent) = best else { continue };
            // A reservation that lapsed is said, with why (it went elsewhere in silence).
            if t.task.attempts == 0
                && let Some(to) = t.task.assignee.as_ref().filter(|to| **to != agent)
                && let Some(reserved) = self.agents.get(to)
            {
                out.push(Action::Journal {
                    agent: Some(agent.clone()),
                    task: Some(id),
                    what: format!(
                        "reserved for {to}, who cannot work for now ({}): given to {agent}",
                        self.out_reason(reserved)
                    ),
                });
            }
            let text = self.prompt_for(&agent, id);
            if let Some(t) = self.tasks.get_mut(&id) {
                t.task.attempts = t.task.attempts_after(Status::InProgress);
                t.task.assignee = Some(agent.clone());
            }
            self.wave_tasks.insert(id);
            self.set_status(id, Status::InProgress);
            let Some(a) = self.agents.get_mut(&agent) else {
                continue;
            };
            a.tasks.push(id);
            a.turn = Turn::default();
            a.sending = Some(Sending::new(
                a,
                now,
                text.clone(),
                Some(id),
                SendKind::Prompt,
            ));
            out.push(Action::Assign {
                task: id,
                agent: agent.clone(),
            });
            out.push(Action::Paste { agent, text });
            free = self
                .agents
                .values()
                .filter(|a| self.is_free(a, FreeFor::Task))
                .count();
        }
    }

    pub(super) fn prompt_for(&self, agent: &str, task: TaskId) -> String {
        let Some(t) = self.tasks.get(&task) else {
            return String::new();
        };
        prompt::render(
            self.template_of(agent),
            &prompt::PromptContext {
                task: &t.task,
                agent,
                workdir: self
                    .agents
                    .get(agent)
                    .and_then(|a| a.spec.worktree.as_deref())
                    .unwrap_or("."),
                memory_file: &self.settings.memory_file,
            },
        )
    }
}
