//! The Codex scenarios: one fresh CODEX_HOME per version, offline against the fake model
//! server, and every screen a person would name saved as
//! `<state>-<scenario>.txt`.

use std::path::Path;
use std::path::PathBuf;
use std::time::Duration;

use baton_fake_model::FakeModel;
use baton_fake_model::Reply;
use baton_fake_model::Rule;
use baton_fake_model::Script;

use crate::harness::version_of;
use crate::harness::write_codex_config;
use crate::tui::Tui;
use crate::tui::out_dir;
use crate::tui::version_number;

const KEY: &str = "sk-fake-codex-scenarios-0123456789";
/// The longest a turn (or a dialog to open) may take.
const TURN: Duration = Duration::from_secs(60);
/// A screen this long unchanged is a frame, not a transition.
const QUIET: Duration = Duration::from_millis(1200);
/// The model configured: older than the newest one the CLI knows, so a version that has a
/// model-migration menu shows it.
const MODEL: &str = "gpt-5.5";

/// What one version did.
pub struct Run {
    pub version: String,
    pub out: PathBuf,
    /// The fixtures saved, in order.
    pub saved: Vec<String>,
    /// Scenarios this version does not have, and how that showed.
    pub absent: Vec<(String, String)>,
    /// Scenarios that did not reach their screen.
    pub failed: Vec<(String, String)>,
}

impl Run {
    fn save(&mut self, file: &str, screen: &str) {
        let _ = std::fs::create_dir_all(&self.out);
        if let Err(e) = std::fs::write(self.out.join(file), screen) {
            self.failed
                .push((file.to_owned(), format!("cannot write: {e}")));
            return;
        }
        eprintln!("[scenarios] codex {} saved {file}", self.version);
        self.saved.push(file.to_owned());
    }

    fn absent(&mut self, scenario: &str, why: &str) {
        eprintln!(
            "[scenarios] codex {} does not have {scenario}: {why}",
            self.version
        );
        self.absent.push((scenario.to_owned(), why.to_owned()));
    }

    /// Runs a scenario; an error is recorded as failed, and the screen is left as it is.
    fn step(&mut self, name: &str, f: impl FnOnce(&mut Run) -> Result<(), String>) {
        if let Err(e) = f(self) {
            eprintln!("[scenarios] codex {} FAILED {name}: {e}", self.version);
            self.failed.push((name.to_owned(), e));
        }
    }
}

/// Returns whether a turn is running (the interrupt hint is shown).
fn busy(s: &str) -> bool {
    s.contains("esc to interrupt")
}

/// Returns whether a version is 0.100 or newer.
fn modern(version: &str) -> bool {
    version_number(version)
        .split('.')
        .nth(1)
        .and_then(|m| m.parse::<u32>().ok())
        .is_some_and(|m| m >= 100)
}

/// Returns the edit of this version: the freeform `apply_patch` tool (a `custom_tool_call`)
/// from 0.100 on; before, the `shell` tool with `["apply_patch", PATCH]`, which Codex
/// intercepts as an edit.
fn patch(version: &str, patch: &str) -> Reply {
    if modern(version) {
        Reply::custom_tool("apply_patch", patch)
    } else {
        Reply::tool(
            "shell",
            serde_json::json!({"command": ["apply_patch", patch]}),
        )
    }
}

/// Returns the shell tool call of this version: `exec_command` (unified exec) from 0.100 on,
/// the older `shell` tool with an argv before.
fn shell(version: &str, cmd: &str, escalate: bool) -> Reply {
    let modern = modern(version);
    let input = match (modern, escalate) {
        (true, false) => serde_json::json!({"cmd": cmd, "login": false}),
        (true, true) => serde_json::json!({"cmd": cmd, "login": false,
            "sandbox_permissions": "require_escalated",
            "justification": "Create the marker file in the project?"}),
        (false, false) => serde_json::json!({"command": ["bash", "-c", cmd]}),
        (false, true) => serde_json::json!({"command": ["bash", "-c", cmd],
            "with_escalated_permissions": true,
            "justification": "Create the marker file in the project?"}),
    };
    Reply::tool(if modern { "exec_command" } else { "shell" }, input)
}

