//! Terminal setup and restore, the panic hook, the input and tick threads, and the event
//! loop that ties them to the [`App`].

use crate::app::{App, TICK_MS};
use crate::event::{AppEvent, Request};
use crate::ui;
use anyhow::Context;
use crossterm::event::{DisableMouseCapture, EnableMouseCapture, Event};
use crossterm::execute;
use crossterm::terminal::{
    EnterAlternateScreen, LeaveAlternateScreen, disable_raw_mode, enable_raw_mode,
};
use ratatui::Terminal;
use ratatui::backend::{Backend as TermBackend, CrosstermBackend};
use std::io::Stdout;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::{Receiver, Sender};
use std::time::Duration;

pub type Term = Terminal<CrosstermBackend<Stdout>>;

/// Puts the terminal back the way the shell expects it. Safe to call more than once.
pub fn restore() {
    let _ = disable_raw_mode();
    let _ = execute!(
        std::io::stdout(),
        DisableMouseCapture,
        LeaveAlternateScreen,
        crossterm::cursor::Show
    );
}

/// Raw mode, alternate screen, mouse capture; a panic hook that restores the terminal
/// before the panic message is printed.
pub fn setup() -> anyhow::Result<Term> {
    let previous = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        restore();
        previous(info);
    }));
    enable_raw_mode().context("cannot switch the terminal to raw mode")?;
    let mut out = std::io::stdout();
    if let Err(e) = execute!(out, EnterAlternateScreen, EnableMouseCapture) {
        restore();
        return Err(e).context("cannot set up the terminal");
    }
    match Terminal::new(CrosstermBackend::new(out)) {
        Ok(t) => Ok(t),
        Err(e) => {
            restore();
            Err(e).context("cannot set up the terminal")
        }
    }
}

/// Reads terminal input on its own thread until `stop` is set. Key contents go only into
/// the channel: nothing is logged.
pub fn spawn_input(events: Sender<AppEvent>, stop: Arc<AtomicBool>) -> std::io::Result<()> {
    std::thread::Builder::new()
        .name("aimux-tui-input".into())
        .spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                match crossterm::event::poll(Duration::from_millis(100)) {
                    Ok(true) => {}
                    Ok(false) => continue,
                    Err(_) => break,
                }
                let ev = match crossterm::event::read() {
                    Ok(Event::Key(k)) => AppEvent::Key(k),
                    Ok(Event::Mouse(m)) => AppEvent::Mouse(m),
                    Ok(Event::Resize(w, h)) => AppEvent::Resize(w, h),
                    Ok(_) => continue,
                    Err(_) => break,
                };
                if events.send(ev).is_err() {
                    break;
                }
            }
        })?;
    Ok(())
}

pub fn spawn_ticks(events: Sender<AppEvent>, stop: Arc<AtomicBool>) -> std::io::Result<()> {
    std::thread::Builder::new()
        .name("aimux-tui-tick".into())
        .spawn(move || {
            while !stop.load(Ordering::Relaxed) {
                std::thread::sleep(Duration::from_millis(TICK_MS));
                if events.send(AppEvent::Tick).is_err() {
                    break;
                }
            }
        })?;
    Ok(())
}

/// The one event loop: block for an event, apply it and everything else already queued,
/// hand new requests to the worker, draw once.
pub fn event_loop<B: TermBackend>(
    terminal: &mut Terminal<B>,
    app: &mut App,
    events: &Receiver<AppEvent>,
    requests: &Sender<Request>,
) -> anyhow::Result<()>
where
    B::Error: Send + Sync + 'static,
{
    if let Ok(size) = terminal.size() {
        app.size = (size.width, size.height);
    }
    app.start();
    loop {
        for r in app.take_requests() {
            if requests.send(r).is_err() {
                anyhow::bail!("the backend worker stopped");
            }
        }
        if app.should_quit {
            return Ok(());
        }
        terminal.draw(|f| ui::draw(app, f))?;
        let Ok(first) = events.recv() else {
            return Ok(());
        };
        let mut redraw = app.update(first);
        while let Ok(ev) = events.try_recv() {
            redraw |= app.update(ev);
        }
        while !redraw && !app.should_quit {
            for r in app.take_requests() {
                if requests.send(r).is_err() {
                    anyhow::bail!("the backend worker stopped");
                }
            }
            let Ok(ev) = events.recv() else {
                return Ok(());
            };
            redraw |= app.update(ev);
            while let Ok(ev) = events.try_recv() {
                redraw |= app.update(ev);
            }
        }
    }
}
