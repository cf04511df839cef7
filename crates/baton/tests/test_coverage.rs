//! What baton claims to have verified on real CLI screens (`profiles/coverage.toml`, the table
//! in docs/conformance.md, `baton doctor`) is computed again from the saved real screens under
//! tests/fixtures/real/<cli>-<version>/<state>-<scenario>.txt: the test fails when a claim is
//! out of date. `BATON_UPDATE_COVERAGE=1 cargo test -p baton --test runner coverage` rewrites
//! both from the fixtures.

use baton_core::AgentState;
use baton_core::coverage::Coverage;
use baton_core::coverage::Outcome;
use baton_core::detect;
use baton_core::profile::builtin_names;
use baton_core::profile::builtin_spec;

use crate::common::TestProject;
use crate::common::assert_has;
use crate::common::assert_lacks;
use crate::common::real_captures;
use crate::common::repo_root;

const BEGIN: &str = "<!-- coverage:begin (generated from tests/fixtures/real) -->";
const END: &str = "<!-- coverage:end -->";

/// The detector's reading of every real fixture.
fn outcomes() -> Vec<Outcome> {
    real_captures()
        .into_iter()
        .map(|c| Outcome {
            got: detect(&c.profile, &c.screen).state,
            cli: c.cli,
            version: c.version,
            expected: c.expected,
        })
        .collect()
}

/// The docs table: each built-in profile with the states it has patterns for.
fn table(coverage: &Coverage) -> String {
    let profiles: Vec<(&str, Vec<AgentState>)> = builtin_names()
        .map(|name| {
            let p = builtin_spec(name).unwrap().resolve(name).unwrap();
            let states = AgentState::WITH_PATTERNS
                .into_iter()
                .filter(|s| !p.patterns(*s).is_empty())
                .collect();
            (name, states)
        })
        .collect();
    coverage.markdown(&profiles)
}

#[test]
fn coverage_claims_match_the_real_fixtures() {
    let outcomes = outcomes();
    assert!(!outcomes.is_empty(), "no real fixtures found");
    let computed = Coverage::from_outcomes(&outcomes);
    let toml_path = repo_root().join("profiles/coverage.toml");
    let docs_path = repo_root().join("docs/conformance.md");
    let docs = std::fs::read_to_string(&docs_path).unwrap();
    let (before, rest) = docs
        .split_once(BEGIN)
        .expect("docs/conformance.md has the coverage markers");
    let (_, after) = rest.split_once(END).expect("the coverage end marker");
    let new_docs = format!("{before}{BEGIN}\n{}{END}{after}", table(&computed));
    if std::env::var_os("BATON_UPDATE_COVERAGE").is_some() {
        std::fs::write(&toml_path, computed.to_toml()).unwrap();
        std::fs::write(&docs_path, &new_docs).unwrap();
        return;
    }
    let committed = std::fs::read_to_string(&toml_path).unwrap();
    assert_eq!(
        Coverage::parse(&committed).unwrap(),
        computed,
        "profiles/coverage.toml is out of date with tests/fixtures/real: run \
         BATON_UPDATE_COVERAGE=1 cargo test -p baton --test runner coverage"
    );
    assert!(
        docs == new_docs,
        "the coverage table in docs/conformance.md is out of date: run \
         BATON_UPDATE_COVERAGE=1 cargo test -p baton --test runner coverage"
    );
}

/// A text field of a doctor check; panics, showing the check, when it has none.
#[track_caller]
fn text<'a>(check: &'a serde_json::Value, field: &str) -> &'a str {
    check[field]
        .as_str()
        .unwrap_or_else(|| panic!("no {field} in {check}"))
}

#[test]
fn doctor_says_what_is_verified_and_warns_of_a_newer_cli() {
    use std::os::unix::fs::PermissionsExt as _;
    let p = TestProject::new();
    let bin = p.root().join("bin");
    std::fs::create_dir_all(&bin).unwrap();
    let claude = bin.join("claude");
    let says = |version: &str| {
        std::fs::write(
            &claude,
            format!("#!/bin/sh\necho '{version} (Claude Code)'\n"),
        )
        .unwrap();
        std::fs::set_permissions(&claude, std::fs::Permissions::from_mode(0o755)).unwrap();
    };
    says("99.0.0");
    let claude_path = claude.display().to_string();
    p.write_config(&format!(
        "[[agent]]\nname = \"cc\"\ncli = \"claude\"\ncommand = \"{claude_path}\"\n\n\
         [[agent]]\nname = \"gen\"\ncli = \"generic\"\ncommand = \"{claude_path}\"\n"
    ));
    let newest = Coverage::builtin().newest("claude").unwrap().to_owned();

    let cc = p.expect_check("states cc", true);
    assert_eq!(cc["warning"], true, "{cc}");
    assert_has(
        text(&cc, "detail"),
        &["verified on", &newest, "installed 99.0.0"],
    );
    assert_has(
        text(&cc, "hint"),
        &["99.0.0 is newer than any verified version"],
    );

    // The generic profile has no real screen at all; a binary not named as the profile's
    // own is not asked for its version.
    let generic = p.doctor_check("states gen");
    assert_eq!(generic["warning"], true, "{generic}");
    assert_has(text(&generic, "detail"), &["documentation only"]);
    assert_lacks(text(&generic, "detail"), &["installed"]);

    // The newest verified version itself is no warning.
    says(&newest);
    let cc = p.doctor_check("states cc");
    assert!(cc.get("warning").is_none(), "{cc}");
    assert_has(text(&cc, "detail"), &[&format!("installed {newest}")]);

    // A version whose real screen of a state is misread: the detail names it, and with that
    // version installed the check is a warning (it said "verified" and no more).
    let (state, version) = Coverage::builtin()
        .versions("claude")
        .iter()
        .find_map(|(v, c)| Some((c.missed.iter().next()?.clone(), v.clone())))
        .expect("coverage.toml holds a misread claude state");
    says(&version);
    let cc = p.doctor_check("states cc");
    assert_has(
        text(&cc, "detail"),
        &[&format!("misread on real screens: {state} on {version}")],
    );
    assert_eq!(cc["warning"], true, "{cc}");
    assert_has(text(&cc, "hint"), &[&format!("misreads {state}")]);
}
