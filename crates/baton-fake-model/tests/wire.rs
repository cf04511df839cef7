//! The Gemini and Chat Completions APIs over a real loopback socket.

use std::io::Read;
use std::io::Write;
use std::net::TcpStream;

use baton_fake_model::FakeModel;
use baton_fake_model::Reply;
use baton_fake_model::Rule;
use baton_fake_model::Script;
use serde_json::json;

/// Sends one request with `Connection: close`; returns the status line and the raw rest.
fn post(server: &FakeModel, path: &str, body: &serde_json::Value) -> (String, String) {
    let body = body.to_string();
    let mut s = TcpStream::connect(("127.0.0.1", server.port())).unwrap();
    s.set_read_timeout(Some(std::time::Duration::from_secs(10)))
        .unwrap();
    write!(
        s,
        "POST {path} HTTP/1.1\r\nhost: x\r\nx-goog-api-key: secret-key-1\r\ncontent-type: application/json\r\nconnection: close\r\ncontent-length: {}\r\n\r\n{body}",
        body.len()
    )
    .unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    let (head, rest) = out.split_once("\r\n").unwrap();
    (head.to_owned(), rest.to_owned())
}

fn script() -> Script {
    Script {
        rules: vec![Rule::new(
            "MARK",
            vec![
                Reply::tool("run_shell_command", json!({"command": "true"})),
                Reply::text("after the tool"),
            ],
        )],
        ..Script::default()
    }
}

fn gemini_body(contents: serde_json::Value) -> serde_json::Value {
    json!({"contents": contents, "tools": [{"functionDeclarations": [{"name": "run_shell_command"}]}]})
}

#[test]
fn gemini_stream_plays_a_tool_turn() {
    let server = FakeModel::start(script(), None).unwrap();
    let path = "/v1beta/models/gemini-x:streamGenerateContent?alt=sse";
    let (status, rest) = post(
        &server,
        path,
        &gemini_body(json!([{"role": "user", "parts": [{"text": "do MARK"}]}])),
    );
    assert!(status.contains(" 200 "), "{status}");
    assert!(rest.contains("text/event-stream"), "{rest}");
    assert!(
        rest.contains(r#"data: {"candidates":[{"content":{"parts":[{"functionCall":{"args":{"command":"true"},"name":"run_shell_command"}}],"role":"model"},"finishReason":"STOP""#),
        "{rest}"
    );
    let (_, rest) = post(
        &server,
        path,
        &gemini_body(json!([
            {"role": "user", "parts": [{"text": "do MARK"}]},
            {"role": "model", "parts": [{"functionCall": {"name": "run_shell_command", "args": {}}}]},
            {"role": "user", "parts": [{"functionResponse": {"name": "run_shell_command", "response": {"output": ""}}}]},
        ])),
    );
    assert!(rest.contains(r#""text":"after the tool""#), "{rest}");
    assert!(rest.contains(r#""modelVersion":"gemini-x""#), "{rest}");
    let log = server.requests();
    assert_eq!(log.len(), 2);
    assert_eq!(log[0].api, "gemini");
    assert_eq!(log[1].rule, "MARK#1");
    let key = log[0]
        .headers
        .iter()
        .find(|(k, _)| k == "x-goog-api-key")
        .unwrap();
    assert_eq!(key.1, "[redacted]");
}

#[test]
fn gemini_side_call_and_errors() {
    let mut s = script();
    s.rules.push(Rule::new(
        "LIMIT",
        vec![Reply {
            status: Some(429),
            ..Reply::default()
        }],
    ));
    let server = FakeModel::start(s, None).unwrap();
    let body = json!({"contents": [{"role": "user", "parts": [{"text": "route me"}]}],
        "generationConfig": {"responseMimeType": "application/json", "responseJsonSchema": {
            "type": "OBJECT", "properties": {"complexity_score": {"type": "INTEGER"}}}}});
    let (status, rest) = post(&server, "/v1beta/models/small:generateContent", &body);
    assert!(status.contains(" 200 "), "{status}");
    assert!(
        rest.contains(r#""text":"{\"complexity_score\":1}""#),
        "{rest}"
    );
    let (status, rest) = post(
        &server,
        "/v1beta/models/big:streamGenerateContent?alt=sse",
        &gemini_body(json!([{"role": "user", "parts": [{"text": "LIMIT now"}]}])),
    );
    assert!(status.contains(" 429 "), "{status}");
    assert!(rest.contains(r#""status":"RESOURCE_EXHAUSTED""#), "{rest}");
    let (status, rest) = post(&server, "/v1beta/models/big:countTokens", &json!({}));
    assert!(
        status.contains(" 200 ") && rest.contains("totalTokens"),
        "{rest}"
    );
}

#[test]
fn chat_completions_stream_tool_calls() {
    let server = FakeModel::start(script(), None).unwrap();
    let tools = json!([{"type": "function", "function": {"name": "bash"}}]);
    let (status, rest) = post(
        &server,
        "/v1/chat/completions",
        &json!({"model": "fake-chat", "stream": true, "stream_options": {"include_usage": true},
            "tools": tools, "messages": [{"role": "user", "content": "MARK it"}]}),
    );
    assert!(status.contains(" 200 "), "{status}");
    assert!(
        rest.contains(r#""object":"chat.completion.chunk""#),
        "{rest}"
    );
    assert!(rest.contains(r#""tool_calls":[{"function":{"arguments":"{\"command\":\"true\"}","name":"run_shell_command"}"#), "{rest}");
    assert!(rest.contains(r#""finish_reason":"tool_calls""#), "{rest}");
    assert!(rest.contains(r#""usage":{"#), "{rest}");
    assert!(rest.contains("data: [DONE]"), "{rest}");
    let (_, rest) = post(
        &server,
        "/v1/chat/completions",
        &json!({"model": "fake-chat", "tools": tools, "messages": [
            {"role": "user", "content": "MARK it"},
            {"role": "assistant", "content": null, "tool_calls": [{"id": "c", "type": "function", "function": {"name": "bash", "arguments": "{}"}}]},
            {"role": "tool", "tool_call_id": "c", "content": "ok"}]}),
    );
    assert!(rest.contains(r#""object":"chat.completion""#), "{rest}");
    assert!(rest.contains(r#""content":"after the tool""#), "{rest}");
    assert_eq!(server.requests()[1].api, "openai-chat");
}
