//! `REPORT.md`, rendered from a [`Snapshot`] of the store when a run finishes: what was done,
//! by whom, how long it took, verify results, merges, lead changes and problems.

use std::collections::BTreeMap;
use std::collections::BTreeSet;
use std::fmt::Write as _;

use super::JournalLine;
use super::TimeFormat;
use super::cell;
use crate::task::Status;
use crate::task::Task;
use crate::task::TaskId;
use crate::usage::Usage;
use crate::usage::format_cost;
use crate::usage::format_tokens;
use crate::vocab::JournalAction;
use crate::vocab::MergeState;

/// The report's file name, in the reports directory (`[session] reports_dir`, default the
/// project root).
pub const REPORT: &str = "REPORT.md";

/// One merge of the merge queue, as the report reads it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct MergeLine<'a> {
    /// Its number, in queue order.
    pub id: i64,
    /// The task whose completion queued it.
    pub task: TaskId,
    /// The agent whose branch it merges.
    pub agent: &'a str,
    /// queued, running, merged, conflict, failed or error.
    pub state: &'a str,
    /// The integration branch's head after the merge.
    pub merge_commit: Option<&'a str>,
    /// One line, or the conflict / error excerpt.
    pub detail: &'a str,
    /// When it last changed.
    pub updated_ms: i64,
}

/// The integration branch's commits since baton's first merge (worktree mode).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct History<'a> {
    /// The integration branch's name.
    pub branch: &'a str,
    /// The commit the log starts after: the base of baton's first merge.
    pub since: &'a str,
    /// `git log --format='%H %s' {since}..{branch}`, newest first.
    pub log: &'a str,
}

/// Everything the report shows, gathered by the shell.
#[derive(Clone, Debug)]
pub struct Snapshot<'a> {
    /// The project's root, as shown.
    pub root: &'a str,
    /// How the run ended, in a few words.
    pub summary: &'a str,
    /// Every task.
    pub tasks: &'a [Task],
    /// The whole journal, oldest first.
    pub journal: &'a [JournalLine<'a>],
    /// Every merge, in queue order.
    pub merges: &'a [MergeLine<'a>],
    /// The integration branch's history, in worktree mode.
    pub history: Option<History<'a>>,
    /// Each task's cost and tokens ([`crate::usage::task_shares`]); a task missing is unknown.
    pub usage: &'a BTreeMap<TaskId, Usage>,
}

/// When a task first started and when it last finished (COMPLETED, CANCELLED or UNREPORTED),
/// by the journal.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Times {
    /// The first `task-start`.
    pub started_ms: Option<i64>,
    /// The last `task-done`, `task-cancel` or `task-unreported`.
    pub finished_ms: Option<i64>,
}

impl Times {
    /// Finished minus started, when both are known.
    pub fn duration_ms(&self) -> Option<i64> {
        Some(self.finished_ms? - self.started_ms?)
    }
}

