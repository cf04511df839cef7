//! The actions carried out: each engine [`Action`] committed to the store, then to tmux.

use std::collections::BTreeSet;
use std::collections::VecDeque;

use baton_core::engine::Action;
use baton_core::engine::Event;
use baton_core::engine::Key;
use baton_core::engine::TaskPurpose;
use baton_core::task::Status;
use baton_core::task::TaskId;
use baton_core::vocab::JournalAction;
use baton_core::vocab::NoticeKind;

use crate::error::CliResult;
use crate::store::JournalEntry;
use crate::store::StatusChange;

use super::ACTOR;
use super::Shell;
use super::Wake;

impl Shell<'_> {
    fn set_status(
        &mut self,
        task: TaskId,
        to: Status,
        change: StatusChange,
        journal: &mut Vec<JournalEntry>,
    ) -> bool {
        match self.store.set_status(task, to, ACTOR, change) {
            Ok(crate::store::Outcome::Changed(_, entries)) => {
                journal.extend(entries);
                true
            }
            Ok(crate::store::Outcome::Unchanged(_)) => true,
            Err(e) => {
                eprintln!("warning: {e}");
                false
            }
        }
    }

    /// A task ended without a report: UNREPORTED and, with `review`, its review task (the
    /// agent's last screen lines and the diff of its work in it), in one transaction.
    #[allow(clippy::too_many_arguments)]
    fn mark_unreported(
        &mut self,
        task: TaskId,
        agent: &str,
        reason: &str,
        review: bool,
        reviewer: Option<String>,
        queue: &mut VecDeque<Event>,
        journal: &mut Vec<JournalEntry>,
    ) {
        let note = format!("UNREPORTED: {reason}");
        // Named as in every prompt: by its absolute path when a login shell would not find it.
        let baton = crate::baton_cmd::lookup().command();
        let made = match (review, self.store.task(task)) {
            (true, Ok(t)) => {
                let screen = self.last_lines(agent, 40);
                let isolated = self
                    .project
                    .config
                    .agent(agent)
                    .is_some_and(|a| a.isolation == baton_core::config::Isolation::Worktree);
                let integration = self.integration.as_deref().filter(|_| isolated);
                let diff = crate::review::diff_of_work(&self.project.root, integration, agent);
                let evidence = baton_core::engine::review::Evidence {
                    screen: &screen,
                    diff: &diff,
                };
                let new = baton_core::engine::review::review_task(
                    &t,
                    agent,
                    reason,
                    reviewer.as_deref(),
                    &evidence,
                    &baton,
                );
                let person = reviewer
                    .is_none()
                    .then(|| baton_core::engine::review::for_person(task, &baton));
                self.store
                    .mark_unreported(task, ACTOR, &note, Some((&new, person.as_deref())))
            }
            _ => self.store.mark_unreported(task, ACTOR, &note, None),
        };
        match made {
            Ok((_, review_task, entries)) => {
                journal.extend(entries);
                if let Some(r) = review_task {
                    let who = reviewer.as_deref().unwrap_or("a person");
                    self.journal(
                        None,
                        Some(r.id),
                        JournalAction::TaskCreated,
                        &format!("review of {task} ({reason}), for {who}"),
                    );
                    if reviewer.is_none() {
                        self.notify(
                            NoticeKind::TaskBlocked,
                            &format!(
                                "{task} ended unreported: {} waits for a person to review it",
                                r.id
                            ),
                        );
                    }
                    queue.push_back(Event::TaskAdded(r));
                }
            }
            Err(e) => {
                eprintln!("warning: {task}: cannot mark it UNREPORTED: {e}");
                // The engine is told the store's truth.
                if let Ok(t) = self.store.task(task) {
                    queue.push_back(Event::TaskChanged(t));
                }
            }
        }
    }

    /// The last `n` non-empty lines of an agent's screen (empty when it cannot be read).
    fn last_lines(&self, agent: &str, n: usize) -> String {
        let Some((pane, _)) = self.panes.get(agent) else {
            return String::new();
        };
        let screen = self.tmux.capture(pane).unwrap_or_default();
        let lines: Vec<&str> = screen.trim_end().lines().collect();
        lines[lines.len().saturating_sub(n)..].join("\n")
    }

    pub(super) fn act(
        &mut self,
        action: Action,
        queue: &mut VecDeque<Event>,
        skip_paste: &mut BTreeSet<String>,
        journal: &mut Vec<JournalEntry>,
    ) -> CliResult<()> {
        match action {
            Action::Assign { task, agent } => {
                let change = StatusChange {
                    assignee: Some(agent.clone()),
                    ..StatusChange::default()
                };
                // Given back to the agent that had it: what it left uncommitted is this task's.
                let had_it = self
                    .store
                    .task(task)
                    .is_ok_and(|t| t.attempts > 0 && t.assignee.as_deref() == Some(agent.as_str()));
                if !self.set_status(task, Status::InProgress, change, journal) {
                    // The store disagrees (changed meanwhile): tell the engine the truth.
                    skip_paste.insert(agent);
                    if let Ok(t) = self.store.task(task) {
                        queue.push_back(Event::TaskChanged(t));
                    }
                } else if let Some(integration) = self.integration.clone()
                    && self
                        .project
                        .config
                        .agent(&agent)
                        .is_some_and(|a| a.isolation == baton_core::config::Isolation::Worktree)
                {
                    // It starts from everyone's merged work (a conflict fix: at the conflict).
                    let has = |skill: &str| {
                        self.engine
                            .task(task)
                            .is_some_and(|t| t.skills.iter().any(|s| s == skill))
                    };
                    let how = crate::worktrees::SyncFor {
                        keep_conflict: has(baton_core::engine::CONFLICT_SKILL),
                        keep_work: had_it || has(baton_core::engine::MERGE_SKILL),
                    };
                    if let Some(line) =
                        crate::worktrees::sync_for_task(self.project, &agent, &integration, how)
                    {
                        self.journal(Some(&agent), Some(task), JournalAction::Worktree, &line);
                    }
                }
            }
            Action::Paste { agent, text } => {
                if skip_paste.remove(&agent) {
                    return Ok(());
                }
                self.typed.insert(agent.clone());
                if let Some((pane, _)) = self.panes.get(&agent).cloned()
                    && let Err(e) = self.tmux.paste(&pane, &text)
                {
                    self.journal(Some(&agent), None, JournalAction::PasteFailed, &e);
                }
            }
            Action::Press { agent, key } => {
                self.typed.insert(agent.clone());
                if let Some((pane, _)) = self.panes.get(&agent).cloned() {
                    let key = match key {
                        Key::Enter => baton_tmux::Key::Enter,
                        Key::CtrlC => baton_tmux::Key::CtrlC,
                        Key::Escape => baton_tmux::Key::Escape,
                    };
                    let _ = self.tmux.send_key(&pane, key);
                }
            }
            Action::Requeue { task, reason } => {
                let change = StatusChange {
                    note: Some(reason),
                    ..StatusChange::default()
                };
                self.set_status(task, Status::Pending, change, journal);
            }
            Action::NeedsHuman { task, reason } => {
                let change = StatusChange {
                    reason: Some(format!("needs a person: {reason}")),
                    ..StatusChange::default()
                };
                self.set_status(task, Status::Blocked, change, journal);
            }
            Action::MarkUnreported {
                task,
                agent,
                reason,
                review,
                reviewer,
            } => self.mark_unreported(task, &agent, &reason, review, reviewer, queue, journal),
            Action::AddTask {
                task,
                purpose,
                reason,
            } => {
                // A merge's fix task: committed with the merge's outcome, all or nothing.
                let due = match purpose {
                    TaskPurpose::MergeFix { of } => self.merge_due.iter().position(|m| {
                        m.merge.task == of
                            && task.assignee.as_deref() == Some(m.merge.agent.as_str())
                    }),
                    TaskPurpose::Test { .. } | TaskPurpose::VerifyFix { .. } => None,
                };
                let added = match due {
                    Some(i) => {
                        let m = self.merge_due.remove(i);
                        let added = self.store.add_fix_for_merge(&task, ACTOR, &m);
                        if added.is_err() {
                            // The outcome is still recorded (after the step), without its fix.
                            self.merge_due.push(m);
                        }
                        added
                    }
                    None => self.store.add_tasks(std::slice::from_ref(&task), ACTOR),
                };
                match added {
                    Ok((tasks, entries)) => {
                        journal.extend(entries);
                        for t in tasks {
                            self.journal(None, Some(t.id), JournalAction::TaskCreated, &reason);
                            queue.push_back(Event::TaskAdded(t));
                        }
                    }
                    Err(e) => eprintln!("warning: cannot add a task ({reason}): {e}"),
                }
            }
            Action::RunVerify { wave, commands } => self.run_verify(wave, commands),
            Action::VerifyDone { passed, .. } => {
                if let Err(e) = self.store.set_last_verify(passed) {
                    eprintln!("warning: cannot keep the verify result: {e}");
                }
            }
            Action::QueueMerge { task, agent } => self.queue_merge(task, &agent, queue)?,
            Action::StartAgent { agent } => {
                // Every window missing or dead is started (as `baton up` would), quietly.
                let started =
                    crate::windows::start(&*self.tmux, self.project, &mut self.store, &mut drop);
                if started.is_ok() {
                    self.refresh_panes();
                }
                // An agent whose host cannot be reached now is not started: its host's return
                // starts it.
                if started.is_ok() && self.panes.contains_key(&agent) {
                    // A new start: its first-start dialogs are answered again.
                    self.first_start.remove(&agent);
                    self.journal(
                        Some(&agent),
                        None,
                        JournalAction::AgentRestart,
                        "started again",
                    );
                    queue.push_back(Event::AgentUp {
                        agent: agent.clone(),
                    });
                    self.dirty.insert(agent);
                }
            }
            Action::Notify { kind, message } => {
                self.notify(kind, &message);
                self.journal(None, None, kind.journal_action(), &message);
            }
            Action::Journal { agent, task, what } => {
                self.journal(agent.as_deref(), task, JournalAction::Engine, &what)
            }
            Action::ReportFailed { agent, task, line } => {
                self.journal(Some(&agent), task, JournalAction::ReportFailed, &line)
            }
            Action::Lead {
                snapshot,
                what,
                detail,
                handoff,
            } => {
                if let Err(e) = self.store.set_lead(&snapshot) {
                    eprintln!("warning: cannot record the lead: {e}");
                }
                // The entry names whom it concerns: the successor while one takes over.
                let target = match &snapshot.phase {
                    baton_core::engine::LeadPhase::Takeover { to, .. } => to.clone(),
                    _ => snapshot.lead.clone().unwrap_or_default(),
                };
                match handoff.map(|h| serde_json::to_string(&h)) {
                    Some(Ok(data)) => {
                        self.journal_with(Some(&target), None, what, &detail, &data);
                    }
                    _ => self.journal(Some(&target), None, what, &detail),
                }
            }
            Action::WriteHandoff { from, to, reason } => {
                match crate::handoff::write(self.project, &self.store, &from, &to, &reason) {
                    Ok(path) => {
                        let name = path
                            .file_name()
                            .map(|n| n.to_string_lossy().into_owned())
                            .unwrap_or_default();
                        self.journal(
                            Some(&to),
                            None,
                            JournalAction::HandoffDocument,
                            &format!("{name} written for {to}"),
                        );
                        queue.push_back(Event::HandoffWritten { to });
                    }
                    Err(e) => {
                        self.journal(
                            Some(&to),
                            None,
                            JournalAction::HandoffFailed,
                            &format!("cannot write the handoff document: {}", e.message),
                        );
                    }
                }
            }
            Action::Finished { summary } => {
                // The report lists every merge: the outcomes of this step too.
                self.flush_merges();
                self.notify(NoticeKind::RunFinished, &summary);
                self.journal(None, None, JournalAction::RunFinished, &summary);
                if let Err(e) = crate::report::write(self.project, &self.store, &summary) {
                    eprintln!("warning: REPORT.md: {}", e.message);
                }
                self.finished = Some(summary);
            }
        }
        Ok(())
    }

    fn run_verify(&mut self, wave: u64, commands: Vec<String>) {
        let root = self.project.root.clone();
        let tx = self.wake_tx.clone();
        self.journal(
            None,
            None,
            JournalAction::VerifyStart,
            &format!("wave {wave}: {}", commands.join(" && ")),
        );
        std::thread::spawn(move || {
            let dir = root.join(".baton").join("verify");
            for (i, command) in commands.into_iter().enumerate() {
                let (ok, excerpt) = crate::verify::run_check(
                    &command,
                    &root,
                    &dir.join(format!("wave-{wave}-{i}.log")),
                    None,
                    &[],
                );
                if tx
                    .send(Wake::Verify {
                        wave,
                        command,
                        ok,
                        excerpt,
                    })
                    .is_err()
                {
                    return;
                }
            }
        });
    }
}
