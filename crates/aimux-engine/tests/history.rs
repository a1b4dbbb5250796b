//! History: full-text search (incremental), trash/restore, model titles against the
//! project's scripted model server.

use aimux_core::Provider;
use aimux_core::pricing::PriceTable;
use aimux_engine::catalog::{self, SessionRow};
use aimux_engine::index::Index;
use aimux_engine::scan::scan;
use aimux_engine::search::{self, SearchOptions};
use aimux_engine::titles::{self, TitleApi, TitleCache, TitleSource, TitlesConfig};
use aimux_engine::trash;
use std::fs;
use std::io::Write;
use std::path::{Path, PathBuf};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn fixtures_home() -> PathBuf {
    repo().join("tests/fixtures/home")
}

fn copy_dir(from: &Path, to: &Path) {
    fs::create_dir_all(to).expect("mkdir");
    for entry in fs::read_dir(from).expect("fixtures exist") {
        let entry = entry.expect("entry");
        let target = to.join(entry.file_name());
        if entry.file_type().expect("type").is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            fs::copy(entry.path(), &target).expect("copy");
        }
    }
}

fn scratch_home() -> (tempfile::TempDir, PathBuf) {
    let dir = tempfile::tempdir().expect("tempdir");
    let home = dir.path().join("home");
    copy_dir(&fixtures_home(), &home);
    (dir, home)
}

fn opts(provider: Option<Provider>) -> SearchOptions {
    SearchOptions {
        provider,
        project: None,
        limit: 50,
    }
}

// Read from the fixture files: the `ls nonexistent-aimux-path` failure of each
// provider's tool-fail session is the only tool output holding the word "cannot"
// (the scripted answer after it quotes it, in the same turn).
const CANNOT: [(Provider, &str, &str); 3] = [
    (
        Provider::Claude,
        "0e8d1a7b-dbe2-4976-85f1-6de656cb93c8",
        "42f809f5-56ac-46aa-a83a-514d86824f12",
    ),
    (
        Provider::Codex,
        "01a21cc4-c9c4-74c0-8714-3bd0ceae0767",
        "01a21cc4-c9e8-7ef3-b9e3-7d70abb12b93",
    ),
    (
        Provider::Gemini,
        "9b6aa1a7-0733-4539-a949-aaa930f8e822",
        "530b26de-f860-4676-8cb1-035668b26812",
    ),
];

#[test]
fn a_word_from_one_tool_output_names_its_session_and_turn() {
    let mut index = Index::open_in_memory().expect("index");
    scan(&fixtures_home(), &mut index, None).expect("scan");
    for (provider, session, turn_id) in CANNOT {
        let hits = search::search(&index, "cannot", &opts(Some(provider))).expect("search");
        assert_eq!(hits.len(), 1, "{provider}: {hits:#?}");
        let h = &hits[0];
        assert_eq!(h.session, session, "{provider}");
        assert_eq!(h.turn_id, turn_id, "{provider}");
        assert_eq!(h.turn, 1, "{provider}");
        assert!(
            h.highlights
                .iter()
                .any(|&(s, e)| h.snippet[s..e].eq_ignore_ascii_case("cannot")),
            "{h:?}"
        );
    }
    // All providers together: the same three turns.
    let all = search::search(&index, "cannot", &opts(None)).expect("search");
    let mut got: Vec<&str> = all.iter().map(|h| h.session.as_str()).collect();
    got.sort();
    let mut want: Vec<&str> = CANNOT.iter().map(|c| c.1).collect();
    want.sort();
    assert_eq!(got, want);
}

#[test]
fn tool_output_text_is_indexed_as_tool_output() {
    let mut index = Index::open_in_memory().expect("index");
    scan(&fixtures_home(), &mut index, None).expect("scan");
    // "nonexistent-aimux-path" is in the tool input, the tool output and the answer; a
    // phrase only the shell's error message has must still be found.
    let hits = search::search(
        &index,
        "\"no such file or directory\"",
        &opts(Some(Provider::Codex)),
    )
    .expect("search");
    assert_eq!(hits.len(), 1);
    assert_eq!(hits[0].session, CANNOT[1].1);
    // Prefix search.
    let hits = search::search(&index, "nonexist*", &opts(Some(Provider::Gemini))).expect("search");
    assert_eq!(hits.len(), 1);
    assert_eq!(hits[0].session, CANNOT[2].1);
}

