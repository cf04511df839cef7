//! The whole run: `baton run` on a plan of tasks with dependencies and a verify command, with
//! real Claude Code and Codex agents side by side (and a real Gemini CLI when one is given and
//! the fake model serves Gemini's API), each against its own fake model server.
//!
//! The fake servers play workers: one rule reads the task ID and the report command from any
//! baton task prompt (`template`), has the CLI's shell tool work for about two seconds (write
//! `work-<ID>.txt`), then run `<baton> task done <ID>` as the prompt says, then ends the turn
//! with a short text. Anything else (a nudge, a reminder) gets the default text, and reporting
//! nothing it would show up as a nudge, an unreported task or a time-out.

use std::collections::BTreeMap;
use std::path::Path;
use std::path::PathBuf;
use std::process::Stdio;
use std::time::Duration;
use std::time::Instant;

use baton_core::engine::prompt::NUDGE_EN;
use baton_core::engine::prompt::REMINDER_EN;
use baton_fake_model::FakeModel;
use baton_fake_model::Reply;
use baton_fake_model::Rule;
use baton_fake_model::Script;
use serde_json::Value;
use serde_json::json;

use crate::common::TestProject;
use crate::harness::*;

/// How long `baton run` may take, start-up of the agents included.
const BOUND: Duration = Duration::from_secs(420);

/// Reads a baton task prompt: its ID and the command it says to report with (`baton`, or
/// baton's absolute path when a login shell would not find it).
const TASK_PROMPT: &str = r"TASK_ID: (?P<id>T-\d+)[\s\S]*Run: (?P<baton>\S+) task done T-\d+";

/// The shell command of the work step: about two seconds, then a file named after the task.
const WORK: &str = "sleep 2 && echo {{id}} > work-{{id}}.txt";
/// The shell command of the report step.
const REPORT: &str = "{{baton}} task done {{id}} --note 'wrote work-{{id}}.txt'";

/// The worker script of a CLI whose shell tool is `tool`, taking the command in `arg`.
fn worker(tool: &str, arg: &str) -> Script {
    let call = |cmd: &str, what: &str| {
        let mut input = json!({ arg: cmd });
        if tool == "Bash" || tool == "run_shell_command" {
            input["description"] = json!(what);
        }
        Reply::tool(tool, input)
    };
    Script {
        rules: vec![Rule::matching(
            TASK_PROMPT,
            vec![
                call(WORK, "Do the work of {{id}}"),
                call(REPORT, "Report {{id}} done"),
                Reply::text("{{id}} is done and reported."),
            ],
        )],
        ..Script::default()
    }
}

/// One agent of the run.
struct Agent {
    name: &'static str,
    server: FakeModel,
}

/// The plan: (line, agent reserved), the IDs following the file order (each task comes after
/// those it depends on). Gemini, when it joins, gets two more tasks.
fn plan(gemini: bool) -> Vec<&'static str> {
    let mut plan = vec![
        "- [ ] Write the lexer {lex} @claude",
        "- [ ] Write the parser {parse} @codex",
        "- [ ] Join the lexer and the parser {join} after:lex,parse @claude",
        "- [ ] Add the command line {cli} after:parse @codex",
        "- [ ] Document the grammar {doc} after:lex",
        "- [ ] Package the tool after:join,cli,doc",
    ];
    if gemini {
        plan.insert(2, "- [ ] Write the examples {ex} after:lex @gemini");
        plan.push("- [ ] Check the examples after:ex,join @gemini");
    }
    plan
}

