//! The dashboard's view model: a plain [`Snapshot`] of what `baton watch` shows, loaded from
//! the store and the configuration by a [`Loader`].
//!
//! The loader reads only what is displayed — one page of tasks, the tail of the journal, the
//! agents and their newest quota readings — plus counts, so 10,000 tasks cost no more than
//! ten. [`Loader::changed`] asks SQLite's `data_version` (one tiny query) whether anything was
//! committed since the last load, so an idle dashboard reads nothing.

use std::collections::BTreeMap;
use std::collections::BTreeSet;
use std::path::Path;
use std::path::PathBuf;

use baton_core::Config;
use baton_core::task::Status;
use baton_core::task::Task;
use baton_core::task::TaskId;
use baton_core::vocab::JournalAction;

use crate::store::JournalEntry;
use crate::store::Store;
use crate::store::StoreResult;
use crate::store::TaskFilter;

/// How many journal entries the log pane keeps.
pub const LOG_TAIL: usize = 200;

/// Which tasks the queue pane lists.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Filter {
    /// Every task.
    #[default]
    All,
    /// PENDING, IN_PROGRESS and BLOCKED.
    Open,
    /// One status.
    Only(Status),
}

impl Filter {
    /// The filters in the order `f` steps through them.
    pub const CYCLE: [Filter; 7] = [
        Filter::All,
        Filter::Open,
        Filter::Only(Status::Pending),
        Filter::Only(Status::InProgress),
        Filter::Only(Status::Blocked),
        Filter::Only(Status::Completed),
        Filter::Only(Status::Cancelled),
    ];

    /// Returns the statuses it keeps (empty: all).
    pub fn statuses(self) -> Vec<Status> {
        match self {
            Filter::All => Vec::new(),
            Filter::Open => vec![Status::Pending, Status::InProgress, Status::Blocked],
            Filter::Only(s) => vec![s],
        }
    }

    /// Returns its name as shown: `all`, `open`, or the status.
    pub fn label(self) -> &'static str {
        match self {
            Filter::All => "all",
            Filter::Open => "open",
            Filter::Only(s) => s.as_str(),
        }
    }

    /// Returns the next filter of the cycle (`forward`) or the previous one.
    pub fn step(self, forward: bool) -> Filter {
        let n = Filter::CYCLE.len();
        let i = Filter::CYCLE.iter().position(|f| *f == self).unwrap_or(0);
        Filter::CYCLE[if forward {
            (i + 1) % n
        } else {
            (i + n - 1) % n
        }]
    }
}

pub use baton_core::quota::bands::Band;
use baton_core::quota::bands::Bands;

/// A band's word, readable without colour (louder as it gets worse).
pub fn band_word(band: Band) -> &'static str {
    match band {
        Band::Ok => "ok",
        Band::Attention => "attn",
        Band::High => "high",
        Band::Critical => "CRIT",
        Band::Alert => "ALERT",
    }
}

/// The band of a percentage used, with the default thresholds (50/75/85/93).
pub fn default_band(percent: f64) -> Band {
    Bands::FIVE.band(percent)
}

/// The winning reading of one quota window (the newest data among its sources).
#[derive(Clone, Copy, Debug, PartialEq)]
pub struct Quota {
    /// Percent used: 0 once the window's reset time has passed (`reset`).
    pub percent: f64,
    /// When the window resets (ms since the epoch), when known.
    pub resets_at_ms: Option<i64>,
    /// Its band, by `[quota]`'s thresholds.
    pub band: Band,
    /// The window's reset time has passed since the reading: it shows as reset.
    pub reset: bool,
}

impl Quota {
    /// A reading banded with the default thresholds (tests and benches build views by hand).
    #[cfg(test)]
    pub fn new(percent: f64, resets_at_ms: Option<i64>) -> Quota {
        Quota {
            percent,
            resets_at_ms,
            band: default_band(percent),
            reset: false,
        }
    }

    /// A reading as it stands at `now_ms`: reset (0 %) once its reset time has passed.
    pub fn at(percent: f64, resets_at_ms: Option<i64>, bands: &Bands, now_ms: i64) -> Quota {
        let reset = baton_core::quota::rank::is_reset(resets_at_ms, now_ms);
        let percent = baton_core::quota::rank::used_now(percent, resets_at_ms, now_ms);
        Quota {
            percent,
            resets_at_ms,
            band: bands.band(percent),
            reset,
        }
    }

