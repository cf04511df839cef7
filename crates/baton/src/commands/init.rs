//! `baton init`: write a commented baton.toml, with the agent CLIs found on PATH.

use std::io::Write;
use std::path::Path;
use std::path::PathBuf;
use std::process::ExitCode;

use baton_core::config::FILE_NAME;
use baton_core::config::sanitize_name;
use baton_core::profile::builtin_names;
use baton_core::profile::builtin_spec;
use clap::Args;

use crate::commands::ok;
use crate::error::CliError;
use crate::error::CliResult;
use crate::error::io_error;
use crate::project::start_dir;

/// Arguments of `baton init`.
#[derive(Args, Debug)]
pub struct InitArgs {
    /// Overwrite an existing baton.toml
    #[arg(long)]
    pub force: bool,
}

/// Returns the full path of a program found on PATH.
pub fn which(program: &str) -> Option<PathBuf> {
    if program.contains('/') {
        let p = PathBuf::from(program);
        return p.is_file().then_some(p);
    }
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|d| d.join(program))
            .find(|p| p.is_file())
    })
}

/// The lines of a `.gitignore` that already ignore the state directory.
const IGNORES_STATE: [&str; 4] = [".baton/", ".baton", "/.baton/", "/.baton"];

/// Adds `.baton/` to the `.gitignore` in `root` (created when absent), keeping what is there
/// byte for byte; returns false when a line already ignores it.
fn ignore_state_dir(root: &Path) -> CliResult<bool> {
    let path = root.join(".gitignore");
    let old = match std::fs::read(&path) {
        Ok(b) => b,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
        Err(e) => return Err(io_error(format!("cannot read {}", path.display()), e)),
    };
    let has = String::from_utf8_lossy(&old)
        .lines()
        .any(|l| IGNORES_STATE.contains(&l.trim()));
    if has {
        return Ok(false);
    }
    let mut add = String::new();
    if !old.is_empty() && !old.ends_with(b"\n") {
        add.push('\n');
    }
    add.push_str(".baton/\n");
    std::fs::OpenOptions::new()
        .append(true)
        .create(true)
        .open(&path)
        .and_then(|mut f| f.write_all(add.as_bytes()))
        .map_err(|e| io_error(format!("cannot write {}", path.display()), e))?;
    Ok(true)
}

