//! Live agents as every view shows them: one row per agent process tree, tied to its
//! session, with a status and the reason for it. `aimux agents --json` prints these rows;
//! the TUI renders the same rows.

use aimux_core::status::Status;
use aimux_core::{Provider, TokenUsage};
use serde::Serialize;

/// One process grouped under an agent (a tool subprocess, the native binary behind a
/// node shim, a helper daemon).
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ChildProcess {
    pub pid: u32,
    pub ppid: u32,
    pub name: String,
    pub command: String,
    /// Why it is grouped here: `tool`, `runtime` (shim / relaunch), `helper` (daemon).
    pub role: String,
}

/// How an agent was tied to its session file.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum MatchEvidence {
    /// Claude's `~/.claude/sessions/<pid>.json` names the session.
    LiveStateFile,
    /// A session id on the command line (`--resume`, `--session-id`, `resume <id>`).
    CommandLine,
    /// Same directory, session started just after the process.
    CwdAndStartTime,
    /// Telemetry carried the session id.
    Telemetry,
    /// No session found yet.
    None,
}

#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct AgentRow {
    pub pid: u32,
    pub provider: Provider,
    pub status: Status,
    pub status_reason: String,
    pub model: Option<String>,
    pub cwd: Option<String>,
    pub project: Option<String>,
    pub session_id: Option<String>,
    pub session_file: Option<String>,
    pub match_evidence: MatchEvidence,
    pub title: Option<String>,
    pub started_at: Option<String>,
    pub last_activity: Option<String>,
    /// Last tool call, short: `Bash: ls -la`.
    pub last_action: Option<String>,
    pub tokens: TokenUsage,
    pub cost_usd: Option<f64>,
    pub rss_bytes: u64,
    pub cpu_percent: f32,
    pub command: String,
    /// Where it runs: `local`, later `k8s`.
    pub location: String,
    /// tmux pane hosting it, when found (`server-socket:session:window.pane`).
    pub tmux_target: Option<String>,
    /// Pids of every process grouped under the agent (in JSON: pids only).
    #[serde(serialize_with = "child_pids")]
    pub children: Vec<ChildProcess>,
    pub subagents: Vec<AgentRow>,
    /// Set for an agent in a Kubernetes pod (`location` k8s, `pid` 0): what to attach to
    /// and stop.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub remote: Option<RemoteHandle>,
}

/// Where a remote agent runs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct RemoteHandle {
    pub pod: String,
    pub namespace: String,
    /// `session` (an interactive agent in tmux) or `worker` (runs tasks).
    pub role: String,
    /// An interactive session whose pod runs (workers run tasks; nothing to attach to).
    pub attachable: bool,
}

fn child_pids<S: serde::Serializer>(children: &[ChildProcess], s: S) -> Result<S::Ok, S::Error> {
    s.collect_seq(children.iter().map(|c| c.pid))
}

impl AgentRow {
    /// Processes grouped under this agent, itself included (the `×N` badge).
    pub fn process_count(&self) -> usize {
        1 + self.children.len()
    }
}

/// A provider whose discovery failed this round; the others are still listed.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct ProviderError {
    pub provider: Provider,
    pub error: String,
}

/// Everything a refresh of live agents produced.
#[derive(Debug, Clone, Default, Serialize)]
pub struct AgentsSnapshot {
    pub agents: Vec<AgentRow>,
    pub errors: Vec<ProviderError>,
    pub taken_at: Option<String>,
}

impl AgentsSnapshot {
    /// Counts by status: (active, waiting, idle, error, unknown), subagents included.
    pub fn status_counts(&self) -> [usize; 5] {
        let mut c = [0usize; 5];
        fn walk(rows: &[AgentRow], c: &mut [usize; 5]) {
            for r in rows {
                let i = match r.status {
                    Status::Active => 0,
                    Status::Waiting => 1,
                    Status::Idle => 2,
                    Status::Error => 3,
                    Status::Unknown => 4,
                };
                c[i] += 1;
                walk(&r.subagents, c);
            }
        }
        walk(&self.agents, &mut c);
        c
    }
}
