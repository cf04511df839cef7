//! The fake agent's state machine: inputs and time in, logs and screen state out.
//!
//! Nothing here touches the terminal, so tests drive it with made-up instants.

use std::path::PathBuf;
use std::process::Command;
use std::process::Stdio;
use std::time::Duration;
use std::time::Instant;

use crate::input::Input;
use crate::log::EventLog;
use crate::log::PromptLog;
use crate::persona;
use crate::script::Persona;
use crate::script::Script;
use crate::script::Task;

/// How often the working screen is redrawn.
pub const TICK: Duration = Duration::from_millis(150);

/// A prompt being handled.
#[derive(Debug, Clone)]
pub struct Job {
    /// The prompt's sequence number (from 1).
    pub seq: u64,
    /// The task entry that applies (a default one when none matched).
    pub task: Task,
    /// How long the work lasts.
    pub work: Duration,
    /// The task ID the prompt names (`TASK_ID: T-007`, else the first `T-<digits>`).
    pub task_id: Option<String>,
    /// Whether the prompt gives a task (it has a `TASK_ID` line): the one a reporting agent
    /// reports, not any ID a message mentions.
    pub is_task: bool,
}

/// Returns the task ID a prompt names: the one after `TASK_ID:` if present, else the first
/// `T-` followed by digits.
pub fn task_id_in(prompt: &str) -> Option<String> {
    let find = |text: &str| {
        let bytes = text.as_bytes();
        (0..bytes.len().saturating_sub(2)).find_map(|i| {
            if &bytes[i..i + 2] != b"T-" || (i > 0 && bytes[i - 1].is_ascii_alphanumeric()) {
                return None;
            }
            let digits = bytes[i + 2..]
                .iter()
                .take_while(|b| b.is_ascii_digit())
                .count();
            (digits > 0).then(|| text[i..i + 2 + digits].to_owned())
        })
    };
    prompt
        .find("TASK_ID:")
        .and_then(|at| find(&prompt[at..]))
        .or_else(|| find(prompt))
}

/// What the screen shows.
#[derive(Debug, Clone)]
pub enum State {
    /// The trust dialog; `selected` is the highlighted choice.
    Trust {
        /// The highlighted choice (0 = yes).
        selected: usize,
    },
    /// The model-migration menu; `selected` is the highlighted choice (0 = try the new
    /// model, 1 = keep the existing one).
    ModelMenu {
        /// The highlighted choice.
        selected: usize,
    },
    /// The starting screen, until `until`.
    Starting {
        /// When the idle screen appears.
        until: Instant,
    },
    /// Waiting for a prompt.
    Idle,
    /// The permission dialog before a job's work.
    Permission {
        /// The job waiting for permission.
        job: Job,
        /// The highlighted choice (0 = yes).
        selected: usize,
    },
    /// Working on a job; `until` is `None` when the task hangs.
    Working {
        /// The job.
        job: Job,
        /// When the work started.
        started: Instant,
        /// When the work ends; `None` = never (hang).
        until: Option<Instant>,
    },
    /// The usage-limit screen, until Esc.
    Limit,
}

/// One item of the conversation shown above the input box.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Entry {
    /// The first line of a submitted prompt.
    Prompt(String),
    /// The agent's reply.
    Reply(String),
    /// The work took `secs` seconds; `verb` picks the persona's wording.
    Done {
        /// Seconds worked.
        secs: u64,
        /// Index into the persona's verbs.
        verb: usize,
    },
    /// The user interrupted the work.
    Interrupted,
    /// The usage limit was hit.
    Limit,
    /// The credits ran out.
    Credits,
}

