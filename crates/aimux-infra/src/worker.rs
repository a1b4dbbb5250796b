//! The worker loop: the entrypoint a worker pod runs (`aimux worker`), and what runs
//! locally in its place. It registers in the agent registry, heartbeats, claims tasks
//! atomically, runs the agent CLI non-interactively with the task's prompt as an argv
//! argument in the task's directory, and writes the result, tokens and cost back.

use crate::coord::{AgentRecord, Coordinator, FailOutcome, RunRecord, TaskRecord};
use crate::schema;
use aimux_core::TokenUsage;
use aimux_core::pricing::PriceTable;
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use tokio::io::AsyncReadExt;

/// How a worker runs.
#[derive(Debug, Clone)]
pub struct WorkerConfig {
    pub id: String,
    /// Queues to take tasks from, in order.
    pub providers: Vec<String>,
    /// Process at most one task, then leave.
    pub once: bool,
    /// With `once`: how long to wait for a task to appear (zero: look once).
    pub wait: Duration,
    /// Explicit agent binaries (`claude` → path); otherwise looked up on PATH.
    pub bins: BTreeMap<String, PathBuf>,
    pub heartbeat: Duration,
    pub poll: Duration,
    pub task_timeout: Duration,
    /// `local` or `k8s`.
    pub location: String,
}

impl WorkerConfig {
    pub fn new(id: String, providers: Vec<String>) -> WorkerConfig {
        WorkerConfig {
            id,
            providers,
            once: false,
            wait: Duration::ZERO,
            bins: BTreeMap::new(),
            heartbeat: Duration::from_secs(5),
            poll: Duration::from_millis(500),
            task_timeout: Duration::from_secs(1800),
            location: "local".into(),
        }
    }
}

/// What a worker did before it left.
#[derive(Debug, Clone, Default, serde::Serialize)]
pub struct WorkerSummary {
    pub agent: String,
    pub done: Vec<String>,
    pub failed: Vec<String>,
    pub requeued: Vec<String>,
    pub stopped_by_message: bool,
}

/// A default worker id: `w-<host>-<pid>`.
pub fn default_worker_id() -> String {
    format!("w-{}-{}", hostname(), std::process::id())
}

/// The pod name in Kubernetes (so heartbeats can be tied to pods), else the host name.
pub fn hostname() -> String {
    if let Some(pod) = std::env::var(crate::schema::POD_NAME_ENV)
        .ok()
        .filter(|p| !p.is_empty())
    {
        return pod;
    }
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|s| s.trim().to_string())
        .filter(|s| !s.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "host".into())
}

/// The argv of a non-interactive run: the prompt is ONE argv argument (never a shell string).
pub fn agent_argv(provider: &str, prompt: &str) -> Option<Vec<String>> {
    let p = prompt.to_string();
    match provider {
        "claude" => Some(vec![
            "-p".into(),
            p,
            "--output-format".into(),
            "json".into(),
        ]),
        "codex" => Some(vec!["exec".into(), "--json".into(), p]),
        "gemini" => Some(vec!["-p".into(), p, "-o".into(), "json".into()]),
        _ => None,
    }
}

/// Parses an agent's stdout into the result text and token usage per model.
/// `Err` carries the agent's own error message when it reported one.
pub fn parse_output(
    provider: &str,
    stdout: &str,
    codex_model: Option<&str>,
) -> Result<RunRecord, String> {
    match provider {
        "claude" => parse_claude(stdout),
        "gemini" => parse_gemini(stdout),
        "codex" => parse_codex(stdout, codex_model),
        other => Err(format!("unknown provider '{other}'")),
    }
}

fn u(v: Option<&Value>) -> u64 {
    v.and_then(Value::as_u64).unwrap_or(0)
}

