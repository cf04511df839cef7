//! `baton detect`: the detector over a capture, so anyone can check a screen.

use std::io::Read;
use std::path::Path;
use std::path::PathBuf;
use std::process::ExitCode;

use baton_core::AgentState;
use baton_core::Profile;
use baton_core::detect;
use baton_core::detector::Region;
use baton_core::detector::fixture_name;
use baton_core::profile::builtin_names;
use baton_core::profile::builtin_spec;
use clap::Args;

use crate::commands::ok;
use crate::commands::print_json;
use crate::context::Context;
use crate::error::CliError;
use crate::error::CliResult;
use crate::error::io_error;
use crate::project::find_root;
use crate::project::start_dir;

/// Arguments of `baton detect`.
#[derive(Args, Debug)]
pub struct DetectArgs {
    /// An agent of baton.toml, or a profile name (claude, codex, amp, gemini, opencode, generic)
    #[arg(
        long,
        short = 'a',
        value_name = "AGENT",
        required_unless_present = "report"
    )]
    pub agent: Option<String>,
    /// Print the state with its evidence, input box and quota lines as JSON
    #[arg(long)]
    pub json: bool,
    /// Run the detector over saved captures `<cli>-<version>/<state>-<scenario>.txt` under DIR
    /// (built-in profile from the folder, true state from the file name) and print accuracy
    /// per CLI, version and state, and every miss; exits 1 below 98 % overall (DIR defaults
    /// to tests/fixtures/real)
    #[arg(
        long,
        value_name = "DIR",
        num_args = 0..=1,
        default_missing_value = "tests/fixtures/real",
        conflicts_with_all = ["agent", "json", "file"]
    )]
    pub report: Option<PathBuf>,
    /// Read the capture from this file instead of stdin
    pub file: Option<PathBuf>,
}

/// Resolves `name` as an agent of the project when there is one, else as a profile.
fn profile_for(dir: Option<&Path>, name: &str) -> CliResult<Profile> {
    let start = start_dir(dir)?;
    if find_root(&start).is_some() {
        let project = Context::at(&start)?.project;
        if let Some(a) = project.config.agent(name) {
            return Ok(a.profile.clone());
        }
        if let Some(p) = project.config.profiles.get(name) {
            return Ok(p.clone());
        }
    }
    let spec = builtin_spec(name).ok_or_else(|| {
        CliError::usage(format!(
            "`{name}` is neither an agent of baton.toml nor a profile"
        ))
        .hint(format!(
            "profiles: {}",
            builtin_names().collect::<Vec<_>>().join(", ")
        ))
    })?;
    spec.resolve(name)
        .map_err(|e| CliError::internal(e.to_string()))
}

/// Prints the detected state of a capture.
pub fn cmd_detect(dir: Option<&Path>, args: &DetectArgs) -> CliResult<ExitCode> {
    if let Some(root) = &args.report {
        return report(root);
    }
    let Some(agent) = &args.agent else {
        return Err(CliError::usage("--agent is needed to read a capture"));
    };
    let profile = profile_for(dir, agent)?;
    let mut bytes = Vec::new();
    match &args.file {
        Some(f) => {
            bytes = std::fs::read(f)
                .map_err(|e| io_error(format!("cannot read {}", f.display()), e))?;
        }
        None => {
            std::io::stdin()
                .read_to_end(&mut bytes)
                .map_err(|e| io_error("cannot read stdin", e))?;
        }
    }
    let screen = String::from_utf8_lossy(&bytes);
    let d = detect(&profile, &screen);
    if args.json {
        return print_json(&d);
    }
    println!("{}", d.state);
    ok()
}

/// The overall accuracy below which `--report` fails, in percent.
pub const REPORT_THRESHOLD: f64 = 98.0;

/// One capture of a report: where it is, what it should read, what it read and why.
struct Judged {
    file: String,
    cli: String,
    version: String,
    want: AgentState,
    got: AgentState,
    why: String,
}

