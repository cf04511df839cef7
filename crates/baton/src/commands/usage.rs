//! `baton usage`: each agent's quota windows — % used, band, reset, burn rate and projection,
//! and which source won and why (the newest data wins: `hook, 2m old; screen 90% is older`).
//! A window whose reset time has passed shows as reset.

use std::path::Path;
use std::process::ExitCode;

use baton_core::quota::projection::format_duration_short;
use baton_core::quota::projection::format_relative;
use baton_core::quota::rank;
use clap::Args;
use serde::Serialize;

use crate::commands::ok;
use crate::commands::print_json;
use crate::context::Context;
use crate::error::CliResult;
use crate::project::Project;
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

/// One window as printed. `used_percent` is what the window is at as far as baton knows: 0
/// once its reset time has passed (`reset_passed`); `read_percent` is what the reading said.
#[derive(Serialize)]
struct Row {
    #[serde(flatten)]
    view: WindowView,
    read_percent: f64,
    band: &'static str,
    /// How old the winning reading's data is.
    age_ms: i64,
    /// The winning source, short: `hook`, `rollout`, `oauth`, `screen`.
    won: String,
}

/// One agent as printed.
#[derive(Serialize)]
struct AgentUsage {
    agent: String,
    cli: String,
    windows: Vec<Row>,
    /// A note under the agent: the screen is its only source.
    #[serde(skip_serializing_if = "Option::is_none")]
    note: Option<String>,
}

/// The note under a Claude Code agent whose only quota source is its screen.
pub const SCREEN_ONLY_NOTE: &str = "note: only the screen reports this agent's quota, and Claude Code shows its quota notice for a few seconds after a reply: most readings are missed (the statusLine hook, Codex rollouts or `[quota] sources = [.., \"oauth\"]` report every response)";

/// The note under another agent whose only quota source is its screen.
pub const SCREEN_ONLY_OTHER_NOTE: &str = "note: only the screen reports this agent's quota: a reading is taken only while its CLI shows one";

/// The screen-only note for an agent of this CLI.
fn screen_only_note(cli: &str) -> &'static str {
    if cli == "claude" {
        SCREEN_ONLY_NOTE
    } else {
        SCREEN_ONLY_OTHER_NOTE
    }
}

/// Whether the screen is an agent's only quota source: all its readings come from the screen,
/// or it has none and the screen is the only source configured.
fn screen_only(project: &Project, windows: &[Row]) -> bool {
    if windows.is_empty() {
        let sources = &project.config.quota.sources;
        return !sources.is_empty() && sources.iter().all(|s| s == "screen");
    }
    windows.iter().all(|w| {
        std::iter::once(&w.view.reading)
            .chain(&w.view.others)
            .all(|r| r.source == crate::quota_watch::SOURCE_SCREEN)
    })
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
        .map(|a| {
            let windows: Vec<Row> = views
                .iter()
                .filter(|v| v.reading.agent == a.name)
                .map(|v| {
                    let mut view = v.clone();
                    let read_percent = view.reading.used_percent;
                    view.reading.used_percent =
                        rank::used_now(read_percent, view.reading.resets_at_ms, now);
                    view.reset_passed = rank::is_reset(view.reading.resets_at_ms, now);
                    Row {
                        band: bands.band(view.reading.used_percent).name(),
                        age_ms: now.saturating_sub(view.reading.data_ms).max(0),
                        won: rank::label(&view.reading.source).to_owned(),
                        read_percent,
                        view,
                    }
                })
                .collect();
            let note = screen_only(project, &windows).then(|| screen_only_note(&a.cli).to_owned());
            AgentUsage {
                agent: a.name.clone(),
                cli: a.cli.clone(),
                windows,
                note,
            }
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
            let pct = |w: &str| match mine.iter().find(|r| r.window == w) {
                None => "?".to_owned(),
                Some(r) if !live(r) => "reset".to_owned(),
                Some(r) => format!("{:.0}%", r.used_percent),
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
    let ctx = Context::load(dir)?;
    let project = &ctx.project;
    if args.refresh {
        refresh(project)?;
    }
    let now = now_ms();
    let usage = collect(project, now)?;
    if args.json {
        return print_json(&usage);
    }
    println!(
        "{:<12} {:<14} {:>5}  {:<9} {:<12} {:<34} FROM",
        "AGENT", "WINDOW", "USED", "BAND", "RESETS", "PROJECTION"
    );
    for a in &usage.agents {
        if a.windows.is_empty() {
            println!("{:<12} {:<14} {:>5}  no reading yet", a.agent, "-", "-");
        }
        for r in &a.windows {
            let v = &r.view;
            let resets = match v.reading.resets_at_ms {
                Some(t) if t > now => format!("in {}", format_duration_short(t - now)),
                Some(_) => "passed".to_owned(),
                None => "unknown".to_owned(),
            };
            let projection = if v.reset_passed {
                "reset: waiting for a new reading".to_owned()
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
            let (used, band) = if v.reset_passed {
                ("reset".to_owned(), "-".to_owned())
            } else {
                (
                    format!("{:>4.0}%", v.reading.used_percent),
                    r.band.to_uppercase(),
                )
            };
            println!(
                "{:<12} {:<14} {:>5}  {:<9} {:<12} {:<34} {}{:.0}% ({})",
                a.agent,
                v.reading.window,
                used,
                band,
                resets,
                projection,
                if v.reset_passed { "was " } else { "" },
                r.read_percent,
                v.why
            );
        }
        if let Some(note) = &a.note {
            println!("{:<12} {note}", "");
        }
    }
    ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Claude Code's few-seconds notice is said under a Claude agent only (it was printed
    /// under amp too).
    #[test]
    fn the_screen_only_note_names_claude_only_under_claude() {
        assert!(screen_only_note("claude").contains("Claude Code"));
        for cli in ["amp", "codex", "gemini", "opencode"] {
            assert!(!screen_only_note(cli).contains("Claude"), "{cli}");
        }
    }
}
