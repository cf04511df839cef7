//! The handoff document, `HANDOFF_TO_<AGENT>.md`, rendered from a [`Snapshot`] of the store
//! and the project: everything a successor needs to take the lead role over.

use std::fmt::Write as _;

use super::JournalLine;
use super::TimeFormat;
use super::cell;
use crate::AgentState;
use crate::quota::projection::format_duration_short;
use crate::task::Status;
use crate::task::Task;
use crate::vocab::JournalAction;

/// Where the lead writes its notes for its successor, from the project root.
pub const NOTES: &str = ".baton/lead-notes.md";

/// One quota reading of an agent's window, as the document shows it.
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct QuotaLine<'a> {
    /// The agent.
    pub agent: &'a str,
    /// `session-5h`, `weekly`, …
    pub window: &'a str,
    /// Percent of the window used.
    pub used_percent: f64,
    /// When the window resets, in milliseconds since the Unix epoch, when known.
    pub resets_at_ms: Option<i64>,
}

/// A configured agent and the state the store last saw it in.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct AgentLine<'a> {
    /// The agent's name.
    pub name: &'a str,
    /// Its profile.
    pub cli: &'a str,
    /// Its state (`idle`, `working`, `dead`…), `None` when the store has no row for it.
    pub state: Option<&'a str>,
}

/// What git says changed recently.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct GitChanges<'a> {
    /// `git status --porcelain`.
    pub status: &'a str,
    /// `git log --name-only --format='%h %s'` of the last 6 hours (at most 20 commits).
    pub log: &'a str,
}

/// Everything the handoff document shows, gathered by the shell.
#[derive(Clone, Debug)]
pub struct Snapshot<'a> {
    /// The lead handing over.
    pub from: &'a str,
    /// The new lead.
    pub to: &'a str,
    /// Why.
    pub reason: &'a str,
    /// Now, in milliseconds since the Unix epoch.
    pub now_ms: i64,
    /// Every task.
    pub tasks: &'a [Task],
    /// The journal, oldest first (the last `task-start` of a task is when it started).
    pub journal: &'a [JournalLine<'a>],
    /// The latest quota readings.
    pub quota: &'a [QuotaLine<'a>],
    /// The configured agents, in the configuration's order.
    pub agents: &'a [AgentLine<'a>],
    /// The text of the old lead's notes file ([`NOTES`]), when it could be read.
    pub notes: Option<&'a str>,
    /// What changed recently; `None` when the project is not a git repository.
    pub changes: Option<GitChanges<'a>>,
    /// How to call baton from any shell (its full path when it is not on the PATH).
    pub baton: &'a str,
}

