//! Claude Code session files: `~/.claude/projects/<slug>/<session-uuid>.jsonl`, and (since
//! 2.x) one file per subagent at `<slug>/<session-uuid>/subagents/agent-<agentId>.jsonl`.
//!
//! Format notes (observed with claude-code 2.1.197):
//! * One JSON object per line, discriminated by `type`. Conversation records are `user`,
//!   `assistant`, `system` and `attachment`; the rest is metadata (`queue-operation`,
//!   `last-prompt`, `ai-title`, `mode`, `file-history-snapshot`, …).
//! * A streamed API response is written as one `assistant` line per content block (text,
//!   then each `tool_use`); all lines share `message.id` and repeat the usage. Subagent
//!   files show the first line of a message carrying partial usage (`output_tokens: 1`,
//!   `stop_reason: null`) and a later line the final numbers, so usage is counted once per
//!   `message.id`, plus any later increase.
//! * A tool result arrives in a `user` record with `tool_result` blocks; with parallel tool
//!   calls the result of the first call can be written before the second `tool_use` line.
//! * Subagent records carry `isSidechain: true` and `agentId`; their `sessionId` is the
//!   parent session's. A subagent file therefore parses into [`ParsedSession::subagents`]
//!   only, with the parent's session id.
//! * Not prompts although they are `user` records with text: `isMeta` records (caveats),
//!   `isCompactSummary` records (the summary injected by `/compact`), local command output
//!   (`<local-command-stdout>`…) and `[Request interrupted by user…]` markers.
//!   Slash commands (`<command-name>/compact</command-name>…`) do open a turn, shown as
//!   `/compact`.
//! * Claude Code writes messages of its own with model `<synthetic>` (API error notices with
//!   `isApiErrorMessage`, "No response requested."): never counted, never part of `output`.
//!
//! [`TailState::last_record`] is one of `user` (a prompt), `assistant`, `tool_use` (an
//! assistant line that called tools), `tool_result`, `turn_duration` (the TUI's end-of-turn
//! marker), `interrupted` (Esc), `error` (API error notice) and `api_error` (a failed API
//! call being retried).

use super::{LineOutcome, RecordParser};
use crate::model::{ParsedSession, Subagent, TailState, Timestamp, TokenUsage, ToolCall, Turn};
use crate::text::{one_line, summarize_tool_input, summarize_tool_value};
use serde::de::{self, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::ser::SerializeSeq;
use serde::{Deserialize, Serialize, Serializer};
use std::borrow::Cow;
use std::collections::{HashMap, VecDeque};
use std::fmt;
use std::marker::PhantomData;

/// The model name Claude Code writes on messages it made up itself (API error notices,
/// "No response requested."). Never priced, never counted.
pub const SYNTHETIC_MODEL: &str = "<synthetic>";

/// How many recent `message.id`s are remembered for usage de-duplication. Lines of one
/// message are written within moments of each other, so a window is enough.
const SEEN_MESSAGES_CAP: usize = 1024;
/// How many unanswered tool calls are remembered for matching their results.
const OPEN_TOOLS_CAP: usize = 1024;
/// Cap of [`TailState::pending_tools`].
const PENDING_TOOLS_CAP: usize = 256;
/// Cap of the one-line error summaries kept in the tail.
const ERROR_SUMMARY_BYTES: usize = 200;

/// Record types Claude Code writes that carry nothing the session model needs.
const QUIET_TYPES: &[&str] = &[
    "attachment",
    "queue-operation",
    "last-prompt",
    "file-history-snapshot",
    "mode",
    "permission-mode",
    "progress",
    "tag",
    "relocated",
    "agent-name",
    "agent-color",
    "agent-setting",
    "attribution-snapshot",
    "bridge-session",
    "content-replacement",
    "fork-context-ref",
    "isolation-latch",
    "marble-origami-commit",
    "marble-origami-reset",
    "marble-origami-snapshot",
    "pr-link",
    "worktree-state",
];

/// Prompt-looking `user` text that is really command output or a marker.
const NOT_PROMPT_PREFIXES: &[&str] = &[
    "<local-command-stdout>",
    "<local-command-stderr>",
    "<local-command-caveat>",
    "<bash-stdout>",
    "<bash-stderr>",
];
const INTERRUPT_PREFIX: &str = "[Request interrupted by user";

/// Incremental parser for one Claude Code session (or subagent) file.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ClaudeParser {
    session: ParsedSession,
    /// Usage already counted per recent `message.id`.
    #[serde(default)]
    seen_messages: BoundedMap<TokenUsage>,
    /// Where each unanswered `tool_use` id lives.
    #[serde(default)]
    open_tools: BoundedMap<ToolLoc>,
    /// Rank of the source of the current title (custom > ai > summary).
    #[serde(default)]
    title_rank: u8,
    /// A non-sidechain record was seen: sidechain records then no longer decide
    /// `turn_complete` (the main agent is still waiting on its subagent).
    #[serde(default)]
    saw_main: bool,
    /// Recent record uuids, to tell a reply whose prompt is not written yet.
    #[serde(default)]
    seen_uuids: BoundedMap<()>,
    /// A main-thread turn opened by a reply written before its prompt (Claude Code's
    /// interactive mode sometimes appends the prompt record after the answer's first
    /// lines): (turn index, the parent uuid the reply named).
    #[serde(default)]
    early_reply: Option<(usize, String)>,
}

