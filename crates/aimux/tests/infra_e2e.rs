//! End to end: `aimux task submit` → `aimux worker --once` (run locally in place of a pod,
//! the same entrypoint) claims the task, runs the REAL Claude Code non-interactively against
//! the scripted model server, writes the result back → `aimux task show` has the prompt,
//! the result, the tokens the model server really reported, and their price.

mod infra_support;

use aimux_core::TokenUsage;
use aimux_core::pricing::PriceTable;
use infra_support::*;
use serde_json::Value;
use std::process::Command;

#[test]
fn submitted_task_runs_on_a_worker_with_real_claude() {
    let test = "submitted_task_runs_on_a_worker_with_real_claude";
    let scratch = tempfile::tempdir().expect("tempdir");
    let s = scratch.path();
    let Some(redis) = redis(test, s) else { return };
    let Some(claude) = claude_bin(test) else {
        return;
    };
    let Some(model) = model_server(test, s) else {
        return;
    };
    let home = s.join("home");
    let project = s.join("proj with space");
    std::fs::create_dir_all(&project).expect("mkdir");
    seed_claude_home(&home, &project);

    // a prompt with shell metacharacters: it must reach the agent as one argv argument
    let marker = format!("infra-e2e-{}", std::process::id());
    let prompt = format!("Say hello; echo $HOME && `id` \"quoted\" {marker}");
    let (code, out, err) = run(aimux_cmd(s, &redis.url())
        .args([
            "task",
            "submit",
            "--provider",
            "claude",
            "--prompt",
            &prompt,
            "--json",
            "--dir",
        ])
        .arg(&project));
    assert_eq!(code, 0, "{out}{err}");
    let submitted: Value = serde_json::from_str(&out).expect("json");
    let id = submitted["id"].as_str().expect("id").to_string();
    assert_eq!(submitted["status"], "pending");

    let (code, out, err) = run(aimux_cmd(s, &redis.url()).args(["task", "list", "--json"]));
    assert_eq!(code, 0, "{err}");
    let list: Value = serde_json::from_str(&out).expect("json");
    assert_eq!(list.as_array().map(Vec::len), Some(1));
    assert_eq!(list[0]["id"], id.as_str());

    let mut worker = aimux_cmd(s, &redis.url());
    worker.args([
        "worker",
        "--provider",
        "claude",
        "--once",
        "--json",
        "--id",
        "e2e-worker",
    ]);
    claude_env(&mut worker, &home, &claude, model.port);
    let (code, out, err) = run(&mut worker);
    assert_eq!(code, 0, "worker failed:\n{out}\n{err}");
    let summary: Value = serde_json::from_str(&out).expect("json");
    assert_eq!(summary["done"][0], id.as_str(), "{summary}");

    let (code, out, err) = run(aimux_cmd(s, &redis.url()).args(["task", "show", &id, "--json"]));
    assert_eq!(code, 0, "{err}");
    let t: Value = serde_json::from_str(&out).expect("json");
    assert_eq!(t["status"], "done", "{t}");
    assert_eq!(t["prompt"], prompt.as_str());
    assert_eq!(t["assignee"], "e2e-worker");
    assert_eq!(t["dir"], project.display().to_string().as_str());
    let result = t["result"].as_str().expect("result");
    assert!(result.contains("scripted model server"), "{result}");
    for k in ["created_at", "claimed_at", "started_at", "finished_at"] {
        assert!(t[k].is_i64(), "{k}: {t}");
    }
    assert!(t["created_at"].as_i64() <= t["claimed_at"].as_i64());
    assert!(t["started_at"].as_i64() <= t["finished_at"].as_i64());

    // what the model server saw and reported: the prompt (intact), and the usage
    let records: Vec<Value> = std::fs::read_to_string(&model.record)
        .expect("record")
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    assert!(!records.is_empty());
    let turn = records
        .iter()
        .find(|r| r["user_text"].as_str().is_some_and(|u| u.contains(&marker)))
        .expect("the model server received the prompt");
    assert!(
        turn["user_text"]
            .as_str()
            .expect("text")
            .contains("`id` \"quoted\""),
        "{turn}"
    );
    let mut want = TokenUsage::default();
    for r in &records {
        let u = &r["usage"];
        want.input += u["input"].as_u64().unwrap_or(0);
        want.output += u["output"].as_u64().unwrap_or(0);
        want.cache_read += u["cache_read"].as_u64().unwrap_or(0);
        want.cache_write += u["cache_write"].as_u64().unwrap_or(0);
    }
    let got: TokenUsage = serde_json::from_value(t["tokens"].clone()).expect("tokens");
    assert_eq!(got, want, "task tokens = what the model server reported");
    assert!(!want.is_zero());
    // cost: aimux-core pricing of the reported usage (single-model run here)
    let served_model = turn["model"].as_str().expect("model");
    if records.iter().all(|r| r["model"] == served_model) {
        let expect = PriceTable::bundled()
            .cost(served_model, &want)
            .expect("model priced");
        let cost = t["cost_usd"].as_f64().expect("cost");
        assert!((cost - expect).abs() < 1e-6, "{cost} vs {expect}");
    }

    // the text twin has the prompt and the result too
    let (code, out, _) = run(aimux_cmd(s, &redis.url()).args(["task", "show", &id]));
    assert_eq!(code, 0);
    assert!(
        out.contains(&marker) && out.contains("scripted model server"),
        "{out}"
    );
    let (code, out, _) = run(aimux_cmd(s, &redis.url()).args(["task", "logs", &id]));
    assert_eq!(code, 0);
    assert!(
        out.contains("claimed by e2e-worker") && out.contains("exit 0"),
        "{out}"
    );
    // the worker left the registry; its counters stay for costs
    let (code, out, _) = run(aimux_cmd(s, &redis.url()).args(["infra", "health", "--json"]));
    assert_eq!(code, 0);
    let h: Value = serde_json::from_str(&out).expect("json");
    assert_eq!(h["coordination"]["ok"], true);
    assert_eq!(h["compute"]["configured"], false);
}

