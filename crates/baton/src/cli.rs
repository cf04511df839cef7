//! The command line: global options, the subcommands, and dispatch.

use std::path::PathBuf;
use std::process::ExitCode;

use clap::Parser;
use clap::Subcommand;

use crate::commands;
use crate::error::CliResult;

/// Run a team of coding-agent CLIs in tmux: tasks with IDs, verified prompt delivery,
/// completion detection, quota watch and lead handoff.
#[derive(Parser, Debug)]
#[command(name = "baton", version, about, long_about = None, propagate_version = true)]
pub struct Cli {
    /// Work on the project in this directory instead of the current one
    #[arg(short = 'C', long = "dir", global = true, value_name = "DIR")]
    pub dir: Option<PathBuf>,

    #[command(subcommand)]
    pub command: Command,
}

/// The subcommands.
#[derive(Subcommand, Debug)]
pub enum Command {
    /// Run everything: import tasks (or give the lead a goal), start the agents, dispatch,
    /// verify, and write REPORT.md
    ///
    /// Exit status: 0 when every task is COMPLETED (or cancelled) and the last verify passed;
    /// 4 when the run finished with work not done (a task BLOCKED, UNREPORTED or waiting, a
    /// change not merged, or the last verify failed: REPORT.md says why); 130 on Ctrl-C (the agents go on; `baton
    /// run` again resumes); 1 or 2 on an error before or during the run.
    Run(commands::run::RunArgs),
    /// Run a full orchestration with fake agents, no account needed
    Demo(commands::demo::DemoArgs),
    /// Write a commented baton.toml for this directory (in a git repository, also add .baton/
    /// to .gitignore)
    Init(commands::init::InitArgs),
    /// Start the tmux session, one window per agent, and the daemon (in the background)
    Up(commands::up::UpArgs),
    /// List the agents with their window, process and detected state
    Ls(commands::ls::LsArgs),
    /// Send a prompt to an agent and verify it was submitted
    Send(commands::send::SendArgs),
    /// Show an agent's screen and its detected state
    Peek(commands::peek::PeekArgs),
    /// Attach to the project's tmux session
    Attach(commands::attach::AttachArgs),
    /// Stop the daemon, the agents (and the processes they left running) and the project's tmux
    /// session
    Down(commands::down::DownArgs),
    /// Manage the task queue
    Task(commands::task::TaskArgs),
    /// Show the verified merge queue (worktree isolation): each merge, and what is unmerged
    MergeQueue(commands::merge::MergeQueueArgs),
    /// Show an agent's pending change: what its worktree has that the integration branch lacks
    Diff(commands::merge::DiffArgs),
    /// Bring your checkout's files up to the integration branch the merge queue moved,
    /// keeping your uncommitted edits
    Sync(commands::merge::SyncArgs),
    /// Show the journal: every change, with who made it and why
    Log(commands::log::LogArgs),
    /// Show each agent's quota: % used, band, reset, burn rate, projection, and which source won and why
    Usage(commands::usage::UsageArgs),
    /// Show who leads, the chain with each one's quota, and the handoffs so far
    Lead(commands::lead::LeadArgs),
    /// Pause dispatch: the agents finish their tasks, none gets a new one (as `p` in `baton
    /// watch`)
    Pause,
    /// Resume dispatch after `baton pause` (or `p` in `baton watch`)
    Resume,
    /// Pass the lead role on now (to an agent, or the next one of the chain)
    Handoff(commands::lead::HandoffArgs),
    /// Watch the run live: agents, quotas, the task queue, the journal; act with keys
    Watch(commands::watch::WatchArgs),
    /// Serve the dashboard to a browser: agents, quota plots, screens, tasks, actions
    ///
    /// Prints one line with the page's URL (carrying the access token, kept in
    /// .baton/serve.token, mode 0600) and serves until Ctrl-C. Bound to loopback (the default,
    /// 127.0.0.1:7878) requests need no token; bound anywhere else every request for data or
    /// an action needs it (the page's own files, which hold neither, load without it). Actions
    /// are POSTs with a JSON body from the page's own origin, journaled as `web`.
    Serve(commands::serve::ServeArgs),
    /// Sync or watch the shared memory file (CLAUDE.md)
    Memory(commands::memory::MemoryArgs),
    /// Check tmux, the configuration, the profiles, the agent CLIs and each [[host]] (through
    /// ssh, never prompting)
    Doctor(commands::doctor::DoctorArgs),
    /// Detect an agent's state from a captured screen on stdin (or a file)
    Detect(commands::detect::DetectArgs),
    /// Receive an agent CLI's hook (Claude Stop and statusLine, Codex notify)
    Hook(commands::hook::HookArgs),
    /// Run the daemon in the foreground (what `baton up` starts in the background)
    #[command(hide = true)]
    Daemon {
        /// Give agents work even at critical quota
        #[arg(long)]
        ignore_usage: bool,
    },
    /// Run the fake agent (used by tests and `baton demo`)
    #[command(hide = true, disable_help_flag = true)]
    FakeAgent(commands::fake_agent::FakeAgentArgs),
}

