//! Worktree isolation for an agent on another `[[host]]`: its checkout there is a clone of
//! this repository, `<dir>/.baton/worktrees/<agent>` on branch `baton/<agent>` (the local
//! layout under the host's `dir`, kept out of a checkout's `git status` there by
//! `<dir>/.baton/.gitignore`).
//!
//! Nothing listens here for the host to clone from, so this side does every transfer with
//! git's own transport over ssh, run with the host's ssh arguments ([`crate::git::push_to`],
//! [`crate::git::fetch_from`]): the clone starts as `git init` there and gets the
//! integration branch (and the agent's branch, when it exists here already) by `git push`;
//! before each task the integration branch is pushed again and the clone rebased onto it
//! with the same code as a local worktree, each git command one ssh run
//! ([`crate::git::Dir`]); a task's work is committed there the same way, and the merge
//! queue fetches `baton/<agent>` back into this repository before it merges it.

use std::path::Path;
use std::path::PathBuf;
use std::time::Duration;

use baton_core::config::HostConfig;

use crate::git;
use crate::git::Dir;
use crate::project::Project;

/// How long making the clone's directory (one ssh run) may take.
const ENSURE_DEADLINE: Duration = Duration::from_secs(60);

/// The host an agent runs on; `None`: this machine.
pub fn host_of<'p>(project: &'p Project, agent: &str) -> Option<&'p HostConfig> {
    let name = project.config.agent(agent)?.host.as_ref()?;
    project.config.hosts.iter().find(|h| &h.name == name)
}

/// An agent's clone on its host: `<dir>/.baton/worktrees/<agent>`.
pub fn clone_path(host: &HostConfig, agent: &str) -> PathBuf {
    crate::worktrees::worktree_path(&host.dir, agent)
}

/// Why a clone could not be made or brought up to date.
#[derive(Debug)]
pub enum Problem {
    /// ssh could not reach the host: the clone is made when it is back.
    Unreachable(String),
    /// The host answered, and git (or the shell) there failed.
    Failed(String),
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Problem::Unreachable(m) | Problem::Failed(m) => f.write_str(m),
        }
    }
}

/// Makes (or reuses) the agent's clone on its host and pushes the integration branch to it;
/// a new clone gets the agent's branch from here when it exists (else one made from the
/// integration branch) checked out.
pub fn ensure(
    root: &Path,
    host: &HostConfig,
    agent: &str,
    integration: &str,
) -> Result<git::Ensured, Problem> {
    let clone = clone_path(host, agent);
    let q = baton_core::ssh::shell_quote;
    let ignore = host.dir.join(".baton/.gitignore").display().to_string();
    let script = format!(
        "mkdir -p {c} && {{ [ -e {i} ] || printf '%s\\n' '# baton: never committed' '*' > {i}; }} \
         && cd {c} && if [ -d .git ]; then echo reused; \
         else git init -q && git symbolic-ref HEAD refs/heads/baton-new-clone && echo created; fi",
        c = q(&clone.display().to_string()),
        i = q(&ignore),
    );
    let run = crate::ssh::run(host, &["sh", "-c", &script], ENSURE_DEADLINE)
        .map_err(|e| Problem::Unreachable(format!("cannot run ssh: {e}")))?;
    if run.timed_out {
        return Err(Problem::Unreachable(format!(
            "host `{}`: no answer in time",
            host.name
        )));
    }
    if let Some(f) = baton_core::ssh::SshFailure::of(run.code, &run.stderr) {
        return Err(Problem::Unreachable(format!(
            "host `{}`: {}",
            host.name,
            f.summary()
        )));
    }
    if run.code != Some(0) {
        return Err(Problem::Failed(format!(
            "cannot make {} on {}: {}",
            clone.display(),
            host.name,
            run.stderr.trim()
        )));
    }
    let failed = |e: git::GitError| Problem::Failed(e.to_string());
    let branch = crate::worktrees::agent_branch(agent);
    let there = Dir::on(host, &clone);
    // A clone whose HEAD has no commit yet was just made (or its first push failed): it
    // gets the agent's branch. Its HEAD names a branch nobody pushes (git refuses a push
    // to the branch checked out, even one without a commit yet).
    let fresh = git::rev_parse(there, "HEAD").map_err(failed)?.is_none();
    let mut refspecs = vec![format!(
        "+refs/heads/{integration}:refs/heads/{integration}"
    )];
    let carried = fresh && git::branch_exists(root, &branch);
    if carried {
        refspecs.push(format!("+refs/heads/{branch}:refs/heads/{branch}"));
    }
    git::push_to(root, host, &clone, &refspecs).map_err(failed)?;
    if !fresh {
        return Ok(git::Ensured::Reused);
    }
    let checkout: Vec<&str> = if carried {
        vec!["checkout", "-q", &branch]
    } else {
        vec!["checkout", "-q", "-b", &branch, integration]
    };
    git::run(there, &checkout).map_err(failed)?;
    Ok(git::Ensured::Created)
}

/// Brings the agent's clone onto the integration branch before it starts a task: the
/// clone made again if it is gone, the integration branch pushed, then the same rebase as a
/// local worktree's ([`crate::worktrees::sync_in`]). A line for the journal when something
/// happened or was left alone.
pub fn sync_for_task(
    root: &Path,
    host: &HostConfig,
    agent: &str,
    integration: &str,
    how: crate::worktrees::SyncFor,
) -> Option<String> {
    let made = match ensure(root, host, agent, integration) {
        Ok(git::Ensured::Created) => Some(format!(
            "its clone on {} made again, from {integration}",
            host.name
        )),
        Ok(git::Ensured::Reused) => None,
        Err(p) => {
            return Some(format!(
                "its clone on {} not brought up to date: {p}",
                host.name
            ));
        }
    };
    let clone = clone_path(host, agent);
    let synced = crate::worktrees::sync_in(Dir::on(host, &clone), agent, integration, how)
        .map(|line| format!("on {}: {line}", host.name));
    let said: Vec<String> = made.into_iter().chain(synced).collect();
    (!said.is_empty()).then(|| said.join("; "))
}

/// Commits what the agent left in its clone for a task it reported done (on the host, as in
/// a local worktree: [`crate::worktrees::commit_in`]); the merge queue fetches the branch.
pub fn commit_done(
    host: &HostConfig,
    agent: &str,
    task: &baton_core::task::Task,
) -> git::GitResult<crate::worktrees::Committed> {
    let clone = clone_path(host, agent);
    let there = Dir::on(host, &clone);
    if !git::is_repository_top(there)? {
        return Ok(crate::worktrees::Committed::Outcome(
            baton_core::engine::MergeOutcome::Error {
                message: format!(
                    "{} on {} is not a git clone (removed?); `baton up` makes it again",
                    clone.display(),
                    host.name
                ),
            },
        ));
    }
    crate::worktrees::commit_in(there, agent, task)
}

/// Fetches the agent's branch from its clone into this repository's `baton/<agent>`, where
/// the merge queue takes it from (forced: the branch there is rebased before each task, as a
/// local agent's is).
pub fn fetch_branch(root: &Path, host: &HostConfig, agent: &str) -> git::GitResult<()> {
    let branch = crate::worktrees::agent_branch(agent);
    let refspec = format!("+refs/heads/{branch}:refs/heads/{branch}");
    git::fetch_from(root, host, &clone_path(host, agent), &[refspec])
}
