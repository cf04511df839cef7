//! `baton task import FILE`: a markdown checklist or table, TOML or JSON; all or nothing.
//!
//! Each item of a file is imported once: its key (its label, else its title; see
//! `baton_core::import::item_keys`) is recorded with the task in the same transaction, and a
//! later import of the same file adds only the items not recorded yet, saying what it skipped.

use std::path::PathBuf;
use std::process::ExitCode;

use std::collections::BTreeMap;
use std::path::Path;

use baton_core::import::DepRef;
use baton_core::import::ImportedTask;
use baton_core::import::item_keys;
use baton_core::import::parse_tasks;
use baton_core::task::NewTask;
use baton_core::task::Priority;
use baton_core::task::TaskId;
use clap::Args;
use serde::Serialize;

use super::summary;
use crate::commands::print_json;
use crate::context::Context;
use crate::error::CliError;
use crate::error::CliResult;
use crate::error::io_error;

/// Arguments of `baton task import`.
#[derive(Args, Debug)]
pub struct ImportArgs {
    /// The file: .md (checklist or table), .toml or .json
    pub file: PathBuf,
    /// Run every check of the import and show what would be added and skipped, without
    /// adding anything
    #[arg(long)]
    pub dry_run: bool,
    /// Print the added tasks as JSON (with --dry-run: what would be added and skipped)
    #[arg(long)]
    pub json: bool,
}

/// The largest file `task import` reads.
const MAX_IMPORT: u64 = 16 * 1024 * 1024;

/// What an import did, or would do.
pub struct Imported {
    /// The tasks added (with `--dry-run`: that would be added, with the IDs they would get).
    pub added: Vec<baton_core::task::Task>,
    /// The items skipped because they were imported before: (line, title, task).
    pub skipped: Vec<(usize, String, TaskId)>,
}

/// Imports tasks.
pub fn cmd_task_import(ctx: &Context, args: &ImportArgs) -> CliResult<ExitCode> {
    import(ctx, args).map(|_| ExitCode::SUCCESS)
}

/// Refuses the whole list when there are problems, each on its line (`file:line: …`).
fn refuse(problems: &[String]) -> CliResult<()> {
    if problems.is_empty() {
        return Ok(());
    }
    Err(CliError::user(format!(
        "{} error(s); nothing was imported:\n{}",
        problems.len(),
        problems.join("\n")
    )))
}

