//! The handoff document, `HANDOFF_TO_<AGENT>.md`: everything a successor needs to take the
//! lead role over, generated from the store (no agent writes it, so nothing is forgotten).
//! This gathers the snapshot — tasks, journal, quota, agents, the old lead's notes, what git
//! says changed — and writes the file; `baton_core::render::handoff` renders it.

use std::path::PathBuf;

use baton_core::engine::prompt::handoff_file;
use baton_core::render::handoff::AgentLine;
use baton_core::render::handoff::GitChanges;
use baton_core::render::handoff::QuotaLine;
use baton_core::render::handoff::Snapshot;

use crate::error::CliResult;
use crate::orchlog::local_time;
use crate::project::Project;
use crate::store::JournalEntry;
use crate::store::Store;
use crate::store::TaskFilter;
use crate::store::now_ms;

/// Where the lead writes its notes for its successor.
pub use baton_core::render::handoff::NOTES;

/// What git says changed recently: `git status` and the last 6 hours of commits; `None`
/// when the project is not a repository.
fn git_changes(project: &Project) -> Option<(String, String)> {
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
    Some((status, log))
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
    let e = |e: crate::store::StoreError| crate::error::CliError::user(e.to_string());
    // One snapshot of the store: agents report while the document is written.
    let (tasks, journal, quota, rows) = store
        .snapshot(|s| {
            Ok::<_, crate::store::StoreError>((
                s.tasks(&TaskFilter::default())?,
                s.journal_since(0, usize::MAX)?,
                s.latest_quota().unwrap_or_default(),
                s.agents().unwrap_or_default(),
            ))
        })
        .map_err(e)?;
    let journal: Vec<_> = journal.iter().map(JournalEntry::line).collect();
    let quota: Vec<QuotaLine<'_>> = quota
        .iter()
        .map(|r| QuotaLine {
            agent: &r.agent,
            window: &r.window,
            used_percent: r.used_percent,
            resets_at_ms: r.resets_at_ms,
        })
        .collect();
    let agents: Vec<AgentLine<'_>> = project
        .config
        .agents
        .iter()
        .map(|a| AgentLine {
            name: &a.name,
            cli: &a.cli,
            state: rows
                .iter()
                .find(|r| r.name == a.name)
                .map(|r| r.state.as_str()),
        })
        .collect();
    let notes = std::fs::read_to_string(project.root.join(NOTES)).ok();
    let changes = git_changes(project);
    // Named so that any shell finds it (a login shell may not have baton on its PATH).
    let baton = crate::baton_cmd::lookup().command();
    let text = baton_core::render::handoff::render(
        &Snapshot {
            from,
            to,
            reason,
            now_ms: now_ms(),
            tasks: &tasks,
            journal: &journal,
            quota: &quota,
            agents: &agents,
            notes: notes.as_deref(),
            changes: changes
                .as_ref()
                .map(|(status, log)| GitChanges { status, log }),
            baton: &baton,
        },
        local_time,
    );
    let dir = project.reports_dir();
    std::fs::create_dir_all(&dir)
        .map_err(|e| crate::error::io_error(format!("cannot create {}", dir.display()), e))?;
    let path = dir.join(handoff_file(to));
    crate::memory_sync::write_atomically(&path, text.as_bytes())?;
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
