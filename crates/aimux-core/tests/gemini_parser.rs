//! Gemini CLI chat-file parser against real files written by gemini-cli 0.61.0 (see
//! tests/data/gemini/README.md) and hand-made edge cases.
//!
//! Expected values are computed here from the raw JSON with `serde_json::Value` by a
//! deliberately simple, separate algorithm (messages by distinct id, last write wins, turns
//! in order of the appended records), never copied from the parser's output.

use aimux_core::model::{ParsedSession, Provider, TokenUsage};
use aimux_core::parsers::gemini::GeminiParser;
use aimux_core::parsers::{RecordParser, SessionFileParser};
use proptest::prelude::*;
use serde_json::{Value, json};
use std::collections::HashMap;

const DATA: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/gemini");

fn read(name: &str) -> Vec<u8> {
    std::fs::read(format!("{DATA}/{name}")).expect("test data file")
}

fn jsonl_files() -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(DATA)
        .expect("data dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".jsonl"))
        .collect();
    v.sort();
    assert!(v.len() >= 9, "expected the sample files, found {v:?}");
    v
}

fn parse(bytes: &[u8]) -> SessionFileParser {
    let mut p = SessionFileParser::new(Provider::Gemini);
    p.feed(bytes);
    p
}

fn lines_of(bytes: &[u8]) -> Vec<Value> {
    std::str::from_utf8(bytes)
        .expect("utf8")
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| serde_json::from_str(l).expect("sample line is JSON"))
        .collect()
}

// ------------------------------------------------------------------------------------
// Independent reference
// ------------------------------------------------------------------------------------

#[derive(Debug, Default, Clone, PartialEq)]
struct RefTool {
    id: String,
    name: String,
    status: Option<String>,
    error: Option<String>,
}

#[derive(Debug, Default, Clone, PartialEq)]
struct RefTurn {
    id: String,
    user: String,
    output: String,
    tokens: TokenUsage,
    tools: Vec<RefTool>,
}

fn text_of(content: &Value) -> String {
    match content {
        Value::String(s) => s.clone(),
        Value::Array(parts) => parts
            .iter()
            .filter(|p| p.get("thought") != Some(&Value::Bool(true)))
            .filter_map(|p| p.get("text").and_then(Value::as_str))
            .collect::<Vec<_>>()
            .join(""),
        _ => String::new(),
    }
}

fn is_prompt(msg: &Value) -> bool {
    if msg["type"] != "user" {
        return false;
    }
    let has_response = msg["content"]
        .as_array()
        .is_some_and(|ps| ps.iter().any(|p| p.get("functionResponse").is_some()));
    let text = text_of(&msg["content"]);
    !has_response && !text.trim().is_empty() && !text.trim_start().starts_with("<session_context>")
}

fn usage_of(t: &Value) -> TokenUsage {
    let n = |k: &str| t[k].as_u64().unwrap_or(0);
    TokenUsage {
        input: n("input") - n("cached") + n("tool"),
        output: n("output") + n("thoughts"),
        cache_read: n("cached"),
        cache_write: 0,
    }
}

/// Turns from the message records of a file (or the `messages` of a whole-file document):
/// every distinct id counts once, the last write of a field wins, turns follow the order in
/// which ids are first appended. `$set` rewrites only add fields to known ids.
fn reference(records: &[Value]) -> Vec<RefTurn> {
    let mut order: Vec<String> = Vec::new();
    let mut last: HashMap<String, Value> = HashMap::new();
    let mut tokens: HashMap<String, Value> = HashMap::new();
    let mut tools: HashMap<String, Vec<Value>> = HashMap::new();
    let mut text: HashMap<String, String> = HashMap::new();
    for r in records {
        let Some(id) = r["id"].as_str() else { continue };
        if !last.contains_key(id) {
            order.push(id.to_string());
        }
        last.insert(id.to_string(), r.clone());
        if r.get("tokens").is_some_and(|t| t.is_object()) {
            tokens.insert(id.to_string(), r["tokens"].clone());
        }
        if let Some(tc) = r["toolCalls"].as_array() {
            let list = tools.entry(id.to_string()).or_default();
            for c in tc {
                match list.iter_mut().find(|x| x["id"] == c["id"]) {
                    Some(x) => *x = c.clone(),
                    None => list.push(c.clone()),
                }
            }
        }
        let t = text_of(&r["content"]);
        if !t.trim().is_empty() {
            text.insert(id.to_string(), t);
        }
    }
    let mut turns: Vec<RefTurn> = Vec::new();
    for id in &order {
        let m = &last[id];
        if is_prompt(m) {
            turns.push(RefTurn {
                id: id.clone(),
                user: text.get(id).cloned().unwrap_or_default().trim().to_string(),
                ..RefTurn::default()
            });
            continue;
        }
        if m["type"] != "gemini" {
            continue;
        }
        let turn = turns.last_mut().expect("samples start with a prompt");
        if let Some(t) = tokens.get(id) {
            turn.tokens += usage_of(t);
        }
        if let Some(t) = text.get(id) {
            if !turn.output.is_empty() {
                turn.output.push_str("\n\n");
            }
            turn.output.push_str(t.trim());
        }
        for c in tools.get(id).into_iter().flatten() {
            let mut status = c["status"].as_str().map(str::to_string);
            let mut error = (status.as_deref() != Some("success"))
                .then(|| c["result"][0]["functionResponse"]["response"]["error"].as_str())
                .flatten()
                .map(str::to_string);
            // A shell command that ran but exited non-zero: the CLI still says
            // `success`; the exit code is only in the text sent back to the model.
            let sent_back = c["result"][0]["functionResponse"]["response"]["output"]
                .as_str()
                .unwrap_or("");
            if let Some(code) = sent_back
                .split('\n')
                .find_map(|l| l.strip_prefix("Exit Code: "))
                .filter(|code| code.trim() != "0")
            {
                status = Some("failed".into());
                error = Some(format!(
                    "exit code {}: {}",
                    code.trim(),
                    c["resultDisplay"].as_str().unwrap_or("")
                ));
            }
            turn.tools.push(RefTool {
                id: c["id"].as_str().unwrap_or_default().to_string(),
                name: c["name"].as_str().unwrap_or_default().to_string(),
                status,
                error,
            });
        }
    }
    turns
}

