//! Google's Gemini API as Gemini CLI calls it: `POST /v1beta/models/<model>:streamGenerateContent?alt=sse`
//! (SSE of `GenerateContentResponse` chunks, `data: {…}` lines with no event names) and
//! `:generateContent` (one JSON `GenerateContentResponse`, for the CLI's small side calls such
//! as its model router), with Google's error JSON for error statuses.
//!
//! A request's `contents` (roles `user` / `model`, parts with `text`, `functionCall` or
//! `functionResponse`) map onto the script's rules: the prompt is the last `user` content that
//! is not a function response (without the CLI's `<session_context>` part), the step the number of `user` contents of function responses
//! after it. A request offering no function declarations is a side request; when it asks for
//! JSON (`generationConfig.responseMimeType`) the side reply's text is replaced by an instance
//! of its `responseJsonSchema` / `responseSchema`, so the CLI can parse it.

use serde_json::Value;
use serde_json::json;

use crate::http::Chunked;
use crate::script::Reply;
use crate::script::Turn;
use crate::stream::pieces;

/// Returns the model and the method of a Gemini route
/// (`/v1beta/models/gemini-x:streamGenerateContent` → `("gemini-x", "streamGenerateContent")`).
pub fn route_parts(route: &str) -> Option<(&str, &str)> {
    let rest = route.rsplit_once("/models/")?.1;
    let (model, method) = rest.rsplit_once(':')?;
    (!model.is_empty() && !model.contains('/')).then_some((model, method))
}

/// Returns whether a route is a model call the script answers.
pub fn is_model_call(method: &str) -> bool {
    method == "streamGenerateContent" || method == "generateContent"
}

/// Reads a `generateContent` / `streamGenerateContent` request body.
pub fn gemini_turn(body: &Value) -> Turn {
    let has_tools = body
        .get("tools")
        .and_then(Value::as_array)
        .is_some_and(|tools| {
            tools.iter().any(|t| {
                t.get("functionDeclarations")
                    .and_then(Value::as_array)
                    .is_some_and(|d| !d.is_empty())
            })
        });
    let mut prompt = None;
    let mut step = 0;
    if let Some(contents) = body.get("contents").and_then(Value::as_array) {
        for c in contents.iter().rev() {
            if c.get("role").and_then(Value::as_str).unwrap_or("user") != "user" {
                continue;
            }
            let parts = c
                .get("parts")
                .and_then(Value::as_array)
                .cloned()
                .unwrap_or_default();
            if parts.iter().any(|p| p.get("functionResponse").is_some()) {
                step += 1;
                continue;
            }
            // The first message carries Gemini CLI's `<session_context>` part before the prompt.
            let texts: Vec<&str> = parts
                .iter()
                .filter_map(|p| p.get("text").and_then(Value::as_str))
                .filter(|t| !t.starts_with("<session_context>"))
                .collect();
            prompt = Some(texts.join("\n"));
            break;
        }
    }
    Turn::new(has_tools, prompt, step)
}

/// Returns the JSON schema a request asks its reply to follow, if it asks for JSON.
pub fn wanted_schema(body: &Value) -> Option<Value> {
    let cfg = body.get("generationConfig")?;
    let mime = cfg.get("responseMimeType").and_then(Value::as_str)?;
    if mime != "application/json" {
        return None;
    }
    Some(
        cfg.get("responseJsonSchema")
            .or_else(|| cfg.get("responseSchema"))
            .cloned()
            .unwrap_or_else(|| json!({"type": "OBJECT"})),
    )
}

/// Returns a small value that satisfies a schema (OpenAPI or JSON-schema spelling: `OBJECT`
/// or `object`…): every property present, the first enum value, 1 for numbers.
pub fn instance_of(schema: &Value) -> Value {
    instance_at(schema, 0)
}

fn instance_at(schema: &Value, depth: usize) -> Value {
    if depth > 8 {
        return Value::Null;
    }
    if let Some(first) = schema
        .get("enum")
        .and_then(Value::as_array)
        .and_then(|e| e.first())
    {
        return first.clone();
    }
    let ty = schema
        .get("type")
        .and_then(|t| match t {
            Value::Array(a) => a.iter().find(|x| *x != "null").and_then(Value::as_str),
            _ => t.as_str(),
        })
        .unwrap_or("object")
        .to_ascii_lowercase();
    match ty.as_str() {
        "string" => json!("fake"),
        "integer" | "number" => json!(1),
        "boolean" => json!(false),
        "array" => match schema.get("items") {
            Some(items) => json!([instance_at(items, depth + 1)]),
            None => json!([]),
        },
        "null" => Value::Null,
        _ => {
            let mut out = serde_json::Map::new();
            if let Some(props) = schema.get("properties").and_then(Value::as_object) {
                for (k, v) in props {
                    out.insert(k.clone(), instance_at(v, depth + 1));
                }
            }
            Value::Object(out)
        }
    }
}

