//! Adding tasks: one batch in one transaction, all or none, and imports from a task list
//! file that remember what they added.

use std::collections::BTreeMap;

use baton_core::task::NewTask;
use baton_core::task::Priority;
use baton_core::task::Task;
use baton_core::task::TaskId;
use baton_core::task::check_skill;
use baton_core::task::check_title;
use baton_core::task::find_cycle;
use baton_core::task::format_cycle;
use baton_core::vocab::JournalAction;
use rusqlite::OptionalExtension;
use rusqlite::params;

use super::load_tasks;
use crate::store::JournalEntry;
use crate::store::Store;
use crate::store::StoreError;
use crate::store::StoreResult;
use crate::store::journal::Line;
use crate::store::journal::journal_in;
use crate::store::now_ms;

/// The `meta` key prefix of the items imported from a file: `import|<file>|<item key>` →
/// the task ID.
fn import_prefix(file: &str) -> String {
    format!("import|{file}|")
}

impl Store {
    /// Adds tasks in one transaction: all or none. Returns them with their new IDs.
    pub fn add_tasks(
        &mut self,
        tasks: &[NewTask],
        actor: &str,
    ) -> StoreResult<(Vec<Task>, Vec<JournalEntry>)> {
        let none = vec![Vec::new(); tasks.len()];
        self.add_batch(tasks, &none, actor)
    }

    /// Adds tasks in one transaction, all or none; `local[i]` lists dependencies of task `i`
    /// on other tasks of the same batch, by index (forward references allowed).
    pub fn add_batch(
        &mut self,
        tasks: &[NewTask],
        local: &[Vec<usize>],
        actor: &str,
    ) -> StoreResult<(Vec<Task>, Vec<JournalEntry>)> {
        self.add_batch_then(tasks, local, actor, true, |_, _| Ok(Vec::new()))
    }

    /// Returns the items of a task list file imported before: item key → task
    /// (see `baton_core::import::item_keys`).
    pub fn import_marks(&self, file: &str) -> StoreResult<BTreeMap<String, TaskId>> {
        let prefix = import_prefix(file);
        let mut stmt = self
            .conn
            .prepare("SELECT key, value FROM meta WHERE substr(key, 1, ?2) = ?1")?;
        let rows = stmt.query_map(params![prefix, prefix.chars().count() as i64], |r| {
            Ok((r.get::<_, String>(0)?, r.get::<_, String>(1)?))
        })?;
        let mut marks = BTreeMap::new();
        for row in rows {
            let (key, value) = row?;
            if let (Some(item), Ok(id)) = (key.strip_prefix(&prefix), value.parse::<TaskId>()) {
                marks.insert(item.to_owned(), id);
            }
        }
        Ok(marks)
    }

    /// Adds the new items of a task list file (as [`Store::add_batch`]) and records each one's
    /// key (`keys[i]` for `tasks[i]`) in the same transaction, so a later import of the file
    /// skips them; an item recorded meanwhile by another import fails the whole batch. With
    /// `dry_run` every check runs and nothing is kept: the tasks it would have added.
    /// `known` records items found imported otherwise (by an older baton) as those tasks.
    #[allow(clippy::too_many_arguments)]
    pub fn import_batch(
        &mut self,
        tasks: &[NewTask],
        local: &[Vec<usize>],
        actor: &str,
        file: &str,
        keys: &[String],
        known: &[(String, TaskId)],
        dry_run: bool,
    ) -> StoreResult<(Vec<Task>, Vec<JournalEntry>)> {
        let prefix = import_prefix(file);
        self.add_batch_then(tasks, local, actor, !dry_run, |tx, created| {
            for (key, id) in known {
                tx.execute(
                    "INSERT OR IGNORE INTO meta (key, value) VALUES (?1, ?2)",
                    params![format!("{prefix}{key}"), id.to_string()],
                )?;
            }
            for (key, task) in keys.iter().zip(created) {
                let mark = format!("{prefix}{key}");
                let before: Option<String> = tx
                    .query_row("SELECT value FROM meta WHERE key = ?1", [&mark], |r| {
                        r.get(0)
                    })
                    .optional()?;
                if let Some(id) = before {
                    return Err(StoreError::Invalid(format!(
                        "\"{}\" was imported from {file} meanwhile, as {id}: run the import again",
                        task.title
                    )));
                }
                tx.execute(
                    "INSERT INTO meta (key, value) VALUES (?1, ?2)",
                    params![mark, task.id.to_string()],
                )?;
            }
            Ok(Vec::new())
        })
    }

