//! Quota bands: how worried to be about a window's usage.
//!
//! Five bands, from the hand-run workflow: OK < 50 %, Attention 50–74 %, High 75–84 %,
//! Critical 85–92 %, Alert ≥ 93 %. Each band starts at a threshold and runs up to the next
//! one, so a fractional 74.5 % is still Attention.
//!
//! `baton.toml`'s `[quota]` section has the two-threshold form instead, `warn` (default 80)
//! and `critical` (default 90); [`Bands::from_warn_critical`] maps it onto the five bands:
//!
//! - High starts at `warn` and Critical at `critical`, so `band >= Band::High` holds exactly
//!   when the usage is at or over `warn`, and `band >= Band::Critical` exactly when it is at
//!   or over `critical`: rules keyed on those two words behave as configured.
//! - Attention starts at 50, or at `warn` if that is lower (then Attention is empty).
//! - Alert starts at 93, or at `critical` if that is higher (then Critical is empty and
//!   everything at or over `critical` is Alert, which is still `>= Critical`).
//!
//! With the defaults that gives 50 / 80 / 90 / 93: Alert at 93 matches the default
//! `[lead] handoff_at`.

use std::fmt;
use std::str::FromStr;

use serde::Deserialize;
use serde::Serialize;

/// A band of usage, ordered from the calmest to the most urgent.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Band {
    /// Below the Attention threshold.
    Ok,
    /// Worth watching.
    Attention,
    /// At or over `warn`.
    High,
    /// At or over `critical`: no new task for the agent; the lead prepares a handoff.
    Critical,
    /// Nearly exhausted.
    Alert,
}

impl Band {
    /// Every band, calmest first.
    pub const ALL: [Band; 5] = [
        Band::Ok,
        Band::Attention,
        Band::High,
        Band::Critical,
        Band::Alert,
    ];

    /// Returns the band's name: `ok`, `attention`, `high`, `critical`, `alert`.
    pub fn name(self) -> &'static str {
        match self {
            Band::Ok => "ok",
            Band::Attention => "attention",
            Band::High => "high",
            Band::Critical => "critical",
            Band::Alert => "alert",
        }
    }

    /// Parses a name made by [`Band::name`].
    pub fn from_name(name: &str) -> Option<Band> {
        Band::ALL.into_iter().find(|b| b.name() == name)
    }
}

impl fmt::Display for Band {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

impl FromStr for Band {
    type Err = BandsError;

    fn from_str(s: &str) -> Result<Band, BandsError> {
        Band::from_name(s).ok_or_else(|| BandsError(format!("unknown band `{s}`")))
    }
}

/// Invalid thresholds (or an unknown band name).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct BandsError(pub String);

/// The thresholds, in percent used, at which each band above OK starts.
#[derive(Clone, Copy, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Bands {
    /// Attention starts here (default 50).
    pub attention: f64,
    /// High starts here (default 75).
    pub high: f64,
    /// Critical starts here (default 85).
    pub critical: f64,
    /// Alert starts here (default 93).
    pub alert: f64,
}

impl Default for Bands {
    fn default() -> Bands {
        Bands::FIVE
    }
}

impl Bands {
    /// The five-band form of the workflow: 50 / 75 / 85 / 93.
    pub const FIVE: Bands = Bands {
        attention: 50.0,
        high: 75.0,
        critical: 85.0,
        alert: 93.0,
    };

    /// The default `warn` of the two-threshold form.
    pub const DEFAULT_WARN: f64 = 80.0;

    /// The default `critical` of the two-threshold form.
    pub const DEFAULT_CRITICAL: f64 = 90.0;

    /// Checks and returns thresholds: finite, within 0–100, and not decreasing.
    pub fn new(attention: f64, high: f64, critical: f64, alert: f64) -> Result<Bands, BandsError> {
        let b = Bands {
            attention,
            high,
            critical,
            alert,
        };
        b.validate()?;
        Ok(b)
    }

