//! The checks against the real Claude Code.
//!
//! One project, three agents, each with its own private HOME (onboarding done) and its own
//! fake model server:
//! - `claude`: API-key mode, `--dangerously-skip-permissions` (delivery, states, hooks, task);
//! - `claudesub`: subscription mode (`CLAUDE_CODE_OAUTH_TOKEN`), the server sends the unified
//!   rate-limit headers, then a 429 (quota footer, statusLine quota, usage-limit screen);
//! - `claudeperm`: `--permission-mode default` (a real permission dialog).

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Stdio;
use std::time::Duration;

use baton_core::AgentState;
use baton_fake_model::FakeModel;
use baton_fake_model::Reply;
use baton_fake_model::Rule;
use baton_fake_model::Script;
use serde_json::json;

use crate::harness::*;

pub const KEY: &str = "sk-ant-api03-fake-conformance-key-0123456789abcdef";
const OAUTH: &str = "sk-ant-oat01-fake-conformance-oauth-0123456789";

const DELIVERIES: Deliveries = Deliveries {
    multi: "MULTI-7f3a",
    french: "FRENCH-2b8d",
    big: "BIG-1c9e",
    received: Received::Holds,
};

/// Writes the private HOME of one agent: onboarding done, the project trusted, the API key
/// approved.
pub fn write_home(home: &Path, project: &Path) {
    std::fs::create_dir_all(home).unwrap();
    let cfg = json!({
        "hasCompletedOnboarding": true,
        "theme": "dark",
        "bypassPermissionsModeAccepted": true,
        "customApiKeyResponses": {"approved": [&KEY[KEY.len() - 20..]], "rejected": []},
        "projects": {project.display().to_string(): {"hasTrustDialogAccepted": true}},
    });
    std::fs::write(home.join(".claude.json"), cfg.to_string()).unwrap();
}

pub fn agent_toml(name: &str, bin: &Path, args: &str, env: &BTreeMap<&str, String>) -> String {
    let env: Vec<String> = env
        .iter()
        .map(|(k, v)| format!("{k} = {}", toml_str(v)))
        .collect();
    format!(
        "[[agent]]\nname = \"{name}\"\ncli = \"claude\"\ncommand = {}\nenv = {{ {} }}\n\n",
        toml_str(&format!("{} {args}", bin.display())),
        env.join(", ")
    )
}

fn toml_str(s: &str) -> String {
    serde_json::to_string(s).unwrap()
}

pub fn base_env(home: &Path, server: &FakeModel) -> BTreeMap<&'static str, String> {
    claude_env(home, server).into_iter().collect()
}

