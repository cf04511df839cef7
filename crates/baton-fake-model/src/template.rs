//! Rules that read the prompt: a rule with a `prompt_regex` matches only when the regex finds
//! a match in the prompt, and what its groups captured fills the rule's replies.
//!
//! In every string of a reply (its text, the tool call's input at any depth, error bodies,
//! headers), `{{name}}` is replaced by the group `name` and `{{1}}` by the first group. A
//! placeholder naming no group, or a group that did not take part in the match, is left as
//! written. So one rule plays a worker for any task prompt:
//!
//! ```json
//! {"rules": [{"prompt_regex": "TASK_ID: (?P<id>T-\\d+)[\\s\\S]*Run: (?P<baton>\\S+) task done",
//!             "steps": [{"tool": {"name": "Bash", "input": {"command": "sleep 2; echo {{id}} > work-{{id}}.txt"}}},
//!                       {"tool": {"name": "Bash", "input": {"command": "{{baton}} task done {{id}}"}}},
//!                       {"text": "Finished {{id}}."}]}]}
//! ```
//!
//! A rule may give both `prompt_contains` and `prompt_regex`: both must match.

use regex::Regex;
use serde_json::Value;

use crate::script::Reply;
use crate::script::Rule;
use crate::script::Script;

/// What a rule's regex captured: `(name or index, text)`, for the groups that matched.
pub type Captures = Vec<(String, String)>;

impl Rule {
    /// Returns a rule answering prompts the regex `pattern` matches with `steps`, filled
    /// with what the regex captured.
    pub fn matching(pattern: &str, steps: Vec<Reply>) -> Rule {
        Rule {
            name: pattern.to_owned(),
            prompt_contains: String::new(),
            prompt_regex: Some(pattern.to_owned()),
            steps,
        }
    }

    /// Returns the captures when this rule answers `prompt` (none for a rule without a
    /// regex), or `None` when it does not. A regex that does not compile matches nothing
    /// ([`Script::check`] reports it when the script is loaded).
    pub fn captures(&self, prompt: &str) -> Option<Captures> {
        if !prompt.contains(&self.prompt_contains) {
            return None;
        }
        let Some(pattern) = &self.prompt_regex else {
            return Some(Vec::new());
        };
        let re = Regex::new(pattern).ok()?;
        let caps = re.captures(prompt)?;
        let mut out = Vec::new();
        for (i, name) in re.capture_names().enumerate().skip(1) {
            if let Some(m) = caps.get(i) {
                out.push((i.to_string(), m.as_str().to_owned()));
                if let Some(name) = name {
                    out.push((name.to_owned(), m.as_str().to_owned()));
                }
            }
        }
        Some(out)
    }
}

impl Script {
    /// Checks what serde cannot: every `prompt_regex` compiles. The error names the rule
    /// (its position from 1 and its name) and the field.
    pub fn check(&self) -> Result<(), String> {
        for (i, rule) in self.rules.iter().enumerate() {
            if let Some(pattern) = &rule.prompt_regex
                && let Err(e) = Regex::new(pattern)
            {
                return Err(format!(
                    "rules[{}] ({}): prompt_regex does not compile: {e}",
                    i + 1,
                    rule.name
                ));
            }
        }
        Ok(())
    }
}

/// Returns `reply` with the placeholders of every string filled from `caps`.
pub fn fill(reply: Reply, caps: &Captures) -> Reply {
    if caps.is_empty() {
        return reply;
    }
    let Ok(mut value) = serde_json::to_value(&reply) else {
        return reply;
    };
    fill_value(&mut value, caps);
    serde_json::from_value(value).unwrap_or(reply)
}

fn fill_value(v: &mut Value, caps: &Captures) {
    match v {
        Value::String(s) => *s = fill_str(s, caps),
        Value::Array(items) => items.iter_mut().for_each(|i| fill_value(i, caps)),
        Value::Object(map) => map.values_mut().for_each(|i| fill_value(i, caps)),
        _ => {}
    }
}

