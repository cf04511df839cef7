use super::*;

fn q(id: u32, title: &str, assignee: Option<&str>, p: Priority, s: Status) -> QueueRow {
    QueueRow {
        id: TaskId(id),
        title: title.to_owned(),
        assignee: assignee.map(str::to_owned),
        priority: p,
        status: s,
        created: "2026-11-21 05:40".to_owned(),
    }
}

fn l(id: u32, agent: &str, s: Status, note: &str) -> LogRow {
    LogRow {
        date: "2026-11-21 05:50".to_owned(),
        agent: agent.to_owned(),
        id: TaskId(id),
        status: s,
        note: note.to_owned(),
    }
}

fn sample_view() -> View {
    View {
        queue: vec![
            QueueRow {
                created: "2026-11-21 05:40".into(),
                ..q(
                    1,
                    "Build the parser",
                    Some("claude"),
                    Priority::High,
                    Status::InProgress,
                )
            },
            QueueRow {
                created: "2026-11-21 05:41".into(),
                ..q(2, "Write docs", None, Priority::Med, Status::Pending)
            },
        ],
        hidden_closed: 3,
        log: vec![l(1, "claude", Status::Completed, "tests pass")],
        hidden_log: 0,
        store: None,
    }
}

const SAMPLE_INNER: &str = "<!-- Managed by baton: change a task's Status here (PENDING, IN_PROGRESS, COMPLETED, BLOCKED, CANCELLED) or add a line to the Task Completion Log, and baton applies it. Prefer the report command your task prompt gives (baton task done T-XXX --note \"…\", baton named by its full path when a login shell would not find it) -->

## Task Assignment Queue

| ID | Task | Assigned To | Priority | Status | Created |
|----|------|-------------|----------|--------|---------|
| T-001 | Build the parser | claude | HIGH | IN_PROGRESS | 2026-11-21 05:40 |
| T-002 | Write docs | - | MED | PENDING | 2026-11-21 05:41 |

_3 older closed tasks are not shown: baton task list --status COMPLETED_

## Task Completion Log

| Date | Agent | ID | Status | Note |
|------|-------|----|--------|------|
| 2026-11-21 05:50 | claude | T-001 | COMPLETED | tests pass |
";

/// The inner text of `text`'s region and its first line.
fn inner_of(text: &str) -> (&str, usize) {
    let s = split(text).unwrap().unwrap();
    (&text[s.inner.clone()], s.inner_first_line)
}

fn parse_ok(inner: &str) -> Parsed {
    match parse(inner, 1) {
        Ok(p) => p,
        Err(e) => panic!("unexpected errors: {e:?}"),
    }
}

fn parse_err(inner: &str, first_line: usize) -> Vec<String> {
    match parse(inner, first_line) {
        Ok(p) => panic!("expected errors, got {p:?}"),
        Err(e) => e.iter().map(ToString::to_string).collect(),
    }
}

fn rows(p: &Parsed) -> Vec<QueueRow> {
    p.queue.iter().map(|(_, r)| r.clone()).collect()
}

fn logs(p: &Parsed) -> Vec<LogRow> {
    p.log.iter().map(|(_, r)| r.clone()).collect()
}

const QUEUE_HEAD: &str = "## Task Assignment Queue\n\n\
        | ID | Task | Assigned To | Priority | Status | Created |\n\
        |----|------|-------------|----------|--------|---------|\n";

// ---- render ----

#[test]
fn render_matches_the_documented_region() {
    assert_eq!(render(&sample_view()), SAMPLE_INNER);
}

#[test]
fn render_hidden_lines_and_singulars() {
    let mut v = sample_view();
    v.hidden_closed = 0;
    assert!(!render(&v).contains("older closed"));
    v.hidden_closed = 1;
    assert!(
        render(&v)
            .contains("\n_1 older closed task is not shown: baton task list --status COMPLETED_\n")
    );
    v.hidden_log = 4;
    let out = render(&v);
    assert!(out.contains("\n_4 older log lines are not shown: baton log_\n"));
    assert!(out.ends_with("| 2026-11-21 05:50 | claude | T-001 | COMPLETED | tests pass |\n"));
    v.hidden_log = 1;
    assert!(render(&v).contains("\n_1 older log line is not shown: baton log_\n"));
    assert_eq!(rows(&parse_ok(&render(&v))), v.queue);
    assert_eq!(logs(&parse_ok(&render(&v))), v.log);
}

