//! Claude Code session-file parser: real files from the CLI (tests/data/claude) checked
//! against an independent reading of the raw JSON, plus synthetic edge cases.

use aimux_core::parsers::SessionFileParser;
use aimux_core::{ParseStats, ParsedSession, Provider, TokenUsage};
use proptest::prelude::*;
use serde_json::Value;
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

fn data_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/claude")
}

fn jsonl_files(dir: &Path, out: &mut Vec<PathBuf>) {
    let mut entries: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("read test data dir")
        .map(|e| e.expect("dir entry").path())
        .collect();
    entries.sort();
    for p in entries {
        if p.is_dir() {
            jsonl_files(&p, out);
        } else if p.extension().is_some_and(|e| e == "jsonl") {
            out.push(p);
        }
    }
}

fn all_files() -> Vec<(String, Vec<u8>)> {
    let mut paths = Vec::new();
    jsonl_files(&data_dir(), &mut paths);
    paths
        .into_iter()
        .map(|p| {
            let name = p
                .strip_prefix(data_dir())
                .expect("under data dir")
                .to_string_lossy()
                .into_owned();
            (name, std::fs::read(&p).expect("read sample"))
        })
        .collect()
}

fn file(prefix: &str) -> Vec<u8> {
    all_files()
        .into_iter()
        .find(|(n, _)| n.starts_with(prefix))
        .map(|(_, b)| b)
        .unwrap_or_else(|| panic!("no sample {prefix}"))
}

fn parse(bytes: &[u8]) -> SessionFileParser {
    let mut p = SessionFileParser::new(Provider::Claude);
    p.feed(bytes);
    p
}

fn parse_lines(lines: &[&str]) -> SessionFileParser {
    let mut text = lines.join("\n");
    text.push('\n');
    parse(text.as_bytes())
}

// ------------------------------------------------------------------ independent oracle

/// What a file says, read with `serde_json::Value` and simple rules, per thread
/// (`""` = main, else the subagent key).
#[derive(Debug, Default)]
struct Thread {
    /// (uuid, prompt text) of every prompt.
    prompts: Vec<(String, String)>,
    /// Per message id: component-wise max of the usage seen on its lines.
    usage: HashMap<String, TokenUsage>,
    tool_ids: Vec<String>,
    /// Assistant text per turn (index = prompt index).
    outputs: Vec<String>,
    /// Assistant text seen before any prompt.
    early_output: String,
}

#[derive(Debug, Default)]
struct Oracle {
    threads: BTreeMap<String, Thread>,
    results: HashMap<String, bool>, // tool_use_id -> is_error
    session_id: Option<String>,
}

fn is_prompt(rec: &Value) -> Option<String> {
    if rec["isMeta"] == Value::Bool(true) || rec["isCompactSummary"] == Value::Bool(true) {
        return None;
    }
    let content = &rec["message"]["content"];
    let text = match content {
        Value::String(s) => s.clone(),
        Value::Array(blocks) => {
            if blocks.iter().any(|b| b["type"] == "tool_result") {
                return None;
            }
            blocks
                .iter()
                .filter(|b| b["type"] == "text")
                .filter_map(|b| b["text"].as_str())
                .collect::<Vec<_>>()
                .join("\n")
        }
        _ => return None,
    };
    let t = text.trim_start();
    let markers = [
        "[Request interrupted",
        "<local-command-stdout>",
        "<local-command-stderr>",
        "<local-command-caveat>",
    ];
    if t.is_empty() || markers.iter().any(|m| t.starts_with(m)) {
        return None;
    }
    Some(text)
}

