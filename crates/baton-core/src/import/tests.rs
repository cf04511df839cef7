use super::*;

fn ok(name: &str, text: &str) -> Vec<ImportedTask> {
    match parse_tasks(name, text) {
        Ok(t) => t,
        Err(e) => panic!("unexpected errors: {e:#?}"),
    }
}

fn errs(name: &str, text: &str) -> Vec<ImportError> {
    match parse_tasks(name, text) {
        Ok(t) => panic!("unexpected success: {t:#?}"),
        Err(e) => e,
    }
}

/// Asserts exactly one error, on `line`, whose message contains `needle`.
fn one_error(name: &str, text: &str, line: usize, needle: &str) {
    let e = errs(name, text);
    assert_eq!(e.len(), 1, "{e:#?}");
    assert_eq!(e[0].line, line, "{e:#?}");
    assert!(e[0].message.contains(needle), "{e:#?}");
}

fn local(i: usize) -> DepRef {
    DepRef::Local(i)
}

fn existing(n: u32) -> DepRef {
    DepRef::Existing(TaskId(n))
}

#[test]
fn formats_are_detected() {
    assert_eq!(detect_format("plan.md", "{"), Format::Markdown);
    assert_eq!(detect_format("dir.v2/PLAN.MARKDOWN", ""), Format::Markdown);
    assert_eq!(detect_format("todo.txt", "[[task]]"), Format::Markdown);
    assert_eq!(detect_format("tasks.toml", ""), Format::Toml);
    assert_eq!(detect_format("tasks.JSON", ""), Format::Json);
    assert_eq!(
        detect_format("tasks", "  [{\"title\": \"a\"}]"),
        Format::Json
    );
    assert_eq!(detect_format("tasks.in", "{\"tasks\": []}"), Format::Json);
    assert_eq!(
        detect_format("tasks", "# x\n[[task]]\ntitle = \"a\""),
        Format::Toml
    );
    assert_eq!(detect_format("tasks", "[[ task ]]\n"), Format::Toml);
    assert_eq!(detect_format("tasks", "\u{feff}[[task]]\n"), Format::Toml);
    assert_eq!(detect_format("tasks", "\u{feff} {}"), Format::Json);
    assert_eq!(detect_format("tasks", "- [ ] a"), Format::Markdown);
    assert_eq!(detect_format("", ""), Format::Markdown);
}

#[test]
fn error_display() {
    assert_eq!(err(7, "bad").to_string(), "line 7: bad");
    assert_eq!(err(0, "bad").to_string(), "bad");
}

#[test]
fn checklist_happy_path() {
    let text = "\
# Sprint 4

Some prose about the sprint, with a | pipe.

- [ ] Design the login form !high #ui {login-form}
- [ ] Write the login handler #rust #web after:login-form @claude
  Use the existing session store.

    - keep the old endpoint working
  - [ ] a nested step stays in the body
- [x] Set up CI {ci}
  - done long ago
* [ ] Document the login flow !low after:#2, T-014 after:ci
1. [ ] Numbered item (HIGH)
2) [ ] Another [low]
+ [ ] Third priority: medium after:T-014,T-14
- plain bullets are ignored
- [ ] Close #12 today
- [X] done too

