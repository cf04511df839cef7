//! Changing tasks: status changes (checked transitions, reviews of UNREPORTED tasks,
//! reopening), reassignment and edits.

use baton_core::task::NewTask;
use baton_core::task::Status;
use baton_core::task::Task;
use baton_core::task::TaskId;
use baton_core::task::check_skill;
use baton_core::task::check_title;
use baton_core::task::find_cycle;
use baton_core::task::format_cycle;
use baton_core::vocab::JournalAction;
use rusqlite::params;

use super::Outcome;
use super::StatusChange;
use super::TaskEdit;
use super::dep_graph;
use super::load_task;
use super::open_deps;
use crate::store::JournalEntry;
use crate::store::Store;
use crate::store::StoreError;
use crate::store::StoreResult;
use crate::store::journal::Line;
use crate::store::journal::journal_in;
use crate::store::now_ms;

impl Store {
    /// Changes a task's status (and its assignee, block reason, note) after checking the
    /// transition. A task that already has the status is left alone.
    pub fn set_status(
        &mut self,
        id: TaskId,
        to: Status,
        actor: &str,
        change: StatusChange,
    ) -> StoreResult<Outcome> {
        let tx = self.begin()?;
        let outcome = set_status_in(&tx, id, to, actor, change)?;
        if let Outcome::Changed(..) = outcome {
            tx.commit()?;
        }
        Ok(outcome)
    }

    /// A task ended without a report: it goes UNREPORTED and, in the same transaction, its
    /// review task is added — reserved for the reviewer it names, or BLOCKED for a person
    /// when `for_person` gives the reason. Returns the task, the review and the journal.
    pub fn mark_unreported(
        &mut self,
        id: TaskId,
        actor: &str,
        note: &str,
        review: Option<(&NewTask, Option<&str>)>,
    ) -> StoreResult<(Task, Option<Task>, Vec<JournalEntry>)> {
        let change = || StatusChange {
            note: Some(note.to_owned()),
            ..StatusChange::default()
        };
        let Some((new, for_person)) = review else {
            return match self.set_status(id, Status::Unreported, actor, change())? {
                Outcome::Changed(t, journal) => Ok((t, None, journal)),
                Outcome::Unchanged(t) => Ok((t, None, Vec::new())),
            };
        };
        let (mut created, journal) = self.add_batch_then(
            std::slice::from_ref(new),
            &[Vec::new()],
            actor,
            true,
            |tx, created| {
                let rid = created[0].id;
                let mut journal = match set_status_in(tx, id, Status::Unreported, actor, change())?
                {
                    Outcome::Changed(_, j) => j,
                    Outcome::Unchanged(_) => Vec::new(),
                };
                tx.execute(
                    "UPDATE tasks SET review_of = ?2 WHERE id = ?1",
                    params![rid.0, id.0],
                )?;
                if let Some(reason) = for_person {
                    let block = StatusChange {
                        reason: Some(reason.to_owned()),
                        ..StatusChange::default()
                    };
                    if let Outcome::Changed(_, j) =
                        set_status_in(tx, rid, Status::Blocked, actor, block)?
                    {
                        journal.extend(j);
                    }
                }
                Ok(journal)
            },
        )?;
        // As committed: with its `review_of` (and BLOCKED for a person).
        let review = created.pop().map(|t| self.task(t.id)).transpose()?;
        Ok((self.task(id)?, review, journal))
    }

    /// Reopens a COMPLETED or UNREPORTED task: PENDING again, with the reason as a note,
    /// reserved for `to` when given (else for nobody).
    pub fn reopen(
        &mut self,
        id: TaskId,
        reason: &str,
        to: Option<&str>,
        actor: &str,
    ) -> StoreResult<(Task, Vec<JournalEntry>)> {
        if reason.trim().is_empty() {
            return Err(StoreError::Invalid(format!(
                "{id}: a reopen needs a reason (--reason): what is missing or wrong"
            )));
        }
        let now = now_ms();
        let tx = self.begin()?;
        let task = load_task(&tx, id)?;
        if !matches!(task.status, Status::Completed | Status::Unreported) {
            return Err(StoreError::Invalid(format!(
                "{id} is {}: only a COMPLETED or UNREPORTED task can be reopened",
                task.status
            )));
        }
        let note = format!("reopened: {}", reason.trim());
        let write = StatusWrite {
            to: Status::Pending,
            assignee: to,
            reason: None,
            attempts: task.attempts,
            started: false,
            finished: Some(None),
            note: Some(&note),
            action: JournalAction::TaskReopen,
            result: format!("{} → PENDING", task.status),
            detail: reason.trim(),
        };
        let mut journal = vec![write_status(&tx, id, now, actor, write)?];
        if task.status == Status::Unreported {
            journal.extend(close_reviews_in(&tx, id, Status::Pending, actor)?);
        }
        let task = load_task(&tx, id)?;
        tx.commit()?;
        Ok((task, journal))
    }

