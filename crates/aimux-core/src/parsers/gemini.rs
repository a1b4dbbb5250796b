//! Gemini CLI chat files: `~/.gemini/tmp/<project>/chats/session-<ts>-<id8>.jsonl` and the
//! older whole-file `session-*.json`.
//!
//! # Format (gemini-cli 0.61.0, see `chatRecordingService` in its bundle)
//!
//! The JSONL file is an append-only log of four record kinds:
//!
//! * a **header** `{sessionId, projectHash, startTime, lastUpdated, kind, directories?}`; a
//!   resumed session appends another header with the same `sessionId` (and a new
//!   `startTime`) to the same file;
//! * a **message** `{id, timestamp, type, content, displayContent?, thoughts?, tokens?,
//!   model?, toolCalls?}`; `type` is `user`, `gemini`, `info`, `warning` or `error`. The CLI
//!   re-appends a message whenever it changes: a `gemini` message is written when the model
//!   answers (without `toolCalls`, which are recorded only once the tools finish) and again
//!   with `toolCalls` (args, result, status, resultDisplay, timestamp);
//! * a **patch** `{"$set": {...}}`: `lastUpdated`, `summary`, `sessionId`, `directories`,
//!   `memoryScratchpad`, or `messages` — a whole replacement history. The CLI writes one
//!   holding only the injected `<session_context>` message at start, after a cancelled
//!   request, and on resume, and one re-listing the history on resume (without `tokens`,
//!   `toolCalls` and `model`, with fresh timestamps, plus synthetic `<id>_response` user
//!   messages) and after `/compress` (a summary user message and a "Got it" model message);
//! * a **rewind** `{"$rewindTo": id}` (the user rewound the conversation).
//!
//! # How it is folded
//!
//! Messages are merged by `id`, in order of first appearance (a message first seen inside a
//! `$set.messages` list is placed after its predecessor in that list). A later write fills in
//! fields and never erases them: a record without `tokens`/`toolCalls`/`model`/text keeps
//! what was read before; tokens of a message are replaced, never added twice; the first
//! timestamp wins (rewrites carry the time of the rewrite). Nothing is ever deleted: a
//! `$set.messages` that drops messages, and `$rewindTo`, still leave the tokens they spent
//! in the session.
//!
//! A turn is opened by a real user prompt (turn id = message id). Not prompts: user
//! messages made only of `functionResponse` parts (tool results), injected blocks
//! (`<session_context>`, `<hook_context>`, `<state_snapshot>`, any `<…_context>` tag, the
//! JSON snapshot state), empty content, and any user message first seen inside a
//! `$set.messages` rewrite — real prompts are always appended as message records, while a
//! rewrite only re-lists history or adds CLI-made messages (the session context, whose id is
//! sometimes random, and the `/compress` summary, which with a real model starts with
//! `<state_snapshot>` but is arbitrary text). Likewise the text of a `gemini` message first
//! seen in a rewrite ("Got it. Thanks for the additional context!") is not turn output,
//! though its tokens and tool calls would still count.
//!
//! Tokens come from each `gemini` message's `tokens`, normalised as `RawTokens::usage`
//! documents. Only the main model's calls are recorded: the router, next-speaker, summary
//! and `/compress` calls the CLI makes to utility models appear in `/stats` and telemetry,
//! not in this file.
//!
//! # Tail
//!
//! `last_record` is the kind of the last message that is not injected context or a
//! rewrite: `user`, `tool_result` (function responses, or a model message whose tool calls
//! all finished), `tool_use` (tool calls without a result — or a model message with no text
//! and no calls yet: the CLI writes the calls only once they finish, so that is the state
//! while a tool runs or waits for approval), `assistant`, `interrupted` (the TUI's
//! "Request cancelled." notice), `info`, `warning`, `error`. `turn_complete`: the last model
//! message has text and issued no tool calls, or the request was cancelled.

use super::{LineOutcome, RecordParser};
use crate::model::{ParsedSession, TailState, Timestamp, TokenUsage, ToolCall, Turn};
use crate::text;
use chrono::{DateTime, Utc};
use serde::de::{self, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};
use serde::{Deserialize, Serialize};
use std::borrow::Cow;
use std::collections::HashMap;
use std::fmt;
use std::marker::PhantomData;

/// Tool outputs and errors kept on a [`ToolCall`] are cut to this many bytes.
const MAX_TOOL_TEXT: usize = 2000;

// ---------------------------------------------------------------------------------------
// Parser state
// ---------------------------------------------------------------------------------------

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct GeminiParser {
    session: ParsedSession,
    /// Every message seen, merged by id, in conversation order.
    messages: Vec<Msg>,
    /// Message id -> position in `messages`. Rebuilt after deserialisation.
    #[serde(skip)]
    index: HashMap<String, usize>,
    /// Position in `messages` of the message that opened each turn of `session.turns`.
    turn_starts: Vec<usize>,
    /// Lowest message position changed since the turns were last derived.
    dirty: Option<usize>,
    /// Lowest message position changed since the tail was last derived.
    tail_from: Option<usize>,
    /// Position of the message `session.tail.last_error` came from.
    last_error_at: Option<usize>,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum Role {
    #[default]
    User,
    Gemini,
    Info,
    Warning,
    Error,
}

impl Role {
    fn parse(s: &str) -> Option<Role> {
        Some(match s {
            "user" => Role::User,
            "gemini" | "model" => Role::Gemini,
            "info" => Role::Info,
            "warning" => Role::Warning,
            "error" => Role::Error,
            _ => return None,
        })
    }
}

/// What a `user` message is.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
enum UserClass {
    /// No content (yet).
    #[default]
    Empty,
    /// Something the user asked: opens a turn.
    Prompt,
    /// A block the CLI injects (`<session_context>` …).
    Injected,
    /// `functionResponse` parts: results of the previous model message's tool calls.
    ToolResult,
}

/// A `functionResponse` part of a tool-result user message.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
struct ToolResponse {
    id: String,
    output: Option<String>,
    error: Option<String>,
}

/// One message, merged over all its writes.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
struct Msg {
    id: String,
    role: Role,
    #[serde(default)]
    class: UserClass,
    /// Only ever seen inside `$set.messages` rewrites, never as a record of its own.
    #[serde(default)]
    synthetic: bool,
    ts: Option<Timestamp>,
    /// Prompt text (user), answer text without thoughts (gemini), message (info/error).
    #[serde(default)]
    text: String,
    /// `text` came from `displayContent` (what the user typed), which content must not override.
    #[serde(default)]
    display: bool,
    #[serde(default)]
    model: Option<String>,
    #[serde(default)]
    tokens: Option<TokenUsage>,
    #[serde(default)]
    thoughts: bool,
    #[serde(default)]
    tools: Vec<ToolCall>,
    #[serde(default)]
    responses: Vec<ToolResponse>,
}

// ---------------------------------------------------------------------------------------
// Raw records (borrowed, typed; everything we do not read is skipped)
// ---------------------------------------------------------------------------------------

/// One JSONL line: a header, a message, a `$set` patch or a `$rewindTo` (their field sets do
/// not overlap, so one struct reads them all in a single pass).
#[derive(Deserialize)]
struct RawLine<'a> {
    #[serde(rename = "$set", borrow, default)]
    set: Option<RawMeta<'a>>,
    #[serde(rename = "$rewindTo", default)]
    rewind_to: Option<IgnoredAny>,
    // header / whole-file fields
    #[serde(rename = "sessionId", borrow, default)]
    session_id: Str<'a>,
    #[serde(rename = "startTime", borrow, default)]
    start_time: Str<'a>,
    #[serde(rename = "lastUpdated", borrow, default)]
    last_updated: Str<'a>,
    #[serde(borrow, default)]
    summary: Str<'a>,
    #[serde(borrow, default)]
    directories: FirstStr<'a>,
    #[serde(borrow, default)]
    messages: Option<Vec<RawMessage<'a>>>,
    // message fields
    #[serde(borrow, default)]
    id: Str<'a>,
    #[serde(borrow, default)]
    timestamp: Str<'a>,
    #[serde(rename = "type", borrow, default)]
    kind: Str<'a>,
    #[serde(borrow, default)]
    content: Option<Content<'a>>,
    #[serde(rename = "displayContent", borrow, default)]
    display_content: Option<Content<'a>>,
    #[serde(default)]
    thoughts: NonEmpty,
    #[serde(default)]
    tokens: Option<RawTokens>,
    #[serde(borrow, default)]
    model: Str<'a>,
    #[serde(rename = "toolCalls", borrow, default)]
    tool_calls: Option<Vec<RawToolCall<'a>>>,
}