```
- [ ] inside a code block
```
";
    let t = ok("plan.md", text);
    assert_eq!(t.len(), 7, "{t:#?}");

    assert_eq!(t[0].line, 5);
    assert_eq!(t[0].title, "Design the login form");
    assert_eq!(t[0].priority, Some(Priority::High));
    assert_eq!(t[0].skills, ["ui"]);
    assert!(t[0].deps.is_empty());
    assert_eq!(t[0].body, "");

    assert_eq!(t[1].line, 6);
    assert_eq!(t[1].title, "Write the login handler");
    assert_eq!(t[1].priority, None);
    assert_eq!(t[1].skills, ["rust", "web"]);
    assert_eq!(t[1].deps, [local(0)]);
    assert_eq!(t[1].assignee.as_deref(), Some("claude"));
    assert_eq!(
        t[1].body,
        "Use the existing session store.\n\n  - keep the old endpoint working\n\
             - [ ] a nested step stays in the body"
    );

    assert_eq!(t[2].line, 13);
    assert_eq!(t[2].title, "Document the login flow");
    assert_eq!(t[2].priority, Some(Priority::Low));
    // `ci` is a done item: the dependency is satisfied and dropped.
    assert_eq!(t[2].deps, [local(1), existing(14)]);

    assert_eq!(t[3].title, "Numbered item");
    assert_eq!(t[3].priority, Some(Priority::High));
    assert_eq!(t[4].title, "Another");
    assert_eq!(t[4].priority, Some(Priority::Low));
    assert_eq!(t[5].title, "Third");
    assert_eq!(t[5].priority, Some(Priority::Med));
    assert_eq!(t[5].deps, [existing(14)], "duplicates are merged");
    assert_eq!(t[6].title, "Close #12 today");
    assert!(t[6].skills.is_empty());
}

#[test]
fn checklist_forward_references_and_crlf() {
    let text = "- [ ] A after:b\r\n- [ ] B {b} after:#3\r\n- [ ] C\r\n";
    let t = ok("x.md", text);
    assert_eq!(t[0].deps, [local(1)]);
    assert_eq!(t[1].deps, [local(2)]);
    assert_eq!(t[1].title, "B");
    assert_eq!(t[2].title, "C");
    assert_eq!(creation_order(&t), [2, 1, 0]);
}

#[test]
fn annotations_only_at_the_end() {
    let t = ok(
        "x.md",
        "- [ ] Mail @bob about #rust docs and (HIGH) stuff !low",
    );
    assert_eq!(t[0].title, "Mail @bob about #rust docs and (HIGH) stuff");
    assert_eq!(t[0].priority, Some(Priority::Low));
    assert!(t[0].skills.is_empty());
    assert_eq!(t[0].assignee, None);
    let t = ok("x.md", "- [ ] after:,,, {} @ ! #");
    assert_eq!(t[0].title, "after:,,, {} @ ! #");
    let t = ok("x.md", "- [ ] Update docs (README)");
    assert_eq!(t[0].title, "Update docs (README)");
    assert_eq!(t[0].priority, None);
}

#[test]
fn table_happy_path() {
    let text = "\
Intro text.

| ID | Task | Priority | Skills | Depends | Assigned To | Description | Status | Notes |
|----|------|:--------:|--------|---------|-------------|-------------|--------|-------|
| T-001 | Set up CI | HIGH | ci | — | | | ✅ DONE | x |
| T-002 | Write the login page | 🔴 High | ui, web | T-001 | @claude | First line<br>second | TODO | |
| T-003 | Test a \\| b | low | testing #qa | T-002, T-009 | - | | In Progress | |
| `T-004` | Review | | | T-3 #1 | codex | | Cancelled | |
| T-005 | Last | P2 | | T-004 | | | | |

| Name | Value |
|------|-------|
| not | tasks |
";
    let t = ok("plan.md", text);
    assert_eq!(t.len(), 3, "{t:#?}");
    assert_eq!(t[0].line, 6);
    assert_eq!(t[0].title, "Write the login page");
    assert_eq!(t[0].priority, Some(Priority::High));
    assert_eq!(t[0].skills, ["ui", "web"]);
    assert!(t[0].deps.is_empty(), "T-001 is done: dropped");
    assert_eq!(t[0].assignee.as_deref(), Some("claude"));
    assert_eq!(t[0].body, "First line\nsecond");

    assert_eq!(t[1].line, 7);
    assert_eq!(t[1].title, "Test a | b");
    assert_eq!(t[1].priority, Some(Priority::Low));
    assert_eq!(t[1].skills, ["testing", "qa"]);
    // T-002 is the file's label; T-009 is not, so it is a store task.
    assert_eq!(t[1].deps, [local(0), existing(9)]);
    assert_eq!(t[1].assignee, None);

    assert_eq!(t[2].line, 9);
    assert_eq!(t[2].title, "Last");
    assert_eq!(t[2].priority, Some(Priority::Low));
    assert!(t[2].deps.is_empty(), "T-004 is cancelled: dropped");
}

