//! `baton ls`: the agents, their windows and processes, and what their screens show.

use std::path::Path;
use std::process::ExitCode;

use baton_core::AgentState;
use baton_core::detector::QuotaHint;
use baton_core::task::Status;
use clap::Args;
use serde::Serialize;

use crate::commands::ok;
use crate::commands::print_json;
use crate::context::Context;
use crate::delivery::look;
use crate::error::CliResult;

/// Arguments of `baton ls`.
#[derive(Args, Debug)]
pub struct LsArgs {
    /// Print as JSON
    #[arg(long)]
    pub json: bool,
}

#[derive(Serialize)]
struct AgentRow {
    name: String,
    cli: String,
    /// The `[[host]]` it runs on; `local`: this machine.
    host: String,
    running: bool,
    window: Option<String>,
    pane: Option<String>,
    pid: Option<u32>,
    current_command: Option<String>,
    state: Option<AgentState>,
    input: Option<String>,
    quota: Vec<QuotaHint>,
}

#[derive(Serialize)]
struct Listing {
    session: String,
    socket: String,
    running: bool,
    agents: Vec<AgentRow>,
    /// Tasks by status (absent before the first task).
    #[serde(skip_serializing_if = "Option::is_none")]
    tasks: Option<std::collections::BTreeMap<Status, u64>>,
    /// Dispatch is paused (`baton pause`, or `p` in `baton watch`).
    paused: bool,
}

/// One line on the task queue: what is done, and apart from it, what ended unreported.
fn tasks_line(counts: &std::collections::BTreeMap<Status, u64>) -> String {
    let n = |s: Status| counts.get(&s).copied().unwrap_or(0);
    let total: u64 = counts.values().sum();
    let mut parts = vec![format!("{}/{total} completed", n(Status::Completed))];
    if n(Status::Unreported) > 0 {
        parts.push(format!(
            "{} done, unreported: review (baton task list --status unreported)",
            n(Status::Unreported)
        ));
    }
    for (s, word) in [
        (Status::InProgress, "in progress"),
        (Status::Pending, "pending"),
        (Status::Blocked, "blocked"),
        (Status::Cancelled, "cancelled"),
    ] {
        if n(s) > 0 {
            parts.push(format!("{} {word}", n(s)));
        }
    }
    format!("tasks: {}", parts.join(", "))
}

/// Lists the configured agents.
pub fn cmd_ls(dir: Option<&Path>, args: &LsArgs) -> CliResult<ExitCode> {
    let ctx = Context::load(dir)?;
    let project = &ctx.project;
    // This machine's panes and those of each host its agents run on (one ssh run a host; a
    // host that cannot be reached shows its agents not running).
    let hosts = crate::hosts::Hosts::new(project);
    let panes = crate::windows::WindowOps::session_panes(&hosts, &project.session)?;
    let running = !panes.is_empty();
    let mut rows = Vec::new();
    for agent in &project.config.agents {
        let pane = panes.iter().find(|p| p.window_name == agent.name);
        let seen = match pane {
            Some(p) if !p.dead => {
                let (tmux, id) = hosts.route(&p.pane_id)?;
                look(tmux, id, &agent.profile).ok().map(|s| s.0)
            }
            _ => None,
        };
        rows.push(AgentRow {
            name: agent.name.clone(),
            cli: agent.cli.clone(),
            host: agent
                .host
                .clone()
                .unwrap_or_else(|| baton_core::config::LOCAL_HOST.to_owned()),
            running: pane.is_some_and(|p| !p.dead),
            window: pane.map(|p| format!("{}:{}", p.window_index, p.window_name)),
            pane: pane.map(|p| p.pane_id.clone()),
            pid: pane.map(|p| p.pid),
            current_command: pane.map(|p| p.current_command.clone()),
            state: seen.as_ref().map(|d| d.state),
            input: seen.as_ref().and_then(|d| d.input.clone()),
            quota: seen.map(|d| d.quota).unwrap_or_default(),
        });
    }
    // Only an existing store is read: `ls` never creates one.
    // A store deleted or replaced under the project is said, not passed over in silence.
    let state = project.root.join(".baton");
    let (tasks, paused) = if state.join("state.db").exists() || state.join("store-id").exists() {
        match project.store() {
            Ok(s) => (
                s.counts().ok().filter(|c| !c.is_empty()),
                s.paused().unwrap_or(false),
            ),
            Err(e) => {
                eprintln!("warning: {}", e.message);
                (None, false)
            }
        }
    } else {
        (None, false)
    };
    let listing = Listing {
        session: project.session.clone(),
        socket: project.socket_name(),
        running,
        agents: rows,
        tasks,
        paused,
    };
    if args.json {
        return print_json(&listing);
    }
    println!(
        "session {} (tmux -L {}): {}",
        listing.session,
        listing.socket,
        if running { "running" } else { "not running" }
    );
    if let Some(line) = crate::commands::usage::one_line(project) {
        println!("{line}");
    }
    if let Some(line) = crate::commands::merge::one_line(project) {
        println!("{line}");
    }
    if let Some(counts) = &listing.tasks {
        println!("{}", tasks_line(counts));
    }
    if listing.paused {
        println!("dispatch PAUSED: no task goes out (`baton resume` lets them go on)");
    }
    // The host column only when some agent is elsewhere: every other listing is unchanged.
    let hosts = !project.config.hosts.is_empty();
    let host_cell = |h: &str| {
        if hosts {
            format!("{h:<10} ")
        } else {
            String::new()
        }
    };
    println!(
        "{:<12} {}{:<8} {:<14} {:<6} {:<8} {:<12} {:<12} QUOTA",
        "AGENT",
        host_cell("HOST"),
        "CLI",
        "WINDOW",
        "PANE",
        "PID",
        "COMMAND",
        "STATE"
    );
    for r in &listing.agents {
        let dash = || "-".to_owned();
        let quota = r
            .quota
            .iter()
            .map(|q| {
                format!(
                    "{:.0}%{}",
                    q.used_percent,
                    q.window
                        .as_ref()
                        .map(|w| format!(" {w}"))
                        .unwrap_or_default()
                )
            })
            .collect::<Vec<_>>()
            .join(", ");
        println!(
            "{:<12} {}{:<8} {:<14} {:<6} {:<8} {:<12} {:<12} {}",
            r.name,
            host_cell(&r.host),
            r.cli,
            r.window.clone().unwrap_or_else(dash),
            r.pane.clone().unwrap_or_else(dash),
            r.pid.map(|p| p.to_string()).unwrap_or_else(dash),
            r.current_command.clone().unwrap_or_else(dash),
            r.state
                .map(|s| s.to_string())
                .unwrap_or_else(|| "not running".into()),
            if quota.is_empty() { "-".into() } else { quota },
        );
    }
    ok()
}
