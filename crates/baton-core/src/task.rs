//! Tasks: IDs, priorities, statuses and the legal transitions between them, and dependency
//! checks. Pure: the store persists tasks, this module says what is allowed.

use std::collections::BTreeMap;
use std::collections::BTreeSet;
use std::fmt;
use std::str::FromStr;

use serde::Deserialize;
use serde::Serialize;

/// A task ID: `T-001`, `T-002`, … (`T-1000` and up once past 999).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct TaskId(pub u32);

impl fmt::Display for TaskId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "T-{:03}", self.0)
    }
}

/// Why a text is not a task ID.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not a task ID (expected T-001, T-002, …)")]
pub struct BadTaskId(pub String);

impl FromStr for TaskId {
    type Err = BadTaskId;

    /// Parses `T-007`, `t-7` or `T7`; the number must be at least 1.
    fn from_str(s: &str) -> Result<TaskId, BadTaskId> {
        let t = s.trim();
        let digits = t
            .strip_prefix("T-")
            .or_else(|| t.strip_prefix("t-"))
            .or_else(|| t.strip_prefix('T'))
            .or_else(|| t.strip_prefix('t'))
            .ok_or_else(|| BadTaskId(s.to_owned()))?;
        if digits.is_empty() || !digits.bytes().all(|b| b.is_ascii_digit()) || digits.len() > 9 {
            return Err(BadTaskId(s.to_owned()));
        }
        match digits.parse::<u32>() {
            Ok(n) if n >= 1 => Ok(TaskId(n)),
            _ => Err(BadTaskId(s.to_owned())),
        }
    }
}

impl Serialize for TaskId {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> Deserialize<'de> for TaskId {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<TaskId, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

/// A task's priority.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub enum Priority {
    /// Done first.
    High,
    /// The default.
    Med,
    /// Done last.
    Low,
}

impl Priority {
    /// Returns the name as shown in tables: HIGH, MED, LOW.
    pub fn as_str(self) -> &'static str {
        match self {
            Priority::High => "HIGH",
            Priority::Med => "MED",
            Priority::Low => "LOW",
        }
    }
}

impl fmt::Display for Priority {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

/// Why a text is not a priority.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not a priority (HIGH, MED or LOW)")]
pub struct BadPriority(pub String);

impl FromStr for Priority {
    type Err = BadPriority;

    /// Parses HIGH/MED/LOW in any case, and MEDIUM, H, M, L, P0–P2.
    fn from_str(s: &str) -> Result<Priority, BadPriority> {
        match s.trim().to_ascii_uppercase().as_str() {
            "HIGH" | "H" | "P0" => Ok(Priority::High),
            "MED" | "MEDIUM" | "M" | "P1" => Ok(Priority::Med),
            "LOW" | "L" | "P2" => Ok(Priority::Low),
            _ => Err(BadPriority(s.to_owned())),
        }
    }
}

/// A task's status.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum Status {
    /// Waiting for an agent.
    Pending,
    /// An agent works on it.
    InProgress,
    /// Its agent ended its turns without reporting it: done or not, nobody said so. It waits
    /// for a review (its dependents too) and becomes COMPLETED only when someone confirms it.
    Unreported,
    /// Done: reported by the agent, or confirmed by a person or the lead.
    Completed,
    /// Cannot go on; the reason says why.
    Blocked,
    /// Dropped.
    Cancelled,
}

impl Status {
    /// Every status, in lifecycle order.
    pub const ALL: [Status; 6] = [
        Status::Pending,
        Status::InProgress,
        Status::Unreported,
        Status::Completed,
        Status::Blocked,
        Status::Cancelled,
    ];

    /// Returns the name as shown in tables: PENDING, IN_PROGRESS, …
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Pending => "PENDING",
            Status::InProgress => "IN_PROGRESS",
            Status::Unreported => "UNREPORTED",
            Status::Completed => "COMPLETED",
            Status::Blocked => "BLOCKED",
            Status::Cancelled => "CANCELLED",
        }
    }

    /// Returns true for COMPLETED and CANCELLED, which never change again.
    pub fn is_final(self) -> bool {
        matches!(self, Status::Completed | Status::Cancelled)
    }

    /// Returns true for PENDING, IN_PROGRESS, UNREPORTED and BLOCKED.
    pub fn is_open(self) -> bool {
        !self.is_final()
    }

    /// Checks a transition; a same-status "transition" is not one (callers treat it as a no-op).
    pub fn check_transition(self, to: Status) -> Result<(), TransitionError> {
        use Status::*;
        let why = match (self, to) {
            (a, b) if a == b => return Ok(()),
            (Pending, InProgress | Blocked | Cancelled) => return Ok(()),
            (InProgress, Pending | Unreported | Completed | Blocked | Cancelled) => return Ok(()),
            (Blocked, Pending | InProgress | Cancelled) => return Ok(()),
            // Confirmed, reopened or dropped after its review.
            (Unreported, Pending | Completed | Cancelled) => return Ok(()),
            (Unreported, _) => {
                "it ended unreported: confirm it (COMPLETED) or reopen it (`baton task reopen`) first"
            }
            (Pending, Completed) => {
                "it was never started: it must be IN_PROGRESS first (`baton task start <ID>`)"
            }
            (Blocked, Completed) => {
                "it is blocked: unblock it first, back to the queue (`baton task requeue <ID>`) or \
                 IN_PROGRESS (`baton task start <ID>`)"
            }
            (Completed, Pending) => {
                "it is COMPLETED: reopen it with `baton task reopen <ID> --reason …`"
            }
            (Completed, _) => "it is already COMPLETED, which is final",
            (Cancelled, _) => "it was CANCELLED, which is final",
            _ => "that transition is not allowed",
        };
        Err(TransitionError {
            from: self,
            to,
            why,
        })
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.pad(self.as_str())
    }
}

