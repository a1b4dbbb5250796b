//! Codex CLI rollout files: `~/.codex/sessions/YYYY/MM/DD/rollout-<ts>-<uuid>.jsonl`.
//!
//! Every line is `{"timestamp","ordinal","type","payload"}` (`ordinal` since ~0.17x). What
//! codex-cli 0.171.0 writes, and what this parser makes of it:
//!
//! * `session_meta`: session id (`payload.id`), `cwd`, start time. `base_instructions` (20 KB)
//!   is skipped by the deserializer without being allocated. A fork's meta carries
//!   `forked_from_id` and a `history_base` pointing into the parent file: the history is
//!   *referenced*, not copied, but the cumulative token counter carries on from the parent
//!   (see tokens below).
//! * `turn_context`: the model of the turn (`payload.model`) and its `turn_id`.
//! * `event_msg/task_started` opens a turn; its `turn_id` (a UUIDv7 also carried by
//!   `turn_context`, `item_completed`, `task_complete` and the response items'
//!   `internal_chat_message_metadata_passthrough.turn_id`) is the turn's stable id. Older
//!   rollouts with no turn ids open a turn at `event_msg/user_message`; its id is then the
//!   record's `timestamp#ordinal` (or the bare timestamp), which is stable and identical
//!   when a record is repeated.
//! * The prompt is `event_msg/item_completed` with an `item.type = UserMessage` ("paginated"
//!   history, 0.171.0's default) or `event_msg/user_message` ("legacy" history). Response
//!   items with `role: user|developer` are the model's input (environment context,
//!   instructions, `<turn_aborted>` notices, and a mirror of the prompt), so they are never
//!   read as prompts. A message typed while the agent works (steering) arrives as another
//!   UserMessage with the *same* turn id and is appended to that turn's prompt.
//! * Answers: `item_completed/AgentMessage`, legacy `event_msg/agent_message`, and the
//!   `response_item` assistant `message` that mirrors them. All are appended to
//!   `Turn::output`, and a text already present in the turn is not added again.
//! * Tools: `response_item/function_call` (`name`, `arguments`, `call_id`),
//!   `custom_tool_call` (`input`), `local_shell_call` (`action.command`), `web_search_call`;
//!   results in `function_call_output` / `custom_tool_call_output`, matched by `call_id`.
//!   Success comes from the command's exit status, never from words in the output:
//!   `item_completed/CommandExecution.exit_code` (0.171.0), legacy `exec_command_end.exit_code`,
//!   `patch_apply_end.success`, `mcp_tool_call_end.result`, or else the header of the
//!   output text: `Process exited with code N` (unified exec, 0.171.0), `Exit code: N`
//!   (`shell_command`), or the legacy JSON `{"output":…,"metadata":{"exit_code":N}}`. An
//!   interrupted call's output is `…\naborted by user` and counts as failed; the background
//!   process may still report `exit_code: 0` later, which does not undo that.
//! * `event_msg/task_complete` ends the turn (0.171.0 puts a failed request's message in
//!   its `error`); `turn_aborted` ends it too (interrupt).
//! * Tokens, see [`CodexParser::on_token_count`].
//! * Known record types with nothing for us: `world_state`, `token_usage_record`,
//!   `compacted`, `tool_manifest`, `sampling_boundary`, `inter_agent_communication*`.
//!   Other top-level types count as unknown.
//! * Unknown *subtypes* of a known record (`event_msg` or `response_item` payload types,
//!   `item_completed` item types) are Handled and ignored: Codex adds such events often and
//!   counting each one as a warning would only be noise; the line itself is well-formed.
//!
//! Thread names live in `~/.codex/session_index.jsonl`; the engine reads them, so `title`
//! stays `None` here.

use super::{LineOutcome, RecordParser};
use crate::model::{ParsedSession, Timestamp, TokenUsage, ToolCall, Turn};
use crate::text;
use chrono::{DateTime, Utc};
use serde::de::value::MapAccessDeserializer;
use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Serialize};
use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt;
use std::marker::PhantomData;

/// Tool output kept per call (the full output stays in the file).
const OUTPUT_CAP: usize = 4096;
/// Length of the error excerpt of a failed call.
const ERROR_CAP: usize = 200;

/// Token counters as OpenAI reports them: `input` *includes* the cached and cache-write
/// prompt tokens; `output` includes reasoning tokens.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
struct RawUsage {
    input: u64,
    cached: u64,
    cache_write: u64,
    output: u64,
}

impl RawUsage {
    fn fits_under(&self, o: &RawUsage) -> bool {
        self.input <= o.input
            && self.cached <= o.cached
            && self.cache_write <= o.cache_write
            && self.output <= o.output
    }

    fn saturating_sub(&self, o: &RawUsage) -> RawUsage {
        RawUsage {
            input: self.input.saturating_sub(o.input),
            cached: self.cached.saturating_sub(o.cached),
            cache_write: self.cache_write.saturating_sub(o.cache_write),
            output: self.output.saturating_sub(o.output),
        }
    }

    fn max(&self, o: &RawUsage) -> RawUsage {
        RawUsage {
            input: self.input.max(o.input),
            cached: self.cached.max(o.cached),
            cache_write: self.cache_write.max(o.cache_write),
            output: self.output.max(o.output),
        }
    }

    fn min(&self, o: &RawUsage) -> RawUsage {
        RawUsage {
            input: self.input.min(o.input),
            cached: self.cached.min(o.cached),
            cache_write: self.cache_write.min(o.cache_write),
            output: self.output.min(o.output),
        }
    }

    /// To aimux's convention. OpenAI's `input_tokens` counts every prompt token, cached
    /// ones included, so the uncached input is what is left after the cached and the
    /// cache-write tokens (both subsets of `input_tokens`; `total_tokens` = input + output
    /// in every record). `output_tokens` already includes `reasoning_output_tokens`
    /// (Responses API: `output_tokens_details.reasoning_tokens` is a breakdown of
    /// `output_tokens`, and `total_tokens` = input + output leaves no room for reasoning on
    /// top); the fake server always reports 0 reasoning tokens, so the samples cannot show
    /// it either way, and reasoning is therefore never added again.
    fn normalized(&self) -> TokenUsage {
        TokenUsage {
            input: self
                .input
                .saturating_sub(self.cached)
                .saturating_sub(self.cache_write),
            output: self.output,
            cache_read: self.cached,
            cache_write: self.cache_write,
        }
    }
}

/// Per-turn bookkeeping that is not part of the shared model.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
struct TurnAux {
    /// Hashes of the prompt texts already in `Turn::user`.
    #[serde(default)]
    user: Vec<u64>,
    /// Hashes of the answer texts already in `Turn::output`.
    #[serde(default)]
    output: Vec<u64>,
}

