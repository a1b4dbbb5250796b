//! Telemetry mapped onto the session model, keyed by (provider, session id), kept within a
//! memory budget (the least recently updated conversations are evicted first).
//!
//! What each CLI sends (observed with claude-code 2.1.197, codex 0.171.0, gemini-cli 0.61.0):
//! * Claude Code logs: `user_prompt`, `api_request` (tokens, `cost_usd`), `assistant_response`,
//!   `tool_decision`, `tool_result`, keyed by `session.id` + `prompt.id`; metrics are DELTA sums
//!   (`claude_code.token.usage`, `claude_code.cost.usage`).
//! * Codex logs: `codex.user_prompt`, `codex.sse_event` (`response.completed` carries token
//!   counts), `codex.tool_decision`, `codex.tool_result`, keyed by `conversation.id`.
//! * Gemini CLI logs (`gemini_cli.user_prompt`, `gemini_cli.api_response`,
//!   `gemini_cli.tool_call`), metrics and spans, keyed by `session.id`.

use super::decode::{attr_map, value_text};
use super::proto::collector::logs::v1::ExportLogsServiceRequest;
use super::proto::collector::metrics::v1::ExportMetricsServiceRequest;
use super::proto::collector::trace::v1::ExportTraceServiceRequest;
use super::proto::metrics::v1::{metric, number_data_point};
use aimux_core::{ModelUsage, ParsedSession, Provider, Timestamp, TokenUsage, ToolCall, Turn};
use chrono::{DateTime, Utc};
use serde::Serialize;
use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::sync::Mutex;

/// Attributes that carry prompt/response/tool content: stored only when prompt logging is on.
const CONTENT_KEYS: &[&str] = &[
    "prompt",
    "response",
    "request_text",
    "response_text",
    "tool_parameters",
    "tool_input",
    "arguments",
    "output",
    "function_args",
    "gen_ai.input.messages",
    "gen_ai.output.messages",
    "gen_ai.system_instructions",
];

#[derive(Debug, Clone)]
pub struct TelemetryConfig {
    /// Memory budget for everything stored, in bytes (estimated).
    pub budget_bytes: usize,
    /// Keep prompt/response/tool text (the user enabled prompt logging).
    pub log_prompts: bool,
    /// Raw events kept per conversation for `/debug?events=1`.
    pub max_events_per_session: usize,
}

impl Default for TelemetryConfig {
    fn default() -> Self {
        TelemetryConfig {
            budget_bytes: 64 * 1024 * 1024,
            log_prompts: false,
            max_events_per_session: 200,
        }
    }
}

/// One received log record, span or data point, as text.
#[derive(Debug, Clone, Serialize)]
pub struct TelEvent {
    pub kind: &'static str,
    pub name: String,
    pub time: Option<String>,
    pub attributes: BTreeMap<String, String>,
}

/// A turn as telemetry saw it.
#[derive(Debug, Clone, Default, Serialize)]
pub struct TelTurn {
    /// The provider key of the turn (`prompt.id`, or a sequence number for Codex).
    pub key: String,
    pub turn: Turn,
    /// Cost the provider itself reported (Claude's `cost_usd`).
    pub cost_usd: Option<f64>,
}

/// Everything telemetry knows about one conversation.
#[derive(Debug, Clone, Serialize)]
pub struct TelemetrySession {
    pub provider: Provider,
    pub id: String,
    pub service: Option<String>,
    pub first_seen: Option<Timestamp>,
    pub last_seen: Option<Timestamp>,
    pub turns: Vec<TelTurn>,
    /// Tokens from delta-sum metrics, per model (a cross-check and a fallback when no
    /// log events arrive).
    pub metric_tokens: Vec<ModelUsage>,
    pub metric_cost_usd: f64,
    pub events: VecDeque<TelEvent>,
    #[serde(skip)]
    seen_requests: HashSet<String>,
    #[serde(skip)]
    bytes: usize,
    #[serde(skip)]
    touched: u64,
}

