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

use std::collections::BTreeMap;
use std::collections::HashMap;
use std::collections::HashSet;
use std::collections::hash_map::Entry as MapEntry;
use std::sync::LazyLock;

use regex::Captures;
use regex::Regex;
use toml::de::DeTable;
use toml::de::DeValue;

use crate::task::NewTask;
use crate::task::Priority;
use crate::task::Status;
use crate::task::TaskId;
use crate::task::check_skill;
use crate::task::check_title;
use crate::task::find_cycle;

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

// ---------------------------------------------------------------------------------------------
// Drafts and their resolution, common to all formats.

/// A task as read, before its dependencies are resolved.
#[derive(Debug, Default)]
struct Draft {
    line: usize,
    title: String,
    body: String,
    priority: Option<Priority>,
    skills: Vec<String>,
    /// References as written, each with its line.
    after: Vec<(String, usize)>,
    assignee: Option<String>,
    label: Option<String>,
}

impl Draft {
    fn add_skill(&mut self, skill: &str, line: usize, errors: &mut Vec<ImportError>) {
        match check_skill(skill) {
            Ok(()) if !self.skills.iter().any(|s| s == skill) => self.skills.push(skill.to_owned()),
            Ok(()) => {}
            Err(m) => errors.push(err(line, m)),
        }
    }
}

/// What a format parser found.
#[derive(Debug, Default)]
struct Parsed {
    drafts: Vec<Draft>,
    /// Labels of skipped (done) items: dependencies on them are dropped.
    skipped_labels: Vec<String>,
    /// How many items were skipped.
    skipped: usize,
}

/// How labels and references are compared: task-ID-like ones by number, others ignoring case.
fn label_key(s: &str) -> String {
    match s.parse::<TaskId>() {
        Ok(id) => id.to_string(),
        Err(_) => s.to_lowercase(),
    }
}

fn check_label(label: &str) -> Result<(), String> {
    if label.is_empty()
        || label.chars().count() > 100
        || label.chars().any(|c| c.is_whitespace() || c == ',')
    {
        return Err(format!(
            "`{label}` is not a label (one word without commas, at most 100 characters)"
        ));
    }
    Ok(())
}

fn check_agent(name: &str) -> Result<(), String> {
    if name.is_empty()
        || name.len() > 64
        || !name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
    {
        return Err(format!(
            "`{name}` is not an agent name (ASCII letters, digits, - and _)"
        ));
    }
    Ok(())
}

fn resolve(parsed: Parsed, errors: &mut Vec<ImportError>) -> Vec<ImportedTask> {
    let drafts = parsed.drafts;
    let n = drafts.len();
    let mut labels: HashMap<String, usize> = HashMap::new();
    for (i, d) in drafts.iter().enumerate() {
        let Some(label) = &d.label else { continue };
        match labels.entry(label_key(label)) {
            MapEntry::Occupied(e) => {
                let first = drafts.get(*e.get()).map_or(0, |f| f.line);
                errors.push(err(
                    d.line,
                    format!("the label `{label}` is already used by the task on line {first}"),
                ));
            }
            MapEntry::Vacant(e) => {
                e.insert(i);
            }
        }
    }
    let skipped: HashSet<String> = parsed.skipped_labels.iter().map(|l| label_key(l)).collect();

    let mut names = Vec::with_capacity(n);
    let mut tasks = Vec::with_capacity(n);
    for d in drafts {
        let mut deps = Vec::new();
        let (mut seen, mut seen_deps) = (HashSet::new(), HashSet::new());
        for (r, line) in &d.after {
            let key = label_key(r);
            if !seen.insert(key.clone()) {
                continue;
            }
            let dep = if let Some(&j) = labels.get(&key) {
                Some(DepRef::Local(j))
            } else if skipped.contains(&key) {
                None
            } else if let Some(num) = r.strip_prefix('#')
                && !num.is_empty()
                && num.bytes().all(|b| b.is_ascii_digit())
            {
                match num.parse::<usize>() {
                    Ok(k) if (1..=n).contains(&k) => Some(DepRef::Local(k - 1)),
                    _ => {
                        errors.push(err(
                            *line,
                            format!(
                                "`{r}` is not a task of this file: it has {n} (#1 is the first)"
                            ),
                        ));
                        None
                    }
                }
            } else if let Ok(id) = r.parse::<TaskId>() {
                Some(DepRef::Existing(id))
            } else {
                errors.push(err(
                    *line,
                    format!(
                        "unknown dependency `{r}`: not a label in this file, a #N task number \
                         or a task ID like T-003"
                    ),
                ));
                None
            };
            if let Some(dep) = dep
                && seen_deps.insert(dep)
            {
                deps.push(dep);
            }
        }
        names.push(d.label.clone());
        tasks.push(ImportedTask {
            line: d.line,
            title: d.title,
            body: d.body,
            priority: d.priority,
            skills: d.skills,
            deps,
            assignee: d.assignee,
            label: d.label,
        });
    }
    check_cycles(&tasks, &names, errors);
    tasks
}

