//! Tasks (`T`, `:tasks`): the workers' task queue in the coordination store, newest first.
//! Enter shows one task (prompt, result as markdown, error, times, its log); `n` or
//! `:task PROVIDER PROMPT` queues a new one. Loaded only while the view is shown, so an
//! unused coordination store costs nothing.

use super::{Col, cell, fit_columns, frame, list_move, muted, refreshing, styled};
use crate::app::{App, Popup, View};
use crate::backend::{TaskDetail, TaskList, TaskRow};
use crate::command::TASK_PROVIDERS;
use crate::event::Request;
use crate::fmt;
use crate::input::{InputOutcome, TextInput};
use crate::keymap::{Action, Key, Scope};
use crate::markdown;
use crate::theme::Theme;
use crate::wrap::wrap_line;
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use ratatui::Frame;
use ratatui::layout::{Alignment, Constraint, Layout, Rect};
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use ratatui::widgets::{
    Block, BorderType, Borders, Cell, Clear, Paragraph, Row, Table, TableState,
};
use std::cmp::Ordering;

/// How many of the newest tasks the view loads.
pub const LIMIT: usize = 200;

/// How to point aimux at the coordination store (the settings `aimux task` names).
pub const CONFIGURE_HINT: [&str; 4] = [
    "Tasks live in the coordination Redis that `aimux worker` processes share. Point aimux at it:",
    "  • redis: {url: redis://HOST:6379}   in config.yaml (~/.aimux, or $AIMUX_HOME)",
    "  • AIMUX_REDIS_URL=redis://HOST:6379   in the environment",
    "then ctrl-r here; `aimux infra health` checks the connection.",
];

#[derive(Debug, Clone, Default)]
pub struct State {
    pub all: Vec<TaskRow>,
    /// Per task in `all`: its result (markdown dropped), error or prompt on one line.
    summaries: Vec<String>,
    /// Where the tasks came from (redacted URL), once loaded.
    pub source: Option<String>,
    /// Indices into `all`, newest first, filtered.
    pub visible: Vec<usize>,
    pub loading: bool,
    pub loaded: bool,
    pub error: Option<String>,
    pub filter: String,
    pub selected: usize,
    /// Select this task when it appears (it was just submitted from here).
    pub select_pending: Option<String>,
    /// The provider the new-task popup starts with (the last one used).
    pub last_provider: usize,
    /// The detail popup's task, while open.
    pub detail: Option<Detail>,
}

/// The detail popup of one task.
#[derive(Debug, Clone, Default)]
pub struct Detail {
    pub id: String,
    pub data: Option<TaskDetail>,
    pub loading: bool,
    pub error: Option<String>,
    pub scroll: usize,
    /// The result rendered as markdown once per load or resize (highlighting is not free).
    result_md: Vec<Line<'static>>,
    md_width: usize,
}

impl Detail {
    fn new(id: String) -> Detail {
        Detail {
            id,
            loading: true,
            ..Detail::default()
        }
    }

    fn render_result(&mut self, theme: &Theme, width: usize) {
        self.md_width = width;
        self.result_md = self
            .data
            .as_ref()
            .and_then(|d| d.task.result.as_deref())
            .map(|r| markdown::render(r, width, theme))
            .unwrap_or_default();
    }
}

/// Glyph and style of a task status: distinct shapes, so meaning survives without colour.
pub fn status_look(theme: &Theme, status: &str) -> (&'static str, Style) {
    match status {
        "pending" => ("○", theme.status_unknown),
        "claimed" => ("◇", theme.status_idle),
        "running" => ("●", theme.status_active),
        "done" => ("✓", theme.ok),
        "failed" => ("✗", theme.status_error),
        _ => ("?", theme.status_unknown),
    }
}

fn status_span(theme: &Theme, status: &str) -> Span<'static> {
    let (icon, style) = status_look(theme, status);
    Span::styled(format!("{icon} {status}"), style)
}

/// The text of a markdown answer on one line (markup dropped), for the table.
fn plain_text(md: &str) -> String {
    use pulldown_cmark::{Event, Parser, TagEnd};
    let mut out = String::new();
    for event in Parser::new(md) {
        match event {
            Event::Text(t) | Event::Code(t) => out.push_str(&t),
            // Inline markup ends inside a word ("**README.md**:"); blocks end between words.
            Event::End(
                TagEnd::Emphasis
                | TagEnd::Strong
                | TagEnd::Strikethrough
                | TagEnd::Link
                | TagEnd::Image,
            ) => {}
            Event::SoftBreak | Event::HardBreak | Event::End(_) => out.push(' '),
            _ => {}
        }
        // A table cell shows a few dozen characters; long answers need not be read whole.
        if out.len() > 400 {
            break;
        }
    }
    fmt::one_line(&out)
}