/// The last line of stdout that parses as a JSON object (agents may print notices first).
fn last_json_object(stdout: &str) -> Option<Value> {
    if let Ok(v @ Value::Object(_)) = serde_json::from_str::<Value>(stdout.trim()) {
        return Some(v);
    }
    stdout
        .lines()
        .rev()
        .filter_map(|l| serde_json::from_str::<Value>(l.trim()).ok())
        .find(Value::is_object)
}

fn parse_claude(stdout: &str) -> Result<RunRecord, String> {
    let v = last_json_object(stdout)
        .ok_or_else(|| format!("claude printed no JSON result: {}", tail(stdout, 300)))?;
    let mut run = RunRecord {
        result: v
            .get("result")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string(),
        reported_cost_usd: v.get("total_cost_usd").and_then(Value::as_f64),
        ..Default::default()
    };
    // modelUsage: per model, Anthropic convention (input excludes cache).
    if let Some(Value::Object(models)) = v.get("modelUsage") {
        for (model, m) in models {
            run.by_model.insert(
                model.clone(),
                TokenUsage {
                    input: u(m.get("inputTokens")),
                    output: u(m.get("outputTokens")),
                    cache_read: u(m.get("cacheReadInputTokens")),
                    cache_write: u(m.get("cacheCreationInputTokens")),
                },
            );
        }
    }
    if run.by_model.is_empty()
        && let Some(us) = v.get("usage")
    {
        let t = TokenUsage {
            input: u(us.get("input_tokens")),
            output: u(us.get("output_tokens")),
            cache_read: u(us.get("cache_read_input_tokens")),
            cache_write: u(us.get("cache_creation_input_tokens")),
        };
        if !t.is_zero() {
            let model = v
                .get("model")
                .and_then(Value::as_str)
                .unwrap_or("unknown")
                .to_string();
            run.by_model.insert(model, t);
        }
    }
    if v.get("is_error").and_then(Value::as_bool) == Some(true) {
        let sub = v.get("subtype").and_then(Value::as_str).unwrap_or("error");
        return Err(format!("claude reported an error ({sub}): {}", run.result));
    }
    Ok(run)
}

fn parse_gemini(stdout: &str) -> Result<RunRecord, String> {
    let v = last_json_object(stdout)
        .ok_or_else(|| format!("gemini printed no JSON result: {}", tail(stdout, 300)))?;
    if let Some(e) = v.get("error").filter(|e| !e.is_null()) {
        let msg = e
            .get("message")
            .and_then(Value::as_str)
            .map(str::to_string)
            .unwrap_or_else(|| e.to_string());
        return Err(format!("gemini reported an error: {msg}"));
    }
    let mut run = RunRecord {
        result: v
            .get("response")
            .and_then(Value::as_str)
            .unwrap_or("")
            .to_string(),
        ..Default::default()
    };
    if let Some(Value::Object(models)) = v.pointer("/stats/models") {
        for (model, m) in models {
            let t = m.get("tokens");
            let get = |k: &str| u(t.and_then(|t| t.get(k)));
            // Gemini's prompt count includes cached tokens.
            let cached = get("cached");
            let prompt = if t.and_then(|t| t.get("prompt")).is_some() {
                get("prompt")
            } else {
                get("input") + cached
            };
            run.by_model.insert(
                model.clone(),
                TokenUsage {
                    input: prompt.saturating_sub(cached),
                    output: get("candidates") + get("thoughts"),
                    cache_read: cached,
                    cache_write: 0,
                },
            );
        }
    }
    Ok(run)
}

