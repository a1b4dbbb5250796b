//! Teams (`:teams`): Claude Code agent teams with their members, roles, and the live
//! agent of each member where one matches (by session id, else by directory).

use super::{
    Col, cell, fit_columns, frame, list_move, muted, placeholder, refreshing, status_icon, styled,
};
use crate::app::App;
use crate::fmt;
use crate::keymap::Action;
use aimux_engine::agents::AgentRow;
use aimux_engine::teams::{TeamMember, TeamsReport};
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

#[derive(Debug, Clone, Default)]
pub struct State {
    pub report: Option<TeamsReport>,
    pub loading: bool,
    pub error: Option<String>,
    /// Index into the members of all teams, in order.
    pub selected: usize,
}

impl State {
    pub fn set(&mut self, report: TeamsReport) {
        let n = member_count(&report);
        self.report = Some(report);
        self.selected = self.selected.min(n.saturating_sub(1));
    }

    fn members(&self) -> Vec<&TeamMember> {
        self.report
            .iter()
            .flat_map(|r| r.teams.iter())
            .flat_map(|t| t.members.iter())
            .collect()
    }
}

fn member_count(r: &TeamsReport) -> usize {
    r.teams.iter().map(|t| t.members.len()).sum()
}

/// How a member was tied to a live agent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Evidence {
    Session,
    Dir,
}

fn find_session<'a>(agents: &'a [AgentRow], id: &str) -> Option<&'a AgentRow> {
    agents.iter().find_map(|a| {
        if a.session_id.as_deref() == Some(id) {
            Some(a)
        } else {
            find_session(&a.subagents, id)
        }
    })
}

/// The live agent of a member: same session id, else a Claude agent in the same directory.
pub fn live_agent<'a>(
    member: &TeamMember,
    agents: &'a [AgentRow],
) -> Option<(&'a AgentRow, Evidence)> {
    if let Some(id) = &member.session_id
        && let Some(a) = find_session(agents, id)
    {
        return Some((a, Evidence::Session));
    }
    let cwd = member.cwd.as_deref()?;
    agents
        .iter()
        .find(|a| a.provider == aimux_core::Provider::Claude && a.cwd.as_deref() == Some(cwd))
        .map(|a| (a, Evidence::Dir))
}

pub fn selected_session(app: &App) -> Option<String> {
    let members = app.teams.members();
    let m = members.get(app.teams.selected)?;
    let agents = app
        .agents
        .snapshot
        .as_ref()
        .map(|s| s.agents.as_slice())
        .unwrap_or(&[]);
    m.session_id
        .clone()
        .or_else(|| live_agent(m, agents).and_then(|(a, _)| a.session_id.clone()))
}

pub fn on_action(app: &mut App, action: Action) {
    let n = app.teams.members().len();
    if let Some(i) = list_move(app, action, app.teams.selected, n) {
        app.teams.selected = i;
        return;
    }
    if action == Action::Open {
        match selected_session(app) {
            Some(id) => app.open_trace(id),
            None => app.flash("no session known for this member", true),
        }
    }
}

const COLS: [Col; 6] = [
    Col::fixed("MEMBER", 16, 0),
    Col::fixed("ROLE", 16, 2),
    Col::fixed("MODEL", 8, 4),
    Col::fixed("BACKEND", 10, 5),
    Col::flex("LIVE", 18, 2, 1),
    Col::flex("DIR", 12, 1, 3),
];

