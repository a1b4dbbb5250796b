//! An OTLP/HTTP log load generator: protobuf `ExportLogsServiceRequest`s shaped like
//! Claude Code's (resource `service.name=claude-code`, scope
//! `com.anthropic.claude_code.events`, `user_prompt` / `api_request` / `tool_decision` /
//! `tool_result` events with their attributes), sent over a few keep-alive connections.
//!
//! Every request is distinct: the encoded batch is a template whose session and request
//! markers (fixed width, so protobuf lengths do not change) are overwritten with numbers,
//! so a receiver that de-duplicates repeated requests gets no free ride, and the generator
//! spends its CPU on copying bytes rather than on encoding.

use crate::http::Conn;
use opentelemetry_proto::tonic::collector::logs::v1::ExportLogsServiceRequest;
use opentelemetry_proto::tonic::common::v1::{AnyValue, InstrumentationScope, KeyValue, any_value};
use opentelemetry_proto::tonic::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
use opentelemetry_proto::tonic::resource::v1::Resource;
use prost::Message;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// Replaced by the conversation number (12 digits).
const SESSION_MARK: &[u8; 12] = b"~S~~~~~~~~~~";
/// Replaced by the request number (12 digits).
const REQUEST_MARK: &[u8; 12] = b"~R~~~~~~~~~~";

/// Records per turn in the template: a prompt, a model call, a tool decision and its
/// result, the model call after the tool.
const RECORDS_PER_TURN: usize = 5;

pub struct BatchTemplate {
    bytes: Vec<u8>,
    session_at: Vec<usize>,
    request_at: Vec<usize>,
    pub records: usize,
    /// Conversations the requests are spread over (request `i` → conversation `i % n`).
    pub sessions: u64,
}

fn kv(key: &str, v: any_value::Value) -> KeyValue {
    KeyValue {
        key: key.into(),
        value: Some(AnyValue { value: Some(v) }),
        ..KeyValue::default()
    }
}

fn s(key: &str, v: &str) -> KeyValue {
    kv(key, any_value::Value::StringValue(v.into()))
}

fn i(key: &str, v: i64) -> KeyValue {
    kv(key, any_value::Value::IntValue(v))
}

fn f(key: &str, v: f64) -> KeyValue {
    kv(key, any_value::Value::DoubleValue(v))
}

fn marker(m: &[u8; 12]) -> String {
    String::from_utf8_lossy(m).into_owned()
}

