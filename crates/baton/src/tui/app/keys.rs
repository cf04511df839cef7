//! The keys: what each key does in each pane and overlay, and the prompts it opens.

use baton_core::task::Status;
use baton_core::task::TaskId;
use crossterm::event::Event;
use crossterm::event::KeyCode;
use crossterm::event::KeyEvent;
use crossterm::event::KeyEventKind;
use crossterm::event::KeyModifiers;
use ratatui::layout::Rect;

use crate::error::CliResult;
use crate::store::StatusChange;
use crate::tui::ui::Ask;
use crate::tui::ui::Overlay;
use crate::tui::ui::Pane;
use crate::tui::ui::Prompt;

use super::App;

impl App {
    /// Takes one terminal event.
    pub fn on_event(&mut self, event: &Event) -> CliResult<()> {
        match event {
            Event::Key(k) if k.kind != KeyEventKind::Release => self.on_key(*k),
            Event::Resize(w, h) => self.resize(Rect::new(0, 0, *w, *h)),
            _ => Ok(()),
        }
    }

    /// Takes one key.
    pub fn on_key(&mut self, key: KeyEvent) -> CliResult<()> {
        self.dirty = true;
        if key.code == KeyCode::Char('c') && key.modifiers.contains(KeyModifiers::CONTROL) {
            self.quit = true;
            return Ok(());
        }
        match std::mem::take(&mut self.ui.overlay) {
            Overlay::None => self.on_key_panes(key),
            Overlay::Prompt(p) => self.on_key_prompt(p, key),
            Overlay::Peek(p) => {
                match key.code {
                    KeyCode::Esc | KeyCode::Char('q') | KeyCode::Enter => self.peeked = None,
                    KeyCode::Char(c @ ('m' | 'M')) => self.ask_message(&p.agent, c == 'M'),
                    KeyCode::Char('t') => {
                        self.jump(&p.agent);
                        self.ui.overlay = Overlay::Peek(p);
                    }
                    _ => self.ui.overlay = Overlay::Peek(p),
                }
                Ok(())
            }
            Overlay::Detail(t) => {
                match key.code {
                    KeyCode::Char(c @ ('r' | 'b' | 'c' | 'u')) => self.task_key(c, t.id)?,
                    KeyCode::Esc | KeyCode::Char('q') | KeyCode::Enter => {}
                    _ => self.ui.overlay = Overlay::Detail(t),
                }
                Ok(())
            }
            Overlay::Help => {
                if !matches!(key.code, KeyCode::Esc | KeyCode::Char('q' | '?')) {
                    self.ui.overlay = Overlay::Help;
                }
                Ok(())
            }
        }
    }

    pub(super) fn on_key_panes(&mut self, key: KeyEvent) -> CliResult<()> {
        let page = self.areas.task_rows().max(1);
        match key.code {
            KeyCode::Char('q') => self.quit = true,
            KeyCode::Char('?') => self.ui.overlay = Overlay::Help,
            KeyCode::Esc => self.ui.message = None,
            KeyCode::Tab => self.ui.focus = self.ui.focus.step(true),
            KeyCode::BackTab => self.ui.focus = self.ui.focus.step(false),
            KeyCode::Up | KeyCode::Char('k') => self.move_by(-1)?,
            KeyCode::Down | KeyCode::Char('j') => self.move_by(1)?,
            KeyCode::PageUp => self.move_by(-(page as i64))?,
            KeyCode::PageDown => self.move_by(page as i64)?,
            KeyCode::Home | KeyCode::Char('g') => self.move_by(i64::MIN / 2)?,
            KeyCode::End | KeyCode::Char('G') => self.move_by(i64::MAX / 2)?,
            KeyCode::Char('f') | KeyCode::Char('F') => {
                self.ui.filter = self.ui.filter.step(key.code == KeyCode::Char('f'));
                self.ui.task_sel = 0;
                self.ui.task_top = 0;
                self.reload_page()?;
                self.clamp()?;
            }
            KeyCode::Char('p') => self.toggle_pause()?,
            KeyCode::Char('H') => self.ask_handoff(),
            _ => match self.ui.focus {
                Pane::Agents => self.agent_key(key.code),
                Pane::Tasks => {
                    if let Some(id) = self.selected_task_id() {
                        match key.code {
                            KeyCode::Enter => {
                                if let Some(t) = self.snap.tasks.rows.iter().find(|t| t.id == id) {
                                    self.ui.overlay = Overlay::Detail(Box::new(t.clone()));
                                }
                            }
                            KeyCode::Char(c) => self.task_key(c, id)?,
                            _ => {}
                        }
                    }
                }
                Pane::Log => {}
            },
        }
        Ok(())
    }

    pub(super) fn move_by(&mut self, delta: i64) -> CliResult<()> {
        let step = |at: usize, n: usize| -> usize {
            let to = (at as i64).saturating_add(delta);
            to.clamp(0, n.saturating_sub(1) as i64) as usize
        };
        match self.ui.focus {
            Pane::Agents => self.ui.agent_sel = step(self.ui.agent_sel, self.snap.agents.len()),
            Pane::Tasks => self.ui.task_sel = step(self.ui.task_sel, self.snap.tasks.total),
            Pane::Log => {
                // Up goes back in time.
                let max = self.snap.log.len().saturating_sub(self.areas.log_rows());
                let back = (self.ui.log_back as i64).saturating_sub(delta);
                self.ui.log_back = back.clamp(0, max as i64) as usize;
            }
        }
        self.clamp()
    }