/// Totals for one conversation (for lists and `/debug/sessions`).
#[derive(Debug, Clone, Serialize)]
pub struct TelemetrySummary {
    pub provider: Provider,
    pub id: String,
    pub turns: usize,
    pub tool_calls: usize,
    pub tokens: TokenUsage,
    pub model: Option<String>,
    /// Cost the provider reported, when it reports one (Claude Code).
    pub cost_usd: Option<f64>,
    pub metric_tokens: TokenUsage,
    pub metric_cost_usd: f64,
    pub first_seen: Option<String>,
    pub last_seen: Option<String>,
}

/// What one export request did to the store.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Ingest {
    pub accepted: u64,
    /// Records that could not be attributed to a conversation.
    pub rejected: u64,
    pub error: Option<String>,
}

impl TelemetrySession {
    fn new(provider: Provider, id: &str) -> TelemetrySession {
        TelemetrySession {
            provider,
            id: id.to_string(),
            service: None,
            first_seen: None,
            last_seen: None,
            turns: Vec::new(),
            metric_tokens: Vec::new(),
            metric_cost_usd: 0.0,
            events: VecDeque::new(),
            seen_requests: HashSet::new(),
            bytes: 256 + id.len(),
            touched: 0,
        }
    }

    pub fn tokens(&self) -> TokenUsage {
        let mut t = TokenUsage::default();
        for x in &self.turns {
            t += x.turn.tokens;
        }
        t
    }

    /// The provider-reported cost over all turns; `None` if no turn reported one.
    pub fn reported_cost(&self) -> Option<f64> {
        let costs: Vec<f64> = self.turns.iter().filter_map(|t| t.cost_usd).collect();
        if costs.is_empty() {
            None
        } else {
            Some(costs.iter().sum())
        }
    }

    pub fn summary(&self) -> TelemetrySummary {
        let mut metric = TokenUsage::default();
        for m in &self.metric_tokens {
            metric += m.tokens;
        }
        TelemetrySummary {
            provider: self.provider,
            id: self.id.clone(),
            turns: self.turns.len(),
            tool_calls: self.turns.iter().map(|t| t.turn.tools.len()).sum(),
            tokens: self.tokens(),
            model: self.to_parsed().main_model(),
            cost_usd: self.reported_cost(),
            metric_tokens: metric,
            metric_cost_usd: self.metric_cost_usd,
            first_seen: self.first_seen.map(|t| t.to_rfc3339()),
            last_seen: self.last_seen.map(|t| t.to_rfc3339()),
        }
    }

    /// The conversation as a parsed session (turns in time order, numbered from 1).
    pub fn to_parsed(&self) -> ParsedSession {
        let mut turns: Vec<Turn> = self.turns.iter().map(|t| t.turn.clone()).collect();
        turns.sort_by_key(|t| t.started_at);
        for (i, t) in turns.iter_mut().enumerate() {
            t.number = i as u32 + 1;
        }
        ParsedSession {
            id: Some(self.id.clone()),
            started_at: self.first_seen,
            last_activity: self.last_seen,
            turns,
            ..ParsedSession::default()
        }
    }

    fn note_time(&mut self, ts: Option<Timestamp>) {
        if let Some(ts) = ts {
            if self.first_seen.is_none_or(|f| ts < f) {
                self.first_seen = Some(ts);
            }
            if self.last_seen.is_none_or(|l| ts > l) {
                self.last_seen = Some(ts);
            }
        }
    }

    fn turn_mut(&mut self, key: &str, ts: Option<Timestamp>) -> &mut TelTurn {
        let pos = match self.turns.iter().position(|t| t.key == key) {
            Some(p) => p,
            None => {
                self.bytes += 256 + key.len();
                self.turns.push(TelTurn {
                    key: key.to_string(),
                    turn: Turn {
                        id: key.to_string(),
                        number: self.turns.len() as u32 + 1,
                        started_at: ts,
                        ..Turn::default()
                    },
                    cost_usd: None,
                });
                self.turns.len() - 1
            }
        };
        let t = &mut self.turns[pos];
        if let Some(ts) = ts
            && t.turn.started_at.is_none_or(|s| ts < s)
        {
            t.turn.started_at = Some(ts);
        }
        t
    }

