//! The agents view (default): one row per live agent, expandable into its subagents and
//! child processes, a detail panel for the selected row.

use super::{
    Col, cell, cost_span, fit_columns, frame, list_move, muted, placeholder, refreshing,
    status_icon, status_span, styled,
};
use crate::app::{App, Popup};
use crate::fmt;
use crate::keymap::Action;
use aimux_core::status::Status;
use aimux_engine::agents::{AgentRow, AgentsSnapshot, ChildProcess, MatchEvidence};
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Cell, Paragraph, Row, Table, TableState};
use std::cmp::Ordering;
use std::collections::HashSet;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Sort {
    #[default]
    Name,
    Cost,
    Age,
    Model,
    Pid,
    Status,
}

impl Sort {
    pub fn next(self) -> Sort {
        match self {
            Sort::Name => Sort::Cost,
            Sort::Cost => Sort::Age,
            Sort::Age => Sort::Model,
            Sort::Model => Sort::Pid,
            Sort::Pid => Sort::Status,
            Sort::Status => Sort::Name,
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Sort::Name => "name",
            Sort::Cost => "cost ↓",
            Sort::Age => "age ↓",
            Sort::Model => "model",
            Sort::Pid => "pid",
            Sort::Status => "status (needs you first)",
        }
    }
}

/// One visible line of the tree.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FlatRow {
    /// Index path into the (sorted) agents: top level, then subagents.
    pub path: Vec<usize>,
    /// Set for a child-process line: index into the agent's `children`.
    pub child: Option<usize>,
    /// Tree glyphs before the name (`│  ├─ `).
    pub guides: String,
    pub has_kids: bool,
    pub expanded: bool,
}

#[derive(Debug, Clone, Default)]
pub struct State {
    pub snapshot: Option<AgentsSnapshot>,
    pub loading: bool,
    pub error: Option<String>,
    pub sort: Sort,
    pub filter: String,
    pub selected: usize,
    pub expanded: HashSet<String>,
    pub rows: Vec<FlatRow>,
}

/// Display name of an agent: its session title, else its project, else its provider.
pub fn name(a: &AgentRow) -> String {
    a.title
        .clone()
        .filter(|t| !t.trim().is_empty())
        .or_else(|| a.project.clone())
        .or_else(|| {
            a.cwd
                .as_deref()
                .and_then(|c| c.rsplit('/').find(|s| !s.is_empty()))
                .map(str::to_string)
        })
        .unwrap_or_else(|| a.provider.to_string())
}

fn key(a: &AgentRow) -> String {
    match &a.remote {
        Some(r) => format!("pod/{}", r.pod),
        None => format!("{}:{}", a.pid, a.session_id.as_deref().unwrap_or("")),
    }
}

/// The PID column: remote agents have no local process.
fn pid_text(a: &AgentRow) -> String {
    match &a.remote {
        Some(_) => a.location.clone(),
        None => a.pid.to_string(),
    }
}

fn attention_rank(s: Status) -> u8 {
    match s {
        Status::Waiting => 0,
        Status::Error => 1,
        Status::Active => 2,
        Status::Idle => 3,
        Status::Unknown => 4,
    }
}

fn compare(sort: Sort, a: &AgentRow, b: &AgentRow) -> Ordering {
    let by_name = || {
        name(a)
            .to_lowercase()
            .cmp(&name(b).to_lowercase())
            .then(a.pid.cmp(&b.pid))
    };
    match sort {
        Sort::Name => by_name(),
        Sort::Cost => match (a.cost_usd, b.cost_usd) {
            (Some(x), Some(y)) => y.total_cmp(&x),
            (Some(_), None) => Ordering::Less,
            (None, Some(_)) => Ordering::Greater,
            (None, None) => Ordering::Equal,
        }
        .then_with(by_name),
        // Oldest first: started_at ascending, unknown last.
        Sort::Age => match (&a.started_at, &b.started_at) {
            (Some(x), Some(y)) => x.cmp(y),
            (Some(_), None) => Ordering::Less,
            (None, Some(_)) => Ordering::Greater,
            (None, None) => Ordering::Equal,
        }
        .then_with(by_name),
        Sort::Model => a.model.cmp(&b.model).then_with(by_name),
        Sort::Pid => a.pid.cmp(&b.pid),
        Sort::Status => attention_rank(a.status)
            .cmp(&attention_rank(b.status))
            .then_with(by_name),
    }
}