    /// Returns its band.
    pub fn band(self) -> Band {
        self.band
    }
}

/// One agent as the dashboard shows it.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct AgentView {
    /// Its name.
    pub name: String,
    /// Its profile.
    pub cli: String,
    /// The `[[host]]` it runs on; `None`: this machine.
    pub host: Option<String>,
    /// Its state as the daemon last saw it (`idle`, `working`, `dead`…); empty when never seen.
    pub state: String,
    /// Since when it is in that state.
    pub since_ms: Option<i64>,
    /// Its tmux pane, when up.
    pub pane: Option<String>,
    /// The task it works on (the first IN_PROGRESS one), with its title.
    pub task: Option<(TaskId, String)>,
    /// Its 5-hour session window.
    pub session: Option<Quota>,
    /// Its weekly window.
    pub weekly: Option<Quota>,
    /// Whether it leads.
    pub lead: bool,
}

/// The visible page of the task queue.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct TaskPage {
    /// The filter it was read with.
    pub filter: Filter,
    /// The index of its first row in the filtered queue.
    pub offset: usize,
    /// How many tasks the filter keeps in all.
    pub total: usize,
    /// The rows, in the queue's order.
    pub rows: Vec<Task>,
}

/// How many tasks there are, by status.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct Counts {
    /// Every task.
    pub total: u64,
    /// COMPLETED.
    pub done: u64,
    /// UNREPORTED: ended without a report, waiting for a review.
    pub unreported: u64,
    /// BLOCKED.
    pub blocked: u64,
    /// IN_PROGRESS.
    pub running: u64,
    /// PENDING.
    pub pending: u64,
    /// CANCELLED.
    pub cancelled: u64,
}

impl Counts {
    /// Returns the counts of `total` tasks, given how many have each status.
    pub fn by_status(total: u64, n: impl Fn(Status) -> u64) -> Counts {
        Counts {
            total,
            done: n(Status::Completed),
            unreported: n(Status::Unreported),
            blocked: n(Status::Blocked),
            running: n(Status::InProgress),
            pending: n(Status::Pending),
            cancelled: n(Status::Cancelled),
        }
    }
}

/// A lead handoff under way.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct HandoffView {
    /// The agent handing the lead role over.
    pub from: String,
    /// The one taking it.
    pub to: String,
    /// The step it is at: `request`, `prepare`, `start`.
    pub step: String,
    /// Since when it is at that step.
    pub since_ms: i64,
}

/// Everything the dashboard shows, read at one moment.
#[derive(Clone, Debug, Default, PartialEq)]
pub struct Snapshot {
    /// The tmux session (the project's name).
    pub session: String,
    /// The configured agents, in configuration order.
    pub agents: Vec<AgentView>,
    /// The visible page of tasks.
    pub tasks: TaskPage,
    /// Counts by status.
    pub counts: Counts,
    /// The newest journal entries, oldest first.
    pub log: Vec<JournalEntry>,
    /// Who leads.
    pub lead: Option<String>,
    /// A handoff under way.
    pub handoff: Option<HandoffView>,
    /// Whether dispatch is paused.
    pub paused: bool,
    /// Whether the daemon runs (`None`: cannot tell on this system).
    pub daemon: Option<bool>,
    /// The merge queue, in worktree mode: merges running and queued.
    pub merges: Option<(usize, usize)>,
}

impl Snapshot {
    /// Returns the usage the footer shows — the lead's session and weekly percent, or,
    /// without a lead, the highest of all agents'; `None` where unknown.
    pub fn usage(&self) -> (Option<f64>, Option<f64>) {
        if let Some(lead) = self.lead_agent() {
            return (
                lead.session.map(|q| q.percent),
                lead.weekly.map(|q| q.percent),
            );
        }
        let max = |pick: fn(&AgentView) -> Option<Quota>| {
            self.agents
                .iter()
                .filter_map(pick)
                .map(|q| q.percent)
                .reduce(f64::max)
        };
        (max(|a| a.session), max(|a| a.weekly))
    }

    /// Returns the lead's view, when the lead is a configured agent.
    pub fn lead_agent(&self) -> Option<&AgentView> {
        let lead = self.lead.as_deref()?;
        self.agents.iter().find(|a| a.name == lead)
    }

