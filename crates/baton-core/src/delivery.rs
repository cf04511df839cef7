//! Verified prompt delivery: after a prompt is pasted, decide when to press Enter, when to press
//! it again, and when the agent has really taken the prompt.
//!
//! The shell pastes the text, then feeds every fresh screen detection in with the current time;
//! the rule answers with the next step. Pressing Enter on an empty prompt box does nothing in
//! every supported CLI, so an extra Enter is only ever pressed while the text may still be in the
//! box — a prompt is never submitted twice.
//!
//! A check that knows the prompt ([`Delivery::expecting`]) never counts it as taken when the
//! box could be read and never showed it (the text, a part of it, or a paste placeholder such
//! as `[Pasted text #1 +12 lines]`): then only a working signal after Enter proves delivery.
//! A box that shows other text (a menu's cursor line read as the box), or a dialog, when the
//! prompt should be there gets no Enter at all: the delivery fails with the screen as reason.

use serde::Serialize;

use crate::detector::Detection;
use crate::profile::AgentState;
use crate::profile::Submit;

/// How long to wait for the pasted text to show in the box before pressing Enter anyway.
pub const TEXT_WAIT_MS: u64 = 1500;

/// After the last Enter the check may press, how long it keeps watching for proof before it
/// says the prompt was not taken (at least the profile's `working_deadline_ms`). A CLI on a
/// loaded machine can take a prompt seconds after its Enter (Claude Code 2.1.329 in a CI
/// run); a failure said too early would make the prompt be sent again.
pub const FINAL_WAIT_MS: u64 = 10_000;

/// What the shell should do next.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
#[serde(tag = "step", rename_all = "kebab-case")]
pub enum Step {
    /// Look at the screen again later.
    Wait,
    /// Press Enter now.
    PressEnter,
    /// The agent took the prompt; `state` is what it shows now.
    Delivered {
        /// The state that proved it.
        state: AgentState,
        /// How many times Enter was pressed.
        enters: u32,
    },
    /// The agent did not take the prompt.
    Failed {
        /// Why, in words for a person.
        reason: String,
        /// How many times Enter was pressed.
        enters: u32,
    },
}

#[derive(Clone, Debug, PartialEq, Eq)]
enum Phase {
    /// Pasted; waiting for the box to show the text.
    AwaitingText { until: u64 },
    /// Enter pressed at `at`; waiting for the agent to start.
    AwaitingStart { at: u64, until: u64 },
    /// Finished (delivered or failed).
    Over,
}

/// The delivery check of one prompt.
#[derive(Clone, Debug)]
pub struct Delivery {
    submit: Submit,
    phase: Phase,
    enters: u32,
    /// The prompt, when the check knows it.
    expected: Option<Expected>,
    /// The box was seen showing the prompt.
    text_seen: bool,
    /// The box could be read at least once since the paste.
    box_seen: bool,
    /// When the box first showed the text (before the first Enter).
    text_shown_at: Option<u64>,
}

/// How many characters of a text are compared (a box shows the start of a long line).
const COMPARED_CHARS: usize = 24;

/// The prompt as the box may show it: whitespace runs made one space.
#[derive(Clone, Debug)]
struct Expected {
    /// The whole text.
    text: String,
    /// The start of its first non-blank line.
    head: String,
}

impl Expected {
    fn of(text: &str) -> Expected {
        let first = text.lines().find(|l| !l.trim().is_empty()).unwrap_or("");
        Expected {
            text: normalized(text),
            head: normalized(first).chars().take(COMPARED_CHARS).collect(),
        }
    }

