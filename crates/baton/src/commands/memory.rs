//! `baton memory sync | watch`: the shared memory file (CLAUDE.md).

use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;

use clap::Args;
use clap::Subcommand;

use crate::commands::ok;
use crate::context::Context;
use crate::error::CliResult;
use crate::error::io_error;
use crate::memory_sync::memory_path;
use crate::memory_sync::sync;

/// Arguments of `baton memory`.
#[derive(Args, Debug)]
pub struct MemoryArgs {
    #[command(subcommand)]
    pub command: MemoryCommand,
}

/// The memory subcommands.
#[derive(Subcommand, Debug)]
pub enum MemoryCommand {
    /// Apply the edits made in the memory file and render its task tables again (exits 1
    /// when an edit was refused)
    Sync,
    /// Sync on every change of the memory file until interrupted
    Watch,
}

fn print_report(r: &crate::memory_sync::SyncReport) {
    for a in &r.applied {
        println!("applied: {a}");
    }
    for x in &r.rejected {
        println!("refused: {x}");
    }
}

/// Runs a memory subcommand.
pub fn cmd_memory(dir: Option<&Path>, args: &MemoryArgs) -> CliResult<ExitCode> {
    let ctx = Context::load(dir)?;
    let project = &ctx.project;
    let mut store = ctx.store()?;
    match args.command {
        MemoryCommand::Sync => {
            let r = sync(project, &mut store, &ctx.actor)?;
            print_report(&r);
            let path = memory_path(project);
            println!(
                "{} {}",
                path.display(),
                if r.wrote {
                    "updated"
                } else {
                    "already up to date"
                }
            );
            if r.rejected.is_empty() {
                return ok();
            }
            let name = path
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            let n = r.rejected.len();
            eprintln!(
                "{n} edit{} of {name} refused (the region was rendered again from the store)",
                if n == 1 { "" } else { "s" }
            );
            Ok(ExitCode::from(1))
        }
        MemoryCommand::Watch => {
            let path = memory_path(project);
            let (tx, rx) = crossbeam_channel::unbounded();
            let watcher = crate::watch::watch_file(&path, Duration::from_millis(100), tx)
                .map_err(|e| io_error(format!("cannot watch {}", path.display()), e))?;
            let r = sync(project, &mut store, &ctx.actor)?;
            print_report(&r);
            println!("watching {} (Ctrl-C to stop)", path.display());
            for () in rx.iter() {
                match sync(project, &mut store, &ctx.actor) {
                    Ok(r) => print_report(&r),
                    Err(e) => eprintln!("{e}"),
                }
            }
            drop(watcher);
            ok()
        }
    }
}