/// What the RESULT column shows: the error of a failed task, the result, else the prompt.
fn summary(t: &TaskRow) -> String {
    match (&t.error, &t.result) {
        (Some(e), _) if t.status == "failed" || t.result.is_none() => fmt::one_line(e),
        (_, Some(r)) => plain_text(r),
        _ => format!("❯ {}", fmt::one_line(&t.prompt)),
    }
}

/// The number in `t-42`, for ordering tasks created in the same millisecond.
fn seq(id: &str) -> u64 {
    id.rsplit('-')
        .next()
        .and_then(|n| n.parse().ok())
        .unwrap_or(0)
}

fn newest_first(a: &TaskRow, b: &TaskRow) -> Ordering {
    let created = |t: &TaskRow| t.created_at.as_deref().and_then(fmt::parse_time);
    created(b)
        .cmp(&created(a))
        .then_with(|| seq(&b.id).cmp(&seq(&a.id)))
        .then_with(|| b.id.cmp(&a.id))
}

pub fn matches(t: &TaskRow, filter: &str) -> bool {
    let hay = [
        Some(t.id.as_str()),
        Some(t.status.as_str()),
        Some(t.provider.as_str()),
        t.role.as_deref(),
        t.assignee.as_deref(),
        t.model.as_deref(),
        t.dir.as_deref(),
        Some(t.prompt.as_str()),
        t.result.as_deref(),
        t.error.as_deref(),
    ]
    .into_iter()
    .flatten()
    .collect::<Vec<_>>()
    .join(" ")
    .to_lowercase();
    filter
        .to_lowercase()
        .split_whitespace()
        .all(|w| hay.contains(w))
}

impl State {
    pub fn set(&mut self, list: TaskList) {
        // A task just submitted is selected once a list holding it arrives (an older list
        // may still have been on its way).
        let pending = self
            .select_pending
            .take_if(|id| list.tasks.iter().any(|t| t.id == *id));
        let keep = pending.or_else(|| self.selected_row().map(|t| t.id.clone()));
        self.all = list.tasks;
        self.summaries = self.all.iter().map(summary).collect();
        self.source = Some(list.source);
        self.loaded = true;
        self.rebuild(keep);
    }

    pub fn set_filter(&mut self, filter: String) {
        self.filter = filter;
        self.selected = 0;
        self.rebuild(None);
    }

    fn rebuild(&mut self, keep: Option<String>) {
        (self.visible, self.selected) = super::filter_sort_select(
            &self.all,
            |t| matches(t, &self.filter),
            newest_first,
            |t| t.id.as_str(),
            keep.as_deref(),
            self.selected,
        );
    }

    pub fn selected_row(&self) -> Option<&TaskRow> {
        self.visible
            .get(self.selected)
            .and_then(|i| self.all.get(*i))
    }

    /// How many tasks have each status, in lifecycle order.
    fn counts(&self) -> Vec<(&'static str, usize)> {
        ["running", "claimed", "pending", "done", "failed"]
            .into_iter()
            .map(|s| (s, self.all.iter().filter(|t| t.status == s).count()))
            .filter(|(_, n)| *n > 0)
            .collect()
    }
}

// ------------------------------------------------------------------------ actions

pub fn on_action(app: &mut App, action: Action) {
    let st = &app.tasks;
    if let Some(i) = list_move(app, action, st.selected, st.visible.len()) {
        app.tasks.selected = i;
        return;
    }
    match action {
        Action::TaskDetails => match app.tasks.selected_row().map(|t| t.id.clone()) {
            Some(id) => open_detail(app, id),
            None => app.flash("no task selected", true),
        },
        Action::NewTask => {
            app.popup = Some(Popup::NewTask {
                provider: app.tasks.last_provider,
                input: TextInput::default(),
            })
        }
        _ => {}
    }
}

/// Opens the detail popup of task `id` and fetches it with its log.
pub fn open_detail(app: &mut App, id: String) {
    app.tasks.detail = Some(Detail::new(id.clone()));
    app.popup = Some(Popup::TaskDetail);
    app.request(Request::TaskDetail { id });
}

