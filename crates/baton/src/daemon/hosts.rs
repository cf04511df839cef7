//! Agents on other hosts, as the daemon sees them: each host's control connection (its
//! events tagged with the host), a cut connection waited for, a host unreachable for its
//! `down_after_secs` counted down (its agents' tasks go elsewhere), tried again with backoff,
//! and its agents started again when it is back.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;
use std::time::Instant;

use baton_core::engine::Event;
use baton_core::vocab::AgentStatus;
use baton_core::vocab::JournalAction;
use baton_tmux::control::ControlConnection;
use baton_tmux::control::ControlEvent;
use crossbeam_channel::Receiver;
use crossbeam_channel::Sender;

use crate::error::CliResult;
use crate::hosts::Hosts;
use crate::hosts::tag;
use crate::project::Project;
use crate::remote_report::Pump;

use super::Shell;
use super::Wake;

/// Longest wait between two attempts to reconnect to a host (50 ms doubling): each is an ssh
/// connection.
const RECONNECT_MAX: Duration = Duration::from_secs(5);

/// First wait before trying a host that is down again; doubles up to [`MAX_PROBE`].
const FIRST_PROBE: Duration = Duration::from_secs(2);
/// Longest wait between two tries of a host that is down.
const MAX_PROBE: Duration = Duration::from_secs(60);

/// What the daemon keeps of the other hosts.
#[derive(Default)]
pub(super) struct HostWatch {
    /// Each host's report pump.
    pub pumps: BTreeMap<String, Pump>,
    /// Hosts whose connection dropped, since when.
    lost: BTreeMap<String, Instant>,
    /// Hosts counted down: when to try next, and the wait after that.
    down: BTreeMap<String, (Instant, Duration)>,
    /// Hosts being tried now.
    probing: std::collections::BTreeSet<String>,
}

/// What [`connect`] gives: each host's control connection, their events on one channel (host,
/// event with its ids tagged), each host's report pump.
pub(super) struct Connected {
    pub conns: BTreeMap<String, Arc<ControlConnection>>,
    pub events: Receiver<(String, ControlEvent)>,
    pub pumps: BTreeMap<String, Pump>,
}

/// Connects to every host; `hosts` gets each connection for its commands.
pub(super) fn connect(project: &Project, hosts: &mut Hosts) -> Connected {
    let (tx, rx) = crossbeam_channel::unbounded();
    // Each first attempt in parallel: a host that does not answer costs its ssh timeout once.
    let started: Vec<_> = std::thread::scope(|s| {
        let spawned: Vec<_> = hosts
            .remotes
            .iter()
            .map(|(host, tmux)| {
                let (host, tmux) = (host.clone(), tmux.clone());
                let session = project.session.clone();
                s.spawn(move || {
                    let conn = ControlConnection::start_with_backoff(
                        tmux,
                        session,
                        Vec::new(),
                        RECONNECT_MAX,
                    );
                    (host, conn)
                })
            })
            .collect();
        spawned.into_iter().filter_map(|j| j.join().ok()).collect()
    });
    let mut conns = BTreeMap::new();
    let mut pumps = BTreeMap::new();
    for (host, (conn, events)) in started {
        let conn = Arc::new(conn);
        let tmux = hosts.remotes[&host].clone().with_control(Arc::clone(&conn));
        hosts.set_remote(&host, tmux.clone());
        forward(host.clone(), events, tx.clone());
        pumps.insert(
            host.clone(),
            Pump::start(
                host.clone(),
                hosts.agents_on(&host),
                tmux,
                Arc::clone(&conn),
                project.root.clone(),
            ),
        );
        conns.insert(host, conn);
    }
    Connected {
        conns,
        events: rx,
        pumps,
    }
}

/// Forwards a host's events with their pane and window ids tagged, until its connection ends.
fn forward(host: String, events: Receiver<ControlEvent>, out: Sender<(String, ControlEvent)>) {
    let _ = std::thread::Builder::new()
        .name(format!("baton-host-{host}"))
        .spawn(move || {
            for ev in events {
                let ev = match ev {
                    ControlEvent::Output { pane, data } => ControlEvent::Output {
                        pane: tag(&pane, &host),
                        data,
                    },
                    ControlEvent::WindowClose { window } => ControlEvent::WindowClose {
                        window: tag(&window, &host),
                    },
                    other => other,
                };
                if out.send((host.clone(), ev)).is_err() {
                    return;
                }
            }
        });
}

