//! Burn rate and time-to-target of one quota window, from its history of readings.
//!
//! Rules:
//! - Only the current window counts. A new window starts at a reading whose usage dropped
//!   (by more than [`RESET_DROP`] points: usage never falls within a window, so a drop is a
//!   reset), or at the first reading taken at or after the `resets_at` of the one before.
//!   If the newest reading's own `resets_at` has passed by `now`, the window has reset since
//!   and nothing is known about the new one: no rate.
//! - The rate is the least-squares slope of usage over time, fitted on the current window's
//!   readings of the last [`DEFAULT_SPAN_MS`] (30 minutes) before `now`; it needs at least
//!   two readings at least [`MIN_SPREAD_MS`] (2 minutes) apart. Least squares rather than
//!   first/last because screens show whole percents: a fit over every step is steadier than
//!   the two ends.
//! - Projections start from the newest reading (not from the fitted line), so they never
//!   contradict what was last seen.

use serde::Deserialize;
use serde::Serialize;

use super::QuotaReading;

/// The span of history the rate is fitted on: the last 30 minutes.
pub const DEFAULT_SPAN_MS: i64 = 30 * 60_000;

/// The least time between the first and last reading of the span for a rate.
pub const MIN_SPREAD_MS: i64 = 2 * 60_000;

/// How far usage must fall between two readings to count as a reset, in percentage points
/// (more than this; smaller dips are rounding noise).
pub const RESET_DROP: f64 = 0.5;

const HOUR_MS: f64 = 3_600_000.0;

/// One reading of a window, for projections.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
pub struct Sample {
    /// When it was taken, in milliseconds since the Unix epoch.
    pub observed_ms: i64,
    /// Percent used.
    pub used_percent: f64,
    /// When the window it belongs to resets, if known.
    pub resets_at_ms: Option<i64>,
}

impl Sample {
    /// A sample without a known reset.
    pub fn new(observed_ms: i64, used_percent: f64) -> Sample {
        Sample {
            observed_ms,
            used_percent,
            resets_at_ms: None,
        }
    }

    /// The sample of a reading, when the reading has an observation time.
    pub fn from_reading(r: &QuotaReading) -> Option<Sample> {
        Some(Sample {
            observed_ms: r.observed_ms?,
            used_percent: r.used_percent,
            resets_at_ms: r.resets_at_ms,
        })
    }
}

impl From<(i64, f64)> for Sample {
    fn from((observed_ms, used_percent): (i64, f64)) -> Sample {
        Sample::new(observed_ms, used_percent)
    }
}

/// The burn rate of one window at one moment.
#[derive(Clone, Debug, PartialEq)]
pub struct BurnRate {
    /// The newest reading of the current window, if any.
    latest: Option<Sample>,
    /// The fitted slope, in percentage points per hour, when there are enough readings.
    per_hour: Option<f64>,
}

impl BurnRate {
    /// Fits the rate on the last [`DEFAULT_SPAN_MS`] of `history` (readings of ONE window, in
    /// any order) as seen at `now_ms`. Readings after `now_ms` or with a usage that is not a
    /// number are ignored.
    pub fn new(history: &[Sample], now_ms: i64) -> BurnRate {
        BurnRate::with_span(history, now_ms, DEFAULT_SPAN_MS)
    }

    /// Fits the rate on the last `span_ms` of `history`.
    pub fn with_span(history: &[Sample], now_ms: i64, span_ms: i64) -> BurnRate {
        let window = current_window(history, now_ms);
        let latest = window.last().copied();
        if latest
            .and_then(|l| l.resets_at_ms)
            .is_some_and(|r| r <= now_ms)
        {
            // The newest reading's window has reset since: nothing is known about the new one.
            return BurnRate {
                latest: None,
                per_hour: None,
            };
        }
        let from = now_ms.saturating_sub(span_ms.max(0));
        let recent: Vec<Sample> = window
            .iter()
            .copied()
            .filter(|s| s.observed_ms >= from)
            .collect();
        BurnRate {
            latest,
            per_hour: slope_per_hour(&recent),
        }
    }

    /// The newest reading of the current window.
    pub fn latest(&self) -> Option<Sample> {
        self.latest
    }

    /// Percentage points used per hour (0 when usage is flat or noise made it dip); `None`
    /// with too few readings in the span.
    pub fn burn_rate_per_hour(&self) -> Option<f64> {
        self.per_hour.map(|r| r.max(0.0))
    }

