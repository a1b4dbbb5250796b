//! Typed events into the one event loop, and the requests the app sends to the worker.

use crate::backend::{CostScope, TaskDetail, TaskList};
use aimux_engine::agents::AgentsSnapshot;
use aimux_engine::annotations::Label;
use aimux_engine::catalog::SessionRow;
use aimux_engine::costs::{CostReport, GroupBy};
use aimux_engine::health::HealthReport;
use aimux_engine::teams::TeamsReport;
use aimux_engine::trace::Trace;
use crossterm::event::{KeyEvent, MouseEvent};

/// Work for the backend worker.
#[derive(Debug, Clone, PartialEq)]
pub enum Request {
    Agents,
    Sessions,
    Costs {
        scope: CostScope,
        by: GroupBy,
    },
    Trace {
        session_id: String,
    },
    Annotate {
        session_id: String,
        turn: u32,
        turn_id: String,
        label: Label,
        note: Option<String>,
    },
    Kill {
        pid: u32,
    },
    Health,
    Teams,
    /// Start an agent in a new tmux session.
    Spawn {
        spec: Box<aimux_engine::spawn::SpawnSpec>,
    },
    /// Re-open a conversation in a new tmux session (`second`: even though an agent has
    /// it open).
    Resume {
        session_id: String,
        second: bool,
    },
    /// Type a prompt into an agent's tmux pane.
    Send {
        pid: u32,
        text: String,
    },
    /// Full-text search (history view).
    Search {
        query: String,
    },
    /// Move a session's files to the trash.
    Trash {
        session_id: String,
    },
    /// Export a session as an OTLP trace (`otlp`) or JSONL.
    Export {
        session_id: String,
        otlp: bool,
    },
    /// The newest tasks of the coordination queue (only while the tasks view is shown).
    Tasks,
    /// One task with its log lines (the detail popup).
    TaskDetail {
        id: String,
    },
    /// Queue a task for a worker.
    SubmitTask {
        provider: String,
        prompt: String,
    },
    /// Start an agent in a new Kubernetes pod, then attach to it.
    SpawnRemote {
        provider: String,
    },
    /// Attach the split view to a remote session.
    AttachRemote {
        pod: String,
        provider: String,
    },
    /// Stop one pod (after the user confirmed).
    KillPod {
        pod: String,
    },
}

impl Request {
    /// Requests of one kind replace each other in the queue (only the newest matters),
    /// except user actions, which are all carried out.
    pub fn coalesces_with(&self, other: &Request) -> bool {
        match (self, other) {
            (Request::Annotate { .. }, _) | (Request::Kill { .. }, _) => false,
            (Request::Spawn { .. }, _) | (Request::Resume { .. }, _) => false,
            (Request::Send { .. }, _) => false,
            (Request::Trash { .. }, _) => false,
            (Request::Export { .. }, _) => false,
            (Request::SubmitTask { .. }, _) => false,
            (Request::SpawnRemote { .. }, _) | (Request::AttachRemote { .. }, _) => false,
            (Request::KillPod { .. }, _) => false,
            (Request::Costs { .. }, Request::Costs { .. }) => true,
            (Request::Trace { .. }, Request::Trace { .. }) => true,
            (a, b) => std::mem::discriminant(a) == std::mem::discriminant(b),
        }
    }

    /// User actions go before refreshes.
    pub fn is_action(&self) -> bool {
        matches!(
            self,
            Request::Annotate { .. }
                | Request::Kill { .. }
                | Request::Spawn { .. }
                | Request::Resume { .. }
                | Request::Send { .. }
                | Request::Trash { .. }
                | Request::Export { .. }
                | Request::SubmitTask { .. }
                | Request::SpawnRemote { .. }
                | Request::AttachRemote { .. }
                | Request::KillPod { .. }
        )
    }
}

/// A finished request. Errors are already text: they are shown, never matched on.
#[derive(Debug)]
pub enum Response {
    Agents(Result<AgentsSnapshot, String>),
    Sessions(Result<Vec<SessionRow>, String>),
    Costs {
        scope: CostScope,
        by: GroupBy,
        result: Result<CostReport, String>,
    },
    Trace {
        session_id: String,
        result: Result<Box<Trace>, String>,
    },
    Annotated {
        session_id: String,
        turn_id: String,
        label: Label,
        result: Result<(), String>,
    },
    Killed {
        pid: u32,
        result: Result<String, String>,
    },
    Health(Result<HealthReport, String>),
    Teams(Result<TeamsReport, String>),
    /// A spawn, resume or send finished: a message for the user.
    Acted(Result<String, String>),
    Searched {
        query: String,
        result: Result<Vec<aimux_engine::search::SearchHit>, String>,
    },
    /// A session went to the trash (or did not).
    Trashed {
        session_id: String,
        result: Result<String, String>,
    },
    Tasks(Result<TaskList, String>),
    TaskDetail {
        id: String,
        result: Result<Box<TaskDetail>, String>,
    },
    /// The command that attaches to remote session `pod` (after starting it, for
    /// `SpawnRemote`).
    RemoteAttach {
        pod: String,
        provider: String,
        result: Result<Vec<String>, String>,
    },
    /// A task was queued (its id) or not.
    TaskSubmitted {
        provider: String,
        result: Result<String, String>,
    },
}

#[derive(Debug)]
pub enum AppEvent {
    Key(KeyEvent),
    Mouse(MouseEvent),
    Resize(u16, u16),
    /// Animation and refresh clock.
    Tick,
    /// The engine says its data changed.
    EngineUpdate,
    Response(Box<Response>),
    /// The attached terminal printed something (or its client ended).
    Terminal,
}
