//! What is verified of each built-in profile: for each CLI and version, the states whose real
//! screens (`tests/fixtures/real/<cli>-<version>/<state>-<scenario>.txt`) the detector reads
//! right. A state a profile has patterns for but no real screen of is known "from
//! documentation only".
//!
//! The table is `profiles/coverage.toml`, built into baton. The fast test tier computes it
//! again from the fixtures and fails when the committed file differs
//! (`BATON_UPDATE_COVERAGE=1` rewrites it, and the table in docs/conformance.md), so it never
//! claims more than the fixtures show.

use std::cmp::Ordering;
use std::collections::BTreeMap;
use std::collections::BTreeSet;
use std::fmt::Write as _;

use serde::Deserialize;
use serde::Serialize;

use crate::profile::AgentState;

/// The table built into baton.
const BUILTIN: &str = include_str!("../../../profiles/coverage.toml");

/// The detector's reading of one real screen.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Outcome {
    /// The profile (`claude`, `codex`, …).
    pub cli: String,
    /// The CLI's version the screen comes from.
    pub version: String,
    /// The true state, from the file name.
    pub expected: AgentState,
    /// What the detector said.
    pub got: AgentState,
}

/// What one version of one CLI has verified.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VersionCoverage {
    /// States with real screens, every one of them read right.
    #[serde(default)]
    pub verified: BTreeSet<String>,
    /// States with a real screen the detector misreads.
    #[serde(default, skip_serializing_if = "BTreeSet::is_empty")]
    pub missed: BTreeSet<String>,
}

/// Per CLI, per version (in version order), what is verified.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct Coverage {
    clis: BTreeMap<String, Vec<(String, VersionCoverage)>>,
}

impl Coverage {
    /// The table built into baton.
    pub fn builtin() -> Coverage {
        Coverage::parse(BUILTIN).expect("profiles/coverage.toml parses")
    }

    /// Builds the table from the detector's readings of real screens.
    pub fn from_outcomes(outcomes: &[Outcome]) -> Coverage {
        let mut clis: BTreeMap<String, BTreeMap<String, VersionCoverage>> = BTreeMap::new();
        for o in outcomes {
            let v = clis
                .entry(o.cli.clone())
                .or_default()
                .entry(o.version.clone())
                .or_default();
            if o.got != o.expected {
                v.missed.insert(o.expected.as_str().to_owned());
            } else {
                v.verified.insert(o.expected.as_str().to_owned());
            }
        }
        for versions in clis.values_mut() {
            for v in versions.values_mut() {
                let missed = v.missed.clone();
                v.verified.retain(|s| !missed.contains(s));
            }
        }
        Coverage {
            clis: clis
                .into_iter()
                .map(|(cli, versions)| (cli, sorted(versions.into_iter().collect())))
                .collect(),
        }
    }

    /// Reads the TOML form: `[<cli>."<version>"]` tables with `verified` and `missed` lists.
    pub fn parse(text: &str) -> Result<Coverage, String> {
        let raw: BTreeMap<String, BTreeMap<String, VersionCoverage>> =
            toml::from_str(text).map_err(|e| format!("profiles/coverage.toml: {e}"))?;
        let mut clis = BTreeMap::new();
        for (cli, versions) in raw {
            for (version, v) in &versions {
                if parse_version(version).is_none() {
                    return Err(format!(
                        "profiles/coverage.toml: [{cli}.\"{version}\"]: not a version"
                    ));
                }
                for s in v.verified.iter().chain(&v.missed) {
                    if state_named(s).is_none() {
                        return Err(format!(
                            "profiles/coverage.toml: [{cli}.\"{version}\"]: `{s}` is not a state"
                        ));
                    }
                }
            }
            clis.insert(cli, sorted(versions.into_iter().collect()));
        }
        Ok(Coverage { clis })
    }