impl<'a> RawLine<'a> {
    fn into_parts(self) -> (RawMeta<'a>, RawMessage<'a>) {
        (
            RawMeta {
                session_id: self.session_id,
                start_time: self.start_time,
                last_updated: self.last_updated,
                summary: self.summary,
                directories: self.directories,
                messages: self.messages,
            },
            RawMessage {
                id: self.id,
                timestamp: self.timestamp,
                kind: self.kind,
                content: self.content,
                display_content: self.display_content,
                thoughts: self.thoughts,
                tokens: self.tokens,
                model: self.model,
                tool_calls: self.tool_calls,
            },
        )
    }
}

/// Session metadata: the header, a `$set` patch, or the whole-file form.
#[derive(Deserialize, Default)]
struct RawMeta<'a> {
    #[serde(rename = "sessionId", borrow, default)]
    session_id: Str<'a>,
    #[serde(rename = "startTime", borrow, default)]
    start_time: Str<'a>,
    #[serde(rename = "lastUpdated", borrow, default)]
    last_updated: Str<'a>,
    #[serde(borrow, default)]
    summary: Str<'a>,
    #[serde(borrow, default)]
    directories: FirstStr<'a>,
    #[serde(borrow, default)]
    messages: Option<Vec<RawMessage<'a>>>,
}

#[derive(Deserialize, Default)]
struct RawMessage<'a> {
    #[serde(borrow, default)]
    id: Str<'a>,
    #[serde(borrow, default)]
    timestamp: Str<'a>,
    #[serde(rename = "type", borrow, default)]
    kind: Str<'a>,
    #[serde(borrow, default)]
    content: Option<Content<'a>>,
    #[serde(rename = "displayContent", borrow, default)]
    display_content: Option<Content<'a>>,
    #[serde(default)]
    thoughts: NonEmpty,
    #[serde(default)]
    tokens: Option<RawTokens>,
    #[serde(borrow, default)]
    model: Str<'a>,
    #[serde(rename = "toolCalls", borrow, default)]
    tool_calls: Option<Vec<RawToolCall<'a>>>,
}

/// `tokens` as the CLI records it from the response's `usageMetadata`.
#[derive(Deserialize, Default, Clone, Copy)]
struct RawTokens {
    /// `promptTokenCount`: the whole prompt, cached part included.
    #[serde(default, deserialize_with = "lenient_u64")]
    input: u64,
    /// `candidatesTokenCount`: the answer, without thinking.
    #[serde(default, deserialize_with = "lenient_u64")]
    output: u64,
    /// `cachedContentTokenCount`: the part of `input` served from cache.
    #[serde(default, deserialize_with = "lenient_u64")]
    cached: u64,
    /// `thoughtsTokenCount`: thinking tokens, billed as output.
    #[serde(default, deserialize_with = "lenient_u64")]
    thoughts: u64,
    /// `toolUsePromptTokenCount`.
    #[serde(default, deserialize_with = "lenient_u64")]
    tool: u64,
    /// `totalTokenCount`.
    #[serde(default, deserialize_with = "lenient_u64")]
    total: u64,
}

impl RawTokens {
    /// Normalises to the aimux convention (input without cache, output with thinking).
    ///
    /// `tool` is `usageMetadata.toolUsePromptTokenCount` (`recordMessageTokens` in the CLI
    /// maps `{input: promptTokenCount, output: candidatesTokenCount, cached:
    /// cachedContentTokenCount, thoughts: thoughtsTokenCount, tool: toolUsePromptTokenCount,
    /// total: totalTokenCount}`, each `?? 0`). The Gemini API counts it apart from
    /// `promptTokenCount` — it is the prompt of built-in tool use (search grounding, code
    /// execution) — and includes it in `totalTokenCount`, which is prompt + candidates +
    /// thoughts + tool-use prompt; it is billed as input. The fake model server never
    /// sends the field, so every sample has `tool: 0` and `total = input + output +
    /// thoughts` (its `totalTokenCount` is `in + out + 12` with `thoughtsTokenCount: 12`),
    /// which is consistent with that sum but cannot prove where `tool` goes. So `tool` is
    /// added to `input`, unless `total` shows it is already inside `input` (`total == input
    /// + output + thoughts` with `tool > 0`), in which case adding it would count it twice.
    fn usage(&self) -> TokenUsage {
        let tool_inside_input = self.tool > 0
            && self.total > 0
            && self.total
                == self
                    .input
                    .saturating_add(self.output)
                    .saturating_add(self.thoughts);
        let tool = if tool_inside_input { 0 } else { self.tool };
        TokenUsage {
            input: self.input.saturating_sub(self.cached).saturating_add(tool),
            output: self.output.saturating_add(self.thoughts),
            cache_read: self.cached,
            cache_write: 0,
        }
    }
}

#[derive(Deserialize)]
struct RawToolCall<'a> {
    #[serde(borrow, default)]
    id: Str<'a>,
    #[serde(borrow, default)]
    name: Str<'a>,
    #[serde(default)]
    args: Option<serde_json::Value>,
    /// The `functionResponse` parts sent back to the model (or a string).
    #[serde(borrow, default)]
    result: Option<Content<'a>>,
    #[serde(borrow, default)]
    status: Str<'a>,
    #[serde(borrow, default)]
    timestamp: Str<'a>,
    #[serde(rename = "resultDisplay", borrow, default)]
    result_display: Display<'a>,
}

/// A message's `content`: a string, one part, or a list of parts (strings or objects).
#[derive(Default)]
struct Content<'a> {
    /// Text parts that are not thoughts, in order.
    texts: Vec<Cow<'a, str>>,
    thought_parts: usize,
    /// Parts of any other kind (inline data, files, code …).
    other_parts: usize,
    calls: Vec<RawFnCall<'a>>,
    responses: Vec<RawFnResponse<'a>>,
}

impl<'a> Content<'a> {
    fn is_empty(&self) -> bool {
        self.texts.is_empty()
            && self.thought_parts == 0
            && self.other_parts == 0
            && self.calls.is_empty()
            && self.responses.is_empty()
    }

