//! Quota readings: each source's readings of an agent's windows, and the winner of each
//! window by the age of its data.

use std::collections::BTreeMap;

use rusqlite::Connection;
use rusqlite::params;
use serde::Serialize;

use super::Store;
use super::StoreResult;
use super::now_ms;
use super::query_rows;

/// One quota reading of an agent's window.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct QuotaReading {
    /// The agent.
    pub agent: String,
    /// `session-5h`, `weekly`, …
    pub window: String,
    /// Percent of the window used.
    pub used_percent: f64,
    /// When the window resets, in milliseconds since the Unix epoch, when known.
    pub resets_at_ms: Option<i64>,
    /// Where it was read: `claude-statusline`, `codex-rollout`, …
    pub source: String,
    /// When it was recorded.
    pub observed_ms: i64,
    /// When its data was made (the newest time its source made this value): what readings
    /// are ranked by.
    pub data_ms: i64,
    /// When its source first made this value (the burn rate's sample time).
    #[serde(skip)]
    pub first_data_ms: i64,
    /// Its row.
    #[serde(skip)]
    pub id: i64,
}

impl QuotaReading {
    /// The reading as the ranking rule sees it.
    pub fn candidate(&self) -> baton_core::quota::rank::Candidate<'_> {
        baton_core::quota::rank::Candidate {
            source: &self.source,
            used_percent: self.used_percent,
            resets_at_ms: self.resets_at_ms,
            data_ms: self.data_ms,
            order: self.id,
        }
    }
}

/// One window of an agent: the winning reading and the other sources' current ones.
#[derive(Clone, Debug, PartialEq)]
pub struct QuotaWindowReadings {
    /// The reading with the newest data.
    pub winner: QuotaReading,
    /// The other sources' current readings of the window.
    pub others: Vec<QuotaReading>,
}

/// When a quota reading's data was made.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum QuotaData {
    /// At this time (ms since the epoch): the hook's "now", a rollout event's timestamp, an
    /// OAuth answer's fetch time.
    At(i64),
    /// A notice on screen: when it first appeared with this value, by the screen's earlier
    /// readings ([`baton_core::quota::rank::screen_data_ms`]).
    Screen,
}

/// The columns [`quota_row`] reads, in its order.
const QUOTA_COLUMNS: &str = "agent, window, used_percent, resets_at_ms, source, observed_ms, \
    COALESCE(data_ms, observed_ms), COALESCE(first_data_ms, observed_ms), id";

/// Each source's current reading of each window (its newest data, then the last recorded);
/// only one agent's window when `only` is given.
fn current_quota(conn: &Connection, only: Option<(&str, &str)>) -> StoreResult<Vec<QuotaReading>> {
    // One window's rows are found through the `quota_by_source` index (a screen read with a
    // quota line costs the same with a long history).
    let filter = if only.is_some() {
        "WHERE agent = ?1 AND window = ?2"
    } else {
        ""
    };
    let mut stmt = conn.prepare_cached(&format!(
        "SELECT {QUOTA_COLUMNS} FROM (
             SELECT *, ROW_NUMBER() OVER (
                 PARTITION BY agent, window, source
                 ORDER BY COALESCE(data_ms, observed_ms) DESC, id DESC) AS n
             FROM quota_readings {filter})
         WHERE n = 1 ORDER BY agent, window, source"
    ))?;
    let rows = match only {
        Some((agent, window)) => stmt.query_map(params![agent, window], quota_row)?,
        None => stmt.query_map([], quota_row)?,
    };
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Splits one window's current readings into the winner and the others.
fn winner_and_others(mut rows: Vec<QuotaReading>) -> Option<QuotaWindowReadings> {
    let w = quota_winner(&rows)?.id;
    let i = rows.iter().position(|r| r.id == w)?;
    let winner = rows.remove(i);
    Some(QuotaWindowReadings {
        winner,
        others: rows,
    })
}

/// The winner among one window's current readings ([`baton_core::quota::rank::winner`]).
fn quota_winner(rows: &[QuotaReading]) -> Option<&QuotaReading> {
    let candidates: Vec<baton_core::quota::rank::Candidate<'_>> =
        rows.iter().map(QuotaReading::candidate).collect();
    baton_core::quota::rank::winner(&candidates).map(|i| &rows[i])
}

fn quota_row(r: &rusqlite::Row<'_>) -> rusqlite::Result<QuotaReading> {
    Ok(QuotaReading {
        agent: r.get(0)?,
        window: r.get(1)?,
        used_percent: r.get(2)?,
        resets_at_ms: r.get(3)?,
        source: r.get(4)?,
        observed_ms: r.get(5)?,
        data_ms: r.get(6)?,
        first_data_ms: r.get(7)?,
        id: r.get(8)?,
    })
}

