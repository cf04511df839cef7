//! A run with real Codex from a fresh CODEX_HOME (and HOME): a config that names an older
//! model (`gpt-5.5`, which has a successor), nothing marked as seen, the project a fresh git
//! repository. Codex opens with its first-start dialogs (trust this folder, then the
//! model-migration menu on 0.169.0 and 0.171.0); baton answers them as the profile says —
//! keeping the configured model — or reports them, and never types a prompt into them.
//! `baton run` of two tasks then completes both, each once.

use std::path::Path;

use baton_fake_model::Reply;
use baton_fake_model::Rule;
use baton_fake_model::Script;

use crate::common::TestProject;
use crate::harness::*;

const KEY: &str = "sk-fake-codex-first-start-0123456789";
const OLD_MODEL: &str = "gpt-5.5";

/// Writes a fresh CODEX_HOME/config.toml: the fake provider and the older model, nothing else.
fn write_fresh_home(home: &Path, base_url: &str) {
    let settings = format!(
        "model = \"{OLD_MODEL}\"\napproval_policy = \"never\"\nsandbox_mode = \"danger-full-access\"\n"
    );
    write_codex_config(home, &settings, base_url, 0);
}

/// Adds the check to the report of this Codex binary.
pub fn check(bin: &Path, report: &mut Report) {
    report.check(
        "fresh CODEX_HOME: first-start dialogs answered (model kept), 2 tasks COMPLETED once",
        || attempt(bin),
    );
}

/// One try, from a fresh project, CODEX_HOME and fake model server.
fn attempt(bin: &Path) -> Result<String, String> {
    let project = TestProject::new();
    let root = project.root().to_path_buf();
    crate::common::git(&root, &["init", "-q"]);
    let home = temp_dir("baton-conf-codex-fresh-");
    let baton = baton_path();
    let done = |id: &str| {
        vec![
            Reply::tool(
                "exec_command",
                serde_json::json!({"cmd": format!("{baton} task done {id} --note first-start"), "login": false}),
            ),
            Reply::text(&format!("Reported {id}.")),
        ]
    };
    let server = serve(
        Script {
            rules: vec![
                Rule::new("TASK_ID: T-001", done("T-001")),
                Rule::new("TASK_ID: T-002", done("T-002")),
            ],
            ..Script::default()
        },
        "codex-first-start",
    );
    write_fresh_home(home.path(), &server.base_url());
    crate::codex::two_tasks(&project, bin, home.path(), KEY);
    let result = (|| {
        let run = PlanRun::of(&project, "codex")?;
        run.ended_in_time()?;
        let journal = &run.journal;
        let context = || run.context();
        let results = |action: &str| -> Vec<String> {
            journal
                .iter()
                .filter(|e| e["action"] == action)
                .map(|e| e["result"].as_str().unwrap_or("").to_owned())
                .collect()
        };
        let answered = results("first-start-answered");
        let person = results("first-start-person");
        // Both tasks, each completed once, by the agent's own report.
        let done: Vec<String> = journal
            .iter()
            .filter(|e| e["action"] == "task-done")
            .map(|e| e["task"].as_str().unwrap_or("").to_owned())
            .collect();
        if done != ["T-001", "T-002"] {
            return Err(format!("task-done entries {done:?}{}", context()));
        }
        // The model the user configured is the one every request names, and no request
        // carries the menu's text (nothing was typed into it).
        let requests = server.requests();
        let mains: Vec<_> = requests
            .iter()
            .filter(|r| r.turn.as_ref().is_some_and(|t| t.kind == "main"))
            .collect();
        let models: std::collections::BTreeSet<String> = requests
            .iter()
            .filter_map(|r| r.body["model"].as_str().map(str::to_owned))
            .collect();
        if mains.is_empty() || models.iter().any(|m| m != OLD_MODEL) {
            return Err(format!(
                "{} main requests; models named: {models:?}, want only {OLD_MODEL}{}",
                mains.len(),
                context()
            ));
        }
        for r in &requests {
            let body = r.body.to_string();
            for menu in ["Try new model", "Use existing model", "Trust and continue"] {
                if body.contains(menu) {
                    return Err(format!(
                        "request {} carries the dialog's text `{menu}`{}",
                        r.seq,
                        context()
                    ));
                }
            }
        }
        let config =
            std::fs::read_to_string(home.path().join("config.toml")).map_err(|e| e.to_string())?;
        if !config.contains(&format!("model = \"{OLD_MODEL}\"")) {
            return Err(format!("the configured model changed:\n{config}"));
        }
        if !person.is_empty() {
            return Err(format!(
                "a dialog went to a person: {person:?}{}",
                context()
            ));
        }
        let menu = answered.iter().any(|a| a.starts_with("model-migration"));
        Ok(format!(
            "{}; every request names {OLD_MODEL}{}",
            if answered.is_empty() {
                "no first-start dialog showed".to_owned()
            } else {
                format!("answered: {}", answered.join(", "))
            },
            if menu {
                ""
            } else {
                " (this version showed no model-migration menu)"
            }
        ))
    })();
    drop(server);
    result
}