/// Returns each task's [`Times`] from the journal (oldest first).
pub fn task_times(journal: &[JournalLine<'_>]) -> BTreeMap<TaskId, Times> {
    let mut out: BTreeMap<TaskId, Times> = BTreeMap::new();
    for j in journal {
        let Some(t) = j.task else { continue };
        match j.action.parse() {
            Ok(JournalAction::TaskStart) => {
                let times = out.entry(t).or_default();
                times.started_ms.get_or_insert(j.at_ms);
            }
            // An UNREPORTED task's note ("UNREPORTED: …") is in the task's notes already.
            Ok(
                JournalAction::TaskDone | JournalAction::TaskCancel | JournalAction::TaskUnreported,
            ) => {
                out.entry(t).or_default().finished_ms = Some(j.at_ms);
            }
            _ => {}
        }
    }
    out
}

/// A task's tokens as a table cell: `12.3k in / 950 out`, or `—`.
fn tokens_cell(u: &Usage) -> String {
    if u.input_tokens.is_none() && u.output_tokens.is_none() {
        return "—".to_owned();
    }
    format!(
        "{} in / {} out",
        format_tokens(u.input_tokens),
        format_tokens(u.output_tokens)
    )
}

/// Returns a duration as the report shows it: `1h 05m`, `3m 07s`, `42s`.
pub fn duration(ms: i64) -> String {
    let s = ms.max(0) / 1000;
    if s >= 3600 {
        format!("{}h {:02}m", s / 3600, s % 3600 / 60)
    } else if s >= 60 {
        format!("{}m {:02}s", s / 60, s % 60)
    } else {
        format!("{s}s")
    }
}

/// "1 problem" / "3 problems".
fn count(n: usize) -> String {
    if n == 1 {
        "1 problem".to_owned()
    } else {
        format!("{n} problems")
    }
}

/// True for a merge's final state that is a failure.
fn merge_failed(state: &str) -> bool {
    state.parse().is_ok_and(MergeState::is_failure)
}

/// How a merge ended, in words: a `failed` merge's detail starts with the command that
/// failed (`git commit` when baton could not commit the agent's work).
fn merge_state_words<'a>(m: &MergeLine<'a>) -> &'a str {
    match m.state.parse() {
        Ok(MergeState::Failed) if m.detail.starts_with("`git commit`") => "commit failed",
        Ok(MergeState::Failed) => "verify failed",
        Ok(MergeState::Error) => "git error",
        _ => m.state,
    }
}

/// What a journal entry says went wrong, as a short label; `None` for everything else.
/// Merges come from the merge queue's records (each failure once, with its detail).
fn problem(j: &JournalLine<'_>) -> Option<String> {
    let action = j.action.parse::<JournalAction>().ok()?;
    let label = match action {
        JournalAction::AgentDied => "agent died",
        JournalAction::AgentRestart => "agent restarted",
        JournalAction::SessionLost => "tmux session lost",
        JournalAction::HostLost => "host connection lost",
        JournalAction::HostDown => "host down",
        JournalAction::PasteFailed => "paste failed",
        JournalAction::TaskRequeue => "task requeued",
        JournalAction::TaskBlock => "task blocked",
        JournalAction::TaskReview => "completed for review",
        JournalAction::TaskUnreported => "ended unreported (waits for a review)",
        JournalAction::MemoryEditRejected => "memory edit refused",
        JournalAction::HandoffFailed => "handoff failed",
        JournalAction::WebhookFailed => "webhook notice not delivered",
        JournalAction::Verify if j.result.contains("FAILED") => "verify failed",
        JournalAction::Engine => {
            let what = j.result;
            if what.starts_with("stuck:") {
                "hang recovered"
            } else if what.starts_with("delivery failed") {
                "delivery failed"
            } else if what.starts_with("a notice was not taken") {
                "notice not delivered"
            } else if what.starts_with("cleared a prompt left unsubmitted") {
                "prompt left unsubmitted"
            } else if what.contains(" not read: the agent shows ") {
                "not read (limit or error screen)"
            } else if swallowed_enters(what) {
                "Enter swallowed"
            } else {
                return None;
            }
        }
        a if a != JournalAction::NotifyHandoffDone => {
            return a.notice_name().map(|name| format!("notice ({name})"));
        }
        _ => return None,
    };
    Some(label.to_owned())
}

/// Whether a journal entry is one of the problems the report lists.
pub fn is_problem(j: &JournalLine<'_>) -> bool {
    problem(j).is_some()
}

/// True for a delivery that needed more than one Enter ("prompt delivered (Enter ×2, …)").
fn swallowed_enters(what: &str) -> bool {
    what.split_once("(Enter ×")
        .and_then(|(_, rest)| rest.split(|c: char| !c.is_ascii_digit()).next())
        .and_then(|n| n.parse::<u32>().ok())
        .is_some_and(|n| n > 1)
}

