//! The human-readable trail: `ORCHESTRATION_LOG.md` (a markdown table, as teams keep it by
//! hand) and `.baton/journal.jsonl` (one JSON object a line), both appended after each change
//! is committed to the store. The store's journal is the source of truth; these are its mirror.
//! The table's rows are rendered by `baton_core::render::orchestration_row`.

use std::io::Write;
use std::path::Path;

use baton_core::render::ORCHESTRATION_LOG_HEADER;
use baton_core::render::orchestration_row;

use crate::error::CliResult;
use crate::error::io_error;
use crate::project::Project;
use crate::store::JournalEntry;

/// The orchestration log's file name, in the reports directory (`[session] reports_dir`,
/// default the project root).
pub const ORCHESTRATION_LOG: &str = "ORCHESTRATION_LOG.md";

/// Formats a time in milliseconds as local `YYYY-MM-DD HH:MM:SS`.
pub fn local_time(ms: i64) -> String {
    jiff::Timestamp::from_millisecond(ms)
        .map(|t| {
            t.to_zoned(jiff::tz::TimeZone::system())
                .strftime("%Y-%m-%d %H:%M:%S")
                .to_string()
        })
        .unwrap_or_else(|_| ms.to_string())
}

/// Appends entries to both logs: ORCHESTRATION_LOG.md in the reports directory (created
/// when missing), `.baton/journal.jsonl`. Each file gets one write, so lines of concurrent
/// writers never interleave.
pub fn append(project: &Project, entries: &[JournalEntry]) -> CliResult<()> {
    if entries.is_empty() {
        return Ok(());
    }
    let root = project.root.as_path();
    let dir = project.reports_dir();
    std::fs::create_dir_all(&dir)
        .map_err(|e| io_error(format!("cannot create {}", dir.display()), e))?;
    let md_path = dir.join(ORCHESTRATION_LOG);
    let mut md = String::new();
    let mut jsonl = String::new();
    for e in entries {
        md.push_str(&orchestration_row(&e.line(), local_time));
        jsonl.push_str(&serde_json::to_string(e).unwrap_or_default());
        jsonl.push('\n');
    }
    if !md_path.exists() {
        // Two writers may race to create it: the loser finds it and appends.
        if let Ok(mut f) = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&md_path)
        {
            f.write_all(ORCHESTRATION_LOG_HEADER.as_bytes())
                .map_err(|e| io_error(format!("cannot write {}", md_path.display()), e))?;
        }
    }
    append_bytes(&md_path, md.as_bytes())?;
    append_bytes(&root.join(".baton").join("journal.jsonl"), jsonl.as_bytes())
}

fn append_bytes(path: &Path, bytes: &[u8]) -> CliResult<()> {
    let mut f = std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .open(path)
        .map_err(|e| io_error(format!("cannot open {}", path.display()), e))?;
    f.write_all(bytes)
        .map_err(|e| io_error(format!("cannot write {}", path.display()), e))
}