#[test]
fn checklist_and_table_in_file_order() {
    let text = "\
- [ ] First {one}

| Title | After |
|---|---|
| Second | one |

- [ ] Third after:#2
";
    let t = ok("x.md", text);
    let titles: Vec<&str> = t.iter().map(|t| t.title.as_str()).collect();
    assert_eq!(titles, ["First", "Second", "Third"]);
    assert_eq!(t[1].deps, [local(0)]);
    assert_eq!(t[2].deps, [local(1)]);
    assert_eq!(t[2].line, 7);
}

#[test]
fn toml_happy_path() {
    let text = r##"
# Sprint 4
[[task]]
id = "login"
title = "Write the login handler"
body = """
Use the existing session store.
"""
priority = "high"
skills = ["rust", "web"]
after = ["T-014", "tests"]
assignee = "claude"

[[task]]
title = "Write the tests"
id = "tests"
priority = "LOW"

[[task]]
title = "Ship it"
after = ["#1", "tests", "T-7"]
skills = "ops, deploy"
"##;
    let t = ok("tasks.toml", text);
    assert_eq!(t.len(), 3);
    assert_eq!(t[0].line, 3);
    assert_eq!(t[0].title, "Write the login handler");
    assert_eq!(t[0].body, "Use the existing session store.\n");
    assert_eq!(t[0].priority, Some(Priority::High));
    assert_eq!(t[0].skills, ["rust", "web"]);
    assert_eq!(t[0].deps, [existing(14), local(1)]);
    assert_eq!(t[0].assignee.as_deref(), Some("claude"));
    assert_eq!(t[1].line, 14);
    assert_eq!(t[1].priority, Some(Priority::Low));
    assert_eq!(t[2].line, 19);
    assert_eq!(t[2].deps, [local(0), local(1), existing(7)]);
    assert_eq!(t[2].skills, ["ops", "deploy"]);
    assert_eq!(creation_order(&t), [1, 0, 2]);
}

#[test]
fn json_happy_path() {
    let text = r#"[
  {"id": "login", "title": "Write the login handler", "priority": "high",
   "skills": ["rust"], "body": "Details", "assignee": "claude"},
  {
    "title": "Test the login handler, [not] {a} \"label\"",
    "after": ["login", "T-003"],
    "priority": null
  }
]"#;
    let t = ok("tasks.json", text);
    assert_eq!(t.len(), 2);
    assert_eq!(t[0].line, 2);
    assert_eq!(t[0].title, "Write the login handler");
    assert_eq!(t[0].priority, Some(Priority::High));
    assert_eq!(t[0].skills, ["rust"]);
    assert_eq!(t[0].body, "Details");
    assert_eq!(t[0].assignee.as_deref(), Some("claude"));
    assert_eq!(t[1].line, 4);
    assert_eq!(t[1].deps, [local(0), existing(3)]);

    let wrapped =
        "{\n \"tasks\": [\n  {\"title\": \"A\"},\n  {\"title\": \"B\", \"after\": [\"#1\"]}\n ]\n}";
    let t = ok("whatever", wrapped);
    assert_eq!(t.len(), 2);
    assert_eq!((t[0].line, t[1].line), (3, 4));
    assert_eq!(t[1].deps, [local(0)]);
}

