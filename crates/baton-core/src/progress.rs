//! The progress line `baton run` and the daemon print while a run goes on:
//! `[baton   12s] 3/5 done, 1 blocked · claude T-004 · codex idle`.

use std::collections::BTreeMap;

use crate::task::Status;

/// Returns the line's text after its time stamp: tasks done of all, then (when not zero) how
/// many ended unreported, are blocked and wait to be merged, then each agent's part.
pub fn line(counts: &BTreeMap<Status, u64>, merging: usize, agents: &[String]) -> String {
    let n = |s: Status| counts.get(&s).copied().unwrap_or(0);
    let total: u64 = counts.values().sum();
    let mut text = format!("{}/{total} done", n(Status::Completed));
    for (count, what) in [
        (n(Status::Unreported), "unreported"),
        (n(Status::Blocked), "blocked"),
        (merging as u64, "to merge"),
    ] {
        if count > 0 {
            text.push_str(&format!(", {count} {what}"));
        }
    }
    format!("{text} · {}", agents.join(" · "))
}

/// Returns the line with its time stamp: seconds since the run started.
pub fn stamped(elapsed_secs: u64, line: &str) -> String {
    format!("[baton {elapsed_secs:>4}s] {line}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_counts_above_zero_are_shown() {
        let counts = BTreeMap::from([
            (Status::Completed, 3),
            (Status::Blocked, 1),
            (Status::Pending, 1),
        ]);
        let agents = ["claude T-004".to_owned(), "codex idle".to_owned()];
        assert_eq!(
            line(&counts, 0, &agents),
            "3/5 done, 1 blocked · claude T-004 · codex idle"
        );
        let counts = BTreeMap::from([(Status::Unreported, 2)]);
        assert_eq!(
            line(&counts, 1, &["a down".to_owned()]),
            "0/2 done, 2 unreported, 1 to merge · a down"
        );
        assert_eq!(stamped(12, "x"), "[baton   12s] x");
    }
}
