//! The split view: the agent's trace on the left, its live terminal on the right.
//!
//! The right pane is a real terminal: a PTY running a tmux client attached to the pane the
//! agent runs in (`tmux -S <socket> attach-session -t %<pane>`), its output fed to a vt100
//! emulator and drawn with tui-term. Keys go to the PTY while it has the focus (UTF-8,
//! arrows, Enter, Esc, ctrl keys). Detaching ends the tmux client only: the agent, its pane
//! and its session are never touched. Keystrokes are written to the PTY and nowhere else.

use crate::app::{App, Popup, View};
use crate::event::{AppEvent, Request};
use crate::views::{muted, styled, trace};
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use portable_pty::{Child, CommandBuilder, MasterPty, PtySize, native_pty_system};
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Modifier;
use ratatui::text::Line;
use ratatui::widgets::{Block, BorderType, Borders, Paragraph};
use std::io::{Read, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::mpsc::Sender;
use std::sync::{Arc, Mutex};
use tui_term::vt100;
use tui_term::widget::PseudoTerminal;

/// Keys of the split view (shown in its footer).
pub const KEY_FOCUS: &str = "tab";
pub const KEY_ZOOM: &str = "ctrl-]";
pub const KEY_DETACH: &str = "ctrl-\\";

/// The `pid` of a remote attach: the agent has no local process.
pub const REMOTE_PID: u32 = 0;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Focus {
    Terminal,
    Trace,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Zoom {
    Split,
    Terminal,
    Trace,
}

struct Pty {
    writer: Box<dyn Write + Send>,
    master: Box<dyn MasterPty + Send>,
    child: Box<dyn Child + Send + Sync>,
}

pub struct State {
    pub pid: u32,
    pub provider: String,
    /// `socket:%pane`, as shown.
    pub target: String,
    pub focus: Focus,
    pub zoom: Zoom,
    pub parser: Arc<Mutex<vt100::Parser>>,
    /// Set by the reader thread when the tmux client ended.
    pub exited: Arc<AtomicBool>,
    /// (cols, rows) of the emulated screen.
    pub size: (u16, u16),
    pty: Option<Pty>,
}

impl State {
    /// A split view with no process behind it (tests; a client that failed to start).
    pub fn detached(pid: u32, provider: &str, target: &str, size: (u16, u16)) -> State {
        State {
            pid,
            provider: provider.to_string(),
            target: target.to_string(),
            focus: Focus::Terminal,
            zoom: Zoom::Split,
            parser: Arc::new(Mutex::new(vt100::Parser::new(size.1, size.0, 0))),
            exited: Arc::new(AtomicBool::new(false)),
            size,
            pty: None,
        }
    }

    /// Feeds terminal output to the emulator (the reader thread does this for a PTY).
    pub fn feed(&self, bytes: &[u8]) {
        if let Ok(mut p) = self.parser.lock() {
            p.process(bytes);
        }
    }

    /// The screen as text, rows joined by newlines (for tests and diagnostics).
    pub fn contents(&self) -> String {
        self.parser
            .lock()
            .map(|p| p.screen().contents())
            .unwrap_or_default()
    }

    /// Attached to an agent in a pod (no local process).
    pub fn is_remote(&self) -> bool {
        self.pid == REMOTE_PID
    }

    pub fn is_live(&self) -> bool {
        self.pty.is_some() && !self.exited.load(Ordering::Relaxed)
    }

    fn write(&mut self, bytes: &[u8]) {
        if let Some(pty) = &mut self.pty {
            let _ = pty.writer.write_all(bytes);
            let _ = pty.writer.flush();
        }
    }

    fn resize(&mut self, cols: u16, rows: u16) {
        let (cols, rows) = (cols.max(2), rows.max(2));
        if (cols, rows) == self.size {
            return;
        }
        self.size = (cols, rows);
        if let Ok(mut p) = self.parser.lock() {
            p.screen_mut().set_size(rows, cols);
        }
        if let Some(pty) = &self.pty {
            let _ = pty.master.resize(PtySize {
                rows,
                cols,
                pixel_width: 0,
                pixel_height: 0,
            });
        }
    }

    /// Ends the tmux client (never the agent).
    pub fn close(&mut self) {
        if let Some(mut pty) = self.pty.take() {
            // Detach politely first, then make sure the client is gone.
            let _ = pty.writer.write_all(b"");
            let _ = pty.child.kill();
            let _ = pty.child.wait();
        }
    }
}

impl Drop for State {
    fn drop(&mut self) {
        self.close();
    }
}

/// Starts a tmux client for `argv` in a PTY of `size` (cols, rows). Output is fed to the
/// emulator on a thread, which sends [`AppEvent::Terminal`] so the screen is redrawn.
fn start(
    state: &mut State,
    argv: &[String],
    events: Option<Sender<AppEvent>>,
) -> anyhow::Result<()> {
    let (program, args) = argv
        .split_first()
        .ok_or_else(|| anyhow::anyhow!("no command"))?;
    let pair = native_pty_system().openpty(PtySize {
        rows: state.size.1,
        cols: state.size.0,
        pixel_width: 0,
        pixel_height: 0,
    })?;
    let mut cmd = CommandBuilder::new(program);
    cmd.args(args);
    // A client of another server from inside tmux needs TMUX unset; the emulator is an
    // xterm-like terminal.
    cmd.env_remove("TMUX");
    cmd.env("TERM", "xterm-256color");
    let child = pair.slave.spawn_command(cmd)?;
    drop(pair.slave);
    let mut reader = pair.master.try_clone_reader()?;
    let writer = pair.master.take_writer()?;
    let parser = state.parser.clone();
    let exited = state.exited.clone();
    std::thread::Builder::new()
        .name("aimux-tui-pty".into())
        .spawn(move || {
            let mut buf = [0u8; 16 * 1024];
            loop {
                match reader.read(&mut buf) {
                    Ok(0) | Err(_) => break,
                    Ok(n) => {
                        if let Ok(mut p) = parser.lock() {
                            p.process(buf.get(..n).unwrap_or_default());
                        }
                        if let Some(tx) = &events
                            && tx.send(AppEvent::Terminal).is_err()
                        {
                            break;
                        }
                    }
                }
            }
            exited.store(true, Ordering::Relaxed);
            if let Some(tx) = &events {
                let _ = tx.send(AppEvent::Terminal);
            }
        })?;
    state.pty = Some(Pty {
        writer,
        master: pair.master,
        child,
    });
    Ok(())
}

/// The emulated screen's size for a screen of `size`: the right half of the body, inside
/// its border (or the whole body when zoomed).
pub fn term_size(app_size: (u16, u16), zoom: Zoom) -> (u16, u16) {
    let body_h = app_size.1.saturating_sub(2);
    let w = match zoom {
        Zoom::Terminal => app_size.0,
        _ => app_size.0 - app_size.0 / 2,
    };
    (w.saturating_sub(2).max(2), body_h.saturating_sub(2).max(2))
}

/// Wrap width of the trace: its half of the split view, or the whole screen.
pub fn trace_width(app: &App) -> usize {
    match app.attach.as_ref().map(|s| s.zoom) {
        Some(Zoom::Split) => trace::text_width((app.size.0 / 2, app.size.1)),
        _ => trace::text_width(app.size),
    }
}

fn relayout_trace(app: &mut App) {
    let width = trace_width(app);
    app.trace.relayout(&app.theme, width);
}

/// Enter (or `a`) on an agent: the split view when it runs in tmux. Otherwise `a` offers a
/// choice (trace only, or resume in a new tmux session as a second process) and Enter
/// opens the trace only, saying why.
pub fn open_selected(app: &mut App, ask: bool) {
    let Some(a) = app.agents.selected_agent().cloned() else {
        return;
    };
    if let Some(r) = &a.remote {
        if r.attachable {
            app.flash(format!("attaching to pod {}…", r.pod), false);
            app.request(Request::AttachRemote {
                pod: r.pod.clone(),
                provider: a.provider.to_string(),
            });
        } else if r.role == "worker" {
            app.flash(
                format!(
                    "{} is a task worker: nothing to attach to (T shows the tasks)",
                    r.pod
                ),
                true,
            );
        } else {
            app.flash(
                format!("{} is not running: {}", r.pod, a.status_reason),
                true,
            );
        }
        return;
    }
    let parsed = a
        .tmux_target
        .as_deref()
        .and_then(aimux_engine::tmux::Tmux::for_target);
    let (Some(target), Some((tmux, pane))) = (a.tmux_target.clone(), parsed) else {
        if ask {
            app.popup = Some(Popup::NotInTmux {
                pid: a.pid,
                provider: a.provider.to_string(),
                session_id: a.session_id.clone(),
            });
            return;
        }
        match a.session_id.clone() {
            // Not in tmux: the trace only (`a` on the agent says so and offers a resume).
            Some(id) => app.open_trace(id),
            None => app.flash("not in tmux, and no session found for this agent yet", true),
        }
        return;
    };
    // attach-session with a pane target also selects that pane's window and pane.
    let argv = tmux.argv(&["attach-session", "-t", &pane]);
    let mut st = State::detached(
        a.pid,
        a.provider.as_str(),
        &target,
        term_size(app.size, Zoom::Split),
    );
    if let Err(e) = start(&mut st, &argv, app.events.clone()) {
        app.flash(format!("cannot start a tmux client: {e:#}"), true);
        return;
    }
    match a.session_id.clone() {
        Some(id) => app.open_trace(id),
        None => app.switch(View::Trace),
    }
    install(app, st);
    app.flash(
        format!("attached to {target} · {KEY_DETACH} detaches (the agent keeps running)"),
        false,
    );
}

/// A remote session (`:new` → Remote, or Enter on a k8s agent): the terminal pane runs
/// `argv` (the backend's attach command: this terminal ↔ the pod's tmux over the API's
/// exec WebSocket), full width — the session's files live in the pod, so there is no
/// local trace to show beside it.
pub fn open_remote(app: &mut App, pod: &str, provider: &str, argv: Result<Vec<String>, String>) {
    let argv = match argv {
        Ok(argv) => argv,
        Err(e) if pod.is_empty() => {
            app.flash(format!("remote {provider} not started: {e}"), true);
            return;
        }
        Err(e) => {
            app.flash(format!("cannot attach to {pod}: {e}"), true);
            return;
        }
    };
    let mut st = State::detached(
        REMOTE_PID,
        provider,
        &format!("pod {pod}"),
        term_size(app.size, Zoom::Terminal),
    );
    st.zoom = Zoom::Terminal;
    if let Err(e) = start(&mut st, &argv, app.events.clone()) {
        app.flash(format!("cannot start the attach: {e:#}"), true);
        return;
    }
    app.trace = trace::State::default();
    app.switch(View::Trace);
    install(app, st);
    app.flash(
        format!("attached to pod {pod} · {KEY_DETACH} or C-b d detaches (the agent keeps running)"),
        false,
    );
    app.request(Request::Agents);
}

/// Shows `st` beside the trace (the trace re-wraps to its half).
pub fn install(app: &mut App, st: State) {
    app.attach = Some(st);
    relayout_trace(app);
}

/// Closes the split view's client; the agent keeps running.
pub fn detach(app: &mut App) {
    if let Some(mut st) = app.attach.take() {
        st.close();
        relayout_trace(app);
        app.flash(
            if st.is_remote() {
                format!("detached from {} (it keeps running)", st.target)
            } else {
                format!(
                    "detached from {} agent {} (it keeps running)",
                    st.provider, st.pid
                )
            },
            false,
        );
    }
}

/// Output arrived or the client ended.
pub fn on_terminal_event(app: &mut App) {
    if app
        .attach
        .as_ref()
        .is_some_and(|s| s.pty.is_some() && s.exited.load(Ordering::Relaxed))
        && let Some(mut st) = app.attach.take()
    {
        st.close();
        if st.is_remote() {
            app.flash(
                format!("detached from {} (the agent keeps running)", st.target),
                false,
            );
        } else {
            app.flash(
                "the tmux client ended (the agent's pane or session is gone)",
                true,
            );
        }
    }
}

pub fn on_resize(app: &mut App) {
    let size = app.size;
    if let Some(st) = &mut app.attach {
        let (c, r) = term_size(size, st.zoom);
        st.resize(c, r);
    }
}

/// Keys while the split view is open. Returns true when the key was used here.
pub fn on_key(app: &mut App, key: &KeyEvent) -> bool {
    if app.view != View::Trace {
        // The user left the trace some other way: the client goes.
        detach(app);
        return false;
    }
    let size = app.size;
    let Some(st) = app.attach.as_mut() else {
        return false;
    };
    let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
    match key.code {
        KeyCode::Char('\\') | KeyCode::Char('4') if ctrl => {
            detach(app);
            return true;
        }
        KeyCode::Char(']') | KeyCode::Char('5') if ctrl => {
            st.zoom = match (st.zoom, st.focus) {
                (Zoom::Split, Focus::Terminal) => Zoom::Terminal,
                (Zoom::Split, Focus::Trace) => Zoom::Trace,
                _ => Zoom::Split,
            };
            let (c, r) = term_size(size, st.zoom);
            st.resize(c, r);
            relayout_trace(app);
            return true;
        }
        KeyCode::Tab if !ctrl => {
            st.focus = match st.focus {
                Focus::Terminal => Focus::Trace,
                Focus::Trace => Focus::Terminal,
            };
            if st.zoom != Zoom::Split {
                st.zoom = match st.focus {
                    Focus::Terminal => Zoom::Terminal,
                    Focus::Trace => Zoom::Trace,
                };
                let (c, r) = term_size(size, st.zoom);
                st.resize(c, r);
                relayout_trace(app);
            }
            return true;
        }
        _ => {}
    }
    if st.focus == Focus::Trace {
        if key.code == KeyCode::Esc {
            // Esc on the trace leaves the split view.
            detach(app);
            return true;
        }
        return false;
    }
    let app_cursor = st
        .parser
        .lock()
        .map(|p| p.screen().application_cursor())
        .unwrap_or(false);
    if let Some(bytes) = encode_key(key, app_cursor) {
        st.write(&bytes);
    }
    true
}

/// The bytes a terminal sends for `key`.
pub fn encode_key(key: &KeyEvent, application_cursor: bool) -> Option<Vec<u8>> {
    let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
    let alt = key.modifiers.contains(KeyModifiers::ALT);
    let csi = |s: &str| format!("\x1b[{s}").into_bytes();
    let cursor = |c: char| {
        if application_cursor {
            format!("\x1bO{c}").into_bytes()
        } else {
            format!("\x1b[{c}").into_bytes()
        }
    };
    let mut out = match key.code {
        KeyCode::Char(c) if ctrl => match c.to_ascii_lowercase() {
            c @ 'a'..='z' => vec![(c as u8) & 0x1f],
            ' ' | '@' | '2' => vec![0],
            '[' | '3' => vec![0x1b],
            '\\' | '4' => vec![0x1c],
            ']' | '5' => vec![0x1d],
            '^' | '6' => vec![0x1e],
            '_' | '7' | '/' => vec![0x1f],
            '8' | '?' => vec![0x7f],
            other => other.to_string().into_bytes(),
        },
        KeyCode::Char(c) => c.to_string().into_bytes(),
        KeyCode::Enter => vec![b'\r'],
        KeyCode::Tab => vec![b'\t'],
        KeyCode::BackTab => csi("Z"),
        KeyCode::Backspace => vec![0x7f],
        KeyCode::Esc => vec![0x1b],
        KeyCode::Up => cursor('A'),
        KeyCode::Down => cursor('B'),
        KeyCode::Right => cursor('C'),
        KeyCode::Left => cursor('D'),
        KeyCode::Home => cursor('H'),
        KeyCode::End => cursor('F'),
        KeyCode::PageUp => csi("5~"),
        KeyCode::PageDown => csi("6~"),
        KeyCode::Delete => csi("3~"),
        KeyCode::Insert => csi("2~"),
        KeyCode::F(n) => match n {
            1 => b"\x1bOP".to_vec(),
            2 => b"\x1bOQ".to_vec(),
            3 => b"\x1bOR".to_vec(),
            4 => b"\x1bOS".to_vec(),
            5 => csi("15~"),
            6 => csi("17~"),
            7 => csi("18~"),
            8 => csi("19~"),
            9 => csi("20~"),
            10 => csi("21~"),
            11 => csi("23~"),
            12 => csi("24~"),
            _ => return None,
        },
        _ => return None,
    };
    if alt {
        out.insert(0, 0x1b);
    }
    Some(out)
}

pub fn draw(app: &App, f: &mut Frame, area: Rect) {
    let Some(st) = &app.attach else {
        trace::draw(app, f, area);
        return;
    };
    let (left, right) = match st.zoom {
        Zoom::Split => {
            let [l, r] =
                Layout::horizontal([Constraint::Length(area.width / 2), Constraint::Min(1)])
                    .areas(area);
            (Some(l), Some(r))
        }
        Zoom::Terminal => (None, Some(area)),
        Zoom::Trace => (Some(area), None),
    };
    if let Some(l) = left {
        trace::draw(app, f, l);
    }
    let Some(r) = right else {
        return;
    };
    let t = &app.theme;
    let focused = st.focus == Focus::Terminal;
    let live = if st.pty.is_none() || st.is_live() {
        "live"
    } else {
        "ended"
    };
    let (who, via) = if st.is_remote() {
        (format!(" {} (k8s) ", st.provider), "tmux in")
    } else {
        (format!(" {} {} ", st.provider, st.pid), "tmux")
    };
    let title = Line::from(vec![
        styled(who, t.title.add_modifier(Modifier::BOLD)),
        muted(t, format!("· {live} · {via} {} ", st.target)),
    ]);
    let block = Block::default()
        .borders(Borders::ALL)
        .border_type(if focused {
            BorderType::Thick
        } else {
            BorderType::Plain
        })
        .border_style(if focused { t.accent } else { t.border })
        .title(title);
    match st.parser.lock() {
        Ok(p) => f.render_widget(PseudoTerminal::new(p.screen()).block(block), r),
        Err(_) => f.render_widget(Paragraph::new("terminal unavailable").block(block), r),
    }
}

/// The footer while the split view is open: its own keys.
pub fn draw_footer(app: &App, f: &mut Frame, area: Rect) {
    let Some(st) = &app.attach else {
        return;
    };
    let t = &app.theme;
    let focus = match st.focus {
        Focus::Terminal => "keys → agent",
        Focus::Trace => "keys → trace",
    };
    let mut spans = vec![styled(format!(" {focus} "), t.accent), muted(t, " │ ")];
    for (k, what) in [
        (KEY_FOCUS, "focus"),
        (KEY_ZOOM, "zoom"),
        (KEY_DETACH, "detach (agent keeps running)"),
    ] {
        spans.push(styled(k.to_string(), t.key));
        spans.push(muted(t, format!(" {what}  ")));
    }
    if let Some(flash) = &app.flash {
        spans.push(styled(
            flash.text.clone(),
            if flash.error { t.error } else { t.muted },
        ));
    }
    f.render_widget(Paragraph::new(Line::from(spans)), area);
}

#[cfg(test)]
mod tests {
    use super::*;

    fn k(code: KeyCode, m: KeyModifiers) -> KeyEvent {
        KeyEvent::new(code, m)
    }

    #[test]
    fn keys_become_terminal_bytes() {
        let none = KeyModifiers::NONE;
        assert_eq!(
            encode_key(&k(KeyCode::Char('é'), none), false),
            Some("é".as_bytes().to_vec())
        );
        assert_eq!(
            encode_key(&k(KeyCode::Char('c'), KeyModifiers::CONTROL), false),
            Some(vec![3])
        );
        assert_eq!(encode_key(&k(KeyCode::Enter, none), false), Some(vec![13]));
        assert_eq!(encode_key(&k(KeyCode::Esc, none), false), Some(vec![27]));
        assert_eq!(
            encode_key(&k(KeyCode::Up, none), false),
            Some(b"\x1b[A".to_vec())
        );
        assert_eq!(
            encode_key(&k(KeyCode::Up, none), true),
            Some(b"\x1bOA".to_vec())
        );
        assert_eq!(
            encode_key(&k(KeyCode::Char('x'), KeyModifiers::ALT), false),
            Some(b"\x1bx".to_vec())
        );
        assert_eq!(
            encode_key(&k(KeyCode::BackTab, KeyModifiers::SHIFT), false),
            Some(b"\x1b[Z".to_vec())
        );
    }

    #[test]
    fn a_real_pty_echoes_typed_keys() {
        // `cat` in a PTY: what we type comes back through the emulator.
        let mut st = State::detached(1, "test", "none", (40, 5));
        let argv = vec!["cat".to_string()];
        if start(&mut st, &argv, None).is_err() {
            println!("SKIPPED a_real_pty_echoes_typed_keys: no PTY here");
            return;
        }
        for c in "héllo".chars() {
            let bytes =
                encode_key(&k(KeyCode::Char(c), KeyModifiers::NONE), false).unwrap_or_default();
            st.write(&bytes);
        }
        st.write(b"\r");
        let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
        while std::time::Instant::now() < deadline && !st.contents().contains("héllo\nhéllo") {
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        assert!(
            st.contents().contains("héllo\nhéllo"),
            "screen: {:?}",
            st.contents()
        );
        st.close();
    }
}
