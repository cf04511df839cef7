//! The checks against the real opencode, offline: a custom OpenAI-compatible provider
//! (`@ai-sdk/openai-compatible`, bundled in the binary) whose `baseURL` is the fake model
//! server (Chat Completions API), in a config file named by `OPENCODE_CONFIG`, with a private
//! HOME and XDG directories, and no update, model-list, share or LSP downloads.
//!
//! Two agents share one fake model server:
//! - `opencode`: the default permissions (its `bash` tool runs without asking);
//! - `opencodeperm`: `"permission": {"bash": "ask"}` (a real permission dialog).

use std::path::Path;
use std::time::Duration;

use baton_core::AgentState;
use baton_fake_model::FakeModel;
use baton_fake_model::Reply;
use baton_fake_model::Rule;
use baton_fake_model::Script;
use serde_json::json;

use crate::common::TestProject;
use crate::gemini::end_by_home;
use crate::gemini::end_leftovers;
use crate::gemini::pane_tree;
use crate::harness::*;

const KEY: &str = "sk-fake-opencode-conformance-0123456789";
const TURN: Duration = Duration::from_secs(60);

const DELIVERIES: Deliveries = Deliveries {
    multi: "MULTI-8b1e",
    french: "FRENCH-2a7c",
    big: "BIG-6f0d",
};

fn bash(command: &str) -> Reply {
    Reply::tool(
        "bash",
        json!({"command": command, "description": "Run a command"}),
    )
}

/// Writes a private HOME with `opencode.json`: the fake provider and model, no autoupdate or
/// sharing, and `permission` as given.
fn write_home(home: &Path, server: &FakeModel, permission: serde_json::Value) {
    std::fs::create_dir_all(home).unwrap();
    let cfg = json!({
        "autoupdate": false,
        "share": "disabled",
        "provider": {"fake": {
            "npm": "@ai-sdk/openai-compatible",
            "name": "Fake",
            "options": {"baseURL": format!("{}/v1", server.base_url()), "apiKey": KEY},
            "models": {"fake-model": {"name": "Fake Model", "tool_call": true}},
        }},
        "model": "fake/fake-model",
        "small_model": "fake/fake-model",
        "permission": permission,
    });
    std::fs::write(home.join("opencode.json"), cfg.to_string()).unwrap();
}

fn agent_toml(name: &str, bin: &Path, home: &Path) -> String {
    let s = |v: &str| serde_json::to_string(v).unwrap();
    let h = home.display().to_string();
    let env = [
        ("HOME", h.clone()),
        ("XDG_CONFIG_HOME", format!("{h}/.config")),
        ("XDG_DATA_HOME", format!("{h}/.local/share")),
        ("XDG_CACHE_HOME", format!("{h}/.cache")),
        ("XDG_STATE_HOME", format!("{h}/.local/state")),
        ("OPENCODE_CONFIG", format!("{h}/opencode.json")),
        ("OPENCODE_DISABLE_AUTOUPDATE", "1".into()),
        ("OPENCODE_DISABLE_MODELS_FETCH", "1".into()),
        ("OPENCODE_DISABLE_SHARE", "1".into()),
        ("OPENCODE_DISABLE_LSP_DOWNLOAD", "1".into()),
    ];
    let env: Vec<String> = env.iter().map(|(k, v)| format!("{k} = {}", s(v))).collect();
    format!(
        "[[agent]]\nname = \"{name}\"\ncli = \"opencode\"\ncommand = {}\nenv = {{ {} }}\n\n",
        s(&bin.display().to_string()),
        env.join(", ")
    )
}

