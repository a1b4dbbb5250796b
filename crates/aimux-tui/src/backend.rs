//! The one door between the TUI and the engine. The TUI never reads files or opens
//! sockets: the binary implements [`Backend`] over the engine, tests use
//! [`crate::fixture::FixtureBackend`].
//!
//! Every call may block and be slow; the TUI makes them on a worker thread, one at a time,
//! so an implementation needs to be `Send` but not `Sync`.

use aimux_engine::agents::AgentsSnapshot;
use aimux_engine::annotations::Label;
use aimux_engine::catalog::SessionRow;
use aimux_engine::costs::{CostReport, GroupBy};
use aimux_engine::health::HealthReport;
use aimux_engine::teams::TeamsReport;
use aimux_engine::trace::Trace;
use std::sync::mpsc::Receiver;

/// Which usage the costs view aggregates.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CostScope {
    /// The sessions of the agents running now.
    Live,
    /// Sessions with activity since local midnight.
    Today,
    /// Sessions with activity in the last 7 days.
    Week,
    /// All history.
    All,
}

impl CostScope {
    pub const CYCLE: [CostScope; 4] = [
        CostScope::Live,
        CostScope::Today,
        CostScope::Week,
        CostScope::All,
    ];

    pub fn label(self) -> &'static str {
        match self {
            CostScope::Live => "live agents",
            CostScope::Today => "today",
            CostScope::Week => "7 days",
            CostScope::All => "all history",
        }
    }

    pub fn next(self) -> CostScope {
        match self {
            CostScope::Live => CostScope::Today,
            CostScope::Today => CostScope::Week,
            CostScope::Week => CostScope::All,
            CostScope::All => CostScope::Live,
        }
    }
}

/// One task of the coordination queue as the tasks view shows it. Plain data, so the TUI
/// does not depend on Redis; timestamps are RFC 3339.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TaskRow {
    pub id: String,
    /// pending, claimed, running, done or failed.
    pub status: String,
    pub provider: String,
    pub role: Option<String>,
    /// The repository the worker runs the agent in.
    pub dir: Option<String>,
    pub prompt: String,
    /// The worker that claimed it.
    pub assignee: Option<String>,
    pub created_at: Option<String>,
    pub claimed_at: Option<String>,
    pub started_at: Option<String>,
    pub finished_at: Option<String>,
    pub result: Option<String>,
    pub error: Option<String>,
    pub retries: u32,
    pub max_retries: u32,
    pub model: Option<String>,
    pub tokens: Option<aimux_core::TokenUsage>,
    /// Priced by aimux; `None` when unknown (or nothing ran yet: then `tokens` is `None`).
    pub cost_usd: Option<f64>,
    /// What the agent itself reported, when it reports a cost.
    pub reported_cost_usd: Option<f64>,
}

impl TaskRow {
    pub fn is_finished(&self) -> bool {
        matches!(self.status.as_str(), "done" | "failed")
    }
}

/// The newest tasks and where they came from.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TaskList {
    /// The coordination store, for the title (a Redis URL, password redacted).
    pub source: String,
    /// Newest first.
    pub tasks: Vec<TaskRow>,
}

/// One line of a task's log.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TaskLogLine {
    /// RFC 3339, when the line carries its time.
    pub at: Option<String>,
    pub text: String,
}

/// One task with its log, for the detail popup.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct TaskDetail {
    pub task: TaskRow,
    /// Oldest first.
    pub logs: Vec<TaskLogLine>,
}

pub trait Backend {
    /// Live agents (one refresh of the process table and their sessions).
    fn agents(&mut self) -> anyhow::Result<AgentsSnapshot>;

    /// All sessions, live and past, with annotation counts filled in.
    fn sessions(&mut self) -> anyhow::Result<Vec<SessionRow>>;

    /// Costs of `scope`, grouped `by`, most expensive first.
    fn costs(&mut self, scope: CostScope, by: GroupBy) -> anyhow::Result<CostReport>;

    /// The full trace of one session (`session_id` as in [`SessionRow::id`] or
    /// `AgentRow::session_id`; a unique prefix may be accepted).
    fn trace(&mut self, session_id: &str) -> anyhow::Result<Trace>;

    /// Labels a turn (appends to the session's evaluations file). `Label::Clear` removes
    /// the label.
    fn annotate(
        &mut self,
        session_id: &str,
        turn: u32,
        turn_id: &str,
        label: Label,
        note: Option<&str>,
    ) -> anyhow::Result<()>;

