//! The append-only journal: who did what to which task, written in the transaction of the
//! change it explains.

use baton_core::render::JournalLine;
use baton_core::render::report::task_times;
use baton_core::task::TaskId;
use baton_core::usage::Usage;
use baton_core::vocab::JournalAction;
use rusqlite::Connection;
use rusqlite::OptionalExtension;
use rusqlite::params;
use serde::Serialize;

use super::Store;
use super::StoreResult;
use super::now_ms;
use super::query_rows;

/// One journal entry.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct JournalEntry {
    /// Its position in the journal, from 1.
    pub seq: i64,
    /// When, in milliseconds since the Unix epoch.
    pub at_ms: i64,
    /// Who: an agent's name, `user`, `memory-file`, `baton`.
    pub actor: String,
    /// What: `task-add`, `task-start`, `task-done`, …
    pub action: String,
    /// The task concerned.
    pub task: Option<TaskId>,
    /// What else it concerns (an agent, a file).
    pub target: String,
    /// The outcome in a few words.
    pub result: String,
    /// Details (JSON text or empty).
    pub detail: String,
}

/// A journal line to write: who did what to which task, and how it came out.
pub(super) struct Line<'a> {
    pub actor: &'a str,
    pub action: JournalAction,
    pub task: Option<TaskId>,
    pub target: &'a str,
    pub result: &'a str,
    pub detail: &'a str,
}

/// Writes `line` inside `conn`'s transaction, at `at_ms`; returns the entry as stored.
pub(super) fn journal_in(
    conn: &Connection,
    at_ms: i64,
    line: Line<'_>,
) -> StoreResult<JournalEntry> {
    let action = line.action.as_str();
    conn.execute(
        "INSERT INTO journal (at_ms, actor, action, task, target, result, detail) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        params![at_ms, line.actor, action, line.task.map(|t| t.0), line.target, line.result, line.detail],
    )?;
    Ok(JournalEntry {
        seq: conn.last_insert_rowid(),
        at_ms,
        actor: line.actor.to_owned(),
        action: action.to_owned(),
        task: line.task,
        target: line.target.to_owned(),
        result: line.result.to_owned(),
        detail: line.detail.to_owned(),
    })
}

/// The columns `journal_row` reads, in its order.
const JOURNAL_SELECT: &str =
    "SELECT seq, at_ms, actor, action, task, target, result, detail FROM journal";

fn journal_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<JournalEntry> {
    Ok(JournalEntry {
        seq: r.get(0)?,
        at_ms: r.get(1)?,
        actor: r.get(2)?,
        action: r.get(3)?,
        task: r.get::<_, Option<u32>>(4)?.map(TaskId),
        target: r.get(5)?,
        result: r.get(6)?,
        detail: r.get(7)?,
    })
}

impl Store {
    /// Writes a journal entry on its own (for events that change no task).
    pub fn journal(
        &mut self,
        actor: &str,
        action: JournalAction,
        task: Option<TaskId>,
        target: &str,
        result: &str,
        detail: &str,
    ) -> StoreResult<JournalEntry> {
        let tx = self.begin()?;
        let line = Line {
            actor,
            action,
            task,
            target,
            result,
            detail,
        };
        let e = journal_in(&tx, now_ms(), line)?;
        tx.commit()?;
        Ok(e)
    }

    /// Returns journal entries after `after_seq`, oldest first, at most `limit`.
    pub fn journal_since(&self, after_seq: i64, limit: usize) -> StoreResult<Vec<JournalEntry>> {
        query_rows(
            &self.conn,
            &format!("{JOURNAL_SELECT} WHERE seq > ?1 ORDER BY seq LIMIT ?2"),
            params![after_seq, limit as i64],
            journal_row,
        )
    }

    /// Returns every journal entry about one task, oldest first.
    pub fn task_history(&self, id: TaskId) -> StoreResult<Vec<JournalEntry>> {
        query_rows(
            &self.conn,
            &format!("{JOURNAL_SELECT} WHERE task = ?1 ORDER BY seq"),
            [id.0],
            journal_row,
        )
    }

