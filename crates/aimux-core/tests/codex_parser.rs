//! Codex rollout parser: real files written by codex-cli 0.171.0 (tests/data/codex) checked
//! against an independent reading of the raw JSON, plus synthetic edge cases.
//!
//! Sample files (all against the harness's fake model server):
//! * `exec_text`, `exec_tool`, `tui_tool`: the shared samples (`codex exec`, TUI).
//! * `exec_resume_five_turns`: `codex exec "FAIL_TOOL …"` then four `codex exec resume`
//!   (TWO_TOOLS, text, FAIL_EXIT_TOOL, LONG_ANSWER), all appended to one rollout.
//! * `tui_abort_steer`: TUI; `SLEEP_TOOL 30` interrupted with Esc, a tool turn, a text turn,
//!   then `SLEEP_TOOL 6` with a second message typed while it ran.
//! * `tui_fork_compact`: `codex fork` of the previous session, a turn, `/compact`, a failing
//!   tool turn. Its token counter continues from the parent's total.
//! * `exec_hung_no_network`: the model endpoint refused connections; Codex kept retrying.
//! * `exec_http_400`: the model endpoint answered 400.

use aimux_core::parsers::SessionFileParser;
use aimux_core::{ParsedSession, Provider, TokenUsage};
use proptest::prelude::*;
use serde_json::{Value, json};
use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};

fn data_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/codex")
}

