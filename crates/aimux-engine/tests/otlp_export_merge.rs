//! Export (span tree, ids, unknown times, GenAI attributes, JSONL) and the telemetry/file
//! merge rules (file wins for content, tokens never counted twice, telemetry-only turns
//! and sessions still show).

use aimux_core::pricing::PriceTable;
use aimux_core::{ParsedSession, Provider, TokenUsage, ToolCall, Turn};
use aimux_engine::annotations::{Annotation, Label};
use aimux_engine::catalog::{self, AnnotationCounts, SessionRow};
use aimux_engine::index::Index;
use aimux_engine::otlp::decode::{Encoding, decode_logs};
use aimux_engine::otlp::export::{build_trace, jsonl_lines, span_id, trace_id, traces_url};
use aimux_engine::otlp::merge::{merge_telemetry, merge_totals, merge_totals_priced};
use aimux_engine::otlp::proto::common::v1::any_value;
use aimux_engine::otlp::proto::trace::v1::Span;
use aimux_engine::otlp::store::{TelemetryConfig, TelemetryStore};
use aimux_engine::scan::scan;
use aimux_engine::trace::{Trace, TraceTool, TraceTurn};
use chrono::{DateTime, Utc};
use serde_json::json;

fn ts(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s)
        .expect("time")
        .with_timezone(&Utc)
}

/// A real catalog row (the fixture's Claude multi-turn session), with the fields the
/// export reads set to known values.
fn row(id: &str) -> SessionRow {
    let home = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/home");
    let mut index = Index::open_in_memory().expect("index");
    scan(&home, &mut index, None).expect("scan fixtures");
    let mut warnings = Vec::new();
    let rows =
        catalog::sessions(&index, &home, &PriceTable::bundled(), &mut warnings).expect("rows");
    let mut r = rows
        .into_iter()
        .find(|r| r.provider == Provider::Claude)
        .expect("a claude fixture session");
    r.id = id.into();
    r.model = Some("claude-opus-4-8".into());
    r.started_at = Some("2026-11-27T10:00:00Z".into());
    r.last_activity = Some("2026-11-27T10:05:00Z".into());
    r.tokens = TokenUsage {
        input: 10,
        output: 20,
        cache_read: 30,
        cache_write: 40,
    };
    r.annotations = AnnotationCounts::default();
    r
}

fn tool(id: &str, start: Option<&str>, end: Option<&str>, ok: Option<bool>) -> TraceTool {
    TraceTool {
        id: id.into(),
        name: "Bash".into(),
        input: "{\"command\":\"ls\"}".into(),
        output: Some("a\nb".into()),
        success: ok,
        error: None,
        started_at: start.map(str::to_string),
        ended_at: end.map(str::to_string),
    }
}

fn sample_trace() -> Trace {
    let turn = |n: u32, id: &str, start: Option<&str>, end: Option<&str>, tools: Vec<TraceTool>| {
        TraceTurn {
            number: n,
            id: id.into(),
            started_at: start.map(str::to_string),
            ended_at: end.map(str::to_string),
            model: Some("claude-opus-4-8".into()),
            user: format!("prompt {n}"),
            output: format!("answer {n}"),
            tools,
            tokens: TokenUsage {
                input: 5,
                output: 10,
                cache_read: 15,
                cache_write: 20,
            },
            cost_usd: Some(0.25),
            models: Vec::new(),
            subagent: None,
            annotation: (n == 1).then(|| Annotation {
                turn: 1,
                turn_id: id.into(),
                label: Label::Waste,
                note: Some("looped".into()),
                timestamp: "2026-11-27T11:00:00Z".into(),
            }),
        }
    };
    Trace {
        session: row("sess-1"),
        turns: vec![
            turn(
                1,
                "u-1",
                Some("2026-11-27T10:00:00Z"),
                Some("2026-11-27T10:01:00Z"),
                vec![tool(
                    "toolu_a",
                    Some("2026-11-27T10:00:10Z"),
                    Some("2026-11-27T10:00:12Z"),
                    Some(true),
                )],
            ),
            // End unknown; its tool has no times at all.
            turn(
                2,
                "u-2",
                Some("2026-11-27T10:04:00Z"),
                None,
                vec![tool("toolu_b", None, None, Some(false))],
            ),
        ],
        warnings: Vec::new(),
    }
}