    fn add(&mut self, part: RawPart<'a>) {
        let mut any = false;
        if let Some(t) = part.text.0 {
            any = true;
            if part.thought.0 {
                self.thought_parts += 1;
            } else {
                self.texts.push(t);
            }
        }
        if let Some(c) = part.function_call {
            any = true;
            self.calls.push(c);
        }
        if let Some(r) = part.function_response {
            any = true;
            self.responses.push(r);
        }
        if !any {
            self.other_parts += 1;
        }
    }

    fn joined(&self, sep: &str) -> String {
        self.texts.join(sep)
    }
}

#[derive(Deserialize, Default)]
struct RawPart<'a> {
    #[serde(borrow, default)]
    text: Str<'a>,
    #[serde(default)]
    thought: Flag,
    #[serde(rename = "functionCall", borrow, default)]
    function_call: Option<RawFnCall<'a>>,
    #[serde(rename = "functionResponse", borrow, default)]
    function_response: Option<RawFnResponse<'a>>,
}

#[derive(Deserialize)]
struct RawFnCall<'a> {
    #[serde(borrow, default)]
    id: Str<'a>,
    #[serde(borrow, default)]
    name: Str<'a>,
    #[serde(default)]
    args: Option<serde_json::Value>,
}

#[derive(Deserialize)]
struct RawFnResponse<'a> {
    #[serde(borrow, default)]
    id: Str<'a>,
    #[serde(borrow, default)]
    response: Option<RawResponse<'a>>,
}

#[derive(Deserialize, Default)]
struct RawResponse<'a> {
    #[serde(borrow, default)]
    output: Str<'a>,
    #[serde(borrow, default)]
    error: Str<'a>,
}

/// `resultDisplay`: a string, an object (`{summary, files}`, file diffs …) or terminal
/// output (a list of lines, each a list of `{text, bold, …}` tokens).
#[derive(Default)]
enum Display<'a> {
    #[default]
    None,
    Text(Cow<'a, str>),
    Summary(Cow<'a, str>),
    Terminal(String),
}

impl Display<'_> {
    fn text(&self) -> Option<&str> {
        match self {
            Display::None => None,
            Display::Text(s) | Display::Summary(s) => Some(s.as_ref()),
            Display::Terminal(s) => Some(s.as_str()),
        }
        .filter(|s| !s.trim().is_empty())
    }
}

// ---------------------------------------------------------------------------------------
// Lenient field readers: a field of an unexpected shape is skipped, not fatal.
// ---------------------------------------------------------------------------------------

/// A string field; any other JSON value reads as absent.
#[derive(Default)]
struct Str<'a>(Option<Cow<'a, str>>);

impl Str<'_> {
    fn get(&self) -> Option<&str> {
        self.0.as_deref()
    }

    fn non_empty(&self) -> Option<&str> {
        self.get().filter(|s| !s.is_empty())
    }
}

/// Skips the rest of a sequence or map so a visitor can ignore it.
fn drain_seq<'de, A: SeqAccess<'de>>(mut seq: A) -> Result<(), A::Error> {
    while seq.next_element::<IgnoredAny>()?.is_some() {}
    Ok(())
}

fn drain_map<'de, A: MapAccess<'de>>(mut map: A) -> Result<(), A::Error> {
    while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
    Ok(())
}

/// Implements the scalar `visit_*` methods of a visitor as "ignore: default value".
macro_rules! ignore_scalars {
    () => {
        fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
            Ok(Default::default())
        }
        fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
            Ok(Default::default())
        }
        fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
            Ok(Default::default())
        }
        fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
            Ok(Default::default())
        }
        fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(Default::default())
        }
        fn visit_none<E: de::Error>(self) -> Result<Self::Value, E> {
            Ok(Default::default())
        }
    };
}

impl<'de: 'a, 'a> Deserialize<'de> for Str<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<'a>(PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for V<'a> {
            type Value = Str<'a>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a string")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Str<'a>, E> {
                Ok(Str(Some(Cow::Borrowed(v))))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Str<'a>, E> {
                Ok(Str(Some(Cow::Owned(v.to_owned()))))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Str<'a>, E> {
                Ok(Str(Some(Cow::Owned(v))))
            }
            fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Str<'a>, D::Error> {
                Str::deserialize(d)
            }
            fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Str<'a>, A::Error> {
                drain_seq(seq).map(|_| Str(None))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Str<'a>, A::Error> {
                drain_map(map).map(|_| Str(None))
            }
            ignore_scalars!();
        }
        d.deserialize_any(V(PhantomData))
    }
}

/// The first string of a list of strings (`directories`).
#[derive(Default)]
struct FirstStr<'a>(Option<Cow<'a, str>>);

impl<'de: 'a, 'a> Deserialize<'de> for FirstStr<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<'a>(PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for V<'a> {
            type Value = FirstStr<'a>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a list of strings")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<FirstStr<'a>, A::Error> {
                let mut first = None;
                while let Some(s) = seq.next_element::<Str<'a>>()? {
                    if first.is_none() {
                        first = s.0;
                    }
                }
                Ok(FirstStr(first))
            }
            fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<FirstStr<'a>, D::Error> {
                FirstStr::deserialize(d)
            }
            fn visit_str<E: de::Error>(self, _: &str) -> Result<FirstStr<'a>, E> {
                Ok(FirstStr(None))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<FirstStr<'a>, A::Error> {
                drain_map(map).map(|_| FirstStr(None))
            }
            ignore_scalars!();
        }
        d.deserialize_any(V(PhantomData))
    }
}

/// `true` only for a JSON `true`.
#[derive(Default)]
struct Flag(bool);

impl<'de> Deserialize<'de> for Flag {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = Flag;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a boolean")
            }
            fn visit_bool<E: de::Error>(self, v: bool) -> Result<Flag, E> {
                Ok(Flag(v))
            }
            fn visit_i64<E: de::Error>(self, _: i64) -> Result<Flag, E> {
                Ok(Flag(false))
            }
            fn visit_u64<E: de::Error>(self, _: u64) -> Result<Flag, E> {
                Ok(Flag(false))
            }
            fn visit_f64<E: de::Error>(self, _: f64) -> Result<Flag, E> {
                Ok(Flag(false))
            }
            fn visit_unit<E: de::Error>(self) -> Result<Flag, E> {
                Ok(Flag(false))
            }
            fn visit_none<E: de::Error>(self) -> Result<Flag, E> {
                Ok(Flag(false))
            }
            fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Flag, D::Error> {
                Flag::deserialize(d)
            }
            fn visit_str<E: de::Error>(self, _: &str) -> Result<Flag, E> {
                Ok(Flag(false))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Flag, A::Error> {
                drain_seq(seq).map(|_| Flag(false))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Flag, A::Error> {
                drain_map(map).map(|_| Flag(false))
            }
        }
        d.deserialize_any(V)
    }
}

/// Whether a list (`thoughts`) has any element.
#[derive(Default)]
struct NonEmpty(bool);

impl<'de> Deserialize<'de> for NonEmpty {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = NonEmpty;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a list")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<NonEmpty, A::Error> {
                let mut n = 0usize;
                while seq.next_element::<IgnoredAny>()?.is_some() {
                    n += 1;
                }
                Ok(NonEmpty(n > 0))
            }
            fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<NonEmpty, D::Error> {
                NonEmpty::deserialize(d)
            }
            fn visit_str<E: de::Error>(self, _: &str) -> Result<NonEmpty, E> {
                Ok(NonEmpty(false))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<NonEmpty, A::Error> {
                drain_map(map).map(|_| NonEmpty(false))
            }
            ignore_scalars!();
        }
        d.deserialize_any(V)
    }
}

