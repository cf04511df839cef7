//! Opening the store: its schema and migrations, its identity (is this the project's
//! store?), and the `meta` table of small values.

use std::io::Read;
use std::path::Path;
use std::path::PathBuf;
use std::time::Duration;

use rusqlite::Connection;
use rusqlite::OpenFlags;
use rusqlite::OptionalExtension;
use rusqlite::params;

use baton_core::vocab::JournalAction;

use super::JournalEntry;
use super::Store;
use super::StoreError;
use super::StoreResult;
use super::now_ms;
use super::query_rows;

/// The `meta` key of the last wave's verify result (`passed` or `failed`).
const LAST_VERIFY: &str = "last_verify";

/// The `meta` key of a dispatch pause (`1` paused).
const PAUSED: &str = "dispatch_paused";

/// Writes a value of the `meta` table on `conn` (a transaction, or the store's connection).
fn set_meta_in(conn: &Connection, key: &str, value: &str) -> StoreResult<()> {
    conn.execute(
        "INSERT INTO meta (key, value) VALUES (?1, ?2) ON CONFLICT (key) DO UPDATE SET value = excluded.value",
        params![key, value],
    )?;
    Ok(())
}

/// The schema version this baton writes.
pub const SCHEMA_VERSION: i64 = 6;

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
    (
        5,
        "usage readings: the cost and tokens agent CLIs tell of their sessions",
        // Cumulative session counters, each NULL when the source does not give it; a task's
        // share is worked out when read (`baton_core::usage`).
        r#"
CREATE TABLE usage_readings (
    id INTEGER PRIMARY KEY,
    agent TEXT NOT NULL,
    at_ms INTEGER NOT NULL,
    session TEXT,
    cost_usd REAL,
    input_tokens INTEGER,
    output_tokens INTEGER,
    source TEXT NOT NULL,
    recorded_ms INTEGER NOT NULL
);
CREATE INDEX usage_by_agent ON usage_readings (agent, source, id);
"#,
    ),
    (
        6,
        "reports from agents on other hosts, each carried out once, with its answer",
        r#"
CREATE TABLE remote_reports (
    id TEXT PRIMARY KEY,
    host TEXT NOT NULL,
    agent TEXT NOT NULL,
    command TEXT NOT NULL,
    received_ms INTEGER NOT NULL,
    code INTEGER NOT NULL,
    stdout TEXT NOT NULL,
    stderr TEXT NOT NULL
);
"#,
    ),
];

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
pub(crate) fn new_store_id() -> String {
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

/// Returns a file's (device, inode), `None` when it does not exist.
fn file_key(path: &Path) -> std::io::Result<Option<(u64, u64)>> {
    use std::os::unix::fs::MetadataExt;
    match std::fs::metadata(path) {
        Ok(m) => Ok(Some((m.dev(), m.ino()))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(e),
    }
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
        // An emptied file (truncated to nothing) would open as a new, empty store and be
        // given a new identity: it is refused as it is, before SQLite writes into it.
        if let Some(expected) = &recorded
            && std::fs::metadata(&path).is_ok_and(|m| m.len() == 0)
        {
            return Err(StoreError::Emptied {
                path,
                expected: expected.clone(),
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
        let tx = self.begin()?;
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

    /// Returns SQLite's data version: it changes whenever another connection commits, so a
    /// reader that polls it knows whether anything changed since it last looked.
    pub fn data_version(&self) -> StoreResult<i64> {
        // The `baton watch` dashboard (`src/tui/`) polls the store: its queries are bounded (a
        // page, a tail) and this says cheaply whether anything changed.
        Ok(self
            .conn
            .query_row("PRAGMA data_version", [], |r| r.get(0))?)
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
        set_meta_in(&self.conn, key, value)
    }

    /// Returns whether the last wave's verify passed, as the daemon kept it (`None`: none
    /// ran in this store).
    pub fn last_verify(&self) -> StoreResult<Option<bool>> {
        Ok(self.meta(LAST_VERIFY)?.map(|v| v == "passed"))
    }

    /// Keeps the result of the last wave's verify.
    pub fn set_last_verify(&mut self, passed: bool) -> StoreResult<()> {
        self.set_meta(LAST_VERIFY, if passed { "passed" } else { "failed" })
    }

    /// Whether dispatch is paused (no task goes out; the agents finish theirs).
    pub fn paused(&self) -> StoreResult<bool> {
        Ok(self.meta(PAUSED)?.as_deref() == Some("1"))
    }

    /// Pauses or resumes dispatch, journaled as `actor`'s; the daemon reads the entry.
    /// The flag and its entry are one transaction: a stop between them cannot leave a pause
    /// the journal does not say.
    pub fn set_paused(&mut self, pause: bool, actor: &str) -> StoreResult<JournalEntry> {
        let (action, result) = if pause {
            (JournalAction::DispatchPause, "paused")
        } else {
            (JournalAction::DispatchResume, "resumed")
        };
        let tx = self.begin()?;
        set_meta_in(&tx, PAUSED, if pause { "1" } else { "0" })?;
        let line = super::journal::Line {
            actor,
            action,
            task: None,
            target: "",
            result,
            detail: "",
        };
        let e = super::journal::journal_in(&tx, now_ms(), line)?;
        tx.commit()?;
        Ok(e)
    }

    /// Returns the `meta` rows whose key starts with `prefix`.
    pub fn meta_with_prefix(&self, prefix: &str) -> StoreResult<Vec<(String, String)>> {
        query_rows(
            &self.conn,
            "SELECT key, value FROM meta WHERE substr(key, 1, ?2) = ?1 ORDER BY key",
            params![prefix, prefix.chars().count() as i64],
            |r| Ok((r.get(0)?, r.get(1)?)),
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::QuotaData;
    use crate::store::QuotaSample;

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
                &QuotaSample {
                    agent: "a",
                    window: "session-5h",
                    used_percent: 75.0,
                    resets_at_ms: None,
                    source: "screen",
                },
                QuotaData::Screen,
                3000
            )
            .unwrap()
        );
        assert_eq!(s.latest_quota().unwrap()[0].used_percent, 75.0);
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