fn oracle(bytes: &[u8]) -> Oracle {
    let mut o = Oracle::default();
    for line in bytes.split(|&b| b == b'\n') {
        let Ok(rec) = serde_json::from_slice::<Value>(line) else {
            continue;
        };
        if o.session_id.is_none() {
            o.session_id = rec["sessionId"].as_str().map(String::from);
        }
        let key = if rec["isSidechain"] == Value::Bool(true) {
            rec["agentId"]
                .as_str()
                .or(rec["sessionId"].as_str())
                .unwrap_or("sidechain")
                .to_string()
        } else {
            String::new()
        };
        match rec["type"].as_str() {
            Some("user") => {
                if let Some(blocks) = rec["message"]["content"].as_array() {
                    for b in blocks.iter().filter(|b| b["type"] == "tool_result") {
                        let id = b["tool_use_id"].as_str().unwrap_or_default().to_string();
                        o.results.insert(id, b["is_error"] == Value::Bool(true));
                    }
                }
                if let Some(text) = is_prompt(&rec) {
                    let th = o.threads.entry(key).or_default();
                    th.prompts
                        .push((rec["uuid"].as_str().unwrap_or_default().to_string(), text));
                    // A reply written before the first prompt belongs to that prompt.
                    th.outputs.push(std::mem::take(&mut th.early_output));
                }
            }
            Some("assistant") => {
                let msg = &rec["message"];
                if msg["model"] == "<synthetic>" {
                    continue;
                }
                let th = o.threads.entry(key).or_default();
                let u = &msg["usage"];
                let n = |k: &str| u[k].as_u64().unwrap_or(0);
                let entry = th
                    .usage
                    .entry(msg["id"].as_str().unwrap_or_default().to_string())
                    .or_default();
                entry.input = entry.input.max(n("input_tokens"));
                entry.output = entry.output.max(n("output_tokens"));
                entry.cache_read = entry.cache_read.max(n("cache_read_input_tokens"));
                entry.cache_write = entry.cache_write.max(n("cache_creation_input_tokens"));
                for b in msg["content"].as_array().into_iter().flatten() {
                    if b["type"] == "tool_use" {
                        th.tool_ids
                            .push(b["id"].as_str().unwrap_or_default().into());
                    }
                    if b["type"] == "text" {
                        let text = b["text"].as_str().unwrap_or_default();
                        let out = match th.outputs.last_mut() {
                            Some(out) => out,
                            None => &mut th.early_output,
                        };
                        if !out.is_empty() {
                            out.push_str("\n\n");
                        }
                        out.push_str(text);
                    }
                }
            }
            _ => {}
        }
    }
    o
}

fn sum(usage: &HashMap<String, TokenUsage>) -> TokenUsage {
    usage.values().fold(TokenUsage::default(), |a, b| a + *b)
}

fn check_against_oracle(name: &str, bytes: &[u8]) {
    let p = parse(bytes);
    let s = p.session();
    let o = oracle(bytes);
    assert_eq!(p.stats.malformed, 0, "{name}: malformed lines");
    assert_eq!(p.stats.unknown, 0, "{name}: unknown record types");
    assert_eq!(s.id, o.session_id, "{name}: session id");

    let empty = Thread::default();
    let main = o.threads.get("").unwrap_or(&empty);
    assert_eq!(s.turns.len(), main.prompts.len(), "{name}: main turns");
    let subs: Vec<(&String, &Thread)> = o.threads.iter().filter(|(k, _)| !k.is_empty()).collect();
    assert_eq!(s.subagents.len(), subs.len(), "{name}: subagents");

    let mut threads = vec![("main".to_string(), &s.turns, main)];
    for (key, th) in &subs {
        let sub = s
            .subagents
            .iter()
            .find(|x| &x.id == *key)
            .unwrap_or_else(|| panic!("{name}: subagent {key} missing"));
        threads.push((key.to_string(), &sub.turns, th));
    }
    for (label, turns, th) in threads {
        assert_eq!(turns.len(), th.prompts.len(), "{name}/{label}: turns");
        let tokens = turns
            .iter()
            .fold(TokenUsage::default(), |a, t| a + t.tokens);
        assert_eq!(tokens, sum(&th.usage), "{name}/{label}: tokens");
        let tools: Vec<&str> = turns
            .iter()
            .flat_map(|t| t.tools.iter().map(|c| c.id.as_str()))
            .collect();
        assert_eq!(tools, th.tool_ids, "{name}/{label}: tool ids");
        for (i, (turn, (uuid, text))) in turns.iter().zip(&th.prompts).enumerate() {
            assert_eq!(turn.number as usize, i + 1, "{name}/{label}: numbering");
            assert_eq!(&turn.id, uuid, "{name}/{label}: turn id");
            if !text.starts_with('<') {
                assert_eq!(&turn.user, text, "{name}/{label}: prompt");
            }
            assert_eq!(turn.output, th.outputs[i], "{name}/{label}: output");
            let split = turn
                .usage_by_model
                .iter()
                .fold(TokenUsage::default(), |a, m| a + m.tokens);
            assert_eq!(split, turn.tokens, "{name}/{label}: per-model split");
            assert!(turn.started_at.is_some(), "{name}/{label}: started_at");
            if !turn.tools.is_empty() || !turn.output.is_empty() {
                assert!(turn.ended_at >= turn.started_at, "{name}/{label}: ended_at");
            }
            for tool in &turn.tools {
                match o.results.get(&tool.id) {
                    Some(&err) => {
                        assert_eq!(tool.success, Some(!err), "{name}: {} success", tool.id);
                        assert!(tool.output.is_some(), "{name}: {} output", tool.id);
                        assert_eq!(tool.error.is_some(), err, "{name}: {} error", tool.id);
                        assert!(tool.ended_at >= tool.started_at);
                    }
                    None => assert_eq!(tool.success, None, "{name}: {} pending", tool.id),
                }
            }
        }
    }
    let pending: Vec<&String> = main
        .tool_ids
        .iter()
        .chain(subs.iter().flat_map(|(_, t)| t.tool_ids.iter()))
        .filter(|id| !o.results.contains_key(*id))
        .collect();
    assert_eq!(
        s.tail.pending_tools.iter().collect::<Vec<_>>(),
        pending,
        "{name}: pending"
    );
}