/// Where a call id's [`ToolCall`] lives, and how its status was decided.
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize)]
struct CallRef {
    turn: usize,
    tool: usize,
    /// Status set from an exit-code event: the output text does not override it.
    #[serde(default)]
    from_event: bool,
    /// Interrupted by the user: a later exit code of the background process is ignored.
    #[serde(default)]
    aborted: bool,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct CodexParser {
    session: ParsedSession,
    /// The model of the latest `turn_context`.
    #[serde(default)]
    model: Option<String>,
    /// Index of the turn new records belong to.
    #[serde(default)]
    current: Option<usize>,
    /// The current turn was re-entered (a repeated record of an earlier turn).
    #[serde(default)]
    current_reopened: bool,
    #[serde(default)]
    turn_ids: HashMap<String, usize>,
    #[serde(default)]
    aux: Vec<TurnAux>,
    #[serde(default)]
    calls: HashMap<String, CallRef>,
    /// The highest cumulative token counters seen in this file.
    #[serde(default)]
    baseline: Option<RawUsage>,
    /// Lines handed to the parser; names records that have neither timestamp nor ordinal.
    #[serde(default)]
    lines: u64,
}

impl RecordParser for CodexParser {
    fn handle_line(&mut self, line: &[u8]) -> LineOutcome {
        self.lines += 1;
        let rec: Line<'_> = match super::from_line(line) {
            Ok(rec) => rec,
            Err(_) => return LineOutcome::Malformed,
        };
        let Some(kind) = rec.kind.as_deref() else {
            return LineOutcome::Malformed;
        };
        let ts = rec.timestamp.as_deref().and_then(parse_ts);
        let at = At {
            ts,
            raw_ts: rec.timestamp.as_deref(),
            ordinal: rec.ordinal,
        };
        match (record_kind(kind), rec.payload) {
            (Kind::Unknown, _) => {
                self.session.note_time(ts);
                LineOutcome::Unknown
            }
            (Kind::Ignored, _) => {
                self.session.note_time(ts);
                LineOutcome::Handled
            }
            (Kind::SessionMeta, Payload::SessionMeta(m)) => {
                self.session.note_time(ts);
                self.on_session_meta(m);
                LineOutcome::Handled
            }
            (Kind::TurnContext, Payload::TurnContext(c)) => {
                self.session.note_time(ts);
                self.on_turn_context(c, &at);
                LineOutcome::Handled
            }
            (Kind::EventMsg, Payload::Event(e)) => {
                self.session.note_time(ts);
                self.on_event(e, &at);
                LineOutcome::Handled
            }
            (Kind::ResponseItem, Payload::Item(i)) => {
                self.session.note_time(ts);
                self.on_item(i, &at);
                LineOutcome::Handled
            }
            // A known type without a usable payload.
            _ => LineOutcome::Malformed,
        }
    }

    fn session(&self) -> &ParsedSession {
        &self.session
    }
}

/// Where a record sits: its time and ordinal.
struct At<'r> {
    ts: Option<Timestamp>,
    raw_ts: Option<&'r str>,
    ordinal: Option<u64>,
}

fn parse_ts(s: &str) -> Option<Timestamp> {
    DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|d| d.with_timezone(&Utc))
}