/// One line of the Problems section for a journal entry.
fn problem_line(j: &JournalLine<'_>, label: &str, time: TimeFormat) -> String {
    // "T-004 amp", "amp", "T-004" or nothing, then a colon: no dangling separators.
    let what: Vec<String> = j
        .task
        .map(|t| t.to_string())
        .into_iter()
        .chain(Some(j.target.to_owned()).filter(|t| !t.is_empty()))
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
        time(j.at_ms),
        cell(j.result)
    )
}

/// The integration branch's commits since baton's first merge, each said to be verified
/// (the branch pointed to it after its verify passed) or not checked alone (it came in below
/// a verified commit; its task's own failed merges named). `None` when the log is empty.
pub fn integration_history(h: &History<'_>, merges: &[MergeLine<'_>]) -> Option<String> {
    let branch = h.branch;
    let verified: BTreeSet<&str> = merges
        .iter()
        .filter(|m| m.state == MergeState::Merged)
        .filter_map(|m| m.merge_commit)
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
    for line in h.log.lines() {
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
                .filter(|m| m.task.to_string() == task && merge_failed(m.state))
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
    let first = h.since;
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

/// Renders REPORT.md.
pub fn render(s: &Snapshot<'_>, time: TimeFormat) -> String {
    let (tasks, journal, merges) = (s.tasks, s.journal, s.merges);
    let times = task_times(journal);
    let mut review: BTreeMap<TaskId, &str> = BTreeMap::new();
    for j in journal {
        if let (Some(t), Ok(JournalAction::TaskReview)) = (j.task, j.action.parse()) {
            review.insert(t, j.result);
        }
    }
    let mut out = String::new();
    let first = journal.first().map_or(0, |j| j.at_ms);
    let last = journal.last().map_or(0, |j| j.at_ms);
    let _ = writeln!(out, "# Run report\n");
    let _ = writeln!(out, "- Project: `{}`", s.root);
    let _ = writeln!(out, "- Finished: {}", time(last));
    let _ = writeln!(
        out,
        "- Took: {} (from the first journal entry)",
        duration(last - first)
    );
    let _ = writeln!(out, "- Result: {}", s.summary);
    let spent = crate::usage::total(s.usage.values());
    if spent.is_empty() {
        let _ = writeln!(out, "- Cost: — (no agent CLI told it)");
    } else {
        let _ = writeln!(
            out,
            "- Cost: {} · tokens: {} (the tasks' shares, where the agent CLIs tell them)",
            format_cost(spent.cost_usd),
            tokens_cell(&spent)
        );
    }
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
        "| ID | Task | Agent | Status | Attempts | Duration | Cost | Tokens | Notes |"
    );
    let _ = writeln!(
        out,
        "|----|------|-------|--------|----------|----------|------|--------|-------|"
    );
    for t in tasks {
        let took = times
            .get(&t.id)
            .and_then(Times::duration_ms)
            .map_or_else(|| "-".into(), duration);
        let spent = s.usage.get(&t.id).copied().unwrap_or_default();
        let mut notes = t.notes.join("; ");
        if let Some(r) = review.get(&t.id) {
            notes = format!("**review**: {r}; {notes}");
        }
        if let Some(b) = &t.blocked_reason {
            notes = format!("blocked: {b}; {notes}");
        }
        let _ = writeln!(
            out,
            "| {} | {} | {} | {} | {} | {} | {} | {} | {} |",
            t.id,
            cell(&t.title),
            t.assignee.as_deref().unwrap_or("-"),
            t.status,
            t.attempts,
            took,
            format_cost(spent.cost_usd),
            tokens_cell(&spent),
            cell(notes.trim_end_matches("; "))
        );
    }
    let verify: Vec<_> = journal
        .iter()
        .filter(|j| j.action == JournalAction::Verify)
        .collect();
    let _ = writeln!(out, "\n## Verify\n");
    if verify.is_empty() && !merges.is_empty() {
        let _ = writeln!(
            out,
            "Verify ran on every merge, in the merge queue: see Merges."
        );
    } else if verify.is_empty() {
        let _ = writeln!(out, "No verify command ran.");
    }
    for j in verify {
        let _ = writeln!(out, "- {} {}", time(j.at_ms), j.result);
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
        for m in merges {
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {} | {} |",
                m.id,
                m.task,
                m.agent,
                m.state,
                m.merge_commit
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
            let _ = writeln!(out, "- {} {}: {}", time(j.at_ms), j.action, j.result);
        }
    }
    let mut problems: Vec<(i64, String)> = journal
        .iter()
        .filter_map(|j| problem(j).map(|label| (j.at_ms, problem_line(j, &label, time))))
        .collect();
    for m in merges.iter().filter(|m| merge_failed(m.state)) {
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
                time(m.updated_ms),
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
    if let Some(history) = s.history.and_then(|h| integration_history(&h, merges)) {
        let _ = writeln!(out, "{history}");
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn time(ms: i64) -> String {
        format!("t{ms}")
    }

    fn task(id: u32, title: &str, status: Status) -> Task {
        Task {
            assignee: Some("amp".to_owned()),
            status,
            attempts: 1,
            ..Task::pending(TaskId(id), title)
        }
    }

    fn j<'a>(at_ms: i64, action: &'a str, task: Option<u32>, result: &'a str) -> JournalLine<'a> {
        JournalLine {
            at_ms,
            actor: "baton",
            action,
            task: task.map(TaskId),
            target: "",
            result,
            detail: "",
        }
    }

    #[test]
    fn the_report_tells_tasks_merges_and_problems() {
        let mut done = task(1, "A|B", Status::Completed);
        done.notes = vec!["ok".to_owned()];
        let tasks = vec![done, task(2, "B", Status::Unreported)];
        let journal = [
            j(0, "task-start", Some(1), "PENDING → IN_PROGRESS"),
            j(65_000, "task-done", Some(1), "IN_PROGRESS → COMPLETED"),
            j(70_000, "engine", Some(2), "stuck: recovered"),
            j(80_000, "notify-handoff-done", None, "sent"),
            j(90_000, "handoff-done", None, "claude -> amp"),
        ];
        let merges = [MergeLine {
            id: 1,
            task: TaskId(1),
            agent: "amp",
            state: "failed",
            merge_commit: None,
            detail: "`cargo test` failed\n\nerror: x | y\n",
            updated_ms: 75_000,
        }];
        let mut usage = BTreeMap::new();
        usage.insert(
            TaskId(1),
            Usage {
                cost_usd: Some(0.01234),
                input_tokens: Some(12_345),
                output_tokens: None,
            },
        );
        usage.insert(TaskId(2), Usage::default());
        let text = render(
            &Snapshot {
                root: "/p",
                summary: "all done",
                tasks: &tasks,
                journal: &journal,
                merges: &merges,
                history: None,
                usage: &usage,
            },
            time,
        );
        let expected = "# Run report\n\n\
            - Project: `/p`\n\
            - Finished: t90000\n\
            - Took: 1m 30s (from the first journal entry)\n\
            - Result: all done\n\
            - Cost: $0.0123 · tokens: 12.3k in / — out (the tasks' shares, where the agent CLIs tell them)\n\
            - Done, unreported: 1 (T-002) — each waits for a review: `baton task done <ID>` confirms it, `baton task reopen <ID> --reason …` sends it back\n\n\
            ## Tasks\n\n\
            | ID | Task | Agent | Status | Attempts | Duration | Cost | Tokens | Notes |\n\
            |----|------|-------|--------|----------|----------|------|--------|-------|\n\
            | T-001 | A\\|B | amp | COMPLETED | 1 | 1m 05s | $0.0123 | 12.3k in / — out | ok |\n\
            | T-002 | B | amp | UNREPORTED | 1 | - | — | — |  |\n\n\
            ## Verify\n\n\
            Verify ran on every merge, in the merge queue: see Merges.\n\n\
            ## Merges\n\n\
            Every merge, in queue order: a merged one moved the integration branch to its merge commit after verify passed; any other left the branch where it was.\n\n\
            | # | Task | Agent | State | Merge commit | Detail |\n\
            |---|------|-------|-------|--------------|--------|\n\
            | 1 | T-001 | amp | failed | - | `cargo test` failed |\n\n\
            ## Lead\n\n\
            - t90000 handoff-done: claude -> amp\n\n\
            ## Problems\n\n\
            2 problems in the journal and the merge queue:\n\n\
            - t70000 hang recovered T-002: stuck: recovered\n\
            - t75000 merge failed (verify failed) T-001 amp: merge #1 — `cargo test` failed … error: x | y\n";
        assert_eq!(text, expected);
    }

    #[test]
    fn problems_are_told_apart_from_the_rest() {
        assert!(is_problem(&j(0, "agent-died", None, "")));
        assert!(is_problem(&j(0, "verify", None, "verify FAILED")));
        assert!(!is_problem(&j(0, "verify", None, "verify passed")));
        assert!(is_problem(&j(
            0,
            "engine",
            None,
            "prompt delivered (Enter ×2, 1 s)"
        )));
        assert!(!is_problem(&j(
            0,
            "engine",
            None,
            "prompt delivered (Enter ×1, 1 s)"
        )));
        assert!(!is_problem(&j(0, "notify-handoff-done", None, "")));
        assert_eq!(
            problem(&j(
                0,
                "engine",
                None,
                "message not read: the agent shows rate-limited (Enter ×1)"
            ))
            .as_deref(),
            Some("not read (limit or error screen)")
        );
        assert!(is_problem(&j(0, "notify-blocked", None, "")));
        assert_eq!(
            problem(&j(
                0,
                "webhook-failed",
                None,
                "task-blocked: https://ntfy.example: 500"
            )),
            Some("webhook notice not delivered".to_owned())
        );
        let empty = render(
            &Snapshot {
                root: "/p",
                summary: "s",
                tasks: &[],
                journal: &[],
                merges: &[],
                history: None,
                usage: &BTreeMap::new(),
            },
            time,
        );
        assert!(empty.contains("- Cost: — (no agent CLI told it)\n"));
        assert!(empty.contains("No verify command ran.\n\n## Problems\n\nNone: "));
    }

    #[test]
    fn the_integration_history_says_what_verify_checked() {
        let merges = [
            MergeLine {
                id: 1,
                task: TaskId(2),
                agent: "amp",
                state: "conflict",
                merge_commit: None,
                detail: "",
                updated_ms: 0,
            },
            MergeLine {
                id: 2,
                task: TaskId(3),
                agent: "amp",
                state: "merged",
                merge_commit: Some("bbbbbbbbbbbbbbbb"),
                detail: "",
                updated_ms: 0,
            },
        ];
        let h = History {
            branch: "baton/main",
            since: "0123456789abcdef",
            log: "bbbbbbbbbbbbbbbb T-003: merge\ncccccccccccccccc T-002: work | x\n",
        };
        let text = integration_history(&h, &merges).unwrap();
        assert!(text.starts_with("\n## Integration branch `baton/main`\n\n"));
        assert!(text.ends_with(
            "Newest first, since `0123456789ab`:\n\n\
             - `bbbbbbbbbbbb` T-003: merge — verified\n\
             - `cccccccccccc` T-002: work \\| x — not checked alone: came in with `bbbbbbbbbbbb`; \
             T-002's own merge failed: #1 (conflict)\n"
        ));
        assert_eq!(
            integration_history(&History { log: "", ..h }, &merges),
            None
        );
    }
}
