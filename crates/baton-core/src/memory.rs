//! The region of the shared memory file (CLAUDE.md) that baton owns: finding it, replacing it,
//! rendering the task tables into it, and reading back what people and agents changed there.
//!
//! Pure: text in, text out. Everything outside the two marker lines belongs to the user and is
//! never touched. The parser is tolerant of hand-written tables (column order, missing outer
//! pipes, status spellings) but never guesses: anything ambiguous is an error with a line number.

use std::collections::HashMap;
use std::ops::Range;

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

/// Byte ranges of a file split around the region (markers must each be alone on their line,
/// surrounding spaces allowed).
///
/// `before` is everything up to the `BEGIN` line, `inner` everything between the marker lines
/// (whole lines, terminators included), `after` everything following the `END` line's
/// terminator. The marker lines themselves lie between the ranges.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Split {
    /// The user's bytes before the `BEGIN` line.
    pub before: Range<usize>,
    /// The bytes between the marker lines.
    pub inner: Range<usize>,
    /// The user's bytes after the `END` line (and its line terminator).
    pub after: Range<usize>,
    /// The 1-based line number of the first inner line.
    pub inner_first_line: usize,
}

/// One line of text: where it starts, where its content ends, where the next line starts.
#[derive(Clone, Copy)]
struct LineSpan {
    start: usize,
    end: usize,
    next: usize,
}

/// Iterates the lines of `text`, `\n`-terminated (a last line without terminator counts).
fn line_spans(text: &str) -> impl Iterator<Item = LineSpan> + '_ {
    let mut pos = 0;
    std::iter::from_fn(move || {
        if pos >= text.len() {
            return None;
        }
        let start = pos;
        let rest = text.get(start..).unwrap_or("");
        match rest.find('\n') {
            Some(i) => {
                pos = start + i + 1;
                Some(LineSpan {
                    start,
                    end: start + i,
                    next: pos,
                })
            }
            None => {
                pos = text.len();
                Some(LineSpan {
                    start,
                    end: text.len(),
                    next: text.len(),
                })
            }
        }
    })
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Marker {
    Begin,
    End,
}

/// Which marker a line is, if it is one (alone on its line, surrounding whitespace allowed).
fn marker(line: &str, first: bool) -> Option<Marker> {
    let line = if first {
        line.trim_start_matches('\u{feff}')
    } else {
        line
    };
    match line.trim() {
        BEGIN => Some(Marker::Begin),
        END => Some(Marker::End),
        _ => None,
    }
}

/// Finds baton's region. `None` when the file has no marker at all; an error when there is only
/// one marker, when `END` comes before `BEGIN`, or when a marker appears twice.
pub fn split(text: &str) -> Result<Option<Split>, MemoryError> {
    // (line number, span) of each marker.
    let mut begins: Vec<(usize, LineSpan)> = Vec::new();
    let mut ends: Vec<(usize, LineSpan)> = Vec::new();
    for (i, span) in line_spans(text).enumerate() {
        let line = text.get(span.start..span.end).unwrap_or("");
        match marker(line, i == 0) {
            Some(Marker::Begin) => begins.push((i + 1, span)),
            Some(Marker::End) => ends.push((i + 1, span)),
            None => {}
        }
    }
    let again = |list: &[(usize, LineSpan)], what: &str| match (list.first(), list.get(1)) {
        (Some((first, _)), Some((second, _))) => Some(MemoryError::new(
            *second,
            format!("`{what}` appears again (first on line {first}): keep a single baton region"),
        )),
        _ => None,
    };
    let dup = match (again(&begins, BEGIN), again(&ends, END)) {
        (Some(a), Some(b)) => Some(if a.line <= b.line { a } else { b }),
        (a, b) => a.or(b),
    };
    if let Some(e) = dup {
        return Err(e);
    }
    match (begins.first(), ends.first()) {
        (None, None) => Ok(None),
        (Some((line, _)), None) => Err(MemoryError::new(
            *line,
            format!("`{BEGIN}` has no closing `{END}` line after it"),
        )),
        (None, Some((line, _))) => Err(MemoryError::new(
            *line,
            format!("`{END}` has no opening `{BEGIN}` line before it"),
        )),
        (Some((bl, b)), Some((el, e))) => {
            if el < bl {
                return Err(MemoryError::new(
                    *el,
                    format!("`{END}` comes before `{BEGIN}` (line {bl})"),
                ));
            }
            Ok(Some(Split {
                before: 0..b.start,
                inner: b.next..e.start,
                after: e.next..text.len(),
                inner_first_line: bl + 1,
            }))
        }
    }
}

/// True when the file's lines end with CRLF (judged by its first line ending).
fn uses_crlf(text: &str) -> bool {
    match text.find('\n') {
        Some(i) => text.get(..i).is_some_and(|s| s.ends_with('\r')),
        None => false,
    }
}

/// Returns `inner` ending with a line terminator (unless empty), in the file's line-ending style.
fn normalize_inner(inner: &str, crlf: bool) -> String {
    let mut out = String::with_capacity(inner.len() + inner.len() / 16 + 2);
    if crlf {
        let mut prev = '\0';
        for c in inner.chars() {
            if c == '\n' && prev != '\r' {
                out.push('\r');
            }
            out.push(c);
            prev = c;
        }
    } else {
        out.push_str(inner);
    }
    if !out.is_empty() && !out.ends_with('\n') {
        out.push_str(if crlf { "\r\n" } else { "\n" });
    }
    out
}

