//! Full-text search over every session's prompts, answers and tool inputs/outputs.
//!
//! The text lives in an SQLite FTS5 table inside the session index and is fed
//! incrementally by the scan: each text piece of a turn (prompt, answer, one tool's
//! input, one tool's output) is one row, and a side table remembers a hash of what was
//! indexed. The scan hands every freshly parsed file to [`index_parsed`]; pieces whose
//! text is unchanged are skipped, so a resumed file only costs its new or changed turns.
//!
//! A resumed parser carries texts cut to the persisted length (see `index.rs`), so a
//! piece counts as unchanged when its text equals either the full text indexed before or
//! that text's persisted (cut) form. A piece that grew after its cut keeps its earlier
//! full row and gains a row for the new text, so nothing indexed is ever lost.

use crate::index::{Index, IndexError, PERSISTED_MAX_TEXT};
use crate::sources::project_name;
use aimux_core::parsers::SessionFileParser;
use aimux_core::{ParsedSession, Provider, Turn};
use rusqlite::{Connection, OptionalExtension, params};
use serde::Serialize;
use std::collections::{HashMap, HashSet};
use std::path::Path;

/// Start / end markers of a match inside a raw FTS5 snippet.
const HL_START: char = '\u{2}';
const HL_END: char = '\u{3}';

/// Creates the search tables (idempotent). When they are created for the first time in
/// an index that already holds files, those files are marked for a full re-parse: their
/// persisted parser state has cut texts and cannot feed the search index.
pub(crate) fn ensure_schema(conn: &Connection) -> rusqlite::Result<()> {
    let existed: bool = conn
        .query_row(
            "SELECT count(*) FROM sqlite_master WHERE name = 'search_pieces'",
            [],
            |r| r.get::<_, i64>(0),
        )
        .map(|n| n > 0)?;
    conn.execute_batch(
        "CREATE VIRTUAL TABLE IF NOT EXISTS search_fts USING fts5(
           text, file_id UNINDEXED, turn_id UNINDEXED, turn_no UNINDEXED, kind UNINDEXED,
           sub UNINDEXED, provider UNINDEXED, project UNINDEXED,
           tokenize = 'unicode61 remove_diacritics 2'
         );
         CREATE TABLE IF NOT EXISTS search_pieces (
           id INTEGER PRIMARY KEY,
           file_id INTEGER NOT NULL,
           key TEXT NOT NULL,
           hash_full INTEGER NOT NULL,
           hash_cut INTEGER NOT NULL,
           cut INTEGER NOT NULL,
           current INTEGER NOT NULL,
           fts_rowid INTEGER NOT NULL
         );
         CREATE INDEX IF NOT EXISTS search_pieces_file ON search_pieces(file_id, key);
         CREATE TRIGGER IF NOT EXISTS search_forget_file AFTER DELETE ON files BEGIN
           DELETE FROM search_fts WHERE rowid IN
             (SELECT fts_rowid FROM search_pieces WHERE file_id = old.id);
           DELETE FROM search_pieces WHERE file_id = old.id;
         END;",
    )?;
    if !existed {
        // Forces the next scan to parse every known file from its first byte.
        conn.execute_batch("UPDATE files SET mtime_ns = -1, offset = 0; DELETE FROM states;")?;
    }
    Ok(())
}

/// 64-bit FNV-1a: stable across runs and Rust versions.
fn fnv(s: &str) -> i64 {
    let mut h: u64 = 0xcbf2_9ce4_8422_2325;
    for b in s.bytes() {
        h ^= u64::from(b);
        h = h.wrapping_mul(0x0100_0000_01b3);
    }
    h as i64
}

/// The text as the persisted resume state keeps it.
fn cut_form(s: &str) -> std::borrow::Cow<'_, str> {
    if s.len() > PERSISTED_MAX_TEXT {
        std::borrow::Cow::Owned(aimux_core::text::truncate(s, PERSISTED_MAX_TEXT))
    } else {
        std::borrow::Cow::Borrowed(s)
    }
}

/// What kind of text a search hit is in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum HitKind {
    Prompt,
    Answer,
    ToolInput,
    ToolOutput,
}

