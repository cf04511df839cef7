//! `baton task import FILE`: a markdown checklist or table, TOML or JSON; all or nothing.

use std::path::PathBuf;
use std::process::ExitCode;

use baton_core::import::DepRef;
use baton_core::import::parse_tasks;
use baton_core::task::NewTask;
use clap::Args;

use super::TaskContext;
use super::store_err;
use super::summary;
use crate::commands::ok;
use crate::commands::print_json;
use crate::error::CliError;
use crate::error::CliResult;
use crate::error::io_error;

/// Arguments of `baton task import`.
#[derive(Args, Debug)]
pub struct ImportArgs {
    /// The file: .md (checklist or table), .toml or .json
    pub file: PathBuf,
    /// Check the file and show what would be added, without adding anything
    #[arg(long)]
    pub dry_run: bool,
    /// Print the added tasks as JSON
    #[arg(long)]
    pub json: bool,
}

/// The largest file `task import` reads.
const MAX_IMPORT: u64 = 16 * 1024 * 1024;

/// Imports tasks.
pub fn cmd_task_import(ctx: &TaskContext, args: &ImportArgs) -> CliResult<ExitCode> {
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
        CliError::user(format!(
            "{} error(s); nothing was imported:\n{}",
            lines.len(),
            lines.join("\n")
        ))
    })?;
    let mut tasks = Vec::new();
    let mut local = Vec::new();
    for t in &parsed {
        if let Some(a) = &t.assignee {
            ctx.project.check_agent(a).map_err(|e| {
                CliError::user(format!(
                    "{}:{}: {}; nothing was imported",
                    path.display(),
                    t.line,
                    e.message
                ))
            })?;
        }
        let mut deps = Vec::new();
        let mut mine = Vec::new();
        for d in &t.deps {
            match d {
                DepRef::Existing(id) => deps.push(*id),
                DepRef::Local(i) => mine.push(*i),
            }
        }
        tasks.push(NewTask {
            title: t.title.clone(),
            body: t.body.clone(),
            priority: t.priority,
            skills: t.skills.clone(),
            deps,
            assignee: t.assignee.clone(),
        });
        local.push(mine);
    }
    if args.dry_run {
        for (t, p) in tasks.iter().zip(&parsed) {
            println!(
                "line {:>4}: {} [{}]",
                p.line,
                t.title,
                t.priority.unwrap_or(baton_core::task::Priority::Med)
            );
        }
        println!("{} task(s) would be added", tasks.len());
        return ok();
    }
    let mut store = ctx.store()?;
    let (added, journal) = store.add_batch(&tasks, &local, &ctx.actor).map_err(|e| {
        CliError::user(format!(
            "{}: {}; nothing was imported",
            path.display(),
            store_err(e).message
        ))
    })?;
    ctx.after_change(&mut store, &journal)?;
    if args.json {
        return print_json(&added);
    }
    for t in &added {
        println!("added {}", summary(t));
    }
    println!("{} task(s) imported from {}", added.len(), path.display());
    ok()
}
