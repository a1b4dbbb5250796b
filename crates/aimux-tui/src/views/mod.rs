//! One module per view; shared widgets and helpers here.

pub mod agents;
pub mod attach;
pub mod costs;
pub mod health;
pub mod launcher;
pub mod search_results;
pub mod sessions;
pub mod tasks;
pub mod teams;
pub mod trace;

use crate::app::App;
use crate::fmt;
use crate::theme::Theme;
use aimux_core::status::Status;
use ratatui::Frame;
use ratatui::layout::{Alignment, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, BorderType, Borders, Paragraph, Wrap};

/// Glyph per status: distinct shapes, so meaning survives without colour.
pub fn status_icon(s: Status) -> &'static str {
    match s {
        Status::Active => "●",
        Status::Waiting => "◆",
        Status::Idle => "○",
        Status::Error => "✗",
        Status::Unknown => "?",
    }
}

pub fn status_span(theme: &Theme, s: Status) -> Span<'static> {
    Span::styled(
        format!("{} {}", status_icon(s), s.as_str()),
        theme.status(s),
    )
}

pub fn cost_span(theme: &Theme, c: Option<f64>) -> Span<'static> {
    Span::styled(fmt::cost(c), theme.cost(c))
}

/// A table column: `min` columns wide, growing by `flex` weight; columns with a higher
/// `drop` number disappear first when the terminal is narrow.
#[derive(Debug, Clone, Copy)]
pub struct Col {
    pub title: &'static str,
    pub min: u16,
    pub flex: u16,
    pub drop: u8,
    pub right: bool,
}

impl Col {
    pub const fn fixed(title: &'static str, width: u16, drop: u8) -> Col {
        Col {
            title,
            min: width,
            flex: 0,
            drop,
            right: false,
        }
    }
    pub const fn num(title: &'static str, width: u16, drop: u8) -> Col {
        Col {
            title,
            min: width,
            flex: 0,
            drop,
            right: true,
        }
    }
    pub const fn flex(title: &'static str, min: u16, flex: u16, drop: u8) -> Col {
        Col {
            title,
            min,
            flex,
            drop,
            right: false,
        }
    }
}

/// Which columns fit in `width` (with one space between columns), and their widths.
pub fn fit_columns(cols: &[Col], width: u16) -> Vec<(usize, u16)> {
    let mut keep: Vec<usize> = (0..cols.len()).collect();
    let need = |keep: &[usize]| -> u32 {
        keep.iter()
            .filter_map(|i| cols.get(*i))
            .map(|c| u32::from(c.min))
            .sum::<u32>()
            + keep.len().saturating_sub(1) as u32
    };
    while need(&keep) > u32::from(width) && keep.len() > 1 {
        let Some(pos) = keep
            .iter()
            .enumerate()
            .max_by_key(|(_, i)| cols.get(**i).map(|c| c.drop).unwrap_or(0))
            .map(|(p, _)| p)
        else {
            break;
        };
        keep.remove(pos);
    }
    let extra = u32::from(width).saturating_sub(need(&keep));
    let flex_total: u32 = keep
        .iter()
        .filter_map(|i| cols.get(*i))
        .map(|c| u32::from(c.flex))
        .sum();
    let mut given = 0u32;
    let last_flex = keep
        .iter()
        .rposition(|i| cols.get(*i).is_some_and(|c| c.flex > 0));
    keep.iter()
        .enumerate()
        .map(|(pos, i)| {
            let c = cols.get(*i).copied().unwrap_or(Col::fixed("", 1, 0));
            let mut w = u32::from(c.min);
            if c.flex > 0 && flex_total > 0 {
                let share = if Some(pos) == last_flex {
                    extra - given
                } else {
                    extra * u32::from(c.flex) / flex_total
                };
                given += share;
                w += share;
            }
            (*i, u16::try_from(w).unwrap_or(u16::MAX))
        })
        .collect()
}

/// A cell's text cut to its column, right-aligned numbers padded on the left.
pub fn cell(text: &str, width: u16, right: bool) -> String {
    let t = fmt::truncate(text, usize::from(width));
    if right {
        format!("{t:>w$}", w = usize::from(width))
    } else {
        t
    }
}

/// The frame around a view: title on the left, extra info on the right.
pub fn frame<'a>(theme: &Theme, title: Vec<Span<'a>>, right: Vec<Span<'a>>) -> Block<'a> {
    let mut t = vec![Span::raw(" ")];
    t.extend(title);
    t.push(Span::raw(" "));
    let mut block = Block::default()
        .borders(Borders::ALL)
        .border_type(BorderType::Rounded)
        .border_style(theme.border)
        .title(Line::from(t).style(theme.title));
    let right: Vec<Span<'a>> = right
        .into_iter()
        .filter(|s| !s.content.is_empty())
        .collect();
    if !right.is_empty() {
        let mut r = right;
        r.push(Span::raw(" "));
        block = block.title(Line::from(r).alignment(Alignment::Right));
    }
    block
}