impl HitKind {
    fn code(self) -> &'static str {
        match self {
            HitKind::Prompt => "prompt",
            HitKind::Answer => "answer",
            HitKind::ToolInput => "tool_input",
            HitKind::ToolOutput => "tool_output",
        }
    }

    fn from_code(s: &str) -> HitKind {
        match s {
            "answer" => HitKind::Answer,
            "tool_input" => HitKind::ToolInput,
            "tool_output" => HitKind::ToolOutput,
            _ => HitKind::Prompt,
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            HitKind::Prompt => "prompt",
            HitKind::Answer => "answer",
            HitKind::ToolInput => "tool input",
            HitKind::ToolOutput => "tool output",
        }
    }
}

struct Piece<'a> {
    key: String,
    kind: HitKind,
    text: std::borrow::Cow<'a, str>,
    turn: &'a Turn,
    sub: &'a str,
}

fn pieces_of<'a>(session: &'a ParsedSession) -> Vec<Piece<'a>> {
    let mut out = Vec::new();
    let main = session.turns.iter().map(|t| (t, ""));
    let subs = session
        .subagents
        .iter()
        .flat_map(|s| s.turns.iter().map(move |t| (t, s.id.as_str())));
    for (turn, sub) in main.chain(subs) {
        let base = format!("{sub}\u{1f}{}\u{1f}", turn.id);
        let mut push = |suffix: String, kind: HitKind, text: std::borrow::Cow<'a, str>| {
            if !text.trim().is_empty() {
                out.push(Piece {
                    key: format!("{base}{suffix}"),
                    kind,
                    text,
                    turn,
                    sub,
                });
            }
        };
        push("u".into(), HitKind::Prompt, turn.user.as_str().into());
        push("a".into(), HitKind::Answer, turn.output.as_str().into());
        for (i, tool) in turn.tools.iter().enumerate() {
            let input = if tool.name.is_empty() {
                std::borrow::Cow::Borrowed(tool.input.as_str())
            } else {
                std::borrow::Cow::Owned(format!("{} {}", tool.name, tool.input))
            };
            push(format!("t{i}i"), HitKind::ToolInput, input);
            let output = match (&tool.output, &tool.error) {
                (Some(o), Some(e)) if o != e => std::borrow::Cow::Owned(format!("{o}\n{e}")),
                (Some(o), _) => std::borrow::Cow::Borrowed(o.as_str()),
                (None, Some(e)) => std::borrow::Cow::Borrowed(e.as_str()),
                (None, None) => std::borrow::Cow::Borrowed(""),
            };
            push(format!("t{i}o"), HitKind::ToolOutput, output);
        }
    }
    out
}

struct Stored {
    id: i64,
    hash_full: i64,
    hash_cut: i64,
    cut: bool,
    fts_rowid: i64,
}

/// What one call of [`index_parsed`] changed.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub struct IndexDelta {
    pub inserted: usize,
    pub unchanged: usize,
    pub removed: usize,
}

