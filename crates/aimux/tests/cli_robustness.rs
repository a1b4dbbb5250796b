//! Bad input never panics: truncated lines, binary junk, empty files, a 50 MB single line,
//! unknown record types and unreadable directories give warnings, and the rest still lists.

use assert_cmd::Command;
use serde_json::Value;
use std::fs;
use std::path::{Path, PathBuf};

fn fixtures_home() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/home")
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

fn run_json(home: &Path, state: &Path, args: &[&str]) -> Value {
    let out = Command::cargo_bin("aimux")
        .expect("binary")
        .env("AIMUX_HOME", state)
        .arg("--home")
        .arg(home)
        .args(args)
        .output()
        .expect("run");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "aimux {args:?} failed: {stderr}");
    assert!(!stderr.contains("panicked"), "{stderr}");
    serde_json::from_slice(&out.stdout).expect("json")
}

#[test]
fn malformed_input_is_skipped_counted_and_named() {
    let dir = tempfile::tempdir().expect("tempdir");
    let home = dir.path().join("home");
    copy_dir(&fixtures_home(), &home);
    let baseline = run_json(&home, &dir.path().join("s0"), &["sessions", "--json"]);
    let base_count = baseline["sessions"].as_array().expect("rows").len();

    let claude_dir = home.join(".claude/projects/-tmp-broken");
    fs::create_dir_all(&claude_dir).expect("mkdir");
    // Binary junk with a newline in it, then an unknown record type, then a good-looking
    // but truncated last line.
    let mut junk: Vec<u8> = (0..=255u8).cycle().take(4096).collect();
    junk.extend_from_slice(
        b"\n{\"type\":\"from-the-future\",\"x\":1}\n{\"type\":\"user\",\"message\":{\"ro",
    );
    fs::write(
        claude_dir.join("11111111-1111-1111-1111-111111111111.jsonl"),
        &junk,
    )
    .expect("write");
    fs::write(
        claude_dir.join("22222222-2222-2222-2222-222222222222.jsonl"),
        b"",
    )
    .expect("empty");
    // One 50 MB line without structure.
    let mut big = vec![b'x'; 50 * 1024 * 1024];
    big.push(b'\n');
    fs::write(
        claude_dir.join("33333333-3333-3333-3333-333333333333.jsonl"),
        &big,
    )
    .expect("big");
    // Codex and Gemini junk too.
    let codex = home.join(".codex/sessions/2026/01/01");
    fs::create_dir_all(&codex).expect("mkdir");
    fs::write(
        codex.join("rollout-2026-01-01T00-00-00-junk.jsonl"),
        b"\x00\x01\x02\nnot json\n",
    )
    .expect("write");
    let gemini = home.join(".gemini/tmp/broken/chats");
    fs::create_dir_all(&gemini).expect("mkdir");
    fs::write(
        gemini.join("session-2026-01-01T00-00-deadbeef.json"),
        b"{\"sessionId\": 12, \"messages\": \"no\"",
    )
    .expect("write");

    let got = run_json(&home, &dir.path().join("s1"), &["sessions", "--json"]);
    let rows = got["sessions"].as_array().expect("rows");
    assert!(rows.len() >= base_count, "good sessions still listed");
    let warnings = got["warnings"].as_array().expect("warnings");
    let warned = |needle: &str| {
        warnings
            .iter()
            .find(|w| w["file"].as_str().is_some_and(|f| f.contains(needle)))
            .cloned()
    };
    let junk_warning = warned("11111111-1111").expect("junk file named in warnings");
    assert!(
        junk_warning["skipped_records"].as_u64().unwrap_or(0) >= 2,
        "{junk_warning}"
    );
    let big_warning = warned("33333333-3333").expect("50 MB line named in warnings");
    assert_eq!(
        big_warning["skipped_records"].as_u64(),
        Some(1),
        "{big_warning}"
    );
    assert!(
        warned("rollout-2026-01-01T00-00-00-junk").is_some(),
        "{warnings:?}"
    );
    assert!(
        warned("session-2026-01-01T00-00-deadbeef").is_some(),
        "{warnings:?}"
    );

    // Costs and trace still work on the same home.
    let costs = run_json(&home, &dir.path().join("s1"), &["costs", "--json"]);
    assert!(costs["costs"]["rows"].is_array());
}

