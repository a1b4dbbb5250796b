//! History view: full-text search results (`/` + Enter), opening the trace at a hit's
//! turn, and the delete (trash) confirmation. Snapshots at 80×24 and 160×48.

mod common;

use aimux_tui::app::{App, Popup, View};
use aimux_tui::fixture::{Call, FixtureBackend};
use common::*;
use crossterm::event::KeyCode;

const SIZES: [(u16, u16); 2] = [(80, 24), (160, 48)];

fn check(name: &str, setup: impl Fn(&mut App, &mut FixtureBackend)) {
    for size in SIZES {
        let (mut app, mut backend) = app(size);
        setup(&mut app, &mut backend);
        let term = render(&app);
        insta::assert_snapshot!(format!("{name}_{}x{}", size.0, size.1), term.backend());
    }
}

fn history(app: &mut App, b: &mut FixtureBackend) {
    keys(app, ":history\n");
    pump(app, b);
}

#[test]
fn search_results() {
    check("history_search_results", |app, b| {
        history(app, b);
        keys(app, "/the\n");
        pump(app, b);
        key(app, KeyCode::Down);
    });
}

#[test]
fn search_while_indexing() {
    check("history_search_loading", |app, b| {
        history(app, b);
        keys(app, "/parser\n");
    });
}

#[test]
fn search_query_error() {
    check("history_search_error", |app, b| {
        history(app, b);
        keys(app, "/\"unclosed\n");
        pump(app, b);
    });
}

#[test]
fn search_no_match() {
    check("history_search_empty", |app, b| {
        history(app, b);
        keys(app, "/zebracorn\n");
        pump(app, b);
    });
}

#[test]
fn delete_confirmation() {
    check("history_delete_confirm", |app, b| {
        history(app, b);
        keys(app, "d");
    });
}

#[test]
fn enter_on_a_hit_opens_the_trace_at_that_turn() {
    let (mut app, mut b) = app((160, 48));
    history(&mut app, &mut b);
    // "tests green" is only in the second turn's prompt of the fixture trace.
    keys(&mut app, "/tests green\n");
    pump(&mut app, &mut b);
    let hits = app.sessions.search.as_ref().expect("results").hits.clone();
    assert_eq!(hits.len(), 1, "{hits:?}");
    assert_eq!(hits[0].turn_id, "msg_02B");
    key(&mut app, KeyCode::Enter);
    pump(&mut app, &mut b);
    assert_eq!(app.view, View::Trace);
    let trace = app.trace.trace.as_ref().expect("trace loaded");
    let selected = trace.turns.get(app.trace.selected).expect("turn");
    assert_eq!(selected.id, "msg_02B");
    assert_eq!(selected.number, 2);
    // Back to the results, then esc back to the list.
    key(&mut app, KeyCode::Esc);
    assert_eq!(app.view, View::Sessions);
    assert!(app.sessions.search.is_some());
    key(&mut app, KeyCode::Esc);
    assert!(app.sessions.search.is_none());
    assert!(screen(&app).contains("Refactor the session parser"));
}

#[test]
fn delete_asks_names_files_and_only_y_moves() {
    let (mut app, mut b) = app((160, 48));
    history(&mut app, &mut b);
    let row = app.sessions.selected_row().expect("row").clone();
    keys(&mut app, "d");
    match &app.popup {
        Some(Popup::ConfirmTrash {
            session_id, files, ..
        }) => {
            assert_eq!(session_id, &row.id);
            assert_eq!(files, &row.files);
        }
        other => panic!("{other:?}"),
    }
    let shown = screen(&app);
    for f in &row.files {
        assert!(shown.contains(f.as_str()), "{shown}");
    }
    key(&mut app, KeyCode::Esc);
    pump(&mut app, &mut b);
    assert!(app.popup.is_none());
    assert!(b.calls().is_empty());
    keys(&mut app, "d");
    keys(&mut app, "y");
    pump(&mut app, &mut b);
    assert_eq!(b.calls(), vec![Call::Trash(row.id.clone())]);
}
