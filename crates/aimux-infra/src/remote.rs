//! Remote agents: aimux's pods shown as agents (interactive sessions you attach to, workers
//! that run tasks), with a status from the pod and the worker heartbeats; attaching with
//! the local Vertex settings; and killing the *selected* pod.

use crate::coord::AgentRecord;
use crate::k8s::{
    COMPONENT, K8s, K8sError, MANAGED_BY, PROVIDER_LABEL, REMOTE_SESSION, Result, SESSION_LABEL,
    deployment_name,
};
use crate::provider::STALE_AFTER_MS;
use aimux_core::status::Status;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams};
use serde::Serialize;

pub use kube::api::TerminalSize;

/// Vertex AI settings carried to a remote session at attach: where the model runs, not a
/// secret (credentials go only through the consented Secret).
pub const VERTEX_ENV: &[&str] = &[
    "CLAUDE_CODE_USE_VERTEX",
    "CLOUD_ML_REGION",
    "ANTHROPIC_VERTEX_PROJECT_ID",
    "GOOGLE_CLOUD_PROJECT",
    "GOOGLE_CLOUD_LOCATION",
    "VERTEX_REGION_CLAUDE_HAIKU_4_5",
    "VERTEX_REGION_CLAUDE_SONNET_4_5",
    "VERTEX_REGION_CLAUDE_OPUS_4_5",
];

/// The annotation a ReplicaSet reads to choose which pods go first on scale-down.
const DELETION_COST: &str = "controller.kubernetes.io/pod-deletion-cost";

/// The Vertex settings set in the local environment, in [`VERTEX_ENV`] order.
pub fn vertex_env(env: &dyn Fn(&str) -> Option<String>) -> Vec<(String, String)> {
    VERTEX_ENV
        .iter()
        .filter_map(|k| {
            env(k)
                .filter(|v| !v.is_empty())
                .map(|v| ((*k).to_string(), v))
        })
        .collect()
}

/// The exec command of an attach: `env K=V… tmux attach-session -t SESSION`. tmux copies
/// the variables named in the session's `update-environment` into it.
pub fn attach_command(session: &str, env: &[(String, String)]) -> Vec<String> {
    let mut cmd = Vec::new();
    if !env.is_empty() {
        cmd.push("env".to_string());
        cmd.extend(env.iter().map(|(k, v)| format!("{k}={v}")));
    }
    cmd.extend(["tmux", "attach-session", "-t", session].map(str::to_string));
    cmd
}

/// What a pod is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum PodRole {
    /// A whole interactive agent in tmux (`:new` → Remote, `aimux remote new`).
    Session,
    /// A task worker (`aimux infra scale`).
    Worker,
}

/// One of aimux's pods.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AgentPod {
    pub name: String,
    pub namespace: String,
    pub role: PodRole,
    pub provider: Option<String>,
    /// The Deployment that owns it.
    pub deployment: Option<String>,
    pub phase: String,
    /// Why it is not running (a container's waiting reason, or the pod's reason).
    pub reason: Option<String>,
    /// RFC 3339.
    pub started_at: Option<String>,
}

/// A pod as an agent: its status and the reason for it.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct RemoteAgent {
    #[serde(flatten)]
    pub pod: AgentPod,
    pub status: Status,
    pub status_reason: String,
    /// The worker registered from this pod, if any.
    pub worker_id: Option<String>,
    pub current_task: Option<String>,
    pub heartbeat_age_ms: Option<i64>,
}

/// Container waiting reasons that will not resolve by waiting.
const BROKEN: &[&str] = &[
    "ErrImagePull",
    "ImagePullBackOff",
    "CrashLoopBackOff",
    "CreateContainerConfigError",
    "CreateContainerError",
    "InvalidImageName",
    "RunContainerError",
];