/// Feeds the search index from a freshly parsed file (called by the scan inside its
/// transaction, right after the file row is stored). Only new or changed pieces are
/// written; pieces gone from the file are removed.
pub fn index_parsed(
    tx: &rusqlite::Transaction<'_>,
    path: &str,
    parser: &SessionFileParser,
) -> rusqlite::Result<IndexDelta> {
    let Some(file_id) = tx
        .query_row("SELECT id FROM files WHERE path = ?1", [path], |r| {
            r.get::<_, i64>(0)
        })
        .optional()?
    else {
        return Ok(IndexDelta::default());
    };
    let session = parser.session();
    let provider = parser.provider.as_str();
    let project = project_name(session.cwd.as_deref()).unwrap_or_default();

    let mut stored: HashMap<String, Stored> = HashMap::new();
    {
        let mut stmt = tx.prepare_cached(
            "SELECT id, key, hash_full, hash_cut, cut, fts_rowid FROM search_pieces
             WHERE file_id = ?1 AND current = 1",
        )?;
        let rows = stmt.query_map([file_id], |r| {
            Ok((
                r.get::<_, String>(1)?,
                Stored {
                    id: r.get(0)?,
                    hash_full: r.get(2)?,
                    hash_cut: r.get(3)?,
                    cut: r.get(4)?,
                    fts_rowid: r.get(5)?,
                },
            ))
        })?;
        for row in rows {
            let (k, s) = row?;
            stored.insert(k, s);
        }
    }

    let mut delta = IndexDelta::default();
    let mut seen: HashSet<String> = HashSet::new();
    let mut insert_fts = tx.prepare_cached(
        "INSERT INTO search_fts (text, file_id, turn_id, turn_no, kind, sub, provider, project)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
    )?;
    let mut insert_piece = tx.prepare_cached(
        "INSERT INTO search_pieces (file_id, key, hash_full, hash_cut, cut, current, fts_rowid)
         VALUES (?1, ?2, ?3, ?4, ?5, 1, ?6)",
    )?;
    let mut retire = tx.prepare_cached("UPDATE search_pieces SET current = 0 WHERE id = ?1")?;
    let mut drop_piece = tx.prepare_cached("DELETE FROM search_pieces WHERE id = ?1")?;
    let mut drop_fts = tx.prepare_cached("DELETE FROM search_fts WHERE rowid = ?1")?;
    let mut update_no =
        tx.prepare_cached("UPDATE search_fts SET turn_no = ?2 WHERE rowid = ?1 AND turn_no != ?2")?;

    for piece in pieces_of(session) {
        seen.insert(piece.key.clone());
        let h = fnv(&piece.text);
        if let Some(old) = stored.get(&piece.key) {
            if h == old.hash_full || h == old.hash_cut {
                update_no.execute(params![old.fts_rowid, piece.turn.number])?;
                delta.unchanged += 1;
                continue;
            }
            if old.cut {
                // The earlier full text is no longer in memory: keep its row.
                retire.execute([old.id])?;
            } else {
                drop_fts.execute([old.fts_rowid])?;
                drop_piece.execute([old.id])?;
            }
        }
        insert_fts.execute(params![
            piece.text.as_ref(),
            file_id,
            piece.turn.id,
            piece.turn.number,
            piece.kind.code(),
            piece.sub,
            provider,
            project
        ])?;
        let rowid = tx.last_insert_rowid();
        let cut = cut_form(&piece.text);
        let is_cut = cut.len() != piece.text.len() || cut != piece.text;
        insert_piece.execute(params![file_id, piece.key, h, fnv(&cut), is_cut, rowid])?;
        delta.inserted += 1;
    }

    // Pieces the file no longer holds (a rewritten or rewound session).
    let mut all =
        tx.prepare_cached("SELECT id, key, fts_rowid FROM search_pieces WHERE file_id = ?1")?;
    let gone: Vec<(i64, i64)> = all
        .query_map([file_id], |r| {
            Ok((
                r.get::<_, i64>(0)?,
                r.get::<_, String>(1)?,
                r.get::<_, i64>(2)?,
            ))
        })?
        .filter_map(Result::ok)
        .filter(|(_, k, _)| !seen.contains(k))
        .map(|(id, _, rowid)| (id, rowid))
        .collect();
    for (id, rowid) in gone {
        drop_fts.execute([rowid])?;
        drop_piece.execute([id])?;
        delta.removed += 1;
    }
    Ok(delta)
}

/// A query the user typed could not be understood.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{0}")]
pub struct QueryError(pub String);

