//! Status rules: from process and session-file evidence to one status plus a short reason.
//!
//! Pure: no I/O, the caller passes `now`. The engine gathers [`StatusEvidence`] (process
//! table, Claude's live `~/.claude/sessions/<pid>.json`, the parsed session file's
//! [`TailState`], an optional screen hint) and calls [`derive_status`]; a UI smooths the
//! result per agent with a [`Debouncer`].
//!
//! # Rules, in order (the first that applies wins)
//!
//! 1. Process gone → `Unknown` ("process not running"). Callers should not list such an
//!    agent at all; the rule only keeps the function total.
//! 2. The screen shows an approval dialog → `Waiting`.
//! 3. Claude's live file says `waiting` (permission prompt, dialog, …) → `Waiting`.
//! 4. The session file's last record is an approval / user-input request (see
//!    [`APPROVAL_RECORDS`]) → `Waiting`.
//! 5. A tool call is pending and a tool process runs under the agent → `Active`
//!    ("last record tool_use, `sleep` running").
//! 6. Claude's live file says `busy` → `Active`.
//! 7. The last record is an error (see [`ERROR_RECORDS`]) → `Error`.
//! 8. Claude's live file says `idle` / `shell` → `Idle`. (Claude 2.1.197 was seen reporting
//!    `idle` during a long tool run, which is why rule 5 comes first.)
//! 9. The screen shows the agent working → `Active`.
//! 10. The turn is complete (Codex `task_complete`, Claude `end_turn`, Gemini final answer,
//!     or an interrupt, see [`INTERRUPT_RECORDS`]) and nothing is pending → `Idle`
//!     ("codex task_complete 40 s ago").
//! 11. A tool call is pending with no tool process: younger than
//!     [`StatusConfig::tool_grace`] or CPU busy → `Active` (the tool is starting, or runs
//!     in-process); otherwise `Unknown` with the reason. It is *not* `Waiting`: only an
//!     explicit approval signal (rules 2–4) makes an agent `Waiting`.
//! 12. The session file was written within [`StatusConfig::recent_write`] → `Active`.
//! 13. CPU at or above [`StatusConfig::cpu_active_percent`] → `Active`.
//! 14. A turn is open (last record `user`, `tool_result`, `assistant` without a final
//!     answer): `Active` while younger than [`StatusConfig::turn_stall`] (the model is
//!     thinking), `Unknown` after.
//! 15. No session evidence: `Idle` if a CPU sample shows the process quiet, else `Unknown`.
//!
//! # Conventions for parsers
//!
//! [`TailState::last_record`] is free text; these rules look for the kinds listed in
//! [`APPROVAL_RECORDS`], [`ERROR_RECORDS`], [`TOOL_CALL_RECORDS`] and
//! [`INTERRUPT_RECORDS`], and otherwise use it only in reasons. A tool call counts as
//! pending when `pending_tools` is non-empty, or when the turn is open and the last record
//! is a tool call (Gemini, whose calls are written only after they finish).

use crate::model::{Provider, TailState, Timestamp};
use chrono::Duration;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::fmt;
use std::hash::Hash;

/// What an agent is doing right now.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Working: a tool runs, the model is generating, the file is being written.
    Active,
    /// Blocked on the user: an approval dialog or an explicit input request.
    Waiting,
    /// Finished its turn, waiting for the next prompt.
    Idle,
    /// The last thing it did was fail (API error, crash record).
    Error,
    /// The evidence does not allow a decision; the reason says why.
    Unknown,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Active => "active",
            Status::Waiting => "waiting",
            Status::Idle => "idle",
            Status::Error => "error",
            Status::Unknown => "unknown",
        }
    }
}

impl fmt::Display for Status {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// Claude Code's own live status (`status` in `~/.claude/sessions/<pid>.json`). The 2.1.197
/// binary writes one of `busy`, `shell` (idle with a background shell), `idle`, `waiting`
/// (with `waitingFor`: "permission prompt", "worker request", "sandbox request",
/// "dialog open", "input needed"). `-p` mode writes no status at all.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LiveStatus {
    Busy,
    Idle,
    /// Idle, with a background shell task still running.
    Shell,
    Waiting {
        waiting_for: Option<String>,
    },
    /// A value this version does not know.
    Other(String),
}

impl LiveStatus {
    pub fn parse(status: &str, waiting_for: Option<&str>) -> LiveStatus {
        match status.trim() {
            "busy" => LiveStatus::Busy,
            "idle" => LiveStatus::Idle,
            "shell" => LiveStatus::Shell,
            "waiting" => LiveStatus::Waiting {
                waiting_for: waiting_for
                    .map(str::trim)
                    .filter(|w| !w.is_empty())
                    .map(str::to_string),
            },
            other => LiveStatus::Other(other.to_string()),
        }
    }
}

/// What a capture of the agent's terminal shows, when the caller has one.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum ScreenHint {
    /// An approval / permission dialog is on screen (Gemini's "Allow execution of …?").
    ApprovalDialog,
    /// A working spinner is on screen ("esc to interrupt", "esc to cancel").
    Working,
}

/// `last_record` kinds that mean the agent asked the user and waits for an answer.
pub const APPROVAL_RECORDS: &[&str] = &[
    "approval_request",
    "exec_approval_request",
    "apply_patch_approval_request",
    "request_user_input",
    "elicitation_request",
    "permission_request",
];