/// Runs the whole run with the first binary of each CLI (the pinned version).
pub fn run(claude: Option<&Path>, codex: Option<&Path>, gemini: Option<&Path>) -> Report {
    let (Some(claude_bin), Some(codex_bin)) = (claude, codex) else {
        return Report::missing("whole run", "BATON_REAL_CLAUDE or BATON_REAL_CODEX");
    };
    let mut versions = vec![
        format!("claude {}", version_of(claude_bin)),
        format!("codex {}", version_of(codex_bin)),
    ];
    let project = TestProject::new();
    let root = project.root().to_path_buf();
    let homes = tempfile::Builder::new()
        .prefix("baton-conf-whole-")
        .tempdir()
        .unwrap();
    let home = |n: &str| homes.path().join(n);
    let server = |name: &str, script: Script| {
        FakeModel::start(script, Some(fresh_log_path(&format!("whole-run-{name}")))).unwrap()
    };

    let claude = Agent {
        name: "claude",
        server: server("claude", worker("Bash", "command")),
    };
    crate::claude::write_home(&home("claude"), &root);
    let mut env = crate::claude::base_env(&home("claude"), &claude.server);
    env.insert("ANTHROPIC_API_KEY", crate::claude::KEY.into());
    let mut agents =
        crate::claude::agent_toml("claude", claude_bin, "--dangerously-skip-permissions", &env);

    let codex = Agent {
        name: "codex",
        server: server("codex", worker("exec_command", "cmd")),
    };
    crate::codex::write_codex_home(&home("codex"), &root, &codex.server.base_url());
    agents.push_str(&crate::codex::agent_toml(
        "codex",
        codex_bin,
        &home("codex"),
        true,
        crate::codex::KEY,
    ));
    agents.push('\n');

    let mut all = vec![claude, codex];
    let mut gemini_note = "no Gemini agent: BATON_REAL_GEMINI is not set".to_owned();
    if let Some(bin) = gemini {
        let g = Agent {
            name: "gemini",
            server: server("gemini", worker("run_shell_command", "command")),
        };
        if serves_gemini(&g.server) {
            versions.push(format!("gemini {}", version_of(bin)));
            agents.push_str(&gemini_agent(bin, &home("gemini"), &root, &g.server));
            all.push(g);
            gemini_note = String::new();
        } else {
            gemini_note = "no Gemini agent: the fake model does not serve Gemini's API".into();
        }
    }
    let with_gemini = all.len() == 3;
    let plan = plan(with_gemini);
    let ids: Vec<String> = (1..=plan.len()).map(|i| format!("T-{i:03}")).collect();
    // Verify runs after each wave (when the tasks dispatched since the last one are all
    // closed), so it checks what holds at any wave's end: each work file holds its task's ID.
    let verify = "for f in work-T-*.txt; do id=${f#work-}; id=${id%.txt}; \
grep -qx \"$id\" \"$f\" || { echo \"$f does not hold $id\"; exit 1; }; done";
    project.write_config(&format!(
        "{agents}[verify]\ncommands = [{}]\n\n[run]\ntest_tasks = false\n",
        serde_json::to_string(verify).unwrap()
    ));
    std::fs::write(root.join("plan.md"), plan.join("\n") + "\n").unwrap();

    let mut report = Report::new("whole run", &versions.join(", "));
    if !gemini_note.is_empty() {
        report.skip("gemini joins", &gemini_note);
    }

    let started = Instant::now();
    let mut outcome: Option<(Value, Duration)> = None;
    report.check(
        &format!(
            "`baton run` of {} tasks exits 0 within {BOUND:?}",
            ids.len()
        ),
        || {
            let child = project
                .cmd(&["run", "plan.md", "--json"])
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .map_err(|e| e.to_string())?;
            let pid = child.id();
            let (tx, rx) = std::sync::mpsc::channel();
            std::thread::spawn(move || {
                let _ = tx.send(child.wait_with_output());
            });
            let out = match rx.recv_timeout(BOUND) {
                Ok(out) => out.map_err(|e| e.to_string())?,
                Err(_) => {
                    let _ = std::process::Command::new("kill")
                        .arg(pid.to_string())
                        .status();
                    return Err(format!(
                        "still running after {BOUND:?}{}",
                        context(&project, &all)
                    ));
                }
            };
            let took = started.elapsed();
            let summary: Value = serde_json::from_slice(&out.stdout).unwrap_or(Value::Null);
            if !out.status.success() || summary["finished"] != true {
                return Err(format!(
                    "exit {}; summary {summary}\nstderr (end): {}{}",
                    out.status,
                    tail(&String::from_utf8_lossy(&out.stderr), 15),
                    context(&project, &all)
                ));
            }
            let line = summary["summary"].as_str().unwrap_or("").to_owned();
            outcome = Some((summary, took));
            Ok(format!("{line} in {:.0}s", took.as_secs_f64()))
        },
    );
    let Some((summary, _)) = outcome else {
        return report;
    };
    let journal = project.journal();
    let tasks: Vec<Value> = project
        .json(&["task", "list", "--json"])
        .as_array()
        .cloned()
        .unwrap_or_default();

    report.check(
        "every task COMPLETED once, by the agent it was assigned to",
        || {
            completed_once_by_assignee(&tasks, &journal, &ids, with_gemini)
                .map_err(|e| format!("{e}{}", context(&project, &all)))
        },
    );
    report.check("no task started before its dependencies completed", || {
        dependencies_respected(&tasks, &journal)
    });
    report.check("no nudge, reminder or resend was needed", || {
        no_nudge(&journal, &ids, &all).map_err(|e| format!("{e}{}", context(&project, &all)))
    });
    report.check(
        "the verify command ran and passed, the last time after the last task",
        || {
            let runs: Vec<(i64, &str)> = journal
                .iter()
                .filter(|e| e["action"] == "verify")
                .filter_map(|e| Some((e["seq"].as_i64()?, e["result"].as_str()?)))
                .collect();
            let last_done = journal
                .iter()
                .filter(|e| e["action"] == "task-done")
                .filter_map(|e| e["seq"].as_i64())
                .max()
                .unwrap_or(i64::MAX);
            if summary["verify"]["last"] != "passed"
                || runs.iter().any(|(_, r)| !r.ends_with(" passed"))
                || !runs.iter().any(|(seq, _)| *seq > last_done)
            {
                return Err(format!(
                    "verify entries {runs:?}, last task-done #{last_done}; summary {summary}"
                ));
            }
            Ok(format!("{} wave(s), all passed", runs.len()))
        },
    );
    report.check(
        "the work of each task was done by its agent's shell tool",
        || {
            let mut missing = Vec::new();
            for id in &ids {
                let text = std::fs::read_to_string(root.join(format!("work-{id}.txt")));
                if text.map(|t| t.trim() != id).unwrap_or(true) {
                    missing.push(id.clone());
                }
            }
            if !missing.is_empty() {
                return Err(format!("no right work file for {missing:?}"));
            }
            let tools: usize = all
                .iter()
                .map(|a| {
                    a.server
                        .requests()
                        .iter()
                        .filter(|r| r.rule.ends_with("#1"))
                        .count()
                })
                .sum();
            Ok(format!(
                "{} work files; {tools} work steps came back to the models",
                ids.len()
            ))
        },
    );
    // Gemini CLI relaunches itself as a child that outlives the pane: end it by pid.
    let leftovers = if with_gemini {
        crate::gemini::pane_tree(&project, "gemini")
    } else {
        Vec::new()
    };
    drop(project);
    crate::gemini::end_leftovers(&leftovers);
    report
}

