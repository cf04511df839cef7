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
use serde_json::json;

use crate::common::TestProject;
use crate::harness::*;

const KEY: &str = "AIzaFakeGeminiConformanceKey0123456789";
/// The agents: `--yolo`, and the default approval mode.
const AGENTS: [&str; 2] = ["gemini", "geminiperm"];

const SHELL: ShellChecks = ShellChecks {
    slow: "SLOW-7d21",
    task: "TOOL-5b8e",
    perm: "PERM-9a4c",
    limit: "LIMIT-3e6f",
};

const DELIVERIES: Deliveries = Deliveries {
    multi: "MULTI-4e7a",
    french: "FRENCH-1f3b",
    big: "BIG-c2d9",
    received: Received::Exact,
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

/// Returns the pids of the process trees of the agents' panes.
pub fn pane_trees(project: &TestProject, agents: &[&str]) -> Vec<u32> {
    agents.iter().flat_map(|a| pane_tree(project, a)).collect()
}

/// Ends the server, then the project (its tmux server), then the processes left of the
/// agents' trees or holding one of their homes under `homes`.
pub fn tear_down(server: FakeModel, project: TestProject, leftovers: &[u32], homes: &Path) {
    drop(server);
    drop(project);
    end_leftovers(leftovers);
    end_by_home(homes);
}

/// Runs every Gemini CLI check.
pub fn run(bin: &Path) -> Report {
    let (version, mut report, project, homes) = start("gemini", bin);
    let root = project.root().to_path_buf();
    let shell = |command: &str| Reply::tool("run_shell_command", json!({"command": command}));
    let server = serve(DELIVERIES.script(SHELL.rules(shell)), "gemini");
    let (home, home_perm) = (homes.path().join("yolo"), homes.path().join("perm"));
    write_home(&home, &root);
    write_home(&home_perm, &root);
    project.write_config(&format!(
        "{}{}",
        agent_toml("gemini", bin, "--yolo", &home, &server),
        agent_toml("geminiperm", bin, "", &home_perm, &server),
    ));
    let screens = Screens::new(&project, "gemini", &version).masked();

    report.check_twice("baton up (2 agents ready)", || {
        up_ready(&project).map_err(|why| {
            // What the panes show, if they are still there; then a clean slate for a retry.
            let screens: String = AGENTS
                .iter()
                .filter(|a| project.try_pane(a).is_some())
                .map(|a| format!("\n--- {a}:\n{}", trim(&project.capture(a))))
                .collect();
            project.run(&["down"]);
            format!("{why}{screens}")
        })
    });
    let mut leftovers = pane_trees(&project, &AGENTS);
    if report.passed("baton up (2 agents ready)") {
        checks(&mut report, &server, &screens);
    }
    leftovers.extend(pane_trees(&project, &AGENTS));
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
    tear_down(server, project, &leftovers, homes.path());
    report
}

fn checks(report: &mut Report, server: &FakeModel, screens: &Screens<'_>) {
    let project = screens.project;
    report.check(
        "idle detected on the fresh screen (YOLO `*` prompt)",
        || {
            screens.idle("gemini", "idle-fresh-yolo.txt")?;
            screens.idle("geminiperm", "idle-fresh.txt")
        },
    );
    DELIVERIES.check(
        report,
        screens,
        server,
        "gemini",
        "finished-multiline-reply.txt",
        None,
    );
    report.check("working detected while the model thinks", || {
        let s = screens.working("gemini", SHELL.slow, "think first", "working-thinking.txt")?;
        screens.save("finished-reply.txt", &s);
        Ok(String::new())
    });
    report.check(
        "Gemini runs `baton task done T-001` via run_shell_command: COMPLETED",
        || {
            screens.completes_t001("gemini", SHELL.task, Some("finished-task-done-shell.txt"))?;
            // The tool's result went back to the model: a step-1 request of that rule.
            let back = server
                .requests()
                .iter()
                .any(|r| r.rule == format!("{}#1", SHELL.task));
            if !back {
                return Err("no request carried the tool's result back".into());
            }
            Ok("T-001 COMPLETED".into())
        },
    );
    report.check(
        "a 429 RESOURCE_EXHAUSTED (daily quota) reads as rate-limited",
        || {
            send(project, "gemini", &format!("{} go", SHELL.limit))?;
            let s = screens.wait_state("gemini", AgentState::RateLimited, TURN, |_| true)?;
            // 0.43+ open a dialog; 0.20 prints the API error at once.
            let file = if s.contains("Usage limit reached") {
                "rate-limited-usage-limit-dialog.txt"
            } else {
                "rate-limited-daily-quota.txt"
            };
            screens.save(file, &s);
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
        screens.permission_dialog(
            "geminiperm",
            &format!("{} create the file", SHELL.perm),
            "needs-input-shell-permission.txt",
            false,
        )
    });
    report.check("no request log holds the API key", || {
        key_not_logged("gemini", KEY)
    });
}
