//! The store: one SQLite file, `.baton/state.db`, the single source of truth for tasks, agents,
//! the lead, quota readings and the append-only journal.
//!
//! Every change is one `BEGIN IMMEDIATE` transaction that also writes its journal entries, so a
//! process killed at any point leaves the last committed state and a journal that explains it.
//! WAL mode with `synchronous = FULL`: a committed change survives a crash of the process and
//! of the machine. Many processes may write at once; SQLite serializes them (busy timeout 10 s).

use std::collections::BTreeMap;
use std::io::Read;
use std::path::Path;
use std::path::PathBuf;
use std::time::Duration;

use baton_core::task::NewTask;
use baton_core::task::Priority;
use baton_core::task::Status;
use baton_core::task::Task;
use baton_core::task::TaskId;
use baton_core::task::check_skill;
use baton_core::task::check_title;
use baton_core::task::find_cycle;
use baton_core::task::format_cycle;
use rusqlite::Connection;
use rusqlite::OpenFlags;
use rusqlite::OptionalExtension;
use rusqlite::TransactionBehavior;
use rusqlite::params;
use serde::Serialize;

/// The schema version this baton writes.
pub const SCHEMA_VERSION: i64 = 4;

/// The migrations, in order: `(version, description, SQL)`.
const MIGRATIONS: &[(i64, &str, &str)] = &[
    (
        1,
        "tasks, agents, lead, quota readings, journal",
        r#"
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
INSERT INTO meta (key, value) VALUES ('next_task_id', '1');
CREATE TABLE tasks (
    id INTEGER PRIMARY KEY,
    title TEXT NOT NULL,
    body TEXT NOT NULL DEFAULT '',
    priority TEXT NOT NULL CHECK (priority IN ('HIGH', 'MED', 'LOW')),
    status TEXT NOT NULL CHECK (status IN ('PENDING', 'IN_PROGRESS', 'COMPLETED', 'BLOCKED', 'CANCELLED')),
    assignee TEXT,
    blocked_reason TEXT,
    attempts INTEGER NOT NULL DEFAULT 0,
    created_ms INTEGER NOT NULL,
    updated_ms INTEGER NOT NULL,
    started_ms INTEGER,
    finished_ms INTEGER
);
CREATE INDEX tasks_by_status ON tasks (status, id);
CREATE TABLE task_skills (
    task INTEGER NOT NULL REFERENCES tasks (id),
    skill TEXT NOT NULL,
    PRIMARY KEY (task, skill)
);
CREATE TABLE task_deps (
    task INTEGER NOT NULL REFERENCES tasks (id),
    dep INTEGER NOT NULL REFERENCES tasks (id),
    PRIMARY KEY (task, dep)
);
CREATE TABLE task_notes (
    id INTEGER PRIMARY KEY,
    task INTEGER NOT NULL REFERENCES tasks (id),
    at_ms INTEGER NOT NULL,
    author TEXT NOT NULL,
    text TEXT NOT NULL
);
CREATE INDEX task_notes_by_task ON task_notes (task);
CREATE TABLE agents (
    name TEXT PRIMARY KEY,
    cli TEXT NOT NULL,
    state TEXT,
    pane TEXT,
    pid INTEGER,
    updated_ms INTEGER NOT NULL
);
CREATE TABLE lead (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    agent TEXT,
    since_ms INTEGER,
    state TEXT
);
CREATE TABLE quota_readings (
    id INTEGER PRIMARY KEY,
    agent TEXT NOT NULL,
    window TEXT NOT NULL,
    used_percent REAL NOT NULL,
    resets_at_ms INTEGER,
    source TEXT NOT NULL,
    observed_ms INTEGER NOT NULL
);
CREATE INDEX quota_by_agent ON quota_readings (agent, observed_ms);
CREATE TABLE journal (
    seq INTEGER PRIMARY KEY AUTOINCREMENT,
    at_ms INTEGER NOT NULL,
    actor TEXT NOT NULL,
    action TEXT NOT NULL,
    task INTEGER,
    target TEXT NOT NULL DEFAULT '',
    result TEXT NOT NULL DEFAULT '',
    detail TEXT NOT NULL DEFAULT ''
);
CREATE INDEX journal_by_task ON journal (task, seq);
"#,
    ),
    (
        2,
        "the merge queue (worktree isolation)",
        r#"
CREATE TABLE merges (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    task INTEGER NOT NULL REFERENCES tasks (id),
    agent TEXT NOT NULL,
    state TEXT NOT NULL CHECK (state IN ('queued', 'running', 'merged', 'conflict', 'failed', 'error')),
    base TEXT,
    head TEXT,
    merge_commit TEXT,
    detail TEXT NOT NULL DEFAULT '',
    created_ms INTEGER NOT NULL,
    updated_ms INTEGER NOT NULL
);
CREATE INDEX merges_by_state ON merges (state, id);
CREATE INDEX merges_by_task ON merges (task, id);
"#,
    ),
    (
        3,
        "UNREPORTED tasks and their reviews",
        // SQLite cannot change a CHECK constraint: the table is rebuilt (foreign keys are off
        // during migrations, checked before the commit).
        r#"
CREATE TABLE tasks_new (
    id INTEGER PRIMARY KEY,
    title TEXT NOT NULL,
    body TEXT NOT NULL DEFAULT '',
    priority TEXT NOT NULL CHECK (priority IN ('HIGH', 'MED', 'LOW')),
    status TEXT NOT NULL CHECK (status IN ('PENDING', 'IN_PROGRESS', 'UNREPORTED', 'COMPLETED', 'BLOCKED', 'CANCELLED')),
    assignee TEXT,
    blocked_reason TEXT,
    attempts INTEGER NOT NULL DEFAULT 0,
    created_ms INTEGER NOT NULL,
    updated_ms INTEGER NOT NULL,
    started_ms INTEGER,
    finished_ms INTEGER,
    review_of INTEGER REFERENCES tasks (id)
);
INSERT INTO tasks_new (id, title, body, priority, status, assignee, blocked_reason, attempts,
    created_ms, updated_ms, started_ms, finished_ms)
SELECT id, title, body, priority, status, assignee, blocked_reason, attempts,
    created_ms, updated_ms, started_ms, finished_ms FROM tasks;
DROP TABLE tasks;
ALTER TABLE tasks_new RENAME TO tasks;
CREATE INDEX tasks_by_status ON tasks (status, id);
CREATE INDEX tasks_by_review ON tasks (review_of) WHERE review_of IS NOT NULL;
"#,
    ),
    (
        4,
        "quota readings carry the time their data was made",
        // `data_ms`: the newest time a source made this value (ranking, age); `first_data_ms`:
        // the first (the burn rate's sample time). Rows from before: both are their
        // `observed_ms` (read through COALESCE).
        r#"
ALTER TABLE quota_readings ADD COLUMN data_ms INTEGER;
ALTER TABLE quota_readings ADD COLUMN first_data_ms INTEGER;
CREATE INDEX quota_by_source ON quota_readings (agent, window, source, id);
"#,
    ),
];