    /// The turn Codex events go to: the latest one (Codex sends no turn id).
    fn last_turn_key(&self) -> Option<String> {
        self.turns.last().map(|t| t.key.clone())
    }
}

fn tool_mut<'a>(turn: &'a mut Turn, id: &str, bytes: &mut usize) -> &'a mut ToolCall {
    let pos = match turn.tools.iter().position(|t| t.id == id) {
        Some(p) => p,
        None => {
            *bytes += 160 + id.len();
            turn.tools.push(ToolCall {
                id: id.to_string(),
                ..ToolCall::default()
            });
            turn.tools.len() - 1
        }
    };
    &mut turn.tools[pos]
}

fn note_end(turn: &mut Turn, ts: Option<Timestamp>) {
    if let Some(ts) = ts
        && turn.ended_at.is_none_or(|e| ts > e)
    {
        turn.ended_at = Some(ts);
    }
}

struct Inner {
    sessions: HashMap<(Provider, String), TelemetrySession>,
    bytes: usize,
    clock: u64,
    evicted: u64,
}

pub struct TelemetryStore {
    cfg: TelemetryConfig,
    inner: Mutex<Inner>,
}

fn nanos_to_ts(n: u64) -> Option<Timestamp> {
    if n == 0 {
        return None;
    }
    let secs = (n / 1_000_000_000) as i64;
    let nsec = (n % 1_000_000_000) as u32;
    DateTime::<Utc>::from_timestamp(secs, nsec)
}

fn num(attrs: &BTreeMap<String, String>, key: &str) -> Option<f64> {
    attrs.get(key).and_then(|v| v.trim().parse::<f64>().ok())
}

fn uint(attrs: &BTreeMap<String, String>, key: &str) -> u64 {
    num(attrs, key)
        .map(|f| if f > 0.0 { f as u64 } else { 0 })
        .unwrap_or(0)
}

fn boolean(attrs: &BTreeMap<String, String>, key: &str) -> Option<bool> {
    match attrs
        .get(key)
        .map(|s| s.trim().to_ascii_lowercase())
        .as_deref()
    {
        Some("true") | Some("1") | Some("success") => Some(true),
        Some("false") | Some("0") | Some("failure") | Some("error") => Some(false),
        _ => None,
    }
}

fn text_size(attrs: &BTreeMap<String, String>) -> usize {
    attrs.iter().map(|(k, v)| k.len() + v.len() + 48).sum()
}

/// Which CLI sent a record, from the resource's `service.name`, the scope and the event.
fn provider_of(service: Option<&str>, scope: &str, event: &str) -> Option<Provider> {
    let s = service.unwrap_or("");
    if s.starts_with("claude") || scope.starts_with("com.anthropic.claude_code") {
        Some(Provider::Claude)
    } else if s.starts_with("codex") || scope.starts_with("codex") || event.starts_with("codex.") {
        Some(Provider::Codex)
    } else if s.starts_with("gemini") || event.starts_with("gemini_cli.") {
        Some(Provider::Gemini)
    } else {
        None
    }
}

fn session_key(
    provider: Provider,
    attrs: &BTreeMap<String, String>,
    resource: &BTreeMap<String, String>,
) -> Option<String> {
    let keys: &[&str] = match provider {
        Provider::Codex => &["conversation.id", "session.id", "thread.id"],
        _ => &["session.id", "gen_ai.conversation.id"],
    };
    keys.iter()
        .find_map(|k| attrs.get(*k).or_else(|| resource.get(*k)))
        .filter(|s| !s.trim().is_empty())
        .cloned()
}

impl TelemetryStore {
    pub fn new(cfg: TelemetryConfig) -> TelemetryStore {
        TelemetryStore {
            cfg,
            inner: Mutex::new(Inner {
                sessions: HashMap::new(),
                bytes: 0,
                clock: 0,
                evicted: 0,
            }),
        }
    }

