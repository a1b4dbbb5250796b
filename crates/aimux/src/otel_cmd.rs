//! `aimux serve` (engine + OTLP receiver, headless) and `aimux export` (a session as an OTLP
//! trace to MLflow or any OTLP backend, or as JSONL).
//!
//! Settings come from `$AIMUX_HOME/config.yaml`:
//!
//! ```yaml
//! otel:
//!   listen: 127.0.0.1:4318
//!   allow_remote: false        # a non-loopback listen address also needs a token
//!   token: "…"                 # or AIMUX_OTEL_TOKEN
//!   log_prompts: false         # keep prompt/response text from telemetry
//!   memory_budget_bytes: 67108864
//!   max_body_bytes: 8388608
//! export:
//!   endpoint: http://127.0.0.1:5000
//!   headers: {authorization: "Bearer …"}
//!   insecure: false
//!   mlflow: {experiment_id: "1"}
//! ```

use crate::commands::Context;
use aimux_engine::catalog;
use aimux_engine::live::LiveEngine;
use aimux_engine::otlp::export::{ExportConfig, send_trace, write_jsonl};
use aimux_engine::otlp::server::{DEFAULT_LISTEN, Receiver, ReceiverConfig, stop_requested};
use aimux_engine::otlp::store::{TelemetryConfig, TelemetryStore};
use aimux_engine::trace::trace;
use anyhow::{Context as _, Result, bail};
use serde_json::Value;
use std::net::SocketAddr;
use std::path::Path;
use std::process::ExitCode;
use std::sync::Arc;
use std::time::{Duration, Instant};

#[derive(Debug, Default, clap::Args)]
pub struct ServeArgs {
    /// Address of the OTLP/HTTP receiver (default: otel.listen or 127.0.0.1:4318).
    #[arg(long, value_name = "ADDR:PORT")]
    pub otel_listen: Option<String>,
    /// Allow a non-loopback listen address (needs a token too).
    #[arg(long)]
    pub otel_allow_remote: bool,
    /// Bearer token every request must carry.
    #[arg(
        long,
        env = "AIMUX_OTEL_TOKEN",
        hide_env_values = true,
        value_name = "TOKEN"
    )]
    pub otel_token: Option<String>,
    /// Memory budget for stored telemetry, in bytes.
    #[arg(long, value_name = "BYTES")]
    pub otel_budget: Option<usize>,
    /// Largest accepted request body, in bytes (larger → 413).
    #[arg(long, value_name = "BYTES")]
    pub otel_max_body: Option<usize>,
    /// Keep prompt and response text from telemetry (shown by /debug?events=1).
    #[arg(long)]
    pub log_prompts: bool,
    /// Engine refresh interval, in milliseconds.
    #[arg(long, default_value_t = 2000, value_name = "MS")]
    pub interval_ms: u64,
    /// Run the receiver only (no process/session refresh loop).
    #[arg(long)]
    pub no_engine: bool,
}

#[derive(Debug, Default, clap::Args)]
pub struct ExportArgs {
    /// Session id or a unique prefix of it.
    pub session: String,
    /// Send the session as an OTLP trace (protobuf over HTTP).
    #[arg(long, required_unless_present = "jsonl")]
    pub otlp: bool,
    /// Write $AIMUX_HOME/exports/<session>.jsonl (one line per turn).
    #[arg(long)]
    pub jsonl: bool,
    /// OTLP endpoint (base URL or …/v1/traces); default export.endpoint.
    #[arg(long, value_name = "URL")]
    pub endpoint: Option<String>,
    /// MLflow experiment id (sent as x-mlflow-experiment-id); default export.mlflow.experiment_id.
    #[arg(long, value_name = "ID")]
    pub experiment_id: Option<String>,
    /// Extra header NAME=VALUE (repeatable), added to export.headers.
    #[arg(long = "header", value_name = "NAME=VALUE")]
    pub headers: Vec<String>,
    /// Do not verify TLS certificates.
    #[arg(long)]
    pub insecure: bool,
    /// Print the result as JSON.
    #[arg(long)]
    pub json: bool,
}

