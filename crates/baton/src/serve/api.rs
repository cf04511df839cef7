//! The JSON the page reads. `/api/state` is the terminal dashboard's snapshot
//! ([`crate::tui::model::Loader`]) in JSON, with the field names of the `--json` outputs; the
//! rest read the store directly: quota history with the burn-rate projection of baton-core,
//! tasks done over time, an agent's screen, one task with its history.

use baton_core::quota::projection::burn_rate;
use baton_core::task::Status;
use baton_core::task::TaskId;
use baton_core::vocab::JournalAction;
use baton_tmux::CaptureRange;
use serde_json::Value;
use serde_json::json;

use super::Answer;
use super::Shared;
use super::Url;
use super::lock;
use crate::store::Store;
use crate::store::StoreError;
use crate::tui::model::Filter;
use crate::tui::model::PageRequest;
use crate::tui::model::Quota;

/// How many tasks `/api/state` lists at most (the queue's order: BLOCKED and running first).
const MAX_TASKS: usize = 2000;

/// How many journal entries `/api/state` carries.
const JOURNAL_TAIL: usize = 100;

/// How far back `/api/quota` reads (the weekly window's length).
const QUOTA_SPAN_MS: i64 = 7 * 24 * 3600 * 1000;

/// The quota windows the page draws.
const WINDOWS: [&str; 2] = ["session-5h", "weekly"];

fn store_error(e: &StoreError) -> Answer {
    Answer::error(500, format!("cannot read the store: {e}"))
}

/// A value in JSON, as the `--json` outputs write it.
fn to_json(v: &impl serde::Serialize) -> Value {
    serde_json::to_value(v).unwrap_or(Value::Null)
}

fn quota_json(window: &str, q: Option<Quota>) -> Option<Value> {
    q.map(|q| {
        json!({
            "window": window, "used_percent": q.percent, "band": q.band,
            "resets_at_ms": q.resets_at_ms, "reset": q.reset,
        })
    })
}

/// How many of the last handoffs `/api/state` lists.
const HANDOFFS_SHOWN: usize = 200;

/// The last handoffs carried out, oldest first: `{at_ms, from, to, reason}`. SQL picks them by
/// action; the whole journal is not read on every change.
fn handoffs(store: &Store) -> Result<Vec<Value>, StoreError> {
    Ok(store
        .journal_last(&[JournalAction::HandoffDone], HANDOFFS_SHOWN)?
        .into_iter()
        .rev()
        .map(|e| {
            // The daemon keeps the parts in the detail (JSON); an older store has only the
            // sentence: "{to} leads, takeover verified; {from} rests … ({reason})".
            if let Ok(d) = serde_json::from_str::<Value>(&e.detail)
                && d["from"].is_string()
            {
                return json!({"at_ms": e.at_ms, "from": d["from"], "to": e.target, "reason": d["reason"]});
            }
            let from = e
                .result
                .split_once("; ")
                .and_then(|(_, rest)| rest.split_whitespace().next())
                .unwrap_or("");
            let reason = e
                .result
                .rsplit_once('(')
                .map_or("", |(_, r)| r.trim_end_matches(')'));
            json!({"at_ms": e.at_ms, "from": from, "to": e.target, "reason": reason})
        })
        .collect())
}

/// The tasks `/api/state` lists when not told how many.
const TASKS_SHOWN: usize = 200;

/// Reads `/api/state`'s task filter: `all`, `open` (as `baton watch`: pending, in progress,
/// blocked) or one status.
fn filter_of(text: Option<&str>) -> Result<Filter, String> {
    match text.unwrap_or("all") {
        "" | "all" => Ok(Filter::All),
        "open" => Ok(Filter::Open),
        s => s
            .parse::<Status>()
            .map(Filter::Only)
            .map_err(|_| format!("no task filter `{s}`: all, open, or a status")),
    }
}

