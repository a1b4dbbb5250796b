//! Key handling end to end through `App::update`: sort, filter, command bar, annotate,
//! kill, navigation, live tail, slow backends, config overrides, NO_COLOR.

mod common;

use aimux_engine::annotations::Label;
use aimux_tui::app::{Mode, Popup, View};
use aimux_tui::event::{AppEvent, Request};
use aimux_tui::fixture::{self, Call, FixtureBackend};
use aimux_tui::views::{agents, sessions};
use aimux_tui::{KeyList, TuiConfig, worker};
use common::*;
use crossterm::event::{KeyCode, MouseEvent, MouseEventKind};
use std::time::{Duration, Instant};

fn selected_pid(app: &aimux_tui::App) -> Option<u32> {
    app.agents.selected_agent().map(|a| a.pid)
}

#[test]
fn s_cycles_the_agent_sort_and_keeps_the_selection() {
    let (mut app, _) = app((120, 40));
    keys(&mut app, "jjj"); // Refactor the session parser (by name)
    assert_eq!(selected_pid(&app), Some(4242));
    let mut seen = vec![app.agents.sort];
    for _ in 0..6 {
        keys(&mut app, "s");
        seen.push(app.agents.sort);
        assert_eq!(selected_pid(&app), Some(4242), "selection follows the row");
    }
    use agents::Sort::*;
    assert_eq!(seen, [Name, Cost, Age, Model, Pid, Status, Name]);
}

#[test]
fn s_cycles_the_session_sort() {
    let (mut app, mut b) = app((120, 40));
    keys(&mut app, ":sessions\n");
    pump(&mut app, &mut b);
    assert_eq!(app.view, View::Sessions);
    use sessions::Sort::*;
    let mut seen = vec![app.sessions.sort];
    for _ in 0..5 {
        keys(&mut app, "s");
        seen.push(app.sessions.sort);
    }
    assert_eq!(seen, [Recent, Cost, Age, Turns, Title, Recent]);
}

#[test]
fn slash_filters_live_and_esc_clears() {
    let (mut app, _) = app((120, 40));
    keys(&mut app, "/gemini");
    assert!(matches!(app.mode, Mode::Filter(_)));
    assert_eq!(app.agents.rows.len(), 1);
    assert_eq!(selected_pid(&app), Some(6001));
    key(&mut app, KeyCode::Enter);
    assert!(matches!(app.mode, Mode::Normal));
    assert_eq!(app.agents.filter, "gemini");
    // Keys work on the filtered list; q does not type into the filter any more.
    key(&mut app, KeyCode::Esc);
    assert_eq!(app.agents.filter, "");
    assert_eq!(app.agents.rows.len(), 5);
    // Esc while typing drops the filter too.
    keys(&mut app, "/codex");
    assert_eq!(app.agents.rows.len(), 2);
    key(&mut app, KeyCode::Esc);
    assert_eq!(app.agents.rows.len(), 5);
}

#[test]
fn command_bar_completes_and_runs() {
    let (mut app, mut b) = app((120, 40));
    keys(&mut app, ":co");
    key(&mut app, KeyCode::Tab);
    match &app.mode {
        Mode::Command(bar) => assert_eq!(bar.input.text(), "costs"),
        other => panic!("expected the command bar, got {other:?}"),
    }
    key(&mut app, KeyCode::Enter);
    assert_eq!(app.view, View::Costs);
    let reqs = app.take_requests();
    assert!(
        reqs.iter().any(|r| matches!(r, Request::Costs { .. })),
        "{reqs:?}"
    );
    for r in reqs {
        let resp = worker::execute(&mut b, r);
        app.update(AppEvent::Response(Box::new(resp)));
    }
    assert!(app.costs.report.is_some());
    // Aliases.
    keys(&mut app, ":a\n");
    assert_eq!(app.view, View::Agents);
}

