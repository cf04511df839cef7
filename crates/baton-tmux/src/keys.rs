//! [`Key`] and [`Tmux::send_key`]: pressing one key in a pane.

use crate::error::TmuxError;
use crate::server::Tmux;

/// A key to press with `send-keys`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Key {
    /// Return.
    Enter,
    /// Escape.
    Escape,
    /// Control-C.
    CtrlC,
    /// Tab.
    Tab,
    /// Shift-Tab (`BTab`).
    BackTab,
    /// Arrow up.
    Up,
    /// Arrow down.
    Down,
    /// Any key name tmux knows (`C-d`, `PageUp`, `F1`, `y`...).
    Named(String),
}

impl Key {
    /// The key's name for `send-keys`.
    pub fn tmux_name(&self) -> &str {
        match self {
            Key::Enter => "Enter",
            Key::Escape => "Escape",
            Key::CtrlC => "C-c",
            Key::Tab => "Tab",
            Key::BackTab => "BTab",
            Key::Up => "Up",
            Key::Down => "Down",
            Key::Named(name) => name,
        }
    }
}

impl Tmux {
    /// Press one key in the pane (`send-keys -t target <key>`).
    pub fn send_key(&self, target: &str, key: Key) -> Result<(), TmuxError> {
        self.run(&["send-keys", "-t", target, key.tmux_name()])
            .map(drop)
    }
}

#[cfg(test)]
mod tests {
    use super::Key;

    #[test]
    fn names() {
        assert_eq!(Key::Enter.tmux_name(), "Enter");
        assert_eq!(Key::CtrlC.tmux_name(), "C-c");
        assert_eq!(Key::BackTab.tmux_name(), "BTab");
        assert_eq!(Key::Named("PageUp".into()).tmux_name(), "PageUp");
    }
}
