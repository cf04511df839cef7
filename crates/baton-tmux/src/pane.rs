//! [`PaneInfo`]: one pane as tmux describes it, and the format used to ask for it.

use std::path::PathBuf;

use crate::error::TmuxError;

/// Field separator in [`PANE_FORMAT`]: a control character that tmux names never contain.
const SEP: char = '\x1f';

/// The `-F` format read back by [`PaneInfo::parse`]; fields separated by U+001F.
pub(crate) const PANE_FORMAT: &str = "#{pane_id}\x1f#{window_id}\x1f#{window_index}\x1f#{session_name}\x1f#{pane_pid}\x1f#{pane_current_command}\x1f#{pane_dead}\x1f#{pane_dead_status}\x1f#{pane_width}\x1f#{pane_height}\x1f#{window_name}\x1f#{pane_current_path}";

const FIELDS: usize = 12;

/// One pane and its window, as reported by tmux.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PaneInfo {
    /// Pane id, e.g. `%3` (stable for the pane's life; use it as a target).
    pub pane_id: String,
    /// Window id, e.g. `@2`.
    pub window_id: String,
    /// Window index in its session.
    pub window_index: u32,
    /// Window name.
    pub window_name: String,
    /// Session name.
    pub session: String,
    /// Pid of the pane's process (0 if tmux did not say).
    pub pid: u32,
    /// Foreground command of the pane's tty, e.g. `bash`, `claude`.
    pub current_command: String,
    /// Whether the pane's process has exited (only visible with `remain-on-exit`).
    pub dead: bool,
    /// Exit status of a dead pane, if known.
    pub dead_status: Option<i32>,
    /// Pane width in cells.
    pub width: u16,
    /// Pane height in cells.
    pub height: u16,
    /// Current working directory of the pane's foreground process.
    pub cwd: PathBuf,
}

impl PaneInfo {
    /// Parse one line produced by [`PANE_FORMAT`].
    pub(crate) fn parse(line: &str, command: &str) -> Result<PaneInfo, TmuxError> {
        let bad = || TmuxError::Parse {
            command: command.to_owned(),
            output: line.to_owned(),
        };
        // The name is second to last and the path last: a path may hold anything, so split
        // from the left and leave the remainder to the path.
        let fields: Vec<&str> = line.splitn(FIELDS, SEP).collect();
        if fields.len() != FIELDS {
            return Err(bad());
        }
        let number = |s: &str| s.trim().parse::<u32>().map_err(|_| bad());
        let cells = |s: &str| s.trim().parse::<u16>().map_err(|_| bad());
        Ok(PaneInfo {
            pane_id: fields[0].to_owned(),
            window_id: fields[1].to_owned(),
            window_index: number(fields[2])?,
            session: fields[3].to_owned(),
            pid: fields[4].trim().parse().unwrap_or(0),
            current_command: fields[5].to_owned(),
            dead: fields[6].trim() == "1",
            dead_status: fields[7].trim().parse().ok(),
            width: cells(fields[8])?,
            height: cells(fields[9])?,
            window_name: fields[10].to_owned(),
            cwd: PathBuf::from(fields[11]),
        })
    }

    /// Parse output that must hold exactly one pane line.
    pub(crate) fn parse_one(output: &str, command: &str) -> Result<PaneInfo, TmuxError> {
        let line = output.strip_suffix('\n').unwrap_or(output);
        if line.contains('\n') {
            return Err(TmuxError::Parse {
                command: command.to_owned(),
                output: output.to_owned(),
            });
        }
        PaneInfo::parse(line, command)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_a_line() {
        let line =
            "%3\x1f@2\x1f1\x1fmain\x1f4242\x1fsleep\x1f0\x1f\x1f200\x1f50\x1fagent one\x1f/tmp/a b";
        let pane = PaneInfo::parse(line, "t").unwrap();
        assert_eq!(pane.pane_id, "%3");
        assert_eq!(pane.window_id, "@2");
        assert_eq!(pane.window_index, 1);
        assert_eq!(pane.session, "main");
        assert_eq!(pane.pid, 4242);
        assert_eq!(pane.current_command, "sleep");
        assert!(!pane.dead);
        assert_eq!(pane.dead_status, None);
        assert_eq!((pane.width, pane.height), (200, 50));
        assert_eq!(pane.window_name, "agent one");
        assert_eq!(pane.cwd, PathBuf::from("/tmp/a b"));
    }

    #[test]
    fn dead_pane_and_odd_path() {
        let line = "%0\x1f@0\x1f0\x1fs\x1f1\x1fbash\x1f1\x1f127\x1f80\x1f24\x1fw\x1f/x\x1fy";
        let pane = PaneInfo::parse(line, "t").unwrap();
        assert!(pane.dead);
        assert_eq!(pane.dead_status, Some(127));
        assert_eq!(pane.cwd, PathBuf::from("/x\x1fy"));
    }

    #[test]
    fn garbage_is_an_error_not_a_panic() {
        assert!(PaneInfo::parse("", "t").is_err());
        assert!(PaneInfo::parse("a\x1fb", "t").is_err());
        assert!(
            PaneInfo::parse(
                "%0\x1f@0\x1fx\x1fs\x1f1\x1fbash\x1f0\x1f\x1f80\x1f24\x1fw\x1f/",
                "t"
            )
            .is_err()
        );
        assert!(PaneInfo::parse_one("a\nb\n", "t").is_err());
    }
}
