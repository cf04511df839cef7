//! The checks against the real Codex CLI: a private CODEX_HOME whose config points a custom
//! provider at the fake model server (Responses API), `baton up` adding the notify hook.

use std::path::Path;

use baton_core::quota::QuotaWindow;
use baton_fake_model::Reply;
use baton_fake_model::Rule;
use baton_fake_model::Script;

use crate::common::TestProject;
use crate::harness::*;

pub const KEY: &str = "sk-fake-codex-conformance-0123456789";

const DELIVERIES: Deliveries = Deliveries {
    multi: "MULTI-3d5c",
    french: "FRENCH-6b2e",
    big: "BIG-8a1f",
    received: Received::Exact,
};

/// Writes CODEX_HOME/config.toml: the fake provider, the project trusted, and the notices
/// this version shows on a first start already seen.
pub fn write_codex_home(home: &Path, project: &Path, base_url: &str) {
    let settings = format!(
        r#"model = "gpt-6-sol"
model_reasoning_effort = "medium"
approval_policy = "never"
sandbox_mode = "danger-full-access"

[projects."{}"]
trust_level = "trusted"

[tui]
screen_reader_detection_done = true

[tui.model_availability_nux]
"gpt-6-sol" = 1
"gpt-6.1-sol" = 1

[notice]
hide_full_access_warning = true

[notice.model_migrations]
"gpt-5.5" = "gpt-6-sol"
"#,
        project.display()
    );
    write_codex_config(home, &settings, base_url, 0);
}

/// Returns the `[[agent]]` table of a Codex agent whose CODEX_HOME is `home`, with `key` in
/// FAKE_API_KEY; with `private_home`, HOME too: the login shell of its `exec_command` then
/// reads no profile file of the test's user (which may change PATH or, with some setups,
/// never let the shell end).
pub fn agent_toml(name: &str, bin: &Path, home: &Path, private_home: bool, key: &str) -> String {
    let home = serde_json::to_string(&home.display().to_string()).unwrap();
    format!(
        "[[agent]]\nname = \"{name}\"\ncli = \"codex\"\ncommand = {}\nenv = {{ CODEX_HOME = {home}, {}FAKE_API_KEY = \"{key}\" }}\n",
        serde_json::to_string(&format!("{} --no-daemon", bin.display())).unwrap(),
        if private_home {
            format!("HOME = {home}, ")
        } else {
            String::new()
        },
    )
}

/// Writes the config of one agent `codex` whose CODEX_HOME and HOME are `home` (`key` in
/// FAKE_API_KEY), with no test tasks, and a plan of two tasks.
pub fn two_tasks(project: &TestProject, bin: &Path, home: &Path, key: &str) {
    project.write_config(&format!(
        "{}\n[run]\ntest_tasks = false\n",
        agent_toml("codex", bin, home, true, key)
    ));
    project.write_plan("- [ ] first\n- [ ] second\n");
}