/// The appended message records of a JSONL file (`$set` patches left out).
fn records_of(lines: &[Value]) -> Vec<Value> {
    lines
        .iter()
        .filter(|l| l.get("$set").is_none() && l.get("id").is_some())
        .cloned()
        .collect()
}

fn check_against_reference(name: &str, s: &ParsedSession, expect: &[RefTurn]) {
    let got: Vec<RefTurn> = s
        .turns
        .iter()
        .map(|t| RefTurn {
            id: t.id.clone(),
            user: t.user.clone(),
            output: t.output.clone(),
            tokens: t.tokens,
            tools: t
                .tools
                .iter()
                .map(|c| RefTool {
                    id: c.id.clone(),
                    name: c.name.clone(),
                    status: match c.success {
                        Some(true) => Some("success".into()),
                        Some(false) => Some("failed".into()),
                        None => None,
                    },
                    error: c.error.clone(),
                })
                .collect(),
        })
        .collect();
    // The parser's success flag is a boolean: fold the reference's statuses the same way.
    let expect: Vec<RefTurn> = expect
        .iter()
        .cloned()
        .map(|mut t| {
            for c in &mut t.tools {
                c.status = c
                    .status
                    .as_deref()
                    .map(|s| if s == "success" { "success" } else { "failed" }.to_string());
            }
            t
        })
        .collect();
    assert_eq!(
        got, expect,
        "{name}: turns differ from the raw-JSON reference"
    );
    for (i, t) in s.turns.iter().enumerate() {
        assert_eq!(t.number as usize, i + 1, "{name}: numbering");
        let by_model: TokenUsage = t
            .usage_by_model
            .iter()
            .fold(TokenUsage::default(), |a, m| a + m.tokens);
        assert_eq!(by_model, t.tokens, "{name}: usage_by_model sums to tokens");
    }
}

// ------------------------------------------------------------------------------------
// Real files
// ------------------------------------------------------------------------------------

