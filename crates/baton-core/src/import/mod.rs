//! Task list files for `baton task import FILE`: a Markdown checklist or table, TOML or JSON,
//! parsed into tasks whose dependencies may point at each other. Pure: the caller reads the
//! file, checks that existing task IDs exist and creates the tasks.
//!
//! ## Task list formats
//!
//! `baton task import FILE` reads a Markdown, TOML or JSON file. The format follows the
//! extension (`.md`, `.markdown`, `.txt`, `.toml`, `.json`); with any other extension baton
//! looks at the text: a `[[task]]` line means TOML, a leading `{` or `[` means JSON, anything
//! else is Markdown. The import is all or nothing: if anything is wrong, no task is created
//! and every problem found is listed with its line.
//!
//! ### Markdown checklist
//!
//! ```markdown
//! # Sprint 4
//!
//! - [ ] Design the login form !high #ui {login-form}
//! - [ ] Write the login handler #rust after:login-form @claude
//!   Use the existing session store.
//!   - keep the old endpoint working
//! - [x] Set up CI
//! 1. [ ] Document the login flow !low after:#2,T-014
//! ```
//!
//! - Items are `- [ ] Title`, `* [ ] Title`, `+ [ ] Title` or `1. [ ] Title`. Checked items
//!   (`[x]`, `[X]`) are done already and are skipped. Other lines (headings, prose, plain
//!   bullets, fenced code blocks) are ignored.
//! - Lines under an item indented by at least 2 more spaces than the item form its body
//!   (dedented, otherwise kept as written). Nested checkboxes are part of the body, not
//!   separate tasks.
//! - Annotations at the end of the title are taken out of it:
//!   - `!high`, `!med`, `!low` (also `(HIGH)`, `[HIGH]`, `priority: high`): the priority;
//!   - `#skill`: a skill the agent needs (`#` then a word starting with a letter);
//!   - `after:REF`: a dependency; repeat it or separate references with commas
//!     (`after:T-014,#2`);
//!   - `@agent`: the agent the task is assigned to;
//!   - `{label}`: a name the file's other tasks can use in `after:`.
//!
//!   Only the end of the title is looked at: in `Fix #rust docs` nothing is taken out.
//!
//! ### Markdown table
//!
//! ```markdown
//! | ID    | Task                 | Priority | Skills  | Depends | Agent  | Status |
//! |-------|----------------------|----------|---------|---------|--------|--------|
//! | T-001 | Set up CI            | HIGH     | ci      |         |        | DONE   |
//! | T-002 | Write the login page | MED      | ui, web | T-001   | claude | TODO   |
//! | T-003 | Test the login page  | LOW      | testing | T-002   |        |        |
//! ```
//!
//! - A task table has a `Task` or `Title` column (any case) and the separator row under its
//!   header; other tables are ignored. Optional columns: `ID` (a label), `Priority`,
//!   `Skills` (separated by commas or spaces), `Depends` / `After` / `Dependencies`
//!   (references separated by commas), `Assigned To` / `Agent` / `Assignee`, `Body` /
//!   `Description` / `Details` (`<br>` is a line break) and `Status`. Other columns are
//!   ignored.
//! - The `ID` column holds the file's own labels, not baton task IDs: `T-001` in `Depends`
//!   means the row whose ID is `T-001` when there is one.
//! - Rows whose status is COMPLETED, DONE or CANCELLED are skipped; any other status is
//!   imported as a new task. Empty cells, `-` and `—` mean "none".
//! - Every row has as many cells as the header; write `\|` for a `|` inside a cell.
//! - A file may mix checklists and tables: tasks are taken in file order.
//!
//! ### TOML
//!
//! ```toml
//! [[task]]
//! id = "login"
//! title = "Write the login handler"
//! body = """
//! Use the existing session store.
//! """
//! priority = "high"
//! skills = ["rust", "web"]
//! after = ["T-014"]
//! assignee = "claude"
//!
//! [[task]]
//! title = "Test the login handler"
//! after = ["login"]
//! ```
//!
//! Only `title` is required; any other key is an error.
//!
//! ### JSON
//!
//! An array of objects with the same keys as in TOML, or `{"tasks": [...]}`:
//!
//! ```json
//! [
//!   {"id": "login", "title": "Write the login handler", "priority": "high", "skills": ["rust"]},
//!   {"title": "Test the login handler", "after": ["login"]}
//! ]
//! ```
//!
//! ### Dependencies and checks
//!
//! - A dependency is, in this order: the label of a task in the file (`{label}`, the `ID`
//!   column, `id`); `#3`, the third task imported from the file (skipped items do not count);
//!   a baton task ID such as `T-014`, which must exist already. A dependency on a skipped
//!   (done) item is dropped. Anything else is an error.
//! - Dependencies may point forward in the file; a task depending on itself, or a cycle
//!   (`#1 → #3 → #1`), is an error.
//! - Priorities: HIGH, MED, LOW in any case (also MEDIUM, H, M, L, P0–P2). Skills: letters,
//!   digits, `-` and `_`. Agents: ASCII letters, digits, `-` and `_`. Labels: one word
//!   without commas. Titles: one line of at most 300 characters. A file without any task to
//!   import is an error.