#[test]
fn unknown_commands_only_say_so() {
    let (mut app, _) = app((120, 40));
    keys(&mut app, ":frobnicate\n");
    assert!(!app.should_quit);
    assert_eq!(app.view, View::Agents);
    let flash = app.flash.clone().expect("message");
    assert!(
        flash.error && flash.text.contains("frobnicate"),
        "{flash:?}"
    );
    keys(&mut app, ":q\n");
    assert!(app.should_quit);
}

#[test]
fn export_commands_and_the_e_chord_export_the_open_session() {
    let (mut app, mut b) = app((120, 40));
    open_trace(&mut app, &mut b);
    let session = app.trace.session_id.clone().expect("trace session");
    let _ = app.take_requests();
    keys(&mut app, ":export-otel\n");
    keys(&mut app, ":export\n");
    keys(&mut app, "eo");
    keys(&mut app, "ej");
    keys(&mut app, "ex");
    let exports: Vec<(String, bool)> = app
        .take_requests()
        .into_iter()
        .filter_map(|r| match r {
            Request::Export { session_id, otlp } => Some((session_id, otlp)),
            _ => None,
        })
        .collect();
    assert_eq!(
        exports,
        [
            (session.clone(), true),
            (session.clone(), false),
            (session.clone(), true),
            (session, false)
        ],
        "`e x` cancels"
    );
    assert_eq!(app.view, View::Trace);
}

fn open_trace(app: &mut aimux_tui::App, b: &mut FixtureBackend) {
    keys(app, "jjj");
    key(app, KeyCode::Enter);
    pump(app, b);
    assert_eq!(app.view, View::Trace);
    assert!(app.trace.trace.is_some());
}

#[test]
fn a_cycles_the_label_of_the_current_turn_through_the_backend() {
    let (mut app, mut b) = app((120, 40));
    open_trace(&mut app, &mut b);
    keys(&mut app, "n"); // turn 2, labelled BAD in the fixture
    assert_eq!(app.trace.selected, 1);
    for _ in 0..4 {
        keys(&mut app, "a");
    }
    pump(&mut app, &mut b);
    let labels: Vec<(u32, String, Label, Option<String>)> = b
        .calls()
        .into_iter()
        .map(|c| match c {
            Call::Annotate {
                turn,
                turn_id,
                label,
                note,
                session_id,
            } => {
                assert_eq!(session_id, "3b22f6a2-8179-4ae8-b430-9c1e0f6d2a11");
                (turn, turn_id, label, note)
            }
            other => panic!("unexpected call {other:?}"),
        })
        .collect();
    let expect = |l| (2, "msg_02B".to_string(), l, None);
    assert_eq!(
        labels,
        [
            expect(Label::Waste),
            expect(Label::Clear),
            expect(Label::Good),
            expect(Label::Bad)
        ]
    );
    // Shown at once in the trace and in the session counts.
    let turn = app.trace.trace.as_ref().map(|t| &t.turns[1]);
    assert_eq!(
        turn.and_then(|t| t.annotation.as_ref()).map(|a| a.label),
        Some(Label::Bad)
    );
}

#[test]
fn a_keeps_the_note_and_n_edits_it() {
    let (mut app, mut b) = app((120, 40));
    open_trace(&mut app, &mut b);
    // Turn 1 is GOOD with a note: cycling keeps the note.
    keys(&mut app, "a");
    keys(&mut app, "N");
    assert!(matches!(app.popup, Some(Popup::Note { .. })));
    ctrl(&mut app, 'u');
    keys(&mut app, "off by one");
    key(&mut app, KeyCode::Tab); // BAD -> WASTE
    key(&mut app, KeyCode::Enter);
    assert!(app.popup.is_none());
    pump(&mut app, &mut b);
    let calls = b.calls();
    assert_eq!(
        calls,
        [
            Call::Annotate {
                session_id: "3b22f6a2-8179-4ae8-b430-9c1e0f6d2a11".into(),
                turn: 1,
                turn_id: "msg_01A".into(),
                label: Label::Bad,
                note: Some("found the root cause fast".into()),
            },
            Call::Annotate {
                session_id: "3b22f6a2-8179-4ae8-b430-9c1e0f6d2a11".into(),
                turn: 1,
                turn_id: "msg_01A".into(),
                label: Label::Waste,
                note: Some("off by one".into()),
            },
        ]
    );
    let counts = app.trace.trace.as_ref().map(|t| t.session.annotations);
    // Fixture counts were GOOD 1, BAD 1; turn 1 went GOOD -> BAD -> WASTE.
    assert_eq!(counts.map(|c| (c.good, c.bad, c.waste)), Some((0, 1, 1)));
}

