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
    /// Where to listen: ADDR:PORT or NAME:PORT (`localhost:7878`; port 0: any free port).
    /// Anywhere but loopback, every request needs the token
    #[arg(long, value_name = "ADDR:PORT", default_value = "127.0.0.1:7878", value_parser = parse_bind)]
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

/// Reads `--bind`: an address with its port, or a name and a port resolved by the system
/// (its first address; `localhost` is loopback).
fn parse_bind(text: &str) -> Result<SocketAddr, String> {
    if let Ok(addr) = text.parse::<SocketAddr>() {
        return Ok(addr);
    }
    let Some((_, port)) = text.rsplit_once(':') else {
        return Err(format!(
            "`{text}` is not ADDR:PORT (for example 127.0.0.1:7878)"
        ));
    };
    if port.parse::<u16>().is_err() {
        return Err(format!("`{port}` in `{text}` is not a port (0 to 65535)"));
    }
    std::net::ToSocketAddrs::to_socket_addrs(text)
        .map_err(|e| format!("cannot resolve `{text}`: {e}"))?
        .next()
        .ok_or_else(|| format!("`{text}` resolves to no address"))
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bind_takes_an_address_or_a_name() {
        assert_eq!(
            parse_bind("127.0.0.1:7878").unwrap(),
            "127.0.0.1:7878".parse().unwrap()
        );
        assert_eq!(parse_bind("[::1]:0").unwrap(), "[::1]:0".parse().unwrap());
        assert!(parse_bind("localhost:7878").unwrap().ip().is_loopback());
        assert_eq!(parse_bind("localhost:7878").unwrap().port(), 7878);
        assert!(
            parse_bind("localhost")
                .unwrap_err()
                .contains("not ADDR:PORT")
        );
        assert!(
            parse_bind("localhost:http")
                .unwrap_err()
                .contains("not a port")
        );
        assert!(
            parse_bind("localhost:99999")
                .unwrap_err()
                .contains("not a port")
        );
    }
}