/// SQLite's message, with what it most likely means when the disk is at fault.
fn explain(e: &rusqlite::Error) -> String {
    match e.sqlite_error_code() {
        Some(rusqlite::ErrorCode::DiskFull | rusqlite::ErrorCode::SystemIoFailure) => format!(
            "{e}: the disk is full (or failing); nothing was changed — free some space and run the command again"
        ),
        _ => e.to_string(),
    }
}

/// The `meta` key holding the store's identity, a random word written once when the store
/// is created (or first opened by a baton that knows identities).
pub const STORE_ID_KEY: &str = "store_id";

/// The file beside the store (`.baton/store-id`) that remembers the identity of the project's
/// store, so that a deleted or replaced `state.db` is noticed instead of silently replaced.
pub const STORE_ID_FILE: &str = "store-id";

/// The store's file name in the state directory.
pub const STORE_FILE: &str = "state.db";

/// Returns a new random store identity: 16 bytes of the system's random source in hex (the
/// time and the pid when it cannot be read).
fn new_store_id() -> String {
    let mut bytes = [0u8; 16];
    let read = std::fs::File::open("/dev/urandom").and_then(|mut f| f.read_exact(&mut bytes));
    if read.is_err() {
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_nanos());
        bytes[..12].copy_from_slice(&nanos.to_le_bytes()[..12]);
        bytes[12..].copy_from_slice(&std::process::id().to_le_bytes());
    }
    bytes.iter().map(|b| format!("{b:02x}")).collect()
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

/// An open store.
pub struct Store {
    conn: Connection,
    /// The file opened, and its (device, inode) then.
    path: PathBuf,
    file: Option<(u64, u64)>,
}

