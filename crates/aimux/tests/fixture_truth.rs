//! aimux's numbers against the scripted model server's own record of what it reported.
//!
//! `tests/fixtures/home` was written by the real Claude Code, Codex and Gemini CLIs talking
//! to `testkit/model_server.py`; `tests/fixtures/expected/sessions.json` is computed from
//! the server's request log only. The live test regenerates both with `scripts/gen-fixtures`
//! (scenarios run fresh, so not the ones committed) when the real CLIs are installed.

use assert_cmd::Command;
use serde_json::Value;
use std::path::{Path, PathBuf};

fn workspace() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn aimux_sessions(home: &Path) -> Value {
    let state = tempfile::tempdir().expect("tempdir");
    let out = Command::cargo_bin("aimux")
        .expect("binary")
        .env("AIMUX_HOME", state.path())
        .args(["--home"])
        .arg(home)
        .args(["sessions", "--json"])
        .output()
        .expect("run aimux");
    assert!(
        out.status.success(),
        "aimux failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    serde_json::from_slice(&out.stdout).expect("json output")
}

fn expected_sessions(dir: &Path) -> Vec<Value> {
    let text = std::fs::read_to_string(dir.join("expected/sessions.json"))
        .expect("expected/sessions.json");
    let v: Value = serde_json::from_str(&text).expect("expected json");
    match v {
        Value::Array(items) => items,
        Value::Object(mut o) => match o.remove("sessions") {
            Some(Value::Array(items)) => items,
            _ => panic!("expected/sessions.json has no sessions list"),
        },
        _ => panic!("expected/sessions.json is not a list"),
    }
}

/// Compares every expected session with aimux's row for it; returns the mismatches.
fn compare(fixture_dir: &Path) -> Vec<String> {
    let got = aimux_sessions(&fixture_dir.join("home"));
    let rows = got["sessions"].as_array().expect("sessions array").clone();
    let expected = expected_sessions(fixture_dir);
    assert!(!expected.is_empty(), "no expected sessions");
    let mut problems = Vec::new();
    for want in &expected {
        let id = want["session_id"].as_str().expect("session_id");
        let provider = want["provider"].as_str().expect("provider");
        let Some(row) = rows
            .iter()
            .find(|r| r["id"] == id && r["provider"] == provider)
        else {
            problems.push(format!("{provider} session {id} not listed by aimux"));
            continue;
        };
        for field in ["turns", "tool_calls", "failed_tool_calls"] {
            if row[field] != want[field] {
                problems.push(format!(
                    "{provider} {id}: {field} aimux={} server={}",
                    row[field], want[field]
                ));
            }
        }
        for cat in ["input", "output", "cache_read", "cache_write"] {
            if row["tokens"][cat] != want["tokens"][cat] {
                problems.push(format!(
                    "{provider} {id}: tokens.{cat} aimux={} server={}",
                    row["tokens"][cat], want["tokens"][cat]
                ));
            }
        }
    }
    for provider in ["claude", "codex", "gemini"] {
        let listed = rows.iter().filter(|r| r["provider"] == provider).count();
        let wanted = expected
            .iter()
            .filter(|w| w["provider"] == provider)
            .count();
        if listed != wanted {
            problems.push(format!(
                "{provider}: aimux lists {listed} sessions, the server saw {wanted}"
            ));
        }
    }
    problems
}

#[test]
fn committed_fixtures_match_the_server_record() {
    let problems = compare(&workspace().join("tests/fixtures"));
    assert!(problems.is_empty(), "mismatches:\n{}", problems.join("\n"));
}

#[test]
fn freshly_generated_sessions_match_the_server_record() {
    let prefix = std::env::var("AIMUX_AGENTS_PREFIX")
        .map(PathBuf::from)
        .unwrap_or_else(|_| {
            PathBuf::from(std::env::var("HOME").unwrap_or_default()).join(".cache/aimux-agents")
        });
    let bins = ["claude", "codex", "gemini"].map(|b| prefix.join("node_modules/.bin").join(b));
    if let Some(missing) = bins.iter().find(|b| !b.exists()) {
        eprintln!(
            "SKIPPED freshly_generated_sessions_match_the_server_record: {} is not installed (run scripts/install-agents)",
            missing.display()
        );
        return;
    }
    let out = tempfile::tempdir().expect("tempdir");
    let status = std::process::Command::new(workspace().join("scripts/gen-fixtures"))
        .arg("--out")
        .arg(out.path())
        .status()
        .expect("run scripts/gen-fixtures");
    assert!(status.success(), "scripts/gen-fixtures failed");
    let problems = compare(out.path());
    assert!(problems.is_empty(), "mismatches:\n{}", problems.join("\n"));
}

/// The fourth provider, opencode, through the same CLI: its sessions (rows of opencode's
/// SQLite database, written by the real opencode CLI) against its server record.
#[test]
fn opencode_fixtures_match_the_server_record() {
    let dir = workspace().join("tests/fixtures/opencode");
    let got = aimux_sessions(&dir.join("home"));
    let rows = got["sessions"].as_array().expect("sessions");
    let text = std::fs::read_to_string(dir.join("expected.json")).expect("expected.json");
    let expected: Value = serde_json::from_str(&text).expect("json");
    let expected = expected["sessions"].as_array().expect("expected sessions");
    assert_eq!(rows.len(), expected.len());
    for want in expected {
        let id = want["id"].as_str().expect("id");
        let row = rows
            .iter()
            .find(|r| r["id"] == id)
            .unwrap_or_else(|| panic!("{id} not listed"));
        assert_eq!(row["provider"], "opencode");
        let turns = want["turns"].as_array().expect("turns");
        assert_eq!(row["turns"].as_u64(), Some(turns.len() as u64), "{id}");
        let tools: usize = turns
            .iter()
            .map(|t| t["tool_calls"].as_array().map_or(0, Vec::len))
            .sum();
        assert_eq!(row["tool_calls"].as_u64(), Some(tools as u64), "{id}");
        for cat in ["input", "output", "cache_read", "cache_write"] {
            assert_eq!(row["tokens"][cat], want["tokens"][cat], "{id} tokens.{cat}");
        }
    }
}
