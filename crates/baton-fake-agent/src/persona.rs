//! The screens of each persona: what Claude Code, Codex, Amp and Gemini CLI look like.

use std::time::Instant;

use crate::app::App;
use crate::app::Entry;
use crate::app::Job;
use crate::app::State;
use crate::app::TICK;
use crate::screen::Layout;
use crate::screen::pad;
use crate::screen::repeat;
use crate::screen::width;
use crate::script::Persona;

const CLAUDE_MODES: &[&str] = &[
    "default",
    "accept edits on",
    "plan mode on",
    "bypass permissions on",
];
const OTHER_MODES: &[&str] = &["default", "auto-accept edits"];
const CLAUDE_SPINNER: [char; 6] = ['✢', '✳', '✶', '✻', '✽', '·'];
const CLAUDE_WORKING: [&str; 4] = ["Whirring", "Tinkering", "Pondering", "Crafting"];
const CLAUDE_DONE: [&str; 4] = ["Crunched", "Baked", "Worked", "Brewed"];
const GEMINI_SPINNER: [char; 10] = ['⠋', '⠙', '⠹', '⠸', '⠼', '⠴', '⠦', '⠧', '⠇', '⠏'];
/// The box shows `[Pasted text #N +L lines]` above this many characters.
const PASTE_SUMMARY_CHARS: usize = 800;

/// Returns the modes Shift+Tab cycles through.
pub fn modes(persona: Persona) -> &'static [&'static str] {
    match persona {
        Persona::Claude => CLAUDE_MODES,
        _ => OTHER_MODES,
    }
}

/// Returns the index of the mode the persona starts in.
pub fn initial_mode(persona: Persona) -> usize {
    match persona {
        Persona::Claude => 3,
        _ => 0,
    }
}

/// Returns how many choices the trust dialog has (the last one refuses).
pub fn trust_choices(persona: Persona) -> usize {
    match persona {
        Persona::Gemini => 3,
        _ => 2,
    }
}

/// Returns how many choices the permission dialog has (the last one refuses).
pub fn permission_choices(persona: Persona) -> usize {
    match persona {
        Persona::Claude | Persona::Gemini => 3,
        _ => 2,
    }
}

/// Returns the lines of the whole screen for a `width` × `height` terminal.
pub fn render(app: &App, now: Instant, width: usize, height: usize) -> Vec<String> {
    let view = View { app, now, w: width };
    if let State::ModelMenu { selected } = app.state {
        return view.model_menu(selected).fit(width, height);
    }
    let layout = match app.persona {
        Persona::Claude => view.claude(),
        Persona::Codex => view.codex(),
        Persona::Amp => view.amp(),
        Persona::Gemini => view.gemini(),
    };
    layout.fit(width, height)
}

struct View<'a> {
    app: &'a App,
    now: Instant,
    w: usize,
}

/// A running job with its elapsed seconds and animation frame.
struct Work<'a> {
    job: &'a Job,
    secs: u64,
    frame: usize,
}

fn choice(selected: bool, marker: &str, text: &str) -> String {
    if selected {
        format!("{marker} {text}")
    } else {
        format!("{} {text}", repeat(' ', width(marker)))
    }
}

fn reply_lines(glyph: &str, reply: &str) -> Vec<String> {
    let mut lines: Vec<String> = Vec::new();
    for (i, line) in reply.lines().enumerate() {
        if i == 0 {
            lines.push(format!("{glyph} {line}"));
        } else {
            lines.push(format!("  {line}"));
        }
    }
    if lines.is_empty() {
        lines.push(glyph.to_owned());
    }
    lines
}

