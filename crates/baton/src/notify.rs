//! Notices to the person at the desk, shared by quota watch and the dashboard: a desktop
//! notification (D-Bus, with the `desktop-notify` feature), else `notify-send`, else the
//! terminal bell; and, when `[notify] webhook` is set, a POST to it as well (`webhook.rs`).
//!
//! A notice never blocks its caller: `notify-send` is spawned and reaped by a small thread,
//! the D-Bus call runs on its own thread, the webhook has a queue and a thread. Titles and
//! bodies are kept short and free of control characters; callers never put a secret in them.

use std::ffi::{OsStr, OsString};
use std::fmt;
use std::fs::OpenOptions;
use std::io::{self, IsTerminal, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::Mutex;
use std::thread;
use std::time::Duration;

use crate::webhook::Webhook;

/// What a notice is about; each kind can be switched off in `baton.toml` `[notify]`.
pub use baton_core::vocab::NoticeKind;

/// The application name desktop notifications carry.
pub const APP_NAME: &str = "baton";
/// Titles are cut to this many characters.
pub const MAX_TITLE_CHARS: usize = 80;
/// Bodies are cut to this many characters.
pub const MAX_BODY_CHARS: usize = 200;
/// A `notify-send` still running after this is killed by its reaper.
const COMMAND_DEADLINE: Duration = Duration::from_secs(10);

/// Which kinds of notice are wanted; all of them unless switched off.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct NoticeFilter {
    enabled: [bool; NoticeKind::ALL.len()],
}

impl Default for NoticeFilter {
    fn default() -> NoticeFilter {
        NoticeFilter::all()
    }
}

impl NoticeFilter {
    /// Every kind on.
    pub fn all() -> NoticeFilter {
        NoticeFilter {
            enabled: [true; NoticeKind::ALL.len()],
        }
    }

    /// Every kind off.
    #[cfg(test)]
    pub fn none() -> NoticeFilter {
        NoticeFilter {
            enabled: [false; NoticeKind::ALL.len()],
        }
    }

    /// Switches one kind on or off.
    pub fn set(&mut self, kind: NoticeKind, on: bool) -> &mut NoticeFilter {
        self.enabled[kind as usize] = on;
        self
    }

    /// Whether notices of `kind` are wanted.
    pub fn enabled(&self, kind: NoticeKind) -> bool {
        self.enabled[kind as usize]
    }
}

/// Where notices go.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Backend {
    /// A desktop notification over the D-Bus session bus (notify-rust).
    #[cfg(feature = "desktop-notify")]
    Desktop,
    /// A `notify-send`-compatible program: `PROGRAM --app-name=baton --urgency=U -- TITLE BODY`.
    Command(PathBuf),
    /// The terminal bell (`\x07`) on the bell writer.
    Bell,
    /// Nothing.
    Off,
}

impl Backend {
    /// The best backend for this process's environment.
    pub fn detect() -> Backend {
        Backend::detect_from(
            std::env::var_os("DBUS_SESSION_BUS_ADDRESS").as_deref(),
            std::env::var_os("PATH").as_deref(),
        )
    }

    /// The best backend given the session bus address and the `PATH`: desktop when built
    /// with `desktop-notify` and a session bus exists, else `notify-send` when on the path,
    /// else the bell.
    pub fn detect_from(dbus_address: Option<&OsStr>, path: Option<&OsStr>) -> Backend {
        let has_bus = dbus_address.is_some_and(|a| !a.is_empty());
        #[cfg(feature = "desktop-notify")]
        if has_bus {
            return Backend::Desktop;
        }
        #[cfg(not(feature = "desktop-notify"))]
        let _ = has_bus;
        match path.and_then(|p| find_on_path("notify-send", p)) {
            Some(program) => Backend::Command(program),
            None => Backend::Bell,
        }
    }
}

/// An executable file called `name` in one of the `path` directories.
fn find_on_path(name: &str, path: &OsStr) -> Option<PathBuf> {
    std::env::split_paths(path)
        .filter(|dir| !dir.as_os_str().is_empty())
        .map(|dir| dir.join(name))
        .find(|candidate| is_executable(candidate))
}

