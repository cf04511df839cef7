//! The lead table: who leads, since when, and the lead role's state.

use rusqlite::OptionalExtension;
use rusqlite::params;

use super::Store;
use super::StoreError;
use super::StoreResult;
use super::now_ms;

/// The `lead` table's row.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct LeadRow {
    /// The agent that leads.
    pub agent: String,
    /// Since when.
    pub since_ms: Option<i64>,
    /// The lead's state (the handoff work writes it).
    pub state: Option<String>,
}

impl Store {
    /// Records the lead role's state (and, when the lead changes, since when it leads).
    pub fn set_lead(&mut self, snap: &baton_core::engine::LeadSnapshot) -> StoreResult<()> {
        let state = serde_json::to_string(snap)
            .map_err(|e| StoreError::Invalid(format!("lead state: {e}")))?;
        self.conn.execute(
            "INSERT INTO lead (id, agent, since_ms, state) VALUES (1, ?1, ?2, ?3)
             ON CONFLICT (id) DO UPDATE SET
                 since_ms = CASE WHEN lead.agent IS excluded.agent THEN lead.since_ms ELSE excluded.since_ms END,
                 agent = excluded.agent, state = excluded.state",
            params![snap.lead, now_ms(), state],
        )?;
        Ok(())
    }

    /// Returns the lead role's state as last recorded, if any.
    pub fn lead_snapshot(&self) -> StoreResult<Option<baton_core::engine::LeadSnapshot>> {
        Ok(self
            .lead_row()?
            .and_then(|r| r.state)
            .and_then(|s| serde_json::from_str(&s).ok()))
    }

    /// Returns the `lead` table's row — who leads, since when, in which state — when one was
    /// written.
    pub fn lead_row(&self) -> StoreResult<Option<LeadRow>> {
        Ok(self
            .conn
            .query_row(
                "SELECT agent, since_ms, state FROM lead WHERE id = 1 AND agent IS NOT NULL",
                [],
                |r| {
                    Ok(LeadRow {
                        agent: r.get(0)?,
                        since_ms: r.get(1)?,
                        state: r.get(2)?,
                    })
                },
            )
            .optional()?)
    }
}
