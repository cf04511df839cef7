//! Keeping the shared memory file (CLAUDE.md) and the store in step.
//!
//! One sync, under an exclusive lock on `.baton/memory.lock`:
//! 1. read the file and its baton region;
//! 2. compare the region with what baton last rendered (kept in the store): status changes and
//!    new log lines are applied to the store as journaled events, invalid ones are rejected in
//!    the journal with the reason (and shown to the caller);
//! 3. render the region from the store and, unless the file changed since step 1 (then start
//!    again from step 1), replace it atomically (temp file, fsync, rename). Text outside the
//!    region is never touched.
//!
//! baton never overwrites an edit it has not read; concurrent editors that do not take the
//! lock can still overwrite each other (see docs/ARCHITECTURE.md).

use std::fs::File;
use std::io::Write;
use std::path::Path;
use std::path::PathBuf;

use baton_core::memory;
use baton_core::memory::Change;
use baton_core::memory::LogRow;
use baton_core::memory::QueueRow;
use baton_core::memory::View;
use baton_core::task::Status;
use baton_core::vocab::JournalAction;

use crate::error::CliError;
use crate::error::CliResult;
use crate::error::io_error;
use crate::orchlog::local_time;
use crate::project::Project;
use crate::store::JournalEntry;
use crate::store::Outcome;
use crate::store::StatusChange;
use crate::store::Store;

/// The largest memory file baton reads; a larger one is left alone, with an error.
pub const MAX_MEMORY_FILE: u64 = 4 * 1024 * 1024;

/// The store key holding the region text baton last wrote.
const RENDERED_KEY: &str = "memory.rendered";

/// Closed tasks shown in the queue table, newest first.
const CLOSED_SHOWN: usize = 20;

/// Open tasks shown at most: IN_PROGRESS and BLOCKED first, then PENDING by priority and ID.
/// A table of thousands of rows would only fill every agent's context.
const OPEN_SHOWN: usize = 300;

/// Log lines shown in the completion log.
const LOG_SHOWN: usize = 50;

/// How long the file must have been left alone before baton replaces it.
const QUIET: std::time::Duration = std::time::Duration::from_millis(150);

/// The store key holding the identity of the file baton last wrote.
const WRITTEN_KEY: &str = "memory.written";

/// Returns the file's identity (inode, modification time, size): equal identities mean
/// nobody wrote the file in between.
fn file_identity(path: &Path) -> Option<String> {
    use std::os::unix::fs::MetadataExt;
    let m = std::fs::metadata(path).ok()?;
    Some(format!(
        "{}:{}.{}:{}",
        m.ino(),
        m.mtime(),
        m.mtime_nsec(),
        m.len()
    ))
}

/// Returns how long ago the file was last modified.
fn modified_ago(path: &Path) -> Option<std::time::Duration> {
    let m = std::fs::metadata(path).ok()?.modified().ok()?;
    std::time::SystemTime::now().duration_since(m).ok()
}

/// Who the journal says acted for edits read from the file.
pub const MEMORY_ACTOR: &str = "memory-file";

/// What a sync did.
#[derive(Debug, Default)]
pub struct SyncReport {
    /// Changes read from the file and applied, as sentences.
    pub applied: Vec<String>,
    /// Edits refused or ignored, as sentences with the file line.
    pub rejected: Vec<String>,
    /// Whether the file was rewritten.
    pub wrote: bool,
}

/// Returns the memory file's path.
pub fn memory_path(project: &Project) -> PathBuf {
    project.root.join(&project.config.session.memory_file)
}

