//! `baton demo`: a full orchestration with fake agents — no account, no network.
//!
//! In a scratch directory: a small shell project, a task list with dependencies, four fake
//! agents (claude leads; amp, codex and gemini work) at different speeds. Codex swallows the
//! first Enter of every prompt, gemini hangs on one task and is recovered, amp crashes on one
//! and is restarted, and the first verify fails until a fix task is done.

use std::path::Path;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::Args;

use crate::commands::run::RunArgs;
use crate::error::CliError;
use crate::error::CliResult;
use crate::error::io_error;

/// Arguments of `baton demo`.
#[derive(Args, Debug)]
pub struct DemoArgs {
    /// Where to build the demo project: a new or empty directory, or one an earlier demo
    /// wrote (default: a new directory under the temp dir)
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
    /// Leave the tmux session running at the end, to look around
    #[arg(long)]
    pub keep: bool,
    /// Print only the summary, not the progress lines
    #[arg(long)]
    pub quiet: bool,
    /// Worktree isolation instead: a git repository, each agent in its own worktree, two
    /// changes that conflict and one that breaks verify, all merged through the queue
    #[arg(long)]
    pub worktree: bool,
}

const TASKS: &str = "# Demo plan\n\n\
- [ ] Design the greeting tool !high #architecture {design}\n  Decide the command line and the output format.\n\
- [ ] Write hello.sh after:design #rust {hello}\n\
- [ ] Write the French greeting after:design #rust {french}\n\
- [ ] Add a --name option to hello.sh after:hello #refactoring {name}\n\
- [ ] Review hello.sh after:name #review\n\
- [ ] Write the docs for hello.sh after:hello #docs\n\
- [ ] Write the usage examples #docs\n\
- [ ] Add shell tests after:french #rust\n\
- [ ] Package the tool !low after:name #rust\n";

const CHECK: &str = "#!/bin/sh\n# The demo's verify command: passes once a fix task has created fixed.txt.\n\
test -f fixed.txt || { echo \"check: FAILED: hello.sh prints no trailing newline (fixed.txt missing)\"; exit 1; }\necho \"check: ok\"\n";

fn script(persona: &str, work_ms: u64, extra: &str, dir: &Path) -> String {
    // The default entry reports the task it was given; a message without a task (the lead's
    // notes request, a takeover) is just answered.
    format!(
        "persona = \"{persona}\"\nlog = \"{log}\"\nevents = \"{events}\"\nstart_delay_ms = 400\n{quota}{extra}\n\
[[task]]\nrepeat = true\nwork_ms = {work_ms}\nreply = \"Done; reported with baton task done.\"\n\
run = [\"[ -z \\\"$BATON_FAKE_TASK\\\" ] || echo \\\"$BATON_FAKE_TASK by {persona}\\\" >> work.log\", \"[ -z \\\"$BATON_FAKE_TASK\\\" ] || baton task done \\\"$BATON_FAKE_TASK\\\" --note \\\"{persona} did it\\\"\"]\n",
        quota = if persona == "claude" {
            // The lead's footer climbs 8 points a task from 70 %: past warn (80 %), to the
            // handoff's preparation (85 %); its notes take it to 95 %, and amp takes over.
            format!(
                "quota_percent = 70\nquota_step = 8\nquota_reset = \"{}\"\n\
[[task]]\nmatch = \"lead-notes.md\"\nwork_ms = 800\nquota_to = 95\nreply = \"Notes written.\"\n\
run = [\"printf 'Decided: hello.sh stays POSIX sh; greetings in English and French.\\\\n' > .baton/lead-notes.md\"]\n",
                reset_in_two_hours()
            )
        } else {
            "quota_percent = 35\nquota_step = 3\n".to_owned()
        },
        log = dir.join(format!(".baton/{persona}.prompts.log")).display(),
        events = dir.join(format!(".baton/{persona}.events.log")).display(),
    )
}

/// Two hours from now, as Claude prints a reset time (`3:45pm`).
fn reset_in_two_hours() -> String {
    jiff::Zoned::now()
        .checked_add(jiff::SignedDuration::from_hours(2))
        .map(|t| t.strftime("%-I:%M%P").to_string())
        .unwrap_or_default()
}

