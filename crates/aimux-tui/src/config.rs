//! What the binary passes in from the user's `config.yaml` (`keymap:`, `theme:`,
//! `refresh_ms:`). All fields are optional; the defaults are built in.

use crate::keymap::Keymap;
use crate::theme::Theme;
use serde::Deserialize;
use std::collections::BTreeMap;

/// One key or several: `kill: "ctrl-k"` or `kill: ["ctrl-k", "x"]`.
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(untagged)]
pub enum KeyList {
    One(String),
    Many(Vec<String>),
}

impl KeyList {
    pub fn to_vec(&self) -> Vec<String> {
        match self {
            KeyList::One(k) => vec![k.clone()],
            KeyList::Many(ks) => ks.clone(),
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, Deserialize)]
#[serde(default)]
pub struct TuiConfig {
    /// Action name → key(s), replacing that action's default keys (see `?` for names).
    pub keymap: BTreeMap<String, KeyList>,
    /// Theme role → style (`"red"`, `"#ff8800 bold"`, `"black on yellow"`).
    pub theme: BTreeMap<String, String>,
    /// How often live data is refreshed, in milliseconds (default 2000, at least 250).
    pub refresh_ms: Option<u64>,
    /// Force colours off (in addition to the `NO_COLOR` environment variable).
    pub no_color: bool,
}

pub const DEFAULT_REFRESH_MS: u64 = 2000;

impl TuiConfig {
    pub fn refresh_ms(&self) -> u64 {
        self.refresh_ms.unwrap_or(DEFAULT_REFRESH_MS).max(250)
    }

    /// Builds the keymap and theme, with a warning per bad entry (quoting it).
    pub fn build(&self, no_color: bool) -> (Keymap, Theme, Vec<String>) {
        let overrides: BTreeMap<String, Vec<String>> = self
            .keymap
            .iter()
            .map(|(k, v)| (k.clone(), v.to_vec()))
            .collect();
        let (keymap, mut warnings) = Keymap::build(&overrides);
        let (theme, theme_warnings) = Theme::build(&self.theme, no_color || self.no_color);
        warnings.extend(theme_warnings);
        if let Some(ms) = self.refresh_ms
            && ms < 250
        {
            warnings.push(format!("refresh_ms: {ms} is too fast, using 250"));
        }
        (keymap, theme, warnings)
    }
}
