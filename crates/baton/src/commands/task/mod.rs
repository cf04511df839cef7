//! `baton task …`: the task queue. Agents call these from their panes, so they are quick,
//! safe to run many at once, and say exactly what was refused and why.

pub mod add;
pub mod edit;
pub mod import;
pub mod list;
pub mod reopen;
pub mod status;

use std::path::Path;
use std::process::ExitCode;

use baton_core::task::Task;
use baton_core::task::TaskId;
use clap::Args;
use clap::Subcommand;

use crate::commands::ok;
use crate::commands::print_json;
use crate::context::Context;
use crate::context::USER;
use crate::error::CliResult;
use crate::store::JournalEntry;
use crate::store::Store;
use crate::store::StoreResult;

/// Arguments of `baton task`.
#[derive(Args, Debug)]
pub struct TaskArgs {
    /// Who is acting (default: $BATON_AGENT in an agent's pane, else `user`)
    #[arg(long = "as", global = true, value_name = "NAME")]
    pub actor: Option<String>,

    #[command(subcommand)]
    pub command: TaskCommand,
}

/// The task subcommands.
#[derive(Subcommand, Debug)]
pub enum TaskCommand {
    /// Add a task
    Add(add::AddArgs),
    /// List tasks
    List(list::ListArgs),
    /// Show one task: its time, cost and tokens, notes and history
    Show(list::ShowArgs),
    /// Change a task's title, body, priority, skills or dependencies
    Edit(edit::EditArgs),
    /// Mark a task IN_PROGRESS (the dispatcher does this when it hands a task out)
    Start(status::StartArgs),
    /// Mark a task COMPLETED
    Done(status::DoneArgs),
    /// Mark a task BLOCKED, with the reason
    Block(status::BlockArgs),
    /// Put a task back in the queue (PENDING)
    Requeue(status::RequeueArgs),
    /// Reopen a COMPLETED or UNREPORTED task (back to PENDING), saying what is missing
    Reopen(reopen::ReopenArgs),
    /// Cancel a task
    Cancel(status::CancelArgs),
    /// Give a task to another agent
    Reassign(edit::ReassignArgs),
    /// Add every task of a file: all or nothing
    #[command(after_help = IMPORT_HELP)]
    Import(import::ImportArgs),
}

/// The formats in short, after `baton task import --help`; docs/import.md has them in full.
const IMPORT_HELP: &str = "\
Formats (by extension, else by content; the full syntax is in docs/import.md):
  Markdown checklist  - [ ] Title !high #skill after:#1,T-014 @agent {label}
                      (indented lines under an item are its body; [x] items are skipped)
  Markdown table      | ID | Task | Priority | Skills | Depends | Agent | Status |
  TOML                [[task]] with title (required), id, body, priority, skills,
                      after, assignee
  JSON                [{\"title\": ..., \"after\": [\"#1\"]}, ...] or {\"tasks\": [...]}
Dependencies: a label of the file ({label}, the ID column, id), #N (the file's Nth task)
or an existing task ID (T-014). Any error imports nothing and names the file and line.";

/// Runs a task subcommand.
pub fn cmd_task(dir: Option<&Path>, args: &TaskArgs) -> CliResult<ExitCode> {
    let actor = args
        .actor
        .clone()
        .or_else(|| std::env::var("BATON_AGENT").ok())
        .filter(|a| !a.trim().is_empty())
        .unwrap_or_else(|| USER.to_owned());
    let ctx = Context::load(dir)?.acting_as(actor);
    match &args.command {
        TaskCommand::Add(a) => add::cmd_task_add(&ctx, a),
        TaskCommand::List(a) => list::cmd_task_list(&ctx, a),
        TaskCommand::Show(a) => list::cmd_task_show(&ctx, a),
        TaskCommand::Edit(a) => edit::cmd_task_edit(&ctx, a),
        TaskCommand::Start(a) => status::cmd_task_start(&ctx, a),
        TaskCommand::Done(a) => status::cmd_task_done(&ctx, a),
        TaskCommand::Block(a) => status::cmd_task_block(&ctx, a),
        TaskCommand::Requeue(a) => status::cmd_task_requeue(&ctx, a),
        TaskCommand::Reopen(a) => reopen::cmd_task_reopen(&ctx, a),
        TaskCommand::Cancel(a) => status::cmd_task_cancel(&ctx, a),
        TaskCommand::Reassign(a) => edit::cmd_task_reassign(&ctx, a),
        TaskCommand::Import(a) => import::cmd_task_import(&ctx, a),
    }
}

/// Makes one change to one task, does the after-change steps, and prints the task (its
/// summary line, or JSON): what `edit`, `reassign` and `reopen` end with.
pub fn change_one(
    ctx: &Context,
    json: bool,
    change: impl FnOnce(&mut Store) -> StoreResult<(Task, Vec<JournalEntry>)>,
) -> CliResult<ExitCode> {
    let mut store = ctx.store()?;
    let (task, journal) = change(&mut store)?;
    ctx.after_change(&mut store, &journal);
    if json {
        return print_json(&task);
    }
    println!("{}", summary(&task));
    ok()
}

/// Parses a task ID argument.
pub fn parse_id(s: &str) -> Result<TaskId, String> {
    s.parse::<TaskId>().map_err(|e| e.to_string())
}

/// Prints a task's one-line summary.
pub fn summary(t: &Task) -> String {
    format!(
        "{}  {}  [{} · {}{}]",
        t.id,
        t.title,
        t.priority,
        t.status,
        t.assignee
            .as_ref()
            .map(|a| format!(" · {a}"))
            .unwrap_or_default()
    )
}
