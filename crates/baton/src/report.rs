//! `REPORT.md`: what was done, by whom, how long it took, verify results, and problems —
//! written from the store and its journal when a run finishes. This gathers the snapshot
//! (tasks, journal, merges, each task's cost and tokens, the integration branch's log) and writes the file;
//! `baton_core::render::report` renders it.

use baton_core::render::report::History;
use baton_core::render::report::MergeLine;
use baton_core::render::report::Snapshot;

use crate::error::CliError;
use crate::error::CliResult;
use crate::orchlog::local_time;
use crate::project::Project;
use crate::store::JournalEntry;
use crate::store::MergeRow;
use crate::store::Store;
use crate::store::TaskFilter;

/// The report's file name, in the reports directory (`[session] reports_dir`, default the
/// project root).
pub use baton_core::render::report::REPORT;

/// A merge as the renderer reads it.
fn merge_line(m: &MergeRow) -> MergeLine<'_> {
    MergeLine {
        id: m.id,
        task: m.merge.task,
        agent: &m.merge.agent,
        state: m.merge.state.as_str(),
        merge_commit: m.merge.merge_commit.as_deref(),
        detail: &m.merge.detail,
        updated_ms: m.updated_ms,
    }
}

/// The integration branch and its commits since baton's first merge (the base of the first
/// merge that has one), newest first: `(branch, since, git log)`. `None` outside worktree
/// mode.
fn integration_log(
    project: &Project,
    store: &Store,
    merges: &[MergeRow],
) -> Option<(String, String, String)> {
    let first = merges.iter().find_map(|m| m.merge.base.clone())?;
    let branch = crate::worktrees::integration_branch(project, Some(store)).ok()?;
    let log = crate::git::query(
        &project.root,
        &[
            "log",
            "--format=%H %s",
            &format!("{first}..refs/heads/{branch}"),
        ],
    )?;
    Some((branch, first, log))
}

/// Whether a journal entry is one of the problems the report lists.
pub fn is_problem(j: &JournalEntry) -> bool {
    baton_core::render::report::is_problem(&j.line())
}

/// Writes REPORT.md (atomically) and returns its text.
pub fn write(project: &Project, store: &Store, summary: &str) -> CliResult<String> {
    let e = |e: crate::store::StoreError| CliError::user(e.to_string());
    // One snapshot of the store: agents report while the report is written.
    let (tasks, journal, merge_rows, usage) = store
        .snapshot(|s| {
            Ok::<_, crate::store::StoreError>((
                s.tasks(&TaskFilter::default())?,
                s.journal_since(0, usize::MAX)?,
                s.merges(0)?,
                s.task_usage()?,
            ))
        })
        .map_err(e)?;
    let journal: Vec<_> = journal.iter().map(JournalEntry::line).collect();
    let merges: Vec<_> = merge_rows.iter().map(merge_line).collect();
    let history = integration_log(project, store, &merge_rows);
    let root = project.root.display().to_string();
    let out = baton_core::render::report::render(
        &Snapshot {
            root: &root,
            summary,
            tasks: &tasks,
            journal: &journal,
            merges: &merges,
            history: history
                .as_ref()
                .map(|(branch, since, log)| History { branch, since, log }),
            usage: &usage,
        },
        local_time,
    );
    let dir = project.reports_dir();
    std::fs::create_dir_all(&dir)
        .map_err(|e| crate::error::io_error(format!("cannot create {}", dir.display()), e))?;
    crate::memory_sync::write_atomically(&dir.join(REPORT), out.as_bytes())?;
    Ok(out)
}
