//! The replies on the wire: Anthropic Messages SSE and OpenAI Responses SSE, and their
//! non-streaming JSON forms.

use std::time::Duration;

use serde_json::Value;
use serde_json::json;

use crate::http::Chunked;
use crate::script::Reply;

fn event(name: &str, data: &Value) -> Vec<u8> {
    format!("event: {name}\ndata: {data}\n\n").into_bytes()
}

/// Splits a text in `n` pieces on character boundaries.
pub fn pieces(text: &str, n: usize) -> Vec<String> {
    let chars: Vec<char> = text.chars().collect();
    let n = n.clamp(1, chars.len().max(1));
    let size = chars.len().div_ceil(n).max(1);
    chars.chunks(size).map(|c| c.iter().collect()).collect()
}

fn pause(ms: u64) {
    if ms > 0 {
        std::thread::sleep(Duration::from_millis(ms));
    }
}

/// Streams one Messages content block at `index`: its start, its deltas (`pause_ms` apart),
/// its stop.
fn content_block(
    out: &mut Chunked<'_>,
    index: usize,
    start: Value,
    deltas: impl IntoIterator<Item = Value>,
    pause_ms: u64,
) -> std::io::Result<()> {
    let data = |kind: &str, field: Option<(&str, Value)>| {
        let mut data = json!({"type": kind, "index": index});
        if let Some((name, value)) = field {
            data[name] = value;
        }
        event(kind, &data)
    };
    out.send(&data("content_block_start", Some(("content_block", start))))?;
    for (i, delta) in deltas.into_iter().enumerate() {
        if i > 0 {
            pause(pause_ms);
        }
        out.send(&data("content_block_delta", Some(("delta", delta))))?;
    }
    out.send(&data("content_block_stop", None))
}

/// Streams a Messages reply.
pub fn anthropic_sse(
    out: &mut Chunked<'_>,
    reply: &Reply,
    model: &str,
    id: u64,
) -> std::io::Result<()> {
    out.send(&event(
        "message_start",
        &json!({"type": "message_start", "message": {
            "id": format!("msg_fake_{id}"), "type": "message", "role": "assistant", "model": model,
            "content": [], "stop_reason": null, "stop_sequence": null,
            "usage": {"input_tokens": 25, "output_tokens": 1, "cache_creation_input_tokens": 0, "cache_read_input_tokens": 0}}}),
    ))?;
    out.send(&event("ping", &json!({"type": "ping"})))?;
    pause(reply.delay_ms);
    let mut index = 0;
    if let Some(text) = &reply.text {
        let start = json!({"type": "text", "text": ""});
        let deltas = pieces(text, reply.chunks.unwrap_or(1))
            .into_iter()
            .map(|p| json!({"type": "text_delta", "text": p}));
        content_block(out, index, start, deltas, reply.chunk_delay_ms)?;
        index += 1;
    }
    if let Some(tool) = &reply.tool {
        let start = json!({
            "type": "tool_use", "id": format!("toolu_fake_{id}"), "name": tool.name, "input": {}});
        let delta = json!({"type": "input_json_delta", "partial_json": tool.input.to_string()});
        content_block(out, index, start, [delta], 0)?;
    }
    let stop = if reply.tool.is_some() {
        "tool_use"
    } else {
        "end_turn"
    };
    out.send(&event(
        "message_delta",
        &json!({"type": "message_delta", "delta": {"stop_reason": stop, "stop_sequence": null}, "usage": {"output_tokens": 12}}),
    ))?;
    out.send(&event("message_stop", &json!({"type": "message_stop"})))
}

/// Returns a non-streaming Messages reply.
pub fn anthropic_json(reply: &Reply, model: &str, id: u64) -> Value {
    let mut content = Vec::new();
    if let Some(t) = &reply.text {
        content.push(json!({"type": "text", "text": t}));
    }
    if let Some(tool) = &reply.tool {
        content.push(json!({"type": "tool_use", "id": format!("toolu_fake_{id}"), "name": tool.name, "input": tool.input}));
    }
    json!({"id": format!("msg_fake_{id}"), "type": "message", "role": "assistant", "model": model,
        "content": content, "stop_reason": if reply.tool.is_some() { "tool_use" } else { "end_turn" },
        "stop_sequence": null, "usage": {"input_tokens": 25, "output_tokens": 12}})
}