/// A token count: a non-negative integer; floats, numeric strings and junk are tolerated.
fn lenient_u64<'de, D: Deserializer<'de>>(d: D) -> Result<u64, D::Error> {
    struct V;
    impl<'de> Visitor<'de> for V {
        type Value = u64;
        fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
            f.write_str("a token count")
        }
        fn visit_u64<E: de::Error>(self, v: u64) -> Result<u64, E> {
            Ok(v)
        }
        fn visit_i64<E: de::Error>(self, v: i64) -> Result<u64, E> {
            Ok(u64::try_from(v).unwrap_or(0))
        }
        fn visit_f64<E: de::Error>(self, v: f64) -> Result<u64, E> {
            Ok(if v.is_finite() && v > 0.0 {
                v as u64
            } else {
                0
            })
        }
        fn visit_str<E: de::Error>(self, v: &str) -> Result<u64, E> {
            Ok(v.trim().parse().unwrap_or(0))
        }
        fn visit_bool<E: de::Error>(self, _: bool) -> Result<u64, E> {
            Ok(0)
        }
        fn visit_unit<E: de::Error>(self) -> Result<u64, E> {
            Ok(0)
        }
        fn visit_none<E: de::Error>(self) -> Result<u64, E> {
            Ok(0)
        }
        fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<u64, D::Error> {
            lenient_u64(d)
        }
        fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<u64, A::Error> {
            drain_seq(seq).map(|_| 0)
        }
        fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<u64, A::Error> {
            drain_map(map).map(|_| 0)
        }
    }
    d.deserialize_any(V)
}

/// One element of a parts list: a string is a text part, an object a part, anything else
/// an unknown part.
struct PartItem<'a>(Option<RawPart<'a>>);

impl<'de: 'a, 'a> Deserialize<'de> for PartItem<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<'a>(PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for V<'a> {
            type Value = PartItem<'a>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a content part")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<PartItem<'a>, E> {
                Ok(text_part(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<PartItem<'a>, E> {
                Ok(text_part(Cow::Owned(v.to_owned())))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<PartItem<'a>, E> {
                Ok(text_part(Cow::Owned(v)))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<PartItem<'a>, A::Error> {
                RawPart::deserialize(de::value::MapAccessDeserializer::new(map))
                    .map(|p| PartItem(Some(p)))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<PartItem<'a>, A::Error> {
                drain_seq(seq).map(|_| PartItem(None))
            }
            fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<PartItem<'a>, D::Error> {
                PartItem::deserialize(d)
            }
            fn visit_bool<E: de::Error>(self, _: bool) -> Result<PartItem<'a>, E> {
                Ok(PartItem(None))
            }
            fn visit_i64<E: de::Error>(self, _: i64) -> Result<PartItem<'a>, E> {
                Ok(PartItem(None))
            }
            fn visit_u64<E: de::Error>(self, _: u64) -> Result<PartItem<'a>, E> {
                Ok(PartItem(None))
            }
            fn visit_f64<E: de::Error>(self, _: f64) -> Result<PartItem<'a>, E> {
                Ok(PartItem(None))
            }
            fn visit_unit<E: de::Error>(self) -> Result<PartItem<'a>, E> {
                Ok(PartItem(None))
            }
            fn visit_none<E: de::Error>(self) -> Result<PartItem<'a>, E> {
                Ok(PartItem(None))
            }
        }
        d.deserialize_any(V(PhantomData))
    }
}

fn text_part(text: Cow<'_, str>) -> PartItem<'_> {
    PartItem(Some(RawPart {
        text: Str(Some(text)),
        ..RawPart::default()
    }))
}

impl<'de: 'a, 'a> Deserialize<'de> for Content<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<'a>(PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for V<'a> {
            type Value = Content<'a>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("message content")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Content<'a>, E> {
                Ok(text_content(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Content<'a>, E> {
                Ok(text_content(Cow::Owned(v.to_owned())))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Content<'a>, E> {
                Ok(text_content(Cow::Owned(v)))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Content<'a>, A::Error> {
                let mut c = Content::default();
                while let Some(item) = seq.next_element::<PartItem<'a>>()? {
                    match item.0 {
                        Some(p) => c.add(p),
                        None => c.other_parts += 1,
                    }
                }
                Ok(c)
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Content<'a>, A::Error> {
                let part = RawPart::deserialize(de::value::MapAccessDeserializer::new(map))?;
                let mut c = Content::default();
                c.add(part);
                Ok(c)
            }
            fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Content<'a>, D::Error> {
                Content::deserialize(d)
            }
            ignore_scalars!();
        }
        d.deserialize_any(V(PhantomData))
    }
}

fn text_content(text: Cow<'_, str>) -> Content<'_> {
    let mut c = Content::default();
    if !text.is_empty() {
        c.texts.push(text);
    }
    c
}

impl<'de: 'a, 'a> Deserialize<'de> for Display<'a> {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        struct V<'a>(PhantomData<&'a ()>);
        impl<'de: 'a, 'a> Visitor<'de> for V<'a> {
            type Value = Display<'a>;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a tool result display")
            }
            fn visit_borrowed_str<E: de::Error>(self, v: &'de str) -> Result<Display<'a>, E> {
                Ok(Display::Text(Cow::Borrowed(v)))
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<Display<'a>, E> {
                Ok(Display::Text(Cow::Owned(v.to_owned())))
            }
            fn visit_string<E: de::Error>(self, v: String) -> Result<Display<'a>, E> {
                Ok(Display::Text(Cow::Owned(v)))
            }
            fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Display<'a>, A::Error> {
                let mut summary = None;
                while let Some(key) = map.next_key::<Str<'_>>()? {
                    if key.get() == Some("summary") {
                        summary = map.next_value::<Str<'a>>()?.0;
                    } else {
                        map.next_value::<IgnoredAny>()?;
                    }
                }
                Ok(summary.map_or(Display::None, Display::Summary))
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Display<'a>, A::Error> {
                let mut out = String::new();
                while let Some(line) = seq.next_element::<TerminalLine>()? {
                    if !out.is_empty() {
                        out.push('\n');
                    }
                    out.push_str(line.0.trim_end());
                }
                let trimmed = out.trim_end().len();
                out.truncate(trimmed);
                Ok(Display::Terminal(out))
            }
            fn visit_some<D: Deserializer<'de>>(self, d: D) -> Result<Display<'a>, D::Error> {
                Display::deserialize(d)
            }
            ignore_scalars!();
        }
        d.deserialize_any(V(PhantomData))
    }
}

/// One line of terminal output: the concatenated `text` of its tokens.
#[derive(Default)]
struct TerminalLine(String);

