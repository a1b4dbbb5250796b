//! Every view and popup at 80×24 and 160×48, from fixture data, as text snapshots.

mod common;

use aimux_tui::app::App;
use aimux_tui::fixture::FixtureBackend;
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

#[test]
fn agents() {
    check("agents", |_, _| {});
}

#[test]
fn agents_tree_expanded() {
    check("agents_tree", |app, _| {
        keys(app, "jjj ");
    });
}

#[test]
fn agents_filter_input() {
    check("agents_filter", |app, _| {
        keys(app, "/claude");
    });
}

#[test]
fn agents_sorted_by_cost() {
    check("agents_sort_cost", |app, _| {
        keys(app, "s");
    });
}

#[test]
fn agents_loading() {
    for size in SIZES {
        let mut app = app_with(&aimux_tui::TuiConfig::default(), false, size);
        app.start();
        insta::assert_snapshot!(
            format!("agents_loading_{}x{}", size.0, size.1),
            render(&app).backend()
        );
    }
}

#[test]
fn kill_popup() {
    check("kill_popup", |app, _| {
        keys(app, "x");
    });
}

#[test]
fn command_bar_completion() {
    check("command_bar", |app, _| {
        keys(app, ":h");
        key(app, KeyCode::Tab);
    });
}

#[test]
fn help_popup() {
    check("help", |app, _| {
        keys(app, "?");
    });
}

#[test]
fn sessions() {
    check("sessions", |app, b| {
        keys(app, ":sessions\n");
        pump(app, b);
    });
}

#[test]
fn history() {
    check("history", |app, b| {
        keys(app, ":history\n");
        pump(app, b);
    });
}

#[test]
fn costs_live_and_all() {
    check("costs_live", |app, b| {
        keys(app, ":costs\n");
        pump(app, b);
    });
    check("costs_all_history", |app, b| {
        keys(app, ":costs\n");
        pump(app, b);
        key(app, KeyCode::Tab);
        key(app, KeyCode::Tab);
        key(app, KeyCode::Tab);
        pump(app, b);
    });
}

fn open_trace(app: &mut App, b: &mut FixtureBackend) {
    // "Refactor the session parser" is the 4th agent by name.
    keys(app, "jjj");
    key(app, KeyCode::Enter);
    pump(app, b);
}

#[test]
fn trace() {
    check("trace", open_trace);
}

#[test]
fn trace_second_turn_markdown() {
    check("trace_turn2", |app, b| {
        open_trace(app, b);
        keys(app, "n");
    });
}

#[test]
fn trace_folded_all() {
    check("trace_folded", |app, b| {
        open_trace(app, b);
        keys(app, "z");
    });
}

#[test]
fn trace_search() {
    check("trace_search", |app, b| {
        open_trace(app, b);
        keys(app, "/dedup\n");
    });
}

#[test]
fn note_popup() {
    check("note_popup", |app, b| {
        open_trace(app, b);
        keys(app, "N");
    });
}

#[test]
fn teams() {
    check("teams", |app, b| {
        keys(app, ":teams\n");
        pump(app, b);
    });
}

#[test]
fn health() {
    check("health", |app, b| {
        keys(app, "H");
        pump(app, b);
    });
}