/// Reports a dependency cycle for each tangle of the file's tasks (strongly connected group).
fn check_cycles(tasks: &[ImportedTask], labels: &[Option<String>], errors: &mut Vec<ImportError>) {
    let n = tasks.len();
    let adj: Vec<Vec<usize>> = tasks
        .iter()
        .map(|t| {
            t.deps
                .iter()
                .filter_map(|d| match *d {
                    DepRef::Local(j) if j < n => Some(j),
                    _ => None,
                })
                .collect()
        })
        .collect();
    // Tasks are numbered from T-001 by index, to find the cycle with the store's own check.
    let as_id = |i: usize| TaskId(u32::try_from(i + 1).unwrap_or(u32::MAX));
    let name = |id: &TaskId| {
        let i = (id.0 as usize).saturating_sub(1);
        match labels.get(i) {
            Some(Some(label)) => label.clone(),
            _ => format!("#{}", i + 1),
        }
    };
    for mut group in strongly_connected(&adj) {
        group.sort_unstable();
        let Some(&first) = group.first() else {
            continue;
        };
        if group.len() == 1 && !adj[first].contains(&first) {
            continue;
        }
        let inside = |j: &usize| group.binary_search(j).is_ok();
        let graph: BTreeMap<TaskId, Vec<TaskId>> = group
            .iter()
            .skip(1)
            .map(|&i| {
                (
                    as_id(i),
                    adj[i]
                        .iter()
                        .filter(|j| inside(j))
                        .map(|&j| as_id(j))
                        .collect(),
                )
            })
            .collect();
        let deps: Vec<TaskId> = adj[first]
            .iter()
            .filter(|j| inside(j))
            .map(|&j| as_id(j))
            .collect();
        let cycle = find_cycle(&graph, as_id(first), &deps)
            .unwrap_or_else(|| group.iter().chain([&first]).map(|&i| as_id(i)).collect());
        let text = cycle.iter().map(name).collect::<Vec<_>>().join(" → ");
        let message = if cycle.len() <= 2 {
            format!("the task depends on itself: {text}")
        } else {
            format!("dependency cycle: {text}")
        };
        errors.push(err(tasks[first].line, message));
    }
}

/// Returns the strongly connected components of a graph given as adjacency lists (Tarjan's
/// algorithm, without recursion so that long chains cannot overflow the stack).
fn strongly_connected(adj: &[Vec<usize>]) -> Vec<Vec<usize>> {
    const UNSEEN: usize = usize::MAX;
    let n = adj.len();
    let mut index = vec![UNSEEN; n];
    let mut low = vec![0; n];
    let mut on_stack = vec![false; n];
    let mut stack = Vec::new();
    let mut groups = Vec::new();
    let mut counter = 0;
    for root in 0..n {
        if index[root] != UNSEEN {
            continue;
        }
        index[root] = counter;
        low[root] = counter;
        counter += 1;
        stack.push(root);
        on_stack[root] = true;
        let mut calls = vec![(root, 0usize)];
        while let Some(top) = calls.last_mut() {
            let (v, k) = *top;
            top.1 += 1;
            match adj[v].get(k).copied() {
                Some(w) if w >= n => {}
                Some(w) if index[w] == UNSEEN => {
                    index[w] = counter;
                    low[w] = counter;
                    counter += 1;
                    stack.push(w);
                    on_stack[w] = true;
                    calls.push((w, 0));
                }
                Some(w) => {
                    if on_stack[w] {
                        low[v] = low[v].min(index[w]);
                    }
                }
                None => {
                    calls.pop();
                    if let Some(&(parent, _)) = calls.last() {
                        low[parent] = low[parent].min(low[v]);
                    }
                    if low[v] == index[v] {
                        let mut group = Vec::new();
                        while let Some(w) = stack.pop() {
                            on_stack[w] = false;
                            group.push(w);
                            if w == v {
                                break;
                            }
                        }
                        groups.push(group);
                    }
                }
            }
        }
    }
    groups
}

