//! What baton claims to have verified on real CLI screens (`profiles/coverage.toml`, the table
//! in docs/conformance.md, `baton doctor`) is computed again from the saved real screens under
//! tests/fixtures/real/<cli>-<version>/<state>-<scenario>.txt: the test fails when a claim is
//! out of date. `BATON_UPDATE_COVERAGE=1 cargo test -p baton --test runner coverage` rewrites
//! both from the fixtures.

use std::path::Path;
use std::path::PathBuf;

use baton_core::AgentState;
use baton_core::coverage::Coverage;
use baton_core::coverage::Outcome;
use baton_core::detect;
use baton_core::detector::fixture_name;
use baton_core::profile::builtin_names;
use baton_core::profile::builtin_spec;

const BEGIN: &str = "<!-- coverage:begin (generated from tests/fixtures/real) -->";
const END: &str = "<!-- coverage:end -->";

fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

/// The detector's reading of every real fixture.
fn outcomes() -> Vec<Outcome> {
    let mut out = Vec::new();
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(repo().join("tests/fixtures/real"))
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.is_dir())
        .collect();
    dirs.sort();
    for dir in dirs {
        let name = dir.file_name().unwrap().to_string_lossy().into_owned();
        for file in fixture_files(&dir) {
            let stem = file.file_stem().unwrap().to_string_lossy().into_owned();
            let (cli, version, expected) =
                fixture_name(&name, &stem).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
            let profile = builtin_spec(&cli)
                .unwrap_or_else(|| panic!("{}: no built-in profile `{cli}`", dir.display()))
                .resolve(&cli)
                .unwrap();
            let screen = String::from_utf8_lossy(&std::fs::read(&file).unwrap()).into_owned();
            out.push(Outcome {
                cli,
                version,
                expected,
                got: detect(&profile, &screen).state,
            });
        }
    }
    out
}

fn fixture_files(dir: &Path) -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(dir)
        .unwrap()
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.extension().is_some_and(|x| x == "txt"))
        .collect();
    files.sort();
    files
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
    let toml_path = repo().join("profiles/coverage.toml");
    let docs_path = repo().join("docs/conformance.md");
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

fn doctor_check(p: &crate::common::TestProject, name: &str) -> serde_json::Value {
    let checks: serde_json::Value =
        serde_json::from_slice(&p.run(&["doctor", "--json"]).stdout).unwrap();
    checks
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == name)
        .cloned()
        .unwrap_or_else(|| panic!("no check `{name}` in {checks:#}"))
}

#[test]
fn doctor_says_what_is_verified_and_warns_of_a_newer_cli() {
    use std::os::unix::fs::PermissionsExt as _;
    let p = crate::common::TestProject::new();
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

    let cc = doctor_check(&p, "states cc");
    assert_eq!(cc["ok"], true, "{cc}");
    assert_eq!(cc["warning"], true, "{cc}");
    let detail = cc["detail"].as_str().unwrap();
    assert!(
        detail.contains("verified on") && detail.contains(&newest),
        "{cc}"
    );
    assert!(detail.contains("installed 99.0.0"), "{cc}");
    let hint = cc["hint"].as_str().unwrap();
    assert!(
        hint.contains("99.0.0 is newer than any verified version"),
        "{cc}"
    );

    // The generic profile has no real screen at all; a binary not named as the profile's
    // own is not asked for its version.
    let generic = doctor_check(&p, "states gen");
    assert_eq!(generic["warning"], true, "{generic}");
    let detail = generic["detail"].as_str().unwrap();
    assert!(detail.contains("documentation only"), "{generic}");
    assert!(!detail.contains("installed"), "{generic}");

    // The newest verified version itself is no warning.
    says(&newest);
    let cc = doctor_check(&p, "states cc");
    assert!(cc.get("warning").is_none(), "{cc}");
    assert!(
        cc["detail"]
            .as_str()
            .unwrap()
            .contains(&format!("installed {newest}")),
        "{cc}"
    );

    // A version whose real screen of a state is misread: the detail names it, and with that
    // version installed the check is a warning (it said "verified" and no more).
    let (state, version) = Coverage::builtin()
        .versions("claude")
        .iter()
        .find_map(|(v, c)| Some((c.missed.iter().next()?.clone(), v.clone())))
        .expect("coverage.toml holds a misread claude state");
    says(&version);
    let cc = doctor_check(&p, "states cc");
    let detail = cc["detail"].as_str().unwrap();
    assert!(
        detail.contains(&format!("misread on real screens: {state} on {version}")),
        "{cc}"
    );
    assert_eq!(cc["warning"], true, "{cc}");
    assert!(
        cc["hint"]
            .as_str()
            .unwrap()
            .contains(&format!("misreads {state}")),
        "{cc}"
    );
}
