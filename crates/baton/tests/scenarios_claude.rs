//! The Claude Code scenario script: drives EACH given Claude Code version, offline, against
//! the fake model server, through the states baton must tell apart (start-up and first-start
//! dialogs, idle, spinners, a task list, a long tool run, a subagent, a background task, a
//! stop hook, every permission dialog, questions and plan approval, API errors 429/500/529,
//! the quota notice and the usage-limit screen), and saves each screen as
//! `<state>-<scenario>.txt`, named by the TRUE state, not by what the detector says.
//!
//! Run by hand or by `scripts/check-latest-clis`, not in CI (CI runs the saved fixtures
//! through the detector):
//!
//! ```sh
//! BATON_SCENARIO_CLAUDE=/path/to/claude:/path/to/other/claude \
//!   cargo test -p baton --test scenarios_claude -- --nocapture
//! ```
//!
//! Screens go to `$CARGO_TARGET_TMPDIR/scenarios/claude-<version>/`, or with
//! `BATON_SCENARIO_WRITE=1` to `tests/fixtures/real/claude-<version>/`. The summary says per
//! version which scenarios ran and which the version does not have (SKIP).

#[path = "scenarios/claude.rs"]
mod claude;
#[path = "common/mod.rs"]
mod common;
#[path = "scenarios/drive.rs"]
mod drive;
#[path = "conformance/harness.rs"]
#[allow(dead_code)]
mod harness;

#[test]
fn claude_scenarios() {
    let bins = harness::real_binaries("BATON_SCENARIO_CLAUDE");
    if bins.is_empty() {
        eprintln!(
            "claude scenarios SKIPPED: set BATON_SCENARIO_CLAUDE to Claude Code binaries \
             (`:`-separated) to run them"
        );
        return;
    }
    let reports: Vec<harness::Report> = bins.iter().map(|b| claude::run(b)).collect();
    let failed = harness::print_summary(&reports);
    assert_eq!(
        failed, 0,
        "{failed} scenario(s) failed: see the summary above"
    );
}