/// Returns the Messages API's error body for a status.
pub fn anthropic_error(status: u16) -> Value {
    let ty = match status {
        429 => "rate_limit_error",
        401 => "authentication_error",
        529 => "overloaded_error",
        _ => "api_error",
    };
    json!({"type": "error", "error": {"type": ty, "message": format!("fake model server: {ty}")}})
}

/// Returns the Responses API's error body for a status.
pub fn openai_error(status: u16) -> Value {
    let ty = if status == 429 {
        "rate_limit_exceeded"
    } else {
        "server_error"
    };
    json!({"error": {"type": ty, "code": ty, "message": format!("fake model server: {ty}")}})
}

fn usage() -> Value {
    json!({"input_tokens": 25, "input_tokens_details": {"cached_tokens": 0},
        "output_tokens": 12, "output_tokens_details": {"reasoning_tokens": 0}, "total_tokens": 37})
}

/// The events of one Responses stream, numbered in the order they are sent.
struct ResponseEvents<'o, 'c> {
    out: &'o mut Chunked<'c>,
    seq: u64,
}

impl ResponseEvents<'_, '_> {
    /// Sends an event named `name`, with its type and sequence number added to `data`.
    fn send(&mut self, name: &str, mut data: Value) -> std::io::Result<()> {
        data["type"] = json!(name);
        data["sequence_number"] = json!(self.seq);
        self.seq += 1;
        self.out.send(&event(name, &data))
    }

    /// Sends an event about the output item at `index` (`response.output_item.added`, `.done`).
    fn item(&mut self, name: &str, index: usize, item: Value) -> std::io::Result<()> {
        self.send(name, json!({"output_index": index, "item": item}))
    }

    /// Sends an event about the first part of the output item `item_id` at `index`: `part`
    /// names the part's index field (`summary_index`, `content_index`), `field` what the event
    /// carries (`part`, `delta`, `text`).
    fn part(
        &mut self,
        name: &str,
        (item_id, index): (&str, usize),
        part: &str,
        field: &str,
        value: Value,
    ) -> std::io::Result<()> {
        let mut data = json!({"item_id": item_id, "output_index": index});
        data[part] = json!(0);
        data[field] = value;
        self.send(name, data)
    }

    /// Sends a finished tool call at `index`: added in progress with `input` (the field of its
    /// arguments) empty, then done as it is.
    fn call(&mut self, index: usize, item: &Value, input: &str) -> std::io::Result<()> {
        let mut added = item.clone();
        added["status"] = json!("in_progress");
        added[input] = json!("");
        self.item("response.output_item.added", index, added)?;
        self.item("response.output_item.done", index, item.clone())
    }
}

