//! Quota watch end to end: fake Claude agents whose footers climb from 40 % to their limit,
//! read from their screens by the daemon that `baton up` starts.

use std::path::Path;
use std::time::Duration;

use crate::common;
use crate::common::REPORT_DONE as DONE;
use crate::common::TestProject;
use crate::common::done_step;
use crate::common::item_where;

fn has_entry(p: &TestProject, action: &str, needle: &str) -> bool {
    p.journal()
        .iter()
        .any(|j| j["action"] == action && j["result"].as_str().unwrap_or("").contains(needle))
}

fn log_text(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_default()
}

/// `hot` climbs 40 → 85 % (warn) → 92 % (critical) over two tasks and then gets nothing new;
/// `warm` is at 70 % when its task starts and hits its limit in the middle of it: the task
/// goes to `cool`, the lead, which was told of the warnings. All of it in `baton usage --json`
/// and the journal.
#[test]
fn a_climbing_quota_warns_once_holds_back_then_hands_the_task_over() {
    let p = TestProject::new();
    // The footers say when the session resets, two hours from now, as Claude prints it.
    let reset = common::reset_in_two_hours();
    let hot = format!(
        "quota_percent = 40\nquota_reset = \"{reset}\"\n\
         [[task]]\nmatch = \"job h1\"\nwork_ms = 300\nquota_to = 85\n{DONE}\
         [[task]]\nmatch = \"job h2\"\nwork_ms = 300\nquota_to = 92\n{DONE}"
    );
    let warm = format!(
        "quota_percent = 40\nquota_reset = \"{reset}\"\n\
         [[task]]\nmatch = \"job w1\"\nwork_ms = 60000\nquota_to = 70\nlimit_after_ms = 1500\n"
    );
    let cool = done_step(200, "");
    let agents = p.fake_agent("hot", "claude", &hot)
        + &p.fake_agent("warm", "claude", &warm)
        + &p.fake_agent("cool", "codex", &cool);
    p.write_config(&format!(
        "{agents}[lead]\nchain = [\"cool\"]\n\n[quota]\nwarn = 80\ncritical = 90\nsources = [\"screen\"]\n\n[run]\ntest_tasks = false\n"
    ));
    p.ok(&["up"]);
    p.ok(&["task", "add", "job h1", "--to", "hot"]);
    p.ok(&["task", "add", "job h2", "--to", "hot", "--after", "T-001"]);
    let deadline = Duration::from_secs(90);
    common::wait_until(deadline, "hot at critical", || {
        p.status("T-002") == "COMPLETED" && has_entry(&p, "notify-quota-critical", "hot")
    });
    // hot is idle at 92 %: nothing new for it.
    p.ok(&["task", "add", "job w1", "--to", "warm"]);
    common::wait_until(deadline, "warm's task handed over at its limit", || {
        p.journal().iter().any(|j| {
            j["action"] == "task-requeue"
                && j["task"] == "T-003"
                && j["detail"]
                    .as_str()
                    .unwrap_or("")
                    .contains("usage limit reached")
        })
    });
    p.ok(&["task", "add", "free 1"]);
    p.ok(&["task", "add", "free 2"]);
    common::wait_until(deadline, "every task done", || {
        ["T-003", "T-004", "T-005"]
            .iter()
            .all(|id| p.status(id) == "COMPLETED")
    });

    let entries = p.journal();
    let count = |action: &str, who: &str| {
        entries
            .iter()
            .filter(|j| {
                j["action"] == action
                    && j["result"]
                        .as_str()
                        .unwrap_or("")
                        .starts_with(&format!("{who} has used"))
            })
            .count()
    };
    assert_eq!(
        count("notify-quota-warn", "hot"),
        1,
        "one warning per crossing"
    );
    assert_eq!(count("notify-quota-warn", "warm"), 1);
    assert_eq!(count("notify-quota-critical", "hot"), 1);
    // No task started on hot after it reached critical, nor on warm after its limit.
    for (who, after) in [("hot", "T-002"), ("warm", "T-003")] {
        let started: Vec<&serde_json::Value> = entries
            .iter()
            .filter(|j| j["action"] == "task-start" && j["target"] == who)
            .collect();
        assert!(
            started.iter().all(|j| j["task"].as_str().unwrap() <= after),
            "{who} got work at critical: {started:?}"
        );
    }
    for id in ["T-003", "T-004", "T-005"] {
        assert_eq!(
            p.json(&["task", "show", id, "--json"])["assignee"],
            "cool",
            "{id}"
        );
    }
    // The lead was told.
    assert!(
        log_text(&p.prompt_log("cool"))
            .contains("[baton] Quota: hot has used 85% of its session-5h quota"),
        "{}",
        log_text(&p.prompt_log("cool"))
    );
    // `baton usage --json` shows it.
    let usage = p.json(&["usage", "--json"]);
    let window = |agent: &str| {
        session_window(&usage, agent)
            .unwrap_or_else(|| panic!("no session window for {agent}: {usage}"))
    };
    assert_eq!(window("hot")["used_percent"], 92.0);
    assert_eq!(window("hot")["band"], "critical");
    assert_eq!(window("hot")["source"], "screen");
    assert!(window("hot")["resets_at_ms"].as_i64().is_some(), "{usage}");
    assert_eq!(window("warm")["used_percent"], 100.0);
    assert_eq!(window("warm")["band"], "alert");
    let text = p.ok(&["usage"]);
    assert!(
        text.contains("CRITICAL") && text.contains("ALERT"),
        "{text}"
    );
    let ls = p.ok(&["ls"]);
    assert!(ls.contains("usage (5h/weekly): "), "{ls}");
}