/// Checks that each task is COMPLETED, has one `task-done`, by the agent its `task-start`
/// named (the agent it was reserved for, when it was).
fn completed_once_by_assignee(
    tasks: &[Value],
    journal: &[Value],
    ids: &[String],
    with_gemini: bool,
) -> Result<String, String> {
    let listed: Vec<&str> = tasks.iter().filter_map(|t| t["id"].as_str()).collect();
    if listed != ids.iter().map(String::as_str).collect::<Vec<_>>() {
        return Err(format!("tasks {listed:?}, want {ids:?}"));
    }
    let reserved: BTreeMap<&str, &str> = plan(with_gemini)
        .iter()
        .zip(ids)
        .filter_map(|(line, id)| {
            let agent = line.split_whitespace().find_map(|w| w.strip_prefix('@'))?;
            Some((id.as_str(), agent))
        })
        .collect();
    let mut by: BTreeMap<String, usize> = BTreeMap::new();
    for t in tasks {
        let id = t["id"].as_str().unwrap_or("");
        if t["status"] != "COMPLETED" {
            return Err(format!("{id} is {}", t["status"]));
        }
        let of = |action: &str| -> Vec<&Value> {
            journal
                .iter()
                .filter(|e| e["task"] == id && e["action"] == action)
                .collect()
        };
        let (starts, dones) = (of("task-start"), of("task-done"));
        let [start] = starts[..] else {
            return Err(format!(
                "{id} was started {} times, want once",
                starts.len()
            ));
        };
        let [done] = dones[..] else {
            return Err(format!(
                "{id} was completed {} times, want once",
                dones.len()
            ));
        };
        let assignee = start["target"].as_str().unwrap_or("");
        if done["actor"] != assignee || t["assignee"] != assignee {
            return Err(format!(
                "{id} was started for {assignee:?} but reported by {}",
                done["actor"]
            ));
        }
        if let Some(agent) = reserved.get(id)
            && assignee != *agent
        {
            return Err(format!(
                "{id} is reserved for {agent} but went to {assignee}"
            ));
        }
        *by.entry(assignee.to_owned()).or_default() += 1;
    }
    Ok(format!("{by:?}"))
}

