//! `baton detect`: the detector over a capture, so anyone can check a screen.

use std::io::Read;
use std::path::Path;
use std::path::PathBuf;
use std::process::ExitCode;

use baton_core::Profile;
use baton_core::detect;
use baton_core::profile::builtin_names;
use baton_core::profile::builtin_spec;
use clap::Args;

use crate::commands::ok;
use crate::commands::print_json;
use crate::error::CliError;
use crate::error::CliResult;
use crate::error::io_error;
use crate::project::Project;
use crate::project::find_root;
use crate::project::start_dir;

/// Arguments of `baton detect`.
#[derive(Args, Debug)]
pub struct DetectArgs {
    /// An agent of baton.toml, or a profile name (claude, codex, amp, gemini, opencode, generic)
    #[arg(long, short = 'a', value_name = "AGENT")]
    pub agent: String,
    /// Print the state with its evidence, input box and quota lines as JSON
    #[arg(long)]
    pub json: bool,
    /// Read the capture from this file instead of stdin
    pub file: Option<PathBuf>,
}

/// Resolves `name` as an agent of the project when there is one, else as a profile.
fn profile_for(dir: Option<&Path>, name: &str) -> CliResult<Profile> {
    let start = start_dir(dir)?;
    if find_root(&start).is_some() {
        let project = Project::load(&start)?;
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
    let profile = profile_for(dir, &args.agent)?;
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
