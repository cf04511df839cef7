//! `baton run`: the main job — tasks in (a file, a goal, or what the store holds), agents
//! started, the daemon until every task is done and verified, REPORT.md out.

use std::path::Path;
use std::path::PathBuf;
use std::process::ExitCode;

use baton_core::progress;
use baton_core::task::NewTask;
use baton_core::task::Priority;
use baton_core::task::Status;
use baton_core::vocab::JournalAction;
use clap::Args;

use crate::commands::ok;
use crate::context::Context;
use crate::error::CliError;
use crate::error::CliResult;
use crate::error::io_error;
use crate::project::start_dir;

/// Arguments of `baton run`.
#[derive(Args, Debug)]
pub struct RunArgs {
    /// A task list to import first (.md checklist or table, .toml, .json); each item is
    /// imported once: run it again after editing the file and only new items are added
    pub file: Option<PathBuf>,
    /// A goal for the lead agent to break into tasks with `baton task add`
    #[arg(long, conflicts_with = "file")]
    pub goal: Option<String>,
    /// Print only the summary, not the progress lines
    #[arg(long)]
    pub quiet: bool,
    /// Give agents work even at critical quota (an emergency override, journaled)
    #[arg(long)]
    pub ignore_usage: bool,
    /// Print one JSON summary on stdout at the end (tasks by status, verify, duration,
    /// problems); the progress goes to stderr
    #[arg(long)]
    pub json: bool,
}

/// The text of the task that hands a goal to the lead.
fn goal_task(goal: &str) -> NewTask {
    // Named so that the lead's shell finds it (a login shell may not have it on its PATH).
    let baton = crate::baton_cmd::lookup().command();
    NewTask {
        title: "Break the goal into tasks".into(),
        body: format!(
            "GOAL:\n{goal}\n\nYou lead this run. Break the goal into long, self-contained tasks that agents can do in parallel. For each, run:\n\n    {baton} task add \"<title>\" --body \"<context, objective, files, validation criteria>\" --priority HIGH|MED|LOW --skill <skill> --after T-XXX\n\nThen report this task done with the number of tasks you created. baton hands them out as agents free up."
        ),
        priority: Some(Priority::High),
        skills: vec!["plan".to_owned()],
        deps: Vec::new(),
        assignee: None,
    }
}

/// Imports a task list: only its items not imported before (each item is recorded with its
/// task), so a file edited since the last run adds just its new items.
fn import_once(ctx: &Context, file: &Path) -> CliResult<()> {
    let args = crate::commands::task::import::ImportArgs {
        file: file.to_owned(),
        dry_run: false,
        json: false,
    };
    let done = crate::commands::task::import::import(ctx, &args)?;
    if done.added.is_empty() {
        println!(
            "{}: every item was imported before: resuming from the store",
            file.display()
        );
    }
    Ok(())
}

/// Runs the whole job in the project at `root`.
pub fn run_in(root: &Path, args: &RunArgs) -> CliResult<ExitCode> {
    let ctx = Context::at(root)?;
    let project = &ctx.project;
    crate::hosts::check(project)?;
    project.check_tmux()?;
    // A template that cannot be read fails now, before any task or the session exists.
    project.template()?;
    if let Some(file) = &args.file {
        import_once(&ctx, file)?;
    }
    if let Some(goal) = &args.goal {
        let mut store = ctx.store()?;
        // The agent leading now (after a handoff, not the chain's first).
        let lead = crate::commands::lead::current_lead(project, &store)
            .or_else(|| project.config.agents.first().map(|a| a.name.clone()))
            .ok_or_else(|| CliError::user("no agent to give the goal to: add an [[agent]]"))?;
        let task = NewTask {
            assignee: Some(lead.clone()),
            ..goal_task(goal)
        };
        let (tasks, journal) = store.add_tasks(&[task], &ctx.actor)?;
        ctx.after_change(&mut store, &journal);
        println!("goal given to {lead} as {}", tasks[0].id);
    }
    // Ctrl-C from here on says what goes on and how to resume, and exits 130.
    let _interrupt = crate::interrupt::on_interrupt({
        let root = project.root.clone();
        move || interrupted_note(&root)
    });
    crate::commands::up::cmd_up(
        Some(&project.root),
        &crate::commands::up::UpArgs {
            no_wait: false,
            no_daemon: true,
            ignore_usage: false,
        },
    )?;
    println!(
        "running; the dashboard: baton -C {root} watch; the agents' windows: baton -C {root} attach",
        root = project.root.display()
    );
    let summary = if let Some(pid) = crate::daemon::running_pid(project) {
        // `baton up` started one: it does the work; follow it.
        println!("following the daemon that runs (pid {pid})");
        follow(&ctx, !args.quiet)?
    } else {
        crate::daemon::run(
            project,
            &crate::daemon::Options {
                exit_when_finished: true,
                progress: !args.quiet,
                background: false,
                ignore_usage: args.ignore_usage,
            },
        )?
        .summary
    };
    println!("finished: {summary}");
    println!(
        "report: {}",
        project.reports_dir().join(crate::report::REPORT).display()
    );
    let store = ctx.store()?;
    match work_not_done(&store)? {
        None => ok(),
        Some(what) => {
            eprintln!("not all done: {what}; the report says why, task by task");
            Ok(ExitCode::from(crate::error::WORK_NOT_DONE))
        }
    }
}

