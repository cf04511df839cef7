//! `baton fake-agent`: the fake agent CLI, carried by the main binary so one install is
//! enough for `baton demo`.

use std::ffi::OsString;
use std::process::ExitCode;

use clap::Args;

/// Arguments passed through to the fake agent untouched.
#[derive(Args, Debug)]
pub struct FakeAgentArgs {
    /// Arguments for the fake agent (see `baton fake-agent --help`)
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub args: Vec<OsString>,
}

/// Runs the fake agent and returns its exit code.
pub fn cmd_fake_agent(args: FakeAgentArgs) -> ExitCode {
    let code = baton_fake_agent::run(args.args);
    ExitCode::from(u8::try_from(code).unwrap_or(1))
}
