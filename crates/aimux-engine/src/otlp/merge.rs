//! Telemetry merged with the file-parsed session.
//!
//! Rules: a telemetry turn is matched to a file turn by id, else by start time (the prompt
//! event and the file's user record are written within moments of each other). For a
//! matched turn the file wins for content; tokens come from the file when the file has
//! any for that turn, else from telemetry (never both); missing timings and tool timings
//! are filled from telemetry. Unmatched telemetry turns (the file has not caught up) are
//! appended. A session seen only by telemetry is the telemetry session.

use super::store::TelemetrySession;
use aimux_core::{ParsedSession, Timestamp, TokenUsage, Turn};

/// How far apart a prompt event and the file's user record may be to be one turn.
pub const MATCH_WINDOW_SECS: i64 = 10;

fn close(a: Option<Timestamp>, b: Option<Timestamp>) -> Option<i64> {
    let d = (a? - b?).num_milliseconds().abs();
    (d <= MATCH_WINDOW_SECS * 1000).then_some(d)
}

/// Merges telemetry into the file session (or stands alone when there is no file).
pub fn merge_telemetry(file: Option<&ParsedSession>, tel: &TelemetrySession) -> ParsedSession {
    let tparsed = tel.to_parsed();
    let Some(file) = file else {
        return tparsed;
    };
    let mut out = file.clone();
    let mut used = vec![false; out.turns.len()];
    let mut extra: Vec<Turn> = Vec::new();
    for tt in tparsed.turns {
        let by_id = out.turns.iter().position(|f| f.id == tt.id);
        let by_time = || {
            out.turns
                .iter()
                .enumerate()
                .filter(|(i, _)| !used.get(*i).copied().unwrap_or(true))
                .filter_map(|(i, f)| close(f.started_at, tt.started_at).map(|d| (d, i)))
                .min()
                .map(|(_, i)| i)
        };
        let Some(i) = by_id.or_else(by_time) else {
            extra.push(tt);
            continue;
        };
        if let Some(u) = used.get_mut(i) {
            *u = true;
        }
        if let Some(f) = out.turns.get_mut(i) {
            fill_turn(f, &tt);
        }
    }
    for t in extra {
        out.note_time(t.started_at);
        out.note_time(t.ended_at);
        out.turns.push(t);
    }
    out.turns.sort_by_key(|t| t.started_at);
    for (i, t) in out.turns.iter_mut().enumerate() {
        t.number = i as u32 + 1;
    }
    out.note_time(tel.first_seen);
    out.note_time(tel.last_seen);
    if out.id.is_none() {
        out.id = Some(tel.id.clone());
    }
    out
}

fn fill_turn(f: &mut Turn, t: &Turn) {
    if f.tokens.is_zero() && !t.tokens.is_zero() {
        f.tokens = t.tokens;
        f.usage_by_model = t.usage_by_model.clone();
        if f.model.is_none() {
            f.model = t.model.clone();
        }
    }
    if f.started_at.is_none() {
        f.started_at = t.started_at;
    }
    if f.ended_at.is_none()
        || t.ended_at
            .is_some_and(|te| f.ended_at.is_some_and(|fe| te > fe))
    {
        f.ended_at = t.ended_at.or(f.ended_at);
    }
    if f.user.is_empty() {
        f.user = t.user.clone();
    }
    if f.output.is_empty() {
        f.output = t.output.clone();
    }
    for tc in &t.tools {
        match f.tools.iter_mut().find(|x| x.id == tc.id) {
            Some(x) => {
                x.started_at = x.started_at.or(tc.started_at);
                x.ended_at = x.ended_at.or(tc.ended_at);
                x.success = x.success.or(tc.success);
            }
            None => f.tools.push(tc.clone()),
        }
    }
}

/// Session totals for a live row when only the file's summary is at hand (no turns):
/// the file's tokens plus telemetry's for the turns beyond the file's turn count, so
/// nothing is counted twice. Returns (tokens, turns).
pub fn merge_totals(
    file_tokens: TokenUsage,
    file_turns: u64,
    tel: &TelemetrySession,
) -> (TokenUsage, u64) {
    let parsed = tel.to_parsed();
    let mut tokens = file_tokens;
    let mut turns = file_turns;
    for t in parsed
        .turns
        .iter()
        .skip(usize::try_from(file_turns).unwrap_or(usize::MAX))
    {
        tokens += t.tokens;
        turns += 1;
    }
    (tokens, turns)
}

/// Live-row totals: [`merge_totals`] plus cost. The file's cost (priced from its models)
/// stays; each telemetry turn beyond the file adds the cost the provider reported for it,
/// else its tokens priced with `prices`. `None` cost when any part cannot be priced.
pub fn merge_totals_priced(
    file_tokens: TokenUsage,
    file_turns: u64,
    file_cost: Option<f64>,
    tel: &TelemetrySession,
    prices: &aimux_core::pricing::PriceTable,
) -> (TokenUsage, u64, Option<f64>) {
    let mut turns: Vec<&super::store::TelTurn> = tel.turns.iter().collect();
    turns.sort_by_key(|t| t.turn.started_at);
    let mut tokens = file_tokens;
    let mut count = file_turns;
    // The file's models have no price but the provider reported the cost of every turn the
    // file has (Claude Code does): use the reported cost for those turns.
    let covered = usize::try_from(file_turns).unwrap_or(usize::MAX);
    let mut cost = file_cost.or_else(|| {
        (file_turns > 0 && turns.len() >= covered)
            .then(|| {
                turns
                    .iter()
                    .take(covered)
                    .map(|t| t.cost_usd)
                    .sum::<Option<f64>>()
            })
            .flatten()
    });
    for t in turns
        .into_iter()
        .skip(usize::try_from(file_turns).unwrap_or(usize::MAX))
    {
        tokens += t.turn.tokens;
        count += 1;
        let extra = t.cost_usd.or_else(|| {
            t.turn
                .usage_by_model
                .iter()
                .map(|m| prices.cost(&m.model, &m.tokens))
                .sum::<Option<f64>>()
        });
        cost = match (cost, extra) {
            (Some(a), Some(b)) => Some(a + b),
            _ => None,
        };
    }
    (tokens, count, cost)
}
