//! Watching one file for changes: the directory is watched, because editors and baton itself
//! replace files by renaming a temporary over them, which a watch on the file would lose.

use std::path::Path;
use std::time::Duration;

use crossbeam_channel::Sender;
use notify::RecursiveMode;
use notify_debouncer_mini::DebounceEventResult;
use notify_debouncer_mini::Debouncer;
use notify_debouncer_mini::new_debouncer;

/// A running watch; dropping it stops it.
pub struct FileWatch {
    _debouncer: Debouncer<notify::RecommendedWatcher>,
}

/// Sends `()` on `tx` after the file at `path` changed (created, written, renamed over,
/// removed), at most once per `debounce`.
pub fn watch_file(path: &Path, debounce: Duration, tx: Sender<()>) -> std::io::Result<FileWatch> {
    let dir = path
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or(Path::new("."))
        .to_path_buf();
    let name = path.file_name().map(ToOwned::to_owned).unwrap_or_default();
    let mut debouncer = new_debouncer(debounce, move |res: DebounceEventResult| {
        if let Ok(events) = res
            && events
                .iter()
                .any(|e| e.path.file_name() == Some(name.as_os_str()))
        {
            let _ = tx.send(());
        }
    })
    .map_err(std::io::Error::other)?;
    debouncer
        .watcher()
        .watch(&dir, RecursiveMode::NonRecursive)
        .map_err(std::io::Error::other)?;
    Ok(FileWatch {
        _debouncer: debouncer,
    })
}
