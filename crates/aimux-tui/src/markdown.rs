//! Markdown (an agent's answer) to styled lines: headings, emphasis, inline code, links,
//! nested lists, block quotes, rules, tables drawn with box glyphs, and fenced code with
//! syntax highlighting. Lines are logical (not wrapped); tables are fitted to `width`.

use crate::highlight::highlight;
use crate::theme::Theme;
use pulldown_cmark::{Alignment, CodeBlockKind, Event, HeadingLevel, Options, Parser, Tag, TagEnd};
use ratatui::style::{Modifier, Style};
use ratatui::text::{Line, Span};
use unicode_width::UnicodeWidthStr;

pub fn render(text: &str, width: usize, theme: &Theme) -> Vec<Line<'static>> {
    let mut opts = Options::empty();
    opts.insert(Options::ENABLE_TABLES);
    opts.insert(Options::ENABLE_STRIKETHROUGH);
    opts.insert(Options::ENABLE_TASKLISTS);
    let mut r = Renderer::new(width.max(20), theme);
    for event in Parser::new_ext(text, opts) {
        r.event(event);
    }
    r.finish()
}

struct TableBuf {
    aligns: Vec<Alignment>,
    rows: Vec<Vec<Vec<Span<'static>>>>,
    header_rows: usize,
    in_head: bool,
}

struct Renderer<'t> {
    theme: &'t Theme,
    width: usize,
    lines: Vec<Line<'static>>,
    cur: Vec<Span<'static>>,
    styles: Vec<Style>,
    /// Per nesting level: next number (ordered) or None (bullets), and the bullet width.
    lists: Vec<(Option<u64>, usize)>,
    pending_bullet: Option<String>,
    quote_depth: usize,
    code: Option<(String, String)>,
    table: Option<TableBuf>,
}

impl<'t> Renderer<'t> {
    fn new(width: usize, theme: &'t Theme) -> Self {
        Renderer {
            theme,
            width,
            lines: Vec::new(),
            cur: Vec::new(),
            styles: vec![theme.text],
            lists: Vec::new(),
            pending_bullet: None,
            quote_depth: 0,
            code: None,
            table: None,
        }
    }

    fn style(&self) -> Style {
        self.styles.last().copied().unwrap_or_default()
    }

    fn push_style(&mut self, f: impl FnOnce(Style) -> Style) {
        let s = f(self.style());
        self.styles.push(s);
    }

    fn pop_style(&mut self) {
        if self.styles.len() > 1 {
            self.styles.pop();
        }
    }