fn sort_rows(rows: &mut [AgentRow], sort: Sort) {
    rows.sort_by(|a, b| compare(sort, a, b));
    for r in rows.iter_mut() {
        sort_rows(&mut r.subagents, sort);
    }
}

/// Case-insensitive: every word of the filter appears in the name, dir, model,
/// provider or status.
pub fn matches(a: &AgentRow, filter: &str) -> bool {
    let hay = format!(
        "{} {} {} {} {} {} {}",
        name(a),
        a.cwd.as_deref().unwrap_or(""),
        a.project.as_deref().unwrap_or(""),
        a.model.as_deref().unwrap_or(""),
        a.provider,
        a.status,
        pid_text(a)
    )
    .to_lowercase();
    filter
        .to_lowercase()
        .split_whitespace()
        .all(|w| hay.contains(w))
}

fn matches_tree(a: &AgentRow, filter: &str) -> bool {
    matches(a, filter) || a.subagents.iter().any(|s| matches_tree(s, filter))
}

impl State {
    pub fn set(&mut self, snapshot: AgentsSnapshot) {
        let keep = self.selection_key();
        self.snapshot = Some(snapshot);
        self.rebuild(keep);
    }

    pub fn set_filter(&mut self, filter: String) {
        self.filter = filter;
        self.selected = 0;
        self.rebuild(None);
    }

    pub fn cycle_sort(&mut self) {
        self.sort = self.sort.next();
        let keep = self.selection_key();
        self.rebuild(keep);
    }

    fn selection_key(&self) -> Option<(String, Option<u32>)> {
        let row = self.rows.get(self.selected)?;
        let agent = self.agent_at(&row.path)?;
        let child = row.child.and_then(|c| agent.children.get(c)).map(|c| c.pid);
        Some((key(agent), child))
    }

    pub fn agent_at(&self, path: &[usize]) -> Option<&AgentRow> {
        let snap = self.snapshot.as_ref()?;
        let (first, rest) = path.split_first()?;
        let mut a = snap.agents.get(*first)?;
        for i in rest {
            a = a.subagents.get(*i)?;
        }
        Some(a)
    }

    /// The agent of the selected line (a child-process line gives its agent).
    pub fn selected_agent(&self) -> Option<&AgentRow> {
        self.rows
            .get(self.selected)
            .and_then(|r| self.agent_at(&r.path))
    }

    /// The top-level agent of the selected line: what `x` kills.
    pub fn selected_root(&self) -> Option<&AgentRow> {
        self.rows
            .get(self.selected)
            .and_then(|r| r.path.first())
            .and_then(|i| self.agent_at(&[*i]))
    }

    pub fn selected_child(&self) -> Option<&ChildProcess> {
        let row = self.rows.get(self.selected)?;
        self.agent_at(&row.path)?.children.get(row.child?)
    }

    fn rebuild(&mut self, keep: Option<(String, Option<u32>)>) {
        let sort = self.sort;
        if let Some(s) = self.snapshot.as_mut() {
            sort_rows(&mut s.agents, sort);
        }
        let mut rows = Vec::new();
        if let Some(snap) = &self.snapshot {
            for (i, a) in snap.agents.iter().enumerate() {
                if !self.filter.trim().is_empty() && !matches_tree(a, &self.filter) {
                    continue;
                }
                self.push_tree(&mut rows, a, vec![i], String::new(), String::new());
            }
        }
        self.rows = rows;
        if let Some((k, child)) = keep
            && let Some(pos) = self.rows.iter().position(|r| {
                self.agent_at(&r.path).is_some_and(|a| key(a) == k)
                    && r.child.and_then(|c| {
                        self.agent_at(&r.path)
                            .and_then(|a| a.children.get(c))
                            .map(|c| c.pid)
                    }) == child
            })
        {
            self.selected = pos;
        }
        self.selected = self.selected.min(self.rows.len().saturating_sub(1));
    }

