//! `~/.aimux/config.yaml`: the user's settings. Unknown keys produce a warning; a bad
//! value produces an error that quotes it and says how to fix it.

use aimux_core::pricing::{ModelPrice, PriceTable};
use anyhow::{Context, Result, bail};
use serde_json::Value;
use std::collections::BTreeMap;
use std::path::Path;

const KNOWN_KEYS: &[&str] = &[
    "pricing",
    "refresh_ms",
    "otel",
    "export",
    "providers",
    "keymap",
    "theme",
    "titles",
    "kubernetes",
    "redis",
    "notifications",
];

/// Prices a user sets per model, in USD per million tokens.
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PriceOverride {
    pub input: f64,
    pub output: f64,
    #[serde(default)]
    pub cache_read: Option<f64>,
    #[serde(default)]
    pub cache_write: Option<f64>,
}

#[derive(Debug, Clone, Default)]
pub struct Config {
    pub pricing: BTreeMap<String, PriceOverride>,
    /// The dashboard's settings (`keymap`, `theme`, `refresh_ms`).
    pub tui: aimux_tui::TuiConfig,
    pub warnings: Vec<String>,
}

impl Config {
    /// Loads the config; a missing file is the default config.
    pub fn load(path: &Path) -> Result<Config> {
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Config::default()),
            Err(e) => return Err(e).with_context(|| format!("cannot read {}", path.display())),
        };
        Config::parse(&text).with_context(|| format!("in {}", path.display()))
    }

    pub fn parse(text: &str) -> Result<Config> {
        if text.trim().is_empty() {
            return Ok(Config::default());
        }
        let doc: Value =
            serde_saphyr::from_str(text).map_err(|e| anyhow::anyhow!("not valid YAML: {e}"))?;
        let Value::Object(map) = doc else {
            bail!(
                "expected a mapping of settings at the top level, found {}",
                describe(&doc)
            );
        };
        let mut config = Config::default();
        let tui_keys: serde_json::Map<String, Value> = map
            .iter()
            .filter(|(k, _)| matches!(k.as_str(), "keymap" | "theme" | "refresh_ms"))
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect();
        config.tui = serde_json::from_value(Value::Object(tui_keys)).map_err(|e| {
            anyhow::anyhow!(
                "keymap/theme/refresh_ms: {e} — e.g. `keymap: {{quit: [\"q\", \"ctrl-c\"]}}`, `theme: {{accent: \"cyan bold\"}}`, `refresh_ms: 2000`"
            )
        })?;
        for (key, value) in &map {
            if !KNOWN_KEYS.contains(&key.as_str()) {
                config.warnings.push(format!(
                    "unknown setting '{key}' ignored (known: {})",
                    KNOWN_KEYS.join(", ")
                ));
                continue;
            }
            if key == "pricing" {
                let Value::Object(models) = value else {
                    bail!(
                        "pricing: expected a mapping of model name to prices, found {}",
                        describe(value)
                    );
                };
                for (model, price) in models {
                    let parsed: PriceOverride = serde_json::from_value(price.clone()).map_err(|e| {
                        anyhow::anyhow!(
                            "pricing.{model}: {e}; found {} — write e.g. `{model}: {{input: 3.0, output: 15.0, cache_read: 0.3, cache_write: 3.75}}` (USD per million tokens)",
                            describe(price)
                        )
                    })?;
                    for (name, v) in [
                        ("input", Some(parsed.input)),
                        ("output", Some(parsed.output)),
                        ("cache_read", parsed.cache_read),
                        ("cache_write", parsed.cache_write),
                    ] {
                        if let Some(v) = v
                            && (!v.is_finite() || v < 0.0)
                        {
                            bail!(
                                "pricing.{model}.{name}: '{v}' must be a non-negative number of USD per million tokens"
                            );
                        }
                    }
                    config.pricing.insert(model.clone(), parsed);
                }
            }
        }
        Ok(config)
    }

    pub fn price_table(&self) -> PriceTable {
        let mut table = PriceTable::bundled();
        for (model, p) in &self.pricing {
            table = table.with_override(
                model,
                ModelPrice {
                    input: p.input / 1e6,
                    output: p.output / 1e6,
                    cache_read: p.cache_read.map(|v| v / 1e6),
                    cache_write: p.cache_write.map(|v| v / 1e6),
                },
            );
        }
        table
    }
}

fn describe(v: &Value) -> String {
    let s = v.to_string();
    if s.len() > 60 {
        format!(
            "{}…",
            &s[..s.char_indices().nth(57).map_or(s.len(), |(i, _)| i)]
        )
    } else {
        s
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overrides_apply_per_million() {
        let c = Config::parse("pricing:\n  my-model: {input: 1.0, output: 2.0}\n").expect("parses");
        let p = c.price_table().lookup("my-model").expect("priced");
        assert!((p.input - 1e-6).abs() < 1e-15);
    }

    #[test]
    fn unknown_key_warns_bad_value_quotes_it() {
        let c = Config::parse("colour: blue\n").expect("parses");
        assert_eq!(c.warnings.len(), 1);
        let err =
            Config::parse("pricing:\n  m: {input: cheap, output: 1}\n").expect_err("bad value");
        let msg = format!("{err:#}");
        assert!(msg.contains("cheap"), "{msg}");
        assert!(Config::parse("pricing:\n  m: {input: -1, output: 1}\n").is_err());
        assert!(Config::parse("- a\n- b\n").is_err());
    }
}