fn ack(marker: &str) -> Reply {
    Reply::text(&format!("ack {marker}"))
}

fn error(status: u16, body: Option<serde_json::Value>) -> Reply {
    Reply {
        status: Some(status),
        error_body: body,
        ..Reply::default()
    }
}

fn script(version: &str) -> Script {
    let plan = serde_json::json!({"explanation": "Three steps.", "plan": [
        {"step": "Read the watch view", "status": "completed"},
        {"step": "Add arrow key support to the watch view", "status": "in_progress"},
        {"step": "Run the tests", "status": "pending"}]});
    let edit =
        "*** Begin Patch\n*** Add File: notes.txt\n+Notes written by the model.\n*** End Patch\n";
    let question = serde_json::json!({"questions": [{"id": "color", "header": "Color",
        "question": "Which color should the button be?",
        "options": [{"label": "Blue (Recommended)", "description": "Matches the theme."},
                    {"label": "Red", "description": "Stands out."}]}]});
    let resets = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs())
        + 3 * 3600;
    let slow = |marker: &str, reasoning: Option<&str>| Reply {
        text: Some(format!("ack {marker}")),
        reasoning: reasoning.map(str::to_owned),
        delay_ms: 8000,
        ..Reply::default()
    };
    Script {
        rules: vec![
            Rule::new("SLOW-1", vec![slow("SLOW-1", None)]),
            Rule::new(
                "THINK-2",
                vec![slow(
                    "THINK-2",
                    Some(
                        "**Weighing the options**\n\nComparing the two approaches before writing.",
                    ),
                )],
            ),
            Rule::new(
                "TASKS-3",
                vec![
                    Reply::tool("update_plan", plan),
                    slow(
                        "TASKS-3",
                        Some(
                            "**Adding arrow key support to the watch view**\n\nWiring the arrow keys into the watch view's key handler, one binding at a time.",
                        ),
                    ),
                ],
            ),
            Rule::new(
                "LONG-4",
                vec![shell(version, "sleep 12; echo slept", false), ack("LONG-4")],
            ),
            Rule::new(
                "ASK-5",
                vec![
                    shell(version, "touch approved-by-user.txt", true),
                    ack("ASK-5"),
                ],
            ),
            Rule::new("PATCH-6", vec![patch(version, edit), ack("PATCH-6")]),
            Rule::new(
                "PLANQ-7",
                vec![Reply::tool("request_user_input", question), ack("PLANQ-7")],
            ),
            Rule::new("E500-8", vec![error(500, None)]),
            Rule::new("E429-9", vec![error(429, None)]),
            Rule::new(
                "E529-10",
                vec![error(
                    529,
                    Some(serde_json::json!({"error": {"type": "server_is_overloaded",
                        "code": "server_is_overloaded",
                        "message": "The server is overloaded. Please try again later."}})),
                )],
            ),
            Rule::new(
                "LIMIT-11",
                vec![error(
                    429,
                    Some(serde_json::json!({"error": {"type": "usage_limit_reached",
                        "message": "The usage limit has been reached",
                        "plan_type": "plus", "resets_at": resets}})),
                )],
            ),
        ],
        ..Script::default()
    }
}

/// Writes CODEX_HOME/config.toml: the fake provider and an approval policy that asks; the
/// project is NOT trusted and no notice is marked seen (a first start).
fn write_home(home: &Path, base_url: &str) {
    let settings = format!(
        "model = \"{MODEL}\"\napproval_policy = \"on-request\"\nsandbox_mode = \"read-only\"\n"
    );
    write_codex_config(home, &settings, base_url, 2);
}

