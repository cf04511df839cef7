//! Small synchronous wrappers around the `git` binary for agent worktrees and the merge queue.
//!
//! Every command runs as `git -C <dir> ...` with prompts, editors and gpg signing off. Nothing
//! here checks out, resets or touches the index of the user's main worktree: it is only ever
//! the target of ref updates and `git worktree add/remove`, which write `.git/` metadata.
//!
//! A [`Dir`] may be on another `[[host]]` (an agent's clone there): the same command then runs
//! there through ssh, with the same settings. [`push_to`] and [`fetch_from`] move refs between
//! this repository and a clone on a host with git's own transport over ssh.

use std::ffi::OsStr;
use std::fmt;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use baton_core::config::HostConfig;

/// A git command that failed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct GitError {
    /// The command as shown to the user, without `-C <dir>`, e.g. `git rebase main`.
    pub command: String,
    /// The last lines of its stderr and stdout, trimmed.
    pub message: String,
}

impl fmt::Display for GitError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "`{}` failed: {}", self.command, self.message)
    }
}

impl std::error::Error for GitError {}

/// The result of a git operation.
pub type GitResult<T> = Result<T, GitError>;

/// What a finished git command printed and how it exited.
struct Out {
    command: String,
    code: Option<i32>,
    stdout: String,
    stderr: String,
}

impl Out {
    fn success(&self) -> bool {
        self.code == Some(0)
    }

    /// The failure as an error: the last 20 lines of stderr then stdout.
    fn error(&self) -> GitError {
        let all = format!("{}\n{}", self.stderr, self.stdout);
        let lines: Vec<&str> = all.trim().lines().collect();
        let mut message = lines[lines.len().saturating_sub(20)..].join("\n");
        if message.is_empty() {
            message = match self.code {
                Some(code) => format!("exit status {code}"),
                None => "killed by a signal".to_owned(),
            };
        }
        GitError {
            command: self.command.clone(),
            message,
        }
    }

    /// Stdout when the command succeeded, the error otherwise.
    fn ok(self) -> GitResult<String> {
        if self.success() {
            Ok(self.stdout)
        } else {
            Err(self.error())
        }
    }

    /// `true` on exit 0, `false` on exit 1, an error otherwise.
    fn yes_no(self) -> GitResult<bool> {
        match self.code {
            Some(0) => Ok(true),
            Some(1) => Ok(false),
            _ => Err(self.error()),
        }
    }
}

/// A directory git works in: on this machine, or on another `[[host]]` (each command one
/// ssh run there, with the same settings as here).
#[derive(Clone, Copy, Debug)]
pub struct Dir<'a> {
    /// The directory (on the host, for a host's).
    pub path: &'a Path,
    /// The host it is on; `None`: this machine.
    pub host: Option<&'a HostConfig>,
}

impl<'a> Dir<'a> {
    /// The directory `path` on `host`.
    pub fn on(host: &'a HostConfig, path: &'a Path) -> Dir<'a> {
        Dir {
            path,
            host: Some(host),
        }
    }

    /// Whether `rel` (relative to the directory, or absolute) exists.
    fn exists(self, rel: &str) -> bool {
        match self.host {
            None => self.path.join(rel).exists(),
            Some(host) => {
                let path = self.path.join(rel).display().to_string();
                remote(host, &format!("test -e {}", quote(&path)), None)
                    .is_ok_and(|out| out.success())
            }
        }
    }

    /// The text of the file `rel`; `None` when it cannot be read.
    fn read(self, rel: &str) -> Option<String> {
        match self.host {
            None => std::fs::read_to_string(self.path.join(rel)).ok(),
            Some(host) => {
                let path = self.path.join(rel).display().to_string();
                let out = remote(host, &format!("cat {}", quote(&path)), None).ok()?;
                out.success().then_some(out.stdout)
            }
        }
    }
}

impl<'a> From<&'a Path> for Dir<'a> {
    fn from(path: &'a Path) -> Dir<'a> {
        Dir { path, host: None }
    }
}

impl<'a> From<&'a PathBuf> for Dir<'a> {
    fn from(path: &'a PathBuf) -> Dir<'a> {
        Dir {
            path: path.as_path(),
            host: None,
        }
    }
}

fn quote(word: &str) -> String {
    baton_core::ssh::shell_quote(word)
}

/// The settings every git command gets: no signing prompt, no stash, and a rebase moves no
/// branch but the one rebased.
const SETTINGS: [&str; 6] = [
    "-c",
    "commit.gpgsign=false",
    "-c",
    "rebase.autoStash=false",
    "-c",
    "rebase.updateRefs=false",
];

/// The environment every git command gets: no prompt, no editor, messages in English.
const ENV: [(&str, &str); 5] = [
    ("GIT_TERMINAL_PROMPT", "0"),
    ("LC_ALL", "C"),
    ("GIT_EDITOR", "true"),
    ("GIT_SEQUENCE_EDITOR", "true"),
    ("GIT_MERGE_AUTOEDIT", "no"),
];

/// Variables that would override `-C` (an inherited repository location: baton started
/// from a hook).
const LOCATION_VARS: [&str; 4] = [
    "GIT_DIR",
    "GIT_WORK_TREE",
    "GIT_INDEX_FILE",
    "GIT_COMMON_DIR",
];

/// Runs `script` on `host` through ssh (`input` on its standard input); an error only when
/// ssh could not be started.
fn remote(host: &HostConfig, script: &str, input: Option<String>) -> GitResult<Out> {
    let mut args =
        baton_core::ssh::ssh_args::<&str>(host, crate::ssh::identity(host).as_deref(), &[]);
    args.push(script.to_owned());
    let mut cmd = Command::new("ssh");
    cmd.args(&args);
    run_command(cmd, format!("ssh {} {script}", host.name), input)
}

