//! `baton`: runs a team of coding-agent CLIs in tmux.
#![forbid(unsafe_code)]

mod baton_cmd;
mod cli;
mod clones;
mod commands;
mod context;
mod daemon;
mod delivery;
mod error;
mod git;
mod handoff;
mod hosts;
mod interrupt;
mod lead_request;
mod memory_sync;
mod notify;
mod orchlog;
mod processes;
mod project;
mod quota_watch;
mod remote_report;
mod report;
mod review;
mod serve;
mod ssh;
mod store;
mod tui;
mod usage_oauth;
mod verify;
mod watch;
mod webhook;
mod windows;
mod worktrees;

fn main() -> std::process::ExitCode {
    quiet_broken_pipe();
    cli::run()
}

/// `baton log | head`: once the reader is gone, stop quietly (exit 141, as a shell reports
/// SIGPIPE) instead of panicking on the next print; what must be stopped first (the demo's
/// tmux server) is stopped.
fn quiet_broken_pipe() {
    let default = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        let payload = info.payload();
        let message = payload
            .downcast_ref::<String>()
            .map(String::as_str)
            .or_else(|| payload.downcast_ref::<&str>().copied())
            .unwrap_or("");
        if message.starts_with("failed printing to stdout") && message.contains("Broken pipe") {
            interrupt::run_teardowns(interrupt::Why::BrokenPipe);
            std::process::exit(141);
        }
        default(info);
    }));
}
