//! Opt-in: the same kube-rs flows against a REAL cluster. Runs only when
//! AIMUX_TEST_KUBECONFIG names a kubeconfig (optionally AIMUX_TEST_KUBE_CONTEXT); it creates
//! a namespace `aimux-test-<pid>`, a worker Deployment scaled to 0, lists workloads, and
//! deletes nothing else. No cluster can run on the build machines, so this is SKIPPED there.
#![cfg(feature = "k8s")]

use aimux_infra::k8s::{K8s, K8sConfig};
use std::time::Duration;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn real_cluster_namespace_deployment_and_workloads() {
    let test = "real_cluster_namespace_deployment_and_workloads";
    let Some(kubeconfig) = std::env::var_os("AIMUX_TEST_KUBECONFIG") else {
        eprintln!("SKIPPED {test}: set AIMUX_TEST_KUBECONFIG to run against a real cluster");
        return;
    };
    let ns = format!("aimux-test-{}", std::process::id());
    let cfg = K8sConfig {
        kubeconfig: Some(kubeconfig.into()),
        context: std::env::var("AIMUX_TEST_KUBE_CONTEXT").ok(),
        namespace: ns.clone(),
        image: "busybox:stable".into(),
        ..Default::default()
    };
    let k = K8s::connect(cfg).await.expect("kubeconfig");
    let compute = k.compute_layer().await;
    assert!(compute.ok, "{compute:?}");
    assert!(k.ensure_namespace().await.expect("namespace"));
    assert!(!k.ensure_namespace().await.expect("namespace exists"));
    let msg = k
        .scale_workers("claude", 0, Duration::from_secs(60))
        .await
        .expect("scale to 0");
    assert!(msg.contains("0/0"), "{msg}");
    let w = k.workloads().await.expect("workloads");
    assert!(
        w.iter()
            .any(|w| w.kind == "deployment" && w.name == "aimux-worker-claude"),
        "{w:?}"
    );
    eprintln!("left namespace {ns} in the cluster (delete it with: kubectl delete namespace {ns})");
}
