//! The OTLP/HTTP receiver: a small HTTP/1.1 server on std threads (keep-alive,
//! `Content-Length` and chunked bodies, `Expect: 100-continue`), bounded in body size,
//! connections and stored data.
//!
//! Routes: `POST /v1/logs`, `/v1/traces`, `/v1/metrics` (protobuf or JSON, optionally
//! gzip); `GET /debug` (counters, errors, conversations held, memory, last 50 requests;
//! `?events=1` adds stored events); `GET /debug/sessions` (per-conversation totals).

use super::decode::{self, DecodeError, Encoding};
use super::proto::collector::logs::v1::{ExportLogsPartialSuccess, ExportLogsServiceResponse};
use super::proto::collector::metrics::v1::{
    ExportMetricsPartialSuccess, ExportMetricsServiceResponse,
};
use super::proto::collector::trace::v1::{ExportTracePartialSuccess, ExportTraceServiceResponse};
use super::store::{Ingest, TelemetryStore};
use prost::Message;
use serde::Serialize;
use std::collections::{BTreeMap, VecDeque};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::{SocketAddr, TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

pub const DEFAULT_LISTEN: &str = "127.0.0.1:4318";
const MAX_HEAD: usize = 64 * 1024;
const LAST_REQUESTS: usize = 50;

#[derive(Debug, Clone)]
pub struct ReceiverConfig {
    pub listen: SocketAddr,
    /// Binding a non-loopback address needs this and a token.
    pub allow_remote: bool,
    /// Bearer token required on every request when set.
    pub token: Option<String>,
    /// Largest body accepted (compressed and decompressed), else 413.
    pub max_body: usize,
    pub max_connections: usize,
    pub idle_timeout: Duration,
}

impl Default for ReceiverConfig {
    fn default() -> Self {
        ReceiverConfig {
            listen: SocketAddr::from(([127, 0, 0, 1], 4318)),
            allow_remote: false,
            token: None,
            max_body: 8 * 1024 * 1024,
            max_connections: 64,
            idle_timeout: Duration::from_secs(30),
        }
    }
}

#[derive(Debug, thiserror::Error)]
pub enum ReceiverError {
    #[error(
        "refusing to listen on {0}: it is not a loopback address. Binding it exposes agent telemetry to the network; pass --otel-allow-remote (otel.allow_remote: true) together with a bearer token (--otel-token or AIMUX_OTEL_TOKEN) to do it anyway"
    )]
    NotLoopback(SocketAddr),
    #[error(
        "refusing to listen on {0} without a bearer token: set --otel-token or AIMUX_OTEL_TOKEN (otel.token)"
    )]
    NoToken(SocketAddr),
    #[error("cannot listen on {addr}: {source}")]
    Bind {
        addr: SocketAddr,
        source: std::io::Error,
    },
}

/// Checks the bind policy: loopback always; anything else only when explicitly allowed
/// and protected by a token.
pub fn check_bind(cfg: &ReceiverConfig) -> Result<(), ReceiverError> {
    if cfg.listen.ip().is_loopback() {
        return Ok(());
    }
    if !cfg.allow_remote {
        return Err(ReceiverError::NotLoopback(cfg.listen));
    }
    if cfg.token.as_deref().is_none_or(|t| t.trim().is_empty()) {
        return Err(ReceiverError::NoToken(cfg.listen));
    }
    Ok(())
}