    /// The TOML form, versions in order.
    pub fn to_toml(&self) -> String {
        let mut out = String::from(
            "# What is verified on real CLI screens: per CLI and version, the states whose saved\n\
             # screens (tests/fixtures/real/) the detector reads right, and those it misreads.\n\
             # Generated: `BATON_UPDATE_COVERAGE=1 cargo test -p baton --test runner coverage`.\n",
        );
        for (cli, versions) in &self.clis {
            for (version, v) in versions {
                let list = |set: &BTreeSet<String>| {
                    set.iter()
                        .map(|s| format!("\"{s}\""))
                        .collect::<Vec<_>>()
                        .join(", ")
                };
                let _ = write!(
                    out,
                    "\n[{cli}.\"{version}\"]\nverified = [{}]\n",
                    list(&v.verified)
                );
                if !v.missed.is_empty() {
                    let _ = writeln!(out, "missed = [{}]", list(&v.missed));
                }
            }
        }
        out
    }

    /// The versions of one CLI, oldest first.
    pub fn versions(&self, cli: &str) -> &[(String, VersionCoverage)] {
        self.clis.get(cli).map_or(&[], Vec::as_slice)
    }

    /// The newest version of a CLI with a verified state.
    pub fn newest(&self, cli: &str) -> Option<&str> {
        self.versions(cli)
            .iter()
            .rev()
            .find(|(_, v)| !v.verified.is_empty())
            .map(|(version, _)| version.as_str())
    }

    /// The states of a CLI verified on at least one version.
    pub fn verified_states(&self, cli: &str) -> BTreeSet<AgentState> {
        self.versions(cli)
            .iter()
            .flat_map(|(_, v)| v.verified.iter())
            .filter_map(|s| state_named(s))
            .collect()
    }

    /// A Markdown table, one row per CLI and version, one column per state: ✓ verified on
    /// that version's real screens, ✗ a real screen misread, "doc" the profile has patterns
    /// for the state but no real screen shows it, "–" the profile has no pattern for it.
    /// `profiles` lists each profile with the states it has patterns for; a profile without
    /// any verified version gets a "documentation only" row.
    pub fn markdown(&self, profiles: &[(&str, Vec<AgentState>)]) -> String {
        let mut out = String::from("| CLI | version |");
        for s in AgentState::WITH_PATTERNS {
            let _ = write!(out, " {s} |");
        }
        out.push_str("\n|---|---|");
        out.push_str(&"---|".repeat(AgentState::WITH_PATTERNS.len()));
        out.push('\n');
        for (cli, patterned) in profiles {
            let versions = self.versions(cli);
            if versions.is_empty() {
                let _ = write!(out, "| {cli} | (documentation only) |");
                for s in AgentState::WITH_PATTERNS {
                    out.push_str(if patterned.contains(&s) {
                        " doc |"
                    } else {
                        " – |"
                    });
                }
                out.push('\n');
                continue;
            }
            for (version, v) in versions {
                let _ = write!(out, "| {cli} | {version} |");
                for s in AgentState::WITH_PATTERNS {
                    let cell = if v.missed.contains(s.as_str()) {
                        "✗"
                    } else if v.verified.contains(s.as_str()) {
                        "✓"
                    } else if patterned.contains(&s) {
                        "doc"
                    } else {
                        "–"
                    };
                    let _ = write!(out, " {cell} |");
                }
                out.push('\n');
            }
        }
        out
    }
}

/// The state a kebab-case name stands for.
pub fn state_named(name: &str) -> Option<AgentState> {
    AgentState::WITH_PATTERNS
        .into_iter()
        .chain([AgentState::Unknown])
        .find(|s| s.as_str() == name)
}

/// The numbers of the first version in a text (`2.1.329 (Claude Code)`, `codex-cli 0.171.0`).
pub fn parse_version(text: &str) -> Option<Vec<u64>> {
    let start = text.find(|c: char| c.is_ascii_digit())?;
    let run: String = text[start..]
        .chars()
        .take_while(|c| c.is_ascii_digit() || *c == '.')
        .collect();
    let parts: Option<Vec<u64>> = run
        .trim_end_matches('.')
        .split('.')
        .map(|p| p.parse().ok())
        .collect();
    parts.filter(|p| p.len() >= 2)
}

