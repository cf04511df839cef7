//! The Claude Code scenarios: one version, three windows side by side, each with its own
//! private HOME, all talking to fake model servers on loopback:
//! - `free`: `--dangerously-skip-permissions`, the bypass warning not yet accepted: start-up,
//!   idle, spinner, task list, long tool run, subagent, background task, stop hook, API errors;
//! - `perm`: `--permission-mode default`, neither the folder trusted nor the API key approved:
//!   first-start dialogs, every kind of permission dialog, questions and plan approval;
//! - `sub`: subscription mode, the unified rate-limit headers: the quota notice, the
//!   usage-limit screen.

use std::path::Path;
use std::path::PathBuf;
use std::time::Duration;
use std::time::Instant;

use baton_fake_model::FakeModel;
use baton_fake_model::Recorded;
use baton_fake_model::Reply;
use baton_fake_model::Rule;
use baton_fake_model::Script;
use serde_json::Value;
use serde_json::json;

use crate::common::TestProject;
use crate::drive::*;
use crate::harness::Outcome;
use crate::harness::Report;
use crate::harness::claude_env;
use crate::harness::reset_in_3h;
use crate::harness::unified;
use crate::harness::usage_limit;
use crate::harness::version_of;
use crate::harness::wait_for;

const KEY: &str = "sk-ant-api03-fake-scenario-key-0123456789abcdef";
const OAUTH: &str = "sk-ant-oat01-fake-scenario-oauth-0123456789";
const TURN: Duration = Duration::from_secs(60);
const QUIET: Duration = Duration::from_millis(800);

/// What a version offers the model, read from its first main request.
#[derive(Default)]
struct Offered {
    tools: Vec<String>,
    /// Tools named in the system text as deferred (loaded through `ToolSearch`).
    deferred: Vec<String>,
    /// The subagent type to ask for.
    agent_type: Option<String>,
    /// Whether Bash takes `run_in_background`.
    background: bool,
}

impl Offered {
    fn read(server: &FakeModel) -> Offered {
        let reqs = server.requests();
        let Some(body) = reqs
            .iter()
            .rev()
            .find(|r| r.turn.as_ref().is_some_and(|t| t.kind == "main"))
            .map(|r| &r.body)
        else {
            return Offered::default();
        };
        let tools: Vec<&Value> = body["tools"]
            .as_array()
            .map(|a| a.iter().collect())
            .unwrap_or_default();
        let names: Vec<String> = tools
            .iter()
            .filter_map(|t| t["name"].as_str().map(str::to_owned))
            .collect();
        let background = tools.iter().any(|t| {
            t["name"] == "Bash"
                && t["input_schema"]["properties"]
                    .get("run_in_background")
                    .is_some()
        });
        let text = body.to_string().replace("\\n", "\n");
        let mut deferred = Vec::new();
        if let Some(i) = text.find("deferred tools are now available") {
            let rest = &text[i..];
            // The names follow the sentence, one a line, until a blank line.
            for line in rest.lines().skip(1) {
                let l = line.trim();
                if l.is_empty() {
                    break;
                }
                if l.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                    deferred.push(l.to_owned());
                }
            }
        }
        let mut types = Vec::new();
        if let Some(i) = text.find("Available agent types") {
            for line in text[i..].lines().skip(1).take(40) {
                if let Some(rest) = line.strip_prefix("- ")
                    && let Some((name, _)) = rest.split_once(':')
                    && !name.contains(' ')
                {
                    types.push(name.to_owned());
                }
            }
        }
        let agent_type = types
            .iter()
            .find(|t| *t == "general-purpose")
            .or(types.first())
            .cloned();
        Offered {
            tools: names,
            deferred,
            agent_type,
            background,
        }
    }

    fn has(&self, tool: &str) -> bool {
        self.tools.iter().any(|t| t == tool)
    }

    /// Returns the steps that make `tool` callable: none when offered, a `ToolSearch` when
    /// deferred; `None` when the version has no such tool.
    fn load(&self, tool: &str) -> Option<Vec<Reply>> {
        if self.has(tool) {
            Some(Vec::new())
        } else if self.deferred.iter().any(|t| t == tool) && self.has("ToolSearch") {
            Some(vec![Reply::tool(
                "ToolSearch",
                json!({"query": format!("select:{tool}"), "max_results": 1}),
            )])
        } else {
            None
        }
    }
}

fn text(marker: &str) -> Reply {
    Reply::text(&format!("ack {marker}"))
}

fn slow_text(marker: &str, ms: u64) -> Reply {
    Reply {
        text: Some(format!("ack {marker}")),
        delay_ms: ms,
        ..Reply::default()
    }
}

