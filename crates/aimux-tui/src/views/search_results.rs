//! Full-text search results inside the sessions / history view, and the delete
//! confirmation. In the sessions view `/` filters titles as you type; Enter searches the
//! full text of every session (prompts, answers, tool input and output). Enter on a hit
//! opens the trace at that turn; esc goes back to the list.

use super::{frame, list_move, muted, placeholder, refreshing, styled};
use crate::app::{App, Popup, View};
use crate::event::Request;
use crate::fmt;
use crate::keymap::Action;
use aimux_engine::search::SearchHit;
use ratatui::Frame;
use ratatui::layout::{Alignment, Rect};
use ratatui::style::Modifier;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, BorderType, Borders, Clear, Paragraph, Wrap};

/// Hits asked for per search.
pub const LIMIT: usize = 200;

#[derive(Debug, Clone, Default)]
pub struct State {
    pub query: String,
    pub hits: Vec<SearchHit>,
    pub loading: bool,
    pub error: Option<String>,
    pub selected: usize,
    /// First visible hit.
    pub scroll: usize,
}

/// Starts a full-text search for `query` (the title filter is cleared).
pub fn start(app: &mut App, query: String) {
    let query = query.trim().to_string();
    if query.is_empty() {
        return;
    }
    app.sessions.set_filter(String::new());
    app.sessions.search = Some(State {
        query: query.clone(),
        loading: true,
        ..State::default()
    });
    app.request(Request::Search { query });
}

/// A search answer arrived.
pub fn on_result(app: &mut App, query: String, result: Result<Vec<SearchHit>, String>) {
    let Some(st) = app.sessions.search.as_mut() else {
        return;
    };
    if st.query != query {
        return;
    }
    st.loading = false;
    match result {
        Ok(hits) => {
            st.hits = hits;
            st.error = None;
            st.selected = 0;
            st.scroll = 0;
        }
        Err(e) => st.error = Some(e),
    }
}

/// Keys while results are shown. Returns false for actions it leaves to the list.
pub fn on_action(app: &mut App, action: Action) -> bool {
    let Some(st) = app.sessions.search.as_ref() else {
        return false;
    };
    let (selected, len) = (st.selected, st.hits.len());
    if let Some(i) = list_move(app, action, selected, len) {
        if let Some(st) = app.sessions.search.as_mut() {
            st.selected = i;
        }
        return true;
    }
    match action {
        Action::Open | Action::Trace => {
            if let Some(h) = st.hits.get(selected) {
                let (session, turn_id) = (h.session.clone(), h.turn_id.clone());
                app.trace.open_at(session, turn_id);
                app.switch(View::Trace);
            }
            true
        }
        Action::Delete => {
            if let Some(id) = st.hits.get(selected).map(|h| h.session.clone()) {
                confirm_delete(app, &id);
            }
            true
        }
        _ => false,
    }
}

/// Opens the delete confirmation for session `id` (it must be in the loaded list, which
/// knows its files).
pub fn confirm_delete(app: &mut App, id: &str) {
    let Some(row) = app.sessions.all.iter().find(|r| r.id == id) else {
        app.flash("that session is not loaded yet; try again", true);
        return;
    };
    app.popup = Some(Popup::ConfirmTrash {
        session_id: row.id.clone(),
        provider: row.provider.to_string(),
        title: super::sessions::title(row),
        files: row.files.clone(),
    });
}

fn hit_lines(app: &App, h: &SearchHit, width: usize, selected: bool) -> [Line<'static>; 2] {
    let t = &app.theme;
    let title = app
        .sessions
        .all
        .iter()
        .find(|r| r.id == h.session && r.provider == h.provider)
        .map(super::sessions::title)
        .unwrap_or_else(|| format!("({})", h.session.chars().take(8).collect::<String>()));
    let marker = if selected { "▶ " } else { "  " };
    let sub = h
        .subagent
        .as_deref()
        .map(|s| format!(" · subagent {}", fmt::truncate(s, 12)))
        .unwrap_or_default();
    let meta = format!(
        "  {} · {} · turn {}{sub} · {}",
        h.provider,
        h.project.as_deref().unwrap_or("-"),
        h.turn,
        h.kind.label()
    );
    let title_w = width
        .saturating_sub(marker.len() + meta.chars().count())
        .max(10);
    let head_style = if selected { t.selected } else { t.text };
    let first = Line::from(vec![
        styled(marker, t.accent),
        styled(
            fmt::truncate(&title, title_w),
            head_style.add_modifier(Modifier::BOLD),
        ),
        muted(t, meta),
    ]);
    // The snippet, matches highlighted, cut to the width.
    let mut spans = vec![Span::raw("    ")];
    let budget = width.saturating_sub(4);
    let mut used = 0usize;
    let mut at = 0usize;
    let mut push = |text: &str, hl: bool, used: &mut usize| {
        if *used >= budget || text.is_empty() {
            return;
        }
        let piece = fmt::truncate(text, budget - *used);
        *used += unicode_width::UnicodeWidthStr::width(piece.as_str());
        spans.push(if hl {
            styled(
                piece,
                t.accent.add_modifier(Modifier::BOLD | Modifier::UNDERLINED),
            )
        } else {
            muted(t, piece)
        });
    };
    for &(s, e) in &h.highlights {
        if let (Some(before), Some(m)) = (h.snippet.get(at..s), h.snippet.get(s..e)) {
            push(before, false, &mut used);
            push(m, true, &mut used);
            at = e;
        }
    }
    push(h.snippet.get(at..).unwrap_or(""), false, &mut used);
    [first, Line::from(spans)]
}

