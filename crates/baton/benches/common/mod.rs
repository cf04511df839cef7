//! Helpers shared by the benches (`mod common;` in each). Not a bench target itself: Cargo only
//! discovers `benches/*.rs` and `benches/*/main.rs`.

// Not every bench uses every helper.
#![allow(dead_code)]

use std::process::Command;

/// The value at fraction `p` (0.0 to 1.0) of an ascending, non-empty slice: index
/// `((len - 1) * p).round()`. Panics on an empty slice.
pub fn percentile<T: Copy>(sorted: &[T], p: f64) -> T {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

/// Kills the private tmux server `tmux -L <name>` when dropped, whatever happened.
pub struct Server(pub String);

impl Drop for Server {
    fn drop(&mut self) {
        let _ = Command::new("tmux")
            .args(["-L", &self.0, "kill-server"])
            .output();
    }
}

/// Clock ticks per second (`getconf CLK_TCK`), 100 if that fails.
pub fn clk_tck() -> u64 {
    Command::new("getconf")
        .arg("CLK_TCK")
        .output()
        .ok()
        .and_then(|o| String::from_utf8_lossy(&o.stdout).trim().parse().ok())
        .unwrap_or(100)
}

/// CPU time (utime + stime) of a process, in clock ticks, from `/proc/<pid>/stat`; `None` if
/// it cannot be read.
pub fn cpu_ticks(pid: u32) -> Option<u64> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    // Fields after the command name (which may hold spaces) start after the last ')'.
    let after = stat.rsplit_once(')')?.1;
    let fields: Vec<&str> = after.split_whitespace().collect();
    // After the command: state is field 3, utime 14, stime 15 (1-based in proc(5)).
    Some(fields.get(11)?.parse::<u64>().ok()? + fields.get(12)?.parse::<u64>().ok()?)
}