#[test]
fn every_sample_matches_an_independent_reading() {
    let files = all_files();
    assert!(
        files.len() >= 9,
        "expected the sample files, got {}",
        files.len()
    );
    for (name, bytes) in &files {
        check_against_oracle(name, bytes);
    }
}

// ------------------------------------------------------------------ real files, by hand

#[test]
fn one_shot_text_session() {
    let p = parse(&file("7c3aeee3"));
    let s = p.session();
    assert_eq!(
        s.id.as_deref(),
        Some("7c3aeee3-8cca-4ce7-a03f-23abe6f8e086")
    );
    assert_eq!(s.cwd.as_deref(), Some("/tmp/agent-e2e/proj"));
    assert_eq!(s.turns.len(), 1);
    let t = &s.turns[0];
    assert_eq!(t.user, "Say hello");
    assert_eq!(t.id, "bf272f15-eef9-43f0-813d-3bc06a448bb2");
    assert!(t.output.starts_with("Hello from the fake model server."));
    assert_eq!(t.model.as_deref(), Some("claude-opus-4-8"));
    assert_eq!(
        t.tokens,
        TokenUsage {
            input: 3,
            output: 22,
            cache_read: 0,
            cache_write: 19516
        }
    );
    assert!(s.tail.turn_complete);
    assert_eq!(s.tail.last_record.as_deref(), Some("assistant"));
    assert_eq!(
        s.started_at.map(|t| t.to_rfc3339()),
        Some("2026-11-27T10:59:55.052+00:00".into())
    );
    assert_eq!(
        s.last_activity.map(|t| t.to_rfc3339()),
        Some("2026-11-27T10:59:55.489+00:00".into())
    );
}

#[test]
fn interactive_tool_session_with_title() {
    let p = parse(&file("dd6514a3"));
    let s = p.session();
    assert_eq!(s.title.as_deref(), Some("Fake scripted session"));
    assert_eq!(s.turns.len(), 1);
    let t = &s.turns[0];
    // two API messages: (3, cw 22724, 47 out) on two lines, then (3, cw 11442, cr 11445, 84)
    assert_eq!(
        t.tokens,
        TokenUsage {
            input: 6,
            output: 131,
            cache_read: 11445,
            cache_write: 34166
        }
    );
    assert_eq!(t.tools.len(), 1);
    let tool = &t.tools[0];
    assert_eq!(tool.name, "Bash");
    assert_eq!(tool.success, Some(true));
    assert!(
        tool.output
            .as_deref()
            .is_some_and(|o| o.contains("README.md"))
    );
    let input: Value = serde_json::from_str(&tool.input).expect("tool input is JSON");
    assert_eq!(input["command"], "ls -la");
    assert_eq!(s.tail.last_action.as_deref(), Some("Bash: ls -la"));
    assert_eq!(s.tail.last_record.as_deref(), Some("turn_duration"));
    assert!(s.tail.turn_complete);
    assert!(s.tail.pending_tools.is_empty());
    assert_eq!(
        t.ended_at.map(|t| t.to_rfc3339()),
        Some("2026-11-27T11:00:19.255+00:00".into())
    );
}

#[test]
fn two_parallel_tool_calls_in_one_message() {
    let p = parse(&file("020dddc2"));
    let t = &p.session().turns[0];
    let cmds: Vec<String> = t
        .tools
        .iter()
        .map(|c| serde_json::from_str::<Value>(&c.input).expect("json")["command"].to_string())
        .collect();
    assert_eq!(cmds, vec!["\"echo one\"", "\"echo two\""]);
    assert_eq!(t.tools[0].output.as_deref(), Some("one"));
    assert_eq!(t.tools[1].output.as_deref(), Some("two"));
    // the shared message (three lines, 88 output tokens each) counted once + the final answer
    assert_eq!(t.tokens.output, 88 + 26);
}

#[test]
fn failed_bash_call() {
    let p = parse(&file("b981c521"));
    let s = p.session();
    let tool = &s.turns[0].tools[0];
    assert_eq!(tool.success, Some(false));
    assert!(
        tool.error
            .as_deref()
            .is_some_and(|e| e.starts_with("Exit code 2"))
    );
    assert_eq!(s.failed_tool_calls(), 1);
    assert!(
        s.tail
            .last_error
            .as_deref()
            .is_some_and(|e| e.starts_with("Bash: Exit code 2"))
    );
}