/// The `otel` and `export` sections of config.yaml (config.rs validates the rest).
fn config_section(path: &Path, name: &str) -> Result<serde_json::Map<String, Value>> {
    let text = match std::fs::read_to_string(path) {
        Ok(t) => t,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Default::default()),
        Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
    };
    if text.trim().is_empty() {
        return Ok(Default::default());
    }
    let doc: Value = serde_saphyr::from_str(&text)
        .map_err(|e| anyhow::anyhow!("{}: not valid YAML: {e}", path.display()))?;
    match doc.get(name) {
        None | Some(Value::Null) => Ok(Default::default()),
        Some(Value::Object(m)) => Ok(m.clone()),
        Some(other) => bail!(
            "{}: `{name}` must be a mapping, found {other}",
            path.display()
        ),
    }
}

fn get_str(m: &serde_json::Map<String, Value>, k: &str) -> Option<String> {
    match m.get(k) {
        Some(Value::String(s)) => Some(s.clone()),
        Some(Value::Number(n)) => Some(n.to_string()),
        _ => None,
    }
}

fn get_bool(m: &serde_json::Map<String, Value>, k: &str) -> Result<bool> {
    match m.get(k) {
        None | Some(Value::Null) => Ok(false),
        Some(Value::Bool(b)) => Ok(*b),
        Some(other) => bail!("`{k}` must be true or false, found {other}"),
    }
}

fn get_usize(m: &serde_json::Map<String, Value>, k: &str) -> Result<Option<usize>> {
    match m.get(k) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => n
            .as_u64()
            .and_then(|v| usize::try_from(v).ok())
            .map(Some)
            .ok_or_else(|| anyhow::anyhow!("`{k}` must be a positive number of bytes, found {n}")),
        Some(other) => bail!("`{k}` must be a number of bytes, found {other}"),
    }
}

/// The receiver's settings from flags and the `otel:` section of config.yaml.
fn receiver_settings(ctx: &Context, args: &ServeArgs) -> Result<(ReceiverConfig, TelemetryConfig)> {
    let otel = config_section(&ctx.dirs.config_path(), "otel").context("otel settings")?;
    let listen_text = args
        .otel_listen
        .clone()
        .or_else(|| get_str(&otel, "listen"))
        .unwrap_or_else(|| DEFAULT_LISTEN.to_string());
    let listen: SocketAddr = listen_text.parse().with_context(|| {
        format!("--otel-listen '{listen_text}' is not ADDR:PORT (e.g. 127.0.0.1:4318)")
    })?;
    let mut rcfg = ReceiverConfig {
        listen,
        allow_remote: args.otel_allow_remote || get_bool(&otel, "allow_remote")?,
        token: args
            .otel_token
            .clone()
            .or_else(|| get_str(&otel, "token"))
            .filter(|t| !t.trim().is_empty()),
        ..ReceiverConfig::default()
    };
    if let Some(b) = args.otel_max_body.or(get_usize(&otel, "max_body_bytes")?) {
        rcfg.max_body = b;
    }
    let mut tcfg = TelemetryConfig {
        log_prompts: args.log_prompts || get_bool(&otel, "log_prompts")?,
        ..TelemetryConfig::default()
    };
    if let Some(b) = args
        .otel_budget
        .or(get_usize(&otel, "memory_budget_bytes")?)
    {
        tcfg.budget_bytes = b;
    }
    Ok((rcfg, tcfg))
}

/// The dashboard's in-process receiver, configured like `aimux serve` without flags.
/// A receiver that cannot start (the port is taken, a bad setting) is reported, not
/// fatal: the dashboard works from session files alone.
pub fn dashboard_receiver(ctx: &Context) -> Result<(Receiver, Arc<TelemetryStore>), String> {
    let args = ServeArgs::default();
    let (rcfg, tcfg) = receiver_settings(ctx, &args).map_err(|e| format!("{e:#}"))?;
    let store = Arc::new(TelemetryStore::new(tcfg));
    let receiver = Receiver::start(rcfg, store.clone()).map_err(|e| e.to_string())?;
    Ok((receiver, store))
}

