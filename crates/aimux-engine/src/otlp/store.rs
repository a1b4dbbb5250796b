//! Telemetry mapped onto the session model, keyed by (provider, session id), kept within a
//! memory budget (the least recently updated conversations are evicted first).
//!
//! What each CLI sends (observed with claude-code 2.1.197, codex 0.171.0, gemini-cli 0.61.0):
//! * Claude Code logs: `user_prompt`, `api_request` (tokens, `cost_usd`), `assistant_response`,
//!   `tool_decision`, `tool_result`, keyed by `session.id` + `prompt.id`; metrics are DELTA sums
//!   (`claude_code.token.usage`, `claude_code.cost.usage`).
//! * Codex logs: `codex.user_prompt`, `codex.sse_event` (`response.completed` carries token
//!   counts), `codex.tool_decision`, `codex.tool_result`, keyed by `conversation.id`.
//! * Gemini CLI logs (`gemini_cli.user_prompt`, `gemini_cli.api_response`,
//!   `gemini_cli.tool_call`), metrics and spans, keyed by `session.id`.

use super::decode::{Attr, LogBatch, Value, attr, attr_map, decode_log_batch};
use super::proto::collector::logs::v1::ExportLogsServiceRequest;
use super::proto::collector::metrics::v1::ExportMetricsServiceRequest;
use super::proto::collector::trace::v1::ExportTraceServiceRequest;
use super::proto::metrics::v1::{metric, number_data_point};
use aimux_core::{ModelUsage, ParsedSession, Provider, Timestamp, TokenUsage, ToolCall, Turn};
use chrono::{DateTime, Utc};
use serde::Serialize;
use std::borrow::Cow;
use std::collections::{BTreeMap, HashMap, HashSet, VecDeque};
use std::mem::size_of;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

/// Attributes that carry prompt/response/tool content: stored only when prompt logging is on.
const CONTENT_KEYS: &[&str] = &[
    "prompt",
    "response",
    "request_text",
    "response_text",
    "tool_parameters",
    "tool_input",
    "arguments",
    "output",
    "function_args",
    "gen_ai.input.messages",
    "gen_ai.output.messages",
    "gen_ai.system_instructions",
];

#[derive(Debug, Clone)]
pub struct TelemetryConfig {
    /// Memory budget for everything stored, in bytes (estimated).
    pub budget_bytes: usize,
    /// Keep prompt/response/tool text (the user enabled prompt logging).
    pub log_prompts: bool,
    /// Raw events kept per conversation for `/debug?events=1`.
    pub max_events_per_session: usize,
}

impl Default for TelemetryConfig {
    fn default() -> Self {
        TelemetryConfig {
            budget_bytes: 64 * 1024 * 1024,
            log_prompts: false,
            max_events_per_session: 200,
        }
    }
}

/// Bytes glibc's malloc takes for a block of `n` bytes: a header, rounded to 16, 32 at
/// least. Sizes are counted this way so the budget bounds what the process really holds.
fn heap(n: usize) -> usize {
    if n == 0 {
        0
    } else {
        ((n + 8 + 15) & !15).max(32)
    }
}

/// Bytes of a hash table holding `capacity` entries of `entry` bytes (hashbrown: a
/// power-of-two bucket count at 7/8 load, one control byte per bucket plus a group).
fn table_heap(capacity: usize, entry: usize) -> usize {
    if capacity == 0 {
        return 0;
    }
    let buckets = if capacity < 8 {
        (capacity + 1).next_power_of_two()
    } else {
        (capacity * 8 / 7).next_power_of_two()
    };
    heap(buckets * (entry + 1) + 16)
}

/// One received log record, span or data point, as text. Stored compactly (one block per
/// event): the name, then each attribute's key and value, sorted by key.
#[derive(Debug, Clone)]
pub struct TelEvent {
    kind: &'static str,
    time: Option<Timestamp>,
    /// Strings, each as a little-endian u32 length and its bytes.
    data: Box<[u8]>,
}

/// Builds [`TelEvent`]s, reusing its buffers from one event to the next.
#[derive(Default)]
struct EventWriter {
    data: Vec<u8>,
    text: String,
    order: Vec<usize>,
}

impl EventWriter {
    fn push(&mut self, s: &str) {
        let len = u32::try_from(s.len()).unwrap_or(u32::MAX);
        self.data.extend_from_slice(&len.to_le_bytes());
        self.data
            .extend_from_slice(s.as_bytes().get(..len as usize).unwrap_or_default());
    }

    fn push_value(&mut self, v: &Value<'_>) {
        if let Value::Str(s) = v {
            return self.push(s);
        }
        let mut text = std::mem::take(&mut self.text);
        text.clear();
        v.write_text(&mut text);
        self.push(&text);
        self.text = text;
    }

    fn finish(&mut self, kind: &'static str, time: Option<Timestamp>) -> TelEvent {
        let e = TelEvent {
            kind,
            time,
            data: self.data.as_slice().into(),
        };
        self.data.clear();
        e
    }

    /// An event of already sorted, unique attributes.
    fn map_event(
        &mut self,
        kind: &'static str,
        name: &str,
        time: Option<Timestamp>,
        attrs: &BTreeMap<String, String>,
    ) -> TelEvent {
        self.push(name);
        for (k, v) in attrs {
            self.push(k);
            self.push(v);
        }
        self.finish(kind, time)
    }

    /// A log record's event: its attributes as a map would hold them (sorted by key, the
    /// last of equal keys), without content attributes unless prompt logging is on.
    fn record_event(
        &mut self,
        name: &str,
        time: Option<Timestamp>,
        attrs: &[Attr<'_>],
        log_prompts: bool,
    ) -> TelEvent {
        let mut order = std::mem::take(&mut self.order);
        order.clear();
        order.extend(
            (0..attrs.len()).filter(|&i| log_prompts || !CONTENT_KEYS.contains(&attrs[i].key)),
        );
        order.sort_by(|&i, &j| attrs[i].key.cmp(attrs[j].key));
        self.push(name);
        for (n, &i) in order.iter().enumerate() {
            let next_same = order
                .get(n + 1)
                .is_some_and(|&j| attrs[j].key == attrs[i].key);
            if !next_same {
                self.push(attrs[i].key);
                self.push_value(&attrs[i].value);
            }
        }
        self.order = order;
        self.finish("log", time)
    }
}

impl TelEvent {
    fn strings(&self) -> impl Iterator<Item = &str> {
        let mut rest: &[u8] = &self.data;
        std::iter::from_fn(move || {
            let (len, tail) = rest.split_first_chunk::<4>()?;
            let len = u32::from_le_bytes(*len) as usize;
            let (s, tail) = tail.split_at(len.min(tail.len()));
            rest = tail;
            Some(std::str::from_utf8(s).unwrap_or(""))
        })
    }