impl<'de> Deserialize<'de> for TerminalLine {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        #[derive(Deserialize)]
        struct Token<'a> {
            #[serde(borrow, default)]
            text: Str<'a>,
        }
        struct TokenItem<'a>(Option<Token<'a>>);
        impl<'de: 'a, 'a> Deserialize<'de> for TokenItem<'a> {
            fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
                struct V<'a>(PhantomData<&'a ()>);
                impl<'de: 'a, 'a> Visitor<'de> for V<'a> {
                    type Value = TokenItem<'a>;
                    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                        f.write_str("a terminal token")
                    }
                    fn visit_map<A: MapAccess<'de>>(
                        self,
                        map: A,
                    ) -> Result<TokenItem<'a>, A::Error> {
                        Token::deserialize(de::value::MapAccessDeserializer::new(map))
                            .map(|t| TokenItem(Some(t)))
                    }
                    fn visit_seq<A: SeqAccess<'de>>(
                        self,
                        seq: A,
                    ) -> Result<TokenItem<'a>, A::Error> {
                        drain_seq(seq).map(|_| TokenItem(None))
                    }
                    fn visit_str<E: de::Error>(self, _: &str) -> Result<TokenItem<'a>, E> {
                        Ok(TokenItem(None))
                    }
                    fn visit_bool<E: de::Error>(self, _: bool) -> Result<TokenItem<'a>, E> {
                        Ok(TokenItem(None))
                    }
                    fn visit_i64<E: de::Error>(self, _: i64) -> Result<TokenItem<'a>, E> {
                        Ok(TokenItem(None))
                    }
                    fn visit_u64<E: de::Error>(self, _: u64) -> Result<TokenItem<'a>, E> {
                        Ok(TokenItem(None))
                    }
                    fn visit_f64<E: de::Error>(self, _: f64) -> Result<TokenItem<'a>, E> {
                        Ok(TokenItem(None))
                    }
                    fn visit_unit<E: de::Error>(self) -> Result<TokenItem<'a>, E> {
                        Ok(TokenItem(None))
                    }
                }
                d.deserialize_any(V(PhantomData))
            }
        }
        struct V;
        impl<'de> Visitor<'de> for V {
            type Value = TerminalLine;
            fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
                f.write_str("a terminal line")
            }
            fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<TerminalLine, A::Error> {
                let mut line = String::new();
                while let Some(tok) = seq.next_element::<TokenItem<'de>>()? {
                    if let Some(t) = tok.0.as_ref().and_then(|t| t.text.get()) {
                        line.push_str(t);
                    }
                }
                Ok(TerminalLine(line))
            }
            fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<TerminalLine, A::Error> {
                drain_map(map).map(|_| TerminalLine::default())
            }
            fn visit_str<E: de::Error>(self, v: &str) -> Result<TerminalLine, E> {
                Ok(TerminalLine(v.to_owned()))
            }
            ignore_scalars!();
        }
        d.deserialize_any(V)
    }
}

// ---------------------------------------------------------------------------------------
// Classification helpers
// ---------------------------------------------------------------------------------------

fn parse_ts(s: &Str<'_>) -> Option<Timestamp> {
    DateTime::parse_from_rfc3339(s.get()?.trim())
        .ok()
        .map(|d| d.with_timezone(&Utc))
}

/// Text the CLI injects as a user message: `<session_context>`, `<hook_context>`,
/// `<state_snapshot>` or any other `<…_context>` block, and the JSON snapshot state the
/// context manager writes (`{"active_tasks": …, "recent_arc": …}`).
fn is_injected(text: &str) -> bool {
    let t = text.trim_start();
    if let Some(rest) = t.strip_prefix('<') {
        let Some(end) = rest.find('>') else {
            return false;
        };
        let Some(tag) = rest.get(..end) else {
            return false;
        };
        return !tag.is_empty()
            && tag.len() <= 64
            && tag
                .bytes()
                .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
            && (tag.ends_with("_context") || tag.ends_with("_snapshot"));
    }
    t.starts_with('{') && t.contains("\"active_tasks\"") && t.contains("\"recent_arc\"")
}

/// The first workspace directory listed by a `<session_context>` block:
/// `- **Workspace Directories:**\n  - /abs/project`, or the older single-directory form
/// `I'm currently working in the directory: /abs/project`.
fn workspace_dir(text: &str) -> Option<&str> {
    if !text.trim_start().starts_with("<session_context>") {
        return None;
    }
    let absolute = |p: &str| p.starts_with('/') || p.get(1..3) == Some(":\\");
    if let Some(at) = text.find("Workspace Directories:") {
        let rest = text.get(at..)?;
        return rest
            .lines()
            .skip(1)
            .map(str::trim)
            .take_while(|l| l.starts_with("- "))
            .filter_map(|l| l.strip_prefix("- ").map(str::trim))
            .find(|p| absolute(p));
    }
    let marker = "working in the directory:";
    let at = text.find(marker)?;
    let line = text.get(at + marker.len()..)?.lines().next()?.trim();
    absolute(line).then_some(line)
}

fn classify_user(c: &Content<'_>) -> UserClass {
    if !c.responses.is_empty() {
        return UserClass::ToolResult;
    }
    let text = c.joined("\n");
    if !text.trim().is_empty() {
        if is_injected(&text) {
            UserClass::Injected
        } else {
            UserClass::Prompt
        }
    } else if c.other_parts > 0 {
        // e.g. an image on its own
        UserClass::Prompt
    } else {
        UserClass::Empty
    }
}

/// The prompt as the user wrote it: text parts without appended injected blocks.
fn user_text(c: &Content<'_>) -> String {
    let parts: Vec<&str> = c
        .texts
        .iter()
        .map(|t| t.as_ref())
        .filter(|t| !is_injected(t))
        .collect();
    parts.join("\n").trim().to_string()
}

fn short(s: &str) -> String {
    text::truncate(s.trim(), MAX_TOOL_TEXT)
}

/// Output and error text of a `functionResponse`.
fn response_texts(r: &RawFnResponse<'_>) -> (Option<String>, Option<String>) {
    let Some(resp) = &r.response else {
        return (None, None);
    };
    (
        resp.output.non_empty().map(short),
        resp.error.non_empty().map(short),
    )
}

fn tool_from_raw(
    tc: &RawToolCall<'_>,
    msg_id: &str,
    n: usize,
    msg_ts: Option<Timestamp>,
) -> ToolCall {
    let id = match tc.id.non_empty() {
        Some(id) => id.to_string(),
        None => format!("{msg_id}#{n}"),
    };
    // What the model was sent back: the first functionResponse's output / error, or a
    // plain string result.
    let (mut res_out, mut res_err) = (None, None);
    if let Some(result) = &tc.result {
        if let Some(r) = result.responses.first() {
            (res_out, res_err) = response_texts(r);
        }
        if res_out.is_none() && !result.texts.is_empty() {
            res_out = Some(short(&result.joined("\n")));
        }
    }
    // A shell command's exit status is only in the text sent back to the model
    // ("Exit Code: 2"): the CLI records `status: success` for any command that ran.
    let exit_code = res_out.as_deref().and_then(shell_exit_code);
    let success = match tc.status.get() {
        Some("success") if exit_code.is_some_and(|c| c != 0) => Some(false),
        Some("success") => Some(true),
        Some("error") | Some("cancelled") | Some("canceled") => Some(false),
        Some(_) => None,
        None if res_err.is_some() => Some(false),
        None if res_out.is_some() => Some(true),
        None => None,
    };
    let display = tc.result_display.text().map(short);
    let output = display
        .clone()
        .or_else(|| res_out.clone())
        .or_else(|| res_err.clone());
    let error = if success == Some(false) {
        res_err
            .or_else(|| {
                exit_code.map(|c| format!("exit code {c}: {}", display.as_deref().unwrap_or("")))
            })
            .or(display)
            .or(res_out)
            .or_else(|| tc.status.non_empty().map(str::to_string))
    } else {
        None
    };
    ToolCall {
        id,
        name: tc.name.get().unwrap_or_default().to_string(),
        input: tc.args.as_ref().map(|a| a.to_string()).unwrap_or_default(),
        output,
        success,
        error,
        started_at: msg_ts,
        ended_at: if success.is_some() {
            parse_ts(&tc.timestamp)
        } else {
            None
        },
    }
}

