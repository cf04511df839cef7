//! Worktree isolation: the engine's side of the verified merge queue.
//!
//! An agent with a worktree of its own (`AgentSpec::worktree`) works on branch `baton/<agent>`.
//! When one of its tasks goes COMPLETED the engine asks the shell to queue a merge
//! (`QueueMerge`); the shell commits what the agent left, rebases the branch onto the
//! integration branch in a scratch worktree, runs the verify commands there and fast-forwards
//! the integration branch only if they pass, one merge at a time, then reports
//! `MergeFinished`. The rules kept here:
//!
//! - A completed task whose work is not merged yet does not satisfy its dependents: a task
//!   built on it would start from an integration branch without it.
//! - A conflict or a failed verify becomes a fix task pinned to the same agent (priority
//!   high, skills `fix` and [`MERGE_SKILL`], plus [`CONFLICT_SKILL`] for a conflict), with
//!   the conflicting files or the error excerpt: only that agent's worktree holds the work, so
//!   the pin never lapses. After `max_fix_cycles` failed merges in a row the person is told
//!   instead. A merge that git itself could not do (`Error`) is the person's to look at, not
//!   the agent's: a notice, no fix task, and a later merge of the agent does not count it as
//!   merged. Work that could not be committed (a pre-commit hook refused it) is a fix task.
//! - A merge of the agent's branch brings everything it committed, so it also settles the
//!   agent's earlier tasks whose merge failed.
//! - The run is not finished while a merge is queued or running.

use serde::Deserialize;
use serde::Serialize;

use super::Action;
use super::Engine;
use super::TaskPurpose;
use crate::task::NewTask;
use crate::task::Priority;
use crate::task::Status;
use crate::task::TaskId;
use crate::vocab::MergeState;
use crate::vocab::NoticeKind;

/// The skill of fix tasks made by the merge queue: pinned to their agent.
pub const MERGE_SKILL: &str = "merge";

/// The skill of a merge fix that resolves a conflict: its worktree is left stopped at the
/// conflict for the agent to resolve.
pub const CONFLICT_SKILL: &str = "conflict";

/// How a queued merge ended.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "outcome", rename_all = "kebab-case")]
pub enum MergeOutcome {
    /// The integration branch was fast-forwarded to `commit` (or already held the change).
    Merged {
        /// The integration branch's new head.
        commit: String,
    },
    /// The rebase onto the integration branch stopped on conflicts.
    Conflict {
        /// The conflicting files.
        files: Vec<String>,
        /// The conflicting hunks, as git showed them.
        excerpt: String,
    },
    /// A verify command failed on the rebased change.
    Failed {
        /// The command.
        command: String,
        /// The end of its output.
        excerpt: String,
    },
    /// The agent's work could not be committed (a pre-commit hook refused it, a lock): it is
    /// still uncommitted in the worktree.
    CommitFailed {
        /// What git (or the hook) said.
        excerpt: String,
    },
    /// git itself failed (a missing worktree, a broken repository, the worktree off its
    /// branch).
    Error {
        /// What git said.
        message: String,
    },
}

impl MergeOutcome {
    /// The state the merge's row records, with its detail: the conflicting files or the
    /// failed command (`git commit` for work that could not be committed) and the end of its
    /// output, or what git said.
    pub fn state(&self) -> (MergeState, String) {
        match self {
            MergeOutcome::Merged { .. } => (MergeState::Merged, String::new()),
            MergeOutcome::Conflict { files, excerpt } => (
                MergeState::Conflict,
                format!("{}\n{excerpt}", files.join(", ")),
            ),
            MergeOutcome::Failed { command, excerpt } => {
                (MergeState::Failed, format!("`{command}`\n{excerpt}"))
            }
            MergeOutcome::CommitFailed { excerpt } => {
                (MergeState::Failed, format!("`git commit`\n{excerpt}"))
            }
            MergeOutcome::Error { message } => (MergeState::Error, message.clone()),
        }
    }
}

impl Engine {
    /// Restores merges that were queued or waiting for a fix when the daemon stopped: call it
    /// before [`Engine::load`], so dependents of unmerged work are held from the start.
    /// `queued` is true for a merge still to run, false for one whose fix task is pending.
    /// Also used when a person queues a merge again (`baton merge-queue --retry`).
    pub fn load_merges(&mut self, pending: impl IntoIterator<Item = (TaskId, String, bool)>) {
        for (task, agent, queued) in pending {
            if queued {
                self.merging.insert(task);
            }
            self.unmerged.insert(task, agent);
        }
    }

    /// Restores how many merges of each agent failed in a row (fix cycles already spent).
    pub fn load_merge_fixes(&mut self, failed: impl IntoIterator<Item = (String, u32)>) {
        self.merge_fixes.extend(failed);
    }

    /// Returns how many merges are queued or running.
    pub fn merges_pending(&self) -> usize {
        self.merging.len()
    }

    /// Returns true when a merge fix for this agent is waiting or under way: its other merges
    /// would fail the same way, so they wait for the fix's. A BLOCKED fix holds nothing (it
    /// waits for a person; the queue goes on).
    pub fn open_merge_fix(&self, agent: &str) -> bool {
        self.tasks.values().any(|t| {
            t.task.assignee.as_deref() == Some(agent)
                && matches!(t.task.status, Status::Pending | Status::InProgress)
                && t.task.skills.iter().any(|s| s == MERGE_SKILL)
        })
    }

    /// Returns true when the task's dependents must wait: it is done but not merged.
    pub(super) fn unmerged_dep(&self, task: TaskId) -> bool {
        self.unmerged.contains_key(&task)
    }