#[derive(Debug, thiserror::Error)]
pub enum SearchError {
    #[error("search query: {0}")]
    Query(#[from] QueryError),
    #[error(transparent)]
    Index(#[from] IndexError),
}

/// Turns what the user typed into an FTS5 query: plain words must all appear (in any
/// order), `"a phrase"` matches words side by side, `word*` matches a prefix, and `OR` /
/// `NOT` between terms work as in FTS5. Everything else is quoted, so punctuation
/// (`ls -la`, `src/main.rs`, `a:b`) never reaches the FTS5 parser as syntax.
pub fn build_match(input: &str) -> Result<String, QueryError> {
    let mut terms: Vec<String> = Vec::new();
    let mut chars = input.chars().peekable();
    let mut word = String::new();
    let flush = |word: &mut String, terms: &mut Vec<String>| {
        if word.is_empty() {
            return;
        }
        let w = std::mem::take(word);
        if w == "OR" || w == "NOT" || w == "AND" {
            terms.push(w);
            return;
        }
        let (body, prefix) = match w.strip_suffix('*') {
            Some(b) => (b.trim_end_matches('*'), true),
            None => (w.as_str(), false),
        };
        if has_token(body) {
            let q = format!("\"{}\"", body.replace('"', "\"\""));
            terms.push(if prefix { format!("{q}*") } else { q });
        }
    };
    while let Some(c) = chars.next() {
        if c == '"' {
            flush(&mut word, &mut terms);
            let mut phrase = String::new();
            let mut closed = false;
            for c in chars.by_ref() {
                if c == '"' {
                    closed = true;
                    break;
                }
                phrase.push(c);
            }
            if !closed {
                return Err(QueryError(
                    "unbalanced quote: close the phrase with another \"".into(),
                ));
            }
            let prefix = chars.peek() == Some(&'*');
            if prefix {
                chars.next();
            }
            if has_token(&phrase) {
                terms.push(format!("\"{phrase}\"{}", if prefix { "*" } else { "" }));
            }
        } else if c.is_whitespace() {
            flush(&mut word, &mut terms);
        } else {
            word.push(c);
        }
    }
    flush(&mut word, &mut terms);
    // Operators need a term on each side; a dangling one is a mistake worth naming.
    let is_op = |t: &str| matches!(t, "OR" | "NOT" | "AND");
    if terms.iter().all(|t| is_op(t)) {
        return Err(QueryError(if terms.is_empty() {
            "nothing to search for: type a word, a \"phrase\" or a prefix*".into()
        } else {
            "an operator (OR / NOT / AND) needs words to combine".into()
        }));
    }
    let first_op = terms.first().is_some_and(|t| is_op(t));
    let last_op = terms.last().is_some_and(|t| is_op(t));
    let double_op = terms.windows(2).any(|w| is_op(&w[0]) && is_op(&w[1]));
    if first_op || last_op || double_op {
        return Err(QueryError(
            "OR / NOT / AND need a word on each side (quote them, \"or\", to search the word)"
                .into(),
        ));
    }
    Ok(terms.join(" "))
}

/// Whether the tokenizer would find at least one word in `s`.
fn has_token(s: &str) -> bool {
    s.chars().any(char::is_alphanumeric)
}

/// Filters of a search.
#[derive(Debug, Clone, Default)]
pub struct SearchOptions {
    pub provider: Option<Provider>,
    pub project: Option<String>,
    pub limit: usize,
}

/// One search result: a turn of a session, with the best matching snippet.
#[derive(Debug, Clone, Serialize, PartialEq)]
pub struct SearchHit {
    /// The session id (as `aimux sessions` lists it).
    pub session: String,
    pub provider: Provider,
    pub project: Option<String>,
    /// The session file the text is in.
    pub file: String,
    /// 1-based turn number within its file's conversation.
    pub turn: u32,
    pub turn_id: String,
    /// Set for a subagent's turn.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub subagent: Option<String>,
    pub kind: HitKind,
    /// The snippet text, one line, without markers.
    pub snippet: String,
    /// Byte ranges of `snippet` that matched.
    pub highlights: Vec<(usize, usize)>,
    /// FTS5 rank (lower is better).
    pub rank: f64,
}

impl SearchHit {
    /// The snippet with matches wrapped in `open` / `close`.
    pub fn marked(&self, open: &str, close: &str) -> String {
        let mut out = String::with_capacity(self.snippet.len() + 8);
        let mut at = 0;
        for &(s, e) in &self.highlights {
            if let (Some(a), Some(b)) = (self.snippet.get(at..s), self.snippet.get(s..e)) {
                out.push_str(a);
                out.push_str(open);
                out.push_str(b);
                out.push_str(close);
                at = e;
            }
        }
        out.push_str(self.snippet.get(at..).unwrap_or(""));
        out
    }
}

/// Splits a raw snippet into plain one-line text and highlight ranges.
fn parse_snippet(raw: &str) -> (String, Vec<(usize, usize)>) {
    let mut text = String::with_capacity(raw.len());
    let mut ranges = Vec::new();
    let mut open: Option<usize> = None;
    let mut last_space = false;
    for c in raw.chars() {
        match c {
            HL_START => open = Some(text.len()),
            HL_END => {
                if let Some(s) = open.take()
                    && text.len() > s
                {
                    ranges.push((s, text.len()));
                }
            }
            c if c.is_whitespace() => {
                if !last_space {
                    text.push(' ');
                }
                last_space = true;
                continue;
            }
            c if c.is_control() => {}
            c => text.push(c),
        }
        last_space = false;
    }
    (text, ranges)
}

/// Matches ranked per search (the newest ones); see [`search`].
pub const RANK_WINDOW: i64 = 20_000;

/// Runs a search over the index. The index should be current (run a scan first).
pub fn search(
    index: &Index,
    query: &str,
    opts: &SearchOptions,
) -> Result<Vec<SearchHit>, SearchError> {
    let fts = build_match(query)?;
    let conn = index.conn();
    let limit = if opts.limit == 0 { 50 } else { opts.limit };
    let mut sql = String::from(
        "SELECT snippet(search_fts, 0, char(2), char(3), '…', 16), file_id, turn_id, turn_no,
                kind, sub, provider, project, rank
         FROM search_fts WHERE search_fts MATCH ?1",
    );
    // bm25 is computed for every matching row; a very common word would make that the
    // whole cost. Ranking is limited to the newest RANK_WINDOW matches (the doclist walk
    // that finds them is cheap), so a search stays fast on any corpus.
    sql.push_str(
        " AND rowid >= coalesce((SELECT min(rowid) FROM (SELECT rowid FROM search_fts
           WHERE search_fts MATCH ?1 ORDER BY rowid DESC LIMIT ?5)), 0)",
    );
    if opts.provider.is_some() {
        sql.push_str(" AND provider = ?2");
    }
    if opts.project.is_some() {
        sql.push_str(" AND project = ?3");
    }
    sql.push_str(" ORDER BY rank LIMIT ?4");
    let map_err = |e: rusqlite::Error| -> SearchError {
        let msg = e.to_string();
        if msg.contains("fts5") || msg.contains("syntax error") || msg.contains("no such column") {
            SearchError::Query(QueryError(format!("cannot understand the query: {msg}")))
        } else {
            SearchError::Index(index.sql_error(e))
        }
    };
    let mut stmt = conn.prepare(&sql).map_err(map_err)?;
    // Several pieces of one turn (and copies of one turn in several files of a resumed
    // session) collapse into one hit: fetch extra rows so the limit holds after that.
    let fetch = (limit * 4).max(40) as i64;
    let provider = opts.provider.map(|p| p.as_str().to_string());
    let rows = stmt
        .query_map(
            params![fts, provider, opts.project, fetch, RANK_WINDOW],
            |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, i64>(1)?,
                    r.get::<_, String>(2)?,
                    r.get::<_, i64>(3)?,
                    r.get::<_, String>(4)?,
                    r.get::<_, String>(5)?,
                    r.get::<_, String>(6)?,
                    r.get::<_, String>(7)?,
                    r.get::<_, f64>(8)?,
                ))
            },
        )
        .map_err(map_err)?;
    let mut files: HashMap<i64, Option<(String, String)>> = HashMap::new();
    let mut file_stmt = conn
        .prepare_cached("SELECT path, session_id FROM files WHERE id = ?1")
        .map_err(map_err)?;
    let mut seen: HashSet<(String, String, String, String)> = HashSet::new();
    let mut out = Vec::new();
    for row in rows {
        let (raw, file_id, turn_id, turn_no, kind, sub, provider, project, rank) =
            row.map_err(map_err)?;
        let Some(p) = Provider::parse(&provider) else {
            continue;
        };
        let file = match files.get(&file_id) {
            Some(f) => f.clone(),
            None => {
                let f = file_stmt
                    .query_row([file_id], |r| {
                        let path: String = r.get(0)?;
                        let sid: Option<String> = r.get(1)?;
                        let sid = sid.unwrap_or_else(|| {
                            Path::new(&path)
                                .file_stem()
                                .map(|s| s.to_string_lossy().into_owned())
                                .unwrap_or_else(|| path.clone())
                        });
                        Ok((path, sid))
                    })
                    .optional()
                    .map_err(map_err)?;
                files.insert(file_id, f.clone());
                f
            }
        };
        let Some((path, session)) = file else {
            continue;
        };
        if !seen.insert((
            provider.clone(),
            session.clone(),
            sub.clone(),
            turn_id.clone(),
        )) {
            continue;
        }
        let (snippet, highlights) = parse_snippet(&raw);
        out.push(SearchHit {
            session,
            provider: p,
            project: (!project.is_empty()).then_some(project),
            file: path,
            turn: u32::try_from(turn_no).unwrap_or(0),
            turn_id,
            subagent: (!sub.is_empty()).then_some(sub),
            kind: HitKind::from_code(&kind),
            snippet,
            highlights,
            rank,
        });
        if out.len() >= limit {
            break;
        }
    }
    Ok(out)
}

