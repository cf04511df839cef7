//! The merge queue (worktree isolation): each completed task's merge and its outcome.

use std::collections::BTreeMap;

use baton_core::task::NewTask;
use baton_core::task::Task;
use baton_core::task::TaskId;
use baton_core::vocab::MergeState;
use rusqlite::Connection;
use rusqlite::OptionalExtension;
use rusqlite::params;

use super::JournalEntry;
use super::Store;
use super::StoreResult;
use super::now_ms;
use super::query_rows;

/// A merge: the task whose completion queued it, the agent branch it merges, where it stands
/// and the commits known.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct Merge {
    /// The task whose completion queued it.
    pub task: TaskId,
    /// The agent whose branch it merges.
    pub agent: String,
    /// Where it stands.
    pub state: MergeState,
    /// The integration branch's head it was rebased onto.
    pub base: Option<String>,
    /// The agent branch's head it merged.
    pub head: Option<String>,
    /// The integration branch's head after the merge.
    pub merge_commit: Option<String>,
    /// One line, or the conflict / error excerpt.
    pub detail: String,
}

/// A row of the merge queue.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct MergeRow {
    /// Its number, in queue order.
    pub id: i64,
    /// The merge (its fields stand beside `id` in JSON).
    #[serde(flatten)]
    pub merge: Merge,
    /// When it was queued.
    pub created_ms: i64,
    /// When it last changed.
    pub updated_ms: i64,
}

fn merge_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<MergeRow> {
    Ok(MergeRow {
        id: r.get(0)?,
        merge: Merge {
            task: TaskId(r.get(1)?),
            agent: r.get(2)?,
            state: {
                let text: String = r.get(3)?;
                text.parse().map_err(|e: String| {
                    rusqlite::Error::FromSqlConversionFailure(
                        3,
                        rusqlite::types::Type::Text,
                        e.into(),
                    )
                })?
            },
            base: r.get(4)?,
            head: r.get(5)?,
            merge_commit: r.get(6)?,
            detail: r.get(7)?,
        },
        created_ms: r.get(8)?,
        updated_ms: r.get(9)?,
    })
}

/// A merge outcome to record: a row's new state, or a new row.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MergeWrite {
    /// The row; `None`: a new one (an outcome met before the merge was queued).
    pub id: Option<i64>,
    /// The outcome (merged, conflict, failed or error) and the commits known.
    pub merge: Merge,
}

fn write_merge(tx: &rusqlite::Transaction<'_>, w: &MergeWrite) -> StoreResult<()> {
    let now = now_ms();
    let m = &w.merge;
    match w.id {
        Some(id) => update_merge(
            tx,
            id,
            m.state,
            [m.base.as_deref(), m.head.as_deref(), m.merge_commit.as_deref()],
            &m.detail,
        )?,
        None => tx.execute(
            "INSERT INTO merges (task, agent, state, base, head, merge_commit, detail, created_ms, updated_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?8)",
            params![m.task.0, m.agent, m.state.as_str(), m.base, m.head, m.merge_commit, m.detail, now],
        )?,
    };
    Ok(())
}

/// Sets a merge row's state, the commits that are known (`[base, head, merge commit]`; `None`
/// keeps what the row has) and its detail.
fn update_merge(
    conn: &Connection,
    id: i64,
    state: MergeState,
    [base, head, merge_commit]: [Option<&str>; 3],
    detail: &str,
) -> StoreResult<usize> {
    Ok(conn.execute(
        "UPDATE merges SET state = ?2, base = COALESCE(?3, base), head = COALESCE(?4, head),
             merge_commit = COALESCE(?5, merge_commit), detail = ?6, updated_ms = ?7 WHERE id = ?1",
        params![
            id,
            state.as_str(),
            base,
            head,
            merge_commit,
            detail,
            now_ms()
        ],
    )?)
}

const MERGE_COLUMNS: &str =
    "id, task, agent, state, base, head, merge_commit, detail, created_ms, updated_ms";

