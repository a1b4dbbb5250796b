//! The trace of one session: turns as foldable blocks (prompt, tool calls with ✓/✗, the
//! answer rendered as markdown, tokens, duration, cost), labels and notes, live tail,
//! search.

use super::{frame, muted, placeholder, refreshing, styled};
use crate::app::{App, Popup};
use crate::event::Request;
use crate::fmt;
use crate::input::TextInput;
use crate::keymap::Action;
use crate::markdown::{self, fit_spans};
use crate::theme::Theme;
use crate::wrap::wrap_line;
use aimux_engine::annotations::{Annotation, Label};
use aimux_engine::trace::{Trace, TraceTurn};
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;
use std::collections::HashSet;

#[derive(Debug, Clone, Default)]
pub struct State {
    pub session_id: Option<String>,
    pub trace: Option<Trace>,
    pub loading: bool,
    pub error: Option<String>,
    /// Each turn's answer rendered as markdown at `md_width` (highlighting is not free,
    /// so it happens once per load or resize, not per frame).
    pub answers: Vec<Vec<Line<'static>>>,
    md_width: usize,
    /// Folded turns, by turn id.
    pub folded: HashSet<String>,
    /// Current turn (index into `trace.turns`).
    pub selected: usize,
    /// First visible line of the turn area.
    pub scroll: usize,
    /// Stick to the end when the trace grows.
    pub follow: bool,
    pub search: String,
    pub match_index: usize,
    /// What the live agent looked like at the last load (to notice it moved on).
    tail_mark: Option<String>,
    /// Select this turn (by id) when the trace arrives: opened from a search hit.
    pub pending_turn: Option<String>,
    /// The selected turn was just set from `pending_turn`: scroll to it ([`reveal`]).
    pub reveal_pending: bool,
}

/// Width available to an answer's markdown for a terminal of `size`.
pub fn text_width(size: (u16, u16)) -> usize {
    usize::from(size.0).saturating_sub(6).max(20)
}

fn turn_matches(turn: &TraceTurn, q: &str) -> bool {
    let q = q.to_lowercase();
    turn.user.to_lowercase().contains(&q)
        || turn.output.to_lowercase().contains(&q)
        || turn.tools.iter().any(|t| {
            t.name.to_lowercase().contains(&q)
                || t.input.to_lowercase().contains(&q)
                || t.error
                    .as_deref()
                    .is_some_and(|e| e.to_lowercase().contains(&q))
        })
}

impl State {
    pub fn open(&mut self, session_id: String) {
        if self.session_id.as_deref() != Some(session_id.as_str()) {
            *self = State {
                session_id: Some(session_id),
                ..State::default()
            };
        }
    }

    /// Opens `session_id` at turn `turn_id` (a search hit).
    pub fn open_at(&mut self, session_id: String, turn_id: String) {
        self.open(session_id);
        self.pending_turn = Some(turn_id);
        self.follow = false;
    }

    pub fn set(&mut self, trace: Trace, theme: &Theme, width: usize) {
        let keep = self
            .trace
            .as_ref()
            .and_then(|t| t.turns.get(self.selected))
            .map(|t| t.id.clone());
        self.answers = trace
            .turns
            .iter()
            .map(|t| markdown::render(&t.output, width, theme))
            .collect();
        self.md_width = width;
        if let Some(id) = keep
            && let Some(i) = trace.turns.iter().position(|t| t.id == id)
        {
            self.selected = i;
        }
        if let Some(id) = self.pending_turn.take()
            && let Some(i) = trace.turns.iter().position(|t| t.id == id)
        {
            self.selected = i;
            self.reveal_pending = true;
        }
        self.selected = self.selected.min(trace.turns.len().saturating_sub(1));
        self.trace = Some(trace);
    }

