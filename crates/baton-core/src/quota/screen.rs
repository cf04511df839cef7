//! Quota lines found on screen ([`QuotaHint`]s from the detector) turned into readings.
//!
//! The detector's profile patterns find the numbers and cut out the window's words and the
//! reset text; this module says what they mean, with the time passed in (`now`, whose zone
//! is the local zone). It prefers no reading to a wrong one:
//!
//! - **Window words** ([`parse_window`]): `session`, `5-hour`, `5h` → session-5h; `weekly`
//!   → weekly; `daily` → daily; `<n>h` → that length; a model or model family (`Opus`,
//!   `Sonnet weekly`, `Fable 5`, `gemini-2.5-pro`, `all Pro models`, `GPT-5.3-Codex-Spark`)
//!   → `model:<name>`. A hint without window words (a limit that names no window, Amp's
//!   credits) is [`QuotaWindow::Unnamed`]. Words that are none of these give no reading.
//! - **Reset text** ([`parse_reset`]): a time of day (`2pm`, `2:30pm`, `2:30 PM`, `14:00`,
//!   `03:14`) alone means its next occurrence (today, or tomorrow if it has passed); with a
//!   weekday (`Mon 9:00`), the next such day; with a month and day (`Jul 25, 9pm`,
//!   `Jul 25 at 9pm`, `14:30 on 15 Jan`, `15 Jan (14:30)`, `Jul 9th, 2026 1:47 AM`), the
//!   next such date unless the year is given. A relative time (`in 2h 15m`, `1d 5h`,
//!   `21h39m57s`, `4hr 29min`) counts from `now`; ten digits are epoch seconds. A zone may
//!   follow, in parentheses or not: an IANA name (`(Europe/Paris)`), `UTC`/`GMT`, an offset
//!   (`GMT+2`, `UTC-03:30`), or the abbreviation of the local zone (`PDT` when `now` is in
//!   Los Angeles). Without one the time is in `now`'s zone. Anything after a `·` or `∙`
//!   (`· /upgrade to keep using Claude Code`) is ignored, as is a final period.
//!
//! What happens when the reset text is there but cannot be placed: the reading always keeps
//! its percentage and window, which the pattern read unambiguously; only the reset changes.
//!
//! - It does not parse (garbage, an unknown zone name or abbreviation), or names a local
//!   time that does not exist or exists twice (a DST change): no reset time.
//! - It lies further ahead than the window can reset ([`QuotaWindow::max_reset_ms`] plus an
//!   hour: "resets 9am" read at 10am means 9am tomorrow, 23 h away, impossible for a 5-hour
//!   window; the screen may be stale, or the CLI rounded its reset): no reset time. The
//!   percentage stays, so a limit near is never missed for want of a reset time.
//! - A fixed instant or a date with its year that has passed (`resets Jul 19, 2026 9pm`
//!   read on the 20th, epoch seconds in the past): that reset time, in the past; the reading
//!   is then a window whose reset passed (`reset`, not its old percentage).
//!
//! Percentages that are bounds are read as the bound: Codex's "used over 75%" and "less
//! than 25% … left" both read 75 %. A limit-reached line (a `rate_limited` pattern with a
//! `window` or `reset` group) reads 100 %.

use jiff::SignedDuration;
use jiff::Timestamp;
use jiff::Zoned;
use jiff::civil::Date;
use jiff::civil::Time;
use jiff::civil::Weekday;
use jiff::tz::Offset;
use jiff::tz::TimeZone;

use super::QuotaReading;
use super::QuotaWindow;
use crate::detector::QuotaHint;

/// How much further than its window's length a reset may lie: an hour (CLIs round).
const RESET_SLACK_MS: i64 = 3_600_000;

/// Claude's model families, as its screens name them in model-scoped limits.
const MODEL_FAMILIES: [&str; 4] = ["opus", "sonnet", "haiku", "fable"];

/// Turns a hint into a reading, or `None` when its percentage is outside 0–100 or its words
/// name no window (see [`refusal`] for why). A reset that cannot be placed never costs the
/// reading: it is kept with no reset time (see the module documentation). `observed_ms` is
/// `now`.
pub fn reading_from_hint(hint: &QuotaHint, now: &Zoned) -> Option<QuotaReading> {
    if !hint.used_percent.is_finite() || !(0.0..=100.0).contains(&hint.used_percent) {
        return None;
    }
    let window = match hint.window.as_deref() {
        Some(words) => parse_window(words)?,
        None => QuotaWindow::Unnamed,
    };
    let now_ms = now.timestamp().as_millisecond();
    let resets_at_ms = hint
        .reset
        .as_deref()
        .and_then(|text| placed_reset(text, now, &window));
    Some(QuotaReading {
        window,
        used_percent: hint.used_percent,
        resets_at_ms,
        observed_ms: Some(now_ms),
    })
}

/// Turns the hints of one screen into readings: one per window, the lowest line winning (it
/// is the newest). An unnamed 100 % reading (Claude's "Usage limit reached · continuing
/// automatically at …" under "You've hit your 5-hour limit") is left out when a named
/// window on the same screen is at 100 %: it is that window's limit said again.
pub fn readings(hints: &[QuotaHint], now: &Zoned) -> Vec<QuotaReading> {
    let mut ordered: Vec<&QuotaHint> = hints.iter().collect();
    ordered.sort_by_key(|h| h.line);
    let mut out: Vec<QuotaReading> = Vec::new();
    for r in ordered
        .into_iter()
        .filter_map(|h| reading_from_hint(h, now))
    {
        match out.iter_mut().find(|o| o.window == r.window) {
            Some(o) => *o = r,
            None => out.push(r),
        }
    }
    let named_full = out
        .iter()
        .any(|r| r.window != QuotaWindow::Unnamed && r.used_percent >= 100.0);
    if named_full {
        out.retain(|r| !(r.window == QuotaWindow::Unnamed && r.used_percent >= 100.0));
    }
    out
}

/// Names the window of a CLI's words ("session", "5-hour", "weekly", "Opus", "all Pro
/// models", "gemini-2.5-pro"); `None` for words that name no window baton knows.
pub fn parse_window(words: &str) -> Option<QuotaWindow> {
    let lower = words.trim().to_lowercase();
    let cleaned: String = lower
        .chars()
        .map(|c| if matches!(c, '(' | ')' | ',') { ' ' } else { c })
        .collect();
    let mut tokens: Vec<&str> = cleaned.split_whitespace().collect();
    if tokens.is_empty() {
        return None;
    }
    // Words that say nothing about the window.
    while tokens
        .last()
        .is_some_and(|t| matches!(*t, "limit" | "limits" | "quota" | "usage"))
    {
        tokens.pop();
    }
    while tokens.first().is_some_and(|t| *t == "current") {
        tokens.remove(0);
    }
    if tokens.is_empty() {
        // "your usage limit": a limit, no window named.
        return Some(QuotaWindow::Unnamed);
    }
    if let Some(model) = model_scope(&tokens) {
        return Some(QuotaWindow::Model(model));
    }
    // "(all models)" after a window changes nothing.
    if tokens.len() == 3 && tokens[1..] == ["all", "models"] {
        tokens.truncate(1);
    }
    let joined = tokens.join(" ");
    match joined.as_str() {
        "session" | "5-hour" | "5 hour" | "5h" | "five-hour" | "five hour" | "5-hour session" => {
            return Some(QuotaWindow::Session5h);
        }
        "weekly" | "week" | "7-day" | "7 day" | "seven-day" | "7d" => {
            return Some(QuotaWindow::Weekly);
        }
        "daily" | "day" | "24h" | "24-hour" => return Some(QuotaWindow::Daily),
        "monthly" => return Some(QuotaWindow::Minutes(30 * 1440)),
        _ => {}
    }
    // Codex names other lengths "<n>h".
    let hours = joined.strip_suffix('h')?;
    if hours.is_empty() || hours.len() > 3 || !hours.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let hours: u64 = hours.parse().ok().filter(|h| *h > 0)?;
    Some(QuotaWindow::from_minutes(hours * 60))
}

