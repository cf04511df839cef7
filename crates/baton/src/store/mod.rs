//! The store: one SQLite file, `.baton/state.db`, the single source of truth for tasks, agents,
//! the lead, quota readings and the append-only journal.
//!
//! Every change is one `BEGIN IMMEDIATE` transaction that also writes its journal entries, so a
//! process killed at any point leaves the last committed state and a journal that explains it.
//! WAL mode with `synchronous = FULL`: a committed change survives a crash of the process and
//! of the machine. Many processes may write at once; SQLite serializes them (busy timeout 10 s).
//!
//! One file a table family, each with its own `impl Store`: [`open`] (schema, migrations,
//! identity, `meta`), [`tasks`], [`journal`], [`quota`], [`usage`], [`agents`], [`lead`], [`merges`].

use std::path::Path;
use std::path::PathBuf;

use baton_core::task::TaskId;
use rusqlite::Connection;
use rusqlite::Transaction;
use rusqlite::TransactionBehavior;

mod agents;
mod journal;
mod lead;
mod merges;
mod open;
mod quota;
mod remote;
mod tasks;
#[cfg(test)]
mod testing;
mod usage;

pub use agents::AgentRow;
pub use journal::JournalEntry;
pub use journal::Shown;
pub use merges::Merge;
pub use merges::MergeRow;
pub use merges::MergeWrite;
pub use open::STORE_FILE;
pub use open::STORE_ID_FILE;
pub(crate) use open::new_store_id as new_report_id;
pub use quota::QuotaData;
pub use quota::QuotaReading;
pub use quota::QuotaSample;
pub use quota::QuotaWindowReadings;
pub use remote::RemoteAnswer;
pub use tasks::Outcome;
pub use tasks::StatusChange;
pub use tasks::TaskEdit;
pub use tasks::TaskFilter;
pub use usage::UsageSample;

/// SQLite's message, with what it most likely means when the disk is at fault.
fn explain(e: &rusqlite::Error) -> String {
    match e.sqlite_error_code() {
        Some(rusqlite::ErrorCode::DiskFull | rusqlite::ErrorCode::SystemIoFailure) => format!(
            "{e}: the disk is full (or failing); nothing was changed — free some space and run the command again"
        ),
        _ => e.to_string(),
    }
}

/// What a person can do when the store is not the project's.
fn way_out(marker: &Path) -> String {
    format!(
        "put the project's store back (a backup of it is accepted), or, to start afresh with \
         the file now there (or a new empty store when there is none), stop baton (`baton \
         down`) and delete {}",
        marker.display()
    )
}

/// Why the store could not do something.
#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    /// The project's store was deleted (its identity is recorded beside it); no empty store
    /// is created in its place.
    #[error(
        "{path} was deleted: this project's store {id} is gone, and baton does not start an \
         empty one in its place (task IDs would start again at T-001 while agents and the \
         memory file still speak of the old ones); {}",
        way_out(marker)
    )]
    Deleted {
        /// The store's path.
        path: PathBuf,
        /// The identity recorded for the project.
        id: String,
        /// Where it is recorded.
        marker: PathBuf,
    },
    /// Another store was put in the project's store's place.
    #[error(
        "{path} was replaced: it is store {found}, but this project's store is {expected} \
         (recorded in {}); {}",
        marker.display(),
        way_out(marker)
    )]
    Replaced {
        /// The store's path.
        path: PathBuf,
        /// The identity recorded for the project.
        expected: String,
        /// The identity of the file found.
        found: String,
        /// Where the project's identity is recorded.
        marker: PathBuf,
    },
    /// The project's store file was emptied (truncated to nothing).
    #[error(
        "{path} is empty: this project's store {expected} (recorded in {}) was emptied; \
         nothing was written into it; {}",
        marker.display(),
        way_out(marker)
    )]
    Emptied {
        /// The store's path.
        path: PathBuf,
        /// The identity recorded for the project.
        expected: String,
        /// Where the project's identity is recorded.
        marker: PathBuf,
    },
    /// The file this process opened was deleted or replaced under it.
    #[error(
        "{path} was {} while this process had it open: it stops rather than go on with a \
         store nobody else reads",
        if *.deleted { "deleted" } else { "replaced by another file" }
    )]
    Moved {
        /// The store's path.
        path: PathBuf,
        /// Deleted (else replaced).
        deleted: bool,
    },
    /// The file is not a SQLite database (or is damaged); it was not modified.
    #[error(
        "{path} is not a baton store (not a SQLite database, or damaged); it was left untouched"
    )]
    NotADatabase {
        /// The file.
        path: PathBuf,
    },
    /// The file was written by a newer baton.
    #[error(
        "{path} was written by a newer baton (schema {found}; this baton knows up to {supported}): upgrade baton; the file was left untouched"
    )]
    TooNew {
        /// The file.
        path: PathBuf,
        /// Its schema version.
        found: i64,
        /// The newest this build knows.
        supported: i64,
    },
    /// No task with this ID.
    #[error("no task {0}")]
    NoTask(TaskId),
    /// A request that breaks a rule (bad transition, cycle, bad title…).
    #[error("{0}")]
    Invalid(String),
    /// SQLite failed.
    #[error("store: {}", explain(.0))]
    Sqlite(#[from] rusqlite::Error),
    /// Reading the file failed.
    #[error("store: {0}")]
    Io(#[from] std::io::Error),
}

/// Shorthand for store results.
pub type StoreResult<T> = Result<T, StoreError>;

/// An open store.
pub struct Store {
    conn: Connection,
    /// The file opened, and its (device, inode) then.
    path: PathBuf,
    file: Option<(u64, u64)>,
}

/// Returns the current time in milliseconds since the Unix epoch.
pub fn now_ms() -> i64 {
    jiff::Timestamp::now().as_millisecond()
}

/// Runs a query and returns its rows, each read by `row`.
fn query_rows<T, P: rusqlite::Params>(
    conn: &Connection,
    sql: &str,
    params: P,
    row: impl FnMut(&rusqlite::Row<'_>) -> rusqlite::Result<T>,
) -> StoreResult<Vec<T>> {
    let mut stmt = conn.prepare_cached(sql)?;
    let rows = stmt.query_map(params, row)?;
    Ok(rows.collect::<Result<_, _>>()?)
}

impl Store {
    /// Begins a change: a `BEGIN IMMEDIATE` transaction (it waits for other writers).
    fn begin(&mut self) -> StoreResult<Transaction<'_>> {
        Ok(self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?)
    }

    /// Runs `read` on one snapshot of the store: its queries are one read transaction, so a
    /// change another process commits meanwhile is seen by all of them or by none. Without it
    /// each query sees the store as it is then, and a task closed between the query of open
    /// tasks and the query of closed ones is in both.
    pub fn snapshot<T, E: From<StoreError>>(
        &self,
        read: impl FnOnce(&Store) -> Result<T, E>,
    ) -> Result<T, E> {
        let snap = self.begin_read()?;
        let out = read(self)?;
        drop(snap);
        Ok(out)
    }

    /// Starts one read snapshot of the store (see [`Store::snapshot`]), which lasts until the
    /// returned guard is dropped; for a reader that cannot be one closure (the dashboard's
    /// loader, which keeps state between its queries).
    pub fn begin_read(&self) -> StoreResult<Transaction<'_>> {
        Ok(self.conn.unchecked_transaction()?)
    }
}
