//! Prompt delivery through `baton send`: byte-exact, submitted exactly once, never into a shell,
//! and never able to act as keys.

use std::collections::BTreeMap;
use std::time::Duration;

use crate::common::TestProject;
use crate::common::four_personas;
use crate::common::prompts;
use crate::common::wait_until;

/// Returns a corpus of `n` prompts covering the hard cases, plus one 64 KiB prompt.
fn corpus(n: usize) -> Vec<String> {
    let pieces = [
        "Corrige la fonction `parse()` : élève, garçon, où, œuvre, « guillemets » — ça marche ?",
        "Emoji 🎉🚀 and CJK 漢字 and RTL مرحبا",
        "Don't run $(rm -rf ~) or `rm -rf /` ; echo pwned; && || > /tmp/x",
        "Quotes: \"double\" 'single' \\backslash\\ {braces} [brackets] #hash %percent",
        "Tabs:\tone\ttwo\t\tthree",
        "Multi-line:\nfirst line\n\n  indented third\nlast line",
        "T-042: implement the feature\nValidation:\n- cargo test passes\n- no warnings",
    ];
    let mut out: Vec<String> = (0..n)
        .map(|i| {
            let a = pieces[i % pieces.len()];
            let b = pieces[(i * 3 + 1) % pieces.len()];
            format!("#{i} {a}\n{b}")
        })
        .collect();
    // 64 KiB and more, many lines, with the same hard characters.
    let mut big = String::from("BIG PROMPT\n");
    let mut k = 0;
    while big.len() < 66 * 1024 {
        big.push_str(&format!("{k:05} {}\n", pieces[k % pieces.len()]));
        k += 1;
    }
    out.push(big);
    out
}

/// Sends `texts` to one agent, one `baton send` each, via stdin.
fn send_all(p: &TestProject, agent: &str, texts: &[String]) {
    for t in texts {
        let out = p.exec_with_stdin(&["send", agent, "-", "--json"], t.as_bytes());
        assert!(
            out.code == Some(0),
            "send to {agent} failed: {}\n{}",
            out.stderr,
            p.capture(agent)
        );
    }
}

#[test]
fn a_thousand_prompts_arrive_byte_exact_and_once() {
    let p = TestProject::new();
    let script = "default_work_ms = 20\n[[task]]\nmatch = \"BIG PROMPT\"\nwork_ms = 20\n";
    p.write_config(&four_personas(&p, script));
    p.ok(&["up", "--no-daemon"]);

    let texts = corpus(1000);
    let names = ["claude", "codex", "amp", "gemini"];
    let mut plan: BTreeMap<&str, Vec<String>> = BTreeMap::new();
    for (i, t) in texts.iter().enumerate() {
        plan.entry(names[i % names.len()])
            .or_default()
            .push(t.clone());
    }
    // The 64 KiB prompt goes to every persona.
    let big = texts.last().unwrap().clone();
    for name in names {
        plan.get_mut(name).unwrap().push(big.clone());
    }
    std::thread::scope(|s| {
        for (agent, texts) in &plan {
            let p = &p;
            s.spawn(move || send_all(p, agent, texts));
        }
    });
    for (agent, texts) in &plan {
        let got = prompts(&p.prompt_log(agent));
        assert_eq!(
            got.len(),
            texts.len(),
            "{agent}: every prompt submitted exactly once"
        );
        for (i, (g, want)) in got.iter().zip(texts).enumerate() {
            assert!(
                g == want.as_bytes(),
                "{agent}: prompt {i} differs:\n got: {:?}\nwant: {:?}",
                String::from_utf8_lossy(&g[..g.len().min(200)]),
                &want[..want.len().min(200)]
            );
        }
    }
    // The Codex persona swallowed the first Enter of each prompt and still got each one once.
    let events = std::fs::read_to_string(p.events_log("codex")).unwrap();
    let swallowed = events
        .lines()
        .filter(|l| l.contains(" enter-swallowed"))
        .count();
    assert_eq!(
        swallowed,
        plan["codex"].len(),
        "one swallowed Enter per codex prompt"
    );
}