#[test]
fn subagent_file_yields_only_the_subagent() {
    let p = parse(&file(
        "75c26afd-043d-4eae-92e8-8aae6f993f90/subagents/agent-a99a3e308a9d8aff8",
    ));
    let s = p.session();
    assert!(s.turns.is_empty());
    assert_eq!(
        s.id.as_deref(),
        Some("75c26afd-043d-4eae-92e8-8aae6f993f90")
    );
    assert_eq!(s.subagents.len(), 1);
    let sub = &s.subagents[0];
    assert_eq!(sub.id, "a99a3e308a9d8aff8");
    assert_eq!(sub.turns.len(), 1);
    assert_eq!(sub.turns[0].user, "USE_TOOL please list the files");
    // first message: lines with output 1 then 47 -> 47; second message 84
    assert_eq!(
        sub.turns[0].tokens,
        TokenUsage {
            input: 6,
            output: 131,
            cache_read: 6091,
            cache_write: 11619 + 6089
        }
    );
    assert_eq!(s.tokens(), sub.turns[0].tokens);
    assert!(s.tail.turn_complete);

    let main = parse(&file("75c26afd-043d-4eae-92e8-8aae6f993f90.jsonl"));
    let m = main.session();
    assert!(m.subagents.is_empty());
    assert_eq!(m.turns[0].tools[0].name, "Agent");
    assert!(
        m.turns[0].tools[0]
            .output
            .as_deref()
            .is_some_and(|o| o.contains("agentId: a99a3e308a9d8aff8"))
    );
}

#[test]
fn resumed_session_has_three_turns() {
    let p = parse(&file("0d0721ed"));
    let s = p.session();
    let prompts: Vec<&str> = s.turns.iter().map(|t| t.user.as_str()).collect();
    assert_eq!(
        prompts,
        ["Say hello", "FAIL_TOOL now", "LONG_ANSWER please"]
    );
    assert_eq!(s.turns[1].failed_tool_calls(), 1);
    assert!(s.turns[2].output.contains("```python"));
    assert!(s.turns.iter().all(|t| t.tools.len() <= 1));
}

#[test]
fn interactive_interrupt_and_compact() {
    let p = parse(&file("fa0602cf"));
    let s = p.session();
    let prompts: Vec<&str> = s.turns.iter().map(|t| t.user.as_str()).collect();
    assert_eq!(
        prompts,
        [
            "USE_TOOL please list the files",
            "SLEEP_TOOL 30",
            "/compact",
            "Say hello after compact"
        ]
    );
    let rejected = &s.turns[1].tools[0];
    assert_eq!(rejected.success, Some(false));
    assert!(
        rejected
            .error
            .as_deref()
            .is_some_and(|e| e.contains("doesn't want to proceed"))
    );
    assert_eq!(s.turns[2].tokens, TokenUsage::default());
    assert_eq!(s.turns[3].tokens.output, 80);
    assert!(s.tail.turn_complete);
    assert_eq!(s.tail.last_record.as_deref(), Some("turn_duration"));
    // a new prompt clears the error of the interrupted call
    assert_eq!(s.tail.last_error, None);
}

// ------------------------------------------------------------------ synthetic cases

const SID: &str = "s-1";

fn user(uuid: &str, text: &str) -> String {
    serde_json::json!({"type":"user","uuid":uuid,"sessionId":SID,"cwd":"/p","isSidechain":false,
        "timestamp":"2026-01-01T00:00:00Z","message":{"role":"user","content":text}})
    .to_string()
}

fn assistant(msg_id: &str, content: Value, out: u64, stop: Option<&str>) -> String {
    serde_json::json!({"type":"assistant","uuid":format!("a-{msg_id}-{out}"),"sessionId":SID,
        "isSidechain":false,"timestamp":"2026-01-01T00:00:01Z",
        "message":{"id":msg_id,"model":"claude-x","role":"assistant","content":content,
            "stop_reason":stop,"usage":{"input_tokens":10,"output_tokens":out,
            "cache_read_input_tokens":100,"cache_creation_input_tokens":5}}})
    .to_string()
}

fn result(id: &str, content: Value, is_error: bool) -> String {
    serde_json::json!({"type":"user","uuid":format!("r-{id}"),"sessionId":SID,"isSidechain":false,
        "timestamp":"2026-01-01T00:00:02Z","message":{"role":"user","content":[
            {"type":"tool_result","tool_use_id":id,"content":content,"is_error":is_error}]}})
    .to_string()
}

fn text(t: &str) -> Value {
    serde_json::json!([{"type":"text","text":t}])
}