/// Runs `cmd` to its end, writing `input` to its standard input; an error only when it could
/// not be started at all.
fn run_command(mut cmd: Command, shown: String, input: Option<String>) -> GitResult<Out> {
    let fail = |e: std::io::Error| GitError {
        command: shown.clone(),
        message: e.to_string(),
    };
    cmd.stdin(if input.is_some() {
        Stdio::piped()
    } else {
        Stdio::null()
    });
    cmd.stdout(Stdio::piped()).stderr(Stdio::piped());
    let mut child = cmd.spawn().map_err(fail)?;
    if let (Some(input), Some(mut stdin)) = (input, child.stdin.take()) {
        stdin.write_all(input.as_bytes()).map_err(fail)?;
    }
    let output = child.wait_with_output().map_err(fail)?;
    Ok(Out {
        command: shown,
        code: output.status.code(),
        stdout: String::from_utf8_lossy(&output.stdout).into_owned(),
        stderr: String::from_utf8_lossy(&output.stderr).into_owned(),
    })
}

/// One git invocation being built.
struct Git<'a> {
    dir: Dir<'a>,
    args: Vec<std::ffi::OsString>,
    env: Vec<(String, String)>,
    shown: String,
    input: Option<String>,
}

impl<'a> Git<'a> {
    fn new(dir: impl Into<Dir<'a>>) -> Self {
        Git {
            dir: dir.into(),
            args: Vec::new(),
            env: Vec::new(),
            shown: "git".to_owned(),
            input: None,
        }
    }

    fn arg(mut self, arg: impl AsRef<OsStr>) -> Self {
        self.shown.push(' ');
        self.shown.push_str(&arg.as_ref().to_string_lossy());
        self.args.push(arg.as_ref().to_owned());
        self
    }

    fn args<S: AsRef<OsStr>>(self, args: impl IntoIterator<Item = S>) -> Self {
        args.into_iter().fold(self, Git::arg)
    }

    fn env(mut self, key: &str, value: &str) -> Self {
        self.env.push((key.to_owned(), value.to_owned()));
        self
    }

    /// Falls back to a `baton` identity when `dir` has no `user.email`, for commits and rebases.
    fn identity(self) -> Self {
        let email = Git::new(self.dir).args(["config", "user.email"]).run();
        if email.is_ok_and(|out| !out.stdout.trim().is_empty()) {
            return self;
        }
        self.env("GIT_AUTHOR_NAME", "baton")
            .env("GIT_COMMITTER_NAME", "baton")
            .env("GIT_AUTHOR_EMAIL", "baton@localhost")
            .env("GIT_COMMITTER_EMAIL", "baton@localhost")
    }

    /// Runs it; an error only when git (or ssh, for a host) could not be started at all.
    fn run(self) -> GitResult<Out> {
        let Some(host) = self.dir.host else {
            let mut cmd = Command::new("git");
            cmd.arg("-C")
                .arg(self.dir.path)
                .args(SETTINGS)
                .args(&self.args);
            cmd.envs(ENV).envs(self.env.iter().map(|(k, v)| (k, v)));
            for var in LOCATION_VARS {
                cmd.env_remove(var);
            }
            return run_command(cmd, self.shown, self.input);
        };
        // The same command in the host's shell: `env` sets the variables, `unset` clears
        // what would override `-C`.
        let mut words: Vec<String> = vec!["env".into()];
        words.extend(ENV.iter().map(|(k, v)| format!("{k}={v}")));
        words.extend(self.env.iter().map(|(k, v)| format!("{k}={v}")));
        words.extend([
            "git".into(),
            "-C".into(),
            self.dir.path.display().to_string(),
        ]);
        words.extend(SETTINGS.map(String::from));
        words.extend(self.args.iter().map(|a| a.to_string_lossy().into_owned()));
        let script = format!(
            "unset {}; exec {}",
            LOCATION_VARS.join(" "),
            baton_core::ssh::remote_command(&words)
        );
        let mut out = remote(host, &script, self.input)?;
        out.command = format!("{} (on {})", self.shown, host.name);
        Ok(out)
    }

    /// Runs it and returns stdout, or the error when it exits non-zero.
    fn ok(self) -> GitResult<String> {
        self.run()?.ok()
    }
}

fn lines(text: &str) -> Vec<String> {
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(str::to_owned)
        .collect()
}

/// The top directory of the worktree containing `dir`; `None` when it is not in a repository.
pub fn toplevel(dir: &Path) -> Option<PathBuf> {
    let out = Git::new(dir)
        .args(["rev-parse", "--show-toplevel"])
        .ok()
        .ok()?;
    let top = out.trim_end_matches(['\n', '\r']);
    (!top.is_empty()).then(|| PathBuf::from(top))
}

/// The branch checked out in `dir`; `None` when HEAD is detached.
pub fn current_branch<'a>(dir: impl Into<Dir<'a>>) -> GitResult<Option<String>> {
    let dir: Dir<'a> = dir.into();
    let out = Git::new(dir)
        .args(["symbolic-ref", "--short", "-q", "HEAD"])
        .run()?;
    match out.code {
        Some(0) => Ok(Some(out.stdout.trim().to_owned())),
        Some(1) => Ok(None),
        _ => Err(out.error()),
    }
}

/// The full hash of the commit `rev` names; `None` when it does not exist.
pub fn rev_parse<'a>(dir: impl Into<Dir<'a>>, rev: &str) -> GitResult<Option<String>> {
    let dir: Dir<'a> = dir.into();
    let out = Git::new(dir)
        .args(["rev-parse", "--verify", "-q", &format!("{rev}^{{commit}}")])
        .run()?;
    match out.code {
        Some(0) => Ok(Some(out.stdout.trim().to_owned())),
        Some(1) => Ok(None),
        _ => Err(out.error()),
    }
}

/// Whether the local branch `branch` exists.
pub fn branch_exists(dir: &Path, branch: &str) -> bool {
    let out = Git::new(dir).args([
        "show-ref",
        "--verify",
        "-q",
        &format!("refs/heads/{branch}"),
    ]);
    out.run().is_ok_and(|o| o.success())
}

