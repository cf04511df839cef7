//! Quota watch, the daemon's side: every source writes its readings to the store, and the
//! daemon feeds each new reading to the engine with its projection.
//!
//! Sources (`[quota] sources`):
//! - `hook`: Claude Code's statusLine command (`baton hook statusline`) writes readings itself;
//! - `screen`: quota lines the detector finds on an agent's screen, read here;
//! - `rollout`: the newest Codex rollout file under `$CODEX_HOME/sessions` (default
//!   `~/.codex`), for every agent of the codex profile using that home (and its token totals
//!   as usage readings, for a home one agent alone uses);
//! - `oauth`: Claude's usage endpoint (opt-in), for every agent of the claude profile.
//!
//! Every reading carries the time its DATA was made (the hook: when it fires; a rollout: the
//! event's timestamp; OAuth: when the answer was fetched; the screen: when the notice first
//! appeared with that value), and per agent and window the newest data wins
//! (`baton_core::quota::rank`): a notice still on screen never replaces a newer hook value.
//! Readings are kept as history (a source's reading equal to its current one is not written
//! again), so `baton usage` can show the burn rate and when a window will be full.

use std::collections::BTreeMap;
use std::path::Path;
use std::path::PathBuf;

use baton_core::detector::QuotaHint;
use baton_core::quota::QuotaReading;
use baton_core::quota::projection::BurnRate;
use baton_core::quota::projection::DEFAULT_SPAN_MS;
use baton_core::quota::projection::Sample;
use baton_core::quota::rank;
use baton_core::quota::rollout;
use baton_core::quota::screen;

use crate::project::Project;
use crate::store::QuotaData;
use crate::store::QuotaSample;
use crate::store::Store;
use crate::store::UsageSample;
use crate::store::now_ms;

/// The store's name of each source.
pub const SOURCE_SCREEN: &str = "screen";
/// Codex rollout files.
pub const SOURCE_ROLLOUT: &str = "codex-rollout";
/// Claude's OAuth usage endpoint.
pub const SOURCE_OAUTH: &str = "oauth";

/// Whether the configuration reads quota from this source (`hook`, `screen`, `rollout`,
/// `oauth`).
pub fn enabled(project: &Project, source: &str) -> bool {
    project.config.quota.sources.iter().any(|s| s == source)
}

/// Records the quota lines of an agent's screen; returns how many readings were new.
pub fn record_screen(store: &mut Store, agent: &str, hints: &[QuotaHint]) -> usize {
    if hints.is_empty() {
        return 0;
    }
    for h in hints {
        if let Some(why) = screen::refusal(h) {
            warn_once(&format!(
                "{agent}: a quota line on screen gives no reading: {why}"
            ));
        }
    }
    let now = jiff::Zoned::now();
    screen::readings(hints, &now)
        .into_iter()
        .filter(|r| record(store, agent, r, SOURCE_SCREEN, QuotaData::Screen))
        .count()
}

/// Prints a warning (to the daemon's log, in the daemon) once per process: a quota line
/// stays on screen for many polls.
fn warn_once(message: &str) {
    use std::collections::BTreeSet;
    use std::sync::Mutex;
    static SEEN: Mutex<BTreeSet<String>> = Mutex::new(BTreeSet::new());
    let Ok(mut seen) = SEEN.lock() else {
        return;
    };
    if seen.len() >= 256 {
        seen.clear();
    }
    if seen.insert(message.to_owned()) {
        eprintln!("warning: {message}");
    }
}

/// Records one reading whose data was made as `data` says; returns whether it was new.
pub fn record(
    store: &mut Store,
    agent: &str,
    r: &QuotaReading,
    source: &str,
    data: QuotaData,
) -> bool {
    store
        .record_quota_data(
            &QuotaSample {
                agent,
                window: &r.window.name(),
                used_percent: r.used_percent,
                resets_at_ms: r.resets_at_ms,
                source,
            },
            data,
            now_ms(),
        )
        .unwrap_or_else(|e| {
            warn_once(&format!(
                "{agent}: cannot record the {source} quota reading of {}: {e}",
                r.window
            ));
            false
        })
}