/// `last_record` kinds that mean the turn ended in an error. (Claude's `api_error` is a
/// failed call being *retried*: the turn goes on, so it is not listed.)
pub const ERROR_RECORDS: &[&str] = &["error"];

/// How many times [`StatusConfig::cpu_active_percent`] a Gemini agent with a held tool call
/// must use to count as running it in-process rather than showing its approval dialog.
const GEMINI_DIALOG_CPU_FACTOR: f64 = 4.0;

/// `last_record` kinds that mean the model asked for tools. Gemini writes its tool calls only
/// once they finished, so while a tool runs or waits for approval its tail has
/// `last_record = "tool_use"` and an empty `pending_tools`.
pub const TOOL_CALL_RECORDS: &[&str] = &[
    "tool_use",
    "function_call",
    "custom_tool_call",
    "local_shell_call",
];

/// `last_record` kinds that mean the user interrupted the turn.
pub const INTERRUPT_RECORDS: &[&str] = &["interrupted", "turn_aborted"];

/// Everything [`derive_status`] looks at for one agent.
#[derive(Debug, Clone, PartialEq)]
pub struct StatusEvidence {
    pub provider: Provider,
    pub process_alive: bool,
    /// A non-helper descendant (bash, sleep, a test runner) is alive.
    pub has_running_tool: bool,
    /// Short name of that process (`sleep`), for the reason.
    pub running_tool: Option<String>,
    /// CPU of the agent's own processes since the previous sample; `None` before the
    /// second sample.
    pub cpu_percent: Option<f64>,
    /// Claude's live status, when the live file exists and has one.
    pub live_status: Option<LiveStatus>,
    pub live_updated_at: Option<Timestamp>,
    /// The matched session file's tail, if a session file was matched.
    pub tail: Option<TailState>,
    /// The matched session file's modification time.
    pub file_modified_at: Option<Timestamp>,
    pub screen_hint: Option<ScreenHint>,
}

impl StatusEvidence {
    /// Evidence for a live process with nothing else known yet.
    pub fn new(provider: Provider) -> StatusEvidence {
        StatusEvidence {
            provider,
            process_alive: true,
            has_running_tool: false,
            running_tool: None,
            cpu_percent: None,
            live_status: None,
            live_updated_at: None,
            tail: None,
            file_modified_at: None,
            screen_hint: None,
        }
    }
}

/// Thresholds of the rules.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct StatusConfig {
    /// CPU (percent of one core) at or above which the agent counts as working.
    pub cpu_active_percent: f64,
    /// A session-file write this recent counts as activity.
    pub recent_write: Duration,
    /// How long a pending tool call without a tool process still counts as `Active`
    /// (tools that run in-process, or a process about to start).
    pub tool_grace: Duration,
    /// How long an open turn with no new record still counts as `Active` (model thinking).
    pub turn_stall: Duration,
}

impl Default for StatusConfig {
    fn default() -> StatusConfig {
        StatusConfig {
            cpu_active_percent: 5.0,
            recent_write: Duration::seconds(10),
            tool_grace: Duration::seconds(10),
            turn_stall: Duration::minutes(10),
        }
    }
}

/// [`derive_status_with`] with the default thresholds.
pub fn derive_status(evidence: &StatusEvidence, now: Timestamp) -> (Status, String) {
    derive_status_with(evidence, now, &StatusConfig::default())
}

