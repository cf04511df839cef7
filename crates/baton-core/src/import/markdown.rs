//! Markdown task lists: checklists with annotations at the end of the title, and task tables.

use std::sync::LazyLock;

use regex::Captures;
use regex::Regex;

use super::ImportError;
use super::drafts::Draft;
use super::drafts::Parsed;
use super::drafts::check_agent;
use super::drafts::check_label;
use super::err;
use crate::task::Priority;
use crate::task::Status;
use crate::task::check_title;

fn re(src: &str) -> Regex {
    Regex::new(src).expect("a valid built-in pattern")
}

pub(super) static TOML_TASK: LazyLock<Regex> =
    LazyLock::new(|| re(r"(?m)^[ \t]*\[\[[ \t]*task[ \t]*\]\]"));
static ITEM: LazyLock<Regex> =
    LazyLock::new(|| re(r"^([ \t]*)(?:[-*+]|[0-9]{1,9}[.)])[ \t]+\[([ xX])\](.*)$"));
static SKILL: LazyLock<Regex> = LazyLock::new(|| re(r"(?:^|\s)#(\p{L}[\p{L}\p{N}_-]*)$"));
static AFTER: LazyLock<Regex> =
    LazyLock::new(|| re(r"(?i)(?:^|\s)after:\s*([^\s,]+(?:\s*,\s*[^\s,]+)*)\s*,?$"));
static AGENT: LazyLock<Regex> = LazyLock::new(|| re(r"(?:^|\s)@([A-Za-z0-9_-]+)$"));
static LABEL: LazyLock<Regex> = LazyLock::new(|| re(r"(?:^|\s)\{([^\s{},]+)\}$"));
static PRIO_BANG: LazyLock<Regex> = LazyLock::new(|| re(r"(?:^|\s)!([\p{L}\p{N}_]+)$"));
static PRIO_KEY: LazyLock<Regex> = LazyLock::new(|| re(r"(?i)(?:^|\s)priority:\s*(\S+)$"));
static PRIO_BRACKET: LazyLock<Regex> =
    LazyLock::new(|| re(r"(?i)(?:^|\s)(?:\(([a-z0-9]+)\)|\[([a-z0-9]+)\])$"));

/// At most this many annotations are taken from one title (bounds the work on odd input).
const MAX_ANNOTATIONS: usize = 64;

/// Annotations taken out of a checklist title.
#[derive(Debug, Default)]
struct Notes {
    priority: Option<Priority>,
    skills: Vec<String>,
    after: Vec<String>,
    assignee: Option<String>,
    label: Option<String>,
    errors: Vec<String>,
}

fn group<'t>(c: &Captures<'t>, i: usize) -> &'t str {
    c.get(i).map_or("", |m| m.as_str())
}

fn match_start(c: &Captures<'_>) -> usize {
    c.get(0).map_or(0, |m| m.start())
}

/// Sets a once-only annotation; a second, different value is an error.
fn set_once<T: PartialEq + std::fmt::Display>(
    slot: &mut Option<T>,
    value: T,
    what: &str,
    errors: &mut Vec<String>,
) {
    match slot {
        Some(old) if *old != value => {
            errors.push(format!("two different {what}: {value} and {old}"));
        }
        _ => *slot = Some(value),
    }
}

/// Splits a checklist title into the title proper and its trailing annotations.
fn split_annotations(title: &str) -> (String, Notes) {
    let mut notes = Notes::default();
    let mut rest = title.trim_end();
    for _ in 0..MAX_ANNOTATIONS {
        match take_annotation(rest, &mut notes) {
            Some(end) => rest = rest.get(..end).unwrap_or("").trim_end(),
            None => break,
        }
    }
    notes.skills.reverse();
    notes.after.reverse();
    (rest.trim().to_owned(), notes)
}