    fn push_tree(
        &self,
        rows: &mut Vec<FlatRow>,
        a: &AgentRow,
        path: Vec<usize>,
        guides: String,
        prefix: String,
    ) {
        let has_kids = !a.children.is_empty() || !a.subagents.is_empty();
        let expanded = self.expanded.contains(&key(a));
        rows.push(FlatRow {
            path: path.clone(),
            child: None,
            guides,
            has_kids,
            expanded,
        });
        if !expanded {
            return;
        }
        let n = a.subagents.len() + a.children.len();
        for (k, sub) in a.subagents.iter().enumerate() {
            let last = k + 1 == n;
            let mut p = path.clone();
            p.push(k);
            let g = format!("{prefix}{}", if last { "└─ " } else { "├─ " });
            let next = format!("{prefix}{}", if last { "   " } else { "│  " });
            self.push_tree(rows, sub, p, g, next);
        }
        for (c, _) in a.children.iter().enumerate() {
            let last = a.subagents.len() + c + 1 == n;
            rows.push(FlatRow {
                path: path.clone(),
                child: Some(c),
                guides: format!("{prefix}{}", if last { "└─ " } else { "├─ " }),
                has_kids: false,
                expanded: false,
            });
        }
    }

    fn set_expanded(&mut self, open: Option<bool>) {
        let Some(row) = self.rows.get(self.selected).cloned() else {
            return;
        };
        if row.child.is_some() {
            // On a process line, ← closes its agent.
            if open == Some(false)
                && let Some(k) = self.agent_at(&row.path).map(key)
            {
                self.expanded.remove(&k);
                let keep = Some((k, None));
                self.rebuild(keep);
            }
            return;
        }
        let Some(k) = self.agent_at(&row.path).map(key) else {
            return;
        };
        let now_open = self.expanded.contains(&k);
        let want = open.unwrap_or(!now_open);
        if want {
            self.expanded.insert(k.clone());
        } else {
            self.expanded.remove(&k);
        }
        self.rebuild(Some((k, None)));
    }
}

pub fn on_action(app: &mut App, action: Action) {
    if let Some(i) = list_move(app, action, app.agents.selected, app.agents.rows.len()) {
        app.agents.selected = i;
        return;
    }
    match action {
        Action::Sort => {
            app.agents.cycle_sort();
            let label = app.agents.sort.label();
            app.flash(format!("sort: {label}"), false);
        }
        Action::Expand => app.agents.set_expanded(None),
        Action::Collapse => app.agents.set_expanded(Some(false)),
        Action::Open | Action::Trace
            if app
                .agents
                .selected_root()
                .is_some_and(|a| a.remote.is_some()) =>
        {
            app.flash(
                "a remote agent's session files live in its pod: enter attaches to a session; T shows a worker's tasks",
                true,
            );
        }
        Action::Open | Action::Trace => {
            let st = &app.agents;
            let id = st
                .selected_agent()
                .and_then(|a| a.session_id.clone())
                .or_else(|| st.selected_root().and_then(|a| a.session_id.clone()));
            match id {
                Some(id) => app.open_trace(id),
                None => app.flash("no session found for this agent yet", true),
            }
        }
        Action::Kill => {
            let Some(a) = app.agents.selected_root() else {
                return;
            };
            if let Some(r) = &a.remote {
                app.popup = Some(Popup::ConfirmKillPod {
                    pod: r.pod.clone(),
                    provider: a.provider.to_string(),
                    effect: if r.role == "session" {
                        "deletes the session's Deployment and its pod".into()
                    } else {
                        "scales its Deployment down by exactly this pod".into()
                    },
                });
                return;
            }
            app.popup = Some(Popup::ConfirmKill {
                pid: a.pid,
                name: name(a),
                provider: a.provider.to_string(),
                dir: a
                    .cwd
                    .as_deref()
                    .map(|c| fmt::tilde(c, app.home_dir.as_deref()))
                    .unwrap_or_else(|| "?".into()),
                processes: a.process_count(),
            });
        }
        _ => {}
    }
}

