//! `:new`: the launcher overlay. Provider → directory (recent directories from every
//! provider's own history, or a typed path) → model, permission mode, first prompt, git
//! worktree, OTEL → launch. The agent starts in a detached tmux session
//! (`aimux-<provider>-<project>-<n>`), so it outlives aimux; discovery then lists it.
//! Tab on the first step switches to Remote: the agent starts in a new Kubernetes pod
//! (inside tmux there) and the split view attaches to it (`aimux remote new --attach`).
//! Headless twin: `aimux spawn PROVIDER [--dir D] [--model M] [--mode MODE] [--prompt TEXT]
//! [--worktree NAME] [--otel] --detach`.

use crate::app::App;
use crate::event::Request;
use crate::input::{InputOutcome, TextInput};
use crate::views::{muted, styled};
use aimux_core::Provider;
use aimux_engine::spawn::SpawnSpec;
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::Modifier;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, BorderType, Borders, Clear, Paragraph};
use std::path::PathBuf;

pub const PROVIDERS: [Provider; 3] = [Provider::Claude, Provider::Codex, Provider::Gemini];

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    Provider,
    Directory,
    Options,
}

/// Fields of the options step, in order.
pub const FIELDS: [&str; 6] = ["model", "mode", "prompt", "worktree", "otel", "launch"];

#[derive(Debug, Clone)]
pub struct State {
    pub step: Step,
    pub provider: usize,
    /// Recent directories, most recent first.
    pub dirs: Vec<String>,
    pub dir_selected: usize,
    pub dir: TextInput,
    pub field: usize,
    pub model: TextInput,
    pub mode: TextInput,
    pub prompt: TextInput,
    pub worktree: TextInput,
    pub otel: bool,
    /// Start it in a Kubernetes pod instead of local tmux.
    pub remote: bool,
}

impl State {
    pub fn new(dirs: Vec<String>, cwd: Option<String>) -> State {
        let mut dirs_all: Vec<String> = Vec::new();
        for d in cwd.into_iter().chain(dirs) {
            if !d.is_empty() && !dirs_all.contains(&d) {
                dirs_all.push(d);
            }
        }
        let first = dirs_all.first().cloned().unwrap_or_default();
        State {
            step: Step::Provider,
            provider: 0,
            dirs: dirs_all,
            dir_selected: 0,
            dir: TextInput::new(&first),
            field: 2,
            model: TextInput::new(""),
            mode: TextInput::new(""),
            prompt: TextInput::new(""),
            worktree: TextInput::new(""),
            otel: false,
            remote: false,
        }
    }

    pub fn provider(&self) -> Provider {
        PROVIDERS
            .get(self.provider)
            .copied()
            .unwrap_or(Provider::Claude)
    }

    /// What will be started.
    pub fn spec(&self) -> SpawnSpec {
        let opt = |i: &TextInput| {
            let t = i.text();
            let t = t.trim();
            (!t.is_empty()).then(|| t.to_string())
        };
        SpawnSpec {
            provider: Some(self.provider()),
            dir: PathBuf::from(self.dir.text().trim()),
            model: opt(&self.model),
            mode: opt(&self.mode),
            // The prompt is kept as typed (only empty means none).
            prompt: Some(self.prompt.text()).filter(|p| !p.trim().is_empty()),
            worktree: opt(&self.worktree),
            otel: self.otel,
            resume: None,
        }
    }

    fn input_mut(&mut self) -> Option<&mut TextInput> {
        match FIELDS.get(self.field).copied() {
            Some("model") => Some(&mut self.model),
            Some("mode") => Some(&mut self.mode),
            Some("prompt") => Some(&mut self.prompt),
            Some("worktree") => Some(&mut self.worktree),
            _ => None,
        }
    }
}

/// Recent directories from the sessions the app knows, most recent first.
pub fn recent_dirs(app: &App) -> Vec<String> {
    let mut rows: Vec<(&str, &str)> = app
        .sessions
        .all
        .iter()
        .filter_map(|r| Some((r.last_activity.as_deref().unwrap_or(""), r.cwd.as_deref()?)))
        .collect();
    rows.sort_by(|a, b| b.0.cmp(a.0));
    let mut out: Vec<String> = Vec::new();
    for (_, d) in rows {
        if !out.iter().any(|o| o == d) {
            out.push(d.to_string());
        }
        if out.len() >= 30 {
            break;
        }
    }
    out
}

/// Opens the launcher (`:new`).
pub fn open(app: &mut App) {
    if app.sessions.all.is_empty() {
        app.request(Request::Sessions);
    }
    let cwd = std::env::current_dir()
        .ok()
        .map(|d| d.display().to_string());
    app.launcher = Some(State::new(recent_dirs(app), cwd));
}

