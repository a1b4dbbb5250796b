//! Sessions (`:sessions`) and history (`:history`): every session, live or past, with its
//! annotation counts. Enter opens the trace.

use super::{
    Col, cell, cost_span, fit_columns, frame, list_move, muted, placeholder, refreshing, styled,
};
use crate::app::App;
use crate::fmt;
use crate::keymap::Action;
use aimux_engine::catalog::SessionRow;
use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::text::Line;
use ratatui::widgets::{Cell, Row, Table, TableState};
use std::cmp::Ordering;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Sort {
    #[default]
    Recent,
    Cost,
    Age,
    Turns,
    Title,
}

impl Sort {
    pub fn next(self) -> Sort {
        match self {
            Sort::Recent => Sort::Cost,
            Sort::Cost => Sort::Age,
            Sort::Age => Sort::Turns,
            Sort::Turns => Sort::Title,
            Sort::Title => Sort::Recent,
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            Sort::Recent => "recent",
            Sort::Cost => "cost ↓",
            Sort::Age => "age ↓",
            Sort::Turns => "turns ↓",
            Sort::Title => "title",
        }
    }
}

#[derive(Debug, Clone, Default)]
pub struct State {
    pub all: Vec<SessionRow>,
    /// Indices into `all`, sorted and filtered.
    pub visible: Vec<usize>,
    pub loading: bool,
    pub error: Option<String>,
    pub loaded: bool,
    pub sort: Sort,
    pub filter: String,
    pub selected: usize,
    /// Opened as `:history`.
    pub history: bool,
    /// Full-text search results shown instead of the list (`/` then Enter).
    pub search: Option<super::search_results::State>,
}

pub fn title(s: &SessionRow) -> String {
    s.title
        .clone()
        .filter(|t| !t.trim().is_empty())
        .map(|t| fmt::one_line(&t))
        .unwrap_or_else(|| format!("({})", s.id.chars().take(8).collect::<String>()))
}

fn compare(sort: Sort, a: &SessionRow, b: &SessionRow) -> Ordering {
    let none_last = |x: &Option<String>, y: &Option<String>| match (x, y) {
        (Some(x), Some(y)) => y.cmp(x),
        (Some(_), None) => Ordering::Less,
        (None, Some(_)) => Ordering::Greater,
        (None, None) => Ordering::Equal,
    };
    match sort {
        Sort::Recent => none_last(&a.last_activity, &b.last_activity),
        Sort::Cost => match (a.cost_usd, b.cost_usd) {
            (Some(x), Some(y)) => y.total_cmp(&x),
            (Some(_), None) => Ordering::Less,
            (None, Some(_)) => Ordering::Greater,
            (None, None) => Ordering::Equal,
        },
        // Oldest first, unknown last.
        Sort::Age => match (&a.started_at, &b.started_at) {
            (Some(x), Some(y)) => x.cmp(y),
            (Some(_), None) => Ordering::Less,
            (None, Some(_)) => Ordering::Greater,
            (None, None) => Ordering::Equal,
        },
        Sort::Turns => b.turns.cmp(&a.turns),
        Sort::Title => title(a).to_lowercase().cmp(&title(b).to_lowercase()),
    }
    .then_with(|| a.id.cmp(&b.id))
}

pub fn matches(s: &SessionRow, filter: &str) -> bool {
    let hay = format!(
        "{} {} {} {} {} {}",
        title(s),
        s.id,
        s.provider,
        s.model.as_deref().unwrap_or(""),
        s.project.as_deref().unwrap_or(""),
        s.cwd.as_deref().unwrap_or("")
    )
    .to_lowercase();
    filter
        .to_lowercase()
        .split_whitespace()
        .all(|w| hay.contains(w))
}

impl State {
    pub fn set(&mut self, rows: Vec<SessionRow>) {
        let keep = self.selected_row().map(|r| r.id.clone());
        self.all = rows;
        self.loaded = true;
        self.rebuild(keep);
    }

