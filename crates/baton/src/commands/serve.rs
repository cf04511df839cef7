//! `baton serve`: the dashboard in a browser (see [`crate::serve`]).

use std::net::SocketAddr;
use std::path::Path;
use std::process::ExitCode;

use clap::Args;

use crate::commands::ok;
use crate::context::Context;
use crate::error::CliResult;

/// Arguments of `baton serve`.
#[derive(Args, Debug)]
pub struct ServeArgs {
    /// Where to listen (port 0: any free port). Anywhere but loopback, every request needs
    /// the token
    #[arg(long, value_name = "ADDR:PORT", default_value = "127.0.0.1:7878")]
    pub bind: SocketAddr,
    /// Replace the access token (.baton/serve.token) with a new one: old URLs stop working
    #[arg(long)]
    pub rotate_token: bool,
    /// Print the start line as JSON: {"url", "bind", "token_file"}
    #[arg(long)]
    pub json: bool,
    /// Ask for the token on every request even on loopback (as bound elsewhere)
    #[arg(long, hide = true)]
    pub require_token: bool,
}

/// Serves the dashboard until Ctrl-C or SIGTERM.
pub fn cmd_serve(dir: Option<&Path>, args: &ServeArgs) -> CliResult<ExitCode> {
    let ctx = Context::load(dir)?;
    crate::serve::run(
        &ctx,
        &crate::serve::Options {
            bind: args.bind,
            rotate_token: args.rotate_token,
            require_token: args.require_token,
            json: args.json,
        },
    )?;
    ok()
}