/// Applies the rules in the module documentation, in order.
pub fn derive_status_with(
    ev: &StatusEvidence,
    now: Timestamp,
    cfg: &StatusConfig,
) -> (Status, String) {
    let tail = ev.tail.as_ref();
    let last_record = tail.and_then(|t| t.last_record.as_deref());
    let pending = tail.is_some_and(|t| {
        !t.pending_tools.is_empty()
            || (!t.turn_complete
                && t.last_record
                    .as_deref()
                    .is_some_and(|k| TOOL_CALL_RECORDS.contains(&k)))
    });
    let cpu_busy = ev.cpu_percent.is_some_and(|c| c >= cfg.cpu_active_percent);
    // Age of the newest thing the session file tells us.
    let record_at = tail.and_then(|t| t.last_record_at).or(ev.file_modified_at);

    // 1
    if !ev.process_alive {
        return (Status::Unknown, "process not running".into());
    }
    // 2
    if ev.screen_hint == Some(ScreenHint::ApprovalDialog) {
        return (Status::Waiting, "approval dialog visible".into());
    }
    // 3
    if let Some(LiveStatus::Waiting { waiting_for }) = &ev.live_status {
        let what = waiting_for.as_deref().unwrap_or("input");
        return (Status::Waiting, format!("claude waiting: {what}"));
    }
    // 4
    if let Some(kind) = last_record.filter(|k| APPROVAL_RECORDS.contains(k)) {
        return (
            Status::Waiting,
            format!("{} asks for approval ({kind})", ev.provider),
        );
    }
    // 5
    if pending && ev.has_running_tool {
        let rec = last_record.unwrap_or("tool call");
        let reason = match &ev.running_tool {
            Some(name) => format!("last record {rec}, `{name}` running"),
            None => format!("last record {rec}, tool process running"),
        };
        return (Status::Active, reason);
    }
    // 6
    if ev.live_status == Some(LiveStatus::Busy) {
        return (
            Status::Active,
            with_age("claude status busy", ev.live_updated_at, now, "since"),
        );
    }
    // 7
    if let Some(kind) = last_record.filter(|k| ERROR_RECORDS.contains(k)) {
        let msg = tail.and_then(|t| t.last_error.as_deref()).unwrap_or(kind);
        return (Status::Error, format!("last record {kind}: {}", short(msg)));
    }
    // 8
    match &ev.live_status {
        Some(LiveStatus::Idle) => {
            return (
                Status::Idle,
                with_age("claude status idle", ev.live_updated_at, now, "since"),
            );
        }
        Some(LiveStatus::Shell) => {
            return (
                Status::Idle,
                "claude status idle, background shell running".into(),
            );
        }
        _ => {}
    }
    // 9
    if ev.screen_hint == Some(ScreenHint::Working) {
        return (Status::Active, "screen shows the agent working".into());
    }
    // 10
    if tail.is_some_and(|t| t.turn_complete) && !pending {
        if last_record.is_some_and(|k| INTERRUPT_RECORDS.contains(&k)) {
            let what = format!("{} interrupted by the user", ev.provider);
            return (Status::Idle, with_age(&what, record_at, now, "ago"));
        }
        let what = match ev.provider {
            Provider::Claude => "claude end_turn",
            Provider::Codex => "codex task_complete",
            Provider::Gemini => "gemini final answer",
            Provider::Opencode => "opencode turn finished",
        };
        return (Status::Idle, with_age(what, record_at, now, "ago"));
    }
    // 11
    if pending {
        // `last_action` names the newest call, which is the pending one only when the
        // parser listed pending calls.
        let tool = tail
            .filter(|t| !t.pending_tools.is_empty())
            .and_then(|t| {
                t.last_action
                    .clone()
                    .or_else(|| t.pending_tools.last().cloned())
            })
            .map_or_else(|| "tool call".to_string(), |t| format!("`{}`", short(&t)));
        let age = record_at.map(|t| now.signed_duration_since(t));
        // Gemini's node TUI redraws (and collects garbage) while its approval dialog waits;
        // on a busy machine one sample of that crosses the CPU threshold, so past the grace
        // period only clearly sustained work counts as the tool running in-process.
        let gemini_held =
            ev.provider == Provider::Gemini && age.is_some_and(|a| a >= cfg.tool_grace);
        let cpu_busy = if gemini_held {
            ev.cpu_percent
                .is_some_and(|c| c >= cfg.cpu_active_percent * GEMINI_DIALOG_CPU_FACTOR)
        } else {
            cpu_busy
        };
        if cpu_busy {
            return (
                Status::Active,
                format!(
                    "{} pending, cpu {}",
                    tool,
                    pct(ev.cpu_percent.unwrap_or(0.0))
                ),
            );
        }
        return match age {
            Some(a) if a < cfg.tool_grace => (
                Status::Active,
                format!("{} pending {}", tool, human_duration(a)),
            ),
            // Gemini runs shell tools as child processes and in-process tools at once;
            // a call that has neither started a process nor finished after the grace
            // period is held by its "Allow execution?" dialog (observed with 0.61.0).
            Some(a) if ev.provider == Provider::Gemini && !cpu_busy => (
                Status::Waiting,
                format!(
                    "{} not started after {}, no tool process: approval dialog",
                    tool,
                    human_duration(a)
                ),
            ),
            Some(a) => (
                Status::Unknown,
                format!(
                    "{} pending {}, no tool process, {}",
                    tool,
                    human_duration(a),
                    cpu_words(ev.cpu_percent)
                ),
            ),
            None => (
                Status::Unknown,
                format!("{} pending, no tool process, no timestamps", tool),
            ),
        };
    }
    // 12
    if let Some(m) = ev.file_modified_at {
        let age = now.signed_duration_since(m);
        if age < cfg.recent_write {
            return (
                Status::Active,
                format!("session file written {} ago", human_duration(age)),
            );
        }
    }
    // 13
    if let Some(cpu) = ev.cpu_percent.filter(|_| cpu_busy) {
        return (Status::Active, format!("cpu {}", pct(cpu)));
    }
    // 14
    if let Some(rec) = last_record {
        return match record_at.map(|t| now.signed_duration_since(t)) {
            Some(a) if a < cfg.turn_stall => (
                Status::Active,
                format!(
                    "turn in progress, last record {rec} {} ago",
                    human_duration(a)
                ),
            ),
            Some(a) => (
                Status::Unknown,
                format!(
                    "turn open, last record {rec} {} ago, no activity",
                    human_duration(a)
                ),
            ),
            None => (
                Status::Unknown,
                format!("turn open (last record {rec}), no timestamps"),
            ),
        };
    }
    // 15
    match ev.cpu_percent {
        Some(cpu) => (
            Status::Idle,
            format!("no session activity, process quiet (cpu {})", pct(cpu)),
        ),
        None => (
            Status::Unknown,
            "no session activity and no CPU sample yet".into(),
        ),
    }
}

fn cpu_words(cpu: Option<f64>) -> String {
    match cpu {
        Some(c) => format!("cpu {}", pct(c)),
        None => "no CPU sample".into(),
    }
}

/// "0.4%", "4.9%", "37%": one decimal below 10 % so a value under the threshold never
/// reads as the threshold.
fn pct(c: f64) -> String {
    if c < 10.0 {
        format!("{c:.1}%")
    } else {
        format!("{c:.0}%")
    }
}

fn with_age(what: &str, at: Option<Timestamp>, now: Timestamp, word: &str) -> String {
    match at {
        Some(t) => {
            let d = human_duration(now.signed_duration_since(t));
            if word == "since" {
                format!("{what} (since {d})")
            } else {
                format!("{what} {d} {word}")
            }
        }
        None => what.to_string(),
    }
}