#[derive(Debug, Clone, Serialize)]
pub struct RequestLog {
    pub method: String,
    pub path: String,
    pub encoding: Option<Encoding>,
    pub gzip: bool,
    pub size: usize,
    pub status: u16,
    pub time: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

#[derive(Debug, Default)]
struct Stats {
    /// "path encoding" → count.
    requests: BTreeMap<String, u64>,
    statuses: BTreeMap<u16, u64>,
    decode_errors: u64,
    last_decode_error: Option<String>,
    bytes_received: u64,
    accepted_records: u64,
    rejected_records: u64,
    last: VecDeque<RequestLog>,
}

struct Shared {
    cfg: ReceiverConfig,
    store: Arc<TelemetryStore>,
    stats: Mutex<Stats>,
    connections: AtomicUsize,
    stop: AtomicBool,
    /// The latest live-agents snapshot (JSON) of the process running the receiver.
    agents: Mutex<Option<serde_json::Value>>,
}

pub struct Receiver {
    addr: SocketAddr,
    shared: Arc<Shared>,
    thread: Option<JoinHandle<()>>,
}

impl Receiver {
    /// Binds and starts serving on background threads.
    pub fn start(
        cfg: ReceiverConfig,
        store: Arc<TelemetryStore>,
    ) -> Result<Receiver, ReceiverError> {
        check_bind(&cfg)?;
        let listener = TcpListener::bind(cfg.listen).map_err(|source| ReceiverError::Bind {
            addr: cfg.listen,
            source,
        })?;
        let addr = listener.local_addr().unwrap_or(cfg.listen);
        share_one_malloc_arena();
        let shared = Arc::new(Shared {
            cfg,
            store,
            stats: Mutex::new(Stats::default()),
            connections: AtomicUsize::new(0),
            stop: AtomicBool::new(false),
            agents: Mutex::new(None),
        });
        let sh = shared.clone();
        let thread = std::thread::Builder::new()
            .name("otlp-accept".into())
            .spawn(move || accept_loop(listener, sh))
            .map_err(|source| ReceiverError::Bind { addr, source })?;
        Ok(Receiver {
            addr,
            shared,
            thread: Some(thread),
        })
    }

    pub fn local_addr(&self) -> SocketAddr {
        self.addr
    }

    pub fn store(&self) -> &Arc<TelemetryStore> {
        &self.shared.store
    }

    /// Publishes the live agents (merged with telemetry) at `GET /debug/agents`.
    pub fn set_agents(&self, snapshot: serde_json::Value) {
        *self.shared.agents.lock().unwrap_or_else(|e| e.into_inner()) = Some(snapshot);
    }

    /// The `/debug` document.
    pub fn debug_json(&self, events: bool) -> serde_json::Value {
        debug_json(&self.shared, events)
    }

    /// Stops accepting; open connections end at their next request.
    pub fn stop(mut self) {
        self.shutdown();
    }

