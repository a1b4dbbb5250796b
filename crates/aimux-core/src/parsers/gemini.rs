//! Gemini session files. (Being written.)

use super::{LineOutcome, RecordParser};
use crate::model::ParsedSession;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct GeminiParser {
    session: ParsedSession,
}

impl RecordParser for GeminiParser {
    fn handle_line(&mut self, line: &[u8]) -> LineOutcome {
        match serde_json::from_slice::<serde_json::Value>(line) {
            Ok(_) => LineOutcome::Unknown,
            Err(_) => LineOutcome::Malformed,
        }
    }

    fn session(&self) -> &ParsedSession {
        &self.session
    }
}

impl GeminiParser {
    /// Loads the older whole-file `session-*.json` form. Returns false when unreadable.
    pub fn load_whole_file(&mut self, bytes: &[u8]) -> bool {
        serde_json::from_slice::<serde_json::Value>(bytes).is_ok()
    }
}
