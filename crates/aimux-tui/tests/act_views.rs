//! The split view (trace + live terminal), the `:new` launcher and the not-in-tmux choice:
//! snapshots at 80×24 and 160×48, and the requests their keys send.

mod common;

use aimux_core::Provider;
use aimux_tui::app::{App, Popup, View};
use aimux_tui::event::Request;
use aimux_tui::fixture::FixtureBackend;
use aimux_tui::views::attach::{self, Focus, Zoom};
use aimux_tui::views::launcher;
use common::*;
use crossterm::event::KeyCode;
use std::path::PathBuf;

const SIZES: [(u16, u16); 2] = [(80, 24), (160, 48)];

/// What Claude Code's screen looks like in its pane (escape sequences included).
const AGENT_SCREEN: &[u8] = b"\x1b[1m\xe2\x9c\xbb Welcome to Claude Code\x1b[0m\r\n\r\n\
> list the files\r\n\r\n\x1b[32m\xe2\x8f\xba\x1b[0m Bash(ls -la)\r\n  \xe2\x8e\xbf total 8 README.md main.py\r\n\r\n\
\x1b[7m> \x1b[0m\r\n  ? for shortcuts";

/// The lead agent's trace open, with a split view fed from a fake pane.
fn split(size: (u16, u16)) -> (App, FixtureBackend) {
    let (mut app, mut backend) = app(size);
    keys(&mut app, "jjj"); // the agent whose session has turns
    key(&mut app, KeyCode::Enter); // not in tmux (fixture target): trace only
    pump(&mut app, &mut backend);
    assert_eq!(app.view, View::Trace);
    let (pid, provider) = app
        .agents
        .selected_agent()
        .map(|a| (a.pid, a.provider.to_string()))
        .expect("selected agent");
    let st = attach::State::detached(
        pid,
        &provider,
        "/tmp/tmux-0/default:%3",
        attach::term_size(size, Zoom::Split),
    );
    st.feed(AGENT_SCREEN);
    attach::install(&mut app, st);
    app.flash = None;
    (app, backend)
}

#[test]
fn split_view_snapshots() {
    for size in SIZES {
        let (app, _) = split(size);
        insta::assert_snapshot!(
            format!("split_view_{}x{}", size.0, size.1),
            render(&app).backend()
        );
    }
}

#[test]
fn split_view_trace_focused_and_zoomed_terminal() {
    for size in SIZES {
        let (mut app, _) = split(size);
        key(&mut app, KeyCode::Tab);
        insta::assert_snapshot!(
            format!("split_view_trace_focus_{}x{}", size.0, size.1),
            render(&app).backend()
        );
        key(&mut app, KeyCode::Tab);
        ctrl(&mut app, ']');
        insta::assert_snapshot!(
            format!("split_view_zoom_terminal_{}x{}", size.0, size.1),
            render(&app).backend()
        );
    }
}

#[test]
fn split_view_keys_focus_zoom_detach() {
    let (mut app, _) = split((120, 40));
    let st = |app: &App| {
        let s = app.attach.as_ref().expect("attached");
        (s.focus, s.zoom)
    };
    assert_eq!(st(&app), (Focus::Terminal, Zoom::Split));
    // Keys go to the terminal, not to aimux: `q` does not quit, `:` opens no command bar.
    keys(&mut app, "q:");
    assert!(!app.should_quit);
    assert!(matches!(app.mode, aimux_tui::app::Mode::Normal));
    key(&mut app, KeyCode::Tab);
    assert_eq!(st(&app), (Focus::Trace, Zoom::Split));
    ctrl(&mut app, ']');
    assert_eq!(st(&app), (Focus::Trace, Zoom::Trace));
    key(&mut app, KeyCode::Tab);
    assert_eq!(st(&app), (Focus::Terminal, Zoom::Terminal));
    ctrl(&mut app, ']');
    assert_eq!(st(&app), (Focus::Terminal, Zoom::Split));
    // The emulated screen follows the zoom.
    ctrl(&mut app, ']');
    let size = app.attach.as_ref().map(|s| s.size).expect("size");
    assert_eq!(size, attach::term_size((120, 40), Zoom::Terminal));
    ctrl(&mut app, '\\');
    assert!(app.attach.is_none(), "detached");
    let flash = app.flash.clone().expect("message").text;
    assert!(flash.contains("keeps running"), "{flash}");
    assert_eq!(app.view, View::Trace, "the trace stays open");
}