/// Writes baton.toml.
pub fn cmd_init(dir: Option<&Path>, args: &InitArgs) -> CliResult<ExitCode> {
    let root = start_dir(dir)?;
    let path = root.join(FILE_NAME);
    if path.exists() && !args.force {
        return Err(CliError::user(format!("{} already exists", path.display()))
            .hint("edit it, or pass --force to write a new one"));
    }
    let name = sanitize_name(
        &root
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
            .unwrap_or_else(|| "baton".into()),
    );
    let mut found = Vec::new();
    let mut agents = String::new();
    for cli in builtin_names().filter(|n| *n != "generic") {
        let spec = builtin_spec(cli).expect("built-in");
        let bin = spec.binaries.clone().unwrap_or_default();
        let path = bin.iter().find_map(|b| which(b));
        let prefix = if path.is_some() { "" } else { "# " };
        agents.push_str(&format!(
            "\n# {}: {}\n{prefix}[[agent]]\n{prefix}name = \"{cli}\"\n{prefix}cli = \"{cli}\"\n{prefix}skills = []\n{prefix}max_tasks = 1\n",
            spec.description.unwrap_or_default(),
            match &path {
                Some(p) => format!("found at {}", p.display()),
                None => "not found on PATH".to_owned(),
            }
        ));
        if path.is_some() {
            found.push(cli);
        }
    }
    let text = format!(
        r#"# baton.toml: the agents baton runs for this project, and how.
# Reference: docs/ARCHITECTURE.md. Check it with `baton doctor`.

[session]
name = "{name}"              # tmux session name
{isolation}# socket = "baton-{name}"    # tmux server socket (tmux -L); baton never uses your default server
# width = 160                # size of agent windows
# height = 48
# reports_dir = "."          # where ORCHESTRATION_LOG.md, REPORT.md, HANDOFF_TO_*.md go

# One [[agent]] per agent CLI. `cli` picks the profile (claude, codex, amp, gemini, opencode,
# generic);
# `command` launches something else under that profile (a wrapper, a custom build):
#   command = "./bin/claude-wrapper --model sonnet"
# `env` adds environment variables, `workdir` runs it in a subdirectory.
# To try baton without any account, use the fake agent:
#   command = "baton fake-agent --persona claude"
{agents}
# [profile.claude]           # override any field of a built-in profile
# args = ["--model", "opus"]

[lead]
chain = [{chain}]            # who leads, in order of handoff
prepare_at = 85              # % session used: finish current work, write notes
handoff_at = 93              # % session used: hand the lead role over
return_below = 50            # % after reset at which the role comes back
# return = true              # give the role back after the first lead's reset
# notes_deadline_secs = 180  # how long the lead's notes are waited for

[quota]
warn = 80                    # one notification, and a message to the lead
critical = 90                # no new task for that agent
sources = ["hook", "screen", "rollout"]   # "oauth" is opt-in
# auto_stop = false          # stop agents' work at critical
# oauth_ttl_secs = 120

# [notify]
# backend = "auto"           # auto | bell | off | a notify-send-like program
# disable = []               # e.g. ["run-finished"]; the webhook skips them too
# webhook = "https://ntfy.sh/<a topic only you know>"   # also POST every notice (a secret:
#                            # baton shows only its scheme and host)
# webhook_format = "json"    # json | slack ({{"text": …}}) | ntfy (plain text, Title header)

[verify]
commands = []                # e.g. ["cargo build", "cargo test"]; in worktree mode, run on each merge
max_fix_cycles = 3
# batch = 1                  # worktree mode: merges one verify may check at once

[run]
# template = "en"            # "en", "fr", or a file of your own
# test_tasks = true          # a test task per feature once all are done
# stuck_after_secs = 600
"#,
        isolation = if crate::git::toplevel(&root).is_some() {
            r#"# Each agent works in its own git worktree (.baton/worktrees/<agent>, branch baton/<agent>);
# its work reaches the integration branch only through the merge queue, once [verify] passes.
# Your checkout is never touched. "shared" = every agent in this checkout, as by hand.
isolation = "worktree"
# integration_branch = "main" # default: the branch checked out here at the first `baton up`
memory_file = ".baton/BOARD.md"  # the shared board (baton owns one marked region in it)
"#
        } else {
            r#"# isolation = "worktree"    # inside a git repository: a worktree per agent, merged when verified
isolation = "shared"         # every agent works in this directory
memory_file = "CLAUDE.md"    # the shared memory file (baton owns one marked region in it)
"#
        },
        chain = found
            .iter()
            .map(|c| format!("\"{c}\""))
            .collect::<Vec<_>>()
            .join(", "),
    );
    // Refuse to write something that would not load.
    baton_core::Config::parse(&path, &text)
        .map_err(|e| CliError::internal(format!("the generated file does not parse: {e}")))?;
    let in_git = crate::git::toplevel(&root).is_some();
    let tmp = root.join(format!(".{FILE_NAME}.tmp-{}", std::process::id()));
    let mut f = std::fs::File::create(&tmp)
        .map_err(|e| io_error(format!("cannot write {}", tmp.display()), e))?;
    f.write_all(text.as_bytes())
        .and_then(|()| f.sync_all())
        .map_err(|e| io_error(format!("cannot write {}", tmp.display()), e))?;
    std::fs::rename(&tmp, &path)
        .map_err(|e| io_error(format!("cannot write {}", path.display()), e))?;
    println!("wrote {}", path.display());
    if in_git {
        match ignore_state_dir(&root)? {
            true => println!("added .baton/ (baton's state) to .gitignore"),
            false => println!(".gitignore already ignores .baton/ (baton's state)"),
        }
    }
    println!(
        "baton writes ORCHESTRATION_LOG.md, REPORT.md and HANDOFF_TO_<AGENT>.md in {}: \
         set `[session] reports_dir` to put them in another directory of the project",
        root.display()
    );
    if found.is_empty() {
        println!(
            "no agent CLI found on PATH (looked for claude, codex, amp, gemini, opencode): the agents are commented out"
        );
    } else {
        println!("agents: {}", found.join(", "));
    }
    ok()
}