/// FNV-1a: a hash that stays the same across processes, so it can be persisted.
fn text_hash(s: &str) -> u64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in s.as_bytes() {
        h ^= u64::from(*b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h
}

impl CodexParser {
    // ----------------------------------------------------------------------------- turns

    fn fallback_id(&self, at: &At<'_>) -> String {
        match (at.raw_ts, at.ordinal) {
            (Some(ts), Some(o)) => format!("{ts}#{o}"),
            (Some(ts), None) => ts.to_string(),
            (None, Some(o)) => format!("#{o}"),
            (None, None) => format!("line{}", self.lines),
        }
    }

    /// Makes the turn with this id current, creating it if new.
    fn open_turn(&mut self, id: &str, ts: Option<Timestamp>) -> usize {
        if let Some(&i) = self.turn_ids.get(id) {
            if self.current != Some(i) {
                self.current = Some(i);
                self.current_reopened = true;
            }
            return i;
        }
        let i = self.session.turns.len();
        self.session.turns.push(Turn {
            id: id.to_string(),
            number: u32::try_from(i + 1).unwrap_or(u32::MAX),
            started_at: ts,
            model: self.model.clone(),
            ..Turn::default()
        });
        self.aux.push(TurnAux::default());
        self.turn_ids.insert(id.to_string(), i);
        self.current = Some(i);
        self.current_reopened = false;
        i
    }

    /// The current turn, or a new one when the file has none yet (records before any
    /// prompt, a file that starts mid-session).
    fn current_or_new(&mut self, at: &At<'_>) -> usize {
        match self.current {
            Some(i) if i < self.session.turns.len() => i,
            _ => {
                let id = self.fallback_id(at);
                self.open_turn(&id, at.ts)
            }
        }
    }

    /// The turn a record names by id if known, else the current one. Never switches turns:
    /// late records (a background command finishing) must not pull later records back.
    fn turn_for(&mut self, turn_id: Option<&str>, at: &At<'_>) -> usize {
        if let Some(&i) = turn_id.and_then(|t| self.turn_ids.get(t)) {
            return i;
        }
        self.current_or_new(at)
    }

    fn is_fresh(&self, i: usize) -> bool {
        self.session
            .turns
            .get(i)
            .is_some_and(|t| t.user.is_empty() && t.output.is_empty() && t.tools.is_empty())
    }

    fn tail(&mut self, kind: &str, at: &At<'_>) {
        let tail = &mut self.session.tail;
        tail.last_record = Some(kind.to_string());
        if at.ts.is_some() {
            tail.last_record_at = at.ts;
        }
    }

    /// A record of the live turn: the agent is not done.
    fn busy(&mut self, kind: &str, at: &At<'_>) {
        self.tail(kind, at);
        self.session.tail.turn_complete = false;
    }

    fn end_turn(&mut self, turn_id: Option<&str>, kind: &str, at: &At<'_>) {
        let i = self.turn_for(turn_id, at);
        if let Some(t) = self.session.turns.get_mut(i)
            && at.ts.is_some()
        {
            t.ended_at = at.ts;
        }
        self.tail(kind, at);
        self.session.tail.turn_complete = true;
        // Whatever is still running belongs to a finished turn (background terminals).
        self.session.tail.pending_tools.clear();
    }

    fn add_user_text(&mut self, turn_id: Option<&str>, text: &str, at: &At<'_>) {
        let text = text.trim();
        let hash = text_hash(text);
        let i = match turn_id {
            Some(id) => self.open_turn(id, at.ts),
            None => match self.current {
                Some(i)
                    if self.is_fresh(i)
                        || self.aux.get(i).is_some_and(|a| a.user.contains(&hash)) =>
                {
                    i
                }
                _ => {
                    let id = self.fallback_id(at);
                    self.open_turn(&id, at.ts)
                }
            },
        };
        if !text.is_empty()
            && let (Some(t), Some(a)) = (self.session.turns.get_mut(i), self.aux.get_mut(i))
            && !a.user.contains(&hash)
        {
            a.user.push(hash);
            if !t.user.is_empty() {
                t.user.push_str("\n\n");
            }
            t.user.push_str(text);
        }
        self.busy("user", at);
        self.session.tail.last_error = None;
    }

    fn add_output_text(&mut self, turn_id: Option<&str>, text: &str, at: &At<'_>) {
        let text = text.trim();
        if text.is_empty() {
            return;
        }
        let i = self.turn_for(turn_id, at);
        let hash = text_hash(text);
        if let (Some(t), Some(a)) = (self.session.turns.get_mut(i), self.aux.get_mut(i))
            && !a.output.contains(&hash)
        {
            a.output.push(hash);
            if !t.output.is_empty() {
                t.output.push_str("\n\n");
            }
            t.output.push_str(text);
        }
        self.tail("assistant", at);
    }

    // ----------------------------------------------------------------------------- records

    fn on_session_meta(&mut self, m: SessionMeta<'_>) {
        let s = &mut self.session;
        if s.id.is_none() {
            s.id = m.id.or(m.session_id).map(|v| v.0.into_owned());
        }
        if s.cwd.is_none() {
            s.cwd = m.cwd.map(|v| v.0.into_owned());
        }
        s.note_time(m.timestamp.as_deref().and_then(parse_ts));
    }

    fn on_turn_context(&mut self, c: TurnContext<'_>, at: &At<'_>) {
        if let Some(m) = c.model {
            self.model = Some(m.0.into_owned());
        }
        if self.session.cwd.is_none() {
            self.session.cwd = c.cwd.map(|v| v.0.into_owned());
        }
        let i = match c.turn_id.as_deref() {
            Some(id) => Some(self.open_turn(id, at.ts)),
            None => self.current,
        };
        let model = self.model.clone();
        if let Some(t) = i.and_then(|i| self.session.turns.get_mut(i))
            && t.model.is_none()
        {
            t.model = model;
        }
    }

    fn on_event(&mut self, e: Event<'_>, at: &At<'_>) {
        match e {
            Event::TaskStarted(t) => {
                match t.turn_id.as_deref() {
                    Some(id) => {
                        self.open_turn(id, at.ts);
                    }
                    None => {
                        // Legacy: no id; the prompt that follows fills this turn.
                        let id = self.fallback_id(at);
                        self.open_turn(&id, at.ts);
                    }
                }
                self.busy("task_started", at);
                self.session.tail.last_error = None;
            }
            Event::TaskComplete(t) => {
                let i = self.turn_for(t.turn_id.as_deref(), at);
                if let Some(msg) = t.last_agent_message.as_deref() {
                    let empty = self
                        .session
                        .turns
                        .get(i)
                        .is_some_and(|t| t.output.is_empty());
                    if empty {
                        let id = self.session.turns.get(i).map(|t| t.id.clone());
                        self.add_output_text(id.as_deref(), msg, at);
                    }
                }
                self.end_turn(t.turn_id.as_deref(), "task_complete", at);
                if let Some(err) = t.error.and_then(|e| e.0) {
                    self.session.tail.last_error = Some(text::one_line(&err, ERROR_CAP));
                }
            }
            Event::TurnAborted(t) => {
                self.end_turn(t.turn_id.as_deref(), "turn_aborted", at);
            }
            Event::UserMessage(m) => {
                if let Some(text) = m.message {
                    self.add_user_text(None, &text, at);
                }
            }
            Event::AgentMessage(m) => {
                if let Some(text) = m.message {
                    self.add_output_text(None, &text, at);
                }
            }
            Event::Error(m) => {
                if let Some(text) = m.message {
                    self.session.tail.last_error = Some(text::one_line(&text, ERROR_CAP));
                }
                self.tail("error", at);
            }
            Event::TokenCount(c) => {
                if let Some(info) = c.info {
                    self.on_token_count(info, at);
                }
            }
            Event::ThreadSettings(s) => {
                if self.model.is_none() {
                    self.model = s
                        .thread_settings
                        .and_then(|t| t.model)
                        .map(|m| m.0.into_owned());
                }
            }
            Event::ItemCompleted(c) => self.on_item_completed(c, at),
            Event::ExecCommandEnd(e) => {
                if let Some(id) = e.call_id {
                    let output = e
                        .aggregated_output
                        .or(e.formatted_output)
                        .filter(|s| !s.is_empty())
                        .or(e.stderr);
                    let success = match (e.exit_code, e.status.as_deref()) {
                        (Some(code), _) => Some(code == 0),
                        (None, Some(s)) => status_success(s),
                        (None, None) => None,
                    };
                    self.on_exit_status(&id, success, e.exit_code, output.as_deref(), at);
                }
            }
            Event::PatchApplyEnd(e) => {
                if let Some(id) = e.call_id {
                    let output = if e.success == Some(false) {
                        e.stderr.or(e.stdout)
                    } else {
                        e.stdout
                    };
                    self.on_exit_status(&id, e.success, None, output.as_deref(), at);
                }
            }
            Event::McpToolCallEnd(e) => {
                if let (Some(id), Some(r)) = (e.call_id, e.result) {
                    let success = match (r.ok, r.err) {
                        (Some(ok), _) => Some(!ok.is_error.unwrap_or(false)),
                        (None, Some(_)) => Some(false),
                        (None, None) => None,
                    };
                    self.on_exit_status(&id, success, None, None, at);
                }
            }
            Event::Other => {}
        }
    }

    fn on_item_completed(&mut self, c: ItemCompleted<'_>, at: &At<'_>) {
        let turn_id = c.turn_id.as_deref();
        match c.item {
            Some(TurnItem::UserMessage(m)) => {
                let text = join_texts(&m.content);
                self.add_user_text(turn_id, &text, at);
            }
            Some(TurnItem::AgentMessage(m)) => {
                let text = join_texts(&m.content);
                self.add_output_text(turn_id, &text, at);
            }
            Some(TurnItem::CommandExecution(x)) => {
                if let Some(id) = x.id {
                    let success = match (x.exit_code, x.status.as_deref()) {
                        (Some(code), _) => Some(code == 0),
                        (None, Some(s)) => status_success(s),
                        (None, None) => None,
                    };
                    self.on_exit_status(
                        &id,
                        success,
                        x.exit_code,
                        x.aggregated_output.as_deref(),
                        at,
                    );
                }
            }
            Some(TurnItem::Other) | None => {}
        }
    }

    fn on_item(&mut self, item: Item<'_>, at: &At<'_>) {
        match item {
            Item::Message(m) => {
                // Only the assistant's side: user/developer messages are model input.
                if m.role.as_deref() == Some("assistant") {
                    let text = join_texts(&m.content);
                    let turn_id = m.passthrough.and_then(|p| p.turn_id);
                    self.add_output_text(turn_id.as_deref(), &text, at);
                }
            }
            Item::AgentMessage(m) => {
                let text = match m.text {
                    Some(t) => t.0.into_owned(),
                    None => join_texts(&m.content),
                };
                let turn_id = m.passthrough.and_then(|p| p.turn_id);
                self.add_output_text(turn_id.as_deref(), &text, at);
            }
            Item::FunctionCall(f) => {
                let turn_id = f.passthrough.and_then(|p| p.turn_id);
                let name = f.name.map(|s| s.0).unwrap_or(Cow::Borrowed("function"));
                let input = f.arguments.map(|s| s.0).unwrap_or_default();
                let id = f.call_id.or(f.id);
                self.add_tool(id.as_deref(), &name, &input, turn_id.as_deref(), None, at);
            }
            Item::CustomToolCall(f) => {
                let turn_id = f.passthrough.and_then(|p| p.turn_id);
                let name = f.name.map(|s| s.0).unwrap_or(Cow::Borrowed("custom_tool"));
                let input = f.input.map(|s| s.0).unwrap_or_default();
                let id = f.call_id.or(f.id);
                self.add_tool(id.as_deref(), &name, &input, turn_id.as_deref(), None, at);
            }
            Item::LocalShellCall(f) => {
                let turn_id = f.passthrough.and_then(|p| p.turn_id);
                let input = f
                    .action
                    .map(|a| {
                        a.command
                            .iter()
                            .map(|p| p.0.as_ref())
                            .collect::<Vec<_>>()
                            .join(" ")
                    })
                    .unwrap_or_default();
                let id = f.call_id.or(f.id);
                self.add_tool(
                    id.as_deref(),
                    "local_shell",
                    &input,
                    turn_id.as_deref(),
                    None,
                    at,
                );
            }
            Item::WebSearchCall(w) => {
                let turn_id = w.passthrough.and_then(|p| p.turn_id);
                let query = w
                    .action
                    .and_then(|a| a.query)
                    .map(|q| q.0)
                    .unwrap_or_default();
                let done = w.status.as_deref().and_then(status_success);
                let id = w.id.or(w.call_id);
                self.add_tool(
                    id.as_deref(),
                    "web_search",
                    &query,
                    turn_id.as_deref(),
                    done,
                    at,
                );
            }
            Item::ToolOutput(o) => {
                if let Some(id) = o.call_id {
                    let out = o.output.unwrap_or_default();
                    self.on_tool_output(&id, out, at);
                }
            }
            Item::Reasoning => {
                if self.current.is_some() && !self.session.tail.turn_complete {
                    self.busy("reasoning", at);
                }
            }
            Item::Other => {}
        }
    }

    // ----------------------------------------------------------------------------- tools

    /// Records a tool call. `done` is a status known at once (web searches).
    fn add_tool(
        &mut self,
        call_id: Option<&str>,
        name: &str,
        input: &str,
        turn_id: Option<&str>,
        done: Option<bool>,
        at: &At<'_>,
    ) {
        let id = match call_id {
            Some(id) => id.to_string(),
            None => format!("{}-tool", self.fallback_id(at)),
        };
        if self.calls.contains_key(&id) {
            return; // a repeated record
        }
        let ti = self.turn_for(turn_id, at);
        let Some(turn) = self.session.turns.get_mut(ti) else {
            return;
        };
        let tool = turn.tools.len();
        turn.tools.push(ToolCall {
            id: id.clone(),
            name: name.to_string(),
            input: input.to_string(),
            output: None,
            success: done,
            error: None,
            started_at: at.ts,
            ended_at: done.and(at.ts),
        });
        self.calls.insert(
            id.clone(),
            CallRef {
                turn: ti,
                tool,
                ..CallRef::default()
            },
        );
        let summary = text::summarize_tool_input(input);
        self.session.tail.last_action = Some(if summary.is_empty() {
            name.to_string()
        } else {
            format!("{name}: {summary}")
        });
        if done.is_none() {
            self.session.tail.pending_tools.push(id);
            self.busy("tool_use", at);
        } else {
            self.busy("tool_result", at);
        }
    }

    fn tool_mut(&mut self, call_id: &str) -> Option<(&mut ToolCall, &mut CallRef)> {
        let cref = self.calls.get_mut(call_id)?;
        let tool = self
            .session
            .turns
            .get_mut(cref.turn)
            .and_then(|t| t.tools.get_mut(cref.tool))?;
        Some((tool, cref))
    }

    fn on_tool_output(&mut self, call_id: &str, out: ToolOutput<'_>, at: &At<'_>) {
        let Some((tool, cref)) = self.tool_mut(call_id) else {
            return; // output of a call this file never showed
        };
        let facts = output_facts(&out.text);
        tool.output = Some(text::truncate(facts.body.trim_end(), OUTPUT_CAP));
        if at.ts.is_some() {
            tool.ended_at = at.ts;
        }
        if !cref.from_event {
            if facts.aborted {
                cref.aborted = true;
                tool.success = Some(false);
                tool.error = Some("aborted by user".to_string());
            } else if let Some(code) = facts.exit_code {
                tool.success = Some(code == 0);
                tool.error = (code != 0).then(|| failure_excerpt(Some(code), &facts.body));
            } else if let Some(ok) = out.success {
                tool.success = Some(ok);
                tool.error = (!ok).then(|| failure_excerpt(None, &facts.body));
            } else {
                // Answered, and nothing says it failed (a still-running process, a file
                // read, a patch without a status line).
                tool.success = Some(true);
                tool.error = None;
            }
        }
        self.session.tail.pending_tools.retain(|p| p != call_id);
        if !self.session.tail.turn_complete {
            self.busy("tool_result", at);
        }
    }

    /// An exit status reported by an event; it outranks the output text.
    fn on_exit_status(
        &mut self,
        call_id: &str,
        success: Option<bool>,
        exit_code: Option<i64>,
        output: Option<&str>,
        at: &At<'_>,
    ) {
        let Some((tool, cref)) = self.tool_mut(call_id) else {
            return; // e.g. a user's `!cmd` shell command: not a tool call of the agent
        };
        if cref.aborted {
            return;
        }
        if tool.output.is_none()
            && let Some(o) = output
        {
            tool.output = Some(text::truncate(o.trim_end(), OUTPUT_CAP));
        }
        if tool.ended_at.is_none() {
            tool.ended_at = at.ts;
        }
        if let Some(ok) = success {
            cref.from_event = true;
            tool.success = Some(ok);
            tool.error = if ok {
                None
            } else {
                Some(failure_excerpt(exit_code, output.unwrap_or("")))
            };
        }
    }

    // ----------------------------------------------------------------------------- tokens

    /// `event_msg/token_count` carries the thread's CUMULATIVE `total_token_usage` (and the
    /// last request's `last_token_usage`). A turn is charged the growth of the total:
    ///
    /// * the same total again (Codex repeats it at turn start, around compaction) adds 0;
    /// * the first total of a file is charged only its `last_token_usage`: a fork (and a
    ///   resume into a new file) keeps counting from the parent's total, so charging the
    ///   whole total would bill the parent's history again;
    /// * a total that went backwards is a repeated old record when the current turn is a
    ///   re-entered earlier turn (adds 0, the baseline stays at the high-water mark);
    ///   otherwise Codex reset its counter (e.g. filling the context window) and the new
    ///   request's `last_token_usage` is charged from the new baseline.
    fn on_token_count(&mut self, info: TokenInfo, at: &At<'_>) {
        let Some(total) = info.total_token_usage.map(|u| u.raw()) else {
            return;
        };
        let last = info.last_token_usage.map(|u| u.raw());
        let delta = match self.baseline {
            None => {
                self.baseline = Some(total);
                last.map_or(total, |l| l.min(&total))
            }
            Some(base) if base.fits_under(&total) => {
                self.baseline = Some(total);
                total.saturating_sub(&base)
            }
            Some(base) if self.current_reopened => {
                self.baseline = Some(base.max(&total));
                RawUsage::default()
            }
            Some(_) => {
                self.baseline = Some(total);
                last.map_or(RawUsage::default(), |l| l.min(&total))
            }
        };
        let tokens = delta.normalized();
        if tokens.is_zero() {
            return;
        }
        let i = self.current_or_new(at);
        let model = self.model.clone();
        if let Some(t) = self.session.turns.get_mut(i) {
            t.add_usage(model.as_deref(), tokens);
        }
    }
}

fn status_success(status: &str) -> Option<bool> {
    match status {
        "completed" | "success" | "succeeded" => Some(true),
        "failed" | "declined" | "error" | "incomplete" => Some(false),
        _ => None,
    }
}

fn failure_excerpt(exit_code: Option<i64>, body: &str) -> String {
    let line = text::one_line(body, ERROR_CAP);
    match (exit_code, line.is_empty()) {
        (Some(c), true) => format!("exit {c}"),
        (Some(c), false) => format!("exit {c}: {line}"),
        (None, true) => "failed".to_string(),
        (None, false) => line,
    }
}

/// What a tool's output text says about how the tool ended.
struct OutputFacts<'t> {
    exit_code: Option<i64>,
    aborted: bool,
    /// The command's own output, without Codex's header lines.
    body: Cow<'t, str>,
}