/// Imports the items of a file not imported yet (and prints what it did): the command, and
/// `baton run FILE`.
pub fn import(ctx: &Context, args: &ImportArgs) -> CliResult<Imported> {
    let path = &args.file;
    let meta = std::fs::metadata(path)
        .map_err(|e| io_error(format!("cannot read {}", path.display()), e))?;
    if meta.len() > MAX_IMPORT {
        return Err(CliError::user(format!(
            "{}: {} bytes is more than the {} MiB a task list may have",
            path.display(),
            meta.len(),
            MAX_IMPORT / 1024 / 1024
        )));
    }
    let bytes =
        std::fs::read(path).map_err(|e| io_error(format!("cannot read {}", path.display()), e))?;
    let text = String::from_utf8(bytes).map_err(|e| {
        let valid = &e.as_bytes()[..e.utf8_error().valid_up_to()];
        let line = valid.iter().filter(|b| **b == b'\n').count() + 1;
        CliError::user(format!(
            "{}:{line}: not UTF-8 text; nothing was imported",
            path.display()
        ))
    })?;
    let name = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let parsed = parse_tasks(&name, &text).map_err(|errors| {
        let lines: Vec<String> = errors
            .iter()
            .map(|e| {
                if e.line > 0 {
                    format!("{}:{}: {}", path.display(), e.line, e.message)
                } else {
                    format!("{}: {}", path.display(), e.message)
                }
            })
            .collect();
        refuse(&lines).expect_err("parse_tasks fails with one error or more")
    })?;
    // Every unknown agent, before the store is opened (none is created for a refused list).
    let unknown_agents: Vec<String> = parsed
        .iter()
        .filter_map(|t| {
            let e = ctx.project.check_agent(t.assignee.as_deref()?).err()?;
            Some(format!("{}:{}: {}", path.display(), t.line, e.message))
        })
        .collect();
    refuse(&unknown_agents)?;
    let keys = item_keys(&parsed);
    let file = file_key(&ctx.project.root, path);
    // The dry run creates no store where there is none (and none was recorded): it runs on
    // an empty one in memory, as the real import would on the new store.
    let state = ctx.project.root.join(".baton");
    let has_store = state.join(crate::store::STORE_FILE).exists()
        || state.join(crate::store::STORE_ID_FILE).exists();
    let mut store = if args.dry_run && !has_store {
        crate::store::Store::open_in_memory()?
    } else {
        ctx.store()?
    };
    let mut marks = store.import_marks(&file)?;
    // Items recorded the old way (see `imported_before_per_item_keys`): recorded per item
    // with this import, so the old way is looked at once.
    let mut known = Vec::new();
    if keys.iter().any(|k| !marks.contains_key(k)) {
        for (key, id) in imported_before_per_item_keys(&store, path, &parsed, &keys)? {
            if !marks.contains_key(&key) {
                marks.insert(key.clone(), id);
                known.push((key, id));
            }
        }
    }
    // Which items are new; a new item's dependency on an item imported before is that task.
    let mut index_of_new = vec![None; parsed.len()];
    let mut skipped = Vec::new();
    for (i, (t, key)) in parsed.iter().zip(&keys).enumerate() {
        match marks.get(key) {
            Some(id) => skipped.push((t.line, t.title.clone(), *id)),
            None => index_of_new[i] = Some(index_of_new.iter().flatten().count()),
        }
    }
    let mut tasks = Vec::new();
    let mut local = Vec::new();
    let mut new_keys = Vec::new();
    let mut new_lines = Vec::new();
    let mut missing = Vec::new();
    for (i, t) in parsed.iter().enumerate() {
        if index_of_new[i].is_none() {
            continue;
        }
        let mut deps = Vec::new();
        let mut mine = Vec::new();
        for d in &t.deps {
            match *d {
                DepRef::Existing(id) => {
                    if store.task(id).is_err() {
                        missing.push(format!(
                            "{}:{}: depends on {id}, which does not exist",
                            path.display(),
                            t.line
                        ));
                    }
                    deps.push(id);
                }
                DepRef::Local(j) => match index_of_new[j] {
                    Some(k) => mine.push(k),
                    None => deps.extend(marks.get(&keys[j]).copied()),
                },
            }
        }
        tasks.push(new_task(t, deps));
        local.push(mine);
        new_keys.push(keys[i].clone());
        new_lines.push(t.line);
    }
    refuse(&missing)?;
    let name = path.display().to_string();
    let added = if tasks.is_empty() && known.is_empty() {
        Vec::new()
    } else {
        let (added, journal) = store
            .import_batch(
                &tasks,
                &local,
                &ctx.actor,
                &file,
                &new_keys,
                &known,
                args.dry_run,
            )
            .map_err(|e| {
                CliError::user(format!(
                    "{name}: {}; nothing was imported",
                    CliError::from(e).message
                ))
            })?;
        if !args.dry_run {
            ctx.after_change(&mut store, &journal);
        }
        added
    };
    let done = Imported { added, skipped };
    if args.dry_run {
        print_dry_run(&name, &done, &new_lines, args.json)?;
        return Ok(done);
    }
    if args.json {
        print_json(&done.added)?;
    } else {
        for t in &done.added {
            println!("added {}", summary(t));
        }
    }
    // With --json the list goes to stdout alone; what was skipped is said on stderr.
    let skipped = skipped_line(&name, &done.skipped);
    match (&skipped, args.json) {
        (Some(line), false) => println!("{line}"),
        (Some(line), true) => eprintln!("{line}"),
        (None, _) => {}
    }
    if !args.json {
        println!("{} task(s) imported from {name}", done.added.len());
    }
    Ok(done)
}

/// The task to create for an item, with its dependencies on existing tasks.
fn new_task(t: &ImportedTask, deps: Vec<TaskId>) -> NewTask {
    NewTask {
        title: t.title.clone(),
        body: t.body.clone(),
        priority: t.priority,
        skills: t.skills.clone(),
        deps,
        assignee: t.assignee.clone(),
    }
}

