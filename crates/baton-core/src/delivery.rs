//! Verified prompt delivery: after a prompt is pasted, decide when to press Enter, when to press
//! it again, and when the agent has really taken the prompt.
//!
//! The shell pastes the text, then feeds every fresh screen detection in with the current time;
//! the rule answers with the next step. Pressing Enter on an empty prompt box does nothing in
//! every supported CLI, so an extra Enter is only ever pressed while the text may still be in the
//! box — a prompt is never submitted twice.

use serde::Serialize;

use crate::detector::Detection;
use crate::profile::AgentState;
use crate::profile::Submit;

/// How long to wait for the pasted text to show in the box before pressing Enter anyway.
pub const TEXT_WAIT_MS: u64 = 1500;

/// How long the box may visibly keep the text after Enter before Enter is pressed again
/// (the swallowed-Enter case: the CLI took the first Enter as part of the paste).
pub const RETRY_IF_TEXT_STAYS_MS: u64 = 600;

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
        }
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
        }
    }

    /// Returns how many times Enter was pressed so far.
    pub fn enters(&self) -> u32 {
        self.enters
    }

    /// Takes one look at the screen: `changed` says whether it differs from the screen seen
    /// when Enter was last pressed.
    pub fn observe(&mut self, now_ms: u64, seen: &Detection, changed: bool) -> Step {
        match self.phase.clone() {
            Phase::Over => Step::Wait,
            Phase::AwaitingText { until } => {
                if seen.input.is_some() || now_ms >= until {
                    self.press(now_ms)
                } else {
                    Step::Wait
                }
            }
            Phase::AwaitingStart { at, until } => {
                // A screen that has not changed since Enter proves nothing: a frozen agent keeps
                // showing the spinner it had.
                let started = changed
                    && matches!(
                        seen.state,
                        AgentState::Working
                            | AgentState::NeedsInput
                            | AgentState::RateLimited
                            | AgentState::Error
                    );
                let box_emptied = seen.input.is_none() && seen.state.is_ready() && changed;
                if started || box_emptied {
                    self.phase = Phase::Over;
                    return Step::Delivered {
                        state: seen.state,
                        enters: self.enters,
                    };
                }
                let text_stays = seen.input.is_some() && now_ms >= at + RETRY_IF_TEXT_STAYS_MS;
                if text_stays || now_ms >= until {
                    if self.enters > self.submit.max_extra_enters {
                        self.phase = Phase::Over;
                        let reason = if seen.input.is_some() {
                            format!(
                                "the prompt is still in the agent's input box after {} Enter presses",
                                self.enters
                            )
                        } else {
                            format!(
                                "the agent showed no sign of working within {} ms after {} Enter presses (screen: {})",
                                self.submit.working_deadline_ms, self.enters, seen.state
                            )
                        };
                        return Step::Failed {
                            reason,
                            enters: self.enters,
                        };
                    }
                    return self.press(now_ms);
                }
                Step::Wait
            }
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
            Step::Delivered {
                state: AgentState::Working,
                enters: 1
            }
        );
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
            Step::Delivered {
                state: AgentState::Working,
                enters: 2
            }
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
            Step::Delivered {
                state: AgentState::Finished,
                enters: 1
            }
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
        match d.observe(9000, &nothing, false) {
            Step::Failed { enters, reason } => {
                assert_eq!(enters, 3);
                assert!(reason.contains("no sign of working"), "{reason}");
            }
            other => panic!("{other:?}"),
        }
        assert_eq!(d.observe(9999, &nothing, false), Step::Wait);
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
}