    /// Returns the agents at the Critical band or worse in either window, worst first, with
    /// the window (`5h`, `week`) and the reading.
    pub fn alerts(&self) -> Vec<(&AgentView, &'static str, Quota)> {
        let mut out: Vec<(&AgentView, &'static str, Quota)> = Vec::new();
        for a in &self.agents {
            let worst = [("5h", a.session), ("week", a.weekly)]
                .into_iter()
                .filter_map(|(w, q)| q.map(|q| (w, q)))
                .filter(|(_, q)| q.band() >= Band::Critical)
                .max_by(|x, y| x.1.percent.total_cmp(&y.1.percent));
            if let Some((w, q)) = worst {
                out.push((a, w, q));
            }
        }
        out.sort_by(|x, y| y.2.percent.total_cmp(&x.2.percent));
        out
    }
}

/// Which page of the queue to read.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct PageRequest {
    /// The filter.
    pub filter: Filter,
    /// The first row.
    pub offset: usize,
    /// How many rows fit.
    pub limit: usize,
}

/// Reads snapshots from the store, and says when there is something new to read.
pub struct Loader {
    store: Store,
    root: PathBuf,
    version: Option<i64>,
    daemon: Option<bool>,
    handoff: Option<JournalEntry>,
    handoff_scanned_to: i64,
    /// The winning reading of each (agent, window): (percent, resets at).
    quota: BTreeMap<(String, String), (f64, Option<i64>)>,
    quota_seen: i64,
    /// The soonest reset time still ahead at the last load: once it passes, the snapshot
    /// changes (that window shows as reset).
    next_reset_ms: Option<i64>,
}

impl Loader {
    /// Returns a loader over an open store of the project at `root`.
    pub fn new(store: Store, root: &Path) -> Loader {
        Loader {
            store,
            root: root.to_owned(),
            version: None,
            daemon: None,
            handoff: None,
            handoff_scanned_to: 0,
            quota: BTreeMap::new(),
            quota_seen: 0,
            next_reset_ms: None,
        }
    }

    /// Returns the store, to act on it.
    pub fn store_mut(&mut self) -> &mut Store {
        &mut self.store
    }

    /// Returns whether something changed since the last [`Loader::load`]: a commit by another
    /// process, or the daemon starting or stopping.
    pub fn changed(&mut self) -> StoreResult<bool> {
        let v = self.store.data_version()?;
        let reset = self
            .next_reset_ms
            .is_some_and(|t| t <= crate::store::now_ms());
        Ok(Some(v) != self.version || daemon_running(&self.root) != self.daemon || reset)
    }

    /// Makes the next [`Loader::changed`] say yes (after a change made through this loader's
    /// own connection, which `data_version` does not count).
    pub fn invalidate(&mut self) {
        self.version = None;
    }