#[test]
fn to_new_task_maps_local_deps() {
    let t = ok(
        "x.md",
        "- [ ] A after:#2,T-009 !high #rust @claude\n- [ ] B\n",
    );
    assert_eq!(t[0].to_new_task(&[None, None]), None);
    let n = t[0].to_new_task(&[None, Some(TaskId(20))]).unwrap();
    assert_eq!(n.title, "A");
    assert_eq!(n.deps, [TaskId(20), TaskId(9)]);
    assert_eq!(n.priority, Some(Priority::High));
    assert_eq!(n.skills, ["rust"]);
    assert_eq!(n.assignee.as_deref(), Some("claude"));
}

// ---- errors ----

#[test]
fn bad_priority() {
    one_error(
        "x.md",
        "- [ ] A\n- [ ] B !urgent\n",
        2,
        "`!urgent` is not a priority",
    );
    one_error(
        "x.md",
        "- [ ] A priority: soon\n",
        1,
        "`soon` is not a priority",
    );
    one_error(
        "x.md",
        "| Task | Priority |\n|---|---|\n| A | high |\n| B | asap |\n",
        4,
        "`asap` is not a priority",
    );
    one_error(
        "x.toml",
        "[[task]]\ntitle = \"A\"\n\n[[task]]\ntitle = \"B\"\npriority = \"urgent\"\n",
        6,
        "`urgent` is not a priority",
    );
    one_error(
        "x.md",
        "- [ ] A !high !low\n",
        1,
        "two different priorities",
    );
}

#[test]
fn empty_title() {
    one_error("x.md", "- [ ] A\n- [ ]\n- [ ] C\n", 2, "the title is empty");
    one_error(
        "x.md",
        "- [ ] A\n\n- [ ]   !high #rust\n",
        3,
        "the title is empty",
    );
    one_error(
        "x.md",
        "| Task | Skills |\n|---|---|\n| A | x |\n|  | y |\n",
        4,
        "the title is empty",
    );
    one_error("x.json", "[{\"title\": \"  \"}]", 1, "the title is empty");
    one_error("x.toml", "[[task]]\nbody = \"x\"\n", 1, "no `title`");
}

#[test]
fn unknown_reference() {
    one_error(
        "x.md",
        "- [ ] A\n- [ ] B after:nope\n",
        2,
        "unknown dependency `nope`",
    );
    one_error(
        "x.md",
        "- [ ] A\n- [ ] B after:#3\n",
        2,
        "`#3` is not a task of this file",
    );
    one_error(
        "x.md",
        "| Task | Depends |\n|---|---|\n| A | |\n| B | A |\n",
        4,
        "unknown dependency `A`",
    );
    one_error(
        "x.toml",
        "[[task]]\ntitle = \"A\"\n\n[[task]]\ntitle = \"B\"\nafter = [\"later\"]\n",
        6,
        "unknown dependency `later`",
    );
}

#[test]
fn cycles() {
    let text = "- [ ] A after:#3\n- [ ] B\n- [ ] C after:#1\n";
    let e = errs("x.md", text);
    assert_eq!(e, [err(1, "dependency cycle: #1 → #3 → #1")]);

    let text = "- [ ] A {a} after:c\n- [ ] B {b} after:a\n- [ ] C {c} after:b\n";
    let e = errs("x.md", text);
    assert_eq!(e, [err(1, "dependency cycle: a → c → b → a")]);

    one_error(
        "x.md",
        "- [ ] A\n- [ ] B after:#2\n",
        2,
        "depends on itself: #2 → #2",
    );
    one_error(
        "x.json",
        "[\n {\"title\": \"A\"},\n {\"title\": \"B\", \"id\": \"b\", \"after\": [\"b\"]}\n]",
        3,
        "depends on itself: b → b",
    );
    // Two separate cycles are both reported.
    let text = "- [ ] A after:#2\n- [ ] B after:#1\n- [ ] C after:#4\n- [ ] D after:#3\n";
    let e = errs("x.md", text);
    assert_eq!(
        e,
        [
            err(1, "dependency cycle: #1 → #2 → #1"),
            err(3, "dependency cycle: #3 → #4 → #3")
        ]
    );
}

