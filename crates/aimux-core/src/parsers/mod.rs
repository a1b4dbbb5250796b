//! Incremental session-file parsers, one per provider.
//!
//! Every parser consumes complete JSONL lines (see [`crate::lines::LineBuffer`]) and keeps
//! just enough state to continue where it stopped: the engine persists a
//! [`SessionFileParser`] between runs and resumes a grown file from its last offset.

pub mod claude;
pub mod codex;
pub mod gemini;
pub mod opencode;

use crate::lines::LineBuffer;
use crate::model::{ParseStats, ParsedSession, Provider};
use serde::{Deserialize, Serialize};

/// The parsers' output version. Bump it whenever any parser produces different sessions
/// from the same bytes: the index then discards what it cached and parses again.
pub const PARSER_VERSION: i64 = 2;

/// Deserialises one JSON line. A line that is valid UTF-8 as a whole (nearly every line)
/// is read as `&str`, so serde_json does not validate again each string it borrows; any
/// other line is read as bytes. Both give the same result: serde_json checks UTF-8 only in
/// the strings it reads, and those are valid when the whole line is.
pub(crate) fn from_line<'a, T: Deserialize<'a>>(line: &'a [u8]) -> serde_json::Result<T> {
    match std::str::from_utf8(line) {
        Ok(text) => serde_json::from_str(text),
        Err(_) => serde_json::from_slice(line),
    }
}

/// What a parser made of one line.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LineOutcome {
    /// A record the parser understood (including ones it deliberately ignores).
    Handled,
    /// Valid JSON of a record type the parser does not know.
    Unknown,
    /// Not JSON, not an object, or missing fields the record type requires.
    Malformed,
}

/// One provider's record handler.
pub trait RecordParser: Default {
    /// Handles one complete line (no newline).
    fn handle_line(&mut self, line: &[u8]) -> LineOutcome;
    fn session(&self) -> &ParsedSession;
    /// Called after a batch of lines; lets a parser finalise derived fields.
    fn flush(&mut self) {}
}

/// The per-provider parser state, serialisable so the index can resume it.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub enum ParserState {
    Claude(claude::ClaudeParser),
    Codex(codex::CodexParser),
    Gemini(gemini::GeminiParser),
    Opencode(opencode::OpencodeParser),
}

impl ParserState {
    pub fn new(provider: Provider) -> ParserState {
        match provider {
            Provider::Claude => ParserState::Claude(Default::default()),
            Provider::Codex => ParserState::Codex(Default::default()),
            Provider::Gemini => ParserState::Gemini(Default::default()),
            Provider::Opencode => ParserState::Opencode(Default::default()),
        }
    }

    fn handle_line(&mut self, line: &[u8]) -> LineOutcome {
        match self {
            ParserState::Claude(p) => p.handle_line(line),
            ParserState::Codex(p) => p.handle_line(line),
            ParserState::Gemini(p) => p.handle_line(line),
            ParserState::Opencode(p) => p.handle_line(line),
        }
    }

    fn flush(&mut self) {
        match self {
            ParserState::Claude(p) => p.flush(),
            ParserState::Codex(p) => p.flush(),
            ParserState::Gemini(p) => p.flush(),
            ParserState::Opencode(p) => p.flush(),
        }
    }

    pub fn session(&self) -> &ParsedSession {
        match self {
            ParserState::Claude(p) => p.session(),
            ParserState::Codex(p) => p.session(),
            ParserState::Gemini(p) => p.session(),
            ParserState::Opencode(p) => p.session(),
        }
    }
}

/// A session file being parsed incrementally: feed it the bytes appended since
/// [`SessionFileParser::offset`], read the session back.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct SessionFileParser {
    pub provider: Provider,
    state: ParserState,
    lines: LineBuffer,
    pub stats: ParseStats,
}

impl SessionFileParser {
    pub fn new(provider: Provider) -> SessionFileParser {
        SessionFileParser {
            provider,
            state: ParserState::new(provider),
            lines: LineBuffer::default(),
            stats: ParseStats::default(),
        }
    }

    /// Offset just past the last complete line consumed: where to resume reading.
    pub fn offset(&self) -> u64 {
        self.lines.consumed()
    }

    /// Parses appended bytes. A partial last line is kept until its newline arrives.
    pub fn feed(&mut self, bytes: &[u8]) {
        let state = &mut self.state;
        let stats = &mut self.stats;
        let overflow = self.lines.feed(bytes, |line| {
            stats.lines += 1;
            match state.handle_line(line) {
                LineOutcome::Handled => {}
                LineOutcome::Unknown => stats.unknown += 1,
                LineOutcome::Malformed => stats.malformed += 1,
            }
        });
        self.stats.malformed += overflow.dropped_lines;
        self.state.flush();
    }

    /// Parses a whole-file JSON document (Gemini's older `session-*.json` form), replacing
    /// what was parsed before.
    pub fn parse_whole_json(&mut self, bytes: &[u8]) {
        let mut parser = gemini::GeminiParser::default();
        self.stats = ParseStats::default();
        self.stats.lines = 1;
        if !parser.load_whole_file(bytes) {
            self.stats.malformed += 1;
        }
        parser.flush();
        self.state = ParserState::Gemini(parser);
        self.lines = LineBuffer::at_offset(bytes.len() as u64);
    }

    pub fn session(&self) -> &ParsedSession {
        self.state.session()
    }

    /// Bytes of a trailing unfinished line currently held back.
    pub fn pending_bytes(&self) -> usize {
        self.lines.pending_len()
    }
}