/// The Codex home of an agent: its `CODEX_HOME`, else `~/.codex`.
pub fn codex_home(env: &BTreeMap<String, String>) -> Option<PathBuf> {
    env.get("CODEX_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("CODEX_HOME").map(PathBuf::from))
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".codex")))
}

/// Returns the newest rollout file under `home/sessions/YYYY/MM/DD/` (by modification time,
/// in the newest day's directory), if any. Only that directory is listed, so a home with
/// years of sessions costs the same as a new one.
pub fn newest_rollout(home: &Path) -> Option<PathBuf> {
    let mut dir = home.join("sessions");
    for _ in 0..3 {
        let newest = std::fs::read_dir(&dir)
            .ok()?
            .flatten()
            .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
            .map(|e| e.file_name())
            .filter(|n| {
                n.to_str()
                    .is_some_and(|n| n.bytes().all(|b| b.is_ascii_digit()))
            })
            .max()?;
        dir.push(newest);
    }
    std::fs::read_dir(&dir)
        .ok()?
        .flatten()
        .filter(|e| {
            e.file_name()
                .to_str()
                .is_some_and(|n| n.starts_with("rollout-") && n.ends_with(".jsonl"))
        })
        .filter_map(|e| Some((e.metadata().ok()?.modified().ok()?, e.path())))
        .max_by_key(|(t, _)| *t)
        .map(|(_, p)| p)
}

/// Reads the newest rollout of each Codex home and records its readings for the codex agents
/// that use it; returns how many quota readings were new. Its token totals are recorded as
/// usage only for a home one agent alone uses: the sessions of a shared home cannot be told
/// apart by agent.
pub fn record_rollouts(project: &Project, store: &mut Store) -> usize {
    let mut by_home: BTreeMap<PathBuf, Vec<String>> = BTreeMap::new();
    for a in project.config.agents.iter().filter(|a| a.cli == "codex") {
        if let Some(home) = codex_home(&a.env) {
            by_home.entry(home).or_default().push(a.name.clone());
        }
    }
    let mut new = 0;
    for (home, agents) in by_home {
        let Some(file) = newest_rollout(&home) else {
            continue;
        };
        let Ok(text) = std::fs::read_to_string(&file) else {
            continue;
        };
        for r in rollout::latest(&text) {
            // The event's timestamp is when its data was made.
            let data = QuotaData::At(r.observed_ms.unwrap_or_else(now_ms));
            for agent in &agents {
                new += usize::from(record(store, agent, &r, SOURCE_ROLLOUT, data));
            }
        }
        if let [agent] = agents.as_slice() {
            record_rollout_usage(store, agent, &file, &text);
        }
    }
    new
}

/// Records a rollout's newest token totals as the agent's usage reading.
fn record_rollout_usage(store: &mut Store, agent: &str, file: &Path, text: &str) {
    let Some(u) = baton_core::usage::sources::rollout(text) else {
        return;
    };
    // A file without its session line is still one session: its name says which.
    let name = file.file_name().map(|n| n.to_string_lossy().into_owned());
    let session = u.session.or(name);
    let sample = UsageSample {
        agent,
        at_ms: u.at_ms.unwrap_or_else(now_ms),
        session: session.as_deref(),
        usage: u.usage,
        source: SOURCE_ROLLOUT,
    };
    if let Err(e) = store.record_usage(&sample) {
        warn_once(&format!(
            "{agent}: cannot record the rollout's token counts: {e}"
        ));
    }
}

/// A window's newest reading with its projection, as `baton usage` and the engine see it.
#[derive(Clone, Debug, serde::Serialize)]
pub struct WindowView {
    /// The reading (its fields are at the top level in JSON).
    #[serde(flatten)]
    pub reading: crate::store::QuotaReading,
    /// Percentage points per hour, when enough readings exist.
    pub burn_per_hour: Option<f64>,
    /// When it reaches `critical` (ms since the epoch), by the burn rate.
    pub critical_at_ms: Option<i64>,
    /// When it reaches 100 % (ms since the epoch), by the burn rate.
    pub full_at_ms: Option<i64>,
    /// Whether its reset time has passed (the reading says nothing of the new window).
    pub reset_passed: bool,
    /// Which source won and why: `hook, 2m old; screen 90% is older`.
    pub why: String,
    /// The other sources' current readings of the window (their data no newer).
    pub others: Vec<crate::store::QuotaReading>,
}