/// Position of a tool call: thread (`None` = main turns, `Some(i)` = `subagents[i]`),
/// turn index, tool index.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
struct ToolLoc {
    thread: Option<usize>,
    turn: usize,
    tool: usize,
}

impl RecordParser for ClaudeParser {
    fn handle_line(&mut self, line: &[u8]) -> LineOutcome {
        // A derived struct also accepts a JSON array (fields by position): insist on an object.
        if line.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
            return LineOutcome::Malformed;
        }
        let rec: Record<'_> = match super::from_line(line) {
            Ok(r) => r,
            Err(_) => return LineOutcome::Malformed,
        };
        let Some(kind) = rec.kind.as_deref() else {
            return LineOutcome::Malformed;
        };
        let known = matches!(
            kind,
            "user" | "assistant" | "system" | "ai-title" | "custom-title" | "summary"
        ) || QUIET_TYPES.contains(&kind);
        if !known {
            return LineOutcome::Unknown;
        }
        if matches!(kind, "user" | "assistant") && rec.message.0.is_none() {
            return LineOutcome::Malformed;
        }

        let ts = rec.timestamp.as_deref().and_then(parse_ts);
        self.session.note_time(ts);
        if self.session.id.is_none() {
            self.session.id = rec.session_id.as_deref().map(str::to_string);
        }
        if self.session.cwd.is_none() {
            self.session.cwd = rec.cwd.as_deref().map(str::to_string);
        }
        let primary = !rec.is_sidechain.0 || !self.saw_main;
        if !rec.is_sidechain.0 && matches!(kind, "user" | "assistant" | "system") {
            self.saw_main = true;
        }

        let reply_ahead_of_prompt = kind == "assistant"
            && !rec.is_sidechain.0
            && rec
                .parent_uuid
                .as_deref()
                .is_some_and(|p| self.seen_uuids.get(p).is_none());
        if let Some(u) = rec.uuid.as_deref() {
            self.seen_uuids.insert(u.to_string(), (), SEEN_MESSAGES_CAP);
        }
        match kind {
            "user" => self.on_user(&rec, ts, primary),
            "assistant" if reply_ahead_of_prompt => self.on_early_reply(&rec, ts, primary),
            "assistant" => self.on_assistant(&rec, ts, primary),
            "system" => self.on_system(&rec, ts, primary),
            "custom-title" => self.set_title(rec.custom_title.as_deref(), 3),
            "ai-title" => self.set_title(rec.ai_title.as_deref(), 2),
            "summary" => self.set_title(rec.summary.as_deref(), 1),
            _ => {}
        }
        LineOutcome::Handled
    }

    fn session(&self) -> &ParsedSession {
        &self.session
    }
}

impl ClaudeParser {
    fn set_title(&mut self, title: Option<&str>, rank: u8) {
        if let Some(t) = title.map(str::trim).filter(|t| !t.is_empty())
            && rank >= self.title_rank
        {
            self.session.title = Some(t.to_string());
            self.title_rank = rank;
        }
    }

    /// The thread a record belongs to; `create` adds the subagent entry if missing.
    fn thread_of(&mut self, rec: &Record<'_>, create: bool) -> Option<Option<usize>> {
        if !rec.is_sidechain.0 {
            return Some(None);
        }
        let key = rec
            .agent_id
            .as_deref()
            .or(rec.session_id.as_deref())
            .unwrap_or("sidechain");
        let subs = &mut self.session.subagents;
        if let Some(i) = subs.iter().position(|s| s.id == key) {
            return Some(Some(i));
        }
        if !create {
            return None;
        }
        subs.push(Subagent {
            id: key.to_string(),
            turns: Vec::new(),
        });
        Some(Some(subs.len() - 1))
    }

    fn on_user(&mut self, rec: &Record<'_>, ts: Option<Timestamp>, primary: bool) {
        let Some(msg) = rec.message.0.as_ref() else {
            return;
        };
        let mut results = 0;
        if let Content::Blocks(blocks) = &msg.content {
            for b in blocks.iter().filter_map(|b| b.0.as_ref()) {
                if b.kind.as_deref() == Some("tool_result") {
                    results += 1;
                    self.on_tool_result(b, ts, primary);
                }
            }
        }
        if results > 0 || rec.is_meta.0 || rec.is_compact_summary.0 {
            return;
        }
        let Some(text) = prompt_text(&msg.content) else {
            return;
        };
        let trimmed = text.trim_start();
        if trimmed.starts_with(INTERRUPT_PREFIX) {
            self.on_interrupt(rec, ts, primary);
            return;
        }
        if NOT_PROMPT_PREFIXES.iter().any(|p| trimmed.starts_with(p)) {
            return;
        }
        let Some(thread) = self.thread_of(rec, true) else {
            return;
        };
        let ParsedSession {
            turns,
            subagents,
            tail,
            ..
        } = &mut self.session;
        let Some(turns) = thread_turns(turns, subagents, thread) else {
            return;
        };
        let id = rec.uuid.as_deref().or(rec.prompt_id.as_deref());
        if id.is_some() && turns.last().map(|t| t.id.as_str()) == id {
            return; // the same prompt record written twice
        }
        // The prompt of a reply that was written before it: it opens that turn.
        if thread.is_none()
            && let Some((idx, awaited)) = self.early_reply.take()
        {
            // The reply's parent may be the prompt or a record written with it (an
            // attachment): the next prompt of the main thread is the one it answers.
            let _ = awaited;
            if let Some(turn) = turns.get_mut(idx)
                && turn.user.is_empty()
            {
                if let Some(id) = id {
                    turn.id = id.to_string();
                }
                turn.user = display_prompt(&text);
                turn.started_at = match (turn.started_at, ts) {
                    (Some(a), Some(b)) => Some(a.min(b)),
                    (a, b) => a.or(b),
                };
                return;
            }
        }
        let number = turns.len() as u32 + 1;
        turns.push(Turn {
            id: id.map_or_else(|| format!("turn-{number}"), str::to_string),
            number,
            started_at: ts,
            user: display_prompt(&text),
            ..Turn::default()
        });
        set_last(tail, "user", ts);
        if primary {
            tail.turn_complete = false;
        }
        if thread.is_none() {
            tail.pending_tools.clear();
            tail.last_error = None;
        }
    }