fn attr<'a>(s: &'a Span, k: &str) -> Option<&'a any_value::Value> {
    s.attributes
        .iter()
        .find(|a| a.key == k)
        .and_then(|a| a.value.as_ref())
        .and_then(|v| v.value.as_ref())
}

fn nanos(s: &str) -> u64 {
    ts(s).timestamp_nanos_opt().expect("nanos") as u64
}

#[test]
fn one_trace_with_session_turn_tool_tree_and_real_times() {
    let t = sample_trace();
    let req = build_trace(&t);
    let spans: Vec<Span> = req
        .resource_spans
        .into_iter()
        .flat_map(|r| r.scope_spans)
        .flat_map(|s| s.spans)
        .collect();
    assert_eq!(spans.len(), 1 + 2 + 2);
    let tid = trace_id(Provider::Claude, "sess-1");
    assert!(spans.iter().all(|s| s.trace_id == tid));
    let root = spans
        .iter()
        .find(|s| s.parent_span_id.is_empty())
        .expect("root");
    let turns: Vec<&Span> = spans
        .iter()
        .filter(|s| s.parent_span_id == root.span_id)
        .collect();
    assert_eq!(turns.len(), 2);
    // Root spans the first turn's start to the last known end (turn 2 started at 10:04).
    assert_eq!(root.start_time_unix_nano, nanos("2026-11-27T10:00:00Z"));
    assert_eq!(root.end_time_unix_nano, nanos("2026-11-27T10:04:00Z"));
    let t1 = turns.iter().find(|s| s.name == "turn 1").expect("turn 1");
    assert_eq!(t1.start_time_unix_nano, nanos("2026-11-27T10:00:00Z"));
    assert_eq!(t1.end_time_unix_nano, nanos("2026-11-27T10:01:00Z"));
    assert!(attr(t1, "aimux.time_unknown").is_none());
    assert_eq!(
        attr(t1, "aimux.feedback.value"),
        Some(&any_value::Value::StringValue("waste".into()))
    );
    assert_eq!(
        attr(t1, "aimux.feedback.rationale"),
        Some(&any_value::Value::StringValue("looped".into()))
    );
    assert_eq!(
        attr(t1, "gen_ai.usage.input_tokens"),
        Some(&any_value::Value::IntValue(5 + 15 + 20))
    );
    assert_eq!(
        attr(t1, "gen_ai.usage.output_tokens"),
        Some(&any_value::Value::IntValue(10))
    );
    assert_eq!(
        attr(t1, "gen_ai.request.model"),
        Some(&any_value::Value::StringValue("claude-opus-4-8".into()))
    );
    let t2 = turns.iter().find(|s| s.name == "turn 2").expect("turn 2");
    assert_eq!(
        attr(t2, "aimux.time_unknown"),
        Some(&any_value::Value::BoolValue(true))
    );
    assert_eq!(
        attr(t2, "aimux.end_time_unknown"),
        Some(&any_value::Value::BoolValue(true))
    );
    assert!(attr(t2, "aimux.start_time_unknown").is_none());
    // Tool with real times keeps them; tool without times takes its turn's bounds + flag.
    let tool_a = spans
        .iter()
        .find(|s| s.parent_span_id == t1.span_id)
        .expect("tool a");
    assert_eq!(tool_a.start_time_unix_nano, nanos("2026-11-27T10:00:10Z"));
    assert_eq!(tool_a.end_time_unix_nano, nanos("2026-11-27T10:00:12Z"));
    assert!(attr(tool_a, "aimux.time_unknown").is_none());
    let tool_b = spans
        .iter()
        .find(|s| s.parent_span_id == t2.span_id)
        .expect("tool b");
    assert_eq!(
        attr(tool_b, "aimux.time_unknown"),
        Some(&any_value::Value::BoolValue(true))
    );
    assert_eq!(tool_b.start_time_unix_nano, t2.start_time_unix_nano);
    assert_eq!(tool_b.end_time_unix_nano, t2.end_time_unix_nano);
    assert_eq!(tool_b.status.as_ref().map(|s| s.code), Some(2)); // ERROR
}

