//! The per-test script: which reply a request gets.
//!
//! A request is matched by its *prompt* (the text of the last user message that is not a tool
//! result) and its *step* (how many tool results came back after that prompt): a rule whose
//! `prompt_contains` is in the prompt answers with `steps[step]`, so a rule
//! `[tool call, final text]` plays a whole tool turn (a rule's `prompt_regex` may also read the
//! prompt and fill its replies: see `template`). Requests that offer the model no tools
//! (title and summary requests both CLIs send on the side) get `side`.
//!
//! ```json
//! {"rules": [{"prompt_contains": "run-the-tool",
//!             "steps": [{"tool": {"name": "Bash", "input": {"command": "echo hi"}}},
//!                       {"text": "Ran it."}]}],
//!  "default": {"text": "Done."}}
//! ```

use std::collections::BTreeMap;

use serde::Deserialize;
use serde::Serialize;

/// A whole script.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Script {
    /// Rules, first match wins.
    #[serde(default)]
    pub rules: Vec<Rule>,
    /// The reply when no rule matches (default: the text `Done.`).
    #[serde(default)]
    pub default: Option<Reply>,
    /// The reply to side requests, those offering no tools (default: the text `Conformance`).
    #[serde(default)]
    pub side: Option<Reply>,
    /// Headers added to every reply (e.g. rate-limit utilization).
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
}

/// One rule.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Rule {
    /// A name for the request log.
    #[serde(default)]
    pub name: String,
    /// The rule matches when the prompt contains this text…
    #[serde(default)]
    pub prompt_contains: String,
    /// …and this regex matches it; its captures fill `{{name}}` in the steps (`template`).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prompt_regex: Option<String>,
    /// The reply for each step; past the last one, the text `Done.`.
    pub steps: Vec<Reply>,
}

/// One reply.
#[derive(Clone, Debug, Default, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct Reply {
    /// The text the model says (after the tool call, if any, in the same message it is
    /// omitted: a tool step usually has no text).
    #[serde(default)]
    pub text: Option<String>,
    /// A tool call: Anthropic `tool_use` (`Bash` with `{"command": …}`, `Write` with
    /// `{"file_path", "content"}`…) or an OpenAI `function_call` (`exec_command` with
    /// `{"cmd": …}`), whose arguments are `input` as JSON text.
    #[serde(default)]
    pub tool: Option<ToolCall>,
    /// A freeform tool call (OpenAI `custom_tool_call`, e.g. Codex's `apply_patch`), whose
    /// input is the string `input` holds (or `input` as JSON text when it is not a string).
    /// Responses API only.
    #[serde(default)]
    pub custom_tool: Option<ToolCall>,
    /// A reasoning summary streamed before the pause and the content (Responses API only):
    /// Codex shows it while the model "thinks".
    #[serde(default)]
    pub reasoning: Option<String>,
    /// Milliseconds to wait after the stream opened, before any content (a "working" model).
    #[serde(default)]
    pub delay_ms: u64,
    /// The text is sent in this many pieces (default 1)…
    #[serde(default)]
    pub chunks: Option<usize>,
    /// …with this many milliseconds between them (a slow stream).
    #[serde(default)]
    pub chunk_delay_ms: u64,
    /// An HTTP status other than 200 makes this an error reply with `error_body`.
    #[serde(default)]
    pub status: Option<u16>,
    /// The JSON body of an error reply (default: the API's usual error shape).
    #[serde(default)]
    pub error_body: Option<serde_json::Value>,
    /// Headers of this reply, on top of the script's.
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
}

/// A tool call the model makes.
#[derive(Clone, Debug, Deserialize, Serialize)]
#[serde(deny_unknown_fields)]
pub struct ToolCall {
    /// The tool's name.
    pub name: String,
    /// Its input object.
    pub input: serde_json::Value,
}

impl Reply {
    /// Returns a plain text reply.
    pub fn text(text: &str) -> Reply {
        Reply {
            text: Some(text.to_owned()),
            ..Reply::default()
        }
    }