/// The exit status in a shell tool's response text (`Exit Code: N` on its own line).
fn shell_exit_code(output: &str) -> Option<i64> {
    output
        .lines()
        .find_map(|l| l.trim().strip_prefix("Exit Code:"))
        .and_then(|v| v.trim().parse().ok())
}

/// Merges what a later write says about a tool call into what is known; absent fields
/// keep their value.
fn merge_tool(into: &mut ToolCall, new: ToolCall) {
    if !new.name.is_empty() {
        into.name = new.name;
    }
    if !new.input.is_empty() {
        into.input = new.input;
    }
    if new.output.is_some() {
        into.output = new.output;
    }
    if new.success.is_some() {
        into.success = new.success;
        into.error = new.error;
    }
    if into.started_at.is_none() {
        into.started_at = new.started_at;
    }
    if new.ended_at.is_some() {
        into.ended_at = new.ended_at;
    }
}

fn upsert_tool(tools: &mut Vec<ToolCall>, new: ToolCall) {
    match tools.iter_mut().find(|t| t.id == new.id) {
        Some(t) => merge_tool(t, new),
        None => tools.push(new),
    }
}

impl Msg {
    fn new(id: &str, role: Role, synthetic: bool) -> Msg {
        Msg {
            id: id.to_string(),
            role,
            synthetic,
            ..Msg::default()
        }
    }

    /// Folds one more write of this message in; never erases what is known.
    fn merge(&mut self, raw: &RawMessage<'_>, from_rewrite: bool) {
        if !from_rewrite {
            self.synthetic = false;
        }
        if let Some(role) = raw.kind.get().and_then(Role::parse) {
            self.role = role;
        }
        if self.ts.is_none() {
            self.ts = parse_ts(&raw.timestamp);
        }
        if let Some(m) = raw.model.non_empty() {
            self.model = Some(m.to_string());
        }
        if let Some(t) = &raw.tokens {
            self.tokens = Some(t.usage());
        }
        if raw.thoughts.0 {
            self.thoughts = true;
        }
        if let Some(c) = &raw.content {
            match self.role {
                Role::User => {
                    if !c.is_empty() {
                        self.class = classify_user(c);
                        let t = user_text(c);
                        if !t.is_empty() && !self.display {
                            self.text = t;
                        }
                        for r in &c.responses {
                            let (output, error) = response_texts(r);
                            let id = r.id.get().unwrap_or_default().to_string();
                            match self.responses.iter_mut().find(|x| x.id == id) {
                                Some(x) => {
                                    if output.is_some() {
                                        x.output = output;
                                    }
                                    if error.is_some() {
                                        x.error = error;
                                    }
                                }
                                None => self.responses.push(ToolResponse { id, output, error }),
                            }
                        }
                    }
                }
                Role::Gemini => {
                    let t = c.joined("");
                    if !t.trim().is_empty() {
                        self.text = t;
                    }
                    if c.thought_parts > 0 {
                        self.thoughts = true;
                    }
                    // A rewritten history carries the calls as functionCall parts.
                    for (n, call) in c.calls.iter().enumerate() {
                        let id = match call.id.non_empty() {
                            Some(id) => id.to_string(),
                            None => format!("{}#{n}", self.id),
                        };
                        let new = ToolCall {
                            id,
                            name: call.name.get().unwrap_or_default().to_string(),
                            input: call
                                .args
                                .as_ref()
                                .map(|a| a.to_string())
                                .unwrap_or_default(),
                            started_at: self.ts,
                            ..ToolCall::default()
                        };
                        upsert_tool(&mut self.tools, new);
                    }
                }
                Role::Info | Role::Warning | Role::Error => {
                    let t = c.joined("\n");
                    if !t.trim().is_empty() {
                        self.text = t;
                    }
                }
            }
        }
        if self.role == Role::User
            && let Some(d) = &raw.display_content
        {
            let t = user_text(d);
            if !t.is_empty() {
                self.text = t;
                self.display = true;
            }
        }
        if let Some(calls) = &raw.tool_calls {
            for (n, tc) in calls.iter().enumerate() {
                let new = tool_from_raw(tc, &self.id, n, self.ts);
                upsert_tool(&mut self.tools, new);
            }
        }
    }

    /// A user message that asks something (opens a turn).
    fn is_prompt(&self) -> bool {
        self.role == Role::User && self.class == UserClass::Prompt && !self.synthetic
    }

    /// Part of the live conversation (not injected context, not a history rewrite).
    fn is_core(&self) -> bool {
        !self.synthetic
            && match self.role {
                Role::User => matches!(self.class, UserClass::Prompt | UserClass::ToolResult),
                Role::Gemini => true,
                _ => false,
            }
    }
}

// ---------------------------------------------------------------------------------------
// Folding records
// ---------------------------------------------------------------------------------------