/// Creates the demo directory (and its `.baton/`); returns the running baton, which the
/// fake agents' command lines name.
fn start_project(dir: &Path) -> CliResult<PathBuf> {
    std::fs::create_dir_all(dir.join(".baton"))
        .map_err(|e| io_error(format!("cannot create {}", dir.display()), e))?;
    write_file(
        dir,
        DEMO_MARK,
        "This directory was written by `baton demo`: a demo may write it again.\n",
    )?;
    std::env::current_exe().map_err(|e| io_error("cannot find the baton binary", e))
}

/// The file that marks a directory as a demo project (a later demo may overwrite it).
const DEMO_MARK: &str = ".baton/demo-project";

/// Refuses a `--dir` that holds anything but an earlier demo: the demo writes baton.toml,
/// tasks.md and more there, over whatever has those names.
fn check_demo_dir(dir: &Path) -> CliResult<()> {
    let Ok(mut entries) = std::fs::read_dir(dir) else {
        return Ok(()); // Missing: the demo creates it (any other problem shows when it does).
    };
    if entries.next().is_none() || dir.join(DEMO_MARK).is_file() {
        return Ok(());
    }
    Err(CliError::user(format!(
        "{} is not empty and not a demo project: the demo would write baton.toml, tasks.md and its scripts over what is there",
        dir.display()
    ))
    .hint("give --dir a new or empty directory, or leave --dir out (a new one under the temp dir)"))
}

/// Writes one file of the demo project.
fn write_file(dir: &Path, name: &str, text: &str) -> CliResult<()> {
    let p = dir.join(name);
    std::fs::write(&p, text).map_err(|e| io_error(format!("cannot write {}", p.display()), e))
}

/// Writes the demo project into `dir`.
pub fn write_project(dir: &Path, socket: &str) -> CliResult<()> {
    let exe = start_project(dir)?;
    let w = |name: &str, text: &str| write_file(dir, name, text);
    w(
        "README.md",
        "# greet\n\nA tiny shell tool built by baton's demo team.\n",
    )?;
    w("check.sh", CHECK)?;
    w("tasks.md", TASKS)?;
    let fix = "[[task]]\nmatch = \"Fix:\"\nwork_ms = 1500\nreply = \"Fixed.\"\nrun = [\"touch fixed.txt\", \"baton task done \\\"$BATON_FAKE_TASK\\\" --note \\\"fixed the newline\\\"\"]\n";
    let scripts = [
        ("claude", script("claude", 2500, "", dir)),
        (
            "codex",
            script(
                "codex",
                2000,
                &format!("swallow_first_enter = true\n{fix}"),
                dir,
            ),
        ),
        (
            "amp",
            script(
                "amp",
                3000,
                "[[task]]\nmatch = \"--name\"\ncrash = 3\n",
                dir,
            ),
        ),
        (
            "gemini",
            script(
                "gemini",
                2200,
                "[[task]]\nmatch = \"Write the docs\"\nhang = true\n",
                dir,
            ),
        ),
    ];
    for (name, text) in &scripts {
        w(&format!("{name}.fake.toml"), text)?;
    }
    let agent = |name: &str, skills: &str| {
        format!(
            "[[agent]]\nname = \"{name}\"\ncli = \"{name}\"\nskills = [{skills}]\ncommand = \"{} fake-agent --script {}\"\n\n",
            exe.display(),
            dir.join(format!("{name}.fake.toml")).display()
        )
    };
    let config = format!(
        "# baton demo: four fake agents, no account, no network.\n[session]\nname = \"demo\"\nsocket = \"{socket}\"\n\n{}{}{}{}\
[lead]\nchain = [\"claude\", \"amp\"]\n\n[verify]\ncommands = [\"sh check.sh\"]\nmax_fix_cycles = 2\n\n[run]\nstuck_after_secs = 4\n",
        agent("claude", "\"architecture\", \"review\""),
        agent("codex", "\"rust\", \"fix\""),
        agent("amp", "\"refactoring\", \"rust\""),
        agent("gemini", "\"docs\""),
    );
    w("baton.toml", &config)
}

const WT_TASKS: &str = "# Demo plan (worktree isolation)\n\n\
- [ ] Add the English greeting to greetings.txt !high {en}\n\
- [ ] Add the French greeting to greetings.txt !high {fr}\n\
- [ ] Write greet.sh, which prints greetings.txt after:en\n\
- [ ] Write the docs for greet.sh after:fr #docs\n";

