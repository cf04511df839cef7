//! A report that did not reach baton: the agent ran `baton task done …` but its shell did not
//! find baton (a CLI that runs commands in a login shell, whose profile resets PATH), or baton
//! itself refused. Left alone, the agent ends its turn and the turn would count as silence
//! (a nudge, then "completed for review"). Instead the failure is journaled and, when the turn
//! ends, the agent is told the exact command to run, with baton's absolute path.
//!
//! [`scan`] finds such lines on a screen (pure); the shell feeds them to the engine as
//! `Event::ReportFailures` each time it reads the screen. A failure is new when the screen
//! shows more failure lines than at the last read (old ones stay visible for a while).

use super::Action;
use super::Engine;
use super::TaskId;

/// Answers given for one task at most; past them its turns count as silent again.
const MAX_ANSWERS: u32 = 2;

/// What a shell prints when it cannot run baton (bash, zsh, dash, a missing file).
const NOT_FOUND: &[&str] = &[
    "baton: command not found",
    "command not found: baton",
    "baton: not found",
    "baton: No such file or directory",
    "baton: Permission denied",
];

/// Lines above an `error:` line searched for the baton command that printed it.
const OUTPUT_LINES: usize = 6;

/// Returns the lines of `screen` that show a failed `baton` call, top to bottom: a shell that
/// did not find baton, or baton's own `error: …` printed under a `baton task done|block`
/// command (in the same block of lines: a blank line ends a command's output).
pub fn scan(screen: &str) -> Vec<String> {
    let lines: Vec<&str> = screen.lines().collect();
    let mut out = Vec::new();
    for (i, line) in lines.iter().enumerate() {
        let failed = NOT_FOUND
            .iter()
            .any(|p| find_word(line, p, p.starts_with("baton")))
            || (strip_glyphs(line).starts_with("error:") && under_report(&lines[..i]));
        if failed {
            out.push(line.trim().to_owned());
        }
    }
    out
}

/// Whether `line` holds `pattern`, and (when it starts with the word baton) not as the end
/// of a longer word (`rebaton: …`).
fn find_word(line: &str, pattern: &str, word_start: bool) -> bool {
    line.match_indices(pattern).any(|(at, _)| {
        !word_start
            || !line[..at]
                .chars()
                .next_back()
                .is_some_and(|c| c.is_alphanumeric() || c == '_' || c == '-')
    })
}

/// The line without the tree and bullet glyphs CLIs draw before a command's output.
fn strip_glyphs(line: &str) -> &str {
    line.trim_start_matches(|c: char| c.is_whitespace() || "└⎿│├╰●•›$>".contains(c))
}

/// Whether the block of lines just above (up to a blank line) runs `baton task done|block`.
fn under_report(above: &[&str]) -> bool {
    above
        .iter()
        .rev()
        .take(OUTPUT_LINES)
        .take_while(|l| !l.trim().is_empty())
        .any(|l| l.contains("baton") && (l.contains("task done") || l.contains("task block")))
}

/// Failed reports seen on one agent's screen.
#[derive(Clone, Debug, Default)]
pub(super) struct ReportRt {
    /// Failure lines on the screen at the last read.
    seen: usize,
    /// The task whose failed report is answered when the turn ends.
    pending: Option<TaskId>,
    /// Answers given so far, for this task.
    answers: Option<(TaskId, u32)>,
}

impl ReportRt {
    fn answers_for(&self, task: TaskId) -> u32 {
        match self.answers {
            Some((t, n)) if t == task => n,
            _ => 0,
        }
    }
}

impl Engine {
    /// The failure lines now on an agent's screen: a new one is journaled and, when the agent
    /// holds a task, answered at the end of its turn.
    pub(super) fn report_failures(
        &mut self,
        agent: &str,
        lines: Vec<String>,
        out: &mut Vec<Action>,
    ) {
        let Some(a) = self.agents.get(agent) else {
            return;
        };
        let task = a.tasks.first().copied();
        let rt = self.reports.entry(agent.to_owned()).or_default();
        let new = lines.len() > rt.seen;
        rt.seen = lines.len();
        if !new {
            return;
        }
        out.push(Action::ReportFailed {
            agent: agent.to_owned(),
            task,
            line: lines.last().cloned().unwrap_or_default(),
        });
        if let Some(task) = task
            && rt.answers_for(task) < MAX_ANSWERS
        {
            rt.pending = Some(task);
        }
    }