//!
//! This file holds the public API; the formats are read in `markdown.rs` and `structured.rs`
//! (TOML and JSON) into drafts that `drafts.rs` turns into tasks.

mod drafts;
mod markdown;
mod structured;

use std::collections::HashMap;

use crate::task::NewTask;
use crate::task::Priority;
use crate::task::TaskId;
use drafts::Parsed;
use drafts::label_key;
use drafts::resolve;
use markdown::TOML_TASK;
use markdown::parse_markdown;
use structured::parse_json;
use structured::parse_toml;

/// The format of a task list file.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Format {
    /// A Markdown checklist and/or task table.
    Markdown,
    /// `[[task]]` tables.
    Toml,
    /// An array of task objects, or `{"tasks": [...]}`.
    Json,
}

/// A dependency of an imported task.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum DepRef {
    /// Another task of the same file: a 0-based index into the list `parse_tasks` returns.
    Local(usize),
    /// A task already in the store (the caller checks that it exists).
    Existing(TaskId),
}

/// A task read from a task list file, not created yet.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ImportedTask {
    /// The 1-based line where the task starts (0 when unknown).
    pub line: usize,
    /// The title, annotations taken out.
    pub title: String,
    /// The description (may be empty).
    pub body: String,
    /// The priority, when given.
    pub priority: Option<Priority>,
    /// Skills an agent needs for it.
    pub skills: Vec<String>,
    /// Dependencies, without duplicates.
    pub deps: Vec<DepRef>,
    /// The agent it is assigned to.
    pub assignee: Option<String>,
    /// The file's own name for it (`{label}`, the `ID` column, `id`), when it has one.
    pub label: Option<String>,
}

/// Returns the key of each task of a file, by which a later import of the same file knows it
/// was imported already: its label when it has one (`id:<label>`, so editing its text does
/// not make it new), else its title with spaces collapsed and case ignored (`title:<title>`;
/// annotations are not part of it, and a second task of the same title gets `#2`). An
/// unlabelled task whose title was edited is a new task.
pub fn item_keys(tasks: &[ImportedTask]) -> Vec<String> {
    let mut seen: HashMap<String, usize> = HashMap::new();
    tasks
        .iter()
        .map(|t| {
            let base = match &t.label {
                Some(l) => format!("id:{}", label_key(l)),
                None => format!(
                    "title:{}",
                    t.title
                        .split_whitespace()
                        .collect::<Vec<_>>()
                        .join(" ")
                        .to_lowercase()
                ),
            };
            let n = seen.entry(base.clone()).or_insert(0);
            *n += 1;
            if *n == 1 { base } else { format!("{base}#{n}") }
        })
        .collect()
}

impl ImportedTask {
    /// Returns the task to create, local deps looked up in `created` by index (`None` if missing).
    pub fn to_new_task(&self, created: &[Option<TaskId>]) -> Option<NewTask> {
        let mut deps = Vec::with_capacity(self.deps.len());
        for dep in &self.deps {
            let id = match *dep {
                DepRef::Local(i) => created.get(i).copied().flatten()?,
                DepRef::Existing(id) => id,
            };
            if !deps.contains(&id) {
                deps.push(id);
            }
        }
        Some(NewTask {
            title: self.title.clone(),
            body: self.body.clone(),
            priority: self.priority,
            skills: self.skills.clone(),
            deps,
            assignee: self.assignee.clone(),
        })
    }
}

