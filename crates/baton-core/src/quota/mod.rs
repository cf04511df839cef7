//! Quota: pure readers that turn what an agent CLI leaves behind into readings, and the pure
//! rules that judge them (bands, burn rate). No clock, no files: time is passed in.
//!
//! - [`rollout`]: Codex rollout files.
//! - [`screen`]: quota and limit lines found on screen by the detector.
//! - [`statusline`]: Claude Code's statusLine payload.
//! - [`bands`]: OK / Attention / High / Critical / Alert.
//! - [`projection`]: burn rate and time to a target from a window's history.
//! - [`rank`]: which source's reading of a window wins, by the age of its data.

pub mod bands;
pub mod projection;
pub mod rank;
pub mod rollout;
pub mod screen;
pub mod statusline;

use std::fmt;

use serde::Deserialize;
use serde::Deserializer;
use serde::Serialize;
use serde::Serializer;

/// A window of an agent's quota, named by its length (or scope) rather than by the CLI's slot.
///
/// Its stored name ([`QuotaWindow::name`]) is `session-5h`, `weekly`, `daily`, `<n>m`,
/// `model:<name>` or `unnamed`; serde uses that name.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum QuotaWindow {
    /// The 5-hour session window.
    Session5h,
    /// The weekly window (all models).
    Weekly,
    /// A daily window (Gemini's daily quota).
    Daily,
    /// Another length, in minutes.
    Minutes(u64),
    /// A window scoped to one model or model family, named in lower case: `opus`, `sonnet`,
    /// `fable`, `gemini-2.5-pro`, `pro` (Gemini's "all Pro models"), `gpt-5.3-codex-spark`.
    Model(String),
    /// A limit the CLI reported without naming its window ("You've hit your limit",
    /// "Usage limit reached · continuing automatically at 3pm", Amp's free credits).
    Unnamed,
}

impl QuotaWindow {
    /// Classifies a window by its length in minutes (300 → 5 h, 1440 → daily, 10080 →
    /// weekly).
    pub fn from_minutes(minutes: u64) -> QuotaWindow {
        match minutes {
            300 => QuotaWindow::Session5h,
            1440 => QuotaWindow::Daily,
            10080 => QuotaWindow::Weekly,
            m => QuotaWindow::Minutes(m),
        }
    }

    /// Returns the name stored with readings: `session-5h`, `weekly`, `daily`, `<n>m`,
    /// `model:<name>`, `unnamed`.
    pub fn name(&self) -> String {
        match self {
            QuotaWindow::Session5h => "session-5h".to_owned(),
            QuotaWindow::Weekly => "weekly".to_owned(),
            QuotaWindow::Daily => "daily".to_owned(),
            QuotaWindow::Minutes(m) => format!("{m}m"),
            QuotaWindow::Model(m) => format!("model:{m}"),
            QuotaWindow::Unnamed => "unnamed".to_owned(),
        }
    }

    /// Parses a name made by [`QuotaWindow::name`].
    pub fn from_name(name: &str) -> Option<QuotaWindow> {
        match name {
            "session-5h" => Some(QuotaWindow::Session5h),
            "weekly" => Some(QuotaWindow::Weekly),
            "daily" => Some(QuotaWindow::Daily),
            "unnamed" => Some(QuotaWindow::Unnamed),
            _ => {
                if let Some(model) = name.strip_prefix("model:") {
                    return (!model.is_empty()).then(|| QuotaWindow::Model(model.to_owned()));
                }
                let minutes = name.strip_suffix('m')?;
                if minutes.is_empty() || !minutes.bytes().all(|b| b.is_ascii_digit()) {
                    return None;
                }
                minutes.parse().ok().map(QuotaWindow::Minutes)
            }
        }
    }

    /// The longest a reset of this window can lie ahead, in milliseconds: a reset further
    /// away than this cannot be right (a stale screen, or a misread). Model-scoped and
    /// unnamed windows are allowed a month.
    pub fn max_reset_ms(&self) -> i64 {
        const MINUTE: i64 = 60_000;
        match self {
            QuotaWindow::Session5h => 300 * MINUTE,
            QuotaWindow::Daily => 1440 * MINUTE,
            QuotaWindow::Weekly => 10_080 * MINUTE,
            QuotaWindow::Minutes(m) => i64::try_from(*m)
                .unwrap_or(i64::MAX / MINUTE)
                .saturating_mul(MINUTE),
            QuotaWindow::Model(_) | QuotaWindow::Unnamed => 31 * 1440 * MINUTE,
        }
    }
}

impl fmt::Display for QuotaWindow {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.name())
    }
}

impl Serialize for QuotaWindow {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.name())
    }
}

impl<'de> Deserialize<'de> for QuotaWindow {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        let name = String::deserialize(deserializer)?;
        QuotaWindow::from_name(&name)
            .ok_or_else(|| serde::de::Error::custom(format!("unknown quota window `{name}`")))
    }
}

/// One reading: how much of a window is used, and when it resets.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub struct QuotaReading {
    /// The window.
    pub window: QuotaWindow,
    /// Percent used, 0–100.
    pub used_percent: f64,
    /// When the window resets, in milliseconds since the Unix epoch, when known.
    pub resets_at_ms: Option<i64>,
    /// When the reading was taken, in milliseconds since the Unix epoch, when known.
    pub observed_ms: Option<i64>,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_round_trip() {
        for w in [
            QuotaWindow::Session5h,
            QuotaWindow::Weekly,
            QuotaWindow::Daily,
            QuotaWindow::Minutes(60),
            QuotaWindow::Model("opus".to_owned()),
            QuotaWindow::Model("gemini-2.5-pro".to_owned()),
            QuotaWindow::Unnamed,
        ] {
            assert_eq!(QuotaWindow::from_name(&w.name()), Some(w.clone()));
            let json = serde_json::to_string(&w).unwrap();
            assert_eq!(json, format!("\"{}\"", w.name()));
            assert_eq!(serde_json::from_str::<QuotaWindow>(&json).unwrap(), w);
        }
        for bad in ["", "m", "x5m", "model:", "session", "-5m"] {
            assert_eq!(QuotaWindow::from_name(bad), None, "{bad}");
        }
        assert!(serde_json::from_str::<QuotaWindow>("\"nope\"").is_err());
    }

    #[test]
    fn windows_by_length() {
        assert_eq!(QuotaWindow::from_minutes(300), QuotaWindow::Session5h);
        assert_eq!(QuotaWindow::from_minutes(1440), QuotaWindow::Daily);
        assert_eq!(QuotaWindow::from_minutes(10080), QuotaWindow::Weekly);
        assert_eq!(QuotaWindow::from_minutes(60), QuotaWindow::Minutes(60));
        assert_eq!(QuotaWindow::Minutes(60).max_reset_ms(), 3_600_000);
        assert_eq!(
            QuotaWindow::Minutes(u64::MAX).max_reset_ms(),
            i64::MAX / 60_000 * 60_000
        );
    }
}
