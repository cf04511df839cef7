//! tmux control mode: a line parser, a persistent control client, and a supervised
//! connection that reconnects by itself.
//!
//! One control client per server watches everything (pane output, windows closing,
//! subscriptions) instead of spawning a tmux process per query.

mod client;
mod connection;
mod event;
mod line;
pub mod parser;

pub use client::{COMMAND_TIMEOUT, ControlClient, PendingReply, quote_arg};
pub use connection::{ControlConnection, Subscription};
pub use event::ControlEvent;
pub use line::{command_line, quote_word};
pub use parser::{Guard, Line, parse_line, unescape};