    pub fn kind(&self) -> &'static str {
        self.kind
    }

    pub fn name(&self) -> &str {
        self.strings().next().unwrap_or("")
    }

    pub fn time(&self) -> Option<Timestamp> {
        self.time
    }

    /// Key and value of each attribute, sorted by key.
    pub fn attributes(&self) -> impl Iterator<Item = (&str, &str)> {
        let mut it = self.strings().skip(1);
        std::iter::from_fn(move || Some((it.next()?, it.next()?)))
    }

    fn heap(&self) -> usize {
        heap(self.data.len())
    }
}

impl Serialize for TelEvent {
    fn serialize<S: serde::Serializer>(&self, ser: S) -> Result<S::Ok, S::Error> {
        use serde::ser::{SerializeMap, SerializeStruct};
        struct Attributes<'e>(&'e TelEvent);
        impl Serialize for Attributes<'_> {
            fn serialize<S: serde::Serializer>(&self, ser: S) -> Result<S::Ok, S::Error> {
                let mut m = ser.serialize_map(None)?;
                for (k, v) in self.0.attributes() {
                    m.serialize_entry(k, v)?;
                }
                m.end()
            }
        }
        let mut st = ser.serialize_struct("TelEvent", 4)?;
        st.serialize_field("kind", self.kind)?;
        st.serialize_field("name", self.name())?;
        st.serialize_field("time", &self.time.map(|t| t.to_rfc3339()))?;
        st.serialize_field("attributes", &Attributes(self))?;
        st.end()
    }
}

/// A turn as telemetry saw it.
#[derive(Debug, Clone, Default, Serialize)]
pub struct TelTurn {
    /// The provider key of the turn (`prompt.id`, or a sequence number for Codex).
    pub key: String,
    pub turn: Turn,
    /// Cost the provider itself reported (Claude's `cost_usd`).
    pub cost_usd: Option<f64>,
}

/// Everything telemetry knows about one conversation.
#[derive(Debug, Clone, Serialize)]
pub struct TelemetrySession {
    pub provider: Provider,
    pub id: String,
    pub service: Option<String>,
    pub first_seen: Option<Timestamp>,
    pub last_seen: Option<Timestamp>,
    pub turns: Vec<TelTurn>,
    /// Tokens from delta-sum metrics, per model (a cross-check and a fallback when no
    /// log events arrive).
    pub metric_tokens: Vec<ModelUsage>,
    pub metric_cost_usd: f64,
    pub events: VecDeque<TelEvent>,
    #[serde(skip)]
    seen_requests: HashSet<Box<str>>,
    /// Heap bytes of the events' blocks and of the request ids (kept as they change).
    #[serde(skip)]
    events_heap: usize,
    #[serde(skip)]
    seen_heap: usize,
    /// [`TelemetrySession::footprint`] when last updated.
    #[serde(skip)]
    bytes: usize,
    #[serde(skip)]
    touched: u64,
}

/// Totals for one conversation (for lists and `/debug/sessions`).
#[derive(Debug, Clone, Serialize)]
pub struct TelemetrySummary {
    pub provider: Provider,
    pub id: String,
    pub turns: usize,
    pub tool_calls: usize,
    pub tokens: TokenUsage,
    pub model: Option<String>,
    /// Cost the provider reported, when it reports one (Claude Code).
    pub cost_usd: Option<f64>,
    pub metric_tokens: TokenUsage,
    pub metric_cost_usd: f64,
    pub first_seen: Option<String>,
    pub last_seen: Option<String>,
}

/// What one export request did to the store.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Ingest {
    pub accepted: u64,
    /// Records that could not be attributed to a conversation.
    pub rejected: u64,
    pub error: Option<String>,
}

impl TelemetrySession {
    fn new(provider: Provider, id: &str) -> TelemetrySession {
        TelemetrySession {
            provider,
            id: id.to_string(),
            service: None,
            first_seen: None,
            last_seen: None,
            turns: Vec::new(),
            metric_tokens: Vec::new(),
            metric_cost_usd: 0.0,
            events: VecDeque::new(),
            seen_requests: HashSet::new(),
            events_heap: 0,
            seen_heap: 0,
            bytes: 0,
            touched: 0,
        }
    }

    /// What the conversation holds, in bytes as the allocator counts them: its slot in the
    /// store's table, the id (and the table key's copy of it), every turn, tool call and
    /// model name with their vectors' spare capacity, the events and the request ids.
    fn footprint(&self) -> usize {
        let turns: usize = self.turns.iter().map(turn_heap).sum();
        let models: usize = self
            .metric_tokens
            .iter()
            .map(|m| heap(m.model.capacity()))
            .sum();
        SESSION_SLOT
            + 2 * heap(self.id.capacity())
            + self.service.as_ref().map_or(0, |s| heap(s.capacity()))
            + heap(self.turns.capacity() * size_of::<TelTurn>())
            + turns
            + heap(self.metric_tokens.capacity() * size_of::<ModelUsage>())
            + models
            + heap(self.events.capacity() * size_of::<TelEvent>())
            + self.events_heap
            + table_heap(self.seen_requests.capacity(), size_of::<Box<str>>())
            + self.seen_heap
    }

    fn push_event(&mut self, e: TelEvent, max: usize) {
        self.events_heap += e.heap();
        self.events.push_back(e);
        while self.events.len() > max {
            if let Some(old) = self.events.pop_front() {
                self.events_heap = self.events_heap.saturating_sub(old.heap());
            }
        }
    }

    pub fn tokens(&self) -> TokenUsage {
        let mut t = TokenUsage::default();
        for x in &self.turns {
            t += x.turn.tokens;
        }
        t
    }

    /// The provider-reported cost over all turns; `None` if no turn reported one.
    pub fn reported_cost(&self) -> Option<f64> {
        let costs: Vec<f64> = self.turns.iter().filter_map(|t| t.cost_usd).collect();
        if costs.is_empty() {
            None
        } else {
            Some(costs.iter().sum())
        }
    }

    pub fn summary(&self) -> TelemetrySummary {
        let mut metric = TokenUsage::default();
        for m in &self.metric_tokens {
            metric += m.tokens;
        }
        TelemetrySummary {
            provider: self.provider,
            id: self.id.clone(),
            turns: self.turns.len(),
            tool_calls: self.turns.iter().map(|t| t.turn.tools.len()).sum(),
            tokens: self.tokens(),
            model: self.to_parsed().main_model(),
            cost_usd: self.reported_cost(),
            metric_tokens: metric,
            metric_cost_usd: self.metric_cost_usd,
            first_seen: self.first_seen.map(|t| t.to_rfc3339()),
            last_seen: self.last_seen.map(|t| t.to_rfc3339()),
        }
    }

