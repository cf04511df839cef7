//! `baton task add`.

use std::process::ExitCode;

use baton_core::task::NewTask;
use baton_core::task::Priority;
use baton_core::task::TaskId;
use clap::Args;

use super::parse_id;
use super::summary;
use crate::commands::ok;
use crate::commands::print_json;
use crate::context::Context;
use crate::error::CliError;
use crate::error::CliResult;
use crate::error::io_error;

/// Arguments of `baton task add`.
#[derive(Args, Debug)]
pub struct AddArgs {
    /// The title: one line
    pub title: String,
    /// The full description
    #[arg(long, conflicts_with = "body_file")]
    pub body: Option<String>,
    /// Read the description from a file (`-` for stdin)
    #[arg(long, value_name = "FILE")]
    pub body_file: Option<String>,
    /// HIGH, MED or LOW
    #[arg(long, short = 'p', default_value = "MED")]
    pub priority: Priority,
    /// A skill the task needs (repeat for several)
    #[arg(long = "skill", short = 's', value_name = "SKILL")]
    pub skills: Vec<String>,
    /// A task that must be COMPLETED first (repeat for several)
    #[arg(long = "after", value_name = "T-XXX", value_parser = parse_id)]
    pub after: Vec<TaskId>,
    /// Reserve it for this agent
    #[arg(long = "to", value_name = "AGENT")]
    pub to: Option<String>,
    /// Print the new task as JSON
    #[arg(long)]
    pub json: bool,
}

/// Adds one task.
pub fn cmd_task_add(ctx: &Context, args: &AddArgs) -> CliResult<ExitCode> {
    if let Some(agent) = &args.to {
        ctx.project.check_agent(agent)?;
    }
    let body = match args.body_file.as_deref() {
        Some("-") => {
            let mut s = String::new();
            std::io::Read::read_to_string(&mut std::io::stdin(), &mut s)
                .map_err(|e| io_error("cannot read the body from stdin", e))?;
            s
        }
        Some(f) => {
            std::fs::read_to_string(f).map_err(|e| io_error(format!("cannot read {f}"), e))?
        }
        None => args.body.clone().unwrap_or_default(),
    };
    let new = NewTask {
        title: args.title.clone(),
        body,
        priority: Some(args.priority),
        skills: args.skills.clone(),
        deps: args.after.clone(),
        assignee: args.to.clone(),
    };
    let mut store = ctx.store()?;
    let (tasks, journal) = store.add_tasks(&[new], &ctx.actor)?;
    ctx.after_change(&mut store, &journal);
    let task = tasks
        .into_iter()
        .next()
        .ok_or_else(|| CliError::internal("no task was created"))?;
    if args.json {
        return print_json(&task);
    }
    println!("added {}", summary(&task));
    ok()
}
