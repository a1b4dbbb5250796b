//! opencode's sessions: rows of one SQLite database, not files.
//!
//! opencode (1.x, seen with opencode-ai 1.18.33) keeps every session in
//! `~/.local/share/opencode/opencode.db` (a build of another release channel uses
//! `opencode-<channel>.db` beside it), in WAL mode, written while the CLI runs: tables
//! `session`, `message` and `part`, the last two with the object as JSON text in `data`.
//! See `tests/fixtures/opencode/README.md` and [`aimux_core::parsers::opencode`].
//!
//! A session is therefore addressed by a reference path `<database>#<session id>`
//! ([`session_path`]): one [`SessionFileRef`] per session, whose path is no file.
//! [`read_session`] feeds that session's rows to a parser as JSONL, one opencode object a
//! line (the form the core parser documents), and [`session_identity`] says whether the
//! session changed since it was indexed (row count and the rows' `time_updated`).
//! The database is opened read-only; a session is always re-read whole, never resumed
//! from an offset, since opencode rewrites rows in place.
//!
//! A child session (a `task` subagent, `parent_id` set) is a reference of its own; it
//! parses into the parent's session id, like a Claude subagent file.
//!
//! What the scan must do with such a reference (`scan.rs` stats and reads paths as files):
//! where [`is_session_path`] holds, take the identity from [`session_identity`] instead of
//! the file's metadata, never plan a resume, and read with [`read_session`] instead of
//! opening the path. Until it does, these references come back as "cannot read"
//! warnings.

use crate::index::FileIdentity;
use crate::sources::{FileFormat, ProviderSource, SessionFileRef, Warning, read_dir_or_warn};
use aimux_core::Provider;
use aimux_core::parsers::SessionFileParser;
use rusqlite::types::ValueRef;
use rusqlite::{Connection, OpenFlags, OptionalExtension, Row};
use serde_json::{Map, Value, json};
use std::io;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Joins a database path and a session id in a reference path.
pub const SESSION_SEPARATOR: char = '#';

/// Lines are handed to the parser in batches of about this many bytes (the parser derives
/// the session after each batch).
const FEED_BATCH: usize = 4 * 1024 * 1024;

pub struct OpencodeSource;

impl ProviderSource for OpencodeSource {
    fn provider(&self) -> Provider {
        Provider::Opencode
    }

    fn data_dir(&self, home: &Path) -> PathBuf {
        home.join(".local").join("share").join("opencode")
    }

    fn session_files(
        &self,
        home: &Path,
        out: &mut Vec<SessionFileRef>,
        warnings: &mut Vec<Warning>,
    ) {
        for db in self.databases(home, warnings) {
            match list_sessions(&db) {
                Ok(ids) => out.extend(ids.iter().map(|id| SessionFileRef {
                    provider: Provider::Opencode,
                    path: session_path(&db, id),
                    format: FileFormat::Jsonl,
                })),
                Err(e) => warnings.push(Warning::io(Provider::Opencode, &db, &e)),
            }
        }
    }
}

impl OpencodeSource {
    /// The session databases under `home`: `opencode.db` and `opencode-<channel>.db`.
    pub fn databases(&self, home: &Path, warnings: &mut Vec<Warning>) -> Vec<PathBuf> {
        let mut dbs: Vec<PathBuf> =
            read_dir_or_warn(Provider::Opencode, &self.data_dir(home), warnings)
                .into_iter()
                .filter(|e| e.file_type().map(|t| t.is_file()).unwrap_or(false))
                .filter(|e| {
                    let name = e.file_name();
                    let name = name.to_string_lossy();
                    name == "opencode.db"
                        || (name.starts_with("opencode-") && name.ends_with(".db"))
                })
                .map(|e| e.path())
                .collect();
        dbs.sort();
        dbs
    }
}

/// The reference path of session `id` in database `db`.
pub fn session_path(db: &Path, id: &str) -> PathBuf {
    let mut s = db.as_os_str().to_owned();
    s.push(SESSION_SEPARATOR.to_string());
    s.push(id);
    PathBuf::from(s)
}

/// Database and session id of a reference path made by [`session_path`].
pub fn split_session_path(path: &Path) -> Option<(PathBuf, String)> {
    let s = path.to_str()?;
    let (db, id) = s.rsplit_once(SESSION_SEPARATOR)?;
    if db.is_empty() || id.is_empty() || id.contains('/') || !db.ends_with(".db") {
        return None;
    }
    Some((PathBuf::from(db), id.to_string()))
}

pub fn is_session_path(path: &Path) -> bool {
    split_session_path(path).is_some()
}