    /// Builds bands from the two-threshold form (`warn` → High, `critical` → Critical); see
    /// the module documentation for Attention and Alert.
    pub fn from_warn_critical(warn: f64, critical: f64) -> Result<Bands, BandsError> {
        for (name, v) in [("warn", warn), ("critical", critical)] {
            if !v.is_finite() || !(0.0..=100.0).contains(&v) {
                return Err(BandsError(format!(
                    "quota {name} must be a percentage from 0 to 100, not {v}"
                )));
            }
        }
        if warn > critical {
            return Err(BandsError(format!(
                "quota warn ({warn}) must not be above critical ({critical})"
            )));
        }
        Bands::new(
            Bands::FIVE.attention.min(warn),
            warn,
            critical,
            Bands::FIVE.alert.max(critical),
        )
    }

    /// Checks the thresholds: finite, within 0–100, and not decreasing.
    pub fn validate(&self) -> Result<(), BandsError> {
        let t = self.thresholds();
        for (band, v) in &t {
            if !v.is_finite() || !(0.0..=100.0).contains(v) {
                return Err(BandsError(format!(
                    "the {band} threshold must be a percentage from 0 to 100, not {v}"
                )));
            }
        }
        for pair in t.windows(2) {
            if pair[0].1 > pair[1].1 {
                return Err(BandsError(format!(
                    "the {} threshold ({}) must not be above the {} threshold ({})",
                    pair[0].0, pair[0].1, pair[1].0, pair[1].1
                )));
            }
        }
        Ok(())
    }

    /// Returns the band a usage falls in. A usage that is not a number is OK (nothing to
    /// act on).
    pub fn band(&self, used_percent: f64) -> Band {
        self.thresholds()
            .into_iter()
            .rev()
            .find(|(_, t)| used_percent >= *t)
            .map_or(Band::Ok, |(b, _)| b)
    }

    /// Returns the percentage at which a band starts (0 for OK).
    pub fn threshold(&self, band: Band) -> f64 {
        match band {
            Band::Ok => 0.0,
            Band::Attention => self.attention,
            Band::High => self.high,
            Band::Critical => self.critical,
            Band::Alert => self.alert,
        }
    }

    /// Returns the band entered when usage went from `prev` to `now`, if it rose into a
    /// higher band than before; `None` when it stayed, fell, or only rose within a band.
    /// Without a previous reading, any band above OK counts as entered: notify once per
    /// crossing by keeping the last reading.
    pub fn entered(&self, prev: Option<f64>, now: f64) -> Option<Band> {
        let to = self.band(now);
        let from = prev.map_or(Band::Ok, |p| self.band(p));
        (to > from).then_some(to)
    }

    fn thresholds(&self) -> [(Band, f64); 4] {
        [
            (Band::Attention, self.attention),
            (Band::High, self.high),
            (Band::Critical, self.critical),
            (Band::Alert, self.alert),
        ]
    }
}

/// Whether usage crossed `threshold` upwards between two readings: `prev` below it (or no
/// previous reading) and `now` at or over it. Use it to notify once per crossing.
pub fn crossed(prev: Option<f64>, now: f64, threshold: f64) -> bool {
    now >= threshold && prev.is_none_or(|p| p < threshold)
}