/// The periodic refresh while the view is shown: the list, and the open task while it
/// can still change.
pub fn refresh(app: &mut App) {
    if !app.tasks.loading {
        app.request(Request::Tasks);
    }
    // A finished task does not change any more; a pending or running one (and its log) does.
    if let Some(d) = &app.tasks.detail
        && !d.loading
        && !d.data.as_ref().is_some_and(|x| x.task.is_finished())
    {
        let id = d.id.clone();
        app.request(Request::TaskDetail { id });
    }
}

/// Queues a task (from `:task` or the new-task popup).
pub fn submit(app: &mut App, provider: String, prompt: String) {
    if let Some(i) = TASK_PROVIDERS.iter().position(|p| *p == provider) {
        app.tasks.last_provider = i;
    }
    app.flash(format!("submitting a task for {provider}…"), false);
    app.request(Request::SubmitTask { provider, prompt });
}

pub fn on_list(app: &mut App, result: Result<TaskList, String>) {
    app.tasks.loading = false;
    match result {
        Ok(list) => {
            app.tasks.error = None;
            app.tasks.set(list);
        }
        Err(e) => app.tasks.error = Some(e),
    }
}

pub fn on_detail(app: &mut App, id: String, result: Result<Box<TaskDetail>, String>) {
    let width = markdown_width(app.size);
    let theme = app.theme.clone();
    let Some(d) = app.tasks.detail.as_mut().filter(|d| d.id == id) else {
        return; // closed, or another task opened since
    };
    d.loading = false;
    match result {
        Ok(detail) => {
            d.error = None;
            d.data = Some(*detail);
            d.render_result(&theme, width);
        }
        Err(e) => d.error = Some(e),
    }
}

pub fn on_submitted(app: &mut App, provider: String, result: Result<String, String>) {
    match result {
        Ok(id) => {
            app.flash(format!("{id} queued for {provider}"), false);
            if app.view == View::Tasks {
                app.tasks.select_pending = Some(id);
                app.request(Request::Tasks);
            }
        }
        Err(e) => app.flash(format!("task not submitted: {e}"), true),
    }
}

/// Re-renders the open result after a resize.
pub fn relayout(app: &mut App) {
    let width = markdown_width(app.size);
    let theme = app.theme.clone();
    if let Some(d) = app.tasks.detail.as_mut()
        && d.md_width != width
    {
        d.render_result(&theme, width);
    }
}

/// Keys of the detail popup: movement scrolls, ctrl-r reloads, esc / q / enter close.
pub fn detail_key(app: &mut App, key: &KeyEvent) {
    let page = app.page();
    let action = app.keymap.action(Scope::Global, Key::from_event(key));
    let close = matches!(key.code, KeyCode::Esc | KeyCode::Enter | KeyCode::Char('q'))
        || (key.code == KeyCode::Char('c') && key.modifiers.contains(KeyModifiers::CONTROL));
    if close {
        app.tasks.detail = None;
        return;
    }
    app.popup = Some(Popup::TaskDetail);
    if action == Some(Action::Refresh) {
        if let Some(id) = app.tasks.detail.as_ref().map(|d| d.id.clone()) {
            if let Some(d) = app.tasks.detail.as_mut() {
                d.loading = true;
            }
            app.request(Request::TaskDetail { id });
        }
        return;
    }
    let Some(d) = app.tasks.detail.as_ref() else {
        app.popup = None;
        return;
    };
    // Scrolling stops at the last page, so `k` after `G` moves at once.
    let inner = detail_rect(Rect::new(0, 0, app.size.0, app.size.1));
    let lines = detail_lines(app, d, usize::from(inner.width.saturating_sub(2))).len();
    let max = lines.saturating_sub(usize::from(inner.height.saturating_sub(2)));
    let s = d.scroll.min(max);
    let scroll = match action {
        Some(Action::Down) => s + 1,
        Some(Action::Up) => s.saturating_sub(1),
        Some(Action::PageDown) => s + page,
        Some(Action::PageUp) => s.saturating_sub(page),
        Some(Action::Top) => 0,
        Some(Action::Bottom) => max,
        _ => s,
    };
    if let Some(d) = app.tasks.detail.as_mut() {
        d.scroll = scroll.min(max);
    }
}