/// What a finished run left undone, in words (`2 BLOCKED, 1 UNREPORTED, 1 change(s) not
/// merged (T-002), the last verify failed`), or `None` when every task is COMPLETED or
/// CANCELLED, every change merged (worktree mode) and the last verify, if any ran, passed.
fn work_not_done(store: &crate::store::Store) -> CliResult<Option<String>> {
    let counts = store.counts()?;
    let mut left: Vec<String> = [
        Status::Unreported,
        Status::Blocked,
        Status::Pending,
        Status::InProgress,
    ]
    .into_iter()
    .filter_map(|s| {
        let n = counts.get(&s).copied().unwrap_or(0);
        (n > 0).then(|| format!("{n} {}", s.as_str()))
    })
    .collect();
    let unmerged: Vec<String> = store
        .pending_merges()?
        .into_iter()
        .filter(|(_, _, open)| !open)
        .map(|(task, _, _)| task.to_string())
        .collect();
    if !unmerged.is_empty() {
        left.push(format!(
            "{} change(s) not merged ({})",
            unmerged.len(),
            unmerged.join(", ")
        ));
    }
    if store.last_verify()? == Some(false) {
        left.push("the last verify failed".to_owned());
    }
    Ok((!left.is_empty()).then(|| left.join(", ")))
}