/// The shared `.git` directory of the repository containing `dir`.
fn common_dir(dir: &Path) -> Option<PathBuf> {
    let out = Git::new(dir).args(["rev-parse", "--path-format=absolute", "--git-common-dir"]);
    let out = out.ok().ok()?;
    PathBuf::from(out.trim_end_matches(['\n', '\r']))
        .canonicalize()
        .ok()
}

/// Whether `path` is the top of a worktree of the repository at `root`.
pub fn is_worktree_of(root: &Path, path: &Path) -> bool {
    if !path.join(".git").exists() {
        return false;
    }
    let (Some(top), Ok(path)) = (toplevel(path), path.canonicalize()) else {
        return false;
    };
    top.canonicalize().is_ok_and(|top| top == path)
        && common_dir(&path).is_some_and(|c| Some(c) == common_dir(root))
}

/// What [`ensure_worktree`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Ensured {
    /// A new worktree was added.
    Created,
    /// `path` already was a worktree of this repository.
    Reused,
}

/// Makes `path` a worktree of the repository at `root` on `branch`, creating the branch at
/// `from` when it does not exist.
pub fn ensure_worktree(root: &Path, path: &Path, branch: &str, from: &str) -> GitResult<Ensured> {
    if is_worktree_of(root, path) {
        return Ok(Ensured::Reused);
    }
    Git::new(root).args(["worktree", "prune"]).ok()?;
    let add = Git::new(root).args(["worktree", "add"]);
    if branch_exists(root, branch) {
        add.arg(path).arg(branch).ok()?;
    } else {
        add.args(["-b", branch]).arg(path).arg(from).ok()?;
    }
    Ok(Ensured::Created)
}

/// Whether the worktree has any change, untracked files included.
pub fn is_dirty<'a>(wt: impl Into<Dir<'a>>) -> GitResult<bool> {
    let wt: Dir<'a> = wt.into();
    let out = Git::new(wt)
        .env("GIT_OPTIONAL_LOCKS", "0")
        .args(["status", "--porcelain"]);
    Ok(!out.ok()?.trim().is_empty())
}

/// Whether a rebase is stopped in the worktree.
pub fn rebase_in_progress<'a>(wt: impl Into<Dir<'a>>) -> bool {
    let wt: Dir<'a> = wt.into();
    let out = Git::new(wt).args(["rev-parse", "--git-path", "rebase-merge"]);
    let Ok(out) = out.args(["--git-path", "rebase-apply"]).ok() else {
        return false;
    };
    out.lines().any(|p| wt.exists(p))
}

/// Whether a file's name says it holds secrets (`.env`, keys, credentials): such a file is
/// never committed by baton unless it is tracked already.
pub fn looks_secret(path: &str) -> bool {
    let name = path.rsplit('/').next().unwrap_or(path).to_ascii_lowercase();
    let samples = [".example", ".sample", ".template", ".dist"];
    if samples.iter().any(|s| name.ends_with(s)) || name.ends_with(".pub") {
        return false;
    }
    name == ".env"
        || name.starts_with(".env.")
        || [".pem", ".key", ".p12", ".pfx", ".jks", ".keystore"]
            .iter()
            .any(|e| name.ends_with(e))
        || ["id_rsa", "id_dsa", "id_ecdsa", "id_ed25519"]
            .iter()
            .any(|k| name.starts_with(k))
        || [
            ".npmrc",
            ".pypirc",
            ".netrc",
            ".git-credentials",
            ".htpasswd",
        ]
        .contains(&name.as_str())
        || name.starts_with("credentials")
        || name.starts_with("secret")
}

/// Untracked, not ignored files of the worktree whose names say they hold secrets: what
/// [`commit_all`] leaves out.
pub fn untracked_secrets<'a>(wt: impl Into<Dir<'a>>) -> GitResult<Vec<String>> {
    let wt: Dir<'a> = wt.into();
    let out = Git::new(wt)
        .env("GIT_OPTIONAL_LOCKS", "0")
        .args(["ls-files", "--others", "--exclude-standard"])
        .ok()?;
    Ok(lines(&out)
        .into_iter()
        .filter(|f| looks_secret(f))
        .collect())
}

/// Stages everything but new files that look like secrets ([`looks_secret`]), and commits it
/// with `message`; the new HEAD, or `None` when there was nothing to commit.
pub fn commit_all<'a>(wt: impl Into<Dir<'a>>, message: &str) -> GitResult<Option<String>> {
    let wt: Dir<'a> = wt.into();
    Git::new(wt).args(["add", "-A"]).ok()?;
    let added = Git::new(wt)
        .args(["diff", "--cached", "--name-only", "--diff-filter=A"])
        .ok()?;
    let secrets: Vec<String> = lines(&added)
        .into_iter()
        .filter(|f| looks_secret(f))
        .collect();
    if !secrets.is_empty() {
        Git::new(wt)
            .args(["reset", "-q", "--"])
            .args(&secrets)
            .ok()?;
    }
    if !Git::new(wt)
        .args(["diff", "--cached", "--quiet"])
        .run()?
        .yes_no()?
    {
        let mut commit = Git::new(wt).identity().args(["commit", "-q", "-F", "-"]);
        commit.input = Some(message.to_owned());
        commit.ok()?;
        return rev_parse(wt, "HEAD");
    }
    Ok(None)
}

/// How a rebase ended.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Rebase {
    /// Every commit applied.
    Clean,
    /// It stopped on a conflict.
    Conflict {
        /// The conflicted paths.
        files: Vec<String>,
        /// Git's `CONFLICT` lines, then the start of the conflicted diff with its markers.
        excerpt: String,
    },
}