    fn on_interrupt(&mut self, rec: &Record<'_>, ts: Option<Timestamp>, primary: bool) {
        if let Some(thread) = self.thread_of(rec, false) {
            let ParsedSession {
                turns, subagents, ..
            } = &mut self.session;
            if let Some(turn) = thread_turns(turns, subagents, thread).and_then(|t| t.last_mut()) {
                extend_end(turn, ts);
            }
        }
        let tail = &mut self.session.tail;
        set_last(tail, "interrupted", ts);
        if primary {
            // The user stopped the agent: it now waits for input, and the rejected tool
            // call's "error" is no failure of the agent.
            tail.turn_complete = true;
            tail.last_error = None;
        }
    }

    fn on_tool_result(&mut self, b: &Block<'_>, ts: Option<Timestamp>, primary: bool) {
        let Some(id) = b.tool_use_id.as_deref() else {
            return;
        };
        let Some(loc) = self.open_tools.remove(id) else {
            return; // unknown or already answered
        };
        let ParsedSession {
            turns,
            subagents,
            tail,
            ..
        } = &mut self.session;
        tail.pending_tools.retain(|p| p != id);
        let Some(turn) =
            thread_turns(turns, subagents, loc.thread).and_then(|t| t.get_mut(loc.turn))
        else {
            return;
        };
        extend_end(turn, ts);
        let Some(tool) = turn.tools.get_mut(loc.tool) else {
            return;
        };
        let text = result_text(b.content.as_ref());
        let failed = b.is_error.0;
        if failed {
            tail.last_error = Some(format!(
                "{}: {}",
                tool.name,
                one_line(&text, ERROR_SUMMARY_BYTES)
            ));
            tool.error = Some(text.clone());
        }
        tool.success = Some(!failed);
        tool.output = Some(text);
        tool.ended_at = ts;
        set_last(tail, "tool_result", ts);
        if primary {
            tail.turn_complete = false;
        }
    }

    /// A main-thread reply whose parent record is not in the file yet: it begins a new
    /// turn that the prompt adopts when it arrives (see `early_reply`).
    fn on_early_reply(&mut self, rec: &Record<'_>, ts: Option<Timestamp>, primary: bool) {
        let awaited = rec.parent_uuid.as_deref().unwrap_or_default().to_string();
        let turns = &mut self.session.turns;
        let waiting_already = self
            .early_reply
            .as_ref()
            .is_some_and(|(i, p)| *p == awaited && *i + 1 == turns.len());
        if !waiting_already {
            let number = turns.len() as u32 + 1;
            turns.push(Turn {
                id: rec
                    .uuid
                    .as_deref()
                    .map_or_else(|| format!("turn-{number}"), str::to_string),
                number,
                started_at: ts,
                ..Turn::default()
            });
            self.early_reply = Some((turns.len() - 1, awaited));
        }
        self.on_assistant(rec, ts, primary);
    }

