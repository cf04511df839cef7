//! `baton lead`: who leads, the chain with each one's quota, and the handoffs so far;
//! `baton handoff [--to AGENT]`: ask the daemon to pass the lead role on now.

use std::path::Path;
use std::process::ExitCode;

use baton_core::engine::LeadPhase;
use baton_core::engine::LeadSnapshot;
use baton_core::quota::rank;
use baton_core::vocab::JournalAction;
use clap::Args;
use serde::Serialize;

use crate::commands::ok;
use crate::commands::print_json;
use crate::context::Context;
use crate::error::CliResult;
pub use crate::lead_request::HandoffView;
pub use crate::lead_request::current_lead;
pub use crate::lead_request::request_handoff;
use crate::orchlog::local_time;

/// How many of the lead's last journal entries `baton lead` shows.
const LEAD_HISTORY: usize = 1000;

/// Arguments of `baton lead`.
#[derive(Args, Debug)]
pub struct LeadArgs {
    /// Print as JSON
    #[arg(long)]
    pub json: bool,
}

/// Arguments of `baton handoff`.
#[derive(Args, Debug)]
pub struct HandoffArgs {
    /// The agent to hand the lead role to (default: the next one of `[lead] chain`)
    #[arg(long)]
    pub to: Option<String>,
    /// Print JSON: what was requested (from, to, the journal entry), or why it was refused
    #[arg(long)]
    pub json: bool,
}

#[derive(Serialize)]
struct ChainEntry {
    agent: String,
    lead: bool,
    resting: bool,
    /// 0 once the window's reset time has passed (`session_reset`).
    session_percent: Option<f64>,
    weekly_percent: Option<f64>,
    /// The window's reset time has passed since its reading: it shows as reset.
    session_reset: bool,
    weekly_reset: bool,
}

#[derive(Serialize)]
struct HistoryEntry {
    seq: i64,
    at_ms: i64,
    action: String,
    agent: String,
    detail: String,
}

#[derive(Serialize)]
struct LeadView {
    lead: Option<String>,
    since_ms: Option<i64>,
    state: LeadSnapshot,
    chain: Vec<ChainEntry>,
    history: Vec<HistoryEntry>,
}

/// Runs `baton lead`.
pub fn cmd_lead(dir: Option<&Path>, args: &LeadArgs) -> CliResult<ExitCode> {
    let ctx = Context::load(dir)?;
    let project = &ctx.project;
    let store = ctx.store()?;
    let row = store.lead_row()?;
    let state = store.lead_snapshot()?.unwrap_or_default();
    let lead = state
        .lead
        .clone()
        .or_else(|| project.config.lead.chain.first().cloned());
    // Each window's winning reading (the newest data); a window whose reset time has passed
    // is reset, not its old value.
    let quota = store.latest_quota()?;
    let now = crate::store::now_ms();
    let reading = |agent: &str, window: &str| {
        quota
            .iter()
            .find(|r| r.agent == agent && r.window == window)
    };
    let pct = |agent: &str, window: &str| {
        reading(agent, window).map(|r| rank::used_now(r.used_percent, r.resets_at_ms, now))
    };
    let reset = |agent: &str, window: &str| {
        reading(agent, window).is_some_and(|r| rank::is_reset(r.resets_at_ms, now))
    };
    let chain = project
        .config
        .lead
        .chain
        .iter()
        .map(|a| ChainEntry {
            agent: a.clone(),
            lead: lead.as_deref() == Some(a.as_str()),
            resting: state.resting.contains(a),
            session_percent: pct(a, "session-5h"),
            weekly_percent: pct(a, "weekly"),
            session_reset: reset(a, "session-5h"),
            weekly_reset: reset(a, "weekly"),
        })
        .collect();
    // The lead's entries, asked of SQL by action (not the whole journal), oldest first.
    let lead_actions: Vec<JournalAction> = JournalAction::ALL
        .into_iter()
        .filter(|a| a.is_lead())
        .collect();
    let history = store
        .journal_last(&lead_actions, LEAD_HISTORY)?
        .into_iter()
        .rev()
        .map(|j| HistoryEntry {
            seq: j.seq,
            at_ms: j.at_ms,
            action: j.action,
            agent: j.target,
            detail: j.result,
        })
        .collect();
    let view = LeadView {
        lead,
        since_ms: row.and_then(|r| r.since_ms),
        state,
        chain,
        history,
    };
    if args.json {
        return print_json(&view);
    }
    match &view.lead {
        Some(l) => println!(
            "lead: {l}{}",
            view.since_ms
                .map(|t| format!(" (since {})", local_time(t)))
                .unwrap_or_default()
        ),
        None => println!("no lead: `[lead] chain` in baton.toml names none"),
    }
    match &view.state.phase {
        LeadPhase::Leading => {}
        LeadPhase::Preparing => println!("preparing its handoff: notes asked for, no new work"),
        LeadPhase::Takeover {
            from, to, reason, ..
        } => {
            println!("handing over: {from} -> {to} ({reason}), waiting for {to} to take over");
        }
    }
    println!(
        "\n{:<12} {:<6} {:>6} {:>7}",
        "CHAIN", "ROLE", "5H", "WEEKLY"
    );
    for c in &view.chain {
        let role = if c.lead {
            "lead"
        } else if c.resting {
            "rests"
        } else {
            "-"
        };
        let p = |v: Option<f64>, reset: bool| match v {
            _ if reset => "reset".to_owned(),
            None => "?".to_owned(),
            Some(v) => format!("{v:.0}%"),
        };
        println!(
            "{:<12} {:<6} {:>6} {:>7}",
            c.agent,
            role,
            p(c.session_percent, c.session_reset),
            p(c.weekly_percent, c.weekly_reset)
        );
    }
    if !view.history.is_empty() {
        println!("\nhistory:");
        for h in &view.history {
            println!(
                "  {}  {:<16} {:<10} {}",
                local_time(h.at_ms),
                h.action,
                h.agent,
                h.detail
            );
        }
    }
    ok()
}

/// Runs `baton handoff`.
pub fn cmd_handoff(dir: Option<&Path>, args: &HandoffArgs) -> CliResult<ExitCode> {
    let view = match Context::load(dir).and_then(|ctx| request_handoff(&ctx, args.to.as_deref())) {
        Ok(view) => view,
        Err(e) if args.json => {
            // Who leads, when the project can tell (a refusal for the lead itself names it).
            let from = Context::load(dir)
                .ok()
                .and_then(|c| c.store().ok().and_then(|s| current_lead(&c.project, &s)));
            print_json(&HandoffView {
                to: args.to.clone(),
                from,
                refused: Some(e.message.clone()),
                ..HandoffView::default()
            })?;
            return Err(e);
        }
        Err(e) => return Err(e),
    };
    if args.json {
        return print_json(&view);
    }
    if view.daemon_running {
        println!(
            "handoff asked for{}; follow it with `baton lead`",
            view.to
                .as_ref()
                .map(|t| format!(" (to {t})"))
                .unwrap_or_default()
        );
    } else {
        println!("handoff asked for; it happens once the daemon runs (`baton up` or `baton run`)");
    }
    ok()
}
