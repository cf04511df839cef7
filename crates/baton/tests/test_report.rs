//! REPORT.md tells every problem of a run: a merge that failed verify and a hung agent
//! recovered are listed, and the integration branch's history says which commits verify
//! checked and which came in beneath them.

use crate::common::TestProject;
use crate::common::git;
use crate::common::init_repo;
use crate::common::line_with;

/// One agent in a worktree: it hangs on its first prompt (recovered with Ctrl-C and the
/// prompt again), then commits a file that fails verify; its fix task removes it. The report
/// lists both problems and says the broken commit, which is in main's history under the fix,
/// was never verified alone.
#[test]
fn the_report_lists_a_failed_merge_and_a_recovered_hang() {
    let p = TestProject::new();
    let root = p.root();
    init_repo(root, &[("README.md", "# project\n")]);
    let done = "run = [\"baton task done \\\"$BATON_FAKE_TASK\\\"\"]";
    let script = format!(
        "[[task]]\nmatch = \"broken feature\"\nhang = true\n\
         [[task]]\nmatch = \"Fix: \"\nrepeat = true\nwork_ms = 200\nrun = [\"rm -f BROKEN\", \"baton task done \\\"$BATON_FAKE_TASK\\\"\"]\n\
         [[task]]\nmatch = \"broken feature\"\nrepeat = true\nwork_ms = 300\nwrite = [{{ path = \"BROKEN\", content = \"x\\n\" }}]\n{done}\n"
    );
    let agent = p.fake_agent("a", "claude", &script);
    p.write_config(&format!(
        "isolation = \"worktree\"\nmemory_file = \".baton/BOARD.md\"\n\n{agent}\
         [verify]\ncommands = [\"test ! -e BROKEN\"]\nmax_fix_cycles = 2\n\n[run]\nstuck_after_secs = 2\ntest_tasks = false\n"
    ));
    p.write_plan("- [ ] broken feature\n");
    p.ok(&["run", "plan.md", "--quiet"]);
    let report = p.read_file("REPORT.md");
    let problems = report
        .split("## Problems")
        .nth(1)
        .unwrap_or_else(|| panic!("{report}"))
        .split("\n## ")
        .next()
        .unwrap();
    assert!(!problems.contains("None"), "{report}");
    line_with(
        problems,
        "",
        &[
            "merge failed (verify failed) T-001 a: merge #1",
            "test ! -e BROKEN",
        ],
    );
    line_with(
        problems,
        "",
        &["hang recovered T-001 a: stuck: Ctrl-C and the prompt again"],
    );
    // main holds the broken commit under the fix: the report says verify never checked it
    // alone, and that its own merge failed.
    let log = git(root, &["log", "--format=%s", "main"]);
    assert!(log.contains("T-001: broken feature"), "{log}");
    let history = report
        .split("## Integration branch `main`")
        .nth(1)
        .unwrap_or_else(|| panic!("{report}"));
    let tip = git(root, &["rev-parse", "main"]);
    assert!(
        history
            .lines()
            .any(|l| l.contains(&format!("`{}`", &tip[..12])) && l.ends_with("— verified")),
        "{report}"
    );
    line_with(
        history,
        "",
        &[
            "T-001: broken feature",
            &format!("not checked alone: came in with `{}`", &tip[..12]),
            "T-001's own merge failed: #1",
        ],
    );
}
