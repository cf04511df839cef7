//! `baton task reopen`: a COMPLETED or UNREPORTED task back in the queue, with the reason.

use std::process::ExitCode;

use baton_core::task::TaskId;
use clap::Args;

use super::change_one;
use super::parse_id;
use crate::context::Context;
use crate::error::CliResult;

/// Arguments of `baton task reopen`.
#[derive(Args, Debug)]
pub struct ReopenArgs {
    /// The task (COMPLETED, or UNREPORTED after its agent ended without a report)
    #[arg(value_parser = parse_id)]
    pub id: TaskId,
    /// What is missing or wrong: the note the next agent reads
    #[arg(long, short = 'r')]
    pub reason: String,
    /// Reserve it for this agent (default: whoever is free first)
    #[arg(long)]
    pub to: Option<String>,
    /// Print the task as JSON
    #[arg(long)]
    pub json: bool,
}

/// Puts a COMPLETED or UNREPORTED task back to PENDING; its dependents not started yet wait
/// for it again.
pub fn cmd_task_reopen(ctx: &Context, args: &ReopenArgs) -> CliResult<ExitCode> {
    if let Some(a) = &args.to {
        ctx.project.check_agent(a)?;
    }
    change_one(ctx, args.json, |store| {
        store.reopen(args.id, &args.reason, args.to.as_deref(), &ctx.actor)
    })
}