/// Follows a daemon that already runs until it says the run is finished; returns its summary.
fn follow(ctx: &Context, progress: bool) -> CliResult<String> {
    let project = &ctx.project;
    let mut store = ctx.store()?;
    // Ask the daemon to say again whether the run is finished, from now on.
    let asked = ctx.ask_daemon(
        &mut store,
        JournalAction::RunFollow,
        "waiting for the end of the run",
    )?;
    let mut seq = asked.seq;
    let started = std::time::Instant::now();
    let mut last = String::new();
    loop {
        for j in store.journal_since(seq, 1000)? {
            seq = seq.max(j.seq);
            if j.action == JournalAction::RunFinished {
                return Ok(j.result);
            }
        }
        if crate::daemon::running_pid(project).is_none() {
            return Err(CliError::user("the daemon stopped before the run finished")
                .hint("see .baton/daemon.log, then run `baton run` again to resume"));
        }
        if progress {
            let counts = store.counts()?;
            let states: Vec<String> = store
                .agents()?
                .iter()
                .map(|a| format!("{} {}", a.name, a.state))
                .collect();
            // The merges pending are the daemon's to say: its own line has them.
            let mut line = progress::line(&counts, 0, &states);
            if store.paused()? {
                line.push_str(" · dispatch PAUSED: `baton resume` lets it go on");
            }
            if line != last {
                println!("{}", progress::stamped(started.elapsed().as_secs(), &line));
                last = line;
            }
        }
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
}

/// Runs the daemon in the background (what `baton up` starts): dispatch, watch, recover,
/// until the session is gone or `baton down` stops it.
pub fn cmd_daemon(dir: Option<&Path>, ignore_usage: bool) -> CliResult<ExitCode> {
    let ctx = Context::load(dir)?;
    let outcome = crate::daemon::run(
        &ctx.project,
        &crate::daemon::Options {
            exit_when_finished: false,
            progress: false,
            background: true,
            ignore_usage,
        },
    )?;
    eprintln!("daemon stopped: {}", outcome.summary);
    ok()
}

/// What Ctrl-C during `baton run` leaves going, and how to resume or stop it.
fn interrupted_note(root: &Path) -> String {
    let Ok(Context { project, .. }) = Context::at(root) else {
        return "baton run: interrupted; the agents keep running: `baton run` again resumes, `baton down` stops them".to_owned();
    };
    let here = std::env::current_dir().is_ok_and(|d| d == project.root);
    let baton = if here {
        "baton".to_owned()
    } else {
        format!("baton -C {}", project.root.display())
    };
    let busy = project
        .store()
        .ok()
        .and_then(|s| s.in_progress_labels().ok())
        .unwrap_or_default();
    let tasks = if busy.is_empty() {
        "no task is IN_PROGRESS".to_owned()
    } else {
        format!("{} stay IN_PROGRESS", busy.join(", "))
    };
    let daemon = crate::daemon::running_pid(&project).filter(|pid| *pid != std::process::id());
    let mut lines = vec![
        "baton run: interrupted.".to_owned(),
        format!(
            "  The agents keep running in tmux session `{}` (socket {}; look with `{baton} attach`); {tasks}.",
            project.session,
            project.socket_name()
        ),
    ];
    match daemon {
        Some(pid) => lines.push(format!(
            "  The daemon `baton up` started (pid {pid}) goes on handing out tasks; `{baton} run` follows it again."
        )),
        None => lines.push(format!(
            "  No new task is handed out and nothing is verified until `{baton} run` runs again: it resumes from .baton/state.db."
        )),
    }
    lines.push(format!("  `{baton} down` stops the agents."));
    lines.join("\n")
}

/// Runs `baton run`.
pub fn cmd_run(dir: Option<&Path>, args: &RunArgs) -> CliResult<ExitCode> {
    let start = start_dir(dir)?;
    let root = crate::project::find_root(&start).unwrap_or(start);
    if args.json {
        return run_json(&root, args);
    }
    run_in(&root, args)
}

/// `baton run --json`: what the run ended with, from the store.
#[derive(serde::Serialize)]
struct RunSummary {
    /// Whether the run got to its end (every task done, or nothing more can be done).
    finished: bool,
    /// The run's own summary line, when it finished.
    summary: Option<String>,
    /// The exit code of the run.
    exit_code: i32,
    duration_ms: u64,
    /// `total` and the count of each status.
    tasks: std::collections::BTreeMap<String, u64>,
    verify: VerifySummary,
    /// Worktree mode: the merge queue's counts.
    merges: Option<MergeSummary>,
    /// The problems REPORT.md lists.
    problems: usize,
    report: String,
}

#[derive(serde::Serialize)]
struct VerifySummary {
    /// How many verify commands ran (after waves; worktree mode verifies in merges instead).
    runs: usize,
    /// `passed` or `failed`: the last one; `None` when none ran.
    last: Option<&'static str>,
}

#[derive(serde::Serialize)]
struct MergeSummary {
    running: usize,
    queued: usize,
    merged: usize,
}

/// Runs the job as a child `baton run` whose stdout is this process's stderr — so everything
/// it and the programs it starts print is progress on stderr, whoever prints it — then prints
/// the summary, read from the store, as the only thing on stdout.
fn run_json(root: &Path, args: &RunArgs) -> CliResult<ExitCode> {
    let started = std::time::Instant::now();
    let exe = std::env::current_exe().map_err(|e| io_error("cannot find the baton binary", e))?;
    let mut cmd = std::process::Command::new(exe);
    cmd.arg("-C").arg(root).arg("run");
    if let Some(file) = &args.file {
        cmd.arg(file);
    }
    if let Some(goal) = &args.goal {
        cmd.arg("--goal").arg(goal);
    }
    if args.quiet {
        cmd.arg("--quiet");
    }
    if args.ignore_usage {
        cmd.arg("--ignore-usage");
    }
    let status = cmd
        .stdout(std::process::Stdio::from(std::io::stderr()))
        .status()
        .map_err(|e| io_error("cannot start `baton run`", e))?;
    let code = status.code().unwrap_or(-1);
    match summarize(root, status.success(), code, started) {
        Ok(summary) => crate::commands::print_json(&summary)?,
        // The run failed before there was a project to read (its error is on stderr).
        Err(e) => crate::commands::print_json(&serde_json::json!({
            "finished": false,
            "exit_code": code,
            "error": e.message,
        }))?,
    };
    Ok(if status.success() {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(u8::try_from(code).unwrap_or(1))
    })
}

/// Reads what the run ended with from the store.
fn summarize(
    root: &Path,
    success: bool,
    exit_code: i32,
    started: std::time::Instant,
) -> CliResult<RunSummary> {
    let ctx = Context::at(root)?;
    let project = &ctx.project;
    let store = ctx.store()?;
    let counts = store.counts()?;
    let mut tasks: std::collections::BTreeMap<String, u64> = Status::ALL
        .iter()
        .map(|s| (s.as_str().to_owned(), counts.get(s).copied().unwrap_or(0)))
        .collect();
    tasks.insert("total".into(), counts.values().sum());
    let journal = store.journal_since(0, usize::MAX)?;
    let runs = journal
        .iter()
        .filter(|j| j.action == JournalAction::Verify)
        .count();
    let last = store
        .last_verify()?
        .map(|ok| if ok { "passed" } else { "failed" });
    let summary = journal
        .iter()
        .rev()
        .find(|j| j.action == JournalAction::RunFinished)
        .map(|j| j.result.clone());
    let merges = if project.config.uses_worktrees() {
        let (running, queued, merged) = store.merge_counts()?;
        Some(MergeSummary {
            running,
            queued,
            merged,
        })
    } else {
        None
    };
    Ok(RunSummary {
        // Work not done (exit 4) is a run that got to its end too.
        finished: (success || exit_code == i32::from(crate::error::WORK_NOT_DONE))
            && summary.is_some(),
        summary,
        exit_code,
        duration_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
        tasks,
        verify: VerifySummary { runs, last },
        merges,
        problems: journal
            .iter()
            .filter(|j| crate::report::is_problem(j))
            .count(),
        report: project
            .root
            .join(crate::report::REPORT)
            .display()
            .to_string(),
    })
}