fn parse_codex(stdout: &str, model: Option<&str>) -> Result<RunRecord, String> {
    let mut run = RunRecord::default();
    let mut tokens = TokenUsage::default();
    let mut saw_event = false;
    let mut error = None;
    for line in stdout.lines() {
        let Ok(v) = serde_json::from_str::<Value>(line.trim()) else {
            continue;
        };
        saw_event = true;
        match v.get("type").and_then(Value::as_str) {
            Some("item.completed") => {
                let item = v.get("item");
                let ty = item.and_then(|i| i.get("type")).and_then(Value::as_str);
                if matches!(ty, Some("agent_message") | Some("assistant_message"))
                    && let Some(t) = item.and_then(|i| i.get("text")).and_then(Value::as_str)
                {
                    run.result = t.to_string();
                }
            }
            Some("turn.completed") => {
                if let Some(us) = v.get("usage") {
                    // OpenAI convention: input includes cached tokens; output includes reasoning.
                    let cached = u(us.get("cached_input_tokens"));
                    tokens.input += u(us.get("input_tokens")).saturating_sub(cached);
                    tokens.cache_read += cached;
                    tokens.output += u(us.get("output_tokens"));
                }
            }
            Some("turn.failed") | Some("error") => {
                error = Some(
                    v.pointer("/error/message")
                        .or_else(|| v.get("message"))
                        .and_then(Value::as_str)
                        .unwrap_or("codex reported an error")
                        .to_string(),
                );
            }
            _ => {}
        }
    }
    if !saw_event {
        // plain-text mode: the final message is stdout
        run.result = stdout.trim().to_string();
    }
    if !tokens.is_zero() {
        run.by_model
            .insert(model.unwrap_or("unknown").to_string(), tokens);
    }
    match error {
        Some(e) => Err(format!("codex: {e}")),
        None => Ok(run),
    }
}

/// The `model = "..."` at the top level of `$HOME/.codex/config.toml`, if any.
pub fn codex_configured_model() -> Option<String> {
    let home = std::env::var_os("CODEX_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".codex")))?;
    let text = std::fs::read_to_string(home.join("config.toml")).ok()?;
    for line in text.lines() {
        let l = line.trim();
        if l.starts_with('[') {
            break;
        }
        if let Some(rest) = l.strip_prefix("model")
            && let Some(val) = rest.trim_start().strip_prefix('=')
        {
            return Some(val.trim().trim_matches('"').to_string());
        }
    }
    None
}

fn tail(s: &str, n: usize) -> String {
    let s = s.trim();
    let start = s.char_indices().rev().nth(n).map_or(0, |(i, _)| i);
    s.get(start..).unwrap_or(s).to_string()
}

/// Finds an executable on PATH.
pub fn which(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(name))
        .find(|p| p.is_file())
}

struct Shared {
    status: &'static str,
    current: Option<String>,
}

/// Runs the worker until `once` is satisfied, a `stop` message arrives, or `shutdown`
/// resolves. `say` receives human-readable progress lines.
pub async fn run_worker(
    coord: Coordinator,
    cfg: WorkerConfig,
    prices: PriceTable,
    say: impl Fn(&str) + Send + Sync,
    shutdown: impl std::future::Future<Output = ()> + Send,
) -> crate::coord::Result<WorkerSummary> {
    let provider_label = if cfg.providers.len() == 1 {
        cfg.providers.first().cloned()
    } else {
        None
    };
    coord
        .register(&AgentRecord {
            id: cfg.id.clone(),
            provider: provider_label,
            host: Some(hostname()),
            pid: Some(std::process::id()),
            status: Some("idle".into()),
            location: Some(cfg.location.clone()),
            ..Default::default()
        })
        .await?;
    say(&format!(
        "worker {} registered (queues: {})",
        cfg.id,
        cfg.providers.join(", ")
    ));
    let shared = Arc::new(Mutex::new(Shared {
        status: "idle",
        current: None,
    }));
    let hb = {
        let coord = coord.clone();
        let shared = shared.clone();
        let id = cfg.id.clone();
        let every = cfg.heartbeat;
        tokio::spawn(async move {
            let mut tick = tokio::time::interval(every);
            loop {
                tick.tick().await;
                let (st, cur) = match shared.lock() {
                    Ok(s) => (s.status, s.current.clone()),
                    Err(_) => ("idle", None),
                };
                let _ = coord.heartbeat(&id, st, cur.as_deref()).await;
            }
        })
    };
    let result = worker_loop(&coord, &cfg, &prices, &say, &shared, shutdown).await;
    hb.abort();
    let _ = coord.deregister(&cfg.id).await;
    say(&format!("worker {} left the registry", cfg.id));
    result
}