#[cfg(unix)]
fn is_executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    p.metadata()
        .is_ok_and(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
}

#[cfg(not(unix))]
fn is_executable(p: &Path) -> bool {
    p.is_file()
}

/// Where the bell goes.
enum BellTarget {
    /// The controlling terminal if there is one, else stderr if it is a terminal, else
    /// nowhere (a daemon's stderr is a log file, which a bell byte would only dirty).
    Terminal,
    /// A given writer (tests).
    #[cfg(test)]
    Writer(Box<dyn Write + Send>),
}

/// A notice could not be shown.
#[derive(Debug, thiserror::Error)]
pub enum NotifyError {
    /// The notification program could not be started.
    #[error("cannot run {}: {source}", program.display())]
    Spawn {
        /// The program.
        program: PathBuf,
        /// Why.
        #[source]
        source: io::Error,
    },
    /// The bell could not be written.
    #[error("cannot ring the terminal bell: {0}")]
    Bell(#[source] io::Error),
    /// The desktop notification thread could not be started.
    #[error("cannot start the desktop notification: {0}")]
    #[cfg_attr(not(feature = "desktop-notify"), allow(dead_code))]
    Desktop(#[source] io::Error),
}

/// Sends notices through one backend, and the webhook if there is one, honouring a per-kind
/// filter. Shareable across threads.
pub struct Notifier {
    backend: Backend,
    filter: NoticeFilter,
    bell: Mutex<BellTarget>,
    webhook: Option<Webhook>,
}

impl fmt::Debug for Notifier {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Notifier")
            .field("backend", &self.backend)
            .field("filter", &self.filter)
            .field("webhook", &self.webhook)
            .finish_non_exhaustive()
    }
}

/// What [`Notifier::notify`] did.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Delivery {
    /// Handed to the backend or queued for the webhook.
    Sent,
    /// The kind is switched off, or the backend is `Off` (or there is no terminal to ring)
    /// and there is no webhook.
    Skipped,
}

impl Notifier {
    /// A notifier using `backend` for the kinds `filter` lets through; the bell, if used,
    /// rings the controlling terminal.
    pub fn new(backend: Backend, filter: NoticeFilter) -> Notifier {
        Notifier {
            backend,
            filter,
            bell: Mutex::new(BellTarget::Terminal),
            webhook: None,
        }
    }

    /// Also POSTs every notice the filter lets through to `webhook`.
    pub fn with_webhook(self, webhook: Webhook) -> Notifier {
        Notifier {
            webhook: Some(webhook),
            ..self
        }
    }

    /// Closes the webhook, if any ([`Webhook::close`]): its last notices get the flush time,
    /// and each one given up on is reported before this returns.
    pub fn close_webhook(&self) {
        if let Some(w) = &self.webhook {
            w.close();
        }
    }

    /// Rings the bell on `writer` instead of the terminal.
    #[cfg(test)]
    pub fn with_bell_writer(self, writer: Box<dyn Write + Send>) -> Notifier {
        Notifier {
            bell: Mutex::new(BellTarget::Writer(writer)),
            ..self
        }
    }

    /// Shows a notice, unless its kind is switched off. Never waits for the desktop or the
    /// network: the program, D-Bus call or POST runs in the background. Title and body are cut to
    /// [`MAX_TITLE_CHARS`] / [`MAX_BODY_CHARS`] characters and stripped of control
    /// characters.
    pub fn notify(
        &self,
        kind: NoticeKind,
        title: &str,
        body: &str,
    ) -> Result<Delivery, NotifyError> {
        if !self.filter.enabled(kind) {
            return Ok(Delivery::Skipped);
        }
        let title = clean(title, MAX_TITLE_CHARS, false);
        let body = clean(body, MAX_BODY_CHARS, true);
        // Queued first: a desktop that fails must not keep the notice from the phone.
        if let Some(w) = &self.webhook {
            w.send(kind, &title, &body);
        }
        let shown = match &self.backend {
            #[cfg(feature = "desktop-notify")]
            Backend::Desktop => desktop::show(kind, title, body),
            Backend::Command(program) => run_command(program, kind, &title, &body),
            Backend::Bell => self.ring(),
            Backend::Off => Ok(Delivery::Skipped),
        };
        match shown {
            Ok(Delivery::Skipped) if self.webhook.is_some() => Ok(Delivery::Sent),
            other => other,
        }
    }