/// Reads the header Codex puts before a tool's output. Only the header is searched, so
/// words or numbers in the command's own output never decide the status.
fn output_facts(text: &str) -> OutputFacts<'_> {
    if text.trim_start().starts_with('{')
        && let Ok(j) = serde_json::from_str::<LegacyShellOutput<'_>>(text)
        && let Some(code) = j.metadata.and_then(|m| m.exit_code)
    {
        return OutputFacts {
            exit_code: Some(code),
            aborted: false,
            body: j.output.map(|s| s.0).unwrap_or_default(),
        };
    }
    let mut exit_code = None;
    let mut aborted = false;
    let mut body = None;
    let mut rest = text;
    for _ in 0..12 {
        let (line, next) = match rest.split_once('\n') {
            Some((l, n)) => (l, Some(n)),
            None => (rest, None),
        };
        let l = line.trim();
        if l == "Output:" {
            body = Some(next.unwrap_or(""));
            break;
        }
        if let Some(v) = l
            .strip_prefix("Process exited with code ")
            .or_else(|| l.strip_prefix("Exit code: "))
        {
            exit_code = v.trim().parse().ok().or(exit_code);
        } else if l.starts_with("aborted by user") {
            aborted = true;
        }
        match next {
            Some(n) => rest = n,
            None => break,
        }
    }
    OutputFacts {
        exit_code,
        aborted,
        body: Cow::Borrowed(body.unwrap_or(text)),
    }
}

