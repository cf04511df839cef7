//! `baton watch`: the live dashboard — agents, the task queue, the journal, quotas, the lead.

use std::path::Path;
use std::process::ExitCode;

use clap::Args;

use crate::commands::ok;
use crate::commands::print_json;
use crate::context::Context;
use crate::error::CliError;
use crate::error::CliResult;

/// Arguments of `baton watch`.
#[derive(Args, Debug)]
pub struct WatchArgs {
    /// Measure instead of showing: read and draw N frames off-screen, print timings as JSON
    #[arg(long, hide = true, value_name = "N")]
    pub bench_frames: Option<usize>,
    /// The off-screen terminal size for --bench-frames
    #[arg(long, hide = true, value_name = "WxH", default_value = "160x48")]
    pub bench_size: String,
}

/// Runs the dashboard until `q`.
pub fn cmd_watch(dir: Option<&Path>, args: &WatchArgs) -> CliResult<ExitCode> {
    let project = Context::load(dir)?.project;
    if let Some(frames) = args.bench_frames {
        let size = args
            .bench_size
            .split_once('x')
            .and_then(|(w, h)| Some((w.parse().ok()?, h.parse().ok()?)))
            .ok_or_else(|| CliError::usage("--bench-size must look like 160x48"))?;
        return print_json(&crate::tui::bench(project, frames, size)?);
    }
    crate::tui::app::run(project)?;
    ok()
}
