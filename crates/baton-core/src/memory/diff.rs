//! Comparing what baton rendered with what was edited: the changes to apply and the edits
//! that are ignored, with a warning.

use std::collections::HashMap;

use super::LogRow;
use super::Parsed;
use super::QueueRow;
use crate::task::Status;
use crate::task::TaskId;

/// Something the user or an agent changed in the region that baton should apply.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Change {
    /// A task's status was changed in the queue.
    Status {
        /// The task.
        id: TaskId,
        /// The status baton rendered.
        from: Status,
        /// The status now in the file.
        to: Status,
        /// The file line of the row.
        line: usize,
    },
    /// A line was added to the completion log.
    Log {
        /// The new log row.
        row: LogRow,
        /// The file line of the row.
        line: usize,
    },
}

impl Change {
    /// The file line the change was read from.
    pub fn line(&self) -> usize {
        match self {
            Change::Status { line, .. } | Change::Log { line, .. } => *line,
        }
    }
}

/// An edit baton ignores, with the reason, to show to whoever made it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Warning {
    /// The file line it is about.
    pub line: usize,
    /// What was ignored and what to do instead.
    pub message: String,
}

/// Compares what baton last rendered (`base`) with what the file holds now (`edited`): status
/// changes and new log lines are changes, other edits are warnings. Both lists are in line order.
pub fn diff(base: &Parsed, edited: &Parsed) -> (Vec<Change>, Vec<Warning>) {
    let mut changes = Vec::new();
    let mut warnings = Vec::new();
    let known: HashMap<TaskId, &QueueRow> = base.queue.iter().map(|(_, r)| (r.id, r)).collect();
    for (line, row) in &edited.queue {
        let line = *line;
        let Some(old) = known.get(&row.id) else {
            warnings.push(Warning {
                line,
                message: format!("unknown task {} (add tasks with `baton task add`)", row.id),
            });
            continue;
        };
        if old.status != row.status {
            changes.push(Change::Status {
                id: row.id,
                from: old.status,
                to: row.status,
                line,
            });
        }
        let id = row.id;
        let mut warn = |what: &str| {
            warnings.push(Warning {
                line,
                message: format!(
                    "{id}: only Status is read from the memory file; change {what} with \
                     `baton task edit`"
                ),
            });
        };
        if old.title != row.title {
            warn("the title");
        }
        if norm_assignee(old.assignee.as_deref()) != norm_assignee(row.assignee.as_deref()) {
            warn("the assignee");
        }
        if old.priority != row.priority {
            warn("the priority");
        }
        if old.created != row.created {
            warnings.push(Warning {
                line,
                message: format!(
                    "{id}: only Status is read from the memory file; the Created date is set \
                     by baton"
                ),
            });
        }
    }
    let mut seen: HashMap<&LogRow, usize> = HashMap::new();
    for (_, r) in &base.log {
        *seen.entry(r).or_insert(0) += 1;
    }
    for (line, row) in &edited.log {
        match seen.get_mut(row) {
            Some(n) if *n > 0 => *n -= 1,
            _ => changes.push(Change::Log {
                row: row.clone(),
                line: *line,
            }),
        }
    }
    changes.sort_by_key(Change::line);
    warnings.sort_by_key(|w| w.line);
    (changes, warnings)
}

/// An assignee with `None`, `""` and `-` all meaning nobody.
fn norm_assignee(a: Option<&str>) -> Option<&str> {
    match a.map(str::trim) {
        None | Some("") | Some("-") => None,
        Some(s) => Some(s),
    }
}
