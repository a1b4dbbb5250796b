//! Claude session files. (Being written.)

use super::{LineOutcome, RecordParser};
use crate::model::ParsedSession;
use serde::{Deserialize, Serialize};

#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct ClaudeParser {
    session: ParsedSession,
}

impl RecordParser for ClaudeParser {
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