    /// Re-renders answers after a resize.
    pub fn relayout(&mut self, theme: &Theme, width: usize) {
        if width == self.md_width {
            return;
        }
        if let Some(t) = &self.trace {
            self.answers = t
                .turns
                .iter()
                .map(|t| markdown::render(&t.output, width, theme))
                .collect();
            self.md_width = width;
        }
    }

    fn is_folded(&self, turn: &TraceTurn) -> bool {
        self.folded.contains(&turn.id)
            && (self.search.is_empty() || !turn_matches(turn, &self.search))
    }

    /// Whether the visible trace should be loaded again: its agent moved on (new
    /// activity or tokens), or the engine said something changed while it is live.
    pub fn needs_tail(
        &mut self,
        agents: &super::agents::State,
        engine_changed: bool,
    ) -> Option<String> {
        let id = self.session_id.clone()?;
        self.trace.as_ref()?;
        fn find<'a>(
            rows: &'a [aimux_engine::agents::AgentRow],
            id: &str,
        ) -> Option<&'a aimux_engine::agents::AgentRow> {
            rows.iter().find_map(|a| {
                if a.session_id.as_deref() == Some(id) {
                    Some(a)
                } else {
                    find(&a.subagents, id)
                }
            })
        }
        let agent = find(
            agents
                .snapshot
                .as_ref()
                .map(|s| s.agents.as_slice())
                .unwrap_or(&[]),
            &id,
        )?;
        let mark = format!(
            "{}|{}|{}",
            agent.last_activity.as_deref().unwrap_or(""),
            agent.tokens.total(),
            agent.last_action.as_deref().unwrap_or("")
        );
        let changed = self.tail_mark.as_ref().is_some_and(|m| *m != mark);
        let first = self.tail_mark.is_none();
        self.tail_mark = Some(mark);
        (changed || (engine_changed && !first)).then_some(id)
    }

    pub fn is_live(&self, agents: &super::agents::State) -> bool {
        let Some(id) = self.session_id.as_deref() else {
            return false;
        };
        agents.snapshot.as_ref().is_some_and(|s| {
            fn any(rows: &[aimux_engine::agents::AgentRow], id: &str) -> bool {
                rows.iter()
                    .any(|a| a.session_id.as_deref() == Some(id) || any(&a.subagents, id))
            }
            any(&s.agents, id)
        })
    }
}

fn label_style(theme: &Theme, l: Label) -> Style {
    match l {
        Label::Good => theme.label_good,
        Label::Bad => theme.label_bad,
        Label::Waste => theme.label_waste,
        Label::Clear => theme.muted,
    }
}

fn label_badge(theme: &Theme, a: &Annotation) -> Vec<Span<'static>> {
    let mut v = vec![styled(
        format!("[{}]", a.label.as_str().to_uppercase()),
        label_style(theme, a.label),
    )];
    if let Some(n) = &a.note {
        v.push(muted(theme, format!(" “{}”", fmt::one_line(n))));
    }
    v
}

fn turn_header(theme: &Theme, turn: &TraceTurn, folded: bool) -> Vec<Span<'static>> {
    let mut s = vec![
        styled(if folded { "▸ " } else { "▾ " }, theme.accent),
        styled(format!("#{}", turn.number), theme.title),
        muted(
            theme,
            format!("  {}", fmt::clock(turn.started_at.as_deref())),
        ),
    ];
    if let Some(d) = fmt::elapsed(turn.started_at.as_deref(), turn.ended_at.as_deref()) {
        s.push(muted(theme, format!(" · {d}")));
    }
    s.push(muted(theme, " · "));
    s.push(styled(
        fmt::cost_precise(turn.cost_usd),
        theme.cost(turn.cost_usd),
    ));
    if let Some(a) = &turn.annotation {
        s.push(Span::raw("  "));
        s.extend(label_badge(theme, a));
    }
    if let Some(sub) = &turn.subagent {
        s.push(styled(
            format!(" ⤷ subagent {}", sub.chars().take(10).collect::<String>()),
            theme.accent,
        ));
    }
    if let Some(m) = &turn.model {
        s.push(muted(theme, format!(" · {m}")));
    }
    let tk = &turn.tokens;
    s.push(muted(
        theme,
        format!(
            " · in {} out {} cache {}/{}",
            fmt::tokens(tk.input),
            fmt::tokens(tk.output),
            fmt::tokens(tk.cache_read),
            fmt::tokens(tk.cache_write)
        ),
    ));
    s
}