#[test]
fn a_on_an_agent_outside_tmux_offers_trace_or_a_second_process() {
    for size in SIZES {
        let (mut app, _) = app(size);
        keys(&mut app, "a");
        assert!(matches!(app.popup, Some(Popup::NotInTmux { .. })));
        insta::assert_snapshot!(
            format!("not_in_tmux_{}x{}", size.0, size.1),
            render(&app).backend()
        );
    }
    let (mut app, _) = app((120, 40));
    let sid = app
        .agents
        .selected_agent()
        .and_then(|a| a.session_id.clone())
        .expect("session");
    keys(&mut app, "a");
    app.take_requests();
    keys(&mut app, "r");
    assert_eq!(
        app.take_requests(),
        vec![Request::Resume {
            session_id: sid,
            second: true
        }]
    );
    let (mut app, mut b) = app_pair((120, 40));
    keys(&mut app, "a");
    keys(&mut app, "t");
    pump(&mut app, &mut b);
    assert_eq!(app.view, View::Trace);
    assert!(app.attach.is_none());
}

fn app_pair(size: (u16, u16)) -> (App, FixtureBackend) {
    app(size)
}

fn launcher_app(size: (u16, u16)) -> (App, FixtureBackend) {
    let (mut app, mut backend) = app(size);
    app.request(Request::Sessions);
    pump(&mut app, &mut backend);
    app.launcher = Some(launcher::State::new(
        launcher::recent_dirs(&app),
        Some("/home/dev/src/newproj".into()),
    ));
    (app, backend)
}

#[test]
fn launcher_steps_snapshots() {
    for size in SIZES {
        let (mut app, _) = launcher_app(size);
        let name = |step: &str| format!("launcher_{step}_{}x{}", size.0, size.1);
        insta::assert_snapshot!(name("provider"), render(&app).backend());
        key(&mut app, KeyCode::Down);
        key(&mut app, KeyCode::Enter);
        insta::assert_snapshot!(name("directory"), render(&app).backend());
        key(&mut app, KeyCode::Down);
        key(&mut app, KeyCode::Enter);
        keys(&mut app, "fix the \"bug\"; $(x)");
        key(&mut app, KeyCode::Down);
        key(&mut app, KeyCode::Down);
        keys(&mut app, " ");
        insta::assert_snapshot!(name("options"), render(&app).backend());
    }
}

#[test]
fn launcher_sends_the_spec_it_shows() {
    let (mut app, mut b) = launcher_app((120, 40));
    let second_dir = app
        .launcher
        .as_ref()
        .and_then(|l| l.dirs.get(1).cloned())
        .expect("a recent directory from the sessions");
    keys(&mut app, "3"); // gemini, straight to the directory step
    key(&mut app, KeyCode::Down);
    key(&mut app, KeyCode::Enter);
    // options: model, mode, prompt (selected first), worktree, otel, launch
    keys(&mut app, "say \"hi\"; $(touch /tmp/x)");
    key(&mut app, KeyCode::Up);
    keys(&mut app, "plan");
    key(&mut app, KeyCode::Up);
    keys(&mut app, "gemini-2.5-pro");
    for _ in 0..3 {
        key(&mut app, KeyCode::Down);
    }
    keys(&mut app, "wt1");
    key(&mut app, KeyCode::Down);
    key(&mut app, KeyCode::Enter); // otel on
    key(&mut app, KeyCode::Down);
    app.take_requests();
    key(&mut app, KeyCode::Enter); // launch
    assert!(app.launcher.is_none(), "closed on launch");
    let reqs = app.take_requests();
    let want = aimux_engine::spawn::SpawnSpec {
        provider: Some(Provider::Gemini),
        dir: PathBuf::from(&second_dir),
        model: Some("gemini-2.5-pro".into()),
        mode: Some("plan".into()),
        prompt: Some("say \"hi\"; $(touch /tmp/x)".into()),
        worktree: Some("wt1".into()),
        otel: true,
        resume: None,
    };
    assert_eq!(
        reqs,
        vec![Request::Spawn {
            spec: Box::new(want.clone())
        }]
    );
    // The fixture backend cannot start agents: the error is shown, nothing faked.
    app.request(Request::Spawn {
        spec: Box::new(want),
    });
    pump(&mut app, &mut b);
    let flash = app.flash.clone().expect("message");
    assert!(
        flash.error && flash.text.contains("not available"),
        "{flash:?}"
    );
}