#[test]
fn ids_are_deterministic_and_distinct() {
    let a = build_trace(&sample_trace());
    let b = build_trace(&sample_trace());
    let ids = |r: &aimux_engine::otlp::proto::collector::trace::v1::ExportTraceServiceRequest| {
        r.resource_spans
            .iter()
            .flat_map(|x| &x.scope_spans)
            .flat_map(|x| &x.spans)
            .map(|s| s.span_id.clone())
            .collect::<Vec<_>>()
    };
    assert_eq!(ids(&a), ids(&b));
    let mut unique = ids(&a);
    unique.sort();
    unique.dedup();
    assert_eq!(unique.len(), 5);
    assert_ne!(
        trace_id(Provider::Claude, "sess-1"),
        trace_id(Provider::Claude, "sess-2")
    );
    assert_ne!(
        trace_id(Provider::Claude, "sess-1"),
        trace_id(Provider::Codex, "sess-1")
    );
    assert_ne!(span_id("a"), span_id("b"));
    assert_eq!(traces_url("http://h:5000/"), "http://h:5000/v1/traces");
    assert_eq!(traces_url("http://h/v1/traces"), "http://h/v1/traces");
}

#[test]
fn jsonl_has_one_line_per_turn_with_label_and_durations() {
    let lines = jsonl_lines(&sample_trace());
    assert_eq!(lines.len(), 2);
    assert_eq!(lines[0]["label"], "waste");
    assert_eq!(lines[0]["note"], "looped");
    assert_eq!(lines[0]["duration_ms"], 60_000);
    assert_eq!(lines[0]["tools"][0]["duration_ms"], 2_000);
    assert_eq!(lines[1]["duration_ms"], serde_json::Value::Null);
    assert_eq!(lines[1]["input"], "prompt 2");
    assert_eq!(lines[1]["tokens"]["cache_write"], 20);
}

fn claude_store(events: serde_json::Value) -> TelemetryStore {
    let store = TelemetryStore::new(TelemetryConfig {
        log_prompts: true,
        ..TelemetryConfig::default()
    });
    let req = decode_logs(events.to_string().as_bytes(), Encoding::Json).expect("decode");
    store.ingest_logs(&req);
    store
}

fn ev(name: &str, t: &str, prompt: &str, extra: serde_json::Value) -> serde_json::Value {
    let mut attrs = vec![
        json!({"key": "event.name", "value": {"stringValue": name}}),
        json!({"key": "session.id", "value": {"stringValue": "S"}}),
        json!({"key": "prompt.id", "value": {"stringValue": prompt}}),
    ];
    for (k, v) in extra.as_object().into_iter().flatten() {
        attrs.push(json!({"key": k, "value": v}));
    }
    json!({"timeUnixNano": nanos(t).to_string(), "attributes": attrs})
}