#[test]
fn query_syntax_errors_are_messages() {
    let mut index = Index::open_in_memory().expect("index");
    scan(&fixtures_home(), &mut index, None).expect("scan");
    for bad in ["\"unclosed", "", "OR", "cannot OR", "NOT x", "((("] {
        match search::search(&index, bad, &opts(None)) {
            Err(search::SearchError::Query(e)) => assert!(!e.0.is_empty()),
            other => panic!("{bad:?}: {other:?}"),
        }
    }
    // Punctuation that FTS5 would reject unquoted is just text.
    for odd in [
        "ls -la",
        "a:b",
        "(cannot)",
        "main.py*",
        "^cannot",
        "col:cannot",
        "NEAR(a b)",
    ] {
        assert!(search::search(&index, odd, &opts(None)).is_ok(), "{odd}");
    }
}

fn claude_text_session(home: &Path) -> PathBuf {
    home.join(".claude/projects/-tmp-aimux-fixtures-zio0z1wp-aimux-fixture-proj/e7da6679-b1f8-4856-9d8d-8fe9aa9e659c.jsonl")
}

/// A user prompt and an assistant answer in Claude Code's format, cloned from the
/// session's own first user / assistant records.
fn claude_turn(file: &Path, n: usize, prompt: &str, answer: &str) -> String {
    let text = fs::read_to_string(file).expect("read");
    let mut user: Option<serde_json::Value> = None;
    let mut assistant: Option<serde_json::Value> = None;
    for line in text.lines() {
        let v: serde_json::Value = serde_json::from_str(line).expect("json");
        match v["type"].as_str() {
            Some("user") if user.is_none() => user = Some(v),
            Some("assistant") if assistant.is_none() => assistant = Some(v),
            _ => {}
        }
    }
    let mut user = user.expect("user record");
    let mut assistant = assistant.expect("assistant record");
    let uid = format!("00000000-0000-4000-8000-{n:012}");
    let aid = format!("00000000-0000-4000-9000-{n:012}");
    user["uuid"] = uid.clone().into();
    user["parentUuid"] = serde_json::Value::Null;
    user["promptId"] = format!("prompt-{n}").into();
    user["timestamp"] = format!("2026-11-27T12:{n:02}:00.000Z").into();
    user["message"]["content"] = prompt.into();
    assistant["uuid"] = aid.into();
    assistant["parentUuid"] = uid.into();
    assistant["timestamp"] = format!("2026-11-27T12:{n:02}:05.000Z").into();
    assistant["message"]["id"] = format!("msg_appended_{n}").into();
    assistant["message"]["content"] = serde_json::json!([{"type": "text", "text": answer}]);
    format!("{user}\n{assistant}\n")
}

fn append(file: &Path, text: &str) {
    let mut f = fs::OpenOptions::new()
        .append(true)
        .open(file)
        .expect("open");
    f.write_all(text.as_bytes()).expect("append");
}