#[test]
fn bad_table_rows() {
    one_error(
        "x.md",
        "| Task | Skills |\n|---|---|\n| A | x |\n| B | y | z |\n| C | w |\n",
        4,
        "this row has 3 cells but the header has 2",
    );
    one_error(
        "x.md",
        "| Task | Skills |\n|---|\n| A | x |\n",
        2,
        "the separator row has 1 cells",
    );
    one_error(
        "x.md",
        "| Task | Skills |\n| A | x |\n",
        1,
        "no separator row",
    );
    one_error(
        "x.md",
        "| Task | Agent | Assignee |\n|---|---|---|\n| A | b | c |\n",
        1,
        "mean the same thing",
    );
}

#[test]
fn unknown_toml_key_and_toml_syntax() {
    one_error(
        "x.toml",
        "[[task]]\ntitle = \"A\"\n\n[[task]]\ntitle = \"B\"\ndeps = [\"#1\"]\n",
        6,
        "unknown key `deps`",
    );
    one_error(
        "x.toml",
        "[[tasks]]\ntitle = \"A\"\n",
        1,
        "unknown key `tasks`",
    );
    one_error(
        "x.toml",
        "[[task]]\ntitle = \"A\"\nskills = [1]\n",
        3,
        "must hold strings",
    );
    let e = errs(
        "x.toml",
        "[[task]]\ntitle = \"A\"\n\n[[task]]\ntitle = \"B\n",
    );
    assert_eq!(e.len(), 1, "{e:#?}");
    assert_eq!(e[0].line, 5, "{e:#?}");
    assert!(e[0].message.starts_with("TOML syntax: "), "{e:#?}");
}

#[test]
fn bad_json() {
    let e = errs("x.json", "[\n {\"title\": \"A\"},\n {\"title\": \"B\",}\n]");
    assert_eq!(e.len(), 1, "{e:#?}");
    assert_eq!(e[0].line, 3);
    assert!(e[0].message.starts_with("JSON syntax: "), "{e:#?}");
    assert!(!e[0].message.contains("column"), "{e:#?}");

    one_error(
        "x.json",
        "[\n {\"title\": \"A\"},\n {\"title\": \"B\", \"prio\": \"x\"}\n]",
        3,
        "unknown key `prio`",
    );
    one_error(
        "x.json",
        "[\n {\"title\": \"A\"},\n 5\n]",
        3,
        "task 2 is not an object",
    );
    one_error("x.json", "{\"task\": []}", 0, "unknown key `task`");
    one_error(
        "x.json",
        "\"just a string\"",
        0,
        "expected an array of tasks",
    );
    one_error(
        "x.json",
        "[{\"title\": 5}]",
        1,
        "`title` must be a string, not a number",
    );
}

#[test]
fn other_errors() {
    one_error(
        "x.md",
        "- [ ] A {x}\n- [ ] B {X}\n",
        2,
        "the label `X` is already used",
    );
    one_error("x.md", "- [ ] A @a @b\n", 1, "two different agents");
    one_error(
        "x.json",
        "[{\"title\": \"A\", \"assignee\": \"a b\"}]",
        1,
        "not an agent",
    );
    one_error(
        "x.md",
        "# Nothing here\n\nJust prose.\n",
        0,
        "no tasks found",
    );
    one_error("x.md", "- [x] A\n- [x] B\n", 0, "all 2 items are done");
    one_error("x.json", "[]", 0, "no tasks found");
    one_error("x.toml", "# only a comment\n", 0, "no tasks found");
    let long = format!("- [ ] {}\n", "x".repeat(301));
    one_error("x.md", &long, 1, "longer than 300");
}