    pub(in crate::store) fn add_batch_then(
        &mut self,
        tasks: &[NewTask],
        local: &[Vec<usize>],
        actor: &str,
        commit: bool,
        then: impl FnOnce(&rusqlite::Transaction<'_>, &[Task]) -> StoreResult<Vec<JournalEntry>>,
    ) -> StoreResult<(Vec<Task>, Vec<JournalEntry>)> {
        let now = now_ms();
        let tx = self.begin()?;
        let first: u32 = tx
            .query_row(
                "SELECT value FROM meta WHERE key = 'next_task_id'",
                [],
                |r| r.get::<_, String>(0),
            )?
            .parse()
            .map_err(|_| StoreError::Invalid("the task counter in the store is damaged".into()))?;
        let n =
            u32::try_from(tasks.len()).map_err(|_| StoreError::Invalid("too many tasks".into()))?;
        let id_of = |i: usize| TaskId(first + i as u32);
        let at = |i: usize, m: String| {
            if tasks.len() > 1 {
                StoreError::Invalid(format!(
                    "task {} of {} ({}): {m}",
                    i + 1,
                    tasks.len(),
                    id_of(i)
                ))
            } else {
                StoreError::Invalid(m)
            }
        };
        let mut journal = Vec::new();
        for (i, t) in tasks.iter().enumerate() {
            check_title(&t.title).map_err(|m| at(i, m))?;
            for s in &t.skills {
                check_skill(s).map_err(|m| at(i, m))?;
            }
            let id = id_of(i);
            let priority = t.priority.unwrap_or(Priority::Med);
            tx.execute(
                "INSERT INTO tasks (id, title, body, priority, status, assignee, created_ms, updated_ms) VALUES (?1, ?2, ?3, ?4, 'PENDING', ?5, ?6, ?6)",
                params![id.0, t.title.trim(), t.body, priority.as_str(), t.assignee, now],
            )?;
            for s in &t.skills {
                tx.execute(
                    "INSERT OR IGNORE INTO task_skills (task, skill) VALUES (?1, ?2)",
                    params![id.0, s],
                )?;
            }
            let detail =
                serde_json::json!({"title": t.title.trim(), "priority": priority.as_str()})
                    .to_string();
            let line = Line {
                actor,
                action: JournalAction::TaskAdd,
                task: Some(id),
                target: t.assignee.as_deref().unwrap_or(""),
                result: "PENDING",
                detail: &detail,
            };
            journal.push(journal_in(&tx, now, line)?);
        }
        let mut batch_graph: BTreeMap<TaskId, Vec<TaskId>> = BTreeMap::new();
        for (i, t) in tasks.iter().enumerate() {
            let id = id_of(i);
            let mut deps: Vec<TaskId> = Vec::new();
            for d in &t.deps {
                if d.0 >= first {
                    return Err(at(i, format!("dependency {d} does not exist")));
                }
                let exists = tx
                    .query_row("SELECT 1 FROM tasks WHERE id = ?1", [d.0], |_| Ok(()))
                    .optional()?
                    .is_some();
                if !exists {
                    return Err(at(i, format!("dependency {d} does not exist")));
                }
                deps.push(*d);
            }
            for &j in local.get(i).map(Vec::as_slice).unwrap_or(&[]) {
                if j >= tasks.len() {
                    return Err(at(
                        i,
                        format!("depends on task {} of a batch of {}", j + 1, tasks.len()),
                    ));
                }
                if j == i {
                    return Err(at(i, format!("{id} cannot depend on itself")));
                }
                deps.push(id_of(j));
                batch_graph.entry(id).or_default().push(id_of(j));
            }
            for d in deps {
                tx.execute(
                    "INSERT OR IGNORE INTO task_deps (task, dep) VALUES (?1, ?2)",
                    params![id.0, d.0],
                )?;
            }
        }
        for (i, _) in tasks.iter().enumerate() {
            let id = id_of(i);
            let mut others = batch_graph.clone();
            if let Some(mine) = others.remove(&id)
                && let Some(cycle) = find_cycle(&others, id, &mine)
            {
                return Err(at(i, format!("dependency cycle: {}", format_cycle(&cycle))));
            }
        }
        tx.execute(
            "UPDATE meta SET value = ?1 WHERE key = 'next_task_id'",
            [(first + n).to_string()],
        )?;
        let ids: Vec<u32> = (0..tasks.len()).map(|i| id_of(i).0).collect();
        let created = load_tasks(&tx, &ids)?;
        journal.extend(then(&tx, &created)?);
        if commit {
            tx.commit()?;
        } else {
            tx.rollback()?;
        }
        Ok((created, journal))
    }
}
