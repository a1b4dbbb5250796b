//! Model prices from the bundled LiteLLM price list, matched by normalised model name,
//! with user overrides. An unknown model has no price: callers show it as unknown, never $0.

use crate::model::TokenUsage;
use serde::{Deserialize, Serialize};
use std::collections::HashMap;

static BUNDLED: &str = include_str!("../data/prices.json");

/// USD per token for each token category.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct ModelPrice {
    #[serde(rename = "i")]
    pub input: f64,
    #[serde(rename = "o")]
    pub output: f64,
    /// Falls back to the input price when the list has no cache price.
    #[serde(rename = "cr", default)]
    pub cache_read: Option<f64>,
    #[serde(rename = "cw", default)]
    pub cache_write: Option<f64>,
}

impl ModelPrice {
    pub fn cost(&self, t: &TokenUsage) -> f64 {
        t.input as f64 * self.input
            + t.output as f64 * self.output
            + t.cache_read as f64 * self.cache_read.unwrap_or(self.input)
            + t.cache_write as f64 * self.cache_write.unwrap_or(self.input)
    }
}

#[derive(Deserialize)]
struct PriceFile {
    source: String,
    models: HashMap<String, ModelPrice>,
}

/// A price table: the bundled list plus user overrides (overrides win).
#[derive(Debug, Clone)]
pub struct PriceTable {
    source: String,
    by_key: HashMap<String, ModelPrice>,
    overrides: HashMap<String, ModelPrice>,
}

impl Default for PriceTable {
    fn default() -> Self {
        PriceTable::bundled()
    }
}

impl PriceTable {
    pub fn bundled() -> PriceTable {
        // The bundled file is checked by a unit test, so a parse failure here can only be a
        // corrupt build; fall back to an empty table rather than panic.
        let file: PriceFile = serde_json::from_str(BUNDLED).unwrap_or(PriceFile {
            source: "none (bundled price list unreadable)".into(),
            models: HashMap::new(),
        });
        let mut by_key = HashMap::with_capacity(file.models.len());
        // Exact names first, so a normalised alias never shadows a real entry.
        for (name, price) in &file.models {
            by_key.insert(name.to_ascii_lowercase(), *price);
        }
        for (name, price) in &file.models {
            by_key.entry(normalize(name)).or_insert(*price);
        }
        PriceTable {
            source: file.source,
            by_key,
            overrides: HashMap::new(),
        }
    }

    pub fn source(&self) -> &str {
        &self.source
    }

    pub fn with_override(mut self, model: &str, price: ModelPrice) -> PriceTable {
        self.overrides.insert(normalize(model), price);
        self
    }

    /// The price of `model`, or `None` when the model is not in the list.
    pub fn lookup(&self, model: &str) -> Option<ModelPrice> {
        let key = normalize(model);
        if let Some(p) = self.overrides.get(&key) {
            return Some(*p);
        }
        let lower = model.trim().to_ascii_lowercase();
        self.by_key
            .get(&lower)
            .or_else(|| self.by_key.get(&key))
            .or_else(|| self.by_key.get(strip_date(&key)))
            .copied()
    }

    /// Cost of `tokens` on `model`; `None` when the model's price is unknown.
    pub fn cost(&self, model: &str, tokens: &TokenUsage) -> Option<f64> {
        if tokens.is_zero() {
            return Some(0.0);
        }
        self.lookup(model).map(|p| p.cost(tokens))
    }
}

