//! The real terminal: raw mode, bracketed paste, the stdin reader thread and the main loop.

use std::io;
use std::io::Read;
use std::io::Write;
use std::sync::mpsc;
use std::sync::mpsc::RecvTimeoutError;
use std::thread;
use std::time::Duration;
use std::time::Instant;

use crate::app::App;
use crate::input::Parser;
use crate::persona;

/// How long a lone Escape byte waits for the rest of a sequence.
const ESC_WAIT: Duration = Duration::from_millis(50);
/// How often the loop wakes up when nothing is scheduled, to notice a resized terminal.
const IDLE_WAIT: Duration = Duration::from_millis(250);

/// Puts the terminal in raw mode with bracketed paste; restores it when dropped
/// (also while a panic unwinds).
struct TerminalGuard {
    raw: bool,
}

impl TerminalGuard {
    fn enter() -> TerminalGuard {
        // Without a terminal (stdin piped) the agent still runs, in cooked mode.
        let raw = crossterm::terminal::enable_raw_mode().is_ok();
        write_out(b"\x1b[?2004h\x1b[?25l");
        TerminalGuard { raw }
    }
}

impl Drop for TerminalGuard {
    fn drop(&mut self) {
        write_out(b"\x1b[?2004l\x1b[?25h\r\n");
        if self.raw {
            let _ = crossterm::terminal::disable_raw_mode();
        }
    }
}

fn write_out(bytes: &[u8]) {
    let mut out = io::stdout().lock();
    // A closed terminal is noticed through stdin; nothing to do here.
    let _ = out.write_all(bytes);
    let _ = out.flush();
}

fn terminal_size() -> (u16, u16) {
    crossterm::terminal::size()
        .ok()
        .filter(|(w, h)| *w > 0 && *h > 0)
        .unwrap_or((80, 24))
}

fn draw(app: &App, now: Instant, (w, h): (u16, u16)) {
    let lines = persona::render(app, now, usize::from(w), usize::from(h));
    let mut frame = b"\x1b[H\x1b[2J".to_vec();
    frame.extend_from_slice(lines.join("\r\n").as_bytes());
    write_out(&frame);
}

/// Reads stdin as raw bytes on a thread; `None` means end of input.
fn spawn_reader() -> mpsc::Receiver<Option<Vec<u8>>> {
    let (tx, rx) = mpsc::channel();
    thread::spawn(move || {
        let mut stdin = io::stdin().lock();
        let mut buf = [0u8; 16 * 1024];
        loop {
            match stdin.read(&mut buf) {
                Ok(0) => {
                    let _ = tx.send(None);
                    return;
                }
                Ok(n) => {
                    if tx.send(Some(buf[..n].to_vec())).is_err() {
                        return;
                    }
                }
                Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
                Err(_) => {
                    let _ = tx.send(None);
                    return;
                }
            }
        }
    });
    rx
}

/// Runs the agent in the terminal until it exits; returns the exit code.
pub fn run(app: &mut App) -> i32 {
    let _guard = TerminalGuard::enter();
    let rx = spawn_reader();
    let mut parser = Parser::new();
    let mut esc_since: Option<Instant> = None;
    let mut drawn_size = None;
    loop {
        let now = Instant::now();
        app.tick(now);
        if let Some(code) = app.exit_code() {
            return code;
        }
        let size = terminal_size();
        if drawn_size.is_some_and(|s| s != size) {
            app.request_redraw();
        }
        if app.take_redraw() {
            draw(app, now, size);
            drawn_size = Some(size);
        }
        let mut timeout = app.next_wakeup(now).unwrap_or(IDLE_WAIT);
        if let Some(since) = esc_since {
            timeout = timeout.min(ESC_WAIT.saturating_sub(now.saturating_duration_since(since)));
        }
        match rx.recv_timeout(timeout) {
            Ok(Some(bytes)) => {
                for input in parser.feed(&bytes) {
                    app.handle(input, Instant::now());
                }
                esc_since = parser.has_pending_escape().then(Instant::now);
            }
            Ok(None) | Err(RecvTimeoutError::Disconnected) => app.stdin_closed(),
            Err(RecvTimeoutError::Timeout) => {
                if esc_since.is_some_and(|since| since.elapsed() >= ESC_WAIT) {
                    esc_since = None;
                    for input in parser.flush_escape() {
                        app.handle(input, Instant::now());
                    }
                }
            }
        }
    }
}