impl View<'_> {
    fn work(&self) -> Option<Work<'_>> {
        let State::Working { job, started, .. } = &self.app.state else {
            return None;
        };
        let elapsed = self.now.saturating_duration_since(*started);
        Some(Work {
            job,
            secs: elapsed.as_secs(),
            frame: (elapsed.as_millis() / TICK.as_millis()) as usize,
        })
    }

    fn mode(&self) -> &'static str {
        let modes = modes(self.app.persona);
        modes[self.app.mode % modes.len()]
    }

    /// Returns what the input box shows (empty when the box is empty).
    fn box_text(&self) -> String {
        let text = String::from_utf8_lossy(&self.app.input);
        let lines = text.lines().count();
        if self.app.paste_count > 0 && (lines > 2 || text.chars().count() > PASTE_SUMMARY_CHARS) {
            return format!("[Pasted text #{} +{lines} lines]", self.app.paste_count);
        }
        text.split('\n').next().unwrap_or("").to_owned()
    }

    fn command(&self) -> String {
        let job = match &self.app.state {
            State::Permission { job, .. } => Some(job),
            _ => None,
        };
        job.and_then(|j| j.task.run.first().cloned())
            .unwrap_or_else(|| "rm -rf build".to_owned())
    }

    fn selected(&self) -> usize {
        match self.app.state {
            State::Permission { selected, .. }
            | State::Trust { selected }
            | State::ModelMenu { selected } => selected,
            _ => 0,
        }
    }

    fn reset_or(&self, default: &str) -> String {
        self.app
            .script
            .quota_reset
            .clone()
            .unwrap_or_else(|| default.to_owned())
    }

    fn window(&self) -> &str {
        &self.app.script.quota_window
    }

    fn cwd(&self) -> String {
        self.app.cwd.display().to_string()
    }

    fn rule(&self, left: char, right: char) -> String {
        format!("{left}{}{right}", repeat('─', self.w.saturating_sub(2)))
    }

    /// Returns `│ text … │` filling the width.
    fn boxed(&self, text: &str) -> String {
        format!("│{}│", pad(text, self.w.saturating_sub(2)))
    }

    fn transcript(&self, render: impl Fn(&Entry) -> Vec<String>) -> Vec<String> {
        let mut lines = Vec::new();
        for entry in &self.app.transcript {
            if matches!(entry, Entry::Prompt(_)) && !lines.is_empty() {
                lines.push(String::new());
            }
            lines.extend(render(entry));
        }
        lines
    }

    /// Returns the screen before the prompt, while the agent is there: `starting` while it
    /// starts, what `trust` draws while it asks whether to trust the folder; `None` after.
    fn opening(
        &self,
        starting: Vec<String>,
        trust: impl FnOnce() -> Vec<String>,
    ) -> Option<Layout> {
        let top = match self.app.state {
            State::Starting { .. } => starting,
            State::Trust { .. } => trust(),
            _ => return None,
        };
        Some(Layout {
            top,
            ..Layout::default()
        })
    }

    /// Codex's model-migration menu (0.169.0 and 0.171.0 draw it so), for every persona.
    fn model_menu(&self, sel: usize) -> Layout {
        Layout {
            top: vec![
                String::new(),
                "  Meet GPT-6 Sol".into(),
                String::new(),
                "  Our latest Sol is more intelligent and more efficient so your usage limits go further."
                    .into(),
                String::new(),
                choice(sel == 0, "›", "1. Try new model"),
                choice(sel == 1, "›", "2. Use existing model"),
                String::new(),
                "  enter/esc confirm · ^c quit".into(),
            ],
            ..Layout::default()
        }
    }

    fn claude(&self) -> Layout {
        let sel = self.selected();
        let starting = vec![" ✻ Welcome to Claude Code".into(), "Starting…".into()];
        if let Some(opening) = self.opening(starting, || {
            vec![
                self.rule('╭', '╮'),
                " Do you trust the files in this folder?".into(),
                String::new(),
                format!(" {}", self.cwd()),
                String::new(),
                " Claude Code may read, write, or execute files contained in this directory."
                    .into(),
                String::new(),
                choice(sel == 0, " ❯", "1. Yes, proceed"),
                choice(sel == 1, " ❯", "2. No, exit"),
                self.rule('╰', '╯'),
                " Enter to confirm · Esc to cancel".into(),
            ]
        }) {
            return opening;
        }
        let reset = self.reset_or("3:45pm");
        let mut transcript = self.transcript(|e| match e {
            Entry::Prompt(p) => vec![format!("> {p}")],
            Entry::Reply(r) => reply_lines("●", r),
            Entry::Done { secs, verb } => {
                vec![format!(
                    "✻ {} for {secs}s",
                    CLAUDE_DONE[verb % CLAUDE_DONE.len()]
                )]
            }
            Entry::Interrupted => vec!["  ⎿  Interrupted · What should Claude do instead?".into()],
            Entry::Limit => vec![format!(
                "  ⎿  You've hit your {} limit · resets {reset}",
                self.window()
            )],
            Entry::Credits => vec!["● Credit balance is too low".into()],
        });
        let limited = matches!(self.app.state, State::Limit);
        if limited {
            let time = reset.split(" (").next().unwrap_or(&reset);
            transcript.push(format!(
                "● Usage limit reached · continuing automatically at {time} · esc to cancel"
            ));
        }
        let mut bottom = vec![String::new()];
        let work = self.work();
        if let Some(work) = &work {
            let glyph = CLAUDE_SPINNER[work.frame % CLAUDE_SPINNER.len()];
            let verb = CLAUDE_WORKING[work.job.seq as usize % CLAUDE_WORKING.len()];
            bottom.push(format!(
                "{glyph} {verb}… ({}s · esc to interrupt)",
                work.secs
            ));
        }
        if let State::Permission { .. } = self.app.state {
            bottom.extend([
                self.rule('╭', '╮'),
                " Bash command".into(),
                String::new(),
                format!("   {}", self.command()),
                String::new(),
                " This command requires approval".into(),
                String::new(),
                " Do you want to proceed?".into(),
                choice(sel == 0, " ❯", "1. Yes"),
                choice(
                    sel == 1,
                    " ❯",
                    "2. Yes, and don't ask again for this command",
                ),
                choice(
                    sel == 2,
                    " ❯",
                    "3. No, and tell Claude what to do differently (esc)",
                ),
                self.rule('╰', '╯'),
                " Esc to cancel · Tab to amend".into(),
            ]);
        } else {
            let rule = repeat('─', self.w);
            bottom.extend([rule.clone(), format!("❯ {}", self.box_text()), rule]);
            let mut footer = if self.app.ctrl_c_armed {
                "  Press Ctrl-C again to exit".to_owned()
            } else if self.mode() == "default" {
                "  ? for shortcuts".to_owned()
            } else {
                format!("  ⏵⏵ {} (shift+tab to cycle)", self.mode())
            };
            if work.is_some() {
                footer.push_str(" · esc to interrupt");
            }
            bottom.push(footer);
            if limited {
                bottom.push(format!("  ⚠ Usage limit reached · limit resets {reset}"));
            } else if let Some(q) = self.app.quota {
                let mut line = format!("  You've used {q}% of your {} limit", self.window());
                if let Some(r) = &self.app.script.quota_reset {
                    line.push_str(&format!(" · resets {r}"));
                }
                bottom.push(line);
            }
        }
        Layout {
            top: vec![" ✻ Welcome to Claude Code (fake)".into(), String::new()],
            transcript,
            bottom,
        }
    }

    fn codex(&self) -> Layout {
        let sel = self.selected();
        let starting = vec![">_ OpenAI Codex (fake)".into(), "Booting…".into()];
        if let Some(opening) = self.opening(starting, || {
            vec![
                format!("> You are in {}", self.cwd()),
                String::new(),
                "Do you trust the contents of this directory?".into(),
                "Working with untrusted contents comes with higher risk of prompt injection."
                    .into(),
                String::new(),
                choice(sel == 0, "›", "1. Yes, continue"),
                choice(sel == 1, "›", "2. No, quit"),
                String::new(),
                "Press enter to continue".into(),
            ]
        }) {
            return opening;
        }
        let model = if self.app.new_model == Some(true) {
            "model: gpt-6-sol"
        } else {
            "model: gpt-5.5"
        };
        let header = [">_ OpenAI Codex (fake)", model];
        let inner = header.iter().map(|h| width(h)).max().unwrap_or(0);
        let mut top = vec![format!("╭{}╮", repeat('─', inner + 2))];
        top.extend(header.iter().map(|h| format!("│ {} │", pad(h, inner))));
        top.push(format!("╰{}╯", repeat('─', inner + 2)));
        top.push(String::new());
        let reset = self.reset_or("3:28 PM");
        let mut transcript = self.transcript(|e| match e {
            Entry::Prompt(p) => vec![format!("› {p}")],
            Entry::Reply(r) => reply_lines("•", r),
            Entry::Done { secs, .. } => {
                let head = format!("─ Worked for {secs}s ");
                let fill = self.w.saturating_sub(width(&head));
                vec![format!("{head}{}", repeat('─', fill))]
            }
            Entry::Interrupted => vec!["■ Interrupted by user".into()],
            Entry::Limit => vec![format!(
                "■ You've hit your usage limit. Upgrade to Pro or try again at {reset}."
            )],
            Entry::Credits => vec!["■ Insufficient credits. Add credits to continue.".into()],
        });
        if self.app.quota.is_some_and(|q| q >= 75) {
            let window = match self.window() {
                "session" | "5-hour" | "5h" => "5h",
                other => other,
            };
            transcript.push(String::new());
            transcript.push(format!(
                "⚠ Heads up, you've used over 75% of your {window} limit. Run /status for a breakdown."
            ));
        }
        let mut bottom = vec![String::new()];
        if let Some(work) = self.work() {
            let bullet = if work.frame % 2 == 0 { '◦' } else { '•' };
            bottom.push(format!(
                "{bullet} Working ({}s • esc to interrupt)",
                work.secs
            ));
            bottom.push(String::new());
        }
        if let State::Permission { .. } = self.app.state {
            bottom.extend([
                "Would you like to run the following command?".into(),
                String::new(),
                format!("  $ {}", self.command()),
                String::new(),
                choice(sel == 0, "›", "1. Yes, proceed (y)"),
                choice(
                    sel == 1,
                    "›",
                    "2. No, and tell Codex what to do differently (esc)",
                ),
                String::new(),
                "Press enter to confirm or esc to cancel".into(),
            ]);
        } else {
            let text = self.box_text();
            if text.is_empty() {
                bottom.push("› Ask Codex to do anything".into());
            } else {
                bottom.push(format!("› {text}"));
            }
            bottom.push(String::new());
            let left = if self.app.ctrl_c_armed {
                "  ctrl + c again to quit".to_owned()
            } else if self.mode() == "default" {
                "  ? for shortcuts".to_owned()
            } else {
                format!("  {} (shift+tab to cycle)", self.mode())
            };
            let right = "100% context left";
            if self.w >= width(&left) + width(right) + 2 {
                bottom.push(format!("{}{right}", pad(&left, self.w - width(right))));
            } else {
                bottom.push(left);
            }
        }
        Layout {
            top,
            transcript,
            bottom,
        }
    }

    fn amp(&self) -> Layout {
        let sel = self.selected();
        let header = "  Amp (fake) — ampcode".to_owned();
        let starting = vec![header.clone(), "Starting…".into()];
        if let Some(opening) = self.opening(starting, || {
            vec![
                header.clone(),
                String::new(),
                " Trust this workspace?".into(),
                format!(" {}", self.cwd()),
                choice(sel == 0, " ❯", "Yes"),
                choice(sel == 1, " ❯", "No"),
                " Enter to select · Esc to quit".into(),
            ]
        }) {
            return opening;
        }
        let out_of_credits =
            "✗ Out of credits: Amp Free: $0/$20 remaining. Insufficient credit balance.";
        let transcript = self.transcript(|e| match e {
            Entry::Prompt(p) => vec![format!("> {p}")],
            Entry::Reply(r) => reply_lines("✓", r),
            Entry::Done { secs, .. } => vec![format!("  Done in {secs}s")],
            Entry::Interrupted => vec!["✗ Interrupted by user".into()],
            Entry::Limit => vec![out_of_credits.into()],
            Entry::Credits => {
                vec![
                    "✗ Error: Insufficient credit balance (Individual credits: $0 remaining)."
                        .into(),
                ]
            }
        });
        let mut bottom = vec![String::new()];
        if let Some(work) = self.work() {
            bottom.push(format!("≋ Thinking… {}s · esc to cancel", work.secs));
        }
        if let State::Permission { .. } = self.app.state {
            bottom.extend([
                self.rule('╭', '╮'),
                " Allow this command?".into(),
                format!("  {}", self.command()),
                choice(sel == 0, " ❯", "Allow"),
                choice(sel == 1, " ❯", "Deny"),
                self.rule('╰', '╯'),
                " Enter to select · Esc to deny".into(),
            ]);
        } else {
            bottom.push(self.rule('╭', '╮'));
            bottom.push(self.boxed(&format!(" > {}", self.box_text())));
            bottom.push(self.rule('╰', '╯'));
            let remaining = match self.app.quota {
                Some(q) => format!("{:.2}", 20.0 * f64::from(100 - q.min(100)) / 100.0),
                None => "17.59".to_owned(),
            };
            let mut footer = if self.app.ctrl_c_armed {
                "  Press Ctrl+C again to exit".to_owned()
            } else {
                format!("  Amp Free: ${remaining}/$20 remaining · ctrl+c to exit")
            };
            if self.mode() != "default" {
                footer.push_str(&format!(" · {}", self.mode()));
            }
            bottom.push(footer);
        }
        Layout {
            top: vec![header, String::new()],
            transcript,
            bottom,
        }
    }

    fn gemini(&self) -> Layout {
        let sel = self.selected();
        let header = "  ✦ Gemini CLI (fake)".to_owned();
        let starting = vec![header.clone(), "Loading…".into()];
        if let Some(opening) = self.opening(starting, || {
            vec![
                header.clone(),
                String::new(),
                " Do you trust this folder?".into(),
                format!(" {}", self.cwd()),
                choice(sel == 0, " ●", "1. Trust folder"),
                choice(sel == 1, " ●", "2. Trust parent folder"),
                choice(sel == 2, " ●", "3. Don't trust (esc)"),
            ]
        }) {
            return opening;
        }
        let reset = self.reset_or("3:00 PM");
        let transcript = self.transcript(|e| match e {
            Entry::Prompt(p) => vec![format!("> {p}")],
            Entry::Reply(r) => reply_lines("✦", r),
            Entry::Done { .. } => Vec::new(),
            Entry::Interrupted => vec!["✕ Interrupted by user".into()],
            Entry::Limit => vec![format!(
                "✕ You have reached your daily quota limit. Usage limit reached for all Pro models. Access resets at {reset}."
            )],
            Entry::Credits => vec!["✕ API Error: Insufficient credits for this request.".into()],
        });
        let mut bottom = vec![String::new()];
        if let Some(work) = self.work() {
            let glyph = GEMINI_SPINNER[work.frame % GEMINI_SPINNER.len()];
            bottom.push(format!("{glyph} Thinking… (esc to cancel, {}s)", work.secs));
        }
        if let State::Permission { .. } = self.app.state {
            bottom.extend([
                self.rule('╭', '╮'),
                format!(" Allow execution of: '{}'?", self.command()),
                choice(sel == 0, " ●", "1. Yes, allow once"),
                choice(sel == 1, " ●", "2. Yes, allow always"),
                choice(sel == 2, " ●", "3. No, suggest changes (esc)"),
                self.rule('╰', '╯'),
            ]);
        } else {
            if self.mode() != "default" {
                bottom.push("  accepting edits (shift + tab to toggle)".into());
            }
            let text = self.box_text();
            bottom.push(self.rule('╭', '╮'));
            if text.is_empty() {
                bottom.push(self.boxed(" >   Type your message or @path/to/file"));
            } else {
                bottom.push(self.boxed(&format!(" > {text}")));
            }
            bottom.push(self.rule('╰', '╯'));
            bottom.push(if self.app.ctrl_c_armed {
                "  Press Ctrl+C again to exit.".to_owned()
            } else {
                "~/project    no sandbox    gemini-2.5-pro (100% context left)".to_owned()
            });
        }
        Layout {
            top: vec![header, String::new()],
            transcript,
            bottom,
        }
    }
}
