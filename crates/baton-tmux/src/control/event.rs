//! [`ControlEvent`]: what a control client reports, and how parser lines map onto it.

use super::parser::Line;

/// A notification from a control client or a supervised connection.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ControlEvent {
    /// A pane wrote these bytes (raw, not necessarily UTF-8).
    Output {
        /// Pane id, e.g. `%3`.
        pane: String,
        /// The bytes written.
        data: Vec<u8>,
    },
    /// A window was added to the attached session.
    WindowAdd {
        /// Window id, e.g. `@2`.
        window: String,
    },
    /// A window closed (`%window-close` or `%unlinked-window-close`).
    WindowClose {
        /// Window id.
        window: String,
    },
    /// A window was renamed.
    WindowRenamed {
        /// Window id.
        window: String,
        /// New name.
        name: String,
    },
    /// A `refresh-client -B` subscription's value changed.
    SubscriptionChanged {
        /// Subscription name.
        name: String,
        /// Session id or `-`.
        session: String,
        /// Window id or `-`.
        window: String,
        /// Window index or `-`.
        window_index: String,
        /// Pane id or `-`.
        pane: String,
        /// The new value.
        value: String,
    },
    /// A pane entered or left a mode (e.g. copy mode).
    PaneModeChanged {
        /// Pane id.
        pane: String,
    },
    /// The client is now attached to this session.
    SessionChanged {
        /// Session id, e.g. `$0`.
        session_id: String,
        /// Session name.
        name: String,
    },
    /// A session was created or destroyed somewhere on the server.
    SessionsChanged,
    /// tmux says the client is exiting (`%exit`).
    Exit {
        /// Why, if tmux said.
        reason: Option<String>,
    },
    /// The control client's connection ended (its stdout closed).
    Disconnected,
    /// A supervised connection is attached again (subscriptions re-applied).
    Reconnected,
    /// Any other notification, verbatim.
    Other(String),
}

impl ControlEvent {
    /// The event for a parsed notification line; `raw` is used for [`ControlEvent::Other`].
    pub(crate) fn from_line(line: Line, raw: &[u8]) -> ControlEvent {
        match line {
            Line::Output { pane, data } => ControlEvent::Output { pane, data },
            Line::WindowAdd { window } => ControlEvent::WindowAdd { window },
            Line::WindowClose { window } | Line::UnlinkedWindowClose { window } => {
                ControlEvent::WindowClose { window }
            }
            Line::WindowRenamed { window, name } => ControlEvent::WindowRenamed { window, name },
            Line::SubscriptionChanged {
                name,
                session,
                window,
                window_index,
                pane,
                value,
            } => ControlEvent::SubscriptionChanged {
                name,
                session,
                window,
                window_index,
                pane,
                value,
            },
            Line::PaneModeChanged { pane } => ControlEvent::PaneModeChanged { pane },
            Line::SessionChanged { session_id, name } => {
                ControlEvent::SessionChanged { session_id, name }
            }
            Line::SessionsChanged => ControlEvent::SessionsChanged,
            Line::Exit { reason } => ControlEvent::Exit { reason },
            Line::Other(text) => ControlEvent::Other(text),
            _ => {
                let raw = raw.strip_suffix(b"\n").unwrap_or(raw);
                ControlEvent::Other(String::from_utf8_lossy(raw).into_owned())
            }
        }
    }
}