/// Takes the last annotation of `t` into `notes`; returns where the rest of the title ends.
fn take_annotation(t: &str, notes: &mut Notes) -> Option<usize> {
    if let Some(c) = SKILL.captures(t) {
        notes.skills.push(group(&c, 1).to_owned());
        return Some(match_start(&c));
    }
    if let Some(c) = AFTER.captures(t) {
        let refs: Vec<&str> = group(&c, 1)
            .split(',')
            .map(|r| {
                let r = r.trim();
                match r.get(..6) {
                    Some(p) if p.eq_ignore_ascii_case("after:") => r.get(6..).unwrap_or(""),
                    _ => r,
                }
            })
            .filter(|r| !r.is_empty())
            .collect();
        notes
            .after
            .extend(refs.into_iter().rev().map(str::to_owned));
        return Some(match_start(&c));
    }
    if let Some(c) = AGENT.captures(t) {
        let name = group(&c, 1).to_owned();
        set_once(&mut notes.assignee, name, "agents", &mut notes.errors);
        return Some(match_start(&c));
    }
    if let Some(c) = LABEL.captures(t) {
        let label = group(&c, 1).to_owned();
        set_once(&mut notes.label, label, "labels", &mut notes.errors);
        return Some(match_start(&c));
    }
    if let Some(c) = PRIO_BANG.captures(t) {
        let word = group(&c, 1);
        match word.parse::<Priority>() {
            Ok(p) => set_once(&mut notes.priority, p, "priorities", &mut notes.errors),
            Err(_) => notes
                .errors
                .push(format!("`!{word}` is not a priority (!high, !med or !low)")),
        }
        return Some(match_start(&c));
    }
    if let Some(c) = PRIO_KEY.captures(t) {
        match group(&c, 1).parse::<Priority>() {
            Ok(p) => set_once(&mut notes.priority, p, "priorities", &mut notes.errors),
            Err(e) => notes.errors.push(e.to_string()),
        }
        return Some(match_start(&c));
    }
    if let Some(c) = PRIO_BRACKET.captures(t) {
        let word = c.get(1).or_else(|| c.get(2)).map_or("", |m| m.as_str());
        let word = word.to_ascii_lowercase();
        if matches!(
            word.as_str(),
            "high" | "med" | "medium" | "low" | "p0" | "p1" | "p2"
        ) && let Ok(p) = word.parse::<Priority>()
        {
            set_once(&mut notes.priority, p, "priorities", &mut notes.errors);
            return Some(match_start(&c));
        }
    }
    None
}

/// The width of a line's indentation, a tab counting 4.
fn indent_width(line: &str) -> usize {
    line.chars()
        .take_while(|c| *c == ' ' || *c == '\t')
        .map(|c| if c == '\t' { 4 } else { 1 })
        .sum()
}

/// Removes up to `width` columns of indentation.
fn dedent(line: &str, width: usize) -> &str {
    let mut taken = 0;
    let mut cut = 0;
    for (i, c) in line.char_indices() {
        let w = match c {
            ' ' => 1,
            '\t' => 4,
            _ => break,
        };
        if taken + w > width {
            break;
        }
        taken += w;
        cut = i + c.len_utf8();
    }
    line.get(cut..).unwrap_or(line)
}

/// Joins body lines, dedented by their common indentation, without blank lines around.
fn body_text(lines: &[&str]) -> String {
    let width = lines
        .iter()
        .filter(|l| !l.trim().is_empty())
        .map(|l| indent_width(l))
        .min()
        .unwrap_or(0);
    let out: Vec<&str> = lines
        .iter()
        .map(|l| {
            if l.trim().is_empty() {
                ""
            } else {
                dedent(l, width)
            }
        })
        .collect();
    let start = out.iter().position(|l| !l.is_empty()).unwrap_or(out.len());
    let end = out
        .iter()
        .rposition(|l| !l.is_empty())
        .map_or(start, |e| e + 1);
    out.get(start..end).unwrap_or(&[]).join("\n")
}

