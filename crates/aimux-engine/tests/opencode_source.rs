//! The opencode source against the database the REAL opencode 1.18.33 wrote
//! (tests/fixtures/opencode/home), checked against the scripted model server's record
//! (expected.json) and against opencode's own `opencode export` of the same sessions.
//!
//! The fixture home is copied to a temporary directory first: opening a WAL database, even
//! read-only, creates its `-shm`/`-wal` files beside it.

use aimux_core::parsers::SessionFileParser;
use aimux_core::{ParsedSession, Provider, TokenUsage};
use aimux_engine::opencode::{
    OpencodeSource, list_sessions, parse_session, read_session, session_identity,
    split_session_path,
};
use aimux_engine::sources::{ProviderSource, all_sources, source_for};
use rusqlite::Connection;
use serde_json::{Value, json};
use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/opencode")
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for e in std::fs::read_dir(from).expect("read fixture dir") {
        let e = e.expect("entry");
        let dest = to.join(e.file_name());
        if e.file_type().expect("file type").is_dir() {
            copy_dir(&e.path(), &dest);
        } else {
            std::fs::copy(e.path(), &dest).expect("copy fixture");
        }
    }
}

/// A temporary copy of the fixture home.
fn home() -> tempfile::TempDir {
    let dir = tempfile::tempdir().expect("tempdir");
    copy_dir(&fixtures().join("home"), dir.path());
    dir
}

fn db_of(home: &Path) -> PathBuf {
    home.join(".local/share/opencode/opencode.db")
}

fn expected() -> Value {
    let text = std::fs::read(fixtures().join("expected.json")).expect("read expected.json");
    serde_json::from_slice(&text).expect("expected.json is JSON")
}

fn expected_sessions() -> Vec<Value> {
    expected()["sessions"]
        .as_array()
        .expect("sessions")
        .to_vec()
}

fn tokens(v: &Value) -> TokenUsage {
    let n = |k: &str| v[k].as_u64().unwrap_or_else(|| panic!("token field {k}"));
    TokenUsage {
        input: n("input"),
        output: n("output"),
        cache_read: n("cache_read"),
        cache_write: n("cache_write"),
    }
}

fn sessions_under(home: &Path) -> (Vec<aimux_engine::sources::SessionFileRef>, usize) {
    let mut files = Vec::new();
    let mut warnings = Vec::new();
    OpencodeSource.session_files(home, &mut files, &mut warnings);
    (files, warnings.len())
}

#[test]
fn the_source_is_registered() {
    assert!(
        all_sources()
            .iter()
            .any(|s| s.provider() == Provider::Opencode)
    );
    assert_eq!(
        source_for(Provider::Opencode).provider(),
        Provider::Opencode
    );
}

#[test]
fn finds_every_fixture_session_under_the_home() {
    let home = home();
    let (files, warnings) = sessions_under(home.path());
    assert_eq!(warnings, 0);
    let found: BTreeSet<String> = files
        .iter()
        .map(|f| {
            assert_eq!(f.provider, Provider::Opencode);
            let (db, id) = split_session_path(&f.path).expect("a session reference");
            assert_eq!(db, db_of(home.path()));
            id
        })
        .collect();
    let want: BTreeSet<String> = expected_sessions()
        .iter()
        .map(|s| s["id"].as_str().expect("id").to_string())
        .collect();
    assert_eq!(found, want);

    // Listing through every registered source finds them too.
    let mut all = Vec::new();
    let mut w = Vec::new();
    for s in all_sources() {
        s.session_files(home.path(), &mut all, &mut w);
    }
    assert_eq!(
        all.iter()
            .filter(|f| f.provider == Provider::Opencode)
            .count(),
        want.len()
    );
}