    /// A task is going COMPLETED: if its agent works in a worktree, its merge is queued.
    pub(super) fn queue_merge(&mut self, task: TaskId, out: &mut Vec<Action>) {
        let Some(t) = self.tasks.get(&task) else {
            return;
        };
        // An UNREPORTED task's merge was queued when it ended: confirming it queues nothing.
        if matches!(t.task.status, Status::Completed | Status::Unreported)
            || self.merging.contains(&task)
        {
            return;
        }
        let Some(agent) = t.task.assignee.clone() else {
            return;
        };
        if self
            .agents
            .get(&agent)
            .is_none_or(|a| a.spec.worktree.is_none())
        {
            return;
        }
        self.merging.insert(task);
        self.unmerged.insert(task, agent.clone());
        out.push(Action::QueueMerge { task, agent });
    }

    pub(super) fn merge_finished(
        &mut self,
        task: TaskId,
        agent: &str,
        outcome: MergeOutcome,
        out: &mut Vec<Action>,
    ) {
        self.merging.remove(&task);
        if let MergeOutcome::Merged { .. } = outcome {
            self.merge_fixes.remove(agent);
            self.merge_errors.remove(&task);
            // The branch carried all the agent committed: its earlier failed merges are in too
            // (not those git could not do: that work may not be on the branch).
            let settled: Vec<TaskId> = self
                .unmerged
                .iter()
                .filter(|(t, a)| {
                    a.as_str() == agent
                        && (**t == task
                            || !(self.merging.contains(t) || self.merge_errors.contains(t)))
                })
                .map(|(t, _)| *t)
                .collect();
            for t in settled {
                self.unmerged.remove(&t);
                if self
                    .tasks
                    .get(&t)
                    .is_some_and(|rt| rt.task.status == Status::Completed)
                {
                    self.release_dependents(t);
                }
            }
            return;
        }
        if let MergeOutcome::Error { message } = &outcome {
            self.merge_errors.insert(task);
            out.push(Action::Notify {
                kind: NoticeKind::VerifyFailed,
                message: format!(
                    "the merge of {agent}'s change for {task} failed in git: {}; fix it, then `baton merge-queue --retry`",
                    message.lines().last().unwrap_or("")
                ),
            });
            return;
        }
        let (what, detail) = match &outcome {
            MergeOutcome::Conflict { files, excerpt } => (
                format!(
                    "conflicts with the integration branch in {}",
                    files.join(", ")
                ),
                excerpt.clone(),
            ),
            MergeOutcome::Failed { command, excerpt } => {
                (format!("fails `{command}` once rebased"), excerpt.clone())
            }
            MergeOutcome::CommitFailed { excerpt } => {
                ("could not be committed".to_owned(), excerpt.clone())
            }
            MergeOutcome::Error { .. } | MergeOutcome::Merged { .. } => {
                unreachable!("handled above")
            }
        };
        let cycles = self.merge_fixes.entry(agent.to_owned()).or_insert(0);
        if *cycles >= self.settings.max_fix_cycles {
            out.push(self.fixes_exhausted(
                &format!("{agent}'s change for {task} still {what}"),
                ("fix task", "fix tasks"),
            ));
            return;
        }
        *cycles += 1;
        let cycle = *cycles;
        let max = self.settings.max_fix_cycles;
        let (title, body) = match &outcome {
            MergeOutcome::Conflict { files, .. } => (
                format!("Resolve the merge conflict of {task}"),
                format!(
                    "Your change for {task} conflicts with work merged meanwhile (fix {cycle} of {max}).\n\
                     Your worktree has been rebased onto the integration branch and stopped at the conflict in: {}.\n\
                     Edit those files so both changes are kept and the conflict markers are gone. Do not run `git rebase --continue` or `--abort`: report this task done and baton continues the rebase, then merges once verify passes.\n\n\
                     The conflict, as git showed it:\n\n```\n{}\n```",
                    files.join(", "),
                    detail.trim_end()
                ),
            ),
            MergeOutcome::CommitFailed { .. } => (
                format!("Fix: {task} {what}"),
                format!(
                    "baton could not commit your work for {task} in your worktree (fix {cycle} of {max}); it is still there, uncommitted.\n\
                     Make the commit possible — fix what git or the hook says below, or commit it yourself — then report this task done: baton commits what is left and merges once verify passes.\n\n\
                     What git said:\n\n```\n{}\n```",
                    detail.trim_end()
                ),
            ),
            _ => (
                format!("Fix: {task} {what}"),
                format!(
                    "Your change for {task} {what} (fix {cycle} of {max}); it was not merged.\n\
                     Your worktree now starts from the integration branch with your change on top. Fix it there without weakening the check, then report this task done: baton merges once verify passes.\n\n\
                     End of the output:\n\n```\n{}\n```",
                    detail.trim_end()
                ),
            ),
        };
        let mut skills = vec!["fix".to_owned(), MERGE_SKILL.to_owned()];
        if let MergeOutcome::Conflict { .. } = outcome {
            skills.push(CONFLICT_SKILL.to_owned());
        }
        self.adds_due += 1;
        out.push(Action::AddTask {
            task: NewTask {
                title,
                body,
                priority: Some(Priority::High),
                skills,
                deps: Vec::new(),
                assignee: Some(agent.to_owned()),
            },
            purpose: TaskPurpose::MergeFix { of: task },
            reason: format!("merge of {task}: {what}"),
        });
    }
}