/// Returns the fence (character and length) a line opens, if it does.
fn fence_of(line: &str) -> Option<(char, usize)> {
    let t = line.trim_start();
    let c = t.chars().next().filter(|c| *c == '`' || *c == '~')?;
    let len = t.chars().take_while(|x| *x == c).count();
    (len >= 3 && indent_width(line) <= 3).then_some((c, len))
}

pub(super) fn parse_markdown(text: &str, out: &mut Parsed, errors: &mut Vec<ImportError>) {
    let lines: Vec<&str> = text
        .split('\n')
        .map(|l| l.strip_suffix('\r').unwrap_or(l))
        .collect();
    let mut fence: Option<(char, usize)> = None;
    let mut i = 0;
    while let Some(&line) = lines.get(i) {
        let lineno = i + 1;
        if let Some((c, len)) = fence {
            if let Some((c2, len2)) = fence_of(line)
                && c2 == c
                && len2 >= len
                && line.trim().chars().all(|x| x == c)
            {
                fence = None;
            }
            i += 1;
            continue;
        }
        if let Some(f) = fence_of(line) {
            fence = Some(f);
            i += 1;
            continue;
        }
        if let Some(c) = ITEM.captures(line) {
            let indent = indent_width(group(&c, 1));
            let mut end = i + 1;
            while let Some(l) = lines.get(end) {
                if l.trim().is_empty() || indent_width(l) >= indent + 2 {
                    end += 1;
                } else {
                    break;
                }
            }
            let (title, notes) = split_annotations(group(&c, 3));
            if group(&c, 2) == " " {
                let body = body_text(lines.get(i + 1..end).unwrap_or(&[]));
                checklist_item(lineno, title, notes, body, out, errors);
            } else {
                out.skipped += 1;
                out.skipped_labels.extend(notes.label);
            }
            i = end;
            continue;
        }
        if line.contains('|') {
            if lines.get(i + 1).is_some_and(|l| is_separator(l)) {
                i = parse_table(&lines, i, out, errors);
                continue;
            }
            let after_pipe = i > 0 && lines.get(i - 1).is_some_and(|l| l.contains('|'));
            if line.trim_start().starts_with('|')
                && !after_pipe
                && let Ok(Some(_)) = map_columns(&split_row(line))
            {
                errors.push(err(
                    lineno,
                    "this task table has no separator row (|---|---|) under its header",
                ));
            }
        }
        i += 1;
    }
}

fn checklist_item(
    line: usize,
    title: String,
    notes: Notes,
    body: String,
    out: &mut Parsed,
    errors: &mut Vec<ImportError>,
) {
    if let Err(m) = check_title(&title) {
        errors.push(err(line, m));
    }
    errors.extend(notes.errors.into_iter().map(|m| err(line, m)));
    let mut d = Draft {
        line,
        title,
        body,
        priority: notes.priority,
        after: notes.after.into_iter().map(|r| (r, line)).collect(),
        ..Draft::default()
    };
    for s in &notes.skills {
        d.add_skill(s, line, errors);
    }
    if let Some(a) = notes.assignee {
        match check_agent(&a) {
            Ok(()) => d.assignee = Some(a),
            Err(m) => errors.push(err(line, m)),
        }
    }
    if let Some(l) = notes.label {
        match check_label(&l) {
            Ok(()) => d.label = Some(l),
            Err(m) => errors.push(err(line, m)),
        }
    }
    out.drafts.push(d);
}

/// Splits a table row into trimmed cells; `\|` is a literal pipe.
fn split_row(line: &str) -> Vec<String> {
    let t = line.trim();
    let t = t.strip_prefix('|').unwrap_or(t);
    let t = match t.strip_suffix('|') {
        Some(rest) if !rest.ends_with('\\') => rest,
        _ => t,
    };
    let mut cells = Vec::new();
    let mut cell = String::new();
    let mut chars = t.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '\\' if chars.peek() == Some(&'|') => {
                cell.push('|');
                chars.next();
            }
            '|' => cells.push(std::mem::take(&mut cell)),
            _ => cell.push(c),
        }
    }
    cells.push(cell);
    cells.into_iter().map(|c| c.trim().to_owned()).collect()
}

