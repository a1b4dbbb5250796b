//! End to end against the in-repo fake Kubernetes API server + a real redis-server:
//! `aimux infra credentials` (declined → no Secret; --yes → Secret), `aimux task submit`,
//! `aimux infra scale` creates the worker Deployment through kube-rs, the fake API runs the
//! pod's container — `aimux worker --provider claude`, the same entrypoint — as a local
//! process with the Deployment's env and the Secret, it claims the task and runs the REAL
//! Claude Code against the scripted model server; `aimux task show` has prompt and result.

mod infra_support;

use aimux_infra::fake_k8s::FakeK8s;
use infra_support::*;
use serde_json::Value;
use std::collections::HashMap;
use std::time::{Duration, Instant};

#[test]
fn task_runs_in_a_pod_of_the_fake_cluster() {
    let test = "task_runs_in_a_pod_of_the_fake_cluster";
    let scratch = tempfile::tempdir().expect("tempdir");
    let s = scratch.path();
    let Some(redis) = redis(test, s) else { return };
    let Some(claude) = claude_bin(test) else {
        return;
    };
    let Some(model) = model_server(test, s) else {
        return;
    };
    let home = s.join("pod-home");
    let project = s.join("repo");
    std::fs::create_dir_all(&project).expect("mkdir");
    seed_claude_home(&home, &project);

    // the "image": what every pod process starts with (no API key: that comes from the Secret)
    let bin_dir = claude.parent().expect("bin dir");
    let base_env: Vec<(String, String)> = vec![
        ("HOME".into(), home.display().to_string()),
        (
            "PATH".into(),
            format!(
                "{}:{}",
                bin_dir.display(),
                std::env::var("PATH").unwrap_or_default()
            ),
        ),
        (
            "AIMUX_HOME".into(),
            s.join("pod-aimux-home").display().to_string(),
        ),
        ("AIMUX_DATA_HOME".into(), home.display().to_string()),
        (
            "ANTHROPIC_BASE_URL".into(),
            format!("http://127.0.0.1:{}", model.port),
        ),
        (
            "CLAUDE_CODE_DISABLE_NONESSENTIAL_TRAFFIC".into(),
            "1".into(),
        ),
        ("DISABLE_AUTOUPDATER".into(), "1".into()),
    ];
    let fake = FakeK8s::start_background(HashMap::from([("aimux".to_string(), aimux())]), base_env)
        .expect("fake api");
    let kubeconfig = s.join("kubeconfig");
    std::fs::write(&kubeconfig, fake.kubeconfig()).expect("write");
    let aimux_home = s.join("aimux-home");
    std::fs::create_dir_all(&aimux_home).expect("mkdir");
    std::fs::write(
        aimux_home.join("config.yaml"),
        format!(
            "kubernetes:\n  kubeconfig: {}\n  namespace: aimux-e2e\n  image: aimux-worker:test\n  redis_url: {}\n",
            kubeconfig.display(),
            redis.url()
        ),
    )
    .expect("config");
    let cmd = |args: &[&str]| {
        let mut c = aimux_cmd(s, &redis.url());
        c.args(args).env("ANTHROPIC_API_KEY", CLAUDE_KEY);
        c
    };
    let run_async = |mut c: std::process::Command| run(&mut c);

    // health: compute reachable through kube-rs, nothing deployed yet
    let (code, out, err) = run_async(cmd(&["infra", "health", "--json"]));
    assert_eq!(code, 0, "{out}{err}");
    let h: Value = serde_json::from_str(&out).expect("json");
    assert_eq!(h["compute"]["ok"], true, "{h}");
    assert_eq!(h["compute"]["version"], "v1.37.0-fake");

    // declining the credentials prompt creates no Secret (and no namespace)
    let (code, out, _) = run_async(cmd(&["infra", "credentials"]));
    assert_eq!(code, 1);
    assert!(
        out.contains("ANTHROPIC_API_KEY") && !out.contains(CLAUDE_KEY),
        "{out}"
    );
    assert_eq!(fake.count("secrets"), 0);
    assert_eq!(fake.count("namespaces"), 0);
    let (code, out, err) = run_async(cmd(&["infra", "credentials", "--yes"]));
    assert_eq!(code, 0, "{out}{err}");
    assert_eq!(fake.count("secrets"), 1);
    assert!(!out.contains(CLAUDE_KEY));

    let marker = format!("pod-task-{}", std::process::id());
    let prompt = format!("Say hello from a pod {marker}");
    let (code, out, err) = run_async(cmd(&[
        "task",
        "submit",
        "--provider",
        "claude",
        "--prompt",
        &prompt,
        "--json",
        "--dir",
        &project.display().to_string(),
    ]));
    assert_eq!(code, 0, "{err}");
    let id = serde_json::from_str::<Value>(&out).expect("json")["id"]
        .as_str()
        .expect("id")
        .to_string();

    let (code, out, err) = run_async(cmd(&[
        "infra",
        "scale",
        "--provider",
        "claude",
        "1",
        "--wait",
        "30",
    ]));
    assert_eq!(code, 0, "{out}{err}");
    assert!(out.contains("1/1"), "{out}");
    assert_eq!(fake.live_pids().len(), 1);

    let deadline = Instant::now() + Duration::from_secs(90);
    let task = loop {
        let (_, out, _) = run_async(cmd(&["task", "show", &id, "--json"]));
        let t: Value = serde_json::from_str(&out).expect("json");
        if t["status"] == "done" || t["status"] == "failed" {
            break t;
        }
        assert!(
            Instant::now() < deadline,
            "the pod never finished the task: {t}"
        );
        std::thread::sleep(Duration::from_millis(300));
    };
    assert_eq!(task["status"], "done", "{task}");
    assert_eq!(task["prompt"], prompt.as_str());
    assert!(
        task["result"]
            .as_str()
            .expect("result")
            .contains("scripted model server"),
        "{task}"
    );
    let rec = std::fs::read_to_string(&model.record).expect("record");
    assert!(
        rec.contains(&marker),
        "the model server never saw the prompt"
    );

    // the pod's worker is in the registry as a k8s worker; the deployment is ready
    let (_, out, _) = run_async(cmd(&["infra", "health", "--json"]));
    let h: Value = serde_json::from_str(&out).expect("json");
    let w = h["workloads"].as_array().expect("workloads");
    assert!(
        w.iter()
            .any(|x| x["kind"] == "deployment" && x["phase"] == "1/1 ready"),
        "{h}"
    );
    assert!(
        w.iter()
            .any(|x| x["kind"] == "pod" && x["phase"] == "Running"),
        "{h}"
    );
    assert!(
        w.iter().any(|x| x["kind"] == "worker"
            && x["location"] == "k8s"
            && x["name"] == task["assignee"]),
        "{h}"
    );

    // scale to zero: the pod process is gone
    let pid = fake.live_pids()[0];
    let (code, out, err) = run_async(cmd(&[
        "infra",
        "scale",
        "--provider",
        "claude",
        "0",
        "--wait",
        "10",
    ]));
    assert_eq!(code, 0, "{out}{err}");
    assert!(fake.live_pids().is_empty());
    assert!(
        !std::path::Path::new(&format!("/proc/{pid}/cmdline")).exists()
            || std::fs::read_to_string(format!("/proc/{pid}/stat"))
                .is_ok_and(|s| s.contains(") Z"))
    );
}

#[test]
fn scale_without_a_cluster_says_how_to_configure_one() {
    let scratch = tempfile::tempdir().expect("tempdir");
    let (code, _, err) = run(aimux_cmd(scratch.path(), "redis://127.0.0.1:1").args([
        "infra",
        "scale",
        "--provider",
        "claude",
        "2",
    ]));
    assert_eq!(code, 1);
    assert!(
        err.contains("no Kubernetes cluster configured") && err.contains("kubernetes:"),
        "{err}"
    );
}
