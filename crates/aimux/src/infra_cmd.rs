//! Scale-out commands: `aimux task …`, `aimux worker`, `aimux mcp [install claude]`,
//! `aimux infra health`. The Redis URL comes from `--redis URL` / `AIMUX_REDIS_URL`, else
//! `redis.url` in the config file, else `redis://127.0.0.1:6379`.

use crate::cli::{Cli, Command};
use crate::table;
use aimux_core::pricing::PriceTable;
use aimux_engine::home::Dirs;
use aimux_infra::coord::{Coordinator, NewTask, TaskRecord};
use aimux_infra::schema::{self, now_ms};
use anyhow::{Context as _, Result, bail};
use clap::{Args, Subcommand};
use serde_json::{Value, json};
use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

/// What the scale-out commands need: directories and prices — not the session index, so a
/// worker pod never opens (or depends on) a SQLite index.
pub struct InfraCtx {
    pub dirs: Dirs,
    pub prices: PriceTable,
}

/// Runs the scale-out commands before the session index is opened; `None` for any other
/// command.
pub fn run_early(cli: &Cli) -> Result<Option<ExitCode>> {
    let ctx = || -> Result<InfraCtx> {
        let dirs = Dirs::resolve(cli.home.clone(), cli.aimux_home.clone());
        let config = crate::config::Config::load(&dirs.config_path())?;
        Ok(InfraCtx {
            prices: config.price_table(),
            dirs,
        })
    };
    Ok(Some(match &cli.command {
        Some(Command::Task(a)) => task(ctx()?, a)?,
        Some(Command::Worker(a)) => worker(ctx()?, a)?,
        Some(Command::Mcp(a)) => mcp(ctx()?, a)?,
        Some(Command::Infra(a)) => infra(ctx()?, a)?,
        Some(Command::Remote(a)) => crate::remote_cmd::remote(ctx()?, a)?,
        _ => return Ok(None),
    }))
}

pub const DEFAULT_REDIS_URL: &str = "redis://127.0.0.1:6379";

#[derive(Debug, Clone, Args)]
pub struct RedisOpts {
    /// Coordination Redis (else config `redis.url`, else redis://127.0.0.1:6379).
    #[arg(
        long = "redis",
        env = "AIMUX_REDIS_URL",
        value_name = "URL",
        global = true
    )]
    pub redis: Option<String>,
}

#[derive(Debug, Args)]
pub struct TaskArgs {
    #[command(flatten)]
    pub redis: RedisOpts,
    #[command(subcommand)]
    pub command: TaskCommand,
}