/// Runs every Codex check.
pub fn run(bin: &Path) -> Report {
    let (version, mut report, project, home) = start("codex", bin);
    let root = project.root().to_path_buf();
    let script = DELIVERIES.script(vec![
        slow_ack("SLOW-0f9a"),
        tool_turn(
            "TOOL-2c7d",
            Reply::tool(
                "exec_command",
                // Not a login shell: bash -l resets PATH from /etc/profile, dropping
                // the baton directory `baton up` put first (see docs/conformance.md).
                serde_json::json!({"cmd": "baton task done T-001", "login": false}),
            ),
        ),
    ]);
    let headers = [
        ("x-codex-primary-used-percent", "42.5"),
        ("x-codex-primary-window-minutes", "300"),
        ("x-codex-primary-reset-at", "1795241571"),
        ("x-codex-secondary-used-percent", "17.0"),
        ("x-codex-secondary-window-minutes", "10080"),
        ("x-codex-secondary-reset-at", "1795841571"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    let server = serve(Script { headers, ..script }, "codex");
    write_codex_home(home.path(), &root, &server.base_url());
    project.write_config(&agent_toml("codex", bin, home.path(), false, KEY));
    let screens = Screens::new(&project, "codex", &version);

    report.check("baton up (agent ready)", || up_ready(&project));
    if !report.passed("baton up (agent ready)") {
        return report;
    }
    report.check("idle detected on the fresh screen", || {
        screens.idle("codex", "codex-idle.txt")
    });
    DELIVERIES.check(
        &mut report,
        &screens,
        &server,
        "codex",
        "codex-finished.txt",
        Some("Worked for Ns"),
    );
    report.check("working detected while the model thinks", || {
        screens.working("codex", "SLOW-0f9a", "think first", "codex-working.txt")?;
        Ok(String::new())
    });
    report.check(
        "Codex runs `baton task done T-001` via exec_command: COMPLETED",
        || {
            screens.completes_t001("codex", "TOOL-2c7d", None)?;
            Ok("T-001 COMPLETED".into())
        },
    );
    report.check(
        "notify reaches baton (agent-turn-end, title turns ignored)",
        || {
            // Five turns so far; each also had a title request whose notify must be ignored.
            let entries = turn_ends(&project, "codex", 5)?;
            let threads: std::collections::BTreeSet<String> = entries
                .iter()
                .filter_map(|e| {
                    serde_json::from_str::<serde_json::Value>(e["detail"].as_str()?).ok()
                })
                .map(|d| d["thread_id"].as_str().unwrap_or("").to_owned())
                .collect();
            if entries.len() != 5 || threads.len() != 1 {
                return Err(format!(
                    "{} entries from {} thread(s), want 5 from 1 (title turns counted?)",
                    entries.len(),
                    threads.len()
                ));
            }
            if journal_holds(&project, &[KEY]) {
                return Err("the key reached the journal".into());
            }
            Ok("5 turns, 5 entries, one thread".into())
        },
    );
    report.check(
        "rate limits in the rollout file, read by the quota source",
        || {
            let files = rollout_files(&home.path().join("sessions"));
            let mut readings = Vec::new();
            for f in &files {
                let text = std::fs::read_to_string(f).unwrap_or_default();
                readings.extend(baton_core::quota::rollout::latest(&text));
            }
            let five = readings.iter().find(|r| r.window == QuotaWindow::Session5h);
            let week = readings.iter().find(|r| r.window == QuotaWindow::Weekly);
            match (five, week) {
                (Some(f), Some(w))
                    if f.used_percent == 42.5
                        && w.used_percent == 17.0
                        && f.resets_at_ms == Some(1_795_241_571_000) =>
                {
                    Ok(format!(
                        "{} rollout file(s): 5h 42.5%, weekly 17%",
                        files.len()
                    ))
                }
                _ => Err(format!("readings {readings:?} in {files:?}")),
            }
        },
    );
    report.check(
        "token totals in the rollout file, recorded as usage (one agent in its CODEX_HOME)",
        || {
            let files = rollout_files(&home.path().join("sessions"));
            let totals: Vec<_> = files
                .iter()
                .filter_map(|f| std::fs::read_to_string(f).ok())
                .filter_map(|t| baton_core::usage::sources::rollout(&t))
                .collect();
            let Some(newest) = totals.iter().max_by_key(|u| u.at_ms) else {
                return Err(format!("no token_count with info in {files:?}"));
            };
            project.ok(&["usage", "--refresh"]);
            let conn = rusqlite::Connection::open(root.join(".baton/state.db"))
                .map_err(|e| e.to_string())?;
            let stored: Option<i64> = conn
                .query_row(
                    "SELECT input_tokens FROM usage_readings WHERE agent = 'codex' AND source = 'codex-rollout' ORDER BY id DESC LIMIT 1",
                    [],
                    |r| r.get(0),
                )
                .map_err(|e| format!("no usage reading of codex: {e}"))?;
            match (newest.usage.input_tokens, stored) {
                (Some(n), Some(s)) if n > 0 && s > 0 => Ok(format!(
                    "{n} input / {} output tokens in the newest rollout; {s} input stored",
                    newest.usage.output_tokens.unwrap_or(0)
                )),
                _ => Err(format!("rollout {newest:?}, stored {stored:?}")),
            }
        },
    );
    report.check("no request carried the API key in the log", || {
        key_not_logged("codex", KEY)
    });
    drop(server);
    drop(project);
    reports_without_baton_on_path(bin, &mut report);
    report
}

/// `baton run` of two tasks with a real Codex whose shell tool runs a login shell (`bash
/// -lc`, the default): /etc/profile resets PATH, and baton (the test binary's directory) is
/// not on the system PATH. The model first runs a bare `baton task done T-001`, as a model
/// that ignores the prompt would: "command not found" on the screen is journaled and answered
/// with baton's full path, which the model then runs. For T-002 it runs the command the prompt
/// gives. Both end COMPLETED by the agent's own report, none for review.
fn reports_without_baton_on_path(bin: &Path, report: &mut Report) {
    let project = TestProject::new();
    let home = temp_dir("baton-conf-codex-path-");
    let root = project.root().to_path_buf();
    let baton = baton_path();
    let exec = |cmd: String| Reply::tool("exec_command", serde_json::json!({ "cmd": cmd }));
    let server = serve(
        Script {
            rules: vec![
                Rule::new(
                    "TASK_ID: T-001",
                    vec![
                        exec("baton task done T-001 --note naive".into()),
                        Reply::text("baton is not installed here."),
                    ],
                ),
                Rule::new(
                    &format!("full path: {baton} task done T-001"),
                    vec![
                        exec(format!("{baton} task done T-001 --note answered")),
                        Reply::text("Reported T-001."),
                    ],
                ),
                Rule::new(
                    &format!("Run: {baton} task done T-002"),
                    vec![
                        exec(format!("{baton} task done T-002 --note as-told")),
                        Reply::text("Reported T-002."),
                    ],
                ),
            ],
            ..Script::default()
        },
        "codex-path",
    );
    write_codex_home(home.path(), &root, &server.base_url());
    // HOME is a fresh directory too: no profile file of the test's user adds baton's directory.
    two_tasks(&project, bin, home.path(), KEY);
    report.check(
        "baton not on the login shell's PATH: both tasks reported by Codex",
        || {
            let run = PlanRun::of(&project, "codex")?;
            run.ended_in_time()?;
            let journal = &run.journal;
            let done: Vec<(String, String)> = journal
                .iter()
                .filter(|e| e["action"] == "task-done")
                .map(|e| (e["task"].to_string(), e["actor"].to_string()))
                .collect();
            let want = [
                ("\"T-001\"".to_owned(), "\"codex\"".to_owned()),
                ("\"T-002\"".to_owned(), "\"codex\"".to_owned()),
            ];
            if done != want || journal.iter().any(|e| e["action"] == "task-review") {
                return Err(format!("task-done entries {done:?}{}", run.context()));
            }
            let failed = journal
                .iter()
                .find(|e| e["action"] == "report-failed")
                .ok_or_else(|| format!("no report-failed entry{}", run.context()))?;
            Ok(format!(
                "T-001 after the answer to `{}`, T-002 as the prompt said",
                failed["result"].as_str().unwrap_or("")
            ))
        },
    );
}

fn rollout_files(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    let Ok(entries) = std::fs::read_dir(dir) else {
        return out;
    };
    for e in entries.flatten() {
        let p = e.path();
        if p.is_dir() {
            out.extend(rollout_files(&p));
        } else if p
            .file_name()
            .is_some_and(|n| n.to_string_lossy().starts_with("rollout-"))
        {
            out.push(p);
        }
    }
    out
}
