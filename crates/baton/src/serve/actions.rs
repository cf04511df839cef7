//! `POST /api/action`: what the page asks, carried out as the actor `web` through the code
//! the CLI commands use ([`Context`]: the store change, then the logs, the memory file and
//! a poke of the daemon), so a change from the page is journaled like any other.

use baton_core::task::NewTask;
use baton_core::task::Status;
use baton_core::task::TaskId;
use serde::Deserialize;
use serde_json::json;

use super::Answer;
use super::Shared;
use crate::context::Context;
use crate::error::CliError;
use crate::error::CliResult;
use crate::error::ErrorKind;
use crate::store::StatusChange;

/// An action, as the page posts it.
#[derive(Debug, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Ask {
    /// `send`, `reassign`, `block`, `cancel`, `requeue`, `reopen`, `done` (an UNREPORTED
    /// task, confirmed), `add`, `pause`, `resume`, `handoff`.
    pub action: String,
    /// The task it is about.
    pub task: Option<String>,
    /// The agent it is about (`send`, `reassign`).
    pub agent: Option<String>,
    /// The message (`send`) or the new task's title (`add`).
    pub text: Option<String>,
    /// Why (`block`, `cancel`, `reopen`).
    pub reason: Option<String>,
    /// The agent to hand the lead to, or to give a reopened task to.
    pub to: Option<String>,
    /// `send` even to an agent that is not ready.
    #[serde(default)]
    pub force: bool,
}

/// How a refused message says it can be sent anyway.
const FORCE_HINT: &str = "send with force to send anyway";

/// Answers a POSTed body.
pub fn answer(shared: &Shared, body: &str) -> Answer {
    let ask: Ask = match serde_json::from_str(body) {
        Ok(a) => a,
        Err(e) => return Answer::error(400, format!("not an action: {e}")),
    };
    let done = shared.context().and_then(|ctx| act(&ctx, &ask));
    match done {
        Ok(message) => Answer::json(200, &json!({"ok": true, "message": message})),
        Err(e) => {
            let status = match e.kind {
                ErrorKind::Usage => 400,
                ErrorKind::User | ErrorKind::Delivery => 409,
                _ => 500,
            };
            // A message refused because the agent is busy may be sent anyway: the page asks.
            let forceable = ask.action == "send" && !ask.force && e.message.ends_with(FORCE_HINT);
            Answer::json(
                status,
                &json!({"ok": false, "error": e.message, "forceable": forceable}),
            )
        }
    }
}

fn need<'a>(v: Option<&'a String>, what: &str, action: &str) -> CliResult<&'a str> {
    v.map(|s| s.trim())
        .filter(|s| !s.is_empty())
        .ok_or_else(|| CliError::usage(format!("`{action}` needs `{what}`")))
}

/// Carries out one action as the context's actor; returns what happened, in a line.
pub fn act(ctx: &Context, ask: &Ask) -> CliResult<String> {
    let a = ask.action.as_str();
    let task = || -> CliResult<TaskId> {
        need(ask.task.as_ref(), "task", a)?
            .parse::<TaskId>()
            .map_err(|e| CliError::usage(e.to_string()))
    };
    let status = |id: TaskId, to: Status, c: StatusChange| -> CliResult<String> {
        let (t, changed) = ctx.set_status(&mut ctx.store()?, id, to, c)?;
        Ok(if changed {
            format!("{} is {}", t.id, t.status)
        } else {
            format!("{} is already {}", t.id, t.status)
        })
    };
    match a {
        "block" => {
            let reason = need(ask.reason.as_ref(), "reason", a)?.to_owned();
            let c = StatusChange {
                reason: Some(reason),
                ..Default::default()
            };
            status(task()?, Status::Blocked, c)
        }
        "cancel" => {
            let c = StatusChange {
                note: ask.reason.clone().filter(|r| !r.trim().is_empty()),
                ..Default::default()
            };
            status(task()?, Status::Cancelled, c)
        }
        "requeue" => status(task()?, Status::Pending, StatusChange::default()),
        // A person confirms what an agent did but never reported; nothing else is marked done
        // from the page (an agent reports its own work).
        "done" => {
            let id = task()?;
            let now = ctx.store()?.task(id)?.status;
            if now != Status::Unreported {
                return Err(CliError::user(format!(
                    "{id} is {now}: only a task that ended unreported is confirmed done here"
                )));
            }
            let c = StatusChange {
                note: Some(
                    ask.reason
                        .clone()
                        .filter(|r| !r.trim().is_empty())
                        .unwrap_or_else(|| "confirmed done on the web page".to_owned()),
                ),
                ..Default::default()
            };
            status(id, Status::Completed, c)
        }
        "reopen" | "reassign" => {
            let id = task()?;
            let mut store = ctx.store()?;
            let (t, journal) = if a == "reopen" {
                let reason = need(ask.reason.as_ref(), "reason", a)?;
                if let Some(to) = &ask.to {
                    ctx.project.check_agent(to)?;
                }
                store.reopen(id, reason, ask.to.as_deref(), &ctx.actor)?
            } else {
                let agent = need(ask.agent.as_ref().or(ask.to.as_ref()), "agent", a)?;
                ctx.project.check_agent(agent)?;
                store.reassign(id, agent, &ctx.actor)?
            };
            ctx.after_change(&mut store, &journal);
            let waits = t
                .assignee
                .as_deref()
                .and_then(|w| ctx.project.not_running(w))
                .map(|why| format!("; {why}"))
                .unwrap_or_default();
            Ok(format!(
                "{} is {}{}{waits}",
                t.id,
                t.status,
                t.assignee.map(|w| format!(", for {w}")).unwrap_or_default()
            ))
        }
        "add" => {
            let title = need(ask.text.as_ref(), "text", a)?;
            let mut store = ctx.store()?;
            let new = NewTask {
                title: title.to_owned(),
                ..Default::default()
            };
            let (tasks, journal) = store.add_tasks(&[new], &ctx.actor)?;
            ctx.after_change(&mut store, &journal);
            Ok(tasks
                .first()
                .map_or_else(|| "added".to_owned(), |t| format!("{} added", t.id)))
        }
        "pause" | "resume" => {
            let pause = a == "pause";
            let mut store = ctx.store()?;
            if store.paused()? == pause {
                return Ok(format!(
                    "dispatch is already {}",
                    if pause { "paused" } else { "running" }
                ));
            }
            let entry = store.set_paused(pause, &ctx.actor)?;
            ctx.after_change(&mut store, std::slice::from_ref(&entry));
            Ok(if pause {
                "dispatch paused"
            } else {
                "dispatch resumed"
            }
            .to_owned())
        }
        "handoff" => {
            let to = ask.to.as_deref().filter(|t| !t.trim().is_empty());
            let view = crate::lead_request::request_handoff(ctx, to)?;
            Ok(format!(
                "handoff to {} asked for{}",
                to.unwrap_or("the next of the chain"),
                if view.daemon_running {
                    ""
                } else {
                    ": it happens once the daemon runs"
                }
            ))
        }
        "send" => {
            let agent = need(ask.agent.as_ref(), "agent", a)?;
            let text = need(ask.text.as_ref(), "text", a)?;
            ctx.project.check_agent(agent)?;
            crate::delivery::deliver(
                &ctx.project.root,
                &ctx.actor,
                agent,
                text,
                ask.force,
                FORCE_HINT,
            )
        }
        other => Err(CliError::usage(format!("no action `{other}`"))),
    }
}
