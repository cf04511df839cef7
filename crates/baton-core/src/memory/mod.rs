//! The region of the shared memory file (CLAUDE.md) that baton owns: finding it, replacing it,
//! rendering the task tables into it, and reading back what people and agents changed there.
//!
//! Pure: text in, text out. Everything outside the two marker lines belongs to the user and is
//! never touched. The parser is tolerant of hand-written tables (column order, missing outer
//! pipes, status spellings) but never guesses: anything ambiguous is an error with a line number.
//!
//! This file holds the markers, the error and the rows; the region is found and replaced in
//! `region.rs`, rendered in `render.rs`, read back in `parse.rs` and compared in `diff.rs`.

mod diff;
mod parse;
mod region;
mod render;

pub use diff::Change;
pub use diff::Warning;
pub use diff::diff;
pub use parse::Parsed;
pub use parse::parse;
pub use region::Split;
pub use region::splice;
pub use region::split;
pub use render::render;
pub use render::store_id;

use crate::task::Priority;
use crate::task::Status;
use crate::task::TaskId;

/// The line that opens baton's region.
pub const BEGIN: &str = "<!-- baton:tasks -->";

/// The line that closes baton's region.
pub const END: &str = "<!-- /baton:tasks -->";

/// The comment rendered first inside the region, telling readers what baton reads back.
pub const NOTICE: &str = "<!-- Managed by baton: change a task's Status here (PENDING, \
IN_PROGRESS, COMPLETED, BLOCKED, CANCELLED) or add a line to the Task Completion Log, and baton \
applies it. Prefer the report command your task prompt gives (baton task done T-XXX --note \"…\", \
baton named by its full path when a login shell would not find it) -->";

/// How the line naming the store the region was rendered from starts; the store's identity
/// follows, then ` -->`. Rows rendered from another store are never applied.
pub const STORE_PREFIX: &str = "<!-- baton:store ";

/// The heading of the queue table.
pub const QUEUE_HEADING: &str = "Task Assignment Queue";

/// The heading of the completion log table.
pub const LOG_HEADING: &str = "Task Completion Log";

/// A problem in the memory file, with its 1-based line number.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("line {line}: {message}")]
pub struct MemoryError {
    /// The 1-based line of the file the problem is on.
    pub line: usize,
    /// What is wrong, for a human.
    pub message: String,
}

impl MemoryError {
    /// Builds an error from a line number and a message.
    pub fn new(line: usize, message: impl Into<String>) -> MemoryError {
        MemoryError {
            line,
            message: message.into(),
        }
    }
}

/// One row of the Task Assignment Queue.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct QueueRow {
    /// The task's ID.
    pub id: TaskId,
    /// The one-line title.
    pub title: String,
    /// The agent it is given to (`-` or an empty cell reads as `None`).
    pub assignee: Option<String>,
    /// The priority (MED when the column is missing or the cell empty).
    pub priority: Priority,
    /// The status.
    pub status: Status,
    /// When it was created, as shown (free text).
    pub created: String,
}

/// One row of the Task Completion Log.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub struct LogRow {
    /// When, as written (free text).
    pub date: String,
    /// Who.
    pub agent: String,
    /// Which task.
    pub id: TaskId,
    /// The status the task reached.
    pub status: Status,
    /// A short note.
    pub note: String,
}

/// What baton shows in the region.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct View {
    /// The queue rows, in display order.
    pub queue: Vec<QueueRow>,
    /// How many older closed tasks are left out of the queue.
    pub hidden_closed: usize,
    /// The log rows, oldest first.
    pub log: Vec<LogRow>,
    /// How many older log lines are left out.
    pub hidden_log: usize,
    /// The identity of the store the view was read from, rendered on a comment line.
    pub store: Option<String>,
}

#[cfg(test)]
mod tests;