#[test]
fn esc_in_the_note_popup_saves_nothing() {
    let (mut app, mut b) = app((120, 40));
    open_trace(&mut app, &mut b);
    keys(&mut app, "Nxyz");
    key(&mut app, KeyCode::Esc);
    pump(&mut app, &mut b);
    assert!(b.calls().is_empty());
    assert!(app.popup.is_none());
}

#[test]
fn x_asks_then_kills_the_named_agent() {
    let (mut app, mut b) = app((120, 40));
    keys(&mut app, "x");
    match &app.popup {
        Some(Popup::ConfirmKill {
            pid,
            provider,
            dir,
            name,
            ..
        }) => {
            assert_eq!(*pid, 5150);
            assert_eq!(provider, "codex");
            assert_eq!(dir, "~/src/webapp");
            assert_eq!(name, "Clean the build and rerun e2e");
        }
        other => panic!("no confirmation: {other:?}"),
    }
    keys(&mut app, "n");
    pump(&mut app, &mut b);
    assert!(b.calls().is_empty(), "cancel kills nothing");
    keys(&mut app, "xq"); // q cancels too, and does not quit
    assert!(!app.should_quit);
    keys(&mut app, "x");
    // Unrelated keys leave the question open.
    keys(&mut app, "j");
    assert!(app.popup.is_some());
    keys(&mut app, "y");
    pump(&mut app, &mut b);
    assert_eq!(b.calls(), [Call::Kill(5150)]);
}

#[test]
fn x_on_a_child_process_row_names_its_agent() {
    let (mut app, _) = app((120, 40));
    keys(&mut app, "jjj jj"); // expand Refactor, go to its first child process
    assert!(app.agents.selected_child().is_some());
    keys(&mut app, "x");
    assert!(matches!(
        app.popup,
        Some(Popup::ConfirmKill { pid: 4242, .. })
    ));
}

#[test]
fn navigation_keys_move_the_selection() {
    let (mut app, _) = app((120, 40));
    keys(&mut app, "G");
    assert_eq!(app.agents.selected, 4);
    keys(&mut app, "g");
    assert_eq!(app.agents.selected, 0);
    key(&mut app, KeyCode::Down);
    key(&mut app, KeyCode::PageDown);
    assert_eq!(app.agents.selected, 4);
    key(&mut app, KeyCode::PageUp);
    assert_eq!(app.agents.selected, 0);
    keys(&mut app, "k");
    assert_eq!(app.agents.selected, 0);
}

#[test]
fn mouse_wheel_scrolls() {
    let (mut app, _) = app((120, 40));
    let wheel = |kind| {
        AppEvent::Mouse(MouseEvent {
            kind,
            column: 10,
            row: 10,
            modifiers: crossterm::event::KeyModifiers::NONE,
        })
    };
    app.update(wheel(MouseEventKind::ScrollDown));
    assert_eq!(app.agents.selected, 3);
    app.update(wheel(MouseEventKind::ScrollUp));
    assert_eq!(app.agents.selected, 0);
}

#[test]
fn trace_n_p_and_esc_back() {
    let (mut app, mut b) = app((120, 40));
    open_trace(&mut app, &mut b);
    keys(&mut app, "nn");
    assert_eq!(app.trace.selected, 2);
    keys(&mut app, "n");
    assert_eq!(app.trace.selected, 2);
    keys(&mut app, "pp");
    assert_eq!(app.trace.selected, 0);
    key(&mut app, KeyCode::Esc);
    assert_eq!(app.view, View::Agents);
    assert_eq!(selected_pid(&app), Some(4242));
}