/// Runs every opencode check.
pub fn run(bin: &Path) -> Report {
    let version = version_of(bin);
    let mut report = Report::new("opencode", &version);
    let project = TestProject::new();
    let homes = tempfile::Builder::new()
        .prefix("baton-conf-opencode-")
        .tempdir()
        .unwrap();
    let root = project.root().to_path_buf();
    let server = FakeModel::start(
        Script {
            rules: [
                DELIVERIES.rules(),
                vec![
                    Rule::new(
                        "SLOW-4c3a",
                        vec![Reply {
                            text: Some("ack SLOW-4c3a after a long think".into()),
                            delay_ms: 5000,
                            ..Reply::default()
                        }],
                    ),
                    Rule::new(
                        "TOOL-9e2f",
                        vec![bash("baton task done T-001"), ack("TOOL-9e2f")],
                    ),
                    Rule::new(
                        "PERM-1d5b",
                        vec![bash("touch perm-was-granted.txt"), ack("PERM-1d5b")],
                    ),
                    Rule::new(
                        "LIMIT-7a0e",
                        vec![Reply {
                            status: Some(429),
                            ..Reply::default()
                        }],
                    ),
                ],
            ]
            .concat(),
            ..Script::default()
        },
        Some(fresh_log_path("opencode")),
    )
    .unwrap();
    let (home, home_perm) = (homes.path().join("open"), homes.path().join("perm"));
    write_home(&home, &server, json!({}));
    write_home(&home_perm, &server, json!({"bash": "ask", "edit": "ask"}));
    project.write_config(&format!(
        "{}{}",
        agent_toml("opencode", bin, &home),
        agent_toml("opencodeperm", bin, &home_perm),
    ));
    let screens = Screens {
        project: &project,
        profile: profile("opencode"),
        out_dirs: out_dirs("opencode", &version),
    };
    let mut leftovers = Vec::new();
    report.check("baton up (2 agents ready)", || up_ready(&project));
    for agent in ["opencode", "opencodeperm"] {
        leftovers.extend(pane_tree(&project, agent));
    }
    if report.passed("baton up (2 agents ready)") {
        checks(&mut report, &project, &server, &screens, &root);
    }
    for agent in ["opencode", "opencodeperm"] {
        leftovers.extend(pane_tree(&project, agent));
    }
    drop(server);
    drop(project);
    end_leftovers(&leftovers);
    end_by_home(homes.path());
    report
}

fn checks(
    report: &mut Report,
    project: &TestProject,
    server: &FakeModel,
    screens: &Screens<'_>,
    root: &Path,
) {
    let agent = "opencode";
    report.check("idle detected on the fresh screen", || {
        let s = screens.wait_state(agent, AgentState::Idle, TURN, |_| true)?;
        screens.save_masked("idle-fresh.txt", &s);
        Ok(String::new())
    });
    report.check("extra Enter on an empty box submits nothing", || {
        extra_enter(project, server, agent)
    });
    let finished = |marker: &str| {
        let m = format!("ack {marker}");
        screens.wait_state(agent, AgentState::Finished, TURN, move |s| s.contains(&m))
    };
    DELIVERIES.check(
        report,
        project,
        server,
        agent,
        Received::ExactButASpace,
        finished,
        |_, screen| {
            if let Some(s) = screen {
                screens.save_masked("finished-multiline-reply.txt", s);
            }
        },
    );
    report.check("working detected while the model thinks", || {
        send(project, agent, "SLOW-4c3a think first")?;
        let s = screens.wait_state(agent, AgentState::Working, TURN, |_| true)?;
        screens.save_masked("working-thinking.txt", &s);
        let s = finished("SLOW-4c3a")?;
        screens.save_masked("finished-reply.txt", &s);
        Ok(String::new())
    });
    report.check(
        "opencode runs `baton task done T-001` via bash: COMPLETED",
        || {
            project.ok(&["task", "add", "Conformance task"]);
            project.ok(&["task", "start", "T-001", "--agent", agent]);
            send(project, agent, "TOOL-9e2f please finish T-001")?;
            let s = finished("TOOL-9e2f")?;
            screens.save_masked("finished-task-done-shell.txt", &s);
            let shown: serde_json::Value =
                serde_json::from_str(&project.ok(&["task", "show", "T-001", "--json"]))
                    .map_err(|e| e.to_string())?;
            let status = shown["status"].as_str().unwrap_or("").to_owned();
            if status != "COMPLETED" {
                return Err(format!("T-001 is {status}"));
            }
            Ok("T-001 COMPLETED".into())
        },
    );
    report.check("a 429 is retried: working, never idle", || {
        send(project, agent, "LIMIT-7a0e go")?;
        let s = screens.wait_state(agent, AgentState::Working, TURN, |s| s.contains("retrying"))?;
        screens.save_masked("working-retrying-429.txt", &s);
        Ok(s.lines()
            .find(|l| l.contains("retrying"))
            .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
            .unwrap_or_default())
    });
    report.check("permission dialog with bash: ask", || {
        send(project, "opencodeperm", "PERM-1d5b create the file")?;
        let s = screens.wait_state("opencodeperm", AgentState::NeedsInput, TURN, |_| true)?;
        screens.save_masked("needs-input-bash-permission.txt", &s);
        if root.join("perm-was-granted.txt").exists() {
            return Err("the command ran without approval".into());
        }
        Ok(String::new())
    });
    report.check("no request log holds the API key", || {
        let log = std::fs::read_to_string(log_path("opencode")).unwrap_or_default();
        if log.contains(KEY) {
            return Err("the key is in the request log".into());
        }
        Ok(format!("{} requests logged", log.lines().count()))
    });
}
