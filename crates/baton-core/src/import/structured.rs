//! TOML and JSON task lists: entries of keys and values, turned into drafts the same way.

use std::collections::HashSet;

use toml::de::DeTable;
use toml::de::DeValue;

use super::ImportError;
use super::drafts::Draft;
use super::drafts::Parsed;
use super::drafts::check_agent;
use super::drafts::check_label;
use super::err;
use super::markdown::split_list;
use crate::task::Priority;
use crate::task::check_title;

#[derive(Debug)]
enum Field {
    Str(String),
    List(Vec<Field>),
    Null,
    /// Anything else, named for error messages ("a number").
    Other(&'static str),
}

impl Field {
    fn describe(&self) -> &'static str {
        match self {
            Field::Str(_) => "a string",
            Field::List(_) => "an array",
            Field::Null => "null",
            Field::Other(what) => what,
        }
    }
}

/// One task object or table, with the line of each key (the object's line in JSON).
struct Entry {
    line: usize,
    fields: Vec<(String, usize, Field)>,
}

const KEYS: &str = "title, body, priority, skills, after, assignee or id";

/// Returns the strings of a list field (an array of strings, or one string of several).
fn strings(key: &str, line: usize, value: Field, errors: &mut Vec<ImportError>) -> Vec<String> {
    match value {
        Field::Str(s) => split_list(&s).map(str::to_owned).collect(),
        Field::List(items) => items
            .into_iter()
            .filter_map(|item| match item {
                Field::Str(s) => Some(s.trim().to_owned()),
                other => {
                    errors.push(err(
                        line,
                        format!("`{key}` must hold strings, not {}", other.describe()),
                    ));
                    None
                }
            })
            .collect(),
        Field::Null => Vec::new(),
        other => {
            errors.push(err(
                line,
                format!(
                    "`{key}` must be an array of strings, not {}",
                    other.describe()
                ),
            ));
            Vec::new()
        }
    }
}

fn entry_to_draft(entry: Entry, out: &mut Parsed, errors: &mut Vec<ImportError>) {
    let mut d = Draft {
        line: entry.line,
        ..Draft::default()
    };
    let mut title = None;
    for (key, line, value) in entry.fields {
        let string = |value: Field, errors: &mut Vec<ImportError>| match value {
            Field::Str(s) => Some(s),
            Field::Null => None,
            other => {
                errors.push(err(
                    line,
                    format!("`{key}` must be a string, not {}", other.describe()),
                ));
                None
            }
        };
        match key.as_str() {
            "title" => title = Some((string(value, errors), line)),
            "body" => d.body = string(value, errors).unwrap_or_default(),
            "priority" => {
                if let Some(p) = string(value, errors).filter(|p| !p.trim().is_empty()) {
                    match p.parse::<Priority>() {
                        Ok(p) => d.priority = Some(p),
                        Err(e) => errors.push(err(line, e.to_string())),
                    }
                }
            }
            "skills" => {
                for s in strings(&key, line, value, errors) {
                    d.add_skill(s.trim_start_matches('#'), line, errors);
                }
            }
            "after" => {
                let refs = strings(&key, line, value, errors);
                d.after.extend(refs.into_iter().map(|r| (r, line)));
            }
            "assignee" => {
                if let Some(a) = string(value, errors).filter(|a| !a.trim().is_empty()) {
                    let a = a.trim().trim_start_matches('@');
                    match check_agent(a) {
                        Ok(()) => d.assignee = Some(a.to_owned()),
                        Err(m) => errors.push(err(line, m)),
                    }
                }
            }
            "id" => {
                if let Some(l) = string(value, errors).filter(|l| !l.trim().is_empty()) {
                    let l = l.trim();
                    match check_label(l) {
                        Ok(()) => d.label = Some(l.to_owned()),
                        Err(m) => errors.push(err(line, m)),
                    }
                }
            }
            _ => errors.push(err(line, format!("unknown key `{key}` (expected {KEYS})"))),
        }
    }
    match title {
        Some((Some(t), line)) => {
            let t = t.trim().to_owned();
            if let Err(m) = check_title(&t) {
                errors.push(err(line, m));
            }
            d.title = t;
        }
        Some((None, _)) => {}
        None => errors.push(err(d.line, "the task has no `title`")),
    }
    out.drafts.push(d);
}

/// Byte offsets of line starts, to turn offsets into 1-based lines.
struct LineIndex(Vec<usize>);

impl LineIndex {
    fn new(text: &str) -> LineIndex {
        LineIndex(
            std::iter::once(0)
                .chain(text.match_indices('\n').map(|(i, _)| i + 1))
                .collect(),
        )
    }

    fn line(&self, offset: usize) -> usize {
        self.0.partition_point(|&s| s <= offset)
    }
}

fn toml_field(v: &DeValue<'_>, nested: bool) -> Field {
    match v {
        DeValue::String(s) => Field::Str(s.to_string()),
        DeValue::Array(items) if !nested => Field::List(
            items
                .iter()
                .map(|x| toml_field(x.get_ref(), true))
                .collect(),
        ),
        DeValue::Array(_) => Field::Other("an array"),
        DeValue::Integer(_) | DeValue::Float(_) => Field::Other("a number"),
        DeValue::Boolean(_) => Field::Other("a boolean"),
        DeValue::Datetime(_) => Field::Other("a date"),
        DeValue::Table(_) => Field::Other("a table"),
    }
}

