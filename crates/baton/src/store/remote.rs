//! Reports from agents on other hosts (`baton task done` run there, their hooks): each one
//! carried out once, its answer kept so a report sent again gets the same answer instead of
//! running twice.

use rusqlite::OptionalExtension;
use rusqlite::params;

use super::Store;
use super::StoreResult;
use super::now_ms;

/// What a report's command answered.
#[derive(Clone, Debug, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct RemoteAnswer {
    /// Its exit code.
    pub code: i32,
    /// What it printed.
    pub stdout: String,
    /// What it printed on stderr.
    pub stderr: String,
}

impl Store {
    /// The answer of report `id`, when it was carried out already.
    pub fn remote_answer(&self, id: &str) -> StoreResult<Option<RemoteAnswer>> {
        Ok(self
            .conn
            .query_row(
                "SELECT code, stdout, stderr FROM remote_reports WHERE id = ?1",
                params![id],
                |r| {
                    Ok(RemoteAnswer {
                        code: r.get(0)?,
                        stdout: r.get(1)?,
                        stderr: r.get(2)?,
                    })
                },
            )
            .optional()?)
    }

    /// Records that report `id` (from `agent` on `host`, its command words without their
    /// arguments' values) was carried out, with its answer.
    pub fn record_remote_answer(
        &mut self,
        id: &str,
        host: &str,
        agent: &str,
        command: &str,
        answer: &RemoteAnswer,
    ) -> StoreResult<()> {
        self.conn.execute(
            "INSERT OR IGNORE INTO remote_reports (id, host, agent, command, received_ms, code, stdout, stderr)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
            params![
                id,
                host,
                agent,
                command,
                now_ms(),
                answer.code,
                answer.stdout,
                answer.stderr
            ],
        )?;
        Ok(())
    }
}