/// The whole fake agent.
#[derive(Debug)]
pub struct App {
    /// The persona on screen.
    pub persona: Persona,
    /// The script (with command-line overrides applied).
    pub script: Script,
    used: Vec<bool>,
    /// What the screen shows.
    pub state: State,
    /// The input box's bytes.
    pub input: Vec<u8>,
    /// How many pastes arrived so far.
    pub paste_count: u32,
    swallow_pending: bool,
    /// The conversation.
    pub transcript: Vec<Entry>,
    seq: u64,
    /// The used quota in percent, when shown.
    pub quota: Option<u32>,
    /// Index into the persona's modes.
    pub mode: usize,
    /// Whether one Ctrl-C on an empty box was pressed (a second one exits).
    pub ctrl_c_armed: bool,
    /// The working directory shown in the trust dialog.
    pub cwd: PathBuf,
    /// The model chosen in the model-migration menu (`None`: the configured one, untouched).
    pub new_model: Option<bool>,
    prompts: Option<PromptLog>,
    events: EventLog,
    exit: Option<i32>,
    crashed: bool,
    dirty: bool,
    frozen: bool,
}

impl App {
    /// Starts the agent at `now`: logs `start` and shows the trust or starting screen.
    pub fn new(
        script: Script,
        prompts: Option<PromptLog>,
        events: EventLog,
        cwd: PathBuf,
        now: Instant,
    ) -> App {
        let persona = script.persona;
        let mut app = App {
            persona,
            used: vec![false; script.tasks.len()],
            state: State::Idle,
            input: Vec::new(),
            paste_count: 0,
            swallow_pending: false,
            transcript: Vec::new(),
            seq: 0,
            quota: script.quota_percent.map(|q| q.min(100)),
            mode: persona::initial_mode(persona),
            ctrl_c_armed: false,
            cwd,
            new_model: None,
            prompts,
            events,
            exit: None,
            crashed: false,
            dirty: true,
            frozen: false,
            script,
        };
        app.events.log("start", persona.name());
        app.state = if app.script.trust_dialog {
            State::Trust { selected: 0 }
        } else {
            app.after_trust(now)
        };
        app
    }

    /// What shows once the folder is trusted: the model menu, or the starting screen.
    fn after_trust(&self, now: Instant) -> State {
        if self.script.model_menu {
            State::ModelMenu { selected: 0 }
        } else {
            self.starting(now)
        }
    }

    fn starting(&self, now: Instant) -> State {
        State::Starting {
            until: now + Duration::from_millis(self.script.start_delay_ms),
        }
    }

    /// Returns the exit code once the agent has decided to exit.
    pub fn exit_code(&self) -> Option<i32> {
        self.exit
    }

    /// Returns whether the agent exits because a task crashed it.
    pub fn crashed(&self) -> bool {
        self.crashed
    }

    /// Returns whether the screen must be drawn now (never again once a hang has shown).
    pub fn take_redraw(&mut self) -> bool {
        let hanging = matches!(self.state, State::Working { until: None, .. });
        if hanging && self.frozen {
            return false;
        }
        let dirty = std::mem::take(&mut self.dirty);
        if hanging && dirty {
            self.frozen = true;
        }
        dirty
    }

    /// Asks for a redraw (the terminal was resized); a hang still draws nothing.
    pub fn request_redraw(&mut self) {
        self.dirty = true;
    }

    /// Returns how long the main loop may sleep before [`App::tick`] has something to do.
    pub fn next_wakeup(&self, now: Instant) -> Option<Duration> {
        match &self.state {
            State::Starting { until } => Some(until.saturating_duration_since(now)),
            State::Working {
                until: Some(until), ..
            } => Some(TICK.min(until.saturating_duration_since(now))),
            _ => None,
        }
    }

    /// Advances time: ends the starting screen and finished work, animates the spinner.
    pub fn tick(&mut self, now: Instant) {
        match &self.state {
            State::Starting { until } if now >= *until => {
                self.state = State::Idle;
                self.events.log("ready", "");
                self.dirty = true;
            }
            State::Working {
                job,
                started,
                until: Some(until),
            } => {
                if job
                    .task
                    .limit_after_ms
                    .is_some_and(|ms| now >= *started + Duration::from_millis(ms))
                {
                    self.quota = self.quota.map(|_| 100);
                    self.events.log("limit", "");
                    self.transcript.push(Entry::Limit);
                    self.state = State::Limit;
                } else if now >= *until {
                    self.finish_work();
                }
                self.dirty = true;
            }
            _ => {}
        }
    }

    /// Stdin reached its end: the terminal went away.
    pub fn stdin_closed(&mut self) {
        self.events.log("stdin-closed", "");
        self.exit_with(0);
    }