#[test]
fn every_sample_matches_the_raw_json_reference() {
    for name in jsonl_files() {
        let bytes = read(&name);
        let lines = lines_of(&bytes);
        let p = parse(&bytes);
        let s = p.session();
        check_against_reference(&name, s, &reference(&records_of(&lines)));

        assert_eq!(p.stats.lines as usize, lines.len(), "{name}");
        assert_eq!(p.stats.malformed, 0, "{name}");
        assert_eq!(p.stats.unknown, 0, "{name}");

        // Session id from the (first) header; every header of the file carries the same id.
        let headers: Vec<&Value> = lines
            .iter()
            .filter(|l| l.get("projectHash").is_some() && l.get("$set").is_none())
            .collect();
        assert!(!headers.is_empty(), "{name}");
        assert_eq!(s.id.as_deref(), headers[0]["sessionId"].as_str(), "{name}");

        // Times: min / max over every time stamp a record carries.
        let mut times: Vec<String> = Vec::new();
        let mut push = |v: &Value| {
            for k in ["timestamp", "startTime", "lastUpdated"] {
                if let Some(t) = v[k].as_str() {
                    times.push(t.to_string());
                }
            }
            for c in v["toolCalls"].as_array().into_iter().flatten() {
                if let Some(t) = c["timestamp"].as_str() {
                    times.push(t.to_string());
                }
            }
        };
        for l in &lines {
            push(l);
            push(&l["$set"]);
            for m in l["$set"]["messages"].as_array().into_iter().flatten() {
                push(m);
            }
        }
        times.sort();
        let fmt = |t: Option<aimux_core::model::Timestamp>| {
            t.map(|t| t.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string())
        };
        assert_eq!(fmt(s.started_at).as_ref(), times.first(), "{name}");
        assert_eq!(fmt(s.last_activity).as_ref(), times.last(), "{name}");

        // cwd: the first directory under "Workspace Directories:" of the first
        // <session_context> block (appended record or `$set.messages`).
        let ctx = lines
            .iter()
            .flat_map(|l| {
                std::iter::once(l).chain(l["$set"]["messages"].as_array().into_iter().flatten())
            })
            .map(|m| text_of(&m["content"]))
            .find(|t| t.starts_with("<session_context>"));
        let dir = ctx.as_deref().and_then(|t| {
            let lines: Vec<&str> = t.split('\n').collect();
            let i = lines
                .iter()
                .position(|l| l.contains("Workspace Directories:"))?;
            lines
                .get(i + 1)?
                .trim()
                .strip_prefix("- ")
                .map(str::to_string)
        });
        assert!(dir.is_some(), "{name}: every sample has a session context");
        assert_eq!(s.cwd, dir, "{name}");

        // Title: the last `$set.summary`, if any.
        let summary = lines
            .iter()
            .filter_map(|l| l["$set"]["summary"].as_str())
            .next_back();
        assert_eq!(s.title.as_deref(), summary, "{name}");
    }
}

#[test]
fn samples_have_the_expected_shape() {
    // Guards against a reference that is trivially empty: the corpus exercises turns,
    // tools, failures and cached tokens.
    let mut turns = 0;
    let mut tools = 0;
    let mut failed = 0;
    let mut cached = 0;
    for name in jsonl_files() {
        let lines = lines_of(&read(&name));
        for t in reference(&records_of(&lines)) {
            turns += 1;
            tools += t.tools.len();
            failed += t
                .tools
                .iter()
                .filter(|c| c.status.as_deref() != Some("success"))
                .count();
            cached += t.tokens.cache_read;
        }
    }
    assert!(turns >= 12, "{turns}");
    assert!(tools >= 8, "{tools}");
    assert!(failed >= 2, "{failed}");
    assert!(cached > 0);
}

#[test]
fn resumed_file_is_one_session_and_rewrites_lose_nothing() {
    let bytes = read("resumed-twice.jsonl");
    let lines = lines_of(&bytes);
    let s = parse(&bytes).session().clone();
    // Three headers with one id, three prompts.
    let headers = lines
        .iter()
        .filter(|l| l.get("sessionId").is_some() && l.get("$set").is_none())
        .count();
    assert_eq!(headers, 3);
    assert_eq!(s.turns.len(), 3);
    // The rewrites re-list history without tokens/toolCalls/model and with fresh time
    // stamps: prove they really do, then that the parser kept the earlier data.
    let rewrite = lines
        .iter()
        .filter_map(|l| l["$set"]["messages"].as_array())
        .max_by_key(|m| m.len())
        .expect("a history rewrite");
    assert!(rewrite.len() > 5);
    assert!(
        rewrite
            .iter()
            .all(|m| m.get("tokens").is_none() && m.get("toolCalls").is_none())
    );
    let mut first_ts: HashMap<String, String> = HashMap::new();
    for r in records_of(&lines) {
        let (Some(id), Some(ts)) = (r["id"].as_str(), r["timestamp"].as_str()) else {
            continue;
        };
        first_ts
            .entry(id.to_string())
            .or_insert_with(|| ts.to_string());
    }
    for t in &s.turns {
        assert!(!t.tokens.is_zero(), "turn {} lost its tokens", t.id);
        assert_eq!(t.model.as_deref(), Some("gemini-3.1-pro-preview"));
        let started = t
            .started_at
            .map(|x| x.format("%Y-%m-%dT%H:%M:%S%.3fZ").to_string());
        assert_eq!(started.as_ref(), first_ts.get(&t.id));
    }
    assert_eq!(s.turns[0].tools.len(), 2);
    assert!(
        s.turns[0]
            .tools
            .iter()
            .all(|c| c.success == Some(true) && c.output.is_some())
    );
    // Second and third runs are later turns, not new sessions.
    assert_eq!(
        s.id.as_deref(),
        Some("9048d522-23af-4a45-9444-b1a911ff060e")
    );
    assert!(s.tail.turn_complete);
    assert_eq!(s.tail.last_record.as_deref(), Some("assistant"));
}