fn join_texts(content: &[Content<'_>]) -> String {
    let mut out = String::new();
    for c in content {
        if let Some(t) = c.text.as_deref() {
            if t.is_empty() {
                continue;
            }
            if !out.is_empty() {
                out.push('\n');
            }
            out.push_str(t);
        }
    }
    out
}

// ================================================================================ records
//
// Typed, borrowing views of the lines. Strings borrow from the line when they have no
// escapes; every field not named here (base_instructions, rate limits, world state, …) is
// skipped by serde without allocating.

/// A string borrowed from the line when possible. (`Option<Cow<str>>` would always copy.)
struct S<'a>(Cow<'a, str>);

impl std::ops::Deref for S<'_> {
    type Target = str;
    fn deref(&self) -> &str {
        &self.0
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for S<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Cow<'de, str>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(Cow::Borrowed(v))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Cow::Owned(v.to_owned()))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
                Ok(Cow::Owned(v))
            }
        }
        d.deserialize_str(V).map(S)
    }
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Kind {
    SessionMeta,
    TurnContext,
    EventMsg,
    ResponseItem,
    Ignored,
    Unknown,
}

fn record_kind(kind: &str) -> Kind {
    match kind {
        "session_meta" => Kind::SessionMeta,
        "turn_context" => Kind::TurnContext,
        "event_msg" => Kind::EventMsg,
        "response_item" => Kind::ResponseItem,
        "world_state"
        | "token_usage_record"
        | "compacted"
        | "tool_manifest"
        | "sampling_boundary"
        | "inter_agent_communication"
        | "inter_agent_communication_metadata" => Kind::Ignored,
        _ => Kind::Unknown,
    }
}

/// One rollout line.
struct Line<'a> {
    timestamp: Option<S<'a>>,
    ordinal: Option<u64>,
    kind: Option<S<'a>>,
    payload: Payload<'a>,
}

enum Payload<'a> {
    Absent,
    Skipped,
    SessionMeta(SessionMeta<'a>),
    TurnContext(TurnContext<'a>),
    Event(Event<'a>),
    Item(Item<'a>),
}

impl<'de: 'a, 'a> Deserialize<'de> for Line<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<'a>(PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for V<'a> {
            type Value = Line<'a>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a rollout record object")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Line<'a>, A::Error> {
                let mut line = Line {
                    timestamp: None,
                    ordinal: None,
                    kind: None,
                    payload: Payload::Absent,
                };
                // Codex writes `type` before `payload`; if a writer ever does not, the
                // payload is buffered and read once the type is known.
                let mut deferred: Option<serde_json::Value> = None;
                while let Some(key) = map.next_key::<S<'de>>()? {
                    match &*key {
                        "timestamp" => line.timestamp = map.next_value()?,
                        "ordinal" => line.ordinal = map.next_value()?,
                        "type" => line.kind = map.next_value()?,
                        "payload" => match line.kind.as_deref() {
                            Some(k) => {
                                line.payload = map.next_value_seed(PayloadSeed(record_kind(k)))?
                            }
                            None => deferred = Some(map.next_value()?),
                        },
                        _ => {
                            map.next_value::<IgnoredAny>()?;
                        }
                    }
                }
                if let (Some(v), Some(k)) = (deferred, line.kind.as_deref()) {
                    line.payload = PayloadSeed(record_kind(k))
                        .deserialize(v)
                        .map_err(de::Error::custom)?;
                }
                Ok(line)
            }
        }
        d.deserialize_map(V(PhantomData))
    }
}