/// The conflict a stopped rebase is on, or `None` when no path is unmerged.
fn conflict<'a>(wt: impl Into<Dir<'a>>, output: &Out) -> GitResult<Option<Rebase>> {
    let wt: Dir<'a> = wt.into();
    let files = Git::new(wt)
        .args(["diff", "--name-only", "--diff-filter=U"])
        .ok()?;
    let files = lines(&files);
    if files.is_empty() {
        return Ok(None);
    }
    let said = format!("{}\n{}", output.stdout, output.stderr);
    let mut excerpt: Vec<&str> = said.lines().filter(|l| l.contains("CONFLICT")).collect();
    let diff = Git::new(wt)
        .args(["diff", "--no-color", "--no-ext-diff"])
        .ok()?;
    let diff: Vec<&str> = diff.lines().collect();
    excerpt.extend(diff.iter().take(60));
    let mut excerpt = excerpt.join("\n");
    if diff.len() > 60 {
        excerpt.push_str(&format!("\n... ({} more diff lines)", diff.len() - 60));
    }
    Ok(Some(Rebase::Conflict { files, excerpt }))
}

/// Rebases the worktree's HEAD onto `upstream`. On a conflict the rebase is aborted unless
/// `keep_conflict`, which leaves it stopped with the markers in place for someone to resolve.
pub fn rebase<'a>(
    wt: impl Into<Dir<'a>>,
    upstream: &str,
    keep_conflict: bool,
) -> GitResult<Rebase> {
    let wt: Dir<'a> = wt.into();
    let out = Git::new(wt).identity().args(["rebase", upstream]).run()?;
    if out.success() {
        return Ok(Rebase::Clean);
    }
    if !rebase_in_progress(wt) {
        return Err(out.error());
    }
    match conflict(wt, &out) {
        Ok(Some(found)) => {
            if !keep_conflict {
                abort_rebase(wt);
            }
            Ok(found)
        }
        Ok(None) => {
            abort_rebase(wt);
            Err(out.error())
        }
        Err(e) => {
            abort_rebase(wt);
            Err(e)
        }
    }
}

/// Stages the resolution and continues a stopped rebase, skipping steps left empty. Leaves the
/// rebase stopped and returns the conflict when a later commit conflicts.
pub fn continue_rebase<'a>(wt: impl Into<Dir<'a>>) -> GitResult<Rebase> {
    let wt: Dir<'a> = wt.into();
    for _ in 0..10_000 {
        if !rebase_in_progress(wt) {
            return Ok(Rebase::Clean);
        }
        Git::new(wt).args(["add", "-A"]).ok()?;
        let step = Git::new(wt).identity().args(["-c", "core.editor=true"]);
        let out = step.args(["rebase", "--continue"]).run()?;
        if out.success() {
            continue;
        }
        if let Some(found) = conflict(wt, &out)? {
            return Ok(found);
        }
        let said = format!("{}\n{}", out.stdout, out.stderr);
        if !(said.contains("nothing to commit") || said.contains("No changes")) {
            return Err(out.error());
        }
        let out = Git::new(wt).identity().args(["rebase", "--skip"]).run()?;
        if !out.success() {
            if let Some(found) = conflict(wt, &out)? {
                return Ok(found);
            }
            return Err(out.error());
        }
    }
    Err(GitError {
        command: "git rebase --continue".to_owned(),
        message: "did not finish".into(),
    })
}

/// The files of a stopped rebase that still hold conflict markers (`<<<<<<< `, `=======`,
/// `>>>>>>> ` lines): the conflicted files, whether staged already or not.
pub fn unresolved_markers<'a>(wt: impl Into<Dir<'a>>) -> GitResult<Vec<String>> {
    let wt: Dir<'a> = wt.into();
    let conflicted = Git::new(wt)
        .args(["diff", "--name-only", "--diff-filter=U"])
        .ok()?;
    let mut files = lines(&conflicted);
    // Staged by the agent already: the files the stopped commit touches.
    let staged = Git::new(wt)
        .args(["diff", "--cached", "--name-only", "HEAD"])
        .ok()?;
    for f in lines(&staged) {
        if !files.contains(&f) {
            files.push(f);
        }
    }
    Ok(files
        .into_iter()
        .filter(|f| {
            wt.read(f).is_some_and(|text| {
                text.lines().any(|l| {
                    l.starts_with("<<<<<<< ") || l == "=======" || l.starts_with(">>>>>>> ")
                })
            })
        })
        .collect())
}

/// Sets the worktree's uncommitted changes (untracked files included) aside: commits them,
/// points `ref_name` at that commit, and moves the branch back, leaving a clean worktree.
/// Nothing is lost (the ref keeps it) and `refs/stash`, which every worktree shares, is not
/// used. Returns the commit, or `None` when there was nothing to set aside.
pub fn set_aside<'a>(
    wt: impl Into<Dir<'a>>,
    ref_name: &str,
    message: &str,
) -> GitResult<Option<String>> {
    let wt: Dir<'a> = wt.into();
    let Some(commit) = commit_all(wt, message)? else {
        return Ok(None);
    };
    Git::new(wt)
        .args(["update-ref", "-m", message, ref_name, &commit])
        .ok()?;
    Git::new(wt)
        .args(["reset", "-q", "--hard", "HEAD~1"])
        .ok()?;
    Ok(Some(commit))
}

/// Runs any git command in `dir` with the settings every call here gets; its output.
pub fn run<'a>(dir: impl Into<Dir<'a>>, args: &[&str]) -> GitResult<String> {
    let dir: Dir<'a> = dir.into();
    Git::new(dir).args(args).ok()
}

/// Runs a read-only git query in `dir` (without refreshing its index, so it writes nothing
/// there) and returns its output; `None` when it fails, e.g. `dir` is not in a repository.
pub fn query(dir: &Path, args: &[&str]) -> Option<String> {
    Git::new(dir)
        .env("GIT_OPTIONAL_LOCKS", "0")
        .args(args)
        .ok()
        .ok()
}

/// Tracked files that differ from HEAD (staged or not): what a command changed in a clean
/// checkout.
pub fn tracked_changes(dir: &Path) -> GitResult<Vec<String>> {
    let out = Git::new(dir)
        .env("GIT_OPTIONAL_LOCKS", "0")
        .args(["diff", "--name-only", "HEAD"])
        .ok()?;
    Ok(lines(&out))
}

