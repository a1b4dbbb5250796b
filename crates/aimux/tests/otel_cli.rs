//! `aimux serve` and `aimux export` from the command line: the bind policy, the token,
//! /debug, clear errors, JSONL export of a fixture session.

mod otel_common;

use otel_common::*;
use serde_json::{Value, json};
use std::process::Command;
use std::time::Duration;

fn serve_fails(args: &[&str], env_token: Option<&str>) -> String {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut cmd = Command::new(aimux_bin());
    cmd.env("AIMUX_HOME", dir.path())
        .env_remove("AIMUX_OTEL_TOKEN")
        .args(["--home"])
        .arg(dir.path())
        .args(["serve", "--no-engine"])
        .args(args);
    if let Some(t) = env_token {
        cmd.env("AIMUX_OTEL_TOKEN", t);
    }
    // A serve that wrongly starts would run forever: bound the wait.
    let mut child = cmd
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn");
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        if let Ok(Some(_)) = child.try_wait() {
            break;
        }
        if std::time::Instant::now() > deadline {
            let _ = child.kill();
            let _ = child.wait();
            panic!("aimux serve {args:?} did not refuse");
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    let out = child.wait_with_output().expect("output");
    assert!(!out.status.success(), "serve {args:?} should fail");
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn serve_refuses_non_loopback_without_opt_in_and_token() {
    let err = serve_fails(&["--otel-listen", "0.0.0.0:0"], None);
    assert!(err.contains("not a loopback address"), "{err}");
    assert!(err.contains("--otel-allow-remote"), "{err}");
    let err = serve_fails(&["--otel-listen", "0.0.0.0:0", "--otel-allow-remote"], None);
    assert!(err.contains("without a bearer token"), "{err}");
    // A token alone does not open a public port.
    let err = serve_fails(&["--otel-listen", "0.0.0.0:0"], Some("tok"));
    assert!(err.contains("not a loopback address"), "{err}");
    let err = serve_fails(&["--otel-listen", "localhost"], None);
    assert!(err.contains("ADDR:PORT"), "{err}");
}

#[test]
fn serve_with_token_answers_only_authorized_requests() {
    let dir = tempfile::tempdir().expect("tempdir");
    let serve = Serve::start(dir.path(), &["--otel-token", "t0k3n"]);
    let body = json!({"resourceLogs": []});
    let (status, _) = post_json(&format!("{}/v1/logs", serve.url()), &body, &[]);
    assert_eq!(status, 401);
    let (status, v) = post_json(
        &format!("{}/v1/logs", serve.url()),
        &body,
        &[("Authorization", "Bearer t0k3n")],
    );
    assert_eq!(status, 200, "{v}");
    assert_eq!(v, json!({}));
}

#[test]
fn serve_reports_garbage_and_counts_in_debug() {
    let dir = tempfile::tempdir().expect("tempdir");
    let serve = Serve::start(dir.path(), &["--otel-max-body", "2048"]);
    let (status, v) = post_json(&format!("{}/v1/traces", serve.url()), &json!("nope"), &[]);
    assert_eq!(status, 400, "{v}");
    assert!(v["message"].as_str().is_some_and(|m| !m.is_empty()));
    let big = json!({"resourceLogs": [], "pad": "x".repeat(5000)});
    let (status, _) = post_json(&format!("{}/v1/logs", serve.url()), &big, &[]);
    assert_eq!(status, 413);
    let dbg = serve.get("/debug");
    assert_eq!(dbg["decode_errors"], 1);
    assert_eq!(dbg["statuses"]["413"], 1);
    let paths: Vec<&Value> = dbg["last_requests"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|r| &r["path"])
        .collect();
    assert!(paths.contains(&&json!("/v1/traces")) && paths.contains(&&json!("/v1/logs")));
}

#[test]
fn export_jsonl_and_missing_endpoint() {
    let dir = tempfile::tempdir().expect("tempdir");
    let home = fixture_home(dir.path());
    let ah = dir.path().join("aimux");
    let id = "57596966-e495-43e7-8d4c-c7a87db7ebab"; // claude two-tools: 1 turn, 2 tools
    aimux(
        &ah,
        &home,
        &[
            "annotate",
            &id[..8],
            "1",
            "waste",
            "--note",
            "two tools for one ls",
        ],
    );
    let out = aimux(&ah, &home, &["export", &id[..8], "--jsonl"]);
    assert!(out.contains("wrote"), "{out}");
    let text =
        std::fs::read_to_string(ah.join("exports").join(format!("{id}.jsonl"))).expect("jsonl");
    let lines: Vec<Value> = text
        .lines()
        .map(|l| serde_json::from_str(l).expect("line"))
        .collect();
    let want = expected_session(id);
    assert_eq!(lines.len() as u64, want["turns"].as_u64().expect("turns"));
    assert_eq!(lines[0]["label"], "waste");
    assert_eq!(lines[0]["note"], "two tools for one ls");
    assert_eq!(
        lines[0]["tools"].as_array().map(Vec::len) as Option<usize>,
        want["tool_calls"].as_u64().map(|n| n as usize)
    );
    assert_eq!(lines[0]["tokens"]["output"], want["tokens"]["output"]);
    assert!(lines[0]["input"].as_str().is_some_and(|s| !s.is_empty()));
    // --otlp with no endpoint anywhere: a clear error, no panic.
    let out = Command::new(aimux_bin())
        .env("AIMUX_HOME", &ah)
        .arg("--home")
        .arg(&home)
        .args(["export", &id[..8], "--otlp"])
        .output()
        .expect("run");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("export.endpoint"), "{err}");
    // An endpoint that refuses connections: an error naming it.
    let port = free_port();
    let out = Command::new(aimux_bin())
        .env("AIMUX_HOME", &ah)
        .arg("--home")
        .arg(&home)
        .args([
            "export",
            &id[..8],
            "--otlp",
            "--endpoint",
            &format!("http://127.0.0.1:{port}"),
        ])
        .output()
        .expect("run");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(&format!("127.0.0.1:{port}")), "{err}");
}

/// Export into aimux's own receiver: the OTLP trace it builds decodes and is accepted.
#[test]
fn export_to_aimux_serve_round_trip() {
    let dir = tempfile::tempdir().expect("tempdir");
    let serve = Serve::start(&dir.path().join("srv"), &[]);
    let home = fixture_home(dir.path());
    let out = aimux(
        &dir.path().join("aimux"),
        &home,
        &[
            "export",
            "9d8e8c40",
            "--otlp",
            "--endpoint",
            &serve.url(),
            "--json",
        ],
    );
    let v: Value = serde_json::from_str(&out).expect("json");
    assert_eq!(v["otlp"]["status"], 200);
    assert_eq!(v["otlp"]["spans"], 3); // session + 1 turn + 1 tool
    let dbg = serve.get("/debug");
    assert_eq!(dbg["requests"]["/v1/traces protobuf"], 1);
    assert_eq!(dbg["decode_errors"], 0);
}
