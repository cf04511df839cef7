//! Drafts (tasks as read, in any format) and their resolution into tasks: labels, references
//! and dependency cycles.

use std::collections::BTreeMap;
use std::collections::HashMap;
use std::collections::HashSet;
use std::collections::hash_map::Entry as MapEntry;

use super::DepRef;
use super::ImportError;
use super::ImportedTask;
use super::err;
use crate::task::Priority;
use crate::task::TaskId;
use crate::task::check_skill;
use crate::task::find_cycle;

/// A task as read, before its dependencies are resolved.
#[derive(Debug, Default)]
pub(super) struct Draft {
    pub(super) line: usize,
    pub(super) title: String,
    pub(super) body: String,
    pub(super) priority: Option<Priority>,
    pub(super) skills: Vec<String>,
    /// References as written, each with its line.
    pub(super) after: Vec<(String, usize)>,
    pub(super) assignee: Option<String>,
    pub(super) label: Option<String>,
}

impl Draft {
    pub(super) fn add_skill(&mut self, skill: &str, line: usize, errors: &mut Vec<ImportError>) {
        match check_skill(skill) {
            Ok(()) if !self.skills.iter().any(|s| s == skill) => self.skills.push(skill.to_owned()),
            Ok(()) => {}
            Err(m) => errors.push(err(line, m)),
        }
    }
}

/// What a format parser found.
#[derive(Debug, Default)]
pub(super) struct Parsed {
    pub(super) drafts: Vec<Draft>,
    /// Labels of skipped (done) items: dependencies on them are dropped.
    pub(super) skipped_labels: Vec<String>,
    /// How many items were skipped.
    pub(super) skipped: usize,
}

/// How labels and references are compared: task-ID-like ones by number, others ignoring case.
pub(super) fn label_key(s: &str) -> String {
    match s.parse::<TaskId>() {
        Ok(id) => id.to_string(),
        Err(_) => s.to_lowercase(),
    }
}

pub(super) fn check_label(label: &str) -> Result<(), String> {
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

pub(super) fn check_agent(name: &str) -> Result<(), String> {
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

pub(super) fn resolve(parsed: Parsed, errors: &mut Vec<ImportError>) -> Vec<ImportedTask> {
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
