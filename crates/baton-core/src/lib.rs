//! baton's pure core: agent profiles, the screen detector and the configuration.
//!
//! Nothing here touches a terminal, a file, a process or the clock: the `baton` binary reads
//! files, drives tmux and hands text and time in.
#![forbid(unsafe_code)]

pub mod config;
pub mod coverage;
pub mod delivery;
pub mod detector;
pub mod engine;
pub mod first_start;
pub mod import;
pub mod memory;
pub mod profile;
pub mod progress;
pub mod quota;
pub mod render;
pub mod settings;
pub mod ssh;
pub mod task;
pub mod usage;
pub mod vocab;

pub use config::Config;
pub use detector::Detection;
pub use detector::detect;
pub use profile::AgentState;
pub use profile::Profile;
