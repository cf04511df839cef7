//! `baton hook …`: the commands agent CLIs run on their own events, so baton hears of a
//! finished turn or a quota reading without reading the screen.
//!
//! - `baton hook stop --agent A`: Claude Code's Stop hook (JSON on stdin); also records the
//!   session's tokens, summed from the transcript it names;
//! - `baton hook statusline --agent A`: Claude Code's statusLine command (JSON on stdin; what
//!   it prints is shown under the prompt box): quota windows and the session's cost;
//! - `baton hook notify --agent A '<json>'`: Codex's `notify` program (JSON as argument).
//!
//! A hook never fails the CLI that runs it: problems are printed on stderr and the exit code
//! is 0 (a Stop hook exiting 2 would keep Claude working). Payload text (the assistant's
//! message, the prompts) is never journaled: it may hold anything, secrets included.

use std::io::Read;
use std::path::Path;
use std::process::ExitCode;

use clap::Args;
use clap::Subcommand;
use serde_json::Value;

use baton_core::quota::statusline;
use baton_core::usage::format_cost;
use baton_core::usage::sources;
use baton_core::vocab::JournalAction;

use crate::context::Context;
use crate::error::CliResult;
use crate::store::UsageSample;
use crate::store::now_ms;

/// Arguments of `baton hook`.
#[derive(Args, Debug)]
pub struct HookArgs {
    #[command(subcommand)]
    pub command: HookCommand,
}

/// The hooks.
#[derive(Subcommand, Debug)]
pub enum HookCommand {
    /// Claude Code Stop hook: journal the end of the agent's turn, record the session's tokens (JSON on stdin)
    Stop(AgentArg),
    /// Claude Code statusLine command: record quota readings and the session's cost, print a status line
    Statusline(AgentArg),
    /// Codex notify program: journal the end of the agent's turn (JSON argument)
    Notify(NotifyArgs),
}

/// The agent a hook reports for.
#[derive(Args, Debug)]
pub struct AgentArg {
    /// The agent's name in baton.toml
    #[arg(long)]
    pub agent: String,
}

/// Arguments of `baton hook notify`.
#[derive(Args, Debug)]
pub struct NotifyArgs {
    /// The agent's name in baton.toml
    #[arg(long)]
    pub agent: String,
    /// The JSON Codex passes
    pub payload: Option<String>,
}

/// Runs a hook; always exits 0 (see the module doc), after printing any problem on stderr.
pub fn cmd_hook(dir: Option<&Path>, args: &HookArgs) -> CliResult<ExitCode> {
    let result = match &args.command {
        HookCommand::Stop(a) => stop(dir, &a.agent),
        HookCommand::Statusline(a) => statusline(dir, &a.agent),
        HookCommand::Notify(a) => notify(dir, &a.agent, a.payload.as_deref()),
    };
    if let Err(e) = result {
        eprintln!("baton hook: {e}");
    }
    Ok(ExitCode::SUCCESS)
}

fn read_stdin_json() -> Value {
    let mut text = String::new();
    let _ = std::io::stdin().take(16 << 20).read_to_string(&mut text);
    serde_json::from_str(&text).unwrap_or(Value::Null)
}

fn str_field<'a>(v: &'a Value, key: &str) -> &'a str {
    v.get(key).and_then(Value::as_str).unwrap_or("")
}

fn journal_turn_end(dir: Option<&Path>, agent: &str, result: &str, detail: Value) -> CliResult<()> {
    let ctx = Context::load(dir)?.acting_as(agent);
    let mut store = ctx.store()?;
    ctx.journal(
        &mut store,
        JournalAction::TurnEnd,
        None,
        agent,
        result,
        &detail.to_string(),
    )?;
    Ok(())
}

fn stop(dir: Option<&Path>, agent: &str) -> CliResult<()> {
    let payload = read_stdin_json();
    let detail = serde_json::json!({
        "source": "claude-stop-hook",
        "session_id": str_field(&payload, "session_id"),
        "stop_hook_active": payload.get("stop_hook_active").and_then(Value::as_bool).unwrap_or(false),
    });
    journal_turn_end(dir, agent, "turn ended (stop hook)", detail)?;
    record_transcript_tokens(dir, agent, &payload)
}

/// The longest transcript read for its tokens: a longer one is left alone (a partial sum
/// would be wrong).
const TRANSCRIPT_MAX: u64 = 256 << 20;

