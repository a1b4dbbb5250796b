//! A session as one OTLP trace, and as JSONL.
//!
//! Span tree: a root span for the session, a child per turn, a grandchild per tool call.
//! Times come from the session data only; where one is unknown the span takes its
//! parent's bound and carries `aimux.time_unknown = true` (plus which end was unknown).
//! The trace id is derived from (provider, session id) and span ids from turn and tool
//! ids, so re-exporting a session yields the same trace (backends deduplicate it).
//!
//! Attributes follow the GenAI semantic conventions (`gen_ai.system`,
//! `gen_ai.request.model`, `gen_ai.usage.input_tokens` = all prompt tokens including cached
//! ones, `gen_ai.usage.cache_read.input_tokens`, `gen_ai.usage.cache_creation.input_tokens`,
//! `gen_ai.usage.output_tokens`), plus `aimux.*` (uncached input as `aimux.tokens.input`,
//! cost, turn number/id, and `aimux.feedback.value` / `aimux.feedback.rationale` from
//! annotations). `mlflow.spanType`, `mlflow.spanInputs` and `mlflow.spanOutputs` make the
//! trace readable in MLflow's UI.

use super::proto::collector::trace::v1::ExportTraceServiceRequest;
use super::proto::common::v1::{AnyValue, InstrumentationScope, KeyValue, any_value};
use super::proto::resource::v1::Resource;
use super::proto::trace::v1::{ResourceSpans, ScopeSpans, Span, Status, span, status};
use crate::trace::{Trace, TraceTool, TraceTurn};
use aimux_core::{Provider, Timestamp, TokenUsage};
use chrono::{DateTime, Utc};
use prost::Message;
use serde::Serialize;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Longest text put in one attribute (inputs/outputs are cut, with a marker).
const MAX_TEXT: usize = 32 * 1024;

fn fnv64(seed: u64, data: &[u8]) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325 ^ seed.wrapping_mul(0x9e37_79b9_7f4a_7c15);
    for b in data {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    // Final avalanche (splitmix64) so similar ids give unrelated span ids.
    h = (h ^ (h >> 30)).wrapping_mul(0xbf58_476d_1ce4_e5b9);
    h = (h ^ (h >> 27)).wrapping_mul(0x94d0_49bb_1331_11eb);
    h ^ (h >> 31)
}

/// The trace id of a session: 16 bytes from (provider, session id), never all zero.
pub fn trace_id(provider: Provider, session_id: &str) -> [u8; 16] {
    let key = format!("aimux/{}/{}", provider.as_str(), session_id);
    let a = fnv64(1, key.as_bytes()).to_be_bytes();
    let mut b = fnv64(2, key.as_bytes()).to_be_bytes();
    if a == [0; 8] && b == [0; 8] {
        b = [0, 0, 0, 0, 0, 0, 0, 1];
    }
    let mut out = [0u8; 16];
    out[..8].copy_from_slice(&a);
    out[8..].copy_from_slice(&b);
    out
}

/// A span id from a key, never all zero.
pub fn span_id(key: &str) -> [u8; 8] {
    let v = fnv64(3, key.as_bytes());
    if v == 0 {
        1u64.to_be_bytes()
    } else {
        v.to_be_bytes()
    }
}

pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

fn gen_ai_system(p: Provider) -> &'static str {
    match p {
        Provider::Claude => "anthropic",
        Provider::Codex => "openai",
        Provider::Gemini => "gcp.gemini",
        Provider::Opencode => "opencode",
    }
}

fn kv(key: &str, v: any_value::Value) -> KeyValue {
    KeyValue {
        key: key.to_string(),
        value: Some(AnyValue { value: Some(v) }),
        ..KeyValue::default()
    }
}

fn s(key: &str, v: impl Into<String>) -> KeyValue {
    kv(key, any_value::Value::StringValue(v.into()))
}

fn i(key: &str, v: u64) -> KeyValue {
    kv(
        key,
        any_value::Value::IntValue(i64::try_from(v).unwrap_or(i64::MAX)),
    )
}

fn f(key: &str, v: f64) -> KeyValue {
    kv(key, any_value::Value::DoubleValue(v))
}

fn b(key: &str, v: bool) -> KeyValue {
    kv(key, any_value::Value::BoolValue(v))
}

fn cut(text: &str) -> String {
    if text.len() <= MAX_TEXT {
        return text.to_string();
    }
    let mut end = MAX_TEXT;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    format!(
        "{}… [cut, {} bytes]",
        text.get(..end).unwrap_or(""),
        text.len()
    )
}