/// The scrolling part of the trace: lines and the first line of each turn.
pub fn turn_lines(st: &State, theme: &Theme, width: usize) -> (Vec<Line<'static>>, Vec<usize>) {
    let mut out: Vec<Line<'static>> = Vec::new();
    let mut starts = Vec::new();
    let Some(trace) = &st.trace else {
        return (out, starts);
    };
    let push =
        |out: &mut Vec<Line<'static>>, line: Line<'static>| out.extend(wrap_line(&line, width));
    for (i, turn) in trace.turns.iter().enumerate() {
        starts.push(out.len());
        let folded = st.is_folded(turn);
        let mut head = turn_header(theme, turn, folded);
        if folded {
            head.push(muted(theme, format!("  ❯ {}", fmt::one_line(&turn.user))));
            let mut line = Line::from(fit_spans(&head, width));
            if i == st.selected {
                line = line.style(theme.selected);
            }
            out.push(line);
            continue;
        }
        let head_lines = wrap_line(&Line::from(head), width);
        for (k, mut l) in head_lines.into_iter().enumerate() {
            if i == st.selected && k == 0 {
                l = l.style(theme.selected);
            }
            out.push(l);
        }
        for (k, text) in turn.user.lines().enumerate() {
            let lead = if k == 0 { "  ❯ " } else { "    " };
            push(
                &mut out,
                Line::from(vec![
                    styled(lead, theme.accent),
                    styled(text.to_string(), theme.user_prompt),
                ]),
            );
        }
        for tool in &turn.tools {
            let (icon, style) = match tool.success {
                Some(true) => ("✓", theme.ok),
                Some(false) => ("✗", theme.error),
                None => ("…", theme.muted),
            };
            push(
                &mut out,
                Line::from(vec![
                    styled(format!("  {icon} "), style),
                    styled(tool.name.clone(), theme.text.add_modifier(Modifier::BOLD)),
                    Span::raw("  "),
                    muted(theme, fmt::one_line(&tool.input)),
                ]),
            );
            if let Some(e) = &tool.error {
                push(
                    &mut out,
                    Line::from(vec![
                        Span::raw("      "),
                        styled(format!("error: {}", fmt::one_line(e)), theme.error),
                    ]),
                );
            }
        }
        if let Some(answer) = st.answers.get(i) {
            for l in answer {
                let mut spans = vec![Span::raw("  ")];
                spans.extend(l.spans.iter().cloned());
                push(&mut out, Line::from(spans));
            }
        }
        out.push(Line::default());
    }
    if !st.search.is_empty() {
        let q = st.search.to_lowercase();
        for l in out.iter_mut() {
            *l = highlight_query(l, &q, theme.search_match);
        }
    }
    (out, starts)
}

fn line_text(l: &Line<'_>) -> String {
    l.spans.iter().map(|s| s.content.as_ref()).collect()
}

