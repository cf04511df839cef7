//! Codex rollout files (`$CODEX_HOME/sessions/YYYY/MM/DD/rollout-*.jsonl`): each turn writes an
//! `event_msg` of type `token_count` whose `rate_limits` hold a `primary` and a `secondary`
//! window (`used_percent`, `window_minutes`, `resets_at` in epoch seconds, or the older
//! `resets_in_seconds`). Windows are classified by their length, not by their slot; a null
//! window is unknown and yields no reading.

use serde_json::Value;

use super::QuotaReading;
use super::QuotaWindow;

/// Returns the readings of one rollout line (none for other events or null windows).
///
/// `resets_in_seconds` is relative to the line's `timestamp`; without a timestamp it is
/// left unknown.
pub fn parse_line(line: &str) -> Vec<QuotaReading> {
    let Ok(v) = serde_json::from_str::<Value>(line) else {
        return Vec::new();
    };
    // Current builds wrap the event in `payload`; older ones put it at the top level.
    let event = v.get("payload").unwrap_or(&v);
    if event.get("type").and_then(Value::as_str) != Some("token_count") {
        return Vec::new();
    }
    let Some(limits) = event.get("rate_limits").filter(|l| l.is_object()) else {
        return Vec::new();
    };
    let observed_ms = v.get("timestamp").and_then(Value::as_str).and_then(utc_ms);
    ["primary", "secondary"]
        .iter()
        .filter_map(|slot| window(limits.get(*slot)?, observed_ms))
        .collect()
}

fn window(w: &Value, observed_ms: Option<i64>) -> Option<QuotaReading> {
    let used_percent = w.get("used_percent")?.as_f64()?;
    let minutes = w.get("window_minutes")?.as_u64()?;
    let resets_at_ms = match w.get("resets_at").and_then(Value::as_i64) {
        Some(s) => Some(s * 1000),
        None => w
            .get("resets_in_seconds")
            .and_then(Value::as_i64)
            .zip(observed_ms)
            .map(|(s, now)| now + s * 1000),
    };
    Some(QuotaReading {
        window: QuotaWindow::from_minutes(minutes),
        used_percent,
        resets_at_ms,
        observed_ms,
    })
}

/// Returns the newest reading of each window in a rollout file's text.
pub fn latest(text: &str) -> Vec<QuotaReading> {
    let mut out: Vec<QuotaReading> = Vec::new();
    for r in text.lines().flat_map(parse_line) {
        match out.iter_mut().find(|o| o.window == r.window) {
            Some(o) => *o = r,
            None => out.push(r),
        }
    }
    out.sort_by(|a, b| a.window.cmp(&b.window));
    out
}

/// Parses the UTC timestamps Codex writes (`2026-11-21T06:20:12.220Z`) into milliseconds
/// since the Unix epoch (the one format needed here; no time zone is involved).
pub fn utc_ms(t: &str) -> Option<i64> {
    let t = t.strip_suffix('Z')?;
    let (date, time) = t.split_once('T')?;
    let mut d = date.splitn(3, '-').map(|p| p.parse::<i64>().ok());
    let (y, m, day) = (d.next()??, d.next()??, d.next()??);
    let (hms, frac) = time.split_once('.').unwrap_or((time, ""));
    let mut h = hms.splitn(3, ':').map(|p| p.parse::<i64>().ok());
    let (hh, mm, ss) = (h.next()??, h.next()??, h.next()??);
    if !(1..=12).contains(&m) || !(1..=31).contains(&day) || hh > 23 || mm > 59 || ss > 60 {
        return None;
    }
    let ms = if frac.is_empty() {
        0
    } else {
        let digits: String = frac.chars().chain("000".chars()).take(3).collect();
        digits.parse::<i64>().ok()?
    };
    // Days from civil (Howard Hinnant's algorithm).
    let y2 = if m <= 2 { y - 1 } else { y };
    let era = y2.div_euclid(400);
    let yoe = y2 - era * 400;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some(((days * 24 + hh) * 60 + mm) * 60_000 + ss * 1000 + ms)
}