#[test]
fn one_bad_line_among_many_good_ones() {
    let mut text = String::new();
    for k in 1..=50 {
        if k == 1 {
            text.push_str("- [ ] Task 1 {first}\n");
        } else if k == 37 {
            text.push_str("- [ ] Task 37 after:missing-label\n");
        } else {
            text.push_str(&format!("- [ ] Task {k} !med #rust after:#1,first\n"));
        }
    }
    let e = errs("x.md", &text);
    assert_eq!(e.len(), 1, "{e:#?}");
    assert_eq!(e[0].line, 37);
    assert!(e[0].message.contains("missing-label"));
}

#[test]
fn all_errors_are_reported_in_line_order() {
    let text = "- [ ] A after:zzz\n- [ ]\n- [ ] C !soon\n- [ ] D\n";
    let e = errs("x.md", text);
    let lines: Vec<usize> = e.iter().map(|e| e.line).collect();
    assert_eq!(lines, [1, 2, 3], "{e:#?}");
}

#[test]
fn garbage_gives_clean_errors() {
    for (name, text) in [
        ("x.md", ""),
        ("x.toml", "   \n\n"),
        ("x.json", "\u{feff}"),
        ("x.md", "\0\u{1}\u{2}binary\u{7f}"),
        ("x", "\u{fffd}\u{fffd}PNG\r\n\u{1a}\n"),
        ("x.json", "{{{{[[[["),
        ("x.json", "]"),
        ("x.toml", "= = =\n[[[\n\"\"\"\n"),
        ("x.toml", "task = 3"),
        ("x.toml", "task = [1, 2]"),
        ("x.toml", "[task]\ntitle = \"a\""),
        ("x.md", "|\n|-|\n|\n"),
        ("x.md", "```\n- [ ] never closed"),
    ] {
        let e = errs(name, text);
        assert!(!e.is_empty(), "{name}: {text:?}");
    }
}

#[test]
fn no_panics_on_random_input() {
    // A tiny deterministic generator: no dependency, the same cases every run.
    let pieces = [
        "- [ ] ",
        "- [x] ",
        "1. [ ] ",
        "|",
        "\\|",
        "---",
        "\n",
        "\r\n",
        "  ",
        "\t",
        "#",
        "#1",
        "#a",
        "!high",
        "!x",
        "after:",
        ",",
        "@",
        "{",
        "}",
        "[",
        "]",
        "\"",
        "=",
        "[[task]]",
        "title",
        ":",
        "T-001",
        "é",
        "→",
        "\u{feff}",
        "```",
        "<br>",
        "(HIGH)",
        "priority:",
        "tasks",
        "null",
        "0",
        "x",
    ];
    let mut seed: u64 = 0x9e37_79b9_7f4a_7c15;
    let mut next = || {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed
    };
    for _ in 0..3000 {
        let len = (next() % 40) as usize;
        let text: String = (0..len)
            .map(|_| pieces[(next() % pieces.len() as u64) as usize])
            .collect();
        for name in ["x.md", "x.toml", "x.json", "x"] {
            if let Ok(tasks) = parse_tasks(name, &text) {
                assert!(!tasks.is_empty());
                assert_eq!(creation_order(&tasks).len(), tasks.len());
            }
        }
    }
}

#[test]
fn item_keys_follow_labels_then_titles() {
    let t = ok(
        "x.md",
        "- [ ] Write   the Parser !high {p}\n- [ ] Write the parser #rust\n- [ ] write THE parser\n- [ ] Docs\n",
    );
    assert_eq!(
        item_keys(&t),
        [
            "id:p",
            "title:write the parser",
            "title:write the parser#2",
            "title:docs"
        ]
    );
    // Task-ID-like labels compare by number, as references do.
    let t = ok(
        "x.md",
        "| ID | Task |\n|----|------|\n| T-01 | A |\n| b | B |\n",
    );
    assert_eq!(item_keys(&t), ["id:T-001", "id:b"]);
}