async fn worker_loop(
    coord: &Coordinator,
    cfg: &WorkerConfig,
    prices: &PriceTable,
    say: &(impl Fn(&str) + Send + Sync),
    shared: &Arc<Mutex<Shared>>,
    shutdown: impl std::future::Future<Output = ()> + Send,
) -> crate::coord::Result<WorkerSummary> {
    let mut summary = WorkerSummary {
        agent: cfg.id.clone(),
        ..Default::default()
    };
    let providers: Vec<&str> = cfg.providers.iter().map(String::as_str).collect();
    let started = Instant::now();
    tokio::pin!(shutdown);
    loop {
        for m in coord.take_messages(&cfg.id).await? {
            if m.kind == "stop" {
                say(&format!("stop requested by {}", m.from));
                summary.stopped_by_message = true;
                return Ok(summary);
            }
            say(&format!("message from {}: {}", m.from, m.text));
        }
        let claimed = coord.claim(&cfg.id, &providers).await?;
        let Some(task) = claimed else {
            if cfg.once && started.elapsed() >= cfg.wait {
                say("no pending task");
                return Ok(summary);
            }
            tokio::select! {
                _ = &mut shutdown => return Ok(summary),
                _ = tokio::time::sleep(cfg.poll) => {}
            }
            continue;
        };
        if let Ok(mut s) = shared.lock() {
            s.status = "busy";
            s.current = Some(task.id.clone());
        }
        let _ = coord.heartbeat(&cfg.id, "busy", Some(&task.id)).await;
        say(&format!("claimed {} ({})", task.id, task.provider));
        let outcome = run_task(coord, cfg, prices, &task).await?;
        match outcome {
            TaskEnd::Done => summary.done.push(task.id.clone()),
            TaskEnd::Failed(FailOutcome::Requeued) => summary.requeued.push(task.id.clone()),
            TaskEnd::Failed(_) => summary.failed.push(task.id.clone()),
        }
        say(&format!("{} → {:?}", task.id, outcome));
        if let Ok(mut s) = shared.lock() {
            s.status = "idle";
            s.current = None;
        }
        let _ = coord.heartbeat(&cfg.id, "idle", None).await;
        if cfg.once {
            return Ok(summary);
        }
    }
}

#[derive(Debug)]
enum TaskEnd {
    Done,
    Failed(FailOutcome),
}

