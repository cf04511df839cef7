//! The commands around the agents: init, doctor, up, ls, peek, down, and config errors.

use std::time::Duration;

use crate::common::TestProject;
use crate::common::assert_has;
use crate::common::wait_until;

#[test]
fn init_writes_a_config_that_loads_and_refuses_to_overwrite() {
    let p = TestProject::new();
    assert_has(&p.ok(&["init"]), &["wrote"]);
    assert_has(&p.read_file("baton.toml"), &["[session]", "[lead]"]);
    // A second init must not clobber the file.
    assert_has(
        &p.exec(&["init"]).expect_code(1).stderr,
        &["already exists"],
    );
    // The written file loads: doctor reads it.
    p.expect_check("config", true);
}

#[test]
fn config_errors_name_file_line_and_key() {
    let p = TestProject::new();
    p.write_config("[[agent]]\nname = \"a\"\ncli = \"claud\"\n");
    // Line 9: the session header written by the test takes 5 lines and a blank one.
    assert_has(
        &p.exec(&["ls"]).expect_code(1).stderr,
        &["baton.toml:9:", "agent[0].cli", "unknown profile `claud`"],
    );
}

#[test]
fn commands_outside_a_project_say_what_to_do() {
    let p = TestProject::new();
    assert_has(
        &p.exec(&["ls"]).expect_code(1).stderr,
        &["no baton.toml", "baton init"],
    );
}

#[test]
fn up_ls_peek_down() {
    let p = TestProject::with_fake_agents(&[
        ("claude", "claude", "quota_percent = 42\n"),
        ("codex", "codex", ""),
    ]);
    let out = p.ok(&["up", "--no-daemon"]);
    assert!(out.contains("claude") && out.contains("ready"), "{out}");
    // up again is idempotent.
    let again = p.ok(&["up", "--no-daemon"]);
    assert!(again.contains("already running"), "{again}");

    let ls = p.json(&["ls", "--json"]);
    assert_eq!(ls["running"], true);
    let agents = ls["agents"].as_array().unwrap();
    assert_eq!(agents.len(), 2);
    for a in agents {
        assert_eq!(a["running"], true, "{a}");
        assert!(
            ["idle", "finished"].contains(&a["state"].as_str().unwrap()),
            "{a}"
        );
        assert!(a["pid"].as_u64().unwrap() > 0);
    }
    assert_eq!(agents[0]["quota"][0]["used_percent"], 42.0, "{}", agents[0]);

    let peek = p.ok(&["peek", "claude"]);
    assert_has(&peek, &["You've used 42% of your session limit"]);
    assert!(
        peek.trim_end().ends_with("idle") || peek.trim_end().ends_with("finished"),
        "{peek}"
    );

    assert_has(
        &p.exec(&["peek", "nobody"]).expect_code(1).stderr,
        &["no agent named `nobody`"],
    );

    p.ok(&["down"]);
    wait_until(Duration::from_secs(5), "server to stop", || {
        !p.tmux(&["has-session", "-t", &p.session]).status.success()
    });
    assert_eq!(p.json(&["ls", "--json"])["running"], false);
}

#[test]
fn detect_reads_a_capture_from_stdin() {
    let p = TestProject::new();
    let out = p.exec_with_stdin(
        &["detect", "--agent", "claude", "--json"],
        "✢ Whirring… (3s · esc to interrupt)\n────\n❯ \n────\n".as_bytes(),
    );
    let v: serde_json::Value = serde_json::from_str(&out.expect_code(0).stdout).unwrap();
    assert_eq!(v["state"], "working");
    assert_eq!(v["evidence"][0]["line"], 1);
    p.exec(&["detect", "--agent", "nope"]).expect_code(2);
}

