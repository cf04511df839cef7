//! `baton merge-queue` and `baton diff`: the verified merge queue of worktree isolation.

use std::path::Path;
use std::process::ExitCode;

use clap::Args;
use serde::Serialize;

use crate::commands::ok;
use crate::commands::print_json;
use crate::error::CliError;
use crate::error::CliResult;
use crate::git;
use crate::project::Project;
use crate::project::start_dir;
use crate::store::MergeRow;
use crate::worktrees;

/// Arguments of `baton merge-queue`.
#[derive(Args, Debug)]
pub struct MergeQueueArgs {
    /// Print JSON
    #[arg(long)]
    pub json: bool,
    /// How many of the latest merges to show (0: all)
    #[arg(long, default_value_t = 30)]
    pub last: usize,
}

/// Arguments of `baton diff`.
#[derive(Args, Debug)]
pub struct DiffArgs {
    /// The agent whose pending change to show
    pub agent: String,
    /// Only list the commits and files, not the diff
    #[arg(long)]
    pub stat: bool,
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
fn load(dir: Option<&Path>) -> CliResult<(Project, crate::store::Store, String)> {
    let project = Project::load(&start_dir(dir)?)?;
    if !project.config.uses_worktrees() {
        return Err(CliError::user(
            "no agent works in a worktree: every agent shares the project's checkout",
        )
        .hint("set `isolation = \"worktree\"` in [session] (or on an [[agent]]) in baton.toml"));
    }
    let store = project.store()?;
    let branch = worktrees::integration_branch(&project, &store)?;
    Ok((project, store, branch))
}

/// The advice for a checkout whose branch baton moved: the files still match the commit the
/// person last had there (the newest entry of the branch's reflog not written by baton).
fn checkout_advice(root: &Path, branch: &str) -> Option<String> {
    if git::current_branch(root).ok().flatten().as_deref() != Some(branch) {
        return None;
    }
    let log = git::reflog(root, branch).ok()?;
    let (theirs, behind) = {
        let mut behind = 0usize;
        let mut theirs = None;
        for (hash, message) in &log {
            if message.starts_with(git::MERGE_QUEUE_REFLOG) {
                behind += 1;
            } else {
                theirs = Some(hash.clone());
                break;
            }
        }
        (theirs?, behind)
    };
    (behind > 0).then(|| {
        format!(
            "`{branch}` is checked out in {}: baton moved it {behind} time(s) without touching your files, which still match {}. \
             To bring the merged work in and keep your uncommitted edits: git checkout -q {} && git checkout {branch}",
            root.display(),
            short(Some(&theirs)),
            short(Some(&theirs)),
        )
    })
}

/// One line for `baton ls` in worktree mode: the queue's counts and the last merge.
pub fn one_line(project: &Project) -> Option<String> {
    if !project.config.uses_worktrees() {
        return None;
    }
    let db = project.root.join(".baton").join("state.db");
    let store = crate::store::Store::open(&db).ok()?;
    let branch = worktrees::integration_branch(project, &store).ok()?;
    let rows = store.merges(0).ok()?;
    let count = |state: &str| rows.iter().filter(|m| m.state == state).count();
    let last = rows
        .iter()
        .rev()
        .find(|m| m.state == "merged")
        .map(|m| format!(", last: {} as {}", m.task, short(m.merge_commit.as_deref())))
        .unwrap_or_default();
    Some(format!(
        "merge queue into {branch}: {} running, {} queued, {} merged{last}",
        count("running"),
        count("queued"),
        count("merged")
    ))
}

/// Shows the merge queue.
pub fn cmd_merge_queue(dir: Option<&Path>, args: &MergeQueueArgs) -> CliResult<ExitCode> {
    let (project, store, branch) = load(dir)?;
    let head = git::rev_parse(&project.root, &format!("refs/heads/{branch}"))
        .ok()
        .flatten();
    let merges = store
        .merges(args.last)
        .map_err(|e| CliError::user(e.to_string()))?;
    let agents = worktrees::isolated(&project)
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
        checkout: checkout_advice(&project.root, &branch),
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
            m.task.to_string(),
            m.agent,
            m.state,
            short(m.head.as_deref()),
            short(m.merge_commit.as_deref()),
            m.detail.lines().next().unwrap_or("")
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
    let (project, _store, branch) = load(dir)?;
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
    let pending = worktrees::unmerged_work(&project.root, &agent.name, &branch);
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
    if !args.stat {
        let diff = git::diff_against(&wt, &format!("refs/heads/{branch}"))
            .map_err(|e| CliError::user(e.to_string()))?;
        print!("{diff}");
    }
    ok()
}