pub fn serve(ctx: Context, args: &ServeArgs) -> Result<ExitCode> {
    let (rcfg, tcfg) = receiver_settings(&ctx, args)?;
    let store = Arc::new(TelemetryStore::new(tcfg));
    let receiver = Receiver::start(rcfg, store.clone()).map_err(anyhow::Error::msg)?;
    let addr = receiver.local_addr();
    println!(
        "aimux serve: OTLP/HTTP receiver on http://{addr} (POST /v1/logs /v1/traces /v1/metrics; GET /debug, /debug/sessions, /debug/agents)"
    );
    use std::io::Write as _;
    let _ = std::io::stdout().flush();

    let interval = Duration::from_millis(args.interval_ms.max(100));
    let mut engine = (!args.no_engine).then(|| {
        let mut e = LiveEngine::new(ctx.dirs.home.clone(), ctx.index, ctx.prices);
        e.set_telemetry(store.clone());
        e
    });
    let mut next = Instant::now();
    while !stop_requested() {
        if Instant::now() >= next {
            if let Some(e) = engine.as_mut() {
                let snapshot = e.refresh();
                receiver.set_agents(serde_json::to_value(&snapshot).unwrap_or_default());
            }
            next = Instant::now() + interval;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    eprintln!("aimux serve: stopping");
    receiver.stop();
    Ok(ExitCode::SUCCESS)
}

pub fn export(mut ctx: Context, args: &ExportArgs) -> Result<ExitCode> {
    let (rows, _, _) = ctx.load_sessions()?;
    let row = catalog::find_session(&rows, &args.session).map_err(anyhow::Error::msg)?;
    let t = trace(row, &ctx.prices, &ctx.annotations().load(&row.id));
    let (messages, out) = export_trace(&ctx.dirs, &t, args)?;
    if args.json {
        println!("{}", Value::Object(out));
    } else {
        for m in messages {
            println!("{m}");
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// Exports one session's trace as `args` asks (JSONL file and/or OTLP), with settings from
/// the `export:` section of config.yaml. Returns human lines and the JSON result.
pub fn export_trace(
    dirs: &aimux_engine::home::Dirs,
    t: &aimux_engine::trace::Trace,
    args: &ExportArgs,
) -> Result<(Vec<String>, serde_json::Map<String, Value>)> {
    let row = &t.session;
    let mut messages = Vec::new();
    let mut out = serde_json::Map::new();
    out.insert("session_id".into(), Value::String(row.id.clone()));
    if args.jsonl {
        let path = write_jsonl(t, &dirs.aimux_home.join("exports"))?;
        messages.push(format!(
            "wrote {} ({} turns)",
            path.display(),
            t.turns.len()
        ));
        out.insert("jsonl".into(), Value::String(path.display().to_string()));
    }
    if args.otlp {
        let ex = config_section(&dirs.config_path(), "export").context("export settings")?;
        let endpoint = args
            .endpoint
            .clone()
            .or_else(|| get_str(&ex, "endpoint"))
            .ok_or_else(|| {
                anyhow::anyhow!(
                    "no OTLP endpoint: pass --endpoint URL or set export.endpoint in {}",
                    dirs.config_path().display()
                )
            })?;
        let mut headers: Vec<(String, String)> = match ex.get("headers") {
            Some(Value::Object(m)) => m
                .iter()
                .filter_map(|(k, v)| match v {
                    Value::String(s) => Some((k.clone(), s.clone())),
                    Value::Number(n) => Some((k.clone(), n.to_string())),
                    _ => None,
                })
                .collect(),
            None | Some(Value::Null) => Vec::new(),
            Some(other) => bail!("export.headers must be a mapping of NAME: VALUE, found {other}"),
        };
        for h in &args.headers {
            let Some((k, v)) = h.split_once('=') else {
                bail!("--header '{h}' is not NAME=VALUE");
            };
            headers.push((k.trim().to_string(), v.trim().to_string()));
        }
        let mlflow_id = args
            .experiment_id
            .clone()
            .or_else(|| match ex.get("mlflow") {
                Some(Value::Object(m)) => get_str(m, "experiment_id"),
                _ => None,
            });
        let cfg = ExportConfig {
            endpoint,
            headers,
            insecure: args.insecure || get_bool(&ex, "insecure")?,
            mlflow_experiment_id: mlflow_id,
            timeout: None,
        };
        let r = send_trace(t, &cfg)?;
        messages.push(format!(
            "exported {} spans of session {} to {} (trace id {}, HTTP {})",
            r.spans, row.id, r.url, r.trace_id, r.status
        ));
        out.insert("otlp".into(), serde_json::to_value(&r)?);
    }
    Ok((messages, out))
}
