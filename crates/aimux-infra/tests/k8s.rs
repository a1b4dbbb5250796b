//! Kubernetes through kube-rs: request-level tests with a tower-test mock service, and an
//! end-to-end run against the in-repo fake API server whose pods are real local processes.
#![cfg(all(feature = "k8s", feature = "fake-k8s"))]

mod common;

use aimux_infra::fake_k8s::{FakeK8s, b64_decode};
use aimux_infra::k8s::{Credential, K8s, K8sConfig, MANAGED_BY, PROVIDER_LABEL};
use http::{Method, Request, Response};
use kube::client::Body;
use serde_json::{Value, json};
use std::collections::HashMap;
use std::time::Duration;

fn cfg(ns: &str) -> K8sConfig {
    K8sConfig {
        namespace: ns.into(),
        image: "aimux-worker:test".into(),
        redis_url: "redis://coord.example:6379".into(),
        ..Default::default()
    }
}

fn json_response(code: u16, v: Value) -> Response<Body> {
    Response::builder()
        .status(code)
        .header("content-type", "application/json")
        .body(Body::from(serde_json::to_vec(&v).expect("json")))
        .expect("response")
}

fn not_found() -> Response<Body> {
    json_response(
        404,
        json!({"kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure", "reason": "NotFound", "code": 404}),
    )
}

#[tokio::test]
async fn ensure_namespace_gets_then_creates_a_labelled_namespace() {
    let (mock, mut handle) = tower_test::mock::pair::<Request<Body>, Response<Body>>();
    let k = K8s::with_client(kube::Client::new(mock, "default"), cfg("team-a"));
    let server = tokio::spawn(async move {
        let (req, send) = handle.next_request().await.expect("GET");
        assert_eq!(req.method(), Method::GET);
        assert_eq!(req.uri().path(), "/api/v1/namespaces/team-a");
        send.send_response(not_found());
        let (req, send) = handle.next_request().await.expect("POST");
        assert_eq!(req.method(), Method::POST);
        assert_eq!(req.uri().path(), "/api/v1/namespaces");
        let body: Value =
            serde_json::from_slice(&req.into_body().collect_bytes().await.expect("body"))
                .expect("json");
        assert_eq!(body["metadata"]["name"], "team-a");
        assert_eq!(body["metadata"]["labels"][MANAGED_BY], "aimux");
        send.send_response(json_response(
            201,
            json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "team-a"}}),
        ));
    });
    assert!(k.ensure_namespace().await.expect("ensure"));
    server.await.expect("server assertions");
}

#[tokio::test]
async fn scaling_an_existing_deployment_sends_a_merge_patch_of_replicas() {
    let (mock, mut handle) = tower_test::mock::pair::<Request<Body>, Response<Body>>();
    let k = K8s::with_client(kube::Client::new(mock, "default"), cfg("ns1"));
    let dep = |replicas: i64, ready: i64| {
        json!({"apiVersion": "apps/v1", "kind": "Deployment",
        "metadata": {"name": "aimux-worker-claude", "namespace": "ns1"},
        "spec": {"replicas": replicas, "selector": {}, "template": {}},
        "status": {"readyReplicas": ready}})
    };
    let server = tokio::spawn(async move {
        let (req, send) = handle.next_request().await.expect("ns");
        assert_eq!(
            (req.method(), req.uri().path()),
            (&Method::GET, "/api/v1/namespaces/ns1")
        );
        send.send_response(json_response(
            200,
            json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "ns1"}}),
        ));
        let (req, send) = handle.next_request().await.expect("get dep");
        assert_eq!(
            (req.method(), req.uri().path()),
            (
                &Method::GET,
                "/apis/apps/v1/namespaces/ns1/deployments/aimux-worker-claude"
            )
        );
        send.send_response(json_response(200, dep(1, 1)));
        let (req, send) = handle.next_request().await.expect("patch");
        assert_eq!(req.method(), Method::PATCH);
        assert_eq!(
            req.uri().path(),
            "/apis/apps/v1/namespaces/ns1/deployments/aimux-worker-claude"
        );
        assert_eq!(
            req.headers()["content-type"],
            "application/merge-patch+json"
        );
        let body: Value =
            serde_json::from_slice(&req.into_body().collect_bytes().await.expect("body"))
                .expect("json");
        assert_eq!(body, json!({"spec": {"replicas": 3}}));
        send.send_response(json_response(200, dep(3, 1)));
        // readiness polling until 3 are ready
        let (_, send) = handle.next_request().await.expect("poll 1");
        send.send_response(json_response(200, dep(3, 2)));
        let (req, send) = handle.next_request().await.expect("poll 2");
        assert_eq!(req.method(), Method::GET);
        send.send_response(json_response(200, dep(3, 3)));
    });
    let msg = k
        .scale_workers("claude", 3, Duration::from_secs(10))
        .await
        .expect("scale");
    assert!(msg.contains("3/3 ready"), "{msg}");
    server.await.expect("server assertions");
}

