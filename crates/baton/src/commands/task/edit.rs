//! `baton task edit` and `baton task reassign`.

use std::process::ExitCode;

use baton_core::task::Priority;
use baton_core::task::TaskId;
use clap::Args;

use super::change_one;
use super::parse_id;
use crate::context::Context;
use crate::error::CliError;
use crate::error::CliResult;
use crate::store::TaskEdit;

/// Arguments of `baton task edit`.
#[derive(Args, Debug)]
pub struct EditArgs {
    /// The task
    #[arg(value_parser = parse_id)]
    pub id: TaskId,
    /// New title
    #[arg(long)]
    pub title: Option<String>,
    /// New description
    #[arg(long)]
    pub body: Option<String>,
    /// New priority
    #[arg(long, short = 'p')]
    pub priority: Option<Priority>,
    /// Add a skill
    #[arg(long = "skill", value_name = "SKILL")]
    pub add_skills: Vec<String>,
    /// Remove a skill
    #[arg(long = "no-skill", value_name = "SKILL")]
    pub remove_skills: Vec<String>,
    /// Add a dependency
    #[arg(long = "after", value_name = "T-XXX", value_parser = parse_id)]
    pub add_deps: Vec<TaskId>,
    /// Remove a dependency
    #[arg(long = "not-after", value_name = "T-XXX", value_parser = parse_id)]
    pub remove_deps: Vec<TaskId>,
    /// Print the task as JSON
    #[arg(long)]
    pub json: bool,
}

/// Arguments of `baton task reassign`.
#[derive(Args, Debug)]
pub struct ReassignArgs {
    /// The task
    #[arg(value_parser = parse_id)]
    pub id: TaskId,
    /// The agent to give it to
    pub agent: String,
    /// Print the task as JSON
    #[arg(long)]
    pub json: bool,
}

/// Edits a task.
pub fn cmd_task_edit(ctx: &Context, args: &EditArgs) -> CliResult<ExitCode> {
    let edit = TaskEdit {
        title: args.title.clone(),
        body: args.body.clone(),
        priority: args.priority,
        add_skills: args.add_skills.clone(),
        remove_skills: args.remove_skills.clone(),
        add_deps: args.add_deps.clone(),
        remove_deps: args.remove_deps.clone(),
    };
    if edit.title.is_none()
        && edit.body.is_none()
        && edit.priority.is_none()
        && edit.add_skills.is_empty()
        && edit.remove_skills.is_empty()
        && edit.add_deps.is_empty()
        && edit.remove_deps.is_empty()
    {
        return Err(CliError::usage(
            "nothing to change: give --title, --body, --priority, --skill, --no-skill, --after or --not-after",
        ));
    }
    change_one(ctx, args.json, |store| {
        store.edit(args.id, &edit, &ctx.actor)
    })
}

/// Gives a task to another agent.
pub fn cmd_task_reassign(ctx: &Context, args: &ReassignArgs) -> CliResult<ExitCode> {
    ctx.project.check_agent(&args.agent)?;
    let code = change_one(ctx, args.json, |store| {
        store.reassign(args.id, &args.agent, &ctx.actor)
    })?;
    if let Some(why) = ctx.project.not_running(&args.agent) {
        eprintln!("warning: {why}");
    }
    Ok(code)
}