fn bash(command: &str, description: &str) -> Reply {
    Reply::tool(
        "Bash",
        json!({"command": command, "description": description}),
    )
}

/// An Anthropic API error reply Claude does not retry.
fn api_error(status: u16, ty: &str, message: &str) -> Reply {
    Reply {
        status: Some(status),
        headers: [("x-should-retry".to_owned(), "false".to_owned())].into(),
        error_body: Some(json!({"type": "error", "error": {"type": ty, "message": message}})),
        ..Reply::default()
    }
}

/// Writes a private HOME: onboarding done; optionally the project trusted, the API key
/// approved, the bypass warning accepted; a Stop hook that sleeps while `slow_stop` exists.
fn write_home(home: &Path, project: &Path, trusted: bool, bypass_seen: bool, slow_stop: &Path) {
    std::fs::create_dir_all(home.join(".claude")).unwrap();
    let mut cfg = json!({
        "hasCompletedOnboarding": true,
        "lastOnboardingVersion": "9.9.9",
        "theme": "dark",
    });
    if trusted {
        cfg["customApiKeyResponses"] =
            json!({"approved": [&KEY[KEY.len() - 20..]], "rejected": []});
        cfg["projects"] = json!({project.display().to_string(): {"hasTrustDialogAccepted": true}});
    }
    if bypass_seen {
        cfg["bypassPermissionsModeAccepted"] = json!(true);
    }
    std::fs::write(home.join(".claude.json"), cfg.to_string()).unwrap();
    let hook = format!(
        "if [ -e '{}' ]; then sleep 6; fi; exit 0",
        slow_stop.display()
    );
    let settings = json!({"hooks": {"Stop": [{"hooks": [{"type": "command", "command": hook}]}]}});
    std::fs::write(home.join(".claude/settings.json"), settings.to_string()).unwrap();
}

fn env(home: &Path, server: &FakeModel) -> Vec<(String, String)> {
    claude_env(home, server)
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect()
}

/// The rules of a scenario's fake model server: a rule added goes first (before the rules
/// its marker would also match), and the server's script is set again.
struct Rules<'a> {
    srv: &'a FakeModel,
    rules: Vec<Rule>,
}