/// Keys of the new-task popup: Tab changes the provider, Enter submits, Esc cancels.
pub fn new_task_key(app: &mut App, key: &KeyEvent, provider: usize, mut input: TextInput) {
    let mut provider = provider % TASK_PROVIDERS.len();
    match input.handle(key) {
        InputOutcome::Submit => {
            let prompt = input.text().trim().to_string();
            if prompt.is_empty() {
                app.flash("type the prompt first (esc cancels)", true);
            } else {
                let name = TASK_PROVIDERS.get(provider).copied().unwrap_or("claude");
                submit(app, name.to_string(), prompt);
                return;
            }
        }
        InputOutcome::Cancel => return,
        InputOutcome::Complete => provider = (provider + 1) % TASK_PROVIDERS.len(),
        _ => {}
    }
    app.popup = Some(Popup::NewTask { provider, input });
}

// ------------------------------------------------------------------------ drawing

const COLS: [Col; 9] = [
    Col::fixed("ID", 7, 0),
    Col::fixed("STATUS", 9, 0),
    Col::fixed("PROVIDER", 8, 3),
    Col::fixed("ROLE", 10, 5),
    Col::num("AGE", 4, 2),
    Col::fixed("WORKER", 14, 4),
    Col::num("RETRY", 5, 6),
    Col::flex("RESULT", 20, 3, 1),
    Col::num("COST", 7, 1),
];

/// Task costs are mostly cents: four decimals under a dollar; `-` before anything ran.
fn cost_cell(theme: &Theme, t: &TaskRow) -> Span<'static> {
    if t.cost_usd.is_none() && t.tokens.is_none() {
        return muted(theme, "-");
    }
    styled(fmt::cost_precise(t.cost_usd), theme.cost(t.cost_usd))
}

fn summary_span(theme: &Theme, t: &TaskRow, text: &str, width: u16) -> Span<'static> {
    let style = if t.error.is_some() && (t.status == "failed" || t.result.is_none()) {
        theme.error
    } else if t.result.is_some() {
        theme.text
    } else {
        theme.muted
    };
    styled(cell(text, width, false), style)
}

pub fn draw(app: &App, f: &mut Frame, area: Rect) {
    let t = &app.theme;
    let st = &app.tasks;
    let mut heading = vec![styled("Tasks", t.title)];
    heading.push(muted(
        t,
        if !st.loaded {
            String::new()
        } else if st.filter.is_empty() {
            format!(" ({})", st.all.len())
        } else {
            format!(" ({}/{}) /{}", st.visible.len(), st.all.len(), st.filter)
        },
    ));
    for (status, n) in st.counts() {
        let (icon, style) = status_look(t, status);
        heading.push(Span::raw(" "));
        heading.push(styled(format!("{icon}{n}"), style));
    }
    let right = vec![
        refreshing(app, st.loading),
        muted(t, st.source.clone().unwrap_or_default()),
    ];
    let block = frame(t, heading, right);
    let inner = block.inner(area);
    f.render_widget(block, area);
    if !st.loaded {
        if let Some(e) = &st.error {
            draw_unreachable(app, f, inner, e);
        } else {
            super::placeholder(app, f, inner, true, None, "");
        }
        return;
    }
    // A failed refresh keeps the rows and says so on the last line.
    let (table_area, error_area) = match &st.error {
        Some(_) if inner.height > 2 => {
            let [a, b] = Layout::vertical([Constraint::Min(1), Constraint::Length(1)]).areas(inner);
            (a, Some(b))
        }
        _ => (inner, None),
    };
    if let (Some(r), Some(e)) = (error_area, &st.error) {
        f.render_widget(
            Paragraph::new(Line::from(styled(
                fmt::truncate(
                    &format!("✗ refresh failed: {}", fmt::one_line(e)),
                    r.width.into(),
                ),
                t.error,
            ))),
            r,
        );
    }
    if st.visible.is_empty() {
        let empty = if st.filter.is_empty() {
            "no tasks yet — n submits one (or :task claude PROMPT)".to_string()
        } else {
            format!("no task matches '{}' (esc clears)", st.filter)
        };
        super::placeholder(app, f, table_area, false, None, &empty);
        return;
    }
    let widths = fit_columns(&COLS, table_area.width);
    let header = Row::new(
        widths
            .iter()
            .map(|(i, w)| {
                let c = COLS.get(*i).copied().unwrap_or(COLS[0]);
                Cell::from(cell(c.title, *w, c.right))
            })
            .collect::<Vec<_>>(),
    )
    .style(t.header);
    let rows: Vec<Row> = st
        .visible
        .iter()
        .filter_map(|i| st.all.get(*i).map(|task| (task, st.summaries.get(*i))))
        .map(|(task, summary)| {
            Row::new(
                widths
                    .iter()
                    .map(|(i, w)| {
                        let col = COLS.get(*i).copied().unwrap_or(COLS[0]);
                        let text = |x: &str| Cell::from(cell(x, *w, col.right));
                        match col.title {
                            "ID" => text(&task.id),
                            "STATUS" => Cell::from(status_span(t, &task.status)),
                            "PROVIDER" => text(&task.provider),
                            "ROLE" => text(task.role.as_deref().unwrap_or("-")),
                            "AGE" => text(&fmt::age(task.created_at.as_deref(), app.now)),
                            "WORKER" => text(task.assignee.as_deref().unwrap_or("-")),
                            "RETRY" => text(&format!("{}/{}", task.retries, task.max_retries)),
                            "RESULT" => Cell::from(summary_span(
                                t,
                                task,
                                summary.map(String::as_str).unwrap_or(""),
                                *w,
                            )),
                            "COST" => Cell::from(Line::from(cost_cell(t, task)).right_aligned()),
                            _ => Cell::from(""),
                        }
                    })
                    .collect::<Vec<_>>(),
            )
        })
        .collect();
    let table = Table::new(rows, widths.iter().map(|(_, w)| Constraint::Length(*w)))
        .header(header)
        .column_spacing(1)
        .row_highlight_style(t.selected);
    let mut state = TableState::default().with_selected(Some(st.selected));
    f.render_stateful_widget(table, table_area, &mut state);
}