/// `/api/state?filter=F&limit=N&offset=K`: everything the dashboard shows, with one page of
/// the tasks the filter keeps (200 unless told, at most 2,000; `tasks_total` says how many
/// it keeps in all).
pub fn state(shared: &Shared, url: &Url) -> Answer {
    let filter = match filter_of(url.get("filter")) {
        Ok(f) => f,
        Err(e) => return Answer::error(400, e),
    };
    let number = |key: &str, default: usize| match url.get(key) {
        None | Some("") => Ok(default),
        Some(v) => v
            .parse::<usize>()
            .map_err(|_| format!("`{key}` must be a number, not `{v}`")),
    };
    let (limit, offset) = match (number("limit", TASKS_SHOWN), number("offset", 0)) {
        (Ok(0), _) => return Answer::error(400, "`limit` must be at least 1"),
        (Ok(l), Ok(o)) => (l.min(MAX_TASKS), o),
        (Err(e), _) | (_, Err(e)) => return Answer::error(400, e),
    };
    let page = PageRequest {
        filter,
        offset,
        limit,
    };
    let mut loader = lock(&shared.loader);
    let snap = match loader.load(&shared.config, &shared.session, page) {
        Ok(s) => s,
        Err(e) => return store_error(&e),
    };
    let store = loader.store_mut();
    let extra = handoffs(store).and_then(|h| {
        let merges = if shared.config.uses_worktrees() {
            store.merges(200)?
        } else {
            Vec::new()
        };
        Ok((h, merges))
    });
    let (handoffs, merges) = match extra {
        Ok(x) => x,
        Err(e) => return store_error(&e),
    };
    let agents: Vec<Value> = snap
        .agents
        .iter()
        .map(|a| {
            let quota: Vec<Value> = [("session-5h", a.session), ("weekly", a.weekly)]
                .into_iter()
                .filter_map(|(w, q)| quota_json(w, q))
                .collect();
            json!({
                "name": a.name, "cli": a.cli, "host": a.host.as_deref().unwrap_or("local"),
                "state": if a.state.is_empty() { "unknown" } else { a.state.as_str() },
                "state_since_ms": a.since_ms,
                "task": a.task.as_ref().map(|(id, _)| id.to_string()),
                "task_title": a.task.as_ref().map(|(_, t)| t.clone()),
                "lead": a.lead,
                "quota": quota,
            })
        })
        .collect();
    let c = snap.counts;
    let skip = snap.log.len().saturating_sub(JOURNAL_TAIL);
    Answer::json(
        200,
        &json!({
            "project": snap.session,
            "now_ms": crate::store::now_ms(),
            "change": shared.change(),
            "paused": snap.paused,
            "daemon": snap.daemon,
            "lead": {
                "current": snap.lead,
                "chain": shared.config.lead.chain,
                "handoffs": handoffs,
                "handoff": snap.handoff.as_ref().map(|h| json!({
                    "from": h.from, "to": h.to, "step": h.step, "since_ms": h.since_ms,
                })),
            },
            "agents": agents,
            "counts": {
                "PENDING": c.pending, "IN_PROGRESS": c.running, "COMPLETED": c.done,
                "BLOCKED": c.blocked, "CANCELLED": c.cancelled, "UNREPORTED": c.unreported,
                "total": c.total,
            },
            "tasks": snap.tasks.rows.iter().map(to_json).collect::<Vec<_>>(),
            "tasks_total": snap.tasks.total,
            "journal": snap.log[skip..].iter().map(to_json).collect::<Vec<_>>(),
            "merges": merges,
        }),
    )
}

/// `/api/quota?agent=NAME`: each window's readings over the last week, the time each is
/// projected to reach its limit (baton-core's one estimate), the lead's handoff line.
/// Without `agent`: `{"agents": [...]}`, every agent's in one answer (what the page's plots
/// ask for: one request, however many agents).
pub fn quota(shared: &Shared, agent: Option<&str>) -> Answer {
    let names: Vec<&str> = match agent {
        Some(a) if shared.config.agent(a).is_none() => {
            return Answer::error(404, format!("no agent `{a}`"));
        }
        Some(a) => vec![a],
        None => shared
            .config
            .agents
            .iter()
            .map(|a| a.name.as_str())
            .collect(),
    };
    let mut loader = lock(&shared.loader);
    let store = loader.store_mut();
    let now = crate::store::now_ms();
    let read = handoffs(store).and_then(|handoffs| {
        names
            .iter()
            .map(|a| agent_quota(shared, store, a, &handoffs, now))
            .collect::<Result<Vec<Value>, StoreError>>()
    });
    match read {
        Ok(mut all) if agent.is_some() => Answer::json(200, &all.remove(0)),
        Ok(all) => Answer::json(200, &json!({ "agents": all })),
        Err(e) => store_error(&e),
    }
}

