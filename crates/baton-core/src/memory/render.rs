//! Rendering the task tables that go between the markers, and reading back which store
//! they were rendered from.

use super::LOG_HEADING;
use super::NOTICE;
use super::QUEUE_HEADING;
use super::STORE_PREFIX;
use super::View;
use crate::render::plural;
use crate::render::push_cell;

/// Returns the identity of the store the region's inner text was rendered from, when it
/// names one (regions rendered before baton wrote it do not).
pub fn store_id(inner: &str) -> Option<&str> {
    inner.lines().find_map(|l| {
        l.trim()
            .strip_prefix(STORE_PREFIX)?
            .strip_suffix("-->")
            .map(str::trim)
            .filter(|id| !id.is_empty())
    })
}

/// Appends one table row built from `cells`.
fn push_row(out: &mut String, cells: &[&str]) {
    out.push('|');
    for cell in cells {
        out.push(' ');
        push_cell(out, cell);
        out.push_str(" |");
    }
    out.push('\n');
}

/// Renders the text that goes between the markers (ends with `\n`).
pub fn render(view: &View) -> String {
    let mut out = String::with_capacity(600 + 80 * (view.queue.len() + view.log.len()));
    out.push_str(NOTICE);
    if let Some(id) = &view.store {
        out.push('\n');
        out.push_str(STORE_PREFIX);
        // An identity is one word: nothing in it may close the comment or break the line.
        out.extend(
            id.chars()
                .filter(|c| c.is_ascii_alphanumeric() || *c == '-'),
        );
        out.push_str(" -->");
    }
    out.push_str("\n\n## ");
    out.push_str(QUEUE_HEADING);
    out.push_str("\n\n| ID | Task | Assigned To | Priority | Status | Created |\n");
    out.push_str("|----|------|-------------|----------|--------|---------|\n");
    for r in &view.queue {
        let id = r.id.to_string();
        let assignee = match r.assignee.as_deref() {
            None | Some("") => "-",
            Some(a) => a,
        };
        push_row(
            &mut out,
            &[
                &id,
                &r.title,
                assignee,
                r.priority.as_str(),
                r.status.as_str(),
                &r.created,
            ],
        );
    }
    if view.hidden_closed > 0 {
        out.push_str("\n_");
        out.push_str(&plural(
            view.hidden_closed,
            "older closed task is",
            "older closed tasks are",
        ));
        out.push_str(" not shown: baton task list --status COMPLETED_\n");
    }
    out.push_str("\n## ");
    out.push_str(LOG_HEADING);
    out.push_str("\n\n");
    // The note about hidden lines goes above the table, so that a line appended at the end of
    // the region still lands in the table.
    if view.hidden_log > 0 {
        out.push('_');
        out.push_str(&plural(
            view.hidden_log,
            "older log line is",
            "older log lines are",
        ));
        out.push_str(" not shown: baton log_\n\n");
    }
    out.push_str("| Date | Agent | ID | Status | Note |\n");
    out.push_str("|------|-------|----|--------|------|\n");
    for r in &view.log {
        let id = r.id.to_string();
        push_row(
            &mut out,
            &[&r.date, &r.agent, &id, r.status.as_str(), &r.note],
        );
    }
    out
}
