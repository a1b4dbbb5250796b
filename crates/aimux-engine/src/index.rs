//! The session index: an SQLite cache of every parsed session file, keyed by file
//! identity (path, size, mtime, inode) with the parser's resume state, so a rerun reads
//! only what changed and a grown file resumes from its last offset.
//!
//! The index is a cache: deleting it loses nothing, the next scan rebuilds it.

use aimux_core::parsers::SessionFileParser;
use aimux_core::{ModelUsage, ParseStats, ParsedSession, Provider, TailState, TokenUsage};
use rusqlite::{Connection, OptionalExtension, params};
use serde::{Deserialize, Serialize};
use std::collections::HashMap;
use std::path::{Path, PathBuf};

const SCHEMA_VERSION: i64 = 6;

/// Texts longer than this are cut in the persisted resume state (the search index,
/// fed before persistence, keeps them whole).
pub(crate) const PERSISTED_MAX_TEXT: usize = 2048;

#[derive(Debug, thiserror::Error)]
pub enum IndexError {
    #[error("index database {path}: {source}")]
    Sqlite {
        path: PathBuf,
        source: rusqlite::Error,
    },
    #[error("cannot create {path}: {source}")]
    Io {
        path: PathBuf,
        source: std::io::Error,
    },
}

/// What identifies one version of a file on disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FileIdentity {
    pub size: u64,
    pub mtime_ns: i64,
    pub inode: u64,
}

/// The cached state of one session file.
#[derive(Debug, Clone)]
pub struct CachedFile {
    pub id: i64,
    pub identity: FileIdentity,
    pub offset: u64,
    /// The full-text index holds this file's current content.
    pub searchable: bool,
}

/// Per-file summary kept in the index (one session file = one row).
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct FileSummary {
    pub path: String,
    pub provider: Provider,
    pub session_id: Option<String>,
    pub cwd: Option<String>,
    pub title: Option<String>,
    pub started_at: Option<String>,
    pub last_activity: Option<String>,
    pub turns: u64,
    pub tool_calls: u64,
    pub failed_tool_calls: u64,
    pub tokens: TokenUsage,
    pub models: Vec<ModelUsage>,
    pub main_model: Option<String>,
    pub stats: ParseStats,
    pub size: u64,
    /// What the end of the file says about the agent right now (for live status).
    #[serde(default)]
    pub tail: TailState,
    /// The first prompts of the main conversation (cut), for titles. Stored in their
    /// own column, not in the summary JSON.
    #[serde(skip)]
    pub opening_prompts: Vec<String>,
}

/// One turn row (for merging sessions spread over several files, and daily costs).
#[derive(Debug, Clone)]
pub struct TurnRow {
    pub file_id: i64,
    pub turn_id: String,
    pub started_at: Option<String>,
    pub tool_calls: u64,
    pub failed_tool_calls: u64,
    pub tokens: TokenUsage,
    pub models: Vec<ModelUsage>,
    pub subagent: bool,
}

pub struct Index {
    conn: Connection,
    path: PathBuf,
}

impl Index {
    /// Opens (creating if needed) the index at `path`. A corrupt or foreign-version
    /// index is discarded and rebuilt: it only caches what the session files hold.
    pub fn open(path: &Path) -> Result<Index, IndexError> {
        if let Some(dir) = path.parent() {
            std::fs::create_dir_all(dir).map_err(|source| IndexError::Io {
                path: dir.to_path_buf(),
                source,
            })?;
        }
        match Index::open_inner(path) {
            Ok(ix) => Ok(ix),
            Err(_) => {
                for suffix in ["", "-wal", "-shm"] {
                    let p = PathBuf::from(format!("{}{suffix}", path.display()));
                    let _ = std::fs::remove_file(p);
                }
                Index::open_inner(path)
            }
        }
    }