#[test]
fn failed_and_cancelled_tools_carry_their_error() {
    let s = parse(&read("tool-error.jsonl")).session().clone();
    let tc = &s.turns[0].tools[0];
    assert_eq!(tc.name, "list_directory");
    assert_eq!(tc.success, Some(false));
    assert!(
        tc.error
            .as_deref()
            .unwrap_or("")
            .contains("Path not in workspace")
    );
    assert_eq!(s.failed_tool_calls(), 1);

    let bytes = read("interactive-cancel-compress.jsonl");
    let s = parse(&bytes).session().clone();
    let cancelled: Vec<_> = s
        .turns
        .iter()
        .flat_map(|t| t.tools.iter())
        .filter(|c| c.success == Some(false))
        .collect();
    assert_eq!(cancelled.len(), 1);
    assert!(
        cancelled[0]
            .error
            .as_deref()
            .unwrap_or("")
            .contains("Operation Cancelled")
    );
    // Compression adds a summary "user" message and a model acknowledgement through a
    // rewrite: neither is a turn, nor turn output.
    let prompts: Vec<&str> = s.turns.iter().map(|t| t.user.as_str()).collect();
    assert_eq!(prompts, ["SLEEP_TOOL 30", "SLEEP_TOOL 3", "Say bye"]);
    assert!(s.turns.iter().all(|t| !t.output.contains("Got it")));
    assert_eq!(s.tail.last_record.as_deref(), Some("assistant"));
    assert!(s.tail.turn_complete);
    assert!(s.tail.pending_tools.is_empty());
    assert_eq!(
        s.tail.last_action.as_deref(),
        Some("run_shell_command: sleep 30; echo slept 30")
    );
    assert!(
        s.tail
            .last_error
            .as_deref()
            .unwrap_or("")
            .contains("Operation Cancelled")
    );
}

#[test]
fn cancelled_request_ends_the_turn() {
    // The file as it was right after the user denied the approval (Esc).
    let bytes = read("interactive-cancel-compress.jsonl");
    let lines: Vec<&[u8]> = bytes.split_inclusive(|b| *b == b'\n').collect();
    let at = lines
        .iter()
        .position(|l| serde_json::from_slice::<Value>(l).is_ok_and(|v| v["type"] == "info"))
        .expect("the cancel notice");
    let cut: Vec<u8> = lines[..=at].concat();
    let s = parse(&cut).session().clone();
    assert_eq!(s.tail.last_record.as_deref(), Some("interrupted"));
    assert!(s.tail.turn_complete);
    assert!(s.tail.pending_tools.is_empty());
    // One record earlier the tool call had just been recorded as cancelled.
    let s = parse(&lines[..at].concat()).session().clone();
    assert_eq!(s.tail.last_record.as_deref(), Some("tool_result"));
    assert!(!s.tail.turn_complete);
}

#[test]
fn live_states_from_the_tail() {
    // While the approval dialog is shown and while the approved tool runs, the file ends
    // with a model message without text or tool calls.
    for name in ["awaiting-approval.jsonl", "executing.jsonl"] {
        let s = parse(&read(name)).session().clone();
        assert_eq!(s.tail.last_record.as_deref(), Some("tool_use"), "{name}");
        assert!(!s.tail.turn_complete, "{name}");
        assert!(s.tail.last_record_at.is_some(), "{name}");
    }
    // A plain answer completes the turn.
    let s = parse(&read("text-hello.jsonl")).session().clone();
    assert!(s.tail.turn_complete);
    assert_eq!(s.tail.last_record.as_deref(), Some("assistant"));
    assert_eq!(s.tail.last_action, None);
    // After a tool round trip, LAST ACTION is the tool call.
    let s = parse(&read("interactive-ls.jsonl")).session().clone();
    assert_eq!(
        s.tail.last_action.as_deref(),
        Some("run_shell_command: ls -la")
    );
}

#[test]
fn whole_file_json_equals_reference_and_jsonl() {
    let bytes = read("legacy-whole-file.json");
    let doc: Value = serde_json::from_slice(&bytes).expect("json");
    let mut p = SessionFileParser::new(Provider::Gemini);
    p.parse_whole_json(&bytes);
    assert_eq!(p.stats.malformed, 0);
    let s = p.session().clone();
    let msgs = doc["messages"].as_array().expect("messages").clone();
    check_against_reference("legacy-whole-file.json", &s, &reference(&msgs));
    assert_eq!(s.id.as_deref(), doc["sessionId"].as_str());
    assert_eq!(s.title.as_deref(), doc["summary"].as_str());
    // Same conversation as the JSONL it was folded from.
    let j = parse(&read("tool-error.jsonl")).session().clone();
    assert_eq!(s.turns, j.turns);

    let mut bad = SessionFileParser::new(Provider::Gemini);
    bad.parse_whole_json(b"{\"sessionId\": \"x\", \"messages\": [");
    assert_eq!(bad.stats.malformed, 1);
    bad.parse_whole_json(b"[1, 2, 3]");
    assert_eq!(bad.stats.malformed, 1);
}