struct PayloadSeed(Kind);

impl<'de> DeserializeSeed<'de> for PayloadSeed {
    type Value = Payload<'de>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Payload<'de>, D::Error> {
        Ok(match self.0 {
            Kind::SessionMeta => Payload::SessionMeta(SessionMeta::deserialize(d)?),
            Kind::TurnContext => Payload::TurnContext(TurnContext::deserialize(d)?),
            Kind::EventMsg => Payload::Event(d.deserialize_map(TaggedVisitor(PhantomData))?),
            Kind::ResponseItem => Payload::Item(d.deserialize_map(TaggedVisitor(PhantomData))?),
            Kind::Ignored | Kind::Unknown => {
                IgnoredAny::deserialize(d)?;
                Payload::Skipped
            }
        })
    }
}

/// An object whose variant is named by its `type` field.
trait Tagged<'de>: Sized {
    fn from_tag<D: Deserializer<'de>>(tag: &str, rest: D) -> Result<Self, D::Error>;
}

/// Reads `type` and hands the rest of the object to the variant's own struct. `type` is
/// the first key in everything Codex writes (serde puts the tag first); otherwise the
/// object is buffered.
struct TaggedVisitor<T>(PhantomData<T>);

impl<'de, T: Tagged<'de>> Visitor<'de> for TaggedVisitor<T> {
    type Value = T;
    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an object with a \"type\" field")
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<T, A::Error> {
        let Some(first) = map.next_key::<S<'de>>()? else {
            return Err(de::Error::missing_field("type"));
        };
        if &*first == "type" {
            let tag: S<'de> = map.next_value()?;
            return T::from_tag(&tag, MapAccessDeserializer::new(map));
        }
        let mut obj = serde_json::Map::new();
        let value: serde_json::Value = map.next_value()?;
        obj.insert(first.0.into_owned(), value);
        let mut tag: Option<String> = None;
        while let Some(k) = map.next_key::<String>()? {
            if k == "type" && tag.is_none() {
                tag = Some(map.next_value()?);
            } else {
                let v: serde_json::Value = map.next_value()?;
                obj.insert(k, v);
            }
        }
        let tag = tag.ok_or_else(|| de::Error::missing_field("type"))?;
        T::from_tag(&tag, serde_json::Value::Object(obj)).map_err(de::Error::custom)
    }
}

#[derive(Deserialize)]
struct SessionMeta<'a> {
    #[serde(borrow)]
    id: Option<S<'a>>,
    #[serde(borrow)]
    session_id: Option<S<'a>>,
    #[serde(borrow)]
    cwd: Option<S<'a>>,
    #[serde(borrow)]
    timestamp: Option<S<'a>>,
}

#[derive(Deserialize)]
struct TurnContext<'a> {
    #[serde(borrow)]
    turn_id: Option<S<'a>>,
    #[serde(borrow)]
    model: Option<S<'a>>,
    #[serde(borrow)]
    cwd: Option<S<'a>>,
}

/// `event_msg` payloads we read.
enum Event<'a> {
    TaskStarted(TurnRef<'a>),
    TaskComplete(TaskComplete<'a>),
    TurnAborted(TurnRef<'a>),
    UserMessage(MessageEvent<'a>),
    AgentMessage(MessageEvent<'a>),
    Error(MessageEvent<'a>),
    TokenCount(TokenCount),
    ThreadSettings(ThreadSettingsApplied<'a>),
    ItemCompleted(ItemCompleted<'a>),
    ExecCommandEnd(ExecCommandEnd<'a>),
    PatchApplyEnd(PatchApplyEnd<'a>),
    McpToolCallEnd(McpToolCallEnd<'a>),
    Other,
}

impl<'de: 'a, 'a> Tagged<'de> for Event<'a> {
    fn from_tag<D: Deserializer<'de>>(tag: &str, d: D) -> Result<Self, D::Error> {
        Ok(match tag {
            "task_started" | "turn_started" => Event::TaskStarted(Deserialize::deserialize(d)?),
            "task_complete" | "turn_complete" => Event::TaskComplete(Deserialize::deserialize(d)?),
            "turn_aborted" => Event::TurnAborted(Deserialize::deserialize(d)?),
            "user_message" => Event::UserMessage(Deserialize::deserialize(d)?),
            "agent_message" => Event::AgentMessage(Deserialize::deserialize(d)?),
            "error" => Event::Error(Deserialize::deserialize(d)?),
            "token_count" => Event::TokenCount(Deserialize::deserialize(d)?),
            "thread_settings_applied" => Event::ThreadSettings(Deserialize::deserialize(d)?),
            "item_completed" => Event::ItemCompleted(Deserialize::deserialize(d)?),
            "exec_command_end" => Event::ExecCommandEnd(Deserialize::deserialize(d)?),
            "patch_apply_end" => Event::PatchApplyEnd(Deserialize::deserialize(d)?),
            "mcp_tool_call_end" => Event::McpToolCallEnd(Deserialize::deserialize(d)?),
            _ => {
                IgnoredAny::deserialize(d)?;
                Event::Other
            }
        })
    }
}

#[derive(Deserialize)]
struct TurnRef<'a> {
    #[serde(borrow)]
    turn_id: Option<S<'a>>,
}

#[derive(Deserialize)]
struct TaskComplete<'a> {
    #[serde(borrow)]
    turn_id: Option<S<'a>>,
    #[serde(borrow)]
    last_agent_message: Option<S<'a>>,
    error: Option<ErrorText>,
}

/// `error` as a string or as `{"message": …}`; anything else is ignored.
struct ErrorText(Option<String>);

impl<'de> Deserialize<'de> for ErrorText {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = ErrorText;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an error string or object")
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<ErrorText, E> {
                Ok(ErrorText(Some(v.to_string())))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<ErrorText, A::Error> {
                let mut msg = None;
                while let Some(k) = map.next_key::<S<'de>>()? {
                    if &*k == "message" {
                        msg = map
                            .next_value::<Option<S<'de>>>()?
                            .map(|s| s.0.into_owned());
                    } else {
                        map.next_value::<IgnoredAny>()?;
                    }
                }
                Ok(ErrorText(msg))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<ErrorText, A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(ErrorText(None))
            }
            fn visit_bool<E: de::Error>(self, _: bool) -> Result<ErrorText, E> {
                Ok(ErrorText(None))
            }
            fn visit_i64<E: de::Error>(self, _: i64) -> Result<ErrorText, E> {
                Ok(ErrorText(None))
            }
            fn visit_u64<E: de::Error>(self, _: u64) -> Result<ErrorText, E> {
                Ok(ErrorText(None))
            }
            fn visit_f64<E: de::Error>(self, _: f64) -> Result<ErrorText, E> {
                Ok(ErrorText(None))
            }
        }
        d.deserialize_any(V)
    }
}

#[derive(Deserialize)]
struct MessageEvent<'a> {
    #[serde(borrow)]
    message: Option<S<'a>>,
}

#[derive(Deserialize)]
struct TokenCount {
    info: Option<TokenInfo>,
}

#[derive(Deserialize)]
struct TokenInfo {
    total_token_usage: Option<UsageJson>,
    last_token_usage: Option<UsageJson>,
}

#[derive(Deserialize)]
struct UsageJson {
    #[serde(default)]
    input_tokens: i64,
    #[serde(default)]
    cached_input_tokens: i64,
    #[serde(default)]
    cache_write_input_tokens: i64,
    #[serde(default)]
    output_tokens: i64,
}

impl UsageJson {
    fn raw(&self) -> RawUsage {
        let n = |v: i64| u64::try_from(v).unwrap_or(0);
        RawUsage {
            input: n(self.input_tokens),
            cached: n(self.cached_input_tokens),
            cache_write: n(self.cache_write_input_tokens),
            output: n(self.output_tokens),
        }
    }
}

#[derive(Deserialize)]
struct ThreadSettingsApplied<'a> {
    #[serde(borrow)]
    thread_settings: Option<ThreadSettings<'a>>,
}

#[derive(Deserialize)]
struct ThreadSettings<'a> {
    #[serde(borrow)]
    model: Option<S<'a>>,
}

#[derive(Deserialize)]
struct ItemCompleted<'a> {
    #[serde(borrow)]
    turn_id: Option<S<'a>>,
    #[serde(borrow)]
    item: Option<TurnItem<'a>>,
}

