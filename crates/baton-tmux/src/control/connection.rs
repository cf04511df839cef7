//! [`ControlConnection`]: a control client that reconnects by itself.

use std::sync::{Arc, Mutex, MutexGuard};
use std::thread::JoinHandle;
use std::time::Duration;

use crossbeam_channel::{Receiver, Sender};

use super::client::ControlClient;
use super::event::ControlEvent;
use crate::error::TmuxError;
use crate::server::Tmux;

/// First delay before reconnecting; doubles up to [`MAX_BACKOFF`].
const MIN_BACKOFF: Duration = Duration::from_millis(50);
/// Longest delay between reconnection attempts.
const MAX_BACKOFF: Duration = Duration::from_secs(1);

/// A `refresh-client -B` subscription, re-applied on every (re)connection.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Subscription {
    /// Name reported in [`ControlEvent::SubscriptionChanged`] (no `:`).
    pub name: String,
    /// What to watch: `%*` all panes, `@*` all windows, `%3`, or empty for the session.
    pub target: String,
    /// The format, e.g. `#{pane_dead}`.
    pub format: String,
}

impl Subscription {
    /// A subscription named `name` to `format` over `target`.
    pub fn new(
        name: impl Into<String>,
        target: impl Into<String>,
        format: impl Into<String>,
    ) -> Subscription {
        Subscription {
            name: name.into(),
            target: target.into(),
            format: format.into(),
        }
    }
}

/// A supervised control connection to one session.
///
/// Events of successive clients go to one channel. When a client's output ends (server
/// killed, client killed) the channel gets [`ControlEvent::Disconnected`] once; the
/// connection then retries with backoff (50 ms doubling to 1 s) and, once attached again with
/// its subscriptions re-applied, sends [`ControlEvent::Reconnected`]. Dropping it stops all.
///
/// Through a [`crate::Launcher`] the client is `ssh … 'tmux … -C attach-session -t =name'`:
/// a cut ssh connection ends its output like a killed client, and is reconnected the same way.
#[derive(Debug)]
pub struct ControlConnection {
    current: Arc<Mutex<Option<Arc<ControlClient>>>>,
    stop: Option<Sender<()>>,
    thread: Option<JoinHandle<()>>,
}

fn lock<T>(mutex: &Mutex<T>) -> MutexGuard<'_, T> {
    mutex
        .lock()
        .unwrap_or_else(|poisoned| poisoned.into_inner())
}

type Attached = (Arc<ControlClient>, Receiver<ControlEvent>);

/// Connect and apply the subscriptions.
fn attach(
    tmux: &Tmux,
    session: &str,
    subscriptions: &[Subscription],
) -> Result<Attached, TmuxError> {
    let (client, events) = ControlClient::connect(tmux, session)?;
    for sub in subscriptions {
        client.subscribe(&sub.name, &sub.target, &sub.format)?;
    }
    Ok((Arc::new(client), events))
}

impl ControlConnection {
    /// Attach to `session` now (or keep trying in the background) and supervise the client.
    ///
    /// If the first attempt fails, the channel starts with [`ControlEvent::Disconnected`].
    pub fn start(
        tmux: Tmux,
        session: String,
        subscriptions: Vec<Subscription>,
    ) -> (ControlConnection, Receiver<ControlEvent>) {
        Self::start_with_backoff(tmux, session, subscriptions, MAX_BACKOFF)
    }

    /// [`ControlConnection::start`] with another longest wait between reconnection attempts
    /// (the first is 50 ms, doubling up to `max_backoff`): over ssh each attempt is an ssh
    /// connection, so a host that is down is tried less often.
    pub fn start_with_backoff(
        tmux: Tmux,
        session: String,
        subscriptions: Vec<Subscription>,
        max_backoff: Duration,
    ) -> (ControlConnection, Receiver<ControlEvent>) {
        // The client is attached with processes: a handle routing commands through a
        // connection (this one, maybe) would wait on itself to connect.
        let tmux = tmux.without_control();
        let (out, events) = crossbeam_channel::unbounded();
        let (stop, stopped) = crossbeam_channel::bounded(0);
        let current = Arc::new(Mutex::new(None));
        let first = match attach(&tmux, &session, &subscriptions) {
            Ok(attached) => {
                *lock(&current) = Some(Arc::clone(&attached.0));
                Some(attached)
            }
            Err(_) => {
                let _ = out.send(ControlEvent::Disconnected);
                None
            }
        };
        let shared = Arc::clone(&current);
        let supervisor = Supervisor {
            tmux,
            max_backoff,
            session,
            subscriptions,
            current: shared,
            out,
            stopped,
        };
        let thread = std::thread::Builder::new()
            .name("baton-tmux-control-supervisor".to_owned())
            .spawn(move || supervisor.run(first))
            .ok();
        (
            ControlConnection {
                current,
                stop: Some(stop),
                thread,
            },
            events,
        )
    }