    pub fn config(&self) -> &TelemetryConfig {
        &self.cfg
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Applies `f` to the conversation, creating it if needed, and keeps the budget.
    fn with_session(
        &self,
        provider: Provider,
        id: &str,
        service: Option<&str>,
        f: impl FnOnce(&mut TelemetrySession, bool),
    ) {
        let log_prompts = self.cfg.log_prompts;
        let mut inner = self.lock();
        inner.clock += 1;
        let clock = inner.clock;
        let key = (provider, id.to_string());
        let is_new = !inner.sessions.contains_key(&key);
        let s = inner
            .sessions
            .entry(key)
            .or_insert_with(|| TelemetrySession::new(provider, id));
        let before = if is_new { 0 } else { s.bytes };
        if s.service.is_none() {
            s.service = service.map(str::to_string);
        }
        f(s, log_prompts);
        s.touched = clock;
        let after = s.bytes;
        inner.bytes = inner.bytes.saturating_sub(before) + after;
        self.evict(&mut inner);
    }

    fn evict(&self, inner: &mut Inner) {
        while inner.bytes > self.cfg.budget_bytes && inner.sessions.len() > 1 {
            let Some(oldest) = inner
                .sessions
                .iter()
                .min_by_key(|(_, s)| s.touched)
                .map(|(k, _)| k.clone())
            else {
                break;
            };
            if let Some(s) = inner.sessions.remove(&oldest) {
                inner.bytes = inner.bytes.saturating_sub(s.bytes);
                inner.evicted += 1;
            }
        }
        // A single conversation over budget: drop its oldest raw events.
        if inner.bytes > self.cfg.budget_bytes {
            let mut freed = 0;
            for s in inner.sessions.values_mut() {
                while s.bytes > self.cfg.budget_bytes / 2 {
                    let Some(e) = s.events.pop_front() else { break };
                    let n = text_size(&e.attributes) + 64;
                    s.bytes = s.bytes.saturating_sub(n);
                    freed += n;
                }
            }
            inner.bytes = inner.bytes.saturating_sub(freed);
        }
    }

    /// Estimated bytes held.
    pub fn memory_used(&self) -> usize {
        self.lock().bytes
    }

    pub fn evicted(&self) -> u64 {
        self.lock().evicted
    }

    pub fn keys(&self) -> Vec<(Provider, String)> {
        let mut k: Vec<_> = self.lock().sessions.keys().cloned().collect();
        k.sort();
        k
    }

    pub fn session(&self, provider: Provider, id: &str) -> Option<TelemetrySession> {
        self.lock()
            .sessions
            .get(&(provider, id.to_string()))
            .cloned()
    }

    /// A conversation by id alone (any provider).
    pub fn find(&self, id: &str) -> Option<TelemetrySession> {
        self.lock().sessions.values().find(|s| s.id == id).cloned()
    }

    pub fn summaries(&self) -> Vec<TelemetrySummary> {
        let inner = self.lock();
        let mut v: Vec<TelemetrySummary> = inner.sessions.values().map(|s| s.summary()).collect();
        v.sort_by(|a, b| b.last_seen.cmp(&a.last_seen));
        v
    }

    /// Stored raw events of every conversation (content attributes only when prompt
    /// logging is on; they are never stored otherwise).
    pub fn events_json(&self) -> serde_json::Value {
        let inner = self.lock();
        let mut out: Vec<serde_json::Value> = inner
            .sessions
            .values()
            .map(|s| {
                serde_json::json!({
                    "provider": s.provider,
                    "session_id": s.id,
                    "summary": s.summary(),
                    "events": s.events,
                })
            })
            .collect();
        out.sort_by_key(|v| v["session_id"].as_str().map(str::to_string));
        serde_json::Value::Array(out)
    }

    fn push_event(s: &mut TelemetrySession, e: TelEvent, max: usize) {
        s.bytes += text_size(&e.attributes) + 64 + e.name.len();
        s.events.push_back(e);
        while s.events.len() > max {
            if let Some(old) = s.events.pop_front() {
                s.bytes = s
                    .bytes
                    .saturating_sub(text_size(&old.attributes) + 64 + old.name.len());
            }
        }
    }

    /// Logs: the event stream of all three CLIs.
    pub fn ingest_logs(&self, req: &ExportLogsServiceRequest) -> Ingest {
        let mut out = Ingest::default();
        for rl in &req.resource_logs {
            let resource = rl
                .resource
                .as_ref()
                .map(|r| attr_map(&r.attributes))
                .unwrap_or_default();
            let service = resource.get("service.name").cloned();
            for sl in &rl.scope_logs {
                let scope = sl.scope.as_ref().map(|s| s.name.as_str()).unwrap_or("");
                for rec in &sl.log_records {
                    let mut attrs = attr_map(&rec.attributes);
                    let body = rec.body.as_ref().map(value_text).unwrap_or_default();
                    let event = attrs
                        .get("event.name")
                        .cloned()
                        .or_else(|| (!rec.event_name.is_empty()).then(|| rec.event_name.clone()))
                        .unwrap_or_else(|| body.clone());
                    let Some(provider) = provider_of(service.as_deref(), scope, &event) else {
                        out.accepted += 1; // not from an agent we follow: accepted, ignored
                        continue;
                    };
                    let Some(sid) = session_key(provider, &attrs, &resource) else {
                        if attrs.contains_key("event.name") {
                            out.rejected += 1;
                            out.error = Some(format!(
                                "{event}: no session id (session.id / conversation.id)"
                            ));
                        } else {
                            out.accepted += 1; // plain tracing logs (Codex) carry no session
                        }
                        continue;
                    };
                    let ts = nanos_to_ts(rec.time_unix_nano)
                        .or_else(|| nanos_to_ts(rec.observed_time_unix_nano))
                        .or_else(|| {
                            attrs
                                .get("event.timestamp")
                                .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
                                .map(|t| t.with_timezone(&Utc))
                        });
                    out.accepted += 1;
                    let max = self.cfg.max_events_per_session;
                    self.with_session(provider, &sid, service.as_deref(), |s, log_prompts| {
                        s.note_time(ts);
                        apply_log(s, provider, &event, &attrs, ts, log_prompts);
                        if !log_prompts {
                            attrs.retain(|k, _| !CONTENT_KEYS.contains(&k.as_str()));
                        }
                        Self::push_event(
                            s,
                            TelEvent {
                                kind: "log",
                                name: event.clone(),
                                time: ts.map(|t| t.to_rfc3339()),
                                attributes: attrs,
                            },
                            max,
                        );
                    });
                }
            }
        }
        out
    }

    /// Metrics: Claude Code's DELTA sums of tokens and cost per session and model; other
    /// metrics are kept as events only.
    pub fn ingest_metrics(&self, req: &ExportMetricsServiceRequest) -> Ingest {
        let mut out = Ingest::default();
        for rm in &req.resource_metrics {
            let resource = rm
                .resource
                .as_ref()
                .map(|r| attr_map(&r.attributes))
                .unwrap_or_default();
            let service = resource.get("service.name").cloned();
            for sm in &rm.scope_metrics {
                let scope = sm.scope.as_ref().map(|s| s.name.as_str()).unwrap_or("");
                for m in &sm.metrics {
                    let (points, delta) = match &m.data {
                        Some(metric::Data::Sum(s)) => {
                            (&s.data_points, s.aggregation_temporality == 1)
                        }
                        Some(metric::Data::Gauge(g)) => (&g.data_points, false),
                        _ => {
                            out.accepted += 1;
                            continue;
                        }
                    };
                    for p in points {
                        let attrs = attr_map(&p.attributes);
                        let value = match p.value {
                            Some(number_data_point::Value::AsDouble(d)) => d,
                            Some(number_data_point::Value::AsInt(i)) => i as f64,
                            None => 0.0,
                        };
                        let Some(provider) = provider_of(service.as_deref(), scope, &m.name) else {
                            out.accepted += 1;
                            continue;
                        };
                        let Some(sid) = session_key(provider, &attrs, &resource) else {
                            out.accepted += 1;
                            continue;
                        };
                        out.accepted += 1;
                        let ts = nanos_to_ts(p.time_unix_nano);
                        let name = m.name.clone();
                        let max = self.cfg.max_events_per_session;
                        self.with_session(provider, &sid, service.as_deref(), |s, _| {
                            s.note_time(ts);
                            if delta && value.is_finite() && value >= 0.0 {
                                apply_metric(s, &name, &attrs, value);
                            }
                            let mut a = attrs.clone();
                            a.insert("value".into(), value.to_string());
                            Self::push_event(
                                s,
                                TelEvent {
                                    kind: "metric",
                                    name,
                                    time: ts.map(|t| t.to_rfc3339()),
                                    attributes: a,
                                },
                                max,
                            );
                        });
                    }
                }
            }
        }
        out
    }

    /// Spans (Gemini CLI): kept as events of their conversation; tool spans give durations.
    pub fn ingest_traces(&self, req: &ExportTraceServiceRequest) -> Ingest {
        let mut out = Ingest::default();
        for rs in &req.resource_spans {
            let resource = rs
                .resource
                .as_ref()
                .map(|r| attr_map(&r.attributes))
                .unwrap_or_default();
            let service = resource.get("service.name").cloned();
            for ss in &rs.scope_spans {
                let scope = ss.scope.as_ref().map(|s| s.name.as_str()).unwrap_or("");
                for span in &ss.spans {
                    let mut attrs = attr_map(&span.attributes);
                    let Some(provider) = provider_of(service.as_deref(), scope, &span.name) else {
                        out.accepted += 1;
                        continue;
                    };
                    let Some(sid) = session_key(provider, &attrs, &resource) else {
                        out.accepted += 1;
                        continue;
                    };
                    out.accepted += 1;
                    let start = nanos_to_ts(span.start_time_unix_nano);
                    let end = nanos_to_ts(span.end_time_unix_nano);
                    let max = self.cfg.max_events_per_session;
                    let name = span.name.clone();
                    self.with_session(provider, &sid, service.as_deref(), |s, log_prompts| {
                        s.note_time(start);
                        s.note_time(end);
                        if !log_prompts {
                            attrs.retain(|k, _| !CONTENT_KEYS.contains(&k.as_str()));
                        }
                        if let (Some(st), Some(en)) = (start, end) {
                            attrs.insert(
                                "duration_ms".into(),
                                (en - st).num_milliseconds().to_string(),
                            );
                        }
                        Self::push_event(
                            s,
                            TelEvent {
                                kind: "span",
                                name,
                                time: start.map(|t| t.to_rfc3339()),
                                attributes: attrs,
                            },
                            max,
                        );
                    });
                }
            }
        }
        out
    }
}

fn apply_metric(s: &mut TelemetrySession, name: &str, attrs: &BTreeMap<String, String>, v: f64) {
    let model = attrs
        .get("model")
        .cloned()
        .unwrap_or_else(|| "unknown".into());
    // Claude labels the 1M-context variant `model[1m]`; the logs say `model`.
    let model = model
        .strip_suffix("[1m]")
        .map(str::to_string)
        .unwrap_or(model);
    match name {
        "claude_code.cost.usage" => s.metric_cost_usd += v,
        "claude_code.token.usage" => {
            let n = v as u64;
            let mut t = TokenUsage::default();
            match attrs.get("type").map(String::as_str) {
                Some("input") => t.input = n,
                Some("output") => t.output = n,
                Some("cacheRead") => t.cache_read = n,
                Some("cacheCreation") => t.cache_write = n,
                _ => return,
            }
            match s.metric_tokens.iter_mut().find(|m| m.model == model) {
                Some(m) => m.tokens += t,
                None => {
                    s.bytes += 64 + model.len();
                    s.metric_tokens.push(ModelUsage { model, tokens: t });
                }
            }
        }
        _ => {}
    }
}

fn content(attrs: &BTreeMap<String, String>, key: &str, log_prompts: bool) -> Option<String> {
    if log_prompts {
        attrs.get(key).cloned()
    } else {
        None
    }
}

fn apply_log(
    s: &mut TelemetrySession,
    provider: Provider,
    event: &str,
    a: &BTreeMap<String, String>,
    ts: Option<Timestamp>,
    log_prompts: bool,
) {
    let event = event.strip_prefix("claude_code.").unwrap_or(event);
    match provider {
        Provider::Claude => apply_claude(s, event, a, ts, log_prompts),
        Provider::Codex => apply_codex(s, event, a, ts, log_prompts),
        Provider::Gemini => apply_gemini(s, event, a, ts, log_prompts),
        Provider::Opencode => {}
    }
}

fn start_from_duration(end: Option<Timestamp>, ms: Option<f64>) -> Option<Timestamp> {
    let (end, ms) = (end?, ms?);
    if !(0.0..1e12).contains(&ms) {
        return None;
    }
    Some(end - chrono::Duration::milliseconds(ms as i64))
}

fn apply_claude(
    s: &mut TelemetrySession,
    event: &str,
    a: &BTreeMap<String, String>,
    ts: Option<Timestamp>,
    log_prompts: bool,
) {
    let key = a
        .get("prompt.id")
        .cloned()
        .unwrap_or_else(|| "no-prompt-id".into());
    match event {
        "user_prompt" => {
            let text = content(a, "prompt", log_prompts);
            let t = s.turn_mut(&key, ts);
            if let Some(text) = text {
                t.turn.user = text;
            }
            let n = t.turn.user.len();
            s.bytes += n;
        }
        "api_request" => {
            if let Some(rid) = a.get("request_id") {
                if !s.seen_requests.insert(rid.clone()) {
                    return; // the same request reported twice
                }
                s.bytes += rid.len() + 32;
            }
            let tokens = TokenUsage {
                input: uint(a, "input_tokens"),
                output: uint(a, "output_tokens"),
                cache_read: uint(a, "cache_read_tokens"),
                cache_write: uint(a, "cache_creation_tokens"),
            };
            let cost = num(a, "cost_usd").filter(|c| c.is_finite() && *c >= 0.0);
            let model = a.get("model").cloned();
            let start = start_from_duration(ts, num(a, "duration_ms"));
            let t = s.turn_mut(&key, start.or(ts));
            t.turn.add_usage(model.as_deref(), tokens);
            if let Some(c) = cost {
                t.cost_usd = Some(t.cost_usd.unwrap_or(0.0) + c);
            }
            note_end(&mut t.turn, ts);
        }
        "assistant_response" => {
            let text = content(a, "response", log_prompts);
            let t = s.turn_mut(&key, ts);
            if let Some(text) = text {
                if !t.turn.output.is_empty() {
                    t.turn.output.push('\n');
                }
                t.turn.output.push_str(&text);
                s.bytes += text.len();
            }
            let t = s.turn_mut(&key, None);
            note_end(&mut t.turn, ts);
        }
        "tool_decision" | "tool_result" => {
            let id = a.get("tool_use_id").cloned().unwrap_or_else(|| {
                format!(
                    "{key}-tool-{}",
                    a.get("event.sequence").map(String::as_str).unwrap_or("?")
                )
            });
            let input = content(a, "tool_parameters", log_prompts)
                .or_else(|| content(a, "tool_input", log_prompts));
            let mut bytes = 0;
            let t = s.turn_mut(&key, ts);
            let tool = tool_mut(&mut t.turn, &id, &mut bytes);
            if let Some(n) = a.get("tool_name") {
                tool.name = n.clone();
            }
            if let Some(i) = input
                && tool.input.is_empty()
            {
                bytes += i.len();
                tool.input = i;
            }
            if event == "tool_result" {
                tool.success = boolean(a, "success");
                tool.ended_at = ts;
                tool.started_at = start_from_duration(ts, num(a, "duration_ms"));
                if tool.success == Some(false) {
                    tool.error = a.get("error").cloned();
                }
            } else if a.get("decision").is_some_and(|d| d == "reject") {
                tool.success = Some(false);
                tool.error = Some("rejected".into());
            }
            note_end(&mut t.turn, ts);
            s.bytes += bytes;
        }
        _ => {}
    }
}

fn apply_codex(
    s: &mut TelemetrySession,
    event: &str,
    a: &BTreeMap<String, String>,
    ts: Option<Timestamp>,
    log_prompts: bool,
) {
    match event {
        "codex.user_prompt" => {
            let key = format!("codex-turn-{}", s.turns.len() + 1);
            let text = content(a, "prompt", log_prompts);
            let t = s.turn_mut(&key, ts);
            if let Some(text) = text {
                t.turn.user = text;
            }
            let n = t.turn.user.len();
            s.bytes += n;
        }
        "codex.sse_event" | "codex.tool_decision" | "codex.tool_result" | "codex.api_request" => {
            let key = s.last_turn_key().unwrap_or_else(|| "codex-turn-1".into());
            let mut bytes = 0;
            let t = s.turn_mut(&key, ts);
            match event {
                "codex.sse_event"
                    if a.get("event.kind").map(String::as_str) == Some("response.completed") =>
                {
                    let prompt = uint(a, "input_token_count");
                    let cached = uint(a, "cached_token_count");
                    // Codex's input count includes cached and cache-write tokens.
                    let written = uint(a, "cache_write_token_count");
                    let tokens = TokenUsage {
                        input: prompt.saturating_sub(cached).saturating_sub(written),
                        output: uint(a, "output_token_count"),
                        cache_read: cached,
                        cache_write: written,
                    };
                    t.turn.add_usage(a.get("model").map(String::as_str), tokens);
                }
                "codex.tool_decision" | "codex.tool_result" => {
                    let id = a.get("call_id").cloned().unwrap_or_default();
                    let args = content(a, "arguments", log_prompts);
                    let output = content(a, "output", log_prompts);
                    let tool = tool_mut(&mut t.turn, &id, &mut bytes);
                    if let Some(n) = a.get("tool_name") {
                        tool.name = n.clone();
                    }
                    if let Some(x) = args {
                        bytes += x.len();
                        tool.input = x;
                    }
                    if event == "codex.tool_result" {
                        if let Some(o) = output {
                            bytes += o.len();
                            tool.output = Some(o);
                        }
                        tool.success = boolean(a, "success");
                        tool.ended_at = ts;
                        tool.started_at = start_from_duration(ts, num(a, "duration_ms"));
                    }
                }
                _ => {}
            }
            note_end(&mut t.turn, ts);
            s.bytes += bytes;
        }
        _ => {}
    }
}

fn apply_gemini(
    s: &mut TelemetrySession,
    event: &str,
    a: &BTreeMap<String, String>,
    ts: Option<Timestamp>,
    log_prompts: bool,
) {
    let key = a
        .get("prompt_id")
        .cloned()
        .or_else(|| s.last_turn_key())
        .unwrap_or_else(|| "gemini-turn-1".into());
    match event {
        "gemini_cli.user_prompt" => {
            let text = content(a, "prompt", log_prompts);
            let t = s.turn_mut(&key, ts);
            if let Some(text) = text {
                t.turn.user = text;
            }
            let n = t.turn.user.len();
            s.bytes += n;
        }
        "gemini_cli.api_response" => {
            let prompt = uint(a, "input_token_count");
            let cached = uint(a, "cached_content_token_count");
            let tokens = TokenUsage {
                input: prompt.saturating_sub(cached),
                output: uint(a, "output_token_count") + uint(a, "thoughts_token_count"),
                cache_read: cached,
                cache_write: 0,
            };
            let start = start_from_duration(ts, num(a, "duration_ms"));
            let t = s.turn_mut(&key, start.or(ts));
            t.turn.add_usage(a.get("model").map(String::as_str), tokens);
            note_end(&mut t.turn, ts);
        }
        "gemini_cli.tool_call" => {
            let mut bytes = 0;
            let args = content(a, "function_args", log_prompts);
            let t = s.turn_mut(&key, ts);
            let id = a
                .get("tool_call_id")
                .or_else(|| a.get("call_id"))
                .cloned()
                .unwrap_or_else(|| format!("{key}-tool-{}", t.turn.tools.len() + 1));
            let tool = tool_mut(&mut t.turn, &id, &mut bytes);
            if let Some(n) = a.get("function_name") {
                tool.name = n.clone();
            }
            if let Some(x) = args {
                bytes += x.len();
                tool.input = x;
            }
            tool.success = boolean(a, "success");
            tool.ended_at = ts;
            tool.started_at = start_from_duration(ts, num(a, "duration_ms"));
            note_end(&mut t.turn, ts);
            s.bytes += bytes;
        }
        _ => {}
    }
}