#[test]
fn a_prompt_is_never_typed_into_a_shell() {
    let p = TestProject::new();
    p.write_config(
        "[[agent]]\nname = \"sh\"\ncli = \"generic\"\ncommand = \"bash --norc --noprofile\"\n",
    );
    p.ok(&["up", "--no-wait", "--no-daemon"]);
    let marker = p.root().join("pwned");
    wait_until(Duration::from_secs(5), "bash to start", || {
        p.capture("sh").contains('$') || p.capture("sh").contains('#')
    });
    let before = p.capture("sh");
    let cmd = format!("touch {}", marker.display());
    // Refused at once (not after the profile's 30 s start-up wait), with or without --force,
    // saying it is a shell, and never suggesting --force.
    for force in [false, true] {
        let mut args = vec!["send", "sh", cmd.as_str()];
        if force {
            args.push("--force");
        }
        let start = std::time::Instant::now();
        let out = p.run(&args);
        let took = start.elapsed();
        assert_eq!(out.status.code(), Some(1), "{args:?}");
        assert!(took < Duration::from_secs(5), "{args:?} took {took:?}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("runs `bash`, a shell"), "{err}");
        assert!(err.contains("would run as shell commands"), "{err}");
        assert!(err.contains("even with --force"), "{err}");
        assert!(!err.contains("pass --force"), "{err}");
    }
    assert_eq!(p.capture("sh"), before, "nothing was typed");
    assert!(!marker.exists());
}

#[test]
fn escape_sequences_cannot_act_as_keys() {
    let p = TestProject::new();
    p.write_config(&p.fake_agent("claude", "claude", "default_work_ms = 10\n"));
    p.ok(&["up", "--no-daemon"]);
    // Clear screen, end-of-paste injection followed by a fake Enter, Shift+Tab (mode change),
    // cursor moves, a bell, a NUL-free C1 CSI: each sequence goes whole, not just its ESC.
    let evil = "start\x1b[2J\x1b[201~\rinjected\x1b[Z\x1b[Z\x1b[10;10H\x07 \u{9b}31m end";
    let out = p.run(&["send", "claude", evil, "--json"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        err.contains("removed 6 escape sequence(s) and 2 control character(s)"),
        "{err}"
    );
    assert!(err.contains("CSI ESC[2J at byte 5"), "{err}");
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["stripped"][0]["code"], "U+001B");
    assert_eq!(v["stripped"][0]["offset"], 5);
    assert_eq!(v["stripped"][0]["bytes"], 4);
    assert_eq!(v["stripped"][0]["kind"], "csi");
    assert_eq!(v["stripped"][0]["text"], "ESC[2J");
    let got = prompts(&p.prompt_log("claude"));
    assert_eq!(got, vec![b"startinjected  end".to_vec()]);
    let events = std::fs::read_to_string(p.events_log("claude")).unwrap();
    assert!(!events.contains(" mode "), "the mode changed:\n{events}");
    assert_eq!(
        events.lines().filter(|l| l.contains(" submit ")).count(),
        1,
        "{events}"
    );
}

/// The case: colours, a title, a hyperlink and a charset switch reach the agent as
/// the plain text around them; an OSC that never ends loses only its introducer.
#[test]
fn escape_sequences_are_removed_whole() {
    let p = TestProject::new();
    p.write_config(&p.fake_agent("claude", "claude", "default_work_ms = 10\n"));
    p.ok(&["up", "--no-daemon"]);
    let cases = [
        ("a \x1b[2J\x1b[31mred\x1b[0m", "a red"),
        (
            "title\x1b]0;evil\x07, \x1b]8;;http://127.0.0.1/\x1b\\link\x1b]8;;\x1b\\ \x1b(Bok\x1b7",
            "title, link ok",
        ),
        ("open \x1b]52;c;abc\nnext line", "open 52;c;abc\nnext line"),
    ];
    for (text, want) in cases {
        let out = p.run(&["send", "claude", text]);
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
        let got = prompts(&p.prompt_log("claude"));
        assert_eq!(
            String::from_utf8_lossy(got.last().unwrap()),
            want,
            "{text:?}"
        );
    }
    // Each message is journaled by its sender, with its size, never its text.
    let sent = p.journaled("message-sent");
    assert_eq!(sent.len(), cases.len(), "{sent:?}");
    assert!(
        sent.iter()
            .all(|e| e["target"] == "claude" && e["actor"] == "user")
    );
    assert!(
        sent[0]["result"]
            .as_str()
            .is_some_and(|r| r.starts_with(&format!("{} bytes sent (Enter", cases[0].1.len()))),
        "{sent:?}"
    );
    assert!(
        !serde_json::to_string(&p.journal())
            .unwrap()
            .contains("a red")
    );
}

#[test]
fn sending_to_an_agent_with_a_dialog_is_refused() {
    let p = TestProject::new();
    p.write_config(&p.fake_agent("claude", "claude", "trust_dialog = true\n"));
    let up = p.run(&["up", "--no-daemon"]);
    assert_eq!(up.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&up.stderr).contains("waits for a person"));
    let out = p.run(&["send", "claude", "hello"]);
    assert_eq!(out.status.code(), Some(1));
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("dialog"), "{err}");
    assert!(prompts(&p.prompt_log("claude")).is_empty());
}

