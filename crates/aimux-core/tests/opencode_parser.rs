//! opencode parser against what the REAL opencode 1.18.33 wrote (tests/fixtures/opencode,
//! made by its regen.py against the scripted model server), checked against the SERVER's
//! record of what it answered (expected.json), never against the parser's own output.
//!
//! aimux-core does no I/O, so these tests read opencode's own `opencode export` documents
//! (export/<session>.json, written by the CLI from the same database as
//! home/.local/share/opencode/opencode.db, which the engine tests read) and feed them the
//! way the engine does: one opencode object per line.

use aimux_core::parsers::SessionFileParser;
use aimux_core::parsers::opencode::{DocumentKind, OpencodeParser};
use aimux_core::parsers::{LineOutcome, RecordParser};
use aimux_core::{ParsedSession, Provider, TokenUsage};
use proptest::prelude::*;
use serde_json::{Value, json};
use std::path::PathBuf;

fn fixtures() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../tests/fixtures/opencode")
}

fn expected() -> Value {
    let text = std::fs::read(fixtures().join("expected.json")).expect("read expected.json");
    serde_json::from_slice(&text).expect("expected.json is JSON")
}

fn export_of(id: &str) -> Value {
    let path = fixtures().join("export").join(format!("{id}.json"));
    let text = std::fs::read(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    serde_json::from_slice(&text).expect("export is JSON")
}

/// The export split into the engine's line form: `{"session"}`, `{"message"}`, `{"part"}`.
fn object_lines(export: &Value) -> Vec<String> {
    let mut lines = vec![json!({"session": export["info"]}).to_string()];
    for m in export["messages"].as_array().expect("messages") {
        lines.push(json!({"message": m["info"]}).to_string());
        for p in m["parts"].as_array().expect("parts") {
            lines.push(json!({"part": p}).to_string());
        }
    }
    lines
}

fn parse_lines(lines: &[String]) -> SessionFileParser {
    let mut p = SessionFileParser::new(Provider::Opencode);
    for l in lines {
        p.feed(l.as_bytes());
        p.feed(b"\n");
    }
    p
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

/// Everything the server's record says about one session, checked against a parse.
fn check(session: &ParsedSession, want: &Value) {
    let id = want["id"].as_str().expect("id");
    assert_eq!(session.id.as_deref(), Some(id));
    let turns = want["turns"].as_array().expect("turns");
    assert_eq!(session.turns.len(), turns.len(), "{id}: turns");
    for (t, w) in session.turns.iter().zip(turns) {
        let label = w["label"].as_str().unwrap_or("?");
        assert_eq!(
            t.user,
            w["user"].as_str().expect("user"),
            "{label}: user text"
        );
        assert_eq!(t.tokens, tokens(&w["tokens"]), "{label}: tokens");
        assert_eq!(t.model.as_deref(), w["model"].as_str(), "{label}: model");
        let calls = w["tool_calls"].as_array().expect("tool_calls");
        assert_eq!(t.tools.len(), calls.len(), "{label}: tool calls");
        for (c, wc) in t.tools.iter().zip(calls) {
            assert_eq!(c.id, wc["id"].as_str().expect("call id"), "{label}");
            assert_eq!(c.name, wc["name"].as_str().expect("name"), "{label}");
            let input: Value = serde_json::from_str(&c.input).expect("tool input is JSON");
            assert_eq!(input["command"], wc["command"], "{label}: command");
            let fails = wc["designed_to_fail"].as_bool().expect("designed_to_fail");
            assert_eq!(c.success, Some(!fails), "{label}: {} success", c.name);
            assert_eq!(c.error.is_some(), fails, "{label}: error set iff failed");
            assert!(c.output.as_deref().is_some_and(|o| !o.is_empty()));
        }
        assert!(
            !t.output.is_empty(),
            "{label}: the answer text is turn output"
        );
    }
    assert_eq!(session.tokens(), tokens(&want["tokens"]), "{id}: total");
    assert!(session.tail.turn_complete, "{id}: finished sessions");
    assert_eq!(session.tail.last_record.as_deref(), Some("assistant"));
    assert!(session.tail.pending_tools.is_empty());
    assert!(
        session
            .cwd
            .as_deref()
            .is_some_and(|c| c.ends_with("/aimux-fixture-proj")),
        "{id}: cwd {:?}",
        session.cwd
    );
    assert!(session.started_at.is_some() && session.last_activity >= session.started_at);
}

#[test]
fn fixture_sessions_match_the_server_record_as_object_lines() {
    let exp = expected();
    let sessions = exp["sessions"].as_array().expect("sessions");
    assert_eq!(sessions.len(), 6, "regen.py runs six scenarios");
    for want in sessions {
        let export = export_of(want["id"].as_str().expect("id"));
        let lines = object_lines(&export);
        let p = parse_lines(&lines);
        assert_eq!(p.stats.lines, lines.len() as u64);
        assert_eq!(p.stats.skipped(), 0, "{:?}", p.stats);
        check(p.session(), want);

        // Rows come in no particular order from a database: reversed gives the same session.
        let mut reversed = lines.clone();
        reversed.reverse();
        assert_eq!(parse_lines(&reversed).session(), p.session());
    }
}

#[test]
fn fixture_sessions_match_the_server_record_as_whole_exports() {
    let exp = expected();
    for want in exp["sessions"].as_array().expect("sessions") {
        let export = export_of(want["id"].as_str().expect("id"));
        // One export document on one line, through the line interface.
        let p = parse_lines(&[export.to_string()]);
        assert_eq!(p.stats.skipped(), 0);
        check(p.session(), want);

        // The pretty-printed file as the CLI wrote it, through handle_document.
        let path = fixtures()
            .join("export")
            .join(format!("{}.json", want["id"].as_str().expect("id")));
        let bytes = std::fs::read(path).expect("read export");
        let mut q = OpencodeParser::default();
        assert_eq!(
            q.handle_document(DocumentKind::Export, &bytes),
            LineOutcome::Handled
        );
        q.flush();
        check(q.session(), want);
    }
}

#[test]
fn the_failed_command_and_the_reasoning_tokens_are_where_the_record_says() {
    // Guards the two conversions the generic check relies on: a non-zero shell exit is a
    // failed call although opencode marks it `completed`, and OpenAI reasoning tokens
    // (stored by opencode apart from `output`) count as output.
    let exp = expected();
    let sessions = exp["sessions"].as_array().expect("sessions");
    let by_label = |label: &str| {
        sessions
            .iter()
            .find(|s| s["turns"][0]["label"] == label)
            .unwrap_or_else(|| panic!("no session for {label}"))
    };
    let fail = by_label("tool-fail#1");
    let p = parse_lines(&object_lines(&export_of(fail["id"].as_str().expect("id"))));
    let call = &p.session().turns[0].tools[0];
    assert_eq!(call.success, Some(false));
    assert_eq!(call.error.as_deref(), Some("exit code 2"));
    assert_eq!(p.session().failed_tool_calls(), 1);

    let openai = by_label("openai-text#1");
    let export = export_of(openai["id"].as_str().expect("id"));
    let stored = &export["messages"][1]["info"]["tokens"];
    let reasoning = stored["reasoning"].as_u64().expect("reasoning");
    assert!(reasoning > 0, "the server reports reasoning tokens");
    let p = parse_lines(&object_lines(&export));
    assert_eq!(
        p.session().tokens().output,
        openai["tokens"]["output"].as_u64().expect("output")
    );
    assert_eq!(
        p.session().tokens().output,
        stored["output"].as_u64().expect("output") + reasoning
    );
}

#[test]
fn malformed_and_unknown_lines_are_counted_not_fatal() {
    let exp = expected();
    let want = &exp["sessions"][1];
    let mut lines = object_lines(&export_of(want["id"].as_str().expect("id")));
    let good = lines.len() as u64;
    let bad = [
        "not json at all".to_string(),
        "[1, 2, 3]".to_string(),
        r#"{"message": "not an object"}"#.to_string(),
        r#"{"message": {"role": "user"}}"#.to_string(),
        r#"{"part": {"id": "prt_x", "type": "text"}}"#.to_string(),
        r#"{"part": {"id": "prt_y", "messageID": "m", "type": "tool", "state": 7}}"#.to_string(),
        r#"{"session": {"title": "no id"}}"#.to_string(),
        r#"{"info": {"id": "ses_x"}, "messages": "nope"}"#.to_string(),
    ];
    let unknown = [
        r#"{"something": "else"}"#.to_string(),
        r#"{"message": {"id": "msg_z", "role": "system"}}"#.to_string(),
        r#"{"part": {"id": "prt_z", "messageID": "m", "type": "hologram"}}"#.to_string(),
    ];
    lines.splice(2..2, bad.iter().cloned());
    lines.extend(unknown.iter().cloned());
    let p = parse_lines(&lines);
    assert_eq!(
        p.stats.lines,
        good + bad.len() as u64 + unknown.len() as u64
    );
    assert_eq!(p.stats.malformed, bad.len() as u64);
    assert_eq!(p.stats.unknown, unknown.len() as u64);
    check(p.session(), want);
}

#[test]
fn empty_input_is_an_empty_session() {
    let p = parse_lines(&[]);
    assert_eq!(p.session(), &ParsedSession::default());
    let mut q = OpencodeParser::default();
    assert_eq!(
        q.handle_document(DocumentKind::Message, b"{\"id\":"),
        LineOutcome::Malformed
    );
    q.flush();
    assert!(q.session().turns.is_empty());
}

fn all_lines() -> Vec<String> {
    let exp = expected();
    exp["sessions"]
        .as_array()
        .expect("sessions")
        .iter()
        .flat_map(|s| object_lines(&export_of(s["id"].as_str().expect("id"))))
        .collect()
}

proptest! {
    #![proptest_config(ProptestConfig { cases: 64, ..ProptestConfig::default() })]

    /// Any cut or corrupted byte of real lines: never a panic, every line counted.
    #[test]
    fn corrupted_real_lines_never_panic(
        picks in proptest::collection::vec((any::<prop::sample::Index>(), any::<usize>(), any::<u8>(), 0u8..3), 1..40)
    ) {
        let lines = all_lines();
        let mut bytes = Vec::new();
        let mut n = 0u64;
        for (pick, pos, byte, how) in picks {
            let mut line = lines[pick.index(lines.len())].clone().into_bytes();
            let at = pos % line.len().max(1);
            match how {
                0 => line.truncate(at),
                1 => if let Some(b) = line.get_mut(at) { *b = byte },
                _ => line.insert(at, byte),
            }
            line.retain(|b| *b != b'\n');
            // The line buffer passes over blank lines: they are not records.
            if line.iter().any(|b| !b.is_ascii_whitespace()) {
                n += 1;
            }
            bytes.extend_from_slice(&line);
            bytes.push(b'\n');
        }
        let mut p = SessionFileParser::new(Provider::Opencode);
        p.feed(&bytes);
        prop_assert_eq!(p.stats.lines, n);
        prop_assert!(p.stats.skipped() <= n);
        let s = p.session();
        prop_assert!(s.turns.iter().all(|t| t.number >= 1));
    }

    /// Arbitrary JSON-ish values in the known wrappers: never a panic.
    #[test]
    fn odd_values_never_panic(
        tokens in proptest::collection::vec(any::<i64>(), 5),
        t in any::<f64>(),
        status in "[a-z]{0,9}",
    ) {
        let lines = vec![
            json!({"message": {"id": "msg_1", "role": "user", "time": {"created": t}}}).to_string(),
            json!({"message": {"id": "msg_2", "role": "assistant", "parentID": "msg_9",
                "time": {"created": tokens[0], "completed": t},
                "tokens": {"input": tokens[1], "output": t, "reasoning": tokens[2],
                           "cache": {"read": tokens[3], "write": tokens[4]}}}}).to_string(),
            json!({"part": {"id": "prt_1", "messageID": "msg_2", "type": "tool", "tool": "bash",
                "callID": "c", "state": {"status": status, "input": t,
                "metadata": {"exit": tokens[0]}, "time": {"start": t, "end": tokens[1]}}}}).to_string(),
            json!({"part": {"id": "prt_2", "messageID": "msg_2", "type": "step-finish",
                "tokens": {"input": u64::MAX, "output": u64::MAX, "reasoning": u64::MAX}}}).to_string(),
        ];
        let p = parse_lines(&lines);
        prop_assert_eq!(p.stats.lines, 4);
        let _ = p.session().tokens();
    }
}