#[test]
fn duplicate_message_id_counted_once() {
    let p = parse_lines(&[
        &user("u1", "hi"),
        &assistant("m1", text("a"), 7, None),
        &assistant("m1", text("b"), 7, Some("end_turn")),
        &assistant("m1", text("c"), 7, Some("end_turn")),
    ]);
    let t = &p.session().turns[0];
    assert_eq!(
        t.tokens,
        TokenUsage {
            input: 10,
            output: 7,
            cache_read: 100,
            cache_write: 5
        }
    );
    assert_eq!(t.output, "a\n\nb\n\nc");
}

#[test]
fn growing_usage_counts_only_the_increase() {
    let p = parse_lines(&[
        &user("u1", "hi"),
        &assistant("m1", text("a"), 1, None),
        &assistant("m1", text("b"), 40, Some("tool_use")),
        &assistant("m1", text("c"), 30, Some("tool_use")), // smaller: nothing more
        &assistant("m2", text("d"), 5, Some("end_turn")),
    ]);
    let t = &p.session().turns[0];
    assert_eq!(t.tokens.output, 45);
    assert_eq!(t.tokens.input, 20);
    assert_eq!(t.usage_by_model.len(), 1);
    assert_eq!(t.usage_by_model[0].model, "claude-x");
}

#[test]
fn several_tool_uses_in_one_line_and_results_in_one_record() {
    let tools = serde_json::json!([
        {"type":"text","text":"running"},
        {"type":"tool_use","id":"t1","name":"Bash","input":{"command":"make"}},
        {"type":"tool_use","id":"t2","name":"Read","input":{"file_path":"/a/b.rs"}}
    ]);
    let results = serde_json::json!({"type":"user","uuid":"r","sessionId":SID,
        "timestamp":"2026-01-01T00:00:03Z","message":{"role":"user","content":[
        {"type":"tool_result","tool_use_id":"t2","content":[{"type":"text","text":"fn main"},{"type":"image","source":{"data":"AAAA"}}]},
        {"type":"tool_result","tool_use_id":"t1","content":"ok","is_error":false}]}})
    .to_string();
    let p = parse_lines(&[
        &user("u1", "go"),
        &assistant("m1", tools, 9, Some("tool_use")),
    ]);
    let s = p.session();
    assert_eq!(s.tail.pending_tools, ["t1", "t2"]);
    assert_eq!(s.tail.last_action.as_deref(), Some("Read: /a/b.rs"));
    assert_eq!(s.tail.last_record.as_deref(), Some("tool_use"));
    assert!(!s.tail.turn_complete);

    let p = parse_lines(&[
        &user("u1", "go"),
        &assistant(
            "m1",
            serde_json::json!([
            {"type":"tool_use","id":"t1","name":"Bash","input":{"command":"make"}},
            {"type":"tool_use","id":"t2","name":"Read","input":{"file_path":"/a/b.rs"}}]),
            9,
            Some("tool_use"),
        ),
        &results,
    ]);
    let s = p.session();
    let t = &s.turns[0];
    assert_eq!(t.tools.len(), 2);
    assert_eq!(t.tools[0].output.as_deref(), Some("ok"));
    assert_eq!(t.tools[1].output.as_deref(), Some("fn main\n[image]"));
    assert!(t.tools.iter().all(|c| c.success == Some(true)));
    assert!(s.tail.pending_tools.is_empty());
    assert_eq!(s.tail.last_record.as_deref(), Some("tool_result"));
}

#[test]
fn is_error_result_and_unknown_result_id() {
    let p = parse_lines(&[
        &user("u1", "go"),
        &assistant(
            "m1",
            serde_json::json!([{"type":"tool_use","id":"t1","name":"Bash","input":{"command":"false"}}]),
            3,
            Some("tool_use"),
        ),
        &result("nope", serde_json::json!("stray"), true),
        &result(
            "t1",
            serde_json::json!([{"type":"text","text":"Exit code 1"}]),
            true,
        ),
        &result("t1", serde_json::json!("again"), false), // second answer: ignored
    ]);
    let s = p.session();
    assert_eq!(p.stats.malformed + p.stats.unknown, 0);
    let tool = &s.turns[0].tools[0];
    assert_eq!(tool.success, Some(false));
    assert_eq!(tool.error.as_deref(), Some("Exit code 1"));
    assert_eq!(tool.output.as_deref(), Some("Exit code 1"));
    assert_eq!(s.turns.len(), 1, "tool results never open turns");
    assert_eq!(s.tool_calls(), 1);
    assert_eq!(s.tail.last_error.as_deref(), Some("Bash: Exit code 1"));
}