/// Records the session's tokens, summed from the transcript the Stop hook names (its
/// `transcript_path`): the statusLine's token fields are the context's size, not the
/// session's (`baton_core::usage::sources`).
fn record_transcript_tokens(dir: Option<&Path>, agent: &str, payload: &Value) -> CliResult<()> {
    let path = str_field(payload, "transcript_path");
    if path.is_empty() {
        return Ok(());
    }
    let ctx = Context::load(dir)?;
    if !crate::quota_watch::enabled(&ctx.project, "hook") {
        return Ok(());
    }
    let mut text = String::new();
    let read = std::fs::File::open(path)
        .and_then(|f| f.take(TRANSCRIPT_MAX + 1).read_to_string(&mut text));
    if read.is_err() || text.len() as u64 > TRANSCRIPT_MAX {
        return Ok(());
    }
    let Some(usage) = sources::transcript(&text) else {
        return Ok(());
    };
    let session = Some(str_field(payload, "session_id")).filter(|s| !s.is_empty());
    ctx.store()?.record_usage(&UsageSample {
        agent,
        at_ms: now_ms(),
        session,
        usage,
        source: SOURCE_TRANSCRIPT,
    })?;
    Ok(())
}

/// The store's name of the statusLine as a usage source.
const SOURCE_STATUSLINE: &str = "claude-statusline";
/// The store's name of Claude Code's transcript as a usage source.
const SOURCE_TRANSCRIPT: &str = "claude-transcript";

/// Returns whether a Codex notify payload is a turn baton should count: an
/// `agent-turn-complete` that is not Codex's own thread-title request.
pub fn is_agent_turn(payload: &Value) -> bool {
    if str_field(payload, "type") != "agent-turn-complete" {
        return false;
    }
    let first = payload
        .get("input-messages")
        .and_then(Value::as_array)
        .and_then(|m| m.first())
        .and_then(Value::as_str)
        .unwrap_or("");
    // The title request's only input starts with Codex's title instruction.
    !(first.starts_with("Generate a concise") && first.contains("title"))
}

fn notify(dir: Option<&Path>, agent: &str, payload: Option<&str>) -> CliResult<()> {
    let payload: Value = payload
        .and_then(|p| serde_json::from_str(p).ok())
        .unwrap_or(Value::Null);
    if !is_agent_turn(&payload) {
        return Ok(());
    }
    let detail = serde_json::json!({
        "source": "codex-notify",
        "thread_id": str_field(&payload, "thread-id"),
        "turn_id": str_field(&payload, "turn-id"),
    });
    journal_turn_end(dir, agent, "turn ended (notify)", detail)
}

fn statusline(dir: Option<&Path>, agent: &str) -> CliResult<()> {
    let payload = read_stdin_json();
    let windows = statusline::windows(&payload);
    let mut line = format!("baton · {agent}");
    for w in &windows {
        let label = if w.window == "weekly" { "7d" } else { "5h" };
        line.push_str(&format!(" · {label} {:.0}%", w.used_percent));
    }
    let cost = sources::statusline(&payload);
    if let Some((usage, _)) = &cost {
        line.push_str(&format!(" · {}", format_cost(usage.cost_usd)));
    }
    // Print first: the status line must show even if the store is busy.
    println!("{line}");
    if windows.is_empty() && cost.is_none() {
        return Ok(());
    }
    let ctx = Context::load(dir)?;
    if !crate::quota_watch::enabled(&ctx.project, "hook") {
        return Ok(());
    }
    let mut store = ctx.store()?;
    for w in windows {
        store.record_quota(&crate::store::QuotaSample {
            agent,
            window: w.window,
            used_percent: w.used_percent,
            resets_at_ms: w.resets_at_ms,
            source: SOURCE_STATUSLINE,
        })?;
    }
    if let Some((usage, session)) = cost {
        store.record_usage(&UsageSample {
            agent,
            at_ms: now_ms(),
            session: session.as_deref(),
            usage,
            source: SOURCE_STATUSLINE,
        })?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn title_turns_are_ignored() {
        let turn = json!({"type": "agent-turn-complete", "input-messages": ["fix it"]});
        assert!(is_agent_turn(&turn));
        let title = json!({"type": "agent-turn-complete", "input-messages": ["Generate a concise, single-line task title of at most 36 characters"]});
        assert!(!is_agent_turn(&title));
        assert!(!is_agent_turn(&json!({"type": "other"})));
    }
}