/// "skipped 5 items already imported from plan.md: T-001 (line 3), …", or nothing.
fn skipped_line(name: &str, skipped: &[(usize, String, TaskId)]) -> Option<String> {
    if skipped.is_empty() {
        return None;
    }
    let n = skipped.len();
    let shown: Vec<String> = skipped
        .iter()
        .take(10)
        .map(|(line, title, id)| format!("{id} \"{title}\" (line {line})"))
        .collect();
    Some(format!(
        "skipped {n} item{} already imported from {name}: {}{}",
        if n == 1 { "" } else { "s" },
        shown.join(", "),
        if n > shown.len() {
            format!(" and {} more", n - shown.len())
        } else {
            String::new()
        }
    ))
}

/// What `--dry-run --json` prints.
#[derive(Serialize)]
struct DryRun<'a> {
    file: &'a str,
    would_add: Vec<WouldAdd<'a>>,
    skipped: Vec<Skipped<'a>>,
}

#[derive(Serialize)]
struct WouldAdd<'a> {
    line: usize,
    id: TaskId,
    title: &'a str,
    priority: Priority,
    skills: &'a [String],
    deps: &'a [TaskId],
    assignee: Option<&'a str>,
}

#[derive(Serialize)]
struct Skipped<'a> {
    line: usize,
    title: &'a str,
    task: TaskId,
}

fn print_dry_run(name: &str, done: &Imported, lines: &[usize], json: bool) -> CliResult<()> {
    if json {
        let report = DryRun {
            file: name,
            would_add: done
                .added
                .iter()
                .zip(lines)
                .map(|(t, &line)| WouldAdd {
                    line,
                    id: t.id,
                    title: &t.title,
                    priority: t.priority,
                    skills: &t.skills,
                    deps: &t.deps,
                    assignee: t.assignee.as_deref(),
                })
                .collect(),
            skipped: done
                .skipped
                .iter()
                .map(|(line, title, task)| Skipped {
                    line: *line,
                    title,
                    task: *task,
                })
                .collect(),
        };
        print_json(&report)?;
        return Ok(());
    }
    for (t, line) in done.added.iter().zip(lines) {
        println!("line {line:>4}: would add {}", summary(t));
    }
    if let Some(line) = skipped_line(name, &done.skipped) {
        println!("{line}");
    }
    println!(
        "{} task(s) would be added, {} skipped; nothing was changed",
        done.added.len(),
        done.skipped.len()
    );
    Ok(())
}

/// The name a file's imported items are recorded under: its path from the project root when
/// it is inside the project, else its full path.
fn file_key(root: &Path, path: &Path) -> String {
    let full = std::fs::canonicalize(path).unwrap_or_else(|_| path.to_owned());
    let root = std::fs::canonicalize(root).unwrap_or_else(|_| root.to_owned());
    full.strip_prefix(&root)
        .map(Path::to_path_buf)
        .unwrap_or(full)
        .display()
        .to_string()
}

/// For a file `baton run` imported before items had keys (it recorded the file's hash as
/// `imported.<hash>` → the path): each item whose title is a task's title counts as imported.
fn imported_before_per_item_keys(
    store: &crate::store::Store,
    path: &Path,
    parsed: &[ImportedTask],
    keys: &[String],
) -> CliResult<BTreeMap<String, TaskId>> {
    let shown = path.display().to_string();
    let name = path.file_name().map(|n| n.to_string_lossy().into_owned());
    let legacy = store
        .meta_with_prefix("imported.")?
        .into_iter()
        .any(|(_, v)| {
            v == shown
                || Path::new(&v)
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    == name
        });
    if !legacy {
        return Ok(BTreeMap::new());
    }
    let mut by_title: BTreeMap<String, TaskId> = BTreeMap::new();
    for t in store.tasks(&crate::store::TaskFilter::default())? {
        by_title.entry(t.title.clone()).or_insert(t.id);
    }
    Ok(parsed
        .iter()
        .zip(keys)
        .filter_map(|(t, k)| by_title.get(t.title.trim()).map(|id| (k.clone(), *id)))
        .collect())
}