/// What a view shows without data: a spinner while loading, the error, or `empty`.
pub fn placeholder(
    app: &App,
    f: &mut Frame,
    area: Rect,
    loading: bool,
    error: Option<&str>,
    empty: &str,
) {
    let t = &app.theme;
    let line = if let Some(e) = error {
        Line::from(vec![
            Span::styled("✗ ", t.error),
            Span::styled(e.to_string(), t.error),
        ])
    } else if loading {
        Line::from(vec![
            Span::styled(app.spinner(), t.accent),
            Span::styled(" loading…", t.muted),
        ])
    } else {
        Line::from(Span::styled(empty.to_string(), t.muted))
    };
    let y = area.y + area.height / 3;
    let r = Rect::new(
        area.x,
        y.min(area.bottom().saturating_sub(1)),
        area.width,
        1.min(area.height),
    );
    f.render_widget(
        Paragraph::new(line)
            .alignment(Alignment::Center)
            .wrap(Wrap { trim: true }),
        r,
    );
}

/// Loading indicator for a view title while data is already shown.
pub fn refreshing(app: &App, loading: bool) -> Span<'static> {
    if loading {
        Span::styled(format!("{} ", app.spinner()), app.theme.accent)
    } else {
        Span::raw("")
    }
}

pub fn muted(theme: &Theme, s: impl Into<String>) -> Span<'static> {
    Span::styled(s.into(), theme.muted)
}

pub fn styled(s: impl Into<String>, style: Style) -> Span<'static> {
    Span::styled(s.into(), style)
}

/// Moves a selection index by `delta` within `len` rows.
pub fn step(selected: usize, delta: isize, len: usize) -> usize {
    if len == 0 {
        return 0;
    }
    let max = len - 1;
    if delta < 0 {
        selected.saturating_sub(delta.unsigned_abs())
    } else {
        (selected + delta.unsigned_abs()).min(max)
    }
}

/// Standard list movement for an action; `None` for actions that are not movement.
pub fn list_move(
    app: &App,
    action: crate::keymap::Action,
    selected: usize,
    len: usize,
) -> Option<usize> {
    use crate::keymap::Action;
    let page = app.page() as isize;
    Some(match action {
        Action::Up => step(selected, -1, len),
        Action::Down => step(selected, 1, len),
        Action::PageUp => step(selected, -page, len),
        Action::PageDown => step(selected, page, len),
        Action::Top => 0,
        Action::Bottom => len.saturating_sub(1),
        _ => return None,
    })
}

/// The rows of a filtered, sorted table: indices into `all` of the rows `keep` accepts,
/// in `order`, and the selection moved to the row whose `id_of` is `selected_id` (else
/// kept in range).
pub fn filter_sort_select<T>(
    all: &[T],
    keep: impl Fn(&T) -> bool,
    order: impl Fn(&T, &T) -> std::cmp::Ordering,
    id_of: impl Fn(&T) -> &str,
    selected_id: Option<&str>,
    selected: usize,
) -> (Vec<usize>, usize) {
    let mut visible: Vec<usize> = (0..all.len())
        .filter(|i| all.get(*i).is_some_and(&keep))
        .collect();
    visible.sort_by(|a, b| match (all.get(*a), all.get(*b)) {
        (Some(x), Some(y)) => order(x, y),
        _ => std::cmp::Ordering::Equal,
    });
    let selected = selected_id
        .and_then(|id| {
            visible
                .iter()
                .position(|i| all.get(*i).is_some_and(|r| id_of(r) == id))
        })
        .unwrap_or(selected)
        .min(visible.len().saturating_sub(1));
    (visible, selected)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn columns_drop_by_priority_and_fill_width() {
        let cols = [
            Col::flex("NAME", 10, 1, 0),
            Col::fixed("A", 10, 5),
            Col::fixed("B", 10, 1),
        ];
        let wide = fit_columns(&cols, 50);
        assert_eq!(wide.iter().map(|c| c.0).collect::<Vec<_>>(), [0, 1, 2]);
        assert_eq!(wide.iter().map(|c| c.1).sum::<u16>() + 2, 50);
        let narrow = fit_columns(&cols, 25);
        assert_eq!(narrow.iter().map(|c| c.0).collect::<Vec<_>>(), [0, 2]);
        assert_eq!(narrow[0].1, 14);
    }
}