/// Normalises a model id so spellings of one model meet: lower case, provider prefixes
/// (`anthropic/`, `vertex_ai/`, `us.anthropic.`), `[1m]`-style context tags, `@date` and
/// `-v1:0` version forms, and dated suffixes (`-20250929`, `-2025-08-07`) removed.
pub fn normalize(model: &str) -> String {
    let mut m = model.trim().to_ascii_lowercase();
    if let Some(i) = m.find('[') {
        m.truncate(i);
    }
    if let Some(i) = m.rfind('/') {
        m = m[i + 1..].to_string();
    }
    for prefix in ["global.", "us.", "eu.", "apac.", "au.", "jp."] {
        if let Some(rest) = m.strip_prefix(prefix) {
            m = rest.to_string();
        }
    }
    for prefix in ["anthropic.", "openai.", "google.", "models/"] {
        if let Some(rest) = m.strip_prefix(prefix) {
            m = rest.to_string();
        }
    }
    if let Some(i) = m.find('@') {
        m.truncate(i);
    }
    if let Some(i) = m.find(":") {
        m.truncate(i);
    }
    if let Some(rest) = m.strip_suffix("-v1").or_else(|| m.strip_suffix("-v2")) {
        m = rest.to_string();
    }
    strip_date(&m).to_string()
}

/// Removes a trailing date: `-20250929`, `-2025-08-07`, `-0613`.
fn strip_date(m: &str) -> &str {
    let bytes = m.as_bytes();
    let digits_before = |end: usize, n: usize| -> bool {
        end > n && bytes[end - n..end].iter().all(u8::is_ascii_digit) && bytes[end - n - 1] == b'-'
    };
    let n = bytes.len();
    if digits_before(n, 8) {
        return &m[..n - 9];
    }
    if n >= 11 && digits_before(n, 2) && digits_before(n - 3, 2) && digits_before(n - 6, 4) {
        return &m[..n - 11];
    }
    if digits_before(n, 4) && !m[..n - 5].ends_with("-4") {
        return &m[..n - 5];
    }
    m
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn bundled_list_parses_and_is_large() {
        let file: PriceFile = serde_json::from_str(BUNDLED).expect("bundled prices parse");
        assert!(file.models.len() > 200, "only {} models", file.models.len());
    }

    #[test]
    fn normalised_forms_match() {
        let t = PriceTable::bundled();
        let base = t.lookup("claude-opus-4-8").expect("opus 4.8 priced");
        for alias in [
            "claude-opus-4-8[1m]",
            "anthropic/claude-opus-4-8",
            "claude-opus-4-8@20260101",
            "us.anthropic.claude-opus-4-8",
            "CLAUDE-OPUS-4-8",
        ] {
            assert!(t.lookup(alias).is_some(), "{alias} not priced");
        }
        let dated = t
            .lookup("claude-sonnet-4-5-20250929")
            .expect("dated sonnet");
        let undated = t.lookup("claude-sonnet-4-5").expect("sonnet");
        assert_eq!(dated, undated);
        assert!(t.lookup("gpt-5-2025-08-07").is_some());
        assert!(base.cache_read.is_some());
    }

    #[test]
    fn unknown_model_has_no_price_but_zero_usage_costs_nothing() {
        let t = PriceTable::bundled();
        let used = TokenUsage {
            input: 10,
            ..TokenUsage::default()
        };
        assert_eq!(t.cost("gpt-5-codex-fake", &used), None);
        assert_eq!(
            t.cost("gpt-5-codex-fake", &TokenUsage::default()),
            Some(0.0)
        );
    }

    #[test]
    fn cost_uses_every_category() {
        let p = ModelPrice {
            input: 1.0,
            output: 2.0,
            cache_read: Some(0.5),
            cache_write: None,
        };
        let t = TokenUsage {
            input: 1,
            output: 1,
            cache_read: 2,
            cache_write: 3,
        };
        assert_eq!(p.cost(&t), 1.0 + 2.0 + 1.0 + 3.0);
    }

    #[test]
    fn overrides_win() {
        let p = ModelPrice {
            input: 9.0,
            output: 9.0,
            cache_read: None,
            cache_write: None,
        };
        let t = PriceTable::bundled().with_override("my-model", p);
        assert_eq!(t.lookup("my-model[1m]"), Some(p));
    }
}