const WT_CHECK: &str = "#!/bin/sh\n# The demo's verify command, run on every merge before it reaches main.\n\
if grep -n '^<<<<<<<\\|^>>>>>>>' greetings.txt; then echo \"check: FAILED: conflict markers in greetings.txt\"; exit 1; fi\n\
if [ -f greet.sh ] && ! sh -n greet.sh; then echo \"check: FAILED: greet.sh does not parse\"; exit 1; fi\n\
echo \"check: ok\"\n";

/// The fake agents' script of the worktree demo: the same for all, so whoever gets a task
/// does it the same way. The English and French greetings change one line each: the second
/// merge conflicts; the first greet.sh has a syntax error: its merge fails verify.
fn wt_script(persona: &str, dir: &Path) -> String {
    let done = "run = [\"baton task done \\\"$BATON_FAKE_TASK\\\" --note \\\"done\\\"\"]";
    format!(
        "persona = \"{persona}\"\nlog = \"{log}\"\nevents = \"{events}\"\nstart_delay_ms = 400\nquota_percent = 30\nquota_step = 2\n\
[[task]]\nmatch = \"Resolve the merge conflict\"\nrepeat = true\nwork_ms = 1500\nreply = \"Kept both greetings.\"\n\
write = [{{ path = \"greetings.txt\", content = \"Greetings:\\nHello\\nBonjour\\n\" }}]\n{done}\n\
[[task]]\nmatch = \"Fix: \"\nrepeat = true\nwork_ms = 1500\nreply = \"Fixed the syntax error.\"\n\
write = [{{ path = \"greet.sh\", content = \"#!/bin/sh\\ncat \\\"$(dirname \\\"$0\\\")/greetings.txt\\\"\\n\" }}]\n{done}\n\
[[task]]\nmatch = \"English greeting\"\nrepeat = true\nwork_ms = 1500\n\
write = [{{ path = \"greetings.txt\", content = \"Greetings:\\nHello\\n\" }}]\n{done}\n\
[[task]]\nmatch = \"French greeting\"\nrepeat = true\nwork_ms = 2500\n\
write = [{{ path = \"greetings.txt\", content = \"Greetings:\\nBonjour\\n\" }}]\n{done}\n\
[[task]]\nmatch = \"Write greet.sh\"\nrepeat = true\nwork_ms = 1500\n\
write = [{{ path = \"greet.sh\", content = \"#!/bin/sh\\ncat greetings.txt |\\n\" }}]\n{done}\n\
[[task]]\nmatch = \"docs\"\nrepeat = true\nwork_ms = 1500\n\
write = [{{ path = \"DOCS.md\", content = \"# greet.sh\\n\\nPrints the greetings.\\n\" }}]\n{done}\n\
[[task]]\nrepeat = true\nwork_ms = 1000\nrun = [\"[ -z \\\"$BATON_FAKE_TASK\\\" ] || baton task done \\\"$BATON_FAKE_TASK\\\"\"]\n",
        log = dir.join(format!(".baton/{persona}.prompts.log")).display(),
        events = dir.join(format!(".baton/{persona}.events.log")).display(),
    )
}

/// Runs git in the demo project.
fn demo_git(dir: &Path, args: &[&str]) -> CliResult<()> {
    crate::git::run(dir, args)?;
    Ok(())
}

