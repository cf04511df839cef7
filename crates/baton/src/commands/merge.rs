//! `baton merge-queue` and `baton diff`: the verified merge queue of worktree isolation.

use std::path::Path;
use std::process::ExitCode;

use clap::Args;
use serde::Serialize;

use crate::commands::ok;
use crate::commands::print_json;
use crate::context::Context;
use crate::error::CliError;
use crate::error::CliResult;
use crate::git;
use crate::project::Project;
use crate::store::MergeRow;
use crate::worktrees;

/// Arguments of `baton merge-queue`.
#[derive(Args, Debug)]
pub struct MergeQueueArgs {
    /// Print JSON
    #[arg(long)]
    pub json: bool,
    /// How many of the latest merges to show (0: all)
    #[arg(long, short = 'n', default_value_t = 30, value_name = "N")]
    pub last: usize,
    /// Queue again each merge that did not land (git could not do it, or its fix tasks ran
    /// out), once you fixed the cause
    #[arg(long)]
    pub retry: bool,
}

/// Arguments of `baton sync`.
#[derive(Args, Debug)]
pub struct SyncArgs {}

/// Arguments of `baton diff`.
#[derive(Args, Debug)]
pub struct DiffArgs {
    /// The agent whose pending change to show
    pub agent: String,
    /// Only list the commits and files, not the diff
    #[arg(long)]
    pub stat: bool,
    /// Print JSON: the agent, its branch, the integration branch, what is unmerged and the
    /// diff (null with --stat)
    #[arg(long)]
    pub json: bool,
}

/// `baton diff --json`.
#[derive(Serialize)]
struct DiffView {
    agent: String,
    branch: String,
    worktree: String,
    integration_branch: String,
    /// What is not on the integration branch yet (commits, uncommitted changes).
    pending: Vec<String>,
    /// The diff against the integration branch; `None` with `--stat`.
    diff: Option<String>,
}

#[derive(Serialize)]
struct QueueView {
    integration_branch: String,
    head: Option<String>,
    /// Set when the integration branch is checked out in the project root: its files stay as
    /// they were (baton never touches the checkout); this says how to bring them up to date.
    checkout: Option<String>,
    agents: Vec<AgentView>,
    merges: Vec<MergeRow>,
}

#[derive(Serialize)]
struct AgentView {
    agent: String,
    branch: String,
    worktree: String,
    /// What is not on the integration branch yet.
    pending: Vec<String>,
}

fn short(hash: Option<&str>) -> &str {
    hash.map_or("-", |h| &h[..h.len().min(10)])
}

/// Loads the project and checks it has worktrees.
fn load(dir: Option<&Path>) -> CliResult<(Context, crate::store::Store, String)> {
    let ctx = Context::load(dir)?;
    if !ctx.project.config.uses_worktrees() {
        return Err(CliError::user(
            "no agent works in a worktree: every agent shares the project's checkout",
        )
        .hint("set `isolation = \"worktree\"` in [session] (or on an [[agent]]) in baton.toml"));
    }
    let store = ctx.store()?;
    let branch = worktrees::integration_branch(&ctx.project, Some(&store))?;
    Ok((ctx, store, branch))
}

/// When the integration branch is checked out in the project root and the queue moved it:
/// the commit the files there still match (the newest entry of the branch's reflog not
/// written by the queue, or the one `baton sync` last brought in), and how many merges moved
/// it since.
pub fn checkout_behind(
    root: &Path,
    branch: &str,
    store: &crate::store::Store,
) -> Option<(String, usize)> {
    if git::current_branch(root).ok().flatten().as_deref() != Some(branch) {
        return None;
    }
    let synced = store.meta(SYNCED).ok().flatten();
    let log = git::reflog(root, branch).ok()?;
    let behind = log
        .iter()
        .take_while(|(h, m)| {
            m.starts_with(git::MERGE_QUEUE_REFLOG) && synced.as_deref() != Some(h.as_str())
        })
        .count();
    let theirs = log.get(behind)?.0.clone();
    (behind > 0).then_some((theirs, behind))
}

/// The store's key for the commit `baton sync` last brought into the project root.
const SYNCED: &str = "checkout_synced";

/// The advice for a checkout whose branch the queue moved.
fn checkout_advice(root: &Path, branch: &str, store: &crate::store::Store) -> Option<String> {
    let (theirs, behind) = checkout_behind(root, branch, store)?;
    Some(format!(
        "`{branch}` is checked out in {}: the merge queue moved it {behind} time(s) without touching your files, which still match {}; \
         `baton sync` brings the merged work into them and keeps your uncommitted edits (do not commit there before)",
        root.display(),
        short(Some(&theirs)),
    ))
}

/// Brings the project root's files up to the integration branch the queue moved.
pub fn cmd_sync(dir: Option<&Path>, _args: &SyncArgs) -> CliResult<ExitCode> {
    let (ctx, mut store, branch) = load(dir)?;
    let root = &ctx.project.root;
    let Some((theirs, behind)) = checkout_behind(root, &branch, &store) else {
        match git::current_branch(root).ok().flatten() {
            Some(b) if b == branch => println!("{} is up to date with {branch}", root.display()),
            other => println!(
                "{} is on {}, not {branch}: nothing to sync (git merge {branch} when you want it)",
                root.display(),
                other.unwrap_or_else(|| "a detached HEAD".to_owned())
            ),
        }
        return ok();
    };
    let head = git::rev_parse(root, &format!("refs/heads/{branch}"))?
        .ok_or_else(|| CliError::user(format!("the branch {branch} is gone")))?;
    git::checkout_forward(root, &theirs, &head).map_err(|e| {
        CliError::user(format!(
            "cannot sync {}: your uncommitted edits touch files the merged work changed ({})",
            root.display(),
            e.message.lines().next().unwrap_or("")
        ))
        .hint("save them (git diff > my.patch), undo them (git checkout -- <file>), run `baton sync`, then `git apply my.patch`")
    })?;
    // Recorded so the next sync starts from here.
    store.set_meta(SYNCED, &head)?;
    println!(
        "{} now holds {branch} at {} ({behind} merge(s) brought in; your uncommitted edits kept)",
        root.display(),
        short(Some(&head))
    );
    ok()
}