/// Keys while the launcher is open (it takes every key).
pub fn on_key(app: &mut App, key: &KeyEvent) {
    let Some(mut st) = app.launcher.take() else {
        return;
    };
    let ctrl = key.modifiers.contains(KeyModifiers::CONTROL);
    if ctrl && key.code == KeyCode::Char('c') {
        return; // closed
    }
    // Sessions may have arrived since the launcher opened.
    if st.dirs.len() <= 1 {
        let more = recent_dirs(app);
        for d in more {
            if !st.dirs.contains(&d) {
                st.dirs.push(d);
            }
        }
    }
    match st.step {
        Step::Provider
            if st.remote && matches!(key.code, KeyCode::Enter | KeyCode::Char('1'..='3')) =>
        {
            if let KeyCode::Char(c) = key.code {
                st.provider = usize::from(c as u8 - b'1');
            }
            let provider = st.provider().to_string();
            app.flash(
                format!("starting {provider} in a new pod (waits until it runs)…"),
                false,
            );
            app.request(Request::SpawnRemote { provider });
            return;
        }
        Step::Provider => match key.code {
            KeyCode::Esc => return,
            KeyCode::Tab | KeyCode::BackTab => st.remote = !st.remote,
            KeyCode::Up | KeyCode::Char('k') => st.provider = st.provider.saturating_sub(1),
            KeyCode::Down | KeyCode::Char('j') => {
                st.provider = (st.provider + 1).min(PROVIDERS.len() - 1)
            }
            KeyCode::Char(c @ '1'..='3') => {
                st.provider = usize::from(c as u8 - b'1');
                st.step = Step::Directory;
            }
            KeyCode::Enter => st.step = Step::Directory,
            _ => {}
        },
        Step::Directory => match key.code {
            KeyCode::Esc => st.step = Step::Provider,
            KeyCode::Up | KeyCode::Down => {
                if !st.dirs.is_empty() {
                    st.dir_selected = if key.code == KeyCode::Up {
                        st.dir_selected.saturating_sub(1)
                    } else {
                        (st.dir_selected + 1).min(st.dirs.len() - 1)
                    };
                    let d = st.dirs.get(st.dir_selected).cloned().unwrap_or_default();
                    st.dir.set(&d);
                }
            }
            KeyCode::Enter => {
                if st.dir.text().trim().is_empty() {
                    app.flash("type a directory or pick one", true);
                } else {
                    st.step = Step::Options;
                }
            }
            _ => {
                st.dir.handle(key);
            }
        },
        Step::Options => match key.code {
            KeyCode::Esc => st.step = Step::Directory,
            KeyCode::Up | KeyCode::BackTab => st.field = st.field.saturating_sub(1),
            KeyCode::Down | KeyCode::Tab => st.field = (st.field + 1).min(FIELDS.len() - 1),
            KeyCode::Char(' ') if FIELDS.get(st.field) == Some(&"otel") => st.otel = !st.otel,
            KeyCode::Enter => {
                if FIELDS.get(st.field) == Some(&"otel") {
                    st.otel = !st.otel;
                } else {
                    let spec = st.spec();
                    app.flash(
                        format!(
                            "starting {} in {} (tmux session aimux-{}-…)",
                            st.provider(),
                            spec.dir.display(),
                            st.provider()
                        ),
                        false,
                    );
                    app.request(Request::Spawn {
                        spec: Box::new(spec),
                    });
                    return;
                }
            }
            _ => {
                if let Some(input) = st.input_mut()
                    && let InputOutcome::Cancel = input.handle(key)
                {
                    st.step = Step::Directory;
                }
            }
        },
    }
    app.launcher = Some(st);
}

fn centered(area: Rect, w: u16, h: u16) -> Rect {
    let w = w.min(area.width);
    let h = h.min(area.height);
    Rect {
        x: area.x + (area.width - w) / 2,
        y: area.y + (area.height - h) / 2,
        width: w,
        height: h,
    }
}

fn field_line<'a>(app: &App, label: &str, value: String, selected: bool) -> Line<'a> {
    let t = &app.theme;
    let marker = if selected { "▶ " } else { "  " };
    Line::from(vec![
        styled(marker.to_string(), t.accent),
        styled(
            format!("{label:<10}"),
            if selected {
                t.key.add_modifier(Modifier::BOLD)
            } else {
                t.muted
            },
        ),
        styled(value, t.text),
    ])
}

