//! Word wrapping of styled lines to a width, keeping styles, with a hanging indent equal
//! to the line's leading whitespace (so list items and quotes wrap under themselves).

use ratatui::style::Style;
use ratatui::text::{Line, Span};
use unicode_width::UnicodeWidthChar;

fn regroup(cells: &[(char, Style)]) -> Vec<Span<'static>> {
    let mut spans: Vec<Span<'static>> = Vec::new();
    let mut buf = String::new();
    let mut style: Option<Style> = None;
    for (c, s) in cells {
        if style != Some(*s) {
            if let Some(st) = style
                && !buf.is_empty()
            {
                spans.push(Span::styled(std::mem::take(&mut buf), st));
            }
            style = Some(*s);
        }
        buf.push(*c);
    }
    if let Some(st) = style
        && !buf.is_empty()
    {
        spans.push(Span::styled(buf, st));
    }
    spans
}

/// Wraps one line to `width` columns.
pub fn wrap_line(line: &Line<'static>, width: usize) -> Vec<Line<'static>> {
    let width = width.max(8);
    let cells: Vec<(char, Style)> = line
        .spans
        .iter()
        .flat_map(|s| {
            let style = line.style.patch(s.style);
            s.content.chars().map(move |c| (c, style))
        })
        .collect();
    let total: usize = cells.iter().map(|(c, _)| c.width().unwrap_or(0)).sum();
    if total <= width {
        return vec![line.clone()];
    }
    // Hanging indent: leading spaces and box-drawing gutters, at most half the width.
    let indent_cells: Vec<(char, Style)> = cells
        .iter()
        .take_while(|(c, _)| matches!(c, ' ' | '│' | '┊'))
        .copied()
        .collect();
    let indent_cells: Vec<(char, Style)> = if indent_cells.len() * 2 > width {
        Vec::new()
    } else {
        indent_cells
    };
    let indent_w = indent_cells.len();
    let mut out = Vec::new();
    let mut start = 0;
    let mut first = true;
    while start < cells.len() {
        let avail = if first { width } else { width - indent_w };
        let mut used = 0;
        let mut end = start;
        let mut last_space: Option<usize> = None;
        while end < cells.len() {
            let w = cells.get(end).and_then(|(c, _)| c.width()).unwrap_or(0);
            if used + w > avail {
                break;
            }
            if cells.get(end).is_some_and(|(c, _)| *c == ' ') {
                last_space = Some(end);
            }
            used += w;
            end += 1;
        }
        let (cut, next) = if end >= cells.len() {
            (end, end)
        } else {
            match last_space {
                Some(sp) if sp > start + indent_w => (sp, sp + 1),
                _ if end == start => (start + 1, start + 1),
                _ => (end, end),
            }
        };
        let mut piece: Vec<(char, Style)> = Vec::new();
        if !first {
            piece.extend(indent_cells.iter().copied());
        }
        piece.extend(cells.get(start..cut).unwrap_or_default().iter().copied());
        out.push(Line::from(regroup(&piece)));
        start = next;
        first = false;
    }
    out
}

pub fn wrap_all(lines: &[Line<'static>], width: usize) -> Vec<Line<'static>> {
    lines.iter().flat_map(|l| wrap_line(l, width)).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use ratatui::style::Modifier;

    fn text(l: &Line<'_>) -> String {
        l.spans.iter().map(|s| s.content.as_ref()).collect()
    }

    #[test]
    fn wraps_at_spaces_with_hanging_indent() {
        let bold = Style::default().add_modifier(Modifier::BOLD);
        let line = Line::from(vec![
            Span::raw("  • "),
            Span::styled("alpha beta", bold),
            Span::raw(" gamma delta epsilon"),
        ]);
        let out = wrap_line(&line, 16);
        let t: Vec<String> = out.iter().map(text).collect();
        assert_eq!(t, ["  • alpha beta", "  gamma delta", "  epsilon"]);
        assert!(out.iter().all(|l| l.width() <= 16));
        assert_eq!(out[0].spans[1].style, bold);
    }

    #[test]
    fn hard_breaks_long_words() {
        let out = wrap_line(&Line::from("abcdefghijklmnopqrstuvwxyz"), 10);
        let t: Vec<String> = out.iter().map(text).collect();
        assert_eq!(t, ["abcdefghij", "klmnopqrst", "uvwxyz"]);
    }
}