#[test]
fn init_in_a_git_repository_proposes_worktrees_and_doctor_checks_them() {
    let p = TestProject::new();
    let git = |args: &[&str]| {
        crate::common::git(p.root(), args);
    };
    git(&["init", "-q", "-b", "trunk"]);
    p.ok(&["init"]);
    let text = p.read_file("baton.toml");
    assert_has(&text, &["\nisolation = \"worktree\""]);
    // With an agent, doctor checks the repository: no commit yet on `trunk`.
    let agent = p.fake_agent("a", "claude", "");
    p.write_file("baton.toml", &format!("{text}\n{agent}"));
    let wt = p.expect_check("worktrees", false);
    assert!(wt["detail"].as_str().unwrap().contains("trunk"), "{wt}");
    git(&[
        "-c",
        "user.name=t",
        "-c",
        "user.email=t@t.invalid",
        "commit",
        "-q",
        "--allow-empty",
        "-m",
        "first",
    ]);
    p.expect_check("worktrees", true);
}

#[test]
fn a_reader_that_goes_away_ends_the_output_quietly() {
    use std::io::Read;
    let p = TestProject::new();
    p.write_config("");
    let plan: String = (0..300)
        .map(|i| format!("- [ ] task number {i}\n"))
        .collect();
    p.write_plan(&plan);
    p.ok(&["task", "import", "plan.md"]);
    let mut child = p.spawn(&["log", "-n", "100000"], std::process::Stdio::piped);
    let mut first = [0u8; 16];
    child
        .stdout
        .as_mut()
        .unwrap()
        .read_exact(&mut first)
        .unwrap();
    drop(child.stdout.take());
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert!(
        matches!(out.status.code(), Some(0 | 141)),
        "{:?} {stderr}",
        out.status
    );
}

/// `-C` names what is wrong with its directory: missing, or a file.
#[test]
fn dash_c_says_whether_the_directory_is_missing_or_a_file() {
    let p = TestProject::new();
    p.write_plan("- [ ] x\n");
    for (arg, want) in [
        ("plan.md", "plan.md: not a directory"),
        ("nowhere", "nowhere: no such directory"),
    ] {
        assert_has(&p.exec(&["-C", arg, "ls"]).expect_code(2).stderr, &[want]);
    }
}

/// A task list naming unknown agents is refused with every one of them listed, file:line, in
/// the format of the other import errors, and no store is created.
#[test]
fn an_import_lists_every_unknown_agent() {
    let p = TestProject::new();
    p.write_config("[[agent]]\nname = \"a\"\ncli = \"claude\"\n");
    p.write_plan("- [ ] A {a}\n- [ ] B after:a @nobody\n- [ ] C @ghost\n");
    assert_has(
        &p.exec(&["task", "import", "plan.md"]).expect_code(1).stderr,
        &[
            "2 error(s); nothing was imported:\nplan.md:2: no agent named `nobody` in baton.toml\nplan.md:3: no agent named `ghost` in baton.toml",
        ],
    );
    assert!(!p.root().join(".baton").exists(), "no store created");
}

/// `baton pause` and `baton resume`: said by `ls` (text and JSON), journaled, idempotent, and
/// a task added while paused goes out once dispatch resumes (a pause made in `baton watch`
/// was seen nowhere else, and nothing but `watch` could undo it).
#[test]
fn pause_and_resume_from_the_command_line() {
    let p = TestProject::with_fake_agent("claude", "claude", "default_work_ms = 100\n");
    assert_has(&p.ok(&["pause"]), &["dispatch paused"]);
    assert_has(&p.ok(&["pause"]), &["already paused"]);
    assert_has(&p.ok(&["ls"]), &["dispatch PAUSED"]);
    assert_eq!(p.json(&["ls", "--json"])["paused"], true);
    p.ok(&["up"]);
    p.ok(&["task", "add", "write the parser"]);
    assert_eq!(p.status("T-001"), "PENDING");
    p.ok(&["resume"]);
    assert_eq!(p.json(&["ls", "--json"])["paused"], false);
    wait_until(Duration::from_secs(30), "T-001 done after resume", || {
        p.status("T-001") == "COMPLETED"
    });
    let actions: Vec<String> = p
        .journal()
        .iter()
        .filter(|j| j["actor"] == "user")
        .map(|j| j["action"].as_str().unwrap_or("").to_owned())
        .collect();
    assert!(
        actions.contains(&"dispatch-pause".to_owned())
            && actions.contains(&"dispatch-resume".to_owned()),
        "{actions:?}"
    );
}