#[test]
fn render_empty_view_parses_to_nothing() {
    let out = render(&View::default());
    assert!(out.ends_with("|------|-------|----|--------|------|\n"));
    assert_eq!(parse_ok(&out), Parsed::default());
}

#[test]
fn render_escapes_cells() {
    let v = View {
        queue: vec![q(7, "a|b\\c\nd", Some(""), Priority::Low, Status::Blocked)],
        ..View::default()
    };
    let out = render(&v);
    assert!(
        out.contains("| T-007 | a\\|b\\\\c d | - | LOW | BLOCKED |"),
        "{out}"
    );
}

#[test]
fn render_parse_round_trip() {
    let titles = [
        "plain",
        "pipe | in | title",
        "back\\slash and \\| both",
        "ends with backslash\\",
        "\\\\double\\\\",
        "||",
        "unicode: déjà vu — 東京 «ok»",
        "emoji 🚀✅ ❌ title 👩‍💻",
        "`code | span` and **bold**",
        "T-999 mentioned | COMPLETED",
        "<!-- baton:tasks -->",
        "<!-- /baton:tasks -->",
        "## Task Completion Log",
    ];
    let queue: Vec<QueueRow> = titles
        .iter()
        .enumerate()
        .map(|(i, t)| QueueRow {
            assignee: if i % 2 == 0 {
                None
            } else {
                Some(format!("agent|{i}\\x 🤖"))
            },
            created: if i % 3 == 0 {
                String::new()
            } else {
                format!("c|{i}")
            },
            ..q(
                i as u32 + 1,
                t,
                None,
                [Priority::High, Priority::Med, Priority::Low][i % 3],
                Status::ALL[i % 5],
            )
        })
        .collect();
    let log: Vec<LogRow> = titles
        .iter()
        .enumerate()
        .map(|(i, t)| LogRow {
            date: format!("d|{i}"),
            ..l(i as u32 + 1, t, Status::ALL[(i + 2) % 5], t)
        })
        .collect();
    let v = View {
        queue,
        hidden_closed: 2,
        log,
        hidden_log: 9,
        store: None,
    };
    let inner = render(&v);
    let p = parse_ok(&inner);
    assert_eq!(rows(&p), v.queue);
    assert_eq!(logs(&p), v.log);
    // Line numbers count from first_line.
    let p = parse(&inner, 40).unwrap();
    let (line, row) = &p.queue[0];
    assert_eq!(row.id, TaskId(1));
    assert_eq!(
        inner.lines().nth(line - 40).unwrap().trim(),
        {
            let mut s = String::from("|");
            for c in ["T-001", "plain", "-", "HIGH", "PENDING", ""] {
                s.push(' ');
                s.push_str(c);
                s.push_str(" |");
            }
            s.replace("|  |", "| |").trim().to_owned()
        }
        .replace("| |", "|  |")
    );
    // A file round trip through splice and split gives the same rows.
    let file = splice("# Notes\r\nuser text\r\n", &inner).unwrap();
    let (inner2, first) = inner_of(&file);
    let p2 = parse(inner2, first).unwrap();
    assert_eq!(rows(&p2), v.queue);
    assert_eq!(logs(&p2), v.log);
    let (changes, warnings) = diff(&parse(&inner, first).unwrap(), &p2);
    assert!(changes.is_empty() && warnings.is_empty());
}

#[test]
fn newlines_in_cells_become_spaces() {
    let v = View {
        log: vec![l(3, "a\r\nb", Status::Completed, "line1\nline2")],
        ..View::default()
    };
    let p = parse_ok(&render(&v));
    assert_eq!(p.log[0].1.agent, "a  b");
    assert_eq!(p.log[0].1.note, "line1 line2");
}

// ---- split / splice ----

#[test]
fn split_finds_the_region() {
    let text = "top\n  <!-- baton:tasks -->  \ninner 1\ninner 2\n\t<!-- /baton:tasks -->\nbottom\n";
    let s = split(text).unwrap().unwrap();
    assert_eq!(&text[s.before.clone()], "top\n");
    assert_eq!(&text[s.inner.clone()], "inner 1\ninner 2\n");
    assert_eq!(&text[s.after.clone()], "bottom\n");
    assert_eq!(s.inner_first_line, 3);
    // Empty region.
    let text = "<!-- baton:tasks -->\n<!-- /baton:tasks -->";
    let s = split(text).unwrap().unwrap();
    assert_eq!(s.before, 0..0);
    assert_eq!(s.inner, 21..21);
    assert_eq!(s.after, text.len()..text.len());
    assert_eq!(s.inner_first_line, 2);
    // BOM before the first marker, CRLF.
    let text = "\u{feff}<!-- baton:tasks -->\r\nx\r\n<!-- /baton:tasks -->\r\n";
    let s = split(text).unwrap().unwrap();
    assert_eq!(&text[s.inner], "x\r\n");
}