    /// Terminates the agent process `pid` (after the user confirmed). Returns a short
    /// human message ("sent SIGTERM to 4242").
    fn kill(&mut self, pid: u32) -> anyhow::Result<String>;

    /// Provider binaries, versions, session directories, backends. May run processes.
    fn health(&mut self) -> anyhow::Result<HealthReport>;

    /// Claude Code agent teams.
    fn teams(&mut self) -> anyhow::Result<TeamsReport>;

    /// A channel the engine signals whenever its data changed (a session file grew, an
    /// agent appeared). The TUI then refreshes what is visible. `None`: the TUI polls
    /// every `refresh_ms` only.
    fn updates(&mut self) -> Option<Receiver<()>> {
        None
    }

    /// Starts an agent in a new detached tmux session. Returns a message naming it.
    fn spawn(&mut self, spec: &aimux_engine::spawn::SpawnSpec) -> anyhow::Result<String> {
        let _ = spec;
        anyhow::bail!("starting agents is not available with this backend")
    }

    /// Re-opens conversation `session_id` with its CLI in a new tmux session. Refused when
    /// an agent has it open, unless `second` (the user chose a second process).
    fn resume(&mut self, session_id: &str, second: bool) -> anyhow::Result<String> {
        let _ = (session_id, second);
        anyhow::bail!("resuming sessions is not available with this backend")
    }

    /// Types `text` into agent `pid`'s tmux pane and presses Enter; refused when the agent
    /// is not idle or not in tmux.
    fn send(&mut self, pid: u32, text: &str) -> anyhow::Result<String> {
        let _ = (pid, text);
        anyhow::bail!("sending prompts is not available with this backend")
    }

    /// Exports a session as an OTLP trace (`otlp`, to the configured endpoint) or as a
    /// JSONL file; returns what was done.
    fn export(&mut self, session_id: &str, otlp: bool) -> anyhow::Result<String> {
        let _ = (session_id, otlp);
        anyhow::bail!("export is not available with this backend")
    }

    /// Full-text search over every session's prompts, answers and tool input/output
    /// (history view `/` + Enter). The index is brought up to date first.
    fn search(
        &mut self,
        query: &str,
        limit: usize,
    ) -> anyhow::Result<Vec<aimux_engine::search::SearchHit>> {
        let _ = (query, limit);
        anyhow::bail!("search is not available with this backend")
    }

    /// Moves a session's files to aimux's trash (after the user confirmed); restorable
    /// with `aimux trash restore`. Returns a message.
    fn trash(&mut self, session_id: &str) -> anyhow::Result<String> {
        let _ = session_id;
        anyhow::bail!("deleting sessions is not available with this backend")
    }

    /// The newest `limit` tasks of the coordination queue. Bounded in time: a dead store
    /// fails within seconds, with how to configure it in the message.
    fn tasks(&mut self, limit: usize) -> anyhow::Result<TaskList> {
        let _ = limit;
        anyhow::bail!("tasks are not available with this backend")
    }

    /// One task and its log lines.
    fn task_detail(&mut self, id: &str) -> anyhow::Result<TaskDetail> {
        let _ = id;
        anyhow::bail!("tasks are not available with this backend")
    }

    /// Queues a task for a worker; returns its id.
    fn submit_task(&mut self, provider: &str, prompt: &str) -> anyhow::Result<String> {
        let _ = (provider, prompt);
        anyhow::bail!("submitting tasks is not available with this backend")
    }

    /// Starts an agent of `provider` in a new Kubernetes pod, inside tmux there, and waits
    /// until it runs. Returns the pod's name.
    fn spawn_remote(&mut self, provider: &str) -> anyhow::Result<String> {
        let _ = provider;
        anyhow::bail!("remote agents are not available with this backend")
    }

    /// The command (argv) that attaches a terminal to remote session `pod`; the split view
    /// runs it in its PTY, so keys and screen go through the same terminal as a local
    /// attach.
    fn remote_attach_argv(&mut self, pod: &str) -> anyhow::Result<Vec<String>> {
        let _ = pod;
        anyhow::bail!("remote agents are not available with this backend")
    }

    /// Stops pod `pod` and no other (after the user confirmed). Returns a message.
    fn kill_pod(&mut self, pod: &str) -> anyhow::Result<String> {
        let _ = pod;
        anyhow::bail!("remote agents are not available with this backend")
    }
}