    fn prefix(&mut self) -> Vec<Span<'static>> {
        let mut spans = Vec::new();
        for _ in 0..self.quote_depth {
            spans.push(Span::styled("│ ", self.theme.quote));
        }
        if let Some(last) = self.lists.len().checked_sub(1) {
            let indent: usize = self.lists.iter().take(last).map(|(_, w)| *w).sum();
            let mut s = " ".repeat(indent);
            match self.pending_bullet.take() {
                Some(b) => s.push_str(&b),
                None => s.push_str(&" ".repeat(self.lists.get(last).map(|l| l.1).unwrap_or(0))),
            }
            spans.push(Span::styled(s, self.theme.accent));
        }
        spans
    }

    fn flush(&mut self) {
        if self.cur.is_empty() && self.pending_bullet.is_none() {
            return;
        }
        let mut spans = self.prefix();
        spans.append(&mut self.cur);
        self.lines.push(Line::from(spans));
    }

    fn push_line(&mut self, mut spans: Vec<Span<'static>>) {
        let mut line = self.prefix();
        line.append(&mut spans);
        self.lines.push(Line::from(line));
    }

    fn blank(&mut self) {
        if self.lines.last().is_some_and(|l| l.width() > 0) && self.lists.is_empty() {
            self.lines.push(Line::default());
        }
    }

    fn text(&mut self, t: &str) {
        if let Some((_, buf)) = self.code.as_mut() {
            buf.push_str(t);
            return;
        }
        let span = Span::styled(t.to_string(), self.style());
        if let Some(table) = self.table.as_mut() {
            if let Some(cell) = table.rows.last_mut().and_then(|r| r.last_mut()) {
                cell.push(span);
            }
            return;
        }
        self.cur.push(span);
    }

    fn inline(&mut self, span: Span<'static>) {
        if let Some(table) = self.table.as_mut() {
            if let Some(cell) = table.rows.last_mut().and_then(|r| r.last_mut()) {
                cell.push(span);
            }
            return;
        }
        self.cur.push(span);
    }

    fn event(&mut self, event: Event<'_>) {
        match event {
            Event::Start(tag) => self.start(tag),
            Event::End(tag) => self.end(tag),
            Event::Text(t) => self.text(&t),
            Event::Code(t) => {
                let s = self.theme.code;
                self.inline(Span::styled(t.to_string(), s));
            }
            Event::SoftBreak => self.text(" "),
            Event::HardBreak => self.flush(),
            Event::Rule => {
                self.flush();
                let n = self.width.min(60);
                self.lines
                    .push(Line::from(Span::styled("─".repeat(n), self.theme.muted)));
                self.blank();
            }
            Event::TaskListMarker(done) => {
                let s = self.theme.accent;
                self.inline(Span::styled(if done { "☑ " } else { "☐ " }, s));
            }
            Event::Html(t) | Event::InlineHtml(t) => {
                let s = self.theme.muted;
                let t = t.trim_end_matches('\n').to_string();
                self.inline(Span::styled(t, s));
            }
            _ => {}
        }
    }

    fn start(&mut self, tag: Tag<'_>) {
        match tag {
            Tag::Heading { level, .. } => {
                self.flush();
                let h = self.theme.heading;
                let marker = match level {
                    HeadingLevel::H1 => "█ ",
                    HeadingLevel::H2 => "▌ ",
                    _ => "▎ ",
                };
                self.cur.push(Span::styled(marker, h));
                self.push_style(|_| {
                    if level == HeadingLevel::H1 {
                        h.add_modifier(Modifier::UNDERLINED)
                    } else {
                        h
                    }
                });
            }
            Tag::BlockQuote(_) => {
                self.flush();
                self.quote_depth += 1;
                let q = self.theme.quote;
                self.push_style(|_| q);
            }
            Tag::CodeBlock(kind) => {
                self.flush();
                let lang = match kind {
                    CodeBlockKind::Fenced(l) => l.to_string(),
                    CodeBlockKind::Indented => String::new(),
                };
                self.code = Some((lang, String::new()));
            }
            Tag::List(start) => {
                self.flush();
                let w = match start {
                    Some(n) => format!("{n}. ").width().max(3),
                    None => 2,
                };
                self.lists.push((start, w));
            }
            Tag::Item => {
                self.flush();
                let bullet = match self.lists.last_mut() {
                    Some((Some(n), w)) => {
                        let b = format!("{n}. ");
                        *n += 1;
                        format!("{b:<w$}", w = *w)
                    }
                    Some((None, _)) => "• ".to_string(),
                    None => String::new(),
                };
                self.pending_bullet = Some(bullet);
            }
            Tag::Emphasis => self.push_style(|s| s.add_modifier(Modifier::ITALIC)),
            Tag::Strong => self.push_style(|s| s.add_modifier(Modifier::BOLD)),
            Tag::Strikethrough => self.push_style(|s| s.add_modifier(Modifier::CROSSED_OUT)),
            Tag::Link { .. } => {
                let l = self.theme.link;
                self.push_style(|s| s.patch(l));
            }
            Tag::Image { dest_url, .. } => {
                let m = self.theme.muted;
                self.inline(Span::styled(format!("[image {dest_url}] "), m));
                self.push_style(|s| s.patch(m));
            }
            Tag::Table(aligns) => {
                self.flush();
                self.table = Some(TableBuf {
                    aligns,
                    rows: Vec::new(),
                    header_rows: 0,
                    in_head: false,
                });
            }
            Tag::TableHead => {
                if let Some(t) = self.table.as_mut() {
                    t.in_head = true;
                    t.rows.push(Vec::new());
                }
            }
            Tag::TableRow => {
                if let Some(t) = self.table.as_mut() {
                    t.rows.push(Vec::new());
                }
            }
            Tag::TableCell => {
                if let Some(t) = self.table.as_mut() {
                    if t.rows.is_empty() {
                        t.rows.push(Vec::new());
                    }
                    if let Some(r) = t.rows.last_mut() {
                        r.push(Vec::new());
                    }
                }
                if self.table.as_ref().is_some_and(|t| t.in_head) {
                    self.push_style(|s| s.add_modifier(Modifier::BOLD));
                } else {
                    self.push_style(|s| s);
                }
            }
            _ => {}
        }
    }

    fn end(&mut self, tag: TagEnd) {
        match tag {
            TagEnd::Paragraph => {
                self.flush();
                self.blank();
            }
            TagEnd::Heading(_) => {
                self.pop_style();
                self.flush();
                self.blank();
            }
            TagEnd::BlockQuote(_) => {
                self.flush();
                self.pop_style();
                self.quote_depth = self.quote_depth.saturating_sub(1);
                self.blank();
            }
            TagEnd::CodeBlock => {
                if let Some((lang, code)) = self.code.take() {
                    self.code_block(&lang, &code);
                }
                self.blank();
            }
            TagEnd::List(_) => {
                self.flush();
                self.lists.pop();
                self.blank();
            }
            TagEnd::Item => self.flush(),
            TagEnd::Emphasis
            | TagEnd::Strong
            | TagEnd::Strikethrough
            | TagEnd::Link
            | TagEnd::Image
            | TagEnd::TableCell => self.pop_style(),
            TagEnd::TableHead => {
                if let Some(t) = self.table.as_mut() {
                    t.in_head = false;
                    t.header_rows = t.rows.len();
                }
            }
            TagEnd::Table => {
                if let Some(t) = self.table.take() {
                    self.render_table(t);
                }
                self.blank();
            }
            _ => {}
        }
    }

    fn code_block(&mut self, lang: &str, code: &str) {
        let muted = self.theme.muted;
        let label = if lang.is_empty() {
            "╭─".to_string()
        } else {
            format!("╭─ {lang}")
        };
        self.push_line(vec![Span::styled(label, muted)]);
        for line in highlight(code, lang, self.theme.color, self.theme.code) {
            let mut spans = vec![Span::styled("│ ", muted)];
            spans.extend(line.spans);
            self.push_line(spans);
        }
        self.push_line(vec![Span::styled("╰─", muted)]);
    }

    fn render_table(&mut self, t: TableBuf) {
        let ncols = t.rows.iter().map(Vec::len).max().unwrap_or(0);
        if ncols == 0 {
            return;
        }
        let cell_w = |c: &Vec<Span<'static>>| c.iter().map(|s| s.content.width()).sum::<usize>();
        let mut widths: Vec<usize> = (0..ncols)
            .map(|i| {
                t.rows
                    .iter()
                    .filter_map(|r| r.get(i))
                    .map(cell_w)
                    .max()
                    .unwrap_or(0)
                    .max(1)
            })
            .collect();
        // Fit: borders take 3 per column + 1.
        let avail = self
            .width
            .saturating_sub(3 * ncols + 1 + 2 * self.lists.len());
        while widths.iter().sum::<usize>() > avail {
            let Some((i, w)) = widths
                .iter()
                .enumerate()
                .max_by_key(|(_, w)| **w)
                .map(|(i, w)| (i, *w))
            else {
                break;
            };
            if w <= 3 {
                break;
            }
            if let Some(x) = widths.get_mut(i) {
                *x = w - 1;
            }
        }
        let b = self.theme.muted;
        let rule = |l: &str, m: &str, r: &str| {
            let mut s = String::from(l);
            for (i, w) in widths.iter().enumerate() {
                if i > 0 {
                    s.push_str(m);
                }
                s.push_str(&"─".repeat(w + 2));
            }
            s.push_str(r);
            Span::styled(s, b)
        };
        self.push_line(vec![rule("┌", "┬", "┐")]);
        for (ri, row) in t.rows.iter().enumerate() {
            let mut spans = vec![Span::styled("│", b)];
            for (ci, w) in widths.iter().enumerate() {
                let empty = Vec::new();
                let cell = row.get(ci).unwrap_or(&empty);
                let content = fit_spans(cell, *w);
                let cw: usize = content.iter().map(|s| s.content.width()).sum();
                let pad = w.saturating_sub(cw);
                let (left, right) = match t.aligns.get(ci) {
                    Some(Alignment::Right) => (pad, 0),
                    Some(Alignment::Center) => (pad / 2, pad - pad / 2),
                    _ => (0, pad),
                };
                spans.push(Span::raw(" ".repeat(left + 1)));
                spans.extend(content);
                spans.push(Span::raw(" ".repeat(right + 1)));
                spans.push(Span::styled("│", b));
            }
            self.push_line(spans);
            if ri + 1 == t.header_rows && t.rows.len() > t.header_rows {
                self.push_line(vec![rule("├", "┼", "┤")]);
            }
        }
        self.push_line(vec![rule("└", "┴", "┘")]);
    }

    fn finish(mut self) -> Vec<Line<'static>> {
        if let Some((lang, code)) = self.code.take() {
            self.code_block(&lang, &code);
        }
        if let Some(t) = self.table.take() {
            self.render_table(t);
        }
        self.flush();
        while self.lines.last().is_some_and(|l| l.width() == 0) {
            self.lines.pop();
        }
        self.lines
    }
}

