use super::*;

fn cost(at_ms: i64, usd: f64) -> Reading {
    Reading {
        at_ms,
        session: Some("s1".to_owned()),
        usage: Usage {
            cost_usd: Some(usd),
            ..Usage::default()
        },
    }
}

fn tokens(at_ms: i64, session: &str, input: u64, output: u64) -> Reading {
    Reading {
        at_ms,
        session: Some(session.to_owned()),
        usage: Usage {
            cost_usd: None,
            input_tokens: Some(input),
            output_tokens: Some(output),
        },
    }
}

fn span(start_ms: i64, end_ms: Option<i64>) -> Span {
    Span { start_ms, end_ms }
}

#[test]
fn a_share_is_the_increments_from_the_start_to_the_next_task() {
    let r = [
        cost(0, 0.0),
        cost(50, 0.25),
        cost(150, 0.5),
        cost(250, 0.75),
        // The last statusLine of the turn, after `task done` (at 260) but before the next
        // task started (at 300): still this task's.
        cost(280, 1.0),
        cost(300, 1.25),
        cost(400, 2.0),
    ];
    // The baseline is the last reading at or before the start (0.25 at 50).
    assert_eq!(share(&r, &[span(100, Some(300))]).cost_usd, Some(1.0));
    // The next task: from the reading at its start, with nothing after it: everything later.
    assert_eq!(share(&r, &[span(300, None)]).cost_usd, Some(0.75));
    // Consecutive tasks' shares add up to the agent's increase over both.
    assert_eq!(
        share(&r, &[span(100, Some(300)), span(300, None)]).cost_usd,
        Some(1.75)
    );
    // Unknown counters stay unknown, not 0.
    let u = share(&r, &[span(100, Some(300))]);
    assert_eq!((u.input_tokens, u.output_tokens), (None, None));
}

#[test]
fn a_decrease_or_another_session_counts_from_zero() {
    let r = [
        tokens(0, "a", 1000, 100),
        tokens(20, "a", 1500, 150),
        // Restarted (/clear, a crash): the counter went down.
        tokens(30, "a", 200, 20),
        tokens(40, "a", 300, 30),
        // Another session whose counters happen to be higher.
        tokens(50, "b", 5000, 500),
    ];
    let u = share(&r, &[span(10, None)]);
    assert_eq!(u.input_tokens, Some(500 + 200 + 100 + 5000));
    assert_eq!(u.output_tokens, Some(50 + 20 + 10 + 500));
    assert_eq!(u.cost_usd, None);
}

#[test]
fn a_session_taken_up_again_goes_on_from_its_last_value() {
    // s1, then s2, then s1 resumed: each session's own increase, not s1's total again.
    let r = [
        tokens(0, "s1", 1000, 100),
        tokens(20, "s1", 1200, 120),
        tokens(30, "s2", 50, 5),
        tokens(40, "s1", 1300, 130),
    ];
    let u = share(&r, &[span(10, None)]);
    assert_eq!(u.input_tokens, Some(200 + 50 + 100));
    assert_eq!(u.output_tokens, Some(20 + 5 + 10));
}

#[test]
fn no_reading_in_the_span_is_unknown() {
    let r = [cost(0, 0.5), cost(500, 0.9)];
    // Readings only before the span (and one after its end).
    assert_eq!(share(&r, &[span(100, Some(400))]), Usage::default());
    assert!(share(&r, &[span(100, Some(400))]).is_empty());
    // No reading at all.
    assert_eq!(share(&[], &[span(0, None)]), Usage::default());
    // No span (a task never started).
    assert_eq!(share(&r, &[]), Usage::default());
    // A reading that did not change is a known 0.
    let flat = [cost(0, 0.5), cost(200, 0.5)];
    assert_eq!(share(&flat, &[span(100, None)]).cost_usd, Some(0.0));
}