    pub fn open_in_memory() -> Result<Index, IndexError> {
        let conn = Connection::open_in_memory().map_err(|source| IndexError::Sqlite {
            path: PathBuf::from(":memory:"),
            source,
        })?;
        let ix = Index {
            conn,
            path: PathBuf::from(":memory:"),
        };
        ix.init()?;
        Ok(ix)
    }

    fn open_inner(path: &Path) -> Result<Index, IndexError> {
        let conn = Connection::open(path).map_err(|source| IndexError::Sqlite {
            path: path.to_path_buf(),
            source,
        })?;
        let ix = Index {
            conn,
            path: path.to_path_buf(),
        };
        ix.init()?;
        Ok(ix)
    }

    fn err(&self, source: rusqlite::Error) -> IndexError {
        IndexError::Sqlite {
            path: self.path.clone(),
            source,
        }
    }

    fn init(&self) -> Result<(), IndexError> {
        self.conn
            .execute_batch(
                // A cache that is rebuilt when lost: no fsync (`synchronous=OFF`). Reads go
                // through a memory map instead of one read call per page (a warm run reads
                // the whole `files` table twice); its pages count in RSS but are the page
                // cache's, not the process's own memory.
                "PRAGMA journal_mode=WAL; PRAGMA synchronous=OFF; PRAGMA busy_timeout=5000;
                 PRAGMA mmap_size=268435456; PRAGMA cache_size=-32768;",
            )
            .map_err(|e| self.err(e))?;
        let version: i64 = self
            .conn
            .query_row("PRAGMA user_version", [], |r| r.get(0))
            .map_err(|e| self.err(e))?;
        // A new table layout or a parser that reads the same bytes differently both
        // invalidate the cache.
        let wanted = SCHEMA_VERSION * 1000 + aimux_core::parsers::PARSER_VERSION;
        if version != wanted {
            self.conn
                .execute_batch(
                    "DROP TABLE IF EXISTS states; DROP TABLE IF EXISTS turns; DROP TABLE IF EXISTS files;
                     DROP TABLE IF EXISTS search_fts; DROP TABLE IF EXISTS search_pieces;
                     CREATE TABLE files (
                       id INTEGER PRIMARY KEY,
                       path TEXT NOT NULL UNIQUE,
                       provider TEXT NOT NULL,
                       size INTEGER NOT NULL,
                       mtime_ns INTEGER NOT NULL,
                       inode INTEGER NOT NULL,
                       offset INTEGER NOT NULL,
                       session_id TEXT,
                       summary TEXT NOT NULL,
                       -- 1 when the search index holds this file's current text.
                       searchable INTEGER NOT NULL DEFAULT 0,
                       -- Opening prompts (JSON list), for titles; apart from `summary` so
                       -- listing sessions does not parse them.
                       prompts TEXT NOT NULL DEFAULT '[]',
                       -- The first of `prompts` (NULL when none): fallback titles of every
                       -- session are read in one query without parsing JSON.
                       first_prompt TEXT
                     );
                     -- Resume states live apart: a scan of `files` must not page through
                     -- their blobs (SQLite reads overflow pages of earlier columns).
                     CREATE TABLE states (
                       file_id INTEGER PRIMARY KEY REFERENCES files(id) ON DELETE CASCADE,
                       state BLOB NOT NULL
                     );
                     CREATE INDEX files_session ON files(session_id);
                     -- Covers the change-detection scan of every run (`cached_files`),
                     -- which then reads a few pages instead of every row's summary.
                     CREATE INDEX files_identity ON files(path, size, mtime_ns, inode, offset, searchable);
                     CREATE TABLE turns (
                       file_id INTEGER NOT NULL REFERENCES files(id) ON DELETE CASCADE,
                       seq INTEGER NOT NULL,
                       turn_id TEXT NOT NULL,
                       started_at TEXT,
                       tool_calls INTEGER NOT NULL,
                       failed_tool_calls INTEGER NOT NULL,
                       models TEXT NOT NULL,
                       subagent INTEGER NOT NULL,
                       PRIMARY KEY (file_id, seq)
                     );
                     ",
                )
                .map_err(|e| self.err(e))?;
            self.conn
                .execute_batch(&format!("PRAGMA user_version = {wanted};"))
                .map_err(|e| self.err(e))?;
        }
        self.conn
            .execute_batch("PRAGMA foreign_keys=ON;")
            .map_err(|e| self.err(e))?;
        crate::search::ensure_schema(&self.conn).map_err(|e| self.err(e))?;
        Ok(())
    }