/// Returns the reply a request gets once its schema is honoured: a side request asking for
/// JSON gets an instance of the schema as its text (unless the script's text already is JSON).
pub fn shape_reply(mut reply: Reply, turn: &Turn, body: &Value) -> Reply {
    if turn.kind == "side"
        && let Some(schema) = wanted_schema(body)
        && reply
            .text
            .as_deref()
            .is_none_or(|t| serde_json::from_str::<Value>(t).is_err())
    {
        reply.text = Some(instance_of(&schema).to_string());
    }
    reply
}

fn usage() -> Value {
    json!({"promptTokenCount": 25, "candidatesTokenCount": 12, "totalTokenCount": 37})
}

fn chunk(parts: Value, finish: Option<&str>, model: &str, id: u64, last: bool) -> Value {
    let mut candidate = json!({"content": {"parts": parts, "role": "model"}, "index": 0});
    if let Some(f) = finish {
        candidate["finishReason"] = json!(f);
    }
    let mut c = json!({"candidates": [candidate], "modelVersion": model,
        "responseId": format!("fake-gemini-{id}")});
    if last {
        c["usageMetadata"] = usage();
    }
    c
}

fn function_part(reply: &Reply) -> Option<Value> {
    reply
        .tool
        .as_ref()
        .map(|t| json!({"functionCall": {"name": t.name, "args": t.input}}))
}

/// Streams a reply as `data:` lines of `GenerateContentResponse` chunks: the text in
/// `reply.chunks` pieces, then the function call, the last chunk with `finishReason` `STOP` and
/// `usageMetadata`.
pub fn gemini_sse(
    out: &mut Chunked<'_>,
    reply: &Reply,
    model: &str,
    id: u64,
) -> std::io::Result<()> {
    let send = |out: &mut Chunked<'_>, v: Value| out.send(format!("data: {v}\r\n\r\n").as_bytes());
    if reply.delay_ms > 0 {
        std::thread::sleep(std::time::Duration::from_millis(reply.delay_ms));
    }
    let texts = reply
        .text
        .as_deref()
        .map(|t| pieces(t, reply.chunks.unwrap_or(1)))
        .unwrap_or_default();
    let call = function_part(reply);
    let n = texts.len();
    for (i, p) in texts.iter().enumerate() {
        if i > 0 && reply.chunk_delay_ms > 0 {
            std::thread::sleep(std::time::Duration::from_millis(reply.chunk_delay_ms));
        }
        let last = i + 1 == n && call.is_none();
        send(
            out,
            chunk(
                json!([{"text": p}]),
                last.then_some("STOP"),
                model,
                id,
                last,
            ),
        )?;
    }
    if let Some(part) = call {
        send(out, chunk(json!([part]), Some("STOP"), model, id, true))?;
    } else if n == 0 {
        send(
            out,
            chunk(json!([{"text": ""}]), Some("STOP"), model, id, true),
        )?;
    }
    Ok(())
}

/// Returns a reply as one `GenerateContentResponse`.
pub fn gemini_json(reply: &Reply, model: &str, id: u64) -> Value {
    let mut parts = Vec::new();
    if let Some(t) = &reply.text {
        parts.push(json!({"text": t}));
    }
    parts.extend(function_part(reply));
    chunk(Value::Array(parts), Some("STOP"), model, id, true)
}

