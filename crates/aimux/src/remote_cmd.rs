//! `aimux remote …`: whole agents in Kubernetes pods. `new` starts one (inside tmux in its
//! pod) and can attach at once, `list` shows aimux's pods as agents with a status from the
//! pod and the worker heartbeats, `attach` bridges this terminal to the pod's tmux through
//! the API's exec WebSocket (C-b d detaches and leaves the agent running), `kill` stops the
//! selected pod and no other.

use crate::infra_cmd::{InfraCtx, RedisOpts, age, compute, confirm, redis_target, rt};
use crate::table;
use aimux_engine::agents::{AgentRow, MatchEvidence, RemoteHandle};
use aimux_infra::coord::Coordinator;
use aimux_infra::k8s::K8s;
use aimux_infra::remote::{
    PodRole, RemoteAgent, TerminalSize, remote_agents, session_status_from_screen, vertex_env,
};
use aimux_infra::schema::{self, now_ms};
use anyhow::{Context as _, Result, bail};
use clap::{Args, Subcommand};
use std::io::{IsTerminal, Write};
use std::process::ExitCode;
use std::time::Duration;

#[derive(Debug, Args)]
pub struct RemoteArgs {
    #[command(flatten)]
    pub redis: RedisOpts,
    #[command(subcommand)]
    pub command: RemoteCommand,
}

#[derive(Debug, Subcommand)]
pub enum RemoteCommand {
    /// Start an interactive agent in a new pod (it runs inside tmux there).
    New {
        /// claude, codex or gemini.
        #[arg(long)]
        provider: String,
        /// Attach this terminal as soon as the pod runs.
        #[arg(long)]
        attach: bool,
        /// Seconds to wait for the pod to run.
        #[arg(long, default_value_t = 180, value_name = "SECS")]
        wait: u64,
    },
    /// aimux's pods as agents: sessions and workers, with status and reason.
    List {
        #[arg(long)]
        json: bool,
    },
    /// Attach this terminal to a remote session (C-b d detaches; the agent keeps running).
    Attach {
        /// The pod (from `aimux remote list`).
        pod: String,
    },
    /// Stop the selected pod: a session is deleted, a worker's Deployment loses exactly
    /// this pod.
    Kill {
        pod: String,
        /// Do not ask.
        #[arg(long)]
        yes: bool,
    },
}

async fn cluster(ctx: &InfraCtx) -> Result<K8s> {
    match compute(ctx).await? {
        Some(k) => Ok(k),
        None => bail!(
            "no Kubernetes cluster configured: add a `kubernetes:` section to {} (kubeconfig, namespace, image, …)",
            ctx.dirs.config_path().display()
        ),
    }
}

/// Hashes of the remote sessions' screens at the previous look, by pod.
pub type ScreenMemory = std::collections::HashMap<String, u64>;

/// Pods joined with worker heartbeats; a running session's status comes from its screen
/// (compared with `screens`, the previous look). An unreachable Redis only loses the
/// heartbeats: the pods are still listed, their reason says why.
pub async fn list_remote(
    ctx: &InfraCtx,
    redis: &RedisOpts,
    screens: &mut ScreenMemory,
) -> Result<Vec<RemoteAgent>> {
    let k = cluster(ctx).await?;
    let pods = k.agent_pods().await.context("listing pods")?;
    let (url, prefix) = redis_target(ctx, redis);
    let registry =
        match tokio::time::timeout(Duration::from_secs(3), Coordinator::connect(&url, &prefix))
            .await
        {
            Ok(Ok(c)) => c.agents().await.unwrap_or_default(),
            _ => Vec::new(),
        };
    let mut rows = remote_agents(pods, &registry, now_ms());
    screens.retain(|pod, _| rows.iter().any(|r| r.pod.name == *pod));
    for r in rows
        .iter_mut()
        .filter(|r| r.pod.role == PodRole::Session && r.pod.phase == "Running")
    {
        match tokio::time::timeout(Duration::from_secs(3), k.session_screen(&r.pod.name)).await {
            Ok(Ok(screen)) => {
                let hash = {
                    use std::hash::{Hash, Hasher};
                    let mut h = std::collections::hash_map::DefaultHasher::new();
                    screen.hash(&mut h);
                    h.finish()
                };
                let changed = screens
                    .insert(r.pod.name.clone(), hash)
                    .map(|before| before != hash);
                (r.status, r.status_reason) = session_status_from_screen(&screen, changed);
            }
            Ok(Err(e)) => r.status_reason = format!("pod Running; cannot read its screen: {e}"),
            Err(_) => r.status_reason = "pod Running; its screen did not come in 3 s".into(),
        }
    }
    Ok(rows)
}

