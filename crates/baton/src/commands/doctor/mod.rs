//! `baton doctor`: check that everything baton needs is in place, and say how to fix what is not.
//! Each `[[host]]` is checked through ssh (`hosts.rs`).

mod hosts;

use std::collections::BTreeMap;
use std::path::Path;
use std::process::ExitCode;

use baton_core::AgentState;
use baton_core::config::AgentConfig;
use baton_core::config::FILE_NAME;
use baton_core::config::NotifyConfig;
use baton_core::coverage::Coverage;
use baton_core::coverage::compare_versions;
use baton_core::coverage::parse_version;
use baton_core::profile::builtin_names;
use baton_core::profile::builtin_spec;
use baton_core::vocab::JournalAction;
use clap::Args;
use serde::Serialize;

use crate::commands::init::which;
use crate::commands::print_json;
use crate::context::Context;
use crate::error::CliResult;
use crate::project::MIN_TMUX;
use crate::project::Project;
use crate::project::find_root;
use crate::project::start_dir;
use crate::project::tmux_for;
use crate::store::JournalEntry;
use crate::store::Store;

/// Arguments of `baton doctor`.
#[derive(Args, Debug)]
pub struct DoctorArgs {
    /// Print the checks as JSON
    #[arg(long)]
    pub json: bool,
}

#[derive(Serialize)]
struct Check {
    name: String,
    ok: bool,
    detail: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    hint: Option<String>,
    /// Passes, but is most likely not what was meant (a configuration warning).
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    warning: bool,
}

fn check(
    name: impl Into<String>,
    ok: bool,
    detail: impl Into<String>,
    hint: Option<String>,
) -> Check {
    Check {
        name: name.into(),
        ok,
        detail: detail.into(),
        hint: if ok { None } else { hint },
        warning: false,
    }
}

/// Worktree isolation needs a git repository whose integration branch has a commit.
fn worktree_check(project: &Project, store: Option<&Store>) -> Check {
    let hint = Some(
        "commit once in a git repository, set `[session] integration_branch`, or use `isolation = \"shared\"`"
            .to_owned(),
    );
    if crate::git::toplevel(&project.root).is_none() {
        return check(
            "worktrees",
            false,
            format!("{} is not in a git repository", project.root.display()),
            hint,
        );
    }
    let branch = crate::worktrees::integration_branch(project, store).map_err(|e| e.message);
    match branch {
        Err(m) => check("worktrees", false, m, hint),
        Ok(b) => match crate::git::rev_parse(&project.root, &format!("refs/heads/{b}")) {
            Ok(Some(h)) => check(
                "worktrees",
                true,
                format!(
                    "{} agent(s) in worktrees, merged into `{b}` (at {})",
                    crate::worktrees::isolated(project).len(),
                    &h[..h.len().min(10)]
                ),
                None,
            ),
            _ => check(
                "worktrees",
                false,
                format!("the integration branch `{b}` has no commit"),
                hint,
            ),
        },
    }
}

/// Agents whose CLI runs commands in a login shell (`login_shell` in the profile: Codex's
/// `bash -lc`) lose the baton directory `baton up` puts on their PATH, since the shell's
/// profile sets PATH anew: warn when such a shell does not find this very baton (prompts then
/// name it by its absolute path, which works, but an installed baton is simpler).
fn login_shell_check(project: &Project) -> Option<Check> {
    let agents: Vec<&str> = project
        .config
        .agents
        .iter()
        .filter(|a| a.profile.login_shell)
        .map(|a| a.name.as_str())
        .collect();
    if agents.is_empty() {
        return None;
    }
    let lookup = crate::baton_cmd::login_shell_lookup();
    let found = lookup.finds_this();
    let mut c = check(
        "login shell",
        true,
        if found {
            format!(
                "{}: {} runs this baton",
                agents.join(", "),
                lookup.describe()
            )
        } else {
            format!(
                "{}: {}, not this one; their prompts name it as {}",
                agents.join(", "),
                lookup.describe(),
                crate::baton_cmd::lookup().command()
            )
        },
        None,
    );
    if !found {
        c.warning = true;
        c.hint = Some(
            "install baton on the system PATH (`cargo install --path crates/baton`) for shorter prompts"
                .into(),
        );
    }
    Some(c)
}