/// A quota reading to record: how much of an agent's window (`session-5h`, `weekly`…) is
/// used, when it resets, and which source read it.
#[derive(Clone, Copy, Debug)]
pub struct QuotaSample<'a> {
    pub agent: &'a str,
    pub window: &'a str,
    pub used_percent: f64,
    pub resets_at_ms: Option<i64>,
    pub source: &'a str,
}

impl Store {
    /// Records a quota reading of an agent's window whose data was made now (the statusLine
    /// hook); see [`Store::record_quota_data`].
    pub fn record_quota(&mut self, sample: &QuotaSample<'_>) -> StoreResult<bool> {
        let now = now_ms();
        self.record_quota_data(sample, QuotaData::At(now), now)
    }

    /// Records a quota reading with the time its data was made (`data`); returns whether it
    /// wrote a new row.
    ///
    /// Compared with the source's current reading of the window: the same value with data no
    /// newer (a notice still on screen, a rollout read again) writes nothing; the same value
    /// with newer data refreshes that reading's data time when it is the window's winner, and
    /// is written as a new row when another source's reading wins now (so that a poller of
    /// new rows sees the change of winner). Anything else is a new row.
    pub fn record_quota_data(
        &mut self,
        sample: &QuotaSample<'_>,
        data: QuotaData,
        now: i64,
    ) -> StoreResult<bool> {
        let QuotaSample {
            agent,
            window,
            used_percent,
            resets_at_ms,
            source,
        } = *sample;
        use baton_core::quota::rank;
        let tx = self.begin()?;
        let current = current_quota(&tx, Some((agent, window)))?;
        let prev = current.iter().find(|r| r.source == source);
        let data_ms = match data {
            QuotaData::At(t) => t,
            QuotaData::Screen => rank::screen_data_ms(
                prev.map(|p| (p.used_percent, p.resets_at_ms, p.data_ms)),
                used_percent,
                resets_at_ms,
                now,
            ),
        };
        if let Some(p) = prev {
            let same = match data {
                QuotaData::Screen => rank::same_notice(
                    (p.used_percent, p.resets_at_ms, p.data_ms),
                    used_percent,
                    resets_at_ms,
                    now,
                ),
                QuotaData::At(_) => {
                    p.used_percent == used_percent && p.resets_at_ms == resets_at_ms
                }
            };
            if same && data_ms <= p.data_ms {
                return Ok(false);
            }
            if same && quota_winner(&current).is_some_and(|w| w.id == p.id) {
                // The hook calls often: its data time is refreshed once a second at most.
                if data_ms - p.data_ms >= 1000 {
                    tx.execute(
                        "UPDATE quota_readings SET data_ms = ?1 WHERE id = ?2",
                        params![data_ms, p.id],
                    )?;
                    tx.commit()?;
                }
                return Ok(false);
            }
        }
        tx.execute(
            "INSERT INTO quota_readings (agent, window, used_percent, resets_at_ms, source, observed_ms, data_ms, first_data_ms) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7)",
            params![agent, window, used_percent, resets_at_ms, source, now, data_ms],
        )?;
        tx.commit()?;
        Ok(true)
    }

    /// Returns the winning reading of each (agent, window): the newest DATA among its
    /// sources' current readings ([`baton_core::quota::rank`]), by agent then window.
    pub fn latest_quota(&self) -> StoreResult<Vec<QuotaReading>> {
        Ok(self
            .quota_windows(None)?
            .into_iter()
            .map(|w| w.winner)
            .collect())
    }

    /// Returns one window's winning reading with the other sources' current readings (read
    /// through an index: what a poller of new readings asks for each window they touch).
    pub fn quota_window(
        &self,
        agent: &str,
        window: &str,
    ) -> StoreResult<Option<QuotaWindowReadings>> {
        let current = current_quota(&self.conn, Some((agent, window)))?;
        Ok(winner_and_others(current))
    }

    /// Returns each (agent, window)'s winning reading with the other sources' current
    /// readings; only `agent`'s windows when given.
    pub fn quota_windows(&self, agent: Option<&str>) -> StoreResult<Vec<QuotaWindowReadings>> {
        let current = current_quota(&self.conn, None)?;
        let mut groups: BTreeMap<(String, String), Vec<QuotaReading>> = BTreeMap::new();
        for r in current {
            if agent.is_none_or(|a| a == r.agent) {
                groups
                    .entry((r.agent.clone(), r.window.clone()))
                    .or_default()
                    .push(r);
            }
        }
        Ok(groups.into_values().filter_map(winner_and_others).collect())
    }

