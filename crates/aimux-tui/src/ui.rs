//! Drawing: a pure function of the [`App`] state. Header (counts, cost, attention),
//! provider errors, the current view, the bottom line (input, message or keys), popups.

use crate::app::{App, Mode, Popup, View};
use crate::command::COMMANDS;
use crate::views::{
    agents, attach, costs, health, launcher, muted, sessions, styled, tasks, teams,
};
use ratatui::Frame;
use ratatui::layout::{Alignment, Constraint, Layout, Rect};
use ratatui::style::Modifier;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, BorderType, Borders, Clear, Paragraph, Wrap};

fn error_line_height(app: &App) -> u16 {
    u16::from(
        app.agents
            .snapshot
            .as_ref()
            .is_some_and(|s| !s.errors.is_empty())
            || (app.agents.error.is_some() && app.agents.snapshot.is_some()),
    )
}

/// The body's rectangle for a screen of `area` (shared with navigation code).
pub fn body_rect(app: &App, area: Rect) -> Rect {
    let [_, _, body, _] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Length(error_line_height(app)),
        Constraint::Min(1),
        Constraint::Length(1),
    ])
    .areas(area);
    body
}

pub fn draw(app: &App, f: &mut Frame) {
    let area = f.area();
    let [header, errors, body, bottom] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Length(error_line_height(app)),
        Constraint::Min(1),
        Constraint::Length(1),
    ])
    .areas(area);
    draw_header(app, f, header);
    draw_errors(app, f, errors);
    match app.view {
        View::Agents => agents::draw(app, f, body),
        View::Sessions => sessions::draw(app, f, body),
        View::Costs => costs::draw(app, f, body),
        View::Trace => attach::draw(app, f, body),
        View::Teams => teams::draw(app, f, body),
        View::Health => health::draw(app, f, body),
        View::Tasks => tasks::draw(app, f, body),
    }
    if app.attach.is_some() && app.view == View::Trace && matches!(app.mode, Mode::Normal) {
        attach::draw_footer(app, f, bottom);
    } else {
        draw_bottom(app, f, bottom);
    }
    launcher::draw(app, f, area);
    match &app.popup {
        Some(Popup::Help { scroll }) => draw_help(app, f, area, *scroll),
        Some(Popup::ConfirmKill {
            pid,
            name,
            provider,
            dir,
            processes,
        }) => draw_confirm_kill(app, f, area, *pid, name, provider, dir, *processes),
        Some(Popup::ConfirmKillPod {
            pod,
            provider,
            effect,
        }) => agents::draw_confirm_kill_pod(app, f, area, pod, provider, effect),
        Some(Popup::Note {
            turn_number,
            label,
            input,
            ..
        }) => draw_note(app, f, area, *turn_number, *label, input),
        Some(Popup::NotInTmux {
            pid,
            provider,
            session_id,
        }) => draw_not_in_tmux(app, f, area, *pid, provider, session_id.as_deref()),
        Some(Popup::ConfirmTrash {
            session_id,
            provider,
            title,
            files,
        }) => crate::views::search_results::draw_confirm_trash(
            app, f, area, session_id, provider, title, files,
        ),
        Some(Popup::TaskDetail) => tasks::draw_detail(app, f, area),
        Some(Popup::NewTask { provider, input }) => {
            tasks::draw_new_task(app, f, area, *provider, input)
        }
        None => {}
    }
}

fn draw_header(app: &App, f: &mut Frame, area: Rect) {
    let t = &app.theme;
    let compact = area.width < 130;
    let mut spans = vec![
        styled(" aimux ", t.title.add_modifier(Modifier::REVERSED)),
        Span::raw(" "),
    ];
    let crumbs: Vec<&str> = app
        .stack
        .iter()
        .skip(app.stack.len().saturating_sub(2))
        .map(|v| v.title())
        .collect();
    if !compact && !crumbs.is_empty() {
        spans.push(muted(t, format!("{} › ", crumbs.join(" › "))));
    }
    spans.push(styled(
        app.view.title(),
        t.accent.add_modifier(Modifier::BOLD),
    ));
    spans.push(Span::raw("  "));
    spans.extend(agents::header_spans(app, compact));
    let line = Line::from(spans);
    f.render_widget(Paragraph::new(line), area);
}

fn draw_errors(app: &App, f: &mut Frame, area: Rect) {
    if area.height == 0 {
        return;
    }
    let t = &app.theme;
    let mut spans = Vec::new();
    if let Some(e) = &app.agents.error {
        spans.push(styled(format!("✗ refresh failed: {e}  "), t.error));
    }
    if let Some(s) = &app.agents.snapshot {
        for e in &s.errors {
            spans.push(styled(
                format!("⚠ {}: ", e.provider),
                t.warning.add_modifier(Modifier::BOLD),
            ));
            spans.push(styled(format!("{}  ", e.error), t.warning));
        }
    }
    f.render_widget(Paragraph::new(Line::from(spans)), area);
}

