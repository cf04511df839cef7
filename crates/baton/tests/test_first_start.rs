//! First-start dialogs: a known one (Codex's model-migration menu) is answered as the profile
//! says, keeping the configured model, by `baton up` or by the daemon; any other dialog goes
//! to a person and is never typed into; and a prompt pasted into a menu is never counted as
//! delivered.

use std::time::Duration;

use crate::common::TestProject;
use crate::common::assert_has;
use crate::common::baton_bin;
use crate::common::prompts;
use crate::common::wait_until;

/// The fake agent's events, one `kind detail` line each.
fn events(p: &TestProject, agent: &str) -> Vec<String> {
    std::fs::read_to_string(p.events_log(agent))
        .unwrap_or_default()
        .lines()
        .map(|l| {
            l.split_once(' ')
                .map_or(l, |(_, rest)| rest)
                .trim()
                .to_owned()
        })
        .collect()
}

fn count(events: &[String], prefix: &str) -> usize {
    events.iter().filter(|e| e.starts_with(prefix)).count()
}

/// Panics unless the events starting with each prefix are as many as said.
#[track_caller]
fn assert_counts(events: &[String], want: &[(&str, usize)]) {
    for (prefix, n) in want {
        assert_eq!(count(events, prefix), *n, "{prefix}: {events:?}");
    }
}

/// Panics unless the model menu was answered `times` times, each keeping the existing model,
/// and nothing was typed into it (no `typed` event).
#[track_caller]
fn assert_model_kept(p: &TestProject, times: usize, typed: &str) {
    assert_counts(
        &events(p, "codex"),
        &[
            ("model-menu existing", times),
            ("model-menu new", 0),
            (typed, 0),
        ],
    );
}

/// The journal entries with this action, as their `field` texts (`result`, `task`…).
fn journaled_as(p: &TestProject, action: &str, field: &str) -> Vec<String> {
    p.journaled(action)
        .iter()
        .map(|e| e[field].as_str().unwrap_or("").to_owned())
        .collect()
}

/// A project whose one agent, codex, shows the model-migration menu at its start.
fn codex_with_menu() -> TestProject {
    TestProject::with_fake_agent("codex", "codex", "model_menu = true\n")
}

#[test]
fn baton_up_answers_the_model_menu_and_keeps_the_model() {
    let p = codex_with_menu();
    assert_has(
        &p.ok(&["up", "--no-daemon"]),
        &[
            "answered the first-start dialog model-migration (keys: 2)",
            "ready",
        ],
    );
    assert_model_kept(&p, 1, "paste");
    assert_eq!(
        journaled_as(&p, "first-start-answered", "result"),
        ["model-migration (keys: 2)"]
    );
    assert!(p.capture("codex").contains("model: gpt-5.5"));
}

#[test]
fn the_daemon_answers_the_menu_when_baton_up_leaves_it_the_start() {
    let p = codex_with_menu();
    // `baton up` with its daemon: the daemon answers, `baton up` waits for it.
    assert_has(&p.ok(&["up"]), &["ready"]);
    wait_until(
        Duration::from_secs(10),
        "the daemon's journal entry",
        || !p.journaled("first-start-answered").is_empty(),
    );
    assert_eq!(
        journaled_as(&p, "first-start-answered", "result"),
        ["model-migration (keys: 2)"]
    );
    // One answerer, one answer.
    assert_counts(
        &events(&p, "codex"),
        &[("model-menu", 1), ("model-menu existing", 1)],
    );
}

#[test]
fn a_run_answers_the_menu_at_every_start_and_completes_its_tasks() {
    let p = TestProject::new();
    // The first start crashes on its first prompt: the daemon restarts the agent, whose
    // menu shows again and is answered again.
    let marker = p.root().join("crashed-once");
    let normal = p.write_script("normal", "persona = \"codex\"\nmodel_menu = true\n");
    let crashy = p.write_script(
        "crashy",
        "persona = \"codex\"\nmodel_menu = true\n[[task]]\ncrash = 3\n",
    );
    let command = format!(
        "{} fake-agent --log {} --events {} --script $(test -e {m} && echo {n} || (touch {m}; echo {c}))",
        baton_bin().display(),
        p.prompt_log("codex").display(),
        p.events_log("codex").display(),
        m = marker.display(),
        n = normal.display(),
        c = crashy.display()
    );
    let agent = format!(
        "[[agent]]\nname = \"codex\"\ncli = \"codex\"\ncommand = {}\n\n",
        serde_json::to_string(&command).unwrap()
    );
    p.write_config(&format!("{agent}[run]\ntest_tasks = false\n"));
    p.write_plan("- [ ] first\n- [ ] second\n");
    assert_has(
        &p.ok(&["run", "plan.md", "--quiet"]),
        &["finished: 2 completed"],
    );
    let answered = p.journaled("first-start-answered");
    assert_eq!(
        answered.len(),
        2,
        "at the start and after the restart: {answered:?}"
    );
    assert_model_kept(&p, 2, "paste-ignored");
    assert_eq!(
        journaled_as(&p, "task-done", "task"),
        ["T-001", "T-002"],
        "each task completed once"
    );
    for got in prompts(&p.prompt_log("codex")) {
        let text = String::from_utf8_lossy(&got);
        assert!(!text.contains("Try new model"), "{text}");
    }
}

#[test]
fn an_unknown_dialog_at_start_goes_to_a_person_and_is_never_typed_into() {
    // The fake's Claude trust dialog is not one the claude profile knows.
    let p = TestProject::with_fake_agent("claude", "claude", "trust_dialog = true\n");
    p.ok(&["task", "add", "Something to do"]);
    assert_has(
        &p.exec(&["up"]).expect_code(1).stderr,
        &["waits for a person"],
    );
    wait_until(
        Duration::from_secs(10),
        "the daemon to tell a person",
        || !p.journaled("notify-needs-input").is_empty(),
    );
    let person = journaled_as(&p, "first-start-person", "result");
    assert!(
        person
            .iter()
            .any(|r| r.contains("a dialog baton does not know")),
        "{person:?}"
    );
    // Told once, however many times the daemon looks.
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(p.journaled("notify-needs-input").len(), 1);
    assert_eq!(p.status("T-001"), "PENDING");
    let ev = events(&p, "claude");
    assert!(
        !ev.iter()
            .any(|e| e.starts_with("key") || e.starts_with("paste")),
        "nothing typed into the dialog: {ev:?}"
    );
}

#[test]
fn a_prompt_pasted_into_a_menu_is_not_counted_as_delivered() {
    let p = codex_with_menu();
    p.ok(&["up", "--no-daemon", "--no-wait"]);
    wait_until(Duration::from_secs(10), "the model menu", || {
        p.capture("codex").contains("2. Use existing model")
    });
    // --force: no readiness check, the paste lands in the menu.
    assert_has(
        &p.exec(&["send", "codex", "--force", "TASK_ID: T-001 fix the parser"])
            .expect_code(3)
            .stderr,
        &["prompt not delivered"],
    );
    // The paste ignored; no Enter chose a model.
    assert_counts(
        &events(&p, "codex"),
        &[("paste-ignored", 1), ("model-menu", 0)],
    );
    assert!(prompts(&p.prompt_log("codex")).is_empty());
}