/// What is verified of an agent's profile on real screens (`profiles/coverage.toml`), and
/// whether the installed CLI is newer than every verified version (a warning: its screens may
/// have changed).
fn states_check(agent: &AgentConfig, installed: Option<&str>) -> Check {
    let name = format!("states {}", agent.name);
    if builtin_spec(&agent.cli).is_none() {
        return warn(
            name,
            format!(
                "profile `{}` is your own: baton has verified none of its states",
                agent.cli
            ),
            "check it with `baton detect` on screens of your CLI",
        );
    }
    let coverage = Coverage::builtin();
    let verified = coverage.verified_states(&agent.cli);
    let doc_only: Vec<&str> = AgentState::WITH_PATTERNS
        .into_iter()
        .filter(|s| !agent.profile.patterns(*s).is_empty() && !verified.contains(s))
        .map(AgentState::as_str)
        .collect();
    let versions = coverage.versions(&agent.cli);
    let (Some((oldest, _)), Some(newest)) = (versions.first(), coverage.newest(&agent.cli)) else {
        return warn(
            name,
            format!(
                "{}: no state verified on the real CLI; every pattern is from documentation only",
                agent.cli
            ),
            "see docs/conformance.md",
        );
    };
    let mut detail = format!(
        "{}: verified on {} ({}): {}",
        agent.cli,
        if oldest == newest {
            newest.to_owned()
        } else {
            format!("{oldest} to {newest}")
        },
        match versions.len() {
            1 => "1 version".to_owned(),
            n => format!("{n} versions"),
        },
        verified
            .iter()
            .map(|s| s.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    );
    if !doc_only.is_empty() {
        detail.push_str(&format!(
            "; from documentation only: {}",
            doc_only.join(", ")
        ));
    }
    // Verified on one version is not verified on all: the states a real screen of some
    // version is misread in, with those versions (it said "verified" and no more).
    let mut missed: BTreeMap<&str, Vec<&str>> = BTreeMap::new();
    for (version, v) in versions {
        for s in &v.missed {
            missed.entry(s.as_str()).or_default().push(version.as_str());
        }
    }
    if !missed.is_empty() {
        let list: Vec<String> = missed
            .iter()
            .map(|(s, vs)| format!("{s} on {}", vs.join(", ")))
            .collect();
        detail.push_str(&format!(
            "; misread on real screens: {} (see profiles/coverage.toml)",
            list.join("; ")
        ));
    }
    let newer = installed.filter(|v| compare_versions(v, newest) == std::cmp::Ordering::Greater);
    if let Some(v) = installed {
        detail.push_str(&format!("; installed {v}"));
    }
    // The installed version itself has a misread state: a warning, not an ok.
    let misread_here: Vec<&str> = missed
        .iter()
        .filter(|(_, vs)| installed.is_some_and(|i| vs.contains(&i)))
        .map(|(s, _)| *s)
        .collect();
    if let (Some(v), false) = (installed, misread_here.is_empty()) {
        return warn(
            name,
            detail,
            format!(
                "baton misreads {} on {} {v}'s real screens: watch those states with `baton peek`",
                misread_here.join(", "),
                agent.cli
            ),
        );
    }
    match newer {
        Some(v) => warn(
            name,
            detail,
            format!(
                "{} {v} is newer than any verified version ({newest}): its screens may have \
                 changed; scripts/check-latest-clis runs the checks against it",
                agent.cli
            ),
        ),
        None => check(name, true, detail, None),
    }
}

/// `[notify] webhook`, shown as its scheme and host only (the rest of the URL is the key to
/// post); not contacted: doctor sends no test notice. Warns of plain http to another machine,
/// and of the last notice given up on since baton last started (from the store's journal).
fn webhook_check(notify: &NotifyConfig, store: Option<&Store>) -> Option<Check> {
    let url = notify.webhook.as_ref()?;
    let detail = format!(
        "{} ({} format; not contacted)",
        url.redacted(),
        notify.webhook_format.as_str()
    );
    let mut hints = Vec::new();
    if url.is_cleartext() {
        hints.push(
            "plain http to another machine: whoever sees the traffic can post to it; use https"
                .to_owned(),
        );
    }
    if let Some(failed) = store.and_then(last_webhook_failure) {
        hints.push(format!(
            "last notice given up on, at {}: {} (`baton log` has a `{}` line for each)",
            crate::orchlog::local_time(failed.at_ms),
            failed.result,
            JournalAction::WebhookFailed
        ));
    }
    Some(if hints.is_empty() {
        check("webhook", true, detail, None)
    } else {
        warn("webhook", detail, hints.join("; "))
    })
}

/// The last notice the webhook gave up on since the daemon last started, if any.
fn last_webhook_failure(store: &Store) -> Option<JournalEntry> {
    let started = store
        .journal_last(&[JournalAction::DaemonStart], 1)
        .ok()?
        .first()
        .map_or(0, |e| e.seq);
    store
        .journal_last(&[JournalAction::WebhookFailed], 1)
        .ok()?
        .into_iter()
        .next()
        .filter(|e| e.seq > started)
}

/// A check that passes with a warning and its hint.
fn warn(name: impl Into<String>, detail: impl Into<String>, hint: impl Into<String>) -> Check {
    Check {
        warning: true,
        hint: Some(hint.into()),
        ..check(name, true, detail, None)
    }
}

/// The version an agent's binary prints (`--version`), or None when it prints none within a
/// few seconds.
fn installed_version(binary: &Path) -> Option<String> {
    use std::io::Read as _;
    let mut child = std::process::Command::new(binary)
        .arg("--version")
        .stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::null())
        .spawn()
        .ok()?;
    crate::processes::wait_or_kill(&mut child, std::time::Duration::from_secs(10))
        .ok()
        .flatten()?;
    let mut out = String::new();
    child
        .stdout
        .take()?
        .take(4096)
        .read_to_string(&mut out)
        .ok()?;
    let numbers = parse_version(&out)?;
    Some(
        numbers
            .iter()
            .map(u64::to_string)
            .collect::<Vec<_>>()
            .join("."),
    )
}