impl Store {
    /// Adds a merge's fix task and records the merge's outcome in one transaction: a stop
    /// between the two can neither lose the fix nor leave the merge looking unsettled.
    pub fn add_fix_for_merge(
        &mut self,
        task: &NewTask,
        actor: &str,
        merge: &MergeWrite,
    ) -> StoreResult<(Vec<Task>, Vec<JournalEntry>)> {
        self.add_batch_then(
            std::slice::from_ref(task),
            &[Vec::new()],
            actor,
            true,
            |tx, _| write_merge(tx, merge).map(|()| Vec::new()),
        )
    }

    /// Records a merge's outcome (a new row when `merge.id` is `None`).
    pub fn write_merge(&mut self, merge: &MergeWrite) -> StoreResult<()> {
        let tx = self.begin()?;
        write_merge(&tx, merge)?;
        tx.commit()?;
        Ok(())
    }

    /// Queues a merge for a task; a task already queued or running keeps its row.
    pub fn queue_merge(&mut self, task: TaskId, agent: &str) -> StoreResult<i64> {
        let tx = self.begin()?;
        let open: Option<i64> = tx
            .query_row(
                "SELECT id FROM merges WHERE task = ?1 AND state IN ('queued', 'running')",
                [task.0],
                |r| r.get(0),
            )
            .optional()?;
        let id = match open {
            Some(id) => id,
            None => {
                let now = now_ms();
                tx.execute(
                    "INSERT INTO merges (task, agent, state, created_ms, updated_ms) VALUES (?1, ?2, 'queued', ?3, ?3)",
                    params![task.0, agent, now],
                )?;
                tx.last_insert_rowid()
            }
        };
        tx.commit()?;
        Ok(id)
    }

    /// Sets a merge's state and what is known of it.
    pub fn set_merge(
        &mut self,
        id: i64,
        state: MergeState,
        base: Option<&str>,
        head: Option<&str>,
        merge_commit: Option<&str>,
        detail: &str,
    ) -> StoreResult<()> {
        update_merge(&self.conn, id, state, [base, head, merge_commit], detail)?;
        Ok(())
    }

    /// The queued merges, oldest first (what the daemon's pump looks at every tick).
    pub fn queued_merges(&self) -> StoreResult<Vec<MergeRow>> {
        query_rows(
            &self.conn,
            &format!("SELECT {MERGE_COLUMNS} FROM merges WHERE state = 'queued' ORDER BY id"),
            [],
            merge_row,
        )
    }

    /// Merges running, queued and merged.
    pub fn merge_counts(&self) -> StoreResult<(usize, usize, usize)> {
        Ok(self.conn.query_row(
            "SELECT COUNT(*) FILTER (WHERE state = 'running'), COUNT(*) FILTER (WHERE state = 'queued'),
                 COUNT(*) FILTER (WHERE state = 'merged') FROM merges",
            [],
            |r| {
                let n = |i: usize| r.get::<_, i64>(i).map(|n| n as usize);
                Ok((n(0)?, n(1)?, n(2)?))
            },
        )?)
    }

    /// The newest merge that landed.
    pub fn last_merged(&self) -> StoreResult<Option<MergeRow>> {
        Ok(self
            .conn
            .query_row(
                &format!(
                    "SELECT {MERGE_COLUMNS} FROM merges WHERE state = 'merged' ORDER BY id DESC LIMIT 1"
                ),
                [],
                merge_row,
            )
            .optional()?)
    }

    /// Queues again, on a person's request, each task's newest merge that did not land (git
    /// could not do it, or it failed and its fixes ran out); returns how many.
    pub fn retry_failed_merges(&mut self) -> StoreResult<usize> {
        Ok(self.conn.execute(
            "UPDATE merges SET state = 'queued', detail = '', updated_ms = ?1
                 WHERE state IN ('error', 'conflict', 'failed')
                 AND id = (SELECT MAX(m.id) FROM merges m WHERE m.task = merges.task)
                 AND NOT EXISTS (SELECT 1 FROM merges later WHERE later.agent = merges.agent
                                 AND later.id > merges.id AND later.state = 'merged')",
            [now_ms()],
        )?)
    }