fn is_separator(line: &str) -> bool {
    line.contains('|')
        && line.contains('-')
        && split_row(line).iter().all(|c| {
            let c = c.strip_prefix(':').unwrap_or(c);
            let c = c.strip_suffix(':').unwrap_or(c);
            !c.is_empty() && c.chars().all(|x| x == '-')
        })
}

/// A task table's column.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Col {
    Title,
    Id,
    Priority,
    Skills,
    Deps,
    Assignee,
    Body,
    Status,
}

impl Col {
    fn of(header: &str) -> Option<Col> {
        let h: String = header
            .chars()
            .filter(|c| c.is_alphanumeric())
            .flat_map(char::to_lowercase)
            .collect();
        Some(match h.as_str() {
            "task" | "title" | "tasktitle" | "taskname" => Col::Title,
            "id" | "taskid" | "label" | "key" => Col::Id,
            "priority" | "prio" | "pri" => Col::Priority,
            "skills" | "skill" | "tags" => Col::Skills,
            "depends" | "dependson" | "after" | "dependencies" | "deps" | "blockedby" => Col::Deps,
            "assignedto" | "agent" | "assignee" | "owner" => Col::Assignee,
            "body" | "description" | "details" | "desc" => Col::Body,
            "status" | "state" => Col::Status,
            _ => return None,
        })
    }
}

/// Maps a header to columns: `Ok(None)` when it is not a task table.
fn map_columns(header: &[String]) -> Result<Option<Vec<Option<Col>>>, String> {
    let mut cols: Vec<Option<Col>> = header.iter().map(|h| Col::of(h)).collect();
    // `| Task | Title |`: the Title column is the title.
    let titles: Vec<usize> = (0..cols.len())
        .filter(|&k| cols[k] == Some(Col::Title))
        .collect();
    if titles.len() > 1 {
        let is_task = |k: usize| header[k].to_lowercase().trim_matches('*').trim() == "task";
        if titles.iter().any(|&k| !is_task(k)) {
            for &k in &titles {
                if is_task(k) {
                    cols[k] = None;
                }
            }
        }
    }
    if !cols.contains(&Some(Col::Title)) {
        return Ok(None);
    }
    for (k, col) in cols.iter().enumerate() {
        if let Some(col) = col
            && let Some(other) = (k + 1..cols.len()).find(|&o| cols[o] == Some(*col))
        {
            return Err(format!(
                "the columns `{}` and `{}` mean the same thing: keep one",
                header[k], header[other]
            ));
        }
    }
    Ok(Some(cols))
}

/// A cell without surrounding spaces, backticks and bold/italic stars.
fn clean(s: &str) -> &str {
    s.trim().trim_matches(|c| c == '`' || c == '*').trim()
}

fn is_none_value(s: &str) -> bool {
    let s = clean(s);
    s.is_empty()
        || matches!(s, "-" | "--" | "—" | "–")
        || s.eq_ignore_ascii_case("n/a")
        || s.eq_ignore_ascii_case("none")
}

/// Splits a list of skills or references on commas, semicolons and spaces.
pub(super) fn split_list(s: &str) -> impl Iterator<Item = &str> {
    s.split(|c: char| c == ',' || c == ';' || c.is_whitespace())
        .map(clean)
        .filter(|x| !x.is_empty())
}

fn is_done(status: &str) -> bool {
    matches!(
        status.parse::<Status>(),
        Ok(Status::Completed | Status::Cancelled)
    ) || status.contains(['✅', '✔', '☑'])
        || status.eq_ignore_ascii_case("[x]")
}

