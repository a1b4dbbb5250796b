//! Health (`H`, `:health`): per provider, the CLI binary and its version, live agents,
//! session directory and last error; then telemetry and infrastructure backends.

use super::{frame, muted, placeholder, refreshing, styled};
use crate::app::App;
use crate::fmt;
use crate::keymap::Action;
use aimux_engine::health::{BackendHealth, HealthReport};
use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

#[derive(Debug, Clone, Default)]
pub struct State {
    pub report: Option<HealthReport>,
    pub loading: bool,
    pub error: Option<String>,
    pub scroll: usize,
}

pub fn on_action(app: &mut App, action: Action) {
    let page = app.page();
    let s = &mut app.health.scroll;
    match action {
        Action::Up => *s = s.saturating_sub(1),
        Action::Down => *s += 1,
        Action::PageUp => *s = s.saturating_sub(page),
        Action::PageDown => *s += page,
        Action::Top => *s = 0,
        Action::Bottom => *s = usize::MAX / 2,
        _ => {}
    }
}

fn backend_lines(app: &App, title: &str, items: &[BackendHealth], out: &mut Vec<Line<'static>>) {
    let t = &app.theme;
    out.push(Line::default());
    out.push(Line::from(styled(title.to_string(), t.heading)));
    for b in items {
        let (icon, style) = match (b.configured, b.state.as_str()) {
            (false, _) => ("○", t.muted),
            (true, "ok") => ("✓", t.ok),
            (true, _) => ("✗", t.error),
        };
        out.push(Line::from(vec![
            styled(format!("  {icon} "), style),
            styled(format!("{:<24}", b.name), t.text),
            styled(format!("{:<16}", b.state), style),
            muted(t, b.detail.clone()),
        ]));
    }
}

pub fn lines(app: &App, report: &HealthReport, width: usize) -> Vec<Line<'static>> {
    let t = &app.theme;
    let home = app.home_dir.as_deref();
    let mut out = vec![Line::from(styled("Providers", t.heading))];
    for p in &report.providers {
        let (icon, style) = match (&p.binary, &p.last_error) {
            (Some(_), None) => ("✓", t.ok),
            (Some(_), Some(_)) => ("!", t.warning),
            (None, _) if p.session_dir_found || p.live_agents > 0 => ("!", t.warning),
            (None, _) => ("○", t.muted),
        };
        out.push(Line::from(vec![
            styled(format!("  {icon} "), style),
            styled(
                format!("{:<9}", p.provider.as_str()),
                t.text.add_modifier(ratatui::style::Modifier::BOLD),
            ),
            muted(
                t,
                format!(
                    "{} live agent{}",
                    p.live_agents,
                    if p.live_agents == 1 { "" } else { "s" }
                ),
            ),
        ]));
        let label = |s: &str| muted(t, format!("      {s:<12}"));
        out.push(Line::from(vec![
            label("binary"),
            match &p.binary {
                Some(b) => styled(fmt::tilde(b, home), t.text),
                None => styled(format!("{} not found on PATH", p.binary_name), t.warning),
            },
        ]));
        out.push(Line::from(vec![
            label("version"),
            match (&p.version, &p.version_error) {
                (Some(v), _) => styled(v.clone(), t.text),
                (None, Some(e)) => styled(e.clone(), t.warning),
                (None, None) => muted(t, "-"),
            },
        ]));
        out.push(Line::from(vec![
            label("sessions"),
            styled(
                fmt::truncate_left(&fmt::tilde(&p.session_dir, home), width.saturating_sub(20)),
                t.text,
            ),
            if p.session_dir_found {
                styled("  found", t.ok)
            } else {
                styled("  missing", t.muted)
            },
        ]));
        if let Some(e) = &p.last_error {
            out.push(Line::from(vec![
                label("last error"),
                styled(e.clone(), t.error),
            ]));
        }
    }
    backend_lines(app, "Telemetry", &report.telemetry, &mut out);
    backend_lines(app, "Infrastructure", &report.infrastructure, &mut out);
    out.push(Line::default());
    out.push(Line::from(muted(
        t,
        format!(
            "checked {} · ctrl-r checks again (runs each CLI with --version)",
            fmt::age(Some(&report.checked_at), app.now) + " ago"
        ),
    )));
    out
}

pub fn draw(app: &App, f: &mut Frame, area: Rect) {
    let t = &app.theme;
    let st = &app.health;
    let block = frame(
        t,
        vec![styled("Health", t.title)],
        vec![refreshing(app, st.loading)],
    );
    let inner = block.inner(area);
    f.render_widget(block, area);
    let Some(report) = &st.report else {
        placeholder(
            app,
            f,
            inner,
            st.loading,
            st.error.as_deref(),
            "no health data",
        );
        return;
    };
    let mut all = lines(app, report, usize::from(inner.width));
    if let Some(e) = &st.error {
        all.insert(
            0,
            Line::from(Span::styled(format!("✗ last check failed: {e}"), t.error)),
        );
    }
    let max = all.len().saturating_sub(usize::from(inner.height));
    let scroll = st.scroll.min(max);
    let visible: Vec<Line> = all.into_iter().skip(scroll).collect();
    f.render_widget(Paragraph::new(visible), inner);
}
