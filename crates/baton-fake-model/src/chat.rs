//! The OpenAI Chat Completions API as OpenAI-compatible clients (opencode's custom providers)
//! call it: `POST /v1/chat/completions`, `stream: true` answered with SSE of
//! `chat.completion.chunk` objects (`delta.content`, `delta.tool_calls`), `data: [DONE]` last;
//! without `stream`, one `chat.completion`.
//!
//! The prompt is the last `user` message, the step the number of `tool` messages after it; a
//! request offering no tools is a side request (titles, summaries).

use serde_json::Value;
use serde_json::json;

use crate::http::Chunked;
use crate::script::Reply;
use crate::script::Turn;
use crate::script::offers_tools;
use crate::stream::pieces;

/// Reads a chat completions request body.
pub fn chat_turn(body: &Value) -> Turn {
    let has_tools = offers_tools(body);
    let mut prompt = None;
    let mut step = 0;
    if let Some(messages) = body.get("messages").and_then(Value::as_array) {
        for m in messages.iter().rev() {
            match m.get("role").and_then(Value::as_str) {
                Some("tool" | "function") => step += 1,
                Some("user") => {
                    prompt = Some(content_text(m.get("content")));
                    break;
                }
                _ => {}
            }
        }
    }
    Turn::new(has_tools, prompt, step)
}

/// Returns a message's content as text: the string, or its text parts joined by newlines.
fn content_text(content: Option<&Value>) -> String {
    match content {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Array(parts)) => parts
            .iter()
            .filter_map(|p| p.get("text").and_then(Value::as_str))
            .collect::<Vec<_>>()
            .join("\n"),
        _ => String::new(),
    }
}

fn usage() -> Value {
    json!({"prompt_tokens": 25, "completion_tokens": 12, "total_tokens": 37})
}

fn tool_call(reply: &Reply, id: u64) -> Option<Value> {
    reply.tool.as_ref().map(|t| {
        json!({"index": 0, "id": format!("call_fake_{id}"), "type": "function",
            "function": {"name": t.name, "arguments": t.input.to_string()}})
    })
}

fn finish_reason(reply: &Reply) -> &'static str {
    if reply.tool.is_some() {
        "tool_calls"
    } else {
        "stop"
    }
}

/// Streams a reply: a role chunk, the text in `reply.chunks` pieces, the tool call, a chunk
/// with the finish reason, a usage chunk when the request asked for one, then `[DONE]`.
pub fn chat_sse(
    out: &mut Chunked<'_>,
    reply: &Reply,
    model: &str,
    id: u64,
    include_usage: bool,
) -> std::io::Result<()> {
    let chunk = |delta: Value, finish: Option<&str>| {
        json!({"id": format!("chatcmpl-fake-{id}"), "object": "chat.completion.chunk",
            "created": 1_700_000_000u64, "model": model,
            "choices": [{"index": 0, "delta": delta, "finish_reason": finish}]})
    };
    let send = |out: &mut Chunked<'_>, v: &Value| out.send(format!("data: {v}\n\n").as_bytes());
    send(
        out,
        &chunk(json!({"role": "assistant", "content": ""}), None),
    )?;
    if reply.delay_ms > 0 {
        std::thread::sleep(std::time::Duration::from_millis(reply.delay_ms));
    }
    if let Some(text) = &reply.text {
        for (i, p) in pieces(text, reply.chunks.unwrap_or(1)).iter().enumerate() {
            if i > 0 && reply.chunk_delay_ms > 0 {
                std::thread::sleep(std::time::Duration::from_millis(reply.chunk_delay_ms));
            }
            send(out, &chunk(json!({"content": p}), None))?;
        }
    }
    if let Some(call) = tool_call(reply, id) {
        send(out, &chunk(json!({"tool_calls": [call]}), None))?;
    }
    send(out, &chunk(json!({}), Some(finish_reason(reply))))?;
    if include_usage {
        let mut u = chunk(json!({}), None);
        u["choices"] = json!([]);
        u["usage"] = usage();
        send(out, &u)?;
    }
    out.send(b"data: [DONE]\n\n")
}

/// Returns a reply as one `chat.completion`.
pub fn chat_json(reply: &Reply, model: &str, id: u64) -> Value {
    let mut message = json!({"role": "assistant", "content": reply.text});
    if let Some(call) = tool_call(reply, id) {
        message["tool_calls"] = json!([call]);
    }
    json!({"id": format!("chatcmpl-fake-{id}"), "object": "chat.completion",
        "created": 1_700_000_000u64, "model": model,
        "choices": [{"index": 0, "message": message, "finish_reason": finish_reason(reply)}],
        "usage": usage()})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prompt_and_step_from_messages() {
        let body = json!({"tools": [{"type": "function", "function": {"name": "bash"}}], "messages": [
            {"role": "system", "content": "be brief"},
            {"role": "user", "content": [{"type": "text", "text": "go MARK"}]},
            {"role": "assistant", "content": null, "tool_calls": [{"id": "c", "type": "function",
                "function": {"name": "bash", "arguments": "{}"}}]},
            {"role": "tool", "tool_call_id": "c", "content": "ok"},
        ]});
        let t = chat_turn(&body);
        assert_eq!(
            (t.kind, t.step, t.prompt.as_deref()),
            ("main", 1, Some("go MARK"))
        );
        let title = chat_turn(&json!({"messages": [{"role": "user", "content": "title?"}]}));
        assert_eq!(
            (title.kind, title.prompt.as_deref()),
            ("side", Some("title?"))
        );
    }

    #[test]
    fn one_completion_with_a_tool_call() {
        let r = Reply::tool("bash", json!({"command": "ls"}));
        let v = chat_json(&r, "m", 4);
        let call = &v["choices"][0]["message"]["tool_calls"][0];
        assert_eq!(call["function"]["name"], "bash");
        assert_eq!(call["function"]["arguments"], "{\"command\":\"ls\"}");
        assert_eq!(v["choices"][0]["finish_reason"], "tool_calls");
        assert_eq!(
            chat_json(&Reply::text("hi"), "m", 5)["choices"][0]["message"]["content"],
            "hi"
        );
    }
}
