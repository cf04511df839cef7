//! `baton usage`: each agent's quota windows — % used, band, reset, source, age of the
//! reading, burn rate and projection.

use std::path::Path;
use std::process::ExitCode;

use baton_core::quota::projection::format_duration_short;
use baton_core::quota::projection::format_relative;
use clap::Args;
use serde::Serialize;

use crate::commands::ok;
use crate::commands::print_json;
use crate::error::CliResult;
use crate::project::Project;
use crate::project::start_dir;
use crate::quota_watch::WindowView;
use crate::store::now_ms;

/// Arguments of `baton usage`.
#[derive(Args, Debug)]
pub struct UsageArgs {
    /// Print as JSON
    #[arg(long)]
    pub json: bool,
    /// Read the sources now (screens, Codex rollouts, and the OAuth endpoint when enabled)
    #[arg(long)]
    pub refresh: bool,
}

/// One window as printed.
#[derive(Serialize)]
struct Row {
    #[serde(flatten)]
    view: WindowView,
    band: &'static str,
    age_ms: i64,
}

/// One agent as printed.
#[derive(Serialize)]
struct AgentUsage {
    agent: String,
    cli: String,
    windows: Vec<Row>,
}

/// The whole listing.
#[derive(Serialize)]
struct Usage {
    warn: u8,
    critical: u8,
    agents: Vec<AgentUsage>,
}

fn collect(project: &Project, now: i64) -> CliResult<Usage> {
    let store = project.store()?;
    let bands = project.config.quota.bands();
    let critical = f64::from(project.config.quota.critical);
    let views = crate::quota_watch::views(&store, critical);
    let agents = project
        .config
        .agents
        .iter()
        .map(|a| AgentUsage {
            agent: a.name.clone(),
            cli: a.cli.clone(),
            windows: views
                .iter()
                .filter(|v| v.reading.agent == a.name)
                .map(|v| Row {
                    band: bands.band(v.reading.used_percent).name(),
                    age_ms: now.saturating_sub(v.reading.observed_ms).max(0),
                    view: v.clone(),
                })
                .collect(),
        })
        .collect();
    Ok(Usage {
        warn: project.config.quota.warn,
        critical: project.config.quota.critical,
        agents,
    })
}

/// Reads the sources now: every running agent's screen, the Codex rollouts, the OAuth
/// endpoint when `[quota] sources` has it.
fn refresh(project: &Project) -> CliResult<()> {
    let mut store = project.store()?;
    if crate::quota_watch::enabled(project, "screen") {
        let panes = project.panes().unwrap_or_default();
        for agent in &project.config.agents {
            let Some(p) = panes
                .iter()
                .find(|p| p.window_name == agent.name && !p.dead)
            else {
                continue;
            };
            if let Ok((d, _)) = crate::delivery::look(&project.tmux, &p.pane_id, &agent.profile) {
                crate::quota_watch::record_screen(&mut store, &agent.name, &d.quota);
            }
        }
    }
    if crate::quota_watch::enabled(project, "rollout") {
        crate::quota_watch::record_rollouts(project, &mut store);
    }
    if crate::quota_watch::enabled(project, "oauth") {
        crate::quota_watch::record_oauth(project, &mut store, true)?;
    }
    Ok(())
}

/// The one-line summary `baton ls` prints: each agent's session and weekly %, and the band
/// of its fullest window that has not reset. Only the newest readings are read (no history,
/// no projection: the line shows neither).
pub fn one_line(project: &Project) -> Option<String> {
    let store = project.store().ok()?;
    let latest = store.latest_quota().ok()?;
    let now = now_ms();
    let bands = project.config.quota.bands();
    let live = |r: &crate::store::QuotaReading| r.resets_at_ms.is_none_or(|t| t > now);
    let parts: Vec<String> = project
        .config
        .agents
        .iter()
        .filter_map(|a| {
            let mine: Vec<&crate::store::QuotaReading> =
                latest.iter().filter(|r| r.agent == a.name).collect();
            if mine.is_empty() {
                return None;
            }
            let pct = |w: &str| {
                mine.iter()
                    .find(|r| r.window == w && live(r))
                    .map_or("?".to_owned(), |r| format!("{:.0}%", r.used_percent))
            };
            let worst = mine
                .iter()
                .filter(|r| live(r))
                .max_by(|x, y| x.used_percent.total_cmp(&y.used_percent))
                .map_or("", |r| bands.band(r.used_percent).name());
            Some(format!(
                "{} {}/{} {worst}",
                a.name,
                pct("session-5h"),
                pct("weekly")
            ))
        })
        .collect();
    (!parts.is_empty()).then(|| format!("usage (5h/weekly): {}", parts.join(" · ")))
}

/// Runs `baton usage`.
pub fn cmd_usage(dir: Option<&Path>, args: &UsageArgs) -> CliResult<ExitCode> {
    let project = Project::load(&start_dir(dir)?)?;
    if args.refresh {
        refresh(&project)?;
    }
    let now = now_ms();
    let usage = collect(&project, now)?;
    if args.json {
        return print_json(&usage);
    }
    println!(
        "{:<12} {:<14} {:>5}  {:<9} {:<12} {:<18} {:<9} PROJECTION",
        "AGENT", "WINDOW", "USED", "BAND", "RESETS", "SOURCE", "READ"
    );
    for a in &usage.agents {
        if a.windows.is_empty() {
            println!("{:<12} {:<14} {:>5}  no reading yet", a.agent, "-", "-");
            continue;
        }
        for r in &a.windows {
            let v = &r.view;
            let resets = match v.reading.resets_at_ms {
                Some(t) if t > now => format!("in {}", format_duration_short(t - now)),
                Some(_) => "passed".to_owned(),
                None => "?".to_owned(),
            };
            let projection = if v.reset_passed {
                "window reset since: waiting for a new reading".to_owned()
            } else {
                let mut p = Vec::new();
                if let Some(rate) = v.burn_per_hour {
                    p.push(format!("{rate:.1} %/h"));
                }
                if let Some(t) = v.critical_at_ms
                    && v.reading.used_percent < f64::from(usage.critical)
                {
                    p.push(format!("{}% {}", usage.critical, format_relative(t, now)));
                }
                if let Some(t) = v.full_at_ms
                    && v.reading.used_percent < 100.0
                {
                    p.push(format!("full {}", format_relative(t, now)));
                }
                if p.is_empty() {
                    "-".to_owned()
                } else {
                    p.join(" · ")
                }
            };
            println!(
                "{:<12} {:<14} {:>4.0}%  {:<9} {:<12} {:<18} {:<9} {}",
                a.agent,
                v.reading.window,
                v.reading.used_percent,
                r.band.to_uppercase(),
                resets,
                v.reading.source,
                format!("{} ago", format_duration_short(r.age_ms)),
                projection
            );
        }
    }
    ok()
}