#[derive(Debug, Subcommand)]
pub enum TaskCommand {
    /// Queue a task for a worker: the prompt is run non-interactively by the provider's CLI.
    Submit {
        /// claude, codex or gemini.
        #[arg(long)]
        provider: String,
        #[arg(long)]
        prompt: String,
        /// The repository directory the worker runs the agent in.
        #[arg(long, value_name = "REPO")]
        dir: Option<PathBuf>,
        /// A free-form role (e.g. reviewer) kept with the task.
        #[arg(long)]
        role: Option<String>,
        /// How often a failed run is requeued before the task fails.
        #[arg(long, default_value_t = 1)]
        max_retries: u32,
        /// Wait up to this many seconds for the task to finish and print it.
        #[arg(long, value_name = "SECS")]
        wait: Option<u64>,
        #[arg(long)]
        json: bool,
    },
    /// Tasks, newest first.
    List {
        #[arg(long)]
        json: bool,
        #[arg(long, default_value_t = 50, value_name = "N")]
        limit: usize,
    },
    /// One task with its prompt and result.
    Show {
        id: String,
        #[arg(long)]
        json: bool,
    },
    /// A task's log lines.
    Logs {
        id: String,
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Args)]
pub struct WorkerArgs {
    #[command(flatten)]
    pub redis: RedisOpts,
    /// Only take tasks of this provider (default: every provider whose CLI is installed).
    #[arg(long)]
    pub provider: Option<String>,
    /// Process at most one task, then leave.
    #[arg(long)]
    pub once: bool,
    /// With --once: wait up to this many seconds for a task to appear.
    #[arg(long, default_value_t = 0, value_name = "SECS")]
    pub wait: u64,
    /// Agent id in the registry (default w-<host>-<pid>).
    #[arg(long)]
    pub id: Option<String>,
    /// Path of the agent CLI to run (default: the provider's name on PATH).
    #[arg(long, value_name = "PATH")]
    pub bin: Option<PathBuf>,
    /// Kill a run after this many seconds.
    #[arg(long, default_value_t = 1800, value_name = "SECS")]
    pub task_timeout: u64,
    /// Heartbeat interval.
    #[arg(long, default_value_t = 5000, value_name = "MS")]
    pub heartbeat_ms: u64,
    /// Where this worker runs, as shown in the registry (local or k8s).
    #[arg(long, env = "AIMUX_WORKER_LOCATION", default_value = "local")]
    pub location: String,
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct McpArgs {
    #[command(flatten)]
    pub redis: RedisOpts,
    #[command(subcommand)]
    pub command: Option<McpCommand>,
}

#[derive(Debug, Subcommand)]
pub enum McpCommand {
    /// Add `aimux mcp` to a client's MCP configuration (shows the exact change first).
    Install {
        /// The client: claude (Claude Code, ~/.claude.json mcpServers).
        client: String,
        /// Apply without asking.
        #[arg(long)]
        yes: bool,
        /// The config file to edit (default: $HOME/.claude.json).
        #[arg(long, value_name = "FILE")]
        config: Option<PathBuf>,
        /// The server name in mcpServers.
        #[arg(long, default_value = "aimux")]
        name: String,
    },
}

#[derive(Debug, Args)]
pub struct InfraArgs {
    #[command(flatten)]
    pub redis: RedisOpts,
    #[command(subcommand)]
    pub command: InfraCommand,
}

#[derive(Debug, Subcommand)]
pub enum InfraCommand {
    /// Coordination (Redis ping, latency), compute and workloads.
    Health {
        #[arg(long)]
        json: bool,
    },
    /// Set the number of worker pods for a provider and wait until they are ready.
    Scale {
        #[arg(long)]
        provider: String,
        replicas: u32,
        /// Seconds to wait for readiness.
        #[arg(long, default_value_t = 180, value_name = "SECS")]
        wait: u64,
    },
    /// Copy local agent credentials into a Kubernetes Secret — only after you confirm the
    /// exact list (or pass --yes).
    Credentials {
        #[arg(long)]
        yes: bool,
    },
}

fn config_doc(ctx: &InfraCtx) -> Option<Value> {
    let text = std::fs::read_to_string(ctx.dirs.config_path()).ok()?;
    serde_saphyr::from_str::<Value>(&text).ok()
}

/// `redis.url` / `redis.prefix` from the config file, if set.
fn config_redis(ctx: &InfraCtx) -> (Option<String>, Option<String>) {
    let Some(doc) = config_doc(ctx) else {
        return (None, None);
    };
    let get = |k: &str| {
        doc.get("redis")
            .and_then(|r| r.get(k))
            .and_then(Value::as_str)
            .map(str::to_string)
    };
    (get("url"), get("prefix"))
}

/// The Redis URL and key prefix to use.
pub fn redis_target(ctx: &InfraCtx, opts: &RedisOpts) -> (String, String) {
    let (url, prefix) = config_redis(ctx);
    (
        opts.redis
            .clone()
            .or(url)
            .unwrap_or_else(|| DEFAULT_REDIS_URL.to_string()),
        prefix.unwrap_or_else(|| schema::DEFAULT_PREFIX.to_string()),
    )
}

pub(crate) async fn connect(ctx: &InfraCtx, opts: &RedisOpts) -> Result<Coordinator> {
    let (url, prefix) = redis_target(ctx, opts);
    Coordinator::connect(&url, &prefix).await.with_context(|| {
        "cannot reach the coordination Redis — pass --redis URL, set AIMUX_REDIS_URL, or set redis.url in the config".to_string()
    })
}

pub(crate) fn rt<F: std::future::Future<Output = Result<ExitCode>>>(f: F) -> Result<ExitCode> {
    aimux_infra::block_on(f).context("cannot start the async runtime")?
}

// --------------------------------------------------------------------------- task

pub fn task(ctx: InfraCtx, args: &TaskArgs) -> Result<ExitCode> {
    rt(async move {
        let coord = connect(&ctx, &args.redis).await?;
        match &args.command {
            TaskCommand::Submit {
                provider,
                prompt,
                dir,
                role,
                max_retries,
                wait,
                json,
            } => {
                let dir = match dir {
                    Some(d) => Some(
                        std::path::absolute(d)
                            .with_context(|| format!("bad --dir {}", d.display()))?
                            .display()
                            .to_string(),
                    ),
                    None => None,
                };
                let t = coord
                    .submit(&NewTask {
                        provider: provider.clone(),
                        prompt: prompt.clone(),
                        dir,
                        role: role.clone(),
                        max_retries: *max_retries,
                    })
                    .await?;
                let t = match wait {
                    Some(secs) => coord.wait_for(&t.id, Duration::from_secs(*secs)).await?,
                    None => t,
                };
                if *json {
                    println!("{}", serde_json::to_string_pretty(&t)?);
                } else if wait.is_some() {
                    print!("{}", show_text(&t));
                } else {
                    println!("{} queued for {} ({})", t.id, t.provider, t.status);
                }
                Ok(if wait.is_some() && t.status != schema::status::DONE {
                    ExitCode::from(1)
                } else {
                    ExitCode::SUCCESS
                })
            }
            TaskCommand::List { json, limit } => {
                let tasks = coord.list_tasks(*limit).await?;
                if *json {
                    println!("{}", serde_json::to_string_pretty(&tasks)?);
                    return Ok(ExitCode::SUCCESS);
                }
                if tasks.is_empty() {
                    println!(
                        "no tasks (submit one with `aimux task submit --provider claude --prompt TEXT`)"
                    );
                    return Ok(ExitCode::SUCCESS);
                }
                let now = now_ms();
                let rows: Vec<Vec<String>> = tasks
                    .iter()
                    .map(|t| {
                        vec![
                            t.id.clone(),
                            t.status.clone(),
                            t.provider.clone(),
                            t.created_at.map_or("-".into(), |c| age(now - c)),
                            t.assignee.clone().unwrap_or_else(|| "-".into()),
                            cost_text(t),
                            summary(
                                t.result
                                    .as_deref()
                                    .or(t.error.as_deref())
                                    .unwrap_or(&t.prompt),
                                50,
                            ),
                        ]
                    })
                    .collect();
                print!(
                    "{}",
                    table::render(
                        &[
                            "ID",
                            "STATUS",
                            "PROVIDER",
                            "AGE",
                            "WORKER",
                            "COST",
                            "RESULT / PROMPT"
                        ],
                        &rows,
                        &[5]
                    )
                );
                Ok(ExitCode::SUCCESS)
            }
            TaskCommand::Show { id, json } => {
                let t = coord.task(id).await?;
                if *json {
                    println!("{}", serde_json::to_string_pretty(&t)?);
                } else {
                    print!("{}", show_text(&t));
                }
                Ok(ExitCode::SUCCESS)
            }
            TaskCommand::Logs { id, json } => {
                let lines = coord.logs(id).await?;
                if *json {
                    let v: Vec<Value> = lines
                        .iter()
                        .map(|l| match l.split_once(' ') {
                            Some((ts, rest)) if ts.parse::<i64>().is_ok() => {
                                json!({"ts_ms": ts.parse::<i64>().unwrap_or(0), "line": rest})
                            }
                            _ => json!({"ts_ms": null, "line": l}),
                        })
                        .collect();
                    println!("{}", serde_json::to_string_pretty(&v)?);
                } else {
                    for l in &lines {
                        match l.split_once(' ') {
                            Some((ts, rest)) if ts.parse::<i64>().is_ok() => {
                                println!("{} {rest}", fmt_ms(ts.parse::<i64>().unwrap_or(0)))
                            }
                            _ => println!("{l}"),
                        }
                    }
                }
                Ok(ExitCode::SUCCESS)
            }
        }
    })
}

fn fmt_ms(ms: i64) -> String {
    chrono::DateTime::from_timestamp_millis(ms)
        .map(|t| t.format("%Y-%m-%d %H:%M:%S%.3f").to_string())
        .unwrap_or_else(|| ms.to_string())
}

pub(crate) fn age(ms: i64) -> String {
    let s = ms.max(0) / 1000;
    match s {
        0..60 => format!("{s}s"),
        60..3600 => format!("{}m", s / 60),
        3600..86400 => format!("{}h", s / 3600),
        _ => format!("{}d", s / 86400),
    }
}

fn cost_text(t: &TaskRecord) -> String {
    match (t.cost_usd, &t.tokens) {
        (Some(c), _) => format!("${c:.4}"),
        (None, Some(_)) => "unknown".into(),
        (None, None) => "-".into(),
    }
}

fn summary(s: &str, n: usize) -> String {
    let one: String = s.split_whitespace().collect::<Vec<_>>().join(" ");
    if one.chars().count() > n {
        format!("{}…", one.chars().take(n - 1).collect::<String>())
    } else {
        one
    }
}

fn show_text(t: &TaskRecord) -> String {
    let mut s = String::new();
    let mut line = |k: &str, v: String| s.push_str(&format!("{k:<12} {v}\n"));
    line("id", t.id.clone());
    line("status", t.status.clone());
    line("provider", t.provider.clone());
    if let Some(r) = &t.role {
        line("role", r.clone());
    }
    if let Some(d) = &t.dir {
        line("dir", d.clone());
    }
    line("worker", t.assignee.clone().unwrap_or_else(|| "-".into()));
    for (k, v) in [
        ("created", t.created_at),
        ("claimed", t.claimed_at),
        ("started", t.started_at),
        ("finished", t.finished_at),
    ] {
        if let Some(v) = v {
            line(k, fmt_ms(v));
        }
    }
    line("retries", format!("{}/{}", t.retries, t.max_retries));
    if let Some(m) = &t.model {
        line("model", m.clone());
    }
    if let Some(tok) = &t.tokens {
        line(
            "tokens",
            format!(
                "input {} output {} cache read {} cache write {}",
                tok.input, tok.output, tok.cache_read, tok.cache_write
            ),
        );
    }
    line("cost", cost_text(t));
    if let Some(c) = t.reported_cost_usd {
        line("agent cost", format!("${c:.4} (as reported by the agent)"));
    }
    s.push_str("prompt:\n");
    for l in t.prompt.lines() {
        s.push_str(&format!("  {l}\n"));
    }
    if let Some(r) = &t.result {
        s.push_str("result:\n");
        for l in r.lines() {
            s.push_str(&format!("  {l}\n"));
        }
    }
    if let Some(e) = &t.error {
        s.push_str("error:\n");
        for l in e.lines() {
            s.push_str(&format!("  {l}\n"));
        }
    }
    s
}

// ------------------------------------------------------------------------- worker

pub fn worker(ctx: InfraCtx, args: &WorkerArgs) -> Result<ExitCode> {
    let providers = match &args.provider {
        Some(p) if !schema::PROVIDERS.contains(&p.as_str()) => {
            bail!(
                "unknown provider '{p}' (known: {})",
                schema::PROVIDERS.join(", ")
            )
        }
        Some(p) => vec![p.clone()],
        None => {
            if args.bin.is_some() {
                bail!("--bin needs --provider (which CLI it is)");
            }
            let found: Vec<String> = schema::PROVIDERS
                .iter()
                .filter(|p| aimux_infra::worker::which(p).is_some())
                .map(|p| p.to_string())
                .collect();
            if found.is_empty() {
                bail!(
                    "no agent CLI (claude, codex, gemini) on PATH; install one or pass --provider P --bin PATH"
                );
            }
            found
        }
    };
    let mut cfg = aimux_infra::worker::WorkerConfig::new(
        args.id
            .clone()
            .unwrap_or_else(aimux_infra::worker::default_worker_id),
        providers,
    );
    cfg.once = args.once;
    cfg.wait = Duration::from_secs(args.wait);
    cfg.task_timeout = Duration::from_secs(args.task_timeout.max(1));
    cfg.heartbeat = Duration::from_millis(args.heartbeat_ms.max(100));
    cfg.location = args.location.clone();
    if let (Some(p), Some(b)) = (&args.provider, &args.bin) {
        let b = std::path::absolute(b).with_context(|| format!("bad --bin {}", b.display()))?;
        cfg.bins.insert(p.clone(), b);
    }
    let json = args.json;
    rt(async move {
        let coord = connect(&ctx, &args.redis).await?;
        let say = |s: &str| eprintln!("[worker] {s}");
        let shutdown = async {
            let _ = tokio_ctrl_c().await;
        };
        let summary =
            aimux_infra::worker::run_worker(coord, cfg, ctx.prices.clone(), say, shutdown).await?;
        if json {
            println!("{}", serde_json::to_string_pretty(&summary)?);
        } else {
            println!(
                "{}: {} done, {} failed, {} requeued",
                summary.agent,
                summary.done.len(),
                summary.failed.len(),
                summary.requeued.len()
            );
        }
        Ok(
            if summary.failed.is_empty() && summary.requeued.is_empty() {
                ExitCode::SUCCESS
            } else {
                ExitCode::from(1)
            },
        )
    })
}

async fn tokio_ctrl_c() {
    aimux_infra::ctrl_c().await
}

// ---------------------------------------------------------------------------- mcp

pub fn mcp(ctx: InfraCtx, args: &McpArgs) -> Result<ExitCode> {
    match &args.command {
        Some(McpCommand::Install {
            client,
            yes,
            config,
            name,
        }) => install(client, *yes, config.clone(), name, &args.redis),
        None => {
            let (url, prefix) = redis_target(&ctx, &args.redis);
            rt(async move {
                let k = compute(&ctx).await?;
                aimux_infra::mcp::serve_stdio(url, prefix, ctx.prices.clone(), k).await?;
                Ok(ExitCode::SUCCESS)
            })
        }
    }
}

fn install(
    client: &str,
    yes: bool,
    config: Option<PathBuf>,
    name: &str,
    redis: &RedisOpts,
) -> Result<ExitCode> {
    if client != "claude" {
        bail!("unknown MCP client '{client}' (supported: claude)");
    }
    let path = match config {
        Some(p) => p,
        None => {
            let home = std::env::var_os("HOME").context("HOME is not set; pass --config FILE")?;
            PathBuf::from(home).join(".claude.json")
        }
    };
    let exe = std::env::current_exe()
        .context("cannot find the aimux executable")?
        .display()
        .to_string();
    let mut entry = json!({"type": "stdio", "command": exe, "args": ["mcp"], "env": {}});
    if let Some(url) = &redis.redis {
        entry["env"] = json!({"AIMUX_REDIS_URL": url});
    }
    let (mut doc, existed) = match std::fs::read_to_string(&path) {
        Ok(t) => (
            serde_json::from_str::<Value>(&t).with_context(|| {
                format!("{} is not valid JSON; not touching it", path.display())
            })?,
            true,
        ),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => (json!({}), false),
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
    };
    let Some(obj) = doc.as_object_mut() else {
        bail!(
            "{} does not hold a JSON object; not touching it",
            path.display()
        );
    };
    let servers = obj.entry("mcpServers").or_insert_with(|| json!({}));
    let Some(servers) = servers.as_object_mut() else {
        bail!(
            "mcpServers in {} is not an object; not touching it",
            path.display()
        );
    };
    let old = servers.get(name).cloned();
    if old.as_ref() == Some(&entry) {
        println!(
            "{}: mcpServers.{name} is already set up; nothing to change",
            path.display()
        );
        return Ok(ExitCode::SUCCESS);
    }
    println!(
        "{} {} {}:",
        if old.is_some() {
            "Will replace"
        } else {
            "Will add"
        },
        format_args!("mcpServers.{name}"),
        if existed {
            format!("in {}", path.display())
        } else {
            format!("in a new file {}", path.display())
        }
    );
    if let Some(o) = &old {
        println!("- {}", serde_json::to_string(o)?);
    }
    println!("+ \"{name}\": {}", serde_json::to_string_pretty(&entry)?);
    println!("(every other setting in the file is kept as it is)");
    if !yes && !confirm("Apply?", "apply this change")? {
        println!("nothing changed");
        return Ok(ExitCode::from(1));
    }
    servers.insert(name.to_string(), entry);
    let text = serde_json::to_string_pretty(&doc)? + "\n";
    let tmp = path.with_extension("json.aimux-tmp");
    std::fs::write(&tmp, text).with_context(|| format!("cannot write {}", tmp.display()))?;
    std::fs::rename(&tmp, &path).with_context(|| format!("cannot replace {}", path.display()))?;
    println!("updated {}", path.display());
    Ok(ExitCode::SUCCESS)
}

/// Asks `question` on the terminal; only y / yes is consent. Outside a terminal nothing is
/// assumed: the error says to re-run with --yes to `what`.
pub(crate) fn confirm(question: &str, what: &str) -> Result<bool> {
    if !std::io::stdin().is_terminal() {
        bail!("not a terminal: re-run with --yes to {what}");
    }
    print!("{question} [y/N] ");
    std::io::stdout().flush()?;
    let mut answer = String::new();
    std::io::stdin().read_line(&mut answer)?;
    Ok(matches!(answer.trim(), "y" | "Y" | "yes"))
}

// ------------------------------------------------------------------------ compute

/// The `kubernetes:` config section (kubeconfig, context, namespace, image,
/// service_account, cpu, memory, redis_url as seen from pods, secret), if present.
pub fn k8s_config(ctx: &InfraCtx) -> Result<Option<aimux_infra::k8s::K8sConfig>> {
    let Some(doc) = config_doc(ctx) else {
        return Ok(None);
    };
    let Some(k) = doc.get("kubernetes") else {
        return Ok(None);
    };
    let Some(obj) = k.as_object() else {
        bail!(
            "kubernetes: expected a mapping, e.g. `kubernetes: {{namespace: aimux, image: my/worker:1}}`"
        );
    };
    let mut cfg = aimux_infra::k8s::K8sConfig::default();
    for (key, v) in obj {
        let Some(text) = v
            .as_str()
            .map(str::to_string)
            .or_else(|| v.is_number().then(|| v.to_string()))
        else {
            bail!("kubernetes.{key}: expected text, found {v}");
        };
        match key.as_str() {
            "kubeconfig" => cfg.kubeconfig = Some(PathBuf::from(text)),
            "context" => cfg.context = Some(text),
            "namespace" => cfg.namespace = text,
            "image" => cfg.image = text,
            "service_account" => cfg.service_account = Some(text),
            "cpu" => cfg.cpu = Some(text),
            "memory" => cfg.memory = Some(text),
            "redis_url" => cfg.redis_url = text,
            "secret" => cfg.secret_name = text,
            other => bail!(
                "kubernetes.{other}: unknown setting (known: kubeconfig, context, namespace, image, service_account, cpu, memory, redis_url, secret)"
            ),
        }
    }
    Ok(Some(cfg))
}

pub(crate) async fn compute(ctx: &InfraCtx) -> Result<Option<aimux_infra::k8s::K8s>> {
    match k8s_config(ctx)? {
        None => Ok(None),
        Some(cfg) => Ok(Some(
            aimux_infra::k8s::K8s::connect(cfg)
                .await
                .context("kubernetes (config `kubernetes:`)")?,
        )),
    }
}

// ------------------------------------------------------------------------- health

pub fn infra(ctx: InfraCtx, args: &InfraArgs) -> Result<ExitCode> {
    rt(async move {
        match &args.command {
            InfraCommand::Health { json } => {
                let (url, prefix) = redis_target(&ctx, &args.redis);
                let k = compute(&ctx).await?;
                let h = aimux_infra::provider::health_for(&url, &prefix, k).await;
                if *json {
                    println!("{}", serde_json::to_string_pretty(&h)?);
                } else {
                    print!("{}", h.to_text());
                }
                Ok(
                    if h.coordination.ok && (!h.compute.configured || h.compute.ok) {
                        ExitCode::SUCCESS
                    } else {
                        ExitCode::from(1)
                    },
                )
            }
            InfraCommand::Scale {
                provider,
                replicas,
                wait,
            } => {
                if !schema::PROVIDERS.contains(&provider.as_str()) {
                    bail!(
                        "unknown provider '{provider}' (known: {})",
                        schema::PROVIDERS.join(", ")
                    );
                }
                let Some(k) = compute(&ctx).await? else {
                    bail!(
                        "no Kubernetes cluster configured: add a `kubernetes:` section to {} (namespace, image, redis_url, …)",
                        ctx.dirs.config_path().display()
                    );
                };
                let n = i32::try_from(*replicas).context("too many replicas")?;
                let msg = k
                    .scale_workers(provider, n, Duration::from_secs(*wait))
                    .await?;
                println!("{msg}");
                Ok(ExitCode::SUCCESS)
            }
            InfraCommand::Credentials { yes } => {
                let Some(k) = compute(&ctx).await? else {
                    bail!(
                        "no Kubernetes cluster configured: add a `kubernetes:` section to {}",
                        ctx.dirs.config_path().display()
                    );
                };
                let home = std::env::var_os("HOME").map(PathBuf::from);
                let creds = aimux_infra::k8s::local_credentials(
                    &|k| std::env::var(k).ok(),
                    home.as_deref(),
                );
                if creds.is_empty() {
                    println!(
                        "no local credentials found ({}); nothing to copy",
                        aimux_infra::k8s::CREDENTIAL_ENV.join(", ")
                    );
                    return Ok(ExitCode::SUCCESS);
                }
                let yes = *yes;
                let consent = |plan: &str| {
                    print!("{plan}");
                    if yes {
                        return true;
                    }
                    if !std::io::stdin().is_terminal() {
                        eprintln!("not a terminal: re-run with --yes to create the Secret");
                        return false;
                    }
                    print!("Create this Secret? [y/N] ");
                    let _ = std::io::stdout().flush();
                    let mut answer = String::new();
                    let _ = std::io::stdin().read_line(&mut answer);
                    matches!(answer.trim(), "y" | "Y" | "yes")
                };
                if k.provision_credentials(&creds, consent).await? {
                    println!(
                        "created Secret '{}' in namespace '{}'",
                        k.config().secret_name,
                        k.config().namespace
                    );
                    Ok(ExitCode::SUCCESS)
                } else {
                    println!("declined: nothing was copied, no Secret was created");
                    Ok(ExitCode::from(1))
                }
            }
        }
    })
}

/// The infrastructure rows of the health view (TUI `H`): coordination, compute and one row
/// per workload. Redis counts as configured when `redis.url` is in the config or
/// AIMUX_REDIS_URL is set; Kubernetes when the config has a `kubernetes:` section. Blocks
/// for at most a few seconds (connect timeouts); call it from a worker thread.
#[allow(dead_code)] // the lead wires it into the TUI health backend
pub fn infra_backend_health(dirs: &Dirs) -> Vec<aimux_engine::health::BackendHealth> {
    use aimux_engine::health::BackendHealth;
    let ctx = InfraCtx {
        dirs: dirs.clone(),
        prices: PriceTable::bundled(),
    };
    let env_url = std::env::var("AIMUX_REDIS_URL").ok();
    let (cfg_url, _) = config_redis(&ctx);
    let k8s = k8s_config(&ctx);
    let redis_configured = env_url.is_some() || cfg_url.is_some();
    let k8s_configured = matches!(k8s, Ok(Some(_)));
    if !redis_configured && !k8s_configured {
        return vec![
            BackendHealth::not_configured(
                "Redis (coordination)",
                "set `redis: {url: …}` in config.yaml or AIMUX_REDIS_URL",
            ),
            BackendHealth::not_configured(
                "Kubernetes (compute)",
                "set `kubernetes:` in config.yaml",
            ),
        ];
    }
    let opts = RedisOpts { redis: env_url };
    let (url, prefix) = redis_target(&ctx, &opts);
    let h = aimux_infra::block_on(async {
        let compute = match k8s {
            Ok(Some(cfg)) => aimux_infra::k8s::K8s::connect(cfg)
                .await
                .map(Some)
                .map_err(|e| e.to_string()),
            Ok(None) => Ok(None),
            Err(e) => Err(format!("{e:#}")),
        };
        match compute {
            Ok(c) => Ok(aimux_infra::provider::health_for(&url, &prefix, c).await),
            Err(e) => Err(e),
        }
    });
    let layer = |name: &str, l: &aimux_infra::provider::Layer| BackendHealth {
        name: name.to_string(),
        configured: l.configured,
        state: if !l.configured {
            "not configured".into()
        } else if l.ok {
            "ok".into()
        } else {
            "error".into()
        },
        detail: match l.latency_ms {
            Some(ms) => format!("{} ({ms:.1} ms)", l.summary),
            None => l.summary.clone(),
        },
    };
    match h {
        Ok(Ok(h)) => {
            let mut rows = vec![
                layer("Redis (coordination)", &h.coordination),
                layer("Kubernetes (compute)", &h.compute),
            ];
            for w in &h.workloads {
                rows.push(BackendHealth {
                    name: format!("{} {}", w.kind, w.name),
                    configured: true,
                    state: w.phase.clone(),
                    detail: [
                        Some(w.location.clone()),
                        w.current_task.clone(),
                        w.reason.clone(),
                    ]
                    .into_iter()
                    .flatten()
                    .collect::<Vec<_>>()
                    .join(" · "),
                });
            }
            rows
        }
        Ok(Err(e)) => vec![BackendHealth {
            name: "Kubernetes (compute)".into(),
            configured: true,
            state: "error".into(),
            detail: e,
        }],
        Err(e) => vec![BackendHealth {
            name: "infrastructure".into(),
            configured: true,
            state: "error".into(),
            detail: e.to_string(),
        }],
    }
}
