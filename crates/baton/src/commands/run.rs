//! `baton run`: the main job — tasks in (a file, a goal, or what the store holds), agents
//! started, the daemon until every task is done and verified, REPORT.md out.

use std::path::Path;
use std::path::PathBuf;
use std::process::ExitCode;

use baton_core::task::NewTask;
use baton_core::task::Priority;
use baton_core::task::Status;
use clap::Args;

use crate::commands::ok;
use crate::commands::task::TaskContext;
use crate::error::CliError;
use crate::error::CliResult;
use crate::error::io_error;
use crate::project::Project;
use crate::project::start_dir;

/// Arguments of `baton run`.
#[derive(Args, Debug)]
pub struct RunArgs {
    /// A task list to import first (.md checklist or table, .toml, .json); imported once
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

/// Imports a task list once: a file already imported (same content) is skipped.
fn import_once(project: &Project, file: &Path) -> CliResult<()> {
    let bytes =
        std::fs::read(file).map_err(|e| io_error(format!("cannot read {}", file.display()), e))?;
    let key = {
        use std::hash::Hash;
        use std::hash::Hasher;
        let mut h = std::collections::hash_map::DefaultHasher::new();
        bytes.hash(&mut h);
        format!("imported.{:016x}", h.finish())
    };
    let mut store = project.store()?;
    if store
        .meta(&key)
        .map_err(|e| CliError::user(e.to_string()))?
        .is_some()
    {
        println!(
            "{} was imported before: resuming from the store",
            file.display()
        );
        return Ok(());
    }
    let ctx = TaskContext {
        project: Project::load(&project.root)?,
        actor: "user".into(),
    };
    let args = crate::commands::task::import::ImportArgs {
        file: file.to_owned(),
        dry_run: false,
        json: false,
    };
    crate::commands::task::import::cmd_task_import(&ctx, &args)?;
    store
        .set_meta(&key, &file.display().to_string())
        .map_err(|e| CliError::user(e.to_string()))?;
    Ok(())
}

/// Runs the whole job in the project at `root`.
pub fn run_in(root: &Path, args: &RunArgs) -> CliResult<ExitCode> {
    let project = Project::load(root)?;
    project.check_tmux()?;
    if let Some(file) = &args.file {
        import_once(&project, file)?;
    }
    if let Some(goal) = &args.goal {
        let lead = project
            .config
            .lead
            .chain
            .first()
            .cloned()
            .or_else(|| project.config.agents.first().map(|a| a.name.clone()))
            .ok_or_else(|| CliError::user("no agent to give the goal to: add an [[agent]]"))?;
        let mut store = project.store()?;
        let task = NewTask {
            assignee: Some(lead.clone()),
            ..goal_task(goal)
        };
        let (tasks, journal) = store
            .add_tasks(&[task], "user")
            .map_err(|e| CliError::user(e.to_string()))?;
        crate::orchlog::append(&project.root, &journal)?;
        println!("goal given to {lead} as {}", tasks[0].id);
    }
    crate::commands::up::cmd_up(
        Some(&project.root),
        &crate::commands::up::UpArgs {
            no_wait: false,
            no_daemon: true,
            ignore_usage: false,
            quiet: false,
        },
    )?;
    println!(
        "running; watch with: baton -C {} attach",
        project.root.display()
    );
    let summary = if let Some(pid) = crate::daemon::running_pid(&project) {
        // `baton up` started one: it does the work; follow it.
        println!("following the daemon that runs (pid {pid})");
        follow(&project, !args.quiet)?
    } else {
        crate::daemon::run(
            &project,
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
        project.root.join(crate::report::REPORT).display()
    );
    ok()
}

/// The journal action of a `baton run` that follows a running daemon.
pub const FOLLOW: &str = "run-follow";

/// Follows a daemon that already runs until it says the run is finished; returns its summary.
fn follow(project: &Project, progress: bool) -> CliResult<String> {
    let e = |e: crate::store::StoreError| CliError::user(e.to_string());
    let mut store = project.store()?;
    // Ask the daemon to say again whether the run is finished, from now on.
    let asked = store
        .journal(
            "user",
            FOLLOW,
            None,
            "",
            "waiting for the end of the run",
            "",
        )
        .map_err(e)?;
    let mut seq = asked.seq;
    crate::daemon::poke(&project.root);
    let started = std::time::Instant::now();
    let mut last = String::new();
    loop {
        for j in store.journal_since(seq, 1000).map_err(e)? {
            seq = seq.max(j.seq);
            if j.action == "run-finished" {
                return Ok(j.result);
            }
        }
        if crate::daemon::running_pid(project).is_none() {
            return Err(CliError::user("the daemon stopped before the run finished")
                .hint("see .baton/daemon.log, then run `baton run` again to resume"));
        }
        if progress {
            let counts = store.counts().map_err(e)?;
            let n = |s: Status| counts.get(&s).copied().unwrap_or(0);
            let total: u64 = counts.values().sum();
            let agents = store.agents().map_err(e)?;
            let states: Vec<String> = agents
                .iter()
                .map(|a| format!("{} {}", a.name, a.state))
                .collect();
            let line = format!(
                "{}/{total} done{} · {}",
                n(Status::Completed),
                if n(Status::Blocked) > 0 {
                    format!(", {} blocked", n(Status::Blocked))
                } else {
                    String::new()
                },
                states.join(" · ")
            );
            if line != last {
                println!("[baton {:>4}s] {line}", started.elapsed().as_secs());
                last = line;
            }
        }
        std::thread::sleep(std::time::Duration::from_millis(200));
    }
}

/// Runs the daemon in the background (what `baton up` starts): dispatch, watch, recover,
/// until the session is gone or `baton down` stops it.
pub fn cmd_daemon(dir: Option<&Path>, ignore_usage: bool) -> CliResult<ExitCode> {
    let project = Project::load(&start_dir(dir)?)?;
    let outcome = crate::daemon::run(
        &project,
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

/// Runs `baton run`.
pub fn cmd_run(dir: Option<&Path>, args: &RunArgs) -> CliResult<ExitCode> {
    let start = start_dir(dir)?;
    let root = crate::project::find_root(&start).unwrap_or(start);
    run_in(&root, args)
}
