//! The shared memory file: baton's region is rendered from the store, edits in it are applied
//! or refused with the line, and the user's text around it never changes.

use std::fs::File;
use std::time::Duration;

use crate::common::TestProject;
use crate::common::actions;
use crate::common::assert_has;
use crate::common::wait_until;

const USER_TOP: &str = "# Project memory\r\n\r\nNotes in CRLF, accents é à, «quotes», a table:\r\n\r\n| a | b |\r\n|---|---|\r\n| 1 | 2 |\r\n\r\n";
const USER_BOTTOM: &str = "\r\n## After the region\r\nNo final newline here";

fn project() -> TestProject {
    let p = TestProject::new();
    p.write_config("[[agent]]\nname = \"claude\"\ncli = \"claude\"\n");
    p
}

/// A project whose memory file holds the user's text around an empty region.
fn project_with_user_text() -> TestProject {
    let p = project();
    p.write_file(
        "CLAUDE.md",
        &format!("{USER_TOP}<!-- baton:tasks -->\r\n<!-- /baton:tasks -->\r\n{USER_BOTTOM}"),
    );
    p
}

fn memory(p: &TestProject) -> String {
    p.read_file("CLAUDE.md")
}

/// Rewrites one row's Status cell the way an agent's editor would: read, replace, write;
/// every other byte stays as it was.
fn set_row_status(text: &str, id: &str, to: &str) -> String {
    text.split_inclusive('\n')
        .map(|l| {
            if l.starts_with(&format!("| {id} |")) {
                let (body, end) = l.split_at(l.trim_end_matches(['\r', '\n']).len());
                let mut cells: Vec<String> = body.split(" | ").map(str::to_owned).collect();
                // | ID | Task | Assigned To | Priority | Status | Created |
                cells[4] = to.to_owned();
                cells.join(" | ") + end
            } else {
                l.to_owned()
            }
        })
        .collect()
}

/// Splits the file around the region and returns (before, after).
fn outside(text: &str) -> (String, String) {
    let b = text.find("<!-- baton:tasks -->").unwrap();
    let e = text.find("<!-- /baton:tasks -->").unwrap() + "<!-- /baton:tasks -->".len();
    // The end marker's line break belongs to the region.
    let after = &text[e..];
    let after = after
        .strip_prefix("\r\n")
        .or_else(|| after.strip_prefix('\n'))
        .unwrap_or(after);
    (text[..b].to_owned(), after.to_owned())
}

#[test]
fn the_region_is_created_and_user_text_is_kept_byte_for_byte() {
    let p = project_with_user_text();
    for i in 0..5 {
        p.ok(&["task", "add", &format!("task {i} | with a pipe")]);
    }
    p.ok(&["task", "start", "T-001", "--agent", "claude"]);
    p.ok(&["task", "done", "T-001", "--note", "ok"]);
    let text = memory(&p);
    let (before, after) = outside(&text);
    assert_eq!(before, USER_TOP);
    assert_eq!(after, USER_BOTTOM);
    assert!(
        text.contains("| T-002 | task 1 \\| with a pipe | - | MED | PENDING |"),
        "{text}"
    );
    assert!(text.contains("## Task Completion Log"), "{text}");

    // No memory file at all: it is created.
    let q = project();
    q.ok(&["task", "add", "first"]);
    assert!(memory(&q).contains("| T-001 | first |"));
}

#[test]
fn status_edits_are_applied_and_bad_ones_refused_with_the_line() {
    let p = project();
    for t in ["one", "two", "three"] {
        p.ok(&["task", "add", t]);
    }
    p.ok(&["task", "start", "T-001", "--agent", "claude"]);
    let text = memory(&p);
    // An agent marks T-001 done (legal) and T-002 done (illegal: never started), and spells
    // T-003's status wrong.
    let edited = set_row_status(
        &set_row_status(&text, "T-001", "COMPLETED"),
        "T-002",
        "COMPLETED",
    );
    p.write_file("CLAUDE.md", &edited);
    // An edit was refused.
    assert_has(
        &p.exec(&["memory", "sync"]).expect_code(1).stdout,
        &[
            "applied: CLAUDE.md:",
            "T-001 → COMPLETED",
            "refused: CLAUDE.md:",
            "cannot go from PENDING to COMPLETED",
        ],
    );
    assert_eq!(p.status("T-001"), "COMPLETED");
    assert_eq!(p.status("T-002"), "PENDING");
    assert!(
        memory(&p).contains("| T-002 | two | - | MED | PENDING |"),
        "re-rendered from the store"
    );

    let broken = set_row_status(&memory(&p), "T-003", "COMPLETD");
    let line = broken
        .lines()
        .position(|l| l.starts_with("| T-003 |"))
        .unwrap()
        + 1;
    p.write_file("CLAUDE.md", &broken);
    assert_has(
        &p.exec(&["memory", "sync"]).expect_code(1).stdout,
        &[&format!("CLAUDE.md:{line}:"), "`COMPLETD` is not a status"],
    );
    assert_eq!(p.status("T-003"), "PENDING");
    let show = p.json(&["task", "show", "T-002", "--json"]);
    assert!(actions(&show["history"]).contains(&"memory-edit-rejected"));

    // A log line added by hand counts too.
    p.ok(&["task", "start", "T-003", "--agent", "claude"]);
    let text = memory(&p);
    let with_log = text.replace(
        "<!-- /baton:tasks -->",
        "| 2026-11-21 06:00 | claude | T-003 | COMPLETED | done by hand |\n<!-- /baton:tasks -->",
    );
    p.write_file("CLAUDE.md", &with_log);
    p.ok(&["memory", "sync"]);
    assert_eq!(p.status("T-003"), "COMPLETED");
}