/// Runs `baton hook statusline --agent <agent>` with a statusLine payload whose 5-hour window
/// is at `used` %, resetting at `resets_at` (epoch seconds), as Claude Code calls it.
fn statusline(p: &TestProject, agent: &str, used: u32, resets_at: i64) {
    let payload = format!(
        r#"{{"rate_limits":{{"five_hour":{{"used_percentage":{used},"resets_at":{resets_at}}}}}}}"#
    );
    p.exec_with_stdin(
        &["hook", "statusline", "--agent", agent],
        payload.as_bytes(),
    )
    .expect_code(0);
}

fn epoch_secs() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap()
        .as_secs()
        .try_into()
        .unwrap()
}

fn agent_usage<'a>(usage: &'a serde_json::Value, agent: &str) -> &'a serde_json::Value {
    item_where(&usage["agents"], "agent", agent).unwrap_or_else(|| panic!("no {agent}: {usage}"))
}

fn session_window(usage: &serde_json::Value, agent: &str) -> Option<serde_json::Value> {
    item_where(
        &agent_usage(usage, agent)["windows"],
        "window",
        "session-5h",
    )
    .cloned()
}

/// A project whose one agent, `lead` (Claude), runs the fake-agent `script` and leads;
/// `tables` end its baton.toml.
fn lead_project(script: &str, tables: &str) -> TestProject {
    let chain = format!("[lead]\nchain = [\"lead\"]\n{tables}");
    common::project_with_agent("lead", "claude", script, &chain)
}

/// The first line of `text` about the `lead` agent that contains `needle`.
fn lead_row<'a>(text: &'a str, needle: &str) -> Option<&'a str> {
    text.lines()
        .find(|l| l.starts_with("lead ") && l.contains(needle))
}

/// The `lead` agent's 5-hour row of `baton usage`.
fn lead_session_row(text: &str) -> &str {
    lead_row(text, "session-5h").unwrap_or_else(|| panic!("{text}"))
}