    /// The connection, for modules that keep their own tables here (search).
    pub(crate) fn conn(&self) -> &Connection {
        &self.conn
    }

    pub(crate) fn sql_error(&self, source: rusqlite::Error) -> IndexError {
        self.err(source)
    }

    /// Every cached file: path → (id, identity, offset).
    pub fn cached_files(&self) -> Result<Vec<(String, CachedFile)>, IndexError> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT id, path, size, mtime_ns, inode, offset, searchable FROM files")
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map([], |r| {
                Ok((
                    r.get::<_, String>(1)?,
                    CachedFile {
                        id: r.get(0)?,
                        identity: FileIdentity {
                            size: r.get::<_, i64>(2)? as u64,
                            mtime_ns: r.get(3)?,
                            inode: r.get::<_, i64>(4)? as u64,
                        },
                        offset: r.get::<_, i64>(5)? as u64,
                        searchable: r.get(6)?,
                    },
                ))
            })
            .map_err(|e| self.err(e))?;
        rows.collect::<Result<_, _>>().map_err(|e| self.err(e))
    }

    /// The persisted parser of a file, to resume it from its offset.
    pub fn load_parser(&self, id: i64) -> Result<Option<SessionFileParser>, IndexError> {
        let blob: Option<Vec<u8>> = self
            .conn
            .query_row("SELECT state FROM states WHERE file_id = ?1", [id], |r| {
                r.get(0)
            })
            .optional()
            .map_err(|e| self.err(e))?
            .flatten();
        Ok(blob.and_then(|b| serde_json::from_slice(&b).ok()))
    }

    pub fn begin(&mut self) -> Result<rusqlite::Transaction<'_>, IndexError> {
        let path = self.path.clone();
        self.conn
            .transaction()
            .map_err(|source| IndexError::Sqlite { path, source })
    }

    /// Stores a prepared file (replacing any earlier version of it) inside `tx`.
    pub fn store(
        tx: &rusqlite::Transaction<'_>,
        path: &str,
        identity: FileIdentity,
        prepared: &Prepared,
        searchable: bool,
    ) -> rusqlite::Result<()> {
        let summary = &prepared.summary;
        let file_id: i64 = tx.prepare_cached(
            "INSERT INTO files (path, provider, size, mtime_ns, inode, offset, session_id, summary, searchable, prompts, first_prompt)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10, ?11)
             ON CONFLICT(path) DO UPDATE SET provider=excluded.provider, size=excluded.size,
               mtime_ns=excluded.mtime_ns, inode=excluded.inode, offset=excluded.offset,
               session_id=excluded.session_id, summary=excluded.summary,
               searchable=excluded.searchable, prompts=excluded.prompts,
               first_prompt=excluded.first_prompt
             RETURNING id",
        )?
        .query_row(
            params![
                path,
                summary.provider.as_str(),
                identity.size as i64,
                identity.mtime_ns,
                identity.inode as i64,
                prepared.offset as i64,
                summary.session_id,
                prepared.summary_json,
                searchable,
                serde_json::to_string(&summary.opening_prompts).unwrap_or_else(|_| "[]".into()),
                summary.opening_prompts.first()
            ],
            |r| r.get(0),
        )?;
        match &prepared.state {
            StateUpdate::Set(state) => {
                tx.prepare_cached(
                    "INSERT INTO states (file_id, state) VALUES (?1, ?2)
                     ON CONFLICT(file_id) DO UPDATE SET state=excluded.state",
                )?
                .execute(params![file_id, state])?;
            }
            StateUpdate::Clear => {
                tx.prepare_cached("DELETE FROM states WHERE file_id = ?1")?
                    .execute([file_id])?;
            }
            // A resume state whose offset no longer matches is never used (the scan checks),
            // so keeping an older one is safe.
            StateUpdate::Keep => {}
        }
        tx.prepare_cached("DELETE FROM turns WHERE file_id = ?1")?
            .execute([file_id])?;
        let mut insert = tx.prepare_cached(
            "INSERT INTO turns (file_id, seq, turn_id, started_at, tool_calls, failed_tool_calls, models, subagent)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8)",
        )?;
        for (seq, t) in prepared.turns.iter().enumerate() {
            insert.execute(params![
                file_id,
                seq as i64,
                t.turn_id,
                t.started_at,
                t.tool_calls as i64,
                t.failed_tool_calls as i64,
                t.models_json,
                t.subagent
            ])?;
        }
        Ok(())
    }

    /// Only the identity changed (e.g. touched, same content length): keep the parse.
    pub fn touch(
        tx: &rusqlite::Transaction<'_>,
        id: i64,
        identity: FileIdentity,
    ) -> rusqlite::Result<()> {
        tx.execute(
            "UPDATE files SET size=?2, mtime_ns=?3, inode=?4 WHERE id=?1",
            params![
                id,
                identity.size as i64,
                identity.mtime_ns,
                identity.inode as i64
            ],
        )?;
        Ok(())
    }

    pub fn forget(tx: &rusqlite::Transaction<'_>, id: i64) -> rusqlite::Result<()> {
        tx.execute("DELETE FROM files WHERE id = ?1", [id])?;
        Ok(())
    }

    /// Every file summary with its row id.
    pub fn summaries(&self) -> Result<Vec<(i64, FileSummary)>, IndexError> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT id, summary FROM files")
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map([], |r| Ok((r.get::<_, i64>(0)?, r.get::<_, String>(1)?)))
            .map_err(|e| self.err(e))?;
        let mut out = Vec::new();
        for row in rows {
            let (id, json) = row.map_err(|e| self.err(e))?;
            if let Ok(s) = serde_json::from_str::<FileSummary>(&json) {
                out.push((id, s));
            }
        }
        Ok(out)
    }

    /// Summaries of the given paths (those in the index).
    pub fn summaries_of(&self, paths: &[String]) -> Result<Vec<FileSummary>, IndexError> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT summary FROM files WHERE path = ?1")
            .map_err(|e| self.err(e))?;
        let mut out = Vec::new();
        for p in paths {
            let json: Option<String> = stmt
                .query_row([p], |r| r.get(0))
                .optional()
                .map_err(|e| self.err(e))?;
            if let Some(s) = json.and_then(|j| serde_json::from_str::<FileSummary>(&j).ok()) {
                out.push(s);
            }
        }
        Ok(out)
    }

    /// The opening prompts of the largest of `paths` that has any (the main transcript;
    /// other files of a conversation repeat it).
    pub fn opening_prompts(&self, paths: &[String]) -> Result<Vec<String>, IndexError> {
        let mut stmt = self
            .conn
            .prepare_cached("SELECT prompts, size FROM files WHERE path = ?1")
            .map_err(|e| self.err(e))?;
        let mut best: Option<(i64, Vec<String>)> = None;
        for p in paths {
            let row: Option<(String, i64)> = stmt
                .query_row([p], |r| Ok((r.get(0)?, r.get(1)?)))
                .optional()
                .map_err(|e| self.err(e))?;
            if let Some((json, size)) = row {
                let prompts: Vec<String> = serde_json::from_str(&json).unwrap_or_default();
                if !prompts.is_empty() && best.as_ref().is_none_or(|(s, _)| size > *s) {
                    best = Some((size, prompts));
                }
            }
        }
        Ok(best.map(|(_, p)| p).unwrap_or_default())
    }

    /// The first opening prompt and the size of every file that has one, by path: titles
    /// for many sessions in one query instead of one per session.
    pub fn first_prompts(&self) -> Result<HashMap<String, (i64, String)>, IndexError> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT path, size, first_prompt FROM files WHERE first_prompt IS NOT NULL",
            )
            .map_err(|e| self.err(e))?;
        let rows = stmt
            .query_map([], |r| {
                Ok((
                    r.get::<_, String>(0)?,
                    r.get::<_, i64>(1)?,
                    r.get::<_, Option<String>>(2)?,
                ))
            })
            .map_err(|e| self.err(e))?;
        let mut out = HashMap::new();
        for row in rows {
            let (path, size, first) = row.map_err(|e| self.err(e))?;
            if let Some(first) = first {
                out.insert(path, (size, first));
            }
        }
        Ok(out)
    }

    /// Turn rows of the given files.
    pub fn turns_of(&self, file_ids: &[i64]) -> Result<Vec<TurnRow>, IndexError> {
        let mut stmt = self
            .conn
            .prepare_cached(
                "SELECT file_id, turn_id, started_at, tool_calls, failed_tool_calls, models, subagent
                 FROM turns WHERE file_id = ?1 ORDER BY seq",
            )
            .map_err(|e| self.err(e))?;
        let mut out = Vec::new();
        for id in file_ids {
            let rows = stmt
                .query_map([id], |r| {
                    let models: String = r.get(5)?;
                    let models: Vec<ModelUsage> = serde_json::from_str(&models).unwrap_or_default();
                    let mut tokens = TokenUsage::default();
                    for m in &models {
                        tokens += m.tokens;
                    }
                    Ok(TurnRow {
                        file_id: r.get(0)?,
                        turn_id: r.get(1)?,
                        started_at: r.get(2)?,
                        tool_calls: r.get::<_, i64>(3)? as u64,
                        failed_tool_calls: r.get::<_, i64>(4)? as u64,
                        tokens,
                        models,
                        subagent: r.get(6)?,
                    })
                })
                .map_err(|e| self.err(e))?;
            for row in rows {
                out.push(row.map_err(|e| self.err(e))?);
            }
        }
        Ok(out)
    }

    /// Paths of the files holding a session.
    pub fn files_of_session(
        &self,
        session_id: &str,
    ) -> Result<Vec<(i64, FileSummary)>, IndexError> {
        Ok(self
            .summaries()?
            .into_iter()
            .filter(|(_, s)| s.session_id.as_deref() == Some(session_id))
            .collect())
    }
}