/// Syncs the memory file with the store, mirroring new journal entries to the logs.
pub fn sync(project: &Project, store: &mut Store, _actor: &str) -> CliResult<SyncReport> {
    let path = memory_path(project);
    let lock_path = project.state_dir()?.join("memory.lock");
    let lock = File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .map_err(|e| io_error(format!("cannot open {}", lock_path.display()), e))?;
    lock.lock()
        .map_err(|e| io_error(format!("cannot lock {}", lock_path.display()), e))?;
    let mut report = SyncReport::default();
    let mut journal = Vec::new();
    let result = (|| {
        for _ in 0..40 {
            let text = read_text(&path)?;
            ingest(&path, &text, store, &mut report, &mut journal)?;
            let inner = memory::render(&view(store)?);
            let new_text = memory::splice(&text, &inner)
                .map_err(|e| CliError::user(format!("{}: {e}", path.display())))?;
            if new_text == text {
                store
                    .set_meta(RENDERED_KEY, &inner)
                    .map_err(|e| CliError::user(e.to_string()))?;
                return Ok(());
            }
            // Someone wrote since we read: read their version first. An editor that writes in
            // place (truncate, then write) may be half-way: give a fresh file a quiet moment.
            if read_text(&path)? != text {
                continue;
            }
            let ours = store.meta(WRITTEN_KEY).ok().flatten() == file_identity(&path);
            if !ours
                && let Some(age) = modified_ago(&path)
                && age < QUIET
            {
                std::thread::sleep(QUIET - age);
                continue;
            }
            write_atomically(&path, new_text.as_bytes())?;
            store
                .set_meta(RENDERED_KEY, &inner)
                .map_err(|e| CliError::user(e.to_string()))?;
            if let Some(id) = file_identity(&path) {
                store
                    .set_meta(WRITTEN_KEY, &id)
                    .map_err(|e| CliError::user(e.to_string()))?;
            }
            report.wrote = true;
            return Ok(());
        }
        Err(CliError::user(format!(
            "{} keeps changing while baton renders it; it will be synced on the next change",
            path.display()
        )))
    })();
    drop(lock);
    crate::orchlog::append(project, &journal)?;
    result.map(|()| report)
}

/// Reads the file as text; a missing file is empty.
fn read_text(path: &Path) -> CliResult<String> {
    let bytes = match std::fs::read(path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(String::new()),
        Err(e) => return Err(io_error(format!("cannot read {}", path.display()), e)),
    };
    if bytes.len() as u64 > MAX_MEMORY_FILE {
        return Err(CliError::user(format!(
            "{} is {} KiB, more than the {} KiB baton reads; it was left alone",
            path.display(),
            bytes.len() / 1024,
            MAX_MEMORY_FILE / 1024
        )));
    }
    String::from_utf8(bytes).map_err(|e| {
        let valid = &e.as_bytes()[..e.utf8_error().valid_up_to()];
        let line = valid.iter().filter(|b| **b == b'\n').count() + 1;
        CliError::user(format!(
            "{}:{line}: not UTF-8 text; baton left the file alone",
            path.display()
        ))
    })
}

/// Applies the edits found in the region to the store.
fn ingest(
    path: &Path,
    text: &str,
    store: &mut Store,
    report: &mut SyncReport,
    journal: &mut Vec<JournalEntry>,
) -> CliResult<()> {
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let split =
        memory::split(text).map_err(|e| CliError::user(format!("{}: {e}", path.display())))?;
    let Some(split) = split else {
        return Ok(());
    };
    let inner = &text[split.inner.clone()];
    let base_text = store
        .meta(RENDERED_KEY)
        .map_err(|e| CliError::user(e.to_string()))?;
    // The region exactly as baton last rendered it holds no edit: there is nothing to apply,
    // and nothing to refuse even if that render was wrong (it is rendered again from the store).
    if base_text.as_deref() == Some(inner) {
        return Ok(());
    }
    // Rows rendered from another store (the region names a store that is not this one, or
    // names none while this store never rendered it) say nothing about this store's tasks:
    // T-001 there is not T-001 here. They are never applied; the region is rendered again.
    let ours = store.id().map_err(|e| CliError::user(e.to_string()))?;
    let foreign = match memory::store_id(inner) {
        Some(theirs) => theirs != ours,
        None => base_text.is_none(),
    };
    if foreign {
        let has_rows = memory::parse(inner, split.inner_first_line)
            .map_or(true, |p| !p.queue.is_empty() || !p.log.is_empty());
        if has_rows {
            let from = memory::store_id(inner)
                .map_or_else(|| "another store".to_owned(), |id| format!("store {id}"));
            reject(
                store,
                journal,
                report,
                &name,
                split.inner_first_line.saturating_sub(1).max(1),
                None,
                format!(
                    "the task tables were rendered from {from}, not from this project's store \
                     {ours}: none of their rows was applied (the region was rendered again from \
                     the store)"
                ),
            );
        }
        return Ok(());
    }
    let edited = match memory::parse(inner, split.inner_first_line) {
        Ok(p) => p,
        Err(errors) => {
            for e in errors {
                reject(
                    store,
                    journal,
                    report,
                    &name,
                    e.line,
                    None,
                    format!(
                        "{} (the region was rendered again from the store)",
                        e.message
                    ),
                );
            }
            return Ok(());
        }
    };
    let base = base_text
        .as_deref()
        .and_then(|b| memory::parse(b, 1).ok())
        .unwrap_or_default();
    let (changes, warnings) = memory::diff(&base, &edited);
    for w in warnings {
        reject(store, journal, report, &name, w.line, None, w.message);
    }
    for change in changes {
        let line = change.line();
        let (id, to, note) = match &change {
            Change::Status { id, to, .. } => (*id, *to, None),
            Change::Log { row, .. } => (
                row.id,
                row.status,
                Some(row.note.clone()).filter(|n| !n.trim().is_empty()),
            ),
        };
        let c = StatusChange {
            reason: (to == Status::Blocked).then(|| {
                note.clone()
                    .unwrap_or_else(|| format!("marked BLOCKED in {name}"))
            }),
            note: if to == Status::Blocked { None } else { note },
            ..StatusChange::default()
        };
        match store.set_status(id, to, MEMORY_ACTOR, c) {
            Ok(Outcome::Changed(t, entries)) => {
                journal.extend(entries);
                report
                    .applied
                    .push(format!("{name}:{line}: {} → {}", t.id, t.status));
            }
            Ok(Outcome::Unchanged(_)) => {}
            Err(e) => reject(store, journal, report, &name, line, Some(id), e.to_string()),
        }
    }
    Ok(())
}