    fn exit_with(&mut self, code: i32) {
        if self.exit.is_none() {
            self.events.log("exit", &code.to_string());
            self.exit = Some(code);
        }
    }

    /// Handles one input at `now`.
    pub fn handle(&mut self, input: Input, now: Instant) {
        if let Some(name) = input.key_name() {
            self.events.log("key", &name);
        }
        if input != Input::CtrlC {
            self.ctrl_c_armed = false;
        }
        self.dirty = true;
        match self.state.clone() {
            State::Trust { selected } => self.trust_input(input, selected, now),
            State::ModelMenu { selected } => self.model_menu_input(input, selected, now),
            State::Permission { job, selected } => self.permission_input(input, job, selected, now),
            State::Working { job, .. } => match input {
                Input::CtrlC | Input::Esc => self.interrupt(job.seq),
                Input::Enter => {}
                other => self.edit(other),
            },
            State::Starting { .. } => {
                if input != Input::Enter {
                    self.edit(input);
                }
            }
            State::Idle | State::Limit => match input {
                Input::Enter => self.enter(now),
                Input::CtrlC => {
                    if !self.input.is_empty() {
                        self.input.clear();
                        self.swallow_pending = false;
                    } else if self.ctrl_c_armed {
                        self.exit_with(0);
                    } else {
                        self.ctrl_c_armed = true;
                    }
                }
                Input::Esc if matches!(self.state, State::Limit) => {
                    self.events.log("limit-cancel", "");
                    self.state = State::Idle;
                }
                other => self.edit(other),
            },
        }
    }

    /// Applies an input that edits the box (or the mode); others are ignored.
    fn edit(&mut self, input: Input) {
        match input {
            Input::Text(t) => self.input.extend_from_slice(t.as_bytes()),
            Input::Newline => self.input.push(b'\n'),
            Input::Paste(bytes) => {
                self.events.log("paste", &bytes.len().to_string());
                self.input.extend_from_slice(&bytes);
                self.paste_count += 1;
                self.swallow_pending = self.script.swallow_first_enter;
            }
            Input::Backspace => {
                while let Some(b) = self.input.pop() {
                    if b & 0xC0 != 0x80 {
                        break;
                    }
                }
            }
            Input::BackTab => {
                let modes = persona::modes(self.persona);
                self.mode = (self.mode + 1) % modes.len();
                self.events.log("mode", modes[self.mode]);
            }
            _ => {}
        }
    }

    fn enter(&mut self, now: Instant) {
        if self.input.is_empty() {
            self.events.log("enter-empty", "");
        } else if self.swallow_pending {
            self.swallow_pending = false;
            self.events.log("enter-swallowed", "");
        } else {
            self.submit(now);
        }
    }

    fn submit(&mut self, now: Instant) {
        let prompt = std::mem::take(&mut self.input);
        self.swallow_pending = false;
        self.seq += 1;
        let seq = self.seq;
        if let Some(log) = self.prompts.as_mut()
            && let Err(e) = log.append(seq, &prompt)
        {
            self.events.log("log-error", &e.to_string());
        }
        self.events
            .log("submit", &format!("{seq} {}", prompt.len()));
        let first_line = String::from_utf8_lossy(&prompt)
            .lines()
            .next()
            .unwrap_or("")
            .to_owned();
        self.transcript.push(Entry::Prompt(first_line));
        let task = self.pick_task(&prompt);
        let work = Duration::from_millis(task.work_ms.unwrap_or(self.script.default_work_ms));
        let text = String::from_utf8_lossy(&prompt);
        let task_id = task_id_in(&text);
        let job = Job {
            seq,
            task,
            work,
            task_id,
            is_task: text.contains("TASK_ID"),
        };
        if let Some(code) = job.task.crash {
            self.events.log("crash", &code.to_string());
            self.crashed = true;
            self.exit_with(code);
            return;
        }
        if let (Some(q), Some(to)) = (self.quota.as_mut(), job.task.quota_to) {
            *q = to.min(100);
        }
        let over_quota = self.quota.is_some_and(|q| q >= self.script.limit_at);
        if job.task.limit_reached || over_quota {
            self.events.log("limit", "");
            self.transcript.push(Entry::Limit);
            self.state = State::Limit;
        } else if job.task.credits_exhausted {
            self.events.log("credits", "");
            self.transcript.push(Entry::Credits);
            self.state = State::Idle;
        } else if job.task.permission {
            self.events.log("permission", &seq.to_string());
            self.state = State::Permission { job, selected: 0 };
        } else {
            self.start_work(job, now);
        }
    }

