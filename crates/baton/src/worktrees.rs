//! Worktree isolation: one git worktree per agent, and the verified merge queue.
//!
//! - An agent with `isolation = "worktree"` works in `.baton/worktrees/<agent>` on branch
//!   `baton/<agent>`, made from the integration branch at `baton up` and reused after.
//! - When it reports a task done, [`commit_done`] commits what it left (`T-007: <title>`, the
//!   agent as co-author) and the daemon queues the branch.
//! - [`run_batch`] (on a thread, one merge — or one batch — at a time) rebases the branch onto
//!   the integration branch in the scratch worktree `.baton/merge`, runs `[verify]` there,
//!   and moves the integration branch with a compare-and-swap only when every command passed.
//!   The branch is only ever fast-forwarded to a verified commit, never rewritten; a daemon
//!   killed anywhere leaves it where it was or at a verified commit, and the merge runs again
//!   on restart.
//! - Before an agent gets a task, [`sync_for_task`] rebases its worktree onto the integration
//!   branch, so it starts from everyone's merged work (for a conflict fix, the rebase is left
//!   stopped at the conflict for the agent to resolve).
//! - An agent on another host works in a clone there instead (`crate::clones`): the same
//!   steps run there over ssh, and the merge queue fetches its branch back first.
//!
//! The user's checkout is never touched: no checkout, reset or index change there; only the
//! integration branch's ref moves. `.baton/.gitignore` (`*`) keeps baton's directory, worktrees
//! included, out of the user's `git status`.

use std::path::Path;
use std::path::PathBuf;

use baton_core::config::AgentConfig;
use baton_core::config::Isolation;
use baton_core::engine::MergeOutcome;
use baton_core::task::Task;

use crate::error::CliError;
use crate::error::CliResult;
use crate::git;
use crate::project::Project;
use crate::store::Store;

/// The `meta` key that records the integration branch chosen at the first `baton up`.
const META_BRANCH: &str = "integration_branch";

/// Returns an agent's worktree.
pub fn worktree_path(root: &Path, agent: &str) -> PathBuf {
    root.join(".baton").join("worktrees").join(agent)
}

/// Returns the scratch worktree where merges are rebased and verified.
pub fn scratch_path(root: &Path) -> PathBuf {
    root.join(".baton").join("merge")
}

/// Returns an agent's branch.
pub fn agent_branch(agent: &str) -> String {
    format!("baton/{agent}")
}

/// The agents that work in a worktree.
pub fn isolated(project: &Project) -> Vec<&AgentConfig> {
    project
        .config
        .agents
        .iter()
        .filter(|a| a.isolation == Isolation::Worktree)
        .collect()
}

/// Returns the directory an agent works in: its worktree (plus `workdir`) or the project's;
/// for an agent on another host, the directory there: its clone, or the host's `dir`.
pub fn agent_dir(project: &Project, agent: &AgentConfig) -> PathBuf {
    let host = crate::clones::host_of(project, &agent.name);
    match (agent.isolation, host) {
        (Isolation::Worktree, Some(h)) if agent.workdir == Path::new(".") => {
            crate::clones::clone_path(h, &agent.name)
        }
        (Isolation::Worktree, Some(h)) => {
            crate::clones::clone_path(h, &agent.name).join(&agent.workdir)
        }
        (Isolation::Worktree, None) if agent.workdir == Path::new(".") => {
            worktree_path(&project.root, &agent.name)
        }
        (Isolation::Worktree, None) => {
            worktree_path(&project.root, &agent.name).join(&agent.workdir)
        }
        (Isolation::Shared, Some(h)) => h.dir.join(&agent.workdir),
        (Isolation::Shared, None) => project.root.join(&agent.workdir),
    }
}