impl GeminiParser {
    /// Loads the older whole-file `session-*.json` form. Returns false when unreadable.
    pub fn load_whole_file(&mut self, bytes: &[u8]) -> bool {
        *self = GeminiParser::default();
        if bytes.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
            return false;
        }
        let Ok(raw) = serde_json::from_slice::<RawLine<'_>>(bytes) else {
            return false;
        };
        let (meta, _) = raw.into_parts();
        if meta.session_id.get().is_none() && meta.messages.is_none() {
            return false;
        }
        self.apply_meta(meta, false);
        true
    }

    fn ensure_index(&mut self) {
        if self.index.len() != self.messages.len() {
            self.index = self
                .messages
                .iter()
                .enumerate()
                .map(|(i, m)| (m.id.clone(), i))
                .collect();
        }
    }

    fn mark_dirty(&mut self, pos: usize) {
        self.dirty = Some(self.dirty.map_or(pos, |d| d.min(pos)));
        self.tail_from = Some(self.tail_from.map_or(pos, |d| d.min(pos)));
    }

    /// Header, `$set` patch or whole-file metadata. `rewrite`: messages come from a
    /// `$set.messages` history rewrite rather than from the file's own records.
    fn apply_meta(&mut self, meta: RawMeta<'_>, rewrite: bool) {
        if self.session.id.is_none()
            && let Some(id) = meta.session_id.non_empty()
        {
            self.session.id = Some(id.to_string());
        }
        self.session.note_time(parse_ts(&meta.start_time));
        self.session.note_time(parse_ts(&meta.last_updated));
        if let Some(s) = meta.summary.get().map(str::trim).filter(|s| !s.is_empty()) {
            self.session.title = Some(s.to_string());
        }
        if self.session.cwd.is_none()
            && let Some(d) = meta.directories.0.as_deref().filter(|d| !d.is_empty())
        {
            self.session.cwd = Some(d.to_string());
        }
        if let Some(list) = meta.messages {
            if rewrite {
                self.apply_rewrite(&list);
            } else {
                for m in &list {
                    self.apply_message(m);
                }
            }
        }
    }

    /// An appended message record. Returns false for a message of unknown type.
    fn apply_message(&mut self, raw: &RawMessage<'_>) -> bool {
        let Some(id) = raw.id.get() else {
            return false;
        };
        self.ensure_index();
        note_message_times(&mut self.session, raw);
        self.note_cwd(raw);
        if let Some(&pos) = self.index.get(id) {
            if let Some(m) = self.messages.get_mut(pos) {
                m.merge(raw, false);
            }
            self.mark_dirty(pos);
            return true;
        }
        let Some(role) = raw.kind.get().and_then(Role::parse) else {
            return false;
        };
        let mut m = Msg::new(id, role, false);
        m.merge(raw, false);
        let pos = self.messages.len();
        self.index.insert(m.id.clone(), pos);
        self.messages.push(m);
        self.mark_dirty(pos);
        true
    }

    /// The project directory, from the injected `<session_context>` block (the file has no
    /// cwd field; `projectHash` is a hash of it).
    fn note_cwd(&mut self, raw: &RawMessage<'_>) {
        if self.session.cwd.is_some() || raw.kind.get() != Some("user") {
            return;
        }
        let Some(c) = &raw.content else { return };
        if let Some(dir) = c.texts.iter().find_map(|t| workspace_dir(t)) {
            self.session.cwd = Some(dir.to_string());
        }
    }

    /// A `$set.messages` list: merges known messages, places new ones after their
    /// predecessor in the list (or before the first known one), deletes nothing.
    fn apply_rewrite(&mut self, list: &[RawMessage<'_>]) {
        self.ensure_index();
        let mut next = list
            .iter()
            .find_map(|m| m.id.get().and_then(|id| self.index.get(id)).copied())
            .unwrap_or(self.messages.len());
        for raw in list {
            let Some(id) = raw.id.get() else { continue };
            note_message_times(&mut self.session, raw);
            self.note_cwd(raw);
            if let Some(&pos) = self.index.get(id) {
                if let Some(m) = self.messages.get_mut(pos) {
                    m.merge(raw, true);
                }
                self.mark_dirty(pos);
                next = pos + 1;
                continue;
            }
            let Some(role) = raw.kind.get().and_then(Role::parse) else {
                continue;
            };
            let mut m = Msg::new(id, role, true);
            m.merge(raw, true);
            let pos = next.min(self.messages.len());
            self.messages.insert(pos, m);
            for (i, m) in self.messages.iter().enumerate().skip(pos) {
                self.index.insert(m.id.clone(), i);
            }
            self.mark_dirty(pos);
            next = pos + 1;
        }
    }

    /// Re-derives the turns from the first one a change can affect.
    fn rebuild_turns(&mut self) {
        let Some(dirty) = self.dirty.take() else {
            return;
        };
        // Turns that start before `dirty` and the turn holding message `dirty - 1` ... the
        // latter may grow or shrink, so it is rebuilt too.
        let before = self.turn_starts.partition_point(|&s| s < dirty);
        let keep = before.saturating_sub(1);
        let start = if before == 0 {
            0
        } else {
            self.turn_starts.get(keep).copied().unwrap_or(0)
        };
        let turns = &mut self.session.turns;
        let starts = &mut self.turn_starts;
        turns.truncate(keep);
        starts.truncate(keep);

        let mut cur: Option<Turn> = None;
        let mut responses: Vec<&ToolResponse> = Vec::new();
        for (i, m) in self.messages.iter().enumerate().skip(start) {
            match m.role {
                Role::User if m.is_prompt() => {
                    finish_turn(cur.take(), &mut responses, turns);
                    cur = Some(Turn {
                        id: m.id.clone(),
                        number: turn_number(turns.len()),
                        started_at: m.ts,
                        ended_at: m.ts,
                        user: m.text.clone(),
                        ..Turn::default()
                    });
                    starts.push(i);
                }
                Role::User if m.class == UserClass::ToolResult && cur.is_some() => {
                    responses.extend(m.responses.iter());
                }
                Role::Gemini => {
                    if cur.is_none() {
                        // Model output before any prompt: kept in a turn of its own when
                        // it spent tokens or ran tools, so nothing is lost.
                        if m.tokens.is_none() && m.tools.is_empty() {
                            continue;
                        }
                        cur = Some(Turn {
                            id: m.id.clone(),
                            number: turn_number(turns.len()),
                            started_at: m.ts,
                            ..Turn::default()
                        });
                        starts.push(i);
                    }
                    if let Some(t) = cur.as_mut() {
                        add_gemini(t, m);
                    }
                }
                _ => {}
            }
        }
        finish_turn(cur, &mut responses, turns);
    }

    /// Re-derives the live hints from the end of the conversation.
    fn rebuild_tail(&mut self) {
        let Some(changed_from) = self.tail_from.take() else {
            return;
        };
        let mut tail = TailState::default();
        let last_turn = self.session.turns.last();
        // The turn's copy of a tool call has results from tool-result messages filled in.
        let settled = |tc: &ToolCall| -> Option<bool> {
            last_turn
                .and_then(|t| t.tools.iter().find(|x| x.id == tc.id))
                .map_or(tc.success, |x| x.success)
        };

        let meaningful = self.messages.iter().rev().find(|m| {
            !m.synthetic
                && match m.role {
                    Role::User => matches!(m.class, UserClass::Prompt | UserClass::ToolResult),
                    _ => true,
                }
        });
        if let Some(m) = meaningful {
            let pending = m.tools.iter().any(|t| settled(t).is_none());
            let kind = match m.role {
                Role::User if m.class == UserClass::Prompt => "user",
                Role::User => "tool_result",
                Role::Gemini if pending => "tool_use",
                Role::Gemini if !m.tools.is_empty() => "tool_result",
                Role::Gemini if !m.text.trim().is_empty() || m.thoughts => "assistant",
                // The CLI records a model message with neither text nor thoughts only
                // when it asked for tools, whose calls it writes once they have finished:
                // the tools are running or waiting for approval.
                Role::Gemini => "tool_use",
                Role::Info if is_cancel_notice(m) => "interrupted",
                Role::Info => "info",
                Role::Warning => "warning",
                Role::Error => "error",
            };
            tail.last_record = Some(kind.to_string());
            tail.last_record_at = m
                .tools
                .iter()
                .filter_map(|t| {
                    last_turn
                        .and_then(|lt| lt.tools.iter().find(|x| x.id == t.id))
                        .and_then(|x| x.ended_at)
                        .or(t.ended_at)
                })
                .chain(m.ts)
                .max();
        }

        if let Some(m) = self.messages.iter().rev().find(|m| m.is_core())
            && m.role == Role::Gemini
        {
            tail.pending_tools = m
                .tools
                .iter()
                .filter(|t| settled(t).is_none())
                .map(|t| t.id.clone())
                .collect();
            tail.turn_complete = !m.text.trim().is_empty() && m.tools.is_empty();
        }
        // Esc / a denied approval: the CLI ends the turn and records its notice; nothing
        // is pending any more.
        if meaningful.is_some_and(is_cancel_notice) {
            tail.turn_complete = true;
            tail.pending_tools.clear();
        }

        tail.last_action = self
            .session
            .turns
            .iter()
            .rev()
            .find_map(|t| t.tools.last())
            .map(|tc| {
                let arg = text::summarize_tool_input(&tc.input);
                if arg.is_empty() {
                    tc.name.clone()
                } else {
                    format!("{}: {}", tc.name, arg)
                }
            });

        // The last error in conversation order. Messages before `changed_from` did not
        // change, so the earlier answer stands unless it came from a changed message.
        let in_range = |from: usize, to: usize| {
            self.messages
                .get(from..to)
                .unwrap_or_default()
                .iter()
                .enumerate()
                .rev()
                .find_map(|(i, m)| error_of(m).map(|e| (from + i, e)))
        };
        let changed_from = changed_from.min(self.messages.len());
        let found = match in_range(changed_from, self.messages.len()) {
            Some(hit) => Some(hit),
            None => match self.last_error_at {
                Some(at) if at < changed_from => {
                    self.session.tail.last_error.clone().map(|e| (at, e))
                }
                None => None,
                Some(_) => in_range(0, changed_from),
            },
        };
        self.last_error_at = found.as_ref().map(|(at, _)| *at);
        tail.last_error = found.map(|(_, e)| e);
        self.session.tail = tail;
    }
}