// ---------------------------------------------------------------------------------------------
// Markdown.

fn re(src: &str) -> Regex {
    Regex::new(src).expect("a valid built-in pattern")
}

static TOML_TASK: LazyLock<Regex> = LazyLock::new(|| re(r"(?m)^[ \t]*\[\[[ \t]*task[ \t]*\]\]"));
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

fn parse_markdown(text: &str, out: &mut Parsed, errors: &mut Vec<ImportError>) {
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
fn split_list(s: &str) -> impl Iterator<Item = &str> {
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

// ---------------------------------------------------------------------------------------------
// TOML and JSON: entries of keys and values, turned into drafts the same way.

/// A value of a TOML or JSON task entry, as far as task keys care.
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

fn parse_toml(text: &str, out: &mut Parsed, errors: &mut Vec<ImportError>) {
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

fn parse_json(text: &str, out: &mut Parsed, errors: &mut Vec<ImportError>) {
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

#[cfg(test)]
mod tests {
    use super::*;

    fn ok(name: &str, text: &str) -> Vec<ImportedTask> {
        match parse_tasks(name, text) {
            Ok(t) => t,
            Err(e) => panic!("unexpected errors: {e:#?}"),
        }
    }

    fn errs(name: &str, text: &str) -> Vec<ImportError> {
        match parse_tasks(name, text) {
            Ok(t) => panic!("unexpected success: {t:#?}"),
            Err(e) => e,
        }
    }

    /// Asserts exactly one error, on `line`, whose message contains `needle`.
    fn one_error(name: &str, text: &str, line: usize, needle: &str) {
        let e = errs(name, text);
        assert_eq!(e.len(), 1, "{e:#?}");
        assert_eq!(e[0].line, line, "{e:#?}");
        assert!(e[0].message.contains(needle), "{e:#?}");
    }

    fn local(i: usize) -> DepRef {
        DepRef::Local(i)
    }

    fn existing(n: u32) -> DepRef {
        DepRef::Existing(TaskId(n))
    }

    #[test]
    fn formats_are_detected() {
        assert_eq!(detect_format("plan.md", "{"), Format::Markdown);
        assert_eq!(detect_format("dir.v2/PLAN.MARKDOWN", ""), Format::Markdown);
        assert_eq!(detect_format("todo.txt", "[[task]]"), Format::Markdown);
        assert_eq!(detect_format("tasks.toml", ""), Format::Toml);
        assert_eq!(detect_format("tasks.JSON", ""), Format::Json);
        assert_eq!(
            detect_format("tasks", "  [{\"title\": \"a\"}]"),
            Format::Json
        );
        assert_eq!(detect_format("tasks.in", "{\"tasks\": []}"), Format::Json);
        assert_eq!(
            detect_format("tasks", "# x\n[[task]]\ntitle = \"a\""),
            Format::Toml
        );
        assert_eq!(detect_format("tasks", "[[ task ]]\n"), Format::Toml);
        assert_eq!(detect_format("tasks", "\u{feff}[[task]]\n"), Format::Toml);
        assert_eq!(detect_format("tasks", "\u{feff} {}"), Format::Json);
        assert_eq!(detect_format("tasks", "- [ ] a"), Format::Markdown);
        assert_eq!(detect_format("", ""), Format::Markdown);
    }

    #[test]
    fn error_display() {
        assert_eq!(err(7, "bad").to_string(), "line 7: bad");
        assert_eq!(err(0, "bad").to_string(), "bad");
    }

    #[test]
    fn checklist_happy_path() {
        let text = "\
# Sprint 4

Some prose about the sprint, with a | pipe.

- [ ] Design the login form !high #ui {login-form}
- [ ] Write the login handler #rust #web after:login-form @claude
  Use the existing session store.

    - keep the old endpoint working
  - [ ] a nested step stays in the body
- [x] Set up CI {ci}
  - done long ago
* [ ] Document the login flow !low after:#2, T-014 after:ci
1. [ ] Numbered item (HIGH)
2) [ ] Another [low]
+ [ ] Third priority: medium after:T-014,T-14
- plain bullets are ignored
- [ ] Close #12 today
- [X] done too

```
- [ ] inside a code block
```
";
        let t = ok("plan.md", text);
        assert_eq!(t.len(), 7, "{t:#?}");

        assert_eq!(t[0].line, 5);
        assert_eq!(t[0].title, "Design the login form");
        assert_eq!(t[0].priority, Some(Priority::High));
        assert_eq!(t[0].skills, ["ui"]);
        assert!(t[0].deps.is_empty());
        assert_eq!(t[0].body, "");

        assert_eq!(t[1].line, 6);
        assert_eq!(t[1].title, "Write the login handler");
        assert_eq!(t[1].priority, None);
        assert_eq!(t[1].skills, ["rust", "web"]);
        assert_eq!(t[1].deps, [local(0)]);
        assert_eq!(t[1].assignee.as_deref(), Some("claude"));
        assert_eq!(
            t[1].body,
            "Use the existing session store.\n\n  - keep the old endpoint working\n\
             - [ ] a nested step stays in the body"
        );

        assert_eq!(t[2].line, 13);
        assert_eq!(t[2].title, "Document the login flow");
        assert_eq!(t[2].priority, Some(Priority::Low));
        // `ci` is a done item: the dependency is satisfied and dropped.
        assert_eq!(t[2].deps, [local(1), existing(14)]);

        assert_eq!(t[3].title, "Numbered item");
        assert_eq!(t[3].priority, Some(Priority::High));
        assert_eq!(t[4].title, "Another");
        assert_eq!(t[4].priority, Some(Priority::Low));
        assert_eq!(t[5].title, "Third");
        assert_eq!(t[5].priority, Some(Priority::Med));
        assert_eq!(t[5].deps, [existing(14)], "duplicates are merged");
        assert_eq!(t[6].title, "Close #12 today");
        assert!(t[6].skills.is_empty());
    }

    #[test]
    fn checklist_forward_references_and_crlf() {
        let text = "- [ ] A after:b\r\n- [ ] B {b} after:#3\r\n- [ ] C\r\n";
        let t = ok("x.md", text);
        assert_eq!(t[0].deps, [local(1)]);
        assert_eq!(t[1].deps, [local(2)]);
        assert_eq!(t[1].title, "B");
        assert_eq!(t[2].title, "C");
        assert_eq!(creation_order(&t), [2, 1, 0]);
    }

    #[test]
    fn annotations_only_at_the_end() {
        let t = ok(
            "x.md",
            "- [ ] Mail @bob about #rust docs and (HIGH) stuff !low",
        );
        assert_eq!(t[0].title, "Mail @bob about #rust docs and (HIGH) stuff");
        assert_eq!(t[0].priority, Some(Priority::Low));
        assert!(t[0].skills.is_empty());
        assert_eq!(t[0].assignee, None);
        let t = ok("x.md", "- [ ] after:,,, {} @ ! #");
        assert_eq!(t[0].title, "after:,,, {} @ ! #");
        let t = ok("x.md", "- [ ] Update docs (README)");
        assert_eq!(t[0].title, "Update docs (README)");
        assert_eq!(t[0].priority, None);
    }

    #[test]
    fn table_happy_path() {
        let text = "\
Intro text.

| ID | Task | Priority | Skills | Depends | Assigned To | Description | Status | Notes |
|----|------|:--------:|--------|---------|-------------|-------------|--------|-------|
| T-001 | Set up CI | HIGH | ci | — | | | ✅ DONE | x |
| T-002 | Write the login page | 🔴 High | ui, web | T-001 | @claude | First line<br>second | TODO | |
| T-003 | Test a \\| b | low | testing #qa | T-002, T-009 | - | | In Progress | |
| `T-004` | Review | | | T-3 #1 | codex | | Cancelled | |
| T-005 | Last | P2 | | T-004 | | | | |

| Name | Value |
|------|-------|
| not | tasks |
";
        let t = ok("plan.md", text);
        assert_eq!(t.len(), 3, "{t:#?}");
        assert_eq!(t[0].line, 6);
        assert_eq!(t[0].title, "Write the login page");
        assert_eq!(t[0].priority, Some(Priority::High));
        assert_eq!(t[0].skills, ["ui", "web"]);
        assert!(t[0].deps.is_empty(), "T-001 is done: dropped");
        assert_eq!(t[0].assignee.as_deref(), Some("claude"));
        assert_eq!(t[0].body, "First line\nsecond");

        assert_eq!(t[1].line, 7);
        assert_eq!(t[1].title, "Test a | b");
        assert_eq!(t[1].priority, Some(Priority::Low));
        assert_eq!(t[1].skills, ["testing", "qa"]);
        // T-002 is the file's label; T-009 is not, so it is a store task.
        assert_eq!(t[1].deps, [local(0), existing(9)]);
        assert_eq!(t[1].assignee, None);

        assert_eq!(t[2].line, 9);
        assert_eq!(t[2].title, "Last");
        assert_eq!(t[2].priority, Some(Priority::Low));
        assert!(t[2].deps.is_empty(), "T-004 is cancelled: dropped");
    }

    #[test]
    fn checklist_and_table_in_file_order() {
        let text = "\
- [ ] First {one}

| Title | After |
|---|---|
| Second | one |

- [ ] Third after:#2
";
        let t = ok("x.md", text);
        let titles: Vec<&str> = t.iter().map(|t| t.title.as_str()).collect();
        assert_eq!(titles, ["First", "Second", "Third"]);
        assert_eq!(t[1].deps, [local(0)]);
        assert_eq!(t[2].deps, [local(1)]);
        assert_eq!(t[2].line, 7);
    }

    #[test]
    fn toml_happy_path() {
        let text = r##"
# Sprint 4
[[task]]
id = "login"
title = "Write the login handler"
body = """
Use the existing session store.
"""
priority = "high"
skills = ["rust", "web"]
after = ["T-014", "tests"]
assignee = "claude"

[[task]]
title = "Write the tests"
id = "tests"
priority = "LOW"

[[task]]
title = "Ship it"
after = ["#1", "tests", "T-7"]
skills = "ops, deploy"
"##;
        let t = ok("tasks.toml", text);
        assert_eq!(t.len(), 3);
        assert_eq!(t[0].line, 3);
        assert_eq!(t[0].title, "Write the login handler");
        assert_eq!(t[0].body, "Use the existing session store.\n");
        assert_eq!(t[0].priority, Some(Priority::High));
        assert_eq!(t[0].skills, ["rust", "web"]);
        assert_eq!(t[0].deps, [existing(14), local(1)]);
        assert_eq!(t[0].assignee.as_deref(), Some("claude"));
        assert_eq!(t[1].line, 14);
        assert_eq!(t[1].priority, Some(Priority::Low));
        assert_eq!(t[2].line, 19);
        assert_eq!(t[2].deps, [local(0), local(1), existing(7)]);
        assert_eq!(t[2].skills, ["ops", "deploy"]);
        assert_eq!(creation_order(&t), [1, 0, 2]);
    }

    #[test]
    fn json_happy_path() {
        let text = r#"[
  {"id": "login", "title": "Write the login handler", "priority": "high",
   "skills": ["rust"], "body": "Details", "assignee": "claude"},
  {
    "title": "Test the login handler, [not] {a} \"label\"",
    "after": ["login", "T-003"],
    "priority": null
  }
]"#;
        let t = ok("tasks.json", text);
        assert_eq!(t.len(), 2);
        assert_eq!(t[0].line, 2);
        assert_eq!(t[0].title, "Write the login handler");
        assert_eq!(t[0].priority, Some(Priority::High));
        assert_eq!(t[0].skills, ["rust"]);
        assert_eq!(t[0].body, "Details");
        assert_eq!(t[0].assignee.as_deref(), Some("claude"));
        assert_eq!(t[1].line, 4);
        assert_eq!(t[1].deps, [local(0), existing(3)]);

        let wrapped = "{\n \"tasks\": [\n  {\"title\": \"A\"},\n  {\"title\": \"B\", \"after\": [\"#1\"]}\n ]\n}";
        let t = ok("whatever", wrapped);
        assert_eq!(t.len(), 2);
        assert_eq!((t[0].line, t[1].line), (3, 4));
        assert_eq!(t[1].deps, [local(0)]);
    }

    #[test]
    fn to_new_task_maps_local_deps() {
        let t = ok(
            "x.md",
            "- [ ] A after:#2,T-009 !high #rust @claude\n- [ ] B\n",
        );
        assert_eq!(t[0].to_new_task(&[None, None]), None);
        let n = t[0].to_new_task(&[None, Some(TaskId(20))]).unwrap();
        assert_eq!(n.title, "A");
        assert_eq!(n.deps, [TaskId(20), TaskId(9)]);
        assert_eq!(n.priority, Some(Priority::High));
        assert_eq!(n.skills, ["rust"]);
        assert_eq!(n.assignee.as_deref(), Some("claude"));
    }

    // ---- errors ----

    #[test]
    fn bad_priority() {
        one_error(
            "x.md",
            "- [ ] A\n- [ ] B !urgent\n",
            2,
            "`!urgent` is not a priority",
        );
        one_error(
            "x.md",
            "- [ ] A priority: soon\n",
            1,
            "`soon` is not a priority",
        );
        one_error(
            "x.md",
            "| Task | Priority |\n|---|---|\n| A | high |\n| B | asap |\n",
            4,
            "`asap` is not a priority",
        );
        one_error(
            "x.toml",
            "[[task]]\ntitle = \"A\"\n\n[[task]]\ntitle = \"B\"\npriority = \"urgent\"\n",
            6,
            "`urgent` is not a priority",
        );
        one_error(
            "x.md",
            "- [ ] A !high !low\n",
            1,
            "two different priorities",
        );
    }

    #[test]
    fn empty_title() {
        one_error("x.md", "- [ ] A\n- [ ]\n- [ ] C\n", 2, "the title is empty");
        one_error(
            "x.md",
            "- [ ] A\n\n- [ ]   !high #rust\n",
            3,
            "the title is empty",
        );
        one_error(
            "x.md",
            "| Task | Skills |\n|---|---|\n| A | x |\n|  | y |\n",
            4,
            "the title is empty",
        );
        one_error("x.json", "[{\"title\": \"  \"}]", 1, "the title is empty");
        one_error("x.toml", "[[task]]\nbody = \"x\"\n", 1, "no `title`");
    }

    #[test]
    fn unknown_reference() {
        one_error(
            "x.md",
            "- [ ] A\n- [ ] B after:nope\n",
            2,
            "unknown dependency `nope`",
        );
        one_error(
            "x.md",
            "- [ ] A\n- [ ] B after:#3\n",
            2,
            "`#3` is not a task of this file",
        );
        one_error(
            "x.md",
            "| Task | Depends |\n|---|---|\n| A | |\n| B | A |\n",
            4,
            "unknown dependency `A`",
        );
        one_error(
            "x.toml",
            "[[task]]\ntitle = \"A\"\n\n[[task]]\ntitle = \"B\"\nafter = [\"later\"]\n",
            6,
            "unknown dependency `later`",
        );
    }

    #[test]
    fn cycles() {
        let text = "- [ ] A after:#3\n- [ ] B\n- [ ] C after:#1\n";
        let e = errs("x.md", text);
        assert_eq!(e, [err(1, "dependency cycle: #1 → #3 → #1")]);

        let text = "- [ ] A {a} after:c\n- [ ] B {b} after:a\n- [ ] C {c} after:b\n";
        let e = errs("x.md", text);
        assert_eq!(e, [err(1, "dependency cycle: a → c → b → a")]);

        one_error(
            "x.md",
            "- [ ] A\n- [ ] B after:#2\n",
            2,
            "depends on itself: #2 → #2",
        );
        one_error(
            "x.json",
            "[\n {\"title\": \"A\"},\n {\"title\": \"B\", \"id\": \"b\", \"after\": [\"b\"]}\n]",
            3,
            "depends on itself: b → b",
        );
        // Two separate cycles are both reported.
        let text = "- [ ] A after:#2\n- [ ] B after:#1\n- [ ] C after:#4\n- [ ] D after:#3\n";
        let e = errs("x.md", text);
        assert_eq!(
            e,
            [
                err(1, "dependency cycle: #1 → #2 → #1"),
                err(3, "dependency cycle: #3 → #4 → #3")
            ]
        );
    }

    #[test]
    fn bad_table_rows() {
        one_error(
            "x.md",
            "| Task | Skills |\n|---|---|\n| A | x |\n| B | y | z |\n| C | w |\n",
            4,
            "this row has 3 cells but the header has 2",
        );
        one_error(
            "x.md",
            "| Task | Skills |\n|---|\n| A | x |\n",
            2,
            "the separator row has 1 cells",
        );
        one_error(
            "x.md",
            "| Task | Skills |\n| A | x |\n",
            1,
            "no separator row",
        );
        one_error(
            "x.md",
            "| Task | Agent | Assignee |\n|---|---|---|\n| A | b | c |\n",
            1,
            "mean the same thing",
        );
    }

    #[test]
    fn unknown_toml_key_and_toml_syntax() {
        one_error(
            "x.toml",
            "[[task]]\ntitle = \"A\"\n\n[[task]]\ntitle = \"B\"\ndeps = [\"#1\"]\n",
            6,
            "unknown key `deps`",
        );
        one_error(
            "x.toml",
            "[[tasks]]\ntitle = \"A\"\n",
            1,
            "unknown key `tasks`",
        );
        one_error(
            "x.toml",
            "[[task]]\ntitle = \"A\"\nskills = [1]\n",
            3,
            "must hold strings",
        );
        let e = errs(
            "x.toml",
            "[[task]]\ntitle = \"A\"\n\n[[task]]\ntitle = \"B\n",
        );
        assert_eq!(e.len(), 1, "{e:#?}");
        assert_eq!(e[0].line, 5, "{e:#?}");
        assert!(e[0].message.starts_with("TOML syntax: "), "{e:#?}");
    }

    #[test]
    fn bad_json() {
        let e = errs("x.json", "[\n {\"title\": \"A\"},\n {\"title\": \"B\",}\n]");
        assert_eq!(e.len(), 1, "{e:#?}");
        assert_eq!(e[0].line, 3);
        assert!(e[0].message.starts_with("JSON syntax: "), "{e:#?}");
        assert!(!e[0].message.contains("column"), "{e:#?}");

        one_error(
            "x.json",
            "[\n {\"title\": \"A\"},\n {\"title\": \"B\", \"prio\": \"x\"}\n]",
            3,
            "unknown key `prio`",
        );
        one_error(
            "x.json",
            "[\n {\"title\": \"A\"},\n 5\n]",
            3,
            "task 2 is not an object",
        );
        one_error("x.json", "{\"task\": []}", 0, "unknown key `task`");
        one_error(
            "x.json",
            "\"just a string\"",
            0,
            "expected an array of tasks",
        );
        one_error(
            "x.json",
            "[{\"title\": 5}]",
            1,
            "`title` must be a string, not a number",
        );
    }

    #[test]
    fn other_errors() {
        one_error(
            "x.md",
            "- [ ] A {x}\n- [ ] B {X}\n",
            2,
            "the label `X` is already used",
        );
        one_error("x.md", "- [ ] A @a @b\n", 1, "two different agents");
        one_error(
            "x.json",
            "[{\"title\": \"A\", \"assignee\": \"a b\"}]",
            1,
            "not an agent",
        );
        one_error(
            "x.md",
            "# Nothing here\n\nJust prose.\n",
            0,
            "no tasks found",
        );
        one_error("x.md", "- [x] A\n- [x] B\n", 0, "all 2 items are done");
        one_error("x.json", "[]", 0, "no tasks found");
        one_error("x.toml", "# only a comment\n", 0, "no tasks found");
        let long = format!("- [ ] {}\n", "x".repeat(301));
        one_error("x.md", &long, 1, "longer than 300");
    }

    #[test]
    fn one_bad_line_among_many_good_ones() {
        let mut text = String::new();
        for k in 1..=50 {
            if k == 1 {
                text.push_str("- [ ] Task 1 {first}\n");
            } else if k == 37 {
                text.push_str("- [ ] Task 37 after:missing-label\n");
            } else {
                text.push_str(&format!("- [ ] Task {k} !med #rust after:#1,first\n"));
            }
        }
        let e = errs("x.md", &text);
        assert_eq!(e.len(), 1, "{e:#?}");
        assert_eq!(e[0].line, 37);
        assert!(e[0].message.contains("missing-label"));
    }

    #[test]
    fn all_errors_are_reported_in_line_order() {
        let text = "- [ ] A after:zzz\n- [ ]\n- [ ] C !soon\n- [ ] D\n";
        let e = errs("x.md", text);
        let lines: Vec<usize> = e.iter().map(|e| e.line).collect();
        assert_eq!(lines, [1, 2, 3], "{e:#?}");
    }

    #[test]
    fn garbage_gives_clean_errors() {
        for (name, text) in [
            ("x.md", ""),
            ("x.toml", "   \n\n"),
            ("x.json", "\u{feff}"),
            ("x.md", "\0\u{1}\u{2}binary\u{7f}"),
            ("x", "\u{fffd}\u{fffd}PNG\r\n\u{1a}\n"),
            ("x.json", "{{{{[[[["),
            ("x.json", "]"),
            ("x.toml", "= = =\n[[[\n\"\"\"\n"),
            ("x.toml", "task = 3"),
            ("x.toml", "task = [1, 2]"),
            ("x.toml", "[task]\ntitle = \"a\""),
            ("x.md", "|\n|-|\n|\n"),
            ("x.md", "```\n- [ ] never closed"),
        ] {
            let e = errs(name, text);
            assert!(!e.is_empty(), "{name}: {text:?}");
        }
    }

    #[test]
    fn no_panics_on_random_input() {
        // A tiny deterministic generator: no dependency, the same cases every run.
        let pieces = [
            "- [ ] ",
            "- [x] ",
            "1. [ ] ",
            "|",
            "\\|",
            "---",
            "\n",
            "\r\n",
            "  ",
            "\t",
            "#",
            "#1",
            "#a",
            "!high",
            "!x",
            "after:",
            ",",
            "@",
            "{",
            "}",
            "[",
            "]",
            "\"",
            "=",
            "[[task]]",
            "title",
            ":",
            "T-001",
            "é",
            "→",
            "\u{feff}",
            "```",
            "<br>",
            "(HIGH)",
            "priority:",
            "tasks",
            "null",
            "0",
            "x",
        ];
        let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
        let mut next = || {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            seed
        };
        for _ in 0..3000 {
            let len = (next() % 40) as usize;
            let text: String = (0..len)
                .map(|_| pieces[(next() % pieces.len() as u64) as usize])
                .collect();
            for name in ["x.md", "x.toml", "x.json", "x"] {
                if let Ok(tasks) = parse_tasks(name, &text) {
                    assert!(!tasks.is_empty());
                    assert_eq!(creation_order(&tasks).len(), tasks.len());
                }
            }
        }
    }

    #[test]
    fn item_keys_follow_labels_then_titles() {
        let t = ok(
            "x.md",
            "- [ ] Write   the Parser !high {p}\n- [ ] Write the parser #rust\n- [ ] write THE parser\n- [ ] Docs\n",
        );
        assert_eq!(
            item_keys(&t),
            [
                "id:p",
                "title:write the parser",
                "title:write the parser#2",
                "title:docs"
            ]
        );
        // Task-ID-like labels compare by number, as references do.
        let t = ok(
            "x.md",
            "| ID | Task |\n|----|------|\n| T-01 | A |\n| b | B |\n",
        );
        assert_eq!(item_keys(&t), ["id:T-001", "id:b"]);
    }
}