fn json_text(v: serde_json::Value) -> String {
    v.to_string()
}

fn token_attrs(out: &mut Vec<KeyValue>, t: &TokenUsage) {
    out.push(i(
        "gen_ai.usage.input_tokens",
        t.input + t.cache_read + t.cache_write,
    ));
    out.push(i("gen_ai.usage.output_tokens", t.output));
    out.push(i("gen_ai.usage.cache_read.input_tokens", t.cache_read));
    out.push(i("gen_ai.usage.cache_creation.input_tokens", t.cache_write));
    out.push(i("aimux.tokens.input", t.input));
    out.push(i("aimux.tokens.output", t.output));
    out.push(i("aimux.tokens.cache_read", t.cache_read));
    out.push(i("aimux.tokens.cache_write", t.cache_write));
    out.push(i("aimux.tokens.total", t.total()));
}

fn parse_ts(t: Option<&str>) -> Option<Timestamp> {
    t.and_then(|t| DateTime::parse_from_rfc3339(t).ok())
        .map(|t| t.with_timezone(&Utc))
}

fn nanos(t: Timestamp) -> u64 {
    t.timestamp_nanos_opt()
        .and_then(|n| u64::try_from(n).ok())
        .unwrap_or(0)
}

/// Known start/end or the parent's, with flags saying which were unknown.
fn bounds(
    start: Option<Timestamp>,
    end: Option<Timestamp>,
    parent: (Timestamp, Timestamp),
    attrs: &mut Vec<KeyValue>,
) -> (Timestamp, Timestamp) {
    let st = start.unwrap_or(parent.0);
    let mut en = end.unwrap_or(parent.1);
    if en < st {
        en = st;
    }
    if start.is_none() || end.is_none() {
        attrs.push(b("aimux.time_unknown", true));
        if start.is_none() {
            attrs.push(b("aimux.start_time_unknown", true));
        }
        if end.is_none() {
            attrs.push(b("aimux.end_time_unknown", true));
        }
    }
    (st, en)
}

fn turn_key(session: &str, t: &TraceTurn) -> String {
    format!(
        "{session}/turn/{}/{}",
        t.subagent.as_deref().unwrap_or(""),
        t.id
    )
}

