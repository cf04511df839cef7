//! `REPORT.md`: what was done, by whom, how long it took, verify results, and problems —
//! written from the store and its journal when a run finishes.

use std::collections::BTreeMap;
use std::collections::BTreeSet;
use std::fmt::Write as _;

use baton_core::task::Status;
use baton_core::task::TaskId;
use baton_core::vocab::JournalAction;
use baton_core::vocab::MergeState;

use crate::error::CliError;
use crate::error::CliResult;
use crate::orchlog::cell;
use crate::orchlog::local_time;
use crate::project::Project;
use crate::store::JournalEntry;
use crate::store::MergeRow;
use crate::store::Store;
use crate::store::TaskFilter;

/// The report's file name, in the reports directory (`[session] reports_dir`, default the
/// project root).
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

fn count(n: usize) -> String {
    if n == 1 {
        "1 problem".to_owned()
    } else {
        format!("{n} problems")
    }
}

/// How a merge ended, in words: a `failed` merge's detail starts with the command that
/// failed (`git commit` when baton could not commit the agent's work).
fn merge_state_words(m: &MergeRow) -> &str {
    match m.state {
        MergeState::Failed if m.detail.starts_with("`git commit`") => "commit failed",
        MergeState::Failed => "verify failed",
        MergeState::Error => "git error",
        other => other.as_str(),
    }
}

/// What a journal entry says went wrong, as a short label; `None` for everything else.
/// Merges come from the merge queue's records (each failure once, with its detail).
fn problem(j: &JournalEntry) -> Option<String> {
    let Ok(action) = j.action.parse::<JournalAction>() else {
        return None;
    };
    let label = match action {
        JournalAction::AgentDied => "agent died",
        JournalAction::AgentRestart => "agent restarted",
        JournalAction::SessionLost => "tmux session lost",
        JournalAction::PasteFailed => "paste failed",
        JournalAction::TaskRequeue => "task requeued",
        JournalAction::TaskBlock => "task blocked",
        JournalAction::TaskReview => "completed for review",
        JournalAction::TaskUnreported => "ended unreported (waits for a review)",
        JournalAction::MemoryEditRejected => "memory edit refused",
        JournalAction::HandoffFailed => "handoff failed",
        JournalAction::Verify if j.result.contains("FAILED") => "verify failed",
        JournalAction::Engine => {
            let what = j.result.as_str();
            if what.starts_with("stuck:") {
                "hang recovered"
            } else if what.starts_with("delivery failed") {
                "delivery failed"
            } else if what.starts_with("a notice was not taken") {
                "notice not delivered"
            } else if what.starts_with("cleared a prompt left unsubmitted") {
                "prompt left unsubmitted"
            } else if swallowed_enters(what) {
                "Enter swallowed"
            } else {
                return None;
            }
        }
        a if a != JournalAction::NotifyHandoffDone && a.notice_name().is_some() => {
            return a.notice_name().map(|name| format!("notice ({name})"));
        }
        _ => return None,
    };
    Some(label.to_owned())
}

/// True for a delivery that needed more than one Enter ("prompt delivered (Enter ×2, …)").
fn swallowed_enters(what: &str) -> bool {
    what.split_once("(Enter ×")
        .and_then(|(_, rest)| rest.split(|c: char| !c.is_ascii_digit()).next())
        .and_then(|n| n.parse::<u32>().ok())
        .is_some_and(|n| n > 1)
}

fn problem_line(j: &JournalEntry, label: &str) -> String {
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
    let detail = if j.detail.is_empty() || j.detail.starts_with('{') {
        String::new()
    } else {
        format!(" — {}", j.detail)
    };
    format!(
        "- {} {label}{what}: {}{detail}",
        local_time(j.at_ms),
        cell(&j.result)
    )
}

/// The integration branch's commits since baton's first merge, each said to be verified
/// (the branch pointed to it after its verify passed) or not checked alone (it came in below
/// a verified commit; its task's own failed merges named). `None` outside worktree mode.
pub fn integration_history(
    project: &Project,
    store: &Store,
    merges: &[MergeRow],
) -> Option<String> {
    let first = merges.iter().find_map(|m| m.base.clone())?;
    let branch = crate::worktrees::integration_branch(project, Some(store)).ok()?;
    let log = crate::git::query(
        &project.root,
        &[
            "log",
            "--format=%H %s",
            &format!("{first}..refs/heads/{branch}"),
        ],
    )?;
    let verified: BTreeSet<&str> = merges
        .iter()
        .filter(|m| m.state == MergeState::Merged)
        .filter_map(|m| m.merge_commit.as_deref())
        .collect();
    let mut out = String::new();
    let _ = writeln!(out, "\n## Integration branch `{branch}`\n");
    let _ = writeln!(
        out,
        "The merge queue moved `{branch}` only to commits whose verify passed (verified below). \
         A commit beneath one came in with it: verify never checked it alone.\n"
    );
    // Newest first: the verified commit a commit came in with is the nearest one above it.
    let mut above: Option<String> = None;
    let mut lines = Vec::new();
    for line in log.lines() {
        let (hash, subject) = line.split_once(' ').unwrap_or((line, ""));
        let short = &hash[..hash.len().min(12)];
        let verdict = if verified.contains(hash) {
            above = Some(short.to_owned());
            "verified".to_owned()
        } else {
            let mut v = match &above {
                Some(tip) => format!("not checked alone: came in with `{tip}`"),
                None => "not checked by baton: not from the merge queue".to_owned(),
            };
            let task = subject.split(':').next().unwrap_or("");
            let failed: Vec<String> = merges
                .iter()
                .filter(|m| m.task.to_string() == task && m.state.is_failure())
                .map(|m| format!("#{} ({})", m.id, merge_state_words(m)))
                .collect();
            if !failed.is_empty() {
                v.push_str(&format!(
                    "; {task}'s own merge failed: {}",
                    failed.join(", ")
                ));
            }
            v
        };
        lines.push(format!("- `{short}` {} — {verdict}", cell(subject)));
    }
    if lines.is_empty() {
        return None;
    }
    let _ = writeln!(
        out,
        "Newest first, since `{}`:\n",
        &first[..first.len().min(12)]
    );
    for l in lines {
        let _ = writeln!(out, "{l}");
    }
    Some(out)
}