    /// Returns a tool call.
    pub fn tool(name: &str, input: serde_json::Value) -> Reply {
        Reply {
            tool: Some(ToolCall {
                name: name.to_owned(),
                input,
            }),
            ..Reply::default()
        }
    }
}

impl Reply {
    /// Returns a freeform tool call (`custom_tool_call`) with this input text.
    pub fn custom_tool(name: &str, input: &str) -> Reply {
        Reply {
            custom_tool: Some(ToolCall {
                name: name.to_owned(),
                input: serde_json::Value::String(input.to_owned()),
            }),
            ..Reply::default()
        }
    }
}

impl Rule {
    /// Returns a rule answering prompts that contain `marker` with `steps`.
    pub fn new(marker: &str, steps: Vec<Reply>) -> Rule {
        Rule {
            name: marker.to_owned(),
            prompt_contains: marker.to_owned(),
            prompt_regex: None,
            steps,
        }
    }
}

/// What the server understood of a request.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize)]
pub struct Turn {
    /// `main` (the model may call tools) or `side`.
    pub kind: &'static str,
    /// The last user message that is not a tool result, as text.
    pub prompt: Option<String>,
    /// How many tool results came back after it.
    pub step: usize,
}

impl Turn {
    /// Returns a turn: `main` when the request offers tools, else `side`.
    pub fn new(has_tools: bool, prompt: Option<String>, step: usize) -> Turn {
        Turn {
            kind: if has_tools { "main" } else { "side" },
            prompt,
            step,
        }
    }
}

/// Returns whether a Messages or Chat Completions request offers the model any tool.
pub fn offers_tools(body: &serde_json::Value) -> bool {
    body.get("tools")
        .and_then(|t| t.as_array())
        .is_some_and(|t| !t.is_empty())
}

impl Script {
    /// Returns the reply to a request, and the name of the rule that chose it.
    pub fn choose(&self, turn: &Turn) -> (Reply, String) {
        if turn.kind == "side" {
            let r = self
                .side
                .clone()
                .unwrap_or_else(|| Reply::text("Conformance"));
            return (r, "side".to_owned());
        }
        if let Some(p) = &turn.prompt
            && let Some((rule, caps)) = self.rules.iter().find_map(|r| Some((r, r.captures(p)?)))
        {
            let reply = rule
                .steps
                .get(turn.step)
                .cloned()
                .unwrap_or_else(|| Reply::text("Done."));
            let reply = crate::template::fill(reply, &caps);
            let name = if rule.name.is_empty() {
                rule.prompt_contains.clone()
            } else {
                rule.name.clone()
            };
            return (reply, format!("{name}#{}", turn.step));
        }
        let r = self.default.clone().unwrap_or_else(|| Reply::text("Done."));
        (r, "default".to_owned())
    }
}

/// Reads an Anthropic Messages request body.
pub fn anthropic_turn(body: &serde_json::Value) -> Turn {
    let has_tools = offers_tools(body);
    let mut prompt = None;
    let mut step = 0;
    if let Some(messages) = body.get("messages").and_then(|m| m.as_array()) {
        for m in messages.iter().rev() {
            if m.get("role").and_then(|r| r.as_str()) != Some("user") {
                continue;
            }
            let content = m.get("content");
            if let Some(s) = content.and_then(|c| c.as_str()) {
                prompt = Some(s.to_owned());
                break;
            }
            let blocks = content
                .and_then(|c| c.as_array())
                .cloned()
                .unwrap_or_default();
            let is_result = blocks
                .iter()
                .any(|b| b.get("type").and_then(|t| t.as_str()) == Some("tool_result"));
            if is_result {
                step += 1;
                continue;
            }
            let texts: Vec<&str> = blocks
                .iter()
                .filter(|b| b.get("type").and_then(|t| t.as_str()) == Some("text"))
                .filter_map(|b| b.get("text").and_then(|t| t.as_str()))
                .collect();
            prompt = Some(texts.join("\n"));
            break;
        }
    }
    Turn::new(has_tools, prompt, step)
}

