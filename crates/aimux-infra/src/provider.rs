//! The infrastructure provider trait and its health model. Every backend (Kubernetes +
//! Redis first; EC2 or SSH later) answers the same calls, so the views never change.
//!
//! Health has two layers plus workloads: **coordination** (Redis: ping, latency),
//! **compute** (where workers run: the cluster API, its version, the namespace) and
//! **workloads** (what runs: deployments/pods, or registered workers with heartbeats).

use crate::coord::{Coordinator, Message, NewTask, TaskRecord};
use crate::schema::now_ms;
use serde::Serialize;
use std::future::Future;

#[derive(Debug, thiserror::Error)]
pub enum InfraError {
    /// The backend has no compute configured (e.g. no Kubernetes context).
    #[error("{0}")]
    NotConfigured(String),
    #[error(transparent)]
    Coord(#[from] crate::coord::CoordError),
    #[error("{0}")]
    Other(String),
}

/// One layer of the health model.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct Layer {
    /// False when the layer is simply not set up (shown as "not configured", not as an error).
    pub configured: bool,
    pub ok: bool,
    /// One line for humans.
    pub summary: String,
    /// Round trip in milliseconds, when measured.
    pub latency_ms: Option<f64>,
    /// Server / API version, when known.
    pub version: Option<String>,
    /// Where: the Redis URL (password redacted), or the cluster namespace.
    pub target: Option<String>,
}

/// Something running: a deployment, a pod, or a registered worker.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct Workload {
    pub kind: String,
    pub name: String,
    /// `local` or `k8s`.
    pub location: String,
    /// Pod phase, or the worker's status (idle/busy) — `stale` when heartbeats stopped.
    pub phase: String,
    pub reason: Option<String>,
    pub provider: Option<String>,
    pub current_task: Option<String>,
    pub heartbeat_age_ms: Option<i64>,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct InfraHealth {
    pub backend: String,
    pub coordination: Layer,
    pub compute: Layer,
    pub workloads: Vec<Workload>,
}

impl InfraHealth {
    /// Plain text for `aimux infra health` (and anything that wants the same lines).
    pub fn to_text(&self) -> String {
        let mut s = format!("backend: {}\n", self.backend);
        for (name, l) in [
            ("coordination", &self.coordination),
            ("compute", &self.compute),
        ] {
            let state = if !l.configured {
                "not configured"
            } else if l.ok {
                "ok"
            } else {
                "FAILING"
            };
            s.push_str(&format!("{name:<13} {state:<15} {}", l.summary));
            if let Some(ms) = l.latency_ms {
                s.push_str(&format!(" ({ms:.1} ms)"));
            }
            s.push('\n');
        }
        if self.workloads.is_empty() {
            s.push_str("workloads     none\n");
        }
        for w in &self.workloads {
            s.push_str(&format!(
                "workload      {} {} [{}] {}{}{}\n",
                w.kind,
                w.name,
                w.location,
                w.phase,
                w.current_task
                    .as_ref()
                    .map(|t| format!(" on {t}"))
                    .unwrap_or_default(),
                w.reason
                    .as_ref()
                    .map(|r| format!(" — {r}"))
                    .unwrap_or_default(),
            ));
        }
        s
    }
}

/// Heartbeats older than this make a worker `stale`.
pub const STALE_AFTER_MS: i64 = 30_000;

/// What every infrastructure backend offers.
pub trait InfraProvider {
    fn name(&self) -> &str;
    fn health(&self) -> impl Future<Output = InfraHealth> + Send;
    /// A whole interactive agent in the backend's compute (remote mode).
    fn spawn_session(
        &self,
        provider: &str,
    ) -> impl Future<Output = Result<String, InfraError>> + Send;
    fn submit_task(
        &self,
        task: &NewTask,
    ) -> impl Future<Output = Result<TaskRecord, InfraError>> + Send;
    fn list_tasks(
        &self,
        limit: usize,
    ) -> impl Future<Output = Result<Vec<TaskRecord>, InfraError>> + Send;
    fn task_result(&self, id: &str) -> impl Future<Output = Result<TaskRecord, InfraError>> + Send;
    /// Set the number of workers for a provider.
    fn scale(
        &self,
        provider: &str,
        count: u32,
    ) -> impl Future<Output = Result<String, InfraError>> + Send;
    /// Stop one workload (a worker finishes its current task first).
    fn kill(&self, workload: &str) -> impl Future<Output = Result<String, InfraError>> + Send;
}