/// Drives one version through every scenario it has.
pub fn run(bin: &Path) -> Run {
    let line = version_of(bin);
    let version = version_number(&line);
    let mut run = Run {
        version: version.clone(),
        out: out_dir("codex", &version),
        saved: Vec::new(),
        absent: Vec::new(),
        failed: Vec::new(),
    };
    // The project under /tmp (shown as /tmp/project); CODEX_HOME outside the system
    // temp dir, where Codex refuses to create its helper aliases and warns.
    // `/tmp/cx` and 5 characters: as long as `/tmp/project`, so boxes stay aligned.
    let project = tempfile::Builder::new()
        .prefix("cx")
        .rand_bytes(5)
        .tempdir_in("/tmp")
        .unwrap();
    let homes = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("scenarios");
    std::fs::create_dir_all(&homes).unwrap();
    let home = tempfile::Builder::new()
        .prefix("codex-home-")
        .tempdir_in(&homes)
        .unwrap();
    let _ = std::process::Command::new("git")
        .args(["init", "-q"])
        .current_dir(project.path())
        .status();
    let server = FakeModel::start(script(&version), None).unwrap();
    write_home(home.path(), &server.base_url());
    let socket = format!("baton-scen-codex-{}-{version}", std::process::id());
    let mut argv = vec![bin.display().to_string()];
    if has_flag(bin, "--no-daemon") {
        argv.push("--no-daemon".to_owned());
    }
    // HOME a fresh directory too: no shell profile of the machine's user runs in the tools.
    let user_home = home.path().join("home");
    std::fs::create_dir_all(&user_home).unwrap();
    let env = [
        ("HOME", user_home.display().to_string()),
        ("CODEX_HOME", home.path().display().to_string()),
        ("FAKE_API_KEY", KEY.to_owned()),
    ];
    let mut tui = match Tui::start(&socket, project.path(), &env, &argv) {
        Ok(t) => t,
        Err(e) => {
            run.failed.push(("start".into(), e));
            return run;
        }
    };
    let root = std::fs::canonicalize(project.path()).unwrap();
    tui.redact = vec![
        (root.display().to_string(), "/tmp/project".to_owned()),
        (
            project.path().display().to_string(),
            "/tmp/project".to_owned(),
        ),
        (
            home.path().display().to_string(),
            "/tmp/codex-home".to_owned(),
        ),
    ];
    // The fake server's random port shows in "unexpected status" errors: one five-digit
    // port in every fixture, so a new capture differs only where the screen does.
    if server.port() >= 10000 {
        tui.redact.push((
            format!("127.0.0.1:{}", server.port()),
            "127.0.0.1:40000".to_owned(),
        ));
    }
    first_start(&mut run, &tui);
    if !run.failed.is_empty() {
        return run;
    }
    turns(&mut run, &tui);
    dialogs(&mut run, &tui);
    // The pickers before the errors: their screens then end with a finished turn, not with
    // an error or a limit in the transcript.
    pickers(&mut run, &tui);
    errors(&mut run, &tui);
    let log = serde_json::to_string(&server.requests()).unwrap_or_default();
    if log.contains(KEY) {
        run.failed
            .push(("secrets".into(), "the key reached a request body".into()));
    }
    run
}

/// Returns whether `<bin> --help` lists a flag.
fn has_flag(bin: &Path, flag: &str) -> bool {
    std::process::Command::new(bin)
        .arg("--help")
        .stdin(std::process::Stdio::null())
        .output()
        .is_ok_and(|o| String::from_utf8_lossy(&o.stdout).contains(flag))
}

fn is_trust_dialog(s: &str) -> bool {
    let l = s.to_lowercase();
    (l.contains("trust this folder")
        || l.contains("do you trust")
        || l.contains("allow codex to work in this folder"))
        && numbered_menu(s)
}

fn is_migration_menu(s: &str) -> bool {
    s.contains("Try new model") || s.contains("Use existing model")
}

/// Returns whether Codex is still starting: `loading` under its banner.
fn loading(s: &str) -> bool {
    s.lines().take(6).any(|l| l.trim() == "loading")
}

/// Returns whether the composer is up with nothing over it: its prompt line, no dialog.
fn composer(s: &str) -> bool {
    !busy(s)
        && !loading(s)
        && !is_trust_dialog(s)
        && !is_migration_menu(s)
        && s.lines()
            .any(|l| l.starts_with("› ") || l.starts_with("▌ "))
        && !numbered_menu(s)
}

/// Returns whether a numbered menu is drawn (a line `1. …`, with or without the cursor).
fn numbered_menu(s: &str) -> bool {
    s.lines().any(|l| {
        let t = l.trim_start();
        let t = t.strip_prefix('›').unwrap_or(t).trim_start();
        t.starts_with("1. ")
    })
}

