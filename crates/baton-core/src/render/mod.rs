//! Pure renderers of the markdown files baton writes for people — the handoff document,
//! REPORT.md, the orchestration log's rows — from plain snapshots the shell gathers; and the
//! one markdown table-cell escaper every table writer uses (the memory file's tables too).
//!
//! Times come in as milliseconds and go out through a formatter the caller passes (the local
//! time zone is the shell's to read).

pub mod handoff;
pub mod report;

use crate::task::TaskId;

/// Formats a time in milliseconds since the Unix epoch for a reader (the shell passes local
/// `YYYY-MM-DD HH:MM:SS`).
pub type TimeFormat = fn(i64) -> String;

/// Appends `text` escaped for a markdown table cell: `|` → `\|`, `\` → `\\`, and a line
/// break (`\n`, `\r`, U+2028, U+2029) → a space, so the row stays one line and its cells
/// stay where they are.
pub fn push_cell(out: &mut String, text: &str) {
    for c in text.chars() {
        match c {
            '|' => out.push_str("\\|"),
            '\\' => out.push_str("\\\\"),
            '\n' | '\r' | '\u{2028}' | '\u{2029}' => out.push(' '),
            _ => out.push(c),
        }
    }
}

/// Returns `text` escaped for a markdown table cell (see [`push_cell`]).
pub fn cell(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    push_cell(&mut out, text);
    out
}

/// One journal entry, as the renderers read it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct JournalLine<'a> {
    /// When, in milliseconds since the Unix epoch.
    pub at_ms: i64,
    /// Who: an agent's name, `user`, `memory-file`, `baton`.
    pub actor: &'a str,
    /// What: `task-add`, `task-start`, `task-done`, …
    pub action: &'a str,
    /// The task concerned.
    pub task: Option<TaskId>,
    /// What else it concerns (an agent, a file).
    pub target: &'a str,
    /// The outcome in a few words.
    pub result: &'a str,
    /// Details (JSON text or empty).
    pub detail: &'a str,
}

/// The orchestration log's first lines: its title, what it is, the table's header.
pub const ORCHESTRATION_LOG_HEADER: &str = "# Orchestration log\n\nWritten by baton: one line per change, newest last.\n\n| time | actor | action | target | result |\n|------|-------|--------|--------|--------|\n";

/// Renders one journal entry as a row of the orchestration log (ends with `\n`): the target
/// is the task then the target, the result is followed by the detail unless that is JSON.
pub fn orchestration_row(j: &JournalLine<'_>, time: TimeFormat) -> String {
    let target = match (j.task, j.target) {
        (Some(t), "") => t.to_string(),
        (Some(t), other) => format!("{t} {other}"),
        (None, other) => other.to_owned(),
    };
    let mut result = j.result.to_owned();
    if !j.detail.is_empty() && !j.detail.starts_with('{') {
        result = format!("{result}: {}", j.detail);
    }
    let mut out = String::with_capacity(64 + target.len() + result.len());
    out.push_str("| ");
    out.push_str(&time(j.at_ms));
    for text in [j.actor, j.action, &target, &result] {
        out.push_str(" | ");
        push_cell(&mut out, text);
    }
    out.push_str(" |\n");
    out
}

/// A count with its noun: "1 fix cycle" / "3 fix cycles" ("1 older closed task is" / "3
/// older closed tasks are").
pub fn plural(n: usize, one: &str, many: &str) -> String {
    if n == 1 {
        format!("{n} {one}")
    } else {
        format!("{n} {many}")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn time(ms: i64) -> String {
        format!("t{ms}")
    }

    #[test]
    fn a_cell_keeps_its_row_and_its_column() {
        assert_eq!(cell("a|b"), "a\\|b");
        assert_eq!(cell("a\\|b"), "a\\\\\\|b");
        assert_eq!(cell("one\ntwo\r\nthree"), "one two  three");
        assert_eq!(cell("x\u{2028}y\u{2029}z"), "x y z");
        assert_eq!(cell("plain — text"), "plain — text");
    }

    #[test]
    fn an_orchestration_row_names_the_task_and_keeps_json_out() {
        let j = JournalLine {
            at_ms: 5,
            actor: "amp",
            action: "task-done",
            task: Some(TaskId(3)),
            target: "amp",
            result: "done",
            detail: "a | b",
        };
        assert_eq!(
            orchestration_row(&j, time),
            "| t5 | amp | task-done | T-003 amp | done: a \\| b |\n"
        );
        let j = JournalLine {
            task: None,
            detail: "{\"k\":1}",
            ..j
        };
        assert_eq!(
            orchestration_row(&j, time),
            "| t5 | amp | task-done | amp | done |\n"
        );
    }
}
