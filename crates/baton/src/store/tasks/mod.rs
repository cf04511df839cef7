//! Tasks: their types and how they are read (one task, a filter, the dashboard's page);
//! [`add`] adds them, [`change`] changes their status and fields.

use std::collections::BTreeMap;

use baton_core::task::Priority;
use baton_core::task::Status;
use baton_core::task::Task;
use baton_core::task::TaskId;
use rusqlite::Connection;
use rusqlite::params;

use super::JournalEntry;
use super::Store;
use super::StoreError;
use super::StoreResult;

mod add;
mod change;

/// What a status change did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Outcome {
    /// The task changed; the journal entries written.
    Changed(Task, Vec<JournalEntry>),
    /// The task already had that status: nothing was written.
    Unchanged(Task),
}

/// Which tasks to list.
#[derive(Clone, Debug, Default)]
pub struct TaskFilter {
    /// Only these statuses (all when empty).
    pub statuses: Vec<Status>,
    /// Only tasks given to this agent.
    pub assignee: Option<String>,
}

/// Fields of a task to change.
#[derive(Clone, Debug, Default)]
pub struct TaskEdit {
    /// New title.
    pub title: Option<String>,
    /// New body.
    pub body: Option<String>,
    /// New priority.
    pub priority: Option<Priority>,
    /// Skills to add.
    pub add_skills: Vec<String>,
    /// Skills to remove.
    pub remove_skills: Vec<String>,
    /// Dependencies to add.
    pub add_deps: Vec<TaskId>,
    /// Dependencies to remove.
    pub remove_deps: Vec<TaskId>,
}

/// Extra fields of a status change.
#[derive(Clone, Debug, Default)]
pub struct StatusChange {
    /// The agent to give the task to.
    pub assignee: Option<String>,
    /// Why it is blocked.
    pub reason: Option<String>,
    /// A note to keep with the task.
    pub note: Option<String>,
    /// Start it even when a dependency is not COMPLETED.
    pub ignore_deps: bool,
    /// A person marks a PENDING task COMPLETED without a start (`task done --force`).
    pub skip_start: bool,
}

fn parse_col<T: std::str::FromStr>(s: String, what: &str) -> rusqlite::Result<T> {
    s.parse().map_err(|_| {
        rusqlite::Error::FromSqlConversionFailure(
            0,
            rusqlite::types::Type::Text,
            format!("bad {what} `{s}` in the store").into(),
        )
    })
}

fn load_task(conn: &Connection, id: TaskId) -> StoreResult<Task> {
    load_tasks(conn, &[id.0])?
        .pop()
        .ok_or(StoreError::NoTask(id))
}

