//! opencode sessions (observed with opencode-ai 1.18.33).
//!
//! # Where opencode keeps a session
//! Not in a log file: in one SQLite database, `~/.local/share/opencode/opencode.db`
//! (WAL mode), shared by every session. A session is one row of table `session` (columns:
//! `id`, `parent_id`, `directory`, `title`, `time_created`, `time_updated`, token totals,
//! …), its messages rows of `message` and their parts rows of `part`; both keep the object
//! as JSON text in a `data` column (without its `id`/`sessionID`/`messageID`, which are
//! columns). opencode 0.x kept the same objects as one JSON file each under
//! `~/.local/share/opencode/storage/{session,message,part}/`; 1.x moves them into the
//! database. `opencode export <id>` prints a session as one JSON document
//! `{"info": Session, "messages": [{"info": Message, "parts": [Part]}]}`.
//!
//! # How the objects reach this parser (the contract extension)
//! aimux-core does no I/O and [`RecordParser`] takes lines, so the engine's opencode source
//! reads one session's rows and hands them over as JSONL, one opencode object per line,
//! wrapped by its kind (the objects in opencode's own shape, ids put back in):
//!
//! ```text
//! {"session": {"id": "ses_…", "parentID": …, "directory": …, "title": …, "time": {"created": ms, "updated": ms}}}
//! {"message": {"id": "msg_…", "sessionID": "ses_…", "role": "user" | "assistant", …}}
//! {"part":    {"id": "prt_…", "sessionID": "ses_…", "messageID": "msg_…", "type": …, …}}
//! ```
//!
//! A whole `opencode export` document on one line is accepted too. The one additive piece
//! of contract is [`OpencodeParser::handle_document`]: it feeds one whole JSON document of
//! a known [`DocumentKind`] (a legacy storage file, a `data` column, a pretty-printed
//! export), for callers that hold the parser itself rather than a
//! [`super::SessionFileParser`].
//!
//! Objects are keyed by id and a later copy replaces an earlier one (opencode rewrites a
//! part many times while it streams), so lines may come in any order and may repeat;
//! [`RecordParser::flush`] derives the session from what is held. A child session (a
//! `task` subagent, `parentID` set) parses like a Claude subagent file: into
//! [`ParsedSession::subagents`] only, under the parent's session id.
//!
//! # Format notes
//! * A turn is a `user` message and the `assistant` messages whose `parentID` is its id.
//!   opencode writes one assistant message per model call (step): a tool call ends the
//!   message (`finish: "tool-calls"`) and the follow-up call is a new message.
//! * Tokens: `tokens: {input, output, reasoning, cache: {read, write}}` on each assistant
//!   message and on its `step-finish` parts. opencode normalises them itself: `input`
//!   excludes cached and cache-write tokens for every provider, and `output` excludes
//!   `reasoning` (seen against an OpenAI Responses server reporting 7447 input with 3723
//!   cached + 744 cache-write, 32 output with 8 reasoning: stored `input: 2980, output: 24,
//!   reasoning: 8`). aimux's `output` is `output + reasoning`. A message's usage is the sum
//!   of its `step-finish` parts (one per model call), else the message's own `tokens`.
//!   opencode's own title request (the small model) is not stored in the session.
//! * Tool calls are parts `{"type": "tool", "tool": "bash", "callID": …, "state": {"status":
//!   "pending" | "running" | "completed" | "error", "input", "output", "error",
//!   "metadata": {"exit": n}, "time": {"start", "end"}}}`. A shell command that exits
//!   non-zero is still `completed`, with `metadata.exit` ≠ 0: aimux counts it as failed.
//! * Text parts with `synthetic: true` are written by opencode, not typed by the user.
//! * `opencode run "two words"` stores the prompt quoted (`"\"two words\""`), as opencode
//!   sends it to the model; it is kept as is.
//! * Message errors: `error: {"name": "APIError" | "MessageAbortedError" | …, "data":
//!   {"message": …}}`; `MessageAbortedError` is the user interrupting.
//! * Untitled sessions are named `New session - <ISO time>` / `Child session - <ISO time>`;
//!   those placeholders are not titles.
//!
//! [`TailState::last_record`] is one of `user`, `assistant`, `tool_use` (a tool part
//! pending or running), `tool_result` (every tool of a `tool-calls` step done, next call
//! not written yet), `interrupted` and `error`.