    fn shutdown(&mut self) {
        self.shared.stop.store(true, Ordering::SeqCst);
        let _ = TcpStream::connect_timeout(&self.addr, Duration::from_millis(200));
        if let Some(t) = self.thread.take() {
            let _ = t.join();
        }
    }
}

impl Drop for Receiver {
    fn drop(&mut self) {
        self.shutdown();
    }
}

fn accept_loop(listener: TcpListener, shared: Arc<Shared>) {
    for conn in listener.incoming() {
        if shared.stop.load(Ordering::SeqCst) {
            break;
        }
        let Ok(stream) = conn else { continue };
        if shared.connections.load(Ordering::SeqCst) >= shared.cfg.max_connections {
            let mut s = stream;
            let _ = write_response(
                &mut s,
                503,
                "text/plain",
                b"too many connections\n",
                true,
                &[],
            );
            continue;
        }
        shared.connections.fetch_add(1, Ordering::SeqCst);
        let sh = shared.clone();
        let spawned = std::thread::Builder::new()
            .name("otlp-conn".into())
            .spawn(move || {
                serve_connection(stream, &sh);
                sh.connections.fetch_sub(1, Ordering::SeqCst);
            });
        if spawned.is_err() {
            shared.connections.fetch_sub(1, Ordering::SeqCst);
        }
    }
}

struct Request {
    method: String,
    path: String,
    query: String,
    version_11: bool,
    headers: Vec<(String, String)>,
}

impl Request {
    fn header(&self, name: &str) -> Option<&str> {
        self.headers
            .iter()
            .find(|(k, _)| k == name)
            .map(|(_, v)| v.as_str())
    }
}

enum BodyError {
    TooLarge,
    Bad(String),
    Io,
}

fn read_head(r: &mut BufReader<TcpStream>) -> Option<Request> {
    let mut head = Vec::new();
    loop {
        let mut line = Vec::new();
        let n = r
            .by_ref()
            .take(MAX_HEAD as u64)
            .read_until(b'\n', &mut line)
            .ok()?;
        if n == 0 {
            return None;
        }
        if line == b"\r\n" || line == b"\n" {
            if head.is_empty() {
                continue; // stray blank line between requests
            }
            break;
        }
        head.push(String::from_utf8_lossy(&line).trim_end().to_string());
        if head.iter().map(String::len).sum::<usize>() > MAX_HEAD {
            return None;
        }
    }
    let first = head.first()?;
    let mut parts = first.split_whitespace();
    let method = parts.next()?.to_string();
    let target = parts.next()?.to_string();
    let version = parts.next().unwrap_or("HTTP/1.0");
    let (path, query) = match target.split_once('?') {
        Some((p, q)) => (p.to_string(), q.to_string()),
        None => (target, String::new()),
    };
    let headers = head
        .iter()
        .skip(1)
        .filter_map(|h| h.split_once(':'))
        .map(|(k, v)| (k.trim().to_ascii_lowercase(), v.trim().to_string()))
        .collect();
    Some(Request {
        method,
        path,
        query,
        version_11: version.eq_ignore_ascii_case("HTTP/1.1"),
        headers,
    })
}

fn read_body(
    r: &mut BufReader<TcpStream>,
    req: &Request,
    limit: usize,
) -> Result<Vec<u8>, BodyError> {
    let chunked = req
        .header("transfer-encoding")
        .is_some_and(|t| t.to_ascii_lowercase().contains("chunked"));
    if chunked {
        let mut body = Vec::new();
        loop {
            let mut line = Vec::new();
            r.by_ref()
                .take(1024)
                .read_until(b'\n', &mut line)
                .map_err(|_| BodyError::Io)?;
            let text = String::from_utf8_lossy(&line);
            let size_text = text
                .trim()
                .split(';')
                .next()
                .unwrap_or("")
                .trim()
                .to_string();
            if size_text.is_empty() && line.is_empty() {
                return Err(BodyError::Io);
            }
            let size = usize::from_str_radix(&size_text, 16)
                .map_err(|_| BodyError::Bad(format!("bad chunk size '{size_text}'")))?;
            if size == 0 {
                // Trailers until a blank line.
                loop {
                    let mut t = Vec::new();
                    let n = r
                        .by_ref()
                        .take(MAX_HEAD as u64)
                        .read_until(b'\n', &mut t)
                        .map_err(|_| BodyError::Io)?;
                    if n == 0 || t == b"\r\n" || t == b"\n" {
                        break;
                    }
                }
                return Ok(body);
            }
            if body.len().saturating_add(size) > limit {
                return Err(BodyError::TooLarge);
            }
            let start = body.len();
            body.resize(start + size, 0);
            r.read_exact(body.get_mut(start..).unwrap_or_default())
                .map_err(|_| BodyError::Io)?;
            let mut crlf = Vec::new();
            r.by_ref()
                .take(2)
                .read_until(b'\n', &mut crlf)
                .map_err(|_| BodyError::Io)?;
        }
    }
    let len = match req.header("content-length") {
        Some(v) => v
            .trim()
            .parse::<usize>()
            .map_err(|_| BodyError::Bad(format!("bad Content-Length '{v}'")))?,
        None => 0,
    };
    if len > limit {
        return Err(BodyError::TooLarge);
    }
    let mut body = vec![0; len];
    r.read_exact(&mut body).map_err(|_| BodyError::Io)?;
    Ok(body)
}

fn serve_connection(stream: TcpStream, shared: &Shared) {
    let _ = stream.set_read_timeout(Some(shared.cfg.idle_timeout));
    let _ = stream.set_write_timeout(Some(shared.cfg.idle_timeout));
    let Ok(write_half) = stream.try_clone() else {
        return;
    };
    let mut w = write_half;
    let mut r = BufReader::new(stream);
    loop {
        if shared.stop.load(Ordering::SeqCst) {
            return;
        }
        let Some(req) = read_head(&mut r) else { return };
        let close = !req.version_11
            || req
                .header("connection")
                .is_some_and(|c| c.eq_ignore_ascii_case("close"));
        if req
            .header("expect")
            .is_some_and(|e| e.eq_ignore_ascii_case("100-continue"))
        {
            let declared = req
                .header("content-length")
                .and_then(|v| v.trim().parse::<usize>().ok())
                .unwrap_or(0);
            if declared <= shared.cfg.max_body {
                let _ = w.write_all(b"HTTP/1.1 100 Continue\r\n\r\n");
            }
        }
        let body = match read_body(&mut r, &req, shared.cfg.max_body) {
            Ok(b) => b,
            Err(BodyError::TooLarge) => {
                let msg = format!("body exceeds the limit of {} bytes", shared.cfg.max_body);
                record(shared, &req, None, 0, 413, Some(msg.clone()));
                let enc = Encoding::from_content_type(req.header("content-type"));
                let (ct, b) = status_body(enc, 8, &msg);
                let _ = write_response(&mut w, 413, ct, &b, true, &[]);
                return; // the rest of the body is unread: the connection cannot be reused
            }
            Err(BodyError::Bad(msg)) => {
                record(shared, &req, None, 0, 400, Some(msg.clone()));
                let _ = write_response(&mut w, 400, "text/plain", msg.as_bytes(), true, &[]);
                return;
            }
            Err(BodyError::Io) => return,
        };
        let (status, ct, out) = handle(shared, &req, body);
        if write_response(&mut w, status, ct, &out, close, &[]).is_err() || close {
            return;
        }
    }
}

fn write_response(
    w: &mut TcpStream,
    status: u16,
    content_type: &str,
    body: &[u8],
    close: bool,
    extra: &[(&str, &str)],
) -> std::io::Result<()> {
    let reason = match status {
        200 => "OK",
        400 => "Bad Request",
        401 => "Unauthorized",
        404 => "Not Found",
        405 => "Method Not Allowed",
        413 => "Payload Too Large",
        415 => "Unsupported Media Type",
        503 => "Service Unavailable",
        _ => "Error",
    };
    let mut head = format!(
        "HTTP/1.1 {status} {reason}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\n",
        body.len()
    );
    for (k, v) in extra {
        head.push_str(&format!("{k}: {v}\r\n"));
    }
    if close {
        head.push_str("Connection: close\r\n");
    }
    head.push_str("\r\n");
    w.write_all(head.as_bytes())?;
    w.write_all(body)?;
    w.flush()
}

/// A `google.rpc.Status` body in the request's encoding (OTLP error responses).
fn status_body(enc: Option<Encoding>, code: i32, message: &str) -> (&'static str, Vec<u8>) {
    match enc {
        Some(Encoding::Protobuf) => {
            let mut b = Vec::new();
            b.push(0x08);
            prost::encoding::encode_varint(code as u64, &mut b);
            b.push(0x12);
            prost::encoding::encode_varint(message.len() as u64, &mut b);
            b.extend_from_slice(message.as_bytes());
            ("application/x-protobuf", b)
        }
        _ => (
            "application/json",
            serde_json::json!({"code": code, "message": message})
                .to_string()
                .into_bytes(),
        ),
    }
}

fn record(
    shared: &Shared,
    req: &Request,
    enc: Option<Encoding>,
    size: usize,
    status: u16,
    error: Option<String>,
) {
    let mut st = shared.stats.lock().unwrap_or_else(|e| e.into_inner());
    let key = format!("{} {}", req.path, enc.map(Encoding::as_str).unwrap_or("-"));
    *st.requests.entry(key).or_insert(0) += 1;
    *st.statuses.entry(status).or_insert(0) += 1;
    st.bytes_received += size as u64;
    st.last.push_back(RequestLog {
        method: req.method.clone(),
        path: req.path.clone(),
        encoding: enc,
        gzip: req
            .header("content-encoding")
            .is_some_and(|e| e.to_ascii_lowercase().contains("gzip")),
        size,
        status,
        time: chrono::Utc::now().to_rfc3339(),
        error,
    });
    while st.last.len() > LAST_REQUESTS {
        st.last.pop_front();
    }
}

fn authorized(shared: &Shared, req: &Request) -> bool {
    let Some(token) = shared.cfg.token.as_deref().filter(|t| !t.is_empty()) else {
        return true;
    };
    let given = req
        .header("authorization")
        .and_then(|h| {
            let (scheme, rest) = h.split_once(' ')?;
            scheme.eq_ignore_ascii_case("bearer").then_some(rest.trim())
        })
        .unwrap_or("");
    // Constant-time comparison.
    given.len() == token.len()
        && given
            .bytes()
            .zip(token.bytes())
            .fold(0u8, |acc, (a, b)| acc | (a ^ b))
            == 0
}

fn handle(shared: &Shared, req: &Request, body: Vec<u8>) -> (u16, &'static str, Vec<u8>) {
    let size = body.len();
    let enc = Encoding::from_content_type(req.header("content-type"));
    if !authorized(shared, req) {
        record(
            shared,
            req,
            enc,
            size,
            401,
            Some("missing or wrong bearer token".into()),
        );
        return (
            401,
            "text/plain",
            b"missing or wrong bearer token\n".to_vec(),
        );
    }
    let signal = match req.path.as_str() {
        "/v1/logs" | "/v1/traces" | "/v1/metrics" => req.path.as_str(),
        "/debug" | "/debug/" | "/debug/sessions" | "/debug/agents" | "/" if req.method == "GET" => {
            record(shared, req, None, size, 200, None);
            let doc = if req.path == "/debug/agents" {
                shared
                    .agents
                    .lock()
                    .unwrap_or_else(|e| e.into_inner())
                    .clone()
                    .unwrap_or(serde_json::Value::Null)
            } else if req.path == "/debug/sessions" {
                serde_json::to_value(shared.store.summaries()).unwrap_or_default()
            } else if req.path == "/" {
                serde_json::json!({"service": "aimux otlp receiver", "paths": ["/v1/logs", "/v1/traces", "/v1/metrics", "/debug", "/debug/sessions", "/debug/agents"]})
            } else {
                let events = req
                    .query
                    .split('&')
                    .any(|kv| kv == "events=1" || kv == "events=true");
                debug_json(shared, events)
            };
            return (200, "application/json", doc.to_string().into_bytes());
        }
        _ => {
            record(shared, req, enc, size, 404, None);
            return (404, "text/plain", b"not found\n".to_vec());
        }
    };
    if req.method != "POST" {
        record(shared, req, enc, size, 405, None);
        return (405, "text/plain", b"use POST\n".to_vec());
    }
    let Some(enc) = enc else {
        let msg = format!(
            "unsupported Content-Type '{}': use application/x-protobuf or application/json",
            req.header("content-type").unwrap_or("")
        );
        record(shared, req, None, size, 415, Some(msg.clone()));
        return (415, "text/plain", msg.into_bytes());
    };
    let _body = shared.store.hold(body.capacity());
    let decoded = decode::decompress(body, req.header("content-encoding"), shared.cfg.max_body);
    let decompressed = decoded.as_ref().map_or(0, |b| b.capacity());
    let _decompressed = (decompressed != size).then(|| shared.store.hold(decompressed));
    let result = decoded.and_then(|b| -> Result<(Ingest, Vec<u8>), DecodeError> {
        Ok(match signal {
            "/v1/logs" => {
                let i = match enc {
                    Encoding::Protobuf => shared.store.ingest_logs_protobuf(&b)?,
                    Encoding::Json => shared.store.ingest_logs(&decode::decode_logs(&b, enc)?),
                };
                let resp = ExportLogsServiceResponse {
                    partial_success: (i.rejected > 0).then(|| ExportLogsPartialSuccess {
                        rejected_log_records: i.rejected as i64,
                        error_message: i.error.clone().unwrap_or_default(),
                    }),
                };
                let out = encode_response(&resp, enc);
                (i, out)
            }
            "/v1/metrics" => {
                let m = decode::decode_metrics(&b, enc)?;
                let i = shared.store.ingest_metrics(&m);
                let resp = ExportMetricsServiceResponse {
                    partial_success: (i.rejected > 0).then(|| ExportMetricsPartialSuccess {
                        rejected_data_points: i.rejected as i64,
                        error_message: i.error.clone().unwrap_or_default(),
                    }),
                };
                let out = encode_response(&resp, enc);
                (i, out)
            }
            _ => {
                let m = decode::decode_traces(&b, enc)?;
                let i = shared.store.ingest_traces(&m);
                let resp = ExportTraceServiceResponse {
                    partial_success: (i.rejected > 0).then(|| ExportTracePartialSuccess {
                        rejected_spans: i.rejected as i64,
                        error_message: i.error.clone().unwrap_or_default(),
                    }),
                };
                let out = encode_response(&resp, enc);
                (i, out)
            }
        })
    });
    match result {
        Ok((ingest, out)) => {
            {
                let mut st = shared.stats.lock().unwrap_or_else(|e| e.into_inner());
                st.accepted_records += ingest.accepted;
                st.rejected_records += ingest.rejected;
            }
            record(shared, req, Some(enc), size, 200, ingest.error);
            (200, enc.content_type(), out)
        }
        Err(e) => {
            let status = if matches!(e, DecodeError::TooLarge(_)) {
                413
            } else {
                400
            };
            let msg = e.to_string();
            {
                let mut st = shared.stats.lock().unwrap_or_else(|e| e.into_inner());
                if status == 400 {
                    st.decode_errors += 1;
                    st.last_decode_error = Some(msg.clone());
                }
            }
            record(shared, req, Some(enc), size, status, Some(msg.clone()));
            let (ct, b) = status_body(Some(enc), if status == 413 { 8 } else { 3 }, &msg);
            (status, ct, b)
        }
    }
}

fn encode_response<T: Message + Serialize>(resp: &T, enc: Encoding) -> Vec<u8> {
    match enc {
        Encoding::Protobuf => resp.encode_to_vec(),
        Encoding::Json => {
            let v = serde_json::to_value(resp).unwrap_or_default();
            // Omit a null partialSuccess: `{}` is the plain success body.
            let v = match v {
                serde_json::Value::Object(m) => {
                    serde_json::Value::Object(m.into_iter().filter(|(_, v)| !v.is_null()).collect())
                }
                other => other,
            };
            v.to_string().into_bytes()
        }
    }
}

fn debug_json(shared: &Shared, events: bool) -> serde_json::Value {
    let st = shared.stats.lock().unwrap_or_else(|e| e.into_inner());
    let store = &shared.store;
    let mut doc = serde_json::json!({
        "listen": shared.cfg.listen.to_string(),
        "requests": st.requests,
        "statuses": st.statuses,
        "decode_errors": st.decode_errors,
        "last_decode_error": st.last_decode_error,
        "bytes_received": st.bytes_received,
        "accepted_records": st.accepted_records,
        "rejected_records": st.rejected_records,
        "open_connections": shared.connections.load(Ordering::SeqCst),
        "conversations": store.keys().into_iter().map(|(p, id)| serde_json::json!({"provider": p, "id": id})).collect::<Vec<_>>(),
        "memory_used_bytes": store.memory_used(),
        "memory_budget_bytes": store.config().budget_bytes,
        "evicted_conversations": store.evicted(),
        "prompt_logging": store.config().log_prompts,
        "allocator": allocator_stats(),
        "last_requests": st.last,
    });
    if events && let Some(m) = doc.as_object_mut() {
        m.insert("events".into(), store.events_json());
    }
    doc
}

/// The C allocator's view of the heap: what is in use and what it holds free (the
/// difference between the store's estimate and the process's RSS shows up here).
#[cfg(all(target_os = "linux", target_env = "gnu"))]
fn allocator_stats() -> serde_json::Value {
    // SAFETY: mallinfo2 only reads the allocator's counters.
    let m = unsafe { libc::mallinfo2() };
    serde_json::json!({
        "heap_bytes": m.arena,
        "mmap_bytes": m.hblkhd,
        "in_use_bytes": m.uordblks,
        "free_bytes": m.fordblks,
        "releasable_bytes": m.keepcost,
    })
}

#[cfg(not(all(target_os = "linux", target_env = "gnu")))]
fn allocator_stats() -> serde_json::Value {
    serde_json::Value::Null
}

/// glibc gives each thread that meets contention its own arena; freed telemetry then stays
/// resident in the arena of whichever connection thread stored it. One arena lets every
/// thread reuse it (the store takes one lock per request anyway).
fn share_one_malloc_arena() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only changes an allocator setting.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 1);
    }
}

static STOP: AtomicBool = AtomicBool::new(false);

extern "C" fn on_signal(_: libc::c_int) {
    STOP.store(true, Ordering::SeqCst);
}

/// Installs SIGINT/SIGTERM handlers (once) and says whether one has arrived.
pub fn stop_requested() -> bool {
    static INSTALL: std::sync::Once = std::sync::Once::new();
    INSTALL.call_once(|| {
        let handler = on_signal as extern "C" fn(libc::c_int);
        // SAFETY: the handler only stores to an atomic, which is async-signal-safe.
        unsafe {
            libc::signal(libc::SIGINT, handler as libc::sighandler_t);
            libc::signal(libc::SIGTERM, handler as libc::sighandler_t);
        }
    });
    STOP.load(Ordering::SeqCst)
}
