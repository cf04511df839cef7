//! What a review of unreported work shows: the diff of the agent's work, gathered by the
//! shell for `baton_core::engine::review`.

use std::path::Path;

use crate::git;
use crate::worktrees;

/// The diff is cut after this many lines (the review says how many were left out).
const MAX_LINES: usize = 300;

/// Returns the diff of `agent`'s work: in its worktree, against the integration branch's
/// merge base (uncommitted and untracked files included); in the shared checkout, the
/// checkout's changes against HEAD (every agent's, since they share it). Files that look like
/// secrets are left out by name. Never fails: when there is no diff, a line says why.
/// `integration` is the integration branch when the agent has a worktree of its own.
pub fn diff_of_work(root: &Path, integration: Option<&str>, agent: &str) -> String {
    let (dir, against, what) = if let Some(branch) = integration {
        (
            worktrees::worktree_path(root, agent),
            format!("refs/heads/{branch}"),
            format!("{agent}'s worktree against {branch}"),
        )
    } else {
        if git::toplevel(root).is_none() {
            return "(no diff: the project is not a git repository)".to_owned();
        }
        (
            root.to_owned(),
            "HEAD".to_owned(),
            "the shared checkout against HEAD: every agent's uncommitted changes".to_owned(),
        )
    };
    match git::diff_against(&dir, &against) {
        Ok(text) if text.trim().is_empty() => format!("(no change in {what})"),
        Ok(text) => format!("# {what}\n{}", bounded(&without_secrets(&text))),
        Err(e) => format!("(no diff of {what}: {e})"),
    }
}

/// Drops the sections of files whose names look like secrets, and names them instead.
fn without_secrets(diff: &str) -> String {
    let mut out = String::new();
    let mut skipping = false;
    for line in diff.split_inclusive('\n') {
        if let Some(rest) = line.strip_prefix("diff --git ") {
            let path = rest.split(" b/").last().unwrap_or(rest).trim();
            skipping = git::looks_secret(path);
            if skipping {
                out.push_str(&format!("(left out: {path} looks like it holds secrets)\n"));
            }
        } else if let Some(file) = line.strip_prefix("new file (untracked): ") {
            skipping = false;
            if git::looks_secret(file.trim()) {
                out.push_str(&format!(
                    "(left out: {} looks like it holds secrets)\n",
                    file.trim()
                ));
                continue;
            }
        }
        if !skipping {
            out.push_str(line);
        }
    }
    out
}

/// The first `MAX_LINES` lines, and how many more there were.
fn bounded(text: &str) -> String {
    let lines: Vec<&str> = text.lines().collect();
    if lines.len() <= MAX_LINES {
        return text.to_owned();
    }
    format!(
        "{}\n… {} more lines (see the files themselves)",
        lines[..MAX_LINES].join("\n"),
        lines.len() - MAX_LINES
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn secret_files_are_left_out_of_a_diff_by_name() {
        let diff = "diff --git a/src/a.rs b/src/a.rs\n+fn a() {}\ndiff --git a/.env b/.env\n+TOKEN=abc\ndiff --git a/b.txt b/b.txt\n+b\nnew file (untracked): id_rsa\nnew file (untracked): c.txt\n";
        let out = without_secrets(diff);
        assert!(!out.contains("TOKEN"), "{out}");
        assert!(out.contains("(left out: .env looks like it holds secrets)"));
        assert!(out.contains("+fn a() {}") && out.contains("+b"));
        assert!(out.contains("(left out: id_rsa"));
        assert!(out.contains("new file (untracked): c.txt"));
    }

    #[test]
    fn a_long_diff_is_cut_and_says_so() {
        let long: String = (0..1000).map(|i| format!("+{i}\n")).collect();
        let out = bounded(&long);
        assert_eq!(out.lines().count(), MAX_LINES + 1);
        assert!(out.ends_with("… 700 more lines (see the files themselves)"));
    }
}