/// No coordination store: the error, and how to configure one.
fn draw_unreachable(app: &App, f: &mut Frame, area: Rect, error: &str) {
    let t = &app.theme;
    let width = usize::from(area.width.saturating_sub(4));
    let mut lines = vec![Line::default()];
    lines.extend(wrap_line(
        &Line::from(vec![
            styled("✗ ", t.error),
            styled(fmt::one_line(error), t.error),
        ]),
        width,
    ));
    lines.push(Line::default());
    for hint in CONFIGURE_HINT {
        lines.extend(wrap_line(&Line::from(muted(t, hint)), width));
    }
    let r = Rect::new(
        area.x + 2.min(area.width),
        area.y + (area.height / 4).min(2),
        area.width.saturating_sub(4),
        area.height.saturating_sub((area.height / 4).min(2)),
    );
    f.render_widget(Paragraph::new(lines), r);
}

/// The detail popup's rectangle on a screen of `size`.
fn detail_rect(area: Rect) -> Rect {
    let w = area.width.saturating_sub(8).clamp(20, 120);
    crate::ui::centered(area, w, area.height.saturating_sub(2))
}

/// Width of the result's markdown inside the detail popup (2 borders, 2 indent).
fn markdown_width(size: (u16, u16)) -> usize {
    let r = detail_rect(Rect::new(0, 0, size.0, size.1));
    usize::from(r.width.saturating_sub(4))
}

fn section(theme: &Theme, title: &str) -> Line<'static> {
    Line::from(styled(title.to_string(), theme.heading))
}