/// Runs every Claude check.
pub fn run(bin: &Path) -> Report {
    let (version, mut report, project, homes) = start("claude", bin);
    let root = project.root().to_path_buf();

    let main = serve(
        DELIVERIES.script(vec![
            Rule::new(
                "SLOW-5e21",
                vec![Reply {
                    text: Some("ack SLOW-5e21 streaming slowly word by word until the end".into()),
                    delay_ms: 1500,
                    chunks: Some(12),
                    chunk_delay_ms: 500,
                    ..Reply::default()
                }],
            ),
            tool_turn(
                "TASK-9d04",
                Reply::tool(
                    "Bash",
                    json!({"command": "baton task done T-001 --note 'done by the conformance test'", "description": "Mark task T-001 done"}),
                ),
            ),
        ]),
        "claude",
    );
    let reset = reset_in_3h();
    let sub = serve(
        Script {
            rules: vec![
                Rule::new("QUOTA-4a7b", vec![ack("QUOTA-4a7b")]),
                Rule::new("LIMIT-8c2f", vec![usage_limit(reset)]),
            ],
            headers: unified("allowed_warning", "0.93", reset),
            ..Script::default()
        },
        "claudesub",
    );
    let perm = serve(
        Script {
            rules: vec![tool_turn(
                "PERM-6e1d",
                Reply::tool(
                    "Bash",
                    json!({"command": "touch perm-was-granted.txt", "description": "Create a file"}),
                ),
            )],
            ..Script::default()
        },
        "claudeperm",
    );

    let mut agents = String::new();
    for (name, server, args, secret) in [
        (
            "claude",
            &main,
            "--dangerously-skip-permissions",
            ("ANTHROPIC_API_KEY", KEY),
        ),
        (
            "claudesub",
            &sub,
            "--dangerously-skip-permissions",
            ("CLAUDE_CODE_OAUTH_TOKEN", OAUTH),
        ),
        (
            "claudeperm",
            &perm,
            "--permission-mode default",
            ("ANTHROPIC_API_KEY", KEY),
        ),
    ] {
        let home = homes.path().join(name);
        write_home(&home, &root);
        let mut env = base_env(&home, server);
        env.insert(secret.0, secret.1.into());
        agents.push_str(&agent_toml(name, bin, args, &env));
    }
    project.write_config(&agents);

    let screens = Screens::new(&project, "claude", &version);
    report.check("baton up (3 agents ready)", || {
        let child = project
            .cmd(&["up", "--no-daemon"])
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| e.to_string())?;
        // Watch the screens while `baton up` waits, to see the start-up states.
        let mut seen: Vec<AgentState> = Vec::new();
        let pid = child.id();
        let out = std::thread::scope(|s| {
            let h = s.spawn(|| child.wait_with_output());
            while !h.is_finished() {
                if project.tmux(&["has-session"]).status.success()
                    && let Some(w) = String::from_utf8_lossy(
                        &project
                            .tmux(&["list-windows", "-a", "-F", "#{window_name}"])
                            .stdout,
                    )
                    .lines()
                    .find(|l| *l == "claude")
                {
                    let screen = project.capture(w);
                    let d = baton_core::detect(&screens.profile, &screen);
                    if d.state == AgentState::Starting && !seen.contains(&AgentState::Starting) {
                        screens.save("claude-starting.txt", &screen);
                    }
                    if seen.last() != Some(&d.state) {
                        seen.push(d.state);
                    }
                }
                std::thread::sleep(Duration::from_millis(20));
            }
            h.join().unwrap()
        })
        .map_err(|e| format!("baton up (pid {pid}): {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "baton up failed: {}{}",
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        let states: Vec<&str> = seen.iter().map(|s| s.as_str()).collect();
        if seen.iter().any(|s| {
            !matches!(
                s,
                AgentState::Unknown | AgentState::Starting | AgentState::Idle
            )
        }) {
            return Err(format!("unexpected states during start-up: {states:?}"));
        }
        Ok(format!(
            "states seen while starting: {}",
            states.join(" → ")
        ))
    });
    if !report.passed("baton up (3 agents ready)") {
        return report;
    }

    report.check("idle detected on the fresh screen", || {
        screens.idle("claude", "claude-idle.txt")
    });

    DELIVERIES.check(
        &mut report,
        &screens,
        &main,
        "claude",
        "claude-finished.txt",
        Some("✻ <Verb>ed for Ns"),
    );

    report.check("working detected during a slow stream", || {
        screens.working("claude", "SLOW-5e21", "stream slowly", "claude-working.txt")?;
        Ok(String::new())
    });
    report.check(
        "Claude runs `baton task done T-001` via Bash: COMPLETED",
        || {
            screens.completes_t001("claude", "TASK-9d04", None)?;
            let done = journal(&project, "task-done");
            if !done.iter().any(|e| e["actor"] == "claude") {
                return Err(format!("no task-done by claude in the journal: {done:?}"));
            }
            let reqs = main.requests();
            let result = reqs
                .iter()
                .filter(|r| {
                    r.turn.as_ref().is_some_and(|t| {
                        t.step == 1 && t.prompt.as_deref().is_some_and(|p| p.contains("TASK-9d04"))
                    })
                })
                .count();
            if result == 0 {
                return Err("the tool result never came back to the model".into());
            }
            Ok("T-001 COMPLETED by actor claude".into())
        },
    );
    report.check("Stop hook reaches baton (agent-turn-end)", || {
        // Five turns so far; the hook runs after each.
        let entries = turn_ends(&project, "claude", 5)?;
        if journal_holds(&project, &[KEY, OAUTH]) {
            return Err("a secret reached the journal".into());
        }
        Ok(format!("{} entries", entries.len()))
    });
    report.check(
        "statusLine cost and transcript tokens reach the store (T-001's share)",
        || {
            // The statusLine refreshes a moment after the turn: wait for T-001's share.
            let shown = wait_for(
                Duration::from_secs(20),
                "a cost and tokens for T-001",
                || {
                    let t: serde_json::Value =
                        serde_json::from_str(&project.ok(&["task", "show", "T-001", "--json"]))
                            .ok()?;
                    let cost = t["cost_usd"].as_f64().filter(|c| *c > 0.0);
                    let input = t["input_tokens"].as_u64().filter(|n| *n > 0);
                    (cost.is_some() && input.is_some()).then_some(t)
                },
            )
            .map_err(|e| {
                let t = project.ok(&["task", "show", "T-001", "--json"]);
                format!("{e}; T-001: {t}")
            })?;
            Ok(format!(
                "T-001's share: ${}, {} in / {} out tokens",
                shown["cost_usd"], shown["input_tokens"], shown["output_tokens"]
            ))
        },
    );
    report.check("statusLine hook runs and its line is shown", || {
        screens.wait_state("claude", AgentState::Finished, TURN, |s| {
            s.contains("baton · claude")
        })?;
        Ok("`baton · claude` under the prompt box".into())
    });

    // Subscription mode: quota footer, statusLine rate_limits, the usage-limit screen. The
    // first prompt to an agent idle since its start has stayed in 2.1.329's box through three
    // Enters and then been taken (a loaded machine): these checks, whose subject is not
    // delivery, judge the screen that follows and keep baton send's verdict in their note.
    report.check(
        "subscription: quota footer detected (93% of 5-hour limit)",
        || {
            let late = send_maybe_late(&project, "claudesub", "QUOTA-4a7b hello")?;
            let s = screens.wait_state("claudesub", AgentState::Finished, TURN, |s| {
                s.contains("ack QUOTA-4a7b") && s.contains("% of your")
            })?;
            screens.save("claude-finished-quota.txt", &s);
            let d = baton_core::detect(&screens.profile, &s);
            let q = d.quota.first().ok_or("no quota line detected")?;
            Ok(format!("{q:?}{late}"))
        },
    );
    report.check("statusLine hook records quota readings (5h window)", || {
        let readings = wait_for(Duration::from_secs(20), "a session-5h quota reading", || {
            let conn = rusqlite::Connection::open(root.join(".baton/state.db")).ok()?;
            let r: Option<(f64, Option<i64>)> = conn
                .query_row(
                    "SELECT used_percent, resets_at_ms FROM quota_readings WHERE agent = 'claudesub' AND window = 'session-5h' ORDER BY id DESC LIMIT 1",
                    [],
                    |r| Ok((r.get(0)?, r.get(1)?)),
                )
                .ok();
            r
        })?;
        if (readings.0 - 93.0).abs() > 1.0 {
            return Err(format!("5h reading is {}%, want 93%", readings.0));
        }
        if readings.1 != Some(reset as i64 * 1000) {
            return Err(format!("reset {:?}, want {}", readings.1, reset * 1000));
        }
        Ok(format!("{}% used, resets at {reset}", readings.0))
    });
    report.check(
        "usage-limit screen (HTTP 429, unified status rejected)",
        || {
            send(&project, "claudesub", "LIMIT-8c2f hello again")?;
            // The limit line alone reads rate-limited. Some runs of 2.1.332 draw a menu under
            // it ("What do you want to do? ❯ 1. Stop and wait for limit to reset"): a dialog a
            // person answers (detector rule 5), with the limit line still read as evidence.
            let (s, menu) = wait_for(TURN, "claudesub to be rate-limited", || {
                let (s, d) = screens.look("claudesub");
                let limit = d
                    .evidence
                    .iter()
                    .any(|e| e.state == AgentState::RateLimited);
                match d.state {
                    AgentState::RateLimited => Some((s, false)),
                    AgentState::NeedsInput if limit => Some((s, true)),
                    _ => None,
                }
            })
            .map_err(|e| {
                let (s, d) = screens.look("claudesub");
                format!("{e}; last screen ({}):\n{}", d.state, trim(&s))
            })?;
            let file = if menu {
                "claude-needs-input-limit-menu.txt"
            } else {
                "claude-rate-limited.txt"
            };
            screens.save(file, &s);
            let line = s
                .lines()
                .find(|l| l.contains("limit"))
                .map(str::trim)
                .unwrap_or("")
                .to_owned();
            Ok(if menu {
                format!("{line} (with the limit menu: needs-input)")
            } else {
                line
            })
        },
    );

    report.check("permission dialog without skip-permissions", || {
        screens.permission_dialog(
            "claudeperm",
            "PERM-6e1d create the file",
            "claude-needs-input-bash.txt",
            true,
        )
    });

    report
}