    /// Gives a task to another agent: an IN_PROGRESS or UNREPORTED task goes back to PENDING
    /// for it. The task is reserved for that agent as `--to` reserves a new one (its attempts
    /// start again from 0): a reassigned task went to whichever agent was free first.
    pub fn reassign(
        &mut self,
        id: TaskId,
        agent: &str,
        actor: &str,
    ) -> StoreResult<(Task, Vec<JournalEntry>)> {
        let now = now_ms();
        let tx = self.begin()?;
        let task = load_task(&tx, id)?;
        if task.status.is_final() {
            return Err(StoreError::Invalid(format!(
                "{id} is {}: there is nothing to reassign",
                task.status
            )));
        }
        let status = if matches!(task.status, Status::InProgress | Status::Unreported) {
            Status::Pending
        } else {
            task.status
        };
        let write = StatusWrite {
            to: status,
            assignee: Some(agent),
            reason: task.blocked_reason.as_deref(),
            attempts: 0,
            started: false,
            finished: None,
            note: None,
            action: JournalAction::TaskReassign,
            result: format!("{} → {agent}", task.assignee.as_deref().unwrap_or("-")),
            detail: "",
        };
        let e = write_status(&tx, id, now, actor, write)?;
        let task = load_task(&tx, id)?;
        tx.commit()?;
        Ok((task, vec![e]))
    }

    /// Edits a task's fields; dependency changes are checked for cycles.
    pub fn edit(
        &mut self,
        id: TaskId,
        edit: &TaskEdit,
        actor: &str,
    ) -> StoreResult<(Task, Vec<JournalEntry>)> {
        let now = now_ms();
        let tx = self.begin()?;
        let before = load_task(&tx, id)?;
        if let Some(t) = &edit.title {
            check_title(t).map_err(|m| StoreError::Invalid(format!("{id}: {m}")))?;
            tx.execute(
                "UPDATE tasks SET title = ?2 WHERE id = ?1",
                params![id.0, t.trim()],
            )?;
        }
        if let Some(b) = &edit.body {
            tx.execute("UPDATE tasks SET body = ?2 WHERE id = ?1", params![id.0, b])?;
        }
        if let Some(p) = edit.priority {
            tx.execute(
                "UPDATE tasks SET priority = ?2 WHERE id = ?1",
                params![id.0, p.as_str()],
            )?;
        }
        for s in &edit.add_skills {
            check_skill(s).map_err(|m| StoreError::Invalid(format!("{id}: {m}")))?;
            tx.execute(
                "INSERT OR IGNORE INTO task_skills (task, skill) VALUES (?1, ?2)",
                params![id.0, s],
            )?;
        }
        for s in &edit.remove_skills {
            tx.execute(
                "DELETE FROM task_skills WHERE task = ?1 AND skill = ?2",
                params![id.0, s],
            )?;
        }
        for d in &edit.remove_deps {
            tx.execute(
                "DELETE FROM task_deps WHERE task = ?1 AND dep = ?2",
                params![id.0, d.0],
            )?;
        }
        if !edit.add_deps.is_empty() {
            for d in &edit.add_deps {
                load_task(&tx, *d)
                    .map_err(|_| StoreError::Invalid(format!("dependency {d} does not exist")))?;
            }
            let graph = dep_graph(&tx)?;
            if let Some(cycle) = find_cycle(&graph, id, &edit.add_deps) {
                return Err(StoreError::Invalid(format!(
                    "{id}: that dependency would make a cycle: {}",
                    format_cycle(&cycle)
                )));
            }
            for d in &edit.add_deps {
                tx.execute(
                    "INSERT OR IGNORE INTO task_deps (task, dep) VALUES (?1, ?2)",
                    params![id.0, d.0],
                )?;
            }
        }
        tx.execute(
            "UPDATE tasks SET updated_ms = ?2 WHERE id = ?1",
            params![id.0, now],
        )?;
        let after = load_task(&tx, id)?;
        let detail = serde_json::json!({
                "title": (before.title != after.title).then_some(&after.title),
                "priority": (before.priority != after.priority).then_some(after.priority.as_str()),
                "skills": (before.skills != after.skills).then_some(&after.skills),
                "deps": (before.deps != after.deps).then(|| after.deps.iter().map(ToString::to_string).collect::<Vec<_>>()),
                "body": before.body != after.body,
            })
            .to_string();
        let line = Line {
            actor,
            action: JournalAction::TaskEdit,
            task: Some(id),
            target: "",
            result: "edited",
            detail: &detail,
        };
        let e = journal_in(&tx, now, line)?;
        tx.commit()?;
        Ok((after, vec![e]))
    }
}