async fn run_task(
    coord: &Coordinator,
    cfg: &WorkerConfig,
    prices: &PriceTable,
    task: &TaskRecord,
) -> crate::coord::Result<TaskEnd> {
    let fail = |msg: String| async move {
        let o = coord.fail(&task.id, &cfg.id, &msg).await?;
        Ok::<_, crate::coord::CoordError>(TaskEnd::Failed(o))
    };
    let Some(argv) = agent_argv(&task.provider, &task.prompt) else {
        return fail(format!("no way to run provider '{}'", task.provider)).await;
    };
    let bin = cfg
        .bins
        .get(&task.provider)
        .cloned()
        .or_else(|| which(&task.provider));
    let Some(bin) = bin else {
        return fail(format!(
            "the {} CLI is not installed on this worker (not on PATH)",
            task.provider
        ))
        .await;
    };
    let dir = match &task.dir {
        Some(d) if !Path::new(d).is_dir() => {
            return fail(format!("directory {d} does not exist on this worker")).await;
        }
        Some(d) => PathBuf::from(d),
        None => std::env::current_dir().unwrap_or_else(|_| PathBuf::from("/")),
    };
    if !coord.start(&task.id, &cfg.id).await? {
        coord
            .log(
                &task.id,
                &format!("{} lost the claim before starting", cfg.id),
            )
            .await?;
        return Ok(TaskEnd::Failed(FailOutcome::Ignored));
    }
    let shown: Vec<String> = argv
        .iter()
        .map(|a| {
            if a == &task.prompt {
                "<prompt>".to_string()
            } else {
                a.clone()
            }
        })
        .collect();
    coord
        .log(
            &task.id,
            &format!(
                "running {} {} in {}",
                bin.display(),
                shown.join(" "),
                dir.display()
            ),
        )
        .await?;
    let mut cmd = tokio::process::Command::new(&bin);
    cmd.args(&argv)
        .current_dir(&dir)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .kill_on_drop(true)
        .env("AIMUX_TASK_ID", &task.id)
        .env("AIMUX_WORKER_ID", &cfg.id);
    let mut child = match cmd.spawn() {
        Ok(c) => c,
        Err(e) => return fail(format!("cannot start {}: {e}", bin.display())).await,
    };
    let mut out = child.stdout.take();
    let mut err = child.stderr.take();
    let read_out = async {
        let mut s = Vec::new();
        if let Some(o) = out.as_mut() {
            let _ = o.read_to_end(&mut s).await;
        }
        s
    };
    let read_err = async {
        let mut s = Vec::new();
        if let Some(e) = err.as_mut() {
            let _ = e.read_to_end(&mut s).await;
        }
        s
    };
    let waited = tokio::time::timeout(cfg.task_timeout, async {
        let (o, e, st) = tokio::join!(read_out, read_err, child.wait());
        (o, e, st)
    })
    .await;
    let (stdout, stderr, status) = match waited {
        Ok((o, e, st)) => (o, e, st),
        Err(_) => {
            let _ = child.kill().await;
            return fail(format!("timed out after {}s", cfg.task_timeout.as_secs())).await;
        }
    };
    let stdout = String::from_utf8_lossy(&stdout).to_string();
    let stderr = String::from_utf8_lossy(&stderr).to_string();
    for l in stderr.lines().filter(|l| !l.trim().is_empty()).take(50) {
        coord.log(&task.id, &format!("stderr: {l}")).await?;
    }
    let code = status.as_ref().ok().and_then(|s| s.code());
    coord
        .log(
            &task.id,
            &format!(
                "exit {}",
                code.map_or("by signal".to_string(), |c| c.to_string())
            ),
        )
        .await?;
    let codex_model = if task.provider == "codex" {
        codex_configured_model()
    } else {
        None
    };
    let parsed = parse_output(&task.provider, &stdout, codex_model.as_deref());
    let ok_exit = status.as_ref().map(|s| s.success()).unwrap_or(false);
    match parsed {
        Ok(mut run) if ok_exit => {
            run.price(prices);
            coord.add_usage(&cfg.id, &run, true).await?;
            if coord.complete(&task.id, &cfg.id, &run).await? {
                coord.log(&task.id, "done").await?;
                Ok(TaskEnd::Done)
            } else {
                coord
                    .log(&task.id, "result not written: the task is no longer ours")
                    .await?;
                Ok(TaskEnd::Failed(FailOutcome::Ignored))
            }
        }
        other => {
            let (run, parse_err) = match other {
                Ok(run) => (Some(run), None),
                Err(e) => (None, Some(e)),
            };
            let msg = if ok_exit {
                parse_err.unwrap_or_else(|| "the agent produced no result".into())
            } else {
                let mut m = format!(
                    "{} exited with {}",
                    task.provider,
                    code.map_or("a signal".to_string(), |c| c.to_string())
                );
                if !stderr.trim().is_empty() {
                    m.push_str(&format!(": {}", tail(&stderr, 500)));
                }
                // the agent's own error message (e.g. Claude's is_error result), if it printed one
                if let Some(e) = parse_err.filter(|_| !stdout.trim().is_empty()) {
                    m.push_str(&format!(" — {e}"));
                }
                m
            };
            match run {
                Some(mut run) => {
                    // a failed run still cost tokens
                    run.price(prices);
                    coord.record_run_usage(&task.id, &run).await?;
                    coord.add_usage(&cfg.id, &run, false).await?;
                }
                None => {
                    coord
                        .add_usage(&cfg.id, &RunRecord::default(), false)
                        .await?
                }
            }
            fail(msg).await
        }
    }
}