/// Every line of the detail popup, wrapped to `width`.
pub fn detail_lines(app: &App, d: &Detail, width: usize) -> Vec<Line<'static>> {
    let t = &app.theme;
    let mut out: Vec<Line<'static>> = Vec::new();
    let mut push = |line: Line<'static>| out.extend(wrap_line(&line, width));
    let Some(data) = &d.data else {
        let msg = match &d.error {
            Some(e) => styled(format!("✗ {e}"), t.error),
            None => muted(t, format!("{} loading {}…", app.spinner(), d.id)),
        };
        push(Line::from(msg));
        return out;
    };
    let task = &data.task;
    let label = |s: &str| muted(t, format!("{s:<10}"));
    let mut head = vec![
        styled(
            format!("{}  ", task.id),
            t.title.add_modifier(Modifier::BOLD),
        ),
        status_span(t, &task.status),
        Span::raw("  "),
        styled(task.provider.clone(), t.text),
    ];
    if let Some(r) = &task.role {
        head.push(muted(t, format!("  role {r}")));
    }
    push(Line::from(head));
    if let Some(e) = &d.error {
        push(Line::from(styled(format!("✗ reload failed: {e}"), t.error)));
    }
    if let Some(dir) = &task.dir {
        push(Line::from(vec![
            label("dir"),
            styled(fmt::tilde(dir, app.home_dir.as_deref()), t.text),
        ]));
    }
    push(Line::from(vec![
        label("worker"),
        styled(task.assignee.clone().unwrap_or_else(|| "-".into()), t.text),
        muted(
            t,
            format!("   retries {}/{}", task.retries, task.max_retries),
        ),
    ]));
    if let Some(m) = &task.model {
        push(Line::from(vec![label("model"), styled(m.clone(), t.text)]));
    }
    let mut cost = vec![label("cost"), cost_cell(t, task)];
    if let Some(tk) = &task.tokens {
        cost.push(muted(
            t,
            format!(
                "   in {} out {} cache {}/{}",
                fmt::tokens(tk.input),
                fmt::tokens(tk.output),
                fmt::tokens(tk.cache_read),
                fmt::tokens(tk.cache_write)
            ),
        ));
    }
    if let Some(c) = task.reported_cost_usd {
        cost.push(muted(
            t,
            format!("   (agent: {})", fmt::cost_precise(Some(c))),
        ));
    }
    push(Line::from(cost));
    let mut times = vec![label("times")];
    let mut sep = "";
    for (name, at) in [
        ("created", &task.created_at),
        ("claimed", &task.claimed_at),
        ("started", &task.started_at),
        ("finished", &task.finished_at),
    ] {
        if let Some(at) = at {
            times.push(muted(t, format!("{sep}{name} ")));
            times.push(styled(fmt::clock(Some(at)), t.text));
            sep = " · ";
        }
    }
    if let Some(c) = &task.created_at {
        times.push(muted(t, format!("  ({} ago)", fmt::age(Some(c), app.now))));
    }
    if let Some(took) = fmt::elapsed(task.started_at.as_deref(), task.finished_at.as_deref()) {
        times.push(muted(t, format!("  ran {took}")));
    }
    push(Line::from(times));
    push(Line::default());
    push(section(t, "Prompt"));
    for l in task.prompt.lines() {
        push(Line::from(vec![
            Span::raw("  "),
            styled(l.to_string(), t.user_prompt),
        ]));
    }
    if task.result.is_some() {
        push(Line::default());
        push(section(t, "Result"));
        for l in &d.result_md {
            let mut spans = vec![Span::raw("  ")];
            spans.extend(l.spans.iter().cloned());
            push(Line::from(spans).style(l.style));
        }
    }
    if let Some(e) = &task.error {
        push(Line::default());
        push(section(t, "Error"));
        for l in e.lines() {
            push(Line::from(vec![
                Span::raw("  "),
                styled(l.to_string(), t.error),
            ]));
        }
    }
    push(Line::default());
    push(section(t, &format!("Log ({} lines)", data.logs.len())));
    if data.logs.is_empty() {
        push(Line::from(muted(t, "  (no log lines)")));
    }
    for l in &data.logs {
        push(Line::from(vec![
            muted(t, format!("  {}  ", fmt::clock(l.at.as_deref()))),
            styled(l.text.clone(), t.text),
        ]));
    }
    out
}

pub fn draw_detail(app: &App, f: &mut Frame, area: Rect) {
    let Some(d) = &app.tasks.detail else {
        return;
    };
    let t = &app.theme;
    let r = detail_rect(area);
    f.render_widget(Clear, r);
    let title = format!(" Task {} ", d.id);
    let keys = Line::from(vec![
        styled(" j/k", t.key),
        muted(t, " scroll  "),
        styled("ctrl-r", t.key),
        muted(t, " reload  "),
        styled("esc", t.key),
        muted(t, " close "),
    ])
    .alignment(Alignment::Right);
    let mut block = Block::default()
        .borders(Borders::ALL)
        .border_type(BorderType::Rounded)
        .border_style(t.accent)
        .title(Line::from(styled(title, t.title)))
        .title_bottom(keys);
    if d.loading && d.data.is_some() {
        block = block.title(
            Line::from(styled(format!("{} ", app.spinner()), t.accent)).alignment(Alignment::Right),
        );
    }
    let inner = block.inner(r);
    f.render_widget(block, r);
    let lines = detail_lines(app, d, usize::from(inner.width));
    let max = lines.len().saturating_sub(usize::from(inner.height));
    let visible: Vec<Line> = lines.into_iter().skip(d.scroll.min(max)).collect();
    f.render_widget(Paragraph::new(visible), inner);
}