#[test]
fn the_first_reading_ever_counts_from_zero() {
    // The agent's first reading falls in the task: its session started at zero.
    let r = [tokens(150, "a", 40, 4), tokens(250, "a", 90, 9)];
    let u = share(&r, &[span(100, None)]);
    assert_eq!((u.input_tokens, u.output_tokens), (Some(90), Some(9)));
}

#[test]
fn counters_from_different_sources_are_shared_apart() {
    // Cost from the statusLine, tokens from the transcript: each counter its own baseline.
    let r = [
        cost(0, 0.1),
        tokens(5, "s1", 100, 10),
        cost(150, 0.3),
        tokens(190, "s1", 400, 40),
    ];
    let u = share(&r, &[span(100, None)]);
    assert_eq!(u.cost_usd, Some(0.2));
    assert_eq!((u.input_tokens, u.output_tokens), (Some(300), Some(30)));
}

#[test]
fn readings_are_taken_in_time_order() {
    let r = [cost(250, 0.75), cost(0, 0.0), cost(150, 0.5)];
    assert_eq!(share(&r, &[span(100, None)]).cost_usd, Some(0.75));
}

fn start<'a>(at_ms: i64, task: u32, agent: &'a str) -> JournalLine<'a> {
    JournalLine {
        at_ms,
        actor: "baton",
        action: "task-start",
        task: Some(TaskId(task)),
        target: agent,
        result: "PENDING → IN_PROGRESS",
        detail: "",
    }
}

#[test]
fn spans_end_at_the_agents_next_start() {
    let done = JournalLine {
        action: "task-done",
        ..start(150, 1, "claude")
    };
    let journal = [
        start(100, 1, "claude"),
        start(120, 2, "codex"),
        done,
        start(300, 3, "claude"),
        // T-002 requeued and started again by claude.
        start(400, 2, "claude"),
    ];
    let spans = task_spans(&journal);
    assert_eq!(
        spans[&TaskId(1)],
        vec![("claude".to_owned(), span(100, Some(300)))]
    );
    assert_eq!(
        spans[&TaskId(2)],
        vec![
            ("codex".to_owned(), span(120, None)),
            ("claude".to_owned(), span(400, None)),
        ]
    );
    assert_eq!(
        spans[&TaskId(3)],
        vec![("claude".to_owned(), span(300, Some(400)))]
    );
    let mut readings = BTreeMap::new();
    readings.insert(
        "claude".to_owned(),
        vec![
            cost(90, 1.0),
            cost(200, 1.5),
            cost(350, 2.0),
            cost(450, 2.25),
        ],
    );
    readings.insert("codex".to_owned(), vec![tokens(130, "x", 10, 1)]);
    let shares = task_shares(&journal, &readings);
    assert_eq!(shares[&TaskId(1)].cost_usd, Some(0.5));
    assert_eq!(shares[&TaskId(3)].cost_usd, Some(0.5));
    assert_eq!(
        shares[&TaskId(2)],
        Usage {
            cost_usd: Some(0.25),
            input_tokens: Some(10),
            output_tokens: Some(1),
        }
    );
    let all = total(shares.values());
    assert_eq!(all.cost_usd, Some(1.25));
    assert_eq!(all.input_tokens, Some(10));
}

#[test]
fn usage_is_formatted_with_dashes_for_unknown() {
    assert_eq!(format_cost(None), "—");
    assert_eq!(format_cost(Some(0.0)), "$0.0000");
    assert_eq!(format_cost(Some(0.01234)), "$0.0123");
    assert_eq!(format_cost(Some(4.567)), "$4.57");
    assert_eq!(format_tokens(None), "—");
    assert_eq!(format_tokens(Some(950)), "950");
    assert_eq!(format_tokens(Some(12_345)), "12.3k");
    assert_eq!(format_tokens(Some(4_560_000)), "4.56M");
    assert_eq!(
        format_usage(&Usage {
            cost_usd: Some(0.5),
            input_tokens: None,
            output_tokens: Some(3),
        }),
        "$0.5000 · — in / 3 out tokens"
    );
}
