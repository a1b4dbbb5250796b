//! The rotel collector (PyPI `rotel`, a Rust OpenTelemetry collector) receives OTLP/JSON and
//! forwards it to `aimux serve` as gzip-compressed protobuf (its default); aimux decodes it.

mod otel_common;

use otel_common::*;
use serde_json::{Value, json};
use std::os::unix::process::CommandExt;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const TEST: &str = "rotel_forwards_gzip_protobuf_to_aimux";

struct Rotel(Child);

impl Drop for Rotel {
    fn drop(&mut self) {
        let pgid = format!("-{}", self.0.id());
        let _ = Command::new("kill").args(["-TERM", "--", &pgid]).status();
        let deadline = Instant::now() + Duration::from_secs(5);
        while Instant::now() < deadline {
            if let Ok(Some(_)) = self.0.try_wait() {
                return;
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn logs_body() -> Value {
    json!({"resourceLogs": [{
        "resource": {"attributes": [{"key": "service.name", "value": {"stringValue": "claude-code"}}]},
        "scopeLogs": [{"scope": {"name": "com.anthropic.claude_code.events"}, "logRecords": [{
            "timeUnixNano": "1795777195581000000",
            "attributes": [
                {"key": "event.name", "value": {"stringValue": "api_request"}},
                {"key": "session.id", "value": {"stringValue": "rotel-session"}},
                {"key": "prompt.id", "value": {"stringValue": "p1"}},
                {"key": "model", "value": {"stringValue": "claude-opus-4-8"}},
                {"key": "input_tokens", "value": {"intValue": "3"}},
                {"key": "output_tokens", "value": {"intValue": 42}},
                {"key": "cost_usd", "value": {"doubleValue": 0.25}}
            ]}]}]
    }]})
}

fn traces_body() -> Value {
    json!({"resourceSpans": [{
        "resource": {"attributes": [
            {"key": "service.name", "value": {"stringValue": "gemini-cli"}},
            {"key": "session.id", "value": {"stringValue": "rotel-gemini"}}]},
        "scopeSpans": [{"scope": {"name": "gemini-cli"}, "spans": [{
            "traceId": "5b8efff798038103d269b633813fc60c", "spanId": "eee19b7ec3c1b174",
            "name": "tool_call", "kind": 1,
            "startTimeUnixNano": "1795777195000000000", "endTimeUnixNano": "1795777195250000000",
            "attributes": [{"key": "gen_ai.conversation.id", "value": {"stringValue": "rotel-gemini"}}]
        }]}]
    }]})
}

#[test]
fn rotel_forwards_gzip_protobuf_to_aimux() {
    let agent_path = match Command::new("bash")
        .arg(workspace().join("testkit/mlflow_env.sh"))
        .arg("rotel")
        .output()
    {
        Ok(o) if o.status.success() => String::from_utf8_lossy(&o.stdout).trim().to_string(),
        Ok(o) => return skip(TEST, String::from_utf8_lossy(&o.stderr).trim()),
        Err(e) => return skip(TEST, &format!("bash: {e}")),
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let serve = Serve::start(&dir.path().join("aimux"), &[]);
    let http = free_port();
    let grpc = free_port();
    let _rotel = Rotel(
        Command::new(&agent_path)
            .args([
                "start",
                "--otlp-http-endpoint",
                &format!("127.0.0.1:{http}"),
            ])
            .args(["--otlp-grpc-endpoint", &format!("127.0.0.1:{grpc}")])
            .args([
                "--exporter",
                "otlp",
                "--otlp-exporter-endpoint",
                &serve.url(),
            ])
            .args(["--otlp-exporter-protocol", "http"])
            .process_group(0)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("start rotel-agent"),
    );
    let rotel = format!("http://127.0.0.1:{http}");
    let deadline = Instant::now() + Duration::from_secs(20);
    for (path, body) in [("/v1/logs", logs_body()), ("/v1/traces", traces_body())] {
        loop {
            let sent = agent()
                .post(&format!("{rotel}{path}"))
                .header("Content-Type", "application/json")
                .send(body.to_string().as_bytes())
                .is_ok_and(|r| r.status().as_u16() == 200);
            if sent {
                break;
            }
            assert!(Instant::now() < deadline, "rotel did not accept {path}");
            std::thread::sleep(Duration::from_millis(200));
        }
    }
    let s = serve
        .wait_session(Duration::from_secs(20), |s| s["id"] == "rotel-session")
        .unwrap_or_else(|| panic!("nothing forwarded: {}", serve.get("/debug")));
    assert_eq!(s["tokens"]["output"], 42);
    assert_eq!(s["tokens"]["input"], 3);
    assert_eq!(s["cost_usd"], 0.25);
    let deadline = Instant::now() + Duration::from_secs(20);
    let dbg = loop {
        let d = serve.get("/debug");
        if d["requests"]["/v1/traces protobuf"]
            .as_u64()
            .is_some_and(|n| n >= 1)
            || Instant::now() > deadline
        {
            break d;
        }
        std::thread::sleep(Duration::from_millis(200));
    };
    assert!(
        dbg["requests"]["/v1/logs protobuf"]
            .as_u64()
            .is_some_and(|n| n >= 1),
        "{dbg}"
    );
    assert!(
        dbg["requests"]["/v1/traces protobuf"]
            .as_u64()
            .is_some_and(|n| n >= 1),
        "{dbg}"
    );
    assert_eq!(dbg["decode_errors"], 0);
    let forwarded: Vec<&Value> = dbg["last_requests"]
        .as_array()
        .into_iter()
        .flatten()
        .filter(|r| r["method"] == "POST")
        .collect();
    assert!(!forwarded.is_empty());
    assert!(
        forwarded
            .iter()
            .all(|r| r["gzip"] == true && r["encoding"] == "protobuf"),
        "{forwarded:?}"
    );
    assert!(
        dbg["conversations"]
            .as_array()
            .into_iter()
            .flatten()
            .any(|c| c["id"] == "rotel-gemini" && c["provider"] == "gemini")
    );
}