#[test]
fn appended_turns_become_searchable_without_reindexing_others() {
    let (_guard, home) = scratch_home();
    let mut index = Index::open_in_memory().expect("index");
    scan(&home, &mut index, None).expect("scan");
    assert!(
        search::search(&index, "zebracorn", &opts(None))
            .expect("search")
            .is_empty()
    );
    let before = search::stats(&index).expect("stats");

    let file = claude_text_session(&home);
    // A long prompt whose unique word sits past the length the resume state keeps.
    let long = format!("zebracorn {} tailword", "filler ".repeat(600));
    append(
        &file,
        &claude_turn(&file, 1, &long, "ultraviolet marmalade answer"),
    );
    let report = scan(&home, &mut index, None).expect("scan");
    assert_eq!((report.resumed, report.parsed), (1, 0), "{report:?}");
    let after = search::stats(&index).expect("stats");
    // Exactly the new prompt and answer were written; nothing else was re-indexed.
    assert_eq!(after.pieces, before.pieces + 2);
    assert_eq!(after.max_rowid, before.max_rowid + 2);
    for word in ["zebracorn", "tailword", "marmalade"] {
        let hits = search::search(&index, word, &opts(None)).expect("search");
        assert_eq!(hits.len(), 1, "{word}");
        assert_eq!(hits[0].session, "e7da6679-b1f8-4856-9d8d-8fe9aa9e659c");
        assert_eq!(hits[0].turn, 2, "{word}");
    }

    // Another turn: the resumed parser now holds the long prompt cut short; its full
    // text stays searchable and is not written again.
    append(
        &file,
        &claude_turn(&file, 2, "quasar question", "quasar answer"),
    );
    let report = scan(&home, &mut index, None).expect("scan");
    assert_eq!(report.resumed, 1);
    let third = search::stats(&index).expect("stats");
    assert_eq!(third.max_rowid, after.max_rowid + 2);
    let hits = search::search(&index, "tailword", &opts(None)).expect("search");
    assert_eq!(hits.len(), 1);
    let hits = search::search(&index, "quasar", &opts(None)).expect("search");
    assert_eq!(hits.len(), 1);
    assert_eq!(hits[0].turn, 3);

    // A removed file leaves the search index.
    fs::remove_file(&file).expect("rm");
    scan(&home, &mut index, None).expect("scan");
    assert!(
        search::search(&index, "quasar", &opts(None))
            .expect("search")
            .is_empty()
    );
}

#[test]
fn an_existing_index_without_search_tables_is_backfilled() {
    let (guard, home) = scratch_home();
    let db = guard.path().join("index.sqlite");
    {
        let mut index = Index::open(&db).expect("index");
        scan(&home, &mut index, None).expect("scan");
    }
    {
        let conn = rusqlite::Connection::open(&db).expect("open");
        conn.execute_batch(
            "DROP TRIGGER search_forget_file; DROP TABLE search_fts; DROP TABLE search_pieces;",
        )
        .expect("drop");
    }
    let mut index = Index::open(&db).expect("index");
    scan(&home, &mut index, None).expect("scan");
    let hits = search::search(&index, "cannot", &opts(None)).expect("search");
    assert_eq!(hits.len(), 3);
}

fn sessions(index: &Index, home: &Path) -> Vec<SessionRow> {
    let mut w = Vec::new();
    catalog::sessions(index, home, &PriceTable::default(), &mut w).expect("sessions")
}

#[test]
fn trash_moves_files_and_restore_puts_them_back_byte_identical() {
    let (guard, home) = scratch_home();
    let aimux_home = guard.path().join("aimux");
    let mut index = Index::open_in_memory().expect("index");
    scan(&home, &mut index, None).expect("scan");
    let rows = sessions(&index, &home);
    // A Gemini session spread over several files (resume stubs) if there is one.
    let row = rows
        .iter()
        .max_by_key(|r| (r.files.len(), r.id.clone()))
        .expect("rows")
        .clone();
    let originals: Vec<(PathBuf, Vec<u8>)> = row
        .files
        .iter()
        .map(|f| (PathBuf::from(f), fs::read(f).expect("read")))
        .collect();
    // A session that is a row of a shared database is refused, nothing moves.
    let mut db_row = row.clone();
    db_row.files = vec![format!("{}#ses_1", row.files[0])];
    assert!(trash::trash_session(&aimux_home, &db_row).is_err());
    assert!(PathBuf::from(&row.files[0]).exists());
    let entry = trash::trash_session(&aimux_home, &row).expect("trash");
    assert_eq!(entry.files.len(), originals.len());
    for (p, _) in &originals {
        assert!(!p.exists(), "{} still there", p.display());
    }
    let listed = trash::list(&aimux_home);
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].session, row.id);
    // The session leaves the index on the next scan.
    scan(&home, &mut index, None).expect("scan");
    assert!(sessions(&index, &home).iter().all(|r| r.id != row.id));

    // Restore refuses to overwrite a file that came back meanwhile.
    let (first, _) = &originals[0];
    fs::write(first, b"someone else").expect("write");
    let err = trash::restore(&aimux_home, &row.id[..8]).expect_err("must refuse");
    assert!(err.to_string().contains("overwrite"), "{err}");
    assert_eq!(fs::read(first).expect("read"), b"someone else");
    fs::remove_file(first).expect("rm");

    trash::restore(&aimux_home, &row.id[..8]).expect("restore");
    for (p, bytes) in &originals {
        assert_eq!(&fs::read(p).expect("restored"), bytes, "{}", p.display());
    }
    assert!(trash::list(&aimux_home).is_empty());
    scan(&home, &mut index, None).expect("scan");
    assert!(sessions(&index, &home).iter().any(|r| r.id == row.id));
}

