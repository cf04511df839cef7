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
    /// Whether another host's control connection is up now.
    fn connected(&self, host: &str) -> bool {
        let _ = host;
        true
    }
    /// An agent's pane wrote output (its screen will be read within 100 ms).
    fn output_seen(&self, pane: &str) {
        let _ = pane;
    }
    /// Reads several panes' screens, in order.
    fn capture_many(&self, panes: &[String]) -> Vec<Option<String>> {
        panes.iter().map(|p| self.capture(p)).collect()
    }
}

/// The project's tmux servers: the local one, read through its persistent control-mode
/// client when connected, and each host's, every command through that host's control
/// connection. A host whose connection is down is not reached at all (no ssh process is
/// started per command while it reconnects): its panes keep their last state.
pub(crate) struct RealTmux {
    /// The servers (the hosts' with their control connections).
    pub hosts: crate::hosts::Hosts,
    /// The local control-mode client (no process spawned per screen read).
    pub conn: Option<ControlConnection>,
    /// Each host's control connection.
    pub remote_conns: std::collections::BTreeMap<String, std::sync::Arc<ControlConnection>>,
    /// Panes of other hosts whose output is paused until their screen is read.
    pub paused: std::sync::Mutex<std::collections::BTreeSet<String>>,
}

impl RealTmux {
    /// The server of a (tagged) pane, when it can be reached now; `Err` says why not.
    fn reach<'a>(&'a self, pane: &'a str) -> Result<(&'a Tmux, &'a str), TmuxError> {
        if let (_, Some(host)) = crate::hosts::untag(pane)
            && !self.connected(host)
        {
            return Err(TmuxError::Disconnected {
                command: format!("(host {host}: its ssh connection is down)"),
            });
        }
        self.hosts.route(pane)
    }
}

impl WindowOps for RealTmux {
    fn has_session(&self, session: &str) -> Result<bool, TmuxError> {
        WindowOps::has_session(&self.hosts, session)
    }

    /// The local panes and those of every host connected now.
    fn session_panes(&self, session: &str) -> Result<Vec<PaneInfo>, TmuxError> {
        let mut panes = WindowOps::session_panes(&self.hosts.local, session)?;
        for host in self.remote_conns.keys().filter(|h| self.connected(h)) {
            panes.extend(self.hosts.remote_panes(host, session)?);
        }
        Ok(panes)
    }

    fn start_session(&self, session: &str, console: &WindowSpec) -> Result<(), TmuxError> {
        WindowOps::start_session(&self.hosts, session, console)
    }

    /// Opens a window; on a host whose connection is down, none (it may still run there).
    fn new_window(&self, session: &str, window: &WindowSpec) -> Result<PaneInfo, TmuxError> {
        if let Some(host) = self.hosts.host_of(&window.name)
            && !self.connected(host)
        {
            return Err(TmuxError::Disconnected {
                command: format!("(host {host}: its ssh connection is down)"),
            });
        }
        WindowOps::new_window(&self.hosts, session, window)
    }

    fn respawn_pane(&self, pane: &str, window: &WindowSpec) -> Result<(), TmuxError> {
        let (t, id) = self.reach(pane)?;
        WindowOps::respawn_pane(t, id, window)
    }

    /// Gets a host ready, only while its connection is up (an unreachable host would hold the
    /// loop for ssh's timeout).
    fn prepare_host(&self, agent: &str) -> CliResult<()> {
        if let Some(host) = self.hosts.host_of(agent)
            && !self.connected(host)
        {
            return Err(crate::error::CliError::user(format!(
                "host {host}: its ssh connection is down"
            ))
            .hint(crate::hosts::TRIED_AGAIN));
        }
        self.hosts.prepare_host(agent)
    }
}

impl TmuxOps for RealTmux {
    fn paste(&self, pane: &str, text: &str) -> Result<(), String> {
        let (t, id) = self.reach(pane).map_err(|e| e.to_string())?;
        t.paste(id, text).map(drop).map_err(|e| e.to_string())
    }