    /// Returns the first unused task entry matching `prompt` (marking it used), or a default.
    fn pick_task(&mut self, prompt: &[u8]) -> Task {
        let found = self
            .script
            .tasks
            .iter()
            .enumerate()
            .find(|(i, t)| !self.used[*i] && t.matches(prompt))
            .map(|(i, t)| (i, t.clone()));
        match found {
            Some((i, task)) => {
                if !task.repeat {
                    self.used[i] = true;
                }
                task
            }
            None => Task::default(),
        }
    }

    fn start_work(&mut self, job: Job, now: Instant) {
        self.events.log("work-start", &job.seq.to_string());
        let until = (!job.task.hang).then(|| now + job.work);
        self.frozen = false;
        self.state = State::Working {
            job,
            started: now,
            until,
        };
    }

    fn finish_work(&mut self) {
        let State::Working { job, .. } = std::mem::replace(&mut self.state, State::Idle) else {
            return;
        };
        for file in &job.task.write {
            let result = file
                .path
                .parent()
                .filter(|p| !p.as_os_str().is_empty())
                .map_or(Ok(()), std::fs::create_dir_all)
                .and_then(|()| std::fs::write(&file.path, &file.content));
            match result {
                Ok(()) => self.events.log("write", &file.path.display().to_string()),
                Err(e) => self
                    .events
                    .log("write-error", &format!("{}: {e}", file.path.display())),
            }
        }
        for cmd in &job.task.run {
            self.run_command(cmd, job.seq, job.task_id.as_deref());
        }
        let report = job.task.report.unwrap_or(self.script.report);
        if report
            && job.is_task
            && job.task_id.is_some()
            && !job.task.run.iter().any(|c| c.contains("task done"))
        {
            // Named as baton names the agent in its pane ($BATON_AGENT), else by persona.
            let cmd = format!(
                "baton task done \"$BATON_FAKE_TASK\" --note \"${{BATON_AGENT:-{}}} finished it\"",
                self.persona.name()
            );
            self.run_command(&cmd, job.seq, job.task_id.as_deref());
        }
        self.events.log("work-done", &job.seq.to_string());
        let reply = job
            .task
            .reply
            .clone()
            .unwrap_or_else(|| self.script.default_reply.clone());
        self.transcript.push(Entry::Reply(reply));
        let secs = job.work.as_millis().div_ceil(1000).max(1) as u64;
        self.transcript.push(Entry::Done {
            secs,
            verb: job.seq as usize,
        });
        if let Some(q) = self.quota.as_mut() {
            *q = (*q + self.script.quota_step).min(100);
        }
    }

    fn run_command(&mut self, cmd: &str, seq: u64, task_id: Option<&str>) {
        let output = Command::new("sh")
            .arg("-c")
            .arg(cmd)
            .env("BATON_FAKE_SEQ", seq.to_string())
            .env("BATON_FAKE_TASK", task_id.unwrap_or(""))
            .stdin(Stdio::null())
            .output();
        match output {
            Ok(out) => {
                for line in String::from_utf8_lossy(&out.stdout).lines() {
                    self.events.log("run-stdout", line);
                }
                for line in String::from_utf8_lossy(&out.stderr).lines() {
                    self.events.log("run-stderr", line);
                }
                let code = out.status.code().unwrap_or(-1);
                self.events.log("run", &format!("{cmd} -> {code}"));
            }
            Err(e) => self.events.log("run", &format!("{cmd} -> error: {e}")),
        }
    }

    fn interrupt(&mut self, seq: u64) {
        self.events.log("interrupt", &seq.to_string());
        self.transcript.push(Entry::Interrupted);
        self.state = State::Idle;
    }

