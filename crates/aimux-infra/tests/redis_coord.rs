//! Coordination against a REAL redis-server: atomic claims under concurrent workers,
//! bounded retries, heartbeat format, inboxes, usage counters and costs.

mod common;

use aimux_core::TokenUsage;
use aimux_core::pricing::PriceTable;
use aimux_infra::coord::{AgentRecord, Coordinator, FailOutcome, Message, NewTask, RunRecord};
use aimux_infra::schema::{Keys, now_ms};
use redis::AsyncCommands;
use std::collections::{BTreeMap, HashSet};

fn task(provider: &str, prompt: &str, max_retries: u32) -> NewTask {
    NewTask {
        provider: provider.into(),
        prompt: prompt.into(),
        dir: Some("/tmp".into()),
        role: Some("tester".into()),
        max_retries,
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 4)]
async fn concurrent_workers_never_claim_the_same_task() {
    let Some(server) = common::RedisServer::start("concurrent_workers_never_claim_the_same_task")
    else {
        return;
    };
    let coord = Coordinator::connect(&server.url(), "aimux")
        .await
        .expect("connect");
    let mut submitted = Vec::new();
    for i in 0..60 {
        let provider = if i % 3 == 0 { "codex" } else { "claude" };
        submitted.push(
            coord
                .submit(&task(provider, &format!("task {i}"), 0))
                .await
                .expect("submit")
                .id,
        );
    }
    let mut handles = Vec::new();
    for w in 0..8 {
        // each worker has its own connection, like separate pods
        let c = Coordinator::connect(&server.url(), "aimux")
            .await
            .expect("connect");
        handles.push(tokio::spawn(async move {
            let me = format!("w{w}");
            let mut mine = Vec::new();
            while let Some(t) = c.claim(&me, &["claude", "codex"]).await.expect("claim") {
                assert_eq!(t.assignee.as_deref(), Some(me.as_str()));
                assert_eq!(t.status, "claimed");
                mine.push(t.id);
            }
            mine
        }));
    }
    let mut all = Vec::new();
    for h in handles {
        all.extend(h.await.expect("join"));
    }
    let unique: HashSet<&String> = all.iter().collect();
    assert_eq!(all.len(), 60, "every task claimed once: {all:?}");
    assert_eq!(unique.len(), 60);
    assert_eq!(unique, submitted.iter().collect::<HashSet<_>>());
    assert_eq!(coord.queue_len("claude").await.expect("len"), 0);
    // a worker for codex only never takes claude tasks
    let c = coord
        .submit(&task("claude", "for claude", 0))
        .await
        .expect("submit");
    assert!(
        coord
            .claim("codex-only", &["codex"])
            .await
            .expect("claim")
            .is_none()
    );
    let got = coord
        .claim("claude-w", &["claude"])
        .await
        .expect("claim")
        .expect("some");
    assert_eq!(got.id, c.id);
    assert_eq!(got.prompt, "for claude");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failures_requeue_until_max_retries() {
    let Some(server) = common::RedisServer::start("failures_requeue_until_max_retries") else {
        return;
    };
    let coord = Coordinator::connect(&server.url(), "aimux")
        .await
        .expect("connect");
    let t = coord
        .submit(&task("gemini", "flaky", 2))
        .await
        .expect("submit");
    assert_eq!(t.status, "pending");
    assert_eq!(t.max_retries, 2);
    for attempt in 0..3u32 {
        let c = coord
            .claim("w", &["gemini"])
            .await
            .expect("claim")
            .expect("queued");
        assert_eq!(c.id, t.id);
        assert_eq!(c.retries, attempt);
        // another agent cannot fail or start it
        assert_eq!(
            coord.fail(&t.id, "intruder", "x").await.expect("fail"),
            FailOutcome::Ignored
        );
        assert!(!coord.start(&t.id, "intruder").await.expect("start"));
        assert!(coord.start(&t.id, "w").await.expect("start"));
        assert_eq!(coord.task(&t.id).await.expect("get").status, "running");
        let o = coord
            .fail(&t.id, "w", &format!("boom {attempt}"))
            .await
            .expect("fail");
        let after = coord.task(&t.id).await.expect("get");
        if attempt < 2 {
            assert_eq!(o, FailOutcome::Requeued);
            assert_eq!(after.status, "pending");
            assert_eq!(after.retries, attempt + 1);
            assert_eq!(after.assignee, None);
            assert_eq!(coord.queue_len("gemini").await.expect("len"), 1);
        } else {
            assert_eq!(o, FailOutcome::Failed);
            assert_eq!(after.status, "failed");
            assert_eq!(after.retries, 2);
            assert_eq!(after.error.as_deref(), Some("boom 2"));
            assert!(after.finished_at.is_some());
        }
    }
    assert!(
        coord
            .claim("w", &["gemini"])
            .await
            .expect("claim")
            .is_none()
    );
    let logs = coord.logs(&t.id).await.expect("logs");
    assert_eq!(
        logs.iter().filter(|l| l.contains("claimed by w")).count(),
        3,
        "{logs:?}"
    );
    assert!(coord.logs("t-999").await.is_err());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn heartbeats_are_integer_milliseconds_everywhere() {
    let Some(server) = common::RedisServer::start("heartbeats_are_integer_milliseconds_everywhere")
    else {
        return;
    };
    let coord = Coordinator::connect(&server.url(), "aimux")
        .await
        .expect("connect");
    let before = now_ms();
    coord
        .register(&AgentRecord {
            id: "w-1".into(),
            provider: Some("claude".into()),
            location: Some("k8s".into()),
            ..Default::default()
        })
        .await
        .expect("register");
    tokio::time::sleep(std::time::Duration::from_millis(30)).await;
    let hb = coord
        .heartbeat("w-1", "busy", Some("t-7"))
        .await
        .expect("hb");
    let after = now_ms();
    assert!(hb >= before + 30 && hb <= after, "{before} {hb} {after}");
    // read raw values: no float, no seconds
    let client = redis::Client::open(server.url()).expect("client");
    let mut raw = client
        .get_multiplexed_async_connection()
        .await
        .expect("conn");
    let keys = Keys::default();
    let field: String = raw
        .hget(keys.agent("w-1"), "heartbeat_at")
        .await
        .expect("hget");
    assert!(field.chars().all(|c| c.is_ascii_digit()), "{field}");
    assert_eq!(field.parse::<i64>().expect("int"), hb);
    let score: String = redis::cmd("ZSCORE")
        .arg(keys.agents())
        .arg("w-1")
        .query_async(&mut raw)
        .await
        .expect("zscore");
    assert_eq!(score, hb.to_string());
    let agents = coord.agents().await.expect("agents");
    assert_eq!(agents.len(), 1);
    let a = &agents[0];
    assert_eq!(a.heartbeat_at, Some(hb));
    assert_eq!(a.status.as_deref(), Some("busy"));
    assert_eq!(a.current_task.as_deref(), Some("t-7"));
    assert_eq!(a.location.as_deref(), Some("k8s"));
    assert!(a.registered_at.expect("registered") <= hb);
    // task timestamps use the same format
    let t = coord.submit(&task("claude", "p", 0)).await.expect("submit");
    let created: String = raw
        .hget(keys.task(&t.id), "created_at")
        .await
        .expect("hget");
    assert!(created.parse::<i64>().expect("int") >= before);
    coord.deregister("w-1").await.expect("deregister");
    assert!(coord.agents().await.expect("agents").is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn inbox_delivers_in_order_once() {
    let Some(server) = common::RedisServer::start("inbox_delivers_in_order_once") else {
        return;
    };
    let coord = Coordinator::connect(&server.url(), "aimux")
        .await
        .expect("connect");
    for i in 0..3 {
        coord
            .send(
                "w-2",
                &Message {
                    from: "lead".into(),
                    text: format!("m{i}"),
                    sent_at: now_ms(),
                    kind: "message".into(),
                },
            )
            .await
            .expect("send");
    }
    let peek = coord.peek_messages("w-2").await.expect("peek");
    assert_eq!(
        peek.iter().map(|m| m.text.as_str()).collect::<Vec<_>>(),
        ["m0", "m1", "m2"]
    );
    let got = coord.take_messages("w-2").await.expect("take");
    assert_eq!(
        got.iter().map(|m| m.text.as_str()).collect::<Vec<_>>(),
        ["m0", "m1", "m2"]
    );
    assert!(coord.take_messages("w-2").await.expect("take").is_empty());
    assert!(
        coord
            .take_messages("someone-else")
            .await
            .expect("take")
            .is_empty()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn completed_runs_feed_counters_and_priced_costs() {
    let Some(server) = common::RedisServer::start("completed_runs_feed_counters_and_priced_costs")
    else {
        return;
    };
    let coord = Coordinator::connect(&server.url(), "aimux")
        .await
        .expect("connect");
    let prices = PriceTable::bundled();
    let model = "claude-sonnet-4-5";
    let p = prices.lookup(model).expect("sonnet in the bundled list");
    let tokens = TokenUsage {
        input: 1200,
        output: 300,
        cache_read: 5000,
        cache_write: 700,
    };
    for (i, agent) in ["w-a", "w-a", "w-b"].iter().enumerate() {
        let t = coord
            .submit(&task("claude", &format!("job {i}"), 0))
            .await
            .expect("submit");
        let c = coord
            .claim(agent, &["claude"])
            .await
            .expect("claim")
            .expect("some");
        assert_eq!(c.id, t.id);
        assert!(coord.start(&t.id, agent).await.expect("start"));
        let mut run = RunRecord {
            result: format!("answer {i}"),
            by_model: BTreeMap::from([(model.to_string(), tokens)]),
            ..Default::default()
        };
        run.price(&prices);
        coord.add_usage(agent, &run, true).await.expect("usage");
        assert!(coord.complete(&t.id, agent, &run).await.expect("complete"));
        let done = coord.task(&t.id).await.expect("get");
        assert_eq!(done.status, "done");
        assert_eq!(done.result.as_deref(), Some(format!("answer {i}").as_str()));
        assert_eq!(done.tokens, Some(tokens));
        assert_eq!(done.model.as_deref(), Some(model));
        // completing twice is refused
        assert!(!coord.complete(&t.id, agent, &run).await.expect("complete"));
    }
    let report = coord.costs(&prices).await.expect("costs");
    let one = p.cost(&tokens);
    assert!(one > 0.0);
    assert!((report.total_usd - 3.0 * one).abs() < 1e-9, "{report:?}");
    let a = report.lines.iter().find(|l| l.agent == "w-a").expect("w-a");
    assert_eq!(a.tokens.input, 2400);
    assert_eq!(a.tokens.cache_read, 10000);
    assert!(report.unpriced_models.is_empty());
    // an unknown model is reported as unpriced, not $0
    let run = RunRecord {
        by_model: BTreeMap::from([("mystery-model-9".to_string(), tokens)]),
        ..Default::default()
    };
    coord.add_usage("w-c", &run, false).await.expect("usage");
    let report = coord.costs(&prices).await.expect("costs");
    assert_eq!(report.unpriced_models, vec!["mystery-model-9".to_string()]);
    assert!((report.total_usd - 3.0 * one).abs() < 1e-9);
    let usage = coord.usage().await.expect("usage");
    let wa = usage.iter().find(|u| u.agent == "w-a").expect("w-a");
    assert_eq!(wa.tasks_done, 2);
    let wc = usage.iter().find(|u| u.agent == "w-c").expect("w-c");
    assert_eq!(wc.tasks_failed, 1);
}

#[tokio::test]
async fn unreachable_redis_fails_fast_with_the_url() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("port");
    let t = std::time::Instant::now();
    let err = Coordinator::connect(&format!("redis://127.0.0.1:{port}"), "aimux")
        .await
        .expect_err("nobody listens");
    assert!(t.elapsed() < std::time::Duration::from_secs(8));
    assert!(
        err.to_string().contains(&format!("127.0.0.1:{port}")),
        "{err}"
    );
    assert!(Coordinator::connect("not a url", "aimux").await.is_err());
}