    /// The conversation as a parsed session (turns in time order, numbered from 1).
    pub fn to_parsed(&self) -> ParsedSession {
        let mut turns: Vec<Turn> = self.turns.iter().map(|t| t.turn.clone()).collect();
        turns.sort_by_key(|t| t.started_at);
        for (i, t) in turns.iter_mut().enumerate() {
            t.number = i as u32 + 1;
        }
        ParsedSession {
            id: Some(self.id.clone()),
            started_at: self.first_seen,
            last_activity: self.last_seen,
            turns,
            ..ParsedSession::default()
        }
    }

    fn note_time(&mut self, ts: Option<Timestamp>) {
        if let Some(ts) = ts {
            if self.first_seen.is_none_or(|f| ts < f) {
                self.first_seen = Some(ts);
            }
            if self.last_seen.is_none_or(|l| ts > l) {
                self.last_seen = Some(ts);
            }
        }
    }

    fn turn_mut(&mut self, key: &str, ts: Option<Timestamp>) -> &mut TelTurn {
        // From the end: events mostly go to the latest turns.
        let pos = match self.turns.iter().rposition(|t| t.key == key) {
            Some(p) => p,
            None => {
                self.turns.push(TelTurn {
                    key: key.to_string(),
                    turn: Turn {
                        id: key.to_string(),
                        number: self.turns.len() as u32 + 1,
                        started_at: ts,
                        ..Turn::default()
                    },
                    cost_usd: None,
                });
                self.turns.len() - 1
            }
        };
        let t = &mut self.turns[pos];
        if let Some(ts) = ts
            && t.turn.started_at.is_none_or(|s| ts < s)
        {
            t.turn.started_at = Some(ts);
        }
        t
    }

    /// The turn Codex events go to: the latest one (Codex sends no turn id).
    fn last_turn_key(&self) -> Option<String> {
        self.turns.last().map(|t| t.key.clone())
    }
}

/// The table slot of one conversation in the store.
const SESSION_SLOT: usize = size_of::<((Provider, String), TelemetrySession)>();

/// Heap bytes of one turn: its strings, tool calls and per-model usage.
fn turn_heap(t: &TelTurn) -> usize {
    let turn = &t.turn;
    let tools: usize = turn
        .tools
        .iter()
        .map(|c| {
            heap(c.id.capacity())
                + heap(c.name.capacity())
                + heap(c.input.capacity())
                + c.output.as_ref().map_or(0, |o| heap(o.capacity()))
                + c.error.as_ref().map_or(0, |e| heap(e.capacity()))
        })
        .sum();
    let models: usize = turn
        .usage_by_model
        .iter()
        .map(|m| heap(m.model.capacity()))
        .sum();
    heap(t.key.capacity())
        + heap(turn.id.capacity())
        + turn.model.as_ref().map_or(0, |m| heap(m.capacity()))
        + heap(turn.user.capacity())
        + heap(turn.output.capacity())
        + heap(turn.tools.capacity() * size_of::<ToolCall>())
        + tools
        + heap(turn.usage_by_model.capacity() * size_of::<ModelUsage>())
        + models
}

fn tool_mut<'a>(turn: &'a mut Turn, id: &str) -> &'a mut ToolCall {
    let pos = match turn.tools.iter().rposition(|t| t.id == id) {
        Some(p) => p,
        None => {
            turn.tools.push(ToolCall {
                id: id.to_string(),
                ..ToolCall::default()
            });
            turn.tools.len() - 1
        }
    };
    &mut turn.tools[pos]
}

fn note_end(turn: &mut Turn, ts: Option<Timestamp>) {
    if let Some(ts) = ts
        && turn.ended_at.is_none_or(|e| ts > e)
    {
        turn.ended_at = Some(ts);
    }
}

struct Inner {
    sessions: HashMap<(Provider, String), TelemetrySession>,
    /// The sum of the conversations' footprints.
    bytes: usize,
    clock: u64,
    evicted: u64,
    runs: u64,
    /// Memory the process gained besides the stored conversations, when last read.
    beside: usize,
    /// The process's resident memory when the store was made.
    baseline: Option<usize>,
}

impl Inner {
    /// Everything held: the conversations and the table's empty slots.
    fn used(&self) -> usize {
        let table = table_heap(self.sessions.capacity(), SESSION_SLOT);
        let slots = self.sessions.len() * (SESSION_SLOT + 1);
        self.bytes + table.saturating_sub(slots)
    }
}

pub struct TelemetryStore {
    cfg: TelemetryConfig,
    inner: Mutex<Inner>,
    /// Bytes of requests being received and applied right now (bodies, decompressed
    /// bodies, decoded views): the budget covers the receiver's working memory too.
    in_flight: AtomicUsize,
}

/// Counts request memory against the budget while it lives (see [`TelemetryStore::hold`]).
pub struct Held<'s> {
    store: &'s TelemetryStore,
    bytes: usize,
}

impl Drop for Held<'_> {
    fn drop(&mut self) {
        self.store
            .in_flight
            .fetch_sub(self.bytes, Ordering::Relaxed);
    }
}

/// Runs of records between two readings of the process's memory (about 5 µs each), once
/// the store is near its budget: every run, so the peak overshoots by one request at most.
const RSS_EVERY: u64 = 1;
/// Runs between two hand-backs of freed heap pages to the OS.
const RELEASE_EVERY: u64 = 64;

/// The process's resident memory, in bytes (Linux).
fn resident_bytes() -> Option<usize> {
    let statm = std::fs::read_to_string("/proc/self/statm").ok()?;
    let pages: usize = statm.split_whitespace().nth(1)?.parse().ok()?;
    // SAFETY: sysconf only reads a system constant.
    let page = unsafe { libc::sysconf(libc::_SC_PAGESIZE) };
    Some(pages * usize::try_from(page).ok()?)
}

/// Hands the allocator's free pages back to the OS: evicted conversations leave holes all
/// over the heap that glibc keeps resident otherwise.
fn release_freed() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only walks the allocator's own free lists.
    unsafe {
        libc::malloc_trim(0);
    }
}

fn nanos_to_ts(n: u64) -> Option<Timestamp> {
    if n == 0 {
        return None;
    }
    let secs = (n / 1_000_000_000) as i64;
    let nsec = (n % 1_000_000_000) as u32;
    DateTime::<Utc>::from_timestamp(secs, nsec)
}