    /// Whether what the box holds is (a part of) this prompt, or a paste placeholder.
    fn shown_in(&self, boxed: &str) -> bool {
        let b = normalized(boxed);
        if b.is_empty() {
            return false;
        }
        if b.starts_with('[') && b.to_lowercase().contains("paste") {
            return true;
        }
        if !self.head.is_empty() && b.contains(&self.head) {
            return true;
        }
        // The start of what the box shows, without what a CLI draws at the row's end (Codex
        // puts a scroll arrow `↑` there when its box shows a later line of a long prompt):
        // the words of the start, dropped from the end while 8 characters or more remain.
        let start: String = b.chars().take(COMPARED_CHARS).collect();
        let mut words: Vec<&str> = start.split(' ').collect();
        loop {
            let candidate = words.join(" ");
            if self.text.contains(&candidate) {
                return true;
            }
            words.pop();
            if words.is_empty() || words.join(" ").chars().count() < 8 {
                return false;
            }
        }
    }
}

fn normalized(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// Whether the prompt box is on screen (an idle pattern matched a live line: a prompt echoed
/// in the transcript is not the box).
fn box_readable(seen: &Detection) -> bool {
    seen.input.is_some()
        || seen
            .evidence
            .iter()
            .any(|e| e.state == AgentState::Idle && e.region == crate::detector::Region::Live)
}

/// What the box shows, for a reason: its text quoted (80 characters at most), or "nothing".
fn box_shows(seen: &Detection) -> String {
    match &seen.input {
        Some(t) => {
            let short: String = t.chars().take(80).collect();
            format!("`{short}`")
        }
        None => "nothing".to_owned(),
    }
}

impl Delivery {
    /// Starts the check right after the paste, at `now_ms`.
    pub fn after_paste(submit: &Submit, now_ms: u64) -> Delivery {
        Delivery {
            submit: submit.clone(),
            phase: Phase::AwaitingText {
                until: now_ms + TEXT_WAIT_MS,
            },
            enters: 0,
            expected: None,
            text_seen: false,
            box_seen: false,
            text_shown_at: None,
        }
    }

    /// Makes the check know the prompt pasted: a box that can be read and never shows it
    /// does not count as the prompt taken (see the module's documentation). `text` is what
    /// was pasted, after the paste removed control characters and escape sequences; a text
    /// that still holds some (other than newlines and tabs) is not compared, nor any text when
    /// the profile cannot read its box (no `input` pattern, as opencode): the check keeps the
    /// rules of a prompt it does not know.
    pub fn expecting(mut self, text: &str) -> Delivery {
        let clean = !text
            .chars()
            .any(|c| c.is_control() && c != '\n' && c != '\t');
        self.expected = (clean && self.submit.reads_box).then(|| Expected::of(text));
        self
    }

    /// Starts the check right after an Enter the shell pressed itself, at `now_ms`.
    pub fn after_enter(submit: &Submit, now_ms: u64) -> Delivery {
        Delivery {
            submit: submit.clone(),
            phase: Phase::AwaitingStart {
                at: now_ms,
                until: now_ms + submit.working_deadline_ms,
            },
            enters: 1,
            expected: None,
            text_seen: false,
            box_seen: false,
            text_shown_at: None,
        }
    }

    /// Returns how many times Enter was pressed so far.
    pub fn enters(&self) -> u32 {
        self.enters
    }

    /// Takes one look at the screen: `changed` says whether it differs from the screen seen
    /// when Enter was last pressed.
    pub fn observe(&mut self, now_ms: u64, seen: &Detection, changed: bool) -> Step {
        if box_readable(seen) {
            self.box_seen = true;
        }
        // Whether the box shows the prompt now, and whether it shows other text.
        let shown = match (&self.expected, &seen.input) {
            (Some(e), Some(t)) => e.shown_in(t),
            _ => false,
        };
        self.text_seen |= shown;
        let foreign = self.expected.is_some() && seen.input.is_some() && !shown;
        // The box could be read and never showed the prompt: only work proves it was taken.
        let unproven = self.expected.is_some() && self.box_seen && !self.text_seen;
        match self.phase.clone() {
            Phase::Over => Step::Wait,
            Phase::AwaitingText { until } => {
                // The box shows the text (or, for a prompt the check does not know, anything):
                // Enter once it has shown it for the profile's `enter_after_text_ms`.
                let ready = if self.expected.is_none() {
                    seen.input.is_some()
                } else {
                    shown
                };
                if ready {
                    let since = *self.text_shown_at.get_or_insert(now_ms);
                    return if now_ms >= since + self.submit.enter_after_text_ms {
                        self.press(now_ms)
                    } else {
                        Step::Wait
                    };
                }
                if self.expected.is_none() {
                    return if now_ms >= until {
                        self.press(now_ms)
                    } else {
                        Step::Wait
                    };
                }
                if now_ms < until {
                    return Step::Wait;
                }
                if seen.state == AgentState::NeedsInput {
                    return self.fail(format!(
                        "a dialog is open and the prompt never showed in the input box (screen: {}): Enter would answer the dialog, so none was pressed",
                        seen.state
                    ));
                }
                if foreign {
                    return self.fail(format!(
                        "the input box shows {}, not the prompt (screen: {}): no Enter pressed",
                        box_shows(seen),
                        seen.state
                    ));
                }
                self.press(now_ms)
            }
            Phase::AwaitingStart { at, until } => {
                // A screen that has not changed since Enter proves nothing: a frozen agent keeps
                // showing the spinner it had.
                let started = changed
                    && if unproven {
                        matches!(
                            seen.state,
                            AgentState::Working | AgentState::RateLimited | AgentState::Error
                        )
                    } else {
                        matches!(
                            seen.state,
                            AgentState::Working
                                | AgentState::NeedsInput
                                | AgentState::RateLimited
                                | AgentState::Error
                        )
                    };
                let box_emptied =
                    !unproven && seen.input.is_none() && seen.state.is_ready() && changed;
                if started || box_emptied {
                    self.phase = Phase::Over;
                    return Step::Delivered {
                        state: seen.state,
                        enters: self.enters,
                    };
                }
                if unproven && foreign {
                    return self.fail(format!(
                        "the prompt never showed in the input box, which shows {} after Enter (screen: {})",
                        box_shows(seen),
                        seen.state
                    ));
                }
                if unproven && now_ms >= until {
                    return self.fail(format!(
                        "the prompt never showed in the input box (it shows {}) and the agent showed no sign of working within {} ms after Enter (screen: {})",
                        box_shows(seen),
                        self.submit.working_deadline_ms,
                        seen.state
                    ));
                }
                if self.enters > self.submit.max_extra_enters {
                    // No Enter left to press: watch for proof until the final wait is over.
                    let waited = self.submit.working_deadline_ms.max(FINAL_WAIT_MS);
                    if now_ms < at + waited {
                        return Step::Wait;
                    }
                    let reason = if seen.input.is_some() {
                        format!(
                            "the prompt is still in the agent's input box {} ms after the last of {} Enter presses",
                            waited, self.enters
                        )
                    } else {
                        format!(
                            "the agent showed no sign of working within {} ms after the last of {} Enter presses (screen: {})",
                            waited, self.enters, seen.state
                        )
                    };
                    return self.fail(reason);
                }
                // The swallowed-Enter case: the CLI took the Enter as part of the paste.
                let text_stays = seen.input.is_some()
                    && (self.expected.is_none() || self.text_seen)
                    && now_ms >= at + self.submit.retry_enter_ms;
                if text_stays || now_ms >= until {
                    return self.press(now_ms);
                }
                Step::Wait
            }
        }
    }

    fn fail(&mut self, reason: String) -> Step {
        self.phase = Phase::Over;
        Step::Failed {
            reason,
            enters: self.enters,
        }
    }

    fn press(&mut self, now_ms: u64) -> Step {
        self.enters += 1;
        self.phase = Phase::AwaitingStart {
            at: now_ms,
            until: now_ms + self.submit.working_deadline_ms,
        };
        Step::PressEnter
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn submit() -> Submit {
        Submit::default()
    }

    fn seen(state: AgentState, input: Option<&str>) -> Detection {
        Detection {
            state,
            evidence: vec![],
            input: input.map(str::to_owned),
            quota: vec![],
        }
    }

    fn delivered(state: AgentState, enters: u32) -> Step {
        Step::Delivered { state, enters }
    }

    /// Why a delivery failed, after `enters` Enters; panics when it did not fail so.
    fn failure(step: Step, enters: u32) -> String {
        match step {
            Step::Failed { enters: n, reason } => {
                assert_eq!(n, enters, "{reason}");
                reason
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn enter_once_then_working() {
        let mut d = Delivery::after_paste(&submit(), 0);
        assert_eq!(
            d.observe(10, &seen(AgentState::Idle, None), false),
            Step::Wait
        );
        assert_eq!(
            d.observe(20, &seen(AgentState::Idle, Some("hi")), true),
            Step::PressEnter
        );
        assert_eq!(
            d.observe(30, &seen(AgentState::Idle, Some("hi")), false),
            Step::Wait
        );
        assert_eq!(
            d.observe(60, &seen(AgentState::Working, None), true),
            delivered(AgentState::Working, 1)
        );
    }

    #[test]
    fn a_profile_can_have_the_text_show_a_while_before_enter() {
        let patient = Submit {
            enter_after_text_ms: 100,
            ..submit()
        };
        let mut d = Delivery::after_paste(&patient, 0).expecting("hi there");
        let holding = seen(AgentState::Idle, Some("hi there"));
        assert_eq!(d.observe(20, &holding, true), Step::Wait);
        assert_eq!(d.observe(119, &holding, false), Step::Wait);
        assert_eq!(d.observe(120, &holding, false), Step::PressEnter);
    }

    #[test]
    fn enter_anyway_when_the_text_never_shows() {
        let mut d = Delivery::after_paste(&submit(), 0);
        assert_eq!(
            d.observe(1499, &seen(AgentState::Unknown, None), false),
            Step::Wait
        );
        assert_eq!(
            d.observe(1500, &seen(AgentState::Unknown, None), false),
            Step::PressEnter
        );
    }

    #[test]
    fn swallowed_enter_is_pressed_again_quickly() {
        let mut d = Delivery::after_enter(&submit(), 0);
        let holding = seen(AgentState::Idle, Some("hi"));
        assert_eq!(d.observe(599, &holding, false), Step::Wait);
        assert_eq!(d.observe(600, &holding, false), Step::PressEnter);
        assert_eq!(
            d.observe(650, &seen(AgentState::Working, None), true),
            delivered(AgentState::Working, 2)
        );
    }

    #[test]
    fn a_profile_can_wait_longer_before_another_enter() {
        let slow = Submit {
            retry_enter_ms: 1500,
            ..submit()
        };
        let mut d = Delivery::after_enter(&slow, 0);
        let holding = seen(AgentState::Idle, Some("hi"));
        assert_eq!(d.observe(600, &holding, false), Step::Wait);
        assert_eq!(d.observe(1499, &holding, false), Step::Wait);
        assert_eq!(d.observe(1500, &holding, false), Step::PressEnter);
    }

    #[test]
    fn a_prompt_taken_late_after_the_last_enter_is_delivered() {
        let mut d = Delivery::after_enter(&submit(), 0);
        let holding = seen(AgentState::Idle, Some("hi"));
        assert_eq!(d.observe(600, &holding, false), Step::PressEnter);
        assert_eq!(d.observe(1200, &holding, false), Step::PressEnter);
        // Three Enters and the box still shows the prompt: no fourth, and no failure yet.
        assert_eq!(d.enters(), 3);
        assert_eq!(d.observe(4500, &holding, false), Step::Wait);
        assert_eq!(
            d.observe(9000, &seen(AgentState::Working, None), true),
            delivered(AgentState::Working, 3)
        );
    }

    #[test]
    fn a_prompt_that_stays_fails_after_the_final_wait() {
        let mut d = Delivery::after_enter(&submit(), 0);
        let holding = seen(AgentState::Idle, Some("hi"));
        assert_eq!(d.observe(600, &holding, false), Step::PressEnter);
        assert_eq!(d.observe(1200, &holding, false), Step::PressEnter);
        assert_eq!(d.observe(11_199, &holding, false), Step::Wait);
        let reason = failure(d.observe(11_200, &holding, false), 3);
        assert!(
            reason.contains("still in the agent's input box"),
            "{reason}"
        );
    }

    #[test]
    fn a_fast_agent_that_already_finished_counts() {
        let mut d = Delivery::after_enter(&submit(), 0);
        // Same screen as before Enter: not proof.
        assert_eq!(
            d.observe(50, &seen(AgentState::Finished, None), false),
            Step::Wait
        );
        assert_eq!(
            d.observe(80, &seen(AgentState::Finished, None), true),
            delivered(AgentState::Finished, 1)
        );
    }

    #[test]
    fn a_frozen_working_screen_is_no_proof() {
        let mut d = Delivery::after_enter(&submit(), 0);
        assert_eq!(
            d.observe(100, &seen(AgentState::Working, None), false),
            Step::Wait
        );
        assert_eq!(
            d.observe(3000, &seen(AgentState::Working, None), false),
            Step::PressEnter
        );
    }

    #[test]
    fn gives_up_after_the_extra_enters() {
        let mut d = Delivery::after_enter(&submit(), 0);
        let nothing = seen(AgentState::Unknown, None);
        assert_eq!(d.observe(2999, &nothing, false), Step::Wait);
        assert_eq!(d.observe(3000, &nothing, false), Step::PressEnter);
        assert_eq!(d.observe(6000, &nothing, false), Step::PressEnter);
        assert_eq!(d.observe(15_999, &nothing, false), Step::Wait);
        let reason = failure(d.observe(16_000, &nothing, false), 3);
        assert!(reason.contains("no sign of working"), "{reason}");
        assert_eq!(d.observe(16_999, &nothing, false), Step::Wait);
    }

    #[test]
    fn a_dialog_or_limit_means_the_prompt_was_taken() {
        for state in [
            AgentState::NeedsInput,
            AgentState::RateLimited,
            AgentState::Error,
        ] {
            let mut d = Delivery::after_enter(&submit(), 0);
            assert_eq!(
                d.observe(10, &seen(state, None), true),
                Step::Delivered { state, enters: 1 }
            );
        }
    }

    /// A detection whose prompt box is on screen (an idle pattern matched its line).
    fn boxed(state: AgentState, input: Option<&str>) -> Detection {
        let mut d = seen(state, input);
        d.evidence.push(crate::detector::Evidence {
            state: AgentState::Idle,
            pattern: "^› ".into(),
            line: 9,
            text: format!("› {}", input.unwrap_or("")),
            region: crate::detector::Region::Live,
            decisive: false,
        });
        d
    }

    const PROMPT: &str =
        "Fix the failing test in crates/baton.\nTASK_ID: T-001\nReport with baton task done.";

    #[test]
    fn a_menu_line_read_as_the_box_gets_no_enter() {
        // Codex 0.171's model menu: its cursor line matched the idle pattern, so the box
        // seemed to hold "1. Try new model"; Enter would choose it.
        let mut d = Delivery::after_paste(&submit(), 0).expecting(PROMPT);
        let menu = boxed(AgentState::Idle, Some("1. Try new model"));
        assert_eq!(d.observe(10, &menu, false), Step::Wait);
        let reason = failure(d.observe(TEXT_WAIT_MS, &menu, false), 0);
        assert!(
            reason.contains("`1. Try new model`, not the prompt"),
            "{reason}"
        );
        assert_eq!(d.observe(TEXT_WAIT_MS + 10, &menu, true), Step::Wait);
    }

    #[test]
    fn a_dialog_gets_no_enter() {
        let mut d = Delivery::after_paste(&submit(), 0).expecting(PROMPT);
        let reason = failure(
            d.observe(TEXT_WAIT_MS, &seen(AgentState::NeedsInput, None), false),
            0,
        );
        assert!(reason.contains("a dialog is open"), "{reason}");
    }

    #[test]
    fn a_box_the_profile_cannot_read_proves_nothing_either_way() {
        // opencode's profile has no input pattern: its box's text looks like the transcript's
        // user messages. A finished turn after Enter is then taken as the prompt taken.
        let blind = Submit {
            reads_box: false,
            ..submit()
        };
        let mut d = Delivery::after_paste(&blind, 0).expecting(PROMPT);
        let empty = boxed(AgentState::Idle, None);
        assert_eq!(d.observe(TEXT_WAIT_MS, &empty, false), Step::PressEnter);
        let finished = boxed(AgentState::Finished, None);
        assert!(
            matches!(
                d.observe(TEXT_WAIT_MS + 100, &finished, true),
                Step::Delivered { .. }
            ),
            "a finished turn after Enter is the prompt taken"
        );
    }

    #[test]
    fn a_box_that_never_showed_the_prompt_and_emptied_is_not_proof() {
        let mut d = Delivery::after_paste(&submit(), 0).expecting(PROMPT);
        let empty = boxed(AgentState::Idle, None);
        assert_eq!(d.observe(10, &empty, false), Step::Wait);
        assert_eq!(d.observe(TEXT_WAIT_MS, &empty, false), Step::PressEnter);
        // The screen changed after Enter and the box is empty: it never held the prompt.
        assert_eq!(d.observe(TEXT_WAIT_MS + 50, &empty, true), Step::Wait);
        let finished = boxed(AgentState::Finished, None);
        assert_eq!(d.observe(TEXT_WAIT_MS + 100, &finished, true), Step::Wait);
        // No Enter after the first.
        let reason = failure(d.observe(TEXT_WAIT_MS + 3000, &empty, true), 1);
        assert!(reason.contains("never showed in the input box"), "{reason}");
        assert!(reason.contains("screen: idle"), "{reason}");
    }

    #[test]
    fn work_after_enter_proves_an_unseen_prompt() {
        let mut d = Delivery::after_paste(&submit(), 0).expecting(PROMPT);
        let empty = boxed(AgentState::Idle, None);
        assert_eq!(d.observe(TEXT_WAIT_MS, &empty, false), Step::PressEnter);
        assert_eq!(
            d.observe(TEXT_WAIT_MS + 80, &seen(AgentState::Working, None), true),
            delivered(AgentState::Working, 1)
        );
    }

    #[test]
    fn the_prompt_a_part_of_it_or_a_placeholder_counts_as_shown() {
        for shown in [
            "Fix the failing test in crates/baton.",
            "Fix the failing test in crat",
            "[Pasted text #1 +3 lines]",
            "[Pasted Content 10240 chars]",
            "left over Fix the failing test in crates/baton.",
            "Report with baton task done.                         ↑",
        ] {
            let mut d = Delivery::after_paste(&submit(), 0).expecting(PROMPT);
            assert_eq!(
                d.observe(10, &boxed(AgentState::Idle, Some(shown)), true),
                Step::PressEnter,
                "{shown}"
            );
            assert_eq!(
                d.observe(60, &boxed(AgentState::Idle, None), true),
                delivered(AgentState::Idle, 1),
                "{shown}"
            );
        }
    }

    #[test]
    fn an_unreadable_box_keeps_the_old_rules() {
        let mut d = Delivery::after_paste(&submit(), 0).expecting(PROMPT);
        let nothing = seen(AgentState::Unknown, None);
        assert_eq!(d.observe(TEXT_WAIT_MS, &nothing, false), Step::PressEnter);
        assert_eq!(
            d.observe(TEXT_WAIT_MS + 50, &seen(AgentState::NeedsInput, None), true),
            delivered(AgentState::NeedsInput, 1)
        );
    }

    #[test]
    fn a_prompt_with_control_characters_keeps_the_old_rules() {
        // What the paste removed cannot be compared: the box shows the text without it.
        let mut d = Delivery::after_paste(&submit(), 0).expecting("start\u{1b}[2Jend");
        assert_eq!(
            d.observe(10, &boxed(AgentState::Idle, Some("startend")), true),
            Step::PressEnter
        );
    }
}
