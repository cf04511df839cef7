//! Sending a prompt to an agent and verifying it was taken: the shell side of
//! [`baton_core::delivery`].

use std::time::Duration;
use std::time::Instant;

use baton_core::AgentState;
use baton_core::Detection;
use baton_core::Profile;
use baton_core::delivery::Delivery;
use baton_core::delivery::Step;
use baton_core::detect;
use baton_tmux::CaptureRange;
use baton_tmux::Key;
use baton_tmux::Stripped;
use baton_tmux::Tmux;
use serde::Serialize;

use crate::error::CliError;
use crate::error::CliResult;
use crate::error::ErrorKind;

/// How often the screen is looked at while a delivery is checked.
const POLL: Duration = Duration::from_millis(30);

/// The outcome of a verified send.
#[derive(Debug, Serialize)]
pub struct Sent {
    /// Bytes pasted.
    pub bytes: usize,
    /// Escape sequences and control characters removed, with their byte offsets in the
    /// original text.
    pub stripped: Vec<StrippedChar>,
    /// Times Enter was pressed.
    pub enters: u32,
    /// The state that proved delivery (none when not verified).
    pub state: Option<AgentState>,
    /// Milliseconds from paste to proof.
    pub elapsed_ms: u64,
}

/// A removed escape sequence or control character, for output.
#[derive(Debug, Serialize)]
pub struct StrippedChar {
    /// Byte offset in the original text.
    pub offset: usize,
    /// Its first character as `U+001B`.
    pub code: String,
    /// Bytes removed from the original text.
    pub bytes: usize,
    /// `control`, `escape`, `csi`, `osc`, `dcs`, `sos`, `pm` or `apc`.
    pub kind: &'static str,
    /// What was removed, in visible characters (`ESC[2J`), at most 40 of them.
    pub text: String,
    /// False for a sequence whose end never came: only its introducer was removed.
    pub complete: bool,
    /// One line for people: `CSI ESC[2J`, `U+000D`.
    #[serde(skip)]
    pub description: String,
}

impl From<&Stripped> for StrippedChar {
    fn from(s: &Stripped) -> StrippedChar {
        StrippedChar {
            offset: s.offset,
            code: format!("U+{:04X}", u32::from(s.ch)),
            bytes: s.removed.len(),
            kind: s.kind.name(),
            text: s.printable(),
            complete: s.complete,
            description: s.describe(),
        }
    }
}

/// Says what [`StrippedChar`]s were removed, in one line: `removed 2 escape sequence(s) and
/// 1 control character(s) that would act as keys: CSI ESC[2J at byte 5, …`; none if none.
pub fn stripped_warning(stripped: &[StrippedChar]) -> Option<String> {
    if stripped.is_empty() {
        return None;
    }
    let controls = stripped.iter().filter(|s| s.kind == "control").count();
    let sequences = stripped.len() - controls;
    let counts = match (sequences, controls) {
        (0, c) => format!("{c} control character(s)"),
        (s, 0) => format!("{s} escape sequence(s)"),
        (s, c) => format!("{s} escape sequence(s) and {c} control character(s)"),
    };
    let list: Vec<String> = stripped
        .iter()
        .take(8)
        .map(|s| format!("{} at byte {}", s.description, s.offset))
        .collect();
    Some(format!(
        "removed {counts} that would act as keys: {}{}",
        list.join(", "),
        if stripped.len() > 8 { ", …" } else { "" }
    ))
}

/// Returns the detection of a pane's visible screen, and the screen.
pub fn look(tmux: &Tmux, pane: &str, profile: &Profile) -> CliResult<(Detection, String)> {
    let screen = tmux.capture(pane, CaptureRange::default())?;
    Ok((detect(profile, &screen), screen))
}

/// Waits until the agent is ready for a prompt (idle or finished) or `timeout` passes;
/// returns the last detection. A live first-start dialog of the profile reads as
/// needs-input whatever the detector says (a menu's cursor line may look like the box).
pub fn wait_ready(
    tmux: &Tmux,
    pane: &str,
    profile: &Profile,
    timeout: Duration,
) -> CliResult<Detection> {
    let start = Instant::now();
    loop {
        let (mut d, screen) = look(tmux, pane, profile)?;
        if baton_core::first_start::live_dialog(profile, &screen).is_some() {
            d.state = AgentState::NeedsInput;
        }
        if d.state.is_ready() || d.state == AgentState::NeedsInput || start.elapsed() >= timeout {
            return Ok(d);
        }
        std::thread::sleep(POLL);
    }
}