/// One agent's quota in a line: `session-5h 42%, resets in 1h · weekly 12%, reset since`.
fn quota_line(readings: &[QuotaLine<'_>], agent: &str, now: i64) -> String {
    let parts: Vec<String> = readings
        .iter()
        .filter(|r| r.agent == agent)
        .map(|r| {
            let reset = match r.resets_at_ms {
                Some(t) if t > now => format!(", resets in {}", format_duration_short(t - now)),
                Some(_) => ", reset since".to_owned(),
                None => String::new(),
            };
            format!("{} {:.0}%{reset}", r.window, r.used_percent)
        })
        .collect();
    if parts.is_empty() {
        "no reading".to_owned()
    } else {
        parts.join(" · ")
    }
}

/// The files changed recently: the uncommitted ones (at most 50 lines) and the commits of
/// the last 6 hours (at most 80 lines).
fn changed_files(changes: &GitChanges<'_>) -> String {
    let mut out = String::new();
    let uncommitted: Vec<&str> = changes.status.lines().take(50).collect();
    if !uncommitted.is_empty() {
        let _ = writeln!(
            out,
            "Uncommitted:\n\n```\n{}\n```\n",
            uncommitted.join("\n")
        );
    }
    if !changes.log.trim().is_empty() {
        let lines: Vec<&str> = changes
            .log
            .lines()
            .filter(|l| !l.is_empty())
            .take(80)
            .collect();
        let _ = writeln!(
            out,
            "Commits of the last 6 hours:\n\n```\n{}\n```",
            lines.join("\n")
        );
    }
    if out.is_empty() {
        out.push_str("Nothing changed in the last 6 hours.\n");
    }
    out
}

/// Renders the handoff document: the reason and the old lead's quota, what was done, what is
/// in progress, what remains by priority, what is blocked, the old lead's notes, the files
/// changed recently, every agent's state and quota, and the commands to use.
pub fn render(s: &Snapshot<'_>, time: TimeFormat) -> String {
    let (from, to, now) = (s.from, s.to, s.now_ms);
    let started = |t: &Task| {
        s.journal
            .iter()
            .rev()
            .find(|j| j.task == Some(t.id) && j.action == JournalAction::TaskStart)
            .map(|j| j.at_ms)
    };
    let with =
        |status: Status| -> Vec<&Task> { s.tasks.iter().filter(|t| t.status == status).collect() };
    let mut out = String::new();
    let w = &mut out;
    let _ = writeln!(w, "# HANDOFF: {from} -> {to}\n");
    let _ = writeln!(w, "- **Date**: {}", time(now));
    let _ = writeln!(w, "- **Reason**: {}", s.reason);
    let _ = writeln!(
        w,
        "- **{from}'s quota**: {}",
        quota_line(s.quota, from, now)
    );
    let _ = writeln!(w, "- **New lead**: {to}\n");
    let _ = writeln!(
        w,
        "You lead this project now. baton hands the tasks out, checks delivery and completion, \
         runs the verify commands and watches every agent's quota; you decide what comes next: \
         review finished work, add tasks, unblock what is blocked.\n"
    );

    let done = with(Status::Completed);
    let _ = writeln!(w, "## Done ({})\n", done.len());
    if done.is_empty() {
        let _ = writeln!(w, "Nothing yet.\n");
    } else {
        let _ = writeln!(w, "| ID | Task | Agent | Last note |\n|---|---|---|---|");
        for t in &done {
            let _ = writeln!(
                w,
                "| {} | {} | {} | {} |",
                t.id,
                cell(&t.title),
                t.assignee.as_deref().unwrap_or("-"),
                cell(t.notes.last().map_or("", String::as_str))
            );
        }
        let _ = writeln!(w);
    }

    let running = with(Status::InProgress);
    let _ = writeln!(w, "## In progress ({})\n", running.len());
    if running.is_empty() {
        let _ = writeln!(w, "Nothing.\n");
    } else {
        let _ = writeln!(w, "| ID | Task | Agent | On it for |\n|---|---|---|---|");
        for t in &running {
            let _ = writeln!(
                w,
                "| {} | {} | {} | {} |",
                t.id,
                cell(&t.title),
                t.assignee.as_deref().unwrap_or("-"),
                started(t).map_or("?".to_owned(), |s| format_duration_short(now - s))
            );
        }
        let _ = writeln!(w);
    }

    let mut remaining = with(Status::Pending);
    remaining.sort_by_key(|t| (t.priority, t.id));
    let _ = writeln!(w, "## Remaining, by priority ({})\n", remaining.len());
    if remaining.is_empty() {
        let _ = writeln!(w, "Nothing.\n");
    } else {
        let _ = writeln!(
            w,
            "| Priority | ID | Task | Skills | After |\n|---|---|---|---|---|"
        );
        for t in &remaining {
            let deps: Vec<String> = t.deps.iter().map(ToString::to_string).collect();
            let _ = writeln!(
                w,
                "| {} | {} | {} | {} | {} |",
                t.priority.as_str(),
                t.id,
                cell(&t.title),
                t.skills.join(", "),
                deps.join(", ")
            );
        }
        let _ = writeln!(w);
    }

    let blocked = with(Status::Blocked);
    if !blocked.is_empty() {
        let _ = writeln!(w, "## Blocked ({})\n", blocked.len());
        for t in &blocked {
            let _ = writeln!(
                w,
                "- {} {} — {}",
                t.id,
                t.title,
                t.blocked_reason.as_deref().unwrap_or("no reason given")
            );
        }
        let _ = writeln!(w);
    }

    let _ = writeln!(w, "## Decisions and notes from {from}\n");
    match s.notes {
        Some(notes) if !notes.trim().is_empty() => {
            let _ = writeln!(w, "{}\n", notes.trim_end());
        }
        _ => {
            let _ = writeln!(w, "{from} wrote no notes ({NOTES}).\n");
        }
    }

    let _ = writeln!(w, "## Files changed recently\n");
    match &s.changes {
        Some(changes) => {
            let _ = writeln!(w, "{}", changed_files(changes));
        }
        None => {
            let _ = writeln!(w, "The project is not a git repository.\n");
        }
    }

    let _ = writeln!(w, "## Agents\n");
    let _ = writeln!(
        w,
        "| Agent | CLI | State | Task | Quota |\n|---|---|---|---|---|"
    );
    for a in s.agents {
        let state = a.state.unwrap_or(AgentState::Unknown.as_str());
        let task = running
            .iter()
            .find(|t| t.assignee.as_deref() == Some(a.name))
            .map_or("-".to_owned(), |t| t.id.to_string());
        let role = if a.name == to {
            " (new lead)"
        } else if a.name == from {
            " (former lead)"
        } else {
            ""
        };
        let _ = writeln!(
            w,
            "| {}{role} | {} | {state} | {task} | {} |",
            a.name,
            a.cli,
            quota_line(s.quota, a.name, now)
        );
    }
    let _ = writeln!(w);
    let b = s.baton;
    let _ = writeln!(
        w,
        "## Commands\n\n\
         ```sh\n\
         {b} task list --status open        # the queue\n\
         {b} task add \"<title>\" --body \"<context, objective, files, criteria>\" --priority HIGH --skill <skill> --after T-XXX\n\
         {b} task show T-XXX                # a task with its notes and history\n\
         {b} task block T-XXX --reason \"…\"  # or requeue, reassign, cancel\n\
         {b} ls                             # agents and their states\n\
         {b} usage                          # every agent's quota\n\
         {b} log                            # what happened, who did it and why\n\
         {b} lead                           # the lead role and its handoffs\n\
         ```"
    );
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::task::Priority;
    use crate::task::TaskId;

    fn time(ms: i64) -> String {
        format!("t{ms}")
    }

    fn task(id: u32, title: &str, status: Status, assignee: Option<&str>) -> Task {
        Task {
            skills: vec!["rust".to_owned()],
            assignee: assignee.map(str::to_owned),
            status,
            ..Task::pending(TaskId(id), title)
        }
    }

    #[test]
    fn the_document_lists_the_work_the_agents_and_the_commands() {
        let mut done = task(1, "A|B \\ c", Status::Completed, Some("claude"));
        done.notes = vec!["first".to_owned(), "last\nnote".to_owned()];
        let mut blocked = task(4, "D", Status::Blocked, None);
        blocked.blocked_reason = Some("a key".to_owned());
        let mut high = task(3, "C", Status::Pending, None);
        high.priority = Priority::High;
        high.deps = vec![TaskId(1)];
        let tasks = vec![
            done,
            task(2, "B", Status::InProgress, Some("amp")),
            task(5, "E", Status::Pending, None),
            high,
            blocked,
        ];
        let journal = [JournalLine {
            at_ms: 1_000,
            action: "task-start",
            task: Some(TaskId(2)),
            ..JournalLine::default()
        }];
        let quota = [
            QuotaLine {
                agent: "claude",
                window: "session-5h",
                used_percent: 93.4,
                resets_at_ms: Some(61_000 + 3_600_000),
            },
            QuotaLine {
                agent: "claude",
                window: "weekly",
                used_percent: 40.0,
                resets_at_ms: Some(5),
            },
        ];
        let agents = [
            AgentLine {
                name: "claude",
                cli: "claude",
                state: Some("idle"),
            },
            AgentLine {
                name: "amp",
                cli: "amp",
                state: None,
            },
        ];
        let text = render(
            &Snapshot {
                from: "claude",
                to: "amp",
                reason: "quota",
                now_ms: 61_000,
                tasks: &tasks,
                journal: &journal,
                quota: &quota,
                agents: &agents,
                notes: Some("Keep the API stable.\n\n"),
                changes: Some(GitChanges {
                    status: " M src/a.rs\n",
                    log: "",
                }),
                baton: "baton",
            },
            time,
        );
        let expected_head = "# HANDOFF: claude -> amp\n\n\
            - **Date**: t61000\n\
            - **Reason**: quota\n\
            - **claude's quota**: session-5h 93%, resets in 1h · weekly 40%, reset since\n\
            - **New lead**: amp\n\n";
        assert!(text.starts_with(expected_head), "{text}");
        for part in [
            "## Done (1)\n\n| ID | Task | Agent | Last note |\n|---|---|---|---|\n\
             | T-001 | A\\|B \\\\ c | claude | last note |\n\n",
            "## In progress (1)\n\n| ID | Task | Agent | On it for |\n|---|---|---|---|\n\
             | T-002 | B | amp | 1m |\n\n",
            "## Remaining, by priority (2)\n\n\
             | Priority | ID | Task | Skills | After |\n|---|---|---|---|---|\n\
             | HIGH | T-003 | C | rust | T-001 |\n| MED | T-005 | E | rust |  |\n\n",
            "## Blocked (1)\n\n- T-004 D — a key\n\n",
            "## Decisions and notes from claude\n\nKeep the API stable.\n\n",
            "## Files changed recently\n\nUncommitted:\n\n```\n M src/a.rs\n```\n\n\n",
            "| claude (former lead) | claude | idle | - | session-5h 93%, resets in 1h · weekly 40%, reset since |\n\
             | amp (new lead) | amp | unknown | T-002 | no reading |\n\n",
            "```sh\nbaton task list --status open        # the queue\n",
        ] {
            assert!(text.contains(part), "missing {part:?} in\n{text}");
        }
        assert!(text.ends_with("# the lead role and its handoffs\n```\n"));
    }

    #[test]
    fn an_empty_project_says_so() {
        let text = render(
            &Snapshot {
                from: "a",
                to: "b",
                reason: "r",
                now_ms: 0,
                tasks: &[],
                journal: &[],
                quota: &[],
                agents: &[],
                notes: Some("  \n"),
                changes: None,
                baton: "/x/baton",
            },
            time,
        );
        for part in [
            "- **a's quota**: no reading\n",
            "## Done (0)\n\nNothing yet.\n\n## In progress (0)\n\nNothing.\n\n\
             ## Remaining, by priority (0)\n\nNothing.\n\n## Decisions and notes from a\n\n\
             a wrote no notes (.baton/lead-notes.md).\n\n## Files changed recently\n\n\
             The project is not a git repository.\n\n## Agents\n\n",
            "/x/baton usage ",
        ] {
            assert!(text.contains(part), "missing {part:?} in\n{text}");
        }
        assert!(!text.contains("## Blocked"));
        let quiet = changed_files(&GitChanges::default());
        assert_eq!(quiet, "Nothing changed in the last 6 hours.\n");
    }
}
