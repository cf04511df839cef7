//! Asking for a lead handoff, and who leads now: shared by `baton handoff`, `baton lead`,
//! `baton run` and `baton serve`.

use baton_core::vocab::JournalAction;
use serde::Serialize;

use crate::context::Context;
use crate::error::CliError;
use crate::error::CliResult;
use crate::project::Project;

/// `baton handoff --json`.
#[derive(Serialize, Default)]
pub struct HandoffView {
    /// Whether the request was journaled for the daemon.
    pub requested: bool,
    /// The agent asked for; `None`: the next one of the chain.
    pub to: Option<String>,
    /// Who led when it was asked.
    pub from: Option<String>,
    /// The `handoff-request` journal entry.
    pub journal_seq: Option<i64>,
    /// Whether a daemon runs to carry it out now.
    pub daemon_running: bool,
    /// Why it was refused.
    pub refused: Option<String>,
}

/// Returns who leads now: the lead the daemon recorded, else the chain's first.
pub fn current_lead(project: &Project, store: &crate::store::Store) -> Option<String> {
    store
        .lead_snapshot()
        .ok()
        .flatten()
        .and_then(|s| s.lead)
        .or_else(|| project.config.lead.chain.first().cloned())
}

/// Journals the request for the daemon, as the context's actor; an error is a refusal.
/// What `baton handoff` and `baton serve`'s handoff action do.
pub fn request_handoff(ctx: &Context, to: Option<&str>) -> CliResult<HandoffView> {
    let project = &ctx.project;
    if project.config.lead.chain.is_empty() {
        return Err(CliError::user(
            "no `[lead] chain` in baton.toml: there is no lead role to hand over",
        ));
    }
    if let Some(to) = to
        && project.config.agent(to).is_none()
    {
        return Err(CliError::user(format!("no agent `{to}` in baton.toml")));
    }
    let mut store = ctx.store()?;
    if let Some(to) = to
        && current_lead(project, &store).as_deref() == Some(to)
    {
        // A request for the lead itself would later undo a newer one (codex → claude).
        return Err(
            CliError::user(format!("{to} already leads: nothing to hand over"))
                .hint("`baton handoff` alone passes the role to the next agent of the chain"),
        );
    }
    let target = to.unwrap_or_default();
    let entry = ctx.journal(
        &mut store,
        JournalAction::HandoffRequest,
        None,
        target,
        "handoff asked for",
        "",
    )?;
    let seq = entry.seq;
    let from = current_lead(project, &store);
    Ok(HandoffView {
        requested: true,
        to: to.map(str::to_owned),
        from,
        journal_seq: Some(seq),
        daemon_running: crate::daemon::running_pid(project).is_some(),
        refused: None,
    })
}