pub(crate) fn input_line<'a>(
    app: &App,
    prompt: &'a str,
    input: &crate::input::TextInput,
) -> (Vec<Span<'a>>, u16) {
    let t = &app.theme;
    let text = input.text();
    let before: String = text.chars().take(input.cursor()).collect();
    let x = unicode_width::UnicodeWidthStr::width(prompt)
        + unicode_width::UnicodeWidthStr::width(before.as_str());
    (
        vec![styled(prompt, t.key), styled(text, t.text)],
        u16::try_from(x).unwrap_or(0),
    )
}

fn draw_bottom(app: &App, f: &mut Frame, area: Rect) {
    let t = &app.theme;
    let (spans, cursor) = match &app.mode {
        Mode::Command(bar) => {
            let (mut s, x) = input_line(app, ":", &bar.input);
            if !bar.matches.is_empty() {
                s.push(muted(t, "   "));
                for m in &bar.matches {
                    s.push(muted(t, format!("{m} ")));
                }
            } else if bar.input.is_empty() {
                let names: Vec<&str> = COMMANDS.iter().map(|c| c.name).collect();
                s.push(muted(t, format!("   {}", names.join(" "))));
            }
            (s, Some(x))
        }
        Mode::Filter(input) => {
            let (mut s, x) = input_line(app, "/", input);
            s.push(muted(t, "   enter keep · esc clear"));
            (s, Some(x))
        }
        Mode::Search(input) => {
            let (mut s, x) = input_line(app, "search /", input);
            s.push(muted(t, "   enter find · esc clear"));
            (s, Some(x))
        }
        Mode::Normal => {
            let mut s = Vec::new();
            if let Some(flash) = &app.flash {
                s.push(styled(
                    format!(" {} ", flash.text),
                    if flash.error {
                        t.error.add_modifier(Modifier::BOLD)
                    } else {
                        t.accent
                    },
                ));
                s.push(muted(t, "│"));
            }
            for (key, label) in app.keymap.footer(app.scope()) {
                s.push(styled(format!(" {key}"), t.key));
                s.push(muted(t, format!(" {label} ")));
            }
            (s, None)
        }
    };
    f.render_widget(Paragraph::new(Line::from(spans)), area);
    if let Some(x) = cursor {
        f.set_cursor_position((area.x + x.min(area.width.saturating_sub(1)), area.y));
    }
}

pub(crate) fn centered(area: Rect, width: u16, height: u16) -> Rect {
    let w = width.min(area.width.saturating_sub(2)).max(1);
    let h = height.min(area.height.saturating_sub(2)).max(1);
    Rect::new(
        area.x + (area.width.saturating_sub(w)) / 2,
        area.y + (area.height.saturating_sub(h)) / 2,
        w,
        h,
    )
}

pub(crate) fn popup_block<'a>(app: &App, title: &'a str) -> Block<'a> {
    Block::default()
        .borders(Borders::ALL)
        .border_type(BorderType::Rounded)
        .border_style(app.theme.accent)
        .title(Line::from(styled(format!(" {title} "), app.theme.title)))
}

/// Help generated from the keymap and the command list.
pub fn help_lines(app: &App) -> Vec<Line<'static>> {
    let t = &app.theme;
    let mut lines = Vec::new();
    for (scope, rows) in app.keymap.help() {
        lines.push(Line::from(styled(scope.to_string(), t.heading)));
        for (keys, desc) in rows {
            lines.push(Line::from(vec![
                styled(format!("  {keys:<18}"), t.key),
                styled(desc.to_string(), t.text),
            ]));
        }
        lines.push(Line::default());
    }
    lines.push(Line::from(styled("Commands (:)", t.heading)));
    for c in COMMANDS {
        let aliases = if c.aliases.is_empty() {
            String::new()
        } else {
            format!(
                " ({})",
                c.aliases
                    .iter()
                    .map(|a| format!(":{a}"))
                    .collect::<Vec<_>>()
                    .join(" ")
            )
        };
        let name = format!(
            ":{}{}",
            c.name,
            if c.args.is_empty() {
                String::new()
            } else {
                format!(" {}", c.args)
            }
        );
        let mut spans = vec![
            styled(format!("  {name:<18}"), t.key),
            styled(c.description.to_string(), t.text),
            muted(t, aliases),
        ];
        if !c.available {
            spans.push(styled("  not in this build yet", t.warning));
        }
        lines.push(Line::from(spans));
    }
    lines
}