/// Writes the worktree demo project into `dir`: a git repository with one commit on `main`.
pub fn write_worktree_project(dir: &Path, socket: &str) -> CliResult<()> {
    let exe = start_project(dir)?;
    let w = |name: &str, text: &str| write_file(dir, name, text);
    w(
        "README.md",
        "# greet\n\nA tiny tool built by baton's demo team, each agent in its own worktree.\n",
    )?;
    w("greetings.txt", "Greetings:\n")?;
    w("check.sh", WT_CHECK)?;
    w(
        ".gitignore",
        "/baton.toml\n/tasks.md\n/*.fake.toml\n/REPORT.md\n/ORCHESTRATION_LOG.md\n",
    )?;
    demo_git(dir, &["init", "-q", "-b", "main"])?;
    demo_git(dir, &["config", "user.name", "baton demo"])?;
    demo_git(dir, &["config", "user.email", "demo@baton.invalid"])?;
    demo_git(
        dir,
        &[
            "add",
            "README.md",
            "greetings.txt",
            "check.sh",
            ".gitignore",
        ],
    )?;
    demo_git(dir, &["commit", "-q", "-m", "greet: the empty project"])?;
    w("tasks.md", WT_TASKS)?;
    let mut agents = String::new();
    for name in ["claude", "codex", "gemini"] {
        w(&format!("{name}.fake.toml"), &wt_script(name, dir))?;
        agents.push_str(&format!(
            "[[agent]]\nname = \"{name}\"\ncli = \"{name}\"\ncommand = \"{} fake-agent --script {}\"\n\n",
            exe.display(),
            dir.join(format!("{name}.fake.toml")).display()
        ));
    }
    let config = format!(
        "# baton demo: three fake agents, each in its own git worktree.\n[session]\nname = \"demo\"\nsocket = \"{socket}\"\n\
isolation = \"worktree\"\nmemory_file = \".baton/BOARD.md\"\n\n{agents}\
[verify]\ncommands = [\"sh check.sh\"]\nmax_fix_cycles = 2\n\n[run]\nstuck_after_secs = 6\ntest_tasks = false\n"
    );
    w("baton.toml", &config)
}

/// Stops the demo's agents and its private tmux server. At the demo's end this is `baton down`
/// (it says what it stopped); otherwise it says nothing on stdout (the reader may be gone).
fn stop_demo(dir: &Path, why: crate::interrupt::Why) {
    use crate::interrupt::Why;
    if why == Why::Done && !std::thread::panicking() {
        let _ = crate::commands::down::cmd_down(
            Some(dir),
            &crate::commands::down::DownArgs { prune: false },
        );
        return;
    }
    // The demo's daemon runs in this process (`baton run`), and its socket is its own: kill
    // the whole server.
    if let Ok(ctx) = crate::context::Context::at(dir) {
        let _ = ctx.project.tmux.kill_server();
    }
    if why == Why::Interrupted {
        eprintln!(
            "\nbaton demo: interrupted; stopped its agents and its tmux server (the project stays in {})",
            dir.display()
        );
    }
}

/// Builds the demo and runs it.
pub fn cmd_demo(args: &DemoArgs) -> CliResult<ExitCode> {
    crate::commands::doctor::ensure_tmux()?;
    let dir = match &args.dir {
        Some(d) => d.clone(),
        None => std::env::temp_dir().join(format!("baton-demo-{}", std::process::id())),
    };
    check_demo_dir(&dir)?;
    let socket = format!("baton-demo-{}", std::process::id());
    // Unless --keep: the demo's tmux server (its agents with it) goes whatever ends the demo —
    // its end, an error, a panic, Ctrl-C, or stdout's reader going away (`baton demo | head`).
    let teardown = (!args.keep).then(|| {
        let dir = dir.clone();
        crate::interrupt::teardown(move |why| stop_demo(&dir, why))
    });
    if args.worktree {
        write_worktree_project(&dir, &socket)?;
    } else {
        write_project(&dir, &socket)?;
    }
    println!("demo project: {}", dir.display());
    println!(
        "watch it live: baton -C {} attach   (Ctrl-b d to detach)",
        dir.display()
    );
    let result = crate::commands::run::run_in(
        &dir,
        &RunArgs {
            file: Some(dir.join("tasks.md")),
            goal: None,
            quiet: args.quiet,
            ignore_usage: false,
            json: false,
        },
    );
    drop(teardown);
    if result.is_ok() {
        let report = std::fs::read_to_string(dir.join(crate::report::REPORT)).unwrap_or_default();
        println!("\n{report}");
        if args.worktree {
            println!(
                "main, as the merge queue built it (it moved main only to commits whose verify \
                 passed; the report's \"Integration branch\" section says which commits those are):\n"
            );
            print!(
                "{}",
                crate::git::query(&dir, &["log", "--oneline", "main"]).unwrap_or_default()
            );
            println!("\ngreetings.txt on main:");
            print!(
                "{}",
                crate::git::query(&dir, &["show", "main:greetings.txt"]).unwrap_or_default()
            );
        }
    }
    result
}