/// Brings a checkout whose branch was moved from `from` to `to` under it up to date: index and
/// files go from `from`'s tree to `to`'s, local edits kept (`git read-tree -m -u`, the
/// two-tree merge a checkout does). git refuses, changing nothing, when a local edit touches
/// a file that changed. Only `baton sync` calls it, on the person's request.
pub fn checkout_forward(root: &Path, from: &str, to: &str) -> GitResult<()> {
    Git::new(root)
        .args(["read-tree", "-m", "-u", from, to])
        .ok()
        .map(|_| ())
}

/// Aborts a rebase in the worktree, if any; errors are ignored.
pub fn abort_rebase<'a>(wt: impl Into<Dir<'a>>) {
    let wt: Dir<'a> = wt.into();
    let _ = Git::new(wt).args(["rebase", "--abort"]).run();
}

/// Makes `path` a clean detached worktree of `root`'s repository at commit `at`. Ignored files
/// survive (so verify builds stay incremental); a stale non-worktree directory at `path` is
/// removed, which is only allowed inside `<root>/.baton`.
pub fn prepare_scratch(root: &Path, path: &Path, at: &str) -> GitResult<()> {
    if is_worktree_of(root, path) {
        if rebase_in_progress(path) {
            abort_rebase(path);
        }
        Git::new(path).args(["reset", "-q", "--hard"]).ok()?;
        Git::new(path).args(["clean", "-fdq"]).ok()?;
        Git::new(path)
            .args(["checkout", "-q", "--detach", at])
            .ok()?;
        return Ok(());
    }
    Git::new(root).args(["worktree", "prune"]).ok()?;
    if path.exists() {
        let inside = match (path.canonicalize(), root.join(".baton").canonicalize()) {
            (Ok(path), Ok(baton)) => path.starts_with(&baton) && path != baton,
            _ => false,
        };
        let shown = format!("remove {}", path.display());
        if !inside {
            let message = "refusing to remove a directory outside .baton".to_owned();
            return Err(GitError {
                command: shown,
                message,
            });
        }
        std::fs::remove_dir_all(path).map_err(|e| GitError {
            command: shown,
            message: e.to_string(),
        })?;
    }
    Git::new(root)
        .args(["worktree", "add", "--detach"])
        .arg(path)
        .arg(at)
        .ok()?;
    Ok(())
}

/// Whether commit `a` is an ancestor of (or equal to) `b`.
pub fn is_ancestor(dir: &Path, a: &str, b: &str) -> GitResult<bool> {
    Git::new(dir)
        .args(["merge-base", "--is-ancestor", a, b])
        .run()?
        .yes_no()
}

/// The reflog message of the merge queue's ref updates.
pub const MERGE_QUEUE_REFLOG: &str = "baton: merge queue";

/// The reflog of the local branch `branch`, newest first, as `(full hash, message)`.
pub fn reflog(dir: &Path, branch: &str) -> GitResult<Vec<(String, String)>> {
    let log = Git::new(dir).args(["log", "-g", "--no-color", "--format=%H%x09%gs"]);
    let out = log.arg(format!("refs/heads/{branch}")).arg("--").ok()?;
    let entry = |l: &str| {
        l.split_once('\t')
            .map(|(h, m)| (h.to_owned(), m.to_owned()))
    };
    Ok(out.lines().filter_map(entry).collect())
}

/// Moves `refs/heads/<branch>` from `old` to `new` atomically. `Ok(false)` when the ref no
/// longer is `old` (someone moved or deleted it first).
pub fn update_ref_cas(dir: &Path, branch: &str, new: &str, old: &str) -> GitResult<bool> {
    let name = format!("refs/heads/{branch}");
    let mut tries = 0;
    loop {
        let out = Git::new(dir).args(["update-ref", "-m", MERGE_QUEUE_REFLOG, &name, new, old]);
        let out = out.run()?;
        if out.success() {
            return Ok(true);
        }
        let (now, expected) = (rev_parse(dir, &name)?, rev_parse(dir, old)?);
        if now != expected {
            return Ok(false);
        }
        // Still `old`: a lock held for a moment (a `git gc --auto` packing refs). Try again.
        tries += 1;
        if tries >= 3 {
            return Err(out.error());
        }
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
}

/// The commits of `branch` whose change is not in `integration`, as `<short hash> <subject>`.
pub fn unmerged_commits(dir: &Path, branch: &str, integration: &str) -> GitResult<Vec<String>> {
    let range = format!("{integration}...{branch}");
    let log = Git::new(dir).args(["log", "--cherry-pick", "--right-only", "--no-merges"]);
    Ok(lines(
        &log.args(["--no-color", "--format=%h %s", &range]).ok()?,
    ))
}

/// What the worktree at `dir` would bring into `integration`: the diff from their merge base
/// to the working tree (uncommitted changes included), then one line per untracked file.
pub fn diff_against(dir: &Path, integration: &str) -> GitResult<String> {
    let base = Git::new(dir)
        .args(["merge-base", integration, "HEAD"])
        .ok()?;
    let quiet = || Git::new(dir).env("GIT_OPTIONAL_LOCKS", "0");
    let diff = quiet().args(["diff", "--no-color", "--no-ext-diff", base.trim()]);
    let mut text = diff.ok()?;
    let untracked = quiet().args(["ls-files", "--others", "--exclude-standard"]);
    for file in lines(&untracked.ok()?) {
        text.push_str(&format!("new file (untracked): {file}\n"));
    }
    Ok(text)
}

/// Whether `dir` is the top of a repository of its own (it holds `.git`), so git run there
/// cannot walk up into another one.
pub fn is_repository_top(dir: Dir<'_>) -> GitResult<bool> {
    match dir.host {
        None => Ok(dir.path.join(".git").exists()),
        Some(host) => {
            let path = dir.path.join(".git").display().to_string();
            remote(host, &format!("test -e {}", quote(&path)), None)?.yes_no()
        }
    }
}

/// The git command that reaches the repository at `path` on `host` with baton's own ssh
/// arguments (`baton_core::ssh::ssh_args`: no prompt, no shared connection, the host's port,
/// key and options): git's transport over ssh, with ssh replaced by a shell function that
/// drops the placeholder host git passes and runs ssh as baton does. Variant `simple`: git
/// adds no option of its own (no `-p`, no `-o SendEnv`).
fn over_ssh<'a>(root: &'a Path, host: &HostConfig, path: &Path) -> (Git<'a>, String) {
    let args = baton_core::ssh::ssh_args::<&str>(host, crate::ssh::identity(host).as_deref(), &[]);
    let words: Vec<String> = args.iter().map(|a| quote(a)).collect();
    let ssh = format!("f() {{ shift; exec ssh {} \"$@\"; }}; f", words.join(" "));
    let git = Git::new(root)
        .env("GIT_SSH_COMMAND", &ssh)
        .env("GIT_SSH_VARIANT", "simple");
    (git, format!("baton-host:{}", path.display()))
}