/// The compute backend: Kubernetes when built with the `k8s` feature.
#[cfg(feature = "k8s")]
pub type Compute = crate::k8s::K8s;
/// The compute backend: none without the `k8s` feature.
#[cfg(not(feature = "k8s"))]
#[derive(Clone)]
pub enum Compute {}

/// How long `scale` waits for replicas to become ready.
pub const SCALE_WAIT: std::time::Duration = std::time::Duration::from_secs(180);

/// Redis coordination + Kubernetes compute.
pub struct RedisK8sProvider {
    coord: Coordinator,
    compute: Option<Compute>,
}

impl RedisK8sProvider {
    pub fn new(coord: Coordinator, compute: Option<Compute>) -> RedisK8sProvider {
        RedisK8sProvider { coord, compute }
    }

    fn no_compute(&self) -> InfraError {
        InfraError::NotConfigured(
            "no compute backend is configured: this aimux has no Kubernetes cluster set up (config `kubernetes:`), so it cannot start workers or remote sessions; run `aimux worker --provider P` where the agent CLI is installed".into(),
        )
    }
}

fn not_configured_compute() -> Layer {
    Layer {
        configured: false,
        summary: "no Kubernetes cluster configured".into(),
        ..Default::default()
    }
}

#[allow(clippy::unused_async)]
async fn compute_health(c: Option<&Compute>) -> (Layer, Vec<Workload>) {
    match c {
        None => (not_configured_compute(), Vec::new()),
        #[cfg(feature = "k8s")]
        Some(k) => {
            let layer = k.compute_layer().await;
            let workloads = if layer.ok {
                match k.workloads().await {
                    Ok(w) => w,
                    Err(e) => vec![Workload {
                        kind: "error".into(),
                        name: "workloads".into(),
                        location: "k8s".into(),
                        phase: "unknown".into(),
                        reason: Some(e.to_string()),
                        provider: None,
                        current_task: None,
                        heartbeat_age_ms: None,
                    }],
                }
            } else {
                Vec::new()
            };
            (layer, workloads)
        }
        #[cfg(not(feature = "k8s"))]
        Some(never) => match *never {},
    }
}

async fn coordination_layer(coord: &Coordinator) -> Layer {
    let mut l = Layer {
        configured: true,
        target: Some(coord.url_redacted()),
        ..Default::default()
    };
    match coord.ping().await {
        Ok(d) => {
            l.ok = true;
            l.latency_ms = Some(d.as_secs_f64() * 1000.0);
            l.version = coord.server_version().await.ok().flatten();
            l.summary = format!(
                "redis {} at {}",
                l.version.as_deref().unwrap_or("?"),
                coord.url_redacted()
            );
        }
        Err(e) => l.summary = format!("ping failed: {e}"),
    }
    l
}

async fn worker_workloads(coord: &Coordinator) -> Vec<Workload> {
    let Ok(agents) = coord.agents().await else {
        return Vec::new();
    };
    let now = now_ms();
    agents
        .into_iter()
        .map(|a| {
            let age = a.heartbeat_at.map(|h| now - h);
            let stale = age.is_none_or(|a| a > STALE_AFTER_MS);
            Workload {
                kind: "worker".into(),
                name: a.id,
                location: a.location.unwrap_or_else(|| "local".into()),
                phase: if stale {
                    "stale".into()
                } else {
                    a.status.unwrap_or_else(|| "unknown".into())
                },
                reason: stale.then(|| {
                    age.map_or("never sent a heartbeat".to_string(), |a| {
                        format!("last heartbeat {}s ago", a / 1000)
                    })
                }),
                provider: a.provider,
                current_task: a.current_task,
                heartbeat_age_ms: age,
            }
        })
        .collect()
}

impl InfraProvider for RedisK8sProvider {
    fn name(&self) -> &str {
        "kubernetes+redis"
    }