fn telemetry() -> TelemetryStore {
    claude_store(json!({"resourceLogs": [{
        "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "claude-code"}}]},
        "scopeLogs": [{"logRecords": [
            ev("user_prompt", "2026-11-27T10:00:00.300Z", "p1", json!({"prompt": {"stringValue": "telemetry prompt"}})),
            ev("api_request", "2026-11-27T10:00:05Z", "p1", json!({"input_tokens": {"intValue": 100}, "output_tokens": {"intValue": 7}, "model": {"stringValue": "claude-opus-4-8"}, "request_id": {"stringValue": "r1"}})),
            ev("tool_result", "2026-11-27T10:00:09Z", "p1", json!({"tool_use_id": {"stringValue": "toolu_1"}, "tool_name": {"stringValue": "Bash"}, "success": {"stringValue": "true"}, "duration_ms": {"stringValue": "1500"}})),
            ev("user_prompt", "2026-11-27T10:02:00Z", "p2", json!({})),
            ev("api_request", "2026-11-27T10:02:03Z", "p2", json!({"input_tokens": {"intValue": 50}, "output_tokens": {"intValue": 9}, "request_id": {"stringValue": "r2"}, "cost_usd": {"doubleValue": 0.01}})),
        ]}]
    }]}))
}

fn file_session(turn1_tokens: TokenUsage) -> ParsedSession {
    ParsedSession {
        id: Some("S".into()),
        turns: vec![Turn {
            id: "uuid-1".into(),
            number: 1,
            started_at: Some(ts("2026-11-27T10:00:00Z")),
            user: "file prompt".into(),
            output: "file answer".into(),
            tools: vec![ToolCall {
                id: "toolu_1".into(),
                name: "Bash".into(),
                input: "ls".into(),
                ..ToolCall::default()
            }],
            tokens: turn1_tokens,
            ..Turn::default()
        }],
        ..ParsedSession::default()
    }
}

#[test]
fn merge_prefers_file_content_and_counts_tokens_once() {
    let store = telemetry();
    let tel = store
        .session(Provider::Claude, "S")
        .expect("telemetry session");
    // The file has turn 1 with its own tokens; turn 2 exists only in telemetry.
    let file_tokens = TokenUsage {
        input: 100,
        output: 7,
        cache_read: 0,
        cache_write: 0,
    };
    let merged = merge_telemetry(Some(&file_session(file_tokens)), &tel);
    assert_eq!(merged.turns.len(), 2);
    let t1 = &merged.turns[0];
    assert_eq!(t1.id, "uuid-1");
    assert_eq!(t1.user, "file prompt");
    assert_eq!(
        t1.tokens, file_tokens,
        "file tokens win, telemetry not added on top"
    );
    // Tool timing filled from telemetry: ended 10:00:09, started 1.5 s before.
    let tool = &t1.tools[0];
    assert_eq!(tool.ended_at, Some(ts("2026-11-27T10:00:09Z")));
    assert_eq!(tool.started_at, Some(ts("2026-11-27T10:00:07.500Z")));
    assert_eq!(tool.success, Some(true));
    assert_eq!(tool.input, "ls");
    let t2 = &merged.turns[1];
    assert_eq!(t2.tokens.input + t2.tokens.output, 59);
    assert_eq!(merged.tokens().input, 150);
    assert_eq!(merged.tokens().output, 16);

    // The file has the turn but no tokens yet: telemetry's are used (once).
    let merged = merge_telemetry(Some(&file_session(TokenUsage::default())), &tel);
    assert_eq!(merged.turns[0].tokens.input, 100);
    assert_eq!(merged.tokens().input, 150);

    // No file at all: the telemetry session stands alone, live.
    let alone = merge_telemetry(None, &tel);
    assert_eq!(alone.turns.len(), 2);
    assert_eq!(alone.turns[0].user, "telemetry prompt");
    assert_eq!(alone.tokens().output, 16);

    // Summary-level merge for live rows: the file has 1 turn, telemetry adds the 2nd only.
    let (tokens, turns) = merge_totals(file_tokens, 1, &tel);
    assert_eq!((tokens.input, tokens.output, turns), (150, 16, 2));
    let (tokens, turns) = merge_totals(TokenUsage::default(), 0, &tel);
    assert_eq!((tokens.input, turns), (150, 2));
}

