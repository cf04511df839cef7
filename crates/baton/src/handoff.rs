//! The handoff document, `HANDOFF_TO_<AGENT>.md`: everything a successor needs to take the
//! lead role over, generated from the store (no agent writes it, so nothing is forgotten):
//! the reason and the old lead's quota, what was done, what is in progress, what remains by
//! priority, the old lead's notes, the files changed recently, every agent's state and quota,
//! and the commands to use.

use std::fmt::Write as _;
use std::path::PathBuf;

use baton_core::engine::prompt::handoff_file;
use baton_core::quota::projection::format_duration_short;
use baton_core::task::Status;
use baton_core::task::Task;

use crate::error::CliError;
use crate::error::CliResult;
use crate::orchlog::local_time;
use crate::project::Project;
use crate::store::QuotaReading;
use crate::store::Store;
use crate::store::TaskFilter;
use crate::store::now_ms;

/// Where the lead writes its notes for its successor.
pub const NOTES: &str = ".baton/lead-notes.md";

fn cell(text: &str) -> String {
    text.replace('|', "\\|").replace(['\n', '\r'], " ")
}

fn quota_line(readings: &[QuotaReading], agent: &str, now: i64) -> String {
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

/// Files changed recently, from git when the project is a repository.
fn changed_files(project: &Project) -> Option<String> {
    let git = |args: &[&str]| crate::git::query(&project.root, args);
    let status = git(&["status", "--porcelain"])?;
    let log = git(&[
        "log",
        "--since=6 hours ago",
        "--name-only",
        "--format=%h %s",
        "-n",
        "20",
    ])
    .unwrap_or_default();
    let mut out = String::new();
    let uncommitted: Vec<&str> = status.lines().take(50).collect();
    if !uncommitted.is_empty() {
        let _ = writeln!(
            out,
            "Uncommitted:\n\n```\n{}\n```\n",
            uncommitted.join("\n")
        );
    }
    if !log.trim().is_empty() {
        let lines: Vec<&str> = log.lines().filter(|l| !l.is_empty()).take(80).collect();
        let _ = writeln!(
            out,
            "Commits of the last 6 hours:\n\n```\n{}\n```",
            lines.join("\n")
        );
    }
    if out.is_empty() {
        out.push_str("Nothing changed in the last 6 hours.\n");
    }
    Some(out)
}

/// How the takeover prompt names the handoff document: `{file}` (its name) in the reports
/// directory, from the project root (`docs/runs/{file}`; just `{file}` at the root), or by
/// its full path when agents work in worktrees of their own.
pub fn takeover_file(project: &Project) -> String {
    let rel = project.config.reports_dir();
    if project.config.uses_worktrees() {
        format!("{}/{{file}}", project.reports_dir().display())
    } else if rel.as_os_str().is_empty() {
        "{file}".to_owned()
    } else {
        format!("{}/{{file}}", rel.display())
    }
}

/// Writes `HANDOFF_TO_<TO>.md` in the reports directory (atomically) and returns its path.
pub fn write(
    project: &Project,
    store: &Store,
    from: &str,
    to: &str,
    reason: &str,
) -> CliResult<PathBuf> {
    let e = |e: crate::store::StoreError| CliError::user(e.to_string());
    let now = now_ms();
    let tasks = store.tasks(&TaskFilter::default()).map_err(e)?;
    let journal = store.journal_since(0, usize::MAX).map_err(e)?;
    let started = |t: &Task| {
        journal
            .iter()
            .rev()
            .find(|j| j.task == Some(t.id) && j.action == "task-start")
            .map(|j| j.at_ms)
    };
    let mut out = String::new();
    let w = &mut out;
    let _ = writeln!(w, "# HANDOFF: {from} -> {to}\n");
    let _ = writeln!(w, "- **Date**: {}", local_time(now));
    let _ = writeln!(w, "- **Reason**: {reason}");
    let quota = store.latest_quota().unwrap_or_default();
    let _ = writeln!(w, "- **{from}'s quota**: {}", quota_line(&quota, from, now));
    let _ = writeln!(w, "- **New lead**: {to}\n");
    let _ = writeln!(
        w,
        "You lead this project now. baton hands the tasks out, checks delivery and completion, \
         runs the verify commands and watches every agent's quota; you decide what comes next: \
         review finished work, add tasks, unblock what is blocked.\n"
    );

    let done: Vec<&Task> = tasks
        .iter()
        .filter(|t| t.status == Status::Completed)
        .collect();
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

    let running: Vec<&Task> = tasks
        .iter()
        .filter(|t| t.status == Status::InProgress)
        .collect();
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

    let mut remaining: Vec<&Task> = tasks
        .iter()
        .filter(|t| t.status == Status::Pending)
        .collect();
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

    let blocked: Vec<&Task> = tasks
        .iter()
        .filter(|t| t.status == Status::Blocked)
        .collect();
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
    match std::fs::read_to_string(project.root.join(NOTES)) {
        Ok(notes) if !notes.trim().is_empty() => {
            let _ = writeln!(w, "{}\n", notes.trim_end());
        }
        _ => {
            let _ = writeln!(w, "{from} wrote no notes ({NOTES}).\n");
        }
    }

    let _ = writeln!(w, "## Files changed recently\n");
    match changed_files(project) {
        Some(text) => {
            let _ = writeln!(w, "{text}");
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
    let rows = store.agents().unwrap_or_default();
    for a in &project.config.agents {
        let state = rows
            .iter()
            .find(|r| r.name == a.name)
            .map_or("unknown", |r| r.state.as_str());
        let task = running
            .iter()
            .find(|t| t.assignee.as_deref() == Some(a.name.as_str()))
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
            quota_line(&quota, &a.name, now)
        );
    }
    let _ = writeln!(w);
    // Named so that any shell finds it (a login shell may not have baton on its PATH).
    let b = crate::baton_cmd::lookup().command();
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
    let dir = project.reports_dir();
    std::fs::create_dir_all(&dir)
        .map_err(|e| crate::error::io_error(format!("cannot create {}", dir.display()), e))?;
    let path = dir.join(handoff_file(to));
    crate::memory_sync::write_atomically(&path, out.as_bytes())?;
    Ok(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn project(config: &str) -> (tempfile::TempDir, Project) {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(baton_core::config::FILE_NAME), config).unwrap();
        let project = Project::load(dir.path()).unwrap();
        (dir, project)
    }

    #[test]
    fn the_handoff_document_goes_to_the_reports_dir_and_the_prompt_names_it_there() {
        let (dir, p) = project("[session]\nreports_dir = \"docs/runs\"\n");
        let store = p.store().unwrap();
        let path = write(&p, &store, "claude", "amp", "a test").unwrap();
        assert_eq!(path, dir.path().join("docs/runs/HANDOFF_TO_AMP.md"));
        assert!(path.is_file());
        assert!(!dir.path().join("HANDOFF_TO_AMP.md").exists());
        assert_eq!(takeover_file(&p), "docs/runs/{file}");
        let (dir, p) = project(
            "[session]\nreports_dir = \"docs\"\nisolation = \"worktree\"\n[[agent]]\nname = \"a\"\n",
        );
        assert_eq!(
            takeover_file(&p),
            format!("{}/{{file}}", dir.path().join("docs").display())
        );
        let (_dir, p) = project("");
        assert_eq!(takeover_file(&p), "{file}");
    }
}