    fn on_assistant(&mut self, rec: &Record<'_>, ts: Option<Timestamp>, primary: bool) {
        let Some(msg) = rec.message.0.as_ref() else {
            return;
        };
        let model = msg.model.as_deref();
        let synthetic = model == Some(SYNTHETIC_MODEL);
        let delta = match (&msg.usage.0, synthetic) {
            (Some(u), false) => {
                let usage = u.tokens();
                match msg.id.as_deref() {
                    Some(id) => self.count_once(id, usage),
                    None => usage,
                }
            }
            _ => TokenUsage::default(),
        };
        let Some(thread) = self.thread_of(rec, true) else {
            return;
        };
        let ParsedSession {
            turns,
            subagents,
            tail,
            ..
        } = &mut self.session;
        let Some(turns) = thread_turns(turns, subagents, thread) else {
            return;
        };
        if turns.is_empty() {
            // Replies with no prompt before them (a file starting mid-conversation): keep
            // their spend in a turn without a prompt rather than lose it.
            turns.push(Turn {
                id: rec
                    .uuid
                    .as_deref()
                    .or(msg.id.as_deref())
                    .unwrap_or("implicit-1")
                    .to_string(),
                number: 1,
                started_at: ts,
                ..Turn::default()
            });
        }
        let turn_idx = turns.len() - 1;
        let Some(turn) = turns.last_mut() else {
            return;
        };
        extend_end(turn, ts);

        if synthetic || rec.is_api_error.0 {
            if rec.is_api_error.0 {
                let text = blocks_text(&msg.content);
                tail.last_error = Some(one_line(
                    if text.is_empty() { "API error" } else { &text },
                    ERROR_SUMMARY_BYTES,
                ));
                set_last(tail, "error", ts);
            } else {
                set_last(tail, "assistant", ts);
            }
            if primary {
                tail.turn_complete = true;
            }
            return;
        }

        if !delta.is_zero() {
            turn.add_usage(model, delta);
        } else if turn.model.is_none() {
            turn.model = model.map(str::to_string);
        }

        let mut used_tool = false;
        if let Content::Text(t) = &msg.content {
            push_text(&mut turn.output, t);
        }
        if let Content::Blocks(blocks) = &msg.content {
            for b in blocks.iter().filter_map(|b| b.0.as_ref()) {
                match b.kind.as_deref() {
                    Some("text") => {
                        if let Some(t) = b.text.as_deref() {
                            push_text(&mut turn.output, t);
                        }
                    }
                    Some("tool_use") | Some("server_tool_use") => {
                        let Some(id) = b.id.as_deref() else {
                            continue;
                        };
                        if self.open_tools.get(id).is_some()
                            || turn.tools.iter().rev().any(|t| t.id == id)
                        {
                            continue; // the same block written twice
                        }
                        used_tool = true;
                        let name = b.name.as_deref().unwrap_or("?").to_string();
                        let input = b.input.as_ref().map(|v| v.to_string()).unwrap_or_default();
                        let summary = match &b.input {
                            Some(value) => summarize_tool_value(value, &input),
                            None => summarize_tool_input(&input),
                        };
                        tail.last_action = Some(if summary.is_empty() {
                            name.clone()
                        } else {
                            format!("{name}: {summary}")
                        });
                        self.open_tools.insert(
                            id.to_string(),
                            ToolLoc {
                                thread,
                                turn: turn_idx,
                                tool: turn.tools.len(),
                            },
                            OPEN_TOOLS_CAP,
                        );
                        if tail.pending_tools.len() >= PENDING_TOOLS_CAP {
                            tail.pending_tools.remove(0);
                        }
                        tail.pending_tools.push(id.to_string());
                        turn.tools.push(ToolCall {
                            id: id.to_string(),
                            name,
                            input,
                            started_at: ts,
                            ..ToolCall::default()
                        });
                    }
                    _ => {}
                }
            }
        }
        // Server-side tools (web search, code execution) are answered inside the message.
        if let Content::Blocks(blocks) = &msg.content {
            for b in blocks.iter().filter_map(|b| b.0.as_ref()) {
                if b.kind
                    .as_deref()
                    .is_some_and(|k| k.ends_with("_tool_result"))
                {
                    self.on_tool_result(b, ts, false);
                }
            }
        }
        let tail = &mut self.session.tail;
        set_last(tail, if used_tool { "tool_use" } else { "assistant" }, ts);
        if primary {
            tail.turn_complete = msg.stop_reason.as_deref() == Some("end_turn");
        }
    }

    fn on_system(&mut self, rec: &Record<'_>, ts: Option<Timestamp>, primary: bool) {
        match rec.subtype.as_deref() {
            Some("turn_duration") => {
                if let Some(thread) = self.thread_of(rec, false) {
                    let ParsedSession {
                        turns, subagents, ..
                    } = &mut self.session;
                    if let Some(turn) =
                        thread_turns(turns, subagents, thread).and_then(|t| t.last_mut())
                    {
                        extend_end(turn, ts);
                    }
                }
                let tail = &mut self.session.tail;
                set_last(tail, "turn_duration", ts);
                if primary {
                    tail.turn_complete = true;
                }
            }
            Some("api_error") => {
                let tail = &mut self.session.tail;
                let detail = rec.error.message();
                tail.last_error = Some(match detail {
                    Some(m) => one_line(&format!("API error: {m}"), ERROR_SUMMARY_BYTES),
                    None => "API error".to_string(),
                });
                set_last(tail, "api_error", ts);
            }
            _ => {}
        }
    }

    /// Counts a message's usage once: the first line in full, later lines of the same id
    /// only by how much they exceed what was counted.
    fn count_once(&mut self, id: &str, usage: TokenUsage) -> TokenUsage {
        match self.seen_messages.get_mut(id) {
            Some(prev) => {
                let delta = usage.saturating_sub(prev);
                *prev = TokenUsage {
                    input: prev.input.max(usage.input),
                    output: prev.output.max(usage.output),
                    cache_read: prev.cache_read.max(usage.cache_read),
                    cache_write: prev.cache_write.max(usage.cache_write),
                };
                delta
            }
            None => {
                self.seen_messages
                    .insert(id.to_string(), usage, SEEN_MESSAGES_CAP);
                usage
            }
        }
    }
}