    fn trust_input(&mut self, input: Input, selected: usize, now: Instant) {
        let choices = persona::trust_choices(self.persona);
        let accept = match yes_no(input, selected, choices, &["1", "y"]) {
            Answer::Chosen(yes) => Some(yes),
            Answer::Moved(selected) => {
                self.state = State::Trust { selected };
                None
            }
            Answer::Ignored => None,
        };
        match accept {
            Some(true) => {
                self.events.log("trust-accepted", "");
                self.state = self.after_trust(now);
            }
            Some(false) => {
                self.events.log("trust-rejected", "");
                self.exit_with(1);
            }
            None => {}
        }
    }

    /// The model menu: "1" or Enter/Esc on the first choice tries the new model, "2" or
    /// Enter/Esc on the second keeps the existing one; Ctrl-C quits; a paste is ignored.
    fn model_menu_input(&mut self, input: Input, selected: usize, now: Instant) {
        let new = match input {
            Input::Enter | Input::Esc => Some(selected == 0),
            Input::Text(t) if t == "1" => Some(true),
            Input::Text(t) if t == "2" => Some(false),
            Input::CtrlC => {
                self.exit_with(0);
                None
            }
            Input::Paste(bytes) => {
                self.events.log("paste-ignored", &bytes.len().to_string());
                None
            }
            Input::Key(k) => {
                self.state = State::ModelMenu {
                    selected: move_selection(&k, selected, 2),
                };
                None
            }
            _ => None,
        };
        if let Some(new) = new {
            self.events
                .log("model-menu", if new { "new" } else { "existing" });
            self.new_model = Some(new);
            self.state = self.starting(now);
        }
    }

    fn permission_input(&mut self, input: Input, job: Job, selected: usize, now: Instant) {
        let choices = persona::permission_choices(self.persona);
        let yes = match yes_no(input, selected, choices, &["y"]) {
            Answer::Chosen(yes) => Some(yes),
            Answer::Moved(selected) => {
                self.state = State::Permission {
                    job: job.clone(),
                    selected,
                };
                None
            }
            Answer::Ignored => None,
        };
        match yes {
            Some(true) => {
                self.events.log("permission-yes", "");
                self.start_work(job, now);
            }
            Some(false) => {
                self.events.log("permission-no", "");
                self.transcript.push(Entry::Reply("Cancelled.".to_owned()));
                self.state = State::Idle;
            }
            None => {}
        }
    }
}

/// What an input does in a menu of `choices` that all mean yes but the last, which means no.
enum Answer {
    /// A choice was made: yes or no.
    Chosen(bool),
    /// An arrow moved the highlight to this choice.
    Moved(usize),
    /// Nothing happens.
    Ignored,
}

/// Reads an input in a yes/no menu (trust, permission): Enter takes the highlighted choice,
/// Esc and Ctrl-C say no, a word of `yes_words` says yes, `n` no, a number picks a choice,
/// an arrow moves the highlight.
fn yes_no(input: Input, selected: usize, choices: usize, yes_words: &[&str]) -> Answer {
    match input {
        Input::Enter => Answer::Chosen(selected + 1 < choices),
        Input::Esc | Input::CtrlC => Answer::Chosen(false),
        Input::Text(t) if yes_words.contains(&t.as_str()) => Answer::Chosen(true),
        Input::Text(t) if t == "n" => Answer::Chosen(false),
        Input::Text(t) => match t.parse::<usize>() {
            Ok(n) if n == choices => Answer::Chosen(false),
            Ok(n) if n > 0 && n < choices => Answer::Chosen(true),
            _ => Answer::Ignored,
        },
        Input::Key(k) => Answer::Moved(move_selection(&k, selected, choices)),
        _ => Answer::Ignored,
    }
}

fn move_selection(key: &str, selected: usize, choices: usize) -> usize {
    match key {
        "up" => selected.saturating_sub(1),
        "down" => (selected + 1).min(choices - 1),
        _ => selected,
    }
}

#[cfg(test)]
mod task_id_tests {
    use super::task_id_in;