pub fn draw(app: &App, f: &mut Frame, area: Rect) {
    let t = &app.theme;
    let Some(st) = app.sessions.search.as_ref() else {
        return;
    };
    let name = if app.sessions.history {
        "History"
    } else {
        "Sessions"
    };
    let heading = vec![
        styled(name, t.title),
        muted(t, format!(" · search “{}”", st.query)),
        muted(
            t,
            if st.loading || st.error.is_some() {
                String::new()
            } else {
                format!(" ({} hits)", st.hits.len())
            },
        ),
    ];
    let right = vec![
        refreshing(app, st.loading),
        muted(
            t,
            if st.loading {
                "indexing & searching…"
            } else {
                "enter opens · esc back"
            },
        ),
    ];
    let block = frame(t, heading, right);
    let inner = block.inner(area);
    f.render_widget(block, area);
    if st.hits.is_empty() {
        let empty = format!("nothing matches {} (esc goes back)", st.query);
        placeholder(app, f, inner, st.loading, st.error.as_deref(), &empty);
        return;
    }
    let per_page = (usize::from(inner.height) / 2).max(1);
    let scroll = if st.selected < st.scroll {
        st.selected
    } else if st.selected >= st.scroll + per_page {
        st.selected + 1 - per_page
    } else {
        st.scroll
    };
    let width = usize::from(inner.width);
    let mut lines: Vec<Line> = Vec::new();
    for (i, h) in st.hits.iter().enumerate().skip(scroll).take(per_page) {
        lines.extend(hit_lines(app, h, width, i == st.selected));
    }
    f.render_widget(Paragraph::new(lines), inner);
}

/// `…` + the end of `s` when it is wider than `width` (a path's file name matters most).
fn keep_tail(s: &str, width: usize) -> String {
    let n = s.chars().count();
    if n <= width || width < 2 {
        return s.to_string();
    }
    let tail: String = s.chars().skip(n - (width - 1)).collect();
    format!("…{tail}")
}

/// The delete confirmation: names every file that will move.
pub fn draw_confirm_trash(
    app: &App,
    f: &mut Frame,
    area: Rect,
    session_id: &str,
    provider: &str,
    title: &str,
    files: &[String],
) {
    let t = &app.theme;
    let shown = files
        .len()
        .min(usize::from(area.height.saturating_sub(12)).max(1));
    let height = (9 + shown) as u16;
    let width = area.width.saturating_sub(4).min(110);
    let w = width.min(area.width.saturating_sub(2)).max(1);
    let h = height.min(area.height.saturating_sub(2)).max(1);
    let r = Rect::new(
        area.x + area.width.saturating_sub(w) / 2,
        area.y + area.height.saturating_sub(h) / 2,
        w,
        h,
    );
    f.render_widget(Clear, r);
    let block = Block::default()
        .borders(Borders::ALL)
        .border_type(BorderType::Rounded)
        .border_style(t.accent)
        .title(Line::from(styled(" Move session to trash? ", t.title)));
    let text_w = usize::from(w.saturating_sub(4));
    let mut lines = vec![
        Line::from(vec![
            muted(t, "  session  "),
            styled(
                fmt::truncate(title, text_w.saturating_sub(11)),
                t.text.add_modifier(Modifier::BOLD),
            ),
        ]),
        Line::from(vec![
            muted(t, "  id       "),
            styled(format!("{session_id} ({provider})"), t.text),
        ]),
        Line::from(muted(
            t,
            format!(
                "  {} file{} move to ~/.aimux/trash (aimux trash restore):",
                files.len(),
                if files.len() == 1 { "" } else { "s" }
            ),
        )),
    ];
    for file in files.iter().take(shown) {
        lines.push(Line::from(styled(
            format!("    {}", keep_tail(file, text_w.saturating_sub(4))),
            t.text,
        )));
    }
    if files.len() > shown {
        lines.push(Line::from(muted(
            t,
            format!("    … and {} more", files.len() - shown),
        )));
    }
    lines.push(Line::from(muted(t, "  annotations stay")));
    lines.push(Line::default());
    lines.push(Line::from(vec![
        styled("  y", t.key),
        muted(t, " move to trash   "),
        styled("n", t.key),
        muted(t, "/"),
        styled("esc", t.key),
        muted(t, " cancel"),
    ]));
    f.render_widget(
        Paragraph::new(lines)
            .block(block)
            .alignment(Alignment::Left)
            .wrap(Wrap { trim: false }),
        r,
    );
}