/// Presses the keys of a first-start dialog's answer (`Enter`, `Down`, `2`, …) in order.
pub fn press_keys(tmux: &Tmux, pane: &str, keys: &[String]) -> CliResult<()> {
    for k in keys {
        let key = match k.as_str() {
            "Enter" => Key::Enter,
            "Escape" => Key::Escape,
            "Tab" => Key::Tab,
            "BTab" => Key::BackTab,
            "Up" => Key::Up,
            "Down" => Key::Down,
            other => Key::Named(other.to_owned()),
        };
        tmux.send_key(pane, key)?;
    }
    Ok(())
}

/// Pastes `text` into the agent's pane, presses Enter, and verifies that the agent took it.
pub fn send_verified(
    tmux: &Tmux,
    pane: &str,
    profile: &Profile,
    text: &str,
    verify: bool,
) -> CliResult<Sent> {
    let start = Instant::now();
    let report = tmux.paste(pane, text)?;
    let stripped = report.stripped.iter().map(StrippedChar::from).collect();
    let now = |s: Instant| u64::try_from(s.elapsed().as_millis()).unwrap_or(u64::MAX);
    if !verify {
        tmux.send_key(pane, Key::Enter)?;
        return Ok(Sent {
            bytes: report.bytes,
            stripped,
            enters: 1,
            state: None,
            elapsed_ms: now(start),
        });
    }
    // The text as pasted: without the control characters and escape sequences removed.
    let pasted = baton_tmux::sanitize(text).text;
    let mut check = Delivery::after_paste(&profile.submit, 0).expecting(&pasted);
    let mut screen_at_enter = String::new();
    loop {
        let (seen, screen) = look(tmux, pane, profile)?;
        let changed = screen != screen_at_enter;
        match check.observe(now(start), &seen, changed) {
            Step::Wait => std::thread::sleep(POLL),
            Step::PressEnter => {
                tmux.send_key(pane, Key::Enter)?;
                screen_at_enter = screen;
            }
            Step::Delivered { state, enters } => {
                return Ok(Sent {
                    bytes: report.bytes,
                    stripped,
                    enters,
                    state: Some(state),
                    elapsed_ms: now(start),
                });
            }
            Step::Failed { reason, .. } => {
                return Err(CliError {
                    kind: ErrorKind::Delivery,
                    message: format!("prompt not delivered: {reason}"),
                    hints: vec!["look at the agent with `baton peek` or `baton attach`".to_owned()],
                });
            }
        }
    }
}

/// How long a message waits for another one to the same agent to be sent.
const SEND_LOCK_WAIT: Duration = Duration::from_secs(60);