/// A problem in a task list file, with its line; displayed as `line 7: …`.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{}{message}", line_prefix(*.line))]
pub struct ImportError {
    /// The 1-based line, 0 when unknown.
    pub line: usize,
    /// What is wrong.
    pub message: String,
}

fn line_prefix(line: usize) -> String {
    if line == 0 {
        String::new()
    } else {
        format!("line {line}: ")
    }
}

fn err(line: usize, message: impl Into<String>) -> ImportError {
    ImportError {
        line,
        message: message.into(),
    }
}

/// Returns the format of a task list file, from its name's extension or else from its text.
pub fn detect_format(file_name: &str, text: &str) -> Format {
    let base = file_name.rsplit(['/', '\\']).next().unwrap_or(file_name);
    let ext = base.rsplit_once('.').map(|(_, e)| e.to_ascii_lowercase());
    match ext.as_deref() {
        Some("md" | "markdown" | "txt") => Format::Markdown,
        Some("toml") => Format::Toml,
        Some("json") => Format::Json,
        _ => {
            let text = text.trim_start_matches('\u{feff}');
            if TOML_TASK.is_match(text) {
                Format::Toml
            } else if text.trim_start().starts_with(['{', '[']) {
                Format::Json
            } else {
                Format::Markdown
            }
        }
    }
}

/// Parses a task list file; on any problem returns every problem found and no task.
pub fn parse_tasks(file_name: &str, text: &str) -> Result<Vec<ImportedTask>, Vec<ImportError>> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    if text.contains('\0') {
        return Err(vec![err(
            0,
            "this is not a text file (it contains NUL bytes)",
        )]);
    }
    if text.trim().is_empty() {
        return Err(vec![err(0, "no tasks found: the file is empty")]);
    }
    let mut errors = Vec::new();
    let mut parsed = Parsed::default();
    match detect_format(file_name, text) {
        Format::Markdown => parse_markdown(text, &mut parsed, &mut errors),
        Format::Toml => parse_toml(text, &mut parsed, &mut errors),
        Format::Json => parse_json(text, &mut parsed, &mut errors),
    }
    let skipped = parsed.skipped;
    let tasks = resolve(parsed, &mut errors);
    if errors.is_empty() && tasks.is_empty() {
        errors.push(err(
            0,
            match skipped {
                0 => "no tasks found".to_owned(),
                n => format!("no tasks found: all {n} items are done already"),
            },
        ));
    }
    if errors.is_empty() {
        Ok(tasks)
    } else {
        errors.sort_by_key(|e| e.line);
        Err(errors)
    }
}

/// Returns the indexes of `tasks` in an order that puts every task after its local deps.
pub fn creation_order(tasks: &[ImportedTask]) -> Vec<usize> {
    const NEW: u8 = 0;
    const OPEN: u8 = 1;
    const DONE: u8 = 2;
    let n = tasks.len();
    let mut state = vec![NEW; n];
    let mut order = Vec::with_capacity(n);
    for root in 0..n {
        if state[root] != NEW {
            continue;
        }
        state[root] = OPEN;
        let mut stack = vec![(root, 0usize)];
        while let Some(top) = stack.last_mut() {
            let node = top.0;
            let deps = &tasks[node].deps;
            let mut next = None;
            while let Some(dep) = deps.get(top.1) {
                top.1 += 1;
                if let DepRef::Local(j) = *dep
                    && state.get(j) == Some(&NEW)
                {
                    next = Some(j);
                    break;
                }
            }
            match next {
                Some(j) => {
                    state[j] = OPEN;
                    stack.push((j, 0));
                }
                None => {
                    state[node] = DONE;
                    order.push(node);
                    stack.pop();
                }
            }
        }
    }
    order
}

#[cfg(test)]
mod tests;
