//! `baton pause` and `baton resume`: dispatch held or let go, as `p` in `baton watch` does.

use std::path::Path;
use std::process::ExitCode;

use crate::commands::ok;
use crate::context::Context;
use crate::error::CliResult;

/// Pauses (`true`) or resumes dispatch; says what it was already.
pub fn cmd_pause(dir: Option<&Path>, pause: bool) -> CliResult<ExitCode> {
    let ctx = Context::load(dir)?;
    let mut store = ctx.store()?;
    if store.paused()? == pause {
        println!(
            "dispatch is already {}",
            if pause { "paused" } else { "running" }
        );
        return ok();
    }
    let entry = store.set_paused(pause, &ctx.actor)?;
    ctx.after_change(&mut store, std::slice::from_ref(&entry));
    println!(
        "{}",
        if pause {
            "dispatch paused: the agents finish their tasks, none gets a new one (`baton resume` lets them go on)"
        } else {
            "dispatch resumed"
        }
    );
    ok()
}