/// Changes a task's status inside `tx` (see [`Store::set_status`]); the caller commits.
fn set_status_in(
    tx: &rusqlite::Transaction<'_>,
    id: TaskId,
    to: Status,
    actor: &str,
    change: StatusChange,
) -> StoreResult<Outcome> {
    {
        let now = now_ms();
        let task = load_task(tx, id)?;
        if task.status == to && change.assignee.is_none() {
            if let Some(note) = change.note.as_deref().filter(|n| !n.trim().is_empty())
                && !task.notes.iter().any(|n| n == note)
            {
                add_note(tx, id, now, actor, note)?;
                let line = Line {
                    actor,
                    action: JournalAction::TaskNote,
                    task: Some(id),
                    target: "",
                    result: to.as_str(),
                    detail: note,
                };
                let e = journal_in(tx, now, line)?;
                let task = load_task(tx, id)?;
                return Ok(Outcome::Changed(task, vec![e]));
            }
            return Ok(Outcome::Unchanged(task));
        }
        let skip_start =
            change.skip_start && task.status == Status::Pending && to == Status::Completed;
        if !skip_start {
            task.status
                .check_transition(to)
                .map_err(|e| StoreError::Invalid(format!("{id}: {e}")))?;
        }
        if to == Status::InProgress {
            let open: Vec<TaskId> = open_deps(tx, id)?;
            if !open.is_empty() && !change.ignore_deps {
                let list: Vec<String> = open.iter().map(ToString::to_string).collect();
                return Err(StoreError::Invalid(format!(
                    "{id}: cannot start: it depends on {} which {} not COMPLETED",
                    list.join(", "),
                    if list.len() == 1 { "is" } else { "are" }
                )));
            }
        }
        let assignee = change.assignee.clone().or(task.assignee.clone());
        let attempts = task.attempts_after(to);
        let reason = if to == Status::Blocked {
            change.reason.clone()
        } else {
            None
        };
        let action = match to {
            Status::Pending => JournalAction::TaskRequeue,
            Status::InProgress => JournalAction::TaskStart,
            Status::Unreported => JournalAction::TaskUnreported,
            Status::Completed => JournalAction::TaskDone,
            Status::Blocked => JournalAction::TaskBlock,
            Status::Cancelled => JournalAction::TaskCancel,
        };
        let detail = change.note.clone().or(reason.clone()).unwrap_or_default();
        let write = StatusWrite {
            to,
            assignee: assignee.as_deref(),
            reason: reason.as_deref(),
            attempts,
            started: to == Status::InProgress,
            finished: (to.is_final() || to == Status::Unreported).then_some(Some(now)),
            note: change.note.as_deref(),
            action,
            result: if skip_start {
                format!("{} → {to}, never started (--force)", task.status)
            } else {
                format!("{} → {}", task.status, to)
            },
            detail: &detail,
        };
        let mut journal = vec![write_status(tx, id, now, actor, write)?];
        if task.status == Status::Unreported && to != Status::Unreported {
            journal.extend(close_reviews_in(tx, id, to, actor)?);
        }
        let task = load_task(tx, id)?;
        Ok(Outcome::Changed(task, journal))
    }
}