/// Restyles the parts of a line that match `q` (lowercase).
fn highlight_query(line: &Line<'static>, q: &str, style: Style) -> Line<'static> {
    let text = line_text(line);
    let lower = text.to_lowercase();
    // Lowercasing can change byte lengths; only highlight when it does not.
    if q.is_empty() || lower.len() != text.len() || !lower.contains(q) {
        return line.clone();
    }
    let mut marks = vec![false; text.len()];
    let mut from = 0;
    while let Some(p) = lower.get(from..).and_then(|s| s.find(q)) {
        let start = from + p;
        for m in marks.iter_mut().skip(start).take(q.len()) {
            *m = true;
        }
        from = start + q.len().max(1);
    }
    let mut spans = Vec::new();
    let mut offset = 0;
    for s in &line.spans {
        let content = s.content.as_ref();
        let mut buf = String::new();
        let mut cur: Option<bool> = None;
        for (bi, c) in content.char_indices() {
            let hit = marks.get(offset + bi).copied().unwrap_or(false);
            if cur.is_some_and(|h| h != hit) {
                let st = if cur == Some(true) {
                    s.style.patch(style)
                } else {
                    s.style
                };
                spans.push(Span::styled(std::mem::take(&mut buf), st));
            }
            cur = Some(hit);
            buf.push(c);
        }
        if !buf.is_empty() {
            let st = if cur == Some(true) {
                s.style.patch(style)
            } else {
                s.style
            };
            spans.push(Span::styled(buf, st));
        }
        offset += content.len();
    }
    Line::from(spans).style(line.style)
}

/// Lines of the fixed header above the turns.
fn header_lines(app: &App, trace: &Trace) -> Vec<Line<'static>> {
    let t = &app.theme;
    let s = &trace.session;
    let title = s
        .title
        .clone()
        .map(|x| fmt::one_line(&x))
        .unwrap_or_else(|| "(untitled session)".into());
    let sum: Option<f64> = trace
        .turns
        .iter()
        .try_fold(0.0, |acc, turn| turn.cost_usd.map(|c| acc + c));
    let a = s.annotations;
    let mut lines = vec![
        Line::from(styled(title, t.text.add_modifier(Modifier::BOLD))),
        Line::from(muted(
            t,
            format!(
                "{} · {} · {} · {}",
                s.provider,
                s.model.as_deref().unwrap_or("?"),
                s.cwd
                    .as_deref()
                    .map(|c| fmt::tilde(c, app.home_dir.as_deref()))
                    .unwrap_or_else(|| "?".into()),
                s.id
            ),
        )),
        Line::from(vec![
            styled(format!("{} turns", trace.turns.len()), t.text),
            muted(
                t,
                format!(" · {} tools ({} failed)", s.tool_calls, s.failed_tool_calls),
            ),
            muted(t, format!(" · {} tokens · ", fmt::tokens(s.tokens.total()))),
            styled(fmt::cost_precise(s.cost_usd), t.cost(s.cost_usd)),
            muted(t, format!(" (Σ turns {})", fmt::cost_precise(sum))),
            muted(t, "  labels "),
            styled(format!("{}", a.good), t.label_good),
            muted(t, "/"),
            styled(format!("{}", a.bad), t.label_bad),
            muted(t, "/"),
            styled(format!("{}", a.waste), t.label_waste),
        ]),
    ];
    if !trace.warnings.is_empty() {
        let w = &trace.warnings;
        lines.push(Line::from(vec![
            styled("⚠ ", t.warning),
            muted(
                t,
                format!(
                    "{} ({} file{})",
                    w.first().map(|x| x.message.as_str()).unwrap_or(""),
                    w.len(),
                    if w.len() == 1 { "" } else { "s" }
                ),
            ),
        ]));
    }
    lines
}

/// Size of the scrolling turn area for the current terminal.
pub fn viewport(app: &App) -> (usize, usize) {
    let body = crate::ui::body_rect(app, Rect::new(0, 0, app.size.0, app.size.1));
    let header = app
        .trace
        .trace
        .as_ref()
        .map(|t| header_lines(app, t).len() + 1)
        .unwrap_or(0);
    (
        usize::from(body.width.saturating_sub(2)),
        usize::from(body.height.saturating_sub(2))
            .saturating_sub(header)
            .max(1),
    )
}

fn max_scroll(total: usize, height: usize) -> usize {
    total.saturating_sub(height)
}

fn turn_at(starts: &[usize], line: usize) -> usize {
    starts.iter().rposition(|s| *s <= line).unwrap_or(0)
}