    async fn health(&self) -> InfraHealth {
        let coordination = coordination_layer(&self.coord).await;
        let (compute, k8s_workloads) = compute_health(self.compute.as_ref()).await;
        let mut workloads = k8s_workloads;
        if coordination.ok {
            workloads.extend(worker_workloads(&self.coord).await);
        }
        InfraHealth {
            backend: self.name().into(),
            workloads,
            coordination,
            compute,
        }
    }

    async fn spawn_session(&self, provider: &str) -> Result<String, InfraError> {
        match &self.compute {
            None => Err(self.no_compute()),
            #[cfg(feature = "k8s")]
            Some(k) => k
                .spawn_session(provider, SCALE_WAIT)
                .await
                .map_err(|e| InfraError::Other(e.to_string())),
            #[cfg(not(feature = "k8s"))]
            Some(never) => {
                let _ = provider;
                match *never {}
            }
        }
    }

    async fn submit_task(&self, task: &NewTask) -> Result<TaskRecord, InfraError> {
        Ok(self.coord.submit(task).await?)
    }

    async fn list_tasks(&self, limit: usize) -> Result<Vec<TaskRecord>, InfraError> {
        Ok(self.coord.list_tasks(limit).await?)
    }

    async fn task_result(&self, id: &str) -> Result<TaskRecord, InfraError> {
        Ok(self.coord.task(id).await?)
    }

    async fn scale(&self, provider: &str, count: u32) -> Result<String, InfraError> {
        match &self.compute {
            None => Err(self.no_compute()),
            #[cfg(feature = "k8s")]
            Some(k) => {
                let n = i32::try_from(count)
                    .map_err(|_| InfraError::Other(format!("{count} workers is too many")))?;
                k.scale_workers(provider, n, SCALE_WAIT)
                    .await
                    .map_err(|e| InfraError::Other(e.to_string()))
            }
            #[cfg(not(feature = "k8s"))]
            Some(never) => {
                let _ = (provider, count);
                match *never {}
            }
        }
    }

    /// A pod (by name) is removed through its Deployment; a registered worker that runs
    /// in a pod goes with its pod (a stop message alone would only make Kubernetes restart
    /// the container); any other worker is asked to stop after its current task.
    async fn kill(&self, workload: &str) -> Result<String, InfraError> {
        let agents = self.coord.agents().await.unwrap_or_default();
        let worker = agents.iter().find(|a| a.id == workload);
        #[cfg(feature = "k8s")]
        if let Some(k) = &self.compute {
            let pods = k
                .agent_pods()
                .await
                .map_err(|e| InfraError::Other(e.to_string()))?;
            let pod = pods.iter().find(|p| {
                p.name == workload
                    || worker.and_then(|w| w.host.as_deref()) == Some(p.name.as_str())
            });
            if let Some(p) = pod {
                return k
                    .kill_pod(&p.name)
                    .await
                    .map_err(|e| InfraError::Other(e.to_string()));
            }
        }
        if worker.is_none() {
            return Err(InfraError::Other(format!(
                "no registered worker or pod '{workload}'"
            )));
        }
        self.coord
            .send(
                workload,
                &Message {
                    from: "aimux".into(),
                    text: "kill".into(),
                    sent_at: now_ms(),
                    kind: "stop".into(),
                },
            )
            .await?;
        Ok(format!("asked {workload} to stop after its current task"))
    }
}

/// Health of the configured infrastructure, for `aimux infra health` and the TUI's health
/// view: never fails; an unreachable Redis is a failing coordination layer.
pub async fn health_for(url: &str, prefix: &str, compute: Option<Compute>) -> InfraHealth {
    match Coordinator::connect(url, prefix).await {
        Ok(c) => RedisK8sProvider::new(c, compute).health().await,
        Err(e) => {
            let (compute, workloads) = compute_health(compute.as_ref()).await;
            InfraHealth {
                backend: "kubernetes+redis".into(),
                coordination: Layer {
                    configured: true,
                    ok: false,
                    summary: e.to_string(),
                    target: Some(crate::coord::redact(url)),
                    ..Default::default()
                },
                compute,
                workloads,
            }
        }
    }
}