// ------------------------------------------------------------------------------------
// Hand-made edge cases
// ------------------------------------------------------------------------------------

fn jl(values: &[Value]) -> Vec<u8> {
    let mut out = Vec::new();
    for v in values {
        out.extend_from_slice(v.to_string().as_bytes());
        out.push(b'\n');
    }
    out
}

fn header(id: &str) -> Value {
    json!({"sessionId": id, "projectHash": "abc", "startTime": "2026-01-01T00:00:00.000Z",
           "lastUpdated": "2026-01-01T00:00:00.000Z", "kind": "main"})
}

fn user(id: &str, text: &str, ts: &str) -> Value {
    json!({"id": id, "timestamp": ts, "type": "user", "content": [{"text": text}]})
}

fn tokens(input: u64, output: u64, cached: u64, thoughts: u64, tool: u64) -> Value {
    json!({"input": input, "output": output, "cached": cached, "thoughts": thoughts,
           "tool": tool, "total": input + output + thoughts + tool})
}

fn tool_call(id: &str, status: &str) -> Value {
    json!({"id": id, "name": "run_shell_command", "args": {"command": "make test"},
           "result": [{"functionResponse": {"id": id, "name": "run_shell_command",
                        "response": {"output": "all good"}}}],
           "status": status, "timestamp": "2026-01-01T00:00:05.000Z", "resultDisplay": "ok"})
}