/// One agent's quota history, projections and handoffs (see [`quota`]).
fn agent_quota(
    shared: &Shared,
    store: &Store,
    agent: &str,
    handoffs: &[Value],
    now: i64,
) -> Result<Value, StoreError> {
    let mut points = Vec::new();
    let mut projection = Vec::new();
    for window in WINDOWS {
        let readings = store.quota_readings(agent, window, now - QUOTA_SPAN_MS)?;
        let history: Vec<(i64, f64)> = readings
            .iter()
            .map(|r| (r.first_data_ms, r.used_percent))
            .collect();
        for (at_ms, used) in &history {
            points.push(json!({"window": window, "at_ms": at_ms, "used_percent": used}));
        }
        let rate = burn_rate(&history, now);
        projection.push(json!({
            "window": window,
            "per_hour": rate.burn_rate_per_hour(),
            "limit_at_ms": rate.eta_ms(100.0, now),
        }));
    }
    let lead = &shared.config.lead;
    let handoff_percent = lead
        .chain
        .iter()
        .any(|a| a == agent)
        .then_some(f64::from(lead.handoff_at));
    Ok(json!({
        "agent": agent, "points": points, "projection": projection,
        "handoff_percent": handoff_percent,
        "handoffs": handoffs.iter()
            .filter(|h| h["from"] == agent || h["to"] == agent)
            .collect::<Vec<_>>(),
    }))
}

/// How many of the last completions `/api/done` gives (the plot's points).
const DONE_SHOWN: usize = 2000;

/// `/api/done`: how many tasks were done, at each of the last completions (from the journal,
/// asked for by action: the whole journal is not read).
pub fn done(shared: &Shared) -> Answer {
    let mut loader = lock(&shared.loader);
    let store = loader.store_mut();
    let read = store
        .journal_count(&[JournalAction::TaskDone])
        .and_then(|n| {
            Ok((
                n,
                store.journal_last(&[JournalAction::TaskDone], DONE_SHOWN)?,
            ))
        });
    let (total, last) = match read {
        Ok(r) => r,
        Err(e) => return store_error(&e),
    };
    let before = total as usize - last.len();
    let points: Vec<Value> = last
        .iter()
        .rev()
        .enumerate()
        .map(|(i, e)| json!({"at_ms": e.at_ms, "done": before + i + 1}))
        .collect();
    Answer::json(200, &json!({ "points": points, "total": total }))
}

/// `/api/screen?agent=NAME`: the agent's pane as it shows now.
pub fn screen(shared: &Shared, agent: &str) -> Answer {
    if shared.config.agent(agent).is_none() {
        return Answer::error(404, format!("no agent `{agent}`"));
    }
    let read = shared.context().and_then(|ctx| {
        let pane = ctx.project.agent_pane(agent)?;
        Ok(ctx
            .project
            .tmux
            .capture(&pane.pane_id, CaptureRange::default())?)
    });
    match read {
        Ok(text) => Answer::json(200, &json!({"agent": agent, "text": text})),
        Err(e) => Answer::error(409, format!("{agent}: {}", e.message)),
    }
}

/// `/api/task?id=T-001`: the task as `baton task show --json` gives it: its times, cost,
/// tokens and history.
pub fn task(shared: &Shared, id: &str) -> Answer {
    let Ok(id) = id.parse::<TaskId>() else {
        return Answer::error(400, format!("`{id}` is not a task ID"));
    };
    let mut loader = lock(&shared.loader);
    match loader.store_mut().shown(id) {
        Ok(shown) => Answer::json(200, &to_json(&shown)),
        Err(e @ StoreError::NoTask(_)) => Answer::error(404, e.to_string()),
        Err(e) => store_error(&e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn handoffs_read_their_parts_and_older_sentences() {
        let dir = tempfile::tempdir().unwrap();
        let mut store = Store::open(&dir.path().join("state.db")).unwrap();
        // A store written before the parts were kept: the sentence only.
        store
            .journal(
                "baton",
                JournalAction::HandoffDone,
                None,
                "amp",
                "amp leads, takeover verified; claude rests until its quota comes back (session-5h at 93%)",
                "",
            )
            .unwrap();
        // Now: the parts in the detail, whatever the sentence says.
        store
            .journal(
                "baton",
                JournalAction::HandoffDone,
                None,
                "claude",
                "claude leads, takeover verified; amp (a reason (with parentheses))",
                r#"{"from":"amp","to":"claude","reason":"weekly at 91% (projected)"}"#,
            )
            .unwrap();
        let h = handoffs(&store).unwrap();
        assert_eq!(h.len(), 2);
        assert_eq!(
            (&h[0]["from"], &h[0]["to"], &h[0]["reason"]),
            (&json!("claude"), &json!("amp"), &json!("session-5h at 93%"))
        );
        assert_eq!(
            (&h[1]["from"], &h[1]["to"], &h[1]["reason"]),
            (
                &json!("amp"),
                &json!("claude"),
                &json!("weekly at 91% (projected)")
            )
        );
    }
}
