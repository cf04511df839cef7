//! Task bookkeeping: tasks coming in and changing, their dependencies, the ready queue, the
//! feature count of the test-task rule, and a task blocked for credits moving elsewhere.

use std::collections::BTreeSet;

use super::Action;
use super::Engine;
use super::TaskRt;
use super::Turn;
use crate::task::Status;
use crate::task::Task;
use crate::task::TaskId;
use crate::vocab::NoticeKind;

impl Engine {
    /// Loads tasks from the store at start-up, all at once: no decision is taken until every
    /// one is known (the first event after this dispatches).
    pub fn load(&mut self, tasks: impl IntoIterator<Item = Task>) {
        for t in tasks {
            self.add_task(t);
        }
    }

    /// Returns a task as the engine sees it.
    pub fn task(&self, id: TaskId) -> Option<&Task> {
        self.tasks.get(&id).map(|t| &t.task)
    }

    /// Returns the tasks an agent holds.
    pub fn agent_tasks(&self, agent: &str) -> &[TaskId] {
        self.agents.get(agent).map_or(&[], |a| a.tasks.as_slice())
    }

    /// Returns the ready tasks, best first.
    pub fn ready_tasks(&self) -> Vec<TaskId> {
        self.ready.iter().map(|(_, id)| *id).collect()
    }

    /// Returns the agents' names.
    pub fn agent_names(&self) -> Vec<String> {
        self.agents.keys().cloned().collect()
    }

    pub(super) fn add_task(&mut self, task: Task) {
        let id = task.id;
        let open_deps = task
            .deps
            .iter()
            .filter(|d| {
                self.unmerged_dep(**d)
                    || self
                        .tasks
                        .get(d)
                        .is_none_or(|t| t.task.status != Status::Completed)
            })
            .count();
        for d in &task.deps {
            match self.tasks.get_mut(d) {
                Some(dep) => dep.dependents.push(id),
                // Not known yet: it finds its dependents when it arrives.
                None => self.waiting_on.entry(*d).or_default().push(id),
            }
        }
        let dependents = self.waiting_on.remove(&id).unwrap_or_default();
        if let Some(old) = self.tasks.get(&id).map(|t| t.task.clone()) {
            self.count_feature(&old, false);
        }
        self.count_feature(&task, true);
        if task.skills.iter().any(|s| s == "test") {
            for d in &task.deps {
                self.tested.insert(*d);
                self.untested.remove(d);
            }
        }
        let status = task.status;
        let assignee = task.assignee.clone();
        self.tasks.insert(
            id,
            TaskRt {
                task,
                excluded: BTreeSet::new(),
                open_deps,
                dependents,
            },
        );
        if status == Status::InProgress
            && let Some(agent) = assignee
            && let Some(a) = self.agents.get_mut(&agent)
            && !a.tasks.contains(&id)
        {
            // Resumed after a restart: the agent may still be working on it.
            a.tasks.push(id);
            a.turn = Turn {
                resumed: true,
                seen_working: true,
                ..Turn::default()
            };
        }
        self.finished = false;
        self.refresh_ready(id);
    }

    pub(super) fn is_feature(&self, t: &Task) -> bool {
        !t.skills
            .iter()
            .any(|s| self.settings.not_features.contains(s))
    }

    /// Counts a task in (or out of) the feature bookkeeping of the test-task rule.
    pub(super) fn count_feature(&mut self, t: &Task, add: bool) {
        if !self.is_feature(t) {
            return;
        }
        if matches!(t.status, Status::Pending | Status::InProgress) {
            if add {
                self.open_features += 1;
            } else {
                self.open_features = self.open_features.saturating_sub(1);
            }
        }
        if t.status == Status::Completed && !self.tested.contains(&t.id) {
            if add {
                self.untested.insert(t.id);
            } else {
                self.untested.remove(&t.id);
            }
        }
    }

    pub(super) fn refresh_ready(&mut self, id: TaskId) {
        let Some(t) = self.tasks.get(&id) else { return };
        let key = (t.task.priority, id);
        if t.task.status == Status::Pending && t.open_deps == 0 {
            self.ready.insert(key);
        } else {
            self.ready.remove(&key);
        }
    }

    pub(super) fn set_status(&mut self, id: TaskId, status: Status) {
        let Some(t) = self.tasks.get_mut(&id) else {
            return;
        };
        let was = t.task.status;
        if was != status {
            let mut before = t.task.clone();
            before.status = was;
            let mut after = before.clone();
            after.status = status;
            self.count_feature(&before, false);
            self.count_feature(&after, true);
        }
        let Some(t) = self.tasks.get_mut(&id) else {
            return;
        };
        t.task.status = status;
        // Work that ended, reported or not, closes for its wave: the verify checks it too.
        if (status.is_final() || matches!(status, Status::Blocked | Status::Unreported))
            && self.wave_tasks.remove(&id)
        {
            self.wave_closed += 1;
        }
        if status == Status::Completed && was != Status::Completed && !self.unmerged_dep(id) {
            self.release_dependents(id);
        }
        if was == Status::Completed && status != Status::Completed && !self.unmerged_dep(id) {
            // Reopened: its dependents not started yet wait for it again.
            self.hold_dependents(id);
        }
        self.refresh_ready(id);
    }