/// One line for `baton ls` in worktree mode: the queue's counts and the last merge.
pub fn one_line(project: &Project) -> Option<String> {
    if !project.config.uses_worktrees() {
        return None;
    }
    let store = project.store().ok()?;
    let branch = worktrees::integration_branch(project, Some(&store)).ok()?;
    let (running, queued, merged) = store.merge_counts().ok()?;
    let last = store
        .last_merged()
        .ok()
        .flatten()
        .map(|m| {
            format!(
                ", last: {} as {}",
                m.merge.task,
                short(m.merge.merge_commit.as_deref())
            )
        })
        .unwrap_or_default();
    Some(format!(
        "merge queue into {branch}: {running} running, {queued} queued, {merged} merged{last}"
    ))
}

/// Shows the merge queue.
pub fn cmd_merge_queue(dir: Option<&Path>, args: &MergeQueueArgs) -> CliResult<ExitCode> {
    let (ctx, mut store, branch) = load(dir)?;
    let project = &ctx.project;
    if args.retry {
        let n = store.retry_failed_merges()?;
        println!("{n} merge(s) queued again");
        if n > 0 {
            ctx.wake_daemon();
        }
    }
    let head = git::rev_parse(&project.root, &format!("refs/heads/{branch}"))
        .ok()
        .flatten();
    let merges = store.merges(args.last)?;
    let agents = worktrees::isolated(project)
        .into_iter()
        .map(|a| AgentView {
            agent: a.name.clone(),
            branch: worktrees::agent_branch(&a.name),
            worktree: worktrees::worktree_path(&project.root, &a.name)
                .display()
                .to_string(),
            pending: worktrees::unmerged_work(&project.root, &a.name, &branch),
        })
        .collect();
    let view = QueueView {
        checkout: checkout_advice(&project.root, &branch, &store),
        integration_branch: branch,
        head,
        agents,
        merges,
    };
    if args.json {
        return print_json(&view);
    }
    println!(
        "integration branch: {} at {}",
        view.integration_branch,
        short(view.head.as_deref())
    );
    if let Some(c) = &view.checkout {
        println!("note: {c}");
    }
    println!();
    println!(
        "{:<5} {:<6} {:<12} {:<9} {:<10} {:<10} DETAIL",
        "#", "TASK", "AGENT", "STATE", "HEAD", "MERGED AS"
    );
    if view.merges.is_empty() {
        println!("(nothing queued yet: a merge is queued when an agent reports a task done)");
    }
    for m in &view.merges {
        println!(
            "{:<5} {:<6} {:<12} {:<9} {:<10} {:<10} {}",
            m.id,
            m.merge.task.to_string(),
            m.merge.agent,
            m.merge.state,
            short(m.merge.head.as_deref()),
            short(m.merge.merge_commit.as_deref()),
            m.merge.detail.lines().next().unwrap_or("")
        );
    }
    println!();
    for a in &view.agents {
        if a.pending.is_empty() {
            println!("{:<12} {}: nothing unmerged", a.agent, a.branch);
        } else {
            println!("{:<12} {}: {}", a.agent, a.branch, a.pending.join("; "));
        }
    }
    ok()
}

/// Shows an agent's pending change.
pub fn cmd_diff(dir: Option<&Path>, args: &DiffArgs) -> CliResult<ExitCode> {
    let (ctx, _store, branch) = load(dir)?;
    let project = &ctx.project;
    project.check_agent(&args.agent)?;
    let agent = project
        .config
        .agent(&args.agent)
        .expect("checked above")
        .clone();
    if agent.isolation != baton_core::config::Isolation::Worktree {
        return Err(CliError::user(format!(
            "agent `{}` works in the shared checkout: its changes are already there (git diff)",
            agent.name
        )));
    }
    let wt = worktrees::worktree_path(&project.root, &agent.name);
    if !wt.exists() {
        return Err(
            CliError::user(format!("agent `{}` has no worktree yet", agent.name))
                .hint("`baton up` creates it"),
        );
    }
    if !git::is_worktree_of(&project.root, &wt) {
        return Err(CliError::user(format!(
            "{} is not a git worktree of this repository",
            wt.display()
        ))
        .hint("`baton up` makes it again"));
    }
    let pending = worktrees::unmerged_work(&project.root, &agent.name, &branch);
    let diff = if args.stat {
        None
    } else {
        Some(git::diff_against(&wt, &format!("refs/heads/{branch}"))?)
    };
    if args.json {
        return print_json(&DiffView {
            branch: worktrees::agent_branch(&agent.name),
            worktree: wt.display().to_string(),
            agent: agent.name,
            integration_branch: branch,
            pending,
            diff,
        });
    }
    println!(
        "# {} ({}) against {branch}: {}",
        agent.name,
        worktrees::agent_branch(&agent.name),
        if pending.is_empty() {
            "nothing unmerged".to_owned()
        } else {
            pending.join("; ")
        }
    );
    if let Some(diff) = diff {
        print!("{diff}");
    }
    ok()
}
