//! One module per command; each exposes `<Name>Args` and `cmd_<name>`.

pub mod attach;
pub mod demo;
pub mod detect;
pub mod doctor;
pub mod down;
pub mod fake_agent;
pub mod hook;
pub mod init;
pub mod lead;
pub mod log;
pub mod ls;
pub mod memory;
pub mod merge;
pub mod pause;
pub mod peek;
pub mod run;
pub mod send;
pub mod serve;
pub mod task;
pub mod up;
pub mod usage;
pub mod watch;

use std::process::ExitCode;

use crate::error::CliResult;

/// Returns success: the usual end of a command.
pub fn ok() -> CliResult<ExitCode> {
    Ok(ExitCode::SUCCESS)
}

/// Prints a value as pretty JSON on stdout.
pub fn print_json(value: &impl serde::Serialize) -> CliResult<ExitCode> {
    let text = serde_json::to_string_pretty(value)
        .map_err(|e| crate::error::CliError::internal(format!("cannot write JSON: {e}")))?;
    println!("{text}");
    ok()
}