/// Returns the integration branch: `[session] integration_branch`, else the one recorded at
/// the first `baton up` in worktree mode (in `store`, when there is one yet), else the branch
/// checked out in the project root.
pub fn integration_branch(project: &Project, store: Option<&Store>) -> CliResult<String> {
    if let Some(b) = &project.config.session.integration_branch {
        return Ok(b.clone());
    }
    if let Some(Ok(Some(b))) = store.map(|s| s.meta(META_BRANCH)) {
        return Ok(b);
    }
    match git::current_branch(&project.root) {
        Ok(Some(b)) => Ok(b),
        Ok(None) => Err(CliError::user(
            "worktree isolation: the project root is on a detached HEAD, so there is no branch to merge into",
        )
        .hint("check out a branch, or set `[session] integration_branch` in baton.toml")),
        Err(e) => Err(CliError::user(format!(
            "worktree isolation needs a git repository at {}: {e}",
            project.root.display()
        ))
        .hint("run `git init` and commit, or set `isolation = \"shared\"`")),
    }
}

/// Creates (or reuses) every isolated agent's worktree; returns one line per agent.
pub fn prepare(project: &Project, store: &mut Store) -> CliResult<Vec<String>> {
    let agents = isolated(project);
    if agents.is_empty() {
        return Ok(Vec::new());
    }
    if git::toplevel(&project.root).is_none() {
        return Err(CliError::user(format!(
            "worktree isolation: {} is not inside a git repository",
            project.root.display()
        ))
        .hint("run `git init` and commit, or set `isolation = \"shared\"` in baton.toml"));
    }
    let branch = integration_branch(project, Some(store))?;
    let head = git::rev_parse(&project.root, &format!("refs/heads/{branch}"))
        .map_err(|e| CliError::user(e.to_string()))?
        .ok_or_else(|| {
            CliError::user(format!(
                "worktree isolation: the integration branch `{branch}` does not exist (or has no commit yet)"
            ))
            .hint("commit once, or set `[session] integration_branch` to an existing branch")
        })?;
    if project.config.session.integration_branch.is_none() {
        store
            .set_meta(META_BRANCH, &branch)
            .map_err(|e| CliError::user(e.to_string()))?;
    }
    keep_out_of_git_status(project)?;
    let mut lines = Vec::new();
    let checked_out_here = git::current_branch(&project.root)
        .ok()
        .flatten()
        .is_some_and(|b| b == branch);
    if checked_out_here {
        let shared: Vec<&str> = project
            .config
            .agents
            .iter()
            .filter(|a| a.isolation == Isolation::Shared && a.host.is_none())
            .map(|a| a.name.as_str())
            .collect();
        if !shared.is_empty() {
            return Err(CliError::user(format!(
                "{} work(s) in the project's checkout, where `{branch}` is checked out, and the merge queue moves `{branch}`: their commits there would undo merged work",
                shared.join(", ")
            ))
            .hint(
                "put them in worktrees too (`isolation = \"worktree\"`), check out another branch here, or set `[session] integration_branch` to a branch not checked out here",
            ));
        }
        lines.push(format!(
            "note: `{branch}` is checked out here: the merge queue moves the branch, never your files; `baton sync` brings merged work in (keeping your edits) — do not commit here meanwhile"
        ));
    }
    for a in agents {
        if let Some(host) = crate::clones::host_of(project, &a.name) {
            lines.push(prepare_clone(project, host, &a.name, &branch)?);
            continue;
        }
        let path = worktree_path(&project.root, &a.name);
        let what = git::ensure_worktree(&project.root, &path, &agent_branch(&a.name), &head)
            .map_err(|e| CliError::user(format!("agent `{}`: {e}", a.name)))?;
        lines.push(format!(
            "{:<12} works in .baton/worktrees/{} on branch {} ({})",
            a.name,
            a.name,
            agent_branch(&a.name),
            match what {
                git::Ensured::Created => format!("new, from {branch}"),
                git::Ensured::Reused => "reused".to_owned(),
            }
        ));
    }
    Ok(lines)
}

