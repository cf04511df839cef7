//! [`CaptureRange`] and [`Tmux::capture`]: reading what a pane shows.

use crate::error::TmuxError;
use crate::server::Tmux;

/// Which lines to capture; `None` means the edge of the visible screen.
///
/// Line 0 is the first visible line; negative numbers go back into the scrollback.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct CaptureRange {
    /// First line (`-S`); `None`: top of the visible screen.
    pub start: Option<i64>,
    /// Last line (`-E`); `None`: bottom of the visible screen.
    pub end: Option<i64>,
}

impl CaptureRange {
    /// The visible screen only.
    pub fn visible() -> CaptureRange {
        CaptureRange::default()
    }

    /// The visible screen plus up to `lines` lines of scrollback above it.
    pub fn with_scrollback(lines: u32) -> CaptureRange {
        CaptureRange {
            start: Some(-i64::from(lines)),
            end: None,
        }
    }
}

impl Tmux {
    /// The pane's text (`capture-pane -p -J`), wrapped lines joined, one `\n` per line.
    pub fn capture(&self, target: &str, range: CaptureRange) -> Result<String, TmuxError> {
        let start = range.start.map(|n| n.to_string());
        let end = range.end.map(|n| n.to_string());
        let mut args = vec!["capture-pane", "-p", "-J", "-t", target];
        if let Some(start) = &start {
            args.extend(["-S", start.as_str()]);
        }
        if let Some(end) = &end {
            args.extend(["-E", end.as_str()]);
        }
        self.run(&args)
    }
}