#[test]
fn split_without_markers() {
    assert_eq!(split(""), Ok(None));
    assert_eq!(split("# hello\nworld"), Ok(None));
    // Markers not alone on their line are not markers.
    assert_eq!(
        split("see `<!-- baton:tasks -->` and <!-- /baton:tasks --> here\n"),
        Ok(None)
    );
    assert_eq!(split("<!-- baton:tasks --> x\n"), Ok(None));
}

#[test]
fn split_errors() {
    let e = split("a\n<!-- baton:tasks -->\nb\n").unwrap_err();
    assert_eq!(e.line, 2);
    assert!(e.to_string().starts_with("line 2: "), "{e}");
    assert!(e.message.contains("no closing"), "{e}");

    let e = split("a\nb\n<!-- /baton:tasks -->").unwrap_err();
    assert_eq!(e.line, 3);
    assert!(e.message.contains("no opening"), "{e}");

    let e = split("<!-- /baton:tasks -->\nx\n<!-- baton:tasks -->\n").unwrap_err();
    assert_eq!(e.line, 1);
    assert!(e.message.contains("comes before"), "{e}");

    let e = split("<!-- baton:tasks -->\nx\n<!-- baton:tasks -->\n<!-- /baton:tasks -->\n")
        .unwrap_err();
    assert_eq!(e.line, 3);
    assert!(e.message.contains("appears again (first on line 1)"), "{e}");

    let e = split("<!-- baton:tasks -->\n<!-- /baton:tasks -->\n\n<!-- /baton:tasks -->\n")
        .unwrap_err();
    assert_eq!(e.line, 4);
    assert!(e.message.contains(END), "{e}");

    // Two whole regions: the first repeated marker is reported.
    let two = "<!-- baton:tasks -->\n<!-- /baton:tasks -->\n<!-- baton:tasks -->\n<!-- /baton:tasks -->\n";
    assert_eq!(split(two).unwrap_err().line, 3);
    // splice refuses to touch a broken file.
    assert!(splice("<!-- baton:tasks -->\n", "x\n").is_err());
}

/// Asserts that `out` keeps the bytes of `text` outside the region, and holds `inner`.
fn assert_spliced(text: &str, out: &str, inner: &str) {
    let s = split(out).unwrap().unwrap();
    if let Some(old) = split(text).unwrap() {
        assert_eq!(&out[s.before.clone()], &text[old.before]);
        assert_eq!(&out[s.after.clone()], &text[old.after]);
    } else {
        assert!(out.starts_with(text));
    }
    assert_eq!(out[s.inner].replace("\r\n", "\n"), inner);
}

/// Splices `inner` into `text`: the result is `want`, spliced as it should be.
fn splices_to(text: &str, inner: &str, want: impl AsRef<str>) -> String {
    let out = splice(text, inner).unwrap();
    assert_eq!(out, want.as_ref(), "{text:?}");
    assert_spliced(text, &out, inner);
    out
}

#[test]
fn splice_replaces_between_the_markers() {
    let inner = render(&sample_view());
    let text = "# Project\n\nRules.\n\n<!-- baton:tasks -->\nold stuff\n<!-- /baton:tasks -->\n\nMore rules.\n";
    let out = splices_to(
        text,
        &inner,
        format!(
            "# Project\n\nRules.\n\n<!-- baton:tasks -->\n{inner}<!-- /baton:tasks -->\n\nMore rules.\n"
        ),
    );
    // Splicing again is a no-op; splicing the inner text back gives the file back.
    assert_eq!(splice(&out, &inner).unwrap(), out);
    let (cur, _) = inner_of(text);
    assert_eq!(splice(text, cur).unwrap(), text);
}

#[test]
fn splice_keeps_marker_lines_as_they_are() {
    let text = "x\n   <!-- baton:tasks -->\t\nold\n <!-- /baton:tasks -->";
    splices_to(
        text,
        "new\n",
        "x\n   <!-- baton:tasks -->\t\nnew\n <!-- /baton:tasks -->",
    );
}