    /// Reads a whole snapshot.
    pub fn load(
        &mut self,
        config: &Config,
        session: &str,
        page: PageRequest,
    ) -> StoreResult<Snapshot> {
        // Read the version first: a commit that lands while we read is seen next time.
        self.version = Some(self.store.data_version()?);
        self.daemon = daemon_running(&self.root);
        // The rest is read from one snapshot: counts and pages agree with each other.
        let _snapshot = self.store.begin_read()?;
        let rows: BTreeMap<String, crate::store::AgentRow> = self
            .store
            .agents()?
            .into_iter()
            .map(|a| (a.name.clone(), a))
            .collect();
        // The winners are read again only when readings were recorded since the last load.
        let bands = config.quota.bands();
        let mut touched: BTreeSet<(String, String)> = BTreeSet::new();
        for (id, q) in self.store.quota_readings_after(self.quota_seen)? {
            self.quota_seen = self.quota_seen.max(id);
            touched.insert((q.agent, q.window));
        }
        for (agent, window) in touched {
            if let Some(w) = self.store.quota_window(&agent, &window)? {
                let q = w.winner;
                self.quota
                    .insert((agent, window), (q.used_percent, q.resets_at_ms));
            }
        }
        let now = crate::store::now_ms();
        self.next_reset_ms = self
            .quota
            .values()
            .filter_map(|(_, r)| *r)
            .filter(|&t| t > now)
            .min();
        let quota: BTreeMap<&(String, String), Quota> = self
            .quota
            .iter()
            .map(|(k, (p, r))| (k, Quota::at(*p, *r, &bands, now)))
            .collect();
        let running = self.store.tasks(&TaskFilter {
            statuses: vec![Status::InProgress],
            assignee: None,
        })?;
        let mut current: BTreeMap<&str, (TaskId, String)> = BTreeMap::new();
        for t in &running {
            if let Some(a) = t.assignee.as_deref() {
                current.entry(a).or_insert((t.id, t.title.clone()));
            }
        }
        let lead = match self.store.lead_row()? {
            Some(row) => Some(row.agent),
            None => config.lead.chain.first().cloned(),
        };
        let agents = config
            .agents
            .iter()
            .map(|a| {
                let row = rows.get(&a.name);
                let q = |w: &str| quota.get(&(a.name.clone(), w.to_owned())).copied();
                AgentView {
                    name: a.name.clone(),
                    cli: a.cli.clone(),
                    host: a.host.clone().filter(|h| h != "local"),
                    state: row.map(|r| r.state.clone()).unwrap_or_default(),
                    since_ms: row.filter(|r| !r.state.is_empty()).map(|r| r.since_ms),
                    pane: row.and_then(|r| r.pane.clone()),
                    task: current.get(a.name.as_str()).cloned(),
                    session: q("session-5h"),
                    weekly: q("weekly"),
                    lead: lead.as_deref() == Some(a.name.as_str()),
                }
            })
            .collect();
        let log = self.store.journal_tail(LOG_TAIL)?;
        if let Some(e) = self.store.journal_last_handoff(self.handoff_scanned_to)? {
            self.handoff = Some(e);
        }
        if let Some(last) = log.last() {
            self.handoff_scanned_to = last.seq;
        }
        let handoff = self
            .handoff
            .as_ref()
            .and_then(|e| handoff_view(e, lead.as_deref()));
        let paused = self.store.paused()?;
        let merges = if config.uses_worktrees() {
            let (running, queued, _) = self.store.merge_counts()?;
            Some((running, queued))
        } else {
            None
        };
        Ok(Snapshot {
            session: session.to_owned(),
            agents,
            tasks: self.page(page)?,
            counts: self.counts()?,
            log,
            lead,
            handoff,
            paused,
            daemon: self.daemon,
            merges,
        })
    }

    /// Reads one page of the queue.
    pub fn page(&self, page: PageRequest) -> StoreResult<TaskPage> {
        let (rows, total) =
            self.store
                .tasks_page(&page.filter.statuses(), page.offset, page.limit)?;
        Ok(TaskPage {
            filter: page.filter,
            offset: page.offset,
            total,
            rows,
        })
    }

    fn counts(&self) -> StoreResult<Counts> {
        let by = self.store.counts()?;
        let n = |s: Status| by.get(&s).copied().unwrap_or(0);
        Ok(Counts::by_status(by.values().sum(), n))
    }
}

/// Turns the newest `handoff-*` journal entry into a handoff under way, if it is one:
/// `handoff-request`, `-prepare` and `-start` are steps; anything else (`-done`, `-cancel`…)
/// ends it.
pub fn handoff_view(e: &JournalEntry, lead: Option<&str>) -> Option<HandoffView> {
    let action = e.action.parse::<JournalAction>().ok()?;
    if !matches!(
        action,
        JournalAction::HandoffRequest | JournalAction::HandoffPrepare | JournalAction::HandoffStart
    ) {
        return None;
    }
    let step = action.handoff_step()?;
    let from = serde_json::from_str::<serde_json::Value>(&e.detail)
        .ok()
        .and_then(|v| v.get("from").and_then(|f| f.as_str()).map(str::to_owned))
        .or_else(|| lead.map(str::to_owned))
        .unwrap_or_else(|| "?".to_owned());
    // While preparing, the successor is not chosen yet (the entry names the lead itself).
    let to = if e.target.is_empty() || e.target == from {
        "next".to_owned()
    } else {
        e.target.clone()
    };
    Some(HandoffView {
        from,
        to,
        step: step.to_owned(),
        since_ms: e.at_ms,
    })
}