/// Presses `key` until the dialog `open` recognises is gone for good (a precaution against
/// a key pressed while the dialog is still being set up); at most three times.
fn answer(tui: &Tui, key: &str, open: fn(&str) -> bool) -> Result<(), String> {
    let mut last = String::new();
    for _ in 0..3 {
        tui.keys(&[key]);
        match tui.settle(Duration::from_secs(10), QUIET, "the dialog gone", |s| {
            !open(s)
        }) {
            Ok(_) => return Ok(()),
            Err(e) => last = e,
        }
    }
    Err(format!("`{key}` three times: {last}"))
}

fn first_start(run: &mut Run, tui: &Tui) {
    run.step("starting", |run| {
        // Codex draws its banner and composer with `loading` under the banner while it
        // starts; the trust dialog or the migration menu may come after it.
        let s = tui.wait(TURN, "a first frame", |s| {
            loading(s) || is_trust_dialog(s) || is_migration_menu(s) || composer(s)
        })?;
        if loading(&s) {
            run.save("starting-loading.txt", &s);
        } else {
            run.absent(
                "starting screen",
                "the first frame drawn was already a dialog or the composer",
            );
        }
        Ok(())
    });
    run.step("trust dialog", |run| {
        let s = tui.settle(TURN, QUIET, "the trust dialog or the composer", |s| {
            is_trust_dialog(s) || is_migration_menu(s) || composer(s)
        })?;
        if is_trust_dialog(&s) {
            run.save("needs-input-trust-dialog.txt", &s);
            // The first option trusts the folder.
            answer(tui, "Enter", is_trust_dialog)?;
        } else {
            run.absent("trust dialog", "the first screen had none");
        }
        Ok(())
    });
    run.step("model-migration menu", |run| {
        let s = tui.settle(TURN, QUIET, "the migration menu or the composer", |s| {
            is_migration_menu(s) || composer(s)
        })?;
        if is_migration_menu(&s) {
            run.save("needs-input-model-migration.txt", &s);
            // "2" chooses "Use existing model" at once: the configured model is kept.
            answer(tui, "2", is_migration_menu)?;
        } else {
            run.absent(
                "model-migration menu",
                &format!("none shown with model = \"{MODEL}\""),
            );
        }
        Ok(())
    });
    run.step("idle on a fresh start", |run| {
        let s = tui.settle(TURN, Duration::from_millis(2000), "the composer", composer)?;
        run.save("idle-fresh-start.txt", &s);
        Ok(())
    });
}

/// Waits for the end of the turn that answers `marker`; returns the settled screen.
fn finished(tui: &Tui, marker: &str) -> Result<String, String> {
    let m = format!("ack {marker}");
    tui.settle(TURN, QUIET, &format!("`{m}` and the turn over"), |s| {
        s.contains(&m) && !busy(s)
    })
}