fn thread_turns<'s>(
    turns: &'s mut Vec<Turn>,
    subagents: &'s mut [Subagent],
    thread: Option<usize>,
) -> Option<&'s mut Vec<Turn>> {
    match thread {
        None => Some(turns),
        Some(i) => subagents.get_mut(i).map(|s| &mut s.turns),
    }
}

fn set_last(tail: &mut TailState, kind: &str, ts: Option<Timestamp>) {
    if tail.last_record.as_deref() != Some(kind) {
        tail.last_record = Some(kind.to_string());
    }
    if ts.is_some() {
        tail.last_record_at = ts;
    }
}

fn extend_end(turn: &mut Turn, ts: Option<Timestamp>) {
    if let Some(ts) = ts
        && turn.ended_at.is_none_or(|e| ts > e)
    {
        turn.ended_at = Some(ts);
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

fn parse_ts(s: &str) -> Option<Timestamp> {
    chrono::DateTime::parse_from_rfc3339(s)
        .ok()
        .map(|d| d.with_timezone(&chrono::Utc))
}

/// The prompt text of a `user` record's content, or `None` when it is no prompt (empty,
/// or no text / image blocks).
fn prompt_text(content: &Content<'_>) -> Option<String> {
    match content {
        Content::Text(t) => (!t.trim().is_empty()).then(|| t.to_string()),
        Content::Blocks(blocks) => {
            let mut out = String::new();
            let mut any = false;
            for b in blocks.iter().filter_map(|b| b.0.as_ref()) {
                match b.kind.as_deref() {
                    Some("text") => {
                        if let Some(t) = b.text.as_deref().filter(|t| !t.trim().is_empty()) {
                            if !out.is_empty() {
                                out.push('\n');
                            }
                            out.push_str(t);
                            any = true;
                        }
                    }
                    Some("image") => {
                        if !out.is_empty() {
                            out.push('\n');
                        }
                        out.push_str("[image]");
                        any = true;
                    }
                    _ => {}
                }
            }
            any.then_some(out)
        }
        Content::None => None,
    }
}

/// Slash commands are recorded as `<command-name>/x</command-name>…<command-args>a</command-args>`
/// and shell escapes as `<bash-input>cmd</bash-input>`: show them as typed.
fn display_prompt(text: &str) -> String {
    let t = text.trim();
    if t.starts_with("<command-") {
        if let Some(name) = between(t, "<command-name>", "</command-name>").map(str::trim) {
            let args = between(t, "<command-args>", "</command-args>")
                .map(str::trim)
                .unwrap_or("");
            let name = if name.starts_with('/') {
                name.to_string()
            } else {
                format!("/{name}")
            };
            return if args.is_empty() {
                name
            } else {
                format!("{name} {args}")
            };
        }
    } else if t.starts_with("<bash-input>")
        && let Some(cmd) = between(t, "<bash-input>", "</bash-input>")
    {
        return format!("!{cmd}");
    }
    text.to_string()
}

fn between<'t>(s: &'t str, open: &str, close: &str) -> Option<&'t str> {
    let start = s.find(open)? + open.len();
    let len = s.get(start..)?.find(close)?;
    s.get(start..start + len)
}

/// Text of a `tool_result`'s content: a string, or the text of its blocks.
fn result_text(content: Option<&Content<'_>>) -> String {
    match content {
        Some(Content::Text(t)) => t.to_string(),
        Some(Content::Blocks(blocks)) => {
            let mut out = String::new();
            for b in blocks.iter().filter_map(|b| b.0.as_ref()) {
                let piece = match b.kind.as_deref() {
                    Some("text") => b.text.as_deref().unwrap_or(""),
                    Some("image") => "[image]",
                    _ => continue,
                };
                if !out.is_empty() {
                    out.push('\n');
                }
                out.push_str(piece);
            }
            out
        }
        Some(Content::None) | None => String::new(),
    }
}

/// Text blocks of an assistant message joined (for synthetic error notices).
fn blocks_text(content: &Content<'_>) -> String {
    match content {
        Content::Text(t) => t.to_string(),
        Content::Blocks(_) => result_text(Some(content)),
        Content::None => String::new(),
    }
}

// ---------------------------------------------------------------- bounded map

/// A string-keyed map that forgets its oldest entries beyond a cap. Serialises as an
/// ordered list of `[key, value]` pairs.
#[derive(Debug, Clone)]
struct BoundedMap<V> {
    order: VecDeque<String>,
    map: HashMap<String, V>,
}

impl<V> Default for BoundedMap<V> {
    fn default() -> Self {
        BoundedMap {
            order: VecDeque::new(),
            map: HashMap::new(),
        }
    }
}

impl<V> BoundedMap<V> {
    fn get(&self, key: &str) -> Option<&V> {
        self.map.get(key)
    }

    fn get_mut(&mut self, key: &str) -> Option<&mut V> {
        self.map.get_mut(key)
    }

    fn insert(&mut self, key: String, value: V, cap: usize) {
        if let Some(slot) = self.map.get_mut(&key) {
            *slot = value;
            return;
        }
        self.order.push_back(key.clone());
        self.map.insert(key, value);
        while self.order.len() > cap {
            if let Some(old) = self.order.pop_front() {
                self.map.remove(&old);
            }
        }
    }

