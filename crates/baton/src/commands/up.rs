//! `baton up`: start the session, one window per agent, and the daemon (in the background);
//! wait for the agents to be ready.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::ExitCode;
use std::time::Duration;
use std::time::Instant;

use baton_core::AgentState;
use baton_core::config::AgentConfig;
use baton_core::first_start::StartWatch;
use baton_core::first_start::Verdict;
use baton_core::vocab::JournalAction;
use clap::Args;

use crate::commands::ok;
use crate::context::Context;
use crate::delivery::look;
use crate::delivery::press_keys;
use crate::error::CliError;
use crate::error::CliResult;
use crate::windows::WindowOps as _;

/// Arguments of `baton up`.
#[derive(Args, Debug)]
pub struct UpArgs {
    /// Return once the windows exist, without waiting for the agents to be ready
    #[arg(long)]
    pub no_wait: bool,
    /// Start only the agents, not the daemon that hands out tasks and watches them
    #[arg(long)]
    pub no_daemon: bool,
    /// Give agents work even at critical quota (an emergency override, journaled)
    #[arg(long)]
    pub ignore_usage: bool,
}

/// Starts what is not running and reports each agent's state.
pub fn cmd_up(dir: Option<&Path>, args: &UpArgs) -> CliResult<ExitCode> {
    let ctx = Context::load(dir)?.acting_as(crate::daemon::ACTOR);
    let project = &ctx.project;
    crate::hosts::check(project)?;
    project.check_tmux()?;
    project.state_dir()?;
    for w in &project.config.warnings {
        eprintln!("warning: {w}");
    }
    if project.config.agents.is_empty() {
        return Err(
            CliError::user("no [[agent]] in baton.toml: nothing to start")
                .hint("add agents, or run `baton init` in a new directory"),
        );
    }
    // The project's store (a new one on the first run): a deleted or replaced store stops
    // `baton up` here, before anything starts.
    let mut store = ctx.store()?;
    let hosts = crate::hosts::Hosts::new(project);
    let started =
        crate::windows::start(&hosts, project, &mut store, &mut |line| println!("{line}"))?;
    if !args.no_daemon {
        match crate::daemon::spawn_background(project, args.ignore_usage)? {
            crate::daemon::Spawned::Started(pid) => println!(
                "daemon started (pid {pid}); it dispatches tasks as they are added (log: .baton/daemon.log)"
            ),
            crate::daemon::Spawned::AlreadyRunning(pid) => {
                println!("daemon already running (pid {pid})");
            }
        }
    }
    if args.no_wait {
        return ok();
    }
    // Without a daemon, `baton up` answers the agents' first-start dialogs itself; with one,
    // the daemon does (one answerer: two would press every key twice).
    let problems = wait_for_agents(&ctx, &hosts, &mut store, &started, args.no_daemon)?;
    println!(
        "attach with: baton attach   (tmux -L {} attach -t {})",
        project.socket_name(),
        project.session
    );
    if problems.is_empty() {
        ok()
    } else {
        let mut e = CliError::user(format!(
            "{} agent(s) not ready:\n  {}",
            problems.len(),
            problems.join("\n  ")
        ));
        e = e.hint("look with `baton peek <agent>` or `baton attach <agent>`");
        Err(e)
    }
}