#[test]
fn splice_crlf_file() {
    let text = "# Title\r\n\r\n<!-- baton:tasks -->\r\nold\r\n<!-- /baton:tasks -->\r\ntail\r\nno final newline";
    splices_to(
        text,
        "a\nb\n",
        "# Title\r\n\r\n<!-- baton:tasks -->\r\na\r\nb\r\n<!-- /baton:tasks -->\r\ntail\r\nno final newline",
    );
    // The parsed content survives CRLF.
    let out = splice(text, SAMPLE_INNER).unwrap();
    let (inner, first) = inner_of(&out);
    let p = parse(inner, first).unwrap();
    assert_eq!(rows(&p), sample_view().queue);
    assert_eq!(p.queue[0].0, 10);
    assert_eq!(
        out.split('\n').nth(9),
        Some("| T-001 | Build the parser | claude | HIGH | IN_PROGRESS | 2026-11-21 05:40 |\r")
    );
}

#[test]
fn splice_appends_a_region() {
    let inner = "x\n";
    let cases = [
        ("", "<!-- baton:tasks -->\nx\n<!-- /baton:tasks -->\n"),
        (
            "a\n",
            "a\n\n<!-- baton:tasks -->\nx\n<!-- /baton:tasks -->\n",
        ),
        (
            "a\n\n",
            "a\n\n<!-- baton:tasks -->\nx\n<!-- /baton:tasks -->\n",
        ),
        (
            "a\n  \n",
            "a\n  \n<!-- baton:tasks -->\nx\n<!-- /baton:tasks -->\n",
        ),
        ("a", "a\n\n<!-- baton:tasks -->\nx\n<!-- /baton:tasks -->\n"),
        (
            "a\n ",
            "a\n \n<!-- baton:tasks -->\nx\n<!-- /baton:tasks -->\n",
        ),
        ("\n", "\n<!-- baton:tasks -->\nx\n<!-- /baton:tasks -->\n"),
        (
            "a\r\nb\r\n",
            "a\r\nb\r\n\r\n<!-- baton:tasks -->\r\nx\r\n<!-- /baton:tasks -->\r\n",
        ),
        (
            "a\r\nb",
            "a\r\nb\r\n\r\n<!-- baton:tasks -->\r\nx\r\n<!-- /baton:tasks -->\r\n",
        ),
        (
            "a\r\n\r\n",
            "a\r\n\r\n<!-- baton:tasks -->\r\nx\r\n<!-- /baton:tasks -->\r\n",
        ),
        (
            "\u{feff}# T",
            "\u{feff}# T\n\n<!-- baton:tasks -->\nx\n<!-- /baton:tasks -->\n",
        ),
    ];
    for (text, want) in cases {
        let out = splices_to(text, inner, want);
        assert!(out.starts_with(text));
    }
    // An inner text without a final newline still leaves END alone on its line.
    assert_eq!(
        splice("", "x").unwrap(),
        "<!-- baton:tasks -->\nx\n<!-- /baton:tasks -->\n"
    );
    assert_eq!(
        splice("", "").unwrap(),
        "<!-- baton:tasks -->\n<!-- /baton:tasks -->\n"
    );
}

#[test]
fn splice_region_at_top_and_bottom() {
    let top = "<!-- baton:tasks -->\nold\n<!-- /baton:tasks -->\nuser\n";
    splices_to(
        top,
        "new\n",
        "<!-- baton:tasks -->\nnew\n<!-- /baton:tasks -->\nuser\n",
    );

    let bottom = "user\n<!-- baton:tasks -->\nold\n<!-- /baton:tasks -->";
    splices_to(
        bottom,
        "new\n",
        "user\n<!-- baton:tasks -->\nnew\n<!-- /baton:tasks -->",
    );

    let only = "<!-- baton:tasks -->\n<!-- /baton:tasks -->\n";
    let out = splice(only, SAMPLE_INNER).unwrap();
    assert_eq!(out, format!("{BEGIN}\n{SAMPLE_INNER}{END}\n"));
}

// ---- parse: errors ----

