//! `baton peek`: an agent's screen and its detected state.

use std::path::Path;
use std::process::ExitCode;

use baton_core::detect;
use baton_tmux::CaptureRange;
use clap::Args;
use serde::Serialize;

use crate::commands::ok;
use crate::commands::print_json;
use crate::context::Context;
use crate::error::CliResult;

/// Arguments of `baton peek`.
#[derive(Args, Debug)]
pub struct PeekArgs {
    /// The agent
    pub agent: String,
    /// Also show this many lines of scrollback above the screen
    #[arg(long, default_value_t = 0, value_name = "N")]
    pub history: u32,
    /// Print the screen, state and evidence as JSON
    #[arg(long)]
    pub json: bool,
}

#[derive(Serialize)]
struct PeekOut<'a> {
    agent: &'a str,
    pane: &'a str,
    screen: &'a str,
    detection: &'a baton_core::Detection,
}

/// Prints an agent's screen, then its state.
pub fn cmd_peek(dir: Option<&Path>, args: &PeekArgs) -> CliResult<ExitCode> {
    let ctx = Context::load(dir)?;
    let project = &ctx.project;
    let (tmux, pane) = crate::hosts::agent_pane(project, &args.agent)?;
    let profile = &project.config.agent(&args.agent).expect("checked").profile;
    let visible = tmux.capture(&pane.pane_id, CaptureRange::default())?;
    let detection = detect(profile, &visible);
    let screen = if args.history > 0 {
        tmux.capture(&pane.pane_id, CaptureRange::with_scrollback(args.history))?
    } else {
        visible
    };
    if args.json {
        return print_json(&PeekOut {
            agent: &args.agent,
            pane: &pane.pane_id,
            screen: &screen,
            detection: &detection,
        });
    }
    print!("{}", screen.trim_end_matches('\n'));
    println!();
    println!("── {} · {} · {}", args.agent, pane.pane_id, detection.state);
    ok()
}