#[test]
fn sessions_read_from_the_database_match_the_server_record() {
    let home = home();
    let (files, _) = sessions_under(home.path());
    for want in expected_sessions() {
        let id = want["id"].as_str().expect("id");
        let file = files
            .iter()
            .find(|f| f.path.to_string_lossy().ends_with(id))
            .unwrap_or_else(|| panic!("{id} not listed"));
        let p = parse_session(&file.path).expect("read session");
        assert_eq!(p.stats.skipped(), 0, "{id}: {:?}", p.stats);
        let s = p.session();
        assert_eq!(s.id.as_deref(), Some(id));
        let turns = want["turns"].as_array().expect("turns");
        assert_eq!(s.turns.len(), turns.len(), "{id}");
        for (t, w) in s.turns.iter().zip(turns) {
            let label = w["label"].as_str().unwrap_or("?");
            assert_eq!(t.user, w["user"].as_str().expect("user"), "{label}");
            assert_eq!(t.tokens, tokens(&w["tokens"]), "{label}: tokens");
            let calls = w["tool_calls"].as_array().expect("calls");
            let got: Vec<(&str, Option<bool>)> =
                t.tools.iter().map(|c| (c.id.as_str(), c.success)).collect();
            let exp: Vec<(&str, Option<bool>)> = calls
                .iter()
                .map(|c| {
                    (
                        c["id"].as_str().expect("id"),
                        Some(!c["designed_to_fail"].as_bool().expect("flag")),
                    )
                })
                .collect();
            assert_eq!(got, exp, "{label}: tool calls");
        }
        assert_eq!(s.tokens(), tokens(&want["tokens"]), "{id}: total");
        assert!(s.tail.turn_complete);
    }
}

/// `{"session"}`, `{"message"}`, `{"part"}` lines from an `opencode export` document.
fn export_lines(id: &str) -> Vec<u8> {
    let path = fixtures().join("export").join(format!("{id}.json"));
    let export: Value =
        serde_json::from_slice(&std::fs::read(path).expect("read export")).expect("export is JSON");
    let mut out = Vec::new();
    let mut push = |v: Value| {
        out.extend_from_slice(v.to_string().as_bytes());
        out.push(b'\n');
    };
    push(json!({"session": export["info"]}));
    for m in export["messages"].as_array().expect("messages") {
        push(json!({"message": m["info"]}));
        for p in m["parts"].as_array().expect("parts") {
            push(json!({"part": p}));
        }
    }
    out
}

#[test]
fn the_database_and_opencode_export_give_the_same_session() {
    let home = home();
    for want in expected_sessions() {
        let id = want["id"].as_str().expect("id");
        let from_db = parse_session(&aimux_engine::opencode::session_path(
            &db_of(home.path()),
            id,
        ))
        .expect("read session");
        let mut from_export = SessionFileParser::new(Provider::Opencode);
        from_export.feed(&export_lines(id));
        assert_eq!(from_db.session(), from_export.session(), "{id}");
    }
}

#[test]
fn identity_changes_when_the_session_changes_and_only_then() {
    let home = home();
    let db = db_of(home.path());
    let sessions = expected_sessions();
    let (a, b) = (
        sessions[0]["id"].as_str().expect("id"),
        sessions[1]["id"].as_str().expect("id"),
    );
    let pa = aimux_engine::opencode::session_path(&db, a);
    let pb = aimux_engine::opencode::session_path(&db, b);
    let (ia, ib) = (
        session_identity(&pa).expect("identity"),
        session_identity(&pb).expect("identity"),
    );
    assert_eq!(session_identity(&pa).expect("identity"), ia, "stable");

    // opencode rewrites a part in place while it streams: a newer time_updated.
    let conn = Connection::open(&db).expect("open copy");
    let changed = conn
        .execute(
            "UPDATE part SET data = json_set(data, '$.text', 'rewritten answer'),
                             time_updated = time_updated + 1000
             WHERE id = (SELECT p.id FROM part p JOIN message m ON m.id = p.message_id
                         WHERE p.session_id = ?1 AND json_extract(p.data, '$.type') = 'text'
                           AND json_extract(m.data, '$.role') = 'assistant' LIMIT 1)",
            [a],
        )
        .expect("update");
    assert_eq!(changed, 1);
    drop(conn);
    assert_ne!(session_identity(&pa).expect("identity"), ia);
    assert_eq!(
        session_identity(&pb).expect("identity"),
        ib,
        "other sessions"
    );
    let p = parse_session(&pa).expect("read");
    assert!(p.session().turns[0].output.contains("rewritten answer"));

    // Any row's time_updated, not only the newest one, changes the identity.
    let before = session_identity(&pb).expect("identity");
    let conn = Connection::open(&db).expect("open copy");
    let n = conn
        .execute(
            "UPDATE part SET time_updated = time_updated + 5
             WHERE id = (SELECT id FROM part WHERE session_id = ?1 ORDER BY time_updated LIMIT 1)",
            [b],
        )
        .expect("update");
    assert_eq!(n, 1);
    drop(conn);
    assert_ne!(session_identity(&pb).expect("identity"), before);

    // A session gone from the database is an error, not a panic.
    let gone = aimux_engine::opencode::session_path(&db, "ses_not_there");
    assert!(session_identity(&gone).is_err());
    assert!(parse_session(&gone).is_err());
}