/// What identifies one version of a session: the database's inode, the number of its
/// rows (`size`) and their `time_updated` (`mtime_ns`: the newest, in ms, plus a checksum
/// of all of them below the ms). opencode sets `time_updated` on every write of a row.
pub fn session_identity(path: &Path) -> io::Result<FileIdentity> {
    let (db, id) = split_session_path(path).ok_or_else(not_a_reference)?;
    let inode = inode_of(&db)?;
    let conn = open(&db)?;
    let row = conn
        .query_row(
            "WITH rows(t) AS (
                 SELECT time_updated FROM session WHERE id = ?1
                 UNION ALL SELECT time_updated FROM message WHERE session_id = ?1
                 UNION ALL SELECT time_updated FROM part WHERE session_id = ?1)
             SELECT (SELECT count(*) FROM session WHERE id = ?1),
                    count(*), max(t), sum(t % 999983) FROM rows",
            [&id],
            |r| {
                Ok((
                    int(r, 0).unwrap_or(0),
                    int(r, 1).unwrap_or(0),
                    int(r, 2).unwrap_or(0),
                    int(r, 3).unwrap_or(0),
                ))
            },
        )
        .map_err(sql)?;
    let (found, rows, newest, checksum) = row;
    if found == 0 {
        return Err(io::Error::new(
            io::ErrorKind::NotFound,
            format!("session {id} is not in {}", db.display()),
        ));
    }
    Ok(FileIdentity {
        size: rows.max(0) as u64,
        // Milliseconds of the newest row, plus (below the millisecond) a checksum of every
        // row's time_updated, so that a change to any row shows.
        mtime_ns: newest
            .saturating_mul(1_000_000)
            .saturating_add(checksum.rem_euclid(1_000_000)),
        inode,
    })
}

/// Feeds session `path`'s rows to `parser` (a fresh one: rows are not appended to, so a
/// session is always read whole). Returns the bytes of JSONL fed.
pub fn read_session(path: &Path, parser: &mut SessionFileParser) -> io::Result<u64> {
    let (db, id) = split_session_path(path).ok_or_else(not_a_reference)?;
    let conn = open(&db)?;
    let mut feeder = Feeder {
        parser,
        buf: Vec::new(),
        total: 0,
    };

    let session = conn
        .query_row(
            "SELECT id, project_id, parent_id, slug, directory, title, version,
                    time_created, time_updated
             FROM session WHERE id = ?1",
            [&id],
            |r| {
                Ok(json!({"session": {
                    "id": text(r, 0),
                    "projectID": text(r, 1),
                    "parentID": text(r, 2),
                    "slug": text(r, 3),
                    "directory": text(r, 4),
                    "title": text(r, 5),
                    "version": text(r, 6),
                    "time": {"created": int(r, 7), "updated": int(r, 8)},
                }}))
            },
        )
        .optional()
        .map_err(sql)?;
    let Some(session) = session else {
        return Err(io::Error::new(
            io::ErrorKind::NotFound,
            format!("session {id} is not in {}", db.display()),
        ));
    };
    feeder.line(&session);

    let mut stmt = conn
        .prepare("SELECT id, data FROM message WHERE session_id = ?1 ORDER BY time_created, id")
        .map_err(sql)?;
    let mut rows = stmt.query([&id]).map_err(sql)?;
    while let Some(r) = rows.next().map_err(sql)? {
        let ids = [("id", text(r, 0)), ("sessionID", Some(id.clone()))];
        feeder.line(&wrap("message", text(r, 1), &ids));
    }
    drop(rows);

    let mut stmt = conn
        .prepare(
            "SELECT id, message_id, data FROM part WHERE session_id = ?1 ORDER BY message_id, id",
        )
        .map_err(sql)?;
    let mut rows = stmt.query([&id]).map_err(sql)?;
    while let Some(r) = rows.next().map_err(sql)? {
        let ids = [
            ("id", text(r, 0)),
            ("sessionID", Some(id.clone())),
            ("messageID", text(r, 1)),
        ];
        feeder.line(&wrap("part", text(r, 2), &ids));
    }
    Ok(feeder.finish())
}

/// Parses session `path` from scratch.
pub fn parse_session(path: &Path) -> io::Result<SessionFileParser> {
    let mut parser = SessionFileParser::new(Provider::Opencode);
    read_session(path, &mut parser)?;
    Ok(parser)
}

/// Every session id in `db`, parents before their children.
pub fn list_sessions(db: &Path) -> io::Result<Vec<String>> {
    let conn = open(db)?;
    let mut stmt = conn
        .prepare("SELECT id FROM session ORDER BY parent_id IS NOT NULL, time_created, id")
        .map_err(sql)?;
    let mut rows = stmt.query([]).map_err(sql)?;
    let mut ids = Vec::new();
    while let Some(r) = rows.next().map_err(sql)? {
        if let Some(id) = text(r, 0).filter(|id| !id.is_empty() && !id.contains('/')) {
            ids.push(id);
        }
    }
    Ok(ids)
}

struct Feeder<'a> {
    parser: &'a mut SessionFileParser,
    buf: Vec<u8>,
    total: u64,
}

