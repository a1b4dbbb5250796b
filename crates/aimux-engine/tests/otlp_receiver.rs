//! The OTLP/HTTP receiver end to end over real sockets: protobuf, JSON (ints as numbers and
//! as strings, hex ids), gzip, chunked bodies, 413, 400, partial success, auth, the bind
//! policy, /debug, and the memory budget under 10,000 requests. Payloads include real
//! requests captured from claude-code 2.1.197, codex 0.171.0 and gemini-cli 0.61.0.

use aimux_core::Provider;
use aimux_engine::otlp::proto::collector::logs::v1::{
    ExportLogsServiceRequest, ExportLogsServiceResponse,
};
use aimux_engine::otlp::proto::common::v1::{AnyValue, KeyValue, any_value};
use aimux_engine::otlp::proto::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
use aimux_engine::otlp::proto::resource::v1::Resource;
use aimux_engine::otlp::server::{Receiver, ReceiverConfig, ReceiverError, check_bind};
use aimux_engine::otlp::store::{TelemetryConfig, TelemetryStore};
use prost::Message;
use serde_json::{Value, json};
use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::sync::Arc;

fn start(cfg: ReceiverConfig, tcfg: TelemetryConfig) -> Receiver {
    let cfg = ReceiverConfig {
        listen: SocketAddr::from(([127, 0, 0, 1], 0)),
        ..cfg
    };
    Receiver::start(cfg, Arc::new(TelemetryStore::new(tcfg))).expect("receiver starts")
}

fn agent() -> ureq::Agent {
    ureq::Agent::config_builder()
        .http_status_as_error(false)
        .build()
        .into()
}

