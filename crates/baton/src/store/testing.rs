//! What the store's tests share: a new task and a store in a temporary folder.

use baton_core::task::NewTask;

use super::Store;

/// Returns a new task with this title and nothing else.
pub(super) fn new(title: &str) -> NewTask {
    NewTask {
        title: title.into(),
        ..NewTask::default()
    }
}

/// Returns a new store in a temporary folder (kept while the folder lives).
pub(super) fn store() -> (tempfile::TempDir, Store) {
    let dir = tempfile::tempdir().unwrap();
    let s = Store::open(&dir.path().join("state.db")).unwrap();
    (dir, s)
}