/// Builds the OTLP trace of a session.
pub fn build_trace(trace: &Trace) -> ExportTraceServiceRequest {
    let row = &trace.session;
    let tid = trace_id(row.provider, &row.id).to_vec();
    let root_id = span_id(&format!("{}/session", row.id));
    let system = gen_ai_system(row.provider);

    let turn_starts: Vec<Timestamp> = trace
        .turns
        .iter()
        .filter_map(|t| parse_ts(t.started_at.as_deref()))
        .collect();
    let turn_ends: Vec<Timestamp> = trace
        .turns
        .iter()
        .filter_map(|t| {
            parse_ts(t.ended_at.as_deref()).or_else(|| parse_ts(t.started_at.as_deref()))
        })
        .collect();
    let s_start = turn_starts
        .iter()
        .min()
        .copied()
        .or_else(|| parse_ts(row.started_at.as_deref()));
    let s_end = turn_ends
        .iter()
        .max()
        .copied()
        .or_else(|| parse_ts(row.last_activity.as_deref()));
    let mut root_attrs = Vec::new();
    let fallback = Utc::now();
    let (r_start, r_end) = bounds(
        s_start,
        s_end,
        (
            s_start.or(s_end).unwrap_or(fallback),
            s_end.or(s_start).unwrap_or(fallback),
        ),
        &mut root_attrs,
    );
    root_attrs.push(s("gen_ai.system", system));
    root_attrs.push(s("gen_ai.operation.name", "invoke_agent"));
    root_attrs.push(s("gen_ai.conversation.id", row.id.clone()));
    if let Some(m) = &row.model {
        root_attrs.push(s("gen_ai.request.model", m.clone()));
    }
    token_attrs(&mut root_attrs, &row.tokens);
    root_attrs.push(s("aimux.session.id", row.id.clone()));
    root_attrs.push(s("aimux.provider", row.provider.as_str()));
    if let Some(p) = &row.project {
        root_attrs.push(s("aimux.project", p.clone()));
    }
    if let Some(c) = &row.cwd {
        root_attrs.push(s("aimux.cwd", c.clone()));
    }
    if let Some(t) = &row.title {
        root_attrs.push(s("aimux.title", cut(t)));
    }
    if let Some(c) = row.cost_usd {
        root_attrs.push(f("aimux.cost_usd", c));
    }
    root_attrs.push(i("aimux.turns", trace.turns.len() as u64));
    root_attrs.push(i("aimux.tool_calls", row.tool_calls));
    let models: Vec<String> = row.models.iter().map(|m| m.model.clone()).collect();
    root_attrs.push(s("aimux.models", models.join(",")));
    let (good, bad, waste) = (
        row.annotations.good,
        row.annotations.bad,
        row.annotations.waste,
    );
    let labelled: Vec<&TraceTurn> = trace
        .turns
        .iter()
        .filter(|t| t.annotation.is_some())
        .collect();
    root_attrs.push(i(
        "aimux.feedback.good",
        labelled
            .iter()
            .filter(|t| {
                t.annotation
                    .as_ref()
                    .is_some_and(|a| a.label.as_str() == "good")
            })
            .count()
            .max(good) as u64,
    ));
    root_attrs.push(i(
        "aimux.feedback.bad",
        labelled
            .iter()
            .filter(|t| {
                t.annotation
                    .as_ref()
                    .is_some_and(|a| a.label.as_str() == "bad")
            })
            .count()
            .max(bad) as u64,
    ));
    root_attrs.push(i(
        "aimux.feedback.waste",
        labelled
            .iter()
            .filter(|t| {
                t.annotation
                    .as_ref()
                    .is_some_and(|a| a.label.as_str() == "waste")
            })
            .count()
            .max(waste) as u64,
    ));
    root_attrs.push(s("mlflow.spanType", "AGENT"));
    if let Some(first) = trace.turns.iter().find(|t| t.subagent.is_none()) {
        root_attrs.push(s(
            "mlflow.spanInputs",
            json_text(serde_json::json!({"prompt": cut(&first.user)})),
        ));
    }
    if let Some(last) = trace.turns.iter().rev().find(|t| t.subagent.is_none()) {
        root_attrs.push(s(
            "mlflow.spanOutputs",
            json_text(serde_json::json!({"response": cut(&last.output)})),
        ));
    }

    let mut spans = vec![Span {
        trace_id: tid.clone(),
        span_id: root_id.to_vec(),
        name: format!("{} session", row.provider.as_str()),
        kind: span::SpanKind::Internal as i32,
        start_time_unix_nano: nanos(r_start),
        end_time_unix_nano: nanos(r_end),
        attributes: root_attrs,
        ..Span::default()
    }];

    for t in &trace.turns {
        let key = turn_key(&row.id, t);
        let sid = span_id(&key);
        let mut attrs = Vec::new();
        let (t_start, t_end) = bounds(
            parse_ts(t.started_at.as_deref()),
            parse_ts(t.ended_at.as_deref()),
            (r_start, r_end),
            &mut attrs,
        );
        attrs.push(s("gen_ai.system", system));
        attrs.push(s("gen_ai.operation.name", "chat"));
        attrs.push(s("gen_ai.conversation.id", row.id.clone()));
        if let Some(m) = &t.model {
            attrs.push(s("gen_ai.request.model", m.clone()));
            attrs.push(s("gen_ai.response.model", m.clone()));
        }
        token_attrs(&mut attrs, &t.tokens);
        attrs.push(s("aimux.session.id", row.id.clone()));
        attrs.push(i("aimux.turn.number", u64::from(t.number)));
        attrs.push(s("aimux.turn.id", t.id.clone()));
        if let Some(sa) = &t.subagent {
            attrs.push(s("aimux.subagent", sa.clone()));
        }
        if let Some(c) = t.cost_usd {
            attrs.push(f("aimux.cost_usd", c));
        }
        attrs.push(s(
            "aimux.models",
            t.models
                .iter()
                .map(|m| m.model.clone())
                .collect::<Vec<_>>()
                .join(","),
        ));
        attrs.push(i("aimux.tool_calls", t.tools.len() as u64));
        if let Some(a) = &t.annotation {
            attrs.push(s("aimux.feedback.value", a.label.as_str()));
            if let Some(n) = &a.note {
                attrs.push(s("aimux.feedback.rationale", cut(n)));
            }
            attrs.push(s("aimux.feedback.timestamp", a.timestamp.clone()));
        }
        attrs.push(s("mlflow.spanType", "CHAT_MODEL"));
        attrs.push(s(
            "mlflow.spanInputs",
            json_text(serde_json::json!({"prompt": cut(&t.user)})),
        ));
        attrs.push(s(
            "mlflow.spanOutputs",
            json_text(serde_json::json!({"response": cut(&t.output)})),
        ));
        let failed = t.tools.iter().filter(|x| x.success == Some(false)).count();
        spans.push(Span {
            trace_id: tid.clone(),
            span_id: sid.to_vec(),
            parent_span_id: root_id.to_vec(),
            name: format!("turn {}", t.number),
            kind: span::SpanKind::Internal as i32,
            start_time_unix_nano: nanos(t_start),
            end_time_unix_nano: nanos(t_end),
            attributes: attrs,
            status: (failed > 0).then(|| Status {
                code: status::StatusCode::Unset as i32,
                message: format!("{failed} failed tool call(s)"),
            }),
            ..Span::default()
        });
        for (n, tool) in t.tools.iter().enumerate() {
            spans.push(tool_span(
                &tid,
                &key,
                sid,
                n,
                tool,
                (t_start, t_end),
                system,
            ));
        }
    }
    ExportTraceServiceRequest {
        resource_spans: vec![ResourceSpans {
            resource: Some(Resource {
                attributes: vec![
                    s("service.name", "aimux"),
                    s("service.version", env!("CARGO_PKG_VERSION")),
                ],
                ..Resource::default()
            }),
            scope_spans: vec![ScopeSpans {
                scope: Some(InstrumentationScope {
                    name: "aimux.export".into(),
                    version: env!("CARGO_PKG_VERSION").into(),
                    ..InstrumentationScope::default()
                }),
                spans,
                ..ScopeSpans::default()
            }],
            ..ResourceSpans::default()
        }],
    }
}