fn role_name(role: PodRole) -> &'static str {
    match role {
        PodRole::Session => "session",
        PodRole::Worker => "worker",
    }
}

/// A remote agent as a row of the agents view (`pid` 0: it has no local process).
pub fn agent_row(r: &RemoteAgent) -> AgentRow {
    let provider = r
        .pod
        .provider
        .as_deref()
        .and_then(aimux_core::Provider::parse)
        .unwrap_or(aimux_core::Provider::Claude);
    AgentRow {
        pid: 0,
        provider,
        status: r.status,
        status_reason: r.status_reason.clone(),
        model: None,
        cwd: None,
        project: Some(r.pod.name.clone()),
        session_id: None,
        session_file: None,
        match_evidence: MatchEvidence::None,
        title: None,
        started_at: r.pod.started_at.clone(),
        last_activity: None,
        last_action: r.current_task.as_ref().map(|t| format!("task {t}")),
        tokens: Default::default(),
        cost_usd: None,
        rss_bytes: 0,
        cpu_percent: 0.0,
        command: format!("{} pod {}", role_name(r.pod.role), r.pod.name),
        location: "k8s".into(),
        tmux_target: None,
        children: Vec::new(),
        subagents: Vec::new(),
        remote: Some(RemoteHandle {
            pod: r.pod.name.clone(),
            namespace: r.pod.namespace.clone(),
            role: role_name(r.pod.role).into(),
            attachable: r.pod.role == PodRole::Session && r.pod.phase == "Running",
        }),
    }
}

pub fn remote(ctx: InfraCtx, args: &RemoteArgs) -> Result<ExitCode> {
    rt(async move {
        match &args.command {
            RemoteCommand::New {
                provider,
                attach,
                wait,
            } => {
                if !schema::PROVIDERS.contains(&provider.as_str()) {
                    bail!(
                        "unknown provider '{provider}' (known: {})",
                        schema::PROVIDERS.join(", ")
                    );
                }
                let k = cluster(&ctx).await?;
                let pod = k
                    .spawn_session(provider, Duration::from_secs(*wait))
                    .await?;
                if *attach {
                    eprintln!("started {pod}; attaching (C-b d detaches, the agent keeps running)");
                    attach_terminal(&k, &pod).await
                } else {
                    println!("{pod}");
                    Ok(ExitCode::SUCCESS)
                }
            }
            RemoteCommand::List { json } => {
                let rows = list_remote(&ctx, &args.redis, &mut ScreenMemory::new()).await?;
                if *json {
                    println!("{}", serde_json::to_string_pretty(&rows)?);
                } else if rows.is_empty() {
                    println!("no aimux pods (start one: aimux remote new --provider claude)");
                } else {
                    print!("{}", list_table(&rows));
                }
                Ok(ExitCode::SUCCESS)
            }
            RemoteCommand::Attach { pod } => {
                let k = cluster(&ctx).await?;
                attach_terminal(&k, pod).await
            }
            RemoteCommand::Kill { pod, yes } => {
                let k = cluster(&ctx).await?;
                if !*yes && !confirm(&format!("Stop pod {pod}?"), &format!("stop pod {pod}"))? {
                    println!("kept {pod}");
                    return Ok(ExitCode::from(1));
                }
                println!("{}", k.kill_pod(pod).await?);
                Ok(ExitCode::SUCCESS)
            }
        }
    })
}

fn list_table(rows: &[RemoteAgent]) -> String {
    let now = chrono::Utc::now();
    let body: Vec<Vec<String>> = rows
        .iter()
        .map(|r| {
            let started = r
                .pod
                .started_at
                .as_deref()
                .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
                .map(|t| age((now - t.with_timezone(&chrono::Utc)).num_milliseconds()))
                .unwrap_or_else(|| "-".into());
            vec![
                r.pod.name.clone(),
                role_name(r.pod.role).into(),
                r.pod.provider.clone().unwrap_or_else(|| "-".into()),
                r.pod.phase.clone(),
                r.status.as_str().to_string(),
                started,
                r.status_reason.clone(),
            ]
        })
        .collect();
    table::render(
        &["POD", "ROLE", "PROVIDER", "PHASE", "STATUS", "AGE", "WHY"],
        &body,
        &[],
    )
}

/// Restores the terminal when the attach ends, however it ends.
struct RawMode;