/// Records a refused edit in the journal and the report.
fn reject(
    store: &mut Store,
    journal: &mut Vec<JournalEntry>,
    report: &mut SyncReport,
    name: &str,
    line: usize,
    task: Option<baton_core::task::TaskId>,
    message: String,
) {
    let msg = format!("{name}:{line}: {message}");
    // A sync that reads the file again (a writer was still at it) meets the same refused
    // edit again: it is journaled and reported once.
    if report.rejected.contains(&msg) {
        return;
    }
    if let Ok(e) = store.journal(
        MEMORY_ACTOR,
        JournalAction::MemoryEditRejected,
        task,
        name,
        "rejected",
        &msg,
    ) {
        journal.push(e);
    }
    report.rejected.push(msg);
}

/// Builds what the region shows: every open task, the newest closed ones, the newest log lines,
/// all read from one snapshot of the store. Agents and `baton task` commands change tasks
/// while baton renders without taking the memory lock: read query by query, a task closed
/// between the open and the closed query was shown twice, and the next sync refused the
/// table as an edit.
fn view(store: &Store) -> CliResult<View> {
    store.snapshot(read_view)
}

/// Builds the view, query by query: see [`view`].
fn read_view(store: &Store) -> CliResult<View> {
    let e = |e: crate::store::StoreError| CliError::user(e.to_string());
    let (open, open_total) = store.open_for_view(OPEN_SHOWN).map_err(e)?;
    let closed_ids = store.recent_closed(CLOSED_SHOWN).map_err(e)?;
    let closed_total = store
        .counts()
        .map_err(e)?
        .iter()
        .filter(|(s, _)| s.is_final())
        .map(|(_, n)| *n as usize)
        .sum::<usize>();
    let mut rows: Vec<_> = open.into_iter().chain(closed_ids).collect();
    rows.sort_by_key(|t| t.id);
    let queue = rows
        .iter()
        .map(|t| QueueRow {
            id: t.id,
            title: t.title.clone(),
            assignee: t.assignee.clone(),
            priority: t.priority,
            status: t.status,
            created: local_time(t.created_ms).chars().take(16).collect(),
        })
        .collect();
    let actions = [
        JournalAction::TaskDone,
        JournalAction::TaskBlock,
        JournalAction::TaskCancel,
    ];
    let mut log_entries = store.journal_last(&actions, LOG_SHOWN).map_err(e)?;
    log_entries.reverse();
    let log_total = store.journal_count(&actions).map_err(e)? as usize;
    let log = log_entries
        .iter()
        .filter_map(|j| {
            let id = j.task?;
            let status = match j.action.parse() {
                Ok(JournalAction::TaskDone) => Status::Completed,
                Ok(JournalAction::TaskBlock) => Status::Blocked,
                _ => Status::Cancelled,
            };
            Some(LogRow {
                date: local_time(j.at_ms).chars().take(16).collect(),
                agent: if j.target.is_empty() {
                    j.actor.clone()
                } else {
                    j.target.clone()
                },
                id,
                status,
                note: j.detail.clone(),
            })
        })
        .collect();
    Ok(View {
        queue,
        hidden_closed: closed_total.saturating_sub(CLOSED_SHOWN.min(closed_total))
            + open_total.saturating_sub(OPEN_SHOWN),
        log,
        hidden_log: log_total.saturating_sub(log_entries.len()),
        store: Some(store.id().map_err(e)?).filter(|id| !id.is_empty()),
    })
}

