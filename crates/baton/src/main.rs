//! `baton`: runs a team of coding-agent CLIs in tmux.
#![forbid(unsafe_code)]

mod cli;
mod commands;
mod delivery;
mod error;
mod project;

fn main() -> std::process::ExitCode {
    cli::run()
}
