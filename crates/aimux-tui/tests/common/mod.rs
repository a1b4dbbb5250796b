//! Test helpers: an app on fixed time and fixture data, driven synchronously.
#![allow(dead_code)]

use aimux_tui::app::App;
use aimux_tui::backend::Backend;
use aimux_tui::event::AppEvent;
use aimux_tui::fixture::{self, FixtureBackend};
use aimux_tui::{TuiConfig, ui, worker};
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::Terminal;
use ratatui::backend::TestBackend;

pub fn app_with(config: &TuiConfig, no_color: bool, size: (u16, u16)) -> App {
    let mut app = App::new(config, no_color);
    app.live_clock = false;
    app.now = fixture::now();
    app.home_dir = Some("/home/dev".into());
    app.size = size;
    app
}

/// An app at `size` that has loaded the agents list.
pub fn app(size: (u16, u16)) -> (App, FixtureBackend) {
    let mut app = app_with(&TuiConfig::default(), false, size);
    let mut backend = FixtureBackend::new();
    app.start();
    pump(&mut app, &mut backend);
    (app, backend)
}

/// Carries out every queued request on this thread and feeds the results back.
pub fn pump(app: &mut App, backend: &mut dyn Backend) {
    for _ in 0..20 {
        let requests = app.take_requests();
        if requests.is_empty() {
            return;
        }
        for r in requests {
            let response = worker::execute(backend, r);
            app.update(AppEvent::Response(Box::new(response)));
        }
    }
    panic!("requests keep coming");
}

pub fn key(app: &mut App, code: KeyCode) {
    app.update(AppEvent::Key(KeyEvent::new(code, KeyModifiers::NONE)));
}

pub fn ctrl(app: &mut App, c: char) {
    app.update(AppEvent::Key(KeyEvent::new(
        KeyCode::Char(c),
        KeyModifiers::CONTROL,
    )));
}

/// Types characters one by one (each a key event); `\n` is Enter.
pub fn keys(app: &mut App, s: &str) {
    for c in s.chars() {
        if c == '\n' {
            key(app, KeyCode::Enter);
        } else {
            key(app, KeyCode::Char(c));
        }
    }
}

pub fn render(app: &App) -> Terminal<TestBackend> {
    let mut t = Terminal::new(TestBackend::new(app.size.0, app.size.1)).expect("terminal");
    t.draw(|f| ui::draw(app, f)).expect("draw");
    t
}

/// The screen as plain text lines.
pub fn screen(app: &App) -> String {
    let t = render(app);
    let buf = t.backend().buffer();
    let mut out = String::new();
    for y in 0..buf.area.height {
        for x in 0..buf.area.width {
            out.push_str(buf[(x, y)].symbol());
        }
        out.push('\n');
    }
    out
}
