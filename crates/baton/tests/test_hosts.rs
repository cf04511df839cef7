//! Agents on other hosts, as far as they go today: `[[host]]` in baton.toml, checked with
//! file, line and field; `baton doctor` checks each host through a real sshd on loopback;
//! `baton ls` shows each agent's host; an agent whose host cannot be reached is never started
//! here instead. (Agents running on hosts: `test_remote_run`.)

use crate::common::TestProject;
use crate::common::assert_has;
use crate::common::find_check;
use crate::common::sshd::Sshd;
use crate::common::sshd::free_port;

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
fn an_agent_on_an_unreachable_host_is_never_run_here() {
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

    // The host cannot be reached (nothing listens on its port): the local agent starts,
    // the remote one is said not started, and never run here instead.
    let up = p.exec(&["up", "--no-daemon"]);
    up.expect_code(0);
    assert_has(
        &up.stdout,
        &[
            "here ",
            "started in %",
            "there        not started: host `gpu1`",
        ],
    );
    assert!(p.events_log("here").exists());
    assert!(!p.events_log("there").exists(), "{}", up.stdout);
    let panes = p.tmux(&["list-windows", "-t", &p.session, "-F", "#{window_name}"]);
    let names = String::from_utf8_lossy(&panes.stdout);
    assert!(!names.lines().any(|l| l == "there"), "{names}");
    // Looking at it says why it cannot be seen: the host, not the agent.
    let peek = p.exec(&["peek", "there"]);
    assert_eq!(peek.code, Some(1), "{}", peek.both());
    assert_has(&peek.stderr, &["host `gpu1`", "connection refused"]);
    p.ok(&["down"]);

    // Without hosts, `baton ls` has no host column.
    p.write_config(&here);
    assert!(!p.ok(&["ls"]).contains("HOST"));
    assert_eq!(p.json(&["ls", "--json"])["agents"][0]["host"], "local");
}

/// The checks of `baton doctor --json` with these names; panics when one is missing.
fn checks_of<'a>(checks: &'a serde_json::Value, names: &[&str]) -> Vec<&'a serde_json::Value> {
    names
        .iter()
        .map(|n| find_check(checks, n).unwrap_or_else(|| panic!("no check `{n}` in {checks:#}")))
        .collect()
}

