#![forbid(unsafe_code)]
//! A fake coding-agent CLI for tests and demos.
//!
//! It draws screens that look like Claude Code, Codex, Amp or Gemini CLI, follows a TOML
//! script (how long each task works, what it replies, which files it writes, whether it
//! crashes or hangs…), and records every submitted prompt byte for byte in a prompt log
//! ([`read_prompt_log`]) and every event in an event log ([`read_events`]).

mod app;
mod cli;
mod input;
mod log;
mod persona;
mod screen;
mod script;
mod terminal;

use std::ffi::OsString;
use std::path::PathBuf;
use std::time::Instant;

pub use crate::cli::USAGE;
pub use crate::log::Event;
pub use crate::log::parse_events;
pub use crate::log::parse_prompt_log;
pub use crate::log::prompt_record;
pub use crate::log::read_events;
pub use crate::log::read_prompt_log;
pub use crate::script::FileWrite;
pub use crate::script::Persona;
pub use crate::script::Script;
pub use crate::script::ScriptError;
pub use crate::script::Task;

/// The environment variable naming the script when `--script` is absent.
pub const SCRIPT_ENV: &str = "BATON_FAKE_SCRIPT";

/// Exit code for a bad command line or script.
const USAGE_ERROR: i32 = 2;

/// Runs the fake agent with `args` (without the program name) and returns its exit code.
pub fn run(args: Vec<OsString>) -> i32 {
    let opts = match cli::parse(args) {
        Ok(opts) => opts,
        Err(msg) => {
            eprintln!("baton-fake-agent: error: {msg}\n\n{USAGE}");
            return USAGE_ERROR;
        }
    };
    if opts.help {
        print!("{USAGE}");
        return 0;
    }
    let script_path = opts.script.clone().or_else(|| {
        std::env::var_os(SCRIPT_ENV)
            .filter(|v| !v.is_empty())
            .map(PathBuf::from)
    });
    let mut script = match &script_path {
        Some(path) => match Script::load(path) {
            Ok(script) => script,
            Err(e) => {
                eprintln!("baton-fake-agent: error: {e}");
                return USAGE_ERROR;
            }
        },
        None => Script::default(),
    };
    if let Some(persona) = opts.persona {
        script.persona = persona;
    }
    if opts.log.is_some() {
        script.log = opts.log;
    }
    if opts.events.is_some() {
        script.events = opts.events;
    }
    if opts.quota.is_some() {
        script.quota_percent = opts.quota;
    }
    let prompts = match script.log.as_deref().map(log::PromptLog::open).transpose() {
        Ok(prompts) => prompts,
        Err(e) => {
            eprintln!("baton-fake-agent: error: cannot open prompt log {e}");
            return USAGE_ERROR;
        }
    };
    let events = match script.events.as_deref().map(log::EventLog::open) {
        None => log::EventLog::disabled(),
        Some(Ok(events)) => events,
        Some(Err(e)) => {
            eprintln!("baton-fake-agent: error: cannot open event log {e}");
            return USAGE_ERROR;
        }
    };
    let cwd = std::env::current_dir().unwrap_or_else(|_| PathBuf::from("."));
    let mut app = app::App::new(script, prompts, events, cwd, Instant::now());
    let code = terminal::run(&mut app);
    if app.crashed() {
        eprintln!("fake agent crashed");
    }
    code
}