/// A turn whose working screen is saved.
struct Turn {
    scenario: &'static str,
    /// The prompt; its first word is the marker of the reply.
    prompt: &'static str,
    /// What the working screen shows: a busy screen with either text on it.
    what: &'static str,
    shows: [&'static str; 2],
    working_file: &'static str,
    finished_file: Option<&'static str>,
}

const TURNS: &[Turn] = &[
    Turn {
        scenario: "working, short",
        prompt: "SLOW-1 answer after a pause",
        what: "the interrupt hint",
        shows: ["(2s", "(3s"],
        working_file: "working-short.txt",
        finished_file: Some("finished-reply.txt"),
    },
    Turn {
        scenario: "working, reasoning",
        prompt: "THINK-2 think before you answer",
        what: "the reasoning title",
        shows: ["Weighing the options", "Comparing the two"],
        working_file: "working-reasoning.txt",
        finished_file: None,
    },
    Turn {
        scenario: "working, task list",
        prompt: "TASKS-3 add arrow keys to the watch view, step by step",
        what: "the plan and the step in the status",
        shows: ["Adding arrow key support", "Wiring the arrow keys"],
        working_file: "working-task-list.txt",
        finished_file: Some("finished-task-list.txt"),
    },
    Turn {
        scenario: "working, long tool run",
        prompt: "LONG-4 run the slow command",
        what: "the command running",
        shows: ["(4s", "(5s"],
        working_file: "working-long-tool.txt",
        finished_file: None,
    },
];

fn turns(run: &mut Run, tui: &Tui) {
    for t in TURNS {
        run.step(t.scenario, |run| {
            tui.submit(t.prompt)?;
            let s = tui.wait(TURN, t.what, |s| {
                busy(s) && t.shows.iter().any(|x| s.contains(x))
            })?;
            run.save(t.working_file, &s);
            let marker = t.prompt.split(' ').next().unwrap_or_default();
            let s = finished(tui, marker)?;
            if let Some(file) = t.finished_file {
                run.save(file, &s);
            }
            Ok(())
        });
    }
}

/// Returns whether an approval dialog for `what` is open.
fn approval(s: &str, what: &str) -> bool {
    s.contains(what) && (s.contains("Yes, proceed") || s.contains("1. Yes") || s.contains("(y)"))
}

fn dialogs(run: &mut Run, tui: &Tui) {
    // (scenario, prompt, marker, what the dialog asks about, its name, the scenario's name in
    // the fixtures).
    for (scenario, prompt, marker, about, what, name) in [
        (
            "command approval",
            "ASK-5 create the marker file",
            "ASK-5",
            "approved-by-user.txt",
            "the command approval",
            "command",
        ),
        (
            "patch approval",
            "PATCH-6 write the notes file",
            "PATCH-6",
            "notes.txt",
            "the edit approval",
            "patch",
        ),
    ] {
        run.step(scenario, |run| {
            tui.submit(prompt)?;
            let s = tui.settle(TURN, QUIET, what, |s| approval(s, about))?;
            run.save(&format!("needs-input-{name}-approval.txt"), &s);
            tui.keys(&["y"]);
            let s = finished(tui, marker)?;
            run.save(&format!("finished-{name}-approved.txt"), &s);
            Ok(())
        });
    }
    run.step("request_user_input", |run| {
        tui.keys(&["BTab"]);
        let plan = tui.wait(Duration::from_secs(5), "Plan mode", |s| {
            footer(s).contains("Plan mode")
        });
        if plan.is_err() {
            run.absent(
                "request_user_input",
                "shift+tab shows no Plan mode (the tool is Plan mode only)",
            );
            return Ok(());
        }
        tui.submit("PLANQ-7 ask me which color")?;
        let s = tui.settle(TURN, QUIET, "the question", |s| {
            s.contains("Which color should the button be?") && s.contains("Red")
        })?;
        run.save("needs-input-request-user-input.txt", &s);
        tui.keys(&["Enter"]);
        finished(tui, "PLANQ-7")?;
        // Back to the default mode (the footer names the mode; the transcript may too).
        for _ in 0..4 {
            let s = tui.screen();
            if !footer(&s).contains("Plan mode") {
                break;
            }
            tui.keys(&["BTab"]);
            tui.wait(Duration::from_secs(5), "the mode to change", |t| t != s)?;
        }
        Ok(())
    });
}

/// Returns the last three lines of a screen (Codex's footer).
fn footer(s: &str) -> String {
    let lines: Vec<&str> = s.lines().collect();
    lines[lines.len().saturating_sub(3)..].join("\n")
}

/// Returns whether the turn that `marker` started is over: after its line, an error or the
/// end of a turn is drawn and nothing runs.
fn over_after(s: &str, marker: &str) -> bool {
    !busy(s)
        && s.rfind(marker).is_some_and(|i| {
            let rest = &s[i..];
            rest.contains('■')
                || rest.contains("Worked for")
                || rest.to_lowercase().contains("error")
        })
}

/// Returns whether Codex shows it is retrying.
fn retrying(s: &str) -> bool {
    s.contains("Reconnecting") || s.contains("Retrying") || s.contains("retrying")
}

fn errors(run: &mut Run, tui: &Tui) {
    for (marker, status, end_state) in [
        ("E500-8", 500, "error"),
        ("E429-9", 429, "rate-limited"),
        ("E529-10", 529, "error"),
    ] {
        run.step(&format!("API error {status}"), |run| {
            tui.submit(&format!("{marker} this request fails with {status}"))?;
            let s = tui.wait(TURN, "the retry notice or the turn over", |s| {
                busy(s) && retrying(s) || over_after(s, marker)
            })?;
            if busy(&s) {
                run.save(&format!("working-retry-{status}.txt"), &s);
            } else {
                run.absent(
                    &format!("retrying {status}"),
                    "the turn ended without a retry notice",
                );
            }
            let s = tui.settle(
                Duration::from_secs(180),
                QUIET,
                "the turn to give up",
                |s| !busy(s),
            )?;
            run.save(&format!("{end_state}-api-{status}.txt"), &s);
            Ok(())
        });
    }
    run.step("usage limit", |run| {
        tui.submit("LIMIT-11 this account is out of quota")?;
        let s = tui.settle(Duration::from_secs(180), QUIET, "the turn to end", |s| {
            !busy(s) && s.contains("LIMIT-11")
        })?;
        let l = s.to_lowercase();
        if l.contains("usage limit") {
            run.save("rate-limited-usage-limit.txt", &s);
        } else {
            run.save("rate-limited-usage-limit-generic.txt", &s);
            run.absent(
                "usage-limit screen",
                "a usage_limit_reached 429 from a custom provider shows no usage-limit text",
            );
        }
        Ok(())
    });
}

/// The slash commands whose screens are saved: (commands, in order of preference; TRUE
/// state; scenario).
const PICKERS: &[(&[&str], &str, &str)] = &[
    (&["/model"], "needs-input", "model-picker"),
    (
        &["/permissions", "/approvals"],
        "needs-input",
        "permissions-picker",
    ),
    (&["/theme"], "needs-input", "theme-picker"),
    (&["/skills"], "needs-input", "skills-menu"),
    (&["/experimental"], "needs-input", "experimental-features"),
    (&["/status"], "idle", "status-card"),
];

/// Returns whether the slash popup lists `cmd`: a line with the command and its description
/// (the composer's line holds the command alone).
fn listed(s: &str, cmd: &str) -> bool {
    s.lines().any(|l| {
        let t = l.trim_start();
        let t = t
            .strip_prefix('›')
            .or_else(|| t.strip_prefix('▌'))
            .unwrap_or(t)
            .trim_start();
        t.strip_prefix(cmd)
            .is_some_and(|rest| rest.starts_with("  ") && !rest.trim().is_empty())
    })
}

fn pickers(run: &mut Run, tui: &Tui) {
    for (cmds, state, scenario) in PICKERS {
        run.step(scenario, |run| {
            let mut found = None;
            for cmd in *cmds {
                let before = tui.screen();
                tui.type_text(cmd);
                let s = tui.settle(
                    Duration::from_secs(10),
                    Duration::from_millis(600),
                    "the slash popup",
                    |s| s != before,
                )?;
                if listed(&s, cmd) {
                    found = Some((*cmd, s));
                    break;
                }
                tui.keys(&["C-u"]);
                tui.wait(Duration::from_secs(5), "the composer cleared", |t| {
                    !t.contains(cmd)
                })?;
            }
            let Some((cmd, typed)) = found else {
                run.absent(
                    scenario,
                    &format!("{} not in the slash popup", cmds.join(" or ")),
                );
                return Ok(());
            };
            tui.keys(&["Enter"]);
            let s = tui.settle(
                Duration::from_secs(15),
                QUIET,
                &format!("{cmd} open"),
                |s| s != typed,
            )?;
            run.save(&format!("{state}-{scenario}.txt"), &s);
            if *state == "needs-input" {
                tui.keys(&["Escape"]);
                tui.settle(
                    Duration::from_secs(15),
                    QUIET,
                    &format!("{cmd} closed"),
                    |t| t != s,
                )?;
                // Some pickers go back to a parent menu first.
                let s = tui.screen();
                if !composer(&s) {
                    tui.keys(&["Escape"]);
                    tui.settle(Duration::from_secs(15), QUIET, "the composer", composer)?;
                }
            }
            Ok(())
        });
    }
}