/// One turn row, ready to insert.
#[derive(Debug, Clone)]
pub struct PreparedTurn {
    pub turn_id: String,
    pub started_at: Option<String>,
    pub tool_calls: u64,
    pub failed_tool_calls: u64,
    pub models_json: String,
    pub subagent: bool,
}

/// The stored resume state after a parse.
#[derive(Debug, Clone)]
pub enum StateUpdate {
    /// Store this state (files that may grow).
    Set(Vec<u8>),
    /// Drop any stored state (files not expected to grow: parsed in full if they do).
    Clear,
    /// Leave it: the live loop keeps the parser in memory and does not rewrite a state
    /// that grows with the history on every tick.
    Keep,
}

/// How a scan treats resume states.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Persist {
    /// Store the state of files written recently, clear the others.
    RecentFiles,
    /// Never rewrite states (the caller keeps parsers in memory).
    Keep,
}

/// Everything the index stores for one parsed file, computed off the writer thread.
#[derive(Debug, Clone)]
pub struct Prepared {
    pub summary: FileSummary,
    pub summary_json: String,
    pub offset: u64,
    /// What to do with the parser's stored resume state.
    pub state: StateUpdate,
    pub turns: Vec<PreparedTurn>,
}

impl Prepared {
    pub fn new(parser: &SessionFileParser, summary: FileSummary, state: StateUpdate) -> Prepared {
        let session = parser.session();
        let main = session.turns.iter().map(|t| (t, false));
        let subs = session
            .subagents
            .iter()
            .flat_map(|s| s.turns.iter().map(|t| (t, true)));
        let turns = main
            .chain(subs)
            .map(|(turn, subagent)| PreparedTurn {
                turn_id: turn.id.clone(),
                started_at: turn.started_at.map(|t| t.to_rfc3339()),
                tool_calls: turn.tools.len() as u64,
                failed_tool_calls: turn.failed_tool_calls() as u64,
                models_json: serde_json::to_string(&turn.usage_by_model).unwrap_or_default(),
                subagent,
            })
            .collect();
        Prepared {
            summary_json: serde_json::to_string(&summary).unwrap_or_default(),
            summary,
            offset: parser.offset(),
            state,
            turns,
        }
    }
}