impl<'a> Rules<'a> {
    /// Sets `rules` as the script of `srv`.
    fn set(srv: &'a FakeModel, rules: Vec<Rule>) -> Rules<'a> {
        let r = Rules { srv, rules };
        r.apply();
        r
    }

    /// Puts `rule` first and sets the script again.
    fn first(&mut self, rule: Rule) {
        self.rules.insert(0, rule);
        self.apply();
    }

    fn apply(&self) {
        self.srv.set_script(Script {
            rules: self.rules.clone(),
            ..Script::default()
        });
    }
}

/// Whether the CLI shows a turn in progress.
fn working(s: &str) -> bool {
    s.contains("esc to interrupt") || s.contains("esc to cancel")
}

/// Whether a dialog or menu is open.
fn dialog(s: &str) -> bool {
    let live = bottom(s, 12);
    live.contains("Enter to confirm")
        || live.contains("Esc to cancel")
        || live.contains("Esc to exit")
        || live.contains("Enter to select")
        || live.contains("Do you want")
        || live.lines().any(|l| {
            // A numbered menu with its cursor, hint line or not.
            let t = l.trim_start();
            t.len() < l.len()
                && t.strip_prefix("❯ ").is_some_and(|o| {
                    o.starts_with(|c: char| c.is_ascii_digit()) && o.contains(". ")
                })
        })
}

/// The last `n` non-blank lines.
fn bottom(s: &str, n: usize) -> String {
    let lines: Vec<&str> = s.lines().filter(|l| !l.trim().is_empty()).collect();
    lines[lines.len().saturating_sub(n)..].join("\n")
}

/// Whether the prompt box waits for input: a box line (`❯`, `>`, `│ >`) near the bottom, no
/// turn in progress, no dialog.
fn ready(s: &str) -> bool {
    let live = bottom(s, 8);
    // The box's mark, then a space (2.0.x draws a no-break space).
    let boxed = live.lines().any(|l| {
        let l = l.strip_prefix("│ ").unwrap_or(l);
        let mut c = l.chars();
        matches!(c.next(), Some('❯' | '>')) && c.next().is_none_or(char::is_whitespace)
    });
    boxed && !working(s) && !dialog(s)
}

/// A first-start dialog: its needle, the fixture it is saved as, and the option to choose.
const FIRST_START: &[(&str, &str, &[&str])] = &[
    (
        "Detected a custom API key",
        "needs-input-api-key-dialog.txt",
        &["Yes"],
    ),
    (
        "trust",
        "needs-input-trust-dialog.txt",
        &["Yes, I trust", "Yes, proceed", "1. Yes"],
    ),
    (
        "Bypass Permissions mode",
        "needs-input-bypass-warning.txt",
        &["Yes, I accept"],
    ),
];

/// Drives the start: saves the first drawn frame (`starting-launch`), saves and answers each
/// known first-start dialog, and saves the ready screen as `idle_file`.
fn startup(win: &Win, out: &Out, r: &mut Report, idle_file: &str, dialogs_expected: bool) -> bool {
    let start = Instant::now();
    let mut starting_saved = false;
    let mut answered: Vec<&str> = Vec::new();
    loop {
        if start.elapsed() > TURN {
            r.check("start: ready", || {
                Err(format!(
                    "not ready within {TURN:?}; last screen:\n{}",
                    crate::harness::trim(&win.screen())
                ))
            });
            return false;
        }
        let s = win.screen();
        if s.trim().is_empty() {
            std::thread::sleep(Duration::from_millis(20));
            continue;
        }
        if let Some((needle, file, targets)) = FIRST_START
            .iter()
            .find(|(n, ..)| dialog(&s) && s.contains(n) && !answered.contains(n))
        {
            answered.push(needle);
            r.check(&format!("start: {file}"), || {
                let s = win.settle("the dialog to settle", TURN, QUIET, |s| s.contains(needle))?;
                out.save(file, &s)?;
                let mut last = String::new();
                for t in *targets {
                    match win.choose(t) {
                        Ok(()) => {
                            // Older versions leave the answered dialog's text above the box.
                            win.wait("the dialog to close", TURN, |s| {
                                !s.contains(needle) || ready(s)
                            })?;
                            return Ok(format!("answered {t:?}"));
                        }
                        Err(e) => last = e,
                    }
                }
                Err(last)
            });
            continue;
        }
        if ready(&s) {
            r.check(&format!("start: {idle_file}"), || {
                let s = win.settle("the idle screen", TURN, Duration::from_millis(1500), ready)?;
                out.save(idle_file, &s)?;
                Ok(format!("dialogs answered: {answered:?}"))
            });
            if dialogs_expected && answered.is_empty() {
                r.skip("start: first-start dialogs", "none was drawn");
            }
            return true;
        }
        if !starting_saved && !dialog(&s) {
            starting_saved = true;
            let _ = out.save("starting-launch.txt", &s);
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Returns the screen `after` from now if `still` holds of it, else `s`: what a person sees
/// once a timer has run a little, rather than the frame that ended a wait.
fn later(win: &Win, s: String, after: Duration, still: impl Fn(&str) -> bool) -> String {
    std::thread::sleep(after);
    let s2 = win.screen();
    if still(&s2) { s2 } else { s }
}

/// Returns whether a request whose prompt holds `marker` came at step `step` or later.
fn reached(server: &FakeModel, marker: &str, step: usize) -> bool {
    server.requests().iter().any(|r: &Recorded| {
        r.turn.as_ref().is_some_and(|t| {
            t.kind == "main"
                && t.step >= step
                && t.prompt.as_deref().is_some_and(|p| p.contains(marker))
        })
    })
}

/// Waits for the turn of `marker` to end (`ack <marker>` shown, the box ready) and saves it.
fn finished(win: &Win, out: &Out, marker: &str, file: Option<&str>) -> Result<String, String> {
    let ack = format!("ack {marker}");
    let s = win.settle(&format!("{ack} and a ready box"), TURN, QUIET, |s| {
        s.contains(&ack) && ready(s)
    })?;
    if let Some(f) = file {
        out.save(f, &s)?;
    }
    Ok(String::new())
}

/// Runs every scenario of one version.
pub fn run(bin: &Path) -> Report {
    let line = version_of(bin);
    let version = version_number(&line);
    let mut report = Report::new("claude", &line);
    let project = TestProject::new();
    start_session(&project);
    let homes = tempfile::Builder::new()
        .prefix("baton-scn-home-")
        .tempdir()
        .unwrap();
    let root = project.root().canonicalize().unwrap();
    let homes_path = homes.path().canonicalize().unwrap();
    let out = Out {
        dirs: out_dirs(&format!("claude-{version}")),
        replace: vec![
            (root.display().to_string(), "/tmp/project".to_owned()),
            (homes_path.display().to_string(), "/tmp/home".to_owned()),
            // Permission options name the folder alone.
            (
                root.file_name().unwrap().to_string_lossy().into_owned(),
                "project".to_owned(),
            ),
        ],
    };
    let log = |n: &str| {
        let p = PathBuf::from(env!("CARGO_TARGET_TMPDIR"))
            .join("scenarios")
            .join(format!("claude-{version}-{n}.requests.jsonl"));
        let _ = std::fs::create_dir_all(p.parent().unwrap());
        let _ = std::fs::remove_file(&p);
        Some(p)
    };
    let free_srv = FakeModel::start(Script::default(), log("free")).unwrap();
    let perm_srv = FakeModel::start(Script::default(), log("perm")).unwrap();
    let reset = reset_in_3h();
    let sub_srv = FakeModel::start(
        Script {
            rules: vec![
                Rule::new("LIMIT", vec![usage_limit(reset)]),
                Rule::new("QUOTA", vec![text("QUOTA")]),
            ],
            headers: unified("allowed_warning", "0.93", reset),
            ..Script::default()
        },
        log("sub"),
    )
    .unwrap();

    let slow_stop = homes_path.join("slow-stop");
    for (name, trusted, bypass_seen) in [
        ("free", true, false),
        ("perm", false, true),
        ("sub", true, true),
    ] {
        write_home(
            &homes_path.join(name),
            &root,
            trusted,
            bypass_seen,
            &slow_stop,
        );
    }
    let cmd = |args: &str| format!("{} {args}", bin.display());
    let mut free_env = env(&homes_path.join("free"), &free_srv);
    free_env.push(("ANTHROPIC_API_KEY".into(), KEY.into()));
    // Versions that retry a 529 despite `x-should-retry: false` give up after 3 tries
    // (about 5 s) instead of 10 (minutes).
    free_env.push(("CLAUDE_CODE_MAX_RETRIES".into(), "3".into()));
    let mut perm_env = env(&homes_path.join("perm"), &perm_srv);
    perm_env.push(("ANTHROPIC_API_KEY".into(), KEY.into()));
    let mut sub_env = env(&homes_path.join("sub"), &sub_srv);
    sub_env.push(("CLAUDE_CODE_OAUTH_TOKEN".into(), OAUTH.into()));

    let free = Win::open(
        &project,
        "free",
        &root,
        &free_env,
        &cmd("--dangerously-skip-permissions"),
    );
    let perm = Win::open(
        &project,
        "perm",
        &root,
        &perm_env,
        &cmd("--permission-mode default"),
    );
    let sub = Win::open(
        &project,
        "sub",
        &root,
        &sub_env,
        &cmd("--dangerously-skip-permissions"),
    );

    let parts = std::thread::scope(|s| {
        let a = s.spawn(|| free_scenarios(&free, &free_srv, &out, &line, &slow_stop));
        let b = s.spawn(|| perm_scenarios(&perm, &perm_srv, &out, &line, &root));
        let c = s.spawn(|| sub_scenarios(&sub, &out, &line));
        [a.join(), b.join(), c.join()]
    });
    for (part, name) in parts.into_iter().zip(["free", "perm", "sub"]) {
        match part {
            Ok(r) => report.checks.extend(
                r.checks
                    .into_iter()
                    .map(|(n, o)| (format!("{name}: {n}"), o)),
            ),
            Err(_) => report
                .checks
                .push((name.to_owned(), Outcome::Fail("panicked".into()))),
        }
    }
    report
}

fn free_scenarios(win: &Win, srv: &FakeModel, out: &Out, line: &str, slow_stop: &Path) -> Report {
    let mut r = Report::new("claude free", line);
    let mut rules = Rules::set(
        srv,
        vec![
            Rule::new(
                "E529",
                vec![api_error(529, "overloaded_error", "Overloaded")],
            ),
            Rule::new(
                "E500",
                vec![api_error(500, "api_error", "Internal server error")],
            ),
            Rule::new(
                "E429",
                vec![api_error(
                    429,
                    "rate_limit_error",
                    "Number of request tokens has exceeded your per-minute rate limit",
                )],
            ),
            Rule::new("SPIN", vec![slow_text("SPIN", 8000)]),
            Rule::new(
                "LONGRUN",
                vec![
                    bash("sleep 8 && echo built", "Build the project slowly"),
                    text("LONGRUN"),
                ],
            ),
            Rule::new("STOPHOOK", vec![text("STOPHOOK")]),
        ],
    );
    if !startup(win, out, &mut r, "idle-fresh-start.txt", true) {
        return r;
    }
    r.check("working-one-word-spinner", || {
        win.prompt("SPIN think about it")?;
        wait_for(TURN, "the SPIN request", || {
            reached(srv, "SPIN", 0).then_some(())
        })?;
        let s = win.wait("a spinner", TURN, |s| working(s) && s.contains('…'))?;
        // Let its timer run a little, as a person would see it.
        let s = later(win, s, Duration::from_millis(2500), working);
        out.save("working-one-word-spinner.txt", &s)?;
        finished(win, out, "SPIN", Some("finished-turn.txt"))
    });
    let offered = Offered::read(srv);
    r.check("tools offered", || {
        Ok(format!(
            "{} (deferred: {}); agent type {:?}; Bash background: {}",
            offered.tools.join(" "),
            offered.deferred.join(" "),
            offered.agent_type,
            offered.background
        ))
    });

    // A task list where the version has one.
    let todo = |items: &[(&str, &str, &str)]| {
        Reply::tool(
            "TodoWrite",
            json!({"todos": items.iter().map(|(c, s, a)| json!({"content": c, "status": s, "activeForm": a})).collect::<Vec<_>>()}),
        )
    };
    let a = (
        "Add arrow key support to the watch view",
        "Adding arrow key support to the watch view",
    );
    let b = (
        "Verify the gesture setup and the key bindings",
        "Verifying the gesture setup and the key bindings",
    );
    let c = ("Write the tests", "Writing the tests");
    let tasks = if offered.has("TodoWrite") {
        Some(vec![
            todo(&[
                (a.0, "in_progress", a.1),
                (b.0, "pending", b.1),
                (c.0, "pending", c.1),
            ]),
            bash("sleep 6 && echo ok", "Run the watch view tests"),
            todo(&[
                (a.0, "completed", a.1),
                (b.0, "in_progress", b.1),
                (c.0, "pending", c.1),
            ]),
            slow_text("TASKS", 8000),
        ])
    } else if offered.has("TaskCreate") && offered.has("TaskUpdate") {
        let create = |(subject, active): (&str, &str)| {
            Reply::tool(
                "TaskCreate",
                json!({"subject": subject, "description": subject, "activeForm": active}),
            )
        };
        let update = |id: &str, status: &str| {
            Reply::tool("TaskUpdate", json!({"taskId": id, "status": status}))
        };
        Some(vec![
            create(a),
            create(b),
            create(c),
            update("1", "in_progress"),
            bash("sleep 6 && echo ok", "Run the watch view tests"),
            update("1", "completed"),
            update("2", "in_progress"),
            slow_text("TASKS", 8000),
        ])
    } else {
        None
    };
    match tasks {
        None => r.skip(
            "task list",
            "the version offers no TodoWrite or TaskCreate tool",
        ),
        Some(steps) => {
            let last = steps.len() - 1;
            rules.first(Rule::new("TASKS", steps));
            r.check("working-task-list", || {
                win.prompt("TASKS work through the list")?;
                let s = win.wait("the tool run under the task list", TURN, |s| {
                    working(s) && s.contains("sleep 6")
                })?;
                let s = later(win, s, Duration::from_millis(2000), working);
                out.save("working-task-list-tool-run.txt", &s)?;
                wait_for(TURN, "the last TASKS step", || {
                    reached(srv, "TASKS", last).then_some(())
                })?;
                let s = win.wait("the long spinner text", TURN, |s| {
                    working(s) && s.contains("Verifying the gesture setup and the key bindings…")
                });
                let note = match &s {
                    Ok(_) => "the spinner shows the step's activeForm".to_owned(),
                    Err(_) => "the spinner does not show the activeForm".to_owned(),
                };
                let s = match s {
                    Ok(s) => s,
                    Err(_) => win.wait("working", TURN, working)?,
                };
                let s = later(win, s, Duration::from_millis(2500), working);
                out.save("working-task-list-long-spinner.txt", &s)?;
                finished(win, out, "TASKS", Some("finished-task-list.txt"))?;
                Ok(note)
            });
        }
    }

    r.check("working-long-tool-run", || {
        win.prompt("LONGRUN build it")?;
        win.wait("the command running", TURN, |s| {
            working(s) && s.contains("sleep 8")
        })?;
        let t = Instant::now();
        let s = win.wait("3 s into the command", TURN, |s| {
            t.elapsed() >= Duration::from_secs(3) && working(s) && s.contains("sleep 8")
        })?;
        out.save("working-long-tool-run.txt", &s)?;
        finished(win, out, "LONGRUN", Some("finished-long-tool-run.txt"))
    });

    let agent_tool = ["Agent", "Task"].into_iter().find(|t| offered.has(t));
    match (agent_tool, &offered.agent_type) {
        (Some(tool), Some(ty)) => {
            rules.first(Rule::new("SUBWORK", vec![slow_text("SUBWORK", 9000)]));
            rules.first(Rule::new(
                "SUBAGENT",
                vec![
                    Reply::tool(
                        tool,
                        json!({"description": "Survey the project files", "prompt": "SUBWORK survey the project files and report back", "subagent_type": ty}),
                    ),
                    text("SUBAGENT"),
                ],
            ));
            r.check("working-subagent", || {
                win.prompt("SUBAGENT delegate the survey")?;
                wait_for(TURN, "the subagent's request", || {
                    srv.requests()
                        .iter()
                        .any(|q| {
                            q.turn.as_ref().is_some_and(|t| {
                                t.prompt.as_deref().is_some_and(|p| p.contains("SUBWORK"))
                            })
                        })
                        .then_some(())
                })?;
                let s = win.wait("the subagent running", TURN, |s| {
                    (working(s) || s.contains("Waiting for"))
                        && s.contains("Survey the project files")
                })?;
                let s = later(win, s, Duration::from_millis(2500), |s| {
                    working(s) || s.contains("Waiting for")
                });
                let mut note = format!("{tool} with subagent_type {ty}");
                let background = !working(&s) && s.contains("Waiting for");
                if background {
                    // The agent runs in the background: the turn is not over until it
                    // reports and the main agent answers.
                    out.save("working-waiting-for-background-agent.txt", &s)?;
                    note.push_str("; the subagent ran in the background");
                } else {
                    out.save("working-subagent.txt", &s)?;
                }
                let s = win.settle("the subagent's report answered", TURN, QUIET, |s| {
                    ready(s)
                        && s.contains("ack SUBAGENT")
                        && (!background
                            || s.rsplit("Waiting for")
                                .next()
                                .is_some_and(|t| t.contains("ack SUBWORK")))
                })?;
                out.save("finished-subagent.txt", &s)?;
                Ok(note)
            });
        }
        _ => r.skip("subagent", "the version offers no Agent/Task tool"),
    }

    r.check("finished-stop-hook-running", || {
        std::fs::write(slow_stop, "").map_err(|e| e.to_string())?;
        win.prompt("STOPHOOK end the turn")?;
        let s = win.wait("the stop hook line", TURN, |s| {
            s.contains("ack STOPHOOK") && s.to_lowercase().contains("stop hook")
        });
        let s = match s {
            Ok(s) => s,
            Err(e) => {
                let _ = std::fs::remove_file(slow_stop);
                return Err(e);
            }
        };
        out.save("finished-stop-hook-running.txt", &s)?;
        let _ = std::fs::remove_file(slow_stop);
        finished(win, out, "STOPHOOK", None)?;
        let line = s
            .lines()
            .find(|l| l.to_lowercase().contains("stop hook"))
            .unwrap_or("")
            .trim()
            .to_owned();
        Ok(line)
    });

    for (marker, file, needle) in [
        ("E429", "rate-limited-api-429.txt", "429"),
        ("E500", "error-api-500.txt", "500"),
        ("E529", "error-api-529-overloaded.txt", "verloaded"),
    ] {
        r.check(file, || {
            win.prompt(&format!("{marker} call the API"))?;
            let mut note = String::new();
            if marker == "E529" {
                // Some versions retry a 529 whatever the headers say: the agent is busy.
                let retry = win.wait("a retry notice", Duration::from_secs(4), |s| {
                    let after = s.rsplit(marker).next().unwrap_or("");
                    after.contains("Retrying") && working(s)
                });
                if let Ok(s) = retry {
                    out.save("working-api-529-retrying.txt", &s)?;
                    note = "retried first; ".to_owned();
                }
            }
            let s = win.settle("the API error", TURN, QUIET, |s| {
                let after = s.rsplit(marker).next().unwrap_or("");
                after.contains(needle) && ready(s)
            })?;
            out.save(file, &s)?;
            let l = s
                .rsplit(marker)
                .next()
                .unwrap_or("")
                .lines()
                .find(|l| l.contains(needle))
                .unwrap_or("")
                .trim()
                .to_owned();
            Ok(format!("{note}{l}"))
        });
    }

    // Last: the background shell stays in the footer of every later screen.
    if offered.background {
        rules.first(Rule::new(
            "BACKGROUND",
            vec![
                Reply::tool(
                    "Bash",
                    json!({"command": "sleep 45", "description": "Watch the logs", "run_in_background": true}),
                ),
                text("BACKGROUND"),
            ],
        ));
        r.check("finished-background-task", || {
            win.prompt("BACKGROUND start the watcher")?;
            finished(win, out, "BACKGROUND", Some("finished-background-task.txt"))
        });
    } else {
        r.skip("background task", "Bash takes no run_in_background");
    }

    r
}

fn perm_scenarios(win: &Win, srv: &FakeModel, out: &Out, line: &str, root: &Path) -> Report {
    let mut r = Report::new("claude perm", line);
    let file = |n: &str| root.join(n).display().to_string();
    std::fs::write(root.join("notes.txt"), "colour: blue\n").unwrap();
    let mut rules = Rules::set(
        srv,
        vec![
            Rule::new("FIRST", vec![text("FIRST")]),
            Rule::new(
                "BASHPERM",
                vec![
                    bash("touch made-by-bash.txt", "Create a marker file"),
                    text("BASHPERM"),
                ],
            ),
            Rule::new(
                "WRITEPERM",
                vec![
                    Reply::tool(
                        "Write",
                        json!({"file_path": file("plan.md"), "content": "# Plan\n\n1. Read the code\n2. Change it\n"}),
                    ),
                    text("WRITEPERM"),
                ],
            ),
            Rule::new(
                "EDITPERM",
                vec![
                    Reply::tool("Read", json!({"file_path": file("notes.txt")})),
                    Reply::tool(
                        "Edit",
                        json!({"file_path": file("notes.txt"), "old_string": "colour: blue", "new_string": "colour: green"}),
                    ),
                    text("EDITPERM"),
                ],
            ),
        ],
    );
    if !startup(win, out, &mut r, "idle-dialogs-answered.txt", true) {
        return r;
    }
    r.check("first turn", || {
        win.prompt("FIRST hello")?;
        finished(win, out, "FIRST", None)
    });
    let offered = Offered::read(srv);

    for (marker, dialog_file, answered_file, created) in [
        (
            "BASHPERM",
            "needs-input-bash-permission.txt",
            "finished-dialog-answered.txt",
            "made-by-bash.txt",
        ),
        (
            "WRITEPERM",
            "needs-input-write-permission.txt",
            "finished-write-answered.txt",
            "plan.md",
        ),
        (
            "EDITPERM",
            "needs-input-edit-permission.txt",
            "finished-edit-answered.txt",
            "",
        ),
    ] {
        r.check(dialog_file, || {
            win.prompt(&format!("{marker} go"))?;
            let s = win.settle("the permission dialog", TURN, QUIET, |s| {
                dialog(s) && s.contains("Do you want")
            })?;
            out.save(dialog_file, &s)?;
            if !created.is_empty() && root.join(created).exists() {
                return Err(format!("{created} exists before the answer"));
            }
            win.choose("1. Yes")?;
            finished(win, out, marker, Some(answered_file))?;
            if !created.is_empty() && !root.join(created).exists() {
                return Err(format!("{created} was not made after the answer"));
            }
            Ok(String::new())
        });
    }

    // AskUserQuestion.
    if offered.has("AskUserQuestion") {
        rules.first(Rule::new(
            "ASKQ",
            vec![
                Reply::tool(
                    "AskUserQuestion",
                    json!({"questions": [{"question": "Which colour should the button be?", "header": "Colour",
                        "options": [{"label": "Blue", "description": "Calm and familiar"},
                                    {"label": "Green", "description": "Fresh and bright"}],
                        "multiSelect": false}]}),
                ),
                text("ASKQ"),
            ],
        ));
        r.check("needs-input-ask-user-question", || {
            win.prompt("ASKQ ask me")?;
            let s = win.settle("the question", TURN, QUIET, |s| {
                s.contains("Which colour should the button be?") && dialog(s)
            })?;
            out.save("needs-input-ask-user-question.txt", &s)?;
            win.keys(&["Enter"]);
            // Some versions review the answers before submitting them.
            let submitted = wait_for(Duration::from_secs(8), "the answer", || {
                reached(srv, "ASKQ", 1).then_some(())
            });
            if submitted.is_err() {
                let s = win.screen();
                out.save("needs-input-ask-user-question-review.txt", &s)?;
                win.choose("Submit")?;
                wait_for(TURN, "the answer", || reached(srv, "ASKQ", 1).then_some(()))?;
            }
            finished(win, out, "ASKQ", Some("finished-question-answered.txt"))
        });
    } else {
        r.skip(
            "ask user question",
            "the version offers no AskUserQuestion tool",
        );
    }

    // Plan approval: enter plan mode, then present a plan.
    match (offered.load("EnterPlanMode"), offered.load("ExitPlanMode")) {
        (Some(mut enter), Some(exit)) => {
            enter.push(Reply::tool("EnterPlanMode", json!({})));
            let exit_in_enter = !exit.is_empty() && enter.len() > 1;
            let mut steps = enter;
            if !exit_in_enter {
                steps.extend(exit);
            }
            steps.push(Reply::tool(
                "ExitPlanMode",
                json!({"plan": "## Plan\n\n1. Add arrow key support to the watch view\n2. Verify the key bindings\n3. Write the tests"}),
            ));
            steps.push(text("PLANQ"));
            let n = steps.len();
            rules.first(Rule::new("PLANQ", steps));
            r.check("needs-input-plan-approval", || {
                win.prompt("PLANQ plan it first")?;
                let mut seen = Vec::new();
                let deadline = Instant::now() + TURN;
                while !reached(srv, "PLANQ", n - 1) {
                    if Instant::now() > deadline {
                        return Err(format!(
                            "the plan turn did not end; dialogs seen: {seen:?}; screen:\n{}",
                            crate::harness::trim(&win.screen())
                        ));
                    }
                    let s = win.screen();
                    if dialog(&s) {
                        let s = win.settle("the dialog", TURN, QUIET, dialog)?;
                        let name = if s.contains("Enter plan mode") || s.contains("enter plan mode")
                        {
                            "needs-input-enter-plan-mode.txt"
                        } else {
                            "needs-input-plan-approval.txt"
                        };
                        out.save(name, &s)?;
                        seen.push(name);
                        win.keys(&["Enter"]);
                        let before = s.clone();
                        let _ = wait_for(Duration::from_secs(5), "the dialog to go", || {
                            (win.screen() != before).then_some(())
                        });
                    }
                    std::thread::sleep(Duration::from_millis(50));
                }
                finished(win, out, "PLANQ", Some("finished-plan-approved.txt"))?;
                if !seen.contains(&"needs-input-plan-approval.txt") {
                    return Err(format!("no plan approval dialog; seen: {seen:?}"));
                }
                Ok(format!("dialogs: {seen:?}"))
            });
        }
        _ => r.skip(
            "plan approval",
            "the version offers no EnterPlanMode/ExitPlanMode",
        ),
    }

    // WebFetch of a loopback URL: the dialog only, answered No (last: the turn is cut).
    match offered.load("WebFetch") {
        Some(mut steps) => {
            steps.push(Reply::tool(
                "WebFetch",
                json!({"url": format!("{}/docs/guide", srv.base_url()), "prompt": "Summarize the guide"}),
            ));
            steps.push(text("FETCHQ"));
            rules.first(Rule::new("FETCHQ", steps));
            r.check("needs-input-webfetch-permission", || {
                win.prompt("FETCHQ read the guide")?;
                let s = win.settle("the fetch dialog", TURN, QUIET, |s| {
                    dialog(s) && s.contains("Do you want")
                })?;
                out.save("needs-input-webfetch-permission.txt", &s)?;
                win.keys(&["Escape"]);
                win.settle("the box after the refusal", TURN, QUIET, ready)?;
                Ok(String::new())
            });
        }
        None => r.skip("webfetch permission", "the version offers no WebFetch tool"),
    }
    r
}

fn sub_scenarios(win: &Win, out: &Out, line: &str) -> Report {
    let mut r = Report::new("claude sub", line);
    if !startup(win, out, &mut r, "idle-subscription.txt", false) {
        return r;
    }
    r.check("finished-quota-notice", || {
        win.prompt("QUOTA hello")?;
        let s = win.settle("the quota notice", TURN, Duration::from_millis(300), |s| {
            s.contains("ack QUOTA") && s.contains("% of your") && ready(s)
        })?;
        out.save("finished-quota-notice.txt", &s)?;
        Ok(s.lines()
            .find(|l| l.contains("% of your"))
            .unwrap_or("")
            .trim()
            .to_owned())
    });
    r.check("rate-limited-usage-limit", || {
        win.prompt("LIMIT hello again")?;
        let after = |s: &str| {
            s.rsplit("LIMIT hello again")
                .next()
                .unwrap_or("")
                .to_owned()
        };
        let s = win.settle("the usage-limit screen", TURN, QUIET, |s| {
            after(s).to_lowercase().contains("limit") && (ready(s) || dialog(s))
        })?;
        let mut note = String::new();
        let s = if dialog(&s) {
            // Some versions open their rate-limit options menu by themselves.
            out.save("needs-input-usage-limit-options.txt", &s)?;
            note.push_str("the options menu opened; ");
            win.keys(&["Escape"]);
            win.settle("the box after the menu", TURN, QUIET, ready)?
        } else {
            s
        };
        out.save("rate-limited-usage-limit.txt", &s)?;
        note.push_str(
            after(&s)
                .lines()
                .find(|l| l.to_lowercase().contains("limit"))
                .unwrap_or("")
                .trim(),
        );
        Ok(note)
    });
    r
}
