//! aimux's terminal dashboard (ratatui). Views of live agents, sessions, costs, traces with
//! annotations, teams and health; a `:` command bar; a keymap and theme that are data.
//!
//! The TUI never reads files or opens sockets: everything comes through a [`Backend`],
//! called on a worker thread. One event loop receives inputs, ticks, engine updates and
//! backend results as typed events; `App::update` changes state; `ui::draw` is pure;
//! redraws are coalesced.

pub mod app;
pub mod backend;
pub mod command;
pub mod config;
pub mod event;
pub mod fixture;
pub mod fmt;
pub mod highlight;
pub mod input;
pub mod keymap;
pub mod markdown;
pub mod term;
pub mod theme;
pub mod ui;
pub mod views;
pub mod worker;
pub mod wrap;

pub use app::App;
pub use backend::{Backend, CostScope};
pub use config::{KeyList, TuiConfig};

use std::io::IsTerminal;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::channel;

/// Runs the dashboard until the user quits. Sets up the terminal and always restores it
/// (also on panic). `NO_COLOR` in the environment turns colours off.
pub fn run(backend: impl Backend + Send + 'static, config: TuiConfig) -> anyhow::Result<()> {
    if !std::io::stdout().is_terminal() || !std::io::stdin().is_terminal() {
        anyhow::bail!(
            "the dashboard needs a terminal; use the subcommands (with --json) in scripts"
        );
    }
    let mut app = App::new(&config, theme::Theme::no_color_from_env());
    app.home_dir = std::env::var("HOME").ok().filter(|h| !h.is_empty());
    let (tx, rx) = channel();
    app.events = Some(tx.clone());
    let (requests, worker_thread) = worker::spawn(backend, tx.clone())?;
    let stop = Arc::new(AtomicBool::new(false));
    let mut terminal = term::setup()?;
    let result = (|| {
        term::spawn_input(tx.clone(), stop.clone())?;
        term::spawn_ticks(tx.clone(), stop.clone())?;
        term::event_loop(&mut terminal, &mut app, &rx, &requests)
    })();
    stop.store(true, Ordering::Relaxed);
    term::restore();
    // What the user asked for last (a label, a note, a kill) may still be queued or running
    // on the worker: let the worker finish its queue before the process exits, but never
    // hang on a stuck backend.
    drop(requests);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while !worker_thread.is_finished() && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
    result
}
