//! One session model shared by every provider.
//!
//! Token convention (normalised at parse time, whatever the provider reports):
//! `input` = prompt tokens *not* served from cache, `cache_read` = prompt tokens served from
//! cache, `cache_write` = cache-creation tokens, `output` = generated tokens including
//! reasoning/thinking tokens.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use std::fmt;
use std::ops::{Add, AddAssign};

pub type Timestamp = DateTime<Utc>;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Provider {
    Claude,
    Codex,
    Gemini,
    Opencode,
}

impl Provider {
    pub const ALL: [Provider; 4] = [
        Provider::Claude,
        Provider::Codex,
        Provider::Gemini,
        Provider::Opencode,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            Provider::Claude => "claude",
            Provider::Codex => "codex",
            Provider::Gemini => "gemini",
            Provider::Opencode => "opencode",
        }
    }

    pub fn parse(name: &str) -> Option<Provider> {
        Provider::ALL
            .into_iter()
            .find(|p| p.as_str().eq_ignore_ascii_case(name.trim()))
    }
}

impl fmt::Display for Provider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenUsage {
    pub input: u64,
    pub output: u64,
    pub cache_read: u64,
    pub cache_write: u64,
}

impl TokenUsage {
    pub fn total(&self) -> u64 {
        self.input + self.output + self.cache_read + self.cache_write
    }

    pub fn is_zero(&self) -> bool {
        self.total() == 0
    }

    /// Component-wise difference that never underflows: cumulative counters that go
    /// backwards (a provider reset) yield zero rather than a huge wrapped number.
    pub fn saturating_sub(&self, other: &TokenUsage) -> TokenUsage {
        TokenUsage {
            input: self.input.saturating_sub(other.input),
            output: self.output.saturating_sub(other.output),
            cache_read: self.cache_read.saturating_sub(other.cache_read),
            cache_write: self.cache_write.saturating_sub(other.cache_write),
        }
    }
}

impl Add for TokenUsage {
    type Output = TokenUsage;
    fn add(self, o: TokenUsage) -> TokenUsage {
        TokenUsage {
            input: self.input + o.input,
            output: self.output + o.output,
            cache_read: self.cache_read + o.cache_read,
            cache_write: self.cache_write + o.cache_write,
        }
    }
}

impl AddAssign for TokenUsage {
    fn add_assign(&mut self, o: TokenUsage) {
        *self = *self + o;
    }
}

/// One tool invocation inside a turn.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ToolCall {
    /// The provider's call id (`toolu_…`, `call_…`, Gemini's tool call id).
    pub id: String,
    pub name: String,
    /// The call's input as the provider recorded it (JSON text or a command line).
    pub input: String,
    /// The tool's output, when recorded.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub output: Option<String>,
    /// `None` while the call has no result yet.
    pub success: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    pub started_at: Option<Timestamp>,
    pub ended_at: Option<Timestamp>,
}

/// Tokens a turn spent on one model. A turn can use several models (Claude Code switches
/// to a small model for some calls), and each is priced separately.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ModelUsage {
    pub model: String,
    pub tokens: TokenUsage,
}

/// One user prompt and everything the agent did until it answered.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Turn {
    /// Stable id taken from the provider record that opened the turn (never a position),
    /// so annotations keyed by it survive re-parsing and renumbering.
    pub id: String,
    /// 1-based position in the session, for display.
    pub number: u32,
    pub started_at: Option<Timestamp>,
    pub ended_at: Option<Timestamp>,
    /// The main model of the turn (the one that produced most output).
    pub model: Option<String>,
    pub user: String,
    pub output: String,
    pub tools: Vec<ToolCall>,
    pub tokens: TokenUsage,
    /// Per-model split of `tokens` (sums to `tokens`).
    #[serde(default)]
    pub usage_by_model: Vec<ModelUsage>,
}

impl Turn {
    /// Adds usage to the turn and to its per-model split.
    pub fn add_usage(&mut self, model: Option<&str>, tokens: TokenUsage) {
        self.tokens += tokens;
        let name = model.unwrap_or("unknown");
        match self.usage_by_model.iter_mut().find(|m| m.model == name) {
            Some(m) => m.tokens += tokens,
            None => self.usage_by_model.push(ModelUsage {
                model: name.to_string(),
                tokens,
            }),
        }
        if let Some(m) = model {
            let main = self
                .usage_by_model
                .iter()
                .max_by_key(|u| (u.tokens.output, u.tokens.total()))
                .map(|u| u.model.clone());
            if main.as_deref() == Some(m) || self.model.is_none() {
                self.model = Some(m.to_string());
            }
        }
    }