pub fn on_action(app: &mut App, action: Action) {
    let (width, height) = viewport(app);
    let (lines, starts) = turn_lines(&app.trace, &app.theme, width);
    let total = lines.len();
    let max = max_scroll(total, height);
    let page = height.saturating_sub(1).max(1);
    let n = starts.len();
    let st = &mut app.trace;
    st.scroll = if st.follow { max } else { st.scroll.min(max) };
    let scroll_to = |st: &mut State, to: usize| {
        st.scroll = to.min(max);
        st.selected = turn_at(&starts, st.scroll);
    };
    match action {
        Action::Up => {
            st.follow = false;
            scroll_to(st, st.scroll.saturating_sub(1));
        }
        Action::Down => scroll_to(st, st.scroll + 1),
        Action::PageUp => {
            st.follow = false;
            scroll_to(st, st.scroll.saturating_sub(page));
        }
        Action::PageDown => scroll_to(st, st.scroll + page),
        Action::Top => {
            st.follow = false;
            st.scroll = 0;
            st.selected = 0;
        }
        Action::Bottom => {
            st.scroll = max;
            st.selected = n.saturating_sub(1);
            st.follow = true;
        }
        Action::NextTurn | Action::PrevTurn => {
            if n == 0 {
                return;
            }
            st.selected = if action == Action::NextTurn {
                (st.selected + 1).min(n - 1)
            } else {
                st.selected.saturating_sub(1)
            };
            st.follow = false;
            st.scroll = starts.get(st.selected).copied().unwrap_or(0).min(max);
        }
        Action::ToggleTurn => {
            let Some(id) = st
                .trace
                .as_ref()
                .and_then(|t| t.turns.get(st.selected))
                .map(|t| t.id.clone())
            else {
                return;
            };
            if !st.folded.remove(&id) {
                st.folded.insert(id);
            }
            keep_selected_in_view(app);
        }
        Action::ToggleAll => {
            let ids: Vec<String> = st
                .trace
                .as_ref()
                .map(|t| t.turns.iter().map(|x| x.id.clone()).collect())
                .unwrap_or_default();
            if ids.iter().all(|i| st.folded.contains(i)) {
                st.folded.clear();
            } else {
                st.folded = ids.into_iter().collect();
            }
            keep_selected_in_view(app);
        }
        Action::Follow => {
            st.follow = !st.follow;
            if st.follow {
                st.scroll = max;
                st.selected = n.saturating_sub(1);
            }
            let on = st.follow;
            app.flash(
                if on {
                    "following the live tail"
                } else {
                    "follow off"
                },
                false,
            );
        }
        Action::Annotate => {
            let i = st.selected;
            let Some(turn) = st.trace.as_ref().and_then(|t| t.turns.get(i)) else {
                return;
            };
            let current = turn.annotation.as_ref().map(|a| a.label);
            let note = turn.annotation.as_ref().and_then(|a| a.note.clone());
            let next = Label::cycle(current);
            annotate(app, i, next, if next == Label::Clear { None } else { note });
        }
        Action::Note => {
            let i = st.selected;
            let Some(turn) = st.trace.as_ref().and_then(|t| t.turns.get(i)) else {
                return;
            };
            let label = turn
                .annotation
                .as_ref()
                .map(|a| a.label)
                .filter(|l| *l != Label::Clear)
                .unwrap_or(Label::Good);
            let note = turn
                .annotation
                .as_ref()
                .and_then(|a| a.note.clone())
                .unwrap_or_default();
            app.popup = Some(Popup::Note {
                turn_index: i,
                turn_number: turn.number,
                label,
                input: TextInput::new(&note),
            });
        }
        Action::NextMatch => jump_to_match(app, true, false),
        Action::PrevMatch => jump_to_match(app, false, false),
        _ => {}
    }
}