/// Returns whether the daemon named in `.baton/daemon.lock` is alive (`None` where the
/// system has no `/proc` to tell). Taking the lock to find out could make a daemon that
/// starts at that moment refuse to run, so the pid it wrote is checked instead.
fn daemon_running(root: &Path) -> Option<bool> {
    if !Path::new("/proc/self").exists() {
        return None;
    }
    let pid = std::fs::read_to_string(root.join(".baton").join("daemon.lock")).ok();
    Some(
        pid.and_then(|p| p.trim().parse::<u32>().ok())
            .is_some_and(|p| Path::new("/proc").join(p.to_string()).exists()),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bands_follow_the_thresholds() {
        let b = default_band;
        assert_eq!(
            [0.0, 49.9, 50.0, 74.9, 75.0, 84.9, 85.0, 92.9, 93.0, 100.0].map(b),
            [
                Band::Ok,
                Band::Ok,
                Band::Attention,
                Band::Attention,
                Band::High,
                Band::High,
                Band::Critical,
                Band::Critical,
                Band::Alert,
                Band::Alert
            ]
        );
    }

    #[test]
    fn the_filter_cycles_both_ways() {
        let mut f = Filter::All;
        for _ in 0..Filter::CYCLE.len() {
            f = f.step(true);
        }
        assert_eq!(f, Filter::All);
        assert_eq!(Filter::All.step(false), Filter::Only(Status::Cancelled));
    }

    #[test]
    fn usage_is_the_leads_else_the_highest() {
        let a = |name: &str, s: Option<f64>, w: Option<f64>, lead: bool| AgentView {
            name: name.into(),
            session: s.map(|percent| Quota::new(percent, None)),
            weekly: w.map(|percent| Quota::new(percent, None)),
            lead,
            ..AgentView::default()
        };
        let mut s = Snapshot {
            agents: vec![
                a("claude", Some(45.0), None, true),
                a("codex", Some(80.0), Some(62.0), false),
            ],
            lead: Some("claude".into()),
            ..Snapshot::default()
        };
        assert_eq!(s.usage(), (Some(45.0), None));
        s.lead = None;
        assert_eq!(s.usage(), (Some(80.0), Some(62.0)));
    }

    #[test]
    fn handoff_steps_come_from_the_journal() {
        let e = |action: &str| JournalEntry {
            seq: 1,
            at_ms: 5,
            actor: "baton".into(),
            action: action.into(),
            task: None,
            target: "amp".into(),
            result: String::new(),
            detail: String::new(),
        };
        assert_eq!(
            handoff_view(&e("handoff-prepare"), Some("claude")),
            Some(HandoffView {
                from: "claude".into(),
                to: "amp".into(),
                step: "prepare".into(),
                since_ms: 5
            })
        );
        assert_eq!(handoff_view(&e("handoff-done"), Some("claude")), None);
        // The daemon journals a prepare under the lead itself: no successor is chosen yet
        // (the header said "claude → claude").
        let mut own = e("handoff-prepare");
        own.target = "claude".into();
        assert_eq!(handoff_view(&own, Some("claude")).unwrap().to, "next");
        let mut with_from = e("handoff-start");
        with_from.detail = r#"{"from":"codex"}"#.into();
        assert_eq!(handoff_view(&with_from, None).unwrap().from, "codex");
    }

    #[test]
    fn a_page_of_ten_thousand_reads_only_the_page() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(&dir.path().join("state.db")).unwrap();
        let tasks: Vec<baton_core::task::NewTask> = (0..10_000)
            .map(|i| baton_core::task::NewTask {
                title: format!("task {i}"),
                ..Default::default()
            })
            .collect();
        store.add_tasks(&tasks, "user").unwrap();
        crate::tui::tests::block(&mut store, TaskId(9_999), "user", "why");
        let loader = Loader::new(store, dir.path());
        let page = loader
            .page(PageRequest {
                filter: Filter::All,
                offset: 0,
                limit: 20,
            })
            .unwrap();
        assert_eq!(page.total, 10_000);
        assert_eq!(page.rows.len(), 20);
        assert_eq!(page.rows[0].id, TaskId(9_999), "BLOCKED comes first");
        assert_eq!(page.rows[1].id, TaskId(1));
        let blocked = loader
            .page(PageRequest {
                filter: Filter::Only(Status::Blocked),
                offset: 0,
                limit: 20,
            })
            .unwrap();
        assert_eq!((blocked.total, blocked.rows.len()), (1, 1));
    }
}