// ---- titles against testkit/model_server.py ----------------------------------------

struct Server {
    child: std::process::Child,
    port: u16,
    record: PathBuf,
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn start_server(dir: &Path) -> Option<Server> {
    let python = which("python3")?;
    let port_file = dir.join("port");
    let record = dir.join("record.jsonl");
    let child = std::process::Command::new(python)
        .arg(repo().join("testkit/model_server.py"))
        .args(["--port", "0", "--port-file"])
        .arg(&port_file)
        .arg("--record")
        .arg(&record)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .ok()?;
    let mut server = Server {
        child,
        port: 0,
        record,
    };
    for _ in 0..200 {
        if let Ok(p) = fs::read_to_string(&port_file)
            && let Ok(port) = p.trim().parse()
        {
            server.port = port;
            return Some(server);
        }
        std::thread::sleep(std::time::Duration::from_millis(25));
    }
    None
}

fn which(name: &str) -> Option<PathBuf> {
    std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|d| d.join(name))
            .find(|p| p.is_file())
    })
}

fn title_requests(record: &Path) -> Vec<serde_json::Value> {
    fs::read_to_string(record)
        .unwrap_or_default()
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .filter(|v| v["aux_kind"] == "aimux_title")
        .collect()
}

fn config(api: TitleApi, base: String) -> TitlesConfig {
    TitlesConfig {
        api,
        model: Some("title-model".into()),
        base_url: Some(base),
        api_key: Some("test-key".into()),
        requests_per_minute: 6000,
        max_failures: 3,
        enabled: true,
    }
}