    fn remove(&mut self, key: &str) -> Option<V> {
        let value = self.map.remove(key)?;
        if let Some(pos) = self.order.iter().rposition(|k| k == key) {
            self.order.remove(pos);
        }
        Some(value)
    }
}

impl<V: Serialize> Serialize for BoundedMap<V> {
    fn serialize<S: Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        let mut seq = s.serialize_seq(Some(self.order.len()))?;
        for k in &self.order {
            if let Some(v) = self.map.get(k) {
                seq.serialize_element(&(k, v))?;
            }
        }
        seq.end()
    }
}

impl<'de, V: Deserialize<'de>> Deserialize<'de> for BoundedMap<V> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let pairs = Vec::<(String, V)>::deserialize(d)?;
        let mut out = BoundedMap::default();
        for (k, v) in pairs {
            out.insert(k, v, usize::MAX);
        }
        Ok(out)
    }
}

// ---------------------------------------------------------------- wire records
//
// Typed, borrowing views of a line. Every field is lenient: a value of an unexpected type
// reads as absent instead of failing the whole line; fields not listed are skipped by
// serde without being materialised.

/// Implements the scalar `visit_*` methods of a visitor as "absent".
macro_rules! scalars_as {
    ($none:expr) => {
        fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
            Ok($none)
        }
        fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
            Ok($none)
        }
        fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
            Ok($none)
        }
        fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
            Ok($none)
        }
        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok($none)
        }
        fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok($none)
        }
    };
}

#[derive(Deserialize)]
struct Record<'a> {
    #[serde(rename = "type", borrow, default)]
    kind: LooseStr<'a>,
    #[serde(borrow, default)]
    uuid: LooseStr<'a>,
    #[serde(rename = "parentUuid", borrow, default)]
    parent_uuid: LooseStr<'a>,
    #[serde(rename = "promptId", borrow, default)]
    prompt_id: LooseStr<'a>,
    #[serde(borrow, default)]
    timestamp: LooseStr<'a>,
    #[serde(rename = "sessionId", borrow, default)]
    session_id: LooseStr<'a>,
    #[serde(borrow, default)]
    cwd: LooseStr<'a>,
    #[serde(rename = "isSidechain", default)]
    is_sidechain: LooseBool,
    #[serde(rename = "isMeta", default)]
    is_meta: LooseBool,
    #[serde(rename = "isCompactSummary", default)]
    is_compact_summary: LooseBool,
    #[serde(rename = "isApiErrorMessage", default)]
    is_api_error: LooseBool,
    #[serde(rename = "agentId", borrow, default)]
    agent_id: LooseStr<'a>,
    #[serde(borrow, default)]
    message: Loose<Message<'a>>,
    #[serde(borrow, default)]
    subtype: LooseStr<'a>,
    #[serde(rename = "aiTitle", borrow, default)]
    ai_title: LooseStr<'a>,
    #[serde(rename = "customTitle", borrow, default)]
    custom_title: LooseStr<'a>,
    #[serde(borrow, default)]
    summary: LooseStr<'a>,
    #[serde(borrow, default)]
    error: ErrorInfo<'a>,
}

#[derive(Deserialize)]
struct Message<'a> {
    #[serde(borrow, default)]
    id: LooseStr<'a>,
    #[serde(borrow, default)]
    model: LooseStr<'a>,
    #[serde(borrow, default)]
    content: Content<'a>,
    #[serde(borrow, default)]
    stop_reason: LooseStr<'a>,
    #[serde(default)]
    usage: Loose<Usage>,
}

#[derive(Deserialize)]
struct Usage {
    #[serde(default)]
    input_tokens: LooseU64,
    #[serde(default)]
    output_tokens: LooseU64,
    #[serde(default)]
    cache_creation_input_tokens: LooseU64,
    #[serde(default)]
    cache_read_input_tokens: LooseU64,
}

impl Usage {
    fn tokens(&self) -> TokenUsage {
        TokenUsage {
            input: self.input_tokens.0,
            output: self.output_tokens.0,
            cache_read: self.cache_read_input_tokens.0,
            cache_write: self.cache_creation_input_tokens.0,
        }
    }
}

#[derive(Deserialize)]
struct Block<'a> {
    #[serde(rename = "type", borrow, default)]
    kind: LooseStr<'a>,
    #[serde(borrow, default)]
    text: LooseStr<'a>,
    #[serde(borrow, default)]
    id: LooseStr<'a>,
    #[serde(borrow, default)]
    name: LooseStr<'a>,
    #[serde(default)]
    input: Option<serde_json::Value>,
    #[serde(borrow, default)]
    tool_use_id: LooseStr<'a>,
    #[serde(borrow, default)]
    content: Option<Content<'a>>,
    #[serde(default)]
    is_error: LooseBool,
}