pub(super) fn parse_toml(text: &str, out: &mut Parsed, errors: &mut Vec<ImportError>) {
    let lines = LineIndex::new(text);
    let (doc, syntax) = DeTable::parse_recoverable(text);
    if !syntax.is_empty() {
        let mut seen = HashSet::new();
        for e in syntax {
            let line = e.span().map_or(0, |s| lines.line(s.start));
            if seen.insert(line) {
                let message = e
                    .message()
                    .lines()
                    .map(str::trim)
                    .filter(|l| !l.is_empty())
                    .collect::<Vec<_>>()
                    .join("; ");
                errors.push(err(line, format!("TOML syntax: {message}")));
            }
        }
        return;
    }
    for (key, value) in doc.get_ref().iter() {
        let key_line = lines.line(key.span().start);
        if key.get_ref() != "task" {
            errors.push(err(
                key_line,
                format!(
                    "unknown key `{}`: write each task as a [[task]] table",
                    key.get_ref()
                ),
            ));
            continue;
        }
        let DeValue::Array(items) = value.get_ref() else {
            errors.push(err(
                key_line,
                "`task` must be an array of tables: write each task as a [[task]] table",
            ));
            continue;
        };
        for item in items.iter() {
            let line = lines.line(item.span().start);
            let DeValue::Table(table) = item.get_ref() else {
                errors.push(err(line, "`task` must be [[task]] tables"));
                continue;
            };
            let fields = table
                .iter()
                .map(|(k, v)| {
                    (
                        k.get_ref().to_string(),
                        lines.line(k.span().start),
                        toml_field(v.get_ref(), false),
                    )
                })
                .collect();
            entry_to_draft(Entry { line, fields }, out, errors);
        }
    }
}

fn json_field(v: serde_json::Value, nested: bool) -> Field {
    use serde_json::Value;
    match v {
        Value::String(s) => Field::Str(s),
        Value::Array(items) if !nested => {
            Field::List(items.into_iter().map(|x| json_field(x, true)).collect())
        }
        Value::Array(_) => Field::Other("an array"),
        Value::Null => Field::Null,
        Value::Bool(_) => Field::Other("a boolean"),
        Value::Number(_) => Field::Other("a number"),
        Value::Object(_) => Field::Other("an object"),
    }
}

/// Returns the line where each element of the task array starts: the top-level array, or the
/// array inside the top-level object (`{"tasks": [...]}`). The text is valid JSON already.
fn json_element_lines(text: &str, wrapped: bool) -> Vec<usize> {
    let target = usize::from(wrapped);
    let mut lines = Vec::new();
    let mut line = 1;
    let mut depth = 0usize;
    let (mut in_string, mut escaped) = (false, false);
    let (mut in_target, mut found, mut expect) = (false, false, false);
    for c in text.chars() {
        if c == '\n' {
            line += 1;
        }
        if in_string {
            match c {
                _ if escaped => escaped = false,
                '\\' => escaped = true,
                '"' => in_string = false,
                _ => {}
            }
            continue;
        }
        if c.is_whitespace() || c == ':' {
            continue;
        }
        let element_depth = in_target && depth == target + 1;
        match c {
            ']' | '}' => {
                depth = depth.saturating_sub(1);
                if in_target && depth == target {
                    in_target = false;
                }
            }
            ',' => expect = element_depth,
            _ => {
                if element_depth && expect {
                    lines.push(line);
                    expect = false;
                }
                match c {
                    '"' => in_string = true,
                    '[' | '{' => {
                        if c == '[' && !found && depth == target {
                            (in_target, found, expect) = (true, true, true);
                        }
                        depth += 1;
                    }
                    _ => {}
                }
            }
        }
    }
    lines
}

pub(super) fn parse_json(text: &str, out: &mut Parsed, errors: &mut Vec<ImportError>) {
    use serde_json::Value;
    let value: Value = match serde_json::from_str(text) {
        Ok(v) => v,
        Err(e) => {
            let mut message = e.to_string();
            if let Some(at) = message.rfind(" at line ") {
                message.truncate(at);
            }
            errors.push(err(e.line(), format!("JSON syntax: {message}")));
            return;
        }
    };
    let shape = "expected an array of tasks, or {\"tasks\": [...]}";
    // `lines_known`: the task array is the first array the scanner meets at its depth.
    let (items, wrapped, lines_known) = match value {
        Value::Array(items) => (items, false, true),
        Value::Object(mut map) => {
            let others: Vec<String> = map.keys().filter(|k| *k != "tasks").cloned().collect();
            if !others.is_empty() {
                errors.push(err(
                    0,
                    format!("unknown key `{}`: {shape}", others.join("`, `")),
                ));
            }
            match map.remove("tasks") {
                Some(Value::Array(items)) => (items, true, others.is_empty()),
                Some(_) => {
                    errors.push(err(0, "`tasks` must be an array"));
                    return;
                }
                None => {
                    if others.is_empty() {
                        errors.push(err(0, shape));
                    }
                    return;
                }
            }
        }
        _ => {
            errors.push(err(0, shape));
            return;
        }
    };
    let lines = json_element_lines(text, wrapped);
    let lines = if lines_known && lines.len() == items.len() {
        lines
    } else {
        vec![0; items.len()]
    };
    for (k, (item, line)) in items.into_iter().zip(lines).enumerate() {
        let Value::Object(map) = item else {
            errors.push(err(
                line,
                format!("task {} is not an object: {shape}", k + 1),
            ));
            continue;
        };
        let fields = map
            .into_iter()
            .map(|(key, v)| (key, line, json_field(v, false)))
            .collect();
        entry_to_draft(Entry { line, fields }, out, errors);
    }
}