#[tokio::test]
async fn declining_consent_makes_no_request_at_all() {
    let (mock, mut handle) = tower_test::mock::pair::<Request<Body>, Response<Body>>();
    let k = K8s::with_client(kube::Client::new(mock, "default"), cfg("ns1"));
    let creds = vec![Credential {
        key: "ANTHROPIC_API_KEY".into(),
        value: "sk-secret".into(),
        source: "env".into(),
    }];
    let mut shown = String::new();
    let wrote = k
        .provision_credentials(&creds, |plan| {
            shown = plan.to_string();
            false
        })
        .await
        .expect("ok");
    assert!(!wrote);
    assert!(
        shown.contains("ANTHROPIC_API_KEY") && !shown.contains("sk-secret"),
        "{shown}"
    );
    // no request reached the API
    let next = tokio::time::timeout(Duration::from_millis(200), handle.next_request()).await;
    assert!(
        next.is_err() || next.expect("timeout").is_none(),
        "a request was sent without consent"
    );
}

fn write_stub(dir: &std::path::Path) -> std::path::PathBuf {
    // stands in for `aimux` inside the pod: records its argv and env, then stays running
    let p = dir.join("stub-aimux");
    let dump = dir.join("dumps");
    std::fs::create_dir_all(&dump).expect("mkdir");
    std::fs::write(
        &p,
        format!(
            "#!/bin/sh\n{{ echo \"ARGS=$*\"; env; }} > '{}'/\"$HOSTNAME\"\nexec sleep 120\n",
            dump.display()
        ),
    )
    .expect("write");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&p, std::fs::Permissions::from_mode(0o755)).expect("chmod");
    }
    p
}

