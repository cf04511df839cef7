//! The checks against the real Gemini CLI, offline: `GOOGLE_GEMINI_BASE_URL` points the CLI at
//! the fake model server (Gemini API), `GEMINI_API_KEY` is a fake key, and each agent has a
//! private HOME whose `.gemini/settings.json` selects API-key auth, turns off updates and usage
//! statistics, and whose `.gemini/trustedFolders.json` trusts the project (no trust dialog).
//!
//! Two agents share one fake model server:
//! - `gemini`: `--yolo` (delivery, states, the task reported through `run_shell_command`, a 429);
//! - `geminiperm`: the default approval mode (a real tool confirmation dialog).

use std::path::Path;
use std::time::Duration;

use baton_core::AgentState;
use baton_fake_model::FakeModel;
use baton_fake_model::Reply;
use baton_fake_model::Rule;
use baton_fake_model::Script;
use serde_json::json;

use crate::common::TestProject;
use crate::harness::*;

const KEY: &str = "AIzaFakeGeminiConformanceKey0123456789";
const TURN: Duration = Duration::from_secs(60);

const DELIVERIES: Deliveries = Deliveries {
    multi: "MULTI-4e7a",
    french: "FRENCH-1f3b",
    big: "BIG-c2d9",
};

/// Writes a private HOME: API-key auth, no update checks, no usage statistics, the project
/// trusted. Keys of every installed release are set (0.20: `disableAutoUpdate`; 0.43+:
/// `enableAutoUpdate`): an old release left alone tries to update itself with npm.
pub fn write_home(home: &Path, project: &Path) {
    let dir = home.join(".gemini");
    std::fs::create_dir_all(&dir).unwrap();
    let settings = json!({
        "security": {"auth": {"selectedType": "gemini-api-key"}},
        "general": {"enableAutoUpdate": false, "enableAutoUpdateNotification": false,
                    "disableAutoUpdate": true, "disableUpdateNag": true},
        "privacy": {"usageStatisticsEnabled": false},
        "telemetry": {"enabled": false},
    });
    std::fs::write(dir.join("settings.json"), settings.to_string()).unwrap();
    let trusted = json!({project.display().to_string(): "TRUST_FOLDER"});
    std::fs::write(dir.join("trustedFolders.json"), trusted.to_string()).unwrap();
}

pub fn agent_toml(name: &str, bin: &Path, args: &str, home: &Path, server: &FakeModel) -> String {
    let s = |v: &str| serde_json::to_string(v).unwrap();
    format!(
        "[[agent]]\nname = \"{name}\"\ncli = \"gemini\"\ncommand = {}\nenv = {{ HOME = {}, GEMINI_API_KEY = \"{KEY}\", GOOGLE_GEMINI_BASE_URL = {} }}\n\n",
        s(format!("{} {args}", bin.display()).trim()),
        s(&home.display().to_string()),
        s(&server.base_url()),
    )
}

/// Returns the pids of a pane's process tree. Gemini CLI 0.43+ relaunches itself as a child
/// node process that outlives the pane when the tmux server is killed: the tier ends them by
/// pid.
pub fn pane_tree(project: &TestProject, agent: &str) -> Vec<u32> {
    // A window that is gone (its CLI exited during start-up) has no tree.
    let Some(pane) = project.try_pane(agent) else {
        return Vec::new();
    };
    let out = project.tmux(&["display-message", "-p", "-t", &pane, "#{pane_pid}"]);
    let Ok(root) = String::from_utf8_lossy(&out.stdout).trim().parse::<u32>() else {
        return Vec::new();
    };
    let parents: Vec<(u32, u32)> = std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let pid: u32 = e.file_name().to_str()?.parse().ok()?;
            let stat = std::fs::read_to_string(e.path().join("stat")).ok()?;
            // "pid (comm) state ppid …": the comm may hold spaces, so split after the ')'.
            let ppid = stat
                .rsplit_once(')')?
                .1
                .split_whitespace()
                .nth(1)?
                .parse()
                .ok()?;
            Some((pid, ppid))
        })
        .collect();
    let mut tree = vec![root];
    let mut i = 0;
    while i < tree.len() {
        let p = tree[i];
        tree.extend(parents.iter().filter(|(_, pp)| *pp == p).map(|(c, _)| *c));
        i += 1;
    }
    tree
}