    fn send_key(&self, pane: &str, key: Key) -> Result<(), TmuxError> {
        let (t, id) = self.reach(pane)?;
        t.send_key(id, key)
    }

    fn press_keys(&self, pane: &str, keys: &[String]) -> CliResult<()> {
        let (t, id) = self.reach(pane)?;
        crate::delivery::press_keys(t, id, keys)
    }

    /// Reads a pane's visible screen through the persistent control-mode client (no process
    /// spawned), or with `tmux capture-pane` when the local client is not connected; a pane
    /// of a host whose connection is down is not read.
    fn capture(&self, pane: &str) -> Option<String> {
        if let (id, Some(host)) = crate::hosts::untag(pane) {
            let (t, _) = self.reach(pane).ok()?;
            let _ = host;
            let screen = t.capture(id, CaptureRange::default()).ok();
            self.continue_output(pane);
            return screen;
        }
        if let Some(conn) = &self.conn
            && let Ok(lines) = conn.command(&format!("capture-pane -p -J -t {pane}"))
        {
            let mut screen = lines.join("\n");
            screen.push('\n');
            return Some(screen);
        }
        self.hosts.local.capture(pane, CaptureRange::default()).ok()
    }

    fn connected(&self, host: &str) -> bool {
        self.remote_conns
            .get(host)
            .is_some_and(|c| c.is_connected())
    }

    /// Reads several screens with one round trip per server: every `capture-pane` is sent
    /// over its server's control connection before any reply is waited for (over ssh, one
    /// network round trip for a host's screens, not one each). A pane whose connection is
    /// not up is read as [`TmuxOps::capture`] reads it.
    fn capture_many(&self, panes: &[String]) -> Vec<Option<String>> {
        let sent: Vec<Option<baton_tmux::control::PendingReply>> = panes
            .iter()
            .map(|pane| {
                let (id, host) = crate::hosts::untag(pane);
                let conn = match host {
                    Some(h) => self.remote_conns.get(h).map(|c| &**c),
                    None => self.conn.as_ref(),
                }?;
                if !conn.is_connected() {
                    return None;
                }
                conn.command_async(&format!("capture-pane -p -J -t {id}"))
                    .ok()
            })
            .collect();
        let timeout = baton_tmux::control::COMMAND_TIMEOUT;
        panes
            .iter()
            .zip(sent)
            .map(|(pane, pending)| match pending {
                Some(p) => {
                    let screen = p.wait(timeout).ok().map(|lines| {
                        let mut s = lines.join("\n");
                        s.push('\n');
                        s
                    });
                    self.continue_output(pane);
                    screen
                }
                None => self.capture(pane),
            })
            .collect()
    }

    /// Flow control for another host's pane: its first output since its screen was read
    /// pauses it (`refresh-client -A %N:pause`: tmux keeps the screen up to date but sends
    /// none of that output over ssh) until the read, which continues it. A chatty agent then
    /// costs one output chunk and one screen per read (at most every 100 ms), however much
    /// it writes.
    fn output_seen(&self, pane: &str) {
        let (id, Some(host)) = crate::hosts::untag(pane) else {
            return;
        };
        if !self.paused_set().insert(pane.to_owned()) {
            return;
        }
        if let Some(conn) = self.remote_conns.get(host) {
            let _ = conn.send(&format!("refresh-client -A '{id}:pause'"));
        }
    }
}

impl RealTmux {
    /// A pane's screen was read: its output, paused since, may come again.
    fn continue_output(&self, pane: &str) {
        let (id, Some(host)) = crate::hosts::untag(pane) else {
            return;
        };
        if self.paused_set().remove(pane)
            && let Some(conn) = self.remote_conns.get(host)
        {
            let _ = conn.send(&format!("refresh-client -A '{id}:continue'"));
        }
    }

    fn paused_set(&self) -> std::sync::MutexGuard<'_, std::collections::BTreeSet<String>> {
        self.paused
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}