#[test]
fn parse_reports_every_error_with_its_line() {
    let inner = format!(
        "{QUEUE_HEAD}\
             | T-001 | ok | - | HIGH | PENDING | x |\n\
             | T-002 | too few | - | HIGH | PENDING |\n\
             | T-0x9 | bad id | - | HIGH | PENDING | x |\n\
             | T-003 | bad status | - | HIGH | COMPLETD | x |\n\
             | T-004 | bad priority | - | URGENT | PENDING | x |\n\
             | T-001 | dup | - | HIGH | PENDING | x |\n\
             T-005 broken row without pipes\n\
             | T-006 | two bad | - | URGENT | NOPE | x |\n\
             \n\
             ## Task Completion Log\n\
             \n\
             | Date | Agent | Status | Note |\n\
             |---|---|---|---|\n"
    );
    let errs = parse_err(&inner, 10);
    assert_eq!(
        errs,
        vec![
            "line 15: T-002: the row has 5 cells but the header has 6 (write a `|` inside a cell as `\\|`)",
            "line 16: `T-0x9` is not a task ID (expected T-001, T-002, …)",
            "line 17: T-003: `COMPLETD` is not a status (PENDING, IN_PROGRESS, COMPLETED, BLOCKED, CANCELLED)",
            "line 18: T-004: `URGENT` is not a priority (HIGH, MED or LOW)",
            "line 19: T-001 appears twice in the Task Assignment Queue (first on line 14)",
            "line 20: this line is inside a table but is not a table row (rows look like `| T-001 | … |`; a blank line ends a table)",
            "line 21: T-006: `NOPE` is not a status (PENDING, IN_PROGRESS, COMPLETED, BLOCKED, CANCELLED)",
            "line 21: T-006: `URGENT` is not a priority (HIGH, MED or LOW)",
            "line 25: the Task Completion Log table needs the columns ID and Status; missing: ID",
        ]
    );
}

#[test]
fn parse_structural_errors() {
    // No separator row.
    let e = parse_err(
        "## Task Assignment Queue\n| ID | Task | Status |\n| T-001 | a | PENDING |\n",
        5,
    );
    assert_eq!(
        e,
        vec!["line 7: the table header must be followed by a separator row like |----|----|"]
    );
    // Separator with the wrong number of cells.
    let e = parse_err(
        "## Task Assignment Queue\n| ID | Task | Status |\n|---|---|\n",
        1,
    );
    assert_eq!(
        e,
        vec!["line 3: the separator row has 2 cells but the header has 3"]
    );
    // Required columns missing.
    let e = parse_err("# task assignment queue\n| ID | Owner |\n|---|---|\n", 1);
    assert_eq!(
        e,
        vec![
            "line 2: the Task Assignment Queue table needs the columns ID, Task and Status; missing: Task, Status"
        ]
    );
    // A column twice.
    let e = parse_err(
        "## Task Assignment Queue\n| ID | Task | Title | Status |\n|-|-|-|-|\n",
        1,
    );
    assert_eq!(
        e,
        vec!["line 2: the column `Title` appears twice in the table header (keep one)"]
    );
    // A row after a blank line.
    let e = parse_err(
        &format!(
            "{QUEUE_HEAD}| T-001 | a | - | LOW | PENDING | |\n\n| T-002 | b | - | LOW | PENDING | |\n"
        ),
        1,
    );
    assert_eq!(e.len(), 1);
    assert!(
        e[0].starts_with("line 7: this row is not part of a table"),
        "{e:?}"
    );
    // A separator row in the middle.
    let e = parse_err(&format!("{QUEUE_HEAD}|---|---|---|---|---|---|\n"), 1);
    assert_eq!(e, vec!["line 5: a separator row in the middle of a table"]);
    // A log row with a bad status and one with a bad ID.
    let e = parse_err(
        "## Task Completion Log\n| Date | Agent | ID | Status | Note |\n|-|-|-|-|-|\n| d | a | T-1 | FINISHED | n |\n| d | a | X | DONE | n |\n",
        100,
    );
    assert_eq!(
        e,
        vec![
            "line 103: T-001: `FINISHED` is not a status (PENDING, IN_PROGRESS, COMPLETED, BLOCKED, CANCELLED)",
            "line 104: `X` is not a task ID (expected T-001, T-002, …)",
        ]
    );
    // An unescaped pipe in a title changes the cell count.
    let e = parse_err(
        &format!("{QUEUE_HEAD}| T-001 | a | b | - | LOW | PENDING | |\n"),
        1,
    );
    assert!(e[0].starts_with("line 5: T-001: the row has 7 cells but the header has 6"));
}

#[test]
fn error_messages_display_with_the_line() {
    let e = MemoryError::new(12, "boom");
    assert_eq!(e.to_string(), "line 12: boom");
}

// ---- parse: tolerance ----

