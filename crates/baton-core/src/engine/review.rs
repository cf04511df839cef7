//! Work that ended without a report: UNREPORTED, and its review.
//!
//! A task whose agent ended two turns without `baton task done` is not COMPLETED: nobody said
//! it is done. It goes UNREPORTED, its dependents wait, and a review task is added — reserved
//! for the lead, or BLOCKED for a person when there is no lead (or the lead did the work). The
//! review shows the agent's last screen lines and the diff of its work; the reviewer confirms
//! the task (`baton task done`, UNREPORTED → COMPLETED) or reopens it (`baton task reopen`,
//! → PENDING). Either closes the review (the store does it, in the same transaction). A review that itself ends unreported gets no review
//! of its own: a person is told.

use super::Action;
use super::Engine;
use crate::task::NewTask;
use crate::task::Status;
use crate::task::Task;
use crate::task::TaskId;
use crate::vocab::NoticeKind;

/// The skill of review tasks.
pub const REVIEW_SKILL: &str = "review";

/// What the shell gathered for a review: the agent's last screen lines and the diff of its
/// work (either may be empty when it could not be read).
pub struct Evidence<'a> {
    /// The agent's last screen lines.
    pub screen: &'a str,
    /// The diff of its work, or a line saying why there is none.
    pub diff: &'a str,
}

/// Returns the review task of `task`, which `agent` ended without a report: for `reviewer`,
/// or for a person when `None`. `baton` is the command that runs baton in the reviewer's
/// shell.
pub fn review_task(
    task: &Task,
    agent: &str,
    reason: &str,
    reviewer: Option<&str>,
    evidence: &Evidence<'_>,
    baton: &str,
) -> NewTask {
    let id = task.id;
    let mut title = format!("Review {id}: {}", task.title);
    if let Some((cut, _)) = title.char_indices().nth(300) {
        title.truncate(cut);
    }
    let who = if reviewer.is_some() {
        "You lead this run"
    } else {
        "No lead can review it"
    };
    let screen = if evidence.screen.trim().is_empty() {
        "(the screen could not be read)".to_owned()
    } else {
        evidence.screen.trim_end().to_owned()
    };
    let body = format!(
        "{id} ({title}) was given to {agent}, and it ended without a report: {reason}. It is \
UNREPORTED, not COMPLETED, and the tasks that depend on it wait. {who}: check whether the work is \
really done (the files, the tests, the criteria of {id}), then decide:\n\
- done: `{baton} task done {id} --note \"<what you checked>\"`\n\
- not done: `{baton} task reopen {id} --reason \"<what is missing>\"` (it goes back to the queue)\n\
Either closes this review.\n\n\
{id}'s description:\n{body}\n\n\
{agent}'s last screen lines:\n```\n{screen}\n```\n\n\
The diff of the work:\n```diff\n{diff}\n```\n",
        title = task.title,
        body = if task.body.trim().is_empty() {
            "(none)"
        } else {
            task.body.trim_end()
        },
        diff = evidence.diff.trim_end(),
    );
    NewTask {
        title,
        body,
        priority: Some(task.priority),
        skills: vec![REVIEW_SKILL.to_owned()],
        deps: Vec::new(),
        assignee: reviewer.map(str::to_owned),
    }
}

/// The reason a person's review task is BLOCKED with.
pub fn for_person(task: TaskId, baton: &str) -> String {
    format!(
        "needs a person: review {task}, then `{baton} task done {task}` or `{baton} task reopen {task} --reason …`"
    )
}

impl Engine {
    /// `agent` ended its turns on `task` without reporting it: UNREPORTED, with a review.
    pub(super) fn went_unreported(&mut self, agent: &str, task: TaskId, out: &mut Vec<Action>) {
        let is_review = self
            .tasks
            .get(&task)
            .is_some_and(|t| t.task.review_of.is_some());
        // The lead reviews, unless it did the work itself: then a person does.
        let reviewer = self
            .lead()
            .filter(|l| *l != agent && self.agents.contains_key(*l))
            .map(str::to_owned);
        if !is_review {
            // The review comes back as `TaskAdded`: the run is not over before it did.
            self.adds_due += 1;
        }
        out.push(Action::MarkUnreported {
            task,
            agent: agent.to_owned(),
            reason: format!("{agent} ended two turns without reporting it"),
            review: !is_review,
            reviewer: reviewer.filter(|_| !is_review),
        });
        if is_review {
            out.push(Action::Notify {
                kind: NoticeKind::TaskBlocked,
                message: format!(
                    "the review {task} ended without a decision from {agent}: a person must review it"
                ),
            });
        }
        self.queue_merge(task, out);
        self.set_status(task, Status::Unreported);
    }

    /// `id` went from `was` to `now`: a review reported done while its task is still
    /// UNREPORTED tells a person. (A task leaving UNREPORTED closes its reviews in the store,
    /// in the same transaction, whoever changed it and whether or not a daemon runs.)
    pub(super) fn review_settled(
        &mut self,
        id: TaskId,
        was: Status,
        now: Status,
        out: &mut Vec<Action>,
    ) {
        if now == Status::Completed
            && was != Status::Completed
            && let Some(of) = self.tasks.get(&id).and_then(|t| t.task.review_of)
            && self
                .tasks
                .get(&of)
                .is_some_and(|t| t.task.status == Status::Unreported)
        {
            out.push(Action::Notify {
                kind: NoticeKind::TaskBlocked,
                message: format!(
                    "the review {id} was reported done but {of} is still UNREPORTED: confirm it (`baton task done {of}`) or reopen it (`baton task reopen {of} --reason …`)"
                ),
            });
        }
    }
}