/// The resume state to store for a parsed file under `persist`.
pub fn state_update(parser: &SessionFileParser, persist: Persist, recent: bool) -> StateUpdate {
    match (persist, recent) {
        (Persist::Keep, _) => StateUpdate::Keep,
        (Persist::RecentFiles, true) => StateUpdate::Set(persisted_state(parser)),
        (Persist::RecentFiles, false) => StateUpdate::Clear,
    }
}

/// Long texts are cut in the persisted resume state: the index needs counts and
/// previews, and `aimux trace` re-reads the file for full content. Cutting works on the
/// serialised form so it needs no knowledge of each parser's internals; ids and other
/// short strings are never touched.
fn persisted_state(parser: &SessionFileParser) -> Vec<u8> {
    match serde_json::to_vec(parser) {
        Ok(json) => cut_long_strings(json, PERSISTED_MAX_TEXT),
        Err(_) => Vec::new(),
    }
}

/// Compact JSON with every string value (not object key) longer than `max` bytes
/// unescaped replaced by its cut form. Works on the bytes, so a state is serialised once
/// instead of being built as a `serde_json::Value` tree first: in compact JSON a `"`
/// outside a string always opens one, and a string followed by `:` is a key.
fn cut_long_strings(json: Vec<u8>, max: usize) -> Vec<u8> {
    let mut out: Option<Vec<u8>> = None;
    let mut copied = 0;
    let mut at = 0;
    while let Some(open) = json[at..].iter().position(|&b| b == b'"').map(|p| at + p) {
        let mut end = open + 1;
        loop {
            match json[end..].iter().position(|&b| b == b'"' || b == b'\\') {
                Some(p) if json[end + p] == b'\\' => end += p + 2,
                Some(p) => {
                    end += p + 1;
                    break;
                }
                None => return json, // not JSON from serde_json; keep it as it is
            }
        }
        // Escaped length bounds the unescaped one, so short strings are never decoded.
        let long = end - open - 2 > max && json.get(end) != Some(&b':');
        if long
            && let Ok(text) = serde_json::from_slice::<String>(&json[open..end])
            && text.len() > max
        {
            let out = out.get_or_insert_with(|| Vec::with_capacity(json.len() / 2));
            out.extend_from_slice(&json[copied..open]);
            if serde_json::to_writer(&mut *out, &aimux_core::text::truncate(&text, max)).is_err() {
                return json;
            }
            copied = end;
        }
        at = end;
    }
    match out {
        Some(mut out) => {
            out.extend_from_slice(&json[copied..]);
            out
        }
        None => json,
    }
}