#[test]
fn trace_search_finds_and_reopens_folded_turns() {
    let (mut app, mut b) = app((120, 40));
    open_trace(&mut app, &mut b);
    keys(&mut app, "z"); // fold all
    keys(&mut app, "/HashSet\n");
    assert_eq!(app.trace.search, "HashSet");
    assert_eq!(app.trace.selected, 1, "the match is in turn 2");
    let screen = screen(&app);
    assert!(
        screen.contains("let mut seen = HashSet::new();"),
        "{screen}"
    );
    keys(&mut app, "/nothing-like-this\n");
    let flash = app.flash.clone().map(|f| f.text).unwrap_or_default();
    assert!(flash.contains("not found"), "{flash}");
}

#[test]
fn live_tail_reloads_the_trace_and_keeps_the_position() {
    let (mut app, mut b) = app((120, 30));
    open_trace(&mut app, &mut b);
    keys(&mut app, "n");
    let scroll = app.trace.scroll;
    assert!(scroll > 0);
    // First agents refresh only records what the agent looked like.
    let mut snap = fixture::agents_snapshot();
    app.update(AppEvent::Response(Box::new(
        aimux_tui::event::Response::Agents(Ok(snap.clone())),
    )));
    assert!(
        !app.take_requests()
            .iter()
            .any(|r| matches!(r, Request::Trace { .. }))
    );
    // The agent moved on: the trace is asked for again.
    snap.agents[0].last_activity = Some("2026-11-27T10:00:05Z".into());
    app.update(AppEvent::Response(Box::new(
        aimux_tui::event::Response::Agents(Ok(snap)),
    )));
    let reqs = app.take_requests();
    assert!(
        reqs.iter()
            .any(|r| matches!(r, Request::Trace { session_id } if session_id.starts_with("3b22"))),
        "{reqs:?}"
    );
    for r in reqs {
        let resp = worker::execute(&mut b, r);
        app.update(AppEvent::Response(Box::new(resp)));
    }
    assert_eq!(app.trace.scroll, scroll);
    assert_eq!(app.trace.selected, 1);
}

#[test]
fn periodic_refresh_asks_for_agents() {
    let config = TuiConfig {
        refresh_ms: Some(500),
        ..TuiConfig::default()
    };
    let mut app = app_with(&config, false, (80, 24));
    app.start();
    let _ = app.take_requests();
    let mut b = FixtureBackend::new();
    app.start();
    pump(&mut app, &mut b);
    app.update(AppEvent::Tick);
    assert!(app.take_requests().is_empty());
    app.update(AppEvent::Tick);
    assert_eq!(app.take_requests(), [Request::Agents]);
}

#[test]
fn slow_backend_never_blocks_input() {
    let backend = FixtureBackend {
        delay: Duration::from_millis(400),
        ..FixtureBackend::default()
    };
    let (tx, rx) = std::sync::mpsc::channel();
    let (requests, _h) = worker::spawn(backend, tx).expect("worker");
    let mut app = app_with(&TuiConfig::default(), false, (80, 24));
    app.start();
    let started = Instant::now();
    for r in app.take_requests() {
        requests.send(r).expect("send");
    }
    // Keys are handled while the agents call is still running.
    keys(&mut app, ":costs\n");
    for r in app.take_requests() {
        requests.send(r).expect("send");
    }
    assert!(started.elapsed() < Duration::from_millis(200));
    assert_eq!(app.view, View::Costs);
    assert!(app.agents.loading && app.costs.loading);
    assert!(screen(&app).contains("loading…"));
    let deadline = Instant::now() + Duration::from_secs(10);
    while (app.agents.loading || app.costs.loading) && Instant::now() < deadline {
        if let Ok(ev) = rx.recv_timeout(Duration::from_millis(100)) {
            app.update(ev);
        }
    }
    assert!(app.agents.snapshot.is_some() && app.costs.report.is_some());
}