#[cfg(test)]
mod tests {
    use super::*;

    const LINE: &str = r#"{"timestamp":"2026-11-21T06:20:12.220Z","type":"event_msg","payload":{"type":"token_count","info":null,"rate_limits":{"limit_id":"codex","primary":{"used_percent":42.5,"window_minutes":300,"resets_at":1795241571},"secondary":{"used_percent":17.0,"window_minutes":10080,"resets_at":1795841571}}}}"#;

    #[test]
    fn windows_by_length() {
        let r = parse_line(LINE);
        assert_eq!(r.len(), 2);
        assert_eq!(r[0].window, QuotaWindow::Session5h);
        assert_eq!(r[0].used_percent, 42.5);
        assert_eq!(r[0].resets_at_ms, Some(1_795_241_571_000));
        assert_eq!(r[1].window, QuotaWindow::Weekly);
        assert_eq!(r[0].window.name(), "session-5h");
        assert!(r[0].observed_ms.is_some());
    }

    #[test]
    fn slots_do_not_decide_the_window() {
        let swapped = LINE
            .replace("\"window_minutes\":300", "\"window_minutes\":X")
            .replace("\"window_minutes\":10080", "\"window_minutes\":300")
            .replace("\"window_minutes\":X", "\"window_minutes\":10080");
        let r = parse_line(&swapped);
        assert_eq!(r[0].window, QuotaWindow::Weekly);
        assert_eq!(r[1].window, QuotaWindow::Session5h);
        assert_eq!(r[1].used_percent, 17.0);
    }

    #[test]
    fn null_windows_are_unknown() {
        let line = r#"{"type":"event_msg","payload":{"type":"token_count","rate_limits":{"primary":null,"secondary":null}}}"#;
        assert!(parse_line(line).is_empty());
        let no_limits =
            r#"{"type":"event_msg","payload":{"type":"token_count","rate_limits":null}}"#;
        assert!(parse_line(no_limits).is_empty());
        assert!(
            parse_line(r#"{"type":"event_msg","payload":{"type":"agent_message"}}"#).is_empty()
        );
        assert!(parse_line("not json").is_empty());
    }

    #[test]
    fn resets_in_seconds_is_relative_to_the_line() {
        let line = r#"{"timestamp":"2025-01-01T00:00:00Z","type":"token_count","rate_limits":{"primary":{"used_percent":80.0,"window_minutes":300,"resets_in_seconds":600}}}"#;
        let r = parse_line(line);
        assert_eq!(r.len(), 1);
        assert_eq!(r[0].resets_at_ms, Some(1_735_689_600_000 + 600_000));
        let no_time = r#"{"type":"token_count","rate_limits":{"primary":{"used_percent":80.0,"window_minutes":60,"resets_in_seconds":600}}}"#;
        let r = parse_line(no_time);
        assert_eq!(r[0].window, QuotaWindow::Minutes(60));
        assert_eq!(r[0].resets_at_ms, None);
    }

    #[test]
    fn utc_timestamps() {
        assert_eq!(utc_ms("1970-01-01T00:00:00Z"), Some(0));
        assert_eq!(utc_ms("2025-01-01T00:00:00Z"), Some(1_735_689_600_000));
        assert_eq!(utc_ms("2026-11-21T06:20:12.220Z"), Some(1_795_242_012_220));
        assert_eq!(utc_ms("2026-11-21 06:20:12"), None);
    }

    #[test]
    fn latest_keeps_the_newest_per_window() {
        let older = LINE.replace("42.5", "10.0");
        let text = format!("{older}\n{{\"type\":\"x\"}}\n{LINE}\n");
        let r = latest(&text);
        assert_eq!(r.len(), 2);
        assert_eq!(r[0].used_percent, 42.5);
    }
}