    pub fn failed_tool_calls(&self) -> usize {
        self.tools
            .iter()
            .filter(|t| t.success == Some(false))
            .count()
    }
}

/// A subagent's (sidechain) conversation inside a session: counted in the session's
/// spend, kept apart from the main turns.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct Subagent {
    pub id: String,
    pub turns: Vec<Turn>,
}

/// What one parser learnt from one session file.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct ParsedSession {
    /// The provider's session / conversation id.
    pub id: Option<String>,
    pub cwd: Option<String>,
    pub title: Option<String>,
    pub started_at: Option<Timestamp>,
    pub last_activity: Option<Timestamp>,
    pub turns: Vec<Turn>,
    #[serde(default)]
    pub subagents: Vec<Subagent>,
    /// Provider-specific live hints for status derivation (last record kind etc.).
    #[serde(default)]
    pub tail: TailState,
}

impl ParsedSession {
    /// Tokens of main turns and subagents together.
    pub fn tokens(&self) -> TokenUsage {
        let mut t = TokenUsage::default();
        for turn in self.all_turns() {
            t += turn.tokens;
        }
        t
    }

    pub fn all_turns(&self) -> impl Iterator<Item = &Turn> {
        self.turns
            .iter()
            .chain(self.subagents.iter().flat_map(|s| s.turns.iter()))
    }

    /// Per-model usage over main turns and subagents.
    pub fn usage_by_model(&self) -> Vec<ModelUsage> {
        let mut out: Vec<ModelUsage> = Vec::new();
        for u in self.all_turns().flat_map(|t| t.usage_by_model.iter()) {
            match out.iter_mut().find(|m| m.model == u.model) {
                Some(m) => m.tokens += u.tokens,
                None => out.push(u.clone()),
            }
        }
        out
    }

    /// The model that produced the most output over the session.
    pub fn main_model(&self) -> Option<String> {
        self.usage_by_model()
            .into_iter()
            .filter(|m| m.model != "unknown")
            .max_by_key(|m| (m.tokens.output, m.tokens.total()))
            .map(|m| m.model)
            .or_else(|| self.turns.iter().rev().find_map(|t| t.model.clone()))
    }

    pub fn tool_calls(&self) -> usize {
        self.turns.iter().map(|t| t.tools.len()).sum()
    }

    pub fn failed_tool_calls(&self) -> usize {
        self.turns.iter().map(Turn::failed_tool_calls).sum()
    }

    pub fn note_time(&mut self, ts: Option<Timestamp>) {
        if let Some(ts) = ts {
            if self.started_at.is_none_or(|s| ts < s) {
                self.started_at = Some(ts);
            }
            if self.last_activity.is_none_or(|l| ts > l) {
                self.last_activity = Some(ts);
            }
        }
    }
}

/// What the end of a session file says about the agent right now; discovery combines it
/// with process evidence to decide a status.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
pub struct TailState {
    /// Kind of the last meaningful record, e.g. `user`, `assistant`, `tool_use`,
    /// `tool_result`, `task_complete`.
    pub last_record: Option<String>,
    pub last_record_at: Option<Timestamp>,
    /// Tool calls issued and not yet answered.
    pub pending_tools: Vec<String>,
    /// The agent finished its turn (Claude `stop_reason: end_turn`, Codex `task_complete`,
    /// Gemini final answer without tool calls).
    pub turn_complete: bool,
    /// The last tool call: name and a short argument, for the LAST ACTION column.
    pub last_action: Option<String>,
    pub last_error: Option<String>,
}

/// Counts of what a parser passed over; surfaced as warnings, never fatal.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ParseStats {
    pub lines: u64,
    /// Lines that were not valid JSON (or not UTF-8, or over the line-size cap).
    pub malformed: u64,
    /// Valid records of a type the parser does not know.
    pub unknown: u64,
}

impl ParseStats {
    pub fn skipped(&self) -> u64 {
        self.malformed + self.unknown
    }
}
