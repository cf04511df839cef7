//! The daemon: the imperative shell around [`baton_core::engine::Engine`].
//!
//! One thread per event source feeds one channel (crossbeam `select!`, no async runtime):
//! the tmux control-mode connection (`%output` marks an agent's screen dirty, `%window-close`
//! means it died), a Unix socket in `.baton/` that CLI commands poke after they change the
//! store, a watch on the memory file, the verify runner, and a 200 ms ticker. The loop turns
//! each into engine events (a dirty screen is captured and detected at most every 100 ms),
//! then carries out the actions — committing every task change to the store before touching
//! tmux, so a daemon killed at any point restarts from the store with nothing lost and no
//! task dispatched twice.
//!
//! One daemon per project: `.baton/daemon.lock` is held (an OS file lock) while it runs.
//!
//! - [`process`]: the lock, starting in the background, stopping, the socket;
//! - [`run`](mod@run): the loop, the engine stepped on each event, the session lost;
//! - [`inputs`]: the journal tail, quota sources, control-mode events, screen reads;
//! - [`act`]: the engine's actions carried out (store first, then tmux);
//! - [`merges`]: the merge pump.

use std::collections::BTreeMap;
use std::collections::BTreeSet;
use std::path::PathBuf;
use std::time::Instant;

use baton_core::engine::Engine;
use baton_core::engine::Event;
use baton_core::first_start::StartWatch;
use baton_core::task::TaskId;
use baton_core::vocab::AgentStatus;
use crossbeam_channel::Sender;

use crate::project::Project;
use crate::store::Store;

use tmux::TmuxOps;

mod act;
mod hosts;
mod inputs;
mod merges;
mod process;
mod run;
mod tmux;

#[cfg(test)]
mod tests;

pub use process::Spawned;
pub use process::poke;
pub use process::running_pid;
pub use process::socket_path;
pub use process::spawn_background;
pub use process::stop;
pub use run::run;

/// The journal's name for the daemon.
pub const ACTOR: &str = "baton";

/// How the daemon runs.
pub struct Options {
    /// Return once the engine says everything is finished (`baton run`), or keep running.
    pub exit_when_finished: bool,
    /// Print a one-line status as the run goes.
    pub progress: bool,
    /// Started by `baton up` in the background: stop once the tmux session is gone for good.
    pub background: bool,
    /// `--ignore-usage`: quota holds no work back (an emergency; journaled).
    pub ignore_usage: bool,
}

/// How a run ended.
pub struct Outcome {
    /// The engine's summary line.
    pub summary: String,
}

/// What wakes the loop besides tmux and the ticker.
enum Wake {
    /// A CLI command changed the store.
    Poke,
    /// A merge, or a batch of them, ended: (row, task, agent, how).
    Merged(Vec<(i64, TaskId, String, crate::worktrees::Batched)>),
    /// A verify command of a wave ended.
    Verify {
        wave: u64,
        command: String,
        ok: bool,
        excerpt: String,
    },
    /// A try of a host that was down ended (`ok`: reachable, its session there).
    HostProbed { host: String, ok: bool },
}

struct Shell<'p> {
    project: &'p Project,
    /// The tmux operations carried out (the real server, or a fake in tests).
    tmux: Box<dyn TmuxOps>,
    store: Store,
    engine: Engine,
    panes: BTreeMap<String, (String, String)>,
    dirty: BTreeSet<String>,
    states: BTreeMap<String, (AgentStatus, Option<String>)>,
    states_due: BTreeMap<String, crate::store::AgentRow>,
    memory_due: bool,
    last_capture: BTreeMap<String, Instant>,
    journal_seq: i64,
    wake_tx: Sender<Wake>,
    finished: Option<String>,
    started: Instant,
    last_status: String,
    progress: bool,
    disconnected: Option<Instant>,
    screen_quota: bool,
    notifier: crate::notify::Notifier,
    /// The notices the webhook gave up on, to journal (its thread must not reach the store).
    webhook_failures: crossbeam_channel::Receiver<crate::webhook::GaveUp>,
    /// The id of the last quota reading fed to the engine.
    quota_seen: i64,
    last_rollout: Option<Instant>,
    last_oauth: Option<Instant>,
    notes_stamp: Option<std::time::SystemTime>,
    oauth_busy: std::sync::Arc<std::sync::atomic::AtomicBool>,
    /// The integration branch, when some agent works in a worktree.
    integration: Option<String>,
    /// A merge (or a batch) runs on its thread.
    merging: bool,
    /// Merges sent back from a failed batch: each is merged alone.
    solo: BTreeSet<i64>,
    /// Merge outcomes to record: with the fix task they lead to, or after the step.
    merge_due: Vec<crate::store::MergeWrite>,
    /// Outcomes met while restoring the queue, with their records, fed once the tasks are
    /// loaded.
    restart_events: Vec<(Event, crate::store::MergeWrite)>,
    /// Failed-report lines last seen on each agent's screen (fed when the count changes).
    report_lines: BTreeMap<String, usize>,
    /// The first-start rule of each agent's window (its pane id): dialogs answered or sent
    /// to a person.
    first_start: BTreeMap<String, (String, StartWatch)>,
    /// The other hosts: their report pumps, lost connections, hosts down.
    hosts: hosts::HostWatch,
    /// Agents typed into (a paste, keys) since the last batch of screens was read.
    typed: BTreeSet<String>,
}