/// Status of a pod from its phase and, for a worker, the heartbeat of the worker it runs.
pub fn remote_status(
    pod: &AgentPod,
    worker: Option<&AgentRecord>,
    now_ms: i64,
) -> (Status, String) {
    let reason = pod.reason.as_deref();
    match pod.phase.as_str() {
        "Running" => {}
        "Pending" => {
            return match reason {
                Some(r) if BROKEN.contains(&r) => (Status::Error, format!("pod Pending: {r}")),
                Some(r) => (Status::Unknown, format!("pod Pending: {r}")),
                None => (Status::Unknown, "pod Pending: being scheduled".into()),
            };
        }
        "Failed" => {
            return (
                Status::Error,
                format!(
                    "pod Failed{}",
                    reason.map(|r| format!(": {r}")).unwrap_or_default()
                ),
            );
        }
        "Succeeded" => return (Status::Idle, "pod finished".into()),
        other => return (Status::Unknown, format!("pod phase {other}")),
    }
    match pod.role {
        PodRole::Session => (
            Status::Unknown,
            format!(
                "pod Running; interactive agent in tmux session '{REMOTE_SESSION}' (attach to see it)"
            ),
        ),
        PodRole::Worker => match worker {
            None => (
                Status::Unknown,
                "pod Running; its worker has not registered yet".into(),
            ),
            Some(w) => {
                let age = w.heartbeat_at.map(|h| now_ms - h);
                match age {
                    None => (Status::Unknown, "worker never sent a heartbeat".into()),
                    Some(a) if a > STALE_AFTER_MS => (
                        Status::Error,
                        format!("last heartbeat {}s ago (worker stuck or gone)", a / 1000),
                    ),
                    Some(_) => match &w.current_task {
                        Some(t) => (Status::Active, format!("running task {t}")),
                        None => (Status::Idle, "waiting for tasks".into()),
                    },
                }
            }
        },
    }
}

/// What the agents' terminal UIs show while they wait for an approval (Gemini CLI's
/// dialog; Claude Code's and Codex's permission prompts).
const APPROVAL_ON_SCREEN: &[&str] = &[
    "Allow execution of",
    "Do you want to proceed?",
    "Do you want to make this edit",
    "Do you want to create",
    "Would you like to run the following command?",
    "Allow command?",
    "Apply this change?",
];

/// What they show while working: Claude Code and Codex `esc to interrupt`, Gemini CLI
/// `esc to cancel`.
const WORKING_ON_SCREEN: &[&str] = &["esc to interrupt", "esc to cancel"];

/// Status of an interactive remote session from its screen (the one view of it there is:
/// its session files live in the pod). `changed`: the screen differs from the previous
/// look, `None` when there was none.
pub fn session_status_from_screen(screen: &str, changed: Option<bool>) -> (Status, String) {
    if let Some(m) = APPROVAL_ON_SCREEN.iter().find(|m| screen.contains(*m)) {
        return (
            Status::Waiting,
            format!("approval prompt on screen: \"{m}\""),
        );
    }
    if let Some(m) = WORKING_ON_SCREEN.iter().find(|m| screen.contains(*m)) {
        return (Status::Active, format!("working (\"{m}\" on screen)"));
    }
    match changed {
        Some(true) => (Status::Active, "its screen is changing".into()),
        _ => (
            Status::Idle,
            "screen shows no work in progress (waiting for a prompt)".into(),
        ),
    }
}

/// Pods joined with the registry (a worker registers with its pod name as `host`).
pub fn remote_agents(
    pods: Vec<AgentPod>,
    registry: &[AgentRecord],
    now_ms: i64,
) -> Vec<RemoteAgent> {
    pods.into_iter()
        .map(|pod| {
            // the freshest registration from this pod (a restarted worker re-registers)
            let worker = registry
                .iter()
                .filter(|a| a.host.as_deref() == Some(pod.name.as_str()))
                .max_by_key(|a| a.heartbeat_at.unwrap_or(i64::MIN));
            let (status, status_reason) = remote_status(&pod, worker, now_ms);
            RemoteAgent {
                status,
                status_reason,
                worker_id: worker.map(|w| w.id.clone()),
                current_task: worker.and_then(|w| w.current_task.clone()),
                heartbeat_age_ms: worker.and_then(|w| w.heartbeat_at).map(|h| now_ms - h),
                pod,
            }
        })
        .collect()
}

fn agent_pod(p: &Pod, namespace: &str) -> AgentPod {
    let labels = p.metadata.labels.clone().unwrap_or_default();
    let st = p.status.as_ref();
    let waiting = crate::k8s::waiting_reason(p);
    let role = if labels.get(COMPONENT).map(String::as_str) == Some("session") {
        PodRole::Session
    } else {
        PodRole::Worker
    };
    let provider = labels.get(PROVIDER_LABEL).cloned();
    let deployment = match role {
        PodRole::Session => labels.get(SESSION_LABEL).cloned(),
        PodRole::Worker => provider.as_deref().map(deployment_name),
    };
    AgentPod {
        name: p.metadata.name.clone().unwrap_or_default(),
        namespace: namespace.to_string(),
        role,
        provider,
        deployment,
        phase: st
            .and_then(|s| s.phase.clone())
            .unwrap_or_else(|| "Unknown".into()),
        reason: waiting.or_else(|| st.and_then(|s| s.reason.clone())),
        started_at: st
            .and_then(|s| s.start_time.as_ref())
            .or(p.metadata.creation_timestamp.as_ref())
            .map(|t| t.0.to_string()),
    }
}

