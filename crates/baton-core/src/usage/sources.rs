//! Where the CLIs tell a session's cumulative spending (verified with Claude Code 2.1.332 and
//! Codex 0.171.0; see docs/conformance.md, "Cost and tokens"):
//!
//! - Claude Code's statusLine payload: `cost.total_cost_usd`, the session's cost so far, and
//!   `session_id`. Its `context_window.total_input_tokens` / `total_output_tokens` are NOT
//!   read: since 2.1.132 they are the current context's size, not session totals (2.1.332
//!   shows 25/12 after three requests of 25/12 each).
//! - Claude Code's transcript (the JSONL file at the Stop hook's `transcript_path`): each
//!   assistant message's `message.usage`; the session's tokens are their sum, each message id
//!   counted once (a message streamed as several blocks is written once per block).
//! - Codex's rollout file: the newest `token_count` event with `info`:
//!   `info.total_token_usage.{input_tokens, output_tokens}` (input includes
//!   `cached_input_tokens`), the session being the `session_meta` line's `id`.

use std::collections::BTreeMap;

use serde_json::Value;

use super::Usage;
use crate::quota::rollout::utc_ms;

/// The most one session's cost may say, in US dollars: a value above is no cost (a broken or
/// forged payload) and is not read; summed, such values became `$inf` in text and `null` in
/// JSON, which reads as unknown.
pub const MAX_SESSION_COST_USD: f64 = 1_000_000.0;

/// Returns the cost a statusLine payload carries (`cost.total_cost_usd`) with its session
/// (`session_id`); `None` when it carries none, or none that can be a cost.
pub fn statusline(payload: &Value) -> Option<(Usage, Option<String>)> {
    let cost = payload
        .pointer("/cost/total_cost_usd")
        .and_then(Value::as_f64)
        .filter(|c| c.is_finite() && (0.0..=MAX_SESSION_COST_USD).contains(c))?;
    let session = payload
        .get("session_id")
        .and_then(Value::as_str)
        .filter(|s| !s.is_empty())
        .map(str::to_owned);
    Some((
        Usage {
            cost_usd: Some(cost),
            ..Usage::default()
        },
        session,
    ))
}

/// Reads a token count that may be absent.
fn count(v: &Value, key: &str) -> Option<u64> {
    v.get(key).and_then(Value::as_u64)
}

/// Returns the tokens of a Claude Code transcript's text: the sum of every assistant
/// message's usage (input = `input_tokens` + `cache_creation_input_tokens` +
/// `cache_read_input_tokens`; output = `output_tokens`), each message id once, its last line
/// winning. `None` when no line carries a usage.
pub fn transcript(text: &str) -> Option<Usage> {
    let mut by_message: BTreeMap<String, (u64, u64)> = BTreeMap::new();
    let mut anonymous: Vec<(u64, u64)> = Vec::new();
    // Only lines with a usage are parsed: a transcript holds whole files and tool outputs.
    for line in text.lines().filter(|l| l.contains("\"usage\"")) {
        let Ok(v) = serde_json::from_str::<Value>(line) else {
            continue;
        };
        if v.get("type").and_then(Value::as_str) != Some("assistant") {
            continue;
        }
        let Some(message) = v.get("message") else {
            continue;
        };
        let Some(usage) = message.get("usage").filter(|u| u.is_object()) else {
            continue;
        };
        let input = [
            "input_tokens",
            "cache_creation_input_tokens",
            "cache_read_input_tokens",
        ]
        .iter()
        .filter_map(|k| count(usage, k))
        .sum();
        let output = count(usage, "output_tokens").unwrap_or(0);
        match message.get("id").and_then(Value::as_str) {
            Some(id) => {
                by_message.insert(id.to_owned(), (input, output));
            }
            None => anonymous.push((input, output)),
        }
    }
    if by_message.is_empty() && anonymous.is_empty() {
        return None;
    }
    let (input, output) = by_message
        .values()
        .chain(&anonymous)
        .fold((0u64, 0u64), |(i, o), (a, b)| {
            (i.saturating_add(*a), o.saturating_add(*b))
        });
    Some(Usage {
        cost_usd: None,
        input_tokens: Some(input),
        output_tokens: Some(output),
    })
}

/// A rollout's newest token totals.
#[derive(Clone, Debug, PartialEq)]
pub struct RolloutUsage {
    /// The session's tokens so far (no cost: Codex tells none).
    pub usage: Usage,
    /// The event's time (ms since the Unix epoch), when the line has one.
    pub at_ms: Option<i64>,
    /// The session (the `session_meta` line's `id`), when the file names it.
    pub session: Option<String>,
}