    pub fn set_filter(&mut self, f: String) {
        self.search = None;
        self.filter = f;
        self.selected = 0;
        self.rebuild(None);
    }

    pub fn cycle_sort(&mut self) {
        self.sort = self.sort.next();
        self.resort();
    }

    pub fn resort(&mut self) {
        let keep = self.selected_row().map(|r| r.id.clone());
        self.rebuild(keep);
    }

    fn rebuild(&mut self, keep: Option<String>) {
        let sort = self.sort;
        (self.visible, self.selected) = super::filter_sort_select(
            &self.all,
            |s| matches(s, &self.filter),
            |x, y| compare(sort, x, y),
            |s| s.id.as_str(),
            keep.as_deref(),
            self.selected,
        );
    }

    pub fn selected_row(&self) -> Option<&SessionRow> {
        self.visible
            .get(self.selected)
            .and_then(|i| self.all.get(*i))
    }

    /// Applies a label change made in a trace to the counts shown here.
    pub fn adjust_counts(
        &mut self,
        session_id: &str,
        old: Option<aimux_engine::annotations::Label>,
        new: Option<aimux_engine::annotations::Label>,
    ) {
        use aimux_engine::annotations::Label;
        let Some(row) = self.all.iter_mut().find(|s| s.id == session_id) else {
            return;
        };
        let c = &mut row.annotations;
        let field = |c: &mut aimux_engine::catalog::AnnotationCounts, l: Label, delta: isize| {
            let f = match l {
                Label::Good => &mut c.good,
                Label::Bad => &mut c.bad,
                Label::Waste => &mut c.waste,
                Label::Clear => return,
            };
            *f = f.saturating_add_signed(delta);
        };
        if let Some(o) = old {
            field(c, o, -1);
        }
        if let Some(n) = new {
            field(c, n, 1);
        }
    }
}

pub fn on_action(app: &mut App, action: Action) {
    if super::search_results::on_action(app, action) {
        return;
    }
    if let Some(i) = list_move(
        app,
        action,
        app.sessions.selected,
        app.sessions.visible.len(),
    ) {
        app.sessions.selected = i;
        return;
    }
    match action {
        Action::Sort => {
            app.sessions.cycle_sort();
            let l = app.sessions.sort.label();
            app.flash(format!("sort: {l}"), false);
        }
        Action::Open | Action::Trace => {
            if let Some(id) = app.sessions.selected_row().map(|r| r.id.clone()) {
                app.open_trace(id);
            }
        }
        Action::Delete => {
            if let Some(id) = app.sessions.selected_row().map(|r| r.id.clone()) {
                super::search_results::confirm_delete(app, &id);
            }
        }
        _ => {}
    }
}

const COLS: [Col; 9] = [
    Col::flex("TITLE", 20, 3, 0),
    Col::fixed("PROVIDER", 8, 3),
    Col::flex("MODEL", 12, 1, 5),
    Col::flex("PROJECT", 10, 1, 4),
    Col::num("LAST", 5, 2),
    Col::num("TURNS", 5, 6),
    Col::num("TOKENS", 7, 7),
    Col::num("COST", 7, 1),
    Col::fixed("G/B/W", 7, 2),
];

