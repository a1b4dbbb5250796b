//! Sessions as users see them: files of one conversation merged, titles applied, costs
//! priced. Built from the index only (no session file is read here).

use crate::annotations::AnnotationStore;
use crate::index::{FileSummary, Index, IndexError, TurnRow};
use crate::sources::{Warning, all_sources, project_name};
use aimux_core::pricing::PriceTable;
use aimux_core::{ModelUsage, Provider, TokenUsage};
use serde::Serialize;
use std::collections::{BTreeMap, HashMap};
use std::path::Path;

/// Priced usage of one model.
#[derive(Debug, Clone, Serialize)]
pub struct ModelCost {
    pub model: String,
    pub tokens: TokenUsage,
    /// `None` when the model is not in the price list.
    pub cost_usd: Option<f64>,
}

/// One row of `aimux sessions`. Field names are part of the CLI contract (README).
#[derive(Debug, Clone, Serialize)]
pub struct SessionRow {
    pub id: String,
    pub provider: Provider,
    pub project: Option<String>,
    pub cwd: Option<String>,
    pub model: Option<String>,
    pub title: Option<String>,
    /// Where `title` came from: the agent itself, a model (`aimux titles`), or the
    /// `<project>: <first prompt words>` fallback. `None` before titles are applied.
    pub title_source: Option<crate::titles::TitleSource>,
    pub started_at: Option<String>,
    pub last_activity: Option<String>,
    pub turns: u64,
    pub tool_calls: u64,
    pub failed_tool_calls: u64,
    pub tokens: TokenUsage,
    /// `None` when any model the session used has no known price.
    pub cost_usd: Option<f64>,
    pub models: Vec<ModelCost>,
    /// The session's main file; `files` lists all when a conversation spans several.
    pub file: String,
    pub files: Vec<String>,
    /// Human labels on this session's turns.
    pub annotations: AnnotationCounts,
}

#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Serialize)]
pub struct AnnotationCounts {
    pub good: usize,
    pub bad: usize,
    pub waste: usize,
}

/// Fills in annotation counts, reading only the sessions that have an evaluations file.
pub fn apply_annotation_counts(rows: &mut [SessionRow], store: &AnnotationStore) {
    let Ok(entries) = std::fs::read_dir(store.dir()) else {
        return;
    };
    let annotated: std::collections::HashSet<String> = entries
        .filter_map(Result::ok)
        .filter_map(|e| {
            e.file_name()
                .to_str()
                .and_then(|n| n.strip_suffix(".jsonl"))
                .map(str::to_string)
        })
        .collect();
    for row in rows.iter_mut().filter(|r| annotated.contains(&r.id)) {
        let (good, bad, waste) = store.load(&row.id).counts();
        row.annotations = AnnotationCounts { good, bad, waste };
    }
}

impl SessionRow {
    /// Models with usage but no price.
    pub fn unpriced_models(&self) -> impl Iterator<Item = &ModelCost> {
        self.models.iter().filter(|m| m.cost_usd.is_none())
    }
}

pub fn price_models(prices: &PriceTable, models: &[ModelUsage]) -> (Vec<ModelCost>, Option<f64>) {
    let mut total = Some(0.0);
    let priced: Vec<ModelCost> = models
        .iter()
        .filter(|m| !m.tokens.is_zero())
        .map(|m| {
            let cost = prices.cost(&m.model, &m.tokens);
            total = match (total, cost) {
                (Some(t), Some(c)) => Some(t + c),
                _ => None,
            };
            ModelCost {
                model: m.model.clone(),
                tokens: m.tokens,
                cost_usd: cost,
            }
        })
        .collect();
    (priced, total)
}

fn add_models(into: &mut Vec<ModelUsage>, from: &[ModelUsage]) {
    for m in from {
        match into.iter_mut().find(|x| x.model == m.model) {
            Some(x) => x.tokens += m.tokens,
            None => into.push(m.clone()),
        }
    }
}