#[test]
fn parse_tolerates_hand_written_tables() {
    let inner = "\
Some prose | with a pipe before any heading.

### TASK ASSIGNMENT QUEUE

Status | ID | Notes | **Title** | Agent
:---: | --- | --- | :--- | ---:
in progress | T-1 | x | Build it | amp (w4)
✅ Done | t-2 | y | Ship it | -
**DONE** | `T-003` | | Third | —
🔄 wip | T004 | | Fourth | Codex

#### Task Completion Log ##
| ID | Status | Notes | Agent | Extra | Date |
|----|--------|-------|-------|-------|------|
| T-001 | ✅ COMPLETED | all good \\| really | amp | ? | 2026-01-27 |
| T-002 | done | | codex | | |

## Something else

| not | a | task | table |
|---|---|---|---|
| whatever | at | all | here |
";
    let p = parse_ok(inner);
    let r = rows(&p);
    assert_eq!(r.len(), 4);
    assert_eq!(r[0].id, TaskId(1));
    assert_eq!(r[0].status, Status::InProgress);
    assert_eq!(r[0].title, "Build it");
    assert_eq!(r[0].assignee.as_deref(), Some("amp (w4)"));
    assert_eq!(r[0].priority, Priority::Med);
    assert_eq!(r[0].created, "");
    assert_eq!(r[1].status, Status::Completed);
    assert_eq!(r[1].assignee, None);
    assert_eq!(
        (r[2].id, r[2].status, r[2].assignee.clone()),
        (TaskId(3), Status::Completed, None)
    );
    assert_eq!((r[3].id, r[3].status), (TaskId(4), Status::InProgress));
    assert_eq!(p.queue[0].0, 7);
    let g = logs(&p);
    assert_eq!(
        g,
        vec![
            LogRow {
                date: "2026-01-27".into(),
                agent: "amp".into(),
                id: TaskId(1),
                status: Status::Completed,
                note: "all good | really".into(),
            },
            LogRow {
                date: String::new(),
                agent: "codex".into(),
                id: TaskId(2),
                status: Status::Completed,
                note: String::new(),
            },
        ]
    );
    assert_eq!(p.log[1].0, 16);
}

#[test]
fn parse_the_workflow_table() {
    let inner = "## Task Assignment Queue
| ID | Task | Assigned To | Priority | Status | Created |
|----|------|-------------|----------|--------|---------|
| T-001 | Créer /tmp/test-amp.txt avec \"Hello from AMP\" | AMP (w4) | LOW | IN_PROGRESS | 2026-01-27 |
| T-005 | Lister agents_library/ → /tmp/amp-ls.txt | AMP (w4) | LOW | IN_PROGRESS | 2026-01-27 |
";
    let r = rows(&parse_ok(inner));
    assert_eq!(r.len(), 2);
    assert_eq!(r[1].title, "Lister agents_library/ → /tmp/amp-ls.txt");
    assert_eq!(r[1].priority, Priority::Low);
}

#[test]
fn parse_missing_sections_and_ignored_prose() {
    assert_eq!(parse_ok(""), Parsed::default());
    assert_eq!(
        parse_ok("just words\n\n_3 older closed tasks_\n"),
        Parsed::default()
    );
    // Only the log.
    let p = parse_ok(
        "## Task Completion Log\n\n_2 older log lines are not shown: baton log_\n\n| ID | Status |\n|--|--|\n| T-9 | DONE |\n",
    );
    assert!(p.queue.is_empty());
    assert_eq!(p.log[0].1.id, TaskId(9));
    assert_eq!(p.log[0].1.agent, "");
    // Comments (one or several lines) and fenced blocks are skipped, even with pipes.
    let inner = format!(
        "<!-- a | b -->\n<!--\n| ID | x |\n-->\n{QUEUE_HEAD}| T-001 | a | - | LOW | PENDING | |\n\n```\n| T-002 | b |\n```\n"
    );
    assert_eq!(rows(&parse_ok(&inner)).len(), 1);
    // Empty rows are skipped; CRLF lines parse.
    let inner = format!("{QUEUE_HEAD}|  |  |  |  |  |  |\n| T-001 | a | - | LOW | PENDING | |\r\n")
        .replace('\n', "\r\n");
    let p = parse_ok(&inner);
    assert_eq!(p.queue.len(), 1);
    assert_eq!(p.queue[0].1.created, "");
    // A heading right under a table ends it.
    let inner = format!("{QUEUE_HEAD}| T-001 | a | - | LOW | PENDING | |\n# Other\nprose\n");
    assert_eq!(parse_ok(&inner).queue.len(), 1);
}