/// Reads an OpenAI Responses request body and its `x-codex-turn-metadata` header. A side
/// request is Codex's title request (`"thread_source":"thread_title"`, a JSON-schema `text`
/// format) or one offering an empty tool list.
pub fn openai_turn(body: &serde_json::Value, turn_metadata: Option<&str>) -> Turn {
    let side = turn_metadata.is_some_and(|m| m.contains("\"thread_title\""))
        || body.pointer("/text/format").is_some()
        || body
            .get("tools")
            .and_then(|t| t.as_array())
            .is_some_and(Vec::is_empty);
    let mut prompt = None;
    let mut step = 0;
    if let Some(input) = body.get("input").and_then(|m| m.as_array()) {
        for item in input.iter().rev() {
            let ty = item
                .get("type")
                .and_then(|t| t.as_str())
                .unwrap_or("message");
            if ty == "function_call_output" || ty == "custom_tool_call_output" {
                step += 1;
                continue;
            }
            if ty != "message" || item.get("role").and_then(|r| r.as_str()) != Some("user") {
                continue;
            }
            let content = item.get("content");
            if let Some(s) = content.and_then(|c| c.as_str()) {
                prompt = Some(s.to_owned());
                break;
            }
            let texts: Vec<&str> = content
                .and_then(|c| c.as_array())
                .map(|a| {
                    a.iter()
                        .filter_map(|b| b.get("text").and_then(|t| t.as_str()))
                        .collect()
                })
                .unwrap_or_default();
            prompt = Some(texts.join("\n"));
            break;
        }
    } else if let Some(s) = body.get("input").and_then(|i| i.as_str()) {
        prompt = Some(s.to_owned());
    }
    Turn::new(!side, prompt, step)
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn anthropic_prompt_and_step() {
        let body = json!({"tools": [{"name": "Bash"}], "messages": [
            {"role": "user", "content": [{"type": "text", "text": "<system-reminder>x</system-reminder>"}, {"type": "text", "text": "go MARK"}]},
            {"role": "assistant", "content": [{"type": "tool_use", "id": "t", "name": "Bash", "input": {}}]},
            {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t", "content": "ok"}]},
        ]});
        let t = anthropic_turn(&body);
        assert_eq!(t.kind, "main");
        assert_eq!(t.step, 1);
        assert!(t.prompt.unwrap().ends_with("go MARK"));
        let side = anthropic_turn(&json!({"messages": [{"role": "user", "content": "title?"}]}));
        assert_eq!(side.kind, "side");
        assert_eq!(side.prompt.as_deref(), Some("title?"));
    }

    #[test]
    fn openai_prompt_and_step() {
        let body = json!({"tools": [{"type": "function"}], "input": [
            {"type": "message", "role": "user", "content": [{"type": "input_text", "text": "MARK"}]},
            {"type": "function_call", "call_id": "c", "name": "exec_command", "arguments": "{}"},
            {"type": "function_call_output", "call_id": "c", "output": "ok"},
        ]});
        let t = openai_turn(&body, None);
        assert_eq!(
            (t.kind, t.step, t.prompt.as_deref()),
            ("main", 1, Some("MARK"))
        );
        let title = openai_turn(&body, Some(r#"{"thread_source":"thread_title"}"#));
        assert_eq!(title.kind, "side");
    }

    #[test]
    fn rules_pick_steps() {
        let s = Script {
            rules: vec![Rule::new(
                "MARK",
                vec![Reply::tool("Bash", json!({})), Reply::text("after")],
            )],
            ..Script::default()
        };
        let turn = |step| Turn {
            kind: "main",
            prompt: Some("a MARK b".into()),
            step,
        };
        assert!(s.choose(&turn(0)).0.tool.is_some());
        assert_eq!(s.choose(&turn(1)).0.text.as_deref(), Some("after"));
        assert_eq!(s.choose(&turn(2)).0.text.as_deref(), Some("Done."));
        let other = Turn {
            kind: "main",
            prompt: Some("x".into()),
            step: 0,
        };
        assert_eq!(s.choose(&other).1, "default");
    }
}