    /// At the end of a turn on `task`: when its report failed, sends the command to run with
    /// baton's absolute path and returns true (the turn is not counted as unreported).
    pub(super) fn answer_failed_report(
        &mut self,
        now: u64,
        agent: &str,
        task: TaskId,
        out: &mut Vec<Action>,
    ) -> bool {
        let Some(rt) = self.reports.get_mut(agent) else {
            return false;
        };
        if rt.pending.take() != Some(task) {
            return false;
        }
        let n = rt.answers_for(task) + 1;
        rt.answers = Some((task, n));
        let text = self
            .settings
            .texts
            .report_failed
            .replace("{id}", &task.to_string())
            .replace("{path}", &self.settings.baton_path);
        self.send(now, agent, task, text, true, out);
        out.push(Action::Journal {
            agent: Some(agent.to_owned()),
            task: Some(task),
            what: format!("the report of {task} failed: told the command with baton's full path"),
        });
        true
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detector::Detection;
    use crate::engine::AgentSpec;
    use crate::engine::Event;
    use crate::engine::Key;
    use crate::engine::Settings;
    use crate::engine::prompt;
    use crate::profile::AgentState;
    use crate::profile::Submit;
    use crate::task::Priority;
    use crate::task::Status;
    use crate::task::Task;

    fn screen(state: AgentState, input: Option<&str>, hash: u64) -> Event {
        Event::Screen {
            agent: "a".into(),
            detection: Detection {
                state,
                evidence: Vec::new(),
                input: input.map(str::to_owned),
                quota: Vec::new(),
            },
            hash,
        }
    }

    fn task(id: u32) -> Task {
        Task {
            id: TaskId(id),
            title: format!("task {id}"),
            body: String::new(),
            priority: Priority::Med,
            skills: Vec::new(),
            deps: Vec::new(),
            assignee: None,
            status: Status::Pending,
            blocked_reason: None,
            attempts: 0,
            notes: Vec::new(),
            created_ms: 0,
            updated_ms: 0,
            review_of: None,
        }
    }

    /// An engine with one idle agent `a` that was just given T-001; returns the prompt.
    fn given_a_task(settings: Settings) -> (Engine, String) {
        let agent = AgentSpec {
            name: "a".into(),
            skills: Vec::new(),
            max_tasks: 1,
            submit: Submit::default(),
            worktree: None,
        };
        let mut e = Engine::new(settings, vec![agent]);
        e.step(0, Event::AgentUp { agent: "a".into() });
        e.step(0, screen(AgentState::Idle, None, 1));
        let acts = e.step(1, Event::TaskAdded(task(1)));
        let prompt = pasted(&acts).pop().expect("a prompt");
        deliver(&mut e, 10, 100);
        (e, prompt)
    }

    /// Delivers what was just pasted: the box shows it, Enter, the agent works.
    fn deliver(e: &mut Engine, now: u64, hash: u64) {
        let shown = Some("[Pasted text #1 +12 lines]");
        let acts = e.step(now, screen(AgentState::Idle, shown, hash));
        assert!(
            acts.contains(&Action::Press {
                agent: "a".into(),
                key: Key::Enter
            }),
            "{acts:?}"
        );
        e.step(now + 50, screen(AgentState::Working, None, hash + 1));
    }

    /// A turn's end as the daemon feeds it: the screen it read first (the turn over), then
    /// the hook's event.
    fn turn_end(e: &mut Engine, now: u64) -> Vec<Action> {
        let mut acts = e.step(now, screen(AgentState::Finished, None, 7_000_000 + now));
        acts.extend(e.step(now, Event::TurnEnded { agent: "a".into() }));
        acts
    }

    fn pasted(acts: &[Action]) -> Vec<String> {
        acts.iter()
            .filter_map(|a| match a {
                Action::Paste { text, .. } => Some(text.clone()),
                _ => None,
            })
            .collect()
    }

    fn failures(lines: &[&str]) -> Event {
        Event::ReportFailures {
            agent: "a".into(),
            lines: lines.iter().map(|l| (*l).to_owned()).collect(),
        }
    }

    fn settings(cmd: &str) -> Settings {
        Settings {
            baton_cmd: cmd.into(),
            baton_path: "'/opt/my tools/baton'".into(),
            ..Settings::default()
        }
    }

    #[test]
    fn prompts_nudges_and_the_takeover_name_baton_as_told() {
        for lang in ["en", "fr"] {
            let mut s = settings("'/opt/my tools/baton'");
            s.template = prompt::builtin(lang).unwrap().to_owned();
            s.texts = prompt::Texts::for_language(lang);
            let (mut e, prompt) = given_a_task(s);
            assert!(
                prompt.contains(": '/opt/my tools/baton' task done T-001 --note"),
                "{prompt}"
            );
            assert!(prompt.contains(": '/opt/my tools/baton' task block T-001 --reason"));
            assert!(!prompt.contains("{baton}"), "{prompt}");
            let texts = &e.settings.texts;
            for t in [&texts.nudge, &texts.reminder, &texts.takeover] {
                assert!(t.contains("'/opt/my tools/baton' "), "{t}");
                assert!(!t.contains("{baton}") && !t.contains(" baton task"), "{t}");
            }
            // The nudge after a silent turn.
            e.step(2000, screen(AgentState::Finished, None, 300));
            let acts = e.step(2000 + 1600, Event::Tick);
            let nudge = pasted(&acts).pop().expect("a nudge");
            assert!(
                nudge.contains("'/opt/my tools/baton' task done T-001"),
                "{nudge}"
            );
        }
        // By default (baton found on the login shell's PATH): plain `baton`.
        let (_, prompt) = given_a_task(Settings::default());
        assert!(
            prompt.contains("Run: baton task done T-001 --note"),
            "{prompt}"
        );
    }

    #[test]
    fn a_failed_report_is_journaled_and_answered_instead_of_counted() {
        let (mut e, _) = given_a_task(settings("baton"));
        let line = "└ bash: line 1: baton: command not found";
        let acts = e.step(500, failures(&[line]));
        assert!(
            acts.contains(&Action::ReportFailed {
                agent: "a".into(),
                task: Some(TaskId(1)),
                line: line.into(),
            }),
            "{acts:?}"
        );
        // The same line read again is not a new failure.
        let acts = e.step(600, failures(&[line]));
        assert!(
            !acts
                .iter()
                .any(|a| matches!(a, Action::ReportFailed { .. })),
            "{acts:?}"
        );
        // The turn ends: the answer (baton's full path), no nudge, nothing for review.
        let acts = turn_end(&mut e, 700);
        let sent = pasted(&acts);
        assert_eq!(sent.len(), 1, "{acts:?}");
        assert!(
            sent[0].contains("'/opt/my tools/baton' task done T-001 --note"),
            "{}",
            sent[0]
        );
        assert!(
            !sent[0].contains("not reported. If"),
            "a nudge: {}",
            sent[0]
        );
        assert_eq!(
            scan(&sent[0]),
            Vec::<String>::new(),
            "the answer must not match"
        );
        assert!(
            !acts
                .iter()
                .any(|a| matches!(a, Action::MarkUnreported { .. })),
            "{acts:?}"
        );
        deliver(&mut e, 800, 900);
        // The agent reports with the full path: the task is done, nothing else happens.
        let mut t = e.task(TaskId(1)).unwrap().clone();
        t.status = Status::Completed;
        let acts = e.step(1000, Event::TaskChanged(t));
        let acts2 = turn_end(&mut e, 1100);
        assert!(
            !acts
                .iter()
                .chain(&acts2)
                .any(|a| matches!(a, Action::MarkUnreported { .. } | Action::Paste { .. })),
            "{acts:?} {acts2:?}"
        );
    }

    #[test]
    fn after_the_answer_a_silent_turn_counts_again() {
        let (mut e, _) = given_a_task(settings("baton"));
        e.step(500, failures(&["zsh: command not found: baton"]));
        let acts = turn_end(&mut e, 700);
        assert_eq!(pasted(&acts).len(), 1, "{acts:?}");
        deliver(&mut e, 800, 900);
        // The answer's turn ends silently: the usual nudge, then review.
        let acts = turn_end(&mut e, 1000);
        assert!(
            pasted(&acts)
                .iter()
                .any(|p| p.contains("T-001 is not reported")),
            "{acts:?}"
        );
        deliver(&mut e, 1100, 1200);
        let acts = turn_end(&mut e, 1300);
        assert!(
            acts.iter()
                .any(|a| matches!(a, Action::MarkUnreported { .. })),
            "{acts:?}"
        );
    }

    #[test]
    fn a_new_failure_after_old_ones_scrolled_off_counts() {
        let (mut e, _) = given_a_task(settings("baton"));
        let l = "bash: baton: command not found";
        let n = |acts: &[Action]| {
            acts.iter()
                .filter(|a| matches!(a, Action::ReportFailed { .. }))
                .count()
        };
        assert_eq!(n(&e.step(100, failures(&[l]))), 1);
        assert_eq!(n(&e.step(200, failures(&[l, l]))), 1);
        assert_eq!(n(&e.step(300, failures(&[]))), 0);
        assert_eq!(n(&e.step(400, failures(&[l]))), 1);
    }

    #[test]
    fn scan_finds_failed_baton_calls() {
        let screens = [
            // Codex 0.169.0 (bash -lc), as the conformance tier saw it.
            "• Ran baton task done T-001 --note naive\n  └ /bin/bash: line 1: baton: command not found\n",
            "zsh:1: command not found: baton\n",
            "sh: 1: baton: not found\n",
            "/bin/bash: line 1: /tmp/gone/baton: No such file or directory\n",
            // baton's own error under the report.
            "• Ran '/opt/b/baton' task done T-009\n  └ error: unknown task T-009\n",
            "● Bash(baton task block T-002 --reason \"x\")\n  ⎿  Error: Exit code 1\n     error: the store is locked\n",
        ];
        for s in screens {
            assert_eq!(scan(s).len(), 1, "{s}");
        }
        let fine = [
            // The prompt itself, a nudge, the answer.
            "Run: baton task done T-001 --note \"<one line>\"\nIf you cannot finish, run: baton task block T-001 --reason \"<why>\"\n",
            "Your turn ended but T-001 is not reported. If it is done, run: baton task done T-001 --note \"…\".\n",
            // An error of another command, after a report that worked.
            "• Ran baton task done T-001\n  └ T-001 COMPLETED\n\n• Ran cargo build\n  └ error: could not compile\n",
            "rebaton: command not found\n",
            "error: no baton here\n",
        ];
        for s in fine {
            assert_eq!(scan(s), Vec::<String>::new(), "{s}");
        }
        assert_eq!(
            scan("x\n  └ bash: line 1: baton: command not found\n"),
            vec!["└ bash: line 1: baton: command not found".to_owned()]
        );
    }
}