    #[test]
    fn finds_the_task_id() {
        assert_eq!(
            task_id_in("x T-9\nTASK_ID: T-042\n").as_deref(),
            Some("T-042")
        );
        assert_eq!(
            task_id_in("[TASK T-007 — from baton]").as_deref(),
            Some("T-007")
        );
        assert_eq!(task_id_in("GET-12 and T-x"), None);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::log::read_events;
    use crate::log::read_prompt_log;

    struct Fixture {
        dir: tempfile::TempDir,
        app: App,
        now: Instant,
    }

    impl Fixture {
        fn new(script: &str) -> Fixture {
            let dir = tempfile::tempdir().unwrap();
            let script = Script::parse(script).unwrap();
            let prompts = PromptLog::open(&dir.path().join("prompts.log")).unwrap();
            let events = EventLog::open(&dir.path().join("events.log")).unwrap();
            let now = Instant::now();
            let app = App::new(script, Some(prompts), events, dir.path().to_owned(), now);
            let mut f = Fixture { dir, app, now };
            f.advance(1000);
            f
        }

        fn advance(&mut self, ms: u64) {
            self.now += Duration::from_millis(ms);
            self.app.tick(self.now);
        }

        fn send(&mut self, inputs: Vec<Input>) {
            for i in inputs {
                self.app.handle(i, self.now);
            }
        }

        /// Asserts that the screen shows each of `texts`.
        fn assert_shows(&self, texts: &[&str]) {
            let screen = self.screen();
            for text in texts {
                assert!(
                    screen.contains(text),
                    "{text:?} is not on the screen:\n{screen}"
                );
            }
        }

        fn kinds(&self) -> Vec<String> {
            read_events(&self.dir.path().join("events.log"))
                .unwrap()
                .into_iter()
                .map(|e| {
                    if e.detail.is_empty() {
                        e.kind
                    } else {
                        format!("{} {}", e.kind, e.detail)
                    }
                })
                .collect()
        }

        fn prompts(&self) -> Vec<Vec<u8>> {
            read_prompt_log(&self.dir.path().join("prompts.log")).unwrap()
        }

        fn screen(&self) -> String {
            persona::render(&self.app, self.now, 80, 24).join("\n")
        }
    }

    impl std::ops::Deref for Fixture {
        type Target = App;
        fn deref(&self) -> &App {
            &self.app
        }
    }

    fn paste(s: &str) -> Input {
        Input::Paste(s.as_bytes().to_vec())
    }

    #[test]
    fn prompt_is_logged_worked_and_replied() {
        let mut f = Fixture::new("default_work_ms = 500\ndefault_reply = \"All good.\"\n");
        assert!(matches!(f.state, State::Idle));
        f.send(vec![
            paste("line 1\nline 2"),
            Input::Text("!".into()),
            Input::Enter,
        ]);
        assert!(matches!(f.state, State::Working { .. }));
        f.assert_shows(&["esc to interrupt"]);
        f.send(vec![Input::Enter]);
        f.advance(600);
        assert!(matches!(f.state, State::Idle));
        assert_eq!(f.prompts(), vec![b"line 1\nline 2!".to_vec()]);
        let screen = f.screen();
        assert!(screen.contains("● All good."), "{screen}");
        assert!(screen.contains(" for 1s"), "{screen}");
        let kinds = f.kinds();
        let expected = [
            "start claude",
            "ready",
            "paste 13",
            "key enter",
            "submit 1 14",
            "work-start 1",
            "key enter",
            "work-done 1",
        ];
        assert_eq!(kinds, expected);
    }

    #[test]
    fn swallowed_enter_then_submit() {
        let mut f = Fixture::new("swallow_first_enter = true\n");
        f.send(vec![Input::Enter, paste("hi"), Input::Enter]);
        assert!(matches!(f.state, State::Idle));
        f.send(vec![Input::Enter]);
        assert!(matches!(f.state, State::Working { .. }));
        let kinds = f.kinds();
        assert!(kinds.contains(&"enter-empty".to_owned()));
        assert!(kinds.contains(&"enter-swallowed".to_owned()));
        assert_eq!(kinds.iter().filter(|k| k.starts_with("submit")).count(), 1);
    }

    #[test]
    fn tasks_match_in_order_and_once() {
        let mut f = Fixture::new(
            r#"
[[task]]
match = "A"
reply = "first A"
work_ms = 10
[[task]]
reply = "any"
work_ms = 10
repeat = true
"#,
        );
        for p in ["do A", "do A", "do B"] {
            f.send(vec![paste(p), Input::Enter]);
            f.advance(20);
        }
        let replies: Vec<_> = f
            .transcript
            .iter()
            .filter_map(|e| match e {
                Entry::Reply(r) => Some(r.clone()),
                _ => None,
            })
            .collect();
        assert_eq!(replies, ["first A", "any", "any"]);
    }

    #[test]
    fn write_and_run_when_work_ends() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("a/b.txt");
        let marker = dir.path().join("ran");
        let script = format!(
            "[[task]]\nwork_ms = 10\nwrite = [{{ path = {out:?}, content = \"hello\\n\" }}]\nrun = [\"echo out; touch {}; exit 3\"]\n",
            marker.display()
        );
        let mut f = Fixture::new(&script);
        f.send(vec![paste("go"), Input::Enter]);
        assert!(!out.exists());
        f.advance(20);
        assert_eq!(std::fs::read_to_string(&out).unwrap(), "hello\n");
        assert!(marker.exists());
        let kinds = f.kinds();
        assert!(kinds.contains(&"run-stdout out".to_owned()), "{kinds:?}");
        assert!(
            kinds
                .iter()
                .any(|k| k.starts_with("run echo out") && k.ends_with("-> 3"))
        );
    }

