//! The tasks view (`T`, `:tasks`): the list, the detail popup, filtering, submitting, the
//! message when no coordination store answers, and that the store is only asked while
//! the view is shown. Snapshots at 80×24 and 160×48 from the fixture tasks.

mod common;

use aimux_tui::app::{App, Mode, Popup, View};
use aimux_tui::event::{AppEvent, Request};
use aimux_tui::fixture::{Call, FixtureBackend};
use aimux_tui::keymap::Scope;
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

fn open_tasks(app: &mut App, b: &mut FixtureBackend) {
    keys(app, "T");
    pump(app, b);
}

fn ids(app: &App) -> Vec<String> {
    let st = &app.tasks;
    st.visible
        .iter()
        .filter_map(|i| st.all.get(*i))
        .map(|t| t.id.clone())
        .collect()
}

fn selected(app: &App) -> Option<String> {
    app.tasks.selected_row().map(|t| t.id.clone())
}

fn task_reads(b: &FixtureBackend) -> usize {
    b.calls()
        .iter()
        .filter(|c| matches!(c, Call::Tasks | Call::TaskDetail(_)))
        .count()
}

/// Ticks until the refresh clock has run `n` times.
fn refresh_ticks(app: &mut App, n: u64) {
    for _ in 0..app.refresh_ticks * n {
        app.update(AppEvent::Tick);
    }
}

// ---------------------------------------------------------------------- snapshots

#[test]
fn tasks_list() {
    check("tasks", open_tasks);
}

#[test]
fn tasks_detail_with_markdown_result_and_log() {
    check("tasks_detail_done", |app, b| {
        open_tasks(app, b);
        keys(app, "jj"); // t-5, done, markdown result
        key(app, KeyCode::Enter);
        pump(app, b);
    });
}

#[test]
fn tasks_detail_of_a_failed_task() {
    check("tasks_detail_failed", |app, b| {
        open_tasks(app, b);
        keys(app, "jjj"); // t-4, failed
        key(app, KeyCode::Enter);
        pump(app, b);
    });
}

#[test]
fn tasks_filtered() {
    check("tasks_filter", |app, b| {
        open_tasks(app, b);
        keys(app, "/claude");
    });
}

#[test]
fn tasks_new_task_popup() {
    check("tasks_new", |app, b| {
        open_tasks(app, b);
        keys(app, "n");
        keys(app, "Bump the MSRV to 1.90");
        key(app, KeyCode::Tab);
    });
}

#[test]
fn tasks_without_a_coordination_store() {
    check("tasks_unreachable", |app, b| {
        b.tasks_unreachable = true;
        open_tasks(app, b);
    });
}

// --------------------------------------------------------------------------- keys

#[test]
fn t_and_the_command_open_the_view_newest_first() {
    let (mut app, mut b) = app((120, 40));
    keys(&mut app, "T");
    assert_eq!(app.view, View::Tasks);
    assert!(app.tasks.loading, "the list is requested on open");
    pump(&mut app, &mut b);
    assert_eq!(ids(&app), ["t-7", "t-6", "t-5", "t-4", "t-3"]);
    assert_eq!(app.tasks.source.as_deref(), Some("redis://127.0.0.1:6379"));
    keys(&mut app, ":a\n");
    assert_eq!(app.view, View::Agents);
    keys(&mut app, ":tasks\n");
    assert_eq!(app.view, View::Tasks);
    keys(&mut app, ":tk\n");
    assert_eq!(app.view, View::Tasks);
}

#[test]
fn navigation_is_the_same_as_in_the_other_tables() {
    let (mut app, mut b) = app((120, 40));
    open_tasks(&mut app, &mut b);
    assert_eq!(selected(&app).as_deref(), Some("t-7"));
    keys(&mut app, "jj");
    assert_eq!(selected(&app).as_deref(), Some("t-5"));
    keys(&mut app, "k");
    assert_eq!(selected(&app).as_deref(), Some("t-6"));
    keys(&mut app, "G");
    assert_eq!(selected(&app).as_deref(), Some("t-3"));
    keys(&mut app, "g");
    assert_eq!(selected(&app).as_deref(), Some("t-7"));
    key(&mut app, KeyCode::PageDown);
    assert_eq!(selected(&app).as_deref(), Some("t-3"));
    key(&mut app, KeyCode::PageUp);
    assert_eq!(selected(&app).as_deref(), Some("t-7"));
    key(&mut app, KeyCode::Down);
    assert_eq!(selected(&app).as_deref(), Some("t-6"));
    // Esc without a filter goes back to where we came from.
    key(&mut app, KeyCode::Esc);
    assert_eq!(app.view, View::Agents);
}