/// Checks, in journal order, that no task started before every task it depends on was done.
fn dependencies_respected(tasks: &[Value], journal: &[Value]) -> Result<String, String> {
    let seq = |id: &str, action: &str| -> Vec<i64> {
        journal
            .iter()
            .filter(|e| e["task"] == id && e["action"] == action)
            .filter_map(|e| e["seq"].as_i64())
            .collect()
    };
    let mut edges = 0;
    for t in tasks {
        let id = t["id"].as_str().unwrap_or("");
        let first_start = seq(id, "task-start").into_iter().min().unwrap_or(i64::MAX);
        for dep in t["deps"].as_array().into_iter().flatten() {
            let dep = dep.as_str().unwrap_or("");
            let done = seq(dep, "task-done").into_iter().min().unwrap_or(i64::MAX);
            if done >= first_start {
                return Err(format!(
                    "{id} started (journal #{first_start}) before {dep} was done (#{done})"
                ));
            }
            edges += 1;
        }
    }
    if edges == 0 {
        return Err("the plan's tasks have no dependencies: nothing was checked".into());
    }
    Ok(format!("{edges} dependencies held"))
}

/// Checks that each task took one prompt and no nudge, reminder or resend, in the journal and
/// in what the fake models were sent.
fn no_nudge(journal: &[Value], ids: &[String], agents: &[Agent]) -> Result<String, String> {
    for id in ids {
        let delivered = journal
            .iter()
            .filter(|e| e["task"] == id.as_str())
            .filter(|e| {
                e["result"]
                    .as_str()
                    .is_some_and(|r| r.contains(" delivered ("))
            })
            .count();
        if delivered != 1 {
            return Err(format!(
                "{delivered} deliveries for {id}, want its one prompt"
            ));
        }
    }
    let bad = [
        "task-unreported",
        "task-review",
        "report-failed",
        "task-requeue",
    ];
    if let Some(e) = journal.iter().find(|e| {
        bad.iter().any(|b| e["action"] == *b)
            || e["result"].as_str().is_some_and(|r| r.starts_with("stuck"))
    }) {
        return Err(format!("the journal has {e}"));
    }
    let heads = [NUDGE_EN, REMINDER_EN].map(|t| t.split("{id}").next().unwrap_or(t).to_owned());
    for a in agents {
        for r in a.server.requests() {
            let p = r
                .turn
                .as_ref()
                .and_then(|t| t.prompt.as_deref())
                .unwrap_or("");
            if let Some(h) = heads.iter().find(|h| p.contains(h.as_str())) {
                return Err(format!("{} was sent {h:?}…", a.name));
            }
        }
    }
    Ok(format!("{} prompts, one per task", ids.len()))
}

/// Asks the fake server a Gemini `generateContent` call: whether it understood it.
fn serves_gemini(server: &FakeModel) -> bool {
    use std::io::Read;
    use std::io::Write;
    let body = r#"{"contents":[{"role":"user","parts":[{"text":"probe"}]}]}"#;
    let Ok(mut s) = std::net::TcpStream::connect(server.base_url().trim_start_matches("http://"))
    else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
    let req = format!(
        "POST /v1beta/models/probe:generateContent HTTP/1.1\r\nhost: 127.0.0.1\r\ncontent-type: application/json\r\ncontent-length: {}\r\nconnection: close\r\n\r\n{body}",
        body.len()
    );
    if s.write_all(req.as_bytes()).is_err() {
        return false;
    }
    let mut head = [0u8; 64];
    let _ = s.read(&mut head);
    server.requests().iter().any(|r| r.api == "gemini")
}

/// The `[[agent]]` table of a Gemini CLI agent against `server`, set up as the Gemini checks
/// do (API-key auth, a private HOME, the project trusted), in YOLO mode: its shell tool runs
/// without asking.
fn gemini_agent(bin: &Path, home: &Path, project: &Path, server: &FakeModel) -> String {
    crate::gemini::write_home(home, project);
    crate::gemini::agent_toml("gemini", bin, "--yolo", home, server)
}

/// What to show when a check fails: the journal in brief and each agent's screen.
fn context(project: &TestProject, agents: &[Agent]) -> String {
    let brief: Vec<String> = project
        .journal()
        .iter()
        .map(|e| {
            format!(
                "#{} {} {} {} {} {}",
                e["seq"], e["actor"], e["action"], e["task"], e["target"], e["result"]
            )
        })
        .collect();
    let mut out = format!("\njournal:\n{}", tail(&brief.join("\n"), 80));
    for a in agents {
        out.push_str(&format!(
            "\n{} screen:\n{}",
            a.name,
            tail(&trim(&project.capture(a.name)), 25)
        ));
    }
    out
}

fn tail(text: &str, n: usize) -> String {
    let lines: Vec<&str> = text.lines().collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// The first binary a `BATON_REAL_<CLI>` variable names: the pinned version.
pub fn pinned(var: &str) -> Option<PathBuf> {
    real_binaries(var).into_iter().next()
}