#[test]
fn files_baton_cannot_read_are_left_alone() {
    let p = project();
    p.ok(&["task", "add", "one"]);
    let path = p.root().join("CLAUDE.md");
    let bytes = b"# notes\n\xff\xfe not utf-8\n".to_vec();
    std::fs::write(&path, &bytes).unwrap();
    assert_has(
        &p.exec(&["memory", "sync"]).expect_code(1).stderr,
        &["CLAUDE.md:2: not UTF-8"],
    );
    assert_eq!(std::fs::read(&path).unwrap(), bytes);

    let huge = "x".repeat(5 * 1024 * 1024);
    std::fs::write(&path, &huge).unwrap();
    assert_has(
        &p.exec(&["memory", "sync"]).stderr,
        &["more than the 4096 KiB"],
    );
    assert_eq!(std::fs::read_to_string(&path).unwrap().len(), huge.len());

    std::fs::write(&path, "<!-- /baton:tasks -->\n<!-- baton:tasks -->\n").unwrap();
    let out = p.run(&["memory", "sync"]);
    assert_eq!(out.status.code(), Some(1), "reversed markers are an error");
    // A task command still succeeds (the store is the truth) and warns.
    assert_has(
        &p.exec(&["task", "add", "two"]).expect_code(0).stderr,
        &["memory file not updated"],
    );
}

/// Five writers flip five different rows at the same moment, racing each other and a
/// `baton memory sync`, 100 times. Writers follow the lock protocol documented for tools that
/// edit the region (`.baton/memory.lock`). No status change is lost; the user's text is
/// byte-identical.
#[test]
fn five_racing_writers_lose_no_status_change() {
    let p = project_with_user_text();
    let ids: Vec<String> = (1..=5).map(|i| format!("T-{i:03}")).collect();
    for id in &ids {
        p.ok(&["task", "add", &format!("row {id}")]);
        p.ok(&["task", "start", id, "--agent", "claude"]);
    }
    let lock_path = p.root().join(".baton/memory.lock");
    let file = p.root().join("CLAUDE.md");
    let edit = |id: &str, to: &str| {
        let lock = File::options()
            .create(true)
            .truncate(false)
            .write(true)
            .open(&lock_path)
            .unwrap();
        lock.lock().unwrap();
        let text = std::fs::read_to_string(&file).unwrap();
        let tmp = file.with_extension(format!("tmp-{id}"));
        std::fs::write(&tmp, set_row_status(&text, id, to)).unwrap();
        std::fs::rename(&tmp, &file).unwrap();
        drop(lock);
    };
    for round in 0..100 {
        let to = if round % 2 == 0 {
            "BLOCKED"
        } else {
            "IN_PROGRESS"
        };
        let barrier = std::sync::Barrier::new(ids.len() + 1);
        std::thread::scope(|s| {
            for id in &ids {
                let (barrier, edit) = (&barrier, &edit);
                s.spawn(move || {
                    barrier.wait();
                    edit(id, to);
                });
            }
            let (barrier, p) = (&barrier, &p);
            s.spawn(move || {
                barrier.wait();
                p.ok(&["memory", "sync"]);
            });
        });
        p.ok(&["memory", "sync"]);
        for id in &ids {
            assert_eq!(p.status(id), to, "round {round}: {id}");
        }
        let (before, after) = outside(&memory(&p));
        assert_eq!(before, USER_TOP, "round {round}");
        assert_eq!(after, USER_BOTTOM, "round {round}");
    }
}

#[test]
fn the_watcher_applies_edits_as_they_happen() {
    let p = project();
    p.ok(&["task", "add", "watched"]);
    p.ok(&["task", "start", "T-001", "--agent", "claude"]);
    let mut child = p
        .cmd(&["memory", "watch"])
        .stdout(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    struct Kill(std::process::Child);
    impl Drop for Kill {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
        }
    }
    let stdout = child.stdout.take().unwrap();
    let _guard = Kill(child);
    let mut lines = std::io::BufRead::lines(std::io::BufReader::new(stdout));
    assert!(lines.next().unwrap().unwrap().starts_with("watching"));
    let path = p.root().join("CLAUDE.md");
    let text = std::fs::read_to_string(&path).unwrap();
    std::fs::write(&path, set_row_status(&text, "T-001", "COMPLETED")).unwrap();
    wait_until(
        Duration::from_secs(10),
        "the watcher to apply the edit",
        || p.status("T-001") == "COMPLETED",
    );
}

/// A refused edit is reported once — one `refused:` line, one journal entry — even when the
/// sync meets a file written a moment ago (it waits for the writer and reads again), and
/// `baton memory sync` then exits 1.
#[test]
fn a_refused_edit_is_reported_once_and_the_sync_exits_1() {
    let p = project();
    for t in ["one", "two"] {
        p.ok(&["task", "add", t]);
    }
    p.write_file(
        "CLAUDE.md",
        &set_row_status(&memory(&p), "T-002", "COMPLETED"),
    );
    let out = p.exec(&["memory", "sync"]);
    out.expect_code(1);
    assert_eq!(out.stdout.matches("refused:").count(), 1, "{}", out.stdout);
    assert_has(&out.stderr, &["1 edit of CLAUDE.md refused"]);
    assert_eq!(p.journaled("memory-edit-rejected").len(), 1);
    let log = p.read_file("ORCHESTRATION_LOG.md");
    assert_eq!(log.matches("memory-edit-rejected").count(), 1, "{log}");
    assert_eq!(p.status("T-002"), "PENDING");
    // Nothing left to refuse: the next sync succeeds.
    p.ok(&["memory", "sync"]);
}