/// Loads tasks by ID (in ID order) with four queries in all.
fn load_tasks(conn: &Connection, ids: &[u32]) -> StoreResult<Vec<Task>> {
    if ids.is_empty() {
        return Ok(Vec::new());
    }
    let list = serde_json::to_string(ids).unwrap_or_else(|_| "[]".into());
    let mut skills: BTreeMap<u32, Vec<String>> = BTreeMap::new();
    let mut deps: BTreeMap<u32, Vec<TaskId>> = BTreeMap::new();
    let mut notes: BTreeMap<u32, Vec<String>> = BTreeMap::new();
    {
        let mut s = conn.prepare_cached(
            "SELECT task, skill FROM task_skills WHERE task IN (SELECT value FROM json_each(?1)) ORDER BY task, skill",
        )?;
        for row in s.query_map([&list], |r| {
            Ok((r.get::<_, u32>(0)?, r.get::<_, String>(1)?))
        })? {
            let (t, v) = row?;
            skills.entry(t).or_default().push(v);
        }
        let mut s = conn.prepare_cached(
            "SELECT task, dep FROM task_deps WHERE task IN (SELECT value FROM json_each(?1)) ORDER BY task, dep",
        )?;
        for row in s.query_map([&list], |r| Ok((r.get::<_, u32>(0)?, r.get::<_, u32>(1)?)))? {
            let (t, v) = row?;
            deps.entry(t).or_default().push(TaskId(v));
        }
        let mut s = conn.prepare_cached(
            "SELECT task, text FROM task_notes WHERE task IN (SELECT value FROM json_each(?1)) ORDER BY id",
        )?;
        for row in s.query_map([&list], |r| {
            Ok((r.get::<_, u32>(0)?, r.get::<_, String>(1)?))
        })? {
            let (t, v) = row?;
            notes.entry(t).or_default().push(v);
        }
    }
    let mut stmt = conn.prepare_cached(
        "SELECT id, title, body, priority, status, assignee, blocked_reason, attempts, created_ms, updated_ms, review_of
         FROM tasks WHERE id IN (SELECT value FROM json_each(?1)) ORDER BY id",
    )?;
    let rows = stmt.query_map([&list], |r| {
        Ok(Task {
            id: TaskId(r.get(0)?),
            title: r.get(1)?,
            body: r.get(2)?,
            priority: parse_col(r.get(3)?, "priority")?,
            status: parse_col(r.get(4)?, "status")?,
            assignee: r.get(5)?,
            blocked_reason: r.get(6)?,
            attempts: r.get(7)?,
            notes: Vec::new(),
            skills: Vec::new(),
            deps: Vec::new(),
            created_ms: r.get(8)?,
            updated_ms: r.get(9)?,
            review_of: r.get::<_, Option<u32>>(10)?.map(TaskId),
        })
    })?;
    let mut out = Vec::with_capacity(ids.len());
    for row in rows {
        let mut t = row?;
        t.skills = skills.remove(&t.id.0).unwrap_or_default();
        t.deps = deps.remove(&t.id.0).unwrap_or_default();
        t.notes = notes.remove(&t.id.0).unwrap_or_default();
        out.push(t);
    }
    Ok(out)
}

fn open_deps(conn: &Connection, id: TaskId) -> StoreResult<Vec<TaskId>> {
    let mut stmt = conn.prepare_cached(
        "SELECT d.dep FROM task_deps d JOIN tasks t ON t.id = d.dep WHERE d.task = ?1 AND t.status != 'COMPLETED' ORDER BY d.dep",
    )?;
    let rows = stmt.query_map([id.0], |r| r.get::<_, u32>(0))?;
    Ok(rows.map(|r| r.map(TaskId)).collect::<Result<_, _>>()?)
}

fn dep_graph(conn: &Connection) -> StoreResult<BTreeMap<TaskId, Vec<TaskId>>> {
    let mut stmt = conn.prepare("SELECT task, dep FROM task_deps")?;
    let mut g: BTreeMap<TaskId, Vec<TaskId>> = BTreeMap::new();
    for row in stmt.query_map([], |r| Ok((r.get::<_, u32>(0)?, r.get::<_, u32>(1)?)))? {
        let (t, d) = row?;
        g.entry(TaskId(t)).or_default().push(TaskId(d));
    }
    Ok(g)
}

impl Store {
    /// Returns one task.
    pub fn task(&self, id: TaskId) -> StoreResult<Task> {
        load_task(&self.conn, id)
    }

    /// Returns the tasks that match, by ID.
    pub fn tasks(&self, filter: &TaskFilter) -> StoreResult<Vec<Task>> {
        let mut sql = String::from("SELECT id FROM tasks WHERE 1=1");
        let mut args: Vec<String> = Vec::new();
        if !filter.statuses.is_empty() {
            let marks: Vec<String> = filter
                .statuses
                .iter()
                .map(|s| {
                    args.push(s.as_str().to_owned());
                    format!("?{}", args.len())
                })
                .collect();
            sql.push_str(&format!(" AND status IN ({})", marks.join(", ")));
        }
        if let Some(a) = &filter.assignee {
            args.push(a.clone());
            sql.push_str(&format!(" AND assignee = ?{}", args.len()));
        }
        sql.push_str(" ORDER BY id");
        let ids: Vec<u32> = {
            let mut stmt = self.conn.prepare(&sql)?;
            stmt.query_map(rusqlite::params_from_iter(args.iter()), |r| r.get(0))?
                .collect::<Result<_, _>>()?
        };
        load_tasks(&self.conn, &ids)
    }

