//! The commands around the agents: init, doctor, up, ls, peek, down, and config errors.

use std::time::Duration;

use crate::common::TestProject;
use crate::common::wait_until;

#[test]
fn init_writes_a_config_that_loads_and_refuses_to_overwrite() {
    let p = TestProject::new();
    let out = p.ok(&["init"]);
    assert!(out.contains("wrote"), "{out}");
    let text = std::fs::read_to_string(p.root().join("baton.toml")).unwrap();
    assert!(
        text.contains("[session]") && text.contains("[lead]"),
        "{text}"
    );
    // A second init must not clobber the file.
    let again = p.run(&["init"]);
    assert_eq!(again.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&again.stderr).contains("already exists"));
    // The written file loads: doctor reads it.
    let doc = p.run(&["doctor", "--json"]);
    let checks: serde_json::Value = serde_json::from_slice(&doc.stdout).unwrap();
    let config = checks
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "config")
        .unwrap();
    assert_eq!(config["ok"], true, "{checks}");
}

#[test]
fn config_errors_name_file_line_and_key() {
    let p = TestProject::new();
    p.write_config("[[agent]]\nname = \"a\"\ncli = \"claud\"\n");
    let out = p.run(&["ls"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    // Line 9: the session header written by the test takes 5 lines and a blank one.
    assert!(err.contains("baton.toml:9:"), "{err}");
    assert!(
        err.contains("agent[0].cli") && err.contains("unknown profile `claud`"),
        "{err}"
    );
}

#[test]
fn commands_outside_a_project_say_what_to_do() {
    let p = TestProject::new();
    let out = p.run(&["ls"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("no baton.toml") && err.contains("baton init"),
        "{err}"
    );
}

#[test]
fn up_ls_peek_down() {
    let p = TestProject::new();
    let agents = p.fake_agent("claude", "claude", "quota_percent = 42\n")
        + &p.fake_agent("codex", "codex", "");
    p.write_config(&agents);
    let out = p.ok(&["up", "--no-daemon"]);
    assert!(out.contains("claude") && out.contains("ready"), "{out}");
    // up again is idempotent.
    let again = p.ok(&["up", "--no-daemon"]);
    assert!(again.contains("already running"), "{again}");

    let ls: serde_json::Value = serde_json::from_str(&p.ok(&["ls", "--json"])).unwrap();
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
    assert!(
        peek.contains("You've used 42% of your session limit"),
        "{peek}"
    );
    assert!(
        peek.trim_end().ends_with("idle") || peek.trim_end().ends_with("finished"),
        "{peek}"
    );

    let bad = p.run(&["peek", "nobody"]);
    assert_eq!(bad.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&bad.stderr).contains("no agent named `nobody`"));

    p.ok(&["down"]);
    wait_until(Duration::from_secs(5), "server to stop", || {
        !p.tmux(&["has-session", "-t", &p.session]).status.success()
    });
    let ls: serde_json::Value = serde_json::from_str(&p.ok(&["ls", "--json"])).unwrap();
    assert_eq!(ls["running"], false);
}

#[test]
fn detect_reads_a_capture_from_stdin() {
    use std::io::Write;
    let p = TestProject::new();
    let mut child = p
        .cmd(&["detect", "--agent", "claude", "--json"])
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    child
        .stdin
        .take()
        .unwrap()
        .write_all("✢ Whirring… (3s · esc to interrupt)\n────\n❯ \n────\n".as_bytes())
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(out.status.success());
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["state"], "working");
    assert_eq!(v["evidence"][0]["line"], 1);
    let unknown = p.run(&["detect", "--agent", "nope"]);
    assert_eq!(unknown.status.code(), Some(2));
}

#[test]
fn init_in_a_git_repository_proposes_worktrees_and_doctor_checks_them() {
    let p = TestProject::new();
    let git = |args: &[&str]| {
        crate::common::git(p.root(), args);
    };
    git(&["init", "-q", "-b", "trunk"]);
    p.ok(&["init"]);
    let text = std::fs::read_to_string(p.root().join("baton.toml")).unwrap();
    assert!(text.contains("\nisolation = \"worktree\""), "{text}");
    // With an agent, doctor checks the repository: no commit yet on `trunk`.
    let agent = p.fake_agent("a", "claude", "");
    std::fs::write(p.root().join("baton.toml"), format!("{text}\n{agent}")).unwrap();
    let checks: serde_json::Value =
        serde_json::from_slice(&p.run(&["doctor", "--json"]).stdout).unwrap();
    let wt = checks
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"] == "worktrees")
        .cloned()
        .unwrap_or_else(|| panic!("{checks:#}"));
    assert_eq!(wt["ok"], false, "{wt}");
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
    let checks: serde_json::Value =
        serde_json::from_slice(&p.run(&["doctor", "--json"]).stdout).unwrap();
    assert!(
        checks
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["name"] == "worktrees" && c["ok"] == true),
        "{checks:#}"
    );
}

#[test]
fn a_reader_that_goes_away_ends_the_output_quietly() {
    use std::io::Read;
    let p = TestProject::new();
    p.write_config("");
    let plan: String = (0..300)
        .map(|i| format!("- [ ] task number {i}\n"))
        .collect();
    std::fs::write(p.root().join("plan.md"), plan).unwrap();
    p.ok(&["task", "import", "plan.md"]);
    let mut child = p
        .cmd(&["log", "-n", "100000"])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
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
    std::fs::write(p.root().join("plan.md"), "- [ ] x\n").unwrap();
    for (arg, want) in [
        ("plan.md", "plan.md: not a directory"),
        ("nowhere", "nowhere: no such directory"),
    ] {
        let out = p.run(&["-C", arg, "ls"]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{stderr}");
        assert!(stderr.contains(want), "{stderr}");
    }
}

/// A task list naming unknown agents is refused with every one of them listed, file:line, in
/// the format of the other import errors, and no store is created.
#[test]
fn an_import_lists_every_unknown_agent() {
    let p = TestProject::new();
    p.write_config("[[agent]]\nname = \"a\"\ncli = \"claude\"\n");
    std::fs::write(
        p.root().join("plan.md"),
        "- [ ] A {a}\n- [ ] B after:a @nobody\n- [ ] C @ghost\n",
    )
    .unwrap();
    let out = p.run(&["task", "import", "plan.md"]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("2 error(s); nothing was imported:\nplan.md:2: no agent named `nobody` in baton.toml\nplan.md:3: no agent named `ghost` in baton.toml"),
        "{stderr}"
    );
    assert!(!p.root().join(".baton").exists(), "no store created");
}

/// `baton pause` and `baton resume`: said by `ls` (text and JSON), journaled, idempotent, and
/// a task added while paused goes out once dispatch resumes (a pause made in `baton watch`
/// was seen nowhere else, and nothing but `watch` could undo it).
#[test]
fn pause_and_resume_from_the_command_line() {
    let p = TestProject::new();
    p.write_config(&p.fake_agent("claude", "claude", "default_work_ms = 100\n"));
    let said = p.ok(&["pause"]);
    assert!(said.contains("dispatch paused"), "{said}");
    assert!(p.ok(&["pause"]).contains("already paused"));
    assert!(p.ok(&["ls"]).contains("dispatch PAUSED"));
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
