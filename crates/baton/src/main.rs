//! `baton`: runs a team of coding-agent CLIs in tmux.
#![forbid(unsafe_code)]

mod cli;
mod commands;
mod daemon;
mod delivery;
mod error;
mod git;
mod handoff;
mod memory_sync;
mod notify;
mod orchlog;
mod project;
mod quota_watch;
mod report;
mod store;
mod tui;
mod usage_oauth;
mod verify;
mod watch;
mod worktrees;

fn main() -> std::process::ExitCode {
    cli::run()
}