#[test]
fn keymap_overrides_change_keys_footer_and_help() {
    let mut config = TuiConfig::default();
    config
        .keymap
        .insert("kill".into(), KeyList::Many(vec!["K".into()]));
    config
        .keymap
        .insert("nope".into(), KeyList::One("z".into()));
    let mut app = app_with(&config, false, (160, 48));
    let mut b = FixtureBackend::new();
    app.start();
    pump(&mut app, &mut b);
    // The warning about the unknown action is shown.
    let flash = app.flash.clone().map(|f| f.text).unwrap_or_default();
    assert!(flash.contains("'nope'"), "{flash}");
    keys(&mut app, "x");
    assert!(app.popup.is_none());
    keys(&mut app, "K");
    assert!(matches!(app.popup, Some(Popup::ConfirmKill { .. })));
    key(&mut app, KeyCode::Esc);
    app.flash = None;
    let s = screen(&app);
    let footer = s.lines().last().unwrap_or_default();
    assert!(
        footer.contains("K kill") && !footer.contains("x kill"),
        "{footer}"
    );
    keys(&mut app, "?");
    assert!(screen(&app).contains("kill the selected agent"));
}

#[test]
fn no_color_draws_without_colours_but_keeps_icons() {
    let mut app = app_with(&TuiConfig::default(), true, (120, 30));
    let mut b = FixtureBackend::new();
    app.start();
    pump(&mut app, &mut b);
    let term = render(&app);
    let buf = term.backend().buffer();
    for cell in buf.content() {
        assert_eq!(cell.fg, ratatui::style::Color::Reset, "{cell:?}");
        assert_eq!(cell.bg, ratatui::style::Color::Reset, "{cell:?}");
    }
    let s = screen(&app);
    for icon in ["● active", "◆ waiting", "○ idle", "✗ error", "? unknown"] {
        assert!(s.contains(icon), "{icon} missing");
    }
    // With colour, statuses are coloured.
    let (colored, _) = common::app((120, 30));
    let term = render(&colored);
    assert!(
        term.backend()
            .buffer()
            .content()
            .iter()
            .any(|c| c.fg != ratatui::style::Color::Reset)
    );
}

#[test]
fn any_size_draws_without_panicking() {
    for size in [(1, 1), (10, 3), (40, 10), (80, 24), (250, 80)] {
        let (mut app, mut b) = app(size);
        for setup in [
            ":agents\n",
            "jjj ",
            "x",
            ":costs\n",
            ":sessions\n",
            ":teams\n",
            "H",
        ] {
            keys(&mut app, setup);
            pump(&mut app, &mut b);
            let _ = screen(&app);
            key(&mut app, KeyCode::Esc);
        }
        open_trace_any(&mut app, &mut b);
        let _ = screen(&app);
        keys(&mut app, "Nabc");
        let _ = screen(&app);
        key(&mut app, KeyCode::Esc);
        keys(&mut app, "?G");
        let _ = screen(&app);
    }
}

fn open_trace_any(app: &mut aimux_tui::App, b: &mut FixtureBackend) {
    keys(app, ":trace 3b22\n");
    pump(app, b);
}

#[test]
fn resize_reflows_the_trace() {
    let (mut app, mut b) = app((160, 48));
    open_trace(&mut app, &mut b);
    app.update(AppEvent::Resize(60, 20));
    assert_eq!(app.size, (60, 20));
    let s = screen(&app);
    assert!(s.contains("#1") && s.contains("❯ Why are Claude"), "{s}");
}

#[test]
fn errors_are_shown_and_other_data_kept() {
    let (mut app, _) = app((120, 30));
    app.update(AppEvent::Response(Box::new(
        aimux_tui::event::Response::Agents(Err("process table unreadable".into())),
    )));
    let s = screen(&app);
    assert!(
        s.contains("refresh failed: process table unreadable"),
        "{s}"
    );
    assert!(
        s.contains("Refactor the s"),
        "the last good list stays: {s}"
    );
    assert!(s.contains("⚠ gemini: cannot read"), "provider error badge");
}