#[test]
fn corrupt_rows_are_counted_and_the_rest_is_read() {
    let home = home();
    let db = db_of(home.path());
    let want = &expected_sessions()[1];
    let id = want["id"].as_str().expect("id");
    let conn = Connection::open(&db).expect("open copy");
    // A step-start part carries nothing aimux counts: breaking it must cost nothing else.
    let n = conn
        .execute(
            "UPDATE part SET data = '{\"type\": \"step-sta'
             WHERE id = (SELECT id FROM part WHERE session_id = ?1
                         AND json_extract(data, '$.type') = 'step-start' LIMIT 1)",
            [id],
        )
        .expect("corrupt");
    assert_eq!(n, 1);
    drop(conn);
    let p = parse_session(&aimux_engine::opencode::session_path(&db, id)).expect("read");
    assert_eq!(p.stats.malformed, 1);
    assert_eq!(p.session().tokens(), tokens(&want["tokens"]));
}

#[test]
fn a_child_session_parses_under_its_parent() {
    let home = home();
    let db = db_of(home.path());
    let parent = expected_sessions()[0]["id"]
        .as_str()
        .expect("id")
        .to_string();
    let conn = Connection::open(&db).expect("open copy");
    conn.execute_batch(&format!(
        "INSERT INTO session (id, project_id, parent_id, slug, directory, title, version,
                              time_created, time_updated)
           SELECT 'ses_child', project_id, '{parent}', 'child', directory,
                  'Child session - 2026-11-27T11:20:00.000Z', version,
                  time_created + 10, time_updated + 10
           FROM session WHERE id = '{parent}';
         INSERT INTO message (id, session_id, time_created, time_updated, data) VALUES
           ('msg_c1', 'ses_child', 1, 1, '{{\"role\":\"user\",\"time\":{{\"created\":1}}}}'),
           ('msg_c2', 'ses_child', 2, 3, '{{\"role\":\"assistant\",\"parentID\":\"msg_c1\",
              \"modelID\":\"m\",\"finish\":\"stop\",\"time\":{{\"created\":2,\"completed\":3}},
              \"tokens\":{{\"input\":5,\"output\":6,\"reasoning\":1,\"cache\":{{\"read\":2,\"write\":0}}}}}}');
         INSERT INTO part (id, message_id, session_id, time_created, time_updated, data) VALUES
           ('prt_c1', 'msg_c1', 'ses_child', 1, 1, '{{\"type\":\"text\",\"text\":\"sub task\"}}');"
    ))
    .expect("insert child");
    drop(conn);
    let ids = list_sessions(&db).expect("list");
    assert_eq!(ids.last().map(String::as_str), Some("ses_child"));
    let p =
        parse_session(&aimux_engine::opencode::session_path(&db, "ses_child")).expect("read child");
    let s: &ParsedSession = p.session();
    assert_eq!(s.id.as_deref(), Some(parent.as_str()));
    assert!(s.turns.is_empty());
    assert_eq!(s.subagents.len(), 1);
    assert_eq!(s.subagents[0].id, "ses_child");
    assert_eq!(s.subagents[0].turns[0].user, "sub task");
    assert_eq!(s.tokens().output, 7);
}

#[test]
fn missing_or_broken_databases_are_warnings_not_errors() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (files, warnings) = sessions_under(dir.path());
    assert!(files.is_empty());
    assert_eq!(warnings, 0, "no opencode data is normal");

    let data = dir.path().join(".local/share/opencode");
    std::fs::create_dir_all(&data).expect("mkdir");
    std::fs::write(data.join("opencode.db"), b"this is not a database").expect("write");
    std::fs::write(data.join("opencode.db-wal"), b"").expect("write");
    let (files, warnings) = sessions_under(dir.path());
    assert!(files.is_empty());
    assert_eq!(warnings, 1);
    assert!(
        read_session(
            &data.join("opencode.db#ses_x"),
            &mut SessionFileParser::new(Provider::Opencode)
        )
        .is_err()
    );
    assert!(
        read_session(
            Path::new("/no/such/file.jsonl"),
            &mut SessionFileParser::new(Provider::Opencode)
        )
        .is_err()
    );
}