    /// Send a command through the current client (see [`ControlClient::command`]).
    pub fn command(&self, command: &str) -> Result<Vec<String>, TmuxError> {
        self.command_with_timeout(command, super::COMMAND_TIMEOUT)
    }

    /// [`ControlConnection::command`] with another timeout.
    pub fn command_with_timeout(
        &self,
        command: &str,
        timeout: Duration,
    ) -> Result<Vec<String>, TmuxError> {
        let client = lock(&self.current).clone();
        match client {
            Some(client) => client.command_with_timeout(command, timeout),
            None => Err(TmuxError::Disconnected {
                command: command.to_owned(),
            }),
        }
    }

    /// Send a command and return at once (see [`ControlClient::command_async`]).
    pub fn command_async(&self, command: &str) -> Result<super::PendingReply, TmuxError> {
        let client = lock(&self.current).clone();
        match client {
            Some(client) => client.command_async(command),
            None => Err(TmuxError::Disconnected {
                command: command.to_owned(),
            }),
        }
    }

    /// Send a command without waiting for its reply (see [`ControlClient::send`]).
    pub fn send(&self, command: &str) -> Result<(), TmuxError> {
        let client = lock(&self.current).clone();
        match client {
            Some(client) => client.send(command),
            None => Err(TmuxError::Disconnected {
                command: command.to_owned(),
            }),
        }
    }

    /// Whether a client is attached right now.
    pub fn is_connected(&self) -> bool {
        lock(&self.current).as_ref().is_some_and(|c| c.is_alive())
    }

    /// Pid of the current `tmux -C` client process, if attached.
    pub fn client_pid(&self) -> Option<u32> {
        lock(&self.current).as_ref().map(|c| c.pid())
    }
}

impl Drop for ControlConnection {
    fn drop(&mut self) {
        drop(self.stop.take());
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
        lock(&self.current).take();
    }
}

/// The supervising thread's state.
struct Supervisor {
    tmux: Tmux,
    max_backoff: Duration,
    session: String,
    subscriptions: Vec<Subscription>,
    current: Arc<Mutex<Option<Arc<ControlClient>>>>,
    out: Sender<ControlEvent>,
    stopped: Receiver<()>,
}

impl Supervisor {
    fn run(self, mut attached: Option<Attached>) {
        loop {
            if let Some((client, events)) = attached.take() {
                if !self.forward(&events) {
                    return;
                }
                lock(&self.current).take();
                drop(client);
                let _ = self.out.send(ControlEvent::Disconnected);
            }
            match self.reconnect() {
                Some(again) => {
                    *lock(&self.current) = Some(Arc::clone(&again.0));
                    let _ = self.out.send(ControlEvent::Reconnected);
                    attached = Some(again);
                }
                None => return,
            }
        }
    }

    /// Forward events until the client disconnects (true) or we are stopped (false).
    fn forward(&self, events: &Receiver<ControlEvent>) -> bool {
        loop {
            crossbeam_channel::select! {
                recv(self.stopped) -> _ => return false,
                recv(events) -> event => match event {
                    Ok(ControlEvent::Disconnected) | Err(_) => return true,
                    Ok(event) => {
                        let _ = self.out.send(event);
                    }
                },
            }
        }
    }

    /// Retry with backoff until attached (Some) or stopped (None).
    fn reconnect(&self) -> Option<Attached> {
        let mut delay = MIN_BACKOFF;
        loop {
            crossbeam_channel::select! {
                recv(self.stopped) -> _ => return None,
                default(delay) => {}
            }
            if let Ok(attached) = attach(&self.tmux, &self.session, &self.subscriptions) {
                return Some(attached);
            }
            delay = (delay * 2).min(self.max_backoff);
        }
    }
}
