//! The conformance tier: baton drives the REAL Claude Code and Codex CLIs, offline, against
//! a scripted fake model server (`baton-fake-model`) on loopback, each in a private tmux
//! server. It runs only when `BATON_REAL_CLAUDE` / `BATON_REAL_CODEX` name the binaries
//! (`scripts/install-real-agents.sh` prints them; `.ci/run` sets them); otherwise it says so
//! loudly and passes, so `cargo test --workspace` stays green without them.
//!
//! Every check is recorded PASS/FAIL/SKIP and a summary with the CLI versions is printed at
//! the end; the test fails when any check failed. The screens the checks see are saved under
//! `$CARGO_TARGET_TMPDIR/conformance/<cli>-<version>/`, and with
//! `BATON_CONFORMANCE_UPDATE_FIXTURES=1` also as fixtures under
//! `tests/fixtures/real/<cli>-<version>/` (see docs/conformance.md).

#[path = "common/mod.rs"]
mod common;

#[path = "conformance/claude.rs"]
mod claude;
#[path = "conformance/codex.rs"]
mod codex;
#[path = "conformance/codex_first_start.rs"]
mod codex_first_start;
#[path = "conformance/harness.rs"]
mod harness;

#[test]
fn real_agent_clis() {
    let claude_bins = harness::real_binaries("BATON_REAL_CLAUDE");
    let codex_bins = harness::real_binaries("BATON_REAL_CODEX");
    if claude_bins.is_empty() && codex_bins.is_empty() {
        eprintln!(
            "\n!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!\n\
             !! conformance tier SKIPPED: BATON_REAL_CLAUDE and BATON_REAL_CODEX are not\n\
             !! set to executables. Run scripts/install-real-agents.sh (or .ci/run).\n\
             !!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!\n"
        );
        return;
    }
    // The CLIs run side by side, each in its own project and tmux server; the versions of
    // one CLI run one after the other.
    let claude = std::thread::spawn(move || {
        if claude_bins.is_empty() {
            return vec![harness::Report::missing("claude", "BATON_REAL_CLAUDE")];
        }
        claude_bins.iter().map(|bin| claude::run(bin)).collect()
    });
    let codex = std::thread::spawn(move || {
        if codex_bins.is_empty() {
            return vec![harness::Report::missing("codex", "BATON_REAL_CODEX")];
        }
        codex_bins
            .iter()
            .map(|bin| {
                let mut report = codex::run(bin);
                codex_first_start::check(bin, &mut report);
                report
            })
            .collect()
    });
    let mut reports: Vec<harness::Report> = claude
        .join()
        .expect("the claude checks panicked outside a check");
    reports.extend(
        codex
            .join()
            .expect("the codex checks panicked outside a check"),
    );
    let failed = harness::print_summary(&reports);
    assert_eq!(
        failed, 0,
        "{failed} conformance check(s) failed: see the summary above"
    );
}