    /// When usage reaches `target_pct`, in milliseconds since the Unix epoch: `now_ms` when
    /// the newest reading is already at or over it; `None` when the rate is unknown, flat or
    /// falling, or when the window resets before the target is reached. Never before
    /// `now_ms`.
    pub fn eta_ms(&self, target_pct: f64, now_ms: i64) -> Option<i64> {
        let latest = self.latest?;
        time_to(
            latest.used_percent,
            latest.observed_ms,
            self.per_hour,
            target_pct,
            latest.resets_at_ms,
        )
        .map(|eta| eta.max(now_ms))
    }
}

/// When a window used `used_pct` at `observed_ms` reaches `target_pct` at `per_hour` points an
/// hour: `observed_ms` when it is already there; `None` when the rate is unknown, flat or
/// falling, when that is more than a century away, or when the window resets first (after
/// `resets_at_ms`). The one time-to-limit estimate: [`BurnRate::eta_ms`] and the engine's
/// quota rules both use it.
pub fn time_to(
    used_pct: f64,
    observed_ms: i64,
    per_hour: Option<f64>,
    target_pct: f64,
    resets_at_ms: Option<i64>,
) -> Option<i64> {
    if used_pct >= target_pct {
        return Some(observed_ms);
    }
    let rate = per_hour.filter(|r| r.is_finite() && *r > 1e-9)?;
    let ms = (target_pct - used_pct) / rate * HOUR_MS;
    // Beyond any reset that matters (a century) is "never".
    if !ms.is_finite() || ms > 3.2e12 {
        return None;
    }
    // Rounded to whole milliseconds; `ms` is bounded above, so the cast cannot overflow.
    #[allow(clippy::cast_possible_truncation)]
    let eta = observed_ms.saturating_add(ms.round() as i64);
    if resets_at_ms.is_some_and(|r| eta > r) {
        return None;
    }
    Some(eta)
}

/// Burn rate of a history of `(observed_ms, used_percent)` pairs, as seen at `now_ms`.
pub fn burn_rate(history: &[(i64, f64)], now_ms: i64) -> BurnRate {
    let samples: Vec<Sample> = history.iter().copied().map(Sample::from).collect();
    BurnRate::new(&samples, now_ms)
}

/// Returns the readings of the current window, oldest first.
fn current_window(history: &[Sample], now_ms: i64) -> Vec<Sample> {
    let mut s: Vec<Sample> = history
        .iter()
        .copied()
        .filter(|s| s.observed_ms <= now_ms && s.used_percent.is_finite())
        .collect();
    s.sort_by_key(|s| s.observed_ms);
    let mut start = 0;
    for i in 1..s.len() {
        let (prev, cur) = (s[i - 1], s[i]);
        let dropped = cur.used_percent < prev.used_percent - RESET_DROP;
        let reset_passed = prev.resets_at_ms.is_some_and(|r| cur.observed_ms >= r);
        if dropped || reset_passed {
            start = i;
        }
    }
    s.split_off(start)
}

/// Least-squares slope in percentage points per hour.
fn slope_per_hour(s: &[Sample]) -> Option<f64> {
    let (first, last) = (s.first()?, s.last()?);
    if s.len() < 2 || last.observed_ms - first.observed_ms < MIN_SPREAD_MS {
        return None;
    }
    // Times in hours from the first reading keep the sums small and exact enough.
    #[allow(clippy::cast_precision_loss)]
    let points: Vec<(f64, f64)> = s
        .iter()
        .map(|p| {
            (
                (p.observed_ms - first.observed_ms) as f64 / HOUR_MS,
                p.used_percent,
            )
        })
        .collect();
    #[allow(clippy::cast_precision_loss)]
    let n = points.len() as f64;
    let mean_t = points.iter().map(|p| p.0).sum::<f64>() / n;
    let mean_u = points.iter().map(|p| p.1).sum::<f64>() / n;
    let (mut num, mut den) = (0.0, 0.0);
    for (t, u) in &points {
        num += (t - mean_t) * (u - mean_u);
        den += (t - mean_t) * (t - mean_t);
    }
    (den > 0.0).then(|| num / den).filter(|r| r.is_finite())
}