#[test]
fn failing_agent_is_retried_then_failed_with_its_error() {
    let test = "failing_agent_is_retried_then_failed_with_its_error";
    let scratch = tempfile::tempdir().expect("tempdir");
    let s = scratch.path();
    let Some(redis) = redis(test, s) else { return };
    // an agent binary that exits non-zero with a message on stderr
    let bin = s.join("broken-claude");
    std::fs::write(&bin, "#!/bin/sh\necho 'model overloaded' >&2\nexit 3\n").expect("write");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&bin, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    }
    let (code, out, err) = run(aimux_cmd(s, &redis.url()).args([
        "task",
        "submit",
        "--provider",
        "claude",
        "--prompt",
        "hi",
        "--max-retries",
        "1",
        "--json",
    ]));
    assert_eq!(code, 0, "{err}");
    let id = serde_json::from_str::<Value>(&out).expect("json")["id"]
        .as_str()
        .expect("id")
        .to_string();
    for (round, want_status) in [(0, "pending"), (1, "failed")] {
        let (code, _, err) = run(aimux_cmd(s, &redis.url())
            .args(["worker", "--provider", "claude", "--once", "--bin"])
            .arg(&bin));
        assert_eq!(code, 1, "round {round}: {err}");
        let (_, out, _) = run(aimux_cmd(s, &redis.url()).args(["task", "show", &id, "--json"]));
        let t: Value = serde_json::from_str(&out).expect("json");
        assert_eq!(t["status"], want_status, "round {round}: {t}");
        assert_eq!(t["retries"], 1);
        assert!(
            t["error"]
                .as_str()
                .expect("error")
                .contains("model overloaded"),
            "{t}"
        );
    }
    // nothing left to claim
    let (code, out, _) = run(aimux_cmd(s, &redis.url())
        .args([
            "worker",
            "--provider",
            "claude",
            "--once",
            "--json",
            "--bin",
        ])
        .arg(&bin));
    assert_eq!(code, 0);
    let sum: Value = serde_json::from_str(&out).expect("json");
    assert_eq!(sum["done"].as_array().map(Vec::len), Some(0));
}

#[test]
fn unreachable_redis_is_a_clear_error() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("port");
    let scratch = tempfile::tempdir().expect("tempdir");
    let url = format!("redis://127.0.0.1:{port}");
    let (code, _, err) = run(aimux_cmd(scratch.path(), &url).args(["task", "list"]));
    assert_eq!(code, 1);
    assert!(
        err.contains("redis") && err.contains(&port.to_string()) && err.contains("--redis"),
        "{err}"
    );
    let (code, out, _) = run(aimux_cmd(scratch.path(), &url).args(["infra", "health", "--json"]));
    assert_eq!(code, 1);
    let h: Value = serde_json::from_str(&out).expect("json");
    assert_eq!(h["coordination"]["ok"], false);
    let _ = Command::new("true").status();
}