/// How much text the search index holds.
#[derive(Debug, Clone, Copy, Default, Serialize)]
pub struct SearchStats {
    pub files: u64,
    pub pieces: u64,
    /// The newest text row: rows are only ever appended, so this grows by exactly the
    /// number of texts (re)indexed.
    pub max_rowid: i64,
}

pub fn stats(index: &Index) -> Result<SearchStats, IndexError> {
    let conn = index.conn();
    conn.query_row(
        "SELECT count(DISTINCT file_id), count(*), coalesce(max(fts_rowid), 0) FROM search_pieces",
        [],
        |r| {
            Ok(SearchStats {
                files: r.get::<_, i64>(0)? as u64,
                pieces: r.get::<_, i64>(1)? as u64,
                max_rowid: r.get(2)?,
            })
        },
    )
    .map_err(|e| index.sql_error(e))
}

/// Benchmark hook: brings the index of `home` up to date, then times `query` over it.
/// Returns the hits and the search time alone (the scan is not counted).
pub fn bench_search(
    home: &Path,
    index: &mut Index,
    query: &str,
    limit: usize,
) -> Result<(Vec<SearchHit>, std::time::Duration), SearchError> {
    crate::scan::scan(home, index, None)?;
    let start = std::time::Instant::now();
    let hits = search(
        index,
        query,
        &SearchOptions {
            limit,
            ..SearchOptions::default()
        },
    )?;
    Ok((hits, start.elapsed()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_words_are_quoted() {
        assert_eq!(build_match("ls -la").expect("query"), "\"ls\" \"-la\"");
        assert_eq!(
            build_match("src/main.rs: x").expect("query"),
            "\"src/main.rs:\" \"x\""
        );
    }

    #[test]
    fn phrases_and_prefixes_survive() {
        assert_eq!(
            build_match("\"hello world\" fo*").expect("query"),
            "\"hello world\" \"fo\"*"
        );
        assert_eq!(build_match("a OR b").expect("query"), "\"a\" OR \"b\"");
    }

    #[test]
    fn bad_queries_are_named() {
        assert!(build_match("\"open").is_err());
        assert!(build_match("").is_err());
        assert!(build_match("   ---  ").is_err());
        assert!(build_match("OR").is_err());
        assert!(build_match("a OR").is_err());
        assert!(build_match("NOT a").is_err());
        assert!(build_match("a OR NOT b").is_err());
    }

    #[test]
    fn quotes_inside_words_are_escaped() {
        assert_eq!(build_match("it's").expect("query"), "\"it's\"");
        assert_eq!(build_match("a\"b\"").expect("query"), "\"a\" \"b\"");
    }

    #[test]
    fn snippet_markers_become_ranges() {
        let (t, r) = parse_snippet("a \u{2}word\u{3}\n\n b");
        assert_eq!(t, "a word b");
        assert_eq!(r, vec![(2, 6)]);
        assert_eq!(&t[2..6], "word");
    }

    #[test]
    fn cut_form_matches_persisted_cut() {
        let long = "x".repeat(PERSISTED_MAX_TEXT + 10);
        assert_eq!(cut_form(&long).len(), PERSISTED_MAX_TEXT + '…'.len_utf8());
        assert_eq!(cut_form("short"), "short");
    }
}
