//! The checks of names and paths in `baton.toml`, and the warnings of a configuration that
//! validated (unused profiles, typos, pattern groups nothing reads).

use std::collections::BTreeMap;
use std::ops::Range;
use std::path::Path;

use super::AgentConfig;
use super::ConfigError;
use super::RawConfig;
use super::key_span;
use super::line_col;
use crate::profile::Profile;
use crate::profile::builtin_names;

/// The warnings of a configuration that validated: `[profile.x]` tables no agent uses (a
/// `[profile.clude]` typo makes a new profile), and named groups in a file's patterns that
/// nothing reads.
pub(super) fn warnings(
    file: &Path,
    text: &str,
    raw: &RawConfig,
    agents: &[AgentConfig],
    profiles: &BTreeMap<String, Profile>,
) -> Vec<ConfigError> {
    let error = |span: Option<Range<usize>>, key: &str, message: String| ConfigError {
        file: file.to_owned(),
        position: line_col(text, span),
        key: key.to_owned(),
        message,
    };
    let mut out = Vec::new();
    for (name, spec) in &raw.profile {
        let key = format!("profile.{name}");
        let span = key_span(text, &key).or(Some(spec.span()));
        if !agents.iter().any(|a| &a.cli == name) {
            let known = builtin_names()
                .map(str::to_owned)
                .chain(agents.iter().map(|a| a.cli.clone()))
                .filter(|k| k != name);
            let near = known
                .filter(|k| edit_distance(k, name) <= 2)
                .min_by_key(|k| edit_distance(k, name));
            let mut message = format!(
                "no [[agent]] uses profile `{name}` (an agent picks one with `cli = \"{name}\"`)"
            );
            if let Some(n) = near {
                message.push_str(&format!("; a typo of `{n}`?"));
            }
            out.push(error(span.clone(), &key, message));
        }
        let Some(profile) = profiles.get(name) else {
            continue;
        };
        for (field, i, group) in profile.unread_groups() {
            let key = format!("{key}.patterns.{field}[{i}]");
            let read = crate::profile::read_groups(&field);
            out.push(error(
                key_span(text, &key).or(span.clone()),
                &key,
                format!(
                    "named group `{group}` is read by nothing ({})",
                    if read.is_empty() {
                        format!("baton reads no group of `{field}` patterns: use `(?:…)`")
                    } else {
                        format!("`{field}` patterns are read for: {}", read.join(", "))
                    }
                ),
            ));
        }
    }
    out
}

/// The number of single-character edits between two short names.
fn edit_distance(a: &str, b: &str) -> usize {
    let b: Vec<char> = b.chars().collect();
    let mut row: Vec<usize> = (0..=b.len()).collect();
    for (i, ca) in a.chars().enumerate() {
        let mut prev = row[0];
        row[0] = i + 1;
        for (j, cb) in b.iter().enumerate() {
            let cur = row[j + 1];
            row[j + 1] = (prev + usize::from(ca != *cb)).min(row[j] + 1).min(cur + 1);
            prev = cur;
        }
    }
    row[b.len()]
}

/// Checks `[session] reports_dir`: relative to the project root and inside it.
pub(super) fn check_reports_dir(dir: &Path) -> Result<(), String> {
    use std::path::Component;
    if dir.as_os_str().is_empty() {
        return Err("is empty: \".\" is the project root".into());
    }
    for c in dir.components() {
        match c {
            Component::Normal(_) | Component::CurDir => {}
            Component::ParentDir => {
                return Err(format!(
                    "`{}` leaves the project: give a directory inside it",
                    dir.display()
                ));
            }
            Component::RootDir | Component::Prefix(_) => {
                return Err(format!(
                    "`{}` is absolute: give a directory relative to the project root",
                    dir.display()
                ));
            }
        }
    }
    Ok(())
}

/// Checks a name used for tmux sessions, windows and sockets.
pub(super) fn check_name(name: &str) -> Result<(), String> {
    if name.is_empty() {
        return Err("must not be empty".into());
    }
    if name.len() > 64 {
        return Err(format!("`{name}` is longer than 64 characters"));
    }
    if let Some(c) = name
        .chars()
        .find(|c| !(c.is_ascii_alphanumeric() || *c == '-' || *c == '_'))
    {
        return Err(format!(
            "`{name}` has `{c}`: use letters, digits, `-` and `_` (tmux gives `.` and `:` a meaning)"
        ));
    }
    Ok(())
}

/// Turns any text into a valid name: other characters become `-`.
pub fn sanitize_name(text: &str) -> String {
    let s: String = text
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || c == '-' || c == '_' {
                c
            } else {
                '-'
            }
        })
        .take(64)
        .collect();
    if s.is_empty() { "baton".into() } else { s }
}