/// Makes (or reuses) the clone of an agent on another host; a host that cannot be reached
/// is said, not an error (its agent waits for it, and its clone is made before its first
/// task).
fn prepare_clone(
    project: &Project,
    host: &baton_core::config::HostConfig,
    agent: &str,
    branch: &str,
) -> CliResult<String> {
    let clone = crate::clones::clone_path(host, agent);
    match crate::clones::ensure(&project.root, host, agent, branch) {
        Ok(what) => Ok(format!(
            "{agent:<12} works in {} on {} on branch {} ({})",
            clone.display(),
            host.name,
            agent_branch(agent),
            match what {
                git::Ensured::Created => format!("new clone, from {branch}"),
                git::Ensured::Reused => format!("reused, {branch} pushed"),
            }
        )),
        Err(crate::clones::Problem::Unreachable(why)) => Ok(format!(
            "{agent:<12} clone on {} not made: {why} (made before its first task)",
            host.name
        )),
        Err(crate::clones::Problem::Failed(why)) => Err(CliError::user(format!(
            "agent `{agent}`: its clone on {}: {why}",
            host.name
        ))
        .hint(format!(
            "check that git runs on {} (`baton doctor`) and that {} can be written",
            host.name,
            clone.display()
        ))),
    }
}

/// Writes `.baton/.gitignore` so baton's state and worktrees never show in the user's
/// `git status` (nor get added by a `git add -A` there).
fn keep_out_of_git_status(project: &Project) -> CliResult<()> {
    let path = project.state_dir()?.join(".gitignore");
    if !path.exists() {
        std::fs::write(
            &path,
            "# baton's state, worktrees included: never committed\n*\n",
        )
        .map_err(|e| crate::error::io_error(format!("cannot write {}", path.display()), e))?;
    }
    Ok(())
}

/// The working-directory line of an isolated agent's prompts (for an agent on another host,
/// its clone there).
pub fn prompt_note(project: &Project, agent: &AgentConfig, integration: &str) -> String {
    let dir = agent_dir(project, agent);
    let branch = agent_branch(&agent.name);
    let fr = project.config.run.language() == "fr";
    match crate::clones::host_of(project, &agent.name) {
        Some(host) if fr => format!(
            "{} sur {} — ton propre clone git du projet, branche {branch}. Travaille et lance tes commandes uniquement ici. Quand tu signales la tâche terminée, baton commite ce que tu as laissé, le rapatrie et le fusionne dans {integration} une fois la vérification passée.",
            dir.display(),
            host.name
        ),
        Some(host) => format!(
            "{} on {} — your own git clone of the project, on branch {branch}. Work and run commands only here. When you report the task done, baton commits what you left, brings it back and merges it into {integration} once verify passes.",
            dir.display(),
            host.name
        ),
        None if fr => format!(
            "{} — ton propre worktree git, branche {branch}. Travaille et lance tes commandes uniquement ici, jamais dans le dépôt de l'utilisateur. Quand tu signales la tâche terminée, baton commite ce que tu as laissé et le fusionne dans {integration} une fois la vérification passée.",
            dir.display()
        ),
        None => format!(
            "{} — your own git worktree, on branch {branch}. Work and run commands only here, never in the user's checkout. When you report the task done, baton commits what you left and merges it into {integration} once verify passes.",
            dir.display()
        ),
    }
}

/// The commit message of a task's work.
pub fn commit_message(task: &Task, agent: &str) -> String {
    let mut title: String = task.title.lines().next().unwrap_or("").to_owned();
    if let Some((cut, _)) = title.char_indices().nth(120) {
        title.truncate(cut);
    }
    format!(
        "{}: {title}\n\nCo-authored-by: {agent} <{agent}@baton.invalid>\n",
        task.id
    )
}