    #[test]
    fn crash_logs_prompt_then_exits() {
        let mut f = Fixture::new("[[task]]\ncrash = 3\n");
        f.send(vec![paste("boom"), Input::Enter]);
        assert_eq!(f.exit_code(), Some(3));
        assert!(f.crashed());
        assert_eq!(f.prompts(), vec![b"boom".to_vec()]);
        assert!(
            f.kinds()
                .ends_with(&["crash 3".to_owned(), "exit 3".to_owned()])
        );
    }

    #[test]
    fn hang_draws_once_and_ctrl_c_interrupts() {
        let mut f = Fixture::new("[[task]]\nhang = true\n");
        f.send(vec![paste("wait"), Input::Enter]);
        assert!(f.app.take_redraw());
        f.advance(5000);
        f.send(vec![Input::Text("x".into())]);
        assert!(!f.app.take_redraw());
        assert!(f.app.next_wakeup(f.now).is_none());
        f.send(vec![Input::CtrlC]);
        assert!(matches!(f.state, State::Idle));
        assert!(f.app.take_redraw());
        f.assert_shows(&["Interrupted"]);
        assert!(f.kinds().contains(&"interrupt 1".to_owned()));
    }

    #[test]
    fn permission_yes_and_no() {
        let mut f = Fixture::new("[[task]]\npermission = true\nrepeat = true\nwork_ms = 10\n");
        f.send(vec![paste("one"), Input::Enter]);
        f.assert_shows(&["Do you want to proceed?"]);
        f.send(vec![Input::Text("1".into())]);
        assert!(matches!(f.state, State::Working { .. }));
        f.advance(20);
        f.send(vec![paste("two"), Input::Enter, Input::Esc]);
        assert!(matches!(f.state, State::Idle));
        f.assert_shows(&["Cancelled."]);
        let kinds = f.kinds();
        assert!(kinds.contains(&"permission-yes".to_owned()));
        assert!(kinds.contains(&"permission-no".to_owned()));
    }

    #[test]
    fn limit_until_esc_and_quota_steps() {
        let mut f = Fixture::new(
            "quota_percent = 90\nquota_step = 10\nlimit_at = 100\ndefault_work_ms = 10\nquota_reset = \"2pm (Europe/Paris)\"\n",
        );
        f.assert_shows(&["You've used 90% of your session limit · resets 2pm"]);
        f.send(vec![paste("one"), Input::Enter]);
        f.advance(20);
        assert_eq!(f.quota, Some(100));
        f.send(vec![paste("two"), Input::Enter]);
        assert!(matches!(f.state, State::Limit));
        let screen = f.screen();
        assert!(screen.contains("You've hit your session limit · resets 2pm (Europe/Paris)"));
        assert!(
            screen.contains("continuing automatically at 2pm · esc to cancel"),
            "{screen}"
        );
        f.send(vec![Input::Esc]);
        assert!(matches!(f.state, State::Idle));
        assert_eq!(f.prompts().len(), 2);
    }