/// Pushes `refspecs` of the repository at `root` to the repository at `path` on `host`.
pub fn push_to(root: &Path, host: &HostConfig, path: &Path, refspecs: &[String]) -> GitResult<()> {
    let (git, url) = over_ssh(root, host, path);
    let git = git
        .args(["push", "--quiet", "--no-verify", &url])
        .args(refspecs);
    let out = git.run()?;
    let mut out = out;
    out.command = format!("{} (to {})", out.command, host.name);
    out.ok().map(drop)
}

/// Fetches `refspecs` from the repository at `path` on `host` into the one at `root`
/// (FETCH_HEAD is not written: nothing but the refs named changes here).
pub fn fetch_from(
    root: &Path,
    host: &HostConfig,
    path: &Path,
    refspecs: &[String],
) -> GitResult<()> {
    let (git, url) = over_ssh(root, host, path);
    let git = git
        .args([
            "fetch",
            "--quiet",
            "--no-tags",
            "--no-write-fetch-head",
            &url,
        ])
        .args(refspecs);
    let mut out = git.run()?;
    out.command = format!("{} (from {})", out.command, host.name);
    out.ok().map(drop)
}

/// Removes the worktree at `path` (changes in it are lost) and prunes stale worktree entries.
pub fn remove_worktree(root: &Path, path: &Path) -> GitResult<()> {
    if path.exists() {
        Git::new(root)
            .args(["worktree", "remove", "--force"])
            .arg(path)
            .ok()?;
    }
    Git::new(root).args(["worktree", "prune"]).ok()?;
    Ok(())
}

/// Deletes the local branch `branch`, merged or not.
pub fn delete_branch(root: &Path, branch: &str) -> GitResult<()> {
    Git::new(root).args(["branch", "-D", branch]).ok().map(drop)
}

#[cfg(test)]
/// Up to `max` commits of `range`, newest first, as `<short hash> <subject>`.
pub fn log_oneline(dir: &Path, range: &str, max: usize) -> GitResult<Vec<String>> {
    let log = Git::new(dir).args(["log", "--no-color", "--format=%h %s"]);
    Ok(lines(&log.arg(format!("-n{max}")).arg(range).ok()?))
}

#[cfg(test)]
mod marker_tests {
    use super::*;

    fn sh(dir: &Path, args: &[&str]) {
        let ok = Command::new("git")
            .arg("-C")
            .arg(dir)
            .args(args)
            .env("GIT_CONFIG_NOSYSTEM", "1")
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .unwrap()
            .success();
        assert!(ok, "git {args:?}");
    }