/// Formats a duration briefly, for "resets in …" and "… ago": `2h 15m`, `3d 12h`, `45m`,
/// `30 s`. The sign is dropped (the caller says "in" or "ago"); the value is truncated to
/// the unit shown (89 minutes is `1h 29m`), and zero parts are left out (`2h`, `3d`).
pub fn format_duration_short(ms: i64) -> String {
    let secs = ms.unsigned_abs() / 1000;
    let (d, h, m) = (secs / 86_400, secs % 86_400 / 3600, secs % 3600 / 60);
    if secs < 60 {
        format!("{secs} s")
    } else if secs < 3600 {
        format!("{m}m")
    } else if d == 0 {
        if m == 0 {
            format!("{h}h")
        } else {
            format!("{h}h {m}m")
        }
    } else if h == 0 {
        format!("{d}d")
    } else {
        format!("{d}d {h}h")
    }
}

/// Formats the time from `now_ms` to `at_ms`: `in 2h 15m`, or `30 s ago` when it has passed.
pub fn format_relative(at_ms: i64, now_ms: i64) -> String {
    let delta = at_ms.saturating_sub(now_ms);
    if delta >= 0 {
        format!("in {}", format_duration_short(delta))
    } else {
        format!("{} ago", format_duration_short(delta))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const MIN: i64 = 60_000;
    const T0: i64 = 1_790_000_000_000;

    fn at(min: i64, pct: f64) -> (i64, f64) {
        (T0 + min * MIN, pct)
    }

    #[test]
    fn steady_burn() {
        // 1 point every 2 minutes: 30 points an hour.
        let h: Vec<_> = (0..=10).map(|i| at(2 * i, 60.0 + i as f64)).collect();
        let now = T0 + 20 * MIN;
        let b = burn_rate(&h, now);
        let rate = b.burn_rate_per_hour().unwrap();
        assert!((rate - 30.0).abs() < 1e-9, "{rate}");
        // From 70 % at now, 90 % is 40 minutes away.
        assert_eq!(b.eta_ms(90.0, now), Some(now + 40 * MIN));
        // Already there: now, never the past.
        assert_eq!(b.eta_ms(70.0, now), Some(now));
        assert_eq!(b.eta_ms(50.0, now), Some(now));
    }

    #[test]
    fn only_the_last_half_hour_counts() {
        // Fast an hour ago, slow in the last 30 minutes.
        let mut h: Vec<_> = (0..=6).map(|i| at(5 * i, 10.0 * i as f64)).collect(); // 0..60 in 30 min
        h.extend((1..=6).map(|i| at(30 + 5 * i, 60.0 + i as f64))); // +6 in 30 min
        let now = T0 + 60 * MIN;
        let rate = burn_rate(&h, now).burn_rate_per_hour().unwrap();
        assert!((rate - 12.0).abs() < 1e-9, "{rate}");
    }

    #[test]
    fn least_squares_smooths_integer_steps() {
        // Whole-percent screens: 40,40,41,41,42,42,… every minute, about 30 points/hour.
        let h: Vec<_> = (0..20).map(|i| at(i, 40.0 + (i / 2) as f64)).collect();
        let now = T0 + 19 * MIN;
        let rate = burn_rate(&h, now).burn_rate_per_hour().unwrap();
        assert!((rate - 30.0).abs() < 2.0, "{rate}");
    }

    #[test]
    fn too_few_points_flat_or_stale() {
        let now = T0 + 10 * MIN;
        assert_eq!(burn_rate(&[], now).burn_rate_per_hour(), None);
        assert_eq!(burn_rate(&[], now).eta_ms(90.0, now), None);
        assert_eq!(burn_rate(&[at(0, 10.0)], now).burn_rate_per_hour(), None);
        // Two points a minute apart: too close.
        let close = burn_rate(&[at(9, 10.0), at(10, 12.0)], now);
        assert_eq!(close.burn_rate_per_hour(), None);
        assert_eq!(close.eta_ms(90.0, now), None);
        assert_eq!(close.eta_ms(12.0, now), Some(now));
        // Flat: a rate of 0 but no ETA.
        let flat = burn_rate(&[at(0, 50.0), at(5, 50.0), at(10, 50.0)], now);
        assert_eq!(flat.burn_rate_per_hour(), Some(0.0));
        assert_eq!(flat.eta_ms(90.0, now), None);
        // Readings older than the span give nothing.
        let old = burn_rate(&[at(0, 10.0), at(5, 20.0)], T0 + 120 * MIN);
        assert_eq!(old.burn_rate_per_hour(), None);
        // Readings from the future are ignored.
        let future = burn_rate(&[at(0, 10.0), at(5, 20.0), at(50, 90.0)], now);
        assert_eq!(future.latest().unwrap().used_percent, 20.0);
    }

    #[test]
    fn a_drop_starts_a_new_window() {
        let h = [
            at(0, 80.0),
            at(5, 90.0),
            at(10, 98.0),
            at(12, 1.0),
            at(16, 3.0),
            at(20, 5.0),
        ];
        let now = T0 + 20 * MIN;
        let b = burn_rate(&h, now);
        let rate = b.burn_rate_per_hour().unwrap();
        assert!((rate - 30.0).abs() < 1e-9, "{rate}");
        assert_eq!(b.latest().unwrap().used_percent, 5.0);
        // Rounding noise is not a reset.
        let noisy = burn_rate(&[at(0, 42.5), at(5, 42.2), at(10, 47.0)], T0 + 10 * MIN);
        assert!(noisy.burn_rate_per_hour().unwrap() > 0.0);
    }

    #[test]
    fn a_passed_reset_starts_a_new_window() {
        let reset = T0 + 10 * MIN;
        let s = |min: i64, pct: f64, r: Option<i64>| Sample {
            observed_ms: T0 + min * MIN,
            used_percent: pct,
            resets_at_ms: r,
        };
        // Same usage across the reset (a new window that also went fast): only the readings
        // after the reset count.
        let h = [
            s(0, 10.0, Some(reset)),
            s(8, 50.0, Some(reset)),
            s(11, 50.0, None),
            s(14, 51.0, None),
            s(17, 52.0, None),
        ];
        let now = T0 + 17 * MIN;
        let rate = BurnRate::new(&h, now).burn_rate_per_hour().unwrap();
        assert!((rate - 20.0).abs() < 1e-9, "{rate}");
        // The newest reading's reset has passed: nothing is known.
        let stale = BurnRate::new(&h[..2], T0 + 12 * MIN);
        assert_eq!(stale.burn_rate_per_hour(), None);
        assert_eq!(stale.eta_ms(90.0, T0 + 12 * MIN), None);
    }

    #[test]
    fn no_eta_past_the_reset_and_never_in_the_past() {
        let s = |min: i64, pct: f64| Sample {
            observed_ms: T0 + min * MIN,
            used_percent: pct,
            resets_at_ms: Some(T0 + 60 * MIN),
        };
        let h = [s(0, 10.0), s(10, 15.0), s(20, 20.0)]; // 30 points/hour
        let now = T0 + 20 * MIN;
        let b = BurnRate::new(&h, now);
        assert_eq!(b.eta_ms(30.0, now), Some(now + 20 * MIN));
        // 90 % would take 140 minutes: the window resets first.
        assert_eq!(b.eta_ms(90.0, now), None);
        // A reading 10 minutes old, projected to the target already: now, not the past.
        let h = [at(0, 50.0), at(10, 60.0)]; // 60 points/hour
        let now = T0 + 25 * MIN;
        let b = burn_rate(&h, now);
        assert_eq!(b.eta_ms(65.0, now), Some(now));
        assert_eq!(b.eta_ms(80.0, now), Some(T0 + 30 * MIN));
    }

    #[test]
    fn from_readings() {
        let r = QuotaReading {
            window: super::super::QuotaWindow::Weekly,
            used_percent: 12.0,
            resets_at_ms: Some(5),
            observed_ms: Some(3),
        };
        assert_eq!(
            Sample::from_reading(&r),
            Some(Sample {
                observed_ms: 3,
                used_percent: 12.0,
                resets_at_ms: Some(5)
            })
        );
        let unknown = QuotaReading {
            observed_ms: None,
            ..r
        };
        assert_eq!(Sample::from_reading(&unknown), None);
    }

    #[test]
    fn short_durations() {
        let s = 1000;
        for (ms, text) in [
            (0, "0 s"),
            (30 * s, "30 s"),
            (59 * s + 999, "59 s"),
            (60 * s, "1m"),
            (45 * MIN, "45m"),
            (60 * MIN, "1h"),
            (89 * MIN, "1h 29m"),
            (135 * MIN, "2h 15m"),
            (24 * 60 * MIN, "1d"),
            (84 * 60 * MIN, "3d 12h"),
            (84 * 60 * MIN + 59 * MIN, "3d 12h"),
            (-30 * s, "30 s"),
            (i64::MIN, "106751991167d 7h"),
        ] {
            assert_eq!(format_duration_short(ms), text, "{ms}");
        }
        assert_eq!(format_relative(T0 + 135 * MIN, T0), "in 2h 15m");
        assert_eq!(format_relative(T0 - 30 * s, T0), "30 s ago");
        assert_eq!(format_relative(T0, T0), "in 0 s");
    }
}