#[test]
fn launcher_esc_goes_back_a_step_then_closes() {
    let (mut app, _) = launcher_app((120, 40));
    key(&mut app, KeyCode::Enter);
    key(&mut app, KeyCode::Enter);
    let step = |app: &App| app.launcher.as_ref().map(|l| l.step);
    assert_eq!(step(&app), Some(launcher::Step::Options));
    key(&mut app, KeyCode::Esc);
    assert_eq!(step(&app), Some(launcher::Step::Directory));
    key(&mut app, KeyCode::Esc);
    assert_eq!(step(&app), Some(launcher::Step::Provider));
    key(&mut app, KeyCode::Esc);
    assert!(app.launcher.is_none());
    assert!(app.take_requests().iter().all(|r| !r.is_action()));
}

#[test]
fn new_send_and_resume_commands() {
    let (mut app, _) = app((120, 40));
    keys(&mut app, ":new\n");
    assert!(app.launcher.is_some(), ":new opens the launcher");
    app.launcher = None;
    let pid = app.agents.selected_agent().map(|a| a.pid).expect("agent");
    app.take_requests();
    keys(&mut app, ":send fix the \"bug\"; then $(run) tests\n");
    assert_eq!(
        app.take_requests(),
        vec![Request::Send {
            pid,
            text: "fix the \"bug\"; then $(run) tests".into()
        }]
    );
    keys(&mut app, ":send\n");
    let flash = app.flash.clone().expect("message");
    assert!(
        flash.error && flash.text.contains(":send TEXT"),
        "{flash:?}"
    );

    let (mut app, mut b) = app_pair((120, 40));
    keys(&mut app, ":sessions\n");
    pump(&mut app, &mut b);
    let sid = app
        .sessions
        .selected_row()
        .map(|s| s.id.clone())
        .expect("session");
    app.take_requests();
    keys(&mut app, "r");
    assert_eq!(
        app.take_requests(),
        vec![Request::Resume {
            session_id: sid,
            second: false
        }]
    );
}

/// A pod shown as an agent (what the binary's backend adds when a cluster is configured).
fn remote_row(pod: &str, role: &str, attachable: bool) -> aimux_engine::agents::AgentRow {
    let mut row = aimux_tui::fixture::agents_snapshot().agents[0].clone();
    row.pid = 0;
    row.location = "k8s".into();
    row.project = Some(pod.into());
    row.title = None;
    row.session_id = None;
    row.tmux_target = None;
    row.children.clear();
    row.subagents.clear();
    row.model = None;
    row.cwd = None;
    row.last_action = None;
    row.tokens = Default::default();
    row.cost_usd = None;
    row.command = format!("{role} pod {pod}");
    row.status = aimux_core::status::Status::Unknown;
    row.status_reason = "pod Running; interactive agent in tmux session 'agent'".into();
    row.remote = Some(aimux_engine::agents::RemoteHandle {
        pod: pod.into(),
        namespace: "aimux".into(),
        role: role.into(),
        attachable,
    });
    row
}

