//! The command context: the project, who acts, and the one path a committed change takes
//! (the logs, the memory file, waking the daemon), so that no command repeats it.

use std::path::Path;

use baton_core::task::Status;
use baton_core::task::Task;
use baton_core::task::TaskId;
use baton_core::vocab::JournalAction;

use crate::error::CliResult;
use crate::project::Project;
use crate::project::start_dir;
use crate::store::JournalEntry;
use crate::store::Outcome;
use crate::store::StatusChange;
use crate::store::Store;

/// Who acts when nobody says: a person at the terminal.
pub const USER: &str = "user";

/// What every command that works on a project gets: the project and who acts; the store is
/// opened on demand (a command that only reads the screen never creates one).
pub struct Context {
    /// The project.
    pub project: Project,
    /// Who acts: journaled with every change.
    pub actor: String,
}

impl Context {
    /// Loads the project that holds `-C DIR` (or the current directory), acting as the user.
    pub fn load(dir: Option<&Path>) -> CliResult<Context> {
        Context::at(&start_dir(dir)?)
    }

    /// Loads the project that holds `start`, acting as the user.
    pub fn at(start: &Path) -> CliResult<Context> {
        Ok(Context {
            project: Project::load(start)?,
            actor: USER.to_owned(),
        })
    }

    /// Returns the same context acting as `actor`.
    pub fn acting_as(self, actor: impl Into<String>) -> Context {
        Context {
            actor: actor.into(),
            ..self
        }
    }

    /// Opens the project's store.
    pub fn store(&self) -> CliResult<Store> {
        self.project.store()
    }

    /// Mirrors committed journal entries to the logs, refreshes the memory file and wakes the
    /// daemon. The change is already committed: a problem here is a warning, not a failure
    /// of the command.
    pub fn after_change(&self, store: &mut Store, entries: &[JournalEntry]) {
        for w in after_change(&self.project, &self.actor, store, entries) {
            eprintln!("warning: {w}");
        }
    }

    /// Changes a task's status as this actor, then takes the after-change steps; returns the
    /// task and whether it changed (it may have had that status already).
    pub fn set_status(
        &self,
        store: &mut Store,
        id: TaskId,
        to: Status,
        change: StatusChange,
    ) -> CliResult<(Task, bool)> {
        Ok(match store.set_status(id, to, &self.actor, change)? {
            Outcome::Changed(task, journal) => {
                self.after_change(store, &journal);
                (task, true)
            }
            Outcome::Unchanged(task) => (task, false),
        })
    }

    /// Journals one entry as this actor that changes no task (a turn that ended, a handoff
    /// asked for), mirrors it to the logs and wakes the daemon.
    pub fn journal(
        &self,
        store: &mut Store,
        action: JournalAction,
        task: Option<TaskId>,
        target: &str,
        result: &str,
        detail: &str,
    ) -> CliResult<JournalEntry> {
        let entry = store.journal(&self.actor, action, task, target, result, detail)?;
        self.log(std::slice::from_ref(&entry));
        self.wake_daemon();
        Ok(entry)
    }

    /// Journals a request meant for the running daemon alone (not history: the logs do not
    /// get it) and wakes the daemon.
    pub fn ask_daemon(
        &self,
        store: &mut Store,
        action: JournalAction,
        result: &str,
    ) -> CliResult<JournalEntry> {
        let entry = store.journal(&self.actor, action, None, "", result, "")?;
        self.wake_daemon();
        Ok(entry)
    }

    /// Tells a running daemon that the store changed.
    pub fn wake_daemon(&self) {
        crate::daemon::poke(&self.project.root);
    }

    /// Appends entries to ORCHESTRATION_LOG.md and `.baton/journal.jsonl`; a failure is a
    /// warning.
    fn log(&self, entries: &[JournalEntry]) {
        if let Err(e) = crate::orchlog::append(&self.project, entries) {
            eprintln!("warning: {}", e.message);
        }
    }
}

/// The steps every committed change is followed by, whoever made it (a command, `baton
/// watch`, `baton serve`): the logs mirror the journal, the memory file is rendered again, the
/// daemon is woken. Returns the warnings, for the caller to show its way.
pub fn after_change(
    project: &Project,
    actor: &str,
    store: &mut Store,
    entries: &[JournalEntry],
) -> Vec<String> {
    let mut warnings = Vec::new();
    if let Err(e) = crate::orchlog::append(project, entries) {
        warnings.push(e.message);
    }
    match crate::memory_sync::sync(project, store, actor) {
        Ok(report) => {
            for r in &report.rejected {
                warnings.push(format!("memory file edit refused: {r}"));
            }
        }
        Err(e) => warnings.push(format!("memory file not updated: {}", e.message)),
    }
    crate::daemon::poke(&project.root);
    warnings
}