/// Parses the command line, runs the command, and turns its result into an exit code.
pub fn run() -> ExitCode {
    let cli = Cli::parse();
    // In an agent's window on another host: reports go to the daemon through tmux.
    if let Some(host) = std::env::var_os(crate::hosts::HOST_ENV) {
        let host = host.to_string_lossy();
        match cli.remote() {
            Remote::Forward { hook } if cli.dir.is_none() => {
                return crate::remote_report::forward(&host, hook);
            }
            Remote::Forward { .. } => {
                eprintln!("baton: -C is not available to an agent on another host (`{host}`)");
                return ExitCode::from(2);
            }
            Remote::Here => {}
        }
    }
    match dispatch(cli) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("{e}");
            e.exit_code()
        }
    }
}

/// Where a command runs when called in an agent's window on another host.
enum Remote {
    /// Sent to the daemon (`hook`: with its standard input, without waiting for the answer).
    Forward { hook: bool },
    /// Run on the host itself (the agent's own program, `detect`, `--version`…).
    Here,
}

impl Cli {
    fn remote(&self) -> Remote {
        match &self.command {
            Command::Hook(_) => Remote::Forward { hook: true },
            Command::FakeAgent(_) | Command::Detect(_) => Remote::Here,
            _ => Remote::Forward { hook: false },
        }
    }
}

fn dispatch(cli: Cli) -> CliResult<ExitCode> {
    let dir = cli.dir.as_deref();
    match cli.command {
        Command::Run(args) => commands::run::cmd_run(dir, &args),
        Command::Demo(args) => commands::demo::cmd_demo(&args),
        Command::Init(args) => commands::init::cmd_init(dir, &args),
        Command::Up(args) => commands::up::cmd_up(dir, &args),
        Command::Ls(args) => commands::ls::cmd_ls(dir, &args),
        Command::Send(args) => commands::send::cmd_send(dir, &args),
        Command::Peek(args) => commands::peek::cmd_peek(dir, &args),
        Command::Attach(args) => commands::attach::cmd_attach(dir, &args),
        Command::Down(args) => commands::down::cmd_down(dir, &args),
        Command::Task(args) => commands::task::cmd_task(dir, &args),
        Command::MergeQueue(args) => commands::merge::cmd_merge_queue(dir, &args),
        Command::Diff(args) => commands::merge::cmd_diff(dir, &args),
        Command::Sync(args) => commands::merge::cmd_sync(dir, &args),
        Command::Log(args) => commands::log::cmd_log(dir, &args),
        Command::Usage(args) => commands::usage::cmd_usage(dir, &args),
        Command::Lead(args) => commands::lead::cmd_lead(dir, &args),
        Command::Pause => commands::pause::cmd_pause(dir, true),
        Command::Resume => commands::pause::cmd_pause(dir, false),
        Command::Handoff(args) => commands::lead::cmd_handoff(dir, &args),
        Command::Watch(args) => commands::watch::cmd_watch(dir, &args),
        Command::Serve(args) => commands::serve::cmd_serve(dir, &args),
        Command::Memory(args) => commands::memory::cmd_memory(dir, &args),
        Command::Doctor(args) => commands::doctor::cmd_doctor(dir, &args),
        Command::Detect(args) => commands::detect::cmd_detect(dir, &args),
        Command::Hook(args) => commands::hook::cmd_hook(dir, &args),
        Command::Daemon { ignore_usage } => commands::run::cmd_daemon(dir, ignore_usage),
        Command::FakeAgent(args) => Ok(commands::fake_agent::cmd_fake_agent(args)),
    }
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory;

    use super::Cli;

    /// Every (sub)command's path and the command itself.
    fn all(cmd: &clap::Command, path: String, out: &mut Vec<(String, clap::Command)>) {
        for sub in cmd.get_subcommands() {
            let p = format!("{path} {}", sub.get_name());
            all(sub, p.clone(), out);
            out.push((p, sub.clone()));
        }
    }

    #[test]
    fn the_command_line_is_well_formed() {
        Cli::command().debug_assert();
    }

    /// `-n` means one thing everywhere: how many of the newest to show (`--limit`, `--last`),
    /// a number.
    #[test]
    fn short_n_means_how_many_everywhere() {
        let mut cmds = Vec::new();
        all(&Cli::command(), "baton".into(), &mut cmds);
        let mut seen = Vec::new();
        for (path, cmd) in &cmds {
            for arg in cmd.get_arguments().filter(|a| a.get_short() == Some('n')) {
                let long = arg.get_long().unwrap_or("");
                assert!(
                    matches!(long, "limit" | "last"),
                    "`{path} -n` is --{long}, not how many (--limit / --last)"
                );
                assert_eq!(
                    arg.get_value_names().map(<[_]>::to_vec),
                    Some(vec![clap::builder::Str::from("N")]),
                    "`{path} -n` takes a number N"
                );
                seen.push(path.clone());
            }
        }
        assert!(seen.contains(&"baton log".to_owned()), "{seen:?}");
        assert!(seen.contains(&"baton merge-queue".to_owned()), "{seen:?}");
    }

    /// The README's install line builds with the versions of Cargo.lock.
    #[test]
    fn the_readme_installs_with_the_lock_file() {
        let readme = include_str!("../../../README.md");
        let installs: Vec<&str> = readme
            .lines()
            .filter(|l| l.contains("cargo install"))
            .collect();
        assert!(!installs.is_empty());
        for l in installs {
            assert!(l.contains("--locked"), "{l}");
        }
    }
}