#[test]
fn message_written_before_and_after_tool_results_counts_once() {
    let t = tokens(1000, 20, 400, 5, 0);
    let before = json!({"id": "g1", "timestamp": "2026-01-01T00:00:02.000Z", "type": "gemini",
        "content": "", "thoughts": [], "tokens": t, "model": "gemini-x"});
    let mut after = before.clone();
    after["toolCalls"] = json!([tool_call("c1", "success")]);
    let s = parse(&jl(&[
        header("s"),
        user("u1", "run the tests", "2026-01-01T00:00:01.000Z"),
        before.clone(),
        after.clone(),
        // and once more without tool calls: must not erase them
        before,
    ]))
    .session()
    .clone();
    assert_eq!(s.turns.len(), 1);
    let turn = &s.turns[0];
    assert_eq!(
        turn.tokens,
        TokenUsage {
            input: 600,
            output: 25,
            cache_read: 400,
            cache_write: 0
        }
    );
    assert_eq!(turn.tools.len(), 1);
    assert_eq!(turn.tools[0].success, Some(true));
    assert_eq!(turn.tools[0].output.as_deref(), Some("ok"));
    assert_eq!(turn.tools[0].input, r#"{"command":"make test"}"#);
    assert_eq!(turn.model.as_deref(), Some("gemini-x"));
}

#[test]
fn later_write_replaces_tokens_and_fills_fields() {
    let s = parse(&jl(&[
        header("s"),
        user("u1", "q", "2026-01-01T00:00:01.000Z"),
        json!({"id": "g1", "type": "gemini", "content": "", "timestamp": "2026-01-01T00:00:02.000Z"}),
        json!({"id": "g1", "type": "gemini", "content": "answer", "tokens": tokens(10, 1, 0, 0, 0)}),
        json!({"id": "g1", "type": "gemini", "content": "", "tokens": tokens(50, 5, 0, 0, 0), "model": "m"}),
    ]))
    .session()
    .clone();
    let turn = &s.turns[0];
    assert_eq!(
        turn.tokens,
        TokenUsage {
            input: 50,
            output: 5,
            ..TokenUsage::default()
        }
    );
    assert_eq!(turn.output, "answer");
    assert_eq!(turn.model.as_deref(), Some("m"));
    assert_eq!(turn.usage_by_model.len(), 1);
}

#[test]
fn rewritten_history_with_fewer_fields_loses_nothing() {
    let g1 = json!({"id": "g1", "timestamp": "2026-01-01T00:00:02.000Z", "type": "gemini",
        "content": "", "tokens": tokens(100, 10, 0, 0, 0), "model": "gemini-x",
        "toolCalls": [tool_call("c1", "success")]});
    let g2 = json!({"id": "g2", "timestamp": "2026-01-01T00:00:06.000Z", "type": "gemini",
        "content": "done", "tokens": tokens(200, 20, 100, 0, 0), "model": "gemini-x"});
    let base = vec![
        header("s"),
        user("u1", "q", "2026-01-01T00:00:01.000Z"),
        g1,
        json!({"id": "r1", "timestamp": "2026-01-01T00:00:05.000Z", "type": "user",
               "content": [{"functionResponse": {"id": "c1", "name": "run_shell_command",
                            "response": {"output": "all good"}}}]}),
        g2,
    ];
    let one = parse(&jl(&base)).session().clone();
    let mut resumed = base.clone();
    resumed.push(header("s"));
    resumed.push(json!({"$set": {"messages": [
        {"id": "ctx", "timestamp": "2026-01-02T00:00:00.000Z", "type": "user",
         "content": [{"text": "<session_context>\nstuff\n</session_context>"}]}]}}));
    resumed.push(json!({"$set": {"sessionId": "s"}}));
    resumed.push(json!({"$set": {"messages": [
        {"id": "ctx", "timestamp": "2026-01-02T00:00:00.000Z", "type": "user",
         "content": [{"text": "<session_context>\nstuff\n</session_context>"}]},
        {"id": "u1", "timestamp": "2026-01-02T00:00:00.000Z", "type": "user", "content": [{"text": "q"}]},
        {"id": "g1", "timestamp": "2026-01-02T00:00:00.000Z", "type": "gemini",
         "content": [{"functionCall": {"id": "c1", "name": "run_shell_command", "args": {"command": "make test"}}}]},
        {"id": "g1_response", "timestamp": "2026-01-02T00:00:00.000Z", "type": "user",
         "content": [{"functionResponse": {"id": "c1", "name": "run_shell_command", "response": {"output": "all good"}}}]},
        {"id": "r1", "timestamp": "2026-01-02T00:00:00.000Z", "type": "user",
         "content": [{"functionResponse": {"id": "c1", "name": "run_shell_command", "response": {"output": "all good"}}}]},
        {"id": "g2", "timestamp": "2026-01-02T00:00:00.000Z", "type": "gemini",
         "content": [{"text": "done"}]}
    ]}}));
    let two = parse(&jl(&resumed)).session().clone();
    assert_eq!(one.turns, two.turns);
    assert_eq!(
        two.tokens(),
        TokenUsage {
            input: 200,
            output: 30,
            cache_read: 100,
            cache_write: 0
        }
    );
    assert_eq!(two.tail.last_record.as_deref(), Some("assistant"));
    assert!(two.tail.turn_complete);
}

#[test]
fn injected_context_and_tool_results_are_not_turns() {
    let s = parse(&jl(&[
        header("s"),
        // injected as a plain record, with a random id
        user("x1", "<session_context>\nThis is the Gemini CLI.\n</session_context>", "2026-01-01T00:00:00.500Z"),
        user("x2", "  <hook_context>extra</hook_context>", "2026-01-01T00:00:00.600Z"),
        user("x3", "<state_snapshot>\n<overall_goal>x</overall_goal>\n</state_snapshot>", "2026-01-01T00:00:00.700Z"),
        json!({"id": "x4", "type": "user", "content": []}),
        user("u1", "real question", "2026-01-01T00:00:01.000Z"),
        json!({"id": "x5", "type": "user", "content": [{"functionResponse": {"id": "c9", "response": {"error": "boom"}}}]}),
        json!({"id": "g1", "type": "gemini", "content": "answer", "tokens": tokens(5, 1, 0, 0, 0)}),
    ]))
    .session()
    .clone();
    assert_eq!(s.turns.len(), 1);
    assert_eq!(s.turns[0].id, "u1");
    assert_eq!(s.turns[0].user, "real question");
    assert_eq!(s.cwd, None, "this context names no directory");
    assert_eq!(s.turns[0].output, "answer");
}

#[test]
fn older_session_context_names_the_directory() {
    let s = parse(&jl(&[
        header("s"),
        user("x1", "<session_context>\nOkay, just setting up the context for our chat.\nToday's date is X.\nI'm currently working in the directory: /home/me/proj\n</session_context>", "2026-01-01T00:00:00.500Z"),
    ]))
    .session()
    .clone();
    assert_eq!(s.cwd.as_deref(), Some("/home/me/proj"));
    assert!(s.turns.is_empty());
}

#[test]
fn content_shapes_display_content_and_thoughts() {
    let s = parse(&jl(&[
        header("s"),
        json!({"id": "u1", "type": "user", "content": "plain string prompt"}),
        json!({"id": "g1", "type": "gemini", "content": [
            {"text": "thinking hard", "thought": true}, {"text": "Hello "}, "there"]}),
        json!({"id": "u2", "type": "user",
               "content": [{"text": "explain\n--- Content from referenced files ---\n..."},
                           {"text": "<hook_context>ignored</hook_context>"}],
               "displayContent": [{"text": "explain @main.py"}]}),
        json!({"id": "u2", "type": "user", "content": [{"text": "explain\n---"}]}),
        json!({"id": "u3", "type": "user", "content": {"text": "single part object"}}),
        json!({"id": "u4", "type": "user", "content": [{"inlineData": {"mimeType": "image/png", "data": "AAAA"}}]}),
    ]))
    .session()
    .clone();
    let users: Vec<&str> = s.turns.iter().map(|t| t.user.as_str()).collect();
    assert_eq!(
        users,
        [
            "plain string prompt",
            "explain @main.py",
            "single part object",
            ""
        ]
    );
    assert_eq!(s.turns[0].output, "Hello there");
}

#[test]
fn tool_tokens_go_to_input_unless_total_says_they_are_inside() {
    let apart =
        json!({"input": 100, "output": 10, "cached": 40, "thoughts": 3, "tool": 7, "total": 120});
    let inside =
        json!({"input": 100, "output": 10, "cached": 40, "thoughts": 3, "tool": 7, "total": 113});
    for (t, input) in [(apart, 67), (inside, 60)] {
        let s = parse(&jl(&[
            header("s"),
            user("u1", "q", "2026-01-01T00:00:01.000Z"),
            json!({"id": "g1", "type": "gemini", "content": "a", "tokens": t}),
        ]))
        .session()
        .clone();
        assert_eq!(
            s.turns[0].tokens,
            TokenUsage {
                input,
                output: 13,
                cache_read: 40,
                cache_write: 0
            }
        );
    }
}

#[test]
fn junk_truncated_and_unknown_lines_are_counted() {
    let mut bytes = read("text-hello.jsonl");
    let clean = parse(&bytes).session().clone();
    bytes.extend_from_slice(b"this is not json\n");
    bytes.extend_from_slice(b"[1, 2, 3]\n");
    bytes.extend_from_slice(b"[]\n");
    bytes.extend_from_slice(b"\"a string\"\n");
    bytes.extend_from_slice(b"{\"id\": \"zz\", \"type\": \"gemini\", \"tokens\": {\"input\": \n");
    bytes.extend_from_slice(b"{\"something\": \"else\"}\n");
    bytes.extend_from_slice(b"{\"id\": \"q1\", \"type\": \"telepathy\", \"content\": \"?\"}\n");
    bytes.extend_from_slice(b"{\"$rewindTo\": \"nope\"}\n");
    bytes.extend_from_slice(b"\xff\xfe\n");
    let half: &[u8] = b"{\"id\": \"g-half\", \"type\": \"gem"; // no newline yet
    bytes.extend_from_slice(half);
    let p = parse(&bytes);
    assert_eq!(p.stats.malformed, 6);
    assert_eq!(p.stats.unknown, 2);
    assert_eq!(p.pending_bytes(), half.len());
    assert_eq!(p.session().turns, clean.turns);
}

#[test]
fn rewind_keeps_spent_tokens() {
    let s = parse(&jl(&[
        header("s"),
        user("u1", "one", "2026-01-01T00:00:01.000Z"),
        json!({"id": "g1", "type": "gemini", "content": "a", "tokens": tokens(10, 1, 0, 0, 0)}),
        json!({"$rewindTo": "u1"}),
        user("u2", "two", "2026-01-01T00:00:03.000Z"),
        json!({"id": "g2", "type": "gemini", "content": "b", "tokens": tokens(20, 2, 0, 0, 0)}),
    ]))
    .session()
    .clone();
    assert_eq!(s.turns.len(), 2);
    assert_eq!(
        s.tokens(),
        TokenUsage {
            input: 30,
            output: 3,
            ..TokenUsage::default()
        }
    );
}

#[test]
fn pending_tools_and_error_messages_in_the_tail() {
    let mut running = tool_call("c1", "executing");
    running.as_object_mut().expect("obj").remove("result");
    let s = parse(&jl(&[
        header("s"),
        user("u1", "q", "2026-01-01T00:00:01.000Z"),
        json!({"id": "g1", "type": "gemini", "content": "", "toolCalls": [running, tool_call("c2", "success")]}),
    ]))
    .session()
    .clone();
    assert_eq!(s.tail.pending_tools, ["c1"]);
    assert_eq!(s.tail.last_record.as_deref(), Some("tool_use"));
    assert!(!s.tail.turn_complete);

    let s = parse(&jl(&[
        header("s"),
        user("u1", "q", "2026-01-01T00:00:01.000Z"),
        json!({"id": "e1", "type": "error", "content": "[API Error: quota exceeded]",
               "timestamp": "2026-01-01T00:00:02.000Z"}),
    ]))
    .session()
    .clone();
    assert_eq!(s.tail.last_record.as_deref(), Some("error"));
    assert_eq!(
        s.tail.last_error.as_deref(),
        Some("[API Error: quota exceeded]")
    );
    assert!(!s.tail.turn_complete);
}

#[test]
fn gemini_output_before_any_prompt_is_not_lost() {
    let s = parse(&jl(&[
        header("s"),
        json!({"id": "g0", "type": "gemini", "content": "hi", "tokens": tokens(9, 1, 0, 0, 0)}),
    ]))
    .session()
    .clone();
    assert_eq!(s.turns.len(), 1);
    assert_eq!(s.tokens().input, 9);
}

// ------------------------------------------------------------------------------------
// Incremental parsing
// ------------------------------------------------------------------------------------

fn all_bytes() -> Vec<(String, Vec<u8>)> {
    jsonl_files()
        .into_iter()
        .map(|n| (n.clone(), read(&n)))
        .collect()
}

#[test]
fn serialize_mid_file_then_continue_equals_one_pass() {
    for (name, bytes) in all_bytes() {
        let whole = parse(&bytes);
        // every line boundary and a few mid-line cuts
        let mut cuts: Vec<usize> = bytes
            .iter()
            .enumerate()
            .filter(|(_, b)| **b == b'\n')
            .map(|(i, _)| i + 1)
            .collect();
        cuts.extend([1, bytes.len() / 3, bytes.len() / 2]);
        for cut in cuts {
            let mut p = SessionFileParser::new(Provider::Gemini);
            p.feed(&bytes[..cut]);
            let saved = serde_json::to_string(&p).expect("serialize");
            let mut q: SessionFileParser = serde_json::from_str(&saved).expect("deserialize");
            // The held-back partial line is not persisted: resume from the offset.
            let off = q.offset() as usize;
            q.feed(&bytes[off..]);
            assert_eq!(q.session(), whole.session(), "{name} cut at {cut}");
            assert_eq!(q.stats.lines, whole.stats.lines, "{name} cut at {cut}");
        }
    }
}

#[test]
fn record_parser_resumed_from_serialized_state_equals_one_pass() {
    for (name, bytes) in all_bytes() {
        let lines: Vec<&[u8]> = bytes
            .split(|b| *b == b'\n')
            .filter(|l| !l.is_empty())
            .collect();
        let mut whole = GeminiParser::default();
        for l in &lines {
            whole.handle_line(l);
        }
        whole.flush();
        for cut in 0..=lines.len() {
            let mut p = GeminiParser::default();
            for l in &lines[..cut] {
                p.handle_line(l);
            }
            p.flush();
            let mut p: GeminiParser =
                serde_json::from_str(&serde_json::to_string(&p).expect("ser")).expect("de");
            for l in &lines[cut..] {
                p.handle_line(l);
                p.flush();
            }
            p.flush();
            assert_eq!(p.session(), whole.session(), "{name} cut {cut}");
        }
    }
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn random_chunking_equals_one_pass(file in 0usize..64, cuts in proptest::collection::vec(0usize..20_000, 0..12)) {
        let files = all_bytes();
        let (name, bytes) = &files[file % files.len()];
        let whole = parse(bytes);
        let mut cuts: Vec<usize> = cuts.into_iter().map(|c| c % (bytes.len() + 1)).collect();
        cuts.sort_unstable();
        let mut p = SessionFileParser::new(Provider::Gemini);
        let mut at = 0;
        for c in cuts.into_iter().chain([bytes.len()]) {
            p.feed(&bytes[at..c]);
            at = c;
        }
        prop_assert_eq!(p.session(), whole.session(), "{}", name);
        prop_assert_eq!(p.stats, whole.stats);
    }

    #[test]
    fn garbage_never_panics(data in proptest::collection::vec(any::<u8>(), 0..400)) {
        let mut p = SessionFileParser::new(Provider::Gemini);
        p.feed(&data);
        p.feed(b"\n");
        p.parse_whole_json(&data);
    }

    #[test]
    fn mutated_lines_never_panic(file in 0usize..64, pos in 0usize..20_000, byte in any::<u8>(), del in 0usize..40) {
        let files = all_bytes();
        let (_, bytes) = &files[file % files.len()];
        let mut b = bytes.clone();
        let at = pos % b.len();
        b[at] = byte;
        let end = (at + del).min(b.len());
        b.drain(at..end);
        let mut p = SessionFileParser::new(Provider::Gemini);
        p.feed(&b);
        let _ = p.session().tokens();
    }
}
