//! Claude Code's statusLine payload (the JSON its `statusLine` command gets on stdin): the
//! `rate_limits` windows it carries, read as quota windows; an absent or null window is
//! unknown and yields nothing.

use serde_json::Value;

/// One window of a statusLine `rate_limits` object.
#[derive(Clone, Debug, PartialEq)]
pub struct Window {
    /// baton's name for it: `session-5h`, `weekly`.
    pub window: &'static str,
    /// Percent used.
    pub used_percent: f64,
    /// Reset time in milliseconds since the epoch, when given.
    pub resets_at_ms: Option<i64>,
}

/// Reads the windows of a statusLine payload; an absent or null window is unknown and left
/// out (never read as 0 %).
pub fn windows(payload: &Value) -> Vec<Window> {
    let mut out = Vec::new();
    for (key, window) in [("five_hour", "session-5h"), ("seven_day", "weekly")] {
        let Some(w) = payload.pointer(&format!("/rate_limits/{key}")) else {
            continue;
        };
        let Some(used) = w.get("used_percentage").and_then(Value::as_f64) else {
            continue;
        };
        let resets_at_ms = w.get("resets_at").and_then(|r| {
            r.as_i64()
                .or_else(|| r.as_f64().map(|f| f as i64))
                .map(|s| s * 1000)
                .or_else(|| {
                    r.as_str()
                        .and_then(|t| t.parse::<jiff::Timestamp>().ok())
                        .map(|t| t.as_millisecond())
                })
        });
        out.push(Window {
            window,
            used_percent: used,
            resets_at_ms,
        });
    }
    out
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn absent_windows_are_unknown() {
        let w = windows(
            &json!({"rate_limits": {"five_hour": {"used_percentage": 81, "resets_at": 1795244907}}}),
        );
        assert_eq!(
            w,
            vec![Window {
                window: "session-5h",
                used_percent: 81.0,
                resets_at_ms: Some(1_795_244_907_000)
            }]
        );
        assert!(windows(&json!({"model": {}})).is_empty());
        assert!(windows(&json!({"rate_limits": {"five_hour": null, "seven_day": {}}})).is_empty());
    }
}
