//! The Codex scenario matrix: drives each Codex CLI binary named in `BATON_SCENARIO_CODEX`
//! (`:`-separated) offline against the fake model server through the screens a person
//! meets (first start, turns, approvals, API errors, pickers) and saves each as
//! `<state>-<scenario>.txt`: into `tests/fixtures/real/codex-<version>/` with
//! `BATON_SCENARIO_WRITE=1`, else under `$CARGO_TARGET_TMPDIR/scenarios/`. Run by hand or by
//! `scripts/check-latest-clis`, not in CI; without the variable it says so and passes. See
//! docs/conformance.md, "Scenario matrix: Codex".

#[path = "scenarios_codex/codex.rs"]
mod codex;
#[path = "common/mod.rs"]
mod common;
#[allow(dead_code)]
#[path = "conformance/harness.rs"]
mod harness;
#[path = "scenarios_codex/tui.rs"]
mod tui;

use baton_core::detect;

#[test]
fn codex_scenarios() {
    let bins = harness::real_binaries("BATON_SCENARIO_CODEX");
    if bins.is_empty() {
        eprintln!(
            "codex scenarios SKIPPED: set BATON_SCENARIO_CODEX to Codex binaries (`:`-separated)"
        );
        return;
    }
    let mut failed = 0;
    let mut out = String::from("\n======== codex scenarios ========\n");
    let profile = harness::profile("codex");
    for bin in &bins {
        let run = codex::run(bin);
        out.push_str(&format!(
            "codex {} ({}): {} screens saved in {}\n",
            run.version,
            bin.display(),
            run.saved.len(),
            run.out.display()
        ));
        for file in &run.saved {
            // What the current detector makes of it, for the record (the name is the truth).
            let screen = std::fs::read_to_string(run.out.join(file)).unwrap_or_default();
            let said = detect(&profile, &screen).state.to_string();
            let truth = file.split('-').next().unwrap_or("");
            let truth = match truth {
                "needs" => "needs-input",
                "rate" => "rate-limited",
                t => t,
            };
            let mark = if said == truth { "ok  " } else { "MISS" };
            out.push_str(&format!("  drove   {file} (detector: {mark} {said})\n"));
        }
        for (name, why) in &run.absent {
            out.push_str(&format!("  absent  {name}: {why}\n"));
        }
        for (name, why) in &run.failed {
            failed += 1;
            let why = why.replace('\n', "\n          ");
            out.push_str(&format!("  FAILED  {name}: {why}\n"));
        }
    }
    eprintln!("{out}");
    assert_eq!(failed, 0, "{failed} scenario(s) failed: see above");
}