/// Waits until every started agent is ready, needs a person, or exceeds its start-up time;
/// returns one line per agent that is not ready. A known first-start dialog is answered as
/// the profile says when `answer` (else it is left to the daemon, and waited for); any other
/// dialog is a problem for a person, never typed into.
fn wait_for_agents(
    ctx: &Context,
    hosts: &crate::hosts::Hosts,
    store: &mut crate::store::Store,
    agents: &[&AgentConfig],
    answer: bool,
) -> CliResult<Vec<String>> {
    let start = Instant::now();
    let mut pending: Vec<&AgentConfig> = agents.to_vec();
    let mut watches: BTreeMap<&str, StartWatch> = agents
        .iter()
        .map(|a| {
            let w = if answer {
                StartWatch::starting()
            } else {
                StartWatch::watching()
            };
            (a.name.as_str(), w)
        })
        .collect();
    let mut problems = Vec::new();
    while !pending.is_empty() {
        let project = &ctx.project;
        let panes = hosts.session_panes(&project.session)?;
        let mut still = Vec::new();
        for agent in pending {
            let limit = Duration::from_millis(agent.profile.submit.startup_timeout_ms);
            let Some(pane) = panes
                .iter()
                .find(|p| p.window_name == agent.name && !p.dead)
            else {
                problems.push(exited(agent));
                continue;
            };
            // The pane can go between the listing and the capture: that is an exit too.
            let (tmux, pane_id) = hosts.route(&pane.pane_id)?;
            let (d, screen) = match look(tmux, pane_id, &agent.profile) {
                Ok(seen) => seen,
                Err(_)
                    if !hosts
                        .session_panes(&project.session)?
                        .iter()
                        .any(|p| p.pane_id == pane.pane_id && !p.dead) =>
                {
                    problems.push(exited(agent));
                    continue;
                }
                Err(e) => return Err(e),
            };
            let secs = start.elapsed().as_secs_f64();
            let now_ms = u64::try_from(start.elapsed().as_millis()).unwrap_or(u64::MAX);
            let watch = watches.get_mut(agent.name.as_str()).expect("one per agent");
            let timed_out = || {
                format!(
                    "{}: not ready after {:.0}s (detected: {})",
                    agent.name,
                    limit.as_secs_f64(),
                    d.state
                )
            };
            match watch.observe(now_ms, &agent.profile, &screen, &d) {
                Verdict::Answer { dialog, keys } => {
                    press_keys(tmux, pane_id, &keys)?;
                    let what = format!("{dialog} (keys: {})", keys.join(" "));
                    journal(
                        ctx,
                        store,
                        &agent.name,
                        JournalAction::FirstStartAnswered,
                        &what,
                    );
                    println!("{:<12} answered the first-start dialog {what}", agent.name);
                    still.push(agent);
                }
                Verdict::Person { reason, .. } => {
                    journal(
                        ctx,
                        store,
                        &agent.name,
                        JournalAction::FirstStartPerson,
                        &reason,
                    );
                    problems.push(format!(
                        "{}: waits for a person ({reason}): answer it with `baton attach {}`",
                        agent.name, agent.name
                    ));
                }
                Verdict::Wait if start.elapsed() >= limit => problems.push(timed_out()),
                Verdict::Wait => still.push(agent),
                Verdict::Clear if d.state.is_ready() => {
                    println!("{:<12} ready ({}) after {secs:.1}s", agent.name, d.state);
                }
                Verdict::Clear if d.state == AgentState::NeedsInput => {
                    problems.push(format!(
                        "{}: waits for a person (a dialog is open): answer it with `baton attach {}`",
                        agent.name, agent.name
                    ));
                }
                Verdict::Clear if start.elapsed() >= limit => problems.push(timed_out()),
                Verdict::Clear => still.push(agent),
            }
        }
        pending = still;
        if !pending.is_empty() {
            std::thread::sleep(Duration::from_millis(50));
        }
    }
    Ok(problems)
}

/// The problem line of an agent whose CLI exited before it was ready.
fn exited(agent: &AgentConfig) -> String {
    format!(
        "{}: exited during start-up (command: {}); run it by hand to see why",
        agent.name, agent.command
    )
}

/// Journals what `baton up` did for an agent (as the daemon would: actor `baton`); a journal
/// that cannot be written does not stop the start.
fn journal(
    ctx: &Context,
    store: &mut crate::store::Store,
    agent: &str,
    action: JournalAction,
    result: &str,
) {
    let _ = ctx.journal(store, action, None, agent, result, "");
}