impl RawMode {
    fn enable() -> Option<RawMode> {
        crossterm::terminal::enable_raw_mode()
            .ok()
            .map(|()| RawMode)
    }
}

impl Drop for RawMode {
    fn drop(&mut self) {
        let _ = crossterm::terminal::disable_raw_mode();
    }
}

/// Bridges this terminal to the pod's tmux: raw keystrokes go to the exec's stdin (and
/// nowhere else), its output to stdout, size changes to the resize channel. Ends when the
/// remote tmux client ends (C-b d) or the connection drops.
async fn attach_terminal(k: &K8s, pod: &str) -> Result<ExitCode> {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let env = vertex_env(&|k| std::env::var(k).ok());
    if !env.is_empty() {
        let names: Vec<&str> = env.iter().map(|(k, _)| k.as_str()).collect();
        eprintln!("forwarding {} to the session", names.join(", "));
    }
    let mut att = k
        .attach_with_env(pod, &env)
        .await
        .with_context(|| format!("attach to pod {pod}"))?;
    let mut remote_out = att.stdout().context("the exec has no stdout")?;
    let mut remote_in = att.stdin().context("the exec has no stdin")?;
    let mut resize = att.terminal_size();
    let _raw = std::io::stdin()
        .is_terminal()
        .then(RawMode::enable)
        .flatten();

    // keystrokes: a blocking reader thread (stdin has no portable async read)
    let (keys_tx, mut keys_rx) = tokio::sync::mpsc::channel::<Vec<u8>>(64);
    std::thread::spawn(move || {
        use std::io::Read;
        let mut stdin = std::io::stdin().lock();
        let mut buf = [0u8; 1024];
        while let Ok(n) = stdin.read(&mut buf) {
            if n == 0 || keys_tx.blocking_send(buf[..n].to_vec()).is_err() {
                break;
            }
        }
    });
    let mut last_size = None;
    let mut tick = tokio::time::interval(Duration::from_millis(250));
    let mut buf = vec![0u8; 16 * 1024];
    let mut stdout = std::io::stdout();
    let mut keys_open = true;
    loop {
        tokio::select! {
            n = remote_out.read(&mut buf) => match n {
                Ok(0) | Err(_) => break,
                Ok(n) => {
                    stdout.write_all(&buf[..n])?;
                    stdout.flush()?;
                }
            },
            keys = keys_rx.recv(), if keys_open => match keys {
                Some(bytes) => {
                    if remote_in.write_all(&bytes).await.is_err() {
                        break;
                    }
                    let _ = remote_in.flush().await;
                }
                None => keys_open = false,
            },
            _ = tick.tick() => {
                if let (Some(tx), Ok((width, height))) = (resize.as_mut(), crossterm::terminal::size())
                    && last_size != Some((width, height))
                {
                    last_size = Some((width, height));
                    let _ = tx.try_send(TerminalSize { width, height });
                }
            }
        }
    }
    drop(_raw);
    let _ = tokio::time::timeout(Duration::from_secs(2), att.join()).await;
    eprintln!("\r\ndetached from {pod}; the agent keeps running (aimux remote attach {pod})");
    Ok(ExitCode::SUCCESS)
}

pub(crate) fn infra_ctx(dirs: &aimux_engine::home::Dirs) -> InfraCtx {
    InfraCtx {
        dirs: dirs.clone(),
        prices: aimux_core::pricing::PriceTable::bundled(),
    }
}

/// How long the dashboard waits for a new remote session's pod to run.
const DASHBOARD_SPAWN_WAIT: Duration = Duration::from_secs(120);

/// `:new` → Remote: starts a session pod and waits until it runs (the dashboard's worker
/// thread calls this). Returns the pod's name.
pub fn spawn_session_blocking(dirs: &aimux_engine::home::Dirs, provider: &str) -> Result<String> {
    let ctx = infra_ctx(dirs);
    aimux_infra::block_on(async {
        let k = cluster(&ctx).await?;
        Ok(k.spawn_session(provider, DASHBOARD_SPAWN_WAIT).await?)
    })
    .context("cannot start the async runtime")?
}

/// `x` on a remote agent, after the confirmation.
pub fn kill_pod_blocking(dirs: &aimux_engine::home::Dirs, pod: &str) -> Result<String> {
    let ctx = infra_ctx(dirs);
    aimux_infra::block_on(async {
        let k = cluster(&ctx).await?;
        Ok(k.kill_pod(pod).await?)
    })
    .context("cannot start the async runtime")?
}