const COLS: [Col; 10] = [
    Col::flex("NAME", 22, 4, 0),
    Col::num("PID", 7, 9),
    Col::fixed("PROVIDER", 8, 2),
    Col::flex("MODEL", 12, 1, 3),
    Col::fixed("STATUS", 9, 1),
    Col::flex("DIR", 12, 2, 7),
    Col::flex("LAST ACTION", 14, 2, 8),
    Col::num("AGE", 4, 4),
    Col::num("TOKENS", 6, 5),
    Col::num("COST", 7, 1),
];

fn name_cell(
    app: &App,
    row: &FlatRow,
    a: &AgentRow,
    child: Option<&ChildProcess>,
    width: u16,
) -> Line<'static> {
    let t = &app.theme;
    let mut spans = Vec::new();
    spans.push(styled(row.guides.clone(), t.tree));
    let marker = match (row.has_kids, row.expanded) {
        (true, true) => "▾ ",
        (true, false) => "▸ ",
        // Inside a tree the guides already mark the row.
        (false, _) if !row.guides.is_empty() => "",
        (false, _) => "  ",
    };
    if let Some(c) = child {
        let text = format!("⚙ {} ({})", c.name, c.role);
        let used = fmt::truncate(&row.guides, usize::from(width))
            .chars()
            .count();
        spans.push(muted(
            t,
            fmt::truncate(&text, usize::from(width).saturating_sub(used)),
        ));
        return Line::from(spans);
    }
    spans.push(styled(marker, t.tree));
    spans.push(styled(
        format!("{} ", status_icon(a.status)),
        t.status(a.status),
    ));
    let badge = if a.process_count() > 1 {
        format!(" ×{}", a.process_count())
    } else {
        String::new()
    };
    let used: usize = unicode_width::UnicodeWidthStr::width(row.guides.as_str())
        + unicode_width::UnicodeWidthStr::width(marker)
        + 2;
    let room = usize::from(width).saturating_sub(used + badge.chars().count());
    spans.push(styled(fmt::truncate(&name(a), room), t.text));
    spans.push(muted(t, badge));
    Line::from(spans)
}

fn row_cells(app: &App, row: &FlatRow, widths: &[(usize, u16)]) -> Option<Row<'static>> {
    let t = &app.theme;
    let a = app.agents.agent_at(&row.path)?;
    let child = row.child.and_then(|c| a.children.get(c));
    let cells: Vec<Cell<'static>> = widths
        .iter()
        .map(|(i, w)| {
            let col = COLS.get(*i).copied().unwrap_or(COLS[0]);
            let text = |s: &str| Cell::from(cell(s, *w, col.right));
            if let Some(c) = child {
                return match col.title {
                    "NAME" => Cell::from(name_cell(app, row, a, Some(c), *w)),
                    "PID" => Cell::from(muted(t, cell(&c.pid.to_string(), *w, true))),
                    "LAST ACTION" => Cell::from(muted(t, cell(&c.command, *w, false))),
                    _ => Cell::from(""),
                };
            }
            match col.title {
                "NAME" => Cell::from(name_cell(app, row, a, None, *w)),
                "PID" => text(&pid_text(a)),
                "PROVIDER" => text(a.provider.as_str()),
                "MODEL" => text(a.model.as_deref().unwrap_or("?")),
                "STATUS" => Cell::from(status_span(t, a.status)),
                "DIR" => Cell::from(fmt::truncate_left(
                    &a.cwd
                        .as_deref()
                        .map(|c| fmt::tilde(c, app.home_dir.as_deref()))
                        .unwrap_or_default(),
                    usize::from(*w),
                )),
                "LAST ACTION" => text(a.last_action.as_deref().unwrap_or("")),
                "AGE" => text(&fmt::age(a.started_at.as_deref(), app.now)),
                "TOKENS" => text(&if a.tokens.is_zero() {
                    "0".to_string()
                } else {
                    fmt::tokens(a.tokens.total())
                }),
                "COST" => Cell::from(Line::from(cost_span(t, a.cost_usd)).right_aligned()),
                _ => Cell::from(""),
            }
        })
        .collect();
    Some(Row::new(cells))
}

