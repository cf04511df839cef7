//! `baton down`: stop the daemon, the agents and the session.

use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use baton_core::vocab::JournalAction;
use clap::Args;

use crate::commands::ok;
use crate::context::Context;
use crate::error::CliError;
use crate::error::CliResult;
use crate::project::Project;

/// Arguments of `baton down`.
#[derive(Args, Debug)]
pub struct DownArgs {
    /// Also remove the agents' worktrees and branches (worktree isolation) that hold nothing
    /// unmerged; the others are kept and listed
    #[arg(long)]
    pub prune: bool,
}

/// Kills the session, and the private server when no other session is left on it.
pub fn cmd_down(dir: Option<&Path>, args: &DownArgs) -> CliResult<ExitCode> {
    let ctx = Context::load(dir)?;
    let project = &ctx.project;
    if let Some(pid) = crate::daemon::stop(project)? {
        println!("stopped the daemon (pid {pid})");
    }
    for line in crate::hosts::stop_all(project) {
        println!("{line}");
    }
    if !project.tmux.server_running() || !project.tmux.has_session(&project.session)? {
        println!("session `{}` is not running", project.session);
        return if args.prune { prune(project) } else { ok() };
    }
    let panes = project.panes()?;
    let agents = panes.len().saturating_sub(1);
    // What the agents run, read before the session goes: a CLI's children can outlive it.
    let roots: Vec<u32> = panes
        .iter()
        .filter(|p| p.window_name != baton_core::config::CONSOLE_WINDOW)
        .map(|p| p.pid)
        .collect();
    let tree = crate::processes::trees(&roots);
    project.tmux.kill_session(&project.session)?;
    let others = project
        .tmux
        .run(&["list-sessions", "-F", "#{session_name}"])
        .map(|s| s.lines().count())
        .unwrap_or(0);
    if others == 0 {
        project.tmux.kill_server()?;
    }
    println!(
        "stopped session `{}` ({agents} agent window{})",
        project.session,
        if agents == 1 { "" } else { "s" }
    );
    let left = crate::processes::end(&tree, Duration::from_secs(3));
    if left > 0 {
        println!("ended {left} process(es) the agents had started and the session left running");
    }
    journal_down(&ctx, agents, left);
    if args.prune {
        return prune(project);
    }
    ok()
}

/// Journals the stop, with the tasks it leaves IN_PROGRESS (the next run sends them again);
/// a store that cannot be written does not stop `baton down`.
fn journal_down(ctx: &Context, agents: usize, left: usize) {
    let Ok(mut store) = ctx.store() else {
        return;
    };
    let busy = store.in_progress_labels().unwrap_or_default();
    let busy_text = if busy.is_empty() {
        "no task IN_PROGRESS".to_owned()
    } else {
        format!(
            "{} left IN_PROGRESS: the next run sends them again",
            busy.join(", ")
        )
    };
    let ended = if left > 0 {
        format!("; ended {left} process(es) the agents left running")
    } else {
        String::new()
    };
    let result = format!(
        "stopped session `{}` ({agents} agent window(s)){ended}; {busy_text}",
        ctx.project.session
    );
    let _ = ctx.journal(
        &mut store,
        JournalAction::SessionDown,
        None,
        &ctx.project.session,
        &result,
        "",
    );
}

/// Removes the worktrees and branches that hold nothing unmerged (and the scratch worktree);
/// refuses, with the list, for the others.
fn prune(project: &Project) -> CliResult<ExitCode> {
    use crate::worktrees;
    let root = &project.root;
    let store = project.store()?;
    let has_any =
        worktrees::worktree_path(root, "").exists() || worktrees::scratch_path(root).exists();
    if !has_any && !project.config.uses_worktrees() {
        println!("no worktrees to prune");
        return ok();
    }
    let branch = worktrees::integration_branch(project, Some(&store))?;
    // Every agent that ever had a worktree here, configured or not any more.
    let mut agents: Vec<String> = std::fs::read_dir(worktrees::worktree_path(root, ""))
        .map(|d| {
            d.filter_map(Result::ok)
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default();
    for a in worktrees::isolated(project) {
        if !agents.contains(&a.name)
            && crate::git::branch_exists(root, &worktrees::agent_branch(&a.name))
        {
            agents.push(a.name.clone());
        }
    }
    agents.sort();
    let mut kept = Vec::new();
    for agent in agents {
        let lost = worktrees::unmerged_work(root, &agent, &branch);
        if !lost.is_empty() {
            kept.push(format!("  {agent}: {}", lost.join("; ")));
            continue;
        }
        let path = worktrees::worktree_path(root, &agent);
        if path.exists() {
            crate::git::remove_worktree(root, &path)?;
        }
        let b = worktrees::agent_branch(&agent);
        if crate::git::branch_exists(root, &b) {
            crate::git::delete_branch(root, &b)?;
        }
        println!("removed the worktree and branch {b}");
    }
    let scratch = worktrees::scratch_path(root);
    if scratch.exists() {
        crate::git::remove_worktree(root, &scratch)?;
    }
    if kept.is_empty() {
        return ok();
    }
    Err(CliError::user(format!(
        "kept {} worktree(s) whose work is not on {branch}; pruning them would lose:\n{}",
        kept.len(),
        kept.join("\n")
    ))
    .hint("merge or drop that work (`baton diff <agent>` shows it), then prune again"))
}