/// The model a window is scoped to: one model word, with at most a version and the
/// window's length around it ("Opus", "Opus weekly", "Fable 5", "Sonnet only").
fn model_scope(tokens: &[&str]) -> Option<String> {
    // Gemini: "all Pro models".
    if let ["all", family, "models"] = tokens {
        return (family.chars().all(|c| c.is_ascii_alphabetic()) && *family != "all")
            .then(|| (*family).to_owned());
    }
    let mut model = None;
    let mut version_ok = false;
    for t in tokens {
        let is_model_id = ["gemini-", "gpt-", "claude-"]
            .iter()
            .any(|p| t.starts_with(p) && t.len() > p.len())
            && t.chars()
                .all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '.' | '_' | ':'));
        if MODEL_FAMILIES.contains(t) || is_model_id {
            if model.is_some() {
                return None;
            }
            model = Some((*t).to_owned());
            version_ok = MODEL_FAMILIES.contains(t);
        } else if matches!(
            *t,
            "weekly" | "week" | "daily" | "only" | "session" | "models"
        ) {
        } else if version_ok
            && model.is_some()
            && t.chars().all(|c| c.is_ascii_digit() || c == '.')
            && t.starts_with(|c: char| c.is_ascii_digit())
        {
            // "Fable 5", "Opus 4.8": the family's window, whatever the version.
            version_ok = false;
        } else {
            return None;
        }
    }
    model
}

/// Parses a reset text into the time it names, seen from `now` (see the module
/// documentation for the forms). `None` when the text is not a time baton can be sure of,
/// including when it names an unknown zone.
pub fn parse_reset(text: &str, now: &Zoned) -> Option<Zoned> {
    let spec = parse_spec(text, now)?;
    resolve(&spec, now, now.timestamp())
}

/// The reset a text names for this window, in milliseconds since the Unix epoch, or `None`
/// when it cannot be placed: it does not parse, or lies further ahead than the window can
/// reset. A time of day is its next occurrence; a fixed instant or a dated reset may have
/// passed.
fn placed_reset(text: &str, now: &Zoned, window: &QuotaWindow) -> Option<i64> {
    let spec = parse_spec(text, now)?;
    let at = resolve(&spec, now, now.timestamp())?
        .timestamp()
        .as_millisecond();
    let now_ms = now.timestamp().as_millisecond();
    let max_ahead = window.max_reset_ms().saturating_add(RESET_SLACK_MS);
    if at.saturating_sub(now_ms) <= max_ahead {
        return Some(at);
    }
    // A time of day whose next occurrence is out of the window's reach, but which passed
    // within it: the notice is older than its reset, and the window reset then (a 5-hour
    // window's "resets 3:30pm" read at 15:38). Kept as a reset that passed, never as the
    // percentage of a window still running.
    if let Spec::Local {
        date: DateSpec::None,
        ..
    } = spec
    {
        let since = Timestamp::from_millisecond(now_ms.saturating_sub(max_ahead)).ok()?;
        let before = resolve(&spec, now, since)?.timestamp().as_millisecond();
        if before <= now_ms {
            return Some(before);
        }
    }
    None
}

/// Why a hint gives no reading, or `None` when it gives one: for the shell's log, so no
/// quota line on screen is dropped silently.
pub fn refusal(hint: &QuotaHint) -> Option<String> {
    if !hint.used_percent.is_finite() || !(0.0..=100.0).contains(&hint.used_percent) {
        return Some(format!(
            "{}% is not a percentage of a quota",
            hint.used_percent
        ));
    }
    match hint.window.as_deref() {
        Some(words) if parse_window(words).is_none() => {
            Some(format!("`{words}` names no quota window"))
        }
        _ => None,
    }
}

/// A parsed reset text, before it is placed after `now`.
enum Spec {
    /// A fixed instant (relative to `now`, or epoch seconds).
    Instant(Timestamp),
    /// A local time, with the zone it is read in.
    Local {
        date: DateSpec,
        time: Time,
        tz: TimeZone,
    },
}

enum DateSpec {
    /// Today or tomorrow.
    None,
    /// The next such weekday (today included).
    Weekday(Weekday),
    /// A month and day, with the year if given.
    MonthDay {
        month: i8,
        day: i8,
        year: Option<i16>,
    },
}

/// Places a spec: the first occurrence at or after `after` (a date with its year is placed
/// as it is, even in the past). A local time that does not exist or exists twice on its
/// date (a DST change) is `None`: there is no telling which instant the CLI meant.
fn resolve(spec: &Spec, now: &Zoned, after: Timestamp) -> Option<Zoned> {
    let (date, time, tz) = match spec {
        Spec::Instant(t) => return Some(t.to_zoned(now.time_zone().clone())),
        Spec::Local { date, time, tz } => (date, *time, tz),
    };
    let after_local = after.to_zoned(tz.clone()).datetime();
    let today = after_local.date();
    let candidates: Vec<Date> = match *date {
        DateSpec::None => vec![today, today.tomorrow().ok()?],
        DateSpec::Weekday(wd) => {
            let mut days = Vec::new();
            let mut d = today;
            for _ in 0..=7 {
                if d.weekday() == wd {
                    days.push(d);
                }
                d = d.tomorrow().ok()?;
            }
            days
        }
        DateSpec::MonthDay {
            month,
            day,
            year: Some(y),
        } => {
            let d = Date::new(y, month, day).ok()?;
            return tz
                .to_ambiguous_zoned(d.to_datetime(time))
                .unambiguous()
                .ok();
        }
        DateSpec::MonthDay {
            month,
            day,
            year: None,
        } => {
            let y = today.year();
            [Some(y), y.checked_add(1)]
                .into_iter()
                .flatten()
                .filter_map(|y| Date::new(y, month, day).ok())
                .collect()
        }
    };
    for d in candidates {
        let dt = d.to_datetime(time);
        if dt < after_local {
            continue;
        }
        let z = tz.to_ambiguous_zoned(dt).unambiguous().ok()?;
        if z.timestamp() >= after {
            return Some(z);
        }
    }
    None
}

fn parse_spec(text: &str, now: &Zoned) -> Option<Spec> {
    // Drop what follows a separator ("· /upgrade to …") and final punctuation.
    let text = text.split(['·', '∙', '•', '|']).next()?;
    let text = text
        .trim()
        .trim_end_matches(|c: char| c == '.' || c == ',' || c.is_whitespace());
    if text.is_empty() || text.len() > 80 {
        return None;
    }
    if text.len() == 10 && text.bytes().all(|b| b.is_ascii_digit()) {
        let secs: i64 = text.parse().ok()?;
        return Timestamp::from_second(secs).ok().map(Spec::Instant);
    }
    // One parenthesized part, at the end: a zone, or Codex's "(14:30)".
    let (body, paren) = match text.find('(') {
        Some(open) => {
            let rest = &text[open + 1..];
            let close = rest.find(')')?;
            if !rest[close + 1..].trim().is_empty() {
                return None;
            }
            (text[..open].trim(), Some(rest[..close].trim()))
        }
        None => (text, None),
    };
    if body.contains(')') {
        return None;
    }
    let mut words: Vec<&str> = body
        .split(|c: char| c.is_whitespace() || c == ',')
        .filter(|w| !w.is_empty())
        .collect();
    let lead = words.first().map(|w| w.to_ascii_lowercase());
    if matches!(lead.as_deref(), Some("in" | "after")) {
        words.remove(0);
        if paren.is_some() {
            return None;
        }
        return relative(&words.join(" "))
            .and_then(|d| now.timestamp().checked_add(d).ok())
            .map(Spec::Instant);
    }
    if paren.is_none()
        && let Some(d) = relative(&words.join(" "))
    {
        return now.timestamp().checked_add(d).ok().map(Spec::Instant);
    }
    let mut zone = None;
    if let Some(p) = paren {
        let inner: Vec<&str> = p.split_whitespace().collect();
        let is_time = match inner.as_slice() {
            [w] => parse_time_word(w, None).is_some(),
            [w, m] => meridiem_of(&m.to_ascii_lowercase())
                .is_some_and(|pm| parse_time_word(w, Some(pm)).is_some()),
            _ => false,
        };
        if is_time {
            words.extend(inner);
        } else {
            zone = Some(p);
        }
    }
    // A zone written after the time, without parentheses ("11:00 AM GMT+2", "3:45 PM PDT").
    if zone.is_none()
        && let Some(last) = words.last()
        && looks_like_zone(last)
    {
        zone = words.pop();
    }
    let (date, time) = parse_local(&words)?;
    let tz = match zone {
        Some(z) => parse_zone(z, now)?,
        None => now.time_zone().clone(),
    };
    Some(Spec::Local { date, time, tz })
}