/// Ends the processes left of a pane tree (by pid, after the tmux server is gone).
pub fn end_leftovers(pids: &[u32]) {
    for pid in pids {
        if Path::new(&format!("/proc/{pid}")).exists() {
            let _ = std::process::Command::new("kill")
                .arg(pid.to_string())
                .status();
        }
    }
}

/// Ends every process whose environment holds `HOME=<home>/…`: a Gemini CLI 0.20 relaunch
/// can start after the pane's tree was read.
pub fn end_by_home(home: &Path) {
    let prefix = format!("HOME={}", home.display());
    for e in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Some(pid) = e.file_name().to_str().and_then(|n| n.parse::<u32>().ok()) else {
            continue;
        };
        let Ok(env) = std::fs::read(e.path().join("environ")) else {
            continue;
        };
        if env
            .split(|b| *b == 0)
            .any(|v| v.starts_with(prefix.as_bytes()))
        {
            end_leftovers(&[pid]);
        }
    }
}

/// Runs every Gemini CLI check.
pub fn run(bin: &Path) -> Report {
    let version = version_of(bin);
    let mut report = Report::new("gemini", &version);
    let project = TestProject::new();
    let homes = tempfile::Builder::new()
        .prefix("baton-conf-gemini-")
        .tempdir()
        .unwrap();
    let root = project.root().to_path_buf();
    let server = FakeModel::start(
        Script {
            rules: [
                DELIVERIES.rules(),
                vec![
                    Rule::new(
                        "SLOW-7d21",
                        vec![Reply {
                            text: Some("ack SLOW-7d21 after a long think".into()),
                            delay_ms: 5000,
                            ..Reply::default()
                        }],
                    ),
                    Rule::new(
                        "TOOL-5b8e",
                        vec![
                            Reply::tool(
                                "run_shell_command",
                                json!({"command": "baton task done T-001"}),
                            ),
                            ack("TOOL-5b8e"),
                        ],
                    ),
                    Rule::new(
                        "PERM-9a4c",
                        vec![
                            Reply::tool(
                                "run_shell_command",
                                json!({"command": "touch perm-was-granted.txt"}),
                            ),
                            ack("PERM-9a4c"),
                        ],
                    ),
                    Rule::new(
                        "LIMIT-3e6f",
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
        Some(fresh_log_path("gemini")),
    )
    .unwrap();
    let (home, home_perm) = (homes.path().join("yolo"), homes.path().join("perm"));
    write_home(&home, &root);
    write_home(&home_perm, &root);
    project.write_config(&format!(
        "{}{}",
        agent_toml("gemini", bin, "--yolo", &home, &server),
        agent_toml("geminiperm", bin, "", &home_perm, &server),
    ));
    let screens = Screens {
        project: &project,
        profile: profile("gemini"),
        out_dirs: out_dirs("gemini", &version),
    };
    let mut leftovers = Vec::new();

    report.check_twice("baton up (2 agents ready)", || {
        up_ready(&project).map_err(|why| {
            // What the panes show, if they are still there; then a clean slate for a retry.
            let screens: String = ["gemini", "geminiperm"]
                .iter()
                .filter(|a| project.try_pane(a).is_some())
                .map(|a| format!("\n--- {a}:\n{}", trim(&project.capture(a))))
                .collect();
            project.run(&["down"]);
            format!("{why}{screens}")
        })
    });
    for agent in ["gemini", "geminiperm"] {
        leftovers.extend(pane_tree(&project, agent));
    }
    if report.passed("baton up (2 agents ready)") {
        checks(&mut report, &project, &server, &screens, &root);
    }
    for agent in ["gemini", "geminiperm"] {
        leftovers.extend(pane_tree(&project, agent));
    }
    if report.passed("baton up (2 agents ready)") {
        report.check(
            "baton down ends the CLIs' processes (the relaunched node too)",
            || {
                let tree = leftovers.clone();
                let out = project.run(&["down"]);
                let running = |pid: &u32| Path::new(&format!("/proc/{pid}")).exists();
                let deadline = std::time::Instant::now() + Duration::from_secs(15);
                while tree.iter().any(running) {
                    if std::time::Instant::now() >= deadline {
                        let left: Vec<&u32> = tree.iter().filter(|p| running(p)).collect();
                        return Err(format!(
                            "still running 15s after `baton down`: {left:?} of {tree:?}; it said: {}",
                            String::from_utf8_lossy(&out.stdout).trim()
                        ));
                    }
                    std::thread::sleep(Duration::from_millis(50));
                }
                Ok(format!(
                    "{} processes gone; it said: {}",
                    tree.len(),
                    String::from_utf8_lossy(&out.stdout).trim().replace('\n', " / ")
                ))
            },
        );
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
    report.check(
        "idle detected on the fresh screen (YOLO `*` prompt)",
        || {
            let s = screens.wait_state("gemini", AgentState::Idle, TURN, |_| true)?;
            screens.save_masked("idle-fresh-yolo.txt", &s);
            let p = screens.wait_state("geminiperm", AgentState::Idle, TURN, |_| true)?;
            screens.save_masked("idle-fresh.txt", &p);
            Ok(String::new())
        },
    );
    report.check("extra Enter on an empty box submits nothing", || {
        extra_enter(project, server, "gemini")
    });
    let finished = |marker: &str| {
        let m = format!("ack {marker}");
        screens.wait_state("gemini", AgentState::Finished, TURN, move |s| {
            s.contains(&m)
        })
    };
    DELIVERIES.check(
        report,
        project,
        server,
        "gemini",
        Received::Exact,
        finished,
        |_, screen| {
            if let Some(s) = screen {
                screens.save_masked("finished-multiline-reply.txt", s);
            }
        },
    );
    report.check("working detected while the model thinks", || {
        send(project, "gemini", "SLOW-7d21 think first")?;
        let s = screens.wait_state("gemini", AgentState::Working, TURN, |_| true)?;
        screens.save_masked("working-thinking.txt", &s);
        let s = finished("SLOW-7d21")?;
        screens.save_masked("finished-reply.txt", &s);
        Ok(String::new())
    });
    report.check(
        "Gemini runs `baton task done T-001` via run_shell_command: COMPLETED",
        || {
            project.ok(&["task", "add", "Conformance task"]);
            project.ok(&["task", "start", "T-001", "--agent", "gemini"]);
            send(project, "gemini", "TOOL-5b8e please finish T-001")?;
            let s = finished("TOOL-5b8e")?;
            screens.save_masked("finished-task-done-shell.txt", &s);
            let shown: serde_json::Value =
                serde_json::from_str(&project.ok(&["task", "show", "T-001", "--json"]))
                    .map_err(|e| e.to_string())?;
            let status = shown["status"].as_str().unwrap_or("").to_owned();
            if status != "COMPLETED" {
                return Err(format!("T-001 is {status}"));
            }
            // The tool's result went back to the model: a step-1 request of that rule.
            let back = server.requests().iter().any(|r| r.rule == "TOOL-5b8e#1");
            if !back {
                return Err("no request carried the tool's result back".into());
            }
            Ok("T-001 COMPLETED".into())
        },
    );
    report.check(
        "a 429 RESOURCE_EXHAUSTED (daily quota) reads as rate-limited",
        || {
            send(project, "gemini", "LIMIT-3e6f go")?;
            let s = screens.wait_state("gemini", AgentState::RateLimited, TURN, |_| true)?;
            // 0.43+ open a dialog; 0.20 prints the API error at once.
            let file = if s.contains("Usage limit reached") {
                "rate-limited-usage-limit-dialog.txt"
            } else {
                "rate-limited-daily-quota.txt"
            };
            screens.save_masked(file, &s);
            let line = s
                .lines()
                .find(|l| l.contains("limit") || l.contains("quota"))
                .map(str::trim)
                .unwrap_or("")
                .trim_matches('│')
                .trim()
                .to_owned();
            Ok(line)
        },
    );
    report.check("tool confirmation dialog in the default mode", || {
        send(project, "geminiperm", "PERM-9a4c create the file")?;
        let s = screens.wait_state("geminiperm", AgentState::NeedsInput, TURN, |_| true)?;
        screens.save_masked("needs-input-shell-permission.txt", &s);
        if root.join("perm-was-granted.txt").exists() {
            return Err("the command ran without approval".into());
        }
        Ok(String::new())
    });
    report.check("no request log holds the API key", || {
        let log = std::fs::read_to_string(log_path("gemini")).unwrap_or_default();
        if log.contains(KEY) {
            return Err("the key is in the request log".into());
        }
        Ok(format!("{} requests logged", log.lines().count()))
    });
}
