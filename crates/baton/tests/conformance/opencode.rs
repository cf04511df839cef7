//! The checks against the real opencode, offline: a custom OpenAI-compatible provider
//! (`@ai-sdk/openai-compatible`, bundled in the binary) whose `baseURL` is the fake model
//! server (Chat Completions API), in a config file named by `OPENCODE_CONFIG`, with a private
//! HOME and XDG directories, and no update, model-list, share or LSP downloads.
//!
//! Two agents share one fake model server:
//! - `opencode`: the default permissions (its `bash` tool runs without asking);
//! - `opencodeperm`: `"permission": {"bash": "ask"}` (a real permission dialog).

use std::path::Path;

use baton_core::AgentState;
use baton_fake_model::FakeModel;
use baton_fake_model::Reply;
use serde_json::json;

use crate::gemini::pane_trees;
use crate::gemini::tear_down;
use crate::harness::*;

const KEY: &str = "sk-fake-opencode-conformance-0123456789";
/// The agents: the default permissions, and `bash: ask`.
const AGENTS: [&str; 2] = ["opencode", "opencodeperm"];

const SHELL: ShellChecks = ShellChecks {
    slow: "SLOW-4c3a",
    task: "TOOL-9e2f",
    perm: "PERM-1d5b",
    limit: "LIMIT-7a0e",
};

const DELIVERIES: Deliveries = Deliveries {
    multi: "MULTI-8b1e",
    french: "FRENCH-2a7c",
    big: "BIG-6f0d",
    received: Received::ExactButASpace,
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
    let (version, mut report, project, homes) = start("opencode", bin);
    let server = serve(DELIVERIES.script(SHELL.rules(bash)), "opencode");
    let (home, home_perm) = (homes.path().join("open"), homes.path().join("perm"));
    write_home(&home, &server, json!({}));
    write_home(&home_perm, &server, json!({"bash": "ask", "edit": "ask"}));
    project.write_config(&format!(
        "{}{}",
        agent_toml("opencode", bin, &home),
        agent_toml("opencodeperm", bin, &home_perm),
    ));
    let screens = Screens::new(&project, "opencode", &version).masked();
    report.check("baton up (2 agents ready)", || up_ready(&project));
    let mut leftovers = pane_trees(&project, &AGENTS);
    if report.passed("baton up (2 agents ready)") {
        checks(&mut report, &server, &screens);
    }
    leftovers.extend(pane_trees(&project, &AGENTS));
    tear_down(server, project, &leftovers, homes.path());
    report
}

fn checks(report: &mut Report, server: &FakeModel, screens: &Screens<'_>) {
    let project = screens.project;
    let agent = "opencode";
    report.check("idle detected on the fresh screen", || {
        screens.idle(agent, "idle-fresh.txt")
    });
    DELIVERIES.check(
        report,
        screens,
        server,
        agent,
        "finished-multiline-reply.txt",
        None,
    );
    report.check("working detected while the model thinks", || {
        let s = screens.working(agent, SHELL.slow, "think first", "working-thinking.txt")?;
        screens.save("finished-reply.txt", &s);
        Ok(String::new())
    });
    report.check(
        "opencode runs `baton task done T-001` via bash: COMPLETED",
        || {
            screens.completes_t001(agent, SHELL.task, Some("finished-task-done-shell.txt"))?;
            Ok("T-001 COMPLETED".into())
        },
    );
    report.check("a 429 is retried: working, never idle", || {
        send(project, agent, &format!("{} go", SHELL.limit))?;
        let s = screens.wait_state(agent, AgentState::Working, TURN, |s| s.contains("retrying"))?;
        screens.save("working-retrying-429.txt", &s);
        Ok(s.lines()
            .find(|l| l.contains("retrying"))
            .map(|l| l.split_whitespace().collect::<Vec<_>>().join(" "))
            .unwrap_or_default())
    });
    report.check("permission dialog with bash: ask", || {
        screens.permission_dialog(
            "opencodeperm",
            &format!("{} create the file", SHELL.perm),
            "needs-input-bash-permission.txt",
            false,
        )
    });
    report.check("no request log holds the API key", || {
        key_not_logged("opencode", KEY)
    });
}