fn detail(app: &App) -> Vec<Line<'static>> {
    let t = &app.theme;
    let st = &app.agents;
    if let Some(c) = st.selected_child() {
        return vec![
            Line::from(vec![
                muted(t, "process "),
                styled(format!("{} ", c.pid), t.accent),
                styled(c.name.clone(), t.text),
                muted(t, format!("  ({}, parent {})", c.role, c.ppid)),
            ]),
            Line::from(vec![
                muted(t, "command "),
                styled(c.command.clone(), t.text),
            ]),
        ];
    }
    let Some(a) = st.selected_agent() else {
        return Vec::new();
    };
    let evidence = match a.match_evidence {
        MatchEvidence::LiveStateFile => "live state file",
        MatchEvidence::CommandLine => "command line",
        MatchEvidence::CwdAndStartTime => "dir + start time",
        MatchEvidence::Telemetry => "telemetry",
        MatchEvidence::None => "no session matched",
    };
    let status_line = Line::from(vec![
        status_span(t, a.status),
        muted(t, " — "),
        styled(a.status_reason.clone(), t.text),
    ]);
    if let Some(r) = &a.remote {
        return vec![
            status_line,
            Line::from(vec![
                muted(t, "pod "),
                styled(r.pod.clone(), t.accent),
                muted(t, "  namespace "),
                styled(r.namespace.clone(), t.text),
                muted(t, "  "),
                styled(a.command.clone(), t.text),
            ]),
            Line::from(muted(
                t,
                if r.attachable {
                    "enter attaches to its tmux in the pod (ctrl-\\ detaches; it keeps running) · x stops the pod"
                } else {
                    "a task worker: T shows its tasks · x stops this pod"
                },
            )),
        ];
    }
    let mut lines = vec![
        status_line,
        Line::from(vec![
            muted(t, "session "),
            styled(a.session_id.clone().unwrap_or_else(|| "-".into()), t.accent),
            muted(t, format!(" ({evidence})")),
            muted(t, "  pid "),
            styled(a.pid.to_string(), t.text),
            muted(
                t,
                format!(
                    "  ×{} procs  rss {} MB  cpu {:.1}%",
                    a.process_count(),
                    a.rss_bytes / (1024 * 1024),
                    a.cpu_percent
                ),
            ),
        ]),
    ];
    let mut third = vec![
        muted(t, "dir "),
        styled(
            a.cwd
                .as_deref()
                .map(|c| fmt::tilde(c, app.home_dir.as_deref()))
                .unwrap_or_else(|| "?".into()),
            t.text,
        ),
    ];
    if let Some(action) = &a.last_action {
        third.push(muted(t, "  last "));
        third.push(styled(action.clone(), t.text));
    }
    if let Some(tmux) = &a.tmux_target {
        third.push(muted(t, "  tmux "));
        third.push(styled(tmux.clone(), t.text));
    }
    lines.push(Line::from(third));
    lines.push(Line::from(vec![
        muted(t, "tokens "),
        styled(
            format!(
                "in {} · out {} · cache read {} · cache write {}",
                fmt::tokens(a.tokens.input),
                fmt::tokens(a.tokens.output),
                fmt::tokens(a.tokens.cache_read),
                fmt::tokens(a.tokens.cache_write)
            ),
            t.text,
        ),
        muted(t, "  cost "),
        cost_span(t, a.cost_usd),
        muted(t, "  cmd "),
        styled(a.command.clone(), t.muted),
    ]));
    lines
}