/// Returns Google's error body for a status: `{"error": {"code", "message", "status"}}`, with
/// a `QuotaFailure` and a `RetryInfo` detail for a 429.
pub fn gemini_error(status: u16) -> Value {
    let (name, message) = match status {
        400 => ("INVALID_ARGUMENT", "Request contains an invalid argument."),
        401 => (
            "UNAUTHENTICATED",
            "API key not valid. Please pass a valid API key.",
        ),
        403 => ("PERMISSION_DENIED", "The caller does not have permission."),
        404 => ("NOT_FOUND", "fake model server: no such model."),
        429 => (
            "RESOURCE_EXHAUSTED",
            "You exceeded your current quota, please check your plan and billing details.",
        ),
        503 => (
            "UNAVAILABLE",
            "The model is overloaded. Please try again later.",
        ),
        504 => (
            "DEADLINE_EXCEEDED",
            "Deadline expired before operation could complete.",
        ),
        _ => ("INTERNAL", "An internal error has occurred."),
    };
    let mut e = json!({"error": {"code": status, "message": message, "status": name}});
    if status == 429 {
        e["error"]["details"] = json!([
            {"@type": "type.googleapis.com/google.rpc.QuotaFailure",
             "violations": [{"quotaMetric": "generativelanguage.googleapis.com/generate_content_free_tier_requests",
                             "quotaId": "GenerateRequestsPerDayPerProjectPerModel-FreeTier"}]},
            {"@type": "type.googleapis.com/google.rpc.RetryInfo", "retryDelay": "1s"}
        ]);
    }
    e
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn routes() {
        assert_eq!(
            route_parts("/v1beta/models/gemini-2.5-pro:streamGenerateContent"),
            Some(("gemini-2.5-pro", "streamGenerateContent"))
        );
        assert_eq!(
            route_parts("/v1beta/models/gemini-3.5-flash-lite:generateContent"),
            Some(("gemini-3.5-flash-lite", "generateContent"))
        );
        assert_eq!(route_parts("/v1/messages"), None);
        assert!(is_model_call("generateContent"));
        assert!(!is_model_call("countTokens"));
    }

    #[test]
    fn prompt_and_step_from_contents() {
        let body = json!({
            "tools": [{"functionDeclarations": [{"name": "run_shell_command"}]}],
            "contents": [
                {"role": "user", "parts": [{"text": "<session_context>…</session_context>"}, {"text": "go MARK"}]},
                {"role": "model", "parts": [{"functionCall": {"name": "run_shell_command", "args": {}}}]},
                {"role": "user", "parts": [{"functionResponse": {"name": "run_shell_command", "response": {}}}]},
            ]
        });
        let t = gemini_turn(&body);
        assert_eq!(
            (t.kind, t.step, t.prompt.as_deref()),
            ("main", 1, Some("go MARK"))
        );
        let side = gemini_turn(
            &json!({"contents": [{"role": "user", "parts": [{"text": "a"}, {"text": "b"}]}]}),
        );
        assert_eq!(
            (side.kind, side.step, side.prompt.as_deref()),
            ("side", 0, Some("a\nb"))
        );
    }

    #[test]
    fn json_side_calls_get_an_instance_of_their_schema() {
        let body = json!({"contents": [], "generationConfig": {
            "responseMimeType": "application/json",
            "responseJsonSchema": {"type": "OBJECT", "required": ["a", "b"], "properties": {
                "a": {"type": "STRING"}, "b": {"type": "INTEGER"},
                "c": {"type": "array", "items": {"type": "string", "enum": ["x", "y"]}},
                "d": {"type": ["null", "boolean"]}}}}});
        let turn = gemini_turn(&body);
        let r = shape_reply(Reply::text("Conformance"), &turn, &body);
        let v: Value = serde_json::from_str(r.text.as_deref().unwrap()).unwrap();
        assert_eq!(v, json!({"a": "fake", "b": 1, "c": ["x"], "d": false}));
        // JSON the script gives is kept; a main turn is never reshaped.
        let r = shape_reply(Reply::text("{\"a\":\"mine\"}"), &turn, &body);
        assert_eq!(r.text.as_deref(), Some("{\"a\":\"mine\"}"));
        let main = Turn {
            kind: "main",
            ..Turn::default()
        };
        assert_eq!(
            shape_reply(Reply::text("t"), &main, &body).text.as_deref(),
            Some("t")
        );
    }

    #[test]
    fn one_response_with_text_and_call() {
        let mut r = Reply::tool("run_shell_command", json!({"command": "ls"}));
        r.text = Some("Listing.".into());
        let v = gemini_json(&r, "m", 3);
        assert_eq!(
            v["candidates"][0]["content"]["parts"][0]["text"],
            "Listing."
        );
        assert_eq!(
            v["candidates"][0]["content"]["parts"][1]["functionCall"]["args"]["command"],
            "ls"
        );
        assert_eq!(v["candidates"][0]["finishReason"], "STOP");
        assert_eq!(v["usageMetadata"]["totalTokenCount"], 37);
    }

    #[test]
    fn errors_have_google_shape() {
        let e = gemini_error(429);
        assert_eq!(e["error"]["code"], 429);
        assert_eq!(e["error"]["status"], "RESOURCE_EXHAUSTED");
        assert_eq!(e["error"]["details"][1]["retryDelay"], "1s");
        assert_eq!(gemini_error(503)["error"]["status"], "UNAVAILABLE");
        assert_eq!(gemini_error(500)["error"]["status"], "INTERNAL");
    }
}