/// Whether usage fell back below `threshold` (after a reset): `prev` at or over it and `now`
/// below it. Use it to re-arm a once-per-crossing notification, or to hand the lead role
/// back (`return_below`).
pub fn fell_below(prev: Option<f64>, now: f64, threshold: f64) -> bool {
    now < threshold && prev.is_some_and(|p| p >= threshold)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn five_band_edges() {
        let b = Bands::default();
        for (band, pcts) in [
            (Band::Ok, &[0.0, 49.9, -3.0, f64::NAN][..]),
            (Band::Attention, &[50.0, 74.0, 74.99]),
            (Band::High, &[75.0, 84.0]),
            (Band::Critical, &[85.0, 92.0, 92.5]),
            (Band::Alert, &[93.0, 100.0, 130.0]),
        ] {
            for &pct in pcts {
                assert_eq!(b.band(pct), band, "{pct}");
            }
        }
    }

    #[test]
    fn two_threshold_form() {
        let b = Bands::from_warn_critical(Bands::DEFAULT_WARN, Bands::DEFAULT_CRITICAL).unwrap();
        assert_eq!(
            b,
            Bands {
                attention: 50.0,
                high: 80.0,
                critical: 90.0,
                alert: 93.0
            }
        );
        assert_eq!(b.band(79.0), Band::Attention);
        assert_eq!(b.band(80.0), Band::High);
        assert_eq!(b.band(90.0), Band::Critical);
        assert_eq!(b.band(93.0), Band::Alert);
        // warn under 50: Attention is empty, High still starts at warn.
        let low = Bands::from_warn_critical(40.0, 60.0).unwrap();
        assert_eq!(low.band(39.0), Band::Ok);
        assert_eq!(low.band(40.0), Band::High);
        assert_eq!(low.band(60.0), Band::Critical);
        assert_eq!(low.band(93.0), Band::Alert);
        // critical over 93: Critical is empty, and Alert starts at critical.
        let high = Bands::from_warn_critical(80.0, 96.0).unwrap();
        assert_eq!(high.band(95.0), Band::High);
        assert_eq!(high.band(96.0), Band::Alert);
        // The configured words keep their meaning whatever the values.
        for (warn, crit) in [(80.0, 90.0), (40.0, 60.0), (80.0, 96.0), (0.0, 100.0)] {
            let b = Bands::from_warn_critical(warn, crit).unwrap();
            for pct in 0..=100 {
                let pct = f64::from(pct);
                assert_eq!(
                    b.band(pct) >= Band::High,
                    pct >= warn,
                    "{warn}/{crit} at {pct}"
                );
                assert_eq!(
                    b.band(pct) >= Band::Critical,
                    pct >= crit,
                    "{warn}/{crit} at {pct}"
                );
            }
        }
    }

    #[test]
    fn invalid_thresholds() {
        assert!(Bands::from_warn_critical(90.0, 80.0).is_err());
        assert!(Bands::from_warn_critical(80.0, 101.0).is_err());
        assert!(Bands::from_warn_critical(f64::NAN, 90.0).is_err());
        assert!(Bands::new(50.0, 75.0, 70.0, 93.0).is_err());
        assert!(Bands::new(-1.0, 75.0, 85.0, 93.0).is_err());
        assert!(Bands::new(50.0, 50.0, 50.0, 50.0).is_ok());
        assert!(Bands::FIVE.validate().is_ok());
    }

    #[test]
    fn names_and_serde() {
        for b in Band::ALL {
            assert_eq!(Band::from_name(b.name()), Some(b));
            assert_eq!(b.name().parse::<Band>().unwrap(), b);
            assert_eq!(serde_json::to_string(&b).unwrap(), format!("\"{b}\""));
        }
        assert!("OK".parse::<Band>().is_err());
        let json = serde_json::to_string(&Bands::FIVE).unwrap();
        assert_eq!(
            json,
            r#"{"attention":50.0,"high":75.0,"critical":85.0,"alert":93.0}"#
        );
        assert_eq!(serde_json::from_str::<Bands>(&json).unwrap(), Bands::FIVE);
        assert_eq!(Bands::FIVE.threshold(Band::Ok), 0.0);
        assert_eq!(Bands::FIVE.threshold(Band::Critical), 85.0);
    }

    #[test]
    fn crossings() {
        assert!(crossed(None, 80.0, 80.0));
        assert!(crossed(Some(79.0), 80.0, 80.0));
        assert!(!crossed(Some(80.0), 85.0, 80.0));
        assert!(!crossed(Some(81.0), 79.0, 80.0));
        assert!(!crossed(None, 79.0, 80.0));
        assert!(fell_below(Some(95.0), 2.0, 50.0));
        assert!(!fell_below(None, 2.0, 50.0));
        assert!(!fell_below(Some(40.0), 2.0, 50.0));

        let b = Bands::FIVE;
        assert_eq!(b.entered(None, 10.0), None);
        assert_eq!(b.entered(None, 88.0), Some(Band::Critical));
        assert_eq!(b.entered(Some(70.0), 76.0), Some(Band::High));
        assert_eq!(b.entered(Some(70.0), 95.0), Some(Band::Alert));
        assert_eq!(b.entered(Some(76.0), 80.0), None);
        assert_eq!(b.entered(Some(95.0), 3.0), None);
    }
}