#[test]
fn enter_opens_the_detail_fetches_its_log_and_esc_closes() {
    let (mut app, mut b) = app((80, 24));
    open_tasks(&mut app, &mut b);
    keys(&mut app, "jj");
    key(&mut app, KeyCode::Enter);
    assert!(matches!(app.popup, Some(Popup::TaskDetail)));
    let reqs = app.take_requests();
    assert!(
        reqs.contains(&Request::TaskDetail { id: "t-5".into() }),
        "{reqs:?}"
    );
    for r in reqs {
        let resp = aimux_tui::worker::execute(&mut b, r);
        app.update(AppEvent::Response(Box::new(resp)));
    }
    let detail = app.tasks.detail.clone().expect("detail state");
    let data = detail.data.expect("detail loaded");
    assert_eq!(data.task.id, "t-5");
    assert_eq!(data.logs.len(), 5, "{:?}", data.logs);
    let s = screen(&app);
    assert!(s.contains("Task t-5"), "{s}");
    assert!(s.contains("Update the README's keys section"), "{s}");
    assert!(s.contains("README.md"), "the result is shown: {s}");
    // Movement scrolls the popup, not the list.
    let scroll = |app: &App| app.tasks.detail.as_ref().map_or(0, |d| d.scroll);
    keys(&mut app, "jjj");
    assert_eq!(scroll(&app), 3);
    assert_eq!(selected(&app).as_deref(), Some("t-5"));
    // G shows the end (the log) and stops there: k moves up at once.
    keys(&mut app, "G");
    let last = scroll(&app);
    let s = screen(&app);
    assert!(
        s.contains("claimed by w-k8s-claude-0"),
        "the log is shown: {s}"
    );
    assert!(s.contains("09:42:17  done"), "{s}");
    keys(&mut app, "jj");
    assert_eq!(scroll(&app), last);
    keys(&mut app, "k");
    assert_eq!(scroll(&app), last - 1);
    key(&mut app, KeyCode::Esc);
    assert!(app.popup.is_none());
    assert!(app.tasks.detail.is_none());
    assert_eq!(app.view, View::Tasks, "esc closes the popup only");
    // q closes it too, without quitting.
    key(&mut app, KeyCode::Enter);
    keys(&mut app, "q");
    assert!(app.popup.is_none());
    assert!(!app.should_quit);
}

#[test]
fn slash_filters_on_any_field_and_esc_clears() {
    let (mut app, mut b) = app((120, 40));
    open_tasks(&mut app, &mut b);
    keys(&mut app, "/api key");
    assert!(matches!(app.mode, Mode::Filter(_)));
    assert_eq!(ids(&app), ["t-4"]);
    key(&mut app, KeyCode::Enter);
    assert_eq!(app.tasks.filter, "api key");
    assert!(screen(&app).contains("(1/5) /api key"));
    // A refresh keeps the filter.
    ctrl(&mut app, 'r');
    pump(&mut app, &mut b);
    assert_eq!(ids(&app), ["t-4"]);
    key(&mut app, KeyCode::Esc);
    assert_eq!(app.tasks.filter, "");
    assert_eq!(ids(&app).len(), 5);
    assert_eq!(
        app.view,
        View::Tasks,
        "the first esc only clears the filter"
    );
    keys(&mut app, "/no-such-task\n");
    assert!(
        screen(&app).contains("no task matches 'no-such-task'"),
        "{}",
        screen(&app)
    );
}