/// After folding: scroll so the current turn's header stays on screen.
fn keep_selected_in_view(app: &mut App) {
    let (width, height) = viewport(app);
    let (lines, starts) = turn_lines(&app.trace, &app.theme, width);
    let max = max_scroll(lines.len(), height);
    let st = &mut app.trace;
    let start = starts.get(st.selected).copied().unwrap_or(0);
    if start < st.scroll || start >= st.scroll + height {
        st.scroll = start;
    }
    st.scroll = st.scroll.min(max);
}

/// Labels turn `index` (optimistically: shown at once, undone by a reload if the backend
/// refuses) and asks the backend to store it.
pub fn annotate(app: &mut App, index: usize, label: Label, note: Option<String>) {
    let now = app.now.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let Some(trace) = app.trace.trace.as_mut() else {
        return;
    };
    let session_id = trace.session.id.clone();
    let Some(turn) = trace.turns.get_mut(index) else {
        return;
    };
    let old = turn.annotation.as_ref().map(|a| a.label);
    turn.annotation = (label != Label::Clear).then(|| Annotation {
        turn: turn.number,
        turn_id: turn.id.clone(),
        label,
        note: note.clone(),
        timestamp: now,
    });
    let (number, turn_id) = (turn.number, turn.id.clone());
    let new = (label != Label::Clear).then_some(label);
    let counts = &mut trace.session.annotations;
    for (l, d) in [(old, -1isize), (new, 1)] {
        let slot = match l {
            Some(Label::Good) => &mut counts.good,
            Some(Label::Bad) => &mut counts.bad,
            Some(Label::Waste) => &mut counts.waste,
            _ => continue,
        };
        *slot = slot.saturating_add_signed(d);
    }
    app.sessions.adjust_counts(&session_id, old, new);
    app.request(Request::Annotate {
        session_id,
        turn: number,
        turn_id,
        label,
        note,
    });
    let shown = if label == Label::Clear {
        "no label".to_string()
    } else {
        label.as_str().to_uppercase()
    };
    app.flash(format!("turn #{number}: {shown}"), false);
}

/// Scrolls to the selected turn once after it was chosen by [`State::open_at`].
pub fn reveal(app: &mut App) {
    if !std::mem::take(&mut app.trace.reveal_pending) {
        return;
    }
    let (width, height) = viewport(app);
    let (lines, starts) = turn_lines(&app.trace, &app.theme, width);
    let line = starts.get(app.trace.selected).copied().unwrap_or(0);
    app.trace.scroll = line.min(max_scroll(lines.len(), height));
}

pub fn set_search(app: &mut App, q: String) {
    app.trace.search = q;
    app.trace.match_index = 0;
}

/// Moves to the next (or previous) line matching the search; `from_top` starts at the
/// current scroll position inclusive.
pub fn jump_to_match(app: &mut App, forward: bool, from_top: bool) {
    if app.trace.search.is_empty() {
        return;
    }
    let (width, height) = viewport(app);
    let (lines, starts) = turn_lines(&app.trace, &app.theme, width);
    let q = app.trace.search.to_lowercase();
    let hits: Vec<usize> = lines
        .iter()
        .enumerate()
        .filter(|(_, l)| line_text(l).to_lowercase().contains(&q))
        .map(|(i, _)| i)
        .collect();
    if hits.is_empty() {
        let q = app.trace.search.clone();
        app.flash(format!("'{q}' not found"), true);
        return;
    }
    let st = &mut app.trace;
    let cur = st.scroll;
    let target = if from_top {
        hits.iter().find(|h| **h >= cur).or(hits.first())
    } else if forward {
        hits.iter().find(|h| **h > cur).or(hits.first())
    } else {
        hits.iter().rev().find(|h| **h < cur).or(hits.last())
    };
    let Some(&line) = target else {
        return;
    };
    st.match_index = hits.iter().position(|h| *h == line).unwrap_or(0);
    st.follow = false;
    st.scroll = line.min(max_scroll(lines.len(), height));
    st.selected = turn_at(&starts, line);
    let (i, n) = (st.match_index + 1, hits.len());
    app.flash(format!("match {i}/{n}"), false);
}