/// How many opening prompts a summary keeps, and how much of each: enough for a title.
pub const OPENING_PROMPTS: usize = 3;
pub const OPENING_PROMPT_BYTES: usize = 1500;

/// Builds the index row for a parsed file.
pub fn summarize(path: &str, parser: &SessionFileParser, size: u64) -> FileSummary {
    let s: &ParsedSession = parser.session();
    FileSummary {
        path: path.to_string(),
        provider: parser.provider,
        session_id: s.id.clone(),
        cwd: s.cwd.clone(),
        title: s.title.clone(),
        started_at: s.started_at.map(|t| t.to_rfc3339()),
        last_activity: s.last_activity.map(|t| t.to_rfc3339()),
        turns: s.turns.len() as u64,
        tool_calls: s.all_turns().map(|t| t.tools.len() as u64).sum(),
        failed_tool_calls: s.all_turns().map(|t| t.failed_tool_calls() as u64).sum(),
        tokens: s.tokens(),
        models: s.usage_by_model(),
        main_model: s.main_model(),
        stats: parser.stats,
        size,
        tail: s.tail.clone(),
        opening_prompts: s
            .turns
            .iter()
            .filter(|t| !t.user.trim().is_empty())
            .take(OPENING_PROMPTS)
            .map(|t| aimux_core::text::truncate(&t.user, OPENING_PROMPT_BYTES))
            .collect(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The cut as a `serde_json::Value` walk: what `cut_long_strings` must agree with.
    fn cut_by_value(v: &mut serde_json::Value, max: usize) {
        match v {
            serde_json::Value::String(s) if s.len() > max => {
                *s = aimux_core::text::truncate(s, max);
            }
            serde_json::Value::Array(items) => items.iter_mut().for_each(|i| cut_by_value(i, max)),
            serde_json::Value::Object(map) => map.values_mut().for_each(|i| cut_by_value(i, max)),
            _ => {}
        }
    }

    #[test]
    fn long_string_values_are_cut_and_keys_and_short_strings_kept() {
        let long_key = "k".repeat(40);
        let doc = serde_json::json!({
            "short": "abc",
            "long": "é\"\\\n".repeat(20),
            "exact": "x".repeat(10),
            "nested": [{"deep": "y".repeat(50), "n": 1.5}, "z\\".repeat(6), null, true],
            long_key.clone(): "escaped \\\" but short",
        });
        let json = serde_json::to_vec(&doc).expect("serialisable");
        let cut: serde_json::Value =
            serde_json::from_slice(&cut_long_strings(json.clone(), 10)).expect("cut JSON parses");
        let mut expected = doc.clone();
        cut_by_value(&mut expected, 10);
        assert_eq!(cut, expected);
        assert!(cut.get(&long_key).is_some(), "a key is never cut");
        assert_eq!(cut["exact"], "x".repeat(10));
        assert_ne!(cut["long"], doc["long"]);
        // Nothing to cut: the same bytes back.
        assert_eq!(cut_long_strings(json.clone(), 1000), json);
    }

    #[test]
    fn a_parsed_session_state_matches_the_value_cut() {
        let mut parser = SessionFileParser::new(Provider::Claude);
        let big = "output line\n".repeat(5000);
        let lines = [
            serde_json::json!({"type": "user", "uuid": "u1", "sessionId": "s", "timestamp": "2026-01-01T00:00:00Z",
                "message": {"role": "user", "content": format!("please {big}")}}),
            serde_json::json!({"type": "assistant", "uuid": "a1", "parentUuid": "u1", "timestamp": "2026-01-01T00:00:01Z",
                "message": {"id": "m1", "role": "assistant", "model": "claude-sonnet-4-6",
                  "content": [{"type": "tool_use", "id": "t1", "name": "Bash", "input": {"command": big}}],
                  "usage": {"input_tokens": 1, "output_tokens": 2}}}),
            serde_json::json!({"type": "user", "uuid": "u2", "parentUuid": "a1", "timestamp": "2026-01-01T00:00:02Z",
                "message": {"role": "user", "content": [{"type": "tool_result", "tool_use_id": "t1", "content": big}]}}),
        ];
        let mut bytes = Vec::new();
        for l in &lines {
            bytes.extend_from_slice(serde_json::to_string(l).expect("serialisable").as_bytes());
            bytes.push(b'\n');
        }
        parser.feed(&bytes);
        let mut expected = serde_json::to_value(&parser).expect("serialisable");
        cut_by_value(&mut expected, PERSISTED_MAX_TEXT);
        let state: serde_json::Value =
            serde_json::from_slice(&persisted_state(&parser)).expect("state parses");
        assert_eq!(state, expected);
        assert!(state.to_string().len() < big.len(), "long texts were cut");
    }
}
