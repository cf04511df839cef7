//! First-start dialogs: a known one (Codex's model-migration menu) is answered as the profile
//! says, keeping the configured model, by `baton up` or by the daemon; any other dialog goes
//! to a person and is never typed into; and a prompt pasted into a menu is never counted as
//! delivered.

use std::time::Duration;

use crate::common::TestProject;
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

/// The journal entries with this action, as `result` texts.
fn journaled(p: &TestProject, action: &str) -> Vec<String> {
    p.journal()
        .iter()
        .filter(|e| e["action"] == action)
        .map(|e| e["result"].as_str().unwrap_or("").to_owned())
        .collect()
}

#[test]
fn baton_up_answers_the_model_menu_and_keeps_the_model() {
    let p = TestProject::new();
    p.write_config(&p.fake_agent("codex", "codex", "model_menu = true\n"));
    let out = p.ok(&["up", "--no-daemon"]);
    assert!(
        out.contains("answered the first-start dialog model-migration (keys: 2)"),
        "{out}"
    );
    assert!(out.contains("ready"), "{out}");
    let ev = events(&p, "codex");
    assert_eq!(count(&ev, "model-menu existing"), 1, "{ev:?}");
    assert_eq!(count(&ev, "model-menu new"), 0, "{ev:?}");
    assert_eq!(
        count(&ev, "paste"),
        0,
        "nothing typed into the menu: {ev:?}"
    );
    assert_eq!(
        journaled(&p, "first-start-answered"),
        ["model-migration (keys: 2)"]
    );
    assert!(p.capture("codex").contains("model: gpt-5.5"));
}

#[test]
fn the_daemon_answers_the_menu_when_baton_up_leaves_it_the_start() {
    let p = TestProject::new();
    p.write_config(&p.fake_agent("codex", "codex", "model_menu = true\n"));
    // `baton up` with its daemon: the daemon answers, `baton up` waits for it.
    let out = p.ok(&["up"]);
    assert!(out.contains("ready"), "{out}");
    wait_until(
        Duration::from_secs(10),
        "the daemon's journal entry",
        || !journaled(&p, "first-start-answered").is_empty(),
    );
    assert_eq!(
        journaled(&p, "first-start-answered"),
        ["model-migration (keys: 2)"]
    );
    let ev = events(&p, "codex");
    assert_eq!(
        count(&ev, "model-menu"),
        1,
        "one answerer, one answer: {ev:?}"
    );
    assert_eq!(count(&ev, "model-menu existing"), 1, "{ev:?}");
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
    std::fs::write(p.root().join("plan.md"), "- [ ] first\n- [ ] second\n").unwrap();
    let stdout = p.ok(&["run", "plan.md", "--quiet"]);
    assert!(stdout.contains("finished: 2 completed"), "{stdout}");
    let answered = journaled(&p, "first-start-answered");
    assert_eq!(
        answered.len(),
        2,
        "at the start and after the restart: {answered:?}"
    );
    let ev = events(&p, "codex");
    assert_eq!(count(&ev, "model-menu existing"), 2, "{ev:?}");
    assert_eq!(count(&ev, "model-menu new"), 0, "{ev:?}");
    assert_eq!(
        count(&ev, "paste-ignored"),
        0,
        "nothing typed into a menu: {ev:?}"
    );
    let done: Vec<String> = p
        .journal()
        .iter()
        .filter(|e| e["action"] == "task-done")
        .map(|e| e["task"].as_str().unwrap_or("").to_owned())
        .collect();
    assert_eq!(done, ["T-001", "T-002"], "each task completed once");
    for got in prompts(&p.prompt_log("codex")) {
        let text = String::from_utf8_lossy(&got);
        assert!(!text.contains("Try new model"), "{text}");
    }
}

#[test]
fn an_unknown_dialog_at_start_goes_to_a_person_and_is_never_typed_into() {
    let p = TestProject::new();
    // The fake's Claude trust dialog is not one the claude profile knows.
    p.write_config(&p.fake_agent("claude", "claude", "trust_dialog = true\n"));
    p.ok(&["task", "add", "Something to do"]);
    let up = p.run(&["up"]);
    assert_eq!(up.status.code(), Some(1));
    let err = String::from_utf8_lossy(&up.stderr);
    assert!(err.contains("waits for a person"), "{err}");
    wait_until(
        Duration::from_secs(10),
        "the daemon to tell a person",
        || !journaled(&p, "notify-needs-input").is_empty(),
    );
    let person = journaled(&p, "first-start-person");
    assert!(
        person
            .iter()
            .any(|r| r.contains("a dialog baton does not know")),
        "{person:?}"
    );
    // Told once, however many times the daemon looks.
    std::thread::sleep(Duration::from_millis(300));
    assert_eq!(journaled(&p, "notify-needs-input").len(), 1);
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
    let p = TestProject::new();
    p.write_config(&p.fake_agent("codex", "codex", "model_menu = true\n"));
    p.ok(&["up", "--no-daemon", "--no-wait"]);
    wait_until(Duration::from_secs(10), "the model menu", || {
        p.capture("codex").contains("2. Use existing model")
    });
    // --force: no readiness check, the paste lands in the menu.
    let out = p.run(&["send", "codex", "--force", "TASK_ID: T-001 fix the parser"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(3),
        "stdout: {}\nstderr: {err}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(err.contains("prompt not delivered"), "{err}");
    let ev = events(&p, "codex");
    assert_eq!(count(&ev, "paste-ignored"), 1, "{ev:?}");
    assert_eq!(
        count(&ev, "model-menu"),
        0,
        "no Enter chose a model: {ev:?}"
    );
    assert!(prompts(&p.prompt_log("codex")).is_empty());
}