/// The real handoff run: the statusLine hook records 95 % then 100 % while the screen still
/// shows the earlier "You've used 90% …" notice. Reading that screen again (every screen read
/// of the daemon, `baton usage --refresh`) must not make 90 % the newest: the hook's data is
/// newer. `baton usage` says which source won and why; `baton lead` shows 100 %. While the
/// screen was the only source, `baton usage` said so under the agent.
#[test]
fn a_notice_still_on_screen_never_replaces_newer_hook_data() {
    let reset = common::reset_in_two_hours();
    let p = lead_project(
        &format!("quota_percent = 90\nquota_reset = \"{reset}\"\n"),
        "\n[quota]\nsources = [\"hook\", \"screen\"]\n",
    );
    p.ok(&["up"]);
    let deadline = Duration::from_secs(60);
    common::wait_until(deadline, "the screen's 90 % recorded", || {
        session_window(&p.json(&["usage", "--json"]), "lead")
            .is_some_and(|w| w["used_percent"] == 90.0 && w["source"] == "screen")
    });
    let usage = p.json(&["usage", "--json"]);
    assert!(
        agent_usage(&usage, "lead")["note"]
            .as_str()
            .is_some_and(|n| n.contains("only the screen")),
        "the screen is its only source: {usage}"
    );
    let text = p.ok(&["usage"]);
    assert!(text.contains("note: only the screen"), "{text}");

    let resets_at = epoch_secs() + 7_000;
    statusline(&p, "lead", 95, resets_at);
    statusline(&p, "lead", 100, resets_at);
    // The screen still shows 90 %: read it again, twice.
    for _ in 0..2 {
        p.ok(&["usage", "--refresh"]);
    }
    assert!(
        p.capture("lead").contains("You've used 90%"),
        "the notice is still on screen"
    );
    let usage = p.json(&["usage", "--refresh", "--json"]);
    let w = session_window(&usage, "lead").unwrap();
    assert_eq!(w["used_percent"], 100.0, "{usage}");
    assert_eq!(w["source"], "claude-statusline", "{usage}");
    assert_eq!(w["won"], "hook", "{usage}");
    assert!(
        w["why"]
            .as_str()
            .is_some_and(|why| why.starts_with("hook, ") && why.ends_with("; screen 90% is older")),
        "{usage}"
    );
    assert!(agent_usage(&usage, "lead").get("note").is_none(), "{usage}");
    let text = p.ok(&["usage"]);
    assert!(text.contains("screen 90% is older"), "{text}");
    let lead = p.json(&["lead", "--json"]);
    assert_eq!(lead["chain"][0]["session_percent"], 100.0, "{lead}");
}

/// A window whose reset time has passed shows as reset, not its old 100 %: in `baton usage`
/// (text and JSON), `baton lead` and `baton ls`.
#[test]
fn a_window_past_its_reset_shows_as_reset() {
    let p = lead_project("", "");
    statusline(&p, "lead", 100, epoch_secs() - 60);
    let usage = p.json(&["usage", "--json"]);
    let w = session_window(&usage, "lead").unwrap();
    assert_eq!(w["used_percent"], 0.0, "{usage}");
    assert_eq!(w["read_percent"], 100.0, "{usage}");
    assert_eq!(w["reset_passed"], true, "{usage}");
    assert_eq!(w["band"], "ok", "{usage}");
    let text = p.ok(&["usage"]);
    let row = lead_session_row(&text);
    assert!(row.contains("reset") && !row.contains("ALERT"), "{text}");
    let lead = p.json(&["lead", "--json"]);
    assert_eq!(lead["chain"][0]["session_percent"], 0.0, "{lead}");
    assert_eq!(lead["chain"][0]["session_reset"], true, "{lead}");
    let text = p.ok(&["lead"]);
    assert!(!text.contains("100%"), "{text}");
    assert!(lead_row(&text, "reset").is_some(), "{text}");
}