#[test]
fn parse_never_panics_on_odd_input() {
    let alphabet: Vec<&str> = vec![
        "|",
        "\\",
        "\n",
        "\r\n",
        " ",
        "-",
        ":",
        "#",
        "## Task Assignment Queue\n",
        "## Task Completion Log\n",
        "| ID | Task | Status |\n",
        "|---|---|---|\n",
        "T-001",
        "T-0",
        "DONE",
        "é",
        "🚀",
        "\u{feff}",
        "`",
        "```\n",
        "<!--",
        "-->",
        BEGIN,
        END,
        "\t",
        "*",
        "_",
        "\u{2028}",
    ];
    let mut seed: u64 = 0x2545_f491_4f6c_dd1d;
    for _ in 0..3000 {
        let mut s = String::new();
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        let n = (seed % 40) as usize;
        for _ in 0..n {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            s.push_str(alphabet[(seed % alphabet.len() as u64) as usize]);
        }
        let _ = parse(&s, usize::MAX - 3);
        for inner in [s.as_str(), SAMPLE_INNER, ""] {
            if let Ok(out) = splice(&s, inner) {
                let sp = split(&out).unwrap().unwrap();
                assert_eq!(out[sp.inner].replace("\r\n", "\n"), {
                    let n = inner.replace("\r\n", "\n");
                    if n.is_empty() || n.ends_with('\n') {
                        n
                    } else {
                        n + "\n"
                    }
                });
            }
        }
        if let Ok(Some(sp)) = split(&s) {
            assert!(s.get(sp.before.clone()).is_some());
            assert!(s.get(sp.inner.clone()).is_some());
            assert!(s.get(sp.after.clone()).is_some());
        }
    }
}

// ---- diff ----

fn file_with(view: &View, edit: impl Fn(&str) -> String) -> (Parsed, Parsed) {
    let text = splice("# Mine\n", &render(view)).unwrap();
    let (inner, first) = inner_of(&text);
    let base = parse(inner, first).unwrap();
    let edited_text = edit(&text);
    let (inner, first) = inner_of(&edited_text);
    let edited = parse(inner, first).unwrap();
    (base, edited)
}

#[test]
fn diff_status_change() {
    let (base, edited) = file_with(&sample_view(), |t| {
        t.replace(
            "| T-001 | Build the parser | claude | HIGH | IN_PROGRESS |",
            "| T-001 | Build the parser | claude | HIGH | ✅ Done |",
        )
    });
    let (changes, warnings) = diff(&base, &edited);
    assert_eq!(
        changes,
        vec![Change::Status {
            id: TaskId(1),
            from: Status::InProgress,
            to: Status::Completed,
            line: 10,
        }]
    );
    assert!(warnings.is_empty());
    assert_eq!(changes[0].line(), 10);
}

/// The sample file, and the same with `lines` added at the end of its log.
fn with_log_lines(lines: &str) -> (Parsed, Parsed) {
    file_with(&sample_view(), |t| t.replace(END, &format!("{lines}{END}")))
}

#[test]
fn diff_log_line_added_twice() {
    let added = "| 2026-11-21 06:00 | amp | T-002 | COMPLETED | docs written |\n";
    let (base, edited) = with_log_lines(&format!("{added}{added}"));
    let (changes, warnings) = diff(&base, &edited);
    let row = LogRow {
        date: "2026-11-21 06:00".into(),
        agent: "amp".into(),
        id: TaskId(2),
        status: Status::Completed,
        note: "docs written".into(),
    };
    assert_eq!(
        changes,
        vec![
            Change::Log {
                row: row.clone(),
                line: 20,
            },
            Change::Log { row, line: 21 },
        ]
    );
    assert!(warnings.is_empty());
    // An existing line copied once more counts as new.
    let existing = "| 2026-11-21 05:50 | claude | T-001 | COMPLETED | tests pass |\n";
    let (base, edited) = with_log_lines(existing);
    let (changes, _) = diff(&base, &edited);
    assert_eq!(
        changes,
        vec![Change::Log {
            row: l(1, "claude", Status::Completed, "tests pass"),
            line: 20
        }]
    );
}