/// Replaces what is between the markers (marker lines kept), or appends a new region at the end
/// of a file that has none; the user's bytes never change.
///
/// `inner` gets a final line terminator if it lacks one, and its `\n` become `\r\n` when the file
/// uses CRLF. A new region is separated from the user's text by a blank line. Errors: the file's
/// markers are broken (see [`split`]), or `inner` holds a marker line (its line in `inner`).
pub fn splice(text: &str, inner: &str) -> Result<String, MemoryError> {
    if let Some(i) = inner.split('\n').position(|l| marker(l, false).is_some()) {
        return Err(MemoryError::new(
            i + 1,
            "the text to put between the markers contains a marker line",
        ));
    }
    let crlf = uses_crlf(text);
    let nl = if crlf { "\r\n" } else { "\n" };
    let inner = normalize_inner(inner, crlf);
    match split(text)? {
        Some(s) => {
            let head = text.get(..s.inner.start).unwrap_or("");
            let tail = text.get(s.inner.end..).unwrap_or("");
            let mut out = String::with_capacity(head.len() + inner.len() + tail.len());
            out.push_str(head);
            out.push_str(&inner);
            out.push_str(tail);
            Ok(out)
        }
        None => {
            let sep = if text.is_empty() {
                String::new()
            } else if let Some(body) = text.strip_suffix('\n') {
                // The last line is complete: add a blank line unless it is one.
                let last = body.rsplit('\n').next().unwrap_or("");
                if last.trim().is_empty() {
                    String::new()
                } else {
                    nl.to_owned()
                }
            } else {
                // The last line has no terminator: end it, then add a blank line unless it is one.
                let last = text.rsplit('\n').next().unwrap_or("");
                if last.trim().is_empty() {
                    nl.to_owned()
                } else {
                    format!("{nl}{nl}")
                }
            };
            let mut out = String::with_capacity(text.len() + inner.len() + 64);
            out.push_str(text);
            out.push_str(&sep);
            out.push_str(BEGIN);
            out.push_str(nl);
            out.push_str(&inner);
            out.push_str(END);
            out.push_str(nl);
            Ok(out)
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

/// Escapes a table cell: `|` → `\|`, `\` → `\\`, line breaks → a space.
fn escape_cell(out: &mut String, s: &str) {
    for c in s.chars() {
        match c {
            '|' => out.push_str("\\|"),
            '\\' => out.push_str("\\\\"),
            '\n' | '\r' | '\u{2028}' | '\u{2029}' => out.push(' '),
            _ => out.push(c),
        }
    }
}

/// Appends one table row built from `cells`.
fn push_row(out: &mut String, cells: &[&str]) {
    out.push('|');
    for cell in cells {
        out.push(' ');
        escape_cell(out, cell);
        out.push_str(" |");
    }
    out.push('\n');
}

/// "1 older closed task is" / "3 older closed tasks are".
fn plural(n: usize, one: &str, many: &str) -> String {
    if n == 1 {
        format!("{n} {one}")
    } else {
        format!("{n} {many}")
    }
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

/// The rows read from the region, each with its 1-based line in the file.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Parsed {
    /// Queue rows with their line numbers.
    pub queue: Vec<(usize, QueueRow)>,
    /// Log rows with their line numbers.
    pub log: Vec<(usize, LogRow)>,
}

#[derive(Clone, Copy, PartialEq, Eq, Debug)]
enum Section {
    Other,
    Queue,
    Log,
}

/// Column positions of a queue table.
#[derive(Clone, Copy, Debug)]
struct QueueCols {
    count: usize,
    id: usize,
    title: usize,
    assignee: Option<usize>,
    priority: Option<usize>,
    status: usize,
    created: Option<usize>,
}

/// Column positions of a log table.
#[derive(Clone, Copy, Debug)]
struct LogCols {
    count: usize,
    id: usize,
    status: usize,
    date: Option<usize>,
    agent: Option<usize>,
    note: Option<usize>,
}

#[derive(Clone, Copy, Debug)]
enum Header {
    Queue(QueueCols),
    Log(LogCols),
}

impl Header {
    fn count(&self) -> usize {
        match self {
            Header::Queue(c) => c.count,
            Header::Log(c) => c.count,
        }
    }
}

#[derive(Clone, Copy, Debug)]
enum Table {
    /// Not inside a table.
    Out,
    /// A header was read; the separator row must follow.
    Separator(Header),
    /// Reading rows.
    Rows(Header),
    /// A broken table: its lines are skipped until a blank line.
    Skip,
}

/// Splits a table line into trimmed, unescaped cells; `None` when it has no unescaped pipe.
fn split_cells(line: &str) -> Option<Vec<String>> {
    let t = line.trim();
    let mut cells = Vec::new();
    let mut cur = String::new();
    let mut pipes = 0usize;
    let mut ended_with_pipe = false;
    let mut chars = t.chars().peekable();
    while let Some(c) = chars.next() {
        ended_with_pipe = false;
        match c {
            '\\' => match chars.peek() {
                Some('|') => {
                    cur.push('|');
                    chars.next();
                }
                Some('\\') => {
                    cur.push('\\');
                    chars.next();
                }
                _ => cur.push('\\'),
            },
            '|' => {
                cells.push(std::mem::take(&mut cur));
                pipes += 1;
                ended_with_pipe = true;
            }
            _ => cur.push(c),
        }
    }
    cells.push(cur);
    if pipes == 0 {
        return None;
    }
    if ended_with_pipe {
        cells.pop();
    }
    let skip_first = usize::from(t.starts_with('|'));
    Some(
        cells
            .into_iter()
            .skip(skip_first)
            .map(|c| c.trim().to_owned())
            .collect(),
    )
}

/// True for a separator cell: `---`, `:---`, `---:`, `:---:`.
fn is_separator_cell(cell: &str) -> bool {
    let c = cell.trim();
    let c = c.strip_prefix(':').unwrap_or(c);
    let c = c.strip_suffix(':').unwrap_or(c);
    !c.is_empty() && c.bytes().all(|b| b == b'-')
}

/// True for a separator row (every cell a separator cell).
fn is_separator_row(cells: &[String]) -> bool {
    !cells.is_empty() && cells.iter().all(|c| is_separator_cell(c))
}

/// Removes Markdown emphasis and code marks around a cell (`**DONE**`, `` `T-001` ``).
fn strip_marks(s: &str) -> &str {
    s.trim_matches(|c| c == '*' || c == '_' || c == '`').trim()
}

/// A header cell reduced to lowercase words: `**Assigned_To**` → `assigned to`.
fn column_name(cell: &str) -> String {
    strip_marks(cell)
        .to_lowercase()
        .replace(['_', '-'], " ")
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

/// The heading text of a Markdown ATX heading line, if the line is one.
fn heading(line: &str) -> Option<&str> {
    let t = line.trim();
    let hashes = t.bytes().take_while(|&b| b == b'#').count();
    if hashes == 0 || hashes > 6 {
        return None;
    }
    let rest = t.get(hashes..)?;
    if !rest.is_empty() && !rest.starts_with([' ', '\t']) {
        return None;
    }
    Some(rest.trim().trim_end_matches('#').trim())
}

/// Which section a heading opens.
fn section_of(heading: &str) -> Section {
    let name = column_name(
        heading
            .trim_start_matches(|c: char| !c.is_alphanumeric())
            .trim_end_matches(':'),
    );
    if name == QUEUE_HEADING.to_lowercase() {
        Section::Queue
    } else if name == LOG_HEADING.to_lowercase() {
        Section::Log
    } else {
        Section::Other
    }
}

/// Sets `slot` to column `i`, or reports the column as duplicated.
fn take_column(slot: &mut Option<usize>, i: usize, cell: &str, dups: &mut Vec<String>) {
    if slot.is_some() {
        dups.push(cell.to_owned());
    } else {
        *slot = Some(i);
    }
}

/// Reads a header row for `section`; the error says which columns are missing or repeated.
fn read_header(section: Section, cells: &[String]) -> Result<Header, String> {
    let mut dups = Vec::new();
    match section {
        Section::Queue => {
            let (mut id, mut title, mut assignee, mut priority, mut status, mut created) =
                (None, None, None, None, None, None);
            for (i, cell) in cells.iter().enumerate() {
                let slot = match column_name(cell).as_str() {
                    "id" | "task id" => &mut id,
                    "task" | "title" => &mut title,
                    "assigned to" | "agent" | "assignee" => &mut assignee,
                    "priority" => &mut priority,
                    "status" => &mut status,
                    "created" | "created at" => &mut created,
                    _ => continue,
                };
                take_column(slot, i, cell, &mut dups);
            }
            check_dups(&dups)?;
            match (id, title, status) {
                (Some(id), Some(title), Some(status)) => Ok(Header::Queue(QueueCols {
                    count: cells.len(),
                    id,
                    title,
                    assignee,
                    priority,
                    status,
                    created,
                })),
                _ => Err(missing(
                    QUEUE_HEADING,
                    "ID, Task and Status",
                    &[("ID", id), ("Task", title), ("Status", status)],
                )),
            }
        }
        Section::Log | Section::Other => {
            let (mut id, mut status, mut date, mut agent, mut note) =
                (None, None, None, None, None);
            for (i, cell) in cells.iter().enumerate() {
                let slot = match column_name(cell).as_str() {
                    "id" | "task id" => &mut id,
                    "status" => &mut status,
                    "date" => &mut date,
                    "agent" => &mut agent,
                    "note" | "notes" => &mut note,
                    _ => continue,
                };
                take_column(slot, i, cell, &mut dups);
            }
            check_dups(&dups)?;
            match (id, status) {
                (Some(id), Some(status)) => Ok(Header::Log(LogCols {
                    count: cells.len(),
                    id,
                    status,
                    date,
                    agent,
                    note,
                })),
                _ => Err(missing(
                    LOG_HEADING,
                    "ID and Status",
                    &[("ID", id), ("Status", status)],
                )),
            }
        }
    }
}

/// The error for repeated columns, if any.
fn check_dups(dups: &[String]) -> Result<(), String> {
    match dups.first() {
        None => Ok(()),
        Some(d) => Err(format!(
            "the column `{d}` appears twice in the table header (keep one)"
        )),
    }
}

/// The error for a header without its required columns.
fn missing(table: &str, needs: &str, cols: &[(&str, Option<usize>)]) -> String {
    let absent: Vec<&str> = cols
        .iter()
        .filter(|(_, at)| at.is_none())
        .map(|(name, _)| *name)
        .collect();
    format!(
        "the {table} table needs the columns {needs}; missing: {}",
        absent.join(", ")
    )
}

/// The cell at `at`, or "" when the column is absent.
fn cell(cells: &[String], at: Option<usize>) -> &str {
    at.and_then(|i| cells.get(i)).map_or("", String::as_str)
}

/// Reads the ID cell.
fn read_id(cells: &[String], at: usize) -> Result<TaskId, String> {
    let raw = cell(cells, Some(at));
    strip_marks(raw)
        .parse::<TaskId>()
        .map_err(|_| format!("`{raw}` is not a task ID (expected T-001, T-002, …)"))
}

/// Reads the status cell; the error names the bad value and the allowed ones.
fn read_status(cells: &[String], at: usize) -> Result<Status, String> {
    let raw = cell(cells, Some(at));
    strip_marks(raw).parse::<Status>().map_err(|_| {
        format!("`{raw}` is not a status (PENDING, IN_PROGRESS, COMPLETED, BLOCKED, CANCELLED)")
    })
}

/// Reads the priority cell (MED when absent or empty).
fn read_priority(cells: &[String], at: Option<usize>) -> Result<Priority, String> {
    let raw = cell(cells, at);
    let s = strip_marks(raw);
    if s.is_empty() {
        return Ok(Priority::Med);
    }
    s.parse::<Priority>()
        .map_err(|_| format!("`{raw}` is not a priority (HIGH, MED or LOW)"))
}

/// The parser's state while it walks the region.
struct Parser {
    section: Section,
    table: Table,
    fence: Option<char>,
    in_comment: bool,
    queue_ids: HashMap<TaskId, usize>,
    parsed: Parsed,
    errors: Vec<MemoryError>,
}

impl Parser {
    fn error(&mut self, line: usize, message: impl Into<String>) {
        self.errors.push(MemoryError::new(line, message));
    }

    fn line(&mut self, raw: &str, line: usize) {
        let t = raw.trim();
        // Fenced code blocks and HTML comments are prose, and end a table.
        if let Some(f) = self.fence {
            let closes = t.chars().take(3).filter(|&c| c == f).count() == 3;
            if closes {
                self.fence = None;
            }
            return;
        }
        if self.in_comment {
            if t.contains("-->") {
                self.in_comment = false;
            }
            return;
        }
        if t.is_empty() {
            self.table = Table::Out;
            return;
        }
        if t.starts_with("```") || t.starts_with("~~~") {
            self.fence = t.chars().next();
            self.table = Table::Out;
            return;
        }
        if let Some(rest) = t.strip_prefix("<!--") {
            self.in_comment = !rest.contains("-->");
            self.table = Table::Out;
            return;
        }
        if let Some(h) = heading(t) {
            self.section = section_of(h);
            self.table = Table::Out;
            return;
        }
        if self.section == Section::Other {
            return;
        }
        let cells = split_cells(t);
        match self.table {
            Table::Skip => {}
            Table::Out => {
                if let Some(cells) = cells {
                    self.header(&cells, line);
                }
            }
            Table::Separator(h) => match cells {
                Some(cells) if is_separator_row(&cells) => {
                    if cells.len() == h.count() {
                        self.table = Table::Rows(h);
                    } else {
                        self.error(
                            line,
                            format!(
                                "the separator row has {} cells but the header has {}",
                                cells.len(),
                                h.count()
                            ),
                        );
                        self.table = Table::Skip;
                    }
                }
                _ => {
                    self.error(
                        line,
                        "the table header must be followed by a separator row like |----|----|",
                    );
                    self.table = Table::Skip;
                }
            },
            Table::Rows(h) => match cells {
                Some(cells) => self.row(h, &cells, line),
                None => self.error(
                    line,
                    "this line is inside a table but is not a table row (rows look like \
                     `| T-001 | … |`; a blank line ends a table)",
                ),
            },
        }
    }

    fn header(&mut self, cells: &[String], line: usize) {
        if cells
            .first()
            .is_some_and(|c| strip_marks(c).parse::<TaskId>().is_ok())
        {
            self.error(
                line,
                "this row is not part of a table: a blank line ends a table, so put the row \
                 right under the others",
            );
            self.table = Table::Skip;
            return;
        }
        match read_header(self.section, cells) {
            Ok(h) => self.table = Table::Separator(h),
            Err(message) => {
                self.error(line, message);
                self.table = Table::Skip;
            }
        }
    }

    fn row(&mut self, header: Header, cells: &[String], line: usize) {
        if cells.iter().all(|c| c.is_empty()) {
            return;
        }
        if is_separator_row(cells) {
            self.error(line, "a separator row in the middle of a table");
            return;
        }
        let id_at = match header {
            Header::Queue(c) => c.id,
            Header::Log(c) => c.id,
        };
        let id = read_id(cells, id_at);
        let prefix = id.as_ref().map(|id| format!("{id}: ")).unwrap_or_default();
        if cells.len() != header.count() {
            self.error(
                line,
                format!(
                    "{prefix}the row has {} cells but the header has {} (write a `|` inside a \
                     cell as `\\|`)",
                    cells.len(),
                    header.count()
                ),
            );
            return;
        }
        let id = self.check(line, "", id);
        match header {
            Header::Queue(c) => {
                let status = self.check(line, &prefix, read_status(cells, c.status));
                let priority = self.check(line, &prefix, read_priority(cells, c.priority));
                let Some(id) = id else { return };
                if let Some(&first) = self.queue_ids.get(&id) {
                    self.error(
                        line,
                        format!(
                            "{id} appears twice in the {QUEUE_HEADING} (first on line {first})"
                        ),
                    );
                    return;
                }
                self.queue_ids.insert(id, line);
                let (Some(status), Some(priority)) = (status, priority) else {
                    return;
                };
                let assignee = match cell(cells, c.assignee) {
                    "" | "-" | "—" | "–" => None,
                    a => Some(a.to_owned()),
                };
                self.parsed.queue.push((
                    line,
                    QueueRow {
                        id,
                        title: cell(cells, Some(c.title)).to_owned(),
                        assignee,
                        priority,
                        status,
                        created: cell(cells, c.created).to_owned(),
                    },
                ));
            }
            Header::Log(c) => {
                let status = self.check(line, &prefix, read_status(cells, c.status));
                if let (Some(id), Some(status)) = (id, status) {
                    self.parsed.log.push((
                        line,
                        LogRow {
                            date: cell(cells, c.date).to_owned(),
                            agent: cell(cells, c.agent).to_owned(),
                            id,
                            status,
                            note: cell(cells, c.note).to_owned(),
                        },
                    ));
                }
            }
        }
    }

    /// Records the error of `r`, if any, prefixed with the row's ID.
    fn check<T>(&mut self, line: usize, prefix: &str, r: Result<T, String>) -> Option<T> {
        match r {
            Ok(v) => Some(v),
            Err(e) => {
                self.error(line, format!("{prefix}{e}"));
                None
            }
        }
    }
}

/// Reads the queue and log tables from the region's inner text; `first_line` is the file line
/// of its first line. Every problem found is returned, in line order.
pub fn parse(inner: &str, first_line: usize) -> Result<Parsed, Vec<MemoryError>> {
    let mut p = Parser {
        section: Section::Other,
        table: Table::Out,
        fence: None,
        in_comment: false,
        queue_ids: HashMap::new(),
        parsed: Parsed::default(),
        errors: Vec::new(),
    };
    for (i, raw) in inner.split('\n').enumerate() {
        p.line(raw, first_line.saturating_add(i));
    }
    if p.errors.is_empty() {
        Ok(p.parsed)
    } else {
        p.errors.sort_by_key(|e| e.line);
        Err(p.errors)
    }
}

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

#[cfg(test)]
mod tests {
    use super::*;

    fn q(id: u32, title: &str, assignee: Option<&str>, p: Priority, s: Status) -> QueueRow {
        QueueRow {
            id: TaskId(id),
            title: title.to_owned(),
            assignee: assignee.map(str::to_owned),
            priority: p,
            status: s,
            created: "2026-11-21 05:40".to_owned(),
        }
    }

    fn l(id: u32, agent: &str, s: Status, note: &str) -> LogRow {
        LogRow {
            date: "2026-11-21 05:50".to_owned(),
            agent: agent.to_owned(),
            id: TaskId(id),
            status: s,
            note: note.to_owned(),
        }
    }

    fn sample_view() -> View {
        View {
            queue: vec![
                QueueRow {
                    created: "2026-11-21 05:40".into(),
                    ..q(
                        1,
                        "Build the parser",
                        Some("claude"),
                        Priority::High,
                        Status::InProgress,
                    )
                },
                QueueRow {
                    created: "2026-11-21 05:41".into(),
                    ..q(2, "Write docs", None, Priority::Med, Status::Pending)
                },
            ],
            hidden_closed: 3,
            log: vec![l(1, "claude", Status::Completed, "tests pass")],
            hidden_log: 0,
            store: None,
        }
    }

    const SAMPLE_INNER: &str = "<!-- Managed by baton: change a task's Status here (PENDING, IN_PROGRESS, COMPLETED, BLOCKED, CANCELLED) or add a line to the Task Completion Log, and baton applies it. Prefer the report command your task prompt gives (baton task done T-XXX --note \"…\", baton named by its full path when a login shell would not find it) -->

## Task Assignment Queue

| ID | Task | Assigned To | Priority | Status | Created |
|----|------|-------------|----------|--------|---------|
| T-001 | Build the parser | claude | HIGH | IN_PROGRESS | 2026-11-21 05:40 |
| T-002 | Write docs | - | MED | PENDING | 2026-11-21 05:41 |

_3 older closed tasks are not shown: baton task list --status COMPLETED_

## Task Completion Log

| Date | Agent | ID | Status | Note |
|------|-------|----|--------|------|
| 2026-11-21 05:50 | claude | T-001 | COMPLETED | tests pass |
";

    /// The inner text of `text`'s region and its first line.
    fn inner_of(text: &str) -> (&str, usize) {
        let s = split(text).unwrap().unwrap();
        (&text[s.inner.clone()], s.inner_first_line)
    }

    fn parse_ok(inner: &str) -> Parsed {
        match parse(inner, 1) {
            Ok(p) => p,
            Err(e) => panic!("unexpected errors: {e:?}"),
        }
    }

    fn parse_err(inner: &str, first_line: usize) -> Vec<String> {
        match parse(inner, first_line) {
            Ok(p) => panic!("expected errors, got {p:?}"),
            Err(e) => e.iter().map(ToString::to_string).collect(),
        }
    }

    fn rows(p: &Parsed) -> Vec<QueueRow> {
        p.queue.iter().map(|(_, r)| r.clone()).collect()
    }

    fn logs(p: &Parsed) -> Vec<LogRow> {
        p.log.iter().map(|(_, r)| r.clone()).collect()
    }

    const QUEUE_HEAD: &str = "## Task Assignment Queue\n\n\
        | ID | Task | Assigned To | Priority | Status | Created |\n\
        |----|------|-------------|----------|--------|---------|\n";

    // ---- render ----

    #[test]
    fn render_matches_the_documented_region() {
        assert_eq!(render(&sample_view()), SAMPLE_INNER);
    }

    #[test]
    fn render_hidden_lines_and_singulars() {
        let mut v = sample_view();
        v.hidden_closed = 0;
        assert!(!render(&v).contains("older closed"));
        v.hidden_closed = 1;
        assert!(render(&v).contains(
            "\n_1 older closed task is not shown: baton task list --status COMPLETED_\n"
        ));
        v.hidden_log = 4;
        let out = render(&v);
        assert!(out.contains("\n_4 older log lines are not shown: baton log_\n"));
        assert!(out.ends_with("| 2026-11-21 05:50 | claude | T-001 | COMPLETED | tests pass |\n"));
        v.hidden_log = 1;
        assert!(render(&v).contains("\n_1 older log line is not shown: baton log_\n"));
        assert_eq!(rows(&parse_ok(&render(&v))), v.queue);
        assert_eq!(logs(&parse_ok(&render(&v))), v.log);
    }

    #[test]
    fn render_empty_view_parses_to_nothing() {
        let out = render(&View::default());
        assert!(out.ends_with("|------|-------|----|--------|------|\n"));
        assert_eq!(parse_ok(&out), Parsed::default());
    }

    #[test]
    fn render_escapes_cells() {
        let v = View {
            queue: vec![q(7, "a|b\\c\nd", Some(""), Priority::Low, Status::Blocked)],
            ..View::default()
        };
        let out = render(&v);
        assert!(
            out.contains("| T-007 | a\\|b\\\\c d | - | LOW | BLOCKED |"),
            "{out}"
        );
    }

    #[test]
    fn render_parse_round_trip() {
        let titles = [
            "plain",
            "pipe | in | title",
            "back\\slash and \\| both",
            "ends with backslash\\",
            "\\\\double\\\\",
            "||",
            "unicode: déjà vu — 東京 «ok»",
            "emoji 🚀✅ ❌ title 👩‍💻",
            "`code | span` and **bold**",
            "T-999 mentioned | COMPLETED",
            "<!-- baton:tasks -->",
            "<!-- /baton:tasks -->",
            "## Task Completion Log",
        ];
        let queue: Vec<QueueRow> = titles
            .iter()
            .enumerate()
            .map(|(i, t)| QueueRow {
                assignee: if i % 2 == 0 {
                    None
                } else {
                    Some(format!("agent|{i}\\x 🤖"))
                },
                created: if i % 3 == 0 {
                    String::new()
                } else {
                    format!("c|{i}")
                },
                ..q(
                    i as u32 + 1,
                    t,
                    None,
                    [Priority::High, Priority::Med, Priority::Low][i % 3],
                    Status::ALL[i % 5],
                )
            })
            .collect();
        let log: Vec<LogRow> = titles
            .iter()
            .enumerate()
            .map(|(i, t)| LogRow {
                date: format!("d|{i}"),
                ..l(i as u32 + 1, t, Status::ALL[(i + 2) % 5], t)
            })
            .collect();
        let v = View {
            queue,
            hidden_closed: 2,
            log,
            hidden_log: 9,
            store: None,
        };
        let inner = render(&v);
        let p = parse_ok(&inner);
        assert_eq!(rows(&p), v.queue);
        assert_eq!(logs(&p), v.log);
        // Line numbers count from first_line.
        let p = parse(&inner, 40).unwrap();
        let (line, row) = &p.queue[0];
        assert_eq!(row.id, TaskId(1));
        assert_eq!(
            inner.lines().nth(line - 40).unwrap().trim(),
            {
                let mut s = String::from("|");
                for c in ["T-001", "plain", "-", "HIGH", "PENDING", ""] {
                    s.push(' ');
                    s.push_str(c);
                    s.push_str(" |");
                }
                s.replace("|  |", "| |").trim().to_owned()
            }
            .replace("| |", "|  |")
        );
        // A file round trip through splice and split gives the same rows.
        let file = splice("# Notes\r\nuser text\r\n", &inner).unwrap();
        let (inner2, first) = inner_of(&file);
        let p2 = parse(inner2, first).unwrap();
        assert_eq!(rows(&p2), v.queue);
        assert_eq!(logs(&p2), v.log);
        let (changes, warnings) = diff(&parse(&inner, first).unwrap(), &p2);
        assert!(changes.is_empty() && warnings.is_empty());
    }

    #[test]
    fn newlines_in_cells_become_spaces() {
        let v = View {
            log: vec![l(3, "a\r\nb", Status::Completed, "line1\nline2")],
            ..View::default()
        };
        let p = parse_ok(&render(&v));
        assert_eq!(p.log[0].1.agent, "a  b");
        assert_eq!(p.log[0].1.note, "line1 line2");
    }

    // ---- split / splice ----

    #[test]
    fn split_finds_the_region() {
        let text =
            "top\n  <!-- baton:tasks -->  \ninner 1\ninner 2\n\t<!-- /baton:tasks -->\nbottom\n";
        let s = split(text).unwrap().unwrap();
        assert_eq!(&text[s.before.clone()], "top\n");
        assert_eq!(&text[s.inner.clone()], "inner 1\ninner 2\n");
        assert_eq!(&text[s.after.clone()], "bottom\n");
        assert_eq!(s.inner_first_line, 3);
        // Empty region.
        let text = "<!-- baton:tasks -->\n<!-- /baton:tasks -->";
        let s = split(text).unwrap().unwrap();
        assert_eq!(s.before, 0..0);
        assert_eq!(s.inner, 21..21);
        assert_eq!(s.after, text.len()..text.len());
        assert_eq!(s.inner_first_line, 2);
        // BOM before the first marker, CRLF.
        let text = "\u{feff}<!-- baton:tasks -->\r\nx\r\n<!-- /baton:tasks -->\r\n";
        let s = split(text).unwrap().unwrap();
        assert_eq!(&text[s.inner], "x\r\n");
    }

    #[test]
    fn split_without_markers() {
        assert_eq!(split(""), Ok(None));
        assert_eq!(split("# hello\nworld"), Ok(None));
        // Markers not alone on their line are not markers.
        assert_eq!(
            split("see `<!-- baton:tasks -->` and <!-- /baton:tasks --> here\n"),
            Ok(None)
        );
        assert_eq!(split("<!-- baton:tasks --> x\n"), Ok(None));
    }

    #[test]
    fn split_errors() {
        let e = split("a\n<!-- baton:tasks -->\nb\n").unwrap_err();
        assert_eq!(e.line, 2);
        assert!(e.to_string().starts_with("line 2: "), "{e}");
        assert!(e.message.contains("no closing"), "{e}");

        let e = split("a\nb\n<!-- /baton:tasks -->").unwrap_err();
        assert_eq!(e.line, 3);
        assert!(e.message.contains("no opening"), "{e}");

        let e = split("<!-- /baton:tasks -->\nx\n<!-- baton:tasks -->\n").unwrap_err();
        assert_eq!(e.line, 1);
        assert!(e.message.contains("comes before"), "{e}");

        let e = split("<!-- baton:tasks -->\nx\n<!-- baton:tasks -->\n<!-- /baton:tasks -->\n")
            .unwrap_err();
        assert_eq!(e.line, 3);
        assert!(e.message.contains("appears again (first on line 1)"), "{e}");

        let e = split("<!-- baton:tasks -->\n<!-- /baton:tasks -->\n\n<!-- /baton:tasks -->\n")
            .unwrap_err();
        assert_eq!(e.line, 4);
        assert!(e.message.contains(END), "{e}");

        // Two whole regions: the first repeated marker is reported.
        let two = "<!-- baton:tasks -->\n<!-- /baton:tasks -->\n<!-- baton:tasks -->\n<!-- /baton:tasks -->\n";
        assert_eq!(split(two).unwrap_err().line, 3);
        // splice refuses to touch a broken file.
        assert!(splice("<!-- baton:tasks -->\n", "x\n").is_err());
    }

    /// Asserts that `out` keeps the bytes of `text` outside the region, and holds `inner`.
    fn assert_spliced(text: &str, out: &str, inner: &str) {
        let s = split(out).unwrap().unwrap();
        if let Some(old) = split(text).unwrap() {
            assert_eq!(&out[s.before.clone()], &text[old.before]);
            assert_eq!(&out[s.after.clone()], &text[old.after]);
        } else {
            assert!(out.starts_with(text));
        }
        assert_eq!(out[s.inner].replace("\r\n", "\n"), inner);
    }

    #[test]
    fn splice_replaces_between_the_markers() {
        let inner = render(&sample_view());
        let text = "# Project\n\nRules.\n\n<!-- baton:tasks -->\nold stuff\n<!-- /baton:tasks -->\n\nMore rules.\n";
        let out = splice(text, &inner).unwrap();
        assert_eq!(
            out,
            format!(
                "# Project\n\nRules.\n\n<!-- baton:tasks -->\n{inner}<!-- /baton:tasks -->\n\nMore rules.\n"
            )
        );
        assert_spliced(text, &out, &inner);
        // Splicing again is a no-op; splicing the inner text back gives the file back.
        assert_eq!(splice(&out, &inner).unwrap(), out);
        let (cur, _) = inner_of(text);
        assert_eq!(splice(text, cur).unwrap(), text);
    }

    #[test]
    fn splice_keeps_marker_lines_as_they_are() {
        let text = "x\n   <!-- baton:tasks -->\t\nold\n <!-- /baton:tasks -->";
        let out = splice(text, "new\n").unwrap();
        assert_eq!(
            out,
            "x\n   <!-- baton:tasks -->\t\nnew\n <!-- /baton:tasks -->"
        );
    }

    #[test]
    fn splice_crlf_file() {
        let text = "# Title\r\n\r\n<!-- baton:tasks -->\r\nold\r\n<!-- /baton:tasks -->\r\ntail\r\nno final newline";
        let out = splice(text, "a\nb\n").unwrap();
        assert_eq!(
            out,
            "# Title\r\n\r\n<!-- baton:tasks -->\r\na\r\nb\r\n<!-- /baton:tasks -->\r\ntail\r\nno final newline"
        );
        assert_spliced(text, &out, "a\nb\n");
        // The parsed content survives CRLF.
        let out = splice(text, SAMPLE_INNER).unwrap();
        let (inner, first) = inner_of(&out);
        let p = parse(inner, first).unwrap();
        assert_eq!(rows(&p), sample_view().queue);
        assert_eq!(p.queue[0].0, 10);
        assert_eq!(
            out.split('\n').nth(9),
            Some("| T-001 | Build the parser | claude | HIGH | IN_PROGRESS | 2026-11-21 05:40 |\r")
        );
    }

    #[test]
    fn splice_appends_a_region() {
        let inner = "x\n";
        let cases = [
            ("", "<!-- baton:tasks -->\nx\n<!-- /baton:tasks -->\n"),
            (
                "a\n",
                "a\n\n<!-- baton:tasks -->\nx\n<!-- /baton:tasks -->\n",
            ),
            (
                "a\n\n",
                "a\n\n<!-- baton:tasks -->\nx\n<!-- /baton:tasks -->\n",
            ),
            (
                "a\n  \n",
                "a\n  \n<!-- baton:tasks -->\nx\n<!-- /baton:tasks -->\n",
            ),
            ("a", "a\n\n<!-- baton:tasks -->\nx\n<!-- /baton:tasks -->\n"),
            (
                "a\n ",
                "a\n \n<!-- baton:tasks -->\nx\n<!-- /baton:tasks -->\n",
            ),
            ("\n", "\n<!-- baton:tasks -->\nx\n<!-- /baton:tasks -->\n"),
            (
                "a\r\nb\r\n",
                "a\r\nb\r\n\r\n<!-- baton:tasks -->\r\nx\r\n<!-- /baton:tasks -->\r\n",
            ),
            (
                "a\r\nb",
                "a\r\nb\r\n\r\n<!-- baton:tasks -->\r\nx\r\n<!-- /baton:tasks -->\r\n",
            ),
            (
                "a\r\n\r\n",
                "a\r\n\r\n<!-- baton:tasks -->\r\nx\r\n<!-- /baton:tasks -->\r\n",
            ),
            (
                "\u{feff}# T",
                "\u{feff}# T\n\n<!-- baton:tasks -->\nx\n<!-- /baton:tasks -->\n",
            ),
        ];
        for (text, want) in cases {
            let out = splice(text, inner).unwrap();
            assert_eq!(out, want, "{text:?}");
            assert!(out.starts_with(text));
            assert_spliced(text, &out, inner);
        }
        // An inner text without a final newline still leaves END alone on its line.
        assert_eq!(
            splice("", "x").unwrap(),
            "<!-- baton:tasks -->\nx\n<!-- /baton:tasks -->\n"
        );
        assert_eq!(
            splice("", "").unwrap(),
            "<!-- baton:tasks -->\n<!-- /baton:tasks -->\n"
        );
    }

    #[test]
    fn splice_region_at_top_and_bottom() {
        let top = "<!-- baton:tasks -->\nold\n<!-- /baton:tasks -->\nuser\n";
        let out = splice(top, "new\n").unwrap();
        assert_eq!(
            out,
            "<!-- baton:tasks -->\nnew\n<!-- /baton:tasks -->\nuser\n"
        );
        assert_spliced(top, &out, "new\n");

        let bottom = "user\n<!-- baton:tasks -->\nold\n<!-- /baton:tasks -->";
        let out = splice(bottom, "new\n").unwrap();
        assert_eq!(
            out,
            "user\n<!-- baton:tasks -->\nnew\n<!-- /baton:tasks -->"
        );
        assert_spliced(bottom, &out, "new\n");

        let only = "<!-- baton:tasks -->\n<!-- /baton:tasks -->\n";
        let out = splice(only, SAMPLE_INNER).unwrap();
        assert_eq!(out, format!("{BEGIN}\n{SAMPLE_INNER}{END}\n"));
    }

    // ---- parse: errors ----

    #[test]
    fn parse_reports_every_error_with_its_line() {
        let inner = format!(
            "{QUEUE_HEAD}\
             | T-001 | ok | - | HIGH | PENDING | x |\n\
             | T-002 | too few | - | HIGH | PENDING |\n\
             | T-0x9 | bad id | - | HIGH | PENDING | x |\n\
             | T-003 | bad status | - | HIGH | COMPLETD | x |\n\
             | T-004 | bad priority | - | URGENT | PENDING | x |\n\
             | T-001 | dup | - | HIGH | PENDING | x |\n\
             T-005 broken row without pipes\n\
             | T-006 | two bad | - | URGENT | NOPE | x |\n\
             \n\
             ## Task Completion Log\n\
             \n\
             | Date | Agent | Status | Note |\n\
             |---|---|---|---|\n"
        );
        let errs = parse_err(&inner, 10);
        assert_eq!(
            errs,
            vec![
                "line 15: T-002: the row has 5 cells but the header has 6 (write a `|` inside a cell as `\\|`)",
                "line 16: `T-0x9` is not a task ID (expected T-001, T-002, …)",
                "line 17: T-003: `COMPLETD` is not a status (PENDING, IN_PROGRESS, COMPLETED, BLOCKED, CANCELLED)",
                "line 18: T-004: `URGENT` is not a priority (HIGH, MED or LOW)",
                "line 19: T-001 appears twice in the Task Assignment Queue (first on line 14)",
                "line 20: this line is inside a table but is not a table row (rows look like `| T-001 | … |`; a blank line ends a table)",
                "line 21: T-006: `NOPE` is not a status (PENDING, IN_PROGRESS, COMPLETED, BLOCKED, CANCELLED)",
                "line 21: T-006: `URGENT` is not a priority (HIGH, MED or LOW)",
                "line 25: the Task Completion Log table needs the columns ID and Status; missing: ID",
            ]
        );
    }

    #[test]
    fn parse_structural_errors() {
        // No separator row.
        let e = parse_err(
            "## Task Assignment Queue\n| ID | Task | Status |\n| T-001 | a | PENDING |\n",
            5,
        );
        assert_eq!(
            e,
            vec!["line 7: the table header must be followed by a separator row like |----|----|"]
        );
        // Separator with the wrong number of cells.
        let e = parse_err(
            "## Task Assignment Queue\n| ID | Task | Status |\n|---|---|\n",
            1,
        );
        assert_eq!(
            e,
            vec!["line 3: the separator row has 2 cells but the header has 3"]
        );
        // Required columns missing.
        let e = parse_err("# task assignment queue\n| ID | Owner |\n|---|---|\n", 1);
        assert_eq!(
            e,
            vec![
                "line 2: the Task Assignment Queue table needs the columns ID, Task and Status; missing: Task, Status"
            ]
        );
        // A column twice.
        let e = parse_err(
            "## Task Assignment Queue\n| ID | Task | Title | Status |\n|-|-|-|-|\n",
            1,
        );
        assert_eq!(
            e,
            vec!["line 2: the column `Title` appears twice in the table header (keep one)"]
        );
        // A row after a blank line.
        let e = parse_err(
            &format!(
                "{QUEUE_HEAD}| T-001 | a | - | LOW | PENDING | |\n\n| T-002 | b | - | LOW | PENDING | |\n"
            ),
            1,
        );
        assert_eq!(e.len(), 1);
        assert!(
            e[0].starts_with("line 7: this row is not part of a table"),
            "{e:?}"
        );
        // A separator row in the middle.
        let e = parse_err(&format!("{QUEUE_HEAD}|---|---|---|---|---|---|\n"), 1);
        assert_eq!(e, vec!["line 5: a separator row in the middle of a table"]);
        // A log row with a bad status and one with a bad ID.
        let e = parse_err(
            "## Task Completion Log\n| Date | Agent | ID | Status | Note |\n|-|-|-|-|-|\n| d | a | T-1 | FINISHED | n |\n| d | a | X | DONE | n |\n",
            100,
        );
        assert_eq!(
            e,
            vec![
                "line 103: T-001: `FINISHED` is not a status (PENDING, IN_PROGRESS, COMPLETED, BLOCKED, CANCELLED)",
                "line 104: `X` is not a task ID (expected T-001, T-002, …)",
            ]
        );
        // An unescaped pipe in a title changes the cell count.
        let e = parse_err(
            &format!("{QUEUE_HEAD}| T-001 | a | b | - | LOW | PENDING | |\n"),
            1,
        );
        assert!(e[0].starts_with("line 5: T-001: the row has 7 cells but the header has 6"));
    }

    #[test]
    fn error_messages_display_with_the_line() {
        let e = MemoryError::new(12, "boom");
        assert_eq!(e.to_string(), "line 12: boom");
    }

    // ---- parse: tolerance ----

    #[test]
    fn parse_tolerates_hand_written_tables() {
        let inner = "\
Some prose | with a pipe before any heading.

### TASK ASSIGNMENT QUEUE

Status | ID | Notes | **Title** | Agent
:---: | --- | --- | :--- | ---:
in progress | T-1 | x | Build it | amp (w4)
✅ Done | t-2 | y | Ship it | -
**DONE** | `T-003` | | Third | —
🔄 wip | T004 | | Fourth | Codex

#### Task Completion Log ##
| ID | Status | Notes | Agent | Extra | Date |
|----|--------|-------|-------|-------|------|
| T-001 | ✅ COMPLETED | all good \\| really | amp | ? | 2026-01-27 |
| T-002 | done | | codex | | |

## Something else

| not | a | task | table |
|---|---|---|---|
| whatever | at | all | here |
";
        let p = parse_ok(inner);
        let r = rows(&p);
        assert_eq!(r.len(), 4);
        assert_eq!(r[0].id, TaskId(1));
        assert_eq!(r[0].status, Status::InProgress);
        assert_eq!(r[0].title, "Build it");
        assert_eq!(r[0].assignee.as_deref(), Some("amp (w4)"));
        assert_eq!(r[0].priority, Priority::Med);
        assert_eq!(r[0].created, "");
        assert_eq!(r[1].status, Status::Completed);
        assert_eq!(r[1].assignee, None);
        assert_eq!(
            (r[2].id, r[2].status, r[2].assignee.clone()),
            (TaskId(3), Status::Completed, None)
        );
        assert_eq!((r[3].id, r[3].status), (TaskId(4), Status::InProgress));
        assert_eq!(p.queue[0].0, 7);
        let g = logs(&p);
        assert_eq!(
            g,
            vec![
                LogRow {
                    date: "2026-01-27".into(),
                    agent: "amp".into(),
                    id: TaskId(1),
                    status: Status::Completed,
                    note: "all good | really".into(),
                },
                LogRow {
                    date: String::new(),
                    agent: "codex".into(),
                    id: TaskId(2),
                    status: Status::Completed,
                    note: String::new(),
                },
            ]
        );
        assert_eq!(p.log[1].0, 16);
    }

    #[test]
    fn parse_the_workflow_table() {
        let inner = "## Task Assignment Queue
| ID | Task | Assigned To | Priority | Status | Created |
|----|------|-------------|----------|--------|---------|
| T-001 | Créer /tmp/test-amp.txt avec \"Hello from AMP\" | AMP (w4) | LOW | IN_PROGRESS | 2026-01-27 |
| T-005 | Lister agents_library/ → /tmp/amp-ls.txt | AMP (w4) | LOW | IN_PROGRESS | 2026-01-27 |
";
        let r = rows(&parse_ok(inner));
        assert_eq!(r.len(), 2);
        assert_eq!(r[1].title, "Lister agents_library/ → /tmp/amp-ls.txt");
        assert_eq!(r[1].priority, Priority::Low);
    }

    #[test]
    fn parse_missing_sections_and_ignored_prose() {
        assert_eq!(parse_ok(""), Parsed::default());
        assert_eq!(
            parse_ok("just words\n\n_3 older closed tasks_\n"),
            Parsed::default()
        );
        // Only the log.
        let p = parse_ok(
            "## Task Completion Log\n\n_2 older log lines are not shown: baton log_\n\n| ID | Status |\n|--|--|\n| T-9 | DONE |\n",
        );
        assert!(p.queue.is_empty());
        assert_eq!(p.log[0].1.id, TaskId(9));
        assert_eq!(p.log[0].1.agent, "");
        // Comments (one or several lines) and fenced blocks are skipped, even with pipes.
        let inner = format!(
            "<!-- a | b -->\n<!--\n| ID | x |\n-->\n{QUEUE_HEAD}| T-001 | a | - | LOW | PENDING | |\n\n```\n| T-002 | b |\n```\n"
        );
        assert_eq!(rows(&parse_ok(&inner)).len(), 1);
        // Empty rows are skipped; CRLF lines parse.
        let inner =
            format!("{QUEUE_HEAD}|  |  |  |  |  |  |\n| T-001 | a | - | LOW | PENDING | |\r\n")
                .replace('\n', "\r\n");
        let p = parse_ok(&inner);
        assert_eq!(p.queue.len(), 1);
        assert_eq!(p.queue[0].1.created, "");
        // A heading right under a table ends it.
        let inner = format!("{QUEUE_HEAD}| T-001 | a | - | LOW | PENDING | |\n# Other\nprose\n");
        assert_eq!(parse_ok(&inner).queue.len(), 1);
    }

    #[test]
    fn parse_never_panics_on_odd_input() {
        let alphabet: Vec<&str> = vec![
            "|",
            "\\",
            "\n",
            "\r\n",
            " ",
            "-",
            ":",
            "#",
            "## Task Assignment Queue\n",
            "## Task Completion Log\n",
            "| ID | Task | Status |\n",
            "|---|---|---|\n",
            "T-001",
            "T-0",
            "DONE",
            "é",
            "🚀",
            "\u{feff}",
            "`",
            "```\n",
            "<!--",
            "-->",
            BEGIN,
            END,
            "\t",
            "*",
            "_",
            "\u{2028}",
        ];
        let mut seed: u64 = 0x2545_f491_4f6c_dd1d;
        for _ in 0..3000 {
            let mut s = String::new();
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            let n = (seed % 40) as usize;
            for _ in 0..n {
                seed ^= seed << 13;
                seed ^= seed >> 7;
                seed ^= seed << 17;
                s.push_str(alphabet[(seed % alphabet.len() as u64) as usize]);
            }
            let _ = parse(&s, usize::MAX - 3);
            for inner in [s.as_str(), SAMPLE_INNER, ""] {
                if let Ok(out) = splice(&s, inner) {
                    let sp = split(&out).unwrap().unwrap();
                    assert_eq!(out[sp.inner].replace("\r\n", "\n"), {
                        let n = inner.replace("\r\n", "\n");
                        if n.is_empty() || n.ends_with('\n') {
                            n
                        } else {
                            n + "\n"
                        }
                    });
                }
            }
            if let Ok(Some(sp)) = split(&s) {
                assert!(s.get(sp.before.clone()).is_some());
                assert!(s.get(sp.inner.clone()).is_some());
                assert!(s.get(sp.after.clone()).is_some());
            }
        }
    }

    // ---- diff ----

    fn file_with(view: &View, edit: impl Fn(&str) -> String) -> (Parsed, Parsed) {
        let text = splice("# Mine\n", &render(view)).unwrap();
        let (inner, first) = inner_of(&text);
        let base = parse(inner, first).unwrap();
        let edited_text = edit(&text);
        let (inner, first) = inner_of(&edited_text);
        let edited = parse(inner, first).unwrap();
        (base, edited)
    }

    #[test]
    fn diff_status_change() {
        let (base, edited) = file_with(&sample_view(), |t| {
            t.replace(
                "| T-001 | Build the parser | claude | HIGH | IN_PROGRESS |",
                "| T-001 | Build the parser | claude | HIGH | ✅ Done |",
            )
        });
        let (changes, warnings) = diff(&base, &edited);
        assert_eq!(
            changes,
            vec![Change::Status {
                id: TaskId(1),
                from: Status::InProgress,
                to: Status::Completed,
                line: 10,
            }]
        );
        assert!(warnings.is_empty());
        assert_eq!(changes[0].line(), 10);
    }

    #[test]
    fn diff_log_line_added_twice() {
        let added = "| 2026-11-21 06:00 | amp | T-002 | COMPLETED | docs written |\n";
        let (base, edited) = file_with(&sample_view(), |t| {
            t.replace(
                "<!-- /baton:tasks -->",
                &format!("{added}{added}<!-- /baton:tasks -->"),
            )
        });
        let (changes, warnings) = diff(&base, &edited);
        let row = LogRow {
            date: "2026-11-21 06:00".into(),
            agent: "amp".into(),
            id: TaskId(2),
            status: Status::Completed,
            note: "docs written".into(),
        };
        assert_eq!(
            changes,
            vec![
                Change::Log {
                    row: row.clone(),
                    line: 20,
                },
                Change::Log { row, line: 21 },
            ]
        );
        assert!(warnings.is_empty());
        // An existing line copied once more counts as new.
        let existing = "| 2026-11-21 05:50 | claude | T-001 | COMPLETED | tests pass |\n";
        let (base, edited) = file_with(&sample_view(), |t| {
            t.replace(
                "<!-- /baton:tasks -->",
                &format!("{existing}<!-- /baton:tasks -->"),
            )
        });
        let (changes, _) = diff(&base, &edited);
        assert_eq!(
            changes,
            vec![Change::Log {
                row: l(1, "claude", Status::Completed, "tests pass"),
                line: 20
            }]
        );
    }

    #[test]
    fn diff_orders_changes_by_line() {
        let (base, edited) = file_with(&sample_view(), |t| {
            t.replace("| MED | PENDING |", "| MED | in progress |")
                .replace(
                    "<!-- /baton:tasks -->",
                    "| x | y | T-002 | BLOCKED | z |\n<!-- /baton:tasks -->",
                )
        });
        let (changes, _) = diff(&base, &edited);
        let lines: Vec<usize> = changes.iter().map(Change::line).collect();
        assert_eq!(lines, vec![11, 20]);
        assert!(matches!(
            changes[0],
            Change::Status {
                to: Status::InProgress,
                ..
            }
        ));
    }

    #[test]
    fn diff_unknown_id_and_other_edits_warn() {
        let (base, edited) = file_with(&sample_view(), |t| {
            t.replace(
                "| Write docs | - | MED |",
                "| Write the docs | amp | HIGH |",
            )
            .replace(
                "| T-002 |",
                "| T-099 | New | - | LOW | PENDING | now |\n| T-002 |",
            )
            .replace("05:40 |", "05:45 |")
        });
        let (changes, warnings) = diff(&base, &edited);
        assert!(changes.is_empty(), "{changes:?}");
        let msgs: Vec<String> = warnings
            .iter()
            .map(|w| format!("{}: {}", w.line, w.message))
            .collect();
        assert_eq!(
            msgs,
            vec![
                "10: T-001: only Status is read from the memory file; the Created date is set by baton",
                "11: unknown task T-099 (add tasks with `baton task add`)",
                "12: T-002: only Status is read from the memory file; change the title with `baton task edit`",
                "12: T-002: only Status is read from the memory file; change the assignee with `baton task edit`",
                "12: T-002: only Status is read from the memory file; change the priority with `baton task edit`",
            ]
        );
    }

    #[test]
    fn diff_deleted_rows_are_silent() {
        let (base, edited) = file_with(&sample_view(), |t| {
            t.replace(
                "| T-002 | Write docs | - | MED | PENDING | 2026-11-21 05:41 |\n",
                "",
            )
            .replace(
                "| 2026-11-21 05:50 | claude | T-001 | COMPLETED | tests pass |\n",
                "",
            )
        });
        assert_eq!(edited.queue.len(), 1);
        assert!(edited.log.is_empty());
        assert_eq!(diff(&base, &edited), (vec![], vec![]));
        // Same content, nothing to do.
        assert_eq!(diff(&base, &base), (vec![], vec![]));
    }

    // ---- scale ----

    #[test]
    fn huge_input_is_linear_enough() {
        let n = 20_000;
        let view = View {
            queue: (1..=n)
                .map(|i| {
                    q(
                        i,
                        &format!("task {i} | with pipe"),
                        Some("a"),
                        Priority::Med,
                        Status::ALL[i as usize % 5],
                    )
                })
                .collect(),
            hidden_closed: 0,
            log: (1..=n)
                .map(|i| l(i, "claude", Status::Completed, "same note"))
                .collect(),
            hidden_log: 0,
            store: None,
        };
        let inner = render(&view);
        let text = splice("user\r\n", &inner).unwrap();
        let (inner2, first) = inner_of(&text);
        let p = parse(inner2, first).unwrap();
        assert_eq!(p.queue.len(), n as usize);
        assert_eq!(p.log.len(), n as usize);
        let (changes, warnings) = diff(&p, &p);
        assert!(changes.is_empty() && warnings.is_empty());
        // Many errors are collected too.
        let bad = inner.replace("| MED |", "| MEDD |");
        assert_eq!(parse(&bad, 1).unwrap_err().len(), n as usize);
    }

    #[test]
    fn the_store_identity_is_rendered_and_read_back_and_ignored_by_the_parser() {
        let v = View {
            store: Some("1f2e-3d4c".into()),
            ..sample_view()
        };
        let inner = render(&v);
        assert!(
            inner.contains("\n<!-- baton:store 1f2e-3d4c -->\n"),
            "{inner}"
        );
        assert_eq!(store_id(&inner), Some("1f2e-3d4c"));
        let plain = parse_ok(&render(&sample_view()));
        assert_eq!(rows(&parse_ok(&inner)), rows(&plain));
        assert_eq!(logs(&parse_ok(&inner)), logs(&plain));
        // Regions rendered before the identity existed name none.
        assert_eq!(store_id(SAMPLE_INNER), None);
        // Nothing in an identity can close the comment.
        let odd = render(&View {
            store: Some("ab --> cd\n".into()),
            ..View::default()
        });
        assert_eq!(store_id(&odd), Some("ab--cd"));
    }
}