/// The engine gets each window's winner, not the row recorded last: `w`'s screen shows a
/// 96 % notice (critical: no new work); the hook then reports 10 % (newer data) and the
/// screen is read again with the notice still there. `w` takes the task reserved for it.
/// (Before, the screen read again was fed as the newest reading: `w` was held back, its
/// reservation lapsed and `spare` did the task.)
#[test]
fn the_engine_gets_the_newest_data_not_the_last_screen_read() {
    let p = TestProject::new();
    let reset = common::reset_in_two_hours();
    let w = format!(
        "quota_percent = 96\nquota_reset = \"{reset}\"\n{}",
        done_step(200, "")
    );
    let spare = done_step(100, "");
    p.write_config(&format!(
        "{}{}[quota]\nwarn = 80\ncritical = 95\nsources = [\"hook\", \"screen\"]\n\n[run]\ntest_tasks = false\n",
        p.fake_agent("w", "claude", &w),
        p.fake_agent("spare", "codex", &spare)
    ));
    p.ok(&["up"]);
    let deadline = Duration::from_secs(60);
    common::wait_until(deadline, "w held back at 96 %", || {
        has_entry(&p, "notify-quota-critical", "w has used 96%")
    });
    statusline(&p, "w", 10, epoch_secs() + 5 * 3600);
    p.ok(&["usage", "--refresh"]);
    // Everything recorded so far is fed to the engine before the daemon reads a task added
    // after it and that task is done.
    p.ok(&["task", "add", "probe", "--to", "spare"]);
    common::wait_until(deadline, "the probe done", || {
        p.status("T-001") == "COMPLETED"
    });
    p.ok(&["task", "add", "job for w", "--to", "w"]);
    common::wait_until(deadline, "w's task done", || {
        p.status("T-002") == "COMPLETED"
    });
    // Held back, `w` would have let its reservation lapse and `spare` would have done it.
    assert_eq!(
        p.json(&["task", "show", "T-002", "--json"])["assignee"],
        "w",
        "{:?}",
        p.journal()
    );
    let w_session = session_window(&p.json(&["usage", "--json"]), "w").unwrap();
    assert_eq!(w_session["used_percent"], 10.0, "{w_session}");
}

/// A footer whose reset time of day passed an hour ago ("resets 1:05pm (UTC)" at 14:05) is
/// older than its reset: the 5-hour window reset then. The reading is kept as a window that
/// reset (95 % read, 0 % used now), neither dropped without a word (`baton usage` said "no
/// reading yet") nor kept as a 95 % that would hold the agent back.
#[test]
fn a_reset_time_of_day_that_has_passed_is_a_window_that_reset() {
    let reset = jiff::Timestamp::now()
        .checked_sub(jiff::SignedDuration::from_hours(1))
        .unwrap()
        .to_zoned(jiff::tz::TimeZone::UTC)
        .strftime("%-I:%M%P (UTC)")
        .to_string();
    let p = lead_project(
        &format!("quota_percent = 95\nquota_reset = \"{reset}\"\n"),
        "\n[quota]\nsources = [\"screen\"]\n",
    );
    p.ok(&["up"]);
    common::wait_until(
        Duration::from_secs(60),
        "the screen's 95 % recorded",
        || {
            session_window(&p.json(&["usage", "--refresh", "--json"]), "lead")
                .is_some_and(|w| w["read_percent"] == 95.0)
        },
    );
    assert!(
        p.capture("lead").contains(&format!("resets {reset}")),
        "the footer shows the passed reset"
    );
    // The notice is older than its reset: kept, as a window that reset an hour ago (not as a
    // 95 % that holds the agent back, nor dropped in silence).
    let usage = p.json(&["usage", "--json"]);
    let w = session_window(&usage, "lead").unwrap();
    assert!(w["resets_at_ms"].is_i64(), "{usage}");
    assert_eq!(w["reset_passed"], true, "{usage}");
    assert_eq!(w["used_percent"], 0.0, "{usage}");
    assert_eq!(w["band"], "ok", "{usage}");
    assert_eq!(w["source"], "screen", "{usage}");
    let text = p.ok(&["usage"]);
    assert!(lead_session_row(&text).contains("reset"), "{text}");
}