/// Task `id` left UNREPORTED (confirmed, reopened or cancelled) by `actor`: its open reviews
/// close — COMPLETED when one was under way, else CANCELLED — with a note saying why.
fn close_reviews_in(
    tx: &rusqlite::Transaction<'_>,
    id: TaskId,
    to: Status,
    actor: &str,
) -> StoreResult<Vec<JournalEntry>> {
    let open: Vec<(u32, String)> = {
        let mut stmt = tx.prepare_cached(
            "SELECT id, status FROM tasks WHERE review_of = ?1
             AND status IN ('PENDING', 'IN_PROGRESS', 'BLOCKED', 'UNREPORTED')",
        )?;
        stmt.query_map([id.0], |r| Ok((r.get(0)?, r.get(1)?)))?
            .collect::<Result<_, _>>()?
    };
    let what = match to {
        Status::Completed => format!("{id} was confirmed COMPLETED by {actor}"),
        Status::Pending => format!("{id} was reopened by {actor}"),
        other => format!("{id} is {other} ({actor})"),
    };
    let mut journal = Vec::new();
    for (review, status) in open {
        let close = if matches!(status.as_str(), "IN_PROGRESS" | "UNREPORTED") {
            Status::Completed
        } else {
            Status::Cancelled
        };
        let change = StatusChange {
            note: Some(format!("{what}: review closed")),
            ..StatusChange::default()
        };
        if let Outcome::Changed(_, entries) =
            set_status_in(tx, TaskId(review), close, actor, change)?
        {
            journal.extend(entries);
        }
    }
    Ok(journal)
}

/// What one status change writes: the task's new fields, a note and a journal entry. A status
/// change, a reopen and a reassignment differ only in these values.
struct StatusWrite<'a> {
    /// The new status.
    to: Status,
    /// The new assignee (also the journal entry's target).
    assignee: Option<&'a str>,
    /// The new block reason.
    reason: Option<&'a str>,
    /// The new count of attempts.
    attempts: u32,
    /// Whether it starts now (`started_ms`).
    started: bool,
    /// The new `finished_ms` (`None`: as it was).
    finished: Option<Option<i64>>,
    /// A note to keep with the task (none when blank).
    note: Option<&'a str>,
    /// The journal entry's action.
    action: JournalAction,
    /// The journal entry's result.
    result: String,
    /// The journal entry's detail.
    detail: &'a str,
}

/// Writes a status change of task `id` inside `tx` — its row, its note, its journal entry —
/// and returns the entry; the caller checked it and commits.
fn write_status(
    tx: &rusqlite::Transaction<'_>,
    id: TaskId,
    now: i64,
    actor: &str,
    w: StatusWrite<'_>,
) -> StoreResult<JournalEntry> {
    tx.execute(
        "UPDATE tasks SET status = ?2, assignee = ?3, blocked_reason = ?4, attempts = ?5, updated_ms = ?6,
            started_ms = CASE WHEN ?7 THEN ?6 ELSE started_ms END,
            finished_ms = CASE WHEN ?8 THEN ?9 ELSE finished_ms END WHERE id = ?1",
        params![
            id.0,
            w.to.as_str(),
            w.assignee,
            w.reason,
            w.attempts,
            now,
            w.started,
            w.finished.is_some(),
            w.finished.flatten()
        ],
    )?;
    if let Some(note) = w.note.filter(|n| !n.trim().is_empty()) {
        add_note(tx, id, now, actor, note)?;
    }
    let line = Line {
        actor,
        action: w.action,
        task: Some(id),
        target: w.assignee.unwrap_or(""),
        result: &w.result,
        detail: w.detail,
    };
    journal_in(tx, now, line)
}

/// Keeps a note with task `id`.
fn add_note(
    tx: &rusqlite::Transaction<'_>,
    id: TaskId,
    now: i64,
    actor: &str,
    note: &str,
) -> StoreResult<()> {
    tx.execute(
        "INSERT INTO task_notes (task, at_ms, author, text) VALUES (?1, ?2, ?3, ?4)",
        params![id.0, now, actor, note],
    )?;
    Ok(())
}