fn post(
    r: &Receiver,
    path: &str,
    ct: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> (u16, Vec<u8>) {
    let url = format!("http://{}{path}", r.local_addr());
    let mut req = agent().post(&url).header("Content-Type", ct);
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let mut resp = req.send(body).expect("request");
    let status = resp.status().as_u16();
    let body = resp.body_mut().read_to_vec().unwrap_or_default();
    (status, body)
}

fn get_json(r: &Receiver, path: &str) -> Value {
    let url = format!("http://{}{path}", r.local_addr());
    let mut resp = agent().get(&url).call().expect("get");
    serde_json::from_slice(&resp.body_mut().read_to_vec().expect("body")).expect("json")
}

fn s(k: &str, v: &str) -> KeyValue {
    KeyValue {
        key: k.into(),
        value: Some(AnyValue {
            value: Some(any_value::Value::StringValue(v.into())),
        }),
        ..KeyValue::default()
    }
}

fn int(k: &str, v: i64) -> KeyValue {
    KeyValue {
        key: k.into(),
        value: Some(AnyValue {
            value: Some(any_value::Value::IntValue(v)),
        }),
        ..KeyValue::default()
    }
}

fn dbl(k: &str, v: f64) -> KeyValue {
    KeyValue {
        key: k.into(),
        value: Some(AnyValue {
            value: Some(any_value::Value::DoubleValue(v)),
        }),
        ..KeyValue::default()
    }
}

/// A Claude Code `api_request` event, shaped like the real one.
fn claude_api_request(
    session: &str,
    prompt: &str,
    input: i64,
    output: i64,
    cost: f64,
    rid: &str,
) -> ExportLogsServiceRequest {
    ExportLogsServiceRequest {
        resource_logs: vec![ResourceLogs {
            resource: Some(Resource {
                attributes: vec![
                    s("service.name", "claude-code"),
                    s("service.version", "2.1.197"),
                ],
                ..Resource::default()
            }),
            scope_logs: vec![ScopeLogs {
                log_records: vec![LogRecord {
                    time_unix_nano: 1_795_777_195_581_000_000,
                    body: Some(AnyValue {
                        value: Some(any_value::Value::StringValue(
                            "claude_code.api_request".into(),
                        )),
                    }),
                    attributes: vec![
                        s("event.name", "api_request"),
                        s("session.id", session),
                        s("prompt.id", prompt),
                        s("model", "claude-opus-4-8"),
                        int("input_tokens", input),
                        int("output_tokens", output),
                        int("cache_read_tokens", 7),
                        int("cache_creation_tokens", 11),
                        dbl("cost_usd", cost),
                        int("duration_ms", 376),
                        s("request_id", rid),
                    ],
                    ..LogRecord::default()
                }],
                ..ScopeLogs::default()
            }],
            ..ResourceLogs::default()
        }],
    }
}

#[test]
fn protobuf_logs_are_decoded_and_counted_once() {
    let r = start(ReceiverConfig::default(), TelemetryConfig::default());
    let body = claude_api_request("sess-pb", "p1", 3, 47, 0.125, "req_1").encode_to_vec();
    let (status, resp) = post(&r, "/v1/logs", "application/x-protobuf", &[], &body);
    assert_eq!(status, 200);
    let decoded = ExportLogsServiceResponse::decode(resp.as_slice()).expect("protobuf response");
    assert!(decoded.partial_success.is_none());
    // The same request id again (an exporter retry) must not double the tokens.
    let (status, _) = post(&r, "/v1/logs", "application/x-protobuf", &[], &body);
    assert_eq!(status, 200);
    let sess = r
        .store()
        .session(Provider::Claude, "sess-pb")
        .expect("session stored");
    let t = sess.tokens();
    assert_eq!(
        (t.input, t.output, t.cache_read, t.cache_write),
        (3, 47, 7, 11)
    );
    assert_eq!(sess.reported_cost(), Some(0.125));
    assert_eq!(sess.turns.len(), 1);
    assert_eq!(sess.turns[0].turn.model.as_deref(), Some("claude-opus-4-8"));
}

fn json_logs(int_as_string: bool) -> Value {
    let n = |v: i64| {
        if int_as_string {
            json!(v.to_string())
        } else {
            json!(v)
        }
    };
    json!({"resourceLogs": [{
        "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "codex_exec"}}]},
        "scopeLogs": [{"scope": {"name": "codex_otel.log_only"}, "logRecords": [
            {"timeUnixNano": if int_as_string { json!("1795777198452000000") } else { json!(1_795_777_198_452_000_000u64) },
             "traceId": "5b8efff798038103d269b633813fc60c", "spanId": "eee19b7ec3c1b174",
             "attributes": [
                {"key": "event.name", "value": {"stringValue": "codex.user_prompt"}},
                {"key": "conversation.id", "value": {"stringValue": "conv-json"}},
                {"key": "prompt", "value": {"stringValue": "secret prompt text"}}]},
            {"timeUnixNano": "1795777199061000000",
             "attributes": [
                {"key": "event.name", "value": {"stringValue": "codex.sse_event"}},
                {"key": "event.kind", "value": {"stringValue": "response.completed"}},
                {"key": "conversation.id", "value": {"stringValue": "conv-json"}},
                {"key": "model", "value": {"stringValue": "gpt-5-codex"}},
                {"key": "input_token_count", "value": {"intValue": n(5200)}},
                {"key": "cached_token_count", "value": {"intValue": n(5000)}},
                {"key": "output_token_count", "value": {"intValue": n(40)}}]}
        ]}]
    }]})
}

#[test]
fn json_with_number_and_string_ints_and_hex_ids() {
    for as_string in [false, true] {
        let r = start(ReceiverConfig::default(), TelemetryConfig::default());
        let body = json_logs(as_string).to_string();
        let (status, resp) = post(&r, "/v1/logs", "application/json", &[], body.as_bytes());
        assert_eq!(status, 200, "{}", String::from_utf8_lossy(&resp));
        let v: Value = serde_json::from_slice(&resp).expect("json response");
        assert!(v.get("partialSuccess").is_none(), "{v}");
        let sess = r
            .store()
            .session(Provider::Codex, "conv-json")
            .expect("codex session");
        let t = sess.tokens();
        // OpenAI counts cached tokens inside input: input = 5200 - 5000.
        assert_eq!(
            (t.input, t.cache_read, t.output),
            (200, 5000, 40),
            "as_string={as_string}"
        );
    }
}

#[test]
fn gzip_bodies_are_decompressed() {
    let r = start(ReceiverConfig::default(), TelemetryConfig::default());
    let raw = claude_api_request("sess-gz", "p1", 5, 6, 0.5, "req_gz").encode_to_vec();
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    enc.write_all(&raw).expect("gzip");
    let gz = enc.finish().expect("gzip");
    assert_ne!(gz, raw);
    let (status, _) = post(
        &r,
        "/v1/logs",
        "application/x-protobuf",
        &[("Content-Encoding", "gzip")],
        &gz,
    );
    assert_eq!(status, 200);
    assert_eq!(
        r.store()
            .session(Provider::Claude, "sess-gz")
            .expect("stored")
            .tokens()
            .output,
        6
    );
    let dbg = get_json(&r, "/debug");
    assert_eq!(dbg["last_requests"][0]["gzip"], json!(true));
    // Not gzip at all, but labelled so → 400 with a reason.
    let (status, body) = post(
        &r,
        "/v1/logs",
        "application/x-protobuf",
        &[("Content-Encoding", "gzip")],
        b"plain",
    );
    assert_eq!(status, 400);
    assert!(!body.is_empty());
}

fn raw_http(addr: SocketAddr, request: &[u8]) -> String {
    let mut c = TcpStream::connect(addr).expect("connect");
    c.write_all(request).expect("write");
    let mut out = Vec::new();
    let _ = c.read_to_end(&mut out);
    String::from_utf8_lossy(&out).into_owned()
}

#[test]
fn chunked_bodies_and_keep_alive() {
    let r = start(ReceiverConfig::default(), TelemetryConfig::default());
    let body = json_logs(false).to_string();
    let bytes = body.as_bytes();
    let (a, b) = bytes.split_at(bytes.len() / 3);
    let mut req = Vec::new();
    req.extend_from_slice(b"POST /v1/logs HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n");
    for part in [a, b] {
        req.extend_from_slice(format!("{:x}\r\n", part.len()).as_bytes());
        req.extend_from_slice(part);
        req.extend_from_slice(b"\r\n");
    }
    req.extend_from_slice(b"0\r\n\r\n");
    // A second request on the same connection, then close.
    req.extend_from_slice(b"GET /debug HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    let out = raw_http(r.local_addr(), &req);
    assert_eq!(out.matches("HTTP/1.1 200 OK").count(), 2, "{out}");
    let sess = r
        .store()
        .session(Provider::Codex, "conv-json")
        .expect("chunked body decoded");
    assert_eq!(sess.tokens().output, 40);
}

#[test]
fn oversized_bodies_get_413() {
    let r = start(
        ReceiverConfig {
            max_body: 1000,
            ..ReceiverConfig::default()
        },
        TelemetryConfig::default(),
    );
    let (status, _) = post(&r, "/v1/logs", "application/json", &[], &vec![b' '; 5000]);
    assert_eq!(status, 413);
    // Chunked, over the limit.
    let mut req = b"POST /v1/logs HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n".to_vec();
    for _ in 0..3 {
        req.extend_from_slice(b"190\r\n");
        req.extend_from_slice(&[b' '; 400]);
        req.extend_from_slice(b"\r\n");
    }
    req.extend_from_slice(b"0\r\n\r\n");
    let out = raw_http(r.local_addr(), &req);
    assert!(out.starts_with("HTTP/1.1 413"), "{out}");
    // A small gzip body that inflates past the limit.
    let mut enc = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::best());
    enc.write_all(&vec![b' '; 100_000]).expect("gzip");
    let gz = enc.finish().expect("gzip");
    assert!(gz.len() < 1000);
    let (status, _) = post(
        &r,
        "/v1/logs",
        "application/json",
        &[("Content-Encoding", "gzip")],
        &gz,
    );
    assert_eq!(status, 413);
}

#[test]
fn garbage_gets_400_with_a_reason() {
    let r = start(ReceiverConfig::default(), TelemetryConfig::default());
    let (status, body) = post(&r, "/v1/traces", "application/json", &[], b"{not json");
    assert_eq!(status, 400);
    let v: Value = serde_json::from_slice(&body).expect("status json");
    assert!(
        v["message"].as_str().is_some_and(|m| m.contains("JSON")),
        "{v}"
    );
    let (status, _) = post(
        &r,
        "/v1/metrics",
        "application/x-protobuf",
        &[],
        &[0xff, 0xff, 0xff, 0x0f, 0x01],
    );
    assert_eq!(status, 400);
    let (status, _) = post(&r, "/v1/logs", "text/plain", &[], b"hello");
    assert_eq!(status, 415);
    let dbg = get_json(&r, "/debug");
    assert_eq!(dbg["decode_errors"], json!(2));
    assert!(dbg["last_decode_error"].is_string());
}

#[test]
fn records_without_a_session_are_a_partial_success() {
    let r = start(ReceiverConfig::default(), TelemetryConfig::default());
    let mut req = claude_api_request("x", "p", 1, 1, 0.0, "r");
    if let Some(rec) = req.resource_logs[0].scope_logs[0].log_records.first_mut() {
        rec.attributes.retain(|a| a.key != "session.id");
    }
    let (status, body) = post(
        &r,
        "/v1/logs",
        "application/x-protobuf",
        &[],
        &req.encode_to_vec(),
    );
    assert_eq!(status, 200);
    let resp = ExportLogsServiceResponse::decode(body.as_slice()).expect("response");
    let ps = resp.partial_success.expect("partial success");
    assert_eq!(ps.rejected_log_records, 1);
    assert!(ps.error_message.contains("session"));
}

#[test]
fn bearer_token_is_enforced() {
    let r = start(
        ReceiverConfig {
            token: Some("s3cret".into()),
            ..ReceiverConfig::default()
        },
        TelemetryConfig::default(),
    );
    let body = json_logs(false).to_string();
    let (status, _) = post(&r, "/v1/logs", "application/json", &[], body.as_bytes());
    assert_eq!(status, 401);
    let (status, _) = post(
        &r,
        "/v1/logs",
        "application/json",
        &[("Authorization", "Bearer wrong!")],
        body.as_bytes(),
    );
    assert_eq!(status, 401);
    let (status, _) = post(
        &r,
        "/v1/logs",
        "application/json",
        &[("Authorization", "Bearer s3cret")],
        body.as_bytes(),
    );
    assert_eq!(status, 200);
}

#[test]
fn non_loopback_bind_needs_opt_in_and_token() {
    let open = |allow: bool, token: Option<&str>| ReceiverConfig {
        listen: "0.0.0.0:0".parse().expect("addr"),
        allow_remote: allow,
        token: token.map(str::to_string),
        ..ReceiverConfig::default()
    };
    assert!(matches!(
        check_bind(&open(false, None)),
        Err(ReceiverError::NotLoopback(_))
    ));
    assert!(matches!(
        check_bind(&open(false, Some("t"))),
        Err(ReceiverError::NotLoopback(_))
    ));
    assert!(matches!(
        check_bind(&open(true, None)),
        Err(ReceiverError::NoToken(_))
    ));
    assert!(matches!(
        check_bind(&open(true, Some("  "))),
        Err(ReceiverError::NoToken(_))
    ));
    assert!(check_bind(&open(true, Some("t"))).is_ok());
    let err = Receiver::start(
        open(false, None),
        Arc::new(TelemetryStore::new(TelemetryConfig::default())),
    )
    .err()
    .expect("refused");
    assert!(err.to_string().contains("not a loopback"), "{err}");
    assert!(check_bind(&ReceiverConfig::default()).is_ok());
}

#[test]
fn debug_hides_prompts_unless_prompt_logging_is_on() {
    for log_prompts in [false, true] {
        let r = start(
            ReceiverConfig::default(),
            TelemetryConfig {
                log_prompts,
                ..TelemetryConfig::default()
            },
        );
        let body = json_logs(false).to_string();
        assert_eq!(
            post(&r, "/v1/logs", "application/json", &[], body.as_bytes()).0,
            200
        );
        let dbg = get_json(&r, "/debug?events=1").to_string();
        assert_eq!(
            dbg.contains("secret prompt text"),
            log_prompts,
            "log_prompts={log_prompts}"
        );
        let plain = get_json(&r, "/debug");
        assert!(plain.get("events").is_none());
        assert_eq!(plain["requests"]["/v1/logs json"], json!(1));
        assert_eq!(plain["conversations"][0]["id"], json!("conv-json"));
        assert!(plain["memory_used_bytes"].as_u64().is_some_and(|m| m > 0));
    }
}

#[test]
fn ten_thousand_requests_stay_within_the_memory_budget() {
    let budget = 256 * 1024;
    let r = start(
        ReceiverConfig::default(),
        TelemetryConfig {
            budget_bytes: budget,
            ..TelemetryConfig::default()
        },
    );
    let a = agent();
    let url = format!("http://{}/v1/logs", r.local_addr());
    for i in 0..10_000 {
        let body = claude_api_request(&format!("sess-{i}"), "p", 1, 2, 0.001, &format!("req-{i}"))
            .encode_to_vec();
        let resp = a
            .post(&url)
            .header("Content-Type", "application/x-protobuf")
            .send(&body[..])
            .expect("post");
        assert_eq!(resp.status().as_u16(), 200);
        if i % 1000 == 999 {
            assert!(
                r.store().memory_used() <= budget,
                "after {i}: {}",
                r.store().memory_used()
            );
        }
    }
    let dbg = get_json(&r, "/debug");
    assert!(
        dbg["memory_used_bytes"]
            .as_u64()
            .is_some_and(|m| m <= budget as u64),
        "{dbg}"
    );
    assert!(dbg["evicted_conversations"].as_u64().is_some_and(|e| e > 0));
    assert_eq!(dbg["requests"]["/v1/logs protobuf"], json!(10_000));
    assert_eq!(dbg["last_requests"].as_array().map(Vec::len), Some(50));
    // The newest conversation is kept, the oldest evicted.
    assert!(r.store().session(Provider::Claude, "sess-9999").is_some());
    assert!(r.store().session(Provider::Claude, "sess-0").is_none());
}

/// Every request the three real CLIs sent in one harness run, replayed as they came.
#[test]
fn real_cli_requests_are_mapped() {
    let r = start(ReceiverConfig::default(), TelemetryConfig::default());
    let text = include_str!("fixtures/otlp/real-cli-requests.jsonl");
    // Ground truth computed here from the raw attributes, independently of the store.
    let mut claude_out: std::collections::HashMap<String, u64> = Default::default();
    let mut claude_cost: std::collections::HashMap<String, f64> = Default::default();
    let mut codex_out: std::collections::HashMap<String, u64> = Default::default();
    for line in text.lines() {
        let req: Value = serde_json::from_str(line).expect("fixture line");
        let path = req["path"].as_str().expect("path");
        let body = req["body"].to_string();
        let (status, resp) = post(&r, path, "application/json", &[], body.as_bytes());
        assert_eq!(status, 200, "{path}: {}", String::from_utf8_lossy(&resp));
        for rl in req["body"]["resourceLogs"].as_array().into_iter().flatten() {
            for sl in rl["scopeLogs"].as_array().into_iter().flatten() {
                for rec in sl["logRecords"].as_array().into_iter().flatten() {
                    let attr = |k: &str| {
                        rec["attributes"]
                            .as_array()
                            .into_iter()
                            .flatten()
                            .find(|a| a["key"] == k)
                            .map(|a| {
                                let v = &a["value"];
                                v["stringValue"]
                                    .as_str()
                                    .map(str::to_string)
                                    .unwrap_or_else(|| {
                                        v.get("intValue")
                                            .or_else(|| v.get("doubleValue"))
                                            .map(|x| x.to_string().trim_matches('"').to_string())
                                            .unwrap_or_default()
                                    })
                            })
                    };
                    let name = attr("event.name").unwrap_or_default();
                    if name == "api_request" {
                        let sid = attr("session.id").expect("claude session");
                        *claude_out.entry(sid.clone()).or_default() += attr("output_tokens")
                            .and_then(|x| x.parse().ok())
                            .unwrap_or(0);
                        *claude_cost.entry(sid).or_default() +=
                            attr("cost_usd").and_then(|x| x.parse().ok()).unwrap_or(0.0);
                    }
                    if name == "codex.sse_event"
                        && attr("event.kind").as_deref() == Some("response.completed")
                    {
                        let sid = attr("conversation.id").expect("codex conversation");
                        *codex_out.entry(sid).or_default() += attr("output_token_count")
                            .and_then(|x| x.parse().ok())
                            .unwrap_or(0);
                    }
                }
            }
        }
    }
    assert!(claude_out.len() >= 2 && codex_out.len() >= 2);
    for (sid, out) in &claude_out {
        let s = r
            .store()
            .session(Provider::Claude, sid)
            .expect("claude session");
        assert_eq!(s.tokens().output, *out, "{sid}");
        let cost = s.reported_cost().expect("claude reports cost");
        assert!((cost - claude_cost[sid]).abs() < 1e-9, "{sid}");
        // Claude's DELTA metrics agree with the log events.
        assert!(
            (s.metric_cost_usd - cost).abs() < 1e-6 || s.metric_cost_usd == 0.0,
            "{sid}"
        );
    }
    for (sid, out) in &codex_out {
        let s = r
            .store()
            .session(Provider::Codex, sid)
            .expect("codex session");
        assert_eq!(s.tokens().output, *out, "{sid}");
    }
    // Codex tool results carry durations: a tool with both ends known.
    let codex_tools: Vec<_> = codex_out
        .keys()
        .filter_map(|sid| r.store().session(Provider::Codex, sid))
        .flat_map(|s| s.turns.into_iter().flat_map(|t| t.turn.tools))
        .collect();
    assert!(
        codex_tools
            .iter()
            .any(|t| t.started_at.is_some() && t.ended_at.is_some() && t.success == Some(true))
    );
    // Gemini logs, metrics and spans all arrive keyed by session.id.
    assert!(r.store().keys().iter().any(|(p, _)| *p == Provider::Gemini));
    let dbg = get_json(&r, "/debug");
    assert_eq!(dbg["decode_errors"], json!(0));
    assert!(
        dbg["requests"]["/v1/traces json"]
            .as_u64()
            .is_some_and(|n| n >= 1)
    );
}
