//! The merge pump: restoring the queue after a stop, queueing a finished task's branch,
//! running merges (in batches) on a thread and recording their outcomes.

use std::collections::BTreeSet;
use std::collections::VecDeque;

use baton_core::engine::Event;
use baton_core::task::TaskId;
use baton_core::vocab::JournalAction;
use baton_core::vocab::MergeState;

use crate::error::CliResult;

use super::Shell;
use super::Wake;

impl Shell<'_> {
    /// Restores the merge queue after a stop: kills a verify the stopped daemon left
    /// running, puts merges left running back in the queue, queues tasks reported done while
    /// no daemon ran, and tells the engine which completed work is not merged yet (before
    /// the tasks are loaded, so their dependents wait). What committing those tasks met (a
    /// conflict) reaches the engine once the tasks are loaded.
    pub(super) fn restore_merges(&mut self) -> CliResult<()> {
        if self.integration.is_none() {
            return Ok(());
        }
        crate::worktrees::kill_stale_verify(&self.project.root);
        let requeued = self.store.requeue_running_merges()?;
        if requeued > 0 {
            self.journal(
                None,
                None,
                JournalAction::Merge,
                &format!("{requeued} merge(s) interrupted by a stop: queued again"),
            );
        }
        let isolated: Vec<String> = crate::worktrees::isolated(self.project)
            .iter()
            .map(|a| a.name.clone())
            .collect();
        let mut events = Vec::new();
        for (task, agent) in self.store.completed_without_merge(&isolated)? {
            let mut one = VecDeque::new();
            self.queue_merge(task, &agent, &mut one)?;
            // An outcome met while committing: its record waits for its own event (fed once
            // the tasks are loaded), to be committed with the fix task it leads to.
            if let (Some(ev), Some(write)) = (one.pop_back(), self.merge_due.pop()) {
                events.push((ev, write));
            }
        }
        let mut pending = self.store.pending_merges()?;
        for (ev, _) in &events {
            if let Event::MergeFinished { task, agent, .. } = ev {
                pending.push((*task, agent.clone(), true));
            }
        }
        self.engine.load_merges(pending);
        self.engine
            .load_merge_fixes(self.store.merge_failures_in_a_row()?);
        self.restart_events = events;
        Ok(())
    }

    /// Commits what the agent left for a task it reported done and queues its branch; an
    /// outcome met on the way (conflict markers left, another conflict, a wrong branch) is
    /// reported at once.
    pub(super) fn queue_merge(
        &mut self,
        task: TaskId,
        agent: &str,
        queue: &mut VecDeque<Event>,
    ) -> CliResult<()> {
        let t = self.store.task(task)?;
        let outcome = match crate::worktrees::commit_done(self.project, agent, &t) {
            Ok(crate::worktrees::Committed::Ready { commit, held_back }) => {
                let id = self.store.queue_merge(task, agent)?;
                let mut what = match commit {
                    Some(c) => format!("committed {} and queued (#{id})", &c[..c.len().min(12)]),
                    None => format!("queued (#{id})"),
                };
                if !held_back.is_empty() {
                    what.push_str(&format!(
                        "; not committed, they look like secrets: {} (commit them yourself, or ignore them)",
                        held_back.join(", ")
                    ));
                }
                self.journal(Some(agent), Some(task), JournalAction::Merge, &what);
                return Ok(());
            }
            Ok(crate::worktrees::Committed::Outcome(outcome)) => outcome,
            // A pre-commit hook refused it, a lock: the work is still there, for a fix.
            Err(err) => baton_core::engine::MergeOutcome::CommitFailed {
                excerpt: err.to_string(),
            },
        };
        let (state, detail) = outcome.state();
        self.journal(
            Some(agent),
            Some(task),
            JournalAction::Merge,
            &format!(
                "not queued: {state}: {}",
                detail.lines().next().unwrap_or("")
            ),
        );
        self.merge_due.push(crate::store::MergeWrite {
            id: None,
            merge: crate::store::Merge {
                task,
                agent: agent.to_owned(),
                state,
                base: None,
                head: None,
                merge_commit: None,
                detail,
            },
        });
        queue.push_back(Event::MergeFinished {
            task,
            agent: agent.to_owned(),
            outcome,
        });
        Ok(())
    }

    /// Starts the next queued merge when none runs. A merge of an agent whose earlier merge
    /// failed waits for that failure's fix (it would fail the same way and spend a fix
    /// cycle); the fix's own merge goes first.
    pub(super) fn pump_merges(&mut self) {
        let Some(integration) = self.integration.clone() else {
            return;
        };
        if self.merging {
            return;
        }
        let rows = match self.store.queued_merges() {
            Ok(rows) => rows,
            Err(err) => {
                eprintln!("warning: merge queue: {err}");
                return;
            }
        };
        let is_fix = |task: TaskId| {
            self.engine.task(task).is_some_and(|t| {
                t.skills
                    .iter()
                    .any(|s| s == baton_core::engine::MERGE_SKILL)
            })
        };
        let eligible: Vec<&crate::store::MergeRow> = rows
            .iter()
            .filter(|r| !self.engine.open_merge_fix(&r.merge.agent) || is_fix(r.merge.task))
            .collect();
        let Some(first) = eligible.first() else {
            return;
        };
        // A batch: the oldest queued merge of each agent, up to `[verify] batch`; one sent
        // back from a failed batch goes alone.
        let limit = self.project.config.verify.batch.max(1) as usize;
        let mut batch: Vec<crate::store::MergeRow> = vec![(*first).clone()];
        if !self.solo.contains(&first.id) {
            // One merge per agent (its branch's head carries its later work too); an agent
            // with a merge sent back to go alone stays out of the batch altogether.
            let mut seen: BTreeSet<&str> = BTreeSet::from([first.merge.agent.as_str()]);
            for r in eligible.iter().skip(1) {
                if batch.len() >= limit {
                    break;
                }
                if seen.insert(r.merge.agent.as_str()) && !self.solo.contains(&r.id) {
                    batch.push((*r).clone());
                }
            }
        }
        for (n, row) in batch.iter().enumerate() {
            if let Err(err) =
                self.store
                    .set_merge(row.id, MergeState::Running, None, None, None, "")
            {
                eprintln!("warning: merge queue: {err}");
                // Not started: the rows already marked go back to the queue.
                for marked in &batch[..n] {
                    let _ =
                        self.store
                            .set_merge(marked.id, MergeState::Queued, None, None, None, "");
                }
                return;
            }
        }
        for row in &batch {
            self.solo.remove(&row.id);
        }
        self.merging = true;
        // A merge queued again by a person (`--retry`) is one the run waits for, too.
        self.engine.load_merges(
            batch
                .iter()
                .map(|r| (r.merge.task, r.merge.agent.clone(), true))
                .collect::<Vec<_>>(),
        );
        for row in &batch {
            let with = if batch.len() > 1 {
                format!(" (a batch of {}, one verify)", batch.len())
            } else {
                String::new()
            };
            self.journal(
                Some(&row.merge.agent),
                Some(row.merge.task),
                JournalAction::Merge,
                &format!(
                    "#{} started: rebase onto {integration}, verify{with}",
                    row.id
                ),
            );
        }
        let jobs: Vec<crate::worktrees::MergeJob> = batch
            .iter()
            .map(|row| crate::worktrees::MergeJob {
                id: row.id,
                root: self.project.root.clone(),
                agent: row.merge.agent.clone(),
                integration: integration.clone(),
                verify: self.project.config.verify.commands.clone(),
                host: crate::clones::host_of(self.project, &row.merge.agent).cloned(),
            })
            .collect();
        let tx = self.wake_tx.clone();
        std::thread::spawn(move || {
            // A panic must not stall the queue: it is reported like any git failure.
            let results = std::panic::catch_unwind(|| crate::worktrees::run_batch(&jobs))
                .unwrap_or_else(|_| {
                    let failed = crate::worktrees::MergeResult {
                        base: None,
                        head: None,
                        outcome: baton_core::engine::MergeOutcome::Error {
                            message: "the merge worker panicked".into(),
                        },
                        summary: "the merge worker panicked".into(),
                    };
                    vec![crate::worktrees::Batched::Done(failed); jobs.len()]
                });
            let items = batch
                .into_iter()
                .zip(results)
                .map(|(row, how)| (row.id, row.merge.task, row.merge.agent, how))
                .collect();
            let _ = tx.send(Wake::Merged(items));
        });
    }

    /// Records the merges of a batch (or one) and tells the engine; then the next.
    pub(super) fn merges_done(
        &mut self,
        items: Vec<(i64, TaskId, String, crate::worktrees::Batched)>,
    ) -> CliResult<()> {
        self.merging = false;
        for (id, task, agent, how) in items {
            match how {
                crate::worktrees::Batched::Done(result) => {
                    self.merge_done(id, task, agent, result)?;
                }
                crate::worktrees::Batched::Again(why) => {
                    if let Err(err) =
                        self.store
                            .set_merge(id, MergeState::Queued, None, None, None, &why)
                    {
                        // Left `running`: a restart queues it again.
                        eprintln!("warning: merge queue: {err}");
                    }
                    self.solo.insert(id);
                    self.journal(
                        Some(&agent),
                        Some(task),
                        JournalAction::Merge,
                        &format!("#{id} back in the queue: {why}"),
                    );
                }
            }
        }
        self.pump_merges();
        Ok(())
    }

    /// Records a finished merge and tells the engine; a fix task it leads to is committed
    /// in the same transaction as the outcome.
    fn merge_done(
        &mut self,
        id: i64,
        task: TaskId,
        agent: String,
        result: crate::worktrees::MergeResult,
    ) -> CliResult<()> {
        let (state, mut detail) = result.outcome.state();
        if state == MergeState::Merged {
            detail.clone_from(&result.summary);
        }
        let merge_commit = match &result.outcome {
            baton_core::engine::MergeOutcome::Merged { commit } => Some(commit.clone()),
            _ => None,
        };
        self.journal(
            Some(&agent),
            Some(task),
            JournalAction::Merge,
            &format!("#{id} {}", result.summary),
        );
        self.merge_due.push(crate::store::MergeWrite {
            id: Some(id),
            merge: crate::store::Merge {
                task,
                agent: agent.clone(),
                state,
                base: result.base,
                head: result.head,
                merge_commit,
                detail,
            },
        });
        self.feed(Event::MergeFinished {
            task,
            agent,
            outcome: result.outcome,
        })?;
        Ok(())
    }

    /// Records the merge outcomes no fix task took along (merged, or no fix cycle left).
    pub(super) fn flush_merges(&mut self) {
        for m in std::mem::take(&mut self.merge_due) {
            if let Err(err) = self.store.write_merge(&m) {
                eprintln!("warning: merge queue: {err}");
            }
        }
    }
}