/// Replaces a file's content: temp file in the same directory, fsync, rename; the file's
/// permissions are kept.
pub(crate) fn write_atomically(path: &Path, bytes: &[u8]) -> CliResult<()> {
    let dir = path.parent().unwrap_or(Path::new("."));
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    // Unique per process and per call: two threads of one process (the daemon writing
    // REPORT.md while a handoff is written) never share a temporary file.
    static CALLS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let n = CALLS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let tmp = dir.join(format!(".{name}.baton-{}-{n}.tmp", std::process::id()));
    let w = |e| io_error(format!("cannot write {}", tmp.display()), e);
    let mut f = File::create(&tmp).map_err(w)?;
    f.write_all(bytes).map_err(w)?;
    if let Ok(meta) = std::fs::metadata(path) {
        let _ = f.set_permissions(meta.permissions());
    }
    f.sync_all().map_err(w)?;
    drop(f);
    std::fs::rename(&tmp, path).map_err(|e| {
        let _ = std::fs::remove_file(&tmp);
        io_error(format!("cannot replace {}", path.display()), e)
    })
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;
    use std::sync::atomic::AtomicBool;
    use std::sync::atomic::Ordering;

    use baton_core::task::NewTask;
    use baton_core::task::Priority;
    use baton_core::task::TaskId;

    use super::*;

    /// Another process closes tasks one by one while baton renders the region: each task is
    /// shown once, open or closed, never both (the queue table read back with a task twice is
    /// refused as an edit nobody made).
    #[test]
    fn a_task_closed_during_a_render_is_shown_once() {
        const TASKS: usize = 150;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("state.db");
        let mut writer = Store::open(&path).unwrap();
        let new: Vec<NewTask> = (0..TASKS)
            .map(|i| NewTask {
                title: format!("task {i}"),
                ..NewTask::default()
            })
            .collect();
        let (tasks, _) = writer.add_tasks(&new, "user").unwrap();
        for t in &tasks {
            let start = StatusChange {
                assignee: Some("claude".into()),
                ..StatusChange::default()
            };
            writer
                .set_status(t.id, Status::InProgress, "user", start)
                .unwrap();
        }
        let reader = Store::open(&path).unwrap();
        let closed_all = AtomicBool::new(false);
        std::thread::scope(|s| {
            s.spawn(|| {
                for t in &tasks {
                    writer
                        .set_status(t.id, Status::Completed, "claude", StatusChange::default())
                        .unwrap();
                }
                closed_all.store(true, Ordering::SeqCst);
            });
            let mut renders = 0;
            while !closed_all.load(Ordering::SeqCst) {
                let v = view(&reader).unwrap();
                let mut seen = BTreeSet::new();
                for r in &v.queue {
                    assert!(
                        seen.insert(r.id),
                        "{} shown twice in render {renders}:\n{}",
                        r.id,
                        memory::render(&v)
                    );
                }
                renders += 1;
            }
        });
    }

    /// A region left exactly as baton rendered it holds no edit: even a render that would not
    /// read back (a task twice) is not refused as an edit, it is only rendered again.
    #[test]
    fn baton_s_own_render_is_never_refused_as_an_edit() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(&dir.path().join("state.db")).unwrap();
        let row = |status| QueueRow {
            id: TaskId(1),
            title: "task".into(),
            assignee: Some("claude".into()),
            priority: Priority::Med,
            status,
            created: String::new(),
        };
        let inner = memory::render(&View {
            queue: vec![row(Status::InProgress), row(Status::Completed)],
            store: Some(store.id().unwrap()),
            ..View::default()
        });
        store.set_meta(RENDERED_KEY, &inner).unwrap();
        let text = memory::splice("# Notes\n", &inner).unwrap();
        let (mut report, mut journal) = (SyncReport::default(), Vec::new());
        ingest(
            Path::new("CLAUDE.md"),
            &text,
            &mut store,
            &mut report,
            &mut journal,
        )
        .unwrap();
        assert_eq!(report.rejected, Vec::<String>::new());
        assert!(journal.is_empty());
    }
}