/// A duration such as `2h 15m`, `1d 5h`, `21h39m57s`, `4hr 29min`, `2 hours`, `53s`.
fn relative(text: &str) -> Option<SignedDuration> {
    let s = text.to_ascii_lowercase();
    let mut chars = s.chars().peekable();
    let mut total: i64 = 0;
    let mut parts = 0;
    loop {
        while chars.peek().is_some_and(|c| c.is_whitespace() || *c == ',') {
            chars.next();
        }
        if chars.peek().is_none() {
            break;
        }
        let mut num = String::new();
        while let Some(c) = chars.peek().copied().filter(char::is_ascii_digit) {
            num.push(c);
            chars.next();
        }
        if num.is_empty() || num.len() > 4 {
            return None;
        }
        while chars.peek().is_some_and(|c| *c == ' ') {
            chars.next();
        }
        let mut unit = String::new();
        while let Some(c) = chars.peek().copied().filter(char::is_ascii_alphabetic) {
            unit.push(c);
            chars.next();
        }
        let secs: i64 = match unit.as_str() {
            "d" | "day" | "days" => 86_400,
            "h" | "hr" | "hrs" | "hour" | "hours" => 3600,
            "m" | "min" | "mins" | "minute" | "minutes" => 60,
            "s" | "sec" | "secs" | "second" | "seconds" => 1,
            _ => return None,
        };
        total = total.checked_add(num.parse::<i64>().ok()?.checked_mul(secs)?)?;
        parts += 1;
    }
    // At most 400 days: anything longer is not a quota reset.
    (parts > 0 && total <= 400 * 86_400).then(|| SignedDuration::from_secs(total))
}

/// The date and time of the words left once the zone is taken off.
fn parse_local(words: &[&str]) -> Option<(DateSpec, Time)> {
    let mut time = None;
    let mut weekday = None;
    let mut month = None;
    let mut numbers: Vec<i64> = Vec::new();
    let mut i = 0;
    while i < words.len() {
        let w = words[i].to_ascii_lowercase();
        let next = words.get(i + 1).map(|n| n.to_ascii_lowercase());
        let meridiem = next.as_deref().and_then(meridiem_of);
        if let Some(t) = parse_time_word(&w, meridiem) {
            if time.replace(t).is_some() {
                return None;
            }
            i += if meridiem.is_some() { 2 } else { 1 };
            continue;
        }
        if matches!(w.as_str(), "at" | "on") {
        } else if let Some(wd) = weekday_of(&w) {
            if weekday.replace(wd).is_some() {
                return None;
            }
        } else if let Some(m) = month_of(&w) {
            if month.replace(m).is_some() {
                return None;
            }
        } else {
            let digits = w
                .strip_suffix("st")
                .or_else(|| w.strip_suffix("nd"))
                .or_else(|| w.strip_suffix("rd"))
                .or_else(|| w.strip_suffix("th"))
                .unwrap_or(&w);
            if digits.is_empty() || digits.len() > 4 || !digits.bytes().all(|b| b.is_ascii_digit())
            {
                return None;
            }
            numbers.push(digits.parse().ok()?);
        }
        i += 1;
    }
    let time = time?;
    let date = match (month, numbers.as_slice()) {
        (None, []) => match weekday {
            Some(wd) => DateSpec::Weekday(wd),
            None => DateSpec::None,
        },
        (Some(month), nums) => {
            let (mut day, mut year) = (None, None);
            for n in nums {
                if (1..=31).contains(n) && day.is_none() {
                    day = Some(i8::try_from(*n).ok()?);
                } else if (1970..=2200).contains(n) && year.is_none() {
                    year = Some(i16::try_from(*n).ok()?);
                } else {
                    return None;
                }
            }
            let day = day?;
            if let (Some(wd), Some(y)) = (weekday, year) {
                // A weekday with a full date must agree with it.
                if Date::new(y, month, day).ok()?.weekday() != wd {
                    return None;
                }
            } else if weekday.is_some() {
                // A weekday with a day and month but no year: ambiguous, unlikely on a screen.
                return None;
            }
            DateSpec::MonthDay { month, day, year }
        }
        (None, _) => return None,
    };
    Some((date, time))
}

fn meridiem_of(w: &str) -> Option<bool> {
    match w {
        "am" | "a.m." => Some(false),
        "pm" | "p.m." => Some(true),
        _ => None,
    }
}

/// A time of day: `2pm`, `2:30pm`, `12:00am`, `14:00`, `03:14`, `2:30:15`; `meridiem` is a
/// separate `AM`/`PM` word that follows (`true` for PM).
fn parse_time_word(w: &str, meridiem: Option<bool>) -> Option<Time> {
    let w = w.to_ascii_lowercase();
    let (clock, pm) = if let Some(c) = w.strip_suffix("am").or_else(|| w.strip_suffix("a.m.")) {
        if meridiem.is_some() {
            return None;
        }
        (c, Some(false))
    } else if let Some(c) = w.strip_suffix("pm").or_else(|| w.strip_suffix("p.m.")) {
        if meridiem.is_some() {
            return None;
        }
        (c, Some(true))
    } else {
        (w.as_str(), meridiem)
    };
    let mut parts = clock.split(':');
    let h = parts.next()?;
    let m = parts.next();
    let s = parts.next();
    // A bare number is not a time ("14", "25" are days or noise).
    if m.is_none() && pm.is_none() {
        return None;
    }
    if parts.next().is_some() || h.is_empty() || h.len() > 2 {
        return None;
    }
    let two = |p: &str| p.len() == 2 && p.bytes().all(|b| b.is_ascii_digit());
    if !h.bytes().all(|b| b.is_ascii_digit())
        || m.is_some_and(|m| !two(m))
        || s.is_some_and(|s| !two(s))
    {
        return None;
    }
    let h: i8 = h.parse().ok()?;
    let m: i8 = m.map_or(Some(0), |m| m.parse().ok())?;
    let s: i8 = s.map_or(Some(0), |s| s.parse().ok())?;
    let hour = match pm {
        None => h,
        Some(pm) => {
            if !(1..=12).contains(&h) {
                return None;
            }
            match (h, pm) {
                (12, false) => 0,
                (12, true) => 12,
                (h, false) => h,
                (h, true) => h + 12,
            }
        }
    };
    Time::new(hour, m, s, 0).ok()
}

fn weekday_of(w: &str) -> Option<Weekday> {
    Some(match w {
        "mon" | "monday" => Weekday::Monday,
        "tue" | "tues" | "tuesday" => Weekday::Tuesday,
        "wed" | "weds" | "wednesday" => Weekday::Wednesday,
        "thu" | "thur" | "thurs" | "thursday" => Weekday::Thursday,
        "fri" | "friday" => Weekday::Friday,
        "sat" | "saturday" => Weekday::Saturday,
        "sun" | "sunday" => Weekday::Sunday,
        _ => return None,
    })
}

fn month_of(w: &str) -> Option<i8> {
    const MONTHS: [&str; 12] = [
        "january",
        "february",
        "march",
        "april",
        "may",
        "june",
        "july",
        "august",
        "september",
        "october",
        "november",
        "december",
    ];
    let w = w.trim_end_matches('.');
    let i = MONTHS.iter().position(|m| {
        *m == w || (w.len() == 3 && m.starts_with(w)) || (w == "sept" && *m == "september")
    })?;
    i8::try_from(i + 1).ok()
}

fn looks_like_zone(w: &str) -> bool {
    let lower = w.to_ascii_lowercase();
    if meridiem_of(&lower).is_some() || weekday_of(&lower).is_some() || month_of(&lower).is_some() {
        return false;
    }
    matches!(lower.as_str(), "utc" | "gmt" | "z")
        || lower.starts_with("utc+")
        || lower.starts_with("utc-")
        || lower.starts_with("gmt+")
        || lower.starts_with("gmt-")
        || w.contains('/')
        || ((2..=5).contains(&w.len()) && w.bytes().all(|b| b.is_ascii_uppercase()))
}

/// A zone as a screen writes it; `None` when baton cannot be sure which zone it is.
fn parse_zone(z: &str, now: &Zoned) -> Option<TimeZone> {
    let lower = z.to_ascii_lowercase();
    if matches!(lower.as_str(), "utc" | "gmt" | "z" | "etc/utc" | "etc/gmt") {
        return Some(TimeZone::UTC);
    }
    for prefix in ["utc", "gmt"] {
        if let Some(rest) = lower.strip_prefix(prefix)
            && (rest.starts_with('+') || rest.starts_with('-'))
        {
            return fixed_offset(rest).map(TimeZone::fixed);
        }
    }
    if z.contains('/') {
        return TimeZone::get(z).ok();
    }
    // An abbreviation is only trusted when it is the local zone's (now, or at the other end
    // of the year for the other side of DST).
    if (2..=5).contains(&z.len()) && z.bytes().all(|b| b.is_ascii_uppercase()) {
        let tz = now.time_zone();
        let half_year = SignedDuration::from_hours(24 * 183);
        let instants = [
            Some(now.timestamp()),
            now.timestamp().checked_add(half_year).ok(),
            now.timestamp().checked_sub(half_year).ok(),
        ];
        let known = instants
            .into_iter()
            .flatten()
            .any(|t| tz.to_offset_info(t).abbreviation() == z);
        return known.then(|| tz.clone());
    }
    None
}