    #[test]
    fn markers_left_in_a_conflict_are_found_and_tracked_changes_listed() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        sh(d, &["init", "-q", "-b", "main"]);
        sh(d, &["config", "user.name", "t"]);
        sh(d, &["config", "user.email", "t@t.invalid"]);
        std::fs::write(d.join("f"), "base\n").unwrap();
        sh(d, &["add", "f"]);
        sh(d, &["commit", "-qm", "base"]);
        sh(d, &["checkout", "-qb", "side"]);
        std::fs::write(d.join("f"), "side\n").unwrap();
        sh(d, &["commit", "-qam", "side"]);
        sh(d, &["checkout", "-q", "main"]);
        std::fs::write(d.join("f"), "main\n").unwrap();
        sh(d, &["commit", "-qam", "main"]);
        sh(d, &["checkout", "-q", "side"]);
        assert!(matches!(
            rebase(d, "main", true).unwrap(),
            Rebase::Conflict { .. }
        ));
        assert_eq!(unresolved_markers(d).unwrap(), vec!["f".to_string()]);
        // Staged with its markers still in: still unresolved.
        sh(d, &["add", "f"]);
        assert_eq!(unresolved_markers(d).unwrap(), vec!["f".to_string()]);
        std::fs::write(d.join("f"), "main\nside\n").unwrap();
        assert!(unresolved_markers(d).unwrap().is_empty());
        assert_eq!(continue_rebase(d).unwrap(), Rebase::Clean);
        assert!(tracked_changes(d).unwrap().is_empty());
        std::fs::write(d.join("f"), "changed by a formatter\n").unwrap();
        assert_eq!(tracked_changes(d).unwrap(), vec!["f".to_string()]);
        // Set aside, untracked files included: clean again, the branch where it was.
        std::fs::write(d.join("new.txt"), "half done\n").unwrap();
        let head = rev_parse(d, "HEAD").unwrap();
        let kept = set_aside(d, "refs/baton/set-aside/x/1", "left")
            .unwrap()
            .unwrap();
        assert!(!is_dirty(d).unwrap());
        assert_eq!(rev_parse(d, "HEAD").unwrap(), head);
        assert_eq!(
            rev_parse(d, "refs/baton/set-aside/x/1").unwrap().as_deref(),
            Some(kept.as_str())
        );
        let shown = Git::new(d).args(["show", "--stat", &kept]).ok().unwrap();
        assert!(
            shown.contains("new.txt") && shown.contains(" f "),
            "{shown}"
        );
        assert_eq!(
            set_aside(d, "refs/baton/set-aside/x/2", "left").unwrap(),
            None
        );
        // A new file that looks like secrets is never committed (nor set aside).
        std::fs::write(d.join(".env"), "TOKEN=hunter2\n").unwrap();
        std::fs::create_dir_all(d.join("conf")).unwrap();
        std::fs::write(d.join("conf/server.key"), "key\n").unwrap();
        std::fs::write(d.join("notes.txt"), "fine\n").unwrap();
        assert_eq!(untracked_secrets(d).unwrap(), [".env", "conf/server.key"]);
        let c = commit_all(d, "work").unwrap().unwrap();
        let files = Git::new(d)
            .args(["show", "--name-only", "--format=", &c])
            .ok()
            .unwrap();
        assert_eq!(files.trim(), "notes.txt");
        assert_eq!(
            set_aside(d, "refs/baton/set-aside/x/3", "left").unwrap(),
            None
        );
        assert!(d.join(".env").exists());
    }

    #[test]
    fn secret_looking_names() {
        for secret in [
            ".env",
            "app/.env.local",
            "tls/server.pem",
            "id_ed25519",
            ".npmrc",
            "credentials.json",
            "secrets.yaml",
            "deploy/prod.KEY",
        ] {
            assert!(looks_secret(secret), "{secret}");
        }
        for fine in [
            ".env.example",
            "id_ed25519.pub",
            "src/keyboard.rs",
            "environment.md",
            "docs/secrecy.txt.sample",
            "main.rs",
        ] {
            assert!(!looks_secret(fine), "{fine}");
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn git(dir: &Path, args: &[&str]) -> String {
        Git::new(dir).args(args).ok().unwrap()
    }

    fn write(dir: &Path, file: &str, text: &str) {
        std::fs::write(dir.join(file), text).unwrap();
    }

    /// A repository on `main` with one commit of `f`, plus its `.baton` directory.
    fn repo() -> (tempfile::TempDir, PathBuf) {
        let tmp = tempfile::tempdir().unwrap();
        let root = tmp.path().join("repo");
        std::fs::create_dir_all(root.join(".baton")).unwrap();
        git(&root, &["init", "-q", "-b", "main"]);
        git(&root, &["config", "user.name", "Test"]);
        git(&root, &["config", "user.email", "test@example.com"]);
        write(&root, ".gitignore", ".baton/\n*.o\n");
        write(&root, "f", "one\n");
        commit_all(&root, "initial").unwrap().unwrap();
        (tmp, root)
    }

    /// An agent worktree on `baton/a` with a commit changing `f` to `text`.
    fn agent(root: &Path, text: &str) -> PathBuf {
        let wt = root.join(".baton/worktrees/a");
        ensure_worktree(root, &wt, "baton/a", "main").unwrap();
        write(&wt, "f", text);
        commit_all(&wt, "agent change").unwrap().unwrap();
        wt
    }

    /// Commits `f` = `text` on `main` without touching the main worktree.
    fn advance_main(root: &Path, text: &str) -> String {
        let side = root.join(".baton/side");
        prepare_scratch(root, &side, "main").unwrap();
        write(&side, "f", text);
        let new = commit_all(&side, "main change").unwrap().unwrap();
        let old = rev_parse(root, "main").unwrap().unwrap();
        assert!(update_ref_cas(root, "main", &new, &old).unwrap());
        new
    }

    #[test]
    fn worktrees_are_created_then_reused_and_commit_all() {
        let (_tmp, root) = repo();
        let wt = root.join(".baton/worktrees/a");
        assert_eq!(
            ensure_worktree(&root, &wt, "baton/a", "main").unwrap(),
            Ensured::Created
        );
        assert_eq!(
            ensure_worktree(&root, &wt, "baton/a", "main").unwrap(),
            Ensured::Reused
        );
        assert_eq!(current_branch(&wt).unwrap().as_deref(), Some("baton/a"));
        assert!(branch_exists(&root, "baton/a") && !branch_exists(&root, "nope"));
        assert_eq!(
            toplevel(&wt).unwrap().canonicalize().unwrap(),
            wt.canonicalize().unwrap()
        );
        assert_eq!(commit_all(&wt, "nothing").unwrap(), None);
        write(&wt, "new", "x\n");
        assert!(is_dirty(&wt).unwrap());
        let head = commit_all(&wt, "add new\n\nbody").unwrap().unwrap();
        assert_eq!(rev_parse(&wt, "HEAD").unwrap(), Some(head));
        assert!(!is_dirty(&wt).unwrap());
        assert_eq!(log_oneline(&wt, "main..HEAD", 5).unwrap().len(), 1);
        assert_eq!(unmerged_commits(&root, "baton/a", "main").unwrap().len(), 1);
        assert!(diff_against(&wt, "main").unwrap().contains("+x"));
        remove_worktree(&root, &wt).unwrap();
        assert!(!wt.exists());
        delete_branch(&root, "baton/a").unwrap();
        assert!(!branch_exists(&root, "baton/a"));
    }

    #[test]
    fn rebase_clean_and_cherry_picked_work_is_merged() {
        let (_tmp, root) = repo();
        let wt = root.join(".baton/worktrees/a");
        ensure_worktree(&root, &wt, "baton/a", "main").unwrap();
        write(&wt, "g", "agent\n");
        commit_all(&wt, "add g").unwrap().unwrap();
        let main = advance_main(&root, "two\n");
        assert_eq!(rebase(&wt, "main", false).unwrap(), Rebase::Clean);
        assert!(is_ancestor(&wt, &main, "HEAD").unwrap());
        assert!(!is_ancestor(&wt, "HEAD", &main).unwrap());
        let head = rev_parse(&wt, "HEAD").unwrap().unwrap();
        assert!(update_ref_cas(&root, "main", &head, &main).unwrap());
        // The agent commits the same change again on a branch that predates it.
        git(&wt, &["reset", "-q", "--hard", &main]);
        write(&wt, "g", "agent\n");
        commit_all(&wt, "add g again").unwrap().unwrap();
        assert_eq!(rebase(&wt, "main", false).unwrap(), Rebase::Clean);
        assert!(
            unmerged_commits(&root, "baton/a", "main")
                .unwrap()
                .is_empty()
        );
    }

    #[test]
    fn conflicts_abort_or_stay_for_resolution() {
        let (_tmp, root) = repo();
        let wt = agent(&root, "agent\n");
        let main = advance_main(&root, "main\n");
        let before = rev_parse(&wt, "HEAD").unwrap();
        let Rebase::Conflict { files, excerpt } = rebase(&wt, "main", false).unwrap() else {
            panic!("expected a conflict")
        };
        assert_eq!(files, ["f"]);
        assert!(
            excerpt.contains("CONFLICT") && excerpt.contains("<<<<<<<"),
            "{excerpt}"
        );
        assert!(!rebase_in_progress(&wt) && !is_dirty(&wt).unwrap());
        assert_eq!(rev_parse(&wt, "HEAD").unwrap(), before);

        assert!(matches!(
            rebase(&wt, "main", true).unwrap(),
            Rebase::Conflict { .. }
        ));
        assert!(rebase_in_progress(&wt));
        assert!(
            std::fs::read_to_string(wt.join("f"))
                .unwrap()
                .contains(">>>>>>>")
        );
        write(&wt, "f", "resolved\n");
        assert_eq!(continue_rebase(&wt).unwrap(), Rebase::Clean);
        assert!(!rebase_in_progress(&wt) && !is_dirty(&wt).unwrap());
        assert_eq!(rev_parse(&wt, "HEAD~1").unwrap(), Some(main));
        assert_eq!(current_branch(&wt).unwrap().as_deref(), Some("baton/a"));
        assert_eq!(log_oneline(&wt, "HEAD", 10).unwrap().len(), 3);
    }

    #[test]
    fn empty_resolution_is_skipped_and_identity_falls_back() {
        let (_tmp, root) = repo();
        let wt = agent(&root, "agent\n");
        write(&wt, "g", "more\n");
        commit_all(&wt, "second").unwrap().unwrap();
        let main = advance_main(&root, "main\n");
        git(&root, &["config", "user.email", ""]);
        assert!(matches!(
            rebase(&wt, "main", true).unwrap(),
            Rebase::Conflict { .. }
        ));
        write(&wt, "f", "main\n");
        assert_eq!(continue_rebase(&wt).unwrap(), Rebase::Clean);
        assert_eq!(rev_parse(&wt, "HEAD~1").unwrap(), Some(main));
        let email = git(&wt, &["log", "-1", "--format=%ae %ce"]);
        assert_eq!(email.trim(), "test@example.com baton@localhost");
    }

    #[test]
    fn scratch_is_reset_to_the_commit() {
        let (_tmp, root) = repo();
        let wt = agent(&root, "agent\n");
        let main = advance_main(&root, "main\n");
        let scratch = root.join(".baton/scratch");
        std::fs::create_dir_all(&scratch).unwrap();
        write(&scratch, "stale", "leftover\n");
        prepare_scratch(&root, &scratch, "baton/a").unwrap();
        assert!(matches!(
            rebase(&scratch, "main", true).unwrap(),
            Rebase::Conflict { .. }
        ));
        write(&scratch, "junk", "x\n");
        write(&scratch, "ignored.o", "keep\n");
        prepare_scratch(&root, &scratch, &main).unwrap();
        assert!(!rebase_in_progress(&scratch) && !is_dirty(&scratch).unwrap());
        assert!(!scratch.join("junk").exists() && scratch.join("ignored.o").exists());
        assert_eq!(rev_parse(&scratch, "HEAD").unwrap(), Some(main));
        assert_eq!(current_branch(&scratch).unwrap(), None);
        assert!(wt.exists());
        let outside = tempfile::tempdir().unwrap();
        assert!(prepare_scratch(&root, outside.path(), "main").is_err());
        assert!(outside.path().exists());
    }

    #[test]
    fn ref_cas_refuses_a_stale_old_value() {
        let (_tmp, root) = repo();
        let base = rev_parse(&root, "main").unwrap().unwrap();
        let wt = agent(&root, "agent\n");
        let new = rev_parse(&wt, "HEAD").unwrap().unwrap();
        git(&root, &["branch", "integration", &base]);
        assert!(update_ref_cas(&root, "integration", &new, &base).unwrap());
        assert!(!update_ref_cas(&root, "integration", &base, &base).unwrap());
        assert_eq!(
            rev_parse(&root, "integration").unwrap().as_ref(),
            Some(&new)
        );
        assert_eq!(rev_parse(&root, "nope").unwrap(), None);
        let log = reflog(&root, "integration").unwrap();
        assert_eq!(log[0], (new, MERGE_QUEUE_REFLOG.to_owned()));
        assert_eq!(log.len(), 2);
    }

    #[test]
    fn the_main_worktree_is_never_touched() {
        let (_tmp, root) = repo();
        write(&root, "f", "user edit\n");
        write(&root, "untracked", "mine\n");
        git(&root, &["add", "untracked"]);
        write(&root, "untracked", "mine, edited\n");
        let status = git(&root, &["status", "--porcelain"]);
        let staged = git(&root, &["diff", "--cached"]);
        let head = rev_parse(&root, "HEAD").unwrap();

        let base = head.clone().unwrap();
        git(&root, &["branch", "integration", &base]);
        let wt = agent(&root, "agent\n");
        prepare_scratch(&root, &root.join(".baton/scratch"), "baton/a").unwrap();
        prepare_scratch(&root, &root.join(".baton/scratch"), "integration").unwrap();
        let new = rev_parse(&wt, "HEAD").unwrap().unwrap();
        assert!(update_ref_cas(&root, "integration", &new, &base).unwrap());

        assert_eq!(git(&root, &["status", "--porcelain"]), status);
        assert_eq!(git(&root, &["diff", "--cached"]), staged);
        assert_eq!(rev_parse(&root, "HEAD").unwrap(), head);
        assert_eq!(current_branch(&root).unwrap().as_deref(), Some("main"));
        assert_eq!(
            std::fs::read_to_string(root.join("f")).unwrap(),
            "user edit\n"
        );
    }
}
