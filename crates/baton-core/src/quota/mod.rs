//! Quota sources: pure readers that turn what an agent CLI leaves behind into readings.

pub mod rollout;

/// A window of an agent's quota, named by its length rather than by the CLI's slot.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum QuotaWindow {
    /// The 5-hour session window.
    Session5h,
    /// The weekly window.
    Weekly,
    /// Another length, in minutes.
    Minutes(u64),
}

impl QuotaWindow {
    /// Classifies a window by its length in minutes (300 → 5 h, 10080 → weekly).
    pub fn from_minutes(minutes: u64) -> QuotaWindow {
        match minutes {
            300 => QuotaWindow::Session5h,
            10080 => QuotaWindow::Weekly,
            m => QuotaWindow::Minutes(m),
        }
    }

    /// Returns the name stored with readings: `session-5h`, `weekly`, `<n>m`.
    pub fn name(self) -> String {
        match self {
            QuotaWindow::Session5h => "session-5h".to_owned(),
            QuotaWindow::Weekly => "weekly".to_owned(),
            QuotaWindow::Minutes(m) => format!("{m}m"),
        }
    }
}

/// One reading: how much of a window is used, and when it resets.
#[derive(Clone, Debug, PartialEq)]
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