/// `+2`, `-3`, `+05:30`, `+0530` → an offset.
fn fixed_offset(s: &str) -> Option<Offset> {
    let (sign, rest) = match s.as_bytes().first()? {
        b'+' => (1, &s[1..]),
        b'-' => (-1, &s[1..]),
        _ => return None,
    };
    let (h, m) = match rest.split_once(':') {
        Some((h, m)) => (h, m),
        None if rest.len() == 4 => rest.split_at(2),
        None => (rest, "0"),
    };
    if h.is_empty()
        || h.len() > 2
        || m.is_empty()
        || m.len() > 2
        || !h.bytes().chain(m.bytes()).all(|b| b.is_ascii_digit())
    {
        return None;
    }
    let (h, m): (i32, i32) = (h.parse().ok()?, m.parse().ok()?);
    if h > 14 || m > 59 {
        return None;
    }
    Offset::from_seconds(sign * (h * 3600 + m * 60)).ok()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::detector::detect;
    use crate::profile::Profile;
    use crate::profile::builtin_spec;

    /// Monday 20 July 2026, 10:00 in Paris (CEST, UTC+2).
    const NOW: &str = "2026-07-20T10:00:00[Europe/Paris]";

    fn z(s: &str) -> Zoned {
        let s = if s.contains('[') {
            s.to_owned()
        } else {
            format!("{s}[UTC]")
        };
        s.parse().unwrap_or_else(|e| panic!("{s}: {e}"))
    }

    fn ms(s: &str) -> i64 {
        z(s).timestamp().as_millisecond()
    }

    fn profile(name: &str) -> Profile {
        builtin_spec(name).unwrap().resolve(name).unwrap()
    }

    /// The readings of a screen, through the detector's hints.
    fn read(cli: &str, screen: &str, now: &str) -> Vec<QuotaReading> {
        readings(&detect(&profile(cli), screen).quota, &z(now))
    }

    fn model(m: &str) -> QuotaWindow {
        QuotaWindow::Model(m.to_owned())
    }

    #[test]
    fn builtin_profiles_compile() {
        // Patterns compile lazily and a broken one matches nothing: compile them all here.
        for name in crate::profile::builtin_names() {
            profile(name)
                .compile_all()
                .unwrap_or_else(|e| panic!("{name}: {e}"));
        }
    }

    #[test]
    fn reset_times() {
        let now = z(NOW);
        for (text, want) in [
            // Times of day: today when still ahead, else tomorrow.
            (
                "2pm (Europe/Paris)",
                "2026-07-20T14:00:00+02:00[Europe/Paris]",
            ),
            ("2pm", "2026-07-20T14:00:00+02:00[Europe/Paris]"),
            ("2 pm", "2026-07-20T14:00:00+02:00[Europe/Paris]"),
            ("2:30pm", "2026-07-20T14:30:00+02:00[Europe/Paris]"),
            ("2:30 PM", "2026-07-20T14:30:00+02:00[Europe/Paris]"),
            ("14:00", "2026-07-20T14:00:00+02:00[Europe/Paris]"),
            ("10:00", "2026-07-20T10:00:00+02:00[Europe/Paris]"),
            ("12pm", "2026-07-20T12:00:00+02:00[Europe/Paris]"),
            ("12am", "2026-07-21T00:00:00+02:00[Europe/Paris]"),
            ("12:00am", "2026-07-21T00:00:00+02:00[Europe/Paris]"),
            ("03:14", "2026-07-21T03:14:00+02:00[Europe/Paris]"),
            ("9am", "2026-07-21T09:00:00+02:00[Europe/Paris]"),
            ("9:59:30", "2026-07-21T09:59:30+02:00[Europe/Paris]"),
            ("7:07am (UTC)", "2026-07-21T07:07:00+00:00[UTC]"),
            ("8:30am (UTC)", "2026-07-20T08:30:00+00:00[UTC]"),
            ("6:38am.", "2026-07-21T06:38:00+02:00[Europe/Paris]"),
            (
                "7:07am (UTC) · /upgrade to keep using Claude Code",
                "2026-07-21T07:07:00+00:00[UTC]",
            ),
            (
                "1pm (Europe/Madrid)",
                "2026-07-20T13:00:00+02:00[Europe/Madrid]",
            ),
            ("4pm (Asia/Tokyo)", "2026-07-21T16:00:00+09:00[Asia/Tokyo]"),
            ("6pm (Asia/Tokyo)", "2026-07-20T18:00:00+09:00[Asia/Tokyo]"),
            (
                "12:50am (America/Los_Angeles)",
                "2026-07-21T00:50:00-07:00[America/Los_Angeles]",
            ),
            // Zones without parentheses (Gemini), offsets, the local abbreviation.
            ("11:00 AM GMT+2", "2026-07-20T09:00:00Z"),
            ("11:00 AM UTC+05:30", "2026-07-21T05:30:00Z"),
            ("3:45 PM GMT", "2026-07-20T15:45:00Z"),
            ("3:45 PM CEST", "2026-07-20T15:45:00+02:00[Europe/Paris]"),
            ("3:45 PM CET", "2026-07-20T15:45:00+02:00[Europe/Paris]"),
            // Weekdays: the next such day, today included while the time is ahead.
            ("Mon 9:00", "2026-07-27T09:00:00+02:00[Europe/Paris]"),
            ("Mon 11:00", "2026-07-20T11:00:00+02:00[Europe/Paris]"),
            ("Mon 12:00am", "2026-07-27T00:00:00+02:00[Europe/Paris]"),
            ("Friday 2:00 PM", "2026-07-24T14:00:00+02:00[Europe/Paris]"),
            (
                "Sun 9pm (America/New_York)",
                "2026-07-26T21:00:00-04:00[America/New_York]",
            ),
            // Dates: the next such date unless the year is given.
            ("Jul 25, 9pm", "2026-07-25T21:00:00+02:00[Europe/Paris]"),
            ("Jul 25 at 9pm", "2026-07-25T21:00:00+02:00[Europe/Paris]"),
            (
                "Jul 25 at 9pm (America/New_York)",
                "2026-07-25T21:00:00-04:00[America/New_York]",
            ),
            (
                "Jul 25, 9pm (America/New_York)",
                "2026-07-25T21:00:00-04:00[America/New_York]",
            ),
            ("July 25, 9:30pm", "2026-07-25T21:30:00+02:00[Europe/Paris]"),
            ("Jul 20, 11am", "2026-07-20T11:00:00+02:00[Europe/Paris]"),
            ("Jul 19, 9pm", "2027-07-19T21:00:00+02:00[Europe/Paris]"),
            (
                "Dec 2, 7pm (Europe/Moscow)",
                "2026-12-02T19:00:00+03:00[Europe/Moscow]",
            ),
            (
                "Jan 30, 11:30am (Asia/Calcutta)",
                "2027-01-30T11:30:00+05:30[Asia/Kolkata]",
            ),
            (
                "Sep 24 at 3pm (Australia/Brisbane)",
                "2026-09-24T15:00:00+10:00[Australia/Brisbane]",
            ),
            ("Oct 9 at 10am", "2026-10-09T10:00:00+02:00[Europe/Paris]"),
            // Codex: "14:30 on 15 Jan" and "15 Jan (14:30)"; January is CET (+01:00).
            ("14:30 on 15 Jan", "2027-01-15T14:30:00+01:00[Europe/Paris]"),
            ("15 Jan (14:30)", "2027-01-15T14:30:00+01:00[Europe/Paris]"),
            (
                "25 Jul (2:30 PM)",
                "2026-07-25T14:30:00+02:00[Europe/Paris]",
            ),
            (
                "Jul 29th, 2026 1:47 AM",
                "2026-07-29T01:47:00+02:00[Europe/Paris]",
            ),
            (
                "Aug 10, 2026, 11:12 AM",
                "2026-08-10T11:12:00+02:00[Europe/Paris]",
            ),
            (
                "Sep 1st, 2026 3:14 PM",
                "2026-09-01T15:14:00+02:00[Europe/Paris]",
            ),
            (
                "Sat Jul 25, 2026 9pm",
                "2026-07-25T21:00:00+02:00[Europe/Paris]",
            ),
            // A dated year in the past is placed as written (readings drop it).
            (
                "Jul 9th, 2026 1:47 AM",
                "2026-07-09T01:47:00+02:00[Europe/Paris]",
            ),
            // Relative times and epoch seconds.
            ("in 2h 15m", "2026-07-20T12:15:00+02:00[Europe/Paris]"),
            ("in 1d 5h", "2026-07-21T15:00:00+02:00[Europe/Paris]"),
            ("21h39m57s", "2026-07-21T07:39:57+02:00[Europe/Paris]"),
            ("8h 10m", "2026-07-20T18:10:00+02:00[Europe/Paris]"),
            ("in 4hr 29min", "2026-07-20T14:29:00+02:00[Europe/Paris]"),
            ("in 53s", "2026-07-20T10:00:53+02:00[Europe/Paris]"),
            ("in 2 hours", "2026-07-20T12:00:00+02:00[Europe/Paris]"),
            (
                "in 4 days 22 hours 51 minutes",
                "2026-07-25T08:51:00+02:00[Europe/Paris]",
            ),
            ("1760004000", "2025-10-09T10:00:00Z"),
        ] {
            let got = parse_reset(text, &now).unwrap_or_else(|| panic!("no time for {text:?}"));
            assert_eq!(got.timestamp(), z(want).timestamp(), "{text:?} gave {got}");
        }
    }

    #[test]
    fn reset_times_keep_the_named_zone() {
        let now = z(NOW);
        let got = parse_reset("Jul 25 at 9pm (America/New_York)", &now).unwrap();
        assert_eq!(got.time_zone().iana_name(), Some("America/New_York"));
        let local = parse_reset("2pm", &now).unwrap();
        assert_eq!(local.time_zone().iana_name(), Some("Europe/Paris"));
    }

    #[test]
    fn reset_times_across_dst() {
        // Saturday 24 October 2026, CEST; Paris goes back to CET on Sunday the 25th at 3am.
        let now = z("2026-10-24T10:00:00[Europe/Paris]");
        let mon = parse_reset("Mon 9:00", &now).unwrap();
        assert_eq!(mon.to_string(), "2026-10-26T09:00:00+01:00[Europe/Paris]");
        assert_eq!(mon.timestamp(), z("2026-10-26T08:00:00Z").timestamp());
        // A relative time is exact: 24 h later is 9am local, not 10am.
        let day = parse_reset("in 24h", &now).unwrap();
        assert_eq!(day.to_string(), "2026-10-25T09:00:00+01:00[Europe/Paris]");
        // "9am" on the night of the change: the next day, at its own offset.
        let now = z("2026-10-24T23:00:00[Europe/Paris]");
        let nine = parse_reset("9am", &now).unwrap();
        assert_eq!(nine.to_string(), "2026-10-25T09:00:00+01:00[Europe/Paris]");
        // 2:30am happens twice that night, and not at all on 29 March: no telling which.
        assert_eq!(parse_reset("2:30am", &now), None);
        let spring = z("2026-03-29T01:00:00[Europe/Paris]");
        assert_eq!(parse_reset("2:30am", &spring), None);
        assert_eq!(
            parse_reset("3:30am", &spring).unwrap().to_string(),
            "2026-03-29T03:30:00+02:00[Europe/Paris]"
        );
        // Later that day, 2:30am means tomorrow's, which exists.
        let later = z("2026-03-29T12:00:00[Europe/Paris]");
        assert_eq!(
            parse_reset("2:30am", &later).unwrap().to_string(),
            "2026-03-30T02:30:00+02:00[Europe/Paris]"
        );
    }

    #[test]
    fn garbage_resets_are_no_time() {
        let now = z(NOW);
        for text in [
            "",
            "   ",
            "soon",
            "tomorrow",
            "resets 2pm",
            "14",
            "25",
            "2",
            "13pm",
            "0am",
            "0:30am",
            "24:00",
            "25:00",
            "10:60",
            "10:5",
            "10:",
            ":30",
            "1:2:3:4",
            "2:30:99pm",
            "2pm pm",
            "2pm 3pm",
            "Jul 32, 9pm",
            "Feb 30, 9pm",
            "Jul 25",
            "Mon",
            "Jul",
            "Jul Aug 25 9pm",
            "Jul 25 26 9pm",
            "Mon Tue 9am",
            "Tue Jul 25, 2026 9pm",
            "Mon Jul 27 9pm",
            "Jul 25, 1850 9pm",
            "9pm (Mars/Olympus)",
            "9pm (Nowhere)",
            "9pm (XYZ)",
            "9pm PDT",
            "9pm EST",
            "9pm GMT+25",
            "9pm UTC+2:75",
            "9pm GMT+",
            "Jul 25, 9pm (Europe/Paris",
            "9pm (UTC) extra",
            "9pm (UTC) (UTC)",
            "9pm)",
            "in",
            "in 2x",
            "in 2",
            "in h",
            "in 99999h",
            "in 2h (UTC)",
            "after",
            "12345678901",
            "176000400",
            "-5m",
            "2h ago",
            "next week",
            "at",
            "on 15 Jan",
        ] {
            assert_eq!(parse_reset(text, &now), None, "{text:?}");
        }
    }

    #[test]
    fn window_words() {
        for (words, want) in [
            ("session", QuotaWindow::Session5h),
            ("Session", QuotaWindow::Session5h),
            ("5-hour", QuotaWindow::Session5h),
            ("5h", QuotaWindow::Session5h),
            ("current session", QuotaWindow::Session5h),
            ("weekly", QuotaWindow::Weekly),
            ("Weekly", QuotaWindow::Weekly),
            ("current week (all models)", QuotaWindow::Weekly),
            ("daily", QuotaWindow::Daily),
            ("24h", QuotaWindow::Daily),
            ("1h", QuotaWindow::Minutes(60)),
            ("Monthly", QuotaWindow::Minutes(43_200)),
            ("Opus", model("opus")),
            ("Sonnet", model("sonnet")),
            ("Opus weekly", model("opus")),
            ("weekly Opus", model("opus")),
            ("current week (Sonnet only)", model("sonnet")),
            ("Fable 5", model("fable")),
            ("Opus 4.8", model("opus")),
            ("all Pro models", model("pro")),
            ("gemini-2.5-pro", model("gemini-2.5-pro")),
            ("daily gemini-2.5-pro", model("gemini-2.5-pro")),
            ("GPT-5.3-Codex-Spark", model("gpt-5.3-codex-spark")),
            ("usage", QuotaWindow::Unnamed),
        ] {
            assert_eq!(parse_window(words), Some(want), "{words:?}");
        }
        for words in [
            "",
            " ",
            "banana",
            "5-day",
            "0h",
            "9999h",
            "h",
            "Opus Sonnet",
            "Opus banana",
            "5 Opus",
            "all models",
            "all 2 models",
            "gemini-",
            "weekly session",
            "Usage limit reached",
        ] {
            assert_eq!(parse_window(words), None, "{words:?}");
        }
    }

    /// cli, now, screen, window, percent, reset.
    type Case = (
        &'static str,
        &'static str,
        &'static str,
        QuotaWindow,
        f64,
        Option<&'static str>,
    );

    /// Every quota and limit line of AGENT-FACTS (and the variants seen in the wild), read
    /// through the profiles: (cli, now, screen, window, percent, reset).
    #[test]
    fn every_known_quota_line() {
        let cases: &[Case] = &[
            // Claude Code footers.
            (
                "claude",
                "2026-07-20T05:00:00Z",
                "You've used 93% of your 5-hour limit · resets 7:07am (UTC)",
                QuotaWindow::Session5h,
                93.0,
                Some("2026-07-20T07:07:00Z"),
            ),
            (
                "claude",
                NOW,
                "  You've used 93% of your session limit · resets 2pm (Europe/Paris)",
                QuotaWindow::Session5h,
                93.0,
                Some("2026-07-20T14:00:00+02:00[Europe/Paris]"),
            ),
            (
                "claude",
                NOW,
                "You've used 81% of your session limit · resets 2:30pm · /upgrade to keep using Claude Code",
                QuotaWindow::Session5h,
                81.0,
                Some("2026-07-20T14:30:00+02:00[Europe/Paris]"),
            ),
            (
                "claude",
                NOW,
                "You’ve used 81% of your session limit ∙ resets 3pm",
                QuotaWindow::Session5h,
                81.0,
                Some("2026-07-20T15:00:00+02:00[Europe/Paris]"),
            ),
            (
                "claude",
                NOW,
                "You've used 60% of your weekly limit · resets Mon 12:00am",
                QuotaWindow::Weekly,
                60.0,
                Some("2026-07-27T00:00:00+02:00[Europe/Paris]"),
            ),
            (
                "claude",
                NOW,
                "You've used 93% of your Opus limit · resets Jul 25, 9pm (America/New_York)",
                model("opus"),
                93.0,
                Some("2026-07-25T21:00:00-04:00[America/New_York]"),
            ),
            (
                "claude",
                NOW,
                "You've used 70% of your weekly limit · resets Jul 25, 9pm (America/New_York) · /upgrade to keep using Claude Code",
                QuotaWindow::Weekly,
                70.0,
                Some("2026-07-25T21:00:00-04:00[America/New_York]"),
            ),
            (
                "claude",
                NOW,
                "You've used 50% of your weekly limit",
                QuotaWindow::Weekly,
                50.0,
                None,
            ),
            // Claude Code limits reached: 100 % of the named window.
            (
                "claude",
                "2026-07-20T05:00:00Z",
                "⎿  You've hit your 5-hour limit · resets 6:38am (UTC)",
                QuotaWindow::Session5h,
                100.0,
                Some("2026-07-20T06:38:00Z"),
            ),
            (
                "claude",
                NOW,
                "You've hit your session limit · resets 3:45pm",
                QuotaWindow::Session5h,
                100.0,
                Some("2026-07-20T15:45:00+02:00[Europe/Paris]"),
            ),
            (
                "claude",
                NOW,
                "You've hit your session limit · resets in 1h 5m",
                QuotaWindow::Session5h,
                100.0,
                Some("2026-07-20T11:05:00+02:00[Europe/Paris]"),
            ),
            (
                "claude",
                NOW,
                "You've hit your weekly limit · resets Jul 25, 9pm (America/New_York)",
                QuotaWindow::Weekly,
                100.0,
                Some("2026-07-25T21:00:00-04:00[America/New_York]"),
            ),
            (
                "claude",
                "2026-09-20T12:00:00[Australia/Brisbane]",
                "You've hit your weekly limit · resets Sep 24 at 3pm (Australia/Brisbane)",
                QuotaWindow::Weekly,
                100.0,
                Some("2026-09-24T15:00:00+10:00[Australia/Brisbane]"),
            ),
            (
                "claude",
                NOW,
                "You've hit your Opus limit · resets Jul 25, 9pm",
                model("opus"),
                100.0,
                Some("2026-07-25T21:00:00+02:00[Europe/Paris]"),
            ),
            (
                "claude",
                NOW,
                "You've hit your limit · resets 8pm (Africa/Cairo)",
                QuotaWindow::Unnamed,
                100.0,
                Some("2026-07-20T20:00:00+03:00[Africa/Cairo]"),
            ),
            (
                "claude",
                "2026-01-28T12:00:00[Asia/Kolkata]",
                "You've hit your limit · resets Jan 30, 11:30am (Asia/Calcutta)",
                QuotaWindow::Unnamed,
                100.0,
                Some("2026-01-30T11:30:00+05:30[Asia/Kolkata]"),
            ),
            (
                "claude",
                NOW,
                "5-hour limit reached ∙ resets 2pm",
                QuotaWindow::Session5h,
                100.0,
                Some("2026-07-20T14:00:00+02:00[Europe/Paris]"),
            ),
            (
                "claude",
                NOW,
                "Session limit reached ∙ resets 1pm",
                QuotaWindow::Session5h,
                100.0,
                Some("2026-07-20T13:00:00+02:00[Europe/Paris]"),
            ),
            (
                "claude",
                "2026-11-29T12:00:00[Europe/Moscow]",
                "Weekly limit reached · resets Dec 2, 7pm (Europe/Moscow) ·",
                QuotaWindow::Weekly,
                100.0,
                Some("2026-12-02T19:00:00+03:00[Europe/Moscow]"),
            ),
            (
                "claude",
                "2026-10-06T12:00:00[Europe/Paris]",
                "Opus weekly limit reached ∙ resets Oct 9 at 10am",
                model("opus"),
                100.0,
                Some("2026-10-09T10:00:00+02:00[Europe/Paris]"),
            ),
            (
                "claude",
                NOW,
                "Claude usage limit reached. Your limit will reset at 1pm (Europe/Madrid).",
                QuotaWindow::Unnamed,
                100.0,
                Some("2026-07-20T13:00:00+02:00[Europe/Madrid]"),
            ),
            (
                "claude",
                "2025-10-09T08:00:00Z",
                "Claude AI usage limit reached|1760004000",
                QuotaWindow::Unnamed,
                100.0,
                Some("2025-10-09T10:00:00Z"),
            ),
            (
                "claude",
                NOW,
                "● Usage limit reached · continuing automatically at 3:45pm · esc to cancel",
                QuotaWindow::Unnamed,
                100.0,
                Some("2026-07-20T15:45:00+02:00[Europe/Paris]"),
            ),
            (
                "claude",
                NOW,
                "  ⚠ Usage limit reached · limit resets 6:38pm",
                QuotaWindow::Unnamed,
                100.0,
                Some("2026-07-20T18:38:00+02:00[Europe/Paris]"),
            ),
            // Codex /status and warnings.
            (
                "codex",
                "2026-07-20T00:00:00[Europe/Paris]",
                "  5h limit: [███░░] 72% used (resets 03:14)",
                QuotaWindow::Session5h,
                72.0,
                Some("2026-07-20T03:14:00+02:00[Europe/Paris]"),
            ),
            (
                "codex",
                NOW,
                "  Weekly limit: [█░░░░] 55% left",
                QuotaWindow::Weekly,
                45.0,
                None,
            ),
            (
                "codex",
                NOW,
                "  Weekly limit: [█░░░░] 55% left (resets 14:30 on 25 Jul)",
                QuotaWindow::Weekly,
                45.0,
                Some("2026-07-25T14:30:00+02:00[Europe/Paris]"),
            ),
            (
                "codex",
                NOW,
                "  Weekly limit:  [██░░░] 40% used (resets 25 Jul (14:30))",
                QuotaWindow::Weekly,
                40.0,
                Some("2026-07-25T14:30:00+02:00[Europe/Paris]"),
            ),
            (
                "codex",
                NOW,
                "  5h limit: [███░░] 27.5% left (resets 12:05)",
                QuotaWindow::Session5h,
                72.5,
                Some("2026-07-20T12:05:00+02:00[Europe/Paris]"),
            ),
            (
                "codex",
                NOW,
                "  1h limit: [█░░░░] 10% used (resets 10:40)",
                QuotaWindow::Minutes(60),
                10.0,
                Some("2026-07-20T10:40:00+02:00[Europe/Paris]"),
            ),
            (
                "codex",
                NOW,
                "Heads up, you've used over 75% of your 5h limit. Run /status for a breakdown.",
                QuotaWindow::Session5h,
                75.0,
                None,
            ),
            (
                "codex",
                NOW,
                "⚠ Heads up, you have less than 25% of your weekly limit left. Run /status for a breakdown.",
                QuotaWindow::Weekly,
                75.0,
                None,
            ),
            // Codex limits reached.
            (
                "codex",
                NOW,
                "■ You've hit your usage limit. Upgrade to Pro (https://openai.com/chatgpt/pricing) or try again at 3:28 PM.",
                QuotaWindow::Unnamed,
                100.0,
                Some("2026-07-20T15:28:00+02:00[Europe/Paris]"),
            ),
            (
                "codex",
                "2026-07-07T09:00:00[Europe/Paris]",
                "■ You've hit your usage limit. Visit https://chatgpt.com/codex/settings/usage to purchase more credits or try again at Jul 9th, 2026 1:47 AM.",
                QuotaWindow::Unnamed,
                100.0,
                Some("2026-07-09T01:47:00+02:00[Europe/Paris]"),
            ),
            (
                "codex",
                "2026-08-08T09:00:00[Europe/Paris]",
                "You've hit your usage limit. Upgrade your plan or add credits to continue, or try again at Aug 10, 2026, 11:12 AM.",
                QuotaWindow::Unnamed,
                100.0,
                Some("2026-08-10T11:12:00+02:00[Europe/Paris]"),
            ),
            (
                "codex",
                "2026-07-07T09:00:00[Europe/Paris]",
                "You've hit your usage limit for GPT-5.3-Codex-Spark. Switch to another model now, or try again at Jul 9th, 2026 1:47 AM.",
                model("gpt-5.3-codex-spark"),
                100.0,
                Some("2026-07-09T01:47:00+02:00[Europe/Paris]"),
            ),
            (
                "codex",
                NOW,
                "■ You've hit your usage limit. Upgrade to Pro or try again in 2 hours 10 minutes.",
                QuotaWindow::Unnamed,
                100.0,
                Some("2026-07-20T12:10:00+02:00[Europe/Paris]"),
            ),
            // Gemini.
            (
                "gemini",
                NOW,
                "⚡ You have reached your daily quota limit.",
                QuotaWindow::Daily,
                100.0,
                None,
            ),
            (
                "gemini",
                NOW,
                "⚡ You have reached your daily gemini-2.5-pro quota limit.",
                model("gemini-2.5-pro"),
                100.0,
                None,
            ),
            (
                "gemini",
                NOW,
                "Usage limit reached for all Pro models. Access resets at 11:00 AM GMT+2.",
                model("pro"),
                100.0,
                Some("2026-07-20T09:00:00Z"),
            ),
            (
                "gemini",
                NOW,
                "│ Usage limit reached for gemini-2.5-flash-lite.                │",
                model("gemini-2.5-flash-lite"),
                100.0,
                None,
            ),
            (
                "gemini",
                NOW,
                "✕ [API Error: You have exhausted your capacity on this model. Your quota will reset after 21h39m57s.]",
                QuotaWindow::Unnamed,
                100.0,
                Some("2026-07-21T07:39:57+02:00[Europe/Paris]"),
            ),
            (
                "gemini",
                NOW,
                "│  gemini-2.5-pro                 -    80.8% (Resets in 8h 10m)        │",
                model("gemini-2.5-pro"),
                19.2,
                Some("2026-07-20T18:10:00+02:00[Europe/Paris]"),
            ),
            // Amp.
            (
                "amp",
                NOW,
                "Amp Free: $17.59/$20 remaining (replenishes +$0.83/hour)",
                QuotaWindow::Unnamed,
                (20.0 - 17.59) / 20.0 * 100.0,
                None,
            ),
            (
                "amp",
                NOW,
                "  Amp Free: $0/$20 remaining",
                QuotaWindow::Unnamed,
                100.0,
                None,
            ),
        ];
        for (cli, now, screen, window, pct, reset) in cases {
            let r = read(cli, screen, now);
            assert_eq!(r.len(), 1, "{cli}: {screen:?} gave {r:?}");
            let r = &r[0];
            assert_eq!(&r.window, window, "{screen:?}");
            assert!(
                (r.used_percent - pct).abs() < 1e-9,
                "{screen:?}: {}",
                r.used_percent
            );
            assert_eq!(r.resets_at_ms, reset.map(ms), "{screen:?}");
            assert_eq!(r.observed_ms, Some(ms(now)), "{screen:?}");
        }
    }

    #[test]
    fn real_limit_screens() {
        // Claude's limit screen (v2.1.328): one session-5h reading, the unnamed repeats of the
        // same limit left out.
        let screen = "⎿  You've hit your 5-hour limit · resets 6:38am (UTC)\n\
                      ● Usage limit reached · continuing automatically at 6:38am · esc to cancel\n\
                      ⚠ Usage limit reached · limit resets 6:38am\n\
                      Continuing automatically at 6:38am · Esc to cancel\n";
        let r = read("claude", screen, "2026-07-20T05:00:00[UTC]");
        assert_eq!(r.len(), 1, "{r:?}");
        assert_eq!(r[0].window, QuotaWindow::Session5h);
        assert_eq!(r[0].used_percent, 100.0);
        assert_eq!(r[0].resets_at_ms, Some(ms("2026-07-20T06:38:00Z")));

        // Gemini's quota dialog puts the reset on the next line of its box.
        let screen = "╭──────────────────────────────────────────────╮\n\
                      │ Usage limit reached for all Pro models.      │\n\
                      │ Access resets at 11:00 AM GMT+2.             │\n\
                      │ /stats model for usage details               │\n\
                      ╰──────────────────────────────────────────────╯\n";
        let r = read("gemini", screen, NOW);
        assert_eq!(r.len(), 1, "{r:?}");
        assert_eq!(r[0].window, model("pro"));
        assert_eq!(r[0].resets_at_ms, Some(ms("2026-07-20T09:00:00Z")));

        // Codex's limit message wrapped by the pane.
        let screen = "■ You've hit your usage limit. Upgrade to Pro (https://openai.com/chatgpt/pricing) or try\n\
                      again at 3:28 PM.\n";
        let r = read("codex", screen, NOW);
        assert_eq!(r.len(), 1, "{r:?}");
        assert_eq!(
            r[0].resets_at_ms,
            Some(ms("2026-07-20T15:28:00+02:00[Europe/Paris]"))
        );

        // Codex /status: both windows; the lowest line wins for a window seen twice.
        let screen = "  5h limit:     [███░░] 40% used (resets 12:00)\n\
                      Heads up, you've used over 75% of your weekly limit.\n\
                      \n  5h limit:     [████░] 72% used (resets 12:00)\n\
                      Weekly limit: [██░░░] 55% left (resets 14:30 on 25 Jul)\n";
        let r = read("codex", screen, NOW);
        assert_eq!(r.len(), 2, "{r:?}");
        assert_eq!(r[0].window, QuotaWindow::Session5h);
        assert_eq!(r[0].used_percent, 72.0);
        assert_eq!(r[1].window, QuotaWindow::Weekly);
        assert_eq!(r[1].used_percent, 45.0);
    }

    #[test]
    fn a_bad_reset_keeps_the_percentage() {
        // The percentage and window are unambiguous; only the reset is unknown.
        for screen in [
            "You've used 93% of your session limit · resets 2pm (Mars/Olympus)",
            "You've used 93% of your session limit · resets 2pm PDT",
            "You've used 93% of your session limit · resets whenever",
            "You've used 93% of your session limit · resets 2:30am",
        ] {
            let r = read("claude", screen, "2026-10-25T01:00:00[Europe/Paris]");
            assert_eq!(r.len(), 1, "{screen:?}");
            assert_eq!(r[0].window, QuotaWindow::Session5h);
            assert_eq!(r[0].used_percent, 93.0);
            assert_eq!(r[0].resets_at_ms, None, "{screen:?}");
        }
        let r = read("codex", "  5h limit: [███░░] 72% used (resets 25:99)", NOW);
        assert_eq!(r[0].used_percent, 72.0);
        assert_eq!(r[0].resets_at_ms, None);
    }

    #[test]
    fn a_reset_that_cannot_be_placed_keeps_the_percentage() {
        // A reset out of the window's reach (and not a time of day that passed within it):
        // no reset time, but the reading.
        for (cli, now, screen, pct) in [
            // 13 h ahead: not this window's reset either.
            (
                "claude",
                NOW,
                "You've used 95% of your session limit · resets 11pm",
                95.0,
            ),
            (
                "claude",
                NOW,
                "You've hit your session limit · resets Mon 9:00",
                100.0,
            ),
            (
                "claude",
                NOW,
                "You've used 10% of your weekly limit · resets Aug 25, 9pm",
                10.0,
            ),
            (
                "claude",
                NOW,
                "You've hit your weekly limit · resets Sep 24 at 3pm (Australia/Brisbane)",
                100.0,
            ),
            // Jul 19 without a year is next year's.
            (
                "claude",
                NOW,
                "You've hit your weekly limit · resets Jul 19, 9pm",
                100.0,
            ),
            (
                "codex",
                NOW,
                "  5h limit: [███░░] 72% used (resets 14:30 on 25 Jul)",
                72.0,
            ),
        ] {
            let r = read(cli, screen, now);
            assert_eq!(r.len(), 1, "{cli}: {screen:?} gave {r:?}");
            assert_eq!(r[0].used_percent, pct, "{screen:?}");
            assert_eq!(r[0].resets_at_ms, None, "{screen:?}");
            assert_eq!(r[0].observed_ms, Some(ms(now)), "{screen:?}");
        }
    }

    #[test]
    fn a_time_of_day_passed_within_a_short_window_is_a_reset_that_passed() {
        // The notice is older than its reset: the 5-hour window reset then, so its
        // percentage is not that of the window now running (it held the agent back).
        for (cli, now, screen, pct, at) in [
            (
                "claude",
                NOW,
                "You've used 93% of your session limit · resets 9:58am",
                93.0,
                "2026-07-20T09:58:00[Europe/Paris]",
            ),
            (
                "claude",
                "2026-07-20T10:04:59[Europe/Paris]",
                "You've used 93% of your session limit · resets 10am",
                93.0,
                "2026-07-20T10:00:00[Europe/Paris]",
            ),
            (
                "claude",
                "2026-07-20T13:00:00[UTC]",
                "You've used 95% of your session limit · resets 2pm (Europe/Paris)",
                95.0,
                "2026-07-20T12:00:00Z",
            ),
            (
                "claude",
                NOW,
                "You've hit your session limit · resets 9am",
                100.0,
                "2026-07-20T09:00:00[Europe/Paris]",
            ),
            (
                "codex",
                NOW,
                "  5h limit: [███░░] 72% used (resets 09:59)",
                72.0,
                "2026-07-20T09:59:00[Europe/Paris]",
            ),
        ] {
            let r = read(cli, screen, now);
            assert_eq!(r.len(), 1, "{cli}: {screen:?} gave {r:?}");
            assert_eq!(r[0].used_percent, pct, "{screen:?}");
            assert_eq!(r[0].resets_at_ms, Some(ms(at)), "{screen:?}");
            assert!(r[0].resets_at_ms <= Some(z(now).timestamp().as_millisecond()));
        }
    }

    #[test]
    fn a_passed_time_of_day_is_tomorrow() {
        let hint = |window: &str, reset: &str| QuotaHint {
            used_percent: 95.0,
            window: Some(window.to_owned()),
            reset: Some(reset.to_owned()),
            line: 1,
        };
        let at = |window: &str, reset: &str, now: &str| {
            reading_from_hint(&hint(window, reset), &z(now))
                .unwrap_or_else(|| panic!("{window} {reset} at {now}: no reading"))
                .resets_at_ms
        };
        // Passed today: tomorrow, which a daily or weekly window can reach.
        let cases = [
            (
                "daily",
                "2pm (Europe/Paris)",
                "2026-07-20T13:00:00[UTC]",
                Some("2026-07-21T12:00:00Z"),
            ),
            (
                "weekly",
                "3:30pm (UTC)",
                "2026-07-20T15:38:00[UTC]",
                Some("2026-07-21T15:30:00Z"),
            ),
            ("daily", "9am", NOW, Some("2026-07-21T07:00:00Z")),
            // Still ahead today: today.
            (
                "session",
                "2pm (Europe/Paris)",
                "2026-07-20T11:00:00[UTC]",
                Some("2026-07-20T12:00:00Z"),
            ),
            (
                "session",
                "3:30pm (UTC)",
                "2026-07-20T11:38:00[UTC]",
                Some("2026-07-20T15:30:00Z"),
            ),
            (
                "session",
                "11pm",
                "2026-07-20T19:00:00[Europe/Paris]",
                Some("2026-07-20T21:00:00Z"),
            ),
            ("daily", "11pm", NOW, Some("2026-07-20T21:00:00Z")),
            // Across midnight: 1am is tomorrow, 3 h ahead.
            (
                "session",
                "1am",
                "2026-07-20T22:00:00[Europe/Paris]",
                Some("2026-07-20T23:00:00Z"),
            ),
            // An hour of slack past the window's length, no more.
            (
                "session",
                "4pm (UTC)",
                "2026-07-20T10:00:00[UTC]",
                Some("2026-07-20T16:00:00Z"),
            ),
            ("session", "5pm (UTC)", "2026-07-20T10:00:00[UTC]", None),
            ("5h", "11pm", NOW, None),
            // Passed an hour ago, out of reach tomorrow: the window reset then.
            (
                "session",
                "2pm (Asia/Tokyo)",
                "2026-07-20T06:00:00[UTC]",
                Some("2026-07-20T05:00:00Z"),
            ),
            (
                "session",
                "3:30pm (UTC)",
                "2026-07-20T15:38:00[UTC]",
                Some("2026-07-20T15:30:00Z"),
            ),
            (
                "session",
                "2pm (Asia/Tokyo)",
                "2026-07-20T04:00:00[UTC]",
                Some("2026-07-20T05:00:00Z"),
            ),
        ];
        for (window, reset, now, want) in cases {
            assert_eq!(
                at(window, reset, now),
                want.map(ms),
                "{window} {reset} at {now}"
            );
        }
        // A dated reset or an instant that has passed is a reset that passed.
        let now = z(NOW);
        let r = read(
            "claude",
            "You've used 40% of your weekly limit · resets Jul 19, 2026 9pm",
            NOW,
        );
        assert_eq!(r[0].used_percent, 40.0);
        assert_eq!(
            r[0].resets_at_ms,
            Some(ms("2026-07-19T21:00:00+02:00[Europe/Paris]"))
        );
        let r = read(
            "claude",
            "Claude AI usage limit reached|1760004000",
            "2026-07-20T10:00:00Z",
        );
        assert_eq!(r[0].used_percent, 100.0);
        assert_eq!(r[0].resets_at_ms, Some(1_760_004_000_000));
        // At its very minute, a time of day is the reset now.
        let r = read(
            "claude",
            "You've used 93% of your session limit · resets 10am",
            NOW,
        );
        assert_eq!(r[0].resets_at_ms, Some(now.timestamp().as_millisecond()));
    }

    #[test]
    fn refusals_say_why() {
        let hint = |pct: f64, window: Option<&str>| QuotaHint {
            used_percent: pct,
            window: window.map(str::to_owned),
            reset: Some("2pm".to_owned()),
            line: 1,
        };
        assert!(refusal(&hint(101.0, None)).unwrap().contains("101"));
        assert!(
            refusal(&hint(50.0, Some("banana")))
                .unwrap()
                .contains("banana")
        );
        assert_eq!(refusal(&hint(50.0, Some("session"))), None);
        assert_eq!(refusal(&hint(50.0, None)), None);
    }

    #[test]
    fn a_local_abbreviation_is_the_local_zone() {
        let now = "2026-07-20T10:00:00[America/Los_Angeles]";
        let r = read(
            "gemini",
            "Usage limit reached for all Pro models. Access resets at 3:45 PM PDT.",
            now,
        );
        assert_eq!(
            r[0].resets_at_ms,
            Some(ms("2026-07-20T15:45:00-07:00[America/Los_Angeles]"))
        );
        // Seen from Paris, PDT is not the local zone: unknown.
        let r = read(
            "gemini",
            "Usage limit reached for all Pro models. Access resets at 3:45 PM PDT.",
            NOW,
        );
        assert_eq!(r[0].resets_at_ms, None);
    }

    #[test]
    fn garbage_gives_no_reading() {
        let cases: &[(&str, &str)] = &[
            ("claude", "You've used 930% of your session limit"),
            ("claude", "You've used % of your session limit"),
            ("claude", "used 93%"),
            (
                "claude",
                "You've used 93% of your banana limit · resets 2pm",
            ),
            ("claude", "You've used 93% of your Opus Sonnet limit"),
            ("claude", "93% of your session limit · resets 2pm"),
            ("claude", "Approaching usage limit · resets at 10pm"),
            (
                "claude",
                "Continuing automatically at 6:38am · Esc to cancel",
            ),
            ("claude", "The session limit is 93% of the weekly limit."),
            ("codex", "  5h limit: [███░░] 720% used"),
            ("codex", "  5h limit: [███░░] 155% left"),
            ("codex", "  0h limit: [███░░] 72% used"),
            (
                "codex",
                "Heads up, you've used over 75% of your banana limit.",
            ),
            ("codex", "Heads up, you've used over 175% of your 5h limit."),
            (
                "gemini",
                "│  gemini-2.5-pro   -   180.0% (Resets in 8h 10m)  │",
            ),
            ("gemini", "RESOURCE_EXHAUSTED"),
            ("gemini", "Quota exceeded for quota metric"),
            ("gemini", "Usage limit reached for all 2 models."),
            ("amp", "Amp Free: $25/$20 remaining"),
            ("amp", "Amp Free: $17/$0 remaining"),
            ("amp", "Individual credits: $0 remaining"),
            ("amp", "Out of credits"),
            (
                "generic",
                "rate limit exceeded, you've used 93% of your session limit",
            ),
        ];
        for (cli, screen) in cases {
            let r = read(cli, screen, NOW);
            assert!(r.is_empty(), "{cli}: {screen:?} gave {r:?}");
        }
    }

    #[test]
    fn hints_outside_the_range_give_nothing() {
        let now = z(NOW);
        let hint = |pct: f64, window: Option<&str>, reset: Option<&str>| QuotaHint {
            used_percent: pct,
            window: window.map(str::to_owned),
            reset: reset.map(str::to_owned),
            line: 1,
        };
        assert_eq!(reading_from_hint(&hint(f64::NAN, None, None), &now), None);
        assert_eq!(reading_from_hint(&hint(101.0, None, None), &now), None);
        assert_eq!(reading_from_hint(&hint(-1.0, None, None), &now), None);
        assert_eq!(
            reading_from_hint(&hint(50.0, Some("banana"), None), &now),
            None
        );
        let r = reading_from_hint(&hint(50.0, Some("weekly"), Some("Mon 9:00")), &now).unwrap();
        assert_eq!(r.window, QuotaWindow::Weekly);
        assert_eq!(
            r.resets_at_ms,
            Some(ms("2026-07-27T09:00:00+02:00[Europe/Paris]"))
        );
        // An earlier time of day than now: tomorrow, fine for a weekly window.
        let r = reading_from_hint(&hint(50.0, Some("weekly"), Some("9am")), &now).unwrap();
        assert_eq!(
            r.resets_at_ms,
            Some(ms("2026-07-21T09:00:00+02:00[Europe/Paris]"))
        );
        // A weekly reset crossing the October DST change.
        let dst = z("2026-10-24T10:00:00[Europe/Paris]");
        let r = reading_from_hint(&hint(88.0, Some("weekly"), Some("Mon 9:00")), &dst).unwrap();
        assert_eq!(r.resets_at_ms, Some(ms("2026-10-26T08:00:00Z")));
        assert!(readings(&[], &now).is_empty());
    }
}