fn text<'v>(attrs: &[Attr<'v>], key: &str) -> Option<Cow<'v, str>> {
    attr(attrs, key).map(Value::text)
}

fn num(attrs: &[Attr<'_>], key: &str) -> Option<f64> {
    attr(attrs, key).and_then(Value::number)
}

fn uint(attrs: &[Attr<'_>], key: &str) -> u64 {
    num(attrs, key)
        .map(|f| if f > 0.0 { f as u64 } else { 0 })
        .unwrap_or(0)
}

fn boolean(attrs: &[Attr<'_>], key: &str) -> Option<bool> {
    let v = text(attrs, key)?;
    let v = v.trim();
    let is = |w: &str| v.eq_ignore_ascii_case(w);
    if is("true") || is("1") || is("success") {
        Some(true)
    } else if is("false") || is("0") || is("failure") || is("error") {
        Some(false)
    } else {
        None
    }
}

/// Which CLI sent a record, from the resource's `service.name`, the scope and the event.
fn provider_of(service: Option<&str>, scope: &str, event: &str) -> Option<Provider> {
    let s = service.unwrap_or("");
    if s.starts_with("claude") || scope.starts_with("com.anthropic.claude_code") {
        Some(Provider::Claude)
    } else if s.starts_with("codex") || scope.starts_with("codex") || event.starts_with("codex.") {
        Some(Provider::Codex)
    } else if s.starts_with("gemini") || event.starts_with("gemini_cli.") {
        Some(Provider::Gemini)
    } else {
        None
    }
}

/// The conversation id: the first of the provider's id attributes present on the record
/// or its resource (an empty one means none).
fn session_key<'v>(
    provider: Provider,
    lookup: impl Fn(&str) -> Option<Cow<'v, str>>,
) -> Option<Cow<'v, str>> {
    let keys: &[&str] = match provider {
        Provider::Codex => &["conversation.id", "session.id", "thread.id"],
        _ => &["session.id", "gen_ai.conversation.id"],
    };
    keys.iter()
        .find_map(|k| lookup(k))
        .filter(|s| !s.trim().is_empty())
}

fn map_session_key(
    provider: Provider,
    attrs: &BTreeMap<String, String>,
    resource: &BTreeMap<String, String>,
) -> Option<String> {
    session_key(provider, |k| {
        attrs
            .get(k)
            .or_else(|| resource.get(k))
            .map(|v| Cow::Borrowed(v.as_str()))
    })
    .map(Cow::into_owned)
}

/// The conversation a run of consecutive records goes to, and its size before them.
struct Run {
    key: (Provider, String),
    before: usize,
}

impl TelemetryStore {
    pub fn new(cfg: TelemetryConfig) -> TelemetryStore {
        TelemetryStore {
            cfg,
            inner: Mutex::new(Inner {
                sessions: HashMap::new(),
                bytes: 0,
                clock: 0,
                evicted: 0,
                runs: 0,
                beside: 0,
                baseline: resident_bytes(),
            }),
            in_flight: AtomicUsize::new(0),
        }
    }

    /// Counts `bytes` of request memory against the budget until the guard is dropped.
    pub fn hold(&self, bytes: usize) -> Held<'_> {
        self.in_flight.fetch_add(bytes, Ordering::Relaxed);
        Held { store: self, bytes }
    }

    pub fn config(&self) -> &TelemetryConfig {
        &self.cfg
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Inner> {
        self.inner.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// The conversation records go to, created if needed. Consecutive records of one
    /// conversation form a run; its size is settled (and the budget kept) when it ends.
    fn enter<'i>(
        &self,
        inner: &'i mut Inner,
        run: &mut Option<Run>,
        provider: Provider,
        id: &str,
        service: Option<&str>,
    ) -> &'i mut TelemetrySession {
        let same = run
            .as_ref()
            .is_some_and(|r| r.key.0 == provider && r.key.1 == id);
        let r = match run {
            Some(r) if same => r,
            _ => {
                self.leave(inner, run);
                let key = (provider, id.to_string());
                let before = inner.sessions.get(&key).map_or(0, |s| s.bytes);
                run.insert(Run { key, before })
            }
        };
        inner.clock += 1;
        let clock = inner.clock;
        if !inner.sessions.contains_key(&r.key) {
            inner
                .sessions
                .insert(r.key.clone(), TelemetrySession::new(provider, id));
        }
        let s = inner
            .sessions
            .get_mut(&r.key)
            .unwrap_or_else(|| unreachable!("inserted above"));
        if s.service.is_none() {
            s.service = service.map(str::to_string);
        }
        s.touched = clock;
        s
    }

    /// Ends the current run: counts what its conversation holds now and keeps the budget.
    fn leave(&self, inner: &mut Inner, run: &mut Option<Run>) {
        let Some(r) = run.take() else { return };
        if let Some(s) = inner.sessions.get_mut(&r.key) {
            s.bytes = s.footprint();
            inner.bytes = inner.bytes.saturating_sub(r.before) + s.bytes;
        }
        self.evict(inner);
    }

    /// Applies `f` to the conversation, creating it if needed, and keeps the budget.
    fn with_session(
        &self,
        provider: Provider,
        id: &str,
        service: Option<&str>,
        f: impl FnOnce(&mut TelemetrySession, bool),
    ) {
        let mut inner = self.lock();
        let mut run = None;
        let s = self.enter(&mut inner, &mut run, provider, id, service);
        f(s, self.cfg.log_prompts);
        self.leave(&mut inner, &mut run);
    }

    fn evict(&self, inner: &mut Inner) {
        let budget = self.cfg.budget_bytes;
        // What the process gained besides the conversations (requests in flight, holes
        // left by evictions, code paged in) counts against the budget too: the budget
        // bounds the receiver's memory. In the dashboard that includes the engine's growth,
        // so it never takes more than an eighth.
        inner.runs += 1;
        let near = inner.used() + inner.beside > budget - budget / 8;
        if near && inner.runs.is_multiple_of(RELEASE_EVERY) {
            release_freed();
        }
        if near
            && inner.runs.is_multiple_of(RSS_EVERY)
            && let (Some(base), Some(now)) = (inner.baseline, resident_bytes())
        {
            let grown = now.saturating_sub(base);
            inner.beside = grown.saturating_sub(inner.used()).min(budget / 8);
        }
        // Requests in flight are in the reading already; counting them again keeps room
        // for the next ones, which the reading cannot see yet. A 64th of the budget is
        // kept for what the heap grows by before the next reading (holes left by
        // evictions are not always reusable).
        let overhead = inner.beside + self.in_flight.load(Ordering::Relaxed) + budget / 64;
        while inner.used() + overhead > budget && inner.sessions.len() > 1 {
            let Some(oldest) = inner
                .sessions
                .iter()
                .min_by_key(|(_, s)| s.touched)
                .map(|(k, _)| k.clone())
            else {
                break;
            };
            if let Some(s) = inner.sessions.remove(&oldest) {
                inner.bytes = inner.bytes.saturating_sub(s.bytes);
                inner.evicted += 1;
            }
        }
        // A single conversation over budget: drop its oldest raw events.
        if inner.used() > budget {
            let mut delta: isize = 0;
            for s in inner.sessions.values_mut() {
                if s.bytes <= budget / 2 {
                    continue;
                }
                let before = s.bytes;
                while s.bytes > budget / 2 {
                    let Some(e) = s.events.pop_front() else { break };
                    s.events_heap = s.events_heap.saturating_sub(e.heap());
                    s.bytes = s.bytes.saturating_sub(e.heap());
                }
                s.bytes = s.footprint();
                delta += s.bytes as isize - before as isize;
            }
            inner.bytes = inner.bytes.saturating_add_signed(delta);
        }
    }

    /// Bytes held, as the allocator counts them (see [`TelemetrySession::footprint`]).
    pub fn memory_used(&self) -> usize {
        self.lock().used()
    }

    pub fn evicted(&self) -> u64 {
        self.lock().evicted
    }

    pub fn keys(&self) -> Vec<(Provider, String)> {
        let mut k: Vec<_> = self.lock().sessions.keys().cloned().collect();
        k.sort();
        k
    }

    pub fn session(&self, provider: Provider, id: &str) -> Option<TelemetrySession> {
        self.lock()
            .sessions
            .get(&(provider, id.to_string()))
            .cloned()
    }

    /// A conversation by id alone (any provider).
    pub fn find(&self, id: &str) -> Option<TelemetrySession> {
        self.lock().sessions.values().find(|s| s.id == id).cloned()
    }

    pub fn summaries(&self) -> Vec<TelemetrySummary> {
        let inner = self.lock();
        let mut v: Vec<TelemetrySummary> = inner.sessions.values().map(|s| s.summary()).collect();
        v.sort_by(|a, b| b.last_seen.cmp(&a.last_seen));
        v
    }

    /// Stored raw events of every conversation (content attributes only when prompt
    /// logging is on; they are never stored otherwise).
    pub fn events_json(&self) -> serde_json::Value {
        let inner = self.lock();
        let mut out: Vec<serde_json::Value> = inner
            .sessions
            .values()
            .map(|s| {
                serde_json::json!({
                    "provider": s.provider,
                    "session_id": s.id,
                    "summary": s.summary(),
                    "events": s.events,
                })
            })
            .collect();
        out.sort_by_key(|v| v["session_id"].as_str().map(str::to_string));
        serde_json::Value::Array(out)
    }

    /// Logs: the event stream of all three CLIs.
    pub fn ingest_logs(&self, req: &ExportLogsServiceRequest) -> Ingest {
        self.ingest_log_batch(&LogBatch::from_message(req))
    }

    /// A protobuf `/v1/logs` body, decoded without copying its strings.
    pub fn ingest_logs_protobuf(&self, body: &[u8]) -> Result<Ingest, super::decode::DecodeError> {
        let batch = decode_log_batch(body)?;
        let _held = self.hold(batch.heap_bytes());
        Ok(self.ingest_log_batch(&batch))
    }

    /// Logs, under one lock for the whole request.
    pub fn ingest_log_batch(&self, batch: &LogBatch<'_>) -> Ingest {
        let mut out = Ingest::default();
        let log_prompts = self.cfg.log_prompts;
        let max = self.cfg.max_events_per_session;
        let mut writer = EventWriter::default();
        let mut inner = self.lock();
        let mut run = None;
        for rl in &batch.resources {
            let resource = batch.attrs(&rl.resource);
            let service = text(resource, "service.name");
            for sl in &rl.scopes {
                for rec in &sl.records {
                    let attrs = batch.attrs(&rec.attributes);
                    let named = attr(attrs, "event.name");
                    let event = match named {
                        Some(v) => v.text(),
                        None if !rec.event_name.is_empty() => Cow::Borrowed(rec.event_name),
                        None => rec.body.text(),
                    };
                    let Some(provider) = provider_of(service.as_deref(), sl.scope_name, &event)
                    else {
                        out.accepted += 1; // not from an agent we follow: accepted, ignored
                        continue;
                    };
                    let sid = session_key(provider, |k| {
                        attr(attrs, k)
                            .or_else(|| attr(resource, k))
                            .map(Value::text)
                    });
                    let Some(sid) = sid else {
                        if named.is_some() {
                            out.rejected += 1;
                            out.error = Some(format!(
                                "{event}: no session id (session.id / conversation.id)"
                            ));
                        } else {
                            out.accepted += 1; // plain tracing logs (Codex) carry no session
                        }
                        continue;
                    };
                    let ts = nanos_to_ts(rec.time_unix_nano)
                        .or_else(|| nanos_to_ts(rec.observed_time_unix_nano))
                        .or_else(|| {
                            text(attrs, "event.timestamp")
                                .and_then(|t| DateTime::parse_from_rfc3339(&t).ok())
                                .map(|t| t.with_timezone(&Utc))
                        });
                    out.accepted += 1;
                    let s = self.enter(&mut inner, &mut run, provider, &sid, service.as_deref());
                    s.note_time(ts);
                    apply_log(s, provider, &event, attrs, ts, log_prompts);
                    let e = writer.record_event(&event, ts, attrs, log_prompts);
                    s.push_event(e, max);
                }
            }
        }
        self.leave(&mut inner, &mut run);
        out
    }

    /// Metrics: Claude Code's DELTA sums of tokens and cost per session and model; other
    /// metrics are kept as events only.
    pub fn ingest_metrics(&self, req: &ExportMetricsServiceRequest) -> Ingest {
        let mut out = Ingest::default();
        for rm in &req.resource_metrics {
            let resource = rm
                .resource
                .as_ref()
                .map(|r| attr_map(&r.attributes))
                .unwrap_or_default();
            let service = resource.get("service.name").cloned();
            for sm in &rm.scope_metrics {
                let scope = sm.scope.as_ref().map(|s| s.name.as_str()).unwrap_or("");
                for m in &sm.metrics {
                    let (points, delta) = match &m.data {
                        Some(metric::Data::Sum(s)) => {
                            (&s.data_points, s.aggregation_temporality == 1)
                        }
                        Some(metric::Data::Gauge(g)) => (&g.data_points, false),
                        _ => {
                            out.accepted += 1;
                            continue;
                        }
                    };
                    for p in points {
                        let attrs = attr_map(&p.attributes);
                        let value = match p.value {
                            Some(number_data_point::Value::AsDouble(d)) => d,
                            Some(number_data_point::Value::AsInt(i)) => i as f64,
                            None => 0.0,
                        };
                        let Some(provider) = provider_of(service.as_deref(), scope, &m.name) else {
                            out.accepted += 1;
                            continue;
                        };
                        let Some(sid) = map_session_key(provider, &attrs, &resource) else {
                            out.accepted += 1;
                            continue;
                        };
                        out.accepted += 1;
                        let ts = nanos_to_ts(p.time_unix_nano);
                        let name = m.name.clone();
                        let max = self.cfg.max_events_per_session;
                        self.with_session(provider, &sid, service.as_deref(), |s, _| {
                            s.note_time(ts);
                            if delta && value.is_finite() && value >= 0.0 {
                                apply_metric(s, &name, &attrs, value);
                            }
                            let mut a = attrs.clone();
                            a.insert("value".into(), value.to_string());
                            let e = EventWriter::default().map_event("metric", &name, ts, &a);
                            s.push_event(e, max);
                        });
                    }
                }
            }
        }
        out
    }

    /// Spans (Gemini CLI): kept as events of their conversation; tool spans give durations.
    pub fn ingest_traces(&self, req: &ExportTraceServiceRequest) -> Ingest {
        let mut out = Ingest::default();
        for rs in &req.resource_spans {
            let resource = rs
                .resource
                .as_ref()
                .map(|r| attr_map(&r.attributes))
                .unwrap_or_default();
            let service = resource.get("service.name").cloned();
            for ss in &rs.scope_spans {
                let scope = ss.scope.as_ref().map(|s| s.name.as_str()).unwrap_or("");
                for span in &ss.spans {
                    let mut attrs = attr_map(&span.attributes);
                    let Some(provider) = provider_of(service.as_deref(), scope, &span.name) else {
                        out.accepted += 1;
                        continue;
                    };
                    let Some(sid) = map_session_key(provider, &attrs, &resource) else {
                        out.accepted += 1;
                        continue;
                    };
                    out.accepted += 1;
                    let start = nanos_to_ts(span.start_time_unix_nano);
                    let end = nanos_to_ts(span.end_time_unix_nano);
                    let max = self.cfg.max_events_per_session;
                    let name = span.name.clone();
                    self.with_session(provider, &sid, service.as_deref(), |s, log_prompts| {
                        s.note_time(start);
                        s.note_time(end);
                        if !log_prompts {
                            attrs.retain(|k, _| !CONTENT_KEYS.contains(&k.as_str()));
                        }
                        if let (Some(st), Some(en)) = (start, end) {
                            attrs.insert(
                                "duration_ms".into(),
                                (en - st).num_milliseconds().to_string(),
                            );
                        }
                        let e = EventWriter::default().map_event("span", &name, start, &attrs);
                        s.push_event(e, max);
                    });
                }
            }
        }
        out
    }
}

