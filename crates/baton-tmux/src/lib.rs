//! A private tmux server for baton: plain tmux commands, a control-mode client, and exact,
//! shell-safe prompt sending.
//!
//! Everything here drives the `tmux` binary through [`std::process::Command`]; nothing links
//! against tmux. Every command targets one explicit socket ([`Socket`]), so baton never touches
//! the user's default tmux server. A server on another host is reached through a
//! [`Launcher`] (ssh), its commands carried by one control-mode client
//! ([`Tmux::with_control`]).
#![forbid(unsafe_code)]
#![warn(missing_docs)]

mod capture;
pub mod control;
mod error;
mod keys;
mod launcher;
mod pane;
mod sanitize;
mod send;
mod server;
mod shell;
mod version;
mod window;

pub use capture::CaptureRange;
pub use error::{SendError, TmuxError};
pub use keys::Key;
pub use launcher::Launcher;
pub use pane::PaneInfo;
pub use sanitize::{MAX_CSI, MAX_STRING, Sanitized, Stripped, StrippedKind, sanitize};
pub use send::PasteReport;
pub use server::{Socket, Tmux};
pub use shell::is_shell;
pub use version::TmuxVersion;
pub use window::WindowSpec;
