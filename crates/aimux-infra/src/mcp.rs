//! `aimux mcp`: an MCP server on stdio (official Rust SDK, rmcp) that lets a local lead
//! agent dispatch work to workers through the same Redis coordination as everything else.

use crate::coord::{Coordinator, Message, NewTask};
use crate::provider::{Compute, InfraProvider, RedisK8sProvider};
use crate::schema::{self, now_ms};
use aimux_core::pricing::PriceTable;
use rmcp::handler::server::router::tool::ToolRouter;
use rmcp::handler::server::wrapper::Parameters;
use rmcp::model::{CallToolResult, ContentBlock, Implementation, ServerCapabilities, ServerConfig};
use rmcp::{ErrorData as McpError, ServerHandler, ServiceExt, tool, tool_handler, tool_router};
use schemars::JsonSchema;
use serde::Deserialize;
use serde_json::{Value, json};
use std::sync::Arc;
use std::time::Duration;
use tokio::sync::Mutex;

#[derive(Debug, Deserialize, JsonSchema)]
pub struct SpawnWorkersParams {
    /// claude, codex or gemini.
    pub provider: String,
    /// How many workers should run for this provider.
    pub count: u32,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct CreateTaskParams {
    /// claude, codex or gemini: which agent CLI runs the task.
    pub provider: String,
    /// The prompt the worker's agent runs non-interactively.
    pub prompt: String,
    /// The repository directory to run in (as seen by the worker).
    pub dir: Option<String>,
    /// A free-form role kept with the task (e.g. reviewer).
    pub role: Option<String>,
    /// How often a failed run is requeued (default 1).
    pub max_retries: Option<u32>,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct WaitParams {
    /// The task id (t-N).
    pub id: String,
    /// Seconds to wait at most (default 120, at most 1800).
    pub timeout_secs: Option<u64>,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct IdParams {
    /// The task id (t-N).
    pub id: String,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct ListTasksParams {
    /// Only tasks with this status (pending, claimed, running, done, failed).
    pub status: Option<String>,
    /// At most this many, newest first (default 50).
    pub limit: Option<usize>,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct SendMessageParams {
    /// The agent id (as listed by list_agents).
    pub to: String,
    pub text: String,
}

#[derive(Debug, Deserialize, JsonSchema)]
pub struct ScaleDownParams {
    /// Stop this agent (after its current task).
    pub agent: Option<String>,
    /// Or: stop this many idle workers ...
    pub count: Option<u32>,
    /// ... of this provider.
    pub provider: Option<String>,
}

/// The MCP server.
#[derive(Clone)]
pub struct AimuxMcp {
    url: String,
    prefix: String,
    prices: Arc<PriceTable>,
    compute: Option<Compute>,
    coord: Arc<Mutex<Option<Coordinator>>>,
    tool_router: ToolRouter<Self>,
}

fn ok_json(v: Value) -> Result<CallToolResult, McpError> {
    let text = serde_json::to_string_pretty(&v).unwrap_or_else(|_| v.to_string());
    Ok(CallToolResult::success(vec![ContentBlock::text(text)]))
}

fn tool_error(msg: impl std::fmt::Display) -> Result<CallToolResult, McpError> {
    Ok(CallToolResult::error(vec![ContentBlock::text(
        msg.to_string(),
    )]))
}

macro_rules! coord_or_err {
    ($self:ident) => {
        match $self.coord().await {
            Ok(c) => c,
            Err(e) => return tool_error(e),
        }
    };
}

#[tool_router]
impl AimuxMcp {
    pub fn new(
        url: String,
        prefix: String,
        prices: PriceTable,
        compute: Option<Compute>,
    ) -> AimuxMcp {
        AimuxMcp {
            url,
            prefix,
            prices: Arc::new(prices),
            compute,
            coord: Arc::new(Mutex::new(None)),
            tool_router: Self::tool_router(),
        }
    }

    async fn coord(&self) -> Result<Coordinator, String> {
        let mut g = self.coord.lock().await;
        if let Some(c) = g.as_ref() {
            return Ok(c.clone());
        }
        let c = Coordinator::connect(&self.url, &self.prefix)
            .await
            .map_err(|e| format!("the coordination Redis is not reachable: {e}"))?;
        *g = Some(c.clone());
        Ok(c)
    }

    #[tool(
        description = "Scale the number of workers for a provider. Needs a compute backend (Kubernetes); without one, says so and starts nothing."
    )]
    async fn spawn_workers(
        &self,
        Parameters(p): Parameters<SpawnWorkersParams>,
    ) -> Result<CallToolResult, McpError> {
        let coord = coord_or_err!(self);
        let provider = RedisK8sProvider::new(coord.clone(), self.compute.clone());
        match provider.scale(&p.provider, p.count).await {
            Ok(msg) => ok_json(json!({"scaled": true, "message": msg})),
            Err(e) => {
                let agents = coord.agents().await.map_err(internal)?;
                let same: Vec<&str> = agents
                    .iter()
                    .filter(|a| a.provider.as_deref().is_none_or(|x| x == p.provider))
                    .map(|a| a.id.as_str())
                    .collect();
                ok_json(json!({
                    "scaled": false,
                    "started": 0,
                    "reason": e.to_string(),
                    "registered_workers_for_provider": same,
                    "hint": format!("start a worker yourself with `aimux worker --provider {}` (it registers in Redis and takes tasks)", p.provider),
                }))
            }
        }
    }

    #[tool(
        description = "Queue a task: a worker runs the prompt non-interactively with the provider's CLI in dir and stores the result."
    )]
    async fn create_task(
        &self,
        Parameters(p): Parameters<CreateTaskParams>,
    ) -> Result<CallToolResult, McpError> {
        let coord = coord_or_err!(self);
        match coord
            .submit(&NewTask {
                provider: p.provider,
                prompt: p.prompt,
                dir: p.dir,
                role: p.role,
                max_retries: p.max_retries.unwrap_or(1),
            })
            .await
        {
            Ok(t) => ok_json(json!({"id": t.id, "status": t.status, "provider": t.provider})),
            Err(e) => tool_error(e),
        }
    }

    #[tool(
        description = "Wait until a task is done or failed (or the timeout passes) and return it."
    )]
    async fn wait_for_task(
        &self,
        Parameters(p): Parameters<WaitParams>,
    ) -> Result<CallToolResult, McpError> {
        let coord = coord_or_err!(self);
        let secs = p.timeout_secs.unwrap_or(120).min(1800);
        match coord.wait_for(&p.id, Duration::from_secs(secs)).await {
            Ok(t) => {
                let timed_out = !t.is_finished();
                let mut v = serde_json::to_value(&t).map_err(internal)?;
                v["timed_out"] = json!(timed_out);
                ok_json(v)
            }
            Err(e) => tool_error(e),
        }
    }

    #[tool(description = "A task's status, result or error, tokens and cost.")]
    async fn get_result(
        &self,
        Parameters(p): Parameters<IdParams>,
    ) -> Result<CallToolResult, McpError> {
        let coord = coord_or_err!(self);
        match coord.task(&p.id).await {
            Ok(t) => ok_json(serde_json::to_value(&t).map_err(internal)?),
            Err(e) => tool_error(e),
        }
    }

    #[tool(description = "Tasks, newest first, optionally only one status.")]
    async fn list_tasks(
        &self,
        Parameters(p): Parameters<ListTasksParams>,
    ) -> Result<CallToolResult, McpError> {
        let coord = coord_or_err!(self);
        let limit = p.limit.unwrap_or(50);
        match coord
            .list_tasks(if p.status.is_some() { 0 } else { limit })
            .await
        {
            Ok(ts) => {
                let rows: Vec<Value> = ts
                    .iter()
                    .filter(|t| p.status.as_ref().is_none_or(|s| &t.status == s))
                    .take(limit)
                    .map(|t| {
                        json!({"id": t.id, "status": t.status, "provider": t.provider,
                               "assignee": t.assignee, "created_at": t.created_at,
                               "prompt": t.prompt.chars().take(200).collect::<String>(),
                               "cost_usd": t.cost_usd})
                    })
                    .collect();
                ok_json(json!(rows))
            }
            Err(e) => tool_error(e),
        }
    }

    #[tool(
        description = "Registered agents (workers) with status, current task and heartbeat age in ms."
    )]
    async fn list_agents(&self) -> Result<CallToolResult, McpError> {
        let coord = coord_or_err!(self);
        match coord.agents().await {
            Ok(a) => ok_json(serde_json::to_value(&a).map_err(internal)?),
            Err(e) => tool_error(e),
        }
    }

    #[tool(description = "Put a message into an agent's inbox.")]
    async fn send_message(
        &self,
        Parameters(p): Parameters<SendMessageParams>,
    ) -> Result<CallToolResult, McpError> {
        let coord = coord_or_err!(self);
        let msg = Message {
            from: "mcp-lead".into(),
            text: p.text,
            sent_at: now_ms(),
            kind: "message".into(),
        };
        match coord.send(&p.to, &msg).await {
            Ok(n) => ok_json(json!({"to": p.to, "queued_messages": n})),
            Err(e) => tool_error(e),
        }
    }

    #[tool(
        description = "Stop workers: one agent by id, or `count` idle workers (of a provider). Each finishes its current task first."
    )]
    async fn scale_down(
        &self,
        Parameters(p): Parameters<ScaleDownParams>,
    ) -> Result<CallToolResult, McpError> {
        let coord = coord_or_err!(self);
        let targets: Vec<String> = match (&p.agent, p.count) {
            (Some(a), _) => vec![a.clone()],
            (None, Some(n)) => {
                let agents = coord.agents().await.map_err(internal)?;
                let mut idle: Vec<String> = agents
                    .iter()
                    .filter(|a| a.status.as_deref() == Some("idle"))
                    .filter(|a| {
                        p.provider
                            .as_ref()
                            .is_none_or(|pr| a.provider.as_deref().is_none_or(|x| x == pr))
                    })
                    .map(|a| a.id.clone())
                    .collect();
                idle.truncate(n as usize);
                idle
            }
            (None, None) => return tool_error("give `agent` or `count`"),
        };
        // through the provider: a worker in a pod goes with its pod, others get a stop
        let provider = RedisK8sProvider::new(coord.clone(), self.compute.clone());
        let mut done = Vec::new();
        for t in &targets {
            match provider.kill(t).await {
                Ok(msg) => done.push(msg),
                Err(e) => return tool_error(e),
            }
        }
        ok_json(json!({"asked_to_stop": targets, "messages": done}))
    }

    #[tool(
        description = "Token usage and USD cost per worker and model, from the workers' real counters priced with aimux's price list."
    )]
    async fn costs(&self) -> Result<CallToolResult, McpError> {
        let coord = coord_or_err!(self);
        match coord.costs(&self.prices).await {
            Ok(r) => ok_json(serde_json::to_value(&r).map_err(internal)?),
            Err(e) => tool_error(e),
        }
    }
}

fn internal(e: impl std::fmt::Display) -> McpError {
    McpError::internal_error(e.to_string(), None)
}

#[tool_handler(router = self.tool_router)]
impl ServerHandler for AimuxMcp {
    fn get_info(&self) -> ServerConfig {
        ServerConfig::new(ServerCapabilities::builder().enable_tools().build())
            .with_server_info(Implementation::new("aimux", env!("CARGO_PKG_VERSION")))
            .with_instructions(format!(
                "aimux dispatches tasks to worker agents ({}) through Redis. create_task, then wait_for_task; list_agents shows the workers.",
                schema::PROVIDERS.join(", ")
            ))
    }
}

/// Serves MCP on stdin/stdout until the client closes the connection.
pub async fn serve_stdio(
    url: String,
    prefix: String,
    prices: PriceTable,
    compute: Option<Compute>,
) -> anyhow::Result<()> {
    let server = AimuxMcp::new(url, prefix, prices, compute);
    let service = server.serve(rmcp::transport::stdio()).await?;
    service.waiting().await?;
    Ok(())
}