pub fn draw(app: &App, f: &mut Frame, area: Rect) {
    let t = &app.theme;
    let st = &app.teams;
    let count = st.report.as_ref().map(|r| r.teams.len()).unwrap_or(0);
    let block = frame(
        t,
        vec![styled("Teams", t.title), muted(t, format!(" ({count})"))],
        vec![refreshing(app, st.loading)],
    );
    let inner = block.inner(area);
    f.render_widget(block, area);
    let Some(report) = &st.report else {
        placeholder(app, f, inner, st.loading, st.error.as_deref(), "no teams");
        return;
    };
    let agents = app
        .agents
        .snapshot
        .as_ref()
        .map(|s| s.agents.as_slice())
        .unwrap_or(&[]);
    let widths = fit_columns(&COLS, inner.width);
    let mut lines: Vec<Line> = Vec::new();
    let mut selected_line = 0;
    let mut k = 0;
    if report.teams.is_empty() {
        lines.push(Line::from(muted(
            t,
            "no teams in ~/.claude/teams (Claude Code agent teams appear here)",
        )));
    }
    for team in &report.teams {
        let mut head = vec![styled(format!("▌ {}", team.name), t.heading)];
        if let Some(d) = &team.description {
            head.push(muted(t, format!(" — {d}")));
        }
        if let Some(c) = &team.created_at {
            head.push(muted(
                t,
                format!("  (created {} ago)", fmt::age(Some(c), app.now)),
            ));
        }
        lines.push(Line::from(head));
        lines.push(Line::from(
            widths
                .iter()
                .flat_map(|(i, w)| {
                    let c = COLS.get(*i).copied().unwrap_or(COLS[0]);
                    [
                        Span::styled(format!("{:<w$}", c.title, w = usize::from(*w)), t.header),
                        Span::raw(" "),
                    ]
                })
                .collect::<Vec<_>>(),
        ));
        for m in &team.members {
            let live = live_agent(m, agents);
            let mut spans = Vec::new();
            for (i, w) in &widths {
                let col = COLS.get(*i).copied().unwrap_or(COLS[0]);
                let w = *w;
                let pad = |s: &str| format!("{:<w$}", cell(s, w, false), w = usize::from(w));
                let span = match col.title {
                    "MEMBER" => styled(
                        pad(&format!(
                            "{}{}",
                            if m.is_lead { "★ " } else { "  " },
                            m.name
                        )),
                        t.text,
                    ),
                    "ROLE" => styled(pad(m.agent_type.as_deref().unwrap_or("-")), t.text),
                    "MODEL" => styled(pad(m.model.as_deref().unwrap_or("-")), t.text),
                    "BACKEND" => muted(t, pad(m.backend_type.as_deref().unwrap_or("-"))),
                    "LIVE" => match live {
                        Some((a, ev)) => {
                            let how = match ev {
                                Evidence::Session => "",
                                Evidence::Dir => " (by dir)",
                            };
                            styled(
                                pad(&format!(
                                    "{} {} pid {}{how}",
                                    status_icon(a.status),
                                    a.status,
                                    a.pid
                                )),
                                t.status(a.status),
                            )
                        }
                        None => muted(
                            t,
                            pad(&match &m.session_id {
                                Some(s) => format!(
                                    "not running ({})",
                                    s.chars().take(8).collect::<String>()
                                ),
                                None => "not running".to_string(),
                            }),
                        ),
                    },
                    "DIR" => muted(
                        t,
                        fmt::truncate_left(
                            &m.cwd
                                .as_deref()
                                .map(|c| fmt::tilde(c, app.home_dir.as_deref()))
                                .unwrap_or_default(),
                            usize::from(w),
                        ),
                    ),
                    _ => Span::raw(""),
                };
                spans.push(span);
                spans.push(Span::raw(" "));
            }
            let mut line = Line::from(spans);
            if k == st.selected {
                line = line.style(t.selected);
                selected_line = lines.len();
            }
            lines.push(line);
            k += 1;
        }
        lines.push(Line::default());
    }
    for w in &report.warnings {
        lines.push(Line::from(vec![
            styled("⚠ ", t.warning),
            muted(t, w.clone()),
        ]));
    }
    let h = usize::from(inner.height);
    let scroll = selected_line.saturating_sub(h.saturating_sub(2));
    let visible: Vec<Line> = lines.into_iter().skip(scroll).collect();
    f.render_widget(Paragraph::new(visible), inner);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::fixture;

    #[test]
    fn members_match_by_session_then_dir() {
        let agents = fixture::agents_snapshot().agents;
        let teams = fixture::teams();
        let m = &teams.teams[0].members;
        assert_eq!(
            live_agent(&m[0], &agents).map(|(a, e)| (a.pid, e)),
            Some((4242, Evidence::Session))
        );
        assert_eq!(
            live_agent(&m[1], &agents).map(|(a, e)| (a.pid, e)),
            Some((7007, Evidence::Dir))
        );
        assert_eq!(live_agent(&m[2], &agents).map(|(a, _)| a.pid), None);
    }
}
