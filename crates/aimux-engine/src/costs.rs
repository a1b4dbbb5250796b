//! Cost aggregation for `aimux costs` and the costs view: rows most expensive first, a
//! total that is the sum of the rows, and usage of unpriced models kept apart.

use crate::catalog::SessionRow;
use crate::index::{Index, IndexError};
use aimux_core::pricing::PriceTable;
use aimux_core::{ModelUsage, TokenUsage};
use serde::Serialize;
use std::collections::{BTreeMap, BTreeSet, HashSet};

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum GroupBy {
    Project,
    Provider,
    Model,
    Session,
    Day,
}

impl GroupBy {
    pub fn as_str(self) -> &'static str {
        match self {
            GroupBy::Project => "project",
            GroupBy::Provider => "provider",
            GroupBy::Model => "model",
            GroupBy::Session => "session",
            GroupBy::Day => "day",
        }
    }
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct CostRow {
    pub key: String,
    pub providers: Vec<String>,
    pub models: Vec<String>,
    pub sessions: u64,
    pub tokens: TokenUsage,
    /// USD of the priced usage in this row.
    pub cost_usd: f64,
    /// Usage of models without a known price (not included in `cost_usd`).
    pub unpriced_tokens: TokenUsage,
    pub unpriced_models: Vec<String>,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct CostReport {
    pub by: String,
    pub rows: Vec<CostRow>,
    pub total: CostRow,
}

#[derive(Default)]
struct Acc {
    providers: BTreeSet<String>,
    models: BTreeSet<String>,
    sessions: HashSet<String>,
    tokens: TokenUsage,
    cost: f64,
    unpriced_tokens: TokenUsage,
    unpriced: BTreeSet<String>,
}

/// One model's usage in one session, with its price (`None`: the model is unpriced).
struct Usage<'a> {
    provider: &'a str,
    session: &'a str,
    model: &'a str,
    tokens: TokenUsage,
    cost: Option<f64>,
}

impl Acc {
    fn add(&mut self, usage: &Usage<'_>) {
        if usage.tokens.is_zero() {
            return;
        }
        // Look before inserting: most keys are already there, and inserting allocates.
        if !self.providers.contains(usage.provider) {
            self.providers.insert(usage.provider.to_string());
        }
        if !self.models.contains(usage.model) {
            self.models.insert(usage.model.to_string());
        }
        if !self.sessions.contains(usage.session) {
            self.sessions.insert(usage.session.to_string());
        }
        self.tokens += usage.tokens;
        match usage.cost {
            Some(c) => self.cost += c,
            None => {
                self.unpriced_tokens += usage.tokens;
                if !self.unpriced.contains(usage.model) {
                    self.unpriced.insert(usage.model.to_string());
                }
            }
        }
    }

    fn into_row(self, key: String) -> CostRow {
        CostRow {
            key,
            providers: self.providers.into_iter().collect(),
            models: self.models.into_iter().collect(),
            sessions: self.sessions.len() as u64,
            tokens: self.tokens,
            cost_usd: self.cost,
            unpriced_tokens: self.unpriced_tokens,
            unpriced_models: self.unpriced.into_iter().collect(),
        }
    }
}

/// Aggregates sessions (and, for `Day`, their turns from the index).
pub fn cost_report(
    sessions: &[SessionRow],
    by: GroupBy,
    prices: &PriceTable,
    index: Option<&Index>,
) -> Result<CostReport, IndexError> {
    let mut groups: BTreeMap<String, Acc> = BTreeMap::new();
    let mut total = Acc::default();
    let mut add = |key: &str, usage: Usage<'_>| {
        match groups.get_mut(key) {
            Some(acc) => acc.add(&usage),
            None => groups.entry(key.to_string()).or_default().add(&usage),
        }
        total.add(&usage);
    };
    if by == GroupBy::Day {
        if let Some(index) = index {
            for (day, provider, session, usage) in daily_usage(sessions, index)? {
                add(
                    &day,
                    Usage {
                        provider: &provider,
                        session: &session,
                        model: &usage.model,
                        tokens: usage.tokens,
                        cost: prices.cost(&usage.model, &usage.tokens),
                    },
                );
            }
        }
    } else {
        for s in sessions {
            let session = format!("{}:{}", s.provider, s.id);
            for m in &s.models {
                let key = match by {
                    GroupBy::Project => s.project.as_deref().unwrap_or("(unknown)"),
                    GroupBy::Provider => s.provider.as_str(),
                    GroupBy::Model => m.model.as_str(),
                    GroupBy::Session => s.id.as_str(),
                    GroupBy::Day => UNKNOWN_DAY,
                };
                // Sessions come priced (`catalog::price_models`): the same table, the
                // same numbers, not looked up again.
                add(
                    key,
                    Usage {
                        provider: s.provider.as_str(),
                        session: &session,
                        model: &m.model,
                        tokens: m.tokens,
                        cost: m.cost_usd,
                    },
                );
            }
        }
    }
    let mut rows: Vec<CostRow> = groups.into_iter().map(|(k, a)| a.into_row(k)).collect();
    rows.sort_by(|a, b| {
        b.cost_usd
            .total_cmp(&a.cost_usd)
            .then(b.tokens.total().cmp(&a.tokens.total()))
            .then(a.key.cmp(&b.key))
    });
    Ok(CostReport {
        by: by.as_str().to_string(),
        rows,
        total: total.into_row("TOTAL".into()),
    })
}

const UNKNOWN_DAY: &str = "(unknown)";

/// (day, provider, session key, usage) for every distinct turn of the given sessions.
fn daily_usage(
    sessions: &[SessionRow],
    index: &Index,
) -> Result<Vec<(String, String, String, ModelUsage)>, IndexError> {
    let wanted: HashSet<&str> = sessions
        .iter()
        .flat_map(|s| s.files.iter().map(String::as_str))
        .collect();
    let mut file_session = BTreeMap::new();
    let mut files = Vec::new();
    for (id, summary) in index.summaries()? {
        if wanted.contains(summary.path.as_str()) {
            let key = format!(
                "{}:{}",
                summary.provider,
                summary
                    .session_id
                    .clone()
                    .unwrap_or_else(|| summary.path.clone())
            );
            file_session.insert(id, (summary.provider.to_string(), key));
            files.push((summary.path, id));
        }
    }
    // Turns are added up in path order, not row-id order (the order a parallel scan
    // happened to store files in), so the floating-point sums, and the printed costs,
    // are the same on every run.
    files.sort_unstable();
    let ids: Vec<i64> = files.into_iter().map(|(_, id)| id).collect();
    let mut seen = HashSet::new();
    let mut out = Vec::new();
    for row in index.turns_of(&ids)? {
        let Some((provider, session)) = file_session.get(&row.file_id) else {
            continue;
        };
        if !seen.insert((session.clone(), row.turn_id.clone(), row.subagent)) {
            continue;
        }
        let day = row
            .started_at
            .as_deref()
            .and_then(|t| t.get(..10))
            .unwrap_or("(unknown)")
            .to_string();
        for m in row.models {
            out.push((day.clone(), provider.clone(), session.clone(), m));
        }
    }
    Ok(out)
}