#[test]
fn titles_in_all_three_dialects_are_generated_and_cached() {
    let dir = tempfile::tempdir().expect("tempdir");
    let Some(server) = start_server(dir.path()) else {
        println!("SKIPPED titles_in_all_three_dialects_are_generated_and_cached: python3 missing");
        return;
    };
    let mut index = Index::open_in_memory().expect("index");
    scan(&fixtures_home(), &mut index, None).expect("scan");
    let base = format!("http://127.0.0.1:{}", server.port);
    for (api, base_url) in [
        (TitleApi::Gemini, base.clone()),
        (TitleApi::Anthropic, base.clone()),
        (TitleApi::Openai, format!("{base}/v1")),
    ] {
        let aimux_home = dir.path().join(format!("home-{api:?}"));
        let cfg = config(api, base_url);
        let before = title_requests(&server.record).len();
        let mut rows = sessions(&index, &fixtures_home());
        let needing = rows
            .iter()
            .filter(|r| r.title.as_deref().is_none_or(str::is_empty))
            .count();
        assert!(needing > 0, "fixtures have sessions without an agent title");
        let mut cache = TitleCache::load(&aimux_home);
        let report = titles::generate(&mut rows, &cfg, &mut cache, &index, false, &mut |_, _| {});
        assert_eq!(report.generated, needing, "{api:?}: {report:?}");
        assert_eq!(report.failed, 0);
        let sent = title_requests(&server.record);
        assert_eq!(sent.len() - before, needing, "{api:?}");
        // The server answers "Title: " + the first four words of prompt 1.
        for r in rows
            .iter()
            .filter(|r| r.title_source == Some(TitleSource::Llm))
        {
            let prompt = titles::opening_prompts(&index, &r.files, 1);
            let words: Vec<String> = prompt[0]
                .split(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
                .filter(|w| !w.is_empty())
                .take(4)
                .map(str::to_string)
                .collect();
            assert_eq!(
                r.title.as_deref(),
                Some(words.join(" ").as_str()),
                "{api:?}"
            );
        }
        // Second run: everything from the cache, no request.
        let mut rows = sessions(&index, &fixtures_home());
        let mut cache = TitleCache::load(&aimux_home);
        let report = titles::generate(&mut rows, &cfg, &mut cache, &index, false, &mut |_, _| {});
        assert_eq!((report.generated, report.requests), (0, 0), "{api:?}");
        assert_eq!(report.cached, needing);
        assert_eq!(title_requests(&server.record).len(), sent.len(), "{api:?}");
        // --regenerate asks again for every model-titled session (agent titles stay).
        let mut rows = sessions(&index, &fixtures_home());
        let report = titles::generate(&mut rows, &cfg, &mut cache, &index, true, &mut |_, _| {});
        assert_eq!(report.generated, needing, "{api:?}: {report:?}");
        assert_eq!(title_requests(&server.record).len(), sent.len() + needing);
        // The catalog's rows pick the cached titles up.
        let mut rows = sessions(&index, &fixtures_home());
        titles::apply_titles(&mut rows, &TitleCache::load(&aimux_home), &index);
        assert_eq!(
            rows.iter()
                .filter(|r| r.title_source == Some(TitleSource::Llm))
                .count(),
            needing
        );
        assert!(
            rows.iter()
                .all(|r| r.title.as_deref().is_some_and(|t| !t.is_empty()))
        );
    }
    // Each dialect reached its own endpoint.
    let dialects: std::collections::BTreeSet<String> = title_requests(&server.record)
        .iter()
        .filter_map(|v| v["dialect"].as_str().map(str::to_string))
        .collect();
    assert_eq!(
        dialects.into_iter().collect::<Vec<_>>(),
        ["anthropic", "chat_completions", "gemini"]
    );
}

#[test]
fn a_failing_server_leaves_the_fallback_title_and_no_key_sends_nothing() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut index = Index::open_in_memory().expect("index");
    scan(&fixtures_home(), &mut index, None).expect("scan");
    // A port nobody listens on.
    let closed = std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("port");
    let aimux_home = dir.path().join("aimux");
    let mut rows = sessions(&index, &fixtures_home());
    let mut cache = TitleCache::load(&aimux_home);
    let cfg = config(TitleApi::Anthropic, format!("http://127.0.0.1:{closed}"));
    let report = titles::generate(&mut rows, &cfg, &mut cache, &index, false, &mut |_, _| {});
    assert_eq!(report.generated, 0);
    assert_eq!(report.failed, 3, "gives up after max_failures: {report:?}");
    titles::apply_titles(&mut rows, &cache, &index);
    for r in &rows {
        let t = r.title.as_deref().unwrap_or("");
        assert!(!t.is_empty());
        if r.title_source == Some(TitleSource::Fallback) {
            assert!(t.starts_with("aimux-fixture-proj: "), "{t}");
        }
    }
    assert!(
        rows.iter()
            .any(|r| r.title_source == Some(TitleSource::Fallback))
    );
    assert!(!TitleCache::path_in(&aimux_home).exists() || TitleCache::load(&aimux_home).is_empty());

    // No key: nothing is sent even with a live server.
    let Some(server) = start_server(dir.path()) else {
        println!("SKIPPED a_failing_server_leaves_the_fallback_title: python3 missing");
        return;
    };
    let mut cfg = config(
        TitleApi::Gemini,
        format!("http://127.0.0.1:{}", server.port),
    );
    cfg.api_key = None;
    // SAFETY-free: tests in this binary do not read GEMINI_API_KEY elsewhere.
    if std::env::var_os("GEMINI_API_KEY").is_some() {
        println!("SKIPPED no-key half: GEMINI_API_KEY is set in the environment");
        return;
    }
    let mut rows = sessions(&index, &fixtures_home());
    let report = titles::generate(&mut rows, &cfg, &mut cache, &index, false, &mut |_, _| {});
    assert_eq!(report.requests, 0);
    assert!(report.note.is_some());
    assert!(title_requests(&server.record).is_empty());
}