    /// Returns the readings of one window of an agent whose data was first made since
    /// `since_ms`, oldest data first (the history a burn rate is fitted on).
    pub fn quota_readings(
        &self,
        agent: &str,
        window: &str,
        since_ms: i64,
    ) -> StoreResult<Vec<QuotaReading>> {
        query_rows(
            &self.conn,
            &format!(
                "SELECT {QUOTA_COLUMNS} FROM quota_readings
             WHERE agent = ?1 AND window = ?2 AND COALESCE(first_data_ms, observed_ms) >= ?3
             ORDER BY COALESCE(first_data_ms, observed_ms), id"
            ),
            params![agent, window, since_ms],
            quota_row,
        )
    }

    /// Returns the quota readings recorded after the one with id `after_id`, with their ids,
    /// oldest first: a poller keeps the newest reading of each window and reads only new ones.
    pub fn quota_readings_after(&self, after_id: i64) -> StoreResult<Vec<(i64, QuotaReading)>> {
        query_rows(
            &self.conn,
            &format!("SELECT {QUOTA_COLUMNS} FROM quota_readings WHERE id > ?1 ORDER BY id"),
            [after_id],
            |r| {
                let q = quota_row(r)?;
                Ok((q.id, q))
            },
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::testing::store;

    /// How each source's readings are kept: a notice seen again writes nothing; the hook
    /// saying the same again refreshes its data time while it wins, and is written anew when
    /// another source's reading won meanwhile (a poller of new rows sees the change).
    #[test]
    fn quota_readings_by_the_age_of_their_data() {
        let (_d, mut s) = store();
        let (hook, screen) = ("claude-statusline", "screen");
        let reset = Some(10_000_000);
        let rec = |s: &mut Store, used: f64, source: &str, data: QuotaData, now: i64| {
            let sample = QuotaSample {
                agent: "a",
                window: "session-5h",
                used_percent: used,
                resets_at_ms: reset,
                source,
            };
            s.record_quota_data(&sample, data, now).unwrap()
        };
        let winner = |s: &Store| {
            let w = s.quota_windows(Some("a")).unwrap().remove(0);
            (
                w.winner.used_percent,
                w.winner.source.clone(),
                w.winner.data_ms,
                w.others.len(),
            )
        };
        assert!(rec(&mut s, 90.0, screen, QuotaData::Screen, 1_000));
        assert!(rec(&mut s, 95.0, hook, QuotaData::At(2_000), 2_000));
        assert!(rec(&mut s, 100.0, hook, QuotaData::At(3_000), 3_000));
        // The notice still on screen: old data, nothing written.
        assert!(!rec(&mut s, 90.0, screen, QuotaData::Screen, 4_000));
        assert_eq!(winner(&s), (100.0, hook.to_owned(), 3_000, 1));
        // The hook again, same value: fresher data, same row.
        assert!(!rec(&mut s, 100.0, hook, QuotaData::At(5_000), 5_000));
        assert_eq!(winner(&s), (100.0, hook.to_owned(), 5_000, 1));
        // A new notice (another value) is new data and wins.
        assert!(rec(&mut s, 40.0, screen, QuotaData::Screen, 6_000));
        assert_eq!(winner(&s), (40.0, screen.to_owned(), 6_000, 1));
        // The hook's same value again, newer than the notice: a new row, the winner again.
        let before = s.quota_readings_after(0).unwrap().len();
        assert!(rec(&mut s, 100.0, hook, QuotaData::At(7_000), 7_000));
        assert_eq!(s.quota_readings_after(0).unwrap().len(), before + 1);
        assert_eq!(winner(&s), (100.0, hook.to_owned(), 7_000, 1));
        // An older rollout event read late loses to newer data.
        assert!(rec(
            &mut s,
            50.0,
            "codex-rollout",
            QuotaData::At(6_500),
            8_000
        ));
        assert_eq!(winner(&s), (100.0, hook.to_owned(), 7_000, 2));
        // The burn rate's history is in the order the data was made.
        let h: Vec<f64> = s
            .quota_readings("a", "session-5h", 0)
            .unwrap()
            .iter()
            .map(|r| r.used_percent)
            .collect();
        assert_eq!(h, vec![90.0, 95.0, 100.0, 40.0, 50.0, 100.0]);
    }
}