/// Holds the agent's send lock (`.baton/send-<agent>.lock`, an advisory file lock) while it
/// lives: messages to one agent from `baton send`, `baton watch` and `baton serve`, in any
/// number of processes, are pasted and checked one after the other, never into each other.
pub struct SendLock(#[allow(dead_code)] std::fs::File);

/// Takes the agent's send lock, waiting up to a minute for a message being sent.
pub fn send_lock(project: &crate::project::Project, agent: &str) -> CliResult<SendLock> {
    let path = project.state_dir()?.join(format!("send-{agent}.lock"));
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(|e| crate::error::io_error(format!("cannot open {}", path.display()), e))?;
    let start = Instant::now();
    loop {
        match file.try_lock() {
            Ok(()) => return Ok(SendLock(file)),
            Err(std::fs::TryLockError::WouldBlock) if start.elapsed() < SEND_LOCK_WAIT => {
                std::thread::sleep(Duration::from_millis(20));
            }
            Err(std::fs::TryLockError::WouldBlock) => {
                return Err(CliError::user(format!(
                    "another message to `{agent}` has been being sent for a minute: nothing sent"
                )));
            }
            Err(std::fs::TryLockError::Error(e)) => {
                return Err(crate::error::io_error(
                    format!("cannot lock {}", path.display()),
                    e,
                ));
            }
        }
    }
}

/// Sends a message the way `baton send` does: only to an agent ready for it (unless
/// `force`; `force_hint` says how to force it), verified. What `baton watch` and
/// `baton serve` send with; returns what happened, in a line.
pub fn deliver(
    root: &std::path::Path,
    actor: &str,
    agent: &str,
    text: &str,
    force: bool,
    force_hint: &str,
) -> CliResult<String> {
    let ctx = crate::context::Context::at(root)?.acting_as(actor);
    let project = &ctx.project;
    let (tmux, pane) = crate::hosts::agent_pane(project, agent)?;
    // From here to the check, no other message to this agent is typed.
    let _lock = send_lock(project, agent)?;
    let profile = &project
        .config
        .agent(agent)
        .ok_or_else(|| CliError::user(format!("no agent `{agent}`")))?
        .profile;
    // Forced, it is typed whatever the state (no wait), and the state before says whether
    // the check after can prove anything.
    let wait = if force {
        Duration::ZERO
    } else {
        Duration::from_secs(3)
    };
    let seen = wait_ready(&tmux, &pane.pane_id, profile, wait)?;
    if !force && !seen.state.is_ready() {
        return Err(CliError::user(format!(
            "{} (not ready): nothing sent; {force_hint}",
            seen.state
        )));
    }
    if !force && let Some(held) = held_text(&seen) {
        return Err(CliError::user(format!(
            "its input box already holds `{held}`: the message would be joined to it; nothing sent; {force_hint}"
        )));
    }
    let busy = unverifiable(seen.state);
    let sent = send_verified(&tmux, &pane.pane_id, profile, text, busy.is_none())?;
    journal_sent(&ctx, agent, &sent, force, busy);
    Ok(match busy {
        Some(state) => unverified(agent, state),
        None => format!(
            "sent to {agent} ({}; Enter ×{})",
            sent.state
                .map_or_else(|| "sent".to_owned(), |s| s.to_string()),
            sent.enters
        ),
    })
}

/// What an agent's input box already holds (the start of it), when it holds text: a message
/// typed now would be joined to it and sent as one.
pub fn held_text(seen: &Detection) -> Option<String> {
    let text = seen.input.as_deref()?.trim();
    if text.is_empty() {
        return None;
    }
    let mut start: String = text.chars().take(40).collect();
    if start.len() < text.len() {
        start.push('…');
    }
    Some(start)
}

/// The state before a forced message when the check after its Enter could prove nothing:
/// only work on the screen (a dialog or an error screen is still checked: the prompt must
/// show in the input box, and no Enter is pressed into a dialog).
pub fn unverifiable(before: AgentState) -> Option<AgentState> {
    (before == AgentState::Working).then_some(before)
}

/// What a message typed into a busy agent is: typed, and no more can be said (its screen
/// showed work before the Enter, so work after it proves nothing; a busy agent may keep the
/// text in its input box until it is idle).
pub fn unverified(agent: &str, state: AgentState) -> String {
    format!(
        "typed into {agent}'s input while it was {state}: not checked (it may wait in the input \
         box until {agent} is idle)"
    )
}

/// Journals a message a person had typed into an agent's pane, as the context's actor: its
/// size and how it was checked, never its text (it may hold anything). A store that cannot
/// be written is warned about: the message is in the pane already.
pub fn journal_sent(
    ctx: &crate::context::Context,
    agent: &str,
    sent: &Sent,
    force: bool,
    busy: Option<AgentState>,
) {
    let how = match (busy, sent.state) {
        (Some(state), _) => format!("typed while {state}: not checked"),
        (None, Some(state)) => format!("Enter ×{}, {state}", sent.enters),
        (None, None) => "not verified".to_owned(),
    };
    let line = format!(
        "{} bytes sent{} ({how})",
        sent.bytes,
        if force { " with force" } else { "" }
    );
    let done = ctx.store().and_then(|mut store| {
        ctx.journal(
            &mut store,
            baton_core::vocab::JournalAction::MessageSent,
            None,
            agent,
            &line,
            "",
        )
    });
    if let Err(e) = done {
        eprintln!("warning: the message to {agent} was sent but not journaled: {e}");
    }
}