pub fn draw(app: &App, f: &mut Frame, area: Rect) {
    let Some(st) = &app.launcher else {
        return;
    };
    let t = &app.theme;
    let r = centered(area, 76, 20);
    f.render_widget(Clear, r);
    let step = match st.step {
        Step::Provider => "1/3 provider",
        Step::Directory => "2/3 directory",
        Step::Options => "3/3 options",
    };
    let block = Block::default()
        .borders(Borders::ALL)
        .border_type(BorderType::Rounded)
        .border_style(t.accent)
        .title(Line::from(vec![
            styled(" New agent ", t.title.add_modifier(Modifier::BOLD)),
            muted(t, format!("· {step} ")),
        ]));
    let mut lines: Vec<Line> = Vec::new();
    match st.step {
        Step::Provider => {
            lines.push(Line::from(muted(t, "Which agent?")));
            for (i, p) in PROVIDERS.iter().enumerate() {
                lines.push(field_line(
                    app,
                    &format!("{}", i + 1),
                    p.as_str().to_string(),
                    i == st.provider,
                ));
            }
            lines.push(Line::default());
            lines.push(Line::from(vec![
                muted(t, "where     "),
                styled(
                    if st.remote {
                        "  local tmux  "
                    } else {
                        "[ local tmux ]"
                    },
                    if st.remote { t.muted } else { t.key },
                ),
                Span::raw(" "),
                styled(
                    if st.remote {
                        "[ remote: Kubernetes pod ]"
                    } else {
                        "  remote: Kubernetes pod  "
                    },
                    if st.remote { t.key } else { t.muted },
                ),
            ]));
            if st.remote {
                lines.push(Line::from(muted(
                    t,
                    "  a new pod runs it inside tmux; the split view attaches (ctrl-\\ detaches)",
                )));
            }
            lines.push(Line::default());
            lines.push(Line::from(muted(
                t,
                if st.remote {
                    "↑↓ choose · tab local/remote · enter start · esc close"
                } else {
                    "↑↓ choose · tab local/remote · enter next · esc close"
                },
            )));
        }
        Step::Directory => {
            lines.push(Line::from(vec![
                muted(t, format!("{} in: ", st.provider())),
                styled(st.dir.text(), t.text.add_modifier(Modifier::UNDERLINED)),
            ]));
            lines.push(Line::from(muted(t, "recent directories:")));
            let room = usize::from(r.height.saturating_sub(6)).max(1);
            let start = st.dir_selected.saturating_sub(room.saturating_sub(1));
            for (i, d) in st.dirs.iter().enumerate().skip(start).take(room) {
                let sel = i == st.dir_selected;
                lines.push(Line::from(vec![
                    styled(if sel { "▶ " } else { "  " }, t.accent),
                    styled(d.clone(), if sel { t.key } else { t.text }),
                ]));
            }
            if st.dirs.is_empty() {
                lines.push(Line::from(muted(t, "  (none yet: type a path)")));
            }
            lines.push(Line::from(muted(
                t,
                "type a path or ↑↓ pick · enter next · esc back",
            )));
        }
        Step::Options => {
            lines.push(Line::from(vec![
                muted(t, format!("{} in ", st.provider())),
                styled(st.dir.text(), t.text),
            ]));
            lines.push(Line::default());
            let show = |i: &TextInput, empty: &str| {
                if i.is_empty() {
                    empty.to_string()
                } else {
                    i.text().replace('\n', "⏎")
                }
            };
            let values = [
                show(&st.model, "(CLI default)"),
                show(&st.mode, "(default; e.g. plan, yolo, auto-edit)"),
                show(&st.prompt, "(none)"),
                show(&st.worktree, "(no worktree: run in the directory)"),
                if st.otel {
                    "[x] send telemetry to aimux".into()
                } else {
                    "[ ] send telemetry to aimux".into()
                },
                "[ start in tmux ]".into(),
            ];
            for (i, (name, value)) in FIELDS.iter().zip(values).enumerate() {
                lines.push(field_line(app, name, value, i == st.field));
            }
            lines.push(Line::default());
            lines.push(
                Line::from(vec![Span::raw("  "), muted(t, "tmux session: ")]).patch_style(t.muted),
            );
            lines.push(Line::from(styled(
                format!(
                    "    aimux-{}-{}-<n> (detached; survives aimux)",
                    st.provider(),
                    aimux_engine::spawn::sanitize(
                        std::path::Path::new(st.dir.text().trim())
                            .file_name()
                            .map(|n| n.to_string_lossy().into_owned())
                            .as_deref()
                            .unwrap_or("root")
                    )
                ),
                t.text,
            )));
            lines.push(Line::from(muted(
                t,
                "type to edit · ↑↓/tab field · space toggles · enter start · esc back",
            )));
        }
    }
    f.render_widget(Paragraph::new(lines).block(block), r);
}