pub fn draw(app: &App, f: &mut Frame, area: Rect) {
    let t = &app.theme;
    let st = &app.trace;
    let live = st.is_live(&app.agents);
    let mut right = vec![refreshing(app, st.loading)];
    if live {
        right.push(styled("● live ", t.status_active));
    }
    if st.follow {
        right.push(styled("follow ", t.accent));
    }
    if !st.search.is_empty() {
        right.push(muted(t, format!("/{} ", st.search)));
    }
    let title_text = st
        .trace
        .as_ref()
        .map(|tr| tr.session.id.chars().take(8).collect::<String>())
        .or_else(|| st.session_id.clone())
        .unwrap_or_default();
    let block = frame(
        t,
        vec![styled("Trace", t.title), muted(t, format!(" {title_text}"))],
        right,
    );
    let inner = block.inner(area);
    f.render_widget(block, area);
    let Some(trace) = &st.trace else {
        placeholder(
            app,
            f,
            inner,
            st.loading || st.error.is_none(),
            st.error.as_deref(),
            "",
        );
        return;
    };
    let head = header_lines(app, trace);
    let head_h = u16::try_from(head.len()).unwrap_or(4);
    let [head_area, rule_area, body] = Layout::vertical([
        Constraint::Length(head_h),
        Constraint::Length(1),
        Constraint::Min(1),
    ])
    .areas(inner);
    f.render_widget(Paragraph::new(head), head_area);
    f.render_widget(
        Paragraph::new(Line::from(styled(
            "─".repeat(usize::from(rule_area.width)),
            t.border,
        ))),
        rule_area,
    );
    if let Some(e) = &st.error {
        f.render_widget(
            Paragraph::new(Line::from(styled(format!("✗ reload failed: {e}"), t.error))),
            rule_area,
        );
    }
    if trace.turns.is_empty() {
        placeholder(app, f, body, false, None, "no turns in this session yet");
        return;
    }
    let (lines, _) = turn_lines(st, t, usize::from(body.width));
    let max = max_scroll(lines.len(), usize::from(body.height));
    let scroll = if st.follow { max } else { st.scroll.min(max) };
    let visible: Vec<Line> = lines
        .into_iter()
        .skip(scroll)
        .take(usize::from(body.height))
        .collect();
    f.render_widget(Paragraph::new(visible), body);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixture;

    #[test]
    fn highlight_marks_only_the_match() {
        let line = Line::from(vec![Span::raw("cargo "), Span::raw("Test run")]);
        let out = highlight_query(
            &line,
            "test",
            Style::default().add_modifier(Modifier::REVERSED),
        );
        let hit: Vec<&str> = out
            .spans
            .iter()
            .filter(|s| s.style.add_modifier.contains(Modifier::REVERSED))
            .map(|s| s.content.as_ref())
            .collect();
        assert_eq!(hit, ["Test"]);
        assert_eq!(line_text(&out), "cargo Test run");
    }

    #[test]
    fn turn_costs_add_up_to_the_session_cost() {
        let t = fixture::trace();
        let sum: f64 = t.turns.iter().filter_map(|x| x.cost_usd).sum();
        let session = t.session.cost_usd.unwrap_or(-1.0);
        assert!((sum - session).abs() < 1e-9, "{sum} vs {session}");
    }

    #[test]
    fn folding_hides_the_body_but_search_reopens() {
        let theme = Theme::default();
        let mut st = State::default();
        st.open("3b22".into());
        st.set(fixture::trace(), &theme, 60);
        let (open, _) = turn_lines(&st, &theme, 70);
        st.folded.insert("msg_02B".into());
        let (folded, starts) = turn_lines(&st, &theme, 70);
        assert!(folded.len() < open.len());
        assert_eq!(starts.len(), 3);
        st.search = "dedup".into();
        let (searched, _) = turn_lines(&st, &theme, 70);
        assert_eq!(searched.len(), open.len());
    }
}
