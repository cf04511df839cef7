//! `baton task start | done | block | requeue | cancel`: status changes.

use std::process::ExitCode;

use baton_core::task::Status;
use baton_core::task::TaskId;
use clap::Args;

use super::parse_id;
use super::summary;
use crate::commands::ok;
use crate::commands::print_json;
use crate::context::Context;
use crate::error::CliResult;
use crate::store::StatusChange;

/// Arguments of `baton task start`.
#[derive(Args, Debug)]
pub struct StartArgs {
    /// The task
    #[arg(value_parser = parse_id)]
    pub id: TaskId,
    /// The agent working on it (default: the current assignee, or whoever runs this)
    #[arg(long)]
    pub agent: Option<String>,
    /// Start it even if a dependency is not COMPLETED
    #[arg(long)]
    pub ignore_deps: bool,
    /// Print the task as JSON
    #[arg(long)]
    pub json: bool,
}

/// Arguments of `baton task done`.
#[derive(Args, Debug)]
pub struct DoneArgs {
    /// The task
    #[arg(value_parser = parse_id)]
    pub id: TaskId,
    /// What was done, for the log and the lead
    #[arg(long, short = 'm')]
    pub note: Option<String>,
    /// For a person: mark a PENDING task done without starting it (journaled as such)
    #[arg(long)]
    pub force: bool,
    /// Print the task as JSON
    #[arg(long)]
    pub json: bool,
}

/// Arguments of `baton task block`.
#[derive(Args, Debug)]
pub struct BlockArgs {
    /// The task
    #[arg(value_parser = parse_id)]
    pub id: TaskId,
    /// Why it cannot go on (credits, quota, a missing decision…)
    #[arg(long, short = 'r')]
    pub reason: String,
    /// Print the task as JSON
    #[arg(long)]
    pub json: bool,
}

/// Arguments of `baton task requeue`.
#[derive(Args, Debug)]
pub struct RequeueArgs {
    /// The task
    #[arg(value_parser = parse_id)]
    pub id: TaskId,
    /// Print the task as JSON
    #[arg(long)]
    pub json: bool,
}

/// Arguments of `baton task cancel`.
#[derive(Args, Debug)]
pub struct CancelArgs {
    /// The task
    #[arg(value_parser = parse_id)]
    pub id: TaskId,
    /// Why
    #[arg(long, short = 'r')]
    pub reason: Option<String>,
    /// Print the task as JSON
    #[arg(long)]
    pub json: bool,
}

fn change(
    ctx: &Context,
    id: TaskId,
    to: Status,
    c: StatusChange,
    json: bool,
) -> CliResult<ExitCode> {
    let (task, changed) = ctx.set_status(&mut ctx.store()?, id, to, c)?;
    if json {
        return print_json(&task);
    }
    if changed {
        println!("{}", summary(&task));
    } else {
        println!("{} is already {}: nothing to do", task.id, task.status);
    }
    ok()
}

/// Marks a task IN_PROGRESS.
pub fn cmd_task_start(ctx: &Context, args: &StartArgs) -> CliResult<ExitCode> {
    if let Some(a) = &args.agent {
        ctx.project.check_agent(a)?;
    }
    let agent = args
        .agent
        .clone()
        .or_else(|| ctx.project.config.agent(&ctx.actor).map(|a| a.name.clone()));
    let c = StatusChange {
        assignee: agent,
        ignore_deps: args.ignore_deps,
        ..Default::default()
    };
    change(ctx, args.id, Status::InProgress, c, args.json)
}

/// Marks a task COMPLETED.
pub fn cmd_task_done(ctx: &Context, args: &DoneArgs) -> CliResult<ExitCode> {
    if args.force && ctx.project.config.agent(&ctx.actor).is_some() {
        return Err(crate::error::CliError::usage(format!(
            "--force is for a person: `{}` is an agent, which reports the task it was given",
            ctx.actor
        ))
        .hint(format!("start it first: baton task start {}", args.id)));
    }
    let c = StatusChange {
        note: args.note.clone(),
        skip_start: args.force,
        ..Default::default()
    };
    change(ctx, args.id, Status::Completed, c, args.json).map_err(|e| {
        // A task never started: say the two ways on.
        let pending = ctx
            .store()
            .ok()
            .and_then(|s| s.task(args.id).ok())
            .is_some_and(|t| t.status == Status::Pending);
        if pending && !args.force {
            e.hint(format!(
                "start it first: baton task start {id} (then baton task done {id})",
                id = args.id
            ))
            .hint(format!(
                "or, as a person who did it outside baton: baton task done {} --force",
                args.id
            ))
        } else {
            e
        }
    })
}

/// Marks a task BLOCKED.
pub fn cmd_task_block(ctx: &Context, args: &BlockArgs) -> CliResult<ExitCode> {
    if args.reason.trim().is_empty() {
        return Err(crate::error::CliError::usage(
            "--reason must say why the task is blocked",
        ));
    }
    let c = StatusChange {
        reason: Some(args.reason.clone()),
        ..Default::default()
    };
    change(ctx, args.id, Status::Blocked, c, args.json)
}

/// Puts a task back to PENDING.
pub fn cmd_task_requeue(ctx: &Context, args: &RequeueArgs) -> CliResult<ExitCode> {
    change(
        ctx,
        args.id,
        Status::Pending,
        StatusChange::default(),
        args.json,
    )
}

/// Cancels a task.
pub fn cmd_task_cancel(ctx: &Context, args: &CancelArgs) -> CliResult<ExitCode> {
    let c = StatusChange {
        note: args.reason.clone(),
        ..Default::default()
    };
    change(ctx, args.id, Status::Cancelled, c, args.json)
}