use super::{LineOutcome, RecordParser};
use crate::model::{ParsedSession, Subagent, TailState, Timestamp, TokenUsage, ToolCall, Turn};
use crate::text::{one_line, summarize_tool_input, truncate};
use chrono::DateTime;
use serde::{Deserialize, Serialize};
use serde_json::{Map, Value};
use std::collections::HashMap;

/// Tool outputs kept on a [`ToolCall`] are cut to this many bytes.
const MAX_TOOL_OUTPUT: usize = 4096;
/// Tool inputs (file contents for write/edit tools) are cut to this many bytes.
const MAX_TOOL_INPUT: usize = 16 * 1024;
const MAX_ERROR: usize = 300;
/// Token counts above this are taken as this: no real count comes near, and sums of
/// absurd values must not overflow.
const MAX_TOKENS: u64 = 1 << 40;

/// The kind of one whole JSON document given to [`OpencodeParser::handle_document`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum DocumentKind {
    /// A session object (`storage/session/<project>/<id>.json`, the export's `info`).
    Session,
    /// A message object with `id` and `sessionID`.
    Message,
    /// A part object with `id`, `messageID` (and `sessionID`).
    Part,
    /// An `opencode export` document.
    Export,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct OpencodeParser {
    session: ParsedSession,
    info: Option<SessionInfo>,
    /// Every message seen, one per id.
    messages: Vec<Message>,
    /// Every part seen, one per id.
    parts: Vec<Part>,
    /// id → position in `messages` / `parts`; rebuilt after deserialisation.
    #[serde(skip)]
    message_index: HashMap<String, usize>,
    #[serde(skip)]
    part_index: HashMap<String, usize>,
    /// Something changed since the session was last derived.
    dirty: bool,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
struct SessionInfo {
    id: String,
    parent_id: Option<String>,
    directory: Option<String>,
    title: Option<String>,
    created: Option<i64>,
    updated: Option<i64>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
enum Role {
    User,
    Assistant,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Message {
    id: String,
    session_id: Option<String>,
    role: Role,
    created: Option<i64>,
    completed: Option<i64>,
    /// For an assistant message: the user message it answers.
    parent_id: Option<String>,
    model: Option<String>,
    tokens: Option<TokenUsage>,
    finish: Option<String>,
    error: Option<MessageError>,
    cwd: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct MessageError {
    name: String,
    message: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct Part {
    id: String,
    message_id: String,
    kind: PartKind,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
enum PartKind {
    Text {
        text: String,
        synthetic: bool,
        end: Option<i64>,
    },
    Tool(ToolPart),
    StepFinish {
        tokens: Option<TokenUsage>,
    },
    /// A known part type that carries nothing aimux shows (`step-start`, `reasoning`,
    /// `file`, `patch`, `snapshot`, …).
    Other,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
struct ToolPart {
    call_id: String,
    name: String,
    status: String,
    input: String,
    summary: String,
    output: Option<String>,
    error: Option<String>,
    exit: Option<i64>,
    start: Option<i64>,
    end: Option<i64>,
}

/// Part types opencode 1.18 writes that need no handling of their own.
const OTHER_PART_TYPES: &[&str] = &[
    "step-start",
    "reasoning",
    "file",
    "patch",
    "snapshot",
    "agent",
    "subtask",
    "retry",
    "compaction",
];

impl RecordParser for OpencodeParser {
    fn handle_line(&mut self, line: &[u8]) -> LineOutcome {
        let Ok(Value::Object(mut map)) = serde_json::from_slice::<Value>(line) else {
            return LineOutcome::Malformed;
        };
        if let Some(v) = map.remove("session") {
            self.handle_value(DocumentKind::Session, v)
        } else if let Some(v) = map.remove("message") {
            self.handle_value(DocumentKind::Message, v)
        } else if let Some(v) = map.remove("part") {
            self.handle_value(DocumentKind::Part, v)
        } else if map.contains_key("info") && map.contains_key("messages") {
            self.handle_value(DocumentKind::Export, Value::Object(map))
        } else {
            LineOutcome::Unknown
        }
    }

    fn session(&self) -> &ParsedSession {
        &self.session
    }

    fn flush(&mut self) {
        if self.dirty {
            self.rebuild();
            self.dirty = false;
        }
    }
}

impl OpencodeParser {
    /// Feeds one whole JSON document of a known kind (pretty-printed or not). Call
    /// [`RecordParser::flush`] afterwards to derive the session.
    pub fn handle_document(&mut self, kind: DocumentKind, bytes: &[u8]) -> LineOutcome {
        match serde_json::from_slice::<Value>(bytes) {
            Ok(v) => self.handle_value(kind, v),
            Err(_) => LineOutcome::Malformed,
        }
    }

    fn handle_value(&mut self, kind: DocumentKind, v: Value) -> LineOutcome {
        let Value::Object(obj) = v else {
            return LineOutcome::Malformed;
        };
        match kind {
            DocumentKind::Session => self.handle_session(&obj),
            DocumentKind::Message => self.handle_message(&obj, None),
            DocumentKind::Part => self.handle_part(&obj, None),
            DocumentKind::Export => self.handle_export(&obj),
        }
    }

    fn handle_session(&mut self, o: &Map<String, Value>) -> LineOutcome {
        let Some(id) = str_of(o, "id") else {
            return LineOutcome::Malformed;
        };
        let time = o.get("time");
        self.info = Some(SessionInfo {
            id: id.to_string(),
            parent_id: str_of(o, "parentID").map(str::to_string),
            directory: str_of(o, "directory").map(str::to_string),
            title: str_of(o, "title")
                .filter(|t| !is_placeholder_title(t))
                .map(str::to_string),
            created: time.and_then(|t| t.get("created")).and_then(millis),
            updated: time.and_then(|t| t.get("updated")).and_then(millis),
        });
        self.dirty = true;
        LineOutcome::Handled
    }

    /// `message_id`: the id of the message enclosing the object in an export.
    fn handle_message(&mut self, o: &Map<String, Value>, message_id: Option<&str>) -> LineOutcome {
        let (Some(id), Some(role)) = (str_of(o, "id").or(message_id), str_of(o, "role")) else {
            return LineOutcome::Malformed;
        };
        let role = match role {
            "user" => Role::User,
            "assistant" => Role::Assistant,
            _ => return LineOutcome::Unknown,
        };
        let time = o.get("time");
        let error = o.get("error").and_then(Value::as_object).map(|e| {
            let name = str_of(e, "name").unwrap_or("error").to_string();
            let message = e
                .get("data")
                .and_then(|d| d.get("message"))
                .and_then(Value::as_str)
                .or_else(|| str_of(e, "message"))
                .map(|m| truncate(m.trim(), MAX_ERROR));
            MessageError { name, message }
        });
        // (A user message names the model it asks for; the answer names the one used.)
        let model = (role == Role::Assistant)
            .then(|| str_of(o, "modelID"))
            .flatten();
        let msg = Message {
            id: id.to_string(),
            session_id: str_of(o, "sessionID").map(str::to_string),
            role,
            created: time.and_then(|t| t.get("created")).and_then(millis),
            completed: time.and_then(|t| t.get("completed")).and_then(millis),
            parent_id: str_of(o, "parentID").map(str::to_string),
            model: model.map(str::to_string),
            tokens: o.get("tokens").and_then(tokens_of),
            finish: str_of(o, "finish").map(str::to_string),
            error,
            cwd: o
                .get("path")
                .and_then(|p| p.get("cwd"))
                .and_then(Value::as_str)
                .map(str::to_string),
        };
        if self.message_index.len() != self.messages.len() {
            self.message_index = index_of(self.messages.iter().map(|m| m.id.as_str()));
        }
        match self.message_index.get(&msg.id) {
            Some(&i) if i < self.messages.len() => self.messages[i] = msg,
            _ => {
                self.message_index
                    .insert(msg.id.clone(), self.messages.len());
                self.messages.push(msg);
            }
        }
        self.dirty = true;
        LineOutcome::Handled
    }

    fn handle_part(&mut self, o: &Map<String, Value>, message_id: Option<&str>) -> LineOutcome {
        let (Some(id), Some(message_id), Some(kind)) = (
            str_of(o, "id"),
            str_of(o, "messageID").or(message_id),
            str_of(o, "type"),
        ) else {
            return LineOutcome::Malformed;
        };
        let kind = match kind {
            "text" => PartKind::Text {
                text: str_of(o, "text").unwrap_or("").to_string(),
                synthetic: o.get("synthetic").and_then(Value::as_bool).unwrap_or(false),
                end: o.get("time").and_then(|t| t.get("end")).and_then(millis),
            },
            "tool" => match tool_part(o) {
                Some(t) => PartKind::Tool(t),
                None => return LineOutcome::Malformed,
            },
            "step-finish" => PartKind::StepFinish {
                tokens: o.get("tokens").and_then(tokens_of),
            },
            k if OTHER_PART_TYPES.contains(&k) => PartKind::Other,
            _ => return LineOutcome::Unknown,
        };
        let part = Part {
            id: id.to_string(),
            message_id: message_id.to_string(),
            kind,
        };
        if self.part_index.len() != self.parts.len() {
            self.part_index = index_of(self.parts.iter().map(|p| p.id.as_str()));
        }
        match self.part_index.get(&part.id) {
            Some(&i) if i < self.parts.len() => self.parts[i] = part,
            _ => {
                self.part_index.insert(part.id.clone(), self.parts.len());
                self.parts.push(part);
            }
        }
        self.dirty = true;
        LineOutcome::Handled
    }

    /// `{"info": Session, "messages": [{"info": Message, "parts": [Part]}]}`. Objects that
    /// cannot be used are skipped and make the whole document count as malformed.
    fn handle_export(&mut self, o: &Map<String, Value>) -> LineOutcome {
        let (Some(Value::Object(info)), Some(Value::Array(messages))) =
            (o.get("info"), o.get("messages"))
        else {
            return LineOutcome::Malformed;
        };
        let mut ok = self.handle_session(info) == LineOutcome::Handled;
        for m in messages {
            let Some(info) = m.get("info").and_then(Value::as_object) else {
                ok = false;
                continue;
            };
            if self.handle_message(info, None) != LineOutcome::Handled {
                ok = false;
                continue;
            }
            let id = str_of(info, "id");
            for p in m
                .get("parts")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
            {
                let outcome = match p.as_object() {
                    Some(p) => self.handle_part(p, id),
                    None => LineOutcome::Malformed,
                };
                ok &= outcome == LineOutcome::Handled;
            }
        }
        if ok {
            LineOutcome::Handled
        } else {
            LineOutcome::Malformed
        }
    }

    /// Derives turns, times and the tail from every object held.
    fn rebuild(&mut self) {
        let mut s = ParsedSession::default();
        let own_id = self
            .info
            .as_ref()
            .map(|i| i.id.clone())
            .or_else(|| self.messages.iter().find_map(|m| m.session_id.clone()));
        let parent_id = self.info.as_ref().and_then(|i| i.parent_id.clone());
        if let Some(info) = &self.info {
            s.cwd = info.directory.clone();
            s.title = info.title.clone();
            s.note_time(info.created.and_then(ts));
            s.note_time(info.updated.and_then(ts));
        }
        if s.cwd.is_none() {
            s.cwd = self.messages.iter().find_map(|m| m.cwd.clone());
        }

        let mut order: Vec<&Message> = self.messages.iter().collect();
        order.sort_by(|a, b| (a.created, &a.id).cmp(&(b.created, &b.id)));
        let mut parts_of: HashMap<&str, Vec<&Part>> = HashMap::new();
        for p in &self.parts {
            parts_of.entry(p.message_id.as_str()).or_default().push(p);
        }
        for list in parts_of.values_mut() {
            list.sort_by(|a, b| a.id.cmp(&b.id));
        }

        let mut turns: Vec<Turn> = Vec::new();
        let mut turn_of: HashMap<&str, usize> = HashMap::new();
        let mut last_action: Option<String> = None;
        for m in &order {
            let parts = parts_of
                .get(m.id.as_str())
                .map(Vec::as_slice)
                .unwrap_or(&[]);
            s.note_time(m.created.and_then(ts));
            s.note_time(m.completed.and_then(ts));
            match m.role {
                Role::User => {
                    turn_of.insert(m.id.as_str(), turns.len());
                    turns.push(Turn {
                        id: m.id.clone(),
                        number: turns.len() as u32 + 1,
                        started_at: m.created.and_then(ts),
                        ended_at: m.created.and_then(ts),
                        user: user_text(parts),
                        ..Turn::default()
                    });
                }
                Role::Assistant => {
                    let found = m
                        .parent_id
                        .as_deref()
                        .and_then(|p| turn_of.get(p).copied())
                        .or(turns.len().checked_sub(1));
                    let idx = match found {
                        Some(i) => i,
                        None => {
                            // An answer to no prompt held (a summary, or rows missing).
                            turns.push(Turn {
                                id: m.id.clone(),
                                number: 1,
                                started_at: m.created.and_then(ts),
                                ..Turn::default()
                            });
                            0
                        }
                    };
                    let Some(turn) = turns.get_mut(idx) else {
                        continue;
                    };
                    add_assistant(turn, m, parts, &mut last_action);
                    for p in parts {
                        if let PartKind::Tool(t) = &p.kind {
                            s.note_time(t.end.and_then(ts));
                        }
                    }
                }
            }
        }

        s.tail = tail_of(order.last().copied(), &parts_of, last_action);
        match (parent_id, own_id) {
            (Some(parent), own) => {
                s.id = Some(parent);
                s.subagents.push(Subagent {
                    id: own.unwrap_or_default(),
                    turns,
                });
            }
            (None, own) => {
                s.id = own;
                s.turns = turns;
            }
        }
        self.session = s;
    }
}

fn add_assistant(turn: &mut Turn, m: &Message, parts: &[&Part], last_action: &mut Option<String>) {
    let mut steps = TokenUsage::default();
    let mut has_steps = false;
    for p in parts {
        match &p.kind {
            PartKind::Text {
                text, synthetic, ..
            } if !synthetic => push_text(&mut turn.output, text),
            PartKind::Tool(t) => {
                *last_action = Some(if t.summary.is_empty() {
                    t.name.clone()
                } else {
                    format!("{}: {}", t.name, t.summary)
                });
                turn.tools.push(tool_call(t));
                if let Some(end) = t.end.and_then(ts) {
                    turn.ended_at = turn.ended_at.max(Some(end));
                }
            }
            PartKind::StepFinish { tokens: Some(t) } => {
                has_steps = true;
                steps += *t;
            }
            _ => {}
        }
    }
    let usage = if has_steps {
        steps
    } else {
        m.tokens.unwrap_or_default()
    };
    if !usage.is_zero() || m.model.is_some() {
        turn.add_usage(m.model.as_deref(), usage);
    }
    let end = m.completed.or(m.created).and_then(ts);
    turn.ended_at = turn.ended_at.max(end);
}

fn tool_call(t: &ToolPart) -> ToolCall {
    let (success, error) = match t.status.as_str() {
        "completed" => match t.exit {
            Some(code) if code != 0 => (Some(false), Some(format!("exit code {code}"))),
            _ => (Some(true), None),
        },
        "error" => (
            Some(false),
            Some(t.error.clone().unwrap_or_else(|| "error".to_string())),
        ),
        _ => (None, None),
    };
    ToolCall {
        id: t.call_id.clone(),
        name: t.name.clone(),
        input: t.input.clone(),
        output: t.output.clone(),
        success,
        error,
        started_at: t.start.and_then(ts),
        ended_at: t.end.and_then(ts),
    }
}

fn tail_of(
    last: Option<&Message>,
    parts_of: &HashMap<&str, Vec<&Part>>,
    last_action: Option<String>,
) -> TailState {
    let mut tail = TailState {
        last_action,
        ..TailState::default()
    };
    let Some(m) = last else {
        return tail;
    };
    let parts = parts_of
        .get(m.id.as_str())
        .map(Vec::as_slice)
        .unwrap_or(&[]);
    let mut at = m.completed.max(m.created);
    let mut tools = 0;
    for p in parts {
        match &p.kind {
            PartKind::Tool(t) => {
                tools += 1;
                at = at.max(t.end).max(t.start);
                if matches!(t.status.as_str(), "pending" | "running") {
                    tail.pending_tools.push(t.call_id.clone());
                }
            }
            PartKind::Text { end, .. } => at = at.max(*end),
            _ => {}
        }
    }
    tail.last_record_at = at.and_then(ts);
    let (kind, complete) = match (m.role, &m.error) {
        (Role::User, _) => ("user", false),
        (Role::Assistant, _) if !tail.pending_tools.is_empty() => ("tool_use", false),
        (Role::Assistant, Some(e)) if e.name == "MessageAbortedError" => ("interrupted", true),
        (Role::Assistant, Some(e)) => {
            tail.last_error = Some(match &e.message {
                Some(msg) => format!("{}: {}", e.name, msg),
                None => e.name.clone(),
            });
            ("error", true)
        }
        (Role::Assistant, None) => match m.finish.as_deref() {
            Some("tool-calls") => ("tool_result", false),
            Some(_) if m.completed.is_some() => ("assistant", true),
            None if m.completed.is_some() && tools == 0 => ("assistant", true),
            _ => ("assistant", false),
        },
    };
    tail.last_record = Some(kind.to_string());
    tail.turn_complete = complete;
    tail
}

fn tool_part(o: &Map<String, Value>) -> Option<ToolPart> {
    let call_id = str_of(o, "callID")?;
    let name = str_of(o, "tool")?;
    let state = o.get("state")?.as_object()?;
    let status = str_of(state, "status")?;
    let input = match state.get("input") {
        Some(Value::String(s)) => s.clone(),
        Some(v) if !v.is_null() => v.to_string(),
        _ => String::new(),
    };
    let time = state.get("time");
    Some(ToolPart {
        call_id: call_id.to_string(),
        name: name.to_string(),
        status: status.to_string(),
        summary: summarize_tool_input(&input),
        input: truncate(&input, MAX_TOOL_INPUT),
        output: str_of(state, "output").map(|s| truncate(s.trim_end(), MAX_TOOL_OUTPUT)),
        error: str_of(state, "error").map(|s| one_line(s, MAX_ERROR)),
        exit: state
            .get("metadata")
            .and_then(|m| m.get("exit"))
            .and_then(Value::as_i64),
        start: time.and_then(|t| t.get("start")).and_then(millis),
        end: time.and_then(|t| t.get("end")).and_then(millis),
    })
}

fn user_text(parts: &[&Part]) -> String {
    let mut typed = String::new();
    let mut synthetic_text = String::new();
    for p in parts {
        if let PartKind::Text {
            text, synthetic, ..
        } = &p.kind
        {
            push_text(
                if *synthetic {
                    &mut synthetic_text
                } else {
                    &mut typed
                },
                text,
            );
        }
    }
    if typed.is_empty() {
        synthetic_text
    } else {
        typed
    }
}

fn push_text(out: &mut String, text: &str) {
    if text.trim().is_empty() {
        return;
    }
    if !out.is_empty() {
        out.push_str("\n\n");
    }
    out.push_str(text);
}

fn is_placeholder_title(t: &str) -> bool {
    let rest = t
        .strip_prefix("New session - ")
        .or_else(|| t.strip_prefix("Child session - "));
    rest.is_some_and(|r| DateTime::parse_from_rfc3339(r.trim()).is_ok())
}

fn str_of<'a>(o: &'a Map<String, Value>, key: &str) -> Option<&'a str> {
    o.get(key).and_then(Value::as_str)
}

fn index_of<'a>(ids: impl Iterator<Item = &'a str>) -> HashMap<String, usize> {
    ids.enumerate().map(|(i, id)| (id.to_string(), i)).collect()
}

/// Milliseconds since the epoch, as an integer or a float.
fn millis(v: &Value) -> Option<i64> {
    v.as_i64().or_else(|| {
        v.as_f64()
            .filter(|f| f.is_finite() && f.abs() < 1e15)
            .map(|f| f as i64)
    })
}

fn ts(ms: i64) -> Option<Timestamp> {
    DateTime::from_timestamp_millis(ms)
}

fn count(v: Option<&Value>) -> u64 {
    let n = v.and_then(|v| {
        v.as_u64().or_else(|| {
            v.as_f64()
                .filter(|f| f.is_finite() && *f >= 0.0)
                .map(|f| f.min(MAX_TOKENS as f64) as u64)
        })
    });
    n.unwrap_or(0).min(MAX_TOKENS)
}

/// opencode's `{input, output, reasoning, cache: {read, write}}` → aimux's convention.
fn tokens_of(v: &Value) -> Option<TokenUsage> {
    let o = v.as_object()?;
    let cache = o.get("cache");
    Some(TokenUsage {
        input: count(o.get("input")),
        output: count(o.get("output")) + count(o.get("reasoning")),
        cache_read: count(cache.and_then(|c| c.get("read"))),
        cache_write: count(cache.and_then(|c| c.get("write"))),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn feed(p: &mut OpencodeParser, lines: &[Value]) -> Vec<LineOutcome> {
        let out = lines
            .iter()
            .map(|l| p.handle_line(l.to_string().as_bytes()))
            .collect();
        p.flush();
        out
    }

    fn user(id: &str, at: i64, text: &str) -> [Value; 2] {
        [
            serde_json::json!({"message": {"id": id, "sessionID": "ses_1", "role": "user",
                "time": {"created": at}}}),
            serde_json::json!({"part": {"id": format!("prt_{id}"), "messageID": id,
                "sessionID": "ses_1", "type": "text", "text": text}}),
        ]
    }

    #[test]
    fn running_tool_is_pending_then_done() {
        let mut p = OpencodeParser::default();
        let [u, ut] = user("msg_1", 1_000, "USE_TOOL");
        let a = serde_json::json!({"message": {"id": "msg_2", "sessionID": "ses_1",
            "role": "assistant", "parentID": "msg_1", "modelID": "m", "time": {"created": 2_000}}});
        let running = serde_json::json!({"part": {"id": "prt_3", "messageID": "msg_2",
            "type": "tool", "tool": "bash", "callID": "call_1",
            "state": {"status": "running", "input": {"command": "sleep 30"},
                      "time": {"start": 2_100}}}});
        feed(&mut p, &[u, ut, a, running]);
        let s = p.session();
        assert_eq!(s.tail.last_record.as_deref(), Some("tool_use"));
        assert_eq!(s.tail.pending_tools, vec!["call_1".to_string()]);
        assert_eq!(s.tail.last_action.as_deref(), Some("bash: sleep 30"));
        assert!(!s.tail.turn_complete);
        assert_eq!(s.turns[0].tools[0].success, None);

        let done = serde_json::json!({"part": {"id": "prt_3", "messageID": "msg_2",
            "type": "tool", "tool": "bash", "callID": "call_1",
            "state": {"status": "error", "input": {"command": "sleep 30"},
                      "error": "Tool execution aborted", "time": {"start": 2_100, "end": 9_000}}}});
        feed(&mut p, &[done]);
        let s = p.session();
        assert!(s.tail.pending_tools.is_empty());
        assert_eq!(
            s.turns[0].tools.len(),
            1,
            "a rewritten part replaces the old copy"
        );
        assert_eq!(s.turns[0].tools[0].success, Some(false));
        assert_eq!(
            s.turns[0].tools[0].error.as_deref(),
            Some("Tool execution aborted")
        );
    }

    #[test]
    fn aborted_and_failed_messages_end_the_turn() {
        for (name, want) in [
            ("MessageAbortedError", "interrupted"),
            ("APIError", "error"),
        ] {
            let mut p = OpencodeParser::default();
            let [u, ut] = user("msg_1", 1_000, "hi");
            let a = serde_json::json!({"message": {"id": "msg_2", "role": "assistant",
                "sessionID": "ses_1", "parentID": "msg_1", "time": {"created": 2_000},
                "error": {"name": name, "data": {"message": "boom"}}}});
            feed(&mut p, &[u, ut, a]);
            let t = &p.session().tail;
            assert_eq!(t.last_record.as_deref(), Some(want));
            assert!(t.turn_complete);
            assert_eq!(t.last_error.is_some(), want == "error");
        }
    }

    #[test]
    fn child_session_parses_as_subagent_of_parent() {
        let mut p = OpencodeParser::default();
        let info = serde_json::json!({"session": {"id": "ses_child", "parentID": "ses_parent",
            "directory": "/w", "title": "Child session - 2026-01-01T00:00:00.000Z",
            "time": {"created": 500, "updated": 3_000}}});
        let [u, ut] = user("msg_1", 1_000, "sub task");
        let a = serde_json::json!({"message": {"id": "msg_2", "role": "assistant",
            "sessionID": "ses_child", "parentID": "msg_1", "modelID": "m",
            "time": {"created": 2_000, "completed": 2_500}, "finish": "stop",
            "tokens": {"input": 10, "output": 5, "reasoning": 2, "cache": {"read": 3, "write": 1}}}});
        let outcomes = feed(&mut p, &[info, u, ut, a]);
        assert!(outcomes.iter().all(|o| *o == LineOutcome::Handled));
        let s = p.session();
        assert_eq!(s.id.as_deref(), Some("ses_parent"));
        assert!(s.turns.is_empty());
        assert_eq!(s.subagents.len(), 1);
        assert_eq!(s.subagents[0].id, "ses_child");
        assert_eq!(s.title, None, "placeholder titles are not titles");
        assert_eq!(
            s.tokens(),
            TokenUsage {
                input: 10,
                output: 7,
                cache_read: 3,
                cache_write: 1
            }
        );
    }

    #[test]
    fn state_survives_serialisation() {
        let mut p = OpencodeParser::default();
        let [u, ut] = user("msg_1", 1_000, "first");
        feed(&mut p, &[u, ut]);
        let json = serde_json::to_string(&p).expect("serialise");
        let mut q: OpencodeParser = serde_json::from_str(&json).expect("deserialise");
        let [u2, ut2] = user("msg_3", 5_000, "second");
        // The first message rewritten after the restore must replace, not duplicate.
        let [u1, _] = user("msg_1", 1_000, "first");
        feed(&mut q, &[u2, ut2, u1]);
        let users: Vec<&str> = q.session().turns.iter().map(|t| t.user.as_str()).collect();
        assert_eq!(users, ["first", "second"]);
    }
}
