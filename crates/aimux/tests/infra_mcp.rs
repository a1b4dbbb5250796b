//! An MCP client drives `aimux mcp` over stdio with raw JSON-RPC (newline-delimited, as
//! Claude Code does): initialize, tools/list, create_task, wait_for_task while a real
//! `aimux worker` process runs it, get_result, list_agents, scale_down, costs. Also
//! `aimux mcp install claude`.

mod infra_support;

use aimux_core::TokenUsage;
use aimux_core::pricing::PriceTable;
use infra_support::*;
use serde_json::{Value, json};
use std::io::{BufRead, BufReader, Write};
use std::process::{ChildStdin, Command, Stdio};
use std::sync::mpsc::{Receiver, channel};
use std::time::{Duration, Instant};

struct Client {
    _proc: Proc,
    stdin: ChildStdin,
    rx: Receiver<Value>,
    pending: Vec<Value>,
}

impl Client {
    fn start(scratch: &std::path::Path, redis_url: &str) -> Client {
        let mut child = aimux_cmd(scratch, redis_url)
            .arg("mcp")
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::inherit())
            .spawn()
            .expect("spawn aimux mcp");
        let stdin = child.stdin.take().expect("stdin");
        let stdout = child.stdout.take().expect("stdout");
        let (tx, rx) = channel();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines() {
                let Ok(line) = line else { break };
                if let Ok(v) = serde_json::from_str::<Value>(&line)
                    && tx.send(v).is_err()
                {
                    break;
                }
            }
        });
        Client {
            _proc: Proc(child),
            stdin,
            rx,
            pending: Vec::new(),
        }
    }

    fn send(&mut self, v: Value) {
        let mut line = serde_json::to_string(&v).expect("json");
        line.push('\n');
        self.stdin.write_all(line.as_bytes()).expect("write");
        self.stdin.flush().expect("flush");
    }

    fn response(&mut self, id: i64, timeout: Duration) -> Value {
        if let Some(i) = self.pending.iter().position(|v| v["id"] == id) {
            return self.pending.remove(i);
        }
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            let v = self
                .rx
                .recv_timeout(left)
                .unwrap_or_else(|_| panic!("no response to request {id}"));
            if v["id"] == id {
                return v;
            }
            self.pending.push(v);
        }
    }

    fn request(&mut self, id: i64, method: &str, params: Value) -> Value {
        self.send(json!({"jsonrpc": "2.0", "id": id, "method": method, "params": params}));
        self.response(id, Duration::from_secs(30))
    }

    /// tools/call → (is_error, the text content parsed as JSON when it is JSON)
    fn call(&mut self, id: i64, name: &str, args: Value) -> (bool, Value) {
        let r = self.request(id, "tools/call", json!({"name": name, "arguments": args}));
        tool_payload(&r)
    }
}

fn tool_payload(r: &Value) -> (bool, Value) {
    let result = &r["result"];
    assert!(result.is_object(), "not a result: {r}");
    let text = result["content"][0]["text"]
        .as_str()
        .unwrap_or("")
        .to_string();
    let v = serde_json::from_str(&text).unwrap_or(Value::String(text));
    (result["isError"] == true, v)
}

fn stub_claude(dir: &std::path::Path) -> std::path::PathBuf {
    // prints a Claude Code `-p --output-format json` result that echoes the prompt ($2)
    let bin = dir.join("stub-claude");
    std::fs::write(
        &bin,
        r#"#!/bin/sh
printf '{"type":"result","subtype":"success","is_error":false,"result":"stub did: %s","modelUsage":{"claude-sonnet-4-5":{"inputTokens":1000,"outputTokens":200,"cacheReadInputTokens":3000,"cacheCreationInputTokens":0}}}\n' "$2"
"#,
    )
    .expect("write");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&bin, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    }
    bin
}