/// Streams a Responses reply.
pub fn openai_sse(
    out: &mut Chunked<'_>,
    reply: &Reply,
    model: &str,
    id: u64,
) -> std::io::Result<()> {
    let resp_id = format!("resp_fake_{id}");
    let base = |status: &str, output: Value| {
        json!({"id": resp_id, "object": "response", "created_at": 1_700_000_000u64, "status": status,
            "model": model, "output": output})
    };
    let mut ev = ResponseEvents { out, seq: 0 };
    for name in ["response.created", "response.in_progress"] {
        ev.send(name, json!({"response": base("in_progress", json!([]))}))?;
    }
    let mut output = Vec::new();
    if let Some(summary) = &reply.reasoning {
        let item_id = format!("rs_fake_{id}");
        let at = (item_id.as_str(), output.len());
        let added = json!({"id": item_id, "type": "reasoning", "summary": []});
        ev.item("response.output_item.added", at.1, added)?;
        let part = json!({"type": "summary_text", "text": summary});
        let empty = json!({"type": "summary_text", "text": ""});
        let s = "summary_index";
        ev.part(
            "response.reasoning_summary_part.added",
            at,
            s,
            "part",
            empty,
        )?;
        ev.part(
            "response.reasoning_summary_text.delta",
            at,
            s,
            "delta",
            json!(summary),
        )?;
        ev.part(
            "response.reasoning_summary_text.done",
            at,
            s,
            "text",
            json!(summary),
        )?;
        ev.part(
            "response.reasoning_summary_part.done",
            at,
            s,
            "part",
            part.clone(),
        )?;
        let item = json!({"id": item_id, "type": "reasoning", "summary": [part]});
        ev.item("response.output_item.done", at.1, item.clone())?;
        output.push(item);
    }
    pause(reply.delay_ms);
    if let Some(text) = &reply.text {
        let item_id = format!("msg_fake_{id}");
        let at = (item_id.as_str(), output.len());
        let added = json!({
            "id": item_id, "type": "message", "status": "in_progress", "role": "assistant", "content": []});
        ev.item("response.output_item.added", at.1, added)?;
        let part = json!({"type": "output_text", "text": text, "annotations": []});
        let empty = json!({"type": "output_text", "text": "", "annotations": []});
        let c = "content_index";
        ev.part("response.content_part.added", at, c, "part", empty)?;
        for (i, p) in pieces(text, reply.chunks.unwrap_or(1)).iter().enumerate() {
            if i > 0 {
                pause(reply.chunk_delay_ms);
            }
            ev.part("response.output_text.delta", at, c, "delta", json!(p))?;
        }
        ev.part("response.output_text.done", at, c, "text", json!(text))?;
        ev.part("response.content_part.done", at, c, "part", part.clone())?;
        let item = json!({"id": item_id, "type": "message", "status": "completed", "role": "assistant",
            "content": [part]});
        ev.item("response.output_item.done", at.1, item.clone())?;
        output.push(item);
    }
    if let Some(tool) = &reply.tool {
        let item = json!({"id": format!("fc_fake_{id}"), "type": "function_call", "status": "completed",
            "call_id": format!("call_fake_{id}"), "name": tool.name, "arguments": tool.input.to_string()});
        ev.call(output.len(), &item, "arguments")?;
        output.push(item);
    }
    if let Some(tool) = &reply.custom_tool {
        let input = match &tool.input {
            Value::String(s) => s.clone(),
            other => other.to_string(),
        };
        let item = json!({"id": format!("ctc_fake_{id}"), "type": "custom_tool_call", "status": "completed",
            "call_id": format!("call_fake_{id}"), "name": tool.name, "input": input});
        ev.call(output.len(), &item, "input")?;
        output.push(item);
    }
    let mut done = base("completed", Value::Array(output));
    done["usage"] = usage();
    ev.send("response.completed", json!({"response": done}))
}

#[cfg(test)]
mod tests {
    use std::io::Read;
    use std::io::Write;

    use crate::FakeModel;
    use crate::Reply;
    use crate::Rule;
    use crate::Script;

    /// Posts a streaming Responses request with `prompt`; returns the raw response.
    fn post(server: &FakeModel, prompt: &str) -> String {
        let body =
            serde_json::json!({"stream": true, "model": "m", "tools": [{"type": "function"}],
            "input": [{"type": "message", "role": "user", "content": prompt}]})
            .to_string();
        let mut c = std::net::TcpStream::connect(("127.0.0.1", server.port())).unwrap();
        write!(
            c,
            "POST /v1/responses HTTP/1.1\r\nhost: x\r\ncontent-type: application/json\r\nconnection: close\r\ncontent-length: {}\r\n\r\n{body}",
            body.len()
        )
        .unwrap();
        let mut out = String::new();
        // The server keeps the connection open: read until the final chunk.
        let mut buf = [0u8; 4096];
        while !out.ends_with("0\r\n\r\n") {
            let n = c.read(&mut buf).unwrap();
            if n == 0 {
                break;
            }
            out.push_str(&String::from_utf8_lossy(&buf[..n]));
        }
        out
    }

    #[test]
    fn custom_tool_call_and_reasoning_summary() {
        let server = FakeModel::start(
            Script {
                rules: vec![
                    Rule::new(
                        "PATCH",
                        vec![Reply::custom_tool("apply_patch", "*** Begin Patch\n")],
                    ),
                    Rule::new(
                        "THINK",
                        vec![Reply {
                            reasoning: Some("Weighing it".into()),
                            ..Reply::text("ok")
                        }],
                    ),
                ],
                ..Script::default()
            },
            None,
        )
        .unwrap();
        let patch = post(&server, "PATCH");
        assert!(patch.contains(r#""type":"custom_tool_call""#), "{patch}");
        assert!(patch.contains(r#""input":"*** Begin Patch\n""#), "{patch}");
        assert!(!patch.contains("function_call"), "{patch}");
        let think = post(&server, "THINK");
        let summary = think.find("response.reasoning_summary_text.delta").unwrap();
        let text = think.find("response.output_text.delta").unwrap();
        assert!(summary < text, "the summary comes first: {think}");
        assert!(think.contains(r#""delta":"Weighing it""#), "{think}");
    }
}