fn all_files() -> Vec<(String, Vec<u8>)> {
    let mut paths: Vec<PathBuf> = std::fs::read_dir(data_dir())
        .expect("read test data dir")
        .map(|e| e.expect("dir entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "jsonl"))
        .collect();
    paths.sort();
    paths
        .into_iter()
        .map(|p| {
            let name = p
                .file_name()
                .expect("file name")
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
    let mut p = SessionFileParser::new(Provider::Codex);
    p.feed(bytes);
    p
}

fn parse_lines(lines: &[String]) -> SessionFileParser {
    let mut text = lines.join("\n");
    text.push('\n');
    parse(text.as_bytes())
}

// ------------------------------------------------------------------ independent oracle

/// OpenAI usage object → aimux convention (uncached input, cached, cache write, output).
fn norm(u: &Value) -> TokenUsage {
    let n = |k: &str| u[k].as_u64().unwrap_or(0);
    TokenUsage {
        input: n("input_tokens") - n("cached_input_tokens") - n("cache_write_input_tokens"),
        output: n("output_tokens"),
        cache_read: n("cached_input_tokens"),
        cache_write: n("cache_write_input_tokens"),
    }
}

fn sub(a: TokenUsage, b: TokenUsage) -> TokenUsage {
    TokenUsage {
        input: a.input - b.input,
        output: a.output - b.output,
        cache_read: a.cache_read - b.cache_read,
        cache_write: a.cache_write - b.cache_write,
    }
}

#[derive(Debug, Default)]
struct Oracle {
    session_id: Option<String>,
    cwd: Option<String>,
    /// Turn ids in order of first `task_started`.
    turns: Vec<String>,
    /// Prompt texts (UserMessage items) per turn id.
    prompts: HashMap<String, Vec<String>>,
    /// Model of each turn's `turn_context`.
    models: HashMap<String, String>,
    /// function_call ids in file order, with the turn id they carry.
    calls: Vec<(String, String)>,
    /// call id → output text of its function_call_output.
    outputs: HashMap<String, String>,
    /// call id → exit_code of its CommandExecution item (first one seen).
    exit_codes: HashMap<String, i64>,
    /// Tokens from `token_usage_record` (one per model response), per turn id.
    usage_records: BTreeMap<String, TokenUsage>,
    /// First and last `token_count` info objects.
    first_count: Option<Value>,
    last_count: Option<Value>,
    last_event: Option<String>,
}

fn oracle(bytes: &[u8]) -> Oracle {
    let mut o = Oracle::default();
    let mut seen_responses = Vec::new();
    for line in bytes.split(|&b| b == b'\n') {
        let Ok(rec) = serde_json::from_slice::<Value>(line) else {
            continue;
        };
        let p = &rec["payload"];
        let s = |v: &Value| v.as_str().unwrap_or_default().to_string();
        match rec["type"].as_str() {
            Some("session_meta") => {
                o.session_id = p["id"].as_str().map(String::from);
                o.cwd = p["cwd"].as_str().map(String::from);
            }
            Some("turn_context") => {
                o.models.insert(s(&p["turn_id"]), s(&p["model"]));
            }
            Some("token_usage_record") => {
                let rid = s(&p["response_id"]);
                if !seen_responses.contains(&rid) {
                    seen_responses.push(rid);
                    *o.usage_records.entry(s(&p["turn_id"])).or_default() += norm(&p["usage"]);
                }
            }
            Some("event_msg") => {
                o.last_event = p["type"].as_str().map(String::from);
                match p["type"].as_str() {
                    Some("task_started") => {
                        let id = s(&p["turn_id"]);
                        if !o.turns.contains(&id) {
                            o.turns.push(id);
                        }
                    }
                    Some("token_count") if !p["info"].is_null() => {
                        if o.first_count.is_none() {
                            o.first_count = Some(p["info"].clone());
                        }
                        o.last_count = Some(p["info"].clone());
                    }
                    Some("item_completed") => {
                        let item = &p["item"];
                        match item["type"].as_str() {
                            Some("UserMessage") => {
                                let text: Vec<&str> = item["content"]
                                    .as_array()
                                    .into_iter()
                                    .flatten()
                                    .filter_map(|c| c["text"].as_str())
                                    .collect();
                                o.prompts
                                    .entry(s(&p["turn_id"]))
                                    .or_default()
                                    .push(text.join("\n"));
                            }
                            Some("CommandExecution") => {
                                if let Some(code) = item["exit_code"].as_i64() {
                                    o.exit_codes.entry(s(&item["id"])).or_insert(code);
                                }
                            }
                            _ => {}
                        }
                    }
                    _ => {}
                }
            }
            Some("response_item") => match p["type"].as_str() {
                Some("function_call") => o.calls.push((
                    s(&p["call_id"]),
                    s(&p["internal_chat_message_metadata_passthrough"]["turn_id"]),
                )),
                Some("function_call_output") => {
                    o.outputs.insert(s(&p["call_id"]), s(&p["output"]));
                }
                _ => {}
            },
            _ => {}
        }
    }
    o
}

impl Oracle {
    /// Spend recorded in this file: growth of the cumulative counter from the state before
    /// the file's first request (first total minus that request's own usage).
    fn token_count_spend(&self) -> TokenUsage {
        match (&self.first_count, &self.last_count) {
            (Some(first), Some(last)) => {
                let before = sub(
                    norm(&first["total_token_usage"]),
                    norm(&first["last_token_usage"]),
                );
                sub(norm(&last["total_token_usage"]), before)
            }
            _ => TokenUsage::default(),
        }
    }

    /// What a call's result says: a CommandExecution exit code first, else the
    /// `Process exited with code N` line, else an interruption.
    fn expected_success(&self, call_id: &str) -> Option<bool> {
        let out = self.outputs.get(call_id)?;
        if out.contains("\naborted by user") {
            return Some(false);
        }
        if let Some(code) = self.exit_codes.get(call_id) {
            return Some(*code == 0);
        }
        let code = out
            .lines()
            .find_map(|l| l.strip_prefix("Process exited with code "))
            .map(|c| c.trim().parse::<i64>().expect("exit code"));
        Some(code.is_none_or(|c| c == 0))
    }
}

fn check_against_oracle(name: &str, bytes: &[u8]) {
    let p = parse(bytes);
    let s = p.session();
    let o = oracle(bytes);
    assert_eq!(p.stats.malformed, 0, "{name}: malformed lines");
    assert_eq!(p.stats.unknown, 0, "{name}: unknown record types");
    assert_eq!(s.id, o.session_id, "{name}: session id");
    assert_eq!(s.cwd, o.cwd, "{name}: cwd");
    assert_eq!(s.title, None, "{name}: title is the engine's job");

    let ids: Vec<&str> = s.turns.iter().map(|t| t.id.as_str()).collect();
    assert_eq!(ids, o.turns, "{name}: turn ids");
    for (i, turn) in s.turns.iter().enumerate() {
        assert_eq!(turn.number as usize, i + 1, "{name}: numbering");
        let prompts = o.prompts.get(&turn.id).cloned().unwrap_or_default();
        assert_eq!(
            turn.user,
            prompts.join("\n\n"),
            "{name}: prompt of {}",
            turn.id
        );
        assert_eq!(
            turn.model.as_ref(),
            o.models.get(&turn.id),
            "{name}: model of {}",
            turn.id
        );
        let want = o.usage_records.get(&turn.id).copied().unwrap_or_default();
        assert_eq!(turn.tokens, want, "{name}: tokens of {}", turn.id);
        let split = turn
            .usage_by_model
            .iter()
            .fold(TokenUsage::default(), |a, m| a + m.tokens);
        assert_eq!(split, turn.tokens, "{name}: per-model split");
        assert!(turn.started_at.is_some(), "{name}: started_at");
    }

    // Two independent sources of the same spend must agree with the parser.
    let total = s.tokens();
    let records = o
        .usage_records
        .values()
        .fold(TokenUsage::default(), |a, b| a + *b);
    assert_eq!(total, records, "{name}: tokens vs token_usage_record");
    assert_eq!(
        total,
        o.token_count_spend(),
        "{name}: tokens vs token_count"
    );

    let calls: Vec<(&str, &str)> = s
        .turns
        .iter()
        .flat_map(|t| t.tools.iter().map(move |c| (c.id.as_str(), t.id.as_str())))
        .collect();
    let want: Vec<(&str, &str)> = o
        .calls
        .iter()
        .map(|(c, t)| (c.as_str(), t.as_str()))
        .collect();
    assert_eq!(calls, want, "{name}: tool calls and their turns");
    for tool in s.turns.iter().flat_map(|t| &t.tools) {
        let expected = o.expected_success(&tool.id);
        assert_eq!(tool.success, expected, "{name}: {} success", tool.id);
        assert_eq!(
            tool.error.is_some(),
            expected == Some(false),
            "{name}: {} error",
            tool.id
        );
        if expected.is_some() {
            assert!(tool.output.is_some(), "{name}: {} output", tool.id);
            assert!(
                tool.ended_at >= tool.started_at,
                "{name}: {} times",
                tool.id
            );
        }
    }
    let done = o.last_event.as_deref() == Some("task_complete")
        || o.last_event.as_deref() == Some("turn_aborted");
    assert_eq!(s.tail.turn_complete, done, "{name}: turn_complete");
    if done {
        assert!(s.tail.pending_tools.is_empty(), "{name}: pending");
    }
    assert!(s.started_at <= s.last_activity, "{name}: times");
}

#[test]
fn every_sample_matches_an_independent_reading() {
    let files = all_files();
    assert!(
        files.len() >= 8,
        "expected the samples, got {}",
        files.len()
    );
    for (name, bytes) in &files {
        check_against_oracle(name, bytes);
    }
}

// ------------------------------------------------------------------ real files, by hand

const FAKE_TEXT: &str =
    "Hello from the fake model server. This is a scripted reply; no real model was consulted.";

#[test]
fn exec_text_session() {
    let p = parse(&file("exec_text"));
    let s = p.session();
    assert_eq!(s.turns.len(), 1);
    let t = &s.turns[0];
    assert_eq!(t.user, "Say hello");
    assert_eq!(t.output, FAKE_TEXT);
    assert!(t.tools.is_empty());
    assert_eq!(t.model.as_deref(), Some("gpt-5-codex-fake"));
    assert!(t.ended_at.is_some());
    assert!(s.tail.turn_complete);
    assert_eq!(s.tail.last_record.as_deref(), Some("task_complete"));
    assert_eq!(s.main_model().as_deref(), Some("gpt-5-codex-fake"));
}

#[test]
fn exec_tool_session() {
    let p = parse(&file("exec_tool"));
    let s = p.session();
    assert_eq!(s.turns.len(), 1);
    let t = &s.turns[0];
    assert_eq!(t.user, "USE_TOOL: please list the files");
    assert_eq!(t.tools.len(), 1);
    let tool = &t.tools[0];
    assert_eq!(tool.name, "exec_command");
    assert!(tool.input.contains("ls -la"));
    assert_eq!(tool.success, Some(true));
    let out = tool.output.as_deref().expect("output");
    assert!(out.starts_with("total "), "header stripped: {out}");
    assert!(t.output.starts_with("The tool ran successfully"));
    assert_eq!(s.tail.last_action.as_deref(), Some("exec_command: ls -la"));
    assert_eq!(s.tool_calls(), 1);
    assert_eq!(s.failed_tool_calls(), 0);
}

#[test]
fn resumed_exec_session_has_five_turns_and_exit_codes() {
    let p = parse(&file("exec_resume_five_turns"));
    let s = p.session();
    let users: Vec<&str> = s.turns.iter().map(|t| t.user.as_str()).collect();
    assert_eq!(
        users,
        [
            "FAIL_TOOL please",
            "TWO_TOOLS now",
            "Say hello again",
            "FAIL_EXIT_TOOL go",
            "LONG_ANSWER please"
        ]
    );
    let status: Vec<Vec<Option<bool>>> = s
        .turns
        .iter()
        .map(|t| t.tools.iter().map(|c| c.success).collect())
        .collect();
    assert_eq!(
        status,
        vec![
            vec![Some(false)],
            vec![Some(true), Some(true)],
            vec![],
            vec![Some(false)],
            vec![]
        ]
    );
    let err = s.turns[0].tools[0].error.as_deref().expect("error");
    assert!(err.starts_with("exit 2: ls: cannot access"), "{err}");
    // The final answer quotes the failed output; it does not make anything fail.
    assert!(s.turns[0].output.contains("ran successfully"));
    assert_eq!(s.failed_tool_calls(), 2);
    assert!(s.turns[4].output.starts_with("## Fake long answer"));
    assert!(s.tail.turn_complete);
}

#[test]
fn interrupted_call_and_steering_message() {
    let p = parse(&file("tui_abort_steer"));
    let s = p.session();
    assert_eq!(s.turns.len(), 4);
    let aborted = &s.turns[0];
    assert_eq!(aborted.user, "SLEEP_TOOL 30");
    // The later CommandExecution (exit 0 of the background process) does not undo it.
    assert_eq!(aborted.tools[0].success, Some(false));
    assert_eq!(aborted.tools[0].error.as_deref(), Some("aborted by user"));
    assert!(aborted.ended_at.is_some());
    // The `<turn_aborted>` notice is model input, not a prompt.
    assert!(!s.turns.iter().any(|t| t.user.contains("turn_aborted")));
    let steered = &s.turns[3];
    assert_eq!(steered.user, "SLEEP_TOOL 6\n\nsteer message while busy");
    assert_eq!(steered.tools.len(), 1);
    assert_eq!(steered.tools[0].success, Some(true));
    assert_eq!(s.tail.last_record.as_deref(), Some("task_complete"));
    assert!(s.tail.turn_complete);
}

#[test]
fn fork_does_not_bill_the_parent_history_again() {
    let bytes = file("tui_fork_compact");
    let p = parse(&bytes);
    let s = p.session();
    assert_eq!(s.turns.len(), 3);
    assert_eq!(s.turns[0].user, "Say fork hi");
    // The compaction turn has no prompt but did spend tokens.
    assert_eq!(s.turns[1].user, "");
    assert!(!s.turns[1].tokens.is_zero());
    assert_eq!(s.turns[2].tools[0].success, Some(false));
    // The first token_count's total includes the parent's spend; only its last request is
    // this file's.
    let first: Value = bytes
        .split(|&b| b == b'\n')
        .filter_map(|l| serde_json::from_slice::<Value>(l).ok())
        .find(|r| r["payload"]["type"] == "token_count")
        .expect("token_count");
    let first_total = first["payload"]["info"]["total_token_usage"]["total_tokens"]
        .as_u64()
        .expect("total");
    let first_last = first["payload"]["info"]["last_token_usage"]["total_tokens"]
        .as_u64()
        .expect("last");
    assert!(first_total > first_last);
    assert_eq!(s.turns[0].tokens.total(), first_last);
}

#[test]
fn failed_request_sets_last_error() {
    let p = parse(&file("exec_http_400"));
    let s = p.session();
    assert_eq!(s.turns.len(), 1);
    assert_eq!(s.turns[0].user, "Say hello to error");
    assert!(s.turns[0].output.is_empty());
    assert!(s.tail.turn_complete);
    let err = s.tail.last_error.as_deref().expect("last_error");
    assert!(err.contains("fake bad request for testing"), "{err}");
}

#[test]
fn hung_turn_is_not_complete() {
    let p = parse(&file("exec_hung_no_network"));
    let s = p.session();
    assert_eq!(s.turns.len(), 1);
    assert!(!s.tail.turn_complete);
    assert_eq!(s.tail.last_record.as_deref(), Some("user"));
    assert!(s.tokens().is_zero());
}

// ------------------------------------------------------------------ synthetic records

fn rec(ts_ms: u64, ordinal: u64, kind: &str, payload: Value) -> String {
    let ts = format!("2026-01-01T00:00:{:02}.{:03}Z", ts_ms / 1000, ts_ms % 1000);
    json!({"timestamp": ts, "ordinal": ordinal, "type": kind, "payload": payload}).to_string()
}

fn ev(n: u64, payload: Value) -> String {
    rec(n * 10, n, "event_msg", payload)
}

fn item(n: u64, payload: Value) -> String {
    rec(n * 10, n, "response_item", payload)
}

fn usage(input: u64, cached: u64, output: u64) -> Value {
    json!({"input_tokens": input, "cached_input_tokens": cached, "cache_write_input_tokens": 0,
           "output_tokens": output, "reasoning_output_tokens": 0, "total_tokens": input + output})
}

fn count(n: u64, total: Value, last: Value) -> String {
    ev(
        n,
        json!({"type": "token_count", "info": {"total_token_usage": total, "last_token_usage": last},
               "rate_limits": null}),
    )
}

fn meta() -> String {
    rec(
        0,
        0,
        "session_meta",
        json!({"id": "sess-1", "cwd": "/w", "base_instructions": {"text": "x".repeat(5000)}}),
    )
}

fn start(n: u64, turn: &str) -> Vec<String> {
    vec![
        ev(n, json!({"type": "task_started", "turn_id": turn})),
        rec(
            n * 10,
            n,
            "turn_context",
            json!({"turn_id": turn, "model": "gpt-x", "cwd": "/w"}),
        ),
    ]
}

fn prompt(n: u64, turn: &str, text: &str) -> Vec<String> {
    vec![
        item(
            n,
            json!({"type": "message", "role": "user", "content": [{"type": "input_text", "text": text}],
                   "internal_chat_message_metadata_passthrough": {"turn_id": turn}}),
        ),
        ev(
            n,
            json!({"type": "item_completed", "turn_id": turn,
                   "item": {"type": "UserMessage", "id": "u", "content": [{"type": "text", "text": text}]}}),
        ),
    ]
}

fn call(n: u64, turn: &str, id: &str, cmd: &str) -> String {
    item(
        n,
        json!({"type": "function_call", "name": "exec_command", "call_id": id,
               "arguments": json!({"cmd": cmd}).to_string(),
               "internal_chat_message_metadata_passthrough": {"turn_id": turn}}),
    )
}

fn output(n: u64, id: &str, text: &str) -> String {
    item(
        n,
        json!({"type": "function_call_output", "call_id": id, "output": text}),
    )
}

fn complete(n: u64, turn: &str) -> String {
    ev(
        n,
        json!({"type": "task_complete", "turn_id": turn, "last_agent_message": "done"}),
    )
}

fn tok(input: u64, cached: u64, output: u64) -> TokenUsage {
    TokenUsage {
        input: input - cached,
        output,
        cache_read: cached,
        cache_write: 0,
    }
}

#[test]
fn cumulative_counts_are_split_into_per_turn_deltas() {
    let mut l = vec![meta()];
    l.extend(start(1, "t1"));
    l.extend(prompt(2, "t1", "first"));
    l.push(count(3, usage(100, 40, 10), usage(100, 40, 10)));
    l.push(count(4, usage(250, 140, 30), usage(150, 100, 20)));
    l.push(complete(5, "t1"));
    l.extend(start(6, "t2"));
    l.extend(prompt(7, "t2", "second"));
    l.push(count(8, usage(400, 240, 35), usage(150, 100, 5)));
    l.push(complete(9, "t2"));
    let p = parse_lines(&l);
    let s = p.session();
    assert_eq!(p.stats.malformed + p.stats.unknown, 0);
    assert_eq!(s.turns.len(), 2);
    assert_eq!(s.turns[0].tokens, tok(250, 140, 30));
    assert_eq!(s.turns[1].tokens, tok(150, 100, 5));
    assert_eq!(s.tokens(), tok(400, 240, 35));
    assert_eq!(s.turns[0].usage_by_model[0].model, "gpt-x");
    // The user-role response_item mirrors the prompt: one prompt, not two.
    assert_eq!(s.turns[0].user, "first");
    assert_eq!(s.id.as_deref(), Some("sess-1"));
}

#[test]
fn repeated_and_empty_token_counts_add_nothing() {
    let mut l = vec![meta()];
    l.extend(start(1, "t1"));
    l.extend(prompt(2, "t1", "hi"));
    l.push(ev(
        3,
        json!({"type": "token_count", "info": null, "rate_limits": {}}),
    ));
    l.push(count(4, usage(100, 0, 10), usage(100, 0, 10)));
    l.push(count(5, usage(100, 0, 10), usage(100, 0, 10)));
    l.push(count(6, usage(100, 0, 10), usage(100, 0, 10)));
    l.push(complete(7, "t1"));
    let p = parse_lines(&l);
    assert_eq!(p.session().tokens(), tok(100, 0, 10));
}

#[test]
fn counter_reset_charges_the_new_request_only() {
    let mut l = vec![meta()];
    l.extend(start(1, "t1"));
    l.extend(prompt(2, "t1", "hi"));
    l.push(count(3, usage(1000, 0, 50), usage(1000, 0, 50)));
    // Codex restarted its counter (not a repeat of an earlier record).
    l.push(count(4, usage(300, 100, 20), usage(300, 100, 20)));
    l.push(count(5, usage(500, 200, 30), usage(200, 100, 10)));
    l.push(complete(6, "t1"));
    let p = parse_lines(&l);
    assert_eq!(
        p.session().tokens(),
        tok(1000, 0, 50) + tok(300, 100, 20) + tok(200, 100, 10)
    );
}

#[test]
fn exit_status_decides_not_the_word_error() {
    let mut l = vec![meta()];
    l.extend(start(1, "t1"));
    l.extend(prompt(2, "t1", "run things"));
    // Succeeds although its output is full of the word "error".
    l.push(call(3, "t1", "c_ok", "grep -r error ."));
    l.push(output(
        4,
        "c_ok",
        "Chunk ID: 1\nWall time: 0.1 seconds\nProcess exited with code 0\nOutput:\nerror: this is fine\nERROR 42\n",
    ));
    // Fails with a bland output.
    l.push(call(5, "t1", "c_bad", "false"));
    l.push(output(
        6,
        "c_bad",
        "Chunk ID: 2\nWall time: 0.1 seconds\nProcess exited with code 1\nOutput:\nnothing to see\n",
    ));
    // shell_command's format.
    l.push(call(7, "t1", "c_sc", "make"));
    l.push(output(
        8,
        "c_sc",
        "Exit code: 2\nWall time: 1 seconds\nOutput:\nmake: *** No rule\n",
    ));
    // Legacy shell tool's JSON output.
    l.push(call(9, "t1", "c_js", "ls"));
    l.push(output(
        10,
        "c_js",
        r#"{"output":"Process exited with code 1 (quoted)\n","metadata":{"exit_code":0,"duration_seconds":0.1}}"#,
    ));
    // An exit code in the command's own output is not Codex's header.
    l.push(call(11, "t1", "c_body", "cat log"));
    l.push(output(
        12,
        "c_body",
        "Chunk ID: 3\nWall time: 0.1 seconds\nProcess exited with code 0\nOutput:\nProcess exited with code 7\n",
    ));
    l.push(complete(13, "t1"));
    let p = parse_lines(&l);
    let tools = &p.session().turns[0].tools;
    let status: Vec<(&str, Option<bool>)> =
        tools.iter().map(|t| (t.id.as_str(), t.success)).collect();
    assert_eq!(
        status,
        [
            ("c_ok", Some(true)),
            ("c_bad", Some(false)),
            ("c_sc", Some(false)),
            ("c_js", Some(true)),
            ("c_body", Some(true)),
        ]
    );
    assert_eq!(tools[0].error, None);
    assert_eq!(tools[1].error.as_deref(), Some("exit 1: nothing to see"));
    assert_eq!(tools[2].error.as_deref(), Some("exit 2: make: *** No rule"));
    assert_eq!(
        tools[0].output.as_deref(),
        Some("error: this is fine\nERROR 42")
    );
}

#[test]
fn exit_code_events_outrank_the_output_text() {
    let mut l = vec![meta()];
    l.extend(start(1, "t1"));
    l.extend(prompt(2, "t1", "x"));
    l.push(call(3, "t1", "c1", "build"));
    l.push(ev(
        4,
        json!({"type": "item_completed", "turn_id": "t1",
               "item": {"type": "CommandExecution", "id": "c1", "status": "failed", "exit_code": 101,
                        "aggregated_output": "error[E0432]: unresolved import\n"}}),
    ));
    // The output is still running-style (no exit code line).
    l.push(output(
        5,
        "c1",
        "Chunk ID: 1\nWall time: 10 seconds\nProcess running with session ID 7\nOutput:\nCompiling\n",
    ));
    // Legacy exec_command_end, and a pending call.
    l.push(call(6, "t1", "c2", "ls"));
    l.push(ev(
        7,
        json!({"type": "exec_command_end", "call_id": "c2", "exit_code": 0, "stdout": "", "stderr": "",
               "aggregated_output": "a\n", "formatted_output": "a\n"}),
    ));
    l.push(call(8, "t1", "c3", "sleep 100"));
    let p = parse_lines(&l);
    let s = p.session();
    let tools = &s.turns[0].tools;
    assert_eq!(tools[0].success, Some(false));
    assert_eq!(
        tools[0].error.as_deref(),
        Some("exit 101: error[E0432]: unresolved import")
    );
    assert_eq!(tools[1].success, Some(true));
    assert_eq!(tools[2].success, None);
    assert_eq!(
        s.tail.pending_tools,
        vec!["c2".to_string(), "c3".to_string()]
    );
    assert_eq!(s.tail.last_record.as_deref(), Some("tool_use"));
    assert_eq!(
        s.tail.last_action.as_deref(),
        Some("exec_command: sleep 100")
    );
    assert!(!s.tail.turn_complete);
}

#[test]
fn legacy_rollout_without_turn_ids() {
    // "legacy" history: user_message / agent_message events, no turn ids, no ordinals.
    let r = |ts: &str, kind: &str, payload: Value| {
        json!({"timestamp": ts, "type": kind, "payload": payload}).to_string()
    };
    let l = vec![
        r(
            "2025-09-01T10:00:00.000Z",
            "session_meta",
            json!({"id": "old", "cwd": "/o", "instructions": null}),
        ),
        r(
            "2025-09-01T10:00:00.100Z",
            "response_item",
            json!({"type": "message", "role": "user",
                   "content": [{"type": "input_text", "text": "<environment_context>…</environment_context>"}]}),
        ),
        r(
            "2025-09-01T10:00:00.200Z",
            "turn_context",
            json!({"cwd": "/o", "model": "gpt-5", "approval_policy": "never"}),
        ),
        r(
            "2025-09-01T10:00:00.300Z",
            "response_item",
            json!({"type": "message", "role": "user", "content": [{"type": "input_text", "text": "fix it"}]}),
        ),
        r(
            "2025-09-01T10:00:00.300Z",
            "event_msg",
            json!({"type": "user_message", "message": "fix it", "images": []}),
        ),
        r(
            "2025-09-01T10:00:01.000Z",
            "response_item",
            json!({"type": "reasoning", "summary": [], "encrypted_content": "zzz"}),
        ),
        r(
            "2025-09-01T10:00:01.100Z",
            "response_item",
            json!({"type": "function_call", "name": "shell", "call_id": "call_1",
                   "arguments": "{\"command\":[\"bash\",\"-lc\",\"cargo test\"]}"}),
        ),
        r(
            "2025-09-01T10:00:02.000Z",
            "response_item",
            json!({"type": "function_call_output", "call_id": "call_1",
                   "output": "{\"output\":\"test result: FAILED\\n\",\"metadata\":{\"exit_code\":101,\"duration_seconds\":0.9}}"}),
        ),
        r(
            "2025-09-01T10:00:02.100Z",
            "event_msg",
            json!({"type": "token_count", "info": {"total_token_usage": usage(500, 100, 40),
                   "last_token_usage": usage(500, 100, 40), "model_context_window": 1000}}),
        ),
        r(
            "2025-09-01T10:00:03.000Z",
            "event_msg",
            json!({"type": "agent_message", "message": "Tests fail."}),
        ),
        r(
            "2025-09-01T10:00:03.000Z",
            "response_item",
            json!({"type": "message", "role": "assistant",
                   "content": [{"type": "output_text", "text": "Tests fail."}]}),
        ),
        r(
            "2025-09-01T10:00:09.000Z",
            "event_msg",
            json!({"type": "user_message", "message": "try again", "images": []}),
        ),
        r(
            "2025-09-01T10:00:09.500Z",
            "response_item",
            json!({"type": "custom_tool_call", "name": "apply_patch", "call_id": "call_2",
                   "input": "*** Begin Patch\n*** End Patch"}),
        ),
        r(
            "2025-09-01T10:00:09.600Z",
            "response_item",
            json!({"type": "custom_tool_call_output", "call_id": "call_2",
                   "output": [{"type": "input_text", "text": "Success. Updated the following files:"}]}),
        ),
        r(
            "2025-09-01T10:00:10.000Z",
            "event_msg",
            json!({"type": "token_count", "info": {"total_token_usage": usage(1100, 500, 60),
                   "last_token_usage": usage(600, 400, 20), "model_context_window": 1000}}),
        ),
    ];
    let p = parse_lines(&l);
    let s = p.session();
    assert_eq!(p.stats.malformed + p.stats.unknown, 0);
    assert_eq!(s.turns.len(), 2);
    assert_eq!(s.turns[0].user, "fix it");
    assert_eq!(s.turns[0].id, "2025-09-01T10:00:00.300Z");
    assert_eq!(s.turns[0].output, "Tests fail.");
    assert_eq!(s.turns[0].tools[0].success, Some(false));
    assert_eq!(
        s.turns[0].tools[0].output.as_deref(),
        Some("test result: FAILED")
    );
    assert_eq!(s.turns[0].tokens, tok(500, 100, 40));
    assert_eq!(s.turns[0].model.as_deref(), Some("gpt-5"));
    assert_eq!(s.turns[1].user, "try again");
    assert_eq!(s.turns[1].tools[0].name, "apply_patch");
    assert_eq!(s.turns[1].tools[0].success, Some(true));
    assert_eq!(s.turns[1].tokens, tok(600, 400, 20));
    assert!(!s.tail.turn_complete);
}

#[test]
fn junk_is_counted_never_fatal() {
    let mut l = vec![meta()];
    l.extend(start(1, "t1"));
    l.extend(prompt(2, "t1", "hi"));
    l.push("not json at all".to_string());
    l.push("[1,2,3]".to_string());
    l.push(r#"{"timestamp":"2026-01-01T00:00:00Z","payload":{}}"#.to_string()); // no type
    l.push(r#"{"type":"event_msg","payload":"oops"}"#.to_string()); // bad payload
    l.push(r#"{"type":"event_msg"}"#.to_string()); // no payload
    l.push(r#"{"type":"response_item","payload":{"role":"user"}}"#.to_string()); // no subtype
    l.push(r#"{"type":"session_meta","payload":{"id":42}}"#.to_string()); // wrong field type
    l.push(
        r#"{"type":"event_msg","payload":{"type":"token_count","info":{"total_token_usage":"x"}}}"#
            .to_string(),
    );
    l.push(r#"{"type":"brand_new_record","payload":{"x":1}}"#.to_string()); // unknown
    l.push(r#"{"type":"another_one"}"#.to_string()); // unknown
    l.push(r#"{"type":"event_msg","payload":{"type":"some_future_event","x":[1]}}"#.to_string()); // handled
    l.push(r#"{"type":"world_state","payload":{"full":true}}"#.to_string()); // handled
    l.push(count(3, usage(10, 0, 1), usage(10, 0, 1)));
    l.push(complete(4, "t1"));
    let mut text = l.join("\n");
    text.push('\n');
    let mut bytes = text.into_bytes();
    // invalid UTF-8 and a NUL-filled line (a crash can leave those)
    bytes.extend_from_slice(b"{\"type\":\"event_msg\",\"payload\":{\"type\":\"agent_message\",\"message\":\"\xff\xfe\"}}\n");
    bytes.extend_from_slice(&[0u8; 64]);
    bytes.push(b'\n');
    let p = parse(&bytes);
    assert_eq!(p.stats.malformed, 10, "{:?}", p.stats);
    assert_eq!(p.stats.unknown, 2);
    let s = p.session();
    assert_eq!(s.turns.len(), 1);
    assert_eq!(s.turns[0].tokens, tok(10, 0, 1));
    assert!(s.tail.turn_complete);
}

#[test]
fn truncated_last_line_waits_for_its_newline() {
    let bytes = file("exec_tool");
    let whole = parse(&bytes);
    // The file as a writer caught mid-line leaves it.
    let cut = bytes.len() - 40;
    let mut p = parse(&bytes[..cut]);
    assert_eq!(p.stats.malformed, 0);
    assert!(p.pending_bytes() > 0);
    assert!(!p.session().tail.turn_complete);
    p.feed(&bytes[cut..]);
    assert_eq!(p.session(), whole.session());
    assert_eq!(p.stats, whole.stats);
}

#[test]
fn repeated_records_are_not_counted_twice() {
    // The whole file appended to itself (a resume that replays history into the file).
    for name in [
        "exec_resume_five_turns",
        "tui_abort_steer",
        "tui_fork_compact",
    ] {
        let bytes = file(name);
        let once = parse(&bytes);
        let mut twice_bytes = bytes.clone();
        twice_bytes.extend_from_slice(&bytes);
        let twice = parse(&twice_bytes);
        let (a, b) = (once.session(), twice.session());
        assert_eq!(a.turns.len(), b.turns.len(), "{name}");
        for (x, y) in a.turns.iter().zip(&b.turns) {
            assert_eq!(x.id, y.id, "{name}");
            assert_eq!(x.user, y.user, "{name}");
            assert_eq!(x.output, y.output, "{name}");
            assert_eq!(x.tools, y.tools, "{name}");
            assert_eq!(x.tokens, y.tokens, "{name}");
        }
    }
}

// ------------------------------------------------------------------ incremental feeding

fn assert_same(a: &SessionFileParser, b: &SessionFileParser) -> Result<(), TestCaseError> {
    prop_assert_eq!(a.session(), b.session());
    prop_assert_eq!(a.stats, b.stats);
    prop_assert_eq!(a.offset(), b.offset());
    Ok(())
}

fn session_of(p: &SessionFileParser) -> &ParsedSession {
    p.session()
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn random_chunking_gives_identical_results(
        file_idx in 0usize..64,
        cuts in proptest::collection::vec(0usize..200_000, 0..24),
    ) {
        let files = all_files();
        let (_, bytes) = &files[file_idx % files.len()];
        let mut data = bytes.clone();
        data.extend_from_slice(b"garbage\n{\"type\":\"weird\"}\n");
        let whole = parse(&data);
        let mut cuts: Vec<usize> = cuts.into_iter().map(|c| c % (data.len() + 1)).collect();
        cuts.sort_unstable();
        let mut chunked = SessionFileParser::new(Provider::Codex);
        let mut start = 0;
        for c in cuts.into_iter().chain(std::iter::once(data.len())) {
            chunked.feed(&data[start..c]);
            start = c;
        }
        assert_same(&whole, &chunked)?;
        prop_assert_eq!(whole.stats.malformed, 1);
        prop_assert_eq!(whole.stats.unknown, 1);
    }

    #[test]
    fn persist_and_resume_mid_file(file_idx in 0usize..64, cut in 0usize..200_000) {
        let files = all_files();
        let (_, bytes) = &files[file_idx % files.len()];
        let cut = cut % (bytes.len() + 1);
        let whole = parse(bytes);
        let mut first = SessionFileParser::new(Provider::Codex);
        first.feed(&bytes[..cut]);
        let saved = serde_json::to_string(&first).expect("serialize");
        let mut resumed: SessionFileParser = serde_json::from_str(&saved).expect("deserialize");
        // The engine re-reads from the end of the last complete line.
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
            assert_eq!(
                session_of(&resumed),
                session_of(&whole),
                "{name} cut at {cut}"
            );
        }
    }
}