/// Truncates long reasons parts (tool commands, error messages) to one short line.
fn short(s: &str) -> String {
    const MAX: usize = 60;
    let line = s.lines().next().unwrap_or("").trim();
    if line.chars().count() <= MAX {
        line.to_string()
    } else {
        let cut: String = line.chars().take(MAX - 1).collect();
        format!("{cut}…")
    }
}

/// "40 s", "3 min", "2 h", "5 d"; negative durations (clock skew) read as "0 s".
pub fn human_duration(d: Duration) -> String {
    let s = d.num_seconds().max(0);
    if s < 120 {
        format!("{s} s")
    } else if s < 2 * 3600 {
        format!("{} min", s / 60)
    } else if s < 2 * 86400 {
        format!("{} h", s / 3600)
    } else {
        format!("{} d", s / 86400)
    }
}

/// How eagerly a [`Debouncer`] replaces the shown status.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct DebounceConfig {
    /// Consecutive refreshes a new status must be seen on before it is shown.
    pub min_refreshes: u32,
    /// And how long it must have been seen (from its first sighting). With slow refreshes
    /// the refresh count dominates, with fast ones (a watch loop) this does.
    pub min_hold: Duration,
    /// If the previous refresh of an agent is older than this, the shown status is stale
    /// and a new one replaces it at once (one-shot runs, a UI that was paused).
    pub stale_after: Duration,
}

impl Default for DebounceConfig {
    fn default() -> DebounceConfig {
        DebounceConfig {
            min_refreshes: 2,
            min_hold: Duration::seconds(1),
            stale_after: Duration::seconds(30),
        }
    }
}

#[derive(Debug, Clone)]
struct Candidate {
    status: Status,
    reason: String,
    first_seen: Timestamp,
    count: u32,
}

#[derive(Debug, Clone)]
struct Entry {
    shown: Status,
    reason: String,
    last_update: Timestamp,
    candidate: Option<Candidate>,
}

/// Per-agent smoothing of derived statuses, so one odd sample (a redraw without the
/// dialog, the instant between a tool result and the next model call) does not flicker.
///
/// Policy:
/// * the first status of an agent is shown at once;
/// * a different status replaces the shown one after it was derived on
///   [`DebounceConfig::min_refreshes`] consecutive refreshes *and* for at least
///   [`DebounceConfig::min_hold`];
/// * a transition **to `Waiting` is immediate**: the user has to act, the evidence is an
///   explicit signal (a dialog, a `waiting` live status, an approval record), not a noisy
///   one, and a late notification costs the user real time;
/// * a transition **from `Waiting` is debounced** like any other: its evidence (a screen
///   capture) can miss one frame during a redraw, and after an approval the tool starts
///   anyway, so one refresh of delay costs nothing while a blink back and forth would
///   re-trigger notifications;
/// * when the previous refresh is older than [`DebounceConfig::stale_after`] the shown
///   status is not worth protecting and is replaced at once;
/// * while the status stays the same, its reason follows the newest derivation.
#[derive(Debug, Clone)]
pub struct Debouncer<K> {
    config: DebounceConfig,
    entries: HashMap<K, Entry>,
}

impl<K: Hash + Eq> Default for Debouncer<K> {
    fn default() -> Self {
        Debouncer::new(DebounceConfig::default())
    }
}

impl<K: Hash + Eq> Debouncer<K> {
    pub fn new(config: DebounceConfig) -> Self {
        Debouncer {
            config,
            entries: HashMap::new(),
        }
    }

    /// Feeds one derived status; returns the status and reason to show.
    pub fn update(
        &mut self,
        key: K,
        status: Status,
        reason: impl Into<String>,
        now: Timestamp,
    ) -> (Status, String) {
        let reason = reason.into();
        let cfg = self.config;
        let entry = self.entries.entry(key).or_insert_with(|| Entry {
            shown: status,
            reason: reason.clone(),
            last_update: now,
            candidate: None,
        });
        let stale = now.signed_duration_since(entry.last_update) > cfg.stale_after;
        entry.last_update = now;
        if status == entry.shown {
            entry.reason = reason;
            entry.candidate = None;
        } else if status == Status::Waiting || stale {
            entry.shown = status;
            entry.reason = reason;
            entry.candidate = None;
        } else {
            let cand = match entry.candidate.take() {
                Some(mut c) if c.status == status => {
                    c.count += 1;
                    c.reason = reason;
                    c
                }
                _ => Candidate {
                    status,
                    reason,
                    first_seen: now,
                    count: 1,
                },
            };
            let held = now.signed_duration_since(cand.first_seen);
            if cand.count >= cfg.min_refreshes && held >= cfg.min_hold {
                entry.shown = cand.status;
                entry.reason = cand.reason;
            } else {
                entry.candidate = Some(cand);
            }
        }
        (entry.shown, entry.reason.clone())
    }

    /// The currently shown status of an agent.
    pub fn shown(&self, key: &K) -> Option<(Status, &str)> {
        self.entries.get(key).map(|e| (e.shown, e.reason.as_str()))
    }

    /// Forgets an agent (its process exited).
    pub fn remove(&mut self, key: &K) {
        self.entries.remove(key);
    }