    #[test]
    fn quota_jumps_and_the_limit_lands_mid_work() {
        let mut f = Fixture::new(
            "quota_percent = 40\ndefault_work_ms = 5000\n[[task]]\nmatch = \"climb\"\nquota_to = 92\nlimit_after_ms = 100\n",
        );
        f.send(vec![paste("climb now"), Input::Enter]);
        assert_eq!(f.quota, Some(92));
        assert!(matches!(f.state, State::Working { .. }));
        f.assert_shows(&["You've used 92% of your session limit"]);
        f.advance(150);
        assert!(matches!(f.state, State::Limit));
        assert_eq!(f.quota, Some(100));
        f.assert_shows(&["You've hit your session limit"]);
    }

    #[test]
    fn trust_dialog_then_start() {
        let mut f = Fixture::new("trust_dialog = true\n");
        f.assert_shows(&["Do you trust the files in this folder?"]);
        f.send(vec![Input::Enter]);
        assert!(matches!(f.state, State::Starting { .. }));
        f.advance(400);
        assert!(matches!(f.state, State::Idle));
        let mut f = Fixture::new("trust_dialog = true\n");
        f.send(vec![Input::Esc]);
        assert_eq!(f.exit_code(), Some(1));
    }

    #[test]
    fn model_menu_keeps_or_changes_the_model() {
        let mut f = Fixture::new("persona = \"codex\"\nmodel_menu = true\n");
        f.assert_shows(&["› 1. Try new model", "enter/esc confirm · ^c quit"]);
        // A paste does nothing there: no choice, nothing typed.
        f.send(vec![paste("do T-001"), Input::Enter]);
        assert!(matches!(f.state, State::Starting { .. }));
        assert_eq!(
            f.new_model,
            Some(true),
            "Enter took the highlighted first choice"
        );
        let mut f = Fixture::new("persona = \"codex\"\nmodel_menu = true\ntrust_dialog = true\n");
        f.send(vec![Input::Enter]);
        assert!(matches!(f.state, State::ModelMenu { .. }));
        f.send(vec![Input::Text("2".into())]);
        f.advance(400);
        assert!(matches!(f.state, State::Idle));
        f.assert_shows(&["model: gpt-5.5"]);
        let kinds = f.kinds();
        assert!(
            kinds.contains(&"model-menu existing".to_owned()),
            "{kinds:?}"
        );
        assert!(f.prompts().is_empty());
    }

    #[test]
    fn ctrl_c_clears_then_exits() {
        let mut f = Fixture::new("");
        f.send(vec![Input::Text("abc".into()), Input::CtrlC]);
        assert!(f.input.is_empty());
        assert_eq!(f.exit_code(), None);
        f.send(vec![Input::CtrlC]);
        assert_eq!(f.exit_code(), None);
        f.send(vec![Input::CtrlC]);
        assert_eq!(f.exit_code(), Some(0));
    }

    #[test]
    fn shift_tab_cycles_modes() {
        let mut f = Fixture::new("");
        f.assert_shows(&["⏵⏵ bypass permissions on (shift+tab to cycle)"]);
        f.send(vec![Input::BackTab]);
        f.assert_shows(&["  ? for shortcuts"]);
        f.send(vec![Input::BackTab]);
        f.assert_shows(&["⏵⏵ accept edits on"]);
        assert!(f.kinds().contains(&"mode accept edits on".to_owned()));
    }

    #[test]
    fn backspace_removes_whole_characters() {
        let mut f = Fixture::new("");
        f.send(vec![Input::Text("a🎉".into()), Input::Backspace]);
        assert_eq!(f.input, b"a");
    }
}