#[test]
fn lead_agent_dispatches_a_task_through_mcp() {
    let test = "lead_agent_dispatches_a_task_through_mcp";
    let scratch = tempfile::tempdir().expect("tempdir");
    let s = scratch.path();
    let Some(redis) = redis(test, s) else { return };
    let stub = stub_claude(s);
    let mut c = Client::start(s, &redis.url());

    let init = c.request(
        1,
        "initialize",
        json!({
        "protocolVersion": "2025-06-18", "capabilities": {},
        "clientInfo": {"name": "infra-mcp-test", "version": "0"}}),
    );
    assert_eq!(init["result"]["serverInfo"]["name"], "aimux", "{init}");
    assert!(init["result"]["capabilities"]["tools"].is_object());
    c.send(json!({"jsonrpc": "2.0", "method": "notifications/initialized"}));

    let tools = c.request(2, "tools/list", json!({}));
    let mut names: Vec<&str> = tools["result"]["tools"]
        .as_array()
        .expect("tools")
        .iter()
        .filter_map(|t| t["name"].as_str())
        .collect();
    names.sort();
    assert_eq!(
        names,
        [
            "costs",
            "create_task",
            "get_result",
            "list_agents",
            "list_tasks",
            "scale_down",
            "send_message",
            "spawn_workers",
            "wait_for_task"
        ]
    );

    // no cluster configured: spawn_workers says so and starts nothing
    let (err, v) = c.call(
        3,
        "spawn_workers",
        json!({"provider": "claude", "count": 2}),
    );
    assert!(!err);
    assert_eq!(v["scaled"], false, "{v}");
    assert_eq!(v["started"], 0);
    assert!(
        v["reason"]
            .as_str()
            .expect("reason")
            .contains("no compute backend"),
        "{v}"
    );

    let (err, v) = c.call(4, "create_task", json!({"provider": "claude", "prompt": "refactor the parser", "dir": s.display().to_string()}));
    assert!(!err, "{v}");
    let id = v["id"].as_str().expect("id").to_string();
    assert_eq!(v["status"], "pending");
    let (err, v) = c.call(5, "create_task", json!({"provider": "nope", "prompt": "x"}));
    assert!(err, "unknown provider is a tool error: {v}");

    // wait_for_task is in flight while the worker process picks the task up
    c.send(json!({"jsonrpc": "2.0", "id": 6, "method": "tools/call",
                  "params": {"name": "wait_for_task", "arguments": {"id": id, "timeout_secs": 60}}}));
    std::thread::sleep(Duration::from_millis(300));
    let (code, out, err) = run(aimux_cmd(s, &redis.url())
        .args([
            "worker",
            "--provider",
            "claude",
            "--once",
            "--id",
            "mcp-worker",
            "--bin",
        ])
        .arg(&stub));
    assert_eq!(code, 0, "{out}{err}");
    let (err, waited) = tool_payload(&c.response(6, Duration::from_secs(30)));
    assert!(!err);
    assert_eq!(waited["timed_out"], false, "{waited}");
    assert_eq!(waited["status"], "done");
    assert_eq!(waited["result"], "stub did: refactor the parser");

    let (_, r) = c.call(7, "get_result", json!({"id": id}));
    assert_eq!(r["result"], "stub did: refactor the parser");
    assert_eq!(r["assignee"], "mcp-worker");
    let (err, _) = c.call(8, "get_result", json!({"id": "t-404"}));
    assert!(err);
    let (_, list) = c.call(9, "list_tasks", json!({"status": "done"}));
    assert_eq!(list.as_array().map(Vec::len), Some(1), "{list}");

    // costs come from the worker's counters priced with aimux-core's price list
    let (_, costs) = c.call(10, "costs", json!({}));
    let tokens = TokenUsage {
        input: 1000,
        output: 200,
        cache_read: 3000,
        cache_write: 0,
    };
    let want = PriceTable::bundled()
        .cost("claude-sonnet-4-5", &tokens)
        .expect("priced");
    let total = costs["total_usd"].as_f64().expect("total");
    assert!((total - want).abs() < 1e-9, "{costs} vs {want}");
    assert_eq!(costs["lines"][0]["agent"], "mcp-worker");

    // a long-running worker shows up in list_agents; scale_down stops it
    let mut worker = aimux_cmd(s, &redis.url())
        .args([
            "worker",
            "--provider",
            "claude",
            "--id",
            "long-worker",
            "--heartbeat-ms",
            "200",
            "--json",
            "--bin",
        ])
        .arg(&stub)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .expect("spawn worker");
    let deadline = Instant::now() + Duration::from_secs(20);
    let agent = loop {
        let (_, agents) = c.call(11, "list_agents", json!({}));
        if let Some(a) = agents
            .as_array()
            .and_then(|a| a.iter().find(|a| a["id"] == "long-worker"))
        {
            break a.clone();
        }
        assert!(Instant::now() < deadline, "worker never registered");
        std::thread::sleep(Duration::from_millis(100));
    };
    assert_eq!(agent["provider"], "claude");
    assert!(agent["heartbeat_at"].is_i64(), "{agent}");
    let (_, v) = c.call(
        12,
        "send_message",
        json!({"to": "long-worker", "text": "hello"}),
    );
    assert_eq!(v["to"], "long-worker");
    let (_, v) = c.call(13, "scale_down", json!({"count": 1, "provider": "claude"}));
    assert_eq!(v["asked_to_stop"], json!(["long-worker"]), "{v}");
    let deadline = Instant::now() + Duration::from_secs(20);
    let status = loop {
        if let Some(st) = worker.try_wait().expect("wait") {
            break st;
        }
        if Instant::now() > deadline {
            let _ = worker.kill();
            panic!("worker did not stop after scale_down");
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(status.success());
    let mut out = String::new();
    std::io::Read::read_to_string(&mut worker.stdout.take().expect("stdout"), &mut out)
        .expect("read");
    let summary: Value = serde_json::from_str(&out).expect("json");
    assert_eq!(summary["stopped_by_message"], true);
    let (_, agents) = c.call(14, "list_agents", json!({}));
    assert_eq!(agents, json!([]));
}

#[test]
fn mcp_tools_report_an_unreachable_redis_instead_of_dying() {
    let scratch = tempfile::tempdir().expect("tempdir");
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("port");
    let mut c = Client::start(scratch.path(), &format!("redis://127.0.0.1:{port}"));
    let init = c.request(1, "initialize", json!({"protocolVersion": "2025-06-18", "capabilities": {}, "clientInfo": {"name": "t", "version": "0"}}));
    assert!(init["result"].is_object());
    c.send(json!({"jsonrpc": "2.0", "method": "notifications/initialized"}));
    let (err, v) = c.call(2, "list_tasks", json!({}));
    assert!(err);
    assert!(v.as_str().expect("text").contains("not reachable"), "{v}");
}

#[test]
fn mcp_install_claude_shows_the_change_and_keeps_other_settings() {
    let scratch = tempfile::tempdir().expect("tempdir");
    let s = scratch.path();
    let cfg = s.join("claude.json");
    let original = json!({"theme": "dark", "projects": {"/x": {"allowedTools": []}}, "mcpServers": {"other": {"command": "x"}}});
    std::fs::write(&cfg, serde_json::to_string_pretty(&original).expect("json")).expect("write");
    let aimux_cmd = |args: &[&str]| {
        let mut c = Command::new(aimux());
        c.env("AIMUX_HOME", s.join("ah"))
            .env("AIMUX_DATA_HOME", s.join("dh"))
            .env_remove("AIMUX_REDIS_URL");
        c.args(args).arg("--config").arg(&cfg);
        c
    };
    // no terminal and no --yes: shows the change, changes nothing
    let (code, out, err) = run(&mut aimux_cmd(&["mcp", "install", "claude"]));
    assert_ne!(code, 0);
    assert!(
        out.contains("mcpServers.aimux") && out.contains("\"mcp\""),
        "{out}"
    );
    assert!(err.contains("--yes"), "{err}");
    let now: Value =
        serde_json::from_str(&std::fs::read_to_string(&cfg).expect("read")).expect("json");
    assert_eq!(now, original);
    // --yes applies it
    let (code, out, err) = run(&mut aimux_cmd(&["mcp", "install", "claude", "--yes"]));
    assert_eq!(code, 0, "{out}{err}");
    let now: Value =
        serde_json::from_str(&std::fs::read_to_string(&cfg).expect("read")).expect("json");
    assert_eq!(now["theme"], "dark");
    assert_eq!(now["projects"], original["projects"]);
    assert_eq!(now["mcpServers"]["other"], original["mcpServers"]["other"]);
    let entry = &now["mcpServers"]["aimux"];
    assert_eq!(entry["type"], "stdio");
    assert_eq!(entry["args"], json!(["mcp"]));
    let cmd = entry["command"].as_str().expect("command");
    assert_eq!(
        std::fs::canonicalize(cmd).expect("exists"),
        std::fs::canonicalize(aimux()).expect("aimux")
    );
    // idempotent
    let (code, out, _) = run(&mut aimux_cmd(&["mcp", "install", "claude", "--yes"]));
    assert_eq!(code, 0);
    assert!(out.contains("nothing to change"), "{out}");
    // a file that is not JSON is left alone
    std::fs::write(&cfg, "{ not json").expect("write");
    let (code, _, err) = run(&mut aimux_cmd(&["mcp", "install", "claude", "--yes"]));
    assert_ne!(code, 0);
    assert!(err.contains("not valid JSON"), "{err}");
    assert_eq!(std::fs::read_to_string(&cfg).expect("read"), "{ not json");
}