/// What committing a done task's work gave.
pub enum Committed {
    /// The branch holds the work (a new commit, or nothing was left uncommitted); new files
    /// that look like secrets were left out, uncommitted.
    Ready {
        /// The new commit.
        commit: Option<String>,
        /// The files left out.
        held_back: Vec<String>,
    },
    /// It cannot be queued: conflict markers left, another conflict met while continuing the
    /// agent's resolution, or the worktree is not on the agent's branch.
    Outcome(MergeOutcome),
}

/// Commits what the agent left for a task it reported done (in its worktree, or in its clone
/// on another host: [`crate::clones::commit_done`]).
pub fn commit_done(project: &Project, agent: &str, task: &Task) -> git::GitResult<Committed> {
    if let Some(host) = crate::clones::host_of(project, agent) {
        return crate::clones::commit_done(host, agent, task);
    }
    let wt = worktree_path(&project.root, agent);
    if let Some(problem) = not_a_worktree(&project.root, &wt) {
        return Ok(Committed::Outcome(MergeOutcome::Error { message: problem }));
    }
    commit_in(git::Dir::from(&wt), agent, task)
}

/// Commits what the agent left in `wt`; when it was stopped at a conflict (a fix task), the
/// resolution is staged and the rebase continued first — unless conflict markers are still
/// there, which are never committed.
pub fn commit_in(wt: git::Dir<'_>, agent: &str, task: &Task) -> git::GitResult<Committed> {
    let shown = match wt.host {
        Some(h) => format!("{} on {}", wt.path.display(), h.name),
        None => wt.path.display().to_string(),
    };
    if git::rebase_in_progress(wt) {
        let left = git::unresolved_markers(wt)?;
        if !left.is_empty() {
            let excerpt = format!(
                "Conflict markers (<<<<<<<, =======, >>>>>>>) are still in: {}",
                left.join(", ")
            );
            return Ok(Committed::Outcome(MergeOutcome::Conflict {
                files: left,
                excerpt,
            }));
        }
        if let git::Rebase::Conflict { files, excerpt } = git::continue_rebase(wt)? {
            return Ok(Committed::Outcome(MergeOutcome::Conflict {
                files,
                excerpt,
            }));
        }
    }
    let branch = agent_branch(agent);
    let on = git::current_branch(wt)?;
    if on.as_deref() != Some(branch.as_str()) {
        return Ok(Committed::Outcome(MergeOutcome::Error {
            message: format!(
                "{shown} is on {} instead of {branch}: its work is not where the merge queue takes it from (check {branch} out again there)",
                on.map_or_else(|| "a detached HEAD".to_owned(), |b| format!("branch {b}"))
            ),
        }));
    }
    let held_back = git::untracked_secrets(wt)?;
    let commit = git::commit_all(wt, &commit_message(task, agent))?;
    Ok(Committed::Ready { commit, held_back })
}

/// Why `wt` must not be touched: not a worktree of this repository (git would walk up to the
/// user's own checkout and act there). `None` when it is one.
fn not_a_worktree(root: &Path, wt: &Path) -> Option<String> {
    (!git::is_worktree_of(root, wt)).then(|| {
        format!(
            "{} is not a git worktree of this repository (removed or broken); `baton up` makes it again",
            wt.display()
        )
    })
}

/// How the worktree is brought up to date before a task.
#[derive(Clone, Copy, Debug, Default)]
pub struct SyncFor {
    /// A conflict fix: a conflicting rebase is left stopped for the agent to resolve.
    pub keep_conflict: bool,
    /// The uncommitted work there belongs to this task (given back to the same agent, or a
    /// fix of work that could not be committed): kept as it is.
    pub keep_work: bool,
}

/// Brings an agent's worktree (or its clone on another host: [`crate::clones::sync_for_task`])
/// onto the integration branch before it starts a task; returns a line for the journal when
/// something happened or was left alone.
pub fn sync_for_task(
    project: &Project,
    agent: &str,
    integration: &str,
    how: SyncFor,
) -> Option<String> {
    if let Some(host) = crate::clones::host_of(project, agent) {
        return crate::clones::sync_for_task(&project.root, host, agent, integration, how);
    }
    let wt = worktree_path(&project.root, agent);
    if let Some(problem) = not_a_worktree(&project.root, &wt) {
        return Some(problem);
    }
    sync_in(git::Dir::from(&wt), agent, integration, how)
}

