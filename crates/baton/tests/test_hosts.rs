//! Agents on other hosts, as far as they go today: `[[host]]` in baton.toml, checked with
//! file, line and field; `baton ls` shows each agent's host; `baton up` and `baton run`
//! refuse an agent on another host rather than start it here.

use crate::common::TestProject;
use crate::common::assert_has;
use crate::common::find_check;

/// A `[[host]]` table on loopback; `extra` goes at its end.
fn host_table(name: &str, extra: &str) -> String {
    format!("[[host]]\nname = \"{name}\"\nssh = \"127.0.0.1:1\"\ndir = \"/tmp\"\n{extra}\n")
}

/// A bad `[[host]]` stops `baton up` and `baton doctor` with the file, the line and the
/// field; nothing starts.
#[test]
fn a_bad_host_names_file_line_and_field() {
    let p = TestProject::new();
    let agent = p.fake_agent("a", "claude", "");
    // The session header is 6 lines: the agent's table follows, then the host's.
    let lines_before_host = 6 + agent.lines().count();
    for (extra, (line, col), key, why) in [
        (
            "ssh_options = [\"-o\", \"ControlMaster=auto\"]",
            (lines_before_host + 5, 22),
            "host[0].ssh_options[1]",
            "`ControlMaster` is baton's to set",
        ),
        (
            "baton = \"\"",
            (lines_before_host + 5, 1),
            "host[0].baton",
            "is empty",
        ),
    ] {
        p.write_config(&format!("{agent}{}", host_table("gpu1", extra)));
        let prefix = format!("baton.toml:{line}:{col}: {key}: {why}");
        let up = p.exec(&["up", "--no-daemon"]);
        up.expect_code(1);
        assert_has(&up.stderr, &[&prefix]);
        let (code, checks) = p.doctor();
        assert_eq!(code, Some(1), "{checks:#}");
        let c = find_check(&checks, "config").unwrap();
        assert!(
            c["detail"].as_str().unwrap().contains(&prefix),
            "{prefix}\n{c:#}"
        );
    }
    // The host's name, and an agent naming a host there is not.
    p.write_config(&format!(
        "{agent}{}",
        host_table("local", "").replace("127.0.0.1:1", "127.0.0.1:22")
    ));
    assert_has(
        &p.exec(&["up"]).expect_code(1).stderr,
        &[&format!(
            "baton.toml:{}:8: host[0].name: `local` is the word for this machine",
            lines_before_host + 2
        )],
    );
    p.write_config(&format!(
        "{agent}host = \"gpu9\"\n\n{}",
        host_table("gpu1", "")
    ));
    assert_has(
        &p.exec(&["doctor"]).expect_code(1).stdout,
        &[
            "agent[0].host: `gpu9` is not the name of a [[host]] (hosts: gpu1; `local` is this machine)",
        ],
    );
    assert!(
        !p.tmux(&["has-session", "-t", &p.session]).status.success(),
        "the session was started"
    );
}

/// An agent on another host is refused by `baton up` and `baton run`, before anything
/// starts: never run here instead. `baton ls` shows where each agent is.
#[test]
fn an_agent_on_another_host_is_refused_never_run_here() {
    let p = TestProject::new();
    let here = p.fake_agent("here", "claude", "");
    let there = p.fake_agent("there", "codex", "");
    p.write_config(&format!(
        "{here}{there}host = \"gpu1\"\n\n{}",
        host_table("gpu1", "")
    ));
    let ls = p.json(&["ls", "--json"]);
    let hosts: Vec<(&str, &str)> = ls["agents"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| (a["name"].as_str().unwrap(), a["host"].as_str().unwrap()))
        .collect();
    assert_eq!(hosts, [("here", "local"), ("there", "gpu1")], "{ls:#}");
    let text = p.ok(&["ls"]);
    assert_has(&text, &["HOST", "gpu1", "local"]);

    let refused = "agents on other hosts are not supported yet: there on gpu1";
    assert_has(
        &p.exec(&["up", "--no-daemon"]).expect_code(1).stderr,
        &[refused],
    );
    let plan = p.write_plan("# Plan\n\n## Task 1: one\nDo it.\n");
    assert_has(
        &p.exec(&["run", plan.to_str().unwrap()])
            .expect_code(1)
            .stderr,
        &[refused],
    );
    assert!(
        !p.tmux(&["has-session", "-t", &p.session]).status.success(),
        "the session was started"
    );
    assert!(!p.events_log("here").exists() && !p.events_log("there").exists());
    let tasks = p.json(&["task", "list", "--json"]);
    assert_eq!(tasks.as_array().unwrap().len(), 0, "{tasks:#}");

    // Without hosts, `baton ls` has no host column.
    p.write_config(&here);
    assert!(!p.ok(&["ls"]).contains("HOST"));
    assert_eq!(p.json(&["ls", "--json"])["agents"][0]["host"], "local");
}