impl K8s {
    /// aimux's pods (sessions and workers), oldest first.
    pub async fn agent_pods(&self) -> Result<Vec<AgentPod>> {
        let ns = &self.config().namespace;
        let api: Api<Pod> = Api::namespaced(self.client.clone(), ns);
        let list = api
            .list(&ListParams::default().labels(&format!("{MANAGED_BY}=aimux")))
            .await?;
        let mut pods: Vec<AgentPod> = list.items.iter().map(|p| agent_pod(p, ns)).collect();
        pods.sort_by(|a, b| a.started_at.cmp(&b.started_at).then(a.name.cmp(&b.name)));
        Ok(pods)
    }

    /// Stops the selected pod and nothing else: a session's Deployment is deleted (its
    /// one pod goes with it); a worker pod is marked cheapest to delete and its
    /// Deployment scaled down by one, so the ReplicaSet removes exactly that pod.
    pub async fn kill_pod(&self, pod: &str) -> Result<String> {
        let ns = &self.config().namespace;
        let pods: Api<Pod> = Api::namespaced(self.client.clone(), ns);
        let Some(p) = pods.get_opt(pod).await? else {
            return Err(K8sError::Invalid(format!(
                "no pod '{pod}' in namespace {ns}"
            )));
        };
        let ap = agent_pod(&p, ns);
        let Some(dep) = ap.deployment.clone() else {
            return Err(K8sError::Invalid(format!(
                "pod '{pod}' is not managed by aimux (no provider/session label)"
            )));
        };
        let deployments: Api<Deployment> = Api::namespaced(self.client.clone(), ns);
        match ap.role {
            PodRole::Session => {
                deployments.delete(&dep, &DeleteParams::default()).await?;
                Ok(format!(
                    "deleted remote session {dep} (pod {pod}) in namespace {ns}"
                ))
            }
            PodRole::Worker => {
                let d = deployments.get(&dep).await?;
                let want = d.spec.replicas.unwrap_or(1);
                let mark = serde_json::json!({"metadata": {"annotations": {DELETION_COST: "-2147483648"}}});
                pods.patch(pod, &PatchParams::default(), &Patch::Merge(&mark))
                    .await?;
                let scale = serde_json::json!({"spec": {"replicas": (want - 1).max(0)}});
                deployments
                    .patch(&dep, &PatchParams::default(), &Patch::Merge(&scale))
                    .await?;
                Ok(format!(
                    "scaled {dep} to {} replica(s), removing pod {pod}",
                    (want - 1).max(0)
                ))
            }
        }
    }

    /// The remote session's screen (tmux capture-pane through exec).
    pub async fn session_screen(&self, pod: &str) -> Result<String> {
        self.capture_screen(pod, REMOTE_SESSION).await
    }