/// Message content: a plain string or a list of blocks.
#[derive(Default)]
enum Content<'a> {
    Text(Cow<'a, str>),
    Blocks(Vec<Loose<Block<'a>>>),
    #[default]
    None,
}

impl<'de: 'a, 'a> Deserialize<'de> for Content<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<'a>(PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for V<'a> {
            type Value = Content<'a>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("message content")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(Content::Text(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(Content::Text(Cow::Owned(v.to_string())))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
                Ok(Content::Text(Cow::Owned(v)))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
                let mut out = Vec::new();
                while let Some(b) = seq.next_element::<Loose<Block<'a>>>()? {
                    out.push(b);
                }
                Ok(Content::Blocks(out))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
                drain_map(map).map(|_| Content::None)
            }
            scalars_as!(Content::None);
        }
        d.deserialize_any(V(PhantomData))
    }
}

/// The `error` of a `system`/`api_error` record (an object whose `message` may be nested
/// in `error`), or of an API error notice (a string).
#[derive(Default)]
struct ErrorInfo<'a> {
    message: Option<Cow<'a, str>>,
}

impl ErrorInfo<'_> {
    fn message(&self) -> Option<&str> {
        self.message.as_deref().filter(|m| !m.trim().is_empty())
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for ErrorInfo<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        struct ErrorMap<'a> {
            #[serde(borrow, default)]
            message: LooseStr<'a>,
            #[serde(borrow, default)]
            error: Option<Box<ErrorInfo<'a>>>,
        }
        struct V<'a>(PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for V<'a> {
            type Value = ErrorInfo<'a>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an error")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(ErrorInfo {
                    message: Some(Cow::Borrowed(v)),
                })
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(ErrorInfo {
                    message: Some(Cow::Owned(v.to_string())),
                })
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
                let m = ErrorMap::deserialize(de::value::MapAccessDeserializer::new(map))?;
                let message = m.error.and_then(|e| e.message).or(m.message.0);
                Ok(ErrorInfo { message })
            }
            fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
                drain_seq(seq).map(|_| ErrorInfo::default())
            }
            scalars_as!(ErrorInfo::default());
        }
        d.deserialize_any(V(PhantomData))
    }
}

fn drain_map<'de, A: MapAccess<'de>>(mut map: A) -> Result<(), A::Error> {
    while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
    Ok(())
}

fn drain_seq<'de, A: SeqAccess<'de>>(mut seq: A) -> Result<(), A::Error> {
    while seq.next_element::<IgnoredAny>()?.is_some() {}
    Ok(())
}

/// A string, borrowed from the line when it has no escapes; anything else reads as `None`.
#[derive(Default)]
struct LooseStr<'a>(Option<Cow<'a, str>>);

impl LooseStr<'_> {
    fn as_deref(&self) -> Option<&str> {
        self.0.as_deref()
    }
}

impl<'de: 'a, 'a> Deserialize<'de> for LooseStr<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<'a>(PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for V<'a> {
            type Value = LooseStr<'a>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Self::Value, E> {
                Ok(LooseStr(Some(Cow::Borrowed(v))))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Self::Value, E> {
                Ok(LooseStr(Some(Cow::Owned(v.to_string()))))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Self::Value, E> {
                Ok(LooseStr(Some(Cow::Owned(v))))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
                drain_map(map).map(|_| LooseStr(None))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
                drain_seq(seq).map(|_| LooseStr(None))
            }
            scalars_as!(LooseStr(None));
        }
        d.deserialize_any(V(PhantomData))
    }
}

/// `true` only for a JSON `true`.
#[derive(Default)]
struct LooseBool(bool);

impl<'de> Deserialize<'de> for LooseBool {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = LooseBool;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a boolean")
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<Self::Value, E> {
                Ok(LooseBool(v))
            }
            fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
                Ok(LooseBool(false))
            }
            fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
                Ok(LooseBool(false))
            }
            fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
                Ok(LooseBool(false))
            }
            fn visit_str<E: de::Error>(self, _: &str) -> Result<Self::Value, E> {
                Ok(LooseBool(false))
            }
            fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(LooseBool(false))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
                drain_map(map).map(|_| LooseBool(false))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
                drain_seq(seq).map(|_| LooseBool(false))
            }
        }
        d.deserialize_any(V)
    }
}

/// A token count: a non-negative integer (floats truncated); anything else reads as 0.
#[derive(Default)]
struct LooseU64(u64);

impl<'de> Deserialize<'de> for LooseU64 {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = LooseU64;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a count")
            }
            fn visit_u64<E: de::Error>(self, v: u64) -> Result<Self::Value, E> {
                Ok(LooseU64(v))
            }
            fn visit_i64<E: de::Error>(self, v: i64) -> Result<Self::Value, E> {
                Ok(LooseU64(u64::try_from(v).unwrap_or(0)))
            }
            fn visit_f64<E: de::Error>(self, v: f64) -> Result<Self::Value, E> {
                // `as` saturates; NaN becomes 0.
                Ok(LooseU64(if v > 0.0 { v as u64 } else { 0 }))
            }
            fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
                Ok(LooseU64(0))
            }
            fn visit_str<E: de::Error>(self, _: &str) -> Result<Self::Value, E> {
                Ok(LooseU64(0))
            }
            fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
                Ok(LooseU64(0))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
                drain_map(map).map(|_| LooseU64(0))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
                drain_seq(seq).map(|_| LooseU64(0))
            }
        }
        d.deserialize_any(V)
    }
}

/// An object read as `T`; any other JSON value reads as `None`.
struct Loose<T>(Option<T>);

