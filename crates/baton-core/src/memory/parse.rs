//! Reading the tables back from the region: tolerant of hand-written tables, never guessing.

use std::collections::HashMap;

use super::LOG_HEADING;
use super::LogRow;
use super::MemoryError;
use super::QUEUE_HEADING;
use super::QueueRow;
use crate::task::Priority;
use crate::task::Status;
use crate::task::TaskId;

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
fn cell_at(cells: &[String], at: Option<usize>) -> &str {
    at.and_then(|i| cells.get(i)).map_or("", String::as_str)
}

/// Reads the ID cell.
fn read_id(cells: &[String], at: usize) -> Result<TaskId, String> {
    let raw = cell_at(cells, Some(at));
    strip_marks(raw)
        .parse::<TaskId>()
        .map_err(|_| format!("`{raw}` is not a task ID (expected T-001, T-002, …)"))
}

/// Reads the status cell; the error names the bad value and the allowed ones.
fn read_status(cells: &[String], at: usize) -> Result<Status, String> {
    let raw = cell_at(cells, Some(at));
    strip_marks(raw).parse::<Status>().map_err(|_| {
        format!("`{raw}` is not a status (PENDING, IN_PROGRESS, COMPLETED, BLOCKED, CANCELLED)")
    })
}

/// Reads the priority cell (MED when absent or empty).
fn read_priority(cells: &[String], at: Option<usize>) -> Result<Priority, String> {
    let raw = cell_at(cells, at);
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
                let assignee = match cell_at(cells, c.assignee) {
                    "" | "-" | "—" | "–" => None,
                    a => Some(a.to_owned()),
                };
                self.parsed.queue.push((
                    line,
                    QueueRow {
                        id,
                        title: cell_at(cells, Some(c.title)).to_owned(),
                        assignee,
                        priority,
                        status,
                        created: cell_at(cells, c.created).to_owned(),
                    },
                ));
            }
            Header::Log(c) => {
                let status = self.check(line, &prefix, read_status(cells, c.status));
                if let (Some(id), Some(status)) = (id, status) {
                    self.parsed.log.push((
                        line,
                        LogRow {
                            date: cell_at(cells, c.date).to_owned(),
                            agent: cell_at(cells, c.agent).to_owned(),
                            id,
                            status,
                            note: cell_at(cells, c.note).to_owned(),
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