#[test]
fn sidechain_records_are_kept_apart() {
    let side = |uuid: &str, agent: Option<&str>, body: Value| {
        let mut v = serde_json::json!({"uuid":uuid,"sessionId":SID,"isSidechain":true,
            "timestamp":"2026-01-01T00:00:05Z"});
        if let Some(a) = agent {
            v["agentId"] = a.into();
        }
        for (k, val) in body.as_object().expect("object") {
            v[k] = val.clone();
        }
        v.to_string()
    };
    let p = parse_lines(&[
        &user("u1", "main prompt"),
        &assistant(
            "m1",
            serde_json::json!([{"type":"tool_use","id":"task","name":"Task","input":{"description":"look"}}]),
            4,
            Some("tool_use"),
        ),
        &side(
            "s1",
            Some("ag1"),
            serde_json::json!({"type":"user","message":{"role":"user","content":"sub prompt"}}),
        ),
        &side(
            "s2",
            Some("ag1"),
            serde_json::json!({"type":"assistant","message":{"id":"sm1","model":"claude-y",
            "content":[{"type":"text","text":"sub answer"}],"stop_reason":"end_turn",
            "usage":{"input_tokens":1,"output_tokens":2}}}),
        ),
        &side(
            "s3",
            None,
            serde_json::json!({"type":"user","message":{"role":"user","content":[{"type":"text","text":"old style"}]}}),
        ),
        &side(
            "s4",
            None,
            serde_json::json!({"type":"assistant","message":{"id":"sm2","model":"claude-y",
            "content":[{"type":"text","text":"x"}],"usage":{"output_tokens":3}}}),
        ),
    ]);
    let s = p.session();
    assert_eq!(s.turns.len(), 1);
    assert_eq!(s.turns[0].output, "");
    assert_eq!(s.turns[0].tokens.output, 4);
    let ids: Vec<&str> = s.subagents.iter().map(|a| a.id.as_str()).collect();
    assert_eq!(ids, ["ag1", SID]);
    assert_eq!(s.subagents[0].turns[0].user, "sub prompt");
    assert_eq!(s.subagents[0].turns[0].output, "sub answer");
    assert_eq!(s.subagents[0].turns[0].id, "s1");
    assert_eq!(s.subagents[1].turns[0].tokens.output, 3);
    assert_eq!(s.tokens().output, 4 + 2 + 3);
    // the subagent finishing does not finish the main turn
    assert!(!s.tail.turn_complete);
    assert_eq!(s.tail.pending_tools, ["task"]);
}

#[test]
fn junk_is_counted_never_fatal() {
    let input = format!(
        "{}\nnot json\n\u{1}\u{2}\u{3}\n[1,2]\n{{\"no\":\"type\"}}\n{{\"type\":\"brand-new\",\"x\":1}}\n{{\"type\":\"user\"}}\n{{\"type\":\"assistant\",\"message\":{{\"content\":[{{\"type\":\"text\"",
        user("u1", "hi")
    );
    let mut bytes = input.into_bytes();
    bytes.extend_from_slice(b"\n\xff\xfe{\"type\":\"user\"\n");
    bytes.extend_from_slice(b"{\"type\":\"assistant\",\"message\":{\"id\":\"m\"}"); // no newline yet
    let p = parse(&bytes);
    assert_eq!(
        p.stats,
        ParseStats {
            lines: 9,
            malformed: 7,
            unknown: 1
        }
    );
    assert_eq!(p.session().turns.len(), 1);
    assert!(p.pending_bytes() > 0, "unfinished last line held back");
}

#[test]
fn synthetic_messages_are_not_counted() {
    let synthetic = serde_json::json!({"type":"assistant","uuid":"x","sessionId":SID,
        "timestamp":"2026-01-01T00:00:09Z","isApiErrorMessage":true,
        "message":{"id":"syn","model":"<synthetic>","content":[{"type":"text","text":"API Error: 529 overloaded"}],
            "stop_reason":"stop_sequence","usage":{"input_tokens":0,"output_tokens":0}}})
    .to_string();
    let p = parse_lines(&[&user("u1", "hi"), &synthetic]);
    let s = p.session();
    assert_eq!(s.turns[0].tokens, TokenUsage::default());
    assert!(s.turns[0].usage_by_model.is_empty());
    assert_eq!(s.turns[0].output, "");
    assert_eq!(s.main_model(), None);
    assert_eq!(
        s.tail.last_error.as_deref(),
        Some("API Error: 529 overloaded")
    );
    assert!(s.tail.turn_complete);
}

#[test]
fn title_prefers_custom_then_ai_then_summary() {
    let p = parse_lines(&[
        r#"{"type":"summary","summary":"Old summary","leafUuid":"x"}"#,
        r#"{"type":"ai-title","aiTitle":"AI title","sessionId":"s"}"#,
        r#"{"type":"summary","summary":"Later summary","leafUuid":"y"}"#,
    ]);
    assert_eq!(p.session().title.as_deref(), Some("AI title"));
    let p = parse_lines(&[
        r#"{"type":"custom-title","customTitle":"Mine","sessionId":"s"}"#,
        r#"{"type":"ai-title","aiTitle":"AI title","sessionId":"s"}"#,
    ]);
    assert_eq!(p.session().title.as_deref(), Some("Mine"));
}

