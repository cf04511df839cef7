//! [`ControlClient`]: one persistent `tmux -C attach-session` process, its reader thread, and
//! command/reply matching.
//!
//! Replies are matched robustly: after each command line the client sends a sentinel
//! `display-message -p '<token>'`. Every reply block from this client (flags bit 0) up to the
//! sentinel's block belongs to that command, so command lines that produce several blocks
//! (`a ; b`) or none (a comment) cannot shift later replies. Blocks with flags 0 (such as the
//! reply to the attach command itself, which may arrive late) are ignored.

use std::collections::VecDeque;
use std::io::{BufRead, BufReader, Write};
use std::process::{Child, ChildStdin, ChildStdout, Stdio};
use std::sync::{Arc, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender};

use super::event::ControlEvent;
use super::parser::{Guard, Line, parse_line};
use crate::error::TmuxError;
use crate::server::{Tmux, exact};

/// How long [`ControlClient::command`] waits for a reply.
pub const COMMAND_TIMEOUT: Duration = Duration::from_secs(5);

/// How long dropping a client waits for tmux to exit before killing it.
const EXIT_GRACE: Duration = Duration::from_secs(1);

/// Quote one argument for a control-mode command line (single quotes; `#`, `$`, `;` and
/// spaces are then literal).
pub fn quote_arg(arg: &str) -> String {
    format!("'{}'", arg.replace('\'', r"'\''"))
}

/// A persistent control-mode client attached to one session.
///
/// Events go to the receiver returned by [`ControlClient::connect`]; it gets
/// [`ControlEvent::Disconnected`] and then closes when tmux's output ends.
#[derive(Debug)]
pub struct ControlClient {
    shared: Arc<Shared>,
    child: Mutex<Child>,
    pid: u32,
    session: String,
    timeout: Duration,
}

#[derive(Debug)]
struct Shared {
    /// Held while writing a command line; taken (closed) on drop.
    writer: Mutex<Writer>,
    /// Commands waiting for their reply, oldest first.
    pending: Mutex<Pending>,
}

#[derive(Debug)]
struct Writer {
    stdin: Option<ChildStdin>,
    next_token: u64,
}

#[derive(Debug)]
struct Pending {
    alive: bool,
    queue: VecDeque<Waiting>,
}

#[derive(Debug)]
struct Waiting {
    token: String,
    lines: Vec<String>,
    failed: bool,
    reply: Sender<Reply>,
}

#[derive(Debug)]
struct Reply {
    lines: Vec<String>,
    failed: bool,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

/// The reply of a command sent with [`ControlClient::command_async`], to wait for.
#[derive(Debug)]
pub struct PendingReply {
    rx: Receiver<Reply>,
    command: String,
}

impl PendingReply {
    /// Waits (up to `timeout`) for the reply lines; `%error` is [`TmuxError::Control`].
    pub fn wait(self, timeout: Duration) -> Result<Vec<String>, TmuxError> {
        let command = self.command;
        match self.rx.recv_timeout(timeout) {
            Ok(Reply {
                lines,
                failed: false,
            }) => Ok(lines),
            Ok(Reply {
                lines,
                failed: true,
            }) => Err(TmuxError::Control { command, lines }),
            Err(crossbeam_channel::RecvTimeoutError::Timeout) => {
                Err(TmuxError::Timeout { command, timeout })
            }
            Err(crossbeam_channel::RecvTimeoutError::Disconnected) => {
                Err(TmuxError::Disconnected { command })
            }
        }
    }
}

impl ControlClient {
    /// Attach a control client to `session` (which must exist) and start reading its events.
    pub fn connect(
        tmux: &Tmux,
        session: &str,
    ) -> Result<(ControlClient, Receiver<ControlEvent>), TmuxError> {
        // attach-session would start an empty server if none runs: check first.
        if !tmux.has_session(session)? {
            return Err(TmuxError::NoSession {
                session: session.to_owned(),
            });
        }
        let target = exact(session);
        let describe = || format!("tmux -C attach-session -t {target}");
        let mut child = tmux
            .command_with(&["-C", "attach-session", "-t", &target])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|source| TmuxError::Spawn {
                command: describe(),
                source,
            })?;
        let pid = child.id();
        let (Some(stdin), Some(stdout)) = (child.stdin.take(), child.stdout.take()) else {
            let _ = child.kill();
            let _ = child.wait();
            return Err(TmuxError::Disconnected {
                command: describe(),
            });
        };
        let shared = Arc::new(Shared {
            writer: Mutex::new(Writer {
                stdin: Some(stdin),
                next_token: 0,
            }),
            pending: Mutex::new(Pending {
                alive: true,
                queue: VecDeque::new(),
            }),
        });
        let (events_tx, events_rx) = crossbeam_channel::unbounded();
        let reader_shared = Arc::clone(&shared);
        let spawned = std::thread::Builder::new()
            .name(format!("baton-tmux-control-{pid}"))
            .spawn(move || read_loop(stdout, &reader_shared, &events_tx));
        let client = ControlClient {
            shared,
            child: Mutex::new(child),
            pid,
            session: session.to_owned(),
            timeout: COMMAND_TIMEOUT,
        };
        if let Err(source) = spawned {
            return Err(TmuxError::Io {
                command: describe(),
                source,
            });
        }
        // One round trip: tmux has attached (or exited, e.g. the session just vanished).
        client.command("display-message -p ready")?;
        Ok((client, events_rx))
    }