#[test]
fn unreachable_store_says_how_to_configure_it() {
    let (mut app, mut b) = app((100, 30));
    b.tasks_unreachable = true;
    open_tasks(&mut app, &mut b);
    assert_eq!(app.view, View::Tasks);
    let s = screen(&app);
    assert!(s.contains("cannot reach the coordination Redis"), "{s}");
    assert!(s.contains("AIMUX_REDIS_URL"), "{s}");
    assert!(s.contains("redis.url"), "{s}");
    // Keys on an empty view do nothing harmful.
    keys(&mut app, "jkGg\n");
    assert!(app.popup.is_none());
    // Once the store answers, ctrl-r loads the list.
    b.tasks_unreachable = false;
    ctrl(&mut app, 'r');
    pump(&mut app, &mut b);
    assert_eq!(ids(&app).len(), 5);
    // A later failure keeps the rows and says so.
    b.tasks_unreachable = true;
    ctrl(&mut app, 'r');
    pump(&mut app, &mut b);
    assert_eq!(ids(&app).len(), 5);
    let s = screen(&app);
    assert!(s.contains("✗ refresh failed: cannot reach"), "{s}");
}

#[test]
fn the_store_is_only_asked_while_the_view_is_shown() {
    let (mut app, mut b) = app((120, 40));
    refresh_ticks(&mut app, 3);
    pump(&mut app, &mut b);
    assert_eq!(task_reads(&b), 0, "agents view: no coordination traffic");
    open_tasks(&mut app, &mut b);
    assert_eq!(task_reads(&b), 1);
    for n in 2..=4 {
        refresh_ticks(&mut app, 1);
        pump(&mut app, &mut b);
        assert_eq!(task_reads(&b), n, "one list read per refresh");
    }
    // Engine updates (session files changing) do not hit the store.
    app.update(AppEvent::EngineUpdate);
    pump(&mut app, &mut b);
    assert_eq!(task_reads(&b), 4);
    keys(&mut app, ":costs\n");
    pump(&mut app, &mut b);
    refresh_ticks(&mut app, 3);
    pump(&mut app, &mut b);
    assert_eq!(task_reads(&b), 4, "left the view: no more reads");
}

#[test]
fn an_open_unfinished_task_follows_along_a_finished_one_does_not() {
    let (mut app, mut b) = app((120, 40));
    open_tasks(&mut app, &mut b);
    let detail_reads = |b: &FixtureBackend, id: &str| {
        b.calls()
            .iter()
            .filter(|c| **c == Call::TaskDetail(id.into()))
            .count()
    };
    keys(&mut app, "j\n"); // t-6, running
    pump(&mut app, &mut b);
    for _ in 0..2 {
        refresh_ticks(&mut app, 1);
        pump(&mut app, &mut b);
    }
    assert_eq!(detail_reads(&b, "t-6"), 3, "opened + two refreshes");
    // While a read is out, the next refresh does not pile another one on.
    refresh_ticks(&mut app, 2);
    pump(&mut app, &mut b);
    assert_eq!(detail_reads(&b, "t-6"), 4);
    key(&mut app, KeyCode::Esc);
    keys(&mut app, "j\n"); // t-5, done
    pump(&mut app, &mut b);
    for _ in 0..2 {
        refresh_ticks(&mut app, 1);
        pump(&mut app, &mut b);
    }
    assert_eq!(detail_reads(&b, "t-5"), 1, "a finished task is read once");
    // ctrl-r in the popup reads it again.
    ctrl(&mut app, 'r');
    pump(&mut app, &mut b);
    assert_eq!(detail_reads(&b, "t-5"), 2);
    assert!(matches!(app.popup, Some(Popup::TaskDetail)));
}

#[test]
fn task_command_submits_and_flashes_the_id() {
    let (mut app, mut b) = app((120, 40));
    keys(&mut app, ":task codex fix the flaky test\n");
    pump(&mut app, &mut b);
    assert!(b.calls().contains(&Call::SubmitTask {
        provider: "codex".into(),
        prompt: "fix the flaky test".into()
    }));
    let flash = app.flash.clone().expect("message");
    assert!(
        !flash.error && flash.text == "t-8 queued for codex",
        "{flash:?}"
    );
    assert_eq!(
        app.view,
        View::Agents,
        "submitting does not change the view"
    );
    // Bad input only says so.
    keys(&mut app, ":task\n");
    let flash = app.flash.clone().expect("message");
    assert!(flash.error && flash.text.contains("claude, codex, gemini"));
    keys(&mut app, ":task gpt prompt\n");
    assert!(app.flash.clone().is_some_and(|f| f.text.contains("'gpt'")));
    // A store that does not answer: the reason, no crash.
    b.tasks_unreachable = true;
    keys(&mut app, ":task claude hello\n");
    pump(&mut app, &mut b);
    let flash = app.flash.clone().expect("message");
    assert!(
        flash.error && flash.text.starts_with("task not submitted: cannot reach"),
        "{flash:?}"
    );
}