impl BatchTemplate {
    /// A batch of `turns` × 5 records of one conversation, timestamped `now_ns`.
    pub fn claude_code(turns: usize, sessions: u64, now_ns: u64) -> BatchTemplate {
        let session = format!("5f0c2a4e-1b7d-4c1e-9a3b-{}", marker(SESSION_MARK));
        let request = marker(REQUEST_MARK);
        let mut records = Vec::new();
        let mut seq = 0i64;
        let tools = ["Bash", "Read", "Edit", "Grep", "Write"];
        for t in 0..turns {
            let prompt_id = format!("{request}-{t:04}-4b1e-8c3d-prompt");
            let tool = tools[t % tools.len()];
            let tool_use = format!("toolu_01{request}{t:04}");
            let events: [(&str, Vec<KeyValue>); RECORDS_PER_TURN] = [
                (
                    "user_prompt",
                    vec![s("prompt_length", "187"), s("prompt", "<REDACTED>")],
                ),
                (
                    "api_request",
                    vec![
                        s("model", "claude-opus-4-5-20251101"),
                        i("input_tokens", 3 + t as i64),
                        i("output_tokens", 412),
                        i("cache_read_tokens", 48_211),
                        i("cache_creation_tokens", 1_380),
                        f("cost_usd", 0.0412),
                        i("duration_ms", 5_873),
                        s("request_id", &format!("req_011C{request}{t:04}a")),
                        s("speed", "normal"),
                    ],
                ),
                (
                    "tool_decision",
                    vec![
                        s("tool_name", tool),
                        s("decision", "accept"),
                        s("source", "config"),
                        s("tool_use_id", &tool_use),
                    ],
                ),
                (
                    "tool_result",
                    vec![
                        s("tool_name", tool),
                        s("success", "true"),
                        i("duration_ms", 231),
                        s("tool_result_size_bytes", "5120"),
                        s("decision_source", "config"),
                        s("decision_type", "accept"),
                        s("tool_use_id", &tool_use),
                    ],
                ),
                (
                    "api_request",
                    vec![
                        s("model", "claude-opus-4-5-20251101"),
                        i("input_tokens", 1),
                        i("output_tokens", 96),
                        i("cache_read_tokens", 49_610),
                        i("cache_creation_tokens", 512),
                        f("cost_usd", 0.0197),
                        i("duration_ms", 2_114),
                        s("request_id", &format!("req_011C{request}{t:04}b")),
                        s("speed", "normal"),
                    ],
                ),
            ];
            for (k, (event, extra)) in events.into_iter().enumerate() {
                seq += 1;
                let ts = now_ns + (t * RECORDS_PER_TURN + k) as u64 * 1_000_000;
                let mut attributes = vec![
                    s(
                        "user.id",
                        "9c1f4e0b7a3d2c6e8f5a1b4d7c0e3f6a9b2c5d8e1f4a7b0c3d6e9f2a5b8c1d4e",
                    ),
                    s("session.id", &session),
                    s("organization.id", "0b9f3c2e-6d1a-4f7e-8c5b-2a9d4e7f1c3b"),
                    s("user.email", "dev@example.com"),
                    s("user.account_uuid", "7d2e9f4a-3c1b-4e8d-9a6f-5b0c2d7e1f4a"),
                    s("terminal.type", "tmux"),
                    s("event.name", event),
                    s("event.timestamp", "2026-11-27T12:00:00.000Z"),
                    i("event.sequence", seq),
                    s("prompt.id", &prompt_id),
                ];
                attributes.extend(extra);
                records.push(LogRecord {
                    time_unix_nano: ts,
                    observed_time_unix_nano: ts,
                    body: Some(AnyValue {
                        value: Some(any_value::Value::StringValue(format!(
                            "claude_code.{event}"
                        ))),
                    }),
                    attributes,
                    ..LogRecord::default()
                });
            }
        }
        let n = records.len();
        let req = ExportLogsServiceRequest {
            resource_logs: vec![ResourceLogs {
                resource: Some(Resource {
                    attributes: vec![
                        s("service.name", "claude-code"),
                        s("service.version", "2.1.197"),
                        s("os.type", "linux"),
                        s("os.version", "6.8.0-49-generic"),
                        s("host.arch", "amd64"),
                    ],
                    ..Resource::default()
                }),
                scope_logs: vec![ScopeLogs {
                    scope: Some(InstrumentationScope {
                        name: "com.anthropic.claude_code.events".into(),
                        version: "2.1.197".into(),
                        ..InstrumentationScope::default()
                    }),
                    log_records: records,
                    ..ScopeLogs::default()
                }],
                ..ResourceLogs::default()
            }],
        };
        let bytes = req.encode_to_vec();
        let find = |m: &[u8]| -> Vec<usize> {
            bytes
                .windows(m.len())
                .enumerate()
                .filter(|(_, w)| *w == m)
                .map(|(at, _)| at)
                .collect()
        };
        BatchTemplate {
            session_at: find(SESSION_MARK),
            request_at: find(REQUEST_MARK),
            bytes,
            records: n,
            sessions: sessions.max(1),
        }
    }

    pub fn len(&self) -> usize {
        self.bytes.len()
    }

    pub fn is_empty(&self) -> bool {
        self.bytes.is_empty()
    }

    /// Request number `n` into `out`.
    pub fn fill(&self, n: u64, out: &mut Vec<u8>) {
        out.clear();
        out.extend_from_slice(&self.bytes);
        let session = format!("{:012}", n % self.sessions);
        let request = format!("{:012}", n % 1_000_000_000_000);
        for &at in &self.session_at {
            out[at..at + 12].copy_from_slice(session.as_bytes());
        }
        for &at in &self.request_at {
            out[at..at + 12].copy_from_slice(request.as_bytes());
        }
    }
}

#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct LoadResult {
    pub requests: u64,
    pub records: u64,
    pub failed_requests: u64,
    pub first_failure: Option<String>,
    pub wall_s: f64,
    pub body_bytes: u64,
}

impl LoadResult {
    pub fn records_per_s(&self) -> f64 {
        self.records as f64 / self.wall_s.max(1e-9)
    }
}