    /// Puts merges a stopped daemon left running back in the queue; returns how many.
    pub fn requeue_running_merges(&mut self) -> StoreResult<usize> {
        Ok(self.conn.execute(
            "UPDATE merges SET state = 'queued', updated_ms = ?1 WHERE state = 'running'",
            [now_ms()],
        )?)
    }

    /// Returns the newest merges, oldest first (`limit` 0: all).
    pub fn merges(&self, limit: usize) -> StoreResult<Vec<MergeRow>> {
        let limit = if limit == 0 { i64::MAX } else { limit as i64 };
        query_rows(
            &self.conn,
            &format!(
                "SELECT {MERGE_COLUMNS} FROM (SELECT * FROM merges ORDER BY id DESC LIMIT ?1) ORDER BY id"
            ),
            [limit],
            merge_row,
        )
    }

    /// Completed work not on the integration branch yet, for the engine on start-up: each
    /// task whose newest merge is queued or running (`true`), or failed with no later merge
    /// of its agent (`false`: a fix task is due).
    pub fn pending_merges(&self) -> StoreResult<Vec<(TaskId, String, bool)>> {
        let rows = self.merges(0)?;
        let mut last_merged: BTreeMap<&str, i64> = BTreeMap::new();
        for r in rows.iter().filter(|r| r.merge.state == MergeState::Merged) {
            last_merged.insert(&r.merge.agent, r.id);
        }
        let mut newest: BTreeMap<TaskId, &MergeRow> = BTreeMap::new();
        for r in &rows {
            newest.insert(r.merge.task, r);
        }
        Ok(newest
            .into_values()
            .filter_map(|r| match r.merge.state {
                s if s.is_open() => Some((r.merge.task, r.merge.agent.clone(), true)),
                MergeState::Merged => None,
                _ if last_merged
                    .get(r.merge.agent.as_str())
                    .is_some_and(|m| *m > r.id) =>
                {
                    None
                }
                _ => Some((r.merge.task, r.merge.agent.clone(), false)),
            })
            .collect())
    }

    /// Per agent, its merges that failed (conflict, verify) since its last merge: the fix
    /// cycles already spent.
    pub fn merge_failures_in_a_row(&self) -> StoreResult<BTreeMap<String, u32>> {
        let mut failed: BTreeMap<String, u32> = BTreeMap::new();
        for m in self.merges(0)? {
            match m.merge.state {
                MergeState::Merged => {
                    failed.remove(&m.merge.agent);
                }
                MergeState::Conflict | MergeState::Failed => {
                    *failed.entry(m.merge.agent).or_default() += 1;
                }
                _ => {}
            }
        }
        Ok(failed)
    }