fn tool_span(
    tid: &[u8],
    turn_key: &str,
    parent: [u8; 8],
    n: usize,
    tool: &TraceTool,
    parent_bounds: (Timestamp, Timestamp),
    system: &str,
) -> Span {
    let mut attrs = Vec::new();
    let (st, en) = bounds(
        parse_ts(tool.started_at.as_deref()),
        parse_ts(tool.ended_at.as_deref()),
        parent_bounds,
        &mut attrs,
    );
    attrs.push(s("gen_ai.system", system));
    attrs.push(s("gen_ai.operation.name", "execute_tool"));
    attrs.push(s("gen_ai.tool.name", tool.name.clone()));
    attrs.push(s("gen_ai.tool.call.id", tool.id.clone()));
    if let Some(ok) = tool.success {
        attrs.push(b("aimux.tool.success", ok));
    }
    if let Some(e) = &tool.error {
        attrs.push(s("aimux.tool.error", cut(e)));
    }
    attrs.push(s("mlflow.spanType", "TOOL"));
    attrs.push(s("mlflow.spanInputs", cut(&tool.input)));
    if let Some(o) = &tool.output {
        attrs.push(s(
            "mlflow.spanOutputs",
            json_text(serde_json::Value::String(cut(o))),
        ));
    }
    Span {
        trace_id: tid.to_vec(),
        span_id: span_id(&format!("{turn_key}/tool/{}/{n}", tool.id)).to_vec(),
        parent_span_id: parent.to_vec(),
        name: if tool.name.is_empty() {
            "tool".into()
        } else {
            tool.name.clone()
        },
        kind: span::SpanKind::Internal as i32,
        start_time_unix_nano: nanos(st),
        end_time_unix_nano: nanos(en),
        attributes: attrs,
        status: Some(Status {
            code: match tool.success {
                Some(true) => status::StatusCode::Ok as i32,
                Some(false) => status::StatusCode::Error as i32,
                None => status::StatusCode::Unset as i32,
            },
            message: tool.error.clone().map(|e| cut(&e)).unwrap_or_default(),
        }),
        ..Span::default()
    }
}

/// Where and how to send traces (config `export.*`).
#[derive(Debug, Clone, Default)]
pub struct ExportConfig {
    /// Base URL (`http://host:port`) or the full `…/v1/traces` URL.
    pub endpoint: String,
    pub headers: Vec<(String, String)>,
    /// Skip TLS certificate verification.
    pub insecure: bool,
    /// Sent as `x-mlflow-experiment-id`.
    pub mlflow_experiment_id: Option<String>,
    pub timeout: Option<Duration>,
}