/// Whether a journal entry is one of the problems the report lists.
pub fn is_problem(j: &JournalEntry) -> bool {
    problem(j).is_some()
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
        match j.action.parse() {
            Ok(JournalAction::TaskStart) => {
                started.entry(t).or_insert(j.at_ms);
            }
            Ok(JournalAction::TaskDone | JournalAction::TaskCancel) => {
                finished.insert(t, j.at_ms);
            }
            Ok(JournalAction::TaskReview) => {
                review.insert(t, j.result.clone());
            }
            Ok(JournalAction::TaskUnreported) => {
                // Its note ("UNREPORTED: …") is in the task's notes already.
                finished.insert(t, j.at_ms);
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
    let _ = writeln!(out, "- Result: {summary}");
    // Work nobody reported is never counted as COMPLETED: listed apart, to be reviewed.
    let unreported: Vec<String> = tasks
        .iter()
        .filter(|t| t.status == Status::Unreported)
        .map(|t| t.id.to_string())
        .collect();
    if !unreported.is_empty() {
        let _ = writeln!(
            out,
            "- Done, unreported: {} ({}) — each waits for a review: `baton task done <ID>` confirms it, `baton task reopen <ID> --reason …` sends it back",
            unreported.len(),
            unreported.join(", ")
        );
    }
    let _ = writeln!(out);
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
    let verify: Vec<_> = journal
        .iter()
        .filter(|j| j.action == JournalAction::Verify)
        .collect();
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
            "Every merge, in queue order: a merged one moved the integration branch to its merge \
             commit after verify passed; any other left the branch where it was.\n"
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
                j.action.parse(),
                Ok(JournalAction::HandoffPrepare
                    | JournalAction::HandoffStart
                    | JournalAction::HandoffDone
                    | JournalAction::HandoffFailed)
            )
        })
        .collect();
    if !lead.is_empty() {
        let _ = writeln!(out, "\n## Lead\n");
        for j in lead {
            let _ = writeln!(out, "- {} {}: {}", local_time(j.at_ms), j.action, j.result);
        }
    }
    let mut problems: Vec<(i64, String)> = journal
        .iter()
        .filter_map(|j| problem(j).map(|label| (j.at_ms, problem_line(j, &label))))
        .collect();
    for m in merges.iter().filter(|m| m.state.is_failure()) {
        let mut detail = m.detail.lines().filter(|l| !l.trim().is_empty());
        let first = detail.next().unwrap_or("");
        let last = detail
            .next_back()
            .map(|l| format!(" … {}", l.trim()))
            .unwrap_or_default();
        problems.push((
            m.updated_ms,
            format!(
                "- {} merge failed ({}) {} {}: merge #{} — {first}{last}",
                local_time(m.updated_ms),
                merge_state_words(m),
                m.task,
                m.agent,
                m.id,
            ),
        ));
    }
    problems.sort_by_key(|(at, _)| *at);
    let _ = writeln!(out, "\n## Problems\n");
    if problems.is_empty() {
        let _ = writeln!(
            out,
            "None: no failed merge or verify, hang, death, restart, requeue, failed delivery, \
             blocked task, refused memory edit, review or notice in the journal."
        );
    } else {
        let _ = writeln!(
            out,
            "{} in the journal and the merge queue:\n",
            count(problems.len())
        );
    }
    for (_, line) in problems {
        let _ = writeln!(out, "{line}");
    }
    if let Some(history) = integration_history(project, store, &merges) {
        let _ = writeln!(out, "{history}");
    }
    let dir = project.reports_dir();
    std::fs::create_dir_all(&dir)
        .map_err(|e| crate::error::io_error(format!("cannot create {}", dir.display()), e))?;
    crate::memory_sync::write_atomically(&dir.join(REPORT), out.as_bytes())?;
    Ok(out)
}
