//! The agents table: what the daemon last saw of each agent (state, pane, since when).

use rusqlite::params;
use serde::Serialize;

use super::Store;
use super::StoreResult;
use super::query_rows;

/// What the daemon last saw of an agent.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct AgentRow {
    /// The agent's name.
    pub name: String,
    /// Its profile.
    pub cli: String,
    /// Its state (`idle`, `working`, `dead`…), empty when never seen.
    pub state: String,
    /// Its tmux pane, when up.
    pub pane: Option<String>,
    /// Since when it is in this state (ms since the epoch).
    pub since_ms: i64,
}

impl Store {
    /// Records what the daemon sees of agents, in one transaction: each one's state and pane,
    /// and since when it is in that state (kept when the state did not change).
    pub fn set_agent_states(&mut self, rows: &[AgentRow]) -> StoreResult<()> {
        // A view of what the screens show: not worth an fsync (the next task change's commit
        // syncs the log with it).
        self.conn.pragma_update(None, "synchronous", "NORMAL")?;
        let written = (|| -> StoreResult<()> {
            let tx = self.begin()?;
            for r in rows {
                tx.execute(
                    "INSERT INTO agents (name, cli, state, pane, updated_ms) VALUES (?1, ?2, ?3, ?4, ?5)
                     ON CONFLICT (name) DO UPDATE SET cli = excluded.cli, pane = excluded.pane,
                         updated_ms = CASE WHEN agents.state IS excluded.state THEN agents.updated_ms ELSE excluded.updated_ms END,
                         state = excluded.state",
                    params![r.name, r.cli, r.state, r.pane, r.since_ms],
                )?;
            }
            tx.commit()?;
            Ok(())
        })();
        self.conn.pragma_update(None, "synchronous", "FULL")?;
        written
    }

    /// Returns every agent the daemon has seen, by name.
    pub fn agents(&self) -> StoreResult<Vec<AgentRow>> {
        query_rows(
            &self.conn,
            "SELECT name, cli, state, pane, updated_ms FROM agents ORDER BY name",
            [],
            |r| {
                Ok(AgentRow {
                    name: r.get(0)?,
                    cli: r.get(1)?,
                    state: r.get::<_, Option<String>>(2)?.unwrap_or_default(),
                    pane: r.get(3)?,
                    since_ms: r.get(4)?,
                })
            },
        )
    }
}
