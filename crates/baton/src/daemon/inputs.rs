//! What the daemon reads: the journal tail (CLI commands, hooks), quota sources, the
//! lead's notes, control-mode events and the agents' screens.

use std::collections::BTreeSet;
use std::time::Duration;
use std::time::Instant;

use baton_core::AgentState;
use baton_core::detect;
use baton_core::engine::Event;
use baton_core::first_start::StartWatch;
use baton_core::first_start::Verdict;
use baton_core::vocab::AgentStatus;
use baton_core::vocab::JournalAction;
use baton_core::vocab::NoticeKind;
use baton_tmux::control::ControlEvent;

use crate::error::CliResult;
use crate::project::Project;
use crate::store::JournalEntry;

use super::ACTOR;
use super::Shell;

impl Shell<'_> {
    /// Tells the engine when the lead wrote its notes (`.baton/lead-notes.md` changed).
    pub(super) fn poll_notes(&mut self) -> CliResult<()> {
        let stamp = std::fs::metadata(self.project.root.join(crate::handoff::NOTES))
            .and_then(|m| m.modified())
            .ok();
        if stamp != self.notes_stamp {
            self.notes_stamp = stamp;
            if stamp.is_some() {
                self.feed(Event::LeadNotes)?;
            }
        }
        Ok(())
    }

    /// Reads the sources the daemon polls itself (Codex rollouts, every 5 s) and feeds what
    /// any source recorded (the statusLine hook writes the store directly).
    pub(super) fn poll_quota(&mut self) -> CliResult<()> {
        if self
            .last_rollout
            .is_none_or(|t| t.elapsed() >= Duration::from_secs(5))
        {
            self.last_rollout = Some(Instant::now());
            if crate::quota_watch::enabled(self.project, "rollout") {
                crate::quota_watch::record_rollouts(self.project, &mut self.store);
            }
        }
        let ttl = Duration::from_secs(self.project.config.quota.oauth_ttl_secs.max(1));
        if crate::quota_watch::enabled(self.project, "oauth")
            && self.last_oauth.is_none_or(|t| t.elapsed() >= ttl)
            && !self
                .oauth_busy
                .swap(true, std::sync::atomic::Ordering::SeqCst)
        {
            // A blocking request of up to 5 s: off the loop. Readings land in the store and
            // are fed on a later tick.
            self.last_oauth = Some(Instant::now());
            let root = self.project.root.clone();
            let busy = std::sync::Arc::clone(&self.oauth_busy);
            std::thread::spawn(move || {
                if let Ok(project) = Project::load(&root)
                    && let Ok(mut store) = project.store()
                    && let Err(e) = crate::quota_watch::record_oauth(&project, &mut store, false)
                {
                    eprintln!("warning: {}", e.message);
                }
                busy.store(false, std::sync::atomic::Ordering::SeqCst);
            });
        }
        self.feed_quota()
    }

    /// Feeds the engine each reading it has not seen, with its projection, on its clock.
    ///
    /// Only the readings recorded since the last call are read (this runs on every tick); the
    /// winners are ranked again only when a reading was recorded.
    fn feed_quota(&mut self) -> CliResult<()> {
        let Ok(rows) = self.store.quota_readings_after(self.quota_seen) else {
            return Ok(());
        };
        let mut touched: BTreeSet<(String, String)> = BTreeSet::new();
        for (id, r) in rows {
            self.quota_seen = self.quota_seen.max(id);
            if self.project.config.agent(&r.agent).is_some() {
                touched.insert((r.agent, r.window));
            }
        }
        if touched.is_empty() {
            return Ok(());
        }
        // The engine gets each touched window's winner (the newest data), which may be an
        // older row than the new one: a stale screen value never replaces a newer hook value.
        let new: Vec<_> = touched
            .iter()
            .filter_map(|(agent, window)| self.store.quota_window(agent, window).ok().flatten())
            .collect();
        let critical = f64::from(self.project.config.quota.critical);
        let engine_now = u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX);
        let wall_now = crate::store::now_ms();
        let on_engine_clock = |t: i64| {
            engine_now.saturating_add(u64::try_from(t.saturating_sub(wall_now)).unwrap_or(0))
        };
        for v in crate::quota_watch::views_of(&self.store, critical, new) {
            self.feed(Event::Quota {
                agent: v.reading.agent,
                window: v.reading.window,
                used_percent: v.reading.used_percent,
                resets_at: v.reading.resets_at_ms.map(on_engine_clock),
                burn_per_hour: v.burn_per_hour,
            })?;
        }
        Ok(())
    }

    pub(super) fn on_control(&mut self, ev: ControlEvent) {
        match ev {
            ControlEvent::Output { pane, .. } => {
                if let Some(agent) = self
                    .panes
                    .iter()
                    .find(|(_, (p, _))| *p == pane)
                    .map(|(a, _)| a.clone())
                {
                    self.tmux.output_seen(&pane);
                    self.dirty.insert(agent);
                }
            }
            ControlEvent::WindowClose { window } => {
                if let Some(agent) = self
                    .panes
                    .iter()
                    .find(|(_, (_, w))| *w == window)
                    .map(|(a, _)| a.clone())
                {
                    self.panes.remove(&agent);
                    self.record_state(&agent, AgentStatus::Dead, None);
                    self.journal(
                        Some(&agent),
                        None,
                        JournalAction::AgentDied,
                        "window closed",
                    );
                    let _ = self.feed(Event::AgentDied { agent });
                }
            }
            ControlEvent::Disconnected => {
                self.disconnected.get_or_insert_with(Instant::now);
            }
            ControlEvent::Reconnected => {
                self.disconnected = None;
                self.refresh_panes();
                self.dirty.extend(self.panes.keys().cloned());
            }
            _ => {}
        }
    }

    /// Captures dirty screens (at most every 100 ms per agent; `all` also takes a fallback
    /// look at every agent every 2 s) and feeds the detections.
    pub(super) fn capture_dirty(&mut self, all: bool) -> CliResult<()> {
        let now = Instant::now();
        if all {
            for a in self.panes.keys() {
                if self
                    .last_capture
                    .get(a)
                    .is_none_or(|t| now.duration_since(*t) >= Duration::from_secs(2))
                {
                    self.dirty.insert(a.clone());
                }
            }
        }
        let due: Vec<String> = self
            .dirty
            .iter()
            .filter(|a| {
                self.last_capture
                    .get(*a)
                    .is_none_or(|t| now.duration_since(*t) >= Duration::from_millis(100))
            })
            .cloned()
            .collect();
        // The screens on other hosts read at once (one network round trip per host), then
        // each fed in turn; this machine's, one by one (a read is fast here, and each is then
        // read after what the previous one led baton to type).
        let (remote, local): (Vec<String>, Vec<String>) = due.into_iter().partition(|a| {
            self.panes
                .get(a)
                .is_some_and(|(p, _)| crate::hosts::untag(p).1.is_some())
        });
        for agent in local {
            self.capture(agent, now)?;
        }
        let mut read = Vec::new();
        for agent in remote {
            self.dirty.remove(&agent);
            self.last_capture.insert(agent.clone(), now);
            if let Some((pane, _)) = self.panes.get(&agent).cloned() {
                read.push((agent, pane));
            }
        }
        if read.is_empty() {
            return Ok(());
        }
        let panes: Vec<String> = read.iter().map(|(_, p)| p.clone()).collect();
        let screens = self.tmux.capture_many(&panes);
        self.typed.clear();
        for ((agent, pane), screen) in read.into_iter().zip(screens) {
            // Typed into since the read (by what an earlier screen of this batch led to): the
            // screen read is from before, and is read again.
            if self.typed.contains(&agent) {
                self.dirty.insert(agent);
                continue;
            }
            if let Some(screen) = screen {
                self.feed_screen(agent, pane, screen)?;
            }
        }
        Ok(())
    }

    /// Reads one agent's screen now and feeds the detection.
    fn capture(&mut self, agent: String, now: Instant) -> CliResult<()> {
        self.dirty.remove(&agent);
        self.last_capture.insert(agent.clone(), now);
        let Some((pane, _)) = self.panes.get(&agent).cloned() else {
            return Ok(());
        };
        let Some(screen) = self.tmux.capture(&pane) else {
            return Ok(());
        };
        self.feed_screen(agent, pane, screen)
    }

    /// Detects an agent's screen just read and feeds it (with its quota lines and failed
    /// reports).
    fn feed_screen(&mut self, agent: String, pane: String, screen: String) -> CliResult<()> {
        let Some(cfg) = self.project.config.agent(&agent) else {
            return Ok(());
        };
        let mut detection = detect(&cfg.profile, &screen);
        self.first_start_rule(&agent, &pane, &cfg.profile, &screen, &mut detection);
        // A `baton` call that failed on screen (a report that did not reach baton).
        let failures = baton_core::engine::report_failed::scan(&screen);
        if self.report_lines.get(&agent).copied().unwrap_or(0) != failures.len() {
            self.report_lines.insert(agent.clone(), failures.len());
            self.feed(Event::ReportFailures {
                agent: agent.clone(),
                lines: failures,
            })?;
        }
        let hash = {
            use std::hash::Hash;
            use std::hash::Hasher;
            let mut h = std::collections::hash_map::DefaultHasher::new();
            screen.hash(&mut h);
            h.finish()
        };
        if self.screen_quota
            && crate::quota_watch::record_screen(&mut self.store, &agent, &detection.quota) > 0
        {
            self.feed_quota()?;
        }
        self.record_state(&agent, detection.state.into(), Some(&pane));
        self.feed(Event::Screen {
            agent,
            detection,
            hash,
        })?;
        Ok(())
    }

    /// Applies the first-start rule to one screen of an agent: answers a known dialog (the
    /// agent reads as starting meanwhile), and makes any dialog a person must answer read as
    /// needs-input, telling the person once.
    fn first_start_rule(
        &mut self,
        agent: &str,
        pane: &str,
        profile: &baton_core::Profile,
        screen: &str,
        detection: &mut baton_core::Detection,
    ) {
        let now_ms = u64::try_from(self.started.elapsed().as_millis()).unwrap_or(u64::MAX);
        let entry = self
            .first_start
            .entry(agent.to_owned())
            .or_insert_with(|| (pane.to_owned(), StartWatch::starting()));
        if entry.0 != pane {
            // A new window: a new start.
            *entry = (pane.to_owned(), StartWatch::starting());
        }
        match entry.1.observe(now_ms, profile, screen, detection) {
            Verdict::Clear => {}
            Verdict::Wait => {
                detection.state = AgentState::Starting;
                self.dirty.insert(agent.to_owned());
            }
            Verdict::Answer { dialog, keys } => {
                detection.state = AgentState::Starting;
                let what = format!("{dialog} (keys: {})", keys.join(" "));
                self.typed.insert(agent.to_owned());
                match self.tmux.press_keys(pane, &keys) {
                    Ok(()) => {
                        self.journal(Some(agent), None, JournalAction::FirstStartAnswered, &what)
                    }
                    Err(e) => self.journal(
                        Some(agent),
                        None,
                        JournalAction::FirstStartFailed,
                        &format!("{what}: {}", e.message),
                    ),
                }
                self.dirty.insert(agent.to_owned());
            }
            Verdict::Person { reason, tell } => {
                detection.state = AgentState::NeedsInput;
                if tell {
                    let message = format!("{agent} waits for a person: {reason}");
                    self.journal(Some(agent), None, JournalAction::FirstStartPerson, &reason);
                    self.notify(NoticeKind::NeedsInput, &message);
                    self.journal(None, None, JournalAction::NotifyNeedsInput, &message);
                }
            }
        }
    }

    /// Feeds changes other processes made to the store (CLI, memory file) into the engine.
    pub(super) fn read_store_changes(&mut self) -> CliResult<()> {
        let entries: Vec<JournalEntry> = self.store.journal_since(self.journal_seq, 10_000)?;
        let mut touched = BTreeSet::new();
        let mut turns_ended = Vec::new();
        let mut rearm = false;
        let mut pause = None;
        let mut handoffs = Vec::new();
        for j in &entries {
            self.journal_seq = self.journal_seq.max(j.seq);
            // The agent's CLI said its turn ended (Claude Stop hook, Codex notify).
            match j.action.parse() {
                // The agent's CLI said its turn ended (Claude Stop hook, Codex notify).
                Ok(JournalAction::TurnEnd) if self.project.config.agent(&j.target).is_some() => {
                    turns_ended.push(j.target.clone());
                }
                Ok(JournalAction::RunFollow) => rearm = true,
                Ok(JournalAction::DispatchPause) => pause = Some(true),
                Ok(JournalAction::DispatchResume) => pause = Some(false),
                Ok(JournalAction::HandoffRequest) if j.actor != ACTOR => {
                    handoffs.push((!j.target.is_empty()).then(|| j.target.clone()));
                }
                _ => {}
            }
            if j.actor != ACTOR
                && let Some(t) = j.task
            {
                touched.insert(t);
            }
        }
        for id in touched {
            let Ok(task) = self.store.task(id) else {
                continue;
            };
            if self.engine.task(id).is_some() {
                self.feed(Event::TaskChanged(task))?;
            } else {
                self.feed(Event::TaskAdded(task))?;
            }
        }
        // After the task changes: a turn that ended with `baton task done` is no unreported turn.
        for agent in turns_ended {
            // Its screen first: a report that failed just before the turn ended must be seen.
            self.capture(agent.clone(), Instant::now())?;
            self.feed(Event::TurnEnded { agent })?;
        }
        if let Some(p) = pause {
            self.feed(Event::Pause(p))?;
        }
        for to in handoffs {
            self.feed(Event::HandoffRequested { to })?;
        }
        if rearm {
            self.feed(Event::Rearm)?;
        }
        Ok(())
    }
}