    pub(super) fn agent_key(&mut self, code: KeyCode) {
        let Some(agent) = self.selected_agent() else {
            return;
        };
        match code {
            KeyCode::Enter | KeyCode::Char('o') => self.open_peek(&agent),
            KeyCode::Char(c @ ('m' | 'M')) => self.ask_message(&agent, c == 'M'),
            KeyCode::Char('t') => self.jump(&agent),
            _ => {}
        }
    }

    pub(super) fn task_key(&mut self, c: char, id: TaskId) -> CliResult<()> {
        let title = self
            .snap
            .tasks
            .rows
            .iter()
            .find(|t| t.id == id)
            .map(|t| t.title.clone())
            .unwrap_or_default();
        match c {
            'b' => {
                self.ui.overlay = Overlay::Prompt(Prompt::new(
                    Ask::Block(id),
                    format!("Block {id}"),
                    format!("Why is «{title}» blocked?"),
                    Vec::new(),
                ))
            }
            'c' => {
                self.ui.overlay = Overlay::Prompt(Prompt::new(
                    Ask::Cancel(id),
                    format!("Cancel {id}"),
                    format!("Cancel «{title}»? y/n"),
                    Vec::new(),
                ))
            }
            'r' => {
                let current = self
                    .snap
                    .tasks
                    .rows
                    .iter()
                    .find(|t| t.id == id)
                    .and_then(|t| t.assignee.clone());
                let choices: Vec<String> = self
                    .project
                    .config
                    .agents
                    .iter()
                    .map(|a| a.name.clone())
                    .filter(|a| Some(a) != current.as_ref())
                    .collect();
                if choices.is_empty() {
                    self.ui.complain("no other agent to give it to");
                    return Ok(());
                }
                self.ui.overlay = Overlay::Prompt(Prompt::new(
                    Ask::Reassign(id),
                    format!("Reassign {id}"),
                    format!("Give «{title}» to:"),
                    choices,
                ))
            }
            'u' => self.set_status(id, Status::Pending, StatusChange::default())?,
            _ => {}
        }
        Ok(())
    }

    pub(super) fn ask_message(&mut self, agent: &str, force: bool) {
        self.peeked = None;
        self.ui.overlay = Overlay::Prompt(Prompt::new(
            Ask::Message(agent.to_owned(), force),
            format!("Message to {agent}"),
            if force {
                "Typed into its prompt even if it is busy, and submitted (verified):".into()
            } else {
                "Typed into its prompt once it is ready, and submitted (verified):".into()
            },
            Vec::new(),
        ));
    }

    pub(super) fn ask_handoff(&mut self) {
        let lead = self.snap.lead.clone();
        let chain = &self.project.config.lead.chain;
        // The chain's order first (the next in line on top), then the other agents.
        let mut choices: Vec<String> = chain
            .iter()
            .skip_while(|a| Some(*a) != lead.as_ref())
            .skip(1)
            .chain(chain.iter())
            .cloned()
            .collect();
        for a in &self.project.config.agents {
            choices.push(a.name.clone());
        }
        let mut seen = std::collections::BTreeSet::new();
        choices.retain(|a| Some(a) != lead.as_ref() && seen.insert(a.clone()));
        if choices.is_empty() {
            self.ui.complain("no agent to hand the lead role to");
            return;
        }
        self.ui.overlay = Overlay::Prompt(Prompt::new(
            Ask::Handoff,
            "Hand over the lead".to_owned(),
            format!(
                "Hand the lead role from {} to:",
                lead.as_deref().unwrap_or("nobody")
            ),
            choices,
        ));
    }

    pub(super) fn on_key_prompt(&mut self, mut p: Prompt, key: KeyEvent) -> CliResult<()> {
        if let Ask::Cancel(id) = p.ask {
            match key.code {
                KeyCode::Char('y' | 'Y') => {
                    let c = StatusChange {
                        note: Some("cancelled from baton watch".into()),
                        ..Default::default()
                    };
                    self.set_status(id, Status::Cancelled, c)?;
                }
                KeyCode::Char('n' | 'N') | KeyCode::Esc => self.ui.say("not cancelled"),
                _ => self.ui.overlay = Overlay::Prompt(p),
            }
            return Ok(());
        }
        match key.code {
            KeyCode::Esc => return Ok(()),
            KeyCode::Enter => return self.answer(p),
            KeyCode::Up if !p.choices.is_empty() => p.selected = p.selected.saturating_sub(1),
            KeyCode::Down if !p.choices.is_empty() => {
                p.selected = (p.selected + 1).min(p.choices.len() - 1);
            }
            KeyCode::Backspace => {
                p.input.pop();
            }
            KeyCode::Char(c) if p.choices.is_empty() => p.input.push(c),
            KeyCode::Char(c) => {
                // Typing picks the first choice that starts with what was typed.
                p.input.push(c);
                match p.choices.iter().position(|a| a.starts_with(&p.input)) {
                    Some(i) => p.selected = i,
                    None => p.input.clear(),
                }
            }
            _ => {}
        }
        self.ui.overlay = Overlay::Prompt(p);
        Ok(())
    }
}