    /// Pid of the `tmux -C` client process.
    pub fn pid(&self) -> u32 {
        self.pid
    }

    /// The session this client is attached to.
    pub fn session(&self) -> &str {
        &self.session
    }

    /// Whether tmux's output is still open (the client has not exited).
    pub fn is_alive(&self) -> bool {
        lock(&self.shared.pending).alive
    }

    /// Send one command line and wait (5 s) for its reply lines; `%error` is [`TmuxError::Control`].
    ///
    /// Build arguments with [`quote_arg`]: in control mode an unquoted `#` starts a comment.
    pub fn command(&self, command: &str) -> Result<Vec<String>, TmuxError> {
        self.command_with_timeout(command, self.timeout)
    }

    /// [`ControlClient::command`] with another timeout.
    pub fn command_with_timeout(
        &self,
        command: &str,
        timeout: Duration,
    ) -> Result<Vec<String>, TmuxError> {
        self.command_async(command)?.wait(timeout)
    }

    /// Sends one command line and returns at once; [`PendingReply::wait`] gets its reply.
    /// Several commands sent this way travel together: one round trip for all of them (over
    /// ssh, one network round trip instead of one per command).
    pub fn command_async(&self, command: &str) -> Result<PendingReply, TmuxError> {
        Ok(PendingReply {
            rx: self.write_command(command)?,
            command: command.to_owned(),
        })
    }

    /// Sends one command line without waiting for its reply (which is read and dropped): for
    /// commands whose answer does not matter, such as flow control, where a round trip over
    /// ssh per command would hold the caller.
    pub fn send(&self, command: &str) -> Result<(), TmuxError> {
        self.write_command(command).map(drop)
    }

    /// Writes a command and its sync token; the receiver gets its reply.
    fn write_command(&self, command: &str) -> Result<Receiver<Reply>, TmuxError> {
        if command.trim().is_empty() {
            return Err(TmuxError::InvalidCommand {
                command: command.to_owned(),
                reason: "an empty line would detach the client",
            });
        }
        if command.contains(['\n', '\r', '\0']) {
            return Err(TmuxError::InvalidCommand {
                command: command.to_owned(),
                reason: "a command must fit on one line",
            });
        }
        let disconnected = || TmuxError::Disconnected {
            command: command.to_owned(),
        };
        let (reply_tx, reply_rx) = crossbeam_channel::bounded(1);
        {
            let mut writer = lock(&self.shared.writer);
            let token = format!("baton-sync-{}-{}", self.pid, writer.next_token);
            writer.next_token += 1;
            {
                let mut pending = lock(&self.shared.pending);
                if !pending.alive {
                    return Err(disconnected());
                }
                pending.queue.push_back(Waiting {
                    token: token.clone(),
                    lines: Vec::new(),
                    failed: false,
                    reply: reply_tx,
                });
            }
            let line = format!("{command}\ndisplay-message -p {}\n", quote_arg(&token));
            let written = match writer.stdin.as_mut() {
                Some(stdin) => stdin
                    .write_all(line.as_bytes())
                    .and_then(|()| stdin.flush())
                    .is_ok(),
                None => false,
            };
            if !written {
                lock(&self.shared.pending)
                    .queue
                    .retain(|w| w.token != token);
                return Err(disconnected());
            }
        }
        Ok(reply_rx)
    }