#[test]
fn n_opens_a_prompt_tab_picks_the_provider_enter_submits() {
    let (mut app, mut b) = app((120, 40));
    open_tasks(&mut app, &mut b);
    keys(&mut app, "n");
    assert!(matches!(app.popup, Some(Popup::NewTask { .. })));
    // Enter on an empty prompt submits nothing and keeps the popup.
    key(&mut app, KeyCode::Enter);
    assert!(matches!(app.popup, Some(Popup::NewTask { .. })));
    // Typed keys go into the prompt, not to the view (q does not quit, j does not move).
    keys(&mut app, "q and j are text");
    assert!(!app.should_quit);
    key(&mut app, KeyCode::Tab);
    key(&mut app, KeyCode::Tab);
    assert!(matches!(
        app.popup,
        Some(Popup::NewTask { provider: 2, .. })
    ));
    key(&mut app, KeyCode::Enter);
    assert!(app.popup.is_none());
    pump(&mut app, &mut b);
    assert!(b.calls().contains(&Call::SubmitTask {
        provider: "gemini".into(),
        prompt: "q and j are text".into()
    }));
    assert_eq!(
        app.flash.clone().map(|f| f.text).as_deref(),
        Some("t-8 queued for gemini")
    );
    // The list was reloaded after the submit; the next popup starts with the last provider.
    assert!(b.calls().iter().filter(|c| **c == Call::Tasks).count() >= 2);
    keys(&mut app, "n");
    assert!(matches!(
        app.popup,
        Some(Popup::NewTask { provider: 2, .. })
    ));
    key(&mut app, KeyCode::Esc);
    assert!(app.popup.is_none());
    assert_eq!(
        b.calls()
            .iter()
            .filter(|c| matches!(c, Call::SubmitTask { .. }))
            .count(),
        1,
        "esc submits nothing"
    );
}

#[test]
fn help_and_footer_list_the_tasks_keys() {
    let (mut app, mut b) = app((120, 40));
    open_tasks(&mut app, &mut b);
    let footer = app.keymap.footer(Scope::Tasks);
    for (k, label) in [("enter", "details"), ("n", "new"), ("/", "filter")] {
        assert!(
            footer.contains(&(k.to_string(), label)),
            "{k} {label}: {footer:?}"
        );
    }
    let help = app.keymap.help();
    let tasks = help
        .iter()
        .find(|(t, _)| *t == "Tasks")
        .expect("a Tasks section in the help");
    assert!(
        tasks
            .1
            .iter()
            .any(|(k, d)| k == "enter" && d.contains("log"))
    );
    assert!(
        tasks
            .1
            .iter()
            .any(|(k, d)| k == "n" && d.contains("submit"))
    );
    let everywhere = help
        .iter()
        .find(|(t, _)| *t == "Everywhere")
        .expect("global");
    assert!(
        everywhere
            .1
            .iter()
            .any(|(k, d)| k == "T" && d.contains("task"))
    );
    let lines: Vec<String> = aimux_tui::ui::help_lines(&app)
        .iter()
        .map(|l| l.spans.iter().map(|s| s.content.as_ref()).collect())
        .collect();
    assert!(lines.iter().any(|l| l.contains(":task PROVIDER PROMPT")));
    assert!(!lines.iter().any(|l| l.contains("not in this build")));
    let s = screen(&app);
    assert!(s.contains("enter details"), "{s}");
}

#[test]
fn tasks_view_draws_at_any_size() {
    for (w, h) in [(1, 1), (10, 4), (30, 8), (45, 12), (200, 60)] {
        let (mut app, mut b) = app((w, h));
        open_tasks(&mut app, &mut b);
        let _ = screen(&app);
        keys(&mut app, "jj\n");
        pump(&mut app, &mut b);
        app.update(AppEvent::Resize(w.saturating_add(7), h));
        let _ = screen(&app);
        keys(&mut app, "Gq");
        keys(&mut app, "n");
        let _ = screen(&app);
    }
}