#[test]
fn unreadable_directory_is_reported_and_others_still_listed() {
    let dir = tempfile::tempdir().expect("tempdir");
    let home = dir.path().join("home");
    copy_dir(&fixtures_home(), &home);
    // A symlink loop is unreadable even for root (root ignores permission bits).
    let sessions = home.join(".codex/sessions");
    fs::remove_dir_all(&sessions).expect("rm");
    std::os::unix::fs::symlink(&sessions, &sessions).expect("loop");
    let got = run_json(&home, &dir.path().join("s"), &["sessions", "--json"]);
    let rows = got["sessions"].as_array().expect("rows");
    assert!(rows.iter().any(|r| r["provider"] == "claude"));
    assert!(rows.iter().any(|r| r["provider"] == "gemini"));
    assert!(!rows.iter().any(|r| r["provider"] == "codex"));
    let warnings = got["warnings"].as_array().expect("warnings");
    assert!(
        warnings.iter().any(|w| w["provider"] == "codex"
            && w["message"]
                .as_str()
                .is_some_and(|m| m.contains("cannot read"))),
        "{warnings:?}"
    );
}

#[test]
fn missing_home_is_empty_not_an_error() {
    let dir = tempfile::tempdir().expect("tempdir");
    let got = run_json(
        &dir.path().join("nobody"),
        &dir.path().join("s"),
        &["sessions", "--json"],
    );
    assert_eq!(got["sessions"].as_array().map(Vec::len), Some(0));
}

#[test]
fn costs_total_is_the_sum_of_rows_and_unknown_models_are_not_free() {
    let dir = tempfile::tempdir().expect("tempdir");
    for by in ["project", "provider", "model", "session", "day"] {
        let got = run_json(
            &fixtures_home(),
            &dir.path().join("s"),
            &["costs", "--by", by, "--json"],
        );
        let rows = got["costs"]["rows"].as_array().expect("rows");
        let sum: f64 = rows
            .iter()
            .map(|r| r["cost_usd"].as_f64().unwrap_or(0.0))
            .sum();
        let total = got["costs"]["total"]["cost_usd"].as_f64().expect("total");
        assert!(
            (sum - total).abs() < 1e-9,
            "by {by}: rows sum {sum} != total {total}"
        );
        for cat in ["input", "output", "cache_read", "cache_write"] {
            let s: u64 = rows
                .iter()
                .map(|r| r["tokens"][cat].as_u64().unwrap_or(0))
                .sum();
            assert_eq!(
                Some(s),
                got["costs"]["total"]["tokens"][cat].as_u64(),
                "by {by} {cat}"
            );
        }
    }
    // The Codex fixtures use a model that is in no price list: it must show as unpriced.
    let by_model = run_json(
        &fixtures_home(),
        &dir.path().join("s"),
        &["costs", "--by", "model", "--json"],
    );
    let sessions = run_json(
        &fixtures_home(),
        &dir.path().join("s"),
        &["sessions", "--json"],
    );
    let unpriced: Vec<&Value> = sessions["sessions"]
        .as_array()
        .expect("rows")
        .iter()
        .filter(|r| {
            r["models"]
                .as_array()
                .is_some_and(|m| m.iter().any(|m| m["cost_usd"].is_null()))
        })
        .collect();
    assert!(!unpriced.is_empty(), "fixtures include an unpriced model");
    for r in unpriced {
        assert!(
            r["cost_usd"].is_null(),
            "a session with an unpriced model has cost null, not $0: {r}"
        );
    }
    let unpriced_rows: Vec<&Value> = by_model["costs"]["rows"]
        .as_array()
        .expect("rows")
        .iter()
        .filter(|r| !r["unpriced_models"].as_array().is_some_and(Vec::is_empty))
        .collect();
    assert!(!unpriced_rows.is_empty());
    for r in unpriced_rows {
        assert_eq!(
            r["cost_usd"].as_f64(),
            Some(0.0),
            "unpriced usage is not priced: {r}"
        );
        assert!(
            r["unpriced_tokens"]["input"].as_u64().unwrap_or(0)
                + r["unpriced_tokens"]["output"].as_u64().unwrap_or(0)
                > 0
        );
    }
}