#[test]
fn meta_and_marker_records_do_not_open_turns() {
    let meta = serde_json::json!({"type":"user","uuid":"m","isMeta":true,"sessionId":SID,
        "message":{"role":"user","content":"<local-command-caveat>Caveat</local-command-caveat>"}})
    .to_string();
    let p = parse_lines(&[
        &user("u1", "first"),
        &meta,
        &user("u2", "<local-command-stdout>done</local-command-stdout>"),
        &user("u3", "[Request interrupted by user]"),
        &user(
            "u4",
            "<command-name>/model</command-name>\n<command-message>model</command-message>\n<command-args>sonnet</command-args>",
        ),
    ]);
    let s = p.session();
    let prompts: Vec<&str> = s.turns.iter().map(|t| t.user.as_str()).collect();
    assert_eq!(prompts, ["first", "/model sonnet"]);
    assert_eq!(s.turns[1].id, "u4");
}

#[test]
fn reply_without_prompt_keeps_its_spend() {
    let p = parse_lines(&[&assistant("m1", text("orphan"), 5, Some("end_turn"))]);
    let s = p.session();
    assert_eq!(s.turns.len(), 1);
    assert_eq!(s.turns[0].user, "");
    assert_eq!(s.turns[0].tokens.output, 5);
}

// ------------------------------------------------------------------ incremental feeding

fn concat_samples() -> Vec<(String, Vec<u8>)> {
    all_files()
}

fn assert_same(a: &SessionFileParser, b: &SessionFileParser) -> Result<(), TestCaseError> {
    prop_assert_eq!(a.session(), b.session());
    prop_assert_eq!(a.stats, b.stats);
    prop_assert_eq!(a.offset(), b.offset());
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn random_chunking_gives_identical_results(file_idx in 0usize..64,
                                               cuts in proptest::collection::vec(0usize..40_000, 0..24)) {
        let files = concat_samples();
        let (_, bytes) = &files[file_idx % files.len()];
        // junk in the middle too
        let mut data = bytes.clone();
        data.extend_from_slice(b"garbage\n{\"type\":\"weird\"}\n");
        data.extend_from_slice(bytes);
        let whole = parse(&data);
        let mut cuts: Vec<usize> = cuts.into_iter().map(|c| c % (data.len() + 1)).collect();
        cuts.sort_unstable();
        let mut chunked = SessionFileParser::new(Provider::Claude);
        let mut start = 0;
        for c in cuts.into_iter().chain(std::iter::once(data.len())) {
            chunked.feed(&data[start..c]);
            start = c;
        }
        assert_same(&whole, &chunked)?;
    }

    #[test]
    fn persist_and_resume_mid_file(file_idx in 0usize..64, cut in 0usize..40_000) {
        let files = concat_samples();
        let (_, bytes) = &files[file_idx % files.len()];
        let cut = cut % (bytes.len() + 1);
        let whole = parse(bytes);

        let mut first = SessionFileParser::new(Provider::Claude);
        first.feed(&bytes[..cut]);
        let saved = serde_json::to_string(&first).expect("serialize");
        let mut resumed: SessionFileParser = serde_json::from_str(&saved).expect("deserialize");
        // the engine re-reads from the last complete line
        let offset = usize::try_from(resumed.offset()).expect("offset");
        resumed.feed(&bytes[offset..]);
        assert_same(&whole, &resumed)?;
    }
}

#[test]
fn resume_at_every_line_boundary() {
    for (name, bytes) in all_files() {
        let whole = parse(&bytes);
        let boundaries = bytes
            .iter()
            .enumerate()
            .filter(|(_, b)| **b == b'\n')
            .map(|(i, _)| i + 1);
        for cut in boundaries {
            let first = parse(&bytes[..cut]);
            let saved = serde_json::to_vec(&first).expect("serialize");
            let mut resumed: SessionFileParser =
                serde_json::from_slice(&saved).expect("deserialize");
            resumed.feed(&bytes[cut..]);
            assert_eq!(resumed.session(), whole.session(), "{name} cut at {cut}");
            assert_eq!(resumed.stats, whole.stats, "{name} cut at {cut}");
        }
    }
}

#[test]
fn session_is_consistent_after_every_line() {
    // Status is read between batches: no line may leave the session in a state that a
    // later line "repairs" in a way one pass would not.
    let bytes = file("fa0602cf");
    let mut p = SessionFileParser::new(Provider::Claude);
    let mut last: Option<ParsedSession> = None;
    for line in bytes.split_inclusive(|&b| b == b'\n') {
        p.feed(line);
        let s = p.session().clone();
        if let Some(prev) = &last {
            assert!(s.turns.len() >= prev.turns.len());
            assert!(s.tokens().total() >= prev.tokens().total());
        }
        last = Some(s);
    }
}