fn alive(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .map(|s| {
            !s.rsplit(')')
                .next()
                .unwrap_or("")
                .trim_start()
                .starts_with('Z')
        })
        .unwrap_or(false)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn fake_api_end_to_end_consent_secret_scale_pods_and_health() {
    let dir = tempfile::tempdir().expect("tempdir");
    let stub = write_stub(dir.path());
    let fake = FakeK8s::start(HashMap::from([("aimux".to_string(), stub)]))
        .await
        .expect("fake api");
    let k = K8s::with_client(fake.client().expect("client"), cfg("aimux-e2e"));

    let compute = k.compute_layer().await;
    assert!(compute.ok && compute.configured, "{compute:?}");
    assert_eq!(compute.version.as_deref(), Some("v1.37.0-fake"));
    assert!(compute.summary.contains("missing"), "{compute:?}");

    let creds = vec![
        Credential {
            key: "ANTHROPIC_API_KEY".into(),
            value: "sk-ant-e2e-secret".into(),
            source: "environment variable ANTHROPIC_API_KEY".into(),
        },
        Credential {
            key: "CLOUD_ML_REGION".into(),
            value: "us-east5".into(),
            source: "environment variable CLOUD_ML_REGION".into(),
        },
    ];
    // declined: nothing is created, no write request is made
    let before = fake.requests().len();
    assert!(
        !k.provision_credentials(&creds, |_| false)
            .await
            .expect("declined")
    );
    assert_eq!(fake.count("secrets"), 0);
    assert_eq!(fake.count("namespaces"), 0);
    assert_eq!(fake.requests().len(), before, "{:?}", fake.requests());
    // accepted: namespace (labelled) + secret
    assert!(
        k.provision_credentials(&creds, |_| true)
            .await
            .expect("accepted")
    );
    let ns = fake.get("namespaces", "", "aimux-e2e").expect("namespace");
    assert_eq!(ns["metadata"]["labels"][MANAGED_BY], "aimux");
    let secret = fake
        .get("secrets", "aimux-e2e", "aimux-credentials")
        .expect("secret");
    let key = secret["data"]["ANTHROPIC_API_KEY"].as_str().expect("data");
    assert_eq!(b64_decode(key), b"sk-ant-e2e-secret");
    // a second consent replaces it (no conflict)
    assert!(
        k.provision_credentials(&creds[..1], |_| true)
            .await
            .expect("again")
    );

    // scale up: deployment built in code → pods → real local processes with the env
    let msg = k
        .scale_workers("claude", 2, Duration::from_secs(10))
        .await
        .expect("scale up");
    assert!(msg.contains("2/2"), "{msg}");
    let dep = fake
        .get("deployments", "aimux-e2e", "aimux-worker-claude")
        .expect("deployment");
    assert_eq!(
        dep["spec"]["template"]["spec"]["containers"][0]["args"],
        json!(["worker", "--provider", "claude"])
    );
    assert_eq!(fake.live_pids().len(), 2);
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    let dump = dir.path().join("dumps/aimux-worker-claude-0");
    while !dump.exists() && std::time::Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let env = std::fs::read_to_string(&dump).expect("pod process ran");
    assert!(env.contains("ARGS=worker --provider claude"), "{env}");
    assert!(
        env.contains("AIMUX_REDIS_URL=redis://coord.example:6379"),
        "{env}"
    );
    assert!(env.contains("AIMUX_WORKER_LOCATION=k8s"), "{env}");
    assert!(env.contains("ANTHROPIC_API_KEY=sk-ant-e2e-secret"), "{env}");

    let w = k.workloads().await.expect("workloads");
    let d = w
        .iter()
        .find(|w| w.kind == "deployment")
        .expect("deployment");
    assert_eq!(d.phase, "2/2 ready");
    assert_eq!(d.provider.as_deref(), Some("claude"));
    assert_eq!(
        w.iter()
            .filter(|w| w.kind == "pod" && w.phase == "Running")
            .count(),
        2
    );

    // scale down: the second pod's process is gone
    let pids = fake.live_pids();
    k.scale_workers("claude", 1, Duration::from_secs(10))
        .await
        .expect("scale down");
    let left = fake.live_pids();
    assert_eq!(left.len(), 1);
    let gone: Vec<&u32> = pids.iter().filter(|p| !left.contains(p)).collect();
    assert_eq!(gone.len(), 1);
    assert!(!alive(*gone[0]));
    let pods = k.pods(Some("claude")).await.expect("pods");
    assert_eq!(pods.len(), 1);
    assert!(fake.requests().iter().any(|r| {
        r.starts_with("PATCH /apis/apps/v1/namespaces/aimux-e2e/deployments/aimux-worker-claude")
    }));
    assert!(pods.iter().all(|p| p.provider.as_deref() == Some("claude")));
    let _ = PROVIDER_LABEL;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pods_that_cannot_start_time_out_with_their_reason() {
    let fake = FakeK8s::start(HashMap::new()).await.expect("fake api"); // no local program for `aimux`
    let k = K8s::with_client(fake.client().expect("client"), cfg("broken"));
    let err = k
        .scale_workers("gemini", 1, Duration::from_millis(800))
        .await
        .expect_err("never ready");
    let msg = err.to_string();
    assert!(
        msg.contains("0/1 ready") && msg.contains("ErrImagePull"),
        "{msg}"
    );
    let w = k.workloads().await.expect("workloads");
    let pod = w.iter().find(|w| w.kind == "pod").expect("pod");
    assert_eq!(pod.phase, "Pending");
    assert_eq!(pod.reason.as_deref(), Some("ErrImagePull"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn attach_through_exec_shows_the_screen_and_detach_leaves_it_running() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let test = "attach_through_exec_shows_the_screen_and_detach_leaves_it_running";
    for tool in ["tmux", "script"] {
        if !std::env::var_os("PATH")
            .is_some_and(|p| std::env::split_paths(&p).any(|d| d.join(tool).is_file()))
        {
            eprintln!("SKIPPED {test}: {tool} is not installed");
            return;
        }
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let stub = write_stub(dir.path());
    // the "pod": its tmux server lives under its own TMUX_TMPDIR
    let tmux_dir = dir.path().join("tmux");
    std::fs::create_dir_all(&tmux_dir).expect("mkdir");
    let base_env = vec![("TMUX_TMPDIR".to_string(), tmux_dir.display().to_string())];
    let fake = FakeK8s::start_with_env(HashMap::from([("aimux".to_string(), stub)]), base_env)
        .await
        .expect("fake api");
    let k = K8s::with_client(fake.client().expect("client"), cfg("remote"));
    k.scale_workers("claude", 1, Duration::from_secs(10))
        .await
        .expect("pod");
    let pod = "aimux-worker-claude-0";
    // the remote agent, running inside a terminal multiplexer in the pod
    let marker = format!("REMOTE-AGENT-{}", std::process::id());
    let tmux = |args: &[&str]| {
        std::process::Command::new("tmux")
            .args(args)
            .env("TMUX_TMPDIR", &tmux_dir)
            .env_remove("TMUX")
            .output()
            .expect("tmux")
    };
    let started = tmux(&[
        "-f",
        "/dev/null",
        "new-session",
        "-d",
        "-s",
        "agent",
        "-x",
        "80",
        "-y",
        "24",
        &format!("sh -c 'echo {marker}; while :; do sleep 1; done'"),
    ]);
    assert!(started.status.success(), "{started:?}");
    let server_pid =
        String::from_utf8_lossy(&tmux(&["display-message", "-p", "-t", "agent", "#{pid}"]).stdout)
            .trim()
            .to_string();

    // non-interactive exec: capture the screen
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let screen = k.capture_screen(pod, "agent").await.expect("capture");
        if screen.contains(&marker) {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "screen never showed the marker: {screen}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    // exec of a failing command reports the failure
    assert!(
        k.exec_output(pod, vec!["sh".into(), "-c".into(), "exit 3".into()])
            .await
            .is_err()
    );
    // exec into a pod that does not exist is an error
    assert!(k.capture_screen("no-such-pod", "agent").await.is_err());

    // interactive attach with a tty: the remote screen arrives on stdout
    let mut att = k.attach_session(pod, "agent").await.expect("attach");
    let mut out = att.stdout().expect("stdout");
    let mut stdin = att.stdin().expect("stdin");
    let mut seen = Vec::new();
    let mut buf = [0u8; 4096];
    let deadline = std::time::Instant::now() + Duration::from_secs(15);
    while !String::from_utf8_lossy(&seen).contains(&marker) {
        assert!(
            std::time::Instant::now() < deadline,
            "attach never showed the screen: {:?}",
            String::from_utf8_lossy(&seen)
        );
        match tokio::time::timeout(Duration::from_millis(500), out.read(&mut buf)).await {
            Ok(Ok(0)) => panic!("attach ended early: {:?}", String::from_utf8_lossy(&seen)),
            Ok(Ok(n)) => seen.extend_from_slice(&buf[..n]),
            Ok(Err(e)) => panic!("read: {e}"),
            Err(_) => {}
        }
    }
    let clients =
        String::from_utf8_lossy(&tmux(&["list-clients", "-t", "agent"]).stdout).to_string();
    assert!(!clients.trim().is_empty(), "an attached client is listed");
    // detach: C-b d
    stdin.write_all(b"\x02d").await.expect("write");
    stdin.flush().await.expect("flush");
    let joined = tokio::time::timeout(Duration::from_secs(15), att.join()).await;
    assert!(joined.is_ok(), "attach did not end after detaching");
    // the agent keeps running in the pod
    let has = tmux(&["has-session", "-t", "agent"]);
    assert!(has.status.success(), "the session died on detach");
    let again = k.capture_screen(pod, "agent").await.expect("capture");
    assert!(again.contains(&marker));
    let clients =
        String::from_utf8_lossy(&tmux(&["list-clients", "-t", "agent"]).stdout).to_string();
    assert!(
        clients.trim().is_empty(),
        "no client left after detach: {clients}"
    );
    let _ = tmux(&["kill-server"]);
    let _ = server_pid;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn remote_session_runs_the_agent_inside_tmux_in_its_pod() {
    let test = "remote_session_runs_the_agent_inside_tmux_in_its_pod";
    for tool in ["tmux", "script", "sh"] {
        if !std::env::var_os("PATH")
            .is_some_and(|p| std::env::split_paths(&p).any(|d| d.join(tool).is_file()))
        {
            eprintln!("SKIPPED {test}: {tool} is not installed");
            return;
        }
    }
    let dir = tempfile::tempdir().expect("tempdir");
    let bin = dir.path().join("bin");
    std::fs::create_dir_all(&bin).expect("mkdir");
    let marker = format!("REMOTE-CLAUDE-{}", std::process::id());
    std::fs::write(
        bin.join("claude"),
        format!("#!/bin/sh\necho {marker}\nexec sleep 120\n"),
    )
    .expect("write");
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(bin.join("claude"), std::fs::Permissions::from_mode(0o755))
            .expect("chmod");
    }
    let tmux_dir = dir.path().join("tmux");
    std::fs::create_dir_all(&tmux_dir).expect("mkdir");
    let path = format!(
        "{}:{}",
        bin.display(),
        std::env::var("PATH").unwrap_or_default()
    );
    let base_env = vec![
        ("TMUX_TMPDIR".to_string(), tmux_dir.display().to_string()),
        ("PATH".to_string(), path),
    ];
    let sh = std::env::split_paths(&std::env::var_os("PATH").expect("PATH"))
        .map(|d| d.join("sh"))
        .find(|p| p.is_file())
        .expect("sh");
    let fake = FakeK8s::start_with_env(HashMap::from([("sh".to_string(), sh)]), base_env)
        .await
        .expect("fake api");
    let k = K8s::with_client(fake.client().expect("client"), cfg("remote"));
    let pod = k
        .spawn_session("claude", Duration::from_secs(10))
        .await
        .expect("session");
    assert_eq!(pod, "aimux-session-claude-1-0");
    let dep = fake
        .get("deployments", "remote", "aimux-session-claude-1")
        .expect("deployment");
    let c = &dep["spec"]["template"]["spec"]["containers"][0];
    assert_eq!(c["tty"], true);
    assert!(
        c["args"][0]
            .as_str()
            .expect("args")
            .contains("tmux new-session -d -s agent"),
        "{c}"
    );
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    loop {
        let screen = k.capture_screen(&pod, "agent").await.unwrap_or_default();
        if screen.contains(&marker) {
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "the remote agent never showed up: {screen:?}"
        );
        tokio::time::sleep(Duration::from_millis(150)).await;
    }
    // a second session gets its own deployment
    let pod2 = k
        .spawn_session("claude", Duration::from_secs(10))
        .await
        .expect("session 2");
    assert_eq!(pod2, "aimux-session-claude-2-0");
    let _ = std::process::Command::new("tmux")
        .arg("kill-server")
        .env("TMUX_TMPDIR", &tmux_dir)
        .env_remove("TMUX")
        .output();
}

/// Stopping a worker that runs in a pod removes that pod through its Deployment (a stop
/// message alone would only make Kubernetes restart the container); a worker elsewhere is
/// asked to stop; a name that is neither is an error. Real Redis, fake API server.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killing_a_worker_in_a_pod_removes_exactly_that_pod() {
    use aimux_infra::coord::{AgentRecord, Coordinator};
    use aimux_infra::provider::{InfraProvider, RedisK8sProvider};
    let test = "killing_a_worker_in_a_pod_removes_exactly_that_pod";
    let Some(redis) = common::RedisServer::start(test) else {
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let stub = write_stub(dir.path());
    let fake = FakeK8s::start(HashMap::from([("aimux".to_string(), stub)]))
        .await
        .expect("fake api");
    let k = K8s::with_client(fake.client().expect("client"), cfg("kill"));
    k.scale_workers("codex", 3, Duration::from_secs(10))
        .await
        .expect("three pods");
    let coord = Coordinator::connect(&redis.url(), "killtest")
        .await
        .expect("redis");
    let worker = |id: &str, host: &str, location: &str| AgentRecord {
        id: id.into(),
        provider: Some("codex".into()),
        host: Some(host.into()),
        pid: Some(7),
        status: Some("idle".into()),
        current_task: None,
        location: Some(location.into()),
        registered_at: None,
        heartbeat_at: None,
        heartbeat_age_ms: None,
    };
    coord
        .register(&worker("w-in-pod", "aimux-worker-codex-1", "k8s"))
        .await
        .expect("register");
    coord
        .register(&worker("w-laptop", "laptop", "local"))
        .await
        .expect("register");
    let provider = RedisK8sProvider::new(coord.clone(), Some(k.clone()));

    let msg = provider.kill("w-in-pod").await.expect("kill");
    assert!(msg.contains("aimux-worker-codex-1"), "{msg}");
    let names: Vec<String> = k
        .agent_pods()
        .await
        .expect("pods")
        .into_iter()
        .map(|p| p.name)
        .collect();
    assert_eq!(names.len(), 2, "{names:?}");
    assert!(
        !names.contains(&"aimux-worker-codex-1".to_string()),
        "{names:?}"
    );
    let dep = fake
        .get("deployments", "kill", "aimux-worker-codex")
        .expect("deployment");
    assert_eq!(dep["spec"]["replicas"], 2);

    // by pod name too
    provider
        .kill("aimux-worker-codex-0")
        .await
        .expect("kill pod");
    assert_eq!(k.agent_pods().await.expect("pods").len(), 1);

    // a worker outside the cluster gets a stop message in its inbox
    let msg = provider.kill("w-laptop").await.expect("stop");
    assert!(msg.contains("asked w-laptop to stop"), "{msg}");
    let inbox = coord.peek_messages("w-laptop").await.expect("inbox");
    assert!(inbox.iter().any(|m| m.kind == "stop"), "{inbox:?}");
    assert_eq!(k.agent_pods().await.expect("pods").len(), 1);

    assert!(provider.kill("nobody").await.is_err());
}