/// Returns the token totals of one rollout line: a `token_count` event whose `info` is not
/// null (`info.total_token_usage`), with the line's time.
pub fn rollout_line(line: &str) -> Option<(Usage, Option<i64>)> {
    if !line.contains("token_count") {
        return None;
    }
    let v: Value = serde_json::from_str(line).ok()?;
    let event = v.get("payload").unwrap_or(&v);
    if event.get("type").and_then(Value::as_str) != Some("token_count") {
        return None;
    }
    let total = event.pointer("/info/total_token_usage")?;
    let usage = Usage {
        cost_usd: None,
        input_tokens: count(total, "input_tokens"),
        output_tokens: count(total, "output_tokens"),
    };
    if usage.is_empty() {
        return None;
    }
    let at_ms = v.get("timestamp").and_then(Value::as_str).and_then(utc_ms);
    Some((usage, at_ms))
}

/// Returns a rollout file's newest token totals, if any event carries them.
pub fn rollout(text: &str) -> Option<RolloutUsage> {
    let session = text
        .lines()
        .take(4)
        .filter(|l| l.contains("session_meta"))
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .find(|v| v.get("type").and_then(Value::as_str) == Some("session_meta"))
        .and_then(|v| {
            v.pointer("/payload/id")
                .and_then(Value::as_str)
                .map(str::to_owned)
        });
    let (usage, at_ms) = text.lines().rev().find_map(rollout_line)?;
    Some(RolloutUsage {
        usage,
        at_ms,
        session,
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    /// A statusLine payload of Claude Code 2.1.332 after three requests (its paths masked).
    const STATUSLINE: &str = r#"{"session_id":"502695e8-7ffc-4dd5-8b11-36073a6d2e9d","transcript_path":"/tmp/home/.claude/projects/-tmp-project/502695e8-7ffc-4dd5-8b11-36073a6d2e9d.jsonl","cwd":"/tmp/project","prompt_id":"c002aea4-7686-4a2a-873b-e210db14b287","effort":{"level":"medium"},"model":{"id":"claude-opus-5-5","display_name":"Opus 5.5"},"workspace":{"current_dir":"/tmp/project","project_dir":"/tmp/project","added_dirs":[]},"version":"2.1.332","output_style":{"name":"default"},"cost":{"total_cost_usd":0.00102,"total_duration_ms":34331,"total_api_duration_ms":161,"total_lines_added":0,"total_lines_removed":0},"context_window":{"total_input_tokens":25,"total_output_tokens":12,"context_window_size":1000000,"current_usage":{"input_tokens":25,"output_tokens":12,"cache_creation_input_tokens":0,"cache_read_input_tokens":0},"used_percentage":0,"remaining_percentage":100},"exceeds_200k_tokens":false,"prompt_cache":{"warm":false,"caching_observed":false,"ttl":"5m","expires_at":null,"requests":3,"misses":0,"expected_rebuilds":0,"hit_ratio":0,"cache_write_tokens":0,"miss_recache_tokens":0,"last_miss_at":null,"last_miss_cause":null,"miss_causes":{},"recache_tokens_if_cold":25},"fast_mode":false,"thinking":{"enabled":true}}"#;

    /// An assistant line of Claude Code 2.1.332's transcript (paths masked).
    const TRANSCRIPT_LINE: &str = r#"{"parentUuid":"072c5f65-6444-4c73-9aae-6143a319aced","isSidechain":false,"message":{"content":[{"id":"toolu_fake_1","input":{"command":"echo hi","description":"say hi"},"name":"Bash","type":"tool_use"}],"id":"msg_fake_1","model":"claude-opus-5-5","role":"assistant","stop_reason":"tool_use","stop_sequence":null,"type":"message","usage":{"input_tokens":25,"cache_creation_input_tokens":0,"cache_read_input_tokens":0,"output_tokens":12,"output_tokens_details":{"thinking_tokens":0},"server_tool_use":{"web_search_requests":0,"web_fetch_requests":0},"service_tier":"standard","cache_creation":{"ephemeral_1h_input_tokens":0,"ephemeral_5m_input_tokens":0},"inference_geo":"","iterations":[],"speed":"standard","fallback_credit":null},"stop_details":null},"toolInputStreamMs":6,"apiBlockIndex":0,"requestId":"req_fake_1","requestRef":"2c7b8496-b29d-427a-8589-82fefcc3cf36","requestedModel":"claude-opus-5-5","promptCacheRequested":"5m","type":"assistant","uuid":"9157b72a-58ff-4c19-87ec-b74dad82fb55","timestamp":"2026-12-03T00:25:35.808Z","effort":"medium","perTurnEffort":"medium","madeBy":"model","session_id":"502695e8-7ffc-4dd5-8b11-36073a6d2e9d","userType":"external","entrypoint":"cli","cwd":"/tmp/project","sessionId":"502695e8-7ffc-4dd5-8b11-36073a6d2e9d","version":"2.1.332","gitBranch":"HEAD"}"#;

    /// The second `token_count` line of a Codex 0.171.0 rollout (two turns of 25/12 tokens).
    const ROLLOUT_LINE: &str = r#"{"timestamp":"2026-12-03T00:27:06.211Z","ordinal":22,"type":"event_msg","payload":{"type":"token_count","info":{"total_token_usage":{"input_tokens":50,"cached_input_tokens":0,"cache_write_input_tokens":0,"output_tokens":24,"reasoning_output_tokens":0,"total_tokens":74},"last_token_usage":{"input_tokens":25,"cached_input_tokens":0,"cache_write_input_tokens":0,"output_tokens":12,"reasoning_output_tokens":0,"total_tokens":37},"last_usage_includes_reasoning":false,"model_context_window":258400},"rate_limits":{"limit_id":"codex","limit_name":null,"primary":null,"secondary":null,"credits":null,"individual_limit":null,"spend_control_reached":null,"plan_type":null,"rate_limit_reached_type":null}}}"#;

    #[test]
    fn a_real_statusline_gives_its_cost_and_session_not_its_context_tokens() {
        let payload: Value = serde_json::from_str(STATUSLINE).unwrap();
        let (usage, session) = statusline(&payload).unwrap();
        assert_eq!(
            usage,
            Usage {
                cost_usd: Some(0.00102),
                input_tokens: None,
                output_tokens: None,
            }
        );
        assert_eq!(
            session.as_deref(),
            Some("502695e8-7ffc-4dd5-8b11-36073a6d2e9d")
        );
        // The first payload, before any request: a real 0, known.
        let fresh = json!({"session_id": "s", "cost": {"total_cost_usd": 0}});
        assert_eq!(statusline(&fresh).unwrap().0.cost_usd, Some(0.0));
        // No cost: nothing (never a 0).
        assert_eq!(statusline(&json!({"session_id": "s"})), None);
        assert_eq!(statusline(&json!({"cost": {"total_cost_usd": null}})), None);
        assert_eq!(statusline(&json!({"cost": {"total_cost_usd": -1}})), None);
        // A cost no session can reach is not read (summed, it became infinite).
        assert_eq!(
            statusline(&json!({"cost": {"total_cost_usd": 1e308}})),
            None
        );
        let top = json!({"cost": {"total_cost_usd": MAX_SESSION_COST_USD}});
        assert_eq!(
            statusline(&top).unwrap().0.cost_usd,
            Some(MAX_SESSION_COST_USD)
        );
        assert_eq!(statusline(&Value::Null), None);
    }

    #[test]
    fn a_transcript_sums_each_message_once() {
        let second = TRANSCRIPT_LINE.replace("msg_fake_1", "msg_fake_2").replace(
            "\"cache_read_input_tokens\":0",
            "\"cache_read_input_tokens\":100",
        );
        let text = format!(
            "{{\"type\":\"user\",\"message\":{{\"role\":\"user\",\"content\":\"hi\"}}}}\n{TRANSCRIPT_LINE}\n{TRANSCRIPT_LINE}\nnot json \"usage\"\n{second}\n"
        );
        assert_eq!(
            transcript(&text),
            Some(Usage {
                cost_usd: None,
                input_tokens: Some(25 + 125),
                output_tokens: Some(24),
            })
        );
        assert_eq!(transcript("{\"type\":\"user\"}\n"), None);
        assert_eq!(transcript(""), None);
    }

    #[test]
    fn a_real_rollout_line_gives_its_totals() {
        let (usage, at) = rollout_line(ROLLOUT_LINE).unwrap();
        assert_eq!(
            usage,
            Usage {
                cost_usd: None,
                input_tokens: Some(50),
                output_tokens: Some(24),
            }
        );
        assert_eq!(at, Some(1_796_257_626_211));
        // `info` is null before the first answer (and in older builds' rate-limit events).
        let null_info = r#"{"type":"event_msg","payload":{"type":"token_count","info":null,"rate_limits":null}}"#;
        assert_eq!(rollout_line(null_info), None);
        assert_eq!(rollout_line("{\"type\":\"x\"}"), None);
        assert_eq!(rollout_line("token_count but not json"), None);
    }

    #[test]
    fn a_rollout_gives_its_newest_totals_and_session() {
        let meta = r#"{"timestamp":"2026-12-03T00:26:55.554Z","ordinal":0,"type":"session_meta","payload":{"session_id":"01a2394c-011a-7140-891c-80ab4ae60b84","id":"01a2394c-011a-7140-891c-80ab4ae60b84","cli_version":"0.171.0"}}"#;
        let first = ROLLOUT_LINE
            .replace("\"input_tokens\":50", "\"input_tokens\":25")
            .replace("00:27:06", "00:26:55");
        let text = format!(
            "{meta}\n{first}\n{ROLLOUT_LINE}\n{{\"type\":\"event_msg\",\"payload\":{{\"type\":\"task_complete\"}}}}\n"
        );
        let r = rollout(&text).unwrap();
        assert_eq!(r.usage.input_tokens, Some(50));
        assert_eq!(r.at_ms, Some(1_796_257_626_211));
        assert_eq!(
            r.session.as_deref(),
            Some("01a2394c-011a-7140-891c-80ab4ae60b84")
        );
        assert_eq!(rollout(meta), None);
        assert_eq!(rollout(ROLLOUT_LINE).unwrap().session, None);
    }
}