/// Returns a file's (device, inode), `None` when it does not exist.
fn file_key(path: &Path) -> std::io::Result<Option<(u64, u64)>> {
    use std::os::unix::fs::MetadataExt;
    match std::fs::metadata(path) {
        Ok(m) => Ok(Some((m.dev(), m.ino()))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
}

/// The `meta` key prefix of the items imported from a file: `import|<file>|<item key>` →
/// the task ID.
fn import_prefix(file: &str) -> String {
    format!("import|{file}|")
}

/// Returns the current time in milliseconds since the Unix epoch.
pub fn now_ms() -> i64 {
    jiff::Timestamp::now().as_millisecond()
}

impl Store {
    /// Opens (creating it when missing) the store at `path`, and brings its schema up to date.
    pub fn open(path: &Path) -> StoreResult<Store> {
        // Many processes may create or convert the store at the same moment; switching the
        // journal mode can answer "locked" at once instead of waiting on the busy timeout, so
        // opening is retried while the database is busy (up to about 10 s).
        let mut tries = 0;
        loop {
            match Store::open_once(path) {
                Err(StoreError::Sqlite(rusqlite::Error::SqliteFailure(f, _)))
                    if matches!(
                        f.code,
                        rusqlite::ErrorCode::DatabaseBusy | rusqlite::ErrorCode::DatabaseLocked
                    ) && tries < 200 =>
                {
                    tries += 1;
                    std::thread::sleep(Duration::from_millis(50));
                }
                other => return other,
            }
        }
    }

    fn open_once(path: &Path) -> StoreResult<Store> {
        // Refuse a file that is not SQLite before SQLite touches it (WAL setup writes). The
        // header is read through SQLite, read-only: opening and closing the file any other way
        // in a process that holds a connection to it would drop that connection's POSIX locks
        // (they belong to the process, not the descriptor), and another process closing its
        // connection would then take itself for the last one and delete the WAL under the
        // daemon.
        if path.exists() {
            let probe = Connection::open_with_flags(
                path,
                OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX,
            )?;
            let header: Result<i64, _> = probe.query_row("PRAGMA schema_version", [], |r| r.get(0));
            if let Err(rusqlite::Error::SqliteFailure(f, _)) = &header
                && f.code == rusqlite::ErrorCode::NotADatabase
            {
                return Err(StoreError::NotADatabase {
                    path: path.to_owned(),
                });
            }
        }
        let conn = Connection::open_with_flags(
            path,
            OpenFlags::SQLITE_OPEN_READ_WRITE
                | OpenFlags::SQLITE_OPEN_CREATE
                | OpenFlags::SQLITE_OPEN_NO_MUTEX,
        )?;
        conn.busy_timeout(Duration::from_secs(10))?;
        let not_db = |e: rusqlite::Error| match e {
            rusqlite::Error::SqliteFailure(f, _)
                if matches!(
                    f.code,
                    rusqlite::ErrorCode::NotADatabase | rusqlite::ErrorCode::DatabaseCorrupt
                ) =>
            {
                StoreError::NotADatabase {
                    path: path.to_owned(),
                }
            }
            other => StoreError::Sqlite(other),
        };
        let version: i64 = conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .map_err(not_db)?;
        if version > SCHEMA_VERSION {
            return Err(StoreError::TooNew {
                path: path.to_owned(),
                found: version,
                supported: SCHEMA_VERSION,
            });
        }
        let mode: String = conn
            .query_row("PRAGMA journal_mode", [], |r| r.get(0))
            .map_err(not_db)?;
        if !mode.eq_ignore_ascii_case("wal") {
            conn.query_row("PRAGMA journal_mode = WAL", [], |r| r.get::<_, String>(0))?;
        }
        conn.execute_batch("PRAGMA synchronous = FULL; PRAGMA foreign_keys = ON;")?;
        let file = file_key(path)?;
        let mut store = Store {
            conn,
            path: path.to_owned(),
            file,
        };
        if version < SCHEMA_VERSION {
            store.migrate()?;
        }
        Ok(store)
    }

    /// Opens an empty store in memory: what a project with no store yet holds, for a dry run
    /// that must run every check of the real thing and keep nothing.
    pub fn open_in_memory() -> StoreResult<Store> {
        let conn = Connection::open_in_memory()?;
        conn.execute_batch("PRAGMA foreign_keys = ON;")?;
        let mut store = Store {
            conn,
            path: PathBuf::new(),
            file: None,
        };
        store.migrate()?;
        Ok(store)
    }

    /// Opens the project's store in its state directory (`.baton/state.db`), checking it is
    /// the project's: a store is created only when none exists and none is recorded in
    /// `.baton/store-id`; a recorded store that is missing, or another store in its place, is
    /// an error that says so (and what to do). The first open records the identity.
    pub fn open_project(state_dir: &Path) -> StoreResult<Store> {
        let path = state_dir.join(STORE_FILE);
        let marker = state_dir.join(STORE_ID_FILE);
        let recorded = match std::fs::read_to_string(&marker) {
            Ok(s) => Some(s.trim().to_owned()).filter(|s| !s.is_empty()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
            Err(e) => return Err(StoreError::Io(e)),
        };
        if let Some(id) = &recorded
            && file_key(&path)?.is_none()
        {
            return Err(StoreError::Deleted {
                path,
                id: id.clone(),
                marker,
            });
        }
        let mut store = Store::open(&path)?;
        let id = store.ensure_id()?;
        match recorded {
            Some(expected) if expected == id => {}
            Some(expected) => {
                return Err(StoreError::Replaced {
                    path,
                    expected,
                    found: id,
                    marker,
                });
            }
            None => {
                // Every process that gets here writes the same identity (the store's): a
                // temporary file renamed into place, so a reader never sees half of it.
                let tmp = state_dir.join(format!(".{STORE_ID_FILE}.{}.tmp", std::process::id()));
                std::fs::write(&tmp, format!("{id}\n"))?;
                std::fs::rename(&tmp, &marker)?;
            }
        }
        Ok(store)
    }

    /// Returns the store's identity, giving it one when it has none yet (a store created
    /// before identities existed).
    fn ensure_id(&mut self) -> StoreResult<String> {
        if let Some(id) = self.meta(STORE_ID_KEY)? {
            return Ok(id);
        }
        self.conn.execute(
            "INSERT OR IGNORE INTO meta (key, value) VALUES (?1, ?2)",
            params![STORE_ID_KEY, new_store_id()],
        )?;
        self.meta(STORE_ID_KEY)?
            .ok_or_else(|| StoreError::Invalid("the store has no identity".into()))
    }

    /// Returns the store's identity (empty only for a store created by a baton before
    /// identities, until [`Store::open_project`] gives it one).
    pub fn id(&self) -> StoreResult<String> {
        Ok(self.meta(STORE_ID_KEY)?.unwrap_or_default())
    }

    /// Checks that the file this store opened is still the one at its path: a store deleted
    /// or replaced under a long-running process (the daemon) is an error.
    pub fn check_in_place(&self) -> StoreResult<()> {
        let now = file_key(&self.path)?;
        if now.is_some() && now == self.file {
            return Ok(());
        }
        Err(StoreError::Moved {
            path: self.path.clone(),
            deleted: now.is_none(),
        })
    }

    fn migrate(&mut self) -> StoreResult<()> {
        // A table rebuilt by a migration must not trip the foreign keys on its way (SQLite
        // ignores this pragma inside a transaction: it is set around it).
        self.conn.execute_batch("PRAGMA foreign_keys = OFF;")?;
        let migrated = self.migrate_tx();
        self.conn.execute_batch("PRAGMA foreign_keys = ON;")?;
        migrated
    }

    fn migrate_tx(&mut self) -> StoreResult<()> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        // Another process may have migrated while we waited for the lock.
        let version: i64 = tx.query_row("PRAGMA user_version", [], |r| r.get(0))?;
        if version == 0 {
            tx.execute_batch(
                "CREATE TABLE IF NOT EXISTS schema_migrations (version INTEGER PRIMARY KEY, applied_ms INTEGER NOT NULL, description TEXT NOT NULL);",
            )?;
        }
        for (v, description, sql) in MIGRATIONS {
            if *v > version {
                tx.execute_batch(sql)?;
                tx.execute(
                    "INSERT INTO schema_migrations (version, applied_ms, description) VALUES (?1, ?2, ?3)",
                    params![v, now_ms(), description],
                )?;
                tx.pragma_update(None, "user_version", v)?;
            }
        }
        let broken: Option<String> = tx
            .query_row("PRAGMA foreign_key_check", [], |r| r.get(0))
            .optional()?;
        if let Some(table) = broken {
            return Err(StoreError::Invalid(format!(
                "the schema migration left a broken reference in table {table}: nothing was changed"
            )));
        }
        if version == 0 {
            // A new store: its identity is written with its schema.
            tx.execute(
                "INSERT OR IGNORE INTO meta (key, value) VALUES (?1, ?2)",
                params![STORE_ID_KEY, new_store_id()],
            )?;
        }
        tx.commit()?;
        Ok(())
    }

    /// Runs SQLite's integrity check; returns its complaints (empty when sound).
    pub fn integrity_problems(&self) -> StoreResult<Vec<String>> {
        let mut stmt = self.conn.prepare("PRAGMA integrity_check")?;
        let rows: Vec<String> = stmt
            .query_map([], |r| r.get(0))?
            .collect::<Result<_, _>>()?;
        Ok(rows.into_iter().filter(|r| r != "ok").collect())
    }

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

    /// Returns the `meta` rows whose key starts with `prefix`.
    pub fn meta_with_prefix(&self, prefix: &str) -> StoreResult<Vec<(String, String)>> {
        let mut stmt = self
            .conn
            .prepare("SELECT key, value FROM meta WHERE substr(key, 1, ?2) = ?1 ORDER BY key")?;
        let rows = stmt.query_map(params![prefix, prefix.chars().count() as i64], |r| {
            Ok((r.get(0)?, r.get(1)?))
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
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
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        write_merge(&tx, merge)?;
        tx.commit()?;
        Ok(())
    }

    fn add_batch_then(
        &mut self,
        tasks: &[NewTask],
        local: &[Vec<usize>],
        actor: &str,
        commit: bool,
        then: impl FnOnce(&rusqlite::Transaction<'_>, &[Task]) -> StoreResult<Vec<JournalEntry>>,
    ) -> StoreResult<(Vec<Task>, Vec<JournalEntry>)> {
        let now = now_ms();
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
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
            journal.push(journal_in(
                &tx,
                now,
                actor,
                "task-add",
                Some(id),
                t.assignee.as_deref().unwrap_or(""),
                "PENDING",
                &serde_json::json!({"title": t.title.trim(), "priority": priority.as_str()})
                    .to_string(),
            )?);
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

    /// Changes a task's status (and its assignee, block reason, note) after checking the
    /// transition. A task that already has the status is left alone.
    pub fn set_status(
        &mut self,
        id: TaskId,
        to: Status,
        actor: &str,
        change: StatusChange,
    ) -> StoreResult<Outcome> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
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
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let task = load_task(&tx, id)?;
        if !matches!(task.status, Status::Completed | Status::Unreported) {
            return Err(StoreError::Invalid(format!(
                "{id} is {}: only a COMPLETED or UNREPORTED task can be reopened",
                task.status
            )));
        }
        tx.execute(
            "UPDATE tasks SET status = 'PENDING', assignee = ?2, blocked_reason = NULL, updated_ms = ?3,
                finished_ms = NULL WHERE id = ?1",
            params![id.0, to, now],
        )?;
        let note = format!("reopened: {}", reason.trim());
        tx.execute(
            "INSERT INTO task_notes (task, at_ms, author, text) VALUES (?1, ?2, ?3, ?4)",
            params![id.0, now, actor, note],
        )?;
        let e = journal_in(
            &tx,
            now,
            actor,
            "task-reopen",
            Some(id),
            to.unwrap_or(""),
            &format!("{} → PENDING", task.status),
            reason.trim(),
        )?;
        let mut journal = vec![e];
        if task.status == Status::Unreported {
            journal.extend(close_reviews_in(&tx, id, Status::Pending, actor)?);
        }
        let task = load_task(&tx, id)?;
        tx.commit()?;
        Ok((task, journal))
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
                tx.execute(
                    "INSERT INTO task_notes (task, at_ms, author, text) VALUES (?1, ?2, ?3, ?4)",
                    params![id.0, now, actor, note],
                )?;
                let e = journal_in(tx, now, actor, "task-note", Some(id), "", to.as_str(), note)?;
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
        let started = (to == Status::InProgress).then_some(now);
        let finished = (to.is_final() || to == Status::Unreported).then_some(now);
        let attempts = task.attempts
            + u32::from(to == Status::InProgress && task.status != Status::InProgress);
        let reason = if to == Status::Blocked {
            change.reason.clone()
        } else {
            None
        };
        tx.execute(
            "UPDATE tasks SET status = ?2, assignee = ?3, blocked_reason = ?4, attempts = ?5, updated_ms = ?6,
                started_ms = COALESCE(?7, started_ms), finished_ms = COALESCE(?8, finished_ms) WHERE id = ?1",
            params![id.0, to.as_str(), assignee, reason, attempts, now, started, finished],
        )?;
        if let Some(note) = change.note.as_deref().filter(|n| !n.trim().is_empty()) {
            tx.execute(
                "INSERT INTO task_notes (task, at_ms, author, text) VALUES (?1, ?2, ?3, ?4)",
                params![id.0, now, actor, note],
            )?;
        }
        let action = match to {
            Status::Pending => "task-requeue",
            Status::InProgress => "task-start",
            Status::Unreported => "task-unreported",
            Status::Completed => "task-done",
            Status::Blocked => "task-block",
            Status::Cancelled => "task-cancel",
        };
        let detail = change.note.clone().or(reason).unwrap_or_default();
        let e = journal_in(
            tx,
            now,
            actor,
            action,
            Some(id),
            assignee.as_deref().unwrap_or(""),
            &if skip_start {
                format!("{} → {to}, never started (--force)", task.status)
            } else {
                format!("{} → {}", task.status, to)
            },
            &detail,
        )?;
        let mut journal = vec![e];
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

impl Store {
    /// Gives a task to another agent: an IN_PROGRESS or UNREPORTED task goes back to PENDING
    /// for it.
    pub fn reassign(
        &mut self,
        id: TaskId,
        agent: &str,
        actor: &str,
    ) -> StoreResult<(Task, Vec<JournalEntry>)> {
        let now = now_ms();
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
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
        tx.execute(
            "UPDATE tasks SET assignee = ?2, status = ?3, updated_ms = ?4 WHERE id = ?1",
            params![id.0, agent, status.as_str(), now],
        )?;
        let e = journal_in(
            &tx,
            now,
            actor,
            "task-reassign",
            Some(id),
            agent,
            &format!("{} → {agent}", task.assignee.as_deref().unwrap_or("-")),
            "",
        )?;
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
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
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
        let e = journal_in(
            &tx,
            now,
            actor,
            "task-edit",
            Some(id),
            "",
            "edited",
            &serde_json::json!({
                "title": (before.title != after.title).then_some(&after.title),
                "priority": (before.priority != after.priority).then_some(after.priority.as_str()),
                "skills": (before.skills != after.skills).then_some(&after.skills),
                "deps": (before.deps != after.deps).then(|| after.deps.iter().map(ToString::to_string).collect::<Vec<_>>()),
                "body": before.body != after.body,
            })
            .to_string(),
        )?;
        tx.commit()?;
        Ok((after, vec![e]))
    }

    /// Writes a journal entry on its own (for events that change no task).
    pub fn journal(
        &mut self,
        actor: &str,
        action: &str,
        task: Option<TaskId>,
        target: &str,
        result: &str,
        detail: &str,
    ) -> StoreResult<JournalEntry> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let e = journal_in(&tx, now_ms(), actor, action, task, target, result, detail)?;
        tx.commit()?;
        Ok(e)
    }

    /// Returns journal entries after `after_seq`, oldest first, at most `limit`.
    pub fn journal_since(&self, after_seq: i64, limit: usize) -> StoreResult<Vec<JournalEntry>> {
        let mut stmt = self.conn.prepare(&format!(
            "{JOURNAL_SELECT} WHERE seq > ?1 ORDER BY seq LIMIT ?2"
        ))?;
        let rows = stmt.query_map(params![after_seq, limit as i64], journal_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Returns every journal entry about one task, oldest first.
    pub fn task_history(&self, id: TaskId) -> StoreResult<Vec<JournalEntry>> {
        let mut stmt = self
            .conn
            .prepare(&format!("{JOURNAL_SELECT} WHERE task = ?1 ORDER BY seq"))?;
        let rows = stmt.query_map([id.0], journal_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Returns the last `limit` journal entries with one of `actions`, newest first.
    pub fn journal_last(&self, actions: &[&str], limit: usize) -> StoreResult<Vec<JournalEntry>> {
        let marks: Vec<String> = (0..actions.len()).map(|i| format!("?{}", i + 2)).collect();
        let sql = format!(
            "{JOURNAL_SELECT} WHERE action IN ({}) ORDER BY seq DESC LIMIT ?1",
            marks.join(", ")
        );
        let mut stmt = self.conn.prepare(&sql)?;
        let mut args: Vec<rusqlite::types::Value> = vec![(limit as i64).into()];
        args.extend(
            actions
                .iter()
                .map(|a| rusqlite::types::Value::from(a.to_string())),
        );
        let rows = stmt.query_map(rusqlite::params_from_iter(args), journal_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Counts journal entries with one of `actions`.
    pub fn journal_count(&self, actions: &[&str]) -> StoreResult<u64> {
        let marks: Vec<String> = (0..actions.len()).map(|i| format!("?{}", i + 1)).collect();
        let sql = format!(
            "SELECT COUNT(*) FROM journal WHERE action IN ({})",
            marks.join(", ")
        );
        Ok(self
            .conn
            .query_row(&sql, rusqlite::params_from_iter(actions.iter()), |r| {
                r.get(0)
            })?)
    }

    /// Reads a value of the `meta` table.
    pub fn meta(&self, key: &str) -> StoreResult<Option<String>> {
        Ok(self
            .conn
            .query_row("SELECT value FROM meta WHERE key = ?1", [key], |r| r.get(0))
            .optional()?)
    }

    /// Writes a value of the `meta` table.
    pub fn set_meta(&mut self, key: &str, value: &str) -> StoreResult<()> {
        self.conn.execute(
            "INSERT INTO meta (key, value) VALUES (?1, ?2) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
            params![key, value],
        )?;
        Ok(())
    }

    /// Records a quota reading of an agent's window (`session-5h`, `weekly`…) whose data was
    /// made now (the statusLine hook); see [`Store::record_quota_data`].
    pub fn record_quota(
        &mut self,
        agent: &str,
        window: &str,
        used_percent: f64,
        resets_at_ms: Option<i64>,
        source: &str,
    ) -> StoreResult<bool> {
        let now = now_ms();
        self.record_quota_data(
            agent,
            window,
            used_percent,
            resets_at_ms,
            source,
            QuotaData::At(now),
            now,
        )
    }

    /// Records a quota reading with the time its data was made (`data`); returns whether it
    /// wrote a new row.
    ///
    /// Compared with the source's current reading of the window: the same value with data no
    /// newer (a notice still on screen, a rollout read again) writes nothing; the same value
    /// with newer data refreshes that reading's data time when it is the window's winner, and
    /// is written as a new row when another source's reading wins now (so that a poller of
    /// new rows sees the change of winner). Anything else is a new row.
    #[allow(clippy::too_many_arguments)]
    pub fn record_quota_data(
        &mut self,
        agent: &str,
        window: &str,
        used_percent: f64,
        resets_at_ms: Option<i64>,
        source: &str,
        data: QuotaData,
        now: i64,
    ) -> StoreResult<bool> {
        use baton_core::quota::rank;
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
        let current = current_quota(&tx, Some((agent, window)))?;
        let prev = current.iter().find(|r| r.source == source);
        let data_ms = match data {
            QuotaData::At(t) => t,
            QuotaData::Screen => rank::screen_data_ms(
                prev.map(|p| (p.used_percent, p.resets_at_ms, p.data_ms)),
                used_percent,
                resets_at_ms,
                now,
            ),
        };
        if let Some(p) = prev {
            let same = match data {
                QuotaData::Screen => rank::same_notice(
                    (p.used_percent, p.resets_at_ms, p.data_ms),
                    used_percent,
                    resets_at_ms,
                    now,
                ),
                QuotaData::At(_) => {
                    p.used_percent == used_percent && p.resets_at_ms == resets_at_ms
                }
            };
            if same && data_ms <= p.data_ms {
                return Ok(false);
            }
            if same && quota_winner(&current).is_some_and(|w| w.id == p.id) {
                // The hook calls often: its data time is refreshed once a second at most.
                if data_ms - p.data_ms >= 1000 {
                    tx.execute(
                        "UPDATE quota_readings SET data_ms = ?1 WHERE id = ?2",
                        params![data_ms, p.id],
                    )?;
                    tx.commit()?;
                }
                return Ok(false);
            }
        }
        tx.execute(
            "INSERT INTO quota_readings (agent, window, used_percent, resets_at_ms, source, observed_ms, data_ms, first_data_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7)",
            params![agent, window, used_percent, resets_at_ms, source, now, data_ms],
        )?;
        tx.commit()?;
        Ok(true)
    }

    /// Records what the daemon sees of agents, in one transaction: each one's state and pane,
    /// and since when it is in that state (kept when the state did not change).
    pub fn set_agent_states(&mut self, rows: &[AgentRow]) -> StoreResult<()> {
        // A view of what the screens show: not worth an fsync (the next task change's commit
        // syncs the log with it).
        self.conn.pragma_update(None, "synchronous", "NORMAL")?;
        let written = (|| -> StoreResult<()> {
            let tx = self
                .conn
                .transaction_with_behavior(TransactionBehavior::Immediate)?;
            for r in rows {
                tx.execute(
                    "INSERT INTO agents (name, cli, state, pane, updated_ms) VALUES (?1, ?2, ?3, ?4, ?5)
                     ON CONFLICT (name) DO UPDATE SET cli = excluded.cli, pane = excluded.pane,
                         updated_ms = CASE WHEN agents.state IS excluded.state THEN agents.updated_ms ELSE excluded.updated_ms END,
                         state = excluded.state",
                    params![r.name, r.cli, r.state, r.pane, r.since_ms],
                )?;
            }
            tx.commit()?;
            Ok(())
        })();
        self.conn.pragma_update(None, "synchronous", "FULL")?;
        written
    }

    /// Returns every agent the daemon has seen, by name.
    pub fn agents(&self) -> StoreResult<Vec<AgentRow>> {
        let mut stmt = self
            .conn
            .prepare("SELECT name, cli, state, pane, updated_ms FROM agents ORDER BY name")?;
        let rows = stmt.query_map([], |r| {
            Ok(AgentRow {
                name: r.get(0)?,
                cli: r.get(1)?,
                state: r.get::<_, Option<String>>(2)?.unwrap_or_default(),
                pane: r.get(3)?,
                since_ms: r.get(4)?,
            })
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Returns the winning reading of each (agent, window): the newest DATA among its
    /// sources' current readings ([`baton_core::quota::rank`]), by agent then window.
    pub fn latest_quota(&self) -> StoreResult<Vec<QuotaReading>> {
        Ok(self
            .quota_windows(None)?
            .into_iter()
            .map(|w| w.winner)
            .collect())
    }

    /// Returns one window's winning reading with the other sources' current readings (read
    /// through an index: what a poller of new readings asks for each window they touch).
    pub fn quota_window(
        &self,
        agent: &str,
        window: &str,
    ) -> StoreResult<Option<QuotaWindowReadings>> {
        let current = current_quota(&self.conn, Some((agent, window)))?;
        Ok(winner_and_others(current))
    }

    /// Returns each (agent, window)'s winning reading with the other sources' current
    /// readings; only `agent`'s windows when given.
    pub fn quota_windows(&self, agent: Option<&str>) -> StoreResult<Vec<QuotaWindowReadings>> {
        let current = current_quota(&self.conn, None)?;
        let mut groups: BTreeMap<(String, String), Vec<QuotaReading>> = BTreeMap::new();
        for r in current {
            if agent.is_none_or(|a| a == r.agent) {
                groups
                    .entry((r.agent.clone(), r.window.clone()))
                    .or_default()
                    .push(r);
            }
        }
        Ok(groups.into_values().filter_map(winner_and_others).collect())
    }

    /// Returns the readings of one window of an agent whose data was first made since
    /// `since_ms`, oldest data first (the history a burn rate is fitted on).
    pub fn quota_readings(
        &self,
        agent: &str,
        window: &str,
        since_ms: i64,
    ) -> StoreResult<Vec<QuotaReading>> {
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT {QUOTA_COLUMNS} FROM quota_readings
             WHERE agent = ?1 AND window = ?2 AND COALESCE(first_data_ms, observed_ms) >= ?3
             ORDER BY COALESCE(first_data_ms, observed_ms), id"
        ))?;
        let rows = stmt.query_map(params![agent, window, since_ms], quota_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }
}

/// The columns [`quota_row`] reads, in its order.
const QUOTA_COLUMNS: &str = "agent, window, used_percent, resets_at_ms, source, observed_ms, \
    COALESCE(data_ms, observed_ms), COALESCE(first_data_ms, observed_ms), id";

/// Each source's current reading of each window (its newest data, then the last recorded);
/// only one agent's window when `only` is given.
fn current_quota(conn: &Connection, only: Option<(&str, &str)>) -> StoreResult<Vec<QuotaReading>> {
    // One window's rows are found through the `quota_by_source` index (a screen read with a
    // quota line costs the same with a long history).
    let filter = if only.is_some() {
        "WHERE agent = ?1 AND window = ?2"
    } else {
        ""
    };
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {QUOTA_COLUMNS} FROM (
             SELECT *, ROW_NUMBER() OVER (
                 PARTITION BY agent, window, source
                 ORDER BY COALESCE(data_ms, observed_ms) DESC, id DESC) AS n
             FROM quota_readings {filter})
         WHERE n = 1 ORDER BY agent, window, source"
    ))?;
    let rows = match only {
        Some((agent, window)) => stmt.query_map(params![agent, window], quota_row)?,
        None => stmt.query_map([], quota_row)?,
    };
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Splits one window's current readings into the winner and the others.
fn winner_and_others(mut rows: Vec<QuotaReading>) -> Option<QuotaWindowReadings> {
    let w = quota_winner(&rows)?.id;
    let i = rows.iter().position(|r| r.id == w)?;
    let winner = rows.remove(i);
    Some(QuotaWindowReadings {
        winner,
        others: rows,
    })
}

/// The winner among one window's current readings ([`baton_core::quota::rank::winner`]).
fn quota_winner(rows: &[QuotaReading]) -> Option<&QuotaReading> {
    let candidates: Vec<baton_core::quota::rank::Candidate<'_>> =
        rows.iter().map(QuotaReading::candidate).collect();
    baton_core::quota::rank::winner(&candidates).map(|i| &rows[i])
}

fn quota_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<QuotaReading> {
    Ok(QuotaReading {
        agent: r.get(0)?,
        window: r.get(1)?,
        used_percent: r.get(2)?,
        resets_at_ms: r.get(3)?,
        source: r.get(4)?,
        observed_ms: r.get(5)?,
        data_ms: r.get(6)?,
        first_data_ms: r.get(7)?,
        id: r.get(8)?,
    })
}

/// What the daemon last saw of an agent.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct AgentRow {
    /// The agent's name.
    pub name: String,
    /// Its profile.
    pub cli: String,
    /// Its state (`idle`, `working`, `dead`…), empty when never seen.
    pub state: String,
    /// Its tmux pane, when up.
    pub pane: Option<String>,
    /// Since when it is in this state (ms since the epoch).
    pub since_ms: i64,
}

/// One quota reading of an agent's window.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct QuotaReading {
    /// The agent.
    pub agent: String,
    /// `session-5h`, `weekly`, …
    pub window: String,
    /// Percent of the window used.
    pub used_percent: f64,
    /// When the window resets, in milliseconds since the Unix epoch, when known.
    pub resets_at_ms: Option<i64>,
    /// Where it was read: `claude-statusline`, `codex-rollout`, …
    pub source: String,
    /// When it was recorded.
    pub observed_ms: i64,
    /// When its data was made (the newest time its source made this value): what readings
    /// are ranked by.
    pub data_ms: i64,
    /// When its source first made this value (the burn rate's sample time).
    #[serde(skip)]
    pub first_data_ms: i64,
    /// Its row.
    #[serde(skip)]
    pub id: i64,
}

impl QuotaReading {
    /// The reading as the ranking rule sees it.
    pub fn candidate(&self) -> baton_core::quota::rank::Candidate<'_> {
        baton_core::quota::rank::Candidate {
            source: &self.source,
            used_percent: self.used_percent,
            resets_at_ms: self.resets_at_ms,
            data_ms: self.data_ms,
            order: self.id,
        }
    }
}

/// One window of an agent: the winning reading and the other sources' current ones.
#[derive(Clone, Debug, PartialEq)]
pub struct QuotaWindowReadings {
    /// The reading with the newest data.
    pub winner: QuotaReading,
    /// The other sources' current readings of the window.
    pub others: Vec<QuotaReading>,
}

/// When a quota reading's data was made.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum QuotaData {
    /// At this time (ms since the epoch): the hook's "now", a rollout event's timestamp, an
    /// OAuth answer's fetch time.
    At(i64),
    /// A notice on screen: when it first appeared with this value, by the screen's earlier
    /// readings ([`baton_core::quota::rank::screen_data_ms`]).
    Screen,
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

#[allow(clippy::too_many_arguments)]
fn journal_in(
    conn: &Connection,
    at_ms: i64,
    actor: &str,
    action: &str,
    task: Option<TaskId>,
    target: &str,
    result: &str,
    detail: &str,
) -> StoreResult<JournalEntry> {
    conn.execute(
        "INSERT INTO journal (at_ms, actor, action, task, target, result, detail) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        params![at_ms, actor, action, task.map(|t| t.0), target, result, detail],
    )?;
    Ok(JournalEntry {
        seq: conn.last_insert_rowid(),
        at_ms,
        actor: actor.to_owned(),
        action: action.to_owned(),
        task,
        target: target.to_owned(),
        result: result.to_owned(),
        detail: detail.to_owned(),
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

// Read-only queries of the `baton watch` dashboard (`src/tui/`): it polls the store, so each
// is bounded (a page, a tail) and `data_version` says cheaply whether anything changed.
impl Store {
    /// Returns SQLite's data version: it changes whenever another connection commits, so a
    /// reader that polls it knows whether anything changed since it last looked.
    pub fn data_version(&self) -> StoreResult<i64> {
        Ok(self
            .conn
            .query_row("PRAGMA data_version", [], |r| r.get(0))?)
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

    /// Returns the last `limit` journal entries, oldest first.
    pub fn journal_tail(&self, limit: usize) -> StoreResult<Vec<JournalEntry>> {
        let mut stmt = self.conn.prepare_cached(&format!(
            "{JOURNAL_SELECT} WHERE seq > (SELECT COALESCE(MAX(seq), 0) FROM journal) - ?1 ORDER BY seq"
        ))?;
        let rows = stmt.query_map([limit as i64], journal_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Returns the newest journal entry after `after_seq` whose action starts with `prefix`
    /// (`handoff-`); a poller passes the last sequence it scanned, so only new entries are read.
    pub fn journal_last_prefixed(
        &self,
        prefix: &str,
        after_seq: i64,
    ) -> StoreResult<Option<JournalEntry>> {
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

    /// Returns the quota readings recorded after the one with id `after_id`, with their ids,
    /// oldest first: a poller keeps the newest reading of each window and reads only new ones.
    pub fn quota_readings_after(&self, after_id: i64) -> StoreResult<Vec<(i64, QuotaReading)>> {
        let mut stmt = self.conn.prepare_cached(&format!(
            "SELECT {QUOTA_COLUMNS} FROM quota_readings WHERE id > ?1 ORDER BY id"
        ))?;
        let rows = stmt.query_map([after_id], |r| {
            let q = quota_row(r)?;
            Ok((q.id, q))
        })?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Records the lead role's state (and, when the lead changes, since when it leads).
    pub fn set_lead(&mut self, snap: &baton_core::engine::LeadSnapshot) -> StoreResult<()> {
        let state = serde_json::to_string(snap)
            .map_err(|e| StoreError::Invalid(format!("lead state: {e}")))?;
        self.conn.execute(
            "INSERT INTO lead (id, agent, since_ms, state) VALUES (1, ?1, ?2, ?3)
             ON CONFLICT (id) DO UPDATE SET
                 since_ms = CASE WHEN lead.agent IS excluded.agent THEN lead.since_ms ELSE excluded.since_ms END,
                 agent = excluded.agent, state = excluded.state",
            params![snap.lead, now_ms(), state],
        )?;
        Ok(())
    }

    /// Returns the lead role's state as last recorded, if any.
    pub fn lead_snapshot(&self) -> StoreResult<Option<baton_core::engine::LeadSnapshot>> {
        Ok(self
            .lead_row()?
            .and_then(|r| r.state)
            .and_then(|s| serde_json::from_str(&s).ok()))
    }

    /// Returns the `lead` table's row — who leads, since when, in which state — when one was
    /// written.
    pub fn lead_row(&self) -> StoreResult<Option<LeadRow>> {
        Ok(self
            .conn
            .query_row(
                "SELECT agent, since_ms, state FROM lead WHERE id = 1 AND agent IS NOT NULL",
                [],
                |r| {
                    Ok(LeadRow {
                        agent: r.get(0)?,
                        since_ms: r.get(1)?,
                        state: r.get(2)?,
                    })
                },
            )
            .optional()?)
    }
}

/// A row of the merge queue.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize)]
pub struct MergeRow {
    /// Its number, in queue order.
    pub id: i64,
    /// The task whose completion queued it.
    pub task: TaskId,
    /// The agent whose branch it merges.
    pub agent: String,
    /// queued, running, merged, conflict, failed or error.
    pub state: String,
    /// The integration branch's head it was rebased onto.
    pub base: Option<String>,
    /// The agent branch's head it merged.
    pub head: Option<String>,
    /// The integration branch's head after the merge.
    pub merge_commit: Option<String>,
    /// One line, or the conflict / error excerpt.
    pub detail: String,
    /// When it was queued.
    pub created_ms: i64,
    /// When it last changed.
    pub updated_ms: i64,
}

fn merge_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<MergeRow> {
    Ok(MergeRow {
        id: r.get(0)?,
        task: TaskId(r.get(1)?),
        agent: r.get(2)?,
        state: r.get(3)?,
        base: r.get(4)?,
        head: r.get(5)?,
        merge_commit: r.get(6)?,
        detail: r.get(7)?,
        created_ms: r.get(8)?,
        updated_ms: r.get(9)?,
    })
}

/// A merge outcome to record: a row's new state, or a new row.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MergeWrite {
    /// The row; `None`: a new one (an outcome met before the merge was queued).
    pub id: Option<i64>,
    /// The task.
    pub task: TaskId,
    /// The agent.
    pub agent: String,
    /// merged, conflict, failed or error.
    pub state: String,
    /// The integration head it was rebased onto.
    pub base: Option<String>,
    /// The agent branch's head.
    pub head: Option<String>,
    /// The integration head after the merge.
    pub merge_commit: Option<String>,
    /// One line, or the excerpt.
    pub detail: String,
}

fn write_merge(tx: &rusqlite::Transaction<'_>, m: &MergeWrite) -> StoreResult<()> {
    let now = now_ms();
    match m.id {
        Some(id) => update_merge(
            tx,
            id,
            &m.state,
            [m.base.as_deref(), m.head.as_deref(), m.merge_commit.as_deref()],
            &m.detail,
        )?,
        None => tx.execute(
            "INSERT INTO merges (task, agent, state, base, head, merge_commit, detail, created_ms, updated_ms)
                 VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?8)",
            params![m.task.0, m.agent, m.state, m.base, m.head, m.merge_commit, m.detail, now],
        )?,
    };
    Ok(())
}

/// Sets a merge row's state, the commits that are known (`[base, head, merge commit]`; `None`
/// keeps what the row has) and its detail.
fn update_merge(
    conn: &Connection,
    id: i64,
    state: &str,
    [base, head, merge_commit]: [Option<&str>; 3],
    detail: &str,
) -> StoreResult<usize> {
    Ok(conn.execute(
        "UPDATE merges SET state = ?2, base = COALESCE(?3, base), head = COALESCE(?4, head),
             merge_commit = COALESCE(?5, merge_commit), detail = ?6, updated_ms = ?7 WHERE id = ?1",
        params![id, state, base, head, merge_commit, detail, now_ms()],
    )?)
}

const MERGE_COLUMNS: &str =
    "id, task, agent, state, base, head, merge_commit, detail, created_ms, updated_ms";

impl Store {
    /// Queues a merge for a task; a task already queued or running keeps its row.
    pub fn queue_merge(&mut self, task: TaskId, agent: &str) -> StoreResult<i64> {
        let tx = self
            .conn
            .transaction_with_behavior(TransactionBehavior::Immediate)?;
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
        state: &str,
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
        let mut stmt = self.conn.prepare(&format!(
            "SELECT {MERGE_COLUMNS} FROM merges WHERE state = 'queued' ORDER BY id"
        ))?;
        let rows = stmt.query_map([], merge_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
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
        let mut stmt = self.conn.prepare(&format!(
            "SELECT {MERGE_COLUMNS} FROM (SELECT * FROM merges ORDER BY id DESC LIMIT ?1) ORDER BY id"
        ))?;
        let rows = stmt.query_map([limit], merge_row)?;
        Ok(rows.collect::<Result<_, _>>()?)
    }

    /// Completed work not on the integration branch yet, for the engine on start-up: each
    /// task whose newest merge is queued or running (`true`), or failed with no later merge
    /// of its agent (`false`: a fix task is due).
    pub fn pending_merges(&self) -> StoreResult<Vec<(TaskId, String, bool)>> {
        let rows = self.merges(0)?;
        let mut last_merged: BTreeMap<&str, i64> = BTreeMap::new();
        for r in rows.iter().filter(|r| r.state == "merged") {
            last_merged.insert(&r.agent, r.id);
        }
        let mut newest: BTreeMap<TaskId, &MergeRow> = BTreeMap::new();
        for r in &rows {
            newest.insert(r.task, r);
        }
        Ok(newest
            .into_values()
            .filter_map(|r| match r.state.as_str() {
                "queued" | "running" => Some((r.task, r.agent.clone(), true)),
                "merged" => None,
                _ if last_merged.get(r.agent.as_str()).is_some_and(|m| *m > r.id) => None,
                _ => Some((r.task, r.agent.clone(), false)),
            })
            .collect())
    }

    /// Per agent, its merges that failed (conflict, verify) since its last merge: the fix
    /// cycles already spent.
    pub fn merge_failures_in_a_row(&self) -> StoreResult<BTreeMap<String, u32>> {
        let mut failed: BTreeMap<String, u32> = BTreeMap::new();
        for m in self.merges(0)? {
            match m.state.as_str() {
                "merged" => {
                    failed.remove(&m.agent);
                }
                "conflict" | "failed" => *failed.entry(m.agent).or_default() += 1,
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

/// The `lead` table's row.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LeadRow {
    /// The agent that leads.
    pub agent: String,
    /// Since when.
    pub since_ms: Option<i64>,
    /// The lead's state (the handoff work writes it).
    pub state: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn new(title: &str) -> NewTask {
        NewTask {
            title: title.into(),
            ..NewTask::default()
        }
    }

    fn store() -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().unwrap();
        let s = Store::open(&dir.path().join("state.db")).unwrap();
        (dir, s)
    }

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

    #[test]
    fn the_merge_queue_restores_what_is_not_merged() {
        let dir = tempfile::tempdir().unwrap();
        let mut s = Store::open(&dir.path().join("state.db")).unwrap();
        s.add_tasks(&[new("a"), new("b"), new("c"), new("d")], "u")
            .unwrap();
        let q1 = s.queue_merge(TaskId(1), "x").unwrap();
        assert_eq!(s.queue_merge(TaskId(1), "x").unwrap(), q1, "queued once");
        let q2 = s.queue_merge(TaskId(2), "y").unwrap();
        s.set_merge(q1, "running", Some("b0"), Some("h1"), None, "")
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
        s.set_merge(q1, "conflict", None, None, None, "f.rs")
            .unwrap();
        s.write_merge(&MergeWrite {
            id: None,
            task: TaskId(3),
            agent: "y".into(),
            state: "failed".into(),
            base: None,
            head: None,
            merge_commit: None,
            detail: "`make`".into(),
        })
        .unwrap();
        s.set_merge(q2, "merged", None, None, Some("c2"), "ok")
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
        s.set_merge(q4, "merged", None, None, Some("c4"), "")
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

    /// A store of schema 3 (quota readings without data times) is migrated: its readings
    /// keep their values, and their data time is when they were recorded.
    #[test]
    fn a_schema_3_store_gets_quota_data_times() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("state.db");
        {
            let c = Connection::open(&p).unwrap();
            c.execute_batch(
                "CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, applied_ms INTEGER NOT NULL, description TEXT NOT NULL);",
            )
            .unwrap();
            for (v, _, sql) in MIGRATIONS.iter().filter(|(v, _, _)| *v <= 3) {
                c.execute_batch(sql).unwrap();
                c.pragma_update(None, "user_version", v).unwrap();
            }
            c.execute(
                "INSERT INTO quota_readings (agent, window, used_percent, resets_at_ms, source, observed_ms) VALUES ('a', 'session-5h', 40.0, NULL, 'screen', 1000), ('a', 'session-5h', 70.0, NULL, 'claude-statusline', 2000)",
                [],
            )
            .unwrap();
        }
        let mut s = Store::open(&p).unwrap();
        let v: i64 = s
            .conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .unwrap();
        assert_eq!(v, SCHEMA_VERSION);
        let latest = s.latest_quota().unwrap();
        assert_eq!(latest.len(), 1);
        assert_eq!(
            (
                latest[0].used_percent,
                latest[0].data_ms,
                latest[0].first_data_ms
            ),
            (70.0, 2000, 2000)
        );
        // New readings rank with the old ones by their data.
        assert!(
            s.record_quota_data(
                "a",
                "session-5h",
                75.0,
                None,
                "screen",
                QuotaData::Screen,
                3000
            )
            .unwrap()
        );
        assert_eq!(s.latest_quota().unwrap()[0].used_percent, 75.0);
    }

    /// How each source's readings are kept: a notice seen again writes nothing; the hook
    /// saying the same again refreshes its data time while it wins, and is written anew when
    /// another source's reading won meanwhile (a poller of new rows sees the change).
    #[test]
    fn quota_readings_by_the_age_of_their_data() {
        let (_d, mut s) = store();
        let (hook, screen) = ("claude-statusline", "screen");
        let reset = Some(10_000_000);
        let rec = |s: &mut Store, used: f64, source: &str, data: QuotaData, now: i64| {
            s.record_quota_data("a", "session-5h", used, reset, source, data, now)
                .unwrap()
        };
        let winner = |s: &Store| {
            let w = s.quota_windows(Some("a")).unwrap().remove(0);
            (
                w.winner.used_percent,
                w.winner.source.clone(),
                w.winner.data_ms,
                w.others.len(),
            )
        };
        assert!(rec(&mut s, 90.0, screen, QuotaData::Screen, 1_000));
        assert!(rec(&mut s, 95.0, hook, QuotaData::At(2_000), 2_000));
        assert!(rec(&mut s, 100.0, hook, QuotaData::At(3_000), 3_000));
        // The notice still on screen: old data, nothing written.
        assert!(!rec(&mut s, 90.0, screen, QuotaData::Screen, 4_000));
        assert_eq!(winner(&s), (100.0, hook.to_owned(), 3_000, 1));
        // The hook again, same value: fresher data, same row.
        assert!(!rec(&mut s, 100.0, hook, QuotaData::At(5_000), 5_000));
        assert_eq!(winner(&s), (100.0, hook.to_owned(), 5_000, 1));
        // A new notice (another value) is new data and wins.
        assert!(rec(&mut s, 40.0, screen, QuotaData::Screen, 6_000));
        assert_eq!(winner(&s), (40.0, screen.to_owned(), 6_000, 1));
        // The hook's same value again, newer than the notice: a new row, the winner again.
        let before = s.quota_readings_after(0).unwrap().len();
        assert!(rec(&mut s, 100.0, hook, QuotaData::At(7_000), 7_000));
        assert_eq!(s.quota_readings_after(0).unwrap().len(), before + 1);
        assert_eq!(winner(&s), (100.0, hook.to_owned(), 7_000, 1));
        // An older rollout event read late loses to newer data.
        assert!(rec(
            &mut s,
            50.0,
            "codex-rollout",
            QuotaData::At(6_500),
            8_000
        ));
        assert_eq!(winner(&s), (100.0, hook.to_owned(), 7_000, 2));
        // The burn rate's history is in the order the data was made.
        let h: Vec<f64> = s
            .quota_readings("a", "session-5h", 0)
            .unwrap()
            .iter()
            .map(|r| r.used_percent)
            .collect();
        assert_eq!(h, vec![90.0, 95.0, 100.0, 40.0, 50.0, 100.0]);
    }

    #[test]
    fn a_file_that_is_not_sqlite_is_refused_untouched() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("state.db");
        std::fs::write(&p, b"hello, this is not a database at all").unwrap();
        let before = std::fs::read(&p).unwrap();
        assert!(matches!(
            Store::open(&p),
            Err(StoreError::NotADatabase { .. })
        ));
        assert_eq!(std::fs::read(&p).unwrap(), before);
    }

    #[test]
    fn a_newer_schema_is_refused_untouched() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("state.db");
        drop(Store::open(&p).unwrap());
        {
            let c = Connection::open(&p).unwrap();
            c.pragma_update(None, "user_version", 99).unwrap();
        }
        let e = Store::open(&p).err().unwrap();
        assert!(e.to_string().contains("newer baton (schema 99"), "{e}");
    }

    #[test]
    fn the_project_store_is_recorded_and_a_store_from_before_gets_an_identity() {
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path();
        // A store made before identities: no store_id, no .baton/store-id.
        {
            let s = Store::open(&state.join(STORE_FILE)).unwrap();
            s.conn
                .execute("DELETE FROM meta WHERE key = ?1", [STORE_ID_KEY])
                .unwrap();
        }
        let s = Store::open_project(state).unwrap();
        let id = s.id().unwrap();
        assert_eq!(id.len(), 32, "{id}");
        let recorded = std::fs::read_to_string(state.join(STORE_ID_FILE)).unwrap();
        assert_eq!(recorded.trim(), id);
        s.check_in_place().unwrap();
        drop(s);
        assert_eq!(Store::open_project(state).unwrap().id().unwrap(), id);

        // Replaced under an open store, then at the path.
        let s = Store::open_project(state).unwrap();
        let other = tempfile::tempdir().unwrap();
        drop(Store::open(&other.path().join(STORE_FILE)).unwrap());
        std::fs::rename(other.path().join(STORE_FILE), state.join(STORE_FILE)).unwrap();
        let e = s.check_in_place().unwrap_err();
        assert!(e.to_string().contains("replaced by another file"), "{e}");
        let e = Store::open_project(state).err().unwrap();
        assert!(matches!(e, StoreError::Replaced { .. }), "{e}");
        // Deleted.
        std::fs::remove_file(state.join(STORE_FILE)).unwrap();
        assert!(
            s.check_in_place()
                .unwrap_err()
                .to_string()
                .contains("was deleted")
        );
        let e = Store::open_project(state).err().unwrap();
        assert!(matches!(e, StoreError::Deleted { .. }), "{e}");
        assert!(!state.join(STORE_FILE).exists());
    }
}