/// Brings the checkout `wt` (a worktree here, or a clone on another host) onto the
/// integration branch: anything uncommitted set aside (or kept: `how`), then rebased.
pub fn sync_in(wt: git::Dir<'_>, agent: &str, integration: &str, how: SyncFor) -> Option<String> {
    if git::rebase_in_progress(wt) {
        return Some("its worktree is stopped in a rebase: left as it is".into());
    }
    // The agent holds no task when it gets one (one at a time in a worktree): what is left
    // uncommitted belongs to a task that went elsewhere (requeued, blocked, cancelled). It
    // must not ride along with the next task's commit: it is set aside, kept under a ref.
    let mut said = Vec::new();
    match git::is_dirty(wt) {
        Ok(false) => {}
        Ok(true) if how.keep_work => {
            return Some("its uncommitted work belongs to this task: kept, not rebased".into());
        }
        Ok(true) => {
            let name = format!("refs/baton/set-aside/{agent}/{}", crate::store::now_ms());
            match git::set_aside(wt, &name, &format!("baton: work {agent} left uncommitted")) {
                Ok(None) => {}
                Ok(Some(_)) => said.push(format!(
                    "uncommitted work left from an earlier task set aside as {name} (git show {name})"
                )),
                Err(e) => return Some(format!("cannot set aside its uncommitted work: {e}")),
            }
        }
        Err(e) => return Some(format!("cannot read its worktree: {e}")),
    }
    let onto = format!("refs/heads/{integration}");
    let before = git::rev_parse(wt, "HEAD").ok().flatten();
    let fix = how.keep_conflict;
    let rebased = match git::rebase(wt, &onto, fix) {
        Ok(git::Rebase::Clean) => {
            let after = git::rev_parse(wt, "HEAD").ok().flatten();
            (before != after).then(|| format!("worktree rebased onto {integration}"))
        }
        Ok(git::Rebase::Conflict { files, .. }) if fix => Some(format!(
            "worktree rebased onto {integration}: stopped at the conflict in {}",
            files.join(", ")
        )),
        Ok(git::Rebase::Conflict { files, .. }) => Some(format!(
            "worktree not rebased onto {integration}: it conflicts in {} (its merge will say so)",
            files.join(", ")
        )),
        Err(e) => Some(format!("cannot rebase its worktree: {e}")),
    };
    said.extend(rebased);
    (!said.is_empty()).then(|| said.join("; "))
}

/// One merge for the worker thread.
#[derive(Clone, Debug)]
pub struct MergeJob {
    /// The queue row.
    pub id: i64,
    /// The project root.
    pub root: PathBuf,
    /// The agent whose branch is merged.
    pub agent: String,
    /// The integration branch.
    pub integration: String,
    /// The verify commands, run in the scratch worktree.
    pub verify: Vec<String>,
    /// The agent's host when it is on another one: its branch is fetched from its clone
    /// there first.
    pub host: Option<baton_core::config::HostConfig>,
}

/// What a merge gave.
#[derive(Clone, Debug)]
pub struct MergeResult {
    /// The integration head it was rebased onto.
    pub base: Option<String>,
    /// The agent branch's head it merged.
    pub head: Option<String>,
    /// How it ended.
    pub outcome: MergeOutcome,
    /// One line for the journal.
    pub summary: String,
}