    /// COMPLETED tasks of these agents with no merge since they were completed (the daemon
    /// stopped between the report and the queue, or the task was reopened and completed
    /// again while no daemon ran).
    pub fn completed_without_merge(&self, agents: &[String]) -> StoreResult<Vec<(TaskId, String)>> {
        let mut stmt = self.conn.prepare(
            "SELECT id, assignee FROM tasks WHERE status = 'COMPLETED' AND assignee IS NOT NULL
                 AND NOT EXISTS (SELECT 1 FROM merges WHERE merges.task = tasks.id
                                 AND merges.created_ms >= COALESCE(tasks.finished_ms, 0))
                 ORDER BY id",
        )?;
        let rows = stmt.query_map([], |r| Ok((TaskId(r.get(0)?), r.get::<_, String>(1)?)))?;
        let all: Vec<(TaskId, String)> = rows.collect::<Result<_, _>>()?;
        Ok(all
            .into_iter()
            .filter(|(_, a)| agents.contains(a))
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::StatusChange;
    use crate::store::testing::new;
    use baton_core::task::Status;

    #[test]
    fn the_merge_queue_restores_what_is_not_merged() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = Store::open(&dir.path().join("state.db")).unwrap();
        s.add_tasks(&[new("a"), new("b"), new("c"), new("d")], "u")
            .unwrap();
        let q1 = s.queue_merge(TaskId(1), "x").unwrap();
        assert_eq!(s.queue_merge(TaskId(1), "x").unwrap(), q1, "queued once");
        let q2 = s.queue_merge(TaskId(2), "y").unwrap();
        s.set_merge(q1, MergeState::Running, Some("b0"), Some("h1"), None, "")
            .unwrap();
        let queued = |s: &Store| -> Vec<i64> {
            s.queued_merges()
                .unwrap()
                .into_iter()
                .map(|m| m.id)
                .collect()
        };
        assert_eq!(queued(&s), vec![q2]);
        assert_eq!(s.merge_counts().unwrap(), (1, 1, 0));
        // A stop: the running merge goes back in the queue, first again.
        assert_eq!(s.requeue_running_merges().unwrap(), 1);
        assert_eq!(queued(&s), vec![q1, q2]);
        s.set_merge(q1, MergeState::Conflict, None, None, None, "f.rs")
            .unwrap();
        s.write_merge(&MergeWrite {
            id: None,
            merge: Merge {
                task: TaskId(3),
                agent: "y".into(),
                state: MergeState::Failed,
                base: None,
                head: None,
                merge_commit: None,
                detail: "`make`".into(),
            },
        })
        .unwrap();
        s.set_merge(q2, MergeState::Merged, None, None, Some("c2"), "ok")
            .unwrap();
        let pending = s.pending_merges().unwrap();
        assert_eq!(
            s.merge_failures_in_a_row().unwrap(),
            BTreeMap::from([("x".to_string(), 1), ("y".to_string(), 1)])
        );
        // x's conflict waits for its fix; y's failure came after y's merge, so it waits too.
        assert_eq!(
            pending,
            vec![
                (TaskId(1), "x".to_string(), false),
                (TaskId(3), "y".to_string(), false)
            ]
        );
        let q4 = s.queue_merge(TaskId(4), "x").unwrap();
        s.set_merge(q4, MergeState::Merged, None, None, Some("c4"), "")
            .unwrap();
        assert_eq!(
            s.pending_merges().unwrap(),
            vec![(TaskId(3), "y".to_string(), false)],
            "x's later merge settled its conflict"
        );
        assert_eq!(
            s.completed_without_merge(&["x".into()]).unwrap(),
            Vec::<(TaskId, String)>::new()
        );
        // T-004 completed (again) after its merge, while no daemon ran: to be queued; not for
        // an agent in the shared checkout.
        let to_x = || StatusChange {
            assignee: Some("x".into()),
            ..StatusChange::default()
        };
        // The store's clock counts milliseconds: completed after the merge row, not with it.
        let queued_at = now_ms();
        while now_ms() <= queued_at {
            std::hint::spin_loop();
        }
        s.set_status(TaskId(4), Status::InProgress, "u", to_x())
            .unwrap();
        s.set_status(TaskId(4), Status::Completed, "x", StatusChange::default())
            .unwrap();
        assert_eq!(
            s.completed_without_merge(&["x".into()]).unwrap(),
            vec![(TaskId(4), "x".to_string())]
        );
        assert!(s.completed_without_merge(&["y".into()]).unwrap().is_empty());
        s.queue_merge(TaskId(4), "x").unwrap();
        assert!(s.completed_without_merge(&["x".into()]).unwrap().is_empty());
        assert_eq!(s.merges(2).unwrap().len(), 2);
        assert_eq!(s.merges(0).unwrap().len(), 5);
        // A person's retry: y's failure (nothing of y merged since), not x's settled conflict.
        assert_eq!(s.retry_failed_merges().unwrap(), 1);
        assert_eq!(s.merge_counts().unwrap(), (0, 2, 2));
        assert_eq!(s.last_merged().unwrap().map(|m| m.id), Some(q4));
    }
}