/// `item_completed.item`, tagged by `type` (CamelCase).
enum TurnItem<'a> {
    UserMessage(ContentHolder<'a>),
    AgentMessage(ContentHolder<'a>),
    CommandExecution(CommandExecution<'a>),
    Other,
}

impl<'de: 'a, 'a> Tagged<'de> for TurnItem<'a> {
    fn from_tag<D: Deserializer<'de>>(tag: &str, d: D) -> Result<Self, D::Error> {
        Ok(match tag {
            "UserMessage" => TurnItem::UserMessage(Deserialize::deserialize(d)?),
            "AgentMessage" => TurnItem::AgentMessage(Deserialize::deserialize(d)?),
            "CommandExecution" => TurnItem::CommandExecution(Deserialize::deserialize(d)?),
            _ => {
                IgnoredAny::deserialize(d)?;
                TurnItem::Other
            }
        })
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for TurnItem<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_map(TaggedVisitor(PhantomData))
    }
}

#[derive(Deserialize)]
struct ContentHolder<'a> {
    #[serde(borrow, default)]
    content: Vec<Content<'a>>,
}

#[derive(Deserialize)]
struct Content<'a> {
    #[serde(borrow)]
    text: Option<S<'a>>,
}

#[derive(Deserialize)]
struct CommandExecution<'a> {
    #[serde(borrow)]
    id: Option<S<'a>>,
    exit_code: Option<i64>,
    #[serde(borrow)]
    status: Option<S<'a>>,
    #[serde(borrow)]
    aggregated_output: Option<S<'a>>,
}

#[derive(Deserialize)]
struct ExecCommandEnd<'a> {
    #[serde(borrow)]
    call_id: Option<S<'a>>,
    exit_code: Option<i64>,
    #[serde(borrow)]
    status: Option<S<'a>>,
    #[serde(borrow)]
    aggregated_output: Option<S<'a>>,
    #[serde(borrow)]
    formatted_output: Option<S<'a>>,
    #[serde(borrow)]
    stderr: Option<S<'a>>,
}

#[derive(Deserialize)]
struct PatchApplyEnd<'a> {
    #[serde(borrow)]
    call_id: Option<S<'a>>,
    success: Option<bool>,
    #[serde(borrow)]
    stdout: Option<S<'a>>,
    #[serde(borrow)]
    stderr: Option<S<'a>>,
}

#[derive(Deserialize)]
struct McpToolCallEnd<'a> {
    #[serde(borrow)]
    call_id: Option<S<'a>>,
    result: Option<McpResult>,
}

#[derive(Deserialize)]
struct McpResult {
    #[serde(rename = "Ok")]
    ok: Option<McpOk>,
    #[serde(rename = "Err")]
    err: Option<IgnoredAny>,
}

#[derive(Deserialize)]
struct McpOk {
    is_error: Option<bool>,
}

/// `response_item` payloads we read.
enum Item<'a> {
    Message(MessageItem<'a>),
    AgentMessage(AgentMessageItem<'a>),
    FunctionCall(FunctionCall<'a>),
    CustomToolCall(CustomToolCall<'a>),
    LocalShellCall(LocalShellCall<'a>),
    WebSearchCall(WebSearchCall<'a>),
    ToolOutput(ToolOutputItem<'a>),
    Reasoning,
    Other,
}

impl<'de: 'a, 'a> Tagged<'de> for Item<'a> {
    fn from_tag<D: Deserializer<'de>>(tag: &str, d: D) -> Result<Self, D::Error> {
        Ok(match tag {
            "message" => Item::Message(Deserialize::deserialize(d)?),
            "agent_message" => Item::AgentMessage(Deserialize::deserialize(d)?),
            "function_call" => Item::FunctionCall(Deserialize::deserialize(d)?),
            "custom_tool_call" => Item::CustomToolCall(Deserialize::deserialize(d)?),
            "local_shell_call" => Item::LocalShellCall(Deserialize::deserialize(d)?),
            "web_search_call" => Item::WebSearchCall(Deserialize::deserialize(d)?),
            "function_call_output" | "custom_tool_call_output" | "local_shell_call_output" => {
                Item::ToolOutput(Deserialize::deserialize(d)?)
            }
            "reasoning" => {
                IgnoredAny::deserialize(d)?;
                Item::Reasoning
            }
            _ => {
                IgnoredAny::deserialize(d)?;
                Item::Other
            }
        })
    }
}

#[derive(Deserialize)]
struct Passthrough<'a> {
    #[serde(borrow)]
    turn_id: Option<S<'a>>,
}

/// A `message` response item. Only the assistant's content is read: user and developer
/// messages (instructions, environment context: kilobytes per turn) are skipped unparsed
/// when `role` comes before `content`, as Codex writes them.
struct MessageItem<'a> {
    role: Option<S<'a>>,
    content: Vec<Content<'a>>,
    passthrough: Option<Passthrough<'a>>,
}

impl<'de: 'a, 'a> Deserialize<'de> for MessageItem<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<'a>(PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for V<'a> {
            type Value = MessageItem<'a>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a message item")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut m = MessageItem {
                    role: None,
                    content: Vec::new(),
                    passthrough: None,
                };
                while let Some(k) = map.next_key::<S<'de>>()? {
                    match &*k {
                        "role" => m.role = map.next_value()?,
                        "content" if m.role.as_deref().is_none_or(|r| r == "assistant") => {
                            m.content = map
                                .next_value::<Option<Vec<Content<'de>>>>()?
                                .unwrap_or_default();
                        }
                        "internal_chat_message_metadata_passthrough" => {
                            m.passthrough = map.next_value()?;
                        }
                        _ => {
                            map.next_value::<IgnoredAny>()?;
                        }
                    }
                }
                Ok(m)
            }
        }
        d.deserialize_map(V(PhantomData))
    }
}

