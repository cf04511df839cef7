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
            .texts_of(agent)
            .report_failed
            .replace("{id}", &task.to_string())
            .replace("{path}", self.baton_path_of(agent));
        self.send(now, agent, task, text, true, out);
        out.push(Action::Journal {
            agent: Some(agent.to_owned()),
            task: Some(task),
            what: format!("the report of {task} failed: told the command with baton's full path"),
        });
        true
    }
}