impl<'p> Shell<'p> {
    /// A shell around `engine`, nothing read yet: the loop (or a test) replays the store.
    fn new(
        project: &'p Project,
        store: Store,
        engine: Engine,
        tmux: Box<dyn TmuxOps>,
        wake_tx: Sender<Wake>,
        progress: bool,
        integration: Option<String>,
    ) -> Shell<'p> {
        let (gave_up, webhook_failures) = crossbeam_channel::unbounded();
        Shell {
            project,
            tmux,
            store,
            engine,
            panes: BTreeMap::new(),
            dirty: BTreeSet::new(),
            states: BTreeMap::new(),
            states_due: BTreeMap::new(),
            memory_due: false,
            last_capture: BTreeMap::new(),
            journal_seq: 0,
            wake_tx,
            finished: None,
            started: Instant::now(),
            last_status: String::new(),
            progress,
            disconnected: None,
            screen_quota: crate::quota_watch::enabled(project, "screen"),
            notifier: notifier_from_config(&project.config.notify, &project.session, gave_up),
            webhook_failures,
            quota_seen: 0,
            last_rollout: None,
            last_oauth: None,
            notes_stamp: std::fs::metadata(project.root.join(crate::handoff::NOTES))
                .and_then(|m| m.modified())
                .ok(),
            oauth_busy: std::sync::Arc::default(),
            integration,
            merging: false,
            solo: BTreeSet::new(),
            merge_due: Vec::new(),
            restart_events: Vec::new(),
            report_lines: BTreeMap::new(),
            first_start: BTreeMap::new(),
            hosts: hosts::HostWatch::default(),
            typed: BTreeSet::new(),
        }
    }
}

/// The notifier `baton.toml`'s `[notify]` asks for; `project` names the project in webhook
/// notices, `gave_up` hears of each webhook notice given up on.
fn notifier_from_config(
    c: &baton_core::config::NotifyConfig,
    project: &str,
    gave_up: Sender<crate::webhook::GaveUp>,
) -> crate::notify::Notifier {
    use crate::notify::Backend;
    use crate::notify::NoticeFilter;
    use crate::notify::Notifier;
    let mut filter = NoticeFilter::all();
    match c.disabled() {
        Ok(kinds) => {
            for kind in kinds {
                filter.set(kind, false);
            }
        }
        Err(e) => eprintln!("warning: [notify] disable: {e}"),
    }
    let backend = match c.backend.as_str() {
        "auto" => Backend::detect(),
        "bell" => Backend::Bell,
        "off" => Backend::Off,
        program => Backend::Command(PathBuf::from(program)),
    };
    let notifier = Notifier::new(backend, filter);
    let Some(url) = c.webhook.clone() else {
        return notifier;
    };
    let shown = url.redacted();
    let report: crate::webhook::Report = Box::new(move |g| {
        // The receiver goes with the daemon's shell: then stderr has said it already.
        let _ = gave_up.send(g);
    });
    let policy = Default::default();
    match crate::webhook::Webhook::start(url, c.webhook_format, project, policy, report) {
        Ok(w) => notifier.with_webhook(w),
        Err(e) => {
            eprintln!("warning: webhook {shown}: cannot start its thread: {e}");
            notifier
        }
    }
}