#[derive(Deserialize)]
struct AgentMessageItem<'a> {
    #[serde(borrow)]
    text: Option<S<'a>>,
    #[serde(borrow, default)]
    content: Vec<Content<'a>>,
    #[serde(borrow, rename = "internal_chat_message_metadata_passthrough")]
    passthrough: Option<Passthrough<'a>>,
}

#[derive(Deserialize)]
struct FunctionCall<'a> {
    #[serde(borrow)]
    id: Option<S<'a>>,
    #[serde(borrow)]
    name: Option<S<'a>>,
    #[serde(borrow)]
    arguments: Option<S<'a>>,
    #[serde(borrow)]
    call_id: Option<S<'a>>,
    #[serde(borrow, rename = "internal_chat_message_metadata_passthrough")]
    passthrough: Option<Passthrough<'a>>,
}

#[derive(Deserialize)]
struct CustomToolCall<'a> {
    #[serde(borrow)]
    id: Option<S<'a>>,
    #[serde(borrow)]
    name: Option<S<'a>>,
    #[serde(borrow)]
    input: Option<S<'a>>,
    #[serde(borrow)]
    call_id: Option<S<'a>>,
    #[serde(borrow, rename = "internal_chat_message_metadata_passthrough")]
    passthrough: Option<Passthrough<'a>>,
}

#[derive(Deserialize)]
struct LocalShellCall<'a> {
    #[serde(borrow)]
    id: Option<S<'a>>,
    #[serde(borrow)]
    call_id: Option<S<'a>>,
    #[serde(borrow)]
    action: Option<ShellAction<'a>>,
    #[serde(borrow, rename = "internal_chat_message_metadata_passthrough")]
    passthrough: Option<Passthrough<'a>>,
}

#[derive(Deserialize)]
struct ShellAction<'a> {
    #[serde(borrow, default)]
    command: Vec<S<'a>>,
}

#[derive(Deserialize)]
struct WebSearchCall<'a> {
    #[serde(borrow)]
    id: Option<S<'a>>,
    #[serde(borrow)]
    call_id: Option<S<'a>>,
    #[serde(borrow)]
    status: Option<S<'a>>,
    #[serde(borrow)]
    action: Option<WebSearchAction<'a>>,
    #[serde(borrow, rename = "internal_chat_message_metadata_passthrough")]
    passthrough: Option<Passthrough<'a>>,
}

#[derive(Deserialize)]
struct WebSearchAction<'a> {
    #[serde(borrow)]
    query: Option<S<'a>>,
}

#[derive(Deserialize)]
struct ToolOutputItem<'a> {
    #[serde(borrow)]
    call_id: Option<S<'a>>,
    #[serde(borrow)]
    output: Option<ToolOutput<'a>>,
}

/// A tool result: a string (0.171.0), `{"content": …, "success": …}`, or a list of
/// content items.
#[derive(Default)]
struct ToolOutput<'a> {
    text: Cow<'a, str>,
    success: Option<bool>,
}

impl<'de: 'a, 'a> Deserialize<'de> for ToolOutput<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<'a>(PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for V<'a> {
            type Value = ToolOutput<'a>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a tool output")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(ToolOutput {
                    text: Cow::Borrowed(v),
                    success: None,
                })
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(ToolOutput {
                    text: Cow::Owned(v.to_owned()),
                    success: None,
                })
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
                Ok(ToolOutput {
                    text: Cow::Owned(v),
                    success: None,
                })
            }
            fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
                let parts = TextParts::from_seq(seq)?;
                Ok(ToolOutput {
                    text: Cow::Owned(parts),
                    success: None,
                })
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut out = ToolOutput::default();
                while let Some(k) = map.next_key::<S<'de>>()? {
                    match &*k {
                        "content" | "output" | "text" => {
                            out.text = map.next_value::<TextParts<'a>>()?.0;
                        }
                        "success" => out.success = map.next_value()?,
                        _ => {
                            map.next_value::<IgnoredAny>()?;
                        }
                    }
                }
                Ok(out)
            }
            fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(ToolOutput::default())
            }
        }
        d.deserialize_any(V(PhantomData))
    }
}

/// A string, or a list of `{"text": …}` parts joined by newlines.
struct TextParts<'a>(Cow<'a, str>);

impl TextParts<'_> {
    fn from_seq<'de, A: SeqAccess<'de>>(mut seq: A) -> Result<String, A::Error> {
        let mut out = String::new();
        while let Some(part) = seq.next_element::<Part<'de>>()? {
            if let Some(t) = part.0 {
                if !out.is_empty() {
                    out.push('\n');
                }
                out.push_str(&t);
            }
        }
        Ok(out)
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for TextParts<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<'a>(PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for V<'a> {
            type Value = TextParts<'a>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("text or a list of text parts")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(TextParts(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(TextParts(Cow::Owned(v.to_owned())))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
                Ok(TextParts(Cow::Owned(v)))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
                Ok(TextParts(Cow::Owned(TextParts::from_seq(seq)?)))
            }
            fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(TextParts(Cow::Borrowed("")))
            }
        }
        d.deserialize_any(V(PhantomData))
    }
}

/// One element of a content list: its `text` if it is an object that has one.
struct Part<'a>(Option<Cow<'a, str>>);

impl<'de: 'a, 'a> Deserialize<'de> for Part<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<'a>(PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for V<'a> {
            type Value = Part<'a>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a content part")
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Self::Value, A::Error> {
                let mut text = None;
                while let Some(k) = map.next_key::<S<'de>>()? {
                    if &*k == "text" {
                        text = map.next_value::<Option<S<'de>>>()?.map(|s| s.0);
                    } else {
                        map.next_value::<IgnoredAny>()?;
                    }
                }
                Ok(Part(text))
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(Part(Some(Cow::Borrowed(v))))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Part(Some(Cow::Owned(v.to_owned()))))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                while seq.next_element::<IgnoredAny>()?.is_some() {}
                Ok(Part(None))
            }
            fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(Part(None))
            }
            fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
                Ok(Part(None))
            }
            fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
                Ok(Part(None))
            }
            fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
                Ok(Part(None))
            }
            fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
                Ok(Part(None))
            }
        }
        d.deserialize_any(V(PhantomData))
    }
}

/// The legacy shell tool's output: `{"output": "...", "metadata": {"exit_code": N}}`.
#[derive(Deserialize)]
struct LegacyShellOutput<'a> {
    #[serde(borrow)]
    output: Option<S<'a>>,
    metadata: Option<LegacyMetadata>,
}

#[derive(Deserialize)]
struct LegacyMetadata {
    exit_code: Option<i64>,
}