/// What passed must be the commit that lands: a verify that committed or checked out
/// something, or rewrote tracked files (a formatter, a generator), checked another tree.
fn tree_moved(scratch: &Path, new: &str) -> Option<(String, MergeOutcome)> {
    if git::rev_parse(scratch, "HEAD").ok().flatten().as_deref() != Some(new) {
        return Some((
            "verify FAILED: it moved HEAD".to_owned(),
            MergeOutcome::Failed {
                command: "[verify]".to_owned(),
                excerpt: "The verify commands passed but moved HEAD (a commit, a checkout): the commit to merge is not what they checked.".to_owned(),
            },
        ));
    }
    match git::tracked_changes(scratch) {
        Ok(changed) if changed.is_empty() => None,
        Ok(changed) => Some((
            "verify FAILED: it changed tracked files".to_owned(),
            MergeOutcome::Failed {
                command: "[verify]".to_owned(),
                excerpt: format!(
                    "The verify commands passed but changed tracked files, so the commit to merge is not what they checked: {}\nCommit those changes (run the tool yourself) so verify leaves the tree as it is.",
                    changed.join(", ")
                ),
            },
        )),
        Err(e) => Some((
            format!("git failed: {e}"),
            MergeOutcome::Error {
                message: e.to_string(),
            },
        )),
    }
}

/// How one merge of a batch ended.
#[derive(Clone, Debug)]
pub enum Batched {
    /// It is done, one way or another.
    Done(MergeResult),
    /// It goes back to the queue, to be merged alone: its batch failed verify, or it
    /// conflicted with another change of the batch (not with the integration branch).
    Again(String),
}