/// Why a text is not a status.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("`{0}` is not a status (PENDING, IN_PROGRESS, UNREPORTED, COMPLETED, BLOCKED, CANCELLED)")]
pub struct BadStatus(pub String);

impl FromStr for Status {
    type Err = BadStatus;

    /// Parses a status in any case, with `_`, `-` or a space, and the common synonyms DONE,
    /// TODO, WIP. Emoji prefixes used in hand-kept tables (✅ ⏳ 🔄 ❌ 🚫) are ignored.
    fn from_str(s: &str) -> Result<Status, BadStatus> {
        let cleaned: String = s
            .trim()
            .trim_start_matches(|c: char| !c.is_ascii_alphanumeric())
            .trim()
            .chars()
            .map(|c| {
                if c == '-' || c == ' ' {
                    '_'
                } else {
                    c.to_ascii_uppercase()
                }
            })
            .collect();
        match cleaned.as_str() {
            "PENDING" | "TODO" | "QUEUED" => Ok(Status::Pending),
            "IN_PROGRESS" | "INPROGRESS" | "WIP" | "WORKING" | "STARTED" => Ok(Status::InProgress),
            "UNREPORTED" | "DONE_UNREPORTED" => Ok(Status::Unreported),
            "COMPLETED" | "COMPLETE" | "DONE" => Ok(Status::Completed),
            "BLOCKED" => Ok(Status::Blocked),
            "CANCELLED" | "CANCELED" => Ok(Status::Cancelled),
            _ => Err(BadStatus(s.to_owned())),
        }
    }
}

/// An illegal status change, with the reason.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("cannot go from {from} to {to}: {why}")]
pub struct TransitionError {
    /// The current status.
    pub from: Status,
    /// The status asked for.
    pub to: Status,
    /// Why not.
    pub why: &'static str,
}

/// A task as stored.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Task {
    /// The ID.
    pub id: TaskId,
    /// A one-line title.
    pub title: String,
    /// The full description (may be empty).
    pub body: String,
    /// The priority.
    pub priority: Priority,
    /// Skills an agent needs for it.
    pub skills: Vec<String>,
    /// Tasks that must be COMPLETED first.
    pub deps: Vec<TaskId>,
    /// The agent it is given to (or reserved for, while PENDING).
    pub assignee: Option<String>,
    /// The status.
    pub status: Status,
    /// Why it is BLOCKED.
    pub blocked_reason: Option<String>,
    /// How many times it was started.
    pub attempts: u32,
    /// Notes (the completion note, reviewers' remarks).
    pub notes: Vec<String>,
    /// Creation time, milliseconds since the Unix epoch.
    pub created_ms: i64,
    /// Last change, milliseconds since the Unix epoch.
    pub updated_ms: i64,
    /// For a review task: the UNREPORTED task it reviews.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub review_of: Option<TaskId>,
}