    /// A dependency of these tasks is satisfied.
    pub(super) fn release_dependents(&mut self, id: TaskId) {
        self.dependency_changed(id, true);
    }

    /// A dependency of these tasks is open again (its task was reopened).
    pub(super) fn hold_dependents(&mut self, id: TaskId) {
        self.dependency_changed(id, false);
    }

    /// One dependency of `id`'s dependents closed (`done`) or opened again.
    pub(super) fn dependency_changed(&mut self, id: TaskId, done: bool) {
        let Some(t) = self.tasks.get(&id) else {
            return;
        };
        for d in t.dependents.clone() {
            if let Some(dt) = self.tasks.get_mut(&d) {
                dt.open_deps = if done {
                    dt.open_deps.saturating_sub(1)
                } else {
                    dt.open_deps + 1
                };
            }
            self.refresh_ready(d);
        }
    }

    pub(super) fn release(&mut self, agent: &str, task: TaskId) {
        if let Some(a) = self.agents.get_mut(agent) {
            a.tasks.retain(|t| *t != task);
            if a.sending.as_ref().is_some_and(|s| s.task == Some(task)) {
                // Its text may still sit unsubmitted in the prompt box: cleared before the
                // next prompt is pasted, or the two would be submitted as one.
                a.sending = None;
                a.stale_input = true;
            }
            if a.tasks.is_empty() {
                a.turn = Turn::default();
            }
        }
    }

    pub(super) fn holder(&self, task: TaskId) -> Option<String> {
        self.agents
            .iter()
            .find(|(_, a)| a.tasks.contains(&task))
            .map(|(n, _)| n.clone())
    }

    pub(super) fn task_changed(&mut self, task: Task, out: &mut Vec<Action>) {
        let id = task.id;
        if !self.tasks.contains_key(&id) {
            self.add_task(task);
            return;
        }
        let status = task.status;
        let holder = self.holder(id);
        if let Some(t) = self.tasks.get_mut(&id) {
            t.task.assignee = task.assignee.clone();
            t.task.attempts = task.attempts;
            t.task.blocked_reason = task.blocked_reason.clone();
            t.task.priority = task.priority;
        }
        if status == Status::Completed {
            self.queue_merge(id, out);
        }
        let was = self.tasks.get(&id).map(|t| t.task.status);
        // Priority may have changed: re-key.
        self.ready.retain(|(_, t)| *t != id);
        self.set_status(id, status);
        if let Some(was) = was {
            self.review_settled(id, was, status, out);
        }
        if status != Status::InProgress
            && let Some(agent) = &holder
        {
            // Taken from it by a person (requeued, reassigned, cancelled): an agent still at
            // work on it is interrupted, or it would go on and report a task given to another
            // (a reassigned task was done three times so).
            let taken = matches!(status, Status::Pending | Status::Cancelled);
            if taken
                && self
                    .agents
                    .get(agent)
                    .is_some_and(|a| !a.state().is_ready())
            {
                out.push(Action::Press {
                    agent: agent.clone(),
                    key: super::Key::CtrlC,
                });
                out.push(Action::Journal {
                    agent: Some(agent.clone()),
                    task: Some(id),
                    what: format!("interrupted: {id} was taken from it ({status})"),
                });
            }
            self.release(agent, id);
            if let Some(a) = self.agents.get_mut(agent) {
                a.restarts = 0;
            }
        }
        if status == Status::Blocked {
            let reason = task.blocked_reason.clone().unwrap_or_default();
            let lower = reason.to_lowercase();
            if [
                "credit",
                "quota",
                "usage limit",
                "rate limit",
                "limit reached",
            ]
            .iter()
            .any(|w| lower.contains(w))
            {
                if let (Some(agent), Some(t)) = (&holder, self.tasks.get_mut(&id)) {
                    t.excluded.insert(agent.clone());
                }
                if let Some(agent) = &holder
                    && let Some(a) = self.agents.get_mut(agent)
                {
                    a.limited = true;
                }
                out.push(Action::Requeue {
                    task: id,
                    reason: format!("blocked for {reason}: given to another agent"),
                });
                self.set_status(id, Status::Pending);
            } else {
                out.push(Action::Notify {
                    kind: NoticeKind::TaskBlocked,
                    message: format!("{id} is BLOCKED: {reason}"),
                });
            }
        }
    }
}