#[test]
fn diff_orders_changes_by_line() {
    let (base, edited) = file_with(&sample_view(), |t| {
        t.replace("| MED | PENDING |", "| MED | in progress |")
            .replace(
                "<!-- /baton:tasks -->",
                "| x | y | T-002 | BLOCKED | z |\n<!-- /baton:tasks -->",
            )
    });
    let (changes, _) = diff(&base, &edited);
    let lines: Vec<usize> = changes.iter().map(Change::line).collect();
    assert_eq!(lines, vec![11, 20]);
    assert!(matches!(
        changes[0],
        Change::Status {
            to: Status::InProgress,
            ..
        }
    ));
}

#[test]
fn diff_unknown_id_and_other_edits_warn() {
    let (base, edited) = file_with(&sample_view(), |t| {
        t.replace(
            "| Write docs | - | MED |",
            "| Write the docs | amp | HIGH |",
        )
        .replace(
            "| T-002 |",
            "| T-099 | New | - | LOW | PENDING | now |\n| T-002 |",
        )
        .replace("05:40 |", "05:45 |")
    });
    let (changes, warnings) = diff(&base, &edited);
    assert!(changes.is_empty(), "{changes:?}");
    let msgs: Vec<String> = warnings
        .iter()
        .map(|w| format!("{}: {}", w.line, w.message))
        .collect();
    assert_eq!(
        msgs,
        vec![
            "10: T-001: only Status is read from the memory file; the Created date is set by baton",
            "11: unknown task T-099 (add tasks with `baton task add`)",
            "12: T-002: only Status is read from the memory file; change the title with `baton task edit`",
            "12: T-002: only Status is read from the memory file; change the assignee with `baton task edit`",
            "12: T-002: only Status is read from the memory file; change the priority with `baton task edit`",
        ]
    );
}

#[test]
fn diff_deleted_rows_are_silent() {
    let (base, edited) = file_with(&sample_view(), |t| {
        t.replace(
            "| T-002 | Write docs | - | MED | PENDING | 2026-11-21 05:41 |\n",
            "",
        )
        .replace(
            "| 2026-11-21 05:50 | claude | T-001 | COMPLETED | tests pass |\n",
            "",
        )
    });
    assert_eq!(edited.queue.len(), 1);
    assert!(edited.log.is_empty());
    assert_eq!(diff(&base, &edited), (vec![], vec![]));
    // Same content, nothing to do.
    assert_eq!(diff(&base, &base), (vec![], vec![]));
}

// ---- scale ----

#[test]
fn huge_input_is_linear_enough() {
    let n = 20_000;
    let view = View {
        queue: (1..=n)
            .map(|i| {
                q(
                    i,
                    &format!("task {i} | with pipe"),
                    Some("a"),
                    Priority::Med,
                    Status::ALL[i as usize % 5],
                )
            })
            .collect(),
        hidden_closed: 0,
        log: (1..=n)
            .map(|i| l(i, "claude", Status::Completed, "same note"))
            .collect(),
        hidden_log: 0,
        store: None,
    };
    let inner = render(&view);
    let text = splice("user\r\n", &inner).unwrap();
    let (inner2, first) = inner_of(&text);
    let p = parse(inner2, first).unwrap();
    assert_eq!(p.queue.len(), n as usize);
    assert_eq!(p.log.len(), n as usize);
    let (changes, warnings) = diff(&p, &p);
    assert!(changes.is_empty() && warnings.is_empty());
    // Many errors are collected too.
    let bad = inner.replace("| MED |", "| MEDD |");
    assert_eq!(parse(&bad, 1).unwrap_err().len(), n as usize);
}

#[test]
fn the_store_identity_is_rendered_and_read_back_and_ignored_by_the_parser() {
    let v = View {
        store: Some("1f2e-3d4c".into()),
        ..sample_view()
    };
    let inner = render(&v);
    assert!(
        inner.contains("\n<!-- baton:store 1f2e-3d4c -->\n"),
        "{inner}"
    );
    assert_eq!(store_id(&inner), Some("1f2e-3d4c"));
    let plain = parse_ok(&render(&sample_view()));
    assert_eq!(rows(&parse_ok(&inner)), rows(&plain));
    assert_eq!(logs(&parse_ok(&inner)), logs(&plain));
    // Regions rendered before the identity existed name none.
    assert_eq!(store_id(SAMPLE_INNER), None);
    // Nothing in an identity can close the comment.
    let odd = render(&View {
        store: Some("ab --> cd\n".into()),
        ..View::default()
    });
    assert_eq!(store_id(&odd), Some("ab--cd"));
}