/// Runs the merges of different agents under one verify (one merge: the usual case): each
/// branch is rebased onto the one before (the first onto the integration head) in the scratch
/// worktree, the stack verified once, and the integration branch fast-forwarded to its top by
/// a compare-and-swap only when verify passed — never rewritten, never moved to anything
/// unverified; a daemon killed anywhere leaves it where it was, and the merges run again on
/// restart. Never touches the user's checkout nor the agents' worktrees.
///
/// A conflict with the integration head itself is that merge's own. In a batch of several, a
/// conflict with another change of the batch, or a failed verify, sends the merges back to
/// be done one by one (`Again`); alone, the failure is the merge's.
pub fn run_batch(jobs: &[MergeJob]) -> Vec<Batched> {
    let Some(first) = jobs.first() else {
        return Vec::new();
    };
    let root = &first.root;
    let integ_ref = format!("refs/heads/{}", first.integration);
    let scratch = scratch_path(root);
    let failed = |base: Option<&String>, head: Option<String>, message: String| {
        Batched::Done(MergeResult {
            base: base.cloned(),
            head,
            summary: format!("git failed: {message}"),
            outcome: MergeOutcome::Error { message },
        })
    };
    let finish = |done: Vec<Option<Batched>>| -> Vec<Batched> {
        done.into_iter()
            .map(|d| d.expect("every job decided"))
            .collect()
    };
    // The integration branch may move under us (a person commits): everything again, a few
    // times.
    for _ in 0..5 {
        let old = match git::rev_parse(root, &integ_ref) {
            Ok(Some(h)) => h,
            other => {
                let message = match other {
                    Err(e) => e.to_string(),
                    _ => format!("the integration branch `{}` is gone", first.integration),
                };
                return jobs
                    .iter()
                    .map(|_| failed(None, None, message.clone()))
                    .collect();
            }
        };
        let already = |head: String, integration: &str| {
            Batched::Done(MergeResult {
                base: Some(old.clone()),
                head: Some(head),
                outcome: MergeOutcome::Merged {
                    commit: old.clone(),
                },
                summary: format!("nothing new: already in {integration}"),
            })
        };
        let mut current = old.clone();
        let mut done: Vec<Option<Batched>> = vec![None; jobs.len()];
        let mut included: Vec<(usize, String)> = Vec::new();
        for (i, job) in jobs.iter().enumerate() {
            let branch = agent_branch(&job.agent);
            if let Some(host) = &job.host
                && let Err(e) = crate::clones::fetch_branch(root, host, &job.agent)
            {
                done[i] = Some(failed(Some(&old), None, e.to_string()));
                continue;
            }
            let head = match git::rev_parse(root, &format!("refs/heads/{branch}")) {
                Ok(Some(h)) => h,
                other => {
                    let message = match other {
                        Err(e) => e.to_string(),
                        _ => format!("the branch {branch} is gone"),
                    };
                    done[i] = Some(failed(Some(&old), None, message));
                    continue;
                }
            };
            match git::is_ancestor(root, &head, &old) {
                Ok(true) => {
                    done[i] = Some(already(head, &job.integration));
                    continue;
                }
                Ok(false) => {}
                Err(e) => {
                    done[i] = Some(failed(Some(&old), Some(head), e.to_string()));
                    continue;
                }
            }
            let rebased = git::prepare_scratch(root, &scratch, &head)
                .and_then(|()| git::rebase(&scratch, &current, false));
            match rebased {
                Ok(git::Rebase::Clean) => match git::rev_parse(&scratch, "HEAD") {
                    // Every change of it was already there.
                    Ok(Some(h)) if h == old => done[i] = Some(already(head, &job.integration)),
                    Ok(Some(h)) => {
                        current = h;
                        included.push((i, head));
                    }
                    Ok(None) => {
                        let message = "the rebased HEAD is unreadable".to_owned();
                        done[i] = Some(failed(Some(&old), Some(head), message));
                    }
                    Err(e) => done[i] = Some(failed(Some(&old), Some(head), e.to_string())),
                },
                Ok(git::Rebase::Conflict { files, excerpt }) if current == old => {
                    done[i] = Some(Batched::Done(MergeResult {
                        base: Some(old.clone()),
                        head: Some(head),
                        summary: format!(
                            "CONFLICT with {} in {}",
                            job.integration,
                            files.join(", ")
                        ),
                        outcome: MergeOutcome::Conflict { files, excerpt },
                    }));
                }
                Ok(git::Rebase::Conflict { files, .. }) => {
                    done[i] = Some(Batched::Again(format!(
                        "conflicts in {} with another change of its batch: merged alone next",
                        files.join(", ")
                    )));
                }
                Err(e) => done[i] = Some(failed(Some(&old), Some(head), e.to_string())),
            }
        }
        if included.is_empty() {
            return finish(done);
        }
        // The stack's top, checked once.
        let verdict: Option<(String, MergeOutcome)> =
            match git::prepare_scratch(root, &scratch, &current) {
                Err(e) => Some((
                    format!("git failed: {e}"),
                    MergeOutcome::Error {
                        message: e.to_string(),
                    },
                )),
                Ok(()) => {
                    let group = MergeJob {
                        agent: included
                            .iter()
                            .map(|(i, _)| jobs[*i].agent.clone())
                            .collect::<Vec<_>>()
                            .join(","),
                        ..first.clone()
                    };
                    match verify(root, &scratch, &group) {
                        Some((command, excerpt)) => Some((
                            format!("verify FAILED: `{command}`"),
                            MergeOutcome::Failed { command, excerpt },
                        )),
                        None => tree_moved(&scratch, &current),
                    }
                }
            };
        if let Some((summary, outcome)) = verdict {
            if let [(i, head)] = included.as_slice() {
                // Alone in what was verified: the failure is its own.
                done[*i] = Some(Batched::Done(MergeResult {
                    base: Some(old.clone()),
                    head: Some(head.clone()),
                    outcome,
                    summary,
                }));
            } else {
                for (i, _) in &included {
                    done[*i] = Some(Batched::Again(format!(
                        "its batch of {}: {summary}; merged alone next",
                        included.len()
                    )));
                }
            }
            return finish(done);
        }
        let batch = if included.len() > 1 {
            ", in a batch"
        } else {
            ""
        };
        match git::update_ref_cas(root, &first.integration, &current, &old) {
            Ok(false) => continue,
            Ok(true) => {
                for (i, head) in included {
                    done[i] = Some(Batched::Done(MergeResult {
                        base: Some(old.clone()),
                        head: Some(head),
                        outcome: MergeOutcome::Merged {
                            commit: current.clone(),
                        },
                        summary: format!(
                            "{} fast-forwarded to {} (verified{batch})",
                            first.integration,
                            &current[..current.len().min(12)]
                        ),
                    }));
                }
            }
            // The rows decided before the compare-and-swap keep their outcome.
            Err(e) => {
                for (i, head) in included {
                    done[i] = Some(failed(Some(&old), Some(head), e.to_string()));
                }
            }
        }
        return finish(done);
    }
    // The branch kept moving under every try: nothing was decided for good. Alone, a person
    // is told; a batch goes back to the queue.
    let message = format!(
        "{} kept moving during the merge; try again",
        first.integration
    );
    jobs.iter()
        .map(|_| {
            if jobs.len() == 1 {
                failed(None, None, message.clone())
            } else {
                Batched::Again(format!("{message}: queued again"))
            }
        })
        .collect()
}