impl Shell<'_> {
    /// An event of a host's control connection.
    pub(super) fn on_remote(&mut self, host: String, ev: ControlEvent) -> CliResult<()> {
        match ev {
            ControlEvent::Output { .. } => {
                if let Some(p) = self.hosts.pumps.get(&host) {
                    p.poke();
                }
                self.on_control(ev);
            }
            ControlEvent::WindowClose { .. } => self.on_control(ev),
            ControlEvent::Disconnected if !self.hosts.lost.contains_key(&host) => {
                self.hosts.lost.insert(host.clone(), Instant::now());
                self.journal(
                    None,
                    None,
                    JournalAction::HostLost,
                    &format!("{host}: the ssh connection dropped: reconnecting"),
                );
            }
            ControlEvent::Reconnected => {
                let since = self.hosts.lost.remove(&host);
                let was_down = self.hosts.down.remove(&host).is_some();
                let after = since.map_or(String::new(), |t| {
                    format!(" after {:.1} s", t.elapsed().as_secs_f64())
                });
                self.journal(
                    None,
                    None,
                    JournalAction::HostBack,
                    &format!("{host}: connected again{after}"),
                );
                if was_down {
                    self.host_back(&host)?;
                } else {
                    self.refresh_panes();
                    let agents = self.agents_on(&host);
                    self.dirty.extend(agents);
                }
                if let Some(p) = self.hosts.pumps.get(&host) {
                    p.poke();
                }
            }
            _ => {}
        }
        Ok(())
    }

    fn agents_on(&self, host: &str) -> Vec<String> {
        self.project
            .config
            .agents
            .iter()
            .filter(|a| a.host.as_deref() == Some(host))
            .map(|a| a.name.clone())
            .collect()
    }

    /// On each tick: a host unreachable for its `down_after_secs` is counted down; a host
    /// that is down is tried again when its wait is over.
    pub(super) fn check_hosts(&mut self) -> CliResult<()> {
        let due: Vec<String> = self
            .hosts
            .lost
            .iter()
            .filter(|(h, since)| {
                !self.hosts.down.contains_key(*h)
                    && self
                        .project
                        .config
                        .hosts
                        .iter()
                        .find(|c| &c.name == *h)
                        .is_some_and(|c| since.elapsed().as_secs() >= c.down_after_secs)
            })
            .map(|(h, _)| h.clone())
            .collect();
        for host in due {
            self.host_down(&host)?;
        }
        let now = Instant::now();
        let tries: Vec<String> = self
            .hosts
            .down
            .iter()
            .filter(|(h, (at, _))| *at <= now && !self.hosts.probing.contains(*h))
            .map(|(h, _)| h.clone())
            .collect();
        for host in tries {
            self.probe(&host);
        }
        Ok(())
    }

    /// The host stayed unreachable: its agents count as down (their tasks go elsewhere).
    fn host_down(&mut self, host: &str) -> CliResult<()> {
        let secs = self
            .hosts
            .lost
            .get(host)
            .map_or(0, |t| t.elapsed().as_secs());
        self.hosts
            .down
            .insert(host.to_owned(), (Instant::now() + FIRST_PROBE, FIRST_PROBE));
        self.journal(
            None,
            None,
            JournalAction::HostDown,
            &format!(
                "{host}: unreachable for {secs} s: its agents count as down and their tasks go to agents elsewhere; tried again with backoff"
            ),
        );
        for agent in self.agents_on(host) {
            self.panes.remove(&agent);
            self.record_state(&agent, AgentStatus::Dead, None);
            self.journal(
                Some(&agent),
                None,
                JournalAction::AgentDied,
                &format!("host {host} is down"),
            );
            self.feed(Event::AgentDied { agent })?;
        }
        Ok(())
    }

    /// Tries a host that is down, on a thread: reachable, its session is started there if
    /// it is gone (a rebooted host), and its control connection attaches by itself.
    fn probe(&mut self, host: &str) {
        let Some(config) = self
            .project
            .config
            .hosts
            .iter()
            .find(|c| c.name == host)
            .cloned()
        else {
            return;
        };
        self.hosts.probing.insert(host.to_owned());
        let tmux = crate::hosts::remote_tmux(self.project, &config);
        let session = self.project.session.clone();
        let console = baton_tmux::WindowSpec::new(baton_core::config::CONSOLE_WINDOW)
            .cwd(config.dir.clone())
            .size(
                self.project.config.session.width,
                self.project.config.session.height,
            );
        let wake = self.wake_tx.clone();
        let name = host.to_owned();
        let _ = std::thread::Builder::new()
            .name(format!("baton-probe-{host}"))
            .spawn(move || {
                use crate::windows::WindowOps;
                let ok = match WindowOps::has_session(&tmux, &session) {
                    Ok(true) => true,
                    Ok(false) => {
                        crate::hosts::prepare(&config).is_ok()
                            && WindowOps::start_session(&tmux, &session, &console).is_ok()
                    }
                    Err(_) => false,
                };
                let _ = wake.send(Wake::HostProbed { host: name, ok });
            });
    }

    /// A try of a host that is down ended: when it failed, the next one waits twice as long.
    pub(super) fn host_probed(&mut self, host: &str, ok: bool) {
        self.hosts.probing.remove(host);
        if let Some((at, wait)) = self.hosts.down.get_mut(host) {
            let next = if ok {
                FIRST_PROBE
            } else {
                (*wait * 2).min(MAX_PROBE)
            };
            *at = Instant::now() + next;
            *wait = next;
        }
    }

    /// A host counted down is back: its agents are started again (one still running there
    /// had its task taken back, so it starts afresh) and come up.
    fn host_back(&mut self, host: &str) -> CliResult<()> {
        let agents = self.agents_on(host);
        let panes = self
            .tmux
            .session_panes(&self.project.session)
            .unwrap_or_default();
        for agent in &agents {
            let live = panes
                .iter()
                .find(|p| &p.window_name == agent && !p.dead)
                .map(|p| p.pane_id.clone());
            if let Some(pane) = live {
                let Some(cfg) = self.project.config.agent(agent) else {
                    continue;
                };
                let spec = crate::windows::agent_window(self.project, cfg);
                if let Err(e) = self.tmux.respawn_pane(&pane, &spec) {
                    eprintln!("warning: host {host}: cannot restart {agent}: {e}");
                }
            }
        }
        let _ = crate::windows::start(&*self.tmux, self.project, &mut self.store, &mut drop);
        self.refresh_panes();
        for agent in agents {
            if !self.panes.contains_key(&agent) {
                continue;
            }
            self.first_start.remove(&agent);
            self.journal(
                Some(&agent),
                None,
                JournalAction::AgentRestart,
                &format!("host {host} is back"),
            );
            self.dirty.insert(agent.clone());
            self.feed(Event::AgentUp { agent })?;
        }
        Ok(())
    }
}