fn app_with_remote(size: (u16, u16)) -> (App, FixtureBackend) {
    let (mut app, b) = app(size);
    let mut snap = aimux_tui::fixture::agents_snapshot();
    snap.agents
        .push(remote_row("aimux-session-claude-1-0", "session", true));
    snap.agents
        .push(remote_row("aimux-worker-codex-0", "worker", false));
    app.agents.set(snap);
    (app, b)
}

fn select_by_filter(app: &mut App, text: &str) {
    keys(app, "/");
    keys(app, text);
    key(app, KeyCode::Enter);
}

#[test]
fn launcher_remote_starts_a_pod_with_the_chosen_provider() {
    for size in SIZES {
        let (mut app, _) = launcher_app(size);
        key(&mut app, KeyCode::Tab);
        insta::assert_snapshot!(
            format!("launcher_remote_{}x{}", size.0, size.1),
            render(&app).backend()
        );
    }
    let (mut app, _) = launcher_app((120, 40));
    key(&mut app, KeyCode::Tab);
    key(&mut app, KeyCode::Tab);
    key(&mut app, KeyCode::Tab); // back and forth: remote again
    app.take_requests();
    keys(&mut app, "2");
    assert!(app.launcher.is_none(), "closed on start");
    assert_eq!(
        app.take_requests(),
        vec![Request::SpawnRemote {
            provider: "codex".into()
        }]
    );
}

#[test]
fn remote_agents_attach_or_explain_and_stop_only_after_confirmation() {
    let (mut app, mut b) = app_with_remote((140, 40));
    select_by_filter(&mut app, "aimux-session");
    insta::assert_snapshot!("agents_remote_row_140x40", render(&app).backend());
    app.take_requests();
    key(&mut app, KeyCode::Enter);
    assert_eq!(
        app.take_requests(),
        vec![Request::AttachRemote {
            pod: "aimux-session-claude-1-0".into(),
            provider: "claude".into()
        }]
    );
    // the fixture backend has no cluster: the error is shown, nothing is faked
    app.request(Request::AttachRemote {
        pod: "aimux-session-claude-1-0".into(),
        provider: "claude".into(),
    });
    pump(&mut app, &mut b);
    let flash = app.flash.clone().expect("message");
    assert!(
        flash.error && flash.text.contains("cannot attach"),
        "{flash:?}"
    );
    assert!(app.attach.is_none());

    keys(&mut app, "x");
    match &app.popup {
        Some(Popup::ConfirmKillPod { pod, effect, .. }) => {
            assert_eq!(pod, "aimux-session-claude-1-0");
            assert!(effect.contains("deletes"), "{effect}");
        }
        other => panic!("expected the stop confirmation, got {other:?}"),
    }
    insta::assert_snapshot!("agents_remote_kill_140x40", render(&app).backend());
    app.take_requests();
    keys(&mut app, "n");
    assert!(app.popup.is_none());
    assert!(app.take_requests().is_empty(), "cancel sends nothing");
    keys(&mut app, "x");
    keys(&mut app, "y");
    assert_eq!(
        app.take_requests(),
        vec![Request::KillPod {
            pod: "aimux-session-claude-1-0".into()
        }]
    );

    // a worker pod: nothing to attach to, and the stop scales its Deployment down
    key(&mut app, KeyCode::Esc);
    select_by_filter(&mut app, "aimux-worker-codex");
    app.take_requests();
    key(&mut app, KeyCode::Enter);
    assert!(app.take_requests().is_empty());
    let flash = app.flash.clone().expect("message");
    assert!(flash.text.contains("task worker"), "{flash:?}");
    keys(&mut app, "x");
    match &app.popup {
        Some(Popup::ConfirmKillPod { effect, .. }) => {
            assert!(effect.contains("scales"), "{effect}")
        }
        other => panic!("expected the stop confirmation, got {other:?}"),
    }
}
