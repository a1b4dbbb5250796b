//! Real OTLP senders: the real Claude Code (http/json and http/protobuf) and Codex (json and
//! binary) talking to testkit/model_server.py, exporting telemetry to `aimux serve`.
//! aimux shows each session's tokens (and Claude's cost) from telemetry alone — the serve
//! process runs without the engine, so no session file has been parsed — and they agree
//! with what aimux later parses from the session file the CLI wrote.

mod otel_common;

use otel_common::*;
use serde_json::{Value, json};
use std::process::Command;
use std::time::Duration;

fn run_agent(test: &str, agent: &str, protocol: &str) -> Option<()> {
    if Command::new("python3").arg("--version").output().is_err() {
        skip(test, "python3 not found");
        return None;
    }
    let bin = std::env::var("AIMUX_AGENTS_PREFIX")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(|_| {
            std::path::PathBuf::from(std::env::var("HOME").unwrap_or_default())
                .join(".cache/aimux-agents")
        })
        .join("node_modules/.bin")
        .join(agent);
    if !bin.exists() {
        skip(
            test,
            &format!("{} not installed (scripts/install-agents)", bin.display()),
        );
        return None;
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let serve = Serve::start(&dir.path().join("aimux"), &[]);
    let state = dir.path().join("agent");
    let out = Command::new("python3")
        .arg(workspace().join("testkit/otel_agents.py"))
        .args(["--state"])
        .arg(&state)
        .args([
            "--agent",
            agent,
            "--endpoint",
            &serve.url(),
            "--protocol",
            protocol,
        ])
        .output()
        .expect("run otel_agents.py");
    if out.status.code() == Some(2) {
        skip(test, &String::from_utf8_lossy(&out.stderr));
        return None;
    }
    assert!(
        out.status.success(),
        "otel_agents.py failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    let run: Value = serde_json::from_slice(&out.stdout).expect("driver json");
    assert_eq!(run["rc"], 0, "{agent} failed: {}", run["stderr_tail"]);
    let file = run["session_files"]
        .as_array()
        .and_then(|f| f.first())
        .and_then(Value::as_str)
        .expect("the CLI wrote a session file")
        .to_string();
    let provider = agent;
    // The session as aimux parses it from the file (a separate aimux run, separate state).
    let home = run["home"].as_str().expect("home").to_string();
    let rows: Value = serde_json::from_str(&aimux(
        &dir.path().join("aimux-files"),
        std::path::Path::new(&home),
        &["sessions", "--json"],
    ))
    .expect("sessions json");
    let row = rows["sessions"]
        .as_array()
        .into_iter()
        .flatten()
        .find(|r| r["provider"] == provider && file.contains(r["id"].as_str().unwrap_or("-")))
        .cloned()
        .expect("aimux parsed the session file");
    let id = row["id"].as_str().expect("id").to_string();
    let tel = serve
        .wait_session(Duration::from_secs(20), |s| {
            s["id"] == id.as_str() && s["tokens"] == row["tokens"]
        })
        .unwrap_or_else(|| {
            panic!(
                "telemetry never matched the file's tokens {}: {}",
                row["tokens"],
                serve.get("/debug/sessions")
            )
        });
    assert_eq!(tel["provider"], provider);
    assert!(tel["tokens"]["output"].as_u64().is_some_and(|o| o > 0));
    assert_eq!(tel["tool_calls"], row["tool_calls"]);
    if agent == "claude" {
        let cost = tel["cost_usd"].as_f64().expect("Claude reports cost_usd");
        assert!(cost > 0.0);
        // The delta-sum cost metric adds up to the same (when a metric export arrived).
        let m = tel["metric_cost_usd"].as_f64().unwrap_or(0.0);
        assert!(
            m == 0.0 || (m - cost).abs() < 1e-6,
            "metric {m} vs logs {cost}"
        );
    }
    let dbg = serve.get("/debug");
    let key = format!(
        "/v1/logs {}",
        if protocol == "json" {
            "json"
        } else {
            "protobuf"
        }
    );
    assert!(
        dbg["requests"][&key].as_u64().is_some_and(|n| n >= 1),
        "{dbg}"
    );
    assert_eq!(dbg["decode_errors"], 0);
    // Prompt logging is off by default: no prompt text in the events dump.
    let events = serve.get("/debug?events=1").to_string();
    assert!(
        !events.contains("USE_TOOL"),
        "prompt text leaked into /debug"
    );
    Some(())
}

#[test]
fn claude_code_otlp_http_json() {
    run_agent("claude_code_otlp_http_json", "claude", "json");
}

#[test]
fn claude_code_otlp_http_protobuf() {
    run_agent("claude_code_otlp_http_protobuf", "claude", "protobuf");
}

#[test]
fn codex_otlp_logs_json() {
    run_agent("codex_otlp_logs_json", "codex", "json");
}

#[test]
fn codex_otlp_logs_binary() {
    run_agent("codex_otlp_logs_binary", "codex", "protobuf");
}

/// `aimux serve` with the engine: while the real Claude Code runs (a tool call that sleeps),
/// its live agent row (engine + telemetry hook, at /debug/agents) shows the session with
/// tokens and a cost equal to what Claude itself reported through telemetry.
#[test]
fn live_agent_row_merges_claude_telemetry() {
    const TEST: &str = "live_agent_row_merges_claude_telemetry";
    let bin = std::path::PathBuf::from(std::env::var("HOME").unwrap_or_default())
        .join(".cache/aimux-agents/node_modules/.bin/claude");
    let bin = std::env::var("AIMUX_AGENTS_PREFIX")
        .map(|p| std::path::PathBuf::from(p).join("node_modules/.bin/claude"))
        .unwrap_or(bin);
    if !bin.exists() || Command::new("python3").arg("--version").output().is_err() {
        return skip(
            TEST,
            "claude CLI or python3 missing (scripts/install-agents)",
        );
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let state = dir.path().join("agent");
    let home = state.join("home");
    std::fs::create_dir_all(&home).expect("home");
    let serve = Serve::start_with(&dir.path().join("aimux"), &home, true, &[]);
    let url = serve.url();
    let st = state.clone();
    let driver = std::thread::spawn(move || {
        Command::new("python3")
            .arg(workspace().join("testkit/otel_agents.py"))
            .arg("--state")
            .arg(&st)
            .args([
                "--agent",
                "claude",
                "--endpoint",
                &url,
                "--protocol",
                "json",
            ])
            .args(["--prompt", "Please run SLEEP_TOOL 6 now"])
            .output()
            .expect("driver")
    });
    let deadline = std::time::Instant::now() + Duration::from_secs(60);
    let mut seen: Option<Value> = None;
    while std::time::Instant::now() < deadline && !driver.is_finished() {
        let agents = serve.get("/debug/agents");
        let mut rows = Vec::new();
        fn walk<'a>(v: &'a Value, out: &mut Vec<&'a Value>) {
            for r in v.as_array().into_iter().flatten() {
                out.push(r);
                walk(&r["subagents"], out);
            }
        }
        walk(&agents["agents"], &mut rows);
        let tel = serve.get("/debug/sessions");
        for r in rows {
            let Some(id) = r["session_id"].as_str() else {
                continue;
            };
            let Some(t) = tel.as_array().into_iter().flatten().find(|t| t["id"] == id) else {
                continue;
            };
            let (rc, tc) = (r["cost_usd"].as_f64(), t["cost_usd"].as_f64());
            if rc
                .zip(tc)
                .is_some_and(|(a, b)| a > 0.0 && (a - b).abs() < 1e-6)
            {
                seen = Some(json!({"row": r, "telemetry": t}));
            }
        }
        if seen.is_some() {
            break;
        }
        std::thread::sleep(Duration::from_millis(300));
    }
    let out = driver.join().expect("driver thread");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let seen = seen.unwrap_or_else(|| {
        panic!(
            "no live claude row with telemetry cost; agents: {}",
            serve.get("/debug/agents")
        )
    });
    let (row, tel) = (&seen["row"], &seen["telemetry"]);
    assert_eq!(row["provider"], "claude");
    assert!(
        row["tokens"]["output"].as_u64().is_some_and(|o| o > 0),
        "{row}"
    );
    assert_eq!(row["session_id"], tel["id"]);
    assert_eq!(row["tokens"]["output"], tel["tokens"]["output"], "{seen}");
}