    /// Keeps only the agents for which `keep` is true.
    pub fn retain(&mut self, mut keep: impl FnMut(&K) -> bool) {
        self.entries.retain(|k, _| keep(k));
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{TimeZone, Utc};

    fn t0() -> Timestamp {
        Utc.with_ymd_and_hms(2026, 11, 27, 10, 0, 0).unwrap()
    }

    fn secs(s: i64) -> Duration {
        Duration::seconds(s)
    }

    fn ev(provider: Provider) -> StatusEvidence {
        StatusEvidence::new(provider)
    }

    fn tail(last: &str, ago: i64) -> TailState {
        TailState {
            last_record: Some(last.into()),
            last_record_at: Some(t0() - secs(ago)),
            ..TailState::default()
        }
    }

    fn pending_tail(ago: i64) -> TailState {
        TailState {
            pending_tools: vec!["toolu_1".into()],
            last_action: Some("Bash sleep 20".into()),
            ..tail("tool_use", ago)
        }
    }

    fn derive(e: &StatusEvidence) -> (Status, String) {
        derive_status(e, t0())
    }

    #[test]
    fn dead_process_is_unknown() {
        let mut e = ev(Provider::Claude);
        e.process_alive = false;
        e.live_status = Some(LiveStatus::Busy);
        assert_eq!(derive(&e), (Status::Unknown, "process not running".into()));
    }

    #[test]
    fn pending_tool_with_running_child_is_active() {
        let mut e = ev(Provider::Claude);
        e.tail = Some(pending_tail(300));
        e.has_running_tool = true;
        e.running_tool = Some("sleep".into());
        // Even a stale idle live status (seen during tool runs) does not override it.
        e.live_status = Some(LiveStatus::Idle);
        assert_eq!(
            derive(&e),
            (
                Status::Active,
                "last record tool_use, `sleep` running".into()
            )
        );
        e.running_tool = None;
        assert_eq!(
            derive(&e),
            (
                Status::Active,
                "last record tool_use, tool process running".into()
            )
        );
    }

    #[test]
    fn running_child_without_pending_tool_is_not_enough() {
        // A background dev server left running after the turn ended.
        let mut e = ev(Provider::Codex);
        e.tail = Some(TailState {
            turn_complete: true,
            ..tail("task_complete", 40)
        });
        e.has_running_tool = true;
        e.running_tool = Some("npm".into());
        assert_eq!(
            derive(&e),
            (Status::Idle, "codex task_complete 40 s ago".into())
        );
    }

    #[test]
    fn pending_tool_without_child_young_is_active() {
        let mut e = ev(Provider::Claude);
        e.tail = Some(pending_tail(3));
        e.cpu_percent = Some(0.0);
        assert_eq!(
            derive(&e),
            (Status::Active, "`Bash sleep 20` pending 3 s".into())
        );
    }

    #[test]
    fn pending_tool_without_child_old_and_quiet_is_unknown_not_waiting() {
        let mut e = ev(Provider::Claude);
        e.tail = Some(pending_tail(40));
        e.cpu_percent = Some(0.5);
        assert_eq!(
            derive(&e),
            (
                Status::Unknown,
                "`Bash sleep 20` pending 40 s, no tool process, cpu 0.5%".into()
            )
        );
        e.cpu_percent = None;
        assert_eq!(
            derive(&e).1,
            "`Bash sleep 20` pending 40 s, no tool process, no CPU sample"
        );
    }

    #[test]
    fn pending_tool_without_child_but_cpu_is_active() {
        let mut e = ev(Provider::Gemini);
        e.tail = Some(pending_tail(120));
        e.cpu_percent = Some(42.4);
        assert_eq!(
            derive(&e),
            (Status::Active, "`Bash sleep 20` pending, cpu 42%".into())
        );
    }

    #[test]
    fn pending_tool_name_falls_back_to_pending_id_and_times_to_file_mtime() {
        let mut e = ev(Provider::Codex);
        e.tail = Some(TailState {
            pending_tools: vec!["call_9".into()],
            last_record: Some("function_call".into()),
            ..TailState::default()
        });
        e.file_modified_at = Some(t0() - secs(90));
        assert_eq!(
            derive(&e),
            (
                Status::Unknown,
                "`call_9` pending 90 s, no tool process, no CPU sample".into()
            )
        );
        e.file_modified_at = None;
        assert_eq!(
            derive(&e),
            (
                Status::Unknown,
                "`call_9` pending, no tool process, no timestamps".into()
            )
        );
    }

    #[test]
    fn gemini_redraw_cpu_does_not_hide_its_approval_dialog() {
        let mut e = ev(Provider::Gemini);
        e.tail = Some(pending_tail(60));
        e.cpu_percent = Some(8.0);
        assert_eq!(derive(&e).0, Status::Waiting, "{:?}", derive(&e));
        e.cpu_percent = Some(42.0);
        assert_eq!(derive(&e).0, Status::Active);
        // within the grace period any CPU use counts, as for the other providers
        e.tail = Some(pending_tail(2));
        e.cpu_percent = Some(8.0);
        assert_eq!(derive(&e).0, Status::Active);
    }

    #[test]
    fn gemini_approval_dialog_is_waiting() {
        let mut e = ev(Provider::Gemini);
        e.tail = Some(pending_tail(60));
        e.cpu_percent = Some(0.0);
        e.screen_hint = Some(ScreenHint::ApprovalDialog);
        assert_eq!(
            derive(&e),
            (Status::Waiting, "approval dialog visible".into())
        );
    }

    #[test]
    fn approval_record_is_waiting() {
        let mut e = ev(Provider::Codex);
        e.tail = Some(tail("exec_approval_request", 5));
        assert_eq!(
            derive(&e),
            (
                Status::Waiting,
                "codex asks for approval (exec_approval_request)".into()
            )
        );
    }

    #[test]
    fn claude_live_statuses() {
        let mut e = ev(Provider::Claude);
        e.live_status = Some(LiveStatus::Busy);
        e.live_updated_at = Some(t0() - secs(12));
        assert_eq!(
            derive(&e),
            (Status::Active, "claude status busy (since 12 s)".into())
        );
        e.live_status = Some(LiveStatus::Idle);
        assert_eq!(
            derive(&e),
            (Status::Idle, "claude status idle (since 12 s)".into())
        );
        e.live_updated_at = None;
        assert_eq!(derive(&e), (Status::Idle, "claude status idle".into()));
        e.live_status = Some(LiveStatus::Shell);
        assert_eq!(
            derive(&e),
            (
                Status::Idle,
                "claude status idle, background shell running".into()
            )
        );
        e.live_status = Some(LiveStatus::parse("waiting", Some("permission prompt")));
        assert_eq!(
            derive(&e),
            (Status::Waiting, "claude waiting: permission prompt".into())
        );
        e.live_status = Some(LiveStatus::parse("waiting", Some("  ")));
        assert_eq!(
            derive(&e),
            (Status::Waiting, "claude waiting: input".into())
        );
    }

    #[test]
    fn claude_live_idle_beats_recent_writes_and_cpu() {
        let mut e = ev(Provider::Claude);
        e.live_status = Some(LiveStatus::Idle);
        e.file_modified_at = Some(t0() - secs(1));
        e.cpu_percent = Some(80.0);
        assert_eq!(derive(&e).0, Status::Idle);
    }

    #[test]
    fn unknown_live_status_falls_through() {
        let mut e = ev(Provider::Claude);
        e.live_status = Some(LiveStatus::parse("compacting", None));
        assert_eq!(e.live_status, Some(LiveStatus::Other("compacting".into())));
        e.cpu_percent = Some(30.0);
        assert_eq!(derive(&e), (Status::Active, "cpu 30%".into()));
    }

    #[test]
    fn codex_task_complete_is_idle() {
        let mut e = ev(Provider::Codex);
        e.tail = Some(TailState {
            turn_complete: true,
            ..tail("task_complete", 40)
        });
        // The task_complete record itself was just written: still idle.
        e.file_modified_at = Some(t0() - secs(40));
        assert_eq!(
            derive(&e),
            (Status::Idle, "codex task_complete 40 s ago".into())
        );
    }

    #[test]
    fn gemini_final_answer_and_claude_end_turn_are_idle() {
        let mut e = ev(Provider::Gemini);
        e.tail = Some(TailState {
            turn_complete: true,
            ..tail("gemini", 200)
        });
        assert_eq!(
            derive(&e),
            (Status::Idle, "gemini final answer 3 min ago".into())
        );
        let mut c = ev(Provider::Claude);
        c.tail = Some(TailState {
            turn_complete: true,
            last_record_at: None,
            ..tail("assistant", 0)
        });
        assert_eq!(derive(&c), (Status::Idle, "claude end_turn".into()));
    }

    #[test]
    fn turn_complete_with_pending_tool_is_not_idle() {
        let mut e = ev(Provider::Gemini);
        e.tail = Some(TailState {
            turn_complete: true,
            ..pending_tail(2)
        });
        assert_eq!(derive(&e).0, Status::Active);
    }

    #[test]
    fn gemini_tool_call_without_listed_pending_calls() {
        // What gemini-cli 0.61.0 writes while `sleep 40` waits for approval: a `gemini`
        // record with no text and no toolCalls (the parser reports `tool_use`).
        let mut e = ev(Provider::Gemini);
        e.tail = Some(TailState {
            last_action: Some("list_directory .".into()),
            ..tail("tool_use", 30)
        });
        e.cpu_percent = Some(0.0);
        assert_eq!(
            derive(&e),
            (
                Status::Waiting,
                "tool call not started after 30 s, no tool process: approval dialog".into()
            )
        );
        // The same evidence for a provider that does not gate tools this way stays unknown.
        let mut codex = e.clone();
        codex.provider = Provider::Codex;
        assert_eq!(
            derive(&codex),
            (
                Status::Unknown,
                "tool call pending 30 s, no tool process, cpu 0.0%".into()
            )
        );
        // Within the grace period it is still starting, not waiting.
        let mut fresh = e.clone();
        fresh.tail = Some(tail("tool_use", 2));
        assert_eq!(derive(&fresh).0, Status::Active);
        e.screen_hint = Some(ScreenHint::ApprovalDialog);
        assert_eq!(derive(&e).0, Status::Waiting);
        e.screen_hint = None;
        e.has_running_tool = true;
        e.running_tool = Some("sleep".into());
        assert_eq!(
            derive(&e),
            (
                Status::Active,
                "last record tool_use, `sleep` running".into()
            )
        );
        // A finished turn whose last record happens to be a tool call is not pending.
        e.has_running_tool = false;
        e.tail = Some(TailState {
            turn_complete: true,
            ..tail("tool_use", 30)
        });
        assert_eq!(derive(&e).0, Status::Idle);
    }

    #[test]
    fn interrupted_turns_are_idle() {
        let mut e = ev(Provider::Claude);
        e.tail = Some(TailState {
            turn_complete: true,
            ..tail("interrupted", 8)
        });
        assert_eq!(
            derive(&e),
            (
                Status::Idle,
                "claude interrupted by the user 8 s ago".into()
            )
        );
        let mut c = ev(Provider::Codex);
        c.tail = Some(TailState {
            turn_complete: true,
            ..tail("turn_aborted", 100)
        });
        assert_eq!(
            derive(&c),
            (
                Status::Idle,
                "codex interrupted by the user 100 s ago".into()
            )
        );
    }

    #[test]
    fn error_record_is_error() {
        let mut e = ev(Provider::Claude);
        e.tail = Some(TailState {
            last_error: Some("API Error: 529 overloaded\nsecond line".into()),
            ..tail("error", 30)
        });
        assert_eq!(
            derive(&e),
            (
                Status::Error,
                "last record error: API Error: 529 overloaded".into()
            )
        );
        // Claude retrying (busy) wins over the error record.
        e.live_status = Some(LiveStatus::Busy);
        assert_eq!(derive(&e).0, Status::Active);
        // A failed call being retried is not an error of the agent.
        e.live_status = None;
        e.tail = Some(tail("api_error", 30));
        assert_eq!(
            derive(&e),
            (
                Status::Active,
                "turn in progress, last record api_error 30 s ago".into()
            )
        );
    }

    #[test]
    fn long_error_messages_are_shortened() {
        let mut e = ev(Provider::Codex);
        e.tail = Some(TailState {
            last_error: Some("x".repeat(500)),
            ..tail("error", 1)
        });
        let (_, reason) = derive(&e);
        assert!(reason.chars().count() < 100, "{reason}");
        assert!(reason.ends_with('…'));
    }

    #[test]
    fn screen_working_is_active() {
        let mut e = ev(Provider::Gemini);
        e.screen_hint = Some(ScreenHint::Working);
        e.cpu_percent = Some(0.0);
        assert_eq!(
            derive(&e),
            (Status::Active, "screen shows the agent working".into())
        );
    }

    #[test]
    fn recent_write_is_active() {
        let mut e = ev(Provider::Codex);
        e.tail = Some(tail("user", 3));
        e.file_modified_at = Some(t0() - secs(3));
        assert_eq!(
            derive(&e),
            (Status::Active, "session file written 3 s ago".into())
        );
    }

    #[test]
    fn cpu_above_threshold_is_active_below_is_not() {
        let mut e = ev(Provider::Gemini);
        e.cpu_percent = Some(5.0);
        assert_eq!(derive(&e), (Status::Active, "cpu 5.0%".into()));
        e.cpu_percent = Some(4.9);
        assert_eq!(
            derive(&e),
            (
                Status::Idle,
                "no session activity, process quiet (cpu 4.9%)".into()
            )
        );
        e.cpu_percent = Some(0.2);
        assert_eq!(
            derive(&e),
            (
                Status::Idle,
                "no session activity, process quiet (cpu 0.2%)".into()
            )
        );
    }

    #[test]
    fn open_turn_is_active_until_it_stalls() {
        let mut e = ev(Provider::Codex);
        e.cpu_percent = Some(0.0);
        e.tail = Some(tail("user", 20));
        e.file_modified_at = Some(t0() - secs(20));
        assert_eq!(
            derive(&e),
            (
                Status::Active,
                "turn in progress, last record user 20 s ago".into()
            )
        );
        e.tail = Some(tail("tool_result", 720));
        e.file_modified_at = Some(t0() - secs(720));
        assert_eq!(
            derive(&e),
            (
                Status::Unknown,
                "turn open, last record tool_result 12 min ago, no activity".into()
            )
        );
        e.tail = Some(TailState {
            last_record: Some("user".into()),
            ..TailState::default()
        });
        e.file_modified_at = None;
        assert_eq!(
            derive(&e),
            (
                Status::Unknown,
                "turn open (last record user), no timestamps".into()
            )
        );
    }

    #[test]
    fn nothing_known_is_unknown() {
        let e = ev(Provider::Opencode);
        assert_eq!(
            derive(&e),
            (
                Status::Unknown,
                "no session activity and no CPU sample yet".into()
            )
        );
    }

    #[test]
    fn thresholds_are_configurable() {
        let mut e = ev(Provider::Claude);
        e.tail = Some(pending_tail(30));
        e.cpu_percent = Some(2.0);
        let cfg = StatusConfig {
            tool_grace: secs(60),
            ..StatusConfig::default()
        };
        assert_eq!(derive_status_with(&e, t0(), &cfg).0, Status::Active);
        assert_eq!(derive_status(&e, t0()).0, Status::Unknown);
        let cfg = StatusConfig {
            cpu_active_percent: 1.0,
            ..StatusConfig::default()
        };
        assert_eq!(
            derive_status_with(&e, t0(), &cfg),
            (Status::Active, "`Bash sleep 20` pending, cpu 2.0%".into())
        );
    }

    #[test]
    fn human_durations() {
        assert_eq!(human_duration(secs(-5)), "0 s");
        assert_eq!(human_duration(secs(119)), "119 s");
        assert_eq!(human_duration(secs(120)), "2 min");
        assert_eq!(human_duration(secs(7199)), "119 min");
        assert_eq!(human_duration(secs(7200)), "2 h");
        assert_eq!(human_duration(secs(3 * 86400)), "3 d");
    }

    #[test]
    fn status_serialises_lowercase() {
        assert_eq!(
            serde_json::to_string(&Status::Waiting).ok().as_deref(),
            Some("\"waiting\"")
        );
        assert_eq!(Status::Active.to_string(), "active");
    }

    // ---- Debouncer ----

    fn at(s: i64) -> Timestamp {
        t0() + secs(s)
    }

    #[test]
    fn first_status_is_shown_at_once() {
        let mut d: Debouncer<u32> = Debouncer::default();
        assert_eq!(
            d.update(1, Status::Active, "a", at(0)),
            (Status::Active, "a".into())
        );
        assert_eq!(d.shown(&1), Some((Status::Active, "a")));
        assert_eq!(d.shown(&2), None);
    }

    #[test]
    fn single_blip_is_suppressed() {
        let mut d: Debouncer<u32> = Debouncer::default();
        d.update(1, Status::Active, "tool", at(0));
        assert_eq!(d.update(1, Status::Idle, "gap", at(2)).0, Status::Active);
        assert_eq!(
            d.update(1, Status::Active, "tool again", at(4)),
            (Status::Active, "tool again".into())
        );
        // The blip's count was reset: one more Idle is again just a blip.
        assert_eq!(d.update(1, Status::Idle, "gap", at(6)).0, Status::Active);
    }

    #[test]
    fn new_status_wins_after_two_refreshes() {
        let mut d: Debouncer<u32> = Debouncer::default();
        d.update(1, Status::Active, "tool", at(0));
        assert_eq!(d.update(1, Status::Idle, "done 1", at(2)).0, Status::Active);
        assert_eq!(
            d.update(1, Status::Idle, "done 2", at(4)),
            (Status::Idle, "done 2".into())
        );
    }

    #[test]
    fn fast_refreshes_need_min_hold() {
        let mut d: Debouncer<u32> = Debouncer::default();
        let ms = chrono::Duration::milliseconds;
        d.update(1, Status::Active, "a", t0());
        assert_eq!(
            d.update(1, Status::Idle, "i", t0() + ms(100)).0,
            Status::Active
        );
        assert_eq!(
            d.update(1, Status::Idle, "i", t0() + ms(200)).0,
            Status::Active
        );
        assert_eq!(
            d.update(1, Status::Idle, "i", t0() + ms(900)).0,
            Status::Active
        );
        assert_eq!(
            d.update(1, Status::Idle, "i", t0() + ms(1100)).0,
            Status::Idle
        );
    }

    #[test]
    fn to_waiting_is_immediate_from_waiting_is_debounced() {
        let mut d: Debouncer<u32> = Debouncer::default();
        d.update(1, Status::Active, "tool", at(0));
        assert_eq!(
            d.update(1, Status::Waiting, "approval dialog visible", at(2)),
            (Status::Waiting, "approval dialog visible".into())
        );
        // A capture that missed the dialog once does not end Waiting.
        assert_eq!(d.update(1, Status::Unknown, "?", at(4)).0, Status::Waiting);
        assert_eq!(
            d.update(1, Status::Waiting, "dialog", at(6)).0,
            Status::Waiting
        );
        // Approved: the tool runs on two refreshes in a row.
        assert_eq!(
            d.update(1, Status::Active, "sleep", at(8)).0,
            Status::Waiting
        );
        assert_eq!(
            d.update(1, Status::Active, "sleep", at(10)).0,
            Status::Active
        );
    }

    #[test]
    fn stale_shown_status_is_replaced_at_once() {
        let mut d: Debouncer<u32> = Debouncer::default();
        d.update(1, Status::Active, "tool", at(0));
        assert_eq!(d.update(1, Status::Idle, "done", at(31)).0, Status::Idle);
        let mut tight: Debouncer<u32> = Debouncer::new(DebounceConfig {
            stale_after: secs(100),
            ..DebounceConfig::default()
        });
        tight.update(1, Status::Active, "tool", at(0));
        assert_eq!(
            tight.update(1, Status::Idle, "done", at(31)).0,
            Status::Active
        );
    }

    #[test]
    fn alternating_candidates_restart_the_count() {
        let mut d: Debouncer<u32> = Debouncer::default();
        d.update(1, Status::Active, "a", at(0));
        assert_eq!(d.update(1, Status::Idle, "i", at(2)).0, Status::Active);
        assert_eq!(d.update(1, Status::Unknown, "u", at(4)).0, Status::Active);
        assert_eq!(d.update(1, Status::Idle, "i", at(6)).0, Status::Active);
        assert_eq!(d.update(1, Status::Idle, "i", at(8)).0, Status::Idle);
    }

    #[test]
    fn agents_are_independent_and_can_be_forgotten() {
        let mut d: Debouncer<u32> = Debouncer::default();
        d.update(1, Status::Active, "a", at(0));
        d.update(2, Status::Idle, "b", at(0));
        assert_eq!(d.update(2, Status::Active, "b2", at(2)).0, Status::Idle);
        assert_eq!(d.update(1, Status::Active, "a2", at(2)).0, Status::Active);
        assert_eq!(d.len(), 2);
        d.retain(|k| *k != 2);
        assert_eq!(d.shown(&2), None);
        d.remove(&1);
        assert!(d.is_empty());
        // A forgotten agent starts afresh.
        assert_eq!(d.update(1, Status::Idle, "x", at(4)).0, Status::Idle);
    }
}