impl<T> Default for Loose<T> {
    fn default() -> Self {
        Loose(None)
    }
}

impl<'de, T: Deserialize<'de>> Deserialize<'de> for Loose<T> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<T>(PhantomData<T>);
        impl<'de, T: Deserialize<'de>> Visitor<'de> for V<T> {
            type Value = Loose<T>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an object")
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
                T::deserialize(de::value::MapAccessDeserializer::new(map)).map(|v| Loose(Some(v)))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Self::Value, A::Error> {
                drain_seq(seq).map(|_| Loose(None))
            }
            fn visit_str<E: de::Error>(self, _: &str) -> Result<Self::Value, E> {
                Ok(Loose(None))
            }
            scalars_as!(Loose(None));
        }
        d.deserialize_any(V(PhantomData))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn feed(p: &mut ClaudeParser, line: &str) -> LineOutcome {
        p.handle_line(line.as_bytes())
    }

    #[test]
    fn bounded_map_forgets_oldest_and_round_trips_in_order() {
        let mut m = BoundedMap::default();
        for i in 0..5u64 {
            m.insert(format!("k{i}"), i, 3);
        }
        assert_eq!(m.get("k0"), None);
        assert_eq!(m.get("k1"), None);
        assert_eq!(m.get("k4"), Some(&4));
        assert_eq!(m.remove("k3"), Some(3));
        assert_eq!(m.remove("k3"), None);
        let json = serde_json::to_string(&m).expect("serialize");
        assert_eq!(json, r#"[["k2",2],["k4",4]]"#);
        let back: BoundedMap<u64> = serde_json::from_str(&json).expect("deserialize");
        assert_eq!(back.order, m.order);
        assert_eq!(back.map, m.map);
    }

    #[test]
    fn odd_field_types_read_as_absent() {
        let mut p = ClaudeParser::default();
        let out = feed(
            &mut p,
            r#"{"type":"assistant","uuid":7,"isSidechain":"no","timestamp":"not a time",
               "message":{"id":5,"model":null,"content":{"weird":1},
               "usage":{"input_tokens":"x","output_tokens":-3,"cache_read_input_tokens":2.9,
                        "cache_creation_input_tokens":[1]}}}"#,
        );
        assert_eq!(out, LineOutcome::Handled);
        let t = &p.session().turns[0];
        assert_eq!(
            t.tokens,
            TokenUsage {
                cache_read: 2,
                ..TokenUsage::default()
            }
        );
        assert_eq!(t.started_at, None);
        assert_eq!(t.id, "implicit-1");
    }

    #[test]
    fn message_must_be_an_object_for_conversation_records() {
        let mut p = ClaudeParser::default();
        assert_eq!(
            feed(&mut p, r#"{"type":"user","message":"hi"}"#),
            LineOutcome::Malformed
        );
        assert_eq!(feed(&mut p, r#"{"type":7}"#), LineOutcome::Malformed);
        assert_eq!(feed(&mut p, r#"  ["user"]"#), LineOutcome::Malformed);
        assert_eq!(feed(&mut p, r#"{"type":"user"} x"#), LineOutcome::Malformed);
        assert_eq!(
            feed(&mut p, r#"{"type":"mode","message":"fine here"}"#),
            LineOutcome::Handled
        );
        assert!(p.session().turns.is_empty());
    }

    #[test]
    fn escaped_strings_are_decoded() {
        let mut p = ClaudeParser::default();
        feed(
            &mut p,
            r#"{"type":"user","uuid":"u","message":{"content":"say \"hi\"\n\u00e9"}}"#,
        );
        assert_eq!(p.session().turns[0].user, "say \"hi\"\n\u{e9}");
    }

    #[test]
    fn api_error_system_record_sets_last_error() {
        let mut p = ClaudeParser::default();
        feed(
            &mut p,
            r#"{"type":"system","subtype":"api_error","level":"error","retryAttempt":1,
               "error":{"status":529,"error":{"type":"error","error":{"type":"overloaded_error","message":"Overloaded"}}}}"#,
        );
        let tail = &p.session().tail;
        assert_eq!(tail.last_error.as_deref(), Some("API error: Overloaded"));
        assert_eq!(tail.last_record.as_deref(), Some("api_error"));
    }

    #[test]
    fn server_tool_results_inside_the_message_close_the_call() {
        let mut p = ClaudeParser::default();
        feed(
            &mut p,
            r#"{"type":"user","uuid":"u","message":{"content":"search"}}"#,
        );
        feed(
            &mut p,
            r#"{"type":"assistant","message":{"id":"m","model":"claude-x","stop_reason":"end_turn","content":[
                {"type":"server_tool_use","id":"srv1","name":"web_search","input":{"query":"rust"}},
                {"type":"web_search_tool_result","tool_use_id":"srv1","content":[{"type":"web_search_result","url":"u"}]},
                {"type":"text","text":"found"}]}}"#,
        );
        let s = p.session();
        assert_eq!(s.turns[0].tools[0].success, Some(true));
        assert!(s.tail.pending_tools.is_empty());
        assert!(s.tail.turn_complete);
        assert_eq!(s.tail.last_action.as_deref(), Some("web_search: rust"));
    }
}
