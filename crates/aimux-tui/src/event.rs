//! Typed events into the one event loop, and the requests the app sends to the worker.

use crate::backend::CostScope;
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
}

impl Request {
    /// Requests of one kind replace each other in the queue (only the newest matters),
    /// except user actions, which are all carried out.
    pub fn coalesces_with(&self, other: &Request) -> bool {
        match (self, other) {
            (Request::Annotate { .. }, _) | (Request::Kill { .. }, _) => false,
            (Request::Costs { .. }, Request::Costs { .. }) => true,
            (Request::Trace { .. }, Request::Trace { .. }) => true,
            (a, b) => std::mem::discriminant(a) == std::mem::discriminant(b),
        }
    }

    /// User actions go before refreshes.
    pub fn is_action(&self) -> bool {
        matches!(self, Request::Annotate { .. } | Request::Kill { .. })
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
}
