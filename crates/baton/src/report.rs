//! `REPORT.md`: what was done, by whom, how long it took, verify results, and problems —
//! written from the store and its journal when a run finishes.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use baton_core::task::TaskId;

use crate::error::CliError;
use crate::error::CliResult;
use crate::orchlog::cell;
use crate::orchlog::local_time;
use crate::project::Project;
use crate::store::Store;
use crate::store::TaskFilter;

/// The report's file name, at the project root.
pub const REPORT: &str = "REPORT.md";

fn duration(ms: i64) -> String {
    let s = ms.max(0) / 1000;
    if s >= 3600 {
        format!("{}h {:02}m", s / 3600, s % 3600 / 60)
    } else if s >= 60 {
        format!("{}m {:02}s", s / 60, s % 60)
    } else {
        format!("{s}s")
    }
}

/// Whether a journal entry is one of the problems the report lists.
pub fn is_problem(j: &crate::store::JournalEntry) -> bool {
    (j.action.starts_with("notify-") && j.action != "notify-handoff-done")
        || matches!(
            j.action.as_str(),
            "task-review"
                | "memory-edit-rejected"
                | "paste-failed"
                | "agent-died"
                | "agent-restart"
                | "task-requeue"
        )
}

/// Writes REPORT.md (atomically) and returns its text.
pub fn write(project: &Project, store: &Store, summary: &str) -> CliResult<String> {
    let e = |e: crate::store::StoreError| CliError::user(e.to_string());
    let tasks = store.tasks(&TaskFilter::default()).map_err(e)?;
    let journal = store.journal_since(0, usize::MAX).map_err(e)?;
    let mut started: BTreeMap<TaskId, i64> = BTreeMap::new();
    let mut finished: BTreeMap<TaskId, i64> = BTreeMap::new();
    let mut review: BTreeMap<TaskId, String> = BTreeMap::new();
    for j in &journal {
        let Some(t) = j.task else { continue };
        match j.action.as_str() {
            "task-start" => {
                started.entry(t).or_insert(j.at_ms);
            }
            "task-done" | "task-cancel" => {
                finished.insert(t, j.at_ms);
            }
            "task-review" => {
                review.insert(t, j.result.clone());
            }
            _ => {}
        }
    }
    let mut out = String::new();
    let first = journal.first().map_or(0, |j| j.at_ms);
    let last = journal.last().map_or(0, |j| j.at_ms);
    let _ = writeln!(out, "# Run report\n");
    let _ = writeln!(out, "- Project: `{}`", project.root.display());
    let _ = writeln!(out, "- Finished: {}", local_time(last));
    let _ = writeln!(
        out,
        "- Took: {} (from the first journal entry)",
        duration(last - first)
    );
    let _ = writeln!(out, "- Result: {summary}\n");
    let _ = writeln!(out, "## Tasks\n");
    let _ = writeln!(
        out,
        "| ID | Task | Agent | Status | Attempts | Duration | Notes |"
    );
    let _ = writeln!(
        out,
        "|----|------|-------|--------|----------|----------|-------|"
    );
    for t in &tasks {
        let took = match (started.get(&t.id), finished.get(&t.id)) {
            (Some(s), Some(f)) => duration(f - s),
            _ => "-".into(),
        };
        let mut notes = t.notes.join("; ");
        if let Some(r) = review.get(&t.id) {
            notes = format!("**review**: {r}; {notes}");
        }
        if let Some(b) = &t.blocked_reason {
            notes = format!("blocked: {b}; {notes}");
        }
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} | {} |",
            t.id,
            cell(&t.title),
            t.assignee.as_deref().unwrap_or("-"),
            t.status,
            t.attempts,
            took,
            cell(notes.trim_end_matches("; "))
        );
    }
    let verify: Vec<_> = journal.iter().filter(|j| j.action == "verify").collect();
    let _ = writeln!(out, "\n## Verify\n");
    let merges = store.merges(0).map_err(e)?;
    if verify.is_empty() && !merges.is_empty() {
        let _ = writeln!(
            out,
            "Verify ran on every merge, in the merge queue: see Merges."
        );
    } else if verify.is_empty() {
        let _ = writeln!(out, "No verify command ran.");
    }
    for j in verify {
        let _ = writeln!(out, "- {} {}", local_time(j.at_ms), j.result);
    }
    if !merges.is_empty() {
        let _ = writeln!(out, "\n## Merges\n");
        let _ = writeln!(
            out,
            "Each task's work reached the integration branch through the verified merge queue.\n"
        );
        let _ = writeln!(out, "| # | Task | Agent | State | Merge commit | Detail |");
        let _ = writeln!(out, "|---|------|-------|-------|--------------|--------|");
        for m in &merges {
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {} | {} |",
                m.id,
                m.task,
                m.agent,
                m.state,
                m.merge_commit
                    .as_deref()
                    .map_or("-".to_owned(), |c| format!("`{}`", &c[..c.len().min(12)])),
                cell(m.detail.lines().next().unwrap_or(""))
            );
        }
    }
    let lead: Vec<_> = journal
        .iter()
        .filter(|j| {
            matches!(
                j.action.as_str(),
                "handoff-prepare" | "handoff-start" | "handoff-done" | "handoff-failed"
            )
        })
        .collect();
    if !lead.is_empty() {
        let _ = writeln!(out, "\n## Lead\n");
        for j in lead {
            let _ = writeln!(out, "- {} {}: {}", local_time(j.at_ms), j.action, j.result);
        }
    }
    let problems: Vec<_> = journal.iter().filter(|j| is_problem(j)).collect();
    let _ = writeln!(out, "\n## Problems\n");
    if problems.is_empty() {
        let _ = writeln!(out, "None.");
    }
    for j in problems {
        // "T-004 amp", "amp", "T-004" or nothing, then a colon: no dangling separators.
        let what: Vec<String> = j
            .task
            .map(|t| t.to_string())
            .into_iter()
            .chain(Some(j.target.clone()).filter(|t| !t.is_empty()))
            .collect();
        let what = if what.is_empty() {
            String::new()
        } else {
            format!(" {}", what.join(" "))
        };
        let detail = if j.detail.is_empty() {
            String::new()
        } else {
            format!(" — {}", j.detail)
        };
        let _ = writeln!(
            out,
            "- {} {}{what}: {}{detail}",
            local_time(j.at_ms),
            j.action,
            j.result
        );
    }
    crate::memory_sync::write_atomically(&project.root.join(REPORT), out.as_bytes())?;
    Ok(out)
}