    /// Returns the open tasks to show first — IN_PROGRESS, UNREPORTED and BLOCKED, then PENDING by
    /// priority and ID — at most `limit`, and how many open tasks there are in all.
    pub fn open_for_view(&self, limit: usize) -> StoreResult<(Vec<Task>, usize)> {
        let ids: Vec<u32> = {
            let mut stmt = self.conn.prepare_cached(
                "SELECT id FROM tasks WHERE status IN ('PENDING', 'IN_PROGRESS', 'UNREPORTED', 'BLOCKED')
                 ORDER BY status = 'PENDING', CASE priority WHEN 'HIGH' THEN 0 WHEN 'MED' THEN 1 ELSE 2 END, id
                 LIMIT ?1",
            )?;
            stmt.query_map([limit as i64], |r| r.get(0))?
                .collect::<Result<_, _>>()?
        };
        let total: usize = self.conn.query_row(
            "SELECT COUNT(*) FROM tasks WHERE status IN ('PENDING', 'IN_PROGRESS', 'UNREPORTED', 'BLOCKED')",
            [],
            |r| r.get::<_, i64>(0),
        )? as usize;
        Ok((load_tasks(&self.conn, &ids)?, total))
    }

    /// Returns the `limit` most recently closed (COMPLETED or CANCELLED) tasks.
    pub fn recent_closed(&self, limit: usize) -> StoreResult<Vec<Task>> {
        let ids: Vec<u32> = {
            let mut stmt = self.conn.prepare_cached(
                "SELECT id FROM tasks WHERE status IN ('COMPLETED', 'CANCELLED') ORDER BY updated_ms DESC, id DESC LIMIT ?1",
            )?;
            stmt.query_map([limit as i64], |r| r.get(0))?
                .collect::<Result<_, _>>()?
        };
        load_tasks(&self.conn, &ids)
    }

    /// The tasks IN_PROGRESS, each as `T-029 (claude)` (its assignee in brackets).
    pub fn in_progress_labels(&self) -> StoreResult<Vec<String>> {
        Ok(self
            .tasks(&TaskFilter {
                statuses: vec![Status::InProgress],
                assignee: None,
            })?
            .iter()
            .map(|t| match &t.assignee {
                Some(a) => format!("{} ({a})", t.id),
                None => t.id.to_string(),
            })
            .collect())
    }

    /// Counts tasks by status.
    pub fn counts(&self) -> StoreResult<BTreeMap<Status, u64>> {
        let mut stmt = self
            .conn
            .prepare("SELECT status, COUNT(*) FROM tasks GROUP BY status")?;
        let mut out = BTreeMap::new();
        for row in stmt.query_map([], |r| Ok((r.get::<_, String>(0)?, r.get::<_, u64>(1)?)))? {
            let (s, n) = row?;
            if let Ok(s) = s.parse() {
                out.insert(s, n);
            }
        }
        Ok(out)
    }