    fn ring(&self) -> Result<Delivery, NotifyError> {
        let mut target = self.bell.lock().unwrap_or_else(|e| e.into_inner());
        match &mut *target {
            #[cfg(test)]
            BellTarget::Writer(w) => {
                w.write_all(b"\x07")
                    .and_then(|()| w.flush())
                    .map_err(NotifyError::Bell)?;
                Ok(Delivery::Sent)
            }
            BellTarget::Terminal => {
                if let Ok(mut tty) = OpenOptions::new().write(true).open("/dev/tty") {
                    tty.write_all(b"\x07").map_err(NotifyError::Bell)?;
                    return Ok(Delivery::Sent);
                }
                let mut err = io::stderr();
                if err.is_terminal() {
                    err.write_all(b"\x07")
                        .and_then(|()| err.flush())
                        .map_err(NotifyError::Bell)?;
                    return Ok(Delivery::Sent);
                }
                Ok(Delivery::Skipped)
            }
        }
    }
}

/// Starts `program` and leaves it to a reaper thread, which kills it past
/// [`COMMAND_DEADLINE`]: a hung notification daemon must not pile up processes.
fn run_command(
    program: &Path,
    kind: NoticeKind,
    title: &str,
    body: &str,
) -> Result<Delivery, NotifyError> {
    let urgency = if kind.is_urgent() {
        "critical"
    } else {
        "normal"
    };
    let args: [OsString; 6] = [
        format!("--app-name={APP_NAME}").into(),
        format!("--urgency={urgency}").into(),
        format!("--category=baton.{}", kind.as_str()).into(),
        // Ends the options: a title starting with '-' stays a title.
        "--".into(),
        title.into(),
        body.into(),
    ];
    let spawn = || {
        Command::new(program)
            .args(&args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
    };
    let mut result = spawn();
    // A script just written may still be open for writing in a child another thread forked
    // (ETXTBSY): that clears within moments.
    for _ in 0..3 {
        match &result {
            Err(e) if e.kind() == io::ErrorKind::ExecutableFileBusy => {
                thread::sleep(Duration::from_millis(20));
                result = spawn();
            }
            _ => break,
        }
    }
    let child = result.map_err(|source| NotifyError::Spawn {
        program: program.to_owned(),
        source,
    })?;
    // If no thread can be made, the child is dropped unreaped: a zombie until baton exits,
    // which is better than blocking the caller.
    let _ = thread::Builder::new()
        .name("notify-reaper".into())
        .spawn(move || reap(child, COMMAND_DEADLINE));
    Ok(Delivery::Sent)
}

/// Waits for `child`, killing it once `deadline` has passed.
fn reap(mut child: Child, deadline: Duration) {
    let _ = crate::processes::wait_or_kill(&mut child, deadline);
}

/// Cuts `text` to `max` characters (adding `…` when cut) and replaces control characters
/// by spaces; newlines are kept when `keep_newlines`.
fn clean(text: &str, max: usize, keep_newlines: bool) -> String {
    let text = text.trim();
    let too_long = text.chars().nth(max).is_some();
    let keep = if too_long { max.saturating_sub(1) } else { max };
    let mut out: String = text
        .chars()
        .take(keep)
        .map(|c| {
            if c.is_control() && !(keep_newlines && c == '\n') {
                ' '
            } else {
                c
            }
        })
        .collect();
    if too_long {
        out.push('…');
    }
    out
}

#[cfg(feature = "desktop-notify")]
mod desktop {
    use super::{APP_NAME, Delivery, NoticeKind, NotifyError};
    use std::thread;

    /// Shows the notification from a thread of its own: the D-Bus round trip must not
    /// block the caller.
    pub(super) fn show(
        kind: NoticeKind,
        title: String,
        body: String,
    ) -> Result<Delivery, NotifyError> {
        thread::Builder::new()
            .name("notify-desktop".into())
            .spawn(move || {
                let mut n = notify_rust::Notification::new();
                n.appname(APP_NAME).summary(&title).body(&body);
                #[cfg(all(unix, not(target_os = "macos")))]
                n.urgency(if kind.is_urgent() {
                    notify_rust::Urgency::Critical
                } else {
                    notify_rust::Urgency::Normal
                });
                #[cfg(not(all(unix, not(target_os = "macos"))))]
                let _ = kind;
                // Best effort: there is no one to report a failure to on this thread.
                let _ = n.show();
            })
            .map_err(NotifyError::Desktop)?;
        Ok(Delivery::Sent)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::Arc;
    use std::time::Instant;

    /// A bell writer the test can read back.
    #[derive(Clone, Default)]
    struct Shared(Arc<Mutex<Vec<u8>>>);

    impl Write for Shared {
        fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
            self.0.lock().unwrap().extend_from_slice(buf);
            Ok(buf.len())
        }
        fn flush(&mut self) -> io::Result<()> {
            Ok(())
        }
    }

    impl Shared {
        /// What was written so far.
        fn written(&self) -> Vec<u8> {
            self.0.lock().unwrap().clone()
        }
    }

    /// A notifier of `backend` and `filter` whose bell rings into the writer returned too.
    fn with_bell(backend: Backend, filter: NoticeFilter) -> (Notifier, Shared) {
        let bell = Shared::default();
        let n = Notifier::new(backend, filter).with_bell_writer(Box::new(bell.clone()));
        (n, bell)
    }

    /// A fake `notify-send` in `dir` that writes its arguments, one a line, to `out`
    /// (through a rename, so the test never reads half a file).
    #[cfg(unix)]
    fn fake_notify_send(dir: &Path, out: &Path) -> PathBuf {
        use std::os::unix::fs::PermissionsExt;
        let script = dir.join("notify-send");
        let out = out.display();
        std::fs::write(
            &script,
            format!("#!/bin/sh\nprintf '%s\\n' \"$@\" > '{out}.tmp' && mv '{out}.tmp' '{out}'\n"),
        )
        .unwrap();
        std::fs::set_permissions(&script, std::fs::Permissions::from_mode(0o755)).unwrap();
        script
    }

    /// Waits for `path` to exist, up to a deadline.
    fn wait_for_file(path: &Path) -> String {
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            if let Ok(s) = std::fs::read_to_string(path) {
                return s;
            }
            assert!(
                Instant::now() < deadline,
                "{} never appeared",
                path.display()
            );
            thread::sleep(Duration::from_millis(10));
        }
    }

    #[cfg(unix)]
    #[test]
    fn the_command_backend_passes_title_and_body_as_arguments() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("args.txt");
        let script = fake_notify_send(dir.path(), &out);
        let n = Notifier::new(Backend::Command(script), NoticeFilter::all());
        let started = Instant::now();
        let d = n
            .notify(
                NoticeKind::QuotaCritical,
                "-claude at 93 %",
                "session limit\nresets 2pm",
            )
            .unwrap();
        // The caller does not wait for the program.
        assert!(started.elapsed() < Duration::from_secs(2));
        assert_eq!(d, Delivery::Sent);
        let args = wait_for_file(&out);
        assert_eq!(
            args,
            "--app-name=baton\n--urgency=critical\n--category=baton.quota-critical\n--\n\
             -claude at 93 %\nsession limit\nresets 2pm\n"
        );
    }

    #[cfg(unix)]
    #[test]
    fn detection_finds_notify_send_on_the_path_else_the_bell() {
        let dir = tempfile::tempdir().unwrap();
        let script = fake_notify_send(dir.path(), &dir.path().join("unused"));
        let path =
            std::env::join_paths(["/nonexistent-dir", dir.path().to_str().unwrap()]).unwrap();
        #[cfg(not(feature = "desktop-notify"))]
        assert_eq!(
            Backend::detect_from(Some(OsStr::new("unix:path=/run/bus")), Some(&path)),
            Backend::Command(script.clone())
        );
        #[cfg(feature = "desktop-notify")]
        assert_eq!(
            Backend::detect_from(Some(OsStr::new("unix:path=/run/bus")), Some(&path)),
            Backend::Desktop
        );
        assert_eq!(
            Backend::detect_from(None, Some(&path)),
            Backend::Command(script)
        );
        assert_eq!(
            Backend::detect_from(Some(OsStr::new("")), Some(OsStr::new("/nonexistent-dir"))),
            Backend::Bell
        );
        assert_eq!(Backend::detect_from(None, None), Backend::Bell);
    }

    #[cfg(unix)]
    #[test]
    fn a_missing_program_is_an_error_not_a_panic() {
        let n = Notifier::new(
            Backend::Command(PathBuf::from("/nonexistent/notify-send")),
            NoticeFilter::all(),
        );
        let e = n.notify(NoticeKind::RunFinished, "t", "b").unwrap_err();
        assert!(e.to_string().contains("/nonexistent/notify-send"), "{e}");
    }

    #[test]
    fn the_bell_backend_rings_the_given_writer() {
        let (n, bell) = with_bell(Backend::Bell, NoticeFilter::all());
        assert_eq!(
            n.notify(NoticeKind::NeedsInput, "claude", "permission dialog")
                .unwrap(),
            Delivery::Sent
        );
        n.notify(NoticeKind::RunFinished, "run", "done").unwrap();
        assert_eq!(bell.written(), b"\x07\x07");
    }

    #[test]
    fn disabled_kinds_do_nothing() {
        let mut filter = NoticeFilter::all();
        filter.set(NoticeKind::QuotaWarn, false);
        assert!(!filter.enabled(NoticeKind::QuotaWarn));
        assert!(filter.enabled(NoticeKind::QuotaCritical));
        let (n, bell) = with_bell(Backend::Bell, filter);
        assert_eq!(
            n.notify(NoticeKind::QuotaWarn, "t", "b").unwrap(),
            Delivery::Skipped
        );
        assert!(bell.written().is_empty());

        // A disabled kind never starts the program either.
        let n = Notifier::new(
            Backend::Command(PathBuf::from("/nonexistent/notify-send")),
            NoticeFilter::none(),
        );
        for kind in NoticeKind::ALL {
            assert_eq!(n.notify(kind, "t", "b").unwrap(), Delivery::Skipped);
        }
    }

    #[test]
    fn the_off_backend_does_nothing() {
        let (n, bell) = with_bell(Backend::Off, NoticeFilter::all());
        assert_eq!(
            n.notify(NoticeKind::AgentDead, "t", "b").unwrap(),
            Delivery::Skipped
        );
        assert!(bell.written().is_empty());
    }

    #[test]
    fn kinds_have_kebab_case_names_both_ways() {
        for kind in NoticeKind::ALL {
            assert_eq!(kind.as_str().parse::<NoticeKind>().unwrap(), kind);
            let json = serde_json::to_string(&kind).unwrap();
            assert_eq!(json, format!("\"{kind}\""));
            assert_eq!(serde_json::from_str::<NoticeKind>(&json).unwrap(), kind);
        }
        assert_eq!(NoticeKind::QuotaWarn.as_str(), "quota-warn");
        assert_eq!(NoticeKind::RunFinished.to_string(), "run-finished");
        let e = "quota_warn".parse::<NoticeKind>().unwrap_err();
        assert!(e.to_string().contains("quota-warn, quota-critical"), "{e}");
    }

    #[test]
    fn bodies_are_cut_on_a_char_boundary_and_cleaned() {
        let long = "é".repeat(500);
        let cut = clean(&long, MAX_BODY_CHARS, true);
        assert_eq!(cut.chars().count(), MAX_BODY_CHARS);
        assert!(cut.ends_with('…'));
        assert_eq!(clean("a\x1b[31mb\tc\nd", 50, true), "a [31mb c\nd");
        assert_eq!(clean("a\nb", 50, false), "a b");
        assert_eq!(clean("exact", 5, true), "exact");
        assert_eq!(clean("exactly", 5, true), "exac…");
        assert_eq!(clean("  padded  ", 50, true), "padded");
    }
}