/// Loads every session from the index.
pub fn sessions(
    index: &Index,
    home: &Path,
    prices: &PriceTable,
    warnings: &mut Vec<Warning>,
) -> Result<Vec<SessionRow>, IndexError> {
    let summaries = index.summaries()?;
    let mut titles: HashMap<Provider, HashMap<String, String>> = HashMap::new();
    for source in all_sources() {
        titles.insert(source.provider(), source.titles(home, warnings));
    }
    // Group the files of one conversation: same provider and session id.
    let mut groups: BTreeMap<(Provider, String), Vec<(i64, FileSummary)>> = BTreeMap::new();
    for (id, s) in summaries {
        let key = s.session_id.clone().unwrap_or_else(|| fallback_id(&s.path));
        groups.entry((s.provider, key)).or_default().push((id, s));
    }
    for files in groups.values() {
        for (_, s) in files {
            if s.stats.skipped() > 0 {
                warnings.push(Warning {
                    provider: Some(s.provider),
                    file: s.path.clone(),
                    skipped_records: s.stats.skipped(),
                    message: format!(
                        "skipped {} malformed and {} unknown records of {} lines",
                        s.stats.malformed, s.stats.unknown, s.stats.lines
                    ),
                });
            }
        }
    }
    let mut rows = Vec::with_capacity(groups.len());
    for ((provider, id), mut files) in groups {
        // Largest file first: it is the conversation's main transcript.
        files.sort_by(|a, b| b.1.size.cmp(&a.1.size).then(a.1.path.cmp(&b.1.path)));
        let merged = if files.len() == 1 {
            files.first().map(|(_, s)| merged_from_single(s))
        } else {
            let ids: Vec<i64> = files.iter().map(|(i, _)| *i).collect();
            Some(merge_turn_rows(&index.turns_of(&ids)?))
        };
        let Some(m) = merged else { continue };
        let (models, cost) = price_models(prices, &m.models);
        let main = files.first().map(|(_, s)| s);
        let cwd = files.iter().find_map(|(_, s)| s.cwd.clone());
        let title = files
            .iter()
            .find_map(|(_, s)| s.title.clone())
            .or_else(|| titles.get(&provider).and_then(|t| t.get(&id)).cloned());
        rows.push(SessionRow {
            project: project_name(cwd.as_deref()),
            cwd,
            model: main_model(&m.models).or_else(|| main.and_then(|s| s.main_model.clone())),
            title_source: title.as_ref().map(|_| crate::titles::TitleSource::Agent),
            title,
            started_at: files.iter().filter_map(|(_, s)| s.started_at.clone()).min(),
            last_activity: files
                .iter()
                .filter_map(|(_, s)| s.last_activity.clone())
                .max(),
            turns: m.turns,
            tool_calls: m.tool_calls,
            failed_tool_calls: m.failed_tool_calls,
            tokens: m.tokens,
            cost_usd: cost,
            models,
            file: main.map(|s| s.path.clone()).unwrap_or_default(),
            files: files.iter().map(|(_, s)| s.path.clone()).collect(),
            annotations: AnnotationCounts::default(),
            id,
            provider,
        });
    }
    Ok(rows)
}

fn fallback_id(path: &str) -> String {
    Path::new(path)
        .file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_else(|| path.to_string())
}

fn main_model(models: &[ModelUsage]) -> Option<String> {
    models
        .iter()
        .filter(|m| m.model != "unknown")
        .max_by_key(|m| (m.tokens.output, m.tokens.total()))
        .map(|m| m.model.clone())
}

struct Merged {
    turns: u64,
    tool_calls: u64,
    failed_tool_calls: u64,
    tokens: TokenUsage,
    models: Vec<ModelUsage>,
}

fn merged_from_single(s: &FileSummary) -> Merged {
    Merged {
        turns: s.turns,
        tool_calls: s.tool_calls,
        failed_tool_calls: s.failed_tool_calls,
        tokens: s.tokens,
        models: s.models.clone(),
    }
}

/// Merges the turns of several files of one conversation: a turn written to more than
/// one file (a resumed session replaying its history) counts once, the richest copy wins.
fn merge_turn_rows(rows: &[TurnRow]) -> Merged {
    let mut best: HashMap<(&str, bool), &TurnRow> = HashMap::new();
    let mut order: Vec<(&str, bool)> = Vec::new();
    for r in rows {
        let key = (r.turn_id.as_str(), r.subagent);
        match best.get(&key) {
            Some(prev)
                if (prev.tokens.total(), prev.tool_calls) >= (r.tokens.total(), r.tool_calls) => {}
            Some(_) => {
                best.insert(key, r);
            }
            None => {
                best.insert(key, r);
                order.push(key);
            }
        }
    }
    let mut m = Merged {
        turns: 0,
        tool_calls: 0,
        failed_tool_calls: 0,
        tokens: TokenUsage::default(),
        models: Vec::new(),
    };
    for key in order {
        let Some(r) = best.get(&key) else { continue };
        if !r.subagent {
            m.turns += 1;
        }
        m.tool_calls += r.tool_calls;
        m.failed_tool_calls += r.failed_tool_calls;
        m.tokens += r.tokens;
        add_models(&mut m.models, &r.models);
    }
    m
}

/// Resolves a session by id or unique id prefix.
pub fn find_session<'a>(rows: &'a [SessionRow], query: &str) -> Result<&'a SessionRow, String> {
    if let Some(exact) = rows.iter().find(|r| r.id == query) {
        return Ok(exact);
    }
    let matches: Vec<&SessionRow> = rows.iter().filter(|r| r.id.starts_with(query)).collect();
    match matches.as_slice() {
        [one] => Ok(one),
        [] => Err(format!("no session matches '{query}'")),
        many => Err(format!(
            "'{query}' matches {} sessions ({}…); give more of the id",
            many.len(),
            many.iter()
                .take(3)
                .map(|r| r.id.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        )),
    }
}
