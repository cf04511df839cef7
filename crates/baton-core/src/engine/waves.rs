//! Verify waves, the test tasks of finished features, and the end of the run.

use super::Action;
use super::Engine;
use super::TaskPurpose;
use super::prompt;
use crate::task::NewTask;
use crate::task::Priority;
use crate::task::Status;
use crate::task::TaskId;
use crate::vocab::NoticeKind;

impl Engine {
    /// Once no feature is PENDING or IN_PROGRESS, each COMPLETED feature without a test task
    /// gets one, reserved for the agent that built it.
    pub(super) fn check_tests(&mut self, out: &mut Vec<Action>) {
        if !self.settings.test_tasks || self.open_features > 0 || self.untested.is_empty() {
            return;
        }
        // By priority, then ID: the shell adds them in this order and dispatch sees the most
        // important first.
        let mut features: Vec<(Priority, TaskId)> = std::mem::take(&mut self.untested)
            .into_iter()
            .filter_map(|id| self.tasks.get(&id).map(|t| (t.task.priority, id)))
            .collect();
        features.sort();
        for (_, id) in features {
            let Some(t) = self.tasks.get(&id) else {
                continue;
            };
            let agent = t.task.assignee.clone();
            let (title, body) = prompt::test_task_text(
                &self.settings.texts,
                &t.task,
                agent.as_deref().unwrap_or("an agent"),
            );
            let priority = t.task.priority;
            self.tested.insert(id);
            self.adds_due += 1;
            out.push(Action::AddTask {
                task: NewTask {
                    title,
                    body,
                    priority: Some(priority),
                    skills: vec!["test".to_owned()],
                    deps: vec![id],
                    assignee: agent,
                },
                purpose: TaskPurpose::Test { of: id },
                reason: format!("every feature is done: {id} gets its test task"),
            });
        }
    }

    pub(super) fn check_waves(&mut self, out: &mut Vec<Action>) {
        if self.wave_tasks.is_empty() && self.wave_closed > 0 {
            let wave = self.wave;
            self.wave += 1;
            self.wave_closed = 0;
            if !self.settings.verify_commands.is_empty() {
                self.waiting_waves.push(wave);
            }
        }
        if self.verifying.is_none()
            && let Some(wave) = self.waiting_waves.first().copied()
        {
            self.waiting_waves.remove(0);
            self.verifying = Some((wave, 0, true));
            out.push(Action::RunVerify {
                wave,
                commands: self.settings.verify_commands.clone(),
            });
        }
    }

    /// The notice that the fixes ran out: "`{what}` after N fix cycles: a person must look".
    pub(super) fn fixes_exhausted(&self, what: &str, (one, many): (&str, &str)) -> Action {
        Action::Notify {
            kind: NoticeKind::VerifyFailed,
            message: format!(
                "{what} after {}: a person must look",
                crate::render::plural(self.settings.max_fix_cycles as usize, one, many)
            ),
        }
    }

    /// Restores the result of the last verify of an earlier run (`None`: none ran), so that
    /// a resumed run that verifies nothing new says it, not a pass it did not see.
    pub fn load_last_verify(&mut self, passed: Option<bool>) {
        self.last_verify = passed;
    }

    pub(super) fn verify_finished(
        &mut self,
        wave: u64,
        command: &str,
        ok: bool,
        excerpt: &str,
        out: &mut Vec<Action>,
    ) {
        let Some((w, done, all_ok)) = self.verifying.as_mut() else {
            return;
        };
        if *w != wave {
            return;
        }
        *done += 1;
        *all_ok &= ok;
        if !ok {
            let cycles = self.fix_cycles.entry(command.to_owned()).or_insert(0);
            if *cycles < self.settings.max_fix_cycles {
                *cycles += 1;
                self.adds_due += 1;
                out.push(Action::AddTask {
                    task: NewTask {
                        title: format!("Fix: `{command}` fails"),
                        body: format!(
                            "The verify command `{command}` failed after wave {wave} (fix cycle {cycles} of {}).\n\nEnd of its output:\n\n```\n{}\n```\n\nMake it pass without weakening the check.",
                            self.settings.max_fix_cycles,
                            excerpt.trim_end()
                        ),
                        priority: Some(Priority::High),
                        skills: vec!["fix".to_owned()],
                        deps: Vec::new(),
                        assignee: None,
                    },
                    purpose: TaskPurpose::VerifyFix {
                        wave,
                        command: command.to_owned(),
                    },
                    reason: format!("verify failed: {command}"),
                });
            } else {
                out.push(self.fixes_exhausted(
                    &format!("`{command}` still fails"),
                    ("fix cycle", "fix cycles"),
                ));
            }
        }
        let (_, done, all_ok) = *self.verifying.as_ref().expect("checked above");
        if done >= self.settings.verify_commands.len() {
            self.verifying = None;
            self.last_verify = Some(all_ok);
            out.push(Action::VerifyDone {
                wave,
                passed: all_ok,
            });
            if !all_ok {
                out.push(Action::Notify {
                    kind: NoticeKind::VerifyFailed,
                    message: format!("verify of wave {wave} failed"),
                });
            }
        }
    }

    pub(super) fn check_finished(&mut self, out: &mut Vec<Action>) {
        if self.finished || self.tasks.is_empty() {
            return;
        }
        let busy = self
            .agents
            .values()
            .any(|a| !a.tasks.is_empty() || a.sending.is_some());
        // Ready work and an agent that may take it, now or once it is up: not over.
        let dispatchable =
            !self.ready.is_empty() && self.agents.values().any(|a| a.spec.max_tasks > 0);
        if busy
            || dispatchable
            || self.adds_due > 0
            || self.verifying.is_some()
            || !self.merging.is_empty()
            || !self.waiting_waves.is_empty()
            || !self.wave_tasks.is_empty()
        {
            return;
        }
        self.finished = true;
        let count = |s: Status| self.tasks.values().filter(|t| t.task.status == s).count();
        let (done, blocked, pending) = (
            count(Status::Completed),
            count(Status::Blocked),
            count(Status::Pending),
        );
        let verify = match (self.settings.verify_commands.is_empty(), self.last_verify) {
            (true, _) => "",
            (false, Some(true)) => ", last verify passed",
            (false, Some(false)) => ", last verify FAILED",
            (false, None) => ", no verify ran",
        };
        // Work nobody reported is not counted as completed: it comes first, to be reviewed.
        let unreported = match count(Status::Unreported) {
            0 => String::new(),
            n => format!("{n} done, unreported: review · "),
        };
        // Completed work whose merge failed for good is not on the integration branch.
        let unmerged = match self.unmerged.len() {
            0 => String::new(),
            n => format!(", {n} not merged"),
        };
        out.push(Action::Finished {
            summary: format!(
                "{unreported}{done} completed, {blocked} blocked, {pending} waiting{unmerged}{verify}"
            ),
        });
    }
}
