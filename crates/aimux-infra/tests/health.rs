//! The health model against a real redis-server: coordination = ping + latency + version,
//! compute = not configured without a cluster, workloads = registered workers, stale when
//! heartbeats stop; an unreachable Redis is a failing coordination layer, not a crash.

mod common;

use aimux_infra::coord::{AgentRecord, Coordinator};
use aimux_infra::provider::{InfraProvider, RedisK8sProvider, health_for};
use aimux_infra::schema::Keys;
use redis::AsyncCommands;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn health_layers_and_workloads() {
    let Some(server) = common::RedisServer::start("health_layers_and_workloads") else {
        return;
    };
    let coord = Coordinator::connect(&server.url(), "aimux")
        .await
        .expect("connect");
    for id in ["fresh", "old"] {
        coord
            .register(&AgentRecord {
                id: id.into(),
                provider: Some("codex".into()),
                ..Default::default()
            })
            .await
            .expect("register");
    }
    coord
        .heartbeat("fresh", "busy", Some("t-3"))
        .await
        .expect("hb");
    // make "old" look like it stopped 2 minutes ago
    let client = redis::Client::open(server.url()).expect("client");
    let mut raw = client
        .get_multiplexed_async_connection()
        .await
        .expect("conn");
    let past = aimux_infra::schema::now_ms() - 120_000;
    let _: () = raw
        .hset(Keys::default().agent("old"), "heartbeat_at", past)
        .await
        .expect("hset");

    let h = health_for(&server.url(), "aimux", None).await;
    assert!(h.coordination.ok && h.coordination.configured, "{h:?}");
    assert!(h.coordination.latency_ms.expect("latency") >= 0.0);
    assert!(
        h.coordination
            .version
            .as_deref()
            .is_some_and(|v| v.starts_with(|c: char| c.is_ascii_digit())),
        "{h:?}"
    );
    assert!(!h.compute.configured);
    let fresh = h
        .workloads
        .iter()
        .find(|w| w.name == "fresh")
        .expect("fresh");
    assert_eq!(fresh.phase, "busy");
    assert_eq!(fresh.current_task.as_deref(), Some("t-3"));
    let old = h.workloads.iter().find(|w| w.name == "old").expect("old");
    assert_eq!(old.phase, "stale");
    assert!(
        old.reason
            .as_deref()
            .is_some_and(|r| r.contains("120s") || r.contains("119s")),
        "{old:?}"
    );
    let text = h.to_text();
    assert!(
        text.contains("not configured") && text.contains("stale"),
        "{text}"
    );

    // kill asks a registered worker to stop; unknown workloads are an error
    let p = RedisK8sProvider::new(coord.clone(), None);
    p.kill("fresh").await.expect("kill");
    let msgs = coord.take_messages("fresh").await.expect("inbox");
    assert_eq!(msgs.len(), 1);
    assert_eq!(msgs[0].kind, "stop");
    assert!(p.kill("ghost").await.is_err());
    assert!(
        p.scale("claude", 3).await.is_err(),
        "no cluster: scaling is refused, not faked"
    );
}

#[tokio::test]
async fn unreachable_redis_is_a_failing_layer() {
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("port");
    let h = health_for(&format!("redis://user:pw@127.0.0.1:{port}"), "aimux", None).await;
    assert!(h.coordination.configured && !h.coordination.ok);
    assert!(h.workloads.is_empty());
    let t = h.coordination.target.expect("target");
    assert!(!t.contains("pw") && t.contains("***"), "{t}");
    assert!(
        !h.coordination.summary.contains(":pw@"),
        "{}",
        h.coordination.summary
    );
}
