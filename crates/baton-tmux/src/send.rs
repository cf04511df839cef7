//! [`Tmux::paste`]: typing a prompt into an agent's pane, exactly and never into a shell.

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{SystemTime, UNIX_EPOCH};

use crate::control::{command_line, quote_word};
use crate::error::{SendError, TmuxError};
use crate::sanitize::{Stripped, sanitize};
use crate::server::Tmux;
use crate::shell::is_shell;

/// What [`Tmux::paste`] sent.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PasteReport {
    /// Bytes pasted (after sanitizing).
    pub bytes: usize,
    /// Escape sequences and control characters removed before pasting.
    pub stripped: Vec<Stripped>,
    /// Name of the (now deleted) tmux buffer used.
    pub buffer: String,
}

static BUFFER_COUNTER: AtomicU64 = AtomicU64::new(0);

/// Bytes of text per `set-buffer` command when a buffer is filled over a control connection
/// (each escaped on one control-mode line, at most four times as long).
const SET_BUFFER_CHUNK: usize = 16 * 1024;

/// A buffer name unique to this process and call.
fn buffer_name() -> String {
    let counter = BUFFER_COUNTER.fetch_add(1, Ordering::Relaxed);
    let nanos = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .map(|d| d.subsec_nanos())
        .unwrap_or(0);
    format!("baton-{}-{counter}-{nanos}", std::process::id())
}

impl Tmux {
    /// Paste `text` into the pane as typed input, without pressing Enter.
    ///
    /// Escape sequences and control characters are stripped first (see [`crate::sanitize()`]);
    /// the pane must be alive
    /// and must not have a shell in the foreground. The text goes through a uniquely named
    /// buffer (see [`Tmux::load_buffer`], no size limit) and `paste-buffer -p -d`, which
    /// wraps it in bracketed-paste markers when the application asked for them.
    pub fn paste(&self, target: &str, text: &str) -> Result<PasteReport, SendError> {
        let clean = sanitize(text);
        if clean.text.is_empty() {
            return Err(SendError::Empty);
        }
        // Paste into the pane that was checked, even if `target` would now resolve elsewhere.
        let pane_id = self.check_pane_accepts_text(target)?;
        let buffer = buffer_name();
        self.load_buffer(&buffer, clean.text.as_bytes())?;
        if let Err(err) = self.run(&["paste-buffer", "-p", "-d", "-b", &buffer, "-t", &pane_id]) {
            let _ = self.run(&["delete-buffer", "-b", &buffer]);
            return Err(err.into());
        }
        Ok(PasteReport {
            bytes: clean.text.len(),
            stripped: clean.stripped,
            buffer,
        })
    }

    /// Put `data`, byte for byte, into the tmux buffer `buffer` (replacing it).
    ///
    /// As a process this is `load-buffer -b buffer -` with `data` on stdin. A control client
    /// cannot pass stdin to a command, so over a control connection it is `set-buffer -b
    /// buffer -- "<data>"` then `set-buffer -a` for each further 16 KiB, the data escaped for
    /// tmux's command parser ([`quote_word`]): still no process (no ssh connection) per
    /// prompt. A failure part-way deletes the buffer.
    pub fn load_buffer(&self, buffer: &str, data: &[u8]) -> Result<(), TmuxError> {
        let Some(connection) = self.connected_control() else {
            return self
                .run_with_stdin(&["load-buffer", "-b", buffer, "-"], data)
                .map(drop);
        };
        let mut first = true;
        for chunk in data.chunks(SET_BUFFER_CHUNK) {
            let head: &[&str] = if first {
                &["set-buffer", "-b", buffer, "--"]
            } else {
                &["set-buffer", "-a", "-b", buffer, "--"]
            };
            let line = format!("{} {}", command_line(head), quote_word(chunk));
            if let Err(err) = connection.command_with_timeout(&line, self.timeout()) {
                if !first {
                    let _ = self.run(&["delete-buffer", "-b", buffer]);
                }
                return Err(err);
            }
            first = false;
        }
        // No data, no command: tmux makes no buffer of nothing either way.
        Ok(())
    }

    /// Refuse dead panes and panes with a shell in the foreground; returns the pane id.
    ///
    /// [`Tmux::paste`] runs this check itself; callers that wait for the agent first (for
    /// readiness) run it before waiting too, so a shell is refused at once.
    pub fn check_pane_accepts_text(&self, target: &str) -> Result<String, SendError> {
        let line =
            self.display_strict(target, "#{pane_id} #{pane_dead} #{pane_current_command}")?;
        let mut fields = line.splitn(3, ' ');
        let pane_id = fields.next().unwrap_or("");
        let dead = fields.next().unwrap_or("");
        let command = fields.next().unwrap_or("");
        if !pane_id.starts_with('%') {
            return Err(TmuxError::Parse {
                command: "display-message".to_owned(),
                output: line,
            }
            .into());
        }
        if dead == "1" {
            return Err(SendError::PaneDead {
                target: target.to_owned(),
            });
        }
        if is_shell(command) {
            return Err(SendError::ShellInForeground {
                target: target.to_owned(),
                command: command.to_owned(),
            });
        }
        Ok(pane_id.to_owned())
    }
}

#[cfg(test)]
mod tests {
    use super::buffer_name;

    #[test]
    fn buffer_names_are_unique() {
        let a = buffer_name();
        let b = buffer_name();
        assert_ne!(a, b);
        assert!(a.starts_with(&format!("baton-{}-", std::process::id())));
    }
}