/// Returns every agent's windows with projections, by agent then window.
pub fn views(store: &Store, critical: f64) -> Vec<WindowView> {
    views_of(
        store,
        critical,
        store.quota_windows(None).unwrap_or_default(),
    )
}

/// Returns these windows' winning readings with their projections.
pub fn views_of(
    store: &Store,
    critical: f64,
    windows: Vec<crate::store::QuotaWindowReadings>,
) -> Vec<WindowView> {
    let now = now_ms();
    windows
        .into_iter()
        .map(|crate::store::QuotaWindowReadings { winner: r, others }| {
            // The rate is fitted on the last DEFAULT_SPAN_MS only: older readings change
            // nothing (but the newest one is always there, for the "already over" case).
            let since = now.saturating_sub(DEFAULT_SPAN_MS);
            let mut history = store
                .quota_readings(&r.agent, &r.window, since)
                .unwrap_or_default();
            if r.first_data_ms < since {
                history.push(r.clone());
            }
            // Each value counts at the time its data was first made.
            let sample = |h: &crate::store::QuotaReading| Sample {
                observed_ms: h.first_data_ms,
                used_percent: h.used_percent,
                resets_at_ms: h.resets_at_ms,
            };
            let samples: Vec<Sample> = history.iter().map(sample).collect();
            let burn = BurnRate::new(&samples, now);
            let losers: Vec<_> = others.iter().map(|o| o.candidate()).collect();
            let why = rank::explain(&r.candidate(), &losers, now);
            WindowView {
                why,
                others,
                burn_per_hour: burn.burn_rate_per_hour(),
                critical_at_ms: burn.eta_ms(critical, now),
                full_at_ms: burn.eta_ms(100.0, now),
                reset_passed: r.resets_at_ms.is_some_and(|t| t <= now),
                reading: r,
            }
        })
        .collect()
}

/// Reads Claude's OAuth usage endpoint (through `.baton/usage-cache.json`, so at most once
/// per `[quota] oauth_ttl_secs`; `force` skips a fresh cache but not a back-off) and records
/// its readings for every agent of the claude profile. `BATON_OAUTH_BASE_URL` points it
/// elsewhere (a proxy, a test server). The token is read only when a request is made, and
/// never leaves this call.
pub fn record_oauth(
    project: &Project,
    store: &mut Store,
    force: bool,
) -> crate::error::CliResult<usize> {
    use crate::usage_oauth;
    let home = std::env::var_os("HOME")
        .map(PathBuf::from)
        .ok_or_else(|| crate::error::CliError::user("oauth usage: HOME is not set"))?;
    let credentials = usage_oauth::credentials_path(&home);
    let base = std::env::var("BATON_OAUTH_BASE_URL")
        .unwrap_or_else(|_| usage_oauth::DEFAULT_BASE_URL.to_owned());
    let ttl_ms = if force {
        0
    } else {
        i64::try_from(project.config.quota.oauth_ttl_secs.saturating_mul(1000)).unwrap_or(i64::MAX)
    };
    let client = usage_oauth::UsageClient::new(project.state_dir()?.join("usage-cache.json"))
        .with_base_url(base)
        .with_ttl_ms(ttl_ms);
    let now = now_ms();
    let snap = client
        .usage(now, || usage_oauth::load_token(&credentials, now))
        .map_err(|e| crate::error::CliError::user(format!("oauth usage: {e}")))?;
    let source = if snap.stale {
        format!("{SOURCE_OAUTH} (stale)")
    } else {
        SOURCE_OAUTH.to_owned()
    };
    let mut new = 0;
    for a in project.config.agents.iter().filter(|a| a.cli == "claude") {
        for r in &snap.readings {
            // A stale answer keeps the time it was fetched: its data is that old.
            new += usize::from(
                store
                    .record_quota_data(
                        &QuotaSample {
                            agent: &a.name,
                            window: &r.window,
                            used_percent: r.used_percent,
                            resets_at_ms: r.resets_at_ms,
                            source: &source,
                        },
                        QuotaData::At(snap.fetched_at_ms),
                        now,
                    )
                    .unwrap_or(false),
            );
        }
    }
    Ok(new)
}