/// Compares two version texts by their numbers; an unreadable one sorts first.
pub fn compare_versions(a: &str, b: &str) -> Ordering {
    parse_version(a).cmp(&parse_version(b))
}

fn sorted(mut versions: Vec<(String, VersionCoverage)>) -> Vec<(String, VersionCoverage)> {
    versions.sort_by(|(a, _), (b, _)| compare_versions(a, b).then_with(|| a.cmp(b)));
    versions
}

#[cfg(test)]
mod tests {
    use super::*;

    fn outcome(cli: &str, version: &str, expected: AgentState, got: AgentState) -> Outcome {
        Outcome {
            cli: cli.into(),
            version: version.into(),
            expected,
            got,
        }
    }

    #[test]
    fn versions_compare_by_their_numbers() {
        assert_eq!(compare_versions("2.1.49", "2.1.329"), Ordering::Less);
        assert_eq!(compare_versions("0.171.0", "0.64.0"), Ordering::Greater);
        assert_eq!(parse_version("codex-cli 0.171.0\n"), Some(vec![0, 171, 0]));
        assert_eq!(
            parse_version("2.1.329 (Claude Code)"),
            Some(vec![2, 1, 329])
        );
        assert_eq!(parse_version("no version"), None);
        assert_eq!(parse_version("v7"), None);
    }

    #[test]
    fn a_state_misread_once_is_not_verified() {
        use AgentState::*;
        let c = Coverage::from_outcomes(&[
            outcome("claude", "2.1.329", Idle, Idle),
            outcome("claude", "2.1.329", Working, Working),
            outcome("claude", "2.1.329", Working, Idle),
            outcome("claude", "2.1.49", Idle, Idle),
        ]);
        let v = c.versions("claude");
        assert_eq!(v[0].0, "2.1.49", "oldest first");
        assert_eq!(v[1].1.verified, BTreeSet::from(["idle".to_owned()]));
        assert_eq!(v[1].1.missed, BTreeSet::from(["working".to_owned()]));
        assert_eq!(c.newest("claude"), Some("2.1.329"));
        assert_eq!(c.verified_states("claude"), BTreeSet::from([Idle]));
        let again = Coverage::parse(&c.to_toml()).unwrap();
        assert_eq!(again, c);
    }

    #[test]
    fn the_table_names_what_is_documentation_only() {
        use AgentState::*;
        let c = Coverage::from_outcomes(&[outcome("claude", "2.1.329", Idle, Idle)]);
        let md = c.markdown(&[
            ("claude", vec![Idle, Working]),
            ("amp", vec![Idle, Starting]),
        ]);
        let lines: Vec<&str> = md.lines().collect();
        assert_eq!(
            lines[0],
            "| CLI | version | starting | working | idle | needs-input | rate-limited | error | finished |"
        );
        assert_eq!(
            lines[2],
            "| claude | 2.1.329 | – | doc | ✓ | – | – | – | – |"
        );
        assert_eq!(
            lines[3],
            "| amp | (documentation only) | doc | – | doc | – | – | – | – |"
        );
    }

    #[test]
    fn bad_tables_are_refused_with_the_place() {
        let e = Coverage::parse("[claude.\"2.1.329\"]\nverified = [\"sleepy\"]\n").unwrap_err();
        assert!(e.contains("claude") && e.contains("sleepy"), "{e}");
        let e = Coverage::parse("[claude.\"latest\"]\nverified = []\n").unwrap_err();
        assert!(e.contains("not a version"), "{e}");
        let e = Coverage::parse("[claude.\"2.1.329\"]\nverifed = []\n").unwrap_err();
        assert!(e.contains("verifed"), "{e}");
    }

    #[test]
    fn the_builtin_table_parses() {
        let _ = Coverage::builtin();
    }
}