/// Cuts styled spans to `width` columns, ending with `…` when cut.
pub fn fit_spans(spans: &[Span<'static>], width: usize) -> Vec<Span<'static>> {
    let total: usize = spans.iter().map(|s| s.content.width()).sum();
    if total <= width {
        return spans.to_vec();
    }
    let mut out = Vec::new();
    let mut used = 0;
    let budget = width.saturating_sub(1);
    for s in spans {
        let w = s.content.width();
        if used + w <= budget {
            out.push(s.clone());
            used += w;
            continue;
        }
        let mut cut = String::new();
        for c in s.content.chars() {
            let cw = unicode_width::UnicodeWidthChar::width(c).unwrap_or(0);
            if used + cw > budget {
                break;
            }
            cut.push(c);
            used += cw;
        }
        out.push(Span::styled(cut, s.style));
        break;
    }
    out.push(Span::raw("…"));
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn text(lines: &[Line<'_>]) -> Vec<String> {
        lines
            .iter()
            .map(|l| l.spans.iter().map(|s| s.content.as_ref()).collect())
            .collect()
    }

    #[test]
    fn renders_blocks() {
        let md = "# Title\n\nSome *em* and **strong** with `code`.\n\n- one\n- two\n  - nested\n\n1. first\n2. second\n\n> quoted\n\n| a | bb |\n|---|---:|\n| 1 | 22 |\n\n```rust\nfn main() {}\n```\n";
        let lines = render(md, 60, &Theme::default());
        let t = text(&lines);
        assert_eq!(t[0], "█ Title");
        assert!(
            t.contains(&"Some em and strong with code.".to_string()),
            "{t:#?}"
        );
        assert!(t.contains(&"• one".to_string()));
        assert!(t.contains(&"  • nested".to_string()), "{t:#?}");
        assert!(t.contains(&"1. first".to_string()));
        assert!(t.contains(&"│ quoted".to_string()));
        assert!(t.contains(&"│ a │ bb │".to_string()), "{t:#?}");
        assert!(t.contains(&"│ 1 │ 22 │".to_string()));
        assert!(t.contains(&"├───┼────┤".to_string()));
        assert!(t.contains(&"╭─ rust".to_string()));
        assert!(t.contains(&"│ fn main() {}".to_string()));
        let strong = lines
            .iter()
            .flat_map(|l| l.spans.iter())
            .find(|s| s.content == "strong")
            .expect("strong span");
        assert!(strong.style.add_modifier.contains(Modifier::BOLD));
    }

    #[test]
    fn wide_tables_are_fitted() {
        let md = "| col | other |\n|---|---|\n| a very long cell that cannot fit | b |\n";
        let lines = render(md, 24, &Theme::default());
        assert!(lines.iter().all(|l| l.width() <= 24), "{:#?}", text(&lines));
        assert!(text(&lines).iter().any(|l| l.contains('…')));
    }
}
