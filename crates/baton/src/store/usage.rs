//! Usage readings: the cumulative cost and tokens an agent CLI tells of its session, and each
//! task's share of them, worked out when read (`baton_core::usage`).

use std::collections::BTreeMap;

use baton_core::render::JournalLine;
use baton_core::task::TaskId;
use baton_core::usage::Reading;
use baton_core::usage::Usage;
use baton_core::vocab::JournalAction;
use rusqlite::OptionalExtension;
use rusqlite::params;

use super::JournalEntry;
use super::Store;
use super::StoreResult;
use super::now_ms;
use super::query_rows;

/// A usage reading to record.
#[derive(Clone, Copy, Debug)]
pub struct UsageSample<'a> {
    /// The agent.
    pub agent: &'a str,
    /// When its data was made (ms since the Unix epoch).
    pub at_ms: i64,
    /// The CLI's session, when known.
    pub session: Option<&'a str>,
    /// The session's counters so far.
    pub usage: Usage,
    /// Where it was read: `claude-statusline`, `claude-transcript`, `codex-rollout`.
    pub source: &'a str,
}

impl Store {
    /// Records a usage reading; returns whether it wrote a row. A reading equal to the
    /// agent's last one from the same source (same session, same counters) writes nothing:
    /// the statusLine hook runs on every refresh and the rollout is read every few seconds.
    pub fn record_usage(&mut self, s: &UsageSample<'_>) -> StoreResult<bool> {
        let tx = self.begin()?;
        type Last = (Option<String>, Option<f64>, Option<i64>, Option<i64>);
        let last: Option<Last> = tx
            .query_row(
                "SELECT session, cost_usd, input_tokens, output_tokens FROM usage_readings
                 WHERE agent = ?1 AND source = ?2 ORDER BY id DESC LIMIT 1",
                params![s.agent, s.source],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
            )
            .optional()?;
        let tokens = |n: Option<u64>| n.map(|n| i64::try_from(n).unwrap_or(i64::MAX));
        let this: Last = (
            s.session.map(str::to_owned),
            s.usage.cost_usd,
            tokens(s.usage.input_tokens),
            tokens(s.usage.output_tokens),
        );
        if last.as_ref() == Some(&this) {
            return Ok(false);
        }
        tx.execute(
            "INSERT INTO usage_readings (agent, at_ms, session, cost_usd, input_tokens, output_tokens, source, recorded_ms)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            params![s.agent, s.at_ms, this.0, this.1, this.2, this.3, s.source, now_ms()],
        )?;
        tx.commit()?;
        Ok(true)
    }

    /// Returns every agent's usage readings, by agent, in the order they were recorded.
    pub fn usage_readings(&self) -> StoreResult<BTreeMap<String, Vec<Reading>>> {
        let rows = query_rows(
            &self.conn,
            "SELECT agent, at_ms, session, cost_usd, input_tokens, output_tokens
             FROM usage_readings ORDER BY id",
            [],
            |r| {
                let tokens = |n: Option<i64>| n.and_then(|n| u64::try_from(n).ok());
                Ok((
                    r.get::<_, String>(0)?,
                    Reading {
                        at_ms: r.get(1)?,
                        session: r.get(2)?,
                        usage: Usage {
                            cost_usd: r.get(3)?,
                            input_tokens: tokens(r.get(4)?),
                            output_tokens: tokens(r.get(5)?),
                        },
                    },
                ))
            },
        )?;
        let mut out: BTreeMap<String, Vec<Reading>> = BTreeMap::new();
        for (agent, reading) in rows {
            out.entry(agent).or_default().push(reading);
        }
        Ok(out)
    }

    /// Returns each started task's cost and tokens ([`baton_core::usage::task_shares`]): its
    /// agents' readings over the spans the journal's `task-start` entries mark. Two queries:
    /// call it inside [`Store::snapshot`] for one view of both.
    pub fn task_usage(&self) -> StoreResult<BTreeMap<TaskId, Usage>> {
        // Newest first: turned around below.
        let mut starts = self.journal_last(&[JournalAction::TaskStart], i64::MAX as usize)?;
        starts.reverse();
        let lines: Vec<JournalLine<'_>> = starts.iter().map(JournalEntry::line).collect();
        Ok(baton_core::usage::task_shares(
            &lines,
            &self.usage_readings()?,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::testing::store;

    fn sample<'a>(at_ms: i64, cost: f64, source: &'a str) -> UsageSample<'a> {
        UsageSample {
            agent: "claude",
            at_ms,
            session: Some("s1"),
            usage: Usage {
                cost_usd: Some(cost),
                ..Usage::default()
            },
            source,
        }
    }

    #[test]
    fn an_unchanged_reading_is_not_written_again() {
        let (_dir, mut store) = store();
        assert!(
            store
                .record_usage(&sample(1, 0.5, "claude-statusline"))
                .unwrap()
        );
        assert!(
            !store
                .record_usage(&sample(2, 0.5, "claude-statusline"))
                .unwrap()
        );
        // Another source's reading is compared with that source's own last one.
        assert!(
            store
                .record_usage(&sample(3, 0.5, "claude-transcript"))
                .unwrap()
        );
        assert!(
            store
                .record_usage(&sample(4, 0.75, "claude-statusline"))
                .unwrap()
        );
        // A new session with the same counters is new.
        let other = UsageSample {
            session: Some("s2"),
            ..sample(5, 0.75, "claude-statusline")
        };
        assert!(store.record_usage(&other).unwrap());
        let readings = store.usage_readings().unwrap();
        let times: Vec<i64> = readings["claude"].iter().map(|r| r.at_ms).collect();
        assert_eq!(times, vec![1, 3, 4, 5]);
        assert_eq!(readings["claude"][2].usage.cost_usd, Some(0.75));
        assert_eq!(readings["claude"][0].usage.input_tokens, None);
    }
}