/// `baton detect --report DIR`: every `*/*.txt` under DIR through its CLI's built-in profile.
fn report(root: &Path) -> CliResult<ExitCode> {
    let mut folders: Vec<PathBuf> = std::fs::read_dir(root)
        .map_err(|e| io_error(format!("cannot read {}", root.display()), e))?
        .flatten()
        .map(|e| e.path())
        .filter(|p| p.is_dir())
        .collect();
    folders.sort();
    let mut judged = Vec::new();
    let mut bad = Vec::new();
    for folder in &folders {
        let folder_name = folder.file_name().unwrap_or_default().to_string_lossy();
        let mut files: Vec<PathBuf> = std::fs::read_dir(folder)
            .map_err(|e| io_error(format!("cannot read {}", folder.display()), e))?
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "txt"))
            .collect();
        files.sort();
        for file in files {
            let shown = format!(
                "{folder_name}/{}",
                file.file_name().unwrap_or_default().to_string_lossy()
            );
            let stem = file.file_stem().unwrap_or_default().to_string_lossy();
            let (cli, version, want) = match fixture_name(&folder_name, &stem) {
                Ok(v) => v,
                Err(e) => {
                    bad.push(format!("{shown}: {e}"));
                    continue;
                }
            };
            let Some(spec) = builtin_spec(&cli) else {
                bad.push(format!("{shown}: no built-in profile `{cli}`"));
                continue;
            };
            let profile = spec
                .resolve(&cli)
                .map_err(|e| CliError::internal(e.to_string()))?;
            let bytes = std::fs::read(&file)
                .map_err(|e| io_error(format!("cannot read {}", file.display()), e))?;
            let d = detect(&profile, &String::from_utf8_lossy(&bytes));
            let why = match d.deciding() {
                Some(e) => format!(
                    "line {} ({}) `{}` [{}]",
                    e.line,
                    match e.region {
                        Region::Live => "live",
                        Region::Transcript => "transcript",
                    },
                    e.text.trim(),
                    e.pattern
                ),
                None => "no conclusive line".to_owned(),
            };
            judged.push(Judged {
                file: shown,
                cli,
                version,
                want,
                got: d.state,
                why,
            });
        }
    }
    if judged.is_empty() {
        return Err(CliError::usage(format!(
            "no captures `<cli>-<version>/<state>-<scenario>.txt` under {}",
            root.display()
        )));
    }
    let table = |title: &str, key: &dyn Fn(&Judged) -> String| {
        let mut rows: std::collections::BTreeMap<String, (usize, usize)> = Default::default();
        for j in &judged {
            let r = rows.entry(key(j)).or_default();
            r.1 += 1;
            if j.got == j.want {
                r.0 += 1;
            }
        }
        println!("{title}:");
        for (k, (hit, all)) in rows {
            println!(
                "  {k:<24} {hit:>4}/{all:<4} {:>6.1} %",
                hit as f64 * 100.0 / all as f64
            );
        }
    };
    println!(
        "detector report: {} captures under {}",
        judged.len(),
        root.display()
    );
    table("per CLI", &|j| j.cli.clone());
    table("per version", &|j| format!("{}-{}", j.cli, j.version));
    table("per state", &|j| j.want.as_str().to_owned());
    let hits = judged.iter().filter(|j| j.got == j.want).count();
    let pct = hits as f64 * 100.0 / judged.len() as f64;
    println!(
        "overall: {hits}/{} {pct:.1} % (threshold {REPORT_THRESHOLD} %)",
        judged.len()
    );
    let misses: Vec<&Judged> = judged.iter().filter(|j| j.got != j.want).collect();
    println!("misses: {}", misses.len());
    for j in misses {
        println!(
            "  {}: expected {}, got {} — {}",
            j.file, j.want, j.got, j.why
        );
    }
    if !bad.is_empty() {
        println!("not judged: {}", bad.len());
        for b in &bad {
            println!("  {b}");
        }
    }
    Ok(if pct < REPORT_THRESHOLD || !bad.is_empty() {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}
