//! A session's full turn-by-turn trace, read fresh from its files (the index keeps only
//! previews), with each turn priced so per-turn costs add up to the session cost.

use crate::annotations::{Annotation, SessionAnnotations};
use crate::catalog::{ModelCost, SessionRow, price_models};
use crate::scan::parse_file;
use crate::sources::{FileFormat, SessionFileRef, Warning};
use aimux_core::pricing::PriceTable;
use aimux_core::{ParsedSession, Subagent, TokenUsage, ToolCall, Turn};
use serde::Serialize;
use std::collections::HashMap;
use std::path::PathBuf;

#[derive(Debug, Clone, Serialize)]
pub struct TraceTool {
    pub id: String,
    pub name: String,
    pub input: String,
    pub output: Option<String>,
    pub success: Option<bool>,
    pub error: Option<String>,
    pub started_at: Option<String>,
    pub ended_at: Option<String>,
}

/// One turn of `aimux trace --json`. Field names are part of the CLI contract.
#[derive(Debug, Clone, Serialize)]
pub struct TraceTurn {
    pub number: u32,
    pub id: String,
    pub started_at: Option<String>,
    pub ended_at: Option<String>,
    pub model: Option<String>,
    pub user: String,
    pub output: String,
    pub tools: Vec<TraceTool>,
    pub tokens: TokenUsage,
    pub cost_usd: Option<f64>,
    pub models: Vec<ModelCost>,
    /// Set for turns of a subagent (sidechain) conversation.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subagent: Option<String>,
    /// The human label on this turn, if any.
    pub annotation: Option<Annotation>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Trace {
    pub session: SessionRow,
    pub turns: Vec<TraceTurn>,
    pub warnings: Vec<Warning>,
}

/// Reads the session's files and builds its trace.
pub fn trace(row: &SessionRow, prices: &PriceTable, annotations: &SessionAnnotations) -> Trace {
    trace_with_telemetry(row, prices, annotations, None)
}

/// [`trace`] with the OTLP telemetry of a live session merged in
/// ([`crate::otlp::merge::merge_telemetry`]): turns the file has not caught up with yet,
/// their tokens, and tool timings the file lacks.
pub fn trace_with_telemetry(
    row: &SessionRow,
    prices: &PriceTable,
    annotations: &SessionAnnotations,
    telemetry: Option<&crate::otlp::store::TelemetrySession>,
) -> Trace {
    let mut warnings = Vec::new();
    let mut parsed = Vec::new();
    for path in &row.files {
        let format = if path.ends_with(".json") {
            FileFormat::WholeJson
        } else {
            FileFormat::Jsonl
        };
        let file = SessionFileRef {
            provider: row.provider,
            path: PathBuf::from(path),
            format,
        };
        match parse_file(&file) {
            Ok(p) => {
                if p.stats.skipped() > 0 {
                    warnings.push(Warning {
                        provider: Some(row.provider),
                        file: path.clone(),
                        skipped_records: p.stats.skipped(),
                        message: format!(
                            "skipped {} malformed and {} unknown records",
                            p.stats.malformed, p.stats.unknown
                        ),
                    });
                }
                parsed.push(p.session().clone());
            }
            Err(e) => warnings.push(Warning::io(row.provider, &file.path, &e)),
        }
    }
    let merged = merge_sessions(parsed);
    let merged = match telemetry {
        Some(t) => crate::otlp::merge::merge_telemetry(Some(&merged), t),
        None => merged,
    };
    let mut turns: Vec<TraceTurn> = merged
        .turns
        .iter()
        .map(|t| trace_turn(t, None, prices, annotations))
        .collect();
    for sub in &merged.subagents {
        turns.extend(
            sub.turns
                .iter()
                .map(|t| trace_turn(t, Some(&sub.id), prices, annotations)),
        );
    }
    Trace {
        session: row.clone(),
        turns,
        warnings,
    }
}

fn trace_turn(
    t: &Turn,
    subagent: Option<&str>,
    prices: &PriceTable,
    annotations: &SessionAnnotations,
) -> TraceTurn {
    let (models, cost) = price_models(prices, &t.usage_by_model);
    TraceTurn {
        number: t.number,
        id: t.id.clone(),
        started_at: t.started_at.map(|x| x.to_rfc3339()),
        ended_at: t.ended_at.map(|x| x.to_rfc3339()),
        model: t.model.clone(),
        user: t.user.clone(),
        output: t.output.clone(),
        tools: t.tools.iter().map(trace_tool).collect(),
        tokens: t.tokens,
        cost_usd: cost,
        models,
        subagent: subagent.map(str::to_string),
        annotation: annotations.get(&t.id).cloned(),
    }
}

fn trace_tool(c: &ToolCall) -> TraceTool {
    TraceTool {
        id: c.id.clone(),
        name: c.name.clone(),
        input: c.input.clone(),
        output: c.output.clone(),
        success: c.success,
        error: c.error.clone(),
        started_at: c.started_at.map(|x| x.to_rfc3339()),
        ended_at: c.ended_at.map(|x| x.to_rfc3339()),
    }
}

/// Merges several parses of one conversation. A turn present in more than one file (a
/// resumed session that replays history) is kept once: the richer copy wins.
pub fn merge_sessions(mut parts: Vec<ParsedSession>) -> ParsedSession {
    if parts.len() <= 1 {
        return parts.pop().unwrap_or_default();
    }
    let mut out = ParsedSession::default();
    let mut turns: Vec<Turn> = Vec::new();
    let mut by_id: HashMap<String, usize> = HashMap::new();
    let mut subagents: Vec<Subagent> = Vec::new();
    for p in parts {
        out.id = out.id.or(p.id);
        out.cwd = out.cwd.or(p.cwd);
        out.title = out.title.or(p.title);
        out.note_time(p.started_at);
        out.note_time(p.last_activity);
        for t in p.turns {
            match by_id.get(&t.id) {
                Some(&i) => {
                    if let Some(prev) = turns.get_mut(i)
                        && richness(&t) > richness(prev)
                    {
                        *prev = t;
                    }
                }
                None => {
                    by_id.insert(t.id.clone(), turns.len());
                    turns.push(t);
                }
            }
        }
        for s in p.subagents {
            match subagents.iter_mut().find(|x| x.id == s.id) {
                Some(existing) => {
                    for t in s.turns {
                        if !existing.turns.iter().any(|e| e.id == t.id) {
                            existing.turns.push(t);
                        }
                    }
                }
                None => subagents.push(s),
            }
        }
        out.tail = p.tail;
    }
    turns.sort_by_key(|t| t.started_at);
    for (i, t) in turns.iter_mut().enumerate() {
        t.number = i as u32 + 1;
    }
    out.turns = turns;
    out.subagents = subagents;
    out
}

fn richness(t: &Turn) -> (u64, usize, usize) {
    (t.tokens.total(), t.tools.len(), t.output.len())
}