fn parse_priority(s: &str) -> Result<Priority, String> {
    // Hand-kept tables decorate priorities: `🔴 High`, `**HIGH**`.
    clean(s)
        .trim_start_matches(|c: char| !c.is_alphanumeric())
        .parse::<Priority>()
        .map_err(|_| format!("`{}` is not a priority (HIGH, MED or LOW)", s.trim()))
}

/// Parses the table whose header is `lines[start]`; returns the index of the line after it.
fn parse_table(
    lines: &[&str],
    start: usize,
    out: &mut Parsed,
    errors: &mut Vec<ImportError>,
) -> usize {
    let header = split_row(lines.get(start).copied().unwrap_or(""));
    let separator = split_row(lines.get(start + 1).copied().unwrap_or(""));
    let mut end = start + 2;
    while let Some(l) = lines.get(end) {
        if l.trim().is_empty() || !l.contains('|') {
            break;
        }
        end += 1;
    }
    let cols = match map_columns(&header) {
        Ok(Some(cols)) => cols,
        Ok(None) => return end,
        Err(m) => {
            errors.push(err(start + 1, m));
            return end;
        }
    };
    if separator.len() != header.len() {
        errors.push(err(
            start + 2,
            format!(
                "the separator row has {} cells but the header has {}",
                separator.len(),
                header.len()
            ),
        ));
    }
    for row in start + 2..end {
        let line = row + 1;
        let cells = split_row(lines.get(row).copied().unwrap_or(""));
        if cells.len() != header.len() {
            errors.push(err(
                line,
                format!(
                    "this row has {} cells but the header has {} (write \\| for a | inside a cell)",
                    cells.len(),
                    header.len()
                ),
            ));
            continue;
        }
        if cells.iter().all(|c| c.is_empty()) {
            continue;
        }
        table_row(line, &cols, &cells, out, errors);
    }
    end
}

fn table_row(
    line: usize,
    cols: &[Option<Col>],
    cells: &[String],
    out: &mut Parsed,
    errors: &mut Vec<ImportError>,
) {
    let raw = |col: Col| {
        cols.iter()
            .position(|c| *c == Some(col))
            .and_then(|k| cells.get(k))
            .map(String::as_str)
    };
    let get = |col: Col| raw(col).filter(|v| !is_none_value(v));
    let label = get(Col::Id).map(|l| clean(l).to_owned());
    if get(Col::Status).is_some_and(is_done) {
        out.skipped += 1;
        out.skipped_labels.extend(label);
        return;
    }
    let title = raw(Col::Title).unwrap_or("").trim().to_owned();
    if let Err(m) = check_title(&title) {
        errors.push(err(line, m));
    }
    let mut d = Draft {
        line,
        title,
        ..Draft::default()
    };
    if let Some(l) = label {
        match check_label(&l) {
            Ok(()) => d.label = Some(l),
            Err(m) => errors.push(err(line, m)),
        }
    }
    if let Some(p) = get(Col::Priority) {
        match parse_priority(p) {
            Ok(p) => d.priority = Some(p),
            Err(m) => errors.push(err(line, m)),
        }
    }
    if let Some(s) = get(Col::Skills) {
        for skill in split_list(s) {
            d.add_skill(skill.trim_start_matches('#'), line, errors);
        }
    }
    if let Some(s) = get(Col::Deps) {
        d.after = split_list(s).map(|r| (r.to_owned(), line)).collect();
    }
    if let Some(a) = get(Col::Assignee) {
        let a = clean(a).trim_start_matches('@');
        match check_agent(a) {
            Ok(()) => d.assignee = Some(a.to_owned()),
            Err(m) => errors.push(err(line, m)),
        }
    }
    if let Some(b) = get(Col::Body) {
        d.body = b
            .replace("<br />", "\n")
            .replace("<br/>", "\n")
            .replace("<br>", "\n");
    }
    out.drafts.push(d);
}