/// Sends `requests` distinct batches to `POST addr/v1/logs` over `connections` keep-alive
/// connections (as fast as the receiver answers), numbering them from `first`.
pub fn send_logs(
    addr: SocketAddr,
    template: &Arc<BatchTemplate>,
    first: u64,
    requests: u64,
    connections: usize,
) -> LoadResult {
    let next = Arc::new(AtomicU64::new(0));
    let failures = Arc::new(AtomicU64::new(0));
    let first_failure: Arc<Mutex<Option<String>>> = Arc::new(Mutex::new(None));
    let began = Instant::now();
    let workers: Vec<_> = (0..connections.max(1))
        .map(|_| {
            let (next, failures, first_failure, template) = (
                next.clone(),
                failures.clone(),
                first_failure.clone(),
                template.clone(),
            );
            std::thread::spawn(move || {
                let mut conn = Conn::new(addr, Duration::from_secs(30));
                let mut body = Vec::with_capacity(template.len());
                loop {
                    let k = next.fetch_add(1, Ordering::Relaxed);
                    if k >= requests {
                        break;
                    }
                    template.fill(first + k, &mut body);
                    let outcome =
                        match conn.request("POST", "/v1/logs", "application/x-protobuf", &body) {
                            Ok(r) if r.status == 200 => None,
                            Ok(r) => Some(format!(
                                "HTTP {}: {}",
                                r.status,
                                String::from_utf8_lossy(&r.body)
                                    .chars()
                                    .take(200)
                                    .collect::<String>()
                            )),
                            Err(e) => Some(e.to_string()),
                        };
                    if let Some(why) = outcome {
                        failures.fetch_add(1, Ordering::Relaxed);
                        let mut f = first_failure.lock().unwrap_or_else(|e| e.into_inner());
                        f.get_or_insert(why);
                    }
                }
            })
        })
        .collect();
    for w in workers {
        let _ = w.join();
    }
    let wall_s = began.elapsed().as_secs_f64();
    let failed = failures.load(Ordering::Relaxed);
    let ok = requests.saturating_sub(failed);
    let first_failure = first_failure
        .lock()
        .unwrap_or_else(|e| e.into_inner())
        .clone();
    LoadResult {
        requests,
        records: ok * template.records as u64,
        failed_requests: failed,
        first_failure,
        wall_s,
        body_bytes: requests * template.len() as u64,
    }
}

/// A running rotel collector (`rotel-agent start`, from PyPI's `rotel`) that receives
/// OTLP/HTTP on a free loopback port and drops everything (blackhole exporter). Stopped
/// with its process group when dropped.
pub struct Rotel {
    child: std::process::Child,
    pub addr: SocketAddr,
}

fn free_port() -> std::io::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?
        .local_addr()?
        .port())
}

impl Rotel {
    pub fn start(agent: &std::path::Path) -> std::io::Result<Rotel> {
        use std::os::unix::process::CommandExt;
        let (http, grpc) = (free_port()?, free_port()?);
        let child = std::process::Command::new(agent)
            .arg("start")
            .args(["--otlp-http-endpoint", &format!("127.0.0.1:{http}")])
            .args(["--otlp-grpc-endpoint", &format!("127.0.0.1:{grpc}")])
            .args(["--exporter", "blackhole"])
            .process_group(0)
            .stdin(std::process::Stdio::null())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()?;
        let mut rotel = Rotel {
            child,
            addr: SocketAddr::from(([127, 0, 0, 1], http)),
        };
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if std::net::TcpStream::connect_timeout(&rotel.addr, Duration::from_millis(200)).is_ok()
            {
                return Ok(rotel);
            }
            if let Ok(Some(st)) = rotel.child.try_wait() {
                return Err(std::io::Error::other(format!("rotel-agent exited: {st}")));
            }
            if Instant::now() > deadline {
                return Err(std::io::Error::other(
                    "rotel-agent did not listen within 20s",
                ));
            }
            std::thread::sleep(Duration::from_millis(100));
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }
}

impl Drop for Rotel {
    fn drop(&mut self) {
        let group = -(self.child.id() as libc::pid_t);
        // SAFETY: signalling the process group this runner created for rotel.
        unsafe {
            libc::kill(group, libc::SIGTERM);
        }
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.child.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
        // SAFETY: as above.
        unsafe {
            libc::kill(group, libc::SIGKILL);
        }
        let _ = self.child.wait();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filled_batches_decode_and_differ() {
        let t = BatchTemplate::claude_code(20, 1000, 1_795_777_195_000_000_000);
        assert_eq!(t.records, 100);
        assert_eq!(t.session_at.len(), 100);
        assert!(t.request_at.len() >= 100);
        let mut a = Vec::new();
        let mut b = Vec::new();
        t.fill(7, &mut a);
        t.fill(1007, &mut b);
        assert_eq!(a.len(), t.len());
        assert_ne!(a, b);
        for (body, session) in [(&a, "000000000007"), (&b, "000000000007")] {
            let req = ExportLogsServiceRequest::decode(body.as_slice()).expect("decodes");
            let recs = &req.resource_logs[0].scope_logs[0].log_records;
            assert_eq!(recs.len(), 100);
            let sid = recs[0]
                .attributes
                .iter()
                .find(|kv| kv.key == "session.id")
                .and_then(|kv| kv.value.as_ref())
                .and_then(|v| v.value.as_ref());
            assert_eq!(
                sid,
                Some(&any_value::Value::StringValue(format!(
                    "5f0c2a4e-1b7d-4c1e-9a3b-{session}"
                )))
            );
        }
        let text = String::from_utf8_lossy(&b);
        assert!(
            text.contains("req_011C0000000010070001a"),
            "request ids are numbered"
        );
        assert!(
            !text.contains("~S~~") && !text.contains("~R~~"),
            "every marker is replaced"
        );
    }
}