pub fn draw_new_task(app: &App, f: &mut Frame, area: Rect, provider: usize, input: &TextInput) {
    let t = &app.theme;
    let r = crate::ui::centered(area, 76, 7);
    f.render_widget(Clear, r);
    let block = crate::ui::popup_block(app, "New task");
    let inner = block.inner(r);
    f.render_widget(block, r);
    let name = TASK_PROVIDERS.get(provider).copied().unwrap_or("claude");
    let (mut spans, x) = crate::ui::input_line(app, "› ", input);
    spans.insert(0, Span::raw(""));
    let lines = vec![
        Line::from(vec![
            muted(t, "provider "),
            styled(format!("[{name}]"), t.accent.add_modifier(Modifier::BOLD)),
            muted(
                t,
                "  (tab changes) · a worker runs the prompt with this CLI",
            ),
        ]),
        Line::default(),
        Line::from(spans),
        Line::default(),
        Line::from(vec![
            styled("enter", t.key),
            muted(t, " submit   "),
            styled("esc", t.key),
            muted(t, " cancel"),
        ])
        .alignment(Alignment::Right),
    ];
    f.render_widget(Paragraph::new(lines), inner);
    f.set_cursor_position((inner.x + x.min(inner.width.saturating_sub(1)), inner.y + 2));
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixture;

    fn ids(s: &State) -> Vec<String> {
        s.visible
            .iter()
            .filter_map(|i| s.all.get(*i))
            .map(|t| t.id.clone())
            .collect()
    }

    #[test]
    fn newest_first_and_filtered_by_any_field() {
        let mut s = State::default();
        let mut list = fixture::task_list();
        list.tasks.reverse();
        s.set(list);
        assert_eq!(ids(&s), ["t-7", "t-6", "t-5", "t-4", "t-3"]);
        s.set_filter("failed".into());
        assert_eq!(ids(&s), ["t-4"]);
        s.set_filter("CODEX flaky".into());
        assert_eq!(ids(&s), ["t-7"]);
        s.set_filter("nothing-like-this".into());
        assert!(s.visible.is_empty());
        assert!(s.selected_row().is_none());
    }

    #[test]
    fn selection_follows_the_task_across_reloads() {
        let mut s = State::default();
        s.set(fixture::task_list());
        s.selected = 2;
        let id = s.selected_row().map(|t| t.id.clone());
        let mut list = fixture::task_list();
        list.tasks.remove(0);
        s.set(list);
        assert_eq!(s.selected_row().map(|t| t.id.clone()), id);
        s.select_pending = Some("t-3".into());
        s.set(fixture::task_list());
        assert_eq!(s.selected_row().map(|t| t.id.as_str()), Some("t-3"));
        // Submitted but not in this (older) list yet: wait for the next one.
        s.select_pending = Some("t-8".into());
        s.set(fixture::task_list());
        assert_eq!(s.selected_row().map(|t| t.id.as_str()), Some("t-3"));
        let mut list = fixture::task_list();
        list.tasks.insert(
            0,
            TaskRow {
                id: "t-8".into(),
                created_at: Some("2026-11-27T09:59:59Z".into()),
                ..TaskRow::default()
            },
        );
        s.set(list);
        assert_eq!(s.selected_row().map(|t| t.id.as_str()), Some("t-8"));
        assert_eq!(s.select_pending, None);
    }

    #[test]
    fn summaries_drop_markdown_and_prefer_the_error_of_a_failure() {
        let list = fixture::task_list();
        let by_id = |id: &str| list.tasks.iter().find(|t| t.id == id).map(summary);
        assert_eq!(
            by_id("t-5").as_deref(),
            Some("Updated README.md: added the :tasks keys fixed two broken links aimux task list")
        );
        assert!(by_id("t-4").is_some_and(|s| s.starts_with("gemini exited with status 1")));
        assert!(by_id("t-7").is_some_and(|s| s.starts_with("❯ Fix the flaky test")));
        assert_eq!(plain_text(""), "");
    }

    #[test]
    fn seq_orders_ids_numerically() {
        assert!(seq("t-10") > seq("t-9"));
        assert_eq!(seq("weird"), 0);
    }
}