pub fn draw(app: &App, f: &mut Frame, area: Rect) {
    let t = &app.theme;
    let st = &app.agents;
    let total = st.snapshot.as_ref().map(|s| s.agents.len()).unwrap_or(0);
    let mut title = vec![styled("Agents", t.title)];
    title.push(muted(
        t,
        if st.filter.is_empty() {
            format!(" ({total})")
        } else {
            format!(
                " ({}/{total}) /{}",
                st.rows
                    .iter()
                    .filter(|r| r.path.len() == 1 && r.child.is_none())
                    .count(),
                st.filter
            )
        },
    ));
    let right = vec![
        refreshing(app, st.loading),
        muted(t, format!("sort: {}", st.sort.label())),
    ];
    let block = frame(t, title, right);
    let detail_lines = detail(app);
    let detail_h = if area.height >= 20 && !detail_lines.is_empty() {
        (detail_lines.len() as u16 + 1).min(5)
    } else {
        0
    };
    let [table_area, detail_area] =
        Layout::vertical([Constraint::Min(3), Constraint::Length(detail_h)]).areas(area);
    let inner = block.inner(table_area);
    f.render_widget(block, table_area);
    if st.snapshot.is_none() || st.rows.is_empty() {
        let empty = if st.snapshot.is_some() && !st.filter.is_empty() {
            format!("no agent matches '{}' (esc clears)", st.filter)
        } else {
            "no agents running — start claude, codex or gemini and they appear here".to_string()
        };
        placeholder(
            app,
            f,
            inner,
            st.loading && st.snapshot.is_none(),
            st.error.as_deref().filter(|_| st.snapshot.is_none()),
            &empty,
        );
    } else {
        let widths = fit_columns(&COLS, inner.width);
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
            .rows
            .iter()
            .filter_map(|r| row_cells(app, r, &widths))
            .collect();
        let table = Table::new(rows, widths.iter().map(|(_, w)| Constraint::Length(*w)))
            .header(header)
            .column_spacing(1)
            .row_highlight_style(t.selected);
        let mut state = TableState::default().with_selected(Some(st.selected));
        f.render_stateful_widget(table, inner, &mut state);
    }
    if detail_h > 0 {
        let block = ratatui::widgets::Block::default()
            .borders(ratatui::widgets::Borders::TOP)
            .border_style(t.border);
        let p = Paragraph::new(detail_lines).block(block);
        f.render_widget(p, detail_area);
    }
}

/// Header figures over all agents (subagents included in status counts).
pub fn header_spans(app: &App, compact: bool) -> Vec<Span<'static>> {
    let t = &app.theme;
    let Some(snap) = &app.agents.snapshot else {
        return vec![muted(t, "agents: ")]
            .into_iter()
            .chain(std::iter::once(if app.agents.error.is_some() {
                styled("✗ unavailable", t.error)
            } else {
                styled(format!("{} loading…", app.spinner()), t.muted)
            }))
            .collect();
    };
    let c = snap.status_counts();
    let mut spans = Vec::new();
    let statuses = [
        (Status::Active, c[0]),
        (Status::Waiting, c[1]),
        (Status::Idle, c[2]),
        (Status::Error, c[3]),
        (Status::Unknown, c[4]),
    ];
    spans.push(styled(format!("{} agents ", snap.agents.len()), t.text));
    for (s, n) in statuses {
        let style = if n == 0 { t.muted } else { t.status(s) };
        let text = if compact {
            format!("{}{} ", status_icon(s), n)
        } else {
            format!("{} {n} {}  ", status_icon(s), s.as_str())
        };
        spans.push(styled(text, style));
    }
    if !compact {
        let mut providers: std::collections::BTreeMap<String, usize> = Default::default();
        for a in &snap.agents {
            *providers.entry(a.provider.to_string()).or_default() += 1;
        }
        let text = providers
            .iter()
            .map(|(p, n)| format!("{p} {n}"))
            .collect::<Vec<_>>()
            .join(" · ");
        spans.push(muted(t, format!("│ {text} │ ")));
    } else {
        spans.push(muted(t, "│ "));
    }
    let known: f64 = snap.agents.iter().filter_map(|a| a.cost_usd).sum();
    let unknown = snap.agents.iter().any(|a| a.cost_usd.is_none());
    spans.push(styled(
        format!("Σ {}", fmt::cost(Some(known))),
        t.cost(Some(known)),
    ));
    if unknown {
        spans.push(muted(t, "+?"));
    }
    let waiting = c[1];
    if waiting > 0 {
        spans.push(Span::raw("  "));
        spans.push(styled(
            if compact {
                format!("⚑ {waiting} need you")
            } else {
                format!("⚑ {waiting} waiting on you")
            },
            t.status_waiting,
        ));
    }
    spans
}