/// Session activity: the message's time and its tool calls' completion times.
fn note_message_times(session: &mut ParsedSession, raw: &RawMessage<'_>) {
    session.note_time(parse_ts(&raw.timestamp));
    for tc in raw.tool_calls.iter().flatten() {
        session.note_time(parse_ts(&tc.timestamp));
    }
}

/// The info message the TUI records when the user cancels a request (Esc, or "No" at an
/// approval prompt); the CLI itself recognises it by this exact text.
fn is_cancel_notice(m: &Msg) -> bool {
    m.role == Role::Info && m.text.trim() == "Request cancelled."
}

/// The error a message reports, if any: an `error` message, a failed tool call, or an
/// error `functionResponse`.
fn error_of(m: &Msg) -> Option<String> {
    match m.role {
        Role::Error if !m.text.trim().is_empty() => Some(text::one_line(&m.text, 200)),
        Role::Gemini => m
            .tools
            .iter()
            .rev()
            .find(|t| t.success == Some(false))
            .map(|t| text::one_line(t.error.as_deref().unwrap_or("tool call failed"), 200)),
        Role::User if m.class == UserClass::ToolResult && !m.synthetic => m
            .responses
            .iter()
            .rev()
            .find_map(|r| r.error.as_deref())
            .map(|e| text::one_line(e, 200)),
        _ => None,
    }
}

fn turn_number(existing: usize) -> u32 {
    u32::try_from(existing).unwrap_or(u32::MAX - 1) + 1
}

fn add_gemini(t: &mut Turn, m: &Msg) {
    if let Some(tok) = m.tokens {
        t.add_usage(m.model.as_deref(), tok);
    } else if t.model.is_none() {
        t.model = m.model.clone();
    }
    if !m.synthetic {
        let text = m.text.trim();
        if !text.is_empty() {
            if !t.output.is_empty() {
                t.output.push_str("\n\n");
            }
            t.output.push_str(text);
        }
        t.ended_at = t.ended_at.max(m.ts);
    }
    for tc in &m.tools {
        t.ended_at = t.ended_at.max(tc.ended_at);
        upsert_tool(&mut t.tools, tc.clone());
    }
}

/// Completes a turn: tool calls without a recorded result take it from the tool-result
/// messages that answered them.
fn finish_turn(turn: Option<Turn>, responses: &mut Vec<&ToolResponse>, turns: &mut Vec<Turn>) {
    let Some(mut turn) = turn else {
        responses.clear();
        return;
    };
    for tc in turn.tools.iter_mut() {
        if tc.success.is_some() && tc.output.is_some() {
            continue;
        }
        let Some(r) = responses.iter().rev().find(|r| r.id == tc.id) else {
            continue;
        };
        if tc.output.is_none() {
            tc.output = r.output.clone().or_else(|| r.error.clone());
        }
        if tc.success.is_none() {
            tc.success = Some(r.error.is_none());
            tc.error = r.error.clone();
        }
    }
    responses.clear();
    turns.push(turn);
}

impl RecordParser for GeminiParser {
    fn handle_line(&mut self, line: &[u8]) -> LineOutcome {
        // Records are objects (serde would also read a struct from an array).
        if line.iter().find(|b| !b.is_ascii_whitespace()) != Some(&b'{') {
            return LineOutcome::Malformed;
        }
        let Ok(mut raw) = super::from_line::<RawLine<'_>>(line) else {
            return LineOutcome::Malformed;
        };
        if let Some(set) = raw.set.take() {
            self.apply_meta(set, true);
            return LineOutcome::Handled;
        }
        if raw.rewind_to.is_some() {
            // The CLI drops the rewound messages from its history; their tokens were
            // spent all the same, so everything already read is kept.
            return LineOutcome::Handled;
        }
        let (meta, msg) = raw.into_parts();
        if msg.id.get().is_some() {
            return if self.apply_message(&msg) {
                LineOutcome::Handled
            } else {
                LineOutcome::Unknown
            };
        }
        if meta.session_id.get().is_some() {
            self.apply_meta(meta, false);
            return LineOutcome::Handled;
        }
        LineOutcome::Unknown
    }

    fn session(&self) -> &ParsedSession {
        &self.session
    }

    fn flush(&mut self) {
        self.rebuild_turns();
        self.rebuild_tail();
    }
}

#[cfg(test)]
mod exit_code_tests {
    use crate::Provider;
    use crate::parsers::SessionFileParser;

    /// A failing `ls` as gemini-cli 0.61.0 records it: `status: success`, exit code only in
    /// the response text.
    #[test]
    fn non_zero_exit_code_is_a_failure() {
        let header = r#"{"sessionId":"s1","projectHash":"h","startTime":"2026-11-27T11:27:20.000Z","lastUpdated":"2026-11-27T11:27:20.000Z","kind":"main"}"#;
        let user = r#"{"id":"u1","timestamp":"2026-11-27T11:27:21.000Z","type":"user","content":[{"text":"FAIL_TOOL"}]}"#;
        let call = |code: i64, id: &str| {
            format!(
                r#"{{"id":"{id}","timestamp":"2026-11-27T11:27:29.000Z","type":"gemini","content":"","tokens":{{"input":10,"output":2,"cached":0,"thoughts":0,"tool":0,"total":12}},"model":"gemini-3.1-pro-preview","toolCalls":[{{"id":"c{id}","name":"run_shell_command","args":{{"command":"ls x"}},"result":[{{"functionResponse":{{"id":"c{id}","name":"run_shell_command","response":{{"output":"<untrusted_context>\nOutput: ls: cannot access 'x'\nExit Code: {code}\nProcess Group PGID: 1\n</untrusted_context>"}}}}}}],"status":"success","timestamp":"2026-11-27T11:27:29.418Z","resultDisplay":"ls: cannot access 'x'"}}]}}"#
            )
        };
        let text = format!("{header}\n{user}\n{}\n{}\n", call(2, "g1"), call(0, "g2"));
        let mut p = SessionFileParser::new(Provider::Gemini);
        p.feed(text.as_bytes());
        let tools: Vec<_> = p
            .session()
            .turns
            .iter()
            .flat_map(|t| t.tools.iter())
            .collect();
        assert_eq!(tools.len(), 2);
        assert_eq!(tools[0].success, Some(false));
        assert!(
            tools[0]
                .error
                .as_deref()
                .is_some_and(|e| e.contains("exit code 2"))
        );
        assert_eq!(tools[1].success, Some(true));
    }
}
