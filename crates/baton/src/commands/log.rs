//! `baton log`: the journal, oldest first.

use std::path::Path;
use std::process::ExitCode;

use clap::Args;

use crate::commands::ok;
use crate::commands::print_json;
use crate::context::Context;
use crate::error::CliResult;
use crate::orchlog::local_time;

/// Arguments of `baton log`.
#[derive(Args, Debug)]
pub struct LogArgs {
    /// Only entries after this sequence number
    #[arg(long, default_value_t = 0, value_name = "SEQ")]
    pub since: i64,
    /// At most this many entries (the newest ones when --since is not given)
    #[arg(long, short = 'n', default_value_t = 50, value_name = "N")]
    pub limit: usize,
    /// Print as JSON
    #[arg(long)]
    pub json: bool,
}

/// Prints journal entries.
pub fn cmd_log(dir: Option<&Path>, args: &LogArgs) -> CliResult<ExitCode> {
    let ctx = Context::load(dir)?;
    let store = ctx.store()?;
    let entries = if args.since > 0 {
        store.journal_since(args.since, args.limit)?
    } else {
        let total = store.journal_since(0, usize::MAX)?;
        let skip = total.len().saturating_sub(args.limit);
        total.into_iter().skip(skip).collect()
    };
    if args.json {
        return print_json(&entries);
    }
    for j in &entries {
        let target = match (j.task, j.target.as_str()) {
            (Some(t), "") => t.to_string(),
            (Some(t), o) => format!("{t} {o}"),
            (None, o) => o.to_owned(),
        };
        let detail = if j.detail.is_empty() || j.detail.starts_with('{') {
            String::new()
        } else {
            format!(" — {}", j.detail)
        };
        println!(
            "{:>5}  {}  {:<12} {:<20} {:<16} {}{detail}",
            j.seq,
            local_time(j.at_ms),
            j.actor,
            j.action,
            target,
            j.result
        );
    }
    ok()
}