fn apply_metric(s: &mut TelemetrySession, name: &str, attrs: &BTreeMap<String, String>, v: f64) {
    let model = attrs
        .get("model")
        .cloned()
        .unwrap_or_else(|| "unknown".into());
    // Claude labels the 1M-context variant `model[1m]`; the logs say `model`.
    let model = model
        .strip_suffix("[1m]")
        .map(str::to_string)
        .unwrap_or(model);
    match name {
        "claude_code.cost.usage" => s.metric_cost_usd += v,
        "claude_code.token.usage" => {
            let n = v as u64;
            let mut t = TokenUsage::default();
            match attrs.get("type").map(String::as_str) {
                Some("input") => t.input = n,
                Some("output") => t.output = n,
                Some("cacheRead") => t.cache_read = n,
                Some("cacheCreation") => t.cache_write = n,
                _ => return,
            }
            match s.metric_tokens.iter_mut().find(|m| m.model == model) {
                Some(m) => m.tokens += t,
                None => {
                    s.bytes += 64 + model.len();
                    s.metric_tokens.push(ModelUsage { model, tokens: t });
                }
            }
        }
        _ => {}
    }
}

fn content(attrs: &[Attr<'_>], key: &str, log_prompts: bool) -> Option<String> {
    if log_prompts {
        text(attrs, key).map(Cow::into_owned)
    } else {
        None
    }
}

fn apply_log(
    s: &mut TelemetrySession,
    provider: Provider,
    event: &str,
    a: &[Attr<'_>],
    ts: Option<Timestamp>,
    log_prompts: bool,
) {
    let event = event.strip_prefix("claude_code.").unwrap_or(event);
    match provider {
        Provider::Claude => apply_claude(s, event, a, ts, log_prompts),
        Provider::Codex => apply_codex(s, event, a, ts, log_prompts),
        Provider::Gemini => apply_gemini(s, event, a, ts, log_prompts),
        Provider::Opencode => {}
    }
}

fn start_from_duration(end: Option<Timestamp>, ms: Option<f64>) -> Option<Timestamp> {
    let (end, ms) = (end?, ms?);
    if !(0.0..1e12).contains(&ms) {
        return None;
    }
    Some(end - chrono::Duration::milliseconds(ms as i64))
}

fn apply_claude(
    s: &mut TelemetrySession,
    event: &str,
    a: &[Attr<'_>],
    ts: Option<Timestamp>,
    log_prompts: bool,
) {
    let prompt_id = text(a, "prompt.id");
    let key = prompt_id.as_deref().unwrap_or("no-prompt-id");
    match event {
        "user_prompt" => {
            let text = content(a, "prompt", log_prompts);
            let t = s.turn_mut(key, ts);
            if let Some(text) = text {
                t.turn.user = text;
            }
        }
        "api_request" => {
            if let Some(rid) = text(a, "request_id") {
                if s.seen_requests.contains(rid.as_ref()) {
                    return; // the same request reported twice
                }
                s.seen_heap += heap(rid.len());
                s.seen_requests.insert(rid.as_ref().into());
            }
            let tokens = TokenUsage {
                input: uint(a, "input_tokens"),
                output: uint(a, "output_tokens"),
                cache_read: uint(a, "cache_read_tokens"),
                cache_write: uint(a, "cache_creation_tokens"),
            };
            let cost = num(a, "cost_usd").filter(|c| c.is_finite() && *c >= 0.0);
            let model = text(a, "model");
            let start = start_from_duration(ts, num(a, "duration_ms"));
            let t = s.turn_mut(key, start.or(ts));
            t.turn.add_usage(model.as_deref(), tokens);
            if let Some(c) = cost {
                t.cost_usd = Some(t.cost_usd.unwrap_or(0.0) + c);
            }
            note_end(&mut t.turn, ts);
        }
        "assistant_response" => {
            let text = content(a, "response", log_prompts);
            let t = s.turn_mut(key, ts);
            if let Some(text) = text {
                if !t.turn.output.is_empty() {
                    t.turn.output.push('\n');
                }
                t.turn.output.push_str(&text);
            }
            let t = s.turn_mut(key, None);
            note_end(&mut t.turn, ts);
        }
        "tool_decision" | "tool_result" => {
            let id = text(a, "tool_use_id").unwrap_or_else(|| {
                let seq = text(a, "event.sequence");
                Cow::Owned(format!("{key}-tool-{}", seq.as_deref().unwrap_or("?")))
            });
            let input = content(a, "tool_parameters", log_prompts)
                .or_else(|| content(a, "tool_input", log_prompts));
            let t = s.turn_mut(key, ts);
            let tool = tool_mut(&mut t.turn, &id);
            if let Some(n) = text(a, "tool_name")
                && tool.name != n
            {
                tool.name = n.into_owned();
            }
            if let Some(i) = input
                && tool.input.is_empty()
            {
                tool.input = i;
            }
            if event == "tool_result" {
                tool.success = boolean(a, "success");
                tool.ended_at = ts;
                tool.started_at = start_from_duration(ts, num(a, "duration_ms"));
                if tool.success == Some(false) {
                    tool.error = text(a, "error").map(Cow::into_owned);
                }
            } else if text(a, "decision").is_some_and(|d| d == "reject") {
                tool.success = Some(false);
                tool.error = Some("rejected".into());
            }
            note_end(&mut t.turn, ts);
        }
        _ => {}
    }
}

fn apply_codex(
    s: &mut TelemetrySession,
    event: &str,
    a: &[Attr<'_>],
    ts: Option<Timestamp>,
    log_prompts: bool,
) {
    match event {
        "codex.user_prompt" => {
            let key = format!("codex-turn-{}", s.turns.len() + 1);
            let text = content(a, "prompt", log_prompts);
            let t = s.turn_mut(&key, ts);
            if let Some(text) = text {
                t.turn.user = text;
            }
        }
        "codex.sse_event" | "codex.tool_decision" | "codex.tool_result" | "codex.api_request" => {
            let key = s.last_turn_key().unwrap_or_else(|| "codex-turn-1".into());
            let t = s.turn_mut(&key, ts);
            match event {
                "codex.sse_event"
                    if text(a, "event.kind").as_deref() == Some("response.completed") =>
                {
                    let prompt = uint(a, "input_token_count");
                    let cached = uint(a, "cached_token_count");
                    // Codex's input count includes cached and cache-write tokens.
                    let written = uint(a, "cache_write_token_count");
                    let tokens = TokenUsage {
                        input: prompt.saturating_sub(cached).saturating_sub(written),
                        output: uint(a, "output_token_count"),
                        cache_read: cached,
                        cache_write: written,
                    };
                    t.turn.add_usage(text(a, "model").as_deref(), tokens);
                }
                "codex.tool_decision" | "codex.tool_result" => {
                    let id = text(a, "call_id").unwrap_or_default();
                    let args = content(a, "arguments", log_prompts);
                    let output = content(a, "output", log_prompts);
                    let tool = tool_mut(&mut t.turn, &id);
                    if let Some(n) = text(a, "tool_name") {
                        tool.name = n.into_owned();
                    }
                    if let Some(x) = args {
                        tool.input = x;
                    }
                    if event == "codex.tool_result" {
                        if let Some(o) = output {
                            tool.output = Some(o);
                        }
                        tool.success = boolean(a, "success");
                        tool.ended_at = ts;
                        tool.started_at = start_from_duration(ts, num(a, "duration_ms"));
                    }
                }
                _ => {}
            }
            note_end(&mut t.turn, ts);
        }
        _ => {}
    }
}

fn apply_gemini(
    s: &mut TelemetrySession,
    event: &str,
    a: &[Attr<'_>],
    ts: Option<Timestamp>,
    log_prompts: bool,
) {
    let key = text(a, "prompt_id")
        .map(Cow::into_owned)
        .or_else(|| s.last_turn_key())
        .unwrap_or_else(|| "gemini-turn-1".into());
    match event {
        "gemini_cli.user_prompt" => {
            let text = content(a, "prompt", log_prompts);
            let t = s.turn_mut(&key, ts);
            if let Some(text) = text {
                t.turn.user = text;
            }
        }
        "gemini_cli.api_response" => {
            let prompt = uint(a, "input_token_count");
            let cached = uint(a, "cached_content_token_count");
            let tokens = TokenUsage {
                input: prompt.saturating_sub(cached),
                output: uint(a, "output_token_count") + uint(a, "thoughts_token_count"),
                cache_read: cached,
                cache_write: 0,
            };
            let start = start_from_duration(ts, num(a, "duration_ms"));
            let t = s.turn_mut(&key, start.or(ts));
            t.turn.add_usage(text(a, "model").as_deref(), tokens);
            note_end(&mut t.turn, ts);
        }
        "gemini_cli.tool_call" => {
            let args = content(a, "function_args", log_prompts);
            let t = s.turn_mut(&key, ts);
            let id = text(a, "tool_call_id")
                .or_else(|| text(a, "call_id"))
                .map(Cow::into_owned)
                .unwrap_or_else(|| format!("{key}-tool-{}", t.turn.tools.len() + 1));
            let tool = tool_mut(&mut t.turn, &id);
            if let Some(n) = text(a, "function_name") {
                tool.name = n.into_owned();
            }
            if let Some(x) = args {
                tool.input = x;
            }
            tool.success = boolean(a, "success");
            tool.ended_at = ts;
            tool.started_at = start_from_duration(ts, num(a, "duration_ms"));
            note_end(&mut t.turn, ts);
        }
        _ => {}
    }
}

#[cfg(test)]
mod tests_support {
    use super::super::proto::collector::logs::v1::ExportLogsServiceRequest;
    use super::super::proto::common::v1::{AnyValue, InstrumentationScope, KeyValue, any_value};
    use super::super::proto::logs::v1::{LogRecord, ResourceLogs, ScopeLogs};
    use super::super::proto::resource::v1::Resource;
    use prost::Message;

    fn kv(key: &str, value: any_value::Value) -> KeyValue {
        KeyValue {
            key: key.into(),
            value: Some(AnyValue { value: Some(value) }),
            ..KeyValue::default()
        }
    }

    fn s(key: &str, v: &str) -> KeyValue {
        kv(key, any_value::Value::StringValue(v.into()))
    }

    /// One Claude Code-shaped request: `turns` turns of conversation `session`.
    pub(super) fn claude_request(session: usize, request: usize, turns: usize) -> Vec<u8> {
        let mut records = Vec::new();
        for t in 0..turns {
            let prompt = format!("prompt-{request}-{t}");
            let tool = format!("toolu_{request}_{t}");
            let events: [(&str, Vec<KeyValue>); 4] = [
                ("user_prompt", vec![s("prompt_length", "187")]),
                (
                    "api_request",
                    vec![
                        s("model", "claude-opus-4-5-20251101"),
                        kv("input_tokens", any_value::Value::IntValue(3)),
                        kv("output_tokens", any_value::Value::IntValue(412)),
                        kv("cost_usd", any_value::Value::DoubleValue(0.04)),
                        s("request_id", &format!("req_{request}_{t}")),
                    ],
                ),
                (
                    "tool_decision",
                    vec![s("tool_name", "Bash"), s("tool_use_id", &tool)],
                ),
                (
                    "tool_result",
                    vec![
                        s("tool_name", "Bash"),
                        s("success", "true"),
                        s("tool_use_id", &tool),
                    ],
                ),
            ];
            for (k, (event, extra)) in events.into_iter().enumerate() {
                let mut attributes = vec![
                    s("session.id", &format!("session-{session}")),
                    s("user.email", "dev@example.com"),
                    s("event.name", event),
                    s("prompt.id", &prompt),
                ];
                attributes.extend(extra);
                records.push(LogRecord {
                    time_unix_nano: 1_795_777_195_000_000_000 + (t * 4 + k) as u64,
                    attributes,
                    ..LogRecord::default()
                });
            }
        }
        ExportLogsServiceRequest {
            resource_logs: vec![ResourceLogs {
                resource: Some(Resource {
                    attributes: vec![s("service.name", "claude-code")],
                    ..Resource::default()
                }),
                scope_logs: vec![ScopeLogs {
                    scope: Some(InstrumentationScope {
                        name: "com.anthropic.claude_code.events".into(),
                        ..InstrumentationScope::default()
                    }),
                    log_records: records,
                    ..ScopeLogs::default()
                }],
                ..ResourceLogs::default()
            }],
        }
        .encode_to_vec()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::alloc::{GlobalAlloc, Layout, System};
    use std::cell::Cell;

    /// The system allocator, counting each thread's live bytes as `heap` sizes blocks, so
    /// a test can hold the store's estimate against what it really allocated.
    struct Counting;

    thread_local! {
        static LIVE: Cell<isize> = const { Cell::new(0) };
    }

    fn count(delta: isize) {
        let _ = LIVE.try_with(|c| c.set(c.get() + delta));
    }

    // SAFETY: every call is passed to the system allocator unchanged; counting only reads
    // the sizes.
    unsafe impl GlobalAlloc for Counting {
        unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
            // SAFETY: as the caller promised.
            let p = unsafe { System.alloc(layout) };
            if !p.is_null() {
                count(heap(layout.size()) as isize);
            }
            p
        }

        unsafe fn alloc_zeroed(&self, layout: Layout) -> *mut u8 {
            // SAFETY: as the caller promised.
            let p = unsafe { System.alloc_zeroed(layout) };
            if !p.is_null() {
                count(heap(layout.size()) as isize);
            }
            p
        }

        unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
            // SAFETY: as the caller promised.
            unsafe { System.dealloc(ptr, layout) };
            count(-(heap(layout.size()) as isize));
        }

        unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
            // SAFETY: as the caller promised.
            let p = unsafe { System.realloc(ptr, layout, new_size) };
            if !p.is_null() {
                count(heap(new_size) as isize - heap(layout.size()) as isize);
            }
            p
        }
    }

    #[global_allocator]
    static ALLOCATOR: Counting = Counting;

    use super::tests_support::claude_request;

    /// The store's estimate against the bytes this thread's allocations still hold.
    fn estimate_and_real(
        budget: usize,
        requests: usize,
        sessions: usize,
    ) -> (TelemetryStore, usize, usize) {
        let before = LIVE.with(Cell::get);
        let store = TelemetryStore::new(TelemetryConfig {
            budget_bytes: budget,
            ..TelemetryConfig::default()
        });
        for r in 0..requests {
            let body = claude_request(r % sessions, r, 10);
            let ingest = store.ingest_logs_protobuf(&body).expect("decodes");
            assert_eq!(ingest.accepted, 40);
        }
        let real = (LIVE.with(Cell::get) - before).max(0) as usize;
        let estimate = store.memory_used();
        (store, estimate, real)
    }

    #[test]
    fn the_estimate_tracks_what_is_allocated() {
        let (_store, estimate, real) = estimate_and_real(usize::MAX, 300, 30);
        let ratio = estimate as f64 / real as f64;
        eprintln!("estimate {estimate} B, allocated {real} B ({ratio:.3})");
        assert!(
            (0.97..=1.03).contains(&ratio),
            "estimate {estimate} vs allocated {real}"
        );
    }

    #[test]
    fn the_estimate_tracks_what_is_allocated_while_evicting() {
        let budget = 2 * 1024 * 1024;
        let (store, estimate, real) = estimate_and_real(budget, 600, 100);
        assert!(store.evicted() > 0, "the budget was reached");
        assert!(estimate <= budget, "{estimate} over the budget");
        let ratio = estimate as f64 / real as f64;
        eprintln!("estimate {estimate} B, allocated {real} B ({ratio:.3})");
        assert!(
            (0.97..=1.03).contains(&ratio),
            "estimate {estimate} vs allocated {real}"
        );
    }
}

#[cfg(test)]
mod in_flight_tests {
    use super::*;

    #[test]
    fn requests_in_flight_count_against_the_budget() {
        let budget = 1024 * 1024;
        let store = TelemetryStore::new(TelemetryConfig {
            budget_bytes: budget,
            ..TelemetryConfig::default()
        });
        let body =
            |session: usize, request: usize| tests_support::claude_request(session, request, 10);
        for r in 0..200 {
            store
                .ingest_logs_protobuf(&body(r % 50, r))
                .expect("decodes");
        }
        let full = store.memory_used();
        assert!(full > budget * 3 / 4, "the store fills its budget: {full}");
        let held = store.hold(budget / 2);
        store.ingest_logs_protobuf(&body(0, 1000)).expect("decodes");
        assert!(
            store.memory_used() + budget / 2 <= budget,
            "with half the budget in flight the store keeps the other half: {}",
            store.memory_used()
        );
        drop(held);
        assert_eq!(store.in_flight.load(Ordering::Relaxed), 0);
    }
}
