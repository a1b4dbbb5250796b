//! Kubernetes compute through kube-rs (no `kubectl`): the namespace (created if missing,
//! labelled as managed by aimux), worker Deployments built in code, scaling with a readiness
//! wait, workloads for the health view, and credentials copied into a Secret only after
//! consent.

use crate::provider::{Layer, Workload};
use k8s_openapi::api::apps::v1::{Deployment, DeploymentSpec};
use k8s_openapi::api::core::v1::{
    Container, EnvFromSource, EnvVar, EnvVarSource, Namespace, ObjectFieldSelector, Pod, PodSpec,
    PodTemplateSpec, ResourceRequirements, Secret, SecretEnvSource,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::{LabelSelector, ObjectMeta};
use kube::api::{Api, ListParams, Patch, PatchParams, PostParams};
use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::{Duration, Instant};

pub const MANAGED_BY: &str = "app.kubernetes.io/managed-by";
pub const COMPONENT: &str = "app.kubernetes.io/component";
pub const PROVIDER_LABEL: &str = "aimux.dev/provider";
/// Label of a remote session's pods: the Deployment they belong to.
pub const SESSION_LABEL: &str = "aimux.dev/session";
pub use crate::schema::POD_NAME_ENV;

#[derive(Debug, thiserror::Error)]
pub enum K8sError {
    #[error("kubeconfig: {0}")]
    Config(String),
    #[error("kubernetes API: {0}")]
    Api(#[from] kube::Error),
    #[error("{0}")]
    Timeout(String),
    #[error("{0}")]
    Invalid(String),
}

pub type Result<T> = std::result::Result<T, K8sError>;

/// Settings from the `kubernetes:` config section.
#[derive(Debug, Clone)]
pub struct K8sConfig {
    pub kubeconfig: Option<PathBuf>,
    pub context: Option<String>,
    pub namespace: String,
    /// The worker image (aimux, tmux and the agent CLIs: `deploy/worker/Dockerfile`).
    /// Empty until configured; starting pods then fails saying how to build one.
    pub image: String,
    pub service_account: Option<String>,
    pub cpu: Option<String>,
    pub memory: Option<String>,
    /// The Redis URL as seen from inside the cluster.
    pub redis_url: String,
    /// The Secret holding the copied credentials (env vars for the agents).
    pub secret_name: String,
}

impl Default for K8sConfig {
    fn default() -> Self {
        K8sConfig {
            kubeconfig: None,
            context: None,
            namespace: "aimux".into(),
            // no public image: build deploy/worker/Dockerfile and name it in the config
            image: String::new(),
            service_account: None,
            cpu: Some("500m".into()),
            memory: Some("1Gi".into()),
            redis_url: "redis://aimux-redis:6379".into(),
            secret_name: "aimux-credentials".into(),
        }
    }
}

/// The name of a provider's worker Deployment.
pub fn deployment_name(provider: &str) -> String {
    format!("aimux-worker-{provider}")
}

fn managed_labels(provider: Option<&str>) -> BTreeMap<String, String> {
    let mut l = BTreeMap::from([
        (MANAGED_BY.to_string(), "aimux".to_string()),
        (COMPONENT.to_string(), "worker".to_string()),
    ]);
    if let Some(p) = provider {
        l.insert(PROVIDER_LABEL.to_string(), p.to_string());
    }
    l
}

/// The worker Deployment for `provider`, built in code: the container runs the same
/// entrypoint as a local worker (`aimux worker --provider P`).
pub fn worker_deployment(cfg: &K8sConfig, provider: &str, replicas: i32) -> Deployment {
    let labels = managed_labels(Some(provider));
    let mut requests = BTreeMap::new();
    if let Some(c) = &cfg.cpu {
        requests.insert("cpu".to_string(), Quantity(c.clone()));
    }
    if let Some(m) = &cfg.memory {
        requests.insert("memory".to_string(), Quantity(m.clone()));
    }
    let container = Container {
        name: "worker".into(),
        image: Some(cfg.image.clone()),
        command: Some(vec!["aimux".into()]),
        args: Some(vec!["worker".into(), "--provider".into(), provider.into()]),
        env: Some(vec![
            EnvVar {
                name: "AIMUX_REDIS_URL".into(),
                value: Some(cfg.redis_url.clone()),
                ..Default::default()
            },
            EnvVar {
                name: "AIMUX_WORKER_LOCATION".into(),
                value: Some("k8s".into()),
                ..Default::default()
            },
            // the downward API: the worker registers under its pod's name, which is how
            // the dashboard ties heartbeats to pods
            EnvVar {
                name: POD_NAME_ENV.into(),
                value_from: Some(EnvVarSource {
                    field_ref: Some(ObjectFieldSelector {
                        field_path: "metadata.name".into(),
                        ..Default::default()
                    }),
                    ..Default::default()
                }),
                ..Default::default()
            },
        ]),
        env_from: Some(vec![EnvFromSource {
            secret_ref: Some(SecretEnvSource {
                name: cfg.secret_name.clone(),
                optional: Some(true),
            }),
            ..Default::default()
        }]),
        resources: (!requests.is_empty()).then(|| ResourceRequirements {
            requests: Some(requests),
            ..Default::default()
        }),
        ..Default::default()
    };
    Deployment {
        metadata: ObjectMeta {
            name: Some(deployment_name(provider)),
            namespace: Some(cfg.namespace.clone()),
            labels: Some(labels.clone()),
            ..Default::default()
        },
        spec: DeploymentSpec {
            replicas: Some(replicas),
            selector: LabelSelector {
                match_labels: Some(labels.clone()),
                ..Default::default()
            },
            template: PodTemplateSpec {
                metadata: Some(ObjectMeta {
                    labels: Some(labels),
                    ..Default::default()
                }),
                spec: Some(PodSpec {
                    containers: vec![container],
                    service_account_name: cfg.service_account.clone(),
                    ..Default::default()
                }),
            },
            ..Default::default()
        },
        ..Default::default()
    }
}

/// Why a pod's container is not running (ErrImagePull, CrashLoopBackOff, …), if it waits.
pub(crate) fn waiting_reason(p: &Pod) -> Option<String> {
    p.status
        .as_ref()
        .and_then(|s| s.container_statuses.as_ref())
        .and_then(|cs| {
            cs.iter().find_map(|c| {
                c.state
                    .as_ref()
                    .and_then(|s| s.waiting.as_ref())
                    .and_then(|w| w.reason.clone())
            })
        })
}

/// The tmux session name of a remote agent inside its pod.
pub const REMOTE_SESSION: &str = "agent";

/// A remote interactive session: one pod whose agent runs inside tmux, so detaching (or a
/// dropped connection) leaves it running. Built in code like the workers.
pub fn session_deployment(cfg: &K8sConfig, provider: &str, name: &str) -> Deployment {
    let mut d = worker_deployment(cfg, provider, 1);
    let mut labels = managed_labels(Some(provider));
    labels.insert(COMPONENT.to_string(), "session".to_string());
    labels.insert(SESSION_LABEL.to_string(), name.to_string());
    d.metadata.name = Some(name.to_string());
    d.metadata.labels = Some(labels.clone());
    d.spec.selector.match_labels = Some(labels.clone());
    if let Some(m) = d.spec.template.metadata.as_mut() {
        m.labels = Some(labels);
    }
    if let Some(c) = d
        .spec
        .template
        .spec
        .as_mut()
        .and_then(|s| s.containers.first_mut())
    {
        c.name = "agent".into();
        c.command = Some(vec!["sh".into(), "-c".into()]);
        // update-environment: an attach carries the local Vertex settings into the session,
        // so an agent (re)started in it uses the same project and region
        c.args = Some(vec![format!(
            "tmux new-session -d -s {REMOTE_SESSION} -x 200 -y 50 {provider} && tmux set-option -g -a update-environment ' {}' && exec sleep 2147483647",
            crate::remote::VERTEX_ENV.join(" ")
        )]);
        c.tty = Some(true);
        c.stdin = Some(true);
    }
    d
}

/// A local credential that could be copied into the cluster.
#[derive(Clone, PartialEq, Eq)]
pub struct Credential {
    /// The key in the Secret (an environment variable name in the pod).
    pub key: String,
    pub value: String,
    /// Where it was read (shown in the consent prompt; the value never is).
    pub source: String,
}

impl std::fmt::Debug for Credential {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credential")
            .field("key", &self.key)
            .field("value", &"<redacted>")
            .field("source", &self.source)
            .finish()
    }
}

/// Env vars copied when set: Anthropic API key, Vertex AI settings, OpenAI/Gemini keys.
pub const CREDENTIAL_ENV: &[&str] = &[
    "ANTHROPIC_API_KEY",
    "CLAUDE_CODE_USE_VERTEX",
    "CLOUD_ML_REGION",
    "ANTHROPIC_VERTEX_PROJECT_ID",
    "GOOGLE_CLOUD_PROJECT",
    "OPENAI_API_KEY",
    "GEMINI_API_KEY",
];

/// Reads local auth: the env vars above, and Vertex ADC (GOOGLE_APPLICATION_CREDENTIALS or
/// gcloud's application_default_credentials.json) when Vertex is in use.
pub fn local_credentials(
    env: &dyn Fn(&str) -> Option<String>,
    home: Option<&std::path::Path>,
) -> Vec<Credential> {
    let mut out = Vec::new();
    for k in CREDENTIAL_ENV {
        if let Some(v) = env(k).filter(|v| !v.is_empty()) {
            out.push(Credential {
                key: (*k).to_string(),
                value: v,
                source: format!("environment variable {k}"),
            });
        }
    }
    let vertex = env("CLAUDE_CODE_USE_VERTEX").is_some_and(|v| v == "1" || v == "true");
    if vertex {
        let adc = env("GOOGLE_APPLICATION_CREDENTIALS")
            .map(PathBuf::from)
            .or_else(|| {
                home.map(|h| h.join(".config/gcloud/application_default_credentials.json"))
            });
        if let Some(p) = adc
            && let Ok(v) = std::fs::read_to_string(&p)
        {
            out.push(Credential {
                key: "GOOGLE_ADC_JSON".into(),
                value: v,
                source: format!("file {}", p.display()),
            });
        }
    }
    out
}

/// The consent prompt: exactly what will be copied into which Secret. Never values.
pub fn describe_secret_plan(cfg: &K8sConfig, creds: &[Credential]) -> String {
    let mut s = format!(
        "aimux will create the Kubernetes Secret '{}' in namespace '{}' with {} key(s):\n",
        cfg.secret_name,
        cfg.namespace,
        creds.len()
    );
    for c in creds {
        s.push_str(&format!("  {:<28} from {}\n", c.key, c.source));
    }
    s.push_str(
        "Worker pods read these as environment variables. Values are never printed or logged.\n",
    );
    s
}

/// Kubernetes access for one namespace.
#[derive(Clone)]
pub struct K8s {
    pub(crate) client: kube::Client,
    cfg: K8sConfig,
}

impl K8s {
    /// From the user's kubeconfig (path or the default), with the configured context.
    pub async fn connect(cfg: K8sConfig) -> Result<K8s> {
        let opts = kube::config::KubeConfigOptions {
            context: cfg.context.clone(),
            ..Default::default()
        };
        let config = match &cfg.kubeconfig {
            Some(p) => {
                let kc = kube::config::Kubeconfig::read_from(p)
                    .map_err(|e| K8sError::Config(format!("{}: {e}", p.display())))?;
                kube::Config::from_custom_kubeconfig(kc, &opts)
                    .await
                    .map_err(|e| K8sError::Config(e.to_string()))?
            }
            None => kube::Config::from_kubeconfig(&opts)
                .await
                .map_err(|e| K8sError::Config(e.to_string()))?,
        };
        let client = kube::Client::try_from(config)?;
        Ok(K8s { client, cfg })
    }

    /// With an existing client (tests use a tower-test mock or a fake API server).
    pub fn with_client(client: kube::Client, cfg: K8sConfig) -> K8s {
        K8s { client, cfg }
    }

    pub fn config(&self) -> &K8sConfig {
        &self.cfg
    }

    fn require_image(&self) -> Result<()> {
        if self.cfg.image.trim().is_empty() {
            return Err(K8sError::Invalid(
                "no worker image configured: build one with `docker build -f deploy/worker/Dockerfile -t REGISTRY/aimux-worker:TAG .`, push it, and set `kubernetes.image` in config.yaml".into(),
            ));
        }
        Ok(())
    }

    /// Creates the namespace when missing (labelled managed-by aimux). True if created.
    pub async fn ensure_namespace(&self) -> Result<bool> {
        let api: Api<Namespace> = Api::all(self.client.clone());
        if api.get_opt(&self.cfg.namespace).await?.is_some() {
            return Ok(false);
        }
        let ns = Namespace {
            metadata: ObjectMeta {
                name: Some(self.cfg.namespace.clone()),
                labels: Some(BTreeMap::from([(
                    MANAGED_BY.to_string(),
                    "aimux".to_string(),
                )])),
                ..Default::default()
            },
            ..Default::default()
        };
        api.create(&PostParams::default(), &ns).await?;
        Ok(true)
    }

    /// Asks `consent` with the exact plan; only a yes creates (or replaces) the Secret.
    /// Returns whether the Secret was written. No API call is made without consent.
    pub async fn provision_credentials(
        &self,
        creds: &[Credential],
        consent: impl FnOnce(&str) -> bool,
    ) -> Result<bool> {
        if creds.is_empty() {
            return Ok(false);
        }
        if !consent(&describe_secret_plan(&self.cfg, creds)) {
            return Ok(false);
        }
        self.ensure_namespace().await?;
        let data: BTreeMap<String, String> = creds
            .iter()
            .map(|c| (c.key.clone(), c.value.clone()))
            .collect();
        let secret = Secret {
            metadata: ObjectMeta {
                name: Some(self.cfg.secret_name.clone()),
                namespace: Some(self.cfg.namespace.clone()),
                labels: Some(managed_labels(None)),
                ..Default::default()
            },
            string_data: Some(data),
            type_: Some("Opaque".into()),
            ..Default::default()
        };
        let api: Api<Secret> = Api::namespaced(self.client.clone(), &self.cfg.namespace);
        match api.get_opt(&self.cfg.secret_name).await? {
            Some(existing) => {
                let mut s = secret;
                s.metadata.resource_version = existing.metadata.resource_version;
                api.replace(&self.cfg.secret_name, &PostParams::default(), &s)
                    .await?;
            }
            None => {
                api.create(&PostParams::default(), &secret).await?;
            }
        }
        Ok(true)
    }

    /// Sets the provider's worker Deployment to `replicas` (creating it and the namespace
    /// if needed) and waits until that many replicas are ready.
    pub async fn scale_workers(
        &self,
        provider: &str,
        replicas: i32,
        wait: Duration,
    ) -> Result<String> {
        if replicas < 0 {
            return Err(K8sError::Invalid("replicas must be >= 0".into()));
        }
        if replicas > 0 {
            self.require_image()?;
        }
        self.ensure_namespace().await?;
        let api: Api<Deployment> = Api::namespaced(self.client.clone(), &self.cfg.namespace);
        let name = deployment_name(provider);
        match api.get_opt(&name).await? {
            None => {
                api.create(
                    &PostParams::default(),
                    &worker_deployment(&self.cfg, provider, replicas),
                )
                .await?;
            }
            Some(_) => {
                let patch = serde_json::json!({"spec": {"replicas": replicas}});
                api.patch(&name, &PatchParams::default(), &Patch::Merge(&patch))
                    .await?;
            }
        }
        let deadline = Instant::now() + wait;
        loop {
            let d = api.get(&name).await?;
            let ready = d
                .status
                .as_ref()
                .and_then(|s| s.ready_replicas)
                .unwrap_or(0);
            if ready == replicas {
                return Ok(format!(
                    "{name}: {ready}/{replicas} ready in namespace {}",
                    self.cfg.namespace
                ));
            }
            if Instant::now() >= deadline {
                let pods = self.pods(Some(provider)).await.unwrap_or_default();
                let why: Vec<String> = pods
                    .iter()
                    .map(|w| {
                        format!(
                            "{} {}{}",
                            w.name,
                            w.phase,
                            w.reason
                                .as_ref()
                                .map(|r| format!(" ({r})"))
                                .unwrap_or_default()
                        )
                    })
                    .collect();
                return Err(K8sError::Timeout(format!(
                    "{name}: {ready}/{replicas} ready after {}s; pods: {}",
                    wait.as_secs(),
                    if why.is_empty() {
                        "none".into()
                    } else {
                        why.join(", ")
                    }
                )));
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }

    /// Starts a remote interactive agent (`:new` → Remote): a one-pod Deployment running the
    /// provider's CLI inside tmux; waits until it is ready and returns the pod name.
    pub async fn spawn_session(&self, provider: &str, wait: Duration) -> Result<String> {
        self.require_image()?;
        self.ensure_namespace().await?;
        let api: Api<Deployment> = Api::namespaced(self.client.clone(), &self.cfg.namespace);
        let existing = api
            .list(
                &ListParams::default()
                    .labels(&format!("{COMPONENT}=session,{PROVIDER_LABEL}={provider}")),
            )
            .await?;
        let name = format!("aimux-session-{provider}-{}", existing.items.len() + 1);
        api.create(
            &PostParams::default(),
            &session_deployment(&self.cfg, provider, &name),
        )
        .await?;
        let deadline = Instant::now() + wait;
        let pods: Api<Pod> = Api::namespaced(self.client.clone(), &self.cfg.namespace);
        loop {
            let list = pods
                .list(&ListParams::default().labels(&format!("{SESSION_LABEL}={name}")))
                .await?;
            if let Some(p) = list
                .items
                .iter()
                .find(|p| p.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Running"))
            {
                return Ok(p.metadata.name.clone().unwrap_or_default());
            }
            if Instant::now() >= deadline {
                return Err(K8sError::Timeout(format!(
                    "{name}: no running pod after {}s",
                    wait.as_secs()
                )));
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }

    /// aimux's pods with phase and reason.
    pub async fn pods(&self, provider: Option<&str>) -> Result<Vec<Workload>> {
        let api: Api<Pod> = Api::namespaced(self.client.clone(), &self.cfg.namespace);
        let mut sel = format!("{MANAGED_BY}=aimux");
        if let Some(p) = provider {
            sel.push_str(&format!(",{PROVIDER_LABEL}={p}"));
        }
        let list = api.list(&ListParams::default().labels(&sel)).await?;
        Ok(list
            .items
            .iter()
            .map(|p| {
                let st = p.status.as_ref();
                let waiting = waiting_reason(p);
                Workload {
                    kind: "pod".into(),
                    name: p.metadata.name.clone().unwrap_or_default(),
                    location: "k8s".into(),
                    phase: st
                        .and_then(|s| s.phase.clone())
                        .unwrap_or_else(|| "Unknown".into()),
                    reason: waiting.or_else(|| st.and_then(|s| s.reason.clone())),
                    provider: p
                        .metadata
                        .labels
                        .as_ref()
                        .and_then(|l| l.get(PROVIDER_LABEL).cloned()),
                    current_task: None,
                    heartbeat_age_ms: None,
                }
            })
            .collect())
    }

    /// Deployments and pods managed by aimux.
    pub async fn workloads(&self) -> Result<Vec<Workload>> {
        let api: Api<Deployment> = Api::namespaced(self.client.clone(), &self.cfg.namespace);
        let list = api
            .list(&ListParams::default().labels(&format!("{MANAGED_BY}=aimux")))
            .await?;
        let mut out: Vec<Workload> = list
            .items
            .iter()
            .map(|d| {
                let want = d.spec.replicas.unwrap_or(0);
                let ready = d
                    .status
                    .as_ref()
                    .and_then(|s| s.ready_replicas)
                    .unwrap_or(0);
                Workload {
                    kind: "deployment".into(),
                    name: d.metadata.name.clone().unwrap_or_default(),
                    location: "k8s".into(),
                    phase: format!("{ready}/{want} ready"),
                    reason: None,
                    provider: d
                        .metadata
                        .labels
                        .as_ref()
                        .and_then(|l| l.get(PROVIDER_LABEL).cloned()),
                    current_task: None,
                    heartbeat_age_ms: None,
                }
            })
            .collect();
        out.extend(self.pods(None).await?);
        Ok(out)
    }

    /// Runs `command` in the pod (exec over WebSocket) and returns its stdout.
    pub async fn exec_output(&self, pod: &str, command: Vec<String>) -> Result<String> {
        use tokio::io::AsyncReadExt;
        let api: Api<Pod> = Api::namespaced(self.client.clone(), &self.cfg.namespace);
        let mut p = api
            .exec(
                pod,
                command,
                &kube::api::AttachParams::default()
                    .stdin(false)
                    .stdout(true)
                    .stderr(false),
            )
            .await?;
        let mut out = String::new();
        if let Some(mut o) = p.stdout() {
            o.read_to_string(&mut out)
                .await
                .map_err(|e| K8sError::Invalid(format!("exec output: {e}")))?;
        }
        let status = match p.take_status() {
            Some(s) => s.await,
            None => None,
        };
        let _ = p.join().await;
        if let Some(st) = status
            && st.status.as_deref() == Some("Failure")
        {
            return Err(K8sError::Invalid(format!(
                "exec in {pod}: {}",
                st.message.unwrap_or_default()
            )));
        }
        Ok(out)
    }

    /// The screen of the agent's terminal-multiplexer session in the pod.
    pub async fn capture_screen(&self, pod: &str, session: &str) -> Result<String> {
        self.exec_output(
            pod,
            vec![
                "tmux".into(),
                "capture-pane".into(),
                "-p".into(),
                "-t".into(),
                session.into(),
            ],
        )
        .await
    }

    /// Attaches to the agent's tmux session in the pod with a terminal (exec, tty). The
    /// caller bridges stdin/stdout to its terminal pane; detaching (C-b d) ends this
    /// process but leaves the agent running in the pod.
    pub async fn attach_session(
        &self,
        pod: &str,
        session: &str,
    ) -> Result<kube::api::AttachedProcess> {
        let api: Api<Pod> = Api::namespaced(self.client.clone(), &self.cfg.namespace);
        Ok(api
            .exec(
                pod,
                vec!["tmux", "attach-session", "-t", session],
                &kube::api::AttachParams::interactive_tty(),
            )
            .await?)
    }

    /// The compute layer: API reachable, version, namespace.
    pub async fn compute_layer(&self) -> Layer {
        let t = Instant::now();
        match self.client.apiserver_version().await {
            Ok(v) => {
                let ms = t.elapsed().as_secs_f64() * 1000.0;
                let ns: Api<Namespace> = Api::all(self.client.clone());
                let ns_state = match ns.get_opt(&self.cfg.namespace).await {
                    Ok(Some(_)) => "exists",
                    Ok(None) => "missing (created on first scale)",
                    Err(_) => "not readable",
                };
                Layer {
                    configured: true,
                    ok: true,
                    summary: format!(
                        "kubernetes {} reachable; namespace {} {ns_state}",
                        v.git_version, self.cfg.namespace
                    ),
                    latency_ms: Some(ms),
                    version: Some(v.git_version),
                    target: Some(self.cfg.namespace.clone()),
                }
            }
            Err(e) => Layer {
                configured: true,
                ok: false,
                summary: format!("API not reachable: {e}"),
                target: Some(self.cfg.namespace.clone()),
                ..Default::default()
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deployment_runs_the_worker_entrypoint_with_labels_and_secret() {
        let cfg = K8sConfig {
            namespace: "team".into(),
            image: "img:1".into(),
            service_account: Some("sa".into()),
            ..Default::default()
        };
        let d = worker_deployment(&cfg, "codex", 3);
        let v = serde_json::to_value(&d).expect("json");
        assert_eq!(v["metadata"]["name"], "aimux-worker-codex");
        assert_eq!(v["metadata"]["namespace"], "team");
        assert_eq!(v["spec"]["replicas"], 3);
        let sel = &v["spec"]["selector"]["matchLabels"];
        assert_eq!(sel[MANAGED_BY], "aimux");
        assert_eq!(sel[PROVIDER_LABEL], "codex");
        assert_eq!(v["spec"]["template"]["metadata"]["labels"], *sel);
        let c = &v["spec"]["template"]["spec"]["containers"][0];
        assert_eq!(c["image"], "img:1");
        assert_eq!(c["command"], serde_json::json!(["aimux"]));
        assert_eq!(
            c["args"],
            serde_json::json!(["worker", "--provider", "codex"])
        );
        assert_eq!(c["envFrom"][0]["secretRef"]["name"], "aimux-credentials");
        assert_eq!(c["resources"]["requests"]["cpu"], "500m");
        assert_eq!(v["spec"]["template"]["spec"]["serviceAccountName"], "sa");
    }

    #[test]
    fn credentials_prompt_lists_keys_and_sources_never_values() {
        let env = |k: &str| match k {
            "ANTHROPIC_API_KEY" => Some("sk-ant-very-secret".to_string()),
            "CLAUDE_CODE_USE_VERTEX" => Some("1".to_string()),
            "CLOUD_ML_REGION" => Some("us-east5".to_string()),
            "GOOGLE_APPLICATION_CREDENTIALS" => Some("/nonexistent/adc.json".to_string()),
            _ => None,
        };
        let creds = local_credentials(&env, None);
        let keys: Vec<&str> = creds.iter().map(|c| c.key.as_str()).collect();
        assert_eq!(
            keys,
            [
                "ANTHROPIC_API_KEY",
                "CLAUDE_CODE_USE_VERTEX",
                "CLOUD_ML_REGION"
            ]
        );
        let text = describe_secret_plan(&K8sConfig::default(), &creds);
        assert!(text.contains("ANTHROPIC_API_KEY") && text.contains("aimux-credentials"));
        assert!(!text.contains("very-secret"), "{text}");
        assert!(!format!("{creds:?}").contains("very-secret"));
    }
}