    /// Attaches to a remote session's tmux with a terminal, carrying `env` (the local
    /// Vertex settings) into the session. The caller bridges stdin/stdout; detaching
    /// (C-b d) ends the exec and leaves the agent running.
    pub async fn attach_with_env(
        &self,
        pod: &str,
        env: &[(String, String)],
    ) -> Result<kube::api::AttachedProcess> {
        let api: Api<Pod> = Api::namespaced(self.client.clone(), &self.config().namespace);
        Ok(api
            .exec(
                pod,
                attach_command(REMOTE_SESSION, env),
                &kube::api::AttachParams::interactive_tty(),
            )
            .await?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pod(role: PodRole, phase: &str, reason: Option<&str>) -> AgentPod {
        AgentPod {
            name: "aimux-worker-claude-0".into(),
            namespace: "ns".into(),
            role,
            provider: Some("claude".into()),
            deployment: Some("aimux-worker-claude".into()),
            phase: phase.into(),
            reason: reason.map(str::to_string),
            started_at: None,
        }
    }

    fn worker(host: &str, heartbeat_at: Option<i64>, task: Option<&str>) -> AgentRecord {
        AgentRecord {
            id: format!("w-{host}-7"),
            provider: Some("claude".into()),
            host: Some(host.into()),
            pid: Some(7),
            status: None,
            current_task: task.map(str::to_string),
            location: Some("k8s".into()),
            registered_at: None,
            heartbeat_at,
            heartbeat_age_ms: None,
        }
    }

    #[test]
    fn worker_status_follows_phase_then_heartbeat() {
        let now = 1_000_000;
        let p = pod(PodRole::Worker, "Running", None);
        let busy = worker("aimux-worker-claude-0", Some(now - 1000), Some("t-3"));
        let idle = worker("aimux-worker-claude-0", Some(now - 1000), None);
        let stale = worker("aimux-worker-claude-0", Some(now - 60_000), None);
        assert_eq!(remote_status(&p, Some(&busy), now).0, Status::Active);
        assert_eq!(remote_status(&p, Some(&idle), now).0, Status::Idle);
        let (s, why) = remote_status(&p, Some(&stale), now);
        assert_eq!(s, Status::Error);
        assert!(why.contains("60s"), "{why}");
        assert_eq!(remote_status(&p, None, now).0, Status::Unknown);
        let pulling = pod(PodRole::Worker, "Pending", Some("ErrImagePull"));
        assert_eq!(remote_status(&pulling, Some(&busy), now).0, Status::Error);
        let scheduling = pod(PodRole::Worker, "Pending", None);
        assert_eq!(remote_status(&scheduling, None, now).0, Status::Unknown);
        let session = pod(PodRole::Session, "Running", None);
        assert!(remote_status(&session, None, now).1.contains("attach"));
    }

    #[test]
    fn heartbeats_join_their_pod_by_host_and_the_freshest_wins() {
        let now = 1_000_000;
        let records = [
            worker("aimux-worker-claude-0", Some(now - 50_000), None),
            AgentRecord {
                id: "w-new".into(),
                ..worker("aimux-worker-claude-0", Some(now - 500), Some("t-9"))
            },
            worker("elsewhere", Some(now), Some("t-1")),
        ];
        let rows = remote_agents(vec![pod(PodRole::Worker, "Running", None)], &records, now);
        assert_eq!(rows.len(), 1);
        assert_eq!(rows[0].worker_id.as_deref(), Some("w-new"));
        assert_eq!(rows[0].current_task.as_deref(), Some("t-9"));
        assert_eq!(rows[0].status, Status::Active);
        assert_eq!(rows[0].heartbeat_age_ms, Some(500));
    }

    #[test]
    fn session_status_reads_the_real_clis_screens() {
        // screens of the real CLIs (recorded in the harness findings)
        let gemini_dialog = "│ ? Shell  sleep 20; echo slept 20\n│ Allow execution of [Shell]?\n│ ● 1. Allow once   2. Allow for this session   3. No, suggest changes (esc)";
        let claude_busy = "● Bash(sleep 20; echo slept 20)\n  ⎿  Running… (5s)\n✻ Vibing… (5s · ↓ 47 tokens)\n  esc to interrupt";
        let codex_busy = "◦ Working (5s • esc to interrupt) · 1 background terminal running";
        let gemini_busy = "⠧ Thinking... (esc to cancel, 18s)";
        let claude_idle = "Claude Code v2.1.197\n❯ \n  ? for shortcuts";
        assert_eq!(
            session_status_from_screen(gemini_dialog, None).0,
            Status::Waiting
        );
        for busy in [claude_busy, codex_busy, gemini_busy] {
            assert_eq!(
                session_status_from_screen(busy, Some(false)).0,
                Status::Active,
                "{busy}"
            );
        }
        assert_eq!(
            session_status_from_screen(claude_idle, None).0,
            Status::Idle
        );
        assert_eq!(
            session_status_from_screen(claude_idle, Some(false)).0,
            Status::Idle
        );
        assert_eq!(
            session_status_from_screen(claude_idle, Some(true)).0,
            Status::Active
        );
    }

    #[test]
    fn attach_carries_only_the_vertex_settings_that_are_set() {
        let env = |k: &str| match k {
            "CLOUD_ML_REGION" => Some("us-east5".to_string()),
            "CLAUDE_CODE_USE_VERTEX" => Some("1".to_string()),
            "ANTHROPIC_API_KEY" => Some("sk-secret".to_string()),
            "GOOGLE_CLOUD_PROJECT" => Some(String::new()),
            _ => None,
        };
        let vars = vertex_env(&env);
        assert_eq!(
            attach_command("agent", &vars),
            [
                "env",
                "CLAUDE_CODE_USE_VERTEX=1",
                "CLOUD_ML_REGION=us-east5",
                "tmux",
                "attach-session",
                "-t",
                "agent"
            ]
        );
        assert_eq!(
            attach_command("agent", &[]),
            ["tmux", "attach-session", "-t", "agent"]
        );
    }
}