#[test]
fn prompts_are_not_kept_without_prompt_logging() {
    let store = TelemetryStore::new(TelemetryConfig::default());
    let body = json!({"resourceLogs": [{
    "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "claude-code"}}]},
    "scopeLogs": [{"logRecords": [
        ev("user_prompt", "2026-11-27T10:00:00Z", "p1", json!({"prompt": {"stringValue": "private words"}}))
    ]}]}]});
    store.ingest_logs(&decode_logs(body.to_string().as_bytes(), Encoding::Json).expect("decode"));
    let s = store.session(Provider::Claude, "S").expect("session");
    assert_eq!(s.turns[0].turn.user, "");
    assert!(!store.events_json().to_string().contains("private words"));
}

#[test]
fn live_totals_add_only_turns_the_file_lacks_and_use_reported_cost() {
    let tel = telemetry().session(Provider::Claude, "S").expect("session");
    let prices = PriceTable::bundled();
    let file_tokens = TokenUsage {
        input: 100,
        output: 7,
        cache_read: 0,
        cache_write: 0,
    };
    // File priced at 1.0 for its one turn; turn 2 adds its reported 0.01.
    let (t, n, c) = merge_totals_priced(file_tokens, 1, Some(1.0), &tel, &prices);
    assert_eq!((t.input, t.output, n), (150, 16, 2));
    assert!(c.is_some_and(|c| (c - 1.01).abs() < 1e-9), "{c:?}");
    // Turn 1 reported no cost (no cost_usd attribute) and the file is unpriced: unknown.
    let (_, _, c) = merge_totals_priced(file_tokens, 1, None, &tel, &prices);
    assert_eq!(c, None);
    // No file yet: turn 1 has no reported cost and no model price -> unknown, tokens still shown.
    let (t, n, _) = merge_totals_priced(TokenUsage::default(), 0, None, &tel, &prices);
    assert_eq!((t.input, n), (150, 2));
}

#[test]
fn a_live_trace_shows_the_turns_telemetry_has_before_the_file() {
    // a real fixture session file, and telemetry for one more turn an hour after its end
    let r = row("S");
    let annotations = aimux_engine::annotations::SessionAnnotations::default();
    let from_file = aimux_engine::trace::trace(&r, &PriceTable::bundled(), &annotations);
    assert!(!from_file.turns.is_empty(), "the fixture has turns");
    let last = from_file
        .turns
        .iter()
        .filter_map(|t| t.started_at.as_deref())
        .max()
        .map(ts)
        .expect("turn times");
    let later = (last + chrono::Duration::hours(1)).to_rfc3339();
    let store = claude_store(json!({"resourceLogs": [{
        "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "claude-code"}}]},
        "scopeLogs": [{"logRecords": [
            ev("user_prompt", &later, "p9", json!({"prompt": {"stringValue": "not in the file yet"}})),
            ev("api_request", &later, "p9", json!({"input_tokens": {"intValue": 321}, "output_tokens": {"intValue": 12}, "model": {"stringValue": "claude-opus-4-8"}, "request_id": {"stringValue": "r9"}})),
        ]}]
    }]}));
    let tel = store
        .session(Provider::Claude, "S")
        .expect("telemetry session");
    let live = aimux_engine::trace::trace_with_telemetry(
        &r,
        &PriceTable::bundled(),
        &annotations,
        Some(&tel),
    );
    assert_eq!(live.turns.len(), from_file.turns.len() + 1);
    let added = live.turns.last().expect("turn");
    assert_eq!(added.user, "not in the file yet");
    assert_eq!(added.tokens.input, 321);
    assert_eq!(usize::try_from(added.number).expect("n"), live.turns.len());
    // the file's turns are untouched
    for (a, b) in from_file.turns.iter().zip(&live.turns) {
        assert_eq!(
            (a.id.as_str(), a.user.as_str()),
            (b.id.as_str(), b.user.as_str())
        );
    }
}