/// `x` on a remote agent: what stopping its pod does, and y / n.
pub fn draw_confirm_kill_pod(
    app: &App,
    f: &mut Frame,
    area: Rect,
    pod: &str,
    provider: &str,
    effect: &str,
) {
    let t = &app.theme;
    let r = crate::ui::centered(area, 70, 9);
    f.render_widget(ratatui::widgets::Clear, r);
    let block = crate::ui::popup_block(app, "Stop remote agent?");
    let label = |s: &str| muted(t, format!("  {s:<10}"));
    let lines = vec![
        Line::default(),
        Line::from(vec![
            label("pod"),
            styled(
                pod.to_string(),
                t.text.add_modifier(ratatui::style::Modifier::BOLD),
            ),
        ]),
        Line::from(vec![
            label("provider"),
            styled(provider.to_string(), t.text),
        ]),
        Line::from(vec![label("effect"), styled(effect.to_string(), t.text)]),
        Line::default(),
        Line::from(vec![
            styled("  y", t.key),
            muted(t, " stop   "),
            styled("n", t.key),
            muted(t, "/"),
            styled("esc", t.key),
            muted(t, " cancel"),
        ]),
    ];
    f.render_widget(Paragraph::new(lines).block(block), r);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixture;

    fn state() -> State {
        let mut s = State::default();
        s.set(fixture::agents_snapshot());
        s
    }

    fn names(s: &State) -> Vec<String> {
        s.rows
            .iter()
            .filter_map(|r| s.agent_at(&r.path).map(|a| (r, a)))
            .map(|(r, a)| match r.child {
                Some(c) => format!("child:{}", a.children.get(c).map(|c| c.pid).unwrap_or(0)),
                None => format!("{}", a.pid),
            })
            .collect()
    }

    #[test]
    fn sort_cycles_through_all_orders() {
        let mut s = state();
        let mut seen = vec![s.sort];
        for _ in 0..6 {
            s.cycle_sort();
            seen.push(s.sort);
        }
        assert_eq!(
            seen,
            [
                Sort::Name,
                Sort::Cost,
                Sort::Age,
                Sort::Model,
                Sort::Pid,
                Sort::Status,
                Sort::Name
            ]
        );
    }

    #[test]
    fn sorts_order_rows() {
        let mut s = state();
        s.sort = Sort::Cost;
        s.rebuild(None);
        // 61.20, 23.5, 12.84, 0.0, unknown last
        assert_eq!(names(&s), ["5150", "7007", "4242", "6001", "8080"]);
        s.sort = Sort::Status;
        s.rebuild(None);
        assert_eq!(names(&s).first().map(String::as_str), Some("5150"));
        s.sort = Sort::Age;
        s.rebuild(None);
        assert_eq!(names(&s).first().map(String::as_str), Some("7007"));
    }

    #[test]
    fn filter_matches_name_dir_model_provider_status() {
        let mut s = state();
        for (q, expect) in [
            ("webapp", vec!["5150"]),
            ("GEMINI", vec!["6001"]),
            ("opus", vec!["7007"]),
            ("waiting", vec!["5150"]),
            ("codex unknown", vec!["8080"]),
            ("haiku", vec!["4242"]), // via its subagent
        ] {
            s.set_filter(q.to_string());
            assert_eq!(names(&s), expect, "filter {q}");
        }
        s.set_filter("zzz".into());
        assert!(s.rows.is_empty());
    }

    #[test]
    fn expanding_shows_subagents_then_processes_with_guides() {
        let mut s = state();
        s.selected = s
            .rows
            .iter()
            .position(|r| s.agent_at(&r.path).is_some_and(|a| a.pid == 4242))
            .unwrap_or(99);
        s.set_expanded(None);
        let guides: Vec<&str> = s.rows.iter().map(|r| r.guides.as_str()).collect();
        let i = s.selected;
        assert_eq!(&guides[i + 1..i + 4], ["├─ ", "├─ ", "└─ "]);
        assert_eq!(s.rows[i + 1].path, vec![s.rows[i].path[0], 0]);
        assert_eq!(s.rows[i + 3].child, Some(1));
        // Selection stays on the agent across a refresh.
        s.set(fixture::agents_snapshot());
        assert_eq!(s.selected_agent().map(|a| a.pid), Some(4242));
        s.set_expanded(Some(false));
        assert_eq!(s.rows.len(), 5);
    }
}
