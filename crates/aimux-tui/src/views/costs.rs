//! Costs (`:costs`): by project (or provider, model, day), most expensive first, the total
//! at the bottom; scope live agents → today → 7 days → all history.

use super::{Col, cell, fit_columns, frame, list_move, muted, placeholder, refreshing, styled};
use crate::app::App;
use crate::backend::CostScope;
use crate::event::Request;
use crate::fmt;
use crate::keymap::Action;
use aimux_engine::costs::{CostReport, CostRow, GroupBy};
use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Modifier;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Cell, Row, Table, TableState};

#[derive(Debug, Clone)]
pub struct State {
    pub scope: CostScope,
    pub by: GroupBy,
    /// The report shown and what it was asked for.
    pub report: Option<(CostScope, GroupBy, CostReport)>,
    pub loading: bool,
    pub error: Option<String>,
    pub selected: usize,
}

impl Default for State {
    fn default() -> Self {
        State {
            scope: CostScope::Live,
            by: GroupBy::Project,
            report: None,
            loading: false,
            error: None,
            selected: 0,
        }
    }
}

pub fn next_group(by: GroupBy) -> GroupBy {
    match by {
        GroupBy::Project => GroupBy::Provider,
        GroupBy::Provider => GroupBy::Model,
        GroupBy::Model => GroupBy::Day,
        GroupBy::Day | GroupBy::Session => GroupBy::Project,
    }
}

impl State {
    pub fn set(&mut self, scope: CostScope, by: GroupBy, report: CostReport) {
        if scope != self.scope || by != self.by {
            // An answer to an older question.
            return;
        }
        let mut report = report;
        // Most expensive first, whatever order the backend used.
        report.rows.sort_by(|a, b| {
            b.cost_usd
                .total_cmp(&a.cost_usd)
                .then(b.tokens.total().cmp(&a.tokens.total()))
        });
        let rows = report.rows.len();
        self.report = Some((scope, by, report));
        self.selected = self.selected.min(rows.saturating_sub(1));
    }

    fn rows(&self) -> &[CostRow] {
        self.report
            .as_ref()
            .map(|r| r.2.rows.as_slice())
            .unwrap_or(&[])
    }
}

pub fn on_action(app: &mut App, action: Action) {
    let len = app.costs.rows().len();
    if let Some(i) = list_move(app, action, app.costs.selected, len) {
        app.costs.selected = i;
        return;
    }
    let reload = match action {
        Action::CostScope => {
            app.costs.scope = app.costs.scope.next();
            true
        }
        Action::CostGroup => {
            app.costs.by = next_group(app.costs.by);
            true
        }
        _ => false,
    };
    if reload {
        app.costs.selected = 0;
        let (scope, by) = (app.costs.scope, app.costs.by);
        app.request(Request::Costs { scope, by });
    }
}

/// `$12.34`, with `+?` when some usage has no known price; `?` when none has.
fn usd(row: &CostRow) -> (String, Option<f64>) {
    let unpriced = !row.unpriced_tokens.is_zero();
    if unpriced && row.cost_usd == 0.0 {
        ("?".into(), None)
    } else if unpriced {
        (
            format!("{}+?", fmt::cost(Some(row.cost_usd))),
            Some(row.cost_usd),
        )
    } else {
        (fmt::cost(Some(row.cost_usd)), Some(row.cost_usd))
    }
}

const COLS: [Col; 9] = [
    Col::flex("KEY", 12, 2, 0),
    Col::flex("PROVIDER", 8, 1, 3),
    Col::flex("MODEL", 14, 2, 5),
    Col::num("SESS", 4, 6),
    Col::num("IN", 7, 2),
    Col::num("OUT", 7, 2),
    Col::num("CACHE R", 7, 4),
    Col::num("CACHE W", 7, 4),
    Col::num("USD", 9, 1),
];

fn key_title(by: GroupBy) -> &'static str {
    match by {
        GroupBy::Project => "PROJECT",
        GroupBy::Provider => "PROVIDER",
        GroupBy::Model => "MODEL",
        GroupBy::Session => "SESSION",
        GroupBy::Day => "DAY",
    }
}

fn row_cells(app: &App, r: &CostRow, widths: &[(usize, u16)], total: bool) -> Row<'static> {
    let t = &app.theme;
    let cells: Vec<Cell<'static>> = widths
        .iter()
        .map(|(i, w)| {
            let col = COLS.get(*i).copied().unwrap_or(COLS[0]);
            let text = |x: &str| Cell::from(cell(x, *w, col.right));
            match col.title {
                "KEY" => text(&r.key),
                "PROVIDER" => text(&r.providers.join(",")),
                "MODEL" => text(&if total {
                    String::new()
                } else {
                    r.models.join(",")
                }),
                "SESS" => text(&r.sessions.to_string()),
                "IN" => text(&fmt::tokens(r.tokens.input)),
                "OUT" => text(&fmt::tokens(r.tokens.output)),
                "CACHE R" => text(&fmt::tokens(r.tokens.cache_read)),
                "CACHE W" => text(&fmt::tokens(r.tokens.cache_write)),
                "USD" => {
                    let (s, c) = usd(r);
                    Cell::from(Line::from(Span::styled(cell(&s, *w, true), t.cost(c))))
                }
                _ => Cell::from(""),
            }
        })
        .collect();
    let row = Row::new(cells);
    if total {
        row.style(t.text.add_modifier(Modifier::BOLD))
    } else {
        row
    }
}

