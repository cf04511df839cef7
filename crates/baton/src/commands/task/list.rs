//! `baton task list` and `baton task show`.

use std::process::ExitCode;

use baton_core::render::report::duration;
use baton_core::task::Status;
use baton_core::task::TaskId;
use baton_core::usage::Usage;
use baton_core::usage::format_usage;
use clap::Args;

use super::parse_id;
use crate::commands::ok;
use crate::commands::print_json;
use crate::context::Context;
use crate::error::CliError;
use crate::error::CliResult;
use crate::orchlog::local_time;
use crate::store::TaskFilter;

/// Arguments of `baton task list`.
#[derive(Args, Debug)]
pub struct ListArgs {
    /// Only these statuses, comma-separated (`open` = PENDING, IN_PROGRESS and BLOCKED)
    #[arg(long, value_name = "STATUS")]
    pub status: Option<String>,
    /// Only tasks given to this agent
    #[arg(long)]
    pub agent: Option<String>,
    /// Print as JSON
    #[arg(long)]
    pub json: bool,
}

/// Arguments of `baton task show`.
#[derive(Args, Debug)]
pub struct ShowArgs {
    /// The task
    #[arg(value_parser = parse_id)]
    pub id: TaskId,
    /// Print as JSON
    #[arg(long)]
    pub json: bool,
}

fn statuses(arg: Option<&str>) -> CliResult<Vec<Status>> {
    let Some(arg) = arg else {
        return Ok(Vec::new());
    };
    let mut out = Vec::new();
    for word in arg.split(',').map(str::trim).filter(|w| !w.is_empty()) {
        if word.eq_ignore_ascii_case("open") {
            out.extend([Status::Pending, Status::InProgress, Status::Blocked]);
        } else {
            out.push(
                word.parse::<Status>()
                    .map_err(|e| CliError::usage(e.to_string()))?,
            );
        }
    }
    Ok(out)
}

/// The `time:` line: how long the task took, from its first start to its last finish.
fn times(started: Option<i64>, finished: Option<i64>, took: Option<i64>) -> String {
    match (started, finished, took) {
        (Some(s), Some(f), Some(d)) => format!(
            "{} (started {}, finished {})",
            duration(d),
            local_time(s),
            local_time(f)
        ),
        (Some(s), _, _) => format!("— (started {}, not finished)", local_time(s)),
        _ => "— (never started)".to_owned(),
    }
}

fn truncate(s: &str, n: usize) -> String {
    if s.chars().count() <= n {
        s.to_owned()
    } else {
        let mut t: String = s.chars().take(n.saturating_sub(1)).collect();
        t.push('…');
        t
    }
}

/// Lists tasks.
pub fn cmd_task_list(ctx: &Context, args: &ListArgs) -> CliResult<ExitCode> {
    let store = ctx.store()?;
    let filter = TaskFilter {
        statuses: statuses(args.status.as_deref())?,
        assignee: args.agent.clone(),
    };
    if args.json {
        let (tasks, mut usage) =
            store.snapshot(|s| Ok::<_, CliError>((s.tasks(&filter)?, s.task_usage()?)))?;
        let rows: Vec<Listed> = tasks
            .into_iter()
            .map(|task| Listed {
                usage: usage.remove(&task.id).unwrap_or_default(),
                task,
            })
            .collect();
        return print_json(&rows);
    }
    let tasks = store.tasks(&filter)?;
    if tasks.is_empty() {
        println!("no tasks");
        return ok();
    }
    println!(
        "{:<7} {:<4} {:<11} {:<10} {:<12} TITLE",
        "ID", "PRI", "STATUS", "AGENT", "AFTER"
    );
    for t in &tasks {
        let deps = t
            .deps
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(",");
        println!(
            "{:<7} {:<4} {:<11} {:<10} {:<12} {}",
            t.id.to_string(),
            t.priority.as_str(),
            t.status.as_str(),
            truncate(t.assignee.as_deref().unwrap_or("-"), 10),
            truncate(if deps.is_empty() { "-" } else { &deps }, 12),
            truncate(&t.title, 70)
        );
    }
    let counts = store.counts()?;
    let parts: Vec<String> = counts.iter().map(|(s, n)| format!("{n} {s}")).collect();
    println!("{} task(s): {}", tasks.len(), parts.join(", "));
    ok()
}

/// A task as `baton task list --json` prints it: its fields and its cost and tokens
/// (`cost_usd`, `input_tokens`, `output_tokens`; null when unknown).
#[derive(serde::Serialize)]
struct Listed {
    #[serde(flatten)]
    task: baton_core::task::Task,
    #[serde(flatten)]
    usage: Usage,
}

pub use crate::store::Shown;

/// Shows one task.
pub fn cmd_task_show(ctx: &Context, args: &ShowArgs) -> CliResult<ExitCode> {
    let store = ctx.store()?;
    let shown = store.shown(args.id)?;
    if args.json {
        return print_json(&shown);
    }
    let Shown {
        task: t,
        started_ms,
        finished_ms,
        duration_ms,
        usage,
        history,
    } = shown;
    println!("{}  {}", t.id, t.title);
    println!(
        "status:    {}{}",
        t.status,
        t.blocked_reason
            .as_ref()
            .map(|r| format!(" ({r})"))
            .unwrap_or_default()
    );
    println!("priority:  {}", t.priority);
    println!("agent:     {}", t.assignee.as_deref().unwrap_or("-"));
    println!(
        "skills:    {}",
        if t.skills.is_empty() {
            "-".to_owned()
        } else {
            t.skills.join(", ")
        }
    );
    let deps: Vec<String> = t.deps.iter().map(ToString::to_string).collect();
    println!(
        "after:     {}",
        if deps.is_empty() {
            "-".to_owned()
        } else {
            deps.join(", ")
        }
    );
    println!("attempts:  {}", t.attempts);
    println!("created:   {}", local_time(t.created_ms));
    println!("time:      {}", times(started_ms, finished_ms, duration_ms));
    println!("cost:      {}", format_usage(&usage));
    if !t.body.trim().is_empty() {
        println!("\n{}", t.body.trim_end());
    }
    if !t.notes.is_empty() {
        println!("\nnotes:");
        for n in &t.notes {
            println!("  - {n}");
        }
    }
    println!("\nhistory:");
    for e in &history {
        println!(
            "  {}  {:<10} {:<14} {}",
            local_time(e.at_ms),
            e.actor,
            e.action,
            e.result
        );
    }
    ok()
}