/// A `baton up` run inside a CI job (`CI=true`, `GITHUB_ACTIONS=true` in its environment)
/// starts agents that do not see those switches (Gemini CLI reads them as headless mode and
/// exits), unless the agent's own `env` sets one.
#[test]
fn agent_windows_do_not_inherit_the_ci_switches() {
    let p = TestProject::new();
    p.write_config(
        "[[agent]]\nname = \"sh\"\ncli = \"generic\"\n\
         command = \"echo \\\"seen: ci=[${CI-unset}] gh=[${GITHUB_ACTIONS-unset}] cont=[${CONTINUOUS_INTEGRATION-unset}] other=[${OTHER_VAR-unset}]\\\"; exec sleep 600\"\n\
         env = { CONTINUOUS_INTEGRATION = \"kept\" }\n",
    );
    let out = p
        .cmd(&["up", "--no-wait", "--no-daemon"])
        .env("CI", "true")
        .env("GITHUB_ACTIONS", "true")
        .env("CONTINUOUS_INTEGRATION", "true")
        .env("OTHER_VAR", "passed")
        .output()
        .unwrap();
    assert!(out.status.success(), "{out:?}");
    wait_until(Duration::from_secs(10), "the agent to print", || {
        p.capture("sh").contains("seen:")
    });
    let screen = p.capture("sh");
    assert!(
        screen.contains("seen: ci=[unset] gh=[unset] cont=[kept] other=[passed]"),
        "{screen}"
    );
}

#[test]
fn messages_sent_at_once_to_one_agent_arrive_one_by_one() {
    let p = TestProject::new();
    p.write_config(&p.fake_agent("claude", "claude", "default_work_ms = 50\n"));
    p.ok(&["up", "--no-daemon"]);
    // Four senders at the same moment: each waits for the one before it, none is typed into
    // another.
    let senders: Vec<_> = (1..=4)
        .map(|i| {
            p.spawn(
                &["send", "claude", &format!("message number {i}")],
                std::process::Stdio::piped,
            )
        })
        .collect();
    for s in senders {
        let out = s.wait_with_output().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let mut got: Vec<String> = prompts(&p.prompt_log("claude"))
        .iter()
        .map(|b| String::from_utf8_lossy(b).into_owned())
        .collect();
    got.sort();
    assert_eq!(
        got,
        (1..=4)
            .map(|i| format!("message number {i}"))
            .collect::<Vec<_>>()
    );
}

#[test]
fn a_message_forced_into_a_busy_agent_is_not_called_delivered() {
    let p = TestProject::new();
    p.write_config(&p.fake_agent("claude", "claude", "default_work_ms = 600000\n"));
    p.ok(&["up", "--no-daemon"]);
    p.ok(&["send", "claude", "start working"]);
    let out = p.ok(&["send", "claude", "--force", "and this too"]);
    assert!(
        out.contains("typed into claude's input while it was working: not checked"),
        "{out}"
    );
    let sent = p.journaled("message-sent");
    assert_eq!(sent.len(), 2, "{sent:?}");
    assert!(
        sent[1]["result"]
            .as_str()
            .is_some_and(|r| r.contains("with force (typed while working: not checked)")),
        "{sent:?}"
    );
}

/// Text a person left in the agent's input box would be joined to the message and sent as
/// one: `baton send` refuses, saying what the box holds; `--force` types anyway.
#[test]
fn a_message_is_not_joined_to_text_left_in_the_input_box() {
    let p = TestProject::with_fake_agents(&[("claude", "claude", "default_work_ms = 20\n")]);
    p.ok(&["up", "--no-daemon"]);
    let pane = p.pane("claude");
    p.tmux(&["send-keys", "-t", &pane, "-l", "half typed"]);
    wait_until(Duration::from_secs(10), "the text in the box", || {
        p.capture("claude").contains("half typed")
    });
    let refused = p.exec(&["send", "claude", "hello"]);
    assert_eq!(refused.code, Some(1), "{}", refused.both());
    assert!(
        refused
            .stderr
            .contains("the input box of agent `claude` already holds `half typed`"),
        "{}",
        refused.stderr
    );
    assert!(refused.stderr.contains("--force"), "{}", refused.stderr);
    let log = p.prompt_log("claude");
    assert!(prompts(&log).is_empty(), "something was submitted");
    // Forced, it is typed after the text, as the person asked.
    p.ok(&["send", "claude", "hello", "--force"]);
    wait_until(Duration::from_secs(10), "the forced prompt", || {
        prompts(&log).iter().any(|t| t == b"half typedhello")
    });
}
