//! The conformance tier: baton drives the REAL Claude Code, Codex, Gemini and opencode CLIs,
//! offline, against a scripted fake model server (`baton-fake-model`) on loopback, each in a
//! private tmux server. It runs only when `BATON_REAL_CLAUDE` / `BATON_REAL_CODEX` /
//! `BATON_REAL_GEMINI` / `BATON_REAL_OPENCODE` name the binaries
//! (`scripts/install-real-agents.sh` prints them; `.ci/run` sets them); otherwise it says so
//! loudly and passes, so `cargo test --workspace` stays green without them.
//!
//! Every check is recorded PASS/FAIL/SKIP and a summary with the CLI versions is printed at
//! the end; the test fails when any check failed. The screens the checks see are saved under
//! `$CARGO_TARGET_TMPDIR/conformance/<cli>-<version>/`, and with
//! `BATON_CONFORMANCE_UPDATE_FIXTURES=1` also as fixtures under
//! `tests/fixtures/real/<cli>-<version>/` (see docs/conformance.md). Last, a whole `baton run`
//! of a plan with dependencies runs the pinned versions side by side (`whole_run.rs`).

use std::path::Path;
use std::path::PathBuf;

#[path = "common/mod.rs"]
mod common;

#[path = "conformance/claude.rs"]
mod claude;
#[path = "conformance/codex.rs"]
mod codex;
#[path = "conformance/codex_first_start.rs"]
mod codex_first_start;
#[path = "conformance/gemini.rs"]
mod gemini;
#[path = "conformance/harness.rs"]
mod harness;
#[path = "conformance/opencode.rs"]
mod opencode;
#[path = "conformance/whole_run.rs"]
mod whole_run;

#[test]
fn real_agent_clis() {
    let claude_bins = harness::real_binaries("BATON_REAL_CLAUDE");
    let codex_bins = harness::real_binaries("BATON_REAL_CODEX");
    let gemini_bins = harness::real_binaries("BATON_REAL_GEMINI");
    let opencode_bins = harness::real_binaries("BATON_REAL_OPENCODE");
    if claude_bins.is_empty()
        && codex_bins.is_empty()
        && gemini_bins.is_empty()
        && opencode_bins.is_empty()
    {
        eprintln!(
            "\n!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!\n\
             !! conformance tier SKIPPED: none of BATON_REAL_CLAUDE, BATON_REAL_CODEX,\n\
             !! BATON_REAL_GEMINI, BATON_REAL_OPENCODE is set to executables. Run scripts/install-real-agents.sh (or .ci/run).\n\
             !!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!!\n"
        );
        return;
    }
    // The CLIs run side by side, each in its own project and tmux server; the versions of
    // one CLI run one after the other.
    let pinned = |bins: &[PathBuf]| bins.first().cloned();
    let (claude_pinned, codex_pinned) = (pinned(&claude_bins), pinned(&codex_bins));
    let claude = spawn_cli("claude", "BATON_REAL_CLAUDE", claude_bins, claude::run);
    let codex = spawn_cli("codex", "BATON_REAL_CODEX", codex_bins, |bin| {
        let mut report = codex::run(bin);
        codex_first_start::check(bin, &mut report);
        report
    });
    let gemini = spawn_cli("gemini", "BATON_REAL_GEMINI", gemini_bins, gemini::run);
    let opencode = spawn_cli(
        "opencode",
        "BATON_REAL_OPENCODE",
        opencode_bins,
        opencode::run,
    );
    // A panic outside a check is a failed report of its own, so that the summary (with the
    // reasons of every failed check) is still printed.
    let mut reports: Vec<harness::Report> = Vec::new();
    for (cli, thread) in [
        ("claude", claude),
        ("codex", codex),
        ("gemini", gemini),
        ("opencode", opencode),
    ] {
        match thread.join() {
            Ok(r) => reports.extend(r),
            Err(p) => reports.push(harness::Report::panicked(cli, p.as_ref())),
        }
    }
    // Then a whole `baton run` with the pinned versions side by side.
    reports.push(whole_run::run(
        claude_pinned.as_deref(),
        codex_pinned.as_deref(),
        whole_run::pinned("BATON_REAL_GEMINI").as_deref(),
    ));
    let failed = harness::print_summary(&reports);
    assert_eq!(
        failed, 0,
        "{failed} conformance check(s) failed: see the summary above"
    );
}

/// Runs `run` on each binary of one CLI, one after the other, in a thread of its own; with no
/// binary, the report says the variable `var` is not set.
fn spawn_cli(
    cli: &'static str,
    var: &'static str,
    bins: Vec<PathBuf>,
    run: fn(&Path) -> harness::Report,
) -> std::thread::JoinHandle<Vec<harness::Report>> {
    std::thread::spawn(move || {
        if bins.is_empty() {
            return vec![harness::Report::missing(cli, var)];
        }
        bins.iter().map(|bin| run(bin)).collect()
    })
}