    /// Returns the last `limit` journal entries with one of `actions`, newest first.
    pub fn journal_last(
        &self,
        actions: &[JournalAction],
        limit: usize,
    ) -> StoreResult<Vec<JournalEntry>> {
        let marks: Vec<String> = (0..actions.len()).map(|i| format!("?{}", i + 2)).collect();
        let sql = format!(
            "{JOURNAL_SELECT} WHERE action IN ({}) ORDER BY seq DESC LIMIT ?1",
            marks.join(", ")
        );
        let mut args: Vec<rusqlite::types::Value> = vec![(limit as i64).into()];
        args.extend(
            actions
                .iter()
                .map(|a| rusqlite::types::Value::from(a.as_str().to_owned())),
        );
        query_rows(
            &self.conn,
            &sql,
            rusqlite::params_from_iter(args),
            journal_row,
        )
    }

    /// Counts journal entries with one of `actions`.
    pub fn journal_count(&self, actions: &[JournalAction]) -> StoreResult<u64> {
        let marks: Vec<String> = (0..actions.len()).map(|i| format!("?{}", i + 1)).collect();
        let sql = format!(
            "SELECT COUNT(*) FROM journal WHERE action IN ({})",
            marks.join(", ")
        );
        Ok(self.conn.query_row(
            &sql,
            rusqlite::params_from_iter(actions.iter().map(|a| a.as_str())),
            |r| r.get(0),
        )?)
    }

    /// Returns the last `limit` journal entries, oldest first.
    pub fn journal_tail(&self, limit: usize) -> StoreResult<Vec<JournalEntry>> {
        query_rows(
            &self.conn,
            &format!(
                "{JOURNAL_SELECT} WHERE seq > (SELECT COALESCE(MAX(seq), 0) FROM journal) - ?1 ORDER BY seq"
            ),
            [limit as i64],
            journal_row,
        )
    }

    /// Returns the newest journal entry after `after_seq` that is a step of a handoff
    /// ([`JournalAction::is_handoff`]); a poller passes the last sequence it scanned, so only
    /// new entries are read.
    pub fn journal_last_handoff(&self, after_seq: i64) -> StoreResult<Option<JournalEntry>> {
        let prefix = JournalAction::HANDOFF_PREFIX;
        Ok(self
            .conn
            .query_row(
                &format!(
                    "{JOURNAL_SELECT} WHERE seq > ?2 AND substr(action, 1, length(?1)) = ?1 ORDER BY seq DESC LIMIT 1"
                ),
                params![prefix, after_seq],
                journal_row,
            )
            .optional()?)
    }
}

impl JournalEntry {
    /// The entry as the core's renderers and rules read it.
    pub fn line(&self) -> JournalLine<'_> {
        JournalLine {
            at_ms: self.at_ms,
            actor: &self.actor,
            action: &self.action,
            task: self.task,
            target: &self.target,
            result: &self.result,
            detail: &self.detail,
        }
    }
}

/// A task with its times, cost, tokens and history: `baton task show --json`, `/api/task` of
/// `baton serve`. Unknown values are null, never 0.
#[derive(Serialize)]
pub struct Shown {
    /// The task.
    #[serde(flatten)]
    pub task: baton_core::task::Task,
    /// Its first start (ms since the Unix epoch).
    pub started_ms: Option<i64>,
    /// Its last finish: COMPLETED, CANCELLED or UNREPORTED (ms since the Unix epoch).
    pub finished_ms: Option<i64>,
    /// Finished minus started.
    pub duration_ms: Option<i64>,
    /// Its share of its agents' cost and tokens: `cost_usd`, `input_tokens`, `output_tokens`
    /// ([`baton_core::usage`]).
    #[serde(flatten)]
    pub usage: Usage,
    /// Its journal entries.
    pub history: Vec<JournalEntry>,
}

impl Store {
    /// Returns a task with its times, cost, tokens and history, read in one snapshot.
    pub fn shown(&self, id: TaskId) -> StoreResult<Shown> {
        self.snapshot(|s| {
            let task = s.task(id)?;
            let history = s.task_history(id)?;
            let usage = s.task_usage()?.remove(&id).unwrap_or_default();
            let lines: Vec<JournalLine<'_>> = history.iter().map(JournalEntry::line).collect();
            let times = task_times(&lines).remove(&id).unwrap_or_default();
            Ok(Shown {
                task,
                started_ms: times.started_ms,
                finished_ms: times.finished_ms,
                duration_ms: times.duration_ms(),
                usage,
                history,
            })
        })
    }
}