#[derive(Debug, thiserror::Error)]
pub enum ExportError {
    #[error("cannot reach {url}: {message}")]
    Transport { url: String, message: String },
    #[error("{url} answered {status}: {body}")]
    Status {
        url: String,
        status: u16,
        body: String,
    },
    #[error("cannot write {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

#[derive(Debug, Clone, Serialize)]
pub struct ExportResult {
    pub url: String,
    pub status: u16,
    pub trace_id: String,
    pub spans: usize,
    pub response: String,
}

pub fn traces_url(endpoint: &str) -> String {
    let e = endpoint.trim().trim_end_matches('/');
    if e.ends_with("/v1/traces") {
        e.to_string()
    } else {
        format!("{e}/v1/traces")
    }
}

/// Sends the session's trace as OTLP/HTTP protobuf.
pub fn send_trace(trace: &Trace, cfg: &ExportConfig) -> Result<ExportResult, ExportError> {
    let req = build_trace(trace);
    let spans = req
        .resource_spans
        .iter()
        .flat_map(|r| r.scope_spans.iter())
        .map(|s| s.spans.len())
        .sum();
    let body = req.encode_to_vec();
    let url = traces_url(&cfg.endpoint);
    let mut builder = ureq::Agent::config_builder()
        .http_status_as_error(false)
        .timeout_global(Some(cfg.timeout.unwrap_or(Duration::from_secs(30))));
    if cfg.insecure {
        builder = builder.tls_config(
            ureq::tls::TlsConfig::builder()
                .disable_verification(true)
                .build(),
        );
    }
    let agent: ureq::Agent = builder.build().into();
    let mut r = agent
        .post(&url)
        .header("Content-Type", "application/x-protobuf");
    for (k, v) in &cfg.headers {
        r = r.header(k.as_str(), v.as_str());
    }
    if let Some(x) = &cfg.mlflow_experiment_id {
        r = r.header("x-mlflow-experiment-id", x.as_str());
    }
    let mut resp = r.send(&body[..]).map_err(|e| ExportError::Transport {
        url: url.clone(),
        message: e.to_string(),
    })?;
    let status = resp.status().as_u16();
    let text = resp
        .body_mut()
        .with_config()
        .limit(1024 * 1024)
        .read_to_string()
        .unwrap_or_default();
    if !(200..300).contains(&status) {
        return Err(ExportError::Status {
            url,
            status,
            body: text.chars().take(2000).collect(),
        });
    }
    Ok(ExportResult {
        url,
        status,
        trace_id: hex(&trace_id(trace.session.provider, &trace.session.id)),
        spans,
        response: text.chars().take(2000).collect(),
    })
}

fn duration_ms(a: Option<&str>, b: Option<&str>) -> Option<i64> {
    Some((parse_ts(b)? - parse_ts(a)?).num_milliseconds())
}

/// One line per turn: input, output, tool actions, tokens, cost, duration, label, note.
pub fn jsonl_lines(trace: &Trace) -> Vec<serde_json::Value> {
    let row = &trace.session;
    trace
        .turns
        .iter()
        .map(|t| {
            serde_json::json!({
                "session_id": row.id,
                "provider": row.provider,
                "project": row.project,
                "turn": t.number,
                "turn_id": t.id,
                "subagent": t.subagent,
                "model": t.model,
                "started_at": t.started_at,
                "ended_at": t.ended_at,
                "duration_ms": duration_ms(t.started_at.as_deref(), t.ended_at.as_deref()),
                "input": t.user,
                "output": t.output,
                "tools": t.tools.iter().map(|x| serde_json::json!({
                    "id": x.id,
                    "name": x.name,
                    "input": x.input,
                    "output": x.output,
                    "success": x.success,
                    "error": x.error,
                    "started_at": x.started_at,
                    "ended_at": x.ended_at,
                    "duration_ms": duration_ms(x.started_at.as_deref(), x.ended_at.as_deref()),
                })).collect::<Vec<_>>(),
                "tokens": t.tokens,
                "cost_usd": t.cost_usd,
                "label": t.annotation.as_ref().map(|a| a.label.as_str()),
                "note": t.annotation.as_ref().and_then(|a| a.note.clone()),
            })
        })
        .collect()
}

/// Writes `<dir>/<session>.jsonl` (replacing an earlier export atomically).
pub fn write_jsonl(trace: &Trace, dir: &Path) -> Result<PathBuf, ExportError> {
    let safe: String = trace
        .session
        .id
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.') {
                c
            } else {
                '_'
            }
        })
        .collect();
    let safe = safe.trim_start_matches('.').to_string();
    let path = dir.join(format!("{safe}.jsonl"));
    let io = |source| ExportError::Io {
        path: path.clone(),
        source,
    };
    std::fs::create_dir_all(dir).map_err(io)?;
    let mut text = String::new();
    for l in jsonl_lines(trace) {
        text.push_str(&l.to_string());
        text.push('\n');
    }
    let tmp = dir.join(format!(".{safe}.jsonl.tmp"));
    std::fs::write(&tmp, text).map_err(io)?;
    std::fs::rename(&tmp, &path).map_err(io)?;
    Ok(path)
}
