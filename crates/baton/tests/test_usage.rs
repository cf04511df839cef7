//! Cost and tokens per task: what the agent CLIs tell of their sessions (Claude Code's
//! statusLine and Stop hook, Codex's rollout files) reaches `baton task show`, `task list
//! --json` and REPORT.md as each task's share.

use std::path::Path;

use serde_json::Value;

use crate::common::TestProject;
use crate::common::line_with;

/// An assistant line of a Claude Code transcript: message `id` with its usage.
fn transcript_line(id: &str, input: u64, cache_read: u64, output: u64) -> String {
    format!(
        r#"{{"type":"assistant","message":{{"id":"{id}","role":"assistant","usage":{{"input_tokens":{input},"cache_creation_input_tokens":0,"cache_read_input_tokens":{cache_read},"output_tokens":{output}}}}}}}"#
    )
}

/// Writes a shell script that plays what Claude Code does during a turn: its statusLine
/// command with the session's cost so far, then at the turn's end its Stop hook naming a
/// transcript with these lines.
fn turn_script(p: &TestProject, name: &str, cost: &str, transcript: &[String]) {
    let root = p.root();
    let tx = root.join(format!("{name}.transcript.jsonl"));
    std::fs::write(&tx, transcript.join("\n") + "\n").unwrap();
    let status = format!(r#"{{"session_id":"s1","cost":{{"total_cost_usd":{cost}}}}}"#);
    let stop = format!(
        r#"{{"session_id":"s1","hook_event_name":"Stop","transcript_path":"{}"}}"#,
        tx.display()
    );
    p.write_file(
        &format!("{name}.sh"),
        &format!(
            "printf '%s' '{status}' | baton hook statusline --agent claude >/dev/null\n\
             printf '%s' '{stop}' | baton hook stop --agent claude\n\
             touch {name}.done\n"
        ),
    );
}

fn shown(p: &TestProject, id: &str) -> Value {
    p.json(&["task", "show", id, "--json"])
}

/// Two tasks run one after the other by one agent whose CLI tells its session's cost (the
/// statusLine) and tokens (the transcript at each turn's end); the session had spent some
/// before the run. Each task gets the increase over its own span; REPORT.md carries both and
/// their total.
#[test]
fn each_task_gets_its_share_of_the_sessions_cost_and_tokens() {
    let p = TestProject::new();
    let a = transcript_line("msg_1", 100, 0, 10);
    let b = transcript_line("msg_2", 20, 30, 5);
    turn_script(&p, "first", "0.25", std::slice::from_ref(&a));
    turn_script(&p, "second", "0.45", &[a.clone(), b]);
    // As in a real turn: `baton task done` runs inside the turn; the statusLine's last
    // refresh and the Stop hook come after it.
    let done = "baton task done \\\"$BATON_FAKE_TASK\\\"";
    let script = format!(
        "[[task]]\nmatch = \"first feature\"\nwork_ms = 100\nrun = [\"{done}\", \"sh first.sh\"]\n\
         [[task]]\nmatch = \"second feature\"\nwork_ms = 100\nrun = [\"{done}\", \"sh second.sh\"]\n"
    );
    let agent = p.fake_agent("claude", "claude", &script);
    // The run ends at the last `task done`, before that turn's own end: its hooks' readings
    // reach REPORT.md because verify waits for them (10 s at most).
    let verify = "for i in $(seq 100); do [ -e second.done ] && exit 0; sleep 0.1; done; exit 1";
    p.write_config(&format!(
        "{agent}[run]\ntest_tasks = false\n\n[verify]\ncommands = [\"{verify}\"]\n"
    ));
    // What the session spent before the run: the baseline, nobody's task.
    p.exec_with_stdin(
        &["hook", "statusline", "--agent", "claude"],
        br#"{"session_id":"s1","cost":{"total_cost_usd":0.1}}"#,
    )
    .expect_code(0);
    p.write_plan("- [ ] first feature\n- [ ] second feature after:#1\n");
    p.ok(&["run", "plan.md", "--quiet"]);

    let first = shown(&p, "T-001");
    assert_eq!(first["status"], "COMPLETED", "{first}");
    assert_eq!(first["cost_usd"], 0.15, "{first}");
    // The session's first transcript reading counts from zero.
    assert_eq!(first["input_tokens"], 100, "{first}");
    assert_eq!(first["output_tokens"], 10, "{first}");
    assert!(first["duration_ms"].as_i64().unwrap() >= 0, "{first}");
    let second = shown(&p, "T-002");
    assert_eq!(second["cost_usd"], 0.2, "{second}");
    assert_eq!(second["input_tokens"], 50, "{second}");
    assert_eq!(second["output_tokens"], 5, "{second}");

    let text = p.ok(&["task", "show", "T-002"]);
    line_with(&text, "cost:", &["$0.2000 · 50 in / 5 out tokens"]);
    line_with(&text, "time:", &["(started ", ", finished "]);
    let listed = p.json(&["task", "list", "--json"]);
    assert_eq!(listed[0]["cost_usd"], 0.15, "{listed}");
    assert_eq!(listed[1]["input_tokens"], 50, "{listed}");

    let report = p.read_file("REPORT.md");
    line_with(&report, "- Cost:", &["$0.3500 · tokens: 150 in / 15 out"]);
    line_with(&report, "| T-001 |", &["| $0.1500 | 100 in / 10 out |"]);
    line_with(&report, "| T-002 |", &["| $0.2000 | 50 in / 5 out |"]);
}

/// Appends a Codex rollout line: the session's token totals at `at_ms`.
fn rollout_tokens(file: &Path, at_ms: i64, input: u64, output: u64) {
    use std::io::Write;
    let at = jiff::Timestamp::from_millisecond(at_ms).unwrap();
    let line = format!(
        r#"{{"timestamp":"{at}","type":"event_msg","payload":{{"type":"token_count","info":{{"total_token_usage":{{"input_tokens":{input},"cached_input_tokens":0,"output_tokens":{output},"reasoning_output_tokens":0,"total_tokens":{}}}}},"rate_limits":null}}}}"#,
        input + output
    );
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(file)
        .unwrap();
    writeln!(f, "{line}").unwrap();
}

/// Returns the time of a task's first `task-start`, from its history.
fn started_ms(p: &TestProject, id: &str) -> i64 {
    let t = shown(p, id);
    t["history"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["action"] == "task-start")
        .and_then(|e| e["at_ms"].as_i64())
        .unwrap_or_else(|| panic!("{t}"))
}

/// A Codex agent alone in its CODEX_HOME gets its rollout's token totals as its task's share;
/// two agents sharing a home get none (the home's sessions cannot be told apart by agent),
/// shown as null, not 0. A task with no reading has null cost and tokens.
#[test]
fn codex_rollout_tokens_count_only_for_a_home_of_its_own() {
    let p = TestProject::new();
    let root = p.root().to_path_buf();
    let day = Path::new("sessions/2026/12/03");
    let own = root.join("home-own");
    let shared = root.join("home-shared");
    for home in [&own, &shared] {
        std::fs::create_dir_all(home.join(day)).unwrap();
    }
    let agent = |name: &str, home: &Path| {
        format!(
            "[[agent]]\nname = \"{name}\"\ncli = \"codex\"\ncommand = \"sleep 600\"\nenv = {{ CODEX_HOME = \"{}\" }}\n\n",
            home.display()
        )
    };
    p.write_config(&format!(
        "{}{}{}",
        agent("solo", &own),
        agent("pair1", &shared),
        agent("pair2", &shared)
    ));
    let own_file = own.join(day).join("rollout-2026-12-03T00-00-00-a.jsonl");
    let shared_file = shared.join(day).join("rollout-2026-12-03T00-00-00-b.jsonl");
    let meta = r#"{"timestamp":"2026-12-03T00:00:00.000Z","type":"session_meta","payload":{"id":"sess-a"}}"#;
    std::fs::write(&own_file, format!("{meta}\n")).unwrap();
    std::fs::write(&shared_file, format!("{meta}\n")).unwrap();
    // Tokens spent before the task started: the baseline.
    let before = jiff::Timestamp::now().as_millisecond() - 60_000;
    rollout_tokens(&own_file, before, 1000, 100);
    rollout_tokens(&shared_file, before, 1000, 100);
    p.ok(&["usage", "--refresh"]);
    for title in ["A", "B", "C"] {
        p.ok(&["task", "add", title]);
    }
    p.ok(&["task", "start", "T-001", "--agent", "solo"]);
    p.ok(&["task", "start", "T-002", "--agent", "pair1"]);
    let start = started_ms(&p, "T-001").max(started_ms(&p, "T-002"));
    rollout_tokens(&own_file, start + 1000, 1600, 130);
    rollout_tokens(&shared_file, start + 1000, 1600, 130);
    p.ok(&["usage", "--refresh"]);

    let solo = shown(&p, "T-001");
    assert_eq!(solo["input_tokens"], 600, "{solo}");
    assert_eq!(solo["output_tokens"], 30, "{solo}");
    assert_eq!(solo["cost_usd"], Value::Null, "Codex tells no cost: {solo}");
    let pair = shown(&p, "T-002");
    for field in ["cost_usd", "input_tokens", "output_tokens"] {
        assert_eq!(pair[field], Value::Null, "{field}: {pair}");
    }
    let never = shown(&p, "T-003");
    assert_eq!(never["input_tokens"], Value::Null, "{never}");
    assert_eq!(never["duration_ms"], Value::Null, "{never}");
    let text = p.ok(&["task", "show", "T-002"]);
    line_with(&text, "cost:", &["— · — in / — out tokens"]);
}