pub fn draw(app: &App, f: &mut Frame, area: Rect) {
    if app.sessions.search.is_some() {
        super::search_results::draw(app, f, area);
        return;
    }
    let t = &app.theme;
    let st = &app.sessions;
    let name = if st.history { "History" } else { "Sessions" };
    let mut heading = vec![styled(name, t.title)];
    heading.push(muted(
        t,
        if st.filter.is_empty() {
            format!(" ({})", st.all.len())
        } else {
            format!(" ({}/{}) /{}", st.visible.len(), st.all.len(), st.filter)
        },
    ));
    let right = vec![
        refreshing(app, st.loading),
        muted(t, format!("sort: {}", st.sort.label())),
    ];
    let block = frame(t, heading, right);
    let inner = block.inner(area);
    f.render_widget(block, area);
    if st.visible.is_empty() {
        let empty = if st.loaded && !st.filter.is_empty() {
            format!("no session matches '{}' (esc clears)", st.filter)
        } else {
            "no sessions found".to_string()
        };
        placeholder(
            app,
            f,
            inner,
            st.loading && !st.loaded,
            st.error.as_deref().filter(|_| !st.loaded),
            &empty,
        );
        return;
    }
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
        .visible
        .iter()
        .filter_map(|i| st.all.get(*i))
        .map(|s| {
            Row::new(
                widths
                    .iter()
                    .map(|(i, w)| {
                        let col = COLS.get(*i).copied().unwrap_or(COLS[0]);
                        let text = |x: &str| Cell::from(cell(x, *w, col.right));
                        match col.title {
                            "TITLE" => text(&title(s)),
                            "PROVIDER" => text(s.provider.as_str()),
                            "MODEL" => text(s.model.as_deref().unwrap_or("?")),
                            "PROJECT" => text(s.project.as_deref().unwrap_or("-")),
                            "LAST" => text(&fmt::age(s.last_activity.as_deref(), app.now)),
                            "TURNS" => text(&s.turns.to_string()),
                            "TOKENS" => text(&fmt::tokens(s.tokens.total())),
                            "COST" => {
                                Cell::from(Line::from(cost_span(t, s.cost_usd)).right_aligned())
                            }
                            "G/B/W" => {
                                let a = s.annotations;
                                let part = |n: usize, style| {
                                    styled(n.to_string(), if n == 0 { t.muted } else { style })
                                };
                                Cell::from(Line::from(vec![
                                    part(a.good, t.label_good),
                                    muted(t, "/"),
                                    part(a.bad, t.label_bad),
                                    muted(t, "/"),
                                    part(a.waste, t.label_waste),
                                ]))
                            }
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
    f.render_stateful_widget(table, inner, &mut state);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixture;

    fn ids(s: &State) -> Vec<String> {
        s.visible
            .iter()
            .filter_map(|i| s.all.get(*i))
            .map(|r| r.id.chars().take(4).collect())
            .collect()
    }

    #[test]
    fn sorts_and_filters() {
        let mut s = State::default();
        s.set(fixture::sessions());
        assert_eq!(ids(&s), ["3b22", "0199", "c0ff", "a3f9", "dead"]);
        s.cycle_sort();
        assert_eq!(s.sort, Sort::Cost);
        assert_eq!(ids(&s), ["0199", "c0ff", "3b22", "a3f9", "dead"]);
        s.cycle_sort();
        assert_eq!(ids(&s).first().map(String::as_str), Some("dead"));
        s.cycle_sort();
        assert_eq!(ids(&s).first().map(String::as_str), Some("c0ff"));
        s.cycle_sort();
        assert_eq!(s.sort, Sort::Title);
        assert_eq!(ids(&s).first().map(String::as_str), Some("a3f9"));
        s.set_filter("codex".into());
        assert_eq!(ids(&s), ["0199", "dead"]);
        s.set_filter("infra opus".into());
        assert_eq!(ids(&s), ["c0ff"]);
    }

    #[test]
    fn label_changes_adjust_counts() {
        use aimux_engine::annotations::Label;
        let mut s = State::default();
        s.set(fixture::sessions());
        let id = "3b22f6a2-8179-4ae8-b430-9c1e0f6d2a11";
        s.adjust_counts(id, Some(Label::Good), Some(Label::Bad));
        let row = s.all.iter().find(|r| r.id == id).map(|r| r.annotations);
        assert_eq!(row.map(|a| (a.good, a.bad, a.waste)), Some((0, 2, 0)));
        s.adjust_counts(id, None, Some(Label::Waste));
        let row = s.all.iter().find(|r| r.id == id).map(|r| r.annotations);
        assert_eq!(row.map(|a| (a.good, a.bad, a.waste)), Some((0, 2, 1)));
    }
}