#[test]
fn tail_after_an_interrupt_and_while_a_tool_runs() {
    let bytes = file("fa0602cf");
    let lines: Vec<&[u8]> = bytes.split_inclusive(|&b| b == b'\n').collect();
    let upto = |needle: &str| -> SessionFileParser {
        let idx = lines
            .iter()
            .position(|l| String::from_utf8_lossy(l).contains(needle))
            .unwrap_or_else(|| panic!("no line with {needle}"));
        parse(&lines[..=idx].concat())
    };
    // the sleep call issued, no result yet: busy
    let p = upto(
        "\"command\": \"sleep 30; echo slept 30\""
            .replace(": ", ":")
            .as_str(),
    );
    let t = &p.session().tail;
    assert_eq!(t.last_record.as_deref(), Some("tool_use"));
    assert_eq!(
        t.last_action.as_deref(),
        Some("Bash: sleep 30; echo slept 30")
    );
    assert_eq!(t.pending_tools.len(), 1);
    assert!(!t.turn_complete);
    // Esc: rejected result, then the interrupt marker
    let p = upto("[Request interrupted by user for tool use]");
    let t = &p.session().tail;
    assert_eq!(t.last_record.as_deref(), Some("interrupted"));
    assert!(t.turn_complete);
    assert!(t.pending_tools.is_empty());
    assert_eq!(t.last_error, None);
    assert_eq!(p.session().turns.len(), 2);
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn mutated_lines_never_panic(file_idx in 0usize..64, line_idx in 0usize..64,
                                 edits in proptest::collection::vec((0usize..100_000, any::<u8>()), 0..8),
                                 cut in proptest::option::of(0usize..100_000)) {
        let files = all_files();
        let (_, bytes) = &files[file_idx % files.len()];
        let lines: Vec<&[u8]> = bytes.split(|&b| b == b'\n').filter(|l| !l.is_empty()).collect();
        let mut line = lines[line_idx % lines.len()].to_vec();
        for (pos, byte) in edits {
            let len = line.len();
            if len > 0 && byte != b'\n' {
                line[pos % len] = byte;
            }
        }
        if let Some(c) = cut {
            line.truncate(c % (line.len() + 1));
        }
        let mut data = bytes.clone();
        data.extend_from_slice(&line);
        data.push(b'\n');
        let p = parse(&data);
        let before = parse(bytes);
        prop_assert_eq!(p.stats.lines, before.stats.lines + u64::from(line.iter().any(|b| !b.is_ascii_whitespace())));
    }
}

#[test]
fn a_tool_use_line_written_twice_is_one_call() {
    let call = assistant(
        "m1",
        serde_json::json!([{"type":"tool_use","id":"t1","name":"Bash","input":{"command":"ls"}}]),
        3,
        Some("tool_use"),
    );
    let p = parse_lines(&[
        &user("u1", "go"),
        &call,
        &result("t1", serde_json::json!("ok"), false),
        &call,
    ]);
    let s = p.session();
    assert_eq!(s.tool_calls(), 1);
    assert!(s.tail.pending_tools.is_empty());
    assert_eq!(s.turns[0].tokens.output, 3);
}

/// Real claude-code 2.1.197 interactive output where the answer's first lines were
/// written before the prompt record: the prompt still opens the turn that holds them.
#[test]
fn reply_written_before_its_prompt_stays_in_the_prompts_turn() {
    let bytes = file("reply-before-prompt");
    let prompts: Vec<String> = bytes
        .split(|b| *b == b'\n')
        .filter_map(|l| serde_json::from_slice::<serde_json::Value>(l).ok())
        .filter(|r| r["type"] == "user" && r["message"]["content"].is_string())
        .map(|r| {
            r["message"]["content"]
                .as_str()
                .unwrap_or_default()
                .to_string()
        })
        .collect();
    let first_is_reply = bytes
        .split(|b| *b == b'\n')
        .filter_map(|l| serde_json::from_slice::<serde_json::Value>(l).ok())
        .find(|r| r["type"] == "user" || r["type"] == "assistant")
        .is_some_and(|r| r["type"] == "assistant");
    assert!(first_is_reply, "the sample starts with the reply");
    let p = parse(&bytes);
    let turns = &p.session().turns;
    assert_eq!(turns.len(), prompts.len());
    for (turn, prompt) in turns.iter().zip(&prompts) {
        assert_eq!(&turn.user, prompt);
    }
    assert_eq!(
        turns[0].tools.len(),
        1,
        "the early reply's tool call is in turn 1"
    );
    assert!(!turns[0].tokens.is_zero());
}
