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

impl Acc {
    fn add(&mut self, prices: &PriceTable, provider: &str, session: &str, usage: &ModelUsage) {
        if usage.tokens.is_zero() {
            return;
        }
        self.providers.insert(provider.to_string());
        self.models.insert(usage.model.clone());
        self.sessions.insert(session.to_string());
        self.tokens += usage.tokens;
        match prices.cost(&usage.model, &usage.tokens) {
            Some(c) => self.cost += c,
            None => {
                self.unpriced_tokens += usage.tokens;
                self.unpriced.insert(usage.model.clone());
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
    let mut add = |key: String, provider: &str, session: &str, usage: &ModelUsage| {
        groups
            .entry(key)
            .or_default()
            .add(prices, provider, session, usage);
        total.add(prices, provider, session, usage);
    };
    if by == GroupBy::Day {
        if let Some(index) = index {
            for (day, provider, session, usage) in daily_usage(sessions, index)? {
                add(day, &provider, &session, &usage);
            }
        }
    } else {
        for s in sessions {
            let session = format!("{}:{}", s.provider, s.id);
            for m in &s.models {
                let usage = ModelUsage {
                    model: m.model.clone(),
                    tokens: m.tokens,
                };
                let key = match by {
                    GroupBy::Project => s.project.clone().unwrap_or_else(|| "(unknown)".into()),
                    GroupBy::Provider => s.provider.to_string(),
                    GroupBy::Model => m.model.clone(),
                    GroupBy::Session => s.id.clone(),
                    GroupBy::Day => unreachable_day(),
                };
                add(key, s.provider.as_str(), &session, &usage);
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

fn unreachable_day() -> String {
    "(unknown)".into()
}

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
    let mut ids = Vec::new();
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
            ids.push(id);
        }
    }
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
