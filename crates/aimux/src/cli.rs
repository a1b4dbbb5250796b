//! Command-line interface. Every TUI view has a headless twin here.

use clap::{Parser, Subcommand, ValueEnum};
use std::path::PathBuf;

#[derive(Debug, Parser)]
#[command(
    name = "aimux",
    version,
    about = "One terminal control plane for fleets of AI coding agents"
)]
pub struct Cli {
    /// Whose agent data to read (the directory holding .claude, .codex, .gemini).
    #[arg(long, global = true, env = "AIMUX_DATA_HOME", value_name = "DIR")]
    pub home: Option<PathBuf>,

    /// aimux's own state directory (index, annotations, config).
    #[arg(long, global = true, env = "AIMUX_HOME", value_name = "DIR")]
    pub aimux_home: Option<PathBuf>,

    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Running agents with their status, grouped as a tree.
    Agents(AgentsArgs),
    /// Per provider: binary, version, live agents, session dir, last error; the telemetry
    /// receiver and infrastructure backends.
    Health(JsonArgs),
    /// Claude Code agent teams (`~/.claude/teams/*/config.json`) and their members.
    Teams(JsonArgs),
    /// List sessions of every provider, newest activity first.
    Sessions(SessionsArgs),
    /// Tokens and USD, aggregated.
    Costs(CostsArgs),
    /// A session turn by turn.
    Trace(TraceArgs),
    /// Label a turn GOOD / BAD / WASTE (or clear it), with an optional note.
    Annotate(AnnotateArgs),
    /// Full-text search over every session's prompts, answers and tool input/output.
    Search(crate::history_cmd::SearchArgs),
    /// Move a session's files to the trash (`trash list`, `trash restore SESSION`).
    Trash(crate::history_cmd::TrashArgs),
    /// Generate short session titles with the configured model (cached).
    Titles(crate::history_cmd::TitlesArgs),
    /// Start an agent in a detached tmux session (aimux-<provider>-<project>-<n>).
    Spawn(crate::act_cmd::SpawnArgs),
    /// Re-open a conversation with its own CLI, in tmux, in its directory.
    Resume(crate::act_cmd::ResumeArgs),
    /// Type a prompt into an idle agent's tmux pane.
    Send(crate::act_cmd::SendArgs),
    /// Attach this terminal to the tmux pane an agent runs in.
    Attach(crate::act_cmd::AttachArgs),
    /// Tasks run by workers through Redis: submit, list, show, logs.
    Task(crate::infra_cmd::TaskArgs),
    /// The worker loop (what a worker pod runs): claim tasks, run the agent, write results.
    Worker(crate::infra_cmd::WorkerArgs),
    /// MCP server on stdio for a local lead agent; `aimux mcp install claude` registers it.
    Mcp(crate::infra_cmd::McpArgs),
    /// Infrastructure (coordination, compute, workloads).
    Infra(crate::infra_cmd::InfraArgs),
    /// Agents in Kubernetes pods: new (and attach), list, attach, kill.
    Remote(crate::remote_cmd::RemoteArgs),
    /// Run the engine and the OTLP receiver headless until Ctrl-C / SIGTERM.
    Serve(crate::otel_cmd::ServeArgs),
    /// Export a session as an OTLP trace (MLflow, any OTLP backend) or as JSONL.
    Export(crate::otel_cmd::ExportArgs),
}

#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum SessionSort {
    Recent,
    Cost,
    Age,
    Turns,
}

#[derive(Debug, clap::Args)]
pub struct SessionsArgs {
    #[arg(long)]
    pub json: bool,
    /// Only this provider (claude, codex, gemini, opencode).
    #[arg(long)]
    pub provider: Option<String>,
    /// Only sessions whose project (directory name) is NAME.
    #[arg(long, value_name = "NAME")]
    pub project: Option<String>,
    /// Only sessions active since DATE (YYYY-MM-DD, RFC 3339, or a span like 7d / 12h).
    #[arg(long, value_name = "DATE")]
    pub since: Option<String>,
    #[arg(long, value_enum, default_value_t = SessionSort::Recent)]
    pub sort: SessionSort,
    #[arg(long, value_name = "N")]
    pub limit: Option<usize>,
}

#[derive(Debug, Clone, Copy, ValueEnum, PartialEq, Eq)]
pub enum CostBy {
    Project,
    Provider,
    Model,
    Session,
    Day,
}

#[derive(Debug, clap::Args)]
pub struct CostsArgs {
    #[arg(long, value_enum, default_value_t = CostBy::Project)]
    pub by: CostBy,
    #[arg(long)]
    pub json: bool,
    /// Only sessions active since DATE (YYYY-MM-DD, RFC 3339, or a span like 7d / 12h).
    #[arg(long, value_name = "DATE")]
    pub since: Option<String>,
}

#[derive(Debug, clap::Args)]
pub struct TraceArgs {
    /// Session id or a unique prefix of it.
    pub session: String,
    #[arg(long, conflicts_with = "markdown")]
    pub json: bool,
    #[arg(long)]
    pub markdown: bool,
}

#[derive(Debug, clap::Args)]
pub struct AnnotateArgs {
    /// Session id or a unique prefix of it.
    pub session: String,
    /// Turn number (as shown by `aimux trace`) or turn id.
    pub turn: String,
    /// good, bad, waste or clear.
    pub label: String,
    /// A free-text note kept with the label.
    #[arg(long)]
    pub note: Option<String>,
}

#[derive(Debug, clap::Args)]
pub struct AgentsArgs {
    #[arg(long)]
    pub json: bool,
    /// Keep running and print a line per change (NDJSON with --json).
    #[arg(long)]
    pub watch: bool,
    /// Refresh interval for --watch, in milliseconds.
    #[arg(long, default_value_t = 2000, value_name = "MS")]
    pub interval_ms: u64,
}

#[derive(Debug, clap::Args)]
pub struct JsonArgs {
    #[arg(long)]
    pub json: bool,
}