/// Runs the verify commands in the scratch worktree; the first failure, if any.
fn verify(root: &Path, scratch: &Path, job: &MergeJob) -> Option<(String, String)> {
    let logs = root.join(".baton").join("verify");
    for (i, command) in job.verify.iter().enumerate() {
        // Its own process group, recorded: a daemon killed mid-verify leaves no verify
        // running in the scratch worktree once the next one starts.
        let (ok, excerpt) = crate::verify::run_check(
            command,
            scratch,
            &logs.join(format!("merge-{}-{i}.log", job.id)),
            Some(&verify_pid_file(root)),
            &[("BATON_MERGE_AGENT", &job.agent)],
        );
        if !ok {
            return Some((command.clone(), excerpt));
        }
    }
    None
}

fn verify_pid_file(root: &Path) -> PathBuf {
    root.join(".baton").join("merge-verify.pid")
}

/// Kills what is left of a verify a killed daemon was running (its process group), if it
/// still runs in the scratch worktree.
pub fn kill_stale_verify(root: &Path) {
    let file = verify_pid_file(root);
    let Some(pid) = std::fs::read_to_string(&file)
        .ok()
        .and_then(|s| s.trim().parse::<u32>().ok())
    else {
        return;
    };
    let scratch = scratch_path(root);
    let in_scratch =
        std::fs::read_link(format!("/proc/{pid}/cwd")).is_ok_and(|cwd| cwd.starts_with(&scratch));
    if in_scratch {
        let _ = std::process::Command::new("kill")
            .args(["-KILL", "--", &format!("-{pid}")])
            .stderr(std::process::Stdio::null())
            .status();
    }
    let _ = std::fs::remove_file(file);
}

/// What `baton down --prune` would lose in an agent's worktree: uncommitted changes, a
/// rebase under way, commits not on the integration branch.
pub fn unmerged_work(root: &Path, agent: &str, integration: &str) -> Vec<String> {
    let wt = worktree_path(root, agent);
    let mut found = Vec::new();
    if wt.exists() {
        if let Some(problem) = not_a_worktree(root, &wt) {
            return vec![problem];
        }
        if git::rebase_in_progress(&wt) {
            found.push("a rebase stopped at a conflict".to_owned());
        }
        match git::is_dirty(&wt) {
            Ok(true) => found.push("uncommitted changes".to_owned()),
            Ok(false) => {}
            Err(e) => found.push(format!("unreadable worktree ({e})")),
        }
    }
    let branch = agent_branch(agent);
    if git::branch_exists(root, &branch) {
        match git::unmerged_commits(root, &branch, integration) {
            Ok(c) if c.is_empty() => {}
            Ok(c) => found.extend(c.into_iter().map(|l| format!("commit {l}"))),
            Err(e) => found.push(format!("cannot compare with {integration} ({e})")),
        }
    }
    found
}
