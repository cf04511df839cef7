//! The detector against real screens: every persona of the fake agent driven through every
//! state in a real tmux pane, and the saved captures under tests/fixtures/.
//!
//! `BATON_UPDATE_FIXTURES=1 cargo test -p baton --test runner test_detect` rewrites the
//! fixtures from the live screens.

use std::path::PathBuf;
use std::time::Duration;
use std::time::Instant;

use baton_core::AgentState;
use baton_core::detect;
use baton_core::profile::builtin_spec;

use crate::common::TestProject;

fn fixtures_dir() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures")
}

/// Reads `baton peek --json` until the detected state is `want`; returns the screen.
fn wait_state(p: &TestProject, agent: &str, want: AgentState, timeout: Duration) -> String {
    let start = Instant::now();
    let mut last = String::new();
    let mut last_state = String::new();
    while start.elapsed() < timeout {
        let out = p.run(&["peek", agent, "--json"]);
        if !out.status.success() {
            last_state = format!(
                "(peek failed: {})",
                String::from_utf8_lossy(&out.stderr).trim()
            );
        } else {
            let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
            last_state = v["detection"]["state"]
                .as_str()
                .unwrap_or_default()
                .to_owned();
            last = v["screen"].as_str().unwrap_or_default().to_owned();
            if last_state == want.as_str() {
                return last;
            }
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    panic!("{agent}: wanted {want}, last detected {last_state} on:\n{last}");
}

fn save(persona: &str, state: AgentState, screen: &str) {
    if std::env::var_os("BATON_UPDATE_FIXTURES").is_some() {
        let dir = fixtures_dir().join("fake");
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(format!("{persona}-{state}.txt")), screen).unwrap();
    }
}

fn send(p: &TestProject, agent: &str, text: &str) {
    p.tmux(&["send-keys", "-t", &p.pane(agent), "-l", text]);
    p.tmux(&["send-keys", "-t", &p.pane(agent), "Enter"]);
}

/// Drives one persona through starting, idle, working, finished, needs-input, error and
/// rate-limited, checking the detector's verdict on the live screen at each step.
fn drive(p: &TestProject, persona: &str) {
    let t = Duration::from_secs(15);
    let s = wait_state(p, persona, AgentState::Starting, t);
    save(persona, AgentState::Starting, &s);
    let s = wait_state(p, persona, AgentState::Idle, t);
    save(persona, AgentState::Idle, &s);
    send(p, persona, "SLOW task");
    let s = wait_state(p, persona, AgentState::Working, t);
    save(persona, AgentState::Working, &s);
    let s = wait_state(p, persona, AgentState::Finished, t);
    save(persona, AgentState::Finished, &s);
    send(p, persona, "PERM task");
    let s = wait_state(p, persona, AgentState::NeedsInput, t);
    save(persona, AgentState::NeedsInput, &s);
    p.tmux(&["send-keys", "-t", &p.pane(persona), "Enter"]);
    wait_state(p, persona, AgentState::Finished, t);
    send(p, persona, "CREDITS task");
    let s = wait_state(p, persona, AgentState::Error, t);
    save(persona, AgentState::Error, &s);
    send(p, persona, "LIMIT task");
    let s = wait_state(p, persona, AgentState::RateLimited, t);
    save(persona, AgentState::RateLimited, &s);
}

#[test]
fn every_persona_state_is_detected_on_the_live_screen() {
    let p = TestProject::new();
    let script = "start_delay_ms = 1500\nquota_percent = 61\n\
        [[task]]\nmatch = \"SLOW\"\nwork_ms = 1500\nreply = \"Slow work done.\"\n\
        [[task]]\nmatch = \"PERM\"\npermission = true\nwork_ms = 300\nrun = [\"true\"]\n\
        [[task]]\nmatch = \"CREDITS\"\ncredits_exhausted = true\n\
        [[task]]\nmatch = \"LIMIT\"\nlimit_reached = true\n";
    let personas = ["claude", "codex", "amp", "gemini"];
    let agents: String = personas
        .iter()
        .map(|n| p.fake_agent(n, n, script))
        .collect();
    p.write_config(&agents);
    p.ok(&["up", "--no-wait", "--no-daemon"]);
    std::thread::scope(|s| {
        for persona in personas {
            let p = &p;
            s.spawn(move || drive(p, persona));
        }
    });
}

#[test]
fn saved_captures_are_detected() {
    let mut seen = 0;
    let mut personas = std::collections::BTreeSet::new();
    for entry in walk(&fixtures_dir()) {
        let name = entry.file_stem().unwrap().to_string_lossy().into_owned();
        let Some((persona, rest)) = name.split_once('-') else {
            continue;
        };
        // Files named `<state>-<scenario>` (the layout of issue 15) are another test's.
        let Some(spec) = builtin_spec(persona) else {
            continue;
        };
        // `<profile>-<state>[-variant]`; state names may hold a dash themselves.
        let state = [
            "starting",
            "working",
            "idle",
            "needs-input",
            "rate-limited",
            "error",
            "finished",
            "unknown",
        ]
        .into_iter()
        .find(|s| rest == *s || rest.starts_with(&format!("{s}-")))
        .unwrap_or_else(|| panic!("{}: no state in the name", entry.display()));
        let profile = spec.resolve(persona).unwrap();
        let screen = std::fs::read_to_string(&entry).unwrap();
        let got = detect(&profile, &screen).state;
        assert_eq!(got.as_str(), state, "{}", entry.display());
        seen += 1;
        personas.insert(persona.to_owned());
    }
    assert!(
        seen >= 38,
        "only {seen} fixtures found under {}",
        fixtures_dir().display()
    );
    assert_eq!(personas.len(), 4, "{personas:?}");
}

fn walk(dir: &std::path::Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Ok(rd) = std::fs::read_dir(dir) {
        for e in rd.flatten() {
            let path = e.path();
            if path.is_dir() {
                out.extend(walk(&path));
            } else if path.extension().is_some_and(|x| x == "txt") {
                out.push(path);
            }
        }
    }
    out.sort();
    out
}