    /// Returns one page of the tasks with one of `statuses` (all when empty), in the
    /// dashboard's order — IN_PROGRESS, BLOCKED and UNREPORTED, PENDING by priority, then COMPLETED and
    /// CANCELLED newest first — and how many tasks match in all.
    pub fn tasks_page(
        &self,
        statuses: &[Status],
        offset: usize,
        limit: usize,
    ) -> StoreResult<(Vec<Task>, usize)> {
        let list: Vec<&str> = statuses.iter().map(|s| s.as_str()).collect();
        let list = serde_json::to_string(&list).unwrap_or_else(|_| "[]".into());
        let filter = "(?1 = '[]' OR status IN (SELECT value FROM json_each(?1)))";
        let ids: Vec<u32> = {
            let mut stmt = self.conn.prepare_cached(&format!(
                "SELECT id FROM tasks WHERE {filter}
                 ORDER BY CASE status WHEN 'IN_PROGRESS' THEN 0 WHEN 'BLOCKED' THEN 1
                     WHEN 'UNREPORTED' THEN 1 WHEN 'PENDING' THEN 2 WHEN 'COMPLETED' THEN 3 ELSE 4 END,
                   CASE WHEN status IN ('COMPLETED', 'CANCELLED') THEN -updated_ms ELSE 0 END,
                   CASE priority WHEN 'HIGH' THEN 0 WHEN 'MED' THEN 1 ELSE 2 END, id
                 LIMIT ?2 OFFSET ?3"
            ))?;
            stmt.query_map(params![list, limit as i64, offset as i64], |r| r.get(0))?
                .collect::<Result<_, _>>()?
        };
        let total: i64 = self.conn.query_row(
            &format!("SELECT COUNT(*) FROM tasks WHERE {filter}"),
            [&list],
            |r| r.get(0),
        )?;
        let mut by_id: BTreeMap<u32, Task> = load_tasks(&self.conn, &ids)?
            .into_iter()
            .map(|t| (t.id.0, t))
            .collect();
        let page = ids.iter().filter_map(|id| by_id.remove(id)).collect();
        Ok((page, usize::try_from(total).unwrap_or(0)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use baton_core::task::NewTask;

    use crate::store::testing::new;
    use crate::store::testing::store;

    #[test]
    fn ids_are_dense_and_never_reused() {
        let (_d, mut s) = store();
        let (a, _) = s.add_tasks(&[new("a"), new("b")], "user").unwrap();
        assert_eq!(
            a.iter().map(|t| t.id.to_string()).collect::<Vec<_>>(),
            ["T-001", "T-002"]
        );
        // A failed batch allocates nothing.
        assert!(s.add_tasks(&[new("c"), new("")], "user").is_err());
        let (c, _) = s.add_tasks(&[new("c")], "user").unwrap();
        assert_eq!(c[0].id, TaskId(3));
    }

    #[test]
    fn lifecycle_and_journal() {
        let (_d, mut s) = store();
        let (t, _) = s.add_tasks(&[new("a")], "user").unwrap();
        let id = t[0].id;
        let e = s
            .set_status(id, Status::Completed, "claude", StatusChange::default())
            .unwrap_err();
        assert!(
            e.to_string()
                .contains("cannot go from PENDING to COMPLETED"),
            "{e}"
        );
        let ch = StatusChange {
            assignee: Some("claude".into()),
            ..Default::default()
        };
        assert!(matches!(
            s.set_status(id, Status::InProgress, "baton", ch).unwrap(),
            Outcome::Changed(..)
        ));
        let done = StatusChange {
            note: Some("tests pass".into()),
            ..Default::default()
        };
        let Outcome::Changed(t, _) = s
            .set_status(id, Status::Completed, "claude", done.clone())
            .unwrap()
        else {
            panic!()
        };
        assert_eq!(t.attempts, 1);
        assert_eq!(t.notes, ["tests pass"]);
        assert!(matches!(
            s.set_status(id, Status::Completed, "claude", done).unwrap(),
            Outcome::Unchanged(_)
        ));
        let actions: Vec<String> = s
            .journal_since(0, 100)
            .unwrap()
            .into_iter()
            .map(|e| e.action)
            .collect();
        assert_eq!(actions, ["task-add", "task-start", "task-done"]);
    }

    #[test]
    fn deps_block_start_and_cycles_are_refused() {
        let (_d, mut s) = store();
        s.add_tasks(&[new("a")], "u").unwrap();
        let b = NewTask {
            deps: vec![TaskId(1)],
            ..new("b")
        };
        s.add_tasks(&[b], "u").unwrap();
        let e = s
            .set_status(TaskId(2), Status::InProgress, "u", StatusChange::default())
            .unwrap_err();
        assert!(e.to_string().contains("depends on T-001"), "{e}");
        let edit = TaskEdit {
            add_deps: vec![TaskId(2)],
            ..Default::default()
        };
        let e = s.edit(TaskId(1), &edit, "u").unwrap_err();
        assert!(e.to_string().contains("T-001 → T-002 → T-001"), "{e}");
        let bad = NewTask {
            deps: vec![TaskId(99)],
            ..new("c")
        };
        assert!(
            s.add_tasks(&[bad], "u")
                .unwrap_err()
                .to_string()
                .contains("T-099 does not exist")
        );
    }
}