/// Runs every check; exits 1 when one fails.
pub fn cmd_doctor(dir: Option<&Path>, args: &DoctorArgs) -> CliResult<ExitCode> {
    let start = start_dir(dir)?;
    let mut checks = Vec::new();

    let tmux = tmux_for("baton-doctor");
    checks.push(match tmux.version() {
        Ok(v) => check(
            "tmux",
            v.at_least(MIN_TMUX.0, MIN_TMUX.1),
            format!(
                "{} ({})",
                v.raw,
                which("tmux")
                    .map(|p| p.display().to_string())
                    .unwrap_or_default()
            ),
            Some(format!(
                "baton needs tmux {}.{} or newer",
                MIN_TMUX.0, MIN_TMUX.1
            )),
        ),
        Err(e) => check(
            "tmux",
            false,
            e.to_string(),
            Some("install tmux (Debian/Ubuntu: apt-get install tmux)".into()),
        ),
    });

    for name in builtin_names() {
        let r = builtin_spec(name).map(|s| s.resolve(name));
        checks.push(match r {
            Some(Ok(p)) => match p.compile_all() {
                Ok(()) => check(format!("profile {name}"), true, "built-in, valid", None),
                Err(e) => check(format!("profile {name}"), false, e.to_string(), None),
            },
            Some(Err(e)) => check(format!("profile {name}"), false, e.to_string(), None),
            None => check(format!("profile {name}"), false, "missing", None),
        });
    }

    match find_root(&start) {
        None => checks.push(check(
            "config",
            false,
            format!("no {FILE_NAME} in {} or above", start.display()),
            Some("run `baton init`".into()),
        )),
        Some(root) => match Context::at(&root).map(|c| c.project) {
            Err(e) => checks.push(check("config", false, e.message, None)),
            Ok(project) => {
                checks.push(check(
                    "config",
                    true,
                    format!(
                        "{} ({} agent(s), session `{}`, socket `{}`)",
                        root.join(FILE_NAME).display(),
                        project.config.agents.len(),
                        project.session,
                        project.socket_name()
                    ),
                    None,
                ));
                for w in &project.config.warnings {
                    checks.push(Check {
                        warning: true,
                        ..check("config", true, w.to_string(), None)
                    });
                }
                checks.push(match project.template() {
                    Ok(_) => check(
                        "template",
                        true,
                        format!("[run] template = \"{}\"", project.config.run.template),
                        None,
                    ),
                    Err(e) => check("template", false, e.message, e.hints.first().cloned()),
                });
                let dir = project.root.join(".baton");
                // The store, when there is one yet or one is recorded (doctor creates none):
                // opened once; a deleted or replaced store is reported.
                let db = dir.join(crate::store::STORE_FILE);
                let store = (db.exists() || dir.join(crate::store::STORE_ID_FILE).exists())
                    .then(|| Store::open_project(&dir));
                checks.extend(webhook_check(
                    &project.config.notify,
                    store.as_ref().and_then(|s| s.as_ref().ok()),
                ));
                for agent in &project.config.agents {
                    if agent.host.is_some() {
                        // Checked on its host, with the host's other checks.
                        checks.push(states_check(agent, None));
                        continue;
                    }
                    let program = agent.command.split_whitespace().next().unwrap_or_default();
                    let found = which(program).or_else(|| {
                        let p = project.root.join(&agent.workdir).join(program);
                        p.is_file().then_some(p)
                    });
                    // Only the CLI's own binary tells its version (not a wrapper or a stand-in).
                    let installed = found
                        .as_deref()
                        .filter(|p| {
                            p.file_name().is_some_and(|n| {
                                agent.profile.binaries.iter().any(|b| n == b.as_str())
                            })
                        })
                        .and_then(installed_version);
                    checks.push(check(
                        format!("agent {}", agent.name),
                        found.is_some(),
                        match &found {
                            Some(p) => format!("{} → {}", agent.command, p.display()),
                            None => format!("`{program}` not found on PATH"),
                        },
                        Some(format!(
                            "install the {} CLI, or set `command` for agent `{}` in baton.toml",
                            agent.cli, agent.name
                        )),
                    ));
                    checks.push(states_check(agent, installed.as_deref()));
                }
                if let Some(c) = login_shell_check(&project) {
                    checks.push(c);
                }
                checks.extend(hosts::host_checks(&project.config));
                if project.config.uses_worktrees() {
                    let store = store.as_ref().and_then(|s| s.as_ref().ok());
                    checks.push(worktree_check(&project, store));
                }
                let probe = dir.join(format!(".doctor-{}", std::process::id()));
                let writable = std::fs::create_dir_all(&dir)
                    .and_then(|()| std::fs::write(&probe, b"ok"))
                    .and_then(|()| std::fs::remove_file(&probe));
                checks.push(match writable {
                    Ok(()) => check(
                        "state dir",
                        true,
                        format!("{} is writable", dir.display()),
                        None,
                    ),
                    Err(e) => check(
                        "state dir",
                        false,
                        format!("{}: {e}", dir.display()),
                        Some("check the directory's permissions".into()),
                    ),
                });
                if let Some(opened) = store {
                    checks.push(match opened.and_then(|s| s.integrity_problems()) {
                        Ok(p) if p.is_empty() => {
                            check("store", true, format!("{} is sound", db.display()), None)
                        }
                        Ok(p) => check(
                            "store",
                            false,
                            p.join("; "),
                            Some("restore .baton/state.db from a backup".into()),
                        ),
                        Err(e) => check("store", false, e.to_string(), None),
                    });
                }
                let running = project.tmux.server_running()
                    && project.tmux.has_session(&project.session).unwrap_or(false);
                checks.push(check(
                    "session",
                    true,
                    if running {
                        "running".to_owned()
                    } else {
                        "not running (start it with `baton up`)".to_owned()
                    },
                    None,
                ));
            }
        },
    }

    let failed = checks.iter().filter(|c| !c.ok).count();
    if args.json {
        print_json(&checks)?;
    } else {
        for c in &checks {
            println!(
                "{} {:<16} {}",
                match (c.ok, c.warning) {
                    (true, false) => "ok  ",
                    (true, true) => "warn",
                    (false, _) => "FAIL",
                },
                c.name,
                c.detail
            );
            if let Some(h) = c.hint.as_ref().filter(|_| !c.ok || c.warning) {
                println!("     {:<16} hint: {h}", "");
            }
        }
        let warned = checks.iter().filter(|c| c.warning).count();
        if warned > 0 {
            println!(
                "{} check(s), {failed} failed, {warned} warning(s)",
                checks.len()
            );
        } else {
            println!("{} check(s), {failed} failed", checks.len());
        }
    }
    Ok(if failed == 0 {
        ExitCode::SUCCESS
    } else {
        ExitCode::from(1)
    })
}

/// Checks that tmux is installed and recent enough, with an install hint when it is not.
pub fn ensure_tmux() -> CliResult<()> {
    let v = tmux_for("baton-doctor").version().map_err(|e| {
        crate::error::CliError::user(format!("tmux is not usable: {e}"))
            .hint("install tmux 3.2 or newer (Debian/Ubuntu: apt-get install tmux)")
    })?;
    if !v.at_least(MIN_TMUX.0, MIN_TMUX.1) {
        return Err(crate::error::CliError::user(format!(
            "tmux {} is too old: baton needs {}.{} or newer",
            v.raw, MIN_TMUX.0, MIN_TMUX.1
        )));
    }
    Ok(())
}