/// Replaces `{{key}}` by its capture; leaves unknown placeholders as written.
pub fn fill_str(s: &str, caps: &Captures) -> String {
    let mut out = String::with_capacity(s.len());
    let mut rest = s;
    while let Some(open) = rest.find("{{") {
        out.push_str(&rest[..open]);
        let after = &rest[open + 2..];
        let key = after.find("}}").map(|close| &after[..close]);
        match key.and_then(|k| caps.iter().find(|(n, _)| n == k.trim())) {
            Some((_, text)) => {
                out.push_str(text);
                rest = &after[key.map_or(0, str::len) + 2..];
            }
            None => {
                out.push('{');
                rest = &rest[open + 1..];
            }
        }
    }
    out.push_str(rest);
    out
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;
    use crate::script::Turn;

    const WORKER: &str = r"TASK_ID: (?P<id>T-\d+)[\s\S]*Run: (?P<baton>\S+) task done";

    fn main_turn(prompt: &str, step: usize) -> Turn {
        Turn {
            kind: "main",
            prompt: Some(prompt.to_owned()),
            step,
        }
    }

    fn worker() -> Script {
        Script {
            rules: vec![
                Rule::new("MARK", vec![Reply::text("plain {{id}}")]),
                Rule::matching(
                    WORKER,
                    vec![
                        Reply::tool(
                            "Bash",
                            json!({"command": "sleep 2; echo {{id}} > work-{{id}}.txt", "n": 1}),
                        ),
                        Reply::tool(
                            "exec_command",
                            json!({"cmd": "{{baton}} task done {{1}} --note 'by {{who}}'"}),
                        ),
                        Reply::text("Finished {{ id }}."),
                    ],
                ),
            ],
            ..Script::default()
        }
    }

    const PROMPT: &str = "[TASK T-007 — from baton]\n\nAGENT: claude\nTASK_ID: T-007\n\n=== WHEN YOU ARE DONE ===\nRun: /opt/bin/baton task done T-007 --note \"…\"\n";

    #[test]
    fn a_regex_rule_puts_the_captures_into_each_step() {
        let s = worker();
        let (r, name) = s.choose(&main_turn(PROMPT, 0));
        assert_eq!(name, format!("{WORKER}#0"));
        let tool = r.tool.unwrap();
        assert_eq!(
            tool.input,
            json!({"command": "sleep 2; echo T-007 > work-T-007.txt", "n": 1})
        );
        let (r, _) = s.choose(&main_turn(PROMPT, 1));
        // By index and by name; a placeholder naming no group stays as written.
        assert_eq!(
            r.tool.unwrap().input,
            json!({"cmd": "/opt/bin/baton task done T-007 --note 'by {{who}}'"})
        );
        let (r, _) = s.choose(&main_turn(PROMPT, 2));
        assert_eq!(r.text.as_deref(), Some("Finished T-007."));
    }

    #[test]
    fn a_regex_rule_that_does_not_match_leaves_the_prompt_to_the_others() {
        let s = worker();
        // A nudge names the task but is no task prompt: no TASK_ID line.
        let (r, name) = s.choose(&main_turn("Your turn ended but T-007 is not reported.", 0));
        assert_eq!(
            (name.as_str(), r.text.as_deref()),
            ("default", Some("Done."))
        );
        // A plain rule first in the list still wins, and its text is not filled.
        let (r, _) = s.choose(&main_turn(&format!("MARK {PROMPT}"), 0));
        assert_eq!(r.text.as_deref(), Some("plain {{id}}"));
    }

    #[test]
    fn contains_and_regex_must_both_match() {
        let mut rule = Rule::matching(r"T-(\d+)", vec![Reply::text("{{1}}")]);
        rule.prompt_contains = "TASK_ID".into();
        assert_eq!(rule.captures("T-1 alone"), None);
        assert_eq!(
            rule.captures("TASK_ID: T-12"),
            Some(vec![("1".to_owned(), "12".to_owned())])
        );
    }

    #[test]
    fn fill_leaves_odd_braces_alone() {
        let caps = vec![("id".to_owned(), "T-1".to_owned())];
        assert_eq!(fill_str("{{id}}{{", &caps), "T-1{{");
        assert_eq!(fill_str("{{ nope }} {id} }}", &caps), "{{ nope }} {id} }}");
        assert_eq!(fill_str("a{{{id}}}b", &caps), "a{T-1}b");
        assert_eq!(fill_str("é{{id}}ü", &caps), "éT-1ü");
    }

    #[test]
    fn a_script_from_json_takes_a_regex_and_a_bad_one_is_named() {
        let s: Script = serde_json::from_value(json!({"rules": [
            {"prompt_regex": "TASK_ID: (?P<id>T-\\d+)", "steps": [{"text": "did {{id}}"}]}
        ]}))
        .unwrap();
        s.check().unwrap();
        assert_eq!(
            s.choose(&main_turn("TASK_ID: T-003", 0)).0.text.as_deref(),
            Some("did T-003")
        );
        let bad: Script = serde_json::from_value(json!({"rules": [
            {"prompt_contains": "x", "steps": []},
            {"name": "worker", "prompt_regex": "TASK_ID: (T-", "steps": []}
        ]}))
        .unwrap();
        let e = bad.check().unwrap_err();
        assert!(
            e.starts_with("rules[2] (worker): prompt_regex does not compile"),
            "{e}"
        );
        assert_eq!(bad.choose(&main_turn("TASK_ID: (T-", 0)).1, "default");
    }
}