pub fn draw(app: &App, f: &mut Frame, area: Rect) {
    let t = &app.theme;
    let st = &app.costs;
    let title = vec![
        styled("Costs", t.title),
        muted(t, format!(" by {}", st.by.as_str())),
    ];
    let scopes: Vec<Span> = CostScope::CYCLE
        .iter()
        .flat_map(|s| {
            if *s == st.scope {
                [
                    Span::styled(
                        format!("[{}]", s.label()),
                        t.accent.add_modifier(Modifier::BOLD),
                    ),
                    Span::raw(" "),
                ]
            } else {
                [Span::styled(s.label().to_string(), t.muted), Span::raw(" ")]
            }
        })
        .collect();
    let mut right = vec![refreshing(app, st.loading)];
    right.extend(scopes);
    let block = frame(t, title, right);
    let inner = block.inner(area);
    f.render_widget(block, area);
    let Some((_, by, report)) = &st.report else {
        placeholder(
            app,
            f,
            inner,
            st.loading,
            st.error.as_deref(),
            "no cost data",
        );
        return;
    };
    if report.rows.is_empty() {
        placeholder(
            app,
            f,
            inner,
            false,
            st.error.as_deref(),
            &format!("no usage in scope '{}'", st.scope.label()),
        );
        return;
    }
    let widths = fit_columns(&COLS, inner.width);
    let header = Row::new(
        widths
            .iter()
            .map(|(i, w)| {
                let c = COLS.get(*i).copied().unwrap_or(COLS[0]);
                let title = if c.title == "KEY" {
                    key_title(*by)
                } else {
                    c.title
                };
                Cell::from(cell(title, *w, c.right))
            })
            .collect::<Vec<_>>(),
    )
    .style(t.header);
    let unpriced: Vec<&str> = report
        .total
        .unpriced_models
        .iter()
        .map(String::as_str)
        .collect();
    let note_h = u16::from(!unpriced.is_empty());
    let [table_area, sep_area, total_area, note_area] = Layout::vertical([
        Constraint::Min(1),
        Constraint::Length(1),
        Constraint::Length(1),
        Constraint::Length(note_h),
    ])
    .areas(inner);
    let rows: Vec<Row> = report
        .rows
        .iter()
        .map(|r| row_cells(app, r, &widths, false))
        .collect();
    let table = Table::new(rows, widths.iter().map(|(_, w)| Constraint::Length(*w)))
        .header(header)
        .column_spacing(1)
        .row_highlight_style(t.selected);
    let mut state = TableState::default().with_selected(Some(st.selected));
    f.render_stateful_widget(table, table_area, &mut state);
    f.render_widget(
        ratatui::widgets::Paragraph::new(Line::from(Span::styled(
            "─".repeat(usize::from(sep_area.width)),
            t.border,
        ))),
        sep_area,
    );
    let total = Table::new(
        vec![row_cells(app, &report.total, &widths, true)],
        widths.iter().map(|(_, w)| Constraint::Length(*w)),
    )
    .column_spacing(1);
    f.render_widget(total, total_area);
    if note_h > 0 {
        let mut uniq = unpriced.clone();
        uniq.sort_unstable();
        uniq.dedup();
        f.render_widget(
            ratatui::widgets::Paragraph::new(Line::from(vec![
                styled("? ", t.warning),
                muted(
                    t,
                    format!(
                        "no price known for {} (their tokens are counted, their cost is not)",
                        uniq.join(", ")
                    ),
                ),
            ])),
            note_area,
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use aimux_core::TokenUsage;

    #[test]
    fn usd_marks_unpriced_usage() {
        let mut r = CostRow {
            cost_usd: 3.5,
            ..CostRow::default()
        };
        assert_eq!(usd(&r).0, "$3.50");
        r.unpriced_tokens = TokenUsage {
            input: 5,
            ..TokenUsage::default()
        };
        assert_eq!(usd(&r).0, "$3.50+?");
        r.cost_usd = 0.0;
        assert_eq!(usd(&r), ("?".to_string(), None));
    }

    #[test]
    fn rows_are_shown_most_expensive_first() {
        let row = |key: &str, cost: f64| CostRow {
            key: key.into(),
            cost_usd: cost,
            ..CostRow::default()
        };
        let mut s = State::default();
        let report = CostReport {
            rows: vec![row("cheap", 1.0), row("dear", 70.0), row("mid", 12.0)],
            ..CostReport::default()
        };
        s.set(CostScope::Live, GroupBy::Project, report);
        let keys: Vec<&str> = s.rows().iter().map(|r| r.key.as_str()).collect();
        assert_eq!(keys, ["dear", "mid", "cheap"]);
    }

    #[test]
    fn stale_reports_are_ignored() {
        let mut s = State {
            scope: CostScope::All,
            ..State::default()
        };
        s.set(CostScope::Live, GroupBy::Project, CostReport::default());
        assert!(s.report.is_none());
        s.set(CostScope::All, GroupBy::Project, CostReport::default());
        assert!(s.report.is_some());
    }
}