impl Feeder<'_> {
    fn line(&mut self, v: &Value) {
        // serde_json escapes control characters, so a line never holds a newline.
        if serde_json::to_writer(&mut self.buf, v).is_ok() {
            self.buf.push(b'\n');
        }
        if self.buf.len() >= FEED_BATCH {
            self.flush();
        }
    }

    fn flush(&mut self) {
        self.total += self.buf.len() as u64;
        self.parser.feed(&self.buf);
        self.buf.clear();
    }

    fn finish(mut self) -> u64 {
        self.flush();
        self.total
    }
}

/// `{"<kind>": data + ids}`. Data that is not a JSON object is passed on as a string, which
/// the parser counts as malformed.
fn wrap(kind: &str, data: Option<String>, ids: &[(&str, Option<String>)]) -> Value {
    let data = data.unwrap_or_default();
    let obj = match serde_json::from_str::<Value>(&data) {
        Ok(Value::Object(mut o)) => {
            for (k, v) in ids {
                if let Some(v) = v {
                    o.insert((*k).to_string(), Value::String(v.clone()));
                }
            }
            Value::Object(o)
        }
        _ => Value::String(data),
    };
    let mut m = Map::new();
    m.insert(kind.to_string(), obj);
    Value::Object(m)
}

/// Opens `db` read-only. A WAL database needs its `-shm` file; where it is missing and
/// cannot be created (a read-only directory), the main file alone is read (`immutable`),
/// which misses what is still only in the WAL.
fn open(db: &Path) -> io::Result<Connection> {
    let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let first = Connection::open_with_flags(db, flags).and_then(|c| {
        c.busy_timeout(Duration::from_secs(2))?;
        c.query_row("SELECT count(*) FROM sqlite_master", [], |_| Ok(()))?;
        Ok(c)
    });
    match first {
        Ok(c) => Ok(c),
        Err(e) => {
            if !db.exists() {
                return Err(io::Error::new(io::ErrorKind::NotFound, e.to_string()));
            }
            let uri = format!("file:{}?immutable=1", uri_path(db));
            Connection::open_with_flags(uri, flags | OpenFlags::SQLITE_OPEN_URI)
                .and_then(|c| {
                    c.query_row("SELECT count(*) FROM sqlite_master", [], |_| Ok(()))?;
                    Ok(c)
                })
                .map_err(|_| sql(e))
        }
    }
}

fn uri_path(p: &Path) -> String {
    let mut out = String::new();
    for ch in p.to_string_lossy().chars() {
        match ch {
            '?' | '#' | '%' => out.push_str(&format!("%{:02X}", ch as u32)),
            c => out.push(c),
        }
    }
    out
}

fn inode_of(db: &Path) -> io::Result<u64> {
    let meta = std::fs::metadata(db)?;
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        Ok(meta.ino())
    }
    #[cfg(not(unix))]
    {
        let _ = meta;
        Ok(0)
    }
}

/// A column as text, whatever SQLite stored.
fn text(r: &Row<'_>, i: usize) -> Option<String> {
    match r.get_ref(i).ok()? {
        ValueRef::Text(t) | ValueRef::Blob(t) => Some(String::from_utf8_lossy(t).into_owned()),
        ValueRef::Integer(n) => Some(n.to_string()),
        ValueRef::Real(f) => Some(f.to_string()),
        ValueRef::Null => None,
    }
}

fn int(r: &Row<'_>, i: usize) -> Option<i64> {
    match r.get_ref(i).ok()? {
        ValueRef::Integer(n) => Some(n),
        ValueRef::Real(f) if f.is_finite() => Some(f as i64),
        ValueRef::Text(t) => std::str::from_utf8(t).ok()?.trim().parse().ok(),
        _ => None,
    }
}

fn sql(e: rusqlite::Error) -> io::Error {
    io::Error::other(e.to_string())
}

fn not_a_reference() -> io::Error {
    io::Error::new(
        io::ErrorKind::InvalidInput,
        "not an opencode session reference (<database>#<session id>)",
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reference_paths_round_trip() {
        let db = Path::new("/h/.local/share/opencode/opencode.db");
        let p = session_path(db, "ses_abc");
        assert_eq!(
            p,
            PathBuf::from("/h/.local/share/opencode/opencode.db#ses_abc")
        );
        assert_eq!(
            split_session_path(&p),
            Some((db.to_path_buf(), "ses_abc".to_string()))
        );
        assert_eq!(split_session_path(Path::new("/a/b.jsonl")), None);
        assert_eq!(split_session_path(Path::new("/a/opencode.db#")), None);
        assert_eq!(split_session_path(Path::new("/a/x#y/z")), None);
    }

    #[test]
    fn bad_data_is_passed_on_as_a_string() {
        let v = wrap(
            "part",
            Some("{not json".into()),
            &[("id", Some("p".into()))],
        );
        assert_eq!(v, json!({"part": "{not json"}));
        let v = wrap(
            "part",
            Some(r#"{"type":"text"}"#.into()),
            &[("id", Some("p".into()))],
        );
        assert_eq!(v, json!({"part": {"type": "text", "id": "p"}}));
    }
}
