//! `aimux search`, `aimux trash [list|restore]`, `aimux titles` end to end.

use assert_cmd::Command;
use serde_json::Value;
use std::fs;
use std::path::{Path, PathBuf};

fn repo() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn fixtures_home() -> PathBuf {
    repo().join("tests/fixtures/home")
}

fn copy_dir(from: &Path, to: &Path) {
    fs::create_dir_all(to).expect("mkdir");
    for entry in fs::read_dir(from).expect("read").flatten() {
        let target = to.join(entry.file_name());
        if entry.file_type().expect("type").is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            fs::copy(entry.path(), &target).expect("copy");
        }
    }
}

fn aimux(home: &Path, state: &Path, args: &[&str]) -> std::process::Output {
    Command::cargo_bin("aimux")
        .expect("binary")
        .env("AIMUX_HOME", state)
        .env_remove("GEMINI_API_KEY")
        .env_remove("ANTHROPIC_API_KEY")
        .env_remove("OPENAI_API_KEY")
        .arg("--home")
        .arg(home)
        .args(args)
        .output()
        .expect("run")
}

fn json(home: &Path, state: &Path, args: &[&str]) -> Value {
    let out = aimux(home, state, args);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "aimux {args:?} failed: {stderr}");
    serde_json::from_slice(&out.stdout).expect("json")
}

#[test]
fn search_names_session_and_turn_for_each_provider() {
    let state = tempfile::tempdir().expect("tempdir");
    // From the fixture files: "cannot" is only in the output of each provider's failing
    // `ls nonexistent-aimux-path` (and in the answer quoting it, same turn).
    let want = [
        (
            "claude",
            "0e8d1a7b-dbe2-4976-85f1-6de656cb93c8",
            "42f809f5-56ac-46aa-a83a-514d86824f12",
        ),
        (
            "codex",
            "01a21cc4-c9c4-74c0-8714-3bd0ceae0767",
            "01a21cc4-c9e8-7ef3-b9e3-7d70abb12b93",
        ),
        (
            "gemini",
            "9b6aa1a7-0733-4539-a949-aaa930f8e822",
            "530b26de-f860-4676-8cb1-035668b26812",
        ),
    ];
    for (provider, session, turn_id) in want {
        let v = json(
            &fixtures_home(),
            state.path(),
            &["search", "cannot", "--json", "--provider", provider],
        );
        let hits = v["hits"].as_array().expect("hits");
        assert_eq!(hits.len(), 1, "{provider}: {v}");
        assert_eq!(hits[0]["session"], session);
        assert_eq!(hits[0]["turn_id"], turn_id);
        assert_eq!(hits[0]["turn"], 1);
        assert_eq!(hits[0]["provider"], provider);
    }
    // Text output names session and turn and marks the match.
    let out = aimux(
        &fixtures_home(),
        state.path(),
        &["search", "cannot", "--limit", "5"],
    );
    let text = String::from_utf8_lossy(&out.stdout);
    for (_, session, _) in want {
        assert!(text.contains(session), "{text}");
    }
    assert!(
        text.contains("turn 1") && text.contains("«cannot»"),
        "{text}"
    );
    // --project filters.
    let v = json(
        &fixtures_home(),
        state.path(),
        &["search", "cannot", "--json", "--project", "no-such-project"],
    );
    assert_eq!(v["hits"].as_array().map(Vec::len), Some(0));
}

#[test]
fn query_syntax_errors_exit_2_with_a_message() {
    let state = tempfile::tempdir().expect("tempdir");
    for bad in ["\"unclosed", "OR", "a OR", "---"] {
        let out = aimux(&fixtures_home(), state.path(), &["search", "--", bad]);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{bad}: {stderr}");
        assert!(stderr.contains("search query"), "{stderr}");
        assert!(!stderr.contains("panicked"), "{stderr}");
    }
    let v = aimux(
        &fixtures_home(),
        state.path(),
        &["search", "\"open", "--json"],
    );
    let v: Value = serde_json::from_slice(&v.stdout).expect("json");
    assert!(
        v["error"].as_str().is_some_and(|e| e.contains("quote")),
        "{v}"
    );
}