    /// Subscribe to a format (`refresh-client -B name:target:format`); changes arrive as
    /// [`ControlEvent::SubscriptionChanged`]. `target` is e.g. `%*` (all panes) or `@*`.
    pub fn subscribe(&self, name: &str, target: &str, format: &str) -> Result<(), TmuxError> {
        let spec = format!("{name}:{target}:{format}");
        self.command(&format!("refresh-client -B {}", quote_arg(&spec)))
            .map(drop)
    }

    /// Remove a subscription.
    pub fn unsubscribe(&self, name: &str) -> Result<(), TmuxError> {
        self.command(&format!("refresh-client -B {}", quote_arg(name)))
            .map(drop)
    }
}

impl Drop for ControlClient {
    fn drop(&mut self) {
        if let Some(mut stdin) = lock(&self.shared.writer).stdin.take() {
            // An empty line detaches; closing stdin then makes sure the client ends.
            let _ = stdin.write_all(b"\n");
            let _ = stdin.flush();
        }
        let mut child = lock(&self.child);
        let deadline = Instant::now() + EXIT_GRACE;
        loop {
            match child.try_wait() {
                Ok(Some(_)) => break,
                Ok(None) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(5))
                }
                _ => {
                    let _ = child.kill();
                    let _ = child.wait();
                    break;
                }
            }
        }
    }
}

/// A reply block being read.
struct Block {
    guard: Guard,
    lines: Vec<String>,
}

/// Read tmux's stdout until EOF: route reply blocks to waiting commands, the rest to `events`.
fn read_loop(stdout: ChildStdout, shared: &Shared, events: &Sender<ControlEvent>) {
    let mut reader = BufReader::new(stdout);
    let mut buf = Vec::new();
    let mut block: Option<Block> = None;
    loop {
        buf.clear();
        match reader.read_until(b'\n', &mut buf) {
            Ok(0) | Err(_) => break,
            Ok(_) => {}
        }
        if let Some(current) = block.as_mut() {
            if buf.starts_with(b"%end ") || buf.starts_with(b"%error ") {
                match parse_line(&buf) {
                    Line::End(g) if g.number == current.guard.number => {
                        if let Some(done) = block.take() {
                            finish_block(shared, done, false);
                        }
                        continue;
                    }
                    Line::Error(g) if g.number == current.guard.number => {
                        if let Some(done) = block.take() {
                            finish_block(shared, done, true);
                        }
                        continue;
                    }
                    _ => {}
                }
            }
            let text = buf.strip_suffix(b"\n").unwrap_or(&buf);
            current
                .lines
                .push(String::from_utf8_lossy(text).into_owned());
            continue;
        }
        match parse_line(&buf) {
            Line::Begin(guard) => {
                block = Some(Block {
                    guard,
                    lines: Vec::new(),
                })
            }
            // A stray end without a begin: nothing to do.
            Line::End(_) | Line::Error(_) => {}
            line => {
                let _ = events.send(ControlEvent::from_line(line, &buf));
            }
        }
    }
    {
        let mut pending = lock(&shared.pending);
        pending.alive = false;
        // Dropping the reply senders wakes every waiting command with "disconnected".
        pending.queue.clear();
    }
    let _ = events.send(ControlEvent::Disconnected);
}

/// Attribute a finished block to the oldest waiting command.
fn finish_block(shared: &Shared, block: Block, failed: bool) {
    if !block.guard.from_client() {
        return;
    }
    let mut pending = lock(&shared.pending);
    let Some(front) = pending.queue.front_mut() else {
        return;
    };
    if !failed && block.lines.len() == 1 && block.lines[0] == front.token {
        if let Some(done) = pending.queue.pop_front() {
            let _ = done.reply.send(Reply {
                lines: done.lines,
                failed: done.failed,
            });
        }
    } else {
        front.lines.extend(block.lines);
        front.failed |= failed;
    }
}

#[cfg(test)]
mod tests {
    use super::quote_arg;

    #[test]
    fn quoting() {
        assert_eq!(quote_arg("x:%*:#{pane_dead}"), "'x:%*:#{pane_dead}'");
        assert_eq!(quote_arg("a'b"), r"'a'\''b'");
        assert_eq!(quote_arg(""), "''");
    }
}