/// Which queues a worker for `provider` (or every provider) serves.
pub fn queues_for(provider: Option<&str>) -> Vec<String> {
    match provider {
        Some(p) => vec![p.to_string()],
        None => schema::PROVIDERS.iter().map(|s| s.to_string()).collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn prompt_is_one_argv_argument() {
        let p = "say \"hi\"; rm -rf / && echo $HOME";
        for prov in ["claude", "codex", "gemini"] {
            let a = agent_argv(prov, p).expect("known");
            assert_eq!(a.iter().filter(|x| x.as_str() == p).count(), 1, "{prov}");
        }
        assert_eq!(agent_argv("opencode", p), None);
    }

    #[test]
    fn claude_result_with_model_usage() {
        let out = r#"{"type":"result","subtype":"success","is_error":false,"result":"Hello there","total_cost_usd":0.0123,"usage":{"input_tokens":3,"output_tokens":9},"modelUsage":{"claude-sonnet-4-5":{"inputTokens":10,"outputTokens":20,"cacheReadInputTokens":30,"cacheCreationInputTokens":40,"costUSD":0.01},"claude-haiku-4-5":{"inputTokens":1,"outputTokens":2,"cacheReadInputTokens":0,"cacheCreationInputTokens":0}}}"#;
        let r = parse_output("claude", out, None).expect("ok");
        assert_eq!(r.result, "Hello there");
        assert_eq!(r.reported_cost_usd, Some(0.0123));
        assert_eq!(r.by_model.len(), 2);
        let s = r.by_model.get("claude-sonnet-4-5").expect("sonnet");
        assert_eq!(
            (s.input, s.output, s.cache_read, s.cache_write),
            (10, 20, 30, 40)
        );
        assert_eq!(r.main_model(), Some("claude-sonnet-4-5"));
    }

    #[test]
    fn claude_error_result_is_an_error() {
        let out = "notice\n{\"type\":\"result\",\"subtype\":\"error_during_execution\",\"is_error\":true,\"result\":\"API Error: 500\"}";
        let e = parse_output("claude", out, None).expect_err("error");
        assert!(e.contains("API Error: 500"), "{e}");
        assert!(parse_output("claude", "not json at all", None).is_err());
    }

    #[test]
    fn gemini_prompt_includes_cache() {
        let out = r#"{"response":"hi","stats":{"models":{"gemini-2.5-pro":{"tokens":{"prompt":100,"candidates":7,"total":120,"cached":40,"thoughts":13,"tool":0}}}}}"#;
        let r = parse_output("gemini", out, None).expect("ok");
        let t = r.by_model.get("gemini-2.5-pro").expect("model");
        assert_eq!((t.input, t.cache_read, t.output), (60, 40, 20));
        assert_eq!(r.result, "hi");
    }

    #[test]
    fn codex_events_sum_turns() {
        let out = "{\"type\":\"thread.started\",\"thread_id\":\"x\"}\n{\"type\":\"item.completed\",\"item\":{\"id\":\"i0\",\"type\":\"agent_message\",\"text\":\"done it\"}}\n{\"type\":\"turn.completed\",\"usage\":{\"input_tokens\":50,\"cached_input_tokens\":20,\"output_tokens\":5}}\n";
        let r = parse_output("codex", out, Some("gpt-5-codex")).expect("ok");
        assert_eq!(r.result, "done it");
        let t = r.by_model.get("gpt-5-codex").expect("model");
        assert_eq!((t.input, t.cache_read, t.output), (30, 20, 5));
        let e = parse_output(
            "codex",
            "{\"type\":\"turn.failed\",\"error\":{\"message\":\"boom\"}}",
            None,
        )
        .expect_err("failed");
        assert!(e.contains("boom"));
    }
}