#[test]
fn trash_then_restore_is_byte_identical() {
    let dir = tempfile::tempdir().expect("tempdir");
    let home = dir.path().join("home");
    copy_dir(&fixtures_home(), &home);
    let state = dir.path().join("state");
    let sessions = json(&home, &state, &["sessions", "--json"]);
    let row = sessions["sessions"]
        .as_array()
        .expect("rows")
        .iter()
        .find(|r| r["provider"] == "codex")
        .expect("a codex session")
        .clone();
    let id = row["id"].as_str().expect("id").to_string();
    let files: Vec<PathBuf> = row["files"]
        .as_array()
        .expect("files")
        .iter()
        .map(|f| PathBuf::from(f.as_str().expect("path")))
        .collect();
    let bytes: Vec<Vec<u8>> = files.iter().map(|f| fs::read(f).expect("read")).collect();

    // Without a terminal and without --yes nothing moves.
    let out = aimux(&home, &state, &["trash", &id]);
    assert!(!out.status.success());
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("--yes"), "{stderr}");
    for f in &files {
        assert!(
            stderr.contains(&f.display().to_string()),
            "names the files: {stderr}"
        );
        assert!(f.exists());
    }

    let out = aimux(&home, &state, &["trash", &id, "--yes"]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for f in &files {
        assert!(!f.exists());
    }
    let list = json(&home, &state, &["trash", "list", "--json"]);
    assert_eq!(list["trash"][0]["session"], id.as_str());
    let sessions = json(&home, &state, &["sessions", "--json"]);
    assert!(
        sessions["sessions"]
            .as_array()
            .expect("rows")
            .iter()
            .all(|r| r["id"] != id.as_str())
    );

    let out = aimux(&home, &state, &["trash", "restore", &id]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    for (f, b) in files.iter().zip(&bytes) {
        assert_eq!(&fs::read(f).expect("restored"), b);
    }
    let sessions = json(&home, &state, &["sessions", "--json"]);
    assert!(
        sessions["sessions"]
            .as_array()
            .expect("rows")
            .iter()
            .any(|r| r["id"] == id.as_str())
    );
}

#[test]
fn sessions_carry_title_sources_and_titles_runs_against_the_model_server() {
    let dir = tempfile::tempdir().expect("tempdir");
    let state = dir.path().join("state");
    let v = json(&fixtures_home(), &state, &["sessions", "--json"]);
    for r in v["sessions"].as_array().expect("rows") {
        let src = r["title_source"].as_str().expect("title_source");
        assert!(["agent", "fallback"].contains(&src), "{r}");
        assert!(r["title"].as_str().is_some_and(|t| !t.is_empty()));
    }
    // Without a key: no request, a note, exit 0.
    let out = aimux(&fixtures_home(), &state, &["titles"]);
    assert!(out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("no key"));

    let Some(python) = std::env::var_os("PATH").and_then(|p| {
        std::env::split_paths(&p)
            .map(|d| d.join("python3"))
            .find(|p| p.is_file())
    }) else {
        println!(
            "SKIPPED sessions_carry_title_sources_and_titles_runs_against_the_model_server: python3 missing"
        );
        return;
    };
    let port_file = dir.path().join("port");
    let record = dir.path().join("record.jsonl");
    let mut child = std::process::Command::new(python)
        .arg(repo().join("testkit/model_server.py"))
        .args(["--port", "0", "--port-file"])
        .arg(&port_file)
        .arg("--record")
        .arg(&record)
        .spawn()
        .expect("server");
    let mut port = String::new();
    for _ in 0..200 {
        port = fs::read_to_string(&port_file).unwrap_or_default();
        if !port.trim().is_empty() {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(25));
    }
    fs::create_dir_all(&state).expect("mkdir");
    fs::write(
        state.join("config.yaml"),
        format!(
            "titles:\n  provider: openai\n  model: m\n  base_url: http://127.0.0.1:{}/v1\n  api_key: k\n  requests_per_minute: 6000\n",
            port.trim()
        ),
    )
    .expect("config");
    let first = json(&fixtures_home(), &state, &["titles", "--json"]);
    let second = json(&fixtures_home(), &state, &["titles", "--json"]);
    let sessions = json(&fixtures_home(), &state, &["sessions", "--json"]);
    let _ = child.kill();
    let _ = child.wait();
    let requests = fs::read_to_string(&record)
        .unwrap_or_default()
        .lines()
        .filter(|l| l.contains("aimux_title"))
        .count();
    let generated = first["report"]["generated"].as_u64().expect("generated");
    assert!(generated > 0, "{first}");
    assert_eq!(requests as u64, generated);
    assert_eq!(second["report"]["requests"], 0);
    assert_eq!(second["report"]["cached"].as_u64(), Some(generated));
    let llm: Vec<&Value> = sessions["sessions"]
        .as_array()
        .expect("rows")
        .iter()
        .filter(|r| r["title_source"] == "llm")
        .collect();
    assert_eq!(llm.len() as u64, generated);
    assert!(TitlesPresent::all(&llm));
}

struct TitlesPresent;
impl TitlesPresent {
    fn all(rows: &[&Value]) -> bool {
        rows.iter().all(|r| {
            r["title"]
                .as_str()
                .is_some_and(|t| !t.is_empty() && !t.starts_with("Title:"))
        })
    }
}