/// A good host is all green through a real sshd on loopback: reachable without a prompt,
/// its key known, tmux, baton (the configured path), the directory, the agent's CLI.
/// Without `baton` set and no copy in the host's directory yet, it is a warning that says `baton up`
/// will copy this one; an agent whose CLI is not there fails.
#[test]
fn doctor_checks_a_good_host_through_a_real_sshd() {
    let Some(sshd) = Sshd::start() else {
        return;
    };
    let p = TestProject::new();
    let remote_dir = tempfile::tempdir().unwrap();
    let agent = p.fake_agent("far", "claude", "");
    let baton = crate::common::baton_bin();
    p.write_config(&format!(
        "{agent}host = \"loop\"\n\n{}",
        sshd.host_table(
            "loop",
            remote_dir.path(),
            &format!("baton = \"{}\"", baton.display())
        )
    ));
    let (code, checks) = p.doctor();
    for c in checks_of(
        &checks,
        &[
            "host loop",
            "host loop tmux",
            "host loop baton",
            "host loop dir",
            "agent far",
        ],
    ) {
        assert_eq!(
            (&c["ok"], c.get("warning")),
            (&serde_json::json!(true), None),
            "{c:#}\n{}",
            sshd.log()
        );
    }
    assert_eq!(code, Some(0), "{checks:#}");
    let detail = |n: &str| {
        find_check(&checks, n).unwrap()["detail"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    assert_has(
        &detail("host loop"),
        &[
            &format!(
                "{}@127.0.0.1:{}: reachable without a prompt",
                sshd.user, sshd.port
            ),
            "host key known",
        ],
    );
    assert!(detail("host loop tmux").starts_with("tmux "), "{checks:#}");
    assert_eq!(detail("host loop baton"), baton.display().to_string());
    assert_has(
        &detail("agent far"),
        &[" on loop", &baton.display().to_string()],
    );
    // The text form: one line per check, like the others.
    let text = p.ok(&["doctor"]);
    assert_has(&text, &["ok   host loop ", "ok   host loop dir "]);

    // No `baton` set, none on the PATH sessions get there; a CLI that is not there.
    p.write_config(&format!(
        "{}host = \"loop\"\n\n{}",
        agent.replace(&baton.display().to_string(), "/nowhere/claude"),
        sshd.host_table("loop", remote_dir.path(), "")
    ));
    let (code, checks) = p.doctor();
    assert_eq!(code, Some(1), "{checks:#}");
    let b = find_check(&checks, "host loop baton").unwrap();
    assert_eq!(
        (&b["ok"], &b["warning"]),
        (&true.into(), &true.into()),
        "{b:#}"
    );
    assert_has(
        b["hint"].as_str().unwrap(),
        &["`baton up` will copy this baton there"],
    );
    let a = find_check(&checks, "agent far").unwrap();
    assert_eq!(a["ok"], false, "{a:#}");
    assert_has(
        a["detail"].as_str().unwrap(),
        &["`/nowhere/claude` not found on loop"],
    );
    // A directory that is not there.
    p.write_config(&format!(
        "{agent}host = \"loop\"\n\n{}",
        sshd.host_table("loop", &remote_dir.path().join("not-yet"), "")
    ));
    let (_, checks) = p.doctor();
    let d = find_check(&checks, "host loop dir").unwrap();
    assert_eq!(
        (&d["ok"], &d["warning"]),
        (&true.into(), &true.into()),
        "{d:#}"
    );
    assert_has(
        d["detail"].as_str().unwrap(),
        &["not-yet does not exist on loop"],
    );
    assert_has(d["hint"].as_str().unwrap(), &["`baton up` makes it"]);
}

/// Three hosts that cannot be used, each told apart: nothing listens on the port, the host
/// key is unknown (an empty known_hosts; BatchMode never accepts one), the key is refused.
#[test]
fn doctor_tells_apart_why_a_host_cannot_be_reached() {
    let Some(sshd) = Sshd::start() else {
        return;
    };
    let p = TestProject::new();
    let remote_dir = tempfile::tempdir().unwrap();
    let d = remote_dir.path();
    let agent = p.fake_agent("far", "claude", "");
    p.write_config(&format!(
        "{agent}host = \"closed\"\n\n{}{}{}",
        sshd.host_table_with(
            "closed",
            free_port(),
            &sshd.client_key,
            &sshd.known_hosts,
            d,
            ""
        ),
        sshd.host_table_with(
            "stranger",
            sshd.port,
            &sshd.client_key,
            &sshd.no_known_hosts,
            d,
            ""
        ),
        sshd.host_table_with(
            "nokey",
            sshd.port,
            &sshd.stranger_key,
            &sshd.known_hosts,
            d,
            ""
        ),
    ));
    let (code, checks) = p.doctor();
    assert_eq!(code, Some(1), "{checks:#}");
    for (host, says, hint) in [
        (
            "closed",
            "connection refused: nothing listens on that port",
            "check the port",
        ),
        (
            "stranger",
            "host key unknown: not in known_hosts",
            "baton never accepts a key on its own",
        ),
        (
            "nokey",
            "authentication refused: no key was accepted",
            "set `identity`",
        ),
    ] {
        let c = find_check(&checks, &format!("host {host}")).unwrap();
        assert_eq!(c["ok"], false, "{c:#}");
        assert_has(c["detail"].as_str().unwrap(), &[says]);
        assert_has(c["hint"].as_str().unwrap(), &[hint]);
        assert!(
            find_check(&checks, &format!("host {host} tmux")).is_none(),
            "{checks:#}"
        );
    }
    let a = find_check(&checks, "agent far").unwrap();
    assert_eq!(a["ok"], false, "{a:#}");
    assert_has(
        a["detail"].as_str().unwrap(),
        &["on closed: not checked (closed cannot be reached)"],
    );
    // The empty known_hosts stayed empty: nothing accepted a key.
    assert_eq!(std::fs::read_to_string(&sshd.no_known_hosts).unwrap(), "");
}