impl Task {
    /// A task as it is first added: PENDING, MED, no body, skills, dependencies or assignee,
    /// never started. The rest is set with struct update syntax.
    pub fn pending(id: TaskId, title: impl Into<String>) -> Task {
        Task {
            id,
            title: title.into(),
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

    /// How many times the task will have been started after it moves to `to`: a move into
    /// IN_PROGRESS from another status is one more start. The store counts with it when it
    /// commits a change, and the engine when it hands a task out ahead of that commit.
    pub fn attempts_after(&self, to: Status) -> u32 {
        self.attempts + u32::from(to == Status::InProgress && self.status != Status::InProgress)
    }
}

/// A task to be created.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewTask {
    /// A one-line title (required, not empty).
    pub title: String,
    /// The description.
    #[serde(default)]
    pub body: String,
    /// The priority (MED when absent).
    #[serde(default)]
    pub priority: Option<Priority>,
    /// Skills.
    #[serde(default)]
    pub skills: Vec<String>,
    /// Dependencies: existing task IDs.
    #[serde(default)]
    pub deps: Vec<TaskId>,
    /// The agent it is reserved for.
    #[serde(default)]
    pub assignee: Option<String>,
}

/// Why a title is not acceptable.
pub fn check_title(title: &str) -> Result<(), String> {
    if title.trim().is_empty() {
        return Err("the title is empty".into());
    }
    if title.contains('\n') || title.contains('\r') {
        return Err("the title must be one line (put details in the body)".into());
    }
    if title.chars().count() > 300 {
        return Err("the title is longer than 300 characters (put details in the body)".into());
    }
    Ok(())
}

/// Why a skill name is not acceptable.
pub fn check_skill(skill: &str) -> Result<(), String> {
    if skill.is_empty()
        || !skill
            .chars()
            .all(|c| c.is_alphanumeric() || c == '-' || c == '_')
    {
        return Err(format!(
            "`{skill}` is not a skill name (letters, digits, - and _)"
        ));
    }
    Ok(())
}

/// Returns a dependency cycle that adding `new_deps` to `task` would close, as the list of IDs
/// along it (`task` first and last), or `None`. `graph` maps each task to its dependencies.
pub fn find_cycle(
    graph: &BTreeMap<TaskId, Vec<TaskId>>,
    task: TaskId,
    new_deps: &[TaskId],
) -> Option<Vec<TaskId>> {
    // A cycle exists if `task` is reachable from one of its new dependencies.
    for &start in new_deps {
        if start == task {
            return Some(vec![task, task]);
        }
        let mut stack = vec![(start, vec![task, start])];
        let mut seen = BTreeSet::new();
        while let Some((node, path)) = stack.pop() {
            if !seen.insert(node) {
                continue;
            }
            for &next in graph.get(&node).map(Vec::as_slice).unwrap_or(&[]) {
                let mut p = path.clone();
                p.push(next);
                if next == task {
                    return Some(p);
                }
                stack.push((next, p));
            }
        }
    }
    None
}

/// Formats a cycle as `T-001 → T-002 → T-001`.
pub fn format_cycle(cycle: &[TaskId]) -> String {
    cycle
        .iter()
        .map(ToString::to_string)
        .collect::<Vec<_>>()
        .join(" → ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_format_and_parse() {
        assert_eq!(TaskId(7).to_string(), "T-007");
        assert_eq!(TaskId(1234).to_string(), "T-1234");
        for s in ["T-007", "t-7", "T7", " T-0007 "] {
            assert_eq!(s.parse::<TaskId>(), Ok(TaskId(7)), "{s}");
        }
        for s in [
            "",
            "T-",
            "T-0",
            "7",
            "T-x",
            "T--1",
            "T-1.5",
            "T-99999999999",
        ] {
            assert!(s.parse::<TaskId>().is_err(), "{s}");
        }
    }

    #[test]
    fn statuses_parse_leniently_but_not_wrongly() {
        assert_eq!("in progress".parse(), Ok(Status::InProgress));
        assert_eq!("✅ COMPLETED".parse(), Ok(Status::Completed));
        assert_eq!("done".parse(), Ok(Status::Completed));
        assert_eq!("Canceled".parse(), Ok(Status::Cancelled));
        assert!("COMPLETD".parse::<Status>().is_err());
        assert!("".parse::<Status>().is_err());
    }

    #[test]
    fn transitions() {
        use Status::*;
        assert!(Pending.check_transition(InProgress).is_ok());
        assert!(InProgress.check_transition(Completed).is_ok());
        assert!(InProgress.check_transition(Pending).is_ok());
        assert!(Blocked.check_transition(Pending).is_ok());
        assert!(Completed.check_transition(Completed).is_ok());
        let e = Pending.check_transition(Completed).unwrap_err();
        assert_eq!(
            e.to_string(),
            "cannot go from PENDING to COMPLETED: it was never started: it must be IN_PROGRESS first (`baton task start <ID>`)"
        );
        let e = Blocked.check_transition(Completed).unwrap_err();
        assert!(e.to_string().contains("`baton task requeue <ID>`"), "{e}");
        assert!(Completed.check_transition(Pending).is_err());
        assert!(Cancelled.check_transition(InProgress).is_err());
    }

    #[test]
    fn cycles_are_found() {
        let mut g = BTreeMap::new();
        g.insert(TaskId(2), vec![TaskId(1)]);
        g.insert(TaskId(3), vec![TaskId(2)]);
        // 1 -> 3 would close 1 -> 3 -> 2 -> 1.
        let c = find_cycle(&g, TaskId(1), &[TaskId(3)]).unwrap();
        assert_eq!(format_cycle(&c), "T-001 → T-003 → T-002 → T-001");
        assert!(find_cycle(&g, TaskId(4), &[TaskId(3)]).is_none());
        assert_eq!(
            find_cycle(&g, TaskId(5), &[TaskId(5)]),
            Some(vec![TaskId(5), TaskId(5)])
        );
    }

    #[test]
    fn priorities() {
        assert_eq!("medium".parse(), Ok(Priority::Med));
        assert_eq!("P0".parse(), Ok(Priority::High));
        assert!(Priority::High < Priority::Low);
        assert!("urgent".parse::<Priority>().is_err());
    }
}