fn draw_help(app: &App, f: &mut Frame, area: Rect, scroll: usize) {
    let r = centered(area, 84, area.height.saturating_sub(2));
    f.render_widget(Clear, r);
    let block = popup_block(app, "Help — keys are set in config.yaml under keymap:");
    let inner = block.inner(r);
    f.render_widget(block, r);
    let lines = help_lines(app);
    let max = lines.len().saturating_sub(usize::from(inner.height));
    let visible: Vec<Line> = lines.into_iter().skip(scroll.min(max)).collect();
    f.render_widget(Paragraph::new(visible), inner);
}

#[allow(clippy::too_many_arguments)]
fn draw_confirm_kill(
    app: &App,
    f: &mut Frame,
    area: Rect,
    pid: u32,
    name: &str,
    provider: &str,
    dir: &str,
    processes: usize,
) {
    let t = &app.theme;
    let r = centered(area, 64, 10);
    f.render_widget(Clear, r);
    let block = popup_block(app, "Kill agent?");
    let label = |s: &str| muted(t, format!("  {s:<10}"));
    let lines = vec![
        Line::default(),
        Line::from(vec![
            label("agent"),
            styled(name.to_string(), t.text.add_modifier(Modifier::BOLD)),
        ]),
        Line::from(vec![
            label("pid"),
            styled(pid.to_string(), t.text),
            muted(
                t,
                format!(
                    "  ({processes} process{})",
                    if processes == 1 { "" } else { "es" }
                ),
            ),
        ]),
        Line::from(vec![
            label("provider"),
            styled(provider.to_string(), t.text),
        ]),
        Line::from(vec![label("dir"), styled(dir.to_string(), t.text)]),
        Line::default(),
        Line::from(vec![
            styled("  y", t.key),
            muted(t, " kill   "),
            styled("n", t.key),
            muted(t, "/"),
            styled("esc", t.key),
            muted(t, " cancel"),
        ]),
    ];
    f.render_widget(
        Paragraph::new(lines)
            .block(block)
            .wrap(Wrap { trim: false }),
        r,
    );
}

fn draw_note(
    app: &App,
    f: &mut Frame,
    area: Rect,
    turn: u32,
    label: aimux_engine::annotations::Label,
    input: &crate::input::TextInput,
) {
    let t = &app.theme;
    let r = centered(area, 70, 7);
    f.render_widget(Clear, r);
    let title = format!("Note on turn #{turn}");
    let block = popup_block(app, &title);
    let inner = block.inner(r);
    f.render_widget(block, r);
    let style = match label {
        aimux_engine::annotations::Label::Good => t.label_good,
        aimux_engine::annotations::Label::Bad => t.label_bad,
        _ => t.label_waste,
    };
    let (mut spans, x) = input_line(app, "› ", input);
    spans.insert(0, Span::raw(""));
    let lines = vec![
        Line::from(vec![
            muted(t, "label "),
            styled(format!("[{}]", label.as_str().to_uppercase()), style),
            muted(t, "  (tab changes)"),
        ]),
        Line::default(),
        Line::from(spans),
        Line::default(),
        Line::from(vec![
            styled("enter", t.key),
            muted(t, " save   "),
            styled("esc", t.key),
            muted(t, " cancel"),
        ])
        .alignment(Alignment::Right),
    ];
    f.render_widget(Paragraph::new(lines), inner);
    f.set_cursor_position((inner.x + x.min(inner.width.saturating_sub(1)), inner.y + 2));
}

fn draw_not_in_tmux(
    app: &App,
    f: &mut Frame,
    area: Rect,
    pid: u32,
    provider: &str,
    session: Option<&str>,
) {
    let t = &app.theme;
    let r = centered(area, 70, 9);
    f.render_widget(Clear, r);
    let lines = vec![
        Line::from(styled(
            format!("{provider} agent {pid} does not run in tmux."),
            t.warning.add_modifier(Modifier::BOLD),
        )),
        Line::from(muted(
            t,
            "aimux shows and types into an agent's terminal only through tmux.",
        )),
        Line::default(),
        Line::from(vec![styled("t", t.key), Span::raw("  open its trace only")]),
        Line::from(vec![
            styled("r", t.key),
            Span::raw("  resume it in a new tmux session: a "),
            styled("SECOND PROCESS", t.warning.add_modifier(Modifier::BOLD)),
        ]),
        Line::from(muted(
            t,
            format!(
                "   on {} (this one keeps running)",
                session.unwrap_or("(no session yet)")
            ),
        )),
        Line::from(vec![styled("esc", t.key), Span::raw(" cancel")]),
    ];
    let block = Block::default()
        .borders(Borders::ALL)
        .border_type(BorderType::Rounded)
        .border_style(t.warning)
        .title(" Not in tmux ");
    f.render_widget(Paragraph::new(lines).block(block), r);
}
