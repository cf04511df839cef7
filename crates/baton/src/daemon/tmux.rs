//! The tmux operations the daemon carries out, behind a trait: the real server (through its
//! control-mode client when connected), or a fake that records calls in tests.

use baton_tmux::CaptureRange;
use baton_tmux::Key;
use baton_tmux::PaneInfo;
use baton_tmux::Tmux;
use baton_tmux::TmuxError;
use baton_tmux::WindowSpec;
use baton_tmux::control::ControlConnection;

use crate::error::CliResult;
use crate::windows::WindowOps;

/// What the daemon does to the agents' panes: paste a prompt, press keys, read a screen,
/// and (through [`WindowOps`]) start windows.
pub(crate) trait TmuxOps: WindowOps {
    /// Pastes `text` into a pane (bracketed, sanitized); the error as journaled.
    fn paste(&self, pane: &str, text: &str) -> Result<(), String>;
    /// Presses one key in a pane.
    fn send_key(&self, pane: &str, key: Key) -> Result<(), TmuxError>;
    /// Presses keys named as in a profile's first-start answers (`Enter`, `Down`, `y`...).
    fn press_keys(&self, pane: &str, keys: &[String]) -> CliResult<()>;
    /// Reads a pane's visible screen; `None` when it cannot be read.
    fn capture(&self, pane: &str) -> Option<String>;
}

/// The project's tmux server, read through the persistent control-mode client when it is
/// connected.
pub(crate) struct RealTmux {
    /// The server.
    pub tmux: Tmux,
    /// The control-mode client (no process spawned per screen read).
    pub conn: Option<ControlConnection>,
}

impl WindowOps for RealTmux {
    fn has_session(&self, session: &str) -> Result<bool, TmuxError> {
        WindowOps::has_session(&self.tmux, session)
    }

    fn session_panes(&self, session: &str) -> Result<Vec<PaneInfo>, TmuxError> {
        self.tmux.session_panes(session)
    }

    fn start_session(&self, session: &str, console: &WindowSpec) -> Result<(), TmuxError> {
        self.tmux.start_session(session, console)
    }

    fn new_window(&self, session: &str, window: &WindowSpec) -> Result<PaneInfo, TmuxError> {
        WindowOps::new_window(&self.tmux, session, window)
    }

    fn respawn_pane(&self, pane: &str, window: &WindowSpec) -> Result<(), TmuxError> {
        WindowOps::respawn_pane(&self.tmux, pane, window)
    }
}

impl TmuxOps for RealTmux {
    fn paste(&self, pane: &str, text: &str) -> Result<(), String> {
        self.tmux
            .paste(pane, text)
            .map(drop)
            .map_err(|e| e.to_string())
    }

    fn send_key(&self, pane: &str, key: Key) -> Result<(), TmuxError> {
        self.tmux.send_key(pane, key)
    }

    fn press_keys(&self, pane: &str, keys: &[String]) -> CliResult<()> {
        crate::delivery::press_keys(&self.tmux, pane, keys)
    }

    /// Reads a pane's visible screen through the persistent control-mode client (no process
    /// spawned), or with `tmux capture-pane` when the client is not connected.
    fn capture(&self, pane: &str) -> Option<String> {
        if let Some(conn) = &self.conn
            && let Ok(lines) = conn.command(&format!("capture-pane -p -J -t {pane}"))
        {
            let mut screen = lines.join("\n");
            screen.push('\n');
            return Some(screen);
        }
        self.tmux.capture(pane, CaptureRange::default()).ok()
    }
}
